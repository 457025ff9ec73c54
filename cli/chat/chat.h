/*
 * chat.h: the parts of `rtctl chat`.  cli/cmd_chat.c is the session: the
 * command line, the reconnecting WebSocket client and its callbacks, the
 * roster of who is online, the messages sent and their acks, standard
 * input that is not a terminal.  view.c is what the user sees: the
 * human lines (rendered from the protocol frames), own messages held
 * until their ack, notices, the prompt.  commands.c is the terminal's
 * side: the slash-command table (dispatch, completion, /help), the typing
 * notices and /join.  term.c runs readline on the loop.
 *
 * Everything happens on the loop thread; there is one chat per process,
 * as there is one readline.
 */
#ifndef RTCTL_CHAT_H
#define RTCTL_CHAT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <uv.h>

#include "core_int.h"
#include "lines.h"
#include "rt/msg.h"
#include "rt/ws_client.h"
#include "session.h"

#define CLI_CHAT_TYPISTS 64 /* users whose "is typing" is rate-limited */

/* A message of ours: waiting for its ack, or for its broadcast. */
struct cli_chat_own {
    struct cli_chat_own *next;
    uint64_t seq;
    int acked;
    char id[];
};

/* A line held until the ack of the own message it shows (or before). */
struct cli_chat_hline {
    struct cli_chat_hline *next;
    FILE *f;
    char *own_id; /* the own message this line shows, else NULL */
    size_t len;
    char s[]; /* without the final '\n' when own_id is set */
};

struct cli_chat_typist {
    char user[65];
    uint64_t at;
};

struct cli_chat {
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
    struct cli_chat_own *owns;
    struct cli_chat_hline *hold, **hold_tail;
    uv_timer_t hold_timer;
    uv_timer_t timeout; /* --timeout on a terminal (see term_timeout) */
    uint64_t timeout_ms;
    int handles; /* our handles still open */
    /* presence */
    char **names;
    size_t nnames;
    struct cli_chat_typist typists[CLI_CHAT_TYPISTS];
    uint64_t typing_sent_at;
    int typing_sent;
    /* non-terminal stdin: a message a line */
    struct cli_lines in;
    int input_done;
    uint64_t lineno;
};

static inline uint64_t cli_chat_now_ms(struct cli_chat *ch)
{
    return uv_now(rt_loop_uv(ch->s.loop));
}

/* --- cmd_chat.c: the session */

/* End the run with |status| (the first status set wins). */
void cli_chat_finish(struct cli_chat *ch, int status);
/*
 * Start a client of |url| as ch->client (the caller ends the old one);
 * 0 or an RT_E*.
 */
int cli_chat_start_client(struct cli_chat *ch, const char *url);
/* Send |text| with the id PREFIX-|n|, kept until acked; 0 or an RT_E*. */
int cli_chat_send_text(struct cli_chat *ch, const char *text, uint64_t n);
/* Why a send failed, for a person. */
const char *cli_chat_send_error(int rc);
/* Forget who is online (another room). */
void cli_chat_names_clear(struct cli_chat *ch);
/* The |i|th name online, NULL past the last (completion). */
const char *cli_chat_name_at(size_t i, void *ud);

/* --- view.c: what the user sees */

/*
 * Write |s| to |f|: above the prompt on a terminal; a write error on
 * stdout ends the run (EPIPE with 0).
 */
void cli_chat_put(struct cli_chat *ch, FILE *f, const char *s, size_t len);
/* "rtctl chat: ..." on stderr; not with -q. */
void cli_chat_notice(struct cli_chat *ch, const char *fmt, ...)
    RT__PRINTF(2, 3);
/* The same, only with -v when standard input is not a terminal. */
void cli_chat_info(struct cli_chat *ch, const char *fmt, ...) RT__PRINTF(2, 3);
/* "rtctl chat: warning: ..."; not with -q. */
void cli_chat_warning(struct cli_chat *ch, const char *fmt, ...)
    RT__PRINTF(2, 3);
/* "rtctl chat: ...", always. */
void cli_chat_error(struct cli_chat *ch, const char *fmt, ...)
    RT__PRINTF(2, 3);
/* With --json: close |b|'s event object, print it on stderr, free |b|. */
void cli_chat_json_event(struct cli_chat *ch, rt_buf *b);
/* "alice, bob", each name in its colour. */
int cli_chat_list_names(struct cli_chat *ch, rt_buf *b, const char *const *v,
                        size_t n);
/* Show the human line(s) for |m|, held after an own message's broadcast. */
void cli_chat_render(struct cli_chat *ch, const rt_msg *m, const char *json,
                     size_t len);
/* The own message |id|, unlinked (the caller frees it) with |unlink|. */
struct cli_chat_own *cli_chat_own_find(struct cli_chat *ch, const char *id,
                                       int unlink);
/* Remember a message of ours by |id|; 0 or RT_ENOMEM. */
int cli_chat_own_add(struct cli_chat *ch, const char *id);
/* Forget acked messages whose broadcast can no longer come. */
void cli_chat_own_prune(struct cli_chat *ch, uint64_t seq);
/* Print the held lines that may go now (all of them with |force|). */
void cli_chat_hold_flush(struct cli_chat *ch, int force);
/* Free the own messages and held lines left at the end. */
void cli_chat_view_free(struct cli_chat *ch);
/* The prompt "ROOM|what|> " into |buf|. */
void cli_chat_make_prompt(struct cli_chat *ch, const char *what, char *buf,
                          size_t size);
/* Set the terminal's prompt to it; nothing without a terminal. */
void cli_chat_set_prompt(struct cli_chat *ch, const char *what);

/* --- commands.c: the terminal */

/* Start readline with the history and the slash commands; 0 or an exit. */
int cli_chat_term_open(struct cli_chat *ch);

#endif /* RTCTL_CHAT_H */
