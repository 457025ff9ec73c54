/*
 * cmd_tail.c: `rtctl tail`, print the events of a Server-Sent Events stream.
 *
 * Two sources, one printer.  TARGET '-' or --file reads a raw event stream
 * and prints each event the WHATWG algorithm dispatches; an event still
 * open at end of input is never dispatched (the spec discards it).  Any
 * other TARGET is a room, a path or a URL, resolved against --url and
 * followed with rt_sse_client: reconnecting with backoff, resuming with
 * Last-Event-ID, until --count events, --timeout, Ctrl-C or a final answer.
 *
 * Streams: events go to stdout, exactly as in file mode; connection state
 * goes to stderr (a notice per reconnection, and with --json one
 * {"event":"state",...} object per state change as well).  Our server's
 * own system events, welcome and resumed, are state too: a line on stderr
 * as chat gives ("joined general; seq 42; 3 online"), with --json an object
 * there, and neither printed on stdout nor counted by --count, which counts
 * the messages printed across any number of reconnections.  Any other
 * server's events are all data, whatever their type.
 *
 * Ordering: a room or an events/ROOM path is our server, so the client
 * orders its stored messages by seq (rt_sse_client's order_by_seq); a full
 * URL may be any server, so only --order turns that on.  A loss the server
 * reports (recovered:false, a new epoch) is a warning on stderr, and with
 * --json a {"event":"resumed","recovered":false} line there too.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cmd.h"
#include "exit.h"
#include "opts.h"
#include "output.h"
#include "rt/error.h"
#include "rt/msg.h"
#include "rt/sse_client.h"
#include "rt/sse_parser.h"
#include "rt/url.h"
#include "session.h"

static const char *const tail_usage[] = {
    "rtctl tail [options] TARGET",
    "rtctl tail [options] -",
    "rtctl tail [options] --file PATH",
    NULL,
};

static const struct cli_cmd_help tail_help = {
    "tail",
    tail_usage,
    "Print each event of a Server-Sent Events stream, parsed exactly as a "
    "browser's EventSource parses it. TARGET is a room ('general'), a path "
    "('events/general') or a URL, relative to --url; the stream is followed "
    "across drops and server restarts, resuming with Last-Event-ID, until "
    "--count events, --timeout or Ctrl-C. '-' or --file reads a recorded "
    "stream instead and exits at its end.",
};

struct tail {
    struct cli_session s;      /* s.goal is --count, s.done the printed */
    unsigned welcomes;         /* our server's welcome events seen */
    struct cli_strlist events; /* --event filter; empty: every type */
    rt_sse_client *client;     /* network mode */
    int order;                 /* --order; -1: from the TARGET */
    uint64_t gap_ms;           /* --gap-timeout */
    int retry_all;             /* --retry-all-errors */
    const char *cert, *key, *proxy, *auth;
    uint64_t max_redirs; /* --max-redirs */
};

static int wanted(const struct tail *t, const rt_sse_event *ev)
{
    size_t i;

    if (t->events.n == 0)
        return 1;
    for (i = 0; i < t->events.n; i++)
        if (strlen(t->events.v[i]) == ev->type_len &&
            memcmp(t->events.v[i], ev->type, ev->type_len) == 0)
            return 1;
    return 0;
}

static int on_event(const rt_sse_event *ev, void *ud)
{
    struct tail *t = ud;

    if (!wanted(t, ev))
        return 0;
    if (cli_out_sse_event(&t->s.out, ev) != 0)
        return 1;
    t->s.done++;
    return t->s.goal != 0 && t->s.done >= t->s.goal;
}

static void on_retry(uint64_t ms, void *ud)
{
    struct tail *t = ud;

    cli_infof(&t->s.out, "server asks for a reconnection delay of %llu ms",
              (unsigned long long)ms);
}

/* --- network mode */

