/*
 * poll.c: GET /poll/{room}?since=N&epoch=E&timeout=S, long polling
 * (PROTOCOL.md sections 1 and 4).
 *
 * Answers at once with every held message whose seq is past N, or waits up
 * to S seconds (default 25, at most --poll-timeout-max) for the next one:
 * {"epoch":E,"messages":[...],"next":N,"recovered":B}, where next is the
 * since of the following poll.  Without since, the poll waits for messages
 * newer than the room's position (as SSE and WebSocket do without a resume
 * position).  A waiting poll sits on its room's list; a stored message
 * answers them all.
 */
#include <string.h>

#include "server_int.h"

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
static int build(struct room *r, const struct resume *rs, uint64_t since,
                 const struct rt__eng_msg *msgs, size_t n, rt_buf *b)
{
    struct body_ctx bc = {b, 1, since, 0};
    uint64_t after = rs->replay_after;
    int recovered = rs->recovered;
    size_t i;

    bc.rc |= rt__buf_printf(b, "{\"epoch\":\"%s\",\"messages\":[", r->epoch);
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
    bc.rc |= rt__buf_printf(b, "],\"next\":%llu,\"recovered\":%s}",
                            (unsigned long long)bc.last,
                            recovered ? "true" : "false");
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
static void enlist(struct conn *c)
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

/*
 * Keep lws from timing the request out while it waits for the room, the
 * engine or a message.
 */
static void hold(struct conn *c)
{
    uint64_t now = c->srv->now_ms, left = 0;

    if (c->poll_deadline_ms > now)
        left = (c->poll_deadline_ms - now + 999) / 1000;
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, (int)left + 10);
}

/* Have |b| written as the poll's answer when the socket is writable. */
static void answer_later(struct conn *c, rt_buf *b, int status)
{
    enlist(c);
    unlink_poll(c);
    c->resp_status = status;
    rt__buf_cleanup(&c->resp);
    c->resp = *b;
    rt__buf_init(b);
    if (c->resp.data == NULL) {
        rt__conn_drop(c, 0, "");
        return;
    }
    lws_callback_on_writable(c->wsi);
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
    if (build(r, &rs, c->poll_since, NULL, 0, &b) != 0) {
        rt__buf_cleanup(&b);
        rt__conn_drop(c, 0, "");
        return;
    }
    answer_later(c, &b, 200);
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
    if (build(r, &rs, c->poll_since, msgs, n, &b) != 0) {
        rt__buf_cleanup(&b);
        rt__conn_drop(c, 0, "");
        return;
    }
    answer_later(c, &b, 200);
}

/*
 * The room is attached: answer at once (|inline|: from the request's own
 * callback; else when writable), read what the cache lacks from the
 * engine, or wait on the room for the next message.
 */
static int poll_go(struct conn *c, struct room *r, int inline_)
{
    rt_server *s = c->srv;
    uint64_t since = c->want_since ? c->since : r->seq;
    struct rt__op *op;
    struct resume rs;
    rt_buf b;
    int rc;

    rt__room_resume(s, r, 1, since, c->epoch, &rs);
    c->poll_since = since;
    if (rs.fetch && (op = rt__op_new(s, c, NULL)) != NULL) {
        enlist(c);
        hold(c);
        c->room = r; /* on no list: only the op knows it */
        c->fetching = 1;
        op->since = since;
        if (s->eng->ops->read(s->eng, r->name, since,
                              s->o.history > 0 ? s->o.history : 1, fetched,
                              op) == 0)
            return 0;
        rt__op_free(op);
        c->fetching = 0;
        c->room = NULL;
    }
    if (rs.fetch) {
        rs.fetch = 0;
        rs.recovered = 0;
        rs.replay_after = rt__room_oldest(r) - 1;
    }
    if (!rs.recovered || r->seq > since || s->now_ms >= c->poll_deadline_ms ||
        s->shutting_down) {
        if (!rs.recovered)
            s->m.resumes_lost++;
        rt__buf_init(&b);
        rc = build(r, &rs, since, NULL, 0, &b);
        rt__room_maybe_free(s, r);
        if (rc != 0) {
            rt__buf_cleanup(&b);
            return -1;
        }
        if (!inline_) {
            answer_later(c, &b, 200);
            return 0;
        }
        rc = rt__http_respond(c, 200, "application/json", b.data, b.len);
        rt__buf_cleanup(&b);
        if (rc != 0)
            return -1;
        return lws_http_transaction_completed(c->wsi) ? -1 : 0;
    }

    /* Wait for the next message, past lws's own request timeout. */
    enlist(c);
    hold(c);
    c->room = r;
    c->rprev = NULL;
    c->rnext = r->polls;
    if (r->polls)
        r->polls->rprev = c;
    r->polls = c;
    return 0;
}

void rt__poll_attached(struct conn *c, struct room *r, int ok)
{
    rt_buf b;
    char *out;
    size_t len;

    if (ok) {
        if (poll_go(c, r, 0) != 0)
            rt__conn_drop(c, 0, "");
        return;
    }
    rt__buf_init(&b);
    c->srv->m.errors[RT_MSG_CODE_UNAVAILABLE]++;
    if (rt_msg_encode_error(RT_MSG_CODE_UNAVAILABLE, NULL,
                            "the server's store cannot be reached", &out,
                            &len) == 0) {
        rt__buf_append(&b, out, len);
        rt_free(out);
    }
    rt__room_maybe_free(c->srv, r);
    /* A 503 is the poll's answer here: clients retry it with backoff. */
    answer_later(c, &b, 503);
}

int rt__poll_start(struct conn *c, const char *room)
{
    rt_server *s = c->srv;
    uint64_t since = 0, timeout = 25;
    int has_since = 0, rc;
    struct room *r;

    if ((has_since = rt__http_arg_u64(c->wsi, "since", UINT64_MAX, &since)) <
            0 ||
        rt__http_arg_u64(c->wsi, "timeout", 100000, &timeout) < 0)
        goto bad;
    if (timeout > s->o.poll_timeout_max_s)
        timeout = s->o.poll_timeout_max_s;
    c->want_since = has_since > 0;
    c->since = since;
    rt__http_arg(c->wsi, "epoch", c->epoch, sizeof(c->epoch));
    c->poll_deadline_ms = s->now_ms + timeout * 1000;

    rc = rt__room_open(s, room, &r);
    if (rc == RT_EEXHAUSTED) {
        rc = rt__http_error(c, 503, RT_MSG_CODE_TOO_MANY_ROOMS,
                            "the server has --max-rooms rooms");
        if (rc != 0)
            return -1;
        return lws_http_transaction_completed(c->wsi) ? -1 : 0;
    }
    if (rc != 0)
        return -1;
    if (r->attached)
        return poll_go(c, r, 1);
    if (r->attaching) {
        enlist(c);
        hold(c);
        rt__room_wait(r, c, WAIT_POLL);
        return 0;
    }
    rt__room_maybe_free(s, r);
    rc = rt__http_error(c, 503, RT_MSG_CODE_UNAVAILABLE,
                        "the server's store cannot be reached");
    if (rc != 0)
        return -1;
    return lws_http_transaction_completed(c->wsi) ? -1 : 0;

bad:
    rc = rt__http_error(c, 400, RT_MSG_CODE_BAD_MESSAGE,
                        "since and timeout are whole numbers");
    if (rc != 0)
        return -1;
    return lws_http_transaction_completed(c->wsi) ? -1 : 0;
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
