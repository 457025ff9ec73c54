/*
 * jwt.c: HS256 JSON Web Tokens, signed and verified.
 *
 * Spec: RFC 7519 (JWT), RFC 7515 (JWS compact serialisation, base64url
 * without padding), RFC 7518 section 3.2 (HMAC-SHA256); the claims and
 * their meaning are PROTOCOL.md section 2.
 *
 * Invariants:
 * - Nothing from the payload is parsed before the signature has been
 *   checked.  The header is parsed first, but only to refuse an alg other
 *   than HS256 before any HMAC is computed (the "alg":"none" and
 *   algorithm-confusion attacks).
 * - The signature is compared with CRYPTO_memcmp over all 32 bytes, also
 *   when the decoded signature has another length.
 * - Every size is bounded: the token by RT_JWT_MAX_TOKEN, JSON nesting by
 *   JSON_MAX_DEPTH, the rooms claim by RT_JWT_MAX_ROOMS.
 * - JSON is checked by rt__json_scan() (json_scan.c) before cJSON sees
 *   it.  The scanner is at least as strict as cJSON 1.7, so when cJSON
 *   then fails the cause can only be an allocation: that is how RT_ENOMEM
 *   is told from RT_EPROTO (cJSON returns NULL for both).  It also refuses
 *   \u0000, which cJSON would decode into a C string cut short
 *   ("alice\u0000x" read as "alice"), and numbers over 63 characters,
 *   which cJSON cannot read.
 * - Duplicate member names at the top of the header or payload are
 *   refused: cJSON keeps them all and its lookup returns the first one,
 *   while other JSON parsers keep the last, so a token with two "sub"
 *   members could mean two users (RFC 7515 section 5.2 allows refusing).
 *
 * Limits: times are read through a double, so a number such as
 * 1.0000000000000000001 is taken as the integer 1; values past 2^53 - 1
 * are refused instead of being rounded.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core_int.h"
#include "rt/jwt.h"

#define JWT_SIG_LEN 32
#define JSON_MAX_DEPTH 32
#define NAME_MAX_LEN 64
/* base64url of {"alg":"HS256","typ":"JWT"} */
#define JWT_HEADER_B64 "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"

/* PROTOCOL.md: user ids and room names are [A-Za-z0-9._-]{1,64}. */
static int valid_name(const char *s)
{
    size_t i;

    for (i = 0; s[i] != '\0'; i++) {
        unsigned char c = (unsigned char)s[i];

        if (i == NAME_MAX_LEN)
            return 0;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return i > 0;
}

static int hmac_sha256(const char *key, size_t key_len, const char *data,
                       size_t len, unsigned char md[JWT_SIG_LEN])
{
    unsigned int md_len = 0;

    if (HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)data, len,
             md, &md_len) == NULL ||
        md_len != JWT_SIG_LEN)
        return RT_ENOMEM;
    return 0;
}

/* --- sign */

static int valid_time(int64_t t)
{
    return t >= 0 && t <= RT_JWT_MAX_TIME;
}

static int check_claims(const rt_jwt_claims *c)
{
    size_t i;

    if (c->sub == NULL || !valid_name(c->sub))
        return RT_EINVAL;
    if (c->exp <= 0 || !valid_time(c->exp) || !valid_time(c->iat) ||
        !valid_time(c->nbf))
        return RT_EINVAL;
    if (!c->has_rooms)
        return 0;
    if (c->nrooms > RT_JWT_MAX_ROOMS || (c->nrooms > 0 && c->rooms == NULL))
        return RT_EINVAL;
    for (i = 0; i < c->nrooms; i++)
        if (c->rooms[i] == NULL ||
            (strcmp(c->rooms[i], "*") != 0 && !valid_name(c->rooms[i])))
            return RT_EINVAL;
    return 0;
}

