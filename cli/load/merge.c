/*
 * merge.c: reports as values that add up.  A report's histograms are
 * HdrHistogram-style (rt/hist.h): two merged hold exactly what one would
 * have held had it recorded both runs, so the percentiles of a merge are
 * those of the whole, not an average of percentiles.  --workers merges
 * its processes' reports this way, and `rtctl report merge` merges the
 * --report-json files of runs on several machines.
 *
 * Counters add; gauges of a whole run (its duration, ramp) take the
 * largest; the generator's CPU and memory add (several processes).  The
 * time series merges interval by interval: interval k of every report
 * covers the same span after each run's start (--start-at aligns the
 * starts of several machines).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "load/load.h"
#include "rt/alloc.h"

int cli_report_init(struct cli_report *r)
{
    int k;

    if (rt_hist_new_default(&r->connect) != 0 ||
        rt_hist_new_default(&r->ilat) != 0)
        return -1;
    for (k = 0; k < TR_N; k++)
        if (rt_hist_new_default(&r->tr[k].lat) != 0 ||
            rt_hist_new_default(&r->tr[k].reconnect) != 0)
            return -1;
    return 0;
}

void cli_report_cleanup(struct cli_report *r)
{
    size_t i;
    int k;

    for (k = 0; k < TR_N; k++) {
        rt_hist_free(r->tr[k].lat);
        rt_hist_free(r->tr[k].reconnect);
        r->tr[k].lat = r->tr[k].reconnect = NULL;
    }
    rt_hist_free(r->connect);
    rt_hist_free(r->ilat);
    r->connect = r->ilat = NULL;
    for (i = 0; i < r->nseries; i++)
        rt_free(r->series[i].hist);
    free(r->series);
    r->series = NULL;
    r->nseries = r->series_cap = 0;
}

static void point_figures(struct cli_point *p, const rt_hist *h)
{
    p->count = rt_hist_count(h);
    p->p50 = rt_hist_percentile(h, 50);
    p->p90 = rt_hist_percentile(h, 90);
    p->p99 = rt_hist_percentile(h, 99);
    p->max = rt_hist_max(h);
}

/* Room for one more point at |at|; NULL when out of memory. */
static struct cli_point *insert_point(struct cli_report *r, size_t at)
{
    if (r->nseries == r->series_cap) {
        size_t cap = r->series_cap ? r->series_cap * 2 : 64;
        struct cli_point *ns = realloc(r->series, cap * sizeof(*ns));

        if (ns == NULL)
            return NULL;
        r->series = ns;
        r->series_cap = cap;
    }
    memmove(&r->series[at + 1], &r->series[at],
            (r->nseries - at) * sizeof(*r->series));
    r->nseries++;
    memset(&r->series[at], 0, sizeof(*r->series));
    return &r->series[at];
}

int cli_report_point(struct cli_report *r, uint64_t t_ms, uint64_t conns,
                     uint64_t sent, uint64_t delivered, uint64_t errors)
{
    struct cli_point *p = insert_point(r, r->nseries);

    if (p == NULL)
        return -1;
    p->t_ms = t_ms;
    p->conns = conns;
    p->sent = sent;
    p->delivered = delivered;
    p->errors = errors;
    point_figures(p, r->ilat);
    if (p->count > 0 && rt_hist_to_json(r->ilat, &p->hist, NULL) != 0)
        return -1;
    rt_hist_reset(r->ilat);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Reading a report                                                    */

struct rd {
    const char *what; /* the first missing or bad member */
    char *err;
    size_t errlen;
};

static double num(struct rd *d, const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

    if (cJSON_IsBool(v))
        return cJSON_IsTrue(v) ? 1 : 0;
    /* exact integers only: a cast from beyond them would be undefined */
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) ||
        v->valuedouble > 9007199254740992.0) {
        if (d->what == NULL)
            d->what = name;
        return 0;
    }
    return v->valuedouble;
}

static unsigned u32(struct rd *d, const cJSON *o, const char *name)
{
    double v = num(d, o, name);

    if (v > 4294967295.0) {
        if (d->what == NULL)
            d->what = name;
        return 0;
    }
    return (unsigned)v;
}

static uint64_t u64(struct rd *d, const cJSON *o, const char *name)
{
    return (uint64_t)num(d, o, name);
}

