/*
 * backoff.c: reconnect delays, exponential backoff with full jitter.
 *
 * Spec: DESIGN.md "Reliability rules" (delay = random(0, min(cap,
 * base * 2^attempt)), reset after --stable-after or a delivered message);
 * STYLE.md 2.4; the "full jitter" of the AWS Architecture Blog's
 * "Exponential Backoff And Jitter"; WHATWG HTML "Interpreting an event
 * stream" for retry:; RFC 9110 sections 5.6.7 (IMF-fixdate) and 10.2.3
 * (Retry-After).
 *
 * Invariants:
 * - 1 <= base_ms <= cap_ms <= RT_BACKOFF_MAX_MS < 2^32, so ceiling * rand32
 *   and ceiling * jitter_pct fit in 64 bits and base << attempt is only
 *   computed for attempt < 32, where it cannot overflow either.
 * - attempt counts delays handed out since the last reset and saturates.
 * - floor_ms <= RT_BACKOFF_RETRY_AFTER_MAX_MS; has_floor is cleared by the
 *   delay that honours it.
 * - retry_ms is 0 or the base_ms set_retry() set: a delay is never below
 *   it, and retry_ms + cap_ms / 2 fits in 64 bits.
 *
 * The module is pure: the caller passes randomness and the current time,
 * and HTTP dates are converted with days-from-civil arithmetic, not timegm.
 */
#include <string.h>

#include "rt/backoff.h"

#include "core_int.h"

void rt_backoff_policy_init(rt_backoff_policy *p)
{
    memset(p, 0, sizeof(*p));
    p->base_ms = 1000;
    p->cap_ms = 30000;
    p->max_attempts = 0;
    p->stable_ms = 10000;
    p->jitter_pct = 100;
}

int rt_backoff_init(rt_backoff *b, const rt_backoff_policy *p)
{
    rt_backoff_policy def;

    if (b == NULL)
        return RT_EINVAL;
    if (p == NULL) {
        rt_backoff_policy_init(&def);
        p = &def;
    }
    if (p->base_ms == 0 || p->base_ms > RT_BACKOFF_MAX_MS ||
        p->cap_ms < p->base_ms || p->cap_ms > RT_BACKOFF_MAX_MS ||
        p->jitter_pct > 100)
        return RT_EINVAL;
    memset(b, 0, sizeof(*b));
    b->p = *p;
    return 0;
}

static uint64_t ceiling(const rt_backoff *b)
{
    uint64_t c;

    /* base >= 1 and cap < 2^32: from attempt 32 on the cap always wins. */
    if (b->attempt >= 32)
        return b->p.cap_ms;
    c = b->p.base_ms << b->attempt;
    return c < b->p.cap_ms ? c : b->p.cap_ms;
}

int rt_backoff_next(rt_backoff *b, uint32_t rand32, uint64_t *delay_ms)
{
    uint64_t c, span, d;

    if (b->p.max_attempts != 0 && b->attempt >= b->p.max_attempts)
        return RT_EEXHAUSTED;
    c = ceiling(b);
    span = c * b->p.jitter_pct / 100;
    if (b->retry_ms != 0) {
        /*
         * The server's retry: is the least wait: the jitter goes above
         * it, up to half the ceiling, which still doubles per attempt.
         */
        d = b->retry_ms + (((span / 2) * rand32) >> 32);
    } else {
        d = c - span + ((span * rand32) >> 32);
    }
    if (b->has_floor && d < b->floor_ms)
        d = b->floor_ms;
    b->has_floor = 0;
    b->floor_ms = 0;
    if (b->attempt != UINT32_MAX)
        b->attempt++;
    *delay_ms = d;
    return 0;
}

void rt_backoff_connected(rt_backoff *b, uint64_t up_ms)
{
    if (up_ms >= b->p.stable_ms)
        b->attempt = 0;
}

void rt_backoff_delivered(rt_backoff *b)
{
    b->attempt = 0;
}

