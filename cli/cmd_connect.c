/*
 * cmd_connect.c: `rtctl connect`, a raw WebSocket session with any server
 * (wscat, websocat): interactive, piped, or one-shot with -x.
 *
 * rt_ws_client in raw mode: each line of standard input becomes one text
 * frame (one binary frame with --binary), each -x MSG one text frame and
 * each --send-file one binary frame; each frame received is printed on
 * stdout, one a line (binary ones as --binary-out says).  No protocol, no
 * ordering; by default no reconnection either (--reconnect turns the
 * client's backoff on).  On a terminal, received frames are marked "< "
 * and the sent ones not typed there "> "; with slash commands (on when
 * standard input is a terminal, or --slash) a line may be /ping, /close
 * or /binary instead of a frame.
 *
 * Ending: once every frame of the input (standard input until its end,
 * or the -x and --send-file frames) was written, the command waits
 * --wait, or for --count frames, then ends with the close handshake
 * (rt_ws_client_end(): the answers still on their way are printed) and
 * exits 0; --count frames end it as soon as they arrived, and --wait
 * passing first is exit 5.  A close by the server ends the command too
 * (unless --reconnect reconnects): exit 0 after a normal close (1000) or
 * a server going away (1001), 1 after any other code, a connection lost
 * without a close frame (1006) or before --count frames; with
 * --exit-on-close only 1000 is 0, and the first close ends the command
 * even with --reconnect (which then only retries until the first
 * connection opens).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
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

static const struct cli_cmd_help connect_help = {
    "connect",
    connect_usage,
    "Open a WebSocket to URL (any server; a path or room is relative to "
    "--url) and stay on it: each line of standard input is sent as a text "
    "frame, each frame received is printed on a line. With -x, send the "
    "messages given instead and wait --wait or for --count answers. The "
    "end of the input closes the connection (1000) with the close "
    "handshake, once every frame was sent. No reconnection unless "
    "--reconnect.",
};

#define MAX_LINE (16 * 1024 * 1024) /* the client's largest message */
#define DRAIN_MS 10 /* how often a held line or the close is retried */

enum bin_out { BIN_HEX, BIN_RAW, BIN_BASE64 };

