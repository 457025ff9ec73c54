/*
 * cmd_chat.c: `rtctl chat`, a chat session in one room of an rtctl
 * protocol server (rtctl-protocol(7)) on the reconnecting WebSocket client
 * (rt/ws_client.h).
 *
 * Two faces over one client:
 * - Standard input a terminal: readline (chat_term.c) with history, slash
 *   commands and completion; everything that arrives is printed above the
 *   line being typed; state changes go to stderr, above it too.
 * - Otherwise: every stdin line is a text message sent with an id; the run
 *   ends with 0 once the client has connected, stdin has ended (or --count
 *   messages arrived) and every message sent was acked.
 *
 * Own messages are shown once: the line typed is taken off the screen and
 * the message is printed when the server's broadcast of it (carrying our
 * id) arrives, marked delivered when the ack has come.  The server acks
 * after the broadcast, so a broadcast of ours is held (with whatever is
 * printed after it) until its ack, or for HOLD_MS at most.
 *
 * Streams: messages go to stdout (with --json the frames as received, one
 * per line, the welcome re-encoded); notices, errors and, with --json, the
 * event objects (state, resumed, ack) go to stderr.
 */
#include <errno.h>
#include <langinfo.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "chat_term.h"
#include "cmd.h"
#include "core_int.h"
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

#define HOLD_MS 1000         /* longest wait for the ack of a broadcast */
#define TYPING_EVERY_MS 3000 /* automatic typing notices, at most */
#define TYPING_SHOW_MS 10000 /* one "is typing" line per user per this */
#define TYPING_USERS 64
#define MAX_NAMES 10000 /* online users tracked for completion */
#define MAX_LINE ((size_t)1 << 20)
#define PIPE_HIGH 256 /* pending messages that pause stdin */
#define PIPE_LOW 64   /* ... and resume it */
#define HISTORY_MAX 1000

#define C_DIM "\033[2m"
#define C_OWN "\033[1;32m"
#define C_OFF "\033[0m"

static const char *const palette[] = {
    "\033[33m", "\033[34m", "\033[35m", "\033[36m", "\033[31m", "\033[32m",
};

/* A message of ours: waiting for its ack, or for its broadcast. */
struct own {
    struct own *next;
    uint64_t seq;
    int acked;
    char id[];
};

/* A line held until the ack of the own message it shows (or before). */
struct hline {
    struct hline *next;
    FILE *f;
    char *own_id; /* the own message this line shows, else NULL */
    size_t len;
    char s[]; /* without the final '\n' when own_id is set */
};

struct typist {
    char user[65];
    uint64_t at;
};

struct chat {
    struct cli_session s;
    rt_ws_client *client;
    char room[RT_ROOM_MAX_LEN + 1];
    char user[128];
    int interactive;
    int utf8;
    int opened; /* a welcome arrived on some connection */
    int open;   /* the current connection is open */
    int stopping;
    uint64_t count; /* --count; 0: none */
    uint64_t received;
    uint64_t unacked; /* sent with an id, outcome not known */
    uint64_t refused;
    char idp[24]; /* id prefix, random per run */
    uint64_t nsent;
    struct own *owns;
    struct hline *hold, **hold_tail;
    uv_timer_t hold_timer;
    uv_timer_t timeout; /* --timeout on a terminal (see term_timeout) */
    uint64_t timeout_ms;
    int handles; /* our handles still open */
    /* presence */
    char **names;
    size_t nnames;
    struct typist typists[TYPING_USERS];
    uint64_t typing_sent_at;
    int typing_sent;
    /* non-terminal stdin: a message a line */
    struct cli_lines in;
    int input_done;
    uint64_t lineno;
};

static void finish(struct chat *ch, int status);
static void chat_stop(void *ud);
static void set_prompt(struct chat *ch, const char *what);

/* --- output */

static void put(struct chat *ch, FILE *f, const char *s, size_t len)
{
    if (chat_term_active()) {
        chat_term_write(f, s, len);
        return;
    }
    if (f == stdout) {
        if (ch->s.out.write_error)
            return;
        if (fwrite(s, 1, len, f) != len || fflush(f) != 0) {
            ch->s.out.write_error = errno ? errno : EIO;
            finish(ch, ch->s.out.write_error == EPIPE ? RTCTL_EXIT_OK
                                                      : RTCTL_EXIT_RUNTIME);
        }
        return;
    }
    fwrite(s, 1, len, f);
    fflush(f);
}

static void vsay(struct chat *ch, const char *what, const char *fmt,
                 va_list ap) RT__PRINTF(3, 0);

