/*
 * url.c: parsing, resolving and building ws/wss/http/https URLs.
 *
 * Spec: RFC 3986 (generic syntax; section 5.2.4 for dot segments, 6.2.2
 * for the normalisations applied), RFC 6454 (origin), PROTOCOL.md
 * sections 1 and 2 (endpoints, room names, query parameters), DESIGN.md
 * (what the CLI accepts as a target).
 *
 * Invariants of every rt_url handed out:
 * - scheme is one of the four; host is non-empty, lower case, a reg-name
 *   of [a-z0-9._~-], a dotted-quad IPv4 or an IPv6 literal (no brackets);
 *   port is 1..65535;
 * - path starts with '/', has no "." or ".." segment, and holds only
 *   RFC 3986 pchar and '/', escapes as '%' and two upper-case hex digits;
 *   query holds only pchar, '/', '?' and such escapes ("" when none);
 * - the formatted URL is at most RT_URL_MAX_LEN bytes, so it parses back
 *   into an equal rt_url.
 *
 * Limits admitted: internationalised host names must be given in their
 * punycode (xn--) form; percent-escapes of unreserved characters
 * ("%41") are kept, not decoded, so "/%41" and "/A" are different paths;
 * IPv6 literals are lower-cased but not compressed to RFC 5952 form.
 */
#include <stdio.h>
#include <string.h>

#include "core_int.h"
#include "rt/url.h"

struct rt_url {
    rt_url_scheme scheme;
    int port;
    int ipv6;
    char *host;
    char *path;
    char *query;
};

static const char *const scheme_names[] = {"ws", "wss", "http", "https"};

/* ---------------------------------------------------------------- helpers */

/*
 * Render up to 48 bytes of user input for an error message: printable
 * ASCII as is, anything else as \xNN, "..." when cut.
 */
#define SHOW_MAX 48
#define SHOW_BUF (SHOW_MAX * 4 + 4)

static const char *show(char *dst, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t i, o = 0;

    for (i = 0; i < n && i < SHOW_MAX; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7F) {
            dst[o++] = (char)c;
        } else {
            dst[o++] = '\\';
            dst[o++] = 'x';
            dst[o++] = hex[c >> 4];
            dst[o++] = hex[c & 15];
        }
    }
    if (i < n) {
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    dst[o] = '\0';
    return dst;
}

