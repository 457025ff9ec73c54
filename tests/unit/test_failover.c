/*
 * test_failover.c: the URL list the clients move between
 * (lib/core/failover.c): the order of the URLs, when the backoff delay
 * comes, what resets a round, and the parsing of --url's comma lists.
 *
 * rand32 is chosen, not drawn: with HALF the delay is half the ceiling
 * (test_backoff.c), so a delay says which backoff attempt it is.
 */
#include "helpers.h"

#include "failover.h"

#define HALF ((uint32_t)1 << 31)

static void mk(rt__failover *f, uint32_t max_attempts, const char *first,
               const char *const *more)
{
    rt_backoff_policy p;

    rt_backoff_policy_init(&p);
    p.max_attempts = max_attempts;
    assert_int_equal(
        rt__failover_init(f, &p, first, more, rt__failover_http, NULL), 0);
}

/* The next step: the URL it goes to, and its delay. */
static uint64_t step(rt__failover *f, const char *want_url)
{
    uint64_t d = UINT64_MAX;

    assert_int_equal(rt__failover_next(f, HALF, &d), 0);
    assert_string_equal(rt__failover_str(f), want_url);
    return d;
}

static void test_failover_one_url_is_plain_backoff(void **state)
{
    rt__failover f;

    (void)state;
    mk(&f, 0, "http://a:1/x", NULL);
    assert_string_equal(rt__failover_str(&f), "http://a:1/x");
    /* Every failure costs a delay, 500, 1000, 2000 ms: as before lists. */
    assert_true(step(&f, "http://a:1/x") == 500);
    assert_true(step(&f, "http://a:1/x") == 1000);
    assert_true(step(&f, "http://a:1/x") == 2000);
    rt__failover_cleanup(&f);
}

static void test_failover_round_robin_delay_per_round(void **state)
{
    const char *more[] = {"http://b:2/x", "http://c:3/x", NULL};
    rt__failover f;

    (void)state;
    mk(&f, 0, "http://a:1/x", more);
    assert_int_equal(f.n, 3);
    assert_string_equal(rt__failover_str(&f), "http://a:1/x");
    /* a fails: b and c at once; the round over, a after a delay. */
    assert_true(step(&f, "http://b:2/x") == 0);
    assert_true(step(&f, "http://c:3/x") == 0);
    assert_true(step(&f, "http://a:1/x") == 500);
    assert_int_equal(rt_backoff_attempt(&f.backoff), 1);
    assert_true(step(&f, "http://b:2/x") == 0);
    assert_true(step(&f, "http://c:3/x") == 0);
    assert_true(step(&f, "http://a:1/x") == 1000);
    assert_int_equal(rt_backoff_attempt(&f.backoff), 2);
    rt__failover_cleanup(&f);
}

static void test_failover_drop_of_a_good_server_moves_on_at_once(void **state)
{
    const char *more[] = {"http://b:2/x", NULL};
    rt__failover f;

    (void)state;
    mk(&f, 0, "http://a:1/x", more);
    /* Up on a for a minute, then a drops: b at once, not after a delay. */
    rt__failover_connected(&f, 60000);
    assert_true(step(&f, "http://b:2/x") == 0);
    /* b refuses too: the round is over, a after the first delay. */
    assert_true(step(&f, "http://a:1/x") == 500);
    /* a delivers a message: a new round starts, b next at once. */
    rt__failover_delivered(&f);
    assert_int_equal(rt_backoff_attempt(&f.backoff), 0);
    assert_true(step(&f, "http://b:2/x") == 0);
    rt__failover_cleanup(&f);
}

static void test_failover_accept_and_drop_never_loops_tight(void **state)
{
    const char *more[] = {"http://b:2/x", NULL};
    rt__failover f;
    int i;

    (void)state;
    mk(&f, 0, "http://a:1/x", more);
    /*
     * Both servers accept and drop at once (up 5 ms, under stable_ms):
     * every second step is a growing delay.
     */
    for (i = 0; i < 4; i++) {
        rt__failover_connected(&f, 5);
        assert_true(step(&f, "http://b:2/x") == 0);
        rt__failover_connected(&f, 5);
        assert_true(step(&f, "http://a:1/x") == (uint64_t)500 << i);
    }
    rt__failover_cleanup(&f);
}

