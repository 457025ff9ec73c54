/*
 * test_buf.c: the byte buffer, JSON string quoting, base64url and the
 * error table of lib/core.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core_int.h"

static void assert_quoted(const char *in, size_t len, const char *want)
{
    rt_buf b;

    rt__buf_init(&b);
    assert_int_equal(rt__buf_json_str(&b, in, len), 0);
    assert_string_equal(b.data, want);
    assert_int_equal(b.len, strlen(want));
    rt__buf_cleanup(&b);
}

static void test_buf_json_escapes_specials(void **state)
{
    (void)state;
    assert_quoted("", 0, "\"\"");
    assert_quoted("hi", 2, "\"hi\"");
    assert_quoted("a\"b\\c", 5, "\"a\\\"b\\\\c\"");
    assert_quoted("\b\f\n\r\t", 5, "\"\\b\\f\\n\\r\\t\"");
    assert_quoted("\x01\x1f\x7f", 3, "\"\\u0001\\u001f\x7f\"");
    assert_quoted("/", 1, "\"/\"");
}

/* A NUL byte inside the data is data, not the end of the string. */
static void test_buf_json_keeps_nul(void **state)
{
    (void)state;
    assert_quoted("a\0b", 3, "\"a\\u0000b\"");
    assert_quoted("\0", 1, "\"\\u0000\"");
}

static void test_buf_json_passes_valid_utf8(void **state)
{
    (void)state;
    assert_quoted("\xc3\xa9", 2, "\"\xc3\xa9\"");                 /* é */
    assert_quoted("\xe2\x82\xac", 3, "\"\xe2\x82\xac\"");         /* € */
    assert_quoted("\xf0\x9f\x98\x80", 4, "\"\xf0\x9f\x98\x80\""); /* 😀 */
    assert_quoted("\xef\xbf\xbf", 3, "\"\xef\xbf\xbf\"");         /* U+FFFF */
    assert_quoted("\xf4\x8f\xbf\xbf", 4, "\"\xf4\x8f\xbf\xbf\""); /* max */
}

