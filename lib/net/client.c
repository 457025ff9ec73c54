/*
 * client.c: the base the three reconnecting clients embed (net_int.h),
 * and what their HTTP answers share: the header lines the curl clients
 * read, the statuses every client stops on.
 *
 * Invariants:
 * - Once b->closing is set the retry timer serves only to finalize: a
 *   pending attempt is simply replaced, and rt__client_retry() starts
 *   none.
 * - ops->closed() runs once, from the close callback of the last of the
 *   timers; nothing of the client is touched after it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "net_int.h"

void rt_conn_opts_init(rt_conn_opts *o)
{
    if (o == NULL)
        return;
    memset(o, 0, sizeof(*o));
    o->connect_timeout_ms = 10000;
    rt_backoff_policy_init(&o->backoff);
}

const char *rt_conn_state_name(rt_conn_state st)
{
    switch (st) {
    case RT_CONN_CONNECTING:
        return "connecting";
    case RT_CONN_OPEN:
        return "open";
    case RT_CONN_BACKOFF:
        return "backoff";
    case RT_CONN_CLOSED:
        return "closed";
    default:
        return "?";
    }
}

static int dup_opt(char **out, const char *s)
{
    if (s == NULL)
        return 0;
    *out = rt__strndup(s, strlen(s));
    return *out == NULL ? RT_ENOMEM : 0;
}

int rt__client_init(rt__client *b, const rt__client_ops *ops, rt_loop *loop,
                    const char *url, const rt_conn_opts *o,
                    rt__failover_accept accept)
{
    int rc;

    memset(b, 0, sizeof(*b));
    rc = rt__failover_init(&b->fo, &o->backoff, url, o->failover_urls, accept,
                           NULL);
    if (rc != 0)
        return rc;
    if (dup_opt(&b->cacert, o->cacert) != 0 ||
        dup_opt(&b->cert, o->cert) != 0 || dup_opt(&b->key, o->key) != 0 ||
        dup_opt(&b->proxy, o->proxy) != 0) {
        rt__client_cleanup(b);
        return RT_ENOMEM;
    }
    b->ops = ops;
    b->loop = loop;
    b->insecure = o->insecure;
    b->no_reconnect = o->no_reconnect;
    b->connect_timeout_ms = o->connect_timeout_ms;
    return 0;
}

void rt__client_cleanup(rt__client *b)
{
    rt__free(b->cacert);
    rt__free(b->cert);
    rt__free(b->key);
    rt__free(b->proxy);
    b->cacert = b->cert = b->key = b->proxy = NULL;
    rt__failover_cleanup(&b->fo);
}

void rt__client_timers(rt__client *b, uv_timer_t **t, int n)
{
    int i;

    uv_timer_init(rt__loop_uv(b->loop), &b->retry_timer);
    b->retry_timer.data = b;
    for (i = 0; i < n && i < RT__CLIENT_TIMERS; i++) {
        uv_timer_init(rt__loop_uv(b->loop), t[i]);
        t[i]->data = b;
        b->timers[i] = t[i];
    }
    b->ntimers = i;
}

uint64_t rt__client_now(rt__client *b)
{
    return uv_now(rt__loop_uv(b->loop));
}

void rt__client_errf(rt__client *b, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(b->errmsg, sizeof(b->errmsg), fmt, ap);
    va_end(ap);
}

void rt__client_fail(rt__client *b, int err, int final, const char *fmt, ...)
{
    va_list ap;

    if (b->fail_err != 0)
        return;
    b->fail_err = err;
    b->fail_final = final;
    va_start(ap, fmt);
    vsnprintf(b->errmsg, sizeof(b->errmsg), fmt, ap);
    va_end(ap);
}

void rt__client_attempt_begins(rt__client *b)
{
    b->fail_err = b->fail_final = 0;
}

void rt__client_state(rt__client *b, rt_conn_state st, uint64_t delay_ms,
                      int err)
{
    b->ops->state(b, st, delay_ms, err, err != 0 ? b->errmsg : "");
}

int rt__client_start(rt__client *b)
{
    int rc;

    if (b->started || b->closing)
        return RT_ESTATE;
    if ((rc = b->ops->connect(b)) != 0)
        return rc;
    b->started = 1;
    rt__client_state(b, RT_CONN_CONNECTING, 0, 0);
    return 0;
}

static void attempt(rt__client *b, int announce)
{
    int rc = b->ops->connect(b);

    if (rc != 0) {
        rt__client_errf(b, "cannot start a request: %s", rt_strerror(rc));
        rt__client_begin_close(b, rc);
        return;
    }
    if (announce)
        rt__client_state(b, RT_CONN_CONNECTING, 0, 0);
}

static void on_retry(uv_timer_t *t)
{
    attempt(t->data, 1);
}

static void on_again(uv_timer_t *t)
{
    attempt(t->data, 0);
}

void rt__client_again(rt__client *b)
{
    uv_timer_start(&b->retry_timer, on_again, 0, 0);
}

void rt__client_retry(rt__client *b, int err, int final,
                      const char *retry_after)
{
    uint64_t delay = 0;
    int rc;

    if (final || (b->no_reconnect && !rt__failover_untried(&b->fo))) {
        rt__client_begin_close(b, err);
        return;
    }
    if (retry_after != NULL && retry_after[0] != '\0')
        rt_backoff_retry_after(&b->fo.backoff, retry_after,
                               strlen(retry_after), (int64_t)time(NULL));
    if (rt__net_next_delay(b->loop, &b->fo, b->errmsg, sizeof(b->errmsg),
                           &delay) != 0) {
        rt__client_begin_close(b, RT_EEXHAUSTED);
        return;
    }
    if (b->ops->moved != NULL && (rc = b->ops->moved(b)) != 0) {
        rt__client_errf(b, "cannot move to %s: %s", rt__failover_str(&b->fo),
                        rt_strerror(rc));
        rt__client_begin_close(b, rc);
        return;
    }
    rt__client_state(b, RT_CONN_BACKOFF, delay, err);
    if (!b->closing)
        uv_timer_start(&b->retry_timer, on_retry, delay, 0);
}

static void on_finalize(uv_timer_t *t)
{
    rt__client_finalize(t->data);
}

void rt__client_begin_close(rt__client *b, int err)
{
    if (b->closing)
        return;
    b->closing = 1;
    b->close_err = err;
    if (b->ops->stop(b))
        uv_timer_start(&b->retry_timer, on_finalize, 0, 0);
}

void rt__client_close(rt__client *b)
{
    if (b->closing)
        return;
    b->errmsg[0] = '\0';
    rt__client_begin_close(b, 0);
}

static void on_handle_closed(uv_handle_t *h)
{
    rt__client *b = h->data;

    if (--b->handles > 0)
        return;
    b->ops->closed(b);
}

void rt__client_finalize(rt__client *b)
{
    int i;

    if (b->finalized)
        return;
    b->finalized = 1;
    if (b->ops->finalize != NULL)
        b->ops->finalize(b);
    rt__client_state(b, RT_CONN_CLOSED, 0, b->close_err);
    b->handles = 1 + b->ntimers;
    uv_close((uv_handle_t *)&b->retry_timer, on_handle_closed);
    for (i = 0; i < b->ntimers; i++)
        uv_close((uv_handle_t *)b->timers[i], on_handle_closed);
}

uint32_t rt__client_attempt(const rt__client *b)
{
    return rt_backoff_attempt(&b->fo.backoff);
}

CURL *rt__client_easy(const rt__client *b, rt__easy_opts *eo)
{
    eo->connect_timeout_ms = b->connect_timeout_ms;
    eo->cacert = b->cacert;
    eo->cert = b->cert;
    eo->key = b->key;
    eo->proxy = b->proxy;
    eo->insecure = b->insecure;
    return rt__net_easy_new(eo);
}

/* --- what the HTTP answers share */

