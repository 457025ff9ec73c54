/*
 * rt/jwt.h: JSON Web Tokens signed with HMAC-SHA256 (RFC 7519, RFC 7515,
 * RFC 7518 section 3.2), as PROTOCOL.md section 2 uses them.
 *
 * Only the compact serialisation with "alg":"HS256" is supported; every
 * other alg, "none" included, is refused.  The claims rtctl understands
 * are sub, exp, iat, nbf and rooms; any other claim is ignored but kept in
 * rt_jwt_claims.json.
 *
 * Threads: the functions keep no state of their own; they may be called
 * from any thread (the allocator hooks of rt/alloc.h are shared).
 */
#ifndef RT_JWT_H
#define RT_JWT_H

#include <stddef.h>
#include <stdint.h>

#include "rt/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest token rt_jwt_verify reads and rt_jwt_sign writes, in bytes. */
#define RT_JWT_MAX_TOKEN 8192
/* Most entries the rooms claim may hold. */
#define RT_JWT_MAX_ROOMS 256
/* Largest exp, iat or nbf accepted: 2^53 - 1, exact in a JSON double. */
#define RT_JWT_MAX_TIME INT64_C(9007199254740991)

typedef struct rt_jwt_claims {
    char *sub;     /* required */
    int64_t exp;   /* seconds since the epoch; required */
    int64_t iat;   /* 0 when absent */
    int64_t nbf;   /* 0 when absent */
    int has_rooms; /* 0: claim absent (all rooms allowed) */
    char **rooms;  /* room names, or the single entry "*" */
    size_t nrooms;
    char *json; /* payload JSON as in the token (verify only) */
} rt_jwt_claims;

/*
 * Mint a compact HS256 token for |c|.
 *
 * The header is {"alg":"HS256","typ":"JWT"} and the payload, with no
 * spaces and in this order, {"sub":..,"iat":..,"nbf":..,"exp":..,
 * "rooms":[..]}, where iat and nbf appear only when non-zero and rooms
 * only when has_rooms is set (an empty list then allows no room).
 * c->json is ignored.
 *
 * |c| sub must match [A-Za-z0-9._-]{1,64}; exp must be in
 *     1..RT_JWT_MAX_TIME, iat and nbf in 0..RT_JWT_MAX_TIME; with has_rooms,
 *     at most RT_JWT_MAX_ROOMS entries, each a room name or "*".
 * |secret|, |secret_len| the HMAC key, any bytes; it must not be empty.
 * |out_token| receives the NUL-terminated token.
 *
 * Returns:
 *   RT_OK       on success.
 *   RT_EINVAL   a NULL argument, an empty secret, or a claim out of the
 *               ranges above.
 *   RT_ETOOBIG  the token would be longer than RT_JWT_MAX_TOKEN.
 *   RT_ENOMEM   out of memory.
 *
 * Ownership: |c| and |secret| are borrowed; *out_token belongs to the
 * caller (rt_free); it is NULL after an error.
 * Callbacks: none.
 * See also: rt_jwt_verify().
 */
RT_EXTERN int rt_jwt_sign(const rt_jwt_claims *c, const char *secret,
                          size_t secret_len, char **out_token);

/*
 * Check a compact HS256 token and decode its claims.
 *
 * The steps run in this order, and the first failure is returned: length
 * and shape; the header (a JSON object, alg exactly "HS256", no crit, typ
 * a string when present); the signature, compared in constant time over
 * all 32 bytes before anything in the payload is parsed; the payload
 * claims; then the times.  A member name that appears twice in the header
 * or the payload is refused (cJSON would silently use the first, other
 * parsers the last), as is the escape \u0000 anywhere in either (cJSON
 * would cut the string short there).
 *
 * |token|, |len| the token; it need not be NUL-terminated.
 * |secret|, |secret_len| the HMAC key; it must not be empty.
 * |now| the current time in seconds since the epoch, from the caller.
 * |out| receives the claims on success.
 * |errbuf|, |errlen| receive a one-line reason on every error (may be
 *     NULL/0); set to "" on success.
 *
 * Returns:
 *   RT_OK        on success.
 *   RT_EPROTO    malformed: longer than RT_JWT_MAX_TOKEN, a NUL byte, not
 *                three parts, bad base64url (padding '=' included), bad
 *                JSON, not an object, duplicate member, header without
 *                alg or with crit, a claim of the wrong type or range,
 *                sub missing or not [A-Za-z0-9._-]{1,64}, exp missing,
 *                more than RT_JWT_MAX_ROOMS rooms or a bad room name.
 *   RT_EINVAL    alg is a string other than "HS256" (errbuf names it); a
 *                NULL |token| or |out|; an empty secret.
 *   RT_EBADSIG   the signature does not match (wrong secret, tampered
 *                token, or a signature that is not 32 bytes long).
 *   RT_EEXPIRED  now >= exp ("token expired N s ago") or now < nbf
 *                ("token not valid yet").
 *   RT_ENOMEM    out of memory.
 *
 * Ownership: everything passed in is borrowed; *out belongs to the
 * caller (rt_jwt_claims_free); it is NULL after an error.
 * Callbacks: none.
 * See also: rt_jwt_sign(), rt_jwt_room_allowed().
 */
RT_EXTERN int rt_jwt_verify(const char *token, size_t len, const char *secret,
                            size_t secret_len, int64_t now,
                            rt_jwt_claims **out, char *errbuf, size_t errlen);

/*
 * Tell whether the claims let their holder into |room|.
 *
 * Returns 1 when the rooms claim is absent, holds "*" or lists |room|
 * exactly (case-sensitive); else 0, also for a NULL argument.
 *
 * Ownership: both arguments are borrowed.
 * Callbacks: none.
 * See also: rt_jwt_verify().
 */
RT_EXTERN int rt_jwt_room_allowed(const rt_jwt_claims *c, const char *room);

/*
 * Free claims returned by rt_jwt_verify(), every string included.
 * rt_jwt_claims_free(NULL) is a no-op.  Do not pass claims the caller
 * built itself for rt_jwt_sign().
 *
 * Ownership: |c| is consumed.
 * Callbacks: none.
 * See also: rt_jwt_verify().
 */
RT_EXTERN void rt_jwt_claims_free(rt_jwt_claims *c);

#ifdef __cplusplus
}
#endif

#endif /* RT_JWT_H */
