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
 * Invariants:
 * - c->easy is non-NULL exactly while a transfer is on the multi handle.
 * - Once c->closing is set no on_message fires, the transfer is ended at
 *   the first chance, and the finalize timer reports CLOSED and closes the
 *   timer; on_closed fires from its close callback, then the memory goes.
 * - The retry timer doubles as the finalize timer: a pending poll is
 *   simply replaced.
 * - The position (since, epoch) lives in c->proto alone.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "net_int.h"
#include "poll_proto.h"
#include "rt/poll_client.h"
#include "rt/url.h"

struct rt_poll_client {
    rt__xfer xfer; /* first: done() gets it back from CURLOPT_PRIVATE */
    rt_loop *loop;
    char *cacert;
    struct curl_slist *user_headers; /* the caller's, copied */
    int insecure;
    int no_reconnect;
    uint32_t poll_timeout_s;
    uint64_t connect_timeout_ms;
    size_t max_body_bytes;
    rt__poll_proto *proto;
    rt__failover fo; /* the URLs and the backoff */
    rt_poll_client_cbs cbs;
    void *ud;

    CURL *easy;
    char *req_url;
    uv_timer_t retry_timer; /* next attempt, or finalize */
    int started;
    int closing;
    int open; /* an answer arrived since the last CONNECTING */
    int close_err;

    /* The attempt in flight. */
    int too_big;
    char reason[64];      /* status line text after the code */
    char retry_after[64]; /* the Retry-After value, "" when none */
    char errbuf[CURL_ERROR_SIZE];
    char errmsg[512];
};

static void begin_close(rt_poll_client *c, int err);

static void set_err(rt_poll_client *c, const char *fmt, ...) RT__PRINTF(2, 3);

static void set_err(rt_poll_client *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(c->errmsg, sizeof(c->errmsg), fmt, ap);
    va_end(ap);
}

static void emit_state(rt_poll_client *c, rt_poll_state st, uint64_t delay,
                       int err)
{
    if (c->cbs.on_state != NULL)
        c->cbs.on_state(c, st, delay, err, err != 0 ? c->errmsg : "", c->ud);
}

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
    const char *sp;

    if (c->closing)
        return 0;
    if (rt__net_ieq_prefix(b, len, "http/")) {
        /* A new response (after a 1xx or a redirect). */
        c->retry_after[0] = '\0';
        c->reason[0] = '\0';
        rt__poll_proto_begin(c->proto);
        sp = memchr(b, ' ', len);
        if (sp != NULL)
            sp = memchr(sp + 1, ' ', len - (size_t)(sp + 1 - b));
        if (sp != NULL)
            rt__net_copy_value(c->reason, sizeof(c->reason), sp + 1,
                               len - (size_t)(sp + 1 - b));
        return len;
    }
    if (rt__net_ieq_prefix(b, len, "retry-after:"))
        rt__net_copy_value(c->retry_after, sizeof(c->retry_after), b + 12,
                           len - 12);
    return len;
}

