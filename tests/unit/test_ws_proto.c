/*
 * test_ws_proto.c: the protocol core of rt_ws_client (lib/core/ws_proto.c),
 * the sans-I/O half of the WebSocket client's protocol mode.
 *
 * Frames are written as JSON, parsed with rt_msg_parse() as the client
 * does, and pushed at the time of a fake clock.  Every callback goes to a
 * transcript, one line each, so a test states the whole outcome as one
 * string:
 *   MSG seq        a stored message delivered
 *   FRAME type     any other frame passed on (BAD: not protocol JSON)
 *   OPEN user      the welcome
 *   RESUMED r from to
 *   ACK id seq code   (code "-" for a stored message)
 *   FAIL ERR final
 *   WRITE          something to write
 */
#include "helpers.h"

#include "rt/msg.h"
#include "ws_proto.h"

struct rec {
    th_str t;
    rt__ws_proto *p;
    th_clock clock;
    int progress;
};

static void on_message(const rt_msg *m, const char *json, size_t len, void *ud)
{
    struct rec *r = ud;

    assert_int_equal(strlen(json), len);
    if (m == NULL)
        th_str_printf(&r->t, "BAD %s\n", json);
    else if (m->has_seq)
        th_str_printf(&r->t, "MSG %llu\n", (unsigned long long)m->seq);
    else
        th_str_printf(&r->t, "FRAME %d\n", (int)m->type);
}

static void on_open(const rt_msg *welcome, void *ud)
{
    struct rec *r = ud;

    th_str_printf(&r->t, "OPEN %s\n", welcome->u.system.welcome.user);
}

static void on_resumed(int recovered, uint64_t from, uint64_t to, void *ud)
{
    struct rec *r = ud;

    th_str_printf(&r->t, "RESUMED %d %llu %llu\n", recovered,
                  (unsigned long long)from, (unsigned long long)to);
}

static void on_ack(const char *id, uint64_t seq, const char *code, void *ud)
{
    struct rec *r = ud;

    th_str_printf(&r->t, "ACK %s %llu %s\n", id, (unsigned long long)seq,
                  code != NULL ? code : "-");
}

static void on_progress(void *ud)
{
    struct rec *r = ud;

    r->progress++;
}

static void on_fail(int err, int final, const char *detail, void *ud)
{
    struct rec *r = ud;

    assert_non_null(detail);
    assert_true(detail[0] != '\0');
    th_str_printf(&r->t, "FAIL %s %d\n", rt_err_name(err), final);
}

static void on_want_write(void *ud)
{
    struct rec *r = ud;

    th_str_puts(&r->t, "WRITE\n");
}

static const rt__ws_proto_cbs rec_cbs = {on_message,   on_open,     on_resumed,
                                         on_ack,       on_progress, on_fail,
                                         on_want_write};

static void opts_init(rt__ws_proto_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->gap_timeout_ms = 2000;
    o->max_queued = 1024;
    o->max_queued_bytes = (size_t)16 << 20;
}

static void setup_opts(struct rec *r, const rt__ws_proto_opts *o)
{
    memset(r, 0, sizeof(*r));
    th_str_init(&r->t);
    th_str_puts(&r->t, "");
    th_clock_init(&r->clock, 1000);
    assert_int_equal(rt__ws_proto_new(&r->p, o, &rec_cbs, r), 0);
    rt__ws_proto_connecting(r->p);
}

/* |epoch| NULL: a fresh start; else resume from |since| in it. */
static void setup_rec(struct rec *r, const char *epoch, uint64_t since)
{
    rt__ws_proto_opts o;

    opts_init(&o);
    if (epoch != NULL) {
        o.has_since = 1;
        o.since = since;
        o.epoch = epoch;
    }
    setup_opts(r, &o);
}

static void teardown_rec(struct rec *r)
{
    rt__ws_proto_free(r->p);
    th_str_free(&r->t);
}

static void expect(struct rec *r, const char *want)
{
    assert_string_equal(r->t.s, want);
    th_str_free(&r->t);
    th_str_puts(&r->t, "");
}

