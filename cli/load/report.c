/*
 * report.c: what `rtctl load` tells at the end: the k6-like summary on
 * stdout, the JSON report (every figure and the full latency histograms,
 * which merge exactly: rt/hist.h), and the --threshold verdicts.
 *
 * Threshold grammar: METRIC OP VALUE, OP one of < <= > >= == !=.
 *   latency: p50 p90 p99 p99.9 (any pNN.N), max, mean; VALUE with a unit
 *            us, ms (the default) or s
 *   counts:  lost, duplicated, reordered, errors, reconnects, delivered;
 *            VALUE a number, or a share with % (lost and duplicated of
 *            the expected deliveries, errors of the operations: connection
 *            attempts and messages sent)
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "load/load.h"
#include "load/scenario.h"
#include "rt/error.h"

const char *const cli_load_tr_names[TR_N] = {"ws", "sse", "poll"};

const char *cli_fmt_us(char *buf, size_t len, double us)
{
    if (us < 1000)
        snprintf(buf, len, "%.0fus", us);
    else if (us < 1000000)
        snprintf(buf, len, "%.2fms", us / 1000);
    else
        snprintf(buf, len, "%.2fs", us / 1000000);
    return buf;
}

int cli_threshold_parse(struct cli_threshold *t, const char *expr, char *err,
                        size_t errlen)
{
    const char *p = expr, *ops;
    size_t n = 0;
    char *end;

    memset(t, 0, sizeof(*t));
    t->expr = expr;
    while (*p == ' ')
        p++;
    while (*p && (isalnum((unsigned char)*p) || *p == '.' || *p == '_') &&
           n + 1 < sizeof(t->metric))
        t->metric[n++] = *p++;
    while (*p == ' ')
        p++;
    ops = p;
    if (strncmp(p, "<=", 2) == 0)
        t->op = 'l', p += 2;
    else if (strncmp(p, ">=", 2) == 0)
        t->op = 'g', p += 2;
    else if (strncmp(p, "==", 2) == 0)
        t->op = '=', p += 2;
    else if (strncmp(p, "!=", 2) == 0)
        t->op = '!', p += 2;
    else if (*p == '<' || *p == '>')
        t->op = *p++;
    if (n == 0 || t->op == 0) {
        snprintf(err, errlen,
                 "'%s' is not METRIC OP VALUE (like p99<50ms or lost==0)",
                 expr);
        return -1;
    }
    (void)ops;
    while (*p == ' ')
        p++;
    errno = 0;
    t->value = strtod(p, &end);
    if (end == p || errno != 0 || !isfinite(t->value) || t->value < 0) {
        snprintf(err, errlen, "'%s': '%s' is not a number", expr, p);
        return -1;
    }
    p = end;
    if (t->metric[0] == 'p' && isdigit((unsigned char)t->metric[1])) {
        char *e2;
        double q = strtod(t->metric + 1, &e2);

        if (*e2 != '\0' || q <= 0 || q > 100) {
            snprintf(err, errlen, "'%s': '%s' is not a percentile", expr,
                     t->metric);
            return -1;
        }
        t->latency = 1;
    } else if (strcmp(t->metric, "max") == 0 ||
               strcmp(t->metric, "mean") == 0) {
        t->latency = 1;
    } else if (strcmp(t->metric, "lost") && strcmp(t->metric, "duplicated") &&
               strcmp(t->metric, "reordered") && strcmp(t->metric, "errors") &&
               strcmp(t->metric, "reconnects") &&
               strcmp(t->metric, "delivered")) {
        snprintf(err, errlen,
                 "'%s': unknown metric '%s' (pNN, max, mean, lost, "
                 "duplicated, reordered, errors, reconnects, delivered)",
                 expr, t->metric);
        return -1;
    }
    if (t->latency) {
        if (*p == '\0' || strcmp(p, "ms") == 0)
            t->value *= 1000;
        else if (strcmp(p, "s") == 0)
            t->value *= 1000000;
        else if (strcmp(p, "us") != 0) {
            snprintf(err, errlen, "'%s': unit '%s' is not us, ms or s", expr,
                     p);
            return -1;
        }
    } else if (strcmp(p, "%") == 0) {
        if (strcmp(t->metric, "lost") && strcmp(t->metric, "duplicated") &&
            strcmp(t->metric, "errors")) {
            snprintf(err, errlen,
                     "'%s': only lost, duplicated and errors "
                     "take a %%",
                     expr);
            return -1;
        }
        t->percent = 1;
    } else if (*p != '\0') {
        snprintf(err, errlen, "'%s': '%s' after the number", expr, p);
        return -1;
    }
    return 0;
}

uint64_t cli_report_total(const struct cli_report *r, int what)
{
    uint64_t s = 0;
    int i;

    for (i = 0; i < TR_N; i++) {
        const struct cli_tr_stats *t = &r->tr[i];

        switch (what) {
        case TOT_DELIVERED:
            s += t->delivered;
            break;
        case TOT_LOST:
            s += t->c.lost;
            break;
        case TOT_DUP:
            s += t->c.dup;
            break;
        case TOT_REORDERED:
            s += t->c.reordered;
            break;
        case TOT_RECONNECTS:
            s += t->reconnects;
            break;
        case TOT_EXPECTED:
            s += t->c.unique + t->c.lost;
            break;
        }
    }
    if (what == TOT_RECONNECTS)
        s += r->pub_reconnects;
    return s;
}

/* The merged latency histogram of every transport (caller frees). */
static rt_hist *all_latency(const struct cli_report *r)
{
    rt_hist *h;
    int i;

    if (rt_hist_new_default(&h) != 0)
        return NULL;
    for (i = 0; i < TR_N; i++)
        if (r->tr[i].lat != NULL)
            rt_hist_merge(h, r->tr[i].lat);
    return h;
}

