/*
 * limits.c: connections per peer address (--max-address-connections).
 *
 * libwebsockets 4.1 as Debian builds it has no per-IP limits
 * (LWS_WITH_PEER_LIMITS is off), so they are counted here: an accepted
 * socket is checked against its address's count in the network filter,
 * counted once lws has made its wsi, and uncounted when that wsi is
 * destroyed, whatever became of it (HTTP, WebSocket, SSE, an upgrade that
 * failed).  Two small hash tables: addresses with their counts, and wsis
 * with the address they count against.  Entries go when their count does,
 * so the tables are as big as the connections open now.
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

struct peer_wsi {
    struct peer_wsi *next;
    const struct lws *wsi;
    struct peer_addr *addr;
};

struct rt_peers {
    struct peer_addr **addrs;
    struct peer_wsi **wsis;
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
    p->wsis = rt__calloc(p->nbuckets, sizeof(*p->wsis));
    if (p->addrs == NULL || p->wsis == NULL) {
        rt__free(p->addrs);
        rt__free(p->wsis);
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

void rt__peer_add(rt_server *s, struct lws *wsi)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    unsigned char key[16];
    struct rt_peers *p;
    struct peer_addr *a;
    struct peer_wsi *w;
    size_t b;

    if (s->o.max_address_connections == 0 ||
        getpeername(lws_get_socket_fd(wsi), (struct sockaddr *)&ss, &sl) !=
            0 ||
        addr_key((struct sockaddr *)&ss, key) != 0 || (p = peers(s)) == NULL)
        return;
    a = addr_find(p, key);
    if (a == NULL) {
        a = rt__calloc(1, sizeof(*a));
        if (a == NULL)
            return;
        memcpy(a->key, key, 16);
        b = hash_bytes(key, 16) & (p->nbuckets - 1);
        a->next = p->addrs[b];
        p->addrs[b] = a;
    }
    w = rt__calloc(1, sizeof(*w));
    if (w == NULL) {
        if (a->n == 0) { /* just made: do not leave it at zero */
            p->addrs[hash_bytes(key, 16) & (p->nbuckets - 1)] = a->next;
            rt__free(a);
        }
        return;
    }
    w->wsi = wsi;
    w->addr = a;
    b = hash_ptr(wsi) & (p->nbuckets - 1);
    w->next = p->wsis[b];
    p->wsis[b] = w;
    a->n++;
}

void rt__peer_del(rt_server *s, const struct lws *wsi)
{
    struct rt_peers *p = s->peers;
    struct peer_wsi **wp, *w;
    struct peer_addr **ap, *a;

    if (p == NULL || wsi == NULL)
        return;
    for (wp = &p->wsis[hash_ptr(wsi) & (p->nbuckets - 1)]; (w = *wp) != NULL;
         wp = &w->next)
        if (w->wsi == wsi)
            break;
    if (w == NULL)
        return;
    *wp = w->next;
    a = w->addr;
    rt__free(w);
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
        while (p->wsis[i] != NULL) {
            struct peer_wsi *w = p->wsis[i];

            p->wsis[i] = w->next;
            rt__free(w);
        }
    }
    rt__free(p->addrs);
    rt__free(p->wsis);
    rt__free(p);
    s->peers = NULL;
}
