/*
 * ws_client.c: the reconnecting WebSocket client (rt/ws_client.h), on the
 * rt_loop's libuv loop.
 *
 * Spec: RFC 6455; PROTOCOL.md sections 3 (welcome, ack, error frames),
 * 4 (resume with since and epoch, the resumed frame, ordering) and 5 (which
 * close codes and statuses stop a client); rt/backoff.h for the delays.
 *
 * One connection per attempt, a wire (ws_wire.c): libuv and the
 * project's own codec, which sees every frame, the server's pings
 * included (libwebsockets 4.1, which this client used before, answered
 * them out of sight), and which has permessage-deflate (ws_deflate.c).
 * The wire's on_end is the one signal taken as "the attempt is over";
 * the decision (reconnect, stop) is made on the next loop turn from what
 * the attempt recorded, outside every callback.
 *
 * The loop, the backoff, the retry timer, the state, the failure of an
 * attempt and the order of closing are the client base's (client.c).
 *
 * Invariants:
 * - c->attempt_live is 1 from rt__wire_start() until the wire's on_end;
 *   c->wire is non-NULL only during it.  The client's memory is freed
 *   only when no attempt is live, so the wire never calls back into
 *   freed memory.
 * - Once c->b.closing is set no on_message/on_frame fires; the
 *   connection is closed (1000 when open), and the base finalizes when
 *   the attempt is over: unacknowledged messages reported (ws_finalize()),
 *   CLOSED, the timers closed, on_closed from the last close callback.
 * - What the frames mean (the welcome, the replay and the resumed frame,
 *   ordering, acks) and the outgoing queue live in the sans-I/O core
 *   c->proto (lib/core/ws_proto.c): this file feeds it parsed frames and
 *   the time, writes what it hands out, arms the gap timer from its
 *   deadline and replaces the connection when it asks.  The queue is
 *   written only once the core is ready: raw mode once upgraded;
 *   protocol mode once the welcome, and the resumed frame after it when a
 *   position was sent, have arrived.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lean_tls.h"
#include "net_int.h"
#include "ws_proto.h"
#include "ws_wire.h"
#include "rt/msg.h"
#include "rt/url.h"
#include "rt/version.h"
#include "rt/ws_client.h"
#include "rt/ws_codec.h"

#define ID_MAX 64
struct rt_ws_client {
    rt__client b;       /* first: the base's timers hand back the client */
    const rt_url *base; /* b.fo's current URL */
    rt_url *target;     /* where a redirect sent this attempt; NULL: base */
    rt_url *next;       /* where the last answer redirects to */
    uint32_t hops, max_redirects;
    int user_host; /* Host came from the caller: keep it */
    char *host_hdr;
    char *target_host;
    char **headers; /* the caller's, copied, NULL-terminated */
    char *subprotocols;
    char *origin;
    char *proxy; /* for this URL, from b.proxy or the environment */
    int raw, compress;
    int keep_user; /* no user or token of the caller's: keep the server's */
    uint64_t ping_interval_ms, pong_timeout_ms;
    uint64_t gap_timeout_ms;
    size_t max_message_bytes, max_queued, max_queued_bytes;
    rt_ws_client_cbs cbs;
    void *ud;
    rt__ws_proto *proto; /* position, ordering, the outgoing queue */
    rt_msg_limits limits;

    /* The attempt. */
    rt__wire *wire;
    struct rt__lean_tls *tls; /* the wire's TLS context, for tls_host */
    char *tls_host;
    int attempt_live;
    int established;
    uint64_t attempt_at, up_at, last_rx, ping_at;
    int ping_due;
    unsigned close_code, want_close;
    int ending;     /* rt_ws_client_end(): the close handshake is on */
    int close_sent; /* our close frame went out; the server's is awaited */
    char end_reason[124];
    unsigned char user_ping[125]; /* rt_ws_client_ping()'s payload */
    size_t user_ping_len;
    int user_ping_due;
    unsigned last_close_code; /* of the last connection that ended */
    char close_reason[124];
    int too_big;
    rt_buf rx;
    int rx_binary;

    /* b.retry_timer: next attempt, attempt over, finalize */
    uv_timer_t live_timer; /* connect timeout, then ping and pong */
    uv_timer_t gap_timer;  /* the order buffer's gap deadline */
    int state_open;
    uint32_t connections;
};

static void start_liveness(rt_ws_client *c);

/* End the connection without a close handshake (dead, broken). */
static void kill_conn(rt_ws_client *c)
{
    rt__wire_kill(c->wire);
}

/* Is a connection there to write to? */
static int conn_up(const rt_ws_client *c)
{
    return c->wire != NULL;
}

/* Ask for writeable() at the next chance. */
static void want_write(rt_ws_client *c)
{
    rt__wire_want_write(c->wire);
}

static void on_close_deadline(uv_timer_t *t)
{
    kill_conn(t->data);
}

/*
 * Send a close frame with |code| at the next chance, and give the peer
 * 5 s: one that stopped reading never lets it be written.
 */
static void request_close(rt_ws_client *c, unsigned code)
{
    c->want_close = code;
    if (!conn_up(c))
        return;
    want_write(c);
    uv_timer_start(&c->live_timer, on_close_deadline, 5000, 0);
}

/* --- the outgoing queue */

static int enqueue(rt_ws_client *c, int binary, const void *data, size_t len,
                   const char *id)
{
    if (c->b.closing || c->ending)
        return RT_ESTATE;
    return rt__ws_proto_send(c->proto, binary, data, len, id);
}

/* --- the protocol core's callbacks */

static void proto_message(const rt_msg *m, const char *json, size_t len,
                          void *ud)
{
    rt_ws_client *c = ud;

    c->cbs.on_message(c, m, json, len, c->ud);
}

static void proto_open(const rt_msg *welcome, void *ud)
{
    rt_ws_client *c = ud;

    if (!c->state_open) {
        c->state_open = 1;
        start_liveness(c);
        rt__client_state(&c->b, RT_CONN_OPEN, 0, 0);
    }
    if (!c->b.closing && c->cbs.on_open != NULL)
        c->cbs.on_open(c, welcome, c->ud);
}

static void proto_resumed(int recovered, uint64_t from, uint64_t to, void *ud)
{
    rt_ws_client *c = ud;

    if (!c->b.closing && c->cbs.on_resumed != NULL)
        c->cbs.on_resumed(c, recovered, from, to, c->ud);
}

