/*
 * test_msg_codec.c: the JSON message codec (PROTOCOL.md sections 3 to 5):
 * every client row and server message, every error mapping, the limits at
 * and one past their bounds, hostile input, round trips, allocation
 * failure, and the golden files in tests/data/msg/.
 *
 * Golden files are named EXPECT-DIR-NAME.json: EXPECT is ok, bad_json,
 * bad_message or too_large; DIR is client, server or any (both).
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helpers.h"
#include "msg_eq.h"

#include "core_int.h"
#include "rt/msg.h"

#define C RT_MSG_FROM_CLIENT
#define S RT_MSG_FROM_SERVER

/* Envelopes valid from a client (PRE_) and from a server (SYS_). */
#define PRE_ "{\"type\":\"presence\","
#define SYS_ "{\"type\":\"system\",\"data\":{\"event\":\"x\"},"

/* ------------------------------------------------------------------ */
/* Helpers */

static rt_msg *parse_len(const char *json, size_t len, rt_msg_dir dir,
                         const rt_msg_limits *lim)
{
    rt_msg *m = NULL;
    rt_msg_error err;
    int rc = rt_msg_parse(&m, json, len, dir, lim, &err);

    if (rc != 0)
        fail_msg("parse failed (%d, %s: %s) on: %.200s", rc,
                 rt_msg_code_name(err.code), err.message, json);
    assert_non_null(m);
    assert_non_null(m->data);
    assert_int_equal(strlen(m->data), m->data_len);
    return m;
}

static rt_msg *parse(const char *json, rt_msg_dir dir)
{
    return parse_len(json, strlen(json), dir, NULL);
}

static void expect_fail_len(const char *json, size_t len, rt_msg_dir dir,
                            const rt_msg_limits *lim, int want_rc,
                            rt_msg_code want_code)
{
    rt_msg *m = NULL;
    rt_msg_error err;
    int rc = rt_msg_parse(&m, json, len, dir, lim, &err);

    if (rc != want_rc || err.code != want_code)
        fail_msg("want %d/%s, got %d/%s (%s) on: %.200s", want_rc,
                 rt_msg_code_name(want_code), rc, rt_msg_code_name(err.code),
                 err.message, json);
    assert_null(m);
    assert_true(err.message[0] != '\0');
}

static void bad_json(const char *json, rt_msg_dir dir)
{
    expect_fail_len(json, strlen(json), dir, NULL, RT_EPROTO,
                    RT_MSG_CODE_BAD_JSON);
}

static void bad_msg(const char *json, rt_msg_dir dir)
{
    expect_fail_len(json, strlen(json), dir, NULL, RT_EPROTO,
                    RT_MSG_CODE_BAD_MESSAGE);
}

static char *encode(const rt_msg *m)
{
    char *out = NULL;
    size_t len = 0;

    assert_int_equal(rt_msg_encode(m, &out, &len), 0);
    assert_non_null(out);
    assert_int_equal(strlen(out), len);
    return out;
}

static void assert_encodes_to(const rt_msg *m, const char *want)
{
    char *out = encode(m);

    assert_string_equal(out, want);
    rt_free(out);
}

/* Equal envelopes and typed views (data compared only when both have it). */
static void assert_msg_equal(const rt_msg *a, const rt_msg *b)
{
    const char *field = msg_diff(a, b, a->data != NULL && b->data != NULL);

    if (field != NULL)
        fail_msg("messages differ in %s", field);
}

/*
 * parse -> encode -> parse -> encode: both parses agree and the second
 * encoding equals the first.
 */
static void assert_round_trip(const char *json, rt_msg_dir dir)
{
    rt_msg *a = parse(json, dir), *b;
    char *ea = encode(a), *eb;

    b = parse(ea, dir);
    eb = encode(b);
    assert_msg_equal(a, b);
    assert_string_equal(ea, eb);
    rt_free(ea);
    rt_free(eb);
    rt_msg_free(a);
    rt_msg_free(b);
}

/* Encode a caller-built message, parse it back, compare. */
static void assert_view_round_trip(const rt_msg *m, rt_msg_dir dir,
                                   const char *want)
{
    char *out = encode(m);
    rt_msg *back;

    assert_string_equal(out, want);
    back = parse(out, dir);
    assert_msg_equal(m, back);
    rt_free(out);
    rt_msg_free(back);
}

static char *repeat(const char *prefix, char c, size_t n, const char *suffix)
{
    size_t lp = strlen(prefix), ls = strlen(suffix);
    char *s = malloc(lp + n + ls + 1);

    assert_non_null(s);
    memcpy(s, prefix, lp);
    memset(s + lp, c, n);
    memcpy(s + lp + n, suffix, ls + 1);
    return s;
}

/* ------------------------------------------------------------------ */
/* Client to server (section 3, first table) */

static void test_msg_codec_client_text(void **state)
{
    rt_msg *m;

    (void)state;
    m = parse("{\"type\":\"text\",\"id\":\"m1\",\"data\":{\"content\":"
              "\"Hello\",\"author\":\"alice\",\"n\":[1,2.5,{}]}}",
              C);
    assert_int_equal(m->type, RT_MSG_TEXT);
    assert_string_equal(m->id, "m1");
    assert_null(m->room);
    assert_false(m->has_seq);
    assert_false(m->has_timestamp);
    assert_string_equal(m->u.text.content, "Hello");
    /* Other members of data are kept, in compact form. */
    assert_string_equal(
        m->data,
        "{\"content\":\"Hello\",\"author\":\"alice\",\"n\":[1,2.5,{}]}");
    rt_msg_free(m);

    /* No id, empty content, whitespace everywhere. */
    m = parse(" \r\n\t{ \"data\" : { \"content\" : \"\" } , \"type\" : "
              "\"text\" } \n",
              C);
    assert_null(m->id);
    assert_string_equal(m->u.text.content, "");
    assert_string_equal(m->data, "{\"content\":\"\"}");
    rt_msg_free(m);
}

static void test_msg_codec_client_text_needs_string_content(void **state)
{
    (void)state;
    bad_msg("{\"type\":\"text\"}", C);
    bad_msg("{\"type\":\"text\",\"data\":{}}", C);
    bad_msg("{\"type\":\"text\",\"data\":{\"content\":1}}", C);
    bad_msg("{\"type\":\"text\",\"data\":{\"content\":null}}", C);
    bad_msg("{\"type\":\"text\",\"data\":{\"content\":[\"a\"]}}", C);
    bad_msg("{\"type\":\"text\",\"data\":{\"Content\":\"a\"}}", C);
    bad_msg("{\"type\":\"text\",\"data\":\"hello\"}", C);
    bad_msg("{\"type\":\"text\",\"data\":[{\"content\":\"a\"}]}", C);
    bad_msg("{\"type\":\"text\",\"data\":null}", C);
}

static void test_msg_codec_client_typing(void **state)
{
    rt_msg *m;

    (void)state;
    m = parse("{\"type\":\"typing\",\"data\":{\"state\":true}}", C);
    assert_int_equal(m->type, RT_MSG_TYPING);
    assert_int_equal(m->u.typing.state, 1);
    assert_null(m->u.typing.user);
    rt_msg_free(m);
    m = parse("{\"type\":\"typing\",\"data\":{\"state\":false}}", C);
    assert_int_equal(m->u.typing.state, 0);
    rt_msg_free(m);
    bad_msg("{\"type\":\"typing\"}", C);
    bad_msg("{\"type\":\"typing\",\"data\":{}}", C);
    bad_msg("{\"type\":\"typing\",\"data\":{\"state\":1}}", C);
    bad_msg("{\"type\":\"typing\",\"data\":{\"state\":\"true\"}}", C);
    bad_msg("{\"type\":\"typing\",\"data\":{\"state\":null}}", C);
}

static void test_msg_codec_client_presence(void **state)
{
    rt_msg *m;

    (void)state;
    m = parse("{\"type\":\"presence\",\"data\":{}}", C);
    assert_int_equal(m->type, RT_MSG_PRESENCE);
    assert_int_equal(m->u.presence.event, RT_MSG_PRESENCE_REQUEST);
    assert_string_equal(m->data, "{}");
    rt_msg_free(m);
    /* Absent data reads as {}: the request carries nothing. */
    m = parse("{\"type\":\"presence\"}", C);
    assert_string_equal(m->data, "{}");
    assert_int_equal(m->data_len, 2);
    rt_msg_free(m);
    /* A client cannot announce presence events; its data is not read. */
    m = parse("{\"type\":\"presence\",\"data\":{\"event\":\"join\"}}", C);
    assert_int_equal(m->u.presence.event, RT_MSG_PRESENCE_REQUEST);
    rt_msg_free(m);
}

static void test_msg_codec_client_type_rules(void **state)
{
    (void)state;
    bad_msg("{\"type\":\"system\",\"data\":{\"event\":\"x\"}}", C);
    bad_msg("{\"type\":\"error\",\"data\":{\"code\":\"bad_json\"}}", C);
    bad_msg("{\"type\":\"ack\",\"data\":{\"status\":\"delivered\"}}", C);
    bad_msg("{\"type\":\"chat\",\"data\":{\"content\":\"a\"}}", C);
    bad_msg("{\"type\":\"TEXT\",\"data\":{\"content\":\"a\"}}", C);
    bad_msg("{\"type\":\"\",\"data\":{\"content\":\"a\"}}", C);
    bad_msg("{\"type\":1,\"data\":{\"content\":\"a\"}}", C);
    bad_msg("{\"type\":null}", C);
    bad_msg("{\"data\":{\"content\":\"a\"}}", C);
    bad_msg("{}", C);
    bad_msg("{\"type\":\"nope\"}", S);
}

