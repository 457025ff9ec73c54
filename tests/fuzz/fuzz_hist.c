/*
 * fuzz_hist.c: libFuzzer target for rt_hist.
 *
 * Checks, for arbitrary bytes:
 * - rt_hist_from_json never crashes and, when it accepts the bytes, the
 *   histogram is consistent (count 0 means min = max = clamped = 0, else
 *   min <= max <= highest) and serialises to JSON that parses again into
 *   a histogram with the same configuration and totals and the identical
 *   JSON (to_json o from_json is a fixed point); merging it into an empty
 *   histogram of its configuration gives the same JSON too.
 * - The bytes read as (value, count) records go into two histograms of one
 *   configuration (itself taken from the first bytes); count, min, max and
 *   clamped match a model of what was recorded, a record the histogram
 *   refuses (RT_ERANGE) changes nothing, and merging the two gives the sum
 *   of counts, the smaller min and the larger max, or RT_ERANGE and an
 *   unchanged destination.  Percentiles 0 and 100 bracket min and max.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rt/alloc.h"
#include "rt/error.h"
#include "rt/hist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)     \
    do {             \
        if (!(c))    \
            abort(); \
    } while (0)

/* What a histogram should hold, by the records it accepted. */
struct model {
    uint64_t count, min, max, clamped;
};

static char *json_of(const rt_hist *h, size_t *len)
{
    char *s = NULL;

    CHECK(rt_hist_to_json(h, &s, len) == 0);
    CHECK(s != NULL && strlen(s) == *len);
    return s;
}

static void check_consistent(const rt_hist *h)
{
    uint64_t n = rt_hist_count(h), lo = rt_hist_min(h), hi = rt_hist_max(h);

    if (n == 0) {
        CHECK(lo == 0 && hi == 0 && rt_hist_clamped(h) == 0);
        CHECK(rt_hist_percentile(h, 50) == 0);
        return;
    }
    CHECK(lo <= hi && hi <= rt_hist_highest(h));
    CHECK(rt_hist_clamped(h) <= n);
    CHECK(rt_hist_clamped(h) == 0 || hi == rt_hist_highest(h));
    /* Percentiles bracket min and max, at any total. */
    CHECK(rt_hist_percentile(h, 0) <= lo);
    CHECK(rt_hist_percentile(h, 100) >= hi);
    CHECK(rt_hist_lowest_equivalent(h, hi) <= hi);
    CHECK(rt_hist_highest_equivalent(h, lo) >= lo);
}

static void check_model(const rt_hist *h, const struct model *m)
{
    CHECK(rt_hist_count(h) == m->count);
    CHECK(rt_hist_clamped(h) == m->clamped);
    if (m->count > 0) {
        CHECK(rt_hist_min(h) == m->min);
        CHECK(rt_hist_max(h) == m->max);
    }
    check_consistent(h);
}

/* to_json, from_json, to_json: the two texts must be identical. */
static void check_round_trip(const rt_hist *h)
{
    char err[128];
    char *a, *b;
    size_t alen, blen;
    rt_hist *back = NULL, *empty = NULL;

    a = json_of(h, &alen);
    CHECK(rt_hist_from_json(&back, a, alen, err, sizeof err) == 0);
    CHECK(rt_hist_lowest(back) == rt_hist_lowest(h));
    CHECK(rt_hist_highest(back) == rt_hist_highest(h));
    CHECK(rt_hist_sigfigs(back) == rt_hist_sigfigs(h));
    CHECK(rt_hist_count(back) == rt_hist_count(h));
    CHECK(rt_hist_min(back) == rt_hist_min(h));
    CHECK(rt_hist_max(back) == rt_hist_max(h));
    CHECK(rt_hist_clamped(back) == rt_hist_clamped(h));
    b = json_of(back, &blen);
    CHECK(alen == blen && memcmp(a, b, alen) == 0);
    rt_free(b);

    CHECK(rt_hist_new(&empty, rt_hist_lowest(h), rt_hist_highest(h),
                      rt_hist_sigfigs(h)) == 0);
    CHECK(rt_hist_merge(empty, h) == 0);
    b = json_of(empty, &blen);
    CHECK(alen == blen && memcmp(a, b, alen) == 0);
    rt_free(b);
    rt_free(a);
    rt_hist_free(empty);
    rt_hist_free(back);
}

