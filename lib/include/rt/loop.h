/*
 * rt/loop.h: the event loop the network clients run on.
 *
 * An rt_loop is one libuv loop (its own, or one the host program lends)
 * plus one libcurl multi handle driven by curl_multi_socket_action(): a
 * uv_poll_t per socket curl asks to watch and one uv_timer_t for curl's
 * timeouts (the design of curl's docs/examples/multi-uv.c).  Every client
 * of librtctl is created on an rt_loop; many clients share one.
 *
 * libcurl is initialised (curl_global_init) when the first rt_loop is
 * created and cleaned up when the last one is freed.
 *
 * Threads: an rt_loop and everything created on it are used from the
 * thread that runs the loop, and only from there.
 */
#ifndef RT_LOOP_H
#define RT_LOOP_H

#include "rt/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* libuv's loop type, declared here so that this header needs no <uv.h>. */
struct uv_loop_s;

typedef struct rt_loop rt_loop;

/*
 * Create a loop.
 *
 * |out| receives the loop.
 * |uv| a libuv loop to borrow (the host keeps running and closing it), or
 *     NULL to create and own one.
 *
 * Returns 0, RT_EINVAL (|out| NULL), RT_ENOMEM, or RT_ESTATE when libcurl
 * or libuv could not be initialised.
 * Ownership: the caller frees *out with rt_loop_free().
 * Callbacks: none.
 * See also: rt_loop_run(), rt_loop_free().
 */
RT_EXTERN int rt_loop_new(rt_loop **out, struct uv_loop_s *uv);

/*
 * The libuv loop underneath, for the caller's own handles (signals,
 * timers, stdin).
 *
 * Returns the loop; it belongs to |l| (or to the host that lent it).
 */
RT_EXTERN struct uv_loop_s *rt_loop_uv(rt_loop *l);

/*
 * Run the loop until nothing is left to do: every client has closed (or
 * the caller's handles are all stopped or unreferenced).
 *
 * Returns 0, or RT_EINVAL for a NULL |l|.
 * Ownership: unchanged.
 * Callbacks: every client callback fires from inside this call.
 * See also: rt_loop_free().
 */
RT_EXTERN int rt_loop_run(rt_loop *l);

/*
 * Free a loop.  Every client created on it must have been closed and have
 * reported on_closed.  An owned libuv loop is run until its last handle
 * has closed and is then closed; with a borrowed loop the last of the
 * memory is released on that loop's next turn.  rt_loop_free(NULL) is a
 * no-op.
 *
 * Returns nothing.
 * Ownership: |l| is invalid afterwards.
 * Callbacks: none.
 * See also: rt_loop_new().
 */
RT_EXTERN void rt_loop_free(rt_loop *l);

/*
 * Map a libcurl result to the RT_E* code the clients report for it, for a
 * program that runs curl easy handles of its own beside the clients.
 *
 * |curl_code| a CURLcode other than CURLE_OK, as an int (no curl type in
 *     this header).
 *
 * Returns RT_EDNS, RT_ECONNREFUSED, RT_ETIMEDOUT, RT_ETLS, RT_ENOMEM,
 * RT_EURL, or RT_ECLOSED for any other failure.
 */
RT_EXTERN int rt_loop_curl_err(int curl_code);

#ifdef __cplusplus
}
#endif

#endif /* RT_LOOP_H */
