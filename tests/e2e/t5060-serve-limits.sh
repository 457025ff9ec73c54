#!/bin/sh
# rtctl serve limits, each with its documented error and close code
# (PROTOCOL.md section 5): message size, rate, room and user connection
# counts, HTTP body size, and the slow consumer whose send queue passes
# --max-queue-bytes while everyone else keeps receiving.
. "$(dirname "$0")/lib.sh"

start_server --max-message-bytes 1000 --max-body-bytes 2000 \
    --max-room-connections 3 --max-user-connections 2

ok_py "--max-message-bytes: a frame of exactly the limit passes, one byte more is too_large, close 1009" <<'EOF'
async def main():
    def msg_of(n):
        base = json.dumps(text_msg(""))
        m = json.dumps(text_msg("x" * (n - len(base))))
        assert len(m) == n
        return m
    a = await join("big", user="alice")
    await a.send_text(msg_of(1000))
    await a.expect_set([{"type": "ack", "data": {"seq": 1}},
                        {"type": "text", "seq": 1}],
                       what="a 1000-byte frame with --max-message-bytes 1000")
    await a.send_text(msg_of(1001))
    frames = await a.expect_close(1009, what="a 1001-byte frame")
    for f in frames:
        check(match(f, error_body("too_large")),
              f"before the close came {show(f)}")
    b = await join("big", user="bob")
    check(b.welcome["data"]["seq"] == 1, "the oversize message was stored: "
          f"{show(b.welcome)}")
    # a message over the limit in small fragments is refused the same way
    r = await Raw.ws("/ws/big?user=frag", name="fragmented")
    await r.expect_json({"type": "system", "data": {"event": "welcome"}})
    big = msg_of(1500).encode()
    await r.send_frame(OP_TEXT, big[:500], fin=False)
    await r.send_frame(OP_CONT, big[500:1000], fin=False)
    await r.send_frame(OP_CONT, big[1000:], fin=True, ignore_errors=True)
    await r.expect_close(1009, what="1500 bytes in three fragments")
    await b.say("still fine")
EOF

ok_py "HTTP: a body over --max-body-bytes is 413, a message over the limit too" <<'EOF'
async def main():
    rooms = (await http_json("GET", "/rooms"))["rooms"]
    before = [r["seq"] for r in rooms if r["room"] == "big"][0]
    r = await http("POST", "/publish/big", body=json.dumps(text_msg("y" * 3000)))
    check(r.status == 413, f"a 3000-byte body with --max-body-bytes 2000: {r}")
    r = await http("POST", "/publish/big", body=json.dumps(text_msg("y" * 1500)))
    check(r.status == 413, f"a 1500-byte message with --max-message-bytes "
          f"1000: {r}")
    check(match(r.json(), error_body("too_large")), f"body {show(r.body)}")
    seq = await publish("big", "small")
    check(seq == before + 1, f"refused bodies were stored: the room was at "
          f"seq {before} and the next publish got {seq}")
EOF

ok_py "--max-room-connections 3: the fourth gets room_full and close 1013; other rooms are open" <<'EOF'
async def main():
    cs = [await join("full", user=f"u{i}") for i in range(3)]
    ws = await ws_connect("/ws/full?user=u3", name="fourth")
    frames = await ws.expect_close(1013, what="the fourth connection")
    for f in frames:
        check(match(f, error_body("room_full")), f"before the close: {show(f)}")
    check(any(match(f, error_body("room_full")) for f in frames) or
          ws.conn.close_reason, "neither a room_full error frame nor a "
          "close reason says why")
    other = await join("not-full", user="u3")
    await other.say("fine here")
    await cs[0].close()
    async def try_join():
        w = await ws_connect("/ws/full?user=u4", name="after a leave")
        try:
            f = await w.recv()
        except Fail:
            return None
        if match(f, {"type": "system", "data": {"event": "welcome"}}):
            return w
        await w.closed()
        return None
    w = await poll_until(try_join, "a place frees up once a member leaves")
    await w.say("in")
EOF

ok_py "--max-user-connections 2: the third of a user gets too_many_connections and close 1008" <<'EOF'
async def main():
    a1 = await join("u-a", user="zoe")
    a2 = await join("u-b", user="zoe")
    ws = await ws_connect("/ws/u-c?user=zoe", name="zoe's third")
    frames = await ws.expect_close(1008, what="a user's third connection")
    for f in frames:
        check(match(f, error_body("too_many_connections")),
              f"before the close: {show(f)}")
    other = await join("u-c", user="yan")
    await other.say("others are fine")
    await a2.say("zoe's two still work")
