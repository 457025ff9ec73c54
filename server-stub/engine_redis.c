/*
 * engine_redis.c: the storage engine of engine.h on Redis (redis.h).
 *
 * The truth is in Redis: epochs, seqs, streams, cluster presence.  This
 * file only maps the engine's operations onto the client and keeps what
 * it must to honour their completion rules:
 * - attach reads the room's position, completes with it and subscribes
 *   from there (the client fills what came between from the stream);
 * - append completes OK only once the message has been delivered here:
 *   its own seq is offered to the client at once (usually the next one, so
 *   delivered without waiting for the channel); when it is not yet
 *   deliverable the completion waits, parked, for the delivery;
 * - read asks for the room's position and the range in one pipeline.
 * Every pending completion is on one list, so that free cancels them all.
 */
#include "engine_redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_int.h"
#include "redis.h"
#include "rt/error.h"
#include "server.h"

/* From server.c: the server's log (engine.h gives no logger). */
void rt__srv_log(const rt_server *s, enum rt_server_log_level lvl,
                 const char *fmt, ...) RT__PRINTF(3, 4);

#define E_BUCKETS 256

enum op_kind { OP_ATTACH, OP_APPEND, OP_READ };

struct eop {
    struct eop *prev, *next;
    struct eng_redis *e;
    enum op_kind kind;
    char *room;
    rt_redis_req *req, *req2;
    void *ud;
    union {
        rt__eng_attach_cb attach;
        rt__eng_append_cb append;
        rt__eng_read_cb read;
    } cb;
    /* append */
    char *body;
    size_t len;
    uint64_t seq; /* stored as; parked until delivered */
    int parked;
    /* read */
    uint64_t after;
    int have_info;
    char epoch[RT__EPOCH_MAX + 1];
    uint64_t top, oldest;
};

struct eroom {
    struct eroom *hnext;
    int subscribed;
    char name[];
};

struct eng_redis {
    struct rt__engine base;
    rt_redis *r;
    struct eop *ops;
    struct eroom *rooms[E_BUCKETS];
    uint64_t unavailable; /* operations answered UNAVAILABLE */
    uint64_t gaps;        /* deliveries the core refused as a gap */
};

/* ------------------------------------------------------------ helpers */

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = rt__malloc(n);

    if (d)
        memcpy(d, s, n);
    return d;
}

static unsigned hash(const char *s)
{
    unsigned h = 2166136261u;

    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h % E_BUCKETS;
}

static struct eroom *room_find(struct eng_redis *e, const char *name)
{
    struct eroom *m = e->rooms[hash(name)];

    while (m && strcmp(m->name, name) != 0)
        m = m->hnext;
    return m;
}

static struct eroom *room_add(struct eng_redis *e, const char *name)
{
    size_t n = strlen(name) + 1;
    struct eroom *m = rt__calloc(1, sizeof(*m) + n);
    unsigned h = hash(name);

    if (!m)
        return NULL;
    memcpy(m->name, name, n);
    m->hnext = e->rooms[h];
    e->rooms[h] = m;
    return m;
}

static void room_del(struct eng_redis *e, const char *name)
{
    struct eroom **pp;

    for (pp = &e->rooms[hash(name)]; *pp; pp = &(*pp)->hnext) {
        if (strcmp((*pp)->name, name) == 0) {
            struct eroom *m = *pp;
            *pp = m->hnext;
            rt__free(m);
            return;
        }
    }
}

static struct eop *op_new(struct eng_redis *e, enum op_kind kind,
                          const char *room, void *ud)
{
    struct eop *o = rt__calloc(1, sizeof(*o));

    if (!o)
        return NULL;
    o->room = xstrdup(room);
    if (!o->room) {
        rt__free(o);
        return NULL;
    }
    o->e = e;
    o->kind = kind;
    o->ud = ud;
    o->next = e->ops;
    if (e->ops)
        e->ops->prev = o;
    e->ops = o;
    return o;
}

/* Off the list and freed; its callback has run or never will. */
static void op_done(struct eop *o)
{
    struct eng_redis *e = o->e;

    if (o->prev)
        o->prev->next = o->next;
    else
        e->ops = o->next;
    if (o->next)
        o->next->prev = o->prev;
    rt__free(o->room);
    rt__free(o->body);
    rt__free(o);
}

static enum rt__eng_status status_of(int err)
{
    return err == RT_ENOMEM ? RT__ENG_NOMEM : RT__ENG_UNAVAILABLE;
}

