/*
 * sse_seq.h: the sans-I/O sequencer behind rt_sse_client's order_by_seq
 * mode; internal to librtctl (lib/net/sse_client.c and the unit tests).
 *
 * It takes the events of an SSE stream from our server, as the parser
 * dispatches them, and hands them on so that each stored message (an event
 * whose own id: field is EPOCH-SEQ, rtctl-protocol(7)) arrives exactly once
 * and in seq order, through an ordered buffer (rt/order.h).  Everything
 * else passes straight through.  It also keeps the position to resume from:
 * the id of the last message delivered, never one still held behind a gap.
 *
 * Threads: one thread at a time (the loop thread), like rt/order.h.
 */
#ifndef RT_SSE_SEQ_H
#define RT_SSE_SEQ_H

#include <stddef.h>
#include <stdint.h>

#include "rt/sse_parser.h"

typedef struct rt__sse_seq rt__sse_seq;

typedef struct rt__sse_seq_cbs {
    /*
     * One event, in order.  A sequenced event carries its own id; any other
     * carries the position (rt__sse_seq_last_id()) as its id, has_id 0.
     * The pointers are valid until it returns.  Must not call into the
     * sequencer but for rt__sse_seq_last_id().
     */
    void (*deliver)(const rt_sse_event *ev, void *ud);
    /*
     * Messages were lost (|recovered| is 0): the server's "resumed" event
     * said recovered:false, the epoch changed, or a gap too wide for the
     * buffer opened.  At most once per connection (rt__sse_seq_connected()),
     * before the messages that follow the loss.  May be NULL.
     */
    void (*resumed)(int recovered, void *ud);
} rt__sse_seq_cbs;

/*
 * Create a sequencer.  |last_id|, |len| is the position to start from (a
 * --last-event-id): "EPOCH-SEQ" delivers from SEQ + 1 in that epoch; ""
 * or anything else means unknown, and the first sequenced event sets the
 * epoch and the seq to start at.  |gap_timeout_ms| is the buffer's gap
 * timeout.  Returns 0, RT_EINVAL or RT_ENOMEM.
 */
int rt__sse_seq_new(rt__sse_seq **out, const char *last_id, size_t len,
                    uint64_t gap_timeout_ms, const rt__sse_seq_cbs *cbs,
                    void *ud);

/* Free; held events are dropped.  NULL is a no-op. */
void rt__sse_seq_free(rt__sse_seq *s);

/* A new connection opened: a loss may be reported again. */
void rt__sse_seq_connected(rt__sse_seq *s);

/*
 * One dispatched event, received at |now_ms|.  Delivers zero or more
 * events synchronously.  Returns 0 or RT_ENOMEM.
 */
int rt__sse_seq_push(rt__sse_seq *s, const rt_sse_event *ev, uint64_t now_ms);

/*
 * Has a gap stayed open for the gap timeout?  Returns 0, or RT_EGAP with
 * the missing seqs in |*from|..|*to| (either may be NULL); the held
 * events stay held, for the replay after a reconnection to fill the gap.
 */
int rt__sse_seq_tick(rt__sse_seq *s, uint64_t now_ms, uint64_t *from,
                     uint64_t *to);

/* When rt__sse_seq_tick() can next return RT_EGAP; UINT64_MAX: never. */
uint64_t rt__sse_seq_deadline(const rt__sse_seq *s);

/* Events held behind a gap. */
size_t rt__sse_seq_held(const rt__sse_seq *s);

/* Duplicates dropped so far. */
uint64_t rt__sse_seq_dups(const rt__sse_seq *s);

/*
 * The position: the id of the last sequenced event delivered, else the
 * starting |last_id|; "" when none.  What a reconnection sends as
 * Last-Event-ID.  Valid until the next push, tick or free.
 */
const char *rt__sse_seq_last_id(const rt__sse_seq *s, size_t *len);

#endif /* RT_SSE_SEQ_H */
