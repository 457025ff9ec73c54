/*
 * test_srv_room.c: the server core (server-stub/core.h) without a socket:
 * rooms and their history with resume, presence with its grace period and
 * timeouts, the send queues and the slow-consumer rule, the limits, and
 * publishing, on a fake clock and a fake shell that records what the core
 * asks of it; the memory engine, and a fake asynchronous engine that
 * completes operations when the test says (as a networked one would); and
 * the whole run again under allocation failure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helpers.h"

#include "core.h"

/* ------------------------------------------------------- fake shell */

static th_str shell_log; /* what the core asked, one line each */

static void io_kill(struct conn *c, uint16_t code, const char *reason)
{
    th_str_printf(&shell_log, "kill %s %u %s\n", c->user, code, reason);
}

static void io_linger(struct conn *c, unsigned secs)
{
    th_str_printf(&shell_log, "linger %s %u\n", c->user, secs);
}

static void io_respond(struct conn *c)
{
    th_str_printf(&shell_log, "respond %s %d %.*s\n", c->user, c->resp_status,
                  (int)c->resp.len, c->resp.data ? c->resp.data : "");
    c->resp_ready = 0;
    rt__buf_cleanup(&c->resp);
}

static void io_attached(struct conn *c, struct room *r, int what, int ok)
{
    th_str_printf(&shell_log, "attached %s %s %d %d\n", c->user, r->name, what,
                  ok);
}

static const struct rt__io fake_io = {io_kill, io_linger, io_respond,
                                      io_attached};

/* ------------------------------------------------- fake async engine */

/*
 * Operations wait until fake_run(); the store keeps every message of one
 * room ("r" or any), so a resume can reach past the core's cache.
 */
enum fop_kind { FOP_ATTACH, FOP_APPEND, FOP_READ };

struct fop {
    enum fop_kind kind;
    char room[RT_NAME_MAX + 1];
    char *body;
    size_t len;
    uint64_t after;
    unsigned max;
    rt__eng_attach_cb attach_cb;
    rt__eng_append_cb append_cb;
    rt__eng_read_cb read_cb;
    void *ud;
};

#define FAKE_MAX_OPS 64
#define FAKE_MAX_MSGS 256

struct fake_engine {
    struct rt__engine base;
    struct fop ops[FAKE_MAX_OPS];
    size_t nops;
    char *msgs[FAKE_MAX_MSGS]; /* seq i + 1 */
    size_t lens[FAKE_MAX_MSGS];
    uint64_t top;
    enum rt__eng_status next; /* what the next completions say */
    th_str presence;          /* what the core told the cluster */
};

static struct fop *fake_queue(struct rt__engine *e, enum fop_kind kind,
                              const char *room, const char *body, size_t len,
                              uint64_t after, unsigned max, void *ud)
{
    struct fake_engine *fe = (struct fake_engine *)e;
    struct fop *op;

    if (fe->nops == FAKE_MAX_OPS)
        return NULL;
    op = &fe->ops[fe->nops++];
    memset(op, 0, sizeof(*op));
    op->kind = kind;
    snprintf(op->room, sizeof(op->room), "%s", room);
    if (body != NULL) {
        op->body = malloc(len);
        assert_non_null(op->body);
        memcpy(op->body, body, len);
        op->len = len;
    }
    op->after = after;
    op->max = max;
    op->ud = ud;
    return op;
}

static int fake_attach(struct rt__engine *e, const char *room,
                       rt__eng_attach_cb cb, void *ud)
{
    struct fop *op = fake_queue(e, FOP_ATTACH, room, NULL, 0, 0, 0, ud);

    if (op == NULL)
        return RT_ENOMEM;
    op->attach_cb = cb;
    return 0;
}

static void fake_detach(struct rt__engine *e, const char *room)
{
    (void)e;
    (void)room;
}

static int fake_append(struct rt__engine *e, const char *room,
                       const char *body, size_t len, rt__eng_append_cb cb,
                       void *ud)
{
    struct fop *op = fake_queue(e, FOP_APPEND, room, body, len, 0, 0, ud);

    if (op == NULL)
        return RT_ENOMEM;
    op->append_cb = cb;
    return 0;
}

static int fake_read(struct rt__engine *e, const char *room, uint64_t after,
                     unsigned max, rt__eng_read_cb cb, void *ud)
{
    struct fop *op = fake_queue(e, FOP_READ, room, NULL, 0, after, max, ud);

    if (op == NULL)
        return RT_ENOMEM;
    op->read_cb = cb;
    return 0;
}

