/*
 * rt/msg.h: the JSON message codec of the rtctl wire protocol.
 *
 * Every WebSocket frame is one JSON object, the envelope
 * {"type":..,"id":..,"room":..,"seq":..,"data":{..},"timestamp":..}
 * (PROTOCOL.md sections 3 to 5).  rt_msg_parse() checks a frame against the
 * protocol and turns it into an rt_msg; rt_msg_encode() writes one back in
 * compact form.  The server uses the codec to validate what clients send
 * and to encode each broadcast once; the client library uses it to read
 * what the server sends.
 *
 * What the parser accepts, beyond RFC 8259:
 * - Input is bounded before anything else: over |max_bytes| is too_large.
 *   A single linear pass then checks the JSON grammar, the nesting depth
 *   (so deep input never recurses), UTF-8 and string escapes before the
 *   bytes reach the JSON tree builder.  Too deep is bad_json, not
 *   too_large: the frame is within the byte limit, the scan that rejects
 *   it is linear and cheap, so there is no reason to close the connection
 *   (too_large closes it with 1009); the sender just used a shape we do
 *   not accept.
 * - Input need not be NUL-terminated; only JSON whitespace may follow the
 *   object.  A byte order mark, raw control characters in strings,
 *   ill-formed UTF-8, lone surrogate escapes and numbers longer than 63
 *   characters are bad_json.
 * - A string holding U+0000 (written \u0000) anywhere in the frame is
 *   bad_message: the protocol's strings are C strings here, and silently
 *   cutting them short would let two readers disagree.
 * - A member the codec reads (type, id, room, seq, data, timestamp at the
 *   top level; content, state, event, user, ... in data) must appear once;
 *   a duplicate is bad_message, so no reader can pick a different copy
 *   than the server did.  Duplicates among other members, and anywhere
 *   deeper, are kept as they came in the raw data.
 * - Unknown top-level members are ignored and not re-encoded; unknown
 *   members of data are kept in the raw data.
 * - seq (and every other counter: data.seq, from, to) must be an integer
 *   from 0 to 2^53 - 1.  JSON numbers are read as IEEE doubles, which hold
 *   every integer only up to 2^53, so a larger value could not be read
 *   back exactly; it is bad_message, as are negative and fractional ones.
 *   Integral spellings such as 1.0 or 1e3 are accepted as 1 and 1000.
 * - timestamp is a number of seconds from 0 to 99999999999.999; encoding
 *   rounds it to the millisecond.
 *
 * Threads: every call works only on its arguments; distinct messages may
 * be used from distinct threads.  rt_set_allocators() must not run
 * concurrently (cJSON's hooks are global).
 */
#ifndef RT_MSG_H
#define RT_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "rt/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Message types (PROTOCOL.md section 3). */
typedef enum rt_msg_type {
    RT_MSG_TEXT,
    RT_MSG_PRESENCE,
    RT_MSG_TYPING,
    RT_MSG_SYSTEM,
    RT_MSG_ERROR,
    RT_MSG_ACK
} rt_msg_type;

/* Who sent the frame, which decides the rules it is checked against. */
typedef enum rt_msg_dir { RT_MSG_FROM_CLIENT, RT_MSG_FROM_SERVER } rt_msg_dir;

/* XX(NAME, "wire name"): the error codes of PROTOCOL.md section 5. */
#define RT_MSG_CODE_MAP(XX)                          \
    XX(BAD_JSON, "bad_json")                         \
    XX(BAD_MESSAGE, "bad_message")                   \
    XX(TOO_LARGE, "too_large")                       \
    XX(RATE_LIMITED, "rate_limited")                 \
    XX(ROOM_FULL, "room_full")                       \
    XX(TOO_MANY_CONNECTIONS, "too_many_connections") \
    XX(UNAUTHORIZED, "unauthorized")                 \
    XX(FORBIDDEN, "forbidden")                       \
    XX(SLOW_CONSUMER, "slow_consumer")               \
    XX(TOO_MANY_ROOMS, "too_many_rooms")             \
    XX(UNAVAILABLE, "unavailable")

