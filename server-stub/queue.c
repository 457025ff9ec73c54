/*
 * queue.c: shared encoded messages and the per-connection send queues,
 * with the slow-consumer rule (core.h); the shell's write path (conn.c)
 * drains them.
 *
 * A message is encoded once: its JSON sits in a buffer with room for the
 * WebSocket frame header in front, so the frame every receiver gets is a
 * slice of that buffer; server frames are unmasked, so the bytes are the
 * same for all.  Receivers queue a pointer and a reference.  Invariant: a
 * queued smsg holds one reference per queue it is on.
 */
#include <string.h>

#include "core.h"

struct smsg *rt__smsg_new(const char *json, size_t len, rt_msg_type type,
                          int opcode)
{
    struct smsg *m;
    size_t hdr;
    unsigned char *h;

    if (len > SIZE_MAX - sizeof(*m) - 11)
        return NULL;
    m = rt__malloc(sizeof(*m) + 10 + len + 1);
    if (m == NULL)
        return NULL;
    memset(m, 0, sizeof(*m));
    m->refs = 1;
    m->type = type;
    m->ws_opcode = (uint8_t)opcode;
    m->json_len = len;
    memcpy(m->buf + 10, json, len);
    m->buf[10 + len] = '\0';
    /* RFC 6455 section 5.2: FIN, opcode, then a 7, 16 or 64-bit length. */
    hdr = len < 126 ? 2 : len < 65536 ? 4 : 10;
    h = m->buf + 10 - hdr;
    h[0] = (unsigned char)(0x80 | (opcode & 0x0f));
    if (hdr == 2) {
        h[1] = (unsigned char)len;
    } else if (hdr == 4) {
        h[1] = 126;
        h[2] = (unsigned char)(len >> 8);
        h[3] = (unsigned char)len;
    } else {
        int i;

        h[1] = 127;
        for (i = 0; i < 8; i++)
            h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
    }
    m->ws = h;
    m->ws_len = hdr + len;
    return m;
}

int rt__ws_frame(rt_buf *b, const char *json, size_t len)
{
    unsigned char h[10];
    size_t hdr = len < 126 ? 2 : len < 65536 ? 4 : 10, i;
    int rc;

    h[0] = 0x81;
    if (hdr == 2) {
        h[1] = (unsigned char)len;
    } else if (hdr == 4) {
        h[1] = 126;
        h[2] = (unsigned char)(len >> 8);
        h[3] = (unsigned char)len;
    } else {
        h[1] = 127;
        for (i = 0; i < 8; i++)
            h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
    }
    rc = rt__buf_append(b, h, hdr);
    if (rc == 0)
        rc = rt__buf_append(b, json, len);
    return rc;
}

struct smsg *rt__smsg_frames(rt_msg_type type, const rt_buf *ws, rt_buf *sse)
{
    struct smsg *m;

    if (ws->len > SIZE_MAX - sizeof(*m) - 11)
        return NULL;
    m = rt__malloc(sizeof(*m) + 10 + ws->len + 1);
    if (m == NULL)
        return NULL;
    memset(m, 0, sizeof(*m));
    m->refs = 1;
    m->type = type;
    m->ws_opcode = 0x1;
    memcpy(m->buf, ws->data, ws->len);
    m->buf[ws->len] = '\0';
    /* no JSON of its own: its frames are for WebSocket and SSE only */
    m->ws = m->buf;
    m->ws_len = ws->len;
    m->sse = rt__buf_detach(sse, &m->sse_len);
    if (m->sse == NULL) {
        rt__free(m);
        return NULL;
    }
    return m;
}

struct smsg *rt__smsg_ref(struct smsg *m)
{
    m->refs++;
    return m;
}

void rt__smsg_unref(struct smsg *m)
{
    if (m == NULL || --m->refs > 0)
        return;
    rt__free(m->sse);
    rt__free(m);
}

const char *rt__smsg_json(const struct smsg *m)
{
    return (const char *)m->buf + 10;
}

