/*
 * test_hist.c: rt_hist recording, percentiles, merging and JSON.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include <cmocka.h>

#include "helpers.h"

#include "core_int.h"
#include "rt/hist.h"

#define HOUR RT_HIST_DEFAULT_HIGHEST

static rt_hist *new_default(void)
{
    rt_hist *h = NULL;

    assert_int_equal(rt_hist_new_default(&h), 0);
    assert_non_null(h);
    return h;
}

/* |got| within |rel| (relative) of |want|. */
static void assert_near(uint64_t got, uint64_t want, double rel)
{
    double d = (double)got - (double)want;

    if (d < 0)
        d = -d;

    if (d > rel * (double)want)
        fail_msg("%" PRIu64 " is not within %g of %" PRIu64, got, rel, want);
}

static char *to_json(const rt_hist *h)
{
    char *s = NULL;
    size_t n = 0;

    assert_int_equal(rt_hist_to_json(h, &s, &n), 0);
    assert_int_equal(strlen(s), n);
    return s;
}

/* ------------------------------------------------------ configuration */

static void test_hist_default_config(void **state)
{
    rt_hist *h = new_default();

    (void)state;
    assert_int_equal(rt_hist_lowest(h), 1);
    assert_int_equal(rt_hist_highest(h), HOUR);
    assert_int_equal(rt_hist_sigfigs(h), 3);
    assert_int_equal(rt_hist_count(h), 0);
    rt_hist_free(h);
    rt_hist_free(NULL);
}

static void test_hist_new_rejects_bad_config(void **state)
{
    rt_hist *h = (rt_hist *)&h;

    (void)state;
    assert_int_equal(rt_hist_new(&h, 0, 1000, 3), RT_EINVAL);
    assert_null(h);
    assert_int_equal(rt_hist_new(&h, 1, 1000, 0), RT_EINVAL);
    assert_int_equal(rt_hist_new(&h, 1, 1000, 6), RT_EINVAL);
    assert_int_equal(rt_hist_new(&h, 10, 19, 3), RT_EINVAL);
    assert_int_equal(rt_hist_new(&h, 1, (UINT64_C(1) << 62) + 1, 1),
                     RT_EINVAL);
    /* 5 digits from 1 to 2^62 needs more counters than allowed. */
    assert_int_equal(rt_hist_new(&h, 1, UINT64_C(1) << 62, 5), RT_EINVAL);
    assert_int_equal(rt_hist_new(NULL, 1, 1000, 3), RT_EINVAL);

    assert_int_equal(rt_hist_new(&h, 10, 20, 3), 0);
    rt_hist_free(h);
    assert_int_equal(rt_hist_new(&h, 1, UINT64_C(1) << 62, 1), 0);
    assert_int_equal(rt_hist_record(h, UINT64_MAX), 0);
    assert_int_equal(rt_hist_clamped(h), 1);
    rt_hist_free(h);
    assert_int_equal(rt_hist_new(&h, 1, HOUR, 5), 0);
    rt_hist_free(h);
}

/* ---------------------------------------------------------- recording */

static void test_hist_small_values_are_exact(void **state)
{
    rt_hist *h = new_default();
    uint64_t v;

    (void)state;
    for (v = 0; v <= 2047; v++) {
        assert_int_equal(rt_hist_lowest_equivalent(h, v), v);
        assert_int_equal(rt_hist_highest_equivalent(h, v), v);
    }
    /* From 2048 on, buckets are two wide. */
    assert_int_equal(rt_hist_lowest_equivalent(h, 2049), 2048);
    assert_int_equal(rt_hist_highest_equivalent(h, 2048), 2049);

    assert_int_equal(rt_hist_record(h, 1234), 0);
    assert_int_equal(rt_hist_percentile(h, 100), 1234);
    assert_int_equal(rt_hist_percentile(h, 0), 1234);
    assert_int_equal(rt_hist_min(h), 1234);
    assert_int_equal(rt_hist_max(h), 1234);
    assert_true(rt_hist_mean(h) == 1234.0);
    rt_hist_free(h);
}

