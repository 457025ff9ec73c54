/*
 * ws.c: the WebSocket endpoints: /ws/{room} (PROTOCOL.md sections 3 to 5)
 * and /echo (every frame back as it came).
 *
 * libwebsockets does the RFC 6455 framing: masking, control frames, close
 * handshakes, protocol errors (1002) and, with VALIDATE_UTF8, invalid text
 * (1007).  What it leaves to us: reassembling fragmented messages under
 * --max-message-bytes (1009 past it), which also bounds what
 * permessage-deflate may inflate to, since we count inflated bytes.
 */
#include <string.h>

#include <cjson/cJSON.h>

#include "rt/url.h"
#include "server_int.h"

/* Path of the upgrade request, or "" when lws has none. */
static void request_path(struct lws *wsi, char *buf, size_t len)
{
    int n = lws_hdr_copy(wsi, buf, (int)len, WSI_TOKEN_GET_URI);

    if (n < 0)
        buf[0] = '\0';
}

static int origin_allowed(rt_server *s, struct lws *wsi)
{
    char origin[256];

    /* No Origin: not a browser, nothing to check. */
    return !rt__request_origin(wsi, origin, sizeof(origin)) ||
           rt__origin_listed(s, origin);
}

static const char *status_text(int status)
{
    switch (status) {
    case 426:
        return "Upgrade Required\r\nsec-websocket-version: 13";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    default:
        return "Not Found";
    }
}

/*
 * Refuse an upgrade with a whole HTTP/1.1 response written raw: at this
 * step lws would head it HTTP/1.0, which WebSocket clients refuse to read.
 * Returns 1 (answered) or -1 (hang up).
 */
static int reject(struct lws *wsi, rt_server *s, int status, rt_msg_code code,
                  const char *message)
{
    unsigned char *buf;
    char *body;
    size_t blen;
    rt_buf b;
    int n;

    s->m.errors[code]++;
    rt__srv_log(s, RT_SERVER_LOG_INFO, "refused upgrade, %d %s: %s", status,
                rt_msg_code_name(code), message);
    if (rt_msg_encode_error(code, NULL, message, &body, &blen) != 0)
        return -1;
    rt__buf_init(&b);
    n = rt__buf_append(&b, "", 0) ||
        rt__buf_printf(&b,
                       "HTTP/1.1 %d %s\r\ncontent-type: application/json"
                       "\r\ncontent-length: %zu\r\nconnection: close\r\n"
                       "cache-control: no-store\r\n\r\n",
                       status, status_text(status), blen) ||
        rt__buf_append(&b, body, blen);
    rt_free(body);
    if (n != 0 || (buf = rt__malloc(LWS_PRE + b.len)) == NULL) {
        rt__buf_cleanup(&b);
        return -1;
    }
    memcpy(buf + LWS_PRE, b.data, b.len);
    n = lws_write(wsi, buf + LWS_PRE, b.len, LWS_WRITE_RAW);
    rt__free(buf);
    rt__buf_cleanup(&b);
    return n < 0 ? -1 : 1;
}

/*
 * LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: refuse a bad upgrade with an HTTP
 * answer the client can read, before any WebSocket exists.
 */
