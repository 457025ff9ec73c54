/*
 * core_int.h: declarations shared by the files of lib/core and nothing else.
 *
 * lib/core is pure: no sockets, no clock, no randomness, no globals other
 * than the allocator hooks.  Including uv.h, libwebsockets.h or curl/curl.h
 * from here breaks the core_layering test.
 */
#ifndef RT_CORE_INT_H
#define RT_CORE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "rt/alloc.h"
#include "rt/error.h"

#if defined(__GNUC__)
#define RT__PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define RT__UNUSED __attribute__((unused))
#else
#define RT__PRINTF(fmt, args)
#define RT__UNUSED
#endif

/* Overflow-checked wrappers around the installed allocator. */
void *rt__malloc(size_t size);
void *rt__calloc(size_t nmemb, size_t size);
void *rt__realloc(void *ptr, size_t size);
void *rt__reallocarray(void *ptr, size_t nmemb, size_t size);
void rt__free(void *ptr);
char *rt__strndup(const char *s, size_t len);

/*
 * A growable byte buffer, always NUL-terminated after len bytes so that it
 * can be handed to functions that want a C string (the data itself may hold
 * NUL bytes; len is authoritative).
 */
typedef struct rt_buf {
    char *data;
    size_t len;
    size_t cap;
} rt_buf;

void rt__buf_init(rt_buf *b);
void rt__buf_cleanup(rt_buf *b);
/* Make room for |extra| more bytes plus the terminator; RT_ENOMEM. */
int rt__buf_reserve(rt_buf *b, size_t extra);
int rt__buf_append(rt_buf *b, const void *p, size_t len);
int rt__buf_putc(rt_buf *b, char c);
int rt__buf_printf(rt_buf *b, const char *fmt, ...) RT__PRINTF(2, 3);
/* Forget the contents, keep the allocation. */
void rt__buf_clear(rt_buf *b);
/* Hand the bytes to the caller (free with rt_free); the buffer is reset. */
char *rt__buf_detach(rt_buf *b, size_t *len);

/* Write |s| as a JSON string literal, quotes included; RT_ENOMEM. */
int rt__buf_json_str(rt_buf *b, const char *s, size_t len);

/*
 * Base64url without padding (RFC 4648 section 5), as JWT uses it.
 * rt__b64url_decode returns RT_EPROTO on a character outside the alphabet
 * or an impossible length.
 */
int rt__b64url_encode(rt_buf *out, const void *p, size_t len);
int rt__b64url_decode(rt_buf *out, const char *s, size_t len);

#endif /* RT_CORE_INT_H */
