/*
 * test_sse_seq.c: ordering SSE events by seq (lib/core/sse_seq.c), the
 * sans-I/O half of rt_sse_client's order_by_seq mode, and the parser's
 * has_id flag it relies on.
 *
 * Every delivery and loss report goes to a transcript, one line each:
 * "TYPE ID has_id DATA" or "LOST", so a test states the whole outcome as
 * one string.  Times come from a fake clock.
 */
#include "helpers.h"

#include "rt/sse_parser.h"
#include "sse_seq.h"

struct rec {
    th_str t;
    rt__sse_seq *s; /* for rt__sse_seq_last_id() from inside deliver */
    th_str ids;     /* the position seen from inside each delivery */
};

static void on_deliver(const rt_sse_event *ev, void *ud)
{
    struct rec *r = ud;
    const char *pos;

    th_str_putn(&r->t, ev->type, ev->type_len);
    th_str_puts(&r->t, " ");
    th_str_putn(&r->t, ev->id, ev->id_len);
    th_str_printf(&r->t, " %d ", ev->has_id);
    th_str_putn(&r->t, ev->data, ev->data_len);
    th_str_puts(&r->t, "\n");
    pos = rt__sse_seq_last_id(r->s, NULL);
    th_str_puts(&r->ids, pos);
    th_str_puts(&r->ids, ",");
}

static void on_resumed(int recovered, void *ud)
{
    struct rec *r = ud;

    assert_int_equal(recovered, 0);
    th_str_puts(&r->t, "LOST\n");
}

static void setup_rec(struct rec *r, const char *last_id, uint64_t gap_ms)
{
    rt__sse_seq_cbs cbs = {on_deliver, on_resumed};

    th_str_init(&r->t);
    th_str_init(&r->ids);
    th_str_puts(&r->t, "");
    th_str_puts(&r->ids, "");
    assert_int_equal(rt__sse_seq_new(&r->s, last_id,
                                     last_id != NULL ? strlen(last_id) : 0,
                                     gap_ms, &cbs, r),
                     0);
    rt__sse_seq_connected(r->s);
}

static void teardown_rec(struct rec *r)
{
    rt__sse_seq_free(r->s);
    th_str_free(&r->t);
    th_str_free(&r->ids);
}

/* Push one event; |id| NULL means no id: field of its own. */
static void ev_at(struct rec *r, const char *type, const char *id,
                  const char *data, uint64_t now)
{
    rt_sse_event ev;

    ev.type = type;
    ev.type_len = strlen(type);
    ev.data = data;
    ev.data_len = strlen(data);
    ev.id = id != NULL ? id : "carried-over";
    ev.id_len = strlen(ev.id);
    ev.has_id = id != NULL;
    assert_int_equal(rt__sse_seq_push(r->s, &ev, now), 0);
}

static void msg(struct rec *r, const char *id)
{
    ev_at(r, "text", id, "m", 0);
}

static void expect(struct rec *r, const char *want)
{
    assert_string_equal(r->t.s, want);
}

static void expect_pos(struct rec *r, const char *want)
{
    size_t len = 0;

    assert_string_equal(rt__sse_seq_last_id(r->s, &len), want);
    assert_int_equal(len, strlen(want));
}

static void test_sse_seq_delivers_in_order_and_drops_duplicates(void **st)
{
    struct rec r;

    (void)st;
    setup_rec(&r, NULL, 2000);
    expect_pos(&r, "");
    msg(&r, "E-1");
    msg(&r, "E-2");
    msg(&r, "E-2");
    msg(&r, "E-1");
    msg(&r, "E-3");
    expect(&r, "text E-1 1 m\ntext E-2 1 m\ntext E-3 1 m\n");
    assert_int_equal(rt__sse_seq_dups(r.s), 2);
    expect_pos(&r, "E-3");
    /* The position is updated before the event is handed on. */
    assert_string_equal(r.ids.s, "E-1,E-2,E-3,");
    teardown_rec(&r);
}

