/*
 * srv_core.c: the socket-free rules of srv_core.h.  Depends on cJSON and
 * lib/core's buffer and allocator only.
 */
#include <string.h>

#include <cjson/cJSON.h>

#include "srv_core.h"

/* ------------------------------------------------------- history */

#define RING_MIN 8

void rt__ring_init(struct rt_ring *r, uint32_t max)
{
    memset(r, 0, sizeof(*r));
    r->max = max;
}

void rt__ring_cleanup(struct rt_ring *r)
{
    rt__free(r->v);
    rt__ring_init(r, r->max);
}

static int ring_grow(struct rt_ring *r)
{
    uint32_t cap = r->cap ? r->cap * 2 : RING_MIN, i;
    void **v;

    if (cap > r->max || cap < r->cap)
        cap = r->max;
    v = rt__reallocarray(NULL, cap, sizeof(*v));
    if (v == NULL)
        return RT_ENOMEM;
    for (i = 0; i < r->n; i++)
        v[i] = r->v[(r->head + i) % r->cap];
    rt__free(r->v);
    r->v = v;
    r->head = 0;
    r->cap = cap;
    return 0;
}

int rt__ring_push(struct rt_ring *r, uint64_t seq, void *item, void **evicted)
{
    *evicted = NULL;
    if (r->max == 0) {
        *evicted = item;
        return 0;
    }
    if (r->n > 0 && seq != r->first + r->n)
        return RT_EINVAL;
    if (r->n == r->cap && r->cap < r->max && ring_grow(r) != 0)
        return RT_ENOMEM;
    if (r->n == 0)
        r->first = seq;
    if (r->n == r->cap) {
        *evicted = r->v[r->head];
        r->head = (r->head + 1) % r->cap;
        r->n--;
        r->first++;
    }
    r->v[(r->head + r->n) % r->cap] = item;
    r->n++;
    return 0;
}

void *rt__ring_at(const struct rt_ring *r, uint64_t seq)
{
    if (r->n == 0 || seq < r->first || seq - r->first >= r->n)
        return NULL;
    return r->v[(r->head + (uint32_t)(seq - r->first)) % r->cap];
}

uint64_t rt__ring_oldest(const struct rt_ring *r, uint64_t top)
{
    return r->n > 0 ? r->first : top + 1;
}

/* ------------------------------------------------- replay cursor */

void *rt__replay_next(struct rt_replay *rp, const struct rt_ring *h,
                      uint64_t top)
{
    uint64_t oldest = rt__ring_oldest(h, top);
    void *m;

    if (rp->next > top)
        return NULL;
    if (rp->next < oldest) {
        /*
         * Overtaken: the room stores faster than this client reads.  End
         * the replay now, so it hears recovered false at once, instead of
         * chasing the history with holes in it.
         */
        rp->recovered = 0;
        rp->next = top + 1;
        return NULL;
    }
    m = rt__ring_at(h, rp->next);
    if (m != NULL)
        rp->next++;
    return m;
}

/* --------------------------------------------------- author rule */

static int is_author(const char *name)
{
    static const char a[] = "author";
    size_t i;

    if (name == NULL)
        return 0;
    for (i = 0; i < sizeof(a) - 1; i++)
        if ((name[i] | 0x20) != a[i])
            return 0;
    return name[i] == '\0';
}

/*
 * Whether |data| may name a member author at all: a case-insensitive
 * "author" or any escape.  Most messages have neither and skip the parse.
 */
static int may_name_author(const char *data, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        if (data[i] == '\\')
            return 1;
        if (i + 6 <= len && (data[i] | 0x20) == 'a' &&
            (data[i + 1] | 0x20) == 'u' && (data[i + 2] | 0x20) == 't' &&
            (data[i + 3] | 0x20) == 'h' && (data[i + 4] | 0x20) == 'o' &&
            (data[i + 5] | 0x20) == 'r')
            return 1;
    }
    return 0;
}

int rt__author_set(const char *data, size_t len, const char *user, rt_buf *out)
{
    cJSON *d, *it, *next, *a;
    size_t i = 0;
    char *txt;
    int rc;

    while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' ||
                       data[i] == '\n'))
        i++;
    if (i == len || data[i] != '{')
        return RT_EPROTO;
    if (!may_name_author(data, len)) {
        /* {"author":U, then the client's members (or "}" if none). */
        size_t j = i + 1;

        while (j < len && (data[j] == ' ' || data[j] == '\t' ||
                           data[j] == '\r' || data[j] == '\n'))
            j++;
        rc = rt__buf_append(out, "{\"author\":", 10);
        rc |= rt__buf_json_str(out, user, strlen(user));
        if (j < len && data[j] != '}')
            rc |= rt__buf_putc(out, ',');
        rc |= rt__buf_append(out, data + j, len - j);
        return rc ? RT_ENOMEM : 0;
    }
    /* cJSON refuses some texts the codec lets through (a lone surrogate). */
    d = cJSON_ParseWithLength(data, len);
    if (d == NULL)
        return RT_EPROTO;
    if (!cJSON_IsObject(d)) {
        cJSON_Delete(d);
        return RT_EPROTO;
    }
    /* cJSON decoded the names: escapes are letters here. */
    for (it = d->child; it != NULL; it = next) {
        next = it->next;
        if (is_author(it->string))
            cJSON_Delete(cJSON_DetachItemViaPointer(d, it));
    }
    a = cJSON_CreateString(user);
    if (a == NULL || !cJSON_AddItemToObject(d, "author", a)) {
        cJSON_Delete(a);
        cJSON_Delete(d);
        return RT_ENOMEM;
    }
    txt = cJSON_PrintUnformatted(d);
    cJSON_Delete(d);
    if (txt == NULL)
        return RT_ENOMEM;
    rc = rt__buf_append(out, txt, strlen(txt));
    cJSON_free(txt);
    return rc;
}

/* -------------------------------------------------- stored frame */

static const char *find_mem(const char *h, size_t hlen, const char *n,
                            size_t nlen)
{
    size_t i;

    for (i = 0; i + nlen <= hlen; i++)
        if (h[i] == n[0] && memcmp(h + i, n, nlen) == 0)
            return h + i;
    return NULL;
}

int rt__stored_frame(const char *body, size_t len, uint64_t seq, rt_buf *out)
{
    const char *at;
    size_t head;
    int rc = 0;

    if (len < 2 || body[0] != '{' || body[len - 1] != '}')
        return RT_EPROTO;
    at = find_mem(body, len, ",\"data\":", 8);
    head = at != NULL ? (size_t)(at - body) : len - 1;
    rc |= rt__buf_append(out, body, head);
    rc |= rt__buf_printf(out, "%s\"seq\":%llu", head > 1 ? "," : "",
                         (unsigned long long)seq);
    rc |= rt__buf_append(out, body + head, len - head);
    return rc ? RT_ENOMEM : 0;
}
