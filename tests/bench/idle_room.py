#!/usr/bin/env python3
"""idle_room.py: what N idle WebSocket connections cost the server.

Opens N WebSocket connections to PATH on 127.0.0.1:PORT (/ws/ROOM for a
room, /echo for the plain echo endpoint), at most --inflight handshakes at
a time, reads and discards whatever the server sends on each (so a
presence storm costs the server its frames, not its queues), and once all
are open and the server has been quiet for a second, reads the server's
VmRSS from /proc/PID/status:

    RESULT path=P conns=N connect_s=T handshakes_per_s=H
           rss_before_kb=A rss_after_kb=B per_conn_b=C frames_in=F

Usage: idle_room.py PORT PATH N SERVER_PID [--inflight K] [--deadline S]
Benchmarks are not tests: this prints figures, it never fails on a time.
"""
import argparse
import asyncio
import base64
import os
import sys
import time


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


class Conn:
    frames = 0
    last = 0.0

    def __init__(self):
        self.writer = None


async def drain(reader):
    """Count frames until the server closes; server frames are unmasked."""
    buf = b""
    while True:
        data = await reader.read(65536)
        if not data:
            return
        buf += data
        while len(buf) >= 2:
            n = buf[1] & 0x7F
            hdr = 2
            if n == 126:
                if len(buf) < 4:
                    break
                n, hdr = int.from_bytes(buf[2:4], "big"), 4
            elif n == 127:
                if len(buf) < 10:
                    break
                n, hdr = int.from_bytes(buf[2:10], "big"), 10
            if len(buf) < hdr + n:
                break
            buf = buf[hdr + n:]
            Conn.frames += 1
            Conn.last = time.monotonic()


async def open_one(port, path, i, sem, conns, tasks):
    async with sem:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        sep = "&" if "?" in path else "?"
        p = path if path == "/echo" else f"{path}{sep}user=idle{i}"
        writer.write((f"GET {p} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                      "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Key: {key}\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            sys.exit(f"connection {i}: {head[:60]!r}")
        c = Conn()
        c.writer = writer
        conns.append(c)
        tasks.append(asyncio.ensure_future(drain(reader)))


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("path")
    ap.add_argument("n", type=int)
    ap.add_argument("pid", type=int)
    ap.add_argument("--inflight", type=int, default=200)
    ap.add_argument("--deadline", type=float, default=50)
    a = ap.parse_args()

    before = rss_kb(a.pid)
    sem = asyncio.Semaphore(a.inflight)
    conns, tasks = [], []
    t0 = time.monotonic()
    await asyncio.wait_for(
        asyncio.gather(*(open_one(a.port, a.path, i, sem, conns, tasks)
                         for i in range(a.n))), a.deadline)
    took = time.monotonic() - t0
    # quiet for a second: whatever the joins set off has been sent
    Conn.last = time.monotonic()
    end = time.monotonic() + a.deadline
    while time.monotonic() - Conn.last < 1.0 and time.monotonic() < end:
        await asyncio.sleep(0.2)
    after = rss_kb(a.pid)
    print(f"RESULT path={a.path} conns={a.n} connect_s={took:.2f} "
          f"handshakes_per_s={a.n / took:.0f} rss_before_kb={before} "
          f"rss_after_kb={after} "
          f"per_conn_b={(after - before) * 1024 // a.n} "
          f"frames_in={Conn.frames}", flush=True)
    for c in conns:
        c.writer.close()
    for t in tasks:
        t.cancel()


if __name__ == "__main__":
    asyncio.run(main())
