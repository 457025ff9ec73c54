/*
 * source.c: `rtctl load --source`, the local addresses connections come
 * from.
 *
 * One connection is a 4-tuple, so one source address reaches at most the
 * ephemeral port range (about 28,000 ports by default) towards one server
 * port, and servers often cap connections per address (rtctl serve
 * --max-address-connections).  Every address of 127.0.0.0/8 is local on
 * Linux, so a range there multiplies both limits on loopback without any
 * setup.  Each address is tried once here (bind, port 0) so that a typo
 * is a usage error, not thousands of failed connections.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "load/load.h"

#define MAX_SOURCES 4096

static int bindable(const struct sockaddr_storage *a, char *err, size_t errlen,
                    const char *spec)
{
    int fd = socket(a->ss_family, SOCK_STREAM, 0);
    socklen_t len = a->ss_family == AF_INET ? sizeof(struct sockaddr_in)
                                            : sizeof(struct sockaddr_in6);
    char text[INET6_ADDRSTRLEN] = "";

    if (fd >= 0 && bind(fd, (const struct sockaddr *)a, len) == 0) {
        close(fd);
        return 0;
    }
    inet_ntop(a->ss_family,
              a->ss_family == AF_INET
                  ? (const void *)&((const struct sockaddr_in *)a)->sin_addr
                  : (const void *)&((const struct sockaddr_in6 *)a)->sin6_addr,
              text, sizeof(text));
    snprintf(err, errlen, "--source %s: cannot use %s: %s", spec, text,
             strerror(errno));
    if (fd >= 0)
        close(fd);
    return -1;
}

int cli_load_sources(const char *const *specs, size_t nspecs,
                     struct sockaddr_storage **out, size_t *n, char *err,
                     size_t errlen)
{
    struct sockaddr_storage *v = NULL;
    size_t i, k = 0;

    *out = NULL;
    *n = 0;
    for (i = 0; i < nspecs; i++) {
        const char *spec = specs[i], *dash = strchr(spec, '-');
        char a[64], b[64];
        struct in_addr lo, hi;
        struct in6_addr a6;
        uint32_t x, first, last;

        if (strlen(spec) >= sizeof(a) ||
            (dash != NULL && (size_t)(dash - spec) >= sizeof(a)))
            goto bad;
        snprintf(a, sizeof(a), "%.*s",
                 (int)(dash ? (size_t)(dash - spec) : strlen(spec)), spec);
        snprintf(b, sizeof(b), "%s", dash ? dash + 1 : a);
        if (dash == NULL && inet_pton(AF_INET6, a, &a6) == 1) {
            struct sockaddr_in6 *s6;
            struct sockaddr_storage *nv = realloc(v, (k + 1) * sizeof(*v));

            if (nv == NULL)
                goto nomem;
            v = nv;
            memset(&v[k], 0, sizeof(v[k]));
            s6 = (struct sockaddr_in6 *)&v[k];
            s6->sin6_family = AF_INET6;
            s6->sin6_addr = a6;
            if (bindable(&v[k], err, errlen, spec) != 0)
                goto fail;
            k++;
            continue;
        }
        if (inet_pton(AF_INET, a, &lo) != 1 || inet_pton(AF_INET, b, &hi) != 1)
            goto bad;
        first = ntohl(lo.s_addr);
        last = ntohl(hi.s_addr);
        if (last < first || last - first >= MAX_SOURCES ||
            k + (last - first) + 1 > MAX_SOURCES) {
            snprintf(err, errlen,
                     "--source %s: a range of 1 to %d addresses, please", spec,
                     MAX_SOURCES);
            goto fail;
        }
        for (x = first;; x++) {
            struct sockaddr_in *s4;
            struct sockaddr_storage *nv = realloc(v, (k + 1) * sizeof(*v));

            if (nv == NULL)
                goto nomem;
            v = nv;
            memset(&v[k], 0, sizeof(v[k]));
            s4 = (struct sockaddr_in *)&v[k];
            s4->sin_family = AF_INET;
            s4->sin_addr.s_addr = htonl(x);
            if (bindable(&v[k], err, errlen, spec) != 0)
                goto fail;
            k++;
            if (x == last)
                break;
        }
    }
    *out = v;
    *n = k;
    return 0;
bad:
    snprintf(err, errlen,
             "--source %s: not an address or a range like "
             "127.0.0.1-127.0.0.8",
             specs[i]);
    goto fail;
nomem:
    snprintf(err, errlen, "out of memory");
fail:
    free(v);
    return -1;
}