int rt__smsg_sse(struct smsg *m, const char *epoch)
{
    rt_buf b;

    if (m->sse != NULL)
        return 0;
    rt__buf_init(&b);
    if (m->stored && rt__buf_printf(&b, "id: %s-%llu\n", epoch,
                                    (unsigned long long)m->seq) != 0)
        goto nomem;
    /* The JSON is one line: the encoder never emits a raw newline. */
    if (rt__buf_printf(&b, "event: %s\ndata: ", rt_msg_type_name(m->type)) ||
        rt__buf_append(&b, rt__smsg_json(m), m->json_len) ||
        rt__buf_append(&b, "\n\n", 2))
        goto nomem;
    m->sse = rt__buf_detach(&b, &m->sse_len);
    return m->sse ? 0 : RT_ENOMEM;
nomem:
    rt__buf_cleanup(&b);
    return RT_ENOMEM;
}

/* ----------------------------------------------------------- outq */

void rt__outq_clear(struct outq *q)
{
    while (q->n > 0) {
        rt__smsg_unref(q->v[q->head]);
        q->head = (q->head + 1) % q->cap;
        q->n--;
    }
    rt__free(q->v);
    memset(q, 0, sizeof(*q));
}

static int outq_push(struct outq *q, struct smsg *m, size_t bytes)
{
    if (q->n == q->cap) {
        uint32_t cap = q->cap ? q->cap * 2 : 16, i;
        struct smsg **v;

        if (cap < q->cap)
            return RT_ENOMEM;
        v = rt__reallocarray(NULL, cap, sizeof(*v));
        if (v == NULL)
            return RT_ENOMEM;
        for (i = 0; i < q->n; i++)
            v[i] = q->v[(q->head + i) % q->cap];
        rt__free(q->v);
        q->v = v;
        q->head = 0;
        q->cap = cap;
    }
    q->v[(q->head + q->n) % q->cap] = rt__smsg_ref(m);
    q->n++;
    q->bytes += bytes;
    return 0;
}

size_t rt__conn_wire_len(const struct conn *c, const struct smsg *m)
{
    return c->kind == CONN_SSE ? m->sse_len : m->ws_len;
}

const unsigned char *rt__conn_wire_bytes(const struct conn *c,
                                         const struct smsg *m)
{
    return c->kind == CONN_SSE ? (const unsigned char *)m->sse : m->ws;
}

void rt__conn_dirty_unlink(struct conn *c)
{
    if (!c->dirty)
        return;
    if (c->dprev)
        c->dprev->dnext = c->dnext;
    else
        c->srv->dirty = c->dnext;
    if (c->dnext)
        c->dnext->dprev = c->dprev;
    c->dnext = c->dprev = NULL;
    c->dirty = 0;
}

/*
 * Something was queued on |c|: write it at the end of this loop turn,
 * together with whatever else the turn queues.  Asking lws for a writable
 * callback per message would cost an epoll_ctl to arm POLLOUT and another
 * to disarm it, per connection and message; a socket that is not full
 * takes the write at once.
 */
static void ask_writable(struct conn *c)
{
    if (c->dirty || c->writable_asked || c->wsi == NULL)
        return;
    c->dirty = 1;
    c->dprev = NULL;
    c->dnext = c->srv->dirty;
    if (c->srv->dirty)
        c->srv->dirty->dprev = c;
    c->srv->dirty = c;
}

/*
 * Queue |m| on |c|.  Never blocks and never fails the room: a connection
 * whose queue would pass --max-queue-bytes is dropped as a slow consumer.
 */
static int conn_queue(struct conn *c, struct smsg *m);

static int conn_queue_json(struct conn *c, const char *json, size_t len,
                           rt_msg_type type)
{
    struct smsg *m = rt__smsg_new(json, len, type, 0x1);
    int rc;

    if (m == NULL)
        return RT_ENOMEM;
    rc = conn_queue(c, m);
    rt__smsg_unref(m);
    return rc;
}

