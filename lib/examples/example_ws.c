/*
 * example_ws.c: follow a room over WebSocket with librtctl, and say hello.
 *
 *   example_ws ws://127.0.0.1:8080/ws/general [MESSAGE]
 *   example_ws ws://a:8080/ws/general,ws://b:8080/ws/general [MESSAGE]
 *
 * Prints each message once, in seq order, across reconnections (and
 * across servers: the URLs after the first are failover_urls); sends
 * MESSAGE with an id and reports its ack.  Ctrl-C closes cleanly.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include <rtctl.h>

static rt_ws_client *client;
static const char *hello;

static void on_message(rt_ws_client *c, const rt_msg *m, const char *json,
                       size_t len, void *ud)
{
    (void)c, (void)ud;
    if (m != NULL && m->type == RT_MSG_TEXT)
        printf("seq %llu: %s\n", (unsigned long long)m->seq,
               m->u.text.content);
    else
        printf("frame: %.*s\n", (int)len, json);
    fflush(stdout);
}

static void on_open(rt_ws_client *c, const rt_msg *welcome, void *ud)
{
    (void)ud;
    printf("joined as %s at seq %llu\n", welcome->u.system.welcome.user,
           (unsigned long long)welcome->u.system.welcome.seq);
    fflush(stdout);
    if (hello != NULL && rt_ws_client_send_text(c, hello, "hello-1") == 0)
        hello = NULL; /* once, even across reconnections */
}

static void on_resumed(rt_ws_client *c, int recovered, uint64_t from,
                       uint64_t to, void *ud)
{
    (void)c, (void)ud;
    printf("resumed %llu..%llu%s\n", (unsigned long long)from,
           (unsigned long long)to, recovered ? "" : " (messages were lost)");
    fflush(stdout);
}

static void on_ack(rt_ws_client *c, const char *id, uint64_t seq,
                   const char *code, void *ud)
{
    (void)c, (void)ud;
    printf("%s: %s %llu\n", id, code ? code : "stored as seq",
           (unsigned long long)seq);
    fflush(stdout);
}

static void on_state(rt_ws_client *c, rt_conn_state st, uint64_t delay_ms,
                     int err, const char *detail, void *ud)
{
    static const char *names[] = {"connecting", "open", "backoff", "closed"};

    (void)ud;
    fprintf(stderr, "state %s %llu ms %s %s (%s)\n", names[st],
            (unsigned long long)delay_ms, err ? rt_err_name(err) : "", detail,
            rt_ws_client_url(c));
}

static void on_closed(rt_ws_client *c, void *ud)
{
    (void)c, (void)ud;
    client = NULL; /* freed when this returns */
}

static void on_sigint(uv_signal_t *s, int signum)
{
    (void)s, (void)signum;
    rt_ws_client_close(client); /* on_closed follows; the loop then ends */
}

int main(int argc, char **argv)
{
    rt_ws_client_cbs cbs = {0};
    rt_ws_client_opts o;
    const char *more[8] = {NULL};
    char *comma;
    size_t n = 0;
    uv_signal_t sig;
    rt_loop *loop;
    int rc;

    if (argc < 2) {
        fprintf(stderr, "usage: %s WS_URL [MESSAGE]\n", argv[0]);
        return 2;
    }
    hello = argc > 2 ? argv[2] : NULL;
    if (rt_loop_new(&loop, NULL) != 0)
        return 1;
    rt_ws_client_opts_init(&o); /* reconnects forever, 1 s..30 s */
    /* "A,B,C": A first, then B and C to fail over to, round robin. */
    for (comma = strchr(argv[1], ','); comma != NULL && n < 7;
         comma = strchr(comma + 1, ',')) {
        *comma = '\0';
        more[n++] = comma + 1;
    }
    o.conn.failover_urls = more;
    cbs.on_message = on_message;
    cbs.on_open = on_open;
    cbs.on_resumed = on_resumed;
    cbs.on_ack = on_ack;
    cbs.on_state = on_state;
    cbs.on_closed = on_closed;
    rc = rt_ws_client_new(&client, loop, argv[1], &o, &cbs, NULL);
    if (rc == 0)
        rc = rt_ws_client_start(client);
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", argv[1], rt_strerror(rc));
        rt_ws_client_close(client);
    }
    uv_signal_init(rt_loop_uv(loop), &sig);
    uv_signal_start(&sig, on_sigint, SIGINT);
    uv_unref((uv_handle_t *)&sig); /* the client alone keeps the loop up */
    rt_loop_run(loop);
    uv_close((uv_handle_t *)&sig, NULL);
    rt_loop_free(loop);
    return rc == 0 ? 0 : 1;
}
