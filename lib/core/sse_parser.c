/*
 * sse_parser.c: the Server-Sent Events stream parser.
 *
 * Spec: WHATWG HTML, "Interpreting an event stream" (section 9.2.6), with
 * the one part of the UTF-8 decoder that changes the bytes: a single byte
 * order mark at the start of the stream is dropped.  Nothing else is
 * decoded; bytes reach the callbacks as they came.
 *
 * Speed: a complete line inside the caller's buffer is parsed in place.
 * Line ends are found with memchr, one scan for CR and one for LF, each
 * remembering where it stopped so that no byte is scanned twice for the
 * same character (a CR-only stream stays linear).  Only a line that
 * straddles two feeds is copied, into |line|.  Data lines are appended to
 * |data|, which is reused from event to event, so a steady stream makes no
 * allocation per event.
 *
 * Invariants:
 * - |line| holds the start of a line whose end has not arrived yet; its
 *   length never exceeds max_line; line.len == 0 means none.
 * - |data| holds the data lines of the event in progress joined by LF,
 *   without the trailing LF the spec appends and then removes at dispatch;
 *   has_data tells "no data line" from "one empty data line".  data.len
 *   never exceeds max_data.
 * - The spec's "last event ID buffer" is |id_next| when id_dirty is set and
 *   |id| otherwise; |id| is the event source's "last event ID string",
 *   updated at each dispatch.  reset() only clears id_dirty, so it cannot
 *   fail.
 * - bom counts the byte order mark bytes matched so far; BOM_DONE once the
 *   stream start is past.
 * - skip_lf is set when the last byte seen was a CR ending a line, so that
 *   an LF opening the next feed belongs to the same line end.
 * - err != 0 makes every feed return it until reset().
 */
#include <string.h>

#include "core_int.h"
#include "rt/sse_parser.h"

#define DEFAULT_MAX_LINE ((size_t)1 << 20)
#define DEFAULT_MAX_DATA ((size_t)16 << 20)
/* Past this, the data buffer is given back after its event. */
#define DATA_KEEP_BYTES ((size_t)1 << 20)
#define BOM_DONE 3

static const unsigned char bom_bytes[3] = {0xEF, 0xBB, 0xBF};

struct rt_sse_parser {
    rt_sse_event_cb on_event;
    rt_sse_retry_cb on_retry;
    void *ud;
    size_t max_line;
    size_t max_data;
    rt_buf line;
    rt_buf data;
    rt_buf type;
    rt_buf id;
    rt_buf id_next;
    int has_data;
    int id_dirty;
    int skip_lf;
    int bom;
    int err;
};

void rt_sse_parser_opts_init(rt_sse_parser_opts *o)
{
    o->max_line_bytes = DEFAULT_MAX_LINE;
    o->max_data_bytes = DEFAULT_MAX_DATA;
}

int rt_sse_parser_new(rt_sse_parser **out, const rt_sse_parser_opts *o,
                      rt_sse_event_cb on_event, rt_sse_retry_cb on_retry,
                      void *ud)
{
    rt_sse_parser_opts def;
    rt_sse_parser *p;

    if (out == NULL)
        return RT_EINVAL;
    *out = NULL;
    if (o == NULL) {
        rt_sse_parser_opts_init(&def);
        o = &def;
    }
    if (o->max_line_bytes == 0 || o->max_data_bytes == 0)
        return RT_EINVAL;
    p = rt__calloc(1, sizeof(*p));
    if (p == NULL)
        return RT_ENOMEM;
    p->on_event = on_event;
    p->on_retry = on_retry;
    p->ud = ud;
    p->max_line = o->max_line_bytes;
    p->max_data = o->max_data_bytes;
    rt__buf_init(&p->line);
    rt__buf_init(&p->data);
    rt__buf_init(&p->type);
    rt__buf_init(&p->id);
    rt__buf_init(&p->id_next);
    *out = p;
    return 0;
}

void rt_sse_parser_free(rt_sse_parser *p)
{
    if (p == NULL)
        return;
    rt__buf_cleanup(&p->line);
    rt__buf_cleanup(&p->data);
    rt__buf_cleanup(&p->type);
    rt__buf_cleanup(&p->id);
    rt__buf_cleanup(&p->id_next);
    rt__free(p);
}

