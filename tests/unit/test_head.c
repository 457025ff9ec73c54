/*
 * test_head.c: the measure of a request head (server-stub/head.c) that
 * the server's gate answers 431 and 414 by: where the head ends, its
 * bytes, header fields and query arguments counted the way libwebsockets
 * 4.1 counts them, the same verdict however the bytes are split.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "head.h"

#define MAXB 1024
#define MAXF 8
#define MAXA 4

static enum rt__head_verdict whole(const char *s, size_t len)
{
    struct rt__head h;

    rt__head_init(&h, MAXB, MAXF, MAXA);
    return rt__head_feed(&h, s, len);
}

/* The verdict of |s| fed whole, byte by byte, and cut in two anywhere. */
static enum rt__head_verdict verdict(const char *s)
{
    size_t len = strlen(s), i, cut;
    enum rt__head_verdict v = whole(s, len), w = v;
    struct rt__head h;

    rt__head_init(&h, MAXB, MAXF, MAXA);
    for (i = 0; i < len; i++)
        w = rt__head_feed(&h, s + i, 1);
    assert_int_equal(w, v);
    for (cut = 0; cut <= len; cut++) {
        rt__head_init(&h, MAXB, MAXF, MAXA);
        rt__head_feed(&h, s, cut);
        assert_int_equal(rt__head_feed(&h, s + cut, len - cut), v);
    }
    return v;
}

/* "GET /x HTTP/1.1\r\nHost: x\r\n" padded with one field to |size|. */
static char *padded(size_t size, const char *end)
{
    const char *start = "GET /x HTTP/1.1\r\nHost: x\r\nX-Pad: ";
    size_t fixed = strlen(start) + strlen(end);
    char *s = malloc(size + 1);

    assert_non_null(s);
    assert_true(size >= fixed);
    memcpy(s, start, strlen(start));
    memset(s + strlen(start), 'p', size - fixed);
    memcpy(s + size - strlen(end), end, strlen(end) + 1);
    return s;
}

static void test_head_complete_requests(void **state)
{
    (void)state;
    assert_int_equal(verdict("GET / HTTP/1.1\r\n\r\n"), RT_HEAD_DONE);
    assert_int_equal(verdict("GET /health HTTP/1.1\r\nHost: x\r\n"
                             "Accept: */*\r\n\r\n"),
                     RT_HEAD_DONE);
    /* bare LF, as libwebsockets takes it from "broken peers" */
    assert_int_equal(verdict("GET / HTTP/1.1\nHost: x\n\n"), RT_HEAD_DONE);
    assert_int_equal(verdict("get  /spaces  HTTP/1.0\r\n\r\n"), RT_HEAD_DONE);
    /* a request line without a version */
    assert_int_equal(verdict("GET /\r\n\r\n"), RT_HEAD_DONE);
}

static void test_head_incomplete_asks_for_more(void **state)
{
    (void)state;
    assert_int_equal(verdict(""), RT_HEAD_MORE);
    assert_int_equal(verdict("GET"), RT_HEAD_MORE);
    assert_int_equal(verdict("GET / HTTP/1.1\r\nHost: x\r\n"), RT_HEAD_MORE);
    assert_int_equal(verdict("GET / HTTP/1.1\r\nHost: x\r\n\r"), RT_HEAD_MORE);
}

static void test_head_not_http_is_handed_on(void **state)
{
    (void)state;
    assert_int_equal(verdict("\x16\x03\x01\x02\x00"), RT_HEAD_OTHER);
    assert_int_equal(verdict("\r\nGET / HTTP/1.1\r\n\r\n"), RT_HEAD_OTHER);
    assert_int_equal(verdict(" GET / HTTP/1.1\r\n\r\n"), RT_HEAD_OTHER);
    assert_int_equal(verdict("GET/ HTTP/1.1\r\n\r\n"), RT_HEAD_OTHER);
    assert_int_equal(verdict("ABCDEFGHIJKLMNOPQ / HTTP/1.1\r\n"),
                     RT_HEAD_OTHER);
}

static void test_head_bytes_limit_is_exact(void **state)
{
    char *s;

    (void)state;
    s = padded(MAXB, "\r\n\r\n");
    assert_int_equal(verdict(s), RT_HEAD_DONE);
    free(s);
    s = padded(MAXB + 1, "\r\n\r\n");
    assert_int_equal(verdict(s), RT_HEAD_TOO_LARGE);
    free(s);
    /* past the limit without an end: told so at byte MAXB + 1 */
    s = padded(MAXB + 100, "");
    assert_int_equal(verdict(s), RT_HEAD_TOO_LARGE);
    free(s);
}

