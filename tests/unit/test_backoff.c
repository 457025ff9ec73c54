/*
 * test_backoff.c: the reconnect delay policy (lib/core/backoff.c).
 *
 * Every delay is exact: rand32 is chosen, not drawn, and the delay is
 * floor(ceiling * rand32 / 2^32), so rand32 = 2^31 gives half the ceiling
 * and UINT32_MAX gives ceiling - 1.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rt/backoff.h"
#include "rt/error.h"

#define HALF ((uint32_t)1 << 31)
#define QUARTER ((uint32_t)1 << 30)

static rt_backoff mk(uint64_t base, uint64_t cap, uint32_t max_attempts)
{
    rt_backoff_policy p;
    rt_backoff b;

    rt_backoff_policy_init(&p);
    p.base_ms = base;
    p.cap_ms = cap;
    p.max_attempts = max_attempts;
    assert_int_equal(rt_backoff_init(&b, &p), 0);
    return b;
}

static uint64_t next(rt_backoff *b, uint32_t r)
{
    uint64_t d = UINT64_MAX;

    assert_int_equal(rt_backoff_next(b, r, &d), 0);
    return d;
}

static int retry_after(rt_backoff *b, const char *s, int64_t now)
{
    return rt_backoff_retry_after(b, s, strlen(s), now);
}

static void test_backoff_policy_defaults(void **state)
{
    rt_backoff_policy p;
    rt_backoff b;

    (void)state;
    memset(&p, 0xab, sizeof(p));
    rt_backoff_policy_init(&p);
    assert_true(p.base_ms == 1000);
    assert_true(p.cap_ms == 30000);
    assert_true(p.max_attempts == 0);
    assert_true(p.stable_ms == 10000);
    assert_true(p.jitter_pct == 100);

    assert_int_equal(rt_backoff_init(&b, NULL), 0);
    assert_int_equal(rt_backoff_attempt(&b), 0);
    assert_true(next(&b, UINT32_MAX) == 999);
}

static void test_backoff_init_rejects_bad_policy(void **state)
{
    rt_backoff_policy p;
    rt_backoff b;

    (void)state;
    assert_int_equal(rt_backoff_init(NULL, NULL), RT_EINVAL);
    rt_backoff_policy_init(&p);
    p.base_ms = 0;
    assert_int_equal(rt_backoff_init(&b, &p), RT_EINVAL);
    rt_backoff_policy_init(&p);
    p.cap_ms = p.base_ms - 1;
    assert_int_equal(rt_backoff_init(&b, &p), RT_EINVAL);
    rt_backoff_policy_init(&p);
    p.cap_ms = RT_BACKOFF_MAX_MS + 1;
    assert_int_equal(rt_backoff_init(&b, &p), RT_EINVAL);
    rt_backoff_policy_init(&p);
    p.base_ms = RT_BACKOFF_MAX_MS + 1;
    p.cap_ms = RT_BACKOFF_MAX_MS + 1;
    assert_int_equal(rt_backoff_init(&b, &p), RT_EINVAL);
    rt_backoff_policy_init(&p);
    p.jitter_pct = 101;
    assert_int_equal(rt_backoff_init(&b, &p), RT_EINVAL);

    /* The bounds themselves are accepted. */
    rt_backoff_policy_init(&p);
    p.base_ms = 1;
    p.cap_ms = 1;
    assert_int_equal(rt_backoff_init(&b, &p), 0);
    assert_true(next(&b, UINT32_MAX) == 0);
    p.base_ms = RT_BACKOFF_MAX_MS;
    p.cap_ms = RT_BACKOFF_MAX_MS;
    assert_int_equal(rt_backoff_init(&b, &p), 0);
    assert_true(next(&b, UINT32_MAX) == RT_BACKOFF_MAX_MS - 1);
}