static int is_alpha(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

/* The byte a "%XX" at s[i] (of |n|) stands for, or -1 when it is none. */
static int pct_byte(const char *s, size_t n, size_t i)
{
    int hi, lo;

    if (s[i] != '%' || n - i < 3)
        return -1;
    hi = rt__hexval((unsigned char)s[i + 1]);
    lo = rt__hexval((unsigned char)s[i + 2]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

static int is_unreserved(int c)
{
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' ||
           c == '~';
}

static int is_subdelim(int c)
{
    return c != 0 && strchr("!$&'()*+,;=", c) != NULL;
}

/* Bytes a path (|query| 0) or query (|query| 1) may hold unescaped. */
static int is_component_char(int c, int query)
{
    return is_unreserved(c) || is_subdelim(c) || c == ':' || c == '@' ||
           c == '/' || (query && c == '?');
}

static int default_port(rt_url_scheme s)
{
    return (s == RT_URL_WSS || s == RT_URL_HTTPS) ? 443 : 80;
}

static int scheme_is_tls(rt_url_scheme s)
{
    return s == RT_URL_WSS || s == RT_URL_HTTPS;
}

static const char *kind_segment(rt_url_kind k)
{
    switch (k) {
    case RT_URL_KIND_WS:
        return "ws";
    case RT_URL_KIND_SSE:
        return "events";
    case RT_URL_KIND_POLL:
        return "poll";
    case RT_URL_KIND_PUBLISH:
        return "publish";
    default:
        return NULL;
    }
}

static rt_url_scheme convert_scheme(rt_url_scheme s, rt_url_kind k)
{
    int tls = scheme_is_tls(s);

    if (k == RT_URL_KIND_WS)
        return tls ? RT_URL_WSS : RT_URL_WS;
    if (k == RT_URL_KIND_ANY)
        return s;
    return tls ? RT_URL_HTTPS : RT_URL_HTTP;
}

static void url_free_fields(struct rt_url *u)
{
    rt__free(u->host);
    rt__free(u->path);
    rt__free(u->query);
    u->host = u->path = u->query = NULL;
}

/* Length of the formatted URL, without the terminator. */
static size_t formatted_len(const struct rt_url *u)
{
    size_t n = strlen(scheme_names[u->scheme]) + 3 + strlen(u->host);

    if (u->ipv6)
        n += 2;
    if (u->port != default_port(u->scheme))
        n += 1 + (u->port >= 10000  ? 5
                  : u->port >= 1000 ? 4
                  : u->port >= 100  ? 3
                  : u->port >= 10   ? 2
                                    : 1);
    n += strlen(u->path);
    if (u->query[0] != '\0')
        n += 1 + strlen(u->query);
    return n;
}

/* --------------------------------------------------------------- rooms */

/*
 * Check a room name and say what is wrong with it.  Returns 0 or RT_EURL.
 */
static int room_check(const char *s, size_t len, char *errbuf, size_t errlen)
{
    char b[SHOW_BUF];
    size_t i;

    if (len == 0) {
        rt__seterr(errbuf, errlen, "room name is empty");
        return RT_EURL;
    }
    if (len > RT_ROOM_MAX_LEN) {
        rt__seterr(errbuf, errlen,
                   "room name '%s' is longer than %d characters",
                   show(b, s, len), RT_ROOM_MAX_LEN);
        return RT_EURL;
    }
    for (i = 0; i < len; i++) {
        int c = (unsigned char)s[i];
        if (!is_alpha(c) && !is_digit(c) && c != '.' && c != '_' && c != '-') {
            char cb[SHOW_BUF];
            rt__seterr(errbuf, errlen,
                       "invalid character '%s' in room name '%s' (allowed: "
                       "A-Z a-z 0-9 . _ -)",
                       show(cb, s + i, 1), show(b, s, len));
            return RT_EURL;
        }
    }
    if ((len == 1 && s[0] == '.') ||
        (len == 2 && s[0] == '.' && s[1] == '.')) {
        rt__seterr(errbuf, errlen, "room name '%s' is not allowed",
                   show(b, s, len));
        return RT_EURL;
    }
    return 0;
}

int rt_room_valid(const char *s, size_t len)
{
    if (s == NULL)
        return 0;
    return room_check(s, len, NULL, 0) == 0;
}

/* ------------------------------------------------------- path and query */

/*
 * Append |s| to |b| as a path or query component: allowed bytes as is,
 * escapes re-cased, anything else percent-encoded.  A '%' not followed by
 * two hex digits is an error rather than a guess at what was meant.
 */
static int put_component(rt_buf *b, const char *s, size_t n, int query,
                         char *errbuf, size_t errlen)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t i;

    for (i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        char esc[3];

        if (c == '%') {
            int v = pct_byte(s, n, i);

            if (v < 0) {
                char sb[SHOW_BUF];
                rt__seterr(errbuf, errlen, "invalid percent-escape '%s' in %s",
                           show(sb, s + i, n - i < 3 ? n - i : 3),
                           query ? "query" : "path");
                return RT_EURL;
            }
            /* Re-encoding the byte re-cases the escape. */
            esc[0] = '%';
            esc[1] = hex[v >> 4];
            esc[2] = hex[v & 15];
            if (rt__buf_append(b, esc, 3) != 0)
                return RT_ENOMEM;
            i += 2;
        } else if (is_component_char(c, query)) {
            if (rt__buf_putc(b, (char)c) != 0)
                return RT_ENOMEM;
        } else {
            esc[0] = '%';
            esc[1] = hex[c >> 4];
            esc[2] = hex[c & 15];
            if (rt__buf_append(b, esc, 3) != 0)
                return RT_ENOMEM;
        }
    }
    return 0;
}

/*
 * RFC 3986 section 5.2.4 on an absolute path, in place.  Each segment is
 * either copied or, for ".." , removes the last one copied; the output
 * never grows, so writing behind the read position is safe.
 */
static void remove_dot_segments(char *p)
{
    char *in = p, *out = p;

    while (*in != '\0') {
        const char *seg = in + 1; /* *in == '/' */
        size_t n = strcspn(seg, "/");
        int last = seg[n] == '\0';

        if ((n == 1 && seg[0] == '.') ||
            (n == 2 && seg[0] == '.' && seg[1] == '.')) {
            if (n == 2)
                while (out > p && *--out != '/')
                    ;
            in += 1 + n;
            if (last)
                *out++ = '/';
            continue;
        }
        memmove(out, in, n + 1);
        out += n + 1;
        in += n + 1;
    }
    if (out == p)
        *out++ = '/';
    *out = '\0';
}

/*
 * Build the canonical path from |s| (|n| bytes, may be empty); a leading
 * '/' is added when missing.  Returns 0, RT_EURL, RT_ENOMEM.
 */
static int make_path(char **out, const char *s, size_t n, char *errbuf,
                     size_t errlen)
{
    rt_buf b;
    int rc;

    rt__buf_init(&b);
    if ((n == 0 || s[0] != '/') && rt__buf_putc(&b, '/') != 0)
        return RT_ENOMEM;
    rc = put_component(&b, s, n, 0, errbuf, errlen);
    if (rc != 0) {
        rt__buf_cleanup(&b);
        return rc;
    }
    remove_dot_segments(b.data);
    *out = rt__buf_detach(&b, NULL);
    return *out != NULL ? 0 : RT_ENOMEM;
}

static int make_query(char **out, const char *s, size_t n, char *errbuf,
                      size_t errlen)
{
    rt_buf b;
    int rc;

    rt__buf_init(&b);
    rc = put_component(&b, s, n, 1, errbuf, errlen);
    if (rc != 0) {
        rt__buf_cleanup(&b);
        return rc;
    }
    *out = rt__buf_detach(&b, NULL);
    return *out != NULL ? 0 : RT_ENOMEM;
}

/* ------------------------------------------------------------------ host */

static int valid_ipv4(const char *s, size_t n)
{
    size_t i = 0;
    int parts = 0;

    while (parts < 4) {
        size_t start = i;
        unsigned v = 0;

        while (i < n && is_digit((unsigned char)s[i]) && i - start < 3)
            v = v * 10 + (unsigned)(s[i++] - '0');
        if (i == start || v > 255 || (i - start > 1 && s[start] == '0'))
            return 0;
        parts++;
        if (parts == 4)
            break;
        if (i >= n || s[i] != '.')
            return 0;
        i++;
    }
    return i == n;
}

/* RFC 3986 IPv6address (no zone, no IPvFuture). */
static int valid_ipv6(const char *s, size_t n)
{
    size_t i = 0;
    int groups = 0, compressed = 0;

    if (n >= 2 && s[0] == ':' && s[1] == ':') {
        compressed = 1;
        i = 2;
        if (i == n)
            return 1;
    } else if (n >= 1 && s[0] == ':') {
        return 0;
    }
    while (i < n) {
        size_t start = i;

        while (i < n && rt__hexval((unsigned char)s[i]) >= 0 && i - start < 5)
            i++;
        if (i < n && s[i] == '.') {
            /* An embedded IPv4 address ends the literal. */
            if (!valid_ipv4(s + start, n - start))
                return 0;
            groups += 2;
            i = n;
            break;
        }
        if (i == start || i - start > 4)
            return 0;
        groups++;
        if (i == n)
            break;
        if (s[i] != ':')
            return 0;
        i++;
        if (i < n && s[i] == ':') {
            if (compressed)
                return 0;
            compressed = 1;
            i++;
            if (i == n)
                break;
        } else if (i == n) {
            return 0; /* a single trailing ':' */
        }
    }
    return compressed ? groups <= 7 : groups == 8;
}

/*
 * Parse the authority |s| (|n| bytes) into host, ipv6 and port.  Returns
 * 0, RT_EURL, RT_ENOMEM.
 */
static int parse_authority(struct rt_url *u, const char *s, size_t n,
                           char *errbuf, size_t errlen)
{
    char b[SHOW_BUF];
    const char *host, *port = NULL;
    size_t hostlen, portlen = 0, i;

    if (memchr(s, '@', n) != NULL) {
        rt__seterr(errbuf, errlen,
                   "user name or password in the URL is not supported "
                   "(pass a token with --token)");
        return RT_EURL;
    }
    if (n > 0 && s[0] == '[') {
        const char *end = memchr(s, ']', n);
        if (end == NULL) {
            rt__seterr(errbuf, errlen, "missing ']' after IPv6 address '%s'",
                       show(b, s, n));
            return RT_EURL;
        }
        host = s + 1;
        hostlen = (size_t)(end - host);
        if (memchr(host, '%', hostlen) != NULL) {
            rt__seterr(errbuf, errlen,
                       "IPv6 zone identifiers are not supported ('%s')",
                       show(b, s, (size_t)(end - s) + 1));
            return RT_EURL;
        }
        if (!valid_ipv6(host, hostlen)) {
            rt__seterr(errbuf, errlen, "invalid IPv6 address '%s'",
                       show(b, s, (size_t)(end - s) + 1));
            return RT_EURL;
        }
        u->ipv6 = 1;
        i = (size_t)(end - s) + 1;
        if (i < n) {
            if (s[i] != ':') {
                rt__seterr(errbuf, errlen,
                           "unexpected '%s' after IPv6 address",
                           show(b, s + i, n - i));
                return RT_EURL;
            }
            port = s + i + 1;
            portlen = n - i - 1;
        }
    } else {
        const char *colon = memchr(s, ':', n);
        int alldigits = 1;

        host = s;
        hostlen = colon != NULL ? (size_t)(colon - s) : n;
        if (colon != NULL) {
            port = colon + 1;
            portlen = n - hostlen - 1;
        }
        if (hostlen == 0) {
            rt__seterr(errbuf, errlen, "missing host");
            return RT_EURL;
        }
        if (hostlen > 253) {
            rt__seterr(errbuf, errlen,
                       "host name is longer than 253 characters");
            return RT_EURL;
        }
        for (i = 0; i < hostlen; i++) {
            int c = (unsigned char)host[i];
            if (!is_alpha(c) && !is_digit(c) && c != '.' && c != '-' &&
                c != '_' && c != '~') {
                char cb[SHOW_BUF];
                rt__seterr(errbuf, errlen,
                           "invalid character '%s' in host '%s'%s",
                           show(cb, host + i, 1), show(b, host, hostlen),
                           c >= 0x80 ? " (write an international name in its "
                                       "xn-- form)"
                                     : "");
                return RT_EURL;
            }
            if (!is_digit(c) && c != '.')
                alldigits = 0;
            if (c == '.' && (i == 0 || host[i - 1] == '.')) {
                rt__seterr(errbuf, errlen, "empty label in host '%s'",
                           show(b, host, hostlen));
                return RT_EURL;
            }
        }
        if (alldigits && !valid_ipv4(host, hostlen)) {
            rt__seterr(errbuf, errlen, "invalid IPv4 address '%s'",
                       show(b, host, hostlen));
            return RT_EURL;
        }
    }

    u->port = default_port(u->scheme);
    if (port != NULL && portlen > 0) {
        unsigned long v = 0;

        for (i = 0; i < portlen; i++) {
            if (!is_digit((unsigned char)port[i])) {
                rt__seterr(errbuf, errlen, "invalid port '%s'",
                           show(b, port, portlen));
                return RT_EURL;
            }
            if (v <= 65535)
                v = v * 10 + (unsigned long)(port[i] - '0');
        }
        if (v == 0 || v > 65535) {
            rt__seterr(errbuf, errlen, "port '%s' out of range (1-65535)",
                       show(b, port, portlen));
            return RT_EURL;
        }
        u->port = (int)v;
    }

    u->host = rt__strndup(host, hostlen);
    if (u->host == NULL)
        return RT_ENOMEM;
    for (i = 0; i < hostlen; i++)
        u->host[i] = (char)lower((unsigned char)u->host[i]);
    return 0;
}

/* --------------------------------------------------------------- parsing */

/* Length of a leading RFC 3986 scheme followed by ':', else 0. */
static size_t scheme_len(const char *s, size_t n)
{
    size_t i;

    if (n == 0 || !is_alpha((unsigned char)s[0]))
        return 0;
    for (i = 1; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == ':')
            return i;
        if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '-' && c != '.')
            return 0;
    }
    return 0;
}

