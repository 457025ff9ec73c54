/*
 * lean_tls.c: TLS for the lean engine through OpenSSL memory BIOs.
 *
 * The engine owns the sockets; OpenSSL only sees two BIO_s_mem per
 * connection: the input BIO gets what the socket read, the output BIO
 * collects what OpenSSL wants sent, and the engine moves it to the
 * socket.  So TLS costs no descriptor, no thread and no blocking call,
 * and one uv read still serves every record it holds.
 *
 * Memory: an idle connection should keep what a TLS session needs and
 * nothing of its traffic.  SSL_MODE_RELEASE_BUFFERS gives back OpenSSL's
 * record buffers between records; the memory BIOs keep the largest
 * buffer they ever held, so one that grew past BIO_KEEP is replaced by a
 * fresh one once it is empty (a read of 64 KiB would otherwise pin 64
 * KiB per connection for the rest of the run).
 *
 * Verification is on by default: the system's trust store or --cacert,
 * the name or IP address of the URL checked against the certificate
 * (X509_VERIFY_PARAM of the context, copied into every SSL).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "rt/error.h"

#include "core_int.h"
#include "lean_tls.h"

#define BIO_KEEP 4096

struct rt__lean_tls {
    SSL_CTX *ctx;
    char *sni; /* NULL for an IP address: RFC 6066 3 forbids it as SNI */
};

static void errstr(char *buf, size_t len, const char *what)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;

    snprintf(buf, len, "%s%s%s", what, r ? ": " : "", r ? r : "");
    ERR_clear_error();
}

int rt__lean_tls_new(struct rt__lean_tls **out, const char *server_name,
                     const char *cacert, int insecure, char *err,
                     size_t errlen)
{
    struct rt__lean_tls *t = rt__calloc(1, sizeof(*t));
    unsigned char ip[16];
    int is_ip;

    if (t == NULL)
        return RT_ENOMEM;
    t->ctx = SSL_CTX_new(TLS_client_method());
    if (t->ctx == NULL) {
        rt__free(t);
        return RT_ENOMEM;
    }
    SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(t->ctx, SSL_MODE_RELEASE_BUFFERS);
    is_ip = inet_pton(AF_INET, server_name, ip) == 1 ||
            inet_pton(AF_INET6, server_name, ip) == 1;
    if (!insecure) {
        X509_VERIFY_PARAM *vp = SSL_CTX_get0_param(t->ctx);
        int ok = cacert != NULL
                     ? SSL_CTX_load_verify_locations(t->ctx, cacert, NULL)
                     : SSL_CTX_set_default_verify_paths(t->ctx);

        if (!ok) {
            char what[300];

            snprintf(what, sizeof(what), "cannot load the CA certificates %s",
                     cacert ? cacert : "of the system");
            errstr(err, errlen, what);
            rt__lean_tls_free(t);
            return RT_ETLS;
        }
        ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, server_name)
                   : X509_VERIFY_PARAM_set1_host(vp, server_name, 0);
        if (!ok) {
            errstr(err, errlen, "cannot check the server's name");
            rt__lean_tls_free(t);
            return RT_ETLS;
        }
        SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
    } else {
        SSL_CTX_set_verify(t->ctx, SSL_VERIFY_NONE, NULL);
    }
    if (!is_ip && server_name[0] != '\0') {
        t->sni = rt__strndup(server_name, strlen(server_name));
        if (t->sni == NULL) {
            rt__lean_tls_free(t);
            return RT_ENOMEM;
        }
    }
    *out = t;
    return 0;
}

