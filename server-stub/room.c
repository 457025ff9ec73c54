/*
 * room.c: the local half of rooms (room.h): the hash table of the rooms
 * this instance serves, each attached to the storage engine (engine.h),
 * with its members, the presence of its users, the fan-out, and the cache
 * of its last --history delivered messages that resumes and polls read.
 *
 * A room is opened on first use and attached through the engine, which
 * gives its epoch and newest seq; connections that come while an attach
 * is in flight wait on the room until it completes.  The engine then
 * delivers every stored message in seq order (rt__srv_deliver), the
 * publisher's own included: the cache takes it, every member is sent it,
 * waiting polls are answered.
 *
 * Presence counts users, not connections: a user joins with their first
 * connection and leaves at once when the last one closes cleanly (close
 * 1000 or 1001 from the client), or when it has ended otherwise (or been
 * silent) for --presence-timeout, so a reconnect after a dropped
 * connection is neither a leave nor a join.  Connections with ?presence=0
 * are members without a presence entry.  Users online on other instances
 * (the engine says so) are listed too, and a join or leave is announced
 * only when "online anywhere" changes.
 *
 * Rooms are bounded in number (--max-rooms) and in time: a room with no
 * members, no waiting polls and no history is freed (and detached) at
 * once, one with history once it has been idle for --room-ttl.  Freed
 * memory is handed back to the system in batches (malloc_trim), so a
 * flood of rooms does not leave the process at its peak size.
 */
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "core.h"

/* --------------------------------------------------- user counts */

struct ucount {
    struct ucount *next;
    unsigned n;
    char name[RT_NAME_MAX + 1];
};

static uint64_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */

    while (*s) {
        h ^= (unsigned char)*s++;
        h *= 1099511628211ULL;
    }
    return h;
}

static int rooms_grow(rt_server *s)
{
    size_t n = s->nbuckets ? s->nbuckets * 2 : 64, i;
    struct room **t = rt__calloc(n, sizeof(*t)), *r, *next;

    if (t == NULL)
        return RT_ENOMEM;
    for (i = 0; i < s->nbuckets; i++) {
        for (r = s->rooms[i]; r != NULL; r = next) {
            next = r->hnext;
            r->hnext = t[hash_name(r->name) & (n - 1)];
            t[hash_name(r->name) & (n - 1)] = r;
        }
    }
    rt__free(s->rooms);
    s->rooms = t;
    s->nbuckets = n;
    return 0;
}

static void room_attach(rt_server *s, struct room *r);
static void pres_free(struct room *r);
static void pres_flush(rt_server *s, struct room *r);

struct room *rt__room_get(rt_server *s, const char *name, int create)
{
    struct room *r;
    size_t b;

    if (s->nbuckets > 0) {
        b = hash_name(name) & (s->nbuckets - 1);
        for (r = s->rooms[b]; r != NULL; r = r->hnext)
            if (strcmp(r->name, name) == 0)
                return r;
    }
    if (!create)
        return NULL;
    if (s->nrooms >= s->nbuckets && rooms_grow(s) != 0)
        return NULL;
    r = rt__calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    snprintf(r->name, sizeof(r->name), "%s", name);
    r->active_ms = s->now_ms;
    rt__ring_init(&r->hist, s->o.history);
    b = hash_name(name) & (s->nbuckets - 1);
    r->hnext = s->rooms[b];
    s->rooms[b] = r;
    s->nrooms++;
    return r;
}

int rt__room_open(rt_server *s, const char *name, struct room **out)
{
    struct room *r = rt__room_get(s, name, 0);

    if (r == NULL) {
        if (s->o.max_rooms > 0 && s->nrooms >= s->o.max_rooms)
            return RT_EEXHAUSTED;
        r = rt__room_get(s, name, 1);
        if (r == NULL)
            return RT_ENOMEM;
    }
    r->active_ms = s->now_ms;
    if (!r->attached && !r->attaching)
        room_attach(s, r);
    *out = r;
    return 0;
}

static void room_free(struct room *r)
{
    struct ruser *u, *next;
    uint32_t i;

    for (i = 0; i < r->hist.n; i++)
        rt__smsg_unref(rt__ring_at(&r->hist, r->hist.first + i));
    rt__ring_cleanup(&r->hist);
    pres_free(r);
    for (u = r->users; u != NULL; u = next) {
        next = u->next;
        rt__free(u);
    }
    rt__free(r);
}

static void room_unlink_free(rt_server *s, struct room *r)
{
    struct room **pp;

    if (r->attached)
        s->eng->ops->detach(s->eng, r->name);

    for (pp = &s->rooms[hash_name(r->name) & (s->nbuckets - 1)]; *pp;
         pp = &(*pp)->hnext) {
        if (*pp == r) {
            *pp = r->hnext;
            s->nrooms--;
            s->rooms_freed++;
            room_free(r);
            return;
        }
    }
}

