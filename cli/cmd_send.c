/*
 * cmd_send.c: `rtctl send`, publish messages to a room and wait until the
 * server has acknowledged every one of them.
 *
 * The messages are the arguments after ROOM, or the lines of standard
 * input when there are none (read as they come, so a producer can pipe
 * into a long-lived send).  Each gets an id, a random prefix and a counter
 * ("3f9a1c07-2") unless --id names the one message.
 *
 * Two transports:
 * - WebSocket (the default): rt_ws_client in protocol mode, each message
 *   sent with rt_ws_client_send_text() and its id; the client keeps it
 *   until the server's ack, sends it again after a reconnection unless the
 *   replay shows it stored already, and reports each outcome to on_ack.
 * - HTTP (--via http): POST /publish/ROOM with rt_publish(), on the
 *   loop's curl multi handle, one message at a time, each answered 202
 *   {"seq":N}; Ctrl-C cancels the request in flight.  Connection failures,
 *   408, 429 and 5xx are retried with the backoff of rt/backoff.h
 *   (Retry-After honoured); 400 and 413 refuse that message and the
 *   others are still sent; any other status refuses every message, and
 *   the command stops.
 *
 * Outcome: 0 when every message was acked, 1 when the server refused one
 * (or the connection, with a close code or status that is final), 3 when
 * it could not be reached within the retries, 5 at --timeout, 130 on
 * Ctrl-C.  The acks go to stdout as they arrive; refusals go to stderr
 * (and with --json to stdout, as error objects).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "cmd.h"
#include "core_int.h"
#include "exit.h"
#include "lines.h"
#include "opts.h"
#include "output.h"
#include "failover.h"
#include "rt/backoff.h"
#include "rt/error.h"
#include "rt/msg.h"
#include "rt/publish.h"
#include "rt/ws_client.h"
#include "session.h"

static const char *const send_usage[] = {
    "rtctl send [options] ROOM MESSAGE...",
    "rtctl send [options] ROOM < LINES",
    NULL,
};

static const struct cli_cmd_help send_help = {
    "send",
    send_usage,
    "Send each MESSAGE (or each line of standard input, when no MESSAGE is "
    "given; empty lines are skipped) to ROOM as a text message, and exit 0 "
    "once the server has acknowledged every one. ROOM is a room, a path or "
    "a URL, relative to --url. Messages go over WebSocket, resent after a "
    "reconnection until acked, or with --via http as POST /publish/ROOM.",
};

#define MAX_LINE (1024 * 1024) /* longest line read from stdin */
#define HIGH_WATER 64          /* lines read ahead before stdin pauses */

struct item {
    struct item *next;
    char id[72];
    char content[]; /* NUL-terminated */
};

struct http {
    rt_publish_req *req; /* the request in flight; NULL: none */
    rt_publish_opts po;
    uv_timer_t retry;
    rt__failover fo; /* the URLs and the backoff */
    int timer_ready; /* |retry| initialised */
    int waiting;     /* |retry| armed */
};

struct send {
    struct cli_session s; /* s.goal: messages read; s.done: acked */
    int via_http;
    const char *fixed_id; /* --id */
    char prefix[9];       /* of generated ids */
    uint64_t counter;
    struct item *head, **tail; /* read, not yet handed to the transport */
    size_t queued;
    struct cli_lines in;
    int from_stdin;
    int in_done;       /* stdin ended (or no stdin) */
    uint64_t inflight; /* handed to the transport, no answer yet */
    uint64_t refused;
    uint64_t lost; /* unacked when the client stopped */
    int finishing; /* stopping: no more sends */
    int closed;    /* everything closed; cli_session_closed() called */
    rt_ws_client *ws;
    struct http h;
};

static void finish(void *ud);

/* --- output */

/* One line on stdout, flushed: a script reading the acks sees each now. */
static void emit(struct send *sd, rt_buf *b)
{
    if (cli_out_line(&sd->s.out, b->data, b->len) == 0)
        cli_out_flush(&sd->s.out);
}

