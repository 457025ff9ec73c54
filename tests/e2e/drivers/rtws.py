"""rtws.py: scripted peers for the `rtctl serve` end-to-end tests.

Imported by the Python programs that the tNNNN-serve-*.sh scripts feed to
drivers/run.py (see `py` in tests/e2e/lib.sh).  Runs on Debian's
/usr/bin/python3 with python3-websockets 10.4; nothing here leaves
127.0.0.1.

What it offers, every wait bounded by WAIT seconds (RT_E2E_WAIT, 10 s):

  join(room, user=..., **query)      a websockets client in a room that has
                                     seen its welcome frame (ws.welcome)
  ws.expect(pattern)                 the next frame matches pattern
  ws.expect_set([p1, p2])            the next frames match, in any order
  ws.until(pattern, skip=[...])      skip frames (that match skip) until one
                                     matches
  ws.expect_close(code, reason)      frames until the close; its code/reason
  Raw                                a hand-driven TCP/WebSocket peer: raw
                                     frames, bad frames, stalled readers
  http(method, path, ...)            one HTTP/1.1 request on its own socket
  SSE                                an event stream read line by line
  metrics()                          /metrics parsed and checked (0.0.4)
  token(sub, ...)                    `rtctl token`

Patterns (match()): a dict matches a dict holding at least those keys with
matching values (ABSENT: the key must be missing); lists match element by
element; AnyOrder([...]) matches the same elements in any order; a compiled
regex matches a whole string; ANY matches anything; a callable is a
predicate; a type is an isinstance test; other values compare equal
(ints are not bools).
"""

import asyncio
import base64
import hashlib
import json
import logging
import os
import re
import socket
import ssl
import struct
import subprocess
import sys
import time
import traceback

import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatusCode

HOST = os.environ.get("RT_HOST", "127.0.0.1")
PORT = int(os.environ.get("PORT", "0") or 0)
# RT_E2E_SCALE: the one factor every deadline of the e2e suite is scaled
# by (tests/e2e/lib.sh), for a slow or loaded machine or a sanitizer build.
SCALE = float(os.environ.get("RT_E2E_SCALE", "1") or 1)
# WAIT_BASE: the usual wait before scaling, for a |timeout| argument (which the
# functions below scale): timeout=WAIT_BASE * 3 is three usual waits.  WAIT is
# the scaled one, for deadlines computed here.
WAIT_BASE = float(os.environ.get("RT_E2E_WAIT", "10"))
WAIT = WAIT_BASE * SCALE


def wait_s(timeout):
    """A deadline in seconds: WAIT, or the caller's |timeout| scaled."""
    return WAIT if timeout is None else timeout * SCALE


def left(deadline):
    """What remains of an already scaled |deadline|, as a timeout to pass
    on (so that wait_s does not scale it again)."""
    return max(deadline - time.monotonic(), 0.001) / SCALE


TLS = os.environ.get("RT_E2E_TLS", "") == "1"
HTTP_SCHEME = "https" if TLS else "http"
WS_SCHEME = "wss" if TLS else "ws"
BASE = f"{HTTP_SCHEME}://{HOST}:{PORT}"
WSBASE = f"{WS_SCHEME}://{HOST}:{PORT}"
RTCTL = os.environ.get("RTCTL", "rtctl")
SERVER_PID = int(os.environ.get("SERVER_PID", "0") or 0)
ARGS = sys.argv[1:]
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

logging.getLogger("websockets").setLevel(logging.CRITICAL)
logging.getLogger("asyncio").setLevel(logging.CRITICAL)

_open = []  # every peer opened, closed when the program ends


class Fail(Exception):
    pass


def fail(msg):
    raise Fail(msg)


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def show(x, limit=700):
    """A short printable form of a frame, an event or bytes."""
    if isinstance(x, (bytes, bytearray)):
        s = repr(bytes(x))
    elif isinstance(x, str):
        s = x
    else:
        try:
            s = json.dumps(x, sort_keys=True, ensure_ascii=False)
        except (TypeError, ValueError):
            s = repr(x)
    if len(s) > limit:
        s = s[:limit] + "...(%d chars)" % len(s)
    return s


def ssl_client_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


# --- patterns


class _Absent:
    def __repr__(self):
        return "ABSENT"


class _Any:
    def __repr__(self):
        return "ANY"


ABSENT = _Absent()
ANY = _Any()


class AnyOrder(list):
    """The same elements as the list, in any order."""


def match(obj, pat):
    if pat is ANY:
        return True
    if isinstance(pat, re.Pattern):
        return isinstance(obj, str) and pat.fullmatch(obj) is not None
    if isinstance(pat, dict):
        if not isinstance(obj, dict):
            return False
        for k, v in pat.items():
            if v is ABSENT:
                if k in obj:
                    return False
            elif k not in obj or not match(obj[k], v):
                return False
        return True
    if isinstance(pat, AnyOrder):
        if not isinstance(obj, list) or len(obj) != len(pat):
            return False
        left = list(obj)
        for p in pat:
            for i, o in enumerate(left):
                if match(o, p):
                    del left[i]
                    break
            else:
                return False
        return True
    if isinstance(pat, list):
        return (isinstance(obj, list) and len(obj) == len(pat)
                and all(match(o, p) for o, p in zip(obj, pat)))
    if isinstance(pat, type):
        if pat is int:
            return isinstance(obj, int) and not isinstance(obj, bool)
        return isinstance(obj, pat)
    if callable(pat):
        return bool(pat(obj))
    if isinstance(pat, bool) or isinstance(obj, bool):
        return type(obj) is type(pat) and obj == pat
    if isinstance(pat, int):
        return isinstance(obj, int) and obj == pat
    return obj == pat


def pshow(pat):
    def conv(p):
        if isinstance(p, dict):
            return {k: conv(v) for k, v in p.items()}
        if isinstance(p, AnyOrder):
            return {"any order": [conv(v) for v in p]}
        if isinstance(p, list):
            return [conv(v) for v in p]
        if isinstance(p, re.Pattern):
            return "/%s/" % p.pattern
        if p is ABSENT or p is ANY or (callable(p) and not isinstance(p, type)):
            return repr(p) if p in (ABSENT, ANY) else "<predicate>"
        return p
    return show(conv(pat))


