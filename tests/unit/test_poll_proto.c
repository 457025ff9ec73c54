/*
 * test_poll_proto.c: the long-poll protocol core (lib/core/poll_proto.c):
 * answers judged whole from a body fed in pieces of any size, messages
 * delivered once and in seq order as the server's own bytes, losses
 * reported before the messages that follow them, the position the next
 * poll asks for, and every malformed answer refused with a sentence.
 *
 * Each delivery goes to a transcript, "SEQ JSON" a line, a loss as "LOST",
 * and the position after an answer as "@SINCE EPOCH", so a test states the
 * whole outcome as one string.
 */
#include "helpers.h"

#include "poll_proto.h"

struct rec {
    th_str *out;
    rt__poll_proto *p;
};

static void on_message(uint64_t seq, const char *json, size_t len, void *ud)
{
    struct rec *r = ud;

    th_str_printf(r->out, "%llu ", (unsigned long long)seq);
    th_str_putn(r->out, json, len);
    th_str_puts(r->out, "\n");
}

static void on_lost(void *ud)
{
    struct rec *r = ud;

    th_str_puts(r->out, "LOST\n");
}

static rt__poll_proto *make(struct rec *r, th_str *out, int has_since,
                            uint64_t since, const char *epoch)
{
    rt__poll_proto_cbs cbs = {on_message, on_lost};

    r->out = out;
    assert_int_equal(
        rt__poll_proto_new(&r->p, has_since, since, epoch, 1 << 20, &cbs, r),
        0);
    return r->p;
}

/* End an answer: its outcome, then the position, into the transcript. */
static int end_answer(struct rec *r)
{
    char err[256] = "";
    const char *epoch;
    uint64_t since;
    int rc = rt__poll_proto_end(r->p, err, sizeof(err)), has;

    if (rc != 0)
        th_str_printf(r->out, "ERR %s: %s\n", rt_err_name(rc), err);
    has = rt__poll_proto_position(r->p, &since, &epoch);
    th_str_printf(r->out, "@%s%llu %s\n", has ? "" : "none ",
                  (unsigned long long)since, epoch);
    return rc;
}

/* --- feed_all_splits: one fresh core per chunking, from seq 1 of E */

static void *f_open(void *ctx, th_str *out)
{
    struct rec *r = calloc(1, sizeof(*r));

    (void)ctx;
    assert_non_null(r);
    make(r, out, 1, 1, "E");
    rt__poll_proto_begin(r->p);
    return r;
}

static int f_feed(void *h, const char *buf, size_t len)
{
    struct rec *r = h;

    return rt__poll_proto_feed(r->p, buf, len);
}

static void f_close(void *h, th_str *out)
{
    struct rec *r = h;

    (void)out;
    end_answer(r);
    rt__poll_proto_free(r->p);
    free(r);
}

static const th_feeder feeder = {f_open, f_feed, f_close, NULL};

#define MSG(seq, text)                                \
    "{\"type\":\"text\",\"room\":\"r\",\"seq\":" #seq \
    ",\"data\":{\"content\":\"" text "\"},\"timestamp\":1.5}"

static void test_poll_proto_answer_any_chunking(void **state)
{
    static const char in[] =
        "{\"epoch\":\"E\",\"messages\":[" MSG(2, "two, [really]") ", " MSG(
            3, "th\\\"ree") "],\"next\":3,\"recovered\":true}";

    (void)state;
    feed_all_splits_expect(
        &feeder, in, sizeof(in) - 1,
        "2 " MSG(2, "two, [really]") "\n"
                                     "3 " MSG(3, "th\\\"ree") "\n"
                                                              "@3 E\n");
}

static void test_poll_proto_first_answer_starts_at_its_first_seq(void **state)
{
    static const char a[] = "{\"epoch\":\"E\",\"messages\":[" MSG(
        41, "x") "," MSG(42, "y") "],\"next\":42,"
                                  "\"recovered\":false}";
    struct rec r;
    th_str out;

    (void)state;
    th_str_init(&out);
    make(&r, &out, 0, 0, NULL);
    assert_int_equal(rt__poll_proto_position(r.p, NULL, NULL), 0);
    rt__poll_proto_begin(r.p);
    assert_int_equal(rt__poll_proto_feed(r.p, a, sizeof(a) - 1), 0);
    assert_int_equal(end_answer(&r), 0);
    /* No position was known: nothing could be lost, nothing is reported. */
    assert_string_equal(out.s,
                        "41 " MSG(41, "x") "\n42 " MSG(42, "y") "\n"
                                                                "@42 E\n");
    rt__poll_proto_free(r.p);
    th_str_free(&out);
}

