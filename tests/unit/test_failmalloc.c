/*
 * test_failmalloc.c: every allocating call of lib/core under allocation
 * failure (STYLE.md 2.7 rule 4).
 *
 * Each scenario makes a chain of calls that allocate, checks the results
 * when they succeed, and frees everything it got.  every_failure() runs it
 * with allocation n refused, for n = 0, 1, 2, ... until a run reaches no
 * refusal, twice: once refusing that one request only (so a failure that
 * is swallowed, not reported, shows up as a run that succeeded although a
 * request was refused) and once refusing it and every later one (so the
 * error paths themselves may not allocate).  At each n:
 *  - a run in which a request was refused returns RT_ENOMEM, and one in
 *    which none was returns 0 with the right results;
 *  - constructors leave their out-parameter as documented on failure
 *    (NULL, or untouched for rt_msg_parse());
 *  - no block is live after the scenario's cleanup (th_alloc_live()).
 * Crashes, double frees and use after free are the sanitizers' and
 * valgrind's to report.
 */
#include <inttypes.h>

#include "helpers.h"

#include "core_int.h"
#include "rt/hist.h"
#include "rt/jwt.h"
#include "rt/msg.h"
#include "rt/order.h"
#include "rt/sse_parser.h"
#include "rt/url.h"
#include "ws_proto.h"

/* No scenario makes more requests than this; a loop past it is a bug. */
#define MAX_REQUESTS 5000

/*
 * What out-parameters start as, so that a constructor that fails must be
 * seen to write NULL.
 */
static char poison_byte;
#define POISON ((void *)&poison_byte)

/*
 * Run |run| (which returns 0 or the first error and frees what it got)
 * with request n refused, for every n until a run refuses none.  Returns
 * how many requests the successful run made.
 */
static long every_failure(const char *name, int (*run)(void))
{
    long n, requests = -1;
    int sticky, rc;

    th_alloc_install();
    for (sticky = 0; sticky < 2; sticky++) {
        for (n = 0;; n++) {
            if (n > MAX_REQUESTS)
                fail_msg("%s: still refusing at request %ld", name, n);
            if (sticky)
                th_alloc_fail_from(n);
            else
                th_alloc_fail_at(n);
            rc = run();
            if (th_alloc_live() != 0)
                fail_msg("%s: %ld blocks leaked with request %ld refused%s",
                         name, th_alloc_live(), n, sticky ? " on" : "");
            if (th_alloc_failed() == 0) {
                if (rc != 0)
                    fail_msg("%s: rc %s with no refusal", name,
                             rt_err_name(rc));
                break;
            }
            if (rc != RT_ENOMEM)
                fail_msg("%s: rc %s with request %ld refused%s", name,
                         rt_err_name(rc), n, sticky ? " on" : "");
        }
        /* Both ways need the same number of requests to succeed. */
        if (requests >= 0)
            assert_int_equal(n, requests);
        requests = n;
    }
    th_alloc_uninstall();
    assert_true(requests > 0);
    print_message("%s: %ld allocations\n", name, requests);
    return requests;
}

/* ------------------------------------------------------------------ */
/* sse_parser                                                          */

static int sse_on_event(const rt_sse_event *ev, void *ud)
{
    th_str *out = ud;

    th_str_putn(out, ev->type, ev->type_len);
    th_str_puts(out, "|");
    th_str_putn(out, ev->id, ev->id_len);
    th_str_puts(out, "|");
    th_str_putn(out, ev->data, ev->data_len);
    th_str_puts(out, "\n");
    return 0;
}

/* Three events, the second line cut by each feed boundary. */
static int run_sse(void)
{
    static const char *const chunks[] = {
        "event: greet\nid: 1\ndata: hel",
        "lo\ndata: world\n\n: a comment\nid: 2\nda",
        "ta: second\n\nevent: x\ndata: third, with a longer line that has "
        "to grow the line buffer past its first size .....................\n"
        "\n",
    };
    rt_sse_parser *p = POISON;
    th_str out;
    size_t i;
    int rc;

    th_str_init(&out);
    th_str_putn(&out, "", 0);
    rc = rt_sse_parser_new(&p, NULL, sse_on_event, NULL, &out);
    if (rc != 0) {
        assert_null(p);
        th_str_free(&out);
        return rc;
    }
    for (i = 0; rc == 0 && i < sizeof(chunks) / sizeof(chunks[0]); i++)
        rc = rt_sse_parser_feed(p, chunks[i], strlen(chunks[i]));
    if (rc != 0) {
        /* A failed feed is sticky. */
        assert_int_equal(rt_sse_parser_feed(p, "\n", 1), rc);
    } else {
        assert_string_equal(out.s,
                            "greet|1|hello\nworld\n"
                            "message|2|second\n"
                            "x|2|third, with a longer line that has to grow "
                            "the line buffer past its first size "
                            ".....................\n");
        rc = rt_sse_parser_set_last_id(p, "resume-at-7", 11);
        /* A failed set keeps the ID there was. */
        assert_string_equal(rt_sse_parser_last_id(p, NULL),
                            rc == 0 ? "resume-at-7" : "2");
    }
    rt_sse_parser_free(p);
    th_str_free(&out);
    return rc;
}