static void proto_ack(const char *id, uint64_t seq, const char *code, void *ud)
{
    rt_ws_client *c = ud;

    if (c->cbs.on_ack != NULL)
        c->cbs.on_ack(c, id, seq, code, c->ud);
}

static void proto_progress(void *ud)
{
    rt_ws_client *c = ud;

    rt__failover_delivered(&c->b.fo);
}

/* Replace the connection: resume from the position, or stop. */
static void proto_fail(int err, int final, const char *detail, void *ud)
{
    rt_ws_client *c = ud;

    rt__client_fail(&c->b, err, final, "%s", detail);
    kill_conn(c);
}

static void proto_want_write(void *ud)
{
    want_write(ud);
}

/* --- incoming messages */

static void on_gap(uv_timer_t *t);

static void arm_gap_timer(rt_ws_client *c)
{
    uint64_t d, now = rt__client_now(&c->b);

    if (rt__ws_proto_held(c->proto) == 0) {
        uv_timer_stop(&c->gap_timer);
        return;
    }
    d = rt__ws_proto_deadline(c->proto);
    uv_timer_start(&c->gap_timer, on_gap, d > now ? d - now : 0, 0);
}

static void handle_protocol(rt_ws_client *c, const char *json, size_t len)
{
    rt_msg *m = NULL;
    rt_msg_error perr;
    uint64_t seq;

    if (c->rx_binary || rt_msg_parse(&m, json, len, RT_MSG_FROM_SERVER,
                                     &c->limits, &perr) != 0)
        m = NULL;
    seq = m != NULL ? m->seq : 0;
    if (rt__ws_proto_push(c->proto, m, json, len, rt__client_now(&c->b)) !=
        0) {
        rt_msg_free(m);
        rt__client_fail(&c->b, RT_ENOMEM, 0, "out of memory holding seq %llu",
                        (unsigned long long)seq);
        kill_conn(c);
        return;
    }
    /* The order buffer's deadline may have moved. */
    if (!c->b.closing)
        arm_gap_timer(c);
}

/* Are |len| bytes at |s| well-formed UTF-8? */
static int utf8_bytes(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n;

    while (len > 0) {
        if ((n = rt__utf8_len(p, len, NULL)) == 0)
            return 0;
        p += n;
        len -= n;
    }
    return 1;
}

/* One whole message in c->rx. */
static void handle_message(rt_ws_client *c)
{
    size_t len = c->rx.len;

    /* RFC 6455 8.1: a text message that is not UTF-8 fails the link. */
    if (!c->rx_binary && !utf8_bytes(c->rx.data, len)) {
        rt__client_fail(&c->b, RT_EPROTO, 1,
                        "the server sent a text message that is not UTF-8");
        request_close(c, 1007);
        return;
    }

    if (rt__buf_putc(&c->rx, '\0') != 0) {
        rt__client_fail(&c->b, RT_ENOMEM, 0,
                        "out of memory reading a message");
        kill_conn(c);
        return;
    }
    if (c->raw) {
        rt__failover_delivered(&c->b.fo);
        c->cbs.on_frame(c, c->rx_binary, c->rx.data, len, c->ud);
    } else {
        handle_protocol(c, c->rx.data, len);
    }
    rt__buf_clear(&c->rx);
}

/* --- liveness */

static void on_live(uv_timer_t *t)
{
    rt_ws_client *c = t->data;
    uint64_t now = rt__client_now(&c->b), idle;

    if (!conn_up(c) || c->b.closing)
        return;
    if (!c->state_open) {
        rt__client_fail(&c->b, RT_ETIMEDOUT, 0, "no %s within %llu ms",
                        c->established ? "welcome" : "connection",
                        (unsigned long long)c->b.connect_timeout_ms);
        kill_conn(c);
        return;
    }
    if (c->ping_interval_ms == 0)
        return;
    if (c->ping_at > c->last_rx) {
        if (now - c->ping_at >= c->pong_timeout_ms) {
            rt__client_fail(&c->b, RT_ETIMEDOUT, 0,
                            "no frame or pong for %llu ms after a ping",
                            (unsigned long long)(now - c->ping_at));
            kill_conn(c);
            return;
        }
        uv_timer_start(t, on_live, c->ping_at + c->pong_timeout_ms - now, 0);
        return;
    }
    idle = now - c->last_rx;
    if (idle >= c->ping_interval_ms) {
        c->ping_at = now;
        c->ping_due = 1;
        want_write(c);
        uv_timer_start(t, on_live, c->pong_timeout_ms, 0);
        return;
    }
    uv_timer_start(t, on_live, c->ping_interval_ms - idle, 0);
}

/* The connection is open: from now on, ping when it falls silent. */
static void start_liveness(rt_ws_client *c)
{
    if (c->ping_interval_ms > 0)
        uv_timer_start(&c->live_timer, on_live, c->ping_interval_ms, 0);
    else
        uv_timer_stop(&c->live_timer);
}

static void on_gap(uv_timer_t *t)
{
    rt_ws_client *c = t->data;
    uint64_t from = 0, to = 0;

    if (c->b.closing)
        return;
    if (rt__ws_proto_tick(c->proto, rt__client_now(&c->b), &from, &to) ==
        RT_EGAP) {
        /* PROTOCOL.md 4: resume from the last delivered seq. */
        rt__client_fail(&c->b, RT_EGAP, 0,
                        "seq %llu to %llu missing for %llu ms; resuming",
                        (unsigned long long)from, (unsigned long long)to,
                        (unsigned long long)c->gap_timeout_ms);
        kill_conn(c);
        return;
    }
    arm_gap_timer(c);
}

/* --- attempts */

static int final_close_code(unsigned code)
{
    switch (code) {
    case 1000:
    case 1002:
    case 1003:
    case 1007:
    case 1008:
    case 1009:
    case 1010:
        return 1;
    default:
        return 0;
    }
}

