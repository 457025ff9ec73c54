#!/bin/sh
# rtctl serve: Server-Sent Events (PROTOCOL.md section 6): headers, retry,
# the welcome with its id, events byte for byte, presence and typing
# without ids, resume by Last-Event-ID and ?lastEventId=, keepalives.
. "$(dirname "$0")/lib.sh"

start_server --sse-keepalive 200ms --history 4

ok_py "200, text/event-stream, no-cache, retry: 2000, then the welcome with id EPOCH-SEQ" <<'EOF'
async def main():
    s = await SSE.open("/events/s?user=sam")
    ct = s.headers.get("content-type", "")
    check(ct.split(";")[0].strip() == "text/event-stream",
          f"Content-Type {ct!r}")
    check("no-cache" in s.headers.get("cache-control", ""),
          f"Cache-Control {s.headers.get('cache-control')!r}")
    first = await s.line()
    check(first == "retry: 2000", f"the stream starts with {first!r}, "
          "expected 'retry: 2000'")
    w = await s.event()
    d = w.json()
    check(w.event == "system", f"welcome has event {w.event!r}: {w.lines}")
    check(match(d, {"type": "system", "room": "s", "data": {
        "event": "welcome", "user": "sam", "epoch": EPOCH_RE, "seq": 0,
        "online": list, "ping_interval": int}}), f"welcome data {w.data}")
    check(w.id == f"{d['data']['epoch']}-0",
          f"welcome id {w.id!r}, expected {d['data']['epoch']}-0")
    save("epoch", d["data"]["epoch"])
EOF

ok_py "each stored message is one event: id EPOCH-SEQ, event type, data = the WebSocket frame" <<'EOF'
async def main():
    epoch = load("epoch")
    s = await SSE.open("/events/s")
    await s.expect(event="system", id=f"{epoch}-0")
    ws = await join("s", user="alice")
    await s.expect(event="presence", id=None,
                   data={"type": "presence", "room": "s",
                         "data": {"event": "join", "user": "alice"}},
                   what="presence events carry no id")
    await ws.send({"type": "typing", "data": {"state": True}})
    await s.expect(event="typing", id=None,
                   data={"type": "typing", "data": {"user": "alice",
                                                    "state": True}},
                   what="typing events carry no id")
    await ws.say("Hello", id="x1", author="alice")
    frame = ws.seen[-1] if ws.seen[-1]["type"] == "text" else ws.seen[-2]
    ev = await s.expect(event="text", id=f"{epoch}-1")
    check(ev.lines == [f"id: {epoch}-1", "event: text", "data: " + ev.data],
          f"the event's lines are {ev.lines}, expected id, event, data")
    got = ev.json()
    want = dict(frame)
    want.pop("id", None)
    got.pop("id", None)
    check(got == want, f"SSE data {ev.data} differs from the WebSocket frame "
          f"{show(frame)}")
    check(match(got, {"type": "text", "room": "s", "seq": 1,
                      "timestamp": is_time,
                      "data": {"content": "Hello", "author": "alice"}}),
          f"SSE data {ev.data}")
    for i in (2, 3):
        seq = await publish("s", f"p{i}")
        await s.expect(event="text", id=f"{epoch}-{seq}",
                       data={"seq": seq, "data": {"content": f"p{i}"}})
EOF

ok_py "Last-Event-ID: welcome without id, the missed events, then resumed" <<'EOF'
async def main():
    epoch = load("epoch")
    s = await SSE.open("/events/s", headers={"Last-Event-ID": f"{epoch}-1"})
    check(await s.line() == "retry: 2000", "no retry line first")
    w = await s.event()
    check(w.event == "system" and w.json()["data"]["event"] == "welcome",
          f"first event {w.lines}")
    check(w.id is None, f"a resumed stream's welcome has an id line: "
          f"{w.lines}")
    for seq in (2, 3):
        await s.expect(event="text", id=f"{epoch}-{seq}",
                       data={"seq": seq})
    await s.expect(event="system",
                   data={"type": "system", "data": {
                       "event": "resumed", "from": 2, "to": 3,
                       "recovered": True}})
    seq = await publish("s", "live")
    await s.expect(event="text", id=f"{epoch}-{seq}", data={"seq": seq})
EOF

ok_py "?lastEventId= works the same; nothing missed gives an empty replay" <<'EOF'
async def main():
    epoch = load("epoch")
    s = await SSE.open(f"/events/s?lastEventId={epoch}-2")
    w = await s.expect(event="system", data={"data": {"event": "welcome"}})
    check(w.id is None, f"resumed welcome has an id: {w.lines}")
    for seq in (3, 4):
        await s.expect(event="text", id=f"{epoch}-{seq}")
    await s.expect(event="system", data={"data": {
        "event": "resumed", "from": 3, "to": 4, "recovered": True}})
    s2 = await SSE.open(f"/events/s?lastEventId={epoch}-4")
    await s2.expect(event="system", id=None, data={"data": {"event": "welcome"}})
    await s2.expect(event="system", data={"data": {
        "event": "resumed", "from": 5, "recovered": True}},
        what="no replay when nothing was missed")