/* ------------------------------------------------------ client events */

/* Parked appends of |room| up to |seq| were delivered: acknowledge them. */
static void unpark(struct eng_redis *e, const char *room, uint64_t seq)
{
    struct eop *o, *next;

    for (o = e->ops; o; o = next) {
        next = o->next;
        if (o->parked && o->seq <= seq &&
            (!room || strcmp(o->room, room) == 0)) {
            rt__eng_append_cb cb = o->cb.append;
            void *ud = o->ud;
            uint64_t s = o->seq;
            op_done(o);
            cb(ud, RT__ENG_OK, s);
            /* The callback may have freed what |next| points to. */
            next = e->ops;
        }
    }
}

static void on_up(void *ud)
{
    struct eng_redis *e = ud;

    if (!e->base.srv)
        return;
    rt__srv_log(e->base.srv, RT_SERVER_LOG_INFO,
                "redis: connected; resubscribing and filling gaps");
}

static void on_down(void *ud, const char *why)
{
    struct eng_redis *e = ud;

    if (e->base.srv)
        rt__srv_log(e->base.srv, RT_SERVER_LOG_WARN,
                    "redis: %s; publishes answer unavailable until it is back",
                    why);
    /*
     * Parked appends are stored: acknowledge them; their delivery here
     * comes with the gap fill after the reconnect.
     */
    unpark(e, NULL, UINT64_MAX);
}

static void on_message(void *ud, const char *room, uint64_t seq,
                       const char *epoch, const char *payload, size_t len,
                       uint64_t lost)
{
    struct eng_redis *e = ud;
    int rc;

    (void)epoch;
    if (lost)
        rt__srv_log(e->base.srv, RT_SERVER_LOG_WARN,
                    "redis: room '%s': %llu messages before seq %llu were "
                    "trimmed from the stream before they could be read",
                    room, (unsigned long long)lost, (unsigned long long)seq);
    rc = rt__srv_deliver(e->base.srv, room, seq, payload, len);
    if (rc == RT_EGAP)
        e->gaps++;
    unpark(e, room, seq);
}

static void on_reset(void *ud, const char *room, const char *epoch)
{
    struct eng_redis *e = ud;

    rt__srv_log(e->base.srv, RT_SERVER_LOG_WARN,
                "redis: room '%s' starts a new history (epoch %s): Redis "
                "lost it",
                room, epoch);
    rt__srv_room_reset(e->base.srv, room, epoch, 0);
}

static void on_presence(void *ud, const char *room, const char *user, int what)
{
    struct eng_redis *e = ud;

    rt__srv_presence_remote(e->base.srv, room, user, what == RT_REDIS_JOINED,
                            what == RT_REDIS_EXPIRED ? "timeout" : "closed");
}

static const struct rt_redis_cbs cbs = {on_up, on_down, on_message, on_reset,
                                        on_presence};

/* ------------------------------------------------------------- attach */

static void on_users(void *ud, int err, const char *const *users, size_t n)
{
    struct eop *o = ud;
    struct eng_redis *e = o->e;
    char *room = o->room;

    o->room = NULL;
    op_done(o);
    for (size_t i = 0; !err && i < n; i++)
        rt__srv_presence_remote(e->base.srv, room, users[i], 1, NULL);
    rt__free(room);
}

/* Who is online elsewhere, for the snapshot of a freshly attached room. */
static void fetch_users(struct eng_redis *e, const char *room)
{
    struct eop *o = op_new(e, OP_ATTACH, room, NULL);
    int err = 0;

    if (!o)
        return;
    o->req = rt__redis_users(e->r, room, on_users, o, &err);
    if (!o->req)
        op_done(o);
}