static int ws_path(rt_ws_client *c, char **out)
{
    rt_url *u = NULL;
    const char *user = rt__ws_proto_user(c->proto), *epoch = "";
    char num[24];
    uint64_t since = 0;
    int rc;

    if ((rc = rt_url_dup(&u, c->target != NULL ? c->target : c->base)) != 0)
        return rc;
    /*
     * A server-assigned name is kept across reconnections, so that the
     * room sees one user come back, not a new one join (and so that our
     * own messages are recognised in the replay).
     */
    if (!c->raw && c->keep_user && user[0] != '\0')
        rc = rt_url_query_set(u, "user", user);
    if (rc == 0 && !c->raw &&
        rt__ws_proto_position(c->proto, &since, &epoch)) {
        snprintf(num, sizeof(num), "%llu", (unsigned long long)since);
        rc = rt_url_query_set(u, "since", num);
        if (rc == 0 && epoch[0] != '\0')
            rc = rt_url_query_set(u, "epoch", epoch);
    }
    if (rc == 0)
        rc = rt_url_request_target(u, out);
    rt_url_free(u);
    return rc;
}

static void on_after_attempt(uv_timer_t *t);
static int use_url(rt_ws_client *c);

/* The TLS context of the wire for |host|: kept while the host stays. */
static int wire_tls(rt_ws_client *c, const char *host)
{
    char err[300];
    int rc;

    if (c->tls != NULL && strcmp(c->tls_host, host) == 0)
        return 0;
    rt__lean_tls_free(c->tls);
    c->tls = NULL;
    rt__free(c->tls_host);
    if ((c->tls_host = rt__strndup(host, strlen(host))) == NULL)
        return RT_ENOMEM;
    err[0] = '\0';
    rc = rt__lean_tls_new(&c->tls, host, c->b.cacert, c->b.insecure, err,
                          sizeof(err));
    if (rc == 0 && c->b.cert != NULL)
        rc = rt__lean_tls_identity(c->tls, c->b.cert, c->b.key, err,
                                   sizeof(err));
    if (rc != 0) {
        rt__lean_tls_free(c->tls);
        c->tls = NULL;
        rt__client_fail(&c->b, rc, 1, "TLS failure: %s",
                        err[0] ? err : rt_strerror(rc));
    }
    return rc;
}

static void wire_failed(void *ud, int kind, unsigned status,
                        const char *location, const char *detail);
static void wire_open(void *ud);
static void wire_data(void *ud, int first, int fin, int binary, const char *p,
                      size_t len);
static void wire_ping(void *ud, const char *p, size_t len);
static void wire_pong(void *ud, const char *p, size_t len);
static void wire_close(void *ud, unsigned code, const char *reason,
                       size_t len);
static void wire_writable(void *ud);
static void wire_end(void *ud);

/* An attempt on the project's codec (ws_wire.c). */
static void connect_wire(rt_ws_client *c)
{
    static const rt__wire_cbs cbs = {wire_failed,   wire_open, wire_data,
                                     wire_ping,     wire_pong, wire_close,
                                     wire_writable, wire_end};
    const rt_url *cur = c->target != NULL ? c->target : c->base;
    rt__wire_cfg cfg;
    char *path = NULL;
    int rc;

    c->attempt_at = c->last_rx = rt__client_now(&c->b);
    rc = ws_path(c, &path);
    if (rc != 0)
        rt__client_fail(&c->b, rc, 1, "cannot start a connection: %s",
                        rt_strerror(rc));
    else if (rt_url_is_tls(cur))
        rc = wire_tls(c, rt_url_host(cur));
    if (rc != 0) {
        rt_free(path);
        uv_timer_start(&c->b.retry_timer, on_after_attempt, 0, 0);
        return;
    }
    memset(&cfg, 0, sizeof(cfg));
    cfg.host = rt_url_host(cur);
    cfg.port = rt_url_port(cur);
    cfg.proxy = c->proxy;
    cfg.tls = rt_url_is_tls(cur) ? c->tls : NULL;
    cfg.target = path;
    cfg.host_hdr = c->target_host != NULL ? c->target_host : c->host_hdr;
    cfg.origin = c->origin;
    cfg.subprotocols = c->subprotocols;
    cfg.headers = c->headers;
    cfg.max_frame = c->max_message_bytes;
    cfg.deflate = c->compress;
    cfg.rbuf = rt__loop_rbuf(c->b.loop);
    c->attempt_live = 1;
    rc = rt__wire_start(&c->wire, rt__loop_uv(c->b.loop), &cfg, &cbs, c);
    rt_free(path);
    if (rc != 0) {
        c->attempt_live = 0;
        rt__client_fail(&c->b, rc, 0, "cannot start a connection: %s",
                        rt_strerror(rc));
        uv_timer_start(&c->b.retry_timer, on_after_attempt, 0, 0);
        return;
    }
    uv_timer_start(&c->live_timer, on_live, c->b.connect_timeout_ms, 0);
}

static void connect_now(rt_ws_client *c)
{
    c->established = c->state_open = 0;
    c->ping_due = 0;
    c->ping_at = 0;
    c->close_code = c->want_close = c->close_sent = 0;
    c->user_ping_due = 0;
    c->close_reason[0] = '\0';
    rt__client_attempt_begins(&c->b);
    c->too_big = 0;
    rt__buf_clear(&c->rx);
    rt__ws_proto_connecting(c->proto);

    connect_wire(c);
}

/* The attempt is over (its wire is gone): reconnect later, or stop. */
static void on_after_attempt(uv_timer_t *t)
{
    rt_ws_client *c = t->data;
    int err = c->b.fail_err, final = c->b.fail_final;

    uv_timer_stop(&c->live_timer);
    uv_timer_stop(&c->gap_timer);
    if (c->established)
        c->last_close_code = c->close_code;
    if (c->ending && !c->b.closing) {
        /* rt_ws_client_end(): the handshake is over, no reconnection. */
        c->b.closing = 1;
        rt__ws_proto_stop(c->proto);
        c->b.close_err = 0;
        c->b.errmsg[0] = '\0';
    }
    if (c->b.closing) {
        rt__client_finalize(&c->b);
        return;
    }
    if (c->next != NULL) {
        /* A redirect: the next hop at once, no backoff. */
        rt_url_free(c->target);
        c->target = c->next;
        c->next = NULL;
        c->hops++;
        rt__free(c->target_host);
        c->target_host = NULL;
        if (!c->user_host &&
            rt_url_host_header(c->target, &c->target_host) != 0) {
            rt__client_errf(&c->b, "out of memory following a redirect");
            rt__client_begin_close(&c->b, RT_ENOMEM);
            return;
        }
        rt__client_state(&c->b, RT_CONN_CONNECTING, 0, 0);
        connect_now(c);
        return;
    }
    /* A reconnection starts from the URL given, not where it led. */
    rt_url_free(c->target);
    c->target = NULL;
    rt__free(c->target_host);
    c->target_host = NULL;
    c->hops = 0;
    rt__ws_proto_disconnected(c->proto);
    if (c->established)
        rt__failover_connected(&c->b.fo, rt__client_now(&c->b) - c->up_at);
    if (err == 0) {
        if (c->close_code != 0 && c->close_code != 1006)
            rt__client_errf(&c->b, "close %u%s%s%s", c->close_code,
                            c->close_reason[0] ? " (" : "", c->close_reason,
                            c->close_reason[0] ? ")" : "");
        else if (c->established)
            rt__client_errf(&c->b, "connection lost (1006: no close frame)");
        else
            rt__client_errf(&c->b,
                            "the server closed the connection before the "
                            "upgrade%s",
                            rt_url_is_tls(c->base)
                                ? " (a TLS client certificate "
                                  "missing or refused?)"
                                : "");
        /* Never upgraded: the handshake failed, as curl's clients say. */
        err = c->established ? RT_ECLOSED : RT_EHANDSHAKE;
        final = final_close_code(c->close_code);
    }
    rt__client_retry(&c->b, err, final, NULL);
}

