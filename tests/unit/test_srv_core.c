/*
 * test_srv_core.c: the socket-free rules of the bundled server
 * (server-stub/srv_core.c): the history ring that grows on demand, the
 * replay cursor that streams a resume as the socket drains (issue 10,
 * item 1), and the author rule (issue 10, item 2).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "srv_core.h"

/* Items are the seqs themselves, cast to pointers (never 0). */
#define ITEM(seq) ((void *)(uintptr_t)(seq))
#define SEQ(item) ((uint64_t)(uintptr_t)(item))

static void push_range(struct rt_ring *r, uint64_t from, uint64_t to)
{
    void *old;
    uint64_t s;

    for (s = from; s <= to; s++)
        assert_int_equal(rt__ring_push(r, s, ITEM(s), &old), 0);
}

static void test_srv_ring_grows_on_demand(void **state)
{
    struct rt_ring r;

    (void)state;
    rt__ring_init(&r, 1000);
    assert_int_equal(r.cap, 0);
    assert_null(r.v);
    push_range(&r, 1, 3);
    /* three messages cost a few slots, not --history */
    assert_true(r.cap >= 3 && r.cap < 16);
    push_range(&r, 4, 100);
    assert_true(r.cap >= 100 && r.cap <= 1000);
    assert_int_equal(rt__ring_oldest(&r, 100), 1);
    assert_ptr_equal(rt__ring_at(&r, 1), ITEM(1));
    assert_ptr_equal(rt__ring_at(&r, 100), ITEM(100));
    assert_null(rt__ring_at(&r, 101));
    assert_null(rt__ring_at(&r, 0));
    rt__ring_cleanup(&r);
}

static void test_srv_ring_evicts_oldest_at_max(void **state)
{
    struct rt_ring r;
    void *old;
    uint64_t s;

    (void)state;
    rt__ring_init(&r, 10);
    push_range(&r, 1, 10);
    assert_int_equal(r.cap, 10);
    for (s = 11; s <= 35; s++) {
        assert_int_equal(rt__ring_push(&r, s, ITEM(s), &old), 0);
        assert_ptr_equal(old, ITEM(s - 10));
    }
    assert_int_equal(r.cap, 10);
    assert_int_equal(rt__ring_oldest(&r, 35), 26);
    for (s = 26; s <= 35; s++)
        assert_ptr_equal(rt__ring_at(&r, s), ITEM(s));
    assert_null(rt__ring_at(&r, 25));
    /* out of order is refused, nothing changes */
    assert_int_equal(rt__ring_push(&r, 37, ITEM(37), &old), RT_EINVAL);
    assert_int_equal(rt__ring_oldest(&r, 35), 26);
    rt__ring_cleanup(&r);
}

static void test_srv_ring_max_zero_keeps_nothing(void **state)
{
    struct rt_ring r;
    void *old;

    (void)state;
    rt__ring_init(&r, 0);
    assert_int_equal(rt__ring_push(&r, 1, ITEM(1), &old), 0);
    assert_ptr_equal(old, ITEM(1));
    assert_int_equal(rt__ring_oldest(&r, 1), 2);
    assert_null(rt__ring_at(&r, 1));
    rt__ring_cleanup(&r);
}

/*
 * A consumer that takes |per_turn| items per turn while |live| new ones
 * are stored per turn: every seq from |from| on arrives once, in order,
 * and recovered says whether any was skipped.
 */
