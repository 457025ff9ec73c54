/*
 * test_load_scan.c: cli_load_scan() (cli/load/scan.c), the subscriber's
 * reading of our broadcasts: the seq and due time of real server frames,
 * the keys it must not be fooled by, every truncation and byte mutation
 * of a real frame agreeing with the one-memmem-per-key reference.
 */
#define _GNU_SOURCE /* memmem, in the reference */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "load/load.h"
#include "load_scan_ref.h"

/* What rtctl serve broadcasts for one of rtctl load's messages. */
static const char frame[] =
    "{\"type\":\"text\",\"id\":\"1\",\"room\":\"bench-1\",\"seq\":4242,"
    "\"data\":{\"author\":\"load-pub-0\",\"content\":\"rtl1 "
    "0:17:123456789 xxxxxxxxxxxxxxxx\"},\"timestamp\":1796493995.337}";

static int scan(const char *s, uint64_t *seq, uint64_t *due)
{
    return cli_load_scan(s, strlen(s), seq, due);
}

static void test_scan_real_frame(void **state)
{
    uint64_t seq = 0, due = 0;

    (void)state;
    assert_int_equal(scan(frame, &seq, &due), 0);
    assert_int_equal(seq, 4242);
    assert_int_equal(due, 123456789);
}

static void test_scan_refuses_what_is_not_ours(void **state)
{
    uint64_t seq, due;

    (void)state;
    /* no marker: a message from someone else */
    assert_int_equal(
        scan("{\"type\":\"text\",\"seq\":1,\"data\":{\"content\":\"hi\"}}",
             &seq, &due),
        -1);
    /* a seq only inside data is not the top-level one */
    assert_int_equal(scan("{\"type\":\"text\",\"data\":{\"seq\":5,"
                          "\"content\":\"rtl1 0:1:2 \"}}",
                          &seq, &due),
                     -1);
    /* a marker with one colon */
    assert_int_equal(
        scan("{\"seq\":3,\"data\":{\"content\":\"rtl1 0:1\"}}", &seq, &due),
        -1);
    /* numbers that would not fit 64 bits */
    assert_int_equal(scan("{\"seq\":12345678901234567890,\"data\":{"
                          "\"content\":\"rtl1 0:1:2 \"}}",
                          &seq, &due),
                     -1);
    assert_int_equal(scan("{\"seq\":1,\"data\":{\"content\":\"rtl1 "
                          "0:1:99999999999999999999 \"}}",
                          &seq, &due),
                     -1);
    assert_int_equal(scan("", &seq, &due), -1);
    assert_int_equal(scan("\"", &seq, &due), -1);
}

static void test_scan_first_occurrence_wins(void **state)
{
    uint64_t seq = 0, due = 0;

    (void)state;
    /* a key spelled inside a string value is escaped, so only real keys
       match; the first of each is the one read */
    assert_int_equal(scan("{\"room\":\"a\\\"seq\\\":9\",\"seq\":7,\"data\":{"
                          "\"content\":\"rtl1 1:2:30 \",\"x\":"
                          "\"\\\"content\\\":\\\"rtl1 4:5:6\"}}",
                          &seq, &due),
                     0);
    assert_int_equal(seq, 7);
    assert_int_equal(due, 30);
}

/* Every prefix of the frame (a cut message): never past its end, and
   the same answer as the reference. */
static void test_scan_every_truncation(void **state)
{
    size_t n, len = strlen(frame);

    (void)state;
    for (n = 0; n <= len; n++) {
        char *cut = malloc(n ? n : 1); /* exactly n bytes: ASan bounds */
        uint64_t s1 = 0, d1 = 0, s2 = 0, d2 = 0;
        int a, b;

        assert_non_null(cut);
        memcpy(cut, frame, n);
        a = cli_load_scan(cut, n, &s1, &d1);
        b = ref_scan(cut, n, &s2, &d2);
        assert_int_equal(a, b);
        if (a == 0) {
            assert_int_equal(s1, s2);
            assert_int_equal(d1, d2);
        }
        free(cut);
    }
}

/* Every byte of the frame replaced by each of a few telling bytes. */
static void test_scan_mutations_agree(void **state)
{
    static const char bytes[] = "\"\\:{}0 9a,";
    size_t len = strlen(frame), i, j;
    char *buf = malloc(len);

    (void)state;
    assert_non_null(buf);
    for (i = 0; i < len; i++)
        for (j = 0; j < sizeof(bytes) - 1; j++) {
            uint64_t s1 = 0, d1 = 0, s2 = 0, d2 = 0;
            int a, b;

            memcpy(buf, frame, len);
            buf[i] = bytes[j];
            a = cli_load_scan(buf, len, &s1, &d1);
            b = ref_scan(buf, len, &s2, &d2);
            assert_int_equal(a, b);
            if (a == 0) {
                assert_int_equal(s1, s2);
                assert_int_equal(d1, d2);
            }
        }
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan_real_frame),
        cmocka_unit_test(test_scan_refuses_what_is_not_ours),
        cmocka_unit_test(test_scan_first_occurrence_wins),
        cmocka_unit_test(test_scan_every_truncation),
        cmocka_unit_test(test_scan_mutations_agree),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