struct conn {
    struct cli_session s; /* s.goal is --count, s.done the frames printed */
    rt_ws_client *ws;
    struct cli_lines in;
    uv_timer_t drain; /* retries a held line, and the end of input */
    uv_timer_t wait;  /* --wait after the input was sent */
    int drain_ready, wait_ready;
    int binary;        /* --binary */
    int show_control;  /* --show-control */
    int exit_on_close; /* --exit-on-close */
    int slash;         /* slash commands */
    int mark;          /* "< " and "> " (stdout is a terminal) */
    int echo_sent;     /* print "> " lines for what was sent */
    int status_lines;  /* "connected", "closed" lines on stderr */
    enum bin_out bin_out;
    uint64_t wait_ms; /* --wait */
    int has_wait;
    char *held; /* a line the full queue did not take */
    size_t held_len;
    int in_started;      /* standard input is being read */
    int in_done;         /* the input ended (or there was none to read) */
    int sent_all;        /* ... and every frame of it was written */
    int closing;         /* rt_ws_client_close() or _end() was called */
    unsigned close_code; /* the server's close frame, when one came */
    char close_reason[124];
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

static void end_session(struct conn *k, int status);

/* Write |b| to stdout as it is (it may hold colour), as cli_out does. */
static void put(struct conn *k, rt_buf *b, int rc)
{
    if (rc != 0)
        k->s.out.write_error = ENOMEM;
    else if (!k->s.out.write_error &&
             fwrite(b->data, 1, b->len, stdout) != b->len)
        k->s.out.write_error = errno ? errno : EIO;
}

/* "< " or "> ", coloured on a colour terminal. */
static int mark(struct conn *k, rt_buf *b, int sent)
{
    int rc = 0;

    if (!k->mark)
        return 0;
    if (k->s.out.color)
        rc |= rt__buf_append(b, sent ? "\033[2m" : "\033[36m", sent ? 4 : 5);
    rc |= rt__buf_append(b, sent ? "> " : "< ", 2);
    if (k->s.out.color)
        rc |= rt__buf_append(b, "\033[0m", 4);
    return rc;
}

/* A frame we sent, shown on a terminal when it was not typed there. */
static void show_sent(struct conn *k, int binary, const char *data, size_t len)
{
    rt_buf b;
    int rc;

    if (!k->echo_sent)
        return;
    rt__buf_init(&b);
    rc = mark(k, &b, 1);
    if (binary)
        rc |= rt__buf_printf(&b, "[binary %zu bytes]", len);
    else
        rc |= cli_out_append_safe(&b, data, len, 1, 1);
    rc |= rt__buf_putc(&b, '\n');
    put(k, &b, rc);
    rt__buf_cleanup(&b);
    cli_out_flush(&k->s.out);
}

static void on_frame(rt_ws_client *c, int binary, const char *data, size_t len,
                     void *ud)
{
    struct conn *k = ud;
    rt_buf b;
    int rc = 0;

    (void)c;
    if (k->s.goal != 0 && k->s.done >= k->s.goal)
        return; /* --count reached: the rest of the handshake is not ours */
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
        rc |= rt__buf_append(&b, binary ? "\"}\n" : "}\n", binary ? 3 : 2);
    } else if (binary && k->bin_out == BIN_RAW) {
        rc |= rt__buf_append(&b, data, len);
    } else {
        rc |= mark(k, &b, 0);
        if (binary && k->bin_out == BIN_BASE64) {
            rc |= append_base64(&b, (const unsigned char *)data, len);
        } else if (binary) {
            rc |= rt__buf_printf(&b, "[binary %zu bytes] ", len);
            rc |= append_hex(&b, (const unsigned char *)data, len);
        } else {
            rc |= cli_out_append_safe(&b, data, len, k->s.out.tty, 1);
        }
        rc |= rt__buf_putc(&b, '\n');
    }
    put(k, &b, rc);
    rt__buf_cleanup(&b);
    /* A person or a pipeline waits for each frame as it comes. */
    cli_out_flush(&k->s.out);
    if (k->s.goal != 0 && k->s.done >= k->s.goal)
        end_session(k, RTCTL_EXIT_OK);
}

/* Is |p| (|len| bytes) well-formed UTF-8? */
static int utf8_ok(const unsigned char *p, size_t len)
{
    size_t i = 0, n;

    while (i < len) {
        if ((n = rt__utf8_len(p + i, len - i, NULL)) == 0)
            return 0;
        i += n;
    }
    return 1;
}

