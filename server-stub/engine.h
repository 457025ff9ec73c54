/*
 * engine.h: the storage engine of the server, what an instance asks of
 * the place where rooms' epochs, seqs and histories live (PROTOCOL.md
 * sections 4 and 7), and the entry points through which an engine hands
 * the server what other instances stored.
 *
 * The interface is asynchronous: every operation that has a result takes
 * a completion callback, which a networked engine (Redis) calls later,
 * from the server's loop thread, and the in-memory engine (engine_mem.c,
 * the default) calls before the operation returns.  Callers handle both.
 *
 * Division of work.  The engine owns the truth: each room's epoch, the
 * allotment of seqs, the stored messages.  The server core owns what is
 * local to one instance: members, presence, send queues, and a cache of
 * the last --history messages of each attached room, filled in seq order
 * by rt__srv_deliver(); resumes and polls are served from that cache when
 * it covers them and from the engine's read operation when it does not.
 *
 * Stored messages travel as a body and a seq.  The body is the message's
 * JSON without its "seq" member, exactly as the core encoded it
 * ({"type":"text","id":..,"room":..,"data":..,"timestamp":..}); the core
 * puts `,"seq":N` in front of its "data" member when it makes the frame
 * (rt__stored_frame).  An engine stores and returns the body as opaque
 * bytes: it never needs to parse it.
 *
 * This header includes neither libwebsockets nor libuv.
 */
#ifndef RT_ENGINE_H
#define RT_ENGINE_H

#include <stddef.h>
#include <stdint.h>

typedef struct rt_server rt_server;
struct rt__engine;

/* Room epochs are 1 to RT__EPOCH_MAX characters [A-Za-z0-9]. */
#define RT__EPOCH_MAX 32

/*
 * Status of a completed operation.  RT__ENG_UNAVAILABLE: the store cannot
 * be reached now (a publish answers the error `unavailable`, a resume is
 * answered from the cache alone); RT__ENG_NOMEM; RT__ENG_CANCELED: the
 * engine is being freed (rt__engine_free) and the operation never ran;
 * RT__ENG_LIMIT: the store refuses more (e.g. a cluster-wide room cap).
 */
enum rt__eng_status {
    RT__ENG_OK = 0,
    RT__ENG_UNAVAILABLE,
    RT__ENG_NOMEM,
    RT__ENG_CANCELED,
    RT__ENG_LIMIT
};

/* One stored message, as read back from the store. */
struct rt__eng_msg {
    uint64_t seq;
    const char *body; /* JSON without "seq"; not NUL-terminated */
    size_t len;
};

/*
 * attach: |epoch| (NUL-terminated) and |top|, the room's newest seq (0:
 * nothing stored yet).  Both only valid during the call.
 */
typedef void (*rt__eng_attach_cb)(void *ud, enum rt__eng_status st,
                                  const char *epoch, uint64_t top);
/* append: the seq the message was stored as (0 unless st is OK). */
typedef void (*rt__eng_append_cb)(void *ud, enum rt__eng_status st,
                                  uint64_t seq);
/*
 * read: |n| messages in seq order, consecutive, all with seq > the
 * |after| asked; |oldest| is the oldest seq the store still holds (top +
 * 1 when none), |top| and |epoch| the room's position now.  |msgs| and
 * what it points to belong to the engine and live until the callback
 * returns.
 */
typedef void (*rt__eng_read_cb)(void *ud, enum rt__eng_status st,
                                const char *epoch,
                                const struct rt__eng_msg *msgs, size_t n,
                                uint64_t oldest, uint64_t top);

/* Local presence changes the core reports to the cluster. */
enum rt__eng_presence {
    RT__PRES_JOIN,     /* |user| came online here (first local connection) */
    RT__PRES_LEAVE,    /* |user| went offline here */
    RT__PRES_HEARTBEAT /* |user| is still online here (every few seconds) */
};

/*
 * The operations.  Contract shared by all of them:
 * - Called on the loop thread only; callbacks run on it too.
 * - An operation that returns 0 calls its callback exactly once, either
 *   before returning (the memory engine does) or later; one that returns
 *   nonzero (a negative RT_E* code) never calls it.
 * - Strings passed in (room, body, user) are only valid during the call:
 *   the engine copies what it keeps.
 * - A callback may call engine operations again, and the rt__srv_*
 *   entry points below; the engine must be in a consistent state when it
 *   calls one.
 * - rt__engine_free calls every pending callback with RT__ENG_CANCELED
 *   before it returns.
 * Optional operations may be NULL.
 */
struct rt__engine_ops {
    const char *name; /* "memory", "redis": logs and /metrics */

