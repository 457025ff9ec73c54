/*
 * test_url.c: rt_url parsing, resolving, query building and room paths.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helpers.h"

#include "core_int.h"
#include "rt/url.h"

#define BASE "http://127.0.0.1:8080"

static char errbuf[256];

/* Resolve and format; NULL on error (the reason is in errbuf). */
static char *res(const char *base, const char *target, rt_url_kind kind,
                 int *rcp)
{
    rt_url *u = NULL;
    char *s = NULL;
    int rc;

    errbuf[0] = '\0';
    rc = rt_url_resolve(&u, base, target, kind, errbuf, sizeof errbuf);
    if (rcp != NULL)
        *rcp = rc;
    if (rc != 0) {
        assert_null(u);
        assert_true(errbuf[0] != '\0');
        return NULL;
    }
    assert_int_equal(rt_url_format(u, &s), 0);
    rt_url_free(u);
    return s;
}

static void expect_res(const char *base, const char *target, rt_url_kind kind,
                       const char *want)
{
    int rc;
    char *s = res(base, target, kind, &rc);

    if (s == NULL)
        fail_msg("resolve('%s', '%s', %d) failed: %s", base, target, (int)kind,
                 errbuf);
    assert_string_equal(s, want);
    rt_free(s);
}

static void expect_res_err(const char *base, const char *target,
                           rt_url_kind kind, int want_rc, const char *msg)
{
    int rc;
    char *s = res(base, target, kind, &rc);

    if (s != NULL)
        fail_msg("resolve('%s') gave '%s'", target, s);
    assert_int_equal(rc, want_rc);
    if (msg != NULL && strstr(errbuf, msg) == NULL)
        fail_msg("error '%s' lacks '%s'", errbuf, msg);
}

/* Parse and format; returns the string or NULL. */
static char *canon(const char *in, int *rcp)
{
    rt_url *u = NULL;
    char *s = NULL;
    int rc;

    errbuf[0] = '\0';
    rc = rt_url_parse(&u, in, errbuf, sizeof errbuf);
    if (rcp != NULL)
        *rcp = rc;
    if (rc != 0) {
        assert_null(u);
        return NULL;
    }
    assert_int_equal(rt_url_format(u, &s), 0);
    rt_url_free(u);
    return s;
}

static void expect_canon(const char *in, const char *want)
{
    char *s = canon(in, NULL);

    if (s == NULL)
        fail_msg("parse('%s') failed: %s", in, errbuf);
    assert_string_equal(s, want);
    rt_free(s);
}

static void expect_parse_err(const char *in, int want_rc, const char *msg)
{
    int rc;
    char *s = canon(in, &rc);

    if (s != NULL)
        fail_msg("parse('%s') gave '%s'", in, s);
    assert_int_equal(rc, want_rc);
    if (msg != NULL && strstr(errbuf, msg) == NULL)
        fail_msg("error for '%s' is '%s', lacks '%s'", in, errbuf, msg);
}

/* ------------------------------------------------------------- rooms */

static void test_url_room_maps_to_endpoint_of_each_kind(void **state)
{
    (void)state;
    expect_res(BASE, "general", RT_URL_KIND_WS,
               "ws://127.0.0.1:8080/ws/general");
    expect_res(BASE, "general", RT_URL_KIND_SSE,
               "http://127.0.0.1:8080/events/general");
    expect_res(BASE, "general", RT_URL_KIND_POLL,
               "http://127.0.0.1:8080/poll/general");
    expect_res(BASE, "general", RT_URL_KIND_PUBLISH,
               "http://127.0.0.1:8080/publish/general");
    expect_res(BASE, "a.b_c-D9", RT_URL_KIND_WS,
               "ws://127.0.0.1:8080/ws/a.b_c-D9");
}

static void test_url_bare_word_is_a_path_without_room_kind(void **state)
{
    (void)state;
    expect_res(BASE, "rooms", RT_URL_KIND_HTTP, "http://127.0.0.1:8080/rooms");
    expect_res("ws://h/api/", "echo", RT_URL_KIND_ANY, "ws://h/api/echo");
    /* No room rules apply to it. */
    expect_res("http://h", "a@b", RT_URL_KIND_HTTP, "http://h/a@b");
    expect_res_err("http://h", "a b", RT_URL_KIND_HTTP, RT_EURL, "space");
}

static void test_url_room_below_base_prefix(void **state)
{
    (void)state;
    expect_res("http://h/api", "general", RT_URL_KIND_SSE,
               "http://h/api/events/general");
    expect_res("http://h/api/", "general", RT_URL_KIND_WS,
               "ws://h/api/ws/general");
    expect_res("http://h/", "general", RT_URL_KIND_POLL,
               "http://h/poll/general");
    expect_res("http://h", "general", RT_URL_KIND_POLL,
               "http://h/poll/general");
}