static void test_failmalloc_sse_parser(void **state)
{
    (void)state;
    every_failure("sse_parser", run_sse);
}

/* ------------------------------------------------------------------ */
/* msg_codec                                                           */

static int run_msg(void)
{
    static const char in[] =
        "{\"type\":\"system\",\"room\":\"general\",\"id\":\"i-1\",\"seq\":3,"
        "\"timestamp\":1.5,\"data\": "
        "{\"event\":\"welcome\",\"user\":\"alice\","
        "\"epoch\":\"k3f9a\",\"seq\":42,\"online\":[\"alice\",\"bob\"], "
        "\"ping_interval\":25000}}";
    static const char want[] =
        "{\"type\":\"system\",\"id\":\"i-1\",\"room\":\"general\",\"seq\":3,"
        "\"data\":{\"event\":\"welcome\",\"user\":\"alice\",\"epoch\":"
        "\"k3f9a\",\"seq\":42,\"online\":[\"alice\",\"bob\"],"
        "\"ping_interval\":25000},\"timestamp\":1.500}";
    rt_msg *m = POISON, *d = POISON;
    rt_msg_error err;
    char *out = POISON, *out2 = NULL;
    size_t len = 0, len2 = 0;
    int rc;

    rc = rt_msg_parse(&m, in, sizeof(in) - 1, RT_MSG_FROM_SERVER, NULL, &err);
    if (rc != 0) {
        /* rt_msg_parse() documents *out as untouched on failure. */
        assert_ptr_equal(m, POISON);
        /* Out of memory is no protocol error. */
        assert_int_equal(err.code, RT_MSG_CODE_NONE);
        return rc;
    }
    rc = rt_msg_dup(&d, m);
    if (rc == 0) {
        assert_int_equal(d->u.system.welcome.n_online, 2);
        assert_string_equal(d->u.system.welcome.online[1], "bob");
        rc = rt_msg_encode(d, &out, &len);
    }
    if (rc == 0) {
        assert_int_equal(len, strlen(want));
        assert_string_equal(out, want);
        rc = rt_msg_encode_ack("i-1", 9, &out2, &len2);
    }
    if (rc == 0)
        assert_string_equal(out2, "{\"type\":\"ack\",\"id\":\"i-1\",\"data\":"
                                  "{\"status\":\"delivered\",\"seq\":9}}");
    rt_free(out2);
    /* dup and encode do not say what *out is on failure. */
    if (out != POISON)
        rt_free(out);
    if (d != POISON)
        rt_msg_free(d);
    rt_msg_free(m);
    return rc;
}

static void test_failmalloc_msg_codec(void **state)
{
    (void)state;
    every_failure("msg_codec", run_msg);
}

/* ------------------------------------------------------------------ */
/* order                                                               */

static void order_deliver(uint64_t seq, void *msg, void *ud)
{
    uint64_t *last = ud;

    (void)msg;
    *last = seq;
}

static int run_order(void)
{
    rt_order_opts o;
    rt_order *ord = POISON;
    uint64_t last = 0;
    int rc;

    rt_order_opts_init(&o);
    o.window = 8;
    o.max_ahead = 16;
    rc = rt_order_new(&ord, &o, 1, order_deliver, &last);
    if (rc != 0) {
        assert_null(ord);
        return rc;
    }
    /* Pushes allocate nothing: they must work as usual. */
    assert_int_equal(rt_order_push(ord, 2, NULL, 0), 0);
    assert_int_equal(rt_order_push(ord, 1, NULL, 0), 0);
    assert_int_equal(last, 2);
    rt_order_free(ord);
    return 0;
}

static void test_failmalloc_order(void **state)
{
    (void)state;
    every_failure("order", run_order);
}

/* ------------------------------------------------------------------ */
/* ws_proto                                                            */

struct ws_seen {
    int msgs;
    int acks;
};

static void ws_on_message(const rt_msg *m, const char *json, size_t len,
                          void *ud)
{
    struct ws_seen *seen = ud;

    (void)json;
    (void)len;
    seen->msgs += m != NULL && m->has_seq;
}

static void ws_on_ack(const char *id, uint64_t seq, const char *code, void *ud)
{
    struct ws_seen *seen = ud;

    assert_string_equal(id, "a");
    assert_int_equal(seq, 1);
    assert_null(code);
    seen->acks++;
}