void rt__room_maybe_free(rt_server *s, struct room *r)
{
    if (r->members || r->polls || r->users || r->waiting || r->attaching ||
        r->holds > 0 || r->hist.n > 0 || r->seq > 0 ||
        s->now_ms < r->keep_until_ms)
        return;
    room_unlink_free(s, r);
}

/*
 * Hand freed memory back to the system.  glibc keeps what free() returns
 * for reuse, so without this a burst of rooms leaves the process at its
 * peak; a trim walks the heap, hence at most once a second and only after
 * a batch of rooms went.
 */
static void maybe_trim(rt_server *s)
{
    if (s->rooms_freed < 64 || s->now_ms - s->trimmed_ms < 1000)
        return;
    s->rooms_freed = 0;
    s->trimmed_ms = s->now_ms;
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

void rt__rooms_free(rt_server *s)
{
    struct ucount *u, *unext;
    struct room *r, *next;
    size_t i;

    for (u = s->ucounts; u != NULL; u = unext) {
        unext = u->next;
        rt__free(u);
    }
    s->ucounts = NULL;

    for (i = 0; i < s->nbuckets; i++)
        for (r = s->rooms[i]; r != NULL; r = next) {
            next = r->hnext;
            room_free(r);
        }
    rt__free(s->rooms);
    s->rooms = NULL;
    s->nbuckets = s->nrooms = 0;
}

/* --------------------------------------------------------- attach */

static int epoch_ok(const char *e)
{
    size_t n = strlen(e), i;

    if (n == 0 || n > RT__EPOCH_MAX)
        return 0;
    for (i = 0; i < n; i++)
        if (!((e[i] >= 'a' && e[i] <= 'z') || (e[i] >= 'A' && e[i] <= 'Z') ||
              (e[i] >= '0' && e[i] <= '9')))
            return 0;
    return 1;
}

static void cache_clear(struct room *r)
{
    uint32_t i;

    for (i = 0; i < r->hist.n; i++)
        rt__smsg_unref(rt__ring_at(&r->hist, r->hist.first + i));
    r->hist.n = 0;
}

/*
 * The engine answered an attach.  The room cannot have been freed
 * meanwhile (attaching keeps it); the connections parked on it go on, or
 * are refused when the store could not be reached.
 */
static void room_attached(void *ud, enum rt__eng_status st, const char *epoch,
                          uint64_t top)
{
    struct room *r = ud;
    rt_server *s;
    struct conn *c;
    int ok;

    r->attaching = 0;
    if (st == RT__ENG_CANCELED)
        return; /* the server is being freed */
    s = r->waiting != NULL ? r->waiting->srv : NULL;
    ok = st == RT__ENG_OK && epoch != NULL && epoch_ok(epoch);
    if (ok && !r->attached) {
        r->attached = 1;
        snprintf(r->epoch, sizeof(r->epoch), "%s", epoch);
        r->seq = top;
        cache_clear(r);
    }
    /*
     * A parked connection that goes on may leave the room with nothing
     * (an HTTP publish whose append is in flight elsewhere, with an
     * asynchronous engine): hold it until every one went on.
     */
    r->holds++;
    while ((c = r->waiting) != NULL) {
        enum conn_wait what = (enum conn_wait)c->wait;

        rt__room_unwait(c);
        if (what == WAIT_WS && ok)
            rt__ws_join(c, r);
        else if (what == WAIT_WS)
            rt__ws_unavailable(c);
        else
            c->srv->io->attached(c, r, what, ok);
    }
    r->holds--;
    if (s != NULL)
        rt__room_maybe_free(s, r);
}

static void room_attach(rt_server *s, struct room *r)
{
    r->attaching = 1;
    if (s->eng->ops->attach(s->eng, r->name, room_attached, r) != 0)
        r->attaching = 0; /* parked connections learn it at the next try */
}

void rt__room_wait(struct room *r, struct conn *c, enum conn_wait what)
{
    c->wait = (uint8_t)what;
    c->room = r;
    c->rprev = NULL;
    c->rnext = r->waiting;
    if (r->waiting)
        r->waiting->rprev = c;
    r->waiting = c;
}

void rt__room_unwait(struct conn *c)
{
    struct room *r = c->room;

    if (!c->wait || r == NULL)
        return;
    if (c->rprev)
        c->rprev->rnext = c->rnext;
    else
        r->waiting = c->rnext;
    if (c->rnext)
        c->rnext->rprev = c->rprev;
    c->rnext = c->rprev = NULL;
    c->room = NULL;
    c->wait = WAIT_NONE;
}

/* -------------------------------------------------------- deliver */

static struct room *attached_room(rt_server *s, const char *name)
{
    struct room *r = rt__room_get(s, name, 0);

    return r != NULL && r->attached ? r : NULL;
}

/*
 * Keep |m| in the cache.  When the cache cannot grow the message is still
 * delivered, and the cache starts afresh after it: it must stay without
 * gaps.
 */
static void cache_push(struct room *r, struct smsg *m)
{
    void *old = NULL;

    rt__smsg_ref(m);
    if (rt__ring_push(&r->hist, m->seq, m, &old) != 0) {
        cache_clear(r);
        old = m;
    }
    rt__smsg_unref(old);
}

int rt__srv_deliver(rt_server *s, const char *room, uint64_t seq,
                    const char *body, size_t len)
{
    struct room *r = attached_room(s, room);
    struct smsg *m;
    rt_buf b;
    int rc;

    if (r == NULL || seq <= r->seq)
        return 0;
    if (seq != r->seq + 1)
        return RT_EGAP;
    rt__buf_init(&b);
    rc = rt__stored_frame(body, len, seq, &b);
    if (rc != 0 || b.data == NULL) {
        rt__buf_cleanup(&b);
        /* A body out of shape still takes its seq: nobody can have it. */
        if (rc == RT_EPROTO) {
            rt__srv_log(s, RT_SERVER_LOG_WARN,
                        "room %s: stored message %llu is not a JSON object",
                        room, (unsigned long long)seq);
            rt__srv_room_lost(s, room, seq);
            return 0;
        }
        return RT_ENOMEM;
    }
    m = rt__smsg_new(b.data, b.len, RT_MSG_TEXT, 0x1);
    rt__buf_cleanup(&b);
    if (m == NULL)
        return RT_ENOMEM;
    m->stored = 1;
    m->seq = seq;
    r->seq = seq;
    r->active_ms = s->now_ms;
    cache_push(r, m);
    pres_flush(s, r); /* who joined before it was said, hears it after */
    rt__room_broadcast(s, r, m, NULL);
    rt__smsg_unref(m);
    rt__poll_wake(s, r);
    return 0;
}

void rt__srv_room_lost(rt_server *s, const char *room, uint64_t upto)
{
    struct room *r = attached_room(s, room);

    if (r == NULL || upto <= r->seq)
        return;
    cache_clear(r);
    r->seq = upto;
    r->active_ms = s->now_ms;
    rt__poll_wake(s, r);
}

void rt__srv_room_reset(rt_server *s, const char *room, const char *epoch,
                        uint64_t top)
{
    struct room *r = attached_room(s, room);
    struct conn *c, *next;

    if (r == NULL || epoch == NULL || !epoch_ok(epoch))
        return;
    rt__srv_log(s, RT_SERVER_LOG_WARN,
                "room %s: history started afresh (epoch %s)", room, epoch);
    cache_clear(r);
    snprintf(r->epoch, sizeof(r->epoch), "%s", epoch);
    r->seq = top;
    for (c = r->members; c != NULL; c = next) {
        next = c->rnext;
        if (c->kind == CONN_SSE)
            rt__conn_drop(c, 0, "");
        else
            rt__conn_close(c, 1012, "history reset");
    }
    rt__poll_wake(s, r);
}

uint64_t rt__room_oldest(const struct room *r)
{
    return rt__ring_oldest(&r->hist, r->seq);
}

int rt__room_replay(struct room *r, uint64_t since, rt_room_iter_cb fn,
                    void *ud)
{
    uint64_t seq = since + 1, oldest = rt__room_oldest(r);
    int n = 0;

    if (seq < oldest)
        seq = oldest;
    for (; seq <= r->seq; seq++) {
        struct smsg *m = rt__ring_at(&r->hist, seq);

        if (m == NULL || fn(m, ud) != 0)
            break;
        n++;
    }
    return n;
}

/*
 * PROTOCOL.md section 4: recovery is all or nothing.  A position from
 * another epoch is never trusted; a position older than the oldest held
 * message cannot be recovered.  Either way the client gets what is held.
 * A since without an epoch is taken to be in the current one, so that
 * `curl '.../poll/general?since=5'` works by hand.  When the cache does
 * not reach back to the position and the engine keeps more than the
 * cache (it has a read operation), |fetch| says to ask it first.
 */
void rt__room_resume(const rt_server *s, const struct room *r, int has_since,
                     uint64_t since, const char *epoch, struct resume *out)
{
    uint64_t oldest = rt__room_oldest(r);

    memset(out, 0, sizeof(*out));
    out->to = r->seq;
    if (!has_since) {
        out->replay_after = r->seq;
        out->from = r->seq + 1;
        out->recovered = 1;
        return;
    }
    out->asked = 1;
    out->from = since + 1;
    if ((epoch != NULL && *epoch && strcmp(epoch, r->epoch) != 0) ||
        since > r->seq) {
        out->recovered = 0;
        out->replay_after = oldest > 0 ? oldest - 1 : 0;
    } else if (since + 1 < oldest) {
        out->fetch = s->eng->ops->read != NULL;
        out->recovered = 0;
        out->replay_after = oldest - 1;
        if (out->fetch) {
            out->recovered = 1;
            out->replay_after = since;
        }
    } else {
        out->recovered = 1;
        out->replay_after = since;
    }
}

/*
 * How much to read from the engine for a resume at |since|: up to where
 * the cache starts, and never more than --history (the room keeps no
 * more than that: older is not recovered).
 */
unsigned rt__fetch_max(const rt_server *s, const struct room *r,
                       uint64_t since)
{
    uint64_t gap = rt__room_oldest(r) - 1 - since;
    unsigned max = s->o.history > 0 ? s->o.history : 1;

    return gap < max ? (unsigned)gap : max;
}

void rt__conn_fetch_clear(struct conn *c)
{
    while (c->fetch_pos < c->fetch_n)
        rt__smsg_unref(c->fetch_v[c->fetch_pos++]);
    rt__free(c->fetch_v);
    c->fetch_v = NULL;
    c->fetch_n = c->fetch_pos = 0;
}

/*
 * The engine's part of a replay: what it holds from the client's position
 * on, up to where the cache starts (or further), kept on the connection
 * and fed to it by rt__conn_replay_fill as its socket drains.
 */
static void fetched(void *ud, enum rt__eng_status st, const char *epoch,
                    const struct rt__eng_msg *msgs, size_t n, uint64_t oldest,
                    uint64_t top)
{
    struct rt__op *op = ud;
    struct conn *c = op->c;
    uint64_t want = op->since + 1;
    size_t i;
    rt_buf b;

    (void)top;
    if (c == NULL || st == RT__ENG_CANCELED) {
        rt__op_free(op);
        return;
    }
    rt__op_free(op);
    c->fetching = 0;
    if (c->room == NULL || !c->replaying)
        return;
    if (st != RT__ENG_OK || epoch == NULL ||
        strcmp(epoch, c->room->epoch) != 0 || oldest > want) {
        c->replay.recovered = 0;
    } else {
        c->fetch_v = rt__reallocarray(NULL, n ? n : 1, sizeof(*c->fetch_v));
        if (c->fetch_v == NULL)
            n = 0;
        rt__buf_init(&b);
        /* Past the room's newest, the live delivery brings it. */
        for (i = 0; i < n && msgs[i].seq == want && want <= c->room->seq;
             i++, want++) {
            struct smsg *m = NULL;

            rt__buf_clear(&b);
            if (rt__stored_frame(msgs[i].body, msgs[i].len, msgs[i].seq, &b) !=
                    0 ||
                b.data == NULL ||
                (m = rt__smsg_new(b.data, b.len, RT_MSG_TEXT, 0x1)) == NULL)
                break;
            m->stored = 1;
            m->seq = msgs[i].seq;
            c->fetch_v[c->fetch_n++] = m;
        }
        rt__buf_cleanup(&b);
    }
    /*
     * The cache goes on from where the engine's part ends; if it does not
     * hold that seq either, the cursor ends the replay unrecovered.
     */
    c->replay.next = want > c->replay.next ? want : c->replay.next;
    if (rt__conn_replay_fill(c) != 0)
        rt__conn_close(c, 1011, "internal error");
}

/*
 * A WebSocket or SSE client came back with a position: start feeding it
 * what it missed (conn.c streams it as the socket drains), to be followed
 * by the `resumed` system message saying whether that was all
 * (PROTOCOL.md section 4).  What the cache lacks is read from the engine
 * first; live messages wait in the cache meanwhile.
 */
int rt__conn_resume(rt_server *s, struct room *r, struct conn *c,
                    uint64_t since, const char *epoch)
{
    struct resume rs;
    struct rt__op *op;

    rt__room_resume(s, r, 1, since, epoch, &rs);
    c->replaying = 1;
    c->replay_from = rs.from;
    c->replay.next = rs.replay_after + 1;
    c->replay.recovered = rs.recovered;
    if (!rs.fetch)
        return rt__conn_replay_fill(c);
    op = rt__op_new(s, c, NULL);
    if (op == NULL)
        return RT_ENOMEM;
    op->since = since;
    c->fetching = 1;
    if (s->eng->ops->read(s->eng, r->name, since, rt__fetch_max(s, r, since),
                          fetched, op) != 0) {
        rt__op_free(op);
        c->fetching = 0;
        c->replay.next = rt__room_oldest(r);
        c->replay.recovered = 0;
        return rt__conn_replay_fill(c);
    }
    return 0;
}

/* ------------------------------------------------------- presence */

static struct ruser *user_find(struct room *r, const char *name)
{
    struct ruser *u;

    for (u = r->users; u != NULL; u = u->next)
        if (strcmp(u->name, name) == 0)
            return u;
    return NULL;
}

static struct ruser *user_add(rt_server *s, struct room *r, const char *name)
{
    struct ruser *u = rt__calloc(1, sizeof(*u));

    if (u == NULL)
        return NULL;
    snprintf(u->name, sizeof(u->name), "%s", name);
    u->next = r->users;
    u->heard_ms = s->now_ms;
    r->users = u;
    return u;
}

/*
 * Presence changes are coalesced (rtctl-protocol(7), PRESENCE): those of
 * one tick go to each member as one message, its frames written together,
 * encoded once for the room (a joiner, who must not hear of its own join,
 * gets its own copy).  A room with more connections than
 * --presence-max-members announces none: a join storm there would cost
 * every member a frame per join, the square of the room.
 */
struct pres_ev {
    struct pres_ev *next;
    uint64_t gen;        /* the room's count of changes */
    struct conn *except; /* not sent to it: its own join */
    size_t len;
    char json[];
};

static int room_large(const rt_server *s, const struct room *r)
{
    return s->o.presence_max_members > 0 &&
           r->nmembers > s->o.presence_max_members;
}

static void announce(rt_server *s, struct room *r, const char *event,
                     const char *user, const char *reason,
                     const struct conn *except)
{
    struct pres_ev *ev;
    rt_buf b;

    if (room_large(s, r)) {
        s->m.presence_quiet++;
        return;
    }
    rt__buf_init(&b);
    if (rt__frame_presence(r, event, user, reason, &b) == 0 &&
        (ev = rt__malloc(sizeof(*ev) + b.len)) != NULL) {
        ev->next = NULL;
        ev->gen = r->pres_gen++;
        ev->except = (struct conn *)except;
        ev->len = b.len;
        memcpy(ev->json, b.data, b.len);
        if (r->pres == NULL)
            r->pres_tail = &r->pres;
        *r->pres_tail = ev;
        r->pres_tail = &ev->next;
    }
    rt__buf_cleanup(&b);
}

static void pres_free(struct room *r)
{
    struct pres_ev *ev;

    while ((ev = r->pres) != NULL) {
        r->pres = ev->next;
        rt__free(ev);
    }
}

/*
 * The waiting changes as one message; for |skip|, only those after it
 * joined and not its own.
 */
static struct smsg *pres_batch(const struct room *r, const struct conn *skip)
{
    const struct pres_ev *ev;
    struct smsg *m = NULL;
    rt_buf ws, sse;
    int rc = 0;

    rt__buf_init(&ws);
    rt__buf_init(&sse);
    for (ev = r->pres; ev != NULL; ev = ev->next) {
        if (skip != NULL && (ev->except == skip || ev->gen < skip->pres_from))
            continue;
        rc |= rt__ws_frame(&ws, ev->json, ev->len);
        rc |= rt__buf_append(&sse, "event: presence\ndata: ", 22);
        rc |= rt__buf_append(&sse, ev->json, ev->len);
        rc |= rt__buf_append(&sse, "\n\n", 2);
    }
    if (rc == 0 && ws.len > 0)
        m = rt__smsg_frames(RT_MSG_PRESENCE, &ws, &sse);
    rt__buf_cleanup(&ws);
    rt__buf_cleanup(&sse);
    return m;
}

static void pres_flush(rt_server *s, struct room *r)
{
    struct pres_ev *ev;
    struct conn *c, *next;
    struct smsg *all;

    if (r->pres == NULL)
        return;
    s->m.presence_batches++;
    for (ev = r->pres; ev != NULL; ev = ev->next)
        if (ev->except != NULL)
            ev->except->pres_skip = 1;
    all = pres_batch(r, NULL);
    for (c = r->members; c != NULL; c = next) {
        next = c->rnext;
        if (c->pres_skip || c->pres_from > r->pres->gen) {
            struct smsg *own = pres_batch(r, c);

            c->pres_skip = 0;
            if (own != NULL)
                rt__conn_send(c, own);
            rt__smsg_unref(own);
        } else if (all != NULL) {
            rt__conn_send(c, all);
        }
    }
    rt__smsg_unref(all);
    pres_free(r);
}

void rt__room_presence_flush(struct room *r)
{
    if (r->pres != NULL && r->members != NULL)
        pres_flush(r->members->srv, r);
}

void rt__presence_flush(rt_server *s)
{
    struct room *r;
    size_t i;

    for (i = 0; i < s->nbuckets; i++)
        for (r = s->rooms[i]; r != NULL; r = r->hnext)
            pres_flush(s, r);
}

static void tell_engine(rt_server *s, struct room *r, struct ruser *u,
                        enum rt__eng_presence what)
{
    if (s->eng->ops->presence != NULL) {
        u->beat_ms = s->now_ms;
        s->eng->ops->presence(s->eng, r->name, u->name, what);
    }
}

/*
 * |u| comes online here, or goes offline here.  Others hear of it only
 * when that changes whether the user is online anywhere (u->remote is the
 * rest of the cluster).
 */
static void user_up(rt_server *s, struct room *r, struct ruser *u,
                    const struct conn *except)
{
    if (u->online)
        return;
    u->online = 1;
    tell_engine(s, r, u, RT__PRES_JOIN);
    if (!u->remote) {
        r->nusers_online++;
        announce(s, r, "join", u->name, NULL, except);
    }
}

static void user_down(rt_server *s, struct room *r, struct ruser *u,
                      const char *reason)
{
    if (!u->online)
        return;
    u->online = 0;
    tell_engine(s, r, u, RT__PRES_LEAVE);
    if (!u->remote) {
        r->nusers_online--;
        announce(s, r, "leave", u->name, reason, NULL);
    }
}

/* Forget |u|: its leave is announced if it was online. */
static void user_remove(rt_server *s, struct room *r, struct ruser *u,
                        const char *reason)
{
    struct ruser **pp;

    for (pp = &r->users; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == u) {
            *pp = u->next;
            break;
        }
    }
    user_down(s, r, u, reason);
    if (u->remote) {
        /* Still online elsewhere: keep the entry, without connections. */
        u->next = r->users;
        r->users = u;
        u->leave_due_ms = 0;
        return;
    }
    rt__free(u);
}

