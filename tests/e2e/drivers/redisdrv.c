/*
 * redisdrv: the Redis layer of `rtctl serve --redis` (server-stub/redis.c)
 * against a real redis-server, for tests/e2e/t6000-redis-layer.sh.
 *
 *   redisdrv PORT   URL parsing, then two clients as two instances on one
 *                   loop: one seq order, acks, ranges, a killed subscriber
 *                   connection (resubscribe, gap filled from the stream),
 *                   SCRIPT FLUSH, cluster presence and its expiry, and a
 *                   Redis that is not there.
 *
 * Prints "ok N - what" per check; the first failure prints "FAIL: ..."
 * and exits 1.  Deadlines are scaled by RT_E2E_SCALE.
 */
#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "redis.h"
#include "rt/error.h"

#define NPUB 100
#define MAXSEQ 400

static uv_loop_t *loop;
static int nok;
static unsigned scale = 1;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void fail(const char *fmt, ...)
{
    va_list ap;

    fputs("FAIL: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static void ok(const char *what)
{
    printf("ok %d - %s\n", ++nok, what);
    fflush(stdout);
}

/* One client, as one server instance sees it. */
struct inst {
    const char *name;
    rt_redis *r;
    int ups, downs;
    uint64_t got[MAXSEQ + 1]; /* deliveries of each seq */
    uint64_t order[MAXSEQ * 2];
    size_t norder;
    uint64_t lost;
    int joined[3], left[3], expired[3]; /* alice, bob, carol */
};

static const char *users[3] = {"alice", "bob", "carol"};

static void on_up(void *ud)
{
    ((struct inst *)ud)->ups++;
}

static void on_down(void *ud, const char *why)
{
    struct inst *in = ud;

    in->downs++;
    printf("# %s down: %s\n", in->name, why);
}

static void on_message(void *ud, const char *room, uint64_t seq,
                       const char *epoch, const char *payload, size_t len,
                       uint64_t lost)
{
    struct inst *in = ud;
    char want[32];

    (void)epoch;
    if (strcmp(room, "r1") != 0)
        return;
    snprintf(want, sizeof(want), "m%llu", (unsigned long long)seq);
    (void)want;
    if (seq > MAXSEQ)
        fail("%s: seq %llu out of range", in->name, (unsigned long long)seq);
    if (len == 0 || payload[0] != '{')
        fail("%s: payload of %llu is '%.*s'", in->name,
             (unsigned long long)seq, (int)len, payload);
    in->got[seq]++;
    if (in->norder < MAXSEQ * 2)
        in->order[in->norder++] = seq;
    in->lost += lost;
}

static void on_presence(void *ud, const char *room, const char *user, int what)
{
    struct inst *in = ud;

    (void)room;
    for (int i = 0; i < 3; i++) {
        if (strcmp(user, users[i]) != 0)
            continue;
        if (what == RT_REDIS_JOINED)
            in->joined[i]++;
        else if (what == RT_REDIS_LEFT)
            in->left[i]++;
        else
            in->expired[i]++;
    }
}

static const struct rt_redis_cbs cbs = {on_up, on_down, on_message, NULL,
                                        on_presence};

/* --- running the loop until something holds */

static int timed_out;

static void on_deadline(uv_timer_t *t)
{
    (void)t;
    timed_out = 1;
}

typedef int (*cond_fn)(void *arg);

static void run_until(cond_fn c, void *arg, unsigned secs, const char *what)
{
    uv_timer_t t;

    timed_out = 0;
    uv_timer_init(loop, &t);
    uv_timer_start(&t, on_deadline, (uint64_t)secs * 1000 * scale, 0);
    while (!c(arg) && !timed_out)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    if (!c(arg))
        fail("%s: not within %us", what, secs * scale);
}

static int is_up(void *arg)
{
    return rt__redis_is_up(((struct inst *)arg)->r);
}

static int synced(void *arg)
{
    char e[16];
    uint64_t last;

    return rt__redis_position(((struct inst *)arg)->r, "r1", e, sizeof(e),
                              &last) == 0;
}

static int has_why(void *arg)
{
    return strstr(rt__redis_why(((struct inst *)arg)->r), "connect") != NULL;
}

struct want_seqs {
    struct inst *in;
    uint64_t upto;
};

static int has_upto(void *arg)
{
    struct want_seqs *w = arg;

    for (uint64_t s = 1; s <= w->upto; s++)
        if (!w->in->got[s])
            return 0;
    return 1;
}

static void check_order(struct inst *in, uint64_t upto, const char *what)
{
    for (uint64_t s = 1; s <= upto; s++)
        if (in->got[s] != 1)
            fail("%s: %s got seq %llu %llu times", what, in->name,
                 (unsigned long long)s, (unsigned long long)in->got[s]);
    for (size_t i = 1; i < in->norder; i++)
        if (in->order[i] != in->order[i - 1] + 1)
            fail("%s: %s got %llu after %llu", what, in->name,
                 (unsigned long long)in->order[i],
                 (unsigned long long)in->order[i - 1]);
    if (in->norder != upto)
        fail("%s: %s got %zu deliveries, want %llu", what, in->name,
             in->norder, (unsigned long long)upto);
}

/* --- publishing */

struct pubs {
    int done, errs;
    uint64_t acked[MAXSEQ + 1];
    int firsterr;
};

static void on_pub(void *ud, int err, uint64_t seq, const char *epoch)
{
    struct pubs *p = ud;

    (void)epoch;
    p->done++;
    if (err) {
        p->errs++;
        p->firsterr = err;
        return;
    }
    if (seq <= MAXSEQ)
        p->acked[seq]++;
}

static void publish(struct inst *in, struct pubs *p, int i)
{
    char body[64];
    int err = 0;

    snprintf(body, sizeof(body), "{\"from\":\"%s\",\"i\":%d}", in->name, i);
    if (!rt__redis_publish(in->r, "r1", body, strlen(body), on_pub, p, &err))
        fail("%s: publish %d refused: %s", in->name, i, rt_strerror(err));
}

struct count_arg {
    int *v;
    int want;
};

static int count_is(void *arg)
{
    struct count_arg *c = arg;

    return *c->v >= c->want;
}

static void wait_count(int *v, int want, unsigned secs, const char *what)
{
    struct count_arg c = {v, want};

    run_until(count_is, &c, secs, what);
}

/* --- info, range, users */

struct infos {
    int done, err;
    char epoch[16];
    uint64_t top, oldest;
};

static void on_info(void *ud, int err, const char *epoch, uint64_t top,
                    uint64_t oldest)
{
    struct infos *x = ud;

    x->done = 1;
    x->err = err;
    if (!err)
        snprintf(x->epoch, sizeof(x->epoch), "%s", epoch);
    x->top = top;
    x->oldest = oldest;
}

struct ranges {
    int done, err;
    uint64_t first, last;
    size_t n;
};

static void on_range(void *ud, int err, const struct rt_redis_entry *v,
                     size_t n)
{
    struct ranges *x = ud;

    x->done = 1;
    x->err = err;
    x->n = n;
    if (n) {
        x->first = v[0].seq;
        x->last = v[n - 1].seq;
    }
}

struct userlist {
    int done, err;
    char names[256];
};

static void on_users(void *ud, int err, const char *const *u, size_t n)
{
    struct userlist *x = ud;

    x->done = 1;
    x->err = err;
    x->names[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        strncat(x->names, u[i], sizeof(x->names) - strlen(x->names) - 2);
        strcat(x->names, ",");
    }
}

/* --- the admin connection (blocking; only the test uses one) */

static void admin(int port, const char *cmd)
{
    redisContext *c = redisConnect("127.0.0.1", port);
    redisReply *x;

    if (!c || c->err)
        fail("admin connection: %s", c ? c->errstr : "no memory");
    x = redisCommand(c, cmd);
    if (!x || x->type == REDIS_REPLY_ERROR)
        fail("admin '%s': %s", cmd, x ? x->str : c->errstr);
    freeReplyObject(x);
    redisFree(c);
}

/* --- URL parsing */

static void url_cases(void)
{
    static const struct {
        const char *url;
        int rc;
        const char *host, *path, *user, *pw;
        int port, db;
    } cases[] = {
        {"redis://127.0.0.1:7000", 0, "127.0.0.1", NULL, NULL, NULL, 7000, 0},
        {"redis://localhost", 0, "localhost", NULL, NULL, NULL, 6379, 0},
        {"redis://:s%40cret@h:1/3", 0, "h", NULL, NULL, "s@cret", 1, 3},
        {"redis://me:pw@h", 0, "h", NULL, "me", "pw", 6379, 0},
        {"redis://[::1]:7001/2", 0, "::1", NULL, NULL, NULL, 7001, 2},
        {"unix:///run/redis.sock", 0, NULL, "/run/redis.sock", NULL, NULL,
         6379, 0},
        {"unix:///run/redis.sock?db=4", 0, NULL, "/run/redis.sock", NULL, NULL,
         6379, 4},
        {"http://h:1", RT_EURL, NULL, NULL, NULL, NULL, 0, 0},
        {"rediss://h:1", RT_EURL, NULL, NULL, NULL, NULL, 0, 0},
        {"redis://", RT_EURL, NULL, NULL, NULL, NULL, 0, 0},
        {"redis://h:0", RT_EURL, NULL, NULL, NULL, NULL, 0, 0},
        {"redis://h:65536", RT_EURL, NULL, NULL, NULL, NULL, 0, 0},
        {"redis://h:12x", RT_EURL, NULL, NULL, NULL, NULL, 0, 0},
        {"redis://h/db", RT_EURL, NULL, NULL, NULL, NULL, 0, 0},
        {"redis://pw@h", RT_EURL, NULL, NULL, NULL, NULL, 0, 0},
        {"redis://:%zz@h", RT_EURL, NULL, NULL, NULL, NULL, 0, 0},
        {"redis://[::1:7000", RT_EURL, NULL, NULL, NULL, NULL, 0, 0},
        {"unix://relative", RT_EURL, NULL, NULL, NULL, NULL, 0, 0},
        {"unix:///s?x=1", RT_EURL, NULL, NULL, NULL, NULL, 0, 0},
        {"", RT_EURL, NULL, NULL, NULL, NULL, 0, 0},
    };
    char err[200];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct rt_redis_url u;
        int rc = rt__redis_url_parse(cases[i].url, &u, err, sizeof(err));
#define SAME(a, b) ((!(a) && !(b)) || ((a) && (b) && strcmp(a, b) == 0))
        if (rc != cases[i].rc)
            fail("url '%s': %d, want %d", cases[i].url, rc, cases[i].rc);
        if (rc == 0 &&
            (!SAME(u.host, cases[i].host) || !SAME(u.path, cases[i].path) ||
             !SAME(u.user, cases[i].user) || !SAME(u.password, cases[i].pw) ||
             u.port != cases[i].port || u.db != cases[i].db))
            fail("url '%s' parsed wrong", cases[i].url);
        if (rc != 0 && !strstr(err, "Redis URL"))
            fail("url '%s': message '%s'", cases[i].url, err);
        rt__redis_url_free(&u);
    }
    ok("Redis URLs parse, and bad ones are refused with a message");
}

static int closed_port(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        fail("cannot find a closed port");
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static struct inst *inst_new(const char *name, int port, uint32_t pres_ms)
{
    struct inst *in = calloc(1, sizeof(*in));
    struct rt_redis_url u = {0};
    struct rt_redis_opts o = {0};

    if (!in)
        fail("no memory");
    in->name = name;
    u.host = "127.0.0.1";
    u.port = port;
    o.prefix = "t6000:";
    o.history = 64;
    o.presence_ms = pres_ms;
    o.timeout_ms = 3000 * scale;
    o.backoff_base = 200;
    o.backoff_cap = 1000;
    in->r = rt__redis_new(loop, &u, &o, &cbs, in);
    if (!in->r)
        fail("rt__redis_new");
    return in;
}

static void inst_free(struct inst *in)
{
    rt__redis_free(in->r);
    uv_run(loop, UV_RUN_NOWAIT);
    free(in);
}

int main(int argc, char **argv)
{
    struct inst *a, *b, *c, *d;
    struct pubs p = {0};
    struct infos inf = {0};
    struct ranges rg = {0};
    struct userlist ul = {0};
    struct want_seqs w;
    const char *sc = getenv("RT_E2E_SCALE");
    int port = 0, err = 0;
    uint64_t top;

    if (argc != 2 || (port = atoi(argv[1])) <= 0)
        fail("usage: redisdrv PORT");
    if (sc && atoi(sc) > 0)
        scale = (unsigned)atoi(sc);
    loop = uv_default_loop();

    url_cases();

    a = inst_new("A", port, 900);
    b = inst_new("B", port, 900);
    run_until(is_up, a, 10, "A connects");
    run_until(is_up, b, 10, "B connects");
    rt__redis_subscribe(a->r, "r1", NULL, 0);
    rt__redis_subscribe(b->r, "r1", NULL, 0);
    run_until(synced, a, 10, "A subscribes");
    run_until(synced, b, 10, "B subscribes");
    ok("two instances connect and subscribe");

    for (int i = 0; i < NPUB; i++)
        publish(i % 2 ? a : b, &p, i);
    wait_count(&p.done, NPUB, 20, "acks of the publishes");
    if (p.errs)
        fail("%d publishes failed: %s", p.errs, rt_strerror(p.firsterr));
    for (int s = 1; s <= NPUB; s++)
        if (p.acked[s] != 1)
            fail("seq %d acked %llu times", s, (unsigned long long)p.acked[s]);
    w.upto = NPUB;
    w.in = a;
    run_until(has_upto, &w, 20, "A receives 1..100");
    w.in = b;
    run_until(has_upto, &w, 20, "B receives 1..100");
    check_order(a, NPUB, "publishes");
    check_order(b, NPUB, "publishes");
    ok("acks carry seqs 1..100 once each; both instances deliver 1..100 "
       "in order");

    rt__redis_info(a->r, "r1", on_info, &inf, &err);
    wait_count(&inf.done, 1, 10, "info");
    if (inf.err || inf.top != NPUB || inf.oldest != NPUB - 64 + 1 ||
        strlen(inf.epoch) != RT_REDIS_EPOCH_LEN)
        fail("info: err %d epoch %s top %llu oldest %llu", inf.err, inf.epoch,
             (unsigned long long)inf.top, (unsigned long long)inf.oldest);
    rt__redis_range(b->r, "r1", 90, 5, on_range, &rg, &err);
    wait_count(&rg.done, 1, 10, "range");
    if (rg.err || rg.n != 5 || rg.first != 90 || rg.last != 94)
        fail("range 90/5: n %zu %llu..%llu", rg.n,
             (unsigned long long)rg.first, (unsigned long long)rg.last);
    memset(&rg, 0, sizeof(rg));
    rt__redis_range(b->r, "r1", 1, 1000, on_range, &rg, &err);
    wait_count(&rg.done, 1, 10, "range");
    if (rg.err || rg.n != 64 || rg.first != 37 || rg.last != NPUB)
        fail("range from 1: n %zu %llu..%llu", rg.n,
             (unsigned long long)rg.first, (unsigned long long)rg.last);
    ok("the stream holds the last --history messages; info and range say "
       "so");

    /*
     * Kill the subscriber connections, publish from a third client while
     * the instances reconnect: the gap is filled from the stream.
     */
    c = inst_new("C", port, 900);
    run_until(is_up, c, 10, "C connects");
    admin(port, "CLIENT KILL TYPE pubsub");
    memset(&p, 0, sizeof(p));
    for (int i = 0; i < 20; i++)
        publish(c, &p, i);
    wait_count(&p.done, 20, 20, "acks of C's publishes");
    if (p.errs)
        fail("C: %d publishes failed", p.errs);
    w.upto = NPUB + 20;
    w.in = a;
    run_until(has_upto, &w, 20, "A receives 101..120 after its reconnect");
    w.in = b;
    run_until(has_upto, &w, 20, "B receives 101..120 after its reconnect");
    check_order(a, NPUB + 20, "after the reconnect");
    check_order(b, NPUB + 20, "after the reconnect");
    {
        struct rt_redis_stats sa, sb;
        rt__redis_stats(a->r, &sa);
        rt__redis_stats(b->r, &sb);
        /* Only the subscribers went: publishing never stopped. */
        if (sa.disconnects < 1 || sb.disconnects < 1 || a->downs || b->downs)
            fail("A lost %llu connections and went down %d times, B %llu "
                 "and %d",
                 (unsigned long long)sa.disconnects, a->downs,
                 (unsigned long long)sb.disconnects, b->downs);
    }
    if (a->lost || b->lost)
        fail("losses reported: A %llu, B %llu", (unsigned long long)a->lost,
             (unsigned long long)b->lost);
    ok("a killed subscriber connection: publishing goes on; resubscribe, "
       "gap filled in order");

    admin(port, "SCRIPT FLUSH");
    memset(&p, 0, sizeof(p));
    publish(a, &p, 0);
    wait_count(&p.done, 1, 10, "publish after SCRIPT FLUSH");
    if (p.errs || !p.acked[NPUB + 21])
        fail("publish after SCRIPT FLUSH failed");
    ok("NOSCRIPT: the script is sent again and the publish succeeds");

    /* Presence: alice on A and B, bob on C only; C then dies. */
    rt__redis_presence(a->r, "r1", "alice", 1);
    wait_count(&b->joined[0], 1, 10, "B hears alice join");
    rt__redis_presence(b->r, "r1", "alice", 1);
    rt__redis_users(b->r, "r1", on_users, &ul, &err);
    wait_count(&ul.done, 1, 10, "users");
    if (ul.err || strcmp(ul.names, "alice,") != 0)
        fail("users on B: '%s'", ul.names);
    rt__redis_presence(a->r, "r1", "alice", 0);
    memset(&ul, 0, sizeof(ul));
    rt__redis_users(b->r, "r1", on_users, &ul, &err);
    wait_count(&ul.done, 1, 10, "users");
    if (strcmp(ul.names, "alice,") != 0)
        fail("alice still on B, yet listed as '%s'", ul.names);
    rt__redis_presence(b->r, "r1", "alice", 0);
    wait_count(&a->left[0], 1, 10, "A hears alice leave");
    ok("presence: a user on A is listed on B; join and leave announced "
       "once for the cluster");

    rt__redis_subscribe(c->r, "r1", NULL, 0);
    rt__redis_presence(c->r, "r1", "bob", 1);
    wait_count(&a->joined[1], 1, 10, "A hears bob join");
    inst_free(c); /* dies: no leave, its member expires */
    wait_count(&a->expired[1], 1, 10, "bob expires");
    wait_count(&b->expired[1], 1, 10, "bob expires on B");
    if (a->joined[0] != 1 || a->left[0] != 1 || b->joined[0] != 1 ||
        b->left[0] != 1 || a->joined[1] != 1 || a->expired[1] != 1 ||
        a->left[1] != 0 || b->expired[1] != 1)
        fail("presence announcements: alice +%d -%d / +%d -%d, bob +%d "
             "~%d -%d",
             a->joined[0], a->left[0], b->joined[0], b->left[0], a->joined[1],
             a->expired[1], a->left[1]);
    ok("a dead instance's user expires after the timeout, announced once");

    /* Unsubscribed: nothing more is delivered to B. */
    top = b->norder;
    rt__redis_unsubscribe(b->r, "r1");
    memset(&p, 0, sizeof(p));
    publish(a, &p, 1);
    w.in = a;
    w.upto = NPUB + 22;
    run_until(has_upto, &w, 10, "A receives its own publish");
    if (b->norder != top)
        fail("B got a message after it unsubscribed");
    ok("an unsubscribed room is no longer delivered");

    /* No Redis: not up, publishes refused at once, the reason said. */
    d = calloc(1, sizeof(*d));
    {
        struct rt_redis_url u = {0};
        struct rt_redis_opts o = {0};
        d->name = "D";
        u.host = "127.0.0.1";
        u.port = closed_port();
        o.backoff_base = 100;
        d->r = rt__redis_new(loop, &u, &o, &cbs, d);
    }
    run_until(has_why, d, 10, "D says why it is down");
    if (rt__redis_is_up(d->r) || !strstr(rt__redis_why(d->r), "connect"))
        fail("D: up %d, why '%s'", rt__redis_is_up(d->r), rt__redis_why(d->r));
    if (rt__redis_publish(d->r, "r1", "{}", 2, on_pub, &p, &err) ||
        err != RT_ECLOSED)
        fail("D: publish while down: %d", err);
    printf("# D: %s\n", rt__redis_why(d->r));
    ok("Redis not there: not up, the reason given, publishes refused");

    inst_free(d);
    inst_free(a);
    inst_free(b);
    uv_run(loop, UV_RUN_DEFAULT);
    if (uv_loop_close(loop) != 0)
        fail("handles left on the loop");
    ok("freed, no handle left");
    return 0;
}
