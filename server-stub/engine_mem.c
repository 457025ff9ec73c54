/*
 * engine_mem.c: the in-memory room engine (the default; PROTOCOL.md
 * section 7's Redis engine replaces the storage half of it).
 *
 * A room is created on first use with a fresh random epoch and keeps its
 * last --history stored messages in a ring that grows as they come.  Seq
 * numbers start at 1 and grow by one per stored message.  Presence counts
 * users, not connections: a user joins with their first connection and
 * leaves at once when the last one closes cleanly (close 1000 or 1001 from
 * the client), or when it has ended otherwise (or been silent) for
 * --presence-timeout, so a reconnect after a dropped connection is neither
 * a leave nor a join.  Connections with ?presence=0 are members without a
 * presence entry.
 *
 * Rooms are bounded in number (--max-rooms) and in time: a room with no
 * members, no waiting polls and no history is freed at once, one with
 * history once it has been idle for --room-ttl.  Freed memory is handed
 * back to the system in batches (malloc_trim), so a flood of rooms does
 * not leave the process at its peak size.
 */
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "server_int.h"

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
    rt__srv_random_name(r->epoch, sizeof(r->epoch));
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
    for (u = r->users; u != NULL; u = next) {
        next = u->next;
        rt__free(u);
    }
    rt__free(r);
}

static void room_unlink_free(rt_server *s, struct room *r)
{
    struct room **pp;

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
    if (r->members || r->polls || r->users || r->hist.n > 0 || r->seq > 0)
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

/*
 * Give |m| the room's next seq and keep it in the history.  When the
 * history cannot grow, the message is still stored and delivered, and
 * falls out of the history at once.
 */
int rt__room_store(rt_server *s, struct room *r, struct smsg *m)
{
    void *old = NULL;

    m->stored = 1;
    m->seq = ++r->seq;
    r->active_ms = s->now_ms;
    rt__smsg_ref(m);
    if (rt__ring_push(&r->hist, m->seq, m, &old) != 0) {
        /* Start the history afresh: it must stay without gaps. */
        uint32_t i;

        for (i = 0; i < r->hist.n; i++)
            rt__smsg_unref(rt__ring_at(&r->hist, r->hist.first + i));
        r->hist.n = 0;
        old = m;
    }
    rt__smsg_unref(old);
    return 0;
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
 * `curl '.../poll/general?since=5'` works by hand.
 */
void rt__room_resume(const struct room *r, int has_since, uint64_t since,
                     const char *epoch, struct resume *out)
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
        out->recovered = 0;
        out->replay_after = oldest - 1;
    } else {
        out->recovered = 1;
        out->replay_after = since;
    }
}

/*
 * A WebSocket or SSE client came back with a position: start feeding it
 * what it missed (conn.c streams it as the socket drains), to be followed
 * by the `resumed` system message saying whether that was all
 * (PROTOCOL.md section 4).
 */
int rt__conn_resume(rt_server *s, struct room *r, struct conn *c,
                    uint64_t since, const char *epoch)
{
    struct resume rs;

    (void)s;
    rt__room_resume(r, 1, since, epoch, &rs);
    c->replaying = 1;
    c->replay_from = rs.from;
    c->replay.next = rs.replay_after + 1;
    c->replay.recovered = rs.recovered;
    return rt__conn_replay_fill(c);
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

static void announce(rt_server *s, struct room *r, const char *event,
                     const char *user, const char *reason,
                     const struct conn *except)
{
    rt_buf b;
    struct smsg *m;

    rt__buf_init(&b);
    if (rt__frame_presence(r, event, user, reason, &b) == 0 &&
        (m = rt__smsg_new(b.data, b.len, RT_MSG_PRESENCE, 0x1)) != NULL) {
        rt__room_broadcast(s, r, m, except);
        rt__smsg_unref(m);
    }
    rt__buf_cleanup(&b);
}

/* Forget |u|, announcing its leave if it was online. */
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
    if (u->online) {
        r->nusers_online--;
        announce(s, r, "leave", u->name, reason, NULL);
    }
    rt__free(u);
}

void rt__room_join(rt_server *s, struct room *r, struct conn *c)
{
    struct ruser *u = c->no_presence ? NULL : user_find(r, c->user);
    int joined = 0;

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

    if (u == NULL) {
        u = rt__calloc(1, sizeof(*u));
        if (u == NULL)
            return;
        snprintf(u->name, sizeof(u->name), "%s", c->user);
        u->next = r->users;
        r->users = u;
    }
    u->nconns++;
    u->leave_due_ms = 0;
    u->heard_ms = s->now_ms;
    if (!u->online) {
        u->online = 1;
        r->nusers_online++;
        joined = 1;
    }
    c->ru = u;
    if (joined)
        announce(s, r, "join", u->name, NULL, c);
}

void rt__room_leave(rt_server *s, struct conn *c)
{
    struct room *r = c->room;
    struct ruser *u = c->ru;

    if (r == NULL)
        return;
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
     * to wait for.  The grace period is for ends nobody announced.
     */
    user_remove(s, r, u, "closed");
}

void rt__room_heard(rt_server *s, struct conn *c)
{
    c->heard_ms = s->now_ms;
    if (c->ru == NULL)
        return;
    c->ru->heard_ms = s->now_ms;
    if (!c->ru->online && c->room != NULL) {
        c->ru->online = 1;
        c->room->nusers_online++;
        announce(s, c->room, "join", c->ru->name, NULL, c);
    }
}

/*
 * Presence timeouts: a user whose last connection ended leaves with
 * reason "closed" once the grace period passes; one whose connections all
 * stayed silent leaves with reason "timeout".  Rooms nobody is in that
 * stayed idle for --room-ttl go, history and all.
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
                    *pp = u->next;
                    if (u->online) {
                        r->nusers_online--;
                        announce(s, r, "leave", u->name, "closed", NULL);
                    }
                    rt__free(u);
                    continue;
                }
                rt__typing_flush(s, r, u->name, &u->typing);
                if (u->nconns > 0 && u->online &&
                    s->now_ms - u->heard_ms >= silent) {
                    u->online = 0;
                    r->nusers_online--;
                    announce(s, r, "leave", u->name, "timeout", NULL);
                }
                pp = &u->next;
            }
            if (s->o.room_ttl_ms > 0 && r->members == NULL &&
                r->polls == NULL && r->users == NULL &&
                s->now_ms - r->active_ms >= s->o.room_ttl_ms) {
                s->m.rooms_expired++;
                room_unlink_free(s, r);
            } else {
                rt__room_maybe_free(s, r);
            }
        }
    }
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
        if (!u->online)
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