static int build_payload(rt_buf *b, const rt_jwt_claims *c)
{
    size_t i;

    /* Names were checked by check_claims: no character needs escaping. */
    if (rt__buf_printf(b, "{\"sub\":\"%s\"", c->sub) != 0)
        return RT_ENOMEM;
    if (c->iat != 0 &&
        rt__buf_printf(b, ",\"iat\":%lld", (long long)c->iat) != 0)
        return RT_ENOMEM;
    if (c->nbf != 0 &&
        rt__buf_printf(b, ",\"nbf\":%lld", (long long)c->nbf) != 0)
        return RT_ENOMEM;
    if (rt__buf_printf(b, ",\"exp\":%lld", (long long)c->exp) != 0)
        return RT_ENOMEM;
    if (c->has_rooms) {
        if (rt__buf_append(b, ",\"rooms\":[", 10) != 0)
            return RT_ENOMEM;
        for (i = 0; i < c->nrooms; i++)
            if (rt__buf_printf(b, "%s\"%s\"", i ? "," : "", c->rooms[i]) != 0)
                return RT_ENOMEM;
        if (rt__buf_putc(b, ']') != 0)
            return RT_ENOMEM;
    }
    return rt__buf_putc(b, '}');
}

int rt_jwt_sign(const rt_jwt_claims *c, const char *secret, size_t secret_len,
                char **out_token)
{
    unsigned char md[JWT_SIG_LEN];
    rt_buf payload, tok;
    int rc;

    if (out_token != NULL)
        *out_token = NULL;
    if (c == NULL || out_token == NULL || secret == NULL || secret_len == 0 ||
        secret_len > INT_MAX)
        return RT_EINVAL;
    rc = check_claims(c);
    if (rc != 0)
        return rc;

    rt__buf_init(&payload);
    rt__buf_init(&tok);
    if ((rc = build_payload(&payload, c)) != 0 ||
        (rc = rt__buf_append(&tok, JWT_HEADER_B64 ".",
                             sizeof(JWT_HEADER_B64))) != 0 ||
        (rc = rt__b64url_encode(&tok, payload.data, payload.len)) != 0 ||
        (rc = hmac_sha256(secret, secret_len, tok.data, tok.len, md)) != 0 ||
        (rc = rt__buf_putc(&tok, '.')) != 0 ||
        (rc = rt__b64url_encode(&tok, md, sizeof(md))) != 0)
        goto out;
    if (tok.len > RT_JWT_MAX_TOKEN) {
        rc = RT_ETOOBIG;
        goto out;
    }
    *out_token = rt__buf_detach(&tok, NULL);
    if (*out_token == NULL)
        rc = RT_ENOMEM;
out:
    OPENSSL_cleanse(md, sizeof(md));
    rt__buf_cleanup(&payload);
    rt__buf_cleanup(&tok);
    return rc;
}

/*
 * Parse the decoded JSON text in |b| (NUL-terminated by rt_buf) into an
 * object.  |what| names the part in errors.
 */
static int parse_object(const rt_buf *b, const char *what, cJSON **out,
                        char *errbuf, size_t errlen)
{
    rt__json_scan_opts so;
    rt__json_scan_res sc;
    const cJSON *a, *k;

    *out = NULL;
    if (b->len > 0 && memchr(b->data, '\0', b->len) != NULL) {
        rt__seterr(errbuf, errlen, "%s: JSON contains a NUL byte", what);
        return RT_EPROTO;
    }
    /*
     * Bytes past 0x7F are passed as cJSON passes them: the claims we read
     * are checked names, and other members are the issuer's business.
     */
    so.flags = RT__JSON_NO_NUL | RT__JSON_RAW_BYTES;
    so.max_depth = JSON_MAX_DEPTH;
    so.find = NULL;
    if (rt__json_scan(b->data, b->len, &so, &sc, NULL) != 0) {
        rt__seterr(errbuf, errlen, "%s: bad JSON at offset %zu", what, sc.pos);
        return RT_EPROTO;
    }
    if (b->data[sc.start] != '{') {
        rt__seterr(errbuf, errlen, "%s: not a JSON object", what);
        return RT_EPROTO;
    }
    /* Length includes the terminator: cJSON wants to see it. */
    *out = cJSON_ParseWithLengthOpts(b->data, b->len + 1, NULL, 1);
    if (*out == NULL) {
        rt__seterr(errbuf, errlen, "out of memory");
        return RT_ENOMEM;
    }
    for (a = (*out)->child; a != NULL; a = a->next)
        for (k = (*out)->child; k != a; k = k->next)
            if (strcmp(a->string, k->string) == 0) {
                rt__seterr(errbuf, errlen, "%s: duplicate member \"%.64s\"",
                           what, a->string);
                cJSON_Delete(*out);
                *out = NULL;
                return RT_EPROTO;
            }
    return 0;
}

