/*
 * loop.c: one libuv loop and one libcurl multi handle, joined through
 * curl_multi_socket_action() as curl's docs/examples/multi-uv.c does it:
 * curl names the sockets to watch (socket callback -> a uv_poll_t each)
 * and the next timeout (timer callback -> one uv_timer_t); readiness and
 * expiry go back to curl, and finished transfers are handed to their
 * owners.
 *
 * Invariants:
 * - A poll context is freed only from its uv_close callback.  It is on
 *   the loop's list from creation to uv_close, so rt_loop_free() can close
 *   whatever curl still watches before curl_multi_cleanup().
 * - The curl timer runs only while transfers exist: a timer curl left
 *   armed after its last transfer must not keep rt_loop_run() going.
 * - curl_global_init() and curl_global_cleanup() are paired by a count of
 *   live loops.
 */
#include <stdlib.h>
#include <string.h>

#include "net_int.h"
#include "rt/version.h"

struct pollctx {
    uv_poll_t poll;
    curl_socket_t fd;
    struct rt_loop *l;
    struct pollctx *prev, *next;
};

struct rt_loop {
    uv_loop_t *uv;
    uv_loop_t own; /* used when no loop was lent */
    int owned;
    CURLM *multi;
    uv_timer_t timer;
    struct pollctx *polls;
    unsigned nxfers;
    int freeing;
    uint64_t rng; /* fallback when uv_random() fails */
    char *rbuf;   /* the WebSocket connections' read buffer, shared */
};

static unsigned curl_users;

uv_loop_t *rt__loop_uv(rt_loop *l)
{
    return l->uv;
}

struct uv_loop_s *rt_loop_uv(rt_loop *l)
{
    return l == NULL ? NULL : l->uv;
}

/*
 * One read buffer serves every WebSocket connection of the loop: a read
 * is parsed (and what must stay copied) before the loop reads again, so
 * an idle connection holds none.
 */
char *rt__loop_rbuf(rt_loop *l)
{
    if (l->rbuf == NULL)
        l->rbuf = rt__malloc(RT__LOOP_RBUF);
    return l->rbuf;
}

uint32_t rt__loop_rand32(rt_loop *l)
{
    uint32_t v;

    if (uv_random(NULL, NULL, &v, sizeof(v), 0, NULL) == 0)
        return v;
    /* xorshift64*, seeded from the clock: jitter, not secrets. */
    l->rng ^= l->rng >> 12;
    l->rng ^= l->rng << 25;
    l->rng ^= l->rng >> 27;
    return (uint32_t)((l->rng * 2685821657736338717ULL) >> 32);
}

