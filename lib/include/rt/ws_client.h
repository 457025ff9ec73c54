/*
 * rt/ws_client.h: a reconnecting WebSocket client.
 *
 * The client opens a ws:// or wss:// URL on the rt_loop's libuv loop, with
 * the library's own RFC 6455 codec, and keeps it open: when the connection fails or drops it
 * reconnects after a delay from rt/backoff.h (full jitter, base 1 s, cap
 * 30 s, unlimited by default; the attempt count resets only once a
 * connection has stayed up for the policy's stable time or delivered a
 * message).  It stops, and says why, on the answers PROTOCOL.md section 5
 * marks final.
 *
 * Two modes:
 * - Protocol (the default): the server speaks rtctl-protocol(7).  The
 *   client reads the welcome, remembers the room's epoch and the last seq
 *   it delivered, reconnects with ?since=N&epoch=E, and feeds every stored
 *   message through an ordered buffer (rt/order.h): the caller sees each
 *   seq exactly once and in increasing order.  When the server says it
 *   could not replay everything (recovered:false, or a new epoch),
 *   on_resumed(recovered 0) tells the caller before the messages that
 *   follow.  A gap that does not fill within gap_timeout_ms is repaired by
 *   reconnecting from the last delivered seq.
 *   Messages sent with an id are kept until the server acks them and are
 *   sent again after a reconnection; on_ack reports each outcome.  A
 *   stored message of ours (same id, our user as author), live or in the
 *   replay after a reconnection, counts as its ack: it was stored, so it
 *   is reported (after on_message delivered it) and never sent twice,
 *   even when the ack itself was lost with the connection.
 * - Raw (opts.raw = 1), for any WebSocket server: text and binary frames
 *   in and out, the same reconnection and liveness, no ordering.
 *
 * Liveness: after ping_interval_ms without a frame from the server the
 * client sends a ping; when nothing at all (frame, pong) arrives within
 * pong_timeout_ms after that, the connection is taken for dead and
 * replaced (RT_ETIMEDOUT), so a silently dead TCP connection is noticed.
 *
 * Answers and what the client does with them:
 * - close 1000, 1002, 1003, 1007, 1008, 1009, 1010, an HTTP answer
 *   400, 401, 403, 404 or 405 to the upgrade, a certificate or TLS
 *   handshake failure: the client stops (on_state RT_CONN_CLOSED with
 *   RT_ECLOSED, RT_EHTTP or RT_ETLS, the detail naming the code and
 *   reason).
 * - a frame that breaks RFC 6455 (masked, reserved bits, unknown opcode,
 *   a control frame fragmented or over 125 bytes), a text message that is
 *   not UTF-8: the client closes with 1002 or 1007 and stops (RT_EPROTO).
 * - any other close code (1001, 1006, 1011, 1012, 1013...), any other HTTP
 *   status, a refused or failed connection, a dead connection: reconnect
 *   after the backoff delay.
 * - a frame over max_message_bytes: the client closes with 1009 and stops
 *   (RT_ETOOBIG); a frame that is not protocol JSON in protocol mode is
 *   passed to on_message as it came, with msg NULL.
 * - more than 256 MiB of messages held (past a gap, or in a replay not
 *   judged yet): the connection is replaced and the client resumes from
 *   the last delivered seq (RT_EGAP).
 * - no welcome within connect_timeout_ms of the upgrade (protocol mode):
 *   the connection is replaced (RT_ETIMEDOUT).
 * - an HTTP redirect to the upgrade is followed when max_redirects allows
 *   (at once, no backoff; a reconnection starts from |url| again), else it
 *   is an answer like any other status (RT_EHTTP, the detail naming the
 *   Location; retried after the backoff delay); more than max_redirects in
 *   a row stop the client (RT_EHANDSHAKE).
 *
 * A close sends a close frame and gives the server 5 s to take it before
 * the connection is dropped.
 *
 * Lifecycle: rt_ws_client_new(), rt_ws_client_start(), then callbacks, then
 * either rt_ws_client_close() or a stop of the client's own.  Either way
 * on_closed is the last callback, on a later loop turn, and the client is
 * freed when it returns.
 *
 * Threads: every call happens on the thread running the client's rt_loop.
 */
#ifndef RT_WS_CLIENT_H
#define RT_WS_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "rt/conn.h"
#include "rt/export.h"
#include "rt/loop.h"
#include "rt/msg.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rt_ws_client rt_ws_client;

/*
 * The states (rt/conn.h): RT_CONN_CONNECTING, a connection attempt is on
 * its way; RT_CONN_OPEN, upgraded, and in protocol mode the welcome
 * arrived; RT_CONN_BACKOFF; RT_CONN_CLOSED.
 */

