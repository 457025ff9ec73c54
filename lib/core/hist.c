/*
 * hist.c: an HdrHistogram-style latency histogram.
 *
 * Spec: the HdrHistogram layout (Gil Tene; HdrHistogram_c hdr_histogram.c
 * is the reference for the arithmetic below).  Values are counted in
 * buckets whose width doubles from one bucket to the next; each bucket is
 * split into sub_count linear sub-buckets, sub_count being the power of
 * two at or above 2 * 10^sigfigs, so every value keeps sigfigs significant
 * digits.  Bucket 0 uses all its sub-buckets; later buckets only their top
 * half (the bottom half would repeat the previous bucket), which gives the
 * flat index
 *
 *     index = ((bucket + 1) << half_mag) + (sub - sub_half)
 *
 * computed in constant time from a count of leading zeros.
 *
 * Invariants:
 * - total == sum of counts; clamped <= counts[top_index];
 * - total == 0 implies min == max == clamped == 0; otherwise min and max
 *   are exact recorded values (a clamped one being |highest|) lying in
 *   the first and last non-empty buckets;
 * - values above |highest| are recorded as |highest|; counts_len ==
 *   top_index + 1, so no index past that of |highest| exists.
 *
 * The JSON reader is a small strict parser rather than cJSON: it keeps
 * 64-bit counts exact (cJSON holds numbers as doubles) and allocates
 * nothing per number, so hostile input costs no more memory than the
 * histogram it describes.
 */
#include <stdio.h>
#include <inttypes.h>
#include <float.h>
#include <string.h>

#include "core_int.h"
#include "rt/hist.h"

struct rt_hist {
    uint64_t lowest;
    uint64_t highest;
    int sigfigs;
    int unit_mag;
    int half_mag;
    uint32_t sub_count;
    uint32_t sub_half;
    uint64_t sub_mask;
    size_t counts_len;
    uint64_t total;
    uint64_t min;
    uint64_t max;
    uint64_t clamped;
    uint64_t *counts;
};

#define MAX_HIGHEST (UINT64_C(1) << 62)

/* Leading zero bits of a non-zero |v|, without a loop. */
static int clz64(uint64_t v)
{
#if defined(__GNUC__)
    return __builtin_clzll(v);
#else
    int n = 0;

    if ((v & UINT64_C(0xFFFFFFFF00000000)) == 0) {
        n += 32;
        v <<= 32;
    }
    if ((v & UINT64_C(0xFFFF000000000000)) == 0) {
        n += 16;
        v <<= 16;
    }
    if ((v & UINT64_C(0xFF00000000000000)) == 0) {
        n += 8;
        v <<= 8;
    }
    if ((v & UINT64_C(0xF000000000000000)) == 0) {
        n += 4;
        v <<= 4;
    }
    if ((v & UINT64_C(0xC000000000000000)) == 0) {
        n += 2;
        v <<= 2;
    }
    if ((v & UINT64_C(0x8000000000000000)) == 0) {
        n += 1;
    }
    return n;
#endif
}

/* ------------------------------------------------------ index arithmetic */

static int bucket_of(const struct rt_hist *h, uint64_t v)
{
    int pow2ceil = 64 - clz64(v | h->sub_mask);

    return pow2ceil - h->unit_mag - (h->half_mag + 1);
}

static size_t index_of(const struct rt_hist *h, uint64_t v)
{
    int b = bucket_of(h, v);
    uint64_t sub = v >> (b + h->unit_mag);

    return ((size_t)(b + 1) << h->half_mag) + (size_t)(sub - h->sub_half);
}

/* The lowest value counted at |index|. */
static uint64_t value_at(const struct rt_hist *h, size_t index)
{
    long b = (long)(index >> h->half_mag) - 1;
    uint64_t sub = (index & (h->sub_half - 1)) + h->sub_half;

    if (b < 0) {
        sub -= h->sub_half;
        b = 0;
    }
    return sub << (b + h->unit_mag);
}

/* Width of the range of values equivalent to |v|. */
static uint64_t range_size(const struct rt_hist *h, uint64_t v)
{
    int b = bucket_of(h, v);
    uint64_t sub = v >> (b + h->unit_mag);
    int adj = sub >= h->sub_count ? b + 1 : b;

    return UINT64_C(1) << (h->unit_mag + adj);
}

static uint64_t lowest_eq(const struct rt_hist *h, uint64_t v)
{
    int b = bucket_of(h, v);
    uint64_t sub = v >> (b + h->unit_mag);

    return sub << (b + h->unit_mag);
}

