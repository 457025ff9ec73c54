/*
 * redis.c: hiredis (0.14 and later) on the server's libuv loop; see
 * redis.h for the keys, the scripts' contract and the outage rules.
 *
 * hiredis 0.14's libuv adapter has no timers and its async API no
 * command timeout, so one uv_timer of ours does all the timing: the
 * reconnect backoff, the connect and command deadlines (a PING keeps a
 * silent connection honest), the presence refresh and the sweep.
 *
 * Contexts are dropped with redisAsyncFree, which inside a hiredis
 * callback is deferred to its return; the callbacks that fire while a
 * context dies (NULL replies, the disconnect) find that it is no longer
 * r->cmd or r->sub and only complete their requests.
 */
#include "redis.h"

#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core_int.h"
#include "rt/backoff.h"
#include "rt/error.h"

#define R_BUCKETS 256
#define R_TICK_MS 100
#define R_PING_MS 1000
#define R_FILL_COUNT 512
#define R_QUEUE_MAX 4096
#define R_NODE_LEN 16
#define R_RANGE_MAX 1000

/* ------------------------------------------------------------ scripts */

/*
 * The room's hash is made only when missing: then the history starts
 * afresh, so a stream left from before goes.
 */
#define R_LUA_META                                    \
    "local e = redis.call('HGET', KEYS[1], 'e')\n"    \
    "if not e then\n"                                 \
    "  e = ARGV[1]\n"                                 \
    "  redis.call('DEL', KEYS[2])\n"                  \
    "  redis.call('HSET', KEYS[1], 'e', e, 's', 0)\n" \
    "end\n"

/* KEYS meta stream; ARGV fresh-epoch channel payload history */
static const char lua_publish[] =
    R_LUA_META "local s = redis.call('HINCRBY', KEYS[1], 's', 1)\n"
               "if tonumber(ARGV[4]) > 0 then\n"
               "  redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[4], s .. '-0',\n"
               "             'm', ARGV[3])\n"
               "end\n"
               "redis.call('PUBLISH', ARGV[2], 'm' .. s .. ':' .. e .. ':' .. "
               "ARGV[3])\n"
               "return {s, e}\n";

/* KEYS meta stream; ARGV fresh-epoch */
static const char lua_info[] = R_LUA_META
    "local s = tonumber(redis.call('HGET', KEYS[1], 's'))\n"
    "local o = s + 1\n"
    "local f = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)\n"
    "if #f > 0 then o = tonumber(string.match(f[1][1], '^(%d+)')) end\n"
    "return {e, s, o}\n";

#define R_LUA_NOW                                                      \
    "local t = redis.call('TIME')\n"                                   \
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / " \
    "1000)\n"

/* KEYS pres users; ARGV member user ttl-ms channel */
static const char lua_pres_up[] = R_LUA_NOW
    "if redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1]) "
    "== 1 then\n"
    "  if redis.call('HINCRBY', KEYS[2], ARGV[2], 1) == 1 then\n"
    "    redis.call('PUBLISH', ARGV[4], 'p+' .. ARGV[2])\n"
    "  end\n"
    "end\n"
    "return 0\n";

/* KEYS pres users; ARGV member user channel */
static const char lua_pres_down[] =
    "if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then\n"
    "  if redis.call('HINCRBY', KEYS[2], ARGV[2], -1) <= 0 then\n"
    "    redis.call('HDEL', KEYS[2], ARGV[2])\n"
    "    redis.call('PUBLISH', ARGV[3], 'p-' .. ARGV[2])\n"
    "  end\n"
    "end\n"
    "return 0\n";

/*
 * KEYS pres users; ARGV channel.  Sweeps the expired members (a node
 * that died), then lists the users.  Member = node id (16) ':' user.
 */
static const char lua_users[] =
    R_LUA_NOW "local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now,\n"
              "                       'LIMIT', 0, 1000)\n"
              "for _, m in ipairs(old) do\n"
              "  redis.call('ZREM', KEYS[1], m)\n"
              "  local u = string.sub(m, 18)\n"
              "  if redis.call('HINCRBY', KEYS[2], u, -1) <= 0 then\n"
              "    redis.call('HDEL', KEYS[2], u)\n"
              "    redis.call('PUBLISH', ARGV[1], 'p~' .. u)\n"
              "  end\n"
              "end\n"
              "return redis.call('HKEYS', KEYS[2])\n";

enum { S_PUBLISH, S_INFO, S_PRES_UP, S_PRES_DOWN, S_USERS, S_N };

static const char *const scripts[S_N] = {lua_publish, lua_info, lua_pres_up,
                                         lua_pres_down, lua_users};

/* -------------------------------------------------------------- types */

enum q_kind {
    Q_SETUP, /* AUTH, SELECT: an error fails the connection */
    Q_LOAD,  /* SCRIPT LOAD of scripts[q->script] */
    Q_PING,
    Q_QUIET, /* presence: the answer does not matter */
    Q_PUB,
    Q_INFO,
    Q_RANGE,
    Q_USERS,
    Q_SYNC, /* a subscribed room's info after (re)subscribing */
    Q_FILL  /* a subscribed room's gap read from the stream */
};

struct rt_redis_req {
    rt_redis *r;
    struct rt_redis_req *prev, *next; /* in flight, oldest first */
    uint64_t sent_ms;
    enum q_kind kind;
    int script; /* for EVALSHA: the script, to resend as EVAL */
    int resent;
    int canceled;
    union {
        rt_redis_pub_cb pub;
        rt_redis_info_cb info;
        rt_redis_range_cb range;
        rt_redis_users_cb users;
    } cb;
    void *ud;
    char *room; /* Q_SYNC, Q_FILL */
    /* The command, kept to resend an EVALSHA as EVAL on NOSCRIPT. */
    int argc;
    char **argv;
    size_t *argvlen;
};

struct rpres {
    struct rpres *next;
    char user[];
};

struct qmsg {
    uint64_t seq;
    size_t len;
    char epoch[RT_REDIS_EPOCH_LEN + 1];
    char payload[];
};

struct rroom {
    struct rroom *hnext;
    char *name;
    char *chan;     /* P{R} */
    char *keybase;  /* P{R}: + suffix */
    unsigned subs;  /* rt__redis_subscribe counts */
    int subscribed; /* confirmed on the current connection */
    int busy;       /* a sync or fill in flight */
    int refill;     /* messages dropped while busy: read again */
    int refilled;   /* read again for a gap once: what is missing now is */
    uint64_t last;  /* last seq delivered; UINT64_MAX unknown */
    char epoch[RT_REDIS_EPOCH_LEN + 1];
    struct qmsg **q; /* held while busy, by arrival (= seq) order */
    size_t nq;
    struct rpres *pres;
};

enum r_state { R_DOWN, R_CONNECTING, R_UP };

struct rt_redis {
    uv_loop_t *loop;
    uv_timer_t timer;
    struct rt_redis_url url;
    struct rt_redis_opts o;
    char *prefix;
    struct rt_redis_cbs cb;
    void *ud;
    char node[R_NODE_LEN + 1];

    redisAsyncContext *cmd, *sub;
    enum r_state state;
    int setup_left; /* replies before up */
    uint64_t state_ms;
    uint64_t retry_ms;
    uint64_t sub_retry_ms, sub_started_ms; /* the subscriber alone */
    rt_backoff sub_bo;
    uint64_t pinged_ms, refreshed_ms, swept_ms;
    rt_backoff bo;
    char sha[S_N][41];
    char why[160];
    int freeing;

    struct rt_redis_req *head, *tail;
    struct rroom *rooms[R_BUCKETS];
    struct rt_redis_stats st;
};

