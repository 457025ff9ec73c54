/*
 * view.c: what `rtctl chat` shows.  Frames become human lines (time,
 * author in a colour of its own, text made safe for the terminal),
 * notices go to stderr, and everything goes above the prompt when there
 * is a terminal.
 *
 * Own messages are shown once: the line typed is taken off the screen and
 * the message is printed when the server's broadcast of it (carrying our
 * id) arrives, marked delivered when the ack has come.  The server acks
 * after the broadcast, so a broadcast of ours is held (with whatever is
 * printed after it) until its ack, or for HOLD_MS at most.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "chat/chat.h"
#include "chat/term.h"
#include "exit.h"
#include "output.h"

#define HOLD_MS 1000         /* longest wait for the ack of a broadcast */
#define TYPING_SHOW_MS 10000 /* one "is typing" line per user per this */

#define C_DIM "\033[2m"
#define C_OWN "\033[1;32m"
#define C_OFF "\033[0m"

static const char *const palette[] = {
    "\033[33m", "\033[34m", "\033[35m", "\033[36m", "\033[31m", "\033[32m",
};

/* --- output */

void cli_chat_put(struct cli_chat *ch, FILE *f, const char *s, size_t len)
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
            cli_chat_finish(ch, ch->s.out.write_error == EPIPE
                                    ? RTCTL_EXIT_OK
                                    : RTCTL_EXIT_RUNTIME);
        }
        return;
    }
    fwrite(s, 1, len, f);
    fflush(f);
}

static void vsay(struct cli_chat *ch, const char *what, const char *fmt,
                 va_list ap) RT__PRINTF(3, 0);

static void vsay(struct cli_chat *ch, const char *what, const char *fmt,
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
            cli_chat_put(ch, stderr, b.data, b.len);
    }
    rt__buf_cleanup(&b);
}

/* A state change or notice a person wants to see (unless -q). */
void cli_chat_notice(struct cli_chat *ch, const char *fmt, ...)
{
    va_list ap;

    if (ch->s.out.quiet)
        return;
    va_start(ap, fmt);
    vsay(ch, "", fmt, ap);
    va_end(ap);
}

/* The same, only with -v when stdin is not a terminal. */
void cli_chat_info(struct cli_chat *ch, const char *fmt, ...)
{
    va_list ap;

    if (ch->s.out.quiet || (!ch->interactive && ch->s.out.verbose == 0))
        return;
    va_start(ap, fmt);
    vsay(ch, "", fmt, ap);
    va_end(ap);
}

void cli_chat_warning(struct cli_chat *ch, const char *fmt, ...)
{
    va_list ap;

    if (ch->s.out.quiet)
        return;
    va_start(ap, fmt);
    vsay(ch, "warning: ", fmt, ap);
    va_end(ap);
}

void cli_chat_error(struct cli_chat *ch, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsay(ch, "", fmt, ap);
    va_end(ap);
}

/* With --json, one event object on stderr. */
void cli_chat_json_event(struct cli_chat *ch, rt_buf *b)
{
    if (rt__buf_append(b, "}\n", 2) == 0)
        cli_chat_put(ch, stderr, b->data, b->len);
    rt__buf_cleanup(b);
}

static int color_on(struct cli_chat *ch, rt_buf *b, const char *code)
{
    return ch->s.out.color ? rt__buf_append(b, code, strlen(code)) : 0;
}

static int color_off(struct cli_chat *ch, rt_buf *b)
{
    return ch->s.out.color ? rt__buf_append(b, C_OFF, strlen(C_OFF)) : 0;
}

/* "HH:MM:SS " in local time, dim; |ts| Unix seconds, 0 for now. */
static int stamp(struct cli_chat *ch, rt_buf *b, double ts)
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

static const char *user_color(struct cli_chat *ch, const char *user)
{
    uint32_t h = 2166136261u;

    if (strcmp(user, ch->user) == 0)
        return C_OWN;
    for (; *user; user++)
        h = (h ^ (unsigned char)*user) * 16777619u;
    return palette[h % (sizeof(palette) / sizeof(palette[0]))];
}

static int author(struct cli_chat *ch, rt_buf *b, const char *user)
{
    int rc = 0;

    rc |= color_on(ch, b, user_color(ch, user));
    rc |= cli_out_append_safe(b, user, strlen(user), ch->s.out.tty, 0);
    rc |= color_off(ch, b);
    return rc;
}

/* --- own messages and the hold queue */

struct cli_chat_own *cli_chat_own_find(struct cli_chat *ch, const char *id,
                                       int unlink)
{
    struct cli_chat_own **pp, *o;

    for (pp = &ch->owns; (o = *pp) != NULL; pp = &o->next)
        if (strcmp(o->id, id) == 0) {
            if (unlink)
                *pp = o->next;
            return o;
        }
    return NULL;
}

int cli_chat_own_add(struct cli_chat *ch, const char *id)
{
    size_t n = strlen(id) + 1;
    struct cli_chat_own *o = rt__malloc(sizeof(*o) + n);

    if (o == NULL)
        return RT_ENOMEM;
    memset(o, 0, sizeof(*o));
    memcpy(o->id, id, n);
    o->next = ch->owns;
    ch->owns = o;
    return 0;
}

