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
 * {"event":"state",...} object per state change as well).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "cmd.h"
#include "core_int.h"
#include "exit.h"
#include "opts.h"
#include "output.h"
#include "rt/error.h"
#include "rt/loop.h"
#include "rt/sse_client.h"
#include "rt/sse_parser.h"
#include "rt/url.h"

static const char *const tail_usage[] = {
    "rtctl tail [options] TARGET",
    "rtctl tail [options] -",
    "rtctl tail [options] --file PATH",
    NULL,
};

static const struct rt_cmd_help tail_help = {
    "tail", tail_usage,
    "Print each event of a Server-Sent Events stream, parsed exactly as a "
    "browser's EventSource parses it. TARGET is a room ('general'), a path "
    "('events/general') or a URL, relative to --url; the stream is followed "
    "across drops and server restarts, resuming with Last-Event-ID, until "
    "--count events, --timeout or Ctrl-C. '-' or --file reads a recorded "
    "stream instead and exits at its end.",
};

#define DEFAULT_URL "http://127.0.0.1:8080"

struct tail {
    struct rt_out out;
    struct rt_strlist events; /* --event filter; empty: every type */
    uint64_t count;           /* --count; 0: no limit */
    uint64_t printed;
    /* network mode */
    rt_sse_client *client;
    const char *url;
    uv_signal_t sigint, sigterm;
    uv_timer_t timeout;
    uint64_t timeout_ms;
    int status; /* -1 until the outcome is known */
    int interrupted;
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
    if (rt_out_sse_event(&t->out, ev) != 0)
        return 1;
    t->printed++;
    return t->count != 0 && t->printed >= t->count;
}

static void on_retry(uint64_t ms, void *ud)
{
    struct tail *t = ud;

    rt_infof(&t->out, "server asks for a reconnection delay of %llu ms",
             (unsigned long long)ms);
}

/* --- network mode */

static void set_status(struct tail *t, int status)
{
    if (t->status < 0)
        t->status = status;
}

static const char *state_name(rt_sse_state st)
{
    switch (st) {
    case RT_SSE_CONNECTING:
        return "connecting";
    case RT_SSE_OPEN:
        return "open";
    case RT_SSE_BACKOFF:
        return "backoff";
    default:
        return "closed";
    }
}

/* With --json, one state object on stderr. */
static void json_state(struct tail *t, rt_sse_state st, uint64_t delay,
                       int err, const char *detail)
{
    rt_buf b;
    int rc = 0;

    rt__buf_init(&b);
    rc |= rt__buf_printf(&b, "{\"event\":\"state\",\"state\":\"%s\"",
                         state_name(st));
    if (st == RT_SSE_BACKOFF)
        rc |= rt__buf_printf(&b, ",\"delay_ms\":%llu,\"attempt\":%u",
                             (unsigned long long)delay,
                             rt_sse_client_attempt(t->client));
    if (err != 0) {
        rc |= rt__buf_printf(&b, ",\"error\":\"%s\",\"detail\":",
                             rt_err_name(err));
        rc |= rt__buf_json_str(&b, detail, strlen(detail));
    }
    rc |= rt__buf_append(&b, "}\n", 2);
    if (rc == 0)
        fwrite(b.data, 1, b.len, stderr);
    rt__buf_cleanup(&b);
}

static void net_on_event(rt_sse_client *c, const rt_sse_event *ev, void *ud)
{
    struct tail *t = ud;

    if (t->status >= 0 || !wanted(t, ev))
        return;
    if (rt_out_sse_event(&t->out, ev) != 0) {
        set_status(t, RTCTL_EXIT_RUNTIME); /* rt_out_finish() says why */
        rt_sse_client_close(c);
        return;
    }
    /*
     * Our server's "resumed" event says whether the replay after a
     * reconnection was complete; a gap deserves a warning a person sees.
     */
    if (ev->type_len == 6 && memcmp(ev->type, "system", 6) == 0 &&
        strstr(ev->data, "\"event\":\"resumed\"") != NULL &&
        strstr(ev->data, "\"recovered\":false") != NULL)
        rt_warnf(&t->out, "resumed with recovered:false: the server no "
                          "longer held every event missed while "
                          "reconnecting");
    /* A person watching wants each event now, not a buffer later. */
    if (t->out.tty)
        fflush(stdout);
    t->printed++;
    if (t->count != 0 && t->printed >= t->count) {
        set_status(t, RTCTL_EXIT_OK);
        rt_sse_client_close(c);
    }
}

