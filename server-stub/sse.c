/*
 * sse.c: GET /events/{room}, the room as a Server-Sent Events stream
 * (PROTOCOL.md section 6).
 *
 * The stream starts with `retry: 2000` and a system welcome event whose
 * id is the room's position, so a client cut off before any message still
 * resumes from where it joined.  A resumed stream (Last-Event-ID, or
 * ?lastEventId= for clients that cannot set headers) gets a welcome without
 * an id, the held messages after that position, and a `resumed` system
 * event saying whether nothing was lost.  Stored messages carry
 * `id: EPOCH-SEQ`; presence and typing events carry none.  A `: keepalive`
 * comment goes out every --sse-keepalive.  SSE connections share the send
 * queue and slow-consumer rule of WebSockets.
 */
#include <stdlib.h>
#include <string.h>

#include "server_int.h"

/* Queue |text| as it is (a comment or a field line) on an SSE stream. */
static int send_raw(struct conn *c, const char *text, size_t len)
{
    struct smsg *m = rt__smsg_new("", 0, RT_MSG_SYSTEM, 0x1);
    int rc;

    if (m == NULL)
        return RT_ENOMEM;
    m->sse = rt__strndup(text, len);
    m->sse_len = len;
    if (m->sse == NULL) {
        rt__smsg_unref(m);
        return RT_ENOMEM;
    }
    rc = rt__conn_send(c, m);
    rt__smsg_unref(m);
    return rc;
}

static int sse_begin(struct conn *c, struct room *r);

