/*
 * cmd_proxy.c: `rtctl proxy`, a TCP proxy that injects faults, in the
 * manner of Toxiproxy, for testing how any client copes with a network
 * that drops, delays, throttles, stalls and refuses.
 *
 * One libuv loop.  Each accepted connection gets a connection to --to and
 * two directions (client to upstream, upstream to client).  A direction
 * reads into chunks, each stamped with the time it may leave (now plus the
 * --latency); one timer per direction sends the head of its queue when it
 * is due and the --bandwidth token bucket allows, so order is kept.
 *
 * Invariants:
 * - Memory is bounded: a direction holding its high-water mark of bytes
 *   (queued or being written) stops reading its source, and starts again
 *   once half of that has been written (backpressure), so a slow reader
 *   slows the writer instead of growing the queue.
 * - EOF one way is forwarded with uv_shutdown() once that direction's queue
 *   is empty; the connection is closed when both ways have ended, on any
 *   error, or by a fault.
 * - A connection is freed only from the last of its handles' close
 *   callbacks; libuv runs the write, shutdown and connect callbacks of a
 *   closed stream (with UV_ECANCELED) before that.
 * - Every fault that acts logs one line on stderr (hidden by --quiet).
 *
 * Limits: the upstream address is resolved once, at start; latency is
 * applied per read, so the chunking the proxy sees is the chunking the
 * peer gets; the bandwidth limit is exact on average over a tenth of a
 * second, not per byte.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "cmd.h"
#include "exit.h"
#include "opts.h"
#include "output.h"

static const char *const proxy_usage[] = {
    "rtctl proxy [options] --listen HOST:PORT --to HOST:PORT",
    NULL,
};

static const struct cli_cmd_help proxy_help = {
    "proxy",
    proxy_usage,
    "Forward TCP connections from --listen to --to, injecting the faults "
    "asked for: cut connections, add latency, limit bandwidth, stall "
    "connections without closing them, refuse connections for a while. "
    "Prints 'listening on HOST:PORT' first; each fault is logged on "
    "standard error when it acts. Ctrl-C or SIGTERM stops it (exit 0).",
};

#define READ_SIZE 65536
#define HIGH_WATER (1024 * 1024) /* bytes per direction, see backpressure */
#define UNSET UINT64_MAX

struct chunk {
    uv_write_t req;
    struct chunk *next;
    struct dir *d;
    uint64_t due; /* uv_now() time it may be written */
    size_t len;
    char data[];
};

/* One direction of a connection: bytes read from src are written to dst. */
struct dir {
    struct conn *c;
    const char *name; /* "client" or "upstream": who src is */
    uv_tcp_t *src, *dst;
    uv_timer_t timer; /* next due chunk, or tokens */
    uv_shutdown_t shut_req;
    struct chunk *head, *tail;
    size_t held;     /* bytes queued or being written */
    int reading;     /* uv_read_start() is in effect */
    int eof;         /* src ended */
    int shut;        /* uv_shutdown() issued on dst */
    int shut_done;   /* ... and completed */
    double tokens;   /* --bandwidth bucket, bytes; may go negative */
    uint64_t refill; /* uv_now() of the last refill */
};

struct conn {
    struct proxy *p;
    struct conn *prev, *next;
    uint64_t id;
    char peer[64];
    uv_tcp_t client, upstream;
    uv_connect_t connect_req;
    uv_timer_t drop_timer, stall_timer;
    struct dir up, down;
    uint64_t started;    /* uv_now() at connect */
    uint64_t drop_after; /* the random time --drop-every chose */
    int connected;
    int stalled;
    int closing;
    int handles; /* still open; freed at 0 */
};

struct proxy {
    uv_loop_t loop;
    uv_tcp_t listener;
    uv_signal_t sigint, sigterm;
    struct cli_out out;
    struct sockaddr_storage to;
    const char *to_str;
    struct conn *conns;
    uint64_t nconns, next_id, start;
    uint64_t max_conns, drop_ms, stall_ms, stall_for_ms, refuse_ms;
    uint64_t latency_ms, jitter_ms, bandwidth;
    size_t high_water, read_size;
    uint64_t rng;
    int stopping;
};