static void print_ack(struct send *sd, const char *id, uint64_t seq)
{
    rt_buf b;
    int rc = 0;

    rt__buf_init(&b);
    if (sd->s.out.json) {
        rc |= rt__buf_append(&b, "{\"event\":\"ack\",\"id\":", 20);
        rc |= rt__buf_json_str(&b, id, strlen(id));
        rc |= rt__buf_printf(&b, ",\"seq\":%llu}", (unsigned long long)seq);
    } else {
        rc |= rt__buf_printf(&b, "sent seq %llu", (unsigned long long)seq);
    }
    if (rc == 0)
        emit(sd, &b);
    rt__buf_cleanup(&b);
}

/*
 * A message that was not stored: with --json an error object on stdout;
 * with |say| a line on stderr too (0 when the refusal ends the command,
 * which says why once).  Code "closed": lost to a stop of the client.
 */
static void print_refused(struct send *sd, const char *id, const char *code,
                          const char *message, int say)
{
    rt_buf b;
    int rc = 0;

    if (sd->s.out.json) {
        rt__buf_init(&b);
        rc |= rt__buf_append(&b, "{\"event\":\"error\",\"id\":", 22);
        rc |= rt__buf_json_str(&b, id, strlen(id));
        rc |= rt__buf_append(&b, ",\"code\":", 8);
        rc |= rt__buf_json_str(&b, code, strlen(code));
        if (message != NULL && *message != '\0') {
            rc |= rt__buf_append(&b, ",\"message\":", 11);
            rc |= rt__buf_json_str(&b, message, strlen(message));
        }
        rc |= rt__buf_putc(&b, '}');
        if (rc == 0)
            emit(sd, &b);
        rt__buf_cleanup(&b);
    }
    if (strcmp(code, "closed") == 0)
        cli_infof(&sd->s.out, "message '%s' was not acknowledged", id);
    else if (say)
        cli_errf(&sd->s.out, "message '%s' refused: %s%s%s", id, code,
                 message != NULL && *message != '\0' ? ": " : "",
                 message != NULL ? message : "");
}

/* --- the queue of messages read but not yet handed over */

static int push(struct send *sd, const char *content, size_t len)
{
    struct item *it = rt__malloc(sizeof(*it) + len + 1);

    if (it == NULL)
        return RT_ENOMEM;
    it->next = NULL;
    if (sd->fixed_id != NULL)
        snprintf(it->id, sizeof(it->id), "%s", sd->fixed_id);
    else
        snprintf(it->id, sizeof(it->id), "%s-%llu", sd->prefix,
                 (unsigned long long)++sd->counter);
    memcpy(it->content, content, len);
    it->content[len] = '\0';
    *sd->tail = it;
    sd->tail = &it->next;
    sd->queued++;
    sd->s.goal++;
    return 0;
}

static void pop(struct send *sd)
{
    struct item *it = sd->head;

    sd->head = it->next;
    if (sd->head == NULL)
        sd->tail = &sd->head;
    sd->queued--;
    rt__free(it);
}

static uint32_t rand32(void)
{
    uint32_t v = 0;

    if (getrandom(&v, sizeof(v), 0) != sizeof(v))
        v = (uint32_t)time(NULL) ^ (uint32_t)getpid() ^ (uint32_t)clock();
    return v;
}

/* --- progress */

/* Every message read was answered: the outcome is known. */
static void check_done(struct send *sd)
{
    if (sd->finishing || !sd->in_done || sd->head != NULL || sd->inflight > 0)
        return;
    /* Messages lost to a stop of the client: its state says why. */
    if (sd->lost > 0)
        return;
    cli_session_outcome(&sd->s,
                        sd->refused > 0 ? RTCTL_EXIT_RUNTIME : RTCTL_EXIT_OK);
    finish(sd);
}

