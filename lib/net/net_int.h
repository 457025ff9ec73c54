/*
 * net_int.h: declarations shared by the files of lib/net and nothing else.
 */
#ifndef RT_NET_INT_H
#define RT_NET_INT_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <uv.h>

#include "core_int.h"
#include "failover.h"
#include "rt/backoff.h"
#include "rt/conn.h"
#include "rt/loop.h"

/*
 * A transfer on the loop's multi handle.  The easy handle's CURLOPT_PRIVATE
 * points at this; the loop calls done() once curl reports the transfer
 * finished, outside every curl callback, and done() removes the handle.
 */
typedef struct rt__xfer {
    void (*done)(struct rt__xfer *x, CURLcode res);
} rt__xfer;

/* The struct of type |type| whose member |member| |p| points at. */
#define RT__CONTAINER(p, type, member) \
    ((type *)(void *)((char *)(p)-offsetof(type, member)))

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

/* The loop's read buffer (RT__LOOP_RBUF bytes) for ws_wire.c; NULL: no
 * memory. */
#define RT__LOOP_RBUF ((size_t)64 << 10)
char *rt__loop_rbuf(rt_loop *l);

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
/*
 * Append each of |headers| (NULL-terminated, may be NULL) to *|list|.
 * Returns 0 or RT_ENOMEM (*|list| keeps what was appended).
 */
int rt__net_slist_add(struct curl_slist **list, const char *const *headers);
/*
 * What the header lines of an HTTP answer say that the clients act on,
 * read by rt__net_header() line by line from a curl header callback.
 */
typedef struct rt__http_hdrs {
    char reason[64];      /* status line text after the code */
    char retry_after[64]; /* the Retry-After value, "" when none */
    char location[256];   /* the Location value, "" when none */
} rt__http_hdrs;
enum {
    RT__HDR_STATUS, /* a status line: a new answer (after a 1xx, a hop) */
    RT__HDR_FIELD,  /* a header field */
    RT__HDR_END     /* the blank line that ends an answer's headers */
};
/* Take one header line (|len| bytes, its line end included). */
int rt__net_header(rt__http_hdrs *h, const char *line, size_t len);
/*
 * 1 for the HTTP statuses a client stops on instead of retrying
 * (PROTOCOL.md 5): 400, 401, 403, 404, 405.
 */
int rt__net_status_final(long code);
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
 * The part of the three clients (ws, sse, poll) that is the same: the
 * loop, the URLs and the backoff, the connection options, the retry
 * timer, the started and closing state, the failure of the attempt and
 * its detail, the state callback, and the order in which a client closes
 * (client.c).  Each client embeds it as its first member, so that the
 * base's timers hand back the client; the client's |ops| do what differs.
 *
 * The life of a client:
 * - rt__client_init() in its constructor, rt__client_timers() once
 *   nothing can fail any more (an initialised timer must be closed);
 * - rt__client_start(): ops->connect(), then CONNECTING;
 * - an attempt that failed: rt__client_retry(), which waits (BACKOFF,
 *   then ops->connect() from the retry timer) or closes;
 * - rt__client_close(): closing is set, ops->stop() ends what is in
 *   flight and says whether to finalize at once; otherwise the client
 *   calls rt__client_finalize() once its attempt is over.  Finalizing
 *   calls ops->finalize(), reports CLOSED, closes the timers, and after
 *   the last close callback ops->closed() calls on_closed and frees.
 */
typedef struct rt__client rt__client;
typedef struct rt__client_ops {
    /* the caller's on_state, with the public handle (may be absent) */
    void (*state)(rt__client *b, rt_conn_state st, uint64_t delay_ms, int err,
                  const char *detail);
    /* start an attempt now: 0, or an RT_E* code when none started */
    int (*connect)(rt__client *b);
    /* the client is closing: 1 to finalize on the next loop turn */
    int (*stop)(rt__client *b);
    /* before CLOSED is reported (may be NULL) */
    void (*finalize)(rt__client *b);
    /* every handle is closed: on_closed, then free the client */
    void (*closed)(rt__client *b);
    /* the failover moved to another URL (may be NULL): 0 or an RT_E* */
    int (*moved)(rt__client *b);
} rt__client_ops;

#define RT__CLIENT_TIMERS 3
struct rt__client {
    const rt__client_ops *ops;
    rt_loop *loop;
    rt__failover fo; /* the URLs and the backoff */
    /* rt_conn_opts, copied; headers stay each client's (curl or wire) */
    char *cacert, *cert, *key, *proxy;
    int insecure, no_reconnect;
    uint64_t connect_timeout_ms;
    uv_timer_t retry_timer;                /* next attempt, or finalize */
    uv_timer_t *timers[RT__CLIENT_TIMERS]; /* the client's own */
    int ntimers, handles;
    int started, closing, finalized;
    int close_err;
    int fail_err, fail_final; /* what ended the attempt, when known */
    char errmsg[512];
};

/*
 * Set up |b| from |o| for |url| (and o->failover_urls, each taken by
 * |accept|).  Returns 0, RT_EINVAL, RT_EURL or RT_ENOMEM; on error |b|
 * holds nothing to clean up.
 */
int rt__client_init(rt__client *b, const rt__client_ops *ops, rt_loop *loop,
                    const char *url, const rt_conn_opts *o,
                    rt__failover_accept accept);
/* Free what rt__client_init() took, before the timers exist. */
void rt__client_cleanup(rt__client *b);
/* Initialise the retry timer and the client's |n| own (data: |b|). */
void rt__client_timers(rt__client *b, uv_timer_t **t, int n);
uint64_t rt__client_now(rt__client *b);
/* Set the detail of the last failure. */
void rt__client_errf(rt__client *b, const char *fmt, ...) RT__PRINTF(2, 3);
/*
 * The attempt failed with |err|, for the reason |fmt| gives.  The first
 * failure of an attempt is its cause: what follows from it (the socket
 * closing, a timer firing on a dead connection) changes neither the code
 * nor the detail, so the two always describe the same failure.
 */
void rt__client_fail(rt__client *b, int err, int final, const char *fmt, ...)
    RT__PRINTF(4, 5);
/* A new attempt: no failure recorded yet. */
void rt__client_attempt_begins(rt__client *b);
/* Report |st| (the detail is the last failure's when |err| is not 0). */
void rt__client_state(rt__client *b, rt_conn_state st, uint64_t delay_ms,
                      int err);
int rt__client_start(rt__client *b);
/*
 * The attempt failed with |err| (b->errmsg says how): close when |final|,
 * or when told not to reconnect and every URL was tried; else wait the
 * backoff delay, at least |retry_after| (a Retry-After value, NULL or ""
 * for none), and connect again.
 */
void rt__client_retry(rt__client *b, int err, int final,
                      const char *retry_after);
/*
 * The next attempt of a connection that is up (a long poll after an
 * answer), from a fresh loop turn, with no CONNECTING.
 */
void rt__client_again(rt__client *b);
/* Close with |err| (0: a clean stop); nothing after the first call. */
void rt__client_begin_close(rt__client *b, int err);
/* The caller's close: rt__client_begin_close(b, 0), the detail cleared. */
void rt__client_close(rt__client *b);
/* Report CLOSED and close the timers; once. */
void rt__client_finalize(rt__client *b);
uint32_t rt__client_attempt(const rt__client *b);
/* rt__net_easy_new() with |eo|'s connection options taken from |b|. */
CURL *rt__client_easy(const rt__client *b, rt__easy_opts *eo);

#endif /* RT_NET_INT_H */
