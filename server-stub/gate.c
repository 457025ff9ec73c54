/*
 * gate.c: the listening socket, and a check of each connection's first
 * request head before libwebsockets sees it.
 *
 * libwebsockets 4.1 parses request heads itself, and one that passes its
 * limits (its header storage, its 94 fragment slots for header values and
 * query arguments) ends the connection without an answer.  So the server
 * accepts connections itself, on the same libuv loop: the address limit
 * (limits.c) and the pause when accept() fails are applied here, then the
 * first request head of a plain-HTTP connection is read, up to
 * --max-header-bytes, and measured (head.c).  A head past a limit gets 431
 * or 414 and the connection is closed.  Otherwise the socket is handed to
 * lws (lws_adopt_socket_vhost()) with the head still in it: the gate only
 * looked (MSG_PEEK), and lws reads it as if it had accepted the socket,
 * into header storage server.c sizes to hold whatever passes here.  Not
 * lws_adopt_socket_vhost_readbuf() with the bytes read: lws 4.1 parses
 * them as the head, then delivers them again as the start of a body.
 *
 * Only the first request of a connection passes the gate: later ones on a
 * kept-alive connection, and every TLS connection (its head is inside TLS,
 * and lws does the TLS), go to lws as they are.
 */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "head.h"
#include "server_int.h"

/* How long accepting pauses after accept() failed, and how often it says so. */
#define ACCEPT_PAUSE_MS 250
#define ACCEPT_LOG_MS 10000
/* Connections taken per wake of the listening socket: others wait too. */
#define ACCEPT_BATCH 64
/*
 * The first buffer a head is looked at in; it grows to --max-header-bytes
 * (the head stays in the socket's receive buffer until lws reads it: Linux
 * gives that 128 KiB by default, more than the 63k a head may have).
 */
#define HEAD_BUF_FIRST 2048
/*
 * After a 431 or 414 the client may still be sending its head: what it
 * sends is read and dropped, up to this much and until --request-timeout,
 * so that closing with unread bytes (a reset) cannot destroy the answer
 * before the client reads it.
 */
#define DRAIN_MAX (256 * 1024)

struct gate {
    uv_poll_t poll;
    rt_server *s;
    struct gate *prev, *next;
    int fd;
    int answered; /* refused: dropping what still comes, then closing */
    uint64_t deadline_ms;
    char *buf;
    size_t len, cap, drained;
    struct rt__head head;
    struct sockaddr_storage peer;
};

/* ----------------------------------------------------------- accept */

static void listen_cb(uv_poll_t *h, int status, int events);

/*
 * accept() failed (EMFILE, ENFILE, ENOMEM): the connection stays in the
 * listen queue and the socket stays readable, so the loop would call again
 * at once, forever.  Stop watching the socket for a moment instead; the
 * tick resumes it, and a connection that closed in between has freed what
 * the next accept needs.
 */
static void accept_failed(rt_server *s, int err)
{
    if (s->accept_paused)
        return;
    uv_poll_stop(s->sh->listen);
    s->accept_paused = 1;
    s->accept_resume_ms = s->now_ms + ACCEPT_PAUSE_MS;
    s->m.accept_paused++;
    if (s->accept_logged_ms != 0 &&
        s->now_ms - s->accept_logged_ms < ACCEPT_LOG_MS) {
        s->accept_unlogged++;
        return;
    }
    rt__srv_log(s, RT_SERVER_LOG_WARN,
                "cannot accept connections (%s): pausing %d ms at a time; "
                "%llu more pauses since the last report",
                strerror(err), ACCEPT_PAUSE_MS,
                (unsigned long long)s->accept_unlogged);
    s->accept_logged_ms = s->now_ms;
    s->accept_unlogged = 0;
}

static void gate_open(rt_server *s, int fd, const struct sockaddr_storage *ss);

/*
 * Hand |fd| to lws, which owns it from here (it closes it if it cannot
 * take it) and reads the request as if it had accepted the socket.
 */
