/*
 * cmd_token.c: `rtctl token`, mint or verify an HS256 JWT for `rtctl serve
 * --auth-secret` (PROTOCOL.md section 2).
 *
 * The secret comes from --secret or RTCTL_AUTH_SECRET, the same variable
 * the server reads, so a shell that runs both needs it once and it need not
 * appear in the process list.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "core_int.h"
#include "exit.h"
#include "opts.h"
#include "output.h"
#include "rt/error.h"
#include "rt/jwt.h"
#include "rt/url.h"

#define MAX_ROOMS 256

static const char *const token_usage[] = {
    "rtctl token [options] --secret SECRET --sub USER [--ttl DURATION] "
    "[--rooms LIST]",
    "rtctl token [options] --verify --secret SECRET TOKEN",
    NULL,
};

static const struct cli_cmd_help token_help = {
    "token",
    token_usage,
    "Mint a JSON Web Token signed with HS256 that `rtctl serve "
    "--auth-secret SECRET` accepts, or verify one and print its claims. "
    "The secret may come from RTCTL_AUTH_SECRET instead of --secret. "
    "Verification exits 1 and says why when the token is malformed, "
    "signed with another secret or algorithm, or expired.",
};

static void fmt_time(char *out, size_t len, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (gmtime_r(&tt, &tm) == NULL ||
        strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, len, "%lld", (long long)t);
}

static void fmt_span(char *out, size_t len, int64_t s)
{
    int64_t a = s < 0 ? -s : s;

    if (a >= 86400)
        snprintf(out, len, "%lldd %lldh", (long long)(a / 86400),
                 (long long)(a % 86400 / 3600));
    else if (a >= 3600)
        snprintf(out, len, "%lldh %lldm", (long long)(a / 3600),
                 (long long)(a % 3600 / 60));
    else if (a >= 60)
        snprintf(out, len, "%lldm %llds", (long long)(a / 60),
                 (long long)(a % 60));
    else
        snprintf(out, len, "%llds", (long long)a);
}

/* Split "a,b,c" into |rooms| (pointers into |list|, which is modified). */
static int split_rooms(struct cli_out *o, char *list, char **rooms, size_t *n)
{
    char *p = list, *comma;

    *n = 0;
    for (;;) {
        comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        if (strcmp(p, "*") != 0 && !rt_room_valid(p, strlen(p))) {
            cli_errf(o,
                     "--rooms: '%s' is not a room name (1 to 64 of "
                     "A-Z a-z 0-9 . _ -, or '*')",
                     p);
            return -1;
        }
        if (*n == MAX_ROOMS) {
            cli_errf(o, "--rooms: more than %d rooms", MAX_ROOMS);
            return -1;
        }
        rooms[(*n)++] = p;
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

static int mint(struct cli_out *o, const char *secret, const char *sub,
                uint64_t ttl_ms, const char *rooms_arg, int64_t now)
{
    rt_jwt_claims c;
    char *rooms[MAX_ROOMS], *copy = NULL, *token = NULL;
    size_t nrooms = 0;
    int rc;

    if (!rt_room_valid(sub, strlen(sub))) {
        cli_errf(o,
                 "--sub: '%s' is not a user name (1 to 64 of "
                 "A-Z a-z 0-9 . _ -)",
                 sub);
        return RTCTL_EXIT_USAGE;
    }
    if (ttl_ms < 1000 || ttl_ms / 1000 > (uint64_t)(INT64_MAX - now)) {
        cli_errf(o, "--ttl: must be at least 1s");
        return RTCTL_EXIT_USAGE;
    }
    memset(&c, 0, sizeof(c));
    if (rooms_arg != NULL) {
        copy = strdup(rooms_arg);
        if (copy == NULL) {
            cli_errf(o, "out of memory");
            return RTCTL_EXIT_RUNTIME;
        }
        if (split_rooms(o, copy, rooms, &nrooms) != 0) {
            free(copy);
            return RTCTL_EXIT_USAGE;
        }
        c.has_rooms = 1;
        c.rooms = rooms;
        c.nrooms = nrooms;
    }
    c.sub = (char *)sub;
    c.iat = now;
    c.exp = now + (int64_t)(ttl_ms / 1000);
    rc = rt_jwt_sign(&c, secret, strlen(secret), &token);
    free(copy);
    if (rc != 0) {
        cli_errf(o, "cannot sign: %s", rt_strerror(rc));
        return rtctl_exit_from_err(rc);
    }
    printf("%s\n", token);
    rt_free(token);
    return RTCTL_EXIT_OK;
}

static void print_claims(const rt_jwt_claims *c, int64_t now)
{
    char when[64], span[64];
    size_t i;

    printf("valid:  HS256 signature matches\n");
    printf("sub:    %s\n", c->sub);
    fmt_time(when, sizeof(when), c->exp);
    fmt_span(span, sizeof(span), c->exp - now);
    printf("exp:    %s (in %s)\n", when, span);
    if (c->iat != 0) {
        fmt_time(when, sizeof(when), c->iat);
        printf("iat:    %s\n", when);
    }
    if (c->nbf != 0) {
        fmt_time(when, sizeof(when), c->nbf);
        printf("nbf:    %s\n", when);
    }
    printf("rooms:  ");
    if (!c->has_rooms)
        printf("all (no rooms claim)");
    for (i = 0; c->has_rooms && i < c->nrooms; i++)
        printf("%s%s", i ? ", " : "", c->rooms[i]);
    printf("\n");
}

static int verify(struct cli_out *o, const char *secret, const char *token,
                  int64_t now)
{
    rt_jwt_claims *c = NULL;
    char err[256] = "";
    rt_buf b;
    int rc;

    rc = rt_jwt_verify(token, strlen(token), secret, strlen(secret), now, &c,
                       err, sizeof(err));
    if (rc == RT_ENOMEM) {
        cli_errf(o, "out of memory");
        return RTCTL_EXIT_RUNTIME;
    }
    if (o->json) {
        rt__buf_init(&b);
        if (rc == 0)
            rt__buf_printf(&b, "{\"valid\":true,\"claims\":%s}\n", c->json);
        else {
            rt__buf_append(&b, "{\"valid\":false,\"error\":", 23);
            rt__buf_json_str(&b, err[0] ? err : rt_strerror(rc),
                             strlen(err[0] ? err : rt_strerror(rc)));
            rt__buf_append(&b, "}\n", 2);
        }
        if (b.data != NULL)
            fwrite(b.data, 1, b.len, stdout);
        rt__buf_cleanup(&b);
    } else if (rc == 0) {
        print_claims(c, now);
    }
    if (rc != 0)
        cli_errf(o, "invalid token: %s", err[0] ? err : rt_strerror(rc));
    rt_jwt_claims_free(c);
    return rc == 0 ? RTCTL_EXIT_OK : RTCTL_EXIT_RUNTIME;
}

int cmd_token(int argc, char **argv)
{
    struct cli_global_opts g = {0, 0, NULL};
    struct cli_out out;
    const char *secret = NULL, *sub = NULL, *rooms = NULL, *now_arg = NULL;
    uint64_t ttl_ms = 3600 * 1000, now_u;
    int do_verify = 0, json = 0, n, status;
    int64_t now;
    struct cli_opt opts[] = {
        OPT_GROUP("Key"),
        OPT_STR(0, "secret", &secret, "SECRET",
                "the HS256 key (default: $RTCTL_AUTH_SECRET)"),
        OPT_GROUP("Minting"),
        OPT_STR(0, "sub", &sub, "USER", "the user the token names"),
        OPT_DURATION(0, "ttl", &ttl_ms,
                     "how long the token stays valid (default 1h)"),
        OPT_STR(0, "rooms", &rooms, "LIST",
                "comma-separated rooms it may join, or '*' "
                "(default: no rooms claim, every room)"),
        OPT_GROUP("Verifying"),
        OPT_BOOL(0, "verify", &do_verify, "check TOKEN and print its claims"),
        OPT_BOOL(0, "json", &json,
                 "print {\"valid\":BOOL,\"claims\":{...}} or "
                 "{\"valid\":false,\"error\":TEXT}"),
        OPT_STR(0, "now", &now_arg, "SECONDS",
                "take SECONDS since the epoch as the current time "
                "(for tests and for checking a token at another time)"),
        CLI_GLOBAL_OPTS(&g),
        OPT_END(),
    };

    n = cli_opts_parse(&token_help, opts, argc, argv);
    if (n < 0)
        return n == CLI_OPTS_EXIT_OK ? RTCTL_EXIT_OK : RTCTL_EXIT_USAGE;
    if (cli_out_init(&out, &token_help, &g, json) != 0)
        return RTCTL_EXIT_USAGE;
    if (secret == NULL)
        secret = getenv("RTCTL_AUTH_SECRET");
    if (secret == NULL || *secret == '\0') {
        cli_opts_error(&token_help, "no secret: give --secret or set "
                                    "RTCTL_AUTH_SECRET");
        return RTCTL_EXIT_USAGE;
    }
    if (now_arg != NULL) {
        if (cli_parse_uint(now_arg, &now_u) != 0 || now_u > INT64_MAX / 2) {
            cli_opts_error(&token_help,
                           "--now: '%s' is not a time in seconds "
                           "since the epoch",
                           now_arg);
            return RTCTL_EXIT_USAGE;
        }
        now = (int64_t)now_u;
    } else {
        now = (int64_t)time(NULL);
    }

    if (do_verify) {
        if (sub != NULL || rooms != NULL) {
            cli_opts_error(&token_help, "--sub and --rooms are for minting, "
                                        "not with --verify");
            return RTCTL_EXIT_USAGE;
        }
        if (n != 1) {
            cli_opts_error(&token_help, n == 0 ? "--verify needs a TOKEN"
                                               : "too many arguments");
            return RTCTL_EXIT_USAGE;
        }
        status = verify(&out, secret, argv[1], now);
    } else {
        if (n != 0) {
            cli_opts_error(&token_help,
                           "unexpected argument '%s' (to check "
                           "a token, add --verify)",
                           argv[1]);
            return RTCTL_EXIT_USAGE;
        }
        if (sub == NULL) {
            cli_opts_error(&token_help, "minting needs --sub USER");
            return RTCTL_EXIT_USAGE;
        }
        status = mint(&out, secret, sub, ttl_ms, rooms, now);
    }
    if (cli_out_finish(&out) != 0 && status == RTCTL_EXIT_OK)
        status = RTCTL_EXIT_RUNTIME;
    return status;
}
