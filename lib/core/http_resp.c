/*
 * http_resp.c: the HTTP/1.1 response reader (rt/http_resp.h).
 *
 * Spec: RFC 9112 sections 4 (status line), 5 (field lines), 6.3 (message
 * body length) and 7.1 (chunked transfer coding).
 *
 * Invariants: the head is the only thing buffered, and never past
 * max_head_bytes; the parsed head (up to RT_HTTP_MAX_HEADERS fields) lives
 * on the stack for the on_head call only, so an idle reader costs its
 * small struct and nothing else.  A chunk-size line is read a byte at a
 * time without a buffer: its digits accumulate into a number, an
 * extension after ';' is skipped, and the line is bounded.
 */
#include <string.h>

#include "rt/error.h"
#include "rt/http_resp.h"

#include "core_int.h"

#define HEAD_DEFAULT_MAX (16u * 1024)
#define CHUNK_LINE_MAX 1024

enum state {
    S_HEAD,
    S_BODY_LEN,
    S_BODY_EOF,
    S_CHUNK_SIZE,
    S_CHUNK_EXT,
    S_CHUNK_DATA,
    S_CHUNK_CR,
    S_TRAILER,
    S_UPGRADED,
    S_ERROR
};

struct rt_http_resp {
    rt_http_resp_cbs cbs;
    void *ud;
    enum state st;
    int err;
    size_t max_head;
    rt_buf head;
    size_t line_len; /* bytes of the current line, CR not counted */
    uint64_t remaining;
    unsigned chunk_digits;
    size_t chunk_line;
    int upgraded;
};

int rt_http_resp_new(rt_http_resp **out, size_t max_head_bytes,
                     const rt_http_resp_cbs *cbs, void *ud)
{
    rt_http_resp *r;

    if (out == NULL || cbs == NULL || cbs->on_head == NULL)
        return RT_EINVAL;
    r = rt__calloc(1, sizeof(*r));
    if (r == NULL)
        return RT_ENOMEM;
    r->cbs = *cbs;
    r->ud = ud;
    r->max_head = max_head_bytes ? max_head_bytes : HEAD_DEFAULT_MAX;
    rt__buf_init(&r->head);
    *out = r;
    return 0;
}

void rt_http_resp_free(rt_http_resp *r)
{
    if (r == NULL)
        return;
    rt__buf_cleanup(&r->head);
    rt__free(r);
}

void rt_http_resp_reset(rt_http_resp *r)
{
    rt__buf_cleanup(&r->head);
    rt__buf_init(&r->head);
    r->st = S_HEAD;
    r->err = 0;
    r->line_len = 0;
    r->remaining = 0;
    r->upgraded = 0;
}

int rt_http_resp_upgraded(const rt_http_resp *r)
{
    return r->upgraded;
}