static void test_poll_proto_drops_what_was_delivered(void **state)
{
    static const char a1[] = "{\"epoch\":\"E\",\"messages\":[" MSG(
        2, "b") "," MSG(3, "c") "],\"next\":3,"
                                "\"recovered\":true}";
    /* A replay that overlaps: 3 again, then 4. */
    static const char a2[] = "{\"epoch\":\"E\",\"messages\":[" MSG(
        3, "c") "," MSG(4, "d") "],\"next\":4,"
                                "\"recovered\":true}";
    static const char empty[] = "{\"epoch\":\"E\",\"messages\":[],"
                                "\"next\":4,\"recovered\":true}";
    struct rec r;
    th_str out;

    (void)state;
    th_str_init(&out);
    make(&r, &out, 1, 1, "E");
    rt__poll_proto_begin(r.p);
    assert_int_equal(rt__poll_proto_feed(r.p, a1, sizeof(a1) - 1), 0);
    assert_int_equal(end_answer(&r), 0);
    rt__poll_proto_begin(r.p);
    assert_int_equal(rt__poll_proto_feed(r.p, a2, sizeof(a2) - 1), 0);
    assert_int_equal(end_answer(&r), 0);
    rt__poll_proto_begin(r.p);
    assert_int_equal(rt__poll_proto_feed(r.p, empty, sizeof(empty) - 1), 0);
    assert_int_equal(end_answer(&r), 0);
    assert_string_equal(
        out.s, "2 " MSG(2, "b") "\n3 " MSG(3, "c") "\n@3 E\n"
                                                   "4 " MSG(4, "d") "\n@4 E\n"
                                                                    "@4 E\n");
    rt__poll_proto_free(r.p);
    th_str_free(&out);
}

static void test_poll_proto_reports_a_loss_before_its_messages(void **state)
{
    /* Not recovered: what is held comes from seq 7. */
    static const char lost[] = "{\"epoch\":\"E\",\"messages\":[" MSG(
        7, "g") "],\"next\":7,\"recovered\":false}";
    /* Another epoch, even with recovered:true, is a loss. */
    static const char other[] = "{\"epoch\":\"F\",\"messages\":[" MSG(
        1, "a") "],\"next\":1,\"recovered\":true}";
    struct rec r;
    th_str out;

    (void)state;
    th_str_init(&out);
    make(&r, &out, 1, 3, "E");
    rt__poll_proto_begin(r.p);
    assert_int_equal(rt__poll_proto_feed(r.p, lost, sizeof(lost) - 1), 0);
    assert_int_equal(end_answer(&r), 0);
    rt__poll_proto_begin(r.p);
    assert_int_equal(rt__poll_proto_feed(r.p, other, sizeof(other) - 1), 0);
    assert_int_equal(end_answer(&r), 0);
    assert_string_equal(
        out.s, "LOST\n7 " MSG(7, "g") "\n@7 E\n"
                                      "LOST\n1 " MSG(1, "a") "\n@1 F\n");
    rt__poll_proto_free(r.p);
    th_str_free(&out);
}