static uint64_t highest_eq(const struct rt_hist *h, uint64_t v)
{
    return lowest_eq(h, v) + range_size(h, v) - 1;
}

/* ------------------------------------------------------------ lifecycle */

/*
 * Derive the layout from the configuration (HdrHistogram_c
 * hdr_calculate_bucket_config).  Returns 0 or RT_EINVAL.
 */
static int configure(struct rt_hist *h, uint64_t lowest, uint64_t highest,
                     int sigfigs)
{
    uint64_t single_unit = 2, untrackable;
    int sub_mag = 0, i;
    size_t buckets = 1;

    if (lowest < 1 || sigfigs < 1 || sigfigs > 5 || highest > MAX_HIGHEST ||
        lowest > highest / 2)
        return RT_EINVAL;
    for (i = 0; i < sigfigs; i++)
        single_unit *= 10;
    while ((UINT64_C(1) << sub_mag) < single_unit)
        sub_mag++;
    h->lowest = lowest;
    h->highest = highest;
    h->sigfigs = sigfigs;
    h->half_mag = (sub_mag > 1 ? sub_mag : 1) - 1;
    h->unit_mag = 63 - clz64(lowest);
    h->sub_count = UINT32_C(1) << (h->half_mag + 1);
    h->sub_half = h->sub_count / 2;
    h->sub_mask = (uint64_t)(h->sub_count - 1) << h->unit_mag;
    if (h->unit_mag + h->half_mag > 61)
        return RT_EINVAL;
    untrackable = (uint64_t)h->sub_count << h->unit_mag;
    while (untrackable <= highest) {
        if (untrackable > INT64_MAX / 2) {
            buckets++;
            break;
        }
        untrackable <<= 1;
        buckets++;
    }
    if ((buckets + 1) * h->sub_half > RT_HIST_MAX_BUCKETS)
        return RT_EINVAL;
    h->counts_len = index_of(h, highest) + 1;
    return 0;
}

int rt_hist_new(rt_hist **out, uint64_t lowest, uint64_t highest, int sigfigs)
{
    struct rt_hist *h;

    if (out == NULL)
        return RT_EINVAL;
    *out = NULL;
    h = rt__calloc(1, sizeof *h);
    if (h == NULL)
        return RT_ENOMEM;
    if (configure(h, lowest, highest, sigfigs) != 0) {
        rt__free(h);
        return RT_EINVAL;
    }
    h->counts = rt__calloc(h->counts_len, sizeof *h->counts);
    if (h->counts == NULL) {
        rt__free(h);
        return RT_ENOMEM;
    }
    *out = h;
    return 0;
}

int rt_hist_new_default(rt_hist **out)
{
    return rt_hist_new(out, RT_HIST_DEFAULT_LOWEST, RT_HIST_DEFAULT_HIGHEST,
                       RT_HIST_DEFAULT_SIGFIGS);
}

void rt_hist_free(rt_hist *h)
{
    if (h == NULL)
        return;
    rt__free(h->counts);
    rt__free(h);
}

void rt_hist_reset(rt_hist *h)
{
    if (h == NULL)
        return;
    memset(h->counts, 0, h->counts_len * sizeof *h->counts);
    h->total = h->min = h->max = h->clamped = 0;
}

/* ------------------------------------------------------------ recording */

int rt_hist_record_n(rt_hist *h, uint64_t value, uint64_t n)
{
    int clamp = 0;
    size_t i;

    if (h == NULL)
        return RT_EINVAL;
    if (n == 0)
        return 0;
    if (value > h->highest) {
        value = h->highest;
        clamp = 1;
    }
    i = index_of(h, value);
    if (h->total > UINT64_MAX - n || h->counts[i] > UINT64_MAX - n)
        return RT_ERANGE;
    if (h->total == 0) {
        h->min = h->max = value;
    } else {
        if (value < h->min)
            h->min = value;
        if (value > h->max)
            h->max = value;
    }
    h->counts[i] += n;
    h->total += n;
    if (clamp)
        h->clamped += n;
    return 0;
}

int rt_hist_record(rt_hist *h, uint64_t value)
{
    return rt_hist_record_n(h, value, 1);
}

/* ------------------------------------------------------------- queries */

