/*
 * test_jwt.c: HS256 JSON Web Tokens (lib/core/jwt.c).
 *
 * The known vectors were computed outside rtctl, with
 *   printf '%s' "$H.$P" | openssl dgst -sha256 -hmac SECRET -binary
 * (base64url by base64 | tr '+/' '-_' | tr -d '='), and RFC 7515
 * appendix A.1.  Tokens with odd headers or payloads are built by mk(),
 * which signs any bytes with OpenSSL's HMAC directly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helpers.h"
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core_int.h"
#include "rt/alloc.h"
#include "rt/error.h"
#include "rt/jwt.h"

#define SECRET "rtctl-test-secret"
#define SECRET_LEN (sizeof(SECRET) - 1)
#define HS256_HDR "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"
#define NOW INT64_C(1700000000)
#define EXP INT64_C(1700003600)

/* Vector 1: iat and rooms, secret SECRET. */
static const char vec1_payload[] =
    "{\"sub\":\"alice\",\"iat\":1700000000,\"exp\":1700003600,"
    "\"rooms\":[\"general\",\"dev\"]}";
static const char vec1_token[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiJhbGljZSIsImlhdCI6MTcwMDAwMDAwMCwiZXhwIjoxNzAwMDAzNjAwLCJyb29"
    "tcyI6WyJnZW5lcmFsIiwiZGV2Il19."
    "7pp7_8ACfSDX_rhkHY7RSFuzLeFGYpIAGeN83KCBtxQ";

/* Vector 2: sub and exp only, secret "your-256-bit-secret". */
static const char vec2_token[] = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
                                 "eyJzdWIiOiJib2IiLCJleHAiOjE3MDAwMDM2MDB9."
                                 "T5igJUUincxClaanoHpbqH8g_mfmpCnr64Qb3YpodcU";

static char errbuf[256];

/* Sign |hdr|.|pay| (raw bytes, base64url-encoded here) with |secret|. */
static char *mk_n(const char *hdr, size_t hlen, const char *pay, size_t plen,
                  const char *secret)
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    rt_buf b;

    rt__buf_init(&b);
    assert_int_equal(rt__b64url_encode(&b, hdr, hlen), 0);
    assert_int_equal(rt__buf_putc(&b, '.'), 0);
    assert_int_equal(rt__b64url_encode(&b, pay, plen), 0);
    assert_non_null(HMAC(EVP_sha256(), secret, (int)strlen(secret),
                         (const unsigned char *)b.data, b.len, md, &mdlen));
    assert_int_equal(rt__buf_putc(&b, '.'), 0);
    assert_int_equal(rt__b64url_encode(&b, md, mdlen), 0);
    return rt__buf_detach(&b, NULL);
}

static char *mk(const char *hdr, const char *pay)
{
    return mk_n(hdr, strlen(hdr), pay, strlen(pay), SECRET);
}

/* Verify |tok| as a C string with SECRET at NOW; claims freed unless kept. */
static int ver(const char *tok, rt_jwt_claims **keep)
{
    rt_jwt_claims *c = NULL;
    int rc;

    errbuf[0] = 'X';
    rc = rt_jwt_verify(tok, strlen(tok), SECRET, SECRET_LEN, NOW, &c, errbuf,
                       sizeof(errbuf));
    if (rc != RT_OK)
        assert_null(c);
    else
        assert_non_null(c);
    if (keep != NULL)
        *keep = c;
    else
        rt_jwt_claims_free(c);
    return rc;
}

/* Sign |pay| under the HS256 header and verify it at NOW. */
static int ver_payload(const char *pay, rt_jwt_claims **keep)
{
    char *tok = mk(HS256_HDR, pay);
    int rc = ver(tok, keep);

    rt_free(tok);
    return rc;
}

static void assert_err_has(const char *needle)
{
    if (strstr(errbuf, needle) == NULL)
        fail_msg("errbuf \"%s\" lacks \"%s\"", errbuf, needle);
}

/* --- known vectors */

static void test_jwt_sign_matches_known_vector(void **state)
{
    char *rooms[] = {"general", "dev"};
    rt_jwt_claims c = {0};
    char *tok = NULL;

    (void)state;
    c.sub = "alice";
    c.iat = NOW;
    c.exp = EXP;
    c.has_rooms = 1;
    c.rooms = rooms;
    c.nrooms = 2;
    assert_int_equal(rt_jwt_sign(&c, SECRET, SECRET_LEN, &tok), RT_OK);
    assert_string_equal(tok, vec1_token);
    rt_free(tok);
}

static void test_jwt_sign_matches_minimal_vector(void **state)
{
    rt_jwt_claims c = {0};
    char *tok = NULL;

    (void)state;
    c.sub = "bob";
    c.exp = EXP;
    assert_int_equal(rt_jwt_sign(&c, "your-256-bit-secret", 19, &tok), RT_OK);
    assert_string_equal(tok, vec2_token);
    rt_free(tok);
}

static void test_jwt_verify_known_vector(void **state)
{
    rt_jwt_claims *c = NULL;

    (void)state;
    assert_int_equal(ver(vec1_token, &c), RT_OK);
    assert_string_equal(errbuf, "");
    assert_string_equal(c->sub, "alice");
    assert_true(c->exp == EXP);
    assert_true(c->iat == NOW);
    assert_true(c->nbf == 0);
    assert_int_equal(c->has_rooms, 1);
    assert_int_equal(c->nrooms, 2);
    assert_string_equal(c->rooms[0], "general");
    assert_string_equal(c->rooms[1], "dev");
    assert_string_equal(c->json, vec1_payload);
    rt_jwt_claims_free(c);

    assert_int_equal(rt_jwt_verify(vec2_token, strlen(vec2_token),
                                   "your-256-bit-secret", 19, NOW, &c, NULL,
                                   0),
                     RT_OK);
    assert_string_equal(c->sub, "bob");
    assert_int_equal(c->has_rooms, 0);
    assert_null(c->rooms);
    rt_jwt_claims_free(c);
}

/*
 * RFC 7515 A.1: the signature (a 64-byte key, CRLF whitespace in both JSON
 * parts) matches, so verification reaches the claims and stops at the
 * missing sub rather than at the signature.
 */
static void test_jwt_verify_rfc7515_example_signature(void **state)
{
    static const char tok[] =
        "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
        "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxl"
        "LmNvbS9pc19yb290Ijp0cnVlfQ."
        "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    static const unsigned char key[64] = {
        0x03, 0x23, 0x35, 0x4b, 0x2b, 0x0f, 0xa5, 0xbc, 0x83, 0x7e, 0x06,
        0x65, 0x77, 0x7b, 0xa6, 0x8f, 0x5a, 0xb3, 0x28, 0xe6, 0xf0, 0x54,
        0xc9, 0x28, 0xa9, 0x0f, 0x84, 0xb2, 0xd2, 0x50, 0x2e, 0xbf, 0xd3,
        0xfb, 0x5a, 0x92, 0xd2, 0x06, 0x47, 0xef, 0x96, 0x8a, 0xb4, 0xc3,
        0x77, 0x62, 0x3d, 0x22, 0x3d, 0x2e, 0x21, 0x72, 0x05, 0x2e, 0x4f,
        0x08, 0xc0, 0xcd, 0x9a, 0xf5, 0x67, 0xd0, 0x80, 0xa3};
    rt_jwt_claims *c = NULL;
    int rc;

    (void)state;
    rc = rt_jwt_verify(tok, strlen(tok), (const char *)key, sizeof(key),
                       1300819379, &c, errbuf, sizeof(errbuf));
    assert_int_equal(rc, RT_EPROTO);
    assert_string_equal(errbuf, "claim sub missing");
    /* One key byte off: now it is the signature that fails. */
    {
        unsigned char bad[64];

        memcpy(bad, key, sizeof(bad));
        bad[63] ^= 1;
        rc = rt_jwt_verify(tok, strlen(tok), (const char *)bad, sizeof(bad),
                           1300819379, &c, errbuf, sizeof(errbuf));
        assert_int_equal(rc, RT_EBADSIG);
    }
}