static void test_hist_three_significant_digits(void **state)
{
    static const uint64_t vals[] = {1234567,    2048,       4095,
                                    99999,      1000000,    123456789,
                                    3599999999, 3600000000, 2500};
    rt_hist *h = new_default();
    size_t i;

    (void)state;
    for (i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        uint64_t lo = rt_hist_lowest_equivalent(h, vals[i]);
        uint64_t hi = rt_hist_highest_equivalent(h, vals[i]);
        assert_true(lo <= vals[i] && vals[i] <= hi);
        /* The whole range is within 0.1% of any value in it. */
        assert_true((double)(hi - lo) <= 0.001 * (double)lo);
        rt_hist_reset(h);
        assert_int_equal(rt_hist_record(h, vals[i]), 0);
        assert_int_equal(rt_hist_percentile(h, 100), hi);
        assert_near(rt_hist_percentile(h, 100), vals[i], 0.001);
        assert_near((uint64_t)rt_hist_mean(h), vals[i], 0.001);
        assert_int_equal(rt_hist_max(h), vals[i]);
    }
    rt_hist_free(h);
}

static void test_hist_zero_goes_to_lowest_bucket(void **state)
{
    rt_hist *h = new_default();
    rt_hist *k;

    (void)state;
    assert_int_equal(rt_hist_record_n(h, 0, 3), 0);
    assert_int_equal(rt_hist_record(h, 5), 0);
    assert_int_equal(rt_hist_min(h), 0);
    assert_int_equal(rt_hist_percentile(h, 50), 0);
    assert_int_equal(rt_hist_percentile(h, 75), 0);
    assert_int_equal(rt_hist_percentile(h, 76), 5);
    rt_hist_free(h);

    /* With a coarser lowest, zero shares the first bucket. */
    assert_int_equal(rt_hist_new(&k, 1000, HOUR, 3), 0);
    assert_int_equal(rt_hist_record(k, 0), 0);
    assert_int_equal(rt_hist_record(k, 100), 0);
    assert_int_equal(rt_hist_percentile(k, 0), 0);
    assert_int_equal(rt_hist_percentile(k, 100), 511);
    assert_int_equal(rt_hist_lowest_equivalent(k, 100), 0);
    rt_hist_free(k);
}

static void test_hist_clamps_above_one_hour(void **state)
{
    rt_hist *h = new_default();

    (void)state;
    assert_int_equal(rt_hist_record(h, HOUR), 0);
    assert_int_equal(rt_hist_clamped(h), 0);
    assert_int_equal(rt_hist_record(h, HOUR + 1), 0);
    assert_int_equal(rt_hist_record_n(h, UINT64_MAX, 2), 0);
    assert_int_equal(rt_hist_count(h), 4);
    assert_int_equal(rt_hist_clamped(h), 3);
    assert_int_equal(rt_hist_max(h), HOUR);
    assert_int_equal(rt_hist_percentile(h, 100),
                     rt_hist_highest_equivalent(h, HOUR));
    assert_int_equal(rt_hist_percentile(h, 1),
                     rt_hist_highest_equivalent(h, HOUR));
    assert_int_equal(rt_hist_lowest_equivalent(h, UINT64_MAX),
                     rt_hist_lowest_equivalent(h, HOUR));
    rt_hist_reset(h);
    assert_int_equal(rt_hist_clamped(h), 0);
    assert_int_equal(rt_hist_count(h), 0);
    rt_hist_free(h);
}

static void test_hist_record_n_and_overflow(void **state)
{
    rt_hist *h = new_default();

    (void)state;
    assert_int_equal(rt_hist_record_n(h, 7, 0), 0);
    assert_int_equal(rt_hist_count(h), 0);
    assert_int_equal(rt_hist_min(h), 0);
    assert_int_equal(rt_hist_record_n(h, 7, UINT64_MAX - 1), 0);
    assert_int_equal(rt_hist_record(h, 9), 0);
    assert_int_equal(rt_hist_count(h), UINT64_MAX);
    assert_int_equal(rt_hist_record(h, 7), RT_ERANGE);
    assert_int_equal(rt_hist_record(h, 100), RT_ERANGE);
    assert_int_equal(rt_hist_count(h), UINT64_MAX);
    assert_int_equal(rt_hist_max(h), 9);
    assert_int_equal(rt_hist_record(NULL, 1), RT_EINVAL);
    rt_hist_free(h);
}

/* -------------------------------------------------------- percentiles */