static void warn_loss(struct tail *t)
{
    if (t->s.out.json)
        fprintf(stderr, "{\"event\":\"resumed\",\"recovered\":false}\n");
    cli_warnf(&t->s.out, "resumed with recovered:false: the server no "
                         "longer held every event missed while "
                         "reconnecting");
}

/* With --json, |o| on one line of stderr; |o| is freed. */
static void state_json(cJSON *o)
{
    char *s = o != NULL ? cJSON_PrintUnformatted(o) : NULL;

    if (s != NULL)
        fprintf(stderr, "%s\n", s);
    cJSON_free(s);
    cJSON_Delete(o);
}

static void report_welcome(struct tail *t, const rt_msg *m)
{
    const char *room = m->room != NULL ? m->room : "";
    size_t online = m->u.system.welcome.n_online;
    cJSON *o;

    t->welcomes++;
    if (t->s.out.json) {
        o = cJSON_CreateObject();
        if (o != NULL &&
            (!cJSON_AddStringToObject(o, "event", "welcome") ||
             !cJSON_AddStringToObject(o, "room", room) ||
             (m->u.system.welcome.user != NULL &&
              !cJSON_AddStringToObject(o, "user", m->u.system.welcome.user)) ||
             (m->u.system.welcome.epoch != NULL &&
              !cJSON_AddStringToObject(o, "epoch",
                                       m->u.system.welcome.epoch)) ||
             !cJSON_AddNumberToObject(o, "seq",
                                      (double)m->u.system.welcome.seq) ||
             !cJSON_AddNumberToObject(o, "online", (double)online))) {
            cJSON_Delete(o);
            o = NULL;
        }
        state_json(o);
    }
    cli_noticef(&t->s.out, "%s %s; seq %llu; %zu online",
                t->welcomes == 1 ? "joined" : "rejoined", room,
                (unsigned long long)m->u.system.welcome.seq, online);
}

static void report_resumed(struct tail *t, const rt_msg *m)
{
    uint64_t from = m->u.system.resumed.from, to = m->u.system.resumed.to;
    char line[128];

    if (!m->u.system.resumed.recovered) {
        /* With --order, the client said so already (net_on_resumed). */
        if (!t->order)
            warn_loss(t);
        return;
    }
    if (t->s.out.json) {
        snprintf(line, sizeof(line),
                 "{\"event\":\"resumed\",\"recovered\":true,"
                 "\"from\":%llu,\"to\":%llu}\n",
                 (unsigned long long)from, (unsigned long long)to);
        fputs(line, stderr);
    }
    if (to >= from)
        cli_noticef(&t->s.out, "resumed from seq %llu (%llu replayed)",
                    (unsigned long long)from,
                    (unsigned long long)(to - from + 1));
    else
        cli_noticef(&t->s.out, "resumed from seq %llu (nothing missed)",
                    (unsigned long long)from);
}

/*
 * Is |ev| our server's welcome or resumed event (rtctl-protocol(7))?  Then
 * report it as state and return 1.  An event of type system that is not
 * one of ours to the letter is data, as on any other server.
 */
static int state_event(struct tail *t, const rt_sse_event *ev)
{
    rt_msg *m = NULL;
    rt_msg_limits lim;
    int ours = 0;

    if (ev->type_len != 6 || memcmp(ev->type, "system", 6) != 0)
        return 0;
    rt_msg_limits_init(&lim);
    lim.max_bytes = ev->data_len > 0 ? ev->data_len : 1;
    if (rt_msg_parse(&m, ev->data, ev->data_len, RT_MSG_FROM_SERVER, &lim,
                     NULL) != 0)
        return 0;
    if (m->type == RT_MSG_SYSTEM &&
        m->u.system.event == RT_MSG_SYSTEM_WELCOME) {
        report_welcome(t, m);
        ours = 1;
    } else if (m->type == RT_MSG_SYSTEM &&
               m->u.system.event == RT_MSG_SYSTEM_RESUMED) {
        report_resumed(t, m);
        ours = 1;
    }
    rt_msg_free(m);
    return ours;
}

