/*
 * poll_client.c: the resumable long-polling client (rt/poll_client.h) on
 * libcurl's multi interface.
 *
 * Spec: PROTOCOL.md sections 1 (GET /poll/{room}?since=N&epoch=E&timeout=S
 * and its answer), 4 (resume, epochs, ordering) and 5 (which statuses stop
 * a client), with the delays of rt/backoff.h and RFC 9110 Retry-After.
 *
 * One easy handle per poll, built like the SSE client's: the header
 * callback records the status line and Retry-After, the write callback
 * feeds the body to the protocol core (lib/core/poll_proto.c, which bounds
 * it), done() removes the handle, has the core judge the answer and
 * deliver its messages, and polls again, or waits, or stops.
 *
 * The loop, the backoff, the retry timer, the state and the order of
 * closing are the client base's (client.c).
 *
 * Invariants:
 * - c->easy is non-NULL exactly while a transfer is on the multi handle.
 * - Once c->b.closing is set no on_message fires, the transfer is ended at
 *   the first chance, and the base finalizes: CLOSED, then on_closed from
 *   the timer's close callback, then the memory goes.
 * - The position (since, epoch) lives in c->proto alone.
 */
#include <stdio.h>
#include <string.h>

#include "net_int.h"
#include "poll_proto.h"
#include "rt/poll_client.h"
#include "rt/url.h"

struct rt_poll_client {
    rt__client b;  /* first: the base's timers hand back the client */
    rt__xfer xfer; /* done() gets the client back from CURLOPT_PRIVATE */
    struct curl_slist *user_headers; /* the caller's, copied */
    uint32_t poll_timeout_s;
    size_t max_body_bytes;
    rt__poll_proto *proto;
    rt_poll_client_cbs cbs;
    void *ud;

    CURL *easy;
    char *req_url;
    int open; /* an answer arrived since the last CONNECTING */

    /* The attempt in flight. */
    int too_big;
    rt__http_hdrs hdrs;
    char errbuf[CURL_ERROR_SIZE];
};

/* --- the protocol core's callbacks */

static void proto_message(uint64_t seq, const char *json, size_t len, void *ud)
{
    rt_poll_client *c = ud;

    c->cbs.on_message(c, seq, json, len, c->ud);
}

static void proto_lost(void *ud)
{
    rt_poll_client *c = ud;

    if (c->cbs.on_resumed != NULL)
        c->cbs.on_resumed(c, 0, c->ud);
}

/* --- curl callbacks */

static size_t on_header(char *b, size_t size, size_t n, void *ud)
{
    rt_poll_client *c = ud;
    size_t len = size * n;

    if (c->b.closing)
        return 0;
    /* A new response (after a 1xx or a redirect) has a body of its own. */
    if (rt__net_header(&c->hdrs, b, len) == RT__HDR_STATUS)
        rt__poll_proto_begin(c->proto);
    return len;
}

static size_t on_write(char *b, size_t size, size_t n, void *ud)
{
    rt_poll_client *c = ud;
    size_t len = size * n;

    if (c->b.closing)
        return 0;
    switch (rt__poll_proto_feed(c->proto, b, len)) {
    case 0:
        return len;
    case RT_ETOOBIG:
        c->too_big = 1;
        return 0;
    default:
        return 0;
    }
}

/* --- attempts */

/* The URL of the next poll, with since, epoch and timeout set. */
static int poll_url(rt_poll_client *c, char **out)
{
    rt_url *u = NULL;
    const char *epoch;
    uint64_t since;
    char num[24];
    int rc, has_pos = rt__poll_proto_position(c->proto, &since, &epoch);

    if ((rc = rt_url_dup(&u, rt__failover_url(&c->b.fo))) != 0)
        return rc;
    snprintf(num, sizeof(num), "%llu", (unsigned long long)since);
    rc = rt_url_query_set(u, "since", has_pos ? num : NULL);
    if (rc == 0)
        rc = rt_url_query_set(u, "epoch", epoch[0] ? epoch : NULL);
    snprintf(num, sizeof(num), "%u", (unsigned)c->poll_timeout_s);
    if (rc == 0)
        rc = rt_url_query_set(u, "timeout", num);
    if (rc == 0)
        rc = rt_url_format(u, out);
    rt_url_free(u);
    return rc;
}