static void test_backoff_exact_delays_per_attempt(void **state)
{
    static const uint64_t ceil[] = {1000,  2000,  4000,  8000,
                                    16000, 30000, 30000, 30000};
    rt_backoff lo = mk(1000, 30000, 0), top = mk(1000, 30000, 0);
    rt_backoff half = mk(1000, 30000, 0), quarter = mk(1000, 30000, 0);
    rt_backoff one = mk(1000, 30000, 0);
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(ceil) / sizeof(ceil[0]); i++) {
        assert_int_equal(rt_backoff_attempt(&top), i);
        assert_true(next(&lo, 0) == 0);
        assert_true(next(&top, UINT32_MAX) == ceil[i] - 1);
        assert_true(next(&half, HALF) == ceil[i] / 2);
        assert_true(next(&quarter, QUARTER) == ceil[i] / 4);
        /* The smallest nonzero rand32 still rounds down to 0. */
        assert_true(next(&one, 1) == 0);
        assert_int_equal(rt_backoff_attempt(&top), i + 1);
    }
    /* floor(3000 * 0xC0000000 / 2^32) on a 3 s base, first attempt. */
    one = mk(3000, 30000, 0);
    assert_true(next(&one, 0xC0000000u) == 2250);
    assert_true(next(&one, 0xC0000000u) == 4500);
}

static void test_backoff_full_jitter_spans_zero_to_ceiling(void **state)
{
    static const uint32_t rs[] = {0,        1,           1000,
                                  QUARTER,  HALF - 1,    HALF,
                                  HALF + 1, 0xF0000000u, UINT32_MAX};
    rt_backoff b;
    uint64_t c, d, prev;
    uint32_t a;
    size_t i;

    (void)state;
    for (a = 0; a < 8; a++) {
        c = 1000u << a;
        if (c > 30000)
            c = 30000;
        prev = 0;
        for (i = 0; i < sizeof(rs) / sizeof(rs[0]); i++) {
            b = mk(1000, 30000, 0);
            b.attempt = a;
            d = next(&b, rs[i]);
            /* [0, ceiling): never the ceiling itself, non-decreasing. */
            assert_true(d < c);
            assert_true(d >= prev);
            prev = d;
            if (rs[i] == 0)
                assert_true(d == 0);
            if (rs[i] == UINT32_MAX)
                assert_true(d == c - 1);
        }
    }
}

static void test_backoff_partial_and_no_jitter(void **state)
{
    rt_backoff_policy p;
    rt_backoff b;

    (void)state;
    rt_backoff_policy_init(&p);
    p.jitter_pct = 0;
    assert_int_equal(rt_backoff_init(&b, &p), 0);
    assert_true(next(&b, 0) == 1000);
    assert_true(next(&b, UINT32_MAX) == 2000);
    assert_true(next(&b, HALF) == 4000);

    p.jitter_pct = 50;
    assert_int_equal(rt_backoff_init(&b, &p), 0);
    assert_true(next(&b, 0) == 500);
    assert_true(next(&b, UINT32_MAX) == 1999);
    assert_true(next(&b, HALF) == 3000);
}

static void test_backoff_grows_then_caps_without_overflow(void **state)
{
    rt_backoff b = mk(1000, 30000, 0);
    uint32_t i;

    (void)state;
    for (i = 0; i < 200; i++)
        (void)next(&b, UINT32_MAX);
    assert_int_equal(rt_backoff_attempt(&b), 200);
    assert_true(next(&b, UINT32_MAX) == 29999);

    /* Shifts past 31, 63 and 64 bits all saturate at the cap. */
    b.attempt = 31;
    assert_true(next(&b, UINT32_MAX) == 29999);
    b.attempt = 63;
    assert_true(next(&b, UINT32_MAX) == 29999);
    b.attempt = 64;
    assert_true(next(&b, UINT32_MAX) == 29999);

    /* The attempt counter itself saturates. */
    b.attempt = UINT32_MAX - 1;
    assert_true(next(&b, HALF) == 15000);
    assert_true(rt_backoff_attempt(&b) == UINT32_MAX);
    assert_true(next(&b, HALF) == 15000);
    assert_true(rt_backoff_attempt(&b) == UINT32_MAX);

    /* A base that doubles right up to a maximal cap. */
    b = mk(1, RT_BACKOFF_MAX_MS, 0);
    b.attempt = 31;
    assert_true(next(&b, UINT32_MAX) == RT_BACKOFF_MAX_MS - 1);
    b.attempt = 26;
    assert_true(next(&b, 0) == 0);
    b.attempt = 26;
    assert_true(next(&b, HALF) == ((uint64_t)1 << 25));
}