/* --- answers to the upgrade */

/*
 * Resolve the Location |loc| of an answer to |cur| into a ws(s) URL
 * (RFC 9110 10.2.2: it may be relative); http(s) becomes ws(s).
 */
static int redirect_url(const rt_url *cur, const char *loc, rt_url **out)
{
    rt_buf b;
    char *origin = NULL;
    const char *path = rt_url_path(cur), *slash;
    int rc = 0;

    if (strstr(loc, "://") != NULL)
        return rt_url_resolve(out, loc, loc, RT_URL_KIND_WS, NULL, 0);
    rt__buf_init(&b);
    if (loc[0] == '/' && loc[1] == '/') {
        rc |= rt__buf_append(&b, rt_url_is_tls(cur) ? "wss:" : "ws:",
                             rt_url_is_tls(cur) ? 4 : 3);
    } else {
        if ((rc = rt_url_origin(cur, &origin)) != 0)
            return rc;
        rc |= rt__buf_append(&b, origin, strlen(origin));
        if (loc[0] != '/') {
            slash = strrchr(path, '/');
            rc |= rt__buf_append(
                &b, path, slash != NULL ? (size_t)(slash - path) + 1 : 0);
        }
    }
    rc |= rt__buf_append(&b, loc, strlen(loc));
    rc |= rt__buf_putc(&b, '\0');
    rt_free(origin);
    if (rc == 0)
        rc = rt_url_resolve(out, b.data, b.data, RT_URL_KIND_WS, NULL, 0);
    else
        rc = RT_ENOMEM;
    rt__buf_cleanup(&b);
    return rc;
}

/* A 3xx to the upgrade: follow it (c->next), or say where it led. */
static void redirected(rt_ws_client *c, const char *loc, unsigned status)
{
    const rt_url *cur = c->target != NULL ? c->target : c->base;

    if (loc == NULL || loc[0] == '\0') {
        rt__client_fail(&c->b, RT_EHTTP, 1,
                        "HTTP %u: a redirect without a usable Location",
                        status);
        return;
    }
    if (c->max_redirects == 0) {
        /* As before -L existed: an answer like any other status. */
        rt__client_fail(&c->b, RT_EHTTP, 0,
                        "HTTP %u: a redirect to '%s' (not followed)", status,
                        loc);
        return;
    }
    if (c->hops >= c->max_redirects) {
        rt__client_fail(&c->b, RT_EHANDSHAKE, 1,
                        "more than %u redirects in a row (the last to '%s')",
                        (unsigned)c->max_redirects, loc);
        return;
    }
    rt_url_free(c->next);
    c->next = NULL;
    if (redirect_url(cur, loc, &c->next) != 0) {
        rt__client_fail(&c->b, RT_EHTTP, 1,
                        "HTTP %u: a redirect to '%s', not a WebSocket URL",
                        status, loc);
        return;
    }
    rt__client_errf(&c->b, "HTTP %u: redirected to '%s'", status, loc);
}

/* An HTTP answer other than 101 to the upgrade; |loc| its Location. */
static void http_answer(rt_ws_client *c, unsigned status, const char *loc)
{
    if (status == 301 || status == 302 || status == 303 || status == 307 ||
        status == 308)
        redirected(c, loc, status);
    else
        rt__client_fail(&c->b, RT_EHTTP, rt__net_status_final(status),
                        "HTTP %u: the server refused the WebSocket upgrade",
                        status);
}

/* A certificate that fails now fails next time: stop, as curl does. */
static void cert_failed(rt_ws_client *c, const char *why)
{
    rt__client_fail(&c->b, RT_ETLS, 1,
                    "TLS failure: the server's certificate: %s (use "
                    "--cacert to trust it)",
                    why);
}

static int writeable(rt_ws_client *c)
{
    unsigned char pbuf[128];
    const void *data;
    size_t len = 0;
    int n, binary = 0;

    if (c->close_sent)
        return 0;
    if (c->user_ping_due) {
        c->user_ping_due = 0;
        memcpy(pbuf, c->user_ping, c->user_ping_len);
        if (c->cbs.on_control != NULL)
            c->cbs.on_control(c, RT_WS_PING_SENT, 0,
                              (const char *)c->user_ping, c->user_ping_len,
                              c->ud);
        if (rt__wire_send(c->wire, RT_WS_OP_PING, pbuf, c->user_ping_len) != 0)
            return -1;
        want_write(c);
        return 0;
    }
    if (c->ping_due) {
        c->ping_due = 0;
        n = snprintf((char *)pbuf, 32, "rtctl %llu",
                     (unsigned long long)c->ping_at);
        if (c->cbs.on_control != NULL)
            c->cbs.on_control(c, RT_WS_PING_SENT, 0, (const char *)pbuf,
                              (size_t)n, c->ud);
        if (rt__wire_send(c->wire, RT_WS_OP_PING, pbuf, (size_t)n) != 0)
            return -1;
        want_write(c);
        return 0;
    }
    /* Closing, the core reports what has an id "closed" instead. */
    if ((data = rt__ws_proto_next(c->proto, &len, &binary)) != NULL) {
        unsigned op = binary ? RT_WS_OP_BINARY : RT_WS_OP_TEXT;

        if (rt__wire_send(c->wire, op, data, len) != 0)
            return -1;
        rt__ws_proto_sent(c->proto);
        if (rt__ws_proto_has_out(c->proto) || c->want_close)
            want_write(c);
        return 0;
    }
    if (c->want_close) {
        size_t rl = c->ending ? strlen(c->end_reason) : 0;

        pbuf[0] = (unsigned char)(c->want_close >> 8);
        pbuf[1] = (unsigned char)(c->want_close & 0xff);
        memcpy(pbuf + 2, c->end_reason, rl);
        (void)rt__wire_send(c->wire, RT_WS_OP_CLOSE, pbuf, 2 + rl);
        if (!c->ending)
            return -1;
        /*
         * The close handshake (RFC 6455 5.5.1): read on until the
         * server's close frame; request_close()'s deadline bounds it.
         */
        c->close_sent = 1;
        return 0;
    }
    return 0;
}

