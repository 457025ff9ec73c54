/*
 * ws_wire.c: one WebSocket client connection on libuv and the project's
 * codec (ws_wire.h).
 *
 * Spec: RFC 6455 (4.1 the client's handshake and the checks of the
 * answer, 5 framing, 5.5 control frames, 7 closing), RFC 9110 9.3.6
 * (CONNECT through a proxy).
 *
 * The steps of an attempt: resolve (uv_getaddrinfo, each address tried
 * in turn), connect, CONNECT through the proxy when there is one, TLS
 * (lean_tls.c: OpenSSL on memory BIOs, so every byte goes through the
 * one uv_tcp_t), the upgrade request, its answer (rt_http_resp), then
 * frames (rt_ws_parse).  Whatever follows the 101 in the same read is
 * already frames.
 *
 * Memory: reads land in the loop's one buffer (cfg.rbuf: a read is
 * parsed before the next one), so an idle connection holds none;
 * plaintext that does not make a whole frame waits in w->in
 * (bounded by the largest frame, max_frame plus its header); the answer
 * to the upgrade is bounded by rt_http_resp (16 KiB).  Writes go out with
 * uv_try_write(); what the kernel refuses is copied into a write
 * request, and on_writable waits until those are written, so the queue
 * holds at most one message and a few control frames.
 *
 * Teardown: wire_end() closes the handles; the last close callback (and
 * a getaddrinfo that was still running) calls on_end and frees the wire.
 * Callbacks never run inside a call of the caller's: a failure found in
 * rt__wire_start() is reported from the tick timer.
 */
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "rt/error.h"
#include "rt/http_resp.h"
#include "rt/ws_codec.h"

#include "core_int.h"
#include "lean_tls.h"
#include "net_int.h"
#include "ws_deflate.h"
#include "ws_wire.h"

#define RBUF_SIZE RT__LOOP_RBUF
#define SUBPROTO_MAX 128

enum wstate {
    W_RESOLVE = 0,
    W_CONNECT,
    W_PROXY,   /* CONNECT sent, the proxy's answer awaited */
    W_TLS,     /* the TLS handshake */
    W_UPGRADE, /* the upgrade request sent, its answer awaited */
    W_OPEN,
    W_FLUSH, /* ending once the writes are done */
    W_DEAD
};

struct rt__wire {
    uv_loop_t *loop;
    rt__wire_cbs cbs;
    void *ud;
    rt__wire_cfg cfg;
    char *strs; /* the copied strings of cfg, one block */
    char *conn_host;
    char port[8];
    char *proxy_auth; /* "Basic ...", NULL */

    uv_tcp_t tcp;
    uv_timer_t tick;
    uv_getaddrinfo_t gai;
    uv_connect_t creq;
    struct addrinfo *ai, *ai_next;
    int handles; /* initialised handles whose close callback is due */
    int tcp_live;
    int gai_busy;
    int last_sys;

    enum wstate state;
    struct ssl_st *ssl;
    rt_http_resp *http;
    int head_seen; /* on_head ran in this feed */
    rt_ws_parser wsp;
    rt_buf in;
    char *rbuf; /* the loop's, shared (cfg.rbuf) */
    int msg_binary;
    /* permessage-deflate, when offered and agreed */
    rt__pmd *pmd;
    int rsv1_next;    /* the next frame's RSV1 was set (and cleared) */
    int msg_deflated; /* the message being read is compressed */
    int msg_first;    /* none of it was given to on_data yet */
    rt_buf zout;      /* a message compressed, on its way out */
    char key[RT_WS_KEY_LEN + 1];
    char chosen[SUBPROTO_MAX];
    uint64_t rng;

    unsigned pending_writes;
    int want_write, close_sent;
    /* a failure found where no callback may run, reported by the tick */
    int late_kind;
    const char *late_detail;
};

static void wire_end(rt__wire *w);
static void after_tunnel(rt__wire *w);

/* --- teardown */

static void maybe_free(rt__wire *w)
{
    if (w->state != W_DEAD || w->handles > 0 || w->gai_busy)
        return;
    if (w->cbs.on_end != NULL)
        w->cbs.on_end(w->ud);
    if (w->ai != NULL)
        uv_freeaddrinfo(w->ai);
    rt_http_resp_free(w->http);
    rt__lean_tls_conn_free(w->ssl);
    rt__buf_cleanup(&w->in);
    rt__buf_cleanup(&w->zout);
    rt__pmd_free(w->pmd);
    rt__free(w->proxy_auth);
    rt__free(w->conn_host);
    rt__free(w->strs);
    rt__free(w);
}

static void on_handle_closed(uv_handle_t *h)
{
    rt__wire *w = h->data;

    w->handles--;
    maybe_free(w);
}

