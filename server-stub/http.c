/*
 * http.c: routing of plain HTTP requests and the small endpoints of
 * PROTOCOL.md section 1: /health, /metrics, /rooms, /rooms/{room}/presence,
 * POST /publish/{room}, CORS and its preflight, and the errors every path
 * shares (400 bad room, 404, 405 with Allow, 413, 401/403).  /events and
 * /poll are handed to sse.c and poll.c once their request is checked.
 *
 * Small responses are written from the callback that produced them: the
 * header block, then the body with LWS_WRITE_HTTP_FINAL (lws keeps what the
 * socket does not take).  A long poll answers later, from its writable
 * callback.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rt/url.h"
#include "server_int.h"

enum http_method { M_OTHER = 0, M_GET, M_POST, M_OPTIONS, M_HEAD };

/*
 * The URL-decoded value of query argument |name| into |buf|; 1 when it is
 * there.  lws copies the whole "name=value" and points past the '='.
 */
int rt__http_arg(struct lws *wsi, const char *name, char *buf, size_t len)
{
    const char *v;
    char key[40];

    snprintf(key, sizeof(key), "%s=", name);
    buf[0] = '\0';
    v = lws_get_urlarg_by_name(wsi, key, buf, (int)len);
    if (v == NULL) {
        buf[0] = '\0'; /* lws leaves the last argument it looked at */
        return 0;
    }
    memmove(buf, v, strlen(v) + 1);
    return 1;
}

/*
 * Query argument |name| as a whole number up to |max|: 1 and *out set, 0
 * when absent or empty, -1 when it is not digits or too big.
 */
