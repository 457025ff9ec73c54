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
 * The loop, the backoff, the retry timer, the state and the order of
 * closing are the client base's (client.c).
 *
 * Invariants:
 * - c->easy is non-NULL exactly while a transfer is on the multi handle.
 * - Once c->b.closing is set no on_event fires, the transfer is ended at
 *   the first chance, and the base finalizes: CLOSED, then on_closed from
 *   the last close callback, then the memory goes.
 * - With order_by_seq, c->seq sits between the parser and on_event, and
 *   its position, not the parser's last event ID, is the Last-Event-ID;
 *   the gap timer follows rt__sse_seq_deadline() and outlives
 *   connections, since the held events wait for the replay of the next.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "net_int.h"
#include "rt/sse_client.h"
#include "sse_seq.h"
#include "rt/url.h"

struct rt_sse_client {
    rt__client b;  /* first: the base's timers hand back the client */
    rt__xfer xfer; /* done() gets the client back from CURLOPT_PRIVATE */
    struct curl_slist *user_headers; /* the caller's, copied */
    struct curl_slist *req_headers;  /* this attempt's */
    int retry_all;
    uint32_t max_redirects;
    uint64_t stall_timeout_ms;
    rt_sse_parser *parser;
    rt__sse_seq *seq; /* order_by_seq only */
    uint64_t gap_timeout_ms;
    rt_sse_client_cbs cbs;
    void *ud;

    CURL *easy;
    uv_timer_t stall_timer;
    uv_timer_t gap_timer;
    int in_cb; /* inside a curl callback: the handle cannot go now */

    /* The attempt in flight (its failure: b.fail_err, acted on in done()) */
    int judged;    /* the final answer's headers were seen */
    int opened;    /* 200 text/event-stream */
    int got_event; /* an event arrived on this attempt */
    int stop_204;  /* the server said stop */
    uint64_t open_at;
    rt__http_hdrs hdrs;
    char errbuf[CURL_ERROR_SIZE];
};

static void on_stall(uv_timer_t *t);
static void on_gap(uv_timer_t *t);

/* --- parser callbacks */

static int on_parsed(const rt_sse_event *ev, void *ud)
{
    rt_sse_client *c = ud;

    if (c->b.closing)
        return 1;
    c->got_event = 1;
    rt__failover_delivered(&c->b.fo);
    if (c->seq == NULL) {
        c->cbs.on_event(c, ev, c->ud);
        return c->b.closing;
    }
    if (rt__sse_seq_push(c->seq, ev, rt__client_now(&c->b)) != 0) {
        c->b.fail_err = RT_ENOMEM;
        c->b.fail_final = 1;
        rt__client_errf(&c->b, "out of memory holding an event");
        return 1;
    }
    return c->b.closing;
}

/* --- the sequencer's callbacks (order_by_seq) */

static void seq_deliver(const rt_sse_event *ev, void *ud)
{
    rt_sse_client *c = ud;

    if (!c->b.closing)
        c->cbs.on_event(c, ev, c->ud);
}

static void seq_resumed(int recovered, void *ud)
{
    rt_sse_client *c = ud;

    if (!c->b.closing && c->cbs.on_resumed != NULL)
        c->cbs.on_resumed(c, recovered, c->ud);
}

/* Arm the gap timer for the sequencer's next deadline. */
static void arm_gap(rt_sse_client *c)
{
    uint64_t at, now;

    if (c->seq == NULL || c->b.closing)
        return;
    at = rt__sse_seq_deadline(c->seq);
    if (at == UINT64_MAX) {
        uv_timer_stop(&c->gap_timer);
        return;
    }
    now = rt__client_now(&c->b);
    uv_timer_start(&c->gap_timer, on_gap, at > now ? at - now : 0, 0);
}

static void on_retry_field(uint64_t ms, void *ud)
{
    rt_sse_client *c = ud;

    rt_backoff_set_retry(&c->b.fo.backoff, ms);
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
            c->b.fail_err = RT_EPROTO;
            c->b.fail_final = !c->retry_all;
            rt__client_errf(&c->b,
                            "Content-Type is '%s', not text/event-stream",
                            ct != NULL ? ct : "(none)");
            return 0;
        }
        c->opened = 1;
        c->open_at = rt__client_now(&c->b);
        rt__sse_seq_connected(c->seq);
        return 1;
    }
    if (code == 204) {
        c->stop_204 = 1;
        return 0;
    }
    c->b.fail_err = RT_EHTTP;
    c->b.fail_final = !c->retry_all && rt__net_status_final(code);
    if (code >= 300 && code < 400) {
        c->b.fail_final = !c->retry_all;
        rt__client_errf(
            &c->b, "HTTP %ld%s%s, a redirect to '%s' (not followed)", code,
            c->hdrs.reason[0] ? " " : "", c->hdrs.reason, c->hdrs.location);
        return 0;
    }
    rt__client_errf(&c->b, "HTTP %ld%s%s", code, c->hdrs.reason[0] ? " " : "",
                    c->hdrs.reason);
    return 0;
}

