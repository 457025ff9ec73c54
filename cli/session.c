/*
 * session.c: the connection options, target resolution and run loop that
 * every network client command shares (see session.h).
 *
 * Invariants: s->status is set once (the first outcome wins: a --count
 * reached just before Ctrl-C is still a success); the signal and timer
 * handles are closed exactly once, after the command's clients closed, so
 * that the loop runs out of handles and cli_session_run() returns.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core_int.h"
#include "exit.h"
#include "failover.h"
#include "rt/error.h"
#include "session.h"

void cli_session_init(struct cli_session *s, const struct cli_cmd_help *help,
                      const char *verb, const char *retry, const char *unit,
                      int reconnect)
{
    memset(s, 0, sizeof(*s));
    s->help = help;
    s->verb = verb;
    s->retry = retry;
    s->unit = unit;
    s->o.reconnect = reconnect;
    s->status = -1;
}

static int header_ok(const char *h)
{
    const char *colon = strchr(h, ':');

    return colon != NULL && colon != h && strpbrk(h, "\r\n") == NULL;
}

static int is_authorization(const char *h)
{
    return strncasecmp(h, "Authorization:", 14) == 0;
}

/*
 * s.bases from the --url given (each a comma list), else $RTCTL_URL (one
 * too), else the default.
 */
static int bases(struct cli_session *s)
{
    const char *env = getenv("RTCTL_URL"), *one[1];
    const char *const *given = s->o.urls.v;
    size_t n = s->o.urls.n;
    char err[300] = "";
    int rc;

    s->bases_given = n > 0;
    if (n == 0) {
        one[0] = env != NULL && *env != '\0' ? env : CLI_DEFAULT_URL;
        given = one;
        n = 1;
    }
    rc = rt__url_list_split(given, n, &s->bases, &s->nbases, err, sizeof(err));
    if (rc == RT_EURL) {
        cli_opts_error(s->help, "%s: %s",
                       s->bases_given ? "--url" : "$RTCTL_URL", err);
        return RTCTL_EXIT_USAGE;
    }
    if (rc != 0) {
        cli_errf(&s->out, "out of memory");
        return RTCTL_EXIT_RUNTIME;
    }
    s->base = s->bases[0];
    return 0;
}

/* After parsing: see cli_session_parse(). */
static int setup(struct cli_session *s)
{
    const char *env;
    size_t i, n, len;
    int rc, has_auth = 0;

    if (s->o.no_color)
        s->o.g.color = "never";
    if (cli_out_init(&s->out, s->help, &s->o.g, s->o.json) != 0)
        return RTCTL_EXIT_USAGE;
    if (s->o.max_retries > UINT32_MAX) {
        cli_opts_error(s->help, "--max-retries: at most %u",
                       (unsigned)UINT32_MAX);
        return RTCTL_EXIT_USAGE;
    }
    for (i = 0; i < s->o.headers.n; i++) {
        if (!header_ok(s->o.headers.v[i])) {
            cli_opts_error(s->help, "--header: '%s' is not 'Name: value'",
                           s->o.headers.v[i]);
            return RTCTL_EXIT_USAGE;
        }
        has_auth |= is_authorization(s->o.headers.v[i]);
    }
    if (s->o.user != NULL && !rt_room_valid(s->o.user, strlen(s->o.user))) {
        cli_opts_error(s->help,
                       "--user: '%s' is not a user name "
                       "([A-Za-z0-9._-], 1 to 64)",
                       s->o.user);
        return RTCTL_EXIT_USAGE;
    }
    if (s->o.token != NULL && has_auth) {
        cli_opts_error(s->help, "give --token or an Authorization header, "
                                "not both");
        return RTCTL_EXIT_USAGE;
    }
    if ((rc = bases(s)) != 0)
        return rc;
    /* An explicit Authorization header beats $RTCTL_TOKEN. */
    env = getenv("RTCTL_TOKEN");
    s->token = s->o.token != NULL                         ? s->o.token
               : !has_auth && env != NULL && *env != '\0' ? env
                                                          : NULL;
    if (s->token != NULL &&
        (*s->token == '\0' || strpbrk(s->token, "\r\n \t") != NULL)) {
        cli_opts_error(s->help, "--token: empty, or holds white space");
        return RTCTL_EXIT_USAGE;
    }

    n = s->o.headers.n;
    s->hv = rt__calloc(n + 2, sizeof(*s->hv));
    if (s->hv == NULL)
        goto nomem;
    for (i = 0; i < n; i++)
        s->hv[i] = s->o.headers.v[i];
    if (s->token != NULL) {
        len = strlen(s->token) + sizeof("Authorization: Bearer ");
        s->auth = rt__malloc(len);
        if (s->auth == NULL)
            goto nomem;
        snprintf(s->auth, len, "Authorization: Bearer %s", s->token);
        s->hv[n] = s->auth;
    }
    s->headers = s->hv;
    return 0;

nomem:
    cli_errf(&s->out, "out of memory");
    return RTCTL_EXIT_RUNTIME;
}

