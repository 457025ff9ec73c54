/*
 * rt/publish.h: publish one message over plain HTTP, on the loop.
 *
 * rt_publish() POSTs a client message (PROTOCOL.md section 3) to
 * /publish/{room} of our server through the rt_loop's curl multi handle,
 * without blocking the loop, and reports the answer once: the seq of a
 * 2xx ({"seq":N}), or the status, the error code and message of a refusal
 * ({"type":"error","data":{"code":...,"message":...}}), or the transport
 * failure that left no answer.  It makes one attempt: whether and when to
 * try again (Retry-After is handed back) is the caller's policy.
 *
 * Threads: every call happens on the thread running the rt_loop.
 */
#ifndef RT_PUBLISH_H
#define RT_PUBLISH_H

#include <stddef.h>
#include <stdint.h>

#include "rt/export.h"
#include "rt/loop.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rt_publish_req rt_publish_req;

typedef struct rt_publish_opts {
    const char *const *headers;  /* NULL-terminated "Name: value" lines */
    const char *cacert;          /* PEM file to trust; NULL: the system's */
    int insecure;                /* 1: do not check the certificate */
    uint64_t connect_timeout_ms; /* 10 s */
    uint64_t timeout_ms;         /* the whole request; 30 s */
} rt_publish_opts;

/* What became of one publish; valid while the callback runs. */
typedef struct rt_publish_result {
    int err;                 /* 0: the server answered; else why it did not */
    unsigned status;         /* the HTTP status; 0 with err */
    uint64_t seq;            /* a 2xx answer's seq; 0 when it had none */
    const char *code;        /* a refusal's data.code; "" when none */
    const char *message;     /* a refusal's data.message; "" when none */
    const char *retry_after; /* the Retry-After header; "" when none */
    const char *detail; /* a sentence: "HTTP 503: ...", "connection ..." */
} rt_publish_result;

/*
 * Called once with the outcome, unless rt_publish_cancel() came first;
 * |p| is freed when it returns.
 */
typedef void (*rt_publish_cb)(rt_publish_req *p, const rt_publish_result *r,
                              void *ud);

/*
 * Fill |o| with the defaults.
 *
 * Returns nothing.
 * See also: rt_publish().
 */
RT_EXTERN void rt_publish_opts_init(rt_publish_opts *o);

/*
 * POST |json|, |len| (a client message, sent as application/json) to
 * |url| (http:// or https://, e.g. http://host/publish/general).
 *
 * |out| receives the handle, for rt_publish_cancel(); may be NULL.
 * |o| the options; NULL for the defaults.
 * |cb| the outcome; required.
 *
 * Returns 0; RT_EINVAL (NULL arguments, a malformed header); RT_EURL (not
 * an http or https URL); RT_ENOMEM.
 * Ownership: |json|, |url| and the options are copied.
 * Callbacks: |cb| on a later loop turn, never from within this call.
 * See also: rt_publish_cancel(), rt_msg_encode_text().
 */
RT_EXTERN int rt_publish(rt_publish_req **out, rt_loop *loop, const char *url,
                         const char *json, size_t len,
                         const rt_publish_opts *o, rt_publish_cb cb, void *ud);

/*
 * Abandon the request: the transfer ends now and |cb| never fires.  Only
 * before |cb| has run; NULL is a no-op.
 *
 * Returns nothing.
 * Ownership: |p| is freed.
 * See also: rt_publish().
 */
RT_EXTERN void rt_publish_cancel(rt_publish_req *p);

#ifdef __cplusplus
}
#endif

#endif /* RT_PUBLISH_H */
