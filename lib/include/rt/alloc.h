/*
 * rt/alloc.h: allocator hooks.
 *
 * Every allocation librtctl makes, including those of the cJSON parser it
 * uses internally, goes through these four functions.  Tests install hooks
 * that fail the n-th allocation to prove that every path handles RT_ENOMEM
 * (nghttp2's failmalloc, hiredis' allocator injection).
 *
 * Threads: call rt_set_allocators() once, before any other rt_* call, and
 * never while another thread is inside the library.
 */
#ifndef RT_ALLOC_H
#define RT_ALLOC_H

#include <stddef.h>

#include "rt/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rt_allocators {
    void *(*malloc_fn)(size_t size);
    void *(*calloc_fn)(size_t nmemb, size_t size);
    void *(*realloc_fn)(void *ptr, size_t size);
    void (*free_fn)(void *ptr);
} rt_allocators;

/*
 * Replace the allocator for the whole library.
 *
 * |a| the four functions, all required; NULL restores the C library's.
 *
 * Returns the allocators that were in place before the call.
 */
RT_EXTERN rt_allocators rt_set_allocators(const rt_allocators *a);

/*
 * Free memory that the library handed to the caller (a token string, an
 * encoded message, a JSON serialisation).  rt_free(NULL) is a no-op.
 */
RT_EXTERN void rt_free(void *ptr);

#ifdef __cplusplus
}
#endif

#endif /* RT_ALLOC_H */