static void test_backoff_max_attempts_exhaust(void **state)
{
    rt_backoff b = mk(1000, 30000, 3);
    uint64_t d = 12345;

    (void)state;
    assert_true(next(&b, UINT32_MAX) == 999);
    assert_true(next(&b, UINT32_MAX) == 1999);
    assert_true(next(&b, UINT32_MAX) == 3999);
    assert_int_equal(rt_backoff_next(&b, UINT32_MAX, &d), RT_EEXHAUSTED);
    assert_true(d == 12345);
    assert_int_equal(rt_backoff_attempt(&b), 3);
    assert_int_equal(rt_backoff_next(&b, 0, &d), RT_EEXHAUSTED);
    /* A short-lived connection does not buy more attempts... */
    rt_backoff_connected(&b, 9999);
    assert_int_equal(rt_backoff_next(&b, 0, &d), RT_EEXHAUSTED);
    /* ...a delivered message does. */
    rt_backoff_delivered(&b);
    assert_true(next(&b, UINT32_MAX) == 999);

    b = mk(1000, 30000, 1);
    assert_true(next(&b, 0) == 0);
    assert_int_equal(rt_backoff_next(&b, 0, &d), RT_EEXHAUSTED);
}

static void test_backoff_reset_only_after_stable_connection(void **state)
{
    rt_backoff b = mk(1000, 30000, 0);

    (void)state;
    (void)next(&b, 0);
    (void)next(&b, 0);
    (void)next(&b, 0);
    assert_int_equal(rt_backoff_attempt(&b), 3);
    /* Accept-and-drop servers keep the delays growing. */
    rt_backoff_connected(&b, 0);
    rt_backoff_connected(&b, 9999);
    assert_int_equal(rt_backoff_attempt(&b), 3);
    assert_true(next(&b, UINT32_MAX) == 7999);
    rt_backoff_connected(&b, 10000);
    assert_int_equal(rt_backoff_attempt(&b), 0);
    assert_true(next(&b, UINT32_MAX) == 999);
    (void)next(&b, 0);
    rt_backoff_connected(&b, UINT64_MAX);
    assert_int_equal(rt_backoff_attempt(&b), 0);
}

static void test_backoff_delivered_resets(void **state)
{
    rt_backoff b = mk(1000, 30000, 0);

    (void)state;
    (void)next(&b, 0);
    (void)next(&b, 0);
    rt_backoff_delivered(&b);
    assert_int_equal(rt_backoff_attempt(&b), 0);
    assert_true(next(&b, UINT32_MAX) == 999);
    rt_backoff_delivered(&b);
    rt_backoff_delivered(&b);
    assert_int_equal(rt_backoff_attempt(&b), 0);
}