static void net_on_event(rt_sse_client *c, const rt_sse_event *ev, void *ud)
{
    struct tail *t = ud;

    if (t->s.status >= 0)
        return;
    if (state_event(t, ev) || !wanted(t, ev))
        return;
    if (cli_out_sse_event(&t->s.out, ev) != 0) {
        cli_session_output_failed(&t->s); /* cli_out_finish() says why */
        rt_sse_client_close(c);
        return;
    }
    /*
     * Whoever reads, a person or a pipe ("| jq", a test waiting for a
     * line), wants each event now, not a buffer later.
     */
    cli_out_flush(&t->s.out);
    t->s.done++;
    if (t->s.goal != 0 && t->s.done >= t->s.goal) {
        cli_session_outcome(&t->s, RTCTL_EXIT_OK);
        rt_sse_client_close(c);
    }
}

static void net_on_state(rt_sse_client *c, rt_conn_state st, uint64_t delay,
                         int err, const char *detail, void *ud)
{
    struct tail *t = ud;

    if (st == RT_CONN_CONNECTING)
        cli_infof(&t->s.out, "connecting to %s", rt_sse_client_url(c));
    else if (st == RT_CONN_OPEN)
        cli_infof(&t->s.out, "connected; last event ID '%s'",
                  rt_sse_client_last_id(c));
    else if (st == RT_CONN_CLOSED && err == 0 && t->s.status < 0)
        cli_infof(&t->s.out, "the server asked not to reconnect (HTTP 204)");
    cli_session_state_url(&t->s, (int)st, delay, rt_sse_client_attempt(c), err,
                          detail, rt_sse_client_url(c));
}

static void net_on_resumed(rt_sse_client *c, int recovered, void *ud)
{
    struct tail *t = ud;

    (void)c;
    if (recovered || t->s.status >= 0)
        return;
    warn_loss(t);
}

static void net_on_closed(rt_sse_client *c, void *ud)
{
    struct tail *t = ud;

    (void)c;
    t->client = NULL;
    cli_session_closed(&t->s);
}

static void net_stop(void *ud)
{
    struct tail *t = ud;

    rt_sse_client_close(t->client);
}

/*
 * Is |target| our server's stream: a room, or a path to events/ROOM
 * relative to --url (not a full URL, which may be any server)?
 */
static int ours(const char *target)
{
    if (strstr(target, "://") != NULL)
        return 0;
    if (strpbrk(target, "/?") == NULL)
        return 1; /* a room */
    while (*target == '/')
        target++;
    return strncmp(target, "events/", 7) == 0;
}

static int follow(struct tail *t, const char *target, const char *since,
                  uint64_t stall_ms, uint64_t max_line)
{
    rt_sse_client_opts co;
    rt_sse_client_cbs cbs = {net_on_event, net_on_state, net_on_closed,
                             net_on_resumed};
    int rc;

    if ((rc = cli_session_url(&t->s, target, RT_URL_KIND_SSE)) != 0 ||
        (rc = cli_session_open(&t->s)) != 0)
        return rc;
    if (t->order < 0)
        t->order = ours(target);
    rt_sse_client_opts_init(&co);
    cli_session_conn_opts(&t->s, &co.conn);
    co.last_event_id = since;
    co.stall_timeout_ms = stall_ms;
    co.max_line_bytes = (size_t)max_line;
    co.order_by_seq = t->order;
    co.gap_timeout_ms = t->gap_ms;
    co.retry_all = t->retry_all;
    co.conn.cert = t->cert;
    co.conn.key = t->key;
    co.conn.proxy = t->proxy;
    co.max_redirects = (uint32_t)t->max_redirs;
    rc = rt_sse_client_new(&t->client, t->s.loop, t->s.url, &co, &cbs, t);
    if (rc != 0)
        return cli_session_fail(&t->s, rc);
    rc = rt_sse_client_start(t->client);
    if (rc != 0) {
        cli_session_fail(&t->s, rc);
        rt_sse_client_close(t->client);
    }
    return cli_session_run(&t->s, net_stop, t);
}