int cli_session_parse(struct cli_session *s, const struct cli_opt *opts,
                      int argc, char **argv, int *status)
{
    int n = cli_opts_parse(s->help, opts, argc, argv);

    if (n < 0) {
        *status = n == CLI_OPTS_EXIT_OK ? RTCTL_EXIT_OK : RTCTL_EXIT_USAGE;
        return -1;
    }
    if ((*status = setup(s)) != 0)
        return -1;
    return n;
}

int cli_session_basic_auth(struct cli_session *s, const char *userpass)
{
    static const char b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = (const unsigned char *)userpass;
    size_t len = strlen(userpass), i, n = 0, o;
    const char **hv;
    uint32_t v;

    if (strchr(userpass, ':') == NULL || strpbrk(userpass, "\r\n")) {
        cli_opts_error(s->help, "--auth: give USER:PASSWORD");
        return RTCTL_EXIT_USAGE;
    }
    while (s->headers != NULL && s->headers[n] != NULL)
        if (is_authorization(s->headers[n++])) {
            cli_opts_error(s->help, "--auth: not with --token, $RTCTL_TOKEN "
                                    "or an Authorization header");
            return RTCTL_EXIT_USAGE;
        }
    s->basic = rt__malloc(sizeof("Authorization: Basic ") + 4 * (len / 3 + 1));
    hv = rt__calloc(n + 2, sizeof(*hv));
    if (s->basic == NULL || hv == NULL) {
        rt__free(hv);
        cli_errf(&s->out, "out of memory");
        return RTCTL_EXIT_RUNTIME;
    }
    o = (size_t)sprintf(s->basic, "Authorization: Basic ");
    for (i = 0; i < len; i += 3) {
        v = (uint32_t)p[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < len)
            v |= p[i + 2];
        s->basic[o++] = b64[v >> 18];
        s->basic[o++] = b64[(v >> 12) & 63];
        s->basic[o++] = i + 1 < len ? b64[(v >> 6) & 63] : '=';
        s->basic[o++] = i + 2 < len ? b64[v & 63] : '=';
    }
    s->basic[o] = '\0';
    memcpy(hv, s->headers, n * sizeof(*hv));
    hv[n] = s->basic;
    rt__free(s->hv);
    s->hv = hv;
    s->headers = hv;
    return 0;
}

int cli_session_net_opts_given(const struct cli_session *s)
{
    const struct cli_conn_opts *o = &s->o;

    return o->urls.n > 0 || o->token != NULL || o->user != NULL ||
           o->headers.n > 0 || o->cacert != NULL || o->insecure ||
           !o->reconnect || o->max_retries != 0 || o->timeout_ms != 0;
}

/* "1st", "2nd", "3rd", "4th"...: which item of a list. */
static const char *ordinal(size_t i, char *buf, size_t size)
{
    static const char *const sfx[] = {"th", "st", "nd", "rd"};
    size_t k = i % 10;

    snprintf(buf, size, "%zu%s", i,
             (i % 100 >= 11 && i % 100 <= 13) || k > 3 ? "th" : sfx[k]);
    return buf;
}

/* 1 when |t| starts with a scheme and "://" (rt_url_resolve()'s rule). */
static int full_url(const char *t)
{
    size_t n = 0;

    if (!((t[0] >= 'a' && t[0] <= 'z') || (t[0] >= 'A' && t[0] <= 'Z')))
        return 0;
    while (t[n] != '\0' && strchr("abcdefghijklmnopqrstuvwxyz"
                                  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.",
                                  t[n]) != NULL)
        n++;
    return strncmp(t + n, "://", 3) == 0;
}

