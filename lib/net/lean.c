/*
 * lean.c: the lean connection engine (rt/lean.h).
 *
 * Bytes move between raw libuv TCP streams and the sans-I/O modules of
 * lib/core: rt_http_resp for every HTTP head and body, rt_ws_parse for
 * WebSocket frames, rt_sse_parser for event streams.
 *
 * Memory: libuv asks for a buffer before each read; every connection of
 * the loop gets the same one (reads of one loop never overlap), so an
 * idle connection holds no read buffer at all.  After a read, only a
 * frame cut in two is copied to the connection's tail, sized to the
 * frame when its header says how long it is.  Writes go out with
 * uv_try_write() from a shared scratch buffer; only what the kernel
 * refuses is copied into a write request.
 *
 * Teardown: a connection ends in end(), which records why and closes the
 * handle; on_close runs from the close callback, after which the caller
 * may start the same memory again.  A callback that closes its own
 * connection stops the parsing of the read it came from (state checks
 * after every callback).
 */
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <uv.h>

#include "rt/error.h"
#include "rt/http_resp.h"
#include "rt/lean.h"
#include "rt/ws_codec.h"

#include "core_int.h"
#include "lean_tls.h"

#define RBUF_DEFAULT ((size_t)64 << 10)
#define MAX_MESSAGE_DEFAULT ((size_t)1 << 20)

enum cstate { C_IDLE = 0, C_CONNECTING, C_HANDSHAKE, C_OPEN, C_CLOSING };

struct rt_lean {
    uv_loop_t *loop;
    rt_lean_cbs cbs;
    char *rbuf;
    size_t rbuf_size;
    size_t max_message;
    uint8_t *wbuf;
    size_t wbuf_cap;
    uint64_t rng;
    int last_sys;
    rt_lean_stats st;
    struct rt__lean_tls *tls;     /* NULL: plain TCP */
    struct sockaddr_storage *src; /* source addresses, taken in turn */
    size_t nsrc, src_next;
};

struct rt_lean_conn {
    uv_tcp_t tcp;
    rt_lean *e;
    void *ud;
    const char *host;
    const char *extra;
    char *req; /* the first request, until connected */
    rt_http_resp *http;
    rt_sse_parser *sse;
    uint8_t *tail;
    size_t tail_len, tail_cap;
    rt_ws_parser wsp;
    struct ssl_st *ssl; /* with TLS, from TCP connect to the close */
    unsigned char kind, state, opened, detail_owned;
    unsigned pending_writes;
    /* why it ended, for on_close */
    int err, sys, status;
    unsigned code;
    const char *detail;
    char key[RT_WS_KEY_LEN + 1];
};

size_t rt_lean_conn_size(void)
{
    return sizeof(struct rt_lean_conn);
}

int rt_lean_new(rt_lean **out, uv_loop_t *loop, size_t rbuf_size,
                size_t max_message, const rt_lean_cbs *cbs, void *ud)
{
    rt_lean *e;

    (void)ud;
    if (out == NULL || loop == NULL || cbs == NULL || cbs->on_close == NULL)
        return RT_EINVAL;
    e = rt__calloc(1, sizeof(*e));
    if (e == NULL)
        return RT_ENOMEM;
    e->loop = loop;
    e->cbs = *cbs;
    e->rbuf_size = rbuf_size ? rbuf_size : RBUF_DEFAULT;
    e->max_message = max_message ? max_message : MAX_MESSAGE_DEFAULT;
    e->rbuf = rt__malloc(e->rbuf_size);
    e->rng = uv_hrtime() | 1;
    if (e->rbuf == NULL) {
        rt__free(e);
        return RT_ENOMEM;
    }
    *out = e;
    return 0;
}

void rt_lean_free(rt_lean *e)
{
    if (e == NULL)
        return;
    rt__free(e->rbuf);
    rt__free(e->wbuf);
    rt__lean_tls_free(e->tls);
    rt__free(e->src);
    rt__free(e);
}