static void adopt(rt_server *s, int fd, const struct sockaddr_storage *ss)
{
    /* for the address count, in LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED */
    s->sh->adopting = ss;
    lws_adopt_socket_vhost(s->sh->vh, fd);
    s->sh->adopting = NULL;
}

static void listen_cb(uv_poll_t *h, int status, int events)
{
    rt_server *s = h->data;
    struct sockaddr_storage ss;
    socklen_t sl;
    int i, fd;

    (void)events;
    rt__srv_now_ms(s);
    if (status < 0) {
        accept_failed(s, -status);
        return;
    }
    for (i = 0; i < ACCEPT_BATCH; i++) {
        sl = sizeof(ss);
        fd = accept4(s->sh->listen_fd, (struct sockaddr *)&ss, &sl,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                accept_failed(s, errno);
            return;
        }
        if (!rt__peer_allowed(s, (struct sockaddr *)&ss)) {
            s->m.refused_address++;
            close(fd);
            continue;
        }
        if (s->o.tls_cert != NULL)
            adopt(s, fd, &ss);
        else
            gate_open(s, fd, &ss);
    }
}

/* -------------------------------------------------------- the gate */

static void gate_freed(uv_handle_t *h)
{
    rt__free(h->data);
}

/* Out of the gate: the descriptor is closed unless it was taken (-1). */
static void gate_close(struct gate *g)
{
    struct rt__shell *sh = g->s->sh;

    if (g->prev != NULL)
        g->prev->next = g->next;
    else
        sh->gates = g->next;
    if (g->next != NULL)
        g->next->prev = g->prev;
    else
        sh->gates_last = g->prev;
    rt__peer_del(g->s, g);
    rt__free(g->buf);
    g->buf = NULL;
    /*
     * Closing a poll handle stops it and removes the descriptor from the
     * loop's epoll set now, not at the close callback: lws may watch the
     * same descriptor with its own handle right after.
     */
    uv_close((uv_handle_t *)&g->poll, gate_freed);
    if (g->fd >= 0)
        close(g->fd);
}

static void gate_pass(struct gate *g)
{
    rt_server *s = g->s;
    struct sockaddr_storage ss = g->peer;
    int fd = g->fd;

    g->fd = -1;
    gate_close(g);
    adopt(s, fd, &ss);
}

static void gate_refuse(struct gate *g, enum rt__head_verdict v)
{
    rt_server *s = g->s;
    int uri = v == RT_HEAD_URI_TOO_LONG || v == RT_HEAD_TOO_MANY_ARGS;
    char msg[128], resp[512];
    char *json = NULL;
    size_t jlen = 0;
    int n;

    switch (v) {
    case RT_HEAD_TOO_MANY_FIELDS:
        snprintf(msg, sizeof(msg),
                 "request head with more than %d header fields",
                 RT_SERVER_MAX_HEADER_FIELDS);
        break;
    case RT_HEAD_TOO_MANY_ARGS:
        snprintf(msg, sizeof(msg),
                 "request URI with more than %d query arguments",
                 RT_SERVER_MAX_QUERY_ARGS);
        break;
    default:
        snprintf(msg, sizeof(msg),
                 "request %s over %zu bytes (--max-header-bytes)",
                 uri ? "line" : "head", s->o.max_header_bytes);
        break;
    }
    s->m.heads_refused[uri]++;
    s->m.errors[RT_MSG_CODE_TOO_LARGE]++;
    s->m.http_requests++;
    rt__srv_log(s, RT_SERVER_LOG_INFO, "http %d too_large: %s",
                uri ? 414 : 431, msg);
    if (rt_msg_encode_error(RT_MSG_CODE_TOO_LARGE, NULL, msg, &json, &jlen) !=
        0) {
        gate_close(g);
        return;
    }
    /*
     * A page may read the answer only if CORS allows it: said here for
     * "*", not for a list of origins (that would mean finding Origin in a
     * head nothing parsed).
     */
    n = snprintf(
        resp, sizeof(resp),
        "HTTP/1.1 %s\r\n"
        "Content-Type: application/json\r\n"
        "Content-Length: %zu\r\n"
        "Cache-Control: no-store\r\n"
        "%s"
        "Connection: close\r\n\r\n%s",
        uri ? "414 URI Too Long" : "431 Request Header Fields Too Large", jlen,
        s->o.allow_origin == NULL || strcmp(s->o.allow_origin, "*") == 0
            ? "Access-Control-Allow-Origin: *\r\n"
            : "",
        json);
    rt_free(json);
    /* The socket's buffer is empty: a few hundred bytes go at once. */
    if (n <= 0 || (size_t)n >= sizeof(resp) ||
        send(g->fd, resp, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) != n) {
        gate_close(g);
        return;
    }
    shutdown(g->fd, SHUT_WR);
    g->answered = 1;
    rt__free(g->buf);
    g->buf = NULL;
    g->len = g->cap = 0;
}

