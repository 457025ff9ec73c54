/*
 * auth.c: who a request is (PROTOCOL.md section 2).
 *
 * With --auth-secret, every endpoint but /health and /metrics needs an
 * HS256 token, from ?token= or `Authorization: Bearer`; its sub is the
 * user, its rooms claim the rooms allowed.  Without it, the user is
 * ?user=NAME or a fresh anon-XXXXXX.  Tokens are never logged.
 */
#include <string.h>
#include <time.h>

#include "rt/jwt.h"
#include "rt/url.h"
#include "server_int.h"

#define TOKEN_MAX 8192

const char *rt__auth_reason(enum rt_auth_result r)
{
    switch (r) {
    case RT_AUTH_OK:
        return "ok";
    case RT_AUTH_EXPIRED:
        return "token expired";
    case RT_AUTH_FORBIDDEN:
        return "room not allowed";
    case RT_AUTH_NOT_YET:
        return "token not valid yet";
    default:
        return "invalid token";
    }
}

int rt__auth_user(rt_server *s, struct lws *wsi, char *user, size_t len)
{
    char buf[RT_NAME_MAX + 2];

    (void)s;
    if (rt__http_arg(wsi, "user", buf, sizeof(buf))) {
        if (!rt_room_valid(buf, strlen(buf)))
            return -1;
        snprintf(user, len, "%s", buf);
        return 0;
    }
    if (user[0] != '\0')
        return 0; /* already named (a WebSocket's confirm step) */
    memcpy(user, "anon-", 5);
    rt__srv_random_name(user + 5, len > 12 ? 7 : len - 5);
    return 0;
}

/* The bearer token of the request into |out|; 0 when there is none. */
static int find_token(struct lws *wsi, char *out, size_t len)
{
    int n;

    if (rt__http_arg(wsi, "token", out, len) && out[0] != '\0')
        return 1;
    n = lws_hdr_copy(wsi, out, (int)len, WSI_TOKEN_HTTP_AUTHORIZATION);
    if (n > 7 && strncasecmp(out, "Bearer ", 7) == 0) {
        memmove(out, out + 7, (size_t)n - 7 + 1);
        return 1;
    }
    return 0;
}

enum rt_auth_result rt__auth_check(rt_server *s, struct lws *wsi,
                                   const char *room, char *user,
                                   size_t userlen)
{
    static char token[TOKEN_MAX]; /* one loop thread; keeps the stack small */
    rt_jwt_claims *c = NULL;
    char err[128];
    int rc;

    if (s->o.auth_secret == NULL)
        return rt__auth_user(s, wsi, user, userlen) == 0 ? RT_AUTH_OK
                                                         : RT_AUTH_INVALID;
    if (!find_token(wsi, token, sizeof(token)))
        return RT_AUTH_INVALID;
    rc = rt_jwt_verify(token, strlen(token), s->o.auth_secret,
                       strlen(s->o.auth_secret), (int64_t)time(NULL), &c, err,
                       sizeof(err));
    memset(token, 0, sizeof(token));
    if (rc == RT_EEXPIRED)
        return strstr(err, "not valid yet") != NULL ? RT_AUTH_NOT_YET
                                                    : RT_AUTH_EXPIRED;
    if (rc != 0)
        return RT_AUTH_INVALID;
    snprintf(user, userlen, "%s", c->sub);
    if (room != NULL && !rt_jwt_room_allowed(c, room)) {
        rt_jwt_claims_free(c);
        return RT_AUTH_FORBIDDEN;
    }
    rt_jwt_claims_free(c);
    return RT_AUTH_OK;
}

int rt__auth_room_visible(rt_server *s, struct lws *wsi, const char *room)
{
    static char token[TOKEN_MAX];
    rt_jwt_claims *c = NULL;
    int ok;

    if (s->o.auth_secret == NULL)
        return 1;
    if (!find_token(wsi, token, sizeof(token)))
        return 0;
    ok = rt_jwt_verify(token, strlen(token), s->o.auth_secret,
                       strlen(s->o.auth_secret), (int64_t)time(NULL), &c, NULL,
                       0) == 0 &&
         rt_jwt_room_allowed(c, room);
    memset(token, 0, sizeof(token));
    rt_jwt_claims_free(c);
    return ok;
}