static int connect_now(rt_poll_client *c)
{
    /* The server answers within the poll timeout; past it, take it dead. */
    rt__easy_opts eo = {.on_header = on_header,
                        .on_write = on_write,
                        .ud = c,
                        .xfer = &c->xfer,
                        .errbuf = c->errbuf,
                        .max_redirects = 10,
                        .timeout_ms =
                            (uint64_t)c->poll_timeout_s * 1000 + 15000};
    char *url = NULL;
    CURL *e;
    int rc;

    if ((rc = poll_url(c, &url)) != 0)
        return rc;
    eo.url = url;
    eo.headers = c->user_headers;
    e = rt__client_easy(&c->b, &eo);
    if (e == NULL) {
        rt_free(url);
        return RT_ENOMEM;
    }
    c->too_big = 0;
    rt__poll_proto_begin(c->proto);
    memset(&c->hdrs, 0, sizeof(c->hdrs));
    c->errbuf[0] = '\0';
    c->easy = e;
    c->req_url = url;
    if ((rc = rt__loop_add(c->b.loop, e)) != 0) {
        c->easy = NULL;
        c->req_url = NULL;
        curl_easy_cleanup(e);
        rt_free(url);
        return rc;
    }
    return 0;
}

/* Take the transfer off the loop and free it. */
static void end_transfer(rt_poll_client *c)
{
    if (c->easy == NULL)
        return;
    rt__loop_remove(c->b.loop, c->easy);
    curl_easy_cleanup(c->easy);
    rt_free(c->req_url);
    c->easy = NULL;
    c->req_url = NULL;
}

static void done(rt__xfer *x, CURLcode res)
{
    rt_poll_client *c = RT__CONTAINER(x, rt_poll_client, xfer);
    long code = 0;
    int err;

    if (c->easy != NULL)
        curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &code);
    end_transfer(c);
    if (c->b.closing)
        return;
    if (c->too_big) {
        rt__client_errf(&c->b, "the poll answer is longer than %zu bytes",
                        c->max_body_bytes);
        rt__client_begin_close(&c->b, RT_ETOOBIG);
        return;
    }
    if (res != CURLE_OK) {
        err = rt__net_map_curl(res);
        rt__client_errf(&c->b, "%s: %s", rt_strerror(err),
                        c->errbuf[0] ? c->errbuf : curl_easy_strerror(res));
        c->open = 0;
        rt__client_retry(&c->b, err,
                         !rt_err_is_retryable(err) && err != RT_ETIMEDOUT,
                         c->hdrs.retry_after);
        return;
    }
    if (code != 200) {
        rt__client_errf(&c->b, "HTTP %ld%s%s", code,
                        c->hdrs.reason[0] ? " " : "", c->hdrs.reason);
        c->open = 0;
        rt__client_retry(&c->b, RT_EHTTP, rt__net_status_final(code),
                         c->hdrs.retry_after);
        return;
    }
    if (!c->open) {
        c->open = 1;
        rt__client_state(&c->b, RT_CONN_OPEN, 0, 0);
        if (c->b.closing)
            return;
    }
    err = rt__poll_proto_end(c->proto, c->b.errmsg, sizeof(c->b.errmsg));
    if (c->b.closing)
        return;
    if (err != 0) {
        rt__client_begin_close(&c->b, err);
        return;
    }
    rt__failover_delivered(&c->b.fo);
    /* The next poll from a fresh loop turn, never from inside done(). */
    rt__client_again(&c->b);
}

/* --- the base's operations */

static void poll_state(rt__client *b, rt_conn_state st, uint64_t delay_ms,
                       int err, const char *detail)
{
    rt_poll_client *c = (rt_poll_client *)b;

    if (c->cbs.on_state != NULL)
        c->cbs.on_state(c, st, delay_ms, err, detail, c->ud);
}

static int poll_connect(rt__client *b)
{
    return connect_now((rt_poll_client *)b);
}

static int poll_stop(rt__client *b)
{
    rt__poll_proto_stop(((rt_poll_client *)b)->proto);
    return 1;
}

static void poll_finalize(rt__client *b)
{
    end_transfer((rt_poll_client *)b);
}