EOF
expect_clean_stop

start_server --rate 5
ok_py "--rate 5: a burst of 10 passes, the rest is rate_limited, not stored, connection kept" <<'EOF'
async def main():
    a = await join("rate", user="alice")
    b = await join("rate", user="bob")
    await a.expect({"type": "presence", "data": {"event": "join", "user": "bob"}})
    n = 30
    for i in range(n):
        await a.send(text_msg(f"r{i}", id=f"r{i}"))
    acked, limited, texts = [], [], []
    while len(acked) + len(limited) < n:
        f = await a.recv()
        if f["type"] == "ack":
            acked.append(f)
        elif f["type"] == "error":
            check(match(f, {"type": "error", "id": str,
                            "data": {"code": "rate_limited"}}),
                  f"unexpected error {show(f)}")
            limited.append(f)
        elif f["type"] == "text":
            texts.append(f)
        else:
            fail(f"unexpected frame {show(f)}")
    check(10 <= len(acked) <= 20, f"{len(acked)} of {n} sent at once were "
          "accepted with --rate 5 (burst 10)")
    check(len(limited) >= 5, f"only {len(limited)} were rate limited")
    seqs = [f["data"]["seq"] for f in acked]
    check(seqs == list(range(1, len(acked) + 1)),
          f"accepted seqs {seqs}: a limited message used a seq")
    # bob has his own bucket
    seq = await b.say("bob is not limited", skip=[{"type": "text"},
                                                   {"type": "presence"}])
    check(seq == len(acked) + 1, f"bob's message got seq {seq}")
    # the bucket refills: alice's connection was kept and works again
    async def again():
        await a.send(text_msg("after the burst", id="later"))
        while True:
            f = await a.recv()
            if f.get("id") == "later" and f["type"] in ("ack", "error"):
                return f["type"] == "ack"
    await poll_until(again, "alice can send again once the bucket refills")
EOF
expect_clean_stop

start_server --max-queue-bytes 262144
ok_py "a reader that stalls is closed 1013 as a slow consumer; the others get everything" <<'EOF'
async def main():
    m0 = await metrics()
    stalled = await Raw.ws("/ws/flood?user=stalled", name="stalled reader",
                           rcvbuf=4096, exact=True)
    good = await join("flood", user="reader")
    pub = await join("flood", user="publisher")
    n, size = 600, 16000
    body = "z" * size
    received = []
    async def read_all():
        while len(received) < n:
            f = await good.recv(timeout=30)
            if f["type"] == "text":
                received.append(f["seq"])
    reader = asyncio.ensure_future(read_all())
    async def drain_pub():
        got = 0
        while got < 2 * n:
            f = await pub.recv(timeout=30)
            if f["type"] in ("ack", "text"):
                got += 1
    drainer = asyncio.ensure_future(drain_pub())
    t0 = time.monotonic()
    for i in range(n):
        await pub.send(text_msg(body, id=str(i)))
    await asyncio.wait_for(reader, 40)
    await asyncio.wait_for(drainer, 40)
    check(received == list(range(1, n + 1)), "the reading subscriber missed "
          f"messages: {len(received)} of {n}")
    m1 = await wait_metric(r"slow", lambda v: v >= 1, timeout=20,
                           what="the slow-consumer counter")
    # now read what the stalled peer was sent: a prefix, then close 1013
    msgs = await stalled.expect_close(1013, timeout=30,
                                      what="the stalled reader")
    seqs = [json.loads(p)["seq"] for op, p in msgs
            if json.loads(p).get("type") == "text"]
    check(seqs == list(range(1, len(seqs) + 1)) and len(seqs) < n,
          f"the stalled reader got seqs {seqs[:3]}..{seqs[-3:]} ({len(seqs)})")
    errs = [json.loads(p) for op, p in msgs if json.loads(p).get("type") == "error"]
    for e in errs:
        check(match(e, error_body("slow_consumer")), f"error frame {show(e)}")
    d = metrics_delta(m0, m1)
    check(any("slow" in k[0] for k in d), f"no slow-consumer sample went up: {d}")
    await good.say("still here")
EOF
expect_clean_stop
ok "the server exits 0 on SIGTERM"
done_testing
