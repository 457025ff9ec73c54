/*
 * fuzz_url.c: libFuzzer target for rt_url.
 *
 * Checks, for arbitrary bytes: parsing never crashes; a parsed URL formats
 * to at most RT_URL_MAX_LEN bytes and re-parses to the same canonical
 * string and fields (formatting is a fixed point); resolving the bytes as
 * a target against a fixed base, for every kind, gives a URL with the same
 * fixed-point property; query_set/query_get round-trip the bytes as a
 * value; rt_url_path_room agrees with rt_room_valid.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rt/alloc.h"
#include "rt/url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)     \
    do {             \
        if (!(c))    \
            abort(); \
    } while (0)

/* Format |u|, parse the result, format again: both must be equal. */
static void check_fixed_point(const rt_url *u)
{
    char *a = NULL, *b = NULL;
    rt_url *v = NULL;
    char err[128];

    CHECK(rt_url_format(u, &a) == 0);
    CHECK(strlen(a) <= RT_URL_MAX_LEN);
    CHECK(rt_url_parse(&v, a, err, sizeof err) == 0);
    CHECK(rt_url_format(v, &b) == 0);
    CHECK(strcmp(a, b) == 0);
    CHECK(rt_url_get_scheme(u) == rt_url_get_scheme(v));
    CHECK(rt_url_port(u) == rt_url_port(v));
    CHECK(rt_url_is_ipv6(u) == rt_url_is_ipv6(v));
    CHECK(strcmp(rt_url_host(u), rt_url_host(v)) == 0);
    CHECK(strcmp(rt_url_path(u), rt_url_path(v)) == 0);
    CHECK(strcmp(rt_url_query(u), rt_url_query(v)) == 0);
    CHECK(rt_url_path(u)[0] == '/');
    CHECK(rt_url_port(u) >= 1 && rt_url_port(u) <= 65535);
    {
        const char *r = rt_url_room(u, NULL);
        if (r != NULL)
            CHECK(rt_room_valid(r, strlen(r)));
    }
    rt_free(a);
    rt_free(b);
    rt_url_free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const rt_url_kind kinds[] = {RT_URL_KIND_ANY,     RT_URL_KIND_WS,
                                        RT_URL_KIND_SSE,     RT_URL_KIND_POLL,
                                        RT_URL_KIND_PUBLISH, RT_URL_KIND_HTTP};
    char err[256];
    char *s;
    rt_url *u = NULL;
    size_t k;
    rt_url_room_ref ref;

    if (size > RT_URL_MAX_LEN + 16)
        return 0;
    s = malloc(size + 1);
    if (s == NULL)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';

    if (rt_url_parse(&u, s, err, sizeof err) == 0) {
        check_fixed_point(u);
        rt_url_free(u);
    } else {
        CHECK(u == NULL);
        CHECK(err[0] != '\0');
    }

    for (k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        u = NULL;
        if (rt_url_resolve(&u, "http://h:8080/api?token=t", s, kinds[k], err,
                           sizeof err) == 0) {
            check_fixed_point(u);
            rt_url_free(u);
        } else {
            CHECK(u == NULL);
            CHECK(err[0] != '\0');
        }
    }

    /* The bytes as a query value survive encoding. */
    if (rt_url_parse(&u, "ws://h/ws/r?a=1", NULL, 0) == 0) {
        if (rt_url_query_set(u, "v", s) == 0) {
            char *got = NULL;
            size_t n;
            CHECK(rt_url_query_get(u, "v", &got, &n) == 0);
            CHECK(got != NULL && n == strlen(s) && memcmp(got, s, n) == 0);
            rt_free(got);
            check_fixed_point(u);
        }
        rt_url_free(u);
    }

    if (rt_url_path_room(s, size, &ref) == 0)
        CHECK(rt_room_valid(ref.room, ref.room_len));

    free(s);
    return 0;
}