static void wire_end(rt__wire *w)
{
    if (w->state == W_DEAD)
        return;
    w->state = W_DEAD;
    if (w->gai_busy)
        uv_cancel((uv_req_t *)&w->gai);
    if (w->tcp_live) {
        w->tcp_live = 0;
        uv_close((uv_handle_t *)&w->tcp, on_handle_closed);
    }
    if (!uv_is_closing((uv_handle_t *)&w->tick))
        uv_close((uv_handle_t *)&w->tick, on_handle_closed);
}

static void wire_fail(rt__wire *w, int kind, unsigned status,
                      const char *location, const char *detail)
{
    if (w->state == W_DEAD)
        return;
    if (w->cbs.on_fail != NULL)
        w->cbs.on_fail(w->ud, kind, status, location, detail);
    wire_end(w);
}

/* --- writes */

typedef struct wreq {
    uv_write_t req;
    rt__wire *w;
    char data[];
} wreq;

static void on_tick(uv_timer_t *t);

static void schedule_tick(rt__wire *w)
{
    if (w->state != W_DEAD)
        uv_timer_start(&w->tick, on_tick, 0, 0);
}

static void on_written(uv_write_t *req, int status)
{
    wreq *q = (wreq *)req;
    rt__wire *w = q->w;

    w->pending_writes--;
    rt__free(q);
    if (w->state == W_DEAD)
        return;
    if (status < 0) {
        w->last_sys = status;
        wire_end(w);
        return;
    }
    if (w->pending_writes == 0) {
        if (w->state == W_FLUSH)
            wire_end(w);
        else if (w->want_write)
            schedule_tick(w);
    }
}

static int raw_write(rt__wire *w, const void *p, size_t len)
{
    uv_buf_t b = uv_buf_init((char *)p, (unsigned)len);
    size_t done = 0;
    wreq *q;
    int n;

    if (w->pending_writes == 0) {
        n = uv_try_write((uv_stream_t *)&w->tcp, &b, 1);
        if (n >= 0)
            done = (size_t)n;
        else if (n != UV_EAGAIN) {
            w->last_sys = n;
            wire_end(w);
            return RT_ECLOSED;
        }
        if (done == len)
            return 0;
    }
    q = rt__malloc(sizeof(*q) + len - done);
    if (q == NULL) {
        wire_end(w);
        return RT_ENOMEM;
    }
    memcpy(q->data, (const char *)p + done, len - done);
    q->w = w;
    b = uv_buf_init(q->data, (unsigned)(len - done));
    n = uv_write(&q->req, (uv_stream_t *)&w->tcp, &b, 1, on_written);
    if (n < 0) {
        rt__free(q);
        w->last_sys = n;
        wire_end(w);
        return RT_ECLOSED;
    }
    w->pending_writes++;
    return 0;
}

/* Send the ciphertext OpenSSL has queued. */
static int tls_flush(rt__wire *w)
{
    const char *p;
    size_t n = rt__lean_tls_out(w->ssl, &p);
    int rc = n > 0 ? raw_write(w, p, n) : 0;

    rt__lean_tls_out_done(w->ssl);
    return rc;
}

/* Bytes of the WebSocket connection: through TLS when there is TLS. */
static int write_bytes(rt__wire *w, const void *p, size_t len)
{
    if (w->ssl == NULL)
        return raw_write(w, p, len);
    if (rt__lean_tls_write(w->ssl, p, len) != 0) {
        wire_end(w);
        return RT_ETLS;
    }
    return tls_flush(w);
}

/* xorshift64*: masking keys must be unpredictable to proxies only. */
static uint32_t rnd(rt__wire *w)
{
    w->rng ^= w->rng >> 12;
    w->rng ^= w->rng << 25;
    w->rng ^= w->rng >> 27;
    return (uint32_t)((w->rng * UINT64_C(2685821657736338717)) >> 32);
}

static int send_frame(rt__wire *w, unsigned op, unsigned rsv, const void *p,
                      size_t len)
{
    rt_ws_frame_spec s;
    uint32_t m = rnd(w);
    uint8_t small[RT_WS_MAX_HEADER + RT_WS_MAX_CONTROL];
    uint8_t *buf = small;
    size_t cap = sizeof(small);
    int64_t n;
    int rc;

    rt_ws_frame_spec_init(&s, op);
    s.rsv = rsv;
    memcpy(s.mask, &m, 4);
    if (len > RT_WS_MAX_CONTROL) {
        if (len > SIZE_MAX - RT_WS_MAX_HEADER)
            return RT_EINVAL;
        cap = len + RT_WS_MAX_HEADER;
        if ((buf = rt__malloc(cap)) == NULL)
            return RT_ENOMEM;
    }
    n = rt_ws_frame_build(buf, cap, &s, p, len);
    rc = n < 0 ? (int)n : write_bytes(w, buf, (size_t)n);
    if (buf != small)
        rt__free(buf);
    if (rc == 0 && op == RT_WS_OP_CLOSE)
        w->close_sent = 1;
    return rc;
}