int rt_http_resp_idle(const rt_http_resp *r)
{
    return r->st == S_HEAD && r->head.len == 0;
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int ieq(const char *a, size_t alen, const char *b)
{
    size_t i;

    if (strlen(b) != alen)
        return 0;
    for (i = 0; i < alen; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return 0;
    return 1;
}

const rt_http_header *rt_http_head_find(const rt_http_head *h,
                                        const char *name)
{
    size_t i;

    for (i = 0; i < h->nheaders; i++)
        if (ieq(h->headers[i].name, h->headers[i].name_len, name))
            return &h->headers[i];
    return NULL;
}

/* Does the comma-separated list |v| hold |tok| (case-insensitive)?
 * |last| 1: only as its last member. */
static int has_token(const char *v, size_t len, const char *tok, int last)
{
    size_t i = 0;
    int found = 0;

    while (i < len) {
        size_t s, e;

        while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        s = i;
        while (i < len && v[i] != ',')
            i++;
        e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (e > s)
            found = ieq(v + s, e - s, tok) ? 1 : (last ? 0 : found);
    }
    return found;
}

static int is_tchar(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int parse_head(rt_http_resp *r, rt_http_head *h)
{
    const char *p = r->head.data, *end = p + r->head.len;
    const char *eol;
    size_t n;

    h->nheaders = 0;
    h->content_length = -1;
    h->chunked = 0;
    eol = memchr(p, '\n', (size_t)(end - p));
    n = (size_t)(eol - p);
    if (n > 0 && p[n - 1] == '\r')
        n--;
    /* HTTP/1.x SP 3DIGIT SP reason (the SP before an empty reason may be
     * missing in the wild; accept that) */
    if (n < 12 || memcmp(p, "HTTP/1.", 7) != 0 || p[7] < '0' || p[7] > '9' ||
        p[8] != ' ' || p[9] < '1' || p[9] > '9' || p[10] < '0' ||
        p[10] > '9' || p[11] < '0' || p[11] > '9' || (n > 12 && p[12] != ' '))
        return RT_EPROTO;
    h->minor_version = p[7] - '0';
    h->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    h->reason = n > 13 ? p + 13 : p + n;
    h->reason_len = n > 13 ? n - 13 : 0;
    h->close = h->minor_version == 0;
    p = eol + 1;
    for (;;) {
        const char *colon, *v, *ve;
        rt_http_header *f;

        eol = memchr(p, '\n', (size_t)(end - p));
        n = (size_t)(eol - p);
        if (n > 0 && p[n - 1] == '\r')
            n--;
        if (n == 0)
            break;
        if (p[0] == ' ' || p[0] == '\t')
            return RT_EPROTO; /* obs-fold */
        colon = memchr(p, ':', n);
        if (colon == NULL || colon == p)
            return RT_EPROTO;
        for (v = p; v < colon; v++)
            if (!is_tchar((unsigned char)*v))
                return RT_EPROTO;
        if (h->nheaders == RT_HTTP_MAX_HEADERS)
            return RT_ETOOBIG;
        v = colon + 1;
        ve = p + n;
        while (v < ve && (*v == ' ' || *v == '\t'))
            v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        f = &h->headers[h->nheaders++];
        f->name = p;
        f->name_len = (size_t)(colon - p);
        f->value = v;
        f->value_len = (size_t)(ve - v);
        if (ieq(f->name, f->name_len, "content-length")) {
            uint64_t cl = 0;
            size_t i;

            if (f->value_len == 0 || f->value_len > 18)
                return RT_EPROTO;
            for (i = 0; i < f->value_len; i++) {
                if (v[i] < '0' || v[i] > '9')
                    return RT_EPROTO;
                cl = cl * 10 + (uint64_t)(v[i] - '0');
            }
            if (h->content_length >= 0 && (uint64_t)h->content_length != cl)
                return RT_EPROTO;
            h->content_length = (int64_t)cl;
        } else if (ieq(f->name, f->name_len, "transfer-encoding")) {
            if (!has_token(v, f->value_len, "chunked", 1))
                return RT_EPROTO; /* a coding we cannot undo */
            h->chunked = 1;
        } else if (ieq(f->name, f->name_len, "connection")) {
            if (has_token(v, f->value_len, "close", 0))
                h->close = 1;
        }
        p = eol + 1;
    }
    return 0;
}

static int fail(rt_http_resp *r, int err)
{
    r->st = S_ERROR;
    r->err = err;
    return err;
}

static int done(rt_http_resp *r)
{
    r->st = S_HEAD;
    r->line_len = 0;
    if (r->cbs.on_done != NULL && r->cbs.on_done(r->ud) != 0)
        return fail(r, RT_ECANCELED);
    return 0;
}

/* The head is complete in r->head: parse it and pick the body framing. */
static int head_done(rt_http_resp *r)
{
    rt_http_head h;
    int rc = parse_head(r, &h);

    if (rc != 0)
        return fail(r, rc);
    if (h.status >= 100 && h.status < 200 && h.status != 101) {
        rt__buf_clear(&r->head);
        r->line_len = 0;
        return 0; /* interim: the real head follows */
    }
    if (r->cbs.on_head(&h, r->ud) != 0)
        return fail(r, RT_ECANCELED);
    rt__buf_cleanup(&r->head);
    rt__buf_init(&r->head);
    r->line_len = 0;
    if (h.status == 101) {
        r->upgraded = 1;
        r->st = S_UPGRADED;
        return 0;
    }
    if (h.status == 204 || h.status == 304)
        return done(r);
    if (h.chunked) {
        r->st = S_CHUNK_SIZE;
        r->remaining = 0;
        r->chunk_digits = 0;
        r->chunk_line = 0;
        return 0;
    }
    if (h.content_length >= 0) {
        r->remaining = (uint64_t)h.content_length;
        if (r->remaining == 0)
            return done(r);
        r->st = S_BODY_LEN;
        return 0;
    }
    r->st = S_BODY_EOF;
    return 0;
}

static int body(rt_http_resp *r, const char *p, size_t n)
{
    if (n > 0 && r->cbs.on_body != NULL && r->cbs.on_body(p, n, r->ud) != 0)
        return fail(r, RT_ECANCELED);
    return 0;
}

int rt_http_resp_feed(rt_http_resp *r, const char *buf, size_t len,
                      size_t *used)
{
    size_t i = 0;
    int rc = 0;

    if (used != NULL)
        *used = 0;
    if (r->st == S_ERROR)
        return r->err;
    while (i < len && rc == 0) {
        char c = buf[i];
        size_t n;

        switch (r->st) {
        case S_HEAD: {
            /* copy up to the end of the head, a line at a time */
            const char *nl = memchr(buf + i, '\n', len - i);
            size_t take = nl ? (size_t)(nl - (buf + i)) + 1 : len - i;
            int blank;

            if (r->head.len + take > r->max_head)
                return fail(r, RT_ETOOBIG);
            if (rt__buf_append(&r->head, buf + i, take) != 0)
                return fail(r, RT_ENOMEM);
            i += take;
            if (nl == NULL) {
                r->line_len += take;
                break;
            }
            /* the line just ended: was it empty (CR alone allowed)? */
            n = r->line_len + take - 1;
            blank =
                n == 0 || (n == 1 && r->head.data[r->head.len - 2] == '\r');
            r->line_len = 0;
            if (blank) {
                if (r->head.len <= 2) {
                    /* empty lines before a status line: tolerated */
                    rt__buf_clear(&r->head);
                    break;
                }
                rc = head_done(r);
            }
            break;
        }
        case S_BODY_LEN:
            n = len - i;
            if (n > r->remaining)
                n = (size_t)r->remaining;
            rc = body(r, buf + i, n);
            i += n;
            r->remaining -= n;
            if (rc == 0 && r->remaining == 0)
                rc = done(r);
            break;
        case S_BODY_EOF:
            rc = body(r, buf + i, len - i);
            i = len;
            break;
        case S_CHUNK_SIZE:
            i++;
            if (++r->chunk_line > CHUNK_LINE_MAX)
                return fail(r, RT_ETOOBIG);
            if (rt__hexval(c) >= 0) {
                if (++r->chunk_digits > 15)
                    return fail(r, RT_EPROTO);
                r->remaining = r->remaining * 16 + (uint64_t)rt__hexval(c);
            } else if (r->chunk_digits == 0) {
                return fail(r, RT_EPROTO);
            } else if (c == ';' || c == ' ' || c == '\t') {
                r->st = S_CHUNK_EXT;
            } else if (c == '\r') {
                r->st = S_CHUNK_EXT;
            } else if (c == '\n') {
                goto size_line_done;
            } else {
                return fail(r, RT_EPROTO);
            }
            break;
        case S_CHUNK_EXT:
            i++;
            if (++r->chunk_line > CHUNK_LINE_MAX)
                return fail(r, RT_ETOOBIG);
            if (c != '\n')
                break;
        size_line_done:
            r->chunk_line = 0;
            r->chunk_digits = 0;
            if (r->remaining == 0) {
                r->st = S_TRAILER;
                r->line_len = 0;
            } else {
                r->st = S_CHUNK_DATA;
            }
            break;
        case S_CHUNK_DATA:
            n = len - i;
            if (n > r->remaining)
                n = (size_t)r->remaining;
            rc = body(r, buf + i, n);
            i += n;
            r->remaining -= n;
            if (r->remaining == 0) {
                r->st = S_CHUNK_CR;
                r->chunk_line = 0;
            }
            break;
        case S_CHUNK_CR:
            /* CRLF (or a bare LF) after the chunk data */
            i++;
            if (c == '\r' && r->chunk_line == 0) {
                r->chunk_line = 1;
            } else if (c == '\n') {
                r->chunk_line = 0;
                r->st = S_CHUNK_SIZE;
            } else {
                return fail(r, RT_EPROTO);
            }
            break;
        case S_TRAILER:
            /* trailer fields until an empty line; dropped */
            i++;
            if (c == '\n') {
                if (r->line_len == 0)
                    rc = done(r);
                r->line_len = 0;
            } else if (c != '\r' || r->line_len > 0) {
                if (++r->line_len > r->max_head)
                    return fail(r, RT_ETOOBIG);
            }
            break;
        case S_UPGRADED:
            if (used != NULL)
                *used = i;
            return 0;
        case S_ERROR:
            return r->err;
        }
    }
    if (used != NULL)
        *used = i;
    return rc;
}

int rt_http_resp_eof(rt_http_resp *r)
{
    switch (r->st) {
    case S_ERROR:
        return r->err;
    case S_BODY_EOF:
        return done(r);
    case S_HEAD:
        return r->head.len == 0 ? 0 : fail(r, RT_EPROTO);
    case S_UPGRADED:
        return 0;
    default:
        return fail(r, RT_EPROTO);
    }
}