/* Split "EPOCH-SEQ" at its last '-'. */
static int parse_event_id(const char *id, char *epoch, size_t elen,
                          uint64_t *seq)
{
    const char *dash = strrchr(id, '-'), *p;
    uint64_t v = 0;

    if (dash == NULL || dash == id || (size_t)(dash - id) >= elen ||
        dash[1] == '\0')
        return -1;
    for (p = dash + 1; *p; p++) {
        if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    memcpy(epoch, id, (size_t)(dash - id));
    epoch[dash - id] = '\0';
    *seq = v;
    return 0;
}

int rt__sse_start(struct conn *c, const char *room)
{
    rt_server *s = c->srv;
    char last_id[128] = "", epoch[40] = "";
    struct room *r;
    uint64_t since = 0;
    int resumed = 0, n;

    /* Read everything from the request before mark_sse drops it. */
    n = lws_hdr_custom_copy(c->wsi, last_id, sizeof(last_id),
                            "last-event-id:", 14);
    if (n <= 0)
        rt__http_arg(c->wsi, "lastEventId", last_id, sizeof(last_id));
    if (last_id[0] != '\0') {
        /*
         * A position we cannot read is still a claim to have seen
         * something: resume from nothing and say recovered:false.
         */
        resumed = 1;
        if (parse_event_id(last_id, epoch, sizeof(epoch), &since) != 0) {
            snprintf(epoch, sizeof(epoch), "-");
            since = 0;
        }
    }
    n = rt__conn_admit(c, room, &r);
    if (n == RT_MSG_CODE_TOO_MANY_CONNECTIONS)
        return rt__http_error(c, 429, RT_MSG_CODE_TOO_MANY_CONNECTIONS,
                              "too many connections for this user")
                   ? -1
                   : (lws_http_transaction_completed(c->wsi) ? -1 : 0);
    if (n == RT_MSG_CODE_TOO_MANY_ROOMS)
        return rt__http_error(c, 503, RT_MSG_CODE_TOO_MANY_ROOMS,
                              "the server has --max-rooms rooms")
                   ? -1
                   : (lws_http_transaction_completed(c->wsi) ? -1 : 0);
    if (n == RT_MSG_CODE_ROOM_FULL)
        return rt__http_error(c, 503, RT_MSG_CODE_ROOM_FULL, "room is full")
                   ? -1
                   : (lws_http_transaction_completed(c->wsi) ? -1 : 0);
    if (n != 0)
        return -1;
    c->want_since = (int8_t)resumed;
    c->since = since;
    snprintf(c->epoch, sizeof(c->epoch), "%s", epoch);
    if (r->attached)
        return sse_begin(c, r);
    if (r->attaching) {
        rt__room_wait(r, c, WAIT_SSE);
        return 0;
    }
    rt__room_maybe_free(s, r);
    return rt__http_error(c, 503, RT_MSG_CODE_UNAVAILABLE,
                          "the server's store cannot be reached")
               ? -1
               : (lws_http_transaction_completed(c->wsi) ? -1 : 0);
}

/*
 * The engine attached the room of a parked stream (|ok|), or could not:
 * the stream begins, or is answered 503, from the next writable callback.
 */
void rt__sse_attached(struct conn *c, struct room *r, int ok)
{
    c->sse_go = ok ? 1 : 2;
    c->room = ok ? r : NULL;
    if (ok)
        r->holds++;
    else
        rt__room_maybe_free(c->srv, r);
    lws_callback_on_writable(c->wsi);
}

int rt__sse_writable(struct conn *c)
{
    struct room *r = c->room;
    int go = c->sse_go;

    c->sse_go = 0;
    c->room = NULL;
    if (go == 1) {
        r->holds--;
        return sse_begin(c, r);
    }
    return rt__http_error(c, 503, RT_MSG_CODE_UNAVAILABLE,
                          "the server's store cannot be reached")
               ? -1
               : (lws_http_transaction_completed(c->wsi) ? -1 : 0);
}

/* The room is attached: the headers, the welcome, any resume. */
static int sse_begin(struct conn *c, struct room *r)
{
    rt_server *s = c->srv;
    unsigned char hdr[LWS_PRE + 1024], *start = hdr + LWS_PRE, *p = start;
    unsigned char *end = hdr + sizeof(hdr) - 1;
    int resumed = c->want_since;
    rt_buf b;

    if (lws_add_http_common_headers(c->wsi, 200, "text/event-stream",
                                    LWS_ILLEGAL_HTTP_CONTENT_LEN, &p, end) ||
        rt__http_cors_headers(c, &p, end) ||
        lws_add_http_header_by_name(
            c->wsi, (const unsigned char *)"cache-control:",
            (const unsigned char *)"no-cache", 8, &p, end) ||
        /* nginx buffers a proxied response without it */
        lws_add_http_header_by_name(
            c->wsi, (const unsigned char *)"x-accel-buffering:",
            (const unsigned char *)"no", 2, &p, end) ||
        lws_finalize_write_http_header(c->wsi, start, &p, end))
        return -1;
    lws_http_mark_sse(c->wsi);
    /*
     * Reading stays on: off, libwebsockets 4.1 on libuv no longer wrote
     * what a resumed stream queued.  A client that left spins the loop
     * until the next look (conn.c).
     */
    rt__conn_watch_gone(c);

    c->kind = CONN_SSE;
    c->counted = 1;
    c->opened_ms = s->now_ms;
    c->keepalive_due_ms = s->now_ms + s->o.sse_keepalive_ms;
    s->m.conns[RT_TR_SSE]++;
    s->m.accepted[RT_TR_SSE]++;
    rt__conn_link(c);
    rt__room_join(s, r, c);

    rt__buf_init(&b);
    if (send_raw(c, "retry: 2000\n\n", 13) != 0 ||
        rt__frame_welcome(s, r, c->user, &b) != 0) {
        rt__buf_cleanup(&b);
        return -1;
    }
    /*
     * The welcome's id is the room's position; a resumed stream's welcome
     * has none, so a client cut off during the replay keeps its own.
     */
    if (!resumed) {
        rt_buf ev;
        int rc = 0;

        rt__buf_init(&ev);
        rc |=
            rt__buf_printf(&ev, "id: %s-%llu\nevent: system\ndata: ", r->epoch,
                           (unsigned long long)r->seq);
        rc |= rt__buf_append(&ev, b.data, b.len);
        rc |= rt__buf_append(&ev, "\n\n", 2);
        if (rc == 0)
            rc = send_raw(c, ev.data, ev.len);
        rt__buf_cleanup(&ev);
        if (rc != 0) {
            rt__buf_cleanup(&b);
            return -1;
        }
    } else if (rt__conn_send_json(c, b.data, b.len, RT_MSG_SYSTEM) != 0) {
        /* Not stored, so its event has no id line. */
        rt__buf_cleanup(&b);
        return -1;
    }
    if (resumed)
        rt__conn_resume(s, r, c, c->since, c->epoch);
    rt__buf_cleanup(&b);
    rt__srv_log(s, RT_SERVER_LOG_INFO, "open sse room=%s user=%s%s", r->name,
                c->user, resumed ? " (resume)" : "");
    return 0;
}

/* Keepalive comments, and the end of every stream at shutdown. */
void rt__sse_tick(rt_server *s)
{
    struct conn *c;

    for (c = s->conns; c != NULL; c = c->next) {
        if (c->kind != CONN_SSE || c->killed)
            continue;
        if (s->now_ms >= c->keepalive_due_ms) {
            c->keepalive_due_ms = s->now_ms + s->o.sse_keepalive_ms;
            if (c->q.n == 0)
                send_raw(c, ": keepalive\n\n", 13);
        }
    }
}
