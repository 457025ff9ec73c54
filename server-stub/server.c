/*
 * server.c: the server's life: the libwebsockets context on the caller's
 * libuv loop (a foreign loop), the one protocol callback that routes every
 * connection, a 100 ms tick for the timeouts of presence, SSE keepalives
 * and long polls, logging, and the graceful shutdown of PROTOCOL.md
 * section 5 (close 1001 to every WebSocket, end SSE and polls, all within
 * a second).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "server_int.h"

static rt_server *log_server; /* lws's log hook has no user pointer */

/*
 * How much of a connection's input lws reads and parses in one pass.  The
 * frames of one pass are broadcast before the loop turn ends and are
 * written to every receiver together, so this sets how many messages share
 * a write: with lws's default of 4 KiB a publisher's burst of small
 * messages cost one write per receiver every 40 messages or so, and the
 * fan-out benchmark ran at half of Bun's rate; at 16 KiB it passes it.
 * Measured: idle connections cost the same (the buffer is not held per
 * connection), and 64 KiB gains nothing more.
 */
#define RT_RX_CHUNK 16384

static void lws_log(int level, const char *line)
{
    size_t n = strlen(line);

    if (log_server == NULL)
        return;
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    /* lws says this of every HTTP/1 SSE stream; it is not a problem. */
    if (strstr(line, "not h2 substream") != NULL)
        return;
    rt__srv_log(log_server,
                level == LLL_ERR ? RT_SERVER_LOG_WARN : RT_SERVER_LOG_DEBUG,
                "lws: %.*s", (int)n, line);
}

/* The core's clock: the loop's, and the wall clock for timestamps. */
uint64_t rt__srv_now_ms(rt_server *s)
{
    struct timeval tv;

    uv_update_time(s->sh->loop);
    s->now_ms = uv_now(s->sh->loop);
    gettimeofday(&tv, NULL);
    s->wall = (double)tv.tv_sec + (double)(tv.tv_usec / 1000) / 1000.0;
    return s->now_ms;
}

/* ------------------------------------------------ what the core asks */

static void io_kill(struct conn *c, uint16_t code, const char *reason)
{
    if ((c->kind == CONN_WS || c->kind == CONN_ECHO) && code != 0)
        lws_close_reason(c->wsi, (enum lws_close_status)code,
                         (unsigned char *)reason, strlen(reason));
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
}

static void io_linger(struct conn *c, unsigned secs)
{
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, (int)secs);
}

static void io_respond(struct conn *c)
{
    lws_rx_flow_control(c->wsi, 1); /* off while a poll waited: conn.c */
    lws_callback_on_writable(c->wsi);
}

static void io_attached(struct conn *c, struct room *r, int what, int ok)
{
    switch (what) {
    case WAIT_SSE:
        rt__sse_attached(c, r, ok);
        break;
    case WAIT_POLL:
        rt__poll_attached(c, r, ok);
        break;
    case WAIT_PUBLISH:
        rt__http_publish_attached(c, r, ok);
        break;
    default:
        break;
    }
}

const struct rt__io rt__shell_io = {io_kill, io_linger, io_respond,
                                    io_attached};

/* -------------------------------------------------------- routing */

