/*
 * failover.c: the URL list and backoff the clients share (failover.h).
 *
 * Invariants: n >= 1; cur < n; failed < n between calls (a round that
 * reaches n failures hands out a delay and starts again at 0).
 */
#include <string.h>

#include "failover.h"

#include "core_int.h"

int rt__failover_http(const rt_url *u)
{
    return rt_url_get_scheme(u) == RT_URL_HTTP ||
           rt_url_get_scheme(u) == RT_URL_HTTPS;
}

int rt__failover_ws(const rt_url *u)
{
    return rt_url_get_scheme(u) == RT_URL_WS ||
           rt_url_get_scheme(u) == RT_URL_WSS;
}

static void free_urls(rt__failover *f)
{
    size_t i;

    for (i = 0; i < f->n; i++) {
        rt_url_free(f->urls[i]);
        rt_free(f->strs[i]);
    }
    rt__free(f->urls);
    rt__free(f->strs);
    f->urls = NULL;
    f->strs = NULL;
    f->n = 0;
}

int rt__failover_init(rt__failover *f, const rt_backoff_policy *p,
                      const char *first, const char *const *more,
                      rt__failover_accept accept, size_t *bad)
{
    size_t n = 1, i;
    int rc;

    if (f == NULL || p == NULL || first == NULL || accept == NULL)
        return RT_EINVAL;
    memset(f, 0, sizeof(*f));
    if ((rc = rt_backoff_init(&f->backoff, p)) != 0)
        return rc;
    while (more != NULL && more[n - 1] != NULL)
        n++;
    f->urls = rt__calloc(n, sizeof(*f->urls));
    f->strs = rt__calloc(n, sizeof(*f->strs));
    if (f->urls == NULL || f->strs == NULL) {
        free_urls(f);
        return RT_ENOMEM;
    }
    for (i = 0; i < n; i++) {
        const char *s = i == 0 ? first : more[i - 1];

        f->n = i + 1;
        rc = rt_url_parse(&f->urls[i], s, NULL, 0);
        if (rc == 0 && !accept(f->urls[i]))
            rc = RT_EURL;
        if (rc == 0)
            rc = rt_url_format(f->urls[i], &f->strs[i]);
        if (rc != 0) {
            if (bad != NULL)
                *bad = i;
            free_urls(f);
            return rc;
        }
    }
    return 0;
}

void rt__failover_cleanup(rt__failover *f)
{
    if (f != NULL)
        free_urls(f);
}

const rt_url *rt__failover_url(const rt__failover *f)
{
    return f->urls[f->cur];
}

const char *rt__failover_str(const rt__failover *f)
{
    return f->strs[f->cur];
}

void rt__failover_connected(rt__failover *f, uint64_t up_ms)
{
    rt_backoff_connected(&f->backoff, up_ms);
    f->ever_up = 1;
    if (up_ms >= f->backoff.p.stable_ms)
        f->failed = 0;
}

void rt__failover_delivered(rt__failover *f)
{
    rt_backoff_delivered(&f->backoff);
    f->ever_up = 1;
    f->failed = 0;
}

int rt__failover_untried(const rt__failover *f)
{
    return !f->ever_up && f->failed + 1 < f->n;
}

int rt__failover_next(rt__failover *f, uint32_t rand32, uint64_t *delay_ms)
{
    int rc;

    if (f->failed + 1 < f->n) {
        f->failed++;
        f->cur = (f->cur + 1) % f->n;
        *delay_ms = 0;
        return 0;
    }
    if ((rc = rt_backoff_next(&f->backoff, rand32, delay_ms)) != 0)
        return rc;
    f->failed = 0;
    f->cur = (f->cur + 1) % f->n;
    return 0;
}

void rt__url_list_free(char **v)
{
    size_t i;

    if (v == NULL)
        return;
    for (i = 0; v[i] != NULL; i++)
        rt__free(v[i]);
    rt__free(v);
}

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

int rt__url_list_split(const char *const *given, size_t n, char ***out,
                       size_t *count, char *err, size_t errlen)
{
    const char *s, *e, *a, *b;
    char **v = NULL, **nv;
    size_t i, k = 0, cap = 0, item;

    *out = NULL;
    *count = 0;
    for (i = 0; i < n; i++) {
        s = given[i];
        for (item = 1;; item++) {
            e = s + strcspn(s, ",");
            for (a = s; a < e && is_space(*a); a++)
                ;
            for (b = e; b > a && is_space(b[-1]); b--)
                ;
            if (a == b) {
                if (e == given[i] + strlen(given[i]) && item == 1)
                    rt__seterr(err, errlen, "'%.200s' is empty", given[i]);
                else
                    rt__seterr(err, errlen, "item %zu of '%.200s' is empty",
                               item, given[i]);
                rt__url_list_free(v);
                return RT_EURL;
            }
            if (k + 2 > cap) {
                cap = cap == 0 ? 4 : cap * 2;
                nv = rt__reallocarray(v, cap, sizeof(*v));
                if (nv == NULL)
                    goto nomem;
                v = nv;
            }
            if ((v[k] = rt__strndup(a, (size_t)(b - a))) == NULL)
                goto nomem;
            v[++k] = NULL;
            if (*e == '\0')
                break;
            s = e + 1;
        }
    }
    if (v == NULL) {
        v = rt__calloc(1, sizeof(*v));
        if (v == NULL)
            return RT_ENOMEM;
    }
    *out = v;
    *count = k;
    return 0;

nomem:
    rt__url_list_free(v);
    return RT_ENOMEM;
}

void rt__url_list_dedupe(char **v, size_t *count)
{
    size_t i, j, k = 0;

    for (i = 0; v[i] != NULL; i++) {
        for (j = 0; j < k; j++)
            if (strcmp(v[j], v[i]) == 0)
                break;
        if (j < k) {
            rt__free(v[i]);
            continue;
        }
        v[k++] = v[i];
    }
    v[k] = NULL;
    *count = k;
}