EPOCH_RE = re.compile(r"[A-Za-z0-9]{1,32}")


def is_time(x):
    """A Unix time in seconds within a minute of now."""
    return (isinstance(x, (int, float)) and not isinstance(x, bool)
            and abs(x - time.time()) < 60)


# --- shared state between the py calls of one script (in the scratch dir)


def save(key, value):
    st = {}
    if os.path.exists("state.json"):
        with open("state.json") as f:
            st = json.load(f)
    st[key] = value
    with open("state.json", "w") as f:
        json.dump(st, f)


def load(key):
    with open("state.json") as f:
        return json.load(f)[key]


# --- WebSocket peers on python3-websockets


class WS:
    """One websockets client connection and every frame it has seen."""

    def __init__(self, conn, name):
        self.conn = conn
        self.name = name
        self.seen = []
        self.welcome = None
        _open.append(self)

    def _recent(self):
        return "; ".join(show(f, 300) for f in self.seen[-5:]) or "none"

    async def recv(self, timeout=None):
        t = wait_s(timeout)
        try:
            msg = await asyncio.wait_for(self.conn.recv(), t)
        except asyncio.TimeoutError:
            fail(f"{self.name}: no frame within {t:g}s (last frames: "
                 f"{self._recent()})")
        except ConnectionClosed:
            fail(f"{self.name}: connection closed with "
                 f"{self.conn.close_code} {self.conn.close_reason!r} while "
                 f"waiting for a frame (last frames: {self._recent()})")
        if isinstance(msg, bytes):
            fail(f"{self.name}: got a binary frame {show(msg)}; the protocol "
                 "sends text frames only")
        try:
            obj = json.loads(msg)
        except ValueError:
            fail(f"{self.name}: frame is not JSON: {show(msg)}")
        if not isinstance(obj, dict):
            fail(f"{self.name}: frame is not a JSON object: {show(msg)}")
        self.seen.append(obj)
        return obj

    async def expect(self, pat, timeout=None, what="", skip=()):
        """The next frame (past any matching one of skip) matches pat."""
        end = time.monotonic() + wait_s(timeout)
        f = await self.recv(timeout)
        while any(match(f, s) for s in skip) and not match(f, pat):
            f = await self.recv(max(end - time.monotonic(), 0.001))
        if not match(f, pat):
            fail(f"{self.name}: {what + ': ' if what else ''}expected a frame "
                 f"matching {pshow(pat)}, got {show(f)}")
        return f

    async def expect_set(self, pats, timeout=None, what=""):
        """The next len(pats) frames match pats in some order; returns the
        frames in the order of pats."""
        got = [await self.recv(timeout) for _ in pats]
        out = [None] * len(pats)
        left = list(range(len(got)))
        for i, p in enumerate(pats):
            for j in left:
                if match(got[j], p):
                    out[i] = got[j]
                    left.remove(j)
                    break
            else:
                fail(f"{self.name}: {what + ': ' if what else ''}expected "
                     f"frames matching {[pshow(p) for p in pats]} in any "
                     f"order, got {[show(g) for g in got]}")
        return out

    async def until(self, pat, timeout=None, skip=None, what=""):
        """Frames until one matches pat; a frame in between must match one
        of skip (when given).  Returns (match, skipped)."""
        t = wait_s(timeout)
        end = time.monotonic() + t
        skipped = []
        while True:
            left = end - time.monotonic()
            if left <= 0:
                fail(f"{self.name}: {what + ': ' if what else ''}no frame "
                     f"matching {pshow(pat)} within {t:g}s; skipped "
                     f"{[show(s, 200) for s in skipped]}")
            f = await self.recv(left)
            if match(f, pat):
                return f, skipped
            if skip is not None and not any(match(f, s) for s in skip):
                fail(f"{self.name}: {what + ': ' if what else ''}waiting for "
                     f"{pshow(pat)}, got the unexpected frame {show(f)}")
            skipped.append(f)

    async def send(self, obj):
        await self.send_text(json.dumps(obj))

    async def send_text(self, s):
        try:
            await asyncio.wait_for(self.conn.send(s), WAIT)
        except ConnectionClosed:
            fail(f"{self.name}: cannot send, the connection closed with "
                 f"{self.conn.close_code} {self.conn.close_reason!r} "
                 f"(last frames: {self._recent()})")

    async def send_bytes(self, b):
        await self.send_text(b)

    async def say(self, content, id=None, skip=({"type": "presence"},),
                  **extra):
        """Send a text message and wait for its ack and its own broadcast;
        frames matching skip (presence) may come in between, any other
        frame fails.  Returns the seq."""
        await self.send(text_msg(content, id, **extra))
        ack = txt = None
        end = time.monotonic() + WAIT
        while ack is None or txt is None:
            f = await self.recv(max(end - time.monotonic(), 0.001))
            if ack is None and match(f, {"type": "ack"}):
                ack = f
            elif txt is None and match(f, {"type": "text", "data": {
                    "content": content}}):
                txt = f
            elif not any(match(f, s) for s in skip):
                fail(f"{self.name}: sending {content!r}: unexpected frame "
                     f"{show(f)} while waiting for its ack and broadcast")
        check(match(ack, {"type": "ack", "data": {"status": "delivered",
                                                  "seq": int}}),
              f"{self.name}: bad ack {show(ack)}")
        check(match(txt, {"type": "text", "seq": int, "room": str,
                          "timestamp": is_time}),
              f"{self.name}: bad broadcast {show(txt)}")
        if id is not None:
            check(ack.get("id") == id and txt.get("id") == id,
                  f"{self.name}: id {id!r} not echoed: {show(ack)} / "
                  f"{show(txt)}")
        check(ack["data"]["seq"] == txt["seq"],
              f"{self.name}: ack seq {ack['data']['seq']} differs from the "
              f"broadcast seq {txt['seq']}")
        return txt["seq"]

    async def closed(self, timeout=None):
        """Read until the connection closes: (code, reason, frames)."""
        t = wait_s(timeout)
        end = time.monotonic() + t
        frames = []
        while True:
            left = end - time.monotonic()
            if left <= 0:
                fail(f"{self.name}: still open after {t:g}s (frames: "
                     f"{[show(f, 200) for f in frames]})")
            try:
                msg = await asyncio.wait_for(self.conn.recv(), left)
            except asyncio.TimeoutError:
                continue
            except ConnectionClosed:
                return self.conn.close_code, self.conn.close_reason, frames
            try:
                obj = json.loads(msg)
            except (ValueError, TypeError):
                obj = msg
            frames.append(obj)
            self.seen.append(obj)

    async def expect_close(self, code, reason=None, timeout=None, what=""):
        got, why, frames = await self.closed(timeout)
        ok = got == code and (reason is None or match(why, reason))
        if not ok:
            want = f"{code}" + (f" {pshow(reason)}" if reason is not None
                                else "")
            fail(f"{self.name}: {what + ': ' if what else ''}expected close "
                 f"{want}, got close {got} {why!r} after frames "
                 f"{[show(f, 200) for f in frames]}")
        return frames

    async def close(self, code=1000, reason=""):
        try:
            await asyncio.wait_for(self.conn.close(code, reason), WAIT)
        except (asyncio.TimeoutError, ConnectionError, OSError):
            pass

    async def ping(self, data=b"p"):
        w = await self.conn.ping(data)
        try:
            await asyncio.wait_for(w, WAIT)
        except asyncio.TimeoutError:
            fail(f"{self.name}: no pong within {WAIT:g}s")


