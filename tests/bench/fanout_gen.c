/*
 * fanout_gen.c: the load generator of tests/bench/fanout.sh.
 *
 * Fan-out mode (the default): opens N subscriber WebSockets to one room and
 * then one publisher, and has the publisher send text frames of a fixed
 * size as fast as a bounded window allows, for a warm-up and then a
 * measured interval.  Every frame carries its send time (CLOCK_MONOTONIC,
 * nanoseconds, between two '~' in "content"), so each subscriber computes
 * the latency of every delivery it reads.  Printed: deliveries per second,
 * latency percentiles (rt/hist.h, microseconds), and, given the server's
 * pid, its CPU (utime + stime over the measured interval) and memory
 * (VmRSS, VmHWM).
 *
 * Idle mode (-i): opens N WebSockets, waits for things to settle, and
 * prints the server's VmRSS before and after, and the difference per
 * connection.
 *
 * The generator must not be the bottleneck, so it is not a general
 * WebSocket client: raw non-blocking sockets on epoll, one thread per -t
 * (connections spread round-robin), one recv of up to 256 KiB per ready
 * socket, frames parsed in place, a fixed handshake key (RFC 6455 1.3's
 * example, whose accept value is checked), and client frames masked with
 * the all-zero key, which RFC 6455 permits (the key should be
 * unpredictable, not non-zero) and which makes masking free.
 *
 * The window: the publisher sends only while sent - delivered / N is below
 * min(-W, -D / N) messages (at least 1), delivered counting deliveries to
 * all subscribers.  So the server's queues and the kernel's socket buffers
 * hold about W messages per subscriber and D deliveries in all at most, a
 * server that caps per-connection queues (rtctl --max-queue-bytes) never
 * has to cut off a subscriber that the generator is slow to read, and
 * latency stays bounded.  At saturation the latency is mostly that
 * window's queueing (Little's law: in flight / rate), so compare latencies
 * between servers at the same window, not with an unloaded round trip.
 * A small window costs throughput, not only latency: with one or two
 * messages per socket in flight a server cannot coalesce writes (Bun at
 * N=10,000 fell from 4.9 to 1 M/s with D=65,536), which is why the
 * default D leaves W in force for every N of the benchmark.
 *
 * Frames that carry no timestamp (welcome, presence, acks) are read and
 * ignored; pings are answered; a close frame or EOF from the server is
 * counted (by close code) and ends that connection.  The publisher reads
 * and discards what it receives (its own broadcast copies and acks).
 *
 * Output: one line "RESULT key=value ..." on stdout (the script parses
 * it); progress and errors on stderr.  Exit status: 0 when a figure was
 * measured, 1 on a usage error, 2 when the server could not be reached.
 *
 * Limits: plain ws:// only; IPv4 only; server frames must be unmasked and
 * at most 16 MiB; the timestamp is monotonic time, so the publisher and
 * the subscribers must run on one machine (they are one process here).
 */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "rt/hist.h"

#define MAX_THREADS 8
#define RBUF_SIZE ((size_t)256 << 10)
#define MAX_FRAME ((uint64_t)16 << 20)
#define TS_DIGITS 16
#define WS_KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define WS_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
#define CONNECT_TRIES 5

enum cstate { C_IDLE, C_CONNECTING, C_HANDSHAKE, C_OPEN, C_DEAD };

/* Phases, driven by worker 0 from the clock and the connection counts. */
enum phase {
    PH_CONNECT,
    PH_PUBCONNECT,
    PH_SETTLE,
    PH_WARMUP,
    PH_MEASURE,
    PH_DONE
};

typedef struct worker worker;

typedef struct conn {
    int fd;
    enum cstate state;
    int is_pub;
    int tries;
    int epout; /* EPOLLOUT armed */
    worker *w;
    char *carry; /* bytes of an incomplete frame or header */
    size_t carry_len;
    size_t carry_cap;
    char *out; /* bytes not yet written */
    size_t out_off;
    size_t out_len;
    size_t out_cap;
    int frag;         /* inside a fragmented message */
    uint64_t frag_ts; /* its timestamp, 0 if none seen yet */
} conn;

struct worker {
    int id;
    int ep;
    pthread_t th;
    conn *conns; /* this worker's subscribers */
    size_t nconns;
    size_t next;    /* next to start connecting */
    size_t pending; /* connecting or in handshake */
    rt_hist *hist;
    char *rbuf;
    size_t rcap;
    uint64_t measured; /* deliveries in PH_MEASURE */
    uint64_t other;    /* frames without a timestamp */
    uint64_t pub_rx;   /* frames read by the publisher */
    uint64_t pings;
    uint64_t close_codes[8];
    uint16_t close_code_val[8];
    uint64_t close_other;
    char pad1[64];
    _Atomic uint64_t delivered; /* every delivery, any phase */
    _Atomic uint64_t opened;
    _Atomic uint64_t failed;
    _Atomic uint64_t died; /* closed after opening */
    char pad2[64];
};

