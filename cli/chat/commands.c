/*
 * commands.c: `rtctl chat` on a terminal.  One table of slash commands
 * drives their dispatch, Tab completion and /help; a line that is not a
 * command is a message.  Typing sends typing notices (at most one every
 * TYPING_EVERY_MS), and /join moves the session to another room of the
 * same server.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chat/chat.h"
#include "chat/term.h"
#include "exit.h"
#include "failover.h"
#include "rt/error.h"
#include "rt/url.h"

#define TYPING_EVERY_MS 3000 /* automatic typing notices, at most */
#define HISTORY_MAX 1000

/* --- the terminal: slash commands */

static void send_frame(struct cli_chat *ch, const char *frame, size_t len)
{
    int rc;

    if (ch->client == NULL || !ch->open) {
        cli_chat_notice(
            ch, "not connected: try again once the connection is back");
        return;
    }
    rc = rt_ws_client_send(ch->client, 0, frame, len);
    if (rc != 0)
        cli_chat_warning(ch, "not sent: %s", cli_chat_send_error(rc));
}

/* Ask for the room's presence snapshot ({"type":"presence","data":{}}). */
static void send_presence_request(struct cli_chat *ch)
{
    rt_msg m;
    char *frame = NULL;
    size_t len = 0;

    rt_msg_init(&m, RT_MSG_PRESENCE);
    m.u.presence.event = RT_MSG_PRESENCE_REQUEST;
    if (rt_msg_encode(&m, &frame, &len) != 0) {
        cli_chat_warning(ch, "not sent: %s", cli_chat_send_error(RT_ENOMEM));
        return;
    }
    send_frame(ch, frame, len);
    rt_free(frame);
}

static void send_typing(struct cli_chat *ch, int force)
{
    uint64_t now = cli_chat_now_ms(ch);
    char *frame = NULL;
    size_t len = 0;

    if (ch->client == NULL || !ch->open) {
        if (force)
            cli_chat_notice(ch, "not connected");
        return;
    }
    if (!force && ch->typing_sent &&
        now - ch->typing_sent_at < TYPING_EVERY_MS)
        return;
    if (rt_msg_encode_typing(NULL, NULL, 1, &frame, &len) == 0 &&
        rt_ws_client_send(ch->client, 0, frame, len) == 0) {
        ch->typing_sent = 1;
        ch->typing_sent_at = now;
    }
    rt_free(frame);
}

/*
 * The URL of |room| on the same server as the current one: the path's
 * /ws/ROOM ending replaced, prefix and query (user=...) kept.
 */
static int room_url(const char *from, const char *room, char **out)
{
    rt_url *u = NULL, *nu = NULL;
    rt_url_kind kind;
    const char *r, *path, *q;
    char *origin = NULL;
    rt_buf b;
    int rc;

    *out = NULL;
    rc = rt_url_parse(&u, from, NULL, 0);
    if (rc != 0)
        return rc;
    r = rt_url_room(u, &kind);
    if (r == NULL || kind != RT_URL_KIND_WS) {
        rt_url_free(u);
        return RT_EURL;
    }
    path = rt_url_path(u);
    q = rt_url_query(u);
    rt__buf_init(&b);
    rc = rt_url_origin(u, &origin);
    if (rc == 0)
        rc = rt__buf_printf(&b, "%s%.*s%s%s%s", origin, (int)(r - path), path,
                            room, *q ? "?" : "", q);
    if (rc == 0)
        rc = rt_url_parse(&nu, b.data, NULL, 0);
    if (rc == 0)
        rc = rt_url_format(nu, out);
    rt_free(origin);
    rt__buf_cleanup(&b);
    rt_url_free(nu);
    rt_url_free(u);
    return rc;
}

/* s.urls with the room replaced by |room|, into *|out| (|n| of them). */
static int room_urls(struct cli_chat *ch, const char *room, char ***out)
{
    char **v;
    size_t i;
    int rc = 0;

    *out = NULL;
    v = rt__calloc(ch->s.nurls + 1, sizeof(*v));
    if (v == NULL)
        return RT_ENOMEM;
    for (i = 0; rc == 0 && i < ch->s.nurls; i++)
        rc = room_url(ch->s.urls[i], room, &v[i]);
    if (rc != 0) {
        rt__url_list_free(v);
        return rc;
    }
    *out = v;
    return 0;
}

