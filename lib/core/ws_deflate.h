/*
 * ws_deflate.h: permessage-deflate (RFC 7692) for a WebSocket client,
 * sans I/O, on zlib.  Private to the library.
 *
 * The client offers RT__PMD_OFFER; rt__pmd_accept() reads the server's
 * answer (the Sec-WebSocket-Extensions value) and keeps what it agreed:
 * context takeover on either side, the window our compressor may use.
 * Then each message whose first frame has RSV1 set goes through
 * rt__pmd_inflate() frame by frame, and each message sent through
 * rt__pmd_deflate().
 */
#ifndef RT_WS_DEFLATE_H
#define RT_WS_DEFLATE_H

#include <stddef.h>
#include <stdint.h>

#include "core_int.h"

/* The offer: the server picks our window (RFC 7692 7.1.2.2). */
#define RT__PMD_OFFER "permessage-deflate; client_max_window_bits"

typedef struct rt__pmd rt__pmd;

/*
 * Read the server's answer |v| (|len| bytes, one extension with its
 * parameters).  Returns 0 with *out made, RT_EHANDSHAKE with |detail| set
 * (another extension, an unknown or repeated parameter, a bad window
 * size), RT_ENOMEM.
 */
int rt__pmd_accept(rt__pmd **out, const char *v, size_t len, char *detail,
                   size_t dlen);

/* rt__pmd_free(NULL) is a no-op. */
void rt__pmd_free(rt__pmd *d);

/*
 * Inflate one frame's payload of a compressed message; |fin| 1 on the
 * message's last frame.  The output goes to |emit| in pieces, |last| 1 on
 * the message's last piece (which may be empty).  |limit| bounds the
 * message's inflated size.
 * Returns 0, RT_ETOOBIG (over |limit|: a bomb stops there), RT_EPROTO (not
 * deflate data), RT_ENOMEM.  After an error the connection must end.
 */
int rt__pmd_inflate(rt__pmd *d, const uint8_t *p, size_t len, int fin,
                    uint64_t limit,
                    void (*emit)(void *ud, const char *p, size_t n, int last),
                    void *ud);

/*
 * Compress a whole message into |out| (cleared first).  Returns 1 when
 * |out| holds it compressed (send it with RSV1), 0 when it must go as it
 * is (the server asked for a window of 8 bits, which zlib cannot keep to),
 * RT_ENOMEM.
 */
int rt__pmd_deflate(rt__pmd *d, const void *p, size_t len, rt_buf *out);

#endif /* RT_WS_DEFLATE_H */
