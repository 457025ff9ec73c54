/*
 * rt/error.h: the one error table of librtctl.
 *
 * Every fallible function returns 0 (RT_OK) or a negative RT_E* code.  The
 * table is generated from RT_ERRNO_MAP so that the enum, rt_strerror() and
 * rt_err_name() can never drift apart (the libuv UV_ERRNO_MAP pattern).
 *
 * Threads: every function here is pure and may be called from any thread.
 */
#ifndef RT_ERROR_H
#define RT_ERROR_H

#include "rt/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* XX(NAME, message) */
#define RT_ERRNO_MAP(XX)                           \
    XX(NOMEM, "out of memory")                     \
    XX(INVAL, "invalid argument")                  \
    XX(PROTO, "protocol error")                    \
    XX(URL, "malformed URL")                       \
    XX(DNS, "could not resolve host")              \
    XX(CONNREFUSED, "connection refused")          \
    XX(TLS, "TLS failure")                         \
    XX(HTTP, "unexpected HTTP status")             \
    XX(HANDSHAKE, "handshake refused")             \
    XX(CLOSED, "connection closed")                \
    XX(TIMEDOUT, "timed out")                      \
    XX(EXHAUSTED, "retries exhausted")             \
    XX(DUP, "duplicate message")                   \
    XX(GAP, "gap in sequence")                     \
    XX(CANCELED, "canceled")                       \
    XX(STATE, "operation not valid in this state") \
    XX(TOOBIG, "input exceeds a configured limit") \
    XX(FULL, "buffer is full")                     \
    XX(RANGE, "value out of range")                \
    XX(BADSIG, "signature does not match")         \
    XX(EXPIRED, "token expired")

typedef enum rt_err {
    RT_OK = 0,
#define RT_XX_(name, msg) RT_E##name,
    RT__EFIRST_ = -1000,
    RT_ERRNO_MAP(RT_XX_)
#undef RT_XX_
        RT__ELAST_
} rt_err;

/*
 * The codes above are allocated from -999 upwards so that the table order is
 * the declaration order; their values are part of the ABI and never reused.
 */

/*
 * Describe an error code in a short English phrase.
 *
 * |err| a value returned by any rt_* function.
 *
 * Returns a static string; "unknown error" for values outside the table.
 */
RT_EXTERN const char *rt_strerror(int err);

/*
 * Name an error code as its enum spelling without the RT_E prefix
 * ("NOMEM", "PROTO"), for logs and JSON output.
 *
 * Returns a static string; "UNKNOWN" for values outside the table.
 */
RT_EXTERN const char *rt_err_name(int err);

/*
 * Tell whether a failure is worth another attempt with backoff (a refused
 * connection, a timeout, a dropped stream) or ends the client (a bad URL, a
 * refused handshake, out of memory).  RT_ENOMEM is never retryable.
 */
RT_EXTERN int rt_err_is_retryable(int err);

#ifdef __cplusplus
}
#endif

#endif /* RT_ERROR_H */
