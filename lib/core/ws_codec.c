/*
 * ws_codec.c: the WebSocket codec (rt/ws_codec.h).
 *
 * Spec: RFC 6455, sections 4.1 and 4.2.2 (opening handshake), 5.2 (base
 * framing), 5.3 (masking), 5.4 and 5.5 (fragmentation, control frames),
 * 7.4 (close codes).
 *
 * Invariants: no allocation and no state beyond the caller's rt_ws_parser;
 * a frame is parsed only once it is whole in the buffer, so a caller that
 * reads into one shared buffer keeps only the unparsed tail of a read.
 * Masking runs eight bytes at a time once aligned to the key: the load
 * generator masks every byte it sends.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "rt/error.h"
#include "rt/ws_codec.h"

#include "core_int.h"

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

void rt_ws_key_encode(const uint8_t nonce[16], char out[RT_WS_KEY_LEN + 1])
{
    EVP_EncodeBlock((unsigned char *)out, nonce, 16);
}

int rt_ws_accept(const char *key, size_t key_len,
                 char out[RT_WS_ACCEPT_LEN + 1])
{
    unsigned char buf[64 + sizeof(ws_guid)];
    unsigned char md[SHA_DIGEST_LENGTH];

    if (key == NULL || key_len == 0 || key_len > 64)
        return RT_EINVAL;
    memcpy(buf, key, key_len);
    memcpy(buf + key_len, ws_guid, sizeof(ws_guid) - 1);
    SHA1(buf, key_len + sizeof(ws_guid) - 1, md);
    EVP_EncodeBlock((unsigned char *)out, md, SHA_DIGEST_LENGTH);
    return 0;
}

static int bad_token(const char *s)
{
    return s[strcspn(s, "\r\n \t")] != '\0';
}

int rt_ws_handshake_request(char *out, size_t cap, const char *host,
                            const char *path, const char *key,
                            const char *extra)
{
    int n;

    if (host == NULL || path == NULL || key == NULL || bad_token(host) ||
        bad_token(path) || bad_token(key) || path[0] == '\0')
        return RT_EINVAL;
    n = snprintf(out, cap,
                 "GET %s HTTP/1.1\r\n"
                 "Host: %s\r\n"
                 "Upgrade: websocket\r\n"
                 "Connection: Upgrade\r\n"
                 "Sec-WebSocket-Key: %s\r\n"
                 "Sec-WebSocket-Version: 13\r\n"
                 "%s\r\n",
                 path, host, key, extra ? extra : "");
    if (n < 0 || (size_t)n >= cap)
        return RT_EFULL;
    return n;
}

static int value_is(const rt_http_header *f, const char *want)
{
    size_t i, n = strlen(want);

    if (f == NULL || f->value_len != n)
        return 0;
    for (i = 0; i < n; i++) {
        int c = (unsigned char)f->value[i];

        if ((c >= 'A' && c <= 'Z' ? c + 32 : c) != want[i])
            return 0;
    }
    return 1;
}

/* "Connection: keep-alive, Upgrade" is allowed: look for the token. */
static int has_upgrade_token(const rt_http_header *f)
{
    size_t i;

    if (f == NULL)
        return 0;
    for (i = 0; i + 7 <= f->value_len; i++) {
        size_t j;

        for (j = 0; j < 7; j++) {
            int c = (unsigned char)f->value[i + j];

            if ((c >= 'A' && c <= 'Z' ? c + 32 : c) != "upgrade"[j])
                break;
        }
        if (j == 7 &&
            (i == 0 || f->value[i - 1] == ',' || f->value[i - 1] == ' ') &&
            (i + 7 == f->value_len || f->value[i + 7] == ',' ||
             f->value[i + 7] == ' '))
            return 1;
    }
    return 0;
}

int rt_ws_handshake_check(const rt_http_head *h, const char *key, char *errbuf,
                          size_t errlen)
{
    char want[RT_WS_ACCEPT_LEN + 1];
    const rt_http_header *acc;

    if (h->status != 101) {
        rt__seterr(errbuf, errlen, "HTTP %d %.*s on upgrade", h->status,
                   (int)(h->reason_len > 60 ? 60 : h->reason_len), h->reason);
        return RT_EHTTP;
    }
    if (!value_is(rt_http_head_find(h, "upgrade"), "websocket")) {
        rt__seterr(errbuf, errlen, "101 without Upgrade: websocket");
        return RT_EHANDSHAKE;
    }
    if (!has_upgrade_token(rt_http_head_find(h, "connection"))) {
        rt__seterr(errbuf, errlen, "101 without Connection: upgrade");
        return RT_EHANDSHAKE;
    }
    acc = rt_http_head_find(h, "sec-websocket-accept");
    if (rt_ws_accept(key, strlen(key), want) != 0 || acc == NULL ||
        acc->value_len != RT_WS_ACCEPT_LEN ||
        memcmp(acc->value, want, RT_WS_ACCEPT_LEN) != 0) {
        rt__seterr(errbuf, errlen, "wrong Sec-WebSocket-Accept");
        return RT_EHANDSHAKE;
    }
    if (rt_http_head_find(h, "sec-websocket-extensions") != NULL ||
        rt_http_head_find(h, "sec-websocket-protocol") != NULL) {
        rt__seterr(errbuf, errlen,
                   "server chose an extension or subprotocol not offered");
        return RT_EHANDSHAKE;
    }
    return 0;
}