static void vsay(struct chat *ch, const char *what, const char *fmt,
                 va_list ap)
{
    rt_buf b;
    va_list cp;
    char tmp[1024];
    int n;

    rt__buf_init(&b);
    va_copy(cp, ap);
    n = vsnprintf(tmp, sizeof(tmp), fmt, cp);
    va_end(cp);
    if (n < 0)
        return;
    if (rt__buf_printf(&b, "rtctl chat: %s", what) == 0 &&
        ((size_t)n < sizeof(tmp) ? rt__buf_append(&b, tmp, (size_t)n)
                                 : rt__buf_reserve(&b, (size_t)n + 1)) == 0) {
        if ((size_t)n >= sizeof(tmp)) {
            vsnprintf(b.data + b.len, (size_t)n + 1, fmt, ap);
            b.len += (size_t)n;
        }
        if (rt__buf_putc(&b, '\n') == 0)
            put(ch, stderr, b.data, b.len);
    }
    rt__buf_cleanup(&b);
}

/* A state change or notice a person wants to see (unless -q). */
static void notice(struct chat *ch, const char *fmt, ...) RT__PRINTF(2, 3);
static void notice(struct chat *ch, const char *fmt, ...)
{
    va_list ap;

    if (ch->s.out.quiet)
        return;
    va_start(ap, fmt);
    vsay(ch, "", fmt, ap);
    va_end(ap);
}

/* The same, only with -v when stdin is not a terminal. */
static void info(struct chat *ch, const char *fmt, ...) RT__PRINTF(2, 3);
static void info(struct chat *ch, const char *fmt, ...)
{
    va_list ap;

    if (ch->s.out.quiet || (!ch->interactive && ch->s.out.verbose == 0))
        return;
    va_start(ap, fmt);
    vsay(ch, "", fmt, ap);
    va_end(ap);
}

static void warning(struct chat *ch, const char *fmt, ...) RT__PRINTF(2, 3);
static void warning(struct chat *ch, const char *fmt, ...)
{
    va_list ap;

    if (ch->s.out.quiet)
        return;
    va_start(ap, fmt);
    vsay(ch, "warning: ", fmt, ap);
    va_end(ap);
}

static void error(struct chat *ch, const char *fmt, ...) RT__PRINTF(2, 3);
static void error(struct chat *ch, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsay(ch, "", fmt, ap);
    va_end(ap);
}

/* With --json, one event object on stderr. */
static void json_event(struct chat *ch, rt_buf *b)
{
    if (rt__buf_append(b, "}\n", 2) == 0)
        put(ch, stderr, b->data, b->len);
    rt__buf_cleanup(b);
}

static int color_on(struct chat *ch, rt_buf *b, const char *code)
{
    return ch->s.out.color ? rt__buf_append(b, code, strlen(code)) : 0;
}

static int color_off(struct chat *ch, rt_buf *b)
{
    return ch->s.out.color ? rt__buf_append(b, C_OFF, strlen(C_OFF)) : 0;
}

/* "HH:MM:SS " in local time, dim; |ts| Unix seconds, 0 for now. */
static int stamp(struct chat *ch, rt_buf *b, double ts)
{
    struct tm tm;
    time_t t = ts > 0 ? (time_t)ts : time(NULL);
    char hms[16] = "??:??:??";
    int rc = 0;

    if (localtime_r(&t, &tm) != NULL)
        strftime(hms, sizeof(hms), "%H:%M:%S", &tm);
    rc |= color_on(ch, b, C_DIM);
    rc |= rt__buf_append(b, hms, strlen(hms));
    rc |= color_off(ch, b);
    rc |= rt__buf_putc(b, ' ');
    return rc;
}

static const char *user_color(struct chat *ch, const char *user)
{
    uint32_t h = 2166136261u;

    if (strcmp(user, ch->user) == 0)
        return C_OWN;
    for (; *user; user++)
        h = (h ^ (unsigned char)*user) * 16777619u;
    return palette[h % (sizeof(palette) / sizeof(palette[0]))];
}

static int author(struct chat *ch, rt_buf *b, const char *user)
{
    int rc = 0;

    rc |= color_on(ch, b, user_color(ch, user));
    rc |= cli_out_append_safe(b, user, strlen(user), ch->s.out.tty, 0);
    rc |= color_off(ch, b);
    return rc;
}

/* --- own messages and the hold queue */

static struct own *own_find(struct chat *ch, const char *id, int unlink)
{
    struct own **pp, *o;

    for (pp = &ch->owns; (o = *pp) != NULL; pp = &o->next)
        if (strcmp(o->id, id) == 0) {
            if (unlink)
                *pp = o->next;
            return o;
        }
    return NULL;
}

static int own_add(struct chat *ch, const char *id)
{
    size_t n = strlen(id) + 1;
    struct own *o = rt__malloc(sizeof(*o) + n);

    if (o == NULL)
        return RT_ENOMEM;
    memset(o, 0, sizeof(*o));
    memcpy(o->id, id, n);
    o->next = ch->owns;
    ch->owns = o;
    return 0;
}

