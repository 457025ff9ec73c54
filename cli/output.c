/*
 * output.c: colour policy, diagnostics and the event printers shared by
 * every client subcommand.
 *
 * Colour (no-color.org): on only when stdout is a terminal, TERM is not
 * "dumb" and NO_COLOR is unset or empty; --color=always|never overrides.
 * JSON output is never coloured.  When stdout is a terminal, control
 * characters in remote data are escaped so that a server cannot move the
 * cursor or retitle the window of the person reading.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core_int.h"
#include "output.h"

#define C_TYPE "\033[36m"
#define C_DIM "\033[2m"
#define C_OFF "\033[0m"

int cli_out_init(struct cli_out *o, const struct cli_cmd_help *cmd,
                 const struct cli_global_opts *g, int json)
{
    const char *nc = getenv("NO_COLOR"), *term = getenv("TERM");

    memset(o, 0, sizeof(*o));
    o->cmd = cmd->name;
    o->json = json;
    o->verbose = g->verbose;
    o->quiet = g->quiet;
    o->tty = isatty(STDOUT_FILENO);
    if (g->color == NULL || strcmp(g->color, "auto") == 0)
        o->color = o->tty && (nc == NULL || *nc == '\0') &&
                   !(term != NULL && strcmp(term, "dumb") == 0);
    else if (strcmp(g->color, "always") == 0)
        o->color = 1;
    else if (strcmp(g->color, "never") == 0)
        o->color = 0;
    else
        return cli_opts_error(
            cmd, "--color: '%s' is not one of auto, always, never", g->color);
    if (json)
        o->color = 0;
    return 0;
}

static void vsay(const struct cli_out *o, const char *what, const char *fmt,
                 va_list ap) __attribute__((format(printf, 3, 0)));

static void vsay(const struct cli_out *o, const char *what, const char *fmt,
                 va_list ap)
{
    fprintf(stderr, "rtctl %s: %s", o->cmd, what);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void cli_errf(const struct cli_out *o, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsay(o, "", fmt, ap);
    va_end(ap);
}

void cli_warnf(const struct cli_out *o, const char *fmt, ...)
{
    va_list ap;

    if (o->quiet)
        return;
    va_start(ap, fmt);
    vsay(o, "warning: ", fmt, ap);
    va_end(ap);
}

void cli_noticef(const struct cli_out *o, const char *fmt, ...)
{
    va_list ap;

    if (o->quiet)
        return;
    va_start(ap, fmt);
    vsay(o, "", fmt, ap);
    va_end(ap);
}

void cli_infof(const struct cli_out *o, const char *fmt, ...)
{
    va_list ap;

    if (o->quiet || o->verbose == 0)
        return;
    va_start(ap, fmt);
    vsay(o, "", fmt, ap);
    va_end(ap);
}

/*
 * Write |b|, built with status |rc| (0, or not 0 when an append failed), to
 * stdout whole and free it; remember the first failure.  Returns 0 or -1.
 */
static int emit(struct cli_out *o, rt_buf *b, int rc)
{
    if (rc != 0) {
        o->write_error = ENOMEM;
    } else if (o->write_error) {
        rc = -1;
    } else if (fwrite(b->data, 1, b->len, stdout) != b->len) {
        o->write_error = errno ? errno : EIO;
        rc = -1;
    }
    rt__buf_cleanup(b);
    return rc != 0 ? -1 : 0;
}

int cli_out_append_safe(rt_buf *b, const char *s, size_t len, int tty,
                        int keep_newline)
{
    static const char hex[] = "0123456789abcdef";
    size_t i, start = 0;
    char esc[4] = {'\\', 'x', 0, 0};

    if (!tty)
        return rt__buf_append(b, s, len);
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if ((c >= 0x20 && c != 0x7f) || c == '\t' ||
            (c == '\n' && keep_newline))
            continue;
        if (rt__buf_append(b, s + start, i - start) != 0)
            return RT_ENOMEM;
        esc[2] = hex[c >> 4];
        esc[3] = hex[c & 0xF];
        if (rt__buf_append(b, esc, 4) != 0)
            return RT_ENOMEM;
        start = i + 1;
    }
    return rt__buf_append(b, s + start, len - start);
}

