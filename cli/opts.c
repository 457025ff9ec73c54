/*
 * opts.c: the option parser and --help printer behind every subcommand.
 *
 * One pass over argv: options are applied as they come, positional
 * arguments are compacted to the front.  Every error names the option and
 * the value that was wrong and ends with "Try 'rtctl CMD --help'." (curl's
 * helpf), and the caller exits 2.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "opts.h"

#define HELP_COLUMN 30

int cli_opts_error(const struct cli_cmd_help *cmd, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "rtctl %s: ", cmd->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'rtctl %s --help'.\n", cmd->name);
    return CLI_OPTS_EXIT_USAGE;
}

int cli_parse_uint(const char *s, uint64_t *out)
{
    uint64_t v = 0;

    if (*s == '\0')
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return 0;
}

/*
 * Split "250ms" into 250 and "ms".  The number is decimal digits with an
 * optional fraction ("1.5s"), so that "0.25s" and "250ms" both work.
 */
static int parse_scaled(const char *s, uint64_t *out, const char *const *units,
                        const uint64_t *scale, size_t nunits, uint64_t dflt)
{
    uint64_t whole = 0, frac = 0, fdiv = 1, mul = 0, v;
    const char *p = s;
    size_t i;

    if (!isdigit((unsigned char)*p))
        return -1;
    for (; isdigit((unsigned char)*p); p++) {
        if (whole > (UINT64_MAX - 9) / 10)
            return -1;
        whole = whole * 10 + (uint64_t)(*p - '0');
    }
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return -1;
        for (; isdigit((unsigned char)*p); p++) {
            if (fdiv < 1000000000) {
                frac = frac * 10 + (uint64_t)(*p - '0');
                fdiv *= 10;
            }
        }
    }
    if (*p == '\0')
        mul = dflt;
    for (i = 0; i < nunits && mul == 0; i++)
        if (strcmp(p, units[i]) == 0)
            mul = scale[i];
    if (mul == 0)
        return -1;
    if (whole > UINT64_MAX / mul)
        return -1;
    v = whole * mul;
    /* Fractions below the unit's resolution round down (1.0001ms is 1). */
    if (v > UINT64_MAX - frac * mul / fdiv)
        return -1;
    *out = v + frac * mul / fdiv;
    return 0;
}

int cli_parse_duration(const char *s, uint64_t *ms)
{
    static const char *const units[] = {"ms", "s", "m", "h", "d"};
    static const uint64_t scale[] = {1, 1000, 60000, 3600000, 86400000};

    return parse_scaled(s, ms, units, scale, 5, 1000);
}

int cli_parse_bytes(const char *s, uint64_t *out)
{
    static const char *const units[] = {"k",   "K", "KiB", "m",  "M",
                                        "MiB", "g", "G",   "GiB"};
    static const uint64_t scale[] = {1024,       1024,       1024,
                                     1048576,    1048576,    1048576,
                                     1073741824, 1073741824, 1073741824};

    return parse_scaled(s, out, units, scale, 9, 1);
}