static int scheme_lookup(const char *s, size_t n, rt_url_scheme *out)
{
    size_t k, i;

    for (k = 0; k < sizeof scheme_names / sizeof scheme_names[0]; k++) {
        if (strlen(scheme_names[k]) != n)
            continue;
        for (i = 0; i < n && lower((unsigned char)s[i]) == scheme_names[k][i];
             i++)
            ;
        if (i == n) {
            *out = (rt_url_scheme)k;
            return 1;
        }
    }
    return 0;
}

/* Refuse spaces and control bytes anywhere; |what| names the input. */
static int check_bytes(const char *s, size_t n, const char *what, char *errbuf,
                       size_t errlen)
{
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ') {
            rt__seterr(errbuf, errlen,
                       "%s contains a space at offset %zu "
                       "(write it as %%20)",
                       what, i);
            return RT_EURL;
        }
        if (c < 0x20 || c == 0x7F) {
            rt__seterr(errbuf, errlen,
                       "%s contains control character 0x%02X at offset %zu",
                       what, c, i);
            return RT_EURL;
        }
    }
    return 0;
}

static int parse_abs(struct rt_url *u, const char *s, size_t n, char *errbuf,
                     size_t errlen)
{
    char b[SHOW_BUF];
    size_t sl, i, a_end, p_end, q_end;
    int rc;

    if (n > RT_URL_MAX_LEN) {
        rt__seterr(errbuf, errlen, "URL is longer than %d bytes",
                   RT_URL_MAX_LEN);
        return RT_ETOOBIG;
    }
    rc = check_bytes(s, n, "URL", errbuf, errlen);
    if (rc != 0)
        return rc;
    sl = scheme_len(s, n);
    if (sl == 0) {
        rt__seterr(errbuf, errlen,
                   "missing scheme in '%s' (expected ws://, wss://, http:// "
                   "or https://)",
                   show(b, s, n));
        return RT_EURL;
    }
    if (!scheme_lookup(s, sl, &u->scheme)) {
        if (n - sl >= 3 && memcmp(s + sl, "://", 3) == 0)
            rt__seterr(errbuf, errlen,
                       "unsupported scheme '%s' (expected ws, wss, http or "
                       "https)",
                       show(b, s, sl));
        else
            rt__seterr(errbuf, errlen,
                       "missing scheme in '%s' (expected ws://, wss://, "
                       "http:// or https://)",
                       show(b, s, n));
        return RT_EURL;
    }
    if (n - sl < 3 || memcmp(s + sl, "://", 3) != 0) {
        rt__seterr(errbuf, errlen, "expected '//' after '%s:'",
                   show(b, s, sl));
        return RT_EURL;
    }
    i = sl + 3;
    a_end = i;
    while (a_end < n && s[a_end] != '/' && s[a_end] != '?' && s[a_end] != '#')
        a_end++;
    if (a_end == i) {
        rt__seterr(errbuf, errlen, "missing host");
        return RT_EURL;
    }
    rc = parse_authority(u, s + i, a_end - i, errbuf, errlen);
    if (rc != 0)
        return rc;
    p_end = a_end;
    while (p_end < n && s[p_end] != '?' && s[p_end] != '#')
        p_end++;
    rc = make_path(&u->path, s + a_end, p_end - a_end, errbuf, errlen);
    if (rc != 0)
        return rc;
    q_end = p_end;
    if (p_end < n && s[p_end] == '?') {
        q_end = p_end + 1;
        while (q_end < n && s[q_end] != '#')
            q_end++;
        rc = make_query(&u->query, s + p_end + 1, q_end - p_end - 1, errbuf,
                        errlen);
    } else {
        rc = make_query(&u->query, "", 0, errbuf, errlen);
    }
    if (rc != 0)
        return rc;
    /* The fragment, if any, is dropped: it never reaches a server. */
    if (formatted_len(u) > RT_URL_MAX_LEN) {
        rt__seterr(errbuf, errlen, "URL is longer than %d bytes once encoded",
                   RT_URL_MAX_LEN);
        return RT_ETOOBIG;
    }
    return 0;
}