void rt__srv_presence_remote(rt_server *s, const char *room, const char *user,
                             int online, const char *reason)
{
    struct room *r = attached_room(s, room);
    struct ruser *u;

    if (r == NULL || user == NULL || strlen(user) > RT_NAME_MAX)
        return;
    u = user_find(r, user);
    if (online) {
        if (u == NULL && (u = user_add(s, r, user)) == NULL)
            return;
        if (u->remote)
            return;
        u->remote = 1;
        if (!u->online) {
            r->nusers_online++;
            announce(s, r, "join", u->name, NULL, NULL);
        }
        return;
    }
    if (u == NULL || !u->remote)
        return;
    u->remote = 0;
    if (!u->online) {
        r->nusers_online--;
        announce(s, r, "leave", u->name,
                 reason != NULL && strcmp(reason, "timeout") == 0 ? "timeout"
                                                                  : "closed",
                 NULL);
    }
    if (u->nconns == 0 && !u->online && u->leave_due_ms == 0) {
        struct ruser **pp;

        for (pp = &r->users; *pp != u; pp = &(*pp)->next)
            ;
        *pp = u->next;
        rt__free(u);
        rt__room_maybe_free(s, r);
    }
}

void rt__room_join(rt_server *s, struct room *r, struct conn *c)
{
    struct ruser *u = c->no_presence ? NULL : user_find(r, c->user);

    /* Changes from before its welcome are in the welcome, not after it. */
    c->pres_from = r->pres_gen;
    c->room = r;
    c->rprev = NULL;
    c->rnext = r->members;
    if (r->members)
        r->members->rprev = c;
    r->members = c;
    r->nmembers++;
    r->active_ms = s->now_ms;
    c->heard_ms = s->now_ms;
    if (c->no_presence)
        return; /* receives and sends, but is never listed */

    if (u == NULL && (u = user_add(s, r, c->user)) == NULL)
        return;
    u->nconns++;
    u->leave_due_ms = 0;
    u->heard_ms = s->now_ms;
    c->ru = u;
    user_up(s, r, u, c);
}

