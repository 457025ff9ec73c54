/*
 * lean_tls.h: TLS for the lean engine (lib/net/lean.c), private.
 *
 * One rt__lean_tls per engine holds the SSL_CTX (trust, verification,
 * the server's name); each connection attempt gets an SSL whose two
 * memory BIOs the engine drives: ciphertext read from the socket goes in
 * with rt__lean_tls_feed(), ciphertext to send comes out with
 * rt__lean_tls_out().  Nothing here touches a socket or the loop.
 */
#ifndef RT_LEAN_TLS_H
#define RT_LEAN_TLS_H

#include <stddef.h>

struct ssl_st;
struct rt__lean_tls;

/*
 * Make the engine's context: trust |cacert| (a PEM file) or the system's
 * store, check the certificate against |server_name| (a host name or an
 * IP address, sent as SNI when a name) unless |insecure|.
 * Returns 0, RT_ENOMEM, RT_ETLS (|err| says why: an unreadable cacert).
 */
int rt__lean_tls_new(struct rt__lean_tls **out, const char *server_name,
                     const char *cacert, int insecure, char *err,
                     size_t errlen);
void rt__lean_tls_free(struct rt__lean_tls *t);

/*
 * Present the client certificate |cert| with its private key |key| (PEM
 * files; |key| NULL: in |cert|) to servers that ask for one.
 * Returns 0, RT_ETLS (|err| says why: unreadable, not matching).
 */
int rt__lean_tls_identity(struct rt__lean_tls *t, const char *cert,
                          const char *key, char *err, size_t errlen);

/* A client SSL for one attempt, in connect state.  NULL: no memory. */
struct ssl_st *rt__lean_tls_conn(struct rt__lean_tls *t);
void rt__lean_tls_conn_free(struct ssl_st *s);

/* Ciphertext from the network.  Returns 0 or RT_ENOMEM. */
int rt__lean_tls_feed(struct ssl_st *s, const void *p, size_t len);

/*
 * Move the handshake on.  Returns 1 once finished, 0 when it needs more
 * input, RT_ETLS with |detail| set ("TLS failure: certificate verify
 * failed: self-signed certificate").
 */
int rt__lean_tls_handshake(struct ssl_st *s, char *detail, size_t len);

/*
 * Plaintext into |buf|.  Returns the bytes read (> 0), 0 when the fed
 * input holds no more whole record, RT_ECLOSED after the peer's
 * close_notify, RT_ETLS with |detail| set.
 */
long rt__lean_tls_read(struct ssl_st *s, void *buf, size_t cap, char *detail,
                       size_t len);

/* Plaintext to send; its ciphertext waits for rt__lean_tls_out().
 * Returns 0, RT_ETLS. */
int rt__lean_tls_write(struct ssl_st *s, const void *p, size_t len);

/* Queue a close_notify. */
void rt__lean_tls_shutdown(struct ssl_st *s);

/* The ciphertext waiting to be sent; after sending it, call _out_done. */
size_t rt__lean_tls_out(struct ssl_st *s, const char **p);
void rt__lean_tls_out_done(struct ssl_st *s);

/* After a read was processed: give back an input buffer that grew. */
void rt__lean_tls_in_done(struct ssl_st *s);

#endif /* RT_LEAN_TLS_H */