/* The control frames, on stderr: "> ping: DATA", "< close 1001: REASON". */
static void on_control(rt_ws_client *c, rt_ws_control what, unsigned code,
                       const char *data, size_t len, void *ud)
{
    struct conn *k = ud;
    rt_buf b;
    int rc = 0;

    (void)c;
    if (what == RT_WS_CLOSE_RECEIVED) {
        size_t n =
            len < sizeof(k->close_reason) ? len : sizeof(k->close_reason) - 1;

        k->close_code = code;
        memcpy(k->close_reason, data != NULL ? data : "", n);
        k->close_reason[n] = '\0';
    }
    if (!k->show_control)
        return;
    rt__buf_init(&b);
    if (k->s.out.json) {
        rc |= rt__buf_printf(&b, "{\"event\":\"%s\"",
                             what == RT_WS_PING_SENT ? "ping\",\"dir\":\"out"
                             : what == RT_WS_PING_RECEIVED
                                 ? "ping\",\"dir\":\"in"
                             : what == RT_WS_PONG_RECEIVED ? "pong"
                                                           : "close");
        if (what == RT_WS_CLOSE_RECEIVED) {
            rc |= rt__buf_printf(&b, ",\"code\":%u,\"reason\":", code);
            rc |= rt__buf_json_str(&b, data != NULL ? data : "", len);
        } else if (utf8_ok((const unsigned char *)data, len)) {
            rc |= rt__buf_append(&b, ",\"data\":", 8);
            rc |= rt__buf_json_str(&b, data != NULL ? data : "", len);
        } else {
            /* A ping's payload is bytes: JSON gets them in base64. */
            rc |= rt__buf_append(&b, ",\"base64\":\"", 11);
            rc |= append_base64(&b, (const unsigned char *)data, len);
            rc |= rt__buf_putc(&b, '"');
        }
        rc |= rt__buf_append(&b, "}\n", 2);
    } else {
        rc |= rt__buf_printf(&b, "rtctl connect: %s",
                             what == RT_WS_PING_SENT       ? "> ping"
                             : what == RT_WS_PING_RECEIVED ? "< ping"
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

/* --- sending */

static void stop(void *ud);

/* Queue a frame; 1 when the queue was full (the caller holds it). */
static int send_frame(struct conn *k, int binary, const char *data, size_t len)
{
    int rc = rt_ws_client_send(k->ws, binary, data, len);

    if (rc == RT_EFULL)
        return 1;
    if (rc != 0 && rc != RT_ESTATE)
        cli_warnf(&k->s.out, "a frame was not sent: %s", rt_strerror(rc));
    if (rc == 0)
        show_sent(k, binary, data, len);
    return 0;
}

/* Read all of |path| (at most MAX_LINE bytes); NULL after saying why. */
static char *read_file(struct conn *k, const char *path, size_t *len)
{
    rt_buf b;
    char chunk[65536];
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        cli_errf(&k->s.out, "cannot open '%s': %s", path, strerror(errno));
        return NULL;
    }
    rt__buf_init(&b);
    for (;;) {
        n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            cli_errf(&k->s.out, "cannot read '%s': %s", path, strerror(errno));
            break;
        }
        if (n == 0) {
            close(fd);
            *len = b.len;
            /* A NUL after the data: an empty file is "" too. */
            if (rt__buf_putc(&b, '\0') != 0) {
                rt__buf_cleanup(&b);
                return NULL;
            }
            return b.data;
        }
        if (b.len + (size_t)n > MAX_LINE) {
            cli_errf(&k->s.out,
                     "'%s' is longer than %d MiB, the largest "
                     "frame",
                     path, MAX_LINE >> 20);
            break;
        }
        if (rt__buf_append(&b, chunk, (size_t)n) != 0) {
            cli_errf(&k->s.out, "out of memory reading '%s'", path);
            break;
        }
    }
    close(fd);
    rt__buf_cleanup(&b);
    return NULL;
}

static const char slash_help[] =
    "/ping [DATA]  /close [CODE [REASON]]  /binary FILE  "
    "//TEXT sends /TEXT";

/* A slash command; 0 when |line| was one (or an error about one). */
static int slash_command(struct conn *k, char *line, size_t len)
{
    char *arg, *end;
    unsigned long code = 1000;
    int rc;

    if (len == 0 || line[0] != '/' || (len > 1 && line[1] == '/'))
        return 1;
    arg = line + 1 + strcspn(line + 1, " ");
    if (*arg == ' ')
        *arg++ = '\0';
    if (strcmp(line, "/help") == 0) {
        fprintf(stderr, "rtctl connect: %s\n", slash_help);
    } else if (strcmp(line, "/ping") == 0) {
        rc = rt_ws_client_ping(k->ws, arg, strlen(arg));
        if (rc != 0)
            cli_warnf(&k->s.out, "/ping: %s",
                      rc == RT_EINVAL ? "at most 125 bytes" : "not connected");
    } else if (strcmp(line, "/close") == 0) {
        if (*arg != '\0') {
            errno = 0;
            code = strtoul(arg, &end, 10);
            if (errno != 0 || end == arg || (*end != '\0' && *end != ' '))
                code = 0;
            arg = *end == ' ' ? end + 1 : end;
        }
        rc = rt_ws_client_end(k->ws, (unsigned)code, arg);
        if (rc == RT_EINVAL)
            cli_warnf(&k->s.out, "/close: CODE is 1000, 1001 to 1014 (not "
                                 "1004 to 1006) or 3000 to 4999, and "
                                 "REASON at most 123 bytes");
        else if (rc == 0) {
            cli_session_outcome(&k->s, RTCTL_EXIT_OK);
            k->closing = 1;
            cli_lines_close(&k->in);
        }
    } else if (strcmp(line, "/binary") == 0) {
        size_t n = 0;
        char *data = *arg != '\0' ? read_file(k, arg, &n) : NULL;

        if (*arg == '\0')
            cli_warnf(&k->s.out, "/binary: give a FILE");
        if (data != NULL && send_frame(k, 1, data, n) != 0)
            cli_warnf(&k->s.out, "/binary: the send queue is full");
        rt__free(data);
    } else {
        cli_warnf(&k->s.out, "unknown command %s; the commands: %s", line,
                  slash_help);
    }
    return 0;
}

static void on_drain(uv_timer_t *t);

static void on_line(struct cli_lines *l, char *line, size_t len, void *ud)
{
    struct conn *k = ud;

    if (k->closing || k->ws == NULL)
        return;
    if (k->slash) {
        if (slash_command(k, line, len) == 0)
            return;
        if (len > 1 && line[0] == '/' && line[1] == '/') {
            line++;
            len--;
        }
    }
    if (send_frame(k, k->binary, line, len) == 0)
        return;
    /* The client's queue is full: hold the line, wait for room. */
    k->held = rt__strndup(line, len);
    k->held_len = len;
    if (k->held == NULL) {
        cli_errf(&k->s.out, "out of memory");
        cli_session_outcome(&k->s, RTCTL_EXIT_RUNTIME);
        stop(k);
        return;
    }
    cli_lines_pause(l);
    uv_timer_start(&k->drain, on_drain, DRAIN_MS, DRAIN_MS);
}

static void on_input_end(struct cli_lines *l, int err, void *ud)
{
    struct conn *k = ud;

    (void)l;
    k->in_done = 1;
    if (err != 0) {
        cli_session_input_failed(&k->s, err, MAX_LINE);
        stop(k);
        return;
    }
    uv_timer_start(&k->drain, on_drain, 0, DRAIN_MS);
}

/*
 * End with the close handshake, |status| the outcome unless one is known;
 * before a connection, or when the handshake cannot start, just stop.
 */
static void end_session(struct conn *k, int status)
{
    cli_session_outcome(&k->s, status);
    if (k->closing || k->ws == NULL)
        return;
    k->closing = 1;
    cli_lines_close(&k->in);
    if (k->drain_ready)
        uv_timer_stop(&k->drain);
    if (k->wait_ready)
        uv_timer_stop(&k->wait);
    if (rt_ws_client_end(k->ws, 1000, NULL) != 0)
        rt_ws_client_close(k->ws);
}

static void on_wait(uv_timer_t *t)
{
    struct conn *k = t->data;

    if (k->s.goal != 0 && k->s.done < k->s.goal && k->s.status < 0) {
        cli_errf(&k->s.out, "--wait: %llu of %llu frames after %llu ms",
                 (unsigned long long)k->s.done, (unsigned long long)k->s.goal,
                 (unsigned long long)k->wait_ms);
        end_session(k, RTCTL_EXIT_TIMEOUT);
        return;
    }
    end_session(k, RTCTL_EXIT_OK);
}

/* Every frame of the input was written: wait, or end now. */
static void input_sent(struct conn *k)
{
    k->sent_all = 1;
    if (k->has_wait && k->wait_ms > 0 && k->wait_ready)
        uv_timer_start(&k->wait, on_wait, k->wait_ms, 0);
    else if (k->s.goal == 0 || k->has_wait)
        end_session(k, RTCTL_EXIT_OK);
    /* else: --count alone waits for its frames (or --timeout) */
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
        if (send_frame(k, k->binary, k->held, k->held_len) != 0)
            return;
        rt__free(k->held);
        k->held = NULL;
        if (!k->in_done)
            cli_lines_resume(&k->in);
    }
    if (!k->in_done) {
        uv_timer_stop(t);
        return;
    }
    if (rt_ws_client_pending(k->ws) > 0 ||
        rt_ws_client_connections(k->ws) == 0)
        return;
    uv_timer_stop(t);
    input_sent(k);
}

