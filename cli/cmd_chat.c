/*
 * cmd_chat.c: `rtctl chat`, a chat session in one room of an rtctl
 * protocol server (rtctl-protocol(7)) on the reconnecting WebSocket client
 * (rt/ws_client.h).  This file is the session: the client and what its
 * callbacks do with the state of the chat; cli/chat/ holds the view and
 * the terminal's commands (chat/chat.h).
 *
 * Two faces over one client:
 * - Standard input a terminal: readline (chat/term.c) with history, slash
 *   commands and completion; everything that arrives is printed above the
 *   line being typed; state changes go to stderr, above it too.
 * - Otherwise: every stdin line is a text message sent with an id; the run
 *   ends with 0 once the client has connected, stdin has ended (or --count
 *   messages arrived) and every message sent was acked.
 *
 * Streams: messages go to stdout (with --json the frames as received, one
 * per line, the welcome re-encoded); notices, errors and, with --json, the
 * event objects (state, resumed, ack) go to stderr.
 */
#include <errno.h>
#include <langinfo.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "chat/chat.h"
#include "chat/term.h"
#include "cmd.h"
#include "exit.h"
#include "failover.h"
#include "lines.h"
#include "opts.h"
#include "output.h"
#include "rt/error.h"
#include "rt/msg.h"
#include "rt/url.h"
#include "rt/ws_client.h"
#include "session.h"

static const char *const chat_usage[] = {
    "rtctl chat [options] ROOM",
    "rtctl chat [options] PATH | URL",
    NULL,
};

static const struct cli_cmd_help chat_help = {
    "chat",
    chat_usage,
    "Chat in a room of an rtctl server over WebSocket. ROOM is a room name "
    "('general' is ws/general below --url), a path relative to --url or a "
    "full URL. On a terminal it is an interactive session (readline, "
    "history, /help lists the slash commands); otherwise each line of "
    "standard input is sent as a message and the command exits 0 once "
    "input has ended and every message was acknowledged. The connection "
    "is kept across drops, resuming where it left off.",
};

#define MAX_NAMES 10000 /* online users tracked for completion */
#define MAX_LINE ((size_t)1 << 20)
#define PIPE_HIGH 256 /* pending messages that pause stdin */
#define PIPE_LOW 64   /* ... and resume it */

/* --- presence */

const char *cli_chat_name_at(size_t i, void *ud)
{
    struct cli_chat *ch = ud;

    return i < ch->nnames ? ch->names[i] : NULL;
}

void cli_chat_names_clear(struct cli_chat *ch)
{
    size_t i;

    for (i = 0; i < ch->nnames; i++)
        rt__free(ch->names[i]);
    rt__free(ch->names);
    ch->names = NULL;
    ch->nnames = 0;
}

static void names_del(struct cli_chat *ch, const char *name)
{
    size_t i;

    for (i = 0; i < ch->nnames; i++)
        if (strcmp(ch->names[i], name) == 0) {
            rt__free(ch->names[i]);
            ch->names[i] = ch->names[--ch->nnames];
            return;
        }
}

static void names_add(struct cli_chat *ch, const char *name)
{
    char **v, *d;

    names_del(ch, name);
    if (ch->nnames >= MAX_NAMES)
        return;
    v = rt__reallocarray(ch->names, ch->nnames + 1, sizeof(*v));
    if (v == NULL)
        return;
    ch->names = v;
    if ((d = rt__strndup(name, strlen(name))) != NULL)
        ch->names[ch->nnames++] = d;
}

static void names_set(struct cli_chat *ch, const char *const *online, size_t n)
{
    size_t i;

    cli_chat_names_clear(ch);
    for (i = 0; i < n; i++)
        names_add(ch, online[i]);
}

static void maybe_done(struct cli_chat *ch)
{
    if (ch->interactive || ch->stopping || !ch->opened || ch->unacked > 0)
        return;
    if (ch->count > 0 ? ch->received >= ch->count : ch->input_done)
        cli_chat_finish(ch,
                        ch->refused > 0 ? RTCTL_EXIT_RUNTIME : RTCTL_EXIT_OK);
}