static void expect_pos(struct rec *r, int known, uint64_t seq,
                       const char *epoch)
{
    uint64_t s = 99999;
    const char *e = NULL;

    assert_int_equal(rt__ws_proto_position(r->p, &s, &e), known);
    assert_int_equal(s, seq);
    assert_string_equal(e, epoch);
}

/* Push one frame from the server, as rt_msg_parse() makes it. */
static void frame(struct rec *r, const char *json)
{
    rt_msg *m = NULL;
    rt_msg_error perr;
    size_t len = strlen(json);

    assert_int_equal(
        rt_msg_parse(&m, json, len, RT_MSG_FROM_SERVER, NULL, &perr), 0);
    assert_int_equal(rt__ws_proto_push(r->p, m, json, len, r->clock.now_ms),
                     0);
}

static void framef(struct rec *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void framef(struct rec *r, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof(buf));
    frame(r, buf);
}

static void welcome(struct rec *r, const char *user, const char *epoch,
                    uint64_t seq)
{
    framef(r,
           "{\"type\":\"system\",\"room\":\"r\",\"data\":{\"event\":"
           "\"welcome\",\"user\":\"%s\",\"epoch\":\"%s\",\"seq\":%llu,"
           "\"online\":[\"%s\"]}}",
           user, epoch, (unsigned long long)seq, user);
}

static void resumed(struct rec *r, uint64_t from, uint64_t to, int rec)
{
    framef(r,
           "{\"type\":\"system\",\"room\":\"r\",\"data\":{\"event\":"
           "\"resumed\",\"from\":%llu,\"to\":%llu,\"recovered\":%s}}",
           (unsigned long long)from, (unsigned long long)to,
           rec ? "true" : "false");
}

#define TEXT_FMT                                                    \
    "{\"type\":\"text\",\"room\":\"r\",\"id\":\"%s\",\"seq\":%llu," \
    "\"data\":{\"content\":\"c\",\"author\":\"%s\"}}"

/* A stored text message; |id| NULL: without one. */
static void text_by(struct rec *r, uint64_t seq, const char *id,
                    const char *author)
{
    if (id == NULL)
        framef(r,
               "{\"type\":\"text\",\"room\":\"r\",\"seq\":%llu,\"data\":"
               "{\"content\":\"c\",\"author\":\"%s\"}}",
               (unsigned long long)seq, author);
    else
        framef(r, TEXT_FMT, id, (unsigned long long)seq, author);
}

static void text(struct rec *r, uint64_t seq)
{
    text_by(r, seq, NULL, "bob");
}

static void ack_frame(struct rec *r, const char *id, uint64_t seq)
{
    framef(r,
           "{\"type\":\"ack\",\"id\":\"%s\",\"data\":{\"status\":"
           "\"delivered\",\"seq\":%llu}}",
           id, (unsigned long long)seq);
}

static void error_frame(struct rec *r, const char *id, const char *code)
{
    framef(r,
           "{\"type\":\"error\",\"id\":\"%s\",\"data\":{\"code\":\"%s\","
           "\"message\":\"no\"}}",
           id, code);
}

static void send_id(struct rec *r, const char *content, const char *id)
{
    assert_int_equal(rt__ws_proto_send(r->p, 0, content, strlen(content), id),
                     0);
}

/* Write the next frame, which must be |want|. */
static void write_one(struct rec *r, const char *want)
{
    size_t len = 0;
    int binary = -1;
    const char *d = rt__ws_proto_next(r->p, &len, &binary);

    assert_non_null(d);
    assert_int_equal(binary, 0);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(d, want, len);
    rt__ws_proto_sent(r->p);
}

