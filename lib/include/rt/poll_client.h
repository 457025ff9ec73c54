/*
 * rt/poll_client.h: a resumable long-polling client for our protocol.
 *
 * The client GETs /poll/{room}?since=N&epoch=E&timeout=S in a loop
 * (PROTOCOL.md sections 1 and 4).  Each answer is
 * {"epoch":E,"messages":[...],"next":N,"recovered":B}; every message is
 * read with rt_msg_parse(RT_MSG_FROM_SERVER) and pushed by its seq through
 * an ordered buffer (rt/order.h), so the caller sees each seq exactly once
 * and in increasing order, duplicates dropped.  The next poll asks for
 * since=next and the answer's epoch.  Between failed attempts the delay
 * comes from rt/backoff.h (full jitter), raised by a Retry-After header.
 *
 * Answers and what the client does with them:
 * - 200 with a well-formed answer: its messages are delivered, the backoff
 *   resets, the next poll starts at once.
 * - 200 whose body is not such an answer, or is longer than
 *   max_body_bytes: the client closes with RT_EPROTO or RT_ETOOBIG.
 * - 400, 401, 403, 404, 405: the client closes with RT_EHTTP.
 * - any other status (429, 500, 502, 503, 504...) and connection
 *   failures: a new poll after the backoff delay, at least the
 *   Retry-After the answer asked for.
 * - an answer with "recovered":false, or with another epoch than the one
 *   the client holds: the ordered buffer starts afresh at the first seq the
 *   server still holds, and on_resumed(recovered 0) tells the caller that
 *   messages were lost.
 * - no answer within the poll timeout plus 15 s: the request is taken for
 *   dead and replaced (RT_ETIMEDOUT), with backoff.
 *
 * Lifecycle: rt_poll_client_new(), rt_poll_client_start(), messages and
 * state changes, then either rt_poll_client_close() or a stop of the
 * client's own (a final error, retries exhausted: on_state reports
 * RT_CONN_CLOSED).  Either way on_closed is the last callback, on a later
 * loop turn, and the client is freed when it returns.
 *
 * Threads: every call happens on the thread running the client's rt_loop.
 */
#ifndef RT_POLL_CLIENT_H
#define RT_POLL_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "rt/conn.h"
#include "rt/export.h"
#include "rt/loop.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rt_poll_client rt_poll_client;

/*
 * The states (rt/conn.h): RT_CONN_CONNECTING, the first poll after a
 * start or a backoff; RT_CONN_OPEN, an answer arrived, polls follow one
 * another; RT_CONN_BACKOFF; RT_CONN_CLOSED.
 */
typedef struct rt_poll_client_opts {
    /*
     * headers, TLS, proxy (any URL curl takes), connect timeout, backoff,
     * failover URLs (the resume position going along is since and epoch)
     */
    rt_conn_opts conn;
    int has_since;           /* 1: the first poll sends since (0 = history) */
    uint64_t since;          /* the last seq already seen, with has_since */
    const char *epoch;       /* the epoch |since| belongs to; NULL: unknown */
    uint32_t poll_timeout_s; /* the server's wait; default 25, max 60 */
    size_t max_body_bytes;   /* longest answer; default 16 MiB */
} rt_poll_client_opts;

typedef struct rt_poll_client_cbs {
    /*
     * One message, in seq order, each seq once: |json|, |len| the message
     * object, compact JSON, NUL-terminated; valid until it returns.
     * Required.
     */
    void (*on_message)(rt_poll_client *c, uint64_t seq, const char *json,
                       size_t len, void *ud);
    /*
     * A state change.  |delay_ms| is the wait with RT_CONN_BACKOFF and 0
     * otherwise; |err| the failure that caused a BACKOFF or CLOSED (0 for
     * rt_poll_client_close()); |detail| a sentence about it (also
     * rt_poll_client_errmsg()), "" when there is none.  Optional.
     */
    void (*on_state)(rt_poll_client *c, rt_conn_state st, uint64_t delay_ms,
                     int err, const char *detail, void *ud);
    /*
     * The server could not continue from where the client was: |recovered|
     * is 0 (an answer said "recovered":false, or the epoch changed).  Called
     * before the messages of that answer.  Optional.
     */
    void (*on_resumed)(rt_poll_client *c, int recovered, void *ud);
    /* The last call; |c| is freed after it returns.  Optional. */
    void (*on_closed)(rt_poll_client *c, void *ud);
} rt_poll_client_cbs;