int rt__http_arg_u64(struct lws *wsi, const char *name, uint64_t max,
                     uint64_t *out)
{
    char buf[32];
    uint64_t v = 0;
    const char *p;

    if (!rt__http_arg(wsi, name, buf, sizeof(buf)) || buf[0] == '\0')
        return 0;
    for (p = buf; *p; p++) {
        if (*p < '0' || *p > '9' || v > (max - (uint64_t)(*p - '0')) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *out = v;
    return 1;
}

int rt__http_presence_arg(struct lws *wsi)
{
    char buf[32]; /* lws copies "presence=" too */

    if (!rt__http_arg(wsi, "presence", buf, sizeof(buf)))
        return 1;
    if (strcmp(buf, "1") == 0 || strcmp(buf, "true") == 0)
        return 1;
    if (strcmp(buf, "0") == 0 || strcmp(buf, "false") == 0)
        return 0;
    return -1;
}

/*
 * Whether |origin| is in --allow-origin (a comma-separated list; spaces
 * around the commas are ignored).  Without an explicit list, or with "*",
 * every origin is.
 */
int rt__origin_listed(const rt_server *s, const char *origin)
{
    const char *p = s->o.allow_origin, *end, *comma;
    size_t n = strlen(origin);

    if (p == NULL || strcmp(p, "*") == 0)
        return 1;
    while (*p) {
        comma = strchr(p, ',');
        end = comma ? comma : p + strlen(p);
        while (p < end && *p == ' ')
            p++;
        while (end > p && end[-1] == ' ')
            end--;
        if ((size_t)(end - p) == n && strncmp(p, origin, n) == 0)
            return 1;
        if (!comma)
            break;
        p = comma + 1;
    }
    return 0;
}

/* The request's Origin into |buf|; 0 when it sent none. */
int rt__request_origin(struct lws *wsi, char *buf, size_t len)
{
    return lws_hdr_copy(wsi, buf, (int)len, WSI_TOKEN_ORIGIN) > 0;
}

/* The Origin to echo in Access-Control-Allow-Origin, or NULL for none. */
static const char *cors_origin(struct conn *c, char *buf, size_t len)
{
    rt_server *s = c->srv;

    if (s->o.allow_origin == NULL || strcmp(s->o.allow_origin, "*") == 0)
        return "*";
    if (!rt__request_origin(c->wsi, buf, len))
        return NULL;
    return rt__origin_listed(s, buf) ? buf : NULL;
}

int rt__http_cors_headers(struct conn *c, unsigned char **p,
                          unsigned char *end)
{
    char buf[256];
    const char *origin = cors_origin(c, buf, sizeof(buf));

    if (origin == NULL)
        return 0;
    if (lws_add_http_header_by_name(
            c->wsi, (const unsigned char *)"access-control-allow-origin:",
            (const unsigned char *)origin, (int)strlen(origin), p, end))
        return -1;
    if (strcmp(origin, "*") != 0 &&
        lws_add_http_header_by_name(c->wsi, (const unsigned char *)"vary:",
                                    (const unsigned char *)"Origin", 6, p,
                                    end))
        return -1;
    return 0;
}

static int add_header(struct lws *wsi, const char *name, const char *value,
                      unsigned char **p, unsigned char *end)
{
    return lws_add_http_header_by_name(wsi, (const unsigned char *)name,
                                       (const unsigned char *)value,
                                       (int)strlen(value), p, end);
}

/*
 * Write a whole response now.  |allow| adds an Allow header (405).
 * Returns 0, or -1 when the connection should be closed.
 */
static int send_now(struct conn *c, int status, const char *ctype,
                    const char *body, size_t len, const char *allow)
{
    unsigned char hdr[LWS_PRE + 2048], *start = hdr + LWS_PRE, *p = start;
    unsigned char *end = hdr + sizeof(hdr) - 1;
    unsigned char *buf;
    int n;

    if (lws_add_http_common_headers(c->wsi, (unsigned)status, ctype,
                                    (lws_filepos_t)len, &p, end) ||
        rt__http_cors_headers(c, &p, end) ||
        add_header(c->wsi, "cache-control:", "no-store", &p, end) ||
        (allow && add_header(c->wsi, "allow:", allow, &p, end)) ||
        (c->method == M_POST &&
         add_header(c->wsi, "connection:", "close", &p, end)) ||
        lws_finalize_write_http_header(c->wsi, start, &p, end))
        return -1;
    c->srv->m.http_requests++;
    if (len == 0)
        return 0;
    buf = rt__malloc(LWS_PRE + len);
    if (buf == NULL)
        return -1;
    memcpy(buf + LWS_PRE, body, len);
    n = lws_write(c->wsi, buf + LWS_PRE, len, LWS_WRITE_HTTP_FINAL);
    rt__free(buf);
    return n < (int)len ? -1 : 0;
}

int rt__http_respond(struct conn *c, int status, const char *ctype,
                     const char *body, size_t len)
{
    return send_now(c, status, ctype, body, len, NULL);
}

int rt__http_error(struct conn *c, int status, rt_msg_code code,
                   const char *message)
{
    char *out;
    size_t len;
    int rc;

    c->srv->m.errors[code]++;
    rt__srv_log(c->srv, RT_SERVER_LOG_INFO, "http %d %s: %s", status,
                rt_msg_code_name(code), message);
    if (rt_msg_encode_error(code, NULL, message, &out, &len) != 0)
        return -1;
    rc = send_now(c, status, "application/json", out, len, NULL);
    rt_free(out);
    return rc;
}

/*
 * After a response: keep the connection for the next request, or close.
 * A connection that carried a request body is closed after the answer
 * (and says so): libwebsockets 4.1 spins on a request pipelined behind a
 * body, so we do not read one.
 */
static int complete(struct conn *c, int rc)
{
    if (rc != 0 || c->method == M_POST)
        return -1;
    return lws_http_transaction_completed(c->wsi) ? -1 : 0;
}

static int respond_json(struct conn *c, int status, const rt_buf *b)
{
    if (b->data == NULL)
        return complete(c, -1);
    return complete(
        c, send_now(c, status, "application/json", b->data, b->len, NULL));
}

static int method_of(struct lws *wsi)
{
    if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI))
        return M_GET;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI))
        return M_POST;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_OPTIONS_URI))
        return M_OPTIONS;
#if defined(LWS_WITH_HTTP_UNCOMMON_HEADERS) || 1
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI))
        return M_HEAD;
#endif
    return M_OTHER;
}

static int request_uri(struct lws *wsi, char *buf, size_t len)
{
    static const enum lws_token_indexes toks[] = {
        WSI_TOKEN_GET_URI,   WSI_TOKEN_POST_URI, WSI_TOKEN_OPTIONS_URI,
        WSI_TOKEN_HEAD_URI,  WSI_TOKEN_PUT_URI,  WSI_TOKEN_PATCH_URI,
        WSI_TOKEN_DELETE_URI};
    size_t i;

    for (i = 0; i < sizeof(toks) / sizeof(toks[0]); i++)
        if (lws_hdr_total_length(wsi, toks[i]) > 0)
            return lws_hdr_copy(wsi, buf, (int)len, toks[i]);
    return -1;
}