int rt_lean_sources(rt_lean *e, const struct sockaddr *const *addrs, size_t n)
{
    struct sockaddr_storage *src = NULL;
    size_t i;

    if (e == NULL || (n > 0 && addrs == NULL))
        return RT_EINVAL;
    if (n > 0 && (src = rt__calloc(n, sizeof(*src))) == NULL)
        return RT_ENOMEM;
    for (i = 0; i < n; i++) {
        int f = addrs[i]->sa_family;

        if (f != AF_INET && f != AF_INET6) {
            rt__free(src);
            return RT_EINVAL;
        }
        memcpy(&src[i], addrs[i],
               f == AF_INET ? sizeof(struct sockaddr_in)
                            : sizeof(struct sockaddr_in6));
    }
    rt__free(e->src);
    e->src = src;
    e->nsrc = n;
    e->src_next = 0;
    return 0;
}

/*
 * The next source address, bound before connect.  IP_BIND_ADDRESS_NO_PORT
 * leaves the port to connect(), which may then reuse one port for other
 * destinations: binding port 0 alone would take a port per connection
 * from the whole range.
 */
static int tcp_init(rt_lean *e, rt_lean_conn *c, int *made)
{
    const struct sockaddr *sa;
    uv_os_fd_t fd;
    int rc;

    if (e->nsrc == 0) {
        rc = uv_tcp_init(e->loop, &c->tcp);
        *made = rc == 0;
        return rc;
    }
    sa = (const struct sockaddr *)&e->src[e->src_next++ % e->nsrc];
    rc = uv_tcp_init_ex(e->loop, &c->tcp, sa->sa_family);
    *made = rc == 0;
    if (rc != 0)
        return rc;
#ifdef IP_BIND_ADDRESS_NO_PORT
    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0) {
        int one = 1;

        (void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
                         sizeof(one));
    }
#else
    (void)fd;
#endif
    return uv_tcp_bind(&c->tcp, sa, 0);
}

int rt_lean_tls(rt_lean *e, const char *server_name, const char *cacert,
                int insecure, char *err, size_t errlen)
{
    struct rt__lean_tls *t = NULL;
    int rc;

    if (e == NULL || server_name == NULL)
        return RT_EINVAL;
    rc = rt__lean_tls_new(&t, server_name, cacert, insecure, err, errlen);
    if (rc != 0)
        return rc;
    rt__lean_tls_free(e->tls);
    e->tls = t;
    return 0;
}

const rt_lean_stats *rt_lean_stats_get(const rt_lean *e)
{
    return &e->st;
}

int rt_lean_last_sys(const rt_lean *e)
{
    return e->last_sys;
}

int rt_lean_conn_active(const rt_lean_conn *c)
{
    return c->state != C_IDLE;
}

int rt_lean_conn_open(const rt_lean_conn *c)
{
    return c->state == C_OPEN;
}

/* xorshift64*: masking keys need to be unpredictable to a proxy, not
 * cryptographic (RFC 6455 10.3); the generator may not cost a syscall. */
static uint32_t rnd(rt_lean *e)
{
    e->rng ^= e->rng >> 12;
    e->rng ^= e->rng << 25;
    e->rng ^= e->rng >> 27;
    return (uint32_t)((e->rng * UINT64_C(2685821657736338717)) >> 32);
}

/* ------------------------------------------------------------------ */
/* Teardown                                                            */

/* What a connection allocates per attempt: its request and parsers. */
static void free_parsers(rt_lean_conn *c)
{
    rt__free(c->req);
    c->req = NULL;
    rt_http_resp_free(c->http);
    c->http = NULL;
    rt_sse_parser_free(c->sse);
    c->sse = NULL;
    rt__lean_tls_conn_free(c->ssl);
    c->ssl = NULL;
}

static void on_closed(uv_handle_t *h)
{
    rt_lean_conn *c = (rt_lean_conn *)h;
    rt_lean_end end;

    free_parsers(c);
    rt__free(c->tail);
    c->tail = NULL;
    c->tail_len = c->tail_cap = 0;
    c->state = C_IDLE;
    end.err = c->err;
    end.sys = c->sys;
    end.status = c->status;
    end.code = c->code;
    end.opened = c->opened;
    end.detail = c->detail ? c->detail : "";
    c->e->cbs.on_close(c, &end, c->ud);
    if (c->detail_owned && c->state == C_IDLE) {
        rt__free((char *)c->detail);
        c->detail = NULL;
        c->detail_owned = 0;
    }
}