static void r_fail(rt_redis *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ------------------------------------------------------------- helpers */

static char *xstrndup(const char *s, size_t n)
{
    char *d = rt__malloc(n + 1);

    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static char *xstrdup(const char *s)
{
    return s ? xstrndup(s, strlen(s)) : NULL;
}

static void rand_hex(char *out, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[32];

    if (n > sizeof(raw))
        n = sizeof(raw);
    if (uv_random(NULL, NULL, raw, n, 0, NULL) != 0) {
        uint64_t x = uv_hrtime() ^ (uint64_t)(uintptr_t)out;
        for (size_t i = 0; i < n; i++) {
            x = x * 6364136223846793005u + 1442695040888963407u;
            raw[i] = (unsigned char)(x >> 56);
        }
    }
    for (size_t i = 0; i < n; i++)
        out[i] = hex[raw[i] & 15];
    out[n] = '\0';
}

static uint32_t rand32(void)
{
    uint32_t v = 0;

    if (uv_random(NULL, NULL, &v, sizeof(v), 0, NULL) != 0)
        v = (uint32_t)uv_hrtime();
    return v;
}

/* ----------------------------------------------------------------- URL */

static int url_err(char *err, size_t errlen, const char *msg, const char *s)
{
    if (err && errlen)
        snprintf(err, errlen, "%s in Redis URL '%s'", msg, s);
    return RT_EURL;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decode s[0..n) into a new string; NULL with *bad on a bad %. */
static char *pct_decode(const char *s, size_t n, int *bad)
{
    char *d = rt__malloc(n + 1), *o = d;

    *bad = 0;
    if (!d)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
            int lo = hi >= 0 ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                rt__free(d);
                *bad = 1;
                return NULL;
            }
            *o++ = (char)(hi * 16 + lo);
            i += 2;
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return d;
}

static int parse_uint(const char *s, size_t n, long max, long *out)
{
    long v = 0;

    if (n == 0 || n > 10)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v > max)
        return -1;
    *out = v;
    return 0;
}

int rt__redis_url_parse(const char *s, struct rt_redis_url *u, char *err,
                        size_t errlen)
{
    const char *p, *end, *at, *hs, *he, *slash;
    long v;
    int bad;

    memset(u, 0, sizeof(*u));
    u->port = 6379;
    if (!s || !*s)
        return url_err(err, errlen, "empty", "");
    if (strncmp(s, "unix://", 7) == 0) {
        const char *q = strchr(s + 7, '?');
        size_t n = q ? (size_t)(q - (s + 7)) : strlen(s + 7);
        if (n == 0 || s[7] != '/')
            return url_err(err, errlen,
                           "unix:// needs an absolute socket path", s);
        if (n >= 108)
            return url_err(err, errlen, "socket path too long", s);
        if (q) {
            if (strncmp(q, "?db=", 4) != 0 ||
                parse_uint(q + 4, strlen(q + 4), 1000000, &v) != 0)
                return url_err(err, errlen,
                               "only ?db=N (a number) may follow the path", s);
            u->db = (int)v;
        }
        u->path = xstrndup(s + 7, n);
        return u->path ? 0 : RT_ENOMEM;
    }
    if (strncmp(s, "redis://", 8) != 0)
        return url_err(err, errlen,
                       "unsupported scheme (redis:// or unix:// expected; "
                       "rediss:// TLS is not supported)",
                       s);
    p = s + 8;
    end = p + strlen(p);
    slash = strchr(p, '/');
    at = memchr(p, '@', (size_t)((slash ? slash : end) - p));
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (!colon)
            return url_err(err, errlen,
                           "credentials need a colon ([user]:password@)", s);
        if (colon > p) {
            u->user = pct_decode(p, (size_t)(colon - p), &bad);
            if (!u->user)
                goto nomem_or_bad;
        }
        u->password = pct_decode(colon + 1, (size_t)(at - colon - 1), &bad);
        if (!u->password)
            goto nomem_or_bad;
        p = at + 1;
    }
    hs = p;
    if (*p == '[') {
        he = strchr(p, ']');
        if (!he || (slash && he > slash)) {
            rt__redis_url_free(u);
            return url_err(err, errlen, "unterminated [IPv6] host", s);
        }
        hs = p + 1;
        p = he + 1;
    } else {
        while (*p && *p != ':' && *p != '/')
            p++;
        he = p;
    }
    if (he == hs) {
        rt__redis_url_free(u);
        return url_err(err, errlen, "missing host", s);
    }
    if (*p == ':') {
        const char *ps = ++p;
        while (*p && *p != '/')
            p++;
        if (parse_uint(ps, (size_t)(p - ps), 65535, &v) != 0 || v == 0) {
            rt__redis_url_free(u);
            return url_err(err, errlen, "port not in 1..65535", s);
        }
        u->port = (int)v;
    } else if (*p && *p != '/') {
        rt__redis_url_free(u);
        return url_err(err, errlen, "junk after the host", s);
    }
    if (*p == '/' && p[1]) {
        if (parse_uint(p + 1, strlen(p + 1), 1000000, &v) != 0) {
            rt__redis_url_free(u);
            return url_err(err, errlen, "database not a number", s);
        }
        u->db = (int)v;
    }
    u->host = xstrndup(hs, (size_t)(he - hs));
    if (!u->host) {
        rt__redis_url_free(u);
        return RT_ENOMEM;
    }
    return 0;

nomem_or_bad:
    rt__redis_url_free(u);
    if (bad)
        return url_err(err, errlen, "bad %-escape in the credentials", s);
    return RT_ENOMEM;
}

void rt__redis_url_free(struct rt_redis_url *u)
{
    if (!u)
        return;
    rt__free(u->host);
    rt__free(u->path);
    rt__free(u->user);
    if (u->password) {
        memset(u->password, 0, strlen(u->password));
        rt__free(u->password);
    }
    memset(u, 0, sizeof(*u));
}

static int url_copy(struct rt_redis_url *d, const struct rt_redis_url *s)
{
    *d = *s;
    d->host = xstrdup(s->host);
    d->path = xstrdup(s->path);
    d->user = xstrdup(s->user);
    d->password = xstrdup(s->password);
    if ((s->host && !d->host) || (s->path && !d->path) ||
        (s->user && !d->user) || (s->password && !d->password)) {
        rt__redis_url_free(d);
        return RT_ENOMEM;
    }
    return 0;
}

/* --------------------------------------------------------------- rooms */

static unsigned room_hash(const char *s)
{
    unsigned h = 2166136261u;

    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h % R_BUCKETS;
}

static struct rroom *room_find(rt_redis *r, const char *name)
{
    struct rroom *m = r->rooms[room_hash(name)];

    while (m && strcmp(m->name, name) != 0)
        m = m->hnext;
    return m;
}

static struct rroom *room_get(rt_redis *r, const char *name)
{
    struct rroom *m = room_find(r, name);
    size_t plen = strlen(r->prefix), nlen = strlen(name);
    unsigned h;

    if (m)
        return m;
    m = rt__calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->name = xstrdup(name);
    m->chan = rt__malloc(plen + nlen + 3);
    m->keybase = rt__malloc(plen + nlen + 4);
    if (!m->name || !m->chan || !m->keybase) {
        rt__free(m->name);
        rt__free(m->chan);
        rt__free(m->keybase);
        rt__free(m);
        return NULL;
    }
    sprintf(m->chan, "%s{%s}", r->prefix, name);
    sprintf(m->keybase, "%s{%s}:", r->prefix, name);
    m->last = UINT64_MAX;
    h = room_hash(name);
    m->hnext = r->rooms[h];
    r->rooms[h] = m;
    return m;
}