uint64_t rt_hist_percentile(const rt_hist *h, double p)
{
    double x;
    uint64_t want, cum = 0;
    size_t i;

    if (h == NULL || h->total == 0)
        return 0;
    if (!(p > 0))
        p = 0; /* NaN as well */
    if (p > 100)
        p = 100;
    /*
     * The rank is ceil(p% of total).  The guard keeps a product such as
     * 99.9 / 100 * 10000 = 9990.000000000002 from rounding up a whole rank:
     * it is a few units in the last place of x, never a whole rank, even
     * at 10^12 values and more (a guard of x * 1e-12 dropped ranks there).
     */
    x = p / 100.0 * (double)h->total;
    x -= x * (4 * DBL_EPSILON);
    if (p >= 100) {
        want = h->total;
    } else if (x <= 1) {
        want = 1;
    } else if (x >= (double)h->total) {
        want = h->total;
    } else {
        want = (uint64_t)x; /* the ceiling, without libm */
        if ((double)want < x)
            want++;
    }
    for (i = 0; i < h->counts_len; i++) {
        cum += h->counts[i];
        if (cum >= want)
            break;
    }
    if (i == h->counts_len)
        i--; /* unreachable while the invariants hold */
    return p == 0 ? value_at(h, i) : highest_eq(h, value_at(h, i));
}

uint64_t rt_hist_count(const rt_hist *h)
{
    return h != NULL ? h->total : 0;
}

uint64_t rt_hist_min(const rt_hist *h)
{
    return h != NULL ? h->min : 0;
}

uint64_t rt_hist_max(const rt_hist *h)
{
    return h != NULL ? h->max : 0;
}

uint64_t rt_hist_clamped(const rt_hist *h)
{
    return h != NULL ? h->clamped : 0;
}

double rt_hist_mean(const rt_hist *h)
{
    long double sum = 0;
    size_t i;

    if (h == NULL || h->total == 0)
        return 0;
    for (i = 0; i < h->counts_len; i++) {
        if (h->counts[i] != 0) {
            uint64_t v = value_at(h, i);
            uint64_t mid = lowest_eq(h, v) + (range_size(h, v) >> 1);
            sum += (long double)h->counts[i] * (long double)mid;
        }
    }
    return (double)(sum / (long double)h->total);
}

uint64_t rt_hist_lowest(const rt_hist *h)
{
    return h != NULL ? h->lowest : 0;
}

uint64_t rt_hist_highest(const rt_hist *h)
{
    return h != NULL ? h->highest : 0;
}

int rt_hist_sigfigs(const rt_hist *h)
{
    return h != NULL ? h->sigfigs : 0;
}

uint64_t rt_hist_lowest_equivalent(const rt_hist *h, uint64_t value)
{
    if (h == NULL)
        return 0;
    return lowest_eq(h, value > h->highest ? h->highest : value);
}

uint64_t rt_hist_highest_equivalent(const rt_hist *h, uint64_t value)
{
    if (h == NULL)
        return 0;
    return highest_eq(h, value > h->highest ? h->highest : value);
}

/* -------------------------------------------------------------- merging */

int rt_hist_merge(rt_hist *dst, const rt_hist *src)
{
    size_t i;

    if (dst == NULL || src == NULL)
        return RT_EINVAL;
    if (dst->lowest != src->lowest || dst->highest != src->highest ||
        dst->sigfigs != src->sigfigs)
        return RT_EINVAL;
    if (src->total == 0)
        return 0;
    /* Check everything first so that a failure leaves |dst| untouched. */
    if (dst->total > UINT64_MAX - src->total)
        return RT_ERANGE;
    for (i = 0; i < src->counts_len; i++)
        if (dst->counts[i] > UINT64_MAX - src->counts[i])
            return RT_ERANGE;
    for (i = 0; i < src->counts_len; i++)
        dst->counts[i] += src->counts[i];
    if (dst->total == 0) {
        dst->min = src->min;
        dst->max = src->max;
    } else {
        if (src->min < dst->min)
            dst->min = src->min;
        if (src->max > dst->max)
            dst->max = src->max;
    }
    dst->total += src->total;
    dst->clamped += src->clamped;
    return 0;
}

/* ----------------------------------------------------------------- JSON */

