/*
 * server_int.h: what the files of server-stub/ share.
 *
 * The model: every message a room stores or a connection is sent is encoded
 * once into an smsg (JSON, plus its WebSocket frame header in front of it
 * and, on first use, its SSE event text), reference-counted, and queued by
 * pointer on each receiving connection.  A writable connection copies as
 * many queued frames as fit into one buffer and hands it to libwebsockets in
 * one raw write, so a burst of small messages costs one syscall, not one
 * per message (uWebSockets calls this corking).  A connection whose queue
 * passes --max-queue-bytes is dropped as a slow consumer; the room never
 * waits for it.
 */
#ifndef RT_SERVER_INT_H
#define RT_SERVER_INT_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include <libwebsockets.h>
#include <uv.h>

#include "core_int.h"
#include "engine.h"
#include "rt/msg.h"
#include "server.h"
#include "srv_core.h"

#define RT_EPOCH_LEN 8
#define RT_NAME_MAX 64
/* One raw write takes at most this much from a connection's queue. */
#define RT_CORK_BYTES (64 * 1024)
/*
 * A replay is queued this far ahead of the socket (or half of
 * --max-queue-bytes, if less), leaving the rest of the queue to live
 * frames; four writes' worth keeps the socket busy.
 */
#define RT_REPLAY_AHEAD (4 * RT_CORK_BYTES)

struct room;
struct ruser;
struct conn;

/*
 * A user's typing relay in a room (--typing-rate): at most one event per
 * interval goes out; one that comes sooner waits, replaced by any later
 * one, and the latest goes out when the interval ends.
 */
struct typing {
    uint64_t next_ms; /* no relay before this */
    uint8_t pending;  /* |state| waits for next_ms */
    uint8_t state;
};

/* ---------------------------------------------------------------- smsg */

struct smsg {
    uint32_t refs;
    uint8_t stored;    /* in a room's history: has seq, gets an SSE id */
    uint8_t ws_opcode; /* 0x1 text, 0x2 binary (echo) */
    rt_msg_type type;
    uint64_t seq;
    size_t json_len;
    unsigned char *ws; /* frame header immediately followed by json */
    size_t ws_len;
    char *sse; /* "id: ..\nevent: ..\ndata: ..\n\n", built lazily */
    size_t sse_len;
    unsigned char buf[]; /* [10 bytes of header room][json][NUL] */
};

struct smsg *rt__smsg_new(const char *json, size_t len, rt_msg_type type,
                          int opcode);
struct smsg *rt__smsg_ref(struct smsg *m);
void rt__smsg_unref(struct smsg *m);
const char *rt__smsg_json(const struct smsg *m);
/* The SSE event for |m| in a room of epoch |epoch|; NULL on no memory. */
int rt__smsg_sse(struct smsg *m, const char *epoch);

/* -------------------------------------------------------- output queue */

struct outq {
    struct smsg **v;
    uint32_t head, n, cap;
    size_t bytes;
};

/* ------------------------------------------------------------ metrics */

enum rt_transport { RT_TR_WS, RT_TR_SSE, RT_TR_POLL, RT_TR_ECHO, RT_TR_N };

struct rt_metrics {
    uint64_t conns[RT_TR_N]; /* gauge */
    uint64_t accepted[RT_TR_N];
    uint64_t received[6];        /* by rt_msg_type */
    uint64_t delivered[RT_TR_N]; /* messages queued to clients */
    uint64_t bytes_out[RT_TR_N];
    uint64_t bytes_in;
    uint64_t errors[RT_MSG_CODE_COUNT_];
    uint64_t slow_consumer;
    uint64_t queue_drops;
    uint64_t auth_failures;
    uint64_t resumes_recovered;
    uint64_t resumes_lost;
    uint64_t http_requests;
    uint64_t published_http;
    uint64_t closes[8];        /* by close code class, see metrics.c */
    uint64_t refused_address;  /* over --max-address-connections */
    uint64_t request_timeouts; /* bodies past --request-timeout */
    uint64_t accept_paused;    /* accept() failed: paused */
    uint64_t ephemeral_drops;  /* typing/presence to a full queue */
    uint64_t typing_coalesced; /* typing events not relayed */
    uint64_t rooms_expired;    /* idle past --room-ttl */
};

/* ---------------------------------------------------------- connection */

enum conn_kind {
    CONN_NONE = 0,
    CONN_HTTP, /* a plain request: one response, then done */
    CONN_WS,   /* /ws/{room} */
    CONN_ECHO, /* /echo */
    CONN_SSE,  /* /events/{room} */
    CONN_POLL  /* /poll/{room}, waiting */
};