/* --- the upgrade */

/* Is |v| (|n| bytes) one of the comma-separated |list|? */
static int in_list(const char *list, const char *v, size_t n)
{
    const char *p = list, *e;
    size_t k;

    while (p != NULL && *p != '\0') {
        while (*p == ' ' || *p == ',' || *p == '\t')
            p++;
        e = p + strcspn(p, ",");
        k = (size_t)(e - p);
        while (k > 0 && (p[k - 1] == ' ' || p[k - 1] == '\t'))
            k--;
        if (k > 0 && k == n && memcmp(p, v, n) == 0)
            return 1;
        p = e;
    }
    return 0;
}

static int on_head(const rt_http_head *h, void *ud);

static int new_http(rt__wire *w)
{
    static const rt_http_resp_cbs cbs = {on_head, NULL, NULL};

    rt_http_resp_free(w->http);
    w->http = NULL;
    if (rt_http_resp_new(&w->http, 0, &cbs, w) != 0) {
        wire_fail(w, RT__WIRE_NOMEM, 0, NULL, "out of memory");
        return -1;
    }
    return 0;
}

static int send_upgrade(rt__wire *w)
{
    uint8_t nonce[16];
    char *const *h;
    rt_buf b;
    int rc = 0;

    if (RAND_bytes(nonce, sizeof(nonce)) != 1) {
        uint32_t r[4] = {rnd(w), rnd(w), rnd(w), rnd(w)};

        memcpy(nonce, r, sizeof(nonce));
    }
    rt_ws_key_encode(nonce, w->key);
    if (new_http(w) != 0)
        return RT_ENOMEM;
    rt__buf_init(&b);
    rc |= rt__buf_printf(&b,
                         "GET %s HTTP/1.1\r\nHost: %s\r\n"
                         "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                         "Sec-WebSocket-Key: %s\r\n"
                         "Sec-WebSocket-Version: 13\r\n",
                         w->cfg.target, w->cfg.host_hdr, w->key);
    if (w->cfg.origin != NULL)
        rc |= rt__buf_printf(&b, "Origin: %s\r\n", w->cfg.origin);
    if (w->cfg.subprotocols != NULL)
        rc |= rt__buf_printf(&b, "Sec-WebSocket-Protocol: %s\r\n",
                             w->cfg.subprotocols);
    if (w->cfg.deflate)
        rc |= rt__buf_printf(&b, "Sec-WebSocket-Extensions: %s\r\n",
                             RT__PMD_OFFER);
    for (h = w->cfg.headers; h != NULL && *h != NULL; h++)
        rc |= rt__buf_printf(&b, "%s\r\n", *h);
    rc |= rt__buf_append(&b, "\r\n", 2);
    if (rc == 0) {
        w->state = W_UPGRADE;
        rc = write_bytes(w, b.data, b.len);
    } else {
        wire_fail(w, RT__WIRE_NOMEM, 0, NULL, "out of memory");
    }
    rt__buf_cleanup(&b);
    return rc;
}

/* The answer to the upgrade: 101 and RFC 6455 4.1's checks, or why not. */
static void upgrade_answer(rt__wire *w, const rt_http_head *h)
{
    rt_http_head copy;
    const rt_http_header *loc, *sp, *ext;
    char detail[200], where[1024];
    size_t i, k = 0;

    if (h->status != 101) {
        loc = rt_http_head_find(h, "location");
        if (loc != NULL)
            rt__net_copy_value(where, sizeof(where), loc->value,
                               loc->value_len);
        snprintf(detail, sizeof(detail), "HTTP %d", h->status);
        wire_fail(w, RT__WIRE_HTTP, (unsigned)h->status,
                  loc != NULL ? where : NULL, detail);
        return;
    }
    /*
     * The subprotocol the server chose must be one offered (4.1, point
     * 6); none at all means it took none.  The codec's check, which
     * offers none, sees the head without it.
     */
    sp = rt_http_head_find(h, "sec-websocket-protocol");
    if (sp != NULL) {
        if (w->cfg.subprotocols == NULL || sp->value_len >= SUBPROTO_MAX ||
            !in_list(w->cfg.subprotocols, sp->value, sp->value_len)) {
            snprintf(detail, sizeof(detail),
                     "the server chose the subprotocol '%.*s', which was "
                     "not offered",
                     (int)(sp->value_len > 60 ? 60 : sp->value_len),
                     sp->value);
            wire_fail(w, RT__WIRE_HANDSHAKE, 101, NULL, detail);
            return;
        }
        memcpy(w->chosen, sp->value, sp->value_len);
        w->chosen[sp->value_len] = '\0';
    }
    ext = rt_http_head_find(h, "sec-websocket-extensions");
    if (ext != NULL && w->cfg.deflate) {
        int rc = rt__pmd_accept(&w->pmd, ext->value, ext->value_len, detail,
                                sizeof(detail));

        if (rc != 0) {
            wire_fail(w, rc == RT_ENOMEM ? RT__WIRE_NOMEM : RT__WIRE_HANDSHAKE,
                      101, NULL, rc == RT_ENOMEM ? "out of memory" : detail);
            return;
        }
    }
    copy = *h;
    for (i = 0; i < h->nheaders; i++)
        if (&h->headers[i] != sp && (w->pmd == NULL || &h->headers[i] != ext))
            copy.headers[k++] = h->headers[i];
    copy.nheaders = k;
    if (rt_ws_handshake_check(&copy, w->key, detail, sizeof(detail)) != 0) {
        wire_fail(w, RT__WIRE_HANDSHAKE, 101, NULL, detail);
        return;
    }
    w->state = W_OPEN;
    if (w->cbs.on_open != NULL)
        w->cbs.on_open(w->ud);
    if (w->state == W_OPEN && w->want_write)
        schedule_tick(w);
}

