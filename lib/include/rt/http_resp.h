/*
 * rt/http_resp.h: a sans-I/O reader of HTTP/1.1 responses (RFC 9112), the
 * client half that a WebSocket upgrade, an SSE stream and a long poll
 * need: the status line, the header fields, and a body framed by
 * Content-Length, by chunked transfer coding, or by the end of the
 * connection.  Several responses may follow one another on one
 * connection (keep-alive); the reader returns to the status line after
 * each.
 *
 * Bytes go in with rt_http_resp_feed() in any chunking; the head is
 * buffered until its blank line (never more than max_head_bytes), the body
 * is passed through without a copy (chunk framing removed).  A 101
 * (Switching Protocols) head ends the reader's work: feed() stops right
 * after it and says how much it used, so the WebSocket frames that follow
 * in the same read stay with the caller.
 *
 * Limits: no trailers are reported (they are read and dropped); no
 * interim 1xx other than 101 is expected (a 100 Continue is skipped);
 * obsolete line folding is an error.  Errors are sticky until reset.
 *
 * Threads: a reader is used from one thread at a time.
 */
#ifndef RT_HTTP_RESP_H
#define RT_HTTP_RESP_H

#include <stddef.h>
#include <stdint.h>

#include "rt/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Most header fields one head may carry. */
#define RT_HTTP_MAX_HEADERS 64

typedef struct rt_http_header {
    const char *name; /* not NUL-terminated */
    size_t name_len;
    const char *value; /* leading and trailing blanks removed */
    size_t value_len;
} rt_http_header;

typedef struct rt_http_head {
    int status;        /* 100 to 999 */
    int minor_version; /* HTTP/1.x */
    const char *reason;
    size_t reason_len;
    size_t nheaders;
    rt_http_header headers[RT_HTTP_MAX_HEADERS];
    int64_t content_length; /* -1 when absent */
    int chunked;            /* Transfer-Encoding ends in chunked */
    int close;              /* Connection: close, or HTTP/1.0 */
} rt_http_head;

/*
 * Callbacks; each returns 0 to go on, nonzero to stop: feed() then
 * returns RT_ECANCELED (sticky).  Pointers are valid until it returns.
 */
typedef struct rt_http_resp_cbs {
    int (*on_head)(const rt_http_head *h, void *ud);     /* required */
    int (*on_body)(const char *p, size_t len, void *ud); /* optional */
    int (*on_done)(void *ud);                            /* optional */
} rt_http_resp_cbs;

typedef struct rt_http_resp rt_http_resp;

/*
 * Make a reader.  |max_head_bytes| bounds the status line and header
 * block together (0: 16 KiB).
 *
 * Returns 0, RT_EINVAL (no on_head), RT_ENOMEM.
 * Ownership: the caller frees *out with rt_http_resp_free().
 */
RT_EXTERN int rt_http_resp_new(rt_http_resp **out, size_t max_head_bytes,
                               const rt_http_resp_cbs *cbs, void *ud);

/*
 * Feed |len| bytes.  *|used| (may be NULL) is how many were consumed: all
 * of them, except after a 101 head, where the rest belongs to the
 * upgraded protocol (rt_http_resp_upgraded() is then 1).
 *
 * Returns 0; RT_EPROTO for a malformed status line, header, chunk size
 * or conflicting framing; RT_ETOOBIG for a head over the limit or too
 * many fields; RT_ECANCELED when a callback stopped it; RT_ENOMEM.
 * Callbacks: any of them, synchronously, in stream order.
 */
RT_EXTERN int rt_http_resp_feed(rt_http_resp *r, const char *buf, size_t len,
                                size_t *used);

/*
 * The connection ended.  A body delimited by the close is then complete
 * (on_done fires); anything else unfinished is an error.
 *
 * Returns 0 (nothing pending, or a close-delimited body ended), RT_EPROTO
 * (a head or a framed body cut short), or the sticky error.
 */
RT_EXTERN int rt_http_resp_eof(rt_http_resp *r);

/* 1 once a 101 head was read. */
RT_EXTERN int rt_http_resp_upgraded(const rt_http_resp *r);

/* 1 between responses (nothing of the next one read yet). */
RT_EXTERN int rt_http_resp_idle(const rt_http_resp *r);

/* Back to the start of a response; clears a sticky error. */
RT_EXTERN void rt_http_resp_reset(rt_http_resp *r);

/* rt_http_resp_free(NULL) is a no-op. */
RT_EXTERN void rt_http_resp_free(rt_http_resp *r);

/*
 * Find header |name| (case-insensitive) in |h|; the first one wins.
 * Returns the field, or NULL.
 */
RT_EXTERN const rt_http_header *rt_http_head_find(const rt_http_head *h,
                                                  const char *name);

#ifdef __cplusplus
}
#endif

#endif /* RT_HTTP_RESP_H */