/*
 * The end of a constructor: on success give |u| to the caller, else free
 * it, naming an allocation failure in |errbuf|.
 */
static int hand_over(struct rt_url *u, int rc, rt_url **out, char *errbuf,
                     size_t errlen)
{
    if (rc != 0) {
        if (rc == RT_ENOMEM)
            rt__seterr(errbuf, errlen, "out of memory");
        rt_url_free(u);
        return rc;
    }
    *out = u;
    return 0;
}

int rt_url_parse(rt_url **out, const char *str, char *errbuf, size_t errlen)
{
    struct rt_url *u;

    if (out != NULL)
        *out = NULL;
    if (out == NULL || str == NULL) {
        rt__seterr(errbuf, errlen, "no URL given");
        return RT_EINVAL;
    }
    u = rt__calloc(1, sizeof *u);
    if (u == NULL)
        return RT_ENOMEM;
    return hand_over(u, parse_abs(u, str, strlen(str), errbuf, errlen), out,
                     errbuf, errlen);
}

void rt_url_free(rt_url *u)
{
    if (u == NULL)
        return;
    url_free_fields(u);
    rt__free(u);
}

int rt_url_dup(rt_url **out, const rt_url *u)
{
    struct rt_url *c;

    if (out != NULL)
        *out = NULL;
    if (out == NULL || u == NULL)
        return RT_EINVAL;
    c = rt__calloc(1, sizeof *c);
    if (c == NULL)
        return RT_ENOMEM;
    *c = *u;
    c->host = rt__strndup(u->host, strlen(u->host));
    c->path = rt__strndup(u->path, strlen(u->path));
    c->query = rt__strndup(u->query, strlen(u->query));
    if (c->host == NULL || c->path == NULL || c->query == NULL) {
        rt_url_free(c);
        return RT_ENOMEM;
    }
    *out = c;
    return 0;
}

