/*
 * test_sse_parser.c: the Server-Sent Events parser (lib/core/sse_parser.c)
 * against WHATWG HTML, "Interpreting an event stream".
 *
 * Every vector goes through feed_all_splits(): the transcript of one whole
 * feed must equal those of byte-by-byte feeding and of every two- and
 * three-way cut.  Transcript lines:
 *   event=TYPE id=ID data=DATA   one dispatched event (C-style escapes)
 *   retry=MS                     one valid retry: field
 *   error=NAME                   the first failing feed (sticky after it)
 *   last_id=ID                   rt_sse_parser_last_id() at the end
 * The golden corpus tests/data/sse/NNN-name.sse holds the input and
 * NNN-name.expect the transcript.
 */
#include <dirent.h>

#include "helpers.h"

#include "rt/alloc.h"
#include "rt/sse_parser.h"

/* ------------------------------------------------------------------ */
/* The SSE feeder for feed_all_splits()                                */

typedef struct sse_cfg {
    size_t max_line; /* 0: default */
    size_t max_data; /* 0: default */
    int cancel_at;   /* nonzero: the on_event call of that number cancels */
    const char *start_id; /* non-NULL: rt_sse_parser_set_last_id() first */
} sse_cfg;

typedef struct sse_run {
    rt_sse_parser *p;
    th_str *out;
    int events;
    int cancel_at;
} sse_run;

static int on_event(const rt_sse_event *ev, void *ud)
{
    sse_run *r = ud;
    size_t idlen;
    const char *id = rt_sse_parser_last_id(r->p, &idlen);

    /* Strings are NUL-terminated and the id is the committed last ID. */
    assert_int_equal(ev->type[ev->type_len], '\0');
    assert_int_equal(ev->data[ev->data_len], '\0');
    assert_int_equal(ev->id[ev->id_len], '\0');
    assert_int_equal(idlen, ev->id_len);
    assert_memory_equal(id, ev->id, idlen + 1);

    th_str_puts(r->out, "event=");
    th_str_escape(r->out, ev->type, ev->type_len);
    th_str_puts(r->out, " id=");
    th_str_escape(r->out, ev->id, ev->id_len);
    th_str_puts(r->out, " data=");
    th_str_escape(r->out, ev->data, ev->data_len);
    th_str_puts(r->out, "\n");
    r->events++;
    return r->cancel_at != 0 && r->events == r->cancel_at;
}

static void on_retry(uint64_t ms, void *ud)
{
    sse_run *r = ud;

    th_str_printf(r->out, "retry=%llu\n", (unsigned long long)ms);
}

static void *sse_open(void *ctx, th_str *out)
{
    const sse_cfg *cfg = ctx;
    rt_sse_parser_opts o;
    sse_run *r = calloc(1, sizeof(*r));

    assert_non_null(r);
    rt_sse_parser_opts_init(&o);
    if (cfg != NULL && cfg->max_line != 0)
        o.max_line_bytes = cfg->max_line;
    if (cfg != NULL && cfg->max_data != 0)
        o.max_data_bytes = cfg->max_data;
    r->out = out;
    r->cancel_at = cfg != NULL ? cfg->cancel_at : 0;
    assert_int_equal(rt_sse_parser_new(&r->p, &o, on_event, on_retry, r), 0);
    if (cfg != NULL && cfg->start_id != NULL)
        assert_int_equal(rt_sse_parser_set_last_id(r->p, cfg->start_id,
                                                   strlen(cfg->start_id)),
                         0);
    return r;
}

static int sse_feed(void *h, const char *buf, size_t len)
{
    sse_run *r = h;

    return rt_sse_parser_feed(r->p, buf, len);
}

static void sse_close(void *h, th_str *out)
{
    sse_run *r = h;
    size_t len;
    const char *id = rt_sse_parser_last_id(r->p, &len);

    th_str_puts(out, "last_id=");
    th_str_escape(out, id, len);
    th_str_puts(out, "\n");
    rt_sse_parser_free(r->p);
    free(r);
}

/* Run |in| (with |len| bytes, NULs allowed) through every chunking. */
static void check_cfg(sse_cfg *cfg, const char *in, size_t len,
                      const char *expect)
{
    th_feeder f = {sse_open, sse_feed, sse_close, cfg};

    feed_all_splits_expect(&f, in, len, expect);
}

#define CHECK(lit, expect) check_cfg(NULL, (lit), sizeof(lit) - 1, (expect))
#define CHECK_CFG(cfg, lit, expect) \
    check_cfg((cfg), (lit), sizeof(lit) - 1, (expect))