/* ------------------------------------------------------- endpoints */

/*
 * 200 ok; 503 degraded while the engine's store cannot be reached (load
 * balancers take the instance out; its connections stay up).
 */
static int ep_health(struct conn *c)
{
    static const char ok[] = "{\"status\":\"ok\"}";
    static const char degraded[] = "{\"status\":\"degraded\"}";
    struct rt__engine *e = c->srv->eng;

    if (e->ops->healthy != NULL && !e->ops->healthy(e))
        return complete(c, send_now(c, 503, "application/json", degraded,
                                    sizeof(degraded) - 1, NULL));
    return complete(
        c, send_now(c, 200, "application/json", ok, sizeof(ok) - 1, NULL));
}

static int ep_metrics(struct conn *c)
{
    rt_buf b;
    int rc;

    rt__buf_init(&b);
    if (rt__metrics_render(c->srv, &b) != 0) {
        rt__buf_cleanup(&b);
        return complete(c, -1);
    }
    rc = complete(c, send_now(c, 200,
                              "text/plain; version=0.0.4; "
                              "charset=utf-8",
                              b.data, b.len, NULL));
    rt__buf_cleanup(&b);
    return rc;
}

static int ep_rooms(struct conn *c)
{
    rt_server *s = c->srv;
    struct room *r;
    int rc = 0, first = 1;
    size_t i;
    rt_buf b;

    rt__buf_init(&b);
    rc |= rt__msg_rooms_open(&b);
    for (i = 0; i < s->nbuckets; i++) {
        for (r = s->rooms[i]; r != NULL; r = r->hnext) {
            /* a token limited to some rooms lists only those */
            if (!rt__auth_room_visible(s, c->wsi, r->name))
                continue;
            rc |= rt__msg_rooms_item(&b, first, r->name, r->nusers_online,
                                     r->seq);
            first = 0;
        }
    }
    rc |= rt__msg_rooms_close(&b);
    if (rc != 0)
        rt__buf_cleanup(&b);
    rc = respond_json(c, 200, &b);
    rt__buf_cleanup(&b);
    return rc;
}

static int ep_presence(struct conn *c, const char *room)
{
    struct room *r = rt__room_get(c->srv, room, 0);
    rt_buf b;
    int rc = 0;

    rt__buf_init(&b);
    rc |= rt__msg_presence_open(&b, room);
    if (r != NULL)
        rc |= rt__room_online_json(r, &b);
    else
        rc |= rt__buf_append(&b, "[]", 2);
    rc |= rt__msg_presence_close(&b);
    if (rc != 0)
        rt__buf_cleanup(&b);
    rc = respond_json(c, 200, &b);
    rt__buf_cleanup(&b);
    return rc;
}

