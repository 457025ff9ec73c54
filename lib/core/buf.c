/*
 * buf.c: a growable byte buffer, JSON string quoting, base64url, and the
 * small byte-level helpers (UTF-8 sequence length, hex digits) the other
 * files share.
 *
 * The buffer grows geometrically and keeps a NUL after the contents.  JSON
 * quoting follows RFC 8259 section 7 and never trusts its input to be
 * UTF-8: each ill-formed sequence (WHATWG Encoding, "UTF-8 decode") becomes
 * U+FFFD, so what it writes is always valid JSON, and a NUL byte in the
 * input is written as \u0000 instead of ending the string.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core_int.h"

void rt__buf_init(rt_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void rt__buf_cleanup(rt_buf *b)
{
    rt__free(b->data);
    rt__buf_init(b);
}

int rt__buf_reserve(rt_buf *b, size_t extra)
{
    size_t need, cap;
    char *p;

    if (extra > SIZE_MAX - b->len - 1)
        return RT_ENOMEM;
    need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    p = rt__realloc(b->data, cap);
    if (p == NULL)
        return RT_ENOMEM;
    b->data = p;
    b->cap = cap;
    b->data[b->len] = '\0';
    return 0;
}

int rt__buf_append(rt_buf *b, const void *p, size_t len)
{
    if (rt__buf_reserve(b, len) != 0)
        return RT_ENOMEM;
    if (len)
        memcpy(b->data + b->len, p, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int rt__buf_putc(rt_buf *b, char c)
{
    return rt__buf_append(b, &c, 1);
}

int rt__buf_printf(rt_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return RT_EINVAL;
    if (rt__buf_reserve(b, (size_t)n) != 0)
        return RT_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void rt__buf_clear(rt_buf *b)
{
    b->len = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
}

char *rt__buf_detach(rt_buf *b, size_t *len)
{
    char *p;

    if (b->data == NULL && rt__buf_reserve(b, 0) != 0)
        return NULL;
    p = b->data;
    if (len != NULL)
        *len = b->len;
    rt__buf_init(b);
    return p;
}

/* See core_int.h; the tables are Unicode Table 3-7. */
size_t rt__utf8_len(const unsigned char *s, size_t avail, size_t *bad)
{
    unsigned char c = s[0];
    unsigned char lo = 0x80, hi = 0xBF;
    size_t n, i, dummy;

    if (bad == NULL)
        bad = &dummy;
    *bad = 1;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    for (i = 1; i < n; i++) {
        if (i >= avail || s[i] < lo || s[i] > hi) {
            *bad = i;
            return 0;
        }
        lo = 0x80;
        hi = 0xBF;
    }
    return n;
}

int rt__hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int rt__buf_json_str(rt_buf *b, const char *str, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, run;
    char esc[6];

    if (rt__buf_reserve(b, len + 2) != 0 || rt__buf_putc(b, '"') != 0)
        return RT_ENOMEM;
    while (i < len) {
        /* Copy the longest run that needs no escaping in one go. */
        run = i;
        while (run < len && s[run] >= 0x20 && s[run] < 0x80 && s[run] != '"' &&
               s[run] != '\\')
            run++;
        if (run > i && rt__buf_append(b, s + i, run - i) != 0)
            return RT_ENOMEM;
        i = run;
        if (i == len)
            break;
        if (s[i] >= 0x80) {
            size_t bad, n = rt__utf8_len(s + i, len - i, &bad);
            int rc;

            if (n == 0) {
                rc = rt__buf_append(b, "\xEF\xBF\xBD", 3);
                i += bad;
            } else {
                rc = rt__buf_append(b, s + i, n);
                i += n;
            }
            if (rc != 0)
                return RT_ENOMEM;
            continue;
        }
        esc[0] = '\\';
        switch (s[i]) {
        case '"':
        case '\\':
            esc[1] = (char)s[i];
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[s[i] >> 4];
            esc[5] = hex[s[i] & 0xF];
            if (rt__buf_append(b, esc, 6) != 0)
                return RT_ENOMEM;
            i++;
            continue;
        }
        if (rt__buf_append(b, esc, 2) != 0)
            return RT_ENOMEM;
        i++;
    }
    return rt__buf_putc(b, '"');
}

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int rt__b64url_encode(rt_buf *out, const void *p, size_t len)
{
    const unsigned char *s = p;
    size_t i;
    char q[4];

    if (rt__buf_reserve(out, (len + 2) / 3 * 4) != 0)
        return RT_ENOMEM;
    for (i = 0; i + 2 < len; i += 3) {
        q[0] = b64url[s[i] >> 2];
        q[1] = b64url[((s[i] & 3) << 4) | (s[i + 1] >> 4)];
        q[2] = b64url[((s[i + 1] & 15) << 2) | (s[i + 2] >> 6)];
        q[3] = b64url[s[i + 2] & 63];
        rt__buf_append(out, q, 4);
    }
    if (len - i == 1) {
        q[0] = b64url[s[i] >> 2];
        q[1] = b64url[(s[i] & 3) << 4];
        rt__buf_append(out, q, 2);
    } else if (len - i == 2) {
        q[0] = b64url[s[i] >> 2];
        q[1] = b64url[((s[i] & 3) << 4) | (s[i + 1] >> 4)];
        q[2] = b64url[(s[i + 1] & 15) << 2];
        rt__buf_append(out, q, 3);
    }
    return 0;
}

static int b64url_val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

int rt__b64url_decode(rt_buf *out, const char *s, size_t len)
{
    unsigned long acc = 0;
    int bits = 0, v;
    size_t i;

    /* A single leftover character carries only 6 bits: not a byte. */
    if (len % 4 == 1)
        return RT_EPROTO;
    if (rt__buf_reserve(out, len / 4 * 3 + 3) != 0)
        return RT_ENOMEM;
    for (i = 0; i < len; i++) {
        v = b64url_val((unsigned char)s[i]);
        if (v < 0)
            return RT_EPROTO;
        acc = (acc << 6) | (unsigned long)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out->data[out->len++] = (char)((acc >> bits) & 0xFF);
        }
    }
    /* Leftover bits must be zero, or two encodings decode alike. */
    if (bits > 0 && (acc & ((1UL << bits) - 1)) != 0)
        return RT_EPROTO;
    out->data[out->len] = '\0';
    return 0;
}
