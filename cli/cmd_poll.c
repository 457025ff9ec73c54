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
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "exit.h"
#include "opts.h"
#include "output.h"
#include "rt/error.h"
#include "rt/poll_client.h"
#include "rt/url.h"
#include "session.h"

static const char *const poll_usage[] = {
    "rtctl poll [options] TARGET",
    NULL,
};

static const struct cli_cmd_help poll_help = {
    "poll",
    poll_usage,
    "Follow a room by long polling (GET /poll/ROOM?since=N&epoch=E) and "
    "print each message once, in seq order. TARGET is a room ('general'), "
    "a path ('poll/general') or a URL, relative to --url. Polls resume "
    "where the last answer ended, across drops and server restarts, until "
    "--count messages, --timeout or Ctrl-C.",
};

struct poll {
    struct cli_session s; /* s.goal is --count, s.done the printed */
    rt_poll_client *client;
};

static void on_message(rt_poll_client *c, uint64_t seq, const char *json,
                       size_t len, void *ud)
{
    struct poll *p = ud;

    if (p->s.status >= 0)
        return;
    if (cli_out_msg(&p->s.out, seq, json, len) != 0) {
        cli_session_output_failed(&p->s); /* cli_out_finish() says why */
        rt_poll_client_close(c);
        return;
    }
    /* Each message now, to a terminal or a pipe alike (as tail does). */
    cli_out_flush(&p->s.out);
    p->s.done++;
    if (p->s.goal != 0 && p->s.done >= p->s.goal) {
        cli_session_outcome(&p->s, RTCTL_EXIT_OK);
        rt_poll_client_close(c);
    }
}

static void on_resumed(rt_poll_client *c, int recovered, void *ud)
{
    struct poll *p = ud;

    (void)c;
    if (recovered)
        return;
    if (p->s.out.json)
        fprintf(stderr, "{\"event\":\"resumed\",\"recovered\":false}\n");
    cli_warnf(&p->s.out, "resumed with recovered:false: the server no longer "
                         "held every message since the last poll");
}

static void on_state(rt_poll_client *c, rt_conn_state st, uint64_t delay,
                     int err, const char *detail, void *ud)
{
    struct poll *p = ud;

    if (st == RT_CONN_CONNECTING)
        cli_infof(&p->s.out, "polling %s", rt_poll_client_url(c));
    else if (st == RT_CONN_OPEN)
        cli_infof(&p->s.out, "the server answered");
    cli_session_state_url(&p->s, (int)st, delay, rt_poll_client_attempt(c),
                          err, detail, rt_poll_client_url(c));
}

static void on_closed(rt_poll_client *c, void *ud)
{
    struct poll *p = ud;

    (void)c;
    p->client = NULL;
    cli_session_closed(&p->s);
}

static void stop(void *ud)
{
    struct poll *p = ud;

    rt_poll_client_close(p->client);
}

static int follow(struct poll *p, const char *target,
                  const rt_poll_client_opts *po)
{
    rt_poll_client_opts co = *po;
    rt_poll_client_cbs cbs = {on_message, on_state, on_resumed, on_closed};
    int rc;

    if ((rc = cli_session_url(&p->s, target, RT_URL_KIND_POLL)) != 0 ||
        (rc = cli_session_open(&p->s)) != 0)
        return rc;
    cli_session_conn_opts(&p->s, &co.conn);
    rc = rt_poll_client_new(&p->client, p->s.loop, p->s.url, &co, &cbs, p);
    if (rc != 0)
        return cli_session_fail(&p->s, rc);
    rc = rt_poll_client_start(p->client);
    if (rc != 0) {
        cli_session_fail(&p->s, rc);
        rt_poll_client_close(p->client);
    }
    return cli_session_run(&p->s, stop, p);
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
    struct poll p;
    rt_poll_client_opts co;
    const char *since = NULL, *epoch = NULL;
    uint64_t wait_ms = 25000;
    int n, status;
    struct cli_opt opts[] = {
        OPT_GROUP("Position"),
        OPT_DURATION(0, "wait", &wait_ms,
                     "how long the server holds each poll open when it "
                     "has nothing new (default 25s; at most 60s)"),
        OPT_STR(0, "since", &since, "N",
                "start after seq N (0: the whole history the server "
                "holds); default: only messages published from now on"),
        OPT_STR(0, "epoch", &epoch, "EPOCH",
                "the room epoch --since belongs to; a different one "
                "means the server restarted (recovered:false)"),
        OPT_UINT('n', "count", &p.s.goal, "N", "exit after N messages"),
        CLI_CONN_OPTS(&p.s.o),
        OPT_END(),
    };

    memset(&p, 0, sizeof(p));
    cli_session_init(&p.s, &poll_help, "poll", "polling again", "messages", 1);
    rt_poll_client_opts_init(&co);
    if ((n = cli_session_parse(&p.s, opts, argc, argv, &status)) < 0)
        goto end;
    status = RTCTL_EXIT_USAGE;
    if (n != 1) {
        cli_opts_error(&poll_help, n == 0 ? "nothing to poll: give a TARGET "
                                            "(a room, a path or a URL)"
                                          : "too many arguments");
        goto end;
    }
    if (wait_ms > 60000 || wait_ms % 1000 != 0) {
        cli_opts_error(&poll_help,
                       "--wait: whole seconds from 0s to 60s, not %llu ms",
                       (unsigned long long)wait_ms);
        goto end;
    }
    if (since != NULL && parse_seq(since, &co.since) != 0) {
        cli_opts_error(&poll_help,
                       "--since: '%s' is not a seq (a whole "
                       "number)",
                       since);
        goto end;
    }
    if (epoch != NULL && !epoch_ok(epoch)) {
        cli_opts_error(&poll_help,
                       "--epoch: '%s' is not 1 to 32 letters "
                       "and digits",
                       epoch);
        goto end;
    }
    if (epoch != NULL && since == NULL) {
        cli_opts_error(&poll_help, "--epoch needs --since");
        goto end;
    }
    co.has_since = since != NULL;
    co.epoch = epoch;
    co.poll_timeout_s = (uint32_t)(wait_ms / 1000);
    status = follow(&p, argv[1], &co);
end:
    return cli_session_end(&p.s, status);
}