/* Forget acked messages whose broadcast can no longer come (seq passed). */
static void own_prune(struct chat *ch, uint64_t seq)
{
    struct own **pp = &ch->owns, *o;

    while ((o = *pp) != NULL) {
        if (o->acked && o->seq < seq) {
            *pp = o->next;
            rt__free(o);
        } else {
            pp = &o->next;
        }
    }
}

static void hline_print(struct chat *ch, struct hline *h)
{
    rt_buf b;
    struct own *o;
    int rc = 0;

    if (h->own_id == NULL) {
        put(ch, h->f, h->s, h->len);
        return;
    }
    rt__buf_init(&b);
    rc |= rt__buf_append(&b, h->s, h->len);
    o = own_find(ch, h->own_id, 0);
    if (o != NULL && o->acked) {
        rc |= rt__buf_putc(&b, ' ');
        rc |= color_on(ch, &b, C_DIM);
        rc |= rt__buf_printf(&b, "%s", ch->utf8 ? "\xe2\x9c\x93" : "(ok)");
        rc |= color_off(ch, &b);
        own_find(ch, h->own_id, 1);
        rt__free(o);
    }
    rc |= rt__buf_putc(&b, '\n');
    if (rc == 0)
        put(ch, h->f, b.data, b.len);
    rt__buf_cleanup(&b);
}

/*
 * Print the held lines up to the first own one still waiting for its ack
 * (all of them with |force|).
 */
static void hold_flush(struct chat *ch, int force)
{
    struct hline *h;
    struct own *o;

    while ((h = ch->hold) != NULL) {
        if (!force && h->own_id != NULL &&
            ((o = own_find(ch, h->own_id, 0)) != NULL && !o->acked))
            break;
        ch->hold = h->next;
        if (ch->hold == NULL)
            ch->hold_tail = &ch->hold;
        hline_print(ch, h);
        rt__free(h);
    }
    if (ch->hold == NULL && ch->handles > 0 &&
        !uv_is_closing((uv_handle_t *)&ch->hold_timer))
        uv_timer_stop(&ch->hold_timer);
}

static void on_hold_timer(uv_timer_t *t)
{
    hold_flush(t->data, 1);
}

/*
 * Show a line of human output: at once, or after the held ones.  |own_id|
 * names the own message the line shows (the line then has no '\n'); it
 * is held until that message's ack.
 */
static void show(struct chat *ch, FILE *f, const char *s, size_t len,
                 const char *own_id)
{
    struct hline *h;
    struct own *o = own_id != NULL ? own_find(ch, own_id, 0) : NULL;
    size_t idlen = own_id != NULL ? strlen(own_id) + 1 : 0;

    if (own_id == NULL && ch->hold == NULL) {
        put(ch, f, s, len);
        return;
    }
    h = rt__malloc(sizeof(*h) + len + idlen);
    if (h == NULL)
        return;
    h->next = NULL;
    h->f = f;
    h->len = len;
    memcpy(h->s, s, len);
    h->own_id = NULL;
    if (own_id != NULL) {
        h->own_id = h->s + len;
        memcpy(h->own_id, own_id, idlen);
    }
    if (ch->hold == NULL && (o == NULL || o->acked)) {
        hline_print(ch, h);
        rt__free(h);
        return;
    }
    *ch->hold_tail = h;
    ch->hold_tail = &h->next;
    if (ch->handles > 0 && !uv_is_active((uv_handle_t *)&ch->hold_timer))
        uv_timer_start(&ch->hold_timer, on_hold_timer, HOLD_MS, 0);
}

/* --- presence */

static const char *name_at(size_t i, void *ud)
{
    struct chat *ch = ud;

    return i < ch->nnames ? ch->names[i] : NULL;
}

static void names_clear(struct chat *ch)
{
    size_t i;

    for (i = 0; i < ch->nnames; i++)
        rt__free(ch->names[i]);
    rt__free(ch->names);
    ch->names = NULL;
    ch->nnames = 0;
}

static void names_del(struct chat *ch, const char *name)
{
    size_t i;

    for (i = 0; i < ch->nnames; i++)
        if (strcmp(ch->names[i], name) == 0) {
            rt__free(ch->names[i]);
            ch->names[i] = ch->names[--ch->nnames];
            return;
        }
}

static void names_add(struct chat *ch, const char *name)
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

static void names_set(struct chat *ch, const char *const *online, size_t n)
{
    size_t i;

    names_clear(ch);
    for (i = 0; i < n; i++)
        names_add(ch, online[i]);
}