static void test_ws_proto_fresh_start_delivers_after_the_welcome_seq(void **st)
{
    struct rec r;

    (void)st;
    setup_rec(&r, NULL, 0);
    expect_pos(&r, 0, 0, "");
    send_id(&r, "early", NULL);
    /* Nothing is written before the welcome. */
    assert_null(rt__ws_proto_next(r.p, NULL, NULL));
    expect(&r, "");
    welcome(&r, "me", "E1", 5);
    expect(&r, "OPEN me\nWRITE\n");
    expect_pos(&r, 1, 5, "E1");
    assert_string_equal(rt__ws_proto_user(r.p), "me");
    write_one(&r, "early");
    assert_int_equal(rt__ws_proto_pending(r.p), 0);
    text(&r, 4);
    text(&r, 5);
    text(&r, 6);
    text(&r, 7);
    expect(&r, "MSG 6\nMSG 7\n");
    expect_pos(&r, 1, 7, "E1");
    teardown_rec(&r);
}

static void test_ws_proto_resume_same_epoch_delivers_replay_as_it_comes(
    void **st)
{
    struct rec r;

    (void)st;
    setup_rec(&r, "E1", 10);
    expect_pos(&r, 1, 10, "E1");
    send_id(&r, "hello", "a");
    welcome(&r, "me", "E1", 20);
    /* Not ready until the resumed frame: the queue waits. */
    expect(&r, "OPEN me\n");
    assert_null(rt__ws_proto_next(r.p, NULL, NULL));
    /* A contiguous replay in the same epoch goes on at once. */
    text(&r, 11);
    text(&r, 12);
    text(&r, 12);
    expect(&r, "MSG 11\nMSG 12\n");
    expect_pos(&r, 1, 12, "E1");
    resumed(&r, 11, 12, 1);
    expect(&r, "RESUMED 1 11 12\nWRITE\n");
    write_one(&r, "hello");
    text(&r, 13);
    expect(&r, "MSG 13\n");
    teardown_rec(&r);
}

static void test_ws_proto_resume_across_an_epoch_change_is_not_recovered(
    void **st)
{
    struct rec r;

    (void)st;
    setup_rec(&r, "E1", 10);
    welcome(&r, "me", "F2", 3);
    text(&r, 1);
    text(&r, 2);
    /* Held for the resumed frame; the position stays in the old epoch. */
    expect(&r, "OPEN me\n");
    expect_pos(&r, 1, 10, "E1");
    text(&r, 3);
    /* The server says recovered, but a since from E1 means nothing in F2. */
    resumed(&r, 1, 3, 1);
    expect(&r, "RESUMED 0 1 3\nMSG 1\nMSG 2\nMSG 3\n");
    expect_pos(&r, 1, 3, "F2");
    text(&r, 4);
    expect(&r, "MSG 4\n");
    teardown_rec(&r);

    /* A connection lost during the replay resumes from the old position. */
    setup_rec(&r, "E1", 10);
    welcome(&r, "me", "F2", 3);
    text(&r, 1);
    rt__ws_proto_disconnected(r.p);
    rt__ws_proto_connecting(r.p);
    expect_pos(&r, 1, 10, "E1");
    welcome(&r, "me", "F2", 3);
    text(&r, 1);
    resumed(&r, 1, 1, 0);
    expect(&r, "OPEN me\nOPEN me\nRESUMED 0 1 1\nMSG 1\n");
    expect_pos(&r, 1, 1, "F2");
    teardown_rec(&r);
}

static void test_ws_proto_unrecovered_resets_to_the_replay_first_seq(void **st)
{
    struct rec r;

    (void)st;
    setup_rec(&r, "E1", 10);
    welcome(&r, "me", "E1", 30);
    /* Trimmed history: the replay starts past the position. */
    text(&r, 15);
    text(&r, 16);
    expect(&r, "OPEN me\n");
    resumed(&r, 15, 30, 0);
    expect(&r, "RESUMED 0 15 30\nMSG 15\nMSG 16\n");
    expect_pos(&r, 1, 16, "E1");
    teardown_rec(&r);

    /* Nothing replayed: go on after the welcome's seq. */
    setup_rec(&r, "E1", 10);
    welcome(&r, "me", "E1", 30);
    resumed(&r, 0, 0, 0);
    text(&r, 30);
    text(&r, 31);
    expect(&r, "OPEN me\nRESUMED 0 0 0\nMSG 31\n");
    expect_pos(&r, 1, 31, "E1");
    teardown_rec(&r);
}