/* Part of a message: |first| 1 on its first bytes, |fin| 1 on its last. */
static void receive(rt_ws_client *c, int first, int fin, int binary,
                    const void *in, size_t len)
{
    if (first) {
        rt__buf_clear(&c->rx);
        c->rx_binary = binary;
    }
    if (len > c->max_message_bytes - c->rx.len) {
        rt__client_fail(&c->b, RT_ETOOBIG, 1,
                        "a message is longer than %zu bytes",
                        c->max_message_bytes);
        c->too_big = 1;
        request_close(c, 1009);
        return;
    }
    if (rt__buf_append(&c->rx, in, len) != 0) {
        rt__client_fail(&c->b, RT_ENOMEM, 0,
                        "out of memory reading a message");
        kill_conn(c);
        return;
    }
    if (fin)
        handle_message(c);
}

/* --- what the wire reports */

static void established(rt_ws_client *c)
{
    c->established = 1;
    c->hops = 0;
    c->connections++;
    c->up_at = c->last_rx = rt__client_now(&c->b);
    if (c->b.closing) {
        request_close(c, 1000);
        return;
    }
    /* Protocol mode: the connect timeout runs on until the welcome. */
    if (c->raw) {
        start_liveness(c);
        c->state_open = 1;
        rt__client_state(&c->b, RT_CONN_OPEN, 0, 0);
        if (!c->b.closing && c->cbs.on_open != NULL)
            c->cbs.on_open(c, NULL, c->ud);
        rt__ws_proto_ready(c->proto);
    }
}

static void got_pong(rt_ws_client *c, const char *in, size_t len)
{
    c->last_rx = rt__client_now(&c->b);
    /* Answered: the next ping is due an interval from now. */
    if (c->state_open && !c->b.closing && !c->ending &&
        c->ping_interval_ms > 0)
        start_liveness(c);
    if (c->cbs.on_control != NULL && !c->b.closing)
        c->cbs.on_control(c, RT_WS_PONG_RECEIVED, 0, in, len, c->ud);
}

/* The server's close frame.  Returns 1 when it answers ours. */
static int peer_closed(rt_ws_client *c, unsigned code, const char *reason,
                       size_t len)
{
    size_t rl =
        len < sizeof(c->close_reason) - 1 ? len : sizeof(c->close_reason) - 1;

    c->close_code = code;
    memcpy(c->close_reason, reason, rl);
    c->close_reason[rl] = '\0';
    if (c->cbs.on_control != NULL)
        c->cbs.on_control(c, RT_WS_CLOSE_RECEIVED, c->close_code,
                          c->close_reason, rl, c->ud);
    return c->close_sent;
}

/* The attempt's connection is gone. */
static void attempt_over(rt_ws_client *c)
{
    if (!c->attempt_live)
        return;
    c->attempt_live = 0;
    c->wire = NULL;
    uv_timer_start(&c->b.retry_timer, on_after_attempt, 0, 0);
}

/* --- the wire's callbacks */

static void wire_failed(void *ud, int kind, unsigned status,
                        const char *location, const char *detail)
{
    rt_ws_client *c = ud;

    switch (kind) {
    case RT__WIRE_HTTP:
        http_answer(c, status, location);
        break;
    case RT__WIRE_DNS:
        rt__client_fail(&c->b, RT_EDNS, 0, "%s", detail);
        break;
    case RT__WIRE_CONNECT:
        rt__client_fail(&c->b, RT_ECONNREFUSED, 0, "%s", detail);
        break;
    case RT__WIRE_PROXY:
        rt__client_fail(&c->b, RT_ECONNREFUSED, 0, "proxy %s: %s", c->proxy,
                        detail);
        break;
    case RT__WIRE_TLS_CERT:
        cert_failed(c, detail);
        break;
    case RT__WIRE_TLS:
        rt__client_fail(&c->b, RT_ETLS, 0, "TLS failure: %s", detail);
        break;
    case RT__WIRE_HANDSHAKE:
        rt__client_fail(&c->b, RT_EHANDSHAKE, 0, "handshake failed: %s",
                        detail);
        break;
    case RT__WIRE_TOOBIG:
        c->too_big = 1;
        rt__client_fail(&c->b, RT_ETOOBIG, 1,
                        "a message is longer than %zu bytes",
                        c->max_message_bytes);
        break;
    case RT__WIRE_PROTO:
        rt__client_fail(&c->b, RT_EPROTO, 1, "the server broke RFC 6455: %s",
                        detail);
        break;
    default:
        rt__client_fail(&c->b, RT_ENOMEM, 0, "%s", detail);
        break;
    }
}

static void wire_open(void *ud)
{
    established(ud);
}

static void wire_data(void *ud, int first, int fin, int binary, const char *p,
                      size_t len)
{
    rt_ws_client *c = ud;

    c->last_rx = rt__client_now(&c->b);
    /* Ending, the answers still on their way are delivered. */
    if (!c->b.closing && !c->too_big && c->b.fail_err == 0)
        receive(c, first, fin, binary, p, len);
}

static void wire_ping(void *ud, const char *p, size_t len)
{
    rt_ws_client *c = ud;

    c->last_rx = rt__client_now(&c->b);
    if (c->cbs.on_control != NULL && !c->b.closing)
        c->cbs.on_control(c, RT_WS_PING_RECEIVED, 0, p, len, c->ud);
}

