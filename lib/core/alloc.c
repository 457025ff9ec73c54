/*
 * alloc.c: the allocator hooks and their overflow-checked wrappers.
 *
 * The hooks are the one piece of global state in lib/core.  cJSON keeps its
 * own global hooks; rt_set_allocators() forwards ours to it so that a test
 * failing the n-th allocation fails cJSON's too.
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core_int.h"

static rt_allocators hooks = {malloc, calloc, realloc, free};

rt_allocators rt_set_allocators(const rt_allocators *a)
{
    rt_allocators old = hooks;
    cJSON_Hooks ch;

    if (a == NULL) {
        hooks.malloc_fn = malloc;
        hooks.calloc_fn = calloc;
        hooks.realloc_fn = realloc;
        hooks.free_fn = free;
        cJSON_InitHooks(NULL);
    } else {
        hooks = *a;
        ch.malloc_fn = a->malloc_fn;
        ch.free_fn = a->free_fn;
        cJSON_InitHooks(&ch);
    }
    return old;
}

void *rt__malloc(size_t size)
{
    return hooks.malloc_fn(size ? size : 1);
}

void *rt__calloc(size_t nmemb, size_t size)
{
    if (nmemb == 0 || size == 0)
        return hooks.calloc_fn(1, 1);
    return hooks.calloc_fn(nmemb, size);
}

void *rt__realloc(void *ptr, size_t size)
{
    return hooks.realloc_fn(ptr, size ? size : 1);
}

void *rt__reallocarray(void *ptr, size_t nmemb, size_t size)
{
    if (size != 0 && nmemb > SIZE_MAX / size)
        return NULL;
    return rt__realloc(ptr, nmemb * size);
}

void rt__free(void *ptr)
{
    if (ptr != NULL)
        hooks.free_fn(ptr);
}

void rt_free(void *ptr)
{
    rt__free(ptr);
}

char *rt__strndup(const char *s, size_t len)
{
    char *p;

    if (len == SIZE_MAX)
        return NULL;
    p = rt__malloc(len + 1);
    if (p == NULL)
        return NULL;
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}