int cmd_tail(int argc, char **argv)
{
    struct tail t;
    const char *file = NULL, *since = NULL, *name;
    uint64_t max_line = 1024 * 1024, stall_ms = 45000;
    uint64_t unset_stall = stall_ms;
    int n, fd, rc, status = RTCTL_EXIT_OK;
    rt_sse_parser_opts po;
    rt_sse_parser *p = NULL;
    char buf[65536];
    ssize_t got;
    uint64_t offset = 0;
    struct cli_opt opts[] = {
        OPT_GROUP("Stream"),
        OPT_DURATION(0, "stall-timeout", &stall_ms,
                     "reconnect when no byte arrives for DURATION "
                     "(default 45s; 0: never)"),
        OPT_STR('f', "file", &file, "PATH", "read the stream from PATH"),
        OPT_UINT(0, "max-redirs", &t.max_redirs, "N",
                 "follow at most N redirects in a row (default 10; 0: a "
                 "redirect is an error)"),
        OPT_BOOL(0, "retry-all-errors", &t.retry_all,
                 "with --reconnect, retry after any failure, even those "
                 "that end the command (a Content-Type other than "
                 "text/event-stream, HTTP 400, 401, 403, 404, 405, too "
                 "many redirects)"),
        OPT_STR(0, "since", &since, "ID",
                "start with ID as the last event ID (the id events carry "
                "until the stream sets one)"),
        OPT_BYTES(0, "max-line", &max_line,
                  "longest line accepted (default 1m); a longer one is a "
                  "protocol error"),
        OPT_STR_LIST('e', "event", &t.events, "TYPE",
                     "print only events of TYPE (repeatable)"),
        OPT_UINT('n', "count", &t.s.goal, "N",
                 "exit after N events, across reconnections (our "
                 "server's welcome and resumed events are state on "
                 "stderr and do not count)"),
        OPT_BOOL(0, "order", &t.order,
                 "order our server's messages by seq: drop duplicates, "
                 "hold early ones, warn of losses (default: on for a room "
                 "or events/ROOM, off for a full URL)"),
        OPT_DURATION(0, "gap-timeout", &t.gap_ms,
                     "with --order, reconnect when a missing seq has not "
                     "arrived within DURATION (default 2s)"),
        OPT_GROUP("TLS, proxy, authentication"),
        OPT_STR(0, "cert", &t.cert, "PEM",
                "present the client certificate in PEM (https://)"),
        OPT_STR(0, "key", &t.key, "PEM",
                "the private key of --cert (default: in --cert)"),
        OPT_STR(0, "proxy", &t.proxy, "URL",
                "use the proxy URL, as curl's --proxy (default "
                "$http_proxy, $https_proxy, $ALL_PROXY; '': none)"),
        OPT_STR(0, "auth", &t.auth, "USER:PASSWORD",
                "send Basic authentication (Authorization: Basic)"),
        CLI_CONN_OPTS(&t.s.o),
        OPT_END(),
    };

    memset(&t, 0, sizeof(t));
    t.order = -1;
    t.gap_ms = 2000;
    t.max_redirs = 10;
    cli_session_init(&t.s, &tail_help, "follow", "reconnecting", "events", 1);
    if ((n = cli_session_parse(&t.s, opts, argc, argv, &status)) < 0)
        goto end;
    status = RTCTL_EXIT_USAGE;
    if (file != NULL && n > 0) {
        cli_opts_error(&tail_help, "give either --file or a target, not both");
        goto end;
    }
    if (file == NULL && n != 1) {
        cli_opts_error(&tail_help, n == 0 ? "nothing to read: give a TARGET, "
                                            "'-' or --file PATH"
                                          : "too many arguments");
        goto end;
    }
    if (t.max_redirs > 1000) {
        cli_opts_error(&tail_help, "--max-redirs: at most 1000");
        goto end;
    }
    if (max_line == 0 || max_line > (uint64_t)1 << 30) {
        cli_opts_error(&tail_help, "--max-line: must be between 1 and 1g");
        goto end;
    }
    if (t.key != NULL && t.cert == NULL) {
        cli_opts_error(&tail_help, "--key goes with --cert");
        goto end;
    }
    if (file == NULL && strcmp(argv[1], "-") != 0) {
        if (t.auth != NULL &&
            (status = cli_session_basic_auth(&t.s, t.auth)) != 0)
            goto end;
        status = follow(&t, argv[1], since, stall_ms, max_line);
        goto end;
    }
    if (cli_session_net_opts_given(&t.s) || stall_ms != unset_stall) {
        cli_opts_error(&tail_help, "--url, --token, --user, --header, "
                                   "--cacert, --insecure, --no-reconnect, "
                                   "--max-retries, --timeout and "
                                   "--stall-timeout apply to a network "
                                   "TARGET, not to '-' or --file");
        goto end;
    }
    if (t.order >= 0 || t.gap_ms != 2000 || t.retry_all ||
        t.max_redirs != 10 || t.cert != NULL || t.proxy != NULL ||
        t.auth != NULL) {
        cli_opts_error(&tail_help, "--order, --gap-timeout, --max-redirs, "
                                   "--retry-all-errors, --cert, --key, "
                                   "--proxy and --auth apply to a network "
                                   "TARGET, not to '-' or --file");
        goto end;
    }

    status = RTCTL_EXIT_OK;
    if (file != NULL) {
        name = file;
        fd = open(file, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            cli_errf(&t.s.out, "cannot open '%s': %s", file, strerror(errno));
            status = RTCTL_EXIT_RUNTIME;
            goto end;
        }
    } else {
        name = "standard input";
        fd = STDIN_FILENO;
    }

    rt_sse_parser_opts_init(&po);
    po.max_line_bytes = (size_t)max_line;
    rc = rt_sse_parser_new(&p, &po, on_event, on_retry, &t);
    if (rc == 0 && since != NULL)
        rc = rt_sse_parser_set_last_id(p, since, strlen(since));
    if (rc != 0) {
        cli_errf(&t.s.out, "%s", rt_strerror(rc));
        status = rtctl_exit_from_err(rc);
        goto done;
    }

    for (;;) {
        got = read(fd, buf, sizeof(buf));
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            cli_errf(&t.s.out, "cannot read %s: %s", name, strerror(errno));
            status = RTCTL_EXIT_RUNTIME;
            break;
        }
        if (got == 0) {
            if (t.s.goal != 0 && t.s.done < t.s.goal) {
                cli_errf(&t.s.out, "%s ended after %llu of %llu events", name,
                         (unsigned long long)t.s.done,
                         (unsigned long long)t.s.goal);
                status = RTCTL_EXIT_RUNTIME;
            }
            break;
        }
        rc = rt_sse_parser_feed(p, buf, (size_t)got);
        if (rc == RT_ECANCELED)
            break; /* --count reached, or stdout failed */
        if (rc == RT_ETOOBIG) {
            cli_errf(&t.s.out,
                     "%s: a line near byte %llu is longer than --max-line "
                     "(%llu bytes)",
                     name, (unsigned long long)offset,
                     (unsigned long long)max_line);
            status = RTCTL_EXIT_PROTOCOL;
            break;
        }
        if (rc != 0) {
            cli_errf(&t.s.out, "%s", rt_strerror(rc));
            status = rtctl_exit_from_err(rc);
            break;
        }
        offset += (uint64_t)got;
    }

done:
    if (fd != STDIN_FILENO)
        close(fd);
    rt_sse_parser_free(p);
end:
    cli_strlist_free(&t.events);
    return cli_session_end(&t.s, status);
}
