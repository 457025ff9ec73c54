/*
 * rt/ws_codec.h: a sans-I/O WebSocket codec (RFC 6455) for programs that
 * move the bytes themselves: the client opening handshake (request and
 * response check), frames parsed in place (many per read, payload
 * unmasked where it lies), frames built with or without a mask, and the
 * close and ping rules.  `rtctl load` drives it over raw libuv streams.
 *
 * The builder writes whatever it is asked for, valid or not (reserved
 * bits, unknown opcodes, fragmented control frames, a length in a longer
 * form than needed), so a conformance prober can use it; the parser is
 * strict unless told otherwise.
 *
 * Nothing here allocates.  Threads: any; the functions share no state.
 */
#ifndef RT_WS_CODEC_H
#define RT_WS_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "rt/export.h"
#include "rt/http_resp.h"

#ifdef __cplusplus
extern "C" {
#endif

enum rt_ws_opcode {
    RT_WS_OP_CONT = 0x0,
    RT_WS_OP_TEXT = 0x1,
    RT_WS_OP_BINARY = 0x2,
    RT_WS_OP_CLOSE = 0x8,
    RT_WS_OP_PING = 0x9,
    RT_WS_OP_PONG = 0xA
};

/* Sizes of the handshake's base64 strings, NUL not counted. */
#define RT_WS_KEY_LEN 24
#define RT_WS_ACCEPT_LEN 28
/* Longest frame header: 2 + 8 (length) + 4 (mask). */
#define RT_WS_MAX_HEADER 14
/* Largest control frame payload. */
#define RT_WS_MAX_CONTROL 125

/*
 * The Sec-WebSocket-Key for 16 bytes of |nonce| (the caller's random
 * bytes), base64: RT_WS_KEY_LEN characters and a NUL into |out|.
 */
RT_EXTERN void rt_ws_key_encode(const uint8_t nonce[16],
                                char out[RT_WS_KEY_LEN + 1]);

/*
 * The Sec-WebSocket-Accept a server must answer to |key| (RFC 6455 4.2.2:
 * base64 of SHA-1 of the key and the GUID), with a NUL, into |out|.
 *
 * Returns 0, RT_EINVAL (|key| empty or over 64 bytes).
 */
RT_EXTERN int rt_ws_accept(const char *key, size_t key_len,
                           char out[RT_WS_ACCEPT_LEN + 1]);

/*
 * Write a client's upgrade request into |out| (|cap| bytes, NUL added):
 * GET |path| (with its query), Host |host| (with ":port" when needed),
 * the key, version 13, and |extra| verbatim when not NULL (whole header
 * lines, each ending in CRLF).
 *
 * Returns the request's length (the NUL not counted), or RT_EFULL when it
 * does not fit, RT_EINVAL when |path| or |host| holds a CR, LF or space.
 */
RT_EXTERN int rt_ws_handshake_request(char *out, size_t cap, const char *host,
                                      const char *path, const char *key,
                                      const char *extra);

/*
 * Check a server's answer to an upgrade request made with |key|: status
 * 101, Upgrade: websocket, Connection: upgrade, the right accept value,
 * no extension or subprotocol the client did not offer (it offers none).
 * On failure, a sentence in |errbuf| ("HTTP 403 Forbidden", "wrong
 * Sec-WebSocket-Accept").
 *
 * Returns 0, RT_EHTTP (not 101), RT_EHANDSHAKE (a 101 that is wrong).
 */
RT_EXTERN int rt_ws_handshake_check(const rt_http_head *h, const char *key,
                                    char *errbuf, size_t errlen);

/* A frame to build.  Fill with rt_ws_frame_spec_init() first. */
typedef struct rt_ws_frame_spec {
    int fin;           /* 1: last fragment */
    unsigned rsv;      /* RSV1..3 as bits 2..0 */
    unsigned opcode;   /* 0 to 15, any */
    int masked;        /* 1: a client frame */
    uint8_t mask[4];   /* the masking key when masked */
    unsigned len_form; /* 0: shortest; 7, 16 or 64: force that form */
} rt_ws_frame_spec;

/* fin 1, rsv 0, |opcode|, masked with the all-zero key, shortest form. */
RT_EXTERN void rt_ws_frame_spec_init(rt_ws_frame_spec *s, unsigned opcode);

/*
 * Build one frame of |len| payload bytes into |out| (|cap| bytes), masked
 * when the spec says so.  |out| and |payload| may not overlap.
 *
 * Returns the frame's size, RT_EFULL when |cap| is too small, RT_EINVAL
 * when len_form cannot hold |len| or is not 0, 7, 16 or 64, or |opcode|
 * or |rsv| is out of range.
 */
RT_EXTERN int64_t rt_ws_frame_build(uint8_t *out, size_t cap,
                                    const rt_ws_frame_spec *s,
                                    const void *payload, size_t len);

/* Size of the header rt_ws_frame_build() writes for |s| and |len|. */
RT_EXTERN size_t rt_ws_frame_header_len(const rt_ws_frame_spec *s,
                                        uint64_t len);

/* XOR |len| bytes of |p| with |mask|, starting at mask offset |off|. */
RT_EXTERN void rt_ws_mask(uint8_t *p, size_t len, const uint8_t mask[4],
                          size_t off);

/* What the parser expects; a caller-owned value, nothing to free. */
typedef struct rt_ws_parser {
    uint64_t max_payload; /* longest payload of one frame */
    int server_side;      /* 1: frames must be masked; 0: must not be */
    int lenient;          /* 1: report frames, check nothing but sizes */
    unsigned frag_op;     /* opcode of the message being fragmented, 0 */
} rt_ws_parser;

/* One parsed frame; |payload| points into the parsed buffer. */
typedef struct rt_ws_frame {
    int fin;
    unsigned rsv;
    unsigned opcode;
    int masked;
    uint8_t mask[4];
    uint8_t *payload; /* unmasked in place */
    uint64_t len;
    /*
     * After an incomplete parse: the whole frame's size once its header
     * is in (so a caller can make room), else 0.  After an error: the
     * close code to send (1002 protocol error, 1009 too big).
     */
    uint64_t need;
    unsigned close_code;
} rt_ws_frame;

/*
 * Set |p| for a client (|server_side| 0) or a server, with frames of at
 * most |max_payload| bytes.
 */
RT_EXTERN void rt_ws_parser_init(rt_ws_parser *p, int server_side,
                                 uint64_t max_payload);

/*
 * Parse one frame at the start of |buf| (|len| bytes).  When it is whole,
 * *|used| is its size and |f| describes it, its payload unmasked in place;
 * when it is not, *|used| is 0 and f->need says how much the whole frame
 * takes when that is known.  Call again on buf + *used for the next frame.
 *
 * Strict checks: reserved bits clear, a known opcode, control frames
 * unfragmented and at most 125 bytes, the shortest length form, the mask
 * bit as |server_side| requires, continuation frames only inside a
 * fragmented message and data frames only outside one, a close payload
 * not of length 1.
 *
 * Returns 0, RT_EPROTO (a rule broken; f->close_code 1002), RT_ETOOBIG
 * (over max_payload; f->close_code 1009).  Not sticky: the caller is
 * expected to close the connection.
 */
RT_EXTERN int rt_ws_parse(rt_ws_parser *p, uint8_t *buf, size_t len,
                          rt_ws_frame *f, size_t *used);

/*
 * Read a close frame's payload: |code| 1005 when it is empty; |reason|
 * and |reason_len| the UTF-8 text after the code.
 *
 * Returns 0, RT_EPROTO (length 1, a code that may not be sent, a reason
 * that is not UTF-8).
 */
RT_EXTERN int rt_ws_close_parse(const uint8_t *payload, size_t len,
                                unsigned *code, const char **reason,
                                size_t *reason_len);

/*
 * Write a close payload (code, then at most 123 bytes of |reason|, cut
 * there) into |out|, which holds RT_WS_MAX_CONTROL bytes.  |code| 0
 * writes an empty payload.  Returns its length.
 */
RT_EXTERN size_t rt_ws_close_payload(uint8_t *out, unsigned code,
                                     const char *reason, size_t reason_len);

/*
 * The frame a client answers |f| with: a pong with the ping's payload,
 * or a close that echoes the peer's code (1000 for an empty one), masked
 * with |mask|.  Built into |out| (|cap| bytes).
 *
 * Returns the frame's size, 0 when |f| needs no answer (data, pong),
 * RT_EFULL.
 */
RT_EXTERN int64_t rt_ws_control_reply(const rt_ws_frame *f,
                                      const uint8_t mask[4], uint8_t *out,
                                      size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* RT_WS_CODEC_H */