/* One proxy-wide read buffer: libuv calls alloc and read back to back. */
static char read_buf[READ_SIZE];

static void plog(const struct proxy *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A fault or failure report: shown unless --quiet. */
static void plog(const struct proxy *p, const char *fmt, ...)
{
    va_list ap;

    if (p->out.quiet)
        return;
    fprintf(stderr, "rtctl proxy: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* xorshift64*: small, repeatable from --seed, good enough for faults. */
static uint64_t rnd(struct proxy *p)
{
    p->rng ^= p->rng >> 12;
    p->rng ^= p->rng << 25;
    p->rng ^= p->rng >> 27;
    return p->rng * 2685821657736338717ULL;
}

/* Uniform in [1, n] (n > 0): the (0, DURATION] of the fault options. */
static uint64_t rnd_upto(struct proxy *p, uint64_t n)
{
    return 1 + rnd(p) % n;
}

static void conn_close(struct conn *c);
static void pump(struct dir *d);
static void start_reading(struct dir *d);

/* --- closing */

static void conn_handle_closed(struct conn *c)
{
    struct proxy *p = c->p;

    if (--c->handles > 0)
        return;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        p->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    p->nconns--;
    free(c);
}

/* The data of the connection's own timers is the connection... */
static void on_conn_handle_closed(uv_handle_t *h)
{
    conn_handle_closed(h->data);
}

/* ... and that of its streams and direction timers is a direction. */
static void on_dir_handle_closed(uv_handle_t *h)
{
    conn_handle_closed(((struct dir *)h->data)->c);
}

static void free_queue(struct dir *d)
{
    struct chunk *ch, *next;

    for (ch = d->head; ch != NULL; ch = next) {
        next = ch->next;
        free(ch);
    }
    d->head = d->tail = NULL;
}

/* Close both sides and every timer; the memory goes in conn_handle_closed. */
static void conn_close(struct conn *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    cli_infof(&c->p->out, "connection %" PRIu64 " from %s: closed", c->id,
              c->peer);
    free_queue(&c->up);
    free_queue(&c->down);
    uv_close((uv_handle_t *)&c->client, on_dir_handle_closed);
    uv_close((uv_handle_t *)&c->upstream, on_dir_handle_closed);
    uv_close((uv_handle_t *)&c->up.timer, on_dir_handle_closed);
    uv_close((uv_handle_t *)&c->down.timer, on_dir_handle_closed);
    uv_close((uv_handle_t *)&c->drop_timer, on_conn_handle_closed);
    uv_close((uv_handle_t *)&c->stall_timer, on_conn_handle_closed);
}

/* Both ways ended and were passed on: nothing more can flow. */
static void maybe_done(struct conn *c)
{
    if (c->up.shut_done && c->down.shut_done)
        conn_close(c);
}

/* --- writing */

static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct dir *d = req->data;

    if (d->c->closing)
        return;
    if (status < 0) {
        conn_close(d->c);
        return;
    }
    d->shut_done = 1;
    maybe_done(d->c);
}

static void on_write(uv_write_t *req, int status)
{
    struct chunk *ch = req->data;
    struct dir *d = ch->d;
    struct conn *c = d->c;

    d->held -= ch->len;
    free(ch);
    if (c->closing)
        return;
    if (status < 0) {
        cli_infof(&c->p->out,
                  "connection %" PRIu64 ": cannot write to the %s: %s", c->id,
                  d->name[0] == 'c' ? "upstream" : "client",
                  uv_strerror(status));
        conn_close(c);
        return;
    }
    if (!d->reading && !d->eof && d->held <= c->p->high_water / 2)
        start_reading(d);
}

static void on_dir_timer(uv_timer_t *t)
{
    pump(t->data);
}

static void refill(struct dir *d, uint64_t now)
{
    const struct proxy *p = d->c->p;
    double burst = (double)p->read_size;

    d->tokens += (double)(now - d->refill) * (double)p->bandwidth / 1000.0;
    if (d->tokens > burst)
        d->tokens = burst;
    d->refill = now;
}

/*
 * Write every chunk that is due and within the bandwidth; arm the timer
 * for the next one.  Nothing moves while the connection is stalled.
 */
static void pump(struct dir *d)
{
    struct conn *c = d->c;
    struct proxy *p = c->p;
    struct chunk *ch;
    uint64_t now, wait;
    uv_buf_t buf;
    int rc;

    if (c->closing || c->stalled)
        return;
    while ((ch = d->head) != NULL) {
        now = uv_now(&p->loop);
        if (ch->due > now) {
            uv_timer_start(&d->timer, on_dir_timer, ch->due - now, 0);
            return;
        }
        if (p->bandwidth > 0) {
            refill(d, now);
            if (d->tokens < 0) {
                wait = (uint64_t)(-d->tokens * 1000.0 / (double)p->bandwidth);
                uv_timer_start(&d->timer, on_dir_timer, wait + 1, 0);
                return;
            }
            d->tokens -= (double)ch->len;
        }
        d->head = ch->next;
        if (d->head == NULL)
            d->tail = NULL;
        buf = uv_buf_init(ch->data, (unsigned)ch->len);
        rc = uv_write(&ch->req, (uv_stream_t *)d->dst, &buf, 1, on_write);
        if (rc < 0) {
            d->held -= ch->len;
            free(ch);
            conn_close(c);
            return;
        }
    }
    if (d->eof && !d->shut) {
        d->shut = 1;
        d->shut_req.data = d;
        if (uv_shutdown(&d->shut_req, (uv_stream_t *)d->dst, on_shutdown) < 0)
            conn_close(c);
    }
}

/* --- reading */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct dir *d = h->data;

    (void)suggested;
    *buf = uv_buf_init(read_buf, (unsigned)d->c->p->read_size);
}

static uint64_t chunk_delay(struct proxy *p)
{
    uint64_t j;

    if (p->jitter_ms == 0)
        return p->latency_ms;
    j = rnd(p) % (2 * p->jitter_ms + 1); /* latency - jitter + j */
    if (p->latency_ms + j < p->jitter_ms)
        return 0;
    return p->latency_ms + j - p->jitter_ms;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct dir *d = s->data;
    struct conn *c = d->c;
    struct proxy *p = c->p;
    struct chunk *ch;
    uint64_t due;

    (void)buf;
    if (nread == 0 || c->closing)
        return;
    if (nread < 0) {
        d->reading = 0;
        if (nread != UV_EOF) {
            cli_infof(&p->out, "connection %" PRIu64 ": %s: %s", c->id,
                      d->name, uv_strerror((int)nread));
            conn_close(c);
        } else if (c->stalled && p->stall_for_ms == 0) {
            plog(p,
                 "connection %" PRIu64 " from %s: the %s closed while "
                 "stalled; closing",
                 c->id, c->peer, d->name);
            conn_close(c);
        } else {
            uv_read_stop(s);
            d->eof = 1;
            pump(d);
        }
        return;
    }
    ch = malloc(sizeof(*ch) + (size_t)nread);
    if (ch == NULL) {
        plog(p, "connection %" PRIu64 ": out of memory; closing", c->id);
        conn_close(c);
        return;
    }
    memcpy(ch->data, read_buf, (size_t)nread);
    ch->len = (size_t)nread;
    ch->d = d;
    ch->req.data = ch;
    ch->next = NULL;
    due = uv_now(&p->loop) + chunk_delay(p);
    /* Jitter must not reorder: never due before the chunk ahead. */
    if (d->tail != NULL && d->tail->due > due)
        due = d->tail->due;
    ch->due = due;
    if (d->tail != NULL)
        d->tail->next = ch;
    else
        d->head = ch;
    d->tail = ch;
    d->held += ch->len;
    if (d->held >= p->high_water) {
        uv_read_stop(s);
        d->reading = 0;
    }
    if (d->head == ch && !uv_is_active((uv_handle_t *)&d->timer))
        pump(d);
}

static void start_reading(struct dir *d)
{
    if (uv_read_start((uv_stream_t *)d->src, on_alloc, on_read) == 0)
        d->reading = 1;
    else
        conn_close(d->c);
}

/* --- faults */

static void on_drop(uv_timer_t *t)
{
    struct conn *c = t->data;

    /* The chosen time, not the measured one: repeatable with --seed. */
    plog(c->p,
         "connection %" PRIu64 " from %s: dropped after %" PRIu64
         " ms (--drop-every)",
         c->id, c->peer, c->drop_after);
    conn_close(c);
}

static void on_stall(uv_timer_t *t)
{
    struct conn *c = t->data;
    struct proxy *p = c->p;

    if (!c->stalled) {
        c->stalled = 1;
        uv_timer_stop(&c->up.timer);
        uv_timer_stop(&c->down.timer);
        if (p->stall_for_ms > 0) {
            plog(p,
                 "connection %" PRIu64 " from %s: stalled after %" PRIu64
                 " ms, for %" PRIu64 " ms (--stall-every)",
                 c->id, c->peer, uv_now(&p->loop) - c->started,
                 p->stall_for_ms);
            uv_timer_start(&c->stall_timer, on_stall, p->stall_for_ms, 0);
        } else {
            plog(p,
                 "connection %" PRIu64 " from %s: stalled after %" PRIu64
                 " ms, until a peer closes (--stall-every)",
                 c->id, c->peer, uv_now(&p->loop) - c->started);
        }
        return;
    }
    c->stalled = 0;
    plog(p, "connection %" PRIu64 " from %s: resumed after a stall", c->id,
         c->peer);
    /* The bucket did not fill while nothing could be sent. */
    c->up.refill = c->down.refill = uv_now(&p->loop);
    pump(&c->up);
    if (!c->closing)
        pump(&c->down);
    if (!c->closing)
        uv_timer_start(&c->stall_timer, on_stall, rnd_upto(p, p->stall_ms), 0);
}

/* --- connecting */

static void on_connect(uv_connect_t *req, int status)
{
    struct conn *c = req->data;
    struct proxy *p = c->p;

    if (c->closing)
        return;
    if (status < 0) {
        plog(p,
             "connection %" PRIu64 " from %s: cannot connect to %s: %s; "
             "closing it",
             c->id, c->peer, p->to_str, uv_strerror(status));
        conn_close(c);
        return;
    }
    c->connected = 1;
    c->started = uv_now(&p->loop);
    c->up.refill = c->down.refill = c->started;
    c->up.tokens = c->down.tokens = (double)p->read_size;
    if (p->drop_ms > 0) {
        c->drop_after = rnd_upto(p, p->drop_ms);
        uv_timer_start(&c->drop_timer, on_drop, c->drop_after, 0);
    }
    if (p->stall_ms > 0)
        uv_timer_start(&c->stall_timer, on_stall, rnd_upto(p, p->stall_ms), 0);
    start_reading(&c->up);
    if (!c->closing)
        start_reading(&c->down);
}

static void addr_str(const struct sockaddr *sa, char *buf, size_t len)
{
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;

    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

        uv_ip4_name(in, host, sizeof(host));
        port = ntohs(in->sin_port);
        snprintf(buf, len, "%s:%d", host, port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

        uv_ip6_name(in6, host, sizeof(host));
        port = ntohs(in6->sin6_port);
        snprintf(buf, len, "[%s]:%d", host, port);
    } else {
        snprintf(buf, len, "?");
    }
}

static void init_dir(struct conn *c, struct dir *d, const char *name,
                     uv_tcp_t *src, uv_tcp_t *dst)
{
    d->c = c;
    d->name = name;
    d->src = src;
    d->dst = dst;
    uv_timer_init(&c->p->loop, &d->timer);
    d->timer.data = d;
}

static void on_refused_closed(uv_handle_t *h)
{
    free(h);
}

static int port_of(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
    return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct proxy *p = server->data;
    struct conn *c;
    struct sockaddr_storage ss;
    int len = sizeof(ss), rc;
    uint64_t now, id;
    uv_tcp_t *t;

    if (status < 0) {
        plog(p, "cannot accept: %s", uv_strerror(status));
        return;
    }
    id = ++p->next_id;
    now = uv_now(&p->loop);
    if (p->nconns >= p->max_conns || now - p->start < p->refuse_ms) {
        t = malloc(sizeof(*t));
        if (t == NULL)
            return;
        uv_tcp_init(&p->loop, t);
        if (uv_accept(server, (uv_stream_t *)t) == 0) {
            if (p->nconns >= p->max_conns)
                plog(p,
                     "connection %" PRIu64 " refused: --max-connections "
                     "(%" PRIu64 ") are open",
                     id, p->max_conns);
            else
                plog(p,
                     "connection %" PRIu64 " refused (--refuse-for, "
                     "%" PRIu64 " ms left)",
                     id, p->refuse_ms - (now - p->start));
        }
        /* Accepted and closed at once: the client sees no response. */
        uv_close((uv_handle_t *)t, on_refused_closed);
        return;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return;
    c->p = p;
    c->id = id;
    uv_tcp_init(&p->loop, &c->client);
    uv_tcp_init(&p->loop, &c->upstream);
    uv_timer_init(&p->loop, &c->drop_timer);
    uv_timer_init(&p->loop, &c->stall_timer);
    c->client.data = &c->up;
    c->upstream.data = &c->down;
    c->drop_timer.data = c->stall_timer.data = c;
    init_dir(c, &c->up, "client", &c->client, &c->upstream);
    init_dir(c, &c->down, "upstream", &c->upstream, &c->client);
    c->handles = 6;
    c->next = p->conns;
    if (p->conns != NULL)
        p->conns->prev = c;
    p->conns = c;
    p->nconns++;
    rc = uv_accept(server, (uv_stream_t *)&c->client);
    if (rc == 0 &&
        uv_tcp_getpeername(&c->client, (struct sockaddr *)&ss, &len) == 0)
        addr_str((struct sockaddr *)&ss, c->peer, sizeof(c->peer));
    else
        snprintf(c->peer, sizeof(c->peer), "?");
    if (rc == 0) {
        uv_tcp_nodelay(&c->client, 1);
        uv_tcp_nodelay(&c->upstream, 1);
        c->connect_req.data = c;
        rc = uv_tcp_connect(&c->connect_req, &c->upstream,
                            (const struct sockaddr *)&p->to, on_connect);
    }
    if (rc < 0) {
        plog(p, "connection %" PRIu64 ": %s; closing it", id, uv_strerror(rc));
        conn_close(c);
        return;
    }
    cli_infof(&p->out, "connection %" PRIu64 " from %s: open", id, c->peer);
}

/* --- stopping */

static void on_signal(uv_signal_t *h, int signum)
{
    struct proxy *p = h->data;
    struct conn *c;

    (void)signum;
    if (p->stopping)
        return;
    p->stopping = 1;
    cli_infof(&p->out, "stopping: closing %" PRIu64 " connections", p->nconns);
    uv_close((uv_handle_t *)&p->listener, NULL);
    for (c = p->conns; c != NULL; c = c->next)
        conn_close(c);
    /* Stay installed, unreferenced, so a late signal still lands here. */
    uv_unref((uv_handle_t *)&p->sigint);
    uv_unref((uv_handle_t *)&p->sigterm);
}

/* --- option parsing */

/*
 * HOST:PORT or [V6]:PORT into |ss|; the host may be a name, resolved now.
 * Returns 0, -1 for a malformed value, or a libuv error from resolution.
 */
static int parse_addr(uv_loop_t *loop, const char *s,
                      struct sockaddr_storage *ss)
{
    char host[256];
    const char *colon, *h = s, *port;
    size_t hlen;
    uint64_t pn;
    uv_getaddrinfo_t gai;
    struct addrinfo hints;
    int rc;

    colon = strrchr(s, ':');
    if (colon == NULL)
        return -1;
    port = colon + 1;
    hlen = (size_t)(colon - s);
    if (s[0] == '[') {
        if (hlen < 2 || s[hlen - 1] != ']')
            return -1;
        h = s + 1;
        hlen -= 2;
    }
    if (hlen == 0 || hlen >= sizeof(host) || cli_parse_uint(port, &pn) != 0 ||
        pn > 65535)
        return -1;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    memset(ss, 0, sizeof(*ss));
    if (uv_ip4_addr(host, (int)pn, (struct sockaddr_in *)ss) == 0 ||
        uv_ip6_addr(host, (int)pn, (struct sockaddr_in6 *)ss) == 0)
        return 0;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    rc = uv_getaddrinfo(loop, &gai, NULL, host, NULL, &hints);
    if (rc != 0)
        return rc;
    memcpy(ss, gai.addrinfo->ai_addr, gai.addrinfo->ai_addrlen);
    uv_freeaddrinfo(gai.addrinfo);
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)pn);
    else
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)pn);
    return 0;
}