static size_t on_write(char *b, size_t size, size_t n, void *ud)
{
    rt_poll_client *c = ud;
    size_t len = size * n;

    if (c->closing)
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

    if ((rc = rt_url_dup(&u, rt__failover_url(&c->fo))) != 0)
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
    rt__easy_opts eo;
    char *url = NULL;
    CURL *e;
    int rc;

    if ((rc = poll_url(c, &url)) != 0)
        return rc;
    memset(&eo, 0, sizeof(eo));
    eo.url = url;
    eo.xfer = &c->xfer;
    eo.headers = c->user_headers;
    eo.on_header = on_header;
    eo.on_write = on_write;
    eo.ud = c;
    eo.errbuf = c->errbuf;
    eo.connect_timeout_ms = c->connect_timeout_ms;
    /* The server answers within the poll timeout; past it, take it dead. */
    eo.timeout_ms = (uint64_t)c->poll_timeout_s * 1000 + 15000;
    eo.max_redirects = 10;
    eo.cacert = c->cacert;
    eo.insecure = c->insecure;
    e = rt__net_easy_new(&eo);
    if (e == NULL) {
        rt_free(url);
        return RT_ENOMEM;
    }
    c->too_big = 0;
    rt__poll_proto_begin(c->proto);
    c->reason[0] = c->retry_after[0] = c->errbuf[0] = '\0';
    c->easy = e;
    c->req_url = url;
    if ((rc = rt__loop_add(c->loop, e)) != 0) {
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
    rt__loop_remove(c->loop, c->easy);
    curl_easy_cleanup(c->easy);
    rt_free(c->req_url);
    c->easy = NULL;
    c->req_url = NULL;
}

static void start_attempt(rt_poll_client *c, int announce)
{
    int rc = connect_now(c);

    if (rc != 0) {
        set_err(c, "cannot start a request: %s", rt_strerror(rc));
        begin_close(c, rc);
        return;
    }
    if (announce)
        emit_state(c, RT_POLL_CONNECTING, 0, 0);
}

static void on_retry(uv_timer_t *t)
{
    start_attempt(t->data, 1);
}

static void on_next(uv_timer_t *t)
{
    start_attempt(t->data, 0);
}

/* The attempt failed with |err| (c->errmsg says how): wait, or stop. */
static void failed(rt_poll_client *c, int err, int final)
{
    uint64_t delay = 0;

    if (final || (c->no_reconnect && !rt__failover_untried(&c->fo))) {
        begin_close(c, err);
        return;
    }
    if (c->retry_after[0] != '\0')
        rt_backoff_retry_after(&c->fo.backoff, c->retry_after,
                               strlen(c->retry_after), (int64_t)time(NULL));
    if (rt__net_next_delay(c->loop, &c->fo, c->errmsg, sizeof(c->errmsg),
                           &delay) != 0) {
        begin_close(c, RT_EEXHAUSTED);
        return;
    }
    c->open = 0;
    emit_state(c, RT_POLL_BACKOFF, delay, err);
    if (!c->closing)
        uv_timer_start(&c->retry_timer, on_retry, delay, 0);
}

static void done(rt__xfer *x, CURLcode res)
{
    rt_poll_client *c = (rt_poll_client *)x;
    long code = 0;
    int err;

    if (c->easy != NULL)
        curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &code);
    end_transfer(c);
    if (c->closing)
        return;
    if (c->too_big) {
        set_err(c, "the poll answer is longer than %zu bytes",
                c->max_body_bytes);
        begin_close(c, RT_ETOOBIG);
        return;
    }
    if (res != CURLE_OK) {
        err = rt__net_map_curl(res);
        set_err(c, "%s: %s", rt_strerror(err),
                c->errbuf[0] ? c->errbuf : curl_easy_strerror(res));
        failed(c, err, !rt_err_is_retryable(err) && err != RT_ETIMEDOUT);
        return;
    }
    if (code != 200) {
        set_err(c, "HTTP %ld%s%s", code, c->reason[0] ? " " : "", c->reason);
        failed(c, RT_EHTTP,
               code == 400 || code == 401 || code == 403 || code == 404 ||
                   code == 405);
        return;
    }
    if (!c->open) {
        c->open = 1;
        emit_state(c, RT_POLL_OPEN, 0, 0);
        if (c->closing)
            return;
    }
    err = rt__poll_proto_end(c->proto, c->errmsg, sizeof(c->errmsg));
    if (c->closing)
        return;
    if (err != 0) {
        begin_close(c, err);
        return;
    }
    rt__failover_delivered(&c->fo);
    /* The next poll from a fresh loop turn, never from inside done(). */
    uv_timer_start(&c->retry_timer, on_next, 0, 0);
}

/* --- closing */

static void on_handle_closed(uv_handle_t *h)
{
    rt_poll_client *c = h->data;

    if (c->cbs.on_closed != NULL)
        c->cbs.on_closed(c, c->ud);
    rt__poll_proto_free(c->proto);
    curl_slist_free_all(c->user_headers);
    rt__free(c->cacert);
    rt__failover_cleanup(&c->fo);
    rt__free(c);
}

static void on_finalize(uv_timer_t *t)
{
    rt_poll_client *c = t->data;

    end_transfer(c);
    emit_state(c, RT_POLL_CLOSED, 0, c->close_err);
    uv_close((uv_handle_t *)&c->retry_timer, on_handle_closed);
}

