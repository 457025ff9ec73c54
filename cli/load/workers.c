/*
 * workers.c: `rtctl load --workers N` and --start-at.
 *
 * One process runs one libuv loop on one core; --workers forks N copies
 * of the plan's process, each with its share of it (cmd_load.c decides
 * the share), and merges their --report-json documents exactly
 * (merge.c).  Reports travel through files in a private temporary
 * folder: no pipe to keep drained while the children run.
 *
 * Signals: each child leads a process group of its own, so a Ctrl-C at
 * the terminal reaches the parent only, which passes it on once per
 * signal: a first one makes every child stop and write its report, a
 * second makes them exit at once, as for one process.  A parent killed
 * outright (SIGKILL) takes its workers along (PR_SET_PDEATHSIG).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "load/workers.h"

static volatile sig_atomic_t got_signal;

static void on_parent_signal(int sig)
{
    got_signal = sig;
}

int cli_workers_fork(struct cli_workers *w, unsigned n, char *err,
                     size_t errlen)
{
    unsigned k;

    memset(w, 0, sizeof(*w));
    snprintf(w->dir, sizeof(w->dir), "%s/rtctl-load-XXXXXX",
             getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR")
                                                   : "/tmp");
    if (mkdtemp(w->dir) == NULL) {
        snprintf(err, errlen,
                 "cannot make a folder for the workers' "
                 "reports: %s",
                 strerror(errno));
        return -2;
    }
    w->n = n;
    w->pids = calloc(n, sizeof(*w->pids));
    if (w->pids == NULL) {
        snprintf(err, errlen, "out of memory");
        rmdir(w->dir);
        return -2;
    }
    fflush(stdout);
    fflush(stderr);
    for (k = 0; k < n; k++) {
        pid_t pid = fork();

        if (pid == 0) {
            setpgid(0, 0);
#ifdef __linux__
            /* a parent killed outright takes its workers along */
            prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
            free(w->pids);
            w->pids = NULL;
            w->index = k;
            return (int)k;
        }
        if (pid < 0) {
            snprintf(err, errlen, "cannot start worker %u: %s", k + 1,
                     strerror(errno));
            while (k-- > 0)
                kill(w->pids[k], SIGKILL);
            cli_workers_wait(w, NULL, err, 0);
            return -2;
        }
        w->pids[k] = pid;
    }
    return -1;
}

void cli_workers_path(const struct cli_workers *w, unsigned k, char *buf,
                      size_t len)
{
    snprintf(buf, len, "%s/worker-%u.json", w->dir, k + 1);
}

/* Read and add worker |k|'s report; 0 or -1 with |err|. */
static int add_one(struct cli_workers *w, unsigned k, struct cli_report *r,
                   char *err, size_t errlen)
{
    char path[600], e[200];
    struct cli_report one;
    cJSON *doc;
    int rc;

    cli_workers_path(w, k, path, sizeof(path));
    doc = cli_read_json(path, e, sizeof(e));
    if (doc == NULL) {
        snprintf(err, errlen, "worker %u: %s", k + 1, e);
        return -1;
    }
    memset(&one, 0, sizeof(one));
    rc = cli_report_init(&one) != 0
             ? -1
             : cli_report_from_json(&one, doc, e, sizeof(e));
    if (rc == 0)
        rc = cli_report_add(r, &one, e, sizeof(e));
    if (rc != 0)
        snprintf(err, errlen, "worker %u: %s", k + 1, e);
    /* the merged strings (url, transport) must outlive |doc| */
    if (rc == 0 && k == 0) {
        r->url = strdup(r->url);
        r->transport_spec = strdup(r->transport_spec);
        w->owns_strings = 1;
    }
    cli_report_cleanup(&one);
    cJSON_Delete(doc);
    unlink(path);
    return rc;
}

