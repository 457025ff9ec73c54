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
 * collects the body (bounded), done() removes the handle, judges the
 * answer and either delivers its messages and polls again, or waits, or
 * stops.
 *
 * Invariants:
 * - c->easy is non-NULL exactly while a transfer is on the multi handle.
 * - Once c->closing is set no on_message fires, the transfer is ended at
 *   the first chance, and the finalize timer reports CLOSED and closes the
 *   timer; on_closed fires from its close callback, then the memory goes.
 * - The retry timer doubles as the finalize timer: a pending poll is
 *   simply replaced.
 * - c->has_pos says c->since is known; c->order's next expected seq is
 *   then at least c->since + 1.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "net_int.h"
#include "rt/msg.h"
#include "rt/order.h"
#include "rt/poll_client.h"
#include "rt/url.h"
#include "rt/version.h"


struct rt_poll_client {
    rt__xfer xfer; /* first: done() gets it back from CURLOPT_PRIVATE */
    rt_loop *loop;
    rt_url *base;
    char *cacert;
    struct curl_slist *user_headers; /* the caller's, copied */
    int insecure;
    int no_reconnect;
    uint32_t poll_timeout_s;
    uint64_t connect_timeout_ms;
    size_t max_body_bytes;
    rt_order *order;
    rt_backoff backoff;
    rt_poll_client_cbs cbs;
    void *ud;

    /* Position: what the next poll asks for. */
    int has_pos;
    uint64_t since;
    char epoch[RT__EPOCH_MAX + 1];

    CURL *easy;
    char *req_url;
    uv_timer_t retry_timer; /* next attempt, or finalize */
    int started;
    int closing;
    int open; /* an answer arrived since the last CONNECTING */
    int close_err;

    /* The attempt in flight. */
    int too_big;
    rt_buf body;
    char reason[64];      /* status line text after the code */
    char retry_after[64]; /* the Retry-After value, "" when none */
    char errbuf[CURL_ERROR_SIZE];
    char errmsg[512];
};

static void begin_close(rt_poll_client *c, int err);

static void set_err(rt_poll_client *c, const char *fmt, ...)
    RT__PRINTF(2, 3);

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
        c->cbs.on_state(c, st, delay, err, err != 0 ? c->errmsg : "",
                        c->ud);
}

/* --- the ordered buffer */

struct held {
    size_t len;
    char json[]; /* NUL-terminated */
};

static void deliver(uint64_t seq, void *msg, void *ud)
{
    rt_poll_client *c = ud;
    struct held *h = msg;

    if (!c->closing)
        c->cbs.on_message(c, seq, h->json, h->len, c->ud);
    rt__free(h);
}

static void free_held(void *msg, void *ud)
{
    (void)ud;
    rt__free(msg);
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
        rt__buf_clear(&c->body);
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
    if (len > c->max_body_bytes - c->body.len) {
        c->too_big = 1;
        return 0;
    }
    if (rt__buf_append(&c->body, b, len) != 0)
        return 0;
    return len;
}

/* --- attempts */