static void start_post(struct send *sd);

/* Hand what was read to the transport, as far as it takes it. */
static void feed(struct send *sd)
{
    int rc;

    if (sd->finishing)
        return;
    if (sd->via_http) {
        if (sd->h.req == NULL && !sd->h.waiting && sd->head != NULL)
            start_post(sd);
    } else {
        while (sd->head != NULL && sd->ws != NULL) {
            rc = rt_ws_client_send_text(sd->ws, sd->head->content,
                                        sd->head->id);
            if (rc == RT_EFULL || rc == RT_ESTATE)
                break;
            if (rc != 0) {
                /* Not UTF-8, most likely: the server would refuse it. */
                print_refused(sd, sd->head->id, "bad_message", rt_strerror(rc),
                              1);
                sd->refused++;
            } else {
                sd->inflight++;
            }
            pop(sd);
        }
    }
    if (sd->from_stdin && sd->queued < HIGH_WATER)
        cli_lines_resume(&sd->in);
}

/* --- standard input */

static void on_line(struct cli_lines *l, char *line, size_t len, void *ud)
{
    struct send *sd = ud;

    if (len == 0)
        return;
    if (push(sd, line, len) != 0) {
        cli_errf(&sd->s.out, "out of memory");
        cli_session_outcome(&sd->s, RTCTL_EXIT_RUNTIME);
        finish(sd);
        return;
    }
    if (sd->queued >= HIGH_WATER)
        cli_lines_pause(l);
    feed(sd);
}

static void on_input_end(struct cli_lines *l, int err, void *ud)
{
    struct send *sd = ud;

    (void)l;
    sd->in_done = 1;
    if (err != 0) {
        cli_session_input_failed(&sd->s, err, MAX_LINE);
        finish(sd);
        return;
    }
    check_done(sd);
}

/* --- closing */

static void http_cleanup(struct send *sd)
{
    if (sd->h.timer_ready) {
        uv_close((uv_handle_t *)&sd->h.retry, NULL);
        sd->h.timer_ready = 0;
    }
    if (sd->h.req != NULL) {
        rt_publish_cancel(sd->h.req);
        sd->h.req = NULL;
        sd->inflight--;
    }
}

/* The transport is done: close the rest and let the loop end. */
static void closed_all(struct send *sd)
{
    if (sd->closed)
        return;
    sd->closed = 1;
    sd->finishing = 1;
    cli_lines_close(&sd->in);
    http_cleanup(sd);
    /* Read but never handed over: one line each, as the client does. */
    while (sd->head != NULL) {
        print_refused(sd, sd->head->id, "closed", NULL, 0);
        pop(sd);
    }
    if (sd->s.status < 0)
        cli_session_outcome(&sd->s, RTCTL_EXIT_RUNTIME);
    cli_session_closed(&sd->s);
}

/* Stop sending (the outcome is known, Ctrl-C, --timeout). */
static void finish(void *ud)
{
    struct send *sd = ud;

    if (sd->closed)
        return;
    sd->finishing = 1;
    cli_lines_close(&sd->in);
    if (sd->via_http) {
        closed_all(sd); /* cancels the request in flight */
    } else if (sd->ws != NULL) {
        rt_ws_client_close(sd->ws); /* on_closed ends it */
    } else {
        closed_all(sd);
    }
}

/* --- WebSocket */

static void ws_on_message(rt_ws_client *c, const rt_msg *msg, const char *json,
                          size_t len, void *ud)
{
    struct send *sd = ud;

    (void)c;
    (void)json;
    (void)len;
    /* Broadcasts of the room are not ours to print; errors are. */
    if (msg != NULL && msg->type == RT_MSG_ERROR)
        cli_warnf(&sd->s.out, "the server says %s%s%s",
                  rt_msg_code_name(msg->u.error.code),
                  msg->u.error.message != NULL ? ": " : "",
                  msg->u.error.message != NULL ? msg->u.error.message : "");
}