void rt__room_leave(rt_server *s, struct conn *c)
{
    struct room *r = c->room;
    struct ruser *u = c->ru;

    if (r == NULL)
        return;
    if (c->wait) {
        rt__room_unwait(c);
        return;
    }
    {
        struct pres_ev *ev;

        for (ev = r->pres; ev != NULL; ev = ev->next)
            if (ev->except == c)
                ev->except = NULL;
    }
    if (c->rprev)
        c->rprev->rnext = c->rnext;
    else
        r->members = c->rnext;
    if (c->rnext)
        c->rnext->rprev = c->rprev;
    c->rnext = c->rprev = NULL;
    r->nmembers--;
    r->active_ms = s->now_ms;
    c->ru = NULL;
    c->room = NULL;
    if (u == NULL || --u->nconns > 0)
        return;
    if (!c->clean_close) {
        /* Leave only if the user does not come back in time. */
        u->leave_due_ms = s->now_ms + s->o.presence_timeout_ms;
        return;
    }
    /*
     * The client said goodbye: nobody is coming back, so there is nothing
     * to wait for.  The grace period is for ends nobody announced.  The
     * room is judged large or not with the connection still counted, as
     * its join was.
     */
    r->nmembers++;
    user_remove(s, r, u, "closed");
    r->nmembers--;
}