static void on_info(void *ud, int err, const char *epoch, uint64_t top,
                    uint64_t oldest)
{
    struct eop *o = ud;
    struct eng_redis *e = o->e;
    rt__eng_attach_cb cb = o->cb.attach;
    void *cud = o->ud;
    char *room = o->room;
    char ep[RT__EPOCH_MAX + 1], have[RT__EPOCH_MAX + 1];
    struct eroom *m;
    uint64_t last;
    int fresh = 0;

    (void)oldest;
    o->room = NULL;
    op_done(o);
    if (err) {
        e->unavailable++;
        rt__free(room);
        cb(cud, status_of(err), NULL, 0);
        return;
    }
    snprintf(ep, sizeof(ep), "%s", epoch);
    m = room_find(e, room);
    if (m && !m->subscribed) {
        /* Deliveries start after the position the core is given. */
        if (rt__redis_subscribe(e->r, room, ep, top) != 0) {
            room_del(e, room);
            rt__free(room);
            cb(cud, RT__ENG_NOMEM, NULL, 0);
            return;
        }
        m->subscribed = 1;
        fresh = 1;
    } else if (m && rt__redis_position(e->r, room, have, sizeof(have),
                                       &last) == 0) {
        /* Attached already: the core is where the deliveries left it. */
        snprintf(ep, sizeof(ep), "%s", have);
        top = last;
    }
    /* (Detached meanwhile: the core ignores this completion.) */
    cb(cud, RT__ENG_OK, ep, top);
    if (fresh && room_find(e, room))
        fetch_users(e, room);
    rt__free(room);
}

static int e_attach(struct rt__engine *base, const char *room,
                    rt__eng_attach_cb cb, void *ud)
{
    struct eng_redis *e = (struct eng_redis *)base;
    struct eroom *m = room_find(e, room);
    char ep[RT__EPOCH_MAX + 1];
    uint64_t last;
    struct eop *o;
    int err = 0;

    if (!rt__redis_is_up(e->r)) {
        /* A room delivered so far stays usable while Redis is away. */
        if (m && rt__redis_position(e->r, room, ep, sizeof(ep), &last) == 0) {
            cb(ud, RT__ENG_OK, ep, last);
            return 0;
        }
        e->unavailable++;
        cb(ud, RT__ENG_UNAVAILABLE, NULL, 0);
        return 0;
    }
    if (!m && !(m = room_add(e, room)))
        return RT_ENOMEM;
    o = op_new(e, OP_ATTACH, room, ud);
    if (!o) {
        if (!m->subscribed)
            room_del(e, room);
        return RT_ENOMEM;
    }
    o->cb.attach = cb;
    o->req = rt__redis_info(e->r, room, on_info, o, &err);
    if (!o->req) {
        op_done(o);
        if (!m->subscribed)
            room_del(e, room);
        e->unavailable += err != RT_ENOMEM;
        cb(ud, status_of(err), NULL, 0);
    }
    return 0;
}

static void e_detach(struct rt__engine *base, const char *room)
{
    struct eng_redis *e = (struct eng_redis *)base;
    struct eroom *m = room_find(e, room);

    if (!m)
        return;
    if (m->subscribed)
        rt__redis_unsubscribe(e->r, room);
    room_del(e, room);
    /* Stored, and no longer delivered here: nothing left to wait for. */
    unpark(e, room, UINT64_MAX);
}

/* ------------------------------------------------------------- append */

static void on_published(void *ud, int err, uint64_t seq, const char *epoch)
{
    struct eop *o = ud;
    struct eng_redis *e = o->e;
    rt__eng_append_cb cb = o->cb.append;
    void *cud = o->ud;
    struct eroom *m = room_find(e, o->room);
    char ep[RT__EPOCH_MAX + 1], *room;
    uint64_t last;

    o->req = NULL;
    if (err) {
        e->unavailable++;
        op_done(o);
        cb(cud, RT__ENG_UNAVAILABLE, 0);
        return;
    }
    if (!m || !m->subscribed || !(room = xstrdup(o->room))) {
        op_done(o);
        cb(cud, RT__ENG_OK, seq);
        return;
    }
    /*
     * Ours: delivered now when it is the next one (the delivery
     * acknowledges it, and may free |o|), else the ack waits for it.
     */
    o->seq = seq;
    o->parked = 1;
    rt__redis_offer(e->r, room, seq, epoch, o->body, o->len);
    if (rt__redis_position(e->r, room, ep, sizeof(ep), &last) == 0)
        unpark(e, room, last);
    rt__free(room);
}

static int e_append(struct rt__engine *base, const char *room,
                    const char *body, size_t len, rt__eng_append_cb cb,
                    void *ud)
{
    struct eng_redis *e = (struct eng_redis *)base;
    struct eop *o;
    int err = 0;

    if (!rt__redis_is_up(e->r)) {
        e->unavailable++;
        cb(ud, RT__ENG_UNAVAILABLE, 0);
        return 0;
    }
    o = op_new(e, OP_APPEND, room, ud);
    if (!o || !(o->body = rt__malloc(len ? len : 1))) {
        if (o)
            op_done(o);
        return RT_ENOMEM;
    }
    memcpy(o->body, body, len);
    o->len = len;
    o->cb.append = cb;
    o->req = rt__redis_publish(e->r, room, body, len, on_published, o, &err);
    if (!o->req) {
        op_done(o);
        e->unavailable += err != RT_ENOMEM;
        cb(ud, status_of(err), 0);
    }
    return 0;
}

