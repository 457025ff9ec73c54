/*
 * poll_proto.h: the sans-I/O protocol core behind rt_poll_client; internal
 * to librtctl (lib/net/poll_client.c, the unit tests and the fuzz target).
 *
 * It takes the body of each 200 answer to GET /poll/{room} (PROTOCOL.md
 * sections 1 and 4: {"epoch":E,"messages":[...],"next":N,"recovered":B}),
 * in pieces of any size, and decides what it means: the stored messages,
 * each handed on exactly once and in seq order through an ordered buffer
 * (rt/order.h), each as the server's own bytes; a loss (recovered:false,
 * or another epoch) reported before the messages that follow it; and the
 * position the next poll asks for (since, epoch).
 *
 * It never reads a clock or touches a socket: the caller moves the bytes,
 * and builds the next request from rt__poll_proto_position().
 *
 * Threads: one thread at a time (the loop thread), like rt/order.h.
 */
#ifndef RT_POLL_PROTO_H
#define RT_POLL_PROTO_H

#include <stddef.h>
#include <stdint.h>

typedef struct rt__poll_proto rt__poll_proto;

/* Longest room epoch (PROTOCOL.md 4). */
#define RT__POLL_PROTO_EPOCH_MAX 32

typedef struct rt__poll_proto_cbs {
    /*
     * One stored message, in seq order: |json|, |len| its bytes as the
     * server sent them, NUL-terminated; valid until it returns.  Not
     * after rt__poll_proto_stop().  Required.
     */
    void (*message)(uint64_t seq, const char *json, size_t len, void *ud);
    /*
     * Messages were lost: the answer said recovered:false, or its epoch
     * is not the position's.  Once per answer, before its messages; only
     * when a position was known.  May be NULL.
     */
    void (*lost)(void *ud);
} rt__poll_proto_cbs;

/*
 * Create the core.  With |has_since|, the first poll resumes after
 * |since| in |epoch| (NULL or "": unknown); else it starts with what the
 * server holds.  |max_body_bytes| bounds one answer (RT_ETOOBIG past it).
 * Returns 0, RT_EINVAL (no message callback, a bad epoch, since at its
 * largest, a zero bound) or RT_ENOMEM.
 */
int rt__poll_proto_new(rt__poll_proto **out, int has_since, uint64_t since,
                       const char *epoch, size_t max_body_bytes,
                       const rt__poll_proto_cbs *cbs, void *ud);

/* Free it and whatever it holds.  NULL is a no-op. */
void rt__poll_proto_free(rt__poll_proto *p);

/* A new answer begins: forget the bytes of one that was cut short. */
void rt__poll_proto_begin(rt__poll_proto *p);

/*
 * Part of the current answer's body.  Returns 0, RT_ETOOBIG (the body
 * passed the bound; the answer is void) or RT_ENOMEM.
 */
int rt__poll_proto_feed(rt__poll_proto *p, const void *data, size_t len);

/*
 * The current answer is whole: judge it and deliver its messages.
 * Returns 0; RT_EPROTO with a sentence in |errbuf| (an answer of another
 * shape, a message that is not protocol JSON or has no seq, a seq that
 * jumps or leaves a gap); RT_ETOOBIG (the bound was passed); RT_ENOMEM.
 * An error is final: the messages before the bad one may have been
 * delivered, and the position does not move past them.
 */
int rt__poll_proto_end(rt__poll_proto *p, char *errbuf, size_t errlen);

/* Deliver nothing more (the client is closing). */
void rt__poll_proto_stop(rt__poll_proto *p);

/*
 * The position for the next poll: 1 and *since (the last seq delivered or
 * answered), or 0 when none is known yet; *epoch the epoch ("" when none),
 * valid until the next call on |p|.
 */
int rt__poll_proto_position(const rt__poll_proto *p, uint64_t *since,
                            const char **epoch);

#endif /* RT_POLL_PROTO_H */
