/*
 * cmd_load.c: `rtctl load`, the load generator for rtctl-protocol servers.
 *
 * One process, one libuv loop, every connection on the lean engine
 * (rt/lean.h).  Publishers are WebSocket connections that send text
 * messages on a fixed schedule (the open model: message k of a publisher
 * is due at start + k / rate, and latency counts from that due time, so a
 * server that stalls cannot hide the stall by slowing the generator
 * down); each message's content carries its publisher, the publisher's
 * sequence number and its due time.  Subscribers (WebSocket, SSE or long
 * poll) record the fan-out latency of every message they receive and
 * track room seqs for loss, duplication and reordering (load/track.c).
 *
 * Phases: ramp (connect at --connect-rate), run (publish for --duration,
 * the first --warmup of it not measured), drain (wait for acks and for
 * every subscriber to reach the last acked seq, at most --drain), close.
 * Dropped connections come back with the library's backoff and resume
 * from their position (since/epoch, Last-Event-ID), so the report shows
 * what a real client loses.
 *
 * Timers: one publishing timer, armed for the next message due (1 ms
 * resolution) or the next scenario phase, one
 * 100 ms sweep over every connection for connect ramp, reconnect delays
 * and handshake deadlines (a per-connection uv_timer_t would cost more
 * memory than the rest of the connection), one progress timer.
 */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "cmd.h"
#include "exit.h"
#include "load/load.h"
#include "load/scenario.h"
#include "load/workers.h"
#include "opts.h"
#include "output.h"
#include "rt/backoff.h"
#include "rt/error.h"
#include "rt/lean.h"
#include "rt/msg.h"
#include "rt/alloc.h"
#include "rt/url.h"

#define SWEEP_MS 100
#define HANDSHAKE_TIMEOUT_US (10 * 1000000ull)
#define POLL_WAIT_S 25
#define MARK "rtl1 "
#define MAX_CONNS 1000000u
#define MAX_ROOMS 100000u
#define PUB_BURST_MAX 10000u /* messages one publisher sends per tick */

static const char *const load_usage[] = {
    "rtctl load [options] URL",
    NULL,
};

static const struct cli_cmd_help load_help = {
    "load",
    load_usage,
    "Load-test an rtctl-protocol server (rtctl serve, or one behind a "
    "proxy) at URL: ws://, wss://, http:// or https://; with --raw, any "
    "WebSocket echo server at ws:// or wss://, timing round trips. "
    "Subscribers join rooms over WebSocket, SSE or long polling; publishers "
    "send messages at a fixed rate over WebSocket. Every subscriber "
    "measures the fan-out latency from each message's due send time and "
    "counts lost, duplicated and reordered messages; dropped connections "
    "reconnect with backoff and resume. Progress goes to stderr, the "
    "summary to stdout. Exits 6 when a --threshold fails, 130 on Ctrl-C "
    "(the report is still printed and written).",
};

enum role { ROLE_SUB, ROLE_PUB };
enum sst { S_WAIT, S_CONN, S_OPEN, S_DONE };
enum phase { P_RAMP, P_RUN, P_DRAIN, P_CLOSE, P_END };

struct room {
    char name[72];
    char epoch[40];
    uint64_t last_acked; /* highest seq acked to a publisher */
};

struct slot {
    struct cli_track tk;
    rt_backoff bo;
    uint64_t due_us;   /* S_WAIT: when to (re)connect */
    uint64_t start_us; /* S_CONN: when this attempt began */
    uint64_t down_us;  /* when it last dropped; 0 none */
    uint32_t idx;
    uint32_t room;
    uint32_t pub; /* ROLE_PUB: index in L->pubs */
    uint8_t tr, role, st, ever_open, settled, stop;
    uint8_t gave_up; /* a resume failed: holes before the next are lost */
    uint8_t planned; /* the scenario is dropping it */
    uint8_t back_ph; /* 1 + the phase that dropped it, until it reopens */
};

struct pub {
    uint32_t slot;
    uint64_t seq;     /* messages scheduled so far */
    uint64_t seq0;    /* seq when the schedule began (a scenario phase) */
    uint64_t next_us; /* due time of the next one */
    double interval_us;
    uint64_t unacked;
    uint64_t sent; /* --raw: messages sent on this connection */
};

struct load {
    uv_loop_t *loop;
    rt_lean *eng;
    struct cli_out *out;
    struct sockaddr_storage addr;
    char host[300];
    char sni[256]; /* the URL's host, when TLS */
    char prefix[256];
    const char *user;
    char *slots;
    size_t stride;
    size_t nslots;
    struct room *rooms;
    unsigned nrooms;
    struct pub *pubs;
    unsigned npubs;
    uint64_t t0_ns;
    enum phase phase;
    uint64_t ramp_started, run0_us, warm_us, run_end_us, drain_end_us,
        close_end_us;
    uint64_t sched0_us, sched_end_us; /* the publishing schedule's span */
    struct cli_scenario sc;           /* -f; sc.n == 0 without */
    size_t cur_ph;
    unsigned sc_conns0;
    double connect_rate;
    uint64_t drain_us;
    size_t msg_size;
    char *content;
    rt_backoff_policy bop;
    uint32_t rng;
    unsigned settled;
    unsigned active; /* engine connections not yet on_close'd */
    int tty, quiet;
    uint64_t interval_ms;
    int sigint;
    int fd_warned, port_warned;
    struct rlimit nofile;
    struct cli_report rep;
    /* --raw, --in-flight, the series, --workers */
    int raw;
    const char *raw_tpl;
    size_t raw_pad;
    char raw_target[700];
    uint64_t in_flight;
    uint64_t ser_k, ser_sent, ser_deliv, ser_err;
    char wtag[16]; /* "w2 " in worker 2's progress lines */
    unsigned nworkers, worker_index;
    uv_timer_t pub_timer, sweep_timer, prog_timer;
    uint64_t pub_wake_us; /* when pub_timer fires; UINT64_MAX: not armed */
    uv_signal_t sig_int, sig_term;
    /* progress deltas */
    uint64_t prog_last_sent, prog_last_deliv, prog_last_us;
    double prog_last_cpu;
    double cpu0;
};

/* The one load of this process, for the engine's callbacks. */
static struct load *G;

static struct slot *slot_at(struct load *L, size_t i)
{
    return (struct slot *)(L->slots + i * L->stride);
}

static rt_lean_conn *conn_of(struct slot *s)
{
    return (rt_lean_conn *)((char *)s + ((sizeof(struct slot) + 15) & ~15u));
}

static uint64_t now_us(const struct load *L)
{
    return (uv_hrtime() - L->t0_ns) / 1000;
}

static uint32_t rnd(struct load *L)
{
    L->rng ^= L->rng << 13;
    L->rng ^= L->rng >> 17;
    L->rng ^= L->rng << 5;
    return L->rng;
}

