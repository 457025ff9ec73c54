/*
 * head.h: the size of an HTTP/1 request head, measured as it arrives.
 *
 * The gate (gate.c) reads the first request head of a connection before
 * libwebsockets does, to answer 431 or 414 where libwebsockets 4.1 would
 * close without a word.  It does not parse HTTP: libwebsockets does, after
 * it.  It only finds where the head ends and measures it against the
 * limits that libwebsockets is sized to hold: bytes, header fields and
 * query arguments.  Pure: no sockets, no libwebsockets; tested on its own
 * (tests/unit/test_head.c).
 */
#ifndef RT_HEAD_H
#define RT_HEAD_H

#include <stddef.h>

/* What a head is, once enough of it has been seen. */
enum rt__head_verdict {
    RT_HEAD_MORE = 0,        /* not complete yet: read on */
    RT_HEAD_DONE,            /* complete, and within every limit */
    RT_HEAD_OTHER,           /* does not begin like an HTTP/1 request */
    RT_HEAD_TOO_LARGE,       /* 431: the head passes max_bytes */
    RT_HEAD_TOO_MANY_FIELDS, /* 431: more than max_fields header fields */
    RT_HEAD_URI_TOO_LONG,    /* 414: the request line alone passes it */
    RT_HEAD_TOO_MANY_ARGS    /* 414: more than max_args query arguments */
};

struct rt__head {
    size_t max_bytes;    /* the whole head, request line to blank line */
    unsigned max_fields; /* header field lines */
    unsigned max_args;   /* query arguments */
    size_t n;            /* bytes seen */
    unsigned fields, args, method_len;
    unsigned char state, target_len_nonzero, seen_query;
    enum rt__head_verdict verdict;
};

void rt__head_init(struct rt__head *h, size_t max_bytes, unsigned max_fields,
                   unsigned max_args);

/*
 * Scan the next |len| bytes of the connection.  The verdict, once it is
 * not RT_HEAD_MORE, stays: bytes fed after it are not looked at.
 */
enum rt__head_verdict rt__head_feed(struct rt__head *h, const char *p,
                                    size_t len);

#endif /* RT_HEAD_H */
