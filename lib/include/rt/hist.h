/*
 * rt/hist.h: a latency histogram in the manner of HdrHistogram.
 *
 * Values are unsigned integers in a unit of the caller's choosing (rtctl
 * records microseconds).  Every value between the lowest discernible value
 * and the highest trackable value is kept to the chosen number of
 * significant decimal digits: with 3 digits, two values the histogram
 * cannot tell apart differ by less than 0.1%.  Recording takes constant
 * time; histograms of the same configuration merge without loss, so the
 * percentiles of a merge equal those of one histogram that recorded every
 * value; the JSON form round-trips exactly.
 *
 * Out-of-range values: a value above the highest trackable value is
 * clamped, recorded as that highest value, and counted in
 * rt_hist_clamped(), so a load report still accounts for it.  Zero (and
 * anything below the lowest discernible value) lands in the lowest bucket.
 *
 * Threads: a histogram is a plain value; give each thread its own and
 * merge them.  Calls on one histogram must not overlap.
 */
#ifndef RT_HIST_H
#define RT_HIST_H

#include <stddef.h>
#include <stdint.h>

#include "rt/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The configuration of rt_hist_new_default(): 1 us to 1 h, 3 digits. */
#define RT_HIST_DEFAULT_LOWEST 1
#define RT_HIST_DEFAULT_HIGHEST UINT64_C(3600000000)
#define RT_HIST_DEFAULT_SIGFIGS 3

/* Most counters one histogram may hold (16 MiB of counts). */
#define RT_HIST_MAX_BUCKETS (1u << 21)

/* Longest JSON text rt_hist_from_json() reads. */
#define RT_HIST_JSON_MAX (64u * 1024 * 1024)

typedef struct rt_hist rt_hist;

/*
 * Create an empty histogram.
 *
 * |lowest| the smallest value told apart from 0, >= 1; it is rounded down
 *   to a power of two internally, as HdrHistogram does.
 * |highest| the largest value tracked, >= 2 * |lowest|, <= 2^62.
 * |sigfigs| significant decimal digits kept, 1 to 5.
 *
 * Returns 0, RT_EINVAL for a NULL |out| or a configuration outside those
 * bounds or needing more than RT_HIST_MAX_BUCKETS counters, RT_ENOMEM.
 *
 * Ownership: the caller frees *out with rt_hist_free().
 * See also: rt_hist_new_default().
 */
RT_EXTERN int rt_hist_new(rt_hist **out, uint64_t lowest, uint64_t highest,
                          int sigfigs);

/*
 * Create an empty histogram of the default configuration (1 to
 * 3,600,000,000 at 3 significant digits: 1 us to 1 h in microseconds).
 *
 * Returns 0, RT_EINVAL for a NULL |out|, RT_ENOMEM.
 * Ownership: the caller frees *out with rt_hist_free().
 */
RT_EXTERN int rt_hist_new_default(rt_hist **out);

/* Free a histogram.  rt_hist_free(NULL) is a no-op. */
RT_EXTERN void rt_hist_free(rt_hist *h);

/*
 * Record one value; see rt_hist_record_n().
 */
RT_EXTERN int rt_hist_record(rt_hist *h, uint64_t value);

/*
 * Record |n| occurrences of |value| in constant time.  A value above the
 * highest trackable one is recorded as that value and counted as clamped.
 *
 * Returns 0 (also for n == 0, which records nothing), RT_EINVAL for a NULL
 * |h|, RT_ERANGE when a counter or the total count would pass
 * UINT64_MAX (nothing is recorded then).
 */
RT_EXTERN int rt_hist_record_n(rt_hist *h, uint64_t value, uint64_t n);

/*
 * The value at percentile |p| (0 to 100), as HdrHistogram defines it: the
 * highest value equivalent to the bucket where the count of values at or
 * below it first reaches p% of the total (the lowest equivalent value for
 * p == 0).  p is clamped to [0, 100]; NaN counts as 0.
 *
 * Returns that value, or 0 for an empty histogram.
 */