/*
 * One head is all either step reads: the proxy's answer to CONNECT (the
 * tunnel follows it) or the answer to the upgrade (frames follow a 101).
 */
static int on_head(const rt_http_head *h, void *ud)
{
    rt__wire *w = ud;
    char detail[80];

    w->head_seen = 1;
    if (w->state == W_UPGRADE) {
        upgrade_answer(w, h);
        return w->state == W_OPEN ? 0 : 1;
    }
    if (h->status < 200 || h->status > 299) {
        snprintf(detail, sizeof(detail),
                 "the proxy refused the tunnel: HTTP %d", h->status);
        wire_fail(w, RT__WIRE_PROXY, (unsigned)h->status, NULL, detail);
    }
    return 1;
}

/* --- frames */

static void inflated(void *ud, const char *p, size_t n, int last)
{
    rt__wire *w = ud;

    if (w->state != W_OPEN || w->cbs.on_data == NULL)
        return;
    w->cbs.on_data(w->ud, w->msg_first, last, w->msg_binary, p, n);
    w->msg_first = 0;
}

/* A frame of a compressed message.  Returns 0, -1 once failed. */
static int inflate_frame(rt__wire *w, const rt_ws_frame *f)
{
    uint8_t cp[2];
    int rc = rt__pmd_inflate(w->pmd, f->payload, (size_t)f->len, f->fin,
                             w->cfg.max_frame, inflated, w);

    if (rc == 0)
        return 0;
    if (w->state == W_DEAD)
        return -1;
    rt_ws_close_payload(cp, rc == RT_ETOOBIG ? 1009 : 1007, NULL, 0);
    if (!w->close_sent)
        (void)send_frame(w, RT_WS_OP_CLOSE, 0, cp, 2);
    if (w->cbs.on_fail != NULL && w->state != W_DEAD)
        w->cbs.on_fail(w->ud,
                       rc == RT_ETOOBIG  ? RT__WIRE_TOOBIG
                       : rc == RT_ENOMEM ? RT__WIRE_NOMEM
                                         : RT__WIRE_PROTO,
                       0, NULL,
                       rc == RT_ETOOBIG ? "a message over the limit once "
                                          "inflated"
                                        : "a compressed message that does "
                                          "not inflate");
    rt__wire_close_after_flush(w);
    return -1;
}

