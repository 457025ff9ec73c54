/*
 * cmd_connect.c: `rtctl connect`, a raw interactive WebSocket session
 * with any server (wscat, websocat).
 *
 * rt_ws_client in raw mode: each line of standard input becomes one text
 * frame (one binary frame with --binary), each frame received is printed
 * on stdout, one a line.  No protocol, no ordering; by default no
 * reconnection either (--reconnect turns the client's backoff on).
 *
 * Ending: at the end of standard input the frames still queued are
 * written, then the connection is closed with 1000 and the command exits
 * 0.  A close by the server ends the command too (unless --reconnect
 * reconnects): exit 0 after a normal close (1000) or a server going away
 * (1001), 1 after any other code or a connection lost without a close
 * frame (1006); with --exit-on-close only 1000 is 0, and the first close
 * ends the command even with --reconnect (which then only retries until
 * the first connection opens).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <uv.h>

#include "cmd.h"
#include "core_int.h"
#include "exit.h"
#include "lines.h"
#include "opts.h"
#include "output.h"
#include "rt/error.h"
#include "rt/ws_client.h"
#include "session.h"

static const char *const connect_usage[] = {
    "rtctl connect [options] URL",
    NULL,
};

static const struct rt_cmd_help connect_help = {
    "connect", connect_usage,
    "Open a WebSocket to URL (any server; a path or room is relative to "
    "--url) and stay on it: each line of standard input is sent as a text "
    "frame, each frame received is printed on a line. The end of standard "
    "input closes the connection (1000) once every line was sent. No "
    "reconnection unless --reconnect.",
};

#define MAX_LINE (16 * 1024 * 1024) /* the client's largest message */
#define DRAIN_MS 10 /* how often a held line or the close is retried */

struct conn {
    struct rt_session s;
    rt_ws_client *ws;
    struct rt_lines in;
    uv_timer_t drain;   /* retries a held line, and the close at EOF */
    int drain_ready;
    int binary;         /* --binary */
    int show_control;   /* --show-control */
    int exit_on_close;  /* --exit-on-close */
    char *held;         /* a line the full queue did not take */
    size_t held_len;
    int in_done;        /* standard input ended */
    int closing;        /* rt_ws_client_close() was called */
};

/* --- output */

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* RFC 4648 section 4 base64, with padding. */
static int append_base64(rt_buf *b, const unsigned char *p, size_t len)
{
    char q[4];
    size_t i;
    uint32_t v;

    for (i = 0; i + 2 < len; i += 3) {
        v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        q[0] = b64[v >> 18];
        q[1] = b64[(v >> 12) & 63];
        q[2] = b64[(v >> 6) & 63];
        q[3] = b64[v & 63];
        if (rt__buf_append(b, q, 4) != 0)
            return RT_ENOMEM;
    }
    if (i < len) {
        v = (uint32_t)p[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)p[i + 1] << 8;
        q[0] = b64[v >> 18];
        q[1] = b64[(v >> 12) & 63];
        q[2] = i + 1 < len ? b64[(v >> 6) & 63] : '=';
        q[3] = '=';
        if (rt__buf_append(b, q, 4) != 0)
            return RT_ENOMEM;
    }
    return 0;
}

static int append_hex(rt_buf *b, const unsigned char *p, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    char h[2];
    size_t i;

    for (i = 0; i < len; i++) {
        h[0] = hex[p[i] >> 4];
        h[1] = hex[p[i] & 15];
        if (rt__buf_append(b, h, 2) != 0)
            return RT_ENOMEM;
    }
    return 0;
}

static void on_frame(rt_ws_client *c, int binary, const char *data,
                     size_t len, void *ud)
{
    struct conn *k = ud;
    rt_buf b;
    int rc = 0;

    (void)c;
    k->s.done++;
    rt__buf_init(&b);
    if (k->s.out.json) {
        const char *head = binary ? "{\"event\":\"binary\",\"data\":\""
                                  : "{\"event\":\"text\",\"data\":";

        rc |= rt__buf_append(&b, head, strlen(head));
        if (binary)
            rc |= append_base64(&b, (const unsigned char *)data, len);
        else
            rc |= rt__buf_json_str(&b, data, len);
        rc |= rt__buf_append(&b, binary ? "\"}" : "}", binary ? 2 : 1);
    } else if (binary) {
        rc |= rt__buf_printf(&b, "[binary %zu bytes] ", len);
        rc |= append_hex(&b, (const unsigned char *)data, len);
    } else {
        rc |= rt__buf_append(&b, data, len);
    }
    if (rc == 0)
        rt_out_line(&k->s.out, b.data, b.len);
    rt__buf_cleanup(&b);
    /* A person or a pipeline waits for each frame as it comes. */
    rt_out_flush(&k->s.out);
}

