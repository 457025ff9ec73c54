/*
 * srv_core.h: the server's rules that need no socket, no clock and no
 * libwebsockets, kept apart so that unit tests run them directly
 * (tests/unit/test_srv_core.c): a room's history ring, the replay cursor
 * of a resuming client, and the author rule of published messages.
 */
#ifndef RT_SRV_CORE_H
#define RT_SRV_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "core_int.h"

/* ------------------------------------------------------- history */

/*
 * The last |max| items of a room, by seq.  Seqs are consecutive, so an
 * item's place follows from the seq of the oldest.  The array starts
 * empty and doubles as messages come, up to |max|: a room that holds
 * three messages costs three slots, not --history.
 */
struct rt_ring {
    void **v;
    uint32_t head, n, cap, max;
    uint64_t first; /* seq of v[head] when n > 0 */
};

void rt__ring_init(struct rt_ring *r, uint32_t max);
/* Frees the array only; the caller releases the items (rt__ring_at). */
void rt__ring_cleanup(struct rt_ring *r);
/*
 * Append |item| as |seq| (the seq after the newest, or any seq into an
 * empty ring).  When full, the oldest is pushed out into *evicted (else
 * NULL).  RT_ENOMEM when the array cannot grow (nothing changed);
 * RT_EINVAL for a seq out of order.  With max 0 nothing is kept and
 * |item| comes back in *evicted.
 */
int rt__ring_push(struct rt_ring *r, uint64_t seq, void *item, void **evicted);
/* The item of |seq|, or NULL when it is not held. */
void *rt__ring_at(const struct rt_ring *r, uint64_t seq);
/* Seq of the oldest held item; |top| + 1 when empty. */
uint64_t rt__ring_oldest(const struct rt_ring *r, uint64_t top);

/* ------------------------------------------------- replay cursor */

/*
 * A resuming client is fed its replay as its socket drains, never all at
 * once: the cursor walks the room's history from the first seq the client
 * lacks to the newest, the live messages stored meanwhile included, and
 * the connection takes no stored message from the broadcast until it has
 * caught up.  The history is the bound of what can be held behind the
 * replay: when the ring overtakes the cursor the replay ends at once with
 * recovered false and the client goes live, never a silent gap.  (A
 * client that asks for a position already gone starts from the oldest
 * held message, with recovered already false: rt__room_resume.)
 */
struct rt_replay {
    uint64_t next; /* next seq to send */
    int recovered; /* nothing lost so far */
};

/*
 * The next item to send, or NULL when the replay is over (send `resumed`
 * now): the cursor passed |top|, or the item it wanted is gone, which
 * clears |recovered|.
 */
void *rt__replay_next(struct rt_replay *rp, const struct rt_ring *h,
                      uint64_t top);

/* --------------------------------------------------- author rule */

/*
 * The data object of a published text, |data| (a JSON object, already
 * validated), with "author" set to |user| and every member the client
 * named author removed first: duplicate keys, escaped ones
 * ("auth\u006fr") and any ASCII case of the name ("Author", "AUTHOR"),
 * since some JSON readers match names without regard to case.  Appends
 * to |out|.  RT_EPROTO when |data| is not a JSON object, RT_ENOMEM.
 */
int rt__author_set(const char *data, size_t len, const char *user,
                   rt_buf *out);

/* -------------------------------------------------- stored frame */

/*
 * The frame of a stored message from its body (the message's JSON object
 * without "seq", as engines keep it) and its seq: `,"seq":N` goes in
 * front of the first `,"data":` member, which the encoder puts after
 * type, id and room (strings whose quotes inside are escaped, so the
 * first match is the member), or before the closing brace when there is
 * no data member.  Appends to |out|; RT_EPROTO when |body| is not
 * braced, RT_ENOMEM.
 */
int rt__stored_frame(const char *body, size_t len, uint64_t seq, rt_buf *out);

#endif /* RT_SRV_CORE_H */
