/*
 * cmd_poll.c: `rtctl poll`, follow a room by long polling.
 *
 * TARGET is a room, a path or a URL, resolved against --url as a poll
 * endpoint and followed with rt_poll_client: each message printed once and
 * in seq order, polls resumed with since and epoch, failures retried with
 * backoff, until --count messages, --timeout, Ctrl-C or a final answer.
 *
 * Streams: messages go to stdout (with --json the message objects as JSON
 * Lines, nothing else); connection state goes to stderr (a notice per
 * retry and per recovered:false, and with --json one {"event":"state",...}
 * object per state change as well).
 */
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
#include "rt/poll_client.h"
#include "rt/url.h"

static const char *const poll_usage[] = {
    "rtctl poll [options] TARGET",
    NULL,
};

static const struct rt_cmd_help poll_help = {
    "poll", poll_usage,
    "Follow a room by long polling (GET /poll/ROOM?since=N&epoch=E) and "
    "print each message once, in seq order. TARGET is a room ('general'), "
    "a path ('poll/general') or a URL, relative to --url. Polls resume "
    "where the last answer ended, across drops and server restarts, until "
    "--count messages, --timeout or Ctrl-C.",
};

#define DEFAULT_URL "http://127.0.0.1:8080"

struct poll {
    struct rt_out out;
    uint64_t count; /* --count; 0: no limit */
    uint64_t printed;
    rt_poll_client *client;
    const char *url;
    uv_signal_t sigint, sigterm;
    uv_timer_t timeout;
    uint64_t timeout_ms;
    int status; /* -1 until the outcome is known */
    int interrupted;
};

static void set_status(struct poll *p, int status)
{
    if (p->status < 0)
        p->status = status;
}

static const char *state_name(rt_poll_state st)
{
    switch (st) {
    case RT_POLL_CONNECTING:
        return "connecting";
    case RT_POLL_OPEN:
        return "open";
    case RT_POLL_BACKOFF:
        return "backoff";
    default:
        return "closed";
    }
}