void rt__room_heard(rt_server *s, struct conn *c)
{
    c->heard_ms = s->now_ms;
    if (c->ru == NULL)
        return;
    c->ru->heard_ms = s->now_ms;
    if (c->room != NULL)
        user_up(s, c->room, c->ru, c);
}

/*
 * Presence timeouts: a user whose last connection ended leaves with
 * reason "closed" once the grace period passes; one whose connections all
 * stayed silent leaves with reason "timeout".  Users online here are
 * heard of by the engine a few times per --presence-timeout.  Rooms nobody
 * is in that stayed idle for --room-ttl go, history and all.
 */
void rt__rooms_tick(rt_server *s)
{
    uint64_t silent = s->o.presence_timeout_ms;
    struct room *r, *rnext;
    struct ruser **pp, *u;
    size_t i;

    for (i = 0; i < s->nbuckets; i++) {
        for (r = s->rooms[i]; r != NULL; r = rnext) {
            rnext = r->hnext;
            for (pp = &r->users; (u = *pp) != NULL;) {
                if (u->nconns == 0 && s->now_ms >= u->leave_due_ms) {
                    user_down(s, r, u, "closed");
                    if (!u->remote) {
                        *pp = u->next;
                        rt__free(u);
                        continue;
                    }
                    u->leave_due_ms = 0;
                }
                rt__typing_flush(s, r, u->name, &u->typing);
                if (u->nconns > 0 && u->online &&
                    s->now_ms - u->heard_ms >= silent)
                    user_down(s, r, u, "timeout");
                else if (u->online && s->now_ms - u->beat_ms >= silent / 3)
                    tell_engine(s, r, u, RT__PRES_HEARTBEAT);
                pp = &u->next;
            }
            if (s->o.room_ttl_ms > 0 && r->members == NULL &&
                r->polls == NULL && r->users == NULL && r->waiting == NULL &&
                !r->attaching && r->holds == 0 &&
                s->now_ms - r->active_ms >= s->o.room_ttl_ms) {
                s->m.rooms_expired++;
                room_unlink_free(s, r);
            } else {
                rt__room_maybe_free(s, r);
            }
        }
    }
    rt__presence_flush(s);
    maybe_trim(s);
}