static void on_message(rt_ws_client *c, const rt_msg *m, const char *json,
                       size_t len, void *ud)
{
    struct cli_chat *ch = ud;
    rt_buf b;

    if (c != ch->client || ch->stopping)
        return;
    if (m == NULL) {
        cli_chat_warning(ch, "a frame that is not protocol JSON: %.*s",
                         len > 200 ? 200 : (int)len, json);
        return;
    }
    if (m->type == RT_MSG_PRESENCE) {
        if (m->u.presence.event == RT_MSG_PRESENCE_JOIN)
            names_add(ch, m->u.presence.user);
        else if (m->u.presence.event == RT_MSG_PRESENCE_LEAVE)
            names_del(ch, m->u.presence.user);
        else if (m->u.presence.event == RT_MSG_PRESENCE_SNAPSHOT)
            names_set(ch, m->u.presence.online, m->u.presence.n_online);
    }
    if (ch->s.out.json) {
        rt__buf_init(&b);
        if (rt__buf_append(&b, json, len) == 0 && rt__buf_putc(&b, '\n') == 0)
            cli_chat_put(ch, stdout, b.data, b.len);
        rt__buf_cleanup(&b);
    } else {
        cli_chat_render(ch, m, json, len);
    }
    if (m->has_seq) {
        cli_chat_own_prune(ch, m->seq);
        ch->received++;
        ch->s.done = ch->received;
        maybe_done(ch);
    }
}

static void on_open(rt_ws_client *c, const rt_msg *w, void *ud)
{
    struct cli_chat *ch = ud;
    char *enc = NULL;
    size_t len;
    rt_buf b;
    int first = rt_ws_client_connections(c) <= 1;

    if (c != ch->client || w == NULL)
        return;
    ch->opened = ch->open = 1;
    snprintf(ch->user, sizeof(ch->user), "%s",
             w->u.system.welcome.user != NULL ? w->u.system.welcome.user
                                              : rt_ws_client_user(c));
    names_set(ch, w->u.system.welcome.online, w->u.system.welcome.n_online);
    if (ch->s.out.json && rt_msg_encode(w, &enc, &len) == 0) {
        rt__buf_init(&b);
        if (rt__buf_append(&b, enc, len) == 0 && rt__buf_putc(&b, '\n') == 0)
            cli_chat_put(ch, stdout, b.data, b.len);
        rt__buf_cleanup(&b);
    }
    rt_free(enc);
    if (!ch->s.out.quiet && (ch->interactive || ch->s.out.verbose)) {
        rt__buf_init(&b);
        if (rt__buf_printf(&b, "rtctl chat: %s %s as %s; %zu online: ",
                           first ? "joined" : "reconnected to", ch->room,
                           ch->user, ch->nnames) == 0 &&
            cli_chat_list_names(ch, &b, (const char *const *)ch->names,
                                ch->nnames) == 0 &&
            rt__buf_putc(&b, '\n') == 0)
            cli_chat_put(ch, stderr, b.data, b.len);
        rt__buf_cleanup(&b);
    }
    cli_chat_set_prompt(ch, "");
    maybe_done(ch);
}

static void on_resumed(rt_ws_client *c, int recovered, uint64_t from,
                       uint64_t to, void *ud)
{
    struct cli_chat *ch = ud;
    rt_buf b;

    if (c != ch->client)
        return;
    if (ch->s.out.json) {
        rt__buf_init(&b);
        if (rt__buf_printf(&b,
                           "{\"event\":\"resumed\",\"recovered\":%s,"
                           "\"from\":%llu,\"to\":%llu",
                           recovered ? "true" : "false",
                           (unsigned long long)from,
                           (unsigned long long)to) == 0)
            cli_chat_json_event(ch, &b);
        else
            rt__buf_cleanup(&b);
    }
    if (!recovered)
        cli_chat_warning(ch,
                         "resumed with recovered:false: the server could not "
                         "replay every message missed while reconnecting (the "
                         "replay starts at seq %llu)",
                         (unsigned long long)from);
    else if (to >= from)
        cli_chat_info(ch, "resumed: %llu missed message%s follow%s",
                      (unsigned long long)(to - from + 1),
                      to == from ? "" : "s", to == from ? "s" : "");
}