static void test_sse_seq_holds_early_events_until_the_gap_fills(void **st)
{
    struct rec r;

    (void)st;
    setup_rec(&r, NULL, 2000);
    msg(&r, "E-1");
    msg(&r, "E-3");
    msg(&r, "E-4");
    assert_int_equal(rt__sse_seq_held(r.s), 2);
    /* Last-Event-ID is the last one delivered, not the last one seen. */
    expect_pos(&r, "E-1");
    msg(&r, "E-2");
    expect(&r, "text E-1 1 m\ntext E-2 1 m\ntext E-3 1 m\ntext E-4 1 m\n");
    expect_pos(&r, "E-4");
    assert_int_equal(rt__sse_seq_held(r.s), 0);
    teardown_rec(&r);
}

static void test_sse_seq_passes_events_without_id_straight_through(void **st)
{
    struct rec r;

    (void)st;
    setup_rec(&r, NULL, 2000);
    ev_at(&r, "presence", NULL, "p0", 0);
    msg(&r, "E-1");
    msg(&r, "E-3");
    ev_at(&r, "presence", NULL, "p1", 0);
    ev_at(&r, "typing", "not-a-seq!", "t", 0);
    ev_at(&r, "x", "", "empty id", 0);
    ev_at(&r, "x", "E-", "no seq", 0);
    ev_at(&r, "x", "-5", "no epoch", 0);
    ev_at(&r, "x", "E-18446744073709551615", "seq too big", 0);
    ev_at(&r, "x", "E-1x", "not digits", 0);
    ev_at(&r, "x", "abcdefghijklmnopqrstuvwxyz0123456-1", "long epoch", 0);
    msg(&r, "E-2");
    expect(&r, "presence  0 p0\n"
               "text E-1 1 m\n"
               "presence E-1 0 p1\n"
               "typing E-1 0 t\n"
               "x E-1 0 empty id\n"
               "x E-1 0 no seq\n"
               "x E-1 0 no epoch\n"
               "x E-1 0 seq too big\n"
               "x E-1 0 not digits\n"
               "x E-1 0 long epoch\n"
               "text E-2 1 m\n"
               "text E-3 1 m\n");
    teardown_rec(&r);
}

static void test_sse_seq_reports_a_gap_after_the_timeout(void **st)
{
    struct rec r;
    uint64_t from = 0, to = 0;

    (void)st;
    setup_rec(&r, NULL, 2000);
    assert_int_equal(rt__sse_seq_deadline(r.s), UINT64_MAX);
    ev_at(&r, "text", "E-1", "m", 100);
    ev_at(&r, "text", "E-4", "m", 100);
    ev_at(&r, "text", "E-5", "m", 150);
    assert_int_equal(rt__sse_seq_deadline(r.s), 2100);
    assert_int_equal(rt__sse_seq_tick(r.s, 2099, &from, &to), 0);
    assert_int_equal(rt__sse_seq_tick(r.s, 2100, &from, &to), RT_EGAP);
    assert_int_equal(from, 2);
    assert_int_equal(to, 3);
    /* Held for the replay that follows the reconnection. */
    assert_int_equal(rt__sse_seq_held(r.s), 2);
    expect_pos(&r, "E-1");
    rt__sse_seq_connected(r.s);
    msg(&r, "E-2");
    msg(&r, "E-3");
    msg(&r, "E-4");
    msg(&r, "E-5");
    msg(&r, "E-6");
    expect(&r, "text E-1 1 m\ntext E-2 1 m\ntext E-3 1 m\ntext E-4 1 m\n"
               "text E-5 1 m\ntext E-6 1 m\n");
    assert_int_equal(rt__sse_seq_deadline(r.s), UINT64_MAX);
    teardown_rec(&r);
}

static void test_sse_seq_starts_from_the_given_last_id(void **st)
{
    struct rec r;

    (void)st;
    setup_rec(&r, "E-5", 2000);
    expect_pos(&r, "E-5");
    ev_at(&r, "system", NULL, "welcome", 0);
    msg(&r, "E-4");
    msg(&r, "E-5");
    msg(&r, "E-7");
    expect(&r, "system E-5 0 welcome\n");
    msg(&r, "E-6");
    expect(&r, "system E-5 0 welcome\ntext E-6 1 m\ntext E-7 1 m\n");
    teardown_rec(&r);

    /* Not EPOCH-SEQ: kept as the position until something is delivered. */
    setup_rec(&r, "whatever", 2000);
    expect_pos(&r, "whatever");
    ev_at(&r, "presence", NULL, "p", 0);
    msg(&r, "E-40");
    msg(&r, "E-41");
    expect(&r, "presence whatever 0 p\ntext E-40 1 m\ntext E-41 1 m\n");
    expect_pos(&r, "E-41");
    teardown_rec(&r);
}