/* ------------------------------------------------------------------ */
/* Byte order mark                                                     */

static void test_sse_parser_bom_stripped_at_start(void **state)
{
    (void)state;
    CHECK("\xEF\xBB\xBF"
          "data: a\n\n",
          "event=message id= data=a\nlast_id=\n");
    /* A lone BOM, and one followed by a blank line only. */
    CHECK("\xEF\xBB\xBF", "last_id=\n");
    CHECK("\xEF\xBB\xBF\n", "last_id=\n");
}

static void test_sse_parser_bom_stripped_only_once(void **state)
{
    (void)state;
    /* The second BOM is part of the field name: an unknown field. */
    CHECK("\xEF\xBB\xBF\xEF\xBB\xBF"
          "data: a\n\ndata: b\n\n",
          "event=message id= data=b\nlast_id=\n");
    /* A BOM later in the stream is data like any other bytes. */
    CHECK("data: \xEF\xBB\xBF\n\n",
          "event=message id= data=\\xef\\xbb\\xbf\nlast_id=\n");
}

static void test_sse_parser_bom_prefix_is_content(void **state)
{
    (void)state;
    /* EF BB then not BF: the two bytes start the first line. */
    CHECK("\xEF\xBB"
          "data: a\n\ndata: b\n\n",
          "event=message id= data=b\nlast_id=\n");
    CHECK("\xEF"
          "data: a\n\ndata: b\n\n",
          "event=message id= data=b\nlast_id=\n");
    CHECK("\xEF\xBB:comment\ndata: c\n\n",
          "event=message id= data=c\nlast_id=\n");
    /* EF then a line end: a one-byte unknown field. */
    CHECK("\xEF\ndata: d\n\n", "event=message id= data=d\nlast_id=\n");
    CHECK("\xEF\xBB\xBE\n", "last_id=\n");
}

static void test_sse_parser_bom_rearmed_by_reset(void **state)
{
    rt_sse_parser *p;
    th_str out;
    sse_run r = {0};

    (void)state;
    th_str_init(&out);
    assert_int_equal(rt_sse_parser_new(&p, NULL, on_event, on_retry, &r), 0);
    r.p = p;
    r.out = &out;
    assert_int_equal(rt_sse_parser_feed(p, "\xEF", 1), 0);
    assert_int_equal(rt_sse_parser_feed(p,
                                        "\xBB\xBF"
                                        "data: 1\n\n",
                                        11),
                     0);
    rt_sse_parser_reset(p);
    assert_int_equal(rt_sse_parser_feed(p, "\xEF\xBB", 2), 0);
    assert_int_equal(rt_sse_parser_feed(p,
                                        "\xBF"
                                        "data: 2\n\n",
                                        10),
                     0);
    assert_string_equal(out.s, "event=message id= data=1\n"
                               "event=message id= data=2\n");
    rt_sse_parser_free(p);
    th_str_free(&out);
}

/* ------------------------------------------------------------------ */
/* Line ends                                                           */

static void test_sse_parser_line_ends_lf_cr_crlf(void **state)
{
    (void)state;
    CHECK("data: a\n\n", "event=message id= data=a\nlast_id=\n");
    CHECK("data: a\r\r", "event=message id= data=a\nlast_id=\n");
    CHECK("data: a\r\n\r\n", "event=message id= data=a\nlast_id=\n");
    /* Mixed in one event. */
    CHECK("data: a\rdata: b\ndata: c\r\n\r",
          "event=message id= data=a\\nb\\nc\nlast_id=\n");
    /* LF then CR is two line ends: the CR is a blank line. */
    CHECK("data: a\n\rdata: b\r\n\n",
          "event=message id= data=a\nevent=message id= data=b\n"
          "last_id=\n");
}

static void test_sse_parser_crlf_split_across_feeds_is_one_end(void **state)
{
    rt_sse_parser *p;
    th_str out;
    sse_run r = {0};

    (void)state;
    th_str_init(&out);
    assert_int_equal(rt_sse_parser_new(&p, NULL, on_event, on_retry, &r), 0);
    r.p = p;
    r.out = &out;
    /* CR | LF must not count as two line ends (which would dispatch). */
    assert_int_equal(rt_sse_parser_feed(p, "data: a\r", 8), 0);
    assert_int_equal(rt_sse_parser_feed(p, "", 0), 0);
    assert_int_equal(rt_sse_parser_feed(p, "\n", 1), 0);
    assert_int_equal(rt_sse_parser_feed(p, "data: b\r", 8), 0);
    assert_int_equal(rt_sse_parser_feed(p, "\ndata: c\r", 9), 0);
    assert_null(out.s);
    assert_int_equal(rt_sse_parser_feed(p, "\n\r", 2), 0);
    assert_int_equal(rt_sse_parser_feed(p, "\n", 1), 0);
    assert_string_equal(out.s, "event=message id= data=a\\nb\\nc\n");
    rt_sse_parser_free(p);
    th_str_free(&out);
    /* The same through every chunking, CR-only and CRLF streams. */
    CHECK("data: a\r\ndata: b\r\n\r\n",
          "event=message id= data=a\\nb\nlast_id=\n");
    CHECK("data: a\rdata: b\r\r", "event=message id= data=a\\nb\nlast_id=\n");
}

