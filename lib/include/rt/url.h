/*
 * rt/url.h: parse and build the URLs of ws, wss, http and https endpoints,
 * and turn what a user types (a room, a path, a URL) into one of them.
 *
 * An rt_url is always canonical: the scheme and host are lower case, the
 * port is a number in 1..65535 (the default one for the scheme when none
 * was given), the path starts with '/' and holds no dot segments, bytes
 * outside the RFC 3986 path and query sets are percent-encoded, escapes use
 * upper-case hex, and the fragment is gone.  Formatting an rt_url and
 * parsing the result gives the same rt_url back.
 *
 * Threads: an rt_url is a plain value; calls on distinct rt_url objects may
 * run on any threads, calls on one object must not overlap.
 */
#ifndef RT_URL_H
#define RT_URL_H

#include <stddef.h>

#include "rt/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest URL accepted or produced, in bytes, as formatted. */
#define RT_URL_MAX_LEN 8192

/* Longest room name (PROTOCOL.md section 1). */
#define RT_ROOM_MAX_LEN 64

typedef struct rt_url rt_url;

typedef enum rt_url_scheme {
    RT_URL_WS,
    RT_URL_WSS,
    RT_URL_HTTP,
    RT_URL_HTTPS
} rt_url_scheme;

/*
 * What a resolved URL is for.  The kind picks the endpoint a room name maps
 * to (/ws/R, /events/R, /poll/R, /publish/R) and the scheme family: WS
 * turns http into ws and https into wss; SSE, POLL, PUBLISH and HTTP turn
 * ws into http and wss into https; ANY keeps the scheme as written.
 */
typedef enum rt_url_kind {
    RT_URL_KIND_ANY,
    RT_URL_KIND_WS,
    RT_URL_KIND_SSE,
    RT_URL_KIND_POLL,
    RT_URL_KIND_PUBLISH,
    RT_URL_KIND_HTTP
} rt_url_kind;

/*
 * Parse an absolute ws://, wss://, http:// or https:// URL.
 *
 * |out| receives the new URL on success, NULL otherwise.
 * |str| NUL-terminated; scheme case-insensitive; host a name, an IPv4
 *   dotted quad or a bracketed IPv6 literal (no zone identifier); optional
 *   port 1..65535; the fragment is dropped.  User information
 *   ("user:pw@host") is refused: tokens travel in --token.
 * |errbuf| receives a one-line reason on failure ("port '99999' out of
 *   range (1-65535)", "unsupported scheme 'ftp'"); may be NULL.
 *
 * Returns 0, RT_EURL when |str| is not such a URL, RT_ETOOBIG when it is
 * longer than RT_URL_MAX_LEN, RT_EINVAL when |out| or |str| is NULL,
 * RT_ENOMEM.
 *
 * Ownership: the caller frees *out with rt_url_free().
 * See also: rt_url_resolve(), rt_url_format().
 */
RT_EXTERN int rt_url_parse(rt_url **out, const char *str, char *errbuf,
                           size_t errlen);

/*
 * Resolve what a user typed into the URL to connect to.
 *
 * |base| the absolute URL of the server (the CLI's --url, default
 *   "http://127.0.0.1:8080"); it may carry a path prefix ("http://h/api")
 *   and a query, both kept.
 * |target| one of:
 *   - a full URL with a scheme: used as given, its scheme converted for
 *     |kind| ("rtctl tail ws://h/events/x" reads http://h/events/x);
 *   - a path, recognised by a '/' or '?' in it ("events/general",
 *     "/events/general", "ws/general?x=1"): appended to the base path,
 *     whether or not it starts with '/'; its query parameters replace those
 *     of the base with the same name, the others are appended;
 *   - otherwise, for kinds WS, SSE, POLL and PUBLISH, a room name
 *     ("general"), which must match [A-Za-z0-9._-]{1,64} and not be "."
 *     or "..": mapped to the endpoint of |kind| below the base path; for
 *     kinds ANY and HTTP, which have no room endpoint, a path ("rooms").
 *   A target whose first segment holds ':' ("localhost:8080/ws") is
 *   refused as a URL missing its scheme.
 * |kind| the endpoint family.
 * |errbuf| receives the reason on failure; problems with |base| start with
 *   "base URL: ".
 *
 * Returns 0, RT_EURL for a malformed base, target or room name, RT_EINVAL
 * for a NULL argument or an unknown |kind|, RT_ETOOBIG when the
 * result would exceed RT_URL_MAX_LEN, RT_ENOMEM.
 *
 * Ownership: the caller frees *out with rt_url_free().
 * See also: rt_url_parse(), rt_url_room().
 */
RT_EXTERN int rt_url_resolve(rt_url **out, const char *base,
                             const char *target, rt_url_kind kind,
                             char *errbuf, size_t errlen);

/*
 * Copy a URL.
 *
 * Returns 0, RT_EINVAL when an argument is NULL, RT_ENOMEM.
 * Ownership: the caller frees *out with rt_url_free().
 */
RT_EXTERN int rt_url_dup(rt_url **out, const rt_url *u);

/*
 * Free a URL.  rt_url_free(NULL) is a no-op.
 */
RT_EXTERN void rt_url_free(rt_url *u);