void rt_ws_frame_spec_init(rt_ws_frame_spec *s, unsigned opcode)
{
    memset(s, 0, sizeof(*s));
    s->fin = 1;
    s->opcode = opcode;
    s->masked = 1;
}

static unsigned form_for(const rt_ws_frame_spec *s, uint64_t len)
{
    if (s->len_form != 0)
        return s->len_form;
    return len < 126 ? 7 : len <= 0xFFFF ? 16 : 64;
}

size_t rt_ws_frame_header_len(const rt_ws_frame_spec *s, uint64_t len)
{
    unsigned form = form_for(s, len);

    return 2 + (form == 16 ? 2 : form == 64 ? 8 : 0) + (s->masked ? 4 : 0);
}

void rt_ws_mask(uint8_t *p, size_t len, const uint8_t mask[4], size_t off)
{
    size_t i = 0;

    if ((mask[0] | mask[1] | mask[2] | mask[3]) == 0)
        return;
    for (; i < len && ((off + i) & 3) != 0; i++)
        p[i] ^= mask[(off + i) & 3];
    if (len - i >= 8) {
        uint64_t m8;
        uint8_t rot[8];
        size_t k;

        for (k = 0; k < 8; k++)
            rot[k] = mask[(off + i + k) & 3];
        memcpy(&m8, rot, 8);
        for (; len - i >= 8; i += 8) {
            uint64_t v;

            memcpy(&v, p + i, 8);
            v ^= m8;
            memcpy(p + i, &v, 8);
        }
    }
    for (; i < len; i++)
        p[i] ^= mask[(off + i) & 3];
}

int64_t rt_ws_frame_build(uint8_t *out, size_t cap, const rt_ws_frame_spec *s,
                          const void *payload, size_t len)
{
    unsigned form = form_for(s, len);
    size_t hl, i = 0;

    if (s->opcode > 15 || s->rsv > 7 ||
        (form != 7 && form != 16 && form != 64) || (form == 7 && len > 125) ||
        (form == 16 && len > 0xFFFF))
        return RT_EINVAL;
    hl = rt_ws_frame_header_len(s, len);
    if (cap < hl || cap - hl < len)
        return RT_EFULL;
    out[i++] = (uint8_t)((s->fin ? 0x80 : 0) | (s->rsv << 4) | s->opcode);
    if (form == 7) {
        out[i++] = (uint8_t)((s->masked ? 0x80 : 0) | len);
    } else if (form == 16) {
        out[i++] = (uint8_t)((s->masked ? 0x80 : 0) | 126);
        out[i++] = (uint8_t)(len >> 8);
        out[i++] = (uint8_t)len;
    } else {
        int k;

        out[i++] = (uint8_t)((s->masked ? 0x80 : 0) | 127);
        for (k = 7; k >= 0; k--)
            out[i++] = (uint8_t)((uint64_t)len >> (8 * k));
    }
    if (s->masked) {
        memcpy(out + i, s->mask, 4);
        i += 4;
    }
    if (len > 0)
        memcpy(out + i, payload, len);
    if (s->masked)
        rt_ws_mask(out + i, len, s->mask, 0);
    return (int64_t)(i + len);
}

void rt_ws_parser_init(rt_ws_parser *p, int server_side, uint64_t max_payload)
{
    memset(p, 0, sizeof(*p));
    p->server_side = server_side;
    p->max_payload = max_payload;
}

static int proto(rt_ws_frame *f)
{
    f->close_code = 1002;
    return RT_EPROTO;
}