int rt__net_slist_add(struct curl_slist **list, const char *const *headers)
{
    const char *const *hp;
    struct curl_slist *n;

    for (hp = headers; hp != NULL && *hp != NULL; hp++) {
        if ((n = curl_slist_append(*list, *hp)) == NULL)
            return RT_ENOMEM;
        *list = n;
    }
    return 0;
}

int rt__net_header(rt__http_hdrs *h, const char *b, size_t len)
{
    const char *sp;

    if (rt__net_ieq_prefix(b, len, "http/")) {
        h->retry_after[0] = '\0';
        h->reason[0] = '\0';
        h->location[0] = '\0';
        sp = memchr(b, ' ', len);
        if (sp != NULL)
            sp = memchr(sp + 1, ' ', len - (size_t)(sp + 1 - b));
        if (sp != NULL)
            rt__net_copy_value(h->reason, sizeof(h->reason), sp + 1,
                               len - (size_t)(sp + 1 - b));
        return RT__HDR_STATUS;
    }
    if (rt__net_ieq_prefix(b, len, "retry-after:"))
        rt__net_copy_value(h->retry_after, sizeof(h->retry_after), b + 12,
                           len - 12);
    else if (rt__net_ieq_prefix(b, len, "location:"))
        rt__net_copy_value(h->location, sizeof(h->location), b + 9, len - 9);
    else if ((len == 2 && b[0] == '\r') || (len == 1 && b[0] == '\n'))
        return RT__HDR_END;
    return RT__HDR_FIELD;
}

int rt__net_status_final(long code)
{
    return code == 400 || code == 401 || code == 403 || code == 404 ||
           code == 405;
}