static void test_sse_seq_epoch_change_starts_afresh(void **st)
{
    struct rec r;

    (void)st;
    setup_rec(&r, NULL, 2000);
    msg(&r, "E-5");
    msg(&r, "E-7"); /* held, then dropped by the reset */
    msg(&r, "F-1");
    msg(&r, "F-2");
    /* Once per connection. */
    msg(&r, "G-9");
    expect(&r, "text E-5 1 m\nLOST\ntext F-1 1 m\ntext F-2 1 m\n"
               "text G-9 1 m\n");
    assert_int_equal(rt__sse_seq_held(r.s), 0);
    rt__sse_seq_connected(r.s);
    msg(&r, "H-3");
    expect(&r, "text E-5 1 m\nLOST\ntext F-1 1 m\ntext F-2 1 m\n"
               "text G-9 1 m\nLOST\ntext H-3 1 m\n");
    expect_pos(&r, "H-3");
    teardown_rec(&r);
}

#define RESUMED(rec, to)                                                   \
    "{\"type\":\"system\",\"room\":\"r\",\"data\":{\"event\":\"resumed\"," \
    "\"from\":11,\"to\":" #to ",\"recovered\":" #rec "}}"

/* Regression: a resume that lost history must not wait for the lost seqs. */
static void test_sse_seq_resumed_false_delivers_what_is_held(void **st)
{
    struct rec r;

    (void)st;
    setup_rec(&r, "E-10", 2000);
    ev_at(&r, "system", NULL, "welcome", 0);
    msg(&r, "E-50");
    msg(&r, "E-51");
    assert_int_equal(rt__sse_seq_held(r.s), 2);
    ev_at(&r, "system", NULL, RESUMED(false, 51), 0);
    msg(&r, "E-52");
    expect(&r, "system E-10 0 welcome\n"
               "LOST\n"
               "text E-50 1 m\n"
               "text E-51 1 m\n"
               "system E-51 0 " RESUMED(false, 51) "\n"
                                                   "text E-52 1 m\n");
    assert_int_equal(rt__sse_seq_deadline(r.s), UINT64_MAX);
    teardown_rec(&r);
}

static void test_sse_seq_resumed_false_moves_past_to(void **st)
{
    struct rec r;

    (void)st;
    /* Nothing held: the server had nothing after seq 10 up to 20. */
    setup_rec(&r, "E-10", 2000);
    ev_at(&r, "system", NULL, RESUMED(false, 20), 0);
    msg(&r, "E-21");
    expect(&r, "LOST\nsystem E-10 0 " RESUMED(false, 20) "\ntext E-21 1 m\n");
    assert_int_equal(rt__sse_seq_held(r.s), 0);
    teardown_rec(&r);

    /* Several gaps among the held: all given up, in order. */
    setup_rec(&r, "E-1", 2000);
    msg(&r, "E-3");
    msg(&r, "E-6");
    ev_at(&r, "system", NULL, RESUMED(false, 6), 0);
    msg(&r, "E-7");
    expect(&r, "LOST\ntext E-3 1 m\ntext E-6 1 m\nsystem E-6 0 " RESUMED(
                   false, 6) "\ntext E-7 1 m\n");
    teardown_rec(&r);
}

static void test_sse_seq_resumed_false_after_a_server_restart(void **st)
{
    struct rec r;

    (void)st;
    /*
     * A restarted in-memory server: a new epoch whose room is empty, so
     * no id tells the new epoch; "to" is behind what was delivered.
     */
    setup_rec(&r, "OLD-42", 2000);
    ev_at(&r, "system", NULL, RESUMED(false, 0), 0);
    msg(&r, "NEW-1");
    msg(&r, "NEW-2");
    expect(&r, "LOST\nsystem OLD-42 0 " RESUMED(
                   false, 0) "\n"
                             "text NEW-1 1 m\ntext NEW-2 1 m\n");
    expect_pos(&r, "NEW-2");
    teardown_rec(&r);

    /* The same with messages held when it happened. */
    setup_rec(&r, "OLD-42", 2000);
    msg(&r, "OLD-44");
    ev_at(&r, "system", NULL, RESUMED(false, 3), 0);
    msg(&r, "NEW-3");
    expect(&r, "LOST\ntext OLD-44 1 m\nsystem OLD-44 0 " RESUMED(
                   false, 3) "\ntext NEW-3 1 m\n");
    teardown_rec(&r);
}

