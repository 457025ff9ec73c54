/*
 * server_int.h: the shell of the server, what moves bytes between
 * libwebsockets on the libuv loop and the core (core.h): HTTP, WebSocket,
 * SSE, long-poll and TLS endpoints, the write path, the tick, metrics.
 */
#ifndef RT_SERVER_INT_H
#define RT_SERVER_INT_H

#include <sys/socket.h>

#include <libwebsockets.h>
#include <uv.h>

#include "core.h"

struct rt__shell {
    uv_loop_t *loop;
    struct lws_context *ctx;
    struct lws_context *ctx_dying; /* destroy begun; finish in _free */
    struct lws_vhost *vh;
    /*
     * The listening socket is ours, not lws's (gate.c); its poll handle
     * (allocated: it may have to close after the server is freed) is
     * stopped while accept() fails for want of descriptors.
     */
    uv_poll_t *listen;
    int listen_fd; /* -1 once closed */
    /* the peer of the socket being handed to lws, for limits.c */
    const struct sockaddr_storage *adopting;
    /* connections whose request head is still arriving, oldest first */
    struct gate *gates, *gates_last;
    uv_timer_t tick;
    uv_check_t flush;    /* writes queued frames once per turn */
    unsigned char *cork; /* RT_CORK_BYTES write buffer */
    lws_retry_bo_t retry;
    struct lws_protocols protocols[2];
    struct lws_extension exts[2];
};

/* server.c */
uint64_t rt__srv_now_ms(rt_server *s);
extern const struct rt__io rt__shell_io;

/* conn.c: the write path */
int rt__conn_write(struct conn *c);
void rt__conn_flush_all(rt_server *s);

/* ws.c */
int rt__ws_callback(struct lws *wsi, enum lws_callback_reasons reason,
                    struct conn *c, void *in, size_t len);
int rt__ws_confirm_upgrade(struct lws *wsi, struct conn *c);
void rt__ws_tick(rt_server *s);

/* http.c */
void rt__http_publish_attached(struct conn *c, struct room *r, int ok);
int rt__http_callback(struct lws *wsi, enum lws_callback_reasons reason,
                      struct conn *c, void *in, size_t len);
int rt__http_respond(struct conn *c, int status, const char *ctype,
                     const char *body, size_t len);
int rt__http_error(struct conn *c, int status, rt_msg_code code,
                   const char *message);
int rt__http_cors_headers(struct conn *c, unsigned char **p,
                          unsigned char *end);
int rt__http_arg(struct lws *wsi, const char *name, char *buf, size_t len);
int rt__http_arg_u64(struct lws *wsi, const char *name, uint64_t max,
                     uint64_t *out);
/* ?presence=: 1 when absent, 1 or 0 as given, -1 when neither. */
int rt__http_presence_arg(struct lws *wsi);
int rt__origin_listed(const rt_server *s, const char *origin);
int rt__request_origin(struct lws *wsi, char *buf, size_t len);

/* auth.c */
enum rt_auth_result {
    RT_AUTH_OK = 0,
    RT_AUTH_INVALID,
    RT_AUTH_EXPIRED,
    RT_AUTH_FORBIDDEN,
    RT_AUTH_NOT_YET
};
enum rt_auth_result rt__auth_check(rt_server *s, struct lws *wsi,
                                   const char *room, char *user,
                                   size_t userlen);
const char *rt__auth_reason(enum rt_auth_result r);
/*
 * Whether the request's token lets it see |room| (its rooms claim); 1
 * without auth.  For listings: /rooms shows only these.
 */
int rt__auth_room_visible(rt_server *s, struct lws *wsi, const char *room);
/* The user of an unauthenticated request: ?user= or anon-XXXXXX; -1 bad. */
int rt__auth_user(rt_server *s, struct lws *wsi, char *user, size_t len);

/* sse.c */
void rt__sse_attached(struct conn *c, struct room *r, int ok);
int rt__sse_writable(struct conn *c);
int rt__sse_start(struct conn *c, const char *room);
void rt__sse_tick(rt_server *s);

/* poll.c */
int rt__poll_start(struct conn *c, const char *room);
void rt__poll_attached(struct conn *c, struct room *r, int ok);
/* Close the waiting polls whose clients left (from the tick). */
/*
 * Look now and then whether the client of a connection lws does not read
 * (a waiting poll, an SSE stream) left: rt__conn_check_gone, every tick.
 */
void rt__conn_watch_gone(struct conn *c);
void rt__conn_check_gone(rt_server *s);

/*
 * gate.c: the listening socket and the check of request heads in front of
 * lws.  _listen binds and listens (errbuf says why not); _start watches
 * the socket once lws is there to take connections; _tick resumes a
 * paused accept and ends heads past --request-timeout; _stop stops
 * accepting and closes the connections still in the gate.
 */
int rt__gate_listen(rt_server *s, char *errbuf, size_t errlen);
void rt__gate_start(rt_server *s);
void rt__gate_tick(rt_server *s);
void rt__gate_stop(rt_server *s);

/*
 * limits.c: --max-address-connections.  A connection counts against its
 * address under a key (the gate's, then its wsi) from _add to _del.
 */
struct sockaddr;
int rt__peer_allowed(rt_server *s, const struct sockaddr *sa);
void rt__peer_add(rt_server *s, const void *key, const struct sockaddr *sa);
void rt__peer_del(rt_server *s, const void *key);
void rt__peers_free(rt_server *s);
void rt__http_tick(rt_server *s);

#endif /* RT_SERVER_INT_H */