/* After a refusal: drop what the client still sends; close at its end. */
static void gate_drain(struct gate *g)
{
    char junk[4096];
    ssize_t n;

    for (;;) {
        n = recv(g->fd, junk, sizeof(junk), MSG_DONTWAIT);
        if (n > 0) {
            g->drained += (size_t)n;
            if (g->drained > DRAIN_MAX)
                break;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        break;
    }
    gate_close(g);
}

static int gate_grow(struct gate *g)
{
    size_t most = g->s->o.max_header_bytes + 1; /* enough for a verdict */
    size_t cap = g->cap ? g->cap * 2 : HEAD_BUF_FIRST;
    char *b;

    if (cap > most)
        cap = most;
    if (cap <= g->cap)
        return -1;
    b = rt__realloc(g->buf, cap);
    if (b == NULL)
        return -1;
    g->buf = b;
    g->cap = cap;
    return 0;
}

/*
 * SO_RCVLOWAT: the socket reads as readable once it holds |n| bytes.  The
 * gate looks at the head without taking it (MSG_PEEK), so the bytes stay
 * and the socket would stay readable: it asks to be woken by more.
 */
static int low_water(struct gate *g, int n)
{
    return setsockopt(g->fd, SOL_SOCKET, SO_RCVLOWAT, &n, sizeof(n));
}

static void gate_cb(uv_poll_t *h, int status, int events)
{
    struct gate *g = h->data;
    enum rt__head_verdict v;
    ssize_t n;

    rt__srv_now_ms(g->s);
    if (status < 0) {
        gate_close(g);
        return;
    }
    if (g->answered) {
        gate_drain(g);
        return;
    }
    for (;;) {
        if (g->len == g->cap && gate_grow(g) != 0) {
            gate_close(g);
            return;
        }
        /*
         * Look, do not take: lws reads the head itself from the socket.
         * (Handed the bytes, lws 4.1 parses them as the head and then
         * again as the start of the body.)
         */
        n = recv(g->fd, g->buf, g->cap, MSG_PEEK | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) { /* the client left before its head was whole */
            gate_close(g);
            return;
        }
        if ((size_t)n <= g->len) { /* woken without news */
            /* a client that stopped sending cannot finish its head */
            if ((events & UV_DISCONNECT) || low_water(g, (int)g->len + 1) != 0)
                gate_close(g);
            return;
        }
        v = rt__head_feed(&g->head, g->buf + g->len, (size_t)n - g->len);
        g->len = (size_t)n;
        if (v == RT_HEAD_DONE || v == RT_HEAD_OTHER) {
            if (low_water(g, 1) != 0) {
                gate_close(g);
                return;
            }
            gate_pass(g);
            return;
        }
        if (v != RT_HEAD_MORE) {
            low_water(g, 1);
            gate_refuse(g, v);
            return;
        }
        if (g->len < g->cap) { /* all there is: wait for more */
            if ((events & UV_DISCONNECT) || low_water(g, (int)g->len + 1) != 0)
                gate_close(g);
            return;
        }
    }
}

static void gate_open(rt_server *s, int fd, const struct sockaddr_storage *ss)
{
    struct rt__shell *sh = s->sh;
    struct gate *g = rt__calloc(1, sizeof(*g));

    if (g == NULL || uv_poll_init_socket(sh->loop, &g->poll, fd) != 0) {
        rt__free(g);
        close(fd);
        return;
    }
    g->s = s;
    g->fd = fd;
    g->peer = *ss;
    g->poll.data = g;
    g->deadline_ms = s->now_ms + s->o.request_timeout_ms;
    rt__head_init(&g->head, s->o.max_header_bytes, RT_SERVER_MAX_HEADER_FIELDS,
                  RT_SERVER_MAX_QUERY_ARGS);
    g->prev = sh->gates_last;
    if (sh->gates_last != NULL)
        sh->gates_last->next = g;
    else
        sh->gates = g;
    sh->gates_last = g;
    rt__peer_add(s, g, (const struct sockaddr *)ss);
    uv_poll_start(&g->poll, UV_READABLE | UV_DISCONNECT, gate_cb);
}

/* ---------------------------------------------------------- shell */

int rt__gate_listen(rt_server *s, char *errbuf, size_t errlen)
{
    const rt_server_opts *o = &s->o;
    struct sockaddr_storage ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    socklen_t sl;
    int fd, rc, one = 1, v6 = strchr(o->host, ':') != NULL;

    s->sh->listen_fd = -1;
    memset(&ss, 0, sizeof(ss));
    if (v6) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)o->port);
        rc = inet_pton(AF_INET6, o->host, &a6->sin6_addr);
        sl = sizeof(*a6);
    } else {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)o->port);
        rc = inet_pton(AF_INET, o->host, &a4->sin_addr);
        sl = sizeof(*a4);
    }
    if (rc != 1) {
        snprintf(errbuf, errlen, "--host: '%s' is not an IPv4 or IPv6 address",
                 o->host);
        return RT_EINVAL;
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, (struct sockaddr *)&ss, sl) != 0 ||
        listen(fd, SOMAXCONN) != 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
        snprintf(errbuf, errlen, "cannot listen on %s:%d: %s", o->host,
                 o->port, strerror(errno));
        if (fd >= 0)
            close(fd);
        return RT_ECONNREFUSED;
    }
    s->port = ntohs(v6 ? a6->sin6_port : a4->sin_port);
    s->sh->listen = rt__malloc(sizeof(*s->sh->listen));
    if (s->sh->listen == NULL ||
        (rc = uv_poll_init_socket(s->sh->loop, s->sh->listen, fd)) != 0) {
        snprintf(errbuf, errlen, "cannot listen on %s:%d: %s", o->host,
                 o->port, s->sh->listen ? uv_strerror(rc) : "out of memory");
        rt__free(s->sh->listen);
        s->sh->listen = NULL;
        close(fd);
        return RT_ECONNREFUSED;
    }
    s->sh->listen->data = s;
    s->sh->listen_fd = fd;
    return 0;
}

void rt__gate_start(rt_server *s)
{
    uv_poll_start(s->sh->listen, UV_READABLE, listen_cb);
}

static void listen_freed(uv_handle_t *h)
{
    rt__free(h);
}

void rt__gate_tick(rt_server *s)
{
    struct rt__shell *sh = s->sh;

    if (s->accept_paused && s->now_ms >= s->accept_resume_ms) {
        s->accept_paused = 0;
        if (sh->listen != NULL)
            uv_poll_start(sh->listen, UV_READABLE, listen_cb);
    }
    /* deadlines come in the order of the list: a head has as long as any */
    while (sh->gates != NULL && sh->gates->deadline_ms <= s->now_ms)
        gate_close(sh->gates);
}

void rt__gate_stop(rt_server *s)
{
    struct rt__shell *sh = s->sh;

    if (sh->listen != NULL) {
        uv_close((uv_handle_t *)sh->listen, listen_freed);
        sh->listen = NULL;
    }
    if (sh->listen_fd >= 0) {
        close(sh->listen_fd);
        sh->listen_fd = -1;
    }
    while (sh->gates != NULL)
        gate_close(sh->gates);
}
