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
 * The protocol's HTTP answer bodies (PROTOCOL.md sections 1 and 4), for
 * the server, which writes them in pieces around what it streams from
 * its own structures (msg_codec.c).  Each appends to |b|; RT_ENOMEM.
 *   a long poll:  poll_open, the stored frames comma-separated, poll_close
 *   POST /publish: published
 *   GET /rooms:    rooms_open, rooms_item for each (first != 0 for the
 *                  first), rooms_close
 *   GET /rooms/R/presence: presence_open, the JSON array of users,
 *                  presence_close
 */
int rt__msg_poll_open(rt_buf *b, const char *epoch);
int rt__msg_poll_close(rt_buf *b, uint64_t next, int recovered);
int rt__msg_published(rt_buf *b, uint64_t seq);
int rt__msg_rooms_open(rt_buf *b);
int rt__msg_rooms_item(rt_buf *b, int first, const char *room, unsigned online,
                       uint64_t seq);
int rt__msg_rooms_close(rt_buf *b);
int rt__msg_presence_open(rt_buf *b, const char *room);
int rt__msg_presence_close(rt_buf *b);

/*
 * Base64url without padding (RFC 4648 section 5), as JWT uses it.
 * rt__b64url_decode returns RT_EPROTO on a character outside the alphabet
 * or an impossible length.
 */
int rt__b64url_encode(rt_buf *out, const void *p, size_t len);
int rt__b64url_decode(rt_buf *out, const char *s, size_t len);

/*
 * Length of the well-formed UTF-8 sequence at |s| (1 to 4; |avail| > 0
 * bytes are readable), or 0 when the bytes there are not one (Unicode
 * Table 3-7: overlong forms, surrogates and code points past U+10FFFF are
 * ill-formed).  On 0, *bad (when |bad| is not NULL) is the length of the
 * maximal subpart, at least 1, that WHATWG's decoder turns into one
 * U+FFFD.
 */
size_t rt__utf8_len(const unsigned char *s, size_t avail, size_t *bad);

/* The value of hex digit |c| (either case), or -1. */
int rt__hexval(int c);

/*
 * Format into |errbuf| (|errlen| bytes, truncated and NUL-terminated);
 * does nothing when |errbuf| is NULL or |errlen| is 0.
 */
void rt__seterr(char *errbuf, size_t errlen, const char *fmt, ...)
    RT__PRINTF(3, 4);

/*
 * rt__json_scan(): a strict RFC 8259 recogniser run before cJSON.
 *
 * It checks the grammar, the nesting depth, string escapes (a \uD800-DBFF
 * must be followed by \uDC00-DFFF; a lone low half is refused), raw control
 * characters, number syntax and length (cJSON reads at most 63 characters
 * of a number), and by default UTF-8.  It is at least as strict as cJSON
 * 1.7 on every point, so when cJSON fails on text that passed, the cause
 * can only be an allocation: callers tell RT_ENOMEM from bad input that
 * way (cJSON returns NULL for both).  It allocates nothing and does not
 * recurse: the nesting is kept on a bounded stack.
 */
#define RT__JSON_MAX_DEPTH 1000

/* The text must be an object (checked before anything else). */
#define RT__JSON_OBJECT 0x1u
/* Refuse \u0000 (which cJSON decodes into a C string cut short). */
#define RT__JSON_NO_NUL 0x2u
/* Take bytes >= 0x80 in strings unchecked, as cJSON does, not as UTF-8. */
#define RT__JSON_RAW_BYTES 0x4u

typedef struct rt__json_scan_opts {
    unsigned flags;     /* RT__JSON_* */
    unsigned max_depth; /* containers deep; 0 or over the maximum: max */
    /*
     * NULL, or the (ASCII) name of a member of the top-level object whose
     * value to locate; the name is compared after decoding escapes.
     */
    const char *find;
} rt__json_scan_opts;

typedef struct rt__json_scan_res {
    size_t pos;   /* on error, the offset of the offending byte */
    size_t start; /* the offset of the value (after leading whitespace) */
    size_t end;   /* just past the value (before trailing whitespace) */
    int has_nul;  /* a \u0000 escape was seen */
    /* The last |find| member's value: text[found_start, found_end). */
    int found;
    int found_ws; /* whitespace between its tokens */
    size_t found_start;
    size_t found_end;
} rt__json_scan_res;

/*
 * Scan |len| bytes of |text| as exactly one JSON value plus whitespace.
 * Returns 0 (*why NULL), or RT_EPROTO with *why set to a short static
 * reason ("bad escape in a string") and res->pos to where it was found.
 * |o| (defaults: any value, \u0000 allowed, UTF-8 checked, the maximum
 * depth), |res| and |why| may be NULL.
 */
int rt__json_scan(const char *text, size_t len, const rt__json_scan_opts *o,
                  rt__json_scan_res *res, const char **why);

#endif /* RT_CORE_INT_H */