/* --- verify */

/* Copy |s| for an error message: at most 32 characters, printable ASCII. */
static void printable(char dst[33], const char *s)
{
    size_t i;

    for (i = 0; i < 32 && s[i] != '\0'; i++)
        dst[i] = (s[i] >= 0x20 && s[i] < 0x7F) ? s[i] : '?';
    dst[i] = '\0';
}

static int check_header(const cJSON *h, char *errbuf, size_t errlen)
{
    const cJSON *alg = cJSON_GetObjectItemCaseSensitive(h, "alg");
    const cJSON *typ = cJSON_GetObjectItemCaseSensitive(h, "typ");
    char name[33];

    if (alg == NULL) {
        rt__seterr(errbuf, errlen, "header: alg missing");
        return RT_EPROTO;
    }
    if (!cJSON_IsString(alg)) {
        rt__seterr(errbuf, errlen, "header: alg must be a string");
        return RT_EPROTO;
    }
    if (strcmp(alg->valuestring, "HS256") != 0) {
        printable(name, alg->valuestring);
        rt__seterr(errbuf, errlen, "unsupported alg \"%s\" (only HS256)",
                   name);
        return RT_EINVAL;
    }
    if (typ != NULL && !cJSON_IsString(typ)) {
        rt__seterr(errbuf, errlen, "header: typ must be a string");
        return RT_EPROTO;
    }
    /* RFC 7515 4.1.11: we understand no extension, so crit is fatal. */
    if (cJSON_GetObjectItemCaseSensitive(h, "crit") != NULL) {
        rt__seterr(errbuf, errlen, "header: crit is not supported");
        return RT_EPROTO;
    }
    return 0;
}

/* Read an integral JSON number in 0..RT_JWT_MAX_TIME; absent leaves *out. */
static int get_time(const cJSON *p, const char *name, int64_t *out,
                    int required, char *errbuf, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, name);
    double d;

    if (v == NULL) {
        if (!required)
            return 0;
        rt__seterr(errbuf, errlen, "claim %s missing", name);
        return RT_EPROTO;
    }
    if (!cJSON_IsNumber(v)) {
        rt__seterr(errbuf, errlen, "claim %s must be a number", name);
        return RT_EPROTO;
    }
    d = v->valuedouble;
    /* NaN and infinities fail the range test too. */
    if (!(d >= 0 && d <= (double)RT_JWT_MAX_TIME) || (double)(int64_t)d != d) {
        rt__seterr(errbuf, errlen,
                   "claim %s must be an integer from 0 to 2^53-1", name);
        return RT_EPROTO;
    }
    *out = (int64_t)d;
    return 0;
}

static int get_rooms(const cJSON *p, rt_jwt_claims *c, char *errbuf,
                     size_t errlen)
{
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(p, "rooms");
    const cJSON *e;
    size_t n = 0;

    if (r == NULL)
        return 0;
    if (!cJSON_IsArray(r)) {
        rt__seterr(errbuf, errlen, "claim rooms must be an array");
        return RT_EPROTO;
    }
    for (e = r->child; e != NULL; e = e->next) {
        if (n == RT_JWT_MAX_ROOMS) {
            rt__seterr(errbuf, errlen, "claim rooms has more than %d entries",
                       RT_JWT_MAX_ROOMS);
            return RT_EPROTO;
        }
        if (!cJSON_IsString(e) || (strcmp(e->valuestring, "*") != 0 &&
                                   !valid_name(e->valuestring))) {
            rt__seterr(errbuf, errlen,
                       "claim rooms[%zu] is not a room name or \"*\"", n);
            return RT_EPROTO;
        }
        n++;
    }
    c->has_rooms = 1;
    c->rooms = rt__calloc(n, sizeof(*c->rooms));
    if (c->rooms == NULL)
        goto nomem;
    for (e = r->child; e != NULL; e = e->next) {
        c->rooms[c->nrooms] =
            rt__strndup(e->valuestring, strlen(e->valuestring));
        if (c->rooms[c->nrooms] == NULL)
            goto nomem;
        c->nrooms++;
    }
    return 0;
nomem:
    rt__seterr(errbuf, errlen, "out of memory");
    return RT_ENOMEM;
}

