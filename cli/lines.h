/*
 * lines.h: standard input, line by line, on the event loop, for the
 * commands that send what they read (send, connect).
 *
 * A pipe, a terminal or a socket is watched with a uv_poll_t, so lines are
 * handed over as they arrive and the loop keeps serving the network in
 * between; a regular file or /dev/null, which cannot be polled, is read
 * directly, a bounded number of lines per loop turn.  The caller can pause
 * the reader (a full send queue) and resume it.  Lines are given without
 * their "\n" (and without a "\r" before it); a last line without a newline
 * is given too.  The O_NONBLOCK flag libuv sets on a polled descriptor is
 * put back when the reader is closed, so the shell's terminal is left as
 * it was.
 */
#ifndef RTCTL_LINES_H
#define RTCTL_LINES_H

#include <stddef.h>

#include <uv.h>

#include "core_int.h"

struct cli_lines;

/*
 * One line, NUL-terminated at |len| (it may hold NUL bytes), writable and
 * valid until the callback returns.  The callback may pause or close the
 * reader.
 */
typedef void (*cli_lines_line_cb)(struct cli_lines *l, char *line, size_t len,
                                  void *ud);
/*
 * The end of input: |err| 0 at end of file, RT_ETOOBIG for a line longer
 * than the limit, or a positive errno from read().  Called once; the
 * reader has stopped, and the caller still closes it.
 */
typedef void (*cli_lines_end_cb)(struct cli_lines *l, int err, void *ud);

struct cli_lines {
    /* private */
    uv_poll_t poll;
    uv_idle_t idle;
    int fd;
    int saved_flags; /* fcntl flags before libuv set O_NONBLOCK; -1 none */
    int polled;      /* 1: watched by |poll|; 0: read directly */
    int started, paused, eof, ended, closed;
    rt_buf buf;
    size_t pos; /* bytes of |buf| already handed over */
    size_t max_line;
    cli_lines_line_cb on_line;
    cli_lines_end_cb on_end;
    void *ud;
};

/*
 * Start reading |fd| on |loop|; lines longer than |max_line| bytes end the
 * input with RT_ETOOBIG.  Nothing is called back before the loop runs.
 * Returns 0, or a libuv error code.
 */
int cli_lines_start(struct cli_lines *l, uv_loop_t *loop, int fd,
                    size_t max_line, cli_lines_line_cb on_line,
                    cli_lines_end_cb on_end, void *ud);

/* Stop handing over lines until cli_lines_resume(). */
void cli_lines_pause(struct cli_lines *l);

/* Hand over lines again (from the next loop turn). */
void cli_lines_resume(struct cli_lines *l);

/*
 * Stop for good and close the handles (asynchronously; |l| must stay
 * valid until the loop has run once more).  Safe to call twice, and on a
 * reader that was never started.
 */
void cli_lines_close(struct cli_lines *l);

#endif /* RTCTL_LINES_H */