static void frames(rt__wire *w)
{
    size_t off = 0;
    uint8_t *base;

    while (w->state == W_OPEN) {
        rt_ws_frame f;
        size_t used = 0;
        int rc;

        base = (uint8_t *)w->in.data;
        if (off >= w->in.len)
            break;
        /*
         * RFC 7692 6.1: with permessage-deflate, RSV1 on a message's first
         * frame says it is compressed.  The codec allows no RSV bit, so
         * it is taken off here and remembered for the frame; anywhere
         * else it stays and the codec refuses it.
         */
        if (w->pmd != NULL && (base[off] & 0x40) &&
            ((base[off] & 0x0f) == RT_WS_OP_TEXT ||
             (base[off] & 0x0f) == RT_WS_OP_BINARY)) {
            base[off] &= (uint8_t)~0x40;
            w->rsv1_next = 1;
        }
        rc = rt_ws_parse(&w->wsp, base + off, w->in.len - off, &f, &used);
        if (rc != 0) {
            uint8_t cp[2];

            rt_ws_close_payload(cp, f.close_code, NULL, 0);
            if (!w->close_sent)
                (void)send_frame(w, RT_WS_OP_CLOSE, 0, cp, 2);
            if (w->cbs.on_fail != NULL && w->state != W_DEAD)
                w->cbs.on_fail(
                    w->ud, rc == RT_ETOOBIG ? RT__WIRE_TOOBIG : RT__WIRE_PROTO,
                    0, NULL,
                    rc == RT_ETOOBIG ? "a frame over the message limit"
                                     : "a frame that breaks RFC 6455");
            rt__wire_close_after_flush(w);
            break;
        }
        if (used == 0)
            break;
        off += used;
        switch (f.opcode) {
        case RT_WS_OP_TEXT:
        case RT_WS_OP_BINARY:
        case RT_WS_OP_CONT:
            if (f.opcode != RT_WS_OP_CONT) {
                w->msg_binary = f.opcode == RT_WS_OP_BINARY;
                w->msg_deflated = w->rsv1_next;
                w->msg_first = 1;
                w->rsv1_next = 0;
            }
            if (w->msg_deflated) {
                if (inflate_frame(w, &f) != 0)
                    return;
            } else if (w->cbs.on_data != NULL) {
                w->cbs.on_data(w->ud, f.opcode != RT_WS_OP_CONT, f.fin,
                               w->msg_binary, (const char *)f.payload,
                               (size_t)f.len);
            }
            break;
        case RT_WS_OP_PING: {
            /* RFC 6455 5.5.2: answer with its payload, before all else. */
            if (!w->close_sent)
                (void)send_frame(w, RT_WS_OP_PONG, 0, f.payload,
                                 (size_t)f.len);
            if (w->state != W_DEAD && w->cbs.on_ping != NULL)
                w->cbs.on_ping(w->ud, (const char *)f.payload, (size_t)f.len);
            break;
        }
        case RT_WS_OP_PONG:
            if (w->cbs.on_pong != NULL)
                w->cbs.on_pong(w->ud, (const char *)f.payload, (size_t)f.len);
            break;
        case RT_WS_OP_CLOSE: {
            const char *reason = "";
            size_t rlen = 0;
            unsigned code = 1005;

            if (rt_ws_close_parse(f.payload, (size_t)f.len, &code, &reason,
                                  &rlen) != 0) {
                uint8_t cp[2];

                rt_ws_close_payload(cp, 1002, NULL, 0);
                if (!w->close_sent)
                    (void)send_frame(w, RT_WS_OP_CLOSE, 0, cp, 2);
                if (w->cbs.on_fail != NULL && w->state != W_DEAD)
                    w->cbs.on_fail(w->ud, RT__WIRE_PROTO, 0, NULL,
                                   "a malformed close frame");
                rt__wire_close_after_flush(w);
                return;
            }
            if (w->cbs.on_close != NULL)
                w->cbs.on_close(w->ud, code, reason, rlen);
            if (w->state == W_DEAD)
                return;
            if (!w->close_sent) {
                uint8_t cp[2];

                /* 7.1.5: echo the code it sent, nothing for none. */
                size_t n =
                    code == 1005 ? 0 : rt_ws_close_payload(cp, code, NULL, 0);

                (void)send_frame(w, RT_WS_OP_CLOSE, 0, cp, n);
            }
            rt__wire_close_after_flush(w);
            return;
        }
        default:
            break;
        }
    }
    if (w->state == W_DEAD)
        return;
    /* keep what is not a whole frame yet */
    if (off > 0) {
        memmove(w->in.data, w->in.data + off, w->in.len - off);
        w->in.len -= off;
    }
    if (w->in.len == 0 && w->in.cap > 4096)
        rt__buf_cleanup(&w->in);
}

/* Plaintext from the server, whatever the step. */
static void plain(rt__wire *w, const char *p, size_t len)
{
    size_t used = 0;
    int rc;

    if (w->state == W_PROXY || w->state == W_UPGRADE) {
        enum wstate step = w->state;

        w->head_seen = 0;
        rc = rt_http_resp_feed(w->http, p, len, &used);
        if (w->state == W_DEAD)
            return;
        if (!w->head_seen) {
            if (rc != 0)
                wire_fail(
                    w, step == W_PROXY ? RT__WIRE_PROXY : RT__WIRE_HANDSHAKE,
                    0, NULL,
                    step == W_PROXY ? "a malformed answer from the proxy"
                                    : "a malformed answer to the "
                                      "upgrade");
            return;
        }
        rt_http_resp_free(w->http);
        w->http = NULL;
        if (step == W_PROXY) {
            after_tunnel(w);
            return;
        }
        if (w->state != W_OPEN)
            return;
        p += used;
        len -= used;
    }
    /* Ending, what still comes is dropped. */
    if (len == 0 || w->state != W_OPEN)
        return;
    /*
     * Bounded: the parser refuses a frame over max_frame once its header
     * is in, so this holds at most one frame and one read.
     */
    if (rt__buf_append(&w->in, p, len) != 0) {
        wire_fail(w, RT__WIRE_NOMEM, 0, NULL, "out of memory");
        return;
    }
    frames(w);
}