/* The line number of an id of ours ("PREFIX-N"), or 0. */
static uint64_t id_line(struct cli_chat *ch, const char *id)
{
    size_t n = strlen(ch->idp);

    if (strncmp(id, ch->idp, n) != 0 || id[n] != '-')
        return 0;
    return strtoull(id + n + 1, NULL, 10);
}

static void on_ack(rt_ws_client *c, const char *id, uint64_t seq,
                   const char *code, void *ud)
{
    struct cli_chat *ch = ud;
    struct cli_chat_own *o;
    rt_buf b;
    int rc = 0;

    if (ch->unacked > 0)
        ch->unacked--;
    if (ch->s.out.json) {
        rt__buf_init(&b);
        rc |= rt__buf_append(&b, "{\"event\":\"ack\",\"id\":", 20);
        rc |= rt__buf_json_str(&b, id, strlen(id));
        if (code == NULL)
            rc |= rt__buf_printf(&b, ",\"seq\":%llu", (unsigned long long)seq);
        else
            rc |= rt__buf_printf(&b, ",\"error\":\"%s\"", code);
        if (rc == 0)
            cli_chat_json_event(ch, &b);
        else
            rt__buf_cleanup(&b);
    }
    o = cli_chat_own_find(ch, id, 0);
    if (code == NULL) {
        if (o != NULL) {
            o->acked = 1;
            o->seq = seq;
        }
        cli_chat_hold_flush(ch, 0);
        if (!ch->interactive && rt_ws_client_pending(c) < PIPE_LOW)
            cli_lines_resume(&ch->in);
        maybe_done(ch);
        return;
    }
    if (o != NULL) {
        cli_chat_own_find(ch, id, 1);
        rt__free(o);
    }
    cli_chat_hold_flush(ch, 0);
    if (strcmp(code, "closed") == 0) {
        /* The client stopped first: its state says why. */
        if (c != ch->client && ch->interactive)
            cli_chat_warning(ch, "a message sent in the room you left was not "
                                 "acknowledged before leaving");
        else if (!ch->stopping && !ch->interactive)
            cli_chat_warning(ch,
                             "line %llu was not delivered: the client stopped "
                             "before its ack",
                             (unsigned long long)id_line(ch, id));
        else if (!ch->stopping)
            cli_chat_warning(ch, "your message was not delivered: the client "
                                 "stopped before its ack");
        return;
    }
    ch->refused++;
    if (ch->interactive)
        cli_chat_warning(ch, "the server refused your message: %s", code);
    else
        cli_chat_error(ch, "line %llu was refused: %s",
                       (unsigned long long)id_line(ch, id), code);
    if (!ch->interactive && rt_ws_client_pending(c) < PIPE_LOW)
        cli_lines_resume(&ch->in);
    maybe_done(ch);
}

/* --- state */

/* The session's {"event":"state",...} object, above the prompt. */
static void json_state(struct cli_chat *ch, int st, uint64_t delay,
                       unsigned attempt, int err, const char *detail,
                       const char *url)
{
    rt_buf b;

    rt__buf_init(&b);
    if (cli_session_state_json_url(&b, st, delay, attempt, err, detail, url) ==
            0 &&
        rt__buf_putc(&b, '\n') == 0)
        cli_chat_put(ch, stderr, b.data, b.len);
    rt__buf_cleanup(&b);
}

