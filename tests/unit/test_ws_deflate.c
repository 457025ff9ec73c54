/*
 * test_ws_deflate.c: permessage-deflate (lib/core/ws_deflate.c) against
 * RFC 7692: the parameters of 7.1 as a server answers them, the examples
 * of 7.2.3 ("Hello" compressed, the window shared by the next message, a
 * message in two frames), and the bounds the client keeps (a bomb stops
 * at the limit, data that is not deflate is refused).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "rt/error.h"

#include "ws_deflate.h"

typedef struct sink {
    char data[1 << 16];
    size_t len;
    int pieces, lasts;
} sink;

static void collect(void *ud, const char *p, size_t n, int last)
{
    sink *s = ud;

    if (s->len + n <= sizeof(s->data))
        memcpy(s->data + s->len, p, n);
    s->len += n;
    s->pieces++;
    s->lasts += last;
}

static rt__pmd *accept_ok(const char *answer)
{
    rt__pmd *d = NULL;
    char detail[200];

    assert_int_equal(
        rt__pmd_accept(&d, answer, strlen(answer), detail, sizeof(detail)), 0);
    assert_non_null(d);
    return d;
}

static void accept_fails(const char *answer, const char *says)
{
    rt__pmd *d = NULL;
    char detail[200] = "";

    assert_int_equal(
        rt__pmd_accept(&d, answer, strlen(answer), detail, sizeof(detail)),
        RT_EHANDSHAKE);
    assert_null(d);
    assert_non_null(strstr(detail, says));
}

static void test_pmd_answers(void **state)
{
    (void)state;
    rt__pmd_free(accept_ok("permessage-deflate"));
    rt__pmd_free(accept_ok("permessage-deflate; server_no_context_takeover; "
                           "client_no_context_takeover"));
    rt__pmd_free(accept_ok("permessage-deflate;client_max_window_bits=10"));
    rt__pmd_free(
        accept_ok("permessage-deflate; server_max_window_bits=\"9\""));
    accept_fails("x-webkit-deflate-frame", "not offered");
    accept_fails("permessage-deflate, permessage-deflate", "more than one");
    accept_fails("permessage-deflate; client_max_window_bits", "malformed");
    accept_fails("permessage-deflate; server_max_window_bits=16", "malformed");
    accept_fails("permessage-deflate; server_max_window_bits=7", "malformed");
    accept_fails("permessage-deflate; no_such_thing", "unknown");
    accept_fails("permessage-deflate; server_no_context_takeover; "
                 "server_no_context_takeover",
                 "repeated");
}

/* RFC 7692 7.2.3.1 and 7.2.3.2: "Hello", then "Hello" again. */
static void test_pmd_rfc_examples_inflate(void **state)
{
    static const uint8_t hello[] = {0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};
    static const uint8_t again[] = {0xf2, 0x00, 0x11, 0x00, 0x00};
    rt__pmd *d = accept_ok("permessage-deflate");
    sink s;

    (void)state;
    memset(&s, 0, sizeof(s));
    assert_int_equal(
        rt__pmd_inflate(d, hello, sizeof(hello), 1, 1000, collect, &s), 0);
    assert_int_equal(s.len, 5);
    assert_memory_equal(s.data, "Hello", 5);
    assert_int_equal(s.lasts, 1);
    memset(&s, 0, sizeof(s));
    assert_int_equal(
        rt__pmd_inflate(d, again, sizeof(again), 1, 1000, collect, &s), 0);
    assert_int_equal(s.len, 5);
    assert_memory_equal(s.data, "Hello", 5);
    /* 7.2.3.1's message in two frames */
    memset(&s, 0, sizeof(s));
    rt__pmd_free(d);
    d = accept_ok("permessage-deflate");
    assert_int_equal(rt__pmd_inflate(d, hello, 3, 0, 1000, collect, &s), 0);
    assert_int_equal(s.lasts, 0);
    assert_int_equal(rt__pmd_inflate(d, hello + 3, 4, 1, 1000, collect, &s),
                     0);
    assert_int_equal(s.len, 5);
    assert_memory_equal(s.data, "Hello", 5);
    assert_int_equal(s.lasts, 1);
    rt__pmd_free(d);
}