/* --------------------------------------------------------------- read */

static void on_read_info(void *ud, int err, const char *epoch, uint64_t top,
                         uint64_t oldest)
{
    struct eop *o = ud;

    o->req = NULL;
    if (err)
        return; /* the range's answer, which follows, completes */
    o->have_info = 1;
    snprintf(o->epoch, sizeof(o->epoch), "%s", epoch);
    o->top = top;
    o->oldest = oldest;
}

static void on_read_range(void *ud, int err, const struct rt_redis_entry *v,
                          size_t n)
{
    struct eop *o = ud;
    struct eng_redis *e = o->e;
    rt__eng_read_cb cb = o->cb.read;
    void *cud = o->ud;
    struct rt__eng_msg *msgs = NULL;
    char epoch[RT__EPOCH_MAX + 1];
    uint64_t top = o->top, oldest = o->oldest;
    size_t k = 0;

    o->req2 = NULL;
    if (err || !o->have_info) {
        e->unavailable++;
        op_done(o);
        cb(cud, err == RT_ENOMEM ? RT__ENG_NOMEM : RT__ENG_UNAVAILABLE, NULL,
           NULL, 0, 0, 0);
        return;
    }
    snprintf(epoch, sizeof(epoch), "%s", o->epoch);
    if (n && !(msgs = rt__calloc(n, sizeof(*msgs)))) {
        op_done(o);
        cb(cud, RT__ENG_NOMEM, NULL, NULL, 0, 0, 0);
        return;
    }
    /* Consecutive from the first: a trim between two reads moves it. */
    for (size_t i = 0; i < n; i++) {
        if (v[i].seq <= o->after || (k && v[i].seq != msgs[k - 1].seq + 1))
            continue;
        msgs[k].seq = v[i].seq;
        msgs[k].body = v[i].payload;
        msgs[k].len = v[i].len;
        k++;
    }
    if (k) {
        if (msgs[0].seq > oldest)
            oldest = msgs[0].seq;
        if (msgs[k - 1].seq > top)
            top = msgs[k - 1].seq;
    }
    op_done(o);
    cb(cud, RT__ENG_OK, epoch, msgs, k, oldest, top);
    rt__free(msgs);
}

static int e_read(struct rt__engine *base, const char *room, uint64_t after,
                  unsigned max, rt__eng_read_cb cb, void *ud)
{
    struct eng_redis *e = (struct eng_redis *)base;
    struct eop *o;
    int err = 0;

    if (!rt__redis_is_up(e->r)) {
        e->unavailable++;
        cb(ud, RT__ENG_UNAVAILABLE, NULL, NULL, 0, 0, 0);
        return 0;
    }
    o = op_new(e, OP_READ, room, ud);
    if (!o)
        return RT_ENOMEM;
    o->cb.read = cb;
    o->after = after;
    /* One connection answers in order: the info, then the range. */
    o->req = rt__redis_info(e->r, room, on_read_info, o, &err);
    if (o->req)
        o->req2 = rt__redis_range(e->r, room, after + 1, max ? max : 1,
                                  on_read_range, o, &err);
    if (!o->req2) {
        rt__redis_cancel(o->req);
        op_done(o);
        e->unavailable += err != RT_ENOMEM;
        cb(ud, status_of(err), NULL, NULL, 0, 0, 0);
    }
    return 0;
}

/* -------------------------------------------------- presence, health */

static void e_presence(struct rt__engine *base, const char *room,
                       const char *user, enum rt__eng_presence what)
{
    struct eng_redis *e = (struct eng_redis *)base;

    /* The client refreshes what it holds itself: heartbeats add nothing. */
    if (what == RT__PRES_JOIN)
        rt__redis_presence(e->r, room, user, 1);
    else if (what == RT__PRES_LEAVE)
        rt__redis_presence(e->r, room, user, 0);
}

static int e_healthy(struct rt__engine *base)
{
    return rt__redis_is_up(((struct eng_redis *)base)->r);
}

