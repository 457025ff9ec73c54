#!/bin/sh
# Resume over a history bigger than --max-queue-bytes (issue 10, item 1):
# 1,000 stored messages of 2 KB (2 MB) replayed to a WebSocket and an SSE
# client with the default 1 MiB send queue.  The replay is streamed as
# the socket drains: the welcome first, every message once and in order,
# live messages held behind it, then `resumed`; a replay the history
# overtakes ends with recovered:false, never a silent gap.
. "$(dirname "$0")/lib.sh"

start_server

cat >fill.py <<'EOF'
async def fill(room, first, last, size=2000):
    """POST texts of about |size| bytes with seqs first..last."""
    r = await Raw.connect("publisher")
    for n in range(first, last + 1):
        body = json.dumps(text_msg(f"m{n} " + "x" * size)).encode()
        await r.sendall(
            f"POST /publish/{room} HTTP/1.1\r\nHost: x\r\n"
            f"Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        resp = await r.read_http_response()
        check(resp is not None and resp.status == 202 and
              json.loads(resp.body)["seq"] == n, f"publish m{n}: {resp}")
        # the server closes a connection that carried a body
        r.close()
        r = await Raw.connect("publisher")
    r.close()

def content_seq(obj):
    return int(obj["data"]["content"].split(" ", 1)[0][1:])
EOF

ok_py "WebSocket ?since=0 over 2 MB of history: welcome, 1..1000 in order, resumed recovered:true" <<'EOF'
exec(open("fill.py").read())
async def main():
    await fill("long", 1, 1000)
    w = await ws_connect("/ws/long?user=back&since=0", name="resumer")
    f = await w.recv()
    check(match(f, {"type": "system", "data": {"event": "welcome"}}),
          f"the first frame is not the welcome: {show(f)}")
    for n in range(1, 1001):
        f = await w.recv()
        check(match(f, {"type": "text", "seq": n}) and
              content_seq(f) == n, f"replay: expected seq {n}, got "
              f"{show(f, 200)}")
    await w.expect({"type": "system", "data": {
        "event": "resumed", "from": 1, "to": 1000, "recovered": True}})
    await w.say("live after the replay")
    await w.close()
EOF

ok_py "SSE Last-Event-ID over 2 MB of history: every event once, in order, then resumed" <<'EOF'
exec(open("fill.py").read())
async def main():
    w = await join("long", user="peek")
    epoch = w.welcome["data"]["epoch"]
    top = w.welcome["data"]["seq"]
    since = top - 1000  # all 1000 held messages
    s = await SSE.open(sse_path("long"), headers={"Last-Event-ID":
                                                  f"{epoch}-{since}"})
    await s.expect(event="system", data={"data": {"event": "welcome"}})
    for n in range(since + 1, top + 1):
        ev = await s.expect(event="text", id=f"{epoch}-{n}")
    await s.expect(event="system", data={"data": {
        "event": "resumed", "from": since + 1, "to": top,
        "recovered": True}})
EOF

ok_py "live messages during a stalled replay are held behind it, in order" <<'EOF'
exec(open("fill.py").read())
async def main():
    w = await join("long", user="peek2")
    top = w.welcome["data"]["seq"]
    # a reader that takes nothing for now: the replay waits for it
    since = top - 800
    r = await Raw.ws(f"/ws/long?user=slow&since={since}", name="stalled",
                     rcvbuf=4096)
    await fill("long", top + 1, top + 150)
    await publish("long", "one more")
    m = await r.recv_json()
    check(match(m, {"type": "system", "data": {"event": "welcome"}}),
          f"first frame: {show(m)}")
    # every seq once and in order, the replay and the live ones alike, with
    # `resumed` between them where the replay caught up
    n, resumed = since, None
    while n < top + 151:
        m = await r.recv_json()
        if match(m, {"type": "text"}):
            n += 1
            check(m["seq"] == n, f"expected seq {n}, got {show(m, 200)}")
        elif match(m, {"type": "system", "data": {"event": "resumed"}}):
            check(resumed is None, f"a second resumed: {show(m)}")
            resumed = m
            check(m["data"]["recovered"] is True and m["data"]["to"] == n
                  and m["data"]["from"] == since + 1,
                  f"after seq {n}: {show(m)}")
        else:
            check(match(m, {"type": "presence"}), f"unexpected {show(m)}")
    check(resumed is not None, "no resumed frame")
    still = await metrics()
    check(still.sum("rtctl_slow_consumer") == 0, "a replay was dropped as "
          "a slow consumer")
EOF
expect_clean_stop

# Messages of 100 KB, so that what the stalled reader lacks outgrows what
# the kernel's socket buffers (4 MB at most here) can take for it, and a
# queue that holds the live messages after the replay gives up.
start_server --history 50 --max-message-bytes 200k --max-body-bytes 300k \
    --max-queue-bytes 64m
ok_py "a replay the history overtakes ends with recovered:false, then live" <<'EOF'
exec(open("fill.py").read())
async def main():
    await fill("short", 1, 50, size=100000)
    r = await Raw.ws("/ws/short?user=slow&since=0", name="stalled",
                     rcvbuf=4096)
    # 150 more while the reader stalls: the first ones it lacks are gone
    await fill("short", 51, 200, size=100000)
    m = await r.recv_json()
    check(match(m, {"type": "system", "data": {"event": "welcome"}}),
          f"first frame: {show(m)}")
    last = 0
    while True:
        m = await r.recv_json()
        if match(m, {"type": "system", "data": {"event": "resumed"}}):
            break
        check(match(m, {"type": "text"}) and m["seq"] == last + 1,
              f"after seq {last}: {show(m, 200)}")
        last = m["seq"]
    check(m["data"]["recovered"] is False and last < 200,
          f"{last} of 200 replayed, then {show(m)}: the loss must be told")
    # then live, in order: what was stored after the replay gave up, up
    # to a message published now
    seq = await publish("short", "after")
    prev = last
    while prev < seq:
        f = await r.recv_json()
        check(match(f, {"type": "text"}) and f["seq"] > prev,
              f"live after seq {prev}: {show(f, 200)}")
        prev = f["seq"]
    check((await metrics()).sum("rtctl_slow_consumer") == 0,
          "the stalled replay was dropped as a slow consumer")
EOF
expect_clean_stop
done_testing
