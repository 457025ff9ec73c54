/*
 * session.h: the plumbing every network client command shares (tail, poll,
 * send, connect, chat): its connection options (CLI_CONN_OPTS), the target
 * URL, the loop, Ctrl-C, SIGTERM and --timeout, state reports, and the one
 * exit status.  The functions below say each what it does, in the order a
 * command calls them.
 *
 * The token travels in the Authorization header, never in the URL, so it
 * stays out of diagnostics that print the URL and out of server logs.
 * Commands that send what they read use lines.h for standard input.
 */
#ifndef RTCTL_SESSION_H
#define RTCTL_SESSION_H

#include <stdint.h>

#include <uv.h>

#include "core_int.h"
#include "opts.h"
#include "output.h"
#include "rt/conn.h"
#include "rt/loop.h"
#include "rt/url.h"

#define CLI_DEFAULT_URL "http://127.0.0.1:8080"

/* What CLI_CONN_OPTS fills; cli_session_init() sets the defaults. */
struct cli_conn_opts {
    struct cli_strlist urls;    /* --url, repeatable, comma lists */
    const char *token;          /* --token; NULL: $RTCTL_TOKEN */
    const char *user;           /* --user: ?user=NAME */
    struct cli_strlist headers; /* -H, repeatable */
    const char *cacert;         /* --cacert */
    int insecure;               /* -k */
    int reconnect;              /* --reconnect / --no-reconnect */
    uint64_t max_retries;       /* --max-retries; 0 unlimited */
    uint64_t timeout_ms;        /* --timeout; 0 none */
    int json;                   /* --json */
    int no_color;               /* --no-color */
    struct cli_global_opts g;   /* -v, -q, --color */
};

/* The options every client command takes, for the end of its table. */
#define CLI_CONN_OPTS(c)                                                      \
    OPT_GROUP("Connection"),                                                  \
        OPT_STR_LIST(0, "url", &(c)->urls, "URL",                             \
                     "server a room or path is relative to (default "         \
                     "$RTCTL_URL, else " CLI_DEFAULT_URL "); repeat it, or "  \
                     "give a comma list, for servers to fail over to (after " \
                     "a full URL, each is a full URL too)"),                  \
        OPT_STR(0, "token", &(c)->token, "TOKEN",                             \
                "send 'Authorization: Bearer TOKEN' (default $RTCTL_TOKEN)"), \
        OPT_STR(0, "user", &(c)->user, "NAME",                                \
                "ask to be user NAME (?user=NAME, for a server without "      \
                "auth)"),                                                     \
        OPT_STR_LIST('H', "header", &(c)->headers, "HEADER",                  \
                     "send HEADER, 'Name: value', with each request "         \
                     "(repeatable)"),                                         \
        OPT_STR(0, "cacert", &(c)->cacert, "PEM",                             \
                "trust the certificates in PEM instead of the system's"),     \
        OPT_BOOL('k', "insecure", &(c)->insecure,                             \
                 "do not check the server's TLS certificate"),                \
        OPT_BOOL(0, "reconnect", &(c)->reconnect,                             \
                 "reconnect with backoff after a drop or a failure "          \
                 "(--no-reconnect: stop instead)"),                           \
        OPT_UINT(0, "max-retries", &(c)->max_retries, "N",                    \
                 "give up (exit 3) after N failed attempts in a row "         \
                 "(default 0: never)"),                                       \
        OPT_DURATION(0, "timeout", &(c)->timeout_ms,                          \
                     "give up after DURATION and exit 5 if the goal was not " \
                     "reached"),                                              \
        OPT_GROUP("Output"),                                                  \
        OPT_BOOL(0, "json", &(c)->json,                                       \
                 "JSON Lines on stdout, one object per line"),                \
        OPT_BOOL(0, "no-color", &(c)->no_color, "same as --color=never"),     \
        CLI_GLOBAL_OPTS(&(c)->g)

