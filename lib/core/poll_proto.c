/*
 * poll_proto.c: the long-poll protocol core (poll_proto.h).
 *
 * Spec: PROTOCOL.md sections 1 (the answer of GET /poll/{room}) and 4
 * (resume, epochs, recovery all or nothing, ordering).
 *
 * An answer is judged whole: its shape first (cJSON), then each element of
 * its messages array, taken as the server's own bytes (rt__json_scan finds
 * the array; the elements are split at depth 0), parsed by rt_msg_parse()
 * and pushed into the ordered buffer, which releases them in seq order and
 * drops the ones already delivered.
 *
 * Invariants:
 * - |has_pos| says |since| is known; the buffer's next expected seq is
 *   then at least since + 1, so nothing at or before it is delivered again.
 * - An answer that fails is the end of the client: what it delivered
 *   before the failure stays delivered, the position is not advanced.
 * - After rt__poll_proto_stop() no callback fires.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core_int.h"
#include "poll_proto.h"
#include "rt/msg.h"
#include "rt/order.h"

struct rt__poll_proto {
    rt__poll_proto_cbs cbs;
    void *ud;
    rt_order *order;
    rt_buf body;
    size_t max_body_bytes;
    int too_big;
    int stopped;

    int has_pos;
    uint64_t since;
    char epoch[RT__POLL_PROTO_EPOCH_MAX + 1];
};

/* A message held by the ordered buffer: its bytes. */
struct held {
    size_t len;
    char json[]; /* NUL-terminated */
};

static void deliver(uint64_t seq, void *msg, void *ud)
{
    rt__poll_proto *p = ud;
    struct held *h = msg;

    if (!p->stopped)
        p->cbs.message(seq, h->json, h->len, p->ud);
    rt__free(h);
}

static void free_held(void *msg, void *ud)
{
    (void)ud;
    rt__free(msg);
}

static int epoch_valid(const char *s, size_t len)
{
    size_t i;

    if (len < 1 || len > RT__POLL_PROTO_EPOCH_MAX)
        return 0;
    for (i = 0; i < len; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
              (s[i] >= '0' && s[i] <= '9')))
            return 0;
    return 1;
}

int rt__poll_proto_new(rt__poll_proto **out, int has_since, uint64_t since,
                       const char *epoch, size_t max_body_bytes,
                       const rt__poll_proto_cbs *cbs, void *ud)
{
    rt__poll_proto *p;
    rt_order_opts oo;
    int rc;

    if (out == NULL)
        return RT_EINVAL;
    *out = NULL;
    if (cbs == NULL || cbs->message == NULL || max_body_bytes == 0 ||
        (has_since && since == UINT64_MAX) ||
        (epoch != NULL && epoch[0] != '\0' &&
         !epoch_valid(epoch, strlen(epoch))))
        return RT_EINVAL;
    p = rt__calloc(1, sizeof(*p));
    if (p == NULL)
        return RT_ENOMEM;
    rt_order_opts_init(&oo);
    oo.free_msg = free_held;
    rc = rt_order_new(&p->order, &oo, has_since ? since + 1 : 1, deliver, p);
    if (rc != 0) {
        rt__free(p);
        return rc;
    }
    p->cbs = *cbs;
    p->ud = ud;
    rt__buf_init(&p->body);
    p->max_body_bytes = max_body_bytes;
    p->has_pos = has_since;
    p->since = has_since ? since : 0;
    if (epoch != NULL)
        memcpy(p->epoch, epoch, strlen(epoch) + 1);
    *out = p;
    return 0;
}

void rt__poll_proto_free(rt__poll_proto *p)
{
    if (p == NULL)
        return;
    p->stopped = 1;
    rt_order_free(p->order);
    rt__buf_cleanup(&p->body);
    rt__free(p);
}

void rt__poll_proto_begin(rt__poll_proto *p)
{
    rt__buf_clear(&p->body);
    p->too_big = 0;
}

int rt__poll_proto_feed(rt__poll_proto *p, const void *data, size_t len)
{
    if (p->too_big || len > p->max_body_bytes - p->body.len) {
        p->too_big = 1;
        return RT_ETOOBIG;
    }
    return rt__buf_append(&p->body, data, len) != 0 ? RT_ENOMEM : 0;
}