static int get_claims(const rt_buf *payload, rt_jwt_claims **out, char *errbuf,
                      size_t errlen)
{
    cJSON *p = NULL;
    const cJSON *sub;
    rt_jwt_claims *c = NULL;
    int rc;

    rc = parse_object(payload, "payload", &p, errbuf, errlen);
    if (rc != 0)
        return rc;
    c = rt__calloc(1, sizeof(*c));
    if (c == NULL) {
        rc = RT_ENOMEM;
        rt__seterr(errbuf, errlen, "out of memory");
        goto out;
    }
    sub = cJSON_GetObjectItemCaseSensitive(p, "sub");
    if (sub == NULL) {
        rc = RT_EPROTO;
        rt__seterr(errbuf, errlen, "claim sub missing");
        goto out;
    }
    if (!cJSON_IsString(sub) || !valid_name(sub->valuestring)) {
        rc = RT_EPROTO;
        rt__seterr(errbuf, errlen,
                   "claim sub must be a string matching [A-Za-z0-9._-]{1,64}");
        goto out;
    }
    if ((rc = get_time(p, "exp", &c->exp, 1, errbuf, errlen)) != 0 ||
        (rc = get_time(p, "iat", &c->iat, 0, errbuf, errlen)) != 0 ||
        (rc = get_time(p, "nbf", &c->nbf, 0, errbuf, errlen)) != 0 ||
        (rc = get_rooms(p, c, errbuf, errlen)) != 0)
        goto out;
    c->sub = rt__strndup(sub->valuestring, strlen(sub->valuestring));
    c->json = rt__strndup(payload->data, payload->len);
    if (c->sub == NULL || c->json == NULL) {
        rc = RT_ENOMEM;
        rt__seterr(errbuf, errlen, "out of memory");
        goto out;
    }
    *out = c;
    c = NULL;
out:
    rt_jwt_claims_free(c);
    cJSON_Delete(p);
    return rc;
}

/* Decode one base64url part; |what| names it in errors. */
static int decode_part(rt_buf *out, const char *s, size_t len,
                       const char *what, char *errbuf, size_t errlen)
{
    int rc = rt__b64url_decode(out, s, len);

    if (rc == RT_ENOMEM)
        rt__seterr(errbuf, errlen, "out of memory");
    else if (rc != 0)
        rt__seterr(errbuf, errlen, "%s: bad base64url", what);
    return rc;
}