struct cli_session {
    struct cli_conn_opts o; /* what CLI_CONN_OPTS parsed */
    struct cli_out out;     /* set up by cli_session_parse() */
    const struct cli_cmd_help *help;
    const char *verb;  /* "follow": "cannot follow 'URL': why" */
    const char *retry; /* "reconnecting": "why; reconnecting in..." */
    const char *unit;  /* "events": "--timeout: 1 of 3 events" */
    const char *base;  /* the first URL a TARGET is relative to */
    char **bases;      /* every one, NULL-terminated */
    size_t nbases;
    int bases_given;            /* they came from --url */
    const char *token;          /* --token or $RTCTL_TOKEN; NULL: none */
    const char *const *headers; /* NULL-terminated, for opts.headers */
    char *url;                  /* cli_session_url()'s first URL: urls[0] */
    char **urls;                /* all of them, NULL-terminated */
    size_t nurls;
    rt_loop *loop;     /* cli_session_open()'s loop */
    uint64_t goal;     /* what the command waits for; 0: no count */
    uint64_t done;     /* how much of it happened */
    int status;        /* exit status; -1 while unknown */
    int no_presence;   /* WebSocket: ?presence=0 unless TARGET says */
    int own_open_line; /* the command says "connected to" itself */
    /* private */
    const char **hv;
    char *auth;
    char *basic; /* cli_session_basic_auth()'s header */
    void (*stop)(void *ud);
    void *stop_ud;
    uv_signal_t sigint, sigterm;
    uv_timer_t timer;
    uv_check_t check; /* flushes stdout; stops when it is gone */
    int out_stopped;
    int interrupted;
    int armed;
    int finished; /* cli_session_closed() was called */
};

/*
 * Set |s| to its defaults before the option table is parsed.  |verb|,
 * |retry| and |unit| word the messages (see struct cli_session); the
 * strings are borrowed for the life of |s|.  --reconnect defaults to
 * |reconnect|.
 */
void cli_session_init(struct cli_session *s, const struct cli_cmd_help *help,
                      const char *verb, const char *retry, const char *unit,
                      int reconnect);

/*
 * Parse |argv| with |opts| (ending with CLI_CONN_OPTS(&s->o)); then set up
 * s.out from the output options, check -H (each 'Name: value'), --token,
 * --user and --max-retries, and build s.base, s.token and s.headers.
 * Returns the number of operands, moved to argv[1..n], or -1 with
 * *|status| the exit status: RTCTL_EXIT_OK after --help, else
 * RTCTL_EXIT_USAGE (the error was printed).
 */
int cli_session_parse(struct cli_session *s, const struct cli_opt *opts,
                      int argc, char **argv, int *status);

/*
 * --auth USER:PASS: add "Authorization: Basic BASE64" to s.headers (RFC
 * 7617).  After cli_session_parse().  Returns 0, or the exit status after
 * printing why: RTCTL_EXIT_USAGE without a ':', or beside --token,
 * $RTCTL_TOKEN or an Authorization header.
 */
int cli_session_basic_auth(struct cli_session *s, const char *userpass);

/* 1 when an option of the Connection group was given (for file modes). */
int cli_session_net_opts_given(const struct cli_session *s);

/*
 * Resolve |target| against each of s.bases for |kind| (rt_url_resolve()),
 * add ?user= for --user, and keep the results in s.urls (s.url the
 * first), the same URL given twice kept once.  A |target| that is a full
 * URL comes first, and each --url given (not $RTCTL_URL) follows it as a
 * full URL of its own.  Returns 0, or the exit status after printing why:
 * RTCTL_EXIT_USAGE for a malformed target or --url, naming the item.
 */
int cli_session_url(struct cli_session *s, const char *target,
                    rt_url_kind kind);

/*
 * Replace s.urls with |urls| (NULL-terminated, |n| >= 1, rt__malloc'ed
 * strings and array, taken over).
 */
void cli_session_set_urls(struct cli_session *s, char **urls, size_t n);

/* s.urls after the first, for opts.failover_urls. */
const char *const *cli_session_more_urls(const struct cli_session *s);

/*
 * Fill the connection options every client takes (opts.conn of
 * rt_ws_client_opts, rt_sse_client_opts, rt_poll_client_opts) from the
 * session: the headers, TLS, --reconnect and --max-retries; the client's
 * URL is s.url, the others of s.urls fail over.  The other fields of |co|
 * are left as they are.
 */
void cli_session_conn_opts(const struct cli_session *s, rt_conn_opts *co);

/* Create s.loop.  Returns 0, or the exit status after printing why. */
int cli_session_open(struct cli_session *s);