/* --- the client */

static void on_open(rt_ws_client *c, const rt_msg *welcome, void *ud)
{
    struct conn *k = ud;

    (void)welcome;
    /*
     * Standard input is read from the first opening on: a /ping or
     * /close needs a connection, and lines typed before wait in the pipe.
     */
    if (!k->in_done && !k->in_started && !k->closing) {
        k->in_started = 1;
        if (cli_lines_start(&k->in, rt_loop_uv(k->s.loop), STDIN_FILENO,
                            MAX_LINE, on_line, on_input_end, k) != 0) {
            cli_errf(&k->s.out, "cannot read standard input");
            cli_session_outcome(&k->s, RTCTL_EXIT_RUNTIME);
            stop(k);
            return;
        }
    }
    if (k->status_lines)
        fprintf(stderr, "rtctl connect: connected to %s%s\n",
                rt_ws_client_url(c),
                k->slash ? " (/help: the commands; Ctrl-D closes)" : "");
    else if (k->s.nurls < 2)
        cli_infof(&k->s.out, "connected to %s", rt_ws_client_url(c));
}

/*
 * A close by the server (RT_ECLOSED after a connection was up) ends the
 * command with a status of its own; see the top of the file.
 */
static int close_status(struct conn *k, unsigned code)
{
    if (k->s.goal != 0 && k->s.done < k->s.goal)
        return RTCTL_EXIT_RUNTIME;
    if (k->exit_on_close)
        return code == 1000 ? RTCTL_EXIT_OK : RTCTL_EXIT_RUNTIME;
    return code == 1000 || code == 1001 ? RTCTL_EXIT_OK : RTCTL_EXIT_RUNTIME;
}