static void test_ws_proto_drops_duplicates(void **st)
{
    struct rec r;

    (void)st;
    setup_rec(&r, NULL, 0);
    welcome(&r, "me", "E1", 0);
    text(&r, 1);
    text(&r, 1);
    text(&r, 2);
    text(&r, 1);
    text(&r, 2);
    text(&r, 3);
    expect(&r, "OPEN me\nMSG 1\nMSG 2\nMSG 3\n");
    assert_int_equal(r.progress, 3);
    teardown_rec(&r);
}

static void test_ws_proto_holds_a_gap_until_it_fills(void **st)
{
    struct rec r;

    (void)st;
    setup_rec(&r, NULL, 0);
    welcome(&r, "me", "E1", 0);
    text(&r, 1);
    text(&r, 3);
    text(&r, 4);
    expect(&r, "OPEN me\nMSG 1\n");
    assert_int_equal(rt__ws_proto_held(r.p), 2);
    /* The position is the last delivered seq, not the last seen. */
    expect_pos(&r, 1, 1, "E1");
    text(&r, 2);
    expect(&r, "MSG 2\nMSG 3\nMSG 4\n");
    assert_int_equal(rt__ws_proto_held(r.p), 0);
    assert_int_equal(rt__ws_proto_deadline(r.p), UINT64_MAX);
    teardown_rec(&r);
}

static void test_ws_proto_gap_timeout_resumes_from_the_last_delivered(
    void **st)
{
    struct rec r;
    uint64_t from = 0, to = 0;

    (void)st;
    setup_rec(&r, NULL, 0);
    welcome(&r, "me", "E1", 0);
    text(&r, 1);
    th_clock_advance(&r.clock, 100);
    text(&r, 3);
    th_clock_advance(&r.clock, 500);
    text(&r, 4);
    assert_int_equal(rt__ws_proto_deadline(r.p), 1100 + 2000);
    assert_int_equal(rt__ws_proto_tick(r.p, 3099, &from, &to), 0);
    th_clock_advance(&r.clock, 1500);
    assert_int_equal(rt__ws_proto_tick(r.p, r.clock.now_ms, &from, &to),
                     RT_EGAP);
    assert_int_equal(from, 2);
    assert_int_equal(to, 2);
    /* The reconnection asks for since=1 in E1. */
    expect_pos(&r, 1, 1, "E1");
    rt__ws_proto_disconnected(r.p);
    rt__ws_proto_connecting(r.p);
    welcome(&r, "me", "E1", 4);
    text(&r, 2);
    text(&r, 3);
    text(&r, 4);
    resumed(&r, 2, 4, 1);
    expect(&r, "OPEN me\nMSG 1\nOPEN me\nMSG 2\nMSG 3\nMSG 4\n"
               "RESUMED 1 2 4\n");
    assert_int_equal(rt__ws_proto_deadline(r.p), UINT64_MAX);
    teardown_rec(&r);
}

static void test_ws_proto_seq_too_far_ahead_resumes(void **st)
{
    struct rec r;

    (void)st;
    setup_rec(&r, NULL, 0);
    welcome(&r, "me", "E1", 0);
    text(&r, 1);
    text(&r, 5000);
    expect(&r, "OPEN me\nMSG 1\nFAIL GAP 0\n");
    expect_pos(&r, 1, 1, "E1");
    assert_int_equal(rt__ws_proto_held(r.p), 0);
    /* Frames that follow are still taken. */
    text(&r, 2);
    expect(&r, "MSG 2\n");
    teardown_rec(&r);
}