typedef enum rt_msg_code {
    RT_MSG_CODE_NONE = 0, /* no protocol error, or a name we do not know */
#define RT_MSG_XX_(name, str) RT_MSG_CODE_##name,
    RT_MSG_CODE_MAP(RT_MSG_XX_)
#undef RT_MSG_XX_
        RT_MSG_CODE_COUNT_
} rt_msg_code;

/* Why rt_msg_parse() refused a frame. */
typedef struct rt_msg_error {
    rt_msg_code code;  /* what to send back; NONE for RT_ENOMEM, RT_EINVAL */
    char message[128]; /* English detail, e.g. "data.content: not a string" */
} rt_msg_error;

/* Hard cap on rt_msg_limits.max_depth (cJSON's own nesting limit). */
#define RT_MSG_MAX_DEPTH 1000

typedef struct rt_msg_limits {
    size_t max_bytes;    /* longest frame; 65536 */
    unsigned max_depth;  /* nested objects and arrays; 32, at most 1000 */
    size_t max_id_bytes; /* longest "id" string in bytes; 128 */
} rt_msg_limits;

/* data.event of a presence message; REQUEST is the client's "{}". */
typedef enum rt_msg_presence_event {
    RT_MSG_PRESENCE_REQUEST,
    RT_MSG_PRESENCE_JOIN,
    RT_MSG_PRESENCE_LEAVE,
    RT_MSG_PRESENCE_SNAPSHOT
} rt_msg_presence_event;

/* data.event of a system message; OTHER has only the raw data. */
typedef enum rt_msg_system_event {
    RT_MSG_SYSTEM_OTHER,
    RT_MSG_SYSTEM_WELCOME,
    RT_MSG_SYSTEM_RESUMED
} rt_msg_system_event;

/*
 * One message.  Absent strings are NULL.  |data| is the data object as
 * JSON text (NUL-terminated, |data_len| bytes): after a parse, the
 * sender's own bytes with the whitespace between tokens removed, so
 * numbers and escapes are exactly as sent; never NULL ("{}" when the frame
 * had no data).  The union |u| is a typed
 * view of the members of |data| the protocol defines, chosen by |type| (and
 * for system by u.system.event): text -> u.text, ack -> u.ack, typing ->
 * u.typing, presence -> u.presence, system -> u.system, error -> u.error.
 * User names in views match [A-Za-z0-9._-]{1,64} when they come from a
 * server (PROTOCOL.md section 2).
 *
 * A message from rt_msg_parse() or rt_msg_dup() owns all its strings: they
 * live in the same allocation as the struct, so never free one.  Fields
 * may be reassigned (a server sets room, seq and timestamp on a parsed
 * frame before encoding the broadcast); rt_msg_free() releases only the
 * block, and a string put in by the caller stays the caller's.  A message
 * built by the caller on the stack for rt_msg_encode() just points at the
 * caller's strings.
 */
typedef struct rt_msg {
    rt_msg_type type;
    const char *id;
    const char *room;
    int has_seq;
    uint64_t seq;
    int has_timestamp;
    double timestamp; /* Unix seconds */
    const char *data;
    size_t data_len;
    union {
        struct {
            const char *content;
        } text;
        struct {
            const char *status; /* "delivered" */
            int has_seq;
            uint64_t seq;
        } ack;
        struct {
            const char *user; /* NULL when absent (a client's frame) */
            int state;        /* 0 or 1 */
        } typing;
        struct {
            rt_msg_presence_event event;
            const char *user;   /* join, leave */
            const char *reason; /* leave: "closed", "timeout"; may be NULL */
            const char *const *online; /* snapshot */
            size_t n_online;
        } presence;
        struct {
            rt_msg_system_event event;
            struct {
                const char *user;
                const char *epoch;
                uint64_t seq;
                const char *const *online;
                size_t n_online;
                unsigned ping_interval; /* seconds; 0 when absent */
                /*
                 * a large room's count of users online, its "online"
                 * list left empty; has_online_count 0 when absent
                 */
                int has_online_count;
                uint64_t online_count;
            } welcome;
            struct {
                uint64_t from;
                uint64_t to;
                int recovered;
            } resumed;
        } system;
        struct {
            rt_msg_code code; /* NONE for a code this version does not know */
            const char *message; /* may be NULL */
        } error;
    } u;
} rt_msg;

