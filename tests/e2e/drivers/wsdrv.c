/*
 * wsdrv.c: a scripted user of rt/ws_client.h for the t41xx e2e tests.
 *
 *   wsdrv follow URL [--count N] [--ping-ms N --pong-ms N] [--base-ms N]
 *                    [--connect-ms N] [--max-retries N] [--cacert PEM]
 *                    [--insecure] [--deadline-ms N] [--max-msg BYTES]
 *                    [--send N] [--mark] [--bulk N [--bulk-bytes BYTES]]
 *                    [--close-at-open]
 *   wsdrv storm URL N [--deadline-ms N]
 *
 * follow runs one protocol client and prints one JSON line per callback:
 *   {"type":"state","state":S,"delay_ms":N,"err":E,"attempt":N,"t_ms":T,
 *    "detail":D}
 *   {"type":"welcome","user":U,"epoch":E,"seq":N}
 *   {"type":"resumed","recovered":B,"from":N,"to":N}
 *   {"type":"message","seq":N,"content":C}
 *   {"type":"other","frame":F}          (frames without a seq, as text)
 *   {"type":"ack","id":I,"seq":N,"code":C}    (C null when stored)
 *   {"type":"close","pending":N}        (--close-at-open closes, N queued)
 *   {"type":"send_error","id":I,"err":E}      (a send refused; I "" if none)
 * and ends with {"type":"summary",...}.  It exits 0 once --count messages
 * were delivered or after the close of --close-at-open, 3 when the client
 * stopped by itself, 5 at the deadline.
 *
 * What it sends, on the first open: --send N texts "hello K" with the ids
 * "idK" (K = 0..N-1), kept until acked; --bulk N texts of --bulk-bytes
 * (default 65536) bytes of 'x' without an id, sent at most once.  Then
 * --close-at-open closes the client at once, with all of that queued.
 * On each later open --mark sends "mark C" with the id "markC", C the
 * number of connections so far.  Messages sent again after a reconnection
 * go out before it, so a scripted server that has read up to the marker
 * has seen everything the client sent again.
 *
 * storm runs N protocol clients on one rt_loop and prints
 *   {"type":"open","client":I,"n":K,"t_ms":T}  each time client I opens
 *   {"type":"lost","client":I,"delay_ms":D,"t_ms":T}
 *                                              the first loss after an open,
 *                                              with the backoff delay drawn
 *   {"type":"all_open","clients":N}            once every client opened
 * and exits 0 once every client has opened again after a loss, 5 at the
 * deadline.  T is CLOCK_MONOTONIC in milliseconds.
 *
 * Every line is flushed, so a script can wait on it.  Usage errors exit 2.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include <rtctl.h>

static const char *state_names[] = {"connecting", "open", "backoff", "closed"};

static rt_loop *loop;
static uv_timer_t deadline;
static int exit_code = 1;

static uint64_t mono_ms(void)
{
    return uv_hrtime() / 1000000;
}

/* Print |s| (|len| bytes) as a JSON string. */
static void put_str(const char *s, size_t len)
{
    size_t i;

    putchar('"');
    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];

        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

static void put_cstr(const char *s)
{
    put_str(s != NULL ? s : "", s != NULL ? strlen(s) : 0);
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;

    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    *out = strtoull(s, &end, 10);
    return *end == '\0' ? 0 : -1;
}

/* --- follow */

static struct {
    rt_ws_client *c;
    uint64_t count, delivered;
    int stopped_err; /* the client stopped by itself with this error */
    uint64_t send, bulk, bulk_bytes;
    int mark, close_at_open;
    unsigned opens;
} f;

static void f_message(rt_ws_client *c, const rt_msg *m, const char *json,
                      size_t len, void *ud)
{
    (void)ud;
    if (m == NULL || !m->has_seq) {
        printf("{\"type\":\"other\",\"frame\":");
        put_str(json, len);
        printf("}\n");
        return;
    }
    f.delivered++;
    printf("{\"type\":\"message\",\"seq\":%llu,\"content\":",
           (unsigned long long)m->seq);
    put_cstr(m->type == RT_MSG_TEXT ? m->u.text.content : NULL);
    printf("}\n");
    if (f.count > 0 && f.delivered == f.count) {
        exit_code = 0;
        rt_ws_client_close(c);
    }
}

