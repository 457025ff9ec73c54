"""wsscript.py: a scripted WebSocket peer for the WebSocket client tests.

    python3 wsscript.py SCENARIO PORTFILE LOGFILE

Listens on 127.0.0.1 (a free port, written to PORTFILE once listening) and
runs SCENARIO, a Python file defining handle(c), once per connection, each
on its own thread.  |c| is a Conn: c.n is the connection's number (1 for
the first), and its methods read the request, answer it, send frames and
read the client's.  When handle() returns (or raises) the TCP connection
is closed, without a close frame unless the scenario sent one.

A scenario imports what it needs from here (`from wsscript import ...`):
the frame builders welcome(), text() and resumed() give rtctl-protocol(7)
server frames.

What the peer saw goes to LOGFILE, one JSON object a line, flushed:
  {"conn":N,"event":"request","line":"GET /ws/r?since=0 HTTP/1.1"}
  {"conn":N,"event":"frame","op":1,"len":L,"text":T}   (T: the first 200
      characters; "id" too when the text is a JSON object with an id)
  {"conn":N,"event":"frame","op":8,"code":C,"reason":R}  (a close frame)
  {"conn":N,"event":"end","why":W}      (handle() returned or raised)
so that a test can check what the client sent, and when.

Nothing here is a WebSocket server for real use: no extensions, no checks
beyond what a test needs, frames from the client must be masked (RFC 6455
5.3 says they always are).
"""
import base64
import hashlib
import json
import os
import socket
import struct
import sys
import threading
import time

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

_log = None
_log_lock = threading.Lock()


def log(conn, event, **fields):
    """Append one line to LOGFILE."""
    rec = {"conn": conn, "event": event}
    rec.update(fields)
    with _log_lock:
        _log.write(json.dumps(rec, separators=(",", ":")) + "\n")
        _log.flush()


# --- rtctl-protocol(7) server frames


def welcome(user, epoch, seq):
    return {"type": "system", "room": "r",
            "data": {"event": "welcome", "user": user, "epoch": epoch,
                     "seq": seq, "online": [user]}}


def text(seq, content, author="someone", id=None):
    m = {"type": "text", "room": "r", "seq": seq,
         "data": {"author": author, "content": content}}
    if id is not None:
        m["id"] = id
    return m


def resumed(first, last, recovered):
    return {"type": "system", "room": "r",
            "data": {"event": "resumed", "from": first, "to": last,
                     "recovered": recovered}}


# --- one connection