static void check_multi_info(rt_loop *l)
{
    CURLMsg *m;
    int pending;
    rt__xfer *x;

    while ((m = curl_multi_info_read(l->multi, &pending)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        x = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        if (x != NULL)
            x->done(x, m->data.result); /* removes the handle */
        else
            rt__loop_remove(l, m->easy_handle);
    }
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct pollctx *pc = h->data;
    rt_loop *l = pc->l;
    int running, flags = 0;

    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(l->multi, pc->fd, flags, &running);
    check_multi_info(l);
}

static void on_timer(uv_timer_t *t)
{
    rt_loop *l = t->data;
    int running;

    curl_multi_socket_action(l->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_multi_info(l);
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    rt_loop *l = userp;

    (void)multi;
    if (l->freeing)
        return 0;
    if (timeout_ms < 0 || l->nxfers == 0)
        uv_timer_stop(&l->timer);
    else
        /* 0 means "now": do it on the next turn, not from inside curl. */
        uv_timer_start(&l->timer, on_timer,
                       timeout_ms == 0 ? 1 : (uint64_t)timeout_ms, 0);
    return 0;
}

static void on_poll_closed(uv_handle_t *h)
{
    rt__free(h->data);
}

static void pollctx_close(struct pollctx *pc)
{
    rt_loop *l = pc->l;

    if (pc->prev != NULL)
        pc->prev->next = pc->next;
    else
        l->polls = pc->next;
    if (pc->next != NULL)
        pc->next->prev = pc->prev;
    uv_poll_stop(&pc->poll);
    uv_close((uv_handle_t *)&pc->poll, on_poll_closed);
}

static int socket_cb(CURL *easy, curl_socket_t s, int action, void *userp,
                     void *socketp)
{
    rt_loop *l = userp;
    struct pollctx *pc = socketp;
    int events = 0;

    (void)easy;
    if (l->freeing)
        return 0;
    switch (action) {
    case CURL_POLL_IN:
    case CURL_POLL_OUT:
    case CURL_POLL_INOUT:
        if (pc == NULL) {
            pc = rt__calloc(1, sizeof(*pc));
            if (pc == NULL)
                return -1; /* curl fails the transfer */
            if (uv_poll_init_socket(l->uv, &pc->poll, s) != 0) {
                rt__free(pc);
                return -1;
            }
            pc->fd = s;
            pc->l = l;
            pc->poll.data = pc;
            pc->next = l->polls;
            if (l->polls != NULL)
                l->polls->prev = pc;
            l->polls = pc;
            curl_multi_assign(l->multi, s, pc);
        }
        if (action != CURL_POLL_IN)
            events |= UV_WRITABLE;
        if (action != CURL_POLL_OUT)
            events |= UV_READABLE;
        uv_poll_start(&pc->poll, events, on_poll);
        break;
    case CURL_POLL_REMOVE:
        if (pc != NULL) {
            curl_multi_assign(l->multi, s, NULL);
            pollctx_close(pc);
        }
        break;
    default:
        break;
    }
    return 0;
}

int rt__loop_add(rt_loop *l, CURL *easy)
{
    /* Counted first: curl arms its timer from inside the add. */
    l->nxfers++;
    if (curl_multi_add_handle(l->multi, easy) != CURLM_OK) {
        l->nxfers--;
        return RT_ENOMEM;
    }
    return 0;
}

void rt__loop_remove(rt_loop *l, CURL *easy)
{
    if (curl_multi_remove_handle(l->multi, easy) == CURLM_OK && l->nxfers > 0)
        l->nxfers--;
    if (l->nxfers == 0)
        uv_timer_stop(&l->timer);
}

int rt_loop_new(rt_loop **out, struct uv_loop_s *uv)
{
    rt_loop *l;

    if (out == NULL)
        return RT_EINVAL;
    *out = NULL;
    l = rt__calloc(1, sizeof(*l));
    if (l == NULL)
        return RT_ENOMEM;
    if (uv != NULL) {
        l->uv = uv;
    } else {
        if (uv_loop_init(&l->own) != 0) {
            rt__free(l);
            return RT_ESTATE;
        }
        l->uv = &l->own;
        l->owned = 1;
    }
    if (curl_users == 0 && curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
        goto fail;
    curl_users++;
    l->multi = curl_multi_init();
    if (l->multi == NULL) {
        if (--curl_users == 0)
            curl_global_cleanup();
        goto fail;
    }
    curl_multi_setopt(l->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(l->multi, CURLMOPT_SOCKETDATA, l);
    curl_multi_setopt(l->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(l->multi, CURLMOPT_TIMERDATA, l);
    uv_timer_init(l->uv, &l->timer);
    l->timer.data = l;
    l->rng = uv_hrtime() ^ 0x9e3779b97f4a7c15ULL;
    *out = l;
    return 0;

fail:
    if (l->owned)
        uv_loop_close(&l->own);
    rt__free(l);
    return RT_ESTATE;
}

int rt_loop_run(rt_loop *l)
{
    if (l == NULL)
        return RT_EINVAL;
    uv_run(l->uv, UV_RUN_DEFAULT);
    return 0;
}

static void on_timer_closed(uv_handle_t *h)
{
    rt_loop *l = h->data;

    if (l->owned)
        return;
    rt__free(l->rbuf);
    rt__free(l);
}

void rt_loop_free(rt_loop *l)
{
    if (l == NULL)
        return;
    l->freeing = 1;
    /* Stop watching sockets before curl closes them in its cleanup. */
    while (l->polls != NULL)
        pollctx_close(l->polls);
    curl_multi_cleanup(l->multi);
    if (--curl_users == 0)
        curl_global_cleanup();
    uv_close((uv_handle_t *)&l->timer, on_timer_closed);
    if (l->owned) {
        uv_run(&l->own, UV_RUN_DEFAULT);
        uv_loop_close(&l->own);
        rt__free(l->rbuf);
        rt__free(l);
    }
}

/* --- helpers the HTTP clients share */

int rt__net_ieq_prefix(const char *s, size_t len, const char *p)
{
    size_t n = strlen(p), i;

    if (len < n)
        return 0;
    for (i = 0; i < n; i++) {
        char a = s[i], b = p[i];

        if (a >= 'A' && a <= 'Z')
            a = (char)(a - 'A' + 'a');
        if (a != b)
            return 0;
    }
    return 1;
}

/* Trim |s|..|len| of spaces, tabs and the line end, into |out|. */
void rt__net_copy_value(char *out, size_t outlen, const char *s, size_t len)
{
    while (len > 0 && (*s == ' ' || *s == '\t'))
        s++, len--;
    while (len > 0 && (s[len - 1] == '\r' || s[len - 1] == '\n' ||
                       s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len >= outlen)
        len = outlen - 1;
    memcpy(out, s, len);
    out[len] = '\0';
}

int rt__net_header_safe(const char *s)
{
    return strpbrk(s, "\r\n") == NULL;
}

int rt_loop_curl_err(int curl_code)
{
    return rt__net_map_curl((CURLcode)curl_code);
}

long rt__net_headers_check(const char *const *headers)
{
    const char *const *hp;
    long n = 0;

    for (hp = headers; hp != NULL && *hp != NULL; hp++, n++)
        if (strchr(*hp, ':') == NULL || **hp == ':' ||
            !rt__net_header_safe(*hp))
            return -1;
    return n;
}

int rt__net_epoch_valid(const char *s, size_t len)
{
    size_t i;

    if (len < 1 || len > RT__EPOCH_MAX)
        return 0;
    for (i = 0; i < len; i++) {
        char ch = s[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9')))
            return 0;
    }
    return 1;
}

int rt__net_next_delay(rt_loop *l, rt__failover *f, char *errmsg,
                       size_t errlen, uint64_t *delay_ms)
{
    uint32_t attempts;
    char *last;

    if (rt__failover_next(f, rt__loop_rand32(l), delay_ms) == 0)
        return 0;
    attempts = rt_backoff_attempt(&f->backoff);
    last = rt__strndup(errmsg, strlen(errmsg));
    if (f->n > 1)
        rt__seterr(errmsg, errlen,
                   "gave up after %u retr%s of %zu URLs each: %.400s",
                   attempts, attempts == 1 ? "y" : "ies", f->n,
                   last != NULL ? last : "");
    else
        rt__seterr(errmsg, errlen, "gave up after %u retr%s: %.400s", attempts,
                   attempts == 1 ? "y" : "ies", last != NULL ? last : "");
    rt__free(last);
    return RT_EEXHAUSTED;
}

CURL *rt__net_easy_new(const rt__easy_opts *o)
{
    CURL *e = curl_easy_init();

    if (e == NULL)
        return NULL;
    curl_easy_setopt(e, CURLOPT_URL, o->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, o->xfer);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, o->headers);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, o->on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, o->ud);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, o->on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, o->ud);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, o->errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "rtctl/" RT_VERSION_STRING);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION,
                     o->max_redirects > 0 ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, o->max_redirects);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#endif
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)o->connect_timeout_ms);
    if (o->timeout_ms > 0)
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)o->timeout_ms);
    if (o->cacert != NULL)
        curl_easy_setopt(e, CURLOPT_CAINFO, o->cacert);
    if (o->cert != NULL)
        curl_easy_setopt(e, CURLOPT_SSLCERT, o->cert);
    if (o->key != NULL)
        curl_easy_setopt(e, CURLOPT_SSLKEY, o->key);
    if (o->proxy != NULL)
        curl_easy_setopt(e, CURLOPT_PROXY, o->proxy);
    if (o->insecure) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    return e;
}

int rt__net_map_curl(CURLcode res)
{
    switch (res) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return RT_EDNS;
    case CURLE_COULDNT_CONNECT:
        return RT_ECONNREFUSED;
    case CURLE_OPERATION_TIMEDOUT:
        return RT_ETIMEDOUT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_USE_SSL_FAILED:
        return RT_ETLS;
    case CURLE_OUT_OF_MEMORY:
        return RT_ENOMEM;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        return RT_EURL;
    default:
        return RT_ECLOSED;
    }
}