int cli_out_sse_event(struct cli_out *o, const rt_sse_event *ev)
{
    rt_buf b;
    int rc = 0;

    rt__buf_init(&b);
    if (o->json) {
        rc |= rt__buf_append(&b, "{\"event\":", 9);
        rc |= rt__buf_json_str(&b, ev->type, ev->type_len);
        rc |= rt__buf_append(&b, ",\"id\":", 6);
        rc |= rt__buf_json_str(&b, ev->id, ev->id_len);
        rc |= rt__buf_append(&b, ",\"data\":", 8);
        rc |= rt__buf_json_str(&b, ev->data, ev->data_len);
        rc |= rt__buf_append(&b, "}\n", 2);
    } else {
        /*
         * Every event gets its [TYPE ID], "message" included: a bare
         * line would read as one more line of a multi-line event before.
         */
        rc |= rt__buf_append(&b, "[", 1);
        if (o->color)
            rc |= rt__buf_append(&b, C_TYPE, strlen(C_TYPE));
        rc |= cli_out_append_safe(&b, ev->type, ev->type_len, o->tty, 1);
        if (o->color)
            rc |= rt__buf_append(&b, C_OFF, strlen(C_OFF));
        if (ev->id_len > 0) {
            rc |= rt__buf_append(&b, " ", 1);
            if (o->color)
                rc |= rt__buf_append(&b, C_DIM, strlen(C_DIM));
            rc |= cli_out_append_safe(&b, ev->id, ev->id_len, o->tty, 1);
            if (o->color)
                rc |= rt__buf_append(&b, C_OFF, strlen(C_OFF));
        }
        rc |= rt__buf_append(&b, "] ", 2);
        rc |= cli_out_append_safe(&b, ev->data, ev->data_len, o->tty, 1);
        rc |= rt__buf_append(&b, "\n", 1);
    }
    return emit(o, &b, rc);
}

void cli_out_flush(struct cli_out *o)
{
    if (fflush(stdout) != 0 && !o->write_error)
        o->write_error = errno ? errno : EIO;
}

int cli_out_finish(struct cli_out *o)
{
    if (fflush(stdout) != 0 && !o->write_error)
        o->write_error = errno ? errno : EIO;
    if (o->write_error == 0 || o->write_error == EPIPE)
        return 0;
    cli_errf(o, "cannot write to standard output: %s",
             strerror(o->write_error));
    return 1;
}

int cli_out_msg(struct cli_out *o, uint64_t seq, const char *json, size_t len)
{
    cJSON *root = NULL, *type, *data, *author = NULL, *content = NULL;
    char num[24];
    rt_buf b;
    int rc = 0;

    rt__buf_init(&b);
    if (o->json) {
        rc |= rt__buf_append(&b, json, len);
        rc |= rt__buf_append(&b, "\n", 1);
    } else {
        root = cJSON_ParseWithLength(json, len);
        type = cJSON_GetObjectItemCaseSensitive(root, "type");
        data = cJSON_GetObjectItemCaseSensitive(root, "data");
        if (cJSON_IsObject(data)) {
            author = cJSON_GetObjectItemCaseSensitive(data, "author");
            content = cJSON_GetObjectItemCaseSensitive(data, "content");
        }
        snprintf(num, sizeof(num), "%llu", (unsigned long long)seq);
        rc |= rt__buf_append(&b, "[", 1);
        if (o->color)
            rc |= rt__buf_append(&b, C_TYPE, strlen(C_TYPE));
        if (cJSON_IsString(type))
            rc |= cli_out_append_safe(&b, type->valuestring,
                                      strlen(type->valuestring), o->tty, 1);
        else
            rc |= rt__buf_append(&b, "message", 7);
        if (o->color)
            rc |= rt__buf_append(&b, C_OFF, strlen(C_OFF));
        rc |= rt__buf_append(&b, " ", 1);
        if (o->color)
            rc |= rt__buf_append(&b, C_DIM, strlen(C_DIM));
        rc |= rt__buf_append(&b, num, strlen(num));
        if (o->color)
            rc |= rt__buf_append(&b, C_OFF, strlen(C_OFF));
        rc |= rt__buf_append(&b, "] ", 2);
        if (cJSON_IsString(content)) {
            if (cJSON_IsString(author)) {
                rc |= cli_out_append_safe(&b, author->valuestring,
                                          strlen(author->valuestring), o->tty,
                                          1);
                rc |= rt__buf_append(&b, ": ", 2);
            }
            rc |= cli_out_append_safe(&b, content->valuestring,
                                      strlen(content->valuestring), o->tty, 1);
        } else {
            rc |= cli_out_append_safe(&b, json, len, o->tty, 1);
        }
        rc |= rt__buf_append(&b, "\n", 1);
        cJSON_Delete(root);
    }
    return emit(o, &b, rc);
}

int cli_out_line(struct cli_out *o, const char *s, size_t len)
{
    rt_buf b;
    int rc;

    rt__buf_init(&b);
    rc = cli_out_append_safe(&b, s, len, o->tty, 1);
    rc |= rt__buf_append(&b, "\n", 1);
    return emit(o, &b, rc);
}
