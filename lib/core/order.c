/*
 * order.c: the ordered buffer.  Messages arrive tagged with the room's seq,
 * possibly out of order and possibly twice (a resume replays what the
 * client may already have); they leave through the deliver callback exactly
 * once each, in seq order.
 *
 * Spec: PROTOCOL.md section 4 ("deliver each seq exactly once and in order,
 * drop duplicates, and after a gap that does not fill within --gap-timeout
 * resume from the last delivered seq"); STYLE.md 2.4.
 *
 * Invariants:
 * - Every held seq s satisfies next < s <= next + window, so the ring
 *   indexed by s % window never has two held seqs in one slot (the slot of
 *   next itself is free: a message for next is delivered, never held).
 * - held counts the used slots; lo is the smallest held seq and t_min the
 *   earliest arrival among held messages, both meaningful only when
 *   held > 0.  gap_t0 is when the timer of the oldest gap started.
 * - Every seq below next, and every seq once ended is set, has been
 *   delivered or deliberately skipped: pushing it again is RT_EDUP.
 * - in_cb is set while a user callback runs; the mutating calls refuse to
 *   run then, and rt_order_free() only sets dying, acted on once the
 *   callback-invoking call is about to return.
 *
 * Costs: a push is O(1) plus one O(1) step per message it delivers.  When a
 * delivery run consumes held messages and others remain, finding the new
 * lowest held seq walks the ring from next (at most window slots), and the
 * earliest arrival is rescanned only if the run delivered the message that
 * held it.
 */
#include <string.h>

#include "rt/order.h"

#include "core_int.h"

struct slot {
    uint64_t seq;
    uint64_t t; /* arrival, on the caller's clock */
    void *msg;
    int used;
};

struct rt_order {
    rt_order_opts opts;
    rt_order_deliver_cb deliver;
    void *ud;
    struct slot *ring; /* opts.window slots */
    size_t held;
    uint64_t next;
    uint64_t lo;
    uint64_t t_min;
    uint64_t gap_t0;
    int ended; /* UINT64_MAX has been delivered */
    int in_cb;
    int dying;
};

void rt_order_opts_init(rt_order_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->window = 1024;
    o->max_ahead = 65536;
    o->gap_timeout_ms = 2000;
    o->free_msg = NULL;
}

static struct slot *slot_of(rt_order *o, uint64_t seq)
{
    return &o->ring[seq % o->opts.window];
}

static void release(rt_order *o, struct slot *s)
{
    void *msg = s->msg;

    s->used = 0;
    s->msg = NULL;
    o->held--;
    if (o->opts.free_msg != NULL) {
        o->in_cb = 1;
        o->opts.free_msg(msg, o->ud);
        o->in_cb = 0;
    }
}

static void release_all(rt_order *o)
{
    size_t i;

    for (i = 0; i < o->opts.window && o->held > 0; i++)
        if (o->ring[i].used)
            release(o, &o->ring[i]);
}

static void destroy(rt_order *o)
{
    release_all(o);
    rt__free(o->ring);
    rt__free(o);
}

/* Hand one message over; next moves past it before the callback runs. */
static void emit(rt_order *o, uint64_t seq, void *msg)
{
    if (seq == UINT64_MAX)
        o->ended = 1;
    else
        o->next = seq + 1;
    o->in_cb = 1;
    o->deliver(seq, msg, o->ud);
    o->in_cb = 0;
}

/*
 * Deliver the held messages that now follow next without a hole.  Returns
 * how many; *lost_t_min tells whether one of them carried t_min.
 */
static size_t drain(rt_order *o, int *lost_t_min)
{
    size_t n = 0;
    struct slot *s;
    void *msg;

    while (o->held > 0 && !o->ended && !o->dying) {
        s = slot_of(o, o->next);
        if (!s->used || s->seq != o->next)
            break;
        if (s->t == o->t_min)
            *lost_t_min = 1;
        msg = s->msg;
        s->used = 0;
        s->msg = NULL;
        o->held--;
        n++;
        emit(o, o->next, msg);
    }
    return n;
}

/* Recompute lo (and t_min if asked) after the low end of the held set went. */
static void rescan(rt_order *o, int want_t_min)
{
    const struct slot *sl;
    uint64_t s = o->next;
    size_t i;

    if (o->held == 0)
        return;
    /* The invariant puts the lowest held seq within window of next. */
    for (i = 0; i <= o->opts.window; i++, s++) {
        sl = slot_of(o, s);
        if (sl->used && sl->seq == s) {
            o->lo = s;
            break;
        }
        if (s == UINT64_MAX)
            break;
    }
    if (want_t_min) {
        o->t_min = UINT64_MAX;
        for (i = 0; i < o->opts.window; i++)
            if (o->ring[i].used && o->ring[i].t < o->t_min)
                o->t_min = o->ring[i].t;
    }
}

