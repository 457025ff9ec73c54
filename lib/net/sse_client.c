/*
 * sse_client.c: the resumable Server-Sent Events client (rt/sse_client.h)
 * on libcurl's multi interface.
 *
 * Spec: WHATWG HTML, "Server-sent events": the EventSource connection and
 * reconnection rules (Last-Event-ID, retry:, 204 stops, a wrong
 * Content-Type fails), with the delays of rt/backoff.h instead of a fixed
 * reconnection time, and RFC 9110 Retry-After.
 *
 * One easy handle per connection attempt.  The header callback judges the
 * answer once its headers are complete; the write callback feeds the
 * parser.  Neither may remove the handle (curl forbids it from inside its
 * callbacks), so they record what went wrong and return 0, which makes
 * curl end the transfer; done() then removes it and decides between
 * reconnecting and stopping.
 *
 * Invariants:
 * - c->easy is non-NULL exactly while a transfer is on the multi handle.
 * - Once c->closing is set no on_event fires, the transfer is ended at the
 *   first chance, and the finalize timer reports CLOSED and closes both
 *   timers; on_closed fires from the second close callback, then the
 *   memory goes.  Nothing of the client is touched after that.
 * - The retry timer doubles as the finalize timer: a pending reconnection
 *   is simply replaced.
 * - With order_by_seq, c->seq sits between the parser and on_event, and
 *   its position, not the parser's last event ID, is the Last-Event-ID;
 *   the gap timer follows rt__sse_seq_deadline() and outlives
 *   connections, since the held events wait for the replay of the next.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "net_int.h"
#include "rt/sse_client.h"
#include "sse_seq.h"
#include "rt/url.h"

struct rt_sse_client {
    rt__xfer xfer; /* first: done() gets it back from CURLOPT_PRIVATE */
    rt_loop *loop;
    char *cacert;
    char *cert, *key, *proxy;
    struct curl_slist *user_headers; /* the caller's, copied */
    struct curl_slist *req_headers;  /* this attempt's */
    int insecure;
    int no_reconnect;
    int retry_all;
    uint32_t max_redirects;
    uint64_t connect_timeout_ms;
    uint64_t stall_timeout_ms;
    rt_sse_parser *parser;
    rt__sse_seq *seq; /* order_by_seq only */
    uint64_t gap_timeout_ms;
    rt__failover fo; /* the URLs and the backoff */
    rt_sse_client_cbs cbs;
    void *ud;

    CURL *easy;
    uv_timer_t retry_timer; /* next attempt, or finalize */
    uv_timer_t stall_timer;
    uv_timer_t gap_timer;
    int handles; /* uv handles still open */
    int started;
    int closing;
    int in_cb; /* inside a curl callback: the handle cannot go now */
    int close_err;

    /* The attempt in flight. */
    int judged;    /* the final answer's headers were seen */
    int opened;    /* 200 text/event-stream */
    int got_event; /* an event arrived on this attempt */
    int stop_204;  /* the server said stop */
    int fail_err;  /* set by a callback, acted on in done() */
    int fail_final;
    uint64_t open_at;
    char reason[64];      /* status line text after the code */
    char retry_after[64]; /* the Retry-After value, "" when none */
    char location[256];   /* the Location value, "" when none */
    char errbuf[CURL_ERROR_SIZE];
    char errmsg[512];
};

static void begin_close(rt_sse_client *c, int err);
static void on_stall(uv_timer_t *t);
static void on_gap(uv_timer_t *t);

static void set_err(rt_sse_client *c, const char *fmt, ...) RT__PRINTF(2, 3);

static void set_err(rt_sse_client *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(c->errmsg, sizeof(c->errmsg), fmt, ap);
    va_end(ap);
}

static void emit_state(rt_sse_client *c, rt_sse_state st, uint64_t delay,
                       int err)
{
    if (c->cbs.on_state != NULL)
        c->cbs.on_state(c, st, delay, err, err != 0 ? c->errmsg : "", c->ud);
}

/* --- parser callbacks */