static void test_pmd_rfc_examples_deflate(void **state)
{
    static const uint8_t hello[] = {0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};
    static const uint8_t again[] = {0xf2, 0x00, 0x11, 0x00, 0x00};
    rt__pmd *d = accept_ok("permessage-deflate");
    rt_buf out;

    (void)state;
    rt__buf_init(&out);
    assert_int_equal(rt__pmd_deflate(d, "Hello", 5, &out), 1);
    assert_int_equal(out.len, sizeof(hello));
    assert_memory_equal(out.data, hello, sizeof(hello));
    assert_int_equal(rt__pmd_deflate(d, "Hello", 5, &out), 1);
    assert_int_equal(out.len, sizeof(again));
    assert_memory_equal(out.data, again, sizeof(again));
    rt__pmd_free(d);
    /* client_no_context_takeover: every message stands alone */
    d = accept_ok("permessage-deflate; client_no_context_takeover");
    assert_int_equal(rt__pmd_deflate(d, "Hello", 5, &out), 1);
    assert_int_equal(rt__pmd_deflate(d, "Hello", 5, &out), 1);
    assert_memory_equal(out.data, hello, sizeof(hello));
    rt__pmd_free(d);
    /* zlib has no raw 8-bit window: such messages go uncompressed */
    d = accept_ok("permessage-deflate; client_max_window_bits=8");
    assert_int_equal(rt__pmd_deflate(d, "Hello", 5, &out), 0);
    rt__pmd_free(d);
    rt__buf_cleanup(&out);
}

/* What one side deflates, the other inflates, over many messages. */
static void test_pmd_round_trip(void **state)
{
    rt__pmd *d = accept_ok("permessage-deflate");
    char msg[3000];
    rt_buf out;
    sink s;
    int i;
    size_t k;

    (void)state;
    rt__buf_init(&out);
    for (i = 0; i < 50; i++) {
        for (k = 0; k < sizeof(msg); k++)
            msg[k] = (char)('a' + (k * 7 + (size_t)i) % 26);
        assert_int_equal(rt__pmd_deflate(d, msg, sizeof(msg), &out), 1);
        memset(&s, 0, sizeof(s));
        assert_int_equal(rt__pmd_inflate(d, (const uint8_t *)out.data, out.len,
                                         1, sizeof(msg), collect, &s),
                         0);
        assert_int_equal(s.len, sizeof(msg));
        assert_memory_equal(s.data, msg, sizeof(msg));
    }
    /* the empty message: RFC 7692 7.2.3.6 */
    assert_int_equal(rt__pmd_deflate(d, "", 0, &out), 1);
    assert_int_equal(out.len, 1);
    assert_int_equal((unsigned char)out.data[0], 0x00);
    rt__pmd_free(d);
    rt__buf_cleanup(&out);
}

/* 8 MiB of zeros in a few KiB: refused at the limit, not inflated. */
static void test_pmd_bomb_stops_at_limit(void **state)
{
    size_t big = (size_t)8 << 20;
    char *zeros = calloc(1, big);
    uLongf cap = compressBound((uLong)big);
    uint8_t *z = malloc(cap);
    z_stream zs;
    rt__pmd *d = accept_ok("permessage-deflate");
    sink s;

    (void)state;
    assert_non_null(zeros);
    assert_non_null(z);
    memset(&zs, 0, sizeof(zs));
    assert_int_equal(
        deflateInit2(&zs, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    zs.next_in = (Bytef *)zeros;
    zs.avail_in = (uInt)big;
    zs.next_out = z;
    zs.avail_out = (uInt)cap;
    assert_int_equal(deflate(&zs, Z_SYNC_FLUSH), Z_OK);
    memset(&s, 0, sizeof(s));
    assert_int_equal(rt__pmd_inflate(d, z, cap - zs.avail_out - 4, 1,
                                     (uint64_t)1 << 20, collect, &s),
                     RT_ETOOBIG);
    assert_true(s.len <= (size_t)1 << 20);
    deflateEnd(&zs);
    rt__pmd_free(d);
    free(zeros);
    free(z);
}

static void test_pmd_refuses_garbage(void **state)
{
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x13, 0x37};
    rt__pmd *d = accept_ok("permessage-deflate");
    sink s;

    (void)state;
    memset(&s, 0, sizeof(s));
    assert_int_equal(
        rt__pmd_inflate(d, junk, sizeof(junk), 1, 1000, collect, &s),
        RT_EPROTO);
    rt__pmd_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pmd_answers),
        cmocka_unit_test(test_pmd_rfc_examples_inflate),
        cmocka_unit_test(test_pmd_rfc_examples_deflate),
        cmocka_unit_test(test_pmd_round_trip),
        cmocka_unit_test(test_pmd_bomb_stops_at_limit),
        cmocka_unit_test(test_pmd_refuses_garbage),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
