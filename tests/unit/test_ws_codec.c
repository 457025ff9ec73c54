/*
 * test_ws_codec.c: the WebSocket codec (lib/core/ws_codec.c) against RFC
 * 6455: the handshake key and accept of section 1.3, the frame examples
 * of section 5.7, the framing rules of 5.2 to 5.5 and the close codes of
 * 7.4.
 *
 * Streams of frames go through feed_all_splits() with a feeder that does
 * what `rtctl load` does with a read: parse every whole frame where it
 * lies, keep only the unparsed tail for the next read.  Transcript lines:
 *   frame fin=F op=OP len=N data=DATA   one parsed frame
 *   error=NAME close=CODE               the first failing parse
 */
#include "helpers.h"

#include "rt/error.h"
#include "rt/http_resp.h"
#include "rt/ws_codec.h"

/* ------------------------------------------------------------------ */
/* The frame-stream feeder                                             */

typedef struct ws_feed {
    rt_ws_parser p;
    th_str *out;
    uint8_t tail[1 << 16];
    size_t tail_len;
    int failed;
} ws_feed;

static void *ws_open(void *ctx, th_str *out)
{
    ws_feed *w = calloc(1, sizeof(*w));
    int server = ctx != NULL;

    assert_non_null(w);
    rt_ws_parser_init(&w->p, server, 4096);
    w->out = out;
    return w;
}

static int ws_feed_chunk(void *h, const char *buf, size_t len)
{
    ws_feed *w = h;
    size_t off = 0;

    assert_true(w->tail_len + len <= sizeof(w->tail));
    memcpy(w->tail + w->tail_len, buf, len);
    w->tail_len += len;
    for (;;) {
        rt_ws_frame f;
        size_t used;
        int rc =
            rt_ws_parse(&w->p, w->tail + off, w->tail_len - off, &f, &used);
        size_t i;

        if (rc != 0) {
            th_str_printf(w->out, "close=%u\n", f.close_code);
            w->failed = 1;
            return rc;
        }
        if (used == 0)
            break;
        th_str_printf(w->out, "frame fin=%d op=%u len=%llu data=", f.fin,
                      f.opcode, (unsigned long long)f.len);
        for (i = 0; i < f.len; i++)
            th_str_printf(w->out, "%02x", f.payload[i]);
        th_str_puts(w->out, "\n");
        off += used;
    }
    memmove(w->tail, w->tail + off, w->tail_len - off);
    w->tail_len -= off;
    return 0;
}

static void ws_close_feed(void *h, th_str *out)
{
    ws_feed *w = h;

    if (!w->failed)
        th_str_printf(out, "pending=%zu\n", w->tail_len);
    free(w);
}

static const th_feeder client_feeder = {ws_open, ws_feed_chunk, ws_close_feed,
                                        NULL};
static int server_flag;
static const th_feeder server_feeder = {ws_open, ws_feed_chunk, ws_close_feed,
                                        &server_flag};

static void expect_stream(const th_feeder *f, const void *in, size_t len,
                          const char *expect)
{
    char *got = feed_all_splits(f, in, len);

    if (strcmp(got, expect) != 0) {
        print_error("--- expected:\n%s--- got:\n%s", expect, got);
        fail();
    }
    free(got);
}

/* ------------------------------------------------------------------ */
/* Handshake                                                           */

