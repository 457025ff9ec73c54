/*
 * idle_cost.c: what one idle connection costs the client process through
 * the library's general-purpose clients: rt_ws_client (its own codec) or
 * rt_sse_client (one curl easy handle each), all on one rt_loop.
 *
 * Opens N connections to one room, waits until every one is open (the
 * welcome frame for WebSocket, the first event for SSE), lets the loop
 * settle for a second, and prints the growth of VmRSS divided by N:
 *
 *     RESULT path=ws conns=N rss_before_kb=A rss_after_kb=B per_conn_b=C
 *
 * It measured the figures that chose the lean engine of `rtctl load`
 * (issue 11); `rtctl load -r 0` prints the same figure for that engine.
 * Usage: idle_cost ws|sse BASE_URL N  (ws://127.0.0.1:8080 for ws,
 *        http://127.0.0.1:8080 for sse)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include <rtctl.h>

static unsigned nopen, want;
static uv_timer_t settle;

static long rss_kb(void)
{
    char line[256];
    long kb = -1;
    FILE *f = fopen("/proc/self/status", "r");

    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    fclose(f);
    return kb;
}

static void on_settled(uv_timer_t *t)
{
    uv_stop(t->loop);
}

static void one_open(void)
{
    if (++nopen == want)
        uv_timer_start(&settle, on_settled, 1000, 0);
}

static void ws_msg(rt_ws_client *c, const rt_msg *m, const char *json,
                   size_t len, void *ud)
{
    (void)c, (void)m, (void)json, (void)len, (void)ud;
}

static void ws_open(rt_ws_client *c, const rt_msg *w, void *ud)
{
    (void)c, (void)w, (void)ud;
    one_open();
}

static void sse_event(rt_sse_client *c, const rt_sse_event *ev, void *ud)
{
    int *seen = ud;

    (void)c, (void)ev;
    if (!*seen) {
        *seen = 1;
        one_open();
    }
}

int main(int argc, char **argv)
{
    char url[512];
    long before, after;
    rt_loop *loop;
    int *seen;
    unsigned i;

    if (argc != 4 || (strcmp(argv[1], "ws") && strcmp(argv[1], "sse"))) {
        fprintf(stderr, "usage: idle_cost ws|sse BASE_URL N\n");
        return 2;
    }
    want = (unsigned)strtoul(argv[3], NULL, 10);
    if (want == 0 || rt_loop_new(&loop, NULL) != 0)
        return 2;
    seen = calloc(want, sizeof(*seen));
    uv_timer_init(rt_loop_uv(loop), &settle);
    before = rss_kb();
    for (i = 0; i < want; i++) {
        int rc;

        if (argv[1][0] == 'w') {
            rt_ws_client_cbs cbs = {0};
            rt_ws_client_opts o;
            rt_ws_client *c;

            rt_ws_client_opts_init(&o);
            cbs.on_message = ws_msg;
            cbs.on_open = ws_open;
            snprintf(url, sizeof(url), "%s/ws/idle?user=i%u", argv[2], i);
            rc = rt_ws_client_new(&c, loop, url, &o, &cbs, NULL);
            if (rc == 0)
                rc = rt_ws_client_start(c);
        } else {
            rt_sse_client_cbs cbs = {0};
            rt_sse_client_opts o;
            rt_sse_client *c;

            rt_sse_client_opts_init(&o);
            cbs.on_event = sse_event;
            snprintf(url, sizeof(url), "%s/events/idle?user=i%u", argv[2], i);
            rc = rt_sse_client_new(&c, loop, url, &o, &cbs, &seen[i]);
            if (rc == 0)
                rc = rt_sse_client_start(c);
        }
        if (rc != 0) {
            fprintf(stderr, "idle_cost: %s\n", rt_strerror(rc));
            return 1;
        }
    }
    uv_run(rt_loop_uv(loop), UV_RUN_DEFAULT);
    after = rss_kb();
    printf("RESULT path=%s conns=%u rss_before_kb=%ld rss_after_kb=%ld "
           "per_conn_b=%ld\n",
           argv[1], want, before, after, (after - before) * 1024 / (long)want);
    /* The clients are not closed: the process ends here. */
    return 0;
}
