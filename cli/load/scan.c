/*
 * scan.c: the seq and the due time of one of our broadcasts, as a
 * subscriber of `rtctl load` receives it tens of thousands of times a
 * second.  One pass over the message: every key we look for begins with
 * a quote, so stopping at each quote and comparing there finds
 * the first occurrence of each key, exactly as searching for each key
 * from the start would (three memmem() calls did, half of the
 * generator's own user time per delivery).
 */
#include <string.h>

#include "load/load.h"

#define KEY_SEQ "\"seq\":"
#define KEY_DATA "\"data\":"
#define KEY_MARK "\"content\":\"rtl1 "
#define NUM_MAX 19 /* digits: below 2^64 */

/* Digits at [p, end), at most NUM_MAX of them; -1 beyond. */
static int digits(const char *p, const char *end, uint64_t *out)
{
    uint64_t v = 0;
    int n = 0;

    for (; p < end && *p >= '0' && *p <= '9'; p++) {
        if (++n > NUM_MAX)
            return -1;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *out = v;
    return 0;
}

static inline int at(const char *q, const char *end, const char *key,
                     size_t klen)
{
    return (size_t)(end - q) >= klen && memcmp(q, key, klen) == 0;
}

int cli_load_scan(const char *p, size_t len, uint64_t *seq, uint64_t *due_us)
{
    const char *end = p + len, *q = p;
    const char *s = NULL, *d = NULL, *m = NULL;
    int colons = 0;

    /* a byte loop, not memchr(): the quotes are a few bytes apart, and
       a call per quote cost more than the bytes */
    for (; q < end && (m == NULL || (s == NULL && d == NULL)); q++) {
        if (*q != '"' || q + 1 == end)
            continue;
        /* the byte after the quote tells which key it could be */
        if (q[1] == 's' && s == NULL &&
            at(q, end, KEY_SEQ, sizeof(KEY_SEQ) - 1))
            s = q;
        else if (q[1] == 'd' && d == NULL &&
                 at(q, end, KEY_DATA, sizeof(KEY_DATA) - 1))
            d = q;
        else if (q[1] == 'c' && m == NULL &&
                 at(q, end, KEY_MARK, sizeof(KEY_MARK) - 1))
            m = q;
    }
    /* the top-level seq comes before "data"; the marker may be anywhere */
    if (s == NULL || m == NULL || (d != NULL && d < s))
        return -1;
    if (digits(s + sizeof(KEY_SEQ) - 1, end, seq) != 0)
        return -1;
    /* the due time follows the marker's second colon (PUB:SEQ:DUE) */
    for (m += sizeof(KEY_MARK) - 1; m < end && colons < 2; m++)
        if (*m == ':')
            colons++;
    if (colons < 2)
        return -1;
    return digits(m, end, due_us);
}