static int on_parsed(const rt_sse_event *ev, void *ud)
{
    rt_sse_client *c = ud;

    if (c->closing)
        return 1;
    c->got_event = 1;
    rt__failover_delivered(&c->fo);
    if (c->seq == NULL) {
        c->cbs.on_event(c, ev, c->ud);
        return c->closing;
    }
    if (rt__sse_seq_push(c->seq, ev, uv_now(rt__loop_uv(c->loop))) != 0) {
        c->fail_err = RT_ENOMEM;
        c->fail_final = 1;
        set_err(c, "out of memory holding an event");
        return 1;
    }
    return c->closing;
}

/* --- the sequencer's callbacks (order_by_seq) */

static void seq_deliver(const rt_sse_event *ev, void *ud)
{
    rt_sse_client *c = ud;

    if (!c->closing)
        c->cbs.on_event(c, ev, c->ud);
}

static void seq_resumed(int recovered, void *ud)
{
    rt_sse_client *c = ud;

    if (!c->closing && c->cbs.on_resumed != NULL)
        c->cbs.on_resumed(c, recovered, c->ud);
}

/* Arm the gap timer for the sequencer's next deadline. */
static void arm_gap(rt_sse_client *c)
{
    uint64_t at, now;

    if (c->seq == NULL || c->closing)
        return;
    at = rt__sse_seq_deadline(c->seq);
    if (at == UINT64_MAX) {
        uv_timer_stop(&c->gap_timer);
        return;
    }
    now = uv_now(rt__loop_uv(c->loop));
    uv_timer_start(&c->gap_timer, on_gap, at > now ? at - now : 0, 0);
}

static void on_retry_field(uint64_t ms, void *ud)
{
    rt_sse_client *c = ud;

    rt_backoff_set_retry(&c->fo.backoff, ms);
}

/* --- curl callbacks */

static void touch(rt_sse_client *c)
{
    if (c->stall_timeout_ms > 0)
        uv_timer_again(&c->stall_timer);
}

/* Is |ct| text/event-stream, parameters allowed? */
static int is_event_stream(const char *ct)
{
    size_t n = strlen("text/event-stream");

    if (ct == NULL || !rt__net_ieq_prefix(ct, strlen(ct), "text/event-stream"))
        return 0;
    return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t';
}

/*
 * Decide what the final answer means.  Returns 1 when the stream is open
 * and the body should flow, 0 when the transfer should end.
 */
static int judge(rt_sse_client *c, long code)
{
    char *ct = NULL;

    c->judged = 1;
    if (code == 200) {
        curl_easy_getinfo(c->easy, CURLINFO_CONTENT_TYPE, &ct);
        if (!is_event_stream(ct)) {
            /* WHATWG: "fail the connection", for good. */
            c->fail_err = RT_EPROTO;
            c->fail_final = !c->retry_all;
            set_err(c, "Content-Type is '%s', not text/event-stream",
                    ct != NULL ? ct : "(none)");
            return 0;
        }
        c->opened = 1;
        c->open_at = uv_now(rt__loop_uv(c->loop));
        rt__sse_seq_connected(c->seq);
        return 1;
    }
    if (code == 204) {
        c->stop_204 = 1;
        return 0;
    }
    c->fail_err = RT_EHTTP;
    c->fail_final =
        !c->retry_all && (code == 400 || code == 401 || code == 403 ||
                          code == 404 || code == 405);
    if (code >= 300 && code < 400) {
        c->fail_final = !c->retry_all;
        set_err(c, "HTTP %ld%s%s, a redirect to '%s' (not followed)", code,
                c->reason[0] ? " " : "", c->reason, c->location);
        return 0;
    }
    set_err(c, "HTTP %ld%s%s", code, c->reason[0] ? " " : "", c->reason);
    return 0;
}