static void fake_presence(struct rt__engine *e, const char *room,
                          const char *user, enum rt__eng_presence what)
{
    struct fake_engine *fe = (struct fake_engine *)e;

    th_str_printf(&fe->presence, "%s %s %s\n",
                  what == RT__PRES_JOIN    ? "join"
                  : what == RT__PRES_LEAVE ? "leave"
                                           : "beat",
                  room, user);
}

static void fake_complete(struct fake_engine *fe, struct fop *op,
                          enum rt__eng_status st)
{
    switch (op->kind) {
    case FOP_ATTACH:
        op->attach_cb(op->ud, st, "fakeE", fe->top);
        break;
    case FOP_APPEND: {
        uint64_t seq = 0;

        if (st == RT__ENG_OK) {
            assert_true(fe->top < FAKE_MAX_MSGS);
            seq = ++fe->top;
            fe->msgs[seq - 1] = op->body;
            fe->lens[seq - 1] = op->len;
            op->body = NULL;
            if (rt__srv_deliver(fe->base.srv, op->room, seq, fe->msgs[seq - 1],
                                fe->lens[seq - 1]) != 0) {
                /* out of memory: stored, but this instance lost it */
                rt__srv_room_lost(fe->base.srv, op->room, seq);
                st = RT__ENG_NOMEM;
            }
        }
        op->append_cb(op->ud, st, seq);
        break;
    }
    case FOP_READ: {
        struct rt__eng_msg v[FAKE_MAX_MSGS];
        size_t n = 0;
        uint64_t q;

        for (q = op->after + 1; q <= fe->top && n < op->max; q++, n++) {
            v[n].seq = q;
            v[n].body = fe->msgs[q - 1];
            v[n].len = fe->lens[q - 1];
        }
        op->read_cb(op->ud, st, "fakeE", v, n, 1, fe->top);
        break;
    }
    }
    free(op->body);
}

/* Complete every waiting operation (and those they start) with fe->next. */
static void fake_run(struct fake_engine *fe)
{
    while (fe->nops > 0) {
        struct fop op = fe->ops[0];

        memmove(fe->ops, fe->ops + 1, (fe->nops - 1) * sizeof(*fe->ops));
        fe->nops--;
        fake_complete(fe, &op, fe->next);
    }
}

static void fake_free(struct rt__engine *e)
{
    struct fake_engine *fe = (struct fake_engine *)e;
    size_t i;

    while (fe->nops > 0) {
        struct fop op = fe->ops[--fe->nops];

        fake_complete(fe, &op, RT__ENG_CANCELED);
    }
    for (i = 0; i < fe->top; i++)
        free(fe->msgs[i]);
    th_str_free(&fe->presence);
    free(fe);
}

static const struct rt__engine_ops fake_ops = {
    .name = "fake",
    .attach = fake_attach,
    .detach = fake_detach,
    .append = fake_append,
    .read = fake_read,
    .presence = fake_presence,
    .free = fake_free,
};

static struct fake_engine *fake_new(void)
{
    struct fake_engine *fe = calloc(1, sizeof(*fe));

    assert_non_null(fe);
    fe->base.ops = &fake_ops;
    th_str_init(&fe->presence);
    th_str_putn(&fe->presence, "", 0);
    return fe;
}

/* ---------------------------------------------------------- fixture */

struct fx {
    rt_server s;
    struct fake_engine *fe; /* NULL: the memory engine */
};

static int fx_init(struct fx *f, const rt_server_opts *o, int fake)
{
    struct rt__engine *e;

    memset(f, 0, sizeof(*f));
    if (fake) {
        f->fe = fake_new();
        e = &f->fe->base;
    } else if (rt__engine_mem_new(&e) != 0) {
        return RT_ENOMEM;
    }
    rt__core_init(&f->s, o, e, &fake_io);
    f->s.now_ms = 1000;
    f->s.wall = 1700000000.0;
    th_str_free(&shell_log);
    th_str_init(&shell_log);
    th_str_putn(&shell_log, "", 0);
    return 0;
}

static void opts(rt_server_opts *o)
{
    rt_server_opts_init(o);
    o->log_level = RT_SERVER_LOG_ERROR;
    o->log_file = stderr;
}

/* |ms| later, with |talker| having said something just now. */
static void later(struct fx *f, struct conn *talker, uint64_t ms)
{
    f->s.now_ms += ms;
    rt__room_heard(&f->s, talker);
    rt__rooms_tick(&f->s);
}