/* "ROOM> ", "ROOM (offline)> ": the room in bold with colour. */
static void on_state(rt_ws_client *c, rt_conn_state st, uint64_t delay_ms,
                     int err, const char *detail, void *ud)
{
    struct cli_chat *ch = ud;
    unsigned attempt = rt_ws_client_attempt(c);
    const char *url = rt_ws_client_url(c);

    if (c != ch->client)
        return; /* the room left with /join */
    if (st != RT_CONN_OPEN)
        ch->open = 0;
    if (detail == NULL)
        detail = "";
    if (!ch->interactive || st == RT_CONN_CLOSED) {
        if (st == RT_CONN_CONNECTING && rt_ws_client_connections(c) == 0)
            cli_chat_info(ch, "connecting to %s", url);
        /* The terminal goes first: the final error is printed below it. */
        chat_term_stop();
        cli_session_state_url(&ch->s, st, delay_ms, attempt, err, detail, url);
        return;
    }
    if (ch->s.out.json)
        json_state(ch, st, delay_ms, attempt, err, detail,
                   ch->s.nurls > 1 ? url : NULL);
    switch (st) {
    case RT_CONN_CONNECTING:
        /* "joined" follows soon enough for a person; -v says more. */
        if (rt_ws_client_connections(c) == 0 && attempt == 0 &&
            ch->s.out.verbose)
            cli_chat_info(ch, "connecting to %s", url);
        break;
    case RT_CONN_OPEN:
        if (ch->s.nurls > 1)
            cli_chat_notice(ch, "connected to %s", url);
        break;
    case RT_CONN_BACKOFF:
        if (ch->s.nurls < 2)
            cli_chat_notice(ch, "%s; reconnecting in %llu ms (attempt %u)",
                            detail, (unsigned long long)delay_ms, attempt);
        else if (delay_ms == 0)
            cli_chat_notice(ch, "%s; reconnecting now, to %s", detail, url);
        else
            cli_chat_notice(
                ch, "%s; reconnecting in %llu ms (attempt %u), to %s", detail,
                (unsigned long long)delay_ms, attempt, url);
        cli_chat_set_prompt(ch, " (offline)");
        break;
    default:
        break;
    }
}

/* Close what is ours on the loop once the client is gone. */
static void teardown(struct cli_chat *ch)
{
    chat_term_stop();
    ch->stopping = 1;
    cli_lines_close(&ch->in);
    cli_chat_hold_flush(ch, 1);
    if (ch->handles > 0) {
        ch->handles = 0;
        uv_close((uv_handle_t *)&ch->hold_timer, NULL);
        uv_close((uv_handle_t *)&ch->timeout, NULL);
    }
    cli_session_closed(&ch->s);
}

static void on_closed(rt_ws_client *c, void *ud)
{
    struct cli_chat *ch = ud;

    if (c != ch->client)
        return;
    ch->client = NULL;
    teardown(ch);
}

static void chat_stop(void *ud)
{
    struct cli_chat *ch = ud;

    ch->stopping = 1;
    chat_term_stop();
    cli_lines_pause(&ch->in);
    if (ch->client != NULL)
        rt_ws_client_close(ch->client);
    else
        teardown(ch);
}

void cli_chat_finish(struct cli_chat *ch, int status)
{
    cli_session_outcome(&ch->s, status);
    if (!ch->stopping)
        chat_stop(ch);
}

int cli_chat_start_client(struct cli_chat *ch, const char *url)
{
    rt_ws_client_opts co;
    rt_ws_client_cbs cbs;
    rt_ws_client *c = NULL;
    int rc;

    rt_ws_client_opts_init(&co);
    cli_session_conn_opts(&ch->s, &co.conn);
    memset(&cbs, 0, sizeof(cbs));
    cbs.on_message = on_message;
    cbs.on_open = on_open;
    cbs.on_resumed = on_resumed;
    cbs.on_ack = on_ack;
    cbs.on_state = on_state;
    cbs.on_closed = on_closed;
    rc = rt_ws_client_new(&c, ch->s.loop, url, &co, &cbs, ch);
    if (rc != 0)
        return rc;
    ch->client = c;
    ch->open = 0;
    rc = rt_ws_client_start(c);
    if (rc != 0) {
        ch->client = NULL;
        rt_ws_client_close(c);
    }
    return rc;
}