/* ------------------------------------------------------------------ */
/* Fields                                                              */

static void test_sse_parser_comments_ignored(void **state)
{
    (void)state;
    CHECK(": hello\ndata: x\n:\n: data: y\n\n",
          "event=message id= data=x\nlast_id=\n");
    /* A comment is not a blank line: nothing dispatches on it. */
    CHECK("data: x\n:\n", "last_id=\n");
    CHECK(":\n\n:\n\n", "last_id=\n");
}

static void test_sse_parser_field_without_colon(void **state)
{
    (void)state;
    /* The whole line is the name, the value is empty. */
    CHECK("data\n\n", "event=message id= data=\nlast_id=\n");
    CHECK("data\ndata\n\n", "event=message id= data=\\n\nlast_id=\n");
    CHECK("event: x\nevent\ndata: 1\n\n",
          "event=message id= data=1\nlast_id=\n");
    CHECK("id: 5\ndata: a\n\nid\ndata: b\n\n",
          "event=message id=5 data=a\nevent=message id= data=b\n"
          "last_id=\n");
}

static void test_sse_parser_one_leading_space_stripped(void **state)
{
    (void)state;
    CHECK("data:x\n\n", "event=message id= data=x\nlast_id=\n");
    CHECK("data: x\n\n", "event=message id= data=x\nlast_id=\n");
    CHECK("data:  x \n\n", "event=message id= data= x \nlast_id=\n");
    CHECK("data:\tx\n\n", "event=message id= data=\\tx\nlast_id=\n");
    CHECK("data: \n\n", "event=message id= data=\nlast_id=\n");
    /* Only the first colon splits; later ones are value. */
    CHECK("data: a: b:c\n\n", "event=message id= data=a: b:c\nlast_id=\n");
    CHECK("event:  t\ndata\n\n", "event= t id= data=\nlast_id=\n");
}

static void test_sse_parser_multiline_data_joined_by_lf(void **state)
{
    (void)state;
    CHECK("data: a\ndata: b\ndata: c\n\n",
          "event=message id= data=a\\nb\\nc\nlast_id=\n");
    /* Only the final LF goes; an empty last line leaves one. */
    CHECK("data: a\ndata:\n\n", "event=message id= data=a\\n\nlast_id=\n");
    CHECK("data:\ndata: a\n\n", "event=message id= data=\\na\nlast_id=\n");
    /* Lines of other fields between data lines do not break it. */
    CHECK("data: a\nevent: t\n: c\ndata: b\n\n",
          "event=t id= data=a\\nb\nlast_id=\n");
}

static void test_sse_parser_data_keeps_nul_bytes(void **state)
{
    (void)state;
    CHECK("data: a\0b\n\n", "event=message id= data=a\\x00b\nlast_id=\n");
    CHECK("data: \0\n\n", "event=message id= data=\\x00\nlast_id=\n");
    /* Bytes are not validated as UTF-8. */
    CHECK("data: \xff\xc3\n\n",
          "event=message id= data=\\xff\\xc3\nlast_id=\n");
}

static void test_sse_parser_event_type_resets_after_dispatch(void **state)
{
    (void)state;
    CHECK("event: foo\ndata: 1\n\ndata: 2\n\n",
          "event=foo id= data=1\nevent=message id= data=2\nlast_id=\n");
    /* The last event: line of an event wins. */
    CHECK("event: a\nevent: b\ndata\n\n", "event=b id= data=\nlast_id=\n");
    /* A blank line with no data still resets the type. */
    CHECK("event: foo\n\ndata: 2\n\n", "event=message id= data=2\nlast_id=\n");
    /* An empty event: value means "message". */
    CHECK("event:\ndata: 3\n\n", "event=message id= data=3\nlast_id=\n");
}