RT_EXTERN uint64_t rt_hist_percentile(const rt_hist *h, double p);

/* Number of values recorded (clamped ones included). */
RT_EXTERN uint64_t rt_hist_count(const rt_hist *h);

/* Smallest and largest value recorded, exactly (a clamped value counts as
 * the highest trackable value); 0 when empty. */
RT_EXTERN uint64_t rt_hist_min(const rt_hist *h);
RT_EXTERN uint64_t rt_hist_max(const rt_hist *h);

/*
 * Mean of the recorded values, each taken as the middle of its bucket (as
 * HdrHistogram computes it, so merging never changes it); 0 when empty.
 */
RT_EXTERN double rt_hist_mean(const rt_hist *h);

/* How many recorded values were above the highest trackable value. */
RT_EXTERN uint64_t rt_hist_clamped(const rt_hist *h);

/* Configuration accessors. */
RT_EXTERN uint64_t rt_hist_lowest(const rt_hist *h);
RT_EXTERN uint64_t rt_hist_highest(const rt_hist *h);
RT_EXTERN int rt_hist_sigfigs(const rt_hist *h);

/*
 * The smallest and the largest value the histogram cannot tell apart from
 * |value| (|value| clamped to the highest trackable value first).
 */
RT_EXTERN uint64_t rt_hist_lowest_equivalent(const rt_hist *h, uint64_t value);
RT_EXTERN uint64_t rt_hist_highest_equivalent(const rt_hist *h,
                                              uint64_t value);

/* Forget every recorded value; the configuration stays. */
RT_EXTERN void rt_hist_reset(rt_hist *h);

/*
 * Add every value of |src| to |dst|.
 *
 * Returns 0, RT_EINVAL for a NULL argument or when the two were created
 * with different lowest, highest or sigfigs, RT_ERANGE when a counter
 * would overflow; on error |dst| is unchanged.
 */
RT_EXTERN int rt_hist_merge(rt_hist *dst, const rt_hist *src);

/*
 * Serialise to compact JSON:
 *   {"v":1,"lo":L,"hi":H,"sig":S,"n":N,"min":A,"max":B,"clamped":K,
 *    "c":[g1,c1,g2,c2,...]}
 * where each pair is one non-empty bucket: g the number of empty buckets
 * skipped since the previous non-empty one (or since index 0), c its
 * count.  All numbers are non-negative integers written in full, so
 * counts up to UINT64_MAX survive (a JSON library that stores numbers as
 * doubles keeps them exact only below 2^53).
 *
 * |len| may be NULL.
 *
 * Returns 0, RT_EINVAL on a NULL argument, RT_ENOMEM.
 * Ownership: the caller frees *out with rt_free().
 * See also: rt_hist_from_json().
 */
RT_EXTERN int rt_hist_to_json(const rt_hist *h, char **out, size_t *len);

/*
 * Rebuild a histogram from rt_hist_to_json() output, which may come from
 * another machine: every member is required and checked (version, a valid
 * configuration, bucket positions inside the histogram, non-zero counts
 * summing to n without overflow, min and max in the first and last
 * non-empty buckets, clamped values only in the top bucket).  Any JSON
 * whitespace is accepted; members may come in any order; unknown or
 * repeated members, escapes in names, signs, fractions and exponents are
 * refused.
 *
 * |json| |len| bytes, no terminator needed, at most RT_HIST_JSON_MAX.
 * |errbuf| receives the reason on failure; may be NULL.
 *
 * Returns 0, RT_EPROTO for malformed or inconsistent input, RT_ETOOBIG
 * when |len| passes RT_HIST_JSON_MAX, RT_EINVAL on a NULL argument,
 * RT_ENOMEM.
 *
 * Ownership: the caller frees *out with rt_hist_free().
 */
RT_EXTERN int rt_hist_from_json(rt_hist **out, const char *json, size_t len,
                                char *errbuf, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif /* RT_HIST_H */