void rt__room_broadcast(rt_server *s, struct room *r, struct smsg *m,
                        const struct conn *except)
{
    struct conn *c, *next;

    for (c = r->members; c != NULL; c = next) {
        next = c->rnext;
        if (c != except)
            rt__conn_send(c, m);
    }
    (void)s;
}

int rt__room_online_json(const struct room *r, rt_buf *b)
{
    const struct ruser *u;
    int rc = 0, first = 1;

    rc |= rt__buf_putc(b, '[');
    for (u = r->users; u != NULL; u = u->next) {
        if (!u->online && !u->remote)
            continue;
        if (!first)
            rc |= rt__buf_putc(b, ',');
        rc |= rt__buf_json_str(b, u->name, strlen(u->name));
        first = 0;
    }
    rc |= rt__buf_putc(b, ']');
    return rc ? RT_ENOMEM : 0;
}

/*
 * Count |user|'s connections across the server; returns the count after
 * adding |delta|, or -1 on no memory.  A linear list: --max-user-connections
 * matters for tests and small deployments; a busy server turns it off.
 */
int rt__user_conns_add(rt_server *s, const char *user, int delta)
{
    struct ucount **pp, *u;

    for (pp = &s->ucounts; (u = *pp) != NULL; pp = &u->next)
        if (strcmp(u->name, user) == 0)
            break;
    if (u == NULL) {
        if (delta <= 0)
            return 0;
        u = rt__calloc(1, sizeof(*u));
        if (u == NULL)
            return -1;
        snprintf(u->name, sizeof(u->name), "%s", user);
        u->next = s->ucounts;
        s->ucounts = u;
        pp = &s->ucounts;
    }
    if (delta < 0 && u->n < (unsigned)-delta)
        u->n = 0;
    else
        u->n = (unsigned)((int)u->n + delta);
    if (u->n == 0) {
        int n = 0;

        *pp = u->next;
        rt__free(u);
        return n;
    }
    return (int)u->n;
}

