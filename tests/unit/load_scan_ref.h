/*
 * load_scan_ref.h: the straightforward version of cli_load_scan() (one
 * memmem() per key, as cmd_load.c had it), which the fast one must agree
 * with on every input (test_load_scan.c, fuzz_load_scan.c).  Its
 * includer defines _GNU_SOURCE first, for memmem().
 */
#ifndef RT_LOAD_SCAN_REF_H
#define RT_LOAD_SCAN_REF_H

#include <stdint.h>
#include <string.h>

static int ref_digits(const char *m, const char *end, uint64_t *out)
{
    uint64_t v = 0;
    int n = 0;

    for (; m < end && *m >= '0' && *m <= '9'; m++) {
        if (++n > 19)
            return -1;
        v = v * 10 + (uint64_t)(*m - '0');
    }
    *out = v;
    return 0;
}

static int ref_scan(const char *p, size_t len, uint64_t *seq, uint64_t *due)
{
    static const char key[] = "\"content\":\"rtl1 ";
    const char *end = p + len;
    const char *m = memmem(p, len, key, sizeof(key) - 1);
    const char *s = memmem(p, len, "\"seq\":", 6);
    const char *d = memmem(p, len, "\"data\":", 7);
    int colons = 0;

    if (m == NULL || s == NULL || (d != NULL && d < s))
        return -1;
    if (ref_digits(s + 6, end, seq) != 0)
        return -1;
    for (m += sizeof(key) - 1; m < end && colons < 2; m++)
        if (*m == ':')
            colons++;
    if (colons < 2)
        return -1;
    return ref_digits(m, end, due);
}

#endif