static void test_msg_codec_id_length_bound(void **state)
{
    rt_msg_limits lim;
    char *s;

    (void)state;
    s = repeat("{\"type\":\"presence\",\"id\":\"", 'x', 128, "\"}");
    rt_msg_free(parse(s, C));
    free(s);
    s = repeat("{\"type\":\"presence\",\"id\":\"", 'x', 129, "\"}");
    bad_msg(s, C);
    free(s);

    rt_msg_limits_init(&lim);
    lim.max_id_bytes = 4;
    rt_msg_free(
        parse_len("{\"type\":\"presence\",\"id\":\"abcd\"}", 31, C, &lim));
    expect_fail_len("{\"type\":\"presence\",\"id\":\"abcde\"}", 32, C, &lim,
                    RT_EPROTO, RT_MSG_CODE_BAD_MESSAGE);
    /* Bytes, not characters: e-acute is two. */
    expect_fail_len("{\"type\":\"presence\",\"id\":\"abc\xc3\xa9\"}", 32, C,
                    &lim, RT_EPROTO, RT_MSG_CODE_BAD_MESSAGE);

    bad_msg("{\"type\":\"presence\",\"id\":7}", C);
    bad_msg("{\"type\":\"presence\",\"id\":null}", C);
    /* An empty id is still an id. */
    rt_msg_free(parse("{\"type\":\"presence\",\"id\":\"\"}", C));
}

static void test_msg_codec_room_names(void **state)
{
    rt_msg *m;
    char *s;

    (void)state;
    m = parse(PRE_ "\"room\":\"Gen-eral_1.x\"}", C);
    assert_string_equal(m->room, "Gen-eral_1.x");
    rt_msg_free(m);
    s = repeat(SYS_ "\"room\":\"", 'r', 64, "\"}");
    rt_msg_free(parse(s, S));
    free(s);
    s = repeat(SYS_ "\"room\":\"", 'r', 65, "\"}");
    bad_msg(s, S);
    free(s);
    bad_msg(PRE_ "\"room\":\"\"}", C);
    bad_msg(PRE_ "\"room\":\"a b\"}", C);
    bad_msg(PRE_ "\"room\":\"a/b\"}", C);
    bad_msg(PRE_ "\"room\":\"caf\xc3\xa9\"}", C);
    bad_msg(PRE_ "\"room\":5}", C);
}

/* ------------------------------------------------------------------ */
/* seq and timestamp */

static void test_msg_codec_seq_bounds(void **state)
{
    rt_msg *m;

    (void)state;
    m = parse(SYS_ "\"seq\":0}", S);
    assert_true(m->has_seq);
    assert_true(m->seq == 0);
    rt_msg_free(m);
    m = parse(SYS_ "\"seq\":9007199254740991}", S);
    assert_true(m->seq == UINT64_C(9007199254740991));
    rt_msg_free(m);
    /* Integral spellings are integers. */
    m = parse(SYS_ "\"seq\":1e3}", S);
    assert_true(m->seq == 1000);
    rt_msg_free(m);
    m = parse(SYS_ "\"seq\":42.0}", S);
    assert_true(m->seq == 42);
    rt_msg_free(m);

    /* 2^53 and up cannot be told apart from their neighbours. */
    bad_msg(SYS_ "\"seq\":9007199254740992}", S);
    bad_msg(SYS_ "\"seq\":9007199254740993}", S);
    bad_msg(SYS_ "\"seq\":18446744073709551615}", S);
    bad_msg(SYS_ "\"seq\":18446744073709551616}", S);
    bad_msg(SYS_ "\"seq\":1e300}", S);
    bad_msg(SYS_ "\"seq\":1e999}", S);
    bad_msg(SYS_ "\"seq\":-1}", S);
    bad_msg(SYS_ "\"seq\":1.5}", S);
    bad_msg(SYS_ "\"seq\":0.1}", S);
    bad_msg(SYS_ "\"seq\":\"1\"}", S);
    bad_msg(SYS_ "\"seq\":null}", S);
    bad_msg(PRE_ "\"seq\":true}", C);
    bad_msg(PRE_ "\"seq\":-1}", C);
}

static void test_msg_codec_timestamp(void **state)
{
    rt_msg *m;

    (void)state;
    m = parse(SYS_ "\"timestamp\":1711000000.123}", S);
    assert_true(m->has_timestamp);
    assert_true(ms_of(m->timestamp) == UINT64_C(1711000000123));
    rt_msg_free(m);
    rt_msg_free(parse(SYS_ "\"timestamp\":0}", S));
    rt_msg_free(parse(SYS_ "\"timestamp\":99999999999.999}", S));
    bad_msg(SYS_ "\"timestamp\":99999999999.9996}", S);
    bad_msg(SYS_ "\"timestamp\":1e11}", S);
    bad_msg(SYS_ "\"timestamp\":-0.001}", S);
    bad_msg(SYS_ "\"timestamp\":\"now\"}", S);
    bad_msg(SYS_ "\"timestamp\":null}", S);
}

/* ------------------------------------------------------------------ */
/* Server to client (section 3, second list; section 4; section 5) */

static void test_msg_codec_server_text_broadcast(void **state)
{
    rt_msg *m;

    (void)state;
    m = parse("{\"type\":\"text\",\"id\":\"m1\",\"room\":\"general\","
              "\"seq\":42,\"data\":{\"content\":\"Hello\",\"author\":"
              "\"alice\"},\"timestamp\":1711000000.123}",
              S);
    assert_int_equal(m->type, RT_MSG_TEXT);
    assert_string_equal(m->id, "m1");
    assert_string_equal(m->room, "general");
    assert_true(m->has_seq && m->seq == 42);
    assert_true(m->has_timestamp);
    assert_string_equal(m->u.text.content, "Hello");
    rt_msg_free(m);
    bad_msg("{\"type\":\"text\",\"room\":\"general\",\"seq\":42}", S);
}

static void test_msg_codec_server_ack(void **state)
{
    rt_msg *m;

    (void)state;
    m = parse("{\"type\":\"ack\",\"id\":\"m1\",\"data\":{\"status\":"
              "\"delivered\",\"seq\":7}}",
              S);
    assert_int_equal(m->type, RT_MSG_ACK);
    assert_string_equal(m->id, "m1");
    assert_string_equal(m->u.ack.status, "delivered");
    assert_true(m->u.ack.has_seq && m->u.ack.seq == 7);
    rt_msg_free(m);
    m = parse("{\"type\":\"ack\",\"data\":{\"status\":\"queued\"}}", S);
    assert_false(m->u.ack.has_seq);
    rt_msg_free(m);
    bad_msg("{\"type\":\"ack\",\"data\":{\"seq\":7}}", S);
    bad_msg("{\"type\":\"ack\",\"data\":{\"status\":1}}", S);
    bad_msg("{\"type\":\"ack\",\"data\":{\"status\":\"delivered\","
            "\"seq\":-7}}",
            S);
}

static void test_msg_codec_server_typing(void **state)
{
    rt_msg *m;

    (void)state;
    m = parse("{\"type\":\"typing\",\"room\":\"r\",\"data\":{\"user\":"
              "\"bob\",\"state\":true}}",
              S);
    assert_string_equal(m->u.typing.user, "bob");
    assert_int_equal(m->u.typing.state, 1);
    rt_msg_free(m);
    bad_msg("{\"type\":\"typing\",\"data\":{\"user\":\"b b\",\"state\":true}}",
            S);
    bad_msg("{\"type\":\"typing\",\"data\":{\"user\":1,\"state\":true}}", S);
    bad_msg("{\"type\":\"typing\",\"data\":{\"user\":1,\"state\":true}}", C);
}

static void test_msg_codec_server_presence(void **state)
{
    rt_msg *m;

    (void)state;
    m = parse("{\"type\":\"presence\",\"room\":\"r\",\"data\":{\"event\":"
              "\"join\",\"user\":\"alice\"}}",
              S);
    assert_int_equal(m->u.presence.event, RT_MSG_PRESENCE_JOIN);
    assert_string_equal(m->u.presence.user, "alice");
    assert_null(m->u.presence.reason);
    rt_msg_free(m);

    m = parse("{\"type\":\"presence\",\"room\":\"r\",\"data\":{\"event\":"
              "\"leave\",\"user\":\"alice\",\"reason\":\"timeout\"}}",
              S);
    assert_int_equal(m->u.presence.event, RT_MSG_PRESENCE_LEAVE);
    assert_string_equal(m->u.presence.reason, "timeout");
    rt_msg_free(m);

    m = parse("{\"type\":\"presence\",\"room\":\"r\",\"data\":{\"event\":"
              "\"snapshot\",\"online\":[\"alice\",\"bob\",\"anon-3f9a1c\"]}}",
              S);
    assert_int_equal(m->u.presence.event, RT_MSG_PRESENCE_SNAPSHOT);
    assert_int_equal(m->u.presence.n_online, 3);
    assert_string_equal(m->u.presence.online[0], "alice");
    assert_string_equal(m->u.presence.online[2], "anon-3f9a1c");
    rt_msg_free(m);

    m = parse("{\"type\":\"presence\",\"data\":{\"event\":\"snapshot\","
              "\"online\":[]}}",
              S);
    assert_int_equal(m->u.presence.n_online, 0);
    rt_msg_free(m);

    bad_msg("{\"type\":\"presence\",\"data\":{}}", S);
    bad_msg("{\"type\":\"presence\",\"data\":{\"event\":\"wave\"}}", S);
    bad_msg("{\"type\":\"presence\",\"data\":{\"event\":\"join\"}}", S);
    bad_msg("{\"type\":\"presence\",\"data\":{\"event\":\"leave\","
            "\"user\":\"a\",\"reason\":3}}",
            S);
    bad_msg("{\"type\":\"presence\",\"data\":{\"event\":\"snapshot\"}}", S);
    bad_msg("{\"type\":\"presence\",\"data\":{\"event\":\"snapshot\","
            "\"online\":\"alice\"}}",
            S);
    bad_msg("{\"type\":\"presence\",\"data\":{\"event\":\"snapshot\","
            "\"online\":[\"alice\",7]}}",
            S);
    bad_msg("{\"type\":\"presence\",\"data\":{\"event\":\"snapshot\","
            "\"online\":[\"\"]}}",
            S);
}