static int replay_run(uint32_t max, uint64_t top, uint64_t from,
                      unsigned per_turn, unsigned live, uint64_t *got_first,
                      uint64_t *got_last)
{
    struct rt_ring r;
    struct rt_replay rp = {from, 1};

    /* rt__room_resume: a position already gone starts at the oldest */
    if (top > max && from < top - max + 1) {
        rp.next = top - max + 1;
        rp.recovered = 0;
    }
    uint64_t expect = 0;
    unsigned turn, i;
    void *m;
    int caught_up = 0;

    rt__ring_init(&r, max);
    for (uint64_t s = 1; s <= top; s++) {
        void *old;

        assert_int_equal(rt__ring_push(&r, s, ITEM(s), &old), 0);
    }
    *got_first = 0;
    for (turn = 0; turn < 100000 && !caught_up; turn++) {
        for (i = 0; i < per_turn; i++) {
            m = rt__replay_next(&rp, &r, top);
            if (m == NULL) {
                caught_up = 1;
                break;
            }
            if (*got_first == 0)
                *got_first = SEQ(m);
            else
                assert_int_equal(SEQ(m), expect); /* in order, no gap */
            expect = SEQ(m) + 1;
        }
        for (i = 0; i < live && !caught_up; i++) {
            void *old;

            top++;
            assert_int_equal(rt__ring_push(&r, top, ITEM(top), &old), 0);
        }
    }
    assert_true(caught_up);
    *got_last = expect - 1;
    if (rp.recovered)
        assert_int_equal(*got_last, top); /* nothing stored is left out */
    rt__ring_cleanup(&r);
    return rp.recovered;
}

static void test_srv_replay_streams_whole_history(void **state)
{
    uint64_t first, last;

    (void)state;
    /* 1000 held, from seq 1, a slow reader, no live traffic */
    assert_true(replay_run(1000, 1000, 1, 7, 0, &first, &last));
    assert_int_equal(first, 1);
    assert_int_equal(last, 1000);
    /* from the middle */
    assert_true(replay_run(1000, 1000, 501, 3, 0, &first, &last));
    assert_int_equal(first, 501);
}

static void test_srv_replay_holds_live_messages_behind(void **state)
{
    uint64_t first, last;

    (void)state;
    /* live messages come faster than one per turn, but fewer than read */
    assert_true(replay_run(1000, 900, 1, 10, 9, &first, &last));
    assert_int_equal(first, 1);
    assert_true(last > 900);
}

static void test_srv_replay_overtaken_is_not_recovered(void **state)
{
    uint64_t first, last;

    (void)state;
    /* more live traffic than the reader takes: the ring overtakes it,
     * and the replay ends then rather than chase it with holes */
    assert_false(replay_run(100, 100, 1, 2, 5, &first, &last));
    assert_int_equal(first, 1);
    assert_true(last < 100 + 5 * 100);
    /* asked for a position already gone */
    assert_false(replay_run(100, 500, 10, 50, 0, &first, &last));
    assert_int_equal(first, 401);
    assert_int_equal(last, 500);
}

static void test_srv_replay_nothing_to_send(void **state)
{
    struct rt_ring r;
    struct rt_replay rp = {6, 1};

    (void)state;
    rt__ring_init(&r, 10);
    push_range(&r, 1, 5);
    assert_null(rt__replay_next(&rp, &r, 5));
    assert_true(rp.recovered);
    rt__ring_cleanup(&r);
}

/* ------------------------------------------------------- author */

static char *author_of(const char *data, const char *user, int *rc)
{
    rt_buf b;
    size_t n;

    rt__buf_init(&b);
    *rc = rt__author_set(data, strlen(data), user, &b);
    if (*rc != 0) {
        rt__buf_cleanup(&b);
        return NULL;
    }
    return rt__buf_detach(&b, &n);
}

/* Parse |out| as any reader would; the one author is |user|. */
static void assert_only_author(const char *out, const char *user)
{
    cJSON *d = cJSON_Parse(out), *it;
    int n = 0;

    assert_non_null(d);
    for (it = d->child; it != NULL; it = it->next) {
        const char *k = it->string;

        if (strlen(k) == 6 && strncasecmp(k, "author", 6) == 0) {
            n++;
            assert_string_equal(k, "author");
            assert_string_equal(it->valuestring, user);
        }
    }
    assert_int_equal(n, 1);
    /* No escape in a name survives to be decoded later. */
    assert_null(strstr(out, "\\u006f"));
    cJSON_Delete(d);
}

