/*
 * workers.h: --workers (processes sharing one plan), --start-at, and
 * reading reports back (workers.c).
 */
#ifndef RTCTL_LOAD_WORKERS_H
#define RTCTL_LOAD_WORKERS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "load/load.h"
#include "opts.h"

/* The largest report read back (a long series of intervals). */
#define CLI_REPORT_MAX (256 << 20)

struct cli_workers {
    char dir[512];
    unsigned n, index;
    pid_t *pids;
    int owns_strings;
};

/*
 * Fork |n| workers.  Returns the worker's index (0..n-1) in a child, -1
 * in the parent, -2 on failure (|err| says why).
 */
int cli_workers_fork(struct cli_workers *w, unsigned n, char *err,
                     size_t errlen);
/* Where worker |k| writes its report. */
void cli_workers_path(const struct cli_workers *w, unsigned k, char *buf,
                      size_t len);
/*
 * Parent: wait for every worker (passing SIGINT and SIGTERM on), then add
 * their reports into |r| (cli_report_init'd).  0, or -1 with |err| when a
 * worker left no readable report.
 */
int cli_workers_wait(struct cli_workers *w, struct cli_report *r, char *err,
                     size_t errlen);
/* Free the strings the merge gave |r|. */
void cli_workers_free(struct cli_workers *w, struct cli_report *r);

/* Read a JSON document from |path| ("-": stdin); NULL with |err|. */
struct cJSON *cli_read_json(const char *path, char *err, size_t errlen);

/* --start-at TIME into ms since the Unix epoch; 0 or -1 with |err|. */
int cli_start_at_parse(const char *s, int64_t *unix_ms, char *err,
                       size_t errlen);
/* Sleep until |unix_ms| (wall clock). */
void cli_start_at_wait(int64_t unix_ms);

#endif /* RTCTL_LOAD_WORKERS_H */