static void end(rt_lean_conn *c, int err, int sys, const char *detail)
{
    if (c->state == C_IDLE || c->state == C_CLOSING)
        return;
    c->state = C_CLOSING;
    c->err = err;
    c->sys = sys;
    if (c->detail == NULL)
        c->detail = detail;
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

/* Keep a formatted detail (a handshake refusal) for on_close. */
static void end_with(rt_lean_conn *c, int err, const char *detail)
{
    char *d = rt__strndup(detail, strlen(detail));

    if (d != NULL) {
        if (c->detail_owned)
            rt__free((char *)c->detail);
        c->detail = d;
        c->detail_owned = 1;
    }
    end(c, err, 0, detail);
}

/* ------------------------------------------------------------------ */
/* Writes                                                              */

typedef struct wreq {
    uv_write_t req;
    rt_lean_conn *c;
    char data[];
} wreq;

static void on_written(uv_write_t *req, int status)
{
    wreq *w = (wreq *)req;
    rt_lean_conn *c = w->c;

    c->pending_writes--;
    rt__free(w);
    if (status < 0 && status != UV_ECANCELED)
        end(c, RT_ECLOSED, status, "write failed");
}

static int raw_write(rt_lean_conn *c, const void *p, size_t len)
{
    uv_buf_t b = uv_buf_init((char *)p, (unsigned)len);
    size_t done = 0;
    wreq *w;
    int n;

    c->e->st.bytes_out += len;
    if (c->pending_writes == 0) {
        n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        if (n >= 0)
            done = (size_t)n;
        else if (n != UV_EAGAIN) {
            end(c, RT_ECLOSED, n, "write failed");
            return RT_ECLOSED;
        }
        if (done == len)
            return 0;
    }
    w = rt__malloc(sizeof(*w) + len - done);
    if (w == NULL)
        return RT_ENOMEM;
    memcpy(w->data, (const char *)p + done, len - done);
    w->c = c;
    b = uv_buf_init(w->data, (unsigned)(len - done));
    n = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written);
    if (n < 0) {
        rt__free(w);
        end(c, RT_ECLOSED, n, "write failed");
        return RT_ECLOSED;
    }
    c->pending_writes++;
    return 0;
}

/* Send the ciphertext OpenSSL has queued. */
static int tls_flush(rt_lean_conn *c)
{
    const char *p;
    size_t n = rt__lean_tls_out(c->ssl, &p);
    int rc = n > 0 ? raw_write(c, p, n) : 0;

    rt__lean_tls_out_done(c->ssl);
    return rc;
}

static int write_bytes(rt_lean_conn *c, const void *p, size_t len)
{
    int rc;

    if (c->ssl == NULL)
        return raw_write(c, p, len);
    rc = rt__lean_tls_write(c->ssl, p, len);
    if (rc != 0) {
        end(c, rc, 0, "TLS failure: cannot encrypt");
        return rc;
    }
    return tls_flush(c);
}

static int ws_frame(rt_lean_conn *c, unsigned op, const void *p, size_t len)
{
    rt_lean *e = c->e;
    rt_ws_frame_spec s;
    uint32_t m = rnd(e);
    size_t need = len + RT_WS_MAX_HEADER;
    int64_t n;

    if (need > e->wbuf_cap) {
        uint8_t *nb = rt__realloc(e->wbuf, need);

        if (nb == NULL)
            return RT_ENOMEM;
        e->wbuf = nb;
        e->wbuf_cap = need;
    }
    rt_ws_frame_spec_init(&s, op);
    memcpy(s.mask, &m, 4);
    n = rt_ws_frame_build(e->wbuf, e->wbuf_cap, &s, p, len);
    if (n < 0)
        return (int)n;
    return write_bytes(c, e->wbuf, (size_t)n);
}

int rt_lean_ws_send(rt_lean_conn *c, const char *data, size_t len)
{
    if (c->state != C_OPEN || c->kind != RT_LEAN_WS)
        return RT_ESTATE;
    return ws_frame(c, RT_WS_OP_TEXT, data, len);
}

static char *http_get(const rt_lean_conn *c, const char *target,
                      const char *accept, size_t *len)
{
    const char *extra = c->extra ? c->extra : "";
    size_t n = strlen(target) + strlen(c->host) + strlen(extra) + 128;
    char *r = rt__malloc(n);
    int k;

    if (r == NULL)
        return NULL;
    k = snprintf(r, n, "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: %s\r\n%s\r\n",
                 target, c->host, accept, extra);
    *len = (size_t)k;
    return r;
}

