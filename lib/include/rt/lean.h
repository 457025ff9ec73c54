/*
 * rt/lean.h: the lean connection engine, for programs that hold tens of
 * thousands of connections on one libuv loop (`rtctl load`).
 *
 * rt_ws_client and rt_sse_client carry a reconnecting client's state (the
 * order buffer, the outgoing queue, timers) or a curl handle per
 * connection: 44 KiB and 38 KiB of client RSS for an idle connection
 * (tests/bench/idle_cost.c; the WebSocket figure was 71 KiB on
 * libwebsockets).  This engine keeps a connection to
 * a uv_tcp_t and a few counters: every read lands in one buffer shared by
 * the whole loop, frames and events are parsed where they lie (rt/ws_codec.h,
 * rt/http_resp.h, rt/sse_parser.h), and only the unparsed tail of a read is
 * kept, on the heap, until the rest arrives.
 *
 * A connection is one attempt: TCP connect, the HTTP request (a WebSocket
 * upgrade, an SSE GET, or a sequence of long-poll GETs on one keep-alive
 * connection), then messages until it ends; on_close reports how.
 * Reconnecting, resuming and pacing are the caller's: it knows its position.
 *
 * TLS (wss://, https://) goes through OpenSSL memory BIOs over the same
 * streams, one SSL_CTX per engine (rt_lean_tls()).
 *
 * Limits: WebSocket messages must fit one frame of at most max_message
 * bytes (fragmented messages are refused with 1003: the rtctl server
 * never fragments).
 *
 * Threads: everything runs on the loop thread.
 */
#ifndef RT_LEAN_H
#define RT_LEAN_H

#include <stddef.h>
#include <stdint.h>

#include "rt/export.h"
#include "rt/sse_parser.h"