static void ws_on_open(rt_ws_client *c, const rt_msg *welcome, void *ud)
{
    struct send *sd = ud;

    (void)welcome;
    cli_infof(&sd->s.out, "connected as '%s'", rt_ws_client_user(c));
}

static void ws_on_ack(rt_ws_client *c, const char *id, uint64_t seq,
                      const char *code, void *ud)
{
    struct send *sd = ud;

    (void)c;
    if (sd->inflight > 0)
        sd->inflight--;
    if (code == NULL) {
        sd->s.done++;
        print_ack(sd, id, seq);
    } else {
        if (strcmp(code, "closed") == 0)
            sd->lost++;
        else
            sd->refused++;
        print_refused(sd, id, code, NULL, 1);
    }
    feed(sd);
    check_done(sd);
}

static void ws_on_state(rt_ws_client *c, rt_conn_state st, uint64_t delay_ms,
                        int err, const char *detail, void *ud)
{
    struct send *sd = ud;

    if (st == RT_CONN_CONNECTING)
        cli_infof(&sd->s.out, "connecting to %s", rt_ws_client_url(c));
    /* A stop that left messages unacked is no success. */
    if (st == RT_CONN_CLOSED && err == 0 && sd->lost > 0)
        cli_session_outcome(&sd->s, RTCTL_EXIT_RUNTIME);
    cli_session_state_url(&sd->s, (int)st, delay_ms, rt_ws_client_attempt(c),
                          err, detail, rt_ws_client_url(c));
}

static void ws_on_closed(rt_ws_client *c, void *ud)
{
    struct send *sd = ud;

    (void)c;
    sd->ws = NULL;
    closed_all(sd);
}

static int start_ws(struct send *sd)
{
    rt_ws_client_opts co;
    rt_ws_client_cbs cbs;
    int rc;

    rt_ws_client_opts_init(&co);
    cli_session_conn_opts(&sd->s, &co.conn);
    memset(&cbs, 0, sizeof(cbs));
    cbs.on_message = ws_on_message;
    cbs.on_open = ws_on_open;
    cbs.on_ack = ws_on_ack;
    cbs.on_state = ws_on_state;
    cbs.on_closed = ws_on_closed;
    rc = rt_ws_client_new(&sd->ws, sd->s.loop, sd->s.url, &co, &cbs, sd);
    if (rc != 0)
        return cli_session_fail(&sd->s, rc);
    rc = rt_ws_client_start(sd->ws);
    if (rc != 0) {
        cli_session_fail(&sd->s, rc);
        finish(sd);
    }
    return 0;
}

/* --- HTTP */

static void on_answer(rt_publish_req *p, const rt_publish_result *r, void *ud);

static void start_post(struct send *sd)
{
    struct http *h = &sd->h;
    struct item *it = sd->head;
    char *frame = NULL;
    size_t len = 0;
    int rc;

    rc = rt_msg_encode_text(it->id, it->content, &frame, &len);
    if (rc == 0)
        rc = rt_publish(&h->req, sd->s.loop, rt__failover_str(&h->fo), frame,
                        len, &h->po, on_answer, sd);
    rt_free(frame);
    if (rc != 0) {
        cli_errf(&sd->s.out, "cannot publish: %s", rt_strerror(rc));
        cli_session_outcome(&sd->s, RTCTL_EXIT_RUNTIME);
        finish(sd);
        return;
    }
    sd->inflight++;
}

static void on_retry(uv_timer_t *t)
{
    struct send *sd = t->data;

    sd->h.waiting = 0;
    feed(sd);
}

