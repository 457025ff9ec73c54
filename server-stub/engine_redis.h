/*
 * engine_redis.h: the Redis storage engine of `rtctl serve --redis URL`
 * (engine.h's interface on redis.h's client).
 */
#ifndef RT_ENGINE_REDIS_H
#define RT_ENGINE_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

struct rt_buf; /* engine.h names it in a prototype */
#include "engine.h"

/*
 * An engine on |loop| for the Redis at |url| (redis.h's forms), keeping
 * |history| messages per room and expiring the users of an instance that
 * stopped refreshing them after |presence_ms|.  It connects at once and
 * keeps reconnecting; until it is up, operations answer
 * RT__ENG_UNAVAILABLE.  0; RT_EURL with a sentence in |err|; RT_ENOMEM.
 */
int rt__engine_redis_new(struct rt__engine **out, uv_loop_t *loop,
                         const char *url, unsigned history,
                         uint64_t presence_ms, char *err, size_t errlen);

#endif /* RT_ENGINE_REDIS_H */
