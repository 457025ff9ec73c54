/*
 * redis.h: the Redis half of `rtctl serve --redis URL` (PROTOCOL.md
 * section 7), below the engine: hiredis on the server's libuv loop, never
 * blocking (a host name is resolved by the system's resolver at connect:
 * give an address where that matters).
 *
 * Two connections: commands, and a subscriber (a RESP2 connection in
 * subscribe mode takes nothing else).  Keys, for a room R under the prefix
 * P ("rt:"):
 *
 *   P{R}:m  HASH  e = the room's epoch, s = its last seq
 *   P{R}:h  STREAM of the room's history, entry ID "seq-0", field m
 *   P{R}:p  ZSET  "node:user" scored by when it expires (ms, Redis time)
 *   P{R}:u  HASH  user -> how many nodes hold the user
 *   P{R}    the room's channel: "m<seq>:<epoch>:<payload>", "p+<user>",
 *           "p-<user>"
 *
 * Publishing is one script (EVALSHA, reloaded on NOSCRIPT): it allots the
 * next seq, appends to the stream trimmed to the history, and publishes;
 * so history and channel agree on the order.  The room's epoch is made
 * (with the hash) only when the hash is missing, that is when the room's
 * history really starts afresh (first use, or a Redis that lost its data),
 * and the stale stream is dropped then.
 *
 * A subscribed room is delivered in seq order: a message whose seq is not
 * the next one (a resubscribe after an outage, pub/sub being at most once)
 * is held while the missing ones are read from the stream.  Messages
 * trimmed from the stream meanwhile are lost, and said so.
 *
 * Presence: the engine says when a user is present on this instance in a
 * room and when no longer; this layer keeps a member per (node, user) in
 * Redis with an expiry, refreshes it, and every instance sweeps the rooms
 * it serves.  The first node to hold a user announces the join, the last
 * to let go (or the sweep of a dead node's members) the leave: once for
 * the cluster, each in one script.
 *
 * Outages: any failure or a command past its deadline drops both
 * connections; requests in flight complete with RT_ECLOSED, new ones fail
 * at once with RT_ECLOSED; reconnection follows rt_backoff (1 s to 30 s,
 * full jitter), then the scripts are loaded again, every room
 * resubscribed and treated as gapped, and local presence asserted again.
 */
#ifndef RT_REDIS_H
#define RT_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#define RT_REDIS_EPOCH_LEN 8

/* ------------------------------------------------------------- URL */

struct rt_redis_url {
    char *host; /* TCP; NULL for a unix socket */
    int port;
    char *path;     /* unix socket; NULL for TCP */
    char *user;     /* ACL user, or NULL (AUTH password) */
    char *password; /* NULL: no AUTH */
    int db;         /* SELECT when > 0 */
};

/*
 * Parse redis://[[user]:password@]host[:port][/db] (port 6379, db 0;
 * host may be [v6]) or unix:///path[?db=N].  0, or RT_EURL with a message
 * naming the fault in |err|; RT_ENOMEM.  Free with rt__redis_url_free.
 */
int rt__redis_url_parse(const char *s, struct rt_redis_url *u, char *err,
                        size_t errlen);
void rt__redis_url_free(struct rt_redis_url *u);

/* ----------------------------------------------------------- client */

typedef struct rt_redis rt_redis;

enum { RT_REDIS_LEFT, RT_REDIS_JOINED, RT_REDIS_EXPIRED };

struct rt_redis_cbs {
    /* Connected, scripts loaded: publishes succeed again. */
    void (*up)(void *ud);
    /* Lost (|why| says how); publishes fail until up. */
    void (*down)(void *ud, const char *why);
    /*
     * A subscribed room's message, in seq order.  |lost| > 0: that many
     * messages before this one were trimmed from the stream before they
     * could be read.
     */
    void (*message)(void *ud, const char *room, uint64_t seq,
                    const char *epoch, const char *payload, size_t len,
                    uint64_t lost);
    /*
     * The room's history started afresh under |epoch| (Redis lost the
     * room): seqs start again from 1.
     */
    void (*reset)(void *ud, const char *room, const char *epoch);
    /*
     * A user joined the room somewhere in the cluster (RT_REDIS_JOINED),
     * left it everywhere (RT_REDIS_LEFT), or the last instance holding
     * the user stopped refreshing it (RT_REDIS_EXPIRED: it died).
     */
    void (*presence)(void *ud, const char *room, const char *user, int what);
};

struct rt_redis_opts {
    const char *prefix;    /* "rt:" */
    uint32_t history;      /* stream length per room; 0 keeps none */
    uint32_t presence_ms;  /* member expiry; 30000 */
    uint32_t timeout_ms;   /* a command's deadline; 5000 */
    uint64_t backoff_base; /* first reconnect ceiling; 1000 */
    uint64_t backoff_cap;  /* 30000 */
};

