/*
 * example_poll.c: follow a room by long polling with librtctl.
 *
 *   example_poll http://127.0.0.1:8080/poll/general [SINCE]
 *   example_poll URL,URL... ...      (the URLs after the first: failover_urls)
 *
 * Prints each message once, in seq order, across failed polls and server
 * restarts; SINCE 0 starts with the history the server holds.  Ctrl-C
 * closes cleanly; exit 1 if the client stopped by itself on an error.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include <rtctl.h>

static rt_poll_client *client;
static int failed;

static void on_message(rt_poll_client *c, uint64_t seq, const char *json,
                       size_t len, void *ud)
{
    (void)c, (void)ud;
    printf("seq %llu: %.*s\n", (unsigned long long)seq, (int)len, json);
    fflush(stdout);
}

static void on_resumed(rt_poll_client *c, int recovered, void *ud)
{
    (void)c, (void)ud;
    if (!recovered)
        printf("resumed: messages were lost\n");
}

static void on_state(rt_poll_client *c, rt_conn_state st, uint64_t delay_ms,
                     int err, const char *detail, void *ud)
{
    static const char *names[] = {"connecting", "open", "backoff", "closed"};
    const char *epoch = "";
    uint64_t seq = 0;

    (void)ud;
    rt_poll_client_position(c, &seq, &epoch);
    fprintf(stderr, "state %s %llu ms %s %s (at %s-%llu)\n", names[st],
            (unsigned long long)delay_ms, err ? rt_err_name(err) : "", detail,
            epoch, (unsigned long long)seq);
    if (st == RT_CONN_CLOSED && err != 0)
        failed = 1;
}

static void on_closed(rt_poll_client *c, void *ud)
{
    (void)c, (void)ud;
    client = NULL; /* freed once this returns */
    printf("closed\n");
}

static void on_sigint(uv_signal_t *s, int signum)
{
    (void)s, (void)signum;
    rt_poll_client_close(client); /* on_closed follows; the loop then ends */
}

int main(int argc, char **argv)
{
    rt_poll_client_cbs cbs = {0};
    rt_poll_client_opts o;
    const char *more[8] = {NULL};
    char *comma;
    size_t n = 0;
    uv_signal_t sig;
    rt_loop *loop;
    int rc;

    if (argc < 2) {
        fprintf(stderr, "usage: %s POLL_URL [SINCE]\n", argv[0]);
        return 2;
    }
    if (rt_loop_new(&loop, NULL) != 0)
        return 1;
    rt_poll_client_opts_init(&o); /* retries forever, 1 s..30 s */
    /* "A,B,C": A first, then B and C to fail over to, round robin. */
    for (comma = strchr(argv[1], ','); comma != NULL && n < 7;
         comma = strchr(comma + 1, ',')) {
        *comma = '\0';
        more[n++] = comma + 1;
    }
    o.conn.failover_urls = more;
    o.poll_timeout_s = 10; /* the server holds each poll 10 s */
    o.has_since = argc > 2;
    o.since = argc > 2 ? strtoull(argv[2], NULL, 10) : 0;
    cbs.on_message = on_message;
    cbs.on_state = on_state;
    cbs.on_resumed = on_resumed;
    cbs.on_closed = on_closed;
    rc = rt_poll_client_new(&client, loop, argv[1], &o, &cbs, NULL);
    if (rc == 0 && (rc = rt_poll_client_start(client)) != 0)
        rt_poll_client_close(client);
    if (rc != 0)
        fprintf(stderr, "%s: %s\n", argv[1], rt_strerror(rc));
    uv_signal_init(rt_loop_uv(loop), &sig);
    uv_signal_start(&sig, on_sigint, SIGINT);
    uv_unref((uv_handle_t *)&sig); /* the client alone keeps the loop up */
    rt_loop_run(loop);
    uv_close((uv_handle_t *)&sig, NULL); /* rt_loop_free() completes it */
    rt_loop_free(loop);
    return rc == 0 && !failed ? 0 : 1;
}
