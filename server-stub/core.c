/*
 * core.c: the server core's handling of what clients say and ask, with no
 * socket in sight (core.h): a WebSocket's messages (publish, typing,
 * presence) under the rate limit, publishing through the engine, the
 * answers of long polls, and the log.
 */
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "core.h"

/* -------------------------------------------------------- options */

void rt_server_opts_init(rt_server_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->host = "127.0.0.1";
    o->port = 8080;
    o->max_message_bytes = 64 * 1024;
    o->max_room_connections = 10000;
    o->max_user_connections = 100;
    o->max_queue_bytes = 1024 * 1024;
    o->history = 1000;
    o->ping_interval_s = 30;
    o->presence_timeout_ms = 30000;
    o->sse_keepalive_ms = 15000;
    o->poll_timeout_max_s = 60;
    o->max_header_bytes = 8 * 1024;
    o->max_body_bytes = 64 * 1024;
    o->max_rooms = 10000;
    o->room_ttl_ms = 3600 * 1000;
    o->max_address_connections = 1024;
    o->request_timeout_ms = 10000;
    o->typing_rate = 4;
    o->presence_max_members = 1000;
    o->log_level = RT_SERVER_LOG_INFO;
    o->log_format = RT_SERVER_LOG_TEXT;
}

/* ------------------------------------------------------------ log */

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void rt__srv_log(const rt_server *s, enum rt_server_log_level lvl,
                 const char *fmt, ...)
{
    FILE *f = s->o.log_file ? s->o.log_file : stderr;
    char msg[512], ts[32];
    struct timeval tv;
    struct tm tm;
    va_list ap;
    rt_buf b;

    if (lvl > s->o.log_level)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    if (s->o.log_format == RT_SERVER_LOG_JSON) {
        rt__buf_init(&b);
        rt__buf_printf(&b,
                       "{\"time\":\"%s.%03dZ\",\"level\":\"%s\",\"msg\":", ts,
                       (int)(tv.tv_usec / 1000), level_names[lvl]);
        rt__buf_json_str(&b, msg, strlen(msg));
        rt__buf_append(&b, "}\n", 2);
        if (b.data)
            fwrite(b.data, 1, b.len, f);
        rt__buf_cleanup(&b);
    } else {
        fprintf(f, "%s.%03dZ %s %s\n", ts, (int)(tv.tv_usec / 1000),
                level_names[lvl], msg);
    }
    fflush(f);
}