static void test_ws_proto_held_bytes_over_the_bound_resume(void **st)
{
    rt__ws_proto_opts o;
    struct rec r;
    char one[256];
    int n;

    (void)st;
    n = snprintf(one, sizeof(one),
                 "{\"type\":\"text\",\"room\":\"r\",\"seq\":%d,\"data\":"
                 "{\"content\":\"c\",\"author\":\"%s\"}}",
                 3, "bob");
    assert_true(n > 0);
    opts_init(&o);
    o.max_held_bytes = (size_t)n + (size_t)n / 2;
    setup_opts(&r, &o);
    welcome(&r, "me", "E1", 0);
    text(&r, 1);
    text(&r, 3);
    expect(&r, "OPEN me\nMSG 1\n");
    text(&r, 4);
    expect(&r, "FAIL GAP 0\n");
    assert_int_equal(rt__ws_proto_held(r.p), 1);
    expect_pos(&r, 1, 1, "E1");
    teardown_rec(&r);

    /* A replay too long to hold stops the client. */
    opts_init(&o);
    o.has_since = 1;
    o.since = 10;
    o.epoch = "E1";
    o.max_replay = 2;
    setup_opts(&r, &o);
    welcome(&r, "me", "F2", 3);
    text(&r, 1);
    text(&r, 2);
    text(&r, 3);
    expect(&r, "OPEN me\nFAIL TOOBIG 1\n");
    teardown_rec(&r);
}

static void test_ws_proto_own_broadcast_is_the_ack(void **st)
{
    struct rec r;

    (void)st;
    setup_rec(&r, NULL, 0);
    welcome(&r, "me", "E1", 0);
    send_id(&r, "m-a", "a");
    write_one(&r, "m-a");
    assert_int_equal(rt__ws_proto_tracked(r.p, "a"), 1);
    /* Another user's message with the same id is not ours. */
    text_by(&r, 1, "a", "bob");
    expect(&r, "OPEN me\nWRITE\nMSG 1\n");
    text_by(&r, 2, "a", "me");
    expect(&r, "MSG 2\nACK a 2 -\n");
    assert_int_equal(rt__ws_proto_tracked(r.p, "a"), 0);
    /* Its ack frame, late, is swallowed. */
    ack_frame(&r, "a", 2);
    expect(&r, "");
    assert_int_equal(rt__ws_proto_pending(r.p), 0);
    /* An ack frame nobody waits for is consumed too. */
    ack_frame(&r, "zz", 9);
    expect(&r, "");
    teardown_rec(&r);

    /* Held behind a gap: reported before it is delivered. */
    setup_rec(&r, NULL, 0);
    welcome(&r, "me", "E1", 0);
    send_id(&r, "m-a", "a");
    write_one(&r, "m-a");
    text_by(&r, 2, "a", "me");
    text(&r, 1);
    expect(&r, "OPEN me\nWRITE\nACK a 2 -\nMSG 1\nMSG 2\n");
    teardown_rec(&r);
}

static void test_ws_proto_stale_ack_does_not_answer_a_reused_id(void **st)
{
    struct rec r;

    (void)st;
    setup_rec(&r, NULL, 0);
    welcome(&r, "me", "E1", 0);
    send_id(&r, "first", "a");
    write_one(&r, "first");
    text_by(&r, 1, "a", "me");
    expect(&r, "OPEN me\nWRITE\nMSG 1\nACK a 1 -\n");
    /* The id is free again once reported. */
    send_id(&r, "second", "a");
    write_one(&r, "second");
    expect(&r, "WRITE\n");
    ack_frame(&r, "a", 1); /* the first one's: dropped */
    expect(&r, "");
    assert_int_equal(rt__ws_proto_pending(r.p), 1);
    assert_int_equal(rt__ws_proto_tracked(r.p, "a"), 1);
    ack_frame(&r, "a", 2);
    expect(&r, "ACK a 2 -\n");
    assert_int_equal(rt__ws_proto_pending(r.p), 0);
    teardown_rec(&r);
}

static void test_ws_proto_error_frame_answers_with_its_code(void **st)
{
    struct rec r;

    (void)st;
    setup_rec(&r, NULL, 0);
    welcome(&r, "me", "E1", 0);
    send_id(&r, "m-a", "a");
    send_id(&r, "m-b", "b");
    write_one(&r, "m-a");
    write_one(&r, "m-b");
    error_frame(&r, "b", "rate_limited");
    error_frame(&r, "a", "no_such_code");
    /* Not ours: passed on. */
    error_frame(&r, "c", "bad_message");
    expect(&r, "OPEN me\nWRITE\nWRITE\nACK b 0 rate_limited\n"
               "ACK a 0 error\nFRAME 4\n");
    assert_int_equal(rt__ws_proto_pending(r.p), 0);
    assert_int_equal(r.progress, 2);
    teardown_rec(&r);
}