static void test_head_long_request_line_is_414(void **state)
{
    char s[MAXB + 64];

    (void)state;
    memcpy(s, "GET /", 5);
    memset(s + 5, 'u', MAXB);
    strcpy(s + 5 + MAXB, " HTTP/1.1\r\n\r\n");
    assert_int_equal(verdict(s), RT_HEAD_URI_TOO_LONG);
    /* still on the request line at the limit: the version is long */
    memcpy(s, "GET / ", 6);
    memset(s + 6, 'v', MAXB);
    s[6 + MAXB] = '\0';
    assert_int_equal(verdict(s), RT_HEAD_URI_TOO_LONG);
}

static void test_head_fields_are_counted(void **state)
{
    char s[512];
    size_t n;
    int i;

    (void)state;
    n = (size_t)sprintf(s, "GET / HTTP/1.1\r\n");
    for (i = 0; i < MAXF; i++)
        n += (size_t)sprintf(s + n, "A%d: v\r\n", i);
    strcpy(s + n, "\r\n");
    assert_int_equal(verdict(s), RT_HEAD_DONE);
    strcpy(s + n, "One-more: v\r\n\r\n");
    assert_int_equal(verdict(s), RT_HEAD_TOO_MANY_FIELDS);
    /* told as soon as the extra field begins, whatever follows */
    strcpy(s + n, "O");
    assert_int_equal(verdict(s), RT_HEAD_TOO_MANY_FIELDS);
}

static void test_head_arguments_are_counted(void **state)
{
    (void)state;
    assert_int_equal(verdict("GET /x?a=1&b=2&c=3&d=4 HTTP/1.1\r\n\r\n"),
                     RT_HEAD_DONE);
    assert_int_equal(verdict("GET /x?a=1&b=2&c=3&d=4&e=5 HTTP/1.1\r\n\r\n"),
                     RT_HEAD_TOO_MANY_ARGS);
    /* ';' splits too, empty arguments count, in the path as well */
    assert_int_equal(verdict("GET /x?a;b;c;d;e HTTP/1.1\r\n\r\n"),
                     RT_HEAD_TOO_MANY_ARGS);
    assert_int_equal(verdict("GET /x?&&&& HTTP/1.1\r\n\r\n"),
                     RT_HEAD_TOO_MANY_ARGS);
    assert_int_equal(verdict("GET /a;b;c;d;e;f HTTP/1.1\r\n\r\n"),
                     RT_HEAD_TOO_MANY_ARGS);
    /* escaped separators are data; a second '?' is data */
    assert_int_equal(verdict("GET /x?a=%26%26%26%26%26%3B HTTP/1.1\r\n\r\n"),
                     RT_HEAD_DONE);
    assert_int_equal(verdict("GET /x?a=??????&b HTTP/1.1\r\n\r\n"),
                     RT_HEAD_DONE);
    /* the header fields' '&' are not arguments */
    assert_int_equal(verdict("GET /x HTTP/1.1\r\nCookie: a&b&c&d&e&f\r\n\r\n"),
                     RT_HEAD_DONE);
}

static void test_head_verdict_stays(void **state)
{
    struct rt__head h;
    static const char req[] = "GET / HTTP/1.1\r\n\r\n";

    (void)state;
    rt__head_init(&h, MAXB, MAXF, MAXA);
    assert_int_equal(rt__head_feed(&h, req, sizeof(req) - 1), RT_HEAD_DONE);
    /* a body or a pipelined request after the head is not measured */
    assert_int_equal(rt__head_feed(&h, "\n\n\n", 3), RT_HEAD_DONE);
    assert_int_equal(h.n, sizeof(req) - 1);
    /* the head ended inside one feed: bytes after it are not counted */
    rt__head_init(&h, MAXB, MAXF, MAXA);
    assert_int_equal(rt__head_feed(&h, "GET / HTTP/1.1\r\n\r\n&&&&&&&", 25),
                     RT_HEAD_DONE);
    assert_int_equal(h.n, sizeof(req) - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_head_complete_requests),
        cmocka_unit_test(test_head_incomplete_asks_for_more),
        cmocka_unit_test(test_head_not_http_is_handed_on),
        cmocka_unit_test(test_head_bytes_limit_is_exact),
        cmocka_unit_test(test_head_long_request_line_is_414),
        cmocka_unit_test(test_head_fields_are_counted),
        cmocka_unit_test(test_head_arguments_are_counted),
        cmocka_unit_test(test_head_verdict_stays),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
