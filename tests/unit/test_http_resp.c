/*
 * test_http_resp.c: the HTTP/1.1 response reader (lib/core/http_resp.c)
 * against RFC 9112: status line, fields, Content-Length, chunked coding,
 * close-delimited bodies, keep-alive sequences and the 101 hand-over.
 *
 * Every input goes through feed_all_splits().  Transcript lines:
 *   head STATUS cl=N chunked=C close=X [name=value]...
 *   body DATA            bodies are coalesced until done or the end
 *   done
 *   upgraded rest=N      bytes left after a 101 head
 *   eof=NAME|ok          rt_http_resp_eof() at the end
 *   error=NAME           the first failing feed
 */
#include "helpers.h"

#include "rt/error.h"
#include "rt/http_resp.h"

typedef struct hr {
    rt_http_resp *r;
    th_str *out;
    th_str body;
    size_t rest;
} hr;

static void flush_body(hr *h)
{
    if (h->body.len > 0) {
        th_str_printf(h->out, "body %s\n", h->body.s);
        h->body.len = 0;
        h->body.s[0] = '\0';
    }
}

static int on_head(const rt_http_head *head, void *ud)
{
    hr *h = ud;
    size_t i;

    th_str_printf(h->out, "head %d cl=%lld chunked=%d close=%d", head->status,
                  (long long)head->content_length, head->chunked, head->close);
    for (i = 0; i < head->nheaders; i++)
        th_str_printf(h->out, " %.*s=%.*s", (int)head->headers[i].name_len,
                      head->headers[i].name, (int)head->headers[i].value_len,
                      head->headers[i].value);
    th_str_puts(h->out, "\n");
    return 0;
}

static int on_body(const char *p, size_t len, void *ud)
{
    hr *h = ud;

    th_str_putn(&h->body, p, len);
    return 0;
}

static int on_done(void *ud)
{
    hr *h = ud;

    flush_body(h);
    th_str_puts(h->out, "done\n");
    return 0;
}

static void *hr_open(void *ctx, th_str *out)
{
    rt_http_resp_cbs cbs = {on_head, on_body, on_done};
    hr *h = calloc(1, sizeof(*h));

    (void)ctx;
    assert_non_null(h);
    h->out = out;
    th_str_init(&h->body);
    th_str_putn(&h->body, "", 0);
    assert_int_equal(rt_http_resp_new(&h->r, 256, &cbs, h), 0);
    return h;
}

static int hr_feed(void *p, const char *buf, size_t len)
{
    hr *h = p;
    size_t used;
    int rc;

    if (rt_http_resp_upgraded(h->r)) {
        h->rest += len;
        return 0;
    }
    rc = rt_http_resp_feed(h->r, buf, len, &used);
    if (rc == 0)
        h->rest += len - used;
    return rc;
}

static void hr_close(void *p, th_str *out)
{
    hr *h = p;
    int rc;

    flush_body(h);
    if (rt_http_resp_upgraded(h->r)) {
        th_str_printf(out, "upgraded rest=%zu\n", h->rest);
    } else {
        rc = rt_http_resp_eof(h->r);
        flush_body(h);
        th_str_printf(out, "eof=%s\n", rc ? rt_err_name(rc) : "ok");
    }
    rt_http_resp_free(h->r);
    th_str_free(&h->body);
    free(h);
}

static const th_feeder feeder = {hr_open, hr_feed, hr_close, NULL};

static void expect(const char *in, const char *want)
{
    char *got = feed_all_splits(&feeder, in, strlen(in));

    if (strcmp(got, want) != 0) {
        print_error("--- expected:\n%s--- got:\n%s", want, got);
        fail();
    }
    free(got);
}

static void test_http_resp_content_length_keep_alive(void **state)
{
    (void)state;
    expect("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A:  b \r\n\r\nhello"
           "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}",
           "head 200 cl=5 chunked=0 close=0 Content-Length=5 X-A=b\n"
           "body hello\ndone\n"
           "head 200 cl=2 chunked=0 close=0 content-length=2\n"
           "body {}\ndone\neof=ok\n");
}

static void test_http_resp_chunked_with_extension_and_trailer(void **state)
{
    (void)state;
    expect("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
           "5;x=y\r\nhello\r\n1a\r\nabcdefghijklmnopqrstuvwxyz\r\n"
           "0\r\nT: v\r\n\r\n",
           "head 200 cl=-1 chunked=1 close=0 Transfer-Encoding=chunked\n"
           "body helloabcdefghijklmnopqrstuvwxyz\ndone\neof=ok\n");
}

static void test_http_resp_chunked_cut_short_is_error_at_eof(void **state)
{
    (void)state;
    expect("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
           "a\r\nhel",
           "head 200 cl=-1 chunked=1 close=0 Transfer-Encoding=chunked\n"
           "body hel\neof=PROTO\n");
}

static void test_http_resp_body_until_close(void **state)
{
    (void)state;
    expect("HTTP/1.0 200 OK\nContent-Type: text/event-stream\n\n"
           "data: x\n\n",
           "head 200 cl=-1 chunked=0 close=1 "
           "Content-Type=text/event-stream\n"
           "body data: x\n\n\ndone\neof=ok\n");
}

static void test_http_resp_no_body_statuses_and_interim(void **state)
{
    (void)state;
    expect("HTTP/1.1 100 Continue\r\n\r\n"
           "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n",
           "head 204 cl=-1 chunked=0 close=1 Connection=close\ndone\n"
           "eof=ok\n");
}

static void test_http_resp_upgrade_leaves_the_rest(void **state)
{
    (void)state;
    expect("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"
           "\x81\x02hi",
           "head 101 cl=-1 chunked=0 close=0 Upgrade=websocket\n"
           "upgraded rest=4\n");
}

static void test_http_resp_malformed(void **state)
{
    (void)state;
    expect("HTTP/2 200 OK\r\n\r\n", "error=PROTO\neof=PROTO\n");
    expect("HTTP/1.1 200 OK\r\n folded\r\n\r\n", "error=PROTO\neof=PROTO\n");
    expect("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n"
           "\r\n",
           "error=PROTO\neof=PROTO\n");
    expect("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
           "error=PROTO\neof=PROTO\n");
    expect("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
           "error=PROTO\neof=PROTO\n");
    expect("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
           "head 200 cl=-1 chunked=1 close=0 Transfer-Encoding=chunked\n"
           "error=PROTO\neof=PROTO\n");
    expect("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
           "error=PROTO\neof=PROTO\n");
}

static void test_http_resp_head_over_limit(void **state)
{
    char big[400];

    (void)state;
    memset(big, 'a', sizeof(big));
    memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
    big[sizeof(big) - 1] = '\0';
    expect(big, "error=TOOBIG\neof=TOOBIG\n");
}

static void test_http_resp_free_null(void **state)
{
    (void)state;
    rt_http_resp_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_resp_content_length_keep_alive),
        cmocka_unit_test(test_http_resp_chunked_with_extension_and_trailer),
        cmocka_unit_test(test_http_resp_chunked_cut_short_is_error_at_eof),
        cmocka_unit_test(test_http_resp_body_until_close),
        cmocka_unit_test(test_http_resp_no_body_statuses_and_interim),
        cmocka_unit_test(test_http_resp_upgrade_leaves_the_rest),
        cmocka_unit_test(test_http_resp_malformed),
        cmocka_unit_test(test_http_resp_head_over_limit),
        cmocka_unit_test(test_http_resp_free_null),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