static void test_msg_codec_server_welcome(void **state)
{
    rt_msg *m;

    (void)state;
    m = parse("{\"type\":\"system\",\"room\":\"general\",\"data\":{\"event\":"
              "\"welcome\",\"user\":\"alice\",\"epoch\":\"k3f9a\",\"seq\":42,"
              "\"online\":[\"alice\",\"bob\"],\"ping_interval\":30}}",
              S);
    assert_int_equal(m->type, RT_MSG_SYSTEM);
    assert_int_equal(m->u.system.event, RT_MSG_SYSTEM_WELCOME);
    assert_string_equal(m->u.system.welcome.user, "alice");
    assert_string_equal(m->u.system.welcome.epoch, "k3f9a");
    assert_true(m->u.system.welcome.seq == 42);
    assert_int_equal(m->u.system.welcome.n_online, 2);
    assert_string_equal(m->u.system.welcome.online[1], "bob");
    assert_int_equal(m->u.system.welcome.ping_interval, 30);
    rt_msg_free(m);

    /* An empty room: seq 0, nobody else, no ping interval given. */
    m = parse("{\"type\":\"system\",\"data\":{\"event\":\"welcome\",\"user\":"
              "\"a\",\"epoch\":\"E\",\"seq\":0}}",
              S);
    assert_int_equal(m->u.system.welcome.n_online, 0);
    assert_null(m->u.system.welcome.online);
    assert_int_equal(m->u.system.welcome.ping_interval, 0);
    rt_msg_free(m);

#define W_(rest) \
    "{\"type\":\"system\",\"data\":{\"event\":\"welcome\"," rest "}}"
    bad_msg(W_("\"epoch\":\"E\",\"seq\":0"), S);
    bad_msg(W_("\"user\":\"a\",\"seq\":0"), S);
    bad_msg(W_("\"user\":\"a\",\"epoch\":\"E\""), S);
    bad_msg(W_("\"user\":\"a\",\"epoch\":\"E-1\",\"seq\":0"), S);
    bad_msg(W_("\"user\":\"a\",\"epoch\":\"\",\"seq\":0"), S);
    bad_msg(W_("\"user\":\"a\",\"epoch\":\"E\",\"seq\":-1"), S);
    bad_msg(
        W_("\"user\":\"a\",\"epoch\":\"E\",\"seq\":0,\"ping_interval\":-1"),
        S);
    bad_msg(W_("\"user\":\"a\",\"epoch\":\"E\",\"seq\":0,\"ping_interval\":"
               "1.5"),
            S);
    bad_msg(W_("\"user\":\"a\",\"epoch\":\"E\",\"seq\":0,\"online\":{}"), S);
    /* Epoch: 32 characters fit, 33 do not. */
    rt_msg_free(parse(W_("\"user\":\"a\",\"epoch\":"
                         "\"0123456789abcdef0123456789ABCDEF\",\"seq\":0"),
                      S));
    bad_msg(W_("\"user\":\"a\",\"epoch\":"
               "\"0123456789abcdef0123456789ABCDEFG\",\"seq\":0"),
            S);
#undef W_
}

static void test_msg_codec_server_resumed(void **state)
{
    rt_msg *m;

    (void)state;
    m = parse("{\"type\":\"system\",\"data\":{\"event\":\"resumed\",\"from\":"
              "43,\"to\":50,\"recovered\":true}}",
              S);
    assert_int_equal(m->u.system.event, RT_MSG_SYSTEM_RESUMED);
    assert_true(m->u.system.resumed.from == 43);
    assert_true(m->u.system.resumed.to == 50);
    assert_int_equal(m->u.system.resumed.recovered, 1);
    rt_msg_free(m);
    m = parse("{\"type\":\"system\",\"data\":{\"event\":\"resumed\",\"from\":"
              "1,\"to\":0,\"recovered\":false}}",
              S);
    assert_int_equal(m->u.system.resumed.recovered, 0);
    rt_msg_free(m);
    bad_msg("{\"type\":\"system\",\"data\":{\"event\":\"resumed\",\"from\":1,"
            "\"to\":2}}",
            S);
    bad_msg("{\"type\":\"system\",\"data\":{\"event\":\"resumed\",\"from\":1,"
            "\"to\":2,\"recovered\":\"yes\"}}",
            S);
    bad_msg("{\"type\":\"system\",\"data\":{\"event\":\"resumed\",\"to\":2,"
            "\"recovered\":true}}",
            S);
}

static void test_msg_codec_server_system_other(void **state)
{
    rt_msg *m;

    (void)state;
    m = parse("{\"type\":\"system\",\"seq\":9,\"data\":{\"event\":\"topic\","
              "\"topic\":\"hi\"}}",
              S);
    assert_int_equal(m->u.system.event, RT_MSG_SYSTEM_OTHER);
    assert_string_equal(m->data, "{\"event\":\"topic\",\"topic\":\"hi\"}");
    rt_msg_free(m);
    bad_msg("{\"type\":\"system\",\"data\":{}}", S);
    bad_msg("{\"type\":\"system\"}", S);
    bad_msg("{\"type\":\"system\",\"data\":{\"event\":1}}", S);
}

static void test_msg_codec_server_error_frames(void **state)
{
    rt_msg_code c;
    char buf[200];
    rt_msg *m;

    (void)state;
    for (c = RT_MSG_CODE_BAD_JSON; c < RT_MSG_CODE_COUNT_; c++) {
        snprintf(buf, sizeof(buf),
                 "{\"type\":\"error\",\"id\":\"m1\",\"data\":{\"code\":"
                 "\"%s\",\"message\":\"why\"}}",
                 rt_msg_code_name(c));
        m = parse(buf, S);
        assert_int_equal(m->type, RT_MSG_ERROR);
        assert_int_equal(m->u.error.code, c);
        assert_string_equal(m->u.error.message, "why");
        assert_string_equal(m->id, "m1");
        rt_msg_free(m);
    }
    /* A code from a newer server is kept in data, read as NONE. */
    m = parse("{\"type\":\"error\",\"data\":{\"code\":\"teapot\"}}", S);
    assert_int_equal(m->u.error.code, RT_MSG_CODE_NONE);
    assert_null(m->u.error.message);
    rt_msg_free(m);
    bad_msg("{\"type\":\"error\",\"data\":{\"message\":\"m\"}}", S);
    bad_msg("{\"type\":\"error\",\"data\":{\"code\":1}}", S);
    bad_msg("{\"type\":\"error\",\"data\":{\"code\":\"x\",\"message\":2}}", S);
}

/* ------------------------------------------------------------------ */
/* Size and depth limits */

/* A valid client text frame of exactly |total| bytes. */
static char *frame_of(size_t total)
{
    static const char pre[] = "{\"type\":\"text\",\"data\":{\"content\":\"";
    static const char post[] = "\"}}";
    size_t fixed = sizeof(pre) - 1 + sizeof(post) - 1;

    assert_true(total >= fixed);
    return repeat(pre, 'a', total - fixed, post);
}

static void test_msg_codec_too_large_at_and_past_bound(void **state)
{
    rt_msg_limits lim;
    char *s;

    (void)state;
    s = frame_of(65536);
    rt_msg_free(parse_len(s, 65536, C, NULL));
    free(s);
    s = frame_of(65537);
    expect_fail_len(s, 65537, C, NULL, RT_ETOOBIG, RT_MSG_CODE_TOO_LARGE);
    /* Size is checked first: even garbage is too_large, not bad_json. */
    expect_fail_len(s + 1, 65536, S, NULL, RT_EPROTO, RT_MSG_CODE_BAD_JSON);
    expect_fail_len(s + 1, 65537, S, NULL, RT_ETOOBIG, RT_MSG_CODE_TOO_LARGE);
    free(s);

    rt_msg_limits_init(&lim);
    lim.max_bytes = 100;
    s = frame_of(100);
    rt_msg_free(parse_len(s, 100, C, &lim));
    free(s);
    s = frame_of(101);
    expect_fail_len(s, 101, C, &lim, RT_ETOOBIG, RT_MSG_CODE_TOO_LARGE);
    free(s);
}

/* {"type":"presence","data":{"x":[[...]]}} nested |depth| deep in all. */
static char *nested(unsigned depth)
{
    static const char pre[] = "{\"type\":\"presence\",\"data\":{\"x\":";
    size_t n = depth - 2, lp = sizeof(pre) - 1;
    char *s = malloc(lp + 2 * n + 3);

    assert_non_null(s);
    memcpy(s, pre, lp);
    memset(s + lp, '[', n);
    memset(s + lp + n, ']', n);
    memcpy(s + lp + 2 * n, "}}", 3);
    return s;
}

static void test_msg_codec_depth_at_and_past_bound(void **state)
{
    rt_msg_limits lim;
    rt_msg *m;
    char *s;

    (void)state;
    s = nested(32);
    m = parse(s, C);
    assert_int_equal(m->data_len, 6 + 2 * 30);
    rt_msg_free(m);
    free(s);
    s = nested(33);
    bad_json(s, C);
    free(s);

    /* The cap is cJSON's own limit, whatever is asked for. */
    rt_msg_limits_init(&lim);
    lim.max_depth = 5000;
    s = nested(1000);
    rt_msg_free(parse_len(s, strlen(s), C, &lim));
    free(s);
    s = nested(1001);
    expect_fail_len(s, strlen(s), C, &lim, RT_EPROTO, RT_MSG_CODE_BAD_JSON);
    free(s);

    lim.max_depth = 1;
    rt_msg_free(parse_len("{\"type\":\"presence\"}", 19, C, &lim));
    expect_fail_len("{\"type\":\"presence\",\"data\":{}}", 29, C, &lim,
                    RT_EPROTO, RT_MSG_CODE_BAD_JSON);
}

