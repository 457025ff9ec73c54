/*
 * raw.c: the messages of `rtctl load --raw`, for WebSocket servers that
 * know nothing of the rtctl protocol and echo what they get (websocat, a
 * Node `ws` echo, the bundled server's /echo).
 *
 * A message is the --message template with every {marker} replaced by
 * "rtl1 CONN:SEQ:DUE" (connection, its sequence number, the due time in
 * us), as tcpkali's \{message.marker}: the echo brings the marker back,
 * so the generator knows which message returned and when it was due,
 * whatever else the server added around it.  Without --message the
 * template is one marker padded with 'x' to --size bytes.
 */
#include <stdio.h>
#include <string.h>

#include "load/load.h"

#define PLACEHOLDER "{marker}"
#define RAW_MARK "rtl1 "

int cli_raw_template_ok(const char *tpl)
{
    return strstr(tpl, PLACEHOLDER) != NULL;
}

size_t cli_raw_fill(char *out, size_t cap, const char *tpl, size_t pad_to,
                    unsigned conn, uint64_t seq, uint64_t due_us)
{
    char mark[80];
    size_t n = 0, ml;
    const char *p, *q;

    ml = (size_t)snprintf(mark, sizeof(mark), RAW_MARK "%u:%llu:%llu ", conn,
                          (unsigned long long)seq, (unsigned long long)due_us);
    for (p = tpl; (q = strstr(p, PLACEHOLDER)) != NULL;
         p = q + sizeof(PLACEHOLDER) - 1) {
        if (n + (size_t)(q - p) + ml >= cap)
            return 0;
        memcpy(out + n, p, (size_t)(q - p));
        n += (size_t)(q - p);
        memcpy(out + n, mark, ml);
        n += ml;
    }
    if (n + strlen(p) >= cap)
        return 0;
    memcpy(out + n, p, strlen(p));
    n += strlen(p);
    while (n < pad_to && n + 1 < cap)
        out[n++] = 'x';
    out[n] = '\0';
    return n;
}

size_t cli_raw_size(const char *tpl, size_t pad_to)
{
    size_t n = strlen(tpl), k = 0;
    const char *p;

    for (p = tpl; (p = strstr(p, PLACEHOLDER)) != NULL; p++)
        k++;
    n += k * 64;
    return (n > pad_to ? n : pad_to) + 1;
}

int cli_raw_parse(const char *p, size_t len, unsigned *conn, uint64_t *seq,
                  uint64_t *due_us)
{
    const char *end = p + len, *m = p;
    uint64_t v[3] = {0, 0, 0};
    int i;

    for (;;) {
        m = memchr(m, 'r', (size_t)(end - m));
        if (m == NULL || (size_t)(end - m) < sizeof(RAW_MARK) - 1)
            return -1;
        if (memcmp(m, RAW_MARK, sizeof(RAW_MARK) - 1) == 0)
            break;
        m++;
    }
    m += sizeof(RAW_MARK) - 1;
    for (i = 0; i < 3; i++) {
        const char *d = m;

        while (m < end && *m >= '0' && *m <= '9' && m - d < 19)
            v[i] = v[i] * 10 + (uint64_t)(*m++ - '0');
        if (m == d || m == end || *m != (i < 2 ? ':' : ' '))
            return -1;
        m++;
    }
    if (v[0] > 0xffffffffu)
        return -1;
    *conn = (unsigned)v[0];
    *seq = v[1];
    *due_us = v[2];
    return 0;
}
