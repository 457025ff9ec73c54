/*
 * cmd_serve.c: `rtctl serve`, the bundled server (server-stub/).
 *
 * Prints `listening on http://HOST:PORT` as its first line on stdout, so a
 * test that starts it with --port 0 learns the port without racing, and
 * writes the port to --port-file when asked.  SIGINT and SIGTERM start a
 * graceful shutdown (close 1001 to every WebSocket, end SSE and polls);
 * the process exits 0 when it is done, within a second.  SIGPIPE is
 * ignored (main.c).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "cmd.h"
#include "engine_redis.h"
#include "exit.h"
#include "opts.h"
#include "output.h"
#include "rt/error.h"
#include "server.h"

static const char *const serve_usage[] = {
    "rtctl serve [options]",
    NULL,
};

static const struct cli_cmd_help serve_help = {
    "serve",
    serve_usage,
    "Run the bundled real-time server: rooms over WebSocket (/ws/ROOM), "
    "Server-Sent Events (/events/ROOM) and long polling (/poll/ROOM), "
    "HTTP publishing (POST /publish/ROOM), presence, /echo, /health and "
    "Prometheus /metrics, as rtctl-protocol(7) describes. Ctrl-C or "
    "SIGTERM closes every connection cleanly and exits 0.",
};

struct serve {
    uv_loop_t loop;
    uv_signal_t sigint, sigterm;
    rt_server *srv;
    int stopping;
};

static void close_signals(struct serve *sv)
{
    if (!uv_is_closing((uv_handle_t *)&sv->sigint))
        uv_close((uv_handle_t *)&sv->sigint, NULL);
    if (!uv_is_closing((uv_handle_t *)&sv->sigterm))
        uv_close((uv_handle_t *)&sv->sigterm, NULL);
}

/*
 * The server is down: let the loop end.  The signal handles stay open (only
 * unreferenced) until then, so a signal arriving now still finds our
 * handler instead of the default action.
 */
static void on_stopped(rt_server *s, void *ud)
{
    struct serve *sv = ud;

    (void)s;
    uv_unref((uv_handle_t *)&sv->sigint);
    uv_unref((uv_handle_t *)&sv->sigterm);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct serve *sv = h->data;

    if (sv->stopping) {
        /* A second Ctrl-C: stop waiting for connections. */
        fprintf(stderr, "rtctl serve: interrupted again, exiting now\n");
        exit(RTCTL_EXIT_INTERRUPTED);
    }
    sv->stopping = 1;
    (void)signum;
    rt_server_shutdown(sv->srv, on_stopped, sv);
}

static int parse_level(const char *s, enum rt_server_log_level *out)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    int i;

    for (i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (enum rt_server_log_level)i;
            return 0;
        }
    return -1;
}

static int secs(uint64_t ms)
{
    return (int)((ms + 999) / 1000);
}

