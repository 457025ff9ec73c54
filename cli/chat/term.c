/*
 * term.c: readline in callback mode on the loop of `rtctl chat`.
 *
 * rl_callback_handler_install() draws the prompt; each time the stdin
 * uv_poll_t says a byte is there, rl_callback_read_char() takes it (the
 * GNU readline manual, "Alternate Interface").  Output that arrives from
 * the network while a line is half typed is printed the usual way: save
 * the line and the cursor, take the prompt off (rl_save_prompt,
 * rl_replace_line, rl_redisplay: readline clears every row the line used),
 * print, then put prompt and line back and redraw.  Two cases need care:
 * - Readline draws prompts of its own (reverse search, numeric argument)
 *   with the same rl_save_prompt(), which does not nest: output arriving
 *   then is held and printed when the special prompt is gone.
 * - An entered line must not stay on the screen (the chat shows it when
 *   the server broadcasts it back): Return and Enter are bound to a
 *   function that empties the line and redraws before accepting it, so
 *   readline's final newline leaves one row holding only the prompt, and
 *   the line handler erases that row.
 *
 * Signals stay with the command (rl_catch_signals = 0): Ctrl-C is a
 * uv_signal_t of the session; SIGWINCH is watched here and passed to
 * rl_resize_terminal(), and Ctrl-Z (SIGTSTP, then SIGCONT) gives the
 * terminal settings back while the process is stopped.
 *
 * Limits: a prompt wider than the terminal is not accounted for when the
 * accepted line's row is erased.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "chat/term.h"

/* Output held while readline shows a prompt of its own. */
struct held {
    struct held *next;
    FILE *f;
    size_t len;
    char s[];
};

#define HELD_MAX ((size_t)1 << 20)
#define SPECIAL_STATES                                           \
    (RL_STATE_ISEARCH | RL_STATE_NSEARCH | RL_STATE_NUMERICARG | \
     RL_STATE_SEARCH)

static struct {
    int active;
    uv_poll_t poll;
    uv_signal_t winch, tstp, cont;
    struct chat_term_cbs cbs;
    void *ud;
    const char *const *commands;
    char *histfile;
    int histmax;
    char *accepted;    /* the line accept_line() took off the screen */
    int in_handler;    /* inside the line handler: no prompt on screen */
    int fl;            /* stdin's file status flags before we started */
    char *last_edit;   /* the line as on_edit last saw it */
    char *next_prompt; /* a prompt change waiting for a special state */
    struct held *held, **held_tail;
    size_t held_bytes;
} T;

/* "cannot VERB the history in|from 'FILE': why" to the warn callback. */
static void warn(const char *verb, const char *file, int err)
{
    char msg[512];

    if (T.cbs.warn == NULL)
        return;
    snprintf(msg, sizeof(msg), "cannot %s the history %s '%s': %s", verb,
             strcmp(verb, "read") == 0 ? "from" : "in", file, strerror(err));
    T.cbs.warn(msg, T.ud);
}

/* --- output above the prompt */

static void above(FILE *f, const char *s, size_t len)
{
    char *saved = rl_copy_text(0, rl_end);
    int point = rl_point, mark = rl_mark;

    rl_save_prompt();
    rl_replace_line("", 0);
    rl_redisplay();
    fflush(rl_outstream);
    fwrite(s, 1, len, f);
    fflush(f);
    rl_restore_prompt();
    rl_replace_line(saved != NULL ? saved : "", 0);
    rl_point = point;
    rl_mark = mark;
    rl_redisplay();
    free(saved);
}

static int special(void)
{
    return RL_ISSTATE(SPECIAL_STATES) != 0;
}

static void flush_held(void)
{
    struct held *h;

    while ((h = T.held) != NULL) {
        T.held = h->next;
        if (T.active && !T.in_handler) {
            above(h->f, h->s, h->len);
        } else {
            fwrite(h->s, 1, h->len, h->f);
            fflush(h->f);
        }
        free(h);
    }
    T.held_tail = &T.held;
    T.held_bytes = 0;
}

void chat_term_write(FILE *f, const char *s, size_t len)
{
    struct held *h;

    if (!T.active || T.in_handler) {
        fwrite(s, 1, len, f);
        fflush(f);
        return;
    }
    if (special() && T.held_bytes + len <= HELD_MAX &&
        (h = malloc(sizeof(*h) + len)) != NULL) {
        h->next = NULL;
        h->f = f;
        h->len = len;
        memcpy(h->s, s, len);
        *T.held_tail = h;
        T.held_tail = &h->next;
        T.held_bytes += len;
        return;
    }
    above(f, s, len);
}