/* Per-connection state, allocated and zeroed by lws (per-session data). */
struct conn {
    struct lws *wsi;
    struct rt_server *srv;
    enum conn_kind kind;
    struct conn *next, *prev; /* all connections */
    struct room *room;
    struct ruser *ru;           /* presence entry (WS, SSE) */
    struct conn *rnext, *rprev; /* room members, or room's waiting polls */
    char user[RT_NAME_MAX + 1];
    uint64_t opened_ms;
    uint64_t heard_ms; /* last frame or pong (presence) */
    uint64_t ping_ms;  /* when we last pinged it */

    struct outq q;
    struct conn *dnext, *dprev; /* on the server's flush list */
    unsigned dirty : 1;
    unsigned writable_asked : 1;
    unsigned closing : 1;      /* close with close_code when writable */
    unsigned killed : 1;       /* dropped: queue nothing more */
    unsigned counted : 1;      /* included in metrics gauges */
    unsigned linked : 1;       /* on the server's list */
    unsigned user_counted : 1; /* in --max-user-connections counts */
    unsigned no_presence : 1;  /* ?presence=0: never listed */
    unsigned clean_close : 1;  /* the peer sent close 1000 or 1001 */
    uint16_t close_code;
    char close_reason[64];

    /* a resume being streamed: see rt__conn_replay_fill */
    unsigned replaying : 1;
    unsigned fetching : 1; /* the engine is reading what the cache lacks */
    struct rt_replay replay;
    uint64_t replay_from; /* first seq the client asked for */
    /* read from the engine, sent before the cache: fetch_v[fetch_pos..] */
    struct smsg **fetch_v;
    uint32_t fetch_n, fetch_pos;

    /*
     * Parked on its room's waiting list until the engine attached the
     * room (enum conn_wait), with what the connection asked for.
     */
    uint8_t wait;
    int8_t want_since; /* a resume position was given */
    uint64_t since;
    char epoch[48]; /* as given: longer than any epoch is no epoch */
    uint8_t sse_go; /* SSE: attached (1) or not (2): begin when writable */

    /* WebSocket receive */
    rt_buf rx;
    int rx_binary;
    int rx_overflow;
    double tokens;        /* rate limit bucket */
    struct typing typing; /* when not in presence (no ru) */
    uint64_t tokens_ms;

    /* HTTP */
    int method; /* enum http_method in http.c */
    char path[256];
    rt_buf body; /* request body (POST) */
    rt_buf resp; /* response body waiting to be written */
    size_t resp_off;
    int resp_status;
    unsigned resp_headers_done : 1;
    unsigned resp_ready : 1;   /* resp and resp_status wait for writable */
    unsigned timed_out : 1;    /* body not in by its deadline */
    uint64_t body_deadline_ms; /* a POST's body must be in by then */

    /* SSE */
    uint64_t keepalive_due_ms;

    /* long poll */
    uint64_t poll_since;
    uint64_t poll_deadline_ms;
};

/* -------------------------------------------------------------- rooms */

/* A user's presence in a room (PROTOCOL.md section 3). */
struct ruser {
    struct ruser *next;
    char name[RT_NAME_MAX + 1];
    unsigned nconns;
    int online;            /* online here: join seen, leave not yet */
    unsigned remote : 1;   /* online on another instance (engine) */
    uint64_t beat_ms;      /* last presence heartbeat to the engine */
    uint64_t leave_due_ms; /* last connection gone: leave at */
    uint64_t heard_ms;     /* newest heartbeat of any connection */
    struct typing typing;
};

struct room {
    struct room *hnext;
    uint64_t active_ms; /* last join, leave, poll or store */
    char name[RT_NAME_MAX + 1];
    char epoch[RT__EPOCH_MAX + 1];
    uint64_t seq;           /* the newest delivered */
    unsigned attached : 1;  /* the engine gave epoch and seq */
    unsigned attaching : 1; /* and will: do not free the room */
    struct conn *waiting;   /* connections waiting for the attach */
    unsigned holds;         /* connections about to join: keep the room */
    struct rt_ring hist;    /* cache: the last --history delivered */
    struct conn *members;   /* WS and SSE connections */
    unsigned nmembers;
    struct conn *polls; /* waiting long polls */
    struct ruser *users;
    unsigned nusers_online;
};

/* ------------------------------------------------------------- server */

struct rt_server {
    uv_loop_t *loop;
    struct lws_context *ctx;
    struct lws_context *ctx_dying; /* destroy begun; finish in _free */
    struct lws_vhost *vh;
    rt_server_opts o;
    int port;
    char errbuf[256];