int cmd_serve(int argc, char **argv)
{
    struct cli_global_opts g = {0, 0, NULL};
    struct cli_out out;
    rt_server_opts so;
    struct serve sv;
    const char *port_file = NULL, *log_level = "info", *log_format = "text";
    const char *rate = NULL;
    uint64_t port = 8080, max_msg, max_room, max_user, max_queue, history;
    uint64_t ping_ms = 30000, presence_ms = 30000, keepalive_ms = 15000;
    uint64_t poll_max_ms = 60000, max_header, max_body;
    uint64_t max_rooms, room_ttl_ms, max_addr, request_ms, pres_max;
    const char *typing_rate = NULL, *redis_url = NULL;
    int compress = 0, n, rc;
    char err[256] = "";
    char *end;
    FILE *pf;
    struct cli_opt opts[] = {
        OPT_GROUP("Listening"),
        OPT_STR(0, "host", &so.host, "ADDR",
                "address to bind (default 127.0.0.1)"),
        OPT_UINT('p', "port", &port, "PORT",
                 "port to listen on (default 8080; 0 picks a free one)"),
        OPT_STR(0, "port-file", &port_file, "FILE",
                "write the port to FILE once listening"),
        OPT_STR(0, "tls-cert", &so.tls_cert, "PEM",
                "serve wss:// and https:// with this certificate"),
        OPT_STR(0, "tls-key", &so.tls_key, "PEM",
                "the private key of --tls-cert"),
        OPT_GROUP("Access"),
        OPT_STR(0, "auth-secret", &so.auth_secret, "SECRET",
                "require HS256 tokens signed with SECRET (default: "
                "$RTCTL_AUTH_SECRET; unset: no auth)"),
        OPT_STR(0, "allow-origin", &so.allow_origin, "LIST",
                "comma-separated origins for CORS and WebSocket upgrades "
                "(default *)"),
        OPT_GROUP("Limits"),
        OPT_BYTES(0, "max-message-bytes", &max_msg,
                  "largest message, reassembled (default 64k; 1009 past "
                  "it)"),
        OPT_UINT(0, "max-room-connections", &max_room, "N",
                 "connections per room (default 10000; 0: no limit)"),
        OPT_UINT(0, "max-user-connections", &max_user, "N",
                 "connections per user (default 100; 0: no limit)"),
        OPT_STR(0, "rate", &rate, "N",
                "messages per second per connection, burst 2N "
                "(default: no limit)"),
        OPT_BYTES(0, "max-queue-bytes", &max_queue,
                  "send queue per connection before it is dropped as a "
                  "slow consumer (default 1m)"),
        OPT_UINT(0, "history", &history, "N",
                 "messages each room keeps for resume (default 1000)"),
        OPT_UINT(0, "max-rooms", &max_rooms, "N",
                 "rooms at once; a new one past it is refused with "
                 "too_many_rooms (default 10000; 0: no limit)"),
        OPT_UINT(0, "max-address-connections", &max_addr, "N",
                 "connections at once from one IP address (default "
                 "1024; 0: no limit)"),
        OPT_UINT(0, "presence-max-members", &pres_max, "N",
                 "rooms with more connections announce no joins and "
                 "leaves, only snapshots on request (default 1000; 0: "
                 "no limit)"),
        OPT_STR(0, "typing-rate", &typing_rate, "N",
                "typing events per second relayed per user and room; "
                "the rest are coalesced (default 4; 0: no limit)"),
        OPT_BYTES(0, "max-header-bytes", &max_header,
                  "HTTP request head size; past it 431 or 414 "
                  "(default 8k, at most 63k)"),
        OPT_BYTES(0, "max-body-bytes", &max_body,
                  "HTTP request body size (default 64k)"),
        OPT_GROUP("Timing"),
        OPT_DURATION(0, "ping-interval", &ping_ms,
                     "WebSocket ping interval, whole seconds; silent "
                     "peers are closed after two (default 30s)"),
        OPT_DURATION(0, "presence-timeout", &presence_ms,
                     "how long a user may be gone or silent before they "
                     "leave (default 30s)"),
        OPT_DURATION(0, "sse-keepalive", &keepalive_ms,
                     "keepalive comment interval on SSE streams "
                     "(default 15s)"),
        OPT_DURATION(0, "poll-timeout-max", &poll_max_ms,
                     "longest a long poll may wait (default 60s)"),
        OPT_DURATION(0, "room-ttl", &room_ttl_ms,
                     "an empty room's history is dropped after this long "
                     "idle (default 1h; 0: kept)"),
        OPT_DURATION(0, "request-timeout", &request_ms,
                     "time for an HTTP request's headers, and then for "
                     "its body (default 10s)"),
        OPT_BOOL(0, "compress", &compress,
                 "accept permessage-deflate from clients that offer it"),
        OPT_GROUP("Cluster"),
        OPT_STR(0, "redis", &redis_url, "URL",
                "share rooms, history and presence with the other "
                "instances through the Redis at URL: "
                "redis://[[user]:password@]host[:port][/db] or "
                "unix:///path (default: all in this process)"),
        OPT_GROUP("Logging"),
        OPT_STR(0, "log-level", &log_level, "LEVEL",
                "error, warn, info (default) or debug"),
        OPT_STR(0, "log-format", &log_format, "FORMAT",
                "text (default) or json, one object per line"),
        CLI_GLOBAL_OPTS(&g),
        OPT_END(),
    };

    rt_server_opts_init(&so);
    max_msg = so.max_message_bytes;
    max_room = so.max_room_connections;
    max_user = so.max_user_connections;
    max_queue = so.max_queue_bytes;
    history = so.history;
    max_header = so.max_header_bytes;
    max_body = so.max_body_bytes;
    max_rooms = so.max_rooms;
    room_ttl_ms = so.room_ttl_ms;
    max_addr = so.max_address_connections;
    request_ms = so.request_timeout_ms;
    pres_max = so.presence_max_members;
    so.auth_secret = getenv("RTCTL_AUTH_SECRET");
    if (so.auth_secret != NULL && *so.auth_secret == '\0')
        so.auth_secret = NULL;

    n = cli_opts_parse(&serve_help, opts, argc, argv);
    if (n < 0)
        return n == CLI_OPTS_EXIT_OK ? RTCTL_EXIT_OK : RTCTL_EXIT_USAGE;
    if (cli_out_init(&out, &serve_help, &g, 0) != 0)
        return RTCTL_EXIT_USAGE;
    if (n > 0) {
        cli_opts_error(&serve_help, "unexpected argument '%s'", argv[1]);
        return RTCTL_EXIT_USAGE;
    }
    if (port > 65535) {
        cli_opts_error(&serve_help, "--port: %llu is not a port (0 to 65535)",
                       (unsigned long long)port);
        return RTCTL_EXIT_USAGE;
    }
    if (parse_level(log_level, &so.log_level) != 0) {
        cli_opts_error(&serve_help,
                       "--log-level: '%s' is not one of error, "
                       "warn, info, debug",
                       log_level);
        return RTCTL_EXIT_USAGE;
    }
    if (strcmp(log_format, "text") == 0)
        so.log_format = RT_SERVER_LOG_TEXT;
    else if (strcmp(log_format, "json") == 0)
        so.log_format = RT_SERVER_LOG_JSON;
    else {
        cli_opts_error(&serve_help, "--log-format: '%s' is not text or json",
                       log_format);
        return RTCTL_EXIT_USAGE;
    }
    if (rate != NULL) {
        errno = 0;
        so.rate = strtod(rate, &end);
        if (errno || end == rate || *end || !(so.rate > 0) || so.rate > 1e6) {
            cli_opts_error(&serve_help,
                           "--rate: '%s' is not a number of "
                           "messages per second",
                           rate);
            return RTCTL_EXIT_USAGE;
        }
    }
    if (typing_rate != NULL) {
        errno = 0;
        so.typing_rate = strtod(typing_rate, &end);
        if (errno || end == typing_rate || *end || !(so.typing_rate >= 0) ||
            so.typing_rate > 1e6) {
            cli_opts_error(&serve_help,
                           "--typing-rate: '%s' is not a "
                           "number of events per second",
                           typing_rate);
            return RTCTL_EXIT_USAGE;
        }
    }
    if (max_rooms > UINT32_MAX || max_addr > UINT32_MAX ||
        pres_max > UINT32_MAX || request_ms < 1000 || request_ms > 3600000) {
        cli_opts_error(&serve_help,
                       "a limit is out of range (--request-timeout 1s..1h)");
        return RTCTL_EXIT_USAGE;
    }
    if (max_msg < 16 || max_msg > 64 * 1024 * 1024 || max_queue < 1024 ||
        history > 10000000 || max_header < 512 ||
        max_header > RT_SERVER_MAX_HEADER_BYTES || max_body < 16 ||
        ping_ms < 1000 || ping_ms > 3600000 || presence_ms > 86400000 ||
        keepalive_ms < 100 || poll_max_ms < 1000 || max_room > UINT32_MAX ||
        max_user > UINT32_MAX) {
        cli_opts_error(&serve_help,
                       "a limit is out of range (message 16..64m, queue "
                       ">= 1k, header 512..63k, ping 1s..1h, keepalive "
                       ">= 100ms, poll max >= 1s)");
        return RTCTL_EXIT_USAGE;
    }
    so.port = (int)port;
    so.max_message_bytes = (size_t)max_msg;
    so.max_room_connections = (unsigned)max_room;
    so.max_user_connections = (unsigned)max_user;
    so.max_queue_bytes = (size_t)max_queue;
    so.history = (unsigned)history;
    so.max_header_bytes = (size_t)max_header;
    so.max_body_bytes = (size_t)max_body;
    so.ping_interval_s = (unsigned)secs(ping_ms);
    so.presence_timeout_ms = presence_ms;
    so.sse_keepalive_ms = keepalive_ms;
    so.poll_timeout_max_s = (unsigned)secs(poll_max_ms);
    so.compress = compress;
    so.max_rooms = (unsigned)max_rooms;
    so.presence_max_members = (unsigned)pres_max;
    so.room_ttl_ms = room_ttl_ms;
    so.max_address_connections = (unsigned)max_addr;
    so.request_timeout_ms = request_ms;
    if (g.quiet)
        so.log_level = RT_SERVER_LOG_ERROR;
    else if (g.verbose > 0)
        so.log_level = RT_SERVER_LOG_DEBUG;

    memset(&sv, 0, sizeof(sv));
    uv_loop_init(&sv.loop);
    /*
     * Signals first: whoever reads the "listening" line may send SIGTERM
     * at once, and it must find the handler in place.
     */
    uv_signal_init(&sv.loop, &sv.sigint);
    uv_signal_init(&sv.loop, &sv.sigterm);
    sv.sigint.data = sv.sigterm.data = &sv;
    uv_signal_start(&sv.sigint, on_signal, SIGINT);
    uv_signal_start(&sv.sigterm, on_signal, SIGTERM);
    if (redis_url != NULL) {
        rc = rt__engine_redis_new(&so.engine, &sv.loop, redis_url, so.history,
                                  so.presence_timeout_ms, err, sizeof(err));
        if (rc != 0) {
            if (rc == RT_EURL)
                cli_opts_error(&serve_help, "--redis: %s", err);
            else
                cli_errf(&out, "--redis: %s", rt_strerror(rc));
            close_signals(&sv);
            uv_run(&sv.loop, UV_RUN_DEFAULT);
            uv_loop_close(&sv.loop);
            return rc == RT_EURL ? RTCTL_EXIT_USAGE : RTCTL_EXIT_RUNTIME;
        }
    }
    rc = rt_server_new(&sv.srv, &sv.loop, &so, err, sizeof(err));
    if (rc != 0) {
        cli_errf(&out, "%s", err[0] ? err : rt_strerror(rc));
        close_signals(&sv);
        uv_run(&sv.loop, UV_RUN_DEFAULT);
        uv_loop_close(&sv.loop);
        return rc == RT_EINVAL ? RTCTL_EXIT_USAGE : RTCTL_EXIT_RUNTIME;
    }
    printf("listening on http%s://%s%s%s:%d\n", so.tls_cert ? "s" : "",
           strchr(so.host, ':') ? "[" : "", so.host,
           strchr(so.host, ':') ? "]" : "", rt_server_port(sv.srv));
    fflush(stdout);
    if (port_file != NULL) {
        pf = fopen(port_file, "w");
        if (pf == NULL || fprintf(pf, "%d\n", rt_server_port(sv.srv)) < 0 ||
            fclose(pf) != 0) {
            cli_errf(&out, "cannot write --port-file '%s': %s", port_file,
                     strerror(errno));
            rt_server_shutdown(sv.srv, on_stopped, &sv);
            uv_run(&sv.loop, UV_RUN_DEFAULT);
            rt_server_free(sv.srv);
            close_signals(&sv);
            uv_run(&sv.loop, UV_RUN_DEFAULT);
            uv_loop_close(&sv.loop);
            return RTCTL_EXIT_RUNTIME;
        }
    }

    uv_run(&sv.loop, UV_RUN_DEFAULT);
    rt_server_free(sv.srv);
    close_signals(&sv);
    uv_run(&sv.loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&sv.loop) != 0)
        cli_warnf(&out, "the event loop still had handles open at exit");
    return RTCTL_EXIT_OK;
}