static size_t on_header(char *b, size_t size, size_t n, void *ud)
{
    rt_sse_client *c = ud;
    size_t len = size * n;
    long code = 0;
    const char *sp;
    int go_on;

    if (c->closing)
        return 0;
    touch(c);
    if (rt__net_ieq_prefix(b, len, "http/")) {
        /* A new response (after a 1xx or a redirect). */
        c->retry_after[0] = '\0';
        c->reason[0] = '\0';
        c->location[0] = '\0';
        sp = memchr(b, ' ', len);
        if (sp != NULL)
            sp = memchr(sp + 1, ' ', len - (size_t)(sp + 1 - b));
        if (sp != NULL)
            rt__net_copy_value(c->reason, sizeof(c->reason), sp + 1,
                               len - (size_t)(sp + 1 - b));
        return len;
    }
    if (rt__net_ieq_prefix(b, len, "retry-after:")) {
        rt__net_copy_value(c->retry_after, sizeof(c->retry_after), b + 12,
                           len - 12);
        return len;
    }
    if (rt__net_ieq_prefix(b, len, "location:")) {
        rt__net_copy_value(c->location, sizeof(c->location), b + 9, len - 9);
        return len;
    }
    if (!(len == 2 && b[0] == '\r') && !(len == 1 && b[0] == '\n'))
        return len;
    /* The end of one response's headers. */
    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &code);
    if (code < 200 ||
        (code >= 300 && code < 400 && c->max_redirects > 0 && code != 300 &&
         code != 304 && code != 305 && code != 306))
        return len; /* interim, or a redirect curl follows */
    c->in_cb = 1;
    go_on = judge(c, code);
    if (go_on)
        emit_state(c, RT_SSE_OPEN, 0, 0);
    c->in_cb = 0;
    return go_on && !c->closing ? len : 0;
}

static size_t on_write(char *b, size_t size, size_t n, void *ud)
{
    rt_sse_client *c = ud;
    size_t len = size * n;
    int rc;

    if (c->closing)
        return 0;
    if (!c->opened)
        return len; /* the body of a redirect without Location */
    touch(c);
    c->in_cb = 1;
    rc = rt_sse_parser_feed(c->parser, b, len);
    c->in_cb = 0;
    if (c->closing)
        return 0;
    arm_gap(c);
    if (rc != 0 && c->fail_err != 0)
        return 0; /* on_parsed said why */
    if (rc != 0) {
        c->fail_err = rc;
        c->fail_final = 1;
        if (rc == RT_ETOOBIG)
            set_err(c, "the stream has a line or event longer than the "
                       "limit");
        else
            set_err(c, "cannot parse the stream: %s", rt_strerror(rc));
        return 0;
    }
    return len;
}

/* --- attempts */

static int connect_now(rt_sse_client *c)
{
    struct curl_slist *h = NULL, *n, *u;
    rt__easy_opts eo;
    const char *id;
    char *line = NULL;
    size_t idlen;
    CURL *e = NULL;
    int rc = RT_ENOMEM;

    for (u = c->user_headers; u != NULL; u = u->next) {
        if ((n = curl_slist_append(h, u->data)) == NULL)
            goto fail;
        h = n;
    }
    if ((n = curl_slist_append(h, "Accept: text/event-stream")) == NULL)
        goto fail;
    h = n;
    if ((n = curl_slist_append(h, "Cache-Control: no-cache")) == NULL)
        goto fail;
    h = n;
    if (c->seq != NULL)
        id = rt__sse_seq_last_id(c->seq, &idlen);
    else
        id = rt_sse_parser_last_id(c->parser, &idlen);
    if (idlen > 0 && strlen(id) == idlen && rt__net_header_safe(id)) {
        line = rt__malloc(idlen + sizeof("Last-Event-ID: "));
        if (line == NULL)
            goto fail;
        memcpy(line, "Last-Event-ID: ", 15);
        memcpy(line + 15, id, idlen + 1);
        n = curl_slist_append(h, line);
        rt__free(line);
        if (n == NULL)
            goto fail;
        h = n;
    }

    c->judged = c->opened = c->stop_204 = c->got_event = 0;
    c->fail_err = c->fail_final = 0;
    c->reason[0] = c->retry_after[0] = c->errbuf[0] = '\0';
    rt_sse_parser_reset(c->parser);

    memset(&eo, 0, sizeof(eo));
    eo.url = rt__failover_str(&c->fo);
    eo.xfer = &c->xfer;
    eo.headers = h;
    eo.on_header = on_header;
    eo.on_write = on_write;
    eo.ud = c;
    eo.errbuf = c->errbuf;
    eo.connect_timeout_ms = c->connect_timeout_ms;
    eo.max_redirects = (long)c->max_redirects;
    eo.cacert = c->cacert;
    eo.cert = c->cert;
    eo.key = c->key;
    eo.proxy = c->proxy;
    eo.insecure = c->insecure;
    if ((e = rt__net_easy_new(&eo)) == NULL)
        goto fail;
    c->easy = e;
    c->req_headers = h;
    if ((rc = rt__loop_add(c->loop, e)) != 0) {
        c->easy = NULL;
        c->req_headers = NULL;
        goto fail;
    }
    if (c->stall_timeout_ms > 0)
        uv_timer_start(&c->stall_timer, on_stall, c->stall_timeout_ms,
                       c->stall_timeout_ms);
    return 0;

fail:
    curl_slist_free_all(h);
    curl_easy_cleanup(e);
    return rc;
}