/* 100000 brackets are refused by the scan before anything recurses. */
static void test_msg_codec_deep_nesting_is_cheap(void **state)
{
    rt_msg_limits lim;
    char *s;
    int i;

    (void)state;
    rt_msg_limits_init(&lim);
    lim.max_bytes = 1 << 20;
    for (i = 0; i < 50; i++) {
        s = repeat("", '[', 100000, "");
        expect_fail_len(s, 100000, S, &lim, RT_EPROTO, RT_MSG_CODE_BAD_JSON);
        free(s);
        s = repeat("{\"a\":", '[', 100000, "");
        expect_fail_len(s, strlen(s), S, &lim, RT_EPROTO,
                        RT_MSG_CODE_BAD_JSON);
        free(s);
        s = repeat("{\"a\":", '{', 100000, "");
        expect_fail_len(s, strlen(s), S, &lim, RT_EPROTO,
                        RT_MSG_CODE_BAD_JSON);
        free(s);
    }
    /* Brackets inside a string are not nesting. */
    s = repeat("{\"type\":\"text\",\"data\":{\"content\":\"", '[', 60000,
               "\"}}");
    rt_msg_free(parse_len(s, strlen(s), C, &lim));
    free(s);
}

/* ------------------------------------------------------------------ */
/* Hostile and malformed input */

static void test_msg_codec_nul_escape_rejected(void **state)
{
    rt_msg *m;

    (void)state;
    bad_msg("{\"type\":\"te\\u0000xt\",\"data\":{\"content\":\"a\"}}", C);
    bad_msg("{\"type\":\"text\\u0000\",\"data\":{\"content\":\"a\"}}", C);
    bad_msg("{\"type\":\"presence\",\"id\":\"a\\u0000b\"}", C);
    bad_msg("{\"type\":\"presence\",\"room\":\"general\\u0000x\"}", S);
    bad_msg("{\"type\":\"text\",\"data\":{\"content\":\"a\\u0000b\"}}", C);
    bad_msg(
        "{\"type\":\"text\",\"data\":{\"content\":\"a\",\"x\":[\"\\u0000\"]"
        "}}",
        C);
    bad_msg("{\"ty\\u0000pe\":\"text\",\"type\":\"presence\"}", C);
    /* An escaped backslash followed by u0000 is just text. */
    m = parse("{\"type\":\"text\",\"data\":{\"content\":\"\\\\u0000\"}}", C);
    assert_string_equal(m->u.text.content, "\\u0000");
    rt_msg_free(m);
    /* Other escapes decode. */
    m = parse("{\"type\":\"text\",\"data\":{\"content\":"
              "\"\\u00e9\\ud83d\\ude00\\n\\\"\\/\\u0001\"}}",
              C);
    assert_string_equal(m->u.text.content,
                        "\xc3\xa9\xf0\x9f\x98\x80\n\"/\x01");
    rt_msg_free(m);
}

/* A raw NUL byte inside a string is a control character: bad_json. */
static void test_msg_codec_raw_nul_byte(void **state)
{
    static const char in[] = "{\"type\":\"presence\",\"id\":\"a\0b\"}";

    (void)state;
    expect_fail_len(in, sizeof(in) - 1, C, NULL, RT_EPROTO,
                    RT_MSG_CODE_BAD_JSON);
    /* And after the object, trailing garbage. */
    expect_fail_len("{\"type\":\"presence\"}\0", 20, C, NULL, RT_EPROTO,
                    RT_MSG_CODE_BAD_JSON);
}

/*
 * Members the codec reads must be unique, or the server and a client (or
 * two parsers) could act on different copies; others pass through.
 */
static void test_msg_codec_duplicate_keys(void **state)
{
    rt_msg *m;

    (void)state;
    bad_msg("{\"type\":\"text\",\"type\":\"typing\",\"data\":{\"content\":"
            "\"a\",\"state\":true}}",
            C);
    bad_msg("{\"type\":\"text\",\"data\":{\"content\":\"a\"},\"data\":{}}", C);
    bad_msg("{\"type\":\"text\",\"data\":{\"content\":\"a\",\"content\":"
            "\"b\"}}",
            C);
    bad_msg("{\"type\":\"presence\",\"id\":\"a\",\"id\":\"a\"}", C);
    bad_msg("{\"type\":\"presence\",\"room\":\"a\",\"room\":\"b\"}", S);
    bad_msg("{\"type\":\"presence\",\"seq\":1,\"seq\":2}", S);
    bad_msg("{\"type\":\"presence\",\"timestamp\":1,\"timestamp\":1}", S);
    bad_msg("{\"type\":\"system\",\"data\":{\"event\":\"resumed\",\"from\":1,"
            "\"to\":2,\"recovered\":true,\"recovered\":false}}",
            S);
    m = parse("{\"type\":\"text\",\"x\":1,\"x\":2,\"data\":{\"content\":\"a\","
              "\"k\":1,\"k\":2,\"o\":{\"z\":1,\"z\":2}}}",
              C);
    assert_string_equal(
        m->data,
        "{\"content\":\"a\",\"k\":1,\"k\":2,\"o\":{\"z\":1,\"z\":2}}");
    rt_msg_free(m);
}

static void test_msg_codec_not_an_object(void **state)
{
    (void)state;
    bad_json("[]", C);
    bad_json("[{\"type\":\"presence\"}]", C);
    bad_json("1", C);
    bad_json("\"text\"", C);
    bad_json("null", C);
    bad_json("true", S);
    bad_json("", C);
    bad_json("   \n", C);
    bad_json("{", C);
    bad_json("{\"type\"", C);
    bad_json("{\"type\":", C);
    bad_json("{\"type\":\"presence\"", C);
    bad_json("{\"type\":\"presence\",", C);
    bad_json("{\"type\":\"presence\",}", C);
    bad_json("{\"type\":\"presen", C);
    bad_json("{type:\"presence\"}", C);
    bad_json("{'type':'presence'}", C);
    bad_json("{\"type\" \"presence\"}", C);
    bad_json("{\"type\":\"presence\"]", C);
    bad_json("{\"type\":\"presence\",\"data\":{]}", C);
    bad_json("{\"type\":\"presence\",\"data\":[1,]}", C);
    bad_json("{\"type\":\"presence\",\"data\":[1 2]}", C);
    bad_json("{\"type\":\"presence\",\"data\":tru}", C);
    bad_json("{\"type\":\"presence\",\"data\":nul}", C);
    bad_json("{\"type\":\"presence\",\"data\":undefined}", C);
    /* NULL with length 0 is an empty frame, not a crash. */
    expect_fail_len(NULL, 0, C, NULL, RT_EPROTO, RT_MSG_CODE_BAD_JSON);
}

static void test_msg_codec_trailing_garbage(void **state)
{
    (void)state;
    bad_json("{\"type\":\"presence\"}x", C);
    bad_json("{\"type\":\"presence\"}{}", C);
    bad_json("{\"type\":\"presence\"} {\"type\":\"presence\"}", C);
    bad_json("{\"type\":\"presence\"}}", C);
    bad_json("{\"type\":\"presence\"} ,", C);
    /* Form feed and vertical tab are not JSON whitespace (cJSON skips). */
    bad_json("{\"type\":\"presence\"}\f", C);
    bad_json("\v{\"type\":\"presence\"}", C);
    /* A byte order mark is refused rather than skipped. */
    bad_json("\xef\xbb\xbf{\"type\":\"presence\"}", C);
    rt_msg_free(parse("{\"type\":\"presence\"} \t\r\n ", C));
}

/* The input is read only within its length: no NUL terminator needed. */
static void test_msg_codec_unterminated_buffer(void **state)
{
    static const char js[] =
        "{\"type\":\"text\",\"data\":{\"content\":\"hi\"}}";
    size_t n = sizeof(js) - 1;
    char *p = malloc(n);
    rt_msg *m;

    (void)state;
    assert_non_null(p);
    memcpy(p, js, n);
    m = parse_len(p, n, C, NULL);
    assert_string_equal(m->u.text.content, "hi");
    rt_msg_free(m);
    /* Truncated at every length: bad_json, never a read past the end. */
    while (--n > 0)
        expect_fail_len(p, n, C, NULL, RT_EPROTO, RT_MSG_CODE_BAD_JSON);
    free(p);
}

static void test_msg_codec_strings_must_be_valid(void **state)
{
    (void)state;
#define T_(s) "{\"type\":\"text\",\"data\":{\"content\":\"" s "\"}}"
    bad_json(T_("\xff"), C);
    bad_json(T_("\xc3"), C);
    bad_json(T_("\xc0\xaf"), C);         /* overlong '/' */
    bad_json(T_("\xed\xa0\x80"), C);     /* UTF-8 encoded surrogate */
    bad_json(T_("\xf4\x90\x80\x80"), C); /* past U+10FFFF */
    bad_json(T_("\\ud800"), C);
    bad_json(T_("\\ud800x"), C);
    bad_json(T_("\\ud800\\u0041"), C);
    bad_json(T_("\\udc00"), C);
    bad_json(T_("\\u12"), C);
    bad_json(T_("\\u12g4"), C);
    bad_json(T_("\\x41"), C);
    bad_json(T_("\\'"), C);
    bad_json(T_("a\nb"), C);
    bad_json(T_("a\tb"), C);
    bad_json(T_("\x1f"), C);
    bad_json("{\"type\":\"text\",\"data\":{\"content\":\"\\", C);
    rt_msg_free(parse(T_("\x7f\xf4\x8f\xbf\xbf\xe2\x82\xac"), C));
#undef T_
}