static void test_ws_proto_requeue_puts_in_flight_first(void **st)
{
    struct rec r;

    (void)st;
    setup_rec(&r, NULL, 0);
    welcome(&r, "me", "E1", 0);
    send_id(&r, "m-a", "a");
    send_id(&r, "m-b", NULL);
    send_id(&r, "m-c", "c");
    write_one(&r, "m-a");
    write_one(&r, "m-b");
    write_one(&r, "m-c");
    send_id(&r, "m-d", "d");
    text_by(&r, 1, "c", "me"); /* c reported: not sent again */
    expect(&r, "OPEN me\nWRITE\nWRITE\nWRITE\nWRITE\nMSG 1\nACK c 1 -\n");
    assert_int_equal(rt__ws_proto_pending(r.p), 3);
    rt__ws_proto_disconnected(r.p);
    rt__ws_proto_connecting(r.p);
    assert_int_equal(rt__ws_proto_pending(r.p), 2);
    assert_null(rt__ws_proto_next(r.p, NULL, NULL));
    welcome(&r, "me", "E1", 2);
    /* The replay holds a's broadcast: no ack frame will come for it. */
    text_by(&r, 2, "a", "me");
    resumed(&r, 2, 2, 1);
    expect(&r, "OPEN me\nMSG 2\nACK a 2 -\nRESUMED 1 2 2\nWRITE\n");
    write_one(&r, "m-d");
    assert_null(rt__ws_proto_next(r.p, NULL, NULL));
    ack_frame(&r, "d", 3);
    expect(&r, "ACK d 3 -\n");
    assert_int_equal(rt__ws_proto_pending(r.p), 0);
    teardown_rec(&r);

    /* Without a broadcast: a goes again, before d. */
    setup_rec(&r, NULL, 0);
    welcome(&r, "me", "E1", 0);
    send_id(&r, "m-a", "a");
    write_one(&r, "m-a");
    send_id(&r, "m-d", "d");
    rt__ws_proto_disconnected(r.p);
    rt__ws_proto_connecting(r.p);
    welcome(&r, "me", "E1", 0);
    resumed(&r, 1, 0, 1);
    write_one(&r, "m-a");
    write_one(&r, "m-d");
    teardown_rec(&r);
}

static void test_ws_proto_finalize_reports_closed(void **st)
{
    struct rec r;

    (void)st;
    setup_rec(&r, NULL, 0);
    welcome(&r, "me", "E1", 0);
    send_id(&r, "m-a", "a");
    send_id(&r, "m-b", NULL);
    send_id(&r, "m-c", "c");
    write_one(&r, "m-a");
    send_id(&r, "m-d", "d");
    text_by(&r, 1, "d", "me"); /* queued again, then its broadcast */
    expect(&r, "OPEN me\nWRITE\nWRITE\nWRITE\nWRITE\nMSG 1\nACK d 1 -\n");
    rt__ws_proto_stop(r.p);
    assert_int_equal(rt__ws_proto_send(r.p, 0, "x", 1, NULL), RT_ESTATE);
    text(&r, 2); /* no delivery once stopped */
    rt__ws_proto_finalize(r.p);
    expect(&r, "ACK a 0 closed\nACK c 0 closed\n");
    assert_int_equal(rt__ws_proto_pending(r.p), 0);
    teardown_rec(&r);

    /* Stopped with an open connection: what has an id is not written. */
    setup_rec(&r, NULL, 0);
    welcome(&r, "me", "E1", 0);
    send_id(&r, "m-a", "a");
    send_id(&r, "m-b", NULL);
    send_id(&r, "m-c", "c");
    rt__ws_proto_stop(r.p);
    write_one(&r, "m-b");
    assert_null(rt__ws_proto_next(r.p, NULL, NULL));
    expect(&r, "OPEN me\nWRITE\nWRITE\nWRITE\nACK a 0 closed\n"
               "ACK c 0 closed\n");
    rt__ws_proto_finalize(r.p);
    expect(&r, "");
    teardown_rec(&r);
}

