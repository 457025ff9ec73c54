#!/bin/sh
# rtctl serve over WebSocket: the welcome, text with seq and acks, typing,
# presence join/leave/snapshot, identities and the recoverable errors
# (PROTOCOL.md sections 2, 3 and 5).
. "$(dirname "$0")/lib.sh"

# Pongs (every 1s) keep idle members present; 3s covers a quick reconnect.
start_server --ping-interval 1s --presence-timeout 3s

ok_py "welcome: user, epoch, seq, online, ping_interval; no seq of its own" <<'EOF'
async def main():
    a = await join("chat", user="alice")
    check(match(a.welcome, {
        "type": "system", "room": "chat", "seq": ABSENT,
        "data": {"event": "welcome", "user": "alice", "epoch": EPOCH_RE,
                 "seq": 0, "online": ["alice"], "ping_interval": 1}}),
        f"alice's welcome: {show(a.welcome)}")
    await a.say("first", id="a0")
    b = await join("chat", user="bob")
    check(match(b.welcome, {"data": {
        "user": "bob", "epoch": a.welcome["data"]["epoch"], "seq": 1,
        "online": AnyOrder(["alice", "bob"]), "ping_interval": 1}}),
        f"bob's welcome after one message: {show(b.welcome)}")
    await a.expect({"type": "presence", "room": "chat", "seq": ABSENT,
                    "data": {"event": "join", "user": "bob"}})
EOF

ok_py "text: ack to the sender, broadcast with seq (and the sender's id) to all" <<'EOF'
async def main():
    a = await join("t", user="alice")
    b = await join("t", user="bob")
    await a.expect({"type": "presence", "data": {"event": "join", "user": "bob"}})
    await a.send({"type": "text", "id": "m-1",
                  "data": {"content": "Hello", "mood": "ok", "n": [1, 2]}})
    ack, own = await a.expect_set([
        {"type": "ack", "id": "m-1", "data": {"status": "delivered", "seq": 1}},
        {"type": "text", "id": "m-1", "room": "t", "seq": 1,
         "timestamp": is_time,
         "data": {"content": "Hello", "mood": "ok", "n": [1, 2]}}])
    check(set(ack) <= {"type", "id", "data", "room", "timestamp"},
          f"ack has unexpected members: {show(ack)}")
    got = await b.expect({"type": "text", "room": "t", "seq": 1,
                          "timestamp": is_time,
                          "data": {"content": "Hello", "mood": "ok",
                                   "n": [1, 2]}})
    check(got["timestamp"] == own["timestamp"],
          f"the two copies differ: {show(got)} / {show(own)}")
EOF

ok_py "two clients sending at once: both see every message once, in seq order" <<'EOF'
async def main():
    a = await join("race", user="alice")
    b = await join("race", user="bob")
    await a.expect({"type": "presence", "data": {"event": "join", "user": "bob"}})
    n = 25
    async def blast(ws, who):
        for i in range(n):
            await ws.send(text_msg(f"{who}{i}", id=f"{who}-{i}"))
    await asyncio.gather(blast(a, "a"), blast(b, "b"))
    for ws, who in ((a, "a"), (b, "b")):
        texts, acks = [], {}
        while len(texts) < 2 * n or len(acks) < n:
            f = await ws.recv()
            if f["type"] == "text":
                texts.append(f)
            elif f["type"] == "ack":
                acks[f["id"]] = f["data"]["seq"]
            else:
                fail(f"{ws.name}: unexpected frame {show(f)}")
        seqs = [t["seq"] for t in texts]
        check(seqs == list(range(1, 2 * n + 1)),
              f"{ws.name}: seqs {seqs}, expected 1..{2 * n} in order")
        for other in ("a", "b"):
            mine = [t["data"]["content"] for t in texts
                    if t["data"]["content"].startswith(other)]
            check(mine == [f"{other}{i}" for i in range(n)],
                  f"{ws.name}: {other}'s messages out of order: {mine}")
        for t in texts:
            if t["data"]["content"].startswith(who):
                check(t.get("id") == f"{who}-{t['data']['content'][1:]}",
                      f"{ws.name}: own broadcast without its id: {show(t)}")
                check(acks[t["id"]] == t["seq"],
                      f"{ws.name}: ack seq {acks[t['id']]} != {show(t)}")
        check(sorted(acks) == sorted(f"{who}-{i}" for i in range(n)),
              f"{ws.name}: acks {sorted(acks)}")
EOF

ok_py "typing goes to the others only and is not stored" <<'EOF'
async def main():
    a = await join("ty", user="alice")
    b = await join("ty", user="bob")
    await a.expect({"type": "presence", "data": {"event": "join", "user": "bob"}})
    await b.send({"type": "typing", "data": {"state": True}})
    await a.expect({"type": "typing", "room": "ty", "seq": ABSENT,
                    "data": {"user": "bob", "state": True}})
    await b.send({"type": "typing", "data": {"state": False}})
    await a.expect({"type": "typing", "data": {"user": "bob", "state": False}})
    # bob's own next frames are those of his text: no typing echo came first
    seq = await b.say("after typing", id="b1")
    check(seq == 1, f"typing used a seq: the next text got seq {seq}")
    await a.expect({"type": "text", "seq": 1})
EOF