static void poll_free(rt_poll_client *c)
{
    rt__poll_proto_free(c->proto);
    curl_slist_free_all(c->user_headers);
    rt__client_cleanup(&c->b);
    rt__free(c);
}

static void poll_closed(rt__client *b)
{
    rt_poll_client *c = (rt_poll_client *)b;

    if (c->cbs.on_closed != NULL)
        c->cbs.on_closed(c, c->ud);
    poll_free(c);
}

static const rt__client_ops poll_ops = {poll_state,    poll_connect, poll_stop,
                                        poll_finalize, poll_closed,  NULL};

/* --- public */

void rt_poll_client_opts_init(rt_poll_client_opts *o)
{
    if (o == NULL)
        return;
    memset(o, 0, sizeof(*o));
    rt_conn_opts_init(&o->conn);
    o->poll_timeout_s = 25;
    o->max_body_bytes = (size_t)16 << 20;
}

int rt_poll_client_new(rt_poll_client **out, rt_loop *loop, const char *url,
                       const rt_poll_client_opts *o,
                       const rt_poll_client_cbs *cbs, void *ud)
{
    static const char *const accept[] = {"Accept: application/json", NULL};
    rt_poll_client_opts defaults;
    rt__poll_proto_cbs pcbs = {proto_message, proto_lost};
    rt_poll_client *c;
    int rc;

    if (out == NULL)
        return RT_EINVAL;
    *out = NULL;
    if (loop == NULL || url == NULL || cbs == NULL || cbs->on_message == NULL)
        return RT_EINVAL;
    if (o == NULL) {
        rt_poll_client_opts_init(&defaults);
        o = &defaults;
    }
    if (rt__net_headers_check(o->conn.headers) < 0)
        return RT_EINVAL;
    if (o->epoch != NULL && !rt__net_epoch_valid(o->epoch, strlen(o->epoch)))
        return RT_EINVAL;
    if (o->poll_timeout_s > 60 || o->max_body_bytes == 0 ||
        (o->has_since && o->since == UINT64_MAX))
        return RT_EINVAL;
    c = rt__calloc(1, sizeof(*c));
    if (c == NULL)
        return RT_ENOMEM;
    rc = rt__client_init(&c->b, &poll_ops, loop, url, &o->conn,
                         rt__failover_http);
    if (rc != 0) {
        rt__free(c);
        return rc;
    }
    rc = RT_ENOMEM;
    if (rt__net_slist_add(&c->user_headers, o->conn.headers) != 0 ||
        rt__net_slist_add(&c->user_headers, accept) != 0)
        goto fail;
    rc = rt__poll_proto_new(&c->proto, o->has_since, o->since, o->epoch,
                            o->max_body_bytes, &pcbs, c);
    if (rc != 0)
        goto fail;
    c->xfer.done = done;
    c->poll_timeout_s = o->poll_timeout_s;
    c->max_body_bytes = o->max_body_bytes;
    c->cbs = *cbs;
    c->ud = ud;
    rt__client_timers(&c->b, NULL, 0);
    *out = c;
    return 0;

fail:
    poll_free(c);
    return rc;
}

int rt_poll_client_start(rt_poll_client *c)
{
    return c == NULL ? RT_EINVAL : rt__client_start(&c->b);
}

void rt_poll_client_close(rt_poll_client *c)
{
    if (c != NULL)
        rt__client_close(&c->b);
}

const char *rt_poll_client_errmsg(const rt_poll_client *c)
{
    return c == NULL ? "" : c->b.errmsg;
}

uint32_t rt_poll_client_attempt(const rt_poll_client *c)
{
    return c == NULL ? 0 : rt__client_attempt(&c->b);
}

int rt_poll_client_position(const rt_poll_client *c, uint64_t *seq,
                            const char **epoch)
{
    uint64_t since = 0;
    const char *ep = "";
    int has_pos = c != NULL && rt__poll_proto_position(c->proto, &since, &ep);

    if (seq != NULL)
        *seq = since;
    if (epoch != NULL)
        *epoch = ep;
    return has_pos;
}

const char *rt_poll_client_url(const rt_poll_client *c)
{
    return c == NULL ? "" : rt__failover_str(&c->b.fo);
}

size_t rt_poll_client_url_index(const rt_poll_client *c)
{
    return c == NULL ? 0 : c->b.fo.cur;
}