static void test_msg_codec_numbers_must_be_valid(void **state)
{
    char *s;

    (void)state;
#define N_(s) "{\"type\":\"presence\",\"data\":{\"n\":" s "}}"
    bad_json(N_("01"), C);
    bad_json(N_("+1"), C);
    bad_json(N_(".5"), C);
    bad_json(N_("1."), C);
    bad_json(N_("1e"), C);
    bad_json(N_("1e+"), C);
    bad_json(N_("-"), C);
    bad_json(N_("--1"), C);
    bad_json(N_("0x10"), C);
    bad_json(N_("NaN"), C);
    bad_json(N_("Infinity"), C);
    bad_json(N_("-Infinity"), C);
    rt_msg_free(parse(N_("-0.5e-3"), C));
    rt_msg_free(parse(N_("1E+2"), C));
#undef N_
    /* 63 characters is what cJSON can read; 64 is refused up front. */
    s = repeat("{\"type\":\"presence\",\"data\":{\"n\":1", '0', 62, "}}");
    rt_msg_free(parse(s, C));
    free(s);
    s = repeat("{\"type\":\"presence\",\"data\":{\"n\":1", '0', 63, "}}");
    bad_json(s, C);
    free(s);
}

static void test_msg_codec_unknown_members_ignored(void **state)
{
    rt_msg *m;
    char *out;

    (void)state;
    m = parse("{\"type\":\"typing\",\"extra\":{\"a\":[1]},\"data\":{\"state\":"
              "true}}",
              C);
    out = encode(m);
    assert_string_equal(out,
                        "{\"type\":\"typing\",\"data\":{\"state\":true}}");
    rt_free(out);
    rt_msg_free(m);
}

/*
 * data is the sender's own text minus the whitespace between tokens:
 * numbers and escapes are not rewritten, and only the top-level "data"
 * member (however its name is escaped) is taken.
 */
static void test_msg_codec_raw_data_is_compacted_verbatim(void **state)
{
    rt_msg *m;

    (void)state;
    m = parse("{\"type\":\"text\",\"data\": { \"content\" : \"a b\" ,\n"
              "\t\"n\" : [ 1E+2 , -0, 9007199254740993 ] , "
              "\"e\":\"\\u00e9 \\\"\" } }",
              C);
    assert_string_equal(m->data, "{\"content\":\"a b\",\"n\":[1E+2,-0,"
                                 "9007199254740993],\"e\":\"\\u00e9 \\\"\"}");
    rt_msg_free(m);
    m = parse("{\"x\":{\"data\":1},\"d\\u0061t\\u0061\":{\"content\":\"y\"},"
              "\"type\":\"text\"}",
              C);
    assert_string_equal(m->u.text.content, "y");
    assert_string_equal(m->data, "{\"content\":\"y\"}");
    rt_msg_free(m);
    /* A value "data" is not the member. */
    m = parse("{\"id\":\"data\",\"type\":\"text\",\"data\":{\"content\":"
              "\"z\"}}",
              C);
    assert_string_equal(m->data, "{\"content\":\"z\"}");
    rt_msg_free(m);
}

/* ------------------------------------------------------------------ */
/* Encode */

/* What the server does with a client text: set envelope, encode once. */
static void test_msg_codec_encode_broadcast(void **state)
{
    rt_msg *m;

    (void)state;
    m = parse("{\"type\":\"text\",\"id\":\"m1\",\"data\":{\"content\":"
              "\"Hello\",\"author\":\"alice\"}}",
              C);
    m->room = "general";
    m->has_seq = 1;
    m->seq = 42;
    m->has_timestamp = 1;
    m->timestamp = 1711000000.123;
    assert_encodes_to(m,
                      "{\"type\":\"text\",\"id\":\"m1\",\"room\":\"general\","
                      "\"seq\":42,\"data\":{\"content\":\"Hello\",\"author\":"
                      "\"alice\"},\"timestamp\":1711000000.123}");
    m->seq = UINT64_C(9007199254740991);
    m->timestamp = 1711000000.1236;
    m->id = NULL;
    m->room = NULL;
    assert_encodes_to(m, "{\"type\":\"text\",\"seq\":9007199254740991,"
                         "\"data\":{\"content\":\"Hello\",\"author\":"
                         "\"alice\"},\"timestamp\":1711000000.124}");
    m->timestamp = 0.0004;
    m->has_seq = 0;
    assert_encodes_to(m, "{\"type\":\"text\",\"data\":{\"content\":\"Hello\","
                         "\"author\":\"alice\"},\"timestamp\":0.000}");
    m->timestamp = 5;
    assert_encodes_to(m, "{\"type\":\"text\",\"data\":{\"content\":\"Hello\","
                         "\"author\":\"alice\"},\"timestamp\":5.000}");
    rt_msg_free(m);
}

static void test_msg_codec_encode_from_views(void **state)
{
    const char *online[] = {"alice", "bob"};
    rt_msg m;

    (void)state;
    rt_msg_init(&m, RT_MSG_TEXT);
    m.u.text.content = "say \"hi\"\n";
    m.id = "c1";
    assert_view_round_trip(&m, C,
                           "{\"type\":\"text\",\"id\":\"c1\",\"data\":{"
                           "\"content\":\"say \\\"hi\\\"\\n\"}}");

    rt_msg_init(&m, RT_MSG_TYPING);
    m.u.typing.state = 1;
    assert_view_round_trip(&m, C,
                           "{\"type\":\"typing\",\"data\":{\"state\":true}}");
    m.room = "r";
    m.u.typing.user = "bob";
    m.u.typing.state = 0;
    assert_view_round_trip(&m, S,
                           "{\"type\":\"typing\",\"room\":\"r\",\"data\":{"
                           "\"user\":\"bob\",\"state\":false}}");

    rt_msg_init(&m, RT_MSG_PRESENCE);
    assert_view_round_trip(&m, C, "{\"type\":\"presence\",\"data\":{}}");
    m.room = "r";
    m.u.presence.event = RT_MSG_PRESENCE_JOIN;
    m.u.presence.user = "alice";
    assert_view_round_trip(&m, S,
                           "{\"type\":\"presence\",\"room\":\"r\",\"data\":{"
                           "\"event\":\"join\",\"user\":\"alice\"}}");
    m.u.presence.event = RT_MSG_PRESENCE_LEAVE;
    m.u.presence.reason = "closed";
    assert_view_round_trip(&m, S,
                           "{\"type\":\"presence\",\"room\":\"r\",\"data\":{"
                           "\"event\":\"leave\",\"user\":\"alice\","
                           "\"reason\":\"closed\"}}");
    rt_msg_init(&m, RT_MSG_PRESENCE);
    m.u.presence.event = RT_MSG_PRESENCE_SNAPSHOT;
    m.u.presence.online = online;
    m.u.presence.n_online = 2;
    assert_view_round_trip(&m, S,
                           "{\"type\":\"presence\",\"data\":{\"event\":"
                           "\"snapshot\",\"online\":[\"alice\",\"bob\"]}}");

    rt_msg_init(&m, RT_MSG_SYSTEM);
    m.room = "general";
    m.u.system.event = RT_MSG_SYSTEM_WELCOME;
    m.u.system.welcome.user = "alice";
    m.u.system.welcome.epoch = "k3f9a";
    m.u.system.welcome.seq = 42;
    m.u.system.welcome.online = online;
    m.u.system.welcome.n_online = 2;
    m.u.system.welcome.ping_interval = 30;
    assert_view_round_trip(&m, S,
                           "{\"type\":\"system\",\"room\":\"general\","
                           "\"data\":{\"event\":\"welcome\",\"user\":"
                           "\"alice\",\"epoch\":\"k3f9a\",\"seq\":42,"
                           "\"online\":[\"alice\",\"bob\"],"
                           "\"ping_interval\":30}}");
    m.u.system.welcome.n_online = 0;
    m.u.system.welcome.online = NULL;
    m.u.system.welcome.ping_interval = 0;
    assert_view_round_trip(&m, S,
                           "{\"type\":\"system\",\"room\":\"general\","
                           "\"data\":{\"event\":\"welcome\",\"user\":"
                           "\"alice\",\"epoch\":\"k3f9a\",\"seq\":42,"
                           "\"online\":[]}}");

    rt_msg_init(&m, RT_MSG_SYSTEM);
    m.u.system.event = RT_MSG_SYSTEM_RESUMED;
    m.u.system.resumed.from = 43;
    m.u.system.resumed.to = 50;
    m.u.system.resumed.recovered = 1;
    assert_view_round_trip(&m, S,
                           "{\"type\":\"system\",\"data\":{\"event\":"
                           "\"resumed\",\"from\":43,\"to\":50,"
                           "\"recovered\":true}}");
    m.u.system.resumed.recovered = 0;
    assert_view_round_trip(&m, S,
                           "{\"type\":\"system\",\"data\":{\"event\":"
                           "\"resumed\",\"from\":43,\"to\":50,"
                           "\"recovered\":false}}");

    rt_msg_init(&m, RT_MSG_ERROR);
    m.u.error.code = RT_MSG_CODE_RATE_LIMITED;
    assert_view_round_trip(
        &m, S, "{\"type\":\"error\",\"data\":{\"code\":\"rate_limited\"}}");

    rt_msg_init(&m, RT_MSG_ACK);
    m.u.ack.status = "delivered";
    assert_view_round_trip(
        &m, S, "{\"type\":\"ack\",\"data\":{\"status\":\"delivered\"}}");
}

