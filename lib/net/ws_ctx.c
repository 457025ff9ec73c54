/*
 * ws_ctx.c: the libwebsockets context the WebSocket clients of one rt_loop
 * share, on that loop's libuv loop (a "foreign loop" to lws).
 *
 * The context is created when the first client connects and lives as long
 * as the rt_loop.  TLS trust, the client certificate and the HTTP proxy
 * are per vhost in lws, so each distinct set of them a client asks for
 * gets a vhost of its own, made once and kept.
 *
 * permessage-deflate only on request (opts.compress): the lws 4.1 client
 * parser, given a message the server sent uncompressed (RSV1 clear, which
 * RFC 7692 allows and lws servers do for small messages, rtctl serve
 * --compress included), hands the same payload to the callback again and
 * again and never reads on.  That was the "stall after the first frame"
 * of our protocol, whose welcome is small.  ws_client.c notices the
 * repetition and ends the connection with RT_EPROTO; servers that
 * compress every message (Node's ws, python3-websockets) work.
 *
 * lws keeps a few handles of its own on the loop (its timer, its idle
 * handle, the poll of its event pipe).  They are unreferenced, so that rt_loop_run() returns once the
 * clients are done, as it does for the curl-based clients: the handles a
 * live connection needs (its socket poll) are created later and keep their
 * reference.
 *
 * Teardown on a foreign loop takes two lws_context_destroy() calls: the
 * first closes lws's handles, which needs the loop to run; the second,
 * once they are closed, frees the rest (rt_loop_free() orders this).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>
#include <openssl/x509.h>

#include "net_int.h"
#include "ws_int.h"

#define RX_CHUNK 16384

static const struct lws_extension extensions[] = {
    {"permessage-deflate", lws_extension_callback_pm_deflate,
     "permessage-deflate; client_max_window_bits"},
    {NULL, NULL, NULL}};

static const struct lws_protocols protocols[] = {
    {RT__WS_PROTOCOL, rt__wsc_callback, 0, RX_CHUNK, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0}};

struct vhost_entry {
    struct vhost_entry *next;
    char *cacert;             /* NULL: the system's store */
    char *cert, *key, *proxy; /* NULL: none */
    int compress;
    struct lws_vhost *vh;
};

static void entry_free(struct vhost_entry *e)
{
    rt__free(e->cacert);
    rt__free(e->cert);
    rt__free(e->key);
    rt__free(e->proxy);
    rt__free(e);
}

static int dup_field(char **out, const char *s)
{
    *out = NULL;
    if (s == NULL)
        return 0;
    *out = rt__strndup(s, strlen(s));
    return *out == NULL ? RT_ENOMEM : 0;
}

static int same(const char *a, const char *b)
{
    return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

struct rt__ws_ctx {
    struct lws_context *ctx;
    struct vhost_entry *vhosts;
    unsigned nvhosts;
};

/* --- unreferencing what lws adds to the loop */

struct handle_set {
    uv_handle_t **h;
    size_t n, cap;
};

static void collect(uv_handle_t *h, void *arg)
{
    struct handle_set *s = arg;
    uv_handle_t **nh;

    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        nh = rt__malloc(s->cap * sizeof(*nh));
        if (nh == NULL) {
            s->cap = s->n;
            return;
        }
        if (s->n > 0)
            memcpy(nh, s->h, s->n * sizeof(*nh));
        rt__free(s->h);
        s->h = nh;
    }
    s->h[s->n++] = h;
}

static void unref_new(uv_handle_t *h, void *arg)
{
    struct handle_set *s = arg;
    size_t i;

    for (i = 0; i < s->n; i++)
        if (s->h[i] == h)
            return;
    uv_unref(h); /* its event pipe's poll too: no connection exists yet */
}

/* --- the context and its vhosts */