int rt_jwt_verify(const char *token, size_t len, const char *secret,
                  size_t secret_len, int64_t now, rt_jwt_claims **out,
                  char *errbuf, size_t errlen)
{
    unsigned char md[JWT_SIG_LEN], given[JWT_SIG_LEN];
    const char *dot1, *dot2, *end;
    rt_buf hdr, sig, payload;
    cJSON *h = NULL;
    rt_jwt_claims *c = NULL;
    int rc, diff;

    rt__seterr(errbuf, errlen, "%s", "");
    if (out != NULL)
        *out = NULL;
    if (token == NULL || out == NULL) {
        rt__seterr(errbuf, errlen, "%s",
                   token ? "no place for the claims" : "no token");
        return RT_EINVAL;
    }
    if (secret == NULL || secret_len == 0 || secret_len > INT_MAX) {
        rt__seterr(errbuf, errlen, "%s",
                   secret_len > INT_MAX ? "secret too long" : "empty secret");
        return RT_EINVAL;
    }
    if (len > RT_JWT_MAX_TOKEN) {
        rt__seterr(errbuf, errlen, "token too long (%zu bytes, limit %d)", len,
                   RT_JWT_MAX_TOKEN);
        return RT_EPROTO;
    }
    if (len > 0 && memchr(token, '\0', len) != NULL) {
        rt__seterr(errbuf, errlen, "token contains a NUL byte");
        return RT_EPROTO;
    }
    end = token + len;
    dot1 = len > 0 ? memchr(token, '.', len) : NULL;
    dot2 = dot1 ? memchr(dot1 + 1, '.', (size_t)(end - dot1 - 1)) : NULL;
    if (dot2 == NULL || memchr(dot2 + 1, '.', (size_t)(end - dot2 - 1))) {
        rt__seterr(errbuf, errlen,
                   "token must be three base64url parts joined by '.'");
        return RT_EPROTO;
    }

    rt__buf_init(&hdr);
    rt__buf_init(&sig);
    rt__buf_init(&payload);
    memset(md, 0, sizeof(md));
    memset(given, 0, sizeof(given));

    /* 1. The header, for alg only. */
    if ((rc = decode_part(&hdr, token, (size_t)(dot1 - token), "header",
                          errbuf, errlen)) != 0 ||
        (rc = parse_object(&hdr, "header", &h, errbuf, errlen)) != 0 ||
        (rc = check_header(h, errbuf, errlen)) != 0)
        goto out;

    /* 2. The signature over the first two parts as they were sent. */
    if ((rc = decode_part(&sig, dot2 + 1, (size_t)(end - dot2 - 1),
                          "signature", errbuf, errlen)) != 0)
        goto out;
    if ((rc = hmac_sha256(secret, secret_len, token, (size_t)(dot2 - token),
                          md)) != 0) {
        rt__seterr(errbuf, errlen, "out of memory");
        goto out;
    }
    memcpy(given, sig.data, sig.len < sizeof(given) ? sig.len : sizeof(given));
    diff = CRYPTO_memcmp(md, given, sizeof(md));
    if (diff != 0 || sig.len != JWT_SIG_LEN) {
        rt__seterr(errbuf, errlen, "signature does not match");
        rc = RT_EBADSIG;
        goto out;
    }

    /* 3. Only now the payload. */
    if ((rc = decode_part(&payload, dot1 + 1, (size_t)(dot2 - dot1 - 1),
                          "payload", errbuf, errlen)) != 0 ||
        (rc = get_claims(&payload, &c, errbuf, errlen)) != 0)
        goto out;

    /* 4. The times; exp >= 0, so now - exp cannot overflow. */
    if (now >= c->exp) {
        rt__seterr(errbuf, errlen, "token expired %lld s ago",
                   (long long)(now - c->exp));
        rc = RT_EEXPIRED;
        goto out;
    }
    if (c->nbf != 0 && now < c->nbf) {
        rt__seterr(errbuf, errlen, "token not valid yet (nbf is %llu s away)",
                   (unsigned long long)((uint64_t)c->nbf - (uint64_t)now));
        rc = RT_EEXPIRED;
        goto out;
    }
    *out = c;
    c = NULL;
out:
    OPENSSL_cleanse(md, sizeof(md));
    rt_jwt_claims_free(c);
    cJSON_Delete(h);
    rt__buf_cleanup(&hdr);
    rt__buf_cleanup(&sig);
    rt__buf_cleanup(&payload);
    return rc;
}

int rt_jwt_room_allowed(const rt_jwt_claims *c, const char *room)
{
    size_t i;

    if (c == NULL || room == NULL)
        return 0;
    if (!c->has_rooms)
        return 1;
    for (i = 0; i < c->nrooms; i++)
        if (strcmp(c->rooms[i], "*") == 0 || strcmp(c->rooms[i], room) == 0)
            return 1;
    return 0;
}

void rt_jwt_claims_free(rt_jwt_claims *c)
{
    size_t i;

    if (c == NULL)
        return;
    rt__free(c->sub);
    if (c->rooms != NULL)
        for (i = 0; i < c->nrooms; i++)
            rt__free(c->rooms[i]);
    rt__free(c->rooms);
    rt__free(c->json);
    rt__free(c);
}