static void test_ws_proto_passes_other_frames_on(void **st)
{
    struct rec r;
    static const char bad[] = "not json";

    (void)st;
    setup_rec(&r, "E1", 10);
    welcome(&r, "me", "E1", 12);
    /* During a replay too: only stored messages wait. */
    frame(&r, "{\"type\":\"presence\",\"room\":\"r\",\"data\":{\"event\":"
              "\"join\",\"user\":\"bob\"}}");
    assert_int_equal(rt__ws_proto_push(r.p, NULL, bad, sizeof(bad) - 1, 0), 0);
    expect(&r, "OPEN me\nFRAME 1\nBAD not json\n");
    /* A resumed frame with no replay pending is ignored. */
    resumed(&r, 11, 12, 1);
    resumed(&r, 11, 12, 0);
    expect(&r, "RESUMED 1 11 12\n");
    teardown_rec(&r);
}

static void test_ws_proto_raw_queue_and_limits(void **st)
{
    rt__ws_proto_opts o;
    struct rec r;
    size_t len = 0;
    int binary = 0;

    (void)st;
    opts_init(&o);
    o.max_queued = 2;
    o.max_queued_bytes = 10;
    setup_opts(&r, &o);
    assert_int_equal(rt__ws_proto_send(r.p, 1, "\0\1", 2, NULL), 0);
    assert_int_equal(rt__ws_proto_send(r.p, 0, "123456789", 9, NULL),
                     RT_EFULL);
    assert_int_equal(rt__ws_proto_send(r.p, 0, "12", 2, NULL), 0);
    assert_int_equal(rt__ws_proto_send(r.p, 0, "1", 1, NULL), RT_EFULL);
    assert_int_equal(rt__ws_proto_has_out(r.p), 1);
    rt__ws_proto_ready(r.p);
    expect(&r, "WRITE\n");
    assert_non_null(rt__ws_proto_next(r.p, &len, &binary));
    assert_int_equal(len, 2);
    assert_int_equal(binary, 1);
    rt__ws_proto_sent(r.p);
    write_one(&r, "12");
    assert_int_equal(rt__ws_proto_has_out(r.p), 0);
    assert_int_equal(rt__ws_proto_pending(r.p), 0);
    expect_pos(&r, 0, 0, "");
    teardown_rec(&r);
}

static void test_ws_proto_new_refuses_bad_arguments(void **st)
{
    rt__ws_proto_cbs none;
    rt__ws_proto_opts o;
    rt__ws_proto *p = (rt__ws_proto *)&o;

    (void)st;
    memset(&none, 0, sizeof(none));
    opts_init(&o);
    assert_int_equal(rt__ws_proto_new(NULL, &o, &rec_cbs, NULL), RT_EINVAL);
    assert_int_equal(rt__ws_proto_new(&p, &o, &none, NULL), RT_EINVAL);
    assert_null(p);
    assert_int_equal(rt__ws_proto_new(&p, NULL, &rec_cbs, NULL), RT_EINVAL);
    o.epoch = "abcdefghijklmnopqrstuvwxyz0123456";
    assert_int_equal(rt__ws_proto_new(&p, &o, &rec_cbs, NULL), RT_EINVAL);
    opts_init(&o);
    o.has_since = 1;
    o.since = UINT64_MAX;
    assert_int_equal(rt__ws_proto_new(&p, &o, &rec_cbs, NULL), RT_EINVAL);
    opts_init(&o);
    o.max_queued = 0;
    assert_int_equal(rt__ws_proto_new(&p, &o, &rec_cbs, NULL), RT_EINVAL);
    rt__ws_proto_free(NULL);
    assert_null(rt__ws_proto_next(NULL, NULL, NULL));
    assert_int_equal(rt__ws_proto_position(NULL, NULL, NULL), 0);
}

/*
 * Every allocation refused in turn: a refused push returns RT_ENOMEM with
 * nothing changed and no callback, and works when tried again.
 */