static int make_context(rt_loop *l, struct rt__ws_ctx *w)
{
    struct lws_context_creation_info info;
    struct handle_set before = {NULL, 0, 0};
    void *foreign[1];

    foreign[0] = rt__loop_uv(l);
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.options = LWS_SERVER_OPTION_LIBUV |
                   LWS_SERVER_OPTION_UV_NO_SIGSEGV_SIGFPE_SPIN |
                   LWS_SERVER_OPTION_EXPLICIT_VHOSTS |
                   LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT |
                   LWS_SERVER_OPTION_VALIDATE_UTF8 |
                   /* else lws sends "Origin: http://" + origin */
                   LWS_SERVER_OPTION_JUST_USE_RAW_ORIGIN;
    info.foreign_loops = foreign;
    info.timeout_secs = 30;
    info.fd_limit_per_thread = 0;
    /* lws logs to stderr; the clients report through their callbacks. */
    if (getenv("RTCTL_LWS_DEBUG") == NULL)
        lws_set_log_level(0, NULL);
    uv_walk(rt__loop_uv(l), collect, &before);
    w->ctx = lws_create_context(&info);
    if (w->ctx != NULL)
        uv_walk(rt__loop_uv(l), unref_new, &before);
    rt__free(before.h);
    return w->ctx == NULL ? RT_ESTATE : 0;
}

static int make_vhost(struct rt__ws_ctx *w, const struct rt__ws_vhost_key *k,
                      struct lws_vhost **out)
{
    struct lws_context_creation_info info;
    struct vhost_entry *e;
    char name[32];
    const char *cacert = k->cacert;

    e = rt__calloc(1, sizeof(*e));
    if (e == NULL)
        return RT_ENOMEM;
    if (dup_field(&e->cacert, k->cacert) != 0 ||
        dup_field(&e->cert, k->cert) != 0 || dup_field(&e->key, k->key) != 0 ||
        dup_field(&e->proxy, k->proxy) != 0) {
        entry_free(e);
        return RT_ENOMEM;
    }
    snprintf(name, sizeof(name), "rtctl-client-%u", w->nvhosts);
    memset(&info, 0, sizeof(info));
    info.vhost_name = name;
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    /* The system's trust store, as OpenSSL itself would find it. */
    info.client_ssl_ca_filepath =
        cacert != NULL ? cacert : X509_get_default_cert_file();
    info.client_ssl_cert_filepath = k->cert;
    info.client_ssl_private_key_filepath = k->key != NULL ? k->key : k->cert;
    /*
     * ws_client.c has read the environment already; with NULL lws would
     * take $http_proxy itself, NO_PROXY or not, and "" sets no proxy.
     */
    info.http_proxy_address = k->proxy != NULL ? k->proxy : "";
    if (k->compress)
        info.extensions = extensions;
    e->compress = k->compress;
    e->vh = lws_create_vhost(w->ctx, &info);
    if (e->vh == NULL) {
        entry_free(e);
        /* lws refuses a vhost whose CA, certificate or key it cannot load */
        return cacert != NULL || k->cert != NULL ? RT_ETLS : RT_ESTATE;
    }
    e->next = w->vhosts;
    w->vhosts = e;
    w->nvhosts++;
    *out = e->vh;
    return 0;
}

int rt__loop_ws_vhost(rt_loop *l, const struct rt__ws_vhost_key *k,
                      struct lws_context **ctx, struct lws_vhost **out)
{
    struct rt__ws_ctx **slot = rt__loop_ws_slot(l), *w = *slot;
    struct vhost_entry *e;
    int rc;

    if (w == NULL) {
        w = rt__calloc(1, sizeof(*w));
        if (w == NULL)
            return RT_ENOMEM;
        if ((rc = make_context(l, w)) != 0) {
            rt__free(w);
            return rc;
        }
        *slot = w;
    }
    *ctx = w->ctx;
    for (e = w->vhosts; e != NULL; e = e->next) {
        if (!same(e->cacert, k->cacert) || !same(e->cert, k->cert) ||
            !same(e->key, k->key) || !same(e->proxy, k->proxy) ||
            e->compress != k->compress)
            continue;
        *out = e->vh;
        return 0;
    }
    return make_vhost(w, k, out);
}

void rt__ws_ctx_destroy(struct rt__ws_ctx *w, int phase)
{
    struct vhost_entry *e;

    if (w == NULL)
        return;
    lws_context_destroy(w->ctx);
    if (phase == 1)
        return;
    while ((e = w->vhosts) != NULL) {
        w->vhosts = e->next;
        entry_free(e);
    }
    rt__free(w);
}