/* 1 when a "USER is typing" line is due (not shown in TYPING_SHOW_MS). */
static int typing_due(struct chat *ch, const char *user, uint64_t now)
{
    struct typist *t, *oldest = &ch->typists[0];
    size_t i;

    for (i = 0; i < TYPING_USERS; i++) {
        t = &ch->typists[i];
        if (strcmp(t->user, user) == 0) {
            if (t->at != 0 && now - t->at < TYPING_SHOW_MS)
                return 0;
            t->at = now;
            return 1;
        }
        if (t->at < oldest->at)
            oldest = t;
    }
    snprintf(oldest->user, sizeof(oldest->user), "%s", user);
    oldest->at = now;
    return 1;
}

static void typing_forget(struct chat *ch, const char *user)
{
    size_t i;

    for (i = 0; i < TYPING_USERS; i++)
        if (strcmp(ch->typists[i].user, user) == 0)
            ch->typists[i].at = 0;
}

/* --- incoming */

static uint64_t now_ms(struct chat *ch)
{
    return uv_now(rt_loop_uv(ch->s.loop));
}

static int list_names(struct chat *ch, rt_buf *b, const char *const *v,
                      size_t n)
{
    size_t i;
    int rc = 0;

    for (i = 0; i < n; i++) {
        if (i > 0)
            rc |= rt__buf_append(b, ", ", 2);
        rc |= author(ch, b, v[i]);
    }
    return rc;
}

/* The human line for |m|; own_id set when it is a broadcast of ours. */
static void render(struct chat *ch, const rt_msg *m, const char *json,
                   size_t len)
{
    cJSON *data = NULL, *a;
    const char *who = NULL, *own_id = NULL;
    FILE *f = stdout;
    rt_buf b;
    int rc = 0;

    rt__buf_init(&b);
    rc |= stamp(ch, &b, m->has_timestamp ? m->timestamp : 0);
    switch (m->type) {
    case RT_MSG_TEXT:
        data = cJSON_ParseWithLength(m->data, m->data_len);
        a = cJSON_GetObjectItemCaseSensitive(data, "author");
        who = cJSON_IsString(a) ? a->valuestring : "?";
        typing_forget(ch, who);
        rc |= author(ch, &b, who);
        rc |= rt__buf_append(&b, ": ", 2);
        rc |= cli_out_append_safe(&b, m->u.text.content,
                                  strlen(m->u.text.content), ch->s.out.tty, 0);
        if (m->id != NULL && own_find(ch, m->id, 0) != NULL)
            own_id = m->id;
        break;
    case RT_MSG_PRESENCE:
        rc |= color_on(ch, &b, C_DIM);
        rc |= rt__buf_append(&b, "* ", 2);
        rc |= color_off(ch, &b);
        switch (m->u.presence.event) {
        case RT_MSG_PRESENCE_JOIN:
            rc |= author(ch, &b, m->u.presence.user);
            rc |= rt__buf_printf(&b, " joined");
            break;
        case RT_MSG_PRESENCE_LEAVE:
            rc |= author(ch, &b, m->u.presence.user);
            rc |= rt__buf_printf(
                &b, " left%s",
                m->u.presence.reason != NULL &&
                        strcmp(m->u.presence.reason, "timeout") == 0
                    ? " (timed out)"
                    : "");
            break;
        default:
            rc |= rt__buf_printf(&b, "online (%zu): ", m->u.presence.n_online);
            rc |= list_names(ch, &b, m->u.presence.online,
                             m->u.presence.n_online);
            break;
        }
        break;
    case RT_MSG_TYPING:
        if (!m->u.typing.state || m->u.typing.user == NULL ||
            !typing_due(ch, m->u.typing.user, now_ms(ch))) {
            rt__buf_cleanup(&b);
            return;
        }
        rc |= color_on(ch, &b, C_DIM);
        rc |= rt__buf_append(&b, "* ", 2);
        rc |= color_off(ch, &b);
        rc |= author(ch, &b, m->u.typing.user);
        rc |= rt__buf_printf(&b, " is typing");
        break;
    case RT_MSG_ERROR:
        f = stderr;
        rc |= rt__buf_printf(&b, "! server error %s: ",
                             m->u.error.code != RT_MSG_CODE_NONE
                                 ? rt_msg_code_name(m->u.error.code)
                                 : "(unknown code)");
        if (m->u.error.message != NULL)
            rc |= cli_out_append_safe(&b, m->u.error.message,
                                      strlen(m->u.error.message),
                                      ch->s.out.tty, 0);
        break;
    default:
        rc |= color_on(ch, &b, C_DIM);
        rc |= rt__buf_printf(&b, "* %s ", rt_msg_type_name(m->type));
        rc |= color_off(ch, &b);
        rc |= cli_out_append_safe(&b, json, len, ch->s.out.tty, 0);
        break;
    }
    if (own_id == NULL)
        rc |= rt__buf_putc(&b, '\n');
    if (rc == 0)
        show(ch, f, b.data, b.len, own_id);
    rt__buf_cleanup(&b);
    cJSON_Delete(data);
}