static void test_sse_parser_id_persists_across_events(void **state)
{
    (void)state;
    CHECK("id: 1\ndata: a\n\ndata: b\n\n",
          "event=message id=1 data=a\nevent=message id=1 data=b\n"
          "last_id=1\n");
    CHECK("id: 1\ndata: a\n\nid: 2\ndata: b\n\n",
          "event=message id=1 data=a\nevent=message id=2 data=b\n"
          "last_id=2\n");
    /* The id may come after the data, but before the blank line. */
    CHECK("data: a\nid: 7\n\n", "event=message id=7 data=a\nlast_id=7\n");
}

static void test_sse_parser_id_empty_resets(void **state)
{
    (void)state;
    CHECK("id: 1\ndata: a\n\nid:\ndata: b\n\n",
          "event=message id=1 data=a\nevent=message id= data=b\n"
          "last_id=\n");
    CHECK("id: 1\ndata: a\n\nid: \ndata: b\n\n",
          "event=message id=1 data=a\nevent=message id= data=b\n"
          "last_id=\n");
}

static void test_sse_parser_id_with_nul_ignored(void **state)
{
    (void)state;
    CHECK("id: 1\ndata: a\n\nid: 2\0x\ndata: b\n\n",
          "event=message id=1 data=a\nevent=message id=1 data=b\n"
          "last_id=1\n");
    CHECK("id: \0\ndata: a\n\n", "event=message id= data=a\nlast_id=\n");
    /* Other control bytes are fine in an id. */
    CHECK("id: a\tb\x01\ndata\n\n",
          "event=message id=a\\tb\\x01 data=\nlast_id=a\\tb\\x01\n");
}

static void test_sse_parser_id_set_without_data_still_counts(void **state)
{
    (void)state;
    /* Dispatch sets the last event ID before bailing out on no data. */
    CHECK("id: 5\n\n", "last_id=5\n");
    CHECK("id: 5\n\ndata: x\n\n", "event=message id=5 data=x\nlast_id=5\n");
    /* An id without its blank line never reaches the last ID. */
    CHECK("id: 1\ndata: a\n\nid: 2\ndata: b\n",
          "event=message id=1 data=a\nlast_id=1\n");
}

static void test_sse_parser_retry_digits_only(void **state)
{
    (void)state;
    CHECK("retry: 1000\n", "retry=1000\nlast_id=\n");
    CHECK("retry:0\n", "retry=0\nlast_id=\n");
    CHECK("retry: 007\n", "retry=7\nlast_id=\n");
    /* Anything but ASCII digits: ignored. */
    CHECK("retry: 10a\nretry: -1\nretry: +1\nretry: 1.5\nretry: 1 \n"
          "retry:  5\nretry:\nretry\nretry: \xd9\xa1\n",
          "last_id=\n");
    /* retry neither dispatches nor disturbs the event. */
    CHECK("data: a\nretry: 5\ndata: b\n\n",
          "retry=5\nevent=message id= data=a\\nb\nlast_id=\n");
}

static void test_sse_parser_retry_saturates(void **state)
{
    (void)state;
    CHECK("retry: 18446744073709551615\n",
          "retry=18446744073709551615\nlast_id=\n");
    CHECK("retry: 18446744073709551616\n",
          "retry=18446744073709551615\nlast_id=\n");
    CHECK("retry: 99999999999999999999999999999999999999999\n",
          "retry=18446744073709551615\nlast_id=\n");
    /* Saturated, but a bad byte after it still voids the field. */
    CHECK("retry: 99999999999999999999999x\n", "last_id=\n");
}

static void test_sse_parser_unknown_fields_ignored(void **state)
{
    (void)state;
    CHECK("foo: bar\nDATA: x\ndata : y\n data: z\nevent2: q\nid : 3\n\n",
          "last_id=\n");
    CHECK("foo: bar\ndata: ok\nretryx: 5\n\n",
          "event=message id= data=ok\nlast_id=\n");
}

static void test_sse_parser_empty_data_buffer_no_dispatch(void **state)
{
    (void)state;
    CHECK("\n\n\n", "last_id=\n");
    CHECK("event: x\n\n", "last_id=\n");
    /* But one empty data line makes an event with empty data. */
    CHECK("data:\n\n", "event=message id= data=\nlast_id=\n");
    CHECK("data\n\n\n\ndata\n\n",
          "event=message id= data=\nevent=message id= data=\nlast_id=\n");
}