static void tick(struct fx *f, uint64_t ms)
{
    f->s.now_ms += ms;
    rt__rooms_tick(&f->s);
    rt__poll_tick(&f->s);
}

/* A WebSocket of |user| asking for |room|, as ws.c's open does. */
static struct conn *ws_open(struct fx *f, const char *user, const char *room,
                            int since, uint64_t at, const char *epoch)
{
    struct conn *c = calloc(1, sizeof(*c));
    struct room *r = NULL;
    int rc;

    assert_non_null(c);
    c->srv = &f->s;
    c->wsi = c; /* anything but NULL: the shell "has a socket" */
    c->kind = CONN_WS;
    snprintf(c->user, sizeof(c->user), "%s", user);
    rt__conn_link(c);
    c->want_since = (int8_t)since;
    c->since = at;
    snprintf(c->epoch, sizeof(c->epoch), "%s", epoch ? epoch : "");
    rc = rt__conn_admit(c, room, &r);
    if (rc != 0)
        rt__ws_refuse(c, rc);
    else if (r->attached)
        rt__ws_join(c, r);
    else if (r->attaching)
        rt__room_wait(r, c, WAIT_WS);
    else
        rt__ws_unavailable(c);
    return c;
}

static void ws_close(struct conn *c, int clean)
{
    c->clean_close = clean != 0;
    rt__conn_gone(c);
    rt__outq_clear(&c->q);
    rt__buf_cleanup(&c->rx);
    rt__conn_unlink(c);
    free(c);
}

static void ws_say(struct conn *c, const char *json)
{
    rt__buf_clear(&c->rx);
    if (rt__buf_append(&c->rx, json, strlen(json)) != 0)
        return; /* under allocation failure: the frame never came */
    rt__room_heard(c->srv, c);
    rt__ws_message(c);
    rt__buf_clear(&c->rx);
}

/* The WebSocket frames in |p| (unmasked, from the server), one a line. */
static void put_frames(th_str *t, const unsigned char *p, size_t n)
{
    while (n >= 2) {
        size_t hdr = 2, len = p[1] & 0x7f, i;

        if (len == 126) {
            hdr = 4;
            len = (size_t)p[2] << 8 | p[3];
        } else if (len == 127) {
            hdr = 10;
            for (len = 0, i = 0; i < 8; i++)
                len = len << 8 | p[2 + i];
        }
        assert_true(hdr + len <= n);
        if ((p[0] & 0x0f) == 0x8)
            th_str_printf(t, "close %u\n", (unsigned)p[hdr] << 8 | p[hdr + 1]);
        else
            th_str_printf(t, "%.*s\n", (int)len, (const char *)p + hdr);
        p += hdr + len;
        n -= hdr + len;
    }
    assert_int_equal(n, 0);
}

/*
 * What |c| was sent since the last call, one JSON per line (close frames
 * as "close CODE"), as if the socket took everything: replays go on.
 */
static char *taken(struct conn *c)
{
    th_str t;

    th_str_init(&t);
    th_str_putn(&t, "", 0);
    rt__presence_flush(c->srv); /* as the next tick would */
    for (;;) {
        while (c->q.n > 0) {
            struct smsg *m = c->q.v[c->q.head];

            put_frames(&t, m->ws, m->ws_len);
            c->q.head = (c->q.head + 1) % c->q.cap;
            c->q.n--;
            c->q.bytes -= rt__conn_wire_len(c, m);
            rt__smsg_unref(m);
        }
        if (!c->replaying || c->fetching)
            break;
        if (rt__conn_replay_fill(c) != 0) {
            rt__conn_drop(c, 1011, "internal error"); /* as conn.c does */
            break;
        }
    }
    rt__conn_dirty_unlink(c);
    return t.s;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;

    while ((hay = strstr(hay, needle)) != NULL) {
        n++;
        hay += strlen(needle);
    }
    return n;
}

static void expect_has(struct conn *c, const char *needle, int times)
{
    char *t = taken(c);

    if (count(t, needle) != times)
        fail_msg("%s: wanted %d of %s in:\n%s", c->user, times, needle, t);
    free(t);
}

static void fx_done(struct fx *f)
{
    rt__core_cleanup(&f->s);
    th_str_free(&shell_log);
}

/* ------------------------------------------------------------ tests */

