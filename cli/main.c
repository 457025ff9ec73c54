/*
 * main.c: global options, the subcommand table and dispatch (git.c's
 * commands[] and run_builtin).
 *
 * `rtctl help CMD` is `rtctl CMD --help`.  The hidden --list-cmds serves
 * the tests and shell completion.  SIGPIPE is ignored so that a closed
 * reader is a write error we can treat as success, not a silent death.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/opensslv.h>

#include "cmd.h"
#include "exit.h"
#include "rt/version.h"

struct cmd_struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
};

/* Sorted by name. */
static const struct cmd_struct commands[] = {
    {"chat", cmd_chat,
     "chat in a room over WebSocket (readline on a terminal)"},
    {"connect", cmd_connect,
     "raw interactive WebSocket session with any server"},
    {"load", cmd_load,
     "load-test a server: fan-out latency, loss, thresholds"},
    {"poll", cmd_poll, "follow a room by long polling"},
    {"proxy", cmd_proxy,
     "TCP proxy that injects faults (drops, latency, stalls)"},
    {"report", cmd_report,
     "merge rtctl load reports (several machines, several runs)"},
    {"send", cmd_send, "send messages to a room and wait for the acks"},
    {"serve", cmd_serve,
     "run the bundled WebSocket, SSE and long-poll server"},
    {"tail", cmd_tail, "print the events of a Server-Sent Events stream"},
    {"token", cmd_token, "mint or verify an HS256 JWT for the server"},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
    size_t i;

    fprintf(f,
            "usage: rtctl [-h | --help] [-V | --version] COMMAND [ARGS]\n"
            "\n"
            "rtctl talks to WebSocket, Server-Sent Events and long-polling\n"
            "endpoints, follows streams across drops, and mints test tokens.\n"
            "\n"
            "Commands:\n");
    for (i = 0; i < NCOMMANDS; i++)
        fprintf(f, "   %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n"
               "'rtctl help COMMAND' or 'rtctl COMMAND --help' describes one "
               "command;\nman rtctl(1) describes them all, with the exit "
               "statuses.\n");
}

static void version(void)
{
    printf("rtctl %s\n", RT_VERSION_STRING);
    printf("librtctl %s, cJSON %d.%d.%d, %s\n", RT_VERSION_STRING,
           CJSON_VERSION_MAJOR, CJSON_VERSION_MINOR, CJSON_VERSION_PATCH,
           OPENSSL_VERSION_TEXT);
}

static const struct cmd_struct *find_cmd(const char *name)
{
    size_t i;

    for (i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static int unknown(const char *name)
{
    fprintf(stderr,
            "rtctl: '%s' is not an rtctl command. See 'rtctl --help'.\n",
            name);
    return RTCTL_EXIT_USAGE;
}

int main(int argc, char **argv)
{
    const struct cmd_struct *c;
    char *help_argv[3];
    size_t i;

    signal(SIGPIPE, SIG_IGN);

    if (argc < 2) {
        usage(stderr);
        return RTCTL_EXIT_USAGE;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return RTCTL_EXIT_OK;
    }
    if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0) {
        version();
        return RTCTL_EXIT_OK;
    }
    if (strcmp(argv[1], "--list-cmds") == 0) {
        for (i = 0; i < NCOMMANDS; i++)
            printf("%s\n", commands[i].name);
        return RTCTL_EXIT_OK;
    }
    if (strcmp(argv[1], "help") == 0) {
        if (argc < 3) {
            usage(stdout);
            return RTCTL_EXIT_OK;
        }
        if ((c = find_cmd(argv[2])) == NULL)
            return unknown(argv[2]);
        help_argv[0] = argv[2];
        help_argv[1] = "--help";
        help_argv[2] = NULL;
        return c->fn(2, help_argv);
    }
    if (argv[1][0] == '-') {
        fprintf(stderr,
                "rtctl: unknown option '%s'\n"
                "Try 'rtctl --help'.\n",
                argv[1]);
        return RTCTL_EXIT_USAGE;
    }
    if ((c = find_cmd(argv[1])) == NULL)
        return unknown(argv[1]);
    return c->fn(argc - 1, argv + 1);
}
