/*
 * rt/conn.h: what the three reconnecting clients (rt/ws_client.h,
 * rt/sse_client.h, rt/poll_client.h) share: the options of the connection
 * and its states.
 *
 * Each client's options embed an rt_conn_opts as their member |conn|, so a
 * tool fills the connection once (its URLs, headers, TLS, proxy, backoff)
 * and hands it to whichever client it runs; each client reports its state
 * with the same rt_conn_state.
 *
 * Threads: plain data, no calls but rt_conn_opts_init().
 */
#ifndef RT_CONN_H
#define RT_CONN_H

#include <stdint.h>

#include "rt/backoff.h"
#include "rt/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The states every client goes through, reported by its on_state. */
typedef enum rt_conn_state {
    RT_CONN_CONNECTING, /* an attempt is on its way */
    RT_CONN_OPEN,       /* the connection carries messages */
    RT_CONN_BACKOFF,    /* waiting delay_ms before the next attempt */
    RT_CONN_CLOSED      /* stopped for good; on_closed follows */
} rt_conn_state;

typedef struct rt_conn_opts {
    /*
     * extra request headers, "Name: value", NULL-terminated; copied (the
     * WebSocket client refuses some, see rt_ws_client_header_owned())
     */
    const char *const *headers;
    const char *cacert; /* PEM bundle to trust instead of the system's */
    int insecure;       /* 1: skip TLS certificate checks */
    const char *cert;   /* PEM client certificate for TLS; NULL none */
    const char *key;    /* its PEM private key; NULL: in |cert| */
    /*
     * proxy URL; NULL: from the environment as curl reads it
     * (http_proxy, https_proxy, ALL_PROXY, NO_PROXY); "": none.  The
     * HTTP clients take any URL curl takes (CURLOPT_PROXY); the WebSocket
     * client an HTTP proxy, "[http://][user:pass@]host:port", tunnelled
     * through with CONNECT.
     */
    const char *proxy;
    uint64_t connect_timeout_ms; /* TCP + TLS setup; default 10000 */
    /*
     * the delays between attempts (rt_backoff_policy_init() defaults);
     * backoff.max_attempts: rounds of failed attempts in a row before the
     * client gives up with RT_EEXHAUSTED, 0 (the default) unlimited
     */
    rt_backoff_policy backoff;
    int no_reconnect; /* 1: any failure or drop closes the client */
    /*
     * further URLs of the same service, NULL-terminated, copied; NULL:
     * none.  The client starts with its |url| and, after a failed attempt
     * or a dropped connection, moves to the next URL, round robin: at
     * once while some URL of the round is untried, after the backoff
     * delay once every URL failed (the delays and backoff.max_attempts
     * count these rounds).  The resume position goes along (since and
     * epoch, or Last-Event-ID): a server sharing the room's history
     * resumes with recovered 1; one that does not knows another epoch and
     * on_resumed(recovered 0) says so.  An answer the client stops on
     * stops it on any URL.  With no_reconnect, a first connection that
     * fails still tries each URL once, in order (as libpq tries its
     * hosts); a drop after that stops the client.  Each must be of a
     * scheme the client's |url| may be; the other options apply to all.
     */
    const char *const *failover_urls;
} rt_conn_opts;

/*
 * Fill |o| with the defaults: no extra headers, the system CA store, no
 * client certificate, the proxy from the environment, connect timeout
 * 10 s, the backoff defaults (base 1 s, cap 30 s, unlimited attempts),
 * reconnecting, no further URLs.  Each client's opts_init() calls it.
 *
 * Returns nothing.
 * Ownership: |o| stays the caller's.
 */
RT_EXTERN void rt_conn_opts_init(rt_conn_opts *o);

/* "connecting", "open", "backoff", "closed"; "?" for another value. */
RT_EXTERN const char *rt_conn_state_name(rt_conn_state st);

#ifdef __cplusplus
}
#endif

#endif /* RT_CONN_H */