/*
 * Fill |lim| with the defaults: 64 KiB frames, depth 32, ids of 128 bytes.
 *
 * |lim| the limits to initialise; the caller may change fields afterwards.
 *
 * Returns nothing.
 * Ownership: |lim| stays the caller's.
 * Callbacks: none.
 * See also: rt_msg_parse().
 */
RT_EXTERN void rt_msg_limits_init(rt_msg_limits *lim);

/*
 * Zero |m| and set its type, to build a message for rt_msg_encode().
 *
 * |m| the caller's message; |type| its type.
 *
 * Returns nothing.
 * Ownership: |m| stays the caller's; never pass it to rt_msg_free().
 * Callbacks: none.
 * See also: rt_msg_encode().
 */
RT_EXTERN void rt_msg_init(rt_msg *m, rt_msg_type type);

/*
 * Parse and validate one frame.
 *
 * |out| receives the message; untouched on failure.
 * |json|, |len| the frame; need not be NUL-terminated.  NULL is allowed
 *     when |len| is 0.
 * |dir| RT_MSG_FROM_CLIENT accepts text (data.content a string), typing
 *     (data.state a boolean) and presence; RT_MSG_FROM_SERVER accepts all
 *     six types and checks their data as PROTOCOL.md sections 3 to 5
 *     describe (system events other than welcome and resumed are accepted
 *     with just their raw data).
 * |lim| the limits; NULL means rt_msg_limits_init()'s defaults, and a
 *     field left 0 takes its default.
 * |err| receives the section 5 code and a detail message on RT_EPROTO and
 *     RT_ETOOBIG; may be NULL.
 *
 * Returns 0; RT_ETOOBIG when |len| is over max_bytes (code too_large);
 * RT_EPROTO for anything else malformed (code bad_json when the frame is
 * not one acceptable JSON object, bad_message when it is but breaks the
 * protocol); RT_ENOMEM; RT_EINVAL for a NULL |out| or |json|.
 * Ownership: the caller owns *out and frees it with rt_msg_free().
 * Callbacks: none.
 * See also: rt_msg_encode(), rt_msg_free().
 */
RT_EXTERN int rt_msg_parse(rt_msg **out, const char *json, size_t len,
                           rt_msg_dir dir, const rt_msg_limits *lim,
                           rt_msg_error *err);

/*
 * Write |m| as a compact envelope, members in the order type, id, room,
 * seq, data, timestamp, leaving out the absent ones.  seq is written as
 * an integer, timestamp with exactly three decimals.  When |m->data| is
 * set it is written as it is (it must be one JSON object, as a parse
 * leaves it); when it is NULL the data object is built from the typed
 * view u.* (so a server can fill u.system.welcome and encode), "{}" for
 * a presence request.
 *
 * |m| the message.
 * |out|, |len| receive the NUL-terminated text and its length.
 *
 * Returns 0; RT_ENOMEM; RT_EINVAL for a NULL argument, an unknown type,
 * a room outside [A-Za-z0-9._-]{1,64}, a seq or timestamp out of the
 * ranges above, |data| that does not look like an object, or (building
 * from the view) a missing required string, a bad user name or epoch, or
 * a system message with event OTHER and no data.
 * Ownership: the caller frees *out with rt_free(); |m| is only read.
 * Callbacks: none.
 * See also: rt_msg_parse(), rt_msg_encode_error(), rt_msg_encode_ack().
 */
RT_EXTERN int rt_msg_encode(const rt_msg *m, char **out, size_t *len);

/*
 * Encode an error frame {"type":"error","id":ID,"data":{"code":..,
 * "message":..}}.
 *
 * |code| any code but RT_MSG_CODE_NONE.
 * |id| the id of the frame that caused it; NULL leaves "id" out.
 * |message| human-readable detail; NULL writes "".
 * |out|, |len| receive the text.
 *
 * Returns 0; RT_ENOMEM; RT_EINVAL for a bad |code| or NULL |out|, |len|.
 * Ownership: the caller frees *out with rt_free().
 * Callbacks: none.
 * See also: rt_msg_encode(), rt_msg_code_name().
 */