static uint64_t take(const uint8_t **p, const uint8_t *end, size_t n)
{
    uint64_t v = 0;

    while (n-- > 0 && *p < end)
        v = v << 8 | *(*p)++;
    return v;
}

/* Record |value| |n| times into |h|, keeping |m| in step. */
static void record(rt_hist *h, struct model *m, uint64_t value, uint64_t n)
{
    uint64_t highest = rt_hist_highest(h);
    uint64_t v = value > highest ? highest : value;
    int rc = rt_hist_record_n(h, value, n);

    /* Only a total past UINT64_MAX is refused, and then nothing. */
    if (n > UINT64_MAX - m->count) {
        CHECK(rc == RT_ERANGE);
        return;
    }
    CHECK(rc == 0);
    if (n == 0)
        return;
    if (m->count == 0 || v < m->min)
        m->min = v;
    if (m->count == 0 || v > m->max)
        m->max = v;
    m->count += n;
    if (value > highest)
        m->clamped += n;
}

static void fuzz_records(const uint8_t *data, size_t size)
{
    const uint8_t *p = data, *end = data + size;
    struct model ma, mb;
    rt_hist *a = NULL, *b = NULL;
    uint64_t lowest, highest;
    int sigfigs, rc, k = 0;
    char *before, *after;
    size_t blen, alen;

    /*
     * The configuration: from the first three bytes, kept to at most
     * some 50,000 counters so that an input costs milliseconds.
     */
    lowest = (uint64_t)1 << (take(&p, end, 1) % 12);
    highest = lowest << (1 + take(&p, end, 1) % 50);
    sigfigs = 1 + (int)(take(&p, end, 1) % 3);
    rc = rt_hist_new(&a, lowest, highest, sigfigs);
    if (rc != 0) {
        CHECK(rc == RT_EINVAL);
        CHECK(rt_hist_new_default(&a) == 0);
    }
    CHECK(rt_hist_new(&b, rt_hist_lowest(a), rt_hist_highest(a),
                      rt_hist_sigfigs(a)) == 0);
    memset(&ma, 0, sizeof(ma));
    memset(&mb, 0, sizeof(mb));

    /*
     * Records: a byte that picks the histogram and the size of the
     * value (0 to 8 bytes), the value, and a count: mostly 1, sometimes
     * a byte, rarely 8 bytes (to reach the overflow checks).
     */
    while (p < end && k++ < 4096) {
        unsigned ctl = (unsigned)take(&p, end, 1);
        uint64_t value = take(&p, end, (ctl >> 1) % 9);
        uint64_t n = 1;

        if ((ctl & 0xE0) == 0xE0)
            n = take(&p, end, 8);
        else if (ctl & 0x20)
            n = take(&p, end, 1);
        if (ctl & 1)
            record(b, &mb, value, n);
        else
            record(a, &ma, value, n);
    }
    check_model(a, &ma);
    check_model(b, &mb);

    before = json_of(a, &blen);
    rc = rt_hist_merge(a, b);
    if (ma.count > UINT64_MAX - mb.count) {
        CHECK(rc == RT_ERANGE);
        after = json_of(a, &alen);
        CHECK(alen == blen && memcmp(before, after, alen) == 0);
        rt_free(after);
    } else {
        CHECK(rc == 0);
        if (mb.count > 0) {
            if (ma.count == 0 || mb.min < ma.min)
                ma.min = mb.min;
            if (ma.count == 0 || mb.max > ma.max)
                ma.max = mb.max;
        }
        ma.count += mb.count;
        ma.clamped += mb.clamped;
        check_model(a, &ma);
    }
    rt_free(before);
    check_round_trip(a);
    check_round_trip(b);
    rt_hist_free(a);
    rt_hist_free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[128];
    rt_hist *h = NULL;
    int rc;

    rc = rt_hist_from_json(&h, (const char *)data, size, err, sizeof err);
    if (rc == 0) {
        check_consistent(h);
        check_round_trip(h);
        rt_hist_free(h);
    } else {
        CHECK(rc == RT_EPROTO || rc == RT_EINVAL);
        CHECK(h == NULL);
        CHECK(err[0] != '\0');
    }
    fuzz_records(data, size);
    return 0;
}