/*
 * Fill |o| with the defaults: rt_conn_opts_init() for |conn|, no since
 * (the first poll waits for new messages), poll timeout 25 s, answers up
 * to 16 MiB. *
 * Returns nothing.
 * Ownership: |o| stays the caller's.
 */
RT_EXTERN void rt_poll_client_opts_init(rt_poll_client_opts *o);

/*
 * Create a client for one room's poll endpoint; nothing is sent before
 * rt_poll_client_start().
 *
 * |out| receives the client.
 * |loop| the loop it runs on; must outlive the client.
 * |url| an absolute http:// or https:// URL (rt_url_resolve() with
 *     RT_URL_KIND_POLL gives one); since, epoch and timeout are set on it.
 * |o| options, NULL for the defaults; copied.
 * |cbs| callbacks, copied; on_message is required.
 * |ud| passed last to every callback.
 *
 * Returns 0, RT_EINVAL (a NULL argument, no on_message, a header without
 * ':' or with CR/LF, an epoch that is not 1 to 32 of [A-Za-z0-9], a poll
 * timeout over 60, a bad backoff policy), RT_EURL (|url| or a failover
 * URL not an http(s) URL) or RT_ENOMEM.
 * Ownership: the client belongs to the caller until on_closed; end it with
 * rt_poll_client_close() (before start, too).
 * Callbacks: none here.
 */
RT_EXTERN int rt_poll_client_new(rt_poll_client **out, rt_loop *loop,
                                 const char *url, const rt_poll_client_opts *o,
                                 const rt_poll_client_cbs *cbs, void *ud);

/*
 * Send the first poll.
 *
 * Returns 0, RT_ESTATE (already started or closing) or RT_ENOMEM.
 * Callbacks: on_state(RT_CONN_CONNECTING) fires synchronously; the rest
 * from the loop.
 */
RT_EXTERN int rt_poll_client_start(rt_poll_client *c);

/*
 * Stop: abort the poll in flight, cancel a pending retry.  Asynchronous:
 * on_state(RT_CONN_CLOSED, err 0) and then on_closed fire on a later loop
 * turn (never from inside this call).  May be called from any callback but
 * on_closed; calling it again, or after the client stopped by itself,
 * does nothing.  rt_poll_client_close(NULL) is a no-op.
 *
 * Callbacks: none synchronously; no on_message after this call.
 */
RT_EXTERN void rt_poll_client_close(rt_poll_client *c);

/*
 * Describe the last failure: "HTTP 404", "connection refused: ...".
 *
 * Returns a NUL-terminated string, "" when nothing failed yet; the
 * client's, valid until the next callback.
 */
RT_EXTERN const char *rt_poll_client_errmsg(const rt_poll_client *c);

/*
 * Count the failed attempts since the last good answer.
 *
 * Returns the count; 1 during the first BACKOFF after a failure.
 */
RT_EXTERN uint32_t rt_poll_client_attempt(const rt_poll_client *c);

/*
 * The URL of the poll in flight, or of the next one during BACKOFF (|url|
 * or one of opts.failover_urls, normalised; without the since, epoch and
 * timeout the client sets), and its index in that list (0: |url|).  The
 * string is the client's, valid until it is freed.
 */
RT_EXTERN const char *rt_poll_client_url(const rt_poll_client *c);
RT_EXTERN size_t rt_poll_client_url_index(const rt_poll_client *c);

/*
 * The position the next poll asks for: |*seq| the last seq delivered (or
 * the since given), |*epoch| the room epoch, "" when unknown; either may
 * be NULL.
 *
 * Returns 1 when a since is known, 0 otherwise.
 */
RT_EXTERN int rt_poll_client_position(const rt_poll_client *c, uint64_t *seq,
                                      const char **epoch);

#ifdef __cplusplus
}
#endif

#endif /* RT_POLL_CLIENT_H */
