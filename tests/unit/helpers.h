/*
 * helpers.h: shared helpers for the cmocka unit tests (header-only).
 *
 * - th_str: a growable, always NUL-terminated string for transcripts, with
 *   C-style escaping of arbitrary bytes.
 * - feed_all_splits(): feed one input to a fresh parser whole, byte by
 *   byte, cut at every offset into two feeds and (for short inputs) at
 *   every pair of offsets into three, and assert that every chunking gives
 *   the same transcript (STYLE.md 2.4 rule 4, hiredis fragment feeding).
 * - th_clock: a fake clock for modules that take now_ms.
 * - th_alloc: an allocator for rt_set_allocators() that refuses the n-th
 *   request (or every request from the n-th on), counts the blocks live
 *   so tests can assert nothing leaked, and notes the largest request.
 * - th_read_file(): a whole file, for golden corpora.
 *
 * Everything is static inline so that a test file using only part of it
 * builds without unused-function warnings.  Include cmocka through here.
 */
#ifndef RT_TEST_HELPERS_H
#define RT_TEST_HELPERS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rt/alloc.h"
#include "rt/error.h"

/* ------------------------------------------------------------------ */
/* th_str                                                              */

typedef struct th_str {
    char *s;
    size_t len;
    size_t cap;
} th_str;

static inline void th_str_init(th_str *t)
{
    t->s = NULL;
    t->len = 0;
    t->cap = 0;
}

static inline void th_str_free(th_str *t)
{
    free(t->s);
    th_str_init(t);
}

static inline void th_str_putn(th_str *t, const char *p, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 256;

        while (cap < t->len + n + 1)
            cap *= 2;
        t->s = realloc(t->s, cap);
        assert_non_null(t->s);
        t->cap = cap;
    }
    if (n != 0)
        memcpy(t->s + t->len, p, n);
    t->len += n;
    t->s[t->len] = '\0';
}

static inline void th_str_puts(th_str *t, const char *s)
{
    th_str_putn(t, s, strlen(s));
}

static inline void th_str_printf(th_str *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static inline void th_str_printf(th_str *t, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof(tmp));
    th_str_putn(t, tmp, (size_t)n);
}

/*
 * Append |n| bytes as C-style text: printable ASCII as is, backslash as
 * \\, LF CR TAB as \n \r \t, every other byte as \xHH (NUL is \x00).
 */
static inline void th_str_escape(th_str *t, const char *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];

        if (c == '\\')
            th_str_puts(t, "\\\\");
        else if (c == '\n')
            th_str_puts(t, "\\n");
        else if (c == '\r')
            th_str_puts(t, "\\r");
        else if (c == '\t')
            th_str_puts(t, "\\t");
        else if (c < 0x20 || c > 0x7e)
            th_str_printf(t, "\\x%02x", c);
        else
            th_str_putn(t, (const char *)&c, 1);
    }
}

/* ------------------------------------------------------------------ */
/* feed_all_splits                                                     */

/*
 * A parser under test, seen through three functions.  open() makes a
 * fresh parser that writes what it observes (events, callbacks) into |out|
 * as text; feed() passes one chunk and returns 0 or a negative RT_E* code;
 * close() may append final state (a last ID, a pending count) to |out| and
 * frees the parser.  |ctx| is handed to open() (options, limits).
 */
typedef struct th_feeder {
    void *(*open)(void *ctx, th_str *out);
    int (*feed)(void *h, const char *buf, size_t len);
    void (*close)(void *h, th_str *out);
    void *ctx;
} th_feeder;

/* Inputs up to this length are also cut at every pair of offsets. */
#define TH_SPLIT3_MAX 192

/*
 * Feed |in| cut at the |ncuts| ascending offsets |cuts| (equal offsets
 * give empty feeds) and write the transcript to |out|.  The first failing
 * feed writes "error=NAME" and ends the feeding: errors are sticky, so
 * later feeds could only repeat it.
 */