/* --- reads */

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    rt__wire *w = h->data;

    (void)hint;
    *buf = uv_buf_init(w->rbuf, (unsigned)RBUF_SIZE);
}

/* The input ended (EOF, an error, TLS close_notify): say so per step. */
static void input_end(rt__wire *w)
{
    switch (w->state) {
    case W_PROXY:
        wire_fail(w, RT__WIRE_PROXY, 0, NULL,
                  "the proxy closed the connection");
        break;
    case W_TLS:
        wire_fail(w, RT__WIRE_TLS, 0, NULL,
                  "the server closed the connection during the TLS "
                  "handshake");
        break;
    default:
        /* before the answer to the upgrade, or a connection lost */
        wire_end(w);
        break;
    }
}

static int hs_done(rt__wire *w);

/* Ciphertext from the server: the handshake, then plaintext. */
static void tls_in(rt__wire *w, const char *p, size_t len)
{
    char detail[200];
    long n;

    if (rt__lean_tls_feed(w->ssl, p, len) != 0) {
        wire_fail(w, RT__WIRE_NOMEM, 0, NULL, "out of memory");
        return;
    }
    if (w->state == W_TLS && hs_done(w) <= 0)
        return;
    while (w->state != W_DEAD &&
           (n = rt__lean_tls_read(w->ssl, w->rbuf, RBUF_SIZE, detail,
                                  sizeof(detail))) != 0) {
        if (n == RT_ECLOSED) {
            input_end(w);
            return;
        }
        if (n < 0) {
            wire_fail(w, RT__WIRE_TLS, 0, NULL, detail);
            return;
        }
        plain(w, w->rbuf, (size_t)n);
    }
    if (w->state != W_DEAD) {
        rt__lean_tls_in_done(w->ssl);
        tls_flush(w); /* a key update, a session ticket's answer */
    }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    rt__wire *w = s->data;

    (void)buf;
    if (w->state == W_DEAD)
        return;
    if (nread < 0) {
        w->last_sys = (int)nread;
        input_end(w);
        return;
    }
    if (nread == 0)
        return;
    if (w->ssl != NULL && w->state >= W_TLS)
        tls_in(w, w->rbuf, (size_t)nread);
    else
        plain(w, w->rbuf, (size_t)nread);
}

/* --- TLS */

/*
 * Move the TLS handshake on.  Returns 1 once finished (the upgrade is on
 * its way), 0 when it needs more input, -1 when the attempt ended.
 */
static int hs_done(rt__wire *w)
{
    char detail[200];
    int rc = rt__lean_tls_handshake(w->ssl, detail, sizeof(detail));

    tls_flush(w);
    if (w->state == W_DEAD)
        return -1;
    if (rc < 0) {
        long v = SSL_get_verify_result(w->ssl);

        if (v != X509_V_OK)
            wire_fail(w, RT__WIRE_TLS_CERT, 0, NULL,
                      X509_verify_cert_error_string(v));
        else
            wire_fail(w, RT__WIRE_TLS, 0, NULL, detail);
        return -1;
    }
    if (rc == 0)
        return 0;
    return send_upgrade(w) == 0 && w->state != W_DEAD ? 1 : -1;
}

/* TCP is up, through the proxy when there is one: TLS or the upgrade. */
static void after_tunnel(rt__wire *w)
{
    if (w->cfg.tls == NULL) {
        send_upgrade(w);
        return;
    }
    w->ssl = rt__lean_tls_conn(w->cfg.tls);
    if (w->ssl == NULL) {
        wire_fail(w, RT__WIRE_NOMEM, 0, NULL, "out of memory");
        return;
    }
    w->state = W_TLS;
    (void)hs_done(w);
}

/* --- connecting */

static void connect_next(rt__wire *w);

static void on_retry_closed(uv_handle_t *h)
{
    rt__wire *w = h->data;

    w->handles--;
    if (w->state == W_DEAD)
        maybe_free(w);
    else
        connect_next(w);
}

