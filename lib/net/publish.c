/*
 * publish.c: one message POSTed to /publish/{room} on the loop's curl multi
 * handle (rt/publish.h).
 *
 * Spec: PROTOCOL.md sections 1 (POST /publish/{room}: 202 {"seq":N}) and 5
 * (error bodies), RFC 9110 Retry-After (handed back, not acted on).
 *
 * One easy handle per request: the header callback keeps the status line's
 * reason and Retry-After, the write callback keeps the beginning of the
 * body (an answer is a short JSON object), done() reads the answer and
 * calls back once.  The handle is freed right after the callback, or by
 * rt_publish_cancel() before it.
 */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "net_int.h"
#include "rt/publish.h"
#include "rt/url.h"

/* Bytes of an answer kept: a seq or an error object needs far fewer. */
#define MAX_ANSWER 65536

struct rt_publish_req {
    rt__xfer xfer; /* first: done() gets it back from CURLOPT_PRIVATE */
    rt_loop *loop;
    CURL *easy;
    struct curl_slist *hdrs;
    rt_publish_cb cb;
    void *ud;
    char *body; /* the request body, which curl does not copy */
    rt_buf resp;
    rt__http_hdrs answer; /* its Retry-After */
    char errbuf[CURL_ERROR_SIZE];
};

void rt_publish_opts_init(rt_publish_opts *o)
{
    if (o == NULL)
        return;
    memset(o, 0, sizeof(*o));
    o->connect_timeout_ms = 10000;
    o->timeout_ms = 30000;
}

static size_t on_header(char *b, size_t size, size_t n, void *ud)
{
    rt_publish_req *p = ud;
    size_t len = size * n;

    rt__net_header(&p->answer, b, len);
    return len;
}

static size_t on_write(char *b, size_t size, size_t n, void *ud)
{
    rt_publish_req *p = ud;
    size_t len = size * n, keep = 0;

    if (p->resp.len < MAX_ANSWER)
        keep = len < MAX_ANSWER - p->resp.len ? len : MAX_ANSWER - p->resp.len;
    if (keep > 0 && rt__buf_append(&p->resp, b, keep) != 0)
        return 0;
    return len;
}

static void destroy(rt_publish_req *p)
{
    if (p->easy != NULL) {
        rt__loop_remove(p->loop, p->easy);
        curl_easy_cleanup(p->easy);
    }
    curl_slist_free_all(p->hdrs);
    rt__buf_cleanup(&p->resp);
    rt__free(p->body);
    rt__free(p);
}

static void done(rt__xfer *x, CURLcode res)
{
    rt_publish_req *p = (rt_publish_req *)x;
    rt_publish_result r;
    cJSON *root = NULL, *s, *data, *c, *m;
    char detail[600];
    long code = 0;

    memset(&r, 0, sizeof(r));
    r.code = r.message = "";
    r.retry_after = p->answer.retry_after;
    r.detail = detail;
    if (res != CURLE_OK) {
        r.err = rt__net_map_curl(res);
        snprintf(detail, sizeof(detail), "%s: %s", rt_strerror(r.err),
                 p->errbuf[0] ? p->errbuf : curl_easy_strerror(res));
    } else {
        curl_easy_getinfo(p->easy, CURLINFO_RESPONSE_CODE, &code);
        r.status = (unsigned)code;
        root = cJSON_ParseWithLength(p->resp.data ? p->resp.data : "",
                                     p->resp.len);
        s = cJSON_GetObjectItemCaseSensitive(root, "seq");
        data = cJSON_GetObjectItemCaseSensitive(root, "data");
        c = cJSON_GetObjectItemCaseSensitive(data, "code");
        m = cJSON_GetObjectItemCaseSensitive(data, "message");
        if (cJSON_IsNumber(s) && s->valuedouble >= 1 &&
            s->valuedouble <= 9007199254740991.0)
            r.seq = (uint64_t)s->valuedouble;
        if (cJSON_IsString(c))
            r.code = c->valuestring;
        if (cJSON_IsString(m))
            r.message = m->valuestring;
        snprintf(detail, sizeof(detail), "HTTP %u%s%s", r.status,
                 r.message[0] ? ": " : "", r.message);
    }
    p->cb(p, &r, p->ud);
    cJSON_Delete(root);
    destroy(p);
}

int rt_publish(rt_publish_req **out, rt_loop *loop, const char *url,
               const char *json, size_t len, const rt_publish_opts *o,
               rt_publish_cb cb, void *ud)
{
    rt_publish_opts defaults;
    rt__easy_opts eo;
    rt_publish_req *p;
    rt_url *u = NULL;
    /* "Expect:": no 100-continue wait for a body this small. */
    static const char *const extra[] = {"Content-Type: application/json",
                                        "Expect:", NULL};
    int rc;

    if (out != NULL)
        *out = NULL;
    if (loop == NULL || url == NULL || (json == NULL && len > 0) || cb == NULL)
        return RT_EINVAL;
    if (o == NULL) {
        rt_publish_opts_init(&defaults);
        o = &defaults;
    }
    if (rt__net_headers_check(o->headers) < 0)
        return RT_EINVAL;
    if ((rc = rt_url_parse(&u, url, NULL, 0)) != 0)
        return rc;
    rc = rt_url_get_scheme(u) == RT_URL_HTTP ||
                 rt_url_get_scheme(u) == RT_URL_HTTPS
             ? 0
             : RT_EURL;
    rt_url_free(u);
    if (rc != 0)
        return rc;
    if ((p = rt__calloc(1, sizeof(*p))) == NULL)
        return RT_ENOMEM;
    rt__buf_init(&p->resp);
    p->xfer.done = done;
    p->loop = loop;
    p->cb = cb;
    p->ud = ud;
    rc = RT_ENOMEM;
    if ((p->body = rt__malloc(len + 1)) == NULL)
        goto fail;
    if (len > 0)
        memcpy(p->body, json, len);
    p->body[len] = '\0';
    if (rt__net_slist_add(&p->hdrs, o->headers) != 0 ||
        rt__net_slist_add(&p->hdrs, extra) != 0)
        goto fail;
    memset(&eo, 0, sizeof(eo));
    eo.url = url;
    eo.xfer = &p->xfer;
    eo.headers = p->hdrs;
    eo.on_header = on_header;
    eo.on_write = on_write;
    eo.ud = p;
    eo.errbuf = p->errbuf;
    eo.connect_timeout_ms = o->connect_timeout_ms;
    eo.timeout_ms = o->timeout_ms;
    eo.cacert = o->cacert;
    eo.insecure = o->insecure;
    if ((p->easy = rt__net_easy_new(&eo)) == NULL)
        goto fail;
    curl_easy_setopt(p->easy, CURLOPT_POSTFIELDS, p->body);
    curl_easy_setopt(p->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    if ((rc = rt__loop_add(loop, p->easy)) != 0) {
        curl_easy_cleanup(p->easy);
        p->easy = NULL;
        goto fail;
    }
    if (out != NULL)
        *out = p;
    return 0;

fail:
    destroy(p);
    return rc;
}

void rt_publish_cancel(rt_publish_req *p)
{
    if (p != NULL)
        destroy(p);
}
