/*
 * ws_int.h: what ws_client.c and ws_ctx.c share.
 */
#ifndef RT_WS_INT_H
#define RT_WS_INT_H

#include <libwebsockets.h>

/* The lws protocol callback of every client connection (ws_client.c). */
int rt__wsc_callback(struct lws *wsi, enum lws_callback_reasons reason,
                     void *user, void *in, size_t len);

#endif /* RT_WS_INT_H */
