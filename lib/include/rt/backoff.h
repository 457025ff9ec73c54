/*
 * rt/backoff.h: the reconnect delay policy, exponential backoff with full
 * jitter (DESIGN.md "Reliability rules"):
 *
 *     ceiling = min(cap_ms, base_ms * 2^attempt)
 *     delay   = floor(ceiling * rand32 / 2^32)          (jitter_pct 100)
 *
 * so a delay lies in [0, ceiling): rand32 = 0 gives 0 and rand32 =
 * UINT32_MAX gives ceiling - 1.  The caller supplies rand32 (any uniform
 * 32-bit source), which keeps the policy deterministic and testable.
 * With jitter_pct J only span = floor(ceiling * J / 100) is randomised:
 *
 *     delay   = ceiling - span + floor(span * rand32 / 2^32)
 *
 * which lies in [ceiling - span, ceiling), or is exactly ceiling when span
 * is 0 (J = 0: no jitter).
 *
 * The attempt counter resets only after a connection stayed up for
 * stable_ms or delivered a message, so a server that accepts and drops at
 * once cannot cause a tight reconnect loop.  An SSE "retry:" field R
 * becomes the base and the least delay:
 *
 *     delay   = R + floor((span / 2) * rand32 / 2^32)
 *
 * so a delay lies in [R, R + ceiling / 2): never sooner than the server
 * asked.  An HTTP Retry-After sets a floor for the next delay only.
 *
 * An rt_backoff is a plain caller-owned value: no allocation, nothing to
 * free.  Its fields are private; use the functions.
 *
 * Threads: a value is used from one thread at a time (the loop thread).
 */
#ifndef RT_BACKOFF_H
#define RT_BACKOFF_H

#include <stddef.h>
#include <stdint.h>

#include "rt/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest base or cap (one day): keeps ceiling * rand32 within 64 bits. */
#define RT_BACKOFF_MAX_MS ((uint64_t)86400000)
/* Largest floor a Retry-After can impose (one hour). */
#define RT_BACKOFF_RETRY_AFTER_MAX_MS ((uint64_t)3600000)

typedef struct rt_backoff_policy {
    uint64_t base_ms;      /* ceiling of the first delay; 1000 */
    uint64_t cap_ms;       /* ceiling never grows past this; 30000 */
    uint32_t max_attempts; /* delays before RT_EEXHAUSTED; 0 = unlimited */
    uint64_t stable_ms;    /* up this long resets the attempts; 10000 */
    unsigned jitter_pct;   /* share of the ceiling randomised; 100 */
} rt_backoff_policy;

typedef struct rt_backoff {
    rt_backoff_policy p; /* base_ms and cap_ms may change by set_retry */
    uint32_t attempt;
    int has_floor;
    uint64_t floor_ms; /* pending Retry-After, in ms */
    uint64_t retry_ms; /* the SSE retry: in force, a floor; 0 none */
} rt_backoff;

/*
 * Fill |p| with the defaults: base 1000 ms, cap 30000 ms, unlimited
 * attempts, stable after 10000 ms, full jitter.
 *
 * |p| the policy to initialise; the caller may change fields afterwards.
 *
 * Returns nothing.
 * Ownership: |p| stays the caller's.
 * Callbacks: none.
 * See also: rt_backoff_init().
 */
RT_EXTERN void rt_backoff_policy_init(rt_backoff_policy *p);

/*
 * Start a backoff at attempt 0 under policy |p|.
 *
 * |b| the value to initialise.
 * |p| the policy, copied; NULL means rt_backoff_policy_init()'s defaults.
 *     base_ms must be 1..RT_BACKOFF_MAX_MS, cap_ms base_ms..
 *     RT_BACKOFF_MAX_MS and jitter_pct 0..100.
 *
 * Returns 0 or RT_EINVAL (|b| NULL or a field out of range; |b| is then
 * left unchanged).
 * Ownership: |b| is the caller's; there is nothing to clean up.
 * Callbacks: none.
 * See also: rt_backoff_next().
 */
RT_EXTERN int rt_backoff_init(rt_backoff *b, const rt_backoff_policy *p);