static void test_srv_room_publish_broadcast_then_ack(void **state)
{
    struct fx f;
    rt_server_opts o;
    struct conn *a, *b;
    char *t;

    (void)state;
    opts(&o);
    fx_init(&f, &o, 0);
    a = ws_open(&f, "alice", "r", 0, 0, NULL);
    expect_has(a, "\"event\":\"welcome\"", 1);
    b = ws_open(&f, "bob", "r", 0, 0, NULL);
    expect_has(a, "\"event\":\"join\",\"user\":\"bob\"", 1);
    t = taken(b);
    /* the welcome comes first and lists both */
    assert_non_null(strstr(t, "\"online\":["));
    assert_ptr_equal(strstr(t, "{\"type\":\"system\""), t);
    free(t);

    ws_say(a, "{\"type\":\"text\",\"id\":\"m1\",\"data\":{\"content\":\"hi\","
              "\"author\":\"mallory\"}}");
    t = taken(a);
    /* the sender sees its message, then the ack with the same seq */
    assert_non_null(strstr(t, "\"id\":\"m1\",\"room\":\"r\",\"seq\":1,"));
    assert_true(strstr(t, "\"type\":\"ack\"") > strstr(t, "\"seq\":1,"));
    assert_non_null(strstr(t, "\"status\":\"delivered\",\"seq\":1"));
    assert_null(strstr(t, "mallory"));
    free(t);
    expect_has(b, "\"author\":\"alice\"", 1);
    assert_int_equal(rt__room_get(&f.s, "r", 0)->seq, 1);

    ws_close(a, 1);
    expect_has(
        b, "\"event\":\"leave\",\"user\":\"alice\",\"reason\":\"closed\"", 1);
    ws_close(b, 1);
    fx_done(&f);
}

static void test_srv_room_presence_grace_and_timeout(void **state)
{
    struct fx f;
    rt_server_opts o;
    struct conn *a, *b;

    (void)state;
    opts(&o);
    o.presence_timeout_ms = 30000;
    fx_init(&f, &o, 0);
    a = ws_open(&f, "alice", "r", 0, 0, NULL);
    b = ws_open(&f, "bob", "r", 0, 0, NULL);
    free(taken(a));
    free(taken(b));

    /* a dropped connection is no leave while it may come back */
    ws_close(b, 0);
    later(&f, a, 29000);
    expect_has(a, "\"event\":\"leave\"", 0);
    b = ws_open(&f, "bob", "r", 0, 0, NULL);
    expect_has(a, "\"event\":\"join\"", 0);
    free(taken(b));
    ws_close(b, 0);
    later(&f, a, 29999);
    expect_has(a, "\"event\":\"leave\"", 0);
    later(&f, a, 1);
    expect_has(a, "\"event\":\"leave\",\"user\":\"bob\",\"reason\":\"closed\"",
               1);

    /* silence past the timeout is a leave; a frame brings the user back */
    b = ws_open(&f, "bob", "r", 0, 0, NULL);
    free(taken(b));
    expect_has(a, "\"event\":\"join\",\"user\":\"bob\"", 1);
    later(&f, a, 30000);
    expect_has(a, "\"user\":\"bob\",\"reason\":\"timeout\"", 1);
    ws_say(b, "{\"type\":\"presence\",\"data\":{}}");
    expect_has(a, "\"event\":\"join\",\"user\":\"bob\"", 1);
    /* the snapshot lists both */
    expect_has(b, "\"event\":\"snapshot\",\"online\":[", 1);

    ws_close(a, 1);
    ws_close(b, 1);
    fx_done(&f);
}

static void test_srv_room_resume_all_or_nothing(void **state)
{
    struct fx f;
    rt_server_opts o;
    struct conn *a, *b;
    struct room *r;
    char json[128], *t;
    int i;

    (void)state;
    opts(&o);
    o.history = 5;
    fx_init(&f, &o, 0);
    a = ws_open(&f, "alice", "r", 0, 0, NULL);
    for (i = 1; i <= 8; i++) {
        snprintf(json, sizeof(json),
                 "{\"type\":\"text\",\"data\":{\"content\":\"m%d\"}}", i);
        ws_say(a, json);
    }
    free(taken(a));
    r = rt__room_get(&f.s, "r", 0);
    assert_int_equal(r->seq, 8);
    assert_int_equal(rt__room_oldest(r), 4);

    /* held: recovered, exactly 6..8 */
    b = ws_open(&f, "bob", "r", 1, 5, r->epoch);
    t = taken(b);
    assert_int_equal(count(t, "\"type\":\"text\""), 3);
    assert_non_null(strstr(t, "\"seq\":6,"));
    assert_non_null(
        strstr(t, "\"event\":\"resumed\",\"from\":6,\"to\":8,\"recovered\":"
                  "true"));
    free(t);
    ws_close(b, 1);

    /* gone: what is held, and recovered false */
    b = ws_open(&f, "bob", "r", 1, 1, r->epoch);
    t = taken(b);
    assert_int_equal(count(t, "\"type\":\"text\""), 5);
    assert_non_null(strstr(t, "\"recovered\":false"));
    free(t);
    ws_close(b, 1);

    /* another epoch is never trusted */
    b = ws_open(&f, "bob", "r", 1, 7, "other");
    expect_has(b, "\"recovered\":false", 1);
    ws_close(b, 1);

    /* the replay is queued at once here: live messages follow it */
    b = ws_open(&f, "bob", "r", 1, 6, r->epoch);
    ws_say(a, "{\"type\":\"text\",\"data\":{\"content\":\"live\"}}");
    t = taken(b);
    assert_int_equal(count(t, "\"type\":\"text\""), 3);
    assert_true(strstr(t, "\"seq\":9,") > strstr(t, "\"to\":8,"));
    assert_true(strstr(t, "\"to\":8,") > strstr(t, "\"seq\":8,"));
    free(t);
    ws_close(b, 1);
    ws_close(a, 1);
    fx_done(&f);
}