/* A --latency part: a plain number is milliseconds, else a duration. */
static int parse_ms(const char *s, size_t len, uint64_t *ms)
{
    char buf[32];

    if (len == 0 || len >= sizeof(buf))
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (cli_parse_uint(buf, ms) == 0)
        return 0;
    return cli_parse_duration(buf, ms);
}

static int parse_latency(const char *s, uint64_t *lat, uint64_t *jit)
{
    const char *pm = strstr(s, "+-");

    *jit = 0;
    if (pm == NULL)
        return parse_ms(s, strlen(s), lat);
    if (parse_ms(s, (size_t)(pm - s), lat) != 0)
        return -1;
    return parse_ms(pm + 2, strlen(pm + 2), jit);
}

/* BYTES/s, BYTES with k/m/g suffixes; "/s" is optional. */
static int parse_rate(const char *s, uint64_t *out)
{
    char buf[32];
    size_t len = strlen(s);

    if (len > 2 && strcmp(s + len - 2, "/s") == 0)
        len -= 2;
    if (len == 0 || len >= sizeof(buf))
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return cli_parse_bytes(buf, out);
}

/* A duration option that was given must be positive and at most a day. */
static int check_duration(const char *name, uint64_t *v)
{
    if (*v == UNSET) {
        *v = 0;
        return 0;
    }
    if (*v == 0 || *v > 86400000) {
        cli_opts_error(&proxy_help, "--%s: must be more than 0 and at most 1d",
                       name);
        return -1;
    }
    return 0;
}