/* |err|, |detail|: the failure; retry after the backoff or give up. */
static void post_failed(struct send *sd, int err, const char *detail,
                        const char *retry_after)
{
    struct http *h = &sd->h;
    char why[600];
    uint64_t delay;
    uint32_t n;

    if (!sd->s.o.reconnect && !rt__failover_untried(&h->fo)) {
        cli_session_state_url(&sd->s, RT_CONN_CLOSED, 0, 0, err, detail,
                              rt__failover_str(&h->fo));
        finish(sd);
        return;
    }
    if (retry_after[0] != '\0')
        rt_backoff_retry_after(&h->fo.backoff, retry_after,
                               strlen(retry_after), (int64_t)time(NULL));
    if (rt__failover_next(&h->fo, rand32(), &delay) != 0) {
        n = rt_backoff_attempt(&h->fo.backoff);
        if (h->fo.n > 1)
            snprintf(why, sizeof(why),
                     "gave up after %u retr%s of %zu URLs each: %.400s", n,
                     n == 1 ? "y" : "ies", h->fo.n, detail);
        else
            snprintf(why, sizeof(why), "gave up after %u retr%s: %.400s", n,
                     n == 1 ? "y" : "ies", detail);
        cli_session_state_url(&sd->s, RT_CONN_CLOSED, 0, 0, RT_EEXHAUSTED, why,
                              rt__failover_str(&h->fo));
        finish(sd);
        return;
    }
    cli_session_state_url(&sd->s, RT_CONN_BACKOFF, delay,
                          rt_backoff_attempt(&h->fo.backoff), err, detail,
                          rt__failover_str(&h->fo));
    h->waiting = 1;
    uv_timer_start(&h->retry, on_retry, delay, 0);
}

static void on_answer(rt_publish_req *p, const rt_publish_result *r, void *ud)
{
    struct send *sd = ud;
    unsigned st = r->status;

    (void)p;
    sd->h.req = NULL;
    sd->inflight--;
    if (r->err != 0) {
        post_failed(sd, r->err, r->detail, r->retry_after);
        return;
    }
    if (st >= 200 && st < 300) {
        if (r->seq == 0) {
            cli_session_state_url(&sd->s, RT_CONN_CLOSED, 0, 0, RT_EPROTO,
                                  "the answer to the publish has no seq",
                                  rt__failover_str(&sd->h.fo));
            finish(sd);
            return;
        }
        rt__failover_delivered(&sd->h.fo);
        sd->s.done++;
        print_ack(sd, sd->head->id, r->seq);
        pop(sd);
        feed(sd);
        check_done(sd);
        return;
    }
    if (st == 408 || st == 429 || st >= 500) {
        post_failed(sd, RT_EHTTP, r->detail, r->retry_after);
        return;
    }
    /* Refused: this message (400, 413), or every one (401, 403...). */
    print_refused(sd, sd->head->id, r->code[0] ? r->code : "http_error",
                  r->message, st == 400 || st == 413);
    sd->refused++;
    pop(sd);
    if (st == 400 || st == 413) {
        feed(sd);
        check_done(sd);
        return;
    }
    cli_session_state_url(&sd->s, RT_CONN_CLOSED, 0, 0, RT_EHTTP, r->detail,
                          rt__failover_str(&sd->h.fo));
    finish(sd);
}

static int start_http(struct send *sd)
{
    struct http *h = &sd->h;
    rt_backoff_policy bp;
    int rc;

    rt_backoff_policy_init(&bp);
    bp.max_attempts = (uint32_t)sd->s.o.max_retries;
    rc = rt__failover_init(&h->fo, &bp, sd->s.url,
                           cli_session_more_urls(&sd->s), rt__failover_http,
                           NULL);
    if (rc != 0)
        return cli_session_fail(&sd->s, rc);
    rt_publish_opts_init(&h->po);
    h->po.headers = sd->s.headers;
    h->po.cacert = sd->s.o.cacert;
    h->po.insecure = sd->s.o.insecure;
    if (uv_timer_init(rt_loop_uv(sd->s.loop), &h->retry) != 0) {
        cli_errf(&sd->s.out, "cannot set up the HTTP client");
        cli_session_outcome(&sd->s, RTCTL_EXIT_RUNTIME);
        finish(sd);
        return 0;
    }
    h->retry.data = sd;
    h->timer_ready = 1;
    feed(sd);
    return 0;
}