static void maybe_done(struct chat *ch)
{
    if (ch->interactive || ch->stopping || !ch->opened || ch->unacked > 0)
        return;
    if (ch->count > 0 ? ch->received >= ch->count : ch->input_done)
        finish(ch, ch->refused > 0 ? RTCTL_EXIT_RUNTIME : RTCTL_EXIT_OK);
}

static void on_message(rt_ws_client *c, const rt_msg *m, const char *json,
                       size_t len, void *ud)
{
    struct chat *ch = ud;
    rt_buf b;

    if (c != ch->client || ch->stopping)
        return;
    if (m == NULL) {
        warning(ch, "a frame that is not protocol JSON: %.*s",
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
            put(ch, stdout, b.data, b.len);
        rt__buf_cleanup(&b);
    } else {
        render(ch, m, json, len);
    }
    if (m->has_seq) {
        own_prune(ch, m->seq);
        ch->received++;
        ch->s.done = ch->received;
        maybe_done(ch);
    }
}

static void on_open(rt_ws_client *c, const rt_msg *w, void *ud)
{
    struct chat *ch = ud;
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
            put(ch, stdout, b.data, b.len);
        rt__buf_cleanup(&b);
    }
    rt_free(enc);
    if (!ch->s.out.quiet && (ch->interactive || ch->s.out.verbose)) {
        rt__buf_init(&b);
        if (rt__buf_printf(&b, "rtctl chat: %s %s as %s; %zu online: ",
                           first ? "joined" : "reconnected to", ch->room,
                           ch->user, ch->nnames) == 0 &&
            list_names(ch, &b, (const char *const *)ch->names, ch->nnames) ==
                0 &&
            rt__buf_putc(&b, '\n') == 0)
            put(ch, stderr, b.data, b.len);
        rt__buf_cleanup(&b);
    }
    set_prompt(ch, "");
    maybe_done(ch);
}

static void on_resumed(rt_ws_client *c, int recovered, uint64_t from,
                       uint64_t to, void *ud)
{
    struct chat *ch = ud;
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
            json_event(ch, &b);
        else
            rt__buf_cleanup(&b);
    }
    if (!recovered)
        warning(ch,
                "resumed with recovered:false: the server could not "
                "replay every message missed while reconnecting (the "
                "replay starts at seq %llu)",
                (unsigned long long)from);
    else if (to >= from)
        info(ch, "resumed: %llu missed message%s follow%s",
             (unsigned long long)(to - from + 1), to == from ? "" : "s",
             to == from ? "s" : "");
}

/* The line number of an id of ours ("PREFIX-N"), or 0. */
static uint64_t id_line(struct chat *ch, const char *id)
{
    size_t n = strlen(ch->idp);

    if (strncmp(id, ch->idp, n) != 0 || id[n] != '-')
        return 0;
    return strtoull(id + n + 1, NULL, 10);
}

static void on_ack(rt_ws_client *c, const char *id, uint64_t seq,
                   const char *code, void *ud)
{
    struct chat *ch = ud;
    struct own *o;
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
            json_event(ch, &b);
        else
            rt__buf_cleanup(&b);
    }
    o = own_find(ch, id, 0);
    if (code == NULL) {
        if (o != NULL) {
            o->acked = 1;
            o->seq = seq;
        }
        hold_flush(ch, 0);
        if (!ch->interactive && rt_ws_client_pending(c) < PIPE_LOW)
            cli_lines_resume(&ch->in);
        maybe_done(ch);
        return;
    }
    if (o != NULL) {
        own_find(ch, id, 1);
        rt__free(o);
    }
    hold_flush(ch, 0);
    if (strcmp(code, "closed") == 0) {
        /* The client stopped first: its state says why. */
        if (c != ch->client && ch->interactive)
            warning(ch, "a message sent in the room you left was not "
                        "acknowledged before leaving");
        else if (!ch->stopping && !ch->interactive)
            warning(ch,
                    "line %llu was not delivered: the client stopped "
                    "before its ack",
                    (unsigned long long)id_line(ch, id));
        else if (!ch->stopping)
            warning(ch, "your message was not delivered: the client "
                        "stopped before its ack");
        return;
    }
    ch->refused++;
    if (ch->interactive)
        warning(ch, "the server refused your message: %s", code);
    else
        error(ch, "line %llu was refused: %s",
              (unsigned long long)id_line(ch, id), code);
    if (!ch->interactive && rt_ws_client_pending(c) < PIPE_LOW)
        cli_lines_resume(&ch->in);
    maybe_done(ch);
}

/* --- state */

