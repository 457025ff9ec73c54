/*
 * engine_mem.c: the in-memory storage engine, the default (engine.h).
 *
 * One instance is the whole store, so the core's cache of each room's last
 * --history messages is the history itself: this engine keeps only each
 * attached room's epoch and seq counter, and has no read operation.  It
 * completes every operation before returning: an append delivers the
 * message to the core (broadcast, polls) and then calls back with its seq,
 * all inside the call.  (A delivery that runs out of memory still spends
 * the seq, and tells the core it is lost, so nothing waits for it.)  A detached room is forgotten, so the next attach
 * starts a fresh history under a new epoch, as a restarted server would.
 */
#include <string.h>

#include "core_int.h"
#include "engine.h"

#define MEM_EPOCH_LEN 8

struct mroom {
    struct mroom *next;
    uint64_t seq;
    char epoch[MEM_EPOCH_LEN + 1];
    char name[]; /* NUL-terminated */
};

struct mem_engine {
    struct rt__engine base;
    struct mroom **t; /* hash table */
    size_t nbuckets, n;
};

/* rt__srv_random_name lives in the server (server.c). */
void rt__srv_random_name(char *out, size_t n);

static uint64_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */

    while (*s) {
        h ^= (unsigned char)*s++;
        h *= 1099511628211ULL;
    }
    return h;
}

static struct mroom **slot(struct mem_engine *me, const char *name)
{
    struct mroom **pp;

    if (me->nbuckets == 0)
        return NULL;
    for (pp = &me->t[hash_name(name) & (me->nbuckets - 1)]; *pp != NULL;
         pp = &(*pp)->next)
        if (strcmp((*pp)->name, name) == 0)
            return pp;
    return NULL;
}

static int grow(struct mem_engine *me)
{
    size_t n = me->nbuckets ? me->nbuckets * 2 : 64, i;
    struct mroom **t = rt__calloc(n, sizeof(*t)), *r, *next;

    if (t == NULL)
        return RT_ENOMEM;
    for (i = 0; i < me->nbuckets; i++) {
        for (r = me->t[i]; r != NULL; r = next) {
            next = r->next;
            r->next = t[hash_name(r->name) & (n - 1)];
            t[hash_name(r->name) & (n - 1)] = r;
        }
    }
    rt__free(me->t);
    me->t = t;
    me->nbuckets = n;
    return 0;
}

static struct mroom *room_get(struct mem_engine *me, const char *name)
{
    struct mroom **pp = slot(me, name), *r;
    size_t len = strlen(name);

    if (pp != NULL)
        return *pp;
    if (me->n >= me->nbuckets && grow(me) != 0)
        return NULL;
    r = rt__calloc(1, sizeof(*r) + len + 1);
    if (r == NULL)
        return NULL;
    memcpy(r->name, name, len);
    rt__srv_random_name(r->epoch, sizeof(r->epoch));
    pp = &me->t[hash_name(name) & (me->nbuckets - 1)];
    r->next = *pp;
    *pp = r;
    me->n++;
    return r;
}

static int mem_attach(struct rt__engine *e, const char *room,
                      rt__eng_attach_cb cb, void *ud)
{
    struct mroom *r = room_get((struct mem_engine *)e, room);

    if (r == NULL)
        return RT_ENOMEM;
    cb(ud, RT__ENG_OK, r->epoch, r->seq);
    return 0;
}

static void mem_detach(struct rt__engine *e, const char *room)
{
    struct mem_engine *me = (struct mem_engine *)e;
    struct mroom **pp = slot(me, room), *r;

    if (pp == NULL)
        return;
    r = *pp;
    *pp = r->next;
    me->n--;
    rt__free(r);
}

static int mem_append(struct rt__engine *e, const char *room, const char *body,
                      size_t len, rt__eng_append_cb cb, void *ud)
{
    struct mroom *r = room_get((struct mem_engine *)e, room);
    int rc;

    if (r == NULL)
        return RT_ENOMEM;
    rc = rt__srv_deliver(e->srv, room, ++r->seq, body, len);
    if (rc != 0) {
        rt__srv_room_lost(e->srv, room, r->seq);
        cb(ud, RT__ENG_NOMEM, 0);
        return 0;
    }
    cb(ud, RT__ENG_OK, r->seq);
    return 0;
}

static void mem_free(struct rt__engine *e)
{
    struct mem_engine *me = (struct mem_engine *)e;
    struct mroom *r, *next;
    size_t i;

    for (i = 0; i < me->nbuckets; i++)
        for (r = me->t[i]; r != NULL; r = next) {
            next = r->next;
            rt__free(r);
        }
    rt__free(me->t);
    rt__free(me);
}

static const struct rt__engine_ops mem_ops = {
    .name = "memory",
    .attach = mem_attach,
    .detach = mem_detach,
    .append = mem_append,
    .free = mem_free,
};

int rt__engine_mem_new(struct rt__engine **out)
{
    struct mem_engine *me = rt__calloc(1, sizeof(*me));

    if (me == NULL)
        return RT_ENOMEM;
    me->base.ops = &mem_ops;
    *out = &me->base;
    return 0;
}

void rt__engine_free(struct rt__engine *e)
{
    if (e != NULL)
        e->ops->free(e);
}