/* ----------------------------------------------------------------- query */

/* Compare the percent-decoded |raw| (|n| bytes) with the bytes of |key|. */
static int decoded_equals(const char *raw, size_t n, const char *key)
{
    size_t i = 0;

    while (i < n) {
        int c = pct_byte(raw, n, i);

        if (c >= 0) {
            i += 3;
        } else {
            c = (unsigned char)raw[i];
            i++;
        }
        if (*key == '\0' || (unsigned char)*key != c)
            return 0;
        key++;
    }
    return *key == '\0';
}

static int put_encoded(rt_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; *s != '\0'; s++) {
        int c = (unsigned char)*s;
        if (is_unreserved(c)) {
            if (rt__buf_putc(b, (char)c) != 0)
                return RT_ENOMEM;
        } else {
            char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
            if (rt__buf_append(b, esc, 3) != 0)
                return RT_ENOMEM;
        }
    }
    return 0;
}

/*
 * Rewrite query |q| into |b|: parameters named |key| are dropped, except
 * that the first one becomes |pair| (already encoded) when |pair| is not
 * NULL.  Returns whether a parameter of that name was found, or RT_ENOMEM.
 */
static int rewrite_query(rt_buf *b, const char *q, const char *key,
                         const char *pair)
{
    int found = 0;

    while (*q != '\0') {
        size_t n = strcspn(q, "&");
        size_t kn = strcspn(q, "=&");
        const char *piece = q;
        int match = decoded_equals(q, kn, key);

        q += n;
        if (*q == '&')
            q++;
        if (match) {
            if (found || pair == NULL) {
                found = 1;
                continue;
            }
            found = 1;
            piece = pair;
            n = strlen(pair);
        }
        if (b->len > 0 && rt__buf_putc(b, '&') != 0)
            return RT_ENOMEM;
        if (rt__buf_append(b, piece, n) != 0)
            return RT_ENOMEM;
    }
    return found;
}