int rt_lean_poll_next(rt_lean_conn *c, const char *target)
{
    size_t len;
    char *r;
    int rc;

    if (c->state != C_OPEN || c->kind != RT_LEAN_POLL)
        return RT_ESTATE;
    r = http_get(c, target, "application/json", &len);
    if (r == NULL)
        return RT_ENOMEM;
    rc = write_bytes(c, r, len);
    rt__free(r);
    return rc;
}

void rt_lean_conn_close(rt_lean_conn *c, unsigned code)
{
    if (c->state == C_IDLE || c->state == C_CLOSING)
        return;
    if (c->kind == RT_LEAN_WS && c->state == C_OPEN) {
        uint8_t p[2];

        rt_ws_close_payload(p, code ? code : 1000, NULL, 0);
        ws_frame(c, RT_WS_OP_CLOSE, p, 2);
    }
    if (c->ssl != NULL && c->req == NULL && c->state != C_CLOSING) {
        rt__lean_tls_shutdown(c->ssl);
        tls_flush(c);
    }
    end(c, 0, 0, "closed");
}

void rt_lean_conn_abort(rt_lean_conn *c)
{
    end(c, 0, 0, "aborted");
}

/* ------------------------------------------------------------------ */
/* HTTP: heads, SSE and poll bodies                                    */

static int on_head(const rt_http_head *h, void *ud)
{
    rt_lean_conn *c = ud;
    char detail[160];

    if (c->kind == RT_LEAN_WS) {
        int rc = rt_ws_handshake_check(h, c->key, detail, sizeof(detail));

        if (rc != 0) {
            c->status = h->status;
            end_with(c, rc, detail);
            return 1;
        }
    } else if (h->status < 200 || h->status > 299) {
        c->status = h->status;
        snprintf(detail, sizeof(detail), "HTTP %d %.*s", h->status,
                 (int)(h->reason_len > 80 ? 80 : h->reason_len), h->reason);
        end_with(c, RT_EHTTP, detail);
        return 1;
    }
    if (c->state == C_HANDSHAKE) {
        c->state = C_OPEN;
        c->opened = 1;
        if (c->e->cbs.on_open != NULL)
            c->e->cbs.on_open(c, c->ud);
    }
    return c->state == C_OPEN ? 0 : 1;
}

static int on_body(const char *p, size_t len, void *ud)
{
    rt_lean_conn *c = ud;

    if (c->kind == RT_LEAN_SSE) {
        int rc = rt_sse_parser_feed(c->sse, p, len);

        rt_sse_parser_shrink(c->sse);

        if (rc != 0 && c->state == C_OPEN)
            end(c, rc, 0, "bad event stream");
        return c->state == C_OPEN ? 0 : 1;
    }
    /* poll: the body collects in the tail until the response is done */
    if (c->tail_len + len > c->e->max_message) {
        end(c, RT_ETOOBIG, 0, "poll response over the message limit");
        return 1;
    }
    if (c->tail_len + len + 1 > c->tail_cap) {
        size_t cap = c->tail_cap ? c->tail_cap : 1024;
        uint8_t *nt;

        while (cap < c->tail_len + len + 1)
            cap *= 2;
        nt = rt__realloc(c->tail, cap);
        if (nt == NULL) {
            end(c, RT_ENOMEM, 0, "out of memory");
            return 1;
        }
        c->tail = nt;
        c->tail_cap = cap;
    }
    memcpy(c->tail + c->tail_len, p, len);
    c->tail_len += len;
    return 0;
}

static int on_done(void *ud)
{
    rt_lean_conn *c = ud;

    if (c->kind == RT_LEAN_SSE) {
        end(c, RT_ECLOSED, 0, "the event stream ended");
        return 1;
    }
    c->e->st.frames_in++;
    if (c->tail == NULL)
        on_body("", 0, c);
    if (c->state != C_OPEN)
        return 1;
    c->tail[c->tail_len] = '\0';
    c->tail_len = 0;
    if (c->e->cbs.on_poll != NULL)
        c->e->cbs.on_poll(c, (char *)c->tail, strlen((char *)c->tail), c->ud);
    return c->state == C_OPEN ? 0 : 1;
}

static void on_sse_retry(uint64_t ms, void *ud)
{
    rt_lean_conn *c = ud;

    (void)ms;
    c->e->st.sse_retries++;
}