/* One frame from the server; |m| stays ours when the push fails. */
static int ws_frame(rt__ws_proto *p, const char *json)
{
    rt_msg *m = NULL;
    rt_msg_error perr;
    int rc =
        rt_msg_parse(&m, json, strlen(json), RT_MSG_FROM_SERVER, NULL, &perr);

    if (rc != 0)
        return rc;
    rc = rt__ws_proto_push(p, m, json, strlen(json), 0);
    if (rc != 0)
        rt_msg_free(m);
    return rc;
}

static int run_ws_proto(void)
{
    static const rt__ws_proto_cbs cbs = {ws_on_message, NULL, NULL, ws_on_ack,
                                         NULL,          NULL, NULL};
    rt__ws_proto_opts o;
    rt__ws_proto *p = POISON;
    struct ws_seen seen = {0, 0};
    int rc;

    memset(&o, 0, sizeof(o));
    o.has_since = 1;
    o.since = 0;
    o.epoch = "E1";
    o.gap_timeout_ms = 2000;
    o.max_queued = 8;
    o.max_queued_bytes = 1024;
    rc = rt__ws_proto_new(&p, &o, &cbs, &seen);
    if (rc != 0) {
        assert_null(p);
        return rc;
    }
    rc = rt__ws_proto_send(p, 0, "m-a", 3, "a");
    if (rc == 0)
        rc = ws_frame(p, "{\"type\":\"system\",\"room\":\"r\",\"data\":"
                         "{\"event\":\"welcome\",\"user\":\"me\","
                         "\"epoch\":\"E1\",\"seq\":1}}");
    /* The replay, held until the resumed frame; then live. */
    if (rc == 0)
        rc = ws_frame(p, "{\"type\":\"text\",\"room\":\"r\",\"id\":\"a\","
                         "\"seq\":1,\"data\":{\"content\":\"c\","
                         "\"author\":\"me\"}}");
    if (rc == 0)
        rc = ws_frame(p, "{\"type\":\"system\",\"room\":\"r\",\"data\":"
                         "{\"event\":\"resumed\",\"from\":1,\"to\":1,"
                         "\"recovered\":true}}");
    if (rc == 0)
        rc = ws_frame(p, "{\"type\":\"text\",\"room\":\"r\",\"seq\":2,"
                         "\"data\":{\"content\":\"c\",\"author\":\"b\"}}");
    if (rc == 0) {
        assert_int_equal(seen.msgs, 2);
        assert_int_equal(seen.acks, 1);
        assert_int_equal(rt__ws_proto_pending(p), 0);
    }
    rt__ws_proto_free(p);
    return rc;
}

static void test_failmalloc_ws_proto(void **state)
{
    (void)state;
    every_failure("ws_proto", run_ws_proto);
}

/* ------------------------------------------------------------------ */
/* hist                                                                */

static int run_hist(void)
{
    rt_hist *a = POISON, *b = NULL, *c = POISON;
    char *s1 = POISON, *s2 = NULL;
    size_t len1 = 0, len2 = 0;
    uint64_t v;
    int rc;

    rc = rt_hist_new_default(&a);
    if (rc != 0) {
        assert_null(a);
        return rc;
    }
    rc = rt_hist_new(&b, 1, 1000000, 2);
    if (rc != 0)
        assert_null(b);
    for (v = 1; rc == 0 && v < 5000000; v = v * 3 + 1)
        rc = rt_hist_record(a, v);
    if (rc == 0)
        rc = rt_hist_record_n(b, 777, 5);
    if (rc == 0) {
        rc = rt_hist_to_json(a, &s1, &len1);
        if (rc != 0)
            assert_null(s1);
    }
    if (rc == 0) {
        rc = rt_hist_from_json(&c, s1, len1, NULL, 0);
        if (rc != 0)
            assert_null(c);
    }
    if (rc == 0) {
        /* A histogram of another configuration does not merge. */
        assert_int_equal(rt_hist_merge(c, b), RT_EINVAL);
        assert_int_equal(rt_hist_merge(c, a), 0);
        assert_int_equal(rt_hist_count(c), 2 * rt_hist_count(a));
        rc = rt_hist_to_json(c, &s2, &len2);
    }
    if (rc == 0)
        assert_true(len2 >= len1);
    rt_free(s2);
    if (s1 != POISON)
        rt_free(s1);
    if (c != POISON)
        rt_hist_free(c);
    rt_hist_free(b);
    rt_hist_free(a);
    return rc;
}

static void test_failmalloc_hist(void **state)
{
    (void)state;
    every_failure("hist", run_hist);
}

/* ------------------------------------------------------------------ */
/* url                                                                 */

