/*
 * limits.c: connections per peer address (--max-address-connections).
 *
 * libwebsockets 4.1 as Debian builds it has no per-IP limits
 * (LWS_WITH_PEER_LIMITS is off), so they are counted here: an accepted
 * socket is checked against its address's count as the gate accepts it
 * (gate.c), counted from then on under the gate's key while its request
 * head arrives, then under its wsi from the moment lws makes one until
 * that wsi is destroyed, whatever became of it (HTTP, WebSocket, SSE, an
 * upgrade that failed).  Two small hash tables: addresses with their
 * counts, and keys (gates, wsis) with the address they count against.
 * Entries go when their count does, so the tables are as big as the
 * connections open now.
 */
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "server_int.h"

struct peer_addr {
    struct peer_addr *next;
    unsigned char key[16]; /* IPv6, or IPv4-mapped */
    unsigned n;
};

struct peer_key {
    struct peer_key *next;
    const void *key;
    struct peer_addr *addr;
};

struct rt_peers {
    struct peer_addr **addrs;
    struct peer_key **keys;
    size_t nbuckets;
};

#define PEER_BUCKETS 1024 /* a power of two */

static size_t hash_bytes(const unsigned char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */

    while (n--) {
        h ^= *p++;
        h *= 1099511628211ULL;
    }
    return (size_t)h;
}

static size_t hash_ptr(const void *p)
{
    uintptr_t v = (uintptr_t)p;

    return hash_bytes((const unsigned char *)&v, sizeof(v));
}

/* |sa| as 16 bytes; 0, or -1 for a family we do not count (unix). */
static int addr_key(const struct sockaddr *sa, unsigned char key[16])
{
    if (sa->sa_family == AF_INET6) {
        memcpy(key, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
        return 0;
    }
    if (sa->sa_family == AF_INET) {
        memset(key, 0, 10);
        key[10] = key[11] = 0xff;
        memcpy(key + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        return 0;
    }
    return -1;
}

static struct rt_peers *peers(rt_server *s)
{
    struct rt_peers *p = s->peers;

    if (p != NULL)
        return p;
    p = rt__calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->nbuckets = PEER_BUCKETS;
    p->addrs = rt__calloc(p->nbuckets, sizeof(*p->addrs));
    p->keys = rt__calloc(p->nbuckets, sizeof(*p->keys));
    if (p->addrs == NULL || p->keys == NULL) {
        rt__free(p->addrs);
        rt__free(p->keys);
        rt__free(p);
        return NULL;
    }
    s->peers = p;
    return p;
}

static struct peer_addr *addr_find(struct rt_peers *p,
                                   const unsigned char key[16])
{
    struct peer_addr *a;

    for (a = p->addrs[hash_bytes(key, 16) & (p->nbuckets - 1)]; a != NULL;
         a = a->next)
        if (memcmp(a->key, key, 16) == 0)
            return a;
    return NULL;
}

int rt__peer_allowed(rt_server *s, const struct sockaddr *sa)
{
    unsigned char key[16];
    struct peer_addr *a;

    if (s->o.max_address_connections == 0 || s->peers == NULL ||
        addr_key(sa, key) != 0)
        return 1;
    a = addr_find(s->peers, key);
    return a == NULL || a->n < s->o.max_address_connections;
}

void rt__peer_add(rt_server *s, const void *key, const struct sockaddr *sa)
{
    unsigned char ak[16];
    struct rt_peers *p;
    struct peer_addr *a;
    struct peer_key *k;
    size_t b;

    if (s->o.max_address_connections == 0 || addr_key(sa, ak) != 0 ||
        (p = peers(s)) == NULL)
        return;
    a = addr_find(p, ak);
    if (a == NULL) {
        a = rt__calloc(1, sizeof(*a));
        if (a == NULL)
            return;
        memcpy(a->key, ak, 16);
        b = hash_bytes(ak, 16) & (p->nbuckets - 1);
        a->next = p->addrs[b];
        p->addrs[b] = a;
    }
    k = rt__calloc(1, sizeof(*k));
    if (k == NULL) {
        if (a->n == 0) { /* just made: do not leave it at zero */
            p->addrs[hash_bytes(ak, 16) & (p->nbuckets - 1)] = a->next;
            rt__free(a);
        }
        return;
    }
    k->key = key;
    k->addr = a;
    b = hash_ptr(key) & (p->nbuckets - 1);
    k->next = p->keys[b];
    p->keys[b] = k;
    a->n++;
}

void rt__peer_del(rt_server *s, const void *key)
{
    struct rt_peers *p = s->peers;
    struct peer_key **kp, *k;
    struct peer_addr **ap, *a;

    if (p == NULL || key == NULL)
        return;
    for (kp = &p->keys[hash_ptr(key) & (p->nbuckets - 1)]; (k = *kp) != NULL;
         kp = &k->next)
        if (k->key == key)
            break;
    if (k == NULL)
        return;
    *kp = k->next;
    a = k->addr;
    rt__free(k);
    if (--a->n > 0)
        return;
    for (ap = &p->addrs[hash_bytes(a->key, 16) & (p->nbuckets - 1)];
         *ap != NULL; ap = &(*ap)->next) {
        if (*ap == a) {
            *ap = a->next;
            rt__free(a);
            return;
        }
    }
}

void rt__peers_free(rt_server *s)
{
    struct rt_peers *p = s->peers;
    size_t i;

    if (p == NULL)
        return;
    for (i = 0; i < p->nbuckets; i++) {
        while (p->addrs[i] != NULL) {
            struct peer_addr *a = p->addrs[i];

            p->addrs[i] = a->next;
            rt__free(a);
        }
        while (p->keys[i] != NULL) {
            struct peer_key *k = p->keys[i];

            p->keys[i] = k->next;
            rt__free(k);
        }
    }
    rt__free(p->addrs);
    rt__free(p->keys);
    rt__free(p);
    s->peers = NULL;
}