static void test_msg_codec_encode_error_frames(void **state)
{
    char *out = NULL, want[256];
    rt_msg_code c;
    size_t len;
    rt_msg *m;

    (void)state;
    for (c = RT_MSG_CODE_BAD_JSON; c < RT_MSG_CODE_COUNT_; c++) {
        assert_int_equal(rt_msg_encode_error(c, "m1", "detail", &out, &len),
                         0);
        snprintf(want, sizeof(want),
                 "{\"type\":\"error\",\"id\":\"m1\",\"data\":{\"code\":"
                 "\"%s\",\"message\":\"detail\"}}",
                 rt_msg_code_name(c));
        assert_string_equal(out, want);
        assert_int_equal(len, strlen(want));
        m = parse(out, S);
        assert_int_equal(m->u.error.code, c);
        rt_msg_free(m);
        rt_free(out);
    }
    assert_int_equal(rt_msg_encode_error(RT_MSG_CODE_BAD_JSON, NULL,
                                         "bad \"x\"\x01", &out, &len),
                     0);
    assert_string_equal(out, "{\"type\":\"error\",\"data\":{\"code\":"
                             "\"bad_json\",\"message\":\"bad "
                             "\\\"x\\\"\\u0001\"}}");
    rt_free(out);
    assert_int_equal(
        rt_msg_encode_error(RT_MSG_CODE_TOO_LARGE, NULL, NULL, &out, &len), 0);
    assert_string_equal(out, "{\"type\":\"error\",\"data\":{\"code\":"
                             "\"too_large\",\"message\":\"\"}}");
    rt_free(out);
    out = NULL;
    assert_int_equal(
        rt_msg_encode_error(RT_MSG_CODE_NONE, NULL, "x", &out, &len),
        RT_EINVAL);
    assert_int_equal(
        rt_msg_encode_error(RT_MSG_CODE_COUNT_, NULL, "x", &out, &len),
        RT_EINVAL);
    assert_int_equal(
        rt_msg_encode_error(RT_MSG_CODE_BAD_JSON, NULL, "x", NULL, &len),
        RT_EINVAL);
    assert_null(out);
}

static void test_msg_codec_encode_ack(void **state)
{
    char *out = NULL;
    size_t len;
    rt_msg *m;

    (void)state;
    assert_int_equal(rt_msg_encode_ack("m1", 42, &out, &len), 0);
    assert_string_equal(out, "{\"type\":\"ack\",\"id\":\"m1\",\"data\":{"
                             "\"status\":\"delivered\",\"seq\":42}}");
    m = parse(out, S);
    assert_true(m->u.ack.has_seq && m->u.ack.seq == 42);
    rt_msg_free(m);
    rt_free(out);
    assert_int_equal(
        rt_msg_encode_ack(NULL, UINT64_C(9007199254740991), &out, &len), 0);
    assert_string_equal(out, "{\"type\":\"ack\",\"data\":{\"status\":"
                             "\"delivered\",\"seq\":9007199254740991}}");
    rt_free(out);
    out = NULL;
    assert_int_equal(
        rt_msg_encode_ack(NULL, UINT64_C(9007199254740992), &out, &len),
        RT_EINVAL);
    assert_int_equal(rt_msg_encode_ack(NULL, 1, &out, NULL), RT_EINVAL);
    assert_null(out);
}

/* The frames a client writes, as the server reads them (issue 13). */
static void test_msg_codec_encode_client_frames(void **state)
{
    char *out = NULL;
    size_t len;
    rt_msg *m;

    (void)state;
    assert_int_equal(rt_msg_encode_text("a-1", "say \"hi\"\n", &out, &len), 0);
    assert_string_equal(out, "{\"type\":\"text\",\"id\":\"a-1\",\"data\":{"
                             "\"content\":\"say \\\"hi\\\"\\n\"}}");
    assert_int_equal(len, strlen(out));
    assert_int_equal(
        rt_msg_parse(&m, out, len, RT_MSG_FROM_CLIENT, NULL, NULL), 0);
    assert_string_equal(m->u.text.content, "say \"hi\"\n");
    rt_msg_free(m);
    rt_free(out);
    assert_int_equal(rt_msg_encode_text(NULL, "x", &out, &len), 0);
    assert_string_equal(out, "{\"type\":\"text\",\"data\":{\"content\":"
                             "\"x\"}}");
    rt_free(out);
    out = NULL;
    assert_int_equal(rt_msg_encode_text(NULL, NULL, &out, &len), RT_EINVAL);

    assert_int_equal(rt_msg_encode_typing(NULL, NULL, 1, &out, &len), 0);
    assert_string_equal(out, "{\"type\":\"typing\",\"data\":{\"state\":"
                             "true}}");
    rt_free(out);
    assert_int_equal(rt_msg_encode_typing("r", "bob", 0, &out, &len), 0);
    assert_string_equal(out, "{\"type\":\"typing\",\"room\":\"r\",\"data\":"
                             "{\"user\":\"bob\",\"state\":false}}");
    m = parse(out, S);
    assert_string_equal(m->u.typing.user, "bob");
    rt_msg_free(m);
    rt_free(out);
}

/*
 * The frames the server writes through rt_msg_encode() (welcome, resumed,
 * presence),
 * byte for byte as it wrote them by hand before.
 */
/* The HTTP answer bodies, byte for byte as PROTOCOL.md shows them. */
static void test_msg_codec_http_answers(void **state)
{
    rt_buf b;

    (void)state;
    rt__buf_init(&b);
    assert_int_equal(rt__msg_poll_open(&b, "E1"), 0);
    assert_int_equal(rt__buf_append(&b, "{}", 2), 0);
    assert_int_equal(rt__msg_poll_close(&b, 42, 1), 0);
    assert_string_equal(b.data, "{\"epoch\":\"E1\",\"messages\":[{}],"
                                "\"next\":42,\"recovered\":true}");
    rt__buf_clear(&b);
    assert_int_equal(rt__msg_poll_open(&b, "E\"2"), 0);
    assert_int_equal(rt__msg_poll_close(&b, 0, 0), 0);
    assert_string_equal(b.data, "{\"epoch\":\"E\\\"2\",\"messages\":[],"
                                "\"next\":0,\"recovered\":false}");
    rt__buf_clear(&b);
    assert_int_equal(rt__msg_published(&b, UINT64_C(9007199254740991)), 0);
    assert_string_equal(b.data, "{\"seq\":9007199254740991}");
    rt__buf_clear(&b);
    assert_int_equal(rt__msg_rooms_open(&b), 0);
    assert_int_equal(rt__msg_rooms_close(&b), 0);
    assert_string_equal(b.data, "{\"rooms\":[]}");
    rt__buf_clear(&b);
    assert_int_equal(rt__msg_rooms_open(&b), 0);
    assert_int_equal(rt__msg_rooms_item(&b, 1, "a", 2, 7), 0);
    assert_int_equal(rt__msg_rooms_item(&b, 0, "b/\u00e9", 0, 0), 0);
    assert_int_equal(rt__msg_rooms_close(&b), 0);
    assert_string_equal(b.data,
                        "{\"rooms\":[{\"room\":\"a\",\"online\":2,\"seq\":7},"
                        "{\"room\":\"b/\u00e9\",\"online\":0,\"seq\":0}]}");
    rt__buf_clear(&b);
    assert_int_equal(rt__msg_presence_open(&b, "general"), 0);
    assert_int_equal(rt__buf_append(&b, "[\"alice\"]", 9), 0);
    assert_int_equal(rt__msg_presence_close(&b), 0);
    assert_string_equal(b.data,
                        "{\"room\":\"general\",\"online\":[\"alice\"]}");
    rt__buf_cleanup(&b);
}

static void test_msg_codec_encode_server_frames(void **state)
{
    const char *online[] = {"alice", "bob"};
    char *out = NULL;
    size_t len;
    rt_msg m, *p;

    (void)state;
    rt_msg_init(&m, RT_MSG_SYSTEM);
    m.room = "general";
    m.u.system.event = RT_MSG_SYSTEM_RESUMED;
    m.u.system.resumed.from = 4;
    m.u.system.resumed.to = 9;
    assert_int_equal(rt_msg_encode(&m, &out, &len), 0);
    assert_string_equal(out, "{\"type\":\"system\",\"room\":\"general\","
                             "\"data\":{\"event\":\"resumed\",\"from\":4,"
                             "\"to\":9,\"recovered\":false}}");
    assert_int_equal(len, strlen(out));
    rt_free(out);

    rt_msg_init(&m, RT_MSG_SYSTEM);
    m.room = "general";
    m.u.system.event = RT_MSG_SYSTEM_WELCOME;
    m.u.system.welcome.user = "alice";
    m.u.system.welcome.epoch = "E1";
    m.u.system.welcome.seq = 7;
    m.u.system.welcome.online = online;
    m.u.system.welcome.n_online = 2;
    m.u.system.welcome.ping_interval = 30;
    assert_int_equal(rt_msg_encode(&m, &out, &len), 0);
    assert_string_equal(out, "{\"type\":\"system\",\"room\":\"general\","
                             "\"data\":{\"event\":\"welcome\",\"user\":"
                             "\"alice\",\"epoch\":\"E1\",\"seq\":7,"
                             "\"online\":[\"alice\",\"bob\"],"
                             "\"ping_interval\":30}}");
    rt_free(out);
    /* a large room: the count instead of the list */
    m.u.system.welcome.online = NULL;
    m.u.system.welcome.n_online = 0;
    m.u.system.welcome.has_online_count = 1;
    m.u.system.welcome.online_count = 5000;
    assert_int_equal(rt_msg_encode(&m, &out, &len), 0);
    assert_string_equal(out, "{\"type\":\"system\",\"room\":\"general\","
                             "\"data\":{\"event\":\"welcome\",\"user\":"
                             "\"alice\",\"epoch\":\"E1\",\"seq\":7,"
                             "\"online\":[],\"online_count\":5000,"
                             "\"ping_interval\":30}}");
    p = parse(out, S);
    assert_int_equal(p->u.system.welcome.has_online_count, 1);
    assert_int_equal(p->u.system.welcome.online_count, 5000);
    rt_msg_free(p);
    rt_free(out);

    rt_msg_init(&m, RT_MSG_PRESENCE);
    m.room = "general";
    m.u.presence.event = RT_MSG_PRESENCE_JOIN;
    m.u.presence.user = "alice";
    assert_int_equal(rt_msg_encode(&m, &out, &len), 0);
    assert_string_equal(out, "{\"type\":\"presence\",\"room\":\"general\","
                             "\"data\":{\"event\":\"join\",\"user\":"
                             "\"alice\"}}");
    rt_free(out);
    m.u.presence.event = RT_MSG_PRESENCE_LEAVE;
    m.u.presence.reason = "timeout";
    assert_int_equal(rt_msg_encode(&m, &out, &len), 0);
    assert_string_equal(out, "{\"type\":\"presence\",\"room\":\"general\","
                             "\"data\":{\"event\":\"leave\",\"user\":"
                             "\"alice\",\"reason\":\"timeout\"}}");
    rt_free(out);
    m.u.presence.event = RT_MSG_PRESENCE_SNAPSHOT;
    m.u.presence.user = NULL;
    m.u.presence.reason = NULL;
    m.u.presence.online = online;
    m.u.presence.n_online = 2;
    assert_int_equal(rt_msg_encode(&m, &out, &len), 0);
    assert_string_equal(out, "{\"type\":\"presence\",\"room\":\"general\","
                             "\"data\":{\"event\":\"snapshot\",\"online\":"
                             "[\"alice\",\"bob\"]}}");
    rt_free(out);
    m.u.presence.online = NULL;
    m.u.presence.n_online = 0;
    assert_int_equal(rt_msg_encode(&m, &out, &len), 0);
    assert_string_equal(out, "{\"type\":\"presence\",\"room\":\"general\","
                             "\"data\":{\"event\":\"snapshot\",\"online\":"
                             "[]}}");
    rt_free(out);
}

