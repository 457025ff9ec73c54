/*
 * output.h: what rtctl prints and where.  Primary output (events, tokens)
 * goes to stdout, as text for people or as JSON Lines with --json;
 * diagnostics go to stderr with the subcommand in the prefix, as git words
 * them ("rtctl tail: cannot open 'x': No such file or directory").
 */
#ifndef RTCTL_OUTPUT_H
#define RTCTL_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

#include "core_int.h"
#include "opts.h"
#include "rt/sse_parser.h"

struct cli_out {
    const char *cmd; /* subcommand name for the message prefix */
    int json;        /* --json: JSON Lines on stdout */
    int color;       /* colour on stdout */
    int tty;         /* stdout is a terminal: escape control characters */
    int verbose;
    int quiet;
    int write_error; /* errno of the first failed write to stdout, or 0 */
};

/*
 * Set up |o| from the global options; decides colour from --color, the
 * NO_COLOR and TERM variables and whether stdout is a terminal.  Returns 0,
 * or CLI_OPTS_EXIT_USAGE after printing an error about --color.
 */
int cli_out_init(struct cli_out *o, const struct cli_cmd_help *cmd,
                 const struct cli_global_opts *g, int json);

void cli_errf(const struct cli_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void cli_warnf(const struct cli_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void cli_infof(const struct cli_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A line a person wants without -v ("joined general; ..."); -q hides it. */
void cli_noticef(const struct cli_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Print one Server-Sent Event: with --json the object
 * {"event":TYPE,"id":ID,"data":DATA}, exact to the byte (NUL as \u0000,
 * ill-formed UTF-8 as U+FFFD); otherwise the data, preceded by
 * "[TYPE ID] " unless the event is an unnamed "message" without an id.
 * Returns 0, or -1 once stdout failed (o->write_error says why).
 */
int cli_out_sse_event(struct cli_out *o, const rt_sse_event *ev);

/*
 * Print one protocol message |json|, |len| (a stored message with seq
 * |seq|, as rt_poll_client delivers it): with --json the message itself on
 * one line; otherwise "[TYPE SEQ] AUTHOR: CONTENT" when the message has a
 * data.content string (the author part only with data.author), else
 * "[TYPE SEQ] " and the raw JSON.
 * Returns 0, or -1 once stdout failed (o->write_error says why).
 */
int cli_out_msg(struct cli_out *o, uint64_t seq, const char *json, size_t len);

/*
 * Print the line |s|, |len| (a received frame, an ack object) and a
 * newline; on a terminal, control characters are shown as \xHH, as the
 * printers above show them.
 * Returns 0, or -1 once stdout failed (o->write_error says why).
 */
int cli_out_line(struct cli_out *o, const char *s, size_t len);

/*
 * Append |s|, |len| to |b| as the printers above write remote text: when
 * |tty| (the text goes to a terminal), C0 controls, DEL and ESC become
 * \xHH, so that a peer cannot move the cursor or retitle the window; a
 * newline and a tab stay as they are, a newline only with |keep_newline|
 * (a chat line stays one line).  Without |tty| the bytes go in unchanged.
 * Returns 0 or RT_ENOMEM.
 */
int cli_out_append_safe(rt_buf *b, const char *s, size_t len, int tty,
                        int keep_newline);

/*
 * Flush stdout and report a write error.  A reader that went away (EPIPE,
 * as in `rtctl tail - | head -1`) is not an error.  Returns 0 or 1.
 */
int cli_out_finish(struct cli_out *o);

/*
 * Flush stdout now, for a reader that waits for each line; a failure is
 * kept in o->write_error (the session stops on it: EPIPE is exit 0).
 */
void cli_out_flush(struct cli_out *o);

#endif /* RTCTL_OUTPUT_H */