/*
 * Arm the signal handlers and the --timeout timer, run s.loop until every
 * handle on it is closed, free it.  |stop| (with |ud|) must close the
 * command's clients; it is called on Ctrl-C, SIGTERM and --timeout, maybe
 * more than once.  Returns s.status, RTCTL_EXIT_RUNTIME when no outcome
 * was set.
 */
int cli_session_run(struct cli_session *s, void (*stop)(void *ud), void *ud);

/* Record the outcome |status| unless one is already known. */
void cli_session_outcome(struct cli_session *s, int status);

/*
 * Printing failed: the outcome is 0 when the reader closed the pipe
 * (EPIPE: `| head` has what it wanted), else 1.
 */
void cli_session_output_failed(struct cli_session *s);

/*
 * Report a client's state change: with --json a
 * {"event":"state","state":...} object on stderr; for RT_CONN_BACKOFF
 * the notice "rtctl CMD: DETAIL; RETRY in N ms (attempt A)" unless -q
 * (with several URLs "RETRY in N ms (attempt A), to URL", or "RETRY now,
 * to URL" within a round, and "rtctl CMD: connected to URL" at each
 * RT_CONN_OPEN); for RT_CONN_CLOSED the outcome: 0 when |err| is
 * 0, else the message "cannot VERB 'URL': DETAIL" and
 * rtctl_exit_from_err(|err|), unless the outcome was already known.  |st|
 * is a client's state value, |url| the client's URL (its url()), NULL
 * when unknown; it is reported with several URLs only, so that the output
 * with one stays as it was.
 */
void cli_session_state_url(struct cli_session *s, rt_conn_state st,
                           uint64_t delay_ms, unsigned attempt, int err,
                           const char *detail, const char *url);
/* cli_session_state_url() without the URL. */
void cli_session_state(struct cli_session *s, rt_conn_state st,
                       uint64_t delay_ms, unsigned attempt, int err,
                       const char *detail);

/*
 * Append to |b| the JSON state object cli_session_state_url() prints with
 * --json (no newline): {"event":"state","state":S} plus delay_ms and
 * attempt for RT_CONN_BACKOFF, error and detail when |err| is not 0,
 * and url (the attempt's, or the next one's with RT_CONN_BACKOFF)
 * when |url| is not NULL.  For a command that prints it elsewhere (above a
 * prompt).  Returns 0 or RT_ENOMEM.
 */
int cli_session_state_json_url(rt_buf *b, rt_conn_state st, uint64_t delay_ms,
                               unsigned attempt, int err, const char *detail,
                               const char *url);
/* cli_session_state_json_url() without the URL. */
int cli_session_state_json(rt_buf *b, rt_conn_state st, uint64_t delay_ms,
                           unsigned attempt, int err, const char *detail);

/*
 * The URLs in messages: "'A'" with one, "'A', 'B'" with several, into
 * |buf|.
 */
const char *cli_session_url_names(const struct cli_session *s, char *buf,
                                  size_t size);

/*
 * A call on the command's client failed with |err| (an RT_E* code):
 * print "cannot VERB 'URL': REASON", record the outcome unless one is
 * known, and return rtctl_exit_from_err(|err|).
 */
int cli_session_fail(struct cli_session *s, int err);

/*
 * Standard input ended with the error |err| (an cli_lines end error:
 * RT_ETOOBIG for a line longer than |max_line| bytes, a whole number of
 * MiB; else an errno): print "cannot read standard input: WHY" and record
 * the outcome RTCTL_EXIT_RUNTIME unless one is known.  The caller stops
 * its clients.
 */
void cli_session_input_failed(struct cli_session *s, int err, size_t max_line);

/*
 * The command's clients are all closed: close the session's own handles
 * so that cli_session_run() can return.  Call it from on_closed (or before
 * cli_session_run(), when the command gave up before the loop ran: then
 * the handles are never armed).
 */
void cli_session_closed(struct cli_session *s);

/*
 * Free what the session holds, flush stdout, and return |status|, or
 * RTCTL_EXIT_RUNTIME when it was RTCTL_EXIT_OK and stdout failed.
 */
int cli_session_end(struct cli_session *s, int status);

#endif /* RTCTL_SESSION_H */