/* Replace |u|'s query by the contents of |b| if the URL stays in bounds. */
static int swap_query(struct rt_url *u, rt_buf *b)
{
    char *old = u->query, *nq;

    if (rt__buf_reserve(b, 0) != 0) {
        rt__buf_cleanup(b);
        return RT_ENOMEM;
    }
    u->query = b->data;
    if (formatted_len(u) > RT_URL_MAX_LEN) {
        u->query = old;
        rt__buf_cleanup(b);
        return RT_ETOOBIG;
    }
    nq = rt__buf_detach(b, NULL);
    u->query = nq;
    rt__free(old);
    return 0;
}

/* Set one parameter from an already-encoded "key[=value]" |pair|. */
static int query_set_raw(struct rt_url *u, const char *key, const char *pair)
{
    rt_buf b;
    int found;

    rt__buf_init(&b);
    found = rewrite_query(&b, u->query, key, pair);
    if (found < 0)
        goto nomem;
    if (!found && pair != NULL) {
        if (b.len > 0 && rt__buf_putc(&b, '&') != 0)
            goto nomem;
        if (rt__buf_append(&b, pair, strlen(pair)) != 0)
            goto nomem;
    }
    return swap_query(u, &b);
nomem:
    rt__buf_cleanup(&b);
    return RT_ENOMEM;
}

int rt_url_query_set(rt_url *u, const char *key, const char *value)
{
    rt_buf pair;
    int rc;

    if (u == NULL || key == NULL || key[0] == '\0')
        return RT_EINVAL;
    if (value == NULL)
        return query_set_raw(u, key, NULL);
    rt__buf_init(&pair);
    if (put_encoded(&pair, key) != 0 || rt__buf_putc(&pair, '=') != 0 ||
        put_encoded(&pair, value) != 0) {
        rt__buf_cleanup(&pair);
        return RT_ENOMEM;
    }
    rc = query_set_raw(u, key, pair.data);
    rt__buf_cleanup(&pair);
    return rc;
}

static int decode_into(rt_buf *b, const char *s, size_t n)
{
    size_t i;

    if (rt__buf_reserve(b, n) != 0)
        return RT_ENOMEM;
    for (i = 0; i < n; i++) {
        int c = pct_byte(s, n, i);

        if (c >= 0)
            i += 2;
        else
            c = (unsigned char)s[i];
        if (rt__buf_putc(b, (char)c) != 0)
            return RT_ENOMEM;
    }
    return 0;
}

int rt_url_query_get(const rt_url *u, const char *key, char **out, size_t *len)
{
    const char *q;
    rt_buf b;

    if (out != NULL)
        *out = NULL;
    if (len != NULL)
        *len = 0;
    if (u == NULL || key == NULL || out == NULL)
        return RT_EINVAL;
    for (q = u->query; *q != '\0';) {
        size_t n = strcspn(q, "&");
        size_t kn = strcspn(q, "=&");

        if (decoded_equals(q, kn, key)) {
            const char *v = q + kn;
            size_t vn = 0;
            if (kn < n) {
                v++;
                vn = n - kn - 1;
            }
            rt__buf_init(&b);
            if (decode_into(&b, v, vn) != 0 || rt__buf_reserve(&b, 0) != 0) {
                rt__buf_cleanup(&b);
                return RT_ENOMEM;
            }
            *out = rt__buf_detach(&b, len);
            return 0;
        }
        q += n;
        if (*q == '&')
            q++;
    }
    return 0;
}

/* ------------------------------------------------------------- resolving */

/* The query of a path target: each parameter replaces its namesake. */
static int merge_query(struct rt_url *u, const char *q, char *errbuf,
                       size_t errlen)
{
    while (*q != '\0') {
        size_t n = strcspn(q, "&");
        size_t kn = strcspn(q, "=&");
        rt_buf key;
        char *pair;
        int rc;

        if (n == 0) {
            q++;
            continue;
        }
        rt__buf_init(&key);
        if (decode_into(&key, q, kn) != 0 || rt__buf_reserve(&key, 0) != 0) {
            rt__buf_cleanup(&key);
            return RT_ENOMEM;
        }
        pair = rt__strndup(q, n);
        if (pair == NULL) {
            rt__buf_cleanup(&key);
            return RT_ENOMEM;
        }
        /*
         * A decoded name holding NUL cannot be matched as a C string;
         * such a parameter is appended as written.
         */
        if (strlen(key.data) != key.len) {
            rt_buf nb;
            rt__buf_init(&nb);
            rc = RT_ENOMEM;
            if (rt__buf_append(&nb, u->query, strlen(u->query)) == 0 &&
                (nb.len == 0 || rt__buf_putc(&nb, '&') == 0) &&
                rt__buf_append(&nb, pair, n) == 0)
                rc = swap_query(u, &nb);
            else
                rt__buf_cleanup(&nb);
        } else {
            rc = query_set_raw(u, key.data, pair);
        }
        rt__free(pair);
        rt__buf_cleanup(&key);
        if (rc == RT_ETOOBIG)
            rt__seterr(errbuf, errlen, "URL would be longer than %d bytes",
                       RT_URL_MAX_LEN);
        if (rc != 0)
            return rc;
        q += n;
        if (*q == '&')
            q++;
    }
    return 0;
}