/* --- round trips */

static void test_jwt_round_trip_all_claims(void **state)
{
    char *rooms[] = {"a", "b.c_d-e", "*"};
    rt_jwt_claims in = {0};
    rt_jwt_claims *c = NULL;
    char *tok = NULL;

    (void)state;
    in.sub = "user.name_1-x";
    in.iat = NOW - 10;
    in.nbf = NOW - 5;
    in.exp = EXP;
    in.has_rooms = 1;
    in.rooms = rooms;
    in.nrooms = 3;
    assert_int_equal(rt_jwt_sign(&in, SECRET, SECRET_LEN, &tok), RT_OK);
    assert_true(strlen(tok) <= RT_JWT_MAX_TOKEN);
    assert_int_equal(ver(tok, &c), RT_OK);
    assert_string_equal(c->sub, in.sub);
    assert_true(c->iat == in.iat && c->nbf == in.nbf && c->exp == in.exp);
    assert_int_equal(c->nrooms, 3);
    assert_string_equal(c->rooms[2], "*");
    assert_string_equal(c->json,
                        "{\"sub\":\"user.name_1-x\",\"iat\":1699999990,"
                        "\"nbf\":1699999995,\"exp\":1700003600,"
                        "\"rooms\":[\"a\",\"b.c_d-e\",\"*\"]}");
    rt_jwt_claims_free(c);
    rt_free(tok);
}

static void test_jwt_round_trip_binary_secret(void **state)
{
    static const char secret[] = {'\0', '\xff', 'k', '\0'};
    rt_jwt_claims in = {0};
    rt_jwt_claims *c = NULL;
    char *tok = NULL;

    (void)state;
    in.sub = "x";
    in.exp = 1;
    assert_int_equal(rt_jwt_sign(&in, secret, sizeof(secret), &tok), RT_OK);
    assert_int_equal(rt_jwt_verify(tok, strlen(tok), secret, sizeof(secret), 0,
                                   &c, NULL, 0),
                     RT_OK);
    rt_jwt_claims_free(c);
    /* A NUL byte of the key counts like any other. */
    assert_int_equal(
        rt_jwt_verify(tok, strlen(tok), secret + 1, 3, 0, &c, NULL, 0),
        RT_EBADSIG);
    rt_free(tok);
}

static void test_jwt_token_need_not_be_nul_terminated(void **state)
{
    char buf[sizeof(vec1_token) - 1 + 8];
    rt_jwt_claims *c = NULL;

    (void)state;
    memcpy(buf, vec1_token, sizeof(vec1_token) - 1);
    memcpy(buf + sizeof(vec1_token) - 1, ".garbage", 8);
    assert_int_equal(rt_jwt_verify(buf, sizeof(vec1_token) - 1, SECRET,
                                   SECRET_LEN, NOW, &c, errbuf,
                                   sizeof(errbuf)),
                     RT_OK);
    rt_jwt_claims_free(c);
    assert_int_equal(rt_jwt_verify(buf, sizeof(buf), SECRET, SECRET_LEN, NOW,
                                   &c, errbuf, sizeof(errbuf)),
                     RT_EPROTO);
}

/* --- signature */

static void test_jwt_tampered_payload_is_badsig(void **state)
{
    char tok[sizeof(vec1_token)];
    const char *p1 = strchr(vec1_token, '.') + 1;
    const char *p2 = strrchr(vec1_token, '.');
    size_t i;

    (void)state;
    /* Every single-character change of the payload breaks the signature. */
    for (i = (size_t)(p1 - vec1_token); i < (size_t)(p2 - vec1_token); i++) {
        memcpy(tok, vec1_token, sizeof(tok));
        tok[i] = tok[i] == 'A' ? 'B' : 'A';
        assert_int_equal(ver(tok, NULL), RT_EBADSIG);
        assert_string_equal(errbuf, "signature does not match");
    }
}

static void test_jwt_tampered_signature_is_badsig(void **state)
{
    char tok[sizeof(vec1_token)];
    size_t i, start = (size_t)(strrchr(vec1_token, '.') - vec1_token) + 1;

    (void)state;
    /* All but the last character, whose low bits must stay zero. */
    for (i = start; i < sizeof(tok) - 2; i++) {
        memcpy(tok, vec1_token, sizeof(tok));
        tok[i] = tok[i] == 'A' ? 'B' : 'A';
        assert_int_equal(ver(tok, NULL), RT_EBADSIG);
    }
    /* 'Q' -> 'R' sets a bit past the 32 bytes: not canonical base64url. */
    memcpy(tok, vec1_token, sizeof(tok));
    tok[sizeof(tok) - 2] = 'R';
    assert_int_equal(ver(tok, NULL), RT_EPROTO);
    assert_err_has("signature: bad base64url");
    /* 'Q' -> 'g' changes a signature bit. */
    tok[sizeof(tok) - 2] = 'g';
    assert_int_equal(ver(tok, NULL), RT_EBADSIG);
}

static void test_jwt_no_single_char_change_verifies(void **state)
{
    static const char alphabet[] = "Ag_.=+\x01";
    char tok[sizeof(vec1_token)];
    size_t i, k;

    (void)state;
    for (i = 0; i < sizeof(tok) - 1; i++)
        for (k = 0; k < sizeof(alphabet) - 1; k++) {
            if (vec1_token[i] == alphabet[k])
                continue;
            memcpy(tok, vec1_token, sizeof(tok));
            tok[i] = alphabet[k];
            assert_int_not_equal(ver(tok, NULL), RT_OK);
            assert_true(errbuf[0] != '\0' && errbuf[0] != 'X');
        }
}

