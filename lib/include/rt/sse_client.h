/*
 * rt/sse_client.h: a resumable Server-Sent Events client.
 *
 * The client GETs an http:// or https:// URL with "Accept:
 * text/event-stream", feeds the body to the WHATWG parser (rt/sse_parser.h)
 * and hands each event to the caller.  When the stream ends or fails it
 * reconnects as the spec says, sending "Last-Event-ID" with the last event
 * ID it saw, so a server that keeps history replays what was missed.  The
 * delay between attempts comes from rt/backoff.h (full jitter), scaled by
 * the stream's "retry:" field and raised by a Retry-After header.
 *
 * Answers and what the client does with them:
 * - 200 with Content-Type text/event-stream: the stream; its end, or a
 *   connection failure, reconnects.
 * - 204: the server says stop; the client closes without an error.
 * - 400, 401, 403, 404, 405: the client closes with RT_EHTTP.
 * - any other status (429, 500, 502, 503, 504...), and a 200 with another
 *   Content-Type (RT_EPROTO): reconnect after the backoff delay, at least
 *   the Retry-After the answer asked for.
 * - no bytes at all, not even a comment, for stall_timeout_ms: the
 *   connection is taken for dead and replaced (RT_ETIMEDOUT).
 * - a line or event past the parser's limits: closes with RT_ETOOBIG.
 *
 * Ordering by seq (order_by_seq, for our server, rtctl-protocol(7)): off
 * by default, so the client follows any SSE server.  When on, an event
 * whose own id: field is EPOCH-SEQ is a stored message, and goes through
 * an ordered buffer (rt/order.h) by SEQ exactly as the WebSocket client's
 * messages do: each seq reaches on_event once and in increasing order,
 * duplicates (the replay after a resume) are dropped, and a message that
 * arrives past a missing seq is held.  A gap that does not fill within
 * gap_timeout_ms ends the connection (RT_EGAP, with backoff), and the
 * reconnection resumes from the last delivered id, so the replay fills
 * it.  Events without an id of their own (presence, typing, the welcome
 * and "resumed" events of a resumed stream) pass straight through, with
 * the last delivered id as their id.  The buffer starts afresh, and
 * on_resumed(recovered 0) tells the caller that messages were lost (at
 * most once per connection, before the messages after the loss), when:
 * - the server's system event {"data":{"event":"resumed",...}} says
 *   "recovered":false: the held messages are delivered across their gaps
 *   and the buffer moves past the event's "to";
 * - an id comes from another epoch (the server's history restarted): the
 *   buffer starts at that id's seq;
 * - a seq is too far ahead for the buffer's window to be reordering.
 * The first sequenced event sets the epoch and the seq to start from,
 * unless last_event_id was an EPOCH-SEQ already.  Last-Event-ID, and
 * rt_sse_client_last_id(), is always the id of the last event DELIVERED,
 * never that of one held behind a gap.
 *
 * Lifecycle: rt_sse_client_new(), rt_sse_client_start(), events and state
 * changes, then either rt_sse_client_close() or a stop of the client's own
 * (204, a final error, retries exhausted: on_state reports RT_CONN_CLOSED).
 * Either way on_closed is the last callback, on a later loop turn, and the
 * client is freed when it returns.  The handle stays valid across
 * reconnections until then.
 *
 * Threads: every call happens on the thread running the client's rt_loop.
 */
#ifndef RT_SSE_CLIENT_H
#define RT_SSE_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "rt/conn.h"
#include "rt/export.h"
#include "rt/loop.h"
#include "rt/sse_parser.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rt_sse_client rt_sse_client;

/*
 * The states (rt/conn.h): RT_CONN_CONNECTING, a request is on its way;
 * RT_CONN_OPEN, 200 text/event-stream, events flow; RT_CONN_BACKOFF;
 * RT_CONN_CLOSED.
 */
typedef struct rt_sse_client_opts {
    /*
     * headers, TLS, proxy (any URL curl takes), connect timeout, backoff,
     * failover URLs (the resume position going along is Last-Event-ID)
     */
    rt_conn_opts conn;
    const char *last_event_id; /* Last-Event-ID of the first request */
    uint64_t stall_timeout_ms; /* silence that means dead; 45000; 0 off */
    size_t max_line_bytes;     /* parser limit; 0 = its default */
    int order_by_seq;          /* 1: order EPOCH-SEQ ids; see above */
    uint64_t gap_timeout_ms;   /* order_by_seq: wait for a gap; 2000 */
    /*
     * 1: retry the answers the WHATWG rules and HTTP make final (a
     * Content-Type other than text/event-stream, 400, 401, 403, 404, 405)
     * like any other failure.
     */
    int retry_all;
    /* redirects (301, 302, 303, 307, 308) followed in a row; 10; 0 none */
    uint32_t max_redirects;
} rt_sse_client_opts;

