/*
 * core.h: the server's core, which knows no socket, no libwebsockets and
 * no libuv: rooms and their cache of history with resume, presence, the
 * per-connection send queues and their slow-consumer rule, limits, and
 * publishing through the engine (engine.h).  It takes the time from
 * s->now_ms and s->wall, which the shell sets, and asks the shell for
 * what only it can do through s->io.  Unit tests drive it with a fake
 * shell and clock (tests/unit/test_srv_room.c).
 *
 * The model: every message a room stores or a connection is sent is encoded
 * once into an smsg (JSON, plus its WebSocket frame header in front of it
 * and, on first use, its SSE event text), reference-counted, and queued by
 * pointer on each receiving connection.  A writable connection copies as
 * many queued frames as fit into one buffer and hands it to the socket in
 * one write, so a burst of small messages costs one syscall, not one
 * per message (uWebSockets calls this corking).  A connection whose queue
 * passes --max-queue-bytes is dropped as a slow consumer; the room never
 * waits for it.
 */
#ifndef RT_CORE_H
#define RT_CORE_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include "core_int.h"
#include "engine.h"
#include "rt/msg.h"
#include "server.h"
#include "srv_core.h"

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
/*
 * An unstored message of several frames at once: |ws| their WebSocket
 * frames back to back, |sse| their SSE events (taken).  NULL on no memory.
 */
struct smsg *rt__smsg_frames(rt_msg_type type, const rt_buf *ws, rt_buf *sse);
/* Append |json| as one unmasked WebSocket text frame. */
int rt__ws_frame(rt_buf *b, const char *json, size_t len);
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
    uint64_t presence_batches; /* one per room and tick with changes */
    uint64_t presence_quiet;   /* changes not announced: large rooms */
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

/* Per-connection state, allocated and zeroed by the shell. */
struct conn {
    void *wsi; /* the shell's handle (a struct lws *) */
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
    unsigned pres_skip : 1;    /* a presence batch is built for it alone */
    uint64_t pres_from;        /* the first presence change it is owed */
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
    uint64_t poll_check_ms; /* the shell's next look at the client */
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

/* How long an empty room outlives a poll it answered at once. */
#define RT_ROOM_KEEP_MS 10000

struct room {
    struct room *hnext;
    uint64_t active_ms;     /* last join, leave, poll or store */
    uint64_t keep_until_ms; /* empty, but kept for a poll's next ask */
    char name[RT_NAME_MAX + 1];
    char epoch[RT__EPOCH_MAX + 1];
    uint64_t seq;           /* the newest delivered */
    unsigned attached : 1;  /* the engine gave epoch and seq */
    unsigned attaching : 1; /* and will: do not free the room */
    struct conn *waiting;   /* connections waiting for the attach */
    unsigned holds;         /* connections about to join: keep the room */
    /* presence changes waiting for the next tick, oldest first */
    struct pres_ev *pres, **pres_tail;
    uint64_t pres_gen;    /* changes so far: the next one's number */
    struct rt_ring hist;  /* cache: the last --history delivered */
    struct conn *members; /* WS and SSE connections */
    unsigned nmembers;
    struct conn *polls; /* waiting long polls */
    struct ruser *users;
    unsigned nusers_online;
};

/* ------------------------------------------------------------- server */

struct rt__shell; /* the lws/uv half: server_int.h */
struct rt__io;    /* what the core asks of the shell: below */

struct rt_server {
    rt_server_opts o;
    int port;
    const struct rt__io *io;
    struct rt__shell *sh;

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

    int accept_paused;
    uint64_t accept_resume_ms, accept_logged_ms, accept_unlogged;

    struct conn *dirty; /* connections with something queued */
    /* the time, set by the shell: monotonic ms, and the wall clock */
    uint64_t now_ms;
    double wall;

    struct rt_metrics m;