static double latency_of(const rt_hist *h, const char *metric)
{
    if (rt_hist_count(h) == 0)
        return NAN;
    if (strcmp(metric, "max") == 0)
        return (double)rt_hist_max(h);
    if (strcmp(metric, "mean") == 0)
        return rt_hist_mean(h);
    return (double)rt_hist_percentile(h, strtod(metric + 1, NULL));
}

static int compare(double a, int op, double b)
{
    switch (op) {
    case '<':
        return a < b;
    case 'l':
        return a <= b;
    case '>':
        return a > b;
    case 'g':
        return a >= b;
    case '=':
        return a == b;
    default:
        return a != b;
    }
}

size_t cli_report_check(struct cli_report *r)
{
    rt_hist *lat = all_latency(r);
    size_t i, failed = 0;

    for (i = 0; i < r->nth; i++) {
        struct cli_threshold *t = &r->th[i];
        double v;

        if (t->latency) {
            v = lat ? latency_of(lat, t->metric) : NAN;
        } else if (strcmp(t->metric, "errors") == 0) {
            double ops = 0;
            int k;

            for (k = 0; k < TR_N; k++)
                ops += (double)(r->tr[k].opened + r->tr[k].connect_failed);
            ops += (double)r->sent;
            v = (double)r->errors;
            if (t->percent)
                v = ops > 0 ? v * 100 / ops : 0;
        } else {
            int what = strcmp(t->metric, "lost") == 0         ? TOT_LOST
                       : strcmp(t->metric, "duplicated") == 0 ? TOT_DUP
                       : strcmp(t->metric, "reordered") == 0  ? TOT_REORDERED
                       : strcmp(t->metric, "reconnects") == 0 ? TOT_RECONNECTS
                                                              : TOT_DELIVERED;
            double exp = (double)cli_report_total(r, TOT_EXPECTED);

            v = (double)cli_report_total(r, what);
            if (t->percent)
                v = exp > 0 ? v * 100 / exp : 0;
        }
        t->seen = v;
        /* no latency measured: a latency threshold cannot be met */
        t->ok = !isnan(v) && compare(v, t->op, t->value);
        if (!t->ok)
            failed++;
    }
    rt_hist_free(lat);
    return failed;
}