/* Each malformed answer is refused, naming what was wrong. */
static void test_poll_proto_refuses_malformed_answers(void **state)
{
    static const struct {
        const char *body, *want;
    } cases[] = {
        {"not json", "ERR PROTO: the poll answer is not JSON\n"},
        {"[]", "ERR PROTO: the poll answer is not {"},
        {"{\"epoch\":\"bad-epoch\",\"messages\":[],\"next\":1,"
         "\"recovered\":true}",
         "ERR PROTO: the poll answer is not {"},
        {"{\"epoch\":\"E\",\"messages\":[],\"next\":-1,\"recovered\":true}",
         "ERR PROTO: the poll answer is not {"},
        {"{\"epoch\":\"E\",\"messages\":[{\"type\":\"text\",\"data\":"
         "{\"content\":\"x\"}}],\"next\":2,\"recovered\":true}",
         "ERR PROTO: message 0 of the poll answer: no seq\n"},
        {"{\"epoch\":\"E\",\"messages\":[7],\"next\":2,\"recovered\":true}",
         "ERR PROTO: message 0 of the poll answer: "},
        {"{\"epoch\":\"E\",\"messages\":[" MSG(3, "c") "],\"next\":3,"
                                                       "\"recovered\":true}",
         "ERR PROTO: the poll answer has a gap before seq 2\n"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct rec r;
        th_str out;

        th_str_init(&out);
        make(&r, &out, 1, 1, "E");
        rt__poll_proto_begin(r.p);
        assert_int_equal(
            rt__poll_proto_feed(r.p, cases[i].body, strlen(cases[i].body)), 0);
        assert_int_not_equal(end_answer(&r), 0);
        if (strncmp(out.s, cases[i].want, strlen(cases[i].want)) != 0)
            fail_msg("case %zu: got '%s', want it to start '%s'", i, out.s,
                     cases[i].want);
        /* The position did not move. */
        assert_non_null(strstr(out.s, "@1 E\n"));
        rt__poll_proto_free(r.p);
        th_str_free(&out);
    }
}

static void test_poll_proto_bounds_the_body(void **state)
{
    rt__poll_proto_cbs cbs = {on_message, on_lost};
    struct rec r;
    th_str out;
    char err[128];

    (void)state;
    th_str_init(&out);
    r.out = &out;
    assert_int_equal(rt__poll_proto_new(&r.p, 0, 0, NULL, 8, &cbs, &r), 0);
    rt__poll_proto_begin(r.p);
    assert_int_equal(rt__poll_proto_feed(r.p, "12345", 5), 0);
    assert_int_equal(rt__poll_proto_feed(r.p, "6789", 4), RT_ETOOBIG);
    assert_int_equal(rt__poll_proto_feed(r.p, "", 0), RT_ETOOBIG);
    assert_int_equal(rt__poll_proto_end(r.p, err, sizeof(err)), RT_ETOOBIG);
    assert_string_equal(err, "the poll answer is longer than 8 bytes");
    /* A new answer starts afresh. */
    rt__poll_proto_begin(r.p);
    assert_int_equal(rt__poll_proto_feed(r.p, "12345678", 8), 0);
    rt__poll_proto_free(r.p);
    th_str_free(&out);
}

static void test_poll_proto_stop_delivers_nothing(void **state)
{
    static const char a[] = "{\"epoch\":\"E\",\"messages\":[" MSG(
        2, "b") "],\"next\":2,\"recovered\":false}";
    struct rec r;
    th_str out;

    (void)state;
    th_str_init(&out);
    make(&r, &out, 1, 1, "E");
    rt__poll_proto_stop(r.p);
    rt__poll_proto_begin(r.p);
    assert_int_equal(rt__poll_proto_feed(r.p, a, sizeof(a) - 1), 0);
    assert_int_equal(end_answer(&r), 0);
    assert_string_equal(out.s, "@2 E\n");
    rt__poll_proto_free(r.p);
    th_str_free(&out);
}

static void test_poll_proto_new_refuses_bad_arguments(void **state)
{
    rt__poll_proto_cbs cbs = {on_message, NULL}, none = {NULL, NULL};
    rt__poll_proto *p = (rt__poll_proto *)&p;

    (void)state;
    assert_int_equal(rt__poll_proto_new(&p, 0, 0, NULL, 1, &none, NULL),
                     RT_EINVAL);
    assert_null(p);
    assert_int_equal(rt__poll_proto_new(&p, 0, 0, "no-dash", 1, &cbs, NULL),
                     RT_EINVAL);
    assert_int_equal(
        rt__poll_proto_new(&p, 1, UINT64_MAX, NULL, 1, &cbs, NULL), RT_EINVAL);
    assert_int_equal(rt__poll_proto_new(&p, 0, 0, NULL, 0, &cbs, NULL),
                     RT_EINVAL);
    rt__poll_proto_free(NULL);
}

/* Every allocation refused in turn: an error, never a leak or a crash. */
static void test_poll_proto_failmalloc(void **state)
{
    static const char a[] = "{\"epoch\":\"E\",\"messages\":[" MSG(
        2, "b") "," MSG(3, "c") "],\"next\":3,"
                                "\"recovered\":true}";
    rt__poll_proto_cbs cbs = {on_message, on_lost};
    long n;
    int done = 0;

    (void)state;
    for (n = 0; !done; n++) {
        struct rec r;
        th_str out;
        char err[128];
        int rc;

        th_str_init(&out);
        r.out = &out;
        th_alloc_install();
        th_alloc_fail_at(n);
        rc = rt__poll_proto_new(&r.p, 1, 1, "E", 1 << 20, &cbs, &r);
        if (rc == 0) {
            rt__poll_proto_begin(r.p);
            rc = rt__poll_proto_feed(r.p, a, sizeof(a) - 1);
            if (rc == 0)
                rc = rt__poll_proto_end(r.p, err, sizeof(err));
            rt__poll_proto_free(r.p);
        }
        done = th_alloc_failed() == 0;
        th_alloc_uninstall();
        assert_int_equal(th_alloc_live(), 0);
        if (!done)
            assert_int_not_equal(rc, 0);
        th_str_free(&out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_poll_proto_answer_any_chunking),
        cmocka_unit_test(test_poll_proto_first_answer_starts_at_its_first_seq),
        cmocka_unit_test(test_poll_proto_drops_what_was_delivered),
        cmocka_unit_test(test_poll_proto_reports_a_loss_before_its_messages),
        cmocka_unit_test(test_poll_proto_refuses_malformed_answers),
        cmocka_unit_test(test_poll_proto_bounds_the_body),
        cmocka_unit_test(test_poll_proto_stop_delivers_nothing),
        cmocka_unit_test(test_poll_proto_new_refuses_bad_arguments),
        cmocka_unit_test(test_poll_proto_failmalloc),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