static void room_queue_clear(struct rroom *m)
{
    for (size_t i = 0; i < m->nq; i++)
        rt__free(m->q[i]);
    rt__free(m->q);
    m->q = NULL;
    m->nq = 0;
}

static void room_free(struct rroom *m)
{
    struct rpres *p, *next;

    for (p = m->pres; p; p = next) {
        next = p->next;
        rt__free(p);
    }
    room_queue_clear(m);
    rt__free(m->name);
    rt__free(m->chan);
    rt__free(m->keybase);
    rt__free(m);
}

/* Drop the room when nothing holds it and nothing reads for it. */
static void room_maybe_free(rt_redis *r, struct rroom *m)
{
    struct rroom **pp;

    if (m->subs || m->pres || m->busy)
        return;
    for (pp = &r->rooms[room_hash(m->name)]; *pp; pp = &(*pp)->hnext) {
        if (*pp == m) {
            *pp = m->hnext;
            break;
        }
    }
    room_free(m);
}

/* ------------------------------------------------------------ requests */

static void req_unlink(rt_redis *r, struct rt_redis_req *q)
{
    if (q->prev)
        q->prev->next = q->next;
    else if (r->head == q)
        r->head = q->next;
    if (q->next)
        q->next->prev = q->prev;
    else if (r->tail == q)
        r->tail = q->prev;
    q->prev = q->next = NULL;
}

static void req_free(struct rt_redis_req *q)
{
    if (q->argv) {
        for (int i = 0; i < q->argc; i++)
            rt__free(q->argv[i]);
        rt__free(q->argv);
    }
    rt__free(q->argvlen);
    rt__free(q->room);
    rt__free(q);
}

static void on_reply(redisAsyncContext *ac, void *reply, void *priv);

/*
 * Send argv on |ac| as request |q| (kept for a NOSCRIPT resend when
 * |keep|).  0, or an error with |q| freed.
 */
static int req_send(rt_redis *r, redisAsyncContext *ac, struct rt_redis_req *q,
                    int argc, const char **argv, const size_t *lens, int keep)
{
    if (keep) {
        q->argc = argc;
        q->argv = rt__calloc((size_t)argc, sizeof(*q->argv));
        q->argvlen = rt__calloc((size_t)argc, sizeof(*q->argvlen));
        if (!q->argv || !q->argvlen)
            goto nomem;
        for (int i = 0; i < argc; i++) {
            q->argv[i] = xstrndup(argv[i], lens[i]);
            if (!q->argv[i])
                goto nomem;
            q->argvlen[i] = lens[i];
        }
    }
    q->r = r;
    q->sent_ms = uv_now(r->loop);
    if (redisAsyncCommandArgv(ac, on_reply, q, argc, argv, lens) != REDIS_OK) {
        req_free(q);
        return RT_ECLOSED;
    }
    q->prev = r->tail;
    if (r->tail)
        r->tail->next = q;
    else
        r->head = q;
    r->tail = q;
    return 0;

nomem:
    req_free(q);
    return RT_ENOMEM;
}

static struct rt_redis_req *req_new(enum q_kind kind, void *ud)
{
    struct rt_redis_req *q = rt__calloc(1, sizeof(*q));

    if (q) {
        q->kind = kind;
        q->ud = ud;
        q->script = -1;
    }
    return q;
}

/*
 * EVALSHA scripts[s] with keys KEYS[i] = keybase + suffix[i] and args.
 * The room's key names are built here.
 */
static int eval_send(rt_redis *r, struct rroom *m, int s, const char *suffix1,
                     const char *suffix2, int nargs, const char **args,
                     const size_t *arglens, struct rt_redis_req *q)
{
    const char *argv[12];
    size_t lens[12];
    char *k1 = NULL, *k2 = NULL;
    size_t kb = strlen(m->keybase);
    int argc = 0, rc;

    k1 = rt__malloc(kb + strlen(suffix1) + 1);
    k2 = rt__malloc(kb + strlen(suffix2) + 1);
    if (!k1 || !k2) {
        rt__free(k1);
        rt__free(k2);
        req_free(q);
        return RT_ENOMEM;
    }
    sprintf(k1, "%s%s", m->keybase, suffix1);
    sprintf(k2, "%s%s", m->keybase, suffix2);
    argv[argc] = "EVALSHA";
    lens[argc++] = 7;
    argv[argc] = r->sha[s];
    lens[argc++] = strlen(r->sha[s]);
    argv[argc] = "2";
    lens[argc++] = 1;
    argv[argc] = k1;
    lens[argc++] = strlen(k1);
    argv[argc] = k2;
    lens[argc++] = strlen(k2);
    for (int i = 0; i < nargs && argc < 12; i++) {
        argv[argc] = args[i];
        lens[argc++] = arglens[i];
    }
    q->script = s;
    rc = req_send(r, r->cmd, q, argc, argv, lens, 1);
    rt__free(k1);
    rt__free(k2);
    return rc;
}

/* --------------------------------------------------------- delivery */

static void room_fill(rt_redis *r, struct rroom *m);
static void room_sync(rt_redis *r, struct rroom *m);

static void deliver(rt_redis *r, struct rroom *m, uint64_t seq,
                    const char *payload, size_t len)
{
    uint64_t lost = seq > m->last + 1 ? seq - m->last - 1 : 0;

    m->last = seq;
    r->st.received++;
    r->st.lost += lost;
    if (r->cb.message)
        r->cb.message(r->ud, m->name, seq, m->epoch, payload, len, lost);
}

/*
 * After a sync or a fill: what arrived meanwhile, in order.  A gap left
 * now is a loss (the stream no longer held those), unless messages were
 * dropped while busy: then the stream is read again.
 */
static void room_drain(rt_redis *r, struct rroom *m)
{
    size_t i;

    if (m->refill) {
        m->refill = 0;
        room_queue_clear(m);
        room_fill(r, m);
        return;
    }
    for (i = 0; i < m->nq && !m->busy; i++) {
        struct qmsg *x = m->q[i];
        if (strcmp(x->epoch, m->epoch) != 0) {
            /* A history started afresh behind our back: sync again. */
            room_queue_clear(m);
            room_sync(r, m);
            return;
        }
        if (x->seq <= m->last)
            continue;
        if (x->seq > m->last + 1 && !m->refilled && r->state == R_UP) {
            /*
             * Held past a gap the last read did not cover (the channel
             * was away meanwhile): read the stream once more before the
             * gap counts as lost.
             */
            for (size_t k = 0; k < i; k++)
                rt__free(m->q[k]);
            memmove(m->q, m->q + i, (m->nq - i) * sizeof(*m->q));
            m->nq -= i;
            m->refilled = 1;
            room_fill(r, m);
            return;
        }
        deliver(r, m, x->seq, x->payload, x->len);
    }
    m->refilled = 0;
    room_queue_clear(m);
}

static void room_hold(struct rroom *m, uint64_t seq, const char *epoch,
                      const char *payload, size_t len)
{
    struct qmsg *x, **v;

    if (m->nq >= R_QUEUE_MAX) {
        m->refill = 1;
        return;
    }
    x = rt__malloc(sizeof(*x) + len + 1);
    v = x ? rt__reallocarray(m->q, m->nq + 1, sizeof(*m->q)) : NULL;
    if (!v) {
        rt__free(x);
        m->refill = 1;
        return;
    }
    m->q = v;
    x->seq = seq;
    x->len = len;
    snprintf(x->epoch, sizeof(x->epoch), "%s", epoch);
    memcpy(x->payload, payload, len);
    x->payload[len] = '\0';
    m->q[m->nq++] = x;
}