static int write_port_file(const char *path, int port)
{
    FILE *f = fopen(path, "w");

    if (f == NULL)
        return -1;
    if (fprintf(f, "%d\n", port) < 0) {
        fclose(f);
        return -1;
    }
    return fclose(f);
}

int cmd_proxy(int argc, char **argv)
{
    struct cli_global_opts g = {0, 0, NULL};
    struct proxy *p;
    const char *listen_s = NULL, *to = NULL, *latency = NULL, *bw = NULL;
    const char *seed = NULL, *port_file = NULL, *bad, *bad_val;
    uint64_t drop_ms = UNSET, stall_ms = UNSET, stall_for_ms = UNSET;
    uint64_t refuse_ms = UNSET, max_conns = 1000, seed_v = 0;
    struct sockaddr_storage lss;
    char where[80];
    int n, rc, len, status = RTCTL_EXIT_OK;
    struct cli_opt opts[] = {
        OPT_GROUP("Addresses"),
        OPT_STR(0, "listen", &listen_s, "HOST:PORT",
                "address to accept connections on (port 0 picks a free "
                "one)"),
        OPT_STR(0, "to", &to, "HOST:PORT",
                "address to forward each connection to"),
        OPT_STR(0, "port-file", &port_file, "FILE",
                "write the listening port to FILE once listening"),
        OPT_UINT(0, "max-connections", &max_conns, "N",
                 "connections open at once; more are closed at once "
                 "(default 1000)"),
        OPT_GROUP("Faults"),
        OPT_DURATION(0, "drop-every", &drop_ms,
                     "cut each connection after a random time up to "
                     "DURATION"),
        OPT_STR(0, "latency", &latency, "MS[+-JITTER]",
                "delay every chunk, both ways, by MS (e.g. 200ms, "
                "100ms+-20ms; plain numbers are ms)"),
        OPT_STR(0, "bandwidth", &bw, "BYTES/s",
                "limit each direction of each connection (e.g. 64k)"),
        OPT_DURATION(0, "stall-every", &stall_ms,
                     "stop forwarding on each connection after a random "
                     "time up to DURATION, without closing it"),
        OPT_DURATION(0, "stall-for", &stall_for_ms,
                     "resume a stalled connection after DURATION (default: "
                     "stall until a peer closes)"),
        OPT_DURATION(0, "refuse-for", &refuse_ms,
                     "close new connections at once for DURATION after "
                     "start"),
        OPT_STR(0, "seed", &seed, "N",
                "seed the random times, to repeat a run"),
        CLI_GLOBAL_OPTS(&g),
        OPT_END(),
    };

    n = cli_opts_parse(&proxy_help, opts, argc, argv);
    if (n < 0)
        return n == CLI_OPTS_EXIT_OK ? RTCTL_EXIT_OK : RTCTL_EXIT_USAGE;
    p = calloc(1, sizeof(*p));
    if (p == NULL) {
        fprintf(stderr, "rtctl proxy: out of memory\n");
        return RTCTL_EXIT_RUNTIME;
    }
    if (cli_out_init(&p->out, &proxy_help, &g, 0) != 0)
        goto usage;
    if (n > 0) {
        cli_opts_error(&proxy_help, "unexpected argument '%s'", argv[1]);
        goto usage;
    }
    if (listen_s == NULL || to == NULL) {
        cli_opts_error(&proxy_help, "%s is required",
                       listen_s == NULL ? "--listen" : "--to");
        goto usage;
    }
    if (check_duration("drop-every", &drop_ms) != 0 ||
        check_duration("stall-every", &stall_ms) != 0 ||
        check_duration("stall-for", &stall_for_ms) != 0 ||
        check_duration("refuse-for", &refuse_ms) != 0)
        goto usage;
    if (stall_for_ms > 0 && stall_ms == 0) {
        cli_opts_error(&proxy_help, "--stall-for needs --stall-every");
        goto usage;
    }
    if (latency != NULL &&
        (parse_latency(latency, &p->latency_ms, &p->jitter_ms) != 0 ||
         p->latency_ms > 600000 || p->jitter_ms > 600000)) {
        cli_opts_error(&proxy_help,
                       "--latency: '%s' is not MS or MS+-JITTER (e.g. 200ms, "
                       "100ms+-20ms; at most 10m)",
                       latency);
        goto usage;
    }
    if (bw != NULL && (parse_rate(bw, &p->bandwidth) != 0 ||
                       p->bandwidth == 0 || p->bandwidth > (1ULL << 40))) {
        cli_opts_error(&proxy_help,
                       "--bandwidth: '%s' is not a rate in bytes per second "
                       "(e.g. 64k or 64k/s)",
                       bw);
        goto usage;
    }
    if (max_conns == 0 || max_conns > 1000000) {
        cli_opts_error(&proxy_help,
                       "--max-connections: must be between 1 and 1000000");
        goto usage;
    }
    if (seed != NULL && cli_parse_uint(seed, &seed_v) != 0) {
        cli_opts_error(&proxy_help, "--seed: '%s' is not a number", seed);
        goto usage;
    }

    uv_loop_init(&p->loop);
    bad = "listen";
    bad_val = listen_s;
    rc = parse_addr(&p->loop, listen_s, &lss);
    if (rc == 0) {
        bad = "to";
        bad_val = to;
        rc = parse_addr(&p->loop, to, &p->to);
    }
    if (rc != 0) {
        uv_loop_close(&p->loop);
        if (rc == -1) {
            cli_opts_error(&proxy_help, "--%s: '%s' is not HOST:PORT", bad,
                           bad_val);
            goto usage;
        }
        cli_errf(&p->out, "--%s: cannot resolve '%s': %s", bad, bad_val,
                 uv_strerror(rc));
        free(p);
        return RTCTL_EXIT_RUNTIME;
    }
    p->to_str = to;
    p->max_conns = max_conns;
    p->drop_ms = drop_ms;
    p->stall_ms = stall_ms;
    p->stall_for_ms = stall_for_ms;
    p->refuse_ms = refuse_ms;
    p->rng = seed != NULL ? seed_v : uv_hrtime();
    p->rng ^= 0x9e3779b97f4a7c15ULL; /* never zero for the usual seeds */
    if (p->rng == 0)
        p->rng = 1;
    /* Small reads under --bandwidth keep the rate smooth (a tenth of s). */
    p->read_size = READ_SIZE;
    p->high_water = HIGH_WATER;
    if (p->bandwidth > 0) {
        if (p->bandwidth / 10 < READ_SIZE)
            p->read_size = p->bandwidth / 10 > 0 ? p->bandwidth / 10 : 1;
        if (p->bandwidth < HIGH_WATER)
            p->high_water = p->bandwidth < 16384 ? 16384 : p->bandwidth;
    }

    /* Signals first: whoever reads "listening on" may signal at once. */
    uv_signal_init(&p->loop, &p->sigint);
    uv_signal_init(&p->loop, &p->sigterm);
    p->sigint.data = p->sigterm.data = p;
    uv_signal_start(&p->sigint, on_signal, SIGINT);
    uv_signal_start(&p->sigterm, on_signal, SIGTERM);
    uv_tcp_init(&p->loop, &p->listener);
    p->listener.data = p;
    rc = uv_tcp_bind(&p->listener, (const struct sockaddr *)&lss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&p->listener, 511, on_connection);
    len = sizeof(lss);
    if (rc == 0)
        rc = uv_tcp_getsockname(&p->listener, (struct sockaddr *)&lss, &len);
    if (rc != 0) {
        cli_errf(&p->out, "cannot listen on %s: %s", listen_s,
                 uv_strerror(rc));
        status = RTCTL_EXIT_RUNTIME;
        uv_close((uv_handle_t *)&p->listener, NULL);
        goto out;
    }
    addr_str((struct sockaddr *)&lss, where, sizeof(where));
    printf("listening on %s\n", where);
    fflush(stdout);
    if (port_file != NULL && write_port_file(port_file, port_of(&lss)) != 0) {
        cli_errf(&p->out, "cannot write --port-file '%s': %s", port_file,
                 strerror(errno));
        status = RTCTL_EXIT_RUNTIME;
        uv_close((uv_handle_t *)&p->listener, NULL);
        goto out;
    }
    uv_update_time(&p->loop);
    p->start = uv_now(&p->loop);
    uv_run(&p->loop, UV_RUN_DEFAULT);

out:
    if (!uv_is_closing((uv_handle_t *)&p->sigint))
        uv_close((uv_handle_t *)&p->sigint, NULL);
    if (!uv_is_closing((uv_handle_t *)&p->sigterm))
        uv_close((uv_handle_t *)&p->sigterm, NULL);
    uv_run(&p->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&p->loop) != 0)
        cli_warnf(&p->out, "the event loop still had handles open at exit");
    if (cli_out_finish(&p->out) != 0 && status == RTCTL_EXIT_OK)
        status = RTCTL_EXIT_RUNTIME;
    free(p);
    return status;

usage:
    free(p);
    return RTCTL_EXIT_USAGE;
}