static void test_msg_codec_encode_rejects_invalid(void **state)
{
    const char *bad_online[] = {"alice", "b b"};
    char *out = NULL;
    size_t len;
    rt_msg m;

    (void)state;
#define EINVAL_(m) assert_int_equal(rt_msg_encode(m, &out, &len), RT_EINVAL)
    EINVAL_(NULL);
    assert_int_equal(rt_msg_encode(&m, NULL, &len), RT_EINVAL);

    rt_msg_init(&m, RT_MSG_TEXT);
    EINVAL_(&m); /* no content */
    m.u.text.content = "a";
    m.type = (rt_msg_type)6;
    EINVAL_(&m);
    m.type = RT_MSG_TEXT;
    m.room = "no spaces";
    EINVAL_(&m);
    m.room = "";
    EINVAL_(&m);
    m.room = NULL;
    m.has_seq = 1;
    m.seq = UINT64_C(9007199254740992);
    EINVAL_(&m);
    m.has_seq = 0;
    m.has_timestamp = 1;
    m.timestamp = -1;
    EINVAL_(&m);
    m.timestamp = 1e11;
    EINVAL_(&m);
    m.has_timestamp = 0;
    m.data = "[1]";
    m.data_len = 3;
    EINVAL_(&m);
    m.data = "";
    m.data_len = 0;
    EINVAL_(&m);

    rt_msg_init(&m, RT_MSG_SYSTEM);
    EINVAL_(&m); /* OTHER needs raw data */
    m.data = "{\"event\":\"topic\"}";
    m.data_len = strlen(m.data);
    assert_encodes_to(&m, "{\"type\":\"system\",\"data\":{\"event\":"
                          "\"topic\"}}");
    rt_msg_init(&m, RT_MSG_SYSTEM);
    m.u.system.event = RT_MSG_SYSTEM_WELCOME;
    m.u.system.welcome.user = "alice";
    EINVAL_(&m); /* no epoch */
    m.u.system.welcome.epoch = "bad-epoch";
    EINVAL_(&m);
    m.u.system.welcome.epoch = "E";
    m.u.system.welcome.online = bad_online;
    m.u.system.welcome.n_online = 2;
    EINVAL_(&m);
    m.u.system.welcome.online = NULL;
    EINVAL_(&m);

    rt_msg_init(&m, RT_MSG_PRESENCE);
    m.u.presence.event = RT_MSG_PRESENCE_JOIN;
    EINVAL_(&m); /* no user */
    m.u.presence.user = "x y";
    EINVAL_(&m);

    rt_msg_init(&m, RT_MSG_TYPING);
    m.u.typing.user = "";
    EINVAL_(&m);

    rt_msg_init(&m, RT_MSG_ACK);
    EINVAL_(&m); /* no status */
#undef EINVAL_
    assert_null(out);
}

/* ------------------------------------------------------------------ */
/* Round trips, dup, names, arguments */