/* Take the transfer off the loop and free it. */
static void end_transfer(rt_sse_client *c)
{
    uv_timer_stop(&c->stall_timer);
    if (c->easy == NULL)
        return;
    rt__loop_remove(c->loop, c->easy);
    curl_easy_cleanup(c->easy);
    curl_slist_free_all(c->req_headers);
    c->easy = NULL;
    c->req_headers = NULL;
    if (c->opened)
        rt__failover_connected(&c->fo,
                               uv_now(rt__loop_uv(c->loop)) - c->open_at);
}

static void start_attempt(rt_sse_client *c)
{
    int rc = connect_now(c);

    if (rc != 0) {
        set_err(c, "cannot start a request: %s", rt_strerror(rc));
        begin_close(c, rc);
        return;
    }
    emit_state(c, RT_SSE_CONNECTING, 0, 0);
}

static void on_retry(uv_timer_t *t)
{
    start_attempt(t->data);
}

/* The attempt failed with |err| (c->errmsg says how): wait, or stop. */
static void failed(rt_sse_client *c, int err, int final)
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
    emit_state(c, RT_SSE_BACKOFF, delay, err);
    if (!c->closing)
        uv_timer_start(&c->retry_timer, on_retry, delay, 0);
}

static void done(rt__xfer *x, CURLcode res)
{
    rt_sse_client *c = (rt_sse_client *)x;
    long code = 0;
    int err;

    if (!c->judged && res == CURLE_OK && c->easy != NULL) {
        curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &code);
        if (code != 0)
            judge(c, code);
    }
    end_transfer(c);
    if (c->closing)
        return;
    if (c->stop_204) {
        c->errmsg[0] = '\0';
        begin_close(c, 0);
        return;
    }
    if (c->fail_err != 0) {
        failed(c, c->fail_err, c->fail_final);
        return;
    }
    if (c->opened) {
        if (res == CURLE_OK)
            set_err(c, "the server ended the stream");
        else
            set_err(c, "the stream broke: %s",
                    c->errbuf[0] ? c->errbuf : curl_easy_strerror(res));
        failed(c, RT_ECLOSED, 0);
        return;
    }
    if (res == CURLE_TOO_MANY_REDIRECTS) {
        set_err(c, "more than %u redirects in a row",
                (unsigned)c->max_redirects);
        failed(c, RT_EHANDSHAKE, !c->retry_all);
        return;
    }
    err = res == CURLE_OK ? RT_ECLOSED : rt__net_map_curl(res);
    set_err(c, "%s: %s", rt_strerror(err),
            c->errbuf[0] ? c->errbuf : curl_easy_strerror(res));
    failed(c, err, !rt_err_is_retryable(err));
}