int rt_hist_to_json(const rt_hist *h, char **out, size_t *len)
{
    rt_buf b;
    size_t i, last = 0;
    int first = 1, rc;

    if (out != NULL)
        *out = NULL;
    if (len != NULL)
        *len = 0;
    if (h == NULL || out == NULL)
        return RT_EINVAL;
    rt__buf_init(&b);
    rc = rt__buf_printf(&b,
                        "{\"v\":1,\"lo\":%" PRIu64 ",\"hi\":%" PRIu64
                        ",\"sig\":%d,\"n\":%" PRIu64 ",\"min\":%" PRIu64
                        ",\"max\":%" PRIu64 ",\"clamped\":%" PRIu64 ",\"c\":[",
                        h->lowest, h->highest, h->sigfigs, h->total, h->min,
                        h->max, h->clamped);
    for (i = 0; rc == 0 && i < h->counts_len; i++) {
        if (h->counts[i] == 0)
            continue;
        rc = rt__buf_printf(&b, "%s%zu,%" PRIu64, first ? "" : ",",
                            first ? i : i - last - 1, h->counts[i]);
        first = 0;
        last = i;
    }
    if (rc == 0)
        rc = rt__buf_append(&b, "]}", 2);
    if (rc != 0) {
        rt__buf_cleanup(&b);
        return RT_ENOMEM;
    }
    *out = rt__buf_detach(&b, len);
    return 0;
}

/* The reader's state: input, position, error detail. */
struct jp {
    const char *s;
    size_t n;
    size_t i;
    char *err;
    size_t errlen;
};

static int jfail(struct jp *p, const char *what)
{
    rt__seterr(p->err, p->errlen, "histogram JSON: %s at offset %zu", what,
               p->i);
    return RT_EPROTO;
}

static void jws(struct jp *p)
{
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' ||
                           p->s[p->i] == '\n' || p->s[p->i] == '\r'))
        p->i++;
}

static int jpeek(struct jp *p)
{
    jws(p);
    return p->i < p->n ? (unsigned char)p->s[p->i] : -1;
}

static int jexpect(struct jp *p, char c)
{
    char what[32];

    if (jpeek(p) != (unsigned char)c) {
        snprintf(what, sizeof what, "expected '%c'", c);
        return jfail(p, what);
    }
    p->i++;
    return 0;
}

/* A JSON number that must be a non-negative integer fitting 64 bits. */
static int jnum(struct jp *p, uint64_t *v)
{
    size_t start;
    uint64_t x = 0;
    int c = jpeek(p);

    if (c == '-')
        return jfail(p, "negative number");
    if (c < '0' || c > '9')
        return jfail(p, "expected a number");
    start = p->i;
    while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') {
        unsigned d = (unsigned)(p->s[p->i] - '0');
        if (x > (UINT64_MAX - d) / 10)
            return jfail(p, "number out of range");
        x = x * 10 + d;
        p->i++;
    }
    if (p->i - start > 1 && p->s[start] == '0')
        return jfail(p, "number with a leading zero");
    if (p->i < p->n &&
        (p->s[p->i] == '.' || p->s[p->i] == 'e' || p->s[p->i] == 'E'))
        return jfail(p, "number is not an integer");
    *v = x;
    return 0;
}

/* A member name: plain ASCII letters only (ours all are). */
static int jkey(struct jp *p, char *key, size_t cap)
{
    size_t k = 0;

    if (jexpect(p, '"') != 0)
        return RT_EPROTO;
    while (p->i < p->n && p->s[p->i] != '"') {
        char c = p->s[p->i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) ||
            k + 1 >= cap)
            return jfail(p, "unknown member");
        key[k++] = c;
        p->i++;
    }
    if (p->i >= p->n)
        return jfail(p, "unterminated string");
    p->i++;
    key[k] = '\0';
    return 0;
}

/*
 * Walk the "c" array.  With |h| NULL only the syntax is checked (the
 * array may come before the configuration); otherwise counts are stored,
 * with every position and sum checked, and |first|/|last| set.
 */
static int jcounts(struct jp *p, struct rt_hist *h, uint64_t *sum,
                   size_t *first, size_t *last)
{
    uint64_t gap, cnt;
    size_t idx = 0, pairs = 0;

    if (jexpect(p, '[') != 0)
        return RT_EPROTO;
    *sum = 0;
    if (jpeek(p) == ']') {
        p->i++;
        return 0;
    }
    for (;;) {
        if (jnum(p, &gap) != 0)
            return RT_EPROTO;
        if (jexpect(p, ',') != 0)
            return jfail(p, "odd number of entries in \"c\"");
        if (jnum(p, &cnt) != 0)
            return RT_EPROTO;
        if (h != NULL) {
            uint64_t pos = pairs == 0 ? gap : (uint64_t)idx + 1 + gap;
            if (gap >= h->counts_len || pos >= h->counts_len)
                return jfail(p, "bucket index out of range");
            idx = (size_t)pos;
            if (cnt == 0)
                return jfail(p, "empty bucket listed");
            if (*sum > UINT64_MAX - cnt)
                return jfail(p, "counts overflow");
            *sum += cnt;
            h->counts[idx] = cnt;
            if (pairs == 0)
                *first = idx;
            *last = idx;
        }
        pairs++;
        if (jpeek(p) == ']') {
            p->i++;
            return 0;
        }
        if (jexpect(p, ',') != 0)
            return RT_EPROTO;
    }
}

