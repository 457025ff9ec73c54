#!/bin/sh
# Slow clients must not starve the others (issue 10, item 3), written as
# the attacks: POSTs that announce a huge body, POSTs that trickle a body
# a byte at a time, and slowloris connections that trickle their headers,
# in numbers past the old header pool of 64, from other loopback
# addresses (127.0.0.2 to 127.0.0.4).  Meanwhile /health and new WebSocket
# upgrades from 127.0.0.1 are answered; oversized bodies get 413 at once;
# trickles are cut at --request-timeout (408 for a body); one address
# gets no more than --max-address-connections.
. "$(dirname "$0")/lib.sh"

start_server --request-timeout 2s --max-address-connections 100

cat >attack.py <<'EOF'
async def conn_from(src, name):
    """A raw connection from source address src."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    s.bind((src, 0))
    loop = asyncio.get_running_loop()
    try:
        await asyncio.wait_for(loop.sock_connect(s, (HOST, PORT)), WAIT)
    except (OSError, asyncio.TimeoutError) as e:
        s.close()
        fail(f"{name}: cannot connect from {src}: {e!r}")
    return Raw(s, name)

async def healthy(what):
    r = await http("GET", "/health")
    check(r.status == 200, f"/health during {what}: {r}")
    w = await join("calm", user="calm")
    await w.say(f"still here during {what}")
    await w.close()
EOF

ok_py "90 POSTs announcing 1 GB: 413 at once, each; /health unaffected" <<'EOF'
exec(open("attack.py").read())
async def main():
    rs = []
    for i in range(90):
        r = await conn_from("127.0.0.2", f"huge{i}")
        await r.sendall(b"POST /publish/x HTTP/1.1\r\nHost: x\r\n"
                        b"Content-Type: application/json\r\n"
                        b"Content-Length: 1000000000\r\n\r\n")
        rs.append(r)
    async def refused(r):
        resp = await r.read_http_response()
        check(resp is not None and resp.status == 413,
              f"{r.name}: {resp} (no body byte was sent)")
        r.close()
    await asyncio.gather(*(refused(r) for r in rs))
    await healthy("the 413s")
EOF

ok_py "90 POSTs trickling their bodies: /health and upgrades still answered; each cut with 408" <<'EOF'
exec(open("attack.py").read())
async def main():
    rs = []
    for i in range(90):
        r = await conn_from("127.0.0.4", f"trickle{i}")
        await r.sendall(b"POST /publish/x HTTP/1.1\r\nHost: x\r\n"
                        b"Content-Type: application/json\r\n"
                        b"Content-Length: 60000\r\n\r\n{")
        rs.append(r)
    async def trickle():
        while True:
            for r in rs:
                await r.sendall(b" ", ignore_errors=True)
            await asyncio.sleep(0.2)  # the attack's pace, not a sync
    t = asyncio.ensure_future(trickle())
    await healthy("90 trickling bodies")
    # every one is ended, with a 408, however it keeps trickling
    async def cut(r):
        resp = await r.read_http_response(timeout=WAIT_BASE * 3)
        check(resp is not None and resp.status == 408,
              f"{r.name}: {resp}")
        r.close()
    await asyncio.gather(*(cut(r) for r in rs))
    t.cancel()
    m = await metrics()
    check(m.sum("rtctl_request_timeouts_total") >= 90,
          "rtctl_request_timeouts_total: "
          f"{m.sum('rtctl_request_timeouts_total')}")
EOF

ok_py "150 slowloris connections from one address: 100 at most get in, the rest are refused; /health answered; all cut" <<'EOF'
exec(open("attack.py").read())
async def main():
    async def one(i):
        try:
            r = await conn_from("127.0.0.3", f"loris{i}")
        except Fail:
            return None
        await r.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n",
                        ignore_errors=True)
        return r
    # all at once, as an attacker would (and so that a backlog that
    # overflows under load costs one retry, not one per connection)
    rs = [r for r in await asyncio.gather(*(one(i) for i in range(150)))
          if r is not None]
    check(len(rs) > 100, f"only {len(rs)} of 150 connected")
    async def trickle():
        while True:
            for r in rs:
                await r.sendall(b"X", ignore_errors=True)
            await asyncio.sleep(0.5)  # the attack's pace, not a sync
    t = asyncio.ensure_future(trickle())
    await healthy("150 slowloris connections")
    # (some of the first may already have been cut, making room)
    await wait_metric("rtctl_connections_refused_total",
                      lambda v: v >= 1, reason="address_limit",
                      what="connections refused over "
                      "--max-address-connections 100")
    # every connection ends: refused at once, or cut when its headers
    # miss --request-timeout
    async def ended(r):
        while not r.eof:
            await r._more(time.monotonic() + WAIT * 2,
                          f"{r.name} to be ended")
        r.close()
    await asyncio.gather(*(ended(r) for r in rs))
    t.cancel()
    await healthy("the end of the slowloris attack")
EOF
expect_clean_stop
done_testing