static void test_backoff_sse_retry_replaces_base(void **state)
{
    rt_backoff b = mk(1000, 30000, 0);

    (void)state;
    (void)next(&b, 0);
    rt_backoff_set_retry(&b, 5000);
    /*
     * The attempt counter is kept: the second delay's ceiling doubles the
     * new base; the retry is the least delay, the jitter up to half the
     * ceiling above it.
     */
    assert_int_equal(rt_backoff_attempt(&b), 1);
    assert_true(next(&b, UINT32_MAX) == 9999);
    rt_backoff_delivered(&b);
    assert_true(next(&b, UINT32_MAX) == 7499);
    assert_true(next(&b, 0) == 5000);
    assert_true(next(&b, UINT32_MAX) == 14999);
    assert_true(next(&b, UINT32_MAX) == 19999);
    assert_true(next(&b, 0) == 5000);

    /* A retry above the cap raises the cap to it. */
    rt_backoff_set_retry(&b, 60000);
    rt_backoff_delivered(&b);
    assert_true(next(&b, UINT32_MAX) == 89999);
    assert_true(next(&b, 0) == 60000);

    /* retry: 0 cannot make the delays vanish; huge values clamp. */
    rt_backoff_set_retry(&b, 0);
    rt_backoff_delivered(&b);
    assert_true(next(&b, UINT32_MAX) == 1);
    assert_true(next(&b, 0) == 1);
    rt_backoff_set_retry(&b, UINT64_MAX);
    rt_backoff_delivered(&b);
    assert_true(next(&b, 0) == RT_BACKOFF_MAX_MS);
    assert_true(next(&b, UINT32_MAX) ==
                RT_BACKOFF_MAX_MS + RT_BACKOFF_MAX_MS / 2 - 1);

    /* Init restores the policy. */
    b = mk(1000, 30000, 0);
    assert_true(next(&b, UINT32_MAX) == 999);
}

/* The numbers: retry: 1500 and 500 are never undercut. */
static void test_backoff_sse_retry_is_a_floor(void **state)
{
    static const uint32_t r[] = {0, 1, 0x0a000000u, HALF, UINT32_MAX};
    static const uint64_t retries[] = {500, 1500, 2000};
    rt_backoff b;
    size_t i, j, k;
    uint64_t d;

    (void)state;
    for (i = 0; i < 3; i++) {
        b = mk(1000, 30000, 0);
        rt_backoff_set_retry(&b, retries[i]);
        for (k = 0; k < 40; k++)
            for (j = 0; j < 5; j++) {
                assert_int_equal(rt_backoff_next(&b, r[j], &d), 0);
                assert_true(d >= retries[i]);
                assert_true(d < retries[i] + 15000);
            }
    }
    /* A longer Retry-After still wins, once. */
    b = mk(1000, 30000, 0);
    rt_backoff_set_retry(&b, 1500);
    assert_int_equal(retry_after(&b, "7", 0), 0);
    assert_true(next(&b, 0) == 7000);
    assert_true(next(&b, 0) == 1500);
}

static void test_backoff_retry_after_seconds(void **state)
{
    rt_backoff b = mk(1000, 30000, 0);

    (void)state;
    assert_int_equal(retry_after(&b, "120", 0), 0);
    /* A floor, even past the cap; one-shot. */
    assert_true(next(&b, 0) == 120000);
    assert_true(next(&b, 0) == 0);
    assert_int_equal(rt_backoff_attempt(&b), 2);

    /* A floor below the jittered delay changes nothing. */
    assert_int_equal(retry_after(&b, "1", 0), 0);
    assert_true(next(&b, UINT32_MAX) == 3999);
    assert_int_equal(retry_after(&b, "0", 0), 0);
    assert_true(next(&b, 0) == 0);

    /* Whitespace around the value is optional whitespace. */
    assert_int_equal(retry_after(&b, " \t5\t ", 0), 0);
    assert_true(next(&b, 0) == 5000);
    assert_int_equal(retry_after(&b, "007", 0), 0);
    assert_true(next(&b, 0) == 7000);

    /* The later of two unused headers wins. */
    assert_int_equal(retry_after(&b, "50", 0), 0);
    assert_int_equal(retry_after(&b, "3", 0), 0);
    assert_true(next(&b, 0) == 3000);

    /* A reset does not drop a pending floor: only next() uses it up. */
    assert_int_equal(retry_after(&b, "9", 0), 0);
    rt_backoff_delivered(&b);
    rt_backoff_connected(&b, UINT64_MAX);
    assert_true(next(&b, 0) == 9000);
}