RT_EXTERN int rt_msg_encode_error(rt_msg_code code, const char *id,
                                  const char *message, char **out,
                                  size_t *len);

/*
 * Encode the acknowledgement of a stored message,
 * {"type":"ack","id":ID,"data":{"status":"delivered","seq":N}}.
 *
 * |id| the client's message id; NULL leaves "id" out.
 * |seq| the seq the message was stored under, at most 2^53 - 1.
 * |out|, |len| receive the text.
 *
 * Returns 0; RT_ENOMEM; RT_EINVAL for a seq out of range or NULL |out|,
 * |len|.
 * Ownership: the caller frees *out with rt_free().
 * Callbacks: none.
 * See also: rt_msg_encode().
 */
RT_EXTERN int rt_msg_encode_ack(const char *id, uint64_t seq, char **out,
                                size_t *len);

/*
 * Encode a client's text message,
 * {"type":"text","id":ID,"data":{"content":CONTENT}}.
 *
 * |id| the message id; NULL leaves "id" out.
 * |content| the text, NUL-terminated UTF-8 (not checked here).
 * |out|, |len| receive the text.
 *
 * Returns 0; RT_ENOMEM; RT_EINVAL for a NULL |content|, |out| or |len|.
 * Ownership: the caller frees *out with rt_free().
 * Callbacks: none.
 * See also: rt_msg_encode().
 */
RT_EXTERN int rt_msg_encode_text(const char *id, const char *content,
                                 char **out, size_t *len);

/*
 * Encode a typing notice, {"type":"typing","room":ROOM,"data":{"user":USER,
 * "state":STATE}}: a client's (|room| and |user| NULL, left out) or the
 * server's broadcast.
 *
 * Returns 0; RT_ENOMEM; RT_EINVAL for a bad |room| or NULL |out|, |len|.
 * Ownership: the caller frees *out with rt_free().
 * Callbacks: none.
 * See also: rt_msg_encode().
 */
RT_EXTERN int rt_msg_encode_typing(const char *room, const char *user,
                                   int state, char **out, size_t *len);

/*
 * Deep-copy a message, e.g. to keep one past a callback.
 *
 * |out| receives the copy.
 * |m| a parsed message or one the caller built; every string it points at
 *     is copied.
 *
 * Returns 0; RT_ENOMEM; RT_EINVAL for a NULL argument.
 * Ownership: the caller frees *out with rt_msg_free().
 * Callbacks: none.
 * See also: rt_msg_free().
 */
RT_EXTERN int rt_msg_dup(rt_msg **out, const rt_msg *m);

/*
 * Free a message from rt_msg_parse() or rt_msg_dup(); NULL is a no-op.
 *
 * Returns nothing.
 * Ownership: |m| and all its strings are gone after the call.
 * Callbacks: none.
 * See also: rt_msg_parse(), rt_msg_dup().
 */
RT_EXTERN void rt_msg_free(rt_msg *m);

/*
 * Name a message type as it is spelled on the wire ("text", "ack").
 *
 * Returns a static string; "unknown" for a value outside the enum.
 * Ownership: none.  Callbacks: none.
 * See also: rt_msg_code_name().
 */
RT_EXTERN const char *rt_msg_type_name(rt_msg_type type);

/*
 * Name an error code as it is spelled on the wire ("bad_json").
 *
 * Returns a static string; "unknown" for RT_MSG_CODE_NONE and values
 * outside the enum.
 * Ownership: none.  Callbacks: none.
 * See also: rt_msg_code_from_name().
 */
RT_EXTERN const char *rt_msg_code_name(rt_msg_code code);

/*
 * Look up an error code by its wire name, exactly (case matters).
 *
 * |name| a NUL-terminated name; NULL is allowed.
 *
 * Returns the code; RT_MSG_CODE_NONE for a name that is not in the table.
 * Ownership: none.  Callbacks: none.
 * See also: rt_msg_code_name().
 */
RT_EXTERN rt_msg_code rt_msg_code_from_name(const char *name);

#ifdef __cplusplus
}
#endif

#endif /* RT_MSG_H */