static void test_jwt_signature_of_wrong_length_is_badsig(void **state)
{
    char *base = rt__strndup(vec1_token, strlen(vec1_token));
    char *dot = strrchr(base, '.');
    rt_buf b;

    (void)state;
    rt__buf_init(&b);
    /* Empty signature. */
    assert_int_equal(rt__buf_append(&b, base, (size_t)(dot - base) + 1), 0);
    assert_int_equal(ver(b.data, NULL), RT_EBADSIG);
    /* The right 32 bytes followed by 3 more. */
    rt__buf_clear(&b);
    assert_int_equal(rt__buf_printf(&b, "%sAAAA", base), 0);
    assert_int_equal(ver(b.data, NULL), RT_EBADSIG);
    /* Only the first 30 of the 32 bytes (40 characters). */
    rt__buf_clear(&b);
    assert_int_equal(rt__buf_append(&b, base, strlen(base) - 3), 0);
    assert_int_equal(ver(b.data, NULL), RT_EBADSIG);
    /* 64 bytes, as HS512 would give. */
    rt__buf_clear(&b);
    assert_int_equal(rt__buf_append(&b, base, (size_t)(dot - base) + 1), 0);
    {
        char a86[87];

        memset(a86, 'A', 86);
        a86[86] = '\0';
        assert_int_equal(rt__buf_printf(&b, "%s", a86), 0);
    }
    assert_int_equal(ver(b.data, NULL), RT_EBADSIG);
    rt__buf_cleanup(&b);
    rt_free(base);
}

static void test_jwt_wrong_secret_is_badsig(void **state)
{
    rt_jwt_claims *c = NULL;
    const char *tok = vec1_token;

    (void)state;
    assert_int_equal(rt_jwt_verify(tok, strlen(tok), "rtctl-test-secreT",
                                   SECRET_LEN, NOW, &c, errbuf,
                                   sizeof(errbuf)),
                     RT_EBADSIG);
    assert_int_equal(rt_jwt_verify(tok, strlen(tok), SECRET, SECRET_LEN - 1,
                                   NOW, &c, errbuf, sizeof(errbuf)),
                     RT_EBADSIG);
    assert_int_equal(rt_jwt_verify(tok, strlen(tok), SECRET "x",
                                   SECRET_LEN + 1, NOW, &c, errbuf,
                                   sizeof(errbuf)),
                     RT_EBADSIG);
    assert_null(c);
    /* Signature is checked before the times: an expired forgery is BADSIG. */
    assert_int_equal(rt_jwt_verify(tok, strlen(tok), "other", 5, EXP + 1, &c,
                                   errbuf, sizeof(errbuf)),
                     RT_EBADSIG);
}

/* --- header */

static void test_jwt_alg_other_than_hs256_is_refused(void **state)
{
    static const struct {
        const char *hdr;
        int rc;
        const char *msg;
    } cases[] = {
        {"{\"alg\":\"none\",\"typ\":\"JWT\"}", RT_EINVAL, "\"none\""},
        {"{\"alg\":\"HS512\"}", RT_EINVAL, "\"HS512\""},
        {"{\"alg\":\"RS256\"}", RT_EINVAL, "\"RS256\""},
        {"{\"alg\":\"hs256\"}", RT_EINVAL, "\"hs256\""},
        {"{\"alg\":\"HS256 \"}", RT_EINVAL, "\"HS256 \""},
        {"{\"alg\":\"\"}", RT_EINVAL, "\"\""},
        {"{\"alg\":\"\\u0001\\n\"}", RT_EINVAL, "\"??\""},
        {"{\"typ\":\"JWT\"}", RT_EPROTO, "alg missing"},
        {"{\"ALG\":\"HS256\"}", RT_EPROTO, "alg missing"},
        {"{\"alg\":256}", RT_EPROTO, "alg must be a string"},
        {"{\"alg\":null}", RT_EPROTO, "alg must be a string"},
        {"{\"alg\":\"HS256\",\"alg\":\"none\"}", RT_EPROTO, "duplicate"},
        {"{\"alg\":\"none\",\"alg\":\"HS256\"}", RT_EPROTO, "duplicate"},
        {"{\"alg\":\"HS256\",\"typ\":1}", RT_EPROTO, "typ must be a string"},
        {"{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", RT_EPROTO, "crit"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *tok = mk(cases[i].hdr, vec1_payload);

        assert_int_equal(ver(tok, NULL), cases[i].rc);
        assert_err_has(cases[i].msg);
        rt_free(tok);
    }
}

/* alg is judged before the signature: "none" with no signature at all. */
static void test_jwt_alg_none_unsigned_names_alg(void **state)
{
    rt_buf b;

    (void)state;
    rt__buf_init(&b);
    assert_int_equal(rt__b64url_encode(&b, "{\"alg\":\"none\"}", 14), 0);
    assert_int_equal(rt__buf_putc(&b, '.'), 0);
    assert_int_equal(rt__b64url_encode(&b, vec1_payload, strlen(vec1_payload)),
                     0);
    assert_int_equal(rt__buf_putc(&b, '.'), 0);
    assert_int_equal(ver(b.data, NULL), RT_EINVAL);
    assert_string_equal(errbuf, "unsupported alg \"none\" (only HS256)");
    rt__buf_cleanup(&b);
}

static void test_jwt_typ_optional_and_any_string(void **state)
{
    char *tok;

    (void)state;
    tok = mk("{\"alg\":\"HS256\"}", vec1_payload);
    assert_int_equal(ver(tok, NULL), RT_OK);
    rt_free(tok);
    tok = mk(" {\"kid\":{\"x\":[1]} , \"typ\":\"at+jwt\","
             "\"alg\":\"HS256\"}\r\n",
             vec1_payload);
    assert_int_equal(ver(tok, NULL), RT_OK);
    rt_free(tok);
}

/* --- times */

static void test_jwt_expired_at_exp_exactly(void **state)
{
    rt_jwt_claims *c = NULL;
    const char *t = vec1_token;
    size_t n = strlen(t);

    (void)state;
    assert_int_equal(rt_jwt_verify(t, n, SECRET, SECRET_LEN, EXP - 1, &c,
                                   errbuf, sizeof(errbuf)),
                     RT_OK);
    rt_jwt_claims_free(c);
    assert_int_equal(rt_jwt_verify(t, n, SECRET, SECRET_LEN, EXP, &c, errbuf,
                                   sizeof(errbuf)),
                     RT_EEXPIRED);
    assert_string_equal(errbuf, "token expired 0 s ago");
    assert_null(c);
    assert_int_equal(rt_jwt_verify(t, n, SECRET, SECRET_LEN, EXP + 3600, &c,
                                   errbuf, sizeof(errbuf)),
                     RT_EEXPIRED);
    assert_string_equal(errbuf, "token expired 3600 s ago");
    assert_int_equal(rt_jwt_verify(t, n, SECRET, SECRET_LEN, INT64_MAX, &c,
                                   errbuf, sizeof(errbuf)),
                     RT_EEXPIRED);
    /* A time before the epoch is merely early. */
    assert_int_equal(rt_jwt_verify(t, n, SECRET, SECRET_LEN, INT64_MIN, &c,
                                   errbuf, sizeof(errbuf)),
                     RT_OK);
    rt_jwt_claims_free(c);
}

static void test_jwt_not_valid_before_nbf(void **state)
{
    static const char pay[] =
        "{\"sub\":\"a\",\"nbf\":1700000100,\"exp\":1700003600}";
    char *tok = mk(HS256_HDR, pay);
    rt_jwt_claims *c = NULL;
    size_t n = strlen(tok);

    (void)state;
    assert_int_equal(rt_jwt_verify(tok, n, SECRET, SECRET_LEN, NOW + 99, &c,
                                   errbuf, sizeof(errbuf)),
                     RT_EEXPIRED);
    assert_string_equal(errbuf, "token not valid yet (nbf is 1 s away)");
    assert_int_equal(rt_jwt_verify(tok, n, SECRET, SECRET_LEN, INT64_MIN, &c,
                                   errbuf, sizeof(errbuf)),
                     RT_EEXPIRED);
    assert_err_has("not valid yet");
    assert_int_equal(rt_jwt_verify(tok, n, SECRET, SECRET_LEN, NOW + 100, &c,
                                   errbuf, sizeof(errbuf)),
                     RT_OK);
    assert_true(c->nbf == NOW + 100);
    rt_jwt_claims_free(c);
    rt_free(tok);
}

static void test_jwt_time_claims_must_be_integers(void **state)
{
    static const struct {
        const char *pay;
        int rc;
        int64_t exp;
    } cases[] = {
        {"{\"sub\":\"a\",\"exp\":1700003600.0}", RT_OK, EXP},
        {"{\"sub\":\"a\",\"exp\":17000036e2}", RT_OK, EXP},
        {"{\"sub\":\"a\",\"exp\":1.7000036E+9}", RT_OK, EXP},
        {"{\"sub\":\"a\",\"exp\":9007199254740991}", RT_OK, RT_JWT_MAX_TIME},
        {"{\"sub\":\"a\",\"exp\":9007199254740992}", RT_EPROTO, 0},
        {"{\"sub\":\"a\",\"exp\":1e400}", RT_EPROTO, 0},
        {"{\"sub\":\"a\",\"exp\":\"1700003600\"}", RT_EPROTO, 0},
        {"{\"sub\":\"a\",\"exp\":1700003600.5}", RT_EPROTO, 0},
        {"{\"sub\":\"a\",\"exp\":-1}", RT_EPROTO, 0},
        {"{\"sub\":\"a\",\"exp\":null}", RT_EPROTO, 0},
        {"{\"sub\":\"a\",\"exp\":true}", RT_EPROTO, 0},
        {"{\"sub\":\"a\",\"exp\":[1700003600]}", RT_EPROTO, 0},
        {"{\"sub\":\"a\"}", RT_EPROTO, 0},
        {"{\"sub\":\"a\",\"EXP\":1700003600}", RT_EPROTO, 0},
        {"{\"sub\":\"a\",\"exp\":1700003600,\"iat\":\"x\"}", RT_EPROTO, 0},
        {"{\"sub\":\"a\",\"exp\":1700003600,\"iat\":-5}", RT_EPROTO, 0},
        {"{\"sub\":\"a\",\"exp\":1700003600,\"nbf\":0.25}", RT_EPROTO, 0},
        {"{\"sub\":\"a\",\"exp\":1700003600,\"exp\":1}", RT_EPROTO, 0},
    };
    rt_jwt_claims *c = NULL;
    char pay[128];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = ver_payload(cases[i].pay, &c);

        if (rc != cases[i].rc)
            fail_msg("case %zu: %s: rc %d (%s)", i, cases[i].pay, rc, errbuf);
        if (rc == RT_OK) {
            assert_true(c->exp == cases[i].exp);
            rt_jwt_claims_free(c);
        }
    }
    assert_int_equal(ver_payload("{\"sub\":\"a\"}", NULL), RT_EPROTO);
    assert_string_equal(errbuf, "claim exp missing");

    /* 63 characters is the most of a number that cJSON reads. */
    snprintf(pay, sizeof(pay), "{\"sub\":\"a\",\"exp\":1700003600.%0*d}", 52,
             0);
    assert_int_equal(ver_payload(pay, &c), RT_OK);
    assert_true(c->exp == EXP);
    rt_jwt_claims_free(c);
    snprintf(pay, sizeof(pay), "{\"sub\":\"a\",\"exp\":1700003600.%0*d}", 53,
             0);
    assert_int_equal(ver_payload(pay, NULL), RT_EPROTO);
    assert_string_equal(errbuf, "payload: bad JSON at offset 81");
}

