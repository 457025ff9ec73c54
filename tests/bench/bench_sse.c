/*
 * bench_sse.c: throughput of rt_sse_parser_feed().
 *
 * Builds a stream of 4 KiB data events (about 64 MiB), feeds it in 16 KiB
 * reads, as a socket would hand them over, several times, and reports the
 * best run.  For context the same buffer goes through two baselines in
 * the same process: a memchr scan for LF (a bound no line parser beats)
 * and a naive parser that looks at one byte at a time.  A second stream of
 * small events (id, event and one short data line) shows the per-event
 * cost.
 *
 * Usage: bench_sse [iterations]   (default 5)
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rt/sse_parser.h"

#define CHUNK ((size_t)16 << 10)

typedef struct stream {
    char *buf;
    size_t len;
    size_t events;
    size_t data_bytes;
} stream;

typedef struct tally {
    size_t events;
    size_t data_bytes;
} tally;

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void append(stream *s, size_t *cap, const char *p, size_t n)
{
    if (s->len + n > *cap) {
        while (s->len + n > *cap)
            *cap = *cap ? *cap * 2 : 1 << 20;
        s->buf = realloc(s->buf, *cap);
        if (s->buf == NULL) {
            fprintf(stderr, "bench_sse: out of memory\n");
            exit(1);
        }
    }
    memcpy(s->buf + s->len, p, n);
    s->len += n;
}

/* Events of one data line of |payload| bytes each, until |total| bytes. */
static void build(stream *s, size_t payload, int with_fields, size_t total)
{
    size_t cap = 0, i;
    char *line = malloc(payload + 16);
    char head[64];

    if (line == NULL)
        exit(1);
    memset(s, 0, sizeof(*s));
    memcpy(line, "data: ", 6);
    for (i = 0; i < payload; i++)
        line[6 + i] = (char)('a' + i % 26);
    memcpy(line + 6 + payload, "\n\n", 2);
    while (s->len < total) {
        if (with_fields) {
            int n = snprintf(head, sizeof(head), "id: ep1-%zu\nevent: text\n",
                             s->events);

            append(s, &cap, head, (size_t)n);
        }
        append(s, &cap, line, payload + 8);
        s->events++;
        s->data_bytes += payload;
    }
    free(line);
}

static int count_event(const rt_sse_event *ev, void *ud)
{
    tally *t = ud;

    t->events++;
    t->data_bytes += ev->data_len;
    return 0;
}

static double run_parser(const stream *s, int iters)
{
    double best = 1e30;
    int it;

    for (it = 0; it < iters; it++) {
        rt_sse_parser *p;
        tally t = {0, 0};
        size_t off;
        double t0, dt;

        if (rt_sse_parser_new(&p, NULL, count_event, NULL, &t) != 0)
            exit(1);
        t0 = now_s();
        for (off = 0; off < s->len; off += CHUNK) {
            size_t n = s->len - off < CHUNK ? s->len - off : CHUNK;

            if (rt_sse_parser_feed(p, s->buf + off, n) != 0) {
                fprintf(stderr, "bench_sse: feed failed\n");
                exit(1);
            }
        }
        dt = now_s() - t0;
        rt_sse_parser_free(p);
        if (t.events != s->events || t.data_bytes != s->data_bytes) {
            fprintf(stderr, "bench_sse: parser saw %zu events, want %zu\n",
                    t.events, s->events);
            exit(1);
        }
        if (dt < best)
            best = dt;
    }
    return best;
}

static double run_memchr(const stream *s, int iters)
{
    double best = 1e30;
    int it;

    for (it = 0; it < iters; it++) {
        volatile size_t lines = 0;
        size_t off, n = 0;
        double t0, dt;

        t0 = now_s();
        for (off = 0; off < s->len; off += CHUNK) {
            const char *q = s->buf + off;
            const char *end =
                q + (s->len - off < CHUNK ? s->len - off : CHUNK);

            while ((q = memchr(q, '\n', (size_t)(end - q))) != NULL) {
                n++;
                q++;
            }
        }
        lines = n;
        dt = now_s() - t0;
        (void)lines;
        if (dt < best)
            best = dt;
    }
    return best;
}

/*
 * The naive parser: every byte goes through the line-end test and into a
 * line buffer; complete lines are split on ':' and data appended.  It
 * handles CR, LF and CRLF, comments and the data/event fields, which is
 * enough for this stream.
 */