static void on_state(rt_ws_client *c, rt_conn_state st, uint64_t delay_ms,
                     int err, const char *detail, void *ud)
{
    struct conn *k = ud;
    int ended = err == RT_ECLOSED && rt_ws_client_connections(c) > 0;

    if (st == RT_CONN_CONNECTING)
        cli_infof(&k->s.out, "connecting to %s", rt_ws_client_url(c));
    if (ended &&
        (st == RT_CONN_CLOSED ||
         (st == RT_CONN_BACKOFF && k->exit_on_close)) &&
        k->s.status < 0) {
        if (!k->s.out.quiet)
            fprintf(stderr,
                    "rtctl connect: the server ended the "
                    "connection: %s\n",
                    detail != NULL && detail[0] != '\0' ? detail
                                                        : "no reason given");
        if (k->s.goal != 0 && k->s.done < k->s.goal && !k->s.out.quiet)
            fprintf(stderr, "rtctl connect: %llu of %llu frames\n",
                    (unsigned long long)k->s.done,
                    (unsigned long long)k->s.goal);
        cli_session_outcome(&k->s,
                            close_status(k, rt_ws_client_close_code(c)));
        /*
         * --exit-on-close wins over --reconnect, which then only retries
         * until the first connection opens: no reconnection, and no
         * notice of one (stop() also clears |detail|).
         */
        if (st == RT_CONN_BACKOFF) {
            stop(k);
            return;
        }
    }
    if (st == RT_CONN_CLOSED && err == 0 && k->status_lines &&
        rt_ws_client_connections(c) > 0) {
        if (k->close_code != 0)
            fprintf(stderr, "rtctl connect: closed: %u%s%s%s\n", k->close_code,
                    k->close_reason[0] ? " (" : "", k->close_reason,
                    k->close_reason[0] ? ")" : "");
        else
            fprintf(stderr, "rtctl connect: closed\n");
    }
    cli_session_state_url(&k->s, (int)st, delay_ms, rt_ws_client_attempt(c),
                          err, detail, rt_ws_client_url(c));
}

