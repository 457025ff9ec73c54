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
    if ((rc = rt__conn_admit(c, c->path, &r)) != 0) {
        rt__ws_refuse(c, rc);
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

/* ------------------------------------------------------- receiving */

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
        rt__ws_message(c);
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
    rt__conn_gone(c);
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
