/*
 * fuzz_poll_proto.c: libFuzzer target for the long-poll protocol core
 * (lib/core/poll_proto.c).
 *
 * The input is two answers, split at the first NUL byte (the second may be
 * empty), fed to one core in pieces whose sizes come from the input's own
 * first byte.  Checks, for arbitrary bytes: no crash or leak; every
 * message delivered has a seq greater than the one before it (once and in
 * order, across both answers, unless a loss was reported between them); after a good answer the position is at least the last seq
 * delivered, and an error leaves it where it was.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "poll_proto.h"
#include "rt/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)     \
    do {             \
        if (!(c))    \
            abort(); \
    } while (0)

struct seen {
    uint64_t last;
    int any;
};

static void on_message(uint64_t seq, const char *json, size_t len, void *ud)
{
    struct seen *s = ud;

    CHECK(!s->any || seq > s->last);
    CHECK(json[len] == '\0' && len > 0);
    s->last = seq;
    s->any = 1;
}

/* A loss (another epoch, recovered:false) starts the seqs afresh. */
static void on_lost(void *ud)
{
    struct seen *s = ud;

    s->any = 0;
}

static int answer(rt__poll_proto *p, const uint8_t *a, size_t n, size_t step,
                  struct seen *s)
{
    uint64_t before = 0, after = 0;
    int had = rt__poll_proto_position(p, &before, NULL), rc = 0, has;
    char err[256];
    size_t off;

    rt__poll_proto_begin(p);
    for (off = 0; off < n && rc == 0; off += step)
        rc = rt__poll_proto_feed(p, a + off, n - off < step ? n - off : step);
    if (rc == 0)
        rc = rt__poll_proto_end(p, err, sizeof(err));
    has = rt__poll_proto_position(p, &after, NULL);
    if (rc != 0) {
        CHECK(has == had);
        CHECK(!had || after == before);
    } else {
        CHECK(has);
        CHECK(!s->any || after >= s->last);
    }
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rt__poll_proto_cbs cbs = {on_message, on_lost};
    rt__poll_proto *p = NULL;
    struct seen s = {0, 0};
    const uint8_t *nul;
    size_t step, n1;

    if (size < 1)
        return 0;
    step = (size_t)data[0] % 64 + 1;
    data++;
    size--;
    nul = memchr(data, '\0', size);
    n1 = nul != NULL ? (size_t)(nul - data) : size;
    if (rt__poll_proto_new(&p, 0, 0, NULL, 1 << 16, &cbs, &s) != 0)
        return 0;
    if (answer(p, data, n1, step, &s) == 0 && nul != NULL)
        answer(p, nul + 1, size - n1 - 1, step, &s);
    rt__poll_proto_free(p);
    return 0;
}