/* What on_control reports (for tools that show the control frames). */
typedef enum rt_ws_control {
    RT_WS_PING_SENT,      /* |data| the payload sent */
    RT_WS_PONG_RECEIVED,  /* |data| the payload received */
    RT_WS_CLOSE_RECEIVED, /* |code| the close code, |data| the reason */
    RT_WS_PING_RECEIVED   /* |data| the server's ping, already answered */
} rt_ws_control;

typedef struct rt_ws_client_opts {
    /*
     * headers, TLS, proxy, connect timeout (TCP + TLS + upgrade), backoff,
     * failover URLs (the resume position going along is since and epoch).
     * In conn.headers Host replaces the one from the URL; Origin and
     * Sec-WebSocket-Protocol stand for |origin| and |subprotocols| (give
     * each once); the other headers of the handshake are refused (see
     * rt_ws_client_header_owned()).  The proxy is an HTTP proxy,
     * "[http://][user:pass@]host:port", tunnelled through with CONNECT;
     * NULL: from the environment as curl reads it (https_proxy or
     * HTTPS_PROXY for wss://, http_proxy for ws://, then ALL_PROXY or
     * all_proxy; a NO_PROXY or no_proxy entry matching the host, or "*",
     * means none); "": none.
     */
    rt_conn_opts conn;
    int raw; /* 1: any server, frames as they come; 0: rtctl protocol */
    const char *subprotocols; /* "chat, superchat": offered; NULL none */
    const char *origin;       /* Origin header; NULL none */
    /* protocol mode: resume position of the first connection */
    int has_since;     /* 1: the first connection sends since */
    uint64_t since;    /* the last seq already seen, with has_since */
    const char *epoch; /* the epoch |since| belongs to; NULL: unknown */
    uint64_t ping_interval_ms; /* idle time before a ping; 30000; 0 off */
    uint64_t pong_timeout_ms;  /* silence after a ping; 10000 */
    uint64_t gap_timeout_ms;   /* a seq gap open this long; 2000 */
    size_t max_message_bytes;  /* largest incoming message; 16 MiB */
    size_t max_queued;         /* messages waiting to go or for acks; 1024 */
    size_t max_queued_bytes;   /* their total size; 16 MiB */
    /*
     * redirects (301, 302, 303, 307, 308 to the upgrade) followed in a
     * row; 0 (the default): a redirect is an answer that stops the client
     */
    uint32_t max_redirects;
    /*
     * 1: offer permessage-deflate (RFC 7692): the server picks our window;
     * what we send is compressed, what the server sends is read either
     * way.  A message that does not inflate stops the client (1007,
     * RT_EPROTO); one that inflates past max_message_bytes too (1009,
     * RT_ETOOBIG).
     */
    int compress;
} rt_ws_client_opts;

typedef struct rt_ws_client_cbs {
    /*
     * Protocol mode: one frame from the server.  Stored messages (those
     * with a seq) come in seq order, each seq once; presence, typing,
     * errors not tied to a message of ours and other system frames come
     * as they arrive.  The welcome, resumed and ack frames are consumed by
     * the client (see on_open, on_resumed, on_ack).  |msg| the parsed
     * frame, or NULL when the frame was not valid protocol JSON; |json|,
     * |len| the frame as received, NUL-terminated.  All valid until it
     * returns.  Required in protocol mode.
     */
    void (*on_message)(rt_ws_client *c, const rt_msg *msg, const char *json,
                       size_t len, void *ud);
    /*
     * Raw mode: one whole message; |binary| 1 for a binary one.  |data|
     * is NUL-terminated (the NUL is not counted in |len|), valid until it
     * returns.  Required in raw mode.
     */
    void (*on_frame)(rt_ws_client *c, int binary, const char *data, size_t len,
                     void *ud);
    /*
     * A connection is ready for messages.  Protocol mode: the welcome
     * arrived; |welcome| is it (data.user, data.epoch, data.seq,
     * data.online).  Raw mode: the upgrade finished; |welcome| is NULL.
     * Optional.
     */
    void (*on_open)(rt_ws_client *c, const rt_msg *welcome, void *ud);
    /*
     * Protocol mode, after a reconnection with a position, when the
     * server's resumed frame arrives: |recovered| 1 when the server
     * replayed everything after the last delivered seq, 0 when some
     * messages were lost (another epoch, history trimmed); |from|, |to|
     * as the server sent them.  With 0 it comes before the messages of
     * the replay.  With 1, replayed messages that continue the position
     * in the same epoch may already have been delivered: recovery is all
     * or nothing (PROTOCOL.md 4), so they are passed on as they come,
     * which keeps a connection too short for a whole replay making
     * progress.  Optional.
     */
    void (*on_resumed)(rt_ws_client *c, int recovered, uint64_t from,
                       uint64_t to, void *ud);
    /*
     * The outcome of a message sent with an id, once: |code| NULL and |seq|
     * its seq when stored (its broadcast, or its ack, arrived: usually just
     * after on_message delivered it, before when it waits behind a gap),
     * or the error code the server refused it with ("rate_limited",
     * "bad_message"...; |seq| 0), or "closed" for one still unacknowledged
     * when the client stopped; once closing, such messages are not sent.
     * Optional.
     */
    void (*on_ack)(rt_ws_client *c, const char *id, uint64_t seq,
                   const char *code, void *ud);
    /*
     * A state change.  |delay_ms| is the wait with RT_CONN_BACKOFF, 0
     * otherwise; |err| the failure that caused a BACKOFF or CLOSED (0 for
     * rt_ws_client_close()); |detail| a sentence about it (also
     * rt_ws_client_errmsg()), "" when there is none.  Optional.
     */
    void (*on_state)(rt_ws_client *c, rt_conn_state st, uint64_t delay_ms,
                     int err, const char *detail, void *ud);
    /* Control frames, for tools that show them.  Optional. */
    void (*on_control)(rt_ws_client *c, rt_ws_control what, unsigned code,
                       const char *data, size_t len, void *ud);
    /* The last call; |c| is freed after it returns.  Optional. */
    void (*on_closed)(rt_ws_client *c, void *ud);
} rt_ws_client_cbs;