static void on_stall(uv_timer_t *t)
{
    rt_sse_client *c = t->data;
    curl_off_t tcp = 0;
    int connected, first;

    if (c->easy == NULL || c->closing)
        return;
    connected = c->opened;
    if (!connected)
        curl_easy_getinfo(c->easy, CURLINFO_CONNECT_TIME_T, &tcp);
    first = !c->got_event && (connected || tcp > 0);
    end_transfer(c);
    /*
     * A proxy that buffers the response (nginx without X-Accel-Buffering:
     * no or proxy_buffering off) holds back the headers or the first
     * events: the stream looks stalled from the start.
     */
    set_err(c, "no bytes for %llu ms%s%s",
            (unsigned long long)c->stall_timeout_ms,
            !first      ? ""
            : connected ? " and no event since the response headers"
                        : " after connecting, not even the response headers",
            first ? "; a proxy in between may be buffering the stream" : "");
    failed(c, RT_ETIMEDOUT, 0);
}

/*
 * A gap stayed open for gap_timeout_ms: the message is not coming on this
 * connection, so replace it; the replay from the last delivered id fills
 * the gap (or the server says recovered:false).  With no stream open a
 * reconnection is already on its way.
 */
static void on_gap(uv_timer_t *t)
{
    rt_sse_client *c = t->data;
    uint64_t from = 0, to = 0;

    if (c->closing || c->seq == NULL)
        return;
    if (rt__sse_seq_tick(c->seq, uv_now(rt__loop_uv(c->loop)), &from, &to) ==
            RT_EGAP &&
        c->easy != NULL && c->opened) {
        end_transfer(c);
        set_err(c, "seq %llu to %llu missing for %llu ms",
                (unsigned long long)from, (unsigned long long)to,
                (unsigned long long)c->gap_timeout_ms);
        failed(c, RT_EGAP, 0);
    }
    arm_gap(c);
}

/* --- closing */

static void on_handle_closed(uv_handle_t *h)
{
    rt_sse_client *c = h->data;

    if (--c->handles > 0)
        return;
    if (c->cbs.on_closed != NULL)
        c->cbs.on_closed(c, c->ud);
    rt_sse_parser_free(c->parser);
    rt__sse_seq_free(c->seq);
    curl_slist_free_all(c->user_headers);
    rt__free(c->cacert);
    rt__free(c->cert);
    rt__free(c->key);
    rt__free(c->proxy);
    rt__failover_cleanup(&c->fo);
    rt__free(c);
}

static void on_finalize(uv_timer_t *t)
{
    rt_sse_client *c = t->data;

    end_transfer(c);
    emit_state(c, RT_SSE_CLOSED, 0, c->close_err);
    uv_close((uv_handle_t *)&c->retry_timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->stall_timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->gap_timer, on_handle_closed);
}

static void begin_close(rt_sse_client *c, int err)
{
    if (c->closing)
        return;
    c->closing = 1;
    c->close_err = err;
    if (!c->in_cb)
        end_transfer(c);
    uv_timer_start(&c->retry_timer, on_finalize, 0, 0);
}

/* --- public */

void rt_sse_client_opts_init(rt_sse_client_opts *o)
{
    if (o == NULL)
        return;
    memset(o, 0, sizeof(*o));
    o->connect_timeout_ms = 10000;
    o->stall_timeout_ms = 45000;
    rt_backoff_policy_init(&o->backoff);
    o->gap_timeout_ms = 2000;
    o->max_redirects = 10;
}