static int e_metrics(struct rt__engine *base, struct rt_buf *out)
{
    struct eng_redis *e = (struct eng_redis *)base;
    struct rt_redis_stats st;

    rt__redis_stats(e->r, &st);
    return rt__buf_printf(
        out,
        "# HELP rtctl_redis_up 1 while the Redis engine is connected.\n"
        "# TYPE rtctl_redis_up gauge\n"
        "rtctl_redis_up %d\n"
        "# HELP rtctl_redis_connects_total Connections to Redis made "
        "ready.\n"
        "# TYPE rtctl_redis_connects_total counter\n"
        "rtctl_redis_connects_total %llu\n"
        "# HELP rtctl_redis_disconnects_total Ready connections to Redis "
        "lost.\n"
        "# TYPE rtctl_redis_disconnects_total counter\n"
        "rtctl_redis_disconnects_total %llu\n"
        "# HELP rtctl_redis_errors_total Redis commands that failed or "
        "timed out.\n"
        "# TYPE rtctl_redis_errors_total counter\n"
        "rtctl_redis_errors_total %llu\n"
        "# HELP rtctl_redis_unavailable_total Operations answered "
        "unavailable.\n"
        "# TYPE rtctl_redis_unavailable_total counter\n"
        "rtctl_redis_unavailable_total %llu\n"
        "# HELP rtctl_redis_gap_fills_total Reads of a room's stream to "
        "fill a gap in its channel.\n"
        "# TYPE rtctl_redis_gap_fills_total counter\n"
        "rtctl_redis_gap_fills_total %llu\n"
        "# HELP rtctl_redis_lost_total Messages trimmed from a stream "
        "before a gap fill could read them.\n"
        "# TYPE rtctl_redis_lost_total counter\n"
        "rtctl_redis_lost_total %llu\n",
        rt__redis_is_up(e->r), (unsigned long long)st.connects,
        (unsigned long long)st.disconnects, (unsigned long long)st.errors,
        (unsigned long long)e->unavailable, (unsigned long long)st.filled,
        (unsigned long long)st.lost);
}

static void e_free(struct rt__engine *base)
{
    struct eng_redis *e = (struct eng_redis *)base;

    /* The client drops its requests without calling back: we do. */
    rt__redis_free(e->r);
    e->r = NULL;
    while (e->ops) {
        struct eop *o = e->ops;
        enum op_kind kind = o->kind;
        void *ud = o->ud;
        rt__eng_attach_cb ca = o->cb.attach;
        rt__eng_append_cb cp = o->cb.append;
        rt__eng_read_cb cr = o->cb.read;
        int internal = kind == OP_ATTACH && !ca;
        op_done(o);
        if (internal)
            continue;
        if (kind == OP_ATTACH)
            ca(ud, RT__ENG_CANCELED, NULL, 0);
        else if (kind == OP_APPEND)
            cp(ud, RT__ENG_CANCELED, 0);
        else
            cr(ud, RT__ENG_CANCELED, NULL, NULL, 0, 0, 0);
    }
    for (int b = 0; b < E_BUCKETS; b++) {
        struct eroom *m, *next;
        for (m = e->rooms[b]; m; m = next) {
            next = m->hnext;
            rt__free(m);
        }
    }
    rt__free(e);
}

static const struct rt__engine_ops redis_ops = {
    "redis",    e_attach,  e_detach,  e_append, e_read,
    e_presence, e_healthy, e_metrics, e_free};

int rt__engine_redis_new(struct rt__engine **out, uv_loop_t *loop,
                         const char *url, unsigned history,
                         uint64_t presence_ms, char *err, size_t errlen)
{
    struct eng_redis *e;
    struct rt_redis_url u;
    struct rt_redis_opts o = {0};
    int rc;

    *out = NULL;
    rc = rt__redis_url_parse(url, &u, err, errlen);
    if (rc != 0)
        return rc;
    e = rt__calloc(1, sizeof(*e));
    if (!e) {
        rt__redis_url_free(&u);
        return RT_ENOMEM;
    }
    e->base.ops = &redis_ops;
    o.prefix = "rt:";
    o.history = history;
    /* A server wants its store back soon after it is: 250 ms to 5 s. */
    o.backoff_base = 250;
    o.backoff_cap = 5000;
    o.presence_ms = presence_ms > UINT32_MAX ? UINT32_MAX
                    : presence_ms            ? (uint32_t)presence_ms
                                             : 30000;
    e->r = rt__redis_new(loop, &u, &o, &cbs, e);
    rt__redis_url_free(&u);
    if (!e->r) {
        rt__free(e);
        return RT_ENOMEM;
    }
    *out = &e->base;
    return 0;
}