/*
 * Fill |o| with the defaults: rt_conn_opts_init() for |conn|, protocol
 * mode, no since, ping after 30 s of silence and give up 10 s later, gap
 * timeout 2 s, messages up to 16 MiB, up to 1024 queued messages or
 * 16 MiB, no redirects followed. *
 * Returns nothing.
 * Ownership: |o| stays the caller's.
 */
RT_EXTERN void rt_ws_client_opts_init(rt_ws_client_opts *o);

/*
 * Create a client; nothing is sent before rt_ws_client_start().
 *
 * |out| receives the client.
 * |loop| the loop it runs on; must outlive the client.
 * |url| an absolute ws:// or wss:// URL (rt_url_resolve() with
 *     RT_URL_KIND_WS gives one).  In protocol mode since and epoch are
 *     added to its query on each reconnection.
 * |o| options, NULL for the defaults; copied.
 * |cbs| callbacks, copied; on_message (protocol) or on_frame (raw) is
 *     required.
 * |ud| passed last to every callback.
 *
 * Returns 0, RT_EINVAL (a NULL argument, a missing callback, a header
 * without ':' or with CR/LF, a header the handshake owns, Host, Origin or
 * Sec-WebSocket-Protocol given twice or empty, an epoch that is not 1 to 32 of
 * [A-Za-z0-9], a bad backoff policy, a zero limit), RT_EURL (|url| or a
 * failover URL not a ws(s) URL) or RT_ENOMEM.
 * Ownership: the client belongs to the caller until on_closed; end it
 * with rt_ws_client_close() (before start, too).
 * Callbacks: none here.
 */
RT_EXTERN int rt_ws_client_new(rt_ws_client **out, rt_loop *loop,
                               const char *url, const rt_ws_client_opts *o,
                               const rt_ws_client_cbs *cbs, void *ud);

/*
 * Is |header| ("Name: value") one the WebSocket handshake writes itself
 * (Upgrade, Connection, Sec-WebSocket-Key, -Version, -Extensions,
 * -Accept), which rt_ws_client_new() refuses in opts.headers?
 *
 * Returns NULL when it may be sent, else a phrase saying why not.
 */
RT_EXTERN const char *rt_ws_client_header_owned(const char *header);

/*
 * Start the first connection attempt.
 *
 * Returns 0, RT_ESTATE (already started or closing) or RT_ENOMEM.
 * Callbacks: on_state(RT_CONN_CONNECTING) fires synchronously; the rest
 * from the loop.
 */
RT_EXTERN int rt_ws_client_start(rt_ws_client *c);

/*
 * Protocol mode: send a text message {"type":"text","id":ID,"data":{...}}.
 * |content| the text (UTF-8, copied).  |id| NULL for a message sent at
 * most once (while open, or on the next open if the client is
 * reconnecting), or an id (1 to 64 printable ASCII characters, copied)
 * for a message kept until acked and reported through on_ack.
 *
 * Returns 0 (queued), RT_EINVAL (raw mode, a bad id, an id already
 * waiting for its ack, content not UTF-8), RT_EFULL (the queue holds
 * max_queued messages or max_queued_bytes) or RT_ESTATE (closing).
 * Ownership: everything is copied.
 * Callbacks: none synchronously.
 */