/* The control frames, on stderr: "> ping: DATA", "< close 1001: REASON". */
static void on_control(rt_ws_client *c, rt_ws_control what, unsigned code,
                       const char *data, size_t len, void *ud)
{
    struct conn *k = ud;
    rt_buf b;
    int rc = 0;

    (void)c;
    if (!k->show_control)
        return;
    rt__buf_init(&b);
    if (k->s.out.json) {
        rc |= rt__buf_printf(&b, "{\"event\":\"%s\"",
                             what == RT_WS_PING_SENT        ? "ping"
                             : what == RT_WS_PONG_RECEIVED ? "pong"
                                                           : "close");
        if (what == RT_WS_CLOSE_RECEIVED)
            rc |= rt__buf_printf(&b, ",\"code\":%u,\"reason\":", code);
        else
            rc |= rt__buf_append(&b, ",\"data\":", 8);
        rc |= rt__buf_json_str(&b, data != NULL ? data : "", len);
        rc |= rt__buf_append(&b, "}\n", 2);
    } else {
        rc |= rt__buf_printf(&b, "rtctl connect: %s",
                             what == RT_WS_PING_SENT        ? "> ping"
                             : what == RT_WS_PONG_RECEIVED ? "< pong"
                                                           : "< close");
        if (what == RT_WS_CLOSE_RECEIVED)
            rc |= rt__buf_printf(&b, " %u", code);
        if (len > 0) {
            rc |= rt__buf_append(&b, ": ", 2);
            /* Control payloads are bytes; keep the terminal safe. */
            for (size_t i = 0; i < len && rc == 0; i++) {
                unsigned char ch = (unsigned char)data[i];

                if (ch >= 0x20 && ch < 0x7f)
                    rc |= rt__buf_putc(&b, (char)ch);
                else
                    rc |= rt__buf_printf(&b, "\\x%02x", ch);
            }
        }
        rc |= rt__buf_putc(&b, '\n');
    }
    if (rc == 0)
        fwrite(b.data, 1, b.len, stderr);
    rt__buf_cleanup(&b);
}

/* --- sending standard input */

static void stop(void *ud);

/* Queue |line|; 1 when the queue was full (the caller holds the line). */
static int send_line(struct conn *k, const char *line, size_t len)
{
    int rc = rt_ws_client_send(k->ws, k->binary, line, len);

    if (rc == RT_EFULL)
        return 1;
    if (rc != 0 && rc != RT_ESTATE)
        rt_warnf(&k->s.out, "a line was not sent: %s", rt_strerror(rc));
    return 0;
}

static void on_drain(uv_timer_t *t);

static void on_line(struct rt_lines *l, char *line, size_t len, void *ud)
{
    struct conn *k = ud;

    if (k->closing || k->ws == NULL)
        return;
    if (send_line(k, line, len) == 0)
        return;
    /* The client's queue is full: hold the line, wait for room. */
    k->held = rt__strndup(line, len);
    k->held_len = len;
    if (k->held == NULL) {
        rt_errf(&k->s.out, "out of memory");
        rt_session_outcome(&k->s, RTCTL_EXIT_RUNTIME);
        stop(k);
        return;
    }
    rt_lines_pause(l);
    uv_timer_start(&k->drain, on_drain, DRAIN_MS, DRAIN_MS);
}

static void on_input_end(struct rt_lines *l, int err, void *ud)
{
    struct conn *k = ud;

    (void)l;
    k->in_done = 1;
    if (err != 0) {
        rt_session_input_failed(&k->s, err, MAX_LINE);
        stop(k);
        return;
    }
    uv_timer_start(&k->drain, on_drain, 0, DRAIN_MS);
}

/*
 * The client says nothing when its queue has room again, or when the last
 * frame was written: look every DRAIN_MS while something waits for that.
 */
static void on_drain(uv_timer_t *t)
{
    struct conn *k = t->data;

    if (k->closing || k->ws == NULL) {
        uv_timer_stop(t);
        return;
    }
    if (k->held != NULL) {
        if (send_line(k, k->held, k->held_len) != 0)
            return;
        rt__free(k->held);
        k->held = NULL;
        if (!k->in_done)
            rt_lines_resume(&k->in);
    }
    if (!k->in_done) {
        uv_timer_stop(t);
        return;
    }
    if (rt_ws_client_pending(k->ws) > 0 ||
        rt_ws_client_connections(k->ws) == 0)
        return;
    uv_timer_stop(t);
    rt_session_outcome(&k->s, RTCTL_EXIT_OK);
    stop(k);
}