/* One URL of the list: |base| and |target| as cli_session_url() says. */
static int one_url(struct cli_session *s, const char *base, const char *target,
                   rt_url_kind kind, char **out, char *err, size_t errlen)
{
    rt_url *u = NULL;
    char *given = NULL;
    int rc;

    *out = NULL;
    rc = rt_url_resolve(&u, base, target, kind, err, errlen);
    if (rc == 0 && s->o.user != NULL)
        rc = rt_url_query_set(u, "user", s->o.user);
    /*
     * A connection that only sends stays out of the room's presence
     * (rtctl-protocol(7)): no join, no leave, never listed.  A presence
     * the TARGET asks for itself wins.
     */
    if (rc == 0 && s->no_presence && kind == RT_URL_KIND_WS &&
        (rc = rt_url_query_get(u, "presence", &given, NULL)) == 0 &&
        given == NULL)
        rc = rt_url_query_set(u, "presence", "0");
    rt_free(given);
    if (rc == 0)
        rc = rt_url_format(u, out);
    rt_url_free(u);
    return rc;
}

int cli_session_url(struct cli_session *s, const char *target,
                    rt_url_kind kind)
{
    char err[256] = "", nth[24], **v;
    const char *what = target;
    size_t i, n, k = 0;
    int rc = 0, full = full_url(target);

    /* A full TARGET first, then each --url as a full URL of its own. */
    n = full ? 1 + (s->bases_given ? s->nbases : 0) : s->nbases;
    v = rt__calloc(n + 1, sizeof(*v));
    if (v == NULL)
        rc = RT_ENOMEM;
    for (i = 0; rc == 0 && i < n; i++) {
        if (full && i == 0)
            rc = one_url(s, target, target, kind, &v[k], err, sizeof(err));
        else if (full)
            rc = one_url(s, s->bases[i - 1], s->bases[i - 1], kind, &v[k], err,
                         sizeof(err));
        else
            rc =
                one_url(s, s->bases[i], target, kind, &v[k], err, sizeof(err));
        if (rc == 0) {
            k++;
            continue;
        }
        /* Name the item of the list that is wrong. */
        if (full && i > 0)
            what = s->bases[i - 1];
        else if (!full && (rc == RT_EURL || rc == RT_ETOOBIG) &&
                 strncmp(err, "base URL: ", 10) == 0)
            what = s->bases[i];
        if (what != target && s->nbases > 1) {
            cli_opts_error(s->help, "%s: '%s' (the %s of %zu URLs): %s",
                           s->bases_given ? "--url" : "$RTCTL_URL", what,
                           ordinal(full ? i : i + 1, nth, sizeof(nth)),
                           s->nbases, err[0] ? err : rt_strerror(rc));
            rt__url_list_free(v);
            return RTCTL_EXIT_USAGE;
        }
        if (what != target) {
            cli_opts_error(s->help, "%s: '%s': %s",
                           s->bases_given ? "--url" : "$RTCTL_URL", what,
                           err[0] ? err : rt_strerror(rc));
            rt__url_list_free(v);
            return RTCTL_EXIT_USAGE;
        }
    }
    if (rc == 0) {
        rt__url_list_dedupe(v, &k);
        cli_session_set_urls(s, v, k);
        return 0;
    }
    rt__url_list_free(v);
    if (rc == RT_EURL || rc == RT_ETOOBIG) {
        cli_opts_error(s->help, "'%s': %s", what,
                       err[0] ? err : rt_strerror(rc));
        return RTCTL_EXIT_USAGE;
    }
    cli_errf(&s->out, "%s", rt_strerror(rc));
    return rtctl_exit_from_err(rc);
}

void cli_session_set_urls(struct cli_session *s, char **urls, size_t n)
{
    rt__url_list_free(s->urls);
    s->urls = urls;
    s->nurls = n;
    s->url = urls[0];
}

void cli_session_conn_opts(const struct cli_session *s, rt_conn_opts *co)
{
    co->headers = s->headers;
    co->failover_urls = cli_session_more_urls(s);
    co->cacert = s->o.cacert;
    co->insecure = s->o.insecure;
    co->backoff.max_attempts = (uint32_t)s->o.max_retries;
    co->no_reconnect = !s->o.reconnect;
}

const char *const *cli_session_more_urls(const struct cli_session *s)
{
    return s->urls != NULL ? (const char *const *)s->urls + 1 : NULL;
}

const char *cli_session_url_names(const struct cli_session *s, char *buf,
                                  size_t size)
{
    size_t i, len = 0;

    buf[0] = '\0';
    if (s->urls == NULL) {
        snprintf(buf, size, "'%s'", s->base);
        return buf;
    }
    for (i = 0; i < s->nurls && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s'%s'",
                                i > 0 ? ", " : "", s->urls[i]);
    return buf;
}

int cli_session_open(struct cli_session *s)
{
    int rc = rt_loop_new(&s->loop, NULL);

    if (rc != 0) {
        cli_errf(&s->out, "cannot set up the event loop: %s", rt_strerror(rc));
        return RTCTL_EXIT_RUNTIME;
    }
    return 0;
}