static void join(struct cli_chat *ch, const char *room)
{
    rt_ws_client *old = ch->client;
    char **urls = NULL, **old_urls, left[sizeof(ch->room)];
    int rc, old_open = ch->open;
    size_t old_n = ch->s.nurls;

    if (!rt_room_valid(room, strlen(room))) {
        cli_chat_warning(
            ch, "'%s' is not a room name (1 to 64 of A-Z a-z 0-9 . _ -)",
            room);
        return;
    }
    if (strcmp(room, ch->room) == 0) {
        cli_chat_notice(ch, "already in %s", room);
        return;
    }
    if (room_urls(ch, room, &urls) != 0) {
        cli_chat_warning(ch,
                         "cannot /join from '%s': its path does not end in "
                         "/ws/ROOM",
                         ch->s.url);
        return;
    }
    snprintf(left, sizeof(left), "%s", ch->room);
    snprintf(ch->room, sizeof(ch->room), "%s", room);
    cli_chat_hold_flush(ch, 1);
    old_urls = ch->s.urls;
    ch->s.urls = NULL; /* kept for a way back */
    cli_session_set_urls(&ch->s, urls, old_n);
    rc = cli_chat_start_client(ch, ch->s.url);
    if (rc != 0) {
        cli_chat_warning(ch, "cannot join %s: %s", room, rt_strerror(rc));
        snprintf(ch->room, sizeof(ch->room), "%s", left);
        cli_session_set_urls(&ch->s, old_urls, old_n);
        ch->client = old;
        ch->open = old_open; /* the old client carries on */
        return;
    }
    rt_ws_client_close(old);
    rt__url_list_free(old_urls);
    cli_chat_names_clear(ch);
    memset(ch->typists, 0, sizeof(ch->typists));
    ch->typing_sent = 0;
    cli_chat_notice(ch, "left %s", left);
    cli_chat_set_prompt(ch, " (connecting)");
}

/*
 * The slash commands: one table for the dispatch, Tab completion and
 * /help.  |arg| names the argument ("" for none); |one_word| 1 when it is
 * exactly one word, 0 when it is the rest of the line.
 */
struct chat_cmd {
    const char *name;
    const char *arg;
    int one_word;
    const char *help;
    void (*run)(struct cli_chat *ch, const char *arg);
};

static void cmd_who(struct cli_chat *ch, const char *arg);
static void cmd_join(struct cli_chat *ch, const char *arg);
static void cmd_typing(struct cli_chat *ch, const char *arg);
static void cmd_raw(struct cli_chat *ch, const char *arg);
static void cmd_quit(struct cli_chat *ch, const char *arg);
static void cmd_help(struct cli_chat *ch, const char *arg);

static const struct chat_cmd chat_cmds[] = {
    {"/who", "", 0, "who is in the room", cmd_who},
    {"/join", "ROOM", 1, "leave this room for ROOM", cmd_join},
    {"/typing", "", 0,
     "tell the room you are typing (sent by itself as you type)", cmd_typing},
    {"/raw", "JSON", 0, "send JSON as it is, as one frame", cmd_raw},
    {"/quit", "", 0, "leave (Ctrl-D too)", cmd_quit},
    {"/help", "", 0, "this list", cmd_help},
};
#define N_CMDS (sizeof(chat_cmds) / sizeof(chat_cmds[0]))

static void cmd_who(struct cli_chat *ch, const char *arg)
{
    (void)arg;
    send_presence_request(ch);
}

static void cmd_join(struct cli_chat *ch, const char *arg)
{
    join(ch, arg);
}

static void cmd_typing(struct cli_chat *ch, const char *arg)
{
    (void)arg;
    send_typing(ch, 1);
}

static void cmd_raw(struct cli_chat *ch, const char *arg)
{
    send_frame(ch, arg, strlen(arg));
}

static void cmd_quit(struct cli_chat *ch, const char *arg)
{
    (void)arg;
    cli_chat_finish(ch, RTCTL_EXIT_OK);
}

