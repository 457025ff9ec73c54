/*
 * server.h: the bundled server behind `rtctl serve` (PROTOCOL.md sections
 * 1 to 6): rooms over WebSocket, Server-Sent Events and long polling on one
 * libuv loop, with libwebsockets running on that loop as a foreign loop.
 *
 * Threads: everything happens on the loop thread.
 */
#ifndef RT_SERVER_H
#define RT_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct uv_loop_s; /* uv_loop_t: no need for uv.h here */

typedef struct rt_server rt_server;
struct rt__engine;

enum rt_server_log_format { RT_SERVER_LOG_TEXT = 0, RT_SERVER_LOG_JSON };

/* Levels of --log-level, lowest first. */
enum rt_server_log_level {
    RT_SERVER_LOG_ERROR = 0,
    RT_SERVER_LOG_WARN,
    RT_SERVER_LOG_INFO,
    RT_SERVER_LOG_DEBUG
};

/*
 * What a request head may hold (answered 431 or 414 past it).  Header
 * bytes are --max-header-bytes, at most RT_SERVER_MAX_HEADER_BYTES: the
 * head and libwebsockets' bookkeeping for it must fit its 65535 bytes of
 * header storage.  Fields and arguments are fixed: together they must fit
 * its 94 fragment slots (gate.c).
 */
#define RT_SERVER_MAX_HEADER_BYTES 64512 /* 63k */
#define RT_SERVER_MAX_HEADER_FIELDS 64
#define RT_SERVER_MAX_QUERY_ARGS 24

typedef struct rt_server_opts {
    const char *host;     /* bind address; default 127.0.0.1 */
    int port;             /* 0: the system picks; default 8080 */
    const char *tls_cert; /* PEM paths; both or neither */
    const char *tls_key;
    const char *auth_secret;       /* HS256 secret; NULL: auth off */
    const char *allow_origin;      /* comma list for CORS; NULL: "*" */
    size_t max_message_bytes;      /* default 64 KiB */
    unsigned max_room_connections; /* 0: unlimited (default 10000) */
    unsigned max_user_connections; /* 0: unlimited (default 100) */
    double rate;                   /* messages/s per connection; 0: off */
    size_t max_queue_bytes;        /* per-connection send queue, 1 MiB */
    unsigned history;              /* stored messages per room, 1000 */
    unsigned ping_interval_s;      /* WebSocket ping, 30 */
    uint64_t presence_timeout_ms;  /* 30 s */
    uint64_t sse_keepalive_ms;     /* 15 s */
    unsigned poll_timeout_max_s;   /* 60 */
    int compress;                  /* permessage-deflate offered */
    size_t max_header_bytes;       /* HTTP request head, 8 KiB */
    size_t max_body_bytes;         /* POST bodies, 64 KiB */
    /* fields below were added for issue 10 */
    unsigned max_rooms;               /* 0: unlimited (default 10000) */
    uint64_t room_ttl_ms;             /* idle room expiry, 1 h; 0: never */
    unsigned max_address_connections; /* per peer IP; 0: off (1024) */
    uint64_t request_timeout_ms;      /* headers, then body, each: 10 s */
    double typing_rate;               /* typing events/s per user; 0: off */
    enum rt_server_log_level log_level;
    enum rt_server_log_format log_format;
    FILE *log_file; /* default stderr */
    /* fields below were added for issue 14 */
    /*
     * The storage engine (engine.h); NULL: the in-memory one.  The server
     * owns it from rt_server_new() on, whether that succeeds or fails, and
     * frees it (after cancelling what is pending) in rt_server_free().
     */
    struct rt__engine *engine;
    /*
     * Rooms with more connections than this announce no joins and leaves
     * and list nobody in welcomes: snapshots on request only.  0: no
     * limit.  Default 1000.
     */
    unsigned presence_max_members;
} rt_server_opts;

void rt_server_opts_init(rt_server_opts *o);

/*
 * Create the server on |loop| and start listening.  On failure returns a
 * negative RT_E* code with a sentence in |errbuf| ("cannot bind
 * 127.0.0.1:8080: address in use").
 */
int rt_server_new(rt_server **out, struct uv_loop_s *loop,
                  const rt_server_opts *o, char *errbuf, size_t errlen);

/* The port actually listened on (useful with port 0). */
int rt_server_port(const rt_server *s);

/*
 * Begin a graceful shutdown: stop accepting, send close 1001 to every
 * WebSocket, end SSE and poll responses.  |done| is called once every
 * connection is gone (or after a deadline of one second); the loop then has
 * no handles of the server left and rt_server_free() may be called.
 */
void rt_server_shutdown(rt_server *s, void (*done)(rt_server *s, void *ud),
                        void *ud);

void rt_server_free(rt_server *s);

#endif /* RT_SERVER_H */