static int ep_publish_done(struct conn *c)
{
    rt_server *s = c->srv;
    char clen[24];
    rt_msg_limits lim;
    rt_msg_error err;
    rt_msg *m = NULL;
    struct room *r;
    int rc;

    /*
     * libwebsockets 4.1 loses the body of a request pipelined behind
     * another; never take what is left for the message.
     */
    if (lws_hdr_copy(c->wsi, clen, sizeof(clen),
                     WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 &&
        strtoull(clen, NULL, 10) != c->body.len) {
        rt__buf_cleanup(&c->body);
        return complete(c, rt__http_error(c, 503, RT_MSG_CODE_BAD_MESSAGE,
                                          "the body did not arrive whole; "
                                          "send it again on a new "
                                          "connection"));
    }
    rt_msg_limits_init(&lim);
    lim.max_bytes = s->o.max_message_bytes;
    rc = rt_msg_parse(&m, c->body.data ? c->body.data : "", c->body.len,
                      RT_MSG_FROM_CLIENT, &lim, &err);
    rt__buf_cleanup(&c->body);
    if (rc == RT_ENOMEM)
        return complete(c, -1);
    if (rc != 0)
        return complete(
            c, rt__http_error(c, err.code == RT_MSG_CODE_TOO_LARGE ? 413 : 400,
                              err.code, err.message));
    if (m->type != RT_MSG_TEXT) {
        rt_msg_free(m);
        return complete(c, rt__http_error(c, 400, RT_MSG_CODE_BAD_MESSAGE,
                                          "only text messages can be "
                                          "published"));
    }
    s->m.received[RT_MSG_TEXT]++;
    s->m.published_http++;
    /* The stored body waits in c->body for the room and the engine. */
    rc = rt__publish_body(s, c->path, m, c->user, &c->body);
    rt_msg_free(m);
    if (rc == RT_EPROTO) {
        rt__buf_cleanup(&c->body);
        return complete(c, rt__http_error(c, 400, RT_MSG_CODE_BAD_MESSAGE,
                                          "data is not a JSON object this "
                                          "server can read"));
    }
    if (rc != 0 || c->body.data == NULL)
        return complete(c, -1);
    rc = rt__room_open(s, c->path, &r);
    if (rc == RT_EEXHAUSTED) {
        rt__buf_cleanup(&c->body);
        return complete(c, rt__http_error(c, 503, RT_MSG_CODE_TOO_MANY_ROOMS,
                                          "the server has --max-rooms "
                                          "rooms"));
    }
    if (rc != 0)
        return complete(c, -1);
    if (r->attaching && !r->attached) {
        rt__room_wait(r, c, WAIT_PUBLISH);
        return 0;
    }
    rt__http_publish_attached(c, r, r->attached);
    return 0;
}

/* The room of a publish is attached (|ok|) or cannot be: append, or 503. */
void rt__http_publish_attached(struct conn *c, struct room *r, int ok)
{
    rt_server *s = c->srv;
    int rc = RT_EINVAL;

    if (ok)
        rc = rt__publish_append(s, r, c->body.data, c->body.len, c, NULL);
    rt__buf_cleanup(&c->body);
    if (rc != 0)
        rt__http_published(
            c, rc == RT_ENOMEM ? RT__ENG_NOMEM : RT__ENG_UNAVAILABLE, 0);
    rt__room_maybe_free(s, r);
}

static int expect_continue(struct conn *c)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    unsigned char buf[LWS_PRE + sizeof(cont)];
    char v[32];

    if (lws_hdr_copy(c->wsi, v, sizeof(v), WSI_TOKEN_HTTP_EXPECT) <= 0 ||
        strcasecmp(v, "100-continue") != 0)
        return 0;
    memcpy(buf + LWS_PRE, cont, sizeof(cont) - 1);
    return lws_write(c->wsi, buf + LWS_PRE, sizeof(cont) - 1, LWS_WRITE_RAW) <
                   0
               ? -1
               : 0;
}

/*
 * The framing of a request body (RFC 9112 section 6): a POST here carries
 * one Content-Length of at most --max-body-bytes.  Transfer-Encoding is
 * refused, and with a Content-Length as well the request is a smuggling
 * attempt (6.1: the two disagree between hops) and refused whole.
 * Returns 0 when the body may be read, else the answer given.
 */
