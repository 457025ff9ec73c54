/*
 * ws_proto.c: the protocol core of rt_ws_client (ws_proto.h): what the
 * server's frames mean, and the messages we sent with an id.
 *
 * Spec: PROTOCOL.md sections 3 (welcome, ack, error frames) and 4 (resume
 * with since and epoch, the resumed frame, ordering); rt/ws_client.h for
 * what the user sees.
 *
 * Invariants:
 * - Messages with an id stay here until acked, refused or closed: on
 *   |outq| before they are written, on |inflight| after; a reconnection
 *   moves |inflight| back to the front of |outq|.  |reported| marks one
 *   whose broadcast was taken as its ack: its ack frame, still to come,
 *   is swallowed.
 * - |outq| is handed out only while |ready|: once the welcome, and the
 *   resumed frame after it when a position was sent, have arrived (or
 *   rt__ws_proto_ready() for a raw connection).
 * - Stored messages are delivered only through |order|; during a replay
 *   they are held on |replay| until the resumed frame says whether the
 *   order buffer must start afresh.  |held_bytes| counts every stored
 *   message held, on |replay| or in |order|.
 * - |epoch| is the epoch of the position; it changes to the welcome's
 *   only when the position does (a fresh start, or a judged replay).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core_int.h"
#include "rt/order.h"
#include "ws_proto.h"

struct qmsg {
    struct qmsg *next;
    char *id;     /* NULL: sent at most once */
    int reported; /* its broadcast was taken as the ack: swallow the ack */
    int binary;
    size_t len;
    unsigned char buf[];
};

struct held {
    struct held *next; /* the replay list */
    rt__ws_proto *p;   /* whose held_bytes count it */
    uint64_t seq;
    rt_msg *msg;
    size_t len;
    char json[]; /* NUL-terminated */
};

struct rt__ws_proto {
    rt__ws_proto_cbs cbs;
    void *ud;
    rt_order *order;
    size_t max_queued, max_queued_bytes, max_replay, max_held_bytes;
    int stopped;

    /* Position and identity. */
    int has_pos;
    char epoch[RT__WS_PROTO_EPOCH_MAX + 1];
    char user[128];

    /* Outgoing messages. */
    struct qmsg *outq, **outq_tail;
    struct qmsg *inflight, **inflight_tail;
    size_t nqueued, queued_bytes;

    /* The connection. */
    int ready, replaying;
    struct held *replay, **replay_tail;
    size_t replay_n;
    size_t held_bytes;
    uint64_t welcome_seq;
    char welcome_epoch[RT__WS_PROTO_EPOCH_MAX + 1];
    int replay_trusted; /* same epoch: a contiguous replay is recovered */
};

static void fail(rt__ws_proto *p, int err, int final, const char *fmt, ...)
    RT__PRINTF(4, 5);