static int conn_queue(struct conn *c, struct smsg *m)
{
    rt_server *s = c->srv;
    size_t len;

    if (c->killed || c->closing)
        return 0;
    if (c->kind == CONN_SSE && rt__smsg_sse(m, c->room->epoch) != 0)
        return RT_ENOMEM;
    len = rt__conn_wire_len(c, m);
    /*
     * Typing and presence events are worth nothing late: a receiver that
     * is already behind goes without them, and is never closed for them.
     */
    if (!m->stored &&
        (m->type == RT_MSG_TYPING || m->type == RT_MSG_PRESENCE) &&
        c->q.bytes + len > s->o.max_queue_bytes / 2) {
        s->m.ephemeral_drops++;
        return 0;
    }
    if (c->q.bytes + len > s->o.max_queue_bytes && c->q.n > 0) {
        s->m.slow_consumer++;
        s->m.queue_drops += c->q.n;
        rt__srv_log(s, RT_SERVER_LOG_WARN,
                    "closing slow consumer %s in room %s: %zu bytes queued",
                    c->user, c->room ? c->room->name : "-", c->q.bytes);
        /*
         * Forget the queue; what lws already holds (at most one write) and
         * the close frame wait for the reader, which gets a few seconds to
         * take them before the connection is cut.
         */
        rt__outq_clear(&c->q);
        if (c->kind == CONN_SSE) {
            rt__conn_drop(c, 0, "");
        } else {
            rt__conn_close(c, 1013, "slow consumer");
            s->io->linger(c, 5);
        }
        return 0;
    }
    if (outq_push(&c->q, m, len) != 0)
        return RT_ENOMEM;
    s->m.delivered[c->kind == CONN_SSE    ? RT_TR_SSE
                   : c->kind == CONN_ECHO ? RT_TR_ECHO
                                          : RT_TR_WS]++;
    ask_writable(c);
    return 0;
}

int rt__conn_send(struct conn *c, struct smsg *m)
{
    /* A replaying connection takes stored messages from the history. */
    if (c->replaying && m->stored)
        return 0;
    return conn_queue(c, m);
}

int rt__conn_replay_fill(struct conn *c)
{
    rt_server *s = c->srv;
    struct room *r = c->room;
    size_t ahead = s->o.max_queue_bytes / 2;
    struct rt_replay next;
    struct resume rs;
    struct smsg *m;
    rt_buf b;
    int rc;

    if (ahead > RT_REPLAY_AHEAD)
        ahead = RT_REPLAY_AHEAD;
    while (c->replaying) {
        if (c->killed || c->closing || r == NULL) {
            c->replaying = 0;
            rt__conn_fetch_clear(c);
            return 0;
        }
        if (c->fetching)
            return 0; /* the engine's part comes first */
        if (c->q.n > 0 && c->q.bytes >= ahead)
            return 0; /* more when the socket has taken some */
        next = c->replay;
        if (c->fetch_pos < c->fetch_n) {
            m = c->fetch_v[c->fetch_pos];
        } else {
            rt__conn_fetch_clear(c);
            m = rt__replay_next(&next, &r->hist, r->seq);
        }
        if (m == NULL)
            break;
        if (c->kind == CONN_SSE && rt__smsg_sse(m, r->epoch) != 0)
            return RT_ENOMEM;
        if (c->q.n > 0 &&
            c->q.bytes + rt__conn_wire_len(c, m) > s->o.max_queue_bytes)
            return 0;
        c->replay = next;
        if (c->fetch_pos < c->fetch_n) {
            /* the queue took a reference of its own */
            rc = conn_queue(c, m);
            c->fetch_pos++;
            rt__smsg_unref(m);
            if (rc != 0)
                return rc;
            continue;
        }
        if ((rc = conn_queue(c, m)) != 0)
            return rc;
    }
    if (!c->replaying)
        return 0;
    /* Caught up: say whether that was everything, then go live. */
    c->replaying = 0;
    memset(&rs, 0, sizeof(rs));
    rs.asked = 1;
    rs.from = c->replay_from;
    rs.to = r->seq;
    rs.recovered = next.recovered;
    if (rs.recovered)
        s->m.resumes_recovered++;
    else
        s->m.resumes_lost++;
    rt__buf_init(&b);
    rc = rt__frame_resumed(r, &rs, &b);
    if (rc == 0)
        rc = conn_queue_json(c, b.data, b.len, RT_MSG_SYSTEM);
    rt__buf_cleanup(&b);
    return rc;
}

