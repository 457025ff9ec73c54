/*
 * test_order.c: the ordered buffer (lib/core/order.c).
 *
 * Messages are heap blocks holding their seq, so ASan and valgrind see any
 * message the buffer leaks, frees twice or delivers after freeing.  A
 * recorder counts deliveries and frees and checks that each delivered
 * message carries the seq it was delivered under.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helpers.h"

#include "rt/alloc.h"
#include "rt/error.h"
#include "rt/order.h"

#define MAXREC 4096

struct rec {
    uint64_t seqs[MAXREC];
    size_t n;
    size_t frees;
    int bad_msg; /* a delivered message did not carry its seq */
    /* re-entrancy probes */
    rt_order *o;
    int probe;
    int probe_rc[4];
    uint64_t next_in_cb;
    uint64_t free_on_seq;
};

static void *mk(uint64_t seq)
{
    uint64_t *p = malloc(sizeof(*p));

    assert_non_null(p);
    *p = seq;
    return p;
}

static void on_deliver(uint64_t seq, void *msg, void *ud)
{
    struct rec *r = ud;

    if (msg != NULL && *(uint64_t *)msg != seq)
        r->bad_msg = 1;
    free(msg);
    if (r->n < MAXREC)
        r->seqs[r->n] = seq;
    r->n++;
    if (r->o != NULL && r->probe) {
        r->next_in_cb = rt_order_next(r->o);
        r->probe_rc[0] = rt_order_push(r->o, seq + 100, NULL, 0);
        r->probe_rc[1] = rt_order_tick(r->o, UINT64_MAX, NULL, NULL);
        r->probe_rc[2] = rt_order_skip_to(r->o, seq + 50);
        r->probe_rc[3] = rt_order_reset(r->o, 1);
    }
    if (r->o != NULL && r->free_on_seq == seq && seq != 0)
        rt_order_free(r->o);
}

static void on_free(void *msg, void *ud)
{
    struct rec *r = ud;

    free(msg);
    r->frees++;
}

static rt_order *mkorder(struct rec *r, size_t window, uint64_t max_ahead,
                         uint64_t timeout, uint64_t next)
{
    rt_order_opts o;
    rt_order *ord = NULL;

    rt_order_opts_init(&o);
    if (window)
        o.window = window;
    if (max_ahead)
        o.max_ahead = max_ahead;
    o.gap_timeout_ms = timeout;
    o.free_msg = on_free;
    memset(r, 0, sizeof(*r));
    assert_int_equal(rt_order_new(&ord, &o, next, on_deliver, r), 0);
    assert_non_null(ord);
    return ord;
}

/* Push a fresh message; on refusal free it, as the caller must. */
static int push(rt_order *o, uint64_t seq, uint64_t now)
{
    void *m = mk(seq);
    int rc = rt_order_push(o, seq, m, now);

    if (rc != 0)
        free(m);
    return rc;
}

static void assert_delivered_run(const struct rec *r, uint64_t first, size_t n)
{
    size_t i;

    assert_int_equal(r->n, n);
    for (i = 0; i < n; i++)
        assert_true(r->seqs[i] == first + i);
    assert_false(r->bad_msg);
}

/* xorshift64*: a fixed-seed PRNG so permutations are reproducible. */
static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

