/*
 * example_sse.c: follow a room's Server-Sent Events stream with librtctl.
 *
 *   example_sse http://127.0.0.1:8080/events/general [LAST_EVENT_ID]
 *   example_sse URL,URL... ...      (the URLs after the first: failover_urls)
 *
 * Prints each event; the stored messages of our server once each and in
 * seq order (order_by_seq), across reconnections that resume from the
 * last one printed.  Ctrl-C closes cleanly; exit 1 if the client stopped
 * by itself on an error.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include <rtctl.h>

static rt_sse_client *client;
static int failed;

static void on_event(rt_sse_client *c, const rt_sse_event *ev, void *ud)
{
    (void)c, (void)ud;
    printf("%.*s [%.*s] %.*s\n", (int)ev->type_len, ev->type, (int)ev->id_len,
           ev->id, (int)ev->data_len, ev->data);
    fflush(stdout);
}

static void on_resumed(rt_sse_client *c, int recovered, void *ud)
{
    (void)c, (void)ud;
    if (!recovered)
        printf("resumed: messages were lost\n");
}

static void on_state(rt_sse_client *c, rt_conn_state st, uint64_t delay_ms,
                     int err, const char *detail, void *ud)
{
    static const char *names[] = {"connecting", "open", "backoff", "closed"};

    (void)ud;
    fprintf(stderr, "state %s %llu ms %s %s (last id '%s')\n", names[st],
            (unsigned long long)delay_ms, err ? rt_err_name(err) : "", detail,
            rt_sse_client_last_id(c));
    if (st == RT_CONN_CLOSED && err != 0)
        failed = 1;
}

static void on_closed(rt_sse_client *c, void *ud)
{
    (void)c, (void)ud;
    client = NULL; /* freed once this returns */
    printf("closed\n");
}

static void on_sigint(uv_signal_t *s, int signum)
{
    (void)s, (void)signum;
    rt_sse_client_close(client); /* on_closed follows; the loop then ends */
}

int main(int argc, char **argv)
{
    rt_sse_client_cbs cbs = {0};
    rt_sse_client_opts o;
    const char *more[8] = {NULL};
    char *comma;
    size_t n = 0;
    uv_signal_t sig;
    rt_loop *loop;
    int rc;

    if (argc < 2) {
        fprintf(stderr, "usage: %s EVENTS_URL [LAST_EVENT_ID]\n", argv[0]);
        return 2;
    }
    if (rt_loop_new(&loop, NULL) != 0)
        return 1;
    rt_sse_client_opts_init(&o); /* reconnects forever, 1 s..30 s */
    /* "A,B,C": A first, then B and C to fail over to, round robin. */
    for (comma = strchr(argv[1], ','); comma != NULL && n < 7;
         comma = strchr(comma + 1, ',')) {
        *comma = '\0';
        more[n++] = comma + 1;
    }
    o.conn.failover_urls = more;
    o.order_by_seq = 1; /* our server: EPOCH-SEQ ids */
    o.last_event_id = argc > 2 ? argv[2] : NULL;
    cbs.on_event = on_event;
    cbs.on_state = on_state;
    cbs.on_closed = on_closed;
    cbs.on_resumed = on_resumed;
    rc = rt_sse_client_new(&client, loop, argv[1], &o, &cbs, NULL);
    if (rc == 0 && (rc = rt_sse_client_start(client)) != 0)
        rt_sse_client_close(client);
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