static void wire_pong(void *ud, const char *p, size_t len)
{
    got_pong(ud, p, len);
}

static void wire_close(void *ud, unsigned code, const char *reason, size_t len)
{
    (void)peer_closed(ud, code, reason, len);
}

static void wire_writable(void *ud)
{
    rt_ws_client *c = ud;

    if (c->wire != NULL && writeable(c) != 0)
        rt__wire_close_after_flush(c->wire);
}

static void wire_end(void *ud)
{
    rt_ws_client *c = ud;

    if (c->established && c->close_code == 0)
        c->close_code = c->want_close ? c->want_close : 1006;
    attempt_over(c);
}

/* --- closing */

/* Free |c| and what it owns; any field may still be unset. */
static void ws_free(rt_ws_client *c)
{
    char **p;

    rt__ws_proto_free(c->proto);
    rt__buf_cleanup(&c->rx);
    for (p = c->headers; p != NULL && *p != NULL; p++)
        rt__free(*p);
    rt__free(c->headers);
    rt__free(c->subprotocols);
    rt__free(c->origin);
    rt__free(c->proxy);
    rt__lean_tls_free(c->tls);
    rt__free(c->tls_host);
    rt__free(c->host_hdr);
    rt__free(c->target_host);
    rt_url_free(c->target);
    rt_url_free(c->next);
    rt__client_cleanup(&c->b);
    rt__free(c);
}

/* --- the base's operations */

static void ws_state(rt__client *b, rt_conn_state st, uint64_t delay_ms,
                     int err, const char *detail)
{
    rt_ws_client *c = (rt_ws_client *)b;

    if (c->cbs.on_state != NULL)
        c->cbs.on_state(c, st, delay_ms, err, detail, c->ud);
}

static int ws_connect(rt__client *b)
{
    connect_now((rt_ws_client *)b);
    return 0;
}

static int ws_stop(rt__client *b)
{
    rt_ws_client *c = (rt_ws_client *)b;

    rt__ws_proto_stop(c->proto);
    uv_timer_stop(&c->gap_timer);
    if (c->attempt_live && conn_up(c)) {
        if (c->established && c->b.fail_err == 0)
            request_close(c, 1000);
        else if (!c->established)
            kill_conn(c);
        /* finalizing follows from on_after_attempt() */
        return 0;
    }
    return !c->attempt_live;
}

static void ws_finalize(rt__client *b)
{
    rt_ws_client *c = (rt_ws_client *)b;

    uv_timer_stop(&c->live_timer);
    uv_timer_stop(&c->gap_timer);
    rt__ws_proto_stop(c->proto);
    rt__ws_proto_finalize(c->proto);
}

static void ws_closed(rt__client *b)
{
    rt_ws_client *c = (rt_ws_client *)b;

    if (c->cbs.on_closed != NULL)
        c->cbs.on_closed(c, c->ud);
    ws_free(c);
}

static int ws_moved(rt__client *b)
{
    return use_url((rt_ws_client *)b);
}

static const rt__client_ops ws_ops = {ws_state,    ws_connect, ws_stop,
                                      ws_finalize, ws_closed,  ws_moved};

/* --- public */

void rt_ws_client_opts_init(rt_ws_client_opts *o)
{
    if (o == NULL)
        return;
    memset(o, 0, sizeof(*o));
    rt_conn_opts_init(&o->conn);
    o->ping_interval_ms = 30000;
    o->pong_timeout_ms = 10000;
    o->gap_timeout_ms = 2000;
    o->max_message_bytes = (size_t)16 << 20;
    o->max_queued = 1024;
    o->max_queued_bytes = (size_t)16 << 20;
}

/* Does the caller name the user (?user=, ?token=, Authorization)? */
static int has_identity(const rt_url *u, const char *const *headers)
{
    const char *const *hp;
    char *v = NULL;
    size_t n;
    const char *keys[] = {"user", "token"};
    size_t k;

    for (k = 0; k < 2; k++) {
        /* a NULL value is "absent"; an allocation failure counts as set */
        if (rt_url_query_get(u, keys[k], &v, &n) != 0 || v != NULL) {
            rt_free(v);
            return 1;
        }
    }
    for (hp = headers; hp != NULL && *hp != NULL; hp++)
        if (rt__net_ieq_prefix(*hp, strlen(*hp), "authorization:"))
            return 1;
    return 0;
}

/*
 * The handshake headers the wire writes itself.  Three of them the caller
 * may set through -H all the same: they take the place of the wire's
 * (Host) or of the option it builds them from (Origin,
 * Sec-WebSocket-Protocol, which it must know to check the server's
 * choice).  The others would go out twice, or contradict what the wire
 * checks in the answer.
 */
enum hdr_kind { HDR_PLAIN, HDR_HOST, HDR_ORIGIN, HDR_PROTOCOL, HDR_OWNED };

static enum hdr_kind hdr_kind(const char *h, const char **value)
{
    static const struct {
        const char *name;
        enum hdr_kind kind;
    } names[] = {
        {"host", HDR_HOST},
        {"origin", HDR_ORIGIN},
        {"sec-websocket-protocol", HDR_PROTOCOL},
        {"sec-websocket-key", HDR_OWNED},
        {"sec-websocket-version", HDR_OWNED},
        {"sec-websocket-extensions", HDR_OWNED},
        {"sec-websocket-accept", HDR_OWNED},
        {"upgrade", HDR_OWNED},
        {"connection", HDR_OWNED},
    };
    const char *colon = strchr(h, ':');
    size_t i, n;

    if (colon == NULL)
        return HDR_PLAIN;
    n = (size_t)(colon - h);
    while (n > 0 && (h[n - 1] == ' ' || h[n - 1] == '\t'))
        n--;
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strlen(names[i].name) != n ||
            !rt__net_ieq_prefix(h, n, names[i].name))
            continue;
        for (colon++; *colon == ' ' || *colon == '\t'; colon++)
            ;
        *value = colon;
        return names[i].kind;
    }
    return HDR_PLAIN;
}

const char *rt_ws_client_header_owned(const char *header)
{
    const char *v = NULL;

    if (header == NULL)
        return NULL;
    switch (hdr_kind(header, &v)) {
    case HDR_OWNED:
        return "the WebSocket handshake sets it";
    default:
        return NULL;
    }
}

