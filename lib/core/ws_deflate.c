/*
 * ws_deflate.c: permessage-deflate (RFC 7692) for the client, on zlib.
 *
 * Spec: RFC 7692 section 7 (the parameters, 7.1; compressing and
 * decompressing a message, 7.2: raw deflate, a sync flush whose final
 * 00 00 ff ff is cut off by the sender and put back by the receiver).
 *
 * Memory: one inflate stream (a 32 KiB window) and one deflate stream
 * (about 256 KiB at 15 bits), made at acceptance and kept for the
 * connection when context takeover is on; output goes out in 16 KiB
 * pieces, so a small frame that inflates to gigabytes costs no more than
 * |limit| of CPU before it is refused.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <zlib.h>

#include "rt/error.h"

#include "ws_deflate.h"

#define PIECE 16384

struct rt__pmd {
    z_stream in, out;
    int in_ready, out_ready;
    int server_no_takeover, client_no_takeover;
    int client_bits;  /* our compressor's window, 8 to 15 */
    uint64_t msg_len; /* inflated so far of the message being read */
};

/* "10" or "\"10\"" to 8..15; -1 otherwise. */
static int window_bits(const char *v, size_t n)
{
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
        v++;
        n -= 2;
    }
    if (n == 1 && v[0] >= '8' && v[0] <= '9')
        return v[0] - '0';
    if (n == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5')
        return 10 + (v[1] - '0');
    return -1;
}

static int trim(const char **s, size_t n)
{
    while (n > 0 && (**s == ' ' || **s == '\t')) {
        (*s)++;
        n--;
    }
    while (n > 0 && ((*s)[n - 1] == ' ' || (*s)[n - 1] == '\t'))
        n--;
    return (int)n;
}