enum { K_V, K_LO, K_HI, K_SIG, K_N, K_MIN, K_MAX, K_CLAMPED, K_C, K_COUNT };

static const char *const keys[K_COUNT] = {"v",   "lo",  "hi",      "sig", "n",
                                          "min", "max", "clamped", "c"};

static int from_json(struct rt_hist **out, struct jp *p)
{
    uint64_t val[K_COUNT] = {0};
    unsigned seen = 0;
    size_t c_at = 0, first = 0, last = 0, k;
    uint64_t sum;
    struct rt_hist *h;
    int rc;

    if (jexpect(p, '{') != 0)
        return RT_EPROTO;
    if (jpeek(p) == '}')
        return jfail(p, "missing members");
    for (;;) {
        char key[16];

        if (jkey(p, key, sizeof key) != 0)
            return RT_EPROTO;
        for (k = 0; k < K_COUNT && strcmp(key, keys[k]) != 0; k++)
            ;
        if (k == K_COUNT)
            return jfail(p, "unknown member");
        if (seen & (1u << k))
            return jfail(p, "repeated member");
        seen |= 1u << k;
        if (jexpect(p, ':') != 0)
            return RT_EPROTO;
        if (k == K_C) {
            jws(p);
            c_at = p->i;
            if (jcounts(p, NULL, &sum, &first, &last) != 0)
                return RT_EPROTO;
        } else if (jnum(p, &val[k]) != 0) {
            return RT_EPROTO;
        }
        if (jpeek(p) == '}') {
            p->i++;
            break;
        }
        if (jexpect(p, ',') != 0)
            return RT_EPROTO;
    }
    jws(p);
    if (p->i != p->n)
        return jfail(p, "trailing data");
    if (seen != (1u << K_COUNT) - 1)
        return jfail(p, "missing members");
    if (val[K_V] != 1)
        return jfail(p, "unsupported version");
    if (val[K_SIG] > 5)
        return jfail(p, "invalid configuration");
    rc = rt_hist_new(&h, val[K_LO], val[K_HI], (int)val[K_SIG]);
    if (rc == RT_EINVAL)
        return jfail(p, "invalid configuration");
    if (rc != 0)
        return rc;

    p->i = c_at;
    if (jcounts(p, h, &sum, &first, &last) != 0)
        goto bad;
    if (sum != val[K_N]) {
        jfail(p, "counts do not add up to n");
        goto bad;
    }
    h->total = val[K_N];
    h->min = val[K_MIN];
    h->max = val[K_MAX];
    h->clamped = val[K_CLAMPED];
    if (h->total == 0) {
        if (h->min != 0 || h->max != 0 || h->clamped != 0) {
            jfail(p, "empty histogram with min, max or clamped");
            goto bad;
        }
    } else if (h->min > h->max || h->max > h->highest ||
               index_of(h, h->min) != first || index_of(h, h->max) != last) {
        jfail(p, "min or max does not match the counts");
        goto bad;
    } else if (h->clamped > 0 && (h->max != h->highest ||
                                  h->clamped > h->counts[h->counts_len - 1])) {
        jfail(p, "clamped does not match the counts");
        goto bad;
    }
    *out = h;
    return 0;
bad:
    rt_hist_free(h);
    return RT_EPROTO;
}

int rt_hist_from_json(rt_hist **out, const char *json, size_t len,
                      char *errbuf, size_t errlen)
{
    struct jp p;
    int rc;

    if (out != NULL)
        *out = NULL;
    if (out == NULL || json == NULL) {
        rt__seterr(errbuf, errlen, "histogram JSON: no input");
        return RT_EINVAL;
    }
    if (len > RT_HIST_JSON_MAX) {
        rt__seterr(errbuf, errlen, "histogram JSON: longer than %u bytes",
                   RT_HIST_JSON_MAX);
        return RT_ETOOBIG;
    }
    p.s = json;
    p.n = len;
    p.i = 0;
    p.err = errbuf;
    p.errlen = errlen;
    rc = from_json(out, &p);
    if (rc == RT_ENOMEM)
        rt__seterr(errbuf, errlen, "histogram JSON: out of memory");
    return rc;
}