static void test_failover_max_retries_count_rounds(void **state)
{
    const char *more[] = {"http://b:2/x", NULL};
    rt__failover f;
    uint64_t d = 7;

    (void)state;
    mk(&f, 2, "http://a:1/x", more);
    assert_true(step(&f, "http://b:2/x") == 0);
    assert_true(step(&f, "http://a:1/x") == 500);
    assert_true(step(&f, "http://b:2/x") == 0);
    assert_true(step(&f, "http://a:1/x") == 1000);
    assert_true(step(&f, "http://b:2/x") == 0);
    /* Two rounds retried, the third failed: six attempts, then stop. */
    assert_int_equal(rt__failover_next(&f, HALF, &d), RT_EEXHAUSTED);
    assert_true(d == 7);
    assert_string_equal(rt__failover_str(&f), "http://b:2/x");
    rt__failover_cleanup(&f);
}

static void test_failover_untried_first_round_only(void **state)
{
    const char *more[] = {"http://b:2/x", "http://c:3/x", NULL};
    rt__failover f;

    (void)state;
    mk(&f, 0, "http://a:1/x", more);
    /* Never connected: b and c are still to try, then nothing is. */
    assert_true(rt__failover_untried(&f));
    assert_true(step(&f, "http://b:2/x") == 0);
    assert_true(rt__failover_untried(&f));
    assert_true(step(&f, "http://c:3/x") == 0);
    assert_false(rt__failover_untried(&f));
    rt__failover_cleanup(&f);
    /* Once a connection was up, a drop is not a first connection. */
    mk(&f, 0, "http://a:1/x", more);
    rt__failover_connected(&f, 5);
    assert_false(rt__failover_untried(&f));
    rt__failover_cleanup(&f);
    mk(&f, 0, "http://a:1/x", NULL);
    assert_false(rt__failover_untried(&f));
    rt__failover_cleanup(&f);
}

static void test_failover_init_names_the_bad_url(void **state)
{
    const char *more[] = {"http://b:2/x", "ws://c:3/x", NULL};
    const char *junk[] = {"http://b:2/x", "not a url", NULL};
    rt_backoff_policy p;
    rt__failover f;
    size_t bad = 99;

    (void)state;
    rt_backoff_policy_init(&p);
    assert_int_equal(rt__failover_init(&f, &p, "http://a:1/x", more,
                                       rt__failover_http, &bad),
                     RT_EURL);
    assert_int_equal(bad, 2);
    assert_int_equal(rt__failover_init(&f, &p, "http://a:1/x", junk,
                                       rt__failover_http, &bad),
                     RT_EURL);
    assert_int_equal(bad, 2);
    assert_int_equal(
        rt__failover_init(&f, &p, "ftp://a/", NULL, rt__failover_http, &bad),
        RT_EURL);
    assert_int_equal(bad, 0);
    p.base_ms = 0;
    assert_int_equal(
        rt__failover_init(&f, &p, "http://a/", NULL, rt__failover_http, &bad),
        RT_EINVAL);
    /* Normalised as the clients send them. */
    rt_backoff_policy_init(&p);
    assert_int_equal(rt__failover_init(&f, &p, "HTTP://A:80/x", NULL,
                                       rt__failover_http, NULL),
                     0);
    assert_string_equal(rt__failover_str(&f), "http://a/x");
    rt__failover_cleanup(&f);
}

/* Split |given| and compare with the expected "a|b|c" (NULL: an error). */
static void split_is(const char *const *given, size_t n, const char *want,
                     const char *want_err)
{
    char **v = NULL, err[256] = "";
    size_t count = 99, i;
    th_str got;
    int rc;

    rc = rt__url_list_split(given, n, &v, &count, err, sizeof(err));
    if (want == NULL) {
        assert_int_equal(rc, RT_EURL);
        assert_null(v);
        assert_int_equal(count, 0);
        assert_string_equal(err, want_err);
        return;
    }
    assert_int_equal(rc, 0);
    th_str_init(&got);
    for (i = 0; v[i] != NULL; i++)
        th_str_printf(&got, "%s%s", i > 0 ? "|" : "", v[i]);
    assert_int_equal(i, count);
    assert_string_equal(got.s != NULL ? got.s : "", want);
    th_str_free(&got);
    rt__url_list_free(v);
}