/* --- sub */

static void test_jwt_sub_is_a_valid_user_id(void **state)
{
    static const struct {
        const char *pay;
        int rc;
        const char *sub;
    } cases[] = {
        {"{\"exp\":1700003600,\"sub\":\"\\u0061lice\"}", RT_OK, "alice"},
        {"{\"exp\":1700003600,\"sub\":\"a\\/b\"}", RT_EPROTO, NULL},
        {"{\"exp\":1700003600,\"sub\":\"\"}", RT_EPROTO, NULL},
        {"{\"exp\":1700003600,\"sub\":\"al ice\"}", RT_EPROTO, NULL},
        {"{\"exp\":1700003600,\"sub\":\"al\\u00e9\"}", RT_EPROTO, NULL},
        {"{\"exp\":1700003600,\"sub\":\"alice\\u0000x\"}", RT_EPROTO, NULL},
        {"{\"exp\":1700003600,\"sub\":42}", RT_EPROTO, NULL},
        {"{\"exp\":1700003600,\"sub\":null}", RT_EPROTO, NULL},
        {"{\"exp\":1700003600,\"sub\":[\"alice\"]}", RT_EPROTO, NULL},
        {"{\"exp\":1700003600,\"Sub\":\"alice\"}", RT_EPROTO, NULL},
        {"{\"exp\":1700003600,\"sub\":\"alice\",\"sub\":\"admin\"}", RT_EPROTO,
         NULL},
        {"{\"exp\":1700003600,\"sub\":\"alice\",\"s\\u0075b\":\"admin\"}",
         RT_EPROTO, NULL},
    };
    rt_jwt_claims *c = NULL;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = ver_payload(cases[i].pay, &c);

        if (rc != cases[i].rc)
            fail_msg("case %zu: %s: rc %d (%s)", i, cases[i].pay, rc, errbuf);
        if (rc == RT_OK) {
            assert_string_equal(c->sub, cases[i].sub);
            rt_jwt_claims_free(c);
        }
    }
    assert_int_equal(ver_payload("{\"exp\":1700003600}", NULL), RT_EPROTO);
    assert_string_equal(errbuf, "claim sub missing");
    assert_int_equal(
        ver_payload("{\"exp\":1,\"sub\":\"alice\",\"sub\":\"x\"}", NULL),
        RT_EPROTO);
    assert_string_equal(errbuf, "payload: duplicate member \"sub\"");

    /* 64 characters at most. */
    {
        char name[66], pay[128];

        memset(name, 'u', 64);
        name[64] = '\0';
        snprintf(pay, sizeof(pay), "{\"exp\":1700003600,\"sub\":\"%s\"}",
                 name);
        assert_int_equal(ver_payload(pay, &c), RT_OK);
        assert_int_equal(strlen(c->sub), 64);
        rt_jwt_claims_free(c);
        strcat(name, "u");
        snprintf(pay, sizeof(pay), "{\"exp\":1700003600,\"sub\":\"%s\"}",
                 name);
        assert_int_equal(ver_payload(pay, NULL), RT_EPROTO);
        assert_err_has("claim sub must be a string matching");
    }
}

/* --- rooms */