int rt__ws_confirm_upgrade(struct lws *wsi, struct conn *pss)
{
    rt_server *s = lws_context_user(lws_get_context(wsi));
    char path[256], user[RT_NAME_MAX + 1] = "", ver[8];
    rt_url_room_ref ref;
    int rc;

    (void)pss; /* lws has no session data for us yet at this step */
    request_path(wsi, path, sizeof(path));
    if (strcmp(path, "/echo") == 0)
        return origin_allowed(s, wsi)
                   ? 0
                   : reject(wsi, s, 403, RT_MSG_CODE_FORBIDDEN,
                            "origin not allowed");
    /* RFC 6455 4.4: only version 13 is spoken here. */
    if (lws_hdr_copy(wsi, ver, sizeof(ver), WSI_TOKEN_VERSION) > 0 &&
        strcmp(ver, "13") != 0)
        return reject(wsi, s, 426, RT_MSG_CODE_BAD_MESSAGE,
                      "only WebSocket version 13 is supported");
    rc = rt_url_path_room(path, strlen(path), &ref);
    /* lws hands us the path decoded: a '?' or '#' in it was in the room. */
    if (rc == RT_EURL || (rc == 0 && strpbrk(path, "?#") != NULL))
        return reject(wsi, s, 400, RT_MSG_CODE_BAD_MESSAGE,
                      "room names are 1 to 64 of A-Z a-z 0-9 . _ -");
    if (rc != 0 || ref.kind != RT_URL_KIND_WS || ref.prefix_len > 0)
        return reject(wsi, s, 404, RT_MSG_CODE_BAD_MESSAGE,
                      "no WebSocket endpoint here: use /ws/{room} or /echo");
    if (!origin_allowed(s, wsi))
        return reject(wsi, s, 403, RT_MSG_CODE_FORBIDDEN,
                      "origin not allowed");
    if (s->o.auth_secret == NULL &&
        rt__auth_user(s, wsi, user, sizeof(user)) != 0)
        return reject(wsi, s, 400, RT_MSG_CODE_BAD_MESSAGE,
                      "user names are 1 to 64 of A-Z a-z 0-9 . _ -");
    if (rt__http_presence_arg(wsi) < 0)
        return reject(wsi, s, 400, RT_MSG_CODE_BAD_MESSAGE,
                      "presence is 0 or 1");
    return 0;
}

/* ---------------------------------------------------------- opening */

/*
 * permessage-deflate: let a whole message inflate in one pass.  lws 4.1
 * hands over the rest of a message that inflates past its buffer only
 * when more bytes arrive, which on a foreign loop may be never; sizing the
 * buffer to the message limit (it takes a power of two up to 64 KiB)
 * leaves nothing behind.
 */
static void pmd_whole_messages(rt_server *s, struct lws *wsi)
{
    char v[8];
    int bits = 9;

    while (bits < 16 && ((size_t)1 << bits) < s->o.max_message_bytes)
        bits++;
    snprintf(v, sizeof(v), "%d", bits);
    lws_set_extension_option(wsi, "permessage-deflate", "rx_buf_size", v);
}

static int ws_open(struct conn *c)
{
    rt_server *s = c->srv;
    struct lws *wsi = c->wsi;
    char path[256];
    enum rt_auth_result ar;
    rt_url_room_ref ref;
    struct room *r;
    uint64_t since = 0;
    int has_since;
    int rc = 0;

    request_path(wsi, path, sizeof(path));
    c->opened_ms = s->now_ms;
    c->heard_ms = s->now_ms;
    c->ping_ms = s->now_ms;
    rt__conn_link(c);
    if (strcmp(path, "/echo") == 0) {
        c->kind = CONN_ECHO;
        c->counted = 1;
        s->m.conns[RT_TR_ECHO]++;
        s->m.accepted[RT_TR_ECHO]++;
        ar = rt__auth_check(s, wsi, NULL, c->user, sizeof(c->user));
        if (ar != RT_AUTH_OK) {
            s->m.auth_failures++;
            rt__conn_close(c, 1008, rt__auth_reason(ar));
            return 0;
        }
        rt__srv_log(s, RT_SERVER_LOG_INFO, "open echo");
        return 0;
    }
    if (s->o.compress)
        pmd_whole_messages(s, wsi);
    c->kind = CONN_WS;
    c->counted = 1;
    s->m.conns[RT_TR_WS]++;
    s->m.accepted[RT_TR_WS]++;
    if (rt_url_path_room(path, strlen(path), &ref) != 0) {
        rt__conn_close(c, 1011, "internal error");
        return 0;
    }
    snprintf(c->path, sizeof(c->path), "%.*s", (int)ref.room_len, ref.room);

    ar = rt__auth_check(s, wsi, c->path, c->user, sizeof(c->user));
    if (ar != RT_AUTH_OK) {
        s->m.auth_failures++;
        rt__srv_log(s, RT_SERVER_LOG_INFO, "refused ws in room %s: %s",
                    c->path, rt__auth_reason(ar));
        rt__conn_send_error(c,
                            ar == RT_AUTH_FORBIDDEN ? RT_MSG_CODE_FORBIDDEN
                                                    : RT_MSG_CODE_UNAUTHORIZED,
                            NULL, rt__auth_reason(ar));
        rt__conn_close(c, 1008, rt__auth_reason(ar));
        return 0;
    }
    if (s->o.max_user_connections > 0) {
        int n = rt__user_conns_add(s, c->user, 1);

        c->user_counted = 1;
        if (n < 0 || (unsigned)n > s->o.max_user_connections) {
            rt__conn_send_error(c, RT_MSG_CODE_TOO_MANY_CONNECTIONS, NULL,
                                "too many connections for this user");
            rt__conn_close(c, 1008, "too many connections");
            return 0;
        }
    }
    rc = rt__room_open(s, c->path, &r);
    if (rc == RT_EEXHAUSTED) {
        rt__conn_send_error(c, RT_MSG_CODE_TOO_MANY_ROOMS, NULL,
                            "the server has --max-rooms rooms");
        rt__conn_close(c, 1013, "too many rooms");
        return 0;
    }
    if (rc != 0) {
        rt__conn_close(c, 1011, "internal error");
        return 0;
    }
    if (s->o.max_room_connections > 0 &&
        r->nmembers >= s->o.max_room_connections) {
        c->room = NULL;
        rt__conn_send_error(c, RT_MSG_CODE_ROOM_FULL, NULL, "room is full");
        rt__conn_close(c, 1013, "room full");
        rt__room_maybe_free(s, r);
        return 0;
    }

    has_since = rt__http_arg_u64(wsi, "since", UINT64_MAX, &since);
    if (has_since < 0) {
        rt__conn_send_error(c, RT_MSG_CODE_BAD_MESSAGE, NULL,
                            "since must be a whole number");
        has_since = 0;
    }
    c->want_since = has_since > 0;
    c->since = since;
    rt__http_arg(wsi, "epoch", c->epoch, sizeof(c->epoch));
    c->no_presence = rt__http_presence_arg(wsi) == 0;
    if (r->attached) {
        rt__ws_join(c, r);
    } else if (r->attaching) {
        rt__room_wait(r, c, WAIT_WS);
    } else {
        rt__ws_unavailable(c);
        rt__room_maybe_free(s, r);
    }
    return 0;
}

