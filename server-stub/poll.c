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
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "server_int.h"

/* How often a waiting poll's socket is asked whether its client left. */
#define POLL_CHECK_MS 1000

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

/* Build the answer of a poll at position |since| (after |replay_after|). */
static int build(struct room *r, const struct resume *rs, uint64_t since,
                 rt_buf *b)
{
    struct body_ctx bc = {b, 1, since, 0};

    bc.rc |= rt__buf_printf(b, "{\"epoch\":\"%s\",\"messages\":[", r->epoch);
    rt__room_replay(r, rs->replay_after, add_one, &bc);
    if (bc.first && !rs->recovered)
        bc.last = r->seq; /* nothing held: start over from the top */
    bc.rc |= rt__buf_printf(b, "],\"next\":%llu,\"recovered\":%s}",
                            (unsigned long long)bc.last,
                            rs->recovered ? "true" : "false");
    return bc.rc ? RT_ENOMEM : 0;
}

static void unlink_poll(struct conn *c)
{
    struct room *r = c->room;

    if (r == NULL)
        return;
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

/* Prepare the answer of a waiting poll and have it written. */
static void answer(struct conn *c)
{
    struct room *r = c->room;
    struct resume rs;

    rt__room_resume(r, 1, c->poll_since, NULL, &rs);
    rt__buf_clear(&c->resp);
    if (build(r, &rs, c->poll_since, &c->resp) != 0 || c->resp.data == NULL) {
        rt__buf_cleanup(&c->resp);
        rt__conn_drop(c, 0, "");
        return;
    }
    unlink_poll(c);
    lws_rx_flow_control(c->wsi, 1);
    lws_callback_on_writable(c->wsi);
}

/*
 * Whether the client of a waiting poll went away.  libwebsockets 4.1 does
 * not read a socket whose request is unanswered, so it would never see
 * the end of file, and its level-triggered poll would spin on it until
 * the poll's timeout, the connection keeping its place in
 * --max-address-connections all along.  So reading is off while a poll
 * waits (rt__poll_start), and the socket is asked instead, now and then: a
 * peek, nothing consumed.  Bytes waiting are a request pipelined behind
 * the poll (or, over TLS, anything at all), read after the answer.
 */
static int client_gone(struct conn *c)
{
    int fd = lws_get_socket_fd(c->wsi);
    ssize_t n;
    char ch;

    if (fd < 0)
        return 1;
    n = recv(fd, &ch, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0)
        return 1;
    return n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}

int rt__poll_start(struct conn *c, const char *room)
{
    rt_server *s = c->srv;
    char epoch[40] = "";
    uint64_t since = 0, timeout = 25;
    int has_since = 0, rc;
    struct resume rs;
    struct room *r;
    rt_buf b;

    if ((has_since = rt__http_arg_u64(c->wsi, "since", UINT64_MAX, &since)) <
            0 ||
        rt__http_arg_u64(c->wsi, "timeout", 100000, &timeout) < 0)
        goto bad;
    if (timeout > s->o.poll_timeout_max_s)
        timeout = s->o.poll_timeout_max_s;
    rt__http_arg(c->wsi, "epoch", epoch, sizeof(epoch));

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
    if (!has_since)
        since = r->seq;
    rt__room_resume(r, 1, since, epoch, &rs);
    if (!rs.recovered || r->seq > since || timeout == 0 || s->shutting_down) {
        if (!rs.recovered)
            s->m.resumes_lost++;
        rt__buf_init(&b);
        rc = build(r, &rs, since, &b);
        rt__room_maybe_free(s, r);
        if (rc != 0) {
            rt__buf_cleanup(&b);
            return -1;
        }
        rc = rt__http_respond(c, 200, "application/json", b.data, b.len);
        rt__buf_cleanup(&b);
        if (rc != 0)
            return -1;
        return lws_http_transaction_completed(c->wsi) ? -1 : 0;
    }

    /* Wait for the next message, past lws's own request timeout. */
    c->kind = CONN_POLL;
    c->counted = 1;
    s->m.conns[RT_TR_POLL]++;
    s->m.accepted[RT_TR_POLL]++;
    c->poll_since = since;
    c->poll_deadline_ms = s->now_ms + timeout * 1000;
    c->poll_check_ms = s->now_ms + POLL_CHECK_MS;
    lws_rx_flow_control(c->wsi, 0); /* see client_gone */
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, (int)timeout + 10);
    c->room = r;
    c->rprev = NULL;
    c->rnext = r->polls;
    if (r->polls)
        r->polls->rprev = c;
    r->polls = c;
    rt__conn_link(c);
    return 0;

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

    for (c = s->conns; c != NULL; c = c->next) {
        if (c->kind != CONN_POLL || c->room == NULL)
            continue;
        if (s->now_ms >= c->poll_deadline_ms) {
            answer(c);
        } else if (s->now_ms >= c->poll_check_ms) {
            c->poll_check_ms = s->now_ms + POLL_CHECK_MS;
            if (client_gone(c)) {
                unlink_poll(c);
                rt__conn_drop(c, 0, "");
            }
        }
    }
}