void rt__poll_proto_stop(rt__poll_proto *p)
{
    p->stopped = 1;
}

int rt__poll_proto_position(const rt__poll_proto *p, uint64_t *since,
                            const char **epoch)
{
    if (since != NULL)
        *since = p->since;
    if (epoch != NULL)
        *epoch = p->epoch;
    return p->has_pos;
}

/* Is |j| a whole number in [0, 2^53]?  *out gets it. */
static int get_u64(const cJSON *j, uint64_t *out)
{
    double d;

    if (!cJSON_IsNumber(j))
        return 0;
    d = j->valuedouble;
    if (!(d >= 0 && d <= 9007199254740992.0) || d != (double)(uint64_t)d)
        return 0;
    *out = (uint64_t)d;
    return 1;
}

/*
 * Find the next element of the JSON array |a|, |alen| (already known to
 * be well-formed) from offset |*pos|: [*es, *ee) its bytes.  Returns 0
 * past the last one.
 */
static int next_element(const char *a, size_t alen, size_t *pos, size_t *es,
                        size_t *ee)
{
    size_t i = *pos, end = alen - 1; /* a[end] is the closing ']' */
    int depth = 0, in_str = 0;

    while (i < end && (a[i] == ' ' || a[i] == '\t' || a[i] == '\n' ||
                       a[i] == '\r' || a[i] == ','))
        i++;
    if (i >= end)
        return 0;
    *es = i;
    for (; i < end; i++) {
        char ch = a[i];

        if (in_str) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                in_str = 0;
        } else if (ch == '"') {
            in_str = 1;
        } else if (ch == '{' || ch == '[') {
            depth++;
        } else if (ch == '}' || ch == ']') {
            depth--;
        } else if (ch == ',' && depth == 0) {
            break;
        }
    }
    *ee = i;
    while (*ee > *es && (a[*ee - 1] == ' ' || a[*ee - 1] == '\t' ||
                         a[*ee - 1] == '\n' || a[*ee - 1] == '\r'))
        (*ee)--;
    *pos = i;
    return 1;
}

static int fail(char *errbuf, size_t errlen, int rc, const char *fmt, ...)
    RT__PRINTF(4, 5);