/* Message |seq| of the room: delivered now, held, or known already. */
static void room_offer(rt_redis *r, struct rroom *m, uint64_t seq,
                       const char *epoch, const char *payload, size_t len)
{
    if (m->busy || m->last == UINT64_MAX) {
        room_hold(m, seq, epoch, payload, len);
        return;
    }
    if (strcmp(epoch, m->epoch) != 0) {
        room_hold(m, seq, epoch, payload, len);
        room_sync(r, m);
        return;
    }
    if (seq <= m->last)
        return;
    if (seq == m->last + 1) {
        deliver(r, m, seq, payload, len);
        return;
    }
    room_hold(m, seq, epoch, payload, len);
    room_fill(r, m);
}

static void on_channel(rt_redis *r, struct rroom *m, const char *s, size_t len)
{
    if (len >= 2 && s[0] == 'p' &&
        (s[1] == '+' || s[1] == '-' || s[1] == '~')) {
        char *user = xstrndup(s + 2, len - 2);
        int what = s[1] == '+'   ? RT_REDIS_JOINED
                   : s[1] == '-' ? RT_REDIS_LEFT
                                 : RT_REDIS_EXPIRED;
        if (user && r->cb.presence)
            r->cb.presence(r->ud, m->name, user, what);
        rt__free(user);
        return;
    }
    if (len < 4 || s[0] != 'm')
        return;
    {
        uint64_t seq = 0;
        size_t i = 1, es;
        char epoch[RT_REDIS_EPOCH_LEN + 1];

        while (i < len && s[i] >= '0' && s[i] <= '9' && seq < UINT64_MAX / 10)
            seq = seq * 10 + (uint64_t)(s[i++] - '0');
        if (i >= len || s[i] != ':' || seq == 0)
            return;
        es = ++i;
        while (i < len && s[i] != ':')
            i++;
        if (i >= len || i - es > RT_REDIS_EPOCH_LEN)
            return;
        memcpy(epoch, s + es, i - es);
        epoch[i - es] = '\0';
        i++;
        room_offer(r, m, seq, epoch, s + i, len - i);
    }
}

/* Read the stream from m->last + 1 (Q_FILL completes in on_reply). */
static void room_fill(rt_redis *r, struct rroom *m)
{
    char start[32], count[16];
    const char *argv[7];
    size_t lens[7];
    struct rt_redis_req *q;
    char *key;

    if (r->state != R_UP || m->busy)
        return;
    q = req_new(Q_FILL, NULL);
    key = rt__malloc(strlen(m->keybase) + 2);
    if (!q || !key || !(q->room = xstrdup(m->name))) {
        rt__free(key);
        if (q)
            req_free(q);
        r_fail(r, "out of memory");
        return;
    }
    sprintf(key, "%sh", m->keybase);
    snprintf(start, sizeof(start), "%llu-0",
             (unsigned long long)(m->last + 1));
    snprintf(count, sizeof(count), "%d", R_FILL_COUNT);
    argv[0] = "XRANGE";
    argv[1] = key;
    argv[2] = start;
    argv[3] = "+";
    argv[4] = "COUNT";
    argv[5] = count;
    for (int i = 0; i < 6; i++)
        lens[i] = strlen(argv[i]);
    m->busy = 1;
    if (req_send(r, r->cmd, q, 6, argv, lens, 0) != 0) {
        m->busy = 0;
        rt__free(key);
        r_fail(r, "could not send XRANGE");
        return;
    }
    rt__free(key);
    r->st.filled++;
}

static void room_sync(rt_redis *r, struct rroom *m)
{
    char fresh[RT_REDIS_EPOCH_LEN + 1];
    const char *args[1];
    size_t lens[1];
    struct rt_redis_req *q;

    if (r->state != R_UP || m->busy)
        return;
    q = req_new(Q_SYNC, NULL);
    if (!q || !(q->room = xstrdup(m->name))) {
        if (q)
            req_free(q);
        r_fail(r, "out of memory");
        return;
    }
    rand_hex(fresh, RT_REDIS_EPOCH_LEN);
    args[0] = fresh;
    lens[0] = RT_REDIS_EPOCH_LEN;
    m->busy = 1;
    if (eval_send(r, m, S_INFO, "m", "h", 1, args, lens, q) != 0) {
        m->busy = 0;
        r_fail(r, "could not send the room's info");
    }
}

/* ------------------------------------------------------------ replies */

static int is_noscript(const redisReply *x)
{
    return x && x->type == REDIS_REPLY_ERROR && x->str &&
           strncmp(x->str, "NOSCRIPT", 8) == 0;
}

static uint64_t id_seq(const redisReply *id)
{
    uint64_t v = 0;

    if (!id || id->type != REDIS_REPLY_STRING)
        return 0;
    for (size_t i = 0; i < id->len && id->str[i] >= '0' && id->str[i] <= '9';
         i++)
        v = v * 10 + (uint64_t)(id->str[i] - '0');
    return v;
}

/* A stream entry's payload: [id, [field, value, ...]], field "m". */
static int entry_parse(const redisReply *e, struct rt_redis_entry *out)
{
    const redisReply *f;

    if (!e || e->type != REDIS_REPLY_ARRAY || e->elements != 2)
        return -1;
    out->seq = id_seq(e->element[0]);
    f = e->element[1];
    if (out->seq == 0 || !f || f->type != REDIS_REPLY_ARRAY)
        return -1;
    for (size_t i = 0; i + 1 < f->elements; i += 2) {
        if (f->element[i]->type == REDIS_REPLY_STRING &&
            f->element[i]->len == 1 && f->element[i]->str[0] == 'm' &&
            f->element[i + 1]->type == REDIS_REPLY_STRING) {
            out->payload = f->element[i + 1]->str;
            out->len = f->element[i + 1]->len;
            return 0;
        }
    }
    return -1;
}

static void maybe_up(rt_redis *r);
static int sub_send(rt_redis *r, struct rroom *m, int on);

static void fill_done(rt_redis *r, struct rroom *m, const redisReply *x)
{
    size_t n = 0;

    m->busy = 0;
    if (x && x->type == REDIS_REPLY_ARRAY) {
        n = x->elements;
        for (size_t i = 0; i < x->elements; i++) {
            struct rt_redis_entry e;
            if (entry_parse(x->element[i], &e) == 0 && e.seq > m->last)
                deliver(r, m, e.seq, e.payload, e.len);
        }
    }
    if (n == R_FILL_COUNT) {
        room_fill(r, m);
        return;
    }
    room_drain(r, m);
}

static void sync_done(rt_redis *r, struct rroom *m, const redisReply *x)
{
    const redisReply *e, *s;

    m->busy = 0;
    if (!x || x->type != REDIS_REPLY_ARRAY || x->elements != 3 ||
        (e = x->element[0])->type != REDIS_REPLY_STRING ||
        e->len > RT_REDIS_EPOCH_LEN ||
        (s = x->element[1])->type != REDIS_REPLY_INTEGER) {
        r_fail(r, "the room's info came back out of shape");
        return;
    }
    if (m->last == UINT64_MAX) {
        memcpy(m->epoch, e->str, e->len);
        m->epoch[e->len] = '\0';
        m->last = (uint64_t)s->integer;
    } else if (strlen(m->epoch) != e->len ||
               memcmp(m->epoch, e->str, e->len) != 0) {
        memcpy(m->epoch, e->str, e->len);
        m->epoch[e->len] = '\0';
        m->last = 0;
        if (r->cb.reset)
            r->cb.reset(r->ud, m->name, m->epoch);
    }
    if ((uint64_t)s->integer > m->last)
        room_fill(r, m);
    else
        room_drain(r, m);
}