static void test_backoff_retry_after_huge_numbers(void **state)
{
    rt_backoff b = mk(1000, 30000, 0);

    (void)state;
    assert_int_equal(retry_after(&b, "3599", 0), 0);
    assert_true(next(&b, 0) == 3599000);
    assert_int_equal(retry_after(&b, "3600", 0), 0);
    assert_true(next(&b, 0) == RT_BACKOFF_RETRY_AFTER_MAX_MS);
    assert_int_equal(retry_after(&b, "3601", 0), 0);
    assert_true(next(&b, 0) == RT_BACKOFF_RETRY_AFTER_MAX_MS);
    assert_int_equal(retry_after(&b, "18446744073709551616", 0), 0);
    assert_true(next(&b, 0) == RT_BACKOFF_RETRY_AFTER_MAX_MS);
    assert_int_equal(
        retry_after(
            &b, "999999999999999999999999999999999999999999999999999999", 0),
        0);
    assert_true(next(&b, 0) == RT_BACKOFF_RETRY_AFTER_MAX_MS);
}

static void test_backoff_retry_after_http_date(void **state)
{
    static const struct {
        const char *date;
        int64_t t;
    } dates[] = {
        {"Wed, 21 Oct 2015 07:28:00 GMT", 1445412480},
        {"Sun, 06 Nov 1994 08:49:37 GMT", 784111777},
        {"Tue, 29 Feb 2000 12:00:00 GMT", 951825600},
        {"Tue, 19 Jan 2038 03:14:08 GMT", 2147483648LL},
        {"Fri, 31 Dec 9999 23:59:59 GMT", 253402300799LL},
        {"Mon, 01 Jan 0001 00:00:00 GMT", -62135596800LL},
        {"Thu, 01 Jan 1970 00:00:00 GMT", 0},
        {"Wed, 31 Dec 1969 23:59:59 GMT", -1},
    };
    rt_backoff b = mk(1000, 30000, 0);
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(dates) / sizeof(dates[0]); i++) {
        /* In the future: the floor is the distance, exactly. */
        assert_int_equal(retry_after(&b, dates[i].date, dates[i].t - 1), 0);
        assert_true(next(&b, 0) == 1000);
        assert_int_equal(retry_after(&b, dates[i].date, dates[i].t - 90), 0);
        assert_true(next(&b, 0) == 90000);
        /* Now or in the past: a floor of 0. */
        assert_int_equal(retry_after(&b, dates[i].date, dates[i].t), 0);
        assert_true(next(&b, 0) == 0);
        assert_int_equal(retry_after(&b, dates[i].date, dates[i].t + 1), 0);
        assert_true(next(&b, 0) == 0);
        /* Far future: bounded. */
        assert_int_equal(retry_after(&b, dates[i].date, dates[i].t - 3601), 0);
        assert_true(next(&b, 0) == RT_BACKOFF_RETRY_AFTER_MAX_MS);
    }
    /* The clock at either end of its range. */
    assert_int_equal(retry_after(&b, dates[0].date, INT64_MIN), 0);
    assert_true(next(&b, 0) == RT_BACKOFF_RETRY_AFTER_MAX_MS);
    assert_int_equal(retry_after(&b, dates[0].date, INT64_MAX), 0);
    assert_true(next(&b, 0) == 0);
    /* The day name is not checked against the date; a leap second is. */
    assert_int_equal(
        retry_after(&b, "Mon, 21 Oct 2015 07:28:00 GMT", 1445412480 - 2), 0);
    assert_true(next(&b, 0) == 2000);
    assert_int_equal(
        retry_after(&b, "Wed, 31 Dec 2016 23:59:60 GMT", 1483228800 - 5), 0);
    assert_true(next(&b, 0) == 5000);
    /* A past date leaves the plain jittered delay. */
    assert_int_equal(
        retry_after(&b, "Wed, 21 Oct 2015 07:28:00 GMT", 1700000000), 0);
    assert_true(next(&b, UINT32_MAX) == 29999);
}