static inline void th_feed_cuts(const th_feeder *f, const char *in, size_t len,
                                const size_t *cuts, size_t ncuts, th_str *out)
{
    void *h = f->open(f->ctx, out);
    size_t k, from = 0;
    int rc = 0;

    assert_non_null(h);
    for (k = 0; k <= ncuts && rc == 0; k++) {
        size_t to = k < ncuts ? cuts[k] : len;

        rc = f->feed(h, in + from, to - from);
        from = to;
    }
    if (rc != 0)
        th_str_printf(out, "error=%s\n", rt_err_name(rc));
    f->close(h, out);
}

static inline void th_feed_bytewise(const th_feeder *f, const char *in,
                                    size_t len, th_str *out)
{
    void *h = f->open(f->ctx, out);
    size_t i;
    int rc = 0;

    assert_non_null(h);
    for (i = 0; i < len && rc == 0; i++)
        rc = f->feed(h, in + i, 1);
    if (rc != 0)
        th_str_printf(out, "error=%s\n", rt_err_name(rc));
    f->close(h, out);
}

static inline void th_expect_same(const th_str *ref, const th_str *got,
                                  const char *how, size_t a, size_t b)
{
    if (ref->len == got->len && memcmp(ref->s, got->s, ref->len) == 0)
        return;
    print_error("chunking '%s' (cuts %zu, %zu) differs from one whole feed\n"
                "--- whole:\n%s--- %s:\n%s",
                how, a, b, ref->s, how, got->s);
    fail_msg("feed_all_splits: result depends on chunking");
}

/*
 * Feed |in| whole, byte by byte, cut once at every offset 0..len and, for
 * inputs up to TH_SPLIT3_MAX bytes (a stride beyond), cut twice at every
 * pair i <= j; assert every transcript equals the whole-feed one.
 *
 * Returns the whole-feed transcript; the caller frees it with free().
 */
static inline char *feed_all_splits(const th_feeder *f, const char *in,
                                    size_t len)
{
    th_str ref, got;
    size_t i, j, cuts[2], step;

    th_str_init(&ref);
    th_str_init(&got);
    th_feed_cuts(f, in, len, NULL, 0, &ref);
    th_str_putn(&ref, "", 0);

    th_feed_bytewise(f, in, len, &got);
    th_str_putn(&got, "", 0);
    th_expect_same(&ref, &got, "byte by byte", 0, 0);

    for (i = 0; i <= len; i++) {
        got.len = 0;
        cuts[0] = i;
        th_feed_cuts(f, in, len, cuts, 1, &got);
        th_str_putn(&got, "", 0);
        th_expect_same(&ref, &got, "two feeds", i, 0);
    }

    step = len <= TH_SPLIT3_MAX ? 1 : len / TH_SPLIT3_MAX + 1;
    for (i = 0; i <= len; i += step) {
        for (j = i; j <= len; j += step) {
            got.len = 0;
            cuts[0] = i;
            cuts[1] = j;
            th_feed_cuts(f, in, len, cuts, 2, &got);
            th_str_putn(&got, "", 0);
            th_expect_same(&ref, &got, "three feeds", i, j);
        }
    }
    th_str_free(&got);
    return ref.s;
}

/*
 * feed_all_splits() and compare the transcript with |expect|, printing
 * both on a mismatch.
 */
static inline void feed_all_splits_expect(const th_feeder *f, const char *in,
                                          size_t len, const char *expect)
{
    char *got = feed_all_splits(f, in, len);

    if (strcmp(got, expect) != 0) {
        print_error("--- expected:\n%s--- got:\n%s", expect, got);
        free(got);
        fail_msg("feed_all_splits: unexpected transcript");
    }
    free(got);
}

/* ------------------------------------------------------------------ */
/* Fake clock                                                          */

typedef struct th_clock {
    uint64_t now_ms;
} th_clock;

static inline void th_clock_init(th_clock *c, uint64_t start_ms)
{
    c->now_ms = start_ms;
}

static inline uint64_t th_clock_advance(th_clock *c, uint64_t ms)
{
    c->now_ms += ms;
    return c->now_ms;
}

/* ------------------------------------------------------------------ */
/* Failing allocator                                                   */

