/*
 * track.c: loss, duplication and reordering as one subscriber sees them,
 * by room seq (PROTOCOL.md 4: every stored message has the next seq of
 * its room, so a subscriber that joined at position N must receive every
 * seq after N exactly once).
 *
 * A window of 64 seqs after the lowest missing one remembers what came
 * out of order; a seq that falls further behind than that is given up as
 * lost when the window must move past it.  Over TCP from one server,
 * holes appear only across a reconnection, and resuming from
 * cli_track_pos() fills them or the server says it cannot.
 */
#include "load/load.h"

void cli_track_start(struct cli_track *t, uint64_t seq)
{
    t->next = seq + 1;
    t->bits = 0;
}

uint64_t cli_track_pos(const struct cli_track *t)
{
    return t->next ? t->next - 1 : 0;
}

static void advance(struct cli_track *t)
{
    /* |next| was just received: slide over what follows it */
    for (;;) {
        int have = (int)(t->bits & 1);

        t->next++;
        t->bits >>= 1;
        if (!have)
            break;
    }
}

int cli_track_seen(struct cli_track *t, uint64_t seq,
                   struct cli_track_counts *n)
{
    uint64_t d;

    if (t->next == 0)
        cli_track_start(t, seq - 1);
    if (seq < t->next) {
        n->dup++;
        return 0;
    }
    if (seq == t->next) {
        n->unique++;
        if (t->bits != 0)
            n->reordered++; /* something later came first */
        advance(t);
        return 1;
    }
    d = seq - t->next; /* >= 1: bit d - 1 */
    while (d > 64) {
        /* |next| fell out of the window: lost */
        if (t->bits == 0) {
            n->lost += d - 64;
            t->next += d - 64;
            d = 64;
            break;
        }
        n->lost++;
        advance(t);
        d = seq - t->next;
        if (seq == t->next) {
            n->unique++;
            advance(t);
            return 1;
        }
    }
    if (t->bits & ((uint64_t)1 << (d - 1))) {
        n->dup++;
        return 0;
    }
    n->unique++;
    t->bits |= (uint64_t)1 << (d - 1);
    return 1;
}

void cli_track_give_up(struct cli_track *t, uint64_t seq,
                       struct cli_track_counts *n)
{
    if (t->next == 0 || seq <= t->next)
        return;
    cli_track_finish(t, seq - 1, n);
}

void cli_track_finish(struct cli_track *t, uint64_t last,
                      struct cli_track_counts *n)
{
    uint64_t s;

    if (t->next == 0 || last < t->next)
        return;
    /* count the holes between next and last */
    for (s = t->next; s <= last && s - t->next <= 64; s++) {
        if (s == t->next)
            n->lost++;
        else if (!(t->bits & ((uint64_t)1 << (s - t->next - 1))))
            n->lost++;
    }
    if (last - t->next > 64)
        n->lost += last - t->next - 64;
    t->next = last + 1;
    t->bits = 0;
}