/* Ill-formed UTF-8 becomes U+FFFD, so the output is always valid JSON. */
static void test_buf_json_replaces_ill_formed_utf8(void **state)
{
    (void)state;
    assert_quoted("\xff", 1, "\"\xef\xbf\xbd\"");
    assert_quoted("\xc0\x80", 2,
                  "\"\xef\xbf\xbd\xef\xbf\xbd\""); /* overlong */
    assert_quoted("\xed\xa0\x80", 3,
                  "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""); /* surrogate */
    assert_quoted("\xf4\x90\x80\x80", 4,
                  "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
    /* A cut-short sequence is one maximal subpart: one U+FFFD. */
    assert_quoted("\xe2\x82", 2, "\"\xef\xbf\xbd\"");
    assert_quoted("a\xe2\x82"
                  "b",
                  4,
                  "\"a\xef\xbf\xbd"
                  "b\"");
    assert_quoted("\xf0\x9f\x98"
                  "x",
                  4,
                  "\"\xef\xbf\xbd"
                  "x\"");
    assert_quoted("\x80", 1, "\"\xef\xbf\xbd\"");
}

static void test_buf_grows_and_detaches(void **state)
{
    rt_buf b;
    char *p;
    size_t len, i;

    (void)state;
    rt__buf_init(&b);
    for (i = 0; i < 10000; i++)
        assert_int_equal(rt__buf_printf(&b, "%zu,", i % 10), 0);
    assert_int_equal(b.len, 20000);
    assert_int_equal(b.data[b.len], '\0');
    assert_memory_equal(b.data, "0,1,2,", 6);
    p = rt__buf_detach(&b, &len);
    assert_non_null(p);
    assert_int_equal(len, 20000);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    rt_free(p);
    /* An empty buffer detaches as an empty string, not NULL. */
    p = rt__buf_detach(&b, &len);
    assert_non_null(p);
    assert_int_equal(len, 0);
    assert_string_equal(p, "");
    rt_free(p);
    rt__buf_clear(&b);
    rt__buf_cleanup(&b);
}

static void test_buf_reserve_refuses_overflow(void **state)
{
    rt_buf b;

    (void)state;
    rt__buf_init(&b);
    assert_int_equal(rt__buf_append(&b, "x", 1), 0);
    assert_int_equal(rt__buf_reserve(&b, SIZE_MAX), RT_ENOMEM);
    assert_int_equal(rt__buf_reserve(&b, SIZE_MAX - 1), RT_ENOMEM);
    assert_int_equal(b.len, 1);
    rt__buf_cleanup(&b);
}

/* RFC 4648 section 10 vectors, in the URL alphabet, without padding. */
static void test_buf_b64url_rfc4648_vectors(void **state)
{
    static const char *const plain[] = {"",     "f",     "fo",    "foo",
                                        "foob", "fooba", "foobar"};
    static const char *const coded[] = {"",       "Zg",      "Zm8",     "Zm9v",
                                        "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    rt_buf b;
    size_t i;

    (void)state;
    for (i = 0; i < 7; i++) {
        rt__buf_init(&b);
        assert_int_equal(rt__b64url_encode(&b, plain[i], strlen(plain[i])), 0);
        assert_string_equal(b.data ? b.data : "", coded[i]);
        rt__buf_cleanup(&b);
        assert_int_equal(rt__b64url_decode(&b, coded[i], strlen(coded[i])), 0);
        assert_int_equal(b.len, strlen(plain[i]));
        assert_memory_equal(b.data, plain[i], b.len);
        rt__buf_cleanup(&b);
    }
    /* The two characters that differ from standard base64. */
    rt__buf_init(&b);
    assert_int_equal(rt__b64url_encode(&b, "\xfb\xff", 2), 0);
    assert_string_equal(b.data, "-_8");
    rt__buf_cleanup(&b);
}

static void test_buf_b64url_rejects_bad_input(void **state)
{
    static const char *const bad[] = {"Z",   "Zg=", "Zg==", "Z+8",
                                      "Z/8", "Zh",  "Zm9",  "a b"};
    rt_buf b;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        rt__buf_init(&b);
        assert_int_equal(rt__b64url_decode(&b, bad[i], strlen(bad[i])),
                         RT_EPROTO);
        rt__buf_cleanup(&b);
    }
}

static void test_buf_error_table_names_every_code(void **state)
{
    (void)state;
    assert_string_equal(rt_strerror(RT_OK), "success");
    assert_string_equal(rt_strerror(RT_ENOMEM), "out of memory");
    assert_string_equal(rt_err_name(RT_EPROTO), "PROTO");
    assert_string_equal(rt_err_name(RT_EEXPIRED), "EXPIRED");
    assert_string_equal(rt_strerror(12345), "unknown error");
    assert_string_equal(rt_err_name(-1), "UNKNOWN");
    assert_true(RT_ENOMEM < 0 && RT_EEXPIRED < 0);
    assert_false(rt_err_is_retryable(RT_ENOMEM));
    assert_false(rt_err_is_retryable(RT_EURL));
    assert_true(rt_err_is_retryable(RT_ECONNREFUSED));
    assert_true(rt_err_is_retryable(RT_ETIMEDOUT));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_json_escapes_specials),
        cmocka_unit_test(test_buf_json_keeps_nul),
        cmocka_unit_test(test_buf_json_passes_valid_utf8),
        cmocka_unit_test(test_buf_json_replaces_ill_formed_utf8),
        cmocka_unit_test(test_buf_grows_and_detaches),
        cmocka_unit_test(test_buf_reserve_refuses_overflow),
        cmocka_unit_test(test_buf_b64url_rfc4648_vectors),
        cmocka_unit_test(test_buf_b64url_rejects_bad_input),
        cmocka_unit_test(test_buf_error_table_names_every_code),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