void cli_session_outcome(struct cli_session *s, int status)
{
    if (s->status < 0)
        s->status = status;
}

void cli_session_output_failed(struct cli_session *s)
{
    cli_session_outcome(s, s->out.write_error == EPIPE ? RTCTL_EXIT_OK
                                                       : RTCTL_EXIT_RUNTIME);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct cli_session *s = h->data;

    (void)signum;
    if (s->interrupted) {
        fflush(stdout);
        _exit(RTCTL_EXIT_INTERRUPTED);
    }
    s->interrupted = 1;
    cli_session_outcome(s, RTCTL_EXIT_INTERRUPTED);
    s->stop(s->stop_ud);
}

static void on_timeout(uv_timer_t *h)
{
    struct cli_session *s = h->data;

    if (s->status < 0) {
        if (s->goal != 0)
            cli_errf(&s->out, "--timeout: %llu of %llu %s after %llu ms",
                     (unsigned long long)s->done, (unsigned long long)s->goal,
                     s->unit, (unsigned long long)s->o.timeout_ms);
        else
            cli_errf(&s->out, "--timeout: %llu ms passed (%llu %s)",
                     (unsigned long long)s->o.timeout_ms,
                     (unsigned long long)s->done, s->unit);
        cli_session_outcome(s, RTCTL_EXIT_TIMEOUT);
    }
    s->stop(s->stop_ud);
}

/*
 * After each loop turn: flush what the turn printed, and stop once stdout
 * is gone.  A reader that closed the pipe (`rtctl tail room | head -1`)
 * got what it wanted: that is exit 0; any other write error is 1.
 */
static void on_check(uv_check_t *h)
{
    struct cli_session *s = h->data;

    cli_out_flush(&s->out);
    if (s->out.write_error == 0 || s->out_stopped)
        return;
    s->out_stopped = 1;
    cli_session_output_failed(s); /* cli_out_finish() says why */
    s->stop(s->stop_ud);
}

int cli_session_run(struct cli_session *s, void (*stop)(void *ud), void *ud)
{
    uv_loop_t *uv = rt_loop_uv(s->loop);

    s->stop = stop;
    s->stop_ud = ud;
    if (s->finished)
        goto run; /* the command gave up before the loop ran */
    uv_signal_init(uv, &s->sigint);
    uv_signal_init(uv, &s->sigterm);
    uv_timer_init(uv, &s->timer);
    uv_check_init(uv, &s->check);
    s->sigint.data = s->sigterm.data = s->timer.data = s->check.data = s;
    s->armed = 1;
    uv_signal_start(&s->sigint, on_signal, SIGINT);
    uv_signal_start(&s->sigterm, on_signal, SIGTERM);
    uv_check_start(&s->check, on_check);
    if (s->o.timeout_ms > 0)
        uv_timer_start(&s->timer, on_timeout, s->o.timeout_ms, 0);
run:
    rt_loop_run(s->loop);
    rt_loop_free(s->loop);
    s->loop = NULL;
    return s->status < 0 ? RTCTL_EXIT_RUNTIME : s->status;
}

int cli_session_fail(struct cli_session *s, int err)
{
    char names[1024];

    cli_errf(&s->out, "cannot %s %s: %s", s->verb,
             cli_session_url_names(s, names, sizeof(names)), rt_strerror(err));
    cli_session_outcome(s, rtctl_exit_from_err(err));
    return rtctl_exit_from_err(err);
}

void cli_session_input_failed(struct cli_session *s, int err, size_t max_line)
{
    if (err == RT_ETOOBIG)
        cli_errf(&s->out,
                 "cannot read standard input: a line is longer than "
                 "%zu MiB",
                 max_line >> 20);
    else
        cli_errf(&s->out, "cannot read standard input: %s", strerror(err));
    cli_session_outcome(s, RTCTL_EXIT_RUNTIME);
}

void cli_session_closed(struct cli_session *s)
{
    s->finished = 1;
    if (!s->armed)
        return;
    s->armed = 0;
    uv_close((uv_handle_t *)&s->sigint, NULL);
    uv_close((uv_handle_t *)&s->sigterm, NULL);
    uv_close((uv_handle_t *)&s->timer, NULL);
    uv_close((uv_handle_t *)&s->check, NULL);
}

int cli_session_state_json(rt_buf *b, rt_conn_state st, uint64_t delay_ms,
                           unsigned attempt, int err, const char *detail)
{
    return cli_session_state_json_url(b, st, delay_ms, attempt, err, detail,
                                      NULL);
}