/* Does NO_PROXY (a comma list of names, domain suffixes, "*") cover it? */
static int no_proxy(const char *host)
{
    const char *np = getenv("NO_PROXY"), *p, *e;
    size_t hl = strlen(host), n;

    if (np == NULL || *np == '\0')
        np = getenv("no_proxy");
    for (p = np; p != NULL && *p != '\0'; p = *e ? e + 1 : e) {
        while (*p == ' ' || *p == ',')
            p++;
        e = p + strcspn(p, ",");
        n = (size_t)(e - p);
        while (n > 0 && p[n - 1] == ' ')
            n--;
        if (n > 0 && p[0] == '.') {
            p++;
            n--;
        }
        if (n == 1 && p[0] == '*')
            return 1;
        if (n > 0 && n <= hl && strncasecmp(host + hl - n, p, n) == 0 &&
            (n == hl || host[hl - n - 1] == '.'))
            return 1;
    }
    return 0;
}

/*
 * The proxy for |u|: |given| ("" none), else the environment as curl
 * reads it; into *|out| as the wire wants it, "[user:pass@]host:port", NULL
 * for none.
 */
static int pick_proxy(const rt_url *u, const char *given, char **out)
{
    const char *p = given, *end;
    size_t n;

    *out = NULL;
    if (p == NULL && !no_proxy(rt_url_host(u))) {
        if (rt_url_is_tls(u) &&
            ((p = getenv("https_proxy")) == NULL || *p == '\0'))
            p = getenv("HTTPS_PROXY");
        if (!rt_url_is_tls(u))
            p = getenv("http_proxy");
        if (p == NULL || *p == '\0')
            p = getenv("ALL_PROXY");
        if (p == NULL || *p == '\0')
            p = getenv("all_proxy");
    }
    if (p == NULL || *p == '\0')
        return 0;
    if (strncmp(p, "http://", 7) == 0)
        p += 7;
    else if (strstr(p, "://") != NULL)
        return RT_EINVAL; /* an http:// proxy only (CONNECT) */
    end = p + strcspn(p, "/");
    n = (size_t)(end - p);
    if (n == 0 || memchr(p, ':', n) == NULL || !rt__net_header_safe(p))
        return RT_EINVAL;
    *out = rt__strndup(p, n);
    return *out == NULL ? RT_ENOMEM : 0;
}

static char *dup_opt(const char *s, int *failed)
{
    char *d;

    if (s == NULL)
        return NULL;
    d = rt__strndup(s, strlen(s));
    if (d == NULL)
        *failed = 1;
    return d;
}

/*
 * fo moved to another URL: take its Host (unless the caller set one) and
 * its proxy (NO_PROXY is per host).
 */
static int use_url(rt_ws_client *c)
{
    const rt_url *u = rt__failover_url(&c->b.fo);
    char *host = NULL, *proxy = NULL;
    int rc;

    if (u == c->base)
        return 0;
    if (!c->user_host && (rc = rt_url_host_header(u, &host)) != 0)
        return rc;
    rc = pick_proxy(u, c->b.proxy, &proxy);
    if (rc != 0) {
        rt__free(host);
        return rc;
    }
    if (!c->user_host) {
        rt__free(c->host_hdr);
        c->host_hdr = host;
    }
    rt__free(c->proxy);
    c->proxy = proxy;
    c->base = u;
    return 0;
}

int rt_ws_client_new(rt_ws_client **out, rt_loop *loop, const char *url,
                     const rt_ws_client_opts *o, const rt_ws_client_cbs *cbs,
                     void *ud)
{
    rt_ws_client_opts defaults;
    static const rt__ws_proto_cbs proto_cbs = {
        proto_message,  proto_open, proto_resumed,   proto_ack,
        proto_progress, proto_fail, proto_want_write};
    rt__ws_proto_opts po;
    uv_timer_t *timers[2];
    rt_ws_client *c;
    const rt_url *u;
    size_t nh = 0, k;
    long hl;
    int rc, nomem = 0;

    if (out == NULL)
        return RT_EINVAL;
    *out = NULL;
    if (o == NULL) {
        rt_ws_client_opts_init(&defaults);
        o = &defaults;
    }
    if (loop == NULL || url == NULL || cbs == NULL ||
        (o->raw ? cbs->on_frame == NULL : cbs->on_message == NULL))
        return RT_EINVAL;
    if ((hl = rt__net_headers_check(o->conn.headers)) < 0)
        return RT_EINVAL;
    nh = (size_t)hl;
    if ((o->epoch != NULL &&
         !rt__net_epoch_valid(o->epoch, strlen(o->epoch))) ||
        (o->has_since && o->since == UINT64_MAX) ||
        o->max_message_bytes == 0 || o->max_queued == 0 ||
        o->max_queued_bytes == 0 || o->conn.connect_timeout_ms == 0 ||
        (o->ping_interval_ms > 0 && o->pong_timeout_ms == 0) ||
        (o->subprotocols != NULL && !rt__net_header_safe(o->subprotocols)) ||
        (o->origin != NULL && !rt__net_header_safe(o->origin)))
        return RT_EINVAL;
    c = rt__calloc(1, sizeof(*c));
    if (c == NULL)
        return RT_ENOMEM;
    rc = rt__client_init(&c->b, &ws_ops, loop, url, &o->conn, rt__failover_ws);
    if (rc != 0) {
        rt__free(c);
        return rc;
    }
    c->base = u = rt__failover_url(&c->b.fo);
    rt__buf_init(&c->rx);
    rc = RT_ENOMEM;
    if (rt_url_host_header(u, &c->host_hdr) != 0)
        goto fail;
    c->subprotocols = dup_opt(o->subprotocols, &nomem);
    c->origin = dup_opt(o->origin, &nomem);
    if (nomem)
        goto fail;
    if ((rc = pick_proxy(u, o->conn.proxy, &c->proxy)) != 0)
        goto fail;
    rc = RT_ENOMEM;
    if (nh > 0) {
        size_t kept = 0;
        const char *v = NULL;
        char **slot;

        c->headers = rt__calloc(nh + 1, sizeof(char *));
        if (c->headers == NULL)
            goto fail;
        for (k = 0; k < nh; k++) {
            switch (hdr_kind(o->conn.headers[k], &v)) {
            case HDR_PLAIN:
                slot = &c->headers[kept++];
                v = o->conn.headers[k];
                break;
            case HDR_HOST:
                c->user_host = 1;
                rt__free(c->host_hdr);
                c->host_hdr = NULL;
                slot = &c->host_hdr;
                break;
            case HDR_ORIGIN:
                slot = &c->origin;
                break;
            case HDR_PROTOCOL:
                slot = &c->subprotocols;
                break;
            default:
                rc = RT_EINVAL;
                goto fail;
            }
            /* One value for each: -H and the option may not both say. */
            if (*slot != NULL || *v == '\0') {
                rc = RT_EINVAL;
                goto fail;
            }
            if ((*slot = dup_opt(v, &nomem)) == NULL)
                goto fail;
        }
    }
    memset(&po, 0, sizeof(po));
    po.has_since = !o->raw && o->has_since;
    po.since = o->since;
    po.epoch = o->epoch;
    po.gap_timeout_ms = o->gap_timeout_ms;
    po.max_queued = o->max_queued;
    po.max_queued_bytes = o->max_queued_bytes;
    if ((rc = rt__ws_proto_new(&c->proto, &po, &proto_cbs, c)) != 0)
        goto fail;
    rt_msg_limits_init(&c->limits);
    c->limits.max_bytes = o->max_message_bytes;
    c->keep_user = !o->raw && !has_identity(u, o->conn.headers);
    c->raw = o->raw;
    c->max_redirects = o->max_redirects;
    c->compress = o->compress;
    c->ping_interval_ms = o->ping_interval_ms;
    c->pong_timeout_ms = o->pong_timeout_ms;
    c->gap_timeout_ms = o->gap_timeout_ms;
    c->max_message_bytes = o->max_message_bytes;
    c->max_queued = o->max_queued;
    c->max_queued_bytes = o->max_queued_bytes;
    c->cbs = *cbs;
    c->ud = ud;
    timers[0] = &c->live_timer;
    timers[1] = &c->gap_timer;
    rt__client_timers(&c->b, timers, 2);
    *out = c;
    return 0;

fail:
    ws_free(c);
    return rc;
}