/*
 * Compute the delay before the next connection attempt and count the
 * attempt.
 *
 * |b| the backoff.
 * |rand32| a uniformly random 32-bit value from the caller's source.
 * |delay_ms| receives the delay: the jittered value described at the top,
 *     raised to a pending Retry-After floor if there is one (which is then
 *     used up).  The ceiling saturates at cap_ms however many attempts
 *     were made.
 *
 * Returns 0, or RT_EEXHAUSTED when max_attempts delays have already been
 * handed out since the last reset (|delay_ms| is then left alone and the
 * attempt count does not move).
 * Ownership: unchanged.
 * Callbacks: none.
 * See also: rt_backoff_connected(), rt_backoff_delivered().
 */
RT_EXTERN int rt_backoff_next(rt_backoff *b, uint32_t rand32,
                              uint64_t *delay_ms);

/*
 * Report that a connection ended after being up |up_ms|.  The attempt
 * counter resets if |up_ms| >= stable_ms; a shorter-lived connection (a
 * server that accepts and drops at once) leaves it, so the delays keep
 * growing.
 *
 * |b| the backoff.
 * |up_ms| how long the connection that just ended had been established.
 *
 * Returns nothing.
 * Ownership: unchanged.
 * Callbacks: none.
 * See also: rt_backoff_delivered().
 */
RT_EXTERN void rt_backoff_connected(rt_backoff *b, uint64_t up_ms);

/*
 * Report that a message was delivered: the connection works, so the
 * attempt counter resets.
 *
 * |b| the backoff.
 *
 * Returns nothing.
 * Ownership: unchanged.
 * Callbacks: none.
 * See also: rt_backoff_connected().
 */
RT_EXTERN void rt_backoff_delivered(rt_backoff *b);

/*
 * Apply an SSE "retry:" field: |ms|, the server's reconnection time,
 * becomes the base for every later delay and the least of them (WHATWG
 * HTML, "Interpreting an event stream": the reconnection time), and the
 * cap is raised to at least |ms|.  The jitter goes above it, up to half
 * the ceiling, which still doubles per failed attempt: a server that
 * raises retry: to shed load gets at least that much, and the clients of
 * a restarted server do not come back in lockstep.  The attempt counter
 * is untouched.
 *
 * |b| the backoff.
 * |ms| the field's value; clamped to 1..RT_BACKOFF_MAX_MS (so "retry: 0"
 *     cannot make the delays vanish).
 *
 * Returns nothing.
 * Ownership: unchanged.
 * Callbacks: none.
 * See also: rt_backoff_init() (restores the policy's base and cap).
 */
RT_EXTERN void rt_backoff_set_retry(rt_backoff *b, uint64_t ms);

/*
 * Apply an HTTP Retry-After header (RFC 9110 section 10.2.3): the next
 * delay rt_backoff_next() returns is at least what it asks for, at most
 * RT_BACKOFF_RETRY_AFTER_MAX_MS, and even past cap_ms.  It is one-shot: the
 * delay after that is the plain jittered one.  A later call replaces an
 * unused earlier one.
 *
 * |b| the backoff.
 * |value| the field value, |len| bytes, optional whitespace around it:
 *     delta-seconds ("120"; any number of digits, saturating) or an
 *     IMF-fixdate ("Wed, 21 Oct 2015 07:28:00 GMT").  The obsolete RFC 850
 *     and asctime date forms are not accepted.
 * |now_s| the current time in seconds since the Unix epoch, to turn a
 *     date into a wait; a date not after it means no floor beyond 0.
 *
 * Returns 0 or RT_EINVAL (an empty or unparsable value, or |value| NULL
 * with |len| > 0; the pending floor is then left as it was).
 * Ownership: |value| is borrowed for the call only.
 * Callbacks: none.
 * See also: rt_backoff_next().
 */
RT_EXTERN int rt_backoff_retry_after(rt_backoff *b, const char *value,
                                     size_t len, int64_t now_s);

/*
 * Count the delays handed out since the last reset.
 *
 * |b| the backoff.
 *
 * Returns the count (saturating at UINT32_MAX).
 * Ownership: unchanged.
 * Callbacks: none.
 * See also: rt_backoff_next().
 */
RT_EXTERN uint32_t rt_backoff_attempt(const rt_backoff *b);

#ifdef __cplusplus
}
#endif

#endif /* RT_BACKOFF_H */