static void on_connected(uv_connect_t *req, int status)
{
    rt__wire *w = req->data;
    rt_buf b;
    int rc = 0;

    if (w->state == W_DEAD)
        return;
    if (status < 0) {
        /* the next address, on a fresh handle */
        w->last_sys = status;
        w->tcp_live = 0;
        uv_close((uv_handle_t *)&w->tcp, on_retry_closed);
        return;
    }
    uv_tcp_nodelay(&w->tcp, 1);
    if (uv_read_start((uv_stream_t *)&w->tcp, on_alloc, on_read) != 0) {
        wire_fail(w, RT__WIRE_CONNECT, 0, NULL, "cannot read the socket");
        return;
    }
    if (w->cfg.proxy == NULL) {
        after_tunnel(w);
        return;
    }
    if (new_http(w) != 0)
        return;
    /* RFC 9110 9.3.6: the authority form, an IPv6 address in brackets */
    rt__buf_init(&b);
    {
        int v6 = strchr(w->cfg.host, ':') != NULL;

        rc |=
            rt__buf_printf(&b, "CONNECT %s%s%s:%d HTTP/1.1\r\n", v6 ? "[" : "",
                           w->cfg.host, v6 ? "]" : "", w->cfg.port);
        rc |= rt__buf_printf(&b, "Host: %s%s%s:%d\r\n", v6 ? "[" : "",
                             w->cfg.host, v6 ? "]" : "", w->cfg.port);
    }
    if (w->proxy_auth != NULL)
        rc |= rt__buf_printf(&b, "Proxy-Authorization: %s\r\n", w->proxy_auth);
    rc |= rt__buf_append(&b, "\r\n", 2);
    if (rc != 0) {
        rt__buf_cleanup(&b);
        wire_fail(w, RT__WIRE_NOMEM, 0, NULL, "out of memory");
        return;
    }
    w->state = W_PROXY;
    (void)raw_write(w, b.data, b.len);
    rt__buf_cleanup(&b);
}

static void connect_next(rt__wire *w)
{
    struct addrinfo *a;
    char detail[300];
    int rc;

    while ((a = w->ai_next) != NULL) {
        w->ai_next = a->ai_next;
        if (a->ai_family != AF_INET && a->ai_family != AF_INET6)
            continue;
        if ((rc = uv_tcp_init(w->loop, &w->tcp)) != 0) {
            w->last_sys = rc;
            continue;
        }
        w->tcp.data = w;
        w->tcp_live = 1;
        w->handles++;
        w->creq.data = w;
        rc = uv_tcp_connect(&w->creq, &w->tcp, a->ai_addr, on_connected);
        if (rc == 0)
            return;
        w->last_sys = rc;
        w->tcp_live = 0;
        uv_close((uv_handle_t *)&w->tcp, on_retry_closed);
        return;
    }
    snprintf(detail, sizeof(detail), "%s port %s: %s", w->conn_host, w->port,
             w->last_sys ? uv_strerror(w->last_sys) : "no usable address");
    wire_fail(w, RT__WIRE_CONNECT, 0, NULL, detail);
}

static void on_resolved(uv_getaddrinfo_t *req, int status,
                        struct addrinfo *res)
{
    rt__wire *w = req->data;
    char detail[300];

    w->gai_busy = 0;
    w->ai = res;
    w->ai_next = res;
    if (w->state == W_DEAD) {
        maybe_free(w);
        return;
    }
    if (status < 0) {
        snprintf(detail, sizeof(detail), "could not resolve host %s: %s",
                 w->conn_host, uv_strerror(status));
        wire_fail(w, RT__WIRE_DNS, 0, NULL, detail);
        return;
    }
    w->state = W_CONNECT;
    connect_next(w);
}

static void on_tick(uv_timer_t *t)
{
    rt__wire *w = t->data;

    if (w->late_kind != 0) {
        wire_fail(w, w->late_kind, 0, NULL, w->late_detail);
        return;
    }
    if (w->state == W_OPEN && w->want_write && w->pending_writes == 0) {
        w->want_write = 0;
        if (w->cbs.on_writable != NULL)
            w->cbs.on_writable(w->ud);
    }
}

/*
 * "[user:pass@]host:port" into the host and port to connect to and the
 * Proxy-Authorization value.
 */
static int use_proxy(rt__wire *w, const char *proxy)
{
    const char *at = strrchr(proxy, '@'), *hp = at ? at + 1 : proxy;
    const char *colon = strrchr(hp, ':');
    size_t hl;

    if (colon == NULL || colon == hp || colon[1] == '\0' ||
        strlen(colon + 1) >= sizeof(w->port))
        return RT_EINVAL;
    hl = (size_t)(colon - hp);
    if (hp[0] == '[' && hl > 2 && hp[hl - 1] == ']') {
        hp++;
        hl -= 2;
    }
    if ((w->conn_host = rt__strndup(hp, hl)) == NULL)
        return RT_ENOMEM;
    memcpy(w->port, colon + 1, strlen(colon + 1) + 1);
    if (at != NULL) {
        size_t n = (size_t)(at - proxy);
        size_t cap = 6 + 4 * ((n + 2) / 3) + 1;

        if ((w->proxy_auth = rt__malloc(cap)) == NULL)
            return RT_ENOMEM;
        memcpy(w->proxy_auth, "Basic ", 6);
        EVP_EncodeBlock((unsigned char *)w->proxy_auth + 6,
                        (const unsigned char *)proxy, (int)n);
    }
    return 0;
}