void chat_term_prompt(const char *prompt)
{
    char *p;

    if (!T.active)
        return;
    if (special() || T.in_handler) {
        if ((p = strdup(prompt)) != NULL) {
            free(T.next_prompt);
            T.next_prompt = p;
        }
        return;
    }
    rl_set_prompt(prompt);
    rl_redisplay();
}

int chat_term_active(void)
{
    return T.active;
}

/* --- completion */

static char *command_gen(const char *text, int state)
{
    static size_t i, len;
    const char *c;

    if (state == 0) {
        i = 0;
        len = strlen(text);
    }
    while (T.commands != NULL && (c = T.commands[i]) != NULL) {
        i++;
        if (strncmp(c, text, len) == 0)
            return strdup(c);
    }
    return NULL;
}

static char *name_gen(const char *text, int state)
{
    static size_t i, len;
    const char *n;

    if (state == 0) {
        i = 0;
        len = strlen(text);
    }
    if (T.cbs.name == NULL)
        return NULL;
    while ((n = T.cbs.name(i, T.ud)) != NULL) {
        i++;
        if (strncmp(n, text, len) == 0)
            return strdup(n);
    }
    return NULL;
}

static char **complete(const char *text, int start, int end)
{
    (void)end;
    rl_attempted_completion_over = 1; /* never file names */
    if (start == 0 && text[0] == '/')
        return rl_completion_matches(text, command_gen);
    return rl_completion_matches(text, name_gen);
}

/* --- history */

/* Create the directories above |path|, 0700, as mkdir -p does. */
static int make_parents(char *path)
{
    char *p;

    for (p = path + 1; (p = strchr(p, '/')) != NULL; p++) {
        *p = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            *p = '/';
            return -1;
        }
        *p = '/';
    }
    return 0;
}

static void history_open(const char *file, int max)
{
    int fd, err;

    using_history();
    stifle_history(max);
    if (file == NULL)
        return;
    T.histfile = strdup(file);
    if (T.histfile == NULL)
        return;
    T.histmax = max;
    /* append_history() needs the file to exist. */
    if (make_parents(T.histfile) != 0 ||
        (fd = open(T.histfile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                   0600)) < 0) {
        err = errno;
        warn("keep", T.histfile, err);
        free(T.histfile);
        T.histfile = NULL;
        return;
    }
    close(fd);
    err = read_history(T.histfile);
    if (err != 0)
        warn("read", T.histfile, err);
}

static void history_add(const char *line)
{
    HIST_ENTRY *last = history_length > 0
                           ? history_get(history_base + history_length - 1)
                           : NULL;
    int err;

    if (*line == '\0' || (last != NULL && strcmp(last->line, line) == 0))
        return;
    add_history(line);
    if (T.histfile != NULL && (err = append_history(1, T.histfile)) != 0) {
        warn("write", T.histfile, err);
        free(T.histfile);
        T.histfile = NULL;
    }
}

/* --- input */

/*
 * Return and Enter: take the line off the screen before accepting it, so
 * that the newline readline then prints leaves only the prompt behind.
 */
static int accept_line(int count, int key)
{
    free(T.accepted);
    T.accepted = rl_copy_text(0, rl_end);
    rl_replace_line("", 0);
    rl_point = rl_mark = 0;
    rl_redisplay();
    return rl_newline(count, key);
}

static void on_rl_line(char *line)
{
    char *text;

    if (line == NULL) {
        /* Readline has moved below the prompt: take the prompt away. */
        fputs("\033[A\r\033[K", rl_outstream);
        fflush(rl_outstream);
        T.in_handler = 1;
        if (T.cbs.on_line != NULL)
            T.cbs.on_line(NULL, T.ud);
        T.in_handler = 0;
        return;
    }
    if (T.accepted != NULL) {
        free(line);
        text = T.accepted;
        T.accepted = NULL;
        /* Up to the row that shows the prompt alone, and clear it. */
        fputs("\033[A\r\033[K", rl_outstream);
        fflush(rl_outstream);
    } else {
        text = line; /* accepted by a binding of the user's: left shown */
    }
    history_add(text);
    free(T.last_edit);
    T.last_edit = NULL;
    T.in_handler = 1;
    if (T.cbs.on_line != NULL)
        T.cbs.on_line(text, T.ud);
    T.in_handler = 0;
    free(text);
}

static void after_key(void)
{
    const char *line = rl_line_buffer != NULL ? rl_line_buffer : "";

    if (!T.active || special())
        return;
    if (T.next_prompt != NULL) {
        rl_set_prompt(T.next_prompt);
        free(T.next_prompt);
        T.next_prompt = NULL;
        rl_redisplay();
    }
    if (T.held != NULL)
        flush_held();
    if (T.cbs.on_edit != NULL && *line != '\0' &&
        (T.last_edit == NULL || strcmp(T.last_edit, line) != 0)) {
        free(T.last_edit);
        T.last_edit = strdup(line);
        T.cbs.on_edit(line, T.ud);
    }
}