void cli_strlist_free(struct cli_strlist *l)
{
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static int apply(const struct cli_cmd_help *cmd, const struct cli_opt *o,
                 const char *arg, int negated)
{
    const char *name = o->long_name;
    char shortname[3] = {'-', (char)o->short_name, '\0'};
    const char *shown = name ? name : shortname + 1;
    const char *dashes = name ? "--" : "-";
    struct cli_strlist *l;
    const char **v;

    switch (o->type) {
    case CLI_OPT_BOOL:
        *(int *)o->value = !negated;
        return 0;
    case CLI_OPT_COUNT:
        *(int *)o->value = negated ? 0 : *(int *)o->value + 1;
        return 0;
    case CLI_OPT_STR:
        *(const char **)o->value = arg;
        return 0;
    case CLI_OPT_UINT:
        if (cli_parse_uint(arg, o->value) != 0)
            return cli_opts_error(cmd, "%s%s: '%s' is not a whole number",
                                  dashes, shown, arg);
        return 0;
    case CLI_OPT_DURATION:
        if (cli_parse_duration(arg, o->value) != 0)
            return cli_opts_error(cmd,
                                  "%s%s: '%s' is not a duration "
                                  "(examples: 250ms, 2s, 1.5m, 1h)",
                                  dashes, shown, arg);
        return 0;
    case CLI_OPT_BYTES:
        if (cli_parse_bytes(arg, o->value) != 0)
            return cli_opts_error(cmd,
                                  "%s%s: '%s' is not a size "
                                  "(examples: 4096, 64k, 1m)",
                                  dashes, shown, arg);
        return 0;
    case CLI_OPT_STR_LIST:
        l = o->value;
        v = realloc(l->v, (l->n + 1) * sizeof(*v));
        if (v == NULL) {
            fprintf(stderr, "rtctl %s: out of memory\n", cmd->name);
            return CLI_OPTS_EXIT_USAGE;
        }
        v[l->n++] = arg;
        l->v = v;
        return 0;
    default:
        return 0;
    }
}

static int takes_arg(const struct cli_opt *o)
{
    return o->type != CLI_OPT_BOOL && o->type != CLI_OPT_COUNT;
}

static void list_opts(const struct cli_opt *opts)
{
    const struct cli_opt *o;

    for (o = opts; o->type != CLI_OPT_END; o++) {
        if (o->type == CLI_OPT_GROUP || (o->flags & CLI_OPT_HIDDEN))
            continue;
        if (o->long_name)
            printf("--%s\n", o->long_name);
        if (o->long_name && o->type == CLI_OPT_BOOL)
            printf("--no-%s\n", o->long_name);
        if (o->short_name)
            printf("-%c\n", o->short_name);
    }
    printf("--help\n-h\n");
}

static int parse_long(const struct cli_cmd_help *cmd,
                      const struct cli_opt *opts, int argc, char **argv,
                      int *i)
{
    const char *name = argv[*i] + 2, *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const struct cli_opt *o;
    int negated = 0;

    for (o = opts; o->type != CLI_OPT_END; o++) {
        if (o->long_name == NULL)
            continue;
        if (strlen(o->long_name) == len &&
            strncmp(o->long_name, name, len) == 0)
            break;
        if (o->type == CLI_OPT_BOOL && len > 3 &&
            strncmp(name, "no-", 3) == 0 && strlen(o->long_name) == len - 3 &&
            strncmp(o->long_name, name + 3, len - 3) == 0) {
            negated = 1;
            break;
        }
    }
    if (o->type == CLI_OPT_END)
        return cli_opts_error(cmd, "unknown option '--%.*s'", (int)len, name);
    if (!takes_arg(o)) {
        if (eq)
            return cli_opts_error(cmd, "option '--%s' takes no value",
                                  o->long_name);
        return apply(cmd, o, NULL, negated);
    }
    if (eq)
        return apply(cmd, o, eq + 1, 0);
    if (*i + 1 >= argc)
        return cli_opts_error(cmd, "option '--%s' needs a value (%s)",
                              o->long_name, o->argh ? o->argh : "VALUE");
    return apply(cmd, o, argv[++*i], 0);
}

static int parse_short(const struct cli_cmd_help *cmd,
                       const struct cli_opt *opts, int argc, char **argv,
                       int *i)
{
    const char *p = argv[*i] + 1;
    const struct cli_opt *o;
    int rc;

    for (; *p; p++) {
        for (o = opts; o->type != CLI_OPT_END; o++)
            if (o->short_name == *p)
                break;
        if (o->type == CLI_OPT_END)
            return cli_opts_error(cmd, "unknown option '-%c'", *p);
        if (!takes_arg(o)) {
            if ((rc = apply(cmd, o, NULL, 0)) != 0)
                return rc;
            continue;
        }
        if (p[1] != '\0')
            return apply(cmd, o, p + 1, 0);
        if (*i + 1 >= argc)
            return cli_opts_error(cmd, "option '-%c' needs a value (%s)", *p,
                                  o->argh ? o->argh : "VALUE");
        return apply(cmd, o, argv[++*i], 0);
    }
    return 0;
}

int cli_opts_parse(const struct cli_cmd_help *cmd, const struct cli_opt *opts,
                   int argc, char **argv)
{
    int i, npos = 0, rc, only_args = 0;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (only_args || a[0] != '-' || a[1] == '\0') {
            argv[1 + npos++] = argv[i];
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_args = 1;
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            cli_opts_usage(stdout, cmd, opts);
            return CLI_OPTS_EXIT_OK;
        }
        if (strcmp(a, "--list-opts") == 0) {
            list_opts(opts);
            return CLI_OPTS_EXIT_OK;
        }
        rc = a[1] == '-' ? parse_long(cmd, opts, argc, argv, &i)
                         : parse_short(cmd, opts, argc, argv, &i);
        if (rc != 0)
            return rc;
    }
    return npos;
}

/* Print |text| wrapped to 79 columns, continuation lines at |indent|. */
static void wrap(FILE *f, const char *text, int col, int indent)
{
    const char *p = text;

    while (*p) {
        const char *end = p, *brk = NULL;

        while (*end && *end != '\n' && col + (end - p) < 79) {
            if (*end == ' ')
                brk = end;
            end++;
        }
        if (*end && *end != '\n' && brk != NULL)
            end = brk;
        fprintf(f, "%.*s\n", (int)(end - p), p);
        p = end;
        while (*p == ' ' || *p == '\n')
            p++;
        if (*p)
            fprintf(f, "%*s", indent, "");
        col = indent;
    }
}

void cli_opts_usage(FILE *f, const struct cli_cmd_help *cmd,
                    const struct cli_opt *opts)
{
    const struct cli_opt *o;
    size_t i;
    int n;

    for (i = 0; cmd->usage[i] != NULL; i++)
        fprintf(f, "%s %s\n", i == 0 ? "usage:" : "   or:", cmd->usage[i]);
    if (cmd->summary) {
        fputc('\n', f);
        wrap(f, cmd->summary, 0, 0);
    }
    for (o = opts; o->type != CLI_OPT_END; o++) {
        if (o->flags & CLI_OPT_HIDDEN)
            continue;
        if (o->type == CLI_OPT_GROUP) {
            fprintf(f, "\n%s:\n", o->help);
            continue;
        }
        n = fprintf(f, "    ");
        if (o->short_name)
            n += fprintf(f, "-%c%s", o->short_name, o->long_name ? ", " : "");
        else
            n += fprintf(f, "    ");
        if (o->long_name)
            n += fprintf(f, "--%s", o->long_name);
        if (takes_arg(o))
            n += fprintf(f, " %s", o->argh ? o->argh : "VALUE");
        if (n >= HELP_COLUMN - 1) {
            fputc('\n', f);
            n = 0;
        }
        fprintf(f, "%*s", HELP_COLUMN - n, "");
        wrap(f, o->help, HELP_COLUMN, HELP_COLUMN);
    }
    fprintf(f, "    -h, --help                show this help and exit\n");
}