static void net_on_state(rt_sse_client *c, rt_sse_state st,
                         uint64_t delay, int err, const char *detail,
                         void *ud)
{
    struct tail *t = ud;

    if (t->out.json)
        json_state(t, st, delay, err, detail);
    switch (st) {
    case RT_SSE_CONNECTING:
        rt_infof(&t->out, "connecting to %s", t->url);
        break;
    case RT_SSE_OPEN:
        rt_infof(&t->out, "connected; last event ID '%s'",
                 rt_sse_client_last_id(c));
        break;
    case RT_SSE_BACKOFF:
        if (!t->out.quiet)
            fprintf(stderr,
                    "rtctl tail: %s; reconnecting in %llu ms (attempt %u)\n",
                    detail, (unsigned long long)delay,
                    rt_sse_client_attempt(c));
        break;
    case RT_SSE_CLOSED:
        if (err == 0) {
            /* 204 from the server, or our own close. */
            if (t->status < 0)
                rt_infof(&t->out, "the server asked not to reconnect "
                                  "(HTTP 204)");
            set_status(t, RTCTL_EXIT_OK);
        } else if (t->status < 0) {
            rt_errf(&t->out, "cannot follow '%s': %s", t->url, detail);
            set_status(t, rtctl_exit_from_err(err));
        }
        break;
    }
}

static void close_handles(struct tail *t)
{
    if (!uv_is_closing((uv_handle_t *)&t->sigint))
        uv_close((uv_handle_t *)&t->sigint, NULL);
    if (!uv_is_closing((uv_handle_t *)&t->sigterm))
        uv_close((uv_handle_t *)&t->sigterm, NULL);
    if (!uv_is_closing((uv_handle_t *)&t->timeout))
        uv_close((uv_handle_t *)&t->timeout, NULL);
}

static void net_on_closed(rt_sse_client *c, void *ud)
{
    struct tail *t = ud;

    (void)c;
    t->client = NULL;
    close_handles(t);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct tail *t = h->data;

    (void)signum;
    if (t->interrupted) {
        fflush(stdout);
        _exit(RTCTL_EXIT_INTERRUPTED);
    }
    t->interrupted = 1;
    set_status(t, RTCTL_EXIT_INTERRUPTED);
    rt_sse_client_close(t->client);
}

static void on_timeout(uv_timer_t *h)
{
    struct tail *t = h->data;

    if (t->status < 0) {
        if (t->count != 0)
            rt_errf(&t->out, "--timeout: %llu of %llu events after %llu ms",
                    (unsigned long long)t->printed,
                    (unsigned long long)t->count,
                    (unsigned long long)t->timeout_ms);
        else
            rt_errf(&t->out, "--timeout: %llu ms passed (%llu events)",
                    (unsigned long long)t->timeout_ms,
                    (unsigned long long)t->printed);
        set_status(t, RTCTL_EXIT_TIMEOUT);
    }
    rt_sse_client_close(t->client);
}

struct net_opts {
    const char *base;
    const char *target;
    struct rt_strlist *headers;
    const char *cacert;
    int insecure;
    int reconnect;
    uint64_t max_retries;
    uint64_t stall_ms;
    const char *since;
    uint64_t max_line;
};

static int follow(struct tail *t, const struct net_opts *no)
{
    rt_sse_client_opts co;
    rt_sse_client_cbs cbs = {net_on_event, net_on_state, net_on_closed};
    rt_loop *loop = NULL;
    rt_url *u = NULL;
    char *url = NULL, err[256] = "";
    const char **hv = NULL;
    size_t i;
    int rc;

    rc = rt_url_resolve(&u, no->base, no->target, RT_URL_KIND_SSE, err,
                        sizeof(err));
    if (rc == 0)
        rc = rt_url_format(u, &url);
    rt_url_free(u);
    if (rc != 0) {
        if (rc == RT_EURL || rc == RT_ETOOBIG) {
            rt_opts_error(&tail_help, "'%s': %s", no->target,
                          err[0] ? err : rt_strerror(rc));
            return RTCTL_EXIT_USAGE;
        }
        rt_errf(&t->out, "%s", rt_strerror(rc));
        return rtctl_exit_from_err(rc);
    }
    t->url = url;
    hv = rt__calloc(no->headers->n + 1, sizeof(*hv));
    if (hv == NULL) {
        rt_free(url);
        rt_errf(&t->out, "out of memory");
        return RTCTL_EXIT_RUNTIME;
    }
    for (i = 0; i < no->headers->n; i++)
        hv[i] = no->headers->v[i];

    rt_sse_client_opts_init(&co);
    co.headers = hv;
    co.cacert = no->cacert;
    co.insecure = no->insecure;
    co.last_event_id = no->since;
    co.max_retries = (uint32_t)no->max_retries;
    co.no_reconnect = !no->reconnect;
    co.stall_timeout_ms = no->stall_ms;
    co.max_line_bytes = (size_t)no->max_line;

    rc = rt_loop_new(&loop, NULL);
    if (rc != 0) {
        rt_errf(&t->out, "cannot set up the event loop: %s",
                rt_strerror(rc));
        rt__free(hv);
        rt_free(url);
        return RTCTL_EXIT_RUNTIME;
    }
    t->status = -1;
    rc = rt_sse_client_new(&t->client, loop, url, &co, &cbs, t);
    rt__free(hv);
    if (rc != 0) {
        rt_errf(&t->out, "cannot follow '%s': %s", url, rt_strerror(rc));
        rt_loop_free(loop);
        rt_free(url);
        return rtctl_exit_from_err(rc);
    }
    uv_signal_init(rt_loop_uv(loop), &t->sigint);
    uv_signal_init(rt_loop_uv(loop), &t->sigterm);
    uv_timer_init(rt_loop_uv(loop), &t->timeout);
    t->sigint.data = t->sigterm.data = t->timeout.data = t;
    uv_signal_start(&t->sigint, on_signal, SIGINT);
    uv_signal_start(&t->sigterm, on_signal, SIGTERM);
    if (t->timeout_ms > 0)
        uv_timer_start(&t->timeout, on_timeout, t->timeout_ms, 0);
    rc = rt_sse_client_start(t->client);
    if (rc != 0) {
        rt_errf(&t->out, "cannot follow '%s': %s", url, rt_strerror(rc));
        set_status(t, rtctl_exit_from_err(rc));
        rt_sse_client_close(t->client);
    }
    rt_loop_run(loop);
    rt_loop_free(loop);
    rt_free(url);
    t->url = NULL;
    return t->status < 0 ? RTCTL_EXIT_RUNTIME : t->status;
}