int rt_ws_client_start(rt_ws_client *c)
{
    return c == NULL ? RT_EINVAL : rt__client_start(&c->b);
}

static int id_valid(const char *id)
{
    size_t n = 0;

    for (; id[n] != '\0'; n++)
        if ((unsigned char)id[n] < 0x21 || (unsigned char)id[n] > 0x7e)
            return 0;
    return n >= 1 && n <= ID_MAX;
}

static int utf8_valid(const char *s)
{
    return utf8_bytes(s, strlen(s));
}

int rt_ws_client_send_text(rt_ws_client *c, const char *content,
                           const char *id)
{
    char *frame = NULL;
    size_t len = 0;
    int rc;

    if (c == NULL || content == NULL || c->raw)
        return RT_EINVAL;
    if (id != NULL && (!id_valid(id) || rt__ws_proto_tracked(c->proto, id)))
        return RT_EINVAL;
    if (!utf8_valid(content))
        return RT_EINVAL;
    rc = rt_msg_encode_text(id, content, &frame, &len);
    if (rc == 0)
        rc = enqueue(c, 0, frame, len, id);
    rt_free(frame);
    return rc;
}

int rt_ws_client_send(rt_ws_client *c, int binary, const void *data,
                      size_t len)
{
    if (c == NULL || (data == NULL && len > 0) || (binary && !c->raw))
        return RT_EINVAL;
    return enqueue(c, binary, data, len, NULL);
}

void rt_ws_client_close(rt_ws_client *c)
{
    if (c != NULL)
        rt__client_close(&c->b);
}

int rt_ws_client_end(rt_ws_client *c, unsigned code, const char *reason)
{
    size_t rl = reason != NULL ? strlen(reason) : 0;

    if (c == NULL || rl > sizeof(c->end_reason) - 1 ||
        !(code == 1000 || (code >= 3000 && code <= 4999) ||
          (code >= 1001 && code <= 1014 && code != 1004 && code != 1005 &&
           code != 1006)))
        return RT_EINVAL;
    if (c->b.closing || c->ending)
        return RT_ESTATE;
    if (!c->b.started || !conn_up(c) || !c->state_open) {
        rt_ws_client_close(c);
        return 0;
    }
    c->ending = 1;
    memcpy(c->end_reason, reason != NULL ? reason : "", rl);
    c->end_reason[rl] = '\0';
    uv_timer_stop(&c->gap_timer);
    request_close(c, code);
    return 0;
}

int rt_ws_client_ping(rt_ws_client *c, const void *data, size_t len)
{
    if (c == NULL || (data == NULL && len > 0) || len > sizeof(c->user_ping))
        return RT_EINVAL;
    if (c->b.closing || c->ending || !conn_up(c) || !c->state_open)
        return RT_ESTATE;
    memcpy(c->user_ping, data, len);
    c->user_ping_len = len;
    c->user_ping_due = 1;
    want_write(c);
    return 0;
}

const char *rt_ws_client_errmsg(const rt_ws_client *c)
{
    return c == NULL ? "" : c->b.errmsg;
}

unsigned rt_ws_client_close_code(const rt_ws_client *c)
{
    return c == NULL ? 0 : c->last_close_code;
}

uint32_t rt_ws_client_attempt(const rt_ws_client *c)
{
    return c == NULL ? 0 : rt__client_attempt(&c->b);
}

uint32_t rt_ws_client_connections(const rt_ws_client *c)
{
    return c == NULL ? 0 : c->connections;
}

int rt_ws_client_position(const rt_ws_client *c, uint64_t *seq,
                          const char **epoch)
{
    if (c == NULL) {
        if (seq != NULL)
            *seq = 0;
        if (epoch != NULL)
            *epoch = "";
        return 0;
    }
    return rt__ws_proto_position(c->proto, seq, epoch);
}

const char *rt_ws_client_user(const rt_ws_client *c)
{
    return c == NULL ? "" : rt__ws_proto_user(c->proto);
}

size_t rt_ws_client_pending(const rt_ws_client *c)
{
    return c == NULL ? 0 : rt__ws_proto_pending(c->proto);
}

const char *rt_ws_client_url(const rt_ws_client *c)
{
    return c == NULL ? "" : rt__failover_str(&c->b.fo);
}

size_t rt_ws_client_url_index(const rt_ws_client *c)
{
    return c == NULL ? 0 : c->b.fo.cur;
}