static void lat_line(FILE *f, const rt_hist *h)
{
    char a[24], b[24], c[24], d[24], e[24];

    if (h == NULL || rt_hist_count(h) == 0) {
        fprintf(f, "-\n");
        return;
    }
    fprintf(f, "p50=%s p90=%s p99=%s p99.9=%s max=%s\n",
            cli_fmt_us(a, sizeof(a), (double)rt_hist_percentile(h, 50)),
            cli_fmt_us(b, sizeof(b), (double)rt_hist_percentile(h, 90)),
            cli_fmt_us(c, sizeof(c), (double)rt_hist_percentile(h, 99)),
            cli_fmt_us(d, sizeof(d), (double)rt_hist_percentile(h, 99.9)),
            cli_fmt_us(e, sizeof(e), (double)rt_hist_max(h)));
}

static const char *threshold_value(char *buf, size_t len,
                                   const struct cli_threshold *t)
{
    if (isnan(t->seen))
        snprintf(buf, len, "no latency measured");
    else if (t->latency)
        cli_fmt_us(buf, len, t->seen);
    else if (t->percent)
        snprintf(buf, len, "%.3g%%", t->seen);
    else
        snprintf(buf, len, "%.0f", t->seen);
    return buf;
}

void cli_report_summary(const struct cli_report *r, FILE *f)
{
    rt_hist *lat = all_latency(r);
    double ms = r->measured_s > 0 ? r->measured_s : 1;
    uint64_t measured = 0, bytes = 0;
    char buf[64];
    size_t i;
    int k;

    for (k = 0; k < TR_N; k++) {
        measured += r->tr[k].measured;
        bytes += r->tr[k].bytes;
    }
    fprintf(f, "rtctl load %s%s\n", r->url,
            r->interrupted ? " (interrupted)" : "");
    if (r->raw)
        fprintf(f,
                "  %u connections (raw echo), %.6g msg/s, %.1fs "
                "(warm-up %.1fs)",
                r->subscribers, r->rate, r->run_s,
                (double)r->warmup_ms / 1000);
    else
        fprintf(f,
                "  %u subscribers (%s), %u publisher%s, %u room%s, "
                "%.6g msg/s of %llu bytes for %.1fs (warm-up %.1fs)",
                r->subscribers, r->transport_spec, r->publishers,
                r->publishers == 1 ? "" : "s", r->rooms,
                r->rooms == 1 ? "" : "s", r->rate, (unsigned long long)r->size,
                r->run_s, (double)r->warmup_ms / 1000);
    if (r->in_flight > 0)
        fprintf(f, ", closed model (%llu in flight%s)",
                (unsigned long long)r->in_flight,
                r->rate > 0 ? "" : ", no rate limit");
    if (r->workers > 1)
        fprintf(f, ", %u processes merged", r->workers);
    fprintf(f, "\n\n");
    fprintf(f,
            "  connections ......: %llu opened, %llu failed, "
            "%llu reconnects (ramp %.2fs)\n",
            (unsigned long long)(r->tr[0].opened + r->tr[1].opened +
                                 r->tr[2].opened),
            (unsigned long long)(r->tr[0].connect_failed +
                                 r->tr[1].connect_failed +
                                 r->tr[2].connect_failed),
            (unsigned long long)cli_report_total(r, TOT_RECONNECTS),
            r->ramp_s);
    fprintf(f, "  connect time .....: ");
    lat_line(f, r->connect);
    fprintf(f,
            "  messages sent ....: %llu (%.1f/s), %llu %s, "
            "%llu not sent (%s down)\n",
            (unsigned long long)r->sent,
            r->run_s > 0 ? (double)r->sent / r->run_s : 0.0,
            (unsigned long long)r->acked, r->raw ? "echoed" : "acked",
            (unsigned long long)r->not_sent,
            r->raw ? "connection" : "publisher");
    fprintf(f,
            "  delivered ........: %llu (%.1f/s measured), %llu bytes "
            "(%.0f B/s)\n",
            (unsigned long long)cli_report_total(r, TOT_DELIVERED),
            (double)measured / ms, (unsigned long long)bytes,
            r->run_s > 0 ? (double)bytes / r->run_s : 0.0);
    fprintf(f, "  latency ..........: ");
    lat_line(f, lat);
    fprintf(f, "  lost/dup/reorder .: %llu / %llu / %llu\n",
            (unsigned long long)cli_report_total(r, TOT_LOST),
            (unsigned long long)cli_report_total(r, TOT_DUP),
            (unsigned long long)cli_report_total(r, TOT_REORDERED));
    fprintf(f,
            "  errors ...........: %llu (connect %llu, dropped %llu, "
            "HTTP %llu, protocol %llu, server %llu)\n",
            (unsigned long long)r->errors, (unsigned long long)r->err_connect,
            (unsigned long long)r->err_drop, (unsigned long long)r->err_http,
            (unsigned long long)r->err_protocol,
            (unsigned long long)r->err_server);
    fprintf(f,
            "  generator ........: CPU %.0f%% of one core (user %.2fs, "
            "sys %.2fs), RSS %ld KiB",
            r->cpu_pct, r->cpu_user_s, r->cpu_sys_s, r->rss_kb);
    if (r->rss_idle_kb > 0 && r->subscribers > 0)
        fprintf(f, ", %.0f B per connection when idle",
                (double)(r->rss_idle_kb - r->rss_base_kb) * 1024 /
                    (r->subscribers + r->publishers));
    fprintf(f, "\n");
    if (r->cpu_saturated)
        fprintf(f, "  WARNING: the generator's CPU was saturated: the "
                   "figures may measure rtctl load, not the server\n");
    if (r->fd_exhausted)
        fprintf(f,
                "  WARNING: %llu connections could not open: out of "
                "file descriptors\n",
                (unsigned long long)r->fd_exhausted);
    if (r->ports_exhausted)
        fprintf(f,
                "  WARNING: %llu connections could not open: out of "
                "local ports\n",
                (unsigned long long)r->ports_exhausted);
    fprintf(f, "\n  %-9s %6s %10s %9s %9s %9s %7s %5s %7s %10s\n", "transport",
            "conns", "delivered", "p50", "p99", "max", "lost", "dup",
            "reorder", "reconnects");
    for (k = 0; k < TR_N; k++) {
        const struct cli_tr_stats *t = &r->tr[k];
        char a[24] = "-", b[24] = "-", c[24] = "-";

        if (t->conns == 0)
            continue;
        if (rt_hist_count(t->lat) > 0) {
            cli_fmt_us(a, sizeof(a), (double)rt_hist_percentile(t->lat, 50));
            cli_fmt_us(b, sizeof(b), (double)rt_hist_percentile(t->lat, 99));
            cli_fmt_us(c, sizeof(c), (double)rt_hist_max(t->lat));
        }
        fprintf(f, "  %-9s %6u %10llu %9s %9s %9s %7llu %5llu %7llu %10llu\n",
                cli_load_tr_names[k], t->conns,
                (unsigned long long)t->delivered, a, b, c,
                (unsigned long long)t->c.lost, (unsigned long long)t->c.dup,
                (unsigned long long)t->c.reordered,
                (unsigned long long)t->reconnects);
    }
    if (r->scenario != NULL)
        cli_scenario_summary(r->scenario, f);
    if (r->nth > 0)
        fprintf(f, "\n  thresholds:\n");
    for (i = 0; i < r->nth; i++)
        fprintf(f, "    %-6s %s (%s)\n", r->th[i].ok ? "ok" : "FAILED",
                r->th[i].expr, threshold_value(buf, sizeof(buf), &r->th[i]));
    rt_hist_free(lat);
}