static int body_framing(struct conn *c)
{
    char te[64], cl[32];
    int nte, ncl;
    const char *p;
    uint64_t v = 0;

    nte =
        lws_hdr_copy(c->wsi, te, sizeof(te), WSI_TOKEN_HTTP_TRANSFER_ENCODING);
    ncl = lws_hdr_copy(c->wsi, cl, sizeof(cl), WSI_TOKEN_HTTP_CONTENT_LENGTH);
    if (nte != 0 &&
        lws_hdr_total_length(c->wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0)
        return rt__http_error(c, ncl != 0 ? 400 : 411, RT_MSG_CODE_BAD_MESSAGE,
                              ncl != 0 ? "both Content-Length and "
                                         "Transfer-Encoding: refused"
                                       : "send the body with a "
                                         "Content-Length, not chunked") -
               1;
    if (lws_hdr_total_length(c->wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) == 0)
        return rt__http_error(c, 411, RT_MSG_CODE_BAD_MESSAGE,
                              "a POST needs a Content-Length") -
               1;
    if (ncl <= 0)
        return rt__http_error(c, 400, RT_MSG_CODE_BAD_MESSAGE,
                              "Content-Length is not a number") -
               1;
    for (p = cl; *p; p++) {
        if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10)
            return rt__http_error(c, 400, RT_MSG_CODE_BAD_MESSAGE,
                                  "Content-Length is not a number") -
                   1;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (v > c->srv->o.max_body_bytes)
        return rt__http_error(c, 413, RT_MSG_CODE_TOO_LARGE,
                              "body over --max-body-bytes") -
               1;
    return 0;
}

/* ------------------------------------------------------------ route */

static int check_auth(struct conn *c, const char *room)
{
    enum rt_auth_result ar;

    if (c->srv->o.auth_secret == NULL) {
        if (rt__auth_user(c->srv, c->wsi, c->user, sizeof(c->user)) == 0)
            return 0;
        return rt__http_error(c, 400, RT_MSG_CODE_BAD_MESSAGE,
                              "user names are 1 to 64 of A-Z a-z 0-9 . _ -") -
               1;
    }
    ar = rt__auth_check(c->srv, c->wsi, room, c->user, sizeof(c->user));
    if (ar == RT_AUTH_OK)
        return 0;
    c->srv->m.auth_failures++;
    return ar == RT_AUTH_FORBIDDEN
               ? rt__http_error(c, 403, RT_MSG_CODE_FORBIDDEN,
                                rt__auth_reason(ar)) -
                     1
               : rt__http_error(c, 401, RT_MSG_CODE_UNAUTHORIZED,
                                rt__auth_reason(ar)) -
                     1;
}

static int preflight(struct conn *c)
{
    unsigned char hdr[LWS_PRE + 1024], *start = hdr + LWS_PRE, *p = start;
    unsigned char *end = hdr + sizeof(hdr) - 1;

    if (lws_add_http_common_headers(c->wsi, 204, "text/plain", 0, &p, end) ||
        rt__http_cors_headers(c, &p, end) ||
        add_header(c->wsi, "access-control-allow-methods:",
                   "GET, POST, OPTIONS", &p, end) ||
        add_header(c->wsi, "access-control-allow-headers:",
                   "Authorization, Content-Type, Last-Event-ID", &p, end) ||
        add_header(c->wsi, "access-control-max-age:", "600", &p, end) ||
        lws_finalize_write_http_header(c->wsi, start, &p, end))
        return -1;
    return complete(c, 0);
}

static int wrong_method(struct conn *c, const char *allow)
{
    char *out;
    size_t len;
    int rc;

    if (rt_msg_encode_error(RT_MSG_CODE_BAD_MESSAGE, NULL,
                            "method not allowed", &out, &len) != 0)
        return -1;
    rc = send_now(c, 405, "application/json", out, len, allow);
    rt_free(out);
    return complete(c, rc);
}

static int route(struct conn *c, const char *path)
{
    rt_url_room_ref ref;
    char origin[256];
    size_t n;
    int rc;

    c->method = method_of(c->wsi);
    if (c->method == M_OPTIONS)
        return preflight(c);
    /*
     * A browser sends simple requests (a text/plain POST, an EventSource)
     * without a preflight; with an explicit --allow-origin list, refuse
     * them here, or a page from anywhere could publish into a room.
     */
    if (strcmp(path, "/health") != 0 && strcmp(path, "/metrics") != 0 &&
        rt__request_origin(c->wsi, origin, sizeof(origin)) &&
        !rt__origin_listed(c->srv, origin))
        return complete(c, rt__http_error(c, 403, RT_MSG_CODE_FORBIDDEN,
                                          "origin not allowed"));
    if (strcmp(path, "/health") == 0 || strcmp(path, "/metrics") == 0 ||
        strcmp(path, "/rooms") == 0) {
        if (c->method != M_GET)
            return wrong_method(c, "GET, OPTIONS");
        if (path[1] == 'h')
            return ep_health(c);
        if (path[1] == 'm')
            return ep_metrics(c);
        if ((rc = check_auth(c, NULL)) != 0)
            return complete(c, rc + 1 == 0 ? 0 : -1);
        return ep_rooms(c);
    }
    if (strcmp(path, "/echo") == 0)
        return complete(c, rt__http_error(c, 426, RT_MSG_CODE_BAD_MESSAGE,
                                          "/echo speaks WebSocket only"));
    if (strncmp(path, "/rooms/", 7) == 0 && (n = strlen(path)) > 7 + 9 &&
        strcmp(path + n - 9, "/presence") == 0) {
        if (!rt_room_valid(path + 7, n - 7 - 9))
            return complete(c, rt__http_error(c, 400, RT_MSG_CODE_BAD_MESSAGE,
                                              "room names are 1 to 64 of "
                                              "A-Z a-z 0-9 . _ -"));
        if (c->method != M_GET)
            return wrong_method(c, "GET, OPTIONS");
        snprintf(c->path, sizeof(c->path), "%.*s", (int)(n - 16), path + 7);
        if ((rc = check_auth(c, c->path)) != 0)
            return complete(c, rc + 1 == 0 ? 0 : -1);
        return ep_presence(c, c->path);
    }
    rc = rt_url_path_room(path, strlen(path), &ref);
    /* lws hands us the path decoded: a '?' or '#' in it was in the room. */
    if (rc == RT_EURL || (rc == 0 && strpbrk(path, "?#") != NULL))
        return complete(c, rt__http_error(c, 400, RT_MSG_CODE_BAD_MESSAGE,
                                          "room names are 1 to 64 of "
                                          "A-Z a-z 0-9 . _ -"));
    if (rc != 0 || ref.prefix_len > 0)
        return complete(c, rt__http_error(c, 404, RT_MSG_CODE_BAD_MESSAGE,
                                          "no such endpoint"));
    snprintf(c->path, sizeof(c->path), "%.*s", (int)ref.room_len, ref.room);

    switch (ref.kind) {
    case RT_URL_KIND_WS:
        return complete(c, rt__http_error(c, 426, RT_MSG_CODE_BAD_MESSAGE,
                                          "this endpoint speaks WebSocket "
                                          "only"));
    case RT_URL_KIND_PUBLISH:
        if (c->method != M_POST)
            return wrong_method(c, "POST, OPTIONS");
        break;
    default:
        if (c->method != M_GET)
            return wrong_method(c, "GET, OPTIONS");
        break;
    }
    if ((rc = check_auth(c, c->path)) != 0)
        return complete(c, rc + 1 == 0 ? 0 : -1);
    if (ref.kind != RT_URL_KIND_PUBLISH &&
        (rc = rt__http_presence_arg(c->wsi)) < 0)
        return complete(c, rt__http_error(c, 400, RT_MSG_CODE_BAD_MESSAGE,
                                          "presence is 0 or 1"));
    c->no_presence = ref.kind != RT_URL_KIND_PUBLISH && rc == 0;
    switch (ref.kind) {
    case RT_URL_KIND_SSE:
        return rt__sse_start(c, c->path);
    case RT_URL_KIND_POLL:
        return rt__poll_start(c, c->path);
    case RT_URL_KIND_PUBLISH:
        c->kind = CONN_HTTP;
        if ((rc = body_framing(c)) != 0)
            return complete(c, rc + 1 == 0 ? 0 : -1);
        /* The whole body by a deadline, however it trickles in. */
        c->body_deadline_ms = c->srv->now_ms + c->srv->o.request_timeout_ms;
        rt__conn_link(c);
        return expect_continue(c); /* then wait for the body */
    default:
        break;
    }
    return complete(c, rt__http_error(c, 404, RT_MSG_CODE_BAD_MESSAGE,
                                      "no such endpoint"));
}

static void http_cleanup(struct conn *c)
{
    rt_server *s = c->srv;

    rt__ops_forget(s, c);
    rt__conn_fetch_clear(c);
    if (c->wait) {
        struct room *r = c->room;

        rt__room_unwait(c);
        rt__room_maybe_free(s, r);
    }
    if (c->sse_go) {
        /* attached for a stream that never began */
        struct room *r = c->room;

        c->sse_go = 0;
        c->room = NULL;
        if (r != NULL) {
            r->holds--;
            rt__room_maybe_free(s, r);
        }
    }
    if (c->kind == CONN_SSE) {
        if (c->room != NULL) {
            struct room *r = c->room;

            rt__room_leave(s, c);
            rt__room_maybe_free(s, r);
        }
        rt__srv_log(s, RT_SERVER_LOG_INFO, "close sse user=%s", c->user);
    }
    if (c->user_counted) {
        rt__user_conns_add(s, c->user, -1);
        c->user_counted = 0;
    }
    if (c->kind == CONN_POLL)
        rt__poll_cancel(c);
    if (c->counted) {
        s->m.conns[c->kind == CONN_SSE ? RT_TR_SSE : RT_TR_POLL]--;
        c->counted = 0;
    }
    rt__outq_clear(&c->q);
    rt__buf_cleanup(&c->body);
    rt__buf_cleanup(&c->resp);
    rt__conn_unlink(c);
    c->kind = CONN_NONE;
}

/*
 * A body past its deadline: the 408, then hang up.  Sent from whichever
 * comes first, the socket turning writable or another byte of a trickle
 * (a trickling client keeps libwebsockets in its body state, and the
 * answer must not wait on a writable callback there).
 */
static int answer_timeout(struct conn *c)
{
    rt__http_error(c, 408, RT_MSG_CODE_BAD_MESSAGE,
                   "the body did not arrive within --request-timeout");
    return -1;
}

int rt__http_callback(struct lws *wsi, enum lws_callback_reasons reason,
                      struct conn *c, void *in, size_t len)
{
    rt_server *s;

    if (c == NULL)
        return lws_callback_http_dummy(wsi, reason, NULL, in, len);
    s = c->srv;
    switch (reason) {
    case LWS_CALLBACK_HTTP: {
        char uri[512];

        c->kind = CONN_HTTP;
        c->wsi = wsi;
        int n = request_uri(wsi, uri, sizeof(uri));

        /* The whole path as sent (lws's |in| stops at a ';'), decoded. */
        if (n < 0)
            snprintf(uri, sizeof(uri), "%s", (const char *)in);
        else if (strlen(uri) != (size_t)n)
            return complete(c, rt__http_error(c, 400, RT_MSG_CODE_BAD_MESSAGE,
                                              "the path has a NUL byte"));
        return route(c, uri);
    }

    case LWS_CALLBACK_HTTP_BODY:
        if (c->timed_out)
            return answer_timeout(c); /* a trickle past its deadline */
        if (c->body.len + len > s->o.max_body_bytes) {
            /* The rest of the body is unread: answer, then hang up. */
            rt__buf_cleanup(&c->body);
            rt__http_error(c, 413, RT_MSG_CODE_TOO_LARGE,
                           "body over --max-body-bytes");
            return -1;
        }
        return rt__buf_append(&c->body, in, len) ? -1 : 0;

    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (c->timed_out)
            return 0;
        c->body_deadline_ms = 0;
        rt__conn_unlink(c);
        return ep_publish_done(c);

    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (c->kind == CONN_HTTP && c->timed_out)
            return answer_timeout(c);
        if (c->kind == CONN_HTTP && c->sse_go)
            return rt__sse_writable(c);
        if (c->kind == CONN_HTTP && c->resp_ready) {
            int rc = -1;

            c->resp_ready = 0;
            if (c->resp.data != NULL)
                rc = send_now(c, c->resp_status, "application/json",
                              c->resp.data, c->resp.len, NULL);
            rt__buf_cleanup(&c->resp);
            return complete(c, rc);
        }
        if (c->kind == CONN_SSE)
            return rt__conn_write(c);
        if (c->kind == CONN_POLL && c->resp.data != NULL) {
            int rc;

            c->resp_ready = 0;
            rc = send_now(c, c->resp_status ? c->resp_status : 200,
                          "application/json", c->resp.data, c->resp.len, NULL);

            rt__poll_cancel(c);
            rt__buf_cleanup(&c->resp);
            if (c->counted) {
                s->m.conns[RT_TR_POLL]--;
                c->counted = 0;
            }
            rt__conn_unlink(c);
            c->kind = CONN_HTTP;
            return complete(c, rc);
        }
        return 0;

    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        http_cleanup(c);
        return 0;

    default:
        return 0;
    }
}

/*
 * Bodies past their deadline: answer 408 when the socket can take it, and
 * hang up a little later whether or not it could (a client that sends
 * slowly may read slowly too).
 */
void rt__http_tick(rt_server *s)
{
    struct conn *c;

    for (c = s->conns; c != NULL; c = c->next) {
        if (c->kind != CONN_HTTP || c->body_deadline_ms == 0 ||
            s->now_ms < c->body_deadline_ms)
            continue;
        if (!c->timed_out) {
            c->timed_out = 1;
            s->m.request_timeouts++;
            rt__srv_log(s, RT_SERVER_LOG_INFO,
                        "closing request of %s: body not in within "
                        "--request-timeout (%zu bytes came)",
                        c->user[0] ? c->user : "-", c->body.len);
            lws_callback_on_writable(c->wsi);
        } else if (s->now_ms >= c->body_deadline_ms + 2000) {
            /*
             * Every tick until it is gone: libwebsockets re-arms its
             * own content timeout on each body chunk, replacing ours.
             */
            lws_set_timeout(c->wsi, PENDING_TIMEOUT_HTTP_CONTENT,
                            LWS_TO_KILL_ASYNC);
        }
    }
}
