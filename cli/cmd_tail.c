/*
 * cmd_tail.c: `rtctl tail`, print the events of a Server-Sent Events stream.
 *
 * This version reads a raw event stream from standard input ('-') or a
 * file and prints each event the WHATWG algorithm dispatches, through the
 * same printer that the network tail uses.  An event still open at end of
 * input is never dispatched (the spec discards it).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "exit.h"
#include "opts.h"
#include "output.h"
#include "rt/error.h"
#include "rt/sse_parser.h"

static const char *const tail_usage[] = {
    "rtctl tail [options] -",
    "rtctl tail [options] --file PATH",
    NULL,
};

static const struct rt_cmd_help tail_help = {
    "tail", tail_usage,
    "Print each event of a Server-Sent Events stream, read from standard "
    "input ('-') or from a file, parsed exactly as a browser's EventSource "
    "parses it. Exits at end of input, or after --count events.",
};

struct tail {
    struct rt_out out;
    struct rt_strlist events; /* --event filter; empty: every type */
    uint64_t count;           /* --count; 0: no limit */
    uint64_t printed;
};

static int wanted(const struct tail *t, const rt_sse_event *ev)
{
    size_t i;

    if (t->events.n == 0)
        return 1;
    for (i = 0; i < t->events.n; i++)
        if (strlen(t->events.v[i]) == ev->type_len &&
            memcmp(t->events.v[i], ev->type, ev->type_len) == 0)
            return 1;
    return 0;
}

static int on_event(const rt_sse_event *ev, void *ud)
{
    struct tail *t = ud;

    if (!wanted(t, ev))
        return 0;
    if (rt_out_sse_event(&t->out, ev) != 0)
        return 1;
    t->printed++;
    return t->count != 0 && t->printed >= t->count;
}

static void on_retry(uint64_t ms, void *ud)
{
    struct tail *t = ud;

    rt_infof(&t->out, "server asks for a reconnection delay of %llu ms",
             (unsigned long long)ms);
}

int cmd_tail(int argc, char **argv)
{
    struct rt_global_opts g = {0, 0, NULL};
    struct tail t;
    const char *file = NULL, *since = NULL, *name;
    uint64_t max_line = 1024 * 1024;
    int json = 0, n, fd, rc, status = RTCTL_EXIT_OK;
    rt_sse_parser_opts po;
    rt_sse_parser *p = NULL;
    char buf[65536];
    ssize_t got;
    uint64_t offset = 0;
    struct rt_opt opts[] = {
        OPT_GROUP("Input"),
        OPT_STR('f', "file", &file, "PATH", "read the stream from PATH"),
        OPT_STR(0, "since", &since, "ID",
                "start with ID as the last event ID (the id events carry "
                "until the stream sets one)"),
        OPT_BYTES(0, "max-line", &max_line,
                  "longest line accepted (default 1m); a longer one is a "
                  "protocol error"),
        OPT_GROUP("Output"),
        OPT_BOOL(0, "json", &json,
                 "one JSON object per event: "
                 "{\"event\":TYPE,\"id\":ID,\"data\":DATA}"),
        OPT_STR_LIST('e', "event", &t.events, "TYPE",
                     "print only events of TYPE (repeatable)"),
        OPT_UINT('n', "count", &t.count, "N", "exit after N events"),
        RT_GLOBAL_OPTS(&g),
        OPT_END(),
    };

    memset(&t, 0, sizeof(t));
    n = rt_opts_parse(&tail_help, opts, argc, argv);
    if (n < 0) {
        rt_strlist_free(&t.events);
        return n == RT_OPTS_EXIT_OK ? RTCTL_EXIT_OK : RTCTL_EXIT_USAGE;
    }
    if (rt_out_init(&t.out, &tail_help, &g, json) != 0)
        goto usage;
    if (file != NULL && n > 0) {
        rt_opts_error(&tail_help, "give either --file or a target, not both");
        goto usage;
    }
    if (file == NULL && n != 1) {
        rt_opts_error(&tail_help, n == 0 ? "nothing to read: give '-' or "
                                           "--file PATH"
                                         : "too many arguments");
        goto usage;
    }
    if (file == NULL && strcmp(argv[1], "-") != 0) {
        rt_opts_error(&tail_help,
                      "'%s': this build reads streams from standard input "
                      "('-') or --file only",
                      argv[1]);
        goto usage;
    }
    if (max_line == 0 || max_line > (uint64_t)1 << 30) {
        rt_opts_error(&tail_help, "--max-line: must be between 1 and 1g");
        goto usage;
    }

    if (file != NULL) {
        name = file;
        fd = open(file, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            rt_errf(&t.out, "cannot open '%s': %s", file, strerror(errno));
            rt_strlist_free(&t.events);
            return RTCTL_EXIT_RUNTIME;
        }
    } else {
        name = "standard input";
        fd = STDIN_FILENO;
    }

    rt_sse_parser_opts_init(&po);
    po.max_line_bytes = (size_t)max_line;
    rc = rt_sse_parser_new(&p, &po, on_event, on_retry, &t);
    if (rc == 0 && since != NULL)
        rc = rt_sse_parser_set_last_id(p, since, strlen(since));
    if (rc != 0) {
        rt_errf(&t.out, "%s", rt_strerror(rc));
        status = rtctl_exit_from_err(rc);
        goto done;
    }

    for (;;) {
        got = read(fd, buf, sizeof(buf));
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            rt_errf(&t.out, "cannot read %s: %s", name, strerror(errno));
            status = RTCTL_EXIT_RUNTIME;
            break;
        }
        if (got == 0) {
            if (t.count != 0 && t.printed < t.count) {
                rt_errf(&t.out, "%s ended after %llu of %llu events", name,
                        (unsigned long long)t.printed,
                        (unsigned long long)t.count);
                status = RTCTL_EXIT_RUNTIME;
            }
            break;
        }
        rc = rt_sse_parser_feed(p, buf, (size_t)got);
        if (rc == RT_ECANCELED)
            break; /* --count reached, or stdout failed */
        if (rc == RT_ETOOBIG) {
            rt_errf(&t.out,
                    "%s: a line near byte %llu is longer than --max-line "
                    "(%llu bytes)",
                    name, (unsigned long long)offset,
                    (unsigned long long)max_line);
            status = RTCTL_EXIT_PROTOCOL;
            break;
        }
        if (rc != 0) {
            rt_errf(&t.out, "%s", rt_strerror(rc));
            status = rtctl_exit_from_err(rc);
            break;
        }
        offset += (uint64_t)got;
    }

done:
    if (fd != STDIN_FILENO)
        close(fd);
    rt_sse_parser_free(p);
    rt_strlist_free(&t.events);
    if (rt_out_finish(&t.out) != 0 && status == RTCTL_EXIT_OK)
        status = RTCTL_EXIT_RUNTIME;
    return status;

usage:
    rt_strlist_free(&t.events);
    return RTCTL_EXIT_USAGE;
}
