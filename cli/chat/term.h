/*
 * term.h: the terminal side of `rtctl chat` when standard input is a
 * terminal: GNU readline in callback mode, fed by a uv_poll_t on stdin in
 * the command's libuv loop, so that output printed while a line is being
 * typed goes above the prompt and the line stays intact below it.
 *
 * Readline is one set of globals, so there is one terminal per process:
 * these functions have no handle.  Everything happens on the loop thread.
 */
#ifndef RTCTL_CHAT_TERM_H
#define RTCTL_CHAT_TERM_H

#include <stddef.h>
#include <stdio.h>

#include <uv.h>

struct chat_term_cbs {
    /*
     * A line was entered (the prompt row it was typed on has been
     * erased: whatever the line causes is printed by the callee), or NULL
     * at the end of input (Ctrl-D on an empty line).  |line| is valid
     * until the callback returns.
     */
    void (*on_line)(const char *line, void *ud);
    /* The line being typed changed; |line| is what it holds now. */
    void (*on_edit)(const char *line, void *ud);
    /* The |i|th name to complete (online users), NULL past the last. */
    const char *(*name)(size_t i, void *ud);
    /* Something went wrong that the user should know (history file). */
    void (*warn)(const char *msg, void *ud);
};

/*
 * Take over the terminal: readline with |prompt| (it may hold colour
 * escapes between \001 and \002), history from |histfile| (NULL: none;
 * created with its directories; kept to |histmax| entries), completion of
 * |commands| (NULL-terminated, "/who"...) at the start of a line and of
 * cbs->name() elsewhere.  The prompt and the line are drawn on |out|
 * (stdout, or stderr when stdout is not a terminal).
 * Returns 0, or -1 with errno when stdin cannot be watched.
 */
int chat_term_start(uv_loop_t *loop, FILE *out, const char *prompt,
                    const char *histfile, int histmax,
                    const char *const *commands,
                    const struct chat_term_cbs *cbs, void *ud);

/* Replace the prompt (redrawn at once). */
void chat_term_prompt(const char *prompt);

/*
 * Print |len| bytes of |s| (whole lines, ending in '\n') on |f| above the
 * prompt: the line being typed is taken off the screen, the text printed,
 * and prompt and line drawn again with the cursor where it was.  While
 * readline shows a prompt of its own (a reverse search, a numeric
 * argument), the text is held and printed once that ends.  Without a
 * running terminal it is just written.
 */
void chat_term_write(FILE *f, const char *s, size_t len);

/* 1 between chat_term_start() and chat_term_stop(). */
int chat_term_active(void);

/*
 * Give the terminal back: the prompt row is cleared, the terminal
 * settings and stdin's file flags restored, held output printed, the
 * history file trimmed, the stdin and SIGWINCH handles closed.  Safe to
 * call more than once, and from on_line.
 */
void chat_term_stop(void);

#endif /* RTCTL_CHAT_TERM_H */