static double cpu_s(double *user, double *sys)
{
    struct rusage ru;
    double u, s;

    getrusage(RUSAGE_SELF, &ru);
    u = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
    s = (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    if (user)
        *user = u;
    if (sys)
        *sys = s;
    return u + s;
}

static long rss_kb(void)
{
    char line[256];
    long kb = 0;
    FILE *f = fopen("/proc/self/status", "r");

    if (f == NULL)
        return 0;
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    fclose(f);
    return kb;
}

/* ------------------------------------------------------------------ */
/* Option values                                                       */

/* "ws", "sse", "poll" or a mix "ws:70,sse:20,poll:10" into shares. */
static int parse_transports(const char *s, double share[TR_N])
{
    char buf[128], *p, *tok, *save = NULL;
    double total = 0;
    int i;

    memset(share, 0, sizeof(double) * TR_N);
    if (strlen(s) >= sizeof(buf))
        return -1;
    strcpy(buf, s);
    for (p = buf; (tok = strtok_r(p, ",", &save)) != NULL; p = NULL) {
        char *colon = strchr(tok, ':');
        double w = 1;

        if (colon != NULL) {
            char *end;

            *colon = '\0';
            w = strtod(colon + 1, &end);
            if (end == colon + 1 || *end != '\0' || !(w > 0) || w > 1e6)
                return -1;
        }
        for (i = 0; i < TR_N; i++)
            if (strcmp(tok, cli_load_tr_names[i]) == 0)
                break;
        if (i == TR_N || share[i] > 0)
            return -1;
        share[i] = w;
        total += w;
    }
    if (total <= 0)
        return -1;
    for (i = 0; i < TR_N; i++)
        share[i] /= total;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Messages                                                            */

/* The content of publisher |pub|'s message |seq| due at |due_us|. */
static void fill_content(struct load *L, unsigned pub, uint64_t seq,
                         uint64_t due_us)
{
    int n = snprintf(L->content, 80, MARK "%u:%llu:%llu ", pub,
                     (unsigned long long)seq, (unsigned long long)due_us);

    if ((size_t)n < L->msg_size)
        memset(L->content + n, 'x', L->msg_size - (size_t)n);
    L->content[(size_t)n < L->msg_size ? L->msg_size : (size_t)n] = '\0';
}

/* One of our messages reached subscriber |s|. */
static int delivered(struct load *L, struct slot *s, uint64_t seq,
                     uint64_t due_us, size_t bytes)
{
    struct cli_tr_stats *t = &L->rep.tr[s->tr];
    uint64_t now = now_us(L);

    t->delivered++;
    t->bytes += bytes;
    if (s->gave_up) {
        s->gave_up = 0;
        cli_track_give_up(&s->tk, seq, &t->c);
    }
    if (!cli_track_seen(&s->tk, seq, &t->c))
        return 0; /* a duplicate has no latency of its own */
    if (L->sc.n > 0 && L->phase >= P_RUN && due_us >= L->run0_us) {
        struct cli_phase *p =
            &L->sc.ph[cli_scenario_at(&L->sc, (due_us - L->run0_us) / 1000)];

        p->delivered++;
        rt_hist_record(p->lat, now > due_us ? now - due_us : 0);
    }
    if (L->phase >= P_RUN)
        rt_hist_record(L->rep.ilat, now > due_us ? now - due_us : 0);
    if (due_us >= L->warm_us && due_us < L->run_end_us && L->phase >= P_RUN) {
        t->measured++;
        rt_hist_record(t->lat, now > due_us ? now - due_us : 0);
    }
    rt_backoff_delivered(&s->bo);
    return 1;
}

/* ------------------------------------------------------------------ */
/* Connections                                                         */

static void start_slot(struct load *L, struct slot *s);
static void pub_refill(struct load *L, struct pub *pb);

static void opened(struct load *L, struct slot *s)
{
    struct cli_tr_stats *t = s->role == ROLE_SUB ? &L->rep.tr[s->tr] : NULL;
    uint64_t now = now_us(L);

    if (s->st != S_CONN)
        return;
    s->st = S_OPEN;
    rt_backoff_connected(&s->bo, 0);
    rt_hist_record(L->rep.connect, now - s->start_us);
    if (t != NULL) {
        t->opened++;
        t->open++;
        if (s->ever_open) {
            t->reconnects++;
            if (s->down_us != 0)
                rt_hist_record(t->reconnect, now - s->down_us);
            if (s->back_ph != 0 && s->down_us != 0) {
                struct cli_phase *p = &L->sc.ph[s->back_ph - 1];

                p->reconnected++;
                rt_hist_record(p->reconnect, now - s->down_us);
            }
            s->back_ph = 0;
        }
    } else if (s->ever_open) {
        L->rep.pub_reconnects++;
    }
    s->down_us = 0;
    s->ever_open = 1;
    if (!s->settled) {
        s->settled = 1;
        L->settled++;
    }
    if (s->role == ROLE_PUB || L->raw)
        pub_refill(L, &L->pubs[s->pub]); /* a closed window waits for it */
}

/* A welcome (ws, sse) told the room's position. */
static void position(struct load *L, struct slot *s, const char *epoch,
                     uint64_t seq)
{
    struct room *r = &L->rooms[s->room];

    if (epoch != NULL && r->epoch[0] == '\0')
        snprintf(r->epoch, sizeof(r->epoch), "%s", epoch);
    if (s->role == ROLE_SUB && s->tk.next == 0)
        cli_track_start(&s->tk, seq);
}

static void on_open(rt_lean_conn *c, void *ud)
{
    (void)c;
    /* ws and sse are ready at their welcome, poll at its first answer;
       an echo server at its 101 */
    if (G->raw)
        opened(G, ud);
}

/* --raw: an echo came back; a message without our marker is counted
   as a frame only (a banner, a server's own chatter). */
static void raw_echo(struct load *L, struct slot *s, const char *p, size_t len)
{
    struct pub *pb = &L->pubs[s->pub];
    uint64_t seq, due;
    unsigned conn;

    if (cli_raw_parse(p, len, &conn, &seq, &due) != 0 || conn != s->idx ||
        seq == 0 || seq > pb->sent)
        return;
    if (delivered(L, s, seq, due, len)) {
        L->rep.acked++;
        if (pb->unacked > 0)
            pb->unacked--;
        pub_refill(L, pb);
    }
}

static void server_text(struct load *L, struct slot *s, const char *p,
                        size_t len)
{
    uint64_t due, seq;
    rt_msg *m = NULL;

    if (s->role == ROLE_SUB && len > 14 &&
        memcmp(p, "{\"type\":\"text\"", 14) == 0 &&
        cli_load_scan(p, len, &seq, &due) == 0) {
        delivered(L, s, seq, due, len);
        return;
    }
    if (s->role == ROLE_PUB && len > 14 &&
        memcmp(p, "{\"type\":\"text\"", 14) == 0)
        return; /* its own room's broadcasts */
    /* presence and typing: counted as frames, not parsed (a join storm
       of N users is N^2 of them) */
    if ((len > 18 && memcmp(p, "{\"type\":\"presence\"", 18) == 0) ||
        (len > 16 && memcmp(p, "{\"type\":\"typing\"", 16) == 0))
        return;
    if (rt_msg_parse(&m, p, len, RT_MSG_FROM_SERVER, NULL, NULL) != 0) {
        L->rep.err_protocol++;
        L->rep.errors++;
        return;
    }
    switch (m->type) {
    case RT_MSG_SYSTEM:
        if (m->u.system.event == RT_MSG_SYSTEM_WELCOME) {
            position(L, s, m->u.system.welcome.epoch, m->u.system.welcome.seq);
            opened(L, s);
        } else if (m->u.system.event == RT_MSG_SYSTEM_RESUMED &&
                   !m->u.system.resumed.recovered && s->role == ROLE_SUB) {
            L->rep.tr[s->tr].not_recovered++;
            s->gave_up = 1;
        }
        break;
    case RT_MSG_ACK:
        if (s->role == ROLE_PUB) {
            struct pub *pb = &L->pubs[s->pub];
            struct room *r = &L->rooms[s->room];

            L->rep.acked++;
            if (pb->unacked > 0)
                pb->unacked--;
            if (m->u.ack.has_seq && m->u.ack.seq > r->last_acked)
                r->last_acked = m->u.ack.seq;
            pub_refill(L, pb);
        }
        break;
    case RT_MSG_ERROR:
        L->rep.err_server++;
        L->rep.errors++;
        if (s->role == ROLE_PUB && L->pubs[s->pub].unacked > 0)
            L->pubs[s->pub].unacked--;
        break;
    case RT_MSG_TEXT:
        /* a message not ours (another client in the room) */
        break;
    default:
        break;
    }
    rt_msg_free(m);
}

static void on_ws(rt_lean_conn *c, int binary, const char *data, size_t len,
                  void *ud)
{
    struct slot *s = ud;

    (void)c;
    G->rep.tr[TR_WS].frames++;
    if (G->raw)
        raw_echo(G, s, data, len);
    else if (!binary)
        server_text(G, s, data, len);
}

static void on_sse(rt_lean_conn *c, const rt_sse_event *ev, void *ud)
{
    struct slot *s = ud;

    (void)c;
    G->rep.tr[TR_SSE].frames++;
    /* the welcome (system) carries the position in its data as well */
    if ((ev->type_len == 6 && memcmp(ev->type, "system", 6) == 0) ||
        (ev->type_len == 4 && memcmp(ev->type, "text", 4) == 0))
        server_text(G, s, ev->data, ev->data_len);
}

static void poll_target(struct load *L, struct slot *s, char *buf, size_t len,
                        int wait)
{
    struct room *r = &L->rooms[s->room];
    int n = snprintf(buf, len, "%s/poll/%s?user=", L->prefix, r->name);

    if (L->user != NULL)
        n += snprintf(buf + n, len - (size_t)n, "%s", L->user);
    else
        n += snprintf(buf + n, len - (size_t)n, "load-%u", s->idx);
    if (s->tk.next != 0 && r->epoch[0] != '\0')
        n += snprintf(buf + n, len - (size_t)n, "&since=%llu&epoch=%s",
                      (unsigned long long)cli_track_pos(&s->tk), r->epoch);
    snprintf(buf + n, len - (size_t)n, "&timeout=%d", wait ? POLL_WAIT_S : 0);
}

static void on_poll(rt_lean_conn *c, const char *body, size_t len, void *ud)
{
    struct slot *s = ud;
    struct load *L = G;
    struct cli_tr_stats *t = &L->rep.tr[TR_POLL];
    cJSON *root = cJSON_ParseWithLength(body, len), *msgs, *m, *nx, *ep, *rc;
    char target[700];

    if (root == NULL ||
        !cJSON_IsArray(msgs = cJSON_GetObjectItem(root, "messages")) ||
        !cJSON_IsNumber(nx = cJSON_GetObjectItem(root, "next"))) {
        cJSON_Delete(root);
        L->rep.err_protocol++;
        L->rep.errors++;
        rt_lean_conn_abort(c);
        return;
    }
    ep = cJSON_GetObjectItem(root, "epoch");
    rc = cJSON_GetObjectItem(root, "recovered");
    /* a new epoch that could not resume: the room began again; polling
       on with the old one would be refused again at once, forever */
    if (cJSON_IsString(ep) &&
        (L->rooms[s->room].epoch[0] == '\0' || cJSON_IsFalse(rc)))
        snprintf(L->rooms[s->room].epoch, sizeof(L->rooms[0].epoch), "%s",
                 ep->valuestring);
    if (cJSON_IsFalse(rc)) {
        t->not_recovered += !s->gave_up; /* once per gap */
        s->gave_up = 1;
    }
    if (s->tk.next == 0) {
        cJSON *first = cJSON_GetArrayItem(msgs, 0);
        cJSON *fs = first ? cJSON_GetObjectItem(first, "seq") : NULL;

        cli_track_start(&s->tk, cJSON_IsNumber(fs)
                                    ? (uint64_t)fs->valuedouble - 1
                                    : (uint64_t)nx->valuedouble);
    }
    cJSON_ArrayForEach(m, msgs)
    {
        cJSON *sq = cJSON_GetObjectItem(m, "seq");
        cJSON *d = cJSON_GetObjectItem(m, "data");
        cJSON *ct = d ? cJSON_GetObjectItem(d, "content") : NULL;
        uint64_t due;

        t->frames++;
        if (!cJSON_IsNumber(sq) || !cJSON_IsString(ct) ||
            strncmp(ct->valuestring, MARK, sizeof(MARK) - 1) != 0)
            continue;
        {
            const char *p = ct->valuestring + sizeof(MARK) - 1;
            int colons = 0;

            for (; *p && colons < 2; p++)
                if (*p == ':')
                    colons++;
            due = strtoull(p, NULL, 10);
        }
        delivered(L, s, (uint64_t)sq->valuedouble, due,
                  strlen(ct->valuestring));
    }
    if (s->gave_up && cJSON_GetArraySize(msgs) == 0) {
        /* nothing held past since: everything up to next is gone */
        cli_track_give_up(&s->tk, (uint64_t)nx->valuedouble + 1, &t->c);
        s->gave_up = 0;
    }
    cJSON_Delete(root);
    opened(L, s);
    if (s->st != S_OPEN)
        return;
    poll_target(L, s, target, sizeof(target), 1);
    rt_lean_poll_next(c, target);
}

static int resource_failure(struct load *L, int sys)
{
    if (sys == UV_EMFILE || sys == UV_ENFILE || sys == UV_ENOBUFS) {
        L->rep.fd_exhausted++;
        if (!L->fd_warned++)
            cli_errf(L->out,
                     "out of file descriptors for %zu connections (limit "
                     "%llu, hard limit %llu): raise it with 'ulimit -n' or "
                     "use fewer connections",
                     L->nslots, (unsigned long long)L->nofile.rlim_cur,
                     (unsigned long long)L->nofile.rlim_max);
        return 1;
    }
    if (sys == UV_EADDRNOTAVAIL || sys == UV_EADDRINUSE) {
        L->rep.ports_exhausted++;
        if (!L->port_warned++)
            cli_errf(L->out,
                     "out of local ports after %u connections: spread "
                     "them over more addresses with --source (on "
                     "loopback: 127.0.0.1-127.0.0.8), widen "
                     "net.ipv4.ip_local_port_range, or use fewer",
                     L->active);
        return 1;
    }
    return 0;
}

static void settle(struct load *L, struct slot *s)
{
    if (!s->settled) {
        s->settled = 1;
        L->settled++;
    }
}

static void on_close(rt_lean_conn *c, const rt_lean_end *end, void *ud)
{
    struct slot *s = ud;
    struct load *L = G;
    struct cli_tr_stats *t = s->role == ROLE_SUB ? &L->rep.tr[s->tr] : NULL;
    int was_open = s->st == S_OPEN, stop = 0;
    uint64_t delay_ms = 0;

    (void)c;
    L->active--;
    if (was_open && t != NULL)
        t->open--;
    if (L->raw || s->role == ROLE_PUB) /* what it awaited will not come */
        L->pubs[s->pub].unacked = 0;
    if (L->phase >= P_CLOSE || s->stop) {
        s->st = S_DONE;
        return;
    }
    if (s->planned) {
        /* the scenario's drop: not an error; back after the backoff */
        s->planned = 0;
        t->drops++;
        s->down_us = now_us(L);
        (void)rt_backoff_next(&s->bo, rnd(L), &delay_ms);
        s->st = S_WAIT;
        s->due_us = s->down_us + delay_ms * 1000;
        return;
    }
    if (was_open && s->tr == TR_POLL && s->role == ROLE_SUB && end->err == 0) {
        /* the server ended a keep-alive connection between polls */
        s->st = S_WAIT;
        s->due_us = now_us(L);
        return;
    }
    L->rep.errors++;
    if (resource_failure(L, end->sys)) {
        stop = 1;
        L->rep.err_connect++;
    } else if (!was_open) {
        if (end->status != 0)
            L->rep.err_http++;
        else if (end->err == RT_EPROTO || end->err == RT_EHANDSHAKE)
            L->rep.err_protocol++;
        else
            L->rep.err_connect++;
        if (t != NULL)
            t->connect_failed++;
        /* a refusal the protocol says not to retry */
        stop = end->status == 400 || end->status == 401 ||
               end->status == 403 || end->status == 404 ||
               end->status == 405 || end->err == RT_ETLS;
    } else {
        L->rep.err_drop++;
        if (t != NULL)
            t->drops++;
        s->down_us = now_us(L);
        stop = end->code == 1000 || end->code == 1008 || end->code == 1009;
        if (end->err == RT_EPROTO || end->err == RT_ETOOBIG)
            L->rep.err_protocol++;
    }
    if (L->out->verbose > 0 || (stop && !s->ever_open && L->settled == 0))
        cli_warnf(L->out, "%s %u: %s%s%s",
                  s->role == ROLE_PUB ? "publisher" : cli_load_tr_names[s->tr],
                  s->idx, end->detail,
                  strstr(end->detail, "certificate verify") != NULL
                      ? " (use --cacert to trust it, or --insecure)"
                      : "",
                  stop ? " (not retried)" : "");
    settle(L, s);
    if (stop || rt_backoff_next(&s->bo, rnd(L), &delay_ms) != 0) {
        s->st = S_DONE;
        s->stop = 1;
        return;
    }
    s->st = S_WAIT;
    s->due_us = now_us(L) + delay_ms * 1000;
}

static void start_slot(struct load *L, struct slot *s)
{
    struct room *r = &L->rooms[s->room];
    char target[700], extra[128], user[48];
    const char *ex = NULL;
    rt_lean_kind kind = RT_LEAN_WS;
    int rc;

    if (L->user != NULL)
        snprintf(user, sizeof(user), "%s", L->user);
    else if (s->role == ROLE_PUB)
        snprintf(user, sizeof(user), "load-pub-%u", s->pub);
    else
        snprintf(user, sizeof(user), "load-%u", s->idx);
    if (L->raw) {
        snprintf(target, sizeof(target), "%s", L->raw_target);
    } else if (s->role == ROLE_PUB || s->tr == TR_WS) {
        int n = snprintf(target, sizeof(target), "%s/ws/%s?user=%s", L->prefix,
                         r->name, user);

        if (s->role == ROLE_SUB && s->tk.next != 0 && r->epoch[0] != '\0')
            snprintf(target + n, sizeof(target) - (size_t)n,
                     "&since=%llu&epoch=%s",
                     (unsigned long long)cli_track_pos(&s->tk), r->epoch);
    } else if (s->tr == TR_SSE) {
        kind = RT_LEAN_SSE;
        snprintf(target, sizeof(target), "%s/events/%s?user=%s", L->prefix,
                 r->name, user);
        if (s->tk.next != 0 && r->epoch[0] != '\0') {
            snprintf(extra, sizeof(extra), "Last-Event-ID: %s-%llu\r\n",
                     r->epoch, (unsigned long long)cli_track_pos(&s->tk));
            ex = extra;
        }
    } else {
        kind = RT_LEAN_POLL;
        poll_target(L, s, target, sizeof(target), 0);
    }
    s->st = S_CONN;
    s->start_us = now_us(L);
    rc = rt_lean_conn_start(L->eng, conn_of(s), kind,
                            (const struct sockaddr *)&L->addr, L->host, target,
                            ex, s);
    if (rc == 0) {
        L->active++;
        return;
    }
    L->rep.errors++;
    L->rep.err_connect++;
    if (!resource_failure(L, rt_lean_last_sys(L->eng)))
        cli_errf(L->out, "cannot start a connection: %s", rt_strerror(rc));
    s->st = S_DONE;
    s->stop = 1;
    settle(L, s);
}

/* ------------------------------------------------------------------ */
/* Publishing                                                          */

static void publish_one(struct load *L, struct pub *pb, uint64_t due)
{
    struct slot *s = slot_at(L, pb->slot);
    char id[24];
    rt_msg m;
    char *json;
    size_t len;

    if (s->st != S_OPEN) {
        L->rep.not_sent++;
        return;
    }
    if (L->raw) {
        size_t n = cli_raw_fill(L->content, L->msg_size, L->raw_tpl,
                                L->raw_pad, s->idx, pb->sent + 1, due);

        if (n > 0 && rt_lean_ws_send(conn_of(s), L->content, n) == 0) {
            pb->sent++;
            L->rep.sent++;
            if (due >= L->warm_us)
                L->rep.measured_sent++;
            pb->unacked++;
        } else {
            L->rep.send_errors++;
        }
        return;
    }
    fill_content(L, (unsigned)(pb - L->pubs), pb->seq + 1, due);
    snprintf(id, sizeof(id), "%llu", (unsigned long long)(pb->seq + 1));
    rt_msg_init(&m, RT_MSG_TEXT);
    m.id = id;
    m.u.text.content = L->content;
    if (rt_msg_encode(&m, &json, &len) != 0) {
        L->rep.send_errors++;
        return;
    }
    if (rt_lean_ws_send(conn_of(s), json, len) == 0) {
        L->rep.sent++;
        if (L->sc.n > 0)
            L->sc.ph[L->cur_ph].sent++;
        if (due >= L->warm_us)
            L->rep.measured_sent++;
        pb->unacked++;
    } else {
        L->rep.send_errors++;
    }
    rt_free(json);
}

/* A publisher with nothing to send in this phase (a scenario's rate 0;
   the closed model's -r 0 is no limit, not none). */
static int pub_idle(const struct load *L, const struct pub *pb)
{
    return pb->interval_us <= 0 && (L->in_flight == 0 || L->sc.n > 0);
}

/* Whether |pb| may send once due: the closed model waits for an ack or
   its connection, which re-arm the timer themselves (pub_refill). */
static int pub_ready(struct load *L, const struct pub *pb)
{
    if (pub_idle(L, pb) || pb->next_us >= L->sched_end_us)
        return 0;
    return L->in_flight == 0 ||
           (pb->unacked < L->in_flight && slot_at(L, pb->slot)->st == S_OPEN);
}

/*
 * Send what publisher |pb| owes by |now|.  The open model keeps to the
 * schedule whatever the server does, and latency counts from each due
 * time; the closed model (--in-flight) sends only while fewer than N
 * messages await their ack (or echo), at most at the rate, and latency
 * counts from the real send.
 */
static void pub_fill(struct load *L, struct pub *pb, uint64_t now)
{
    unsigned i = (unsigned)(pb - L->pubs), n = 0;

    if (pub_idle(L, pb))
        return;
    while (pb->next_us <= now && pb->next_us < L->sched_end_us &&
           n++ < PUB_BURST_MAX) {
        if (L->in_flight > 0) {
            if (pb->unacked >= L->in_flight ||
                slot_at(L, pb->slot)->st != S_OPEN)
                break;
            publish_one(L, pb, now);
            pb->seq++;
            pb->next_us = now + (uint64_t)pb->interval_us;
            continue;
        }
        publish_one(L, pb, pb->next_us);
        pb->seq++;
        pb->next_us =
            L->sched0_us +
            (uint64_t)((double)(pb->seq - pb->seq0) * pb->interval_us) +
            (uint64_t)(pb->interval_us * i / L->npubs);
    }
}

/* Send every message due by |now| in the current schedule. */
static void publish_due(struct load *L, uint64_t now)
{
    unsigned i;

    for (i = 0; i < L->npubs; i++)
        pub_fill(L, &L->pubs[i], now);
}

static void on_pub_tick(uv_timer_t *tm);

/* Have the publishing timer fire by |at| at the latest. */
static void pub_wake(struct load *L, uint64_t at, uint64_t now)
{
    if (at >= L->pub_wake_us)
        return;
    L->pub_wake_us = at;
    uv_timer_start(&L->pub_timer, on_pub_tick,
                   at > now ? (at - now + 999) / 1000 : 0, 0);
}

/* An ack, an echo or a reconnection freed |pb|'s window (closed model). */
static void pub_refill(struct load *L, struct pub *pb)
{
    uint64_t now;

    if (L->in_flight == 0 || L->phase != P_RUN)
        return;
    now = now_us(L);
    pub_fill(L, pb, now);
    if (pub_ready(L, pb))
        pub_wake(L, pb->next_us, now);
}

/* Drop the phase's share of the open subscribers, evenly spread. */
static void drop_subscribers(struct load *L, size_t k)
{
    struct cli_phase *p = &L->sc.ph[k];
    double acc = 0;
    size_t i;

    for (i = 0; i < L->nslots; i++) {
        struct slot *s = slot_at(L, i);

        if (s->role != ROLE_SUB || s->st != S_OPEN)
            continue;
        acc += p->drop;
        if (acc < 1 - 1e-9)
            continue;
        acc -= 1;
        s->planned = 1;
        s->back_ph = (uint8_t)(k + 1);
        p->dropped++;
        rt_lean_conn_abort(conn_of(s));
    }
}

/* Scenario phase |k| begins: its rate, its drop. */
static void enter_phase(struct load *L, size_t k)
{
    struct cli_phase *p = &L->sc.ph[k];
    unsigned i;

    L->cur_ph = k;
    L->sched0_us = L->run0_us + p->start_ms * 1000;
    L->sched_end_us = L->sched0_us + p->dur_ms * 1000;
    for (i = 0; i < L->npubs; i++) {
        struct pub *pb = &L->pubs[i];

        pb->seq0 = pb->seq;
        pb->interval_us = p->rate > 0 ? 1e6 * L->npubs / p->rate : 0;
        pb->next_us =
            L->sched0_us + (uint64_t)(pb->interval_us * i / L->npubs);
    }
    if (p->drop > 0)
        drop_subscribers(L, k);
}

static void on_pub_tick(uv_timer_t *tm)
{
    struct load *L = tm->data;
    uint64_t now = now_us(L), next;
    unsigned i;

    L->pub_wake_us = UINT64_MAX;
    if (L->phase != P_RUN)
        return;
    publish_due(L, now);
    while (L->sc.n > 0 && now >= L->sched_end_us && L->cur_ph + 1 < L->sc.n) {
        enter_phase(L, L->cur_ph + 1);
        publish_due(L, now);
    }
    /* sleep until the next message or phase is due, not a fixed tick:
       at low rates the wakeups would cost more than the messages */
    next =
        L->sc.n > 0 && L->cur_ph + 1 < L->sc.n ? L->sched_end_us : UINT64_MAX;
    for (i = 0; i < L->npubs; i++)
        if (pub_ready(L, &L->pubs[i]) && L->pubs[i].next_us < next)
            next = L->pubs[i].next_us;
    if (next != UINT64_MAX)
        pub_wake(L, next, now);
}

/* ------------------------------------------------------------------ */
/* Phases                                                              */

static void begin_close(struct load *L)
{
    size_t i;

    if (L->phase >= P_CLOSE)
        return;
    if (L->phase == P_RUN || L->phase == P_DRAIN)
        L->rep.run_s =
            (double)((now_us(L) < L->run_end_us ? now_us(L) : L->run_end_us) -
                     L->run0_us) /
            1e6;
    L->phase = P_CLOSE;
    L->close_end_us = now_us(L) + 2000000;
    uv_timer_stop(&L->pub_timer);
    for (i = 0; i < L->nslots; i++) {
        struct slot *s = slot_at(L, i);

        if (rt_lean_conn_active(conn_of(s)))
            rt_lean_conn_close(conn_of(s), 1000);
        if (s->st != S_CONN && s->st != S_OPEN)
            s->st = S_DONE;
    }
}

static void finish_loop(struct load *L)
{
    L->phase = P_END;
    uv_timer_stop(&L->sweep_timer);
    uv_timer_stop(&L->prog_timer);
    uv_timer_stop(&L->pub_timer);
    uv_signal_stop(&L->sig_int);
    uv_signal_stop(&L->sig_term);
    uv_stop(L->loop);
}

static int drained(struct load *L)
{
    size_t i;

    for (i = 0; i < L->npubs; i++)
        if (L->pubs[i].unacked > 0 &&
            slot_at(L, L->pubs[i].slot)->st == S_OPEN)
            return 0;
    for (i = 0; i < L->nslots; i++) {
        struct slot *s = slot_at(L, i);

        if (s->role == ROLE_SUB && s->st != S_DONE && !L->raw &&
            cli_track_pos(&s->tk) < L->rooms[s->room].last_acked)
            return 0;
    }
    return 1;
}

static void start_run(struct load *L)
{
    uint64_t now = now_us(L);
    unsigned i;

    /* what the connections hold, not the allocator's peak of the ramp
       (a burst of TLS handshakes leaves freed pages mapped) */
    malloc_trim(0);
    /* a scenario's later subscribers are not connected yet */
    if (L->sc.n == 0 || L->sc_conns0 == L->sc.max_conns)
        L->rep.rss_idle_kb = rss_kb();
    L->rep.ramp_s = (double)now / 1e6;
    L->phase = P_RUN;
    L->run0_us = now;
    L->warm_us = now + L->rep.warmup_ms * 1000;
    L->run_end_us = now + L->rep.duration_ms * 1000;
    L->cpu0 = cpu_s(NULL, NULL);
    L->sched0_us = now;
    L->sched_end_us = L->run_end_us;
    for (i = 0; i < L->npubs; i++)
        L->pubs[i].next_us =
            now + (uint64_t)(L->pubs[i].interval_us * i / L->npubs);
    if (L->sc.n > 0) {
        size_t j;

        for (j = L->npubs; j < L->nslots; j++) {
            uint64_t t =
                cli_scenario_conn_at(&L->sc, (unsigned)(j - L->npubs));

            if (j - L->npubs >= L->sc_conns0)
                slot_at(L, j)->due_us =
                    t == UINT64_MAX ? UINT64_MAX : now + t * 1000;
        }
        enter_phase(L, 0);
    }
    L->pub_wake_us = UINT64_MAX;
    if (L->sc.n > 0 || (L->npubs > 0 && (L->rep.rate > 0 || L->in_flight > 0)))
        pub_wake(L, now, now);
}

static void on_sweep(uv_timer_t *tm)
{
    struct load *L = tm->data;
    uint64_t now = now_us(L);
    size_t i;

    if (L->phase == P_CLOSE) {
        if (L->active == 0 || now >= L->close_end_us)
            finish_loop(L);
        return;
    }
    for (i = 0; i < L->nslots; i++) {
        struct slot *s = slot_at(L, i);

        /* draining, a dropped subscriber comes back at once to resume */
        if (s->st == S_WAIT && L->phase == P_DRAIN && s->role == ROLE_SUB)
            s->due_us = now;
        if (s->st == S_WAIT && s->due_us <= now)
            start_slot(L, s);
        else if (s->st == S_CONN && now - s->start_us > HANDSHAKE_TIMEOUT_US)
            rt_lean_conn_abort(conn_of(s)); /* on_close: not opened */
    }
    if (L->phase == P_RAMP && L->settled >= L->nslots)
        start_run(L);
    if (L->phase == P_RUN && now >= L->run_end_us) {
        L->rep.run_s = (double)(L->run_end_us - L->run0_us) / 1e6;
        L->phase = P_DRAIN;
        L->drain_end_us = now + L->drain_us;
        uv_timer_stop(&L->pub_timer);
    }
    if (L->phase == P_DRAIN && (drained(L) || now >= L->drain_end_us))
        begin_close(L);
}

static void progress(struct load *L, int final)
{
    uint64_t now = now_us(L), sent = L->rep.sent,
             deliv = cli_report_total(&L->rep, TOT_DELIVERED);
    double dt = (double)(now - L->prog_last_us) / 1e6, cpu = cpu_s(NULL, NULL);
    static const char *names[] = {"ramp", "run", "drain", "close", "done"};
    char a[24] = "-", b[24] = "-";
    rt_hist *h;
    unsigned open = 0;
    int k;

    if (L->quiet)
        return;
    if (rt_hist_new_default(&h) == 0) {
        for (k = 0; k < TR_N; k++)
            rt_hist_merge(h, L->rep.tr[k].lat);
        if (rt_hist_count(h) > 0) {
            cli_fmt_us(a, sizeof(a), (double)rt_hist_percentile(h, 50));
            cli_fmt_us(b, sizeof(b), (double)rt_hist_percentile(h, 99));
        }
        rt_hist_free(h);
    }
    for (k = 0; k < TR_N; k++)
        open += L->rep.tr[k].open;
    if (dt <= 0)
        dt = 1;
    fprintf(stderr,
            "%s%s[%6.1fs] %-5s subs %u/%u | sent %llu (%.0f/s) | recv %llu "
            "(%.0f/s) | p50 %s p99 %s | errors %llu | cpu %.0f%%%s",
            L->tty ? "\r\033[K" : "", L->wtag, (double)now / 1e6,
            L->sc.n > 0 && L->phase == P_RUN ? L->sc.ph[L->cur_ph].name
                                             : names[L->phase],
            open, L->rep.subscribers, (unsigned long long)sent,
            (double)(sent - L->prog_last_sent) / dt, (unsigned long long)deliv,
            (double)(deliv - L->prog_last_deliv) / dt, a, b,
            (unsigned long long)L->rep.errors,
            (cpu - L->prog_last_cpu) * 100 / dt, L->tty && !final ? "" : "\n");
    fflush(stderr);
    L->prog_last_sent = sent;
    L->prog_last_deliv = deliv;
    L->prog_last_us = now;
    L->prog_last_cpu = cpu;
}

/* Close interval k of the time series (at k * --interval). */
static void series_point(struct load *L)
{
    uint64_t sent = L->rep.sent,
             deliv = cli_report_total(&L->rep, TOT_DELIVERED),
             errs = L->rep.errors, open = 0;
    size_t i;
    int k;

    for (k = 0; k < TR_N; k++)
        open += L->rep.tr[k].open;
    for (i = 0; !L->raw && i < L->npubs; i++)
        open += slot_at(L, L->pubs[i].slot)->st == S_OPEN;
    L->ser_k++;
    if (cli_report_point(&L->rep, L->ser_k * L->interval_ms, open,
                         sent - L->ser_sent, deliv - L->ser_deliv,
                         errs - L->ser_err) != 0)
        cli_warnf(L->out, "out of memory for the time series");
    L->ser_sent = sent;
    L->ser_deliv = deliv;
    L->ser_err = errs;
}

static void on_progress(uv_timer_t *tm)
{
    series_point(tm->data);
    progress(tm->data, 0);
}

static void on_signal(uv_signal_t *sg, int signum)
{
    struct load *L = sg->data;

    (void)signum;
    if (L->sigint++) {
        fputs("\n", stderr);
        _exit(RTCTL_EXIT_INTERRUPTED); /* a second one: at once */
    }
    L->rep.interrupted = 1;
    begin_close(L);
}

/* ------------------------------------------------------------------ */
/* Setup                                                               */

static int resolve(struct load *L, const rt_url *u, char *err, size_t len)
{
    struct addrinfo hints, *res = NULL;
    char port[16];
    int rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(port, sizeof(port), "%d", rt_url_port(u));
    rc = getaddrinfo(rt_url_host(u), port, &hints, &res);
    if (rc != 0 || res == NULL) {
        snprintf(err, len, "cannot resolve '%s': %s", rt_url_host(u),
                 gai_strerror(rc));
        return -1;
    }
    memcpy(&L->addr, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}

/* Raise the soft descriptor limit to the hard one; say when it is short. */
static void raise_nofile(struct load *L, size_t need)
{
    if (getrlimit(RLIMIT_NOFILE, &L->nofile) != 0)
        return;
    if (L->nofile.rlim_cur < L->nofile.rlim_max) {
        struct rlimit r = L->nofile;

        r.rlim_cur = r.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &r) == 0)
            L->nofile = r;
    }
    if (L->nofile.rlim_cur != RLIM_INFINITY && need > L->nofile.rlim_cur)
        cli_warnf(L->out,
                  "%zu connections need about %zu file descriptors, but the "
                  "limit is %llu (hard limit %llu): some will not open",
                  need - 16, need, (unsigned long long)L->nofile.rlim_cur,
                  (unsigned long long)L->nofile.rlim_max);
}

/* The engine's --source addresses and TLS; |err| says what was wrong. */
static int engine_setup(struct load *L, const struct cli_strlist *sources,
                        const char *cacert, int insecure, char *err,
                        size_t len)
{
    struct sockaddr_storage *sa = NULL;
    const struct sockaddr **pp = NULL;
    size_t ns = 0, j;
    int rc = 0;

    if (sources->n > 0) {
        if (cli_load_sources(sources->v, sources->n, &sa, &ns, err, len) != 0)
            return RT_EINVAL;
        pp = malloc(ns * sizeof(*pp));
        for (j = 0; pp != NULL && j < ns; j++)
            pp[j] = (const struct sockaddr *)&sa[j];
        rc = pp == NULL ? RT_ENOMEM : rt_lean_sources(L->eng, pp, ns);
        free(pp);
        free(sa);
        if (rc != 0)
            return rc;
    }
    if (L->sni[0] != '\0') {
        char why[256];

        rc = rt_lean_tls(L->eng, L->sni, cacert, insecure, why, sizeof(why));
        if (rc != 0 && rc != RT_ENOMEM)
            snprintf(err, len, "--cacert: %.200s", why);
    }
    return rc;
}

static void collect(struct load *L)
{
    double user, sys, cpu = cpu_s(&user, &sys);
    uint64_t now = now_us(L);
    size_t i;

    L->rep.cpu_user_s = user;
    L->rep.cpu_sys_s = sys;
    if (L->run0_us > 0 && now > L->run0_us) {
        double wall = (double)(now - L->run0_us) / 1e6;

        L->rep.cpu_pct = (cpu - L->cpu0) * 100 / wall;
    }
    L->rep.cpu_saturated = L->rep.cpu_pct >= 90;
    L->rep.rss_kb = rss_kb();
    if (L->run0_us > 0) {
        uint64_t end = now < L->run_end_us ? now : L->run_end_us;

        L->rep.measured_s =
            end > L->warm_us ? (double)(end - L->warm_us) / 1e6 : 0;
    }
    L->rep.tr[TR_SSE].frames += rt_lean_stats_get(L->eng)->sse_retries;
    L->rep.frames_total = L->rep.tr[TR_WS].frames + L->rep.tr[TR_SSE].frames +
                          L->rep.tr[TR_POLL].frames;
    /*
     * What each subscriber never received up to the last acked seq of its
     * room.  After Ctrl-C, messages still on their way would count as
     * lost, so only the holes a subscriber saw are counted then.
     */
    for (i = 0; i < L->nslots; i++) {
        struct slot *s = slot_at(L, i);

        if (s->role != ROLE_SUB || s->tk.next == 0)
            continue;
        if (!L->rep.interrupted)
            cli_track_finish(&s->tk,
                             L->raw ? L->pubs[s->pub].sent
                                    : L->rooms[s->room].last_acked,
                             &L->rep.tr[s->tr].c);
    }
}

/* The options of --raw, --in-flight, --workers and --start-at. */
static int check_plan(struct load *L, int raw, uint64_t conns, uint64_t rooms,
                      uint64_t workers, const char *start_at,
                      int64_t *start_ms)
{
    char err[200];

    if (L->raw_tpl != NULL && !raw) {
        cli_opts_error(&load_help, "--message is for --raw");
        return -1;
    }
    if (raw && L->raw_tpl != NULL && !cli_raw_template_ok(L->raw_tpl)) {
        cli_opts_error(&load_help,
                       "--message: '%s' has no {marker}: echoes could not "
                       "be told apart",
                       L->raw_tpl);
        return -1;
    }
    if (raw && L->raw_tpl != NULL && strlen(L->raw_tpl) > (1u << 20)) {
        cli_opts_error(&load_help, "--message: over 1 MiB");
        return -1;
    }
    if (workers == 0 || workers > 64) {
        cli_opts_error(&load_help, "--workers: 1 to 64, please");
        return -1;
    }
    if (workers > (raw ? conns : rooms)) {
        /* a room lives in one worker: its loss and order stay exact */
        cli_opts_error(&load_help,
                       raw ? "--workers %llu: more workers than "
                             "--connections"
                           : "--workers %llu: needs --rooms %llu or more "
                             "(each room is one worker's)",
                       (unsigned long long)workers,
                       (unsigned long long)workers);
        return -1;
    }
    if (start_at != NULL &&
        cli_start_at_parse(start_at, start_ms, err, sizeof(err)) != 0) {
        cli_opts_error(&load_help, "%s", err);
        return -1;
    }
    L->raw = raw;
    return 0;
}

/*
 * Worker |w| of |nw| keeps the rooms r with r % nw == w, their
 * subscribers and publishers; --raw splits connections the same way.
 */
static int mine(const struct load *L, uint64_t room_or_conn)
{
    return L->nworkers <= 1 ||
           room_or_conn % L->nworkers == (uint64_t)L->worker_index;
}

/*
 * The summary, the files, the thresholds: the end of one process's run
 * and of a merge of workers.  Returns the exit status.
 */
static int report_out(struct cli_report *r, struct cli_out *out,
                      const char *report_json, const char *report_html,
                      int status)
{
    char err[300];
    unsigned opened = 0;
    size_t i, failed = cli_report_check(r);
    int k;

    cli_report_summary(r, stdout);
    if (report_json != NULL &&
        cli_report_json(r, report_json, err, sizeof(err)) != 0) {
        cli_errf(out, "%s", err);
        status = RTCTL_EXIT_RUNTIME;
    }
    if (report_html != NULL &&
        cli_report_html(r, report_html, err, sizeof(err)) != 0) {
        cli_errf(out, "%s", err);
        status = RTCTL_EXIT_RUNTIME;
    }
    for (k = 0; k < TR_N; k++)
        opened += r->tr[k].opened ? 1 : 0;
    if (opened == 0 && r->subscribers > 0 && !r->interrupted) {
        cli_errf(out, "%s '%s'",
                 r->raw ? "no connection could be opened to"
                        : "no subscriber could connect to",
                 r->url);
        status = RTCTL_EXIT_CONNECT;
    }
    if (failed > 0 && status == RTCTL_EXIT_OK) {
        for (i = 0; i < r->nth; i++)
            if (!r->th[i].ok)
                cli_errf(out, "threshold '%s' failed", r->th[i].expr);
        status = RTCTL_EXIT_CHECK;
    }
    if (r->interrupted)
        status = RTCTL_EXIT_INTERRUPTED;
    if (cli_out_finish(out) != 0 && status == RTCTL_EXIT_OK)
        status = RTCTL_EXIT_RUNTIME;
    return status;
}

/* The parent of --workers: wait, merge, report. */
static int merge_workers(struct load *L, struct cli_workers *wk,
                         const char *report_json, const char *report_html,
                         struct cli_strlist *thresholds)
{
    struct cli_report *r = &L->rep;
    char err[300];
    int status = RTCTL_EXIT_OK;

    r->subscribers = r->publishers = r->rooms = 0;
    r->rate = 0;
    r->workers = 0;
    if (cli_report_init(r) != 0) {
        cli_errf(L->out, "out of memory");
        return RTCTL_EXIT_RUNTIME;
    }
    if (cli_workers_wait(wk, r, err, sizeof(err)) != 0) {
        cli_errf(L->out, "%s", err);
        status = RTCTL_EXIT_RUNTIME;
    }
    if (r->workers == 0) {
        cli_report_cleanup(r);
        free(r->th);
        cli_strlist_free(thresholds);
        return RTCTL_EXIT_RUNTIME;
    }
    status = report_out(r, L->out, report_json, report_html, status);
    cli_workers_free(wk, r);
    cli_report_cleanup(r);
    free(r->th);
    cli_strlist_free(thresholds);
    return status;
}

static void close_cb_noop(uv_handle_t *h)
{
    (void)h;
}

int cmd_load(int argc, char **argv)
{
    struct cli_global_opts g = {0, 0, NULL};
    struct cli_out out;
    struct load L;
    struct cli_strlist thresholds = {NULL, 0}, sources = {NULL, 0};
    const char *transport = "ws", *rate_s = "10/s", *rate_pp = NULL,
               *connect_rate_s = NULL, *room_prefix = "load",
               *report_json = NULL, *user = NULL, *cacert = NULL,
               *scenario = NULL, *report_html = NULL, *start_at = NULL;
    int raw = 0;
    uint64_t workers = 1;
    int64_t start_ms = 0;
    struct cli_workers wk;
    uint64_t conns = UINT64_MAX, duration = UINT64_MAX, warmup = 0, size = 64,
             rooms = 1, publishers = 1, drain = 5000, interval = 1000;
    double share[TR_N], rate = 0;
    char err[256];
    rt_url *u = NULL;
    rt_lean_cbs cbs = {on_open, on_ws, on_sse, on_poll, on_close};
    size_t i;
    int n, k, insecure = 0, status = RTCTL_EXIT_OK;
    struct cli_opt opts[] = {
        OPT_GROUP("Load shape"),
        OPT_UINT('c', "connections", &conns, "N", "subscribers (default 10)"),
        OPT_STR('r', "rate", &rate_s, "RATE",
                "messages per second in all, 100 or 100/s or 600/m "
                "(default 10/s; 0: no messages, idle connections)"),
        OPT_STR(0, "rate-per-publisher", &rate_pp, "RATE",
                "messages per second of each publisher (instead of --rate)"),
        OPT_DURATION('d', "duration", &duration,
                     "how long to publish, warm-up included (default 10s)"),
        OPT_DURATION(0, "warmup", &warmup,
                     "first part of --duration left out of the figures "
                     "(default 0)"),
        OPT_BYTES(0, "size", &size,
                  "bytes of each message's content (default 64)"),
        OPT_UINT(0, "rooms", &rooms, "N",
                 "rooms; subscribers and publishers spread evenly "
                 "(default 1)"),
        OPT_UINT(0, "publishers", &publishers, "N",
                 "WebSocket publishers (default 1)"),
        OPT_STR(0, "transport", &transport, "SPEC",
                "subscribers' transport: ws, sse, poll, or a mix like "
                "ws:70,sse:20,poll:10 (default ws)"),
        OPT_STR(0, "connect-rate", &connect_rate_s, "RATE",
                "open connections at this rate, per second "
                "(default: all at once)"),
        OPT_STR(0, "room-prefix", &room_prefix, "PREFIX",
                "rooms are PREFIX-1, PREFIX-2... (default load)"),
        OPT_STR(0, "user", &user, "NAME",
                "one user id for every connection (default: load-N "
                "each; the server's --max-user-connections must allow "
                "it)"),
        OPT_DURATION(0, "drain", &drain,
                     "after publishing, wait this long at most for the "
                     "last messages (default 5s)"),
        OPT_UINT(0, "in-flight", &L.in_flight, "N",
                 "closed model: each publisher keeps at most N messages "
                 "unacknowledged (--raw: not echoed); with -r 0, as fast "
                 "as that allows"),
        OPT_STR('f', "scenario", &scenario, "FILE",
                "run the phases of the JSON scenario FILE: ramps, rates, "
                "drops (instead of --duration)"),
        OPT_BOOL(0, "raw", &raw,
                 "any WebSocket echo server: each connection sends "
                 "messages and times their echoes"),
        OPT_STR(0, "message", &L.raw_tpl, "TEMPLATE",
                "--raw message; {marker} becomes the marker that matches "
                "its echo (default: {marker} padded to --size)"),
        OPT_UINT(0, "workers", &workers, "N",
                 "run in N processes sharing the plan, one report "
                 "(default 1)"),
        OPT_STR(0, "start-at", &start_at, "TIME",
                "start at TIME: HH:MM[:SS], YYYY-MM-DDTHH:MM:SS[Z], "
                "@UNIXSECONDS or +DURATION"),
        OPT_STR_LIST(0, "source", &sources, "ADDR",
                     "connect from ADDR, or from each address of a range "
                     "like 127.0.0.1-127.0.0.8 in turn (repeatable)"),
        OPT_GROUP("TLS (wss://, https://)"),
        OPT_STR(0, "cacert", &cacert, "PEM",
                "trust the certificates in PEM instead of the system's"),
        OPT_BOOL('k', "insecure", &insecure,
                 "do not check the server's TLS certificate"),
        OPT_GROUP("Output"),
        OPT_DURATION(0, "interval", &interval,
                     "progress on stderr every DURATION (default 1s)"),
        OPT_STR(0, "report-json", &report_json, "FILE",
                "write every figure and the full histograms to FILE"),
        OPT_STR(0, "report-html", &report_html, "FILE",
                "write a self-contained page plotting the run to FILE"),
        OPT_STR_LIST(0, "threshold", &thresholds, "EXPR",
                     "fail (exit 6) unless EXPR holds: p99<50ms, lost==0, "
                     "errors<0.1%... (repeatable)"),
        CLI_GLOBAL_OPTS(&g),
        OPT_END(),
    };

    memset(&L, 0, sizeof(L));
    n = cli_opts_parse(&load_help, opts, argc, argv);
    if (n < 0)
        return n == CLI_OPTS_EXIT_OK ? RTCTL_EXIT_OK : RTCTL_EXIT_USAGE;
    if (cli_out_init(&out, &load_help, &g, 0) != 0)
        return RTCTL_EXIT_USAGE;
    if (n != 1) {
        cli_opts_error(&load_help,
                       n == 0 ? "no URL given" : "only one URL, please");
        return RTCTL_EXIT_USAGE;
    }
    L.out = &out;
    if (rt_url_parse(&u, argv[1], err, sizeof(err)) != 0) {
        cli_opts_error(&load_help, "'%s': %s", argv[1], err);
        return RTCTL_EXIT_USAGE;
    }
    if (scenario != NULL && duration != UINT64_MAX) {
        cli_opts_error(&load_help, "--duration and --scenario: the "
                                   "scenario's phases give the duration");
        rt_url_free(u);
        return RTCTL_EXIT_USAGE;
    }
    if (scenario != NULL && (raw || workers > 1)) {
        /* its subscribers come and go on one schedule of one process */
        cli_opts_error(&load_help, "--scenario: not with %s",
                       raw ? "--raw" : "--workers");
        rt_url_free(u);
        return RTCTL_EXIT_USAGE;
    }
    if (duration == UINT64_MAX)
        duration = 10000;
    if (conns == UINT64_MAX)
        conns = scenario != NULL ? 0 : 10;
    if ((conns == 0 && scenario == NULL) || conns > MAX_CONNS || rooms == 0 ||
        rooms > MAX_ROOMS || publishers > MAX_CONNS || size > (1u << 20) ||
        size < 40) {
        cli_opts_error(&load_help,
                       "--connections 1..%u, --rooms 1..%u, --size "
                       "40..1m, please",
                       MAX_CONNS, MAX_ROOMS);
        rt_url_free(u);
        return RTCTL_EXIT_USAGE;
    }
    if (raw && strcmp(transport, "ws") != 0) {
        cli_opts_error(&load_help,
                       "--raw speaks WebSocket only, not "
                       "--transport '%s'",
                       transport);
        rt_url_free(u);
        return RTCTL_EXIT_USAGE;
    }
    if (raw) {
        publishers = conns; /* each connection sends its own messages */
        transport = "ws";
        rooms = 1;
    }
    if (check_plan(&L, raw, conns, rooms, workers, start_at, &start_ms) != 0) {
        rt_url_free(u);
        return RTCTL_EXIT_USAGE;
    }
    if (parse_transports(transport, share) != 0) {
        cli_opts_error(&load_help,
                       "--transport: '%s' is not ws, sse, poll "
                       "or a mix like ws:70,sse:30",
                       transport);
        rt_url_free(u);
        return RTCTL_EXIT_USAGE;
    }
    if (rate_pp != NULL) {
        if (cli_load_parse_rate(rate_pp, &rate) != 0) {
            cli_opts_error(&load_help,
                           "--rate-per-publisher: '%s' is not a "
                           "rate like 100/s",
                           rate_pp);
            rt_url_free(u);
            return RTCTL_EXIT_USAGE;
        }
        rate *= (double)publishers;
    } else if (cli_load_parse_rate(rate_s, &rate) != 0) {
        cli_opts_error(&load_help, "--rate: '%s' is not a rate like 100/s",
                       rate_s);
        rt_url_free(u);
        return RTCTL_EXIT_USAGE;
    }
    if (connect_rate_s != NULL &&
        (cli_load_parse_rate(connect_rate_s, &L.connect_rate) != 0 ||
         L.connect_rate <= 0)) {
        cli_opts_error(&load_help,
                       "--connect-rate: '%s' is not a rate like "
                       "500/s",
                       connect_rate_s);
        rt_url_free(u);
        return RTCTL_EXIT_USAGE;
    }
    if (scenario != NULL) {
        if (cli_scenario_load(&L.sc, scenario, (unsigned)conns, rate,
                              MAX_CONNS, err, sizeof(err)) != 0 ||
            (L.sc.max_conns == 0 &&
             snprintf(err, sizeof(err), "scenario '%s': no subscribers",
                      scenario) > 0)) {
            cli_opts_error(&load_help, "%s", err);
            cli_scenario_free(&L.sc);
            rt_url_free(u);
            return RTCTL_EXIT_USAGE;
        }
        L.sc_conns0 = (unsigned)conns;
        conns = L.sc.max_conns;
        duration = L.sc.total_ms;
        rate = cli_scenario_mean_rate(&L.sc);
        L.rep.scenario = &L.sc;
    }
    if (rate > 0 && publishers == 0) {
        cli_opts_error(&load_help, "a --rate needs --publishers 1 or more");
        cli_scenario_free(&L.sc);
        rt_url_free(u);
        return RTCTL_EXIT_USAGE;
    }
    if (warmup >= duration && rate > 0) {
        cli_opts_error(&load_help, "--warmup must be shorter than "
                                   "--duration");
        cli_scenario_free(&L.sc);
        rt_url_free(u);
        return RTCTL_EXIT_USAGE;
    }
    if (strlen(room_prefix) > 50 ||
        !rt_room_valid(room_prefix, strlen(room_prefix)) ||
        (user != NULL &&
         (strlen(user) > 40 || !rt_room_valid(user, strlen(user))))) {
        cli_opts_error(&load_help, "--room-prefix and --user: up to 50 and "
                                   "40 of A-Z a-z 0-9 . _ -");
        cli_scenario_free(&L.sc);
        rt_url_free(u);
        return RTCTL_EXIT_USAGE;
    }
    if (interval == 0)
        interval = 1000;
    L.rep.th = calloc(thresholds.n ? thresholds.n : 1, sizeof(*L.rep.th));
    for (i = 0; i < thresholds.n; i++) {
        if (cli_threshold_parse(&L.rep.th[i], thresholds.v[i], err,
                                sizeof(err)) != 0) {
            cli_opts_error(&load_help, "--threshold %s", err);
            free(L.rep.th);
            cli_strlist_free(&thresholds);
            cli_scenario_free(&L.sc);
            rt_url_free(u);
            return RTCTL_EXIT_USAGE;
        }
    }
    L.rep.nth = thresholds.n;

    G = &L;
    L.user = user;
    L.quiet = g.quiet;
    L.tty = isatty(2);
    L.interval_ms = interval;
    L.drain_us = drain * 1000;
    L.msg_size = (size_t)size;
    L.rng = (uint32_t)uv_hrtime() | 1;
    rt_backoff_policy_init(&L.bop);
    L.rep.url = argv[1];
    L.rep.transport_spec = raw ? "raw" : transport;
    L.rep.raw = raw;
    L.rep.in_flight = L.in_flight;
    L.rep.interval_ms = interval;
    L.rep.workers = 1;
    L.rep.subscribers = (unsigned)conns;
    L.rep.publishers = (unsigned)publishers;
    L.rep.rooms = (unsigned)rooms;
    L.rep.rate = rate;
    L.rep.size = size;
    L.rep.duration_ms = duration;
    L.rep.warmup_ms = warmup;
    {
        const char *path = rt_url_path(u);
        size_t pl = strlen(path);
        char *h = NULL;

        while (pl > 0 && path[pl - 1] == '/')
            pl--;
        snprintf(L.prefix, sizeof(L.prefix), "%.*s", (int)pl, path);
        if (rt_url_is_tls(u))
            snprintf(L.sni, sizeof(L.sni), "%s", rt_url_host(u));
        if (rt_url_host_header(u, &h) == 0) {
            snprintf(L.host, sizeof(L.host), "%s", h);
            rt_free(h);
        }
    }
    if (resolve(&L, u, err, sizeof(err)) != 0) {
        cli_errf(&out, "%s", err);
        rt_url_free(u);
        free(L.rep.th);
        cli_strlist_free(&thresholds);
        cli_strlist_free(&sources);
        cli_scenario_free(&L.sc);
        return RTCTL_EXIT_CONNECT;
    }
    if (workers > 1) {
        int w = cli_workers_fork(&wk, (unsigned)workers, err, sizeof(err));

        if (w == -2) {
            cli_errf(&out, "%s", err);
            rt_url_free(u);
            free(L.rep.th);
            cli_strlist_free(&thresholds);
            cli_strlist_free(&sources);
            return RTCTL_EXIT_RUNTIME;
        }
        if (w == -1) {
            rt_url_free(u);
            cli_strlist_free(&sources);
            return merge_workers(&L, &wk, report_json, report_html,
                                 &thresholds);
        }
        L.nworkers = (unsigned)workers;
        L.worker_index = (unsigned)w;
        snprintf(L.wtag, sizeof(L.wtag), "w%d ", w + 1);
        L.tty = 0;
    }
    raise_nofile(&L, (size_t)(conns + publishers) / workers + 16);

    /* rooms, publishers, slots: publishers first, so they connect first */
    L.nrooms = (unsigned)rooms;
    L.rooms = calloc(rooms, sizeof(*L.rooms));
    for (i = 0; i < conns + (raw ? 0 : publishers); i++)
        if (mine(&L, raw              ? i
                     : i < publishers ? i % rooms
                                      : (i - publishers) % rooms)) {
            L.nslots++;
            L.npubs += raw || i < publishers;
        }
    L.pubs = calloc(L.npubs ? L.npubs : 1, sizeof(*L.pubs));
    L.stride = ((sizeof(struct slot) + 15) & ~(size_t)15) +
               ((rt_lean_conn_size() + 15) & ~(size_t)15);
    if (raw) {
        L.raw_pad = L.raw_tpl == NULL ? (size_t)size : 0;
        if (L.raw_tpl == NULL)
            L.raw_tpl = "{marker}";
        L.msg_size = cli_raw_size(L.raw_tpl, L.raw_pad);
        snprintf(L.raw_target, sizeof(L.raw_target), "%s%s%s",
                 L.prefix[0] ? L.prefix : "/", rt_url_query(u) ? "?" : "",
                 rt_url_query(u) ? rt_url_query(u) : "");
    }
    rt_url_free(u);
    L.loop = uv_default_loop();
    n = rt_lean_new(&L.eng, L.loop, 0, L.msg_size * 2 + 65536, &cbs, NULL);
    if (n == 0)
        n = engine_setup(&L, &sources, cacert, insecure, err, sizeof(err));
    if (n != 0) {
        if (n == RT_ENOMEM)
            cli_errf(&out, "out of memory");
        else
            cli_opts_error(&load_help, "%s", err);
        rt_lean_free(L.eng);
        free(L.rooms);
        free(L.pubs);
        free(L.rep.th);
        cli_strlist_free(&thresholds);
        cli_strlist_free(&sources);
        cli_scenario_free(&L.sc);
        return n == RT_ENOMEM ? RTCTL_EXIT_RUNTIME : RTCTL_EXIT_USAGE;
    }
    L.content = malloc(L.msg_size + 80);
    if (L.rooms == NULL || L.pubs == NULL || L.content == NULL ||
        cli_report_init(&L.rep) != 0) {
        cli_errf(&out, "out of memory for %zu connections", L.nslots);
        return RTCTL_EXIT_RUNTIME;
    }
    L.rep.rss_base_kb = rss_kb();
    L.slots = calloc(L.nslots ? L.nslots : 1, L.stride);
    if (L.slots == NULL) {
        cli_errf(&out, "out of memory for %zu connections", L.nslots);
        return RTCTL_EXIT_RUNTIME;
    }
    for (i = 0; i < rooms; i++)
        snprintf(L.rooms[i].name, sizeof(L.rooms[i].name), "%s-%zu",
                 room_prefix, i + 1);
    L.rep.subscribers = L.rep.publishers = L.rep.rooms = 0;
    for (i = 0; i < rooms; i++)
        L.rep.rooms += !raw && mine(&L, i);
    L.rep.rate =
        rate * (double)L.npubs / (double)(publishers ? publishers : 1);
    {
        double acc[TR_N] = {0};
        size_t gi, np = 0, nsub = 0;

        for (gi = 0, i = 0; gi < conns + (raw ? 0 : publishers); gi++) {
            int pub = raw || gi < publishers;
            uint64_t room = raw   ? 0
                            : pub ? gi % rooms
                                  : (gi - publishers) % rooms;
            struct slot *s;

            if (!mine(&L, raw ? gi : room))
                continue;
            s = slot_at(&L, i);
            rt_backoff_init(&s->bo, &L.bop);
            s->idx = (uint32_t)gi;
            s->due_us = L.connect_rate > 0
                            ? (uint64_t)((double)gi * 1e6 / L.connect_rate)
                            : 0;
            s->room = (uint32_t)room;
            if (pub) {
                s->pub = (uint32_t)np;
                L.pubs[np].slot = (uint32_t)i;
                L.pubs[np].interval_us =
                    rate > 0 ? 1e6 * (double)publishers / rate : 0;
                np++;
            }
            if (pub && !raw) {
                s->role = ROLE_PUB;
                s->tr = TR_WS;
                L.rep.publishers++;
                i++;
                continue;
            }
            s->role = ROLE_SUB;
            L.rep.subscribers++;
            if (raw)
                cli_track_start(&s->tk, 0);
            if (L.sc.n > 0 && gi - publishers >= L.sc_conns0) {
                /* connects on the scenario's schedule (start_run) */
                s->due_us = UINT64_MAX;
                s->settled = 1;
                L.settled++;
            }
            /* spread transports by largest deficit: exact shares */
            {
                int best = 0;
                double bd = -1e18;

                nsub++;
                for (k = 0; k < TR_N; k++) {
                    double d = share[k] * (double)nsub - acc[k];

                    if (share[k] > 0 && d > bd) {
                        bd = d;
                        best = k;
                    }
                }
                acc[best] += 1;
                s->tr = (uint8_t)best;
                L.rep.tr[best].conns++;
            }
            i++;
        }
    }
    if (start_ms > 0) {
        if (!L.quiet && L.worker_index == 0)
            fprintf(stderr, "rtctl load: waiting to start at %s\n", start_at);
        cli_start_at_wait(start_ms);
    }

    L.t0_ns = uv_hrtime();
    L.prog_last_cpu = cpu_s(NULL, NULL);
    uv_timer_init(L.loop, &L.pub_timer);
    uv_timer_init(L.loop, &L.sweep_timer);
    uv_timer_init(L.loop, &L.prog_timer);
    uv_signal_init(L.loop, &L.sig_int);
    uv_signal_init(L.loop, &L.sig_term);
    L.pub_timer.data = L.sweep_timer.data = L.prog_timer.data = &L;
    L.sig_int.data = L.sig_term.data = &L;
    uv_signal_start(&L.sig_int, on_signal, SIGINT);
    uv_signal_start(&L.sig_term, on_signal, SIGTERM);
    uv_timer_start(&L.sweep_timer, on_sweep, 0, SWEEP_MS);
    uv_timer_start(&L.prog_timer, on_progress, interval, interval);
    uv_run(L.loop, UV_RUN_DEFAULT);
    if (L.rep.sent != L.ser_sent || L.rep.errors != L.ser_err ||
        cli_report_total(&L.rep, TOT_DELIVERED) != L.ser_deliv)
        series_point(&L);
    progress(&L, 1);

    collect(&L);
    if (L.nworkers > 1) {
        char path[600];

        cli_workers_path(&wk, L.worker_index, path, sizeof(path));
        if (cli_report_json(&L.rep, path, err, sizeof(err)) != 0) {
            cli_errf(&out, "%s", err);
            status = RTCTL_EXIT_RUNTIME;
        }
    } else {
        if (L.phase == P_END && L.run0_us == 0 && !L.rep.interrupted)
            status = RTCTL_EXIT_CONNECT;
        status = report_out(&L.rep, &out, report_json, report_html, status);
    }
    /* teardown: every connection is closed; close the handles */
    uv_close((uv_handle_t *)&L.pub_timer, close_cb_noop);
    uv_close((uv_handle_t *)&L.sweep_timer, close_cb_noop);
    uv_close((uv_handle_t *)&L.prog_timer, close_cb_noop);
    uv_close((uv_handle_t *)&L.sig_int, close_cb_noop);
    uv_close((uv_handle_t *)&L.sig_term, close_cb_noop);
    for (i = 0; i < L.nslots; i++)
        rt_lean_conn_abort(conn_of(slot_at(&L, i)));
    L.phase = P_END;
    uv_run(L.loop, UV_RUN_DEFAULT);
    uv_loop_close(L.loop);
    rt_lean_free(L.eng);
    cli_report_cleanup(&L.rep);
    free(L.slots);
    free(L.rooms);
    free(L.pubs);
    free(L.content);
    free(L.rep.th);
    cli_strlist_free(&thresholds);
    cli_strlist_free(&sources);
    cli_scenario_free(&L.sc);
    G = NULL;
    return status;
}
