/*
 * rt/sse_parser.h: a sans-I/O parser for Server-Sent Events streams.
 *
 * The parser implements WHATWG HTML, "Interpreting an event stream": feed it
 * the bytes of a text/event-stream body in chunks of any size and it calls
 * back once per dispatched event and once per valid "retry:" field.  The
 * result never depends on how the stream was chunked.
 *
 * Bytes are passed through as they came: the parser does no UTF-8
 * validation or decoding (the one piece of the UTF-8 decoder it does do is
 * stripping a single leading byte order mark).  Event types, data and ids
 * may therefore hold any bytes, NUL included in data; consumers decode and
 * replace ill-formed sequences as they see fit.
 *
 * Threads: a parser is used from one thread at a time (the loop thread).
 * Different parsers are independent.
 */
#ifndef RT_SSE_PARSER_H
#define RT_SSE_PARSER_H

#include <stddef.h>
#include <stdint.h>

#include "rt/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rt_sse_parser rt_sse_parser;

/*
 * One dispatched event.  Every pointer is valid only until the callback
 * returns; each string is followed by a NUL byte that is not counted in its
 * length, but only |len| is authoritative (data may hold NUL bytes).
 */
typedef struct rt_sse_event {
    const char *type; /* "message" when no event: field */
    size_t type_len;
    const char *data; /* data lines joined by LF; may contain NUL bytes */
    size_t data_len;
    const char *id; /* the last event ID buffer at dispatch ("" when none) */
    size_t id_len;
    /*
     * 1 when the event had an id: field of its own (which may have set
     * |id| to ""), 0 when |id| carried over from an earlier event.
     */
    int has_id;
} rt_sse_event;

/* Return 0 to go on; nonzero stops: feed() returns RT_ECANCELED (sticky). */
typedef int (*rt_sse_event_cb)(const rt_sse_event *ev, void *ud);

/* A "retry:" field with an all-digit value; saturates at UINT64_MAX. */
typedef void (*rt_sse_retry_cb)(uint64_t ms, void *ud);

typedef struct rt_sse_parser_opts {
    /* default 1 MiB; a longer line (terminator not counted, comments
       included) -> RT_ETOOBIG; the parser never buffers more */
    size_t max_line_bytes;
    /* default 16 MiB; one event's data (the LFs between its lines
       counted) longer than this -> RT_ETOOBIG */
    size_t max_data_bytes;
} rt_sse_parser_opts;

/*
 * Fill |o| with the defaults: lines up to 1 MiB, event data up to 16 MiB.
 *
 * |o| the options to initialise; the caller may change fields afterwards.
 *
 * Returns nothing.
 * Ownership: |o| stays the caller's.
 * Callbacks: none.
 * See also: rt_sse_parser_new().
 */
RT_EXTERN void rt_sse_parser_opts_init(rt_sse_parser_opts *o);

/*
 * Create a parser for one event stream (and the reconnections of it).
 *
 * |out| receives the parser.
 * |o| limits; NULL means rt_sse_parser_opts_init()'s defaults.  A limit of
 *     0 is refused.  The limits are copied.
 * |on_event| called for every dispatched event; NULL drops events (ids and
 *     retry are still tracked).
 * |on_retry| called for every valid "retry:" field; may be NULL.
 * |ud| passed last to both callbacks.
 *
 * Returns 0, RT_EINVAL (|out| NULL, a zero limit) or RT_ENOMEM.
 * Ownership: the caller owns *out and frees it with rt_sse_parser_free().
 * Callbacks: none here.
 * See also: rt_sse_parser_feed(), rt_sse_parser_free().
 */
RT_EXTERN int rt_sse_parser_new(rt_sse_parser **out,
                                const rt_sse_parser_opts *o,
                                rt_sse_event_cb on_event,
                                rt_sse_retry_cb on_retry, void *ud);

/*
 * Parse the next |len| bytes of the stream.
 *
 * |p| the parser.
 * |buf| the bytes; may be NULL when |len| is 0.  Incomplete lines and
 *     events are kept until later feeds complete them; an event that never
 *     gets its terminating blank line is never dispatched.
 * |len| any size, 0 included.
 *
 * Returns 0, RT_ETOOBIG (a line longer than max_line_bytes, or event data
 * past max_data_bytes), RT_ENOMEM, or RT_ECANCELED (a callback returned
 * nonzero).  Errors are sticky: every later feed returns the same code
 * without parsing, until rt_sse_parser_reset().  Events before the failing
 * line have been dispatched.
 * Ownership: |buf| is borrowed for the call only.
 * Callbacks: on_event and on_retry fire synchronously from this call, in
 * stream order.  They may call rt_sse_parser_last_id() but must not call
 * feed, reset, set_last_id or free on the same parser.
 * See also: rt_sse_parser_reset().
 */
RT_EXTERN int rt_sse_parser_feed(rt_sse_parser *p, const char *buf,
                                 size_t len);

/*
 * Set the last event ID, as when resuming a stream from an ID saved
 * elsewhere (a --last-event-id option).
 *
 * |p| the parser.
 * |id| the ID bytes, |len| long; may be NULL when |len| is 0.  Unlike an
 *     "id:" field, no byte is refused here.
 *
 * Returns 0, RT_EINVAL (|len| past max_line_bytes) or RT_ENOMEM (the
 * previous ID is then kept).
 * Ownership: |id| is copied.
 * Callbacks: none.
 * See also: rt_sse_parser_last_id().
 */
RT_EXTERN int rt_sse_parser_set_last_id(rt_sse_parser *p, const char *id,
                                        size_t len);

/*
 * Get the event source's last event ID: the ID in force at the most recent
 * dispatch (blank line), whether or not that dispatch fired an event.  An
 * "id:" field of an event still in progress is not visible here yet.
 * This is the value to send as Last-Event-ID on reconnection.
 *
 * |p| the parser.
 * |len| receives the length; may be NULL.
 *
 * Returns a NUL-terminated string, "" when none.
 * Ownership: the parser's; valid until the next feed, set_last_id, reset
 * or free.
 * Callbacks: none.
 * See also: rt_sse_parser_set_last_id().
 */
RT_EXTERN const char *rt_sse_parser_last_id(const rt_sse_parser *p,
                                            size_t *len);

/*
 * Give back the memory of buffers that hold nothing now (the line, data
 * and type of an event not begun).  For a program that keeps thousands of
 * mostly idle streams: one large event would otherwise pin its buffers.
 * The last event ID is kept.
 *
 * Returns nothing.
 * See also: rt_sse_parser_feed().
 */
RT_EXTERN void rt_sse_parser_shrink(rt_sse_parser *p);

/*
 * Prepare for a new connection: drop the partial line and the event in
 * progress, re-arm byte order mark stripping and clear a sticky error.
 * The last event ID is kept (the spec's reconnection sends it), and so are
 * the callbacks and limits.
 *
 * |p| the parser.
 *
 * Returns nothing.
 * Ownership: unchanged.
 * Callbacks: none.
 * See also: rt_sse_parser_last_id().
 */
RT_EXTERN void rt_sse_parser_reset(rt_sse_parser *p);

/*
 * Free a parser and everything it holds.  rt_sse_parser_free(NULL) is a
 * no-op.
 *
 * |p| the parser, or NULL.
 *
 * Returns nothing.
 * Ownership: |p| is invalid afterwards.
 * Callbacks: none.
 * See also: rt_sse_parser_new().
 */
RT_EXTERN void rt_sse_parser_free(rt_sse_parser *p);

#ifdef __cplusplus
}
#endif

#endif /* RT_SSE_PARSER_H */
