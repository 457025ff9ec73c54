/*
 * net_int.h: declarations shared by the files of lib/net and nothing else.
 */
#ifndef RT_NET_INT_H
#define RT_NET_INT_H

#include <stdint.h>

#include <curl/curl.h>
#include <uv.h>

#include "core_int.h"
#include "failover.h"
#include "rt/backoff.h"
#include "rt/loop.h"

/*
 * A transfer on the loop's multi handle.  The easy handle's CURLOPT_PRIVATE
 * points at this; the loop calls done() once curl reports the transfer
 * finished, outside every curl callback, and done() removes the handle.
 */
typedef struct rt__xfer {
    void (*done)(struct rt__xfer *x, CURLcode res);
} rt__xfer;

uv_loop_t *rt__loop_uv(rt_loop *l);

/* Add |easy| (whose CURLOPT_PRIVATE is an rt__xfer); 0 or RT_ENOMEM. */
int rt__loop_add(rt_loop *l, CURL *easy);

/*
 * Remove |easy| from the multi handle.  Never from inside a curl callback:
 * make the callback fail instead, and remove the handle in done().
 */
void rt__loop_remove(rt_loop *l, CURL *easy);

/* A uniformly random 32-bit value for the backoff jitter. */
uint32_t rt__loop_rand32(rt_loop *l);

/* Helpers the HTTP clients share (loop.c). */
/* 1 when |s| (|len| bytes) starts with the lower-case |p|, ignoring case. */
int rt__net_ieq_prefix(const char *s, size_t len, const char *p);
/* Trim |s|..|len| of spaces, tabs and the line end, into |out|. */
void rt__net_copy_value(char *out, size_t outlen, const char *s, size_t len);
/* 1 when a header value holds no CR or LF (no header injection). */
int rt__net_header_safe(const char *s);
/*
 * What every HTTP request of the library sets the same way (the SSE and
 * long-poll clients, publish): rt__net_easy_new() makes the easy handle.
 */
typedef struct rt__easy_opts {
    const char *url;
    rt__xfer *xfer; /* CURLOPT_PRIVATE */
    const struct curl_slist *headers;
    curl_write_callback on_header; /* with |ud| */
    curl_write_callback on_write;  /* with |ud| */
    void *ud;
    char *errbuf; /* CURL_ERROR_SIZE bytes */
    uint64_t connect_timeout_ms;
    uint64_t timeout_ms;                     /* the whole transfer; 0: none */
    long max_redirects;                      /* 0: a redirect is an answer */
    const char *cacert, *cert, *key, *proxy; /* NULL: curl's default */
    int insecure;
} rt__easy_opts;
/* A configured easy handle, not yet on the loop; NULL on no memory. */
CURL *rt__net_easy_new(const rt__easy_opts *o);
/* The RT_E* code for a libcurl transfer result. */
int rt__net_map_curl(CURLcode res);
/* Count |headers| ("Name: value", NULL-terminated); -1 if one is bad. */
long rt__net_headers_check(const char *const *headers);
/* 1 when |s| (|len| bytes) is a room epoch: 1 to 32 of [A-Za-z0-9]. */
int rt__net_epoch_valid(const char *s, size_t len);
#define RT__EPOCH_MAX 32
/*
 * After a failed attempt or a drop: move |f| to its next URL and put the
 * wait before it into *delay_ms (0 within a round, failover.h), or return
 * RT_EEXHAUSTED once the retries allowed are spent; |errmsg| (the last
 * failure) then becomes "gave up after N retries: <the last failure>".
 */
int rt__net_next_delay(rt_loop *l, rt__failover *f, char *errmsg,
                       size_t errlen, uint64_t *delay_ms);

/*
 * The libwebsockets context the WebSocket clients of a loop share
 * (ws_ctx.c).  The loop holds it in a slot and tears it down in
 * rt_loop_free(): phase 1 closes lws's handles (the loop must run after
 * it), phase 2 frees the rest.
 */
#define RT__WS_PROTOCOL "rtctl-ws-client"
struct lws_vhost;
struct lws_context;
struct rt__ws_ctx;
struct rt__ws_ctx **rt__loop_ws_slot(rt_loop *l);
/*
 * What a client vhost is made of (TLS trust and identity, the proxy are
 * per vhost in lws); any field may be NULL: the system's store, no client
 * certificate, no proxy.
 */
struct rt__ws_vhost_key {
    const char *cacert, *cert, *key, *proxy;
    int compress; /* offer permessage-deflate */
};
/* The vhost for |k|; 0, RT_ENOMEM, RT_ETLS, RT_EINVAL, RT_ESTATE. */
int rt__loop_ws_vhost(rt_loop *l, const struct rt__ws_vhost_key *k,
                      struct lws_context **ctx, struct lws_vhost **out);
void rt__ws_ctx_destroy(struct rt__ws_ctx *w, int phase);

#endif /* RT_NET_INT_H */