    struct rt__engine *eng;
    struct rt__op *ops; /* engine operations pending for connections */

    struct room **rooms; /* hash table */
    size_t nbuckets, nrooms;
    size_t rooms_freed; /* since the last malloc_trim */
    uint64_t trimmed_ms;

    struct rt_peers *peers; /* counts per address: limits.c */
    struct conn *conns;     /* every connection */
    size_t nconns;
    /* users' connection counts across rooms, for --max-user-connections */
    struct ucount *ucounts;

    /* the listening socket's poll handle, paused when accept() fails */
    uv_poll_t *listen_poll;
    uv_poll_cb listen_cb;
    int accept_paused;
    uint64_t accept_resume_ms, accept_logged_ms, accept_unlogged;

    uv_timer_t tick;
    uv_check_t flush;   /* writes queued frames once per turn */
    struct conn *dirty; /* connections with something queued */
    uint64_t now_ms;

    unsigned char *cork; /* RT_CORK_BYTES write buffer */
    struct rt_metrics m;
    lws_retry_bo_t retry;
    struct lws_protocols protocols[2];
    struct lws_extension exts[2];

    int shutting_down;
    uint64_t shutdown_deadline_ms;
    void (*shutdown_done)(rt_server *s, void *ud);
    void *shutdown_ud;
    int tick_closed;
};

/* server.c */
void rt__srv_log(const rt_server *s, enum rt_server_log_level lvl,
                 const char *fmt, ...) RT__PRINTF(3, 4);
uint64_t rt__srv_now_ms(rt_server *s);
double rt__srv_wall(void);
void rt__srv_random_name(char *out, size_t n);

/* conn.c: queues and writing */
int rt__conn_send(struct conn *c, struct smsg *m);
int rt__conn_send_json(struct conn *c, const char *json, size_t len,
                       rt_msg_type type);
int rt__conn_send_error(struct conn *c, rt_msg_code code, const char *id,
                        const char *message);
int rt__conn_write(struct conn *c);
void rt__conn_flush_all(rt_server *s);
void rt__conn_close(struct conn *c, uint16_t code, const char *reason);
int rt__conn_send_control(struct conn *c, int opcode, const void *payload,
                          size_t len);
void rt__conn_drop(struct conn *c, uint16_t code, const char *reason);
void rt__outq_clear(struct outq *q);
void rt__conn_link(struct conn *c);
/*
 * Queue more of |c|'s replay while its queue is under RT_REPLAY_AHEAD;
 * once caught up (or overtaken), queue `resumed` and go live.
 */
int rt__conn_replay_fill(struct conn *c);
void rt__conn_unlink(struct conn *c);

/* Rooms (room.h) on top of the storage engine (engine.h). */
#include "room.h"

/* What a parked connection waits for (conn.wait). */
enum conn_wait { WAIT_NONE = 0, WAIT_WS, WAIT_SSE, WAIT_POLL, WAIT_PUBLISH };

/*
 * Park |c| on |r|'s waiting list (|what|), or take it off; the attach
 * completion goes on with each parked connection (rt__ws_join,
 * rt__sse_attached, rt__poll_attached, rt__http_publish_attached), or
 * refuses it when the engine could not attach the room.
 */
void rt__room_wait(struct room *r, struct conn *c, enum conn_wait what);
void rt__room_unwait(struct conn *c);

/*
 * An engine operation done for a connection.  The connection may go
 * before it completes: rt__ops_forget then clears |c|, and the completion
 * only frees the op.
 */
struct rt__op {
    struct rt__op *next, *prev;
    rt_server *s;
    struct conn *c;
    uint64_t since; /* read: asked after */
    char id[];      /* append: the client's message id, "" if none */
};
struct rt__op *rt__op_new(rt_server *s, struct conn *c, const char *id);
void rt__op_free(struct rt__op *op);
void rt__ops_forget(rt_server *s, const struct conn *c);

/*
 * Publish: the text |m| of |user| encoded as a stored body (the message
 * without its seq) into |body|; RT_EPROTO when its data is not a JSON
 * object this server reads.  Then appended through the engine; the
 * sender |c| (WebSocket: ack; HTTP: 202, or NULL) hears when it is done.
 */
int rt__publish_body(rt_server *s, const char *room, rt_msg *m,
                     const char *user, rt_buf *body);
int rt__publish_append(rt_server *s, struct room *r, const char *body,
                       size_t len, struct conn *c, const char *id);