/* The URL of the next poll, with since, epoch and timeout set. */
static int poll_url(rt_poll_client *c, char **out)
{
    rt_url *u = NULL;
    char num[24];
    int rc;

    if ((rc = rt_url_dup(&u, c->base)) != 0)
        return rc;
    snprintf(num, sizeof(num), "%llu", (unsigned long long)c->since);
    rc = rt_url_query_set(u, "since", c->has_pos ? num : NULL);
    if (rc == 0)
        rc = rt_url_query_set(u, "epoch", c->epoch[0] ? c->epoch : NULL);
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
    char *url = NULL;
    CURL *e;
    int rc;

    if ((rc = poll_url(c, &url)) != 0)
        return rc;
    e = curl_easy_init();
    if (e == NULL) {
        rt_free(url);
        return RT_ENOMEM;
    }
    c->too_big = 0;
    rt__buf_clear(&c->body);
    c->reason[0] = c->retry_after[0] = c->errbuf[0] = '\0';

    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, &c->xfer);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->user_headers);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "rtctl/" RT_VERSION_STRING);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, 10L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#endif
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)c->connect_timeout_ms);
    /* The server answers within the poll timeout; past it, take it dead. */
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
                     (long)c->poll_timeout_s * 1000L + 15000L);
    if (c->cacert != NULL)
        curl_easy_setopt(e, CURLOPT_CAINFO, c->cacert);
    if (c->insecure) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
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

    if (final || c->no_reconnect) {
        begin_close(c, err);
        return;
    }
    if (c->retry_after[0] != '\0')
        rt_backoff_retry_after(&c->backoff, c->retry_after,
                               strlen(c->retry_after), (int64_t)time(NULL));
    if (rt__net_next_delay(c->loop, &c->backoff, c->errmsg,
                           sizeof(c->errmsg), &delay) != 0) {
        begin_close(c, RT_EEXHAUSTED);
        return;
    }
    c->open = 0;
    emit_state(c, RT_POLL_BACKOFF, delay, err);
    if (!c->closing)
        uv_timer_start(&c->retry_timer, on_retry, delay, 0);
}

/* Is |j| a whole number in [0, 2^53]?  *out gets it. */
static int get_u64(const cJSON *j, uint64_t *out)
{
    double d;

    if (!cJSON_IsNumber(j))
        return 0;
    d = j->valuedouble;
    if (!(d >= 0 && d <= 9007199254740992.0) || d != (double)(uint64_t)d)
        return 0;
    *out = (uint64_t)d;
    return 1;
}

/*
 * Find the next element of the JSON array |a|, |alen| (already known to
 * be well-formed) from offset |*pos|: [*es, *ee) its bytes.  Returns 0
 * past the last one.
 */
static int next_element(const char *a, size_t alen, size_t *pos, size_t *es,
                        size_t *ee)
{
    size_t i = *pos, end = alen - 1; /* a[end] is the closing ']' */
    int depth = 0, in_str = 0;

    while (i < end && (a[i] == ' ' || a[i] == '\t' || a[i] == '\n' ||
                       a[i] == '\r' || a[i] == ','))
        i++;
    if (i >= end)
        return 0;
    *es = i;
    for (; i < end; i++) {
        char ch = a[i];

        if (in_str) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                in_str = 0;
        } else if (ch == '"') {
            in_str = 1;
        } else if (ch == '{' || ch == '[') {
            depth++;
        } else if (ch == '}' || ch == ']') {
            depth--;
        } else if (ch == ',' && depth == 0) {
            break;
        }
    }
    *ee = i;
    while (*ee > *es && (a[*ee - 1] == ' ' || a[*ee - 1] == '\t' ||
                         a[*ee - 1] == '\n' || a[*ee - 1] == '\r'))
        (*ee)--;
    *pos = i;
    return 1;
}

/*
 * Deliver one 200 answer.  Returns 0, or RT_EPROTO / RT_ENOMEM with
 * c->errmsg set.
 */