static void test_srv_room_slow_consumer(void **state)
{
    struct fx f;
    rt_server_opts o;
    struct conn *a, *b;
    char json[600];
    int i;

    (void)state;
    opts(&o);
    o.max_queue_bytes = 4096;
    fx_init(&f, &o, 0);
    a = ws_open(&f, "alice", "r", 0, 0, NULL);
    b = ws_open(&f, "bob", "r", 0, 0, NULL);
    free(taken(a));
    memset(json, 0, sizeof(json));
    snprintf(json, sizeof(json),
             "{\"type\":\"text\",\"data\":{\"content\":\"%0400d\"}}", 0);
    /* bob reads nothing; alice reads everything */
    for (i = 0; i < 20; i++) {
        ws_say(a, json);
        free(taken(a));
    }
    assert_int_equal(f.s.m.slow_consumer, 1);
    assert_true(b->closing);
    assert_non_null(strstr(shell_log.s, "linger bob 5"));
    /* typing never closes anyone, and goes only to those not behind */
    ws_say(a, "{\"type\":\"typing\",\"data\":{\"state\":true}}");
    assert_int_equal(f.s.m.slow_consumer, 1);
    ws_close(b, 0);
    ws_close(a, 1);
    fx_done(&f);
}

static void test_srv_room_limits(void **state)
{
    struct fx f;
    rt_server_opts o;
    struct conn *c[4];
    int i;

    (void)state;
    opts(&o);
    o.max_user_connections = 2;
    o.max_room_connections = 2;
    o.max_rooms = 2;
    o.rate = 1;
    fx_init(&f, &o, 0);
    c[0] = ws_open(&f, "alice", "r", 0, 0, NULL);
    c[1] = ws_open(&f, "alice", "s", 0, 0, NULL);
    c[2] = ws_open(&f, "alice", "r", 0, 0, NULL);
    expect_has(c[2], "\"code\":\"too_many_connections\"", 1);
    ws_close(c[2], 0);
    c[2] = ws_open(&f, "bob", "t", 0, 0, NULL);
    expect_has(c[2], "\"code\":\"too_many_rooms\"", 1);
    ws_close(c[2], 0);
    c[2] = ws_open(&f, "bob", "r", 0, 0, NULL);
    c[3] = ws_open(&f, "carol", "r", 0, 0, NULL);
    expect_has(c[3], "\"code\":\"room_full\"", 1);
    assert_true(c[3]->closing && c[3]->close_code == 1013);

    /* rate 1/s, burst 2: the third in the same instant is refused */
    for (i = 0; i < 3; i++)
        ws_say(c[2], "{\"type\":\"text\",\"id\":\"x\",\"data\":"
                     "{\"content\":\"x\"}}");
    expect_has(c[2], "\"code\":\"rate_limited\"", 1);
    f.s.now_ms += 1000;
    ws_say(c[2], "{\"type\":\"text\",\"data\":{\"content\":\"x\"}}");
    expect_has(c[2], "\"code\":\"rate_limited\"", 0);
    assert_int_equal(rt__room_get(&f.s, "r", 0)->seq, 3);
    for (i = 0; i < 4; i++)
        ws_close(c[i], 1);
    fx_done(&f);
}