/* |n - 1| random characters of [a-z0-9] for epochs and anonymous users. */
void rt__srv_random_name(char *out, size_t n)
{
    static const char set[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char raw[64];
    size_t i;

    if (n == 0)
        return;
    if (n - 1 > sizeof(raw))
        n = sizeof(raw) + 1;
    if (getrandom(raw, n - 1, GRND_NONBLOCK) != (ssize_t)(n - 1)) {
        /* No entropy yet: still unique enough for an epoch. */
        struct timeval tv;
        uint64_t t;

        gettimeofday(&tv, NULL);
        t = ((uint64_t)tv.tv_sec * 1000000 + (uint64_t)tv.tv_usec) ^
            (uint64_t)getpid();

        for (i = 0; i < n - 1; i++, t = t * 6364136223846793005ULL + 1)
            raw[i] = (unsigned char)(t >> 33);
    }
    for (i = 0; i < n - 1; i++)
        out[i] = set[raw[i] % (sizeof(set) - 1)];
    out[n - 1] = '\0';
}

/* ------------------------------------------------------ admission */

/*
 * The limits a WebSocket or SSE connection of |c->user| to |room| must
 * pass (PROTOCOL.md section 5): --max-user-connections, --max-rooms,
 * --max-room-connections, in that order.  0 and *out opened (not yet
 * attached, maybe), or the rt_msg_code to refuse with, or RT_ENOMEM.
 */
int rt__conn_admit(struct conn *c, const char *room, struct room **out)
{
    rt_server *s = c->srv;
    struct room *r;
    int rc;

    if (s->o.max_user_connections > 0) {
        int n = rt__user_conns_add(s, c->user, 1);

        c->user_counted = n >= 0;
        if (n < 0)
            return RT_ENOMEM;
        if ((unsigned)n > s->o.max_user_connections)
            return RT_MSG_CODE_TOO_MANY_CONNECTIONS;
    }
    rc = rt__room_open(s, room, &r);
    if (rc == RT_EEXHAUSTED)
        return RT_MSG_CODE_TOO_MANY_ROOMS;
    if (rc != 0)
        return rc;
    if (s->o.max_room_connections > 0 &&
        r->nmembers >= s->o.max_room_connections) {
        rt__room_maybe_free(s, r);
        return RT_MSG_CODE_ROOM_FULL;
    }
    *out = r;
    return 0;
}

/*
 * A WebSocket refused by rt__conn_admit (|why|), or whose room cannot be
 * attached: the error frame, then the close code of PROTOCOL.md section 5.
 */
void rt__ws_refuse(struct conn *c, int why)
{
    switch (why) {
    case RT_MSG_CODE_TOO_MANY_CONNECTIONS:
        rt__conn_send_error(c, RT_MSG_CODE_TOO_MANY_CONNECTIONS, NULL,
                            "too many connections for this user");
        rt__conn_close(c, 1008, "too many connections");
        break;
    case RT_MSG_CODE_TOO_MANY_ROOMS:
        rt__conn_send_error(c, RT_MSG_CODE_TOO_MANY_ROOMS, NULL,
                            "the server has --max-rooms rooms");
        rt__conn_close(c, 1013, "too many rooms");
        break;
    case RT_MSG_CODE_ROOM_FULL:
        rt__conn_send_error(c, RT_MSG_CODE_ROOM_FULL, NULL, "room is full");
        rt__conn_close(c, 1013, "room full");
        break;
    case RT_MSG_CODE_UNAVAILABLE:
        rt__conn_send_error(c, RT_MSG_CODE_UNAVAILABLE, NULL,
                            "the server's store cannot be reached");
        rt__conn_close(c, 1013, "store unavailable");
        break;
    default:
        rt__conn_close(c, 1011, "internal error");
        break;
    }
}

/*
 * |c| is gone (its socket closed): out of its room, its user's count and
 * every engine operation it waited for.
 */
void rt__conn_gone(struct conn *c)
{
    rt_server *s = c->srv;

    rt__ops_forget(s, c);
    rt__conn_fetch_clear(c);
    if (c->room != NULL) {
        struct room *r = c->room;

        rt__room_leave(s, c);
        rt__room_maybe_free(s, r);
    }
    if (c->user_counted) {
        rt__user_conns_add(s, c->user, -1);
        c->user_counted = 0;
    }
}

/* -------------------------------------------------------- websocket */

void rt__ws_unavailable(struct conn *c)
{
    rt__ws_refuse(c, RT_MSG_CODE_UNAVAILABLE);
}

/* The room is attached: in with the welcome, then any resume. */
void rt__ws_join(struct conn *c, struct room *r)
{
    rt_server *s = c->srv;
    rt_buf b;
    int rc;

    if (c->closing || c->killed)
        return;
    /*
     * Join first, so the welcome's online list has this user too; the join
     * announcement goes to the others only, so the welcome is still the
     * first frame this connection gets.
     */
    rt__room_join(s, r, c);
    rt__buf_init(&b);
    rc = rt__frame_welcome(s, r, c->user, &b);
    if (rc == 0)
        rc = rt__conn_send_json(c, b.data, b.len, RT_MSG_SYSTEM);
    if (rc == 0 && c->want_since)
        rc = rt__conn_resume(s, r, c, c->since, c->epoch);
    rt__buf_cleanup(&b);
    rt__srv_log(s, RT_SERVER_LOG_INFO, "open ws room=%s user=%s%s", r->name,
                c->user, c->want_since ? " (resume)" : "");
    if (rc != 0)
        rt__conn_close(c, 1011, "internal error");
}

static int rate_ok(struct conn *c)
{
    rt_server *s = c->srv;
    double burst = 2 * s->o.rate;

    if (s->o.rate <= 0)
        return 1;
    if (c->tokens_ms == 0) {
        c->tokens = burst;
    } else {
        c->tokens += (double)(s->now_ms - c->tokens_ms) * s->o.rate / 1000.0;
        if (c->tokens > burst)
            c->tokens = burst;
    }
    c->tokens_ms = s->now_ms;
    if (c->tokens < 1.0)
        return 0;
    c->tokens -= 1.0;
    return 1;
}

/*
 * The stored body of a text from |user| (WebSocket or HTTP publish):
 * author and timestamp set, the seq left to the engine, encoded once.
 */
int rt__publish_body(rt_server *s, const char *room, rt_msg *m,
                     const char *user, rt_buf *body)
{
    char *out = NULL;
    size_t len;
    rt_buf data;
    int rc;

    rt__buf_init(&data);
    /* No one speaks for someone else (rtctl-protocol(7), AUTHORS). */
    if ((rc = rt__author_set(m->data, m->data_len, user, &data)) != 0)
        goto done;
    m->room = room;
    m->has_seq = 0;
    m->has_timestamp = 1;
    m->timestamp = s->wall;
    m->data = data.data;
    m->data_len = data.len;
    if ((rc = rt_msg_encode(m, &out, &len)) != 0)
        goto done;
    rc = rt__buf_append(body, out, len);
    rt_free(out);
done:
    m->data = NULL; /* it was ours, not the message's */
    m->data_len = 0;
    rt__buf_cleanup(&data);
    return rc;
}

/*
 * The engine stored a publish (and delivered it: the broadcast is done),
 * or could not.  The sender hears of it: a WebSocket by its ack or an
 * error, an HTTP publish by its answer.
 */
static void appended(void *ud, enum rt__eng_status st, uint64_t seq)
{
    struct rt__op *op = ud;
    struct conn *c = op->c;
    const char *id = op->id[0] ? op->id : NULL;
    char *out;
    size_t len;

    if (c == NULL || st == RT__ENG_CANCELED) {
        /* nobody to tell */
    } else if (c->kind != CONN_WS) {
        rt__http_published(c, st, seq);
    } else if (st == RT__ENG_OK) {
        if (rt_msg_encode_ack(id, seq, &out, &len) == 0) {
            rt__conn_send_json(c, out, len, RT_MSG_ACK);
            rt_free(out);
        }
    } else if (st == RT__ENG_NOMEM) {
        rt__conn_close(c, 1011, "internal error");
    } else {
        rt__conn_send_error(c, RT_MSG_CODE_UNAVAILABLE, id,
                            "the store cannot be reached; not stored");
    }
    rt__op_free(op);
}

int rt__publish_append(rt_server *s, struct room *r, const char *body,
                       size_t len, struct conn *c, const char *id)
{
    struct rt__op *op = rt__op_new(s, c, id);
    int rc;

    if (op == NULL)
        return RT_ENOMEM;
    rc = s->eng->ops->append(s->eng, r->name, body, len, appended, op);
    if (rc != 0)
        rt__op_free(op);
    return rc;
}

/* Typing of |user| to the room's other users' connections. */
static void typing_relay(struct room *r, const char *user, int state)
{
    struct conn *c, *next;
    struct smsg *sm;
    char *json = NULL;
    size_t len = 0;

    rt__room_presence_flush(r);
    if (rt_msg_encode_typing(r->name, user, state, &json, &len) == 0 &&
        (sm = rt__smsg_new(json, len, RT_MSG_TYPING, 0x1)) != NULL) {
        for (c = r->members; c != NULL; c = next) {
            next = c->rnext;
            if (strcmp(c->user, user) != 0)
                rt__conn_send(c, sm);
        }
        rt__smsg_unref(sm);
    }
    rt_free(json);
}

static uint64_t typing_interval(const rt_server *s)
{
    return (uint64_t)(1000.0 / s->o.typing_rate);
}

void rt__typing_flush(rt_server *s, struct room *r, const char *user,
                      struct typing *t)
{
    if (!t->pending || s->now_ms < t->next_ms)
        return;
    t->pending = 0;
    t->next_ms = s->now_ms + typing_interval(s);
    typing_relay(r, user, t->state);
}

/*
 * A typing event: relayed at once if the user's interval has passed, else
 * kept (replacing any kept before it) for rt__typing_flush at the end of
 * the interval.  A flood of typing thus costs the room a few frames a
 * second, and the last state always arrives.
 */
static void handle_typing(struct conn *c, const rt_msg *m)
{
    rt_server *s = c->srv;
    struct typing *t = c->ru != NULL ? &c->ru->typing : &c->typing;
    int state = m->u.typing.state != 0;

    if (s->o.typing_rate <= 0) {
        typing_relay(c->room, c->user, state);
        return;
    }
    if (s->now_ms >= t->next_ms) {
        t->pending = 0;
        t->next_ms = s->now_ms + typing_interval(s);
        typing_relay(c->room, c->user, state);
        return;
    }
    if (t->pending)
        s->m.typing_coalesced++;
    t->pending = 1;
    t->state = (uint8_t)state;
}

static void handle_presence(struct conn *c)
{
    rt_buf b;

    rt__room_presence_flush(c->room);
    rt__buf_init(&b);
    if (rt__frame_presence(c->room, "snapshot", NULL, NULL, &b) == 0)
        rt__conn_send_json(c, b.data, b.len, RT_MSG_PRESENCE);
    rt__buf_cleanup(&b);
}

/*
 * The id of a frame that failed validation, so the error names the message
 * it answers: only a plain string id of a well-formed object qualifies.
 */
static void bad_frame_id(const rt_buf *rx, char *id, size_t len)
{
    rt__json_scan_opts o = {RT__JSON_OBJECT | RT__JSON_NO_NUL, 32, "id"};
    rt__json_scan_res r;
    size_t i, n;

    id[0] = '\0';
    if (rx->data == NULL ||
        rt__json_scan(rx->data, rx->len, &o, &r, NULL) != 0 || !r.found ||
        r.found_end - r.found_start < 2 || rx->data[r.found_start] != '"')
        return;
    n = r.found_end - r.found_start - 2;
    if (n >= len)
        return;
    for (i = 0; i < n; i++) {
        char ch = rx->data[r.found_start + 1 + i];

        if (ch == '\\' || (unsigned char)ch < 0x20)
            return;
        id[i] = ch;
    }
    id[n] = '\0';
}

static int ws_publish(struct conn *c, rt_msg *m)
{
    rt_buf body;
    int rc;

    rt__buf_init(&body);
    rc = rt__publish_body(c->srv, c->room->name, m, c->user, &body);
    if (rc == 0 && body.data == NULL)
        rc = RT_ENOMEM;
    if (rc == 0)
        rc =
            rt__publish_append(c->srv, c->room, body.data, body.len, c, m->id);
    rt__buf_cleanup(&body);
    return rc;
}

void rt__ws_message(struct conn *c)
{
    rt_server *s = c->srv;
    rt_msg_limits lim;
    rt_msg_error err;
    rt_msg *m = NULL;
    int rc;

    if (c->rx_binary) {
        rt__conn_send_error(c, RT_MSG_CODE_BAD_MESSAGE, NULL,
                            "frames are JSON text, not binary");
        return;
    }
    rt_msg_limits_init(&lim);
    lim.max_bytes = s->o.max_message_bytes;
    rc = rt_msg_parse(&m, c->rx.data, c->rx.len, RT_MSG_FROM_CLIENT, &lim,
                      &err);
    if (rc == RT_ENOMEM) {
        rt__conn_close(c, 1011, "internal error");
        return;
    }
    if (rc != 0) {
        char id[129];

        bad_frame_id(&c->rx, id, sizeof(id));
        rt__conn_send_error(c, err.code, id[0] ? id : NULL, err.message);
        if (err.code == RT_MSG_CODE_TOO_LARGE)
            rt__conn_close(c, 1009, "message too large");
        return;
    }
    s->m.received[m->type]++;
    if (!rate_ok(c)) {
        rt__conn_send_error(c, RT_MSG_CODE_RATE_LIMITED, m->id,
                            "over the message rate; not stored");
    } else if (c->room != NULL && !c->wait) {
        switch (m->type) {
        case RT_MSG_TEXT:
            rc = ws_publish(c, m);
            if (rc == RT_EPROTO)
                rt__conn_send_error(c, RT_MSG_CODE_BAD_MESSAGE, m->id,
                                    "data is not a JSON object this "
                                    "server can read; not stored");
            else if (rc != 0)
                rt__conn_close(c, 1011, "internal error");
            break;
        case RT_MSG_TYPING:
            handle_typing(c, m);
            break;
        case RT_MSG_PRESENCE:
            handle_presence(c);
            break;
        default:
            break;
        }
    }
    rt_msg_free(m);
}

/* -------------------------------------------------------- long poll */

struct body_ctx {
    rt_buf *b;
    int first;
    uint64_t last;
    int rc;
};

static int add_one(struct smsg *m, void *ud)
{
    struct body_ctx *bc = ud;

    if (!bc->first)
        bc->rc |= rt__buf_putc(bc->b, ',');
    bc->first = 0;
    bc->rc |= rt__buf_append(bc->b, rt__smsg_json(m), m->json_len);
    bc->last = m->seq;
    return bc->rc != 0;
}

/*
 * Build the answer of a poll at position |since| (after |replay_after|):
 * first |n| messages the engine read (|fetched|, consecutive from since
 * + 1), then what the cache holds after them.
 */
int rt__poll_body(struct room *r, const struct resume *rs, uint64_t since,
                  const struct rt__eng_msg *msgs, size_t n, rt_buf *b)
{
    struct body_ctx bc = {b, 1, since, 0};
    uint64_t after = rs->replay_after;
    int recovered = rs->recovered;
    size_t i;

    bc.rc |= rt__msg_poll_open(b, r->epoch);
    for (i = 0; i < n && msgs[i].seq == after + 1 && msgs[i].seq <= r->seq;
         i++, after++) {
        if (!bc.first)
            bc.rc |= rt__buf_putc(b, ',');
        bc.first = 0;
        bc.rc |= rt__stored_frame(msgs[i].body, msgs[i].len, msgs[i].seq, b);
        bc.last = msgs[i].seq;
    }
    if (rs->fetch && after < r->seq && after + 1 < rt__room_oldest(r))
        recovered = 0; /* neither the engine nor the cache has after + 1 */
    rt__room_replay(r, after, add_one, &bc);
    if (bc.first && !recovered)
        bc.last = r->seq; /* nothing held: start over from the top */
    bc.rc |= rt__msg_poll_close(b, bc.last, recovered);
    return bc.rc ? RT_ENOMEM : 0;
}

static void unlink_poll(struct conn *c)
{
    struct room *r = c->room;

    if (r == NULL)
        return;
    if (c->wait) {
        rt__room_unwait(c);
        rt__room_maybe_free(c->srv, r);
        return;
    }
    if (c->fetching) {
        /* on no list: the engine's read holds it */
        c->fetching = 0;
        c->room = NULL;
        rt__room_maybe_free(c->srv, r);
        return;
    }
    if (c->rprev)
        c->rprev->rnext = c->rnext;
    else
        r->polls = c->rnext;
    if (c->rnext)
        c->rnext->rprev = c->rprev;
    c->rnext = c->rprev = NULL;
    c->room = NULL;
    rt__room_maybe_free(c->srv, r);
}

void rt__poll_cancel(struct conn *c)
{
    unlink_poll(c);
}

/* A poll answered outside its request callback: a CONN_POLL from now. */
void rt__poll_enlist(struct conn *c)
{
    rt_server *s = c->srv;

    if (c->kind == CONN_POLL)
        return;
    c->kind = CONN_POLL;
    c->counted = 1;
    s->m.conns[RT_TR_POLL]++;
    s->m.accepted[RT_TR_POLL]++;
    rt__conn_link(c);
}

/* Have |b| written as the poll's answer when the socket is writable. */
void rt__poll_answer(struct conn *c, rt_buf *b, int status)
{
    rt__poll_enlist(c);
    unlink_poll(c);
    c->resp_status = status;
    rt__buf_cleanup(&c->resp);
    c->resp = *b;
    rt__buf_init(b);
    if (c->resp.data == NULL) {
        rt__conn_drop(c, 0, "");
        return;
    }
    c->resp_ready = 1;
    c->srv->io->respond(c);
}

/* Prepare the answer of a waiting poll and have it written. */
static void answer(struct conn *c)
{
    struct room *r = c->room;
    struct resume rs;
    rt_buf b;

    rt__room_resume(c->srv, r, 1, c->poll_since, NULL, &rs);
    rs.fetch = 0; /* it waited: the cache has all after poll_since */
    rt__buf_init(&b);
    if (rt__poll_body(r, &rs, c->poll_since, NULL, 0, &b) != 0) {
        rt__buf_cleanup(&b);
        rt__conn_drop(c, 0, "");
        return;
    }
    rt__poll_answer(c, &b, 200);
}

/* The engine read what the cache of the poll's room lacks. */
static void fetched(void *ud, enum rt__eng_status st, const char *epoch,
                    const struct rt__eng_msg *msgs, size_t n, uint64_t oldest,
                    uint64_t top)
{
    struct rt__op *op = ud;
    struct conn *c = op->c;
    struct room *r;
    struct resume rs;
    rt_buf b;

    (void)top;
    rt__op_free(op);
    if (c == NULL || st == RT__ENG_CANCELED || !c->fetching ||
        (r = c->room) == NULL)
        return;
    rt__room_resume(c->srv, r, 1, c->poll_since, NULL, &rs);
    if (st != RT__ENG_OK || epoch == NULL || strcmp(epoch, r->epoch) != 0 ||
        oldest > c->poll_since + 1) {
        /* Not recovered: what the cache holds. */
        rs.recovered = 0;
        rs.replay_after = rt__room_oldest(r) - 1;
        n = 0;
    }
    if (!rs.recovered)
        c->srv->m.resumes_lost++;
    rt__buf_init(&b);
    if (rt__poll_body(r, &rs, c->poll_since, msgs, n, &b) != 0) {
        rt__buf_cleanup(&b);
        rt__conn_drop(c, 0, "");
        return;
    }
    rt__poll_answer(c, &b, 200);
}

void rt__poll_wake(rt_server *s, struct room *r)
{
    (void)s;
    while (r->polls != NULL)
        answer(r->polls);
}

void rt__poll_tick(rt_server *s)
{
    struct conn *c;

    for (c = s->conns; c != NULL; c = c->next)
        if (c->kind == CONN_POLL && c->room != NULL && !c->wait &&
            !c->fetching && s->now_ms >= c->poll_deadline_ms)
            answer(c);
}

/* ------------------------------------------------------ HTTP publish */

/*
 * Answer a publish once the engine is done with it, through the shell,
 * which writes it when the socket can take it: the engine may call back
 * outside of any callback of the shell, where nothing may be written.
 */
void rt__http_published(struct conn *c, int status, uint64_t seq)
{
    char *out;
    size_t len;
    int rc;

    rt__buf_clear(&c->resp);
    if (status == RT__ENG_OK) {
        c->resp_status = 202;
        rc = rt__msg_published(&c->resp, seq);
    } else {
        /* 500 when out of memory: the store itself is fine */
        c->resp_status = status == RT__ENG_NOMEM ? 500 : 503;
        c->srv->m.errors[RT_MSG_CODE_UNAVAILABLE]++;
        rc = rt_msg_encode_error(RT_MSG_CODE_UNAVAILABLE, NULL,
                                 status == RT__ENG_NOMEM
                                     ? "the server ran out of memory; not "
                                       "stored"
                                     : "the store cannot be reached; not "
                                       "stored",
                                 &out, &len);
        if (rc == 0) {
            rc = rt__buf_append(&c->resp, out, len);
            rt_free(out);
        }
    }
    if (rc != 0)
        rt__buf_cleanup(&c->resp); /* no answer: the connection is cut */
    c->resp_ready = 1;
    c->srv->io->respond(c);
}

int rt__poll_fetch(struct conn *c, struct room *r, uint64_t since)
{
    rt_server *s = c->srv;
    struct rt__op *op = rt__op_new(s, c, NULL);

    if (op == NULL)
        return RT_ENOMEM;
    rt__poll_enlist(c);
    c->room = r; /* on no list: only the op knows it */
    c->fetching = 1;
    op->since = since;
    if (s->eng->ops->read(s->eng, r->name, since, rt__fetch_max(s, r, since),
                          fetched, op) == 0)
        return 0;
    rt__op_free(op);
    c->fetching = 0;
    c->room = NULL;
    return RT_EINVAL;
}

/*
 * A poll at its position in the attached room |r|: answered at once (1,
 * the answer in |b|: held messages past the position, a position that
 * cannot be recovered, its deadline already passed, or a shutdown),
 * waiting on the room for the next message or for the engine to read
 * what the cache lacks (0), or RT_ENOMEM.
 */
int rt__poll_go(struct conn *c, struct room *r, rt_buf *b)
{
    rt_server *s = c->srv;
    uint64_t since = c->want_since ? c->since : r->seq;
    struct resume rs;
    int rc;

    rt__room_resume(s, r, 1, since, c->epoch, &rs);
    c->poll_since = since;
    if (rs.fetch && rt__poll_fetch(c, r, since) == 0)
        return 0;
    if (rs.fetch) {
        rs.fetch = 0;
        rs.recovered = 0;
        rs.replay_after = rt__room_oldest(r) - 1;
    }
    if (!rs.recovered || r->seq > since || s->now_ms >= c->poll_deadline_ms ||
        s->shutting_down) {
        if (!rs.recovered)
            s->m.resumes_lost++;
        rc = rt__poll_body(r, &rs, since, NULL, 0, b);
        /*
         * An empty room freed now would come back with a new epoch at the
         * client's next poll, which would be answered at once with
         * recovered false again, and so on without end: keep it, and
         * its epoch, for that poll.
         */
        r->keep_until_ms = s->now_ms + RT_ROOM_KEEP_MS;
        rt__room_maybe_free(s, r);
        return rc != 0 ? rc : 1;
    }
    rt__poll_enlist(c);
    c->room = r;
    c->rprev = NULL;
    c->rnext = r->polls;
    if (r->polls)
        r->polls->rprev = c;
    r->polls = c;
    return 0;
}