/* With --json, one state object on stderr. */
static void json_state(struct poll *p, rt_poll_state st, uint64_t delay,
                       int err, const char *detail)
{
    rt_buf b;
    int rc = 0;

    rt__buf_init(&b);
    rc |= rt__buf_printf(&b, "{\"event\":\"state\",\"state\":\"%s\"",
                         state_name(st));
    if (st == RT_POLL_BACKOFF)
        rc |= rt__buf_printf(&b, ",\"delay_ms\":%llu,\"attempt\":%u",
                             (unsigned long long)delay,
                             rt_poll_client_attempt(p->client));
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

static void on_message(rt_poll_client *c, uint64_t seq, const char *json,
                       size_t len, void *ud)
{
    struct poll *p = ud;

    if (p->status >= 0)
        return;
    if (rt_out_msg(&p->out, seq, json, len) != 0) {
        set_status(p, RTCTL_EXIT_RUNTIME); /* rt_out_finish() says why */
        rt_poll_client_close(c);
        return;
    }
    if (p->out.tty)
        fflush(stdout);
    p->printed++;
    if (p->count != 0 && p->printed >= p->count) {
        set_status(p, RTCTL_EXIT_OK);
        rt_poll_client_close(c);
    }
}

static void on_resumed(rt_poll_client *c, int recovered, void *ud)
{
    struct poll *p = ud;

    (void)c;
    if (recovered)
        return;
    if (p->out.json)
        fprintf(stderr, "{\"event\":\"resumed\",\"recovered\":false}\n");
    rt_warnf(&p->out, "resumed with recovered:false: the server no longer "
                      "held every message since the last poll");
}

static void on_state(rt_poll_client *c, rt_poll_state st, uint64_t delay,
                     int err, const char *detail, void *ud)
{
    struct poll *p = ud;

    if (p->out.json)
        json_state(p, st, delay, err, detail);
    switch (st) {
    case RT_POLL_CONNECTING:
        rt_infof(&p->out, "polling %s", p->url);
        break;
    case RT_POLL_OPEN:
        rt_infof(&p->out, "the server answered");
        break;
    case RT_POLL_BACKOFF:
        if (!p->out.quiet)
            fprintf(stderr,
                    "rtctl poll: %s; polling again in %llu ms (attempt %u)\n",
                    detail, (unsigned long long)delay,
                    rt_poll_client_attempt(c));
        break;
    case RT_POLL_CLOSED:
        if (err == 0) {
            set_status(p, RTCTL_EXIT_OK);
        } else if (p->status < 0) {
            rt_errf(&p->out, "cannot poll '%s': %s", p->url, detail);
            set_status(p, rtctl_exit_from_err(err));
        }
        break;
    }
}

static void close_handles(struct poll *p)
{
    if (!uv_is_closing((uv_handle_t *)&p->sigint))
        uv_close((uv_handle_t *)&p->sigint, NULL);
    if (!uv_is_closing((uv_handle_t *)&p->sigterm))
        uv_close((uv_handle_t *)&p->sigterm, NULL);
    if (!uv_is_closing((uv_handle_t *)&p->timeout))
        uv_close((uv_handle_t *)&p->timeout, NULL);
}

static void on_closed(rt_poll_client *c, void *ud)
{
    struct poll *p = ud;

    (void)c;
    p->client = NULL;
    close_handles(p);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct poll *p = h->data;

    (void)signum;
    if (p->interrupted) {
        fflush(stdout);
        _exit(RTCTL_EXIT_INTERRUPTED);
    }
    p->interrupted = 1;
    set_status(p, RTCTL_EXIT_INTERRUPTED);
    rt_poll_client_close(p->client);
}

static void on_timeout(uv_timer_t *h)
{
    struct poll *p = h->data;

    if (p->status < 0) {
        if (p->count != 0)
            rt_errf(&p->out,
                    "--timeout: %llu of %llu messages after %llu ms",
                    (unsigned long long)p->printed,
                    (unsigned long long)p->count,
                    (unsigned long long)p->timeout_ms);
        else
            rt_errf(&p->out, "--timeout: %llu ms passed (%llu messages)",
                    (unsigned long long)p->timeout_ms,
                    (unsigned long long)p->printed);
        set_status(p, RTCTL_EXIT_TIMEOUT);
    }
    rt_poll_client_close(p->client);
}

struct net_opts {
    const char *base;
    const char *target;
    struct rt_strlist *headers;
    const char *cacert;
    int insecure;
    int reconnect;
    uint64_t max_retries;
    int has_since;
    uint64_t since;
    const char *epoch;
    uint32_t poll_timeout_s;
};

static int follow(struct poll *p, const struct net_opts *no)
{
    rt_poll_client_opts co;
    rt_poll_client_cbs cbs = {on_message, on_state, on_resumed, on_closed};
    rt_loop *loop = NULL;
    rt_url *u = NULL;
    char *url = NULL, err[256] = "";
    const char **hv = NULL;
    size_t i;
    int rc;

    rc = rt_url_resolve(&u, no->base, no->target, RT_URL_KIND_POLL, err,
                        sizeof(err));
    if (rc == 0)
        rc = rt_url_format(u, &url);
    rt_url_free(u);
    if (rc != 0) {
        if (rc == RT_EURL || rc == RT_ETOOBIG) {
            rt_opts_error(&poll_help, "'%s': %s", no->target,
                          err[0] ? err : rt_strerror(rc));
            return RTCTL_EXIT_USAGE;
        }
        rt_errf(&p->out, "%s", rt_strerror(rc));
        return rtctl_exit_from_err(rc);
    }
    p->url = url;
    hv = rt__calloc(no->headers->n + 1, sizeof(*hv));
    if (hv == NULL) {
        rt_free(url);
        rt_errf(&p->out, "out of memory");
        return RTCTL_EXIT_RUNTIME;
    }
    for (i = 0; i < no->headers->n; i++)
        hv[i] = no->headers->v[i];

    rt_poll_client_opts_init(&co);
    co.headers = hv;
    co.cacert = no->cacert;
    co.insecure = no->insecure;
    co.has_since = no->has_since;
    co.since = no->since;
    co.epoch = no->epoch;
    co.poll_timeout_s = no->poll_timeout_s;
    co.max_retries = (uint32_t)no->max_retries;
    co.no_reconnect = !no->reconnect;

    rc = rt_loop_new(&loop, NULL);
    if (rc != 0) {
        rt_errf(&p->out, "cannot set up the event loop: %s",
                rt_strerror(rc));
        rt__free(hv);
        rt_free(url);
        return RTCTL_EXIT_RUNTIME;
    }
    p->status = -1;
    rc = rt_poll_client_new(&p->client, loop, url, &co, &cbs, p);
    rt__free(hv);
    if (rc != 0) {
        rt_errf(&p->out, "cannot poll '%s': %s", url, rt_strerror(rc));
        rt_loop_free(loop);
        rt_free(url);
        return rtctl_exit_from_err(rc);
    }
    uv_signal_init(rt_loop_uv(loop), &p->sigint);
    uv_signal_init(rt_loop_uv(loop), &p->sigterm);
    uv_timer_init(rt_loop_uv(loop), &p->timeout);
    p->sigint.data = p->sigterm.data = p->timeout.data = p;
    uv_signal_start(&p->sigint, on_signal, SIGINT);
    uv_signal_start(&p->sigterm, on_signal, SIGTERM);
    if (p->timeout_ms > 0)
        uv_timer_start(&p->timeout, on_timeout, p->timeout_ms, 0);
    rc = rt_poll_client_start(p->client);
    if (rc != 0) {
        rt_errf(&p->out, "cannot poll '%s': %s", url, rt_strerror(rc));
        set_status(p, rtctl_exit_from_err(rc));
        rt_poll_client_close(p->client);
    }
    rt_loop_run(loop);
    rt_loop_free(loop);
    rt_free(url);
    p->url = NULL;
    return p->status < 0 ? RTCTL_EXIT_RUNTIME : p->status;
}

/* Parse a whole decimal number below UINT64_MAX. */
static int parse_seq(const char *s, uint64_t *out)
{
    uint64_t v = 0;

    if (*s == '\0')
        return -1;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - 1 - 9) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return 0;
}