static void test_sse_seq_resumed_true_changes_nothing(void **st)
{
    struct rec r;

    (void)st;
    setup_rec(&r, "E-10", 2000);
    msg(&r, "E-11");
    ev_at(&r, "system", NULL, RESUMED(true, 11), 0);
    /* Not JSON, or not ours: passed on, nothing more. */
    ev_at(&r, "system", NULL, "{\"data\":{\"event\":\"resumed\"}}", 0);
    ev_at(&r, "system", NULL, "resumed recovered:false", 0);
    msg(&r, "E-12");
    expect(&r,
           "text E-11 1 m\nsystem E-11 0 " RESUMED(
               true, 11) "\n"
                         "system E-11 0 {\"data\":{\"event\":\"resumed\"}}\n"
                         "system E-11 0 resumed recovered:false\n"
                         "text E-12 1 m\n");
    teardown_rec(&r);
}

static void test_sse_seq_gap_wider_than_the_window_is_a_loss(void **st)
{
    struct rec r;

    (void)st;
    setup_rec(&r, "E-1", 2000);
    msg(&r, "E-3");
    msg(&r, "E-5000");
    msg(&r, "E-5001");
    expect(&r, "LOST\ntext E-3 1 m\ntext E-5000 1 m\ntext E-5001 1 m\n");
    msg(&r, "E-4"); /* too late */
    assert_int_equal(rt__sse_seq_dups(r.s), 1);
    teardown_rec(&r);
}

/* The parser's has_id: an id: field of the event's own, even an empty one. */
struct prec {
    th_str t;
};

static int on_parsed(const rt_sse_event *ev, void *ud)
{
    struct prec *p = ud;

    th_str_putn(&p->t, ev->id, ev->id_len);
    th_str_printf(&p->t, ":%d ", ev->has_id);
    return 0;
}

static void test_sse_parser_has_id_marks_an_own_id_field(void **st)
{
    static const char in[] = "id: a\ndata: 1\n\n"
                             "data: 2\n\n"
                             "id\ndata: 3\n\n"
                             "data: 4\n\n"
                             "id: b\n\n" /* no data: no event */
                             "data: 5\n\n"
                             "id: b\ndata: 6\n\n"
                             "id: x\0y\ndata: 7\n\n"; /* NUL: ignored */
    rt_sse_parser *p = NULL;
    struct prec r;

    (void)st;
    th_str_init(&r.t);
    th_str_puts(&r.t, "");
    assert_int_equal(rt_sse_parser_new(&p, NULL, on_parsed, NULL, &r), 0);
    assert_int_equal(rt_sse_parser_feed(p, in, sizeof(in) - 1), 0);
    assert_string_equal(r.t.s, "a:1 a:0 :1 :0 b:0 b:1 b:0 ");
    rt_sse_parser_free(p);
    th_str_free(&r.t);
}

/* The stream our server sends, through the parser into the sequencer. */
static int to_seq(const rt_sse_event *ev, void *ud)
{
    struct rec *r = ud;

    assert_int_equal(rt__sse_seq_push(r->s, ev, 0), 0);
    return 0;
}