static void test_sse_parser_unterminated_event_not_dispatched(void **state)
{
    (void)state;
    CHECK("data: a", "last_id=\n");
    CHECK("data: a\n", "last_id=\n");
    CHECK("data: a\r\n", "last_id=\n");
    CHECK("data: a\n\ndata: b\n", "event=message id= data=a\nlast_id=\n");
    CHECK("", "last_id=\n");
}

/* ------------------------------------------------------------------ */
/* reset, set_last_id, argument checks                                 */

static void test_sse_parser_reset_keeps_last_id_drops_partial(void **state)
{
    rt_sse_parser *p;
    th_str out;
    sse_run r = {0};
    size_t len;
    static const char first[] = "id: 9\ndata: x\n\n"
                                "data: partial\nid: 10\nevent: t\ndata: p";

    (void)state;
    th_str_init(&out);
    assert_int_equal(rt_sse_parser_new(&p, NULL, on_event, on_retry, &r), 0);
    r.p = p;
    r.out = &out;
    assert_int_equal(rt_sse_parser_feed(p, first, sizeof(first) - 1), 0);
    assert_string_equal(rt_sse_parser_last_id(p, &len), "9");
    assert_int_equal(len, 1);
    rt_sse_parser_reset(p);
    assert_string_equal(rt_sse_parser_last_id(p, &len), "9");
    assert_int_equal(rt_sse_parser_feed(p, "\ndata: y\n\n", 10), 0);
    assert_string_equal(out.s, "event=message id=9 data=x\n"
                               "event=message id=9 data=y\n");
    rt_sse_parser_free(p);
    th_str_free(&out);
}

static void test_sse_parser_reset_clears_sticky_error(void **state)
{
    rt_sse_parser *p;
    rt_sse_parser_opts o;
    th_str out;
    sse_run r = {0};

    (void)state;
    th_str_init(&out);
    rt_sse_parser_opts_init(&o);
    o.max_line_bytes = 8;
    assert_int_equal(rt_sse_parser_new(&p, &o, on_event, on_retry, &r), 0);
    r.p = p;
    r.out = &out;
    assert_int_equal(rt_sse_parser_feed(p, "data: 123\n", 10), RT_ETOOBIG);
    assert_int_equal(rt_sse_parser_feed(p, "data: 1\n\n", 9), RT_ETOOBIG);
    assert_int_equal(rt_sse_parser_feed(p, NULL, 0), RT_ETOOBIG);
    assert_null(out.s);
    rt_sse_parser_reset(p);
    assert_int_equal(rt_sse_parser_feed(p, "data: 1\n\n", 9), 0);
    assert_string_equal(out.s, "event=message id= data=1\n");
    rt_sse_parser_free(p);
    th_str_free(&out);
}

static void test_sse_parser_set_last_id_resumes(void **state)
{
    sse_cfg cfg = {0};
    rt_sse_parser *p;

    (void)state;
    cfg.start_id = "ep1-42";
    CHECK_CFG(&cfg, "data: a\n\n",
              "event=message id=ep1-42 data=a\nlast_id=ep1-42\n");
    CHECK_CFG(&cfg, "id: ep1-43\ndata: a\n\n",
              "event=message id=ep1-43 data=a\nlast_id=ep1-43\n");
    CHECK_CFG(&cfg, "id\n\n", "last_id=\n");

    assert_int_equal(rt_sse_parser_new(&p, NULL, NULL, NULL, NULL), 0);
    assert_string_equal(rt_sse_parser_last_id(p, NULL), "");
    assert_int_equal(rt_sse_parser_set_last_id(p, "a\0b", 3), 0);
    assert_memory_equal(rt_sse_parser_last_id(p, NULL), "a\0b", 4);
    assert_int_equal(rt_sse_parser_set_last_id(p, NULL, 0), 0);
    assert_string_equal(rt_sse_parser_last_id(p, NULL), "");
    assert_int_equal(rt_sse_parser_set_last_id(p, NULL, 1), RT_EINVAL);
    rt_sse_parser_free(p);
}

static void test_sse_parser_set_last_id_bounded(void **state)
{
    rt_sse_parser_opts o;
    rt_sse_parser *p;
    char id[17];

    (void)state;
    memset(id, 'x', sizeof(id));
    rt_sse_parser_opts_init(&o);
    o.max_line_bytes = 16;
    assert_int_equal(rt_sse_parser_new(&p, &o, NULL, NULL, NULL), 0);
    assert_int_equal(rt_sse_parser_set_last_id(p, id, 16), 0);
    assert_int_equal(rt_sse_parser_set_last_id(p, id, 17), RT_EINVAL);
    assert_memory_equal(rt_sse_parser_last_id(p, NULL), id, 16);
    rt_sse_parser_free(p);
}