/*
 * Deliver what now follows next (drain()), then settle: free the buffer if
 * a callback asked for that, else, when the run took held messages and
 * others remain, the oldest gap is a new one, visible since the earliest
 * arrival still held.  The tail of every call that moves next.
 */
static int drain_and_settle(rt_order *o)
{
    int lost = 0;
    size_t n = drain(o, &lost);

    if (o->dying) {
        destroy(o);
        return 0;
    }
    if (n == 0 || o->held == 0)
        return 0;
    rescan(o, lost);
    o->gap_t0 = o->t_min;
    return 0;
}

int rt_order_new(rt_order **out, const rt_order_opts *opts, uint64_t next_seq,
                 rt_order_deliver_cb deliver, void *ud)
{
    rt_order_opts def;
    rt_order *o;

    if (out == NULL)
        return RT_EINVAL;
    *out = NULL;
    if (deliver == NULL)
        return RT_EINVAL;
    if (opts == NULL) {
        rt_order_opts_init(&def);
        opts = &def;
    }
    if (opts->window == 0 || opts->window > RT_ORDER_MAX_WINDOW ||
        opts->max_ahead < opts->window)
        return RT_EINVAL;
    o = rt__calloc(1, sizeof(*o));
    if (o == NULL)
        return RT_ENOMEM;
    o->ring = rt__calloc(opts->window, sizeof(*o->ring));
    if (o->ring == NULL) {
        rt__free(o);
        return RT_ENOMEM;
    }
    o->opts = *opts;
    o->deliver = deliver;
    o->ud = ud;
    o->next = next_seq;
    *out = o;
    return 0;
}

int rt_order_push(rt_order *o, uint64_t seq, void *msg, uint64_t now_ms)
{
    uint64_t d;
    struct slot *s;

    if (o->in_cb)
        return RT_ESTATE;
    if (o->ended || seq < o->next)
        return RT_EDUP;
    d = seq - o->next;
    if (d == 0) {
        emit(o, seq, msg);
        return drain_and_settle(o);
    }
    if (d > o->opts.max_ahead)
        return RT_ERANGE;
    if (d > o->opts.window)
        return RT_EFULL;
    s = slot_of(o, seq);
    if (s->used)
        return RT_EDUP;
    s->used = 1;
    s->seq = seq;
    s->t = now_ms;
    s->msg = msg;
    if (o->held++ == 0) {
        o->lo = seq;
        o->t_min = now_ms;
        o->gap_t0 = now_ms;
    } else {
        if (seq < o->lo)
            o->lo = seq;
        if (now_ms < o->t_min)
            o->t_min = now_ms;
    }
    return 0;
}

uint64_t rt_order_deadline(const rt_order *o)
{
    if (o->held == 0)
        return UINT64_MAX;
    if (o->gap_t0 > UINT64_MAX - o->opts.gap_timeout_ms)
        return UINT64_MAX;
    return o->gap_t0 + o->opts.gap_timeout_ms;
}

int rt_order_tick(rt_order *o, uint64_t now_ms, uint64_t *gap_from,
                  uint64_t *gap_to)
{
    if (o->in_cb)
        return RT_ESTATE;
    if (o->held == 0 || now_ms < rt_order_deadline(o))
        return 0;
    if (gap_from != NULL)
        *gap_from = o->next;
    if (gap_to != NULL)
        *gap_to = o->lo - 1;
    /* Remind again one timeout later rather than on every tick. */
    o->gap_t0 = now_ms;
    return RT_EGAP;
}

int rt_order_skip_to(rt_order *o, uint64_t seq)
{
    uint64_t s;

    if (o->in_cb)
        return RT_ESTATE;
    if (o->ended || seq < o->next)
        return RT_ERANGE;
    if (seq == o->next)
        return 0;
    if (seq - o->next > o->opts.window) {
        release_all(o);
    } else {
        for (s = o->next + 1; s < seq && o->held > 0; s++)
            if (slot_of(o, s)->used && slot_of(o, s)->seq == s)
                release(o, slot_of(o, s));
    }
    o->next = seq;
    if (o->dying) {
        destroy(o);
        return 0;
    }
    if (o->held == 0)
        return 0;
    /* Held seqs now lie in [seq, old next + window]: within the new window. */
    rescan(o, 1);
    o->gap_t0 = o->t_min;
    return drain_and_settle(o);
}

int rt_order_reset(rt_order *o, uint64_t next_seq)
{
    if (o->in_cb)
        return RT_ESTATE;
    release_all(o);
    if (o->dying) {
        destroy(o);
        return 0;
    }
    o->next = next_seq;
    o->ended = 0;
    return 0;
}

uint64_t rt_order_next(const rt_order *o)
{
    return o->next;
}

size_t rt_order_held(const rt_order *o)
{
    return o->held;
}

void rt_order_free(rt_order *o)
{
    if (o == NULL)
        return;
    if (o->in_cb) {
        o->dying = 1;
        return;
    }
    o->dying = 1; /* a free_msg calling rt_order_free() changes nothing */
    destroy(o);
}