int rt__lean_tls_identity(struct rt__lean_tls *t, const char *cert,
                          const char *key, char *err, size_t errlen)
{
    char what[300];

    if (SSL_CTX_use_certificate_chain_file(t->ctx, cert) != 1) {
        snprintf(what, sizeof(what), "cannot load the certificate %s", cert);
        errstr(err, errlen, what);
        return RT_ETLS;
    }
    if (key == NULL)
        key = cert;
    if (SSL_CTX_use_PrivateKey_file(t->ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(t->ctx) != 1) {
        snprintf(what, sizeof(what), "cannot use the private key %s", key);
        errstr(err, errlen, what);
        return RT_ETLS;
    }
    return 0;
}

void rt__lean_tls_free(struct rt__lean_tls *t)
{
    if (t == NULL)
        return;
    SSL_CTX_free(t->ctx);
    rt__free(t->sni);
    rt__free(t);
}

static BIO *mem_bio(void)
{
    BIO *b = BIO_new(BIO_s_mem());

    if (b != NULL)
        BIO_set_mem_eof_return(b, -1); /* empty means "more later" */
    return b;
}

SSL *rt__lean_tls_conn(struct rt__lean_tls *t)
{
    SSL *s = SSL_new(t->ctx);
    BIO *in, *out;

    if (s == NULL)
        return NULL;
    in = mem_bio();
    out = mem_bio();
    if (in == NULL || out == NULL ||
        (t->sni != NULL && !SSL_set_tlsext_host_name(s, t->sni))) {
        BIO_free(in);
        BIO_free(out);
        SSL_free(s);
        ERR_clear_error();
        return NULL;
    }
    SSL_set_bio(s, in, out);
    SSL_set_connect_state(s);
    return s;
}

void rt__lean_tls_conn_free(SSL *s)
{
    SSL_free(s);
}

int rt__lean_tls_feed(SSL *s, const void *p, size_t len)
{
    if (len > 0 && BIO_write(SSL_get_rbio(s), p, (int)len) != (int)len) {
        ERR_clear_error();
        return RT_ENOMEM;
    }
    return 0;
}

/* The detail of a failed handshake or read. */
static int failure(SSL *s, int rc, char *detail, size_t len)
{
    long v = SSL_get_verify_result(s);

    if (v != X509_V_OK) {
        snprintf(detail, len, "TLS failure: certificate verify failed: %s",
                 X509_verify_cert_error_string(v));
        ERR_clear_error();
    } else if (rc == SSL_ERROR_SYSCALL) {
        snprintf(detail, len, "TLS failure: the server ended the session");
        ERR_clear_error();
    } else {
        errstr(detail, len, "TLS failure");
    }
    return RT_ETLS;
}

int rt__lean_tls_handshake(SSL *s, char *detail, size_t len)
{
    int rc;

    if (SSL_is_init_finished(s))
        return 1;
    rc = SSL_do_handshake(s);
    if (rc == 1)
        return 1;
    rc = SSL_get_error(s, rc);
    if (rc == SSL_ERROR_WANT_READ || rc == SSL_ERROR_WANT_WRITE)
        return 0;
    return failure(s, rc, detail, len);
}

long rt__lean_tls_read(SSL *s, void *buf, size_t cap, char *detail, size_t len)
{
    size_t n = 0;
    int rc = SSL_read_ex(s, buf, cap, &n);

    if (rc == 1)
        return (long)n;
    rc = SSL_get_error(s, rc);
    if (rc == SSL_ERROR_WANT_READ || rc == SSL_ERROR_WANT_WRITE)
        return 0;
    if (rc == SSL_ERROR_ZERO_RETURN)
        return RT_ECLOSED;
    return failure(s, rc, detail, len);
}

int rt__lean_tls_write(SSL *s, const void *p, size_t len)
{
    size_t n = 0;

    /* a memory BIO never refuses: the whole of it is encrypted at once */
    if (len > 0 && SSL_write_ex(s, p, len, &n) != 1) {
        ERR_clear_error();
        return RT_ETLS;
    }
    return 0;
}

void rt__lean_tls_shutdown(SSL *s)
{
    if (SSL_is_init_finished(s) && SSL_shutdown(s) < 0)
        ERR_clear_error();
}

size_t rt__lean_tls_out(SSL *s, const char **p)
{
    char *d = NULL;
    long n = BIO_get_mem_data(SSL_get_wbio(s), &d);

    *p = d;
    return n > 0 ? (size_t)n : 0;
}

/* An empty BIO that grew past BIO_KEEP gives its buffer back. */
static int grown(BIO *b)
{
    BUF_MEM *bm = NULL;

    BIO_get_mem_ptr(b, &bm);
    return bm != NULL && bm->max > BIO_KEEP;
}

void rt__lean_tls_out_done(SSL *s)
{
    BIO *b = SSL_get_wbio(s), *nb;

    if (grown(b) && (nb = mem_bio()) != NULL)
        SSL_set0_wbio(s, nb);
    else
        (void)BIO_reset(b);
}

void rt__lean_tls_in_done(SSL *s)
{
    BIO *b = SSL_get_rbio(s), *nb;

    /*
     * SSL_MODE_RELEASE_BUFFERS lets go of the read buffer but, in
     * OpenSSL 3.0, not of the 16 KiB write buffer that the last write
     * set up: without this an idle connection held 39 KiB, with it 22.
     */
    (void)SSL_free_buffers(s);
    if (BIO_ctrl_pending(b) == 0 && grown(b) && (nb = mem_bio()) != NULL)
        SSL_set0_rbio(s, nb); /* takes nb, frees the old one */
}
