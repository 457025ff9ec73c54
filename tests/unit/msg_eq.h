/*
 * msg_eq.h: compare two rt_msg field by field (header-only, no cmocka), for
 * test_msg_codec.c and fuzz/fuzz_msg_codec.c.
 *
 * msg_diff() is the one definition of "the same message": equal envelope
 * (type, id, room, seq, timestamp to the millisecond), equal typed view,
 * and with |with_data| equal raw data bytes.  It names the first field
 * that differs so that a unit test can say which.
 */
#ifndef RT_TEST_MSG_EQ_H
#define RT_TEST_MSG_EQ_H

#include <stdint.h>
#include <string.h>

#include "rt/msg.h"

static inline int str_eq(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

static inline int list_eq(const char *const *a, size_t na,
                          const char *const *b, size_t nb)
{
    size_t i;

    if (na != nb)
        return 0;
    for (i = 0; i < na; i++)
        if (!str_eq(a[i], b[i]))
            return 0;
    return 1;
}

/* A timestamp in whole milliseconds, as the codec rounds it. */
static inline uint64_t ms_of(double ts)
{
    return (uint64_t)(ts * 1000.0 + 0.5);
}

/* NULL when |a| and |b| are the same message, else the field that differs. */
static inline const char *msg_diff(const rt_msg *a, const rt_msg *b,
                                   int with_data)
{
#define MSG_EQ_(cond, field) \
    do {                     \
        if (!(cond))         \
            return field;    \
    } while (0)
    MSG_EQ_(a->type == b->type, "type");
    MSG_EQ_(str_eq(a->id, b->id), "id");
    MSG_EQ_(str_eq(a->room, b->room), "room");
    MSG_EQ_(a->has_seq == b->has_seq && a->seq == b->seq, "seq");
    MSG_EQ_(
        a->has_timestamp == b->has_timestamp &&
            (!a->has_timestamp || ms_of(a->timestamp) == ms_of(b->timestamp)),
        "timestamp");
    MSG_EQ_(!with_data || (a->data_len == b->data_len &&
                           memcmp(a->data, b->data, a->data_len) == 0),
            "data");
    switch (a->type) {
    case RT_MSG_TEXT:
        MSG_EQ_(str_eq(a->u.text.content, b->u.text.content),
                "u.text.content");
        break;
    case RT_MSG_ACK:
        MSG_EQ_(str_eq(a->u.ack.status, b->u.ack.status), "u.ack.status");
        MSG_EQ_(a->u.ack.has_seq == b->u.ack.has_seq &&
                    a->u.ack.seq == b->u.ack.seq,
                "u.ack.seq");
        break;
    case RT_MSG_TYPING:
        MSG_EQ_(str_eq(a->u.typing.user, b->u.typing.user), "u.typing.user");
        MSG_EQ_(a->u.typing.state == b->u.typing.state, "u.typing.state");
        break;
    case RT_MSG_PRESENCE:
        MSG_EQ_(a->u.presence.event == b->u.presence.event,
                "u.presence.event");
        MSG_EQ_(str_eq(a->u.presence.user, b->u.presence.user),
                "u.presence.user");
        MSG_EQ_(str_eq(a->u.presence.reason, b->u.presence.reason),
                "u.presence.reason");
        MSG_EQ_(list_eq(a->u.presence.online, a->u.presence.n_online,
                        b->u.presence.online, b->u.presence.n_online),
                "u.presence.online");
        break;
    case RT_MSG_SYSTEM:
        MSG_EQ_(a->u.system.event == b->u.system.event, "u.system.event");
        if (a->u.system.event == RT_MSG_SYSTEM_WELCOME) {
            MSG_EQ_(str_eq(a->u.system.welcome.user, b->u.system.welcome.user),
                    "u.system.welcome.user");
            MSG_EQ_(
                str_eq(a->u.system.welcome.epoch, b->u.system.welcome.epoch),
                "u.system.welcome.epoch");
            MSG_EQ_(a->u.system.welcome.seq == b->u.system.welcome.seq,
                    "u.system.welcome.seq");
            MSG_EQ_(list_eq(a->u.system.welcome.online,
                            a->u.system.welcome.n_online,
                            b->u.system.welcome.online,
                            b->u.system.welcome.n_online),
                    "u.system.welcome.online");
            MSG_EQ_(a->u.system.welcome.ping_interval ==
                        b->u.system.welcome.ping_interval,
                    "u.system.welcome.ping_interval");
        } else if (a->u.system.event == RT_MSG_SYSTEM_RESUMED) {
            MSG_EQ_(a->u.system.resumed.from == b->u.system.resumed.from &&
                        a->u.system.resumed.to == b->u.system.resumed.to &&
                        a->u.system.resumed.recovered ==
                            b->u.system.resumed.recovered,
                    "u.system.resumed");
        }
        break;
    case RT_MSG_ERROR:
        MSG_EQ_(a->u.error.code == b->u.error.code, "u.error.code");
        MSG_EQ_(str_eq(a->u.error.message, b->u.error.message),
                "u.error.message");
        break;
    default:
        return "type (unknown)";
    }
    return NULL;
#undef MSG_EQ_
}

#endif /* RT_TEST_MSG_EQ_H */