/* Queue a text; a refusal is printed, and is for the script to judge. */
static void f_send(rt_ws_client *c, const char *content, const char *id)
{
    int rc = rt_ws_client_send_text(c, content, id);

    if (rc != 0) {
        printf("{\"type\":\"send_error\",\"id\":");
        put_cstr(id);
        printf(",\"err\":\"%s\"}\n", rt_err_name(rc));
    }
}

/* What the options send on the first open, then --close-at-open. */
static void f_first_open(rt_ws_client *c)
{
    char id[32], content[32], *big;
    uint64_t i;

    for (i = 0; i < f.send; i++) {
        snprintf(id, sizeof(id), "id%llu", (unsigned long long)i);
        snprintf(content, sizeof(content), "hello %llu",
                 (unsigned long long)i);
        f_send(c, content, id);
    }
    if (f.bulk > 0) {
        big = malloc(f.bulk_bytes + 1);
        if (big == NULL) {
            fprintf(stderr, "wsdrv: out of memory\n");
            exit(1);
        }
        memset(big, 'x', f.bulk_bytes);
        big[f.bulk_bytes] = '\0';
        for (i = 0; i < f.bulk; i++)
            f_send(c, big, NULL);
        free(big);
    }
    if (f.close_at_open) {
        printf("{\"type\":\"close\",\"pending\":%zu}\n",
               rt_ws_client_pending(c));
        exit_code = 0;
        rt_ws_client_close(c);
    }
}

static void f_open(rt_ws_client *c, const rt_msg *w, void *ud)
{
    char id[32], content[32];

    (void)ud;
    printf("{\"type\":\"welcome\",\"user\":");
    put_cstr(w->u.system.welcome.user);
    printf(",\"epoch\":");
    put_cstr(w->u.system.welcome.epoch);
    printf(",\"seq\":%llu}\n", (unsigned long long)w->u.system.welcome.seq);
    if (++f.opens == 1) {
        f_first_open(c);
    } else if (f.mark) {
        snprintf(id, sizeof(id), "mark%u", rt_ws_client_connections(c));
        snprintf(content, sizeof(content), "mark %u",
                 rt_ws_client_connections(c));
        f_send(c, content, id);
    }
}

static void f_ack(rt_ws_client *c, const char *id, uint64_t seq,
                  const char *code, void *ud)
{
    (void)c, (void)ud;
    printf("{\"type\":\"ack\",\"id\":");
    put_cstr(id);
    printf(",\"seq\":%llu,\"code\":", (unsigned long long)seq);
    if (code != NULL)
        put_cstr(code);
    else
        printf("null");
    printf("}\n");
}

static void f_resumed(rt_ws_client *c, int recovered, uint64_t from,
                      uint64_t to, void *ud)
{
    (void)c, (void)ud;
    printf("{\"type\":\"resumed\",\"recovered\":%s,\"from\":%llu,"
           "\"to\":%llu}\n",
           recovered ? "true" : "false", (unsigned long long)from,
           (unsigned long long)to);
}

static void f_state(rt_ws_client *c, rt_conn_state st, uint64_t delay_ms,
                    int err, const char *detail, void *ud)
{
    (void)ud;
    printf("{\"type\":\"state\",\"state\":\"%s\",\"delay_ms\":%llu,"
           "\"err\":\"%s\",\"attempt\":%u,\"t_ms\":%llu,\"detail\":",
           state_names[st], (unsigned long long)delay_ms,
           err != 0 ? rt_err_name(err) : "", rt_ws_client_attempt(c),
           (unsigned long long)mono_ms());
    put_cstr(detail);
    printf("}\n");
    if (st == RT_CONN_CLOSED && err != 0)
        f.stopped_err = err;
}