    /*
     * The room |room| is of interest to this instance from now on (a first
     * local connection, poll or publish).  Completes with its epoch and top
     * seq, creating it (fresh epoch, top 0) when the store has no such
     * room.  From the completion until detach, the engine delivers every
     * message stored in the room, by any instance, through rt__srv_deliver,
     * in seq order, starting after |top|.  An attach of an attached room
     * just completes again.
     */
    int (*attach)(struct rt__engine *e, const char *room, rt__eng_attach_cb cb,
                  void *ud);
    /*
     * No local interest any more (the core freed the room): stop
     * delivering it.  The memory engine forgets the room, epoch and all,
     * so a later attach starts a fresh history; a shared store keeps it.
     * No completion.  Detach of a room whose attach is pending is allowed:
     * the attach still completes (the core ignores it).
     */
    void (*detach)(struct rt__engine *e, const char *room);
    /*
     * Store |body| as the room's next message.  Before the callback says
     * OK with seq S, the engine has delivered S (and every seq before it)
     * to the core through rt__srv_deliver when the room is attached: the
     * broadcast, the poll wakeups and the cache happen there, the sender's
     * ack in the callback.  Errors: UNAVAILABLE (nothing stored), NOMEM.
     */
    int (*append)(struct rt__engine *e, const char *room, const char *body,
                  size_t len, rt__eng_append_cb cb, void *ud);
    /*
     * The stored messages with seq > |after|, at most |max| of them, the
     * oldest first.  For resumes and polls the cache cannot answer.  NULL
     * when the core's cache is the whole store (the memory engine): then
     * what the cache does not hold is not held anywhere.
     */
    int (*read)(struct rt__engine *e, const char *room, uint64_t after,
                unsigned max, rt__eng_read_cb cb, void *ud);
    /*
     * Tell the cluster about |user| in |room| (no completion; best effort:
     * remote entries expire after --presence-timeout without heartbeat).
     */
    void (*presence)(struct rt__engine *e, const char *room, const char *user,
                     enum rt__eng_presence what);
    /* 1 when the store is reachable (GET /health says ok), 0 degraded. */
    int (*healthy)(struct rt__engine *e);
    /*
     * Append the engine's own Prometheus samples (with # HELP and # TYPE)
     * to |out|, an rt_buf; RT_ENOMEM.
     */
    int (*metrics)(struct rt__engine *e, struct rt_buf *out);
    /* Cancel everything pending (RT__ENG_CANCELED) and free the engine. */
    void (*free)(struct rt__engine *e);
};

/*
 * Every engine embeds this first.  |srv| is set by the server before the
 * first operation, for the rt__srv_* calls below.
 */
struct rt__engine {
    const struct rt__engine_ops *ops;
    rt_server *srv;
};

/* The in-memory engine (engine_mem.c): RT_ENOMEM or 0. */
int rt__engine_mem_new(struct rt__engine **out);
void rt__engine_free(struct rt__engine *e);

/*
 * ----- entry points of the server core, for engines -----
 *
 * rt__srv_deliver: message |seq| of |room| was stored (by this instance
 * or another).  Deliveries of a room must come in seq order: a seq at or
 * below the room's newest is a duplicate and ignored (0); a seq past the
 * next one is refused with RT_EGAP, nothing delivered: the engine fills
 * the gap from its store and delivers again.  A room that is not
 * attached is ignored (0).  RT_ENOMEM: not delivered.  |body| is copied.
 * Runs the broadcast, poll wakeups and replays at once: do not call it
 * while holding state a core callback could invalidate.
 */
int rt__srv_deliver(rt_server *s, const char *room, uint64_t seq,
                    const char *body, size_t len);
/*
 * The history of |room| started afresh (the store lost it: a Redis
 * stream deleted): the cache is dropped, the room takes |epoch| and |top|,
 * and its connections are closed with 1012 so that they come back and
 * resume, told recovered false.  Ignored for a room not attached.
 */
void rt__srv_room_reset(rt_server *s, const char *room, const char *epoch,
                        uint64_t top);
/*
 * |user| is online (|online| 1) or not (0) in |room| on other instances.
 * The core lists a user online while they are online locally or
 * remotely, and announces a join or leave to its local members only when
 * that union changes, so every client hears of it once.  |reason| for a
 * leave: "closed" or "timeout".  Rooms not attached are ignored.
 */
void rt__srv_presence_remote(rt_server *s, const char *room, const char *user,
                             int online, const char *reason);

/*
 * Messages of |room| up to |upto| are lost for good (trimmed from the
 * store before this instance could read them): deliveries go on from
 * |upto| + 1, and a client resuming from before |upto| is told recovered
 * false.  Members that were live see the seq jump and resume themselves.
 * Ignored when |upto| is not past the room's newest, or the room is not
 * attached.
 */
void rt__srv_room_lost(rt_server *s, const char *room, uint64_t upto);

#endif /* RT_ENGINE_H */