int cli_workers_wait(struct cli_workers *w, struct cli_report *r, char *err,
                     size_t errlen)
{
    struct sigaction sa, old_int, old_term;
    unsigned k, left = 0, failed = 0;
    int forwarded = 0;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_parent_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    for (k = 0; k < w->n; k++)
        left += w->pids[k] > 0;
    while (left > 0) {
        int st;
        pid_t pid = waitpid(-1, &st, 0);

        if (pid < 0 && errno != EINTR)
            break;
        if (got_signal) {
            for (k = 0; k < w->n; k++)
                if (w->pids[k] > 0)
                    kill(w->pids[k], got_signal);
            got_signal = 0;
            forwarded++;
            if (r != NULL)
                r->interrupted = 1;
        }
        for (k = 0; pid > 0 && k < w->n; k++)
            if (w->pids[k] == pid) {
                w->pids[k] = 0;
                left--;
            }
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    (void)forwarded;
    for (k = 0; r != NULL && k < w->n; k++) {
        char e[300];

        if (add_one(w, k, r, e, sizeof(e)) != 0) {
            if (failed++ == 0)
                snprintf(err, errlen, "%s", e);
        }
    }
    for (k = 0; k < w->n; k++) {
        char path[600];

        cli_workers_path(w, k, path, sizeof(path));
        unlink(path);
    }
    rmdir(w->dir);
    free(w->pids);
    w->pids = NULL;
    return failed ? -1 : 0;
}

void cli_workers_free(struct cli_workers *w, struct cli_report *r)
{
    if (w->owns_strings) {
        free((char *)r->url);
        free((char *)r->transport_spec);
        w->owns_strings = 0;
    }
}

cJSON *cli_read_json(const char *path, char *err, size_t errlen)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    char *buf = NULL;
    size_t len = 0, cap = 0;
    cJSON *doc;

    if (f == NULL) {
        snprintf(err, errlen, "cannot read '%s': %s", path, strerror(errno));
        return NULL;
    }
    for (;;) {
        size_t n;

        if (len + 65536 > cap) {
            char *nb;

            cap = cap ? cap * 2 : 65536;
            if (cap > CLI_REPORT_MAX + 65536 ||
                (nb = realloc(buf, cap + 1)) == NULL) {
                snprintf(err, errlen, "'%s': over %d MiB", path,
                         CLI_REPORT_MAX >> 20);
                free(buf);
                if (f != stdin)
                    fclose(f);
                return NULL;
            }
            buf = nb;
        }
        n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        snprintf(err, errlen, "cannot read '%s': %s", path, strerror(errno));
        free(buf);
        if (f != stdin)
            fclose(f);
        return NULL;
    }
    if (f != stdin)
        fclose(f);
    doc = cJSON_ParseWithLength(buf ? buf : "", len);
    free(buf);
    if (doc == NULL)
        snprintf(err, errlen, "'%s' is not JSON", path);
    return doc;
}

int cli_start_at_parse(const char *s, int64_t *unix_ms, char *err,
                       size_t errlen)
{
    struct timespec now;
    struct tm tm;
    char *end;
    double v;
    int64_t ms = -1, now_ms;

    clock_gettime(CLOCK_REALTIME, &now);
    now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    if (s[0] == '+') {
        uint64_t d;

        if (cli_parse_duration(s + 1, &d) == 0)
            ms = now_ms + (int64_t)d;
    } else if (s[0] == '@') {
        v = strtod(s + 1, &end);
        if (end != s + 1 && *end == '\0' && v > 0 && v < 1e11)
            ms = (int64_t)(v * 1000);
    } else {
        const char *rest;

        memset(&tm, 0, sizeof(tm));
        if ((rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) != NULL &&
            (strcmp(rest, "Z") == 0 || *rest == '\0')) {
            tm.tm_isdst = -1;
            ms = (int64_t)(*rest == 'Z' ? timegm(&tm) : mktime(&tm)) * 1000;
        } else {
            time_t t = now.tv_sec;

            localtime_r(&t, &tm);
            rest = strptime(s, "%H:%M:%S", &tm);
            if (rest == NULL)
                rest = (tm.tm_sec = 0, strptime(s, "%H:%M", &tm));
            if (rest != NULL && *rest == '\0') {
                tm.tm_isdst = -1;
                ms = (int64_t)mktime(&tm) * 1000;
            }
        }
    }
    if (ms < 0) {
        snprintf(err, errlen,
                 "--start-at: '%s' is not HH:MM[:SS], "
                 "YYYY-MM-DDTHH:MM:SS[Z], @UNIXSECONDS or +DURATION",
                 s);
        return -1;
    }
    if (ms < now_ms - 1000) {
        snprintf(err, errlen, "--start-at: '%s' has passed", s);
        return -1;
    }
    if (ms > now_ms + 86400000) {
        snprintf(err, errlen, "--start-at: '%s' is more than a day away", s);
        return -1;
    }
    *unix_ms = ms;
    return 0;
}

void cli_start_at_wait(int64_t unix_ms)
{
    struct timespec t;

    t.tv_sec = (time_t)(unix_ms / 1000);
    t.tv_nsec = (long)(unix_ms % 1000) * 1000000;
    while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &t, NULL) == EINTR)
        ;
}