#ifdef __cplusplus
extern "C" {
#endif

struct uv_loop_s;
struct sockaddr;

typedef struct rt_lean rt_lean;
typedef struct rt_lean_conn rt_lean_conn;

typedef enum rt_lean_kind {
    RT_LEAN_WS,
    RT_LEAN_SSE,
    RT_LEAN_POLL
} rt_lean_kind;

/* How a connection ended: the phase it reached and the cause. */
typedef struct rt_lean_end {
    int err;            /* 0 after rt_lean_conn_close(); else RT_E* */
    int sys;            /* the libuv error (negative) when there was one */
    int status;         /* HTTP status of a refused request, else 0 */
    unsigned code;      /* WebSocket close code received, else 0 */
    int opened;         /* 1 when the connection got past its handshake */
    const char *detail; /* a sentence; valid during the callback */
} rt_lean_end;

typedef struct rt_lean_cbs {
    /* The handshake finished (101, or the 200 head of SSE and poll). */
    void (*on_open)(rt_lean_conn *c, void *ud);
    /* WebSocket: one text or binary message, NUL not added. */
    void (*on_ws)(rt_lean_conn *c, int binary, const char *data, size_t len,
                  void *ud);
    /* SSE: one dispatched event. */
    void (*on_sse)(rt_lean_conn *c, const rt_sse_event *ev, void *ud);
    /* Long poll: one whole 2xx response body, NUL-terminated; the next
       request goes out when rt_lean_poll_next() is called. */
    void (*on_poll)(rt_lean_conn *c, const char *body, size_t len, void *ud);
    /* The connection is gone; |c| may be started again from here on. */
    void (*on_close)(rt_lean_conn *c, const rt_lean_end *end, void *ud);
} rt_lean_cbs;

typedef struct rt_lean_stats {
    uint64_t bytes_in, bytes_out;
    uint64_t frames_in;   /* WebSocket frames, SSE events, poll bodies */
    uint64_t pings;       /* pings answered */
    uint64_t sse_retries; /* SSE retry: fields (not events) */
} rt_lean_stats;

/*
 * Make an engine on |loop| that reads into one buffer of |rbuf_size|
 * bytes (0: 64 KiB), refuses incoming messages over |max_message| (0:
 * 1 MiB) and calls |cbs| with |ud|.
 *
 * Returns 0, RT_ENOMEM, RT_EINVAL.
 * Ownership: free with rt_lean_free() once every connection is closed.
 */
RT_EXTERN int rt_lean_new(rt_lean **out, struct uv_loop_s *loop,
                          size_t rbuf_size, size_t max_message,
                          const rt_lean_cbs *cbs, void *ud);

/* rt_lean_free(NULL) is a no-op. */
RT_EXTERN void rt_lean_free(rt_lean *e);

/*
 * Make every connection started from now on use TLS: trust the PEM file
 * |cacert| (NULL: the system's store), check the certificate against
 * |server_name| (a host name, also sent as SNI, or an IP address) unless
 * |insecure|.  |err| says why it failed.
 *
 * Returns 0, RT_EINVAL, RT_ENOMEM, RT_ETLS (|cacert| unreadable).
 * A certificate that fails the check ends its connection: on_close with
 * err RT_ETLS and a detail naming the reason.
 */
RT_EXTERN int rt_lean_tls(rt_lean *e, const char *server_name,
                          const char *cacert, int insecure, char *err,
                          size_t errlen);

/*
 * Bind the connections started from now on to the |n| source addresses
 * |addrs| (IPv4 or IPv6, port 0), taken in turn, so that more connections
 * fit than one address's ephemeral ports allow (a connection is a
 * 4-tuple).  n == 0: the system chooses.  The addresses are copied.
 *
 * Returns 0, RT_EINVAL, RT_ENOMEM.  An address that cannot be bound
 * fails each connection given it (on_close, RT_ECONNREFUSED, sys the
 * libuv error).
 */
RT_EXTERN int rt_lean_sources(rt_lean *e, const struct sockaddr *const *addrs,
                              size_t n);

/* Counters over every connection of |e|. */
RT_EXTERN const rt_lean_stats *rt_lean_stats_get(const rt_lean *e);

/* Size of an rt_lean_conn, for callers that embed one. */
RT_EXTERN size_t rt_lean_conn_size(void);

/*
 * Start connection |c| (rt_lean_conn_size() bytes of the caller's
 * memory, zeroed before its first start) to |addr|, for |kind|, with
 * request target |target| (path and query), Host |host|, and |extra|
 * header lines (each ending in CRLF) or NULL.  |target| and |extra| are
 * copied.  |ud| is handed to the callbacks of this connection.
 *
 * Returns 0, RT_ENOMEM, RT_EINVAL, RT_ESTATE (still running), or a
 * connect failure reported at once (RT_ECONNREFUSED for descriptor or
 * port exhaustion too; rt_lean_last_sys() says which).
 * Callbacks: none synchronously.
 */
RT_EXTERN int rt_lean_conn_start(rt_lean *e, rt_lean_conn *c,
                                 rt_lean_kind kind,
                                 const struct sockaddr *addr, const char *host,
                                 const char *target, const char *extra,
                                 void *ud);

/* The libuv error of the last synchronous failure of conn_start. */
RT_EXTERN int rt_lean_last_sys(const rt_lean *e);

/* 1 between start and on_close. */
RT_EXTERN int rt_lean_conn_active(const rt_lean_conn *c);

/* 1 once the handshake finished, until on_close. */
RT_EXTERN int rt_lean_conn_open(const rt_lean_conn *c);

/*
 * Send one WebSocket text message (masked with a fresh key).
 *
 * Returns 0, RT_ESTATE (not open), RT_ENOMEM, RT_ECLOSED (write failed;
 * on_close follows).
 */
RT_EXTERN int rt_lean_ws_send(rt_lean_conn *c, const char *data, size_t len);

/*
 * Long poll: send the next request, to |target| (copied).
 * Returns as rt_lean_ws_send().
 */
RT_EXTERN int rt_lean_poll_next(rt_lean_conn *c, const char *target);

/*
 * End |c|: a WebSocket sends close |code| (0: 1000) first.  on_close
 * follows on a later loop turn with err 0.  No-op when not active.
 */
RT_EXTERN void rt_lean_conn_close(rt_lean_conn *c, unsigned code);

/*
 * Drop |c| at once (no close frame), as a vanished peer would; on_close
 * follows with err 0.
 */
RT_EXTERN void rt_lean_conn_abort(rt_lean_conn *c);

#ifdef __cplusplus
}
#endif

#endif /* RT_LEAN_H */