/* --- the client */

static void on_open(rt_ws_client *c, const rt_msg *welcome, void *ud)
{
    struct conn *k = ud;

    (void)c;
    (void)welcome;
    rt_infof(&k->s.out, "connected to %s", k->s.url);
}

/*
 * A close by the server (RT_ECLOSED after a connection was up) ends the
 * command with a status of its own; see the top of the file.
 */
static int close_status(struct conn *k, unsigned code)
{
    if (k->exit_on_close)
        return code == 1000 ? RTCTL_EXIT_OK : RTCTL_EXIT_RUNTIME;
    return code == 1000 || code == 1001 ? RTCTL_EXIT_OK : RTCTL_EXIT_RUNTIME;
}

static void on_state(rt_ws_client *c, rt_ws_state st, uint64_t delay_ms,
                     int err, const char *detail, void *ud)
{
    struct conn *k = ud;
    int ended = err == RT_ECLOSED && rt_ws_client_connections(c) > 0;

    if (st == RT_WS_CONNECTING)
        rt_infof(&k->s.out, "connecting to %s", k->s.url);
    if (ended && (st == RT_WS_CLOSED ||
                  (st == RT_WS_BACKOFF && k->exit_on_close)) &&
        k->s.status < 0) {
        if (!k->s.out.quiet)
            fprintf(stderr, "rtctl connect: the server ended the "
                            "connection: %s\n",
                    detail != NULL && detail[0] != '\0'
                        ? detail
                        : "no reason given");
        rt_session_outcome(&k->s, close_status(k, rt_ws_client_close_code(c)));
        /*
         * --exit-on-close wins over --reconnect, which then only retries
         * until the first connection opens: no reconnection, and no
         * notice of one (stop() also clears |detail|).
         */
        if (st == RT_WS_BACKOFF) {
            stop(k);
            return;
        }
    }
    rt_session_state(&k->s, (int)st, delay_ms, rt_ws_client_attempt(c), err,
                     detail);
}

static void on_closed(rt_ws_client *c, void *ud)
{
    struct conn *k = ud;

    (void)c;
    k->ws = NULL;
    rt_lines_close(&k->in);
    if (k->drain_ready) {
        uv_close((uv_handle_t *)&k->drain, NULL);
        k->drain_ready = 0;
    }
    rt__free(k->held);
    k->held = NULL;
    rt_session_closed(&k->s);
}

static void stop(void *ud)
{
    struct conn *k = ud;

    if (k->closing)
        return;
    k->closing = 1;
    rt_lines_close(&k->in);
    if (k->drain_ready)
        uv_timer_stop(&k->drain);
    rt_ws_client_close(k->ws);
}

static int run(struct conn *k, const char *target, rt_ws_client_opts *co)
{
    rt_ws_client_cbs cbs;
    int rc;

    if ((rc = rt_session_url(&k->s, target, RT_URL_KIND_WS)) != 0 ||
        (rc = rt_session_open(&k->s)) != 0)
        return rc;
    RT_SESSION_CLIENT_OPTS(&k->s, co);
    memset(&cbs, 0, sizeof(cbs));
    cbs.on_frame = on_frame;
    cbs.on_open = on_open;
    cbs.on_state = on_state;
    cbs.on_control = on_control;
    cbs.on_closed = on_closed;
    rc = rt_ws_client_new(&k->ws, k->s.loop, k->s.url, co, &cbs, k);
    if (rc != 0)
        return rt_session_fail(&k->s, rc);
    if (uv_timer_init(rt_loop_uv(k->s.loop), &k->drain) == 0) {
        k->drain.data = k;
        k->drain_ready = 1;
    }
    rc = rt_ws_client_start(k->ws);
    if (rc == 0 && !k->drain_ready)
        rc = RT_ENOMEM;
    if (rc == 0 && rt_lines_start(&k->in, rt_loop_uv(k->s.loop),
                                  STDIN_FILENO, MAX_LINE, on_line,
                                  on_input_end, k) != 0) {
        rt_errf(&k->s.out, "cannot read standard input");
        rt_session_outcome(&k->s, RTCTL_EXIT_RUNTIME);
        stop(k);
    }
    if (rc != 0) {
        rt_session_fail(&k->s, rc);
        stop(k);
    }
    return rt_session_run(&k->s, stop, k);
}

