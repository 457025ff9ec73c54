/*
 * html.c: --report-html, one self-contained page: inline CSS and SVG,
 * no script, no font, no request of any kind, so it opens from disk, in
 * a mail attachment or a CI artifact viewer alike.
 *
 * Three plots over the time series (one point per --interval): latency
 * percentiles of the messages received in each interval, messages sent
 * and received per second, and open connections.  Each plot is an
 * <svg class="plot" id="plot-NAME">; each series a
 * <polyline class="series" data-series="NAME">, which is what the test
 * looks for after Chromium has parsed the page.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load/load.h"

#define W 760
#define H 260
#define ML 70 /* margins: room for the axis labels */
#define MR 20
#define MT 16
#define MB 40

struct series {
    const char *name, *color;
    double *v;
};

static void esc(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

/* A round step that cuts [0, max] into about five. */
static double nice_step(double max)
{
    double raw = max / 5, mag = pow(10, floor(log10(raw))), n = raw / mag;

    return (n <= 1 ? 1 : n <= 2 ? 2 : n <= 5 ? 5 : 10) * mag;
}

static void plot(FILE *f, const char *id, const char *title, const char *unit,
                 const double *t, size_t n, const struct series *s, size_t ns)
{
    double xmax = n > 0 ? t[n - 1] : 1, ymax = 0, step, v;
    size_t i, j;

    for (j = 0; j < ns; j++)
        for (i = 0; i < n; i++)
            if (isfinite(s[j].v[i]) && s[j].v[i] > ymax)
                ymax = s[j].v[i];
    if (ymax <= 0)
        ymax = 1;
    step = nice_step(ymax);
    ymax = ceil(ymax / step) * step;
    if (xmax <= 0)
        xmax = 1;
    fprintf(f, "<section><h2>%s</h2>\n", title);
    fprintf(f,
            "<svg class=\"plot\" id=\"plot-%s\" xmlns=\"http://www.w3.org/"
            "2000/svg\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" "
            "role=\"img\" aria-label=\"%s\">\n",
            id, W, H, W, H, title);
    fprintf(f,
            "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
            "class=\"frame\"/>\n",
            ML, MT, W - ML - MR, H - MT - MB);
    for (v = 0; v <= ymax + step / 2; v += step) {
        double y = MT + (H - MT - MB) * (1 - v / ymax);

        fprintf(f,
                "<line class=\"grid\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" "
                "y2=\"%.1f\"/><text class=\"tick\" x=\"%d\" y=\"%.1f\" "
                "text-anchor=\"end\">%.6g</text>\n",
                ML, W - MR, y, y, ML - 6, y + 4, v);
    }
    step = nice_step(xmax);
    for (v = 0; v <= xmax + step / 100; v += step) {
        double x = ML + (W - ML - MR) * v / xmax;

        fprintf(f,
                "<text class=\"tick\" x=\"%.1f\" y=\"%d\" "
                "text-anchor=\"middle\">%.6gs</text>\n",
                x, H - MB + 16, v);
    }
    fprintf(f,
            "<text class=\"axis\" x=\"%d\" y=\"%d\" "
            "text-anchor=\"middle\">seconds since the start</text>\n"
            "<text class=\"axis\" x=\"14\" y=\"%d\" text-anchor=\"middle\" "
            "transform=\"rotate(-90 14 %d)\">%s</text>\n",
            ML + (W - ML - MR) / 2, H - 4, MT + (H - MT - MB) / 2,
            MT + (H - MT - MB) / 2, unit);
    for (j = 0; j < ns; j++) {
        size_t pts = 0;

        fprintf(f,
                "<polyline class=\"series\" data-series=\"%s\" "
                "stroke=\"%s\" fill=\"none\" points=\"",
                s[j].name, s[j].color);
        for (i = 0; i < n; i++) {
            if (!isfinite(s[j].v[i]))
                continue;
            fprintf(f, "%s%.1f,%.1f", pts++ ? " " : "",
                    ML + (W - ML - MR) * t[i] / xmax,
                    MT + (H - MT - MB) * (1 - s[j].v[i] / ymax));
        }
        fprintf(f, "\" data-points=\"%zu\"/>\n", pts);
        /* dots too while they can be told apart: one point is no line */
        for (i = 0; n <= 120 && i < n; i++)
            if (isfinite(s[j].v[i]))
                fprintf(f,
                        "<circle class=\"dot\" cx=\"%.1f\" cy=\"%.1f\" "
                        "r=\"2.5\" fill=\"%s\"/>\n",
                        ML + (W - ML - MR) * t[i] / xmax,
                        MT + (H - MT - MB) * (1 - s[j].v[i] / ymax),
                        s[j].color);
        fprintf(f,
                "<text class=\"legend\" x=\"%zu\" y=\"%d\" fill=\"%s\">"
                "%s</text>\n",
                (size_t)ML + 10 + j * 90, MT + 14, s[j].color, s[j].name);
    }
    fprintf(f, "</svg></section>\n");
}

static void row(FILE *f, const char *k, const char *v)
{
    fprintf(f, "<tr><th>%s</th><td>", k);
    esc(f, v);
    fprintf(f, "</td></tr>\n");
}

static void lat_cell(char *buf, size_t len, const rt_hist *h)
{
    char a[24], b[24], c[24], d[24], e[24];

    if (h == NULL || rt_hist_count(h) == 0) {
        snprintf(buf, len, "-");
        return;
    }
    snprintf(buf, len, "p50 %s, p90 %s, p99 %s, p99.9 %s, max %s",
             cli_fmt_us(a, sizeof(a), (double)rt_hist_percentile(h, 50)),
             cli_fmt_us(b, sizeof(b), (double)rt_hist_percentile(h, 90)),
             cli_fmt_us(c, sizeof(c), (double)rt_hist_percentile(h, 99)),
             cli_fmt_us(d, sizeof(d), (double)rt_hist_percentile(h, 99.9)),
             cli_fmt_us(e, sizeof(e), (double)rt_hist_max(h)));
}

static void page(FILE *f, const struct cli_report *r, double *buf)
{
    size_t n = r->nseries, i;
    double *t = buf, *p50 = buf + n, *p90 = buf + 2 * n, *p99 = buf + 3 * n,
           *mx = buf + 4 * n, *sent = buf + 5 * n, *recv = buf + 6 * n,
           *conns = buf + 7 * n, iv = r->interval_ms ? r->interval_ms : 1000;
    char line[256];
    rt_hist *lat = NULL;
    int k;

    for (i = 0; i < n; i++) {
        const struct cli_point *p = &r->series[i];

        t[i] = (double)p->t_ms / 1000;
        p50[i] = p->count ? (double)p->p50 / 1000 : NAN;
        p90[i] = p->count ? (double)p->p90 / 1000 : NAN;
        p99[i] = p->count ? (double)p->p99 / 1000 : NAN;
        mx[i] = p->count ? (double)p->max / 1000 : NAN;
        sent[i] = (double)p->sent * 1000 / iv;
        recv[i] = (double)p->delivered * 1000 / iv;
        conns[i] = (double)p->conns;
    }
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
          "<title>rtctl load report</title>\n<style>\n"
          "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}\n"
          "table{border-collapse:collapse}th,td{text-align:left;"
          "padding:2px 12px 2px 0;vertical-align:top}th{font-weight:600}\n"
          "svg .frame{fill:#fafafa;stroke:#999}svg .grid{stroke:#ddd}\n"
          "svg .tick,svg .axis{font-size:11px;fill:#555}"
          "svg .legend{font-size:12px;font-weight:600}\n"
          "svg .series{stroke-width:1.8}\n"
          "</style></head><body>\n<h1>rtctl load report</h1>\n<table "
          "id=\"summary\">\n",
          f);
    row(f, "URL", r->url);
    if (r->raw)
        snprintf(line, sizeof(line),
                 "%u connections, --raw echo, %.6g msg/s of %llu bytes",
                 r->subscribers, r->rate, (unsigned long long)r->size);
    else
        snprintf(line, sizeof(line),
                 "%u subscribers (%s), %u publishers, %u rooms, %.6g msg/s "
                 "of %llu bytes",
                 r->subscribers, r->transport_spec, r->publishers, r->rooms,
                 r->rate, (unsigned long long)r->size);
    row(f, "plan", line);
    snprintf(line, sizeof(line), "%.1fs publishing, %.1fs warm-up%s%s",
             r->run_s, (double)r->warmup_ms / 1000,
             r->in_flight ? ", closed model" : ", open model",
             r->interrupted ? ", interrupted" : "");
    row(f, "time", line);
    if (r->workers > 1) {
        snprintf(line, sizeof(line), "%u", r->workers);
        row(f, "processes merged", line);
    }
    snprintf(line, sizeof(line), "%llu sent, %llu %s, %llu delivered",
             (unsigned long long)r->sent, (unsigned long long)r->acked,
             r->raw ? "echoed" : "acked",
             (unsigned long long)cli_report_total(r, TOT_DELIVERED));
    row(f, "messages", line);
    if (rt_hist_new_default(&lat) == 0) {
        for (k = 0; k < TR_N; k++)
            rt_hist_merge(lat, r->tr[k].lat);
        lat_cell(line, sizeof(line), lat);
        row(f, "latency", line);
        rt_hist_free(lat);
    }
    lat_cell(line, sizeof(line), r->connect);
    row(f, "connect time", line);
    snprintf(line, sizeof(line), "%llu / %llu / %llu",
             (unsigned long long)cli_report_total(r, TOT_LOST),
             (unsigned long long)cli_report_total(r, TOT_DUP),
             (unsigned long long)cli_report_total(r, TOT_REORDERED));
    row(f, "lost / duplicated / reordered", line);
    snprintf(line, sizeof(line), "%llu, %llu reconnects",
             (unsigned long long)r->errors,
             (unsigned long long)cli_report_total(r, TOT_RECONNECTS));
    row(f, "errors", line);
    snprintf(line, sizeof(line), "CPU %.0f%% of one core%s, RSS %ld KiB",
             r->cpu_pct, r->cpu_saturated ? " (SATURATED)" : "", r->rss_kb);
    row(f, "generator", line);
    fputs("</table>\n", f);
    {
        struct series ls[] = {{"p50", "#1f77b4", p50},
                              {"p90", "#2ca02c", p90},
                              {"p99", "#ff7f0e", p99},
                              {"max", "#d62728", mx}};
        struct series ts[] = {{"sent", "#1f77b4", sent},
                              {"received", "#2ca02c", recv}};
        struct series cs[] = {{"open", "#9467bd", conns}};

        plot(f, "latency", "Latency per interval", "ms", t, n, ls, 4);
        plot(f, "throughput", "Messages per second", "msg/s", t, n, ts, 2);
        plot(f, "connections", "Open connections", "connections", t, n, cs, 1);
    }
    fprintf(f,
            "<p>One point per %.6gs interval. Generated by rtctl "
            "load.</p>\n</body></html>\n",
            iv / 1000);
}

int cli_report_html(const struct cli_report *r, const char *path, char *err,
                    size_t errlen)
{
    double *buf = calloc(8 * (r->nseries ? r->nseries : 1), sizeof(double));
    FILE *f;
    int rc = 0;

    if (buf == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    f = fopen(path, "w");
    if (f != NULL) {
        page(f, r, buf);
        if (ferror(f))
            rc = -1;
        if (fclose(f) != 0)
            rc = -1;
    } else {
        rc = -1;
    }
    if (rc != 0)
        snprintf(err, errlen, "cannot write '%s': %s", path, strerror(errno));
    free(buf);
    return rc;
}