static int on_sse_event(const rt_sse_event *ev, void *ud)
{
    rt_lean_conn *c = ud;

    c->e->st.frames_in++;
    if (c->e->cbs.on_sse != NULL)
        c->e->cbs.on_sse(c, ev, c->ud);
    return c->state == C_OPEN ? 0 : 1;
}

/* ------------------------------------------------------------------ */
/* WebSocket frames                                                    */

/* Parse whole frames from |p|; returns how many bytes were used, or
 * SIZE_MAX once the connection ended. */
static size_t ws_frames(rt_lean_conn *c, uint8_t *p, size_t len)
{
    rt_lean *e = c->e;
    size_t off = 0;

    while (off < len) {
        rt_ws_frame f;
        size_t used;
        int rc = rt_ws_parse(&c->wsp, p + off, len - off, &f, &used);

        if (rc != 0) {
            uint8_t cp[2];

            c->code = 0;
            rt_ws_close_payload(cp, f.close_code, NULL, 0);
            ws_frame(c, RT_WS_OP_CLOSE, cp, 2);
            end(c, rc, 0,
                rc == RT_ETOOBIG ? "frame over the message limit"
                                 : "malformed WebSocket frame");
            return SIZE_MAX;
        }
        if (used == 0) {
            /* make room for the whole frame at once when it is known */
            if (f.need > c->tail_cap && f.need <= e->max_message + 16) {
                uint8_t *nt = rt__realloc(c->tail, (size_t)f.need);

                if (nt != NULL) {
                    c->tail = nt;
                    c->tail_cap = (size_t)f.need;
                }
            }
            break;
        }
        off += used;
        e->st.frames_in++;
        switch (f.opcode) {
        case RT_WS_OP_TEXT:
        case RT_WS_OP_BINARY:
            if (!f.fin) {
                end(c, RT_EPROTO, 0, "fragmented message (not supported)");
                return SIZE_MAX;
            }
            if (e->cbs.on_ws != NULL)
                e->cbs.on_ws(c, f.opcode == RT_WS_OP_BINARY,
                             (const char *)f.payload, (size_t)f.len, c->ud);
            break;
        case RT_WS_OP_PING: {
            uint8_t out[RT_WS_MAX_CONTROL + RT_WS_MAX_HEADER];
            uint32_t m = rnd(e);
            int64_t n =
                rt_ws_control_reply(&f, (uint8_t *)&m, out, sizeof(out));

            e->st.pings++;
            if (n > 0)
                write_bytes(c, out, (size_t)n);
            break;
        }
        case RT_WS_OP_CLOSE: {
            const char *reason;
            size_t rlen;
            unsigned code = 1005;

            if (rt_ws_close_parse(f.payload, (size_t)f.len, &code, &reason,
                                  &rlen) != 0)
                code = 1002;
            c->code = code;
            {
                uint8_t cp[2];

                rt_ws_close_payload(cp, code == 1005 ? 1000 : code, NULL, 0);
                ws_frame(c, RT_WS_OP_CLOSE, cp, 2);
            }
            end(c, RT_ECLOSED, 0, "the server closed the connection");
            return SIZE_MAX;
        }
        default:
            break; /* pong */
        }
        if (c->state != C_OPEN)
            return SIZE_MAX;
    }
    return off;
}

static void ws_data(rt_lean_conn *c, uint8_t *p, size_t len)
{
    size_t used;

    if (c->tail_len > 0) {
        if (c->tail_len + len > c->tail_cap) {
            size_t cap = c->tail_cap ? c->tail_cap : 256;
            uint8_t *nt;

            while (cap < c->tail_len + len)
                cap *= 2;
            nt = rt__realloc(c->tail, cap);
            if (nt == NULL) {
                end(c, RT_ENOMEM, 0, "out of memory");
                return;
            }
            c->tail = nt;
            c->tail_cap = cap;
        }
        memcpy(c->tail + c->tail_len, p, len);
        c->tail_len += len;
        used = ws_frames(c, c->tail, c->tail_len);
        if (used == SIZE_MAX)
            return;
        memmove(c->tail, c->tail + used, c->tail_len - used);
        c->tail_len -= used;
    } else {
        used = ws_frames(c, p, len);
        if (used == SIZE_MAX || used == len)
            return;
        if (len - used > c->tail_cap) {
            uint8_t *nt = rt__realloc(c->tail, len - used);

            if (nt == NULL) {
                end(c, RT_ENOMEM, 0, "out of memory");
                return;
            }
            c->tail = nt;
            c->tail_cap = len - used;
        }
        memcpy(c->tail, p + used, len - used);
        c->tail_len = len - used;
    }
    /* an idle connection keeps no buffer */
    if (c->tail_len == 0 && c->tail_cap > 4096) {
        rt__free(c->tail);
        c->tail = NULL;
        c->tail_cap = 0;
    }
}