static void cmd_help(struct cli_chat *ch, const char *arg)
{
    rt_buf b;
    size_t i;
    int rc = 0;

    (void)arg;
    rt__buf_init(&b);
    for (i = 0; i < N_CMDS; i++) {
        char use[32];

        snprintf(use, sizeof(use), "%s%s%s", chat_cmds[i].name,
                 chat_cmds[i].arg[0] != '\0' ? " " : "", chat_cmds[i].arg);
        rc |= rt__buf_printf(&b, "%-14s%s\n", use, chat_cmds[i].help);
    }
    rc |= rt__buf_printf(&b, "%-14s%s\n", "//TEXT",
                         "send TEXT starting with one '/'");
    rc |= rt__buf_printf(&b, "Tab completes commands and the names of the "
                             "people online.\n");
    if (rc == 0)
        cli_chat_put(ch, stdout, b.data, b.len);
    rt__buf_cleanup(&b);
}

static void command(struct cli_chat *ch, const char *line)
{
    size_t n = strcspn(line, " \t"), i;
    const char *arg = line + n;
    const struct chat_cmd *c = NULL;

    arg += strspn(arg, " \t");
    for (i = 0; i < N_CMDS && c == NULL; i++)
        if (strlen(chat_cmds[i].name) == n &&
            memcmp(chat_cmds[i].name, line, n) == 0)
            c = &chat_cmds[i];
    if (c == NULL) {
        cli_chat_notice(ch, "unknown command '%.*s'; /help lists them", (int)n,
                        line);
        return;
    }
    if (c->arg[0] != '\0' &&
        (*arg == '\0' || (c->one_word && arg[strcspn(arg, " \t")] != '\0'))) {
        cli_chat_notice(ch, "usage: %s %s", c->name, c->arg);
        return;
    }
    c->run(ch, arg);
}

static void on_line(const char *line, void *ud)
{
    struct cli_chat *ch = ud;
    int rc;

    if (line == NULL) {
        cli_chat_finish(ch, RTCTL_EXIT_OK); /* Ctrl-D */
        return;
    }
    if (*line == '\0')
        return;
    if (line[0] == '/' && line[1] != '/') {
        command(ch, line);
        return;
    }
    if (line[0] == '/')
        line++;
    if (ch->client == NULL)
        return;
    if ((rc = cli_chat_send_text(ch, line, ch->nsent + 1)) != 0) {
        cli_chat_warning(ch, "not sent: %s", cli_chat_send_error(rc));
        return;
    }
    if (!ch->open)
        cli_chat_notice(ch, "not connected: the message goes out once the "
                            "connection is back");
}

static void on_edit(const char *line, void *ud)
{
    if (line[0] != '/')
        send_typing(ud, 0);
}

static void on_term_warn(const char *msg, void *ud)
{
    cli_chat_warning(ud, "%s", msg);
}

static char *history_path(void)
{
    const char *x = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    rt_buf b;

    rt__buf_init(&b);
    if (x != NULL && x[0] == '/') {
        if (rt__buf_printf(&b, "%s/rtctl/history", x) == 0)
            return b.data;
    } else if (home != NULL && home[0] == '/') {
        if (rt__buf_printf(&b, "%s/.local/state/rtctl/history", home) == 0)
            return b.data;
    }
    rt__buf_cleanup(&b);
    return NULL;
}

int cli_chat_term_open(struct cli_chat *ch)
{
    static const struct chat_term_cbs cbs = {on_line, on_edit,
                                             cli_chat_name_at, on_term_warn};
    static const char *commands[N_CMDS + 1]; /* for completion */
    char prompt[RT_ROOM_MAX_LEN + 64];
    char *hist = history_path();
    size_t i;
    int rc;

    for (i = 0; i < N_CMDS; i++)
        commands[i] = chat_cmds[i].name;
    cli_chat_make_prompt(ch, " (connecting)", prompt, sizeof(prompt));
    rc = chat_term_start(rt_loop_uv(ch->s.loop),
                         isatty(STDOUT_FILENO) ? stdout : stderr, prompt, hist,
                         HISTORY_MAX, commands, &cbs, ch);
    rt__free(hist);
    if (rc != 0) {
        cli_chat_error(ch, "cannot use the terminal: %s", strerror(errno));
        return RTCTL_EXIT_RUNTIME;
    }
    return 0;
}