static size_t on_header(char *b, size_t size, size_t n, void *ud)
{
    rt_sse_client *c = ud;
    size_t len = size * n;
    long code = 0;
    int go_on;

    if (c->b.closing)
        return 0;
    touch(c);
    if (rt__net_header(&c->hdrs, b, len) != RT__HDR_END)
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
        rt__client_state(&c->b, RT_CONN_OPEN, 0, 0);
    c->in_cb = 0;
    return go_on && !c->b.closing ? len : 0;
}

static size_t on_write(char *b, size_t size, size_t n, void *ud)
{
    rt_sse_client *c = ud;
    size_t len = size * n;
    int rc;

    if (c->b.closing)
        return 0;
    if (!c->opened)
        return len; /* the body of a redirect without Location */
    touch(c);
    c->in_cb = 1;
    rc = rt_sse_parser_feed(c->parser, b, len);
    c->in_cb = 0;
    if (c->b.closing)
        return 0;
    arm_gap(c);
    if (rc != 0 && c->b.fail_err != 0)
        return 0; /* on_parsed said why */
    if (rc != 0) {
        c->b.fail_err = rc;
        c->b.fail_final = 1;
        if (rc == RT_ETOOBIG)
            rt__client_errf(&c->b,
                            "the stream has a line or event longer than the "
                            "limit");
        else
            rt__client_errf(&c->b, "cannot parse the stream: %s",
                            rt_strerror(rc));
        return 0;
    }
    return len;
}

/* --- attempts */

static int connect_now(rt_sse_client *c)
{
    struct curl_slist *h = NULL, *n, *u;
    rt__easy_opts eo = {.on_header = on_header,
                        .on_write = on_write,
                        .ud = c,
                        .xfer = &c->xfer,
                        .errbuf = c->errbuf,
                        .max_redirects = (long)c->max_redirects};
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
    rt__client_attempt_begins(&c->b);
    memset(&c->hdrs, 0, sizeof(c->hdrs));
    c->errbuf[0] = '\0';
    rt_sse_parser_reset(c->parser);

    eo.url = rt__failover_str(&c->b.fo);
    eo.headers = h;
    if ((e = rt__client_easy(&c->b, &eo)) == NULL)
        goto fail;
    c->easy = e;
    c->req_headers = h;
    if ((rc = rt__loop_add(c->b.loop, e)) != 0) {
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
    rt__loop_remove(c->b.loop, c->easy);
    curl_easy_cleanup(c->easy);
    curl_slist_free_all(c->req_headers);
    c->easy = NULL;
    c->req_headers = NULL;
    if (c->opened)
        rt__failover_connected(&c->b.fo, rt__client_now(&c->b) - c->open_at);
}

static void done(rt__xfer *x, CURLcode res)
{
    rt_sse_client *c = RT__CONTAINER(x, rt_sse_client, xfer);
    long code = 0;
    int err;

    if (!c->judged && res == CURLE_OK && c->easy != NULL) {
        curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &code);
        if (code != 0)
            judge(c, code);
    }
    end_transfer(c);
    if (c->b.closing)
        return;
    if (c->stop_204) {
        c->b.errmsg[0] = '\0';
        rt__client_begin_close(&c->b, 0);
        return;
    }
    if (c->b.fail_err != 0) {
        rt__client_retry(&c->b, c->b.fail_err, c->b.fail_final,
                         c->hdrs.retry_after);
        return;
    }
    if (c->opened) {
        if (res == CURLE_OK)
            rt__client_errf(&c->b, "the server ended the stream");
        else
            rt__client_errf(&c->b, "the stream broke: %s",
                            c->errbuf[0] ? c->errbuf
                                         : curl_easy_strerror(res));
        rt__client_retry(&c->b, RT_ECLOSED, 0, c->hdrs.retry_after);
        return;
    }
    if (res == CURLE_TOO_MANY_REDIRECTS) {
        rt__client_errf(&c->b, "more than %u redirects in a row",
                        (unsigned)c->max_redirects);
        rt__client_retry(&c->b, RT_EHANDSHAKE, !c->retry_all,
                         c->hdrs.retry_after);
        return;
    }
    err = res == CURLE_OK ? RT_ECLOSED : rt__net_map_curl(res);
    rt__client_errf(&c->b, "%s: %s", rt_strerror(err),
                    c->errbuf[0] ? c->errbuf : curl_easy_strerror(res));
    rt__client_retry(&c->b, err, !rt_err_is_retryable(err),
                     c->hdrs.retry_after);
}