static void f_closed(rt_ws_client *c, void *ud)
{
    (void)ud;
    if (f.stopped_err != 0)
        exit_code = 3;
    printf("{\"type\":\"summary\",\"delivered\":%llu,\"connections\":%u,"
           "\"exit\":%d}\n",
           (unsigned long long)f.delivered, rt_ws_client_connections(c),
           exit_code);
    f.c = NULL;
    uv_close((uv_handle_t *)&deadline, NULL);
}

static void f_deadline(uv_timer_t *t)
{
    (void)t;
    exit_code = 5;
    rt_ws_client_close(f.c);
}

static int follow(const char *url, int argc, char **argv)
{
    rt_ws_client_cbs cbs = {0};
    rt_ws_client_opts o;
    uint64_t v, deadline_ms = 60000;
    int i, rc;

    f.bulk_bytes = 65536;
    rt_ws_client_opts_init(&o);
    for (i = 0; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(a, "--insecure") == 0) {
            o.conn.insecure = 1;
            continue;
        }
        if (strcmp(a, "--mark") == 0) {
            f.mark = 1;
            continue;
        }
        if (strcmp(a, "--close-at-open") == 0) {
            f.close_at_open = 1;
            continue;
        }
        if (strcmp(a, "--cacert") == 0 && val != NULL) {
            o.conn.cacert = val;
            i++;
            continue;
        }
        if (parse_u64(val, &v) != 0)
            return 2;
        i++;
        if (strcmp(a, "--count") == 0)
            f.count = v;
        else if (strcmp(a, "--connect-ms") == 0)
            o.conn.connect_timeout_ms = v;
        else if (strcmp(a, "--ping-ms") == 0)
            o.ping_interval_ms = v;
        else if (strcmp(a, "--pong-ms") == 0)
            o.pong_timeout_ms = v;
        else if (strcmp(a, "--base-ms") == 0)
            o.conn.backoff.base_ms = v;
        else if (strcmp(a, "--max-retries") == 0)
            o.conn.backoff.max_attempts = (uint32_t)v;
        else if (strcmp(a, "--deadline-ms") == 0)
            deadline_ms = v;
        else if (strcmp(a, "--max-msg") == 0 && v > 0)
            o.max_message_bytes = (size_t)v;
        else if (strcmp(a, "--send") == 0)
            f.send = v;
        else if (strcmp(a, "--bulk") == 0)
            f.bulk = v;
        else if (strcmp(a, "--bulk-bytes") == 0 && v > 0 && v <= 1u << 24)
            f.bulk_bytes = v;
        else
            return 2;
    }
    cbs.on_message = f_message;
    cbs.on_open = f_open;
    cbs.on_ack = f_ack;
    cbs.on_resumed = f_resumed;
    cbs.on_state = f_state;
    cbs.on_closed = f_closed;
    rc = rt_ws_client_new(&f.c, loop, url, &o, &cbs, NULL);
    if (rc != 0) {
        fprintf(stderr, "wsdrv: %s: %s\n", url, rt_strerror(rc));
        return 1;
    }
    uv_timer_init(rt_loop_uv(loop), &deadline);
    uv_timer_start(&deadline, f_deadline, deadline_ms, 0);
    if ((rc = rt_ws_client_start(f.c)) != 0) {
        fprintf(stderr, "wsdrv: start: %s\n", rt_strerror(rc));
        rt_ws_client_close(f.c);
    }
    rt_loop_run(loop);
    return exit_code;
}

/* --- storm */

struct sclient {
    rt_ws_client *c;
    unsigned idx, opens;
    int lost; /* lost its connection after an open, not yet back */
    int back; /* opened again after a loss */
};

static struct sclient *clients;
static unsigned nclients, nopen_once, nback, nclosed;

static void s_message(rt_ws_client *c, const rt_msg *m, const char *json,
                      size_t len, void *ud)
{
    (void)c, (void)m, (void)json, (void)len, (void)ud;
}