static void test_msg_codec_round_trips(void **state)
{
    static const struct {
        const char *json;
        rt_msg_dir dir;
    } cases[] = {
        {"{\"type\":\"text\",\"id\":\"m1\",\"data\":{\"content\":\"Hi \\u00e9"
         "\\ud83d\\ude00\",\"x\":[1,-0,1e400,0.1,1.5e-300,true,null,{}]}}",
         C},
        {"{\"type\":\"typing\",\"data\":{\"state\":true}}", C},
        {"{\"type\":\"presence\"}", C},
        {"{\"type\":\"text\",\"room\":\"general\",\"seq\":42,\"data\":{"
         "\"content\":\"Hello\",\"author\":\"alice\"},"
         "\"timestamp\":1711000000.1234567}",
         S},
        {"{\"type\":\"system\",\"room\":\"general\",\"data\":{\"event\":"
         "\"welcome\",\"user\":\"alice\",\"epoch\":\"k3f9a\",\"seq\":42,"
         "\"online\":[\"alice\",\"bob\"],\"ping_interval\":30}}",
         S},
        {"{\"type\":\"system\",\"data\":{\"event\":\"resumed\",\"from\":43,"
         "\"to\":50,\"recovered\":false}}",
         S},
        {"{\"type\":\"presence\",\"room\":\"r\",\"data\":{\"event\":"
         "\"snapshot\",\"online\":[\"a\"]}}",
         S},
        {"{\"type\":\"error\",\"id\":\"x\",\"data\":{\"code\":\"bad_json\","
         "\"message\":\"m\"}}",
         S},
        {"{\"type\":\"ack\",\"id\":\"m1\",\"data\":{\"status\":\"delivered\","
         "\"seq\":9007199254740991}}",
         S},
        {SYS_ "\"timestamp\":99999999999.9994}", S},
        {PRE_ "\"timestamp\":1.0005,\"seq\":1e2}", C},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_round_trip(cases[i].json, cases[i].dir);
}

static void test_msg_codec_dup_is_deep(void **state)
{
    const char *online[] = {"alice", "bob", "carol"};
    rt_msg *a, *b, src;
    char *ea, *eb;

    (void)state;
    a = parse("{\"type\":\"system\",\"room\":\"general\",\"id\":\"i\","
              "\"data\":{\"event\":\"welcome\",\"user\":\"alice\",\"epoch\":"
              "\"k3f9a\",\"seq\":42,\"online\":[\"alice\",\"bob\"]}}",
              S);
    assert_int_equal(rt_msg_dup(&b, a), 0);
    ea = encode(a);
    rt_msg_free(a);
    eb = encode(b);
    assert_string_equal(ea, eb);
    assert_string_equal(b->u.system.welcome.online[1], "bob");
    rt_free(ea);
    rt_free(eb);
    rt_msg_free(b);

    /* A stack-built message: every borrowed string is copied. */
    rt_msg_init(&src, RT_MSG_PRESENCE);
    src.u.presence.event = RT_MSG_PRESENCE_SNAPSHOT;
    src.u.presence.online = online;
    src.u.presence.n_online = 3;
    src.room = "r";
    assert_int_equal(rt_msg_dup(&b, &src), 0);
    assert_ptr_not_equal(b->u.presence.online, online);
    assert_ptr_not_equal(b->u.presence.online[2], online[2]);
    assert_string_equal(b->u.presence.online[2], "carol");
    assert_ptr_not_equal(b->room, src.room);
    assert_null(b->data);
    assert_msg_equal(&src, b);
    rt_msg_free(b);

    assert_int_equal(rt_msg_dup(NULL, &src), RT_EINVAL);
    assert_int_equal(rt_msg_dup(&b, NULL), RT_EINVAL);
    rt_msg_free(NULL);
}

static void test_msg_codec_code_names(void **state)
{
    static const char *const names[] = {
        "bad_json",       "bad_message", "too_large",
        "rate_limited",   "room_full",   "too_many_connections",
        "unauthorized",   "forbidden",   "slow_consumer",
        "too_many_rooms", "unavailable",
    };
    size_t i;

    (void)state;
    assert_int_equal(RT_MSG_CODE_COUNT_ - 1, sizeof(names) / sizeof(*names));
    for (i = 0; i < sizeof(names) / sizeof(*names); i++) {
        rt_msg_code c = (rt_msg_code)(RT_MSG_CODE_BAD_JSON + (int)i);

        assert_string_equal(rt_msg_code_name(c), names[i]);
        assert_int_equal(rt_msg_code_from_name(names[i]), c);
    }
    assert_string_equal(rt_msg_code_name(RT_MSG_CODE_NONE), "unknown");
    assert_string_equal(rt_msg_code_name(RT_MSG_CODE_COUNT_), "unknown");
    assert_string_equal(rt_msg_code_name((rt_msg_code)-1), "unknown");
    assert_int_equal(rt_msg_code_from_name("BAD_JSON"), RT_MSG_CODE_NONE);
    assert_int_equal(rt_msg_code_from_name("bad_json "), RT_MSG_CODE_NONE);
    assert_int_equal(rt_msg_code_from_name(""), RT_MSG_CODE_NONE);
    assert_int_equal(rt_msg_code_from_name("unknown"), RT_MSG_CODE_NONE);
    assert_int_equal(rt_msg_code_from_name(NULL), RT_MSG_CODE_NONE);

    assert_string_equal(rt_msg_type_name(RT_MSG_TEXT), "text");
    assert_string_equal(rt_msg_type_name(RT_MSG_PRESENCE), "presence");
    assert_string_equal(rt_msg_type_name(RT_MSG_TYPING), "typing");
    assert_string_equal(rt_msg_type_name(RT_MSG_SYSTEM), "system");
    assert_string_equal(rt_msg_type_name(RT_MSG_ERROR), "error");
    assert_string_equal(rt_msg_type_name(RT_MSG_ACK), "ack");
    assert_string_equal(rt_msg_type_name((rt_msg_type)99), "unknown");
}

static void test_msg_codec_arguments_and_defaults(void **state)
{
    rt_msg_limits lim;
    rt_msg_error err;
    rt_msg *m = NULL;

    (void)state;
    rt_msg_limits_init(&lim);
    assert_int_equal(lim.max_bytes, 65536);
    assert_int_equal(lim.max_depth, 32);
    assert_int_equal(lim.max_id_bytes, 128);

    assert_int_equal(rt_msg_parse(NULL, "{}", 2, C, NULL, &err), RT_EINVAL);
    assert_int_equal(err.code, RT_MSG_CODE_NONE);
    assert_int_equal(rt_msg_parse(&m, NULL, 2, C, NULL, &err), RT_EINVAL);
    assert_int_equal(rt_msg_parse(&m, "{}", 2, (rt_msg_dir)7, NULL, &err),
                     RT_EINVAL);
    /* err may be NULL. */
    assert_int_equal(rt_msg_parse(&m, "[]", 2, C, NULL, NULL), RT_EPROTO);
    assert_int_equal(
        rt_msg_parse(&m, "{\"type\":\"presence\"}", 19, C, NULL, NULL), 0);
    rt_msg_free(m);
    m = NULL;
    /* Zero fields take their defaults. */
    memset(&lim, 0, sizeof(lim));
    assert_int_equal(
        rt_msg_parse(&m, "{\"type\":\"presence\"}", 19, C, &lim, &err), 0);
    rt_msg_free(m);
}

/* ------------------------------------------------------------------ */
/* Allocation failure */

/* Fail the n-th allocation for n = 0, 1, ... until the call succeeds. */
static void test_msg_codec_allocation_failure(void **state)
{
    static const char *const inputs[] = {
        "{\"type\":\"system\",\"room\":\"general\",\"id\":\"i\",\"seq\":3,"
        "\"timestamp\":1.5,\"data\":{\"event\":\"welcome\",\"user\":\"alice\","
        "\"epoch\":\"k3f9a\",\"seq\":42,\"online\":[\"alice\",\"bob\"],"
        "\"pad\":\"0123456789012345678901234567890123456789012345678901234"
        "5678901234567890123456789012345678901234567890123456789012345678901"
        "234567890123456789012345678901234567890123456789012345678901234567"
        "8901234567890\",\"more\":[1,2,3,{\"a\":[]}]}}",
        "{\"type\":\"text\",\"data\":{\"content\":\"x\"}}",
        "{\"type\":\"presence\","
        "\"data\":{\"online\":[],"
        "\"event\":\"snapshot\"}}",
        "{\"type\":\"error\",\"data\":{\"code\":\"room_full\"}}",
    };
    size_t i;
    long n;

    (void)state;
    th_alloc_install();
    for (i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        for (n = 0;; n++) {
            rt_msg *m = NULL, *d = NULL;
            rt_msg_error err;
            char *out = NULL;
            size_t len;
            int rc;

            th_alloc_fail_from(n);
            rc = rt_msg_parse(&m, inputs[i], strlen(inputs[i]), S, NULL, &err);
            if (rc == 0)
                rc = rt_msg_dup(&d, m);
            if (rc == 0)
                rc = rt_msg_encode(d, &out, &len);
            rt_free(out);
            out = NULL;
            if (rc == 0)
                rc = rt_msg_encode_error(RT_MSG_CODE_BAD_JSON, "id", "m", &out,
                                         &len);
            rt_free(out);
            rt_msg_free(m);
            rt_msg_free(d);
            if (rc == 0) {
                assert_int_equal(th_alloc_live(), 0);
                break;
            }
            if (rc != RT_ENOMEM)
                fail_msg("input %zu n %ld rc %d", i, n, rc);
            assert_int_equal(rc, RT_ENOMEM);
            assert_int_equal(th_alloc_live(), 0);
            assert_true(n < 1000);
        }
    }
    /* A parse that runs out of memory says so and sets no protocol code. */
    for (n = 0;; n++) {
        rt_msg *m = NULL;
        rt_msg_error err;
        int rc;

        th_alloc_fail_from(n);
        rc = rt_msg_parse(&m, inputs[0], strlen(inputs[0]), S, NULL, &err);
        if (rc == 0) {
            rt_msg_free(m);
            break;
        }
        assert_int_equal(rc, RT_ENOMEM);
        assert_int_equal(err.code, RT_MSG_CODE_NONE);
        assert_null(m);
    }
    th_alloc_uninstall();
}

/* ------------------------------------------------------------------ */
/* Golden files */

static void check_golden(const char *name, const char *json, size_t len,
                         rt_msg_dir dir)
{
    rt_msg_error err;
    rt_msg *m = NULL;
    const char *dash = strchr(name, '-');
    char want[32];
    int rc;

    assert_non_null(dash);
    assert_true((size_t)(dash - name) < sizeof(want));
    memcpy(want, name, (size_t)(dash - name));
    want[dash - name] = '\0';
    rc = rt_msg_parse(&m, json, len, dir, NULL, &err);
    if (strcmp(want, "ok") == 0) {
        if (rc != 0)
            fail_msg("%s (%s): %s: %s", name, dir == C ? "client" : "server",
                     rt_msg_code_name(err.code), err.message);
        rt_msg_free(m);
        assert_round_trip(json, dir);
        return;
    }
    if (rc == 0)
        fail_msg("%s: parsed, expected %s", name, want);
    if (strcmp(rt_msg_code_name(err.code), want) != 0)
        fail_msg("%s: got %s (%s)", name, rt_msg_code_name(err.code),
                 err.message);
    assert_int_equal(rc, err.code == RT_MSG_CODE_TOO_LARGE ? RT_ETOOBIG
                                                           : RT_EPROTO);
}

static void test_msg_codec_golden_files(void **state)
{
    char path[1024];
    struct dirent *de;
    size_t len = 0, files = 0, kinds[2] = {0, 0};
    DIR *d;

    (void)state;
    d = opendir(RT_TEST_DATA "/msg");
    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        const char *name = de->d_name, *dir;
        size_t nl = strlen(name);
        char *json;

        if (nl < 5 || strcmp(name + nl - 5, ".json") != 0)
            continue;
        dir = strchr(name, '-');
        assert_non_null(dir);
        dir++;
        snprintf(path, sizeof(path), "%s/msg/%s", RT_TEST_DATA, name);
        json = th_read_file(path, &len);
        assert_non_null(json);
        if (strncmp(dir, "client-", 7) == 0 || strncmp(dir, "any-", 4) == 0)
            check_golden(name, json, len, C);
        if (strncmp(dir, "server-", 7) == 0 || strncmp(dir, "any-", 4) == 0)
            check_golden(name, json, len, S);
        if (strncmp(dir, "client-", 7) != 0 &&
            strncmp(dir, "server-", 7) != 0 && strncmp(dir, "any-", 4) != 0)
            fail_msg("%s: direction must be client, server or any", name);
        kinds[strncmp(name, "ok-", 3) == 0]++;
        files++;
        free(json);
    }
    closedir(d);
    assert_true(files >= 10);
    assert_true(kinds[0] > 0 && kinds[1] > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_msg_codec_client_text),
        cmocka_unit_test(test_msg_codec_client_text_needs_string_content),
        cmocka_unit_test(test_msg_codec_client_typing),
        cmocka_unit_test(test_msg_codec_client_presence),
        cmocka_unit_test(test_msg_codec_client_type_rules),
        cmocka_unit_test(test_msg_codec_id_length_bound),
        cmocka_unit_test(test_msg_codec_room_names),
        cmocka_unit_test(test_msg_codec_seq_bounds),
        cmocka_unit_test(test_msg_codec_timestamp),
        cmocka_unit_test(test_msg_codec_server_text_broadcast),
        cmocka_unit_test(test_msg_codec_server_ack),
        cmocka_unit_test(test_msg_codec_server_typing),
        cmocka_unit_test(test_msg_codec_server_presence),
        cmocka_unit_test(test_msg_codec_server_welcome),
        cmocka_unit_test(test_msg_codec_server_resumed),
        cmocka_unit_test(test_msg_codec_server_system_other),
        cmocka_unit_test(test_msg_codec_server_error_frames),
        cmocka_unit_test(test_msg_codec_too_large_at_and_past_bound),
        cmocka_unit_test(test_msg_codec_depth_at_and_past_bound),
        cmocka_unit_test(test_msg_codec_deep_nesting_is_cheap),
        cmocka_unit_test(test_msg_codec_nul_escape_rejected),
        cmocka_unit_test(test_msg_codec_raw_nul_byte),
        cmocka_unit_test(test_msg_codec_duplicate_keys),
        cmocka_unit_test(test_msg_codec_not_an_object),
        cmocka_unit_test(test_msg_codec_trailing_garbage),
        cmocka_unit_test(test_msg_codec_unterminated_buffer),
        cmocka_unit_test(test_msg_codec_strings_must_be_valid),
        cmocka_unit_test(test_msg_codec_numbers_must_be_valid),
        cmocka_unit_test(test_msg_codec_unknown_members_ignored),
        cmocka_unit_test(test_msg_codec_raw_data_is_compacted_verbatim),
        cmocka_unit_test(test_msg_codec_encode_broadcast),
        cmocka_unit_test(test_msg_codec_encode_from_views),
        cmocka_unit_test(test_msg_codec_encode_error_frames),
        cmocka_unit_test(test_msg_codec_encode_ack),
        cmocka_unit_test(test_msg_codec_encode_client_frames),
        cmocka_unit_test(test_msg_codec_encode_rejects_invalid),
        cmocka_unit_test(test_msg_codec_round_trips),
        cmocka_unit_test(test_msg_codec_dup_is_deep),
        cmocka_unit_test(test_msg_codec_code_names),
        cmocka_unit_test(test_msg_codec_arguments_and_defaults),
        cmocka_unit_test(test_msg_codec_allocation_failure),
        cmocka_unit_test(test_msg_codec_golden_files),
        cmocka_unit_test(test_msg_codec_encode_server_frames),
        cmocka_unit_test(test_msg_codec_http_answers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