    int shutting_down;
    uint64_t shutdown_deadline_ms;
    void (*shutdown_done)(rt_server *s, void *ud);
    void *shutdown_ud;
    int tick_closed;
};

/*
 * What the core asks of the shell that moves the bytes.  Queued frames
 * are not pushed: the core puts the connection on s->dirty and the shell
 * writes every dirty connection at the end of its loop turn.
 */
struct rt__io {
    /* Close |c| now (its queue is gone), with a close code if not 0. */
    void (*kill)(struct conn *c, uint16_t code, const char *reason);
    /* Cut |c| in |secs| seconds whatever happens (a closing consumer). */
    void (*linger)(struct conn *c, unsigned secs);
    /*
     * An HTTP request's answer is ready in c->resp, c->resp_status: write
     * it when the socket can take it.
     */
    void (*respond)(struct conn *c);
    /*
     * The room a parked SSE stream, poll or publish waited for is attached
     * (|ok|) or could not be (what: enum conn_wait).
     */
    void (*attached)(struct conn *c, struct room *r, int what, int ok);
};

/* core.c */
void rt__srv_log(const rt_server *s, enum rt_server_log_level lvl,
                 const char *fmt, ...) RT__PRINTF(3, 4);
void rt__srv_random_name(char *out, size_t n);

/* queue.c: queues; the writing is the shell's (conn.c) */
int rt__conn_send(struct conn *c, struct smsg *m);
int rt__conn_send_json(struct conn *c, const char *json, size_t len,
                       rt_msg_type type);
int rt__conn_send_error(struct conn *c, rt_msg_code code, const char *id,
                        const char *message);
void rt__conn_close(struct conn *c, uint16_t code, const char *reason);
int rt__conn_send_control(struct conn *c, int opcode, const void *payload,
                          size_t len);
void rt__conn_drop(struct conn *c, uint16_t code, const char *reason);
void rt__outq_clear(struct outq *q);
/* The bytes of |m| on |c|'s wire (WebSocket frame or SSE event). */
size_t rt__conn_wire_len(const struct conn *c, const struct smsg *m);
const unsigned char *rt__conn_wire_bytes(const struct conn *c,
                                         const struct smsg *m);
/* Off the server's list of connections with something queued. */
void rt__conn_dirty_unlink(struct conn *c);
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
/* How many messages a resume at |since| asks the engine for. */
unsigned rt__fetch_max(const rt_server *s, const struct room *r,
                       uint64_t since);
int rt__conn_resume(rt_server *s, struct room *r, struct conn *c,
                    uint64_t since, const char *epoch);

/* Text of the common server frames. */
int rt__frame_welcome(rt_server *s, const struct room *r, const char *user,
                      rt_buf *b);
int rt__frame_resumed(const struct room *r, const struct resume *rs,
                      rt_buf *b);
int rt__frame_presence(const struct room *r, const char *event,
                       const char *user, const char *reason, rt_buf *b);

/*
 * The core of |s| (zeroed by the caller) with the options |o|, the engine
 * |eng| (taken) and the shell |io|; rt__core_cleanup frees what it holds.
 */
void rt__core_init(rt_server *s, const rt_server_opts *o,
                   struct rt__engine *eng, const struct rt__io *io);
void rt__core_cleanup(rt_server *s);

/* admission and teardown (core.c) */
int rt__conn_admit(struct conn *c, const char *room, struct room **out);
void rt__ws_refuse(struct conn *c, int why);
void rt__conn_gone(struct conn *c);

/* ws core (core.c): a WebSocket's messages, whatever carried them */
void rt__ws_join(struct conn *c, struct room *r);
void rt__ws_unavailable(struct conn *c);
/* Handle the whole message in c->rx (c->rx_binary). */
void rt__ws_message(struct conn *c);
/* Relay |t|'s waiting typing state of |user| in |r| if its time came. */
void rt__typing_flush(rt_server *s, struct room *r, const char *user,
                      struct typing *t);
/* Answer a publish (|status|: enum rt__eng_status) through io->respond. */
void rt__http_published(struct conn *c, int status, uint64_t seq);

/* poll (core.c): answers of long polls */
/*
 * The answer of a poll at |since|: |n| messages the engine read, then the
 * cache after them.  RT_ENOMEM.
 */
int rt__poll_body(struct room *r, const struct resume *rs, uint64_t since,
                  const struct rt__eng_msg *msgs, size_t n, rt_buf *b);
void rt__poll_wake(rt_server *s, struct room *r);
void rt__poll_tick(rt_server *s);
void rt__poll_cancel(struct conn *c);
/* |c| is answered outside its request callback: a CONN_POLL from now. */
void rt__poll_enlist(struct conn *c);
/* Answer |c| with |b| (taken) and |status| through io->respond. */
void rt__poll_answer(struct conn *c, rt_buf *b, int status);
int rt__poll_go(struct conn *c, struct room *r, rt_buf *b);
/* Start reading what the cache lacks for poll |c| at |since|: 0 started. */
int rt__poll_fetch(struct conn *c, struct room *r, uint64_t since);

/* metrics.c */
int rt__metrics_render(const rt_server *s, rt_buf *b);
void rt__metrics_close(rt_server *s, uint16_t code);

#endif /* RT_CORE_H */