int rt__conn_send_json(struct conn *c, const char *json, size_t len,
                       rt_msg_type type)
{
    struct smsg *m = rt__smsg_new(json, len, type, 0x1);
    int rc;

    if (m == NULL)
        return RT_ENOMEM;
    rc = rt__conn_send(c, m);
    rt__smsg_unref(m);
    return rc;
}

int rt__conn_send_error(struct conn *c, rt_msg_code code, const char *id,
                        const char *message)
{
    char *out;
    size_t len;
    int rc;

    c->srv->m.errors[code]++;
    rt__srv_log(c->srv, RT_SERVER_LOG_INFO, "error %s to %s in room %s: %s",
                rt_msg_code_name(code), c->user[0] ? c->user : "-",
                c->room ? c->room->name : (c->path[0] ? c->path : "-"),
                message);
    rc = rt_msg_encode_error(code, id, message, &out, &len);
    if (rc != 0)
        return rc;
    rc = rt__conn_send_json(c, out, len, RT_MSG_ERROR);
    rt_free(out);
    return rc;
}

/*
 * Queue a control frame (close, ping) on a WebSocket, past the queue limit:
 * it is small and must go out.  Not counted as a delivered message.
 */
int rt__conn_send_control(struct conn *c, int opcode, const void *payload,
                          size_t len)
{
    struct smsg *m;
    int rc;

    if (c->killed || (c->kind != CONN_WS && c->kind != CONN_ECHO))
        return 0;
    m = rt__smsg_new(payload, len, RT_MSG_SYSTEM, opcode);
    if (m == NULL)
        return RT_ENOMEM;
    rc = outq_push(&c->q, m, m->ws_len);
    rt__smsg_unref(m);
    ask_writable(c);
    return rc;
}

/*
 * Close |c| with a WebSocket close code once what is queued before it has
 * gone out (an error frame, for instance).  The close frame is written by
 * us, in order with the rest of the queue, because frames already handed
 * to lws in raw writes are invisible to its own close logic.
 */
void rt__conn_close(struct conn *c, uint16_t code, const char *reason)
{
    unsigned char payload[2 + 123];
    size_t rlen = strlen(reason);

    if (c->closing || c->killed)
        return;
    if (rlen > sizeof(payload) - 2)
        rlen = sizeof(payload) - 2;
    payload[0] = (unsigned char)(code >> 8);
    payload[1] = (unsigned char)code;
    memcpy(payload + 2, reason, rlen);
    rt__conn_send_control(c, 0x8, payload, 2 + rlen);
    c->closing = 1;
    c->close_code = code;
    snprintf(c->close_reason, sizeof(c->close_reason), "%s", reason);
    rt__metrics_close(c->srv, code);
    ask_writable(c);
}

/*
 * Drop |c| now: forget its queue and have lws close it on its next turn,
 * whether or not its socket ever becomes writable again (a stalled reader
 * never does).  The close frame goes out if the socket takes it.
 */
void rt__conn_drop(struct conn *c, uint16_t code, const char *reason)
{
    if (c->killed)
        return;
    c->killed = 1;
    rt__outq_clear(&c->q);
    if (c->wsi != NULL)
        c->srv->io->kill(c, code, reason);
}

void rt__conn_link(struct conn *c)
{
    rt_server *s = c->srv;

    if (c->linked)
        return;
    c->linked = 1;
    c->prev = NULL;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
}

void rt__conn_unlink(struct conn *c)
{
    rt_server *s = c->srv;

    rt__conn_dirty_unlink(c);
    if (!c->linked)
        return;
    c->linked = 0;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->nconns--;
}