int cli_session_state_json_url(rt_buf *b, rt_conn_state st, uint64_t delay_ms,
                               unsigned attempt, int err, const char *detail,
                               const char *url)
{
    int rc = 0;

    rc |= rt__buf_printf(b, "{\"event\":\"state\",\"state\":\"%s\"",
                         rt_conn_state_name(st));
    if (st == RT_CONN_BACKOFF)
        rc |= rt__buf_printf(b, ",\"delay_ms\":%llu,\"attempt\":%u",
                             (unsigned long long)delay_ms, attempt);
    if (err != 0) {
        rc |= rt__buf_printf(
            b, ",\"error\":\"%s\",\"detail\":", rt_err_name(err));
        rc |= rt__buf_json_str(b, detail != NULL ? detail : "",
                               detail != NULL ? strlen(detail) : 0);
    }
    if (url != NULL) {
        rc |= rt__buf_printf(b, ",\"url\":");
        rc |= rt__buf_json_str(b, url, strlen(url));
    }
    rc |= rt__buf_putc(b, '}');
    return rc != 0 ? RT_ENOMEM : 0;
}

/* With --json, one state object on stderr. */
static void json_state(rt_conn_state st, uint64_t delay, unsigned attempt,
                       int err, const char *detail, const char *url)
{
    rt_buf b;

    rt__buf_init(&b);
    if (cli_session_state_json_url(&b, st, delay, attempt, err, detail, url) ==
            0 &&
        rt__buf_putc(&b, '\n') == 0)
        fwrite(b.data, 1, b.len, stderr);
    rt__buf_cleanup(&b);
}

void cli_session_state(struct cli_session *s, rt_conn_state st,
                       uint64_t delay_ms, unsigned attempt, int err,
                       const char *detail)
{
    cli_session_state_url(s, st, delay_ms, attempt, err, detail, NULL);
}

void cli_session_state_url(struct cli_session *s, rt_conn_state st,
                           uint64_t delay_ms, unsigned attempt, int err,
                           const char *detail, const char *url)
{
    char names[1024];
    int several = s->nurls > 1 && url != NULL;

    if (detail == NULL)
        detail = "";
    if (s->out.json)
        json_state(st, delay_ms, attempt, err, detail, several ? url : NULL);
    if (st == RT_CONN_BACKOFF && !s->out.quiet) {
        if (!several)
            fprintf(stderr, "rtctl %s: %s; %s in %llu ms (attempt %u)\n",
                    s->out.cmd, detail, s->retry, (unsigned long long)delay_ms,
                    attempt);
        else if (delay_ms == 0)
            fprintf(stderr, "rtctl %s: %s; %s now, to %s\n", s->out.cmd,
                    detail, s->retry, url);
        else
            fprintf(stderr,
                    "rtctl %s: %s; %s in %llu ms (attempt %u), to %s\n",
                    s->out.cmd, detail, s->retry, (unsigned long long)delay_ms,
                    attempt, url);
    }
    if (st == RT_CONN_OPEN && several && !s->out.quiet && !s->out.json &&
        !s->own_open_line)
        fprintf(stderr, "rtctl %s: connected to %s\n", s->out.cmd, url);
    if (st != RT_CONN_CLOSED)
        return;
    if (err == 0) {
        cli_session_outcome(s, RTCTL_EXIT_OK);
    } else if (s->status < 0) {
        cli_errf(&s->out, "cannot %s %s: %s", s->verb,
                 cli_session_url_names(s, names, sizeof(names)), detail);
        cli_session_outcome(s, rtctl_exit_from_err(err));
    }
}

int cli_session_end(struct cli_session *s, int status)
{
    /* A loop that never ran (a client that could not be created). */
    if (s->loop != NULL) {
        rt_loop_free(s->loop);
        s->loop = NULL;
    }
    rt__url_list_free(s->urls);
    s->urls = NULL;
    s->url = NULL;
    rt__url_list_free(s->bases);
    s->bases = NULL;
    cli_strlist_free(&s->o.urls);
    rt__free(s->auth);
    s->auth = NULL;
    rt__free(s->basic);
    s->basic = NULL;
    rt__free(s->hv);
    s->hv = NULL;
    s->headers = NULL;
    cli_strlist_free(&s->o.headers);
    if (s->out.cmd != NULL && cli_out_finish(&s->out) != 0 &&
        status == RTCTL_EXIT_OK)
        status = RTCTL_EXIT_RUNTIME;
    return status;
}