static int callback(struct lws *wsi, enum lws_callback_reasons reason,
                    void *user, void *in, size_t len)
{
    struct lws_context *ctx = lws_get_context(wsi);
    rt_server *s = ctx ? lws_context_user(ctx) : NULL;
    struct conn *c = user;

    if (s == NULL)
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    rt__srv_now_ms(s);
    if (reason == LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED) {
        /* the gate checked the address; it counts from here under wsi */
        if (s->sh->adopting != NULL)
            rt__peer_add(s, wsi, (const struct sockaddr *)s->sh->adopting);
        return 0;
    }
    if (reason == LWS_CALLBACK_WSI_DESTROY) {
        rt__peer_del(s, wsi);
        return 0;
    }
    if (c != NULL && c->srv == NULL) {
        c->srv = s;
        c->wsi = wsi;
    }

    switch (reason) {
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return rt__ws_confirm_upgrade(wsi, c);

    case LWS_CALLBACK_ESTABLISHED:
    case LWS_CALLBACK_RECEIVE:
    case LWS_CALLBACK_RECEIVE_PONG:
    case LWS_CALLBACK_SERVER_WRITEABLE:
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
    case LWS_CALLBACK_CLOSED:
        return rt__ws_callback(wsi, reason, c, in, len);

    case LWS_CALLBACK_HTTP:
    case LWS_CALLBACK_HTTP_BODY:
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
    case LWS_CALLBACK_HTTP_WRITEABLE:
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        return rt__http_callback(wsi, reason, c, in, len);

    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* ------------------------------------------------------------ tick */

static void on_flush(uv_check_t *h)
{
    rt__conn_flush_all(h->data);
}

static void finish_shutdown(rt_server *s);

static void on_tick(uv_timer_t *t)
{
    rt_server *s = t->data;

    rt__srv_now_ms(s);
    rt__ws_tick(s);
    rt__rooms_tick(s);
    rt__sse_tick(s);
    rt__poll_tick(s);
    rt__conn_check_gone(s);
    rt__http_tick(s);
    rt__gate_tick(s);
    if (s->shutting_down &&
        (s->nconns == 0 || s->now_ms >= s->shutdown_deadline_ms))
        finish_shutdown(s);
}

/* ---------------------------------------------------------- create */

static int server_new(rt_server **out, uv_loop_t *loop,
                      const rt_server_opts *o, struct rt__engine *eng,
                      char *errbuf, size_t errlen);

int rt_server_new(rt_server **out, uv_loop_t *loop, const rt_server_opts *o,
                  char *errbuf, size_t errlen)
{
    struct rt__engine *eng = o->engine;
    int rc;

    *out = NULL;
    if (eng == NULL && (rc = rt__engine_mem_new(&eng)) != 0) {
        snprintf(errbuf, errlen, "out of memory");
        return rc;
    }
    rc = server_new(out, loop, o, eng, errbuf, errlen);
    if (rc != 0)
        rt__engine_free(eng); /* ours, whatever happened */
    return rc;
}

/* The server's two halves: the core's (first, so that s is the block). */
struct server_block {
    rt_server s;
    struct rt__shell sh;
};

static int server_new(rt_server **out, uv_loop_t *loop,
                      const rt_server_opts *o, struct rt__engine *eng,
                      char *errbuf, size_t errlen)
{
    struct server_block *all;
    struct lws_context_creation_info info;
    void *foreign[1];
    rt_server *s;
    int rc;

    *out = NULL;
    if (o->compress && o->max_message_bytes > 65536) {
        snprintf(errbuf, errlen,
                 "--compress allows a --max-message-bytes of 64k at most");
        return RT_EINVAL;
    }
    if ((o->tls_cert == NULL) != (o->tls_key == NULL)) {
        snprintf(errbuf, errlen, "--tls-cert and --tls-key go together");
        return RT_EINVAL;
    }
    if (o->max_header_bytes > RT_SERVER_MAX_HEADER_BYTES) {
        snprintf(errbuf, errlen, "--max-header-bytes is at most %d",
                 RT_SERVER_MAX_HEADER_BYTES);
        return RT_EINVAL;
    }
    /* The core's half and the shell's, in one block; s first. */
    all = rt__calloc(1, sizeof(*all));
    if (all == NULL)
        return RT_ENOMEM;
    s = &all->s;
    s->sh = &all->sh;
    rt__core_init(s, o, eng, &rt__shell_io);
    s->sh->loop = loop;
    /* Listening first: a busy port is said before anything else starts. */
    if ((rc = rt__gate_listen(s, errbuf, errlen)) != 0) {
        rt__free(s);
        return rc;
    }
    if (s->o.ping_interval_s == 0)
        s->o.ping_interval_s = 1;
    s->sh->cork = rt__malloc(LWS_PRE + RT_CORK_BYTES);
    if (s->sh->cork == NULL) {
        rt__gate_stop(s);
        rt__free(s);
        return RT_ENOMEM;
    }
    rt__srv_now_ms(s);

    /*
     * WebSocket pings are ours (ws.c): lws 4.1 sends empty pings and does
     * not report empty pongs, and presence needs to see the pongs.  Its
     * own validity timer is pushed out of the way (0 would mean "now").
     */
    s->sh->retry.secs_since_valid_ping = 65534;
    s->sh->retry.secs_since_valid_hangup = 65535;

    s->sh->protocols[0].name = "rtctl";
    s->sh->protocols[0].callback = callback;
    s->sh->protocols[0].per_session_data_size = sizeof(struct conn);
    /*
     * With permessage-deflate a message must inflate in one pass (see
     * ws.c); lws hands inflated data over in chunks of this size, so it is
     * the message limit then, at the price of that much memory per
     * connection.  --compress therefore caps --max-message-bytes at 64 KiB.
     */
    s->sh->protocols[0].rx_buffer_size =
        o->compress
            ? (o->max_message_bytes < 4096 ? 4096 : o->max_message_bytes)
            : RT_RX_CHUNK;

    memset(&info, 0, sizeof(info));
    /* A server without a listening socket: gate.c accepts and hands over. */
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.protocols = s->sh->protocols;
    info.user = s;
    info.retry_and_idle_policy = &s->sh->retry;
    /*
     * What the gate lets through must fit: lws stores the head's values
     * and target, and for each header it does not know, its name and 8
     * bytes of links; the blank line and the last name borrow a few more.
     * (RT_SERVER_MAX_HEADER_BYTES keeps this within lws's 65535.)
     */
    info.max_http_header_data =
        (unsigned short)(o->max_header_bytes +
                         8 * RT_SERVER_MAX_HEADER_FIELDS + 64);
    /*
     * Header tables are allocated as requests need them, so a big pool
     * costs nothing idle; it must be far bigger than what one address may
     * hold (--max-address-connections), or slow requests starve new ones.
     * A request that has one must finish its headers within
     * --request-timeout, counted once (a trickle does not extend it).
     */
    info.max_http_header_pool = 4096;
    info.timeout_secs_ah_idle =
        (unsigned)((o->request_timeout_ms + 999) / 1000);
    /* lws serves from one per-thread buffer that must hold a whole rx. */
    if (s->sh->protocols[0].rx_buffer_size > 4096)
        info.pt_serv_buf_size =
            (unsigned int)s->sh->protocols[0].rx_buffer_size + 4096;
    info.timeout_secs = 10;
    info.options = LWS_SERVER_OPTION_LIBUV |
                   LWS_SERVER_OPTION_UV_NO_SIGSEGV_SIGFPE_SPIN |
                   LWS_SERVER_OPTION_VALIDATE_UTF8;
    /* Without this lws binds an IPv4 --host as a dual-stack wildcard. */
    if (strchr(o->host, ':') == NULL)
        info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    if (o->tls_cert != NULL) {
        /*
         * HTTP/1.1 only: the raw writes of conn.c frame nothing, and an h2
         * stream needs lws to put its frame header in front of each one.
         */
        info.alpn = "http/1.1";
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = o->tls_cert;
        info.ssl_private_key_filepath = o->tls_key;
    }
    if (o->compress) {
        s->sh->exts[0].name = "permessage-deflate";
        s->sh->exts[0].callback = lws_extension_callback_pm_deflate;
        s->sh->exts[0].client_offer = "permessage-deflate";
        info.extensions = s->sh->exts;
    }
    foreign[0] = loop;
    info.foreign_loops = foreign;

    log_server = s;
    lws_set_log_level(o->log_level >= RT_SERVER_LOG_DEBUG
                          ? LLL_ERR | LLL_WARN | LLL_NOTICE
                          : LLL_ERR,
                      lws_log);
    s->sh->ctx = lws_create_context(&info);
    if (s->sh->ctx == NULL) {
        snprintf(errbuf, errlen, "cannot start the server on %s:%d%s", o->host,
                 o->port,
                 o->tls_cert ? " (check --tls-cert and --tls-key)" : "");
        rt__gate_stop(s);
        rt__free(s->sh->cork);
        rt__free(s);
        log_server = NULL;
        return RT_ECONNREFUSED;
    }
    s->sh->vh = lws_get_vhost_by_name(s->sh->ctx, "default");
    rt__gate_start(s);

    uv_timer_init(loop, &s->sh->tick);
    s->sh->tick.data = s;
    uv_timer_start(&s->sh->tick, on_tick, 100, 100);
    uv_check_init(loop, &s->sh->flush);
    s->sh->flush.data = s;
    uv_check_start(&s->sh->flush, on_flush);
    *out = s;
    return 0;
}

int rt_server_port(const rt_server *s)
{
    return s->port;
}

/* ------------------------------------------------------- shutdown */

void rt_server_shutdown(rt_server *s, void (*done)(rt_server *, void *),
                        void *ud)
{
    struct conn *c;

    if (s->shutting_down)
        return;
    rt__srv_now_ms(s);
    s->shutting_down = 1;
    rt__gate_stop(s); /* accept no more */
    s->shutdown_done = done;
    s->shutdown_ud = ud;
    s->shutdown_deadline_ms = s->now_ms + 1000;
    rt__srv_log(s, RT_SERVER_LOG_INFO,
                "shutting down: closing %zu connections", s->nconns);
    for (c = s->conns; c != NULL; c = c->next) {
        switch (c->kind) {
        case CONN_WS:
        case CONN_ECHO:
            rt__conn_close(c, 1001, "server shutting down");
            break;
        case CONN_SSE:
            c->closing = 1;
            lws_callback_on_writable(c->wsi);
            break;
        case CONN_POLL:
            c->poll_deadline_ms = 0; /* answer now */
            break;
        default:
            break;
        }
    }
    rt__poll_tick(s);
    if (s->nconns == 0)
        finish_shutdown(s);
}

static void tick_closed(uv_handle_t *h)
{
    rt_server *s = h->data;

    s->tick_closed = 1;
}

static void finish_shutdown(rt_server *s)
{
    void (*done)(rt_server *, void *) = s->shutdown_done;

    if (s->sh->ctx == NULL)
        return;
    uv_timer_stop(&s->sh->tick);
    uv_close((uv_handle_t *)&s->sh->tick, tick_closed);
    uv_check_stop(&s->sh->flush);
    uv_close((uv_handle_t *)&s->sh->flush, NULL);
    /*
     * On a foreign loop this only starts the teardown: lws closes its
     * handles as the loop runs, and the second call, in rt_server_free()
     * after the loop has run dry, frees what remains.
     */
    lws_context_destroy(s->sh->ctx);
    s->sh->ctx_dying = s->sh->ctx;
    s->sh->ctx = NULL;
    s->shutdown_done = NULL;
    if (done)
        done(s, s->shutdown_ud);
}

void rt_server_free(rt_server *s)
{
    if (s == NULL)
        return;
    if (s->sh->ctx != NULL) {
        uv_timer_stop(&s->sh->tick);
        lws_context_destroy(s->sh->ctx);
        s->sh->ctx = NULL;
    }
    if (s->sh->ctx_dying != NULL) {
        lws_context_destroy(s->sh->ctx_dying);
        s->sh->ctx_dying = NULL;
    }
    if (!s->shutting_down)
        rt__gate_stop(s);
    rt__core_cleanup(s);
    rt__peers_free(s);
    rt__free(s->sh->cork);
    if (log_server == s)
        log_server = NULL;
    rt__free(s);
}