static void fail(rt__ws_proto *p, int err, int final, const char *fmt, ...)
{
    char detail[256];
    va_list ap;

    if (p->cbs.fail == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    p->cbs.fail(err, final, detail, p->ud);
}

static void progress(rt__ws_proto *p)
{
    if (p->cbs.progress != NULL)
        p->cbs.progress(p->ud);
}

static void report(rt__ws_proto *p, const char *id, uint64_t seq,
                   const char *code)
{
    if (p->cbs.ack != NULL)
        p->cbs.ack(id, seq, code, p->ud);
}

/* --- the outgoing queue */

static void qmsg_free(struct qmsg *q)
{
    rt__free(q->id);
    rt__free(q);
}

static void unqueue(rt__ws_proto *p, struct qmsg *q)
{
    p->nqueued--;
    p->queued_bytes -= q->len;
    qmsg_free(q);
}

/*
 * Unlink the first message on |*head| with |id| (and, unless |any|, not
 * yet reported), keeping |*tail| right.
 */
static struct qmsg *unlink_id(struct qmsg **head, struct qmsg ***tail,
                              const char *id, int any)
{
    struct qmsg **pp, *q;

    for (pp = head; (q = *pp) != NULL; pp = &q->next) {
        if (q->id == NULL || strcmp(q->id, id) != 0 || (!any && q->reported))
            continue;
        *pp = q->next;
        if (*tail == &q->next)
            *tail = pp;
        q->next = NULL;
        return q;
    }
    return NULL;
}

int rt__ws_proto_tracked(const rt__ws_proto *p, const char *id)
{
    const struct qmsg *q;

    if (p == NULL || id == NULL)
        return 0;
    for (q = p->inflight; q != NULL; q = q->next)
        if (q->id != NULL && !q->reported && strcmp(q->id, id) == 0)
            return 1;
    for (q = p->outq; q != NULL; q = q->next)
        if (q->id != NULL && strcmp(q->id, id) == 0)
            return 1;
    return 0;
}

/*
 * After a connection ends: what was in flight goes first next time; what
 * was already reported needs nothing more.
 */
static void requeue_inflight(rt__ws_proto *p)
{
    struct qmsg *q, **keep = &p->inflight;

    while ((q = *keep) != NULL) {
        if (q->reported) {
            *keep = q->next;
            unqueue(p, q);
        } else {
            keep = &q->next;
        }
    }
    p->inflight_tail = keep;
    if (p->inflight == NULL)
        return;
    *p->inflight_tail = p->outq;
    if (p->outq == NULL)
        p->outq_tail = p->inflight_tail;
    p->outq = p->inflight;
    p->inflight = NULL;
    p->inflight_tail = &p->inflight;
}

static void report_ack(rt__ws_proto *p, struct qmsg *q, uint64_t seq,
                       const char *code)
{
    progress(p); /* the connection works */
    report(p, q->id, seq, code);
    unqueue(p, q);
}

/*
 * An ack or error frame for |id|: the first message sent with it, which
 * is the one the frame answers (frames come in order).  One whose
 * broadcast was already taken as its ack is just dropped.
 */
static int answer_frame(rt__ws_proto *p, const char *id, uint64_t seq,
                        const char *code)
{
    struct qmsg *q = unlink_id(&p->inflight, &p->inflight_tail, id, 1);

    if (q == NULL)
        return 0;
    if (q->reported)
        unqueue(p, q);
    else
        report_ack(p, q, seq, code);
    return 1;
}

static void become_ready(rt__ws_proto *p)
{
    p->ready = 1;
    if (p->outq != NULL && p->cbs.want_write != NULL)
        p->cbs.want_write(p->ud);
}

/* --- incoming messages */

static void held_free(struct held *h)
{
    h->p->held_bytes -= h->len;
    rt_msg_free(h->msg);
    rt__free(h);
}

static void deliver(uint64_t seq, void *msg, void *ud)
{
    rt__ws_proto *p = ud;
    struct held *h = msg;

    (void)seq;
    if (!p->stopped)
        p->cbs.message(h->msg, h->json, h->len, p->ud);
    held_free(h);
}

static void free_held(void *msg, void *ud)
{
    (void)ud;
    held_free(msg);
}

static void replay_clear(rt__ws_proto *p)
{
    struct held *h;

    while ((h = p->replay) != NULL) {
        p->replay = h->next;
        held_free(h);
    }
    p->replay_tail = &p->replay;
    p->replay_n = 0;
}

/* A stored message, in the order buffer's hands. */
static void push_stored(rt__ws_proto *p, struct held *h, uint64_t now_ms)
{
    int rc = rt_order_push(p->order, h->seq, h, now_ms);

    if (rc == RT_EDUP) {
        held_free(h);
        return;
    }
    if (rc == RT_EFULL || rc == RT_ERANGE) {
        /* Too far ahead to hold: resume from what was delivered. */
        uint64_t seq = h->seq;

        held_free(h);
        fail(p, RT_EGAP, 0,
             "seq %llu arrived while %llu was expected; resuming",
             (unsigned long long)seq,
             (unsigned long long)rt_order_next(p->order));
        return;
    }
    if (rc != 0) {
        held_free(h);
        return;
    }
    p->has_pos = 1;
    progress(p);
}

/*
 * Is |m| our own message?  (Same id, author our user.)  Returns 1, 0, or
 * -1 when there was no memory to tell: |m|'s data already parsed once,
 * so cJSON can fail on it only for want of memory.
 */
static int is_ours(const rt__ws_proto *p, const rt_msg *m)
{
    cJSON *d, *a;
    int ours;

    if (m->id == NULL || p->user[0] == '\0' || m->data == NULL)
        return 0;
    d = cJSON_ParseWithLength(m->data, m->data_len);
    if (d == NULL)
        return -1;
    a = cJSON_GetObjectItemCaseSensitive(d, "author");
    ours = cJSON_IsString(a) && strcmp(a->valuestring, p->user) == 0;
    cJSON_Delete(d);
    return ours;
}

static void on_welcome(rt__ws_proto *p, const rt_msg *m)
{
    const char *ep = m->u.system.welcome.epoch;
    const char *user = m->u.system.welcome.user;

    if (user != NULL)
        rt__seterr(p->user, sizeof(p->user), "%s", user);
    p->welcome_seq = m->u.system.welcome.seq;
    p->welcome_epoch[0] = '\0';
    if (ep != NULL && strlen(ep) <= RT__WS_PROTO_EPOCH_MAX)
        memcpy(p->welcome_epoch, ep, strlen(ep) + 1);
    /*
     * Recovery is all or nothing (PROTOCOL.md 4): in the same epoch, a
     * replay that starts right after the last delivered seq is the whole
     * of it, and can be delivered as it comes.  That keeps a connection
     * too short-lived to finish a long replay making progress.
     */
    p->replay_trusted = p->has_pos && p->epoch[0] != '\0' &&
                        strcmp(p->epoch, p->welcome_epoch) == 0;
    if (!p->has_pos) {
        /* A fresh start: deliver what comes after the room's position. */
        rt_order_reset(p->order, p->welcome_seq + 1);
        p->has_pos = 1;
        memcpy(p->epoch, p->welcome_epoch, sizeof(p->epoch));
        p->replaying = 0;
    } else {
        p->replaying = 1; /* the server replays, then says "resumed" */
    }
    if (p->cbs.open != NULL)
        p->cbs.open(m, p->ud);
    if (!p->replaying)
        become_ready(p);
}

static void on_resumed_frame(rt__ws_proto *p, const rt_msg *m, uint64_t now_ms)
{
    int recovered = m->u.system.resumed.recovered;
    struct held *h;
    uint64_t next;

    if (!p->replaying)
        return;
    p->replaying = 0;
    /* PROTOCOL.md 4: a since from another epoch is never trusted. */
    if (p->epoch[0] != '\0' && p->welcome_epoch[0] != '\0' &&
        strcmp(p->epoch, p->welcome_epoch) != 0)
        recovered = 0;
    /*
     * Only now is the position in the welcome's epoch: a connection lost
     * during the replay resumes from the old position in the old epoch.
     */
    if (p->welcome_epoch[0] != '\0')
        memcpy(p->epoch, p->welcome_epoch, sizeof(p->epoch));
    if (!recovered) {
        next = p->replay != NULL ? p->replay->seq : p->welcome_seq + 1;
        rt_order_reset(p->order, next);
    }
    if (!p->stopped && p->cbs.resumed != NULL)
        p->cbs.resumed(recovered, m->u.system.resumed.from,
                       m->u.system.resumed.to, p->ud);
    while ((h = p->replay) != NULL && !p->stopped) {
        p->replay = h->next;
        p->replay_n--;
        push_stored(p, h, now_ms);
    }
    replay_clear(p);
    become_ready(p);
}

/* A stored message: held while a replay is unjudged, else ordered. */
static void take_stored(rt__ws_proto *p, struct held *h, uint64_t now_ms)
{
    if (p->held_bytes > p->max_held_bytes) {
        /* Held past a gap or for a replay: resume from what was delivered. */
        held_free(h);
        fail(p, RT_EGAP, 0, "more than %zu bytes of messages held; resuming",
             p->max_held_bytes);
        return;
    }
    if (p->replaying && !(p->replay_trusted && p->replay == NULL &&
                          h->seq <= rt_order_next(p->order))) {
        if (p->replay_n >= p->max_replay) {
            held_free(h);
            fail(p, RT_ETOOBIG, 1, "the replay holds more than %zu messages",
                 p->max_replay);
            return;
        }
        *p->replay_tail = h;
        p->replay_tail = &h->next;
        p->replay_n++;
        return;
    }
    /* Live, or a trusted replay's next seq (or a duplicate). */
    push_stored(p, h, now_ms);
}

int rt__ws_proto_push(rt__ws_proto *p, rt_msg *m, const char *json, size_t len,
                      uint64_t now_ms)
{
    struct held *h;
    struct qmsg *q;
    uint64_t seq;
    int ours = 0;

    if (p == NULL || json == NULL)
        return RT_EINVAL;
    if (m == NULL) {
        p->cbs.message(NULL, json, len, p->ud);
        return 0;
    }
    switch (m->type) {
    case RT_MSG_SYSTEM:
        if (m->u.system.event == RT_MSG_SYSTEM_WELCOME) {
            on_welcome(p, m);
            rt_msg_free(m);
            return 0;
        }
        if (m->u.system.event == RT_MSG_SYSTEM_RESUMED) {
            on_resumed_frame(p, m, now_ms);
            rt_msg_free(m);
            return 0;
        }
        break;
    case RT_MSG_ACK:
        /* Consumed, whether or not a message of ours still waits for it. */
        if (m->id != NULL)
            answer_frame(p, m->id, m->u.ack.has_seq ? m->u.ack.seq : 0, NULL);
        rt_msg_free(m);
        return 0;
    case RT_MSG_ERROR:
        if (m->id != NULL &&
            answer_frame(p, m->id, 0,
                         m->u.error.code != RT_MSG_CODE_NONE
                             ? rt_msg_code_name(m->u.error.code)
                             : "error")) {
            rt_msg_free(m);
            return 0;
        }
        break;
    default:
        break;
    }
    if (!m->has_seq) {
        p->cbs.message(m, json, len, p->ud);
        rt_msg_free(m);
        return 0;
    }
    /* Judge and copy first, so that running out of memory changes nothing. */
    if (m->id != NULL && rt__ws_proto_tracked(p, m->id) &&
        (ours = is_ours(p, m)) < 0)
        return RT_ENOMEM;
    h = rt__malloc(sizeof(*h) + len + 1);
    if (h == NULL)
        return RT_ENOMEM;
    h->next = NULL;
    h->p = p;
    h->seq = m->seq;
    h->msg = m;
    h->len = len;
    p->held_bytes += len;
    memcpy(h->json, json, len);
    h->json[len] = '\0';
    /*
     * A stored message of ours is as good as its ack: the ack may be lost
     * with the connection, and a message already delivered is not in the
     * replay of the next one, so it would be sent, and stored, twice.
     * The ack is reported after the message is handed on.
     */
    q = NULL;
    seq = m->seq;
    if (ours) {
        /* In flight: its ack frame is still to come, and is dropped. */
        for (q = p->inflight; q != NULL; q = q->next)
            if (q->id != NULL && !q->reported && strcmp(q->id, m->id) == 0)
                break;
        if (q != NULL) {
            q->reported = 1;
        } else {
            /* Queued again after a cut: no ack frame will come. */
            q = unlink_id(&p->outq, &p->outq_tail, m->id, 1);
        }
    }
    take_stored(p, h, now_ms); /* may free h and m */
    if (q == NULL)
        return 0;
    if (q->reported) {
        progress(p);
        report(p, q->id, seq, NULL);
    } else {
        report_ack(p, q, seq, NULL);
    }
    return 0;
}

int rt__ws_proto_tick(rt__ws_proto *p, uint64_t now_ms, uint64_t *from,
                      uint64_t *to)
{
    if (p == NULL)
        return RT_EINVAL;
    return rt_order_tick(p->order, now_ms, from, to) == RT_EGAP ? RT_EGAP : 0;
}

uint64_t rt__ws_proto_deadline(const rt__ws_proto *p)
{
    return p == NULL ? UINT64_MAX : rt_order_deadline(p->order);
}

size_t rt__ws_proto_held(const rt__ws_proto *p)
{
    return p == NULL ? 0 : rt_order_held(p->order);
}

/* --- sending */

int rt__ws_proto_send(rt__ws_proto *p, int binary, const void *data,
                      size_t len, const char *id)
{
    struct qmsg *q;

    if (p == NULL || (data == NULL && len > 0))
        return RT_EINVAL;
    if (p->stopped)
        return RT_ESTATE;
    if (p->nqueued >= p->max_queued ||
        len > p->max_queued_bytes - p->queued_bytes)
        return RT_EFULL;
    q = rt__malloc(sizeof(*q) + len);
    if (q == NULL)
        return RT_ENOMEM;
    q->next = NULL;
    q->id = NULL;
    q->reported = 0;
    if (id != NULL && (q->id = rt__strndup(id, strlen(id))) == NULL) {
        rt__free(q);
        return RT_ENOMEM;
    }
    q->binary = binary;
    q->len = len;
    if (len > 0)
        memcpy(q->buf, data, len);
    *p->outq_tail = q;
    p->outq_tail = &q->next;
    p->nqueued++;
    p->queued_bytes += len;
    if (p->ready && p->cbs.want_write != NULL)
        p->cbs.want_write(p->ud);
    return 0;
}

const void *rt__ws_proto_next(rt__ws_proto *p, size_t *len, int *binary)
{
    struct qmsg *q;

    if (p == NULL)
        return NULL;
    /* Stopping: what has an id is reported "closed", not sent. */
    while (p->stopped && (q = p->outq) != NULL && q->id != NULL) {
        p->outq = q->next;
        if (p->outq == NULL)
            p->outq_tail = &p->outq;
        report(p, q->id, 0, "closed");
        unqueue(p, q);
    }
    if (!p->ready || (q = p->outq) == NULL)
        return NULL;
    if (len != NULL)
        *len = q->len;
    if (binary != NULL)
        *binary = q->binary;
    return q->buf;
}

void rt__ws_proto_sent(rt__ws_proto *p)
{
    struct qmsg *q;

    if (p == NULL || (q = p->outq) == NULL)
        return;
    p->outq = q->next;
    if (p->outq == NULL)
        p->outq_tail = &p->outq;
    if (q->id != NULL) {
        q->next = NULL;
        *p->inflight_tail = q;
        p->inflight_tail = &q->next;
    } else {
        unqueue(p, q);
    }
}

int rt__ws_proto_has_out(const rt__ws_proto *p)
{
    return p != NULL && p->outq != NULL;
}

size_t rt__ws_proto_pending(const rt__ws_proto *p)
{
    return p == NULL ? 0 : p->nqueued;
}

/* --- the connection */

void rt__ws_proto_connecting(rt__ws_proto *p)
{
    if (p == NULL)
        return;
    p->ready = p->replaying = 0;
    replay_clear(p);
}

void rt__ws_proto_disconnected(rt__ws_proto *p)
{
    if (p == NULL)
        return;
    requeue_inflight(p);
    replay_clear(p);
}

void rt__ws_proto_ready(rt__ws_proto *p)
{
    if (p != NULL)
        become_ready(p);
}

void rt__ws_proto_stop(rt__ws_proto *p)
{
    if (p != NULL)
        p->stopped = 1;
}

void rt__ws_proto_finalize(rt__ws_proto *p)
{
    struct qmsg *q;

    if (p == NULL)
        return;
    requeue_inflight(p);
    while ((q = p->outq) != NULL) {
        p->outq = q->next;
        if (q->id != NULL)
            report(p, q->id, 0, "closed");
        unqueue(p, q);
    }
    p->outq_tail = &p->outq;
}

int rt__ws_proto_position(const rt__ws_proto *p, uint64_t *seq,
                          const char **epoch)
{
    int known = p != NULL && p->has_pos;

    if (seq != NULL)
        *seq = known ? rt_order_next(p->order) - 1 : 0;
    if (epoch != NULL)
        *epoch = p != NULL ? p->epoch : "";
    return known;
}

const char *rt__ws_proto_user(const rt__ws_proto *p)
{
    return p == NULL ? "" : p->user;
}

/* --- life */

static void queue_free(struct qmsg *q)
{
    struct qmsg *next;

    for (; q != NULL; q = next) {
        next = q->next;
        qmsg_free(q);
    }
}

int rt__ws_proto_new(rt__ws_proto **out, const rt__ws_proto_opts *o,
                     const rt__ws_proto_cbs *cbs, void *ud)
{
    rt_order_opts oo;
    rt__ws_proto *p;
    int rc;

    if (out == NULL)
        return RT_EINVAL;
    *out = NULL;
    if (o == NULL || cbs == NULL || cbs->message == NULL ||
        (o->epoch != NULL && strlen(o->epoch) > RT__WS_PROTO_EPOCH_MAX) ||
        (o->has_since && o->since == UINT64_MAX) || o->max_queued == 0 ||
        o->max_queued_bytes == 0)
        return RT_EINVAL;
    p = rt__calloc(1, sizeof(*p));
    if (p == NULL)
        return RT_ENOMEM;
    p->cbs = *cbs;
    p->ud = ud;
    p->outq_tail = &p->outq;
    p->inflight_tail = &p->inflight;
    p->replay_tail = &p->replay;
    p->max_queued = o->max_queued;
    p->max_queued_bytes = o->max_queued_bytes;
    p->max_replay =
        o->max_replay != 0 ? o->max_replay : RT__WS_PROTO_REPLAY_MAX;
    p->max_held_bytes =
        o->max_held_bytes != 0 ? o->max_held_bytes : RT__WS_PROTO_HELD_MAX;
    p->has_pos = o->has_since;
    if (o->epoch != NULL)
        memcpy(p->epoch, o->epoch, strlen(o->epoch) + 1);
    rt_order_opts_init(&oo);
    oo.free_msg = free_held;
    oo.gap_timeout_ms = o->gap_timeout_ms;
    rc = rt_order_new(&p->order, &oo, o->has_since ? o->since + 1 : 1, deliver,
                      p);
    if (rc != 0) {
        rt__free(p);
        return rc;
    }
    *out = p;
    return 0;
}

void rt__ws_proto_free(rt__ws_proto *p)
{
    if (p == NULL)
        return;
    rt_order_free(p->order);
    replay_clear(p);
    queue_free(p->outq);
    queue_free(p->inflight);
    rt__free(p);
}
