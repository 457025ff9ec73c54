/*
 * net_int.h: declarations shared by the files of lib/net and nothing else.
 */
#ifndef RT_NET_INT_H
#define RT_NET_INT_H

#include <stdint.h>

#include <curl/curl.h>
#include <uv.h>

#include "core_int.h"
#include "rt/loop.h"

/*
 * A transfer on the loop's multi handle.  The easy handle's CURLOPT_PRIVATE
 * points at this; the loop calls done() once curl reports the transfer
 * finished, outside every curl callback, and done() removes the handle.
 */
typedef struct rt__xfer {
    void (*done)(struct rt__xfer *x, CURLcode res);
} rt__xfer;

uv_loop_t *rt__loop_uv(rt_loop *l);

/* Add |easy| (whose CURLOPT_PRIVATE is an rt__xfer); 0 or RT_ENOMEM. */
int rt__loop_add(rt_loop *l, CURL *easy);

/*
 * Remove |easy| from the multi handle.  Never from inside a curl callback:
 * make the callback fail instead, and remove the handle in done().
 */
void rt__loop_remove(rt_loop *l, CURL *easy);

/* A uniformly random 32-bit value for the backoff jitter. */
uint32_t rt__loop_rand32(rt_loop *l);

#endif /* RT_NET_INT_H */