static const cJSON *obj(struct rd *d, const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

    if (!cJSON_IsObject(v) && d->what == NULL)
        d->what = name;
    return v;
}

/* Merge the "histogram" of summary object |o| into |h|. */
static void hist_in(struct rd *d, const cJSON *o, const char *name, rt_hist *h)
{
    const cJSON *s = obj(d, o, name), *full;
    char e[128], *text;
    rt_hist *x = NULL;

    if (s == NULL || d->what != NULL)
        return;
    full = cJSON_GetObjectItemCaseSensitive(s, "histogram");
    if (full == NULL) {
        d->what = name;
        return;
    }
    text = cJSON_PrintUnformatted(full);
    if (text == NULL ||
        rt_hist_from_json(&x, text, strlen(text), e, sizeof(e)) != 0 ||
        rt_hist_merge(h, x) != 0) {
        d->what = name;
        snprintf(d->err, d->errlen, "%s: %s", name,
                 text == NULL ? "out of memory" : e);
    }
    cJSON_free(text);
    rt_hist_free(x);
}

int cli_report_from_json(struct cli_report *r, const cJSON *doc, char *err,
                         size_t errlen)
{
    struct rd d = {NULL, err, errlen};
    const cJSON *c, *o, *trs, *ser, *v;
    int k;

    err[0] = '\0';
    v = cJSON_GetObjectItemCaseSensitive(doc, "version");
    if (!cJSON_IsNumber(v) || v->valuedouble != 1) {
        snprintf(err, errlen, "not an rtctl load report (version 1)");
        return -1;
    }
    v = cJSON_GetObjectItemCaseSensitive(doc, "url");
    r->url = cJSON_IsString(v) ? v->valuestring : "?";
    r->interrupted = (int)num(&d, doc, "interrupted");
    c = obj(&d, doc, "config");
    r->subscribers = u32(&d, c, "subscribers");
    v = cJSON_GetObjectItemCaseSensitive(c, "transport");
    r->transport_spec = cJSON_IsString(v) ? v->valuestring : "?";
    r->publishers = u32(&d, c, "publishers");
    r->rooms = u32(&d, c, "rooms");
    r->rate = num(&d, c, "rate");
    r->size = u64(&d, c, "size");
    r->duration_ms = u64(&d, c, "duration_ms");
    r->warmup_ms = u64(&d, c, "warmup_ms");
    r->raw = (int)num(&d, c, "raw");
    r->in_flight = u64(&d, c, "in_flight");
    r->workers = u32(&d, c, "workers");
    r->interval_ms = u64(&d, c, "interval_ms");
    o = obj(&d, doc, "time");
    r->ramp_s = num(&d, o, "ramp_s");
    r->run_s = num(&d, o, "run_s");
    r->measured_s = num(&d, o, "measured_s");
    o = obj(&d, doc, "messages");
    r->sent = u64(&d, o, "sent");
    r->measured_sent = u64(&d, o, "sent_measured");
    r->acked = u64(&d, o, "acked");
    r->not_sent = u64(&d, o, "not_sent");
    r->frames_total = u64(&d, o, "frames_received");
    o = obj(&d, doc, "frames_received");
    for (k = 0; k < TR_N; k++)
        r->tr[k].frames = u64(&d, o, cli_load_tr_names[k]);
    o = obj(&d, doc, "errors");
    r->errors = u64(&d, o, "total");
    r->err_connect = u64(&d, o, "connect");
    r->err_drop = u64(&d, o, "dropped");
    r->err_http = u64(&d, o, "http");
    r->err_protocol = u64(&d, o, "protocol");
    r->err_server = u64(&d, o, "server");
    r->fd_exhausted = u64(&d, o, "fd_exhausted");
    r->ports_exhausted = u64(&d, o, "ports_exhausted");
    hist_in(&d, doc, "connect_time_us", r->connect);
    trs = obj(&d, doc, "transports");
    for (k = 0; k < TR_N && d.what == NULL; k++) {
        struct cli_tr_stats *t = &r->tr[k];

        o = cJSON_GetObjectItemCaseSensitive(trs, cli_load_tr_names[k]);
        if (o == NULL)
            continue;
        t->conns = u32(&d, o, "subscribers");
        t->opened = u64(&d, o, "opened");
        t->connect_failed = u64(&d, o, "connect_failed");
        t->drops = u64(&d, o, "dropped");
        t->reconnects = u64(&d, o, "reconnects");
        t->delivered = u64(&d, o, "delivered");
        t->measured = u64(&d, o, "delivered_measured");
        t->bytes = u64(&d, o, "bytes");
        t->c.unique = u64(&d, o, "unique");
        t->c.lost = u64(&d, o, "lost");
        t->c.dup = u64(&d, o, "duplicated");
        t->c.reordered = u64(&d, o, "reordered");
        t->not_recovered = u64(&d, o, "not_recovered");
        hist_in(&d, o, "latency_us", t->lat);
        hist_in(&d, o, "reconnect_time_us", t->reconnect);
    }
    /* the publishers' reconnects: the total less the subscribers' */
    {
        uint64_t all = u64(&d, doc, "reconnects"), subs = 0;

        for (k = 0; k < TR_N; k++)
            subs += r->tr[k].reconnects;
        r->pub_reconnects = all > subs ? all - subs : 0;
    }
    o = obj(&d, doc, "generator");
    r->cpu_user_s = num(&d, o, "cpu_user_s");
    r->cpu_sys_s = num(&d, o, "cpu_sys_s");
    r->cpu_pct = num(&d, o, "cpu_percent");
    r->cpu_saturated = (int)num(&d, o, "cpu_saturated");
    r->rss_kb = (long)num(&d, o, "rss_kb");
    r->rss_base_kb = (long)num(&d, o, "rss_base_kb");
    r->rss_idle_kb = (long)num(&d, o, "rss_idle_kb");
    ser = cJSON_GetObjectItemCaseSensitive(doc, "series");
    if (!cJSON_IsArray(ser) && d.what == NULL)
        d.what = "series";
    cJSON_ArrayForEach(v, ser)
    {
        struct cli_point *p;
        const cJSON *l, *h;

        if (d.what != NULL)
            break;
        p = insert_point(r, r->nseries);
        if (p == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        p->t_ms = u64(&d, v, "t_ms");
        p->conns = u64(&d, v, "connections");
        p->sent = u64(&d, v, "sent");
        p->delivered = u64(&d, v, "delivered");
        p->errors = u64(&d, v, "errors");
        l = obj(&d, v, "latency_us");
        p->count = u64(&d, l, "count");
        h = cJSON_GetObjectItemCaseSensitive(l, "histogram");
        if (p->count > 0 && d.what == NULL) {
            rt_hist *x = NULL;
            char e[128];

            p->hist = h ? cJSON_PrintUnformatted(h) : NULL;
            if (p->hist == NULL ||
                rt_hist_from_json(&x, p->hist, strlen(p->hist), e,
                                  sizeof(e)) != 0 ||
                rt_hist_count(x) != p->count) {
                d.what = "series latency_us";
            } else {
                point_figures(p, x);
            }
            rt_hist_free(x);
        }
        if (r->nseries > 1 && p[-1].t_ms >= p->t_ms && d.what == NULL)
            d.what = "series t_ms (not increasing)";
    }
    if (d.what != NULL) {
        if (err[0] == '\0')
            snprintf(err, errlen, "missing or bad member '%s'", d.what);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Adding reports                                                      */

static int add_point(struct cli_report *dst, const struct cli_point *sp)
{
    struct cli_point *p;
    size_t at = 0;

    while (at < dst->nseries && dst->series[at].t_ms < sp->t_ms)
        at++;
    if (at == dst->nseries || dst->series[at].t_ms != sp->t_ms) {
        p = insert_point(dst, at);
        if (p == NULL)
            return -1;
        p->t_ms = sp->t_ms;
    }
    p = &dst->series[at];
    p->conns += sp->conns;
    p->sent += sp->sent;
    p->delivered += sp->delivered;
    p->errors += sp->errors;
    if (sp->hist != NULL) {
        rt_hist *a = NULL, *b = NULL;
        char *text = NULL;
        int rc = -1;

        if (rt_hist_from_json(&b, sp->hist, strlen(sp->hist), NULL, 0) == 0 &&
            (p->hist == NULL ? rt_hist_new_default(&a)
                             : rt_hist_from_json(&a, p->hist, strlen(p->hist),
                                                 NULL, 0)) == 0 &&
            rt_hist_merge(a, b) == 0 && rt_hist_to_json(a, &text, NULL) == 0) {
            rt_free(p->hist);
            p->hist = text;
            point_figures(p, a);
            rc = 0;
        }
        rt_hist_free(a);
        rt_hist_free(b);
        if (rc != 0)
            return -1;
    }
    return 0;
}

int cli_report_add(struct cli_report *dst, const struct cli_report *src,
                   char *err, size_t errlen)
{
    int k, first = dst->workers == 0;
    size_t i;

    if (!first && dst->interval_ms != src->interval_ms && src->nseries > 0 &&
        dst->nseries > 0) {
        snprintf(err, errlen,
                 "the reports' time series have different intervals "
                 "(%llums and %llums)",
                 (unsigned long long)dst->interval_ms,
                 (unsigned long long)src->interval_ms);
        return -1;
    }
    if (!first && dst->raw != src->raw) {
        snprintf(err, errlen,
                 "a --raw report cannot merge with a "
                 "fan-out report");
        return -1;
    }
    if (first) {
        dst->url = src->url;
        dst->transport_spec = src->transport_spec;
        dst->raw = src->raw;
        dst->in_flight = src->in_flight;
        dst->size = src->size;
        dst->warmup_ms = src->warmup_ms;
        dst->interval_ms = src->interval_ms;
    } else {
        if (strcmp(dst->url, src->url) != 0)
            dst->url = "(several URLs)";
        if (strcmp(dst->transport_spec, src->transport_spec) != 0)
            dst->transport_spec = "mixed";
    }
    dst->workers += src->workers ? src->workers : 1;
    dst->interrupted |= src->interrupted;
    dst->subscribers += src->subscribers;
    dst->publishers += src->publishers;
    dst->rooms += src->rooms;
    dst->rate += src->rate;
    if (src->duration_ms > dst->duration_ms)
        dst->duration_ms = src->duration_ms;
    dst->ramp_s = fmax(dst->ramp_s, src->ramp_s);
    dst->run_s = fmax(dst->run_s, src->run_s);
    dst->measured_s = fmax(dst->measured_s, src->measured_s);
    dst->sent += src->sent;
    dst->acked += src->acked;
    dst->not_sent += src->not_sent;
    dst->send_errors += src->send_errors;
    dst->measured_sent += src->measured_sent;
    dst->errors += src->errors;
    dst->err_connect += src->err_connect;
    dst->err_drop += src->err_drop;
    dst->err_http += src->err_http;
    dst->err_protocol += src->err_protocol;
    dst->err_server += src->err_server;
    dst->fd_exhausted += src->fd_exhausted;
    dst->ports_exhausted += src->ports_exhausted;
    dst->pub_reconnects += src->pub_reconnects;
    dst->frames_total += src->frames_total;
    dst->cpu_user_s += src->cpu_user_s;
    dst->cpu_sys_s += src->cpu_sys_s;
    dst->cpu_pct += src->cpu_pct;
    dst->cpu_saturated |= src->cpu_saturated;
    dst->rss_kb += src->rss_kb;
    dst->rss_idle_kb += src->rss_idle_kb;
    dst->rss_base_kb += src->rss_base_kb;
    if (rt_hist_merge(dst->connect, src->connect) != 0)
        goto nomem;
    for (k = 0; k < TR_N; k++) {
        struct cli_tr_stats *d = &dst->tr[k];
        const struct cli_tr_stats *s = &src->tr[k];

        d->conns += s->conns;
        d->open += s->open;
        d->opened += s->opened;
        d->connect_failed += s->connect_failed;
        d->drops += s->drops;
        d->reconnects += s->reconnects;
        d->frames += s->frames;
        d->delivered += s->delivered;
        d->measured += s->measured;
        d->bytes += s->bytes;
        d->not_recovered += s->not_recovered;
        d->c.unique += s->c.unique;
        d->c.dup += s->c.dup;
        d->c.reordered += s->c.reordered;
        d->c.lost += s->c.lost;
        if (rt_hist_merge(d->lat, s->lat) != 0 ||
            rt_hist_merge(d->reconnect, s->reconnect) != 0)
            goto nomem;
    }
    for (i = 0; i < src->nseries; i++)
        if (add_point(dst, &src->series[i]) != 0)
            goto nomem;
    return 0;
nomem:
    snprintf(err, errlen, "out of memory (or a histogram that does not fit)");
    return -1;
}