static void test_jwt_rooms_claim_and_room_allowed(void **state)
{
    rt_jwt_claims *c = NULL;

    (void)state;
    /* Absent: every room. */
    assert_int_equal(ver_payload("{\"sub\":\"a\",\"exp\":1700003600}", &c),
                     RT_OK);
    assert_int_equal(c->has_rooms, 0);
    assert_int_equal(rt_jwt_room_allowed(c, "general"), 1);
    assert_int_equal(rt_jwt_room_allowed(c, "x"), 1);
    rt_jwt_claims_free(c);

    /* "*": every room. */
    assert_int_equal(
        ver_payload("{\"sub\":\"a\",\"exp\":1700003600,\"rooms\":[\"*\"]}",
                    &c),
        RT_OK);
    assert_int_equal(c->has_rooms, 1);
    assert_int_equal(rt_jwt_room_allowed(c, "general"), 1);
    assert_int_equal(rt_jwt_room_allowed(c, "any.room"), 1);
    rt_jwt_claims_free(c);

    /* A list: those rooms exactly. */
    assert_int_equal(ver(vec1_token, &c), RT_OK);
    assert_int_equal(rt_jwt_room_allowed(c, "general"), 1);
    assert_int_equal(rt_jwt_room_allowed(c, "dev"), 1);
    assert_int_equal(rt_jwt_room_allowed(c, "General"), 0);
    assert_int_equal(rt_jwt_room_allowed(c, "gen"), 0);
    assert_int_equal(rt_jwt_room_allowed(c, "general2"), 0);
    assert_int_equal(rt_jwt_room_allowed(c, "*"), 0);
    assert_int_equal(rt_jwt_room_allowed(c, ""), 0);
    assert_int_equal(rt_jwt_room_allowed(c, NULL), 0);
    rt_jwt_claims_free(c);

    /* Empty list: no room. */
    assert_int_equal(
        ver_payload("{\"sub\":\"a\",\"exp\":1700003600,\"rooms\":[]}", &c),
        RT_OK);
    assert_int_equal(c->has_rooms, 1);
    assert_int_equal(c->nrooms, 0);
    assert_int_equal(rt_jwt_room_allowed(c, "general"), 0);
    rt_jwt_claims_free(c);

    assert_int_equal(rt_jwt_room_allowed(NULL, "general"), 0);
}