static void test_hist_empty(void **state)
{
    rt_hist *h = new_default();
    char *s;
    rt_hist *back;

    (void)state;
    assert_int_equal(rt_hist_percentile(h, 50), 0);
    assert_int_equal(rt_hist_percentile(h, 100), 0);
    assert_int_equal(rt_hist_min(h), 0);
    assert_int_equal(rt_hist_max(h), 0);
    assert_true(rt_hist_mean(h) == 0.0);
    assert_int_equal(rt_hist_count(NULL), 0);
    assert_int_equal(rt_hist_percentile(NULL, 50), 0);
    s = to_json(h);
    assert_string_equal(s, "{\"v\":1,\"lo\":1,\"hi\":3600000000,\"sig\":3,"
                           "\"n\":0,\"min\":0,\"max\":0,\"clamped\":0,"
                           "\"c\":[]}");
    assert_int_equal(rt_hist_from_json(&back, s, strlen(s), NULL, 0), 0);
    assert_int_equal(rt_hist_count(back), 0);
    rt_hist_free(back);
    rt_free(s);
    rt_hist_free(h);
}

static void test_hist_uniform_percentiles(void **state)
{
    rt_hist *h = new_default();
    uint64_t v;

    (void)state;
    for (v = 1; v <= 10000; v++)
        assert_int_equal(rt_hist_record(h, v), 0);
    assert_int_equal(rt_hist_count(h), 10000);
    assert_near(rt_hist_percentile(h, 50), 5000, 0.001);
    assert_near(rt_hist_percentile(h, 90), 9000, 0.001);
    assert_near(rt_hist_percentile(h, 99), 9900, 0.001);
    assert_near(rt_hist_percentile(h, 99.9), 9990, 0.001);
    /* 99.9% of 10000 is rank 9990 exactly, not 9991. */
    assert_int_equal(rt_hist_percentile(h, 99.9),
                     rt_hist_highest_equivalent(h, 9990));
    assert_int_equal(rt_hist_percentile(h, 100),
                     rt_hist_highest_equivalent(h, 10000));
    assert_int_equal(rt_hist_percentile(h, 250), rt_hist_percentile(h, 100));
    assert_int_equal(rt_hist_percentile(h, 0), 1);
    assert_int_equal(rt_hist_percentile(h, -5), 1);
    assert_int_equal(rt_hist_percentile(h, NAN), 1);
    assert_int_equal(rt_hist_percentile(h, 0.01), 1);
    assert_int_equal(rt_hist_min(h), 1);
    assert_int_equal(rt_hist_max(h), 10000);
    assert_true(rt_hist_mean(h) > 5000.5 * 0.999 &&
                rt_hist_mean(h) < 5000.5 * 1.001);
    rt_hist_free(h);
}

static void test_hist_percentile_rank_is_ceiling(void **state)
{
    rt_hist *h = new_default();

    (void)state;
    /* Values 1,2,3: p33.4 needs 1.002 values -> rank 2. */
    assert_int_equal(rt_hist_record(h, 1), 0);
    assert_int_equal(rt_hist_record(h, 2), 0);
    assert_int_equal(rt_hist_record(h, 3), 0);
    assert_int_equal(rt_hist_percentile(h, 33.3), 1);
    assert_int_equal(rt_hist_percentile(h, 33.4), 2);
    assert_int_equal(rt_hist_percentile(h, 66.7), 3);
    assert_int_equal(rt_hist_percentile(h, 50), 2);
    rt_hist_free(h);
}

/*
 * Regression: with 10^13 values recorded the rank guard once took whole
 * ranks off, and p100 of 10^13 x 100 plus one 5000 came out as 100.
 */
static void test_hist_percentile_exact_at_huge_totals(void **state)
{
    rt_hist *h = new_default();

    (void)state;
    assert_int_equal(rt_hist_record_n(h, 100, UINT64_C(10000000000000)), 0);
    assert_int_equal(rt_hist_record(h, 5000), 0);
    assert_true(rt_hist_percentile(h, 100) >= 5000);
    assert_true(rt_hist_percentile(h, 99.9999) <= 100);
    rt_hist_free(h);
}

/* ------------------------------------------------------------ merging */

static uint64_t lcg(uint64_t *s)
{
    *s = *s * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
    return *s >> 33;
}

