/*
 * ws_proto.h: the sans-I/O protocol core behind rt_ws_client; internal to
 * librtctl (lib/net/ws_client.c and the unit tests).
 *
 * It takes the frames of one connection to our server after another, as
 * rt_msg_parse() made them, and decides what they mean: the welcome (a
 * fresh start, or a resume whose replay follows), the replay held until
 * the resumed frame judges it (or, in the same epoch, delivered as it
 * comes when it continues the position), the stored messages handed on
 * through an ordered buffer (rt/order.h) exactly once and in seq order,
 * and the answers to the messages sent with an id.  It also keeps the
 * outgoing queue: what waits to be written, and what was written with an
 * id and waits for its ack.
 *
 * It never reads a clock or touches a socket: the caller passes now_ms,
 * arms a timer from rt__ws_proto_deadline(), writes what
 * rt__ws_proto_next() hands it, and replaces the connection when the fail
 * callback asks.
 *
 * Threads: one thread at a time (the loop thread), like rt/order.h.
 */
#ifndef RT_WS_PROTO_H
#define RT_WS_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "rt/msg.h"

typedef struct rt__ws_proto rt__ws_proto;

/* Longest room epoch (PROTOCOL.md 4). */
#define RT__WS_PROTO_EPOCH_MAX 32
/* The default bounds on what a replay or a gap may make us hold. */
#define RT__WS_PROTO_REPLAY_MAX ((size_t)1 << 20)
#define RT__WS_PROTO_HELD_MAX ((size_t)256 << 20)

typedef struct rt__ws_proto_opts {
    int has_since;     /* 1: the first connection resumes from |since| */
    uint64_t since;    /* the last seq already seen, with has_since */
    const char *epoch; /* the epoch |since| belongs to; NULL: unknown */
    uint64_t gap_timeout_ms;
    size_t max_queued;       /* messages waiting to go or for acks */
    size_t max_queued_bytes; /* their total size */
    size_t max_replay;       /* replayed messages held; 0: the default */
    size_t max_held_bytes;   /* bytes held (replay, gap); 0: the default */
} rt__ws_proto_opts;

typedef struct rt__ws_proto_cbs {
    /*
     * One frame for the user: a stored message in seq order, any other
     * frame as it came, or (|m| NULL) a frame that was not protocol JSON.
     * |json|, |len| the frame, NUL-terminated.  Valid until it returns.
     * Required.
     */
    void (*message)(const rt_msg *m, const char *json, size_t len, void *ud);
    /*
     * The welcome arrived and the position is settled; the queue is
     * written once it returns (or once the resumed frame arrives, when
     * the welcome started a replay).  May be NULL.
     */
    void (*open)(const rt_msg *welcome, void *ud);
    /*
     * The resumed frame, before the replay it judged: |recovered| 0 when
     * messages were lost (then the order buffer started afresh).  Not
     * after rt__ws_proto_stop().  May be NULL.
     */
    void (*resumed)(int recovered, uint64_t from, uint64_t to, void *ud);
    /*
     * The outcome of a message sent with an id: |code| NULL and its
     * |seq|, an error code from the server, or "closed".  May be NULL.
     */
    void (*ack)(const char *id, uint64_t seq, const char *code, void *ud);
    /* The connection works: a stored message taken, an ack.  May be NULL. */
    void (*progress)(void *ud);
    /*
     * The connection must be replaced: |err| RT_EGAP (resume from the
     * position), RT_ETOOBIG with |final| 1 (stop); |detail| a sentence.
     * Frames pushed after it are still taken.  May be NULL.
     */
    void (*fail)(int err, int final, const char *detail, void *ud);
    /* There is something to write now (rt__ws_proto_next()).  May be NULL. */
    void (*want_write)(void *ud);
} rt__ws_proto_cbs;

/*
 * Create a core.  Returns 0, RT_EINVAL (NULL |out| or |cbs|, no message
 * callback, an epoch longer than RT__WS_PROTO_EPOCH_MAX, since
 * UINT64_MAX, a zero queue limit) or RT_ENOMEM; *out is NULL on error.
 */
int rt__ws_proto_new(rt__ws_proto **out, const rt__ws_proto_opts *o,
                     const rt__ws_proto_cbs *cbs, void *ud);