static void test_sse_parser_new_rejects_bad_args(void **state)
{
    rt_sse_parser_opts o;
    rt_sse_parser *p = (rt_sse_parser *)&o;

    (void)state;
    assert_int_equal(rt_sse_parser_new(NULL, NULL, NULL, NULL, NULL),
                     RT_EINVAL);
    rt_sse_parser_opts_init(&o);
    assert_int_equal(o.max_line_bytes, 1u << 20);
    assert_int_equal(o.max_data_bytes, 16u << 20);
    o.max_line_bytes = 0;
    assert_int_equal(rt_sse_parser_new(&p, &o, NULL, NULL, NULL), RT_EINVAL);
    assert_null(p);
    rt_sse_parser_opts_init(&o);
    o.max_data_bytes = 0;
    assert_int_equal(rt_sse_parser_new(&p, &o, NULL, NULL, NULL), RT_EINVAL);
    rt_sse_parser_free(NULL);
}

static void test_sse_parser_null_callbacks_still_track_state(void **state)
{
    rt_sse_parser *p;
    static const char in[] = "retry: 5\nid: 3\ndata: x\n\n";

    (void)state;
    assert_int_equal(rt_sse_parser_new(&p, NULL, NULL, NULL, NULL), 0);
    assert_int_equal(rt_sse_parser_feed(p, in, sizeof(in) - 1), 0);
    assert_string_equal(rt_sse_parser_last_id(p, NULL), "3");
    rt_sse_parser_free(p);
}

/* ------------------------------------------------------------------ */
/* Limits                                                              */

static void test_sse_parser_line_at_limit_passes(void **state)
{
    sse_cfg cfg = {0};

    (void)state;
    cfg.max_line = 16;
    /* 16 bytes exactly, with every line end. */
    CHECK_CFG(&cfg, "data: 0123456789\n\n",
              "event=message id= data=0123456789\nlast_id=\n");
    CHECK_CFG(&cfg, "data: 0123456789\r\r",
              "event=message id= data=0123456789\nlast_id=\n");
    CHECK_CFG(&cfg, "data: 0123456789\r\n\r\n",
              "event=message id= data=0123456789\nlast_id=\n");
    /* An unterminated last line at the limit is kept, not an error. */
    CHECK_CFG(&cfg, "data: 0123456789", "last_id=\n");
    /* The stripped BOM does not count. */
    CHECK_CFG(&cfg,
              "\xEF\xBB\xBF"
              "data: 0123456789\n\n",
              "event=message id= data=0123456789\nlast_id=\n");
}

static void test_sse_parser_line_past_limit_fails(void **state)
{
    sse_cfg cfg = {0};

    (void)state;
    cfg.max_line = 16;
    CHECK_CFG(&cfg, "data: a\n\ndata: 0123456789A\n\ndata: b\n\n",
              "event=message id= data=a\nerror=TOOBIG\nlast_id=\n");
    /* Without its line end too, and for comments and unknown fields. */
    CHECK_CFG(&cfg, "data: 0123456789A", "error=TOOBIG\nlast_id=\n");
    CHECK_CFG(&cfg, ": 0123456789ABCDE\n", "error=TOOBIG\nlast_id=\n");
    /* A BOM prefix that is not a BOM counts as line bytes. */
    CHECK_CFG(&cfg,
              "\xEF\xBB"
              "data: 01234567\n",
              "last_id=\n");
    CHECK_CFG(&cfg,
              "\xEF\xBB"
              "data: 012345678\n",
              "error=TOOBIG\nlast_id=\n");
}

static void test_sse_parser_long_line_no_big_allocation(void **state)
{
    rt_sse_parser_opts o;
    rt_sse_parser *p;
    size_t big = (size_t)8 << 20, chunk = 1000, i;
    char *line = malloc(big);
    int rc = 0;

    (void)state;
    assert_non_null(line);
    memcpy(line, "data: ", 6);
    memset(line + 6, 'x', big - 6);
    th_alloc_install();
    rt_sse_parser_opts_init(&o);
    o.max_line_bytes = 4096;

    /* In chunks: the partial line must stop growing at the bound. */
    th_alloc_fail_at(-1);
    assert_int_equal(rt_sse_parser_new(&p, &o, NULL, NULL, NULL), 0);
    for (i = 0; i + chunk <= big && rc == 0; i += chunk)
        rc = rt_sse_parser_feed(p, line + i, chunk);
    assert_int_equal(rc, RT_ETOOBIG);
    assert_int_equal(i, 5 * chunk);
    assert_true(th_alloc_biggest() <= 2 * 4096 + 64);
    rt_sse_parser_free(p);

    /* Whole: refused without copying it. */
    th_alloc_fail_at(-1);
    assert_int_equal(rt_sse_parser_new(&p, &o, NULL, NULL, NULL), 0);
    assert_int_equal(rt_sse_parser_feed(p, line, big), RT_ETOOBIG);
    assert_true(th_alloc_biggest() <= 2 * 4096 + 64);
    rt_sse_parser_free(p);

    assert_int_equal(th_alloc_live(), 0);
    th_alloc_uninstall();
    free(line);
}

