/*
 * cmd_report.c: `rtctl report merge`, one report out of the
 * --report-json files of several runs (several machines started with
 * --start-at, or runs to compare as one).  The histograms merge exactly
 * (cli/load/merge.c), so the merged percentiles are those of every
 * message of every run together.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cmd.h"
#include "exit.h"
#include "load/load.h"
#include "load/workers.h"
#include "opts.h"
#include "output.h"

static const char *const report_usage[] = {
    "rtctl report merge [options] REPORT.json REPORT.json...",
    NULL,
};

static const struct cli_cmd_help report_help = {
    "report",
    report_usage,
    "Merge the --report-json files of rtctl load runs into one report: "
    "counts add up, latency histograms merge exactly, time series merge "
    "interval by interval. Prints the summary on stdout; --report-json "
    "and --html write the merged report; --threshold checks it (exit 6).",
};

int cmd_report(int argc, char **argv)
{
    struct cli_global_opts g = {0, 0, NULL};
    struct cli_out out;
    struct cli_strlist thresholds = {NULL, 0};
    const char *json_out = NULL, *html_out = NULL;
    struct cli_report r;
    cJSON **docs = NULL;
    char err[300];
    size_t i, failed;
    int n, status = RTCTL_EXIT_OK;
    struct cli_opt opts[] = {
        OPT_GROUP("Output"),
        OPT_STR(0, "report-json", &json_out, "FILE",
                "write the merged report to FILE (- for stdout, instead "
                "of the summary)"),
        OPT_STR(0, "html", &html_out, "FILE",
                "write the merged report as a self-contained page"),
        OPT_STR_LIST(0, "threshold", &thresholds, "EXPR",
                     "fail (exit 6) unless EXPR holds for the merged "
                     "report, as rtctl load's (repeatable)"),
        CLI_GLOBAL_OPTS(&g),
        OPT_END(),
    };

    n = cli_opts_parse(&report_help, opts, argc, argv);
    if (n < 0)
        return n == CLI_OPTS_EXIT_OK ? RTCTL_EXIT_OK : RTCTL_EXIT_USAGE;
    if (cli_out_init(&out, &report_help, &g, 0) != 0)
        return RTCTL_EXIT_USAGE;
    if (n < 1 || strcmp(argv[1], "merge") != 0) {
        cli_opts_error(&report_help,
                       n < 1 ? "no action given (merge)"
                             : "'%s' is not an action (merge)",
                       argv[1]);
        cli_strlist_free(&thresholds);
        return RTCTL_EXIT_USAGE;
    }
    if (n < 2) {
        cli_opts_error(&report_help, "merge: no report given");
        cli_strlist_free(&thresholds);
        return RTCTL_EXIT_USAGE;
    }
    memset(&r, 0, sizeof(r));
    r.th = calloc(thresholds.n ? thresholds.n : 1, sizeof(*r.th));
    docs = calloc((size_t)n + 1, sizeof(*docs));
    if (r.th == NULL || docs == NULL || cli_report_init(&r) != 0) {
        cli_errf(&out, "out of memory");
        status = RTCTL_EXIT_RUNTIME;
        goto done;
    }
    for (i = 0; i < thresholds.n; i++)
        if (cli_threshold_parse(&r.th[i], thresholds.v[i], err, sizeof(err)) !=
            0) {
            cli_opts_error(&report_help, "--threshold %s", err);
            status = RTCTL_EXIT_USAGE;
            goto done;
        }
    r.nth = thresholds.n;
    for (i = 2; i <= (size_t)n; i++) {
        struct cli_report one;
        int rc;

        docs[i] = cli_read_json(argv[i], err, sizeof(err));
        if (docs[i] == NULL) {
            cli_errf(&out, "%s", err);
            status = RTCTL_EXIT_USAGE;
            goto done;
        }
        memset(&one, 0, sizeof(one));
        rc = cli_report_init(&one);
        if (rc == 0)
            rc = cli_report_from_json(&one, docs[i], err, sizeof(err));
        if (rc == 0)
            rc = cli_report_add(&r, &one, err, sizeof(err));
        cli_report_cleanup(&one);
        if (rc != 0) {
            cli_errf(&out, "'%s': %s", argv[i], err);
            status = RTCTL_EXIT_USAGE;
            goto done;
        }
    }
    failed = cli_report_check(&r);
    if (json_out == NULL || strcmp(json_out, "-") != 0)
        cli_report_summary(&r, stdout); /* not mixed into the JSON */
    if (json_out != NULL &&
        cli_report_json(&r, json_out, err, sizeof(err)) != 0) {
        cli_errf(&out, "%s", err);
        status = RTCTL_EXIT_RUNTIME;
    }
    if (html_out != NULL &&
        cli_report_html(&r, html_out, err, sizeof(err)) != 0) {
        cli_errf(&out, "%s", err);
        status = RTCTL_EXIT_RUNTIME;
    }
    if (failed > 0 && status == RTCTL_EXIT_OK) {
        for (i = 0; i < r.nth; i++)
            if (!r.th[i].ok)
                cli_errf(&out, "threshold '%s' failed", r.th[i].expr);
        status = RTCTL_EXIT_CHECK;
    }
    if (cli_out_finish(&out) != 0 && status == RTCTL_EXIT_OK)
        status = RTCTL_EXIT_RUNTIME;
done:
    cli_report_cleanup(&r);
    for (i = 0; docs != NULL && i <= (size_t)n; i++)
        cJSON_Delete(docs[i]);
    free(docs);
    free(r.th);
    cli_strlist_free(&thresholds);
    return status;
}