static int fail(char *errbuf, size_t errlen, int rc, const char *fmt, ...)
{
    va_list ap;

    if (errbuf != NULL && errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(errbuf, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* Hand the messages of the array |arr|, |alen| to the ordered buffer. */
static int push_all(rt__poll_proto *p, const char *arr, size_t alen,
                    char *errbuf, size_t errlen)
{
    rt_msg_limits lim;
    rt_msg_error me;
    rt_msg *m;
    struct held *h;
    size_t pos = 1, es = 0, ee = 0, len;
    int rc, n = 0;

    rt_msg_limits_init(&lim);
    lim.max_bytes = p->max_body_bytes;
    lim.max_depth = RT_MSG_MAX_DEPTH;
    while (!p->stopped && next_element(arr, alen, &pos, &es, &ee)) {
        const char *json = arr + es;

        len = ee - es;
        m = NULL;
        rc = rt_msg_parse(&m, json, len, RT_MSG_FROM_SERVER, &lim, &me);
        if (rc == RT_ENOMEM)
            return fail(errbuf, errlen, rc, "out of memory");
        if (rc != 0 || !m->has_seq) {
            rt_msg_free(m);
            return fail(errbuf, errlen, RT_EPROTO,
                        "message %d of the poll answer: %s", n,
                        rc == 0 ? "no seq" : me.message);
        }
        h = rt__malloc(sizeof(*h) + len + 1);
        if (h == NULL) {
            rt_msg_free(m);
            return fail(errbuf, errlen, RT_ENOMEM, "out of memory");
        }
        h->len = len;
        memcpy(h->json, json, len);
        h->json[len] = '\0';
        rc = rt_order_push(p->order, m->seq, h, 0);
        if (rc != 0)
            rt__free(h);
        if (rc != 0 && rc != RT_EDUP) {
            rc = fail(errbuf, errlen, RT_EPROTO,
                      "message %d of the poll answer: seq %llu does not "
                      "follow seq %llu",
                      n, (unsigned long long)m->seq,
                      (unsigned long long)(rt_order_next(p->order) - 1));
            rt_msg_free(m);
            return rc;
        }
        rt_msg_free(m);
        n++;
    }
    return 0;
}

int rt__poll_proto_end(rt__poll_proto *p, char *errbuf, size_t errlen)
{
    cJSON *root, *ep, *msgs, *nx, *rec, *m;
    rt__json_scan_opts so;
    rt__json_scan_res sr;
    uint64_t next = 0, first;
    int recovered, changed, rc;

    if (p->too_big)
        return fail(errbuf, errlen, RT_ETOOBIG,
                    "the poll answer is longer than %zu bytes",
                    p->max_body_bytes);
    root = cJSON_ParseWithLength(p->body.data != NULL ? p->body.data : "",
                                 p->body.len);
    if (root == NULL)
        return fail(errbuf, errlen, RT_EPROTO, "the poll answer is not JSON");
    ep = cJSON_GetObjectItemCaseSensitive(root, "epoch");
    msgs = cJSON_GetObjectItemCaseSensitive(root, "messages");
    nx = cJSON_GetObjectItemCaseSensitive(root, "next");
    rec = cJSON_GetObjectItemCaseSensitive(root, "recovered");
    if (!cJSON_IsObject(root) || !cJSON_IsString(ep) ||
        !epoch_valid(ep->valuestring, strlen(ep->valuestring)) ||
        !cJSON_IsArray(msgs) || !get_u64(nx, &next) || !cJSON_IsBool(rec)) {
        cJSON_Delete(root);
        return fail(errbuf, errlen, RT_EPROTO,
                    "the poll answer is not {\"epoch\":E,\"messages\":"
                    "[...],\"next\":N,\"recovered\":B}");
    }
    recovered = cJSON_IsTrue(rec);

    /* The raw bytes of the messages array, to hand each one on as sent. */
    memset(&sr, 0, sizeof(sr));
    memset(&so, 0, sizeof(so));
    so.find = "messages";
    if (rt__json_scan(p->body.data, p->body.len, &so, &sr, NULL) != 0 ||
        !sr.found || sr.found_end - sr.found_start < 2) {
        cJSON_Delete(root);
        return fail(errbuf, errlen, RT_EPROTO,
                    "the poll answer has no messages array");
    }

    /* The seq of the first message, to start afresh from. */
    first = next + 1;
    cJSON_ArrayForEach(m, msgs)
    {
        if (get_u64(cJSON_GetObjectItemCaseSensitive(m, "seq"), &first))
            break;
    }
    changed = p->epoch[0] != '\0' && strcmp(p->epoch, ep->valuestring) != 0;
    if (!p->has_pos || !recovered || changed) {
        uint64_t start = first;

        /* Never go back over what was delivered in the same epoch. */
        if (p->has_pos && recovered && !changed && start <= p->since)
            start = p->since + 1;
        rt_order_reset(p->order, start == 0 ? 1 : start);
        if (p->has_pos && (!recovered || changed) && p->cbs.lost != NULL &&
            !p->stopped)
            p->cbs.lost(p->ud);
    }
    memcpy(p->epoch, ep->valuestring, strlen(ep->valuestring) + 1);
    cJSON_Delete(root);

    rc = push_all(p, p->body.data + sr.found_start,
                  sr.found_end - sr.found_start, errbuf, errlen);
    rt__buf_clear(&p->body);
    if (rc != 0)
        return rc;
    if (rt_order_held(p->order) > 0)
        return fail(errbuf, errlen, RT_EPROTO,
                    "the poll answer has a gap before seq %llu",
                    (unsigned long long)rt_order_next(p->order));
    /* Ask next for what follows both the answer and what was delivered. */
    p->has_pos = 1;
    p->since = next;
    if (rt_order_next(p->order) > 0 && rt_order_next(p->order) - 1 > next)
        p->since = rt_order_next(p->order) - 1;
    return 0;
}