def ws_path(room, **query):
    q = {k: v for k, v in query.items() if v is not None}
    from urllib.parse import urlencode, quote
    path = "/ws/" + quote(room, safe="")
    if q:
        path += "?" + urlencode(q)
    return path


async def ws_connect(path, headers=None, origin=None, compression=None,
                     name=None):
    """Open a websockets connection to path; fail on a refused upgrade."""
    try:
        conn = await asyncio.wait_for(websockets.connect(
            WSBASE + path, extra_headers=headers, origin=origin,
            compression=compression, ping_interval=None, max_queue=None,
            max_size=2 ** 24, open_timeout=WAIT, close_timeout=WAIT,
            ssl=ssl_client_context() if TLS else None), WAIT + 1)
    except InvalidStatusCode as e:
        fail(f"{name or path}: upgrade refused with HTTP {e.status_code}")
    except asyncio.TimeoutError:
        fail(f"{name or path}: no handshake within {WAIT:g}s")
    except (OSError, websockets.exceptions.InvalidHandshake) as e:
        fail(f"{name or path}: cannot connect: {e!r}")
    return WS(conn, name or path)


async def ws_refused(path, headers=None, origin=None):
    """Send an upgrade that must be refused: returns the HTTP status.  The
    refusal must be a whole HTTP/1.1 response."""
    h = dict(headers or {})
    if origin is not None:
        h["Origin"] = origin
    r = await Raw.connect(f"upgrade {path}")
    st, rh = await r.handshake(path, headers=h, expect=None)
    check(st != 101, f"{path}: the upgrade was accepted (101), expected a "
          "refusal")
    check(r.status_line.startswith("HTTP/1.1 "), f"{path}: the refusal "
          f"{r.status_line!r} of an HTTP/1.1 request is not HTTP/1.1 "
          "(RFC 9110 6.2; python3-websockets rejects it as 'did not "
          "receive a valid HTTP response')")
    body = await _read_body(r, rh, time.monotonic() + WAIT, st)
    r.close()
    if st >= 400:
        check(rh.get("content-type", "").startswith("application/json") and
              match(json.loads(body or b"null"), error_body()),
              f"{path}: refusal {st} without a JSON error body: "
              f"{show(body)}")
    return st


async def join(room, user=None, welcome=True, name=None, headers=None,
               origin=None, compression=None, **query):
    """A client in room; with welcome, its first frame has been checked to
    be the welcome and is in .welcome."""
    ws = await ws_connect(ws_path(room, user=user, **query), headers=headers,
                          origin=origin, compression=compression,
                          name=name or user or f"client@{room}")
    if welcome:
        ws.welcome = await ws.expect(
            {"type": "system", "room": room, "data": {"event": "welcome"}},
            what="the first frame is the welcome")
    return ws


def text_msg(content, id=None, **extra):
    m = {"type": "text", "data": dict(content=content, **extra)}
    if id is not None:
        m["id"] = id
    return m


# --- a hand-driven peer: raw TCP and raw WebSocket frames


class Frame:
    def __init__(self, fin, rsv, opcode, payload, masked):
        self.fin, self.rsv, self.opcode = fin, rsv, opcode
        self.payload, self.masked = payload, masked

    def close_code(self):
        if len(self.payload) >= 2:
            return struct.unpack("!H", self.payload[:2])[0]
        return None

    def close_reason(self):
        return self.payload[2:].decode("utf-8", "replace")

    def __repr__(self):
        names = {0: "cont", 1: "text", 2: "binary", 8: "close", 9: "ping",
                 10: "pong"}
        desc = names.get(self.opcode, "op%d" % self.opcode)
        if self.opcode == 8:
            return f"<close {self.close_code()} {self.close_reason()!r}>"
        return (f"<{desc}{'' if self.fin else ' (not fin)'} "
                f"{show(self.payload, 200)}>")


OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


def frame_bytes(opcode, payload=b"", fin=True, mask=True, rsv=0,
                length=None, key=None):
    """One client frame; length overrides the declared payload length."""
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | (rsv & 7) << 4 | (opcode & 15)
    mbit = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", b0, mbit | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mbit | 127, n)
    if not mask:
        return head + payload
    key = key if key is not None else os.urandom(4)
    masked = bytes(b ^ key[i & 3] for i, b in enumerate(payload))
    return head + key + masked


def close_payload(code, reason=b""):
    if isinstance(reason, str):
        reason = reason.encode()
    return struct.pack("!H", code) + reason


