/*
 * conn.c: the one write path of the server.  When a socket is writable
 * its connection's queue (queue.c) is drained in one
 * lws_write(LWS_WRITE_RAW) of up to RT_CORK_BYTES: libwebsockets keeps any
 * part the kernel did not take and sends it before anything else on that
 * connection (including its own pings and pongs), so frames are never
 * interleaved.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "server_int.h"

/* How often a connection that is not read is asked whether its client left. */
#define GONE_CHECK_MS 1000

/* Have lws call us back when the socket can take more. */
static void need_pollout(struct conn *c)
{
    if (!c->writable_asked && c->wsi != NULL) {
        c->writable_asked = 1;
        lws_callback_on_writable(c->wsi);
    }
}

/*
 * Write up to RT_CORK_BYTES of the queue in one raw write.  Returns -1 when
 * the write failed.
 */
static int write_some(struct conn *c)
{
    rt_server *s = c->srv;
    size_t used = 0, len;
    const unsigned char *first = NULL;
    struct smsg *m;
    int tr;

    tr = c->kind == CONN_SSE    ? RT_TR_SSE
         : c->kind == CONN_ECHO ? RT_TR_ECHO
                                : RT_TR_WS;
    m = c->q.v[c->q.head];
    len = rt__conn_wire_len(c, m);
    if (c->q.n == 1 || len >= RT_CORK_BYTES / 2) {
        /* One frame (or a big one): write it from where it lies. */
        first = rt__conn_wire_bytes(c, m);
        used = len;
        c->q.head = (c->q.head + 1) % c->q.cap;
        c->q.n--;
        c->q.bytes -= len;
    } else {
        while (c->q.n > 0) {
            m = c->q.v[c->q.head];
            len = rt__conn_wire_len(c, m);
            if (used + len > RT_CORK_BYTES)
                break;
            memcpy(s->sh->cork + LWS_PRE + used, rt__conn_wire_bytes(c, m),
                   len);
            used += len;
            c->q.head = (c->q.head + 1) % c->q.cap;
            c->q.n--;
            c->q.bytes -= len;
            rt__smsg_unref(m);
        }
        m = NULL;
    }
    /* lws keeps, and sends first, whatever the socket does not take. */
    if (lws_write(c->wsi,
                  first ? (unsigned char *)first : s->sh->cork + LWS_PRE, used,
                  LWS_WRITE_RAW) < (int)used) {
        rt__smsg_unref(m);
        return -1;
    }
    rt__smsg_unref(m);
    s->m.bytes_out[tr] += used;
    if (c->kind == CONN_SSE)
        lws_validity_confirmed(c->wsi);
    return 0;
}

/*
 * The writable callback.  Returns -1 when lws should close the connection
 * (a requested close whose frame is out, or a failed write).
 */
int rt__conn_write(struct conn *c)
{
    c->writable_asked = 0;
    rt__conn_dirty_unlink(c);
    if (c->killed)
        return -1;
    if (lws_partial_buffered(c->wsi)) {
        need_pollout(c); /* lws still holds part of the last write */
        return 0;
    }
    if (c->replaying && rt__conn_replay_fill(c) != 0)
        return -1;
    if (c->q.n == 0)
        return c->closing ? -1 : 0; /* the close frame is out: hang up */
    if (write_some(c) != 0)
        return -1;
    if (c->replaying && rt__conn_replay_fill(c) != 0)
        return -1;
    if (c->q.n > 0 || c->closing)
        need_pollout(c);
    return 0;
}

/*
 * End of a loop turn: write every connection that got something queued.
 * A socket lws still holds output for, or one with more queued than one
 * write takes, goes back to waiting for POLLOUT.
 */
void rt__conn_flush_all(rt_server *s)
{
    struct conn *c;

    while ((c = s->dirty) != NULL) {
        rt__conn_dirty_unlink(c);
        if (c->killed || c->wsi == NULL || c->writable_asked)
            continue;
        if (lws_partial_buffered(c->wsi) || c->q.n == 0) {
            if (c->q.n > 0 || c->closing)
                need_pollout(c);
            continue;
        }
        if (write_some(c) != 0 ||
            (c->replaying && rt__conn_replay_fill(c) != 0)) {
            rt__conn_drop(c, 0, "");
            continue;
        }
        if (c->q.n > 0 || c->closing)
            need_pollout(c);
    }
}

/*
 * libwebsockets 4.1 does not read a socket whose request it is still
 * answering: a waiting long poll, an SSE stream.  It would never see the
 * client's end of file, and its level-triggered poll would spin on the
 * socket (a fifth of a core for 30 SSE clients that left) until a write
 * failed: the next message or keepalive, an hour away with
 * --sse-keepalive 1h, the connection keeping its member in the room and
 * its place in --max-address-connections meanwhile.  So the socket is
 * asked now and then: a peek, nothing consumed.  Bytes waiting are a
 * request pipelined behind a poll (or, over TLS, anything at all), read
 * after the answer.
 */
void rt__conn_watch_gone(struct conn *c)
{
    c->gone_check_ms = c->srv->now_ms + GONE_CHECK_MS;
}

static int client_gone(struct conn *c)
{
    int fd = lws_get_socket_fd(c->wsi);
    ssize_t n;
    char ch;

    if (fd < 0)
        return 1;
    n = recv(fd, &ch, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0)
        return 1;
    return n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}

void rt__conn_check_gone(rt_server *s)
{
    struct conn *c;

    for (c = s->conns; c != NULL; c = c->next) {
        if (c->killed || c->gone_check_ms == 0 || s->now_ms < c->gone_check_ms)
            continue;
        /* a poll being answered reads again */
        if (c->kind == CONN_POLL ? c->resp_ready : c->kind != CONN_SSE)
            continue;
        c->gone_check_ms = s->now_ms + GONE_CHECK_MS;
        if (client_gone(c)) {
            /* lws closes a stream only once it reads the end */
            lws_rx_flow_control(c->wsi, 1);
            rt__conn_drop(c, 0, "");
        }
    }
}