static void s_close_all(void)
{
    unsigned i;

    for (i = 0; i < nclients; i++)
        rt_ws_client_close(clients[i].c);
}

static void s_state(rt_ws_client *c, rt_conn_state st, uint64_t delay_ms,
                    int err, const char *detail, void *ud)
{
    struct sclient *s = ud;

    (void)c, (void)detail;
    if (st == RT_CONN_OPEN) {
        s->opens++;
        printf("{\"type\":\"open\",\"client\":%u,\"n\":%u,\"t_ms\":%llu}\n",
               s->idx, s->opens, (unsigned long long)mono_ms());
        if (s->opens == 1 && ++nopen_once == nclients)
            printf("{\"type\":\"all_open\",\"clients\":%u}\n", nclients);
        if (s->lost && !s->back) {
            s->back = 1;
            if (++nback == nclients) {
                exit_code = 0;
                s_close_all();
            }
        }
    } else if (st == RT_CONN_BACKOFF && s->opens > 0 && !s->lost) {
        s->lost = 1;
        printf("{\"type\":\"lost\",\"client\":%u,\"err\":\"%s\","
               "\"delay_ms\":%llu,\"t_ms\":%llu}\n",
               s->idx, rt_err_name(err), (unsigned long long)delay_ms,
               (unsigned long long)mono_ms());
    }
}

static void s_closed(rt_ws_client *c, void *ud)
{
    (void)c, (void)ud;
    if (++nclosed == nclients) {
        printf("{\"type\":\"summary\",\"clients\":%u,\"opened\":%u,"
               "\"back\":%u,\"exit\":%d}\n",
               nclients, nopen_once, nback, exit_code);
        uv_close((uv_handle_t *)&deadline, NULL);
    }
}

static void s_deadline(uv_timer_t *t)
{
    (void)t;
    exit_code = 5;
    s_close_all();
}

static int storm(const char *url, const char *n, int argc, char **argv)
{
    rt_ws_client_cbs cbs = {0};
    uint64_t v, deadline_ms = 60000;
    unsigned i;
    int rc;

    if (parse_u64(n, &v) != 0 || v == 0 || v > 100000)
        return 2;
    nclients = (unsigned)v;
    if (argc == 2 && strcmp(argv[0], "--deadline-ms") == 0 &&
        parse_u64(argv[1], &v) == 0)
        deadline_ms = v;
    else if (argc != 0)
        return 2;
    clients = calloc(nclients, sizeof(*clients));
    if (clients == NULL)
        return 1;
    cbs.on_message = s_message;
    cbs.on_state = s_state;
    cbs.on_closed = s_closed;
    uv_timer_init(rt_loop_uv(loop), &deadline);
    uv_timer_start(&deadline, s_deadline, deadline_ms, 0);
    for (i = 0; i < nclients; i++) {
        clients[i].idx = i;
        rc = rt_ws_client_new(&clients[i].c, loop, url, NULL, &cbs,
                              &clients[i]);
        if (rc == 0)
            rc = rt_ws_client_start(clients[i].c);
        if (rc != 0) {
            fprintf(stderr, "wsdrv: client %u: %s\n", i, rt_strerror(rc));
            exit(1); /* the clients and the loop go with the process */
        }
    }
    rt_loop_run(loop);
    free(clients);
    return exit_code;
}

int main(int argc, char **argv)
{
    int rc = 2;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (rt_loop_new(&loop, NULL) != 0)
        return 1;
    if (argc >= 3 && strcmp(argv[1], "follow") == 0)
        rc = follow(argv[2], argc - 3, argv + 3);
    else if (argc >= 4 && strcmp(argv[1], "storm") == 0)
        rc = storm(argv[2], argv[3], argc - 4, argv + 4);
    if (rc == 2)
        fprintf(stderr, "usage: wsdrv follow URL [options] | "
                        "wsdrv storm URL N [--deadline-ms N]\n");
    rt_loop_free(loop);
    return rc;
}