static void test_ws_codec_rfc_1_3_key_and_accept(void **state)
{
    static const uint8_t nonce[16] = "the sample nonce";
    char key[RT_WS_KEY_LEN + 1], acc[RT_WS_ACCEPT_LEN + 1];

    (void)state;
    rt_ws_key_encode(nonce, key);
    assert_string_equal(key, "dGhlIHNhbXBsZSBub25jZQ==");
    assert_int_equal(rt_ws_accept(key, strlen(key), acc), 0);
    assert_string_equal(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_int_equal(rt_ws_accept("", 0, acc), RT_EINVAL);
}

static void test_ws_codec_request_has_required_fields(void **state)
{
    char out[512];
    int n;

    (void)state;
    n = rt_ws_handshake_request(out, sizeof(out), "127.0.0.1:8080",
                                "/ws/a?since=3",
                                "dGhlIHNhbXBsZSBub25jZQ==", "Origin: x\r\n");
    assert_true(n > 0);
    assert_int_equal((size_t)n, strlen(out));
    assert_string_equal(out, "GET /ws/a?since=3 HTTP/1.1\r\n"
                             "Host: 127.0.0.1:8080\r\n"
                             "Upgrade: websocket\r\n"
                             "Connection: Upgrade\r\n"
                             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                             "Sec-WebSocket-Version: 13\r\n"
                             "Origin: x\r\n\r\n");
    assert_int_equal(rt_ws_handshake_request(out, 40, "h", "/", "k", NULL),
                     RT_EFULL);
    assert_int_equal(
        rt_ws_handshake_request(out, sizeof(out), "h", "/a b", "k", NULL),
        RT_EINVAL);
    assert_int_equal(
        rt_ws_handshake_request(out, sizeof(out), "h\r\nX: y", "/", "k", NULL),
        RT_EINVAL);
}

typedef struct head_cap {
    char err[128];
    int rc;
} head_cap;

static int check_head(const rt_http_head *h, void *ud)
{
    head_cap *c = ud;

    c->rc = rt_ws_handshake_check(h, "dGhlIHNhbXBsZSBub25jZQ==", c->err,
                                  sizeof(c->err));
    return 0;
}

static int run_check(const char *resp, head_cap *c, size_t *used)
{
    rt_http_resp_cbs cbs = {check_head, NULL, NULL};
    rt_http_resp *r;
    int rc;

    memset(c, 0, sizeof(*c));
    c->rc = 1;
    assert_int_equal(rt_http_resp_new(&r, 0, &cbs, c), 0);
    rc = rt_http_resp_feed(r, resp, strlen(resp), used);
    assert_int_equal(rc, 0);
    rt_http_resp_free(r);
    return c->rc;
}

static void test_ws_codec_response_check(void **state)
{
    head_cap c;
    size_t used;
    const char *good = "HTTP/1.1 101 Switching Protocols\r\n"
                       "Upgrade: WebSocket\r\n"
                       "Connection: keep-alive, Upgrade\r\n"
                       "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                       "\r\n\x81\x02hi";

    (void)state;
    assert_int_equal(run_check(good, &c, &used), 0);
    /* the frame after the head stays with the caller */
    assert_int_equal(used, strlen(good) - 4);
    assert_int_equal(run_check("HTTP/1.1 403 Forbidden\r\n"
                               "Content-Length: 0\r\n\r\n",
                               &c, &used),
                     RT_EHTTP);
    assert_string_equal(c.err, "HTTP 403 Forbidden on upgrade");
    assert_int_equal(run_check("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\n"
                               "Connection: upgrade\r\n"
                               "Sec-WebSocket-Accept: "
                               "s3pPLMBiTxaQ9kYGzzhZRbK+xOx=\r\n\r\n",
                               &c, &used),
                     RT_EHANDSHAKE);
    assert_string_equal(c.err, "wrong Sec-WebSocket-Accept");
    assert_int_equal(run_check("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\n"
                               "Sec-WebSocket-Accept: "
                               "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
                               &c, &used),
                     RT_EHANDSHAKE);
    assert_int_equal(run_check("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\n"
                               "Connection: upgrade\r\n"
                               "Sec-WebSocket-Extensions: x\r\n"
                               "Sec-WebSocket-Accept: "
                               "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
                               &c, &used),
                     RT_EHANDSHAKE);
}

/* ------------------------------------------------------------------ */
/* RFC 6455 section 5.7 examples                                       */

static void test_ws_codec_rfc_5_7_unmasked_text(void **state)
{
    static const uint8_t in[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};

    (void)state;
    expect_stream(&client_feeder, in, sizeof(in),
                  "frame fin=1 op=1 len=5 data=48656c6c6f\npending=0\n");
}

static void test_ws_codec_rfc_5_7_masked_text(void **state)
{
    static const uint8_t in[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                 0x7f, 0x9f, 0x4d, 0x51, 0x58};
    static const uint8_t hello[] = "Hello";
    rt_ws_frame_spec s;
    uint8_t out[32];

    (void)state;
    expect_stream(&server_feeder, in, sizeof(in),
                  "frame fin=1 op=1 len=5 data=48656c6c6f\npending=0\n");
    rt_ws_frame_spec_init(&s, RT_WS_OP_TEXT);
    memcpy(s.mask, in + 2, 4);
    assert_int_equal(rt_ws_frame_build(out, sizeof(out), &s, hello, 5),
                     sizeof(in));
    assert_memory_equal(out, in, sizeof(in));
}

static void test_ws_codec_rfc_5_7_fragmented_text(void **state)
{
    static const uint8_t in[] = {0x01, 0x03, 0x48, 0x65, 0x6c,
                                 0x80, 0x02, 0x6c, 0x6f};

    (void)state;
    expect_stream(&client_feeder, in, sizeof(in),
                  "frame fin=0 op=1 len=3 data=48656c\n"
                  "frame fin=1 op=0 len=2 data=6c6f\npending=0\n");
}

static void test_ws_codec_rfc_5_7_ping_pong(void **state)
{
    static const uint8_t ping[] = {0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    static const uint8_t pong[] = {0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                   0x7f, 0x9f, 0x4d, 0x51, 0x58};
    static const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
    uint8_t buf[sizeof(ping)], out[32];
    rt_ws_parser p;
    rt_ws_frame f;
    size_t used;

    (void)state;
    expect_stream(&client_feeder, ping, sizeof(ping),
                  "frame fin=1 op=9 len=5 data=48656c6c6f\npending=0\n");
    expect_stream(&server_feeder, pong, sizeof(pong),
                  "frame fin=1 op=10 len=5 data=48656c6c6f\npending=0\n");
    /* the client's answer to that ping is the masked pong of 5.7 */
    memcpy(buf, ping, sizeof(ping));
    rt_ws_parser_init(&p, 0, 100);
    assert_int_equal(rt_ws_parse(&p, buf, sizeof(buf), &f, &used), 0);
    assert_int_equal(rt_ws_control_reply(&f, mask, out, sizeof(out)),
                     sizeof(pong));
    assert_memory_equal(out, pong, sizeof(pong));
}

static void test_ws_codec_rfc_5_7_lengths_16_and_64(void **state)
{
    static uint8_t payload[70000];
    static uint8_t out[70016];
    rt_ws_frame_spec s;
    rt_ws_parser p;
    rt_ws_frame f;
    size_t used;

    (void)state;
    memset(payload, 'x', sizeof(payload));
    rt_ws_frame_spec_init(&s, RT_WS_OP_BINARY);
    s.masked = 0;
    assert_int_equal(rt_ws_frame_build(out, sizeof(out), &s, payload, 256),
                     4 + 256);
    assert_memory_equal(out, "\x82\x7e\x01\x00", 4);
    assert_int_equal(rt_ws_frame_build(out, sizeof(out), &s, payload, 65536),
                     10 + 65536);
    assert_memory_equal(out, "\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10);
    rt_ws_parser_init(&p, 0, 1 << 20);
    assert_int_equal(rt_ws_parse(&p, out, 9, &f, &used), 0);
    assert_int_equal(used, 0);
    assert_int_equal(f.need, 0); /* header not whole yet */
    assert_int_equal(rt_ws_parse(&p, out, 100, &f, &used), 0);
    assert_int_equal(used, 0);
    assert_int_equal(f.need, 10 + 65536);
    assert_int_equal(rt_ws_parse(&p, out, 10 + 65536, &f, &used), 0);
    assert_int_equal(used, 10 + 65536);
    assert_int_equal(f.len, 65536);
}

/* ------------------------------------------------------------------ */
/* Many frames per read, split anywhere                                */

static void test_ws_codec_many_frames_split_everywhere(void **state)
{
    uint8_t in[256];
    size_t n = 0;
    rt_ws_frame_spec s;
    static const char *msgs[] = {"a", "", "{\"seq\":1}", "hello world"};
    size_t i;

    (void)state;
    rt_ws_frame_spec_init(&s, RT_WS_OP_TEXT);
    s.masked = 0;
    for (i = 0; i < 4; i++)
        n += (size_t)rt_ws_frame_build(in + n, sizeof(in) - n, &s, msgs[i],
                                       strlen(msgs[i]));
    rt_ws_frame_spec_init(&s, RT_WS_OP_PING);
    s.masked = 0;
    n += (size_t)rt_ws_frame_build(in + n, sizeof(in) - n, &s, "p", 1);
    /* and half of a fifth text frame */
    rt_ws_frame_spec_init(&s, RT_WS_OP_TEXT);
    s.masked = 0;
    n += (size_t)rt_ws_frame_build(in + n, sizeof(in) - n, &s, "tail", 4) - 2;
    expect_stream(&client_feeder, in, n,
                  "frame fin=1 op=1 len=1 data=61\n"
                  "frame fin=1 op=1 len=0 data=\n"
                  "frame fin=1 op=1 len=9 data=7b22736571223a317d\n"
                  "frame fin=1 op=1 len=11 data=68656c6c6f20776f726c64\n"
                  "frame fin=1 op=9 len=1 data=70\n"
                  "pending=4\n");
}

static void test_ws_codec_masked_split_everywhere(void **state)
{
    uint8_t in[128];
    rt_ws_frame_spec s;
    int64_t n;

    (void)state;
    rt_ws_frame_spec_init(&s, RT_WS_OP_TEXT);
    memcpy(s.mask, "\x01\x02\x03\x04", 4);
    /* 19 bytes: the eight-at-a-time path and a tail */
    n = rt_ws_frame_build(in, sizeof(in), &s, "abcdefghijklmnopqrs", 19);
    assert_int_equal(n, 6 + 19);
    expect_stream(&server_feeder, in, (size_t)n,
                  "frame fin=1 op=1 len=19 "
                  "data=6162636465666768696a6b6c6d6e6f707172"
                  "73\npending=0\n");
}

/* ------------------------------------------------------------------ */
/* Violations                                                          */

static void expect_violation(const uint8_t *in, size_t len, int server,
                             int want, unsigned code)
{
    uint8_t buf[64];
    rt_ws_parser p;
    rt_ws_frame f;
    size_t used;

    memcpy(buf, in, len);
    rt_ws_parser_init(&p, server, 1000);
    assert_int_equal(rt_ws_parse(&p, buf, len, &f, &used), want);
    assert_int_equal(f.close_code, code);
    /* lenient mode checks sizes only: no rule error */
    if (want == RT_EPROTO) {
        memcpy(buf, in, len);
        p.lenient = 1;
        assert_int_not_equal(rt_ws_parse(&p, buf, len, &f, &used), RT_EPROTO);
    }
}

static void test_ws_codec_rejects_what_rfc_forbids(void **state)
{
    (void)state;
    /* RSV1 without an extension */
    expect_violation((const uint8_t *)"\xc1\x00", 2, 0, RT_EPROTO, 1002);
    /* reserved opcode 3 and 0xB */
    expect_violation((const uint8_t *)"\x83\x00", 2, 0, RT_EPROTO, 1002);
    expect_violation((const uint8_t *)"\x8b\x00", 2, 0, RT_EPROTO, 1002);
    /* fragmented ping */
    expect_violation((const uint8_t *)"\x09\x00", 2, 0, RT_EPROTO, 1002);
    /* ping of 126 bytes (length form 16) */
    expect_violation((const uint8_t *)"\x89\x7e\x00\x7e", 4, 0, RT_EPROTO,
                     1002);
    /* masked frame to a client, unmasked to a server */
    expect_violation((const uint8_t *)"\x81\x80\0\0\0\0", 6, 0, RT_EPROTO,
                     1002);
    expect_violation((const uint8_t *)"\x81\x00", 2, 1, RT_EPROTO, 1002);
    /* continuation with nothing to continue */
    expect_violation((const uint8_t *)"\x80\x00", 2, 0, RT_EPROTO, 1002);
    /* non-minimal length */
    expect_violation((const uint8_t *)"\x81\x7e\x00\x05", 4, 0, RT_EPROTO,
                     1002);
    /* close with a one-byte payload */
    expect_violation((const uint8_t *)"\x88\x01\x03", 3, 0, RT_EPROTO, 1002);
    /* length MSB set */
    expect_violation((const uint8_t *)"\x82\x7f\x80\0\0\0\0\0\0\0", 10, 0,
                     RT_EPROTO, 1002);
    /* over max_payload */
    expect_violation((const uint8_t *)"\x82\x7e\x10\x00", 4, 0, RT_ETOOBIG,
                     1009);
}

static void test_ws_codec_text_inside_fragmented_message(void **state)
{
    static const uint8_t in[] = {0x01, 0x01, 'a', 0x81, 0x01, 'b'};

    (void)state;
    expect_stream(&client_feeder, in, sizeof(in),
                  "frame fin=0 op=1 len=1 data=61\nclose=1002\n"
                  "error=PROTO\n");
}

static void test_ws_codec_builds_invalid_frames_on_request(void **state)
{
    rt_ws_frame_spec s;
    uint8_t out[32];

    (void)state;
    rt_ws_frame_spec_init(&s, 0xB);
    s.fin = 0;
    s.rsv = 7;
    s.masked = 0;
    s.len_form = 64;
    assert_int_equal(rt_ws_frame_build(out, sizeof(out), &s, "x", 1), 11);
    assert_memory_equal(out, "\x7b\x7f\0\0\0\0\0\0\0\x01x", 11);
    s.len_form = 16;
    assert_int_equal(rt_ws_frame_build(out, sizeof(out), &s, "x", 1), 5);
    s.len_form = 7;
    s.opcode = 16;
    assert_int_equal(rt_ws_frame_build(out, sizeof(out), &s, "x", 1),
                     RT_EINVAL);
    s.opcode = 1;
    assert_int_equal(rt_ws_frame_build(out, 2, &s, "x", 1), RT_EFULL);
}

static void test_ws_codec_close_payloads(void **state)
{
    uint8_t p[RT_WS_MAX_CONTROL], out[32];
    unsigned code;
    const char *reason;
    size_t rlen, n;
    rt_ws_frame f;

    (void)state;
    n = rt_ws_close_payload(p, 1001, "going away", 10);
    assert_int_equal(n, 12);
    assert_int_equal(rt_ws_close_parse(p, n, &code, &reason, &rlen), 0);
    assert_int_equal(code, 1001);
    assert_int_equal(rlen, 10);
    assert_memory_equal(reason, "going away", 10);
    assert_int_equal(rt_ws_close_parse(p, 0, &code, &reason, &rlen), 0);
    assert_int_equal(code, 1005);
    /* codes that may not be sent, and a reason that is not UTF-8 */
    n = rt_ws_close_payload(p, 1005, NULL, 0);
    assert_int_equal(rt_ws_close_parse(p, n, &code, &reason, &rlen),
                     RT_EPROTO);
    n = rt_ws_close_payload(p, 2999, NULL, 0);
    assert_int_equal(rt_ws_close_parse(p, n, &code, &reason, &rlen),
                     RT_EPROTO);
    n = rt_ws_close_payload(p, 4000, "\xc3\x28", 2);
    assert_int_equal(rt_ws_close_parse(p, n, &code, &reason, &rlen),
                     RT_EPROTO);
    /* a reason is cut at 123 bytes */
    memset(out, 'r', sizeof(out));
    assert_int_equal(rt_ws_close_payload(p, 1000, (const char *)p, 200),
                     RT_WS_MAX_CONTROL);
    /* the reply to a close echoes its code, masked */
    n = rt_ws_close_payload(p, 1013, "slow", 4);
    memset(&f, 0, sizeof(f));
    f.opcode = RT_WS_OP_CLOSE;
    f.fin = 1;
    f.payload = p;
    f.len = n;
    assert_int_equal(
        rt_ws_control_reply(&f, (const uint8_t *)"\0\0\0\0", out, sizeof(out)),
        8);
    assert_memory_equal(out, "\x88\x82\0\0\0\0\x03\xf5", 8);
    f.opcode = RT_WS_OP_TEXT;
    assert_int_equal(
        rt_ws_control_reply(&f, (const uint8_t *)"\0\0\0\0", out, sizeof(out)),
        0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ws_codec_rfc_1_3_key_and_accept),
        cmocka_unit_test(test_ws_codec_request_has_required_fields),
        cmocka_unit_test(test_ws_codec_response_check),
        cmocka_unit_test(test_ws_codec_rfc_5_7_unmasked_text),
        cmocka_unit_test(test_ws_codec_rfc_5_7_masked_text),
        cmocka_unit_test(test_ws_codec_rfc_5_7_fragmented_text),
        cmocka_unit_test(test_ws_codec_rfc_5_7_ping_pong),
        cmocka_unit_test(test_ws_codec_rfc_5_7_lengths_16_and_64),
        cmocka_unit_test(test_ws_codec_many_frames_split_everywhere),
        cmocka_unit_test(test_ws_codec_masked_split_everywhere),
        cmocka_unit_test(test_ws_codec_rejects_what_rfc_forbids),
        cmocka_unit_test(test_ws_codec_text_inside_fragmented_message),
        cmocka_unit_test(test_ws_codec_builds_invalid_frames_on_request),
        cmocka_unit_test(test_ws_codec_close_payloads),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