int rt__pmd_accept(rt__pmd **out, const char *v, size_t len, char *detail,
                   size_t dlen)
{
    rt__pmd *d;
    const char *p = v, *end = v + len, *semi, *eq;
    int first = 1, seen[4] = {0, 0, 0, 0}, k;
    size_t n;

    *out = NULL;
    if (memchr(v, ',', len) != NULL) {
        snprintf(detail, dlen, "the server accepted more than one extension");
        return RT_EHANDSHAKE;
    }
    if ((d = rt__calloc(1, sizeof(*d))) == NULL)
        return RT_ENOMEM;
    d->client_bits = 15;
    while (p < end) {
        const char *name = p, *val = NULL;
        int nl, vl = 0;

        semi = memchr(p, ';', (size_t)(end - p));
        n = (size_t)((semi != NULL ? semi : end) - p);
        eq = memchr(p, '=', n);
        nl = trim(&name, eq != NULL ? (size_t)(eq - p) : n);
        if (eq != NULL) {
            val = eq + 1;
            vl = trim(&val, (size_t)(p + n - val));
        }
        p += n + (semi != NULL);
        if (first) {
            first = 0;
            if (nl == 18 && strncasecmp(name, "permessage-deflate", 18) == 0 &&
                eq == NULL)
                continue;
            snprintf(detail, dlen,
                     "the server accepted the extension '%.*s', not offered",
                     nl > 40 ? 40 : nl, name);
            rt__free(d);
            return RT_EHANDSHAKE;
        }
        k = -1;
        if (nl == 26 && strncmp(name, "server_no_context_takeover", 26) == 0 &&
            eq == NULL) {
            k = 0;
            d->server_no_takeover = 1;
        } else if (nl == 26 &&
                   strncmp(name, "client_no_context_takeover", 26) == 0 &&
                   eq == NULL) {
            k = 1;
            d->client_no_takeover = 1;
        } else if (nl == 22 &&
                   strncmp(name, "server_max_window_bits", 22) == 0 &&
                   window_bits(val, (size_t)vl) > 0) {
            k = 2; /* our inflater's 15 bits read any smaller window */
        } else if (nl == 22 &&
                   strncmp(name, "client_max_window_bits", 22) == 0 &&
                   window_bits(val, (size_t)vl) > 0) {
            k = 3;
            d->client_bits = window_bits(val, (size_t)vl);
        }
        if (k < 0 || seen[k]++) {
            snprintf(detail, dlen,
                     "permessage-deflate: the parameter '%.*s' is %s",
                     nl > 40 ? 40 : nl, name,
                     k < 0 ? "unknown or malformed" : "repeated");
            rt__free(d);
            return RT_EHANDSHAKE;
        }
    }
    if (inflateInit2(&d->in, -15) != Z_OK) {
        rt__free(d);
        return RT_ENOMEM;
    }
    d->in_ready = 1;
    /* zlib's raw deflate has no 8-bit window: send uncompressed then. */
    if (d->client_bits > 8) {
        if (deflateInit2(&d->out, Z_DEFAULT_COMPRESSION, Z_DEFLATED,
                         -d->client_bits, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
            rt__pmd_free(d);
            return RT_ENOMEM;
        }
        d->out_ready = 1;
    }
    *out = d;
    return 0;
}

void rt__pmd_free(rt__pmd *d)
{
    if (d == NULL)
        return;
    if (d->in_ready)
        inflateEnd(&d->in);
    if (d->out_ready)
        deflateEnd(&d->out);
    rt__free(d);
}

/* Inflate what d->in holds as input, all of it.  Returns 0 or RT_*. */
static int run(rt__pmd *d, uint64_t limit,
               void (*emit)(void *ud, const char *p, size_t n, int last),
               void *ud)
{
    unsigned char buf[PIECE];
    size_t got;
    int zr;

    for (;;) {
        d->in.next_out = buf;
        d->in.avail_out = sizeof(buf);
        zr = inflate(&d->in, Z_SYNC_FLUSH);
        got = sizeof(buf) - d->in.avail_out;
        if (zr == Z_MEM_ERROR)
            return RT_ENOMEM;
        if (zr != Z_OK && zr != Z_BUF_ERROR && zr != Z_STREAM_END)
            return RT_EPROTO;
        if (got > limit - d->msg_len)
            return RT_ETOOBIG;
        d->msg_len += got;
        if (got > 0)
            emit(ud, (const char *)buf, got, 0);
        if (zr == Z_STREAM_END) {
            /* A block with BFINAL: what follows starts a new stream. */
            if (inflateReset(&d->in) != Z_OK)
                return RT_EPROTO;
            if (d->in.avail_in == 0)
                return 0;
            continue;
        }
        /* inflate() stops when the input is used up or the output full */
        if (d->in.avail_out > 0)
            return 0;
    }
}

int rt__pmd_inflate(rt__pmd *d, const uint8_t *p, size_t len, int fin,
                    uint64_t limit,
                    void (*emit)(void *ud, const char *p, size_t n, int last),
                    void *ud)
{
    static const uint8_t tail[4] = {0x00, 0x00, 0xff, 0xff};
    int rc;

    d->in.next_in = (Bytef *)(uintptr_t)p;
    d->in.avail_in = (uInt)len;
    if ((rc = run(d, limit, emit, ud)) != 0)
        return rc;
    if (!fin)
        return 0;
    d->in.next_in = (Bytef *)(uintptr_t)tail;
    d->in.avail_in = sizeof(tail);
    if ((rc = run(d, limit, emit, ud)) != 0)
        return rc;
    emit(ud, "", 0, 1);
    d->msg_len = 0;
    if (d->server_no_takeover && inflateReset(&d->in) != Z_OK)
        return RT_EPROTO;
    return 0;
}

int rt__pmd_deflate(rt__pmd *d, const void *p, size_t len, rt_buf *out)
{
    int zr;

    rt__buf_clear(out);
    if (!d->out_ready)
        return 0;
    d->out.next_in = (Bytef *)(uintptr_t)p;
    d->out.avail_in = (uInt)len;
    do {
        if (rt__buf_reserve(out, PIECE) != 0)
            return RT_ENOMEM;
        d->out.next_out = (Bytef *)out->data + out->len;
        d->out.avail_out = PIECE;
        zr = deflate(&d->out, Z_SYNC_FLUSH);
        if (zr != Z_OK && zr != Z_BUF_ERROR)
            return RT_ENOMEM;
        out->len += PIECE - d->out.avail_out;
    } while (d->out.avail_out == 0);
    /* 7.2.1: the sync flush's empty block ends in 00 00 ff ff; cut it. */
    if (out->len >= 4)
        out->len -= 4;
    /* nothing to flush (an empty message after another): 7.2.3.6 */
    if (out->len == 0)
        out->data[out->len++] = 0x00;
    if (d->client_no_takeover && deflateReset(&d->out) != Z_OK)
        return RT_ENOMEM;
    return 1;
}
