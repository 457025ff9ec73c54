/*
 * fuzz_ws_codec.c: libFuzzer target for the WebSocket codec and the HTTP
 * response reader (lib/core/ws_codec.c, lib/core/http_resp.c).
 *
 * The first byte picks the mode: bit 0 server side, bit 1 lenient, bit 2
 * the input is an HTTP response head followed by frames (as a client
 * reads it after its upgrade request).  The rest is parsed frame after
 * frame as `rtctl load` does; every parsed frame is checked to lie inside
 * the input, and control frames are answered into a bounded buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rt/http_resp.h"
#include "rt/ws_codec.h"

static int on_head(const rt_http_head *h, void *ud)
{
    char err[64];

    (void)ud;
    rt_ws_handshake_check(h, "dGhlIHNhbXBsZSBub25jZQ==", err, sizeof(err));
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *buf, reply[RT_WS_MAX_CONTROL + RT_WS_MAX_HEADER];
    rt_ws_parser p;
    size_t off = 0;
    unsigned mode;

    if (size == 0)
        return 0;
    mode = data[0];
    buf = malloc(size);
    if (buf == NULL)
        return 0;
    memcpy(buf, data + 1, size - 1);
    size--;
    if (mode & 4) {
        rt_http_resp_cbs cbs = {on_head, NULL, NULL};
        rt_http_resp *r;
        size_t used = 0;

        if (rt_http_resp_new(&r, 4096, &cbs, NULL) == 0) {
            if (rt_http_resp_feed(r, (char *)buf, size, &used) == 0 &&
                rt_http_resp_upgraded(r))
                off = used;
            else
                rt_http_resp_eof(r);
            rt_http_resp_free(r);
        }
        if (off == 0) {
            free(buf);
            return 0;
        }
    }
    rt_ws_parser_init(&p, mode & 1, 1 << 20);
    p.lenient = (mode & 2) != 0;
    while (off < size) {
        rt_ws_frame f;
        size_t used;

        if (rt_ws_parse(&p, buf + off, size - off, &f, &used) != 0 ||
            used == 0)
            break;
        if (f.payload < buf + off || f.payload + f.len > buf + size)
            abort();
        if (f.opcode == RT_WS_OP_CLOSE) {
            unsigned code;
            const char *reason;
            size_t rlen;

            rt_ws_close_parse(f.payload, (size_t)f.len, &code, &reason, &rlen);
        }
        if (f.len <= RT_WS_MAX_CONTROL)
            rt_ws_control_reply(&f, (const uint8_t *)"abcd", reply,
                                sizeof(reply));
        off += used;
    }
    free(buf);
    return 0;
}