static void complete(rt_redis *r, struct rt_redis_req *q, const redisReply *x,
                     int err)
{
    struct rroom *m;

    switch (q->kind) {
    case Q_SETUP:
    case Q_LOAD:
        if (err)
            break;
        if (q->kind == Q_LOAD && x->type == REDIS_REPLY_STRING &&
            x->len == 40) {
            memcpy(r->sha[q->script], x->str, 40);
            r->sha[q->script][40] = '\0';
        }
        if (r->setup_left > 0 && --r->setup_left == 0)
            maybe_up(r);
        break;
    case Q_PING:
    case Q_QUIET:
        break;
    case Q_PUB:
        if (q->canceled)
            break;
        if (!err && x->type == REDIS_REPLY_ARRAY && x->elements == 2 &&
            x->element[0]->type == REDIS_REPLY_INTEGER &&
            x->element[1]->type == REDIS_REPLY_STRING) {
            r->st.published++;
            q->cb.pub(q->ud, 0, (uint64_t)x->element[0]->integer,
                      x->element[1]->str);
        } else {
            q->cb.pub(q->ud, err ? err : RT_EPROTO, 0, NULL);
        }
        break;
    case Q_INFO:
        if (q->canceled)
            break;
        if (!err && x->type == REDIS_REPLY_ARRAY && x->elements == 3 &&
            x->element[0]->type == REDIS_REPLY_STRING &&
            x->element[1]->type == REDIS_REPLY_INTEGER &&
            x->element[2]->type == REDIS_REPLY_INTEGER)
            q->cb.info(q->ud, 0, x->element[0]->str,
                       (uint64_t)x->element[1]->integer,
                       (uint64_t)x->element[2]->integer);
        else
            q->cb.info(q->ud, err ? err : RT_EPROTO, NULL, 0, 0);
        break;
    case Q_RANGE:
        if (q->canceled)
            break;
        if (!err && x->type == REDIS_REPLY_ARRAY) {
            struct rt_redis_entry *v =
                rt__calloc(x->elements ? x->elements : 1, sizeof(*v));
            size_t n = 0;
            if (!v) {
                q->cb.range(q->ud, RT_ENOMEM, NULL, 0);
                break;
            }
            for (size_t i = 0; i < x->elements; i++)
                if (entry_parse(x->element[i], &v[n]) == 0)
                    n++;
            q->cb.range(q->ud, 0, v, n);
            rt__free(v);
        } else {
            q->cb.range(q->ud, err ? err : RT_EPROTO, NULL, 0);
        }
        break;
    case Q_USERS:
        if (q->canceled)
            break;
        if (!err && x->type == REDIS_REPLY_ARRAY) {
            const char **v =
                rt__calloc(x->elements ? x->elements : 1, sizeof(*v));
            size_t n = 0;
            if (!v) {
                q->cb.users(q->ud, RT_ENOMEM, NULL, 0);
                break;
            }
            for (size_t i = 0; i < x->elements; i++)
                if (x->element[i]->type == REDIS_REPLY_STRING)
                    v[n++] = x->element[i]->str;
            q->cb.users(q->ud, 0, v, n);
            rt__free(v);
        } else {
            q->cb.users(q->ud, err ? err : RT_EPROTO, NULL, 0);
        }
        break;
    case Q_SYNC:
    case Q_FILL:
        m = room_find(r, q->room);
        if (!m)
            break;
        if (err) {
            m->busy = 0;
            room_maybe_free(r, m);
            break;
        }
        if (q->kind == Q_SYNC)
            sync_done(r, m, x);
        else
            fill_done(r, m, x);
        room_maybe_free(r, m);
        break;
    }
}

static void on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    struct rt_redis_req *q = priv;
    rt_redis *r = q->r;
    redisReply *x = reply;
    int live = ac == r->cmd || ac == r->sub;

    req_unlink(r, q);
    if (r->freeing) {
        req_free(q);
        return;
    }
    if (live && is_noscript(x) && q->argv && !q->resent) {
        /* SCRIPT FLUSH, or a Redis that lost its cache: send the text. */
        struct rt_redis_req *q2 = q;
        rt__free(q2->argv[0]);
        rt__free(q2->argv[1]);
        q2->argv[0] = xstrdup("EVAL");
        q2->argv[1] = xstrdup(scripts[q->script]);
        if (q2->argv[0] && q2->argv[1]) {
            q2->argvlen[0] = 4;
            q2->argvlen[1] = strlen(q2->argv[1]);
            q2->resent = 1;
            q2->sent_ms = uv_now(r->loop);
            if (redisAsyncCommandArgv(ac, on_reply, q2, q2->argc,
                                      (const char **)q2->argv,
                                      q2->argvlen) == REDIS_OK) {
                q2->prev = r->tail;
                if (r->tail)
                    r->tail->next = q2;
                else
                    r->head = q2;
                r->tail = q2;
                return;
            }
        }
    }
    if (!x) {
        r->st.errors += !r->freeing;
        complete(r, q, NULL, RT_ECLOSED);
    } else if (x->type == REDIS_REPLY_ERROR) {
        r->st.errors++;
        if (q->kind == Q_SETUP || q->kind == Q_LOAD) {
            complete(r, q, NULL, RT_ECLOSED);
            if (live)
                r_fail(r, "Redis refused the setup: %.100s", x->str);
        } else {
            complete(r, q, NULL, RT_EPROTO);
        }
    } else {
        complete(r, q, x, 0);
    }
    req_free(q);
}

static void on_sub(redisAsyncContext *ac, void *reply, void *priv)
{
    rt_redis *r = priv;
    redisReply *x = reply, *t, *ch;
    struct rroom *m;
    size_t plen;
    char *name;

    if (!x || ac != r->sub || r->freeing || x->type != REDIS_REPLY_ARRAY ||
        x->elements < 3)
        return;
    t = x->element[0];
    ch = x->element[1];
    if (t->type != REDIS_REPLY_STRING || ch->type != REDIS_REPLY_STRING)
        return;
    plen = strlen(r->prefix);
    if (ch->len < plen + 2 || ch->str[plen] != '{' ||
        ch->str[ch->len - 1] != '}')
        return;
    name = xstrndup(ch->str + plen + 1, ch->len - plen - 2);
    if (!name)
        return;
    m = room_find(r, name);
    rt__free(name);
    if (!m)
        return;
    if (strcmp(t->str, "message") == 0 &&
        x->element[2]->type == REDIS_REPLY_STRING) {
        if (m->subs)
            on_channel(r, m, x->element[2]->str, x->element[2]->len);
    } else if (strcmp(t->str, "subscribe") == 0) {
        m->subscribed = 1;
        rt_backoff_connected(&r->sub_bo, 0);
        if (m->subs)
            room_sync(r, m);
    } else if (strcmp(t->str, "unsubscribe") == 0) {
        m->subscribed = 0;
        /* Subscribed again while the UNSUBSCRIBE was on its way. */
        if (m->subs && sub_send(r, m, 1) != 0)
            r_fail(r, "cannot send SUBSCRIBE");
        else
            room_maybe_free(r, m);
    }
}

static int sub_send(rt_redis *r, struct rroom *m, int on)
{
    const char *argv[2] = {on ? "SUBSCRIBE" : "UNSUBSCRIBE", m->chan};
    size_t lens[2] = {strlen(argv[0]), strlen(m->chan)};

    if (!r->sub)
        return RT_ESTATE; /* the subscriber is coming back: it resubscribes */
    if (redisAsyncCommandArgv(r->sub, on_sub, r, 2, argv, lens) != REDIS_OK)
        return RT_ECLOSED;
    return 0;
}