int rt_ws_parse(rt_ws_parser *p, uint8_t *buf, size_t len, rt_ws_frame *f,
                size_t *used)
{
    size_t hl = 2;
    uint64_t plen;
    unsigned b1;

    memset(f, 0, sizeof(*f));
    *used = 0;
    if (len < 2)
        return 0;
    f->fin = (buf[0] & 0x80) != 0;
    f->rsv = (buf[0] >> 4) & 7;
    f->opcode = buf[0] & 0x0F;
    f->masked = (buf[1] & 0x80) != 0;
    b1 = buf[1] & 0x7F;
    if (b1 == 126)
        hl += 2;
    else if (b1 == 127)
        hl += 8;
    if (f->masked)
        hl += 4;
    if (len < hl)
        return 0;
    if (b1 == 126) {
        plen = ((uint64_t)buf[2] << 8) | buf[3];
    } else if (b1 == 127) {
        int k;

        plen = 0;
        for (k = 0; k < 8; k++)
            plen = (plen << 8) | buf[2 + k];
        if ((plen >> 63) && !p->lenient)
            return proto(f); /* the most significant bit must be 0 */
    } else {
        plen = b1;
    }
    f->len = plen;
    if (!p->lenient) {
        int control = (f->opcode & 0x8) != 0;

        if (f->rsv != 0 || (f->opcode > 2 && f->opcode < 8) || f->opcode > 0xA)
            return proto(f);
        if ((b1 == 126 && plen < 126) || (b1 == 127 && plen <= 0xFFFF))
            return proto(f);
        if (f->masked != (p->server_side != 0))
            return proto(f);
        if (control && (!f->fin || plen > RT_WS_MAX_CONTROL))
            return proto(f);
        if (f->opcode == RT_WS_OP_CLOSE && plen == 1)
            return proto(f);
        if (!control) {
            if (f->opcode == RT_WS_OP_CONT && p->frag_op == 0)
                return proto(f);
            if (f->opcode != RT_WS_OP_CONT && p->frag_op != 0)
                return proto(f);
        }
    }
    if (plen > p->max_payload) {
        f->close_code = 1009;
        return RT_ETOOBIG;
    }
    if (len - hl < plen) {
        f->need = hl + plen;
        return 0;
    }
    if (f->masked)
        memcpy(f->mask, buf + hl - 4, 4);
    f->payload = buf + hl;
    if (f->masked)
        rt_ws_mask(f->payload, (size_t)plen, f->mask, 0);
    if (!(f->opcode & 0x8)) {
        if (f->fin)
            p->frag_op = 0;
        else if (f->opcode != RT_WS_OP_CONT)
            p->frag_op = f->opcode;
    }
    *used = hl + (size_t)plen;
    return 0;
}

static int code_ok(unsigned c)
{
    return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) ||
           (c >= 3000 && c <= 4999);
}

int rt_ws_close_parse(const uint8_t *payload, size_t len, unsigned *code,
                      const char **reason, size_t *reason_len)
{
    size_t i;

    *reason = "";
    *reason_len = 0;
    if (len == 0) {
        *code = 1005;
        return 0;
    }
    if (len == 1 || len > RT_WS_MAX_CONTROL)
        return RT_EPROTO;
    *code = ((unsigned)payload[0] << 8) | payload[1];
    if (!code_ok(*code))
        return RT_EPROTO;
    for (i = 2; i < len;) {
        size_t n = rt__utf8_len(payload + i, len - i, NULL);

        if (n == 0)
            return RT_EPROTO;
        i += n;
    }
    *reason = (const char *)payload + 2;
    *reason_len = len - 2;
    return 0;
}

size_t rt_ws_close_payload(uint8_t *out, unsigned code, const char *reason,
                           size_t reason_len)
{
    if (code == 0)
        return 0;
    if (reason_len > RT_WS_MAX_CONTROL - 2)
        reason_len = RT_WS_MAX_CONTROL - 2;
    out[0] = (uint8_t)(code >> 8);
    out[1] = (uint8_t)code;
    /* memmove: a caller may pass a reason that lies in |out| */
    if (reason_len > 0)
        memmove(out + 2, reason, reason_len);
    return 2 + reason_len;
}

int64_t rt_ws_control_reply(const rt_ws_frame *f, const uint8_t mask[4],
                            uint8_t *out, size_t cap)
{
    rt_ws_frame_spec s;
    uint8_t body[RT_WS_MAX_CONTROL];
    size_t n;

    if (f->opcode == RT_WS_OP_PING) {
        rt_ws_frame_spec_init(&s, RT_WS_OP_PONG);
        memcpy(s.mask, mask, 4);
        return rt_ws_frame_build(out, cap, &s, f->payload, (size_t)f->len);
    }
    if (f->opcode != RT_WS_OP_CLOSE)
        return 0;
    n = rt_ws_close_payload(
        body,
        f->len >= 2 ? ((unsigned)f->payload[0] << 8) | f->payload[1] : 1000,
        NULL, 0);
    rt_ws_frame_spec_init(&s, RT_WS_OP_CLOSE);
    memcpy(s.mask, mask, 4);
    return rt_ws_frame_build(out, cap, &s, body, n);
}
