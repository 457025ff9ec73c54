/*
 * opts.h: table-driven option parsing for every subcommand (the shape of
 * git's parse-options.h).  One table per command both parses and prints
 * --help, so the two can never disagree, and `CMD --list-opts` prints the
 * table for shell completion and the docs-sync test.
 *
 * Rules: --opt=value and --opt value both work; -x value and -xvalue both
 * work; booleans also take --no-opt (not listed in --help); `--` ends
 * options; abbreviations are refused; -h/--help is always there.
 */
#ifndef RTCTL_OPTS_H
#define RTCTL_OPTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum cli_opt_type {
    CLI_OPT_END = 0,
    CLI_OPT_GROUP,    /* a heading in --help; no option */
    CLI_OPT_BOOL,     /* int *: 1, or 0 with --no-NAME */
    CLI_OPT_COUNT,    /* int *: incremented each time (-v -v) */
    CLI_OPT_STR,      /* const char **: borrowed from argv */
    CLI_OPT_UINT,     /* uint64_t *: decimal, no sign */
    CLI_OPT_DURATION, /* uint64_t * in ms: 250ms, 2s, 1m, 1h, 1d, bare = s */
    CLI_OPT_BYTES,    /* uint64_t *: 512, 64k, 1m, 1g (powers of 1024) */
    CLI_OPT_STR_LIST  /* struct cli_strlist *: repeatable, each appended */
};

#define CLI_OPT_HIDDEN 0x1u /* parsed but not listed in --help */

struct cli_opt {
    enum cli_opt_type type;
    int short_name;
    const char *long_name;
    void *value;
    const char *argh;
    const char *help;
    unsigned flags;
};

struct cli_strlist {
    const char **v;
    size_t n;
};

#define OPT_END()                                 \
    {                                             \
        CLI_OPT_END, 0, NULL, NULL, NULL, NULL, 0 \
    }
#define OPT_GROUP(h)                               \
    {                                              \
        CLI_OPT_GROUP, 0, NULL, NULL, NULL, (h), 0 \
    }
#define OPT_BOOL(s, l, v, h)                      \
    {                                             \
        CLI_OPT_BOOL, (s), (l), (v), NULL, (h), 0 \
    }
#define OPT_COUNT(s, l, v, h)                      \
    {                                              \
        CLI_OPT_COUNT, (s), (l), (v), NULL, (h), 0 \
    }
#define OPT_STR(s, l, v, a, h)                  \
    {                                           \
        CLI_OPT_STR, (s), (l), (v), (a), (h), 0 \
    }
#define OPT_UINT(s, l, v, a, h)                  \
    {                                            \
        CLI_OPT_UINT, (s), (l), (v), (a), (h), 0 \
    }
#define OPT_DURATION(s, l, v, h)                            \
    {                                                       \
        CLI_OPT_DURATION, (s), (l), (v), "DURATION", (h), 0 \
    }
#define OPT_BYTES(s, l, v, h)                         \
    {                                                 \
        CLI_OPT_BYTES, (s), (l), (v), "BYTES", (h), 0 \
    }
#define OPT_STR_LIST(s, l, v, a, h)                  \
    {                                                \
        CLI_OPT_STR_LIST, (s), (l), (v), (a), (h), 0 \
    }

/* Options every subcommand takes; |g| is a struct cli_global_opts *. */
struct cli_global_opts {
    int verbose;
    int quiet;
    const char *color;
};
#define CLI_GLOBAL_OPTS(g)                                                  \
    OPT_GROUP("Global options"),                                            \
        OPT_COUNT('v', "verbose", &(g)->verbose,                            \
                  "say more on stderr (repeat for more)"),                  \
        OPT_BOOL('q', "quiet", &(g)->quiet, "print only errors on stderr"), \
        OPT_STR(0, "color", &(g)->color, "WHEN",                            \
                "colour output: auto (default), always or never")

/* A subcommand's description for --help. */
struct cli_cmd_help {
    const char *name;         /* "tail" */
    const char *const *usage; /* NULL-terminated synopsis lines */
    const char *summary;      /* one paragraph */
};

/* cli_opts_parse() results besides the count of positional arguments. */
#define CLI_OPTS_EXIT_OK (-1)    /* --help or --list-opts was printed */
#define CLI_OPTS_EXIT_USAGE (-2) /* a usage error was printed */

/*
 * Parse argv[1..argc-1] against |opts|.  Positional arguments are moved,
 * in order, to argv[1..n]; the return value is n, or one of CLI_OPTS_EXIT_*
 * after printing help (stdout) or the error and a hint (stderr).
 */
int cli_opts_parse(const struct cli_cmd_help *cmd, const struct cli_opt *opts,
                   int argc, char **argv);

void cli_opts_usage(FILE *f, const struct cli_cmd_help *cmd,
                    const struct cli_opt *opts);

/* Print a usage error for |cmd| with a hint, return CLI_OPTS_EXIT_USAGE. */
int cli_opts_error(const struct cli_cmd_help *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Value parsers, shared with the environment-variable readers. */
int cli_parse_duration(const char *s, uint64_t *ms);
int cli_parse_bytes(const char *s, uint64_t *out);
int cli_parse_uint(const char *s, uint64_t *out);

void cli_strlist_free(struct cli_strlist *l);

#endif /* RTCTL_OPTS_H */