static void test_hist_merge_equals_single(void **state)
{
    static const double ps[] = {0, 1, 25, 50, 75, 90, 99, 99.9, 99.99, 100};
    rt_hist *a = new_default(), *b = new_default(), *all = new_default();
    uint64_t seed = 42;
    char *ja, *jall;
    size_t i;

    (void)state;
    for (i = 0; i < 20000; i++) {
        uint64_t r = (lcg(&seed) << 31) | lcg(&seed);
        uint64_t v = r % (i % 7 == 0 ? HOUR * 2 : 50000);
        assert_int_equal(rt_hist_record(i % 3 ? a : b, v), 0);
        assert_int_equal(rt_hist_record(all, v), 0);
    }
    assert_int_equal(rt_hist_merge(a, b), 0);
    for (i = 0; i < sizeof ps / sizeof ps[0]; i++)
        assert_int_equal(rt_hist_percentile(a, ps[i]),
                         rt_hist_percentile(all, ps[i]));
    assert_int_equal(rt_hist_count(a), rt_hist_count(all));
    assert_int_equal(rt_hist_min(a), rt_hist_min(all));
    assert_int_equal(rt_hist_max(a), rt_hist_max(all));
    assert_int_equal(rt_hist_clamped(a), rt_hist_clamped(all));
    assert_true(rt_hist_clamped(a) > 0);
    assert_true(rt_hist_mean(a) == rt_hist_mean(all));
    ja = to_json(a);
    jall = to_json(all);
    assert_string_equal(ja, jall);
    rt_free(ja);
    rt_free(jall);

    /* Merging into an empty one copies; merging an empty one is a no-op. */
    rt_hist_reset(b);
    assert_int_equal(rt_hist_merge(b, all), 0);
    assert_int_equal(rt_hist_min(b), rt_hist_min(all));
    rt_hist_reset(a);
    assert_int_equal(rt_hist_merge(b, a), 0);
    assert_int_equal(rt_hist_count(b), rt_hist_count(all));
    assert_int_equal(rt_hist_max(b), rt_hist_max(all));
    rt_hist_free(a);
    rt_hist_free(b);
    rt_hist_free(all);
}

static void test_hist_merge_config_mismatch(void **state)
{
    rt_hist *a = new_default(), *b;
    char *before, *after;

    (void)state;
    assert_int_equal(rt_hist_record(a, 10), 0);
    before = to_json(a);
    assert_int_equal(rt_hist_new(&b, 1, HOUR, 2), 0);
    assert_int_equal(rt_hist_record(b, 10), 0);
    assert_int_equal(rt_hist_merge(a, b), RT_EINVAL);
    rt_hist_free(b);
    assert_int_equal(rt_hist_new(&b, 1, HOUR - 1, 3), 0);
    assert_int_equal(rt_hist_merge(a, b), RT_EINVAL);
    rt_hist_free(b);
    assert_int_equal(rt_hist_new(&b, 2, HOUR, 3), 0);
    assert_int_equal(rt_hist_merge(a, b), RT_EINVAL);
    rt_hist_free(b);
    assert_int_equal(rt_hist_merge(a, NULL), RT_EINVAL);
    assert_int_equal(rt_hist_merge(NULL, a), RT_EINVAL);
    after = to_json(a);
    assert_string_equal(before, after);
    rt_free(before);
    rt_free(after);
    rt_hist_free(a);
}

static void test_hist_merge_overflow_leaves_dst_alone(void **state)
{
    rt_hist *a = new_default(), *b = new_default();
    char *before, *after;

    (void)state;
    assert_int_equal(rt_hist_record_n(a, 5, UINT64_MAX - 10), 0);
    assert_int_equal(rt_hist_record_n(b, 6, 5), 0);
    assert_int_equal(rt_hist_record_n(b, 5, 20), 0);
    before = to_json(a);
    assert_int_equal(rt_hist_merge(a, b), RT_ERANGE);
    after = to_json(a);
    assert_string_equal(before, after);
    rt_free(before);
    rt_free(after);
    rt_hist_free(a);
    rt_hist_free(b);
}

/* --------------------------------------------------------------- JSON */