/*
 * Append |tail| (|n| bytes, raw user input) to |u|'s path, dropping the
 * base's trailing '/' and the tail's leading one, then canonicalise.
 */
static int join_path(struct rt_url *u, const char *tail, size_t n,
                     char *errbuf, size_t errlen)
{
    rt_buf b;
    size_t plen = strlen(u->path);
    char *np;
    int rc;

    if (n > 0 && tail[0] == '/') {
        tail++;
        n--;
    }
    while (plen > 0 && u->path[plen - 1] == '/')
        plen--;
    rt__buf_init(&b);
    if (rt__buf_append(&b, u->path, plen) != 0 || rt__buf_putc(&b, '/') != 0 ||
        rt__buf_append(&b, tail, n) != 0) {
        rt__buf_cleanup(&b);
        return RT_ENOMEM;
    }
    rc = make_path(&np, b.data, b.len, errbuf, errlen);
    rt__buf_cleanup(&b);
    if (rc != 0)
        return rc;
    rt__free(u->path);
    u->path = np;
    return 0;
}

static int resolve(struct rt_url *u, const char *base, const char *target,
                   rt_url_kind kind, char *errbuf, size_t errlen)
{
    char b[SHOW_BUF];
    size_t tn = strlen(target);
    size_t first = strcspn(target, "/?#");
    int rc;

    if (tn == 0) {
        rt__seterr(errbuf, errlen,
                   "empty target (give a room, a path or a URL)");
        return RT_EURL;
    }
    if (tn > RT_URL_MAX_LEN) {
        rt__seterr(errbuf, errlen, "target is longer than %d bytes",
                   RT_URL_MAX_LEN);
        return RT_ETOOBIG;
    }

    /* A full URL: a scheme, then "//". */
    if (scheme_len(target, tn) > 0 && tn - scheme_len(target, tn) >= 3 &&
        memcmp(target + scheme_len(target, tn), "://", 3) == 0) {
        rc = parse_abs(u, target, tn, errbuf, errlen);
        if (rc != 0)
            return rc;
        u->scheme = convert_scheme(u->scheme, kind);
        return 0;
    }
    if (memchr(target, ':', first) != NULL) {
        rt__seterr(errbuf, errlen,
                   "'%s' looks like a URL without its scheme (write ws://, "
                   "wss://, http:// or https:// before it)",
                   show(b, target, tn));
        return RT_EURL;
    }
    rc = check_bytes(target, tn, "target", errbuf, errlen);
    if (rc != 0)
        return rc;

    {
        struct rt_url bu = {0};
        size_t bn = strlen(base);
        char inner[200];

        rc = parse_abs(&bu, base, bn, inner, sizeof inner);
        if (rc != 0) {
            rt__seterr(errbuf, errlen, "base URL: %s",
                       rc == RT_ENOMEM ? "out of memory" : inner);
            url_free_fields(&bu);
            return rc;
        }
        *u = bu;
    }
    u->scheme = convert_scheme(u->scheme, kind);

    if (strpbrk(target, "/?") == NULL && kind_segment(kind) != NULL) {
        rt_buf p;

        /* A '#' is an invalid room character like any other. */
        rc = room_check(target, tn, errbuf, errlen);
        if (rc != 0)
            return rc;
        rt__buf_init(&p);
        if (rt__buf_printf(&p, "%s/%s", kind_segment(kind), target) != 0) {
            rt__buf_cleanup(&p);
            return RT_ENOMEM;
        }
        rc = join_path(u, p.data, p.len, errbuf, errlen);
        rt__buf_cleanup(&p);
    } else {
        size_t pn = strcspn(target, "?#");

        if (pn > 0)
            rc = join_path(u, target, pn, errbuf, errlen);
        if (rc == 0 && target[pn] == '?') {
            size_t qn = strcspn(target + pn + 1, "#");
            char *q;

            rc = make_query(&q, target + pn + 1, qn, errbuf, errlen);
            if (rc == 0) {
                rc = merge_query(u, q, errbuf, errlen);
                rt__free(q);
            }
        }
    }
    if (rc == 0 && formatted_len(u) > RT_URL_MAX_LEN) {
        rt__seterr(errbuf, errlen, "URL would be longer than %d bytes",
                   RT_URL_MAX_LEN);
        rc = RT_ETOOBIG;
    }
    return rc;
}