static void shuffle(uint64_t *a, size_t n, uint64_t *s)
{
    size_t i, j;
    uint64_t t;

    for (i = n - 1; i > 0; i--) {
        j = (size_t)(rng_next(s) % (i + 1));
        t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

static void test_order_opts_defaults(void **state)
{
    rt_order_opts o;

    (void)state;
    memset(&o, 0xab, sizeof(o));
    rt_order_opts_init(&o);
    assert_int_equal(o.window, 1024);
    assert_true(o.max_ahead == 65536);
    assert_true(o.gap_timeout_ms == 2000);
    assert_null(o.free_msg);
}

static void test_order_new_rejects_bad_options(void **state)
{
    rt_order_opts o;
    rt_order *ord = (rt_order *)&o;
    struct rec r;

    (void)state;
    memset(&r, 0, sizeof(r));
    assert_int_equal(rt_order_new(NULL, NULL, 1, on_deliver, &r), RT_EINVAL);
    assert_int_equal(rt_order_new(&ord, NULL, 1, NULL, &r), RT_EINVAL);
    assert_null(ord);

    rt_order_opts_init(&o);
    o.window = 0;
    assert_int_equal(rt_order_new(&ord, &o, 1, on_deliver, &r), RT_EINVAL);
    o.window = RT_ORDER_MAX_WINDOW + 1;
    o.max_ahead = UINT64_MAX;
    assert_int_equal(rt_order_new(&ord, &o, 1, on_deliver, &r), RT_EINVAL);
    o.window = 16;
    o.max_ahead = 15;
    assert_int_equal(rt_order_new(&ord, &o, 1, on_deliver, &r), RT_EINVAL);
    assert_null(ord);

    /* Exactly at the bounds is fine. */
    o.max_ahead = 16;
    assert_int_equal(rt_order_new(&ord, &o, 1, on_deliver, &r), 0);
    rt_order_free(ord);
    assert_int_equal(rt_order_new(&ord, NULL, 1, on_deliver, &r), 0);
    assert_true(rt_order_next(ord) == 1);
    assert_int_equal(rt_order_held(ord), 0);
    assert_true(rt_order_deadline(ord) == UINT64_MAX);
    rt_order_free(ord);
    rt_order_free(NULL);
}

static void test_order_delivers_in_order(void **state)
{
    struct rec r;
    rt_order *o = mkorder(&r, 0, 0, 2000, 1);
    uint64_t s;

    (void)state;
    for (s = 1; s <= 1000; s++) {
        assert_int_equal(push(o, s, s), 0);
        assert_int_equal(r.n, s);
        assert_int_equal(rt_order_held(o), 0);
    }
    assert_delivered_run(&r, 1, 1000);
    assert_true(rt_order_next(o) == 1001);
    assert_int_equal(rt_order_tick(o, UINT64_MAX - 1, NULL, NULL), 0);
    rt_order_free(o);
    assert_int_equal(r.frees, 0);
}

static void test_order_delivers_reverse_order(void **state)
{
    struct rec r;
    rt_order *o = mkorder(&r, 128, 0, 2000, 1);
    uint64_t s;

    (void)state;
    for (s = 128; s >= 2; s--)
        assert_int_equal(push(o, s, 0), 0);
    assert_int_equal(r.n, 0);
    assert_int_equal(rt_order_held(o), 127);
    assert_int_equal(push(o, 1, 0), 0);
    assert_delivered_run(&r, 1, 128);
    assert_int_equal(rt_order_held(o), 0);
    assert_true(rt_order_next(o) == 129);
    rt_order_free(o);
    assert_int_equal(r.frees, 0);
}

static void test_order_random_permutations_deliver_once_in_order(void **state)
{
    enum { N = 700 };
    uint64_t a[2 * N];
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    struct rec r;
    rt_order *o;
    size_t i, dups;
    int round, rc;

    (void)state;
    for (round = 0; round < 20; round++) {
        o = mkorder(&r, 1024, 0, 2000, 1);
        for (i = 0; i < N; i++)
            a[i] = i + 1;
        shuffle(a, N, &seed);
        for (i = 0; i < N; i++)
            assert_int_equal(push(o, a[i], i), 0);
        assert_delivered_run(&r, 1, N);
        assert_int_equal(rt_order_held(o), 0);
        rt_order_free(o);
        assert_int_equal(r.frees, 0);

        /* Every seq twice, shuffled together: exactly one copy wins. */
        o = mkorder(&r, 1024, 0, 2000, 1);
        for (i = 0; i < 2 * N; i++)
            a[i] = i / 2 + 1;
        shuffle(a, 2 * N, &seed);
        dups = 0;
        for (i = 0; i < 2 * N; i++) {
            rc = push(o, a[i], i);
            assert_true(rc == 0 || rc == RT_EDUP);
            dups += rc == RT_EDUP;
        }
        assert_int_equal(dups, N);
        assert_delivered_run(&r, 1, N);
        rt_order_free(o);
        assert_int_equal(r.frees, 0);
    }
}

static void test_order_drops_duplicate_while_held(void **state)
{
    struct rec r;
    rt_order *o = mkorder(&r, 0, 0, 2000, 1);
    uint64_t second = 3;

    (void)state;
    assert_int_equal(push(o, 3, 0), 0);
    /* The duplicate is refused and stays the caller's. */
    assert_int_equal(rt_order_push(o, 3, &second, 0), RT_EDUP);
    assert_int_equal(rt_order_held(o), 1);
    assert_int_equal(push(o, 2, 0), 0);
    assert_int_equal(push(o, 2, 0), RT_EDUP);
    assert_int_equal(r.n, 0);
    assert_int_equal(push(o, 1, 0), 0);
    assert_delivered_run(&r, 1, 3);
    assert_int_equal(r.frees, 0);
    rt_order_free(o);
}

static void test_order_drops_duplicate_after_replay(void **state)
{
    struct rec r;
    rt_order *o = mkorder(&r, 0, 0, 2000, 1);
    uint64_t s;

    (void)state;
    for (s = 1; s <= 10; s++)
        assert_int_equal(push(o, s, 0), 0);
    /* Reconnect with since=4: the server replays 5..10, then goes on. */
    for (s = 5; s <= 10; s++)
        assert_int_equal(push(o, s, 100), RT_EDUP);
    assert_int_equal(push(o, 1, 100), RT_EDUP);
    assert_int_equal(push(o, 0, 100), RT_EDUP);
    for (s = 11; s <= 12; s++)
        assert_int_equal(push(o, s, 100), 0);
    assert_delivered_run(&r, 1, 12);
    assert_int_equal(rt_order_held(o), 0);
    assert_int_equal(r.frees, 0);
    rt_order_free(o);
}

static void test_order_window_full(void **state)
{
    struct rec r;
    rt_order *o = mkorder(&r, 4, 0, 2000, 1);
    uint64_t s;

    (void)state;
    /* next + window is the last seq that can be held. */
    for (s = 2; s <= 5; s++)
        assert_int_equal(push(o, s, 0), 0);
    assert_int_equal(rt_order_held(o), 4);
    assert_int_equal(push(o, 6, 0), RT_EFULL);
    assert_int_equal(push(o, 4, 0), RT_EDUP);
    assert_int_equal(rt_order_held(o), 4);
    assert_int_equal(r.n, 0);
    assert_int_equal(push(o, 1, 0), 0);
    assert_delivered_run(&r, 1, 5);
    /* Once the gap filled the window slides and 6 fits. */
    assert_int_equal(push(o, 6, 0), 0);
    assert_int_equal(push(o, 11, 0), 0);
    assert_int_equal(push(o, 12, 0), RT_EFULL);
    assert_int_equal(rt_order_held(o), 1);
    rt_order_free(o);
    assert_int_equal(r.frees, 1);
}

static void test_order_window_of_one(void **state)
{
    struct rec r;
    rt_order *o = mkorder(&r, 1, 1, 2000, 7);

    (void)state;
    assert_int_equal(push(o, 8, 0), 0);
    assert_int_equal(push(o, 9, 0), RT_ERANGE);
    assert_int_equal(push(o, 7, 0), 0);
    assert_delivered_run(&r, 7, 2);
    rt_order_free(o);
}

static void test_order_rejects_seq_too_far_ahead(void **state)
{
    struct rec r;
    rt_order *o = mkorder(&r, 4, 100, 2000, 1);

    (void)state;
    assert_int_equal(push(o, 101, 0), RT_EFULL);
    assert_int_equal(push(o, 102, 0), RT_ERANGE);
    assert_int_equal(push(o, UINT64_MAX, 0), RT_ERANGE);
    assert_int_equal(rt_order_held(o), 0);
    rt_order_free(o);

    o = mkorder(&r, 0, 0, 2000, 1);
    assert_int_equal(push(o, 1 + 65536, 0), RT_EFULL);
    assert_int_equal(push(o, 1 + 65537, 0), RT_ERANGE);
    assert_int_equal(push(o, 1 + 1024, 0), 0);
    assert_int_equal(push(o, 1 + 1025, 0), RT_EFULL);
    rt_order_free(o);
    assert_int_equal(r.frees, 1);
}

static void test_order_gap_timeout_fires_at_boundary(void **state)
{
    struct rec r;
    rt_order *o = mkorder(&r, 0, 0, 2000, 1);
    uint64_t from = 0, to = 0;

    (void)state;
    assert_true(rt_order_deadline(o) == UINT64_MAX);
    assert_int_equal(rt_order_tick(o, 1000000, &from, &to), 0);
    assert_int_equal(push(o, 2, 1000), 0);
    assert_true(rt_order_deadline(o) == 3000);
    assert_int_equal(rt_order_tick(o, 2999, &from, &to), 0);
    assert_true(from == 0 && to == 0);
    assert_int_equal(rt_order_tick(o, 3000, &from, &to), RT_EGAP);
    assert_true(from == 1 && to == 1);
    /* Still open: reminded one timeout later, not on every tick. */
    assert_true(rt_order_deadline(o) == 5000);
    assert_int_equal(rt_order_tick(o, 3001, NULL, NULL), 0);
    assert_int_equal(rt_order_tick(o, 4999, NULL, NULL), 0);
    assert_int_equal(rt_order_tick(o, 5000, NULL, NULL), RT_EGAP);
    /* A late fill still delivers. */
    assert_int_equal(push(o, 1, 6000), 0);
    assert_delivered_run(&r, 1, 2);
    assert_true(rt_order_deadline(o) == UINT64_MAX);
    assert_int_equal(rt_order_tick(o, 100000, NULL, NULL), 0);
    rt_order_free(o);
}

static void test_order_gap_reports_missing_range(void **state)
{
    struct rec r;
    rt_order *o = mkorder(&r, 0, 0, 2000, 10);
    uint64_t from, to;

    (void)state;
    assert_int_equal(push(o, 18, 0), 0);
    assert_int_equal(push(o, 15, 10), 0);
    assert_int_equal(push(o, 20, 20), 0);
    /* The timer runs from the first held message. */
    assert_int_equal(rt_order_tick(o, 1999, &from, &to), 0);
    assert_int_equal(rt_order_tick(o, 2000, &from, &to), RT_EGAP);
    assert_true(from == 10 && to == 14);
    rt_order_free(o);
    assert_int_equal(r.frees, 3);
}

static void test_order_gap_fills_before_timeout(void **state)
{
    struct rec r;
    rt_order *o = mkorder(&r, 0, 0, 2000, 1);

    (void)state;
    assert_int_equal(push(o, 3, 0), 0);
    assert_int_equal(push(o, 2, 500), 0);
    assert_int_equal(rt_order_tick(o, 1998, NULL, NULL), 0);
    assert_int_equal(push(o, 1, 1999), 0);
    assert_delivered_run(&r, 1, 3);
    assert_true(rt_order_deadline(o) == UINT64_MAX);
    assert_int_equal(rt_order_tick(o, 2000, NULL, NULL), 0);
    assert_int_equal(rt_order_tick(o, 50000, NULL, NULL), 0);
    rt_order_free(o);
}

static void test_order_gap_after_partial_fill_timed_from_first_sight(
    void **state)
{
    struct rec r;
    rt_order *o = mkorder(&r, 0, 0, 2000, 1);
    uint64_t from, to;

    (void)state;
    /* 5 arrives at 0 (gap 1..4), 3 at 100. */
    assert_int_equal(push(o, 5, 0), 0);
    assert_int_equal(push(o, 3, 100), 0);
    /* An in-order fill shrinks the gap but keeps its timer. */
    assert_int_equal(push(o, 1, 1000), 0);
    assert_true(rt_order_deadline(o) == 2000);
    /* Filling 2 releases 3; gap 4..4 was visible since 5 arrived at 0. */
    assert_int_equal(push(o, 2, 1500), 0);
    assert_delivered_run(&r, 1, 3);
    assert_true(rt_order_deadline(o) == 2000);
    assert_int_equal(rt_order_tick(o, 1999, &from, &to), 0);
    assert_int_equal(rt_order_tick(o, 2000, &from, &to), RT_EGAP);
    assert_true(from == 4 && to == 4);
    rt_order_free(o);
    assert_int_equal(r.frees, 1);

    /* When the earliest held message is delivered, the later one counts. */
    o = mkorder(&r, 0, 0, 2000, 1);
    assert_int_equal(push(o, 2, 0), 0);
    assert_int_equal(push(o, 4, 700), 0);
    assert_int_equal(push(o, 1, 900), 0);
    assert_true(rt_order_deadline(o) == 2700);
    assert_int_equal(rt_order_tick(o, 2699, NULL, NULL), 0);
    assert_int_equal(rt_order_tick(o, 2700, &from, &to), RT_EGAP);
    assert_true(from == 3 && to == 3);
    rt_order_free(o);
}

static void test_order_gap_timeout_zero_reports_at_once(void **state)
{
    struct rec r;
    rt_order *o = mkorder(&r, 0, 0, 0, 1);

    (void)state;
    assert_int_equal(push(o, 2, 50), 0);
    assert_true(rt_order_deadline(o) == 50);
    assert_int_equal(rt_order_tick(o, 49, NULL, NULL), 0);
    assert_int_equal(rt_order_tick(o, 50, NULL, NULL), RT_EGAP);
    rt_order_free(o);
}

static void test_order_deadline_saturates(void **state)
{
    struct rec r;
    rt_order *o = mkorder(&r, 0, 0, 2000, 1);

    (void)state;
    assert_int_equal(push(o, 2, UINT64_MAX - 10), 0);
    assert_true(rt_order_deadline(o) == UINT64_MAX);
    assert_int_equal(rt_order_tick(o, UINT64_MAX - 1, NULL, NULL), 0);
    assert_int_equal(rt_order_tick(o, UINT64_MAX, NULL, NULL), RT_EGAP);
    rt_order_free(o);
}

static void test_order_skip_to_gives_up_gap(void **state)
{
    struct rec r;
    rt_order *o = mkorder(&r, 0, 0, 2000, 1);

    (void)state;
    assert_int_equal(push(o, 5, 0), 0);
    assert_int_equal(push(o, 6, 0), 0);
    assert_int_equal(push(o, 8, 300), 0);
    assert_int_equal(rt_order_skip_to(o, 0), RT_ERANGE);
    assert_int_equal(rt_order_skip_to(o, 1), 0);
    assert_int_equal(r.n, 0);
    /* Nothing below 5 is held: nothing freed; 5 and 6 go out. */
    assert_int_equal(rt_order_skip_to(o, 5), 0);
    assert_int_equal(r.n, 2);
    assert_true(r.seqs[0] == 5 && r.seqs[1] == 6);
    assert_int_equal(r.frees, 0);
    assert_true(rt_order_next(o) == 7);
    assert_int_equal(rt_order_held(o), 1);
    /* The gap left (7) is timed from when 8 arrived. */
    assert_true(rt_order_deadline(o) == 2300);
    /* Skipped seqs are duplicates from now on. */
    assert_int_equal(push(o, 3, 400), RT_EDUP);
    assert_int_equal(rt_order_skip_to(o, 6), RT_ERANGE);
    rt_order_free(o);
    assert_int_equal(r.frees, 1);
}

static void test_order_skip_to_frees_older_held(void **state)
{
    struct rec r;
    rt_order *o = mkorder(&r, 8, 0, 2000, 1);

    (void)state;
    assert_int_equal(push(o, 3, 0), 0);
    assert_int_equal(push(o, 4, 0), 0);
    assert_int_equal(push(o, 7, 0), 0);
    assert_int_equal(push(o, 9, 0), 0);
    /* 3 and 4 are dropped; 7 is next but 6 is still missing: skip to 6. */
    assert_int_equal(rt_order_skip_to(o, 6), 0);
    assert_int_equal(r.frees, 2);
    assert_int_equal(r.n, 0);
    assert_int_equal(rt_order_held(o), 2);
    assert_true(rt_order_next(o) == 6);
    assert_int_equal(push(o, 6, 0), 0);
    assert_delivered_run(&r, 6, 2);
    assert_int_equal(rt_order_held(o), 1);

    /* Beyond everything held, and beyond the window: all freed. */
    assert_int_equal(rt_order_skip_to(o, 1000000), 0);
    assert_int_equal(r.frees, 3);
    assert_int_equal(rt_order_held(o), 0);
    assert_true(rt_order_next(o) == 1000000);
    assert_true(rt_order_deadline(o) == UINT64_MAX);
    assert_int_equal(push(o, 1000000, 0), 0);
    assert_int_equal(r.n, 3);
    rt_order_free(o);
    assert_int_equal(r.frees, 3);
}

static void test_order_reset_frees_held(void **state)
{
    struct rec r;
    rt_order *o = mkorder(&r, 0, 0, 2000, 50);

    (void)state;
    assert_int_equal(push(o, 50, 0), 0);
    assert_int_equal(push(o, 52, 0), 0);
    assert_int_equal(push(o, 53, 0), 0);
    assert_int_equal(push(o, 60, 0), 0);
    assert_int_equal(rt_order_held(o), 3);
    /* New epoch: seqs start again at 1. */
    assert_int_equal(rt_order_reset(o, 1), 0);
    assert_int_equal(r.frees, 3);
    assert_int_equal(rt_order_held(o), 0);
    assert_true(rt_order_next(o) == 1);
    assert_true(rt_order_deadline(o) == UINT64_MAX);
    assert_int_equal(push(o, 2, 0), 0);
    assert_int_equal(push(o, 1, 0), 0);
    assert_int_equal(r.n, 3);
    assert_true(r.seqs[1] == 1 && r.seqs[2] == 2);
    rt_order_free(o);
    assert_int_equal(r.frees, 3);
}

static void test_order_free_releases_held(void **state)
{
    struct rec r;
    rt_order *o = mkorder(&r, 0, 0, 2000, 1);
    uint64_t s;

    (void)state;
    for (s = 2; s <= 101; s++)
        assert_int_equal(push(o, s, 0), 0);
    rt_order_free(o);
    assert_int_equal(r.frees, 100);
    assert_int_equal(r.n, 0);
}

static void test_order_seq_near_uint64_max(void **state)
{
    struct rec r;
    rt_order *o = mkorder(&r, 0, 0, 2000, UINT64_MAX - 2);
    uint64_t from, to;

    (void)state;
    assert_int_equal(push(o, UINT64_MAX, 0), 0);
    assert_int_equal(rt_order_tick(o, 2000, &from, &to), RT_EGAP);
    assert_true(from == UINT64_MAX - 2 && to == UINT64_MAX - 1);
    assert_int_equal(push(o, UINT64_MAX - 1, 0), 0);
    assert_int_equal(push(o, 0, 0), RT_EDUP);
    assert_int_equal(push(o, UINT64_MAX - 2, 0), 0);
    assert_delivered_run(&r, UINT64_MAX - 2, 3);
    assert_int_equal(rt_order_held(o), 0);
    /* The sequence space is used up: nothing wraps around to 0. */
    assert_true(rt_order_next(o) == UINT64_MAX);
    assert_int_equal(push(o, UINT64_MAX, 0), RT_EDUP);
    assert_int_equal(push(o, 0, 0), RT_EDUP);
    assert_int_equal(push(o, 1, 0), RT_EDUP);
    assert_int_equal(rt_order_skip_to(o, UINT64_MAX), RT_ERANGE);
    assert_int_equal(rt_order_reset(o, 0), 0);
    assert_int_equal(push(o, 0, 0), 0);
    assert_int_equal(r.n, 4);
    rt_order_free(o);

    /* Skipping right to the last seq. */
    o = mkorder(&r, 0, 0, 2000, UINT64_MAX - 5);
    assert_int_equal(push(o, UINT64_MAX, 0), 0);
    assert_int_equal(rt_order_skip_to(o, UINT64_MAX), 0);
    assert_delivered_run(&r, UINT64_MAX, 1);
    assert_int_equal(push(o, UINT64_MAX, 0), RT_EDUP);
    rt_order_free(o);
    assert_int_equal(r.frees, 0);
}

static void test_order_next_seq_zero_and_one(void **state)
{
    struct rec r;
    rt_order *o = mkorder(&r, 0, 0, 2000, 0);

    (void)state;
    assert_int_equal(push(o, 0, 0), 0);
    assert_int_equal(push(o, 1, 0), 0);
    assert_delivered_run(&r, 0, 2);
    assert_int_equal(push(o, 0, 0), RT_EDUP);
    rt_order_free(o);

    /* Resuming from since=0 means next 1: a seq 0 is old. */
    o = mkorder(&r, 0, 0, 2000, 1);
    assert_int_equal(push(o, 0, 0), RT_EDUP);
    assert_int_equal(push(o, 2, 0), 0);
    assert_int_equal(push(o, 1, 0), 0);
    assert_delivered_run(&r, 1, 2);
    rt_order_free(o);
}

static void test_order_null_message_is_a_message(void **state)
{
    struct rec r;
    rt_order *o = mkorder(&r, 0, 0, 2000, 1);

    (void)state;
    assert_int_equal(rt_order_push(o, 3, NULL, 0), 0);
    assert_int_equal(rt_order_push(o, 3, NULL, 0), RT_EDUP);
    assert_int_equal(rt_order_push(o, 2, NULL, 0), 0);
    assert_int_equal(rt_order_held(o), 2);
    assert_int_equal(rt_order_push(o, 1, NULL, 0), 0);
    assert_delivered_run(&r, 1, 3);
    rt_order_free(o);
}

static void test_order_calls_from_callback_refused(void **state)
{
    struct rec r;
    rt_order *o = mkorder(&r, 0, 0, 2000, 1);

    (void)state;
    r.o = o;
    r.probe = 1;
    assert_int_equal(push(o, 2, 0), 0);
    assert_int_equal(push(o, 1, 0), 0);
    assert_delivered_run(&r, 1, 2);
    /* Probed during the delivery of 2: next already moved past it. */
    assert_true(r.next_in_cb == 3);
    assert_int_equal(r.probe_rc[0], RT_ESTATE);
    assert_int_equal(r.probe_rc[1], RT_ESTATE);
    assert_int_equal(r.probe_rc[2], RT_ESTATE);
    assert_int_equal(r.probe_rc[3], RT_ESTATE);
    /* The refused calls changed nothing. */
    assert_true(rt_order_next(o) == 3);
    assert_int_equal(rt_order_held(o), 0);
    r.probe = 0;
    assert_int_equal(push(o, 3, 0), 0);
    assert_delivered_run(&r, 1, 3);
    rt_order_free(o);
    assert_int_equal(r.frees, 0);
}

static void test_order_free_from_callback_is_deferred(void **state)
{
    struct rec r;
    rt_order *o = mkorder(&r, 0, 0, 2000, 1);

    (void)state;
    r.o = o;
    r.free_on_seq = 2;
    assert_int_equal(push(o, 2, 0), 0);
    assert_int_equal(push(o, 3, 0), 0);
    assert_int_equal(push(o, 4, 0), 0);
    /* Delivering 1 then 2; the free in 2's callback stops the run. */
    assert_int_equal(push(o, 1, 0), 0);
    assert_delivered_run(&r, 1, 2);
    assert_int_equal(r.frees, 2);

    /* The same from a skip. */
    o = mkorder(&r, 0, 0, 2000, 1);
    r.o = o;
    r.free_on_seq = 5;
    assert_int_equal(push(o, 5, 0), 0);
    assert_int_equal(push(o, 6, 0), 0);
    assert_int_equal(rt_order_skip_to(o, 5), 0);
    assert_delivered_run(&r, 5, 1);
    assert_int_equal(r.frees, 1);
}

/* --- allocation failure */

static void test_order_new_out_of_memory(void **state)
{
    struct rec r;
    rt_order *o;
    long fail_at;
    int rc;

    (void)state;
    memset(&r, 0, sizeof(r));
    for (fail_at = 0;; fail_at++) {
        o = NULL;
        th_alloc_install();
        th_alloc_fail_at(fail_at);
        rc = rt_order_new(&o, NULL, 1, on_deliver, &r);
        if (rc != 0)
            assert_int_equal(th_alloc_live(), 0);
        th_alloc_uninstall();
        if (rc == 0)
            break;
        assert_int_equal(rc, RT_ENOMEM);
        assert_null(o);
    }
    assert_int_equal(fail_at, 2);
    assert_int_equal(push(o, 1, 0), 0);
    rt_order_free(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_opts_defaults),
        cmocka_unit_test(test_order_new_rejects_bad_options),
        cmocka_unit_test(test_order_delivers_in_order),
        cmocka_unit_test(test_order_delivers_reverse_order),
        cmocka_unit_test(test_order_random_permutations_deliver_once_in_order),
        cmocka_unit_test(test_order_drops_duplicate_while_held),
        cmocka_unit_test(test_order_drops_duplicate_after_replay),
        cmocka_unit_test(test_order_window_full),
        cmocka_unit_test(test_order_window_of_one),
        cmocka_unit_test(test_order_rejects_seq_too_far_ahead),
        cmocka_unit_test(test_order_gap_timeout_fires_at_boundary),
        cmocka_unit_test(test_order_gap_reports_missing_range),
        cmocka_unit_test(test_order_gap_fills_before_timeout),
        cmocka_unit_test(
            test_order_gap_after_partial_fill_timed_from_first_sight),
        cmocka_unit_test(test_order_gap_timeout_zero_reports_at_once),
        cmocka_unit_test(test_order_deadline_saturates),
        cmocka_unit_test(test_order_skip_to_gives_up_gap),
        cmocka_unit_test(test_order_skip_to_frees_older_held),
        cmocka_unit_test(test_order_reset_frees_held),
        cmocka_unit_test(test_order_free_releases_held),
        cmocka_unit_test(test_order_seq_near_uint64_max),
        cmocka_unit_test(test_order_next_seq_zero_and_one),
        cmocka_unit_test(test_order_null_message_is_a_message),
        cmocka_unit_test(test_order_calls_from_callback_refused),
        cmocka_unit_test(test_order_free_from_callback_is_deferred),
        cmocka_unit_test(test_order_new_out_of_memory),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
