/*
 * rt/order.h: a sans-I/O ordered buffer for sequence-numbered messages.
 *
 * Messages carry the room's seq (PROTOCOL.md section 4).  The buffer hands
 * each seq to a deliver callback exactly once and in increasing order,
 * holds messages that arrive early in a bounded window, drops duplicates
 * (the replay that follows a resume produces them) and reports a gap that
 * has not filled within a timeout.  It never reads a clock: the caller
 * passes the current time in milliseconds (any monotonic origin) to the
 * calls that need it, and arms its own timer from rt_order_deadline().
 *
 * The window is a span of seqs, not just a count: a message is held only
 * when its seq is at most |window| past the next expected one, so at most
 * |window| messages are ever held.
 *
 * Messages are opaque pointers (NULL is a valid message).  Once a push
 * accepts one, the buffer owns it until it either passes it to the deliver
 * callback or releases it through the free callback (a skip, a reset, the
 * final free).
 *
 * Threads: a buffer is used from one thread at a time (the loop thread).
 * Different buffers are independent.
 */
#ifndef RT_ORDER_H
#define RT_ORDER_H

#include <stddef.h>
#include <stdint.h>

#include "rt/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rt_order rt_order;

/*
 * Receive the message with sequence number |seq|; the callee owns |msg| from
 * now on.  From inside this callback the read-only calls (rt_order_next,
 * rt_order_held, rt_order_deadline) are allowed and rt_order_next() already
 * returns seq + 1; rt_order_push, tick, skip_to and reset return RT_ESTATE
 * and change nothing; rt_order_free is deferred until the call that is
 * delivering returns (which then delivers no further message).
 */
typedef void (*rt_order_deliver_cb)(uint64_t seq, void *msg, void *ud);

/*
 * Release a held message the buffer will never deliver.  The same rules as
 * in the deliver callback apply to calls made from here.
 */
typedef void (*rt_order_free_cb)(void *msg, void *ud);

/* Largest accepted |window|: bounds the memory a buffer allocates. */
#define RT_ORDER_MAX_WINDOW ((size_t)1 << 20)

typedef struct rt_order_opts {
    size_t window;             /* seqs held past the next expected; 1024 */
    uint64_t max_ahead;        /* farther than this is RT_ERANGE; 65536 */
    uint64_t gap_timeout_ms;   /* report a gap open this long; 2000 */
    rt_order_free_cb free_msg; /* NULL: held messages are just forgotten */
} rt_order_opts;

/*
 * Fill |o| with the defaults: a window of 1024, max_ahead 65536, a gap
 * timeout of 2000 ms and no free callback.
 *
 * |o| the options to initialise; the caller may change fields afterwards.
 *
 * Returns nothing.
 * Ownership: |o| stays the caller's.
 * Callbacks: none.
 * See also: rt_order_new().
 */
RT_EXTERN void rt_order_opts_init(rt_order_opts *o);

/*
 * Create an ordered buffer that expects |next_seq| first.
 *
 * |out| receives the buffer.
 * |o| options; NULL means rt_order_opts_init()'s defaults.  |window| must
 *     be 1..RT_ORDER_MAX_WINDOW and |max_ahead| at least |window|.  A gap
 *     timeout of 0 reports a gap on the first tick after it opens.  The
 *     options are copied.
 * |next_seq| the first seq to deliver (0 is a valid seq); lower seqs are
 *     duplicates.  For a resume from "since=N" pass N + 1.
 * |deliver| required; receives each message in order.
 * |ud| passed last to |deliver| and to |o->free_msg|.
 *
 * Returns 0, RT_EINVAL (|out| or |deliver| NULL, a bad window or
 * max_ahead) or RT_ENOMEM; on an error *out is set to NULL if |out| is not.
 * Ownership: the caller owns *out and frees it with rt_order_free().
 * Callbacks: none here.
 * See also: rt_order_push(), rt_order_free().
 */
RT_EXTERN int rt_order_new(rt_order **out, const rt_order_opts *o,
                           uint64_t next_seq, rt_order_deliver_cb deliver,
                           void *ud);

/*
 * Offer the message |msg| with sequence number |seq|, received at |now_ms|.
 *
 * |o| the buffer.
 * |seq| the message's seq.  The next expected seq is delivered at once,
 *     followed by every held successor; a later seq within the window is
 *     held.
 * |msg| the message; may be NULL.
 * |now_ms| the current time; it starts the gap timer when this message is
 *     the first one held past a missing seq.
 *
 * Returns 0 (delivered or held), RT_EDUP (|seq| was already delivered,
 * skipped, or is already held), RT_EFULL (|seq| is more than |window| past
 * the next expected seq: it may fit once the gap before it fills),
 * RT_ERANGE (more than |max_ahead| past it: a seq from another epoch or a
 * broken peer) or RT_ESTATE (called from the deliver callback).
 * Ownership: on 0 the buffer owns |msg|; on any error it stays the
 * caller's, who frees it.
 * Callbacks: |deliver| fires synchronously, zero or more times, before this
 * returns 0.  It never fires when an error is returned.
 * See also: rt_order_tick(), rt_order_skip_to().
 */
