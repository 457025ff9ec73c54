/*
 * fuzz_sse_parser.c: libFuzzer target for lib/core/sse_parser.c.
 *
 * The first two input bytes choose the chunking and when the event
 * callback cancels; the rest is the stream.  It is parsed four ways: in
 * one feed, cut at one and at two data-derived offsets, and byte by byte.
 * Every run must produce the same transcript (events, retries, first
 * error, final last ID), or the target aborts.  The limits are small so
 * that RT_ETOOBIG is reached often.  A reset() parser fed the stream again
 * must match a fresh one given the kept last event ID.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt/sse_parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct out {
    char *s;
    size_t len, cap;
    rt_sse_parser *p;
    unsigned events, cancel_at;
} out;

static void put(out *o, const void *p, size_t n)
{
    if (o->len + n > o->cap) {
        size_t cap = o->cap ? o->cap : 256;

        while (cap < o->len + n)
            cap *= 2;
        o->s = realloc(o->s, cap);
        if (o->s == NULL)
            abort();
        o->cap = cap;
    }
    memcpy(o->s + o->len, p, n);
    o->len += n;
}

/* Length-prefixed so that no byte sequence can fake a field boundary. */
static void put_field(out *o, char tag, const char *p, size_t n)
{
    put(o, &tag, 1);
    put(o, &n, sizeof(n));
    put(o, p, n);
}

static int on_event(const rt_sse_event *ev, void *ud)
{
    out *o = ud;
    size_t idlen;
    const char *id = rt_sse_parser_last_id(o->p, &idlen);

    if (ev->type[ev->type_len] != '\0' || ev->data[ev->data_len] != '\0' ||
        ev->id[ev->id_len] != '\0' || ev->type_len == 0 ||
        idlen != ev->id_len || memcmp(id, ev->id, idlen) != 0 ||
        memchr(ev->id, '\0', ev->id_len) != NULL ||
        memchr(ev->type, '\r', ev->type_len) != NULL ||
        memchr(ev->data, '\r', ev->data_len) != NULL || ev->data_len > 256)
        abort();
    put_field(o, 'T', ev->type, ev->type_len);
    put_field(o, 'I', ev->id, ev->id_len);
    put_field(o, 'D', ev->data, ev->data_len);
    o->events++;
    return o->cancel_at != 0 && o->events == o->cancel_at;
}

static void on_retry(uint64_t ms, void *ud)
{
    out *o = ud;

    put_field(o, 'R', (const char *)&ms, sizeof(ms));
}

static void finish(out *o, int rc)
{
    size_t len;
    const char *id = rt_sse_parser_last_id(o->p, &len);

    put_field(o, 'E', (const char *)&rc, sizeof(rc));
    put_field(o, 'L', id, len);
}

static rt_sse_parser *make(out *o, unsigned cancel_at)
{
    rt_sse_parser_opts opts;
    rt_sse_parser *p;

    memset(o, 0, sizeof(*o));
    o->cancel_at = cancel_at;
    rt_sse_parser_opts_init(&opts);
    opts.max_line_bytes = 64;
    opts.max_data_bytes = 256;
    if (rt_sse_parser_new(&p, &opts, on_event, on_retry, o) != 0)
        abort();
    o->p = p;
    return p;
}

/* Feed |buf| cut at the ascending |cuts|; stop at the first error. */
static int feed_cuts(rt_sse_parser *p, const char *buf, size_t len,
                     const size_t *cuts, size_t ncuts)
{
    size_t k, from = 0;
    int rc = 0;

    for (k = 0; k <= ncuts && rc == 0; k++) {
        size_t to = k < ncuts ? cuts[k] : len;

        rc = rt_sse_parser_feed(p, buf + from, to - from);
        from = to;
    }
    /* Errors are sticky. */
    if (rc != 0 && rt_sse_parser_feed(p, buf, len) != rc)
        abort();
    return rc;
}

static void same(const out *a, const out *b)
{
    if (a->len != b->len || memcmp(a->s, b->s, a->len) != 0) {
        fprintf(stderr, "fuzz_sse_parser: result depends on chunking\n");
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    out ref, got, first;
    rt_sse_parser *p;
    const char *buf, *id;
    char *saved_id;
    size_t len, cuts[2], i, idlen;
    unsigned cancel_at;
    int rc;

    if (size < 2)
        return 0;
    cancel_at = data[1] & 7;
    buf = (const char *)data + 2;
    len = size - 2;

    p = make(&ref, cancel_at);
    finish(&ref, feed_cuts(p, buf, len, NULL, 0));

    /*
     * After reset() the same parser must read the stream again like a
     * fresh parser resumed from the kept last event ID.  Callbacks write
     * through ud == &ref, so park the first transcript and reuse ref.
     */
    first = ref;
    ref.s = NULL;
    ref.len = ref.cap = 0;
    ref.events = 0;
    id = rt_sse_parser_last_id(p, &idlen);
    saved_id = malloc(idlen + 1);
    if (saved_id == NULL)
        abort();
    memcpy(saved_id, id, idlen + 1);
    rt_sse_parser_reset(p);
    finish(&ref, feed_cuts(p, buf, len, NULL, 0));
    rt_sse_parser_free(p);
    p = make(&got, cancel_at);
    if (rt_sse_parser_set_last_id(p, saved_id, idlen) != 0)
        abort();
    finish(&got, feed_cuts(p, buf, len, NULL, 0));
    rt_sse_parser_free(p);
    same(&ref, &got);
    free(got.s);
    free(ref.s);
    free(saved_id);
    ref = first;

    cuts[0] = len ? data[0] % (len + 1) : 0;
    p = make(&got, cancel_at);
    finish(&got, feed_cuts(p, buf, len, cuts, 1));
    rt_sse_parser_free(p);
    same(&ref, &got);
    free(got.s);

    cuts[0] = len ? (size_t)data[0] * 7 % (len + 1) : 0;
    cuts[1] = len ? (size_t)data[1] * 13 % (len + 1) : 0;
    if (cuts[1] < cuts[0]) {
        size_t t = cuts[0];

        cuts[0] = cuts[1];
        cuts[1] = t;
    }
    p = make(&got, cancel_at);
    finish(&got, feed_cuts(p, buf, len, cuts, 2));
    rt_sse_parser_free(p);
    same(&ref, &got);
    free(got.s);

    p = make(&got, cancel_at);
    rc = 0;
    for (i = 0; i < len && rc == 0; i++)
        rc = rt_sse_parser_feed(p, buf + i, 1);
    finish(&got, rc);
    rt_sse_parser_free(p);
    same(&ref, &got);
    free(got.s);

    free(ref.s);
    return 0;
}