typedef struct rt_sse_client_cbs {
    /*
     * One dispatched event; the pointers are valid until it returns.
     * Required.
     */
    void (*on_event)(rt_sse_client *c, const rt_sse_event *ev, void *ud);
    /*
     * A state change.  |delay_ms| is the wait with RT_CONN_BACKOFF and 0
     * otherwise; |err| the failure that caused a BACKOFF or CLOSED (0 for
     * a clean stop: 204 or rt_sse_client_close()); |detail| a sentence
     * about it (also rt_sse_client_errmsg()), "" when there is none.
     * Optional.
     */
    void (*on_state)(rt_sse_client *c, rt_conn_state st, uint64_t delay_ms,
                     int err, const char *detail, void *ud);
    /* The last call; |c| is freed after it returns.  Optional. */
    void (*on_closed)(rt_sse_client *c, void *ud);
    /*
     * With order_by_seq: the server could not continue from where the
     * client was; |recovered| is 0 (a "resumed" event said
     * "recovered":false, the epoch changed, or a gap was too wide).  At
     * most once per connection, before the events that follow the loss.
     * Never called without order_by_seq.  Optional.
     */
    void (*on_resumed)(rt_sse_client *c, int recovered, void *ud);
} rt_sse_client_cbs;

/*
 * Fill |o| with the defaults: rt_conn_opts_init() for |conn|, stall
 * timeout 45 s, 10 redirects, no ordering by seq (gap timeout 2 s once it
 * is turned on). *
 * Returns nothing.
 * Ownership: |o| stays the caller's.
 * Callbacks: none.
 * See also: rt_sse_client_new().
 */
RT_EXTERN void rt_sse_client_opts_init(rt_sse_client_opts *o);

/*
 * Create a client for one stream; nothing is sent before
 * rt_sse_client_start().
 *
 * |out| receives the client.
 * |loop| the loop it runs on; must outlive the client.
 * |url| an absolute http:// or https:// URL.
 * |o| options, NULL for the defaults; copied.
 * |cbs| callbacks, copied; on_event is required.
 * |ud| passed last to every callback.
 *
 * Returns 0, RT_EINVAL (a NULL argument, no on_event, a header without
 * ':' or with CR/LF, a bad backoff policy), RT_EURL (|url| or a failover
 * URL not an http(s) URL) or RT_ENOMEM.
 * Ownership: the client belongs to the caller until on_closed; end it with
 * rt_sse_client_close() (before start, too).
 * Callbacks: none here.
 * See also: rt_sse_client_start(), rt_sse_client_close().
 */
RT_EXTERN int rt_sse_client_new(rt_sse_client **out, rt_loop *loop,
                                const char *url, const rt_sse_client_opts *o,
                                const rt_sse_client_cbs *cbs, void *ud);

/*
 * Send the first request.
 *
 * Returns 0, RT_ESTATE (already started or closing) or RT_ENOMEM.
 * Ownership: unchanged.
 * Callbacks: on_state(RT_CONN_CONNECTING) fires synchronously; the rest
 * from the loop.
 * See also: rt_sse_client_close().
 */
RT_EXTERN int rt_sse_client_start(rt_sse_client *c);

/*
 * Stop: abort the request in flight, cancel a pending reconnection.
 * Asynchronous: on_state(RT_CONN_CLOSED, err 0) and then on_closed fire on
 * a later loop turn (never from inside this call).  May be called from any
 * callback but on_closed; calling it again, or after the client stopped by
 * itself, does nothing.  rt_sse_client_close(NULL) is a no-op.
 *
 * Returns nothing.
 * Ownership: |c| stays valid until on_closed returns.
 * Callbacks: none synchronously; no on_event after this call.
 * See also: rt_sse_client_new().
 */
RT_EXTERN void rt_sse_client_close(rt_sse_client *c);

/*
 * Describe the last failure: "HTTP 404", "connection refused: Failed to
 * connect to 127.0.0.1 port 1", "no bytes for 45000 ms".
 *
 * Returns a NUL-terminated string, "" when nothing failed yet.
 * Ownership: the client's; valid until the next callback.
 */
RT_EXTERN const char *rt_sse_client_errmsg(const rt_sse_client *c);

/*
 * Count the reconnection attempts since the last reset of the backoff (an
 * event delivered, or a connection that stayed up).
 *
 * Returns the count; 1 during the first BACKOFF after a failure.
 */
RT_EXTERN uint32_t rt_sse_client_attempt(const rt_sse_client *c);

/*
 * The URL of the request in flight, or of the next one during BACKOFF
 * (|url| or one of opts.failover_urls, normalised), and its index in that
 * list (0: |url|).  The string is the client's, valid until it is freed.
 */
RT_EXTERN const char *rt_sse_client_url(const rt_sse_client *c);
RT_EXTERN size_t rt_sse_client_url_index(const rt_sse_client *c);

/*
 * The last event ID: what the next reconnection sends as Last-Event-ID
 * (with order_by_seq, the id of the last event delivered).
 *
 * Returns a NUL-terminated string, "" when none; the client's, valid until
 * the next callback.
 */
RT_EXTERN const char *rt_sse_client_last_id(const rt_sse_client *c);

#ifdef __cplusplus
}
#endif

#endif /* RT_SSE_CLIENT_H */