static void test_sse_parser_data_limit(void **state)
{
    sse_cfg cfg = {0};

    (void)state;
    cfg.max_data = 8;
    CHECK_CFG(&cfg, "data: 12345678\n\n",
              "event=message id= data=12345678\nlast_id=\n");
    /* The LF between lines counts; the removed trailing one does not. */
    CHECK_CFG(&cfg, "data: 1234\ndata: 567\n\n",
              "event=message id= data=1234\\n567\nlast_id=\n");
    CHECK_CFG(&cfg, "data: 1234\ndata: 5678\n\ndata: x\n\n",
              "error=TOOBIG\nlast_id=\n");
    CHECK_CFG(&cfg, "data: 123456789\n", "error=TOOBIG\nlast_id=\n");
    /* The limit is per event. */
    CHECK_CFG(&cfg, "data: 12345678\n\ndata: 12345678\n\n",
              "event=message id= data=12345678\n"
              "event=message id= data=12345678\nlast_id=\n");
}

/* ------------------------------------------------------------------ */
/* Cancel                                                              */

static void test_sse_parser_callback_cancel_is_sticky(void **state)
{
    sse_cfg cfg = {0};
    rt_sse_parser *p;
    th_str out;
    sse_run r = {0};
    static const char in[] = "data: 1\n\ndata: 2\n\nretry: 9\ndata: 3\n\n";

    (void)state;
    cfg.cancel_at = 2;
    /* Nothing after the cancelling event is parsed, not even retry. */
    CHECK_CFG(&cfg, "data: 1\n\ndata: 2\n\nretry: 9\ndata: 3\n\n",
              "event=message id= data=1\nevent=message id= data=2\n"
              "error=CANCELED\nlast_id=\n");

    th_str_init(&out);
    assert_int_equal(rt_sse_parser_new(&p, NULL, on_event, on_retry, &r), 0);
    r.p = p;
    r.out = &out;
    r.cancel_at = 1;
    assert_int_equal(rt_sse_parser_feed(p, in, sizeof(in) - 1), RT_ECANCELED);
    assert_int_equal(rt_sse_parser_feed(p, in, sizeof(in) - 1), RT_ECANCELED);
    assert_string_equal(out.s, "event=message id= data=1\n");
    rt_sse_parser_reset(p);
    assert_int_equal(rt_sse_parser_feed(p, in, sizeof(in) - 1), 0);
    /* Parsing resumes; the callback's count is past cancel_at now. */
    assert_string_equal(out.s, "event=message id= data=1\n"
                               "event=message id= data=1\n"
                               "event=message id= data=2\nretry=9\n"
                               "event=message id= data=3\n");
    rt_sse_parser_free(p);
    th_str_free(&out);
}

/* ------------------------------------------------------------------ */
/* Allocation failure                                                  */

static void test_sse_parser_nomem_is_clean(void **state)
{
    static const char in[] = "event: t\nid: 1\ndata: a\ndata: b\n\ndata: c";
    long n;
    int done = 0;

    (void)state;
    for (n = 0; !done && n < 100; n++) {
        rt_sse_parser *p = NULL;
        int rc;

        th_alloc_install();
        th_alloc_fail_at(n);
        rc = rt_sse_parser_new(&p, NULL, NULL, NULL, NULL);
        if (rc == 0) {
            /* Split so that a line straddles the feeds. */
            rc = rt_sse_parser_feed(p, in, 20);
            if (rc == 0)
                rc = rt_sse_parser_feed(p, in + 20, sizeof(in) - 21);
            if (rc != 0) {
                /* A failed feed is sticky. */
                assert_int_equal(rt_sse_parser_feed(p, "\n", 1), RT_ENOMEM);
            } else {
                rc = rt_sse_parser_set_last_id(p, "zz", 2);
                /* A failed set keeps the previous ID. */
                assert_string_equal(rt_sse_parser_last_id(p, NULL),
                                    rc == 0 ? "zz" : "1");
                done = rc == 0;
            }
        }
        th_alloc_fail_at(-1);
        if (!done)
            assert_int_equal(rc, RT_ENOMEM);
        rt_sse_parser_free(p);
        assert_int_equal(th_alloc_live(), 0);
        th_alloc_uninstall();
    }
    assert_true(done);
    assert_true(n > 3);
}