static void pres_send(rt_redis *r, struct rroom *m, const char *user, int on)
{
    char member[R_NODE_LEN + 1 + 256 + 1], ttl[24];
    const char *args[4];
    size_t lens[4];
    struct rt_redis_req *q;

    if (r->state != R_UP || strlen(user) > 256)
        return;
    q = req_new(Q_QUIET, NULL);
    if (!q)
        return;
    snprintf(member, sizeof(member), "%s:%s", r->node, user);
    snprintf(ttl, sizeof(ttl), "%u", (unsigned)r->o.presence_ms);
    args[0] = member;
    args[1] = user;
    if (on) {
        args[2] = ttl;
        args[3] = m->chan;
    } else {
        args[2] = m->chan;
    }
    for (int i = 0; i < (on ? 4 : 3); i++)
        lens[i] = strlen(args[i]);
    eval_send(r, m, on ? S_PRES_UP : S_PRES_DOWN, "p", "u", on ? 4 : 3, args,
              lens, q);
}

/* -------------------------------------------------------- connections */

static void maybe_up(rt_redis *r)
{
    if (r->state != R_CONNECTING)
        return;
    r->state = R_UP;
    r->state_ms = r->pinged_ms = r->refreshed_ms = uv_now(r->loop);
    r->st.connects++;
    r->why[0] = '\0';
    rt_backoff_connected(&r->bo, 0);
    rt_backoff_connected(&r->sub_bo, 0);
    for (int b = 0; b < R_BUCKETS; b++) {
        for (struct rroom *m = r->rooms[b]; m; m = m->hnext) {
            if (m->subs)
                sub_send(r, m, 1);
            for (struct rpres *p = m->pres; p; p = p->next)
                pres_send(r, m, p->user, 1);
        }
    }
    if (r->cb.up)
        r->cb.up(r->ud);
}

/*
 * The subscriber connection alone was lost while commands still work
 * (Redis closed it: a pub/sub output buffer past its limit, CLIENT KILL):
 * publishing goes on, and the subscriber comes back on its own backoff,
 * resubscribes and every room is filled from its stream.
 */
static void sub_lost(rt_redis *r)
{
    uint64_t delay = 0;

    r->st.disconnects++;
    for (int b = 0; b < R_BUCKETS; b++)
        for (struct rroom *m = r->rooms[b]; m; m = m->hnext)
            m->subscribed = 0;
    if (rt_backoff_next(&r->sub_bo, rand32(), &delay) != 0)
        delay = r->o.backoff_cap;
    r->sub_retry_ms = uv_now(r->loop) + delay;
}

static redisAsyncContext *ctx_open(rt_redis *r);
static int ctx_setup(rt_redis *r, redisAsyncContext *ac);

static void sub_reconnect(rt_redis *r)
{
    r->sub = ctx_open(r);
    if (!r->sub) {
        sub_lost(r);
        return;
    }
    r->sub_started_ms = uv_now(r->loop);
    if (ctx_setup(r, r->sub) != 0) {
        r_fail(r, "cannot send the Redis setup");
        return;
    }
    for (int b = 0; b < R_BUCKETS; b++)
        for (struct rroom *m = r->rooms[b]; m; m = m->hnext)
            if (m->subs && sub_send(r, m, 1) != 0) {
                r_fail(r, "cannot send SUBSCRIBE");
                return;
            }
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    rt_redis *r = ac->data;

    if (status == REDIS_OK || !r)
        return;
    /* hiredis frees the context after this. */
    if (ac == r->cmd) {
        r->cmd = NULL;
    } else if (ac == r->sub) {
        r->sub = NULL;
        if (r->state == R_UP) {
            sub_lost(r);
            return;
        }
    } else {
        return;
    }
    r_fail(r, "cannot connect to Redis: %s", ac->errstr);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    rt_redis *r = ac->data;

    (void)status;
    if (!r)
        return;
    if (ac == r->cmd) {
        r->cmd = NULL;
    } else if (ac == r->sub) {
        r->sub = NULL;
        if (r->state == R_UP) {
            sub_lost(r);
            return;
        }
    } else {
        return;
    }
    r_fail(r, "lost the connection to Redis: %s",
           ac->err ? ac->errstr : "closed by the server");
}

static redisAsyncContext *ctx_open(rt_redis *r)
{
    redisAsyncContext *ac;

    if (r->url.path)
        ac = redisAsyncConnectUnix(r->url.path);
    else
        ac = redisAsyncConnect(r->url.host, r->url.port);
    if (!ac)
        return NULL;
    if (ac->err) {
        snprintf(r->why, sizeof(r->why), "cannot connect to Redis: %s",
                 ac->errstr);
        redisAsyncFree(ac);
        return NULL;
    }
    ac->data = r;
    if (redisLibuvAttach(ac, r->loop) != REDIS_OK) {
        snprintf(r->why, sizeof(r->why), "cannot watch the Redis socket");
        redisAsyncFree(ac);
        return NULL;
    }
    /* The server's loop ends when the server is done, Redis or not. */
    uv_unref((uv_handle_t *)&((redisLibuvEvents *)ac->ev.data)->handle);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    return ac;
}

/* AUTH and SELECT on |ac|; each answer counts down setup_left. */
static int ctx_setup(rt_redis *r, redisAsyncContext *ac)
{
    char db[16];
    const char *argv[3];
    size_t lens[3];
    struct rt_redis_req *q;
    int n = 0;

    if (r->url.password) {
        n = 0;
        argv[n++] = "AUTH";
        if (r->url.user)
            argv[n++] = r->url.user;
        argv[n++] = r->url.password;
        for (int i = 0; i < n; i++)
            lens[i] = strlen(argv[i]);
        if (!(q = req_new(Q_SETUP, NULL)))
            return RT_ENOMEM;
        r->setup_left++;
        if (req_send(r, ac, q, n, argv, lens, 0) != 0)
            return RT_ECLOSED;
    }
    if (r->url.db > 0) {
        snprintf(db, sizeof(db), "%d", r->url.db);
        argv[0] = "SELECT";
        argv[1] = db;
        lens[0] = 6;
        lens[1] = strlen(db);
        if (!(q = req_new(Q_SETUP, NULL)))
            return RT_ENOMEM;
        r->setup_left++;
        if (req_send(r, ac, q, 2, argv, lens, 0) != 0)
            return RT_ECLOSED;
    }
    return 0;
}

static void r_connect(rt_redis *r)
{
    r->state = R_CONNECTING;
    r->state_ms = uv_now(r->loop);
    r->setup_left = 1; /* released below, once all is queued */
    r->cmd = ctx_open(r);
    r->sub = r->cmd ? ctx_open(r) : NULL;
    if (!r->cmd || !r->sub) {
        char why[sizeof(r->why)];
        snprintf(why, sizeof(why), "%s",
                 r->why[0] ? r->why : "cannot connect to Redis");
        r_fail(r, "%s", why);
        return;
    }
    if (ctx_setup(r, r->cmd) != 0 || ctx_setup(r, r->sub) != 0) {
        r_fail(r, "cannot send the Redis setup");
        return;
    }
    for (int s = 0; s < S_N; s++) {
        const char *argv[3] = {"SCRIPT", "LOAD", scripts[s]};
        size_t lens[3] = {6, 4, strlen(scripts[s])};
        struct rt_redis_req *q = req_new(Q_LOAD, NULL);
        if (!q) {
            r_fail(r, "out of memory");
            return;
        }
        q->script = s;
        r->setup_left++;
        if (req_send(r, r->cmd, q, 3, argv, lens, 0) != 0) {
            r_fail(r, "cannot send SCRIPT LOAD");
            return;
        }
    }
    if (--r->setup_left == 0)
        maybe_up(r);
}