/* Forget acked messages whose broadcast can no longer come (seq passed). */
void cli_chat_own_prune(struct cli_chat *ch, uint64_t seq)
{
    struct cli_chat_own **pp = &ch->owns, *o;

    while ((o = *pp) != NULL) {
        if (o->acked && o->seq < seq) {
            *pp = o->next;
            rt__free(o);
        } else {
            pp = &o->next;
        }
    }
}

static void hline_print(struct cli_chat *ch, struct cli_chat_hline *h)
{
    rt_buf b;
    struct cli_chat_own *o;
    int rc = 0;

    if (h->own_id == NULL) {
        cli_chat_put(ch, h->f, h->s, h->len);
        return;
    }
    rt__buf_init(&b);
    rc |= rt__buf_append(&b, h->s, h->len);
    o = cli_chat_own_find(ch, h->own_id, 0);
    if (o != NULL && o->acked) {
        rc |= rt__buf_putc(&b, ' ');
        rc |= color_on(ch, &b, C_DIM);
        rc |= rt__buf_printf(&b, "%s", ch->utf8 ? "\xe2\x9c\x93" : "(ok)");
        rc |= color_off(ch, &b);
        cli_chat_own_find(ch, h->own_id, 1);
        rt__free(o);
    }
    rc |= rt__buf_putc(&b, '\n');
    if (rc == 0)
        cli_chat_put(ch, h->f, b.data, b.len);
    rt__buf_cleanup(&b);
}

/*
 * Print the held lines up to the first own one still waiting for its ack
 * (all of them with |force|).
 */
void cli_chat_hold_flush(struct cli_chat *ch, int force)
{
    struct cli_chat_hline *h;
    struct cli_chat_own *o;

    while ((h = ch->hold) != NULL) {
        if (!force && h->own_id != NULL &&
            ((o = cli_chat_own_find(ch, h->own_id, 0)) != NULL && !o->acked))
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
    cli_chat_hold_flush(t->data, 1);
}

/*
 * Show a line of human output: at once, or after the held ones.  |own_id|
 * names the own message the line shows (the line then has no '\n'); it
 * is held until that message's ack.
 */
static void show(struct cli_chat *ch, FILE *f, const char *s, size_t len,
                 const char *own_id)
{
    struct cli_chat_hline *h;
    struct cli_chat_own *o =
        own_id != NULL ? cli_chat_own_find(ch, own_id, 0) : NULL;
    size_t idlen = own_id != NULL ? strlen(own_id) + 1 : 0;

    if (own_id == NULL && ch->hold == NULL) {
        cli_chat_put(ch, f, s, len);
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

/* 1 when a "USER is typing" line is due (not shown in TYPING_SHOW_MS). */
static int typing_due(struct cli_chat *ch, const char *user, uint64_t now)
{
    struct cli_chat_typist *t, *oldest = &ch->typists[0];
    size_t i;

    for (i = 0; i < CLI_CHAT_TYPISTS; i++) {
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

static void typing_forget(struct cli_chat *ch, const char *user)
{
    size_t i;

    for (i = 0; i < CLI_CHAT_TYPISTS; i++)
        if (strcmp(ch->typists[i].user, user) == 0)
            ch->typists[i].at = 0;
}

int cli_chat_list_names(struct cli_chat *ch, rt_buf *b, const char *const *v,
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
void cli_chat_render(struct cli_chat *ch, const rt_msg *m, const char *json,
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
        if (m->id != NULL && cli_chat_own_find(ch, m->id, 0) != NULL)
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
            rc |= cli_chat_list_names(ch, &b, m->u.presence.online,
                                      m->u.presence.n_online);
            break;
        }
        break;
    case RT_MSG_TYPING:
        if (!m->u.typing.state || m->u.typing.user == NULL ||
            !typing_due(ch, m->u.typing.user, cli_chat_now_ms(ch))) {
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

void cli_chat_make_prompt(struct cli_chat *ch, const char *what, char *buf,
                          size_t size)
{
    if (ch->s.out.color)
        snprintf(buf, size, "\001\033[1m\002%s\001\033[0m\002%s> ", ch->room,
                 what);
    else
        snprintf(buf, size, "%s%s> ", ch->room, what);
}

void cli_chat_set_prompt(struct cli_chat *ch, const char *what)
{
    char prompt[RT_ROOM_MAX_LEN + 64];

    if (!ch->interactive)
        return;
    cli_chat_make_prompt(ch, what, prompt, sizeof(prompt));
    chat_term_prompt(prompt);
}

void cli_chat_view_free(struct cli_chat *ch)
{
    struct cli_chat_own *o;
    struct cli_chat_hline *h;

    while ((o = ch->owns) != NULL) {
        ch->owns = o->next;
        rt__free(o);
    }
    while ((h = ch->hold) != NULL) {
        ch->hold = h->next;
        rt__free(h);
    }
}