typedef struct naive {
    char *line;
    size_t line_len, line_cap;
    char *data;
    size_t data_len, data_cap;
    int has_data, last_cr;
    tally t;
} naive;

static void grow(char **p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return;
    while (*cap < need)
        *cap = *cap ? *cap * 2 : 256;
    *p = realloc(*p, *cap);
    if (*p == NULL)
        exit(1);
}

static void naive_line(naive *nv)
{
    char *s = nv->line, *colon;
    size_t n = nv->line_len, nl, vl;

    if (n == 0) {
        if (nv->has_data) {
            nv->t.events++;
            nv->t.data_bytes += nv->data_len;
        }
        nv->has_data = 0;
        nv->data_len = 0;
        return;
    }
    if (s[0] == ':')
        return;
    colon = memchr(s, ':', n);
    nl = colon ? (size_t)(colon - s) : n;
    vl = colon ? n - nl - 1 : 0;
    if (colon && vl && colon[1] == ' ') {
        colon++;
        vl--;
    }
    if (nl == 4 && memcmp(s, "data", 4) == 0) {
        size_t add = vl + (nv->has_data ? 1 : 0);

        grow(&nv->data, &nv->data_cap, nv->data_len + add);
        if (nv->has_data)
            nv->data[nv->data_len++] = '\n';
        if (vl)
            memcpy(nv->data + nv->data_len, colon + 1, vl);
        nv->data_len += vl;
        nv->has_data = 1;
    }
}

static void naive_feed(naive *nv, const char *buf, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        char c = buf[i];

        if (c == '\n' && nv->last_cr) {
            nv->last_cr = 0;
            continue;
        }
        nv->last_cr = c == '\r';
        if (c == '\r' || c == '\n') {
            naive_line(nv);
            nv->line_len = 0;
        } else {
            if (nv->line_len == nv->line_cap)
                grow(&nv->line, &nv->line_cap, nv->line_len + 1);
            nv->line[nv->line_len++] = c;
        }
    }
}

static double run_naive(const stream *s, int iters)
{
    double best = 1e30;
    int it;

    for (it = 0; it < iters; it++) {
        naive nv;
        size_t off;
        double t0, dt;

        memset(&nv, 0, sizeof(nv));
        t0 = now_s();
        for (off = 0; off < s->len; off += CHUNK)
            naive_feed(&nv, s->buf + off,
                       s->len - off < CHUNK ? s->len - off : CHUNK);
        dt = now_s() - t0;
        free(nv.line);
        free(nv.data);
        if (nv.t.events != s->events) {
            fprintf(stderr, "bench_sse: naive saw %zu events\n", nv.t.events);
            exit(1);
        }
        if (dt < best)
            best = dt;
    }
    return best;
}

static void report(const char *label, const stream *s, int iters)
{
    double tp = run_parser(s, iters);
    double tm = run_memchr(s, iters);
    double tn = run_naive(s, iters);
    double gp = (double)s->len / tp / 1e9;
    double gm = (double)s->len / tm / 1e9;
    double gn = (double)s->len / tn / 1e9;

    printf("sse_parser: %s: %.0f MB/s = %.2f GB/s, %.1f M events/s "
           "(memchr scan %.2f GB/s, ratio %.2f; naive byte loop %.2f GB/s, "
           "ratio %.1fx)\n",
           label, gp * 1e3, gp, (double)s->events / tp / 1e6, gm, gp / gm, gn,
           gp / gn);
}

int main(int argc, char **argv)
{
    int iters = argc > 1 ? atoi(argv[1]) : 5;
    stream s;

    if (iters < 1)
        iters = 1;
    build(&s, 4096, 0, (size_t)64 << 20);
    printf("stream: %zu events of 4 KiB, %.1f MiB, %zu-byte reads, "
           "best of %d\n",
           s.events, (double)s.len / (1 << 20), CHUNK, iters);
    report("4 KiB events", &s, iters);
    free(s.buf);

    build(&s, 100, 1, (size_t)64 << 20);
    printf("stream: %zu events of id+event+100 B data, %.1f MiB\n", s.events,
           (double)s.len / (1 << 20));
    report("small events", &s, iters);
    free(s.buf);
    return 0;
}