class Conn:
    def __init__(self, sock, n):
        self.sock = sock
        self.n = n
        self.buf = b""
        self.close_sent = False

    def _need(self, k):
        """Read until self.buf holds |k| bytes; EOFError at the end."""
        while len(self.buf) < k:
            d = self.sock.recv(65536)
            if not d:
                raise EOFError("the client closed the TCP connection")
            self.buf += d

    def request(self):
        """Read the HTTP request head; log its first line; return it."""
        self.sock.settimeout(10)
        while b"\r\n\r\n" not in self.buf:
            d = self.sock.recv(65536)
            if not d:
                raise EOFError("no request")
            self.buf += d
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        self.head = head.decode("latin-1")
        log(self.n, "request", line=self.head.split("\r\n")[0])
        return self.head

    def answer(self, status, headers=(), body=b""):
        """An HTTP answer other than the upgrade."""
        lines = ["HTTP/1.1 %d Scripted" % status,
                 "Content-Length: %d" % len(body), "Connection: close"]
        lines += list(headers)
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)

    def upgrade(self):
        """Accept the WebSocket upgrade (101)."""
        key = ""
        for line in self.head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "sec-websocket-key":
                key = value.strip()
        accept = base64.b64encode(
            hashlib.sha1((key + GUID).encode()).digest()).decode()
        self.sock.sendall(("HTTP/1.1 101 Switching Protocols\r\n"
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Accept: %s\r\n\r\n" % accept)
                          .encode())

    def frame(self, payload, op=1, fin=True):
        """Send one unmasked frame (server to client)."""
        if isinstance(payload, str):
            payload = payload.encode()
        head = bytes([(0x80 if fin else 0) | op])
        n = len(payload)
        if n < 126:
            head += bytes([n])
        elif n < 65536:
            head += bytes([126]) + struct.pack(">H", n)
        else:
            head += bytes([127]) + struct.pack(">Q", n)
        self.sock.sendall(head + payload)

    def send(self, msg):
        """Send a text frame: |msg| as JSON, or a str as it is."""
        self.frame(msg if isinstance(msg, str) else json.dumps(msg))

    def close(self, code, reason=""):
        """Send a close frame."""
        self.close_sent = True
        self.frame(struct.pack(">H", code) + reason.encode(), op=8)

    def recv(self, timeout=10):
        """Read and log one frame from the client: (opcode, payload).

        EOFError when the connection ends, socket.timeout after |timeout|
        seconds without one.  Fragments come as they are (opcode 0)."""
        self.sock.settimeout(timeout)
        self._need(2)
        op, n, off = self.buf[0] & 0x0F, self.buf[1] & 0x7F, 2
        if n == 126:
            self._need(4)
            n, off = struct.unpack(">H", self.buf[2:4])[0], 4
        elif n == 127:
            self._need(10)
            n, off = struct.unpack(">Q", self.buf[2:10])[0], 10
        self._need(off + 4 + n)
        mask = self.buf[off:off + 4]
        data = self.buf[off + 4:off + 4 + n]
        self.buf = self.buf[off + 4 + n:]
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        if op == 8:
            code = struct.unpack(">H", payload[:2])[0] if n >= 2 else None
            log(self.n, "frame", op=op, code=code,
                reason=payload[2:].decode("utf-8", "replace"))
        else:
            s = payload.decode("utf-8", "replace")
            rec = {"op": op, "len": n, "text": s[:200]}
            try:
                obj = json.loads(s)
                if isinstance(obj, dict) and "id" in obj:
                    rec["id"] = obj["id"]
            except ValueError:
                pass
            log(self.n, "frame", **rec)
        return op, payload

    def until_close(self, timeout=10):
        """Read (and log) frames until the client's close frame, answered
        with one unless ours went first; return its payload."""
        while True:
            op, payload = self.recv(timeout)
            if op == 8:
                if not self.close_sent:
                    self.close_sent = True
                    self.frame(payload, op=8)
                return payload

    def wait_file(self, path, timeout=60):
        """Wait until |path| exists (the test says when to go on)."""
        end = time.monotonic() + timeout
        while not os.path.exists(path):
            if time.monotonic() > end:
                raise TimeoutError("no %s within %d s" % (path, timeout))
            time.sleep(0.05)


def _run(handle, c):
    why = "done"
    try:
        handle(c)
    except Exception as e:  # the client went away, a timeout...: logged
        why = "%s: %s" % (type(e).__name__, e)
    finally:
        log(c.n, "end", why=why)
        try:
            c.sock.close()
        except OSError:
            pass


def main():
    global _log
    import importlib.util

    scenario, portfile, logfile = sys.argv[1:4]
    _log = open(logfile, "a", encoding="utf-8")
    spec = importlib.util.spec_from_file_location("scenario", scenario)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)

    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    with open(portfile + ".tmp", "w") as f:
        f.write("%d\n" % srv.getsockname()[1])
    os.rename(portfile + ".tmp", portfile)
    n = 0
    while True:
        sock, _ = srv.accept()
        n += 1
        threading.Thread(target=_run, args=(mod.handle, Conn(sock, n)),
                         daemon=True).start()


if __name__ == "__main__":
    # A scenario's `from wsscript import ...` must find this module's
    # functions, and its log: the one this process runs as __main__.
    sys.modules["wsscript"] = sys.modules["__main__"]
    main()