static void on_stall(uv_timer_t *t)
{
    rt_sse_client *c = t->data;
    curl_off_t tcp = 0;
    int connected, first;

    if (c->easy == NULL || c->b.closing)
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
    rt__client_errf(
        &c->b, "no bytes for %llu ms%s%s",
        (unsigned long long)c->stall_timeout_ms,
        !first      ? ""
        : connected ? " and no event since the response headers"
                    : " after connecting, not even the response headers",
        first ? "; a proxy in between may be buffering the stream" : "");
    rt__client_retry(&c->b, RT_ETIMEDOUT, 0, c->hdrs.retry_after);
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

    if (c->b.closing || c->seq == NULL)
        return;
    if (rt__sse_seq_tick(c->seq, rt__client_now(&c->b), &from, &to) ==
            RT_EGAP &&
        c->easy != NULL && c->opened) {
        end_transfer(c);
        rt__client_errf(&c->b, "seq %llu to %llu missing for %llu ms",
                        (unsigned long long)from, (unsigned long long)to,
                        (unsigned long long)c->gap_timeout_ms);
        rt__client_retry(&c->b, RT_EGAP, 0, c->hdrs.retry_after);
    }
    arm_gap(c);
}

/* --- the base's operations */

static void sse_state(rt__client *b, rt_conn_state st, uint64_t delay_ms,
                      int err, const char *detail)
{
    rt_sse_client *c = (rt_sse_client *)b;

    if (c->cbs.on_state != NULL)
        c->cbs.on_state(c, st, delay_ms, err, detail, c->ud);
}

static int sse_connect(rt__client *b)
{
    return connect_now((rt_sse_client *)b);
}

static int sse_stop(rt__client *b)
{
    rt_sse_client *c = (rt_sse_client *)b;

    if (!c->in_cb)
        end_transfer(c);
    return 1;
}

static void sse_finalize(rt__client *b)
{
    end_transfer((rt_sse_client *)b);
}

static void sse_free(rt_sse_client *c)
{
    rt_sse_parser_free(c->parser);
    rt__sse_seq_free(c->seq);
    curl_slist_free_all(c->user_headers);
    rt__client_cleanup(&c->b);
    rt__free(c);
}

static void sse_closed(rt__client *b)
{
    rt_sse_client *c = (rt_sse_client *)b;

    if (c->cbs.on_closed != NULL)
        c->cbs.on_closed(c, c->ud);
    sse_free(c);
}

static const rt__client_ops sse_ops = {sse_state,    sse_connect, sse_stop,
                                       sse_finalize, sse_closed,  NULL};

/* --- public */

void rt_sse_client_opts_init(rt_sse_client_opts *o)
{
    if (o == NULL)
        return;
    memset(o, 0, sizeof(*o));
    rt_conn_opts_init(&o->conn);
    o->stall_timeout_ms = 45000;
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
    uv_timer_t *timers[2];
    rt_sse_client *c;
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
    if (rt__net_headers_check(o->conn.headers) < 0)
        return RT_EINVAL;
    c = rt__calloc(1, sizeof(*c));
    if (c == NULL)
        return RT_ENOMEM;
    rc = rt__client_init(&c->b, &sse_ops, loop, url, &o->conn,
                         rt__failover_http);
    if (rc != 0) {
        rt__free(c);
        return rc;
    }
    rc = RT_ENOMEM;
    if (rt__net_slist_add(&c->user_headers, o->conn.headers) != 0)
        goto fail;
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
    c->retry_all = o->retry_all;
    c->max_redirects = o->max_redirects;
    c->stall_timeout_ms = o->stall_timeout_ms;
    c->cbs = *cbs;
    c->ud = ud;
    timers[0] = &c->stall_timer;
    timers[1] = &c->gap_timer;
    rt__client_timers(&c->b, timers, 2);
    *out = c;
    return 0;

fail:
    sse_free(c);
    return rc;
}

int rt_sse_client_start(rt_sse_client *c)
{
    return c == NULL ? RT_EINVAL : rt__client_start(&c->b);
}

void rt_sse_client_close(rt_sse_client *c)
{
    if (c != NULL)
        rt__client_close(&c->b);
}

const char *rt_sse_client_errmsg(const rt_sse_client *c)
{
    return c == NULL ? "" : c->b.errmsg;
}

uint32_t rt_sse_client_attempt(const rt_sse_client *c)
{
    return c == NULL ? 0 : rt__client_attempt(&c->b);
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
    return c == NULL ? "" : rt__failover_str(&c->b.fo);
}

size_t rt_sse_client_url_index(const rt_sse_client *c)
{
    return c == NULL ? 0 : c->b.fo.cur;
}
