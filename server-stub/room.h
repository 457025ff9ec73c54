/*
 * room.h: the local half of a room, what one instance keeps whatever the
 * engine (engine.h): members, presence, the fan-out, and the cache of the
 * room's last --history messages that resumes and polls are served from.
 */
#ifndef RT_ROOM_H
#define RT_ROOM_H

#include <stdint.h>

#include "core_int.h"

typedef struct rt_server rt_server;
struct room;
struct conn;
struct smsg;

/*
 * The room |name|, created (with a fresh epoch) when |create|; NULL on no
 * memory or when absent.
 */
struct room *rt__room_get(rt_server *s, const char *name, int create);
/*
 * The room |name| for a connection or a publish, made if need be: 0 and
 * *out, RT_EEXHAUSTED when making it would pass --max-rooms (answer
 * too_many_rooms), RT_ENOMEM.
 */
int rt__room_open(rt_server *s, const char *name, struct room **out);
void rt__room_maybe_free(rt_server *s, struct room *r);
void rt__rooms_free(rt_server *s);
/* Give |m| the room's next seq and keep it in the history. */
int rt__room_store(rt_server *s, struct room *r, struct smsg *m);
/* Call fn for each held message with seq > since; returns how many. */
typedef int (*rt_room_iter_cb)(struct smsg *m, void *ud);
int rt__room_replay(struct room *r, uint64_t since, rt_room_iter_cb fn,
                    void *ud);
uint64_t rt__room_oldest(const struct room *r);
void rt__room_join(rt_server *s, struct room *r, struct conn *c);
/*
 * |c| left its room.  When it was the user's last connection and the peer
 * closed cleanly (c->clean_close) the user leaves at once; otherwise only
 * after --presence-timeout, so a reconnect is neither a leave nor a join.
 */
void rt__room_leave(rt_server *s, struct conn *c);
void rt__room_heard(rt_server *s, struct conn *c);
void rt__room_broadcast(rt_server *s, struct room *r, struct smsg *m,
                        const struct conn *except);
int rt__room_online_json(const struct room *r, rt_buf *b);
void rt__rooms_tick(rt_server *s);
/*
 * Send every room's waiting presence changes (the tick does), or one
 * room's: before anything else is sent to the room, so that order holds.
 */
void rt__presence_flush(rt_server *s);
void rt__room_presence_flush(struct room *r);
int rt__user_conns_add(rt_server *s, const char *user, int delta);

#endif /* RT_ROOM_H */
