/*
 * fuzz_msg_codec.c: libFuzzer target for lib/core/msg_codec.c.
 *
 * The input is one frame.  It is parsed from a client and from a server,
 * each with the default limits and with small ones (so that the depth, id
 * and size bounds are hit often).  A refusal must carry a section 5 code
 * matching its return value.  A message that parses must encode; the
 * encoding must parse again to an equal message whose encoding is the
 * same bytes (encode is a fixed point after one round), rt_msg_dup() must
 * encode the same too, and the data rebuilt from the typed view alone
 * must, when the codec accepts to write it, parse back to the same view.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt/alloc.h"
#include "rt/error.h"
#include "rt/msg.h"

#include "../unit/msg_eq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                           \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "check failed: %s (line %d)\n", #cond, __LINE__); \
            abort();                                                          \
        }                                                                     \
    } while (0)

static void one(const char *in, size_t len, rt_msg_dir dir,
                const rt_msg_limits *lim)
{
    rt_msg_limits relim = *lim;
    rt_msg *m = NULL, *m2 = NULL, *d = NULL, *v = NULL, view;
    rt_msg_error err;
    char *y = NULL, *z = NULL, *w = NULL;
    size_t ylen, zlen, wlen;
    int rc;

    rc = rt_msg_parse(&m, in, len, dir, lim, &err);
    if (rc != 0) {
        CHECK(m == NULL);
        CHECK(err.message[0] != '\0');
        if (rc == RT_ETOOBIG)
            CHECK(err.code == RT_MSG_CODE_TOO_LARGE && len > lim->max_bytes);
        else
            CHECK(rc == RT_EPROTO && (err.code == RT_MSG_CODE_BAD_JSON ||
                                      err.code == RT_MSG_CODE_BAD_MESSAGE));
        return;
    }
    CHECK(m != NULL && m->data != NULL && strlen(m->data) == m->data_len);

    CHECK(rt_msg_encode(m, &y, &ylen) == 0);
    CHECK(strlen(y) == ylen);
    /* Timestamps may grow in writing ("1" -> "1.000"): lift max_bytes. */
    relim.max_bytes = SIZE_MAX / 2;
    rc = rt_msg_parse(&m2, y, ylen, dir, &relim, &err);
    if (rc != 0) {
        fprintf(stderr, "re-parse failed: %s: %s\n%s\n",
                rt_msg_code_name(err.code), err.message, y);
        abort();
    }
    CHECK(msg_diff(m, m2, 1) == NULL);
    CHECK(rt_msg_encode(m2, &z, &zlen) == 0);
    CHECK(zlen == ylen && memcmp(y, z, ylen) == 0);
    rt_free(z);

    CHECK(rt_msg_dup(&d, m) == 0);
    CHECK(rt_msg_encode(d, &z, &zlen) == 0);
    CHECK(zlen == ylen && memcmp(y, z, ylen) == 0);
    rt_free(z);

    /* The typed view alone, when complete enough to be written. */
    view = *m;
    view.data = NULL;
    view.data_len = 0;
    if (rt_msg_encode(&view, &w, &wlen) == 0) {
        rc = rt_msg_parse(&v, w, wlen, dir, &relim, &err);
        if (rc != 0) {
            fprintf(stderr, "view re-parse failed: %s: %s\n%s\n",
                    rt_msg_code_name(err.code), err.message, w);
            abort();
        }
        CHECK(msg_diff(m, v, 0) == NULL);
        rt_msg_free(v);
        rt_free(w);
    }

    rt_free(y);
    rt_msg_free(m);
    rt_msg_free(m2);
    rt_msg_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rt_msg_limits def, small;
    const char *in = (const char *)data;

    rt_msg_limits_init(&def);
    small.max_bytes = 256;
    small.max_depth = 4;
    small.max_id_bytes = 8;
    one(in, size, RT_MSG_FROM_CLIENT, &def);
    one(in, size, RT_MSG_FROM_SERVER, &def);
    one(in, size, RT_MSG_FROM_CLIENT, &small);
    one(in, size, RT_MSG_FROM_SERVER, &small);
    return 0;
}