static void test_srv_room_async_engine(void **state)
{
    struct fx f;
    rt_server_opts o;
    struct conn *a, *b;
    struct room *r;
    char *t;
    int i;

    (void)state;
    opts(&o);
    o.history = 20;
    o.room_ttl_ms = 1000;
    fx_init(&f, &o, 1);
    /* no welcome until the room is attached */
    a = ws_open(&f, "alice", "r", 0, 0, NULL);
    b = ws_open(&f, "bob", "r", 0, 0, NULL);
    assert_int_equal(a->wait, WAIT_WS);
    expect_has(a, "welcome", 0);
    fake_run(f.fe);
    expect_has(a, "\"epoch\":\"fakeE\",\"seq\":0", 1);
    expect_has(b, "\"event\":\"welcome\"", 1);
    assert_non_null(strstr(f.fe->presence.s, "join r alice"));

    /* the ack waits for the store; the broadcast comes with it */
    ws_say(a, "{\"type\":\"text\",\"id\":\"p\",\"data\":{\"content\":\"1\"}}");
    expect_has(a, "\"type\":\"ack\"", 0);
    expect_has(b, "\"type\":\"text\"", 0);
    fake_run(f.fe);
    expect_has(a, "\"status\":\"delivered\",\"seq\":1", 1);
    expect_has(b, "\"seq\":1,", 1);

    /* a store that cannot be reached: an error, nothing stored */
    ws_say(a, "{\"type\":\"text\",\"id\":\"q\",\"data\":{\"content\":\"2\"}}");
    f.fe->next = RT__ENG_UNAVAILABLE;
    fake_run(f.fe);
    f.fe->next = RT__ENG_OK;
    expect_has(a, "\"id\":\"q\",\"data\":{\"code\":\"unavailable\"", 1);
    expect_has(b, "\"type\":\"text\"", 0);

    /* other instances' messages: in order, duplicates dropped, gaps refused */
    r = rt__room_get(&f.s, "r", 0);
    for (i = 0; i < 9; i++) {
        ws_say(a, "{\"type\":\"text\",\"data\":{\"content\":\"n\"}}");
        fake_run(f.fe);
    }
    free(taken(a));
    expect_has(b, "\"type\":\"text\"", 9);
    assert_int_equal(rt__srv_deliver(&f.s, "r", 5, "{}", 2), 0);
    assert_int_equal(rt__srv_deliver(&f.s, "r", 12, "{}", 2), RT_EGAP);
    assert_int_equal(r->seq, 10);

    /*
     * The room goes (idle past --room-ttl) and comes back with an empty
     * cache: a resume reads what it lacks from the engine.
     */
    ws_close(b, 1);
    ws_close(a, 1);
    tick(&f, 2000);
    assert_int_equal(f.s.nrooms, 0);
    a = ws_open(&f, "alice", "r", 0, 0, NULL);
    b = ws_open(&f, "bob", "r", 1, 2, "fakeE");
    fake_run(f.fe); /* the attach, then the read */
    t = taken(b);
    assert_int_equal(count(t, "\"type\":\"text\""), 8);
    assert_non_null(strstr(t, "\"seq\":3,"));
    assert_non_null(strstr(t, "\"from\":3,\"to\":10,\"recovered\":true"));
    free(t);
    free(taken(a));
    r = rt__room_get(&f.s, "r", 0);

    /* users of other instances: listed, and each change said once */
    rt__srv_presence_remote(&f.s, "r", "carol", 1, NULL);
    expect_has(a, "\"event\":\"join\",\"user\":\"carol\"", 1);
    rt__srv_presence_remote(&f.s, "r", "alice", 1, NULL);
    expect_has(b, "\"user\":\"alice\"", 0);
    ws_close(a, 1); /* alice is still online elsewhere */
    expect_has(b, "\"user\":\"alice\"", 0);
    rt__srv_presence_remote(&f.s, "r", "alice", 0, "timeout");
    expect_has(b,
               "\"event\":\"leave\",\"user\":\"alice\",\"reason\":"
               "\"timeout\"",
               1);

    /* lost for good: the room goes on after them */
    rt__srv_room_lost(&f.s, "r", 20);
    assert_int_equal(r->seq, 20);
    assert_int_equal(rt__srv_deliver(&f.s, "r", 21, "{\"type\":\"text\"}", 15),
                     0);
    expect_has(b, "{\"type\":\"text\",\"seq\":21}", 1);

    /* a fresh history: everyone is sent away to resume */
    rt__srv_room_reset(&f.s, "r", "newE", 0);
    expect_has(b, "close 1012", 1);
    assert_string_equal(r->epoch, "newE");

    /* an operation still pending when the engine goes is canceled */
    ws_say(b, "{\"type\":\"text\",\"data\":{\"content\":\"late\"}}");
    ws_close(b, 1);
    fx_done(&f);
}