/*
 * Use: th_alloc_install(); then before each attempt th_alloc_fail_at(n)
 * (only request n fails, counting from 0 at this call) or
 * th_alloc_fail_from(n) (request n and every later one fail), or
 * th_alloc_fail_at(-1) to fail nothing; finally th_alloc_uninstall(),
 * which puts the default allocators back.  A realloc is one request.
 *
 * th_alloc_live() counts the blocks handed out through it and not yet
 * freed through it since th_alloc_install(): free what the code under test
 * returned before uninstalling, and 0 means nothing leaked.
 * th_alloc_failed() tells whether the chosen request was reached at all:
 * when it is 0 after a call, no failure was injected into it.
 */
typedef struct th_alloc_state {
    long fail_at;   /* the request that fails; < 0: none */
    int sticky;     /* the ones after it fail too */
    long calls;     /* requests since the last th_alloc_fail_*() */
    long failed;    /* of which refused */
    long live;      /* blocks out, since th_alloc_install() */
    size_t biggest; /* the largest request since th_alloc_fail_*() */
} th_alloc_state;

static inline th_alloc_state *th_alloc(void)
{
    static th_alloc_state st = {-1, 0, 0, 0, 0, 0};

    return &st;
}

/* Count one request of |size| bytes; whether to refuse it. */
static inline int th_alloc_refuse(size_t size)
{
    th_alloc_state *st = th_alloc();
    long i = st->calls++;

    if (size > st->biggest)
        st->biggest = size;
    if (st->fail_at < 0 || i < st->fail_at || (i > st->fail_at && !st->sticky))
        return 0;
    st->failed++;
    return 1;
}

static inline void *th_alloc_malloc(size_t n)
{
    void *p = th_alloc_refuse(n) ? NULL : malloc(n);

    th_alloc()->live += p != NULL;
    return p;
}

static inline void *th_alloc_calloc(size_t a, size_t b)
{
    size_t n = b != 0 && a > SIZE_MAX / b ? SIZE_MAX : a * b;
    void *p = th_alloc_refuse(n) ? NULL : calloc(a, b);

    th_alloc()->live += p != NULL;
    return p;
}

static inline void *th_alloc_realloc(void *p, size_t n)
{
    void *q = th_alloc_refuse(n) ? NULL : realloc(p, n);

    th_alloc()->live += p == NULL && q != NULL;
    return q;
}

static inline void th_alloc_free(void *p)
{
    th_alloc()->live -= p != NULL;
    free(p);
}

static inline void th_alloc_fail_at(long n)
{
    th_alloc_state *st = th_alloc();

    st->fail_at = n;
    st->sticky = 0;
    st->calls = 0;
    st->failed = 0;
    st->biggest = 0;
}

static inline void th_alloc_fail_from(long n)
{
    th_alloc_fail_at(n);
    th_alloc()->sticky = 1;
}

static inline void th_alloc_install(void)
{
    static const rt_allocators a = {th_alloc_malloc, th_alloc_calloc,
                                    th_alloc_realloc, th_alloc_free};

    th_alloc_fail_at(-1);
    th_alloc()->live = 0;
    rt_set_allocators(&a);
}

static inline void th_alloc_uninstall(void)
{
    th_alloc()->fail_at = -1;
    rt_set_allocators(NULL);
}

static inline long th_alloc_live(void)
{
    return th_alloc()->live;
}

static inline long th_alloc_failed(void)
{
    return th_alloc()->failed;
}

static inline size_t th_alloc_biggest(void)
{
    return th_alloc()->biggest;
}

/* ------------------------------------------------------------------ */
/* Files                                                               */

/*
 * Read a whole file in binary; NULL when it cannot be read.  The result
 * is NUL-terminated (not counted in *len); free it with free().
 */
static inline char *th_read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    th_str t;
    char tmp[4096];
    size_t n;

    if (fp == NULL)
        return NULL;
    th_str_init(&t);
    th_str_putn(&t, "", 0);
    while ((n = fread(tmp, 1, sizeof(tmp), fp)) > 0)
        th_str_putn(&t, tmp, n);
    fclose(fp);
    *len = t.len;
    return t.s;
}

#endif /* RT_TEST_HELPERS_H */
