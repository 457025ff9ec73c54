/*
 * fuzz_load_report.c: libFuzzer target for the reading and merging of
 * `rtctl load --report-json` documents (cli/load/merge.c, report.c), which
 * `rtctl report merge` reads from files of other machines.
 *
 * Checks, for arbitrary bytes that parse as JSON:
 * - cli_report_from_json never crashes; when it accepts the document,
 *   writing the report and reading it back is a fixed point (the second
 *   document equals the first);
 * - adding the report twice to an empty one never crashes, doubles the
 *   counters and histogram counts, and the summary, the thresholds and
 *   the HTML page can be produced from it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "load/load.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)     \
    do {             \
        if (!(c))    \
            abort(); \
    } while (0)

static char *print_report(const struct cli_report *r)
{
    cJSON *doc = cli_report_to_json(r);
    char *text = doc ? cJSON_PrintUnformatted(doc) : NULL;

    cJSON_Delete(doc);
    return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *doc = cJSON_ParseWithLength((const char *)data, size), *doc2;
    struct cli_report r, r2, sum;
    struct cli_threshold th;
    char err[300], *t1, *t2;
    FILE *null;

    if (doc == NULL)
        return 0;
    memset(&r, 0, sizeof(r));
    memset(&r2, 0, sizeof(r2));
    memset(&sum, 0, sizeof(sum));
    CHECK(cli_report_init(&r) == 0 && cli_report_init(&r2) == 0 &&
          cli_report_init(&sum) == 0);
    if (cli_report_from_json(&r, doc, err, sizeof(err)) == 0) {
        t1 = print_report(&r);
        CHECK(t1 != NULL);
        doc2 = cJSON_Parse(t1);
        CHECK(doc2 != NULL);
        CHECK(cli_report_from_json(&r2, doc2, err, sizeof(err)) == 0);
        t2 = print_report(&r2);
        CHECK(t2 != NULL && strcmp(t1, t2) == 0);
        if (cli_report_add(&sum, &r, err, sizeof(err)) == 0 &&
            cli_report_add(&sum, &r, err, sizeof(err)) == 0) {
            CHECK(sum.sent == 2 * r.sent);
            CHECK(rt_hist_count(sum.connect) == 2 * rt_hist_count(r.connect));
            CHECK(cli_threshold_parse(&th, "p99<50ms", err, sizeof(err)) == 0);
            sum.th = &th;
            sum.nth = 1;
            cli_report_check(&sum);
            null = fopen("/dev/null", "w");
            if (null != NULL) {
                cli_report_summary(&sum, null);
                fclose(null);
            }
            cli_report_html(&sum, "/dev/null", err, sizeof(err));
        }
        cJSON_free(t1);
        cJSON_free(t2);
        cJSON_Delete(doc2);
    }
    cli_report_cleanup(&r);
    cli_report_cleanup(&r2);
    cli_report_cleanup(&sum);
    cJSON_Delete(doc);
    return 0;
}
