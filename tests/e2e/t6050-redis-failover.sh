#!/bin/sh
# rtctl serve --redis: failover.  100 WebSocket and 100 SSE clients are
# given both instances' URLs and start on A; a publisher keeps publishing
# to B; A is killed halfway (no goodbye).  Each client moves to B by
# itself, resuming from its last seq (WebSocket since/epoch, SSE
# lastEventId), and ends with seq 1..N exactly once, in order, told
# recovered:true.
. "$(dirname "$0")/lib.sh"

start_redis
start_server --redis "$REDIS_URL" --max-user-connections 0
A=$PORT
APID=$SERVER_PID
start_server --redis "$REDIS_URL" --max-user-connections 0
B=$PORT
healthy() {
    curl -fsS "http://127.0.0.1:$1/health" >/dev/null 2>&1
}
wait_until 20 "A up" healthy "$A"
wait_until 20 "B up" healthy "$B"

ok_py "100 WebSocket and 100 SSE clients fail over from A to B: 1..N once, in order, recovered:true" \
    "$A" "$B" "$APID" <<'EOF'
import os
import signal
from urllib.parse import urlencode
import rtws

A, B, APID = int(ARGS[0]), int(ARGS[1]), int(ARGS[2])
N, HALF, NWS, NSSE = 60, 30, 100, 100
ROOM = "fo"
GONE = (OSError, ConnectionClosed, asyncio.TimeoutError,
        asyncio.IncompleteReadError, websockets.exceptions.InvalidHandshake)


class Client:
    def __init__(self, name):
        self.name = name
        self.seqs = []
        self.resumed = []
        self.epoch = None
        self.ready = asyncio.Event()
        self.moves = 0

    def text(self, f):
        self.seqs.append(f["seq"])

    def system(self, f):
        d = f.get("data", {})
        if d.get("event") == "welcome":
            if self.epoch is None:
                self.epoch = d["epoch"]
            check(d["epoch"] == self.epoch,
                  f"{self.name}: epoch {d['epoch']} after {self.epoch}")
            self.ready.set()
        elif d.get("event") == "resumed":
            self.resumed.append(d.get("recovered"))

    def done(self):
        return self.seqs[-1:] == [N]


async def ws_client(c, end):
    ports = [A, B]
    while not c.done():
        q = {"user": c.name}
        if c.seqs:
            q.update(since=c.seqs[-1], epoch=c.epoch)
        url = f"ws://127.0.0.1:{ports[c.moves % 2]}/ws/{ROOM}?{urlencode(q)}"
        try:
            async with websockets.connect(
                    url, ping_interval=None, max_queue=None,
                    open_timeout=max(end - time.monotonic(), 0.1)) as ws:
                while not c.done():
                    f = json.loads(await asyncio.wait_for(
                        ws.recv(), max(end - time.monotonic(), 0.1)))
                    if f.get("type") == "text":
                        c.text(f)
                    elif f.get("type") == "system":
                        c.system(f)
        except GONE:
            pass
        if not c.done():
            check(time.monotonic() < end, f"{c.name}: not done in time, "
                  f"seqs {c.seqs[-5:]}")
            c.moves += 1
            await asyncio.sleep(0.05)  # a reconnect pace, not a wait


async def sse_events(r, w):
    """The events of one stream, as dicts of fields, until it ends."""
    status = await r.readline()
    check(b" 200 " in status, f"SSE status {status!r}")
    chunked = False
    while True:
        ln = await r.readline()
        if ln in (b"\r\n", b"\n", b""):
            break
        if ln.lower().startswith(b"transfer-encoding:") and b"chunked" in ln.lower():
            chunked = True
    buf = b""
    while True:
        if chunked:
            size = await r.readline()
            if not size:
                return
            n = int(size.split(b";")[0].strip() or b"0", 16)
            if n == 0:
                return
            data = await r.readexactly(n + 2)
            buf += data[:-2]
        else:
            data = await r.read(65536)
            if not data:
                return
            buf += data
        while b"\n\n" in buf:
            block, buf = buf.split(b"\n\n", 1)
            ev = {}
            for ln in block.decode().split("\n"):
                if ln.startswith(":"):
                    continue
                k, _, v = ln.partition(":")
                ev[k] = v[1:] if v.startswith(" ") else v
            if "data" in ev:
                yield ev


async def sse_client(c, end):
    ports = [A, B]
    last_id = None
    while not c.done():
        q = {"user": c.name}
        if last_id:
            q["lastEventId"] = last_id
        port = ports[c.moves % 2]
        w = None
        try:
            r, w = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", port),
                max(end - time.monotonic(), 0.1))
            w.write(f"GET /events/{ROOM}?{urlencode(q)} HTTP/1.1\r\n"
                    f"Host: 127.0.0.1:{port}\r\n"
                    "Accept: text/event-stream\r\n\r\n".encode())
            gen = sse_events(r, w)
            while not c.done():
                ev = await asyncio.wait_for(gen.__anext__(),
                                            max(end - time.monotonic(), 0.1))
                f = json.loads(ev["data"])
                if ev.get("event") == "text":
                    c.text(f)
                    last_id = ev.get("id") or last_id
                elif ev.get("event") == "system":
                    c.system(f)
        except (StopAsyncIteration,) + GONE:
            pass
        finally:
            if w is not None:
                w.close()
        if not c.done():
            check(time.monotonic() < end, f"{c.name}: not done in time, "
                  f"seqs {c.seqs[-5:]}")
            c.moves += 1
            await asyncio.sleep(0.05)


async def main():
    end = time.monotonic() + WAIT * 9
    ws = [Client(f"w{i}") for i in range(NWS)]
    sse = [Client(f"s{i}") for i in range(NSSE)]
    tasks = [asyncio.create_task(ws_client(c, end)) for c in ws]
    tasks += [asyncio.create_task(sse_client(c, end)) for c in sse]
    for c in ws + sse:
        await asyncio.wait_for(c.ready.wait(), max(end - time.monotonic(),
                                                   0.1))
    rtws.PORT = B
    rtws.BASE = f"http://127.0.0.1:{B}"
    for i in range(1, N + 1):
        if i == HALF + 1:
            os.kill(APID, signal.SIGKILL)
        s = await publish(ROOM, f"m{i}")
        check(s == i, f"m{i} stored as {s}")
        await asyncio.sleep(0.02)  # a publishing pace, not a wait
    await asyncio.wait_for(asyncio.gather(*tasks),
                           max(end - time.monotonic(), 0.1))
    for c in ws + sse:
        check(c.seqs == list(range(1, N + 1)),
              f"{c.name}: seqs {c.seqs}, want 1..{N} once each in order")
        check(c.moves >= 1 and c.resumed and all(c.resumed),
              f"{c.name}: moved {c.moves} times, resumed {c.resumed}; "
              "want a move to B and recovered:true")
EOF
done_testing