static void on_stdin(uv_poll_t *h, int status, int events)
{
    (void)h;
    (void)events;
    if (!T.active)
        return;
    if (status < 0) {
        /* stdin went away: as an end of input. */
        T.in_handler = 1;
        if (T.cbs.on_line != NULL)
            T.cbs.on_line(NULL, T.ud);
        T.in_handler = 0;
        return;
    }
    rl_callback_read_char();
    after_key();
}

static void on_winch(uv_signal_t *h, int signum)
{
    (void)h;
    (void)signum;
    if (T.active)
        rl_resize_terminal();
}

/*
 * Ctrl-Z: give the terminal its settings back before stopping (readline
 * would, but it leaves signals to us), and take it again on SIGCONT.
 */
static void on_tstp(uv_signal_t *h, int signum)
{
    (void)h;
    (void)signum;
    if (T.active && !T.in_handler) {
        rl_deprep_terminal();
        fputs("\n", rl_outstream);
        fflush(rl_outstream);
    }
    uv_kill(getpid(), SIGSTOP);
}

static void on_cont(uv_signal_t *h, int signum)
{
    (void)h;
    (void)signum;
    if (T.active && !T.in_handler) {
        rl_prep_terminal(1);
        rl_on_new_line();
        rl_forced_update_display();
    }
}

int chat_term_start(uv_loop_t *loop, FILE *out, const char *prompt,
                    const char *histfile, int histmax,
                    const char *const *commands,
                    const struct chat_term_cbs *cbs, void *ud)
{
    int err;

    memset(&T, 0, sizeof(T));
    T.held_tail = &T.held;
    T.cbs = *cbs;
    T.ud = ud;
    T.commands = commands;
    T.fl = fcntl(STDIN_FILENO, F_GETFL);

    rl_readline_name = "rtctl";
    rl_instream = stdin;
    rl_outstream = out;
    rl_catch_signals = 0;
    rl_catch_sigwinch = 0;
    rl_change_environment = 0;
    rl_attempted_completion_function = complete;
    rl_initialize();
    rl_bind_key_in_map('\r', accept_line, emacs_standard_keymap);
    rl_bind_key_in_map('\n', accept_line, emacs_standard_keymap);
    rl_bind_key_in_map('\r', accept_line, vi_insertion_keymap);
    rl_bind_key_in_map('\n', accept_line, vi_insertion_keymap);
    rl_bind_key_in_map('\r', accept_line, vi_movement_keymap);
    rl_bind_key_in_map('\n', accept_line, vi_movement_keymap);

    /* uv_poll_init() makes stdin non-blocking; the flags come back at stop. */
    if ((err = uv_poll_init(loop, &T.poll, STDIN_FILENO)) != 0) {
        errno = -err;
        return -1;
    }
    uv_signal_init(loop, &T.winch);
    uv_signal_init(loop, &T.tstp);
    uv_signal_init(loop, &T.cont);
    T.active = 1;
    history_open(histfile, histmax);
    rl_callback_handler_install(prompt, on_rl_line);
    uv_poll_start(&T.poll, UV_READABLE, on_stdin);
    uv_signal_start(&T.winch, on_winch, SIGWINCH);
    uv_signal_start(&T.tstp, on_tstp, SIGTSTP);
    uv_signal_start(&T.cont, on_cont, SIGCONT);
    return 0;
}

void chat_term_stop(void)
{
    if (!T.active)
        return;
    if (!T.in_handler) {
        /* Leave no prompt and no half-typed line on the screen. */
        rl_set_prompt("");
        rl_replace_line("", 0);
        rl_redisplay();
    }
    fputs("\r\033[K", rl_outstream);
    fflush(rl_outstream);
    rl_callback_handler_remove();
    T.active = 0;
    flush_held();
    uv_close((uv_handle_t *)&T.poll, NULL);
    uv_close((uv_handle_t *)&T.winch, NULL);
    uv_close((uv_handle_t *)&T.tstp, NULL);
    uv_close((uv_handle_t *)&T.cont, NULL);
    if (T.fl >= 0)
        fcntl(STDIN_FILENO, F_SETFL, T.fl);
    if (T.histfile != NULL)
        history_truncate_file(T.histfile, T.histmax);
    free(T.histfile);
    T.histfile = NULL;
    free(T.accepted);
    T.accepted = NULL;
    free(T.last_edit);
    T.last_edit = NULL;
    free(T.next_prompt);
    T.next_prompt = NULL;
    clear_history();
}