static void test_sse_seq_orders_a_parsed_stream(void **st)
{
    static const char in[] = "retry: 2000\n\n"
                             "id: k3f9a-5\nevent: system\ndata: welcome\n\n"
                             "id: k3f9a-7\nevent: text\ndata: seven\n\n"
                             "event: presence\ndata: join\n\n"
                             "id: k3f9a-6\nevent: text\ndata: six\n\n"
                             "id: k3f9a-6\nevent: text\ndata: six again\n\n"
                             ": keepalive\n\n"
                             "id: k3f9a-8\nevent: text\ndata: eight\n\n";
    rt_sse_parser *p = NULL;
    struct rec r;

    (void)st;
    setup_rec(&r, NULL, 2000);
    assert_int_equal(rt_sse_parser_new(&p, NULL, to_seq, NULL, &r), 0);
    assert_int_equal(rt_sse_parser_feed(p, in, sizeof(in) - 1), 0);
    expect(&r, "system k3f9a-5 1 welcome\n"
               "presence k3f9a-5 0 join\n"
               "text k3f9a-6 1 six\n"
               "text k3f9a-7 1 seven\n"
               "text k3f9a-8 1 eight\n");
    assert_int_equal(rt__sse_seq_dups(r.s), 1);
    rt_sse_parser_free(p);
    teardown_rec(&r);
}

static void test_sse_seq_out_of_memory_changes_nothing(void **st)
{
    struct rec r;
    rt_sse_event ev;
    long n;
    int rc;

    (void)st;
    th_alloc_install();
    for (n = 0;; n++) {
        rt__sse_seq_cbs cbs = {on_deliver, on_resumed};

        th_str_init(&r.t);
        th_str_init(&r.ids);
        th_alloc_fail_at(n);
        rc = rt__sse_seq_new(&r.s, "E-1", 3, 2000, &cbs, &r);
        if (rc != 0) {
            assert_int_equal(rc, RT_ENOMEM);
            assert_null(r.s);
            continue;
        }
        ev.type = "text";
        ev.type_len = 4;
        ev.data = "m";
        ev.data_len = 1;
        ev.id = "E-2";
        ev.id_len = 3;
        ev.has_id = 1;
        rc = rt__sse_seq_push(r.s, &ev, 0);
        if (rc != 0) {
            assert_int_equal(rc, RT_ENOMEM);
            assert_null(r.t.s);
            th_alloc_fail_at(-1);
            assert_int_equal(rt__sse_seq_push(r.s, &ev, 0), 0);
        }
        assert_non_null(r.t.s);
        assert_string_equal(r.t.s, "text E-2 1 m\n");
        rt__sse_seq_free(r.s);
        th_str_free(&r.t);
        th_str_free(&r.ids);
        if (!th_alloc_failed())
            break;
    }
    assert_int_equal(th_alloc_live(), 0);
    th_alloc_uninstall();
}

static void test_sse_seq_new_refuses_bad_arguments(void **st)
{
    rt__sse_seq_cbs cbs = {on_deliver, NULL}, none = {NULL, NULL};
    rt__sse_seq *s = (rt__sse_seq *)&cbs;

    (void)st;
    assert_int_equal(rt__sse_seq_new(NULL, NULL, 0, 0, &cbs, NULL), RT_EINVAL);
    assert_int_equal(rt__sse_seq_new(&s, NULL, 0, 0, &none, NULL), RT_EINVAL);
    assert_null(s);
    assert_int_equal(rt__sse_seq_new(&s, NULL, 3, 0, &cbs, NULL), RT_EINVAL);
    rt__sse_seq_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sse_seq_delivers_in_order_and_drops_duplicates),
        cmocka_unit_test(test_sse_seq_holds_early_events_until_the_gap_fills),
        cmocka_unit_test(
            test_sse_seq_passes_events_without_id_straight_through),
        cmocka_unit_test(test_sse_seq_reports_a_gap_after_the_timeout),
        cmocka_unit_test(test_sse_seq_starts_from_the_given_last_id),
        cmocka_unit_test(test_sse_seq_epoch_change_starts_afresh),
        cmocka_unit_test(test_sse_seq_resumed_false_delivers_what_is_held),
        cmocka_unit_test(test_sse_seq_resumed_false_moves_past_to),
        cmocka_unit_test(test_sse_seq_resumed_false_after_a_server_restart),
        cmocka_unit_test(test_sse_seq_resumed_true_changes_nothing),
        cmocka_unit_test(test_sse_seq_gap_wider_than_the_window_is_a_loss),
        cmocka_unit_test(test_sse_parser_has_id_marks_an_own_id_field),
        cmocka_unit_test(test_sse_seq_orders_a_parsed_stream),
        cmocka_unit_test(test_sse_seq_out_of_memory_changes_nothing),
        cmocka_unit_test(test_sse_seq_new_refuses_bad_arguments),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
