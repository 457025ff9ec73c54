/*
 * head.c: where a request head ends and how big it is (head.h).
 *
 * The rules follow what libwebsockets 4.1 does with the same bytes
 * (lib/roles/http/parsers.c), so that what passes here is what it then
 * parses within the limits it is given:
 *
 * - A line ends at LF; a CR before it is not part of anything.  The head
 *   ends at the first empty line, "\r\n" or "\n".
 * - The request line is a method of letters, spaces, the target, and the
 *   rest up to the line's end.  A first line that does not start so is not
 *   ours to judge (a TLS hello on the plain port, garbage): RT_HEAD_OTHER
 *   hands it on as it is, and libwebsockets refuses it as it always did.
 * - Every line after it, up to the empty one, is a header field.  Known
 *   and unknown names alike: each known one costs libwebsockets a fragment
 *   slot, each unknown one a few bytes of header storage (server.c sizes
 *   it for max_fields of them).
 * - Query arguments are what libwebsockets splits the target into: one
 *   from the first '?', and one more at each '&' or ';', wherever they are
 *   in the target (it splits the path at them too).  Escaped ("%26") they
 *   are data, as they are to libwebsockets.
 */
#include "head.h"

/* Longer than any method libwebsockets knows ("OPTIONS", "CONNECT"). */
#define METHOD_MAX 16

enum {
    S_METHOD = 0,
    S_TARGET,
    S_VERSION,    /* the rest of the request line */
    S_LINE_START, /* the first byte of a line of the header section */
    S_LINE_CR,    /* a line that so far is one CR */
    S_FIELD
};

void rt__head_init(struct rt__head *h, size_t max_bytes, unsigned max_fields,
                   unsigned max_args)
{
    h->max_bytes = max_bytes;
    h->max_fields = max_fields;
    h->max_args = max_args;
    h->n = 0;
    h->fields = h->args = h->method_len = 0;
    h->state = S_METHOD;
    h->target_len_nonzero = h->seen_query = 0;
    h->verdict = RT_HEAD_MORE;
}

static int is_letter(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* One byte; the verdict it leads to (RT_HEAD_MORE to go on). */
static enum rt__head_verdict step(struct rt__head *h, unsigned char c)
{
    if (++h->n > h->max_bytes)
        return h->state <= S_VERSION ? RT_HEAD_URI_TOO_LONG
                                     : RT_HEAD_TOO_LARGE;
    switch (h->state) {
    case S_METHOD:
        if (is_letter(c) && h->method_len < METHOD_MAX) {
            h->method_len++;
            return RT_HEAD_MORE;
        }
        if (c == ' ' && h->method_len > 0) {
            h->state = S_TARGET;
            return RT_HEAD_MORE;
        }
        return RT_HEAD_OTHER;
    case S_TARGET:
        if (c == ' ') {
            /* libwebsockets skips the spaces before the target */
            if (h->target_len_nonzero)
                h->state = S_VERSION;
            return RT_HEAD_MORE;
        }
        if (c == '\n') {
            h->state = S_LINE_START;
            return RT_HEAD_MORE;
        }
        if (c == '\r') {
            h->state = S_VERSION;
            return RT_HEAD_MORE;
        }
        h->target_len_nonzero = 1;
        if ((c == '?' && !h->seen_query) || c == '&' || c == ';') {
            h->seen_query |= c == '?';
            if (++h->args > h->max_args)
                return RT_HEAD_TOO_MANY_ARGS;
        }
        return RT_HEAD_MORE;
    case S_VERSION:
        if (c == '\n')
            h->state = S_LINE_START;
        return RT_HEAD_MORE;
    case S_LINE_START:
    case S_LINE_CR:
        if (c == '\n')
            return RT_HEAD_DONE;
        if (c == '\r' && h->state == S_LINE_START) {
            h->state = S_LINE_CR;
            return RT_HEAD_MORE;
        }
        if (++h->fields > h->max_fields)
            return RT_HEAD_TOO_MANY_FIELDS;
        h->state = S_FIELD;
        return RT_HEAD_MORE;
    default: /* S_FIELD */
        if (c == '\n')
            h->state = S_LINE_START;
        return RT_HEAD_MORE;
    }
}

enum rt__head_verdict rt__head_feed(struct rt__head *h, const char *p,
                                    size_t len)
{
    size_t i;

    for (i = 0; i < len && h->verdict == RT_HEAD_MORE; i++)
        h->verdict = step(h, (unsigned char)p[i]);
    return h->verdict;
}