static void begin_close(rt_poll_client *c, int err)
{
    if (c->closing)
        return;
    c->closing = 1;
    c->close_err = err;
    rt__poll_proto_stop(c->proto);
    uv_timer_start(&c->retry_timer, on_finalize, 0, 0);
}

/* --- public */

void rt_poll_client_opts_init(rt_poll_client_opts *o)
{
    if (o == NULL)
        return;
    memset(o, 0, sizeof(*o));
    o->poll_timeout_s = 25;
    o->connect_timeout_ms = 10000;
    o->max_body_bytes = (size_t)16 << 20;
    rt_backoff_policy_init(&o->backoff);
}

int rt_poll_client_new(rt_poll_client **out, rt_loop *loop, const char *url,
                       const rt_poll_client_opts *o,
                       const rt_poll_client_cbs *cbs, void *ud)
{
    rt_poll_client_opts defaults;
    rt__poll_proto_cbs pcbs = {proto_message, proto_lost};
    rt_poll_client *c;
    struct curl_slist *n;
    const char *const *hp;
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
    if (rt__net_headers_check(o->headers) < 0)
        return RT_EINVAL;
    if (o->epoch != NULL && !rt__net_epoch_valid(o->epoch, strlen(o->epoch)))
        return RT_EINVAL;
    if (o->poll_timeout_s > 60 || o->max_body_bytes == 0 ||
        (o->has_since && o->since == UINT64_MAX))
        return RT_EINVAL;
    c = rt__calloc(1, sizeof(*c));
    if (c == NULL)
        return RT_ENOMEM;
    rc = rt__failover_init(&c->fo, &o->backoff, o->max_retries, url,
                           o->failover_urls, rt__failover_http, NULL);
    if (rc != 0) {
        rt__free(c);
        return rc;
    }
    rc = RT_ENOMEM;
    if (o->cacert != NULL &&
        (c->cacert = rt__strndup(o->cacert, strlen(o->cacert))) == NULL)
        goto fail;
    for (hp = o->headers; hp != NULL && *hp != NULL; hp++) {
        if ((n = curl_slist_append(c->user_headers, *hp)) == NULL)
            goto fail;
        c->user_headers = n;
    }
    if ((n = curl_slist_append(c->user_headers, "Accept: application/json")) ==
        NULL)
        goto fail;
    c->user_headers = n;
    rc = rt__poll_proto_new(&c->proto, o->has_since, o->since, o->epoch,
                            o->max_body_bytes, &pcbs, c);
    if (rc != 0)
        goto fail;
    c->xfer.done = done;
    c->loop = loop;
    c->insecure = o->insecure;
    c->no_reconnect = o->no_reconnect;
    c->poll_timeout_s = o->poll_timeout_s;
    c->connect_timeout_ms = o->connect_timeout_ms;
    c->max_body_bytes = o->max_body_bytes;
    c->cbs = *cbs;
    c->ud = ud;
    uv_timer_init(rt__loop_uv(loop), &c->retry_timer);
    c->retry_timer.data = c;
    *out = c;
    return 0;

fail:
    rt__poll_proto_free(c->proto);
    curl_slist_free_all(c->user_headers);
    rt__free(c->cacert);
    rt__failover_cleanup(&c->fo);
    rt__free(c);
    return rc;
}

int rt_poll_client_start(rt_poll_client *c)
{
    int rc;

    if (c == NULL)
        return RT_EINVAL;
    if (c->started || c->closing)
        return RT_ESTATE;
    if ((rc = connect_now(c)) != 0)
        return rc;
    c->started = 1;
    emit_state(c, RT_POLL_CONNECTING, 0, 0);
    return 0;
}

void rt_poll_client_close(rt_poll_client *c)
{
    if (c == NULL || c->closing)
        return;
    c->errmsg[0] = '\0';
    begin_close(c, 0);
}

const char *rt_poll_client_errmsg(const rt_poll_client *c)
{
    return c == NULL ? "" : c->errmsg;
}

uint32_t rt_poll_client_attempt(const rt_poll_client *c)
{
    return c == NULL ? 0 : rt_backoff_attempt(&c->fo.backoff);
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
    return c == NULL ? "" : rt__failover_str(&c->fo);
}

size_t rt_poll_client_url_index(const rt_poll_client *c)
{
    return c == NULL ? 0 : c->fo.cur;
}