static void test_backoff_retry_after_garbage(void **state)
{
    static const char *bad[] = {
        "",
        " ",
        "\t\t",
        "abc",
        "-5",
        "+5",
        "5s",
        "1.5",
        "1 2",
        "0x10",
        "Wed, 21 Oct 2015 07:28:00 UTC",
        "wed, 21 Oct 2015 07:28:00 GMT",
        "Wed, 21 oct 2015 07:28:00 GMT",
        "Wed, 21 Oct 2015 07:28:00 gmt",
        "Xyz, 21 Oct 2015 07:28:00 GMT",
        "Wed, 32 Oct 2015 07:28:00 GMT",
        "Wed, 00 Oct 2015 07:28:00 GMT",
        "Wed, 31 Nov 2015 07:28:00 GMT",
        "Mon, 29 Feb 1900 00:00:00 GMT",
        "Sun, 29 Feb 2015 00:00:00 GMT",
        "Wed, 21 Oct 2015 24:00:00 GMT",
        "Wed, 21 Oct 2015 07:60:00 GMT",
        "Wed, 21 Oct 2015 07:28:61 GMT",
        "Wed, 21 Oct 2015 7:28:00 GMT",
        "Wed, 1 Oct 2015 07:28:00 GMT",
        "Wed,21 Oct 2015 07:28:00 GMT ",
        "Wed, 21 Oct 15 07:28:00 GMT",
        "Wed, 21 Oct 2015 07:28:00 GMTX",
        "Wed, 21 Oct 2015 07-28-00 GMT",
        "Wed, 21 Oct 2O15 07:28:00 GMT",
        "Wednesday, 21-Oct-15 07:28:00 GMT",
        "Wed Oct 21 07:28:00 2015",
    };
    static const char nul[] = {'1', '2', '\0', '3'};
    rt_backoff b = mk(1000, 30000, 0);
    size_t i;

    (void)state;
    /* A pending floor survives a bad header. */
    assert_int_equal(retry_after(&b, "10", 0), 0);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(retry_after(&b, bad[i], 1445412480), RT_EINVAL);
    assert_int_equal(rt_backoff_retry_after(&b, nul, sizeof(nul), 0),
                     RT_EINVAL);
    assert_int_equal(rt_backoff_retry_after(&b, NULL, 3, 0), RT_EINVAL);
    assert_int_equal(rt_backoff_retry_after(&b, NULL, 0, 0), RT_EINVAL);
    assert_true(next(&b, 0) == 10000);
    /* Only |len| bytes count. */
    assert_int_equal(rt_backoff_retry_after(&b, "42junk", 2, 0), 0);
    assert_true(next(&b, 0) == 42000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_policy_defaults),
        cmocka_unit_test(test_backoff_init_rejects_bad_policy),
        cmocka_unit_test(test_backoff_exact_delays_per_attempt),
        cmocka_unit_test(test_backoff_full_jitter_spans_zero_to_ceiling),
        cmocka_unit_test(test_backoff_partial_and_no_jitter),
        cmocka_unit_test(test_backoff_grows_then_caps_without_overflow),
        cmocka_unit_test(test_backoff_max_attempts_exhaust),
        cmocka_unit_test(test_backoff_reset_only_after_stable_connection),
        cmocka_unit_test(test_backoff_delivered_resets),
        cmocka_unit_test(test_backoff_sse_retry_replaces_base),
        cmocka_unit_test(test_backoff_sse_retry_is_a_floor),
        cmocka_unit_test(test_backoff_retry_after_seconds),
        cmocka_unit_test(test_backoff_retry_after_huge_numbers),
        cmocka_unit_test(test_backoff_retry_after_http_date),
        cmocka_unit_test(test_backoff_retry_after_garbage),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