static void r_fail(rt_redis *r, const char *fmt, ...)
{
    redisAsyncContext *c = r->cmd, *s = r->sub;
    int was_up = r->state == R_UP;
    uint64_t delay = 0;
    va_list ap;

    if (r->state == R_DOWN && !c && !s)
        return;
    va_start(ap, fmt);
    vsnprintf(r->why, sizeof(r->why), fmt, ap);
    va_end(ap);
    r->state = R_DOWN;
    r->setup_left = 0;
    r->cmd = r->sub = NULL;
    r->st.disconnects += was_up;
    for (int b = 0; b < R_BUCKETS; b++) {
        for (struct rroom *m = r->rooms[b]; m; m = m->hnext) {
            m->subscribed = 0;
            m->busy = 0;
            room_queue_clear(m);
        }
    }
    /* Their pending callbacks see contexts that are no longer ours. */
    if (c)
        redisAsyncFree(c);
    if (s)
        redisAsyncFree(s);
    if (rt_backoff_next(&r->bo, rand32(), &delay) != 0)
        delay = r->o.backoff_cap;
    r->retry_ms = uv_now(r->loop) + delay;
    if (was_up && r->cb.down)
        r->cb.down(r->ud, r->why);
}

static void ping(rt_redis *r)
{
    const char *argv[1] = {"PING"};
    size_t lens[1] = {4};
    struct rt_redis_req *q = req_new(Q_PING, NULL);

    if (q)
        req_send(r, r->cmd, q, 1, argv, lens, 0);
}

static void sweep(rt_redis *r, struct rroom *m)
{
    const char *args[1] = {m->chan};
    size_t lens[1] = {strlen(m->chan)};
    struct rt_redis_req *q = req_new(Q_QUIET, NULL);

    if (q)
        eval_send(r, m, S_USERS, "p", "u", 1, args, lens, q);
}