void rt_sse_parser_shrink(rt_sse_parser *p)
{
    if (p->line.len == 0)
        rt__buf_cleanup(&p->line);
    if (p->data.len == 0 && !p->has_data)
        rt__buf_cleanup(&p->data);
    if (p->type.len == 0)
        rt__buf_cleanup(&p->type);
}

void rt_sse_parser_reset(rt_sse_parser *p)
{
    rt__buf_clear(&p->line);
    rt__buf_clear(&p->data);
    rt__buf_clear(&p->type);
    p->has_data = 0;
    /* An id: of the unfinished event never reached the last event ID. */
    p->id_dirty = 0;
    p->skip_lf = 0;
    p->bom = 0;
    p->err = 0;
}

int rt_sse_parser_set_last_id(rt_sse_parser *p, const char *id, size_t len)
{
    rt_buf nb;

    if (len > p->max_line || (id == NULL && len != 0))
        return RT_EINVAL;
    /* Build aside so that a failure keeps the previous ID. */
    rt__buf_init(&nb);
    if (rt__buf_append(&nb, id != NULL ? id : "", len) != 0)
        return RT_ENOMEM;
    rt__buf_cleanup(&p->id);
    p->id = nb;
    p->id_dirty = 0;
    return 0;
}

const char *rt_sse_parser_last_id(const rt_sse_parser *p, size_t *len)
{
    if (len != NULL)
        *len = p->id.len;
    return p->id.data != NULL ? p->id.data : "";
}

static int fail(rt_sse_parser *p, int err)
{
    p->err = err;
    return err;
}

/* Replace the contents of |b| with |s|. */
static int buf_set(rt_buf *b, const char *s, size_t len)
{
    rt__buf_clear(b);
    return rt__buf_append(b, s, len);
}

static int dispatch(rt_sse_parser *p)
{
    rt_sse_event ev;
    int rc = 0;

    /* Step 1 of the spec runs even when no event fires. */
    ev.has_id = p->id_dirty;
    if (p->id_dirty) {
        if (buf_set(&p->id, p->id_next.data, p->id_next.len) != 0)
            return fail(p, RT_ENOMEM);
        p->id_dirty = 0;
    }
    if (!p->has_data) {
        rt__buf_clear(&p->type);
        return 0;
    }
    if (p->type.len != 0) {
        ev.type = p->type.data;
        ev.type_len = p->type.len;
    } else {
        ev.type = "message";
        ev.type_len = 7;
    }
    ev.data = p->data.data != NULL ? p->data.data : "";
    ev.data_len = p->data.len;
    ev.id = p->id.data != NULL ? p->id.data : "";
    ev.id_len = p->id.len;
    if (p->on_event != NULL)
        rc = p->on_event(&ev, p->ud);
    p->has_data = 0;
    rt__buf_clear(&p->type);
    /* One huge event must not pin its buffer for the connection's life. */
    if (p->data.cap > DATA_KEEP_BYTES)
        rt__buf_cleanup(&p->data);
    else
        rt__buf_clear(&p->data);
    return rc != 0 ? fail(p, RT_ECANCELED) : 0;
}

static int data_append(rt_sse_parser *p, const char *v, size_t n)
{
    size_t add = n + (p->has_data ? 1 : 0);
    char *dst;

    /* data.len <= max_data and n <= max_line: no overflow below. */
    if (add > p->max_data - p->data.len)
        return fail(p, RT_ETOOBIG);
    if (rt__buf_reserve(&p->data, add) != 0)
        return fail(p, RT_ENOMEM);
    dst = p->data.data + p->data.len;
    if (p->has_data)
        *dst++ = '\n';
    if (n != 0)
        memcpy(dst, v, n);
    p->data.len += add;
    p->data.data[p->data.len] = '\0';
    p->has_data = 1;
    return 0;
}

static void retry_field(rt_sse_parser *p, const char *v, size_t n)
{
    uint64_t ms = 0;
    size_t i;

    /* An empty value is not "only ASCII digits" worth a number. */
    if (n == 0)
        return;
    for (i = 0; i < n; i++) {
        unsigned d = (unsigned char)v[i] - (unsigned)'0';

        if (d > 9)
            return;
        if (ms > (UINT64_MAX - d) / 10)
            ms = UINT64_MAX;
        else
            ms = ms * 10 + d;
    }
    if (p->on_retry != NULL)
        p->on_retry(ms, p->ud);
}