/* ------------------------------------------------------- frames */

int rt__frame_welcome(rt_server *s, const struct room *r, const char *user,
                      rt_buf *b)
{
    int rc = 0;

    rc |= rt__buf_append(b, "{\"type\":\"system\",\"room\":", 24);
    rc |= rt__buf_json_str(b, r->name, strlen(r->name));
    rc |= rt__buf_append(b, ",\"data\":{\"event\":\"welcome\",\"user\":", 34);
    rc |= rt__buf_json_str(b, user, strlen(user));
    rc |= rt__buf_printf(b, ",\"epoch\":\"%s\",\"seq\":%llu,\"online\":",
                         r->epoch, (unsigned long long)r->seq);
    if (room_large(s, r))
        /* a list of thousands, to each joiner: the count only */
        rc |= rt__buf_printf(b, "[],\"online_count\":%u", r->nusers_online);
    else
        rc |= rt__room_online_json(r, b);
    rc |= rt__buf_printf(b, ",\"ping_interval\":%u}}", s->o.ping_interval_s);
    return rc ? RT_ENOMEM : 0;
}

int rt__frame_resumed(const struct room *r, const struct resume *rs, rt_buf *b)
{
    int rc = 0;

    rc |= rt__buf_append(b, "{\"type\":\"system\",\"room\":", 24);
    rc |= rt__buf_json_str(b, r->name, strlen(r->name));
    rc |= rt__buf_printf(b,
                         ",\"data\":{\"event\":\"resumed\",\"from\":%llu,"
                         "\"to\":%llu,\"recovered\":%s}}",
                         (unsigned long long)rs->from,
                         (unsigned long long)rs->to,
                         rs->recovered ? "true" : "false");
    return rc ? RT_ENOMEM : 0;
}