static int take_answer(rt_poll_client *c)
{
    cJSON *root, *ep, *msgs, *nx, *rec, *m;
    rt_msg_limits lim;
    rt_msg_error me;
    rt_msg *pm;
    struct held *h;
    rt__json_scan_opts so;
    rt__json_scan_res sr;
    uint64_t next = 0, first = 0, now;
    const char *arr;
    int recovered, rc = 0, fresh, changed, n = 0;
    size_t len, alen, pos, es = 0, ee = 0;

    root = cJSON_ParseWithLength(c->body.data != NULL ? c->body.data : "",
                                 c->body.len);
    if (root == NULL) {
        set_err(c, "the poll answer is not JSON");
        return RT_EPROTO;
    }
    ep = cJSON_GetObjectItemCaseSensitive(root, "epoch");
    msgs = cJSON_GetObjectItemCaseSensitive(root, "messages");
    nx = cJSON_GetObjectItemCaseSensitive(root, "next");
    rec = cJSON_GetObjectItemCaseSensitive(root, "recovered");
    if (!cJSON_IsObject(root) || !cJSON_IsString(ep) ||
        !rt__net_epoch_valid(ep->valuestring, strlen(ep->valuestring)) ||
        !cJSON_IsArray(msgs) || !get_u64(nx, &next) || !cJSON_IsBool(rec)) {
        set_err(c, "the poll answer is not {\"epoch\":E,\"messages\":[...],"
                   "\"next\":N,\"recovered\":B}");
        cJSON_Delete(root);
        return RT_EPROTO;
    }
    recovered = cJSON_IsTrue(rec);
    rt_msg_limits_init(&lim);
    lim.max_bytes = c->max_body_bytes;
    lim.max_depth = RT_MSG_MAX_DEPTH;

    /* The raw bytes of the messages array, to hand each one on as sent. */
    memset(&sr, 0, sizeof(sr));
    so.flags = 0;
    so.max_depth = 0;
    so.find = "messages";
    if (rt__json_scan(c->body.data, c->body.len, &so, &sr, NULL) != 0 ||
        !sr.found || sr.found_end - sr.found_start < 2) {
        set_err(c, "the poll answer has no messages array");
        cJSON_Delete(root);
        return RT_EPROTO;
    }
    arr = c->body.data + sr.found_start;
    alen = sr.found_end - sr.found_start;

    /* The seq of the first message, to start afresh from. */
    first = next + 1;
    cJSON_ArrayForEach(m, msgs) {
        cJSON *s = cJSON_GetObjectItemCaseSensitive(m, "seq");

        if (get_u64(s, &first))
            break;
    }
    changed = c->epoch[0] != '\0' && strcmp(c->epoch, ep->valuestring) != 0;
    fresh = !c->has_pos || !recovered || changed;
    if (fresh) {
        uint64_t start = first;

        /* Never go back over what was delivered in the same epoch. */
        if (c->has_pos && recovered && !changed && start <= c->since)
            start = c->since + 1;
        if (start == 0)
            start = 1;
        rt_order_reset(c->order, start);
        if (c->has_pos && (!recovered || changed) &&
            c->cbs.on_resumed != NULL && !c->closing)
            c->cbs.on_resumed(c, 0, c->ud);
    }
    memcpy(c->epoch, ep->valuestring, strlen(ep->valuestring) + 1);

    now = uv_now(rt__loop_uv(c->loop));
    pos = 1;
    while (rc == 0 && !c->closing &&
           next_element(arr, alen, &pos, &es, &ee)) {
        const char *json = arr + es;

        len = ee - es;
        pm = NULL;
        rc = rt_msg_parse(&pm, json, len, RT_MSG_FROM_SERVER, &lim, &me);
        if (rc != 0 || !pm->has_seq) {
            if (rc == 0)
                rc = RT_EPROTO;
            set_err(c, "message %d of the poll answer: %s", n,
                    rc == RT_ENOMEM ? "out of memory"
                    : pm != NULL    ? "no seq"
                                    : me.message);
            rt_msg_free(pm);
            break;
        }
        h = rt__malloc(sizeof(*h) + len + 1);
        if (h == NULL) {
            rt_msg_free(pm);
            rc = RT_ENOMEM;
            set_err(c, "out of memory");
            break;
        }
        h->len = len;
        memcpy(h->json, json, len);
        h->json[len] = '\0';
        rc = rt_order_push(c->order, pm->seq, h, now);
        if (rc != 0)
            rt__free(h);
        if (rc == RT_EDUP) {
            rc = 0;
        } else if (rc != 0) {
            set_err(c, "message %d of the poll answer: seq %llu does not "
                       "follow seq %llu",
                    n, (unsigned long long)pm->seq,
                    (unsigned long long)(rt_order_next(c->order) - 1));
            rc = RT_EPROTO;
        }
        rt_msg_free(pm);
        n++;
    }
    cJSON_Delete(root);
    if (rc != 0)
        return rc;
    if (rt_order_held(c->order) > 0) {
        set_err(c, "the poll answer has a gap before seq %llu",
                (unsigned long long)rt_order_next(c->order));
        return RT_EPROTO;
    }
    /* Ask next for what follows both the answer and what was delivered. */
    c->has_pos = 1;
    c->since = next;
    if (rt_order_next(c->order) > 0 && rt_order_next(c->order) - 1 > next)
        c->since = rt_order_next(c->order) - 1;
    return 0;
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
        set_err(c, "HTTP %ld%s%s", code, c->reason[0] ? " " : "",
                c->reason);
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
    err = take_answer(c);
    rt__buf_clear(&c->body);
    if (c->closing)
        return;
    if (err != 0) {
        begin_close(c, err);
        return;
    }
    rt_backoff_delivered(&c->backoff);
    /* The next poll from a fresh loop turn, never from inside done(). */
    uv_timer_start(&c->retry_timer, on_next, 0, 0);
}