static void on_closed(rt_ws_client *c, void *ud)
{
    struct conn *k = ud;

    (void)c;
    k->ws = NULL;
    cli_lines_close(&k->in);
    if (k->drain_ready) {
        uv_close((uv_handle_t *)&k->drain, NULL);
        k->drain_ready = 0;
    }
    if (k->wait_ready) {
        uv_close((uv_handle_t *)&k->wait, NULL);
        k->wait_ready = 0;
    }
    rt__free(k->held);
    k->held = NULL;
    cli_session_closed(&k->s);
}

static void stop(void *ud)
{
    struct conn *k = ud;

    cli_lines_close(&k->in);
    if (k->drain_ready)
        uv_timer_stop(&k->drain);
    if (k->wait_ready)
        uv_timer_stop(&k->wait);
    /* Ctrl-C or --timeout during the handshake: drop it. */
    rt_ws_client_close(k->ws);
    k->closing = 1;
}

/* Queue the -x messages and --send-file files, in that order. */
static int queue_given(struct conn *k, const struct cli_strlist *msgs,
                       const struct cli_strlist *files)
{
    size_t i, n;
    char *data;
    int rc;

    for (i = 0; i < msgs->n; i++) {
        rc = rt_ws_client_send(k->ws, 0, msgs->v[i], strlen(msgs->v[i]));
        if (rc != 0)
            return rc;
        show_sent(k, 0, msgs->v[i], strlen(msgs->v[i]));
    }
    for (i = 0; i < files->n; i++) {
        if ((data = read_file(k, files->v[i], &n)) == NULL)
            return RT_EINVAL;
        rc = rt_ws_client_send(k->ws, 1, data, n);
        rt__free(data);
        if (rc != 0)
            return rc;
        show_sent(k, 1, NULL, n);
    }
    return 0;
}

static int run(struct conn *k, const char *target, rt_ws_client_opts *co,
               const struct cli_strlist *msgs, const struct cli_strlist *files)
{
    rt_ws_client_cbs cbs;
    int rc, given = msgs->n > 0 || files->n > 0;

    if ((rc = cli_session_url(&k->s, target, RT_URL_KIND_WS)) != 0 ||
        (rc = cli_session_open(&k->s)) != 0)
        return rc;
    cli_session_conn_opts(&k->s, &co->conn);
    memset(&cbs, 0, sizeof(cbs));
    cbs.on_frame = on_frame;
    cbs.on_open = on_open;
    cbs.on_state = on_state;
    cbs.on_control = on_control;
    cbs.on_closed = on_closed;
    rc = rt_ws_client_new(&k->ws, k->s.loop, k->s.url, co, &cbs, k);
    if (rc != 0)
        return cli_session_fail(&k->s, rc);
    if (uv_timer_init(rt_loop_uv(k->s.loop), &k->drain) == 0) {
        k->drain.data = k;
        k->drain_ready = 1;
    }
    if (uv_timer_init(rt_loop_uv(k->s.loop), &k->wait) == 0) {
        k->wait.data = k;
        k->wait_ready = 1;
    }
    if (given && (rc = queue_given(k, msgs, files)) != 0) {
        if (rc != RT_EINVAL)
            cli_errf(&k->s.out, "cannot queue the messages: %s",
                     rt_strerror(rc));
        cli_session_outcome(&k->s, RTCTL_EXIT_RUNTIME);
        stop(k);
        return cli_session_run(&k->s, stop, k);
    }
    rc = rt_ws_client_start(k->ws);
    if (rc == 0 && (!k->drain_ready || !k->wait_ready))
        rc = RT_ENOMEM;
    if (rc == 0 && given) {
        /* -x: standard input is not read */
        k->in_done = 1;
        uv_timer_start(&k->drain, on_drain, DRAIN_MS, DRAIN_MS);
    }
    if (rc != 0) {
        cli_session_fail(&k->s, rc);
        stop(k);
    }
    return cli_session_run(&k->s, stop, k);
}