/* Copy |cfg|'s strings into one block. */
static int copy_cfg(rt__wire *w, const rt__wire_cfg *cfg)
{
    const char *src[7] = {cfg->host,     cfg->proxy,  cfg->target,
                          cfg->host_hdr, cfg->origin, cfg->subprotocols,
                          NULL};
    const char **dst[6] = {&w->cfg.host,   &w->cfg.proxy,
                           &w->cfg.target, &w->cfg.host_hdr,
                           &w->cfg.origin, &w->cfg.subprotocols};
    size_t n = 0, i;
    char *p;

    for (i = 0; i < 6; i++)
        n += src[i] != NULL ? strlen(src[i]) + 1 : 0;
    if ((w->strs = p = rt__malloc(n + 1)) == NULL)
        return RT_ENOMEM;
    for (i = 0; i < 6; i++) {
        if (src[i] == NULL) {
            *dst[i] = NULL;
            continue;
        }
        memcpy(p, src[i], strlen(src[i]) + 1);
        *dst[i] = p;
        p += strlen(src[i]) + 1;
    }
    return 0;
}

/* --- public */

int rt__wire_start(rt__wire **out, uv_loop_t *loop, const rt__wire_cfg *cfg,
                   const rt__wire_cbs *cbs, void *ud)
{
    struct addrinfo hints;
    rt__wire *w = rt__calloc(1, sizeof(*w));
    int rc;

    *out = NULL;
    if (w == NULL)
        return RT_ENOMEM;
    w->loop = loop;
    w->cbs = *cbs;
    w->ud = ud;
    w->cfg = *cfg;
    w->rng = uv_hrtime() ^ (uint64_t)(uintptr_t)w;
    w->rng |= 1;
    rt__buf_init(&w->in);
    rt__buf_init(&w->zout);
    rt_ws_parser_init(&w->wsp, 0, cfg->max_frame);
    w->rbuf = cfg->rbuf;
    if (w->rbuf == NULL || (rc = copy_cfg(w, cfg)) != 0) {
        rt__free(w);
        return RT_ENOMEM;
    }
    uv_timer_init(loop, &w->tick);
    w->tick.data = w;
    w->handles = 1;
    w->gai.data = w;
    *out = w;
    if (cfg->proxy != NULL) {
        rc = use_proxy(w, cfg->proxy);
        if (rc != 0) {
            w->late_kind = rc == RT_ENOMEM ? RT__WIRE_NOMEM : RT__WIRE_PROXY;
            w->late_detail = "the proxy is not host:port";
            schedule_tick(w);
            return 0;
        }
    } else {
        if ((w->conn_host = rt__strndup(cfg->host, strlen(cfg->host))) ==
            NULL) {
            w->late_kind = RT__WIRE_NOMEM;
            w->late_detail = "out of memory";
            schedule_tick(w);
            return 0;
        }
        snprintf(w->port, sizeof(w->port), "%d", cfg->port);
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    w->gai_busy = 1;
    rc = uv_getaddrinfo(loop, &w->gai, on_resolved, w->conn_host, w->port,
                        &hints);
    if (rc != 0) {
        w->gai_busy = 0;
        w->late_kind = RT__WIRE_DNS;
        w->late_detail = "cannot start resolving the host";
        schedule_tick(w);
    }
    return 0;
}

void rt__wire_want_write(rt__wire *w)
{
    if (w == NULL || w->state == W_DEAD)
        return;
    w->want_write = 1;
    if (w->state == W_OPEN && w->pending_writes == 0)
        schedule_tick(w);
}

int rt__wire_send(rt__wire *w, unsigned opcode, const void *p, size_t len)
{
    int rc;

    if (w == NULL || w->state != W_OPEN || w->close_sent)
        return RT_ESTATE;
    if (w->pmd != NULL &&
        (opcode == RT_WS_OP_TEXT || opcode == RT_WS_OP_BINARY)) {
        rc = rt__pmd_deflate(w->pmd, p, len, &w->zout);
        if (rc < 0)
            return rc;
        if (rc == 1) {
            rc =
                send_frame(w, opcode, 4 /* RSV1 */, w->zout.data, w->zout.len);
            if (w->zout.cap > RBUF_SIZE)
                rt__buf_cleanup(&w->zout);
            return rc;
        }
    }
    return send_frame(w, opcode, 0, p, len);
}

void rt__wire_close_after_flush(rt__wire *w)
{
    if (w == NULL || w->state == W_DEAD || w->state == W_FLUSH)
        return;
    if (w->ssl != NULL && w->state == W_OPEN) {
        rt__lean_tls_shutdown(w->ssl);
        tls_flush(w);
        if (w->state == W_DEAD)
            return;
    }
    if (w->pending_writes == 0 || !w->tcp_live) {
        wire_end(w);
        return;
    }
    w->state = W_FLUSH;
}

void rt__wire_kill(rt__wire *w)
{
    if (w != NULL)
        wire_end(w);
}

const char *rt__wire_subprotocol(const rt__wire *w)
{
    return w->chosen;
}
