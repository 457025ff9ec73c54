#!/bin/sh
# rtctl serve: resume by since/epoch over WebSocket with recovered true or
# false (PROTOCOL.md section 4), and POST /publish reaching WebSocket and
# SSE subscribers.
. "$(dirname "$0")/lib.sh"

start_server --history 5

ok_py "resume gets exactly the missed messages, then resumed recovered:true" <<'EOF'
async def main():
    a = await join("r", user="alice")
    epoch = a.welcome["data"]["epoch"]
    save("epoch", epoch)
    b = await join("r", user="bob")
    await a.expect({"type": "presence", "data": {"event": "join", "user": "bob"}})
    for i in (1, 2):
        await a.say(f"m{i}")
        await b.expect({"type": "text", "seq": i})
    await b.close()
    for i in (3, 4):
        await a.say(f"m{i}")
    b = await join("r", user="bob", since=2, epoch=epoch, name="bob resumed")
    check(match(b.welcome, {"data": {"epoch": epoch, "seq": 4}}),
          f"resumed welcome: {show(b.welcome)}")
    for i in (3, 4):
        await b.expect({"type": "text", "room": "r", "seq": i,
                        "data": {"content": f"m{i}"}},
                       what=f"replay of seq {i}")
    await b.expect({"type": "system", "room": "r",
                    "data": {"event": "resumed", "from": 3, "to": 4,
                             "recovered": True}})
    await a.say("m5")
    await b.expect({"type": "text", "seq": 5, "data": {"content": "m5"}},
                   what="the live message after the replay, once")
    await b.say("from bob")
    await a.until({"type": "text", "seq": 6}, skip=[{"type": "presence"}])
EOF

ok_py "resume with nothing missed: resumed recovered:true and no replay" <<'EOF'
async def main():
    epoch = load("epoch")
    b = await join("r", user="carol", since=6, epoch=epoch)
    await b.expect({"type": "system",
                    "data": {"event": "resumed", "from": 7, "recovered": True}},
                   what="no text before resumed")
    seq = await b.say("next")
    check(seq == 7, f"seq {seq}")
EOF

ok_py "trimmed history: what is held, from the oldest, then recovered:false" <<'EOF'
async def main():
    epoch = load("epoch")
    # r holds seqs 3..7 (--history 5); since=1 lost seq 2
    b = await join("r", user="dave", since=1, epoch=epoch)
    for i in range(3, 8):
        await b.expect({"type": "text", "seq": i}, what=f"held seq {i}")
    await b.expect({"type": "system",
                    "data": {"event": "resumed", "recovered": False}})
    # since=2: everything after 2 is held, so recovery works
    c = await join("r", user="erin", since=2, epoch=epoch)
    for i in range(3, 8):
        await c.expect({"type": "text", "seq": i}, what=f"held seq {i}")
    await c.expect({"type": "system",
                    "data": {"event": "resumed", "from": 3, "to": 7,
                             "recovered": True}},
                   what="since = oldest held - 1 is a full recovery")
EOF

ok_py "another epoch is never trusted: recovered:false" <<'EOF'
async def main():
    epoch = load("epoch")
    other = "X" + epoch[1:] if epoch[0] != "X" else "Y" + epoch[1:]
    b = await join("r", user="frank", since=6, epoch=other)
    for i in range(3, 8):
        await b.expect({"type": "text", "seq": i}, what=f"held seq {i}")
    await b.expect({"type": "system",
                    "data": {"event": "resumed", "recovered": False}})
EOF

ok_py "POST /publish answers 202 {\"seq\":N} and reaches WebSocket and SSE" <<'EOF'
async def main():
    ws = await join("pub", user="watcher")
    s = await SSE.open("/events/pub")
    w = await s.expect(event="system", data={"data": {"event": "welcome"}})
    epoch = w.json()["data"]["epoch"]
    r = await http("POST", "/publish/pub",
                   body={"type": "text", "id": "h1",
                         "data": {"content": "via http", "k": "v"}})
    check(r.status == 202, f"POST /publish/pub: {r}")
    check(r.header("content-type", "").startswith("application/json"),
          f"POST /publish/pub: Content-Type {r.header('content-type')!r}")
    check(r.json() == {"seq": 1}, f"POST /publish/pub body {show(r.body)}")
    # the SSE subscriber is a member too: its join may come first
    got = await ws.expect({"type": "text", "room": "pub", "seq": 1,
                           "timestamp": is_time,
                           "data": {"content": "via http", "k": "v"}},
                          skip=[{"type": "presence"}])
    ev = await s.expect(event="text", id=f"{epoch}-1",
                        data={"type": "text", "seq": 1,
                              "data": {"content": "via http"}})
    check(ev.json()["timestamp"] == got["timestamp"],
          f"SSE and WebSocket copies differ: {ev.data} / {show(got)}")
    seq = await publish("pub", "second")
    check(seq == 2, f"second publish got seq {seq}")
    await ws.expect({"type": "text", "seq": 2}, skip=[{"type": "presence"}])
    await s.expect(event="text", id=f"{epoch}-2")
    # a bad body is refused, not stored
    await expect_http_error("POST", "/publish/pub", 400, "bad_json",
                            body="{not json")
    await expect_http_error("POST", "/publish/pub", 400, "bad_message",
                            body={"type": "text", "data": {}})
    await expect_http_error("POST", "/publish/pub", 400, "bad_message",
                            body={"type": "bogus", "data": {}})
    seq = await publish("pub", "third")
    check(seq == 3, f"refused bodies used a seq: the next publish got {seq}")
EOF

check_py "save the epoch of room r" <<'EOF'
async def main():
    ws = await join("r", user="probe")
    save("epoch_before_restart", ws.welcome["data"]["epoch"])
    save("seq_before_restart", ws.welcome["data"]["seq"])
EOF
expect_clean_stop
start_server --history 5
ok_py "a restarted in-memory server starts a new epoch: old positions recover:false" <<'EOF'
async def main():
    old = load("epoch_before_restart")
    a = await join("r", user="alice")
    new = a.welcome["data"]["epoch"]
    check(new != old, f"epoch {new} is the same after a restart")
    check(a.welcome["data"]["seq"] == 0, f"welcome {show(a.welcome)}")
    await a.say("fresh 1")
    await a.say("fresh 2")
    b = await join("r", user="bob", since=1, epoch=old)
    await b.expect({"type": "text", "seq": 1})
    await b.expect({"type": "text", "seq": 2})
    await b.expect({"type": "system",
                    "data": {"event": "resumed", "recovered": False}})
EOF

expect_clean_stop
ok "the server exits 0 on SIGTERM"
done_testing