/* Free, with everything queued or held, reporting nothing.  NULL: no-op. */
void rt__ws_proto_free(rt__ws_proto *p);

/*
 * A new connection attempt: nothing is written until the welcome (or, in
 * raw use, rt__ws_proto_ready()); a replay of the last one is dropped.
 */
void rt__ws_proto_connecting(rt__ws_proto *p);

/*
 * The connection ended: the messages written with an id and not yet
 * answered go back to the front of the queue, in order; those whose
 * broadcast already answered them are dropped.
 */
void rt__ws_proto_disconnected(rt__ws_proto *p);

/* Write the queue from now on (a raw connection, once upgraded). */
void rt__ws_proto_ready(rt__ws_proto *p);

/*
 * Stop: no message or resumed callback any more, rt__ws_proto_send()
 * refuses, and rt__ws_proto_next() reports the messages with an id
 * "closed" instead of handing them on.
 */
void rt__ws_proto_stop(rt__ws_proto *p);

/*
 * The end: every message still queued or waiting for its ack is dropped,
 * each one with an id reported "closed", in queue order (the unanswered
 * written ones first).
 */
void rt__ws_proto_finalize(rt__ws_proto *p);

/*
 * One frame from the server, received at |now_ms|: |m| from rt_msg_parse()
 * (RT_MSG_FROM_SERVER), or NULL for a frame that was not protocol JSON;
 * |json|, |len| the frame, NUL-terminated.
 *
 * Returns 0 (the core owns |m| and freed it or holds it) or RT_ENOMEM
 * (nothing changed, no callback fired, |m| stays the caller's).
 * Callbacks: any, synchronously.
 */
int rt__ws_proto_push(rt__ws_proto *p, rt_msg *m, const char *json, size_t len,
                      uint64_t now_ms);

/*
 * Has a gap stayed open for the gap timeout?  Returns 0, or RT_EGAP with
 * the missing seqs in |*from|..|*to| (either may be NULL): reconnect from
 * the position.  Callbacks: none.
 */
int rt__ws_proto_tick(rt__ws_proto *p, uint64_t now_ms, uint64_t *from,
                      uint64_t *to);

/* When rt__ws_proto_tick() can next return RT_EGAP; see rt_order_deadline. */
uint64_t rt__ws_proto_deadline(const rt__ws_proto *p);

/* Stored messages held behind a gap (not counting an unjudged replay). */
size_t rt__ws_proto_held(const rt__ws_proto *p);

/*
 * Queue one frame to write; |id| (copied) keeps it until answered.
 * Returns 0, RT_ESTATE (stopped), RT_EFULL (max_queued messages or
 * max_queued_bytes) or RT_ENOMEM.  Callbacks: want_write, when ready.
 */
int rt__ws_proto_send(rt__ws_proto *p, int binary, const void *data,
                      size_t len, const char *id);

/*
 * The next frame to write, or NULL (nothing queued, or not ready).  When
 * stopped, the messages with an id at the head are first reported
 * "closed" and dropped.  The pointer is valid until the next call.
 * Callbacks: ack.
 */
const void *rt__ws_proto_next(rt__ws_proto *p, size_t *len, int *binary);

/* The frame from rt__ws_proto_next() was written. */
void rt__ws_proto_sent(rt__ws_proto *p);

/* Is anything queued to write? */
int rt__ws_proto_has_out(const rt__ws_proto *p);

/* Is a message with |id| waiting to be written or answered? */
int rt__ws_proto_tracked(const rt__ws_proto *p, const char *id);

/* Messages queued or waiting for their ack. */
size_t rt__ws_proto_pending(const rt__ws_proto *p);

/*
 * The position to resume from: |*seq| the last seq delivered (or the
 * since given), |*epoch| its epoch, "" when unknown; either may be NULL.
 * Returns 1 when a position is known.
 */
int rt__ws_proto_position(const rt__ws_proto *p, uint64_t *seq,
                          const char **epoch);

/* The user the server knows us as ("" before a welcome). */
const char *rt__ws_proto_user(const rt__ws_proto *p);

#endif /* RT_WS_PROTO_H */