static int epoch_ok(const char *s)
{
    size_t n = strlen(s);

    return n >= 1 && n <= 32 &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                     "0123456789") == n;
}

int cmd_poll(int argc, char **argv)
{
    struct rt_global_opts g = {0, 0, NULL};
    struct poll p;
    struct net_opts no;
    struct rt_strlist headers = {NULL, 0};
    const char *url_opt = NULL, *env, *since = NULL, *epoch = NULL;
    const char *cacert = NULL;
    uint64_t timeout_ms = 0, max_retries = 0, wait_ms = 25000;
    int json = 0, n, reconnect = 1, insecure = 0, status;
    size_t i;
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
                 "poll again after a failure (default; --no-reconnect "
                 "exits instead)"),
        OPT_UINT(0, "max-retries", &max_retries, "N",
                 "give up (exit 3) after N failed polls in a row "
                 "(default 0: never)"),
        OPT_DURATION(0, "timeout", &timeout_ms,
                     "stop after DURATION, exit 5 (before --count messages "
                     "arrived, or with no --count)"),
        OPT_DURATION(0, "wait", &wait_ms,
                     "how long the server holds each poll open when it "
                     "has nothing new (default 25s; at most 60s)"),
        OPT_GROUP("Position"),
        OPT_STR(0, "since", &since, "N",
                "start after seq N (0: the whole history the server "
                "holds); default: only messages published from now on"),
        OPT_STR(0, "epoch", &epoch, "EPOCH",
                "the room epoch --since belongs to; a different one "
                "means the server restarted (recovered:false)"),
        OPT_GROUP("Output"),
        OPT_BOOL(0, "json", &json,
                 "print each message as the JSON object the server sent, "
                 "one per line"),
        OPT_UINT('n', "count", &p.count, "N", "exit after N messages"),
        RT_GLOBAL_OPTS(&g),
        OPT_END(),
    };

    memset(&p, 0, sizeof(p));
    memset(&no, 0, sizeof(no));
    n = rt_opts_parse(&poll_help, opts, argc, argv);
    if (n < 0) {
        rt_strlist_free(&headers);
        return n == RT_OPTS_EXIT_OK ? RTCTL_EXIT_OK : RTCTL_EXIT_USAGE;
    }
    if (rt_out_init(&p.out, &poll_help, &g, json) != 0)
        goto usage;
    if (n != 1) {
        rt_opts_error(&poll_help, n == 0 ? "nothing to poll: give a TARGET "
                                           "(a room, a path or a URL)"
                                         : "too many arguments");
        goto usage;
    }
    if (max_retries > UINT32_MAX) {
        rt_opts_error(&poll_help, "--max-retries: at most %u",
                      (unsigned)UINT32_MAX);
        goto usage;
    }
    if (wait_ms > 60000 || wait_ms % 1000 != 0) {
        rt_opts_error(&poll_help,
                      "--wait: whole seconds from 0s to 60s, not %llu ms",
                      (unsigned long long)wait_ms);
        goto usage;
    }
    if (since != NULL && parse_seq(since, &no.since) != 0) {
        rt_opts_error(&poll_help, "--since: '%s' is not a seq (a whole "
                                  "number)", since);
        goto usage;
    }
    if (epoch != NULL && !epoch_ok(epoch)) {
        rt_opts_error(&poll_help, "--epoch: '%s' is not 1 to 32 letters "
                                  "and digits", epoch);
        goto usage;
    }
    if (epoch != NULL && since == NULL) {
        rt_opts_error(&poll_help, "--epoch needs --since");
        goto usage;
    }
    for (i = 0; i < headers.n; i++) {
        const char *colon = strchr(headers.v[i], ':');

        if (colon == NULL || colon == headers.v[i] ||
            strpbrk(headers.v[i], "\r\n") != NULL) {
            rt_opts_error(&poll_help, "--header: '%s' is not 'Name: value'",
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
    no.has_since = since != NULL;
    no.epoch = epoch;
    no.poll_timeout_s = (uint32_t)(wait_ms / 1000);
    p.timeout_ms = timeout_ms;
    status = follow(&p, &no);
    rt_strlist_free(&headers);
    if (rt_out_finish(&p.out) != 0 && status == RTCTL_EXIT_OK)
        status = RTCTL_EXIT_RUNTIME;
    return status;

usage:
    rt_strlist_free(&headers);
    return RTCTL_EXIT_USAGE;
}
