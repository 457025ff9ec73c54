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

/*
 * Keep lws from timing the request out while it waits for the room, the
 * engine or a message, and stop reading it meanwhile (conn.c says why).
 */
static void hold(struct conn *c)
{
    uint64_t now = c->srv->now_ms, left = 0;

    if (c->poll_deadline_ms > now)
        left = (c->poll_deadline_ms - now + 999) / 1000;
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, (int)left + 10);
    /*
     * Not read meanwhile: its end of file would spin the loop (an SSE
     * stream does the same for at most a second).  The shell turns
     * reading on again to answer.
     */
    lws_rx_flow_control(c->wsi, 0);
    rt__conn_watch_gone(c);
}

/*
 * The room is attached: answer at once (|inline|: from the request's own
 * callback; else when writable), read what the cache lacks from the
 * engine, or wait on the room for the next message.
 */
static int poll_go(struct conn *c, struct room *r, int inline_)
{
    rt_buf b;
    int rc;

    rt__buf_init(&b);
    rc = rt__poll_go(c, r, &b);
    if (rc == 0) {
        hold(c); /* past lws's own request timeout */
        return 0;
    }
    if (rc < 0) {
        rt__buf_cleanup(&b);
        return -1;
    }
    if (!inline_) {
        rt__poll_answer(c, &b, 200);
        return 0;
    }
    rc = rt__http_respond(c, 200, "application/json", b.data, b.len);
    rt__buf_cleanup(&b);
    if (rc != 0)
        return -1;
    return lws_http_transaction_completed(c->wsi) ? -1 : 0;
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
    rt__poll_answer(c, &b, 503);
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
        rt__poll_enlist(c);
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