/* ------------------------------------------------------------------ */
/* Golden corpus                                                       */

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_sse_parser_golden_corpus(void **state)
{
    const char *dir = RT_TEST_DATA "/sse";
    DIR *d = opendir(dir);
    struct dirent *de;
    char *names[256];
    size_t n = 0, k;

    (void)state;
    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);

        if (l > 4 && strcmp(de->d_name + l - 4, ".sse") == 0) {
            assert_true(n < sizeof(names) / sizeof(names[0]));
            names[n] = malloc(l - 3);
            assert_non_null(names[n]);
            memcpy(names[n], de->d_name, l - 4);
            names[n][l - 4] = '\0';
            n++;
        }
    }
    closedir(d);
    qsort(names, n, sizeof(names[0]), cmp_names);
    assert_true(n >= 12);
    for (k = 0; k < n; k++) {
        char path[1024];
        char *in, *expect;
        size_t in_len = 0, expect_len = 0;

        snprintf(path, sizeof(path), "%s/%s.sse", dir, names[k]);
        in = th_read_file(path, &in_len);
        assert_non_null(in);
        snprintf(path, sizeof(path), "%s/%s.expect", dir, names[k]);
        expect = th_read_file(path, &expect_len);
        if (expect == NULL)
            fail_msg("%s: missing .expect", names[k]);
        print_message("[ golden   ] %s\n", names[k]);
        check_cfg(NULL, in, in_len, expect);
        free(in);
        free(expect);
        free(names[k]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sse_parser_bom_stripped_at_start),
        cmocka_unit_test(test_sse_parser_bom_stripped_only_once),
        cmocka_unit_test(test_sse_parser_bom_prefix_is_content),
        cmocka_unit_test(test_sse_parser_bom_rearmed_by_reset),
        cmocka_unit_test(test_sse_parser_line_ends_lf_cr_crlf),
        cmocka_unit_test(test_sse_parser_crlf_split_across_feeds_is_one_end),
        cmocka_unit_test(test_sse_parser_comments_ignored),
        cmocka_unit_test(test_sse_parser_field_without_colon),
        cmocka_unit_test(test_sse_parser_one_leading_space_stripped),
        cmocka_unit_test(test_sse_parser_multiline_data_joined_by_lf),
        cmocka_unit_test(test_sse_parser_data_keeps_nul_bytes),
        cmocka_unit_test(test_sse_parser_event_type_resets_after_dispatch),
        cmocka_unit_test(test_sse_parser_id_persists_across_events),
        cmocka_unit_test(test_sse_parser_id_empty_resets),
        cmocka_unit_test(test_sse_parser_id_with_nul_ignored),
        cmocka_unit_test(test_sse_parser_id_set_without_data_still_counts),
        cmocka_unit_test(test_sse_parser_retry_digits_only),
        cmocka_unit_test(test_sse_parser_retry_saturates),
        cmocka_unit_test(test_sse_parser_unknown_fields_ignored),
        cmocka_unit_test(test_sse_parser_empty_data_buffer_no_dispatch),
        cmocka_unit_test(test_sse_parser_unterminated_event_not_dispatched),
        cmocka_unit_test(test_sse_parser_reset_keeps_last_id_drops_partial),
        cmocka_unit_test(test_sse_parser_reset_clears_sticky_error),
        cmocka_unit_test(test_sse_parser_set_last_id_resumes),
        cmocka_unit_test(test_sse_parser_set_last_id_bounded),
        cmocka_unit_test(test_sse_parser_new_rejects_bad_args),
        cmocka_unit_test(test_sse_parser_null_callbacks_still_track_state),
        cmocka_unit_test(test_sse_parser_line_at_limit_passes),
        cmocka_unit_test(test_sse_parser_line_past_limit_fails),
        cmocka_unit_test(test_sse_parser_long_line_no_big_allocation),
        cmocka_unit_test(test_sse_parser_data_limit),
        cmocka_unit_test(test_sse_parser_callback_cancel_is_sticky),
        cmocka_unit_test(test_sse_parser_nomem_is_clean),
        cmocka_unit_test(test_sse_parser_golden_corpus),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