static struct {
    const char *host;
    int port;
    const char *path;
    const char *query;
    size_t nsubs;
    double duration;
    double warmup;
    double settle;
    size_t size;
    uint64_t window;
    uint64_t max_inflight;
    size_t batch;
    int threads;
    int server_pid;
    int idle;
    size_t max_pending;
    double connect_timeout;
    int verbose;
} opt = {"127.0.0.1", 0,    "/ws/bench", "user=bench", 100,     5.0,
         1.0,         -1.0, 100,         64,           1048576, 32,
         1,           0,    0,           512,          60.0,    0};

static struct sockaddr_in g_addr;
static char *g_request;
static size_t g_request_len;
static char *g_frame; /* one publisher frame, timestamp patched */
static size_t g_frame_len;
static size_t g_ts_off; /* offset of the digits in g_frame */
static worker g_workers[MAX_THREADS];
static _Atomic int g_phase = PH_CONNECT;
static _Atomic int g_stop;
static conn g_pub;
static uint64_t g_sent;
static uint64_t g_sent_measured;
static int g_pub_dead;

static uint64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "fanout_gen: %s: %s\n", what, strerror(errno));
    exit(2);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n);

    if (p == NULL) {
        fprintf(stderr, "fanout_gen: out of memory\n");
        exit(2);
    }
    return p;
}

static void reserve(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return;
    size_t n = *cap ? *cap : 256;
    while (n < need)
        n *= 2;
    char *p = realloc(*buf, n);
    if (p == NULL) {
        fprintf(stderr, "fanout_gen: out of memory\n");
        exit(2);
    }
    *buf = p;
    *cap = n;
}

/* ---- /proc readers */

typedef struct proc_sample {
    uint64_t ticks; /* utime + stime */
    uint64_t rss_kib;
    uint64_t hwm_kib;
} proc_sample;

static int proc_read(int pid, proc_sample *s)
{
    char path[64];
    char buf[4096];
    FILE *f;

    memset(s, 0, sizeof *s);
    if (pid <= 0)
        return -1;
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* Fields after the command name, which may hold spaces and parens. */
    char *p = strrchr(buf, ')');
    if (p == NULL)
        return -1;
    unsigned long ut = 0, st = 0;
    /* state ppid pgrp session tty tpgid flags minflt cminflt majflt
     * cmajflt utime stime */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
               &ut, &st) != 2)
        return -1;
    s->ticks = (uint64_t)ut + st;
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    while (fgets(buf, sizeof buf, f) != NULL) {
        unsigned long v;
        if (sscanf(buf, "VmRSS: %lu", &v) == 1)
            s->rss_kib = v;
        else if (sscanf(buf, "VmHWM: %lu", &v) == 1)
            s->hwm_kib = v;
    }
    fclose(f);
    return 0;
}

/* Ticks every CPU spent busy (not idle, not waiting for I/O), or 0. */
static uint64_t machine_busy_ticks(void)
{
    unsigned long long v[8] = {0};
    FILE *f = fopen("/proc/stat", "r");

    if (f == NULL)
        return 0;
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
                   &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n < 8)
        return 0;
    /* user nice system idle iowait irq softirq steal */
    return v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
}