/* --- the command */

static int run(struct send *sd, const char *room, char **msgs, int nmsgs)
{
    int rc, i;

    sd->s.no_presence = 1;
    rc = cli_session_url(&sd->s, room,
                         sd->via_http ? RT_URL_KIND_PUBLISH : RT_URL_KIND_WS);
    if (rc != 0 || (rc = cli_session_open(&sd->s)) != 0)
        return rc;
    for (i = 0; i < nmsgs; i++) {
        if (push(sd, msgs[i], strlen(msgs[i])) != 0) {
            cli_errf(&sd->s.out, "out of memory");
            return RTCTL_EXIT_RUNTIME;
        }
    }
    sd->in_done = !sd->from_stdin;
    rc = sd->via_http ? start_http(sd) : start_ws(sd);
    if (rc != 0)
        return rc;
    if (sd->from_stdin && !sd->finishing &&
        cli_lines_start(&sd->in, rt_loop_uv(sd->s.loop), STDIN_FILENO,
                        MAX_LINE, on_line, on_input_end, sd) != 0) {
        cli_errf(&sd->s.out, "cannot read standard input");
        cli_session_outcome(&sd->s, RTCTL_EXIT_RUNTIME);
        finish(sd);
    }
    if (!sd->finishing)
        feed(sd);
    return cli_session_run(&sd->s, finish, sd);
}

static int id_ok(const char *id)
{
    size_t n = strlen(id), i;

    if (n == 0 || n > 64)
        return 0;
    for (i = 0; i < n; i++)
        if (id[i] <= 0x20 || id[i] >= 0x7f)
            return 0;
    return 1;
}

int cmd_send(int argc, char **argv)
{
    struct send sd;
    const char *via = NULL;
    uint32_t r;
    int n, status;
    struct cli_opt opts[] = {
        OPT_GROUP("Sending"),
        OPT_STR(0, "via", &via, "TRANSPORT",
                "ws (default: WebSocket, acks in-band) or http (POST "
                "/publish/ROOM)"),
        OPT_STR(0, "id", &sd.fixed_id, "ID",
                "the id of the one MESSAGE (default: a random prefix and a "
                "counter)"),
        CLI_CONN_OPTS(&sd.s.o),
        OPT_END(),
    };

    memset(&sd, 0, sizeof(sd));
    sd.tail = &sd.head;
    cli_session_init(&sd.s, &send_help, "send to", "retrying", "acks", 1);
    if ((n = cli_session_parse(&sd.s, opts, argc, argv, &status)) < 0)
        goto end;
    status = RTCTL_EXIT_USAGE;
    if (n < 1) {
        cli_opts_error(&send_help, "nothing to send to: give a ROOM");
        goto end;
    }
    if (via != NULL && strcmp(via, "ws") != 0 && strcmp(via, "http") != 0) {
        cli_opts_error(&send_help, "--via: '%s' is not ws or http", via);
        goto end;
    }
    sd.via_http = via != NULL && strcmp(via, "http") == 0;
    if (sd.fixed_id != NULL && (n != 2 || !id_ok(sd.fixed_id))) {
        cli_opts_error(&send_help, n != 2 ? "--id goes with exactly one "
                                            "MESSAGE argument"
                                          : "--id: 1 to 64 printable ASCII "
                                            "characters, no space");
        goto end;
    }
    sd.from_stdin = n == 1;
    r = rand32();
    snprintf(sd.prefix, sizeof(sd.prefix), "%08x", (unsigned)r);
    status = run(&sd, argv[1], argv + 2, n - 1);
end:
    while (sd.head != NULL)
        pop(&sd);
    rt__failover_cleanup(&sd.h.fo);
    return cli_session_end(&sd.s, status);
}