/*
 * Set a query parameter, as the clients do for since, epoch, token, user,
 * lastEventId and timeout.
 *
 * |key|, |value| NUL-terminated bytes, percent-encoded here: everything
 *   but the RFC 3986 unreserved set (A-Z a-z 0-9 - . _ ~) becomes %XX, so
 *   ' ', '&', '=', '+' and UTF-8 survive.  The first parameter whose
 *   decoded name equals |key| gets the new value and later ones of that
 *   name are removed; with none, the parameter is appended.  A NULL
 *   |value| removes every parameter of that name.
 *
 * Returns 0, RT_EINVAL when |u| or |key| is NULL or |key| is empty,
 * RT_ETOOBIG when the URL would grow past RT_URL_MAX_LEN, RT_ENOMEM; on
 * error |u| is unchanged.
 *
 * See also: rt_url_query_get().
 */
RT_EXTERN int rt_url_query_set(rt_url *u, const char *key, const char *value);

/*
 * Read a query parameter: the percent-decoded value of the first parameter
 * whose decoded name equals |key| ("" for "?key" with no '=').  '+' is
 * not decoded to a space (RFC 3986, not HTML forms).
 *
 * |out| receives a NUL-terminated copy, or NULL when there is no such
 *   parameter; |len| (may be NULL) its length, which may cover NUL bytes
 *   that "%00" decoded to.
 *
 * Returns 0 (also when absent), RT_EINVAL on a NULL argument, RT_ENOMEM.
 * Ownership: the caller frees *out with rt_free().
 */
RT_EXTERN int rt_url_query_get(const rt_url *u, const char *key, char **out,
                               size_t *len);

/*
 * Write the canonical form: scheme "://" host [":" port] path ["?" query],
 * the port left out when it is the scheme's default, an IPv6 host in
 * brackets, no '?' when the query is empty.
 *
 * Returns 0, RT_EINVAL on a NULL argument, RT_ENOMEM.
 * Ownership: the caller frees *out with rt_free().
 * See also: rt_url_parse().
 */
RT_EXTERN int rt_url_format(const rt_url *u, char **out);

/*
 * Write the value of the Host header: host [":" port], the port left out
 * when it is the default, an IPv6 host in brackets.
 *
 * Returns 0, RT_EINVAL on a NULL argument, RT_ENOMEM.
 * Ownership: the caller frees *out with rt_free().
 */
RT_EXTERN int rt_url_host_header(const rt_url *u, char **out);

/*
 * Write the URL's origin (RFC 6454 serialisation): scheme "://" host
 * [":" port], with the URL's own scheme.
 *
 * Returns 0, RT_EINVAL on a NULL argument, RT_ENOMEM.
 * Ownership: the caller frees *out with rt_free().
 */
RT_EXTERN int rt_url_origin(const rt_url *u, char **out);

/*
 * Write the request target of the HTTP request line: path ["?" query].
 *
 * Returns 0, RT_EINVAL on a NULL argument, RT_ENOMEM.
 * Ownership: the caller frees *out with rt_free().
 */
RT_EXTERN int rt_url_request_target(const rt_url *u, char **out);

/*
 * Field accessors.  Strings belong to |u| and stay valid until |u| is
 * changed or freed.  rt_url_host() gives an IPv6 address without its
 * brackets (ready for getaddrinfo); rt_url_query() gives the encoded
 * query without '?', "" when there is none; rt_url_port() the effective
 * port (80 or 443 when none was written); rt_url_is_tls() is 1 for wss and
 * https.
 */
RT_EXTERN rt_url_scheme rt_url_get_scheme(const rt_url *u);
RT_EXTERN const char *rt_url_host(const rt_url *u);
RT_EXTERN int rt_url_port(const rt_url *u);
RT_EXTERN const char *rt_url_path(const rt_url *u);
RT_EXTERN const char *rt_url_query(const rt_url *u);
RT_EXTERN int rt_url_is_tls(const rt_url *u);
RT_EXTERN int rt_url_is_ipv6(const rt_url *u);

/*
 * Tell whether |s| (|len| bytes, no terminator needed) is a room name:
 * [A-Za-z0-9._-]{1,64}, and not "." or ".." (they are dot segments in a
 * path and would never reach the server as a room).
 *
 * Returns 1 when valid, 0 otherwise (also for a NULL |s|).
 */
RT_EXTERN int rt_room_valid(const char *s, size_t len);

/*
 * The room of a URL whose path ends in /ws/R, /events/R, /poll/R or
 * /publish/R (below any prefix).
 *
 * |kind| (may be NULL) receives the endpoint kind.
 *
 * Returns the room, a NUL-terminated string inside |u|'s path, or NULL
 * when the path has no such ending or R is not a valid room.
 * See also: rt_url_path_room().
 */
RT_EXTERN const char *rt_url_room(const rt_url *u, rt_url_kind *kind);

/* Where the room is in a request path; see rt_url_path_room(). */
typedef struct rt_url_room_ref {
    rt_url_kind kind;
    size_t prefix_len; /* bytes before "/ws/", "/events/", ... */
    const char *room;  /* points into the path; not NUL-terminated */
    size_t room_len;
} rt_url_room_ref;

/*
 * Split a request path (as a server receives it; anything from '?' or '#'
 * on is ignored) into endpoint kind and room, for the server's routing.
 * The server serves only prefix_len == 0.
 *
 * |ref| filled on success.
 *
 * Returns 0; RT_EINVAL when the path does not end in /ws/X, /events/X,
 * /poll/X or /publish/X with X one segment (a 404); RT_EURL when it does
 * but X is not a valid room, empty included (a 400).
 */
RT_EXTERN int rt_url_path_room(const char *path, size_t len,
                               rt_url_room_ref *ref);

#ifdef __cplusplus
}
#endif

#endif /* RT_URL_H */