/* The session's {"event":"state",...} object, above the prompt. */
static void json_state(struct chat *ch, int st, uint64_t delay,
                       unsigned attempt, int err, const char *detail,
                       const char *url)
{
    rt_buf b;

    rt__buf_init(&b);
    if (cli_session_state_json_url(&b, st, delay, attempt, err, detail, url) ==
            0 &&
        rt__buf_putc(&b, '\n') == 0)
        put(ch, stderr, b.data, b.len);
    rt__buf_cleanup(&b);
}

/* "ROOM> ", "ROOM (offline)> ": the room in bold with colour. */
static void make_prompt(struct chat *ch, const char *what, char *buf,
                        size_t size)
{
    if (ch->s.out.color)
        snprintf(buf, size, "\001\033[1m\002%s\001\033[0m\002%s> ", ch->room,
                 what);
    else
        snprintf(buf, size, "%s%s> ", ch->room, what);
}

static void set_prompt(struct chat *ch, const char *what)
{
    char prompt[RT_ROOM_MAX_LEN + 64];

    if (!ch->interactive)
        return;
    make_prompt(ch, what, prompt, sizeof(prompt));
    chat_term_prompt(prompt);
}

static void on_state(rt_ws_client *c, rt_ws_state st, uint64_t delay_ms,
                     int err, const char *detail, void *ud)
{
    struct chat *ch = ud;
    unsigned attempt = rt_ws_client_attempt(c);
    const char *url = rt_ws_client_url(c);

    if (c != ch->client)
        return; /* the room left with /join */
    if (st != RT_WS_OPEN)
        ch->open = 0;
    if (detail == NULL)
        detail = "";
    if (!ch->interactive || st == RT_WS_CLOSED) {
        if (st == RT_WS_CONNECTING && rt_ws_client_connections(c) == 0)
            info(ch, "connecting to %s", url);
        /* The terminal goes first: the final error is printed below it. */
        chat_term_stop();
        cli_session_state_url(&ch->s, st, delay_ms, attempt, err, detail, url);
        return;
    }
    if (ch->s.out.json)
        json_state(ch, st, delay_ms, attempt, err, detail,
                   ch->s.nurls > 1 ? url : NULL);
    switch (st) {
    case RT_WS_CONNECTING:
        /* "joined" follows soon enough for a person; -v says more. */
        if (rt_ws_client_connections(c) == 0 && attempt == 0 &&
            ch->s.out.verbose)
            info(ch, "connecting to %s", url);
        break;
    case RT_WS_OPEN:
        if (ch->s.nurls > 1)
            notice(ch, "connected to %s", url);
        break;
    case RT_WS_BACKOFF:
        if (ch->s.nurls < 2)
            notice(ch, "%s; reconnecting in %llu ms (attempt %u)", detail,
                   (unsigned long long)delay_ms, attempt);
        else if (delay_ms == 0)
            notice(ch, "%s; reconnecting now, to %s", detail, url);
        else
            notice(ch, "%s; reconnecting in %llu ms (attempt %u), to %s",
                   detail, (unsigned long long)delay_ms, attempt, url);
        set_prompt(ch, " (offline)");
        break;
    default:
        break;
    }
}

/* Close what is ours on the loop once the client is gone. */
static void teardown(struct chat *ch)
{
    chat_term_stop();
    ch->stopping = 1;
    cli_lines_close(&ch->in);
    hold_flush(ch, 1);
    if (ch->handles > 0) {
        ch->handles = 0;
        uv_close((uv_handle_t *)&ch->hold_timer, NULL);
        uv_close((uv_handle_t *)&ch->timeout, NULL);
    }
    cli_session_closed(&ch->s);
}

static void on_closed(rt_ws_client *c, void *ud)
{
    struct chat *ch = ud;

    if (c != ch->client)
        return;
    ch->client = NULL;
    teardown(ch);
}

static void chat_stop(void *ud)
{
    struct chat *ch = ud;

    ch->stopping = 1;
    chat_term_stop();
    cli_lines_pause(&ch->in);
    if (ch->client != NULL)
        rt_ws_client_close(ch->client);
    else
        teardown(ch);
}

static void finish(struct chat *ch, int status)
{
    cli_session_outcome(&ch->s, status);
    if (!ch->stopping)
        chat_stop(ch);
}