static void test_srv_room_presence_coalesced(void **state)
{
    struct fx f;
    rt_server_opts o;
    struct conn *c[5];
    uint64_t batches;
    char *t;
    int i;

    (void)state;
    opts(&o);
    o.presence_max_members = 4;
    fx_init(&f, &o, 0);
    c[0] = ws_open(&f, "u0", "r", 0, 0, NULL);
    free(taken(c[0]));
    batches = f.s.m.presence_batches;
    /* three joins in one tick: one message of three frames to u0 */
    for (i = 1; i <= 3; i++)
        c[i] = ws_open(&f,
                       i == 1   ? "u1"
                       : i == 2 ? "u2"
                                : "u3",
                       "r", 0, 0, NULL);
    rt__presence_flush(&f.s);
    assert_int_equal(c[0]->q.n, 1);
    expect_has(c[0], "\"event\":\"join\"", 3);
    /* a joiner hears of the others of its tick, never of itself */
    t = taken(c[1]);
    assert_int_equal(count(t, "\"event\":\"join\""), 2);
    assert_null(strstr(t, "\"join\",\"user\":\"u1\""));
    free(t);
    free(taken(c[2]));
    free(taken(c[3]));
    assert_int_equal(f.s.m.presence_batches, batches + 1);

    /* past --presence-max-members: quiet, and welcomes list nobody */
    c[4] = ws_open(&f, "u4", "r", 0, 0, NULL);
    t = taken(c[4]);
    assert_non_null(strstr(t, "\"online\":[],\"online_count\":5"));
    free(t);
    expect_has(c[0], "\"event\":\"join\"", 0);
    assert_int_equal(f.s.m.presence_quiet, 1);
    ws_say(c[4], "{\"type\":\"presence\",\"data\":{}}");
    expect_has(c[4], "\"u3\"", 1); /* snapshots still answer */
    ws_close(c[4], 1);
    expect_has(c[0], "\"event\":\"leave\"", 0);
    /* back under the limit: announced again */
    ws_close(c[3], 1);
    expect_has(c[0], "\"event\":\"leave\",\"user\":\"u3\"", 1);
    for (i = 0; i < 3; i++)
        ws_close(c[i], 1);
    fx_done(&f);
}

static void test_srv_room_stored_frame(void **state)
{
    static const char body[] = "{\"type\":\"text\",\"id\":\"a,\\\"data\\\":\","
                               "\"room\":\"r\",\"data\":{\"x\":1}}";
    rt_buf b;

    (void)state;
    rt__buf_init(&b);
    assert_int_equal(rt__stored_frame(body, sizeof(body) - 1, 7, &b), 0);
    assert_string_equal(b.data,
                        "{\"type\":\"text\",\"id\":\"a,\\\"data\\\":\","
                        "\"room\":\"r\",\"seq\":7,\"data\":{\"x\":1}}");
    rt__buf_clear(&b);
    assert_int_equal(rt__stored_frame("{}", 2, 1, &b), 0);
    assert_string_equal(b.data, "{\"seq\":1}");
    assert_int_equal(rt__stored_frame("[1]", 3, 1, &b), RT_EPROTO);
    rt__buf_cleanup(&b);
}

/* -------------------------------------------------- under failure */

/*
 * Everything at once, on the memory engine: joins, publishes, a resume,
 * typing, a snapshot, a clean and a dropped close, the presence sweep and
 * room expiry.  Under allocation failure the core may refuse or drop, but
 * never crash or leak; with no refusal it must get everything right.
 */