struct rt_redis_stats {
    uint64_t connects, disconnects;
    uint64_t errors; /* commands that failed or timed out */
    uint64_t published, received, filled, lost;
};

/*
 * A client on |loop| that connects at once and keeps reconnecting.
 * |u| is copied.  NULL on no memory.
 */
rt_redis *rt__redis_new(uv_loop_t *loop, const struct rt_redis_url *u,
                        const struct rt_redis_opts *o,
                        const struct rt_redis_cbs *cb, void *ud);
/*
 * Drop the connections (the callbacks of requests in flight are not
 * called) and free once the loop has closed the handles: run the loop
 * after this.  Not from inside one of this client's callbacks.
 */
void rt__redis_free(rt_redis *r);
int rt__redis_is_up(const rt_redis *r);
/* Why the last connection failed, or "". */
const char *rt__redis_why(const rt_redis *r);
void rt__redis_stats(const rt_redis *r, struct rt_redis_stats *st);
/* This instance's node id in presence members. */
const char *rt__redis_node(const rt_redis *r);

/* A request in flight; rt__redis_cancel stops its callback. */
typedef struct rt_redis_req rt_redis_req;
void rt__redis_cancel(rt_redis_req *q);

/*
 * Publish |payload| in |room|: cb(ud, 0, seq, epoch) once Redis stored
 * it, or cb(ud, err, 0, NULL): RT_ECLOSED (Redis unavailable, or lost
 * while in flight: the message may then have been stored), RT_EPROTO (an
 * answer out of shape).  Returns the request, or NULL with *err set
 * (RT_ECLOSED when down, RT_ENOMEM): cb is then not called.
 */
typedef void (*rt_redis_pub_cb)(void *ud, int err, uint64_t seq,
                                const char *epoch);
rt_redis_req *rt__redis_publish(rt_redis *r, const char *room,
                                const char *payload, size_t len,
                                rt_redis_pub_cb cb, void *ud, int *err);

/*
 * The room's epoch (made when missing), its last seq and the oldest seq
 * its stream holds (last + 1 when empty).
 */
typedef void (*rt_redis_info_cb)(void *ud, int err, const char *epoch,
                                 uint64_t top, uint64_t oldest);
rt_redis_req *rt__redis_info(rt_redis *r, const char *room,
                             rt_redis_info_cb cb, void *ud, int *err);

/* Up to |count| (at most 1000) held messages with seq >= |from|. */
struct rt_redis_entry {
    uint64_t seq;
    const char *payload;
    size_t len;
};
typedef void (*rt_redis_range_cb)(void *ud, int err,
                                  const struct rt_redis_entry *v, size_t n);
rt_redis_req *rt__redis_range(rt_redis *r, const char *room, uint64_t from,
                              uint32_t count, rt_redis_range_cb cb, void *ud,
                              int *err);

/* The users present in the room anywhere (expired ones swept first). */
typedef void (*rt_redis_users_cb)(void *ud, int err, const char *const *users,
                                  size_t n);
rt_redis_req *rt__redis_users(rt_redis *r, const char *room,
                              rt_redis_users_cb cb, void *ud, int *err);

/*
 * Deliver the room's messages with seq > |after| of history |epoch|
 * through cb->message (counted: subscribe twice, unsubscribe twice).
 * |epoch| and |after| are what the caller already has (rt__redis_info's),
 * or NULL: from what is current when the subscription starts.  0 or
 * RT_ENOMEM.
 */
int rt__redis_subscribe(rt_redis *r, const char *room, const char *epoch,
                        uint64_t after);
void rt__redis_unsubscribe(rt_redis *r, const char *room);

/*
 * Message |seq| of a subscribed room as this instance knows it (its own
 * publish, answered before the channel brought it): delivered now when it
 * is the next one, else handled as if it came on the channel.
 */
void rt__redis_offer(rt_redis *r, const char *room, uint64_t seq,
                     const char *epoch, const char *payload, size_t len);
/*
 * The subscribed room's epoch and last seq delivered: 0, or RT_ESTATE
 * when not known (not subscribed, or not synced yet).
 */
int rt__redis_position(const rt_redis *r, const char *room, char *epoch,
                       size_t epochlen, uint64_t *last);

/*
 * |user| is present on this instance in |room| (on), or no longer (off).
 * Kept and refreshed here across outages; 0 or RT_ENOMEM.
 */
int rt__redis_presence(rt_redis *r, const char *room, const char *user,
                       int on);

#endif /* RT_REDIS_H */