int rt__frame_presence(const struct room *r, const char *event,
                       const char *user, const char *reason, rt_buf *b)
{
    int rc = 0;

    rc |= rt__buf_append(b, "{\"type\":\"presence\",\"room\":", 26);
    rc |= rt__buf_json_str(b, r->name, strlen(r->name));
    rc |= rt__buf_printf(b, ",\"data\":{\"event\":\"%s\"", event);
    if (user != NULL) {
        rc |= rt__buf_append(b, ",\"user\":", 8);
        rc |= rt__buf_json_str(b, user, strlen(user));
    }
    if (reason != NULL)
        rc |= rt__buf_printf(b, ",\"reason\":\"%s\"", reason);
    if (strcmp(event, "snapshot") == 0) {
        rc |= rt__buf_append(b, ",\"online\":", 10);
        rc |= rt__room_online_json(r, b);
    }
    rc |= rt__buf_append(b, "}}", 2);
    return rc ? RT_ENOMEM : 0;
}

/* ------------------------------------------------------------ ops */

struct rt__op *rt__op_new(rt_server *s, struct conn *c, const char *id)
{
    size_t n = id != NULL ? strlen(id) : 0;
    struct rt__op *op = rt__calloc(1, sizeof(*op) + n + 1);

    if (op == NULL)
        return NULL;
    op->s = s;
    op->c = c;
    if (n > 0)
        memcpy(op->id, id, n);
    op->next = s->ops;
    if (s->ops)
        s->ops->prev = op;
    s->ops = op;
    return op;
}

void rt__op_free(struct rt__op *op)
{
    if (op->prev)
        op->prev->next = op->next;
    else
        op->s->ops = op->next;
    if (op->next)
        op->next->prev = op->prev;
    rt__free(op);
}

void rt__ops_forget(rt_server *s, const struct conn *c)
{
    struct rt__op *op;

    for (op = s->ops; op != NULL; op = op->next)
        if (op->c == c)
            op->c = NULL;
}

/* ----------------------------------------------------------- core */

void rt__core_init(rt_server *s, const rt_server_opts *o,
                   struct rt__engine *eng, const struct rt__io *io)
{
    s->o = *o;
    s->o.engine = NULL; /* s->eng from now on */
    s->eng = eng;
    s->io = io;
    eng->srv = s;
}

void rt__core_cleanup(rt_server *s)
{
    /* Pending completions run (canceled) while rooms still exist. */
    rt__engine_free(s->eng);
    s->eng = NULL;
    while (s->ops != NULL)
        rt__op_free(s->ops); /* an engine that broke its word */
    rt__rooms_free(s);
}