static int run_core(int full)
{
    struct fx f;
    rt_server_opts o;
    struct conn *a, *b, *c;
    char *t;
    int i, ok = 1;

    opts(&o);
    o.history = 4;
    o.room_ttl_ms = 5000;
    if (fx_init(&f, &o, 0) != 0)
        return 0;
    a = ws_open(&f, "alice", "r", 0, 0, NULL);
    b = ws_open(&f, "bob", "r", 0, 0, NULL);
    for (i = 0; i < 6; i++)
        ws_say(a,
               "{\"type\":\"text\",\"id\":\"i\",\"data\":{\"content\":\"x\","
               "\"n\":[1,2,3]}}");
    ws_say(b, "{\"type\":\"typing\",\"data\":{\"state\":true}}");
    ws_say(b, "{\"type\":\"presence\",\"data\":{}}");
    c = ws_open(&f, "carol", "r", 1, 3, "x");
    t = taken(c);
    if (full)
        ok &= count(t, "\"type\":\"text\"") == 4 &&
              strstr(t, "\"recovered\":false") != NULL;
    free(t);
    t = taken(b);
    if (full)
        ok &= count(t, "\"type\":\"text\"") == 6 &&
              count(t, "\"event\":\"snapshot\"") == 1;
    free(t);
    t = taken(a);
    if (full)
        ok &= count(t, "\"type\":\"ack\"") == 6;
    free(t);
    ws_close(c, 1);
    ws_close(b, 0);
    later(&f, a, 31000);
    t = taken(a);
    if (full)
        ok &= count(t, "\"event\":\"leave\"") == 2;
    free(t);
    ws_close(a, 1);
    tick(&f, 6000);
    if (full)
        ok &= f.s.nrooms == 0;
    fx_done(&f);
    return ok;
}

/*
 * The asynchronous paths under failure: parked joins, publishes acked
 * after the store, a room that goes and comes back, a resume read from
 * the engine past the empty cache, remote presence.
 */
static int run_async(int full)
{
    struct fx f;
    rt_server_opts o;
    struct conn *a, *b;
    char *t;
    int i, ok = 1;

    opts(&o);
    o.history = 20;
    o.room_ttl_ms = 1000;
    fx_init(&f, &o, 1);
    a = ws_open(&f, "alice", "r", 0, 0, NULL);
    b = ws_open(&f, "bob", "r", 0, 0, NULL);
    fake_run(f.fe);
    for (i = 0; i < 5; i++)
        ws_say(
            a,
            "{\"type\":\"text\",\"id\":\"i\",\"data\":{\"content\":\"c\"}}");
    fake_run(f.fe);
    rt__srv_presence_remote(&f.s, "r", "carol", 1, NULL);
    t = taken(a);
    if (full && count(t, "\"type\":\"ack\"") != 5)
        ok = 0;
    free(t);
    free(taken(b));
    ws_close(b, 1);
    ws_close(a, 1);
    rt__srv_presence_remote(&f.s, "r", "carol", 0, "closed");
    tick(&f, 2000);
    if (full && f.s.nrooms != 0)
        ok = 0;
    b = ws_open(&f, "bob", "r", 1, 1, "fakeE");
    fake_run(f.fe);
    t = taken(b);
    if (full && (count(t, "\"type\":\"text\"") != 4 ||
                 strstr(t, "\"recovered\":true") == NULL)) {
        print_message("resume: %s\n", t);
        ok = 0;
    }
    free(t);
    ws_close(b, 1);
    fx_done(&f);
    return ok;
}

static void every_refusal(const char *name, int (*run)(int))
{
    long n, done = -1;
    int sticky;

    assert_true(run(1));
    th_alloc_install();
    for (sticky = 0; sticky < 2; sticky++) {
        for (n = 0; n < 20000; n++) {
            if (sticky)
                th_alloc_fail_from(n);
            else
                th_alloc_fail_at(n);
            run(0);
            th_str_free(&shell_log);
            if (th_alloc_live() != 0)
                fail_msg("%s: %ld blocks leaked with request %ld refused%s",
                         name, th_alloc_live(), n, sticky ? " on" : "");
            if (!th_alloc_failed())
                break;
        }
        assert_true(n < 20000);
        done = n;
    }
    th_alloc_fail_at(-1);
    assert_true(run(1));
    th_alloc_uninstall();
    print_message("%s: %ld allocations\n", name, done);
}

static void test_srv_room_failmalloc(void **state)
{
    (void)state;
    every_refusal("core", run_core);
}

static void test_srv_room_failmalloc_async(void **state)
{
    (void)state;
    every_refusal("async", run_async);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_srv_room_publish_broadcast_then_ack),
        cmocka_unit_test(test_srv_room_presence_grace_and_timeout),
        cmocka_unit_test(test_srv_room_resume_all_or_nothing),
        cmocka_unit_test(test_srv_room_slow_consumer),
        cmocka_unit_test(test_srv_room_limits),
        cmocka_unit_test(test_srv_room_async_engine),
        cmocka_unit_test(test_srv_room_presence_coalesced),
        cmocka_unit_test(test_srv_room_stored_frame),
        cmocka_unit_test(test_srv_room_failmalloc),
        cmocka_unit_test(test_srv_room_failmalloc_async),
    };

    th_str_init(&shell_log);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
