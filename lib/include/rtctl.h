/*
 * rtctl.h: the umbrella header of librtctl.
 *
 * Include this one header and link with `pkg-config --libs rtctl`.  Most
 * modules below are pure (no sockets, clocks or randomness: time and random
 * numbers are passed in), so they can be used from any event loop or none.
 * The network clients (rt/sse_client.h, rt/poll_client.h,
 * rt/ws_client.h) and rt/publish.h run on an
 * rt_loop (rt/loop.h): a libuv loop, the caller's or its own, driving
 * libcurl.
 *
 * Threads: no call shares state with another except rt_set_allocators(),
 * which must happen before anything else.  A handle may be used from one
 * thread at a time.
 *
 * Errors: every fallible function returns 0 or a negative RT_E* code
 * (rt/error.h); a function that fails calls none of its callbacks.
 *
 * Ownership: arguments are borrowed for the call; the library copies what it
 * keeps.  Pointers passed to callbacks are valid until the callback returns.
 * What a function hands over (*_new, *_dup, *_encode, strings documented as
 * such) is released with the matching *_free or rt_free; every *_free
 * accepts NULL.
 */
#ifndef RTCTL_H
#define RTCTL_H

#include "rt/alloc.h"
#include "rt/backoff.h"
#include "rt/conn.h"
#include "rt/error.h"
#include "rt/hist.h"
#include "rt/http_resp.h"
#include "rt/jwt.h"
#include "rt/lean.h"
#include "rt/loop.h"
#include "rt/msg.h"
#include "rt/order.h"
#include "rt/poll_client.h"
#include "rt/publish.h"
#include "rt/sse_client.h"
#include "rt/sse_parser.h"
#include "rt/url.h"
#include "rt/version.h"
#include "rt/ws_codec.h"
#include "rt/ws_client.h"

#endif /* RTCTL_H */