static void test_srv_author_set_on_plain_data(void **state)
{
    char *out;
    int rc;

    (void)state;
    out = author_of("{\"content\":\"hi\"}", "alice", &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(out, "{\"author\":\"alice\",\"content\":\"hi\"}");
    rt__free(out);
    out = author_of("{}", "alice", &rc);
    assert_string_equal(out, "{\"author\":\"alice\"}");
    rt__free(out);
    out = author_of(" { } ", "alice", &rc);
    assert_only_author(out, "alice");
    rt__free(out);
}

static void test_srv_author_every_spelling_removed(void **state)
{
    static const char *const attacks[] = {
        "{\"content\":\"x\",\"author\":\"carol\"}",
        "{\"content\":\"I am carol\",\"author\":\"x\",\"author\":\"carol\"}",
        "{\"content\":\"x\",\"auth\\u006fr\":\"bob\"}",
        ("{\"content\":\"x\",\"\\u0061\\u0075\\u0074\\u0068\\u006f\\u0072\":"
         "\"bob\",\"author\":\"eve\"}"),
        "{\"content\":\"x\",\"Author\":\"bob\"}",
        "{\"content\":\"x\",\"AUTHOR\":\"bob\",\"aUtHoR\":\"eve\"}",
        "{\"author\":{\"nested\":true},\"content\":\"x\"}",
        "{\"content\":\"x\",\"author\\u0000\":\"bob\"}",
    };
    size_t i;
    char *out;
    int rc;

    (void)state;
    for (i = 0; i < sizeof(attacks) / sizeof(attacks[0]); i++) {
        out = author_of(attacks[i], "mallory", &rc);
        assert_int_equal(rc, 0);
        assert_only_author(out, "mallory");
        assert_non_null(strstr(out, "\"content\":\"x\"")
                            ? out
                            : strstr(out, "I am carol"));
        rt__free(out);
    }
}

static void test_srv_author_keeps_other_members(void **state)
{
    char *out;
    int rc;
    cJSON *d;

    (void)state;
    out = author_of("{\"content\":\"x\",\"authority\":1,\"co-author\":\"z\","
                    "\"meta\":{\"author\":\"kept, not top level\"}}",
                    "alice", &rc);
    assert_int_equal(rc, 0);
    d = cJSON_Parse(out);
    assert_non_null(cJSON_GetObjectItemCaseSensitive(d, "authority"));
    assert_non_null(cJSON_GetObjectItemCaseSensitive(d, "co-author"));
    assert_string_equal(
        cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(d, "meta"), "author")
            ->valuestring,
        "kept, not top level");
    cJSON_Delete(d);
    rt__free(out);
}

static void test_srv_author_refuses_non_objects(void **state)
{
    int rc;

    (void)state;
    assert_null(author_of("[1]", "alice", &rc));
    assert_int_equal(rc, RT_EPROTO);
    assert_null(author_of("", "alice", &rc));
    assert_int_equal(rc, RT_EPROTO);
    /* a lone surrogate cJSON cannot read: refused, never passed through */
    assert_null(
        author_of("{\"content\":\"\\ud800\",\"author\":\"x\"}", "alice", &rc));
    assert_int_equal(rc, RT_EPROTO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_srv_ring_grows_on_demand),
        cmocka_unit_test(test_srv_ring_evicts_oldest_at_max),
        cmocka_unit_test(test_srv_ring_max_zero_keeps_nothing),
        cmocka_unit_test(test_srv_replay_streams_whole_history),
        cmocka_unit_test(test_srv_replay_holds_live_messages_behind),
        cmocka_unit_test(test_srv_replay_overtaken_is_not_recovered),
        cmocka_unit_test(test_srv_replay_nothing_to_send),
        cmocka_unit_test(test_srv_author_set_on_plain_data),
        cmocka_unit_test(test_srv_author_every_spelling_removed),
        cmocka_unit_test(test_srv_author_keeps_other_members),
        cmocka_unit_test(test_srv_author_refuses_non_objects),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