static cJSON *hist_json(const rt_hist *h)
{
    cJSON *o = cJSON_CreateObject(), *full = NULL;
    char *text = NULL;
    size_t len;

    if (o == NULL)
        return NULL;
    cJSON_AddNumberToObject(o, "count", (double)rt_hist_count(h));
    if (rt_hist_count(h) > 0) {
        cJSON_AddNumberToObject(o, "min", (double)rt_hist_min(h));
        cJSON_AddNumberToObject(o, "mean", rt_hist_mean(h));
        cJSON_AddNumberToObject(o, "p50", (double)rt_hist_percentile(h, 50));
        cJSON_AddNumberToObject(o, "p90", (double)rt_hist_percentile(h, 90));
        cJSON_AddNumberToObject(o, "p99", (double)rt_hist_percentile(h, 99));
        cJSON_AddNumberToObject(o, "p99.9",
                                (double)rt_hist_percentile(h, 99.9));
        cJSON_AddNumberToObject(o, "max", (double)rt_hist_max(h));
    }
    if (rt_hist_to_json(h, &text, &len) == 0) {
        full = cJSON_ParseWithLength(text, len);
        free(text);
    }
    if (full != NULL)
        cJSON_AddItemToObject(o, "histogram", full);
    return o;
}

cJSON *cli_report_to_json(const struct cli_report *r)
{
    cJSON *root = cJSON_CreateObject(), *o, *trs, *ths, *ser;
    rt_hist *lat = all_latency(r);
    size_t i;
    int k;

    if (root == NULL || lat == NULL) {
        cJSON_Delete(root);
        rt_hist_free(lat);
        return NULL;
    }
    cJSON_AddNumberToObject(root, "version", 1);
    cJSON_AddStringToObject(root, "url", r->url);
    cJSON_AddBoolToObject(root, "interrupted", r->interrupted);
    o = cJSON_AddObjectToObject(root, "config");
    cJSON_AddNumberToObject(o, "subscribers", r->subscribers);
    cJSON_AddStringToObject(o, "transport", r->transport_spec);
    cJSON_AddNumberToObject(o, "publishers", r->publishers);
    cJSON_AddNumberToObject(o, "rooms", r->rooms);
    cJSON_AddNumberToObject(o, "rate", r->rate);
    cJSON_AddNumberToObject(o, "size", (double)r->size);
    cJSON_AddNumberToObject(o, "duration_ms", (double)r->duration_ms);
    cJSON_AddNumberToObject(o, "warmup_ms", (double)r->warmup_ms);
    cJSON_AddBoolToObject(o, "raw", r->raw);
    cJSON_AddNumberToObject(o, "in_flight", (double)r->in_flight);
    cJSON_AddNumberToObject(o, "workers", r->workers ? r->workers : 1);
    cJSON_AddNumberToObject(o, "interval_ms", (double)r->interval_ms);
    o = cJSON_AddObjectToObject(root, "time");
    cJSON_AddNumberToObject(o, "ramp_s", r->ramp_s);
    cJSON_AddNumberToObject(o, "run_s", r->run_s);
    cJSON_AddNumberToObject(o, "measured_s", r->measured_s);
    o = cJSON_AddObjectToObject(root, "messages");
    cJSON_AddNumberToObject(o, "sent", (double)r->sent);
    cJSON_AddNumberToObject(o, "sent_measured", (double)r->measured_sent);
    cJSON_AddNumberToObject(o, "acked", (double)r->acked);
    cJSON_AddNumberToObject(o, "not_sent", (double)r->not_sent);
    cJSON_AddNumberToObject(o, "delivered",
                            (double)cli_report_total(r, TOT_DELIVERED));
    cJSON_AddNumberToObject(o, "expected",
                            (double)cli_report_total(r, TOT_EXPECTED));
    cJSON_AddNumberToObject(o, "lost", (double)cli_report_total(r, TOT_LOST));
    cJSON_AddNumberToObject(o, "duplicated",
                            (double)cli_report_total(r, TOT_DUP));
    cJSON_AddNumberToObject(o, "reordered",
                            (double)cli_report_total(r, TOT_REORDERED));
    cJSON_AddNumberToObject(o, "frames_received", (double)r->frames_total);
    o = cJSON_AddObjectToObject(root, "frames_received");
    for (k = 0; k < TR_N; k++)
        cJSON_AddNumberToObject(o, cli_load_tr_names[k],
                                (double)r->tr[k].frames);
    o = cJSON_AddObjectToObject(root, "errors");
    cJSON_AddNumberToObject(o, "total", (double)r->errors);
    cJSON_AddNumberToObject(o, "connect", (double)r->err_connect);
    cJSON_AddNumberToObject(o, "dropped", (double)r->err_drop);
    cJSON_AddNumberToObject(o, "http", (double)r->err_http);
    cJSON_AddNumberToObject(o, "protocol", (double)r->err_protocol);
    cJSON_AddNumberToObject(o, "server", (double)r->err_server);
    cJSON_AddNumberToObject(o, "fd_exhausted", (double)r->fd_exhausted);
    cJSON_AddNumberToObject(o, "ports_exhausted", (double)r->ports_exhausted);
    cJSON_AddNumberToObject(root, "reconnects",
                            (double)cli_report_total(r, TOT_RECONNECTS));
    cJSON_AddItemToObject(root, "connect_time_us", hist_json(r->connect));
    cJSON_AddItemToObject(root, "latency_us", hist_json(lat));
    trs = cJSON_AddObjectToObject(root, "transports");
    for (k = 0; k < TR_N; k++) {
        const struct cli_tr_stats *t = &r->tr[k];

        if (t->conns == 0)
            continue;
        o = cJSON_AddObjectToObject(trs, cli_load_tr_names[k]);
        cJSON_AddNumberToObject(o, "subscribers", t->conns);
        cJSON_AddNumberToObject(o, "opened", (double)t->opened);
        cJSON_AddNumberToObject(o, "connect_failed",
                                (double)t->connect_failed);
        cJSON_AddNumberToObject(o, "dropped", (double)t->drops);
        cJSON_AddNumberToObject(o, "reconnects", (double)t->reconnects);
        cJSON_AddNumberToObject(o, "frames_received", (double)t->frames);
        cJSON_AddNumberToObject(o, "delivered", (double)t->delivered);
        cJSON_AddNumberToObject(o, "delivered_measured", (double)t->measured);
        cJSON_AddNumberToObject(o, "bytes", (double)t->bytes);
        cJSON_AddNumberToObject(o, "unique", (double)t->c.unique);
        cJSON_AddNumberToObject(o, "lost", (double)t->c.lost);
        cJSON_AddNumberToObject(o, "duplicated", (double)t->c.dup);
        cJSON_AddNumberToObject(o, "reordered", (double)t->c.reordered);
        cJSON_AddNumberToObject(o, "not_recovered", (double)t->not_recovered);
        cJSON_AddItemToObject(o, "latency_us", hist_json(t->lat));
        cJSON_AddItemToObject(o, "reconnect_time_us", hist_json(t->reconnect));
    }
    o = cJSON_AddObjectToObject(root, "generator");
    cJSON_AddNumberToObject(o, "cpu_user_s", r->cpu_user_s);
    cJSON_AddNumberToObject(o, "cpu_sys_s", r->cpu_sys_s);
    cJSON_AddNumberToObject(o, "cpu_percent", r->cpu_pct);
    cJSON_AddBoolToObject(o, "cpu_saturated", r->cpu_saturated);
    cJSON_AddNumberToObject(o, "rss_kb", (double)r->rss_kb);
    cJSON_AddNumberToObject(o, "rss_base_kb", (double)r->rss_base_kb);
    cJSON_AddNumberToObject(o, "rss_idle_kb", (double)r->rss_idle_kb);
    if (r->rss_idle_kb > 0 && r->subscribers + r->publishers > 0)
        cJSON_AddNumberToObject(o, "rss_per_idle_connection_b",
                                (double)(r->rss_idle_kb - r->rss_base_kb) *
                                    1024 / (r->subscribers + r->publishers));
    if (r->scenario != NULL)
        cJSON_AddItemToObject(root, "scenario",
                              cli_scenario_json(r->scenario));
    ths = cJSON_AddArrayToObject(root, "thresholds");
    for (i = 0; i < r->nth; i++) {
        cJSON *t = cJSON_CreateObject();

        cJSON_AddStringToObject(t, "threshold", r->th[i].expr);
        cJSON_AddBoolToObject(t, "ok", r->th[i].ok);
        if (isnan(r->th[i].seen))
            cJSON_AddNullToObject(t, "value");
        else
            cJSON_AddNumberToObject(t, "value", r->th[i].seen);
        cJSON_AddItemToArray(ths, t);
    }
    ser = cJSON_AddArrayToObject(root, "series");
    for (i = 0; i < r->nseries; i++) {
        const struct cli_point *p = &r->series[i];
        cJSON *pt = cJSON_CreateObject(), *l;

        cJSON_AddItemToArray(ser, pt);
        cJSON_AddNumberToObject(pt, "t_ms", (double)p->t_ms);
        cJSON_AddNumberToObject(pt, "connections", (double)p->conns);
        cJSON_AddNumberToObject(pt, "sent", (double)p->sent);
        cJSON_AddNumberToObject(pt, "delivered", (double)p->delivered);
        cJSON_AddNumberToObject(pt, "errors", (double)p->errors);
        l = cJSON_AddObjectToObject(pt, "latency_us");
        cJSON_AddNumberToObject(l, "count", (double)p->count);
        if (p->count > 0) {
            cJSON_AddNumberToObject(l, "p50", (double)p->p50);
            cJSON_AddNumberToObject(l, "p90", (double)p->p90);
            cJSON_AddNumberToObject(l, "p99", (double)p->p99);
            cJSON_AddNumberToObject(l, "max", (double)p->max);
        }
        if (p->hist != NULL)
            cJSON_AddItemToObject(l, "histogram", cJSON_Parse(p->hist));
    }
    rt_hist_free(lat);
    return root;
}

int cli_write_file(const char *path, const char *text, char *err,
                   size_t errlen)
{
    int to_stdout = strcmp(path, "-") == 0;
    FILE *f = to_stdout ? stdout : fopen(path, "w");
    int rc = 0;

    if (f == NULL || fputs(text, f) < 0)
        rc = -1;
    if (f != NULL && (to_stdout ? fflush(f) : fclose(f)) != 0)
        rc = -1;
    if (rc != 0)
        snprintf(err, errlen, "cannot write '%s': %s", path, strerror(errno));
    return rc;
}

int cli_report_json(const struct cli_report *r, const char *path, char *err,
                    size_t errlen)
{
    cJSON *root = cli_report_to_json(r);
    char *text = root ? cJSON_Print(root) : NULL;
    int rc;

    cJSON_Delete(root);
    if (text == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    {
        size_t n = strlen(text);
        char *nl = malloc(n + 2);

        if (nl == NULL) {
            cJSON_free(text);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        memcpy(nl, text, n);
        memcpy(nl + n, "\n", 2);
        rc = cli_write_file(path, nl, err, errlen);
        free(nl);
    }
    cJSON_free(text);
    return rc;
}
