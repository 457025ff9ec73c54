/*
 * sse_seq.c: order the events of an SSE stream from our server by seq
 * (sse_seq.h), for rt_sse_client's order_by_seq mode.
 *
 * Spec: rtctl-protocol(7), "Server-Sent Events" (stored messages carry
 * id: EPOCH-SEQ, the rest no id) and "History, resume and ordering" (a
 * resumed stream replays what it holds, then a system event "resumed"
 * says whether that was everything; an epoch change means the history
 * started afresh).
 *
 * A sequenced event is one whose own id: field (rt_sse_event.has_id) reads
 * EPOCH-SEQ.  It goes through an rt_order by SEQ: duplicates are dropped,
 * early ones held until the gap before them fills or the caller gives up
 * (a gap timeout: the caller reconnects from the position, and the replay
 * fills the gap).  Any other event is delivered at once.
 *
 * Losses, reported once per connection through cbs.resumed(0):
 * - an id from another epoch: the buffer starts afresh at its seq;
 * - "resumed" with recovered:false: the held events are delivered across
 *   their gaps, and the buffer moves past the event's "to" (the server's
 *   last seq, all of which it has just sent if it still held it); when
 *   "to" lies behind the buffer the server went back, so the next
 *   sequenced event starts the buffer afresh, whatever its epoch;
 * - a seq too far ahead for the buffer's window: a gap that wide is not
 *   reordering but loss, so the buffer skips to it.
 *
 * Invariants:
 * - |fresh| set: the epoch and next seq are unknown, and the next
 *   sequenced event sets both.  Otherwise |epoch| is the epoch of every
 *   event the buffer holds or has delivered.
 * - |pos| holds the id of the last sequenced event delivered (an EPOCH-SEQ
 *   fits in it, so delivering never allocates); before the first one the
 *   position is |start_id|.
 */
#include <string.h>

#include <cjson/cJSON.h>

#include "core_int.h"
#include "rt/order.h"
#include "sse_seq.h"

#define EPOCH_MAX 32
#define SEQ_DIGITS_MAX 20

struct rt__sse_seq {
    rt_order *order;
    rt__sse_seq_cbs cbs;
    void *ud;
    char epoch[EPOCH_MAX + 1];
    int fresh;
    int lost_reported; /* in this connection */
    uint64_t dups;
    char *start_id;
    size_t start_len;
    char pos[EPOCH_MAX + 1 + SEQ_DIGITS_MAX + 1];
    size_t pos_len;
};

/* A held event: type, data and id, each followed by a NUL. */
struct held {
    size_t type_len;
    size_t data_len;
    size_t id_len;
    char b[];
};

/*
 * Read "EPOCH-SEQ": EPOCH 1 to 32 of [A-Za-z0-9], SEQ decimal below
 * UINT64_MAX.  |epoch| gets the epoch, NUL-terminated.  Returns 1 or 0.
 */