static void test_hist_json_round_trip(void **state)
{
    rt_hist *h, *back;
    char *s, *t;
    uint64_t seed = 7;
    int i;

    (void)state;
    assert_int_equal(rt_hist_new(&h, 1, HOUR, 3), 0);
    assert_int_equal(rt_hist_record(h, 3), 0);
    assert_int_equal(rt_hist_record_n(h, 5, 2), 0);
    assert_int_equal(rt_hist_record(h, 3000), 0);
    s = to_json(h);
    /* 3 at index 3, 5 at 5 (gap 1), 3000 at 2524 (gap 2518). */
    assert_string_equal(s, "{\"v\":1,\"lo\":1,\"hi\":3600000000,\"sig\":3,"
                           "\"n\":4,\"min\":3,\"max\":3000,\"clamped\":0,"
                           "\"c\":[3,1,1,2,2518,1]}");
    rt_free(s);

    for (i = 0; i < 5000; i++)
        assert_int_equal(
            rt_hist_record(h, ((lcg(&seed) << 31) | lcg(&seed)) % (HOUR * 2)),
            0);
    assert_int_equal(rt_hist_record_n(h, 17, UINT64_C(1) << 63), 0);
    s = to_json(h);
    assert_int_equal(rt_hist_from_json(&back, s, strlen(s), NULL, 0), 0);
    t = to_json(back);
    assert_string_equal(s, t);
    assert_int_equal(rt_hist_count(back), rt_hist_count(h));
    assert_true(rt_hist_clamped(h) > 0);
    assert_int_equal(rt_hist_clamped(back), rt_hist_clamped(h));
    assert_int_equal(rt_hist_percentile(back, 99.9),
                     rt_hist_percentile(h, 99.9));
    /* A round-tripped histogram merges like the original. */
    assert_int_equal(rt_hist_merge(back, h), RT_ERANGE);
    rt_free(s);
    rt_free(t);
    rt_hist_free(back);
    rt_hist_free(h);
}

static void test_hist_json_accepts_whitespace_and_any_order(void **state)
{
    static const char js[] =
        " {\n \"c\" : [ 0 , 2 , 9 , 1 ] ,\"clamped\":0,\"max\":10,\r\n"
        "\t\"min\":0,\"n\":3,\"sig\":2,\"hi\":1000,\"lo\":1,\"v\":1 } \n";
    rt_hist *h;
    char *s;

    (void)state;
    assert_int_equal(rt_hist_from_json(&h, js, strlen(js), NULL, 0), 0);
    assert_int_equal(rt_hist_count(h), 3);
    assert_int_equal(rt_hist_sigfigs(h), 2);
    assert_int_equal(rt_hist_percentile(h, 100), 10);
    s = to_json(h);
    assert_string_equal(s, "{\"v\":1,\"lo\":1,\"hi\":1000,\"sig\":2,\"n\":3,"
                           "\"min\":0,\"max\":10,\"clamped\":0,"
                           "\"c\":[0,2,9,1]}");
    rt_free(s);
    rt_hist_free(h);
    /* The length bounds the input: no terminator needed. */
    assert_int_equal(rt_hist_from_json(&h, "{}x", 2, NULL, 0), RT_EPROTO);
}

static void expect_bad_json(const char *js, const char *why)
{
    rt_hist *h = (rt_hist *)&h;
    char err[200] = "";
    int rc = rt_hist_from_json(&h, js, strlen(js), err, sizeof err);

    if (rc != RT_EPROTO)
        fail_msg("accepted (%d): %s", rc, js);
    assert_null(h);
    if (strstr(err, why) == NULL)
        fail_msg("error '%s' lacks '%s' for %s", err, why, js);
}

#define HEAD "\"v\":1,\"lo\":1,\"hi\":3600000000,\"sig\":3,"