static int start_client(struct chat *ch, const char *url)
{
    rt_ws_client_opts co;
    rt_ws_client_cbs cbs;
    rt_ws_client *c = NULL;
    int rc;

    rt_ws_client_opts_init(&co);
    CLI_SESSION_CLIENT_OPTS(&ch->s, &co);
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

static int send_text(struct chat *ch, const char *text, uint64_t n)
{
    char id[64];
    int rc;

    snprintf(id, sizeof(id), "%s-%llu", ch->idp, (unsigned long long)n);
    if (!ch->s.out.json && own_add(ch, id) != 0)
        return RT_ENOMEM;
    rc = rt_ws_client_send_text(ch->client, text, id);
    if (rc != 0) {
        rt__free(own_find(ch, id, 1));
        return rc;
    }
    ch->unacked++;
    ch->nsent++;
    return 0;
}

static const char *send_error(int rc)
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
    struct chat *ch = ud;
    int rc;

    ch->lineno++;
    if (len == 0 || ch->stopping)
        return; /* nothing to say */
    if ((rc = send_text(ch, line, ch->lineno)) != 0) {
        error(ch, "line %llu was not sent: %s", (unsigned long long)ch->lineno,
              send_error(rc));
        ch->refused++;
    }
    /* The client queues while it reconnects; past a point, stop reading. */
    if (ch->client != NULL && rt_ws_client_pending(ch->client) >= PIPE_HIGH)
        cli_lines_pause(l);
}

static void on_in_end(struct cli_lines *l, int err, void *ud)
{
    struct chat *ch = ud;

    (void)l;
    if (ch->stopping)
        return;
    if (err == RT_ETOOBIG) {
        error(ch, "line %llu is longer than %zu bytes",
              (unsigned long long)ch->lineno + 1, MAX_LINE);
        finish(ch, RTCTL_EXIT_RUNTIME);
        return;
    }
    if (err != 0) {
        error(ch, "cannot read standard input: %s", strerror(err));
        finish(ch, RTCTL_EXIT_RUNTIME);
        return;
    }
    ch->input_done = 1;
    info(ch, "end of input: %llu message%s sent",
         (unsigned long long)ch->nsent, ch->nsent == 1 ? "" : "s");
    maybe_done(ch);
}

/* --- the terminal: slash commands */

static void send_frame(struct chat *ch, const char *frame, size_t len)
{
    int rc;

    if (ch->client == NULL || !ch->open) {
        notice(ch, "not connected: try again once the connection is back");
        return;
    }
    rc = rt_ws_client_send(ch->client, 0, frame, len);
    if (rc != 0)
        warning(ch, "not sent: %s", send_error(rc));
}

/* Ask for the room's presence snapshot ({"type":"presence","data":{}}). */
static void send_presence_request(struct chat *ch)
{
    rt_msg m;
    char *frame = NULL;
    size_t len = 0;

    rt_msg_init(&m, RT_MSG_PRESENCE);
    m.u.presence.event = RT_MSG_PRESENCE_REQUEST;
    if (rt_msg_encode(&m, &frame, &len) != 0) {
        warning(ch, "not sent: %s", send_error(RT_ENOMEM));
        return;
    }
    send_frame(ch, frame, len);
    rt_free(frame);
}

static void send_typing(struct chat *ch, int force)
{
    uint64_t now = now_ms(ch);
    char *frame = NULL;
    size_t len = 0;

    if (ch->client == NULL || !ch->open) {
        if (force)
            notice(ch, "not connected");
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
static int room_urls(struct chat *ch, const char *room, char ***out)
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

static void join(struct chat *ch, const char *room)
{
    rt_ws_client *old = ch->client;
    char **urls = NULL, **old_urls, left[sizeof(ch->room)];
    int rc, old_open = ch->open;
    size_t old_n = ch->s.nurls;

    if (!rt_room_valid(room, strlen(room))) {
        warning(ch, "'%s' is not a room name (1 to 64 of A-Z a-z 0-9 . _ -)",
                room);
        return;
    }
    if (strcmp(room, ch->room) == 0) {
        notice(ch, "already in %s", room);
        return;
    }
    if (room_urls(ch, room, &urls) != 0) {
        warning(ch,
                "cannot /join from '%s': its path does not end in "
                "/ws/ROOM",
                ch->s.url);
        return;
    }
    snprintf(left, sizeof(left), "%s", ch->room);
    snprintf(ch->room, sizeof(ch->room), "%s", room);
    hold_flush(ch, 1);
    old_urls = ch->s.urls;
    ch->s.urls = NULL; /* kept for a way back */
    cli_session_set_urls(&ch->s, urls, old_n);
    rc = start_client(ch, ch->s.url);
    if (rc != 0) {
        warning(ch, "cannot join %s: %s", room, rt_strerror(rc));
        snprintf(ch->room, sizeof(ch->room), "%s", left);
        cli_session_set_urls(&ch->s, old_urls, old_n);
        ch->client = old;
        ch->open = old_open; /* the old client carries on */
        return;
    }
    rt_ws_client_close(old);
    rt__url_list_free(old_urls);
    names_clear(ch);
    memset(ch->typists, 0, sizeof(ch->typists));
    ch->typing_sent = 0;
    notice(ch, "left %s", left);
    set_prompt(ch, " (connecting)");
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
    void (*run)(struct chat *ch, const char *arg);
};

static void cmd_who(struct chat *ch, const char *arg);
static void cmd_join(struct chat *ch, const char *arg);
static void cmd_typing(struct chat *ch, const char *arg);
static void cmd_raw(struct chat *ch, const char *arg);
static void cmd_quit(struct chat *ch, const char *arg);
static void cmd_help(struct chat *ch, const char *arg);

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

static void cmd_who(struct chat *ch, const char *arg)
{
    (void)arg;
    send_presence_request(ch);
}

static void cmd_join(struct chat *ch, const char *arg)
{
    join(ch, arg);
}

static void cmd_typing(struct chat *ch, const char *arg)
{
    (void)arg;
    send_typing(ch, 1);
}

static void cmd_raw(struct chat *ch, const char *arg)
{
    send_frame(ch, arg, strlen(arg));
}

static void cmd_quit(struct chat *ch, const char *arg)
{
    (void)arg;
    finish(ch, RTCTL_EXIT_OK);
}

static void cmd_help(struct chat *ch, const char *arg)
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
        put(ch, stdout, b.data, b.len);
    rt__buf_cleanup(&b);
}

static void command(struct chat *ch, const char *line)
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
        notice(ch, "unknown command '%.*s'; /help lists them", (int)n, line);
        return;
    }
    if (c->arg[0] != '\0' &&
        (*arg == '\0' || (c->one_word && arg[strcspn(arg, " \t")] != '\0'))) {
        notice(ch, "usage: %s %s", c->name, c->arg);
        return;
    }
    c->run(ch, arg);
}