void rt__ws_unavailable(struct conn *c)
{
    rt__conn_send_error(c, RT_MSG_CODE_UNAVAILABLE, NULL,
                        "the server's store cannot be reached");
    rt__conn_close(c, 1013, "store unavailable");
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

/* ------------------------------------------------------- receiving */

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

    (void)s;
    rt__buf_init(&data);
    /* No one speaks for someone else (rtctl-protocol(7), AUTHORS). */
    if ((rc = rt__author_set(m->data, m->data_len, user, &data)) != 0)
        goto done;
    m->room = room;
    m->has_seq = 0;
    m->has_timestamp = 1;
    m->timestamp = rt__srv_wall();
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
    rt_buf b;
    int rc = 0;

    rt__buf_init(&b);
    rc |= rt__buf_append(&b, "{\"type\":\"typing\",\"room\":", 24);
    rc |= rt__buf_json_str(&b, r->name, strlen(r->name));
    rc |= rt__buf_append(&b, ",\"data\":{\"user\":", 16);
    rc |= rt__buf_json_str(&b, user, strlen(user));
    rc |= rt__buf_printf(&b, ",\"state\":%s}}", state ? "true" : "false");
    if (rc == 0 &&
        (sm = rt__smsg_new(b.data, b.len, RT_MSG_TYPING, 0x1)) != NULL) {
        for (c = r->members; c != NULL; c = next) {
            next = c->rnext;
            if (strcmp(c->user, user) != 0)
                rt__conn_send(c, sm);
        }
        rt__smsg_unref(sm);
    }
    rt__buf_cleanup(&b);
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

static void handle_message(struct conn *c)
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

static int ws_receive(struct conn *c, const void *in, size_t len)
{
    rt_server *s = c->srv;
    struct lws *wsi = c->wsi;
    int final;

    s->m.bytes_in += len;
    if (c->kind == CONN_WS)
        rt__room_heard(s, c);
    else
        c->heard_ms = s->now_ms;
    if (lws_is_first_fragment(wsi)) {
        rt__buf_clear(&c->rx);
        c->rx_overflow = 0;
        c->rx_binary = lws_frame_is_binary(wsi);
    }
    if (c->closing || c->killed)
        return 0;
    if (!c->rx_overflow) {
        /* Count what the frame header announces, not only what came. */
        if (c->rx.len + len + lws_remaining_packet_payload(wsi) >
            s->o.max_message_bytes) {
            c->rx_overflow = 1;
            rt__buf_cleanup(&c->rx);
            if (c->kind == CONN_WS)
                rt__conn_send_error(c, RT_MSG_CODE_TOO_LARGE, NULL,
                                    "message over --max-message-bytes");
            rt__conn_close(c, 1009, "message too large");
            return 0;
        }
        if (rt__buf_append(&c->rx, in, len) != 0)
            return -1;
    }
    final =
        lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0;
    if (!final || c->rx_overflow)
        return 0;
    if (c->kind == CONN_ECHO) {
        struct smsg *m = rt__smsg_new(c->rx.data ? c->rx.data : "", c->rx.len,
                                      RT_MSG_TEXT, c->rx_binary ? 0x2 : 0x1);

        if (m == NULL)
            return -1;
        rt__conn_send(c, m);
        rt__smsg_unref(m);
    } else {
        handle_message(c);
    }
    rt__buf_clear(&c->rx);
    return 0;
}

/*
 * Heartbeats (PROTOCOL.md section 3): ping a WebSocket that has been quiet
 * for --ping-interval, and drop one that has not answered for two.  The
 * ping carries the time it left, in decimal, so its pong is never empty
 * (lws does not report empty pongs).
 */
void rt__ws_tick(rt_server *s)
{
    uint64_t iv = s->o.ping_interval_s * 1000ULL;
    char payload[24];
    struct conn *c;
    int n;

    for (c = s->conns; c != NULL; c = c->next) {
        if ((c->kind != CONN_WS && c->kind != CONN_ECHO) || c->killed ||
            c->closing)
            continue;
        if (c->ru == NULL && c->room != NULL)
            rt__typing_flush(s, c->room, c->user, &c->typing);
        if (s->now_ms - c->heard_ms >= 2 * iv) {
            rt__srv_log(s, RT_SERVER_LOG_INFO,
                        "closing silent connection of %s: no pong for %llu "
                        "ms",
                        c->user[0] ? c->user : "-",
                        (unsigned long long)(s->now_ms - c->heard_ms));
            rt__metrics_close(s, 1001);
            rt__conn_drop(c, 1001, "no pong");
            continue;
        }
        if (s->now_ms - c->heard_ms >= iv && s->now_ms - c->ping_ms >= iv) {
            /* Text, since lws checks pong payloads as UTF-8. */
            n = snprintf(payload, sizeof(payload), "%llu",
                         (unsigned long long)s->now_ms);
            c->ping_ms = s->now_ms;
            rt__conn_send_control(c, 0x9, payload, (size_t)n);
        }
    }
}

static void ws_closed(struct conn *c)
{
    rt_server *s = c->srv;

    if (c->kind == CONN_WS || c->kind == CONN_ECHO)
        rt__srv_log(s, RT_SERVER_LOG_INFO, "close %s room=%s user=%s",
                    c->kind == CONN_ECHO ? "echo" : "ws",
                    c->room ? c->room->name : "-", c->user[0] ? c->user : "-");
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
    if (c->counted) {
        s->m.conns[c->kind == CONN_ECHO ? RT_TR_ECHO : RT_TR_WS]--;
        c->counted = 0;
    }
    rt__outq_clear(&c->q);
    rt__buf_cleanup(&c->rx);
    rt__conn_unlink(c);
    c->kind = CONN_NONE;
}

int rt__ws_callback(struct lws *wsi, enum lws_callback_reasons reason,
                    struct conn *c, void *in, size_t len)
{
    (void)wsi;
    if (c == NULL)
        return 0;
    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED:
        return ws_open(c);
    case LWS_CALLBACK_RECEIVE:
        return ws_receive(c, in, len);
    case LWS_CALLBACK_RECEIVE_PONG:
        if (c->kind == CONN_WS)
            rt__room_heard(c->srv, c);
        else
            c->heard_ms = c->srv->now_ms;
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return rt__conn_write(c);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        /* 1000 (done) and 1001 (going away) end a session on purpose. */
        if (len >= 2) {
            const unsigned char *p = in;
            unsigned code = (unsigned)p[0] << 8 | p[1];

            c->clean_close = code == 1000 || code == 1001;
        }
        return 0;
    case LWS_CALLBACK_CLOSED:
        ws_closed(c);
        return 0;
    default:
        return 0;
    }
}