/* ------------------------------------------------------------------ */
/* Reads                                                               */

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    rt_lean_conn *c = (rt_lean_conn *)h;

    (void)hint;
    *buf = uv_buf_init(c->e->rbuf, (unsigned)c->e->rbuf_size);
}

/* The connection's input ended: EOF, an error, or TLS close_notify. */
static void input_end(rt_lean_conn *c, ssize_t nread)
{
    if (c->http != NULL && !rt_http_resp_upgraded(c->http)) {
        int idle = rt_http_resp_idle(c->http);

        (void)rt_http_resp_eof(c->http);
        if (c->state != C_OPEN && c->state != C_HANDSHAKE)
            return;
        if (c->kind == RT_LEAN_POLL && idle && c->opened) {
            end(c, 0, 0, "the server closed between polls");
            return;
        }
    }
    end(c, RT_ECLOSED, nread == UV_EOF ? 0 : (int)nread,
        nread == UV_EOF ? "the server closed the connection"
                        : "connection lost");
}

/* Plaintext from the server: HTTP heads and bodies, WebSocket frames. */
static void plain(rt_lean_conn *c, char *p, size_t len)
{
    size_t used = 0;

    if (c->kind != RT_LEAN_WS || c->state == C_HANDSHAKE) {
        int rc = rt_http_resp_feed(c->http, p, len, &used);

        if (c->state != C_OPEN && c->state != C_HANDSHAKE)
            return;
        if (rc != 0) {
            end(c, RT_EPROTO, 0, "malformed HTTP response");
            return;
        }
        if (c->kind != RT_LEAN_WS)
            return;
        rt_http_resp_free(c->http);
        c->http = NULL;
    }
    if (used < len)
        ws_data(c, (uint8_t *)p + used, len - used);
}

static int live(const rt_lean_conn *c)
{
    return c->state == C_OPEN || c->state == C_HANDSHAKE;
}

/*
 * Ciphertext from the server.  It is copied into the input BIO at once,
 * so the shared read buffer is free again to take the plaintext.
 */
static void tls_in(rt_lean_conn *c, const char *p, size_t len)
{
    rt_lean *e = c->e;
    char detail[200];
    long n;
    int rc = rt__lean_tls_feed(c->ssl, p, len);

    if (rc != 0) {
        end(c, rc, 0, "out of memory");
        return;
    }
    if (c->req != NULL) {
        char *r;

        rc = rt__lean_tls_handshake(c->ssl, detail, sizeof(detail));
        tls_flush(c);
        if (!live(c))
            return;
        if (rc < 0) {
            end_with(c, rc, detail);
            return;
        }
        if (rc == 0)
            return;
        r = c->req;
        c->req = NULL;
        rc = write_bytes(c, r, strlen(r));
        rt__free(r);
        if (rc != 0)
            return;
    }
    while ((n = rt__lean_tls_read(c->ssl, e->rbuf, e->rbuf_size, detail,
                                  sizeof(detail))) > 0) {
        plain(c, e->rbuf, (size_t)n);
        if (!live(c))
            return;
    }
    if (n == RT_ECLOSED) {
        input_end(c, UV_EOF);
        return;
    }
    if (n < 0) {
        end_with(c, (int)n, detail);
        return;
    }
    rt__lean_tls_in_done(c->ssl);
    tls_flush(c); /* alerts, key updates */
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    rt_lean_conn *c = (rt_lean_conn *)s;

    if (nread < 0) {
        input_end(c, nread);
        return;
    }
    if (nread == 0)
        return;
    c->e->st.bytes_in += (size_t)nread;
    if (c->ssl != NULL)
        tls_in(c, buf->base, (size_t)nread);
    else
        plain(c, buf->base, (size_t)nread);
}

/* ------------------------------------------------------------------ */
/* Connect                                                             */