static void test_ws_proto_out_of_memory_changes_nothing(void **st)
{
    static const char own[] =
        "{\"type\":\"text\",\"room\":\"r\",\"id\":\"a\",\"seq\":1,"
        "\"data\":{\"content\":\"c\",\"author\":\"me\"}}";
    rt__ws_proto_opts o;
    struct rec r;
    rt_msg *m;
    rt_msg_error perr;
    long n, hit;
    int rc;

    (void)st;
    opts_init(&o);
    th_alloc_install();
    for (n = 0;; n++) {
        memset(&r, 0, sizeof(r));
        th_str_init(&r.t);
        th_alloc_fail_at(-1);
        th_str_puts(&r.t, "");
        th_alloc_fail_at(n);
        rc = rt__ws_proto_new(&r.p, &o, &rec_cbs, &r);
        if (rc != 0) {
            assert_int_equal(rc, RT_ENOMEM);
            assert_null(r.p);
            th_str_free(&r.t);
            continue;
        }
        rc = rt__ws_proto_send(r.p, 0, "m-a", 3, "a");
        if (rc != 0) {
            assert_int_equal(rc, RT_ENOMEM);
            assert_int_equal(rt__ws_proto_pending(r.p), 0);
            th_alloc_fail_at(-1);
            send_id(&r, "m-a", "a");
        }
        hit = th_alloc_failed();
        th_alloc_fail_at(-1);
        welcome(&r, "me", "E1", 0);
        write_one(&r, "m-a");
        expect(&r, "OPEN me\nWRITE\n");
        m = NULL;
        assert_int_equal(rt_msg_parse(&m, own, sizeof(own) - 1,
                                      RT_MSG_FROM_SERVER, NULL, &perr),
                         0);
        th_alloc_fail_at(n);
        rc = rt__ws_proto_push(r.p, m, own, sizeof(own) - 1, 0);
        if (rc != 0) {
            assert_int_equal(rc, RT_ENOMEM);
            expect(&r, "");
            assert_int_equal(rt__ws_proto_tracked(r.p, "a"), 1);
            th_alloc_fail_at(-1);
            assert_int_equal(
                rt__ws_proto_push(r.p, m, own, sizeof(own) - 1, 0), 0);
        }
        expect(&r, "MSG 1\nACK a 1 -\n");
        rt__ws_proto_free(r.p);
        th_str_free(&r.t);
        if (!hit && !th_alloc_failed())
            break;
    }
    assert_int_equal(th_alloc_live(), 0);
    th_alloc_uninstall();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_ws_proto_fresh_start_delivers_after_the_welcome_seq),
        cmocka_unit_test(
            test_ws_proto_resume_same_epoch_delivers_replay_as_it_comes),
        cmocka_unit_test(
            test_ws_proto_resume_across_an_epoch_change_is_not_recovered),
        cmocka_unit_test(
            test_ws_proto_unrecovered_resets_to_the_replay_first_seq),
        cmocka_unit_test(test_ws_proto_drops_duplicates),
        cmocka_unit_test(test_ws_proto_holds_a_gap_until_it_fills),
        cmocka_unit_test(
            test_ws_proto_gap_timeout_resumes_from_the_last_delivered),
        cmocka_unit_test(test_ws_proto_seq_too_far_ahead_resumes),
        cmocka_unit_test(test_ws_proto_held_bytes_over_the_bound_resume),
        cmocka_unit_test(test_ws_proto_own_broadcast_is_the_ack),
        cmocka_unit_test(test_ws_proto_stale_ack_does_not_answer_a_reused_id),
        cmocka_unit_test(test_ws_proto_error_frame_answers_with_its_code),
        cmocka_unit_test(test_ws_proto_requeue_puts_in_flight_first),
        cmocka_unit_test(test_ws_proto_finalize_reports_closed),
        cmocka_unit_test(test_ws_proto_passes_other_frames_on),
        cmocka_unit_test(test_ws_proto_raw_queue_and_limits),
        cmocka_unit_test(test_ws_proto_new_refuses_bad_arguments),
        cmocka_unit_test(test_ws_proto_out_of_memory_changes_nothing),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