/* One complete line, terminator excluded. */
static int process_line(rt_sse_parser *p, const char *s, size_t n)
{
    const char *colon, *v;
    size_t nlen, vlen;

    if (n == 0)
        return dispatch(p);
    if (s[0] == ':')
        return 0;
    colon = memchr(s, ':', n);
    if (colon != NULL) {
        nlen = (size_t)(colon - s);
        v = colon + 1;
        vlen = n - nlen - 1;
        if (vlen != 0 && *v == ' ') {
            v++;
            vlen--;
        }
    } else {
        nlen = n;
        v = s + n;
        vlen = 0;
    }
    switch (nlen) {
    case 4:
        if (memcmp(s, "data", 4) == 0)
            return data_append(p, v, vlen);
        break;
    case 5:
        if (memcmp(s, "event", 5) == 0) {
            if (buf_set(&p->type, v, vlen) != 0)
                return fail(p, RT_ENOMEM);
        } else if (memcmp(s, "retry", 5) == 0) {
            retry_field(p, v, vlen);
        }
        break;
    case 2:
        if (memcmp(s, "id", 2) == 0 && memchr(v, '\0', vlen) == NULL) {
            if (buf_set(&p->id_next, v, vlen) != 0)
                return fail(p, RT_ENOMEM);
            p->id_dirty = 1;
        }
        break;
    default:
        break;
    }
    return 0;
}

/* Add bytes to the partial line, holding it to max_line. */
static int line_append(rt_sse_parser *p, const char *s, size_t n)
{
    if (n > p->max_line - p->line.len)
        return fail(p, RT_ETOOBIG);
    if (rt__buf_append(&p->line, s, n) != 0)
        return fail(p, RT_ENOMEM);
    return 0;
}

/*
 * Offset of the next CR or LF at or after |i|, or |len| when none.  The
 * offsets found last time are kept in *cr and *lf (SIZE_MAX: not searched
 * yet); each is searched again only once |i| has passed it.
 */
static size_t find_eol(const char *buf, size_t len, size_t i, size_t *cr,
                       size_t *lf)
{
    const char *q;

    if (*cr == SIZE_MAX || *cr < i) {
        q = memchr(buf + i, '\r', len - i);
        *cr = q != NULL ? (size_t)(q - buf) : len;
    }
    if (*lf == SIZE_MAX || *lf < i) {
        q = memchr(buf + i, '\n', len - i);
        *lf = q != NULL ? (size_t)(q - buf) : len;
    }
    return *cr < *lf ? *cr : *lf;
}

int rt_sse_parser_feed(rt_sse_parser *p, const char *buf, size_t len)
{
    size_t i = 0, e, cr, lf;
    int rc;

    if (p->err != 0)
        return p->err;
    if (len == 0)
        return 0;
    /* The BOM may arrive a byte at a time; matched bytes are held in bom. */
    while (p->bom != BOM_DONE && i < len) {
        if ((unsigned char)buf[i] == bom_bytes[p->bom]) {
            p->bom++;
            i++;
        } else {
            /* Not a BOM after all: what matched starts the first line. */
            if (p->bom != 0 &&
                line_append(p, (const char *)bom_bytes, (size_t)p->bom) != 0)
                return p->err;
            p->bom = BOM_DONE;
        }
    }
    if (p->skip_lf && i < len) {
        p->skip_lf = 0;
        if (buf[i] == '\n')
            i++;
    }
    cr = lf = SIZE_MAX;
    while (i < len) {
        e = find_eol(buf, len, i, &cr, &lf);
        if (e == len) {
            /* No line end in this feed: keep the tail for the next one. */
            if (line_append(p, buf + i, len - i) != 0)
                return p->err;
            break;
        }
        if (p->line.len != 0) {
            if (line_append(p, buf + i, e - i) != 0)
                return p->err;
            rc = process_line(p, p->line.data, p->line.len);
            rt__buf_clear(&p->line);
        } else {
            if (e - i > p->max_line)
                return fail(p, RT_ETOOBIG);
            rc = process_line(p, buf + i, e - i);
        }
        if (rc != 0)
            return rc;
        if (buf[e] == '\r') {
            if (e + 1 == len)
                p->skip_lf = 1;
            else if (buf[e + 1] == '\n')
                e++;
        }
        i = e + 1;
    }
    return 0;
}