static void test_jwt_rooms_claim_is_checked(void **state)
{
    static const char *bad[] = {
        "{\"sub\":\"a\",\"exp\":1700003600,\"rooms\":\"general\"}",
        "{\"sub\":\"a\",\"exp\":1700003600,\"rooms\":\"*\"}",
        "{\"sub\":\"a\",\"exp\":1700003600,\"rooms\":{\"general\":1}}",
        "{\"sub\":\"a\",\"exp\":1700003600,\"rooms\":null}",
        "{\"sub\":\"a\",\"exp\":1700003600,\"rooms\":[\"ok\",1]}",
        "{\"sub\":\"a\",\"exp\":1700003600,\"rooms\":[\"ok\",\"\"]}",
        "{\"sub\":\"a\",\"exp\":1700003600,\"rooms\":[\"a/b\"]}",
        "{\"sub\":\"a\",\"exp\":1700003600,\"rooms\":[\"**\"]}",
        "{\"sub\":\"a\",\"exp\":1700003600,\"rooms\":[[\"a\"]]}",
        "{\"sub\":\"a\",\"exp\":1700003600,\"rooms\":[\"a\"],\"rooms\":[]}",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (ver_payload(bad[i], NULL) != RT_EPROTO)
            fail_msg("accepted %s", bad[i]);
    assert_int_equal(ver_payload(bad[5], NULL), RT_EPROTO);
    assert_string_equal(errbuf, "claim rooms[1] is not a room name or \"*\"");
}

static void test_jwt_rooms_count_is_bounded(void **state)
{
    rt_jwt_claims *c = NULL;
    rt_buf b;
    int i;

    (void)state;
    rt__buf_init(&b);
    assert_int_equal(rt__buf_printf(&b, "{\"sub\":\"a\",\"exp\":1700003600,"
                                        "\"rooms\":[\"r0\""),
                     0);
    for (i = 1; i < RT_JWT_MAX_ROOMS; i++)
        assert_int_equal(rt__buf_printf(&b, ",\"r%d\"", i), 0);
    assert_int_equal(rt__buf_append(&b, "]}", 3), 0);
    assert_int_equal(ver_payload(b.data, &c), RT_OK);
    assert_int_equal(c->nrooms, RT_JWT_MAX_ROOMS);
    assert_string_equal(c->rooms[255], "r255");
    assert_int_equal(rt_jwt_room_allowed(c, "r255"), 1);
    assert_int_equal(rt_jwt_room_allowed(c, "r256"), 0);
    rt_jwt_claims_free(c);

    b.len -= 3;
    assert_int_equal(rt__buf_printf(&b, ",\"r%d\"]}", RT_JWT_MAX_ROOMS), 0);
    assert_int_equal(ver_payload(b.data, NULL), RT_EPROTO);
    assert_string_equal(errbuf, "claim rooms has more than 256 entries");
    rt__buf_cleanup(&b);
}

/* --- shape and encoding */

static void test_jwt_token_length_is_bounded(void **state)
{
    rt_buf pay;
    char *tok = NULL;
    size_t pad;
    int hit_max = 0, hit_over = 0;
    char *big;

    (void)state;
    rt__buf_init(&pay);
    for (pad = 5900; pad < 6200 && !(hit_max && hit_over); pad++) {
        size_t n;
        int rc;

        rt__buf_clear(&pay);
        assert_int_equal(rt__buf_printf(&pay,
                                        "{\"sub\":\"a\",\"exp\":%d,"
                                        "\"pad\":\"%0*d\"}",
                                        1700003600, (int)pad, 0),
                         0);
        tok = mk(HS256_HDR, pay.data);
        n = strlen(tok);
        rc = ver(tok, NULL);
        if (n == RT_JWT_MAX_TOKEN) {
            hit_max = 1;
            assert_int_equal(rc, RT_OK);
        } else if (n == RT_JWT_MAX_TOKEN + 1) {
            hit_over = 1;
            assert_int_equal(rc, RT_EPROTO);
            assert_string_equal(errbuf,
                                "token too long (8193 bytes, limit 8192)");
        } else {
            assert_int_equal(rc, n <= RT_JWT_MAX_TOKEN ? RT_OK : RT_EPROTO);
        }
        rt_free(tok);
    }
    assert_true(hit_max && hit_over);
    rt__buf_cleanup(&pay);

    /* A huge buffer is refused by its length alone. */
    big = rt__malloc(1 << 20);
    memset(big, 'a', 1 << 20);
    assert_int_equal(rt_jwt_verify(big, 1 << 20, SECRET, SECRET_LEN, NOW,
                                   (rt_jwt_claims *[]){NULL}, errbuf,
                                   sizeof(errbuf)),
                     RT_EPROTO);
    assert_err_has("token too long");
    rt_free(big);
}

static void test_jwt_shape_is_three_parts(void **state)
{
    static const char *bad[] = {
        "",        ".",
        "..",      "...",
        "abc",     "eyJhbGciOiJIUzI1NiJ9.e30",
        "a.b.c.d", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9..",
    };
    size_t i;

    (void)state;
    for (i = 0; i < 7; i++)
        assert_int_equal(ver(bad[i], NULL), RT_EPROTO);
    assert_int_equal(ver("a.b", NULL), RT_EPROTO);
    assert_string_equal(errbuf,
                        "token must be three base64url parts joined by '.'");
    /* Well-shaped with an empty signature; an empty payload, signed. */
    assert_int_equal(ver(bad[7], NULL), RT_EBADSIG);
    {
        char *tok = mk(HS256_HDR, "");

        assert_int_equal(ver(tok, NULL), RT_EPROTO);
        assert_string_equal(errbuf, "payload: bad JSON at offset 0");
        rt_free(tok);
    }
}

static void test_jwt_bad_base64url_is_eproto(void **state)
{
    char tok[sizeof(vec1_token) + 4];
    size_t hlen = (size_t)(strchr(vec1_token, '.') - vec1_token);
    char *t;
    char *dot;
    char p76[80];
    rt_buf b;

    (void)state;
    /* '+' and '/' belong to base64, not base64url. */
    memcpy(tok, vec1_token, sizeof(vec1_token));
    tok[3] = '+';
    assert_int_equal(ver(tok, NULL), RT_EPROTO);
    assert_string_equal(errbuf, "header: bad base64url");
    tok[3] = '/';
    assert_int_equal(ver(tok, NULL), RT_EPROTO);
    tok[3] = ' ';
    assert_int_equal(ver(tok, NULL), RT_EPROTO);
    tok[3] = '\x80';
    assert_int_equal(ver(tok, NULL), RT_EPROTO);

    /* The header's last character turned into padding. */
    memcpy(tok, vec1_token, hlen - 1);
    tok[hlen - 1] = '=';
    strcpy(tok + hlen, vec1_token + hlen);
    assert_int_equal(ver(tok, NULL), RT_EPROTO);
    assert_string_equal(errbuf, "header: bad base64url");

    /* Padding on the signature: 43 characters + '='. */
    snprintf(tok, sizeof(tok), "%s=", vec1_token);
    assert_int_equal(ver(tok, NULL), RT_EPROTO);
    assert_string_equal(errbuf, "signature: bad base64url");

    /* Padding on a payload whose HMAC is right for the padded text. */
    rt__buf_init(&b);
    assert_int_equal(rt__b64url_encode(&b, HS256_HDR, strlen(HS256_HDR)), 0);
    assert_int_equal(rt__buf_putc(&b, '.'), 0);
    /* 76 bytes (a trailing space): base64 pads them with "==". */
    snprintf(p76, sizeof(p76), "%s ", vec1_payload);
    assert_int_equal(strlen(p76) % 3, 1);
    assert_int_equal(rt__b64url_encode(&b, p76, strlen(p76)), 0);
    assert_int_equal(rt__buf_append(&b, "==", 2), 0);
    {
        unsigned char md[32];
        unsigned int mdlen;

        assert_non_null(HMAC(EVP_sha256(), SECRET, (int)SECRET_LEN,
                             (const unsigned char *)b.data, b.len, md,
                             &mdlen));
        assert_int_equal(rt__buf_putc(&b, '.'), 0);
        assert_int_equal(rt__b64url_encode(&b, md, mdlen), 0);
    }
    assert_int_equal(ver(b.data, NULL), RT_EPROTO);
    assert_string_equal(errbuf, "payload: bad base64url");
    rt__buf_cleanup(&b);

    /* An impossible length (one leftover character) in the header. */
    t = mk(HS256_HDR, vec1_payload);
    dot = strchr(t, '.');
    memmove(t + 1, dot, strlen(dot) + 1);
    assert_int_equal(ver(t, NULL), RT_EPROTO);
    assert_string_equal(errbuf, "header: bad base64url");
    rt_free(t);
}

static void test_jwt_json_must_be_an_object(void **state)
{
    static const struct {
        const char *hdr;
        const char *pay;
        const char *msg;
    } cases[] = {
        {"[]", NULL, "header: not a JSON object"},
        {"\"HS256\"", NULL, "header: not a JSON object"},
        {"", NULL, "header: bad JSON at offset 0"},
        {"{\"alg\":\"HS256\"", NULL, "header: bad JSON"},
        {"{\"alg\":\"HS256\"}x", NULL, "header: bad JSON at offset 15"},
        {"{\"alg\":\"HS256\"}{}", NULL, "header: bad JSON"},
        {"{'alg':'HS256'}", NULL, "header: bad JSON"},
        {"\xef\xbb\xbf{\"alg\":\"HS256\"}", NULL, "header: bad JSON"},
        {NULL, "[1]", "payload: not a JSON object"},
        {NULL, "\"sub\"", "payload: not a JSON object"},
        {NULL, "42", "payload: not a JSON object"},
        {NULL, "null", "payload: not a JSON object"},
        {NULL, "{", "payload: bad JSON"},
        {NULL, "{\"sub\":\"a\",\"exp\":1,}", "payload: bad JSON"},
        {NULL, "{\"sub\":\"a\" \"exp\":1}", "payload: bad JSON"},
        {NULL, "{\"sub\":\"a\",\"exp\":01}", "payload: bad JSON"},
        {NULL, "{\"sub\":\"a\",\"exp\":+1}", "payload: bad JSON"},
        {NULL, "{\"sub\":\"a\",\"exp\":1.}", "payload: bad JSON"},
        {NULL, "{\"sub\":\"a\",\"exp\":NaN}", "payload: bad JSON"},
        {NULL, "{\"sub\":\"a\",\"x\":tru}", "payload: bad JSON"},
        {NULL, "{\"sub\":\"a\",\"x\":\"\\x\"}", "payload: bad JSON"},
        {NULL, "{\"sub\":\"a\",\"x\":\"\\uZZZZ\"}", "payload: bad JSON"},
        {NULL, "{\"sub\":\"a\",\"x\":\"\\ud800\"}", "payload: bad JSON"},
        {NULL, "{\"sub\":\"a\",\"x\":\"\\udc00\"}", "payload: bad JSON"},
        {NULL, "{\"sub\":\"a\",\"x\":\"\\ud800\\u0041\"}",
         "payload: bad JSON"},
        {NULL, "{\"sub\":\"a\",\"x\":\"tab\there\"}", "payload: bad JSON"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *tok = mk(cases[i].hdr ? cases[i].hdr : HS256_HDR,
                       cases[i].pay ? cases[i].pay : vec1_payload);

        if (ver(tok, NULL) != RT_EPROTO || !strstr(errbuf, cases[i].msg))
            fail_msg("case %zu: \"%s\" for %s", i, errbuf,
                     cases[i].hdr ? cases[i].hdr : cases[i].pay);
        rt_free(tok);
    }
}

static void test_jwt_json_edges_accepted(void **state)
{
    static const char *good[] = {
        " \t\r\n{ \"sub\" : \"a\" , \"exp\" : 1700003600 } \n",
        "{\"sub\":\"a\",\"exp\":1700003600,\"x\":\"\\ud83d\\ude00 \xc3\xa9\"}",
        ("{\"sub\":\"a\",\"exp\":1700003600,\"x\":[{},[],null,true,false,"
         "-0.5e-3,\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]}"),
        "{\"sub\":\"a\",\"exp\":1700003600,\"x\":\"\\\\u0000\"}",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        if (ver_payload(good[i], NULL) != RT_OK)
            fail_msg("refused %s: %s", good[i], errbuf);
}

/* A payload whose member x holds |arrays| nested arrays. */
static void nested_payload(rt_buf *b, int arrays)
{
    int i;

    rt__buf_clear(b);
    assert_int_equal(rt__buf_printf(b, "{\"sub\":\"a\",\"exp\":1700003600,"
                                       "\"x\":"),
                     0);
    for (i = 0; i < arrays; i++)
        assert_int_equal(rt__buf_putc(b, '['), 0);
    for (i = 0; i < arrays; i++)
        assert_int_equal(rt__buf_putc(b, ']'), 0);
    assert_int_equal(rt__buf_putc(b, '}'), 0);
}

static void test_jwt_json_depth_is_bounded(void **state)
{
    rt_buf b;

    (void)state;
    rt__buf_init(&b);
    /* The payload object is level 1; 31 more levels of arrays are fine. */
    nested_payload(&b, 31);
    assert_int_equal(ver_payload(b.data, NULL), RT_OK);

    nested_payload(&b, 32);
    assert_int_equal(ver_payload(b.data, NULL), RT_EPROTO);
    assert_err_has("bad JSON");
    rt__buf_cleanup(&b);
}

static void test_jwt_embedded_nul_is_eproto(void **state)
{
    static const char pay[] = "{\"sub\":\"a\",\"exp\":1700003600}\0";
    static const char mid[] = "{\"sub\":\"a\0b\",\"exp\":1700003600}";
    char tok[sizeof(vec1_token)];
    rt_jwt_claims *c = NULL;
    char *t;

    (void)state;
    /* A NUL inside the token bytes. */
    memcpy(tok, vec1_token, sizeof(tok));
    tok[40] = '\0';
    assert_int_equal(rt_jwt_verify(tok, sizeof(tok) - 1, SECRET, SECRET_LEN,
                                   NOW, &c, errbuf, sizeof(errbuf)),
                     RT_EPROTO);
    assert_string_equal(errbuf, "token contains a NUL byte");
    /* A NUL after the token, inside |len|. */
    memcpy(tok, vec1_token, sizeof(tok));
    assert_int_equal(rt_jwt_verify(tok, sizeof(tok), SECRET, SECRET_LEN, NOW,
                                   &c, errbuf, sizeof(errbuf)),
                     RT_EPROTO);
    assert_string_equal(errbuf, "token contains a NUL byte");
    /* A NUL byte in the decoded, correctly signed payload. */
    t = mk_n(HS256_HDR, strlen(HS256_HDR), pay, sizeof(pay) - 1, SECRET);
    assert_int_equal(ver(t, NULL), RT_EPROTO);
    assert_string_equal(errbuf, "payload: JSON contains a NUL byte");
    rt_free(t);
    /* ...and one in the middle of a string. */
    t = mk_n(HS256_HDR, strlen(HS256_HDR), mid, sizeof(mid) - 1, SECRET);
    assert_int_equal(ver(t, NULL), RT_EPROTO);
    rt_free(t);
}

/* --- arguments and sign-side checks */

static void test_jwt_empty_secret_is_einval(void **state)
{
    rt_jwt_claims in = {0};
    rt_jwt_claims *c = (rt_jwt_claims *)&in;
    char *tok = (char *)"x";

    (void)state;
    in.sub = "a";
    in.exp = EXP;
    assert_int_equal(rt_jwt_sign(&in, "", 0, &tok), RT_EINVAL);
    assert_null(tok);
    assert_int_equal(rt_jwt_sign(&in, NULL, 4, &tok), RT_EINVAL);
    assert_int_equal(rt_jwt_sign(NULL, SECRET, SECRET_LEN, &tok), RT_EINVAL);
    assert_int_equal(rt_jwt_sign(&in, SECRET, SECRET_LEN, NULL), RT_EINVAL);
    assert_int_equal(rt_jwt_verify(vec1_token, strlen(vec1_token), SECRET, 0,
                                   NOW, &c, errbuf, sizeof(errbuf)),
                     RT_EINVAL);
    assert_null(c);
    assert_string_equal(errbuf, "empty secret");
    assert_int_equal(rt_jwt_verify(vec1_token, strlen(vec1_token), NULL, 3,
                                   NOW, &c, errbuf, sizeof(errbuf)),
                     RT_EINVAL);
    assert_int_equal(rt_jwt_verify(NULL, 0, SECRET, SECRET_LEN, NOW, &c,
                                   errbuf, sizeof(errbuf)),
                     RT_EINVAL);
    assert_int_equal(rt_jwt_verify(vec1_token, strlen(vec1_token), SECRET,
                                   SECRET_LEN, NOW, NULL, errbuf,
                                   sizeof(errbuf)),
                     RT_EINVAL);
}

static void test_jwt_sign_checks_claims(void **state)
{
    char name64[65], name65[66];
    char *rooms[] = {"ok", NULL};
    rt_jwt_claims in;
    char *tok = NULL;

    (void)state;
    memset(name64, 'n', 64);
    name64[64] = '\0';
    memset(name65, 'n', 65);
    name65[65] = '\0';
#define SIGN_RC(field_set)                                              \
    (memset(&in, 0, sizeof(in)), in.sub = "a", in.exp = EXP, field_set, \
     rt_jwt_sign(&in, SECRET, SECRET_LEN, &tok))
    assert_int_equal(SIGN_RC(in.sub = name64), RT_OK);
    rt_free(tok);
    assert_int_equal(SIGN_RC(in.sub = name65), RT_EINVAL);
    assert_null(tok);
    assert_int_equal(SIGN_RC(in.sub = NULL), RT_EINVAL);
    assert_int_equal(SIGN_RC(in.sub = ""), RT_EINVAL);
    assert_int_equal(SIGN_RC(in.sub = "a\"b"), RT_EINVAL);
    assert_int_equal(SIGN_RC(in.sub = "*"), RT_EINVAL);
    assert_int_equal(SIGN_RC(in.exp = 0), RT_EINVAL);
    assert_int_equal(SIGN_RC(in.exp = -1), RT_EINVAL);
    assert_int_equal(SIGN_RC(in.exp = RT_JWT_MAX_TIME), RT_OK);
    rt_free(tok);
    assert_int_equal(SIGN_RC(in.exp = RT_JWT_MAX_TIME + 1), RT_EINVAL);
    assert_int_equal(SIGN_RC(in.iat = -1), RT_EINVAL);
    assert_int_equal(SIGN_RC(in.nbf = INT64_MAX), RT_EINVAL);
    assert_int_equal(SIGN_RC((in.has_rooms = 1, in.nrooms = 1)), RT_EINVAL);
    assert_int_equal(
        SIGN_RC((in.has_rooms = 1, in.rooms = rooms, in.nrooms = 2)),
        RT_EINVAL);
    rooms[1] = "a,b";
    assert_int_equal(
        SIGN_RC((in.has_rooms = 1, in.rooms = rooms, in.nrooms = 2)),
        RT_EINVAL);
    /* has_rooms clear: the list is not looked at. */
    assert_int_equal(SIGN_RC((in.rooms = rooms, in.nrooms = 2)), RT_OK);
    {
        rt_jwt_claims *c = NULL;

        assert_int_equal(ver(tok, &c), RT_OK);
        assert_int_equal(c->has_rooms, 0);
        rt_jwt_claims_free(c);
    }
    rt_free(tok);
    /* An empty list is written, and then allows nothing. */
    assert_int_equal(SIGN_RC((in.has_rooms = 1, in.nrooms = 0)), RT_OK);
    {
        rt_jwt_claims *c = NULL;

        assert_int_equal(ver(tok, &c), RT_OK);
        assert_string_equal(c->json,
                            "{\"sub\":\"a\",\"exp\":1700003600,\"rooms\":[]}");
        assert_int_equal(rt_jwt_room_allowed(c, "a"), 0);
        rt_jwt_claims_free(c);
    }
    rt_free(tok);
#undef SIGN_RC
}

static void test_jwt_sign_refuses_oversized_token(void **state)
{
    static char names[RT_JWT_MAX_ROOMS][65];
    char *rooms[RT_JWT_MAX_ROOMS];
    rt_jwt_claims in = {0};
    char *tok = (char *)"x";
    size_t i;

    (void)state;
    for (i = 0; i < RT_JWT_MAX_ROOMS; i++) {
        snprintf(names[i], sizeof(names[i]), "%064zu", i);
        rooms[i] = names[i];
    }
    in.sub = "a";
    in.exp = EXP;
    in.has_rooms = 1;
    in.rooms = rooms;
    in.nrooms = RT_JWT_MAX_ROOMS;
    assert_int_equal(rt_jwt_sign(&in, SECRET, SECRET_LEN, &tok), RT_ETOOBIG);
    assert_null(tok);
    /* 64 such rooms fit. */
    in.nrooms = 64;
    assert_int_equal(rt_jwt_sign(&in, SECRET, SECRET_LEN, &tok), RT_OK);
    assert_int_equal(ver(tok, NULL), RT_OK);
    rt_free(tok);
}

static void test_jwt_errbuf_optional_and_truncated(void **state)
{
    rt_jwt_claims *c = NULL;
    char small[8];

    (void)state;
    assert_int_equal(
        rt_jwt_verify("a.b", 3, SECRET, SECRET_LEN, NOW, &c, NULL, 0),
        RT_EPROTO);
    assert_int_equal(rt_jwt_verify("a.b", 3, SECRET, SECRET_LEN, NOW, &c,
                                   small, sizeof(small)),
                     RT_EPROTO);
    assert_string_equal(small, "token m");
    rt_jwt_claims_free(NULL);
}

/* --- allocation failure */

static void test_jwt_allocation_failures_are_enomem(void **state)
{
    char *rooms[] = {"general", "dev"};
    rt_jwt_claims in = {0};
    long n;
    int rc, ok_sign = 0, ok_verify = 0;

    (void)state;
    in.sub = "alice";
    in.iat = NOW;
    in.exp = EXP;
    in.has_rooms = 1;
    in.rooms = rooms;
    in.nrooms = 2;
    th_alloc_install();
    for (n = 0; n < 200 && !ok_sign; n++) {
        char *tok = NULL;

        th_alloc_fail_at(n);
        rc = rt_jwt_sign(&in, SECRET, SECRET_LEN, &tok);
        if (rc == RT_OK) {
            ok_sign = 1;
            th_alloc_fail_at(-1);
            assert_string_equal(tok, vec1_token);
            rt_free(tok);
        } else {
            assert_int_equal(rc, RT_ENOMEM);
            assert_null(tok);
        }
        assert_int_equal(th_alloc_live(), 0);
    }
    for (n = 0; n < 500 && !ok_verify; n++) {
        rt_jwt_claims *c = NULL;

        th_alloc_fail_at(n);
        rc = rt_jwt_verify(vec1_token, strlen(vec1_token), SECRET, SECRET_LEN,
                           NOW, &c, errbuf, sizeof(errbuf));
        if (rc == RT_OK) {
            ok_verify = 1;
            th_alloc_fail_at(-1);
            assert_int_equal(c->nrooms, 2);
            rt_jwt_claims_free(c);
        } else {
            /* A failed allocation inside cJSON must not read as bad JSON. */
            if (rc != RT_ENOMEM)
                fail_msg("allocation %ld: rc %d (%s)", n, rc, errbuf);
            assert_string_equal(errbuf, "out of memory");
            assert_null(c);
        }
        assert_int_equal(th_alloc_live(), 0);
    }
    th_alloc_uninstall();
    assert_true(ok_sign && ok_verify);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jwt_sign_matches_known_vector),
        cmocka_unit_test(test_jwt_sign_matches_minimal_vector),
        cmocka_unit_test(test_jwt_verify_known_vector),
        cmocka_unit_test(test_jwt_verify_rfc7515_example_signature),
        cmocka_unit_test(test_jwt_round_trip_all_claims),
        cmocka_unit_test(test_jwt_round_trip_binary_secret),
        cmocka_unit_test(test_jwt_token_need_not_be_nul_terminated),
        cmocka_unit_test(test_jwt_tampered_payload_is_badsig),
        cmocka_unit_test(test_jwt_tampered_signature_is_badsig),
        cmocka_unit_test(test_jwt_no_single_char_change_verifies),
        cmocka_unit_test(test_jwt_signature_of_wrong_length_is_badsig),
        cmocka_unit_test(test_jwt_wrong_secret_is_badsig),
        cmocka_unit_test(test_jwt_alg_other_than_hs256_is_refused),
        cmocka_unit_test(test_jwt_alg_none_unsigned_names_alg),
        cmocka_unit_test(test_jwt_typ_optional_and_any_string),
        cmocka_unit_test(test_jwt_expired_at_exp_exactly),
        cmocka_unit_test(test_jwt_not_valid_before_nbf),
        cmocka_unit_test(test_jwt_time_claims_must_be_integers),
        cmocka_unit_test(test_jwt_sub_is_a_valid_user_id),
        cmocka_unit_test(test_jwt_rooms_claim_and_room_allowed),
        cmocka_unit_test(test_jwt_rooms_claim_is_checked),
        cmocka_unit_test(test_jwt_rooms_count_is_bounded),
        cmocka_unit_test(test_jwt_token_length_is_bounded),
        cmocka_unit_test(test_jwt_shape_is_three_parts),
        cmocka_unit_test(test_jwt_bad_base64url_is_eproto),
        cmocka_unit_test(test_jwt_json_must_be_an_object),
        cmocka_unit_test(test_jwt_json_edges_accepted),
        cmocka_unit_test(test_jwt_json_depth_is_bounded),
        cmocka_unit_test(test_jwt_embedded_nul_is_eproto),
        cmocka_unit_test(test_jwt_empty_secret_is_einval),
        cmocka_unit_test(test_jwt_sign_checks_claims),
        cmocka_unit_test(test_jwt_sign_refuses_oversized_token),
        cmocka_unit_test(test_jwt_errbuf_optional_and_truncated),
        cmocka_unit_test(test_jwt_allocation_failures_are_enomem),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