static void on_connect(uv_connect_t *req, int status)
{
    rt_lean_conn *c = req->data;
    char *r;

    rt__free(req);
    if (c->state != C_CONNECTING)
        return;
    if (status < 0) {
        end(c, status == UV_ECONNREFUSED ? RT_ECONNREFUSED : RT_ECLOSED,
            status, uv_strerror(status));
        return;
    }
    c->state = C_HANDSHAKE;
    if (c->e->tls != NULL) {
        /* the request waits in c->req for the end of the TLS handshake */
        char detail[200];

        c->ssl = rt__lean_tls_conn(c->e->tls);
        if (c->ssl == NULL) {
            end(c, RT_ENOMEM, 0, "out of memory for TLS");
            return;
        }
        (void)rt__lean_tls_handshake(c->ssl, detail, sizeof(detail));
        if (tls_flush(c) == 0)
            uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
        return;
    }
    r = c->req;
    c->req = NULL;
    if (write_bytes(c, r, strlen(r)) == 0)
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    rt__free(r);
}

int rt_lean_conn_start(rt_lean *e, rt_lean_conn *c, rt_lean_kind kind,
                       const struct sockaddr *addr, const char *host,
                       const char *target, const char *extra, void *ud)
{
    rt_http_resp_cbs hc = {on_head, on_body, on_done};
    uv_connect_t *req;
    size_t len;
    int rc, made = 0;

    if (c->state != C_IDLE)
        return RT_ESTATE;
    if (host == NULL || target == NULL)
        return RT_EINVAL;
    c->e = e;
    c->ud = ud;
    c->kind = (unsigned char)kind;
    c->host = host;
    c->extra = extra;
    c->opened = 0;
    c->err = c->sys = c->status = 0;
    c->code = 0;
    if (c->detail_owned)
        rt__free((char *)c->detail);
    c->detail = NULL;
    c->detail_owned = 0;
    c->pending_writes = 0;
    rt_ws_parser_init(&c->wsp, 0, e->max_message);
    if (kind == RT_LEAN_WS) {
        uint8_t nonce[16];
        size_t n =
            strlen(target) + strlen(host) + (extra ? strlen(extra) : 0) + 256;
        int i;

        for (i = 0; i < 4; i++) {
            uint32_t v = rnd(e);

            memcpy(nonce + 4 * i, &v, 4);
        }
        rt_ws_key_encode(nonce, c->key);
        c->req = rt__malloc(n);
        if (c->req == NULL)
            return RT_ENOMEM;
        rc = rt_ws_handshake_request(c->req, n, host, target, c->key, extra);
        if (rc < 0) {
            rt__free(c->req);
            c->req = NULL;
            return rc;
        }
    } else {
        c->req = http_get(c, target,
                          kind == RT_LEAN_SSE ? "text/event-stream"
                                              : "application/json",
                          &len);
        if (c->req == NULL)
            return RT_ENOMEM;
    }
    rc = rt_http_resp_new(&c->http, 0, &hc, c);
    if (rc == 0 && kind == RT_LEAN_SSE)
        rc = rt_sse_parser_new(&c->sse, NULL, on_sse_event, on_sse_retry, c);
    req = rc == 0 ? rt__malloc(sizeof(*req)) : NULL;
    if (req == NULL) {
        rt__free(c->req);
        c->req = NULL;
        rt_http_resp_free(c->http);
        c->http = NULL;
        rt_sse_parser_free(c->sse);
        c->sse = NULL;
        return rc ? rc : RT_ENOMEM;
    }
    e->last_sys = tcp_init(e, c, &made);
    if (e->last_sys != 0 && made) {
        /* the handle exists (the bind failed): close it; on_close says */
        rt__free(req);
        c->state = C_CONNECTING;
        end(c, RT_ECONNREFUSED, e->last_sys, uv_strerror(e->last_sys));
        return 0;
    }
    if (e->last_sys == 0) {
        req->data = c;
        c->state = C_CONNECTING;
        uv_tcp_nodelay(&c->tcp, 1);
        e->last_sys = uv_tcp_connect(req, &c->tcp, addr, on_connect);
        if (e->last_sys == 0)
            return 0;
        /* the handle exists: close it; on_close reports the failure */
        rt__free(req);
        end(c, RT_ECONNREFUSED, e->last_sys, uv_strerror(e->last_sys));
        return 0;
    }
    rt__free(req);
    free_parsers(c);
    return RT_ECONNREFUSED;
}