void rt_backoff_set_retry(rt_backoff *b, uint64_t ms)
{
    if (ms < 1)
        ms = 1;
    if (ms > RT_BACKOFF_MAX_MS)
        ms = RT_BACKOFF_MAX_MS;
    b->p.base_ms = ms;
    b->retry_ms = ms;
    if (b->p.cap_ms < ms)
        b->p.cap_ms = ms;
}

uint32_t rt_backoff_attempt(const rt_backoff *b)
{
    return b->attempt;
}

/* --- Retry-After */

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Parse exactly |n| digits at |s|; -1 if any is not a digit. */
static int digits(const char *s, size_t n)
{
    int v = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/*
 * Days from 1970-01-01 to the proleptic Gregorian date y-m-d (Howard
 * Hinnant, "chrono-Compatible Low-Level Date Algorithms", days_from_civil).
 */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/*
 * IMF-fixdate, RFC 9110 section 5.6.7: "Sun, 06 Nov 1994 08:49:37 GMT",
 * always 29 bytes, names case-sensitive.  The day name must be a real one
 * but is not checked against the date (the date is what counts).
 */
static int parse_imf_fixdate(const char *s, size_t len, int64_t *out)
{
    static const char days[] = "MonTueWedThuFriSatSun";
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    static const unsigned char mdays[] = {31, 28, 31, 30, 31, 30,
                                          31, 31, 30, 31, 30, 31};
    int day, year, hour, min, sec, mon, i, dim;

    if (len != 29)
        return RT_EINVAL;
    for (i = 0; i < 7; i++)
        if (memcmp(s, days + 3 * i, 3) == 0)
            break;
    if (i == 7)
        return RT_EINVAL;
    for (mon = 0; mon < 12; mon++)
        if (memcmp(s + 8, months + 3 * mon, 3) == 0)
            break;
    if (mon == 12)
        return RT_EINVAL;
    if (s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' ||
        s[16] != ' ' || s[19] != ':' || s[22] != ':' || s[25] != ' ' ||
        memcmp(s + 26, "GMT", 3) != 0)
        return RT_EINVAL;
    day = digits(s + 5, 2);
    year = digits(s + 12, 4);
    hour = digits(s + 17, 2);
    min = digits(s + 20, 2);
    sec = digits(s + 23, 2);
    if (day < 0 || year < 0 || hour < 0 || min < 0 || sec < 0)
        return RT_EINVAL;
    dim = mdays[mon] + (mon == 1 && is_leap(year));
    /* sec 60 is a leap second (RFC 9110 allows it); it counts as one more. */
    if (day < 1 || day > dim || hour > 23 || min > 59 || sec > 60)
        return RT_EINVAL;
    *out = days_from_civil(year, (unsigned)mon + 1, (unsigned)day) * 86400 +
           hour * 3600 + min * 60 + sec;
    return 0;
}

int rt_backoff_retry_after(rt_backoff *b, const char *value, size_t len,
                           int64_t now_s)
{
    const uint64_t max_s = RT_BACKOFF_RETRY_AFTER_MAX_MS / 1000;
    uint64_t secs = 0;
    int64_t when;
    size_t i;

    if (value == NULL && len > 0)
        return RT_EINVAL;
    while (len > 0 && is_ows(value[0])) {
        value++;
        len--;
    }
    while (len > 0 && is_ows(value[len - 1]))
        len--;
    if (len == 0)
        return RT_EINVAL;
    if (is_digit(value[0])) {
        /* delta-seconds = 1*DIGIT; saturate well before overflow. */
        for (i = 0; i < len; i++) {
            if (!is_digit(value[i]))
                return RT_EINVAL;
            if (secs <= max_s)
                secs = secs * 10 + (uint64_t)(value[i] - '0');
        }
    } else {
        if (parse_imf_fixdate(value, len, &when) != 0)
            return RT_EINVAL;
        /* |when| is within years 0000..9999, so when - max_s is safe. */
        if (now_s >= when)
            secs = 0;
        else if (now_s < when - (int64_t)max_s)
            secs = max_s;
        else
            secs = (uint64_t)(when - now_s);
    }
    if (secs > max_s)
        secs = max_s;
    b->floor_ms = secs * 1000;
    b->has_floor = 1;
    return 0;
}