class Raw:
    """A peer that writes and reads bytes by hand.  Never reads unless asked,
    so it can stall; with rcvbuf it asks the kernel for a small window."""

    def __init__(self, sock, name):
        self.sock = sock
        self.name = name
        self.buf = b""
        self.eof = False
        self.reset = False
        self.frames = []
        self.deflate = False
        _open.append(self)

    @classmethod
    async def connect(cls, name="raw", rcvbuf=None):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(loop.sock_connect(s, (HOST, PORT)), WAIT)
        except (OSError, asyncio.TimeoutError) as e:
            s.close()
            fail(f"{name}: cannot connect to {HOST}:{PORT}: {e!r}")
        return cls(s, name)

    async def sendall(self, data, ignore_errors=False):
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(loop.sock_sendall(self.sock, data), WAIT)
        except asyncio.TimeoutError:
            if ignore_errors:
                return False
            fail(f"{self.name}: could not send {len(data)} bytes within "
                 f"{WAIT:g}s (the server does not read)")
        except OSError as e:
            if ignore_errors:
                return False
            fail(f"{self.name}: send failed: {e!r}")
        return True

    async def _more(self, deadline, what):
        loop = asyncio.get_running_loop()
        left = deadline - time.monotonic()
        if left <= 0:
            fail(f"{self.name}: timed out waiting for {what} (have "
                 f"{show(self.buf, 200)}; frames {self.frames[-5:]})")
        try:
            data = await asyncio.wait_for(loop.sock_recv(self.sock, 65536),
                                          left)
        except asyncio.TimeoutError:
            fail(f"{self.name}: timed out waiting for {what} (have "
                 f"{show(self.buf, 200)}; frames {self.frames[-5:]})")
        except ConnectionResetError:
            self.reset = True
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    async def read_exact(self, n, deadline, what="data"):
        while len(self.buf) < n:
            if not await self._more(deadline, what):
                return None
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    async def read_until(self, delim, timeout=None, what="data",
                         exact=False):
        """Bytes up to and including delim.  exact reads byte by byte so
        nothing past delim leaves the kernel buffer."""
        deadline = time.monotonic() + wait_s(timeout)
        loop = asyncio.get_running_loop()
        while delim not in self.buf:
            if exact:
                left = deadline - time.monotonic()
                try:
                    b = await asyncio.wait_for(loop.sock_recv(self.sock, 1),
                                               max(left, 0.001))
                except asyncio.TimeoutError:
                    fail(f"{self.name}: timed out waiting for {what} (have "
                         f"{show(self.buf, 300)})")
                if not b:
                    self.eof = True
                    return None
                self.buf += b
            elif not await self._more(deadline, what):
                return None
        i = self.buf.index(delim) + len(delim)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    async def read_http_head(self, timeout=None, exact=False):
        """(status, headers dict lower-case -> value) of an HTTP response;
        (None, {}) if the connection ended first."""
        head = await self.read_until(b"\r\n\r\n", timeout, "an HTTP response",
                                     exact=exact)
        if head is None:
            return None, {}
        self.status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        return parse_head(head)

    async def read_http_response(self, timeout=None):
        """A whole response: Resp, or None if the connection ended before a
        status line."""
        deadline = time.monotonic() + wait_s(timeout)
        status, headers = await self.read_http_head(timeout)
        if status is None:
            return None
        body = await _read_body(self, headers, deadline, status)
        return Resp(status, headers, body)

    async def handshake(self, path, headers=None, expect=101, exact=False,
                        timeout=None):
        """Send an upgrade request for path; with expect=101 check the
        accept key.  Returns (status, headers)."""
        key = base64.b64encode(os.urandom(16)).decode()
        h = {"Host": f"{HOST}:{PORT}", "Upgrade": "websocket",
             "Connection": "Upgrade", "Sec-WebSocket-Key": key,
             "Sec-WebSocket-Version": "13"}
        for k, v in (headers or {}).items():
            for hk in list(h):
                if hk.lower() == k.lower():
                    del h[hk]
            if v is not None:
                h[k] = v
        req = f"GET {path} HTTP/1.1\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n"
        await self.sendall(req.encode())
        status, rh = await self.read_http_head(timeout, exact=exact)
        if status is None:
            fail(f"{self.name}: connection closed before the handshake "
                 "response")
        if expect is not None and status != expect:
            fail(f"{self.name}: upgrade of {path} answered {status}, "
                 f"expected {expect} (headers {rh})")
        if status == 101 and "permessage-deflate" in rh.get(
                "sec-websocket-extensions", ""):
            import zlib
            self.deflate = True
            self.no_takeover = "server_no_context_takeover" in rh[
                "sec-websocket-extensions"]
            self.inflater = zlib.decompressobj(-15)
        if status == 101:
            want = base64.b64encode(hashlib.sha1(
                (key + GUID).encode()).digest()).decode()
            check(rh.get("sec-websocket-accept") == want,
                  f"{self.name}: bad Sec-WebSocket-Accept "
                  f"{rh.get('sec-websocket-accept')!r}, expected {want!r}")
        return status, rh

    @classmethod
    async def ws(cls, path, name="raw", headers=None, rcvbuf=None,
                 exact=False):
        r = await cls.connect(name, rcvbuf)
        await r.handshake(path, headers=headers, exact=exact)
        return r

    async def send_frame(self, opcode, payload=b"", ignore_errors=False,
                         **kw):
        return await self.sendall(frame_bytes(opcode, payload, **kw),
                                  ignore_errors=ignore_errors)

    async def send_text(self, s, **kw):
        return await self.send_frame(OP_TEXT, s, **kw)

    async def send_json(self, obj):
        return await self.send_frame(OP_TEXT, json.dumps(obj))

    async def read_frame(self, timeout=None):
        """The next frame from the server, or None at end of stream."""
        deadline = time.monotonic() + wait_s(timeout)
        h = await self.read_exact(2, deadline, "a frame")
        if h is None:
            return None
        b0, b1 = h[0], h[1]
        n = b1 & 0x7F
        if n == 126:
            x = await self.read_exact(2, deadline, "a frame length")
            if x is None:
                return None
            n = struct.unpack("!H", x)[0]
        elif n == 127:
            x = await self.read_exact(8, deadline, "a frame length")
            if x is None:
                return None
            n = struct.unpack("!Q", x)[0]
        masked = bool(b1 & 0x80)
        if masked:
            key = await self.read_exact(4, deadline, "a mask")
            if key is None:
                return None
        payload = await self.read_exact(n, deadline, "a frame payload")
        if payload is None:
            return None
        if masked:
            payload = bytes(b ^ key[i & 3] for i, b in enumerate(payload))
        f = Frame(bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 15, payload, masked)
        check(not masked, f"{self.name}: the server sent a masked frame {f} "
              "(RFC 6455 5.1 forbids it)")
        check(f.rsv == 0 or (self.deflate and f.rsv == 4), f"{self.name}: "
              f"the server set RSV bits {f.rsv} on {f} with no extension "
              "negotiated for them")
        self.frames.append(f)
        return f

    async def read_message(self, timeout=None, pong=True):
        """The next data message (opcode, payload) or close Frame; pings are
        answered when pong.  None at end of stream."""
        deadline = time.monotonic() + wait_s(timeout)
        parts, op, compressed = [], None, False
        while True:
            f = await self.read_frame(left(deadline))
            if f is None:
                return None
            if f.opcode == OP_PING:
                if pong:
                    await self.send_frame(OP_PONG, f.payload,
                                          ignore_errors=True)
                continue
            if f.opcode == OP_PONG:
                continue
            if f.opcode == OP_CLOSE:
                return f
            if op is None:
                op = f.opcode
                compressed = bool(f.rsv & 4)
            parts.append(f.payload)
            if f.fin:
                data = b"".join(parts)
                if compressed:
                    import zlib
                    if self.no_takeover:
                        self.inflater = zlib.decompressobj(-15)
                    data = self.inflater.decompress(data + b"\x00\x00\xff\xff")
                return op, data

    async def recv_json(self, timeout=None):
        m = await self.read_message(timeout)
        if m is None or isinstance(m, Frame):
            fail(f"{self.name}: expected a JSON frame, got "
                 f"{'end of stream' if m is None else m}")
        op, payload = m
        check(op == OP_TEXT, f"{self.name}: expected a text frame, got "
              f"opcode {op}")
        return json.loads(payload)

    async def expect_json(self, pat, timeout=None, what=""):
        obj = await self.recv_json(timeout)
        if not match(obj, pat):
            fail(f"{self.name}: {what + ': ' if what else ''}expected "
                 f"{pshow(pat)}, got {show(obj)}")
        return obj

    async def expect_close(self, code, timeout=None, reason=None, what="",
                           allow_data=True):
        """Read until the server's close frame; check its code; answer it;
        then the server must end the TCP connection.  Returns the data
        messages seen before the close."""
        deadline = time.monotonic() + wait_s(timeout)
        msgs = []
        while True:
            m = await self.read_message(left(deadline))
            if m is None:
                fail(f"{self.name}: {what + ': ' if what else ''}the "
                     f"connection ended{' (reset)' if self.reset else ''} "
                     f"without a close frame; expected close {code} (frames "
                     f"{self.frames[-6:]})")
            if isinstance(m, Frame):
                break
            if not allow_data:
                fail(f"{self.name}: {what + ': ' if what else ''}expected "
                     f"close {code}, got the message {show(m[1])}")
            msgs.append(m)
        got = m.close_code()
        codes = code if isinstance(code, tuple) else (code,)
        if got not in codes or (reason is not None
                           and not match(m.close_reason(), reason)):
            fail(f"{self.name}: {what + ': ' if what else ''}expected close "
                 f"{code}{' ' + pshow(reason) if reason else ''}, got {m} "
                 f"after {[show(x[1], 200) for x in msgs[-5:]]}")
        await self.send_frame(OP_CLOSE, m.payload[:2], ignore_errors=True)
        await self.expect_eof(what="after the close handshake")
        return msgs

    async def expect_ended(self, timeout=None, what=""):
        """The server ends the connection, with a close frame of any code or
        without one, and sends no data message first.  For the protocol
        errors libwebsockets 4.1 answers by dropping the connection."""
        deadline = time.monotonic() + wait_s(timeout)
        while True:
            m = await self.read_message(left(deadline))
            if m is None or isinstance(m, Frame):
                return m
            fail(f"{self.name}: {what + ': ' if what else ''}expected the "
                 f"connection to end, got the message {show(m[1])}")

    async def expect_eof(self, timeout=None, what=""):
        deadline = time.monotonic() + wait_s(timeout)
        self.buf = b""
        while not self.eof:
            await self._more(deadline, "the end of the connection " + what)
            self.buf = b""

    def abort(self):
        """Close with a TCP reset (SO_LINGER 0)."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                 struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    async def aclose(self):
        self.close()


# --- HTTP


class Resp:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            fail(f"HTTP {self.status} body is not JSON: {show(self.body)}")

    def __repr__(self):
        return f"HTTP {self.status} {self.headers} {show(self.body, 400)}"


def parse_head(head):
    lines = head.decode("latin-1").split("\r\n")
    m = re.match(r"HTTP/1\.[01] (\d{3})", lines[0])
    if not m:
        fail(f"not an HTTP status line: {lines[0]!r}")
    headers = {}
    for ln in lines[1:]:
        if not ln:
            continue
        k, _, v = ln.partition(":")
        k = k.strip().lower()
        v = v.strip()
        if k in headers:
            headers[k] += ", " + v
        else:
            headers[k] = v
    return int(m.group(1)), headers


async def _read_body(r, headers, deadline, status, method="GET"):
    if method == "HEAD" or status in (101, 204, 304) or status < 200:
        return b""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = b""
        while True:
            ln = await r.read_until(b"\r\n", deadline - time.monotonic(),
                                    "a chunk size")
            if ln is None:
                fail(f"{r.name}: the chunked body ended early")
            size = int(ln.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while True:
                    t = await r.read_until(b"\r\n", deadline -
                                           time.monotonic(), "the trailer")
                    if t is None or t == b"\r\n":
                        return body
            chunk = await r.read_exact(size + 2, deadline, "a chunk")
            if chunk is None:
                fail(f"{r.name}: the chunked body ended early")
            body += chunk[:-2]
    if "content-length" in headers:
        n = int(headers["content-length"])
        b = await r.read_exact(n, deadline, "the body")
        if b is None:
            fail(f"{r.name}: the body ended before Content-Length {n}")
        return b
    while not r.eof:
        await r._more(deadline, "the end of the body")
    b, r.buf = r.buf, b""
    return b


async def http(method, path, body=None, headers=None, timeout=None,
               raw_head=None):
    """One HTTP/1.1 request on a new connection; the whole response."""
    t = wait_s(timeout)
    deadline = time.monotonic() + t
    if TLS:
        return await _https(method, path, body, headers, t)
    r = await Raw.connect(f"{method} {path}")
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    h = {"Host": f"{HOST}:{PORT}", "Connection": "close"}
    if body is not None:
        h["Content-Length"] = str(len(body))
        h.setdefault("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        for hk in list(h):
            if hk.lower() == k.lower():
                del h[hk]
        if v is not None:
            h[k] = v
    req = raw_head if raw_head is not None else (
        f"{method} {path} HTTP/1.1\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n").encode()
    await r.sendall(req + (body or b""), ignore_errors=True)
    status, rh = await r.read_http_head(t)
    if status is None:
        fail(f"{method} {path}: the connection closed with no response")
    if rh.get("content-type", "").startswith("text/event-stream"):
        # a stream never ends: give the caller the head and what came
        b, r.buf = r.buf, b""
        r.close()
        _open.remove(r)
        return Resp(status, rh, b)
    b = await _read_body(r, rh, deadline, status, method)
    r.close()
    _open.remove(r)
    return Resp(status, rh, b)


async def _https(method, path, body, headers, t):
    import http.client

    def go():
        c = http.client.HTTPSConnection(HOST, PORT, timeout=t,
                                        context=ssl_client_context())
        b = body
        if isinstance(b, (dict, list)):
            b = json.dumps(b)
        c.request(method, path, body=b, headers=headers or {})
        resp = c.getresponse()
        data = resp.read()
        hs = {}
        for k, v in resp.getheaders():
            hs[k.lower()] = (hs[k.lower()] + ", " + v) if k.lower() in hs \
                else v
        c.close()
        return Resp(resp.status, hs, data)
    return await asyncio.wait_for(asyncio.to_thread(go), t + 1)


async def http_json(method, path, status=200, body=None, headers=None,
                    timeout=None):
    r = await http(method, path, body=body, headers=headers, timeout=timeout)
    check(r.status == status, f"{method} {path}: expected {status}, got {r}")
    ct = r.header("content-type", "")
    check(ct.startswith("application/json"),
          f"{method} {path}: Content-Type {ct!r}, expected application/json")
    return r.json()


async def publish(room, content=None, msg=None, headers=None, **extra):
    """POST /publish/{room}; checks 202 {"seq": N}; returns N."""
    m = msg if msg is not None else text_msg(content, **extra)
    r = await http("POST", "/publish/" + room, body=m, headers=headers)
    check(r.status == 202, f"POST /publish/{room}: expected 202, got {r}")
    j = r.json()
    check(match(j, {"seq": int}), f"POST /publish/{room}: expected "
          f'{{"seq": N}}, got {show(j)}')
    return j["seq"]


def error_body(code=None):
    return {"type": "error",
            "data": {"code": code if code is not None else
                     (lambda c: isinstance(c, str) and c != ""),
                     "message": lambda m: isinstance(m, str) and m != ""}}


async def expect_http_error(method, path, status, code=None, body=None,
                            headers=None):
    """An HTTP error with the section 5 JSON body."""
    r = await http(method, path, body=body, headers=headers)
    check(r.status == status, f"{method} {path}: expected {status}, got {r}")
    ct = r.header("content-type", "")
    check(ct.startswith("application/json"), f"{method} {path}: error "
          f"Content-Type {ct!r}, expected application/json; body "
          f"{show(r.body)}")
    j = r.json()
    check(match(j, error_body(code)), f"{method} {path}: error body "
          f"{show(j)} does not have the shape "
          f'{{"type":"error","data":{{"code":{code or "..."!r},'
          f'"message":"..."}}}}')
    return r


# --- Server-Sent Events


class Event:
    def __init__(self, lines):
        self.lines = lines
        self.fields = []
        self.comments = []
        for ln in lines:
            if ln.startswith(":"):
                self.comments.append(ln[1:].lstrip(" "))
                continue
            k, sep, v = ln.partition(":")
            if sep and v.startswith(" "):
                v = v[1:]
            self.fields.append((k, v))
        self.id = self._last("id")
        self.event = self._last("event")
        self.retry = self._last("retry")
        datas = [v for k, v in self.fields if k == "data"]
        self.data = "\n".join(datas) if datas else None
        self.ndata = len(datas)

    def _last(self, name):
        v = None
        for k, x in self.fields:
            if k == name:
                v = x
        return v

    def json(self):
        try:
            return json.loads(self.data)
        except (TypeError, ValueError):
            fail(f"SSE data is not JSON: {self.lines}")

    def __repr__(self):
        return repr(self.lines)


class SSE:
    """An event stream read over a raw socket (chunked or not)."""

    def __init__(self, r, status, headers, path):
        self.r, self.status, self.headers, self.path = r, status, headers, path
        self.chunked = "chunked" in headers.get("transfer-encoding",
                                                "").lower()
        self.text = ""
        self.raw = b""
        self.ended = False
        self.blocks = []

    @classmethod
    async def open(cls, path, headers=None, expect=200):
        r = await Raw.connect(f"SSE {path}")
        h = {"Host": f"{HOST}:{PORT}", "Accept": "text/event-stream"}
        h.update(headers or {})
        req = f"GET {path} HTTP/1.1\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n"
        await r.sendall(req.encode())
        status, rh = await r.read_http_head()
        if status is None:
            fail(f"SSE {path}: the connection closed with no response")
        if expect is not None and status != expect:
            body = b""
            try:
                body = await _read_body(r, rh, time.monotonic() + WAIT,
                                        status)
            except Fail:
                pass
            fail(f"SSE {path}: expected {expect}, got {status} {rh} "
                 f"{show(body)}")
        return cls(r, status, rh, path)

    async def _fill(self, deadline, what):
        r = self.r
        if self.ended:
            return False
        if self.chunked:
            ln = await r.read_until(b"\r\n", deadline - time.monotonic(),
                                    what)
            if ln is None:
                self.ended = True
                return False
            size = int(ln.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                self.ended = True
                return False
            data = await r.read_exact(size + 2, deadline, what)
            if data is None:
                self.ended = True
                return False
            data = data[:-2]
        else:
            if not r.buf:
                if not await r._more(deadline, what):
                    self.ended = True
                    return False
            data, r.buf = r.buf, b""
        self.raw += data
        # decode only whole UTF-8 sequences
        try:
            s = self.raw.decode("utf-8")
            self.raw = b""
        except UnicodeDecodeError as e:
            if e.start < len(self.raw) - 3:
                fail(f"{self.path}: the stream is not UTF-8: "
                     f"{show(self.raw)}")
            s = self.raw[:e.start].decode("utf-8")
            self.raw = self.raw[e.start:]
        self.text += s
        return True

    async def line(self, timeout=None, what="a line"):
        deadline = time.monotonic() + wait_s(timeout)
        while True:
            m = re.search(r"\r\n|\r(?!$)|\n", self.text)
            if m:
                ln = self.text[:m.start()]
                self.text = self.text[m.end():]
                return ln
            if not await self._fill(deadline, f"{what} on {self.path}"):
                return None

    async def block(self, timeout=None):
        """The lines up to the next blank line (one event, or comments);
        None at the end of the stream."""
        deadline = time.monotonic() + wait_s(timeout)
        lines = []
        while True:
            ln = await self.line(left(deadline),
                                 "the next event")
            if ln is None:
                return None
            if ln == "":
                if lines:
                    ev = Event(lines)
                    self.blocks.append(ev)
                    return ev
                continue
            lines.append(ln)

    async def event(self, timeout=None):
        """The next block that has a data field (skips comments, retry)."""
        deadline = time.monotonic() + wait_s(timeout)
        while True:
            b = await self.block(left(deadline))
            if b is None:
                fail(f"{self.path}: the stream ended while waiting for an "
                     f"event (blocks {self.blocks[-5:]})")
            if b.data is not None:
                return b

    async def expect(self, event=ANY, id=ANY, data=ANY, timeout=None,
                     what="", skip=("presence",)):
        """The next event matches; presence events are skipped unless one
        is expected (others' joins and leaves come at any time)."""
        deadline = time.monotonic() + wait_s(timeout)
        while True:
            ev = await self.event(left(deadline))
            if ev.event in skip and not match(ev.event, event):
                continue
            break
        ok = match(ev.event, event) and match(ev.id, id) and (
            data is ANY or match(ev.json(), data))
        check(ev.ndata == 1, f"{self.path}: event {ev.lines} has "
              f"{ev.ndata} data lines, expected one JSON line")
        if not ok:
            fail(f"{self.path}: {what + ': ' if what else ''}expected event="
                 f"{pshow(event)} id={pshow(id)} data={pshow(data)}, got "
                 f"{ev.lines}")
        return ev

    async def until(self, event=ANY, id=ANY, data=ANY, timeout=None):
        deadline = time.monotonic() + wait_s(timeout)
        skipped = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                fail(f"{self.path}: no event event={pshow(event)} "
                     f"id={pshow(id)} data={pshow(data)}; skipped {skipped}")
            ev = await self.event(left)
            if match(ev.event, event) and match(ev.id, id) and (
                    data is ANY or match(ev.json(), data)):
                return ev, skipped
            skipped.append(ev)

    async def expect_end(self, timeout=None):
        deadline = time.monotonic() + wait_s(timeout)
        while await self._fill(deadline, "the end of the stream"):
            pass

    def close(self):
        self.r.close()

    async def aclose(self):
        self.r.close()


def sse_path(room, **query):
    from urllib.parse import urlencode, quote
    q = {k: v for k, v in query.items() if v is not None}
    return "/events/" + quote(room, safe="") + ("?" + urlencode(q) if q
                                                 else "")


# --- /metrics


class Metrics:
    def __init__(self, text):
        self.text = text
        self.samples = []   # (name, labels dict, value)
        self.types = {}
        self.helps = {}
        self._parse()

    def _parse(self):
        check(self.text.endswith("\n"), "/metrics does not end with a "
              "newline")
        sample_re = re.compile(
            r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?[ \t]+(\S+)([ \t]+-?\d+)?$')
        label_re = re.compile(
            r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|$)')
        seen_families = set()
        for n, ln in enumerate(self.text.split("\n")[:-1], 1):
            if ln.startswith("#"):
                p = ln.split(None, 3)
                if len(p) >= 3 and p[1] == "HELP":
                    check(p[2] not in self.helps, f"/metrics line {n}: a "
                          f"second HELP for {p[2]}")
                    self.helps[p[2]] = p[3] if len(p) > 3 else ""
                elif len(p) >= 3 and p[1] == "TYPE":
                    check(len(p) == 4 and p[3] in (
                        "counter", "gauge", "histogram", "summary",
                        "untyped"), f"/metrics line {n}: bad TYPE {ln!r}")
                    check(p[2] not in self.types, f"/metrics line {n}: a "
                          f"second TYPE for {p[2]}")
                    check(p[2] not in seen_families, f"/metrics line {n}: "
                          f"TYPE of {p[2]} after its samples")
                    self.types[p[2]] = p[3]
                continue
            if not ln.strip():
                continue
            m = sample_re.match(ln)
            check(m, f"/metrics line {n} is not a sample: {ln!r}")
            name, labels_s, value = m.group(1), m.group(3), m.group(4)
            labels = {}
            if labels_s:
                pos = 0
                while pos < len(labels_s):
                    lm = label_re.match(labels_s, pos)
                    check(lm, f"/metrics line {n}: bad labels {ln!r}")
                    labels[lm.group(1)] = re.sub(
                        r'\\(.)', lambda x: {"n": "\n"}.get(x.group(1),
                                                            x.group(1)),
                        lm.group(2))
                    pos = lm.end()
            try:
                v = float(value)
            except ValueError:
                fail(f"/metrics line {n}: bad value {ln!r}")
            fam = self.family(name)
            seen_families.add(fam)
            check(fam in self.types, f"/metrics line {n}: sample {name} "
                  "has no TYPE line before it")
            self.samples.append((name, labels, v))
        for fam in self.types:
            check(fam in self.helps, f"/metrics: {fam} has TYPE but no HELP")

    def family(self, name):
        if name in self.types:
            return name
        for suf in ("_bucket", "_sum", "_count"):
            if name.endswith(suf) and name[:-len(suf)] in self.types:
                return name[:-len(suf)]
        return name

    def find(self, name_re, **label_res):
        """Samples whose name matches name_re (search) and whose labels
        match each given regex (fullmatch)."""
        out = []
        for name, labels, v in self.samples:
            if not re.search(name_re, name):
                continue
            if all(k in labels and re.fullmatch(r, labels[k])
                   for k, r in label_res.items()):
                out.append((name, labels, v))
        return out

    def sum(self, name_re, **label_res):
        return sum(v for _, _, v in self.find(name_re, **label_res))

    def value_map(self):
        return {(n, tuple(sorted(l.items()))): v for n, l, v in self.samples}


async def metrics():
    r = await http("GET", "/metrics")
    check(r.status == 200, f"GET /metrics: expected 200, got {r}")
    return Metrics(r.body.decode("utf-8"))


def metrics_delta(before, after):
    """{(name, labels): increase} for every sample that went up."""
    b = before.value_map()
    out = {}
    for k, v in after.value_map().items():
        if v > b.get(k, 0):
            out[k] = v - b.get(k, 0)
    return out


async def wait_metric(name_re, pred, timeout=None, what="", **label_res):
    """Poll /metrics until pred(sum of the matching samples) is true."""
    t = wait_s(timeout)
    deadline = time.monotonic() + t
    delay = 0.02
    while True:
        m = await metrics()
        v = m.sum(name_re, **label_res)
        if pred(v):
            return m
        if time.monotonic() > deadline:
            fail(f"/metrics: {what or name_re} is still {v:g} after {t:g}s "
                 f"(samples: {m.find(name_re)})")
        await asyncio.sleep(delay)  # polling with a deadline, not a sync
        delay = min(delay * 2, 0.25)


async def poll_until(fn, what, timeout=None):
    """Call the coroutine fn until it returns a true value (polling)."""
    t = wait_s(timeout)
    deadline = time.monotonic() + t
    delay = 0.02
    while True:
        v = await fn()
        if v:
            return v
        if time.monotonic() > deadline:
            fail(f"{what}: not true within {t:g}s")
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.25)


# --- tokens and the server process


def token(sub, secret, ttl=None, rooms=None, now=None):
    cmd = [RTCTL, "token", "--secret", secret, "--sub", sub]
    if ttl:
        cmd += ["--ttl", ttl]
    if rooms:
        cmd += ["--rooms", rooms]
    if now is not None:
        cmd += ["--now", str(now)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    check(p.returncode == 0, f"{' '.join(cmd)} failed: {p.stderr}")
    return p.stdout.strip()


def _b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def jwt(claims, secret, alg="HS256", header=None):
    """A JWT signed here (for claims `rtctl token` will not mint)."""
    import hmac
    h = header or {"alg": alg, "typ": "JWT"}
    msg = (_b64url(json.dumps(h, separators=(",", ":")).encode()) + "." +
           _b64url(json.dumps(claims, separators=(",", ":")).encode()))
    dig = {"HS256": hashlib.sha256, "HS384": hashlib.sha384,
           "HS512": hashlib.sha512}[alg]
    sig = hmac.new(secret.encode(), msg.encode(), dig).digest()
    return msg + "." + _b64url(sig)


def tamper(tok):
    """The token with one claim changed and the old signature."""
    h, p, s = tok.split(".")
    claims = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
    claims["sub"] = "mallory"
    return h + "." + _b64url(json.dumps(claims).encode()) + "." + s


async def server_gone():
    """True once the server process has exited (gone or a zombie)."""
    try:
        with open(f"/proc/{SERVER_PID}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


async def still_serving(room="still-serving", what=""):
    """Another client still works: /health answers and a fresh WebSocket
    client joins, sends and gets its ack."""
    r = await http("GET", "/health")
    check(r.status == 200, f"{what}: afterwards GET /health answered {r}")
    ws = await join(room, user="bystander", name=f"bystander ({what})")
    await ws.say("still there?")
    await ws.close()


# --- running a program


def run(main, limit=None):
    """Run the coroutine function main; on failure print FAIL and exit 1.
    limit (RT_E2E_LIMIT, 45 s) is in unscaled seconds, like timeout=."""
    limit = (limit or float(os.environ.get("RT_E2E_LIMIT", "45"))) * SCALE

    async def wrapper():
        try:
            await asyncio.wait_for(main(), limit)
        finally:
            for p in list(_open):
                try:
                    if isinstance(p, WS):
                        p.conn.transport.abort() if p.conn.transport else None
                    else:
                        p.close()
                except Exception:
                    pass

    # Not asyncio.run: at its end it cancels the tasks a check left
    # running (a trickle, a keepalive) and waits for them, and Python
    # 3.11's wait_for can swallow a cancel, leaving a `while True` task
    # that never ends and a script killed with no message.  The verdict is
    # known when main ends: report it and leave at once.
    rc = 1
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(wrapper())
        rc = 0
    except Fail as e:
        print(f"FAIL: {e}", file=sys.stderr)
    except asyncio.TimeoutError:
        traceback.print_exc()
        print(f"FAIL: the checks took over {limit:g}s", file=sys.stderr)
    except Exception:
        traceback.print_exc()
        print("FAIL: the driver raised an exception (above)",
              file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(rc)