static void test_url_room_base_query_is_kept(void **state)
{
    (void)state;
    expect_res("http://h:1/?token=abc", "general", RT_URL_KIND_WS,
               "ws://h:1/ws/general?token=abc");
}

static void test_url_room_bad_names_are_explained(void **state)
{
    char name65[66];

    (void)state;
    memset(name65, 'a', 65);
    name65[65] = '\0';
    expect_res_err(BASE, name65, RT_URL_KIND_WS, RT_EURL,
                   "longer than 64 characters");
    name65[64] = '\0';
    expect_res(BASE, name65, RT_URL_KIND_WS,
               "ws://127.0.0.1:8080/ws/"
               "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
               "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    expect_res_err(BASE, "", RT_URL_KIND_WS, RT_EURL, "empty");
    expect_res_err(BASE, "a b", RT_URL_KIND_WS, RT_EURL, "space");
    expect_res_err(BASE, "caf\xc3\xa9", RT_URL_KIND_WS, RT_EURL,
                   "invalid character '\\xC3' in room name");
    expect_res_err(BASE, "a#b", RT_URL_KIND_WS, RT_EURL,
                   "invalid character '#'");
    expect_res_err(BASE, "a@b", RT_URL_KIND_WS, RT_EURL,
                   "invalid character '@'");
    expect_res_err(BASE, "..", RT_URL_KIND_WS, RT_EURL, "not allowed");
    expect_res_err(BASE, ".", RT_URL_KIND_WS, RT_EURL, "not allowed");
}

static void test_url_room_valid_charset_and_bounds(void **state)
{
    char buf[70];

    (void)state;
    memset(buf, 'x', sizeof buf);
    assert_true(rt_room_valid("general", 7));
    assert_true(rt_room_valid("A-Z_a.z-09", 10));
    assert_true(rt_room_valid(buf, 64));
    assert_false(rt_room_valid(buf, 65));
    assert_false(rt_room_valid("", 0));
    assert_false(rt_room_valid(NULL, 3));
    assert_false(rt_room_valid("a/b", 3));
    assert_false(rt_room_valid("a b", 3));
    assert_false(rt_room_valid("a\0b", 3));
    assert_false(rt_room_valid("..", 2));
    assert_true(rt_room_valid("...", 3));
    assert_true(rt_room_valid(".a", 2));
    /* The length is authoritative, not a terminator. */
    assert_true(rt_room_valid("gen/", 3));
}

/* ------------------------------------------------------------- paths */

static void test_url_path_joins_base_with_or_without_slashes(void **state)
{
    (void)state;
    expect_res(BASE, "events/general", RT_URL_KIND_SSE,
               "http://127.0.0.1:8080/events/general");
    expect_res(BASE, "/events/general", RT_URL_KIND_SSE,
               "http://127.0.0.1:8080/events/general");
    expect_res("http://h/api", "/events/general", RT_URL_KIND_SSE,
               "http://h/api/events/general");
    expect_res("http://h/api/", "events/general", RT_URL_KIND_SSE,
               "http://h/api/events/general");
    expect_res("http://h/api/", "/events/general", RT_URL_KIND_SSE,
               "http://h/api/events/general");
    expect_res("http://h/api", "events/general/", RT_URL_KIND_SSE,
               "http://h/api/events/general/");
}

static void test_url_path_scheme_follows_kind(void **state)
{
    (void)state;
    expect_res(BASE, "ws/general?x=1", RT_URL_KIND_WS,
               "ws://127.0.0.1:8080/ws/general?x=1");
    expect_res("https://h", "ws/general", RT_URL_KIND_WS,
               "wss://h/ws/general");
    expect_res("wss://h", "events/general", RT_URL_KIND_SSE,
               "https://h/events/general");
    expect_res("ws://h:81", "rooms", RT_URL_KIND_HTTP, "http://h:81/rooms");
    expect_res("wss://h", "echo/", RT_URL_KIND_ANY, "wss://h/echo/");
    expect_res("https://h:8443/p", "poll/r", RT_URL_KIND_POLL,
               "https://h:8443/p/poll/r");
    expect_res("http://h", "publish/r", RT_URL_KIND_PUBLISH,
               "http://h/publish/r");
}

static void test_url_path_query_merges_with_base_query(void **state)
{
    (void)state;
    expect_res("http://h/?token=t&user=a", "ws/g?user=b&since=3",
               RT_URL_KIND_WS, "ws://h/ws/g?token=t&user=b&since=3");
    expect_res("http://h/api", "?x=1", RT_URL_KIND_ANY, "http://h/api?x=1");
    expect_res(BASE, "events/g#frag", RT_URL_KIND_SSE,
               "http://127.0.0.1:8080/events/g");
}

static void test_url_path_dot_segments_stay_below_root(void **state)
{
    (void)state;
    expect_res("http://h/api/v1", "../events/g", RT_URL_KIND_SSE,
               "http://h/api/events/g");
    expect_res("http://h/", "../../x/./y", RT_URL_KIND_HTTP, "http://h/x/y");
}

static void test_url_path_bad_bytes_refused(void **state)
{
    (void)state;
    expect_res_err(BASE, "events/a b", RT_URL_KIND_SSE, RT_EURL, "space");
    expect_res_err(BASE, "events/a\tb", RT_URL_KIND_SSE, RT_EURL,
                   "control character 0x09");
    expect_res_err(BASE, "events/%zz", RT_URL_KIND_SSE, RT_EURL,
                   "percent-escape");
    expect_res(BASE, "events/caf\xc3\xa9", RT_URL_KIND_SSE,
               "http://127.0.0.1:8080/events/caf%C3%A9");
}

static void test_url_target_without_scheme_is_explained(void **state)
{
    (void)state;
    expect_res_err(BASE, "localhost:8080/ws/g", RT_URL_KIND_WS, RT_EURL,
                   "without its scheme");
    expect_res_err(BASE, "h:1", RT_URL_KIND_WS, RT_EURL, "scheme");
}

/* --------------------------------------------------------- full URLs */

static void test_url_full_url_used_as_given_scheme_converted(void **state)
{
    (void)state;
    expect_res(BASE, "wss://echo.example/socket", RT_URL_KIND_WS,
               "wss://echo.example/socket");
    expect_res(BASE, "https://echo.example/socket", RT_URL_KIND_WS,
               "wss://echo.example/socket");
    expect_res(BASE, "http://h/x", RT_URL_KIND_WS, "ws://h/x");
    expect_res(BASE, "ws://h/x", RT_URL_KIND_SSE, "http://h/x");
    expect_res(BASE, "wss://h/x", RT_URL_KIND_POLL, "https://h/x");
    expect_res(BASE, "WS://H/x", RT_URL_KIND_ANY, "ws://h/x");
    /* The base plays no part, even when it is broken. */
    expect_res("nonsense", "http://h/x", RT_URL_KIND_SSE, "http://h/x");
    expect_res_err(BASE, "ftp://h/x", RT_URL_KIND_WS, RT_EURL,
                   "unsupported scheme 'ftp'");
}

static void test_url_bad_base_is_named(void **state)
{
    (void)state;
    expect_res_err("127.0.0.1:8080", "general", RT_URL_KIND_WS, RT_EURL,
                   "base URL: ");
    expect_res_err("http://h:0", "general", RT_URL_KIND_WS, RT_EURL,
                   "base URL: port '0' out of range");
}

static void test_url_resolve_rejects_null_arguments(void **state)
{
    rt_url *u = (rt_url *)&u;

    (void)state;
    assert_int_equal(rt_url_resolve(&u, NULL, "g", RT_URL_KIND_WS, NULL, 0),
                     RT_EINVAL);
    assert_null(u);
    assert_int_equal(rt_url_resolve(&u, BASE, NULL, RT_URL_KIND_WS, NULL, 0),
                     RT_EINVAL);
    assert_int_equal(rt_url_resolve(NULL, BASE, "g", RT_URL_KIND_WS, NULL, 0),
                     RT_EINVAL);
    assert_int_equal(rt_url_resolve(&u, BASE, "g", (rt_url_kind)42, errbuf, 0),
                     RT_EINVAL);
}

/* ----------------------------------------------------------- parsing */

static void test_url_parse_fields_and_defaults(void **state)
{
    rt_url *u;

    (void)state;
    assert_int_equal(rt_url_parse(&u, "HTTPS://Example.COM", NULL, 0), 0);
    assert_int_equal(rt_url_get_scheme(u), RT_URL_HTTPS);
    assert_string_equal(rt_url_host(u), "example.com");
    assert_int_equal(rt_url_port(u), 443);
    assert_string_equal(rt_url_path(u), "/");
    assert_string_equal(rt_url_query(u), "");
    assert_true(rt_url_is_tls(u));
    assert_false(rt_url_is_ipv6(u));
    rt_url_free(u);

    assert_int_equal(rt_url_parse(&u, "ws://h:9/a/b?c=d#e", NULL, 0), 0);
    assert_int_equal(rt_url_get_scheme(u), RT_URL_WS);
    assert_int_equal(rt_url_port(u), 9);
    assert_string_equal(rt_url_path(u), "/a/b");
    assert_string_equal(rt_url_query(u), "c=d");
    assert_false(rt_url_is_tls(u));
    rt_url_free(u);

    expect_canon("wss://h:443/x", "wss://h/x");
    expect_canon("ws://h:80", "ws://h/");
    expect_canon("http://h:443/", "http://h:443/");
    expect_canon("http://h:/", "http://h/");
    expect_canon("http://h?", "http://h/");
    expect_canon("http://h?a#b", "http://h/?a");
}

static void test_url_parse_ports_at_and_past_the_bounds(void **state)
{
    (void)state;
    expect_canon("http://h:65535/", "http://h:65535/");
    expect_canon("http://h:1/", "http://h:1/");
    expect_canon("http://h:0080/", "http://h/");
    expect_parse_err("http://h:65536/", RT_EURL,
                     "port '65536' out of range (1-65535)");
    expect_parse_err("http://h:0/", RT_EURL, "port '0' out of range");
    expect_parse_err("http://h:99999/", RT_EURL, "port '99999' out of range");
    expect_parse_err("http://h:99999999999999999999999/", RT_EURL,
                     "out of range");
    expect_parse_err("http://h:8o/", RT_EURL, "invalid port '8o'");
    expect_parse_err("http://h:-1/", RT_EURL, "invalid port");
    expect_parse_err("http://h:80:81/", RT_EURL, "invalid port '80:81'");
}

static void test_url_parse_ipv6_literals(void **state)
{
    rt_url *u;
    char *s;

    (void)state;
    assert_int_equal(rt_url_parse(&u, "ws://[::1]:8080/ws/g", NULL, 0), 0);
    assert_true(rt_url_is_ipv6(u));
    assert_string_equal(rt_url_host(u), "::1");
    assert_int_equal(rt_url_port(u), 8080);
    assert_int_equal(rt_url_host_header(u, &s), 0);
    assert_string_equal(s, "[::1]:8080");
    rt_free(s);
    assert_int_equal(rt_url_origin(u, &s), 0);
    assert_string_equal(s, "ws://[::1]:8080");
    rt_free(s);
    rt_url_free(u);

    expect_canon("http://[2001:DB8::A]/", "http://[2001:db8::a]/");
    expect_canon("http://[::]", "http://[::]/");
    expect_canon("http://[1:2:3:4:5:6:7:8]:1", "http://[1:2:3:4:5:6:7:8]:1/");
    expect_canon("http://[::ffff:192.0.2.1]/", "http://[::ffff:192.0.2.1]/");
    expect_canon("http://[1::]/", "http://[1::]/");
    expect_parse_err("http://[::1/", RT_EURL, "missing ']'");
    expect_parse_err("http://[fe80::1%25eth0]/", RT_EURL, "zone");
    expect_parse_err("http://[1:2:3:4:5:6:7:8:9]/", RT_EURL, "invalid IPv6");
    expect_parse_err("http://[1:2:3:4:5:6:7]/", RT_EURL, "invalid IPv6");
    expect_parse_err("http://[1::2::3]/", RT_EURL, "invalid IPv6");
    expect_parse_err("http://[12345::]/", RT_EURL, "invalid IPv6");
    expect_parse_err("http://[:1]/", RT_EURL, "invalid IPv6");
    expect_parse_err("http://[1:]/", RT_EURL, "invalid IPv6");
    expect_parse_err("http://[g::]/", RT_EURL, "invalid IPv6");
    expect_parse_err("http://[v1.x]/", RT_EURL, "invalid IPv6");
    expect_parse_err("http://[]/", RT_EURL, "invalid IPv6");
    expect_parse_err("http://[::1]x/", RT_EURL, "after IPv6");
    expect_parse_err("http://[::256.1.1.1]/", RT_EURL, "invalid IPv6");
}

static void test_url_parse_hosts(void **state)
{
    (void)state;
    expect_canon("http://192.168.0.1:8080", "http://192.168.0.1:8080/");
    expect_canon("http://my_host.example./", "http://my_host.example./");
    expect_canon("http://xn--caf-dma.example/", "http://xn--caf-dma.example/");
    expect_parse_err("http://256.1.1.1/", RT_EURL, "invalid IPv4");
    expect_parse_err("http://1.2.3/", RT_EURL, "invalid IPv4");
    expect_parse_err("http://01.2.3.4/", RT_EURL, "invalid IPv4");
    expect_parse_err("http://1.2.3.4./", RT_EURL, "invalid IPv4");
    expect_parse_err("http://a..b/", RT_EURL, "empty label");
    expect_parse_err("http://caf\xc3\xa9.example/", RT_EURL, "xn--");
    expect_parse_err("http://a%41/", RT_EURL, "invalid character '%'");
    expect_parse_err("http:///x", RT_EURL, "missing host");
    expect_parse_err("http://:80/x", RT_EURL, "missing host");
    expect_parse_err("http://", RT_EURL, "missing host");
}

static void test_url_parse_refuses_userinfo(void **state)
{
    (void)state;
    expect_parse_err("http://alice:secret@h/", RT_EURL, "--token");
    expect_parse_err("ws://alice@h/", RT_EURL, "not supported");
    /* An '@' in the path is not userinfo. */
    expect_canon("http://h/a@b", "http://h/a@b");
}

static void test_url_parse_scheme_errors(void **state)
{
    (void)state;
    expect_parse_err("ftp://h/", RT_EURL, "unsupported scheme 'ftp'");
    expect_parse_err("h/x", RT_EURL, "missing scheme");
    expect_parse_err("localhost:8080", RT_EURL, "missing scheme");
    expect_parse_err("http:/h", RT_EURL, "expected '//' after 'http:'");
    expect_parse_err("", RT_EURL, "missing scheme");
    expect_parse_err("://h", RT_EURL, "missing scheme");
}

static void test_url_parse_refuses_spaces_and_controls(void **state)
{
    (void)state;
    expect_parse_err("http://h/a b", RT_EURL, "space at offset 10");
    expect_parse_err(" http://h/", RT_EURL, "space");
    expect_parse_err("http://h/\r\n", RT_EURL, "control character 0x0D");
    expect_parse_err("http://h/\x7f", RT_EURL, "0x7F");
}

static void test_url_parse_length_bound(void **state)
{
    size_t n = RT_URL_MAX_LEN;
    char *s = malloc(n + 2);
    char *f;

    (void)state;
    memcpy(s, "http://h/", 9);
    memset(s + 9, 'a', n - 9);
    s[n] = '\0';
    f = canon(s, NULL);
    assert_non_null(f);
    assert_int_equal(strlen(f), n);
    rt_free(f);
    s[n] = 'a';
    s[n + 1] = '\0';
    expect_parse_err(s, RT_ETOOBIG, "longer than 8192");
    /* Within the bound as typed, past it once encoded. */
    memset(s + 9, '^', n - 9);
    s[n] = '\0';
    expect_parse_err(s, RT_ETOOBIG, "encoded");
    free(s);
}

static void test_url_parse_normalises_path_and_query(void **state)
{
    (void)state;
    expect_canon("http://h/a/./b/../c", "http://h/a/c");
    expect_canon("http://h/a/..", "http://h/");
    expect_canon("http://h/..", "http://h/");
    expect_canon("http://h/a/.", "http://h/a/");
    expect_canon("http://h//x", "http://h//x");
    expect_canon("http://h/%7e%2fx", "http://h/%7E%2Fx");
    expect_canon("http://h/a\"<>\\^`{|}[]", "http://h/a%22%3C%3E%5C%5E%60%7B"
                                            "%7C%7D%5B%5D");
    expect_canon("http://h/?a=/?:@!$'()*+,;=", "http://h/?a=/?:@!$'()*+,;=");
    expect_canon("http://h/x?q=\xe2\x82\xac", "http://h/x?q=%E2%82%AC");
    expect_parse_err("http://h/%", RT_EURL, "invalid percent-escape '%'");
    expect_parse_err("http://h/%4", RT_EURL, "invalid percent-escape '%4'");
    expect_parse_err("http://h/?a=%g0", RT_EURL, "in query");
}

static void test_url_parse_format_round_trip(void **state)
{
    static const char *const in[] = {
        "ws://127.0.0.1:8080/ws/general?since=42&epoch=k3f9a",
        "wss://[2001:db8::1]:8443/a%20b/c?x=%26&y",
        "https://example.com/events/room?lastEventId=e-1",
        "http://h:1/%C3%A9?%3D=%3D",
        "http://a.b.c/x/y/z/",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof in / sizeof in[0]; i++) {
        char *a = canon(in[i], NULL), *b;
        assert_non_null(a);
        assert_string_equal(a, in[i]);
        b = canon(a, NULL);
        assert_non_null(b);
        assert_string_equal(a, b);
        rt_free(a);
        rt_free(b);
    }
}

static void test_url_parse_rejects_null(void **state)
{
    rt_url *u = (rt_url *)&u;
    char *s = (char *)&s;

    (void)state;
    assert_int_equal(rt_url_parse(&u, NULL, errbuf, sizeof errbuf), RT_EINVAL);
    assert_null(u);
    assert_int_equal(rt_url_parse(NULL, "http://h", NULL, 0), RT_EINVAL);
    assert_int_equal(rt_url_format(NULL, &s), RT_EINVAL);
    assert_null(s);
    rt_url_free(NULL);
}

static void test_url_errbuf_is_truncated_safely(void **state)
{
    char small[8];
    rt_url *u;

    (void)state;
    memset(small, 'x', sizeof small);
    assert_int_equal(rt_url_parse(&u, "ftp://h", small, sizeof small),
                     RT_EURL);
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_int_equal(rt_url_parse(&u, "ftp://h", NULL, 100), RT_EURL);
}

/* ------------------------------------------------------------- query */

static char *fmt_free(rt_url *u)
{
    char *s;

    assert_int_equal(rt_url_format(u, &s), 0);
    return s;
}

static void test_url_query_set_encodes_values(void **state)
{
    rt_url *u;
    char *s, *v;
    size_t vn;

    (void)state;
    assert_int_equal(rt_url_parse(&u, "http://h/poll/g", NULL, 0), 0);
    assert_int_equal(rt_url_query_set(u, "user", "a b&c=d+e"), 0);
    assert_int_equal(rt_url_query_set(u, "name", "caf\xc3\xa9~._-"), 0);
    assert_int_equal(rt_url_query_set(u, "k y", "%/?#"), 0);
    s = fmt_free(u);
    assert_string_equal(s, "http://h/poll/g?user=a%20b%26c%3Dd%2Be&"
                           "name=caf%C3%A9~._-&k%20y=%25%2F%3F%23");
    rt_free(s);

    assert_int_equal(rt_url_query_get(u, "user", &v, &vn), 0);
    assert_string_equal(v, "a b&c=d+e");
    assert_int_equal(vn, 9);
    rt_free(v);
    assert_int_equal(rt_url_query_get(u, "k y", &v, NULL), 0);
    assert_string_equal(v, "%/?#");
    rt_free(v);
    assert_int_equal(rt_url_query_get(u, "absent", &v, &vn), 0);
    assert_null(v);
    assert_int_equal(vn, 0);
    rt_url_free(u);
}

static void test_url_query_set_replaces_or_appends(void **state)
{
    rt_url *u;
    char *s;

    (void)state;
    assert_int_equal(
        rt_url_parse(&u, "ws://h/ws/g?since=1&x=2&since=3&%73ince=4", NULL, 0),
        0);
    assert_int_equal(rt_url_query_set(u, "since", "42"), 0);
    s = fmt_free(u);
    assert_string_equal(s, "ws://h/ws/g?since=42&x=2");
    rt_free(s);
    assert_int_equal(rt_url_query_set(u, "epoch", "k3f9a"), 0);
    assert_int_equal(rt_url_query_set(u, "x", ""), 0);
    s = fmt_free(u);
    assert_string_equal(s, "ws://h/ws/g?since=42&x=&epoch=k3f9a");
    rt_free(s);
    /* A prefix of a name is another name. */
    assert_int_equal(rt_url_query_set(u, "sinc", "0"), 0);
    assert_int_equal(rt_url_query_set(u, "since", NULL), 0);
    s = fmt_free(u);
    assert_string_equal(s, "ws://h/ws/g?x=&epoch=k3f9a&sinc=0");
    rt_free(s);
    assert_int_equal(rt_url_query_set(u, "x", NULL), 0);
    assert_int_equal(rt_url_query_set(u, "epoch", NULL), 0);
    assert_int_equal(rt_url_query_set(u, "sinc", NULL), 0);
    assert_int_equal(rt_url_query_set(u, "nothing", NULL), 0);
    s = fmt_free(u);
    assert_string_equal(s, "ws://h/ws/g");
    rt_free(s);
    assert_int_equal(rt_url_query_set(u, "", "v"), RT_EINVAL);
    assert_int_equal(rt_url_query_set(u, NULL, "v"), RT_EINVAL);
    assert_int_equal(rt_url_query_set(NULL, "k", "v"), RT_EINVAL);
    rt_url_free(u);
}

static void test_url_query_get_flag_and_escaped_name(void **state)
{
    rt_url *u;
    char *v;
    size_t n;

    (void)state;
    assert_int_equal(
        rt_url_parse(&u, "http://h/?flag&a%62=%00z&c=1+2", NULL, 0), 0);
    assert_int_equal(rt_url_query_get(u, "flag", &v, &n), 0);
    assert_string_equal(v, "");
    rt_free(v);
    assert_int_equal(rt_url_query_get(u, "ab", &v, &n), 0);
    assert_int_equal(n, 2);
    assert_memory_equal(v, "\0z", 2);
    rt_free(v);
    assert_int_equal(rt_url_query_get(u, "c", &v, &n), 0);
    assert_string_equal(v, "1+2");
    rt_free(v);
    rt_url_free(u);
}

static void test_url_query_set_respects_length_bound(void **state)
{
    rt_url *u;
    char *big = malloc(RT_URL_MAX_LEN);
    char *before, *after;

    (void)state;
    memset(big, 'v', RT_URL_MAX_LEN - 1);
    big[RT_URL_MAX_LEN - 1] = '\0';
    assert_int_equal(rt_url_parse(&u, "http://h/?a=1", NULL, 0), 0);
    before = fmt_free(u);
    assert_int_equal(rt_url_query_set(u, "a", big), RT_ETOOBIG);
    after = fmt_free(u);
    assert_string_equal(before, after);
    rt_free(after);
    /* Exactly at the bound: "http://h/?a=" is 12 bytes. */
    big[RT_URL_MAX_LEN - 12] = '\0';
    assert_int_equal(rt_url_query_set(u, "a", big), 0);
    after = fmt_free(u);
    assert_int_equal(strlen(after), RT_URL_MAX_LEN);
    rt_free(after);
    rt_free(before);
    rt_url_free(u);
    free(big);
}

/* ------------------------------------------------------ other output */

static void test_url_host_header_origin_request_target(void **state)
{
    rt_url *u, *d;
    char *s;

    (void)state;
    assert_int_equal(
        rt_url_parse(&u, "wss://H.example:443/ws/g?since=1", NULL, 0), 0);
    assert_int_equal(rt_url_host_header(u, &s), 0);
    assert_string_equal(s, "h.example");
    rt_free(s);
    assert_int_equal(rt_url_origin(u, &s), 0);
    assert_string_equal(s, "wss://h.example");
    rt_free(s);
    assert_int_equal(rt_url_request_target(u, &s), 0);
    assert_string_equal(s, "/ws/g?since=1");
    rt_free(s);

    assert_int_equal(rt_url_dup(&d, u), 0);
    rt_url_free(u);
    assert_int_equal(rt_url_query_set(d, "since", "2"), 0);
    assert_int_equal(rt_url_request_target(d, &s), 0);
    assert_string_equal(s, "/ws/g?since=2");
    rt_free(s);
    rt_url_free(d);

    assert_int_equal(rt_url_parse(&u, "http://h:8080", NULL, 0), 0);
    assert_int_equal(rt_url_host_header(u, &s), 0);
    assert_string_equal(s, "h:8080");
    rt_free(s);
    assert_int_equal(rt_url_request_target(u, &s), 0);
    assert_string_equal(s, "/");
    rt_free(s);
    rt_url_free(u);
}

/* ------------------------------------------------------- room paths */

static void test_url_room_extracted_from_endpoint_paths(void **state)
{
    static const struct {
        const char *url;
        const char *room;
        rt_url_kind kind;
    } cases[] = {
        {"ws://h/ws/general", "general", RT_URL_KIND_WS},
        {"http://h/events/a.b", "a.b", RT_URL_KIND_SSE},
        {"http://h/poll/x?since=1", "x", RT_URL_KIND_POLL},
        {"http://h/api/publish/r-1", "r-1", RT_URL_KIND_PUBLISH},
        {"http://h/events/", NULL, RT_URL_KIND_ANY},
        {"http://h/events/general/", NULL, RT_URL_KIND_ANY},
        {"http://h/rooms/general", NULL, RT_URL_KIND_ANY},
        {"http://h/general", NULL, RT_URL_KIND_ANY},
        {"http://h/", NULL, RT_URL_KIND_ANY},
        {"http://h/ws/a%20b", NULL, RT_URL_KIND_ANY},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rt_url *u;
        rt_url_kind k = RT_URL_KIND_ANY;
        const char *r;

        assert_int_equal(rt_url_parse(&u, cases[i].url, NULL, 0), 0);
        r = rt_url_room(u, &k);
        if (cases[i].room == NULL) {
            assert_null(r);
        } else {
            assert_non_null(r);
            assert_string_equal(r, cases[i].room);
            assert_int_equal(k, cases[i].kind);
        }
        rt_url_free(u);
    }
    assert_null(rt_url_room(NULL, NULL));
}

static void test_url_path_room_for_server_routing(void **state)
{
    rt_url_room_ref ref;
    const char *p;

    (void)state;
    p = "/ws/general?since=1";
    assert_int_equal(rt_url_path_room(p, strlen(p), &ref), 0);
    assert_int_equal(ref.kind, RT_URL_KIND_WS);
    assert_int_equal(ref.prefix_len, 0);
    assert_int_equal(ref.room_len, 7);
    assert_memory_equal(ref.room, "general", 7);

    p = "/api/events/r";
    assert_int_equal(rt_url_path_room(p, strlen(p), &ref), 0);
    assert_int_equal(ref.kind, RT_URL_KIND_SSE);
    assert_int_equal(ref.prefix_len, 4);

    /* The length bounds the path. */
    p = "/poll/abcdef";
    assert_int_equal(rt_url_path_room(p, 9, &ref), 0);
    assert_int_equal(ref.room_len, 3);

    p = "/ws/";
    assert_int_equal(rt_url_path_room(p, strlen(p), &ref), RT_EURL);
    p = "/ws/bad%20name";
    assert_int_equal(rt_url_path_room(p, strlen(p), &ref), RT_EURL);
    p = "/ws/..";
    assert_int_equal(rt_url_path_room(p, strlen(p), &ref), RT_EURL);
    p = "/ws/a/b";
    assert_int_equal(rt_url_path_room(p, strlen(p), &ref), RT_EINVAL);
    p = "/metrics";
    assert_int_equal(rt_url_path_room(p, strlen(p), &ref), RT_EINVAL);
    p = "ws/general";
    assert_int_equal(rt_url_path_room(p, strlen(p), &ref), RT_EINVAL);
    p = "/wss/general";
    assert_int_equal(rt_url_path_room(p, strlen(p), &ref), RT_EINVAL);
    assert_int_equal(rt_url_path_room("", 0, &ref), RT_EINVAL);
    assert_int_equal(rt_url_path_room(NULL, 0, &ref), RT_EINVAL);
}

/* ----------------------------------------------- allocation failure */

static void test_url_every_allocation_failure_is_clean(void **state)
{
    int n, rc;

    (void)state;
    th_alloc_install();
    for (n = 0;; n++) {
        rt_url *u = NULL;
        char *s = NULL;

        th_alloc_fail_from(n);
        rc = rt_url_resolve(&u, "https://h:1/api?token=t&user=x",
                            "ws/g?user=b&since=3#f", RT_URL_KIND_WS, errbuf,
                            sizeof errbuf);
        if (rc == 0)
            rc = rt_url_query_set(u, "epoch", "a b");
        if (rc == 0)
            rc = rt_url_format(u, &s);
        rt_free(s);
        rt_url_free(u);
        assert_int_equal(th_alloc_live(), 0);
        if (rc == 0)
            break;
        assert_int_equal(rc, RT_ENOMEM);
    }
    assert_true(n > 5);
    th_alloc_uninstall();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_room_maps_to_endpoint_of_each_kind),
        cmocka_unit_test(test_url_bare_word_is_a_path_without_room_kind),
        cmocka_unit_test(test_url_room_below_base_prefix),
        cmocka_unit_test(test_url_room_base_query_is_kept),
        cmocka_unit_test(test_url_room_bad_names_are_explained),
        cmocka_unit_test(test_url_room_valid_charset_and_bounds),
        cmocka_unit_test(test_url_path_joins_base_with_or_without_slashes),
        cmocka_unit_test(test_url_path_scheme_follows_kind),
        cmocka_unit_test(test_url_path_query_merges_with_base_query),
        cmocka_unit_test(test_url_path_dot_segments_stay_below_root),
        cmocka_unit_test(test_url_path_bad_bytes_refused),
        cmocka_unit_test(test_url_target_without_scheme_is_explained),
        cmocka_unit_test(test_url_full_url_used_as_given_scheme_converted),
        cmocka_unit_test(test_url_bad_base_is_named),
        cmocka_unit_test(test_url_resolve_rejects_null_arguments),
        cmocka_unit_test(test_url_parse_fields_and_defaults),
        cmocka_unit_test(test_url_parse_ports_at_and_past_the_bounds),
        cmocka_unit_test(test_url_parse_ipv6_literals),
        cmocka_unit_test(test_url_parse_hosts),
        cmocka_unit_test(test_url_parse_refuses_userinfo),
        cmocka_unit_test(test_url_parse_scheme_errors),
        cmocka_unit_test(test_url_parse_refuses_spaces_and_controls),
        cmocka_unit_test(test_url_parse_length_bound),
        cmocka_unit_test(test_url_parse_normalises_path_and_query),
        cmocka_unit_test(test_url_parse_format_round_trip),
        cmocka_unit_test(test_url_parse_rejects_null),
        cmocka_unit_test(test_url_errbuf_is_truncated_safely),
        cmocka_unit_test(test_url_query_set_encodes_values),
        cmocka_unit_test(test_url_query_set_replaces_or_appends),
        cmocka_unit_test(test_url_query_get_flag_and_escaped_name),
        cmocka_unit_test(test_url_query_set_respects_length_bound),
        cmocka_unit_test(test_url_host_header_origin_request_target),
        cmocka_unit_test(test_url_room_extracted_from_endpoint_paths),
        cmocka_unit_test(test_url_path_room_for_server_routing),
        cmocka_unit_test(test_url_every_allocation_failure_is_clean),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