static int parse_id(const char *id, size_t len, char *epoch, uint64_t *seq)
{
    size_t dash, i;
    uint64_t v = 0;

    for (dash = len; dash > 0 && id[dash - 1] != '-'; dash--)
        ;
    if (dash < 2 || dash - 1 > EPOCH_MAX || dash == len ||
        len - dash > SEQ_DIGITS_MAX)
        return 0;
    for (i = 0; i < dash - 1; i++) {
        char ch = id[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9')))
            return 0;
    }
    for (i = dash; i < len; i++) {
        unsigned d = (unsigned char)id[i] - '0';

        if (d > 9 || v > (UINT64_MAX - 1 - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    memcpy(epoch, id, dash - 1);
    epoch[dash - 1] = '\0';
    *seq = v;
    return 1;
}

static void report_lost(rt__sse_seq *s)
{
    if (s->lost_reported)
        return;
    s->lost_reported = 1;
    if (s->cbs.resumed != NULL)
        s->cbs.resumed(0, s->ud);
}

static void deliver(uint64_t seq, void *msg, void *ud)
{
    rt__sse_seq *s = ud;
    struct held *h = msg;
    rt_sse_event ev;

    (void)seq;
    /* parse_id() bounded the id: it fits. */
    memcpy(s->pos, h->b + h->type_len + 1 + h->data_len + 1, h->id_len + 1);
    s->pos_len = h->id_len;
    ev.type = h->b;
    ev.type_len = h->type_len;
    ev.data = h->b + h->type_len + 1;
    ev.data_len = h->data_len;
    ev.id = s->pos;
    ev.id_len = s->pos_len;
    ev.has_id = 1;
    s->cbs.deliver(&ev, s->ud);
    rt__free(h);
}

static void free_held(void *msg, void *ud)
{
    (void)ud;
    rt__free(msg);
}

/* Deliver everything held, giving up on the gaps between. */
static void flush_held(rt__sse_seq *s)
{
    uint64_t to = 0;

    while (rt_order_held(s->order) > 0 &&
           rt_order_tick(s->order, rt_order_deadline(s->order), NULL, &to) ==
               RT_EGAP &&
           rt_order_skip_to(s->order, to + 1) == 0)
        ;
}

/*
 * Is |ev| our server's "resumed" system event?  *recovered gets its flag,
 * *has_to and *to its "to" member.
 */
static int is_resumed(const rt_sse_event *ev, int *recovered, int *has_to,
                      uint64_t *to)
{
    cJSON *root, *d, *e, *r, *t;
    int yes = 0;

    if (ev->type_len != 6 || memcmp(ev->type, "system", 6) != 0)
        return 0;
    root = cJSON_ParseWithLength(ev->data, ev->data_len);
    if (root == NULL)
        return 0; /* not JSON (or no memory): not ours to judge */
    d = cJSON_GetObjectItemCaseSensitive(root, "data");
    e = cJSON_GetObjectItemCaseSensitive(d, "event");
    r = cJSON_GetObjectItemCaseSensitive(d, "recovered");
    t = cJSON_GetObjectItemCaseSensitive(d, "to");
    if (cJSON_IsString(e) && strcmp(e->valuestring, "resumed") == 0 &&
        cJSON_IsBool(r)) {
        yes = 1;
        *recovered = cJSON_IsTrue(r);
        *has_to = cJSON_IsNumber(t) && t->valuedouble >= 0 &&
                  t->valuedouble < 18446744073709551615.0;
        *to = *has_to ? (uint64_t)t->valuedouble : 0;
    }
    cJSON_Delete(root);
    return yes;
}

static void lost_history(rt__sse_seq *s, int has_to, uint64_t to)
{
    uint64_t next;

    report_lost(s);
    if (s->fresh)
        return;
    flush_held(s);
    if (!has_to)
        return;
    next = rt_order_next(s->order);
    if (next <= to) {
        rt_order_skip_to(s->order, to + 1);
    } else if (next > to + 1) {
        /* The server is behind what we delivered: its history restarted. */
        s->fresh = 1;
        s->epoch[0] = '\0';
    }
}

static void pass_through(rt__sse_seq *s, const rt_sse_event *in)
{
    rt_sse_event ev = *in;

    ev.id = rt__sse_seq_last_id(s, &ev.id_len);
    ev.has_id = 0;
    s->cbs.deliver(&ev, s->ud);
}

int rt__sse_seq_push(rt__sse_seq *s, const rt_sse_event *ev, uint64_t now_ms)
{
    char epoch[EPOCH_MAX + 1];
    uint64_t seq = 0, to = 0;
    struct held *h;
    int rc, recovered = 1, has_to = 0;

    if (s == NULL || ev == NULL)
        return RT_EINVAL;
    if (!ev->has_id || !parse_id(ev->id, ev->id_len, epoch, &seq)) {
        if (is_resumed(ev, &recovered, &has_to, &to) && !recovered)
            lost_history(s, has_to, to);
        pass_through(s, ev);
        return 0;
    }
    /* Copy first, so that running out of memory changes nothing. */
    h = rt__malloc(sizeof(*h) + ev->type_len + ev->data_len + ev->id_len + 3);
    if (h == NULL)
        return RT_ENOMEM;
    h->type_len = ev->type_len;
    h->data_len = ev->data_len;
    h->id_len = ev->id_len;
    memcpy(h->b, ev->type, ev->type_len);
    h->b[ev->type_len] = '\0';
    memcpy(h->b + ev->type_len + 1, ev->data, ev->data_len);
    h->b[ev->type_len + 1 + ev->data_len] = '\0';
    memcpy(h->b + ev->type_len + 1 + ev->data_len + 1, ev->id, ev->id_len);
    h->b[ev->type_len + 1 + ev->data_len + 1 + ev->id_len] = '\0';

    if (s->fresh || strcmp(epoch, s->epoch) != 0) {
        if (!s->fresh)
            report_lost(s);
        rt_order_reset(s->order, seq);
        memcpy(s->epoch, epoch, strlen(epoch) + 1);
        s->fresh = 0;
    }
    rc = rt_order_push(s->order, seq, h, now_ms);
    if (rc == RT_EFULL || rc == RT_ERANGE) {
        report_lost(s);
        flush_held(s);
        rt_order_skip_to(s->order, seq);
        rc = rt_order_push(s->order, seq, h, now_ms);
    }
    if (rc != 0) {
        if (rc == RT_EDUP)
            s->dups++;
        rt__free(h);
    }
    return 0;
}

int rt__sse_seq_new(rt__sse_seq **out, const char *last_id, size_t len,
                    uint64_t gap_timeout_ms, const rt__sse_seq_cbs *cbs,
                    void *ud)
{
    rt_order_opts oo;
    rt__sse_seq *s;
    uint64_t seq = 0;
    int rc;

    if (out == NULL)
        return RT_EINVAL;
    *out = NULL;
    if (cbs == NULL || cbs->deliver == NULL || (last_id == NULL && len > 0))
        return RT_EINVAL;
    s = rt__calloc(1, sizeof(*s));
    if (s == NULL)
        return RT_ENOMEM;
    s->cbs = *cbs;
    s->ud = ud;
    s->fresh = len == 0 || !parse_id(last_id, len, s->epoch, &seq);
    if (s->fresh)
        s->epoch[0] = '\0';
    if (len > 0 && (s->start_id = rt__strndup(last_id, len)) == NULL) {
        rt__free(s);
        return RT_ENOMEM;
    }
    s->start_len = len;
    rt_order_opts_init(&oo);
    oo.gap_timeout_ms = gap_timeout_ms;
    oo.free_msg = free_held;
    rc = rt_order_new(&s->order, &oo, s->fresh ? 0 : seq + 1, deliver, s);
    if (rc != 0) {
        rt__free(s->start_id);
        rt__free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void rt__sse_seq_free(rt__sse_seq *s)
{
    if (s == NULL)
        return;
    rt_order_free(s->order);
    rt__free(s->start_id);
    rt__free(s);
}

void rt__sse_seq_connected(rt__sse_seq *s)
{
    if (s != NULL)
        s->lost_reported = 0;
}

int rt__sse_seq_tick(rt__sse_seq *s, uint64_t now_ms, uint64_t *from,
                     uint64_t *to)
{
    if (s == NULL)
        return RT_EINVAL;
    return rt_order_tick(s->order, now_ms, from, to);
}

uint64_t rt__sse_seq_deadline(const rt__sse_seq *s)
{
    return s == NULL ? UINT64_MAX : rt_order_deadline(s->order);
}

size_t rt__sse_seq_held(const rt__sse_seq *s)
{
    return s == NULL ? 0 : rt_order_held(s->order);
}

uint64_t rt__sse_seq_dups(const rt__sse_seq *s)
{
    return s == NULL ? 0 : s->dups;
}

const char *rt__sse_seq_last_id(const rt__sse_seq *s, size_t *len)
{
    const char *id = "";
    size_t n = 0;

    if (s != NULL && s->pos_len > 0) {
        id = s->pos;
        n = s->pos_len;
    } else if (s != NULL && s->start_id != NULL) {
        id = s->start_id;
        n = s->start_len;
    }
    if (len != NULL)
        *len = n;
    return id;
}