static void on_line(const char *line, void *ud)
{
    struct chat *ch = ud;
    int rc;

    if (line == NULL) {
        finish(ch, RTCTL_EXIT_OK); /* Ctrl-D */
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
    if ((rc = send_text(ch, line, ch->nsent + 1)) != 0) {
        warning(ch, "not sent: %s", send_error(rc));
        return;
    }
    if (!ch->open)
        notice(ch, "not connected: the message goes out once the "
                   "connection is back");
}

static void on_edit(const char *line, void *ud)
{
    if (line[0] != '/')
        send_typing(ud, 0);
}

static void on_term_warn(const char *msg, void *ud)
{
    warning(ud, "%s", msg);
}

/*
 * --timeout on a terminal: the session's timer would print its message
 * across the prompt; this one gives the terminal back first.
 */
static void term_timeout(uv_timer_t *t)
{
    struct chat *ch = t->data;

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
    finish(ch, RTCTL_EXIT_TIMEOUT);
}

/* $XDG_STATE_HOME/rtctl/history, else ~/.local/state/rtctl/history. */
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

static int term_open(struct chat *ch)
{
    static const struct chat_term_cbs cbs = {on_line, on_edit, name_at,
                                             on_term_warn};
    static const char *commands[N_CMDS + 1]; /* for completion */
    char prompt[RT_ROOM_MAX_LEN + 64];
    char *hist = history_path();
    size_t i;
    int rc;

    for (i = 0; i < N_CMDS; i++)
        commands[i] = chat_cmds[i].name;
    make_prompt(ch, " (connecting)", prompt, sizeof(prompt));
    rc = chat_term_start(rt_loop_uv(ch->s.loop),
                         isatty(STDOUT_FILENO) ? stdout : stderr, prompt, hist,
                         HISTORY_MAX, commands, &cbs, ch);
    rt__free(hist);
    if (rc != 0) {
        error(ch, "cannot use the terminal: %s", strerror(errno));
        return RTCTL_EXIT_RUNTIME;
    }
    return 0;
}

/* --- the command */

static void free_all(struct chat *ch)
{
    struct own *o;
    struct hline *h;

    while ((o = ch->owns) != NULL) {
        ch->owns = o->next;
        rt__free(o);
    }
    while ((h = ch->hold) != NULL) {
        ch->hold = h->next;
        rt__free(h);
    }
    names_clear(ch);
}

static void make_id_prefix(struct chat *ch)
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
    static struct chat ch; /* one per process, as readline's state is */
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
        rc = term_open(&ch);
    } else if (cli_lines_start(&ch.in, rt_loop_uv(ch.s.loop), STDIN_FILENO,
                               MAX_LINE, on_in_line, on_in_end, &ch) != 0) {
        error(&ch, "cannot read standard input");
        rc = RTCTL_EXIT_RUNTIME;
    } else {
        rc = 0;
    }
    if (rc == 0 && (rc = start_client(&ch, ch.s.url)) != 0) {
        error(&ch, "cannot connect to '%s': %s", ch.s.url, rt_strerror(rc));
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
