/* fuzz_jwt.c: rt_jwt_verify on raw tokens and on signed arbitrary JSON. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core_int.h"
#include "rt/jwt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const char *tok, size_t len)
{
    rt_jwt_claims *c = NULL;
    char err[128];
    int rc = rt_jwt_verify(tok, len, "k", 1, 1000, &c, err, sizeof(err));

    /* No allocation fails here, so RT_ENOMEM means the JSON pre-check
       accepted something cJSON refused. */
    if (rc == RT_ENOMEM)
        abort();
    if (rc == RT_OK) {
        char *t2 = NULL;
        rt_jwt_claims *c2 = NULL;

        if (c->sub == NULL || c->json == NULL || c->exp <= 1000)
            abort();
        if (c->exp > 0 && rt_jwt_sign(c, "k", 1, &t2) == RT_OK) {
            if (rt_jwt_verify(t2, strlen(t2), "k", 1, 1000, &c2, NULL, 0))
                abort();
            if (strcmp(c2->sub, c->sub) || c2->exp != c->exp ||
                c2->nrooms != c->nrooms)
                abort();
            rt_jwt_claims_free(c2);
        }
        rt_free(t2);
        rt_jwt_claims_free(c);
    } else if (c != NULL || err[0] == '\0')
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *sep;
    unsigned char md[32];
    unsigned int mdlen;
    rt_buf b;

    if (size == 0)
        return 0;
    if (data[0] & 1) {
        check((const char *)data + 1, size - 1);
        return 0;
    }
    /* header JSON \n payload JSON, signed with the right key. */
    sep = memchr(data + 1, '\n', size - 1);
    if (sep == NULL)
        return 0;
    rt__buf_init(&b);
    rt__b64url_encode(&b, data + 1, (size_t)(sep - data - 1));
    rt__buf_putc(&b, '.');
    rt__b64url_encode(&b, sep + 1, size - (size_t)(sep - data) - 1);
    HMAC(EVP_sha256(), "k", 1, (unsigned char *)b.data, b.len, md, &mdlen);
    rt__buf_putc(&b, '.');
    rt__b64url_encode(&b, md, mdlen);
    check(b.data, b.len);
    rt__buf_cleanup(&b);
    return 0;
}
