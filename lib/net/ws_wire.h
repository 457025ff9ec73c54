/*
 * ws_wire.h: one WebSocket client connection on the rt_loop's libuv loop
 * and the project's own codec (lib/core: rt_http_resp for the answer to
 * the upgrade, rt_ws_parse and rt_ws_frame_build for frames), private.
 *
 * ws_client.c runs each attempt on a wire.  A wire resolves the name, connects
 * (through an HTTP proxy with CONNECT when given one), does TLS through
 * lean_tls.c's memory BIOs, sends the upgrade request, checks the answer,
 * and then moves frames: every frame the server sends is seen here, the
 * server's pings included (libwebsockets 4.1 answers those inside its
 * parser and tells no one, which is why this file exists).
 *
 * Lifecycle: rt__wire_start(), callbacks, and on_end once, always from
 * the loop and never from inside a call of the caller's; the wire is
 * freed after on_end returns.  rt__wire_kill() and
 * rt__wire_close_after_flush() end it early; on_end still follows.
 */
#ifndef RT_WS_WIRE_H
#define RT_WS_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

struct rt__lean_tls;

typedef struct rt__wire rt__wire;

/* Why an attempt failed before or during the upgrade (on_fail's |kind|). */
enum rt__wire_fail {
    RT__WIRE_DNS = 1,   /* the name did not resolve */
    RT__WIRE_CONNECT,   /* TCP connect failed at every address */
    RT__WIRE_PROXY,     /* the proxy refused the tunnel or broke it */
    RT__WIRE_TLS,       /* the TLS handshake failed */
    RT__WIRE_TLS_CERT,  /* ... because the certificate was not trusted */
    RT__WIRE_HTTP,      /* an HTTP answer other than 101 (|status|) */
    RT__WIRE_HANDSHAKE, /* a 101 that is wrong, a malformed answer */
    RT__WIRE_PROTO,     /* a frame that breaks RFC 6455 (1002 sent) */
    RT__WIRE_TOOBIG,    /* a frame over max_frame (1009 sent) */
    RT__WIRE_NOMEM
};

typedef struct rt__wire_cbs {
    /*
     * The attempt failed; |status| and |location| (NULL when absent) for
     * RT__WIRE_HTTP; |detail| a phrase.  on_end follows.
     */
    void (*on_fail)(void *ud, int kind, unsigned status, const char *location,
                    const char *detail);
    void (*on_open)(void *ud); /* upgraded */
    /*
     * A data frame's payload: |first| 1 on a message's first frame,
     * |fin| 1 on its last, |binary| the message's type.
     */
    void (*on_data)(void *ud, int first, int fin, int binary, const char *p,
                    size_t len);
    void (*on_ping)(void *ud, const char *p, size_t len); /* answered */
    void (*on_pong)(void *ud, const char *p, size_t len);
    /*
     * The server's close frame (|code| 1005 when it had none).  The wire
     * answers it (echoing the code) unless a close frame of ours already
     * went out, then ends the connection.
     */
    void (*on_close)(void *ud, unsigned code, const char *reason, size_t len);
    /* rt__wire_want_write() was called and frames may be queued now. */
    void (*on_writable)(void *ud);
    /* The last call: the connection is gone; the wire is freed after. */
    void (*on_end)(void *ud);
} rt__wire_cbs;

typedef struct rt__wire_cfg {
    const char *host; /* the server, as in the URL */
    int port;
    /* "[user:pass@]host:port" of an HTTP proxy to CONNECT through; NULL */
    const char *proxy;
    struct rt__lean_tls *tls; /* NULL: plain TCP; the caller's, outlives it */
    const char *target;       /* the request target: path and query */
    const char *host_hdr;     /* the Host header's value */
    const char *origin;       /* NULL: none */
    const char *subprotocols; /* offered, "a, b"; NULL: none */
    char *const *headers;     /* "Name: value", NULL-terminated; or NULL */
    uint64_t max_frame;       /* longest payload of one frame */
    int deflate;              /* 1: offer permessage-deflate (RFC 7692) */
    /*
     * where reads land, RT__LOOP_RBUF bytes, shared by every wire of the
     * loop (rt__loop_rbuf())
     */
    char *rbuf;
} rt__wire_cfg;

/*
 * Start an attempt; |cfg| is copied (its strings too), but |tls| and
 * |headers| are the caller's and must outlive the wire.
 * Returns 0 or RT_ENOMEM (nothing started, no callback).
 */
int rt__wire_start(rt__wire **out, uv_loop_t *loop, const rt__wire_cfg *cfg,
                   const rt__wire_cbs *cbs, void *ud);

/* Call on_writable on a later loop turn, once the connection is open and
 * what is queued went out. */
void rt__wire_want_write(rt__wire *w);

/*
 * Send one frame (masked): |opcode| RT_WS_OP_TEXT, _BINARY, _PING,
 * _CLOSE.  Returns 0, RT_ESTATE (not open, or ending), RT_ENOMEM.
 */
int rt__wire_send(rt__wire *w, unsigned opcode, const void *p, size_t len);

/* End once what is queued is written (after our close frame). */
void rt__wire_close_after_flush(rt__wire *w);

/* End now, dropping the connection. */
void rt__wire_kill(rt__wire *w);

/* The subprotocol the server chose ("" for none), once open. */
const char *rt__wire_subprotocol(const rt__wire *w);

#endif /* RT_WS_WIRE_H */