static int run_url(void)
{
    char errbuf[128];
    rt_url *p = POISON, *r = POISON, *d = NULL;
    char *s = NULL, *v = NULL;
    size_t vlen = 0;
    int rc;

    rc = rt_url_parse(&p, "https://Example.COM:8443/api/%7euser?a=1&b=%41",
                      errbuf, sizeof(errbuf));
    if (rc != 0) {
        assert_null(p);
        return rc;
    }
    rc = rt_url_resolve(&r, "https://h:1/api?token=t&user=x",
                        "ws/g?user=b&since=3#f", RT_URL_KIND_WS, errbuf,
                        sizeof(errbuf));
    if (rc != 0)
        assert_null(r);
    if (rc == 0)
        rc = rt_url_query_set(r, "epoch", "a b&c");
    if (rc == 0)
        rc = rt_url_query_set(r, "user", "z");
    if (rc == 0)
        rc = rt_url_format(r, &s);
    if (rc == 0) {
        assert_string_equal(s, "wss://h:1/api/ws/g?token=t&user=z&since=3"
                               "&epoch=a%20b%26c");
        rt_free(s);
        s = NULL;
        rc = rt_url_dup(&d, p);
    }
    if (rc == 0)
        rc = rt_url_query_get(d, "b", &v, &vlen);
    if (rc == 0) {
        assert_string_equal(v, "A");
        rc = rt_url_origin(d, &s);
    }
    if (rc == 0)
        assert_string_equal(s, "https://example.com:8443");
    rt_free(s);
    rt_free(v);
    rt_url_free(d);
    if (r != POISON)
        rt_url_free(r);
    rt_url_free(p);
    return rc;
}

static void test_failmalloc_url(void **state)
{
    (void)state;
    every_failure("url", run_url);
}

/* ------------------------------------------------------------------ */
/* jwt                                                                 */

#define SECRET "a-secret-of-some-length"
#define NOW INT64_C(1700000000)

static int run_jwt(void)
{
    static const char *const rooms[] = {"general", "dev", "*"};
    rt_jwt_claims in, *out = POISON;
    char *tok = POISON;
    char errbuf[128];
    int rc;

    memset(&in, 0, sizeof(in));
    in.sub = "alice";
    in.iat = NOW;
    in.exp = NOW + 3600;
    in.has_rooms = 1;
    in.rooms = (char **)rooms;
    in.nrooms = 3;
    rc = rt_jwt_sign(&in, SECRET, strlen(SECRET), &tok);
    if (rc != 0) {
        assert_null(tok);
        return rc;
    }
    rc = rt_jwt_verify(tok, strlen(tok), SECRET, strlen(SECRET), NOW, &out,
                       errbuf, sizeof(errbuf));
    if (rc != 0) {
        assert_null(out);
        assert_string_equal(errbuf, "out of memory");
    } else {
        assert_string_equal(out->sub, "alice");
        assert_int_equal(out->nrooms, 3);
        assert_string_equal(out->rooms[2], "*");
        assert_true(out->exp == NOW + 3600);
        rt_jwt_claims_free(out);
    }
    rt_free(tok);
    return rc;
}

static void test_failmalloc_jwt(void **state)
{
    (void)state;
    every_failure("jwt", run_jwt);
}

/* ------------------------------------------------------------------ */
/* The harness itself                                                  */

static int run_two_requests(void)
{
    char *a = rt__malloc(8), *b;

    if (a == NULL)
        return RT_ENOMEM;
    b = rt__strndup("xy", 2);
    rt__free(a);
    if (b == NULL)
        return RT_ENOMEM;
    rt__free(b);
    return 0;
}

/* The counts every_failure() relies on are right. */
static void test_failmalloc_harness_counts(void **state)
{
    void *p;

    (void)state;
    assert_int_equal(every_failure("two requests", run_two_requests), 2);

    th_alloc_install();
    th_alloc_fail_at(1);
    p = rt__malloc(1);
    assert_non_null(p);
    assert_null(rt__calloc(2, 2));
    assert_int_equal(th_alloc_failed(), 1);
    p = rt__realloc(p, 100);
    assert_non_null(p);
    assert_int_equal(th_alloc_live(), 1);
    assert_true(th_alloc_biggest() >= 100);
    rt__free(p);
    assert_int_equal(th_alloc_live(), 0);
    th_alloc_fail_from(0);
    assert_null(rt__malloc(1));
    assert_null(rt__malloc(1));
    assert_int_equal(th_alloc_failed(), 2);
    th_alloc_uninstall();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failmalloc_harness_counts),
        cmocka_unit_test(test_failmalloc_sse_parser),
        cmocka_unit_test(test_failmalloc_msg_codec),
        cmocka_unit_test(test_failmalloc_order),
        cmocka_unit_test(test_failmalloc_ws_proto),
        cmocka_unit_test(test_failmalloc_hist),
        cmocka_unit_test(test_failmalloc_url),
        cmocka_unit_test(test_failmalloc_jwt),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