static void test_hist_json_rejects_tampering(void **state)
{
    (void)state;
    /* Counts and n. */
    expect_bad_json("{" HEAD "\"n\":3,\"min\":3,\"max\":5,\"clamped\":0,"
                    "\"c\":[3,1,1,1]}",
                    "do not add up");
    expect_bad_json("{" HEAD "\"n\":2,\"min\":3,\"max\":5,\"clamped\":0,"
                    "\"c\":[3,1,1,0,1,1]}",
                    "empty bucket");
    expect_bad_json("{" HEAD "\"n\":2,\"min\":3,\"max\":5,\"clamped\":0,"
                    "\"c\":[3,1,1]}",
                    "odd number");
    /* Indices. */
    expect_bad_json("{" HEAD "\"n\":1,\"min\":3,\"max\":3,\"clamped\":0,"
                    "\"c\":[99999,1]}",
                    "index out of range");
    expect_bad_json("{" HEAD "\"n\":2,\"min\":3,\"max\":3,\"clamped\":0,"
                    "\"c\":[3,1,18446744073709551615,1]}",
                    "index out of range");
    /* Index just past that of 1 h (23220). */
    expect_bad_json("{" HEAD "\"n\":1,\"min\":3,\"max\":3,\"clamped\":0,"
                    "\"c\":[23221,1]}",
                    "index out of range");
    /* Numbers. */
    expect_bad_json("{" HEAD "\"n\":-1,\"min\":3,\"max\":3,\"clamped\":0,"
                    "\"c\":[3,1]}",
                    "negative");
    expect_bad_json("{" HEAD "\"n\":18446744073709551616,\"min\":3,"
                    "\"max\":3,\"clamped\":0,\"c\":[3,1]}",
                    "out of range");
    expect_bad_json("{" HEAD "\"n\":1.0,\"min\":3,\"max\":3,\"clamped\":0,"
                    "\"c\":[3,1]}",
                    "not an integer");
    expect_bad_json("{" HEAD "\"n\":1e0,\"min\":3,\"max\":3,\"clamped\":0,"
                    "\"c\":[3,1]}",
                    "not an integer");
    expect_bad_json("{" HEAD "\"n\":01,\"min\":3,\"max\":3,\"clamped\":0,"
                    "\"c\":[3,1]}",
                    "leading zero");
    expect_bad_json("{" HEAD "\"n\":\"1\",\"min\":3,\"max\":3,\"clamped\":0,"
                    "\"c\":[3,1]}",
                    "expected a number");
    /* Sum overflow. */
    expect_bad_json("{" HEAD "\"n\":0,\"min\":3,\"max\":5,\"clamped\":0,"
                    "\"c\":[3,18446744073709551615,1,1]}",
                    "overflow");
    /* Configuration. */
    expect_bad_json("{\"v\":2,\"lo\":1,\"hi\":3600000000,\"sig\":3,\"n\":0,"
                    "\"min\":0,\"max\":0,\"clamped\":0,\"c\":[]}",
                    "version");
    expect_bad_json("{\"v\":1,\"lo\":1,\"hi\":3600000000,\"sig\":9,\"n\":0,"
                    "\"min\":0,\"max\":0,\"clamped\":0,\"c\":[]}",
                    "configuration");
    expect_bad_json(
        "{\"v\":1,\"lo\":1,\"hi\":4294967296000,\"sig\":4294967299,"
        "\"n\":0,\"min\":0,\"max\":0,\"clamped\":0,\"c\":[]}",
        "configuration");
    expect_bad_json("{\"v\":1,\"lo\":0,\"hi\":3600000000,\"sig\":3,\"n\":0,"
                    "\"min\":0,\"max\":0,\"clamped\":0,\"c\":[]}",
                    "configuration");
    expect_bad_json("{\"v\":1,\"lo\":1,\"hi\":18446744073709551615,\"sig\":5,"
                    "\"n\":0,\"min\":0,\"max\":0,\"clamped\":0,\"c\":[]}",
                    "configuration");
    /* min, max, clamped. */
    expect_bad_json("{" HEAD "\"n\":2,\"min\":4,\"max\":5,\"clamped\":0,"
                    "\"c\":[3,1,1,1]}",
                    "min or max");
    expect_bad_json("{" HEAD "\"n\":2,\"min\":3,\"max\":6,\"clamped\":0,"
                    "\"c\":[3,1,1,1]}",
                    "min or max");
    expect_bad_json("{" HEAD "\"n\":1,\"min\":3000,\"max\":2999,"
                    "\"clamped\":0,\"c\":[2524,1]}",
                    "min or max");
    expect_bad_json("{" HEAD "\"n\":0,\"min\":0,\"max\":1,\"clamped\":0,"
                    "\"c\":[]}",
                    "empty histogram");
    expect_bad_json("{" HEAD "\"n\":2,\"min\":3,\"max\":5,\"clamped\":1,"
                    "\"c\":[3,1,1,1]}",
                    "clamped");
    expect_bad_json("{" HEAD "\"n\":1,\"min\":3600000000,\"max\":3600000000,"
                    "\"clamped\":2,\"c\":[23220,1]}",
                    "clamped");
    /* Syntax. */
    expect_bad_json("{" HEAD "\"n\":0,\"min\":0,\"max\":0,\"clamped\":0}",
                    "missing members");
    expect_bad_json("{" HEAD "\"n\":0,\"min\":0,\"max\":0,\"clamped\":0,"
                    "\"c\":[],\"x\":1}",
                    "unknown member");
    expect_bad_json("{" HEAD "\"n\":0,\"min\":0,\"max\":0,\"clamped\":0,"
                    "\"c\":[],\"n\":0}",
                    "repeated member");
    expect_bad_json("{" HEAD "\"n\":0,\"min\":0,\"max\":0,\"clamped\":0,"
                    "\"c\":[]}x",
                    "trailing data");
    expect_bad_json("{" HEAD "\"n\":0,\"min\":0,\"max\":0,\"clamped\":0,"
                    "\"c\":[],}",
                    "expected '\"'");
    expect_bad_json("{\"\\u0076\":1}", "unknown member");
    expect_bad_json("{\"v\":1", "expected ','");
    expect_bad_json("{\"v", "unterminated");
    expect_bad_json("[]", "expected '{'");
    expect_bad_json("", "expected '{'");
    expect_bad_json("{}", "missing members");
    expect_bad_json("{" HEAD "\"n\":0,\"min\":0,\"max\":0,\"clamped\":0,"
                    "\"c\":[1,2,]}",
                    "expected a number");
}