RT_EXTERN int rt_ws_client_send_text(rt_ws_client *c, const char *content,
                                     const char *id);

/*
 * Send one frame as given: in protocol mode a client frame (a JSON
 * object, sent as text, at most once; a "typing", a "presence" request,
 * the /raw of a chat); in raw mode text (|binary| 0) or binary data.
 *
 * Returns 0 (queued), RT_EINVAL (NULL data with a length, a binary frame
 * in protocol mode), RT_EFULL or RT_ESTATE, as rt_ws_client_send_text().
 * Ownership: |data| is copied.
 */
RT_EXTERN int rt_ws_client_send(rt_ws_client *c, int binary, const void *data,
                                size_t len);

/*
 * Stop: send a close frame (1000) on an open connection, drop a pending
 * reconnection.  Asynchronous: on_ack("closed") for every message still
 * waiting, on_state(RT_CONN_CLOSED, err 0) and on_closed fire on a later loop
 * turn.  Calling it again, or after the client stopped by itself, does
 * nothing.  rt_ws_client_close(NULL) is a no-op.
 *
 * Callbacks: none synchronously; no on_message or on_frame after it.
 */
RT_EXTERN void rt_ws_client_close(rt_ws_client *c);

/*
 * End with the close handshake (RFC 6455 5.5.1): the frames queued are
 * written, then a close frame with |code| and |reason|; the frames that
 * arrive before the server's close frame are still delivered, and the
 * client stops once that frame arrives, or 5 s after ours was sent.  No
 * reconnection follows.  Before a connection is open it is
 * rt_ws_client_close().
 *
 * |code| 1000, 1001 to 1014 but 1004, 1005 and 1006, or 3000 to 4999.
 * |reason| UTF-8, at most 123 bytes; NULL for none.
 *
 * Returns 0, RT_EINVAL (a bad code, a reason too long) or RT_ESTATE
 * (closing or ending already).
 * Callbacks: on_control(RT_WS_CLOSE_RECEIVED) when the server answers,
 * then on_state(RT_CONN_CLOSED, err 0) and on_closed on later turns.
 */
RT_EXTERN int rt_ws_client_end(rt_ws_client *c, unsigned code,
                               const char *reason);

/*
 * Send a ping with |data| (at most 125 bytes, copied) on the open
 * connection; the pong comes through on_control.
 *
 * Returns 0, RT_EINVAL (too long) or RT_ESTATE (no open connection,
 * closing).
 * Callbacks: on_control(RT_WS_PING_SENT) when it is written.
 */
RT_EXTERN int rt_ws_client_ping(rt_ws_client *c, const void *data, size_t len);

/*
 * Describe the last failure: "close 1008 (invalid token)", "HTTP 404",
 * "connection refused", "no frame or pong for 10000 ms".
 *
 * Returns a NUL-terminated string, "" when nothing failed yet; the
 * client's, valid until the next callback.
 */
RT_EXTERN const char *rt_ws_client_errmsg(const rt_ws_client *c);

/*
 * The close code of the last closed connection: the code the server sent,
 * 1006 when the connection ended without one, 0 before any.
 */
RT_EXTERN unsigned rt_ws_client_close_code(const rt_ws_client *c);

/* Count the failed attempts since the last reset of the backoff. */
RT_EXTERN uint32_t rt_ws_client_attempt(const rt_ws_client *c);

/*
 * The URL of the attempt in flight, or of the next one during BACKOFF
 * (|url| or one of opts.failover_urls, normalised; without the since and
 * epoch the client adds), and its index in that list (0: |url|).  The
 * string is the client's, valid until it is freed.
 */
RT_EXTERN const char *rt_ws_client_url(const rt_ws_client *c);
RT_EXTERN size_t rt_ws_client_url_index(const rt_ws_client *c);

/* Count the connections that opened, the first one included. */
RT_EXTERN uint32_t rt_ws_client_connections(const rt_ws_client *c);

/*
 * The position a reconnection resumes from: |*seq| the last seq delivered
 * (or the since given), |*epoch| the room epoch, "" when unknown; either
 * may be NULL.
 *
 * Returns 1 when a position is known, 0 otherwise.
 */
RT_EXTERN int rt_ws_client_position(const rt_ws_client *c, uint64_t *seq,
                                    const char **epoch);

/* The user the server knows this client as ("" before a welcome). */
RT_EXTERN const char *rt_ws_client_user(const rt_ws_client *c);

/* Messages queued or waiting for their ack. */
RT_EXTERN size_t rt_ws_client_pending(const rt_ws_client *c);

#ifdef __cplusplus
}
#endif

#endif /* RT_WS_CLIENT_H */