int rt_url_resolve(rt_url **out, const char *base, const char *target,
                   rt_url_kind kind, char *errbuf, size_t errlen)
{
    struct rt_url *u;

    if (out != NULL)
        *out = NULL;
    if (out == NULL || base == NULL || target == NULL ||
        (int)kind < RT_URL_KIND_ANY || kind > RT_URL_KIND_HTTP) {
        rt__seterr(errbuf, errlen, "invalid argument");
        return RT_EINVAL;
    }
    u = rt__calloc(1, sizeof *u);
    if (u == NULL)
        return RT_ENOMEM;
    return hand_over(u, resolve(u, base, target, kind, errbuf, errlen), out,
                     errbuf, errlen);
}

/* ------------------------------------------------------------ formatting */

static int put_hostport(rt_buf *b, const struct rt_url *u)
{
    if (rt__buf_printf(b, u->ipv6 ? "[%s]" : "%s", u->host) != 0)
        return RT_ENOMEM;
    if (u->port != default_port(u->scheme) &&
        rt__buf_printf(b, ":%d", u->port) != 0)
        return RT_ENOMEM;
    return 0;
}

/* What render() writes, in this order. */
#define PART_SCHEME 1u /* "ws://" */
#define PART_HOST 2u   /* host, and ":port" unless it is the default */
#define PART_TARGET 4u /* path, and "?query" unless it is empty */

static int render(const rt_url *u, unsigned parts, char **out)
{
    rt_buf b;
    int rc = 0;

    if (out != NULL)
        *out = NULL;
    if (u == NULL || out == NULL)
        return RT_EINVAL;
    rt__buf_init(&b);
    if (parts & PART_SCHEME)
        rc = rt__buf_printf(&b, "%s://", scheme_names[u->scheme]);
    if (rc == 0 && (parts & PART_HOST))
        rc = put_hostport(&b, u);
    if (rc == 0 && (parts & PART_TARGET)) {
        rc = rt__buf_append(&b, u->path, strlen(u->path));
        if (rc == 0 && u->query[0] != '\0')
            rc = rt__buf_printf(&b, "?%s", u->query);
    }
    if (rc == 0)
        rc = rt__buf_reserve(&b, 0);
    if (rc != 0) {
        rt__buf_cleanup(&b);
        return RT_ENOMEM;
    }
    *out = rt__buf_detach(&b, NULL);
    return 0;
}

int rt_url_format(const rt_url *u, char **out)
{
    return render(u, PART_SCHEME | PART_HOST | PART_TARGET, out);
}

int rt_url_host_header(const rt_url *u, char **out)
{
    return render(u, PART_HOST, out);
}

int rt_url_origin(const rt_url *u, char **out)
{
    return render(u, PART_SCHEME | PART_HOST, out);
}

int rt_url_request_target(const rt_url *u, char **out)
{
    return render(u, PART_TARGET, out);
}

rt_url_scheme rt_url_get_scheme(const rt_url *u)
{
    return u->scheme;
}

const char *rt_url_host(const rt_url *u)
{
    return u->host;
}

int rt_url_port(const rt_url *u)
{
    return u->port;
}

const char *rt_url_path(const rt_url *u)
{
    return u->path;
}

const char *rt_url_query(const rt_url *u)
{
    return u->query;
}

int rt_url_is_tls(const rt_url *u)
{
    return scheme_is_tls(u->scheme);
}

int rt_url_is_ipv6(const rt_url *u)
{
    return u->ipv6;
}

/* ------------------------------------------------------------ room paths */

int rt_url_path_room(const char *path, size_t len, rt_url_room_ref *ref)
{
    static const rt_url_kind kinds[] = {RT_URL_KIND_WS, RT_URL_KIND_SSE,
                                        RT_URL_KIND_POLL, RT_URL_KIND_PUBLISH};
    size_t end = 0, rs, ks, k;

    if (path == NULL || ref == NULL)
        return RT_EINVAL;
    while (end < len && path[end] != '?' && path[end] != '#')
        end++;
    /* The last segment: the room. */
    rs = end;
    while (rs > 0 && path[rs - 1] != '/')
        rs--;
    if (rs == 0)
        return RT_EINVAL;
    /* The segment before it: the endpoint. */
    ks = rs - 1;
    while (ks > 0 && path[ks - 1] != '/')
        ks--;
    if (ks == 0)
        return RT_EINVAL;
    for (k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        const char *seg = kind_segment(kinds[k]);
        size_t sn = strlen(seg);

        if (rs - 1 - ks == sn && memcmp(path + ks, seg, sn) == 0) {
            if (!rt_room_valid(path + rs, end - rs))
                return RT_EURL;
            ref->kind = kinds[k];
            ref->prefix_len = ks - 1;
            ref->room = path + rs;
            ref->room_len = end - rs;
            return 0;
        }
    }
    return RT_EINVAL;
}

const char *rt_url_room(const rt_url *u, rt_url_kind *kind)
{
    rt_url_room_ref ref;

    if (u == NULL || rt_url_path_room(u->path, strlen(u->path), &ref) != 0)
        return NULL;
    if (kind != NULL)
        *kind = ref.kind;
    return ref.room;
}