static double self_cpu_s(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* ---- connections */

static void ep_set(conn *c, int out)
{
    struct epoll_event ev;

    ev.events = EPOLLIN | (out ? EPOLLOUT : 0);
    ev.data.ptr = c;
    if (epoll_ctl(c->w->ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        die("epoll_ctl");
    c->epout = out;
}

static void conn_start(conn *c)
{
    struct epoll_event ev;
    int one = 1;

    c->tries++;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        die("socket");
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&g_addr, sizeof g_addr) < 0 &&
        errno != EINPROGRESS)
        die("connect");
    c->state = C_CONNECTING;
    c->carry_len = 0;
    c->out_len = c->out_off = 0;
    c->frag = 0;
    ev.events = EPOLLOUT;
    ev.data.ptr = c;
    if (epoll_ctl(c->w->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
        die("epoll_ctl");
    c->epout = 1;
}

static void conn_close_fd(conn *c)
{
    if (c->fd >= 0) {
        epoll_ctl(c->w->ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
}

static void start_more(worker *w);

/* The connection failed before it opened: try again, or give up. */
static void conn_fail(conn *c, const char *why)
{
    worker *w = c->w;

    conn_close_fd(c);
    if (c->tries < CONNECT_TRIES && !atomic_load(&g_stop)) {
        conn_start(c);
        return;
    }
    if (opt.verbose || c->is_pub)
        fprintf(stderr, "fanout_gen: connection failed: %s\n", why);
    c->state = C_DEAD;
    if (c->is_pub) {
        g_pub_dead = 1;
        return;
    }
    w->pending--;
    atomic_fetch_add(&w->failed, 1);
    start_more(w);
}

static void conn_died(conn *c, int code)
{
    worker *w = c->w;

    conn_close_fd(c);
    c->state = C_DEAD;
    if (code >= 0) {
        int i;
        for (i = 0; i < 8; i++) {
            if (w->close_codes[i] && w->close_code_val[i] == code)
                break;
            if (w->close_codes[i] == 0) {
                w->close_code_val[i] = (uint16_t)code;
                break;
            }
        }
        if (i < 8)
            w->close_codes[i]++;
        else
            w->close_other++;
    }
    if (c->is_pub) {
        g_pub_dead = 1;
        fprintf(stderr, "fanout_gen: the publisher was closed (code %d)\n",
                code);
        return;
    }
    atomic_fetch_add(&w->died, 1);
}

static void start_more(worker *w)
{
    size_t cap = opt.max_pending / (size_t)opt.threads;

    if (cap == 0)
        cap = 1;
    while (w->pending < cap && w->next < w->nconns) {
        conn_start(&w->conns[w->next++]);
        w->pending++;
    }
}

/* Write what is queued; arm EPOLLOUT while something is left. */
static void conn_flush(conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
                         MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            if (errno == EINTR)
                continue;
            if (c->state == C_OPEN)
                conn_died(c, -1);
            else
                conn_fail(c, strerror(errno));
            return;
        }
        c->out_off += (size_t)n;
    }
    if (c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    int want = c->out_len > 0;
    if (want != c->epout)
        ep_set(c, want);
}

static void conn_queue(conn *c, const void *p, size_t n)
{
    if (c->out_off > 0 && c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    reserve(&c->out, &c->out_cap, c->out_len + n);
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
}

/* A client frame with the zero mask: header, key, payload as is. */
static size_t frame_header(unsigned char *h, int opcode, size_t len)
{
    size_t n = 0;

    h[n++] = (unsigned char)(0x80 | opcode);
    if (len < 126) {
        h[n++] = (unsigned char)(0x80 | len);
    } else if (len < 65536) {
        h[n++] = 0x80 | 126;
        h[n++] = (unsigned char)(len >> 8);
        h[n++] = (unsigned char)len;
    } else {
        h[n++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            h[n++] = (unsigned char)((uint64_t)len >> (8 * i));
    }
    memset(h + n, 0, 4);
    return n + 4;
}

static void send_pong(conn *c, const char *payload, size_t len)
{
    unsigned char h[14];
    size_t hl = frame_header(h, 0xA, len);

    conn_queue(c, h, hl);
    conn_queue(c, payload, len);
    conn_flush(c);
}

/*
 * The timestamp between two '~', or 0.  A server sends the same layout
 * every time but for the width of seq, so the offset where the last one
 * was found is tried before scanning: the scan was a tenth of the
 * generator's time at 6 M deliveries/s.
 */
static _Thread_local size_t ts_hint;

static uint64_t find_ts(const char *p, size_t len)
{
    const char *t;

    if (ts_hint + TS_DIGITS + 2 <= len && p[ts_hint] == '~' &&
        p[ts_hint + TS_DIGITS + 1] == '~') {
        t = p + ts_hint;
    } else {
        t = memchr(p, '~', len);
        if (t == NULL || (size_t)(p + len - t) < TS_DIGITS + 2 ||
            t[TS_DIGITS + 1] != '~')
            return 0;
        ts_hint = (size_t)(t - p);
    }
    uint64_t v = 0;
    for (int i = 1; i <= TS_DIGITS; i++) {
        unsigned d = (unsigned char)t[i] - '0';
        if (d > 9)
            return 0;
        v = v * 10 + d;
    }
    return v;
}

typedef struct rx_ctx {
    uint64_t now;
    int measuring;
    uint64_t delivered;
} rx_ctx;

static void on_message(conn *c, uint64_t ts, rx_ctx *rx)
{
    worker *w = c->w;

    if (c->is_pub) {
        w->pub_rx++;
        return;
    }
    if (ts == 0) {
        w->other++;
        return;
    }
    rx->delivered++;
    if (rx->measuring) {
        w->measured++;
        rt_hist_record(w->hist, rx->now > ts ? (rx->now - ts) / 1000 : 0);
    }
}

/*
 * Parse the complete frames in buf; returns the bytes used, or (size_t)-1
 * when the connection ended.
 */
static size_t parse_frames(conn *c, char *buf, size_t len, rx_ctx *rx)
{
    size_t off = 0;

    while (len - off >= 2) {
        const unsigned char *b = (const unsigned char *)buf + off;
        int fin = b[0] & 0x80;
        int op = b[0] & 0x0f;
        int masked = b[1] & 0x80;
        uint64_t plen = b[1] & 0x7f;
        size_t hl = 2;

        if (plen == 126) {
            if (len - off < 4)
                break;
            plen = ((uint64_t)b[2] << 8) | b[3];
            hl = 4;
        } else if (plen == 127) {
            if (len - off < 10)
                break;
            plen = 0;
            for (int i = 0; i < 8; i++)
                plen = (plen << 8) | b[2 + i];
            hl = 10;
        }
        if (masked || plen > MAX_FRAME) {
            fprintf(stderr, "fanout_gen: bad frame from the server (%s)\n",
                    masked ? "masked" : "too large");
            conn_died(c, -1);
            return (size_t)-1;
        }
        if (len - off < hl + plen)
            break;
        char *p = buf + off + hl;
        size_t n = (size_t)plen;
        off += hl + n;

        switch (op) {
        case 0x1:
        case 0x2:
            if (fin) {
                on_message(c, c->is_pub ? 1 : find_ts(p, n), rx);
            } else {
                c->frag = 1;
                c->frag_ts = find_ts(p, n);
            }
            break;
        case 0x0:
            if (!c->frag)
                break;
            if (c->frag_ts == 0)
                c->frag_ts = find_ts(p, n);
            if (fin) {
                c->frag = 0;
                on_message(c, c->is_pub ? 1 : c->frag_ts, rx);
            }
            break;
        case 0x8: {
            int code = n >= 2
                           ? ((unsigned char)p[0] << 8) | (unsigned char)p[1]
                           : 1005;
            if (opt.verbose || c->is_pub)
                fprintf(stderr, "fanout_gen: close %d from the server: %.*s\n",
                        code, n > 2 ? (int)(n - 2) : 0, p + 2);
            conn_died(c, code);
            return (size_t)-1;
        }
        case 0x9:
            c->w->pings++;
            send_pong(c, p, n);
            if (c->state == C_DEAD)
                return (size_t)-1;
            break;
        default:
            break;
        }
    }
    return off;
}

static void handshake_done(conn *c)
{
    worker *w = c->w;

    c->state = C_OPEN;
    if (c->is_pub)
        return;
    w->pending--;
    atomic_fetch_add(&w->opened, 1);
    start_more(w);
}

/* Look for the end of the response headers in the carry buffer. */
static int handshake_rx(conn *c, rx_ctx *rx)
{
    char *end = memmem(c->carry, c->carry_len, "\r\n\r\n", 4);

    if (end == NULL) {
        if (c->carry_len > 16384) {
            conn_fail(c, "response headers too long");
            return -1;
        }
        return 0;
    }
    size_t hlen = (size_t)(end - c->carry) + 4;
    if (c->carry_len < 12 || memcmp(c->carry + 9, "101", 3) != 0) {
        char line[128];
        size_t l = strcspn(c->carry, "\r\n");
        snprintf(line, sizeof line, "handshake refused: %.*s",
                 (int)(l < 100 ? l : 100), c->carry);
        /* A refusal is an answer: trying again would get the same. */
        c->tries = CONNECT_TRIES;
        conn_fail(c, line);
        return -1;
    }
    if (memmem(c->carry, hlen, WS_ACCEPT, sizeof WS_ACCEPT - 1) == NULL) {
        c->tries = CONNECT_TRIES;
        conn_fail(c, "bad Sec-WebSocket-Accept");
        return -1;
    }
    handshake_done(c);
    size_t rest = c->carry_len - hlen;
    memmove(c->carry, c->carry + hlen, rest);
    c->carry_len = rest;
    if (rest > 0) {
        size_t used = parse_frames(c, c->carry, rest, rx);
        if (used == (size_t)-1)
            return -1;
        memmove(c->carry, c->carry + used, rest - used);
        c->carry_len = rest - used;
    }
    return 0;
}

static void on_readable(conn *c, rx_ctx *rx)
{
    worker *w = c->w;

    if (c->state == C_HANDSHAKE) {
        char tmp[4096];
        ssize_t n = recv(c->fd, tmp, sizeof tmp, 0);
        if (n <= 0) {
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
            conn_fail(c, n == 0 ? "closed during the handshake"
                                : strerror(errno));
            return;
        }
        reserve(&c->carry, &c->carry_cap, c->carry_len + (size_t)n + 1);
        memcpy(c->carry + c->carry_len, tmp, (size_t)n);
        c->carry_len += (size_t)n;
        c->carry[c->carry_len] = '\0';
        handshake_rx(c, rx);
        return;
    }

    /* Put the incomplete tail of the last read first, then read after it. */
    if (c->carry_len + 65536 > w->rcap) {
        reserve(&w->rbuf, &w->rcap, c->carry_len + RBUF_SIZE);
    }
    memcpy(w->rbuf, c->carry, c->carry_len);
    ssize_t n = recv(c->fd, w->rbuf + c->carry_len, w->rcap - c->carry_len, 0);
    if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        conn_died(c, -1);
        return;
    }
    size_t len = c->carry_len + (size_t)n;
    size_t used = parse_frames(c, w->rbuf, len, rx);
    if (used == (size_t)-1)
        return;
    c->carry_len = len - used;
    if (c->carry_len > 0) {
        reserve(&c->carry, &c->carry_cap, c->carry_len);
        memcpy(c->carry, w->rbuf + used, c->carry_len);
    }
}

static void on_writable(conn *c)
{
    if (c->state == C_CONNECTING) {
        int err = 0;
        socklen_t el = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err != 0) {
            conn_fail(c, strerror(err));
            return;
        }
        c->state = C_HANDSHAKE;
        conn_queue(c, g_request, g_request_len);
        conn_flush(c);
        return;
    }
    conn_flush(c);
}

static void on_event(struct epoll_event *ev, rx_ctx *rx)
{
    conn *c = ev->data.ptr;

    if (c->state == C_DEAD || c->fd < 0)
        return;
    if (ev->events & (EPOLLERR | EPOLLHUP)) {
        if (c->state == C_CONNECTING || c->state == C_HANDSHAKE) {
            int err = 0;
            socklen_t el = sizeof err;
            getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
            conn_fail(c, err ? strerror(err) : "hangup");
            return;
        }
    }
    if (ev->events & EPOLLOUT) {
        on_writable(c);
        if (c->state == C_DEAD || c->fd < 0)
            return;
    }
    if (ev->events & (EPOLLIN | EPOLLERR | EPOLLHUP))
        on_readable(c, rx);
}

/* ---- the publisher */

/* Messages the publisher may have in flight with |nsubs| subscribers. */
static uint64_t window_for(size_t nsubs)
{
    uint64_t window = opt.window;

    if (nsubs > 0 && window * nsubs > opt.max_inflight)
        window = opt.max_inflight / nsubs > 0 ? opt.max_inflight / nsubs : 1;
    return window;
}

static uint64_t delivered_sum(void)
{
    uint64_t s = 0;

    for (int i = 0; i < opt.threads; i++)
        s += atomic_load_explicit(&g_workers[i].delivered,
                                  memory_order_relaxed);
    return s;
}

static size_t nsubs_open(void)
{
    size_t s = 0;

    for (int i = 0; i < opt.threads; i++)
        s += atomic_load(&g_workers[i].opened);
    return s;
}

static void stamp(char *digits, uint64_t v)
{
    for (int i = TS_DIGITS - 1; i >= 0; i--) {
        digits[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

/*
 * Send what the window allows, up to -b frames in one write.  Returns 1
 * when the window was open (so the loop should not sleep).
 */
static int pub_pump(size_t nsubs, int measuring)
{
    conn *c = &g_pub;

    if (c->state != C_OPEN || g_pub_dead)
        return 0;
    if (c->out_len > c->out_off) {
        conn_flush(c);
        if (c->out_len > c->out_off)
            return 0;
    }
    uint64_t done = nsubs ? delivered_sum() / nsubs : g_sent;
    uint64_t inflight = g_sent > done ? g_sent - done : 0;
    uint64_t window = window_for(nsubs);
    if (inflight >= window)
        return 0;
    uint64_t k = window - inflight;
    if (k > opt.batch)
        k = opt.batch;
    uint64_t now = mono_ns();
    stamp(g_frame + g_ts_off, now);
    reserve(&c->out, &c->out_cap, c->out_len + (size_t)k * g_frame_len);
    for (uint64_t i = 0; i < k; i++) {
        memcpy(c->out + c->out_len, g_frame, g_frame_len);
        c->out_len += g_frame_len;
    }
    g_sent += k;
    if (measuring)
        g_sent_measured += k;
    conn_flush(c);
    return 1;
}

/* ---- the loop */

static struct {
    uint64_t t_measure;
    uint64_t t_end;
    proc_sample before; /* at the start, before any connection */
    proc_sample m0;
    proc_sample m1;
    double self0;
    double self1;
    uint64_t busy0;
    uint64_t busy1;
    uint64_t t_phase;
    uint64_t t_start;
} g_run;

static int all_connected(void)
{
    size_t done = 0;

    for (int i = 0; i < opt.threads; i++)
        done += atomic_load(&g_workers[i].opened) +
                atomic_load(&g_workers[i].failed);
    return done >= opt.nsubs;
}

/* Worker 0 moves the run along; returns the epoll timeout it wants. */
static int drive(uint64_t now, int *busy)
{
    int ph = atomic_load(&g_phase);
    double since = (double)(now - g_run.t_phase) / 1e9;

    *busy = 0;
    switch (ph) {
    case PH_CONNECT:
        if (all_connected() ||
            (double)(now - g_run.t_start) / 1e9 > opt.connect_timeout) {
            if (opt.idle) {
                atomic_store(&g_phase, PH_SETTLE);
            } else {
                g_pub.w = &g_workers[0];
                g_pub.is_pub = 1;
                g_pub.fd = -1;
                conn_start(&g_pub);
                atomic_store(&g_phase, PH_PUBCONNECT);
            }
            g_run.t_phase = now;
        }
        return 10;
    case PH_PUBCONNECT:
        if (g_pub.state == C_OPEN) {
            atomic_store(&g_phase, PH_SETTLE);
            g_run.t_phase = now;
        } else if (g_pub_dead || since > opt.connect_timeout) {
            atomic_store(&g_phase, PH_DONE);
        }
        return 10;
    case PH_SETTLE:
        if (since >= opt.settle) {
            if (opt.idle) {
                proc_read(opt.server_pid, &g_run.m1);
                atomic_store(&g_phase, PH_DONE);
            } else {
                atomic_store(&g_phase, PH_WARMUP);
            }
            g_run.t_phase = now;
        }
        return 10;
    case PH_WARMUP:
        if (since >= opt.warmup) {
            proc_read(opt.server_pid, &g_run.m0);
            g_run.self0 = self_cpu_s();
            g_run.busy0 = machine_busy_ticks();
            g_run.t_measure = mono_ns();
            atomic_store(&g_phase, PH_MEASURE);
            g_run.t_phase = now;
        }
        *busy = pub_pump(nsubs_open(), 0);
        return *busy ? 0 : 1;
    case PH_MEASURE:
        if (since >= opt.duration || g_pub_dead) {
            g_run.t_end = mono_ns();
            proc_read(opt.server_pid, &g_run.m1);
            g_run.self1 = self_cpu_s();
            g_run.busy1 = machine_busy_ticks();
            atomic_store(&g_phase, PH_DONE);
            return 0;
        }
        *busy = pub_pump(nsubs_open(), 1);
        return *busy ? 0 : 1;
    default:
        return 0;
    }
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    struct epoll_event evs[512];

    start_more(w);
    while (!atomic_load(&g_stop)) {
        int timeout = 10;
        int busy = 0;

        if (w->id == 0) {
            uint64_t now = mono_ns();
            timeout = drive(now, &busy);
            if (atomic_load(&g_phase) == PH_DONE) {
                atomic_store(&g_stop, 1);
                break;
            }
        }
        int n = epoll_wait(w->ep, evs, 512, timeout);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait");
        }
        rx_ctx rx;
        rx.now = mono_ns();
        rx.measuring = atomic_load(&g_phase) == PH_MEASURE;
        rx.delivered = 0;
        for (int i = 0; i < n; i++)
            on_event(&evs[i], &rx);
        if (rx.delivered)
            atomic_fetch_add_explicit(&w->delivered, rx.delivered,
                                      memory_order_relaxed);
    }
    return NULL;
}

/* ---- setup and report */

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: fanout_gen -p PORT [options]\n"
        "  -H HOST      server address (IPv4), default 127.0.0.1\n"
        "  -p PORT      server port\n"
        "  -P PATH      WebSocket path, default /ws/bench\n"
        "  -q QUERY     query string, default user=bench ('' for none)\n"
        "  -n N         subscribers (idle mode: connections), default 100\n"
        "  -d SECONDS   measured interval, default 5\n"
        "  -w SECONDS   warm-up before it, default 1\n"
        "  -e SECONDS   settle time after connecting (0.3; idle mode 2)\n"
        "  -s BYTES     size of each published frame's payload, default 100\n"
        "  -W MESSAGES  most messages in flight per subscriber, default 64\n"
        "  -D N         and most deliveries in flight in all, default "
        "1048576\n"
        "  -b FRAMES    most frames per publisher write, default 32\n"
        "  -t THREADS   generator threads, default 1\n"
        "  -S PID       server pid, for its CPU and memory\n"
        "  -c N         most connections opening at once, default 512\n"
        "  -T SECONDS   connect timeout, default 60\n"
        "  -i           idle mode: connections only, RSS per connection\n"
        "  -v           verbose\n");
}

static void build_request(void)
{
    char buf[2048];
    int n = snprintf(buf, sizeof buf,
                     "GET %s%s%s HTTP/1.1\r\n"
                     "Host: %s:%d\r\n"
                     "Upgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Key: " WS_KEY "\r\n"
                     "Sec-WebSocket-Version: 13\r\n"
                     "Origin: http://%s:%d\r\n"
                     "\r\n",
                     opt.path, opt.query[0] ? "?" : "", opt.query, opt.host,
                     opt.port, opt.host, opt.port);
    if (n < 0 || (size_t)n >= sizeof buf) {
        fprintf(stderr, "fanout_gen: path or query too long\n");
        exit(1);
    }
    g_request = strdup(buf);
    g_request_len = (size_t)n;
}

static void build_frame(void)
{
    static const char pre[] = "{\"type\":\"text\",\"data\":{\"content\":\"~";
    static const char post[] = "\"}}";
    size_t fixed = sizeof pre - 1 + TS_DIGITS + 1 + sizeof post - 1;
    size_t plen = opt.size > fixed ? opt.size : fixed;
    char *payload = xmalloc(plen);
    size_t o = 0;

    memcpy(payload, pre, sizeof pre - 1);
    o = sizeof pre - 1;
    size_t ts_at = o;
    memset(payload + o, '0', TS_DIGITS);
    o += TS_DIGITS;
    payload[o++] = '~';
    size_t padding = plen - fixed;
    memset(payload + o, 'x', padding);
    o += padding;
    memcpy(payload + o, post, sizeof post - 1);

    unsigned char h[14];
    size_t hl = frame_header(h, 0x1, plen);
    g_frame = xmalloc(hl + plen);
    memcpy(g_frame, h, hl);
    memcpy(g_frame + hl, payload, plen);
    g_frame_len = hl + plen;
    g_ts_off = hl + ts_at;
    opt.size = plen;
    free(payload);
}

static void raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < opt.nsubs + 64) {
        fprintf(stderr,
                "fanout_gen: open file limit %lu is too low for %zu "
                "connections (ulimit -n)\n",
                (unsigned long)rl.rlim_cur, opt.nsubs);
        exit(1);
    }
}

static void report(void)
{
    rt_hist *h;
    uint64_t measured = 0, other = 0, pub_rx = 0, pings = 0;
    uint64_t opened = 0, failed = 0, died = 0;
    char codes[256];
    size_t cl = 0;
    long tck = sysconf(_SC_CLK_TCK);

    codes[0] = '\0';
    if (rt_hist_new_default(&h) != 0) {
        fprintf(stderr, "fanout_gen: out of memory\n");
        exit(2);
    }
    for (int i = 0; i < opt.threads; i++) {
        worker *w = &g_workers[i];
        rt_hist_merge(h, w->hist);
        measured += w->measured;
        other += w->other;
        pub_rx += w->pub_rx;
        pings += w->pings;
        opened += atomic_load(&w->opened);
        failed += atomic_load(&w->failed);
        died += atomic_load(&w->died);
        for (int j = 0; j < 8 && w->close_codes[j]; j++) {
            int m = snprintf(codes + cl, sizeof codes - cl, "%s%u:%llu",
                             cl ? "," : "", w->close_code_val[j],
                             (unsigned long long)w->close_codes[j]);
            if (m > 0 && (size_t)m < sizeof codes - cl)
                cl += (size_t)m;
        }
    }

    if (opt.idle) {
        double per =
            opened
                ? ((double)g_run.m1.rss_kib - (double)g_run.before.rss_kib) /
                      (double)opened
                : 0;
        printf("RESULT mode=idle n=%zu open=%llu failed=%llu closed=%llu "
               "rss_before_kib=%llu rss_after_kib=%llu hwm_kib=%llu "
               "per_conn_kib=%.2f\n",
               opt.nsubs, (unsigned long long)opened,
               (unsigned long long)failed, (unsigned long long)died,
               (unsigned long long)g_run.before.rss_kib,
               (unsigned long long)g_run.m1.rss_kib,
               (unsigned long long)g_run.m1.hwm_kib, per);
    } else {
        double secs = g_run.t_end > g_run.t_measure
                          ? (double)(g_run.t_end - g_run.t_measure) / 1e9
                          : 0;
        double rate = secs > 0 ? (double)measured / secs : 0;
        double pub_rate = secs > 0 ? (double)g_sent_measured / secs : 0;
        double cpu = secs > 0 && tck > 0
                         ? (double)(g_run.m1.ticks - g_run.m0.ticks) /
                               (double)tck / secs * 100
                         : 0;
        double gcpu = secs > 0 ? (g_run.self1 - g_run.self0) / secs * 100 : 0;
        /*
         * What the machine did besides the server and the generator (other
         * processes, and interrupt time the kernel charged to no task), in
         * percent of one CPU: a loaded machine explains low figures.
         */
        double all = secs > 0 && tck > 0
                         ? (double)(g_run.busy1 - g_run.busy0) / (double)tck /
                               secs * 100
                         : 0;
        double ocpu = all - cpu - gcpu;
        if (ocpu < 0 || opt.server_pid <= 0)
            ocpu = 0;
        printf(
            "RESULT mode=fanout n=%zu open=%llu failed=%llu closed=%llu "
            "codes=%s size=%zu window=%llu secs=%.3f sent=%llu "
            "pub_rate=%.0f delivered=%llu rate=%.0f p50_us=%llu "
            "p90_us=%llu p99_us=%llu max_us=%llu clamped=%llu "
            "srv_cpu=%.1f rss_kib=%llu hwm_kib=%llu gen_cpu=%.1f "
            "other_cpu=%.1f other=%llu pub_rx=%llu pings=%llu pub_ok=%d\n",
            opt.nsubs, (unsigned long long)opened, (unsigned long long)failed,
            (unsigned long long)died, cl ? codes : "-", opt.size,
            (unsigned long long)window_for(nsubs_open()), secs,
            (unsigned long long)g_sent_measured, pub_rate,
            (unsigned long long)measured, rate,
            (unsigned long long)rt_hist_percentile(h, 50),
            (unsigned long long)rt_hist_percentile(h, 90),
            (unsigned long long)rt_hist_percentile(h, 99),
            (unsigned long long)rt_hist_max(h),
            (unsigned long long)rt_hist_clamped(h), cpu,
            (unsigned long long)g_run.m1.rss_kib,
            (unsigned long long)g_run.m1.hwm_kib, gcpu, ocpu,
            (unsigned long long)other, (unsigned long long)pub_rx,
            (unsigned long long)pings, !g_pub_dead && g_pub.state == C_OPEN);
    }
    fflush(stdout);
    rt_hist_free(h);
}

int main(int argc, char **argv)
{
    int c;

    static const char optstr[] = "H:p:P:q:n:d:w:e:s:W:D:b:t:S:c:T:ivh";

    while ((c = getopt(argc, argv, optstr)) != -1) {
        switch (c) {
        case 'H':
            opt.host = optarg;
            break;
        case 'p':
            opt.port = atoi(optarg);
            break;
        case 'P':
            opt.path = optarg;
            break;
        case 'q':
            opt.query = optarg;
            break;
        case 'n':
            opt.nsubs = strtoul(optarg, NULL, 10);
            break;
        case 'd':
            opt.duration = atof(optarg);
            break;
        case 'w':
            opt.warmup = atof(optarg);
            break;
        case 'e':
            opt.settle = atof(optarg);
            break;
        case 's':
            opt.size = strtoul(optarg, NULL, 10);
            break;
        case 'W':
            opt.window = strtoull(optarg, NULL, 10);
            break;
        case 'D':
            opt.max_inflight = strtoull(optarg, NULL, 10);
            break;
        case 'b':
            opt.batch = strtoul(optarg, NULL, 10);
            break;
        case 't':
            opt.threads = atoi(optarg);
            break;
        case 'S':
            opt.server_pid = atoi(optarg);
            break;
        case 'c':
            opt.max_pending = strtoul(optarg, NULL, 10);
            break;
        case 'T':
            opt.connect_timeout = atof(optarg);
            break;
        case 'i':
            opt.idle = 1;
            break;
        case 'v':
            opt.verbose = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 1;
        }
    }
    if (opt.port <= 0 || opt.port > 65535 || opt.threads < 1 ||
        opt.threads > MAX_THREADS || opt.window < 1 || opt.batch < 1 ||
        opt.size > 65535 || opt.max_pending < 1) {
        usage(stderr);
        return 1;
    }
    if (opt.settle < 0)
        opt.settle = opt.idle ? 2.0 : 0.3;
    if ((size_t)opt.threads > opt.nsubs && opt.nsubs > 0)
        opt.threads = (int)opt.nsubs;

    memset(&g_addr, 0, sizeof g_addr);
    g_addr.sin_family = AF_INET;
    g_addr.sin_port = htons((uint16_t)opt.port);
    if (inet_pton(AF_INET, opt.host, &g_addr.sin_addr) != 1) {
        fprintf(stderr, "fanout_gen: not an IPv4 address: %s\n", opt.host);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    raise_nofile();
    build_request();
    build_frame();

    for (int i = 0; i < opt.threads; i++) {
        worker *w = &g_workers[i];
        w->id = i;
        w->ep = epoll_create1(EPOLL_CLOEXEC);
        if (w->ep < 0)
            die("epoll_create1");
        if (rt_hist_new_default(&w->hist) != 0) {
            fprintf(stderr, "fanout_gen: out of memory\n");
            return 2;
        }
        w->rcap = RBUF_SIZE;
        w->rbuf = xmalloc(w->rcap);
        w->nconns = opt.nsubs / (size_t)opt.threads +
                    ((size_t)i < opt.nsubs % (size_t)opt.threads);
        w->conns = calloc(w->nconns ? w->nconns : 1, sizeof(conn));
        if (w->conns == NULL) {
            fprintf(stderr, "fanout_gen: out of memory\n");
            return 2;
        }
        for (size_t j = 0; j < w->nconns; j++) {
            w->conns[j].fd = -1;
            w->conns[j].w = w;
        }
    }

    proc_read(opt.server_pid, &g_run.before);
    g_run.t_start = g_run.t_phase = mono_ns();
    for (int i = 1; i < opt.threads; i++)
        if (pthread_create(&g_workers[i].th, NULL, worker_main,
                           &g_workers[i]) != 0)
            die("pthread_create");
    worker_main(&g_workers[0]);
    for (int i = 1; i < opt.threads; i++)
        pthread_join(g_workers[i].th, NULL);

    size_t opened = nsubs_open();
    if (opened == 0 ||
        (!opt.idle && g_pub.state != C_OPEN && g_sent_measured == 0)) {
        fprintf(stderr, "fanout_gen: could not connect (%zu of %zu open)\n",
                opened, opt.nsubs);
        report();
        return 2;
    }
    report();
    return 0;
}