/* --- sending */

int cli_chat_send_text(struct cli_chat *ch, const char *text, uint64_t n)
{
    char id[64];
    int rc;

    snprintf(id, sizeof(id), "%s-%llu", ch->idp, (unsigned long long)n);
    if (!ch->s.out.json && cli_chat_own_add(ch, id) != 0)
        return RT_ENOMEM;
    rc = rt_ws_client_send_text(ch->client, text, id);
    if (rc != 0) {
        rt__free(cli_chat_own_find(ch, id, 1));
        return rc;
    }
    ch->unacked++;
    ch->nsent++;
    return 0;
}

const char *cli_chat_send_error(int rc)
{
    switch (rc) {
    case RT_EINVAL:
        return "not valid UTF-8";
    case RT_EFULL:
        return "too many messages waiting to go";
    default:
        return rt_strerror(rc);
    }
}

/* --- standard input that is not a terminal: one message per line */

static void on_in_line(struct cli_lines *l, char *line, size_t len, void *ud)
{
    struct cli_chat *ch = ud;
    int rc;

    ch->lineno++;
    if (len == 0 || ch->stopping)
        return; /* nothing to say */
    if ((rc = cli_chat_send_text(ch, line, ch->lineno)) != 0) {
        cli_chat_error(ch, "line %llu was not sent: %s",
                       (unsigned long long)ch->lineno,
                       cli_chat_send_error(rc));
        ch->refused++;
    }
    /* The client queues while it reconnects; past a point, stop reading. */
    if (ch->client != NULL && rt_ws_client_pending(ch->client) >= PIPE_HIGH)
        cli_lines_pause(l);
}

static void on_in_end(struct cli_lines *l, int err, void *ud)
{
    struct cli_chat *ch = ud;

    (void)l;
    if (ch->stopping)
        return;
    if (err == RT_ETOOBIG) {
        cli_chat_error(ch, "line %llu is longer than %zu bytes",
                       (unsigned long long)ch->lineno + 1, MAX_LINE);
        cli_chat_finish(ch, RTCTL_EXIT_RUNTIME);
        return;
    }
    if (err != 0) {
        cli_chat_error(ch, "cannot read standard input: %s", strerror(err));
        cli_chat_finish(ch, RTCTL_EXIT_RUNTIME);
        return;
    }
    ch->input_done = 1;
    cli_chat_info(ch, "end of input: %llu message%s sent",
                  (unsigned long long)ch->nsent, ch->nsent == 1 ? "" : "s");
    maybe_done(ch);
}

/*
 * --timeout on a terminal: the session's timer would print its message
 * across the prompt; this one gives the terminal back first.
 */
static void term_timeout(uv_timer_t *t)
{
    struct cli_chat *ch = t->data;

    chat_term_stop();
    if (ch->s.status < 0) {
        if (ch->count != 0)
            cli_errf(&ch->s.out,
                     "--timeout: %llu of %llu messages after %llu "
                     "ms",
                     (unsigned long long)ch->received,
                     (unsigned long long)ch->count,
                     (unsigned long long)ch->timeout_ms);
        else
            cli_errf(&ch->s.out, "--timeout: %llu ms passed (%llu messages)",
                     (unsigned long long)ch->timeout_ms,
                     (unsigned long long)ch->received);
    }
    cli_chat_finish(ch, RTCTL_EXIT_TIMEOUT);
}

/* $XDG_STATE_HOME/rtctl/history, else ~/.local/state/rtctl/history. */
/* --- the command */

static void free_all(struct cli_chat *ch)
{
    cli_chat_view_free(ch);
    cli_chat_names_clear(ch);
}