RT_EXTERN int rt_order_push(rt_order *o, uint64_t seq, void *msg,
                            uint64_t now_ms);

/*
 * Check whether the oldest gap has stayed open for gap_timeout_ms.
 *
 * A gap opens when a message is held while the seq before it is missing;
 * its timer starts at the earliest arrival among the held messages past it
 * (so when the gap's first part fills and the next one is already waiting,
 * that next gap is timed from when it was first seen, not from the fill).
 * Once reported, the same gap is reported again each further
 * gap_timeout_ms it stays open, so a timer armed from rt_order_deadline()
 * never spins.
 *
 * |o| the buffer.
 * |now_ms| the current time.
 * |gap_from|, |gap_to| receive the missing seqs, inclusive, when RT_EGAP is
 *     returned (from is the next expected seq); either may be NULL.  They
 *     are left alone otherwise.
 *
 * Returns 0 (no gap, or not open long enough yet), RT_EGAP (open for at
 * least gap_timeout_ms: now_ms >= start + gap_timeout_ms) or RT_ESTATE
 * (called from the deliver callback).
 * Ownership: unchanged.
 * Callbacks: none.
 * See also: rt_order_deadline(), rt_order_skip_to().
 */
RT_EXTERN int rt_order_tick(rt_order *o, uint64_t now_ms, uint64_t *gap_from,
                            uint64_t *gap_to);

/*
 * Tell when rt_order_tick() can next return RT_EGAP.
 *
 * |o| the buffer.
 *
 * Returns a time on the caller's clock (saturated at UINT64_MAX), or
 * UINT64_MAX when nothing is held.  The value changes after a push, tick,
 * skip or reset, so re-read it after each.
 * Ownership: unchanged.
 * Callbacks: none.
 * See also: rt_order_tick().
 */
RT_EXTERN uint64_t rt_order_deadline(const rt_order *o);

/*
 * Give up on the messages before |seq| (the server said recovered:false,
 * or a gap timed out and the caller accepts the loss): |seq| becomes the
 * next expected seq, held messages below it are freed and held messages
 * from it on are delivered in order as far as they are contiguous.  A gap
 * still open past that run is timed, as in rt_order_tick(), from the
 * earliest arrival among the messages held past it.
 *
 * |o| the buffer.
 * |seq| the new next expected seq; equal to rt_order_next() is a no-op.
 *     It may lie beyond the window or max_ahead: the caller decides.
 *
 * Returns 0, RT_ERANGE (|seq| below the next expected seq: skipping never
 * goes back, use rt_order_reset() for a new epoch) or RT_ESTATE (called
 * from the deliver callback).
 * Ownership: the freed messages go to free_msg, the delivered ones to
 * |deliver|.
 * Callbacks: free_msg, then |deliver|, synchronously.
 * See also: rt_order_reset().
 */
RT_EXTERN int rt_order_skip_to(rt_order *o, uint64_t seq);

/*
 * Start afresh at |next_seq| (a new epoch: seqs may go back), freeing every
 * held message.  The gap timer stops.
 *
 * |o| the buffer.
 * |next_seq| the first seq of the new epoch to deliver.
 *
 * Returns 0 or RT_ESTATE (called from the deliver callback).
 * Ownership: held messages go to free_msg.
 * Callbacks: free_msg, synchronously.
 * See also: rt_order_skip_to().
 */
RT_EXTERN int rt_order_reset(rt_order *o, uint64_t next_seq);

/*
 * Get the next seq the buffer will deliver: the last delivered (or skipped)
 * seq plus one.  Once UINT64_MAX itself has been delivered the sequence
 * space is used up: this keeps returning UINT64_MAX and every push is
 * RT_EDUP until rt_order_reset().
 *
 * |o| the buffer.
 *
 * Returns the seq.
 * Ownership: unchanged.
 * Callbacks: none.
 * See also: rt_order_held().
 */
RT_EXTERN uint64_t rt_order_next(const rt_order *o);

/*
 * Count the messages held, waiting for a missing seq.
 *
 * |o| the buffer.
 *
 * Returns 0..window.
 * Ownership: unchanged.
 * Callbacks: none.
 * See also: rt_order_next().
 */
RT_EXTERN size_t rt_order_held(const rt_order *o);

/*
 * Free the buffer, passing every held message to free_msg.
 * rt_order_free(NULL) is a no-op.  From inside the deliver callback the
 * free happens when the delivering call returns.
 *
 * |o| the buffer, or NULL.
 *
 * Returns nothing.
 * Ownership: |o| is invalid afterwards.
 * Callbacks: free_msg, synchronously.
 * See also: rt_order_new().
 */
RT_EXTERN void rt_order_free(rt_order *o);

#ifdef __cplusplus
}
#endif

#endif /* RT_ORDER_H */