/* Resume decision shared by WS, SSE and poll (PROTOCOL.md section 4). */
struct resume {
    int asked; /* the client gave a position */
    int fetch; /* the cache lacks the start: ask the engine */
    int recovered;
    uint64_t from;         /* first seq the client lacks */
    uint64_t to;           /* the room's seq now */
    uint64_t replay_after; /* replay held messages with seq > this */
};
void rt__room_resume(const rt_server *s, const struct room *r, int has_since,
                     uint64_t since, const char *epoch, struct resume *out);
void rt__conn_fetch_clear(struct conn *c);
int rt__conn_resume(rt_server *s, struct room *r, struct conn *c,
                    uint64_t since, const char *epoch);

/* Text of the common server frames. */
int rt__frame_welcome(rt_server *s, const struct room *r, const char *user,
                      rt_buf *b);
int rt__frame_resumed(const struct room *r, const struct resume *rs,
                      rt_buf *b);
int rt__frame_presence(const struct room *r, const char *event,
                       const char *user, const char *reason, rt_buf *b);

/* ws.c */
void rt__ws_join(struct conn *c, struct room *r);
void rt__ws_unavailable(struct conn *c);
int rt__ws_callback(struct lws *wsi, enum lws_callback_reasons reason,
                    struct conn *c, void *in, size_t len);
int rt__ws_confirm_upgrade(struct lws *wsi, struct conn *c);
void rt__ws_tick(rt_server *s);
/* Relay |t|'s waiting typing state of |user| in |r| if its time came. */
void rt__typing_flush(rt_server *s, struct room *r, const char *user,
                      struct typing *t);

/* http.c */
void rt__http_publish_attached(struct conn *c, struct room *r, int ok);
/* Answer a publish (|status|: enum rt__eng_status) when writable. */
void rt__http_published(struct conn *c, int status, uint64_t seq);
int rt__http_callback(struct lws *wsi, enum lws_callback_reasons reason,
                      struct conn *c, void *in, size_t len);
int rt__http_respond(struct conn *c, int status, const char *ctype,
                     const char *body, size_t len);
int rt__http_error(struct conn *c, int status, rt_msg_code code,
                   const char *message);
int rt__http_cors_headers(struct conn *c, unsigned char **p,
                          unsigned char *end);
int rt__http_arg(struct lws *wsi, const char *name, char *buf, size_t len);
int rt__http_arg_u64(struct lws *wsi, const char *name, uint64_t max,
                     uint64_t *out);
/* ?presence=: 1 when absent, 1 or 0 as given, -1 when neither. */
int rt__http_presence_arg(struct lws *wsi);
int rt__origin_listed(const rt_server *s, const char *origin);
int rt__request_origin(struct lws *wsi, char *buf, size_t len);

/* auth.c */
enum rt_auth_result {
    RT_AUTH_OK = 0,
    RT_AUTH_INVALID,
    RT_AUTH_EXPIRED,
    RT_AUTH_FORBIDDEN,
    RT_AUTH_NOT_YET
};
enum rt_auth_result rt__auth_check(rt_server *s, struct lws *wsi,
                                   const char *room, char *user,
                                   size_t userlen);
const char *rt__auth_reason(enum rt_auth_result r);
/*
 * Whether the request's token lets it see |room| (its rooms claim); 1
 * without auth.  For listings: /rooms shows only these.
 */
int rt__auth_room_visible(rt_server *s, struct lws *wsi, const char *room);
/* The user of an unauthenticated request: ?user= or anon-XXXXXX; -1 bad. */
int rt__auth_user(rt_server *s, struct lws *wsi, char *user, size_t len);

/* sse.c */
void rt__sse_attached(struct conn *c, struct room *r, int ok);
int rt__sse_writable(struct conn *c);
int rt__sse_start(struct conn *c, const char *room);
void rt__sse_tick(rt_server *s);

/* poll.c */
int rt__poll_start(struct conn *c, const char *room);
void rt__poll_wake(rt_server *s, struct room *r);
void rt__poll_tick(rt_server *s);
void rt__poll_cancel(struct conn *c);
void rt__poll_attached(struct conn *c, struct room *r, int ok);

/* limits.c: --max-address-connections */
struct sockaddr;
int rt__peer_allowed(rt_server *s, const struct sockaddr *sa);
void rt__peer_add(rt_server *s, struct lws *wsi);
void rt__peer_del(rt_server *s, const struct lws *wsi);
void rt__peers_free(rt_server *s);
void rt__http_tick(rt_server *s);

/* metrics.c */
int rt__metrics_render(const rt_server *s, rt_buf *b);
void rt__metrics_close(rt_server *s, uint16_t code);

#endif /* RT_SERVER_INT_H */
