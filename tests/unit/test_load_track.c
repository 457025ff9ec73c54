/*
 * test_load_track.c: how `rtctl load` counts what one subscriber received
 * (cli/load/track.c): unique, duplicated, reordered and lost room seqs,
 * the window of 64 past the lowest missing seq, a failed resume giving a
 * gap up, and the count of holes at the end.
 */
#include "helpers.h"

#include "load/load.h"

static void feed(struct cli_track *t, struct cli_track_counts *n,
                 const uint64_t *seqs, size_t k)
{
    size_t i;

    for (i = 0; i < k; i++)
        cli_track_seen(t, seqs[i], n);
}

static void test_load_track_in_order_then_dup(void **state)
{
    struct cli_track t = {0, 0};
    struct cli_track_counts n = {0, 0, 0, 0};
    static const uint64_t s[] = {11, 12, 13, 12};

    (void)state;
    cli_track_start(&t, 10);
    feed(&t, &n, s, 4);
    assert_int_equal(n.unique, 3);
    assert_int_equal(n.dup, 1);
    assert_int_equal(n.reordered, 0);
    assert_int_equal(cli_track_pos(&t), 13);
    cli_track_finish(&t, 15, &n);
    assert_int_equal(n.lost, 2);
}

static void test_load_track_out_of_order_fills_gap(void **state)
{
    struct cli_track t = {0, 0};
    struct cli_track_counts n = {0, 0, 0, 0};
    static const uint64_t s[] = {1, 3, 4, 2, 4, 5};

    (void)state;
    cli_track_start(&t, 0);
    feed(&t, &n, s, 6);
    assert_int_equal(n.unique, 5);
    assert_int_equal(n.dup, 1);
    assert_int_equal(n.reordered, 1);
    assert_int_equal(cli_track_pos(&t), 5);
    cli_track_finish(&t, 5, &n);
    assert_int_equal(n.lost, 0);
}

static void test_load_track_window_gives_up_old_holes(void **state)
{
    struct cli_track t = {0, 0};
    struct cli_track_counts n = {0, 0, 0, 0};
    uint64_t s;

    (void)state;
    cli_track_start(&t, 0);
    /* 1 never comes; 2..100 do */
    for (s = 2; s <= 100; s++)
        cli_track_seen(&t, s, &n);
    assert_int_equal(n.lost, 1);
    assert_int_equal(n.unique, 99);
    assert_int_equal(cli_track_pos(&t), 100);
    /* a jump far ahead with nothing in the window */
    cli_track_seen(&t, 1000, &n);
    cli_track_finish(&t, 1000, &n);
    assert_int_equal(n.lost, 1 + 899);
}

static void test_load_track_give_up_after_failed_resume(void **state)
{
    struct cli_track t = {0, 0};
    struct cli_track_counts n = {0, 0, 0, 0};

    (void)state;
    cli_track_start(&t, 5);
    cli_track_seen(&t, 6, &n);
    cli_track_give_up(&t, 20, &n); /* 7..19 lost */
    cli_track_seen(&t, 20, &n);
    assert_int_equal(n.lost, 13);
    assert_int_equal(cli_track_pos(&t), 20);
    assert_int_equal(n.dup, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_track_in_order_then_dup),
        cmocka_unit_test(test_load_track_out_of_order_fills_gap),
        cmocka_unit_test(test_load_track_window_gives_up_old_holes),
        cmocka_unit_test(test_load_track_give_up_after_failed_resume),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