EOF

ok_py "trimmed history or another epoch: what is held, then recovered:false" <<'EOF'
async def main():
    epoch = load("epoch")
    for i in range(5, 8):
        await publish("s", f"q{i}")
    # seqs 1..7 stored, 4..7 held (--history 4)
    # (an id that is not EPOCH-SEQ at all is no position either: last)
    for lei in (f"{epoch}-1", f"Z{epoch}-6", "garbage"):
        s = await SSE.open("/events/s", headers={"Last-Event-ID": lei})
        await s.expect(event="system", id=None,
                       data={"data": {"event": "welcome"}},
                       what=f"Last-Event-ID {lei}")
        for seq in range(4, 8):
            await s.expect(event="text", id=f"{epoch}-{seq}",
                           what=f"Last-Event-ID {lei}")
        await s.expect(event="system", data={"data": {
            "event": "resumed", "recovered": False}},
            what=f"Last-Event-ID {lei}")
    s = await SSE.open("/events/s", headers={"Last-Event-ID": f"{epoch}-3"})
    await s.expect(event="system", data={"data": {"event": "welcome"}})
    for seq in range(4, 8):
        await s.expect(event="text", id=f"{epoch}-{seq}")
    await s.expect(event="system", data={"data": {
        "event": "resumed", "from": 4, "to": 7, "recovered": True}},
        what="the oldest held seq - 1 recovers")
EOF

ok_py "': keepalive' comments every --sse-keepalive (200ms)" <<'EOF'
async def main():
    s = await SSE.open("/events/ka")
    await s.expect(event="system", data={"data": {"event": "welcome"}})
    n = 0
    while n < 3:
        b = await s.block(timeout=5)
        check(b is not None, "the stream ended")
        check(b.data is None, f"an event came on an idle room: {b.lines}")
        check(b.comments == ["keepalive"] and not b.fields,
              f"expected ': keepalive', got {b.lines}")
        n += 1
EOF

ok_py "several SSE subscribers and a WebSocket all get the same events" <<'EOF'
async def main():
    subs = [await SSE.open(f"/events/many?user=u{i}") for i in range(5)]
    for s in subs:
        await s.expect(event="system", data={"data": {"event": "welcome"}})
    ws = await join("many", user="writer")
    for i in range(1, 11):
        await ws.say(f"n{i}")
    for s in subs:
        seqs = []
        while len(seqs) < 10:
            ev = await s.event()
            if ev.event == "text":
                seqs.append(ev.json()["seq"])
        check(seqs == list(range(1, 11)), f"{s.path}: seqs {seqs}")
EOF

expect_clean_stop
ok "the server exits 0 on SIGTERM"

# A client that leaves without a word: with no keepalive to write for an
# hour, only reading could tell (libwebsockets 4.1 reads no stream it is
# answering: it spun on them, and kept them open until a write failed).
start_server --sse-keepalive 1h
ok_py "50 SSE clients that leave are closed, with no write to find out" <<'EOF'
async def main():
    rs = []
    for i in range(50):
        r = await Raw.connect(f"sse{i}")
        # presence=0: nothing more is sent to them, so each has read all
        # it was sent when it closes, and closes with a FIN (unread bytes
        # would make it a reset, which the server always saw)
        await r.sendall(f"GET /events/gone?user=s{i}&presence=0 HTTP/1.1"
                        f"\r\nHost: x\r\n\r\n".encode())
        status, _ = await r.read_http_head()
        check(status == 200, f"stream {i}: {r.status_line}")
        while b"event: system" not in (await r.read_until(b"\n\n")
                                       or fail(f"stream {i} ended")):
            pass
        rs.append(r)
    await wait_metric("^rtctl_connections$", lambda v: v == 50,
                      transport="sse", what="50 SSE streams")
    for r in rs:
        check(not r.buf, f"{r.name}: unexpected {show(r.buf)}")
        r.close()
    await wait_metric("^rtctl_connections$", lambda v: v == 0,
                      transport="sse", what="streams of clients that left")
    s = await SSE.open("/events/gone?user=after")
    await s.expect(event="system", data={"data": {"event": "welcome"}})
    await publish("gone", "after the leavers")
    await s.until(event="text", data={"data": {"content": "after the leavers"}})
EOF

expect_clean_stop
ok "the second server exits 0 on SIGTERM"
done_testing