int cmd_tail(int argc, char **argv)
{
    struct rt_global_opts g = {0, 0, NULL};
    struct tail t;
    const char *file = NULL, *since = NULL, *name;
    uint64_t max_line = 1024 * 1024;
    int json = 0, n, fd, rc, status = RTCTL_EXIT_OK;
    size_t i;
    rt_sse_parser_opts po;
    rt_sse_parser *p = NULL;
    char buf[65536];
    ssize_t got;
    uint64_t offset = 0;
    struct net_opts no;
    struct rt_strlist headers = {NULL, 0};
    const char *url_opt = NULL, *env;
    uint64_t timeout_ms = 0, max_retries = 0, stall_ms = 45000;
    uint64_t unset_stall = stall_ms;
    int reconnect = 1, insecure = 0;
    const char *cacert = NULL;
    struct rt_opt opts[] = {
        OPT_GROUP("Network"),
        OPT_STR(0, "url", &url_opt, "URL",
                "server the TARGET is relative to (default $RTCTL_URL, "
                "else " DEFAULT_URL ")"),
        OPT_STR_LIST('H', "header", &headers, "HEADER",
                     "send HEADER, 'Name: value', with each request "
                     "(repeatable)"),
        OPT_STR(0, "cacert", &cacert, "PEM",
                "trust the certificates in PEM instead of the system's"),
        OPT_BOOL('k', "insecure", &insecure,
                 "do not check the server's TLS certificate"),
        OPT_BOOL(0, "reconnect", &reconnect,
                 "reconnect when the stream ends or fails (default; "
                 "--no-reconnect exits instead)"),
        OPT_UINT(0, "max-retries", &max_retries, "N",
                 "give up (exit 3) after N reconnections in a row "
                 "(default 0: never)"),
        OPT_DURATION(0, "timeout", &timeout_ms,
                     "stop after DURATION, exit 5 (before --count events "
                     "arrived, or with no --count)"),
        OPT_DURATION(0, "stall-timeout", &stall_ms,
                     "reconnect when no byte arrives for DURATION "
                     "(default 45s; 0: never)"),
        OPT_GROUP("Input"),
        OPT_STR('f', "file", &file, "PATH", "read the stream from PATH"),
        OPT_STR(0, "since", &since, "ID",
                "start with ID as the last event ID (the id events carry "
                "until the stream sets one)"),
        OPT_BYTES(0, "max-line", &max_line,
                  "longest line accepted (default 1m); a longer one is a "
                  "protocol error"),
        OPT_GROUP("Output"),
        OPT_BOOL(0, "json", &json,
                 "one JSON object per event: "
                 "{\"event\":TYPE,\"id\":ID,\"data\":DATA}"),
        OPT_STR_LIST('e', "event", &t.events, "TYPE",
                     "print only events of TYPE (repeatable)"),
        OPT_UINT('n', "count", &t.count, "N", "exit after N events"),
        RT_GLOBAL_OPTS(&g),
        OPT_END(),
    };

    memset(&t, 0, sizeof(t));
    n = rt_opts_parse(&tail_help, opts, argc, argv);
    if (n < 0) {
        rt_strlist_free(&t.events);
        rt_strlist_free(&headers);
        return n == RT_OPTS_EXIT_OK ? RTCTL_EXIT_OK : RTCTL_EXIT_USAGE;
    }
    if (rt_out_init(&t.out, &tail_help, &g, json) != 0)
        goto usage;
    if (file != NULL && n > 0) {
        rt_opts_error(&tail_help, "give either --file or a target, not both");
        goto usage;
    }
    if (file == NULL && n != 1) {
        rt_opts_error(&tail_help, n == 0 ? "nothing to read: give a TARGET, "
                                           "'-' or --file PATH"
                                         : "too many arguments");
        goto usage;
    }
    if (max_line == 0 || max_line > (uint64_t)1 << 30) {
        rt_opts_error(&tail_help, "--max-line: must be between 1 and 1g");
        goto usage;
    }
    if (file == NULL && strcmp(argv[1], "-") != 0) {
        if (max_retries > UINT32_MAX) {
            rt_opts_error(&tail_help, "--max-retries: at most %u",
                          (unsigned)UINT32_MAX);
            goto usage;
        }
        for (i = 0; i < headers.n; i++) {
            const char *colon = strchr(headers.v[i], ':');

            if (colon == NULL || colon == headers.v[i] ||
                strpbrk(headers.v[i], "\r\n") != NULL) {
                rt_opts_error(&tail_help,
                              "--header: '%s' is not 'Name: value'",
                              headers.v[i]);
                goto usage;
            }
        }
        env = getenv("RTCTL_URL");
        no.base = url_opt != NULL ? url_opt
                  : env != NULL && *env != '\0' ? env
                                                 : DEFAULT_URL;
        no.target = argv[1];
        no.headers = &headers;
        no.cacert = cacert;
        no.insecure = insecure;
        no.reconnect = reconnect;
        no.max_retries = max_retries;
        no.stall_ms = stall_ms;
        no.since = since;
        no.max_line = max_line;
        t.timeout_ms = timeout_ms;
        status = follow(&t, &no);
        rt_strlist_free(&t.events);
        rt_strlist_free(&headers);
        if (rt_out_finish(&t.out) != 0 && status == RTCTL_EXIT_OK)
            status = RTCTL_EXIT_RUNTIME;
        return status;
    }
    if (url_opt != NULL || headers.n > 0 || cacert != NULL || insecure ||
        !reconnect || max_retries != 0 || timeout_ms != 0 ||
        stall_ms != unset_stall) {
        rt_opts_error(&tail_help, "--url, --header, --cacert, --insecure, "
                                  "--no-reconnect, --max-retries, "
                                  "--timeout and --stall-timeout apply "
                                  "to a network TARGET, not to '-' or "
                                  "--file");
        goto usage;
    }

    if (file != NULL) {
        name = file;
        fd = open(file, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            rt_errf(&t.out, "cannot open '%s': %s", file, strerror(errno));
            rt_strlist_free(&t.events);
            rt_strlist_free(&headers);
            return RTCTL_EXIT_RUNTIME;
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
        rt_errf(&t.out, "%s", rt_strerror(rc));
        status = rtctl_exit_from_err(rc);
        goto done;
    }

    for (;;) {
        got = read(fd, buf, sizeof(buf));
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            rt_errf(&t.out, "cannot read %s: %s", name, strerror(errno));
            status = RTCTL_EXIT_RUNTIME;
            break;
        }
        if (got == 0) {
            if (t.count != 0 && t.printed < t.count) {
                rt_errf(&t.out, "%s ended after %llu of %llu events", name,
                        (unsigned long long)t.printed,
                        (unsigned long long)t.count);
                status = RTCTL_EXIT_RUNTIME;
            }
            break;
        }
        rc = rt_sse_parser_feed(p, buf, (size_t)got);
        if (rc == RT_ECANCELED)
            break; /* --count reached, or stdout failed */
        if (rc == RT_ETOOBIG) {
            rt_errf(&t.out,
                    "%s: a line near byte %llu is longer than --max-line "
                    "(%llu bytes)",
                    name, (unsigned long long)offset,
                    (unsigned long long)max_line);
            status = RTCTL_EXIT_PROTOCOL;
            break;
        }
        if (rc != 0) {
            rt_errf(&t.out, "%s", rt_strerror(rc));
            status = rtctl_exit_from_err(rc);
            break;
        }
        offset += (uint64_t)got;
    }

done:
    if (fd != STDIN_FILENO)
        close(fd);
    rt_sse_parser_free(p);
    rt_strlist_free(&t.events);
    rt_strlist_free(&headers);
    if (rt_out_finish(&t.out) != 0 && status == RTCTL_EXIT_OK)
        status = RTCTL_EXIT_RUNTIME;
    return status;

usage:
    rt_strlist_free(&t.events);
    rt_strlist_free(&headers);
    return RTCTL_EXIT_USAGE;
}