int rt_sse_client_new(rt_sse_client **out, rt_loop *loop, const char *url,
                      const rt_sse_client_opts *o,
                      const rt_sse_client_cbs *cbs, void *ud)
{
    rt_sse_client_opts defaults;
    rt_sse_parser_opts po;
    rt__sse_seq_cbs sc = {seq_deliver, seq_resumed};
    rt_sse_client *c;
    struct curl_slist *n;
    const char *const *hp;
    int rc;

    if (out == NULL)
        return RT_EINVAL;
    *out = NULL;
    if (loop == NULL || url == NULL || cbs == NULL || cbs->on_event == NULL)
        return RT_EINVAL;
    if (o == NULL) {
        rt_sse_client_opts_init(&defaults);
        o = &defaults;
    }
    if (rt__net_headers_check(o->headers) < 0)
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
    if ((o->cacert != NULL &&
         (c->cacert = rt__strndup(o->cacert, strlen(o->cacert))) == NULL) ||
        (o->cert != NULL &&
         (c->cert = rt__strndup(o->cert, strlen(o->cert))) == NULL) ||
        (o->key != NULL &&
         (c->key = rt__strndup(o->key, strlen(o->key))) == NULL) ||
        (o->proxy != NULL &&
         (c->proxy = rt__strndup(o->proxy, strlen(o->proxy))) == NULL))
        goto fail;
    for (hp = o->headers; hp != NULL && *hp != NULL; hp++) {
        if ((n = curl_slist_append(c->user_headers, *hp)) == NULL)
            goto fail;
        c->user_headers = n;
    }
    rt_sse_parser_opts_init(&po);
    if (o->max_line_bytes != 0)
        po.max_line_bytes = o->max_line_bytes;
    rc = rt_sse_parser_new(&c->parser, &po, on_parsed, on_retry_field, c);
    if (rc != 0)
        goto fail;
    if (o->last_event_id != NULL &&
        (rc = rt_sse_parser_set_last_id(c->parser, o->last_event_id,
                                        strlen(o->last_event_id))) != 0)
        goto fail;
    if (o->order_by_seq &&
        (rc = rt__sse_seq_new(
             &c->seq, o->last_event_id,
             o->last_event_id != NULL ? strlen(o->last_event_id) : 0,
             o->gap_timeout_ms, &sc, c)) != 0)
        goto fail;
    c->gap_timeout_ms = o->gap_timeout_ms;
    c->xfer.done = done;
    c->loop = loop;
    c->insecure = o->insecure;
    c->no_reconnect = o->no_reconnect;
    c->retry_all = o->retry_all;
    c->max_redirects = o->max_redirects;
    c->connect_timeout_ms = o->connect_timeout_ms;
    c->stall_timeout_ms = o->stall_timeout_ms;
    c->cbs = *cbs;
    c->ud = ud;
    uv_timer_init(rt__loop_uv(loop), &c->retry_timer);
    uv_timer_init(rt__loop_uv(loop), &c->stall_timer);
    uv_timer_init(rt__loop_uv(loop), &c->gap_timer);
    c->retry_timer.data = c->stall_timer.data = c->gap_timer.data = c;
    c->handles = 3;
    *out = c;
    return 0;

fail:
    rt_sse_parser_free(c->parser);
    rt__sse_seq_free(c->seq);
    curl_slist_free_all(c->user_headers);
    rt__free(c->cacert);
    rt__free(c->cert);
    rt__free(c->key);
    rt__free(c->proxy);
    rt__failover_cleanup(&c->fo);
    rt__free(c);
    return rc;
}

int rt_sse_client_start(rt_sse_client *c)
{
    int rc;

    if (c == NULL)
        return RT_EINVAL;
    if (c->started || c->closing)
        return RT_ESTATE;
    if ((rc = connect_now(c)) != 0)
        return rc;
    c->started = 1;
    emit_state(c, RT_SSE_CONNECTING, 0, 0);
    return 0;
}

void rt_sse_client_close(rt_sse_client *c)
{
    if (c == NULL || c->closing)
        return;
    c->errmsg[0] = '\0';
    begin_close(c, 0);
}

const char *rt_sse_client_errmsg(const rt_sse_client *c)
{
    return c == NULL ? "" : c->errmsg;
}

uint32_t rt_sse_client_attempt(const rt_sse_client *c)
{
    return c == NULL ? 0 : rt_backoff_attempt(&c->fo.backoff);
}

const char *rt_sse_client_last_id(const rt_sse_client *c)
{
    if (c == NULL)
        return "";
    if (c->seq != NULL)
        return rt__sse_seq_last_id(c->seq, NULL);
    return rt_sse_parser_last_id(c->parser, NULL);
}

const char *rt_sse_client_url(const rt_sse_client *c)
{
    return c == NULL ? "" : rt__failover_str(&c->fo);
}

size_t rt_sse_client_url_index(const rt_sse_client *c)
{
    return c == NULL ? 0 : c->fo.cur;
}
