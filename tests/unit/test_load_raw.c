/*
 * test_load_raw.c: the messages of `rtctl load --raw` (cli/load/raw.c):
 * templates filled in, markers found again in whatever an echo server
 * sends back, and nothing else taken for one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "load/load.h"

static void test_raw_default_template_pads_to_size(void **state)
{
    char out[128];
    size_t n;

    (void)state;
    n = cli_raw_fill(out, sizeof(out), "{marker}", 64, 7, 42, 123456);
    assert_int_equal(n, 64);
    assert_int_equal(strlen(out), 64);
    assert_memory_equal(out, "rtl1 7:42:123456 x", 18);
}

static void test_raw_template_every_marker_replaced(void **state)
{
    char out[256];
    const char *tpl = "{\"a\":\"{marker}\",\"b\":\"{marker}\"}";
    size_t n;

    (void)state;
    assert_true(cli_raw_template_ok(tpl));
    assert_false(cli_raw_template_ok("{mark}"));
    n = cli_raw_fill(out, sizeof(out), tpl, 0, 1, 2, 3);
    assert_string_equal(out, "{\"a\":\"rtl1 1:2:3 \",\"b\":\"rtl1 1:2:3 \"}");
    assert_int_equal(n, strlen(out));
    assert_true(cli_raw_size(tpl, 0) > n);
    /* too small a buffer: 0, not a cut message */
    assert_int_equal(cli_raw_fill(out, 10, tpl, 0, 1, 2, 3), 0);
}

static void test_raw_parse_finds_marker_in_echo(void **state)
{
    const char *echo = "{\"echo\":\"rtl1 12:345:6789 xxxx\"}";
    unsigned conn = 0;
    uint64_t seq = 0, due = 0;

    (void)state;
    assert_int_equal(cli_raw_parse(echo, strlen(echo), &conn, &seq, &due), 0);
    assert_int_equal(conn, 12);
    assert_int_equal(seq, 345);
    assert_int_equal(due, 6789);
}

static void test_raw_parse_refuses_what_is_not_a_marker(void **state)
{
    static const char *const bad[] = {
        "hello",
        "rtl1 ",
        "rtl1 1:2",
        "rtl1 1:2:3",
        "rtl1 a:2:3 ",
        "rtl1 1::3 ",
        "rtl 1:2:3 ",
        "rtl1 1:2:3x",
        "rtl1 99999999999:1:1 ",
        "rtl1 1:2:99999999999999999999 ",
    };
    unsigned conn;
    uint64_t seq, due;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(
            cli_raw_parse(bad[i], strlen(bad[i]), &conn, &seq, &due), -1);
}

static void test_raw_parse_round_trip_at_every_cut(void **state)
{
    char out[128];
    size_t n = cli_raw_fill(out, sizeof(out), "<{marker}>", 0, 3, 4, 5), k;
    unsigned conn;
    uint64_t seq, due;

    (void)state;
    assert_int_equal(cli_raw_parse(out, n, &conn, &seq, &due), 0);
    /* an echo cut short never yields a marker it does not hold whole */
    for (k = 0; k < n - 1; k++)
        assert_int_equal(cli_raw_parse(out, k, &conn, &seq, &due), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raw_default_template_pads_to_size),
        cmocka_unit_test(test_raw_template_every_marker_replaced),
        cmocka_unit_test(test_raw_parse_finds_marker_in_echo),
        cmocka_unit_test(test_raw_parse_refuses_what_is_not_a_marker),
        cmocka_unit_test(test_raw_parse_round_trip_at_every_cut),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