static void on_tick(uv_timer_t *t)
{
    rt_redis *r = t->data;
    uint64_t now = uv_now(r->loop);

    switch (r->state) {
    case R_DOWN:
        if (now >= r->retry_ms)
            r_connect(r);
        return;
    case R_CONNECTING:
        /*
         * hiredis 0.14 under libuv misses a refused connect (the poll
         * reports an error, which the adapter ignores): ask the sockets.
         */
        for (int i = 0; i < 2; i++) {
            redisAsyncContext *ac = i ? r->sub : r->cmd;
            int soerr = 0;
            socklen_t sl = sizeof(soerr);
            if (ac && !(ac->c.flags & REDIS_CONNECTED) &&
                getsockopt(ac->c.fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 &&
                soerr) {
                r_fail(r, "cannot connect to Redis: %s", strerror(soerr));
                return;
            }
        }
        if (now - r->state_ms > r->o.timeout_ms)
            r_fail(r, "Redis did not answer within %ums",
                   (unsigned)r->o.timeout_ms);
        return;
    case R_UP:
        break;
    }
    if (!r->sub) {
        if (now >= r->sub_retry_ms)
            sub_reconnect(r);
        if (r->state != R_UP)
            return;
    } else if (!(r->sub->c.flags & REDIS_CONNECTED) &&
               now - r->sub_started_ms > r->o.timeout_ms) {
        r_fail(r, "Redis did not accept the subscriber within %ums",
               (unsigned)r->o.timeout_ms);
        return;
    }
    if (r->head && now - r->head->sent_ms > r->o.timeout_ms) {
        r->st.errors++;
        r_fail(r, "Redis did not answer within %ums",
               (unsigned)r->o.timeout_ms);
        return;
    }
    if (now - r->pinged_ms >= R_PING_MS) {
        r->pinged_ms = now;
        ping(r);
    }
    if (now - r->refreshed_ms >= r->o.presence_ms / 3) {
        r->refreshed_ms = now;
        for (int b = 0; b < R_BUCKETS; b++)
            for (struct rroom *m = r->rooms[b]; m; m = m->hnext)
                for (struct rpres *p = m->pres; p; p = p->next)
                    pres_send(r, m, p->user, 1);
    }
    if (now - r->swept_ms >= r->o.presence_ms / 4) {
        r->swept_ms = now;
        for (int b = 0; b < R_BUCKETS; b++)
            for (struct rroom *m = r->rooms[b]; m; m = m->hnext)
                if (m->subs)
                    sweep(r, m);
    }
}

/* ---------------------------------------------------------------- API */

rt_redis *rt__redis_new(uv_loop_t *loop, const struct rt_redis_url *u,
                        const struct rt_redis_opts *o,
                        const struct rt_redis_cbs *cb, void *ud)
{
    rt_redis *r = rt__calloc(1, sizeof(*r));
    rt_backoff_policy bp;

    if (!r)
        return NULL;
    r->loop = loop;
    if (o)
        r->o = *o;
    if (!r->o.prefix)
        r->o.prefix = "rt:";
    if (!r->o.presence_ms)
        r->o.presence_ms = 30000;
    if (!r->o.timeout_ms)
        r->o.timeout_ms = 5000;
    rt_backoff_policy_init(&bp);
    if (r->o.backoff_base)
        bp.base_ms = r->o.backoff_base;
    if (r->o.backoff_cap)
        bp.cap_ms = r->o.backoff_cap;
    r->o.backoff_cap = bp.cap_ms;
    bp.stable_ms = 0;
    rt_backoff_init(&r->bo, &bp);
    bp.base_ms = bp.base_ms < 100 ? bp.base_ms : 100;
    rt_backoff_init(&r->sub_bo, &bp);
    if (cb)
        r->cb = *cb;
    r->ud = ud;
    r->prefix = xstrdup(r->o.prefix);
    if (!r->prefix || url_copy(&r->url, u) != 0) {
        rt__free(r->prefix);
        rt__free(r);
        return NULL;
    }
    rand_hex(r->node, R_NODE_LEN);
    uv_timer_init(loop, &r->timer);
    r->timer.data = r;
    uv_timer_start(&r->timer, on_tick, R_TICK_MS, R_TICK_MS);
    uv_unref((uv_handle_t *)&r->timer);
    r_connect(r);
    return r;
}

static void on_timer_closed(uv_handle_t *h)
{
    rt__free(h->data);
}

void rt__redis_free(rt_redis *r)
{
    redisAsyncContext *c, *s;

    if (!r)
        return;
    r->freeing = 1;
    c = r->cmd;
    s = r->sub;
    r->cmd = r->sub = NULL;
    if (c)
        redisAsyncFree(c);
    if (s)
        redisAsyncFree(s);
    for (int b = 0; b < R_BUCKETS; b++) {
        struct rroom *m, *next;
        for (m = r->rooms[b]; m; m = next) {
            next = m->hnext;
            room_free(m);
        }
        r->rooms[b] = NULL;
    }
    rt__redis_url_free(&r->url);
    rt__free(r->prefix);
    uv_timer_stop(&r->timer);
    r->timer.data = r;
    uv_close((uv_handle_t *)&r->timer, on_timer_closed);
}

int rt__redis_is_up(const rt_redis *r)
{
    return r && r->state == R_UP;
}

const char *rt__redis_why(const rt_redis *r)
{
    return r->why;
}

void rt__redis_stats(const rt_redis *r, struct rt_redis_stats *st)
{
    *st = r->st;
}

const char *rt__redis_node(const rt_redis *r)
{
    return r->node;
}

void rt__redis_cancel(rt_redis_req *q)
{
    if (q)
        q->canceled = 1;
}

static struct rt_redis_req *api_req(rt_redis *r, const char *room,
                                    enum q_kind kind, void *ud, int *err,
                                    struct rroom **mp)
{
    struct rt_redis_req *q;

    if (r->state != R_UP) {
        *err = RT_ECLOSED;
        return NULL;
    }
    *mp = room_get(r, room);
    q = *mp ? req_new(kind, ud) : NULL;
    if (!q) {
        if (*mp)
            room_maybe_free(r, *mp);
        *err = RT_ENOMEM;
        return NULL;
    }
    return q;
}

rt_redis_req *rt__redis_publish(rt_redis *r, const char *room,
                                const char *payload, size_t len,
                                rt_redis_pub_cb cb, void *ud, int *err)
{
    char fresh[RT_REDIS_EPOCH_LEN + 1], hist[16];
    const char *args[4];
    size_t lens[4];
    struct rroom *m;
    struct rt_redis_req *q = api_req(r, room, Q_PUB, ud, err, &m);
    int rc;

    if (!q)
        return NULL;
    q->cb.pub = cb;
    rand_hex(fresh, RT_REDIS_EPOCH_LEN);
    snprintf(hist, sizeof(hist), "%u", (unsigned)r->o.history);
    args[0] = fresh;
    args[1] = m->chan;
    args[2] = payload;
    args[3] = hist;
    lens[0] = RT_REDIS_EPOCH_LEN;
    lens[1] = strlen(m->chan);
    lens[2] = len;
    lens[3] = strlen(hist);
    rc = eval_send(r, m, S_PUBLISH, "m", "h", 4, args, lens, q);
    room_maybe_free(r, m);
    if (rc != 0) {
        *err = rc;
        return NULL;
    }
    return q;
}

rt_redis_req *rt__redis_info(rt_redis *r, const char *room,
                             rt_redis_info_cb cb, void *ud, int *err)
{
    char fresh[RT_REDIS_EPOCH_LEN + 1];
    const char *args[1];
    size_t lens[1];
    struct rroom *m;
    struct rt_redis_req *q = api_req(r, room, Q_INFO, ud, err, &m);
    int rc;

    if (!q)
        return NULL;
    q->cb.info = cb;
    rand_hex(fresh, RT_REDIS_EPOCH_LEN);
    args[0] = fresh;
    lens[0] = RT_REDIS_EPOCH_LEN;
    rc = eval_send(r, m, S_INFO, "m", "h", 1, args, lens, q);
    room_maybe_free(r, m);
    if (rc != 0) {
        *err = rc;
        return NULL;
    }
    return q;
}

rt_redis_req *rt__redis_range(rt_redis *r, const char *room, uint64_t from,
                              uint32_t count, rt_redis_range_cb cb, void *ud,
                              int *err)
{
    char start[32], cnt[16], *key;
    const char *argv[6];
    size_t lens[6];
    struct rroom *m;
    struct rt_redis_req *q = api_req(r, room, Q_RANGE, ud, err, &m);
    int rc;

    if (!q)
        return NULL;
    q->cb.range = cb;
    key = rt__malloc(strlen(m->keybase) + 2);
    if (!key) {
        req_free(q);
        room_maybe_free(r, m);
        *err = RT_ENOMEM;
        return NULL;
    }
    sprintf(key, "%sh", m->keybase);
    snprintf(start, sizeof(start), "%llu-0",
             (unsigned long long)(from ? from : 1));
    snprintf(cnt, sizeof(cnt), "%u",
             (unsigned)(count && count < R_RANGE_MAX ? count : R_RANGE_MAX));
    argv[0] = "XRANGE";
    argv[1] = key;
    argv[2] = start;
    argv[3] = "+";
    argv[4] = "COUNT";
    argv[5] = cnt;
    for (int i = 0; i < 6; i++)
        lens[i] = strlen(argv[i]);
    rc = req_send(r, r->cmd, q, 6, argv, lens, 0);
    rt__free(key);
    room_maybe_free(r, m);
    if (rc != 0) {
        *err = rc;
        return NULL;
    }
    return q;
}

rt_redis_req *rt__redis_users(rt_redis *r, const char *room,
                              rt_redis_users_cb cb, void *ud, int *err)
{
    const char *args[1];
    size_t lens[1];
    struct rroom *m;
    struct rt_redis_req *q = api_req(r, room, Q_USERS, ud, err, &m);
    int rc;

    if (!q)
        return NULL;
    q->cb.users = cb;
    args[0] = m->chan;
    lens[0] = strlen(m->chan);
    rc = eval_send(r, m, S_USERS, "p", "u", 1, args, lens, q);
    room_maybe_free(r, m);
    if (rc != 0) {
        *err = rc;
        return NULL;
    }
    return q;
}

int rt__redis_subscribe(rt_redis *r, const char *room, const char *epoch,
                        uint64_t after)
{
    struct rroom *m = room_get(r, room);

    if (!m)
        return RT_ENOMEM;
    if (m->subs++ > 0)
        return 0;
    if (epoch && strlen(epoch) <= RT_REDIS_EPOCH_LEN) {
        snprintf(m->epoch, sizeof(m->epoch), "%s", epoch);
        m->last = after;
    } else {
        m->epoch[0] = '\0';
        m->last = UINT64_MAX;
    }
    room_queue_clear(m);
    if (r->state == R_UP && r->sub && !m->subscribed && sub_send(r, m, 1) != 0)
        r_fail(r, "cannot send SUBSCRIBE");
    return 0;
}

void rt__redis_unsubscribe(rt_redis *r, const char *room)
{
    struct rroom *m = room_find(r, room);

    if (!m || m->subs == 0 || --m->subs > 0)
        return;
    room_queue_clear(m);
    if (r->state == R_UP && r->sub && sub_send(r, m, 0) != 0) {
        r_fail(r, "cannot send UNSUBSCRIBE");
        return;
    }
    if (r->state != R_UP || !r->sub)
        room_maybe_free(r, m);
}

int rt__redis_presence(rt_redis *r, const char *room, const char *user, int on)
{
    struct rroom *m = room_get(r, room);
    struct rpres **pp, *p;
    size_t n = strlen(user);

    if (!m)
        return RT_ENOMEM;
    for (pp = &m->pres; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->user, user) == 0)
            break;
    if (on) {
        if (!*pp) {
            p = rt__malloc(sizeof(*p) + n + 1);
            if (!p) {
                room_maybe_free(r, m);
                return RT_ENOMEM;
            }
            memcpy(p->user, user, n + 1);
            p->next = m->pres;
            m->pres = p;
        }
        pres_send(r, m, user, 1);
        return 0;
    }
    if (*pp) {
        p = *pp;
        *pp = p->next;
        rt__free(p);
        pres_send(r, m, user, 0);
    }
    room_maybe_free(r, m);
    return 0;
}

void rt__redis_offer(rt_redis *r, const char *room, uint64_t seq,
                     const char *epoch, const char *payload, size_t len)
{
    struct rroom *m = room_find(r, room);

    if (m && m->subs && seq > 0)
        room_offer(r, m, seq, epoch, payload, len);
}

int rt__redis_position(const rt_redis *r, const char *room, char *epoch,
                       size_t epochlen, uint64_t *last)
{
    struct rroom *m = room_find((rt_redis *)r, room);

    if (!m || !m->subs || m->last == UINT64_MAX || !m->epoch[0])
        return RT_ESTATE;
    snprintf(epoch, epochlen, "%s", m->epoch);
    *last = m->last;
    return 0;
}