ok_py "presence: join, snapshot on request, leave with reason closed" <<'EOF'
async def main():
    a = await join("pr", user="alice")
    b = await join("pr", user="bob")
    await a.expect({"type": "presence", "room": "pr",
                    "data": {"event": "join", "user": "bob"}})
    await a.send({"type": "presence", "data": {}})
    await a.expect({"type": "presence", "room": "pr",
                    "data": {"event": "snapshot",
                             "online": AnyOrder(["alice", "bob"])}})
    await b.send({"type": "presence", "id": "p1", "data": {}})
    await b.expect({"type": "presence",
                    "data": {"event": "snapshot",
                             "online": AnyOrder(["alice", "bob"])}})
    await b.close()
    await a.expect({"type": "presence", "room": "pr",
                    "data": {"event": "leave", "user": "bob",
                             "reason": "closed"}}, timeout=15)
    await a.send({"type": "presence", "data": {}})
    await a.expect({"type": "presence",
                    "data": {"event": "snapshot", "online": ["alice"]}})
    j = await http_json("GET", "/rooms/pr/presence")
    check(j == {"room": "pr", "online": ["alice"]}, f"presence: {show(j)}")
EOF

ok_py "a second connection of a user, and a quick reconnect, make no presence storm" <<'EOF'
async def main():
    a = await join("storm", user="alice")
    c = await Raw.ws("/ws/storm?user=carol", name="carol")
    await c.expect_json({"type": "system", "data": {"event": "welcome"}})
    await a.expect({"type": "presence", "data": {"event": "join", "user": "carol"}})
    c2 = await join("storm", user="carol", name="carol#2")
    check(match(c2.welcome, {"data": {"online": AnyOrder(["alice", "carol"])}}),
          f"carol's second welcome: {show(c2.welcome)}")
    await c2.close()  # clean, but carol is still there on c
    before = (await metrics()).sum("rtctl_connections$", transport="ws")
    c.abort()  # a dropped connection, no close frame: the grace applies
    await wait_metric("rtctl_connections$", lambda v: v < before,
                      what="the server saw carol's connection drop",
                      transport="ws")
    c3 = await join("storm", user="carol", name="carol#3")
    await c3.say("back")
    # alice's next frame is carol's text: no leave, no second join
    await a.expect({"type": "text", "data": {"content": "back"}},
                   what="carol reconnected within --presence-timeout after "
                   "a dropped connection")
EOF

ok_py "?user=NAME names the user; without it the server assigns anon-XXXXXX" <<'EOF'
async def main():
    a = await join("anon", user="alice")
    x = await join("anon")
    y = await join("anon")
    ux, uy = x.welcome["data"]["user"], y.welcome["data"]["user"]
    for u in (ux, uy):
        check(re.fullmatch(r"anon-[A-Za-z0-9]{6}", u),
              f"anonymous user {u!r} is not anon-XXXXXX")
    check(ux != uy, f"two anonymous clients got the same name {ux}")
    await a.expect({"type": "presence", "data": {"event": "join", "user": ux}})
    await a.expect({"type": "presence", "data": {"event": "join", "user": uy}})
    await x.say("hi from anon")
    await a.expect({"type": "text", "data": {"content": "hi from anon"}})
EOF

ok_py "bad_json and bad_message errors keep the connection; nothing is stored" <<'EOF'
async def main():
    a = await join("err", user="alice")
    b = await join("err", user="bob")
    await a.expect({"type": "presence", "data": {"event": "join", "user": "bob"}})
    bad_json = ["not json", "{", '{"type":"text"', "", "[1,2]", '"str"',
                "42", "null", '{"type":"text","data":{"content":"x"}} trailing',
                '{"type":"text","data":{"content":"x"},}']
    for s in bad_json:
        await a.send_text(s)
        await a.expect({"type": "error", "seq": ABSENT,
                        "data": {"code": "bad_json",
                                 "message": lambda m: isinstance(m, str) and m}},
                       what=f"sending {s!r}")
    bad_msg = [{"type": "nope", "data": {}},
               {"data": {"content": "no type"}},
               {"type": 5, "data": {}},
               {"type": "text"},
               {"type": "text", "data": {}},
               {"type": "text", "data": "content"},
               {"type": "text", "data": {"content": 5}},
               {"type": "text", "data": {"content": None}},
               {"type": "text", "data": {"content": ["x"]}},
               {"type": "typing", "data": {"state": "yes"}},
               {"type": "typing", "data": {}},
               {"type": "presence", "data": []},
               {"type": "ack", "data": {"status": "delivered", "seq": 1}},
               {"type": "system", "data": {"event": "welcome"}},
               {"type": "error", "data": {"code": "x", "message": "y"}}]
    for m in bad_msg:
        await a.send(m)
        await a.expect({"type": "error", "data": {"code": "bad_message",
                        "message": lambda m: isinstance(m, str) and m}},
                       what=f"sending {show(m)}")
    await a.send({"type": "text", "id": "e1", "data": {"content": 5}})
    await a.expect({"type": "error", "id": "e1",
                    "data": {"code": "bad_message"}},
                   what="an error echoes the id of the bad message")
    seq = await a.say("still here", id="ok1")
    check(seq == 1, f"a refused message used a seq: the next got {seq}")
    await b.expect({"type": "text", "seq": 1, "data": {"content": "still here"}},
                   what="bob saw none of the errors")
    await b.say("me too")
EOF

ok_py "rooms are separate: seq per room, no cross-talk" <<'EOF'
async def main():
    a = await join("room-a", user="alice")
    b = await join("room-b", user="bob")
    await a.say("in a")
    await a.say("in a again")
    seq = await b.say("in b")
    check(seq == 1, f"room-b's first message got seq {seq}")
    await a.say("third in a")  # alice's frames: only her own, checked by say
EOF

expect_clean_stop
ok "the server exits 0 on SIGTERM"

done_testing