/* --- closing */

static void on_handle_closed(uv_handle_t *h)
{
    rt_poll_client *c = h->data;

    if (c->cbs.on_closed != NULL)
        c->cbs.on_closed(c, c->ud);
    rt_order_free(c->order);
    rt__buf_cleanup(&c->body);
    curl_slist_free_all(c->user_headers);
    rt__free(c->cacert);
    rt_url_free(c->base);
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
    rt_order_opts oo;
    rt_backoff_policy bp;
    rt_poll_client *c;
    rt_url *u = NULL;
    struct curl_slist *n;
    const char *const *hp;
    int rc;

    if (out == NULL)
        return RT_EINVAL;
    *out = NULL;
    if (loop == NULL || url == NULL || cbs == NULL ||
        cbs->on_message == NULL)
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
    rc = rt_url_parse(&u, url, NULL, 0);
    if (rc != 0)
        return rc;
    if (rt_url_get_scheme(u) != RT_URL_HTTP &&
        rt_url_get_scheme(u) != RT_URL_HTTPS) {
        rt_url_free(u);
        return RT_EURL;
    }
    c = rt__calloc(1, sizeof(*c));
    if (c == NULL) {
        rt_url_free(u);
        return RT_ENOMEM;
    }
    c->base = u;
    rt__buf_init(&c->body);
    rc = RT_ENOMEM;
    if (o->cacert != NULL &&
        (c->cacert = rt__strndup(o->cacert, strlen(o->cacert))) == NULL)
        goto fail;
    for (hp = o->headers; hp != NULL && *hp != NULL; hp++) {
        if ((n = curl_slist_append(c->user_headers, *hp)) == NULL)
            goto fail;
        c->user_headers = n;
    }
    if ((n = curl_slist_append(c->user_headers, "Accept: application/json"))
        == NULL)
        goto fail;
    c->user_headers = n;
    bp = o->backoff;
    if (o->max_retries != 0)
        bp.max_attempts = o->max_retries;
    if ((rc = rt_backoff_init(&c->backoff, &bp)) != 0)
        goto fail;
    rt_order_opts_init(&oo);
    oo.free_msg = free_held;
    rc = rt_order_new(&c->order, &oo, o->has_since ? o->since + 1 : 1,
                      deliver, c);
    if (rc != 0)
        goto fail;
    c->has_pos = o->has_since;
    c->since = o->has_since ? o->since : 0;
    if (o->epoch != NULL)
        memcpy(c->epoch, o->epoch, strlen(o->epoch) + 1);
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
    rt_order_free(c->order);
    curl_slist_free_all(c->user_headers);
    rt__free(c->cacert);
    rt_url_free(c->base);
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
    return c == NULL ? 0 : rt_backoff_attempt(&c->backoff);
}

int rt_poll_client_position(const rt_poll_client *c, uint64_t *seq,
                            const char **epoch)
{
    if (seq != NULL)
        *seq = c != NULL ? c->since : 0;
    if (epoch != NULL)
        *epoch = c != NULL ? c->epoch : "";
    return c != NULL && c->has_pos;
}