static void test_url_list_split(void **state)
{
    const char *one[] = {"http://a"};
    const char *comma[] = {"http://a,http://b , http://c"};
    const char *repeat[] = {"http://a", "http://b"};
    const char *mixed[] = {"http://a,http://b", "http://c", "http://d,ws://e"};
    const char *dups[] = {"http://a,http://b", "http://a"};

    (void)state;
    split_is(one, 1, "http://a", NULL);
    split_is(comma, 1, "http://a|http://b|http://c", NULL);
    split_is(repeat, 2, "http://a|http://b", NULL);
    split_is(mixed, 3, "http://a|http://b|http://c|http://d|ws://e", NULL);
    /* Splitting keeps duplicates: rt__url_list_dedupe() drops them. */
    split_is(dups, 2, "http://a|http://b|http://a", NULL);
    split_is(NULL, 0, "", NULL);
}

static void test_url_list_split_empty_items(void **state)
{
    const char *empty[] = {""};
    const char *blank[] = {" \t "};
    const char *middle[] = {"http://a,,http://b"};
    const char *trailing[] = {"http://a,"};
    const char *leading[] = {",http://a"};
    const char *second[] = {"http://a", "http://b, ,http://c"};

    (void)state;
    split_is(empty, 1, NULL, "'' is empty");
    split_is(blank, 1, NULL, "' \t ' is empty");
    split_is(middle, 1, NULL, "item 2 of 'http://a,,http://b' is empty");
    split_is(trailing, 1, NULL, "item 2 of 'http://a,' is empty");
    split_is(leading, 1, NULL, "item 1 of ',http://a' is empty");
    split_is(second, 2, NULL, "item 2 of 'http://b, ,http://c' is empty");
}

static void test_url_list_dedupe(void **state)
{
    const char *given[] = {"a,b,a,c,b,a"};
    const char *same[] = {"x,x,x"};
    char **v = NULL, err[64];
    size_t n = 0;

    (void)state;
    assert_int_equal(rt__url_list_split(given, 1, &v, &n, err, sizeof(err)),
                     0);
    assert_int_equal(n, 6);
    rt__url_list_dedupe(v, &n);
    assert_int_equal(n, 3);
    assert_string_equal(v[0], "a");
    assert_string_equal(v[1], "b");
    assert_string_equal(v[2], "c");
    assert_null(v[3]);
    rt__url_list_free(v);
    assert_int_equal(rt__url_list_split(same, 1, &v, &n, err, sizeof(err)), 0);
    rt__url_list_dedupe(v, &n);
    assert_int_equal(n, 1);
    assert_string_equal(v[0], "x");
    assert_null(v[1]);
    rt__url_list_free(v);
}

/* Every allocation refused in turn: an error, and nothing leaked. */
static void test_failover_failmalloc(void **state)
{
    const char *more[] = {"http://b:2/x", "http://c:3/y?q=1", NULL};
    const char *given[] = {"http://a,http://b", "http://c,http://a"};
    rt_backoff_policy p;
    int n, done = 0, rc;

    (void)state;
    rt_backoff_policy_init(&p);
    for (n = 0; !done; n++) {
        rt__failover f;
        char **v = NULL, err[64];
        size_t count;

        th_alloc_install();
        th_alloc_fail_at(n);
        rc = rt__failover_init(&f, &p, "http://a:1/x", more, rt__failover_http,
                               NULL);
        if (rc == 0)
            rt__failover_cleanup(&f);
        if (rc == 0)
            rc = rt__url_list_split(given, 2, &v, &count, err, sizeof(err));
        if (rc == 0) {
            rt__url_list_dedupe(v, &count);
            assert_int_equal(count, 3);
            rt__url_list_free(v);
        }
        done = th_alloc_failed() == 0;
        th_alloc_uninstall();
        assert_int_equal(th_alloc_live(), 0);
        if (!done)
            assert_int_equal(rc, RT_ENOMEM);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failover_one_url_is_plain_backoff),
        cmocka_unit_test(test_failover_round_robin_delay_per_round),
        cmocka_unit_test(test_failover_drop_of_a_good_server_moves_on_at_once),
        cmocka_unit_test(test_failover_accept_and_drop_never_loops_tight),
        cmocka_unit_test(test_failover_max_retries_count_rounds),
        cmocka_unit_test(test_failover_untried_first_round_only),
        cmocka_unit_test(test_failover_init_names_the_bad_url),
        cmocka_unit_test(test_url_list_split),
        cmocka_unit_test(test_url_list_split_empty_items),
        cmocka_unit_test(test_url_list_dedupe),
        cmocka_unit_test(test_failover_failmalloc),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