static void make_id_prefix(struct cli_chat *ch)
{
    unsigned char r[5];
    size_t i;

    if (uv_random(NULL, NULL, r, sizeof(r), 0, NULL) != 0) {
        uint64_t x = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);

        for (i = 0; i < sizeof(r); i++)
            r[i] = (unsigned char)(x >> (8 * i));
    }
    for (i = 0; i < sizeof(r); i++)
        snprintf(ch->idp + 2 * i, 3, "%02x", r[i]);
}

int cmd_chat(int argc, char **argv)
{
    static struct cli_chat ch; /* one per process, as readline's state is */
    uint64_t count = 0;
    rt_url *u = NULL;
    const char *room, *cs;
    int n, rc;
    struct cli_opt opts[] = {
        OPT_GROUP("Chat"),
        OPT_UINT('n', "count", &count, "N",
                 "exit 0 once N messages arrived (stored messages, yours "
                 "included)"),
        CLI_CONN_OPTS(&ch.s.o),
        OPT_END(),
    };

    memset(&ch, 0, sizeof(ch));
    ch.hold_tail = &ch.hold;
    cli_session_init(&ch.s, &chat_help, "connect to", "reconnecting",
                     "messages", 1);
    if ((n = cli_session_parse(&ch.s, opts, argc, argv, &rc)) < 0)
        return cli_session_end(&ch.s, rc);
    if (n != 1) {
        cli_opts_error(&chat_help, n == 0 ? "no room: give a ROOM, a path "
                                            "or a URL"
                                          : "too many arguments");
        return cli_session_end(&ch.s, RTCTL_EXIT_USAGE);
    }
    if ((rc = cli_session_url(&ch.s, argv[1], RT_URL_KIND_WS)) != 0)
        return cli_session_end(&ch.s, rc);
    room = NULL;
    if (rt_url_parse(&u, ch.s.url, NULL, 0) == 0)
        room = rt_url_room(u, NULL);
    snprintf(ch.room, sizeof(ch.room), "%s", room != NULL ? room : "chat");
    rt_url_free(u);
    ch.count = count;
    ch.s.goal = count;
    ch.interactive = isatty(STDIN_FILENO) &&
                     (isatty(STDOUT_FILENO) || isatty(STDERR_FILENO));
    make_id_prefix(&ch);
    /* Readline edits characters, not bytes; the mark needs UTF-8. */
    setlocale(LC_CTYPE, "");
    cs = nl_langinfo(CODESET);
    ch.utf8 = cs != NULL && strcmp(cs, "UTF-8") == 0;
    if ((rc = cli_session_open(&ch.s)) != 0)
        return cli_session_end(&ch.s, rc);
    uv_timer_init(rt_loop_uv(ch.s.loop), &ch.hold_timer);
    uv_timer_init(rt_loop_uv(ch.s.loop), &ch.timeout);
    ch.hold_timer.data = ch.timeout.data = &ch;
    ch.handles = 1;
    if (ch.interactive && ch.s.o.timeout_ms > 0) {
        ch.timeout_ms = ch.s.o.timeout_ms;
        ch.s.o.timeout_ms = 0;
        uv_timer_start(&ch.timeout, term_timeout, ch.timeout_ms, 0);
    }

    if (ch.interactive) {
        rc = cli_chat_term_open(&ch);
    } else if (cli_lines_start(&ch.in, rt_loop_uv(ch.s.loop), STDIN_FILENO,
                               MAX_LINE, on_in_line, on_in_end, &ch) != 0) {
        cli_chat_error(&ch, "cannot read standard input");
        rc = RTCTL_EXIT_RUNTIME;
    } else {
        rc = 0;
    }
    if (rc == 0 && (rc = cli_chat_start_client(&ch, ch.s.url)) != 0) {
        cli_chat_error(&ch, "cannot connect to '%s': %s", ch.s.url,
                       rt_strerror(rc));
        rc = rtctl_exit_from_err(rc);
    }
    if (rc != 0) {
        cli_session_outcome(&ch.s, rc);
        teardown(&ch);
    }
    rc = cli_session_run(&ch.s, chat_stop, &ch);
    free_all(&ch);
    return cli_session_end(&ch.s, rc);
}