static void test_hist_json_rejects_null_and_huge(void **state)
{
    rt_hist *h;

    (void)state;
    assert_int_equal(rt_hist_from_json(&h, NULL, 0, NULL, 0), RT_EINVAL);
    assert_int_equal(rt_hist_from_json(NULL, "{}", 2, NULL, 0), RT_EINVAL);
    assert_int_equal(
        rt_hist_from_json(&h, "{}", (size_t)RT_HIST_JSON_MAX + 1, NULL, 0),
        RT_ETOOBIG);
    assert_null(h);
    assert_int_equal(rt_hist_to_json(NULL, (char **)&h, NULL), RT_EINVAL);
}

/* ----------------------------------------------- allocation failure */

static void test_hist_every_allocation_failure_is_clean(void **state)
{
    int n, rc;

    (void)state;
    th_alloc_install();
    for (n = 0;; n++) {
        rt_hist *h = NULL, *back = NULL;
        char *s = NULL;
        uint64_t v;

        th_alloc_fail_from(n);
        rc = rt_hist_new_default(&h);
        for (v = 1; rc == 0 && v < 5000000; v = v * 3 + 1)
            rc = rt_hist_record(h, v);
        if (rc == 0)
            rc = rt_hist_to_json(h, &s, NULL);
        if (rc == 0)
            rc = rt_hist_from_json(&back, s, strlen(s), NULL, 0);
        rt_free(s);
        rt_hist_free(h);
        rt_hist_free(back);
        assert_int_equal(th_alloc_live(), 0);
        if (rc == 0)
            break;
        assert_int_equal(rc, RT_ENOMEM);
    }
    assert_true(n >= 3);
    th_alloc_uninstall();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hist_default_config),
        cmocka_unit_test(test_hist_new_rejects_bad_config),
        cmocka_unit_test(test_hist_small_values_are_exact),
        cmocka_unit_test(test_hist_three_significant_digits),
        cmocka_unit_test(test_hist_zero_goes_to_lowest_bucket),
        cmocka_unit_test(test_hist_clamps_above_one_hour),
        cmocka_unit_test(test_hist_record_n_and_overflow),
        cmocka_unit_test(test_hist_empty),
        cmocka_unit_test(test_hist_uniform_percentiles),
        cmocka_unit_test(test_hist_percentile_rank_is_ceiling),
        cmocka_unit_test(test_hist_percentile_exact_at_huge_totals),
        cmocka_unit_test(test_hist_merge_equals_single),
        cmocka_unit_test(test_hist_merge_config_mismatch),
        cmocka_unit_test(test_hist_merge_overflow_leaves_dst_alone),
        cmocka_unit_test(test_hist_json_round_trip),
        cmocka_unit_test(test_hist_json_accepts_whitespace_and_any_order),
        cmocka_unit_test(test_hist_json_rejects_tampering),
        cmocka_unit_test(test_hist_json_rejects_null_and_huge),
        cmocka_unit_test(test_hist_every_allocation_failure_is_clean),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