int cmd_connect(int argc, char **argv)
{
    struct conn k;
    rt_ws_client_opts co;
    struct rt_strlist subprotocols = {NULL, 0};
    const char *origin = NULL;
    uint64_t ping_ms = 30000, max_redirs = 10;
    int location = 0;
    rt_buf sp;
    size_t i;
    int n, status;
    struct rt_opt opts[] = {
        OPT_GROUP("WebSocket"),
        OPT_BOOL(0, "binary", &k.binary,
                 "send each line of standard input as a binary frame"),
        OPT_STR_LIST(0, "subprotocol", &subprotocols, "NAME",
                     "offer subprotocol NAME (Sec-WebSocket-Protocol; "
                     "repeatable)"),
        OPT_STR(0, "origin", &origin, "ORIGIN", "send Origin: ORIGIN"),
        OPT_DURATION(0, "ping", &ping_ms,
                     "ping after DURATION without a frame from the server "
                     "(default 30s; 0: never)"),
        OPT_BOOL(0, "show-control", &k.show_control,
                 "print the pings sent, the pongs and the close frame "
                 "received on stderr"),
        OPT_BOOL(0, "exit-on-close", &k.exit_on_close,
                 "exit at the server's first close: 0 for code 1000, 1 "
                 "for any other (wins over --reconnect)"),
        OPT_BOOL('L', "location", &location,
                 "follow redirects (301, 302, 303, 307, 308) to the "
                 "upgrade"),
        OPT_UINT(0, "max-redirs", &max_redirs, "N",
                 "with -L, follow at most N redirects in a row (default "
                 "10)"),
        RT_CONN_OPTS(&k.s.o),
        OPT_END(),
    };

    memset(&k, 0, sizeof(k));
    rt__buf_init(&sp);
    rt_session_init(&k.s, &connect_help, "connect to", "reconnecting",
                    "frames", 0);
    rt_ws_client_opts_init(&co);
    co.raw = 1;
    if ((n = rt_session_parse(&k.s, opts, argc, argv, &status)) < 0)
        goto end;
    status = RTCTL_EXIT_USAGE;
    if (n != 1) {
        rt_opts_error(&connect_help, n == 0 ? "nothing to connect to: give "
                                              "a URL"
                                            : "too many arguments");
        goto end;
    }
    if (origin != NULL && (*origin == '\0' ||
                           strpbrk(origin, "\r\n") != NULL)) {
        rt_opts_error(&connect_help, "--origin: '%s' is not an origin",
                      origin);
        goto end;
    }
    for (i = 0; i < subprotocols.n; i++) {
        const char *p = subprotocols.v[i];

        /* An RFC 7230 token: no separators, no spaces. */
        if (*p == '\0' || strpbrk(p, " \t\r\n,;\"()<>@:\\/[]?={}") != NULL) {
            rt_opts_error(&connect_help, "--subprotocol: '%s' is not a "
                                         "token", p);
            goto end;
        }
        if ((i > 0 && rt__buf_append(&sp, ", ", 2) != 0) ||
            rt__buf_append(&sp, p, strlen(p)) != 0) {
            status = RTCTL_EXIT_RUNTIME;
            goto end;
        }
    }
    if (max_redirs > 1000) {
        rt_opts_error(&connect_help, "--max-redirs: at most 1000");
        goto end;
    }
    for (i = 0; i < k.s.o.headers.n; i++) {
        const char *h = k.s.o.headers.v[i], *why;

        if ((why = rt_ws_client_header_owned(h)) != NULL) {
            rt_opts_error(&connect_help, "--header: '%s': %s", h, why);
            goto end;
        }
        if ((strncasecmp(h, "origin:", 7) == 0 && origin != NULL) ||
            (strncasecmp(h, "sec-websocket-protocol:", 23) == 0 &&
             subprotocols.n > 0)) {
            rt_opts_error(&connect_help, "--header: '%s': give it as an "
                                         "option or a header, not both",
                          h);
            goto end;
        }
    }
    co.subprotocols = sp.len > 0 ? sp.data : NULL;
    co.origin = origin;
    co.ping_interval_ms = ping_ms;
    co.max_redirects = location ? (uint32_t)max_redirs : 0;
    status = run(&k, argv[1], &co);
end:
    rt_strlist_free(&subprotocols);
    rt__buf_cleanup(&sp);
    return rt_session_end(&k.s, status);
}