int cmd_connect(int argc, char **argv)
{
    struct conn k;
    rt_ws_client_opts co;
    struct cli_strlist subprotocols = {NULL, 0}, msgs = {NULL, 0},
                       files = {NULL, 0};
    const char *origin = NULL, *bin_out = NULL, *auth = NULL;
    uint64_t ping_ms = 30000, max_redirs = 10, wait_ms = UINT64_MAX;
    int location = 0, slash = 0;
    rt_buf sp;
    size_t i;
    int n, status;
    struct cli_opt opts[] = {
        OPT_GROUP("Sending"),
        OPT_STR_LIST('x', "execute", &msgs, "MSG",
                     "send MSG as a text frame instead of reading standard "
                     "input (repeatable, in order)"),
        OPT_STR_LIST(0, "send-file", &files, "FILE",
                     "send the whole of FILE as one binary frame, after "
                     "the -x messages (repeatable; standard input is not "
                     "read)"),
        OPT_DURATION('w', "wait", &wait_ms,
                     "once everything was sent, wait DURATION for answers "
                     "before closing (default: close at once, or wait for "
                     "--count)"),
        OPT_UINT('n', "count", &k.s.goal, "N",
                 "close and exit 0 after N frames received"),
        OPT_BOOL(0, "binary", &k.binary,
                 "send each line of standard input as a binary frame"),
        OPT_BOOL(0, "slash", &slash,
                 "take lines starting with / as commands (/ping, /close, "
                 "/binary; the default when standard input is a "
                 "terminal; --no-slash: never)"),
        OPT_GROUP("WebSocket"),
        OPT_STR_LIST(0, "subprotocol", &subprotocols, "NAME",
                     "offer subprotocol NAME (Sec-WebSocket-Protocol; "
                     "repeatable)"),
        OPT_STR(0, "origin", &origin, "ORIGIN", "send Origin: ORIGIN"),
        OPT_DURATION(0, "ping", &ping_ms,
                     "ping after DURATION without a frame from the server "
                     "(default 30s; 0: never)"),
        OPT_BOOL(0, "show-control", &k.show_control,
                 "print the control frames on stderr: the pings sent and "
                 "received, the pongs and the server's close frame"),
        OPT_BOOL(0, "exit-on-close", &k.exit_on_close,
                 "exit at the server's first close: 0 for code 1000, 1 "
                 "for any other (wins over --reconnect)"),
        OPT_BOOL('L', "location", &location,
                 "follow redirects (301, 302, 303, 307, 308) to the "
                 "upgrade"),
        OPT_UINT(0, "max-redirs", &max_redirs, "N",
                 "with -L, follow at most N redirects in a row (default "
                 "10)"),
        OPT_BOOL(0, "compress", &co.compress,
                 "offer permessage-deflate (RFC 7692); see the man page "
                 "for the servers it fails with"),
        OPT_STR(0, "binary-out", &bin_out, "FORMAT",
                "print a binary frame received as hex (the default: its "
                "length, then the bytes in hexadecimal), base64, or raw "
                "(the bytes alone)"),
        OPT_GROUP("TLS, proxy, authentication"),
        OPT_STR(0, "cert", &co.conn.cert, "PEM",
                "present the client certificate in PEM (wss://)"),
        OPT_STR(0, "key", &co.conn.key, "PEM",
                "the private key of --cert (default: in --cert)"),
        OPT_STR(0, "proxy", &co.conn.proxy, "URL",
                "connect through the HTTP proxy URL, http://[USER:PASS@]"
                "HOST:PORT (default $https_proxy, $http_proxy, $ALL_PROXY; "
                "'': none)"),
        OPT_STR(0, "auth", &auth, "USER:PASSWORD",
                "send Basic authentication (Authorization: Basic)"),
        CLI_CONN_OPTS(&k.s.o),
        OPT_END(),
    };

    memset(&k, 0, sizeof(k));
    rt_ws_client_opts_init(&co);
    rt__buf_init(&sp);
    cli_session_init(&k.s, &connect_help, "connect to", "reconnecting",
                     "frames", 0);
    co.raw = 1;
    slash = -1;
    if ((n = cli_session_parse(&k.s, opts, argc, argv, &status)) < 0)
        goto end;
    status = RTCTL_EXIT_USAGE;
    if (n != 1) {
        cli_opts_error(&connect_help, n == 0 ? "nothing to connect to: give "
                                               "a URL"
                                             : "too many arguments");
        goto end;
    }
    if (origin != NULL &&
        (*origin == '\0' || strpbrk(origin, "\r\n") != NULL)) {
        cli_opts_error(&connect_help, "--origin: '%s' is not an origin",
                       origin);
        goto end;
    }
    if (bin_out == NULL || strcmp(bin_out, "hex") == 0) {
        k.bin_out = BIN_HEX;
    } else if (strcmp(bin_out, "base64") == 0) {
        k.bin_out = BIN_BASE64;
    } else if (strcmp(bin_out, "raw") == 0) {
        k.bin_out = BIN_RAW;
    } else {
        cli_opts_error(&connect_help,
                       "--binary-out: '%s' is not hex, "
                       "base64 or raw",
                       bin_out);
        goto end;
    }
    if (max_redirs > 1000) {
        cli_opts_error(&connect_help, "--max-redirs: at most 1000");
        goto end;
    }
    if (co.conn.key != NULL && co.conn.cert == NULL) {
        cli_opts_error(&connect_help, "--key goes with --cert");
        goto end;
    }
    if (auth != NULL && (status = cli_session_basic_auth(&k.s, auth)) != 0)
        goto end;
    status = RTCTL_EXIT_USAGE;
    for (i = 0; i < msgs.n; i++) {
        if (strlen(msgs.v[i]) > MAX_LINE) {
            cli_opts_error(&connect_help, "-x: longer than 16 MiB");
            goto end;
        }
    }
    for (i = 0; i < subprotocols.n; i++) {
        const char *p = subprotocols.v[i];

        /* An RFC 7230 token: no separators, no spaces. */
        if (*p == '\0' || strpbrk(p, " \t\r\n,;\"()<>@:\\/[]?={}") != NULL) {
            cli_opts_error(&connect_help,
                           "--subprotocol: '%s' is not a "
                           "token",
                           p);
            goto end;
        }
        if ((i > 0 && rt__buf_append(&sp, ", ", 2) != 0) ||
            rt__buf_append(&sp, p, strlen(p)) != 0) {
            status = RTCTL_EXIT_RUNTIME;
            goto end;
        }
    }
    for (i = 0; i < k.s.o.headers.n; i++) {
        const char *h = k.s.o.headers.v[i], *why;

        if ((why = rt_ws_client_header_owned(h)) != NULL) {
            cli_opts_error(&connect_help, "--header: '%s': %s%s", h, why,
                           strncasecmp(h, "sec-websocket-extensions", 24) == 0
                               ? " (--compress offers permessage-deflate)"
                               : "");
            goto end;
        }
        if ((strncasecmp(h, "origin:", 7) == 0 && origin != NULL) ||
            (strncasecmp(h, "sec-websocket-protocol:", 23) == 0 &&
             subprotocols.n > 0)) {
            cli_opts_error(&connect_help,
                           "--header: '%s': give it as an "
                           "option or a header, not both",
                           h);
            goto end;
        }
    }
    k.has_wait = wait_ms != UINT64_MAX;
    k.wait_ms = k.has_wait ? wait_ms : 0;
    k.slash = slash < 0 ? isatty(STDIN_FILENO) && msgs.n == 0 && files.n == 0
                        : slash;
    k.mark = k.s.out.tty && !k.s.out.json;
    k.echo_sent =
        k.mark && (msgs.n > 0 || files.n > 0 || !isatty(STDIN_FILENO));
    k.status_lines = !k.s.out.quiet && !k.s.out.json && isatty(STDERR_FILENO);
    k.s.own_open_line = k.status_lines;
    co.subprotocols = sp.len > 0 ? sp.data : NULL;
    co.origin = origin;
    co.ping_interval_ms = ping_ms;
    co.max_redirects = location ? (uint32_t)max_redirs : 0;
    status = run(&k, argv[1], &co, &msgs, &files);
end:
    cli_strlist_free(&subprotocols);
    cli_strlist_free(&msgs);
    cli_strlist_free(&files);
    rt__buf_cleanup(&sp);
    return cli_session_end(&k.s, status);
}
