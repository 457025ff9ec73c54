#!/bin/sh
# rtctl serve --redis: two instances on one Redis are one server to their
# clients.  Clients on A and B in one room see one seq order, and the
# sender's ack carries the seq everyone sees; a publish over HTTP on either
# reaches both; a client resumes on the other instance with
# recovered:true; /health and /metrics say Redis is up.
. "$(dirname "$0")/lib.sh"

start_redis
start_server --redis "$REDIS_URL" --history 50
A=$PORT
start_server --redis "$REDIS_URL" --history 50
B=$PORT

# Up once /health says ok on both (they connect to Redis in the background).
healthy() {
    curl -fsS "http://127.0.0.1:$1/health" >/dev/null 2>&1
}
wait_until 20 "instance A reports Redis up" healthy "$A"
wait_until 20 "instance B reports Redis up" healthy "$B"
ok "two instances on one Redis start and report healthy"

cat >cluster.py <<'PY'
import rtws
def on(port):
    """The next connections and requests go to the instance on port."""
    rtws.PORT = int(port)
    rtws.BASE = f"http://127.0.0.1:{port}"
    rtws.WSBASE = f"ws://127.0.0.1:{port}"
A, B = ARGS[0], ARGS[1]
PY

ok_py "clients on A and B see one seq order; acks carry the seqs" "$A" "$B" <<'EOF'
exec(open("cluster.py").read())
async def main():
    on(A)
    a1 = await join("r", user="a1")
    a2 = await join("r", user="a2")
    on(B)
    b1 = await join("r", user="b1")
    b2 = await join("r", user="b2")
    check(b1.welcome["data"]["epoch"] == a1.welcome["data"]["epoch"],
          f"one epoch: {show(a1.welcome)} / {show(b1.welcome)}")
    save("epoch", a1.welcome["data"]["epoch"])
    senders = [a1, b1, a2, b2]
    n = 40
    acks = {}
    # Everyone sends at once; every ack's seq must be the seq all see.
    for i in range(n):
        await senders[i % 4].send(text_msg(f"m{i}", id=f"id{i}"))
    seen = {c.name: [] for c in senders}
    end = time.monotonic() + WAIT * 3
    for c in senders:
        while len(seen[c.name]) < n or sum(
                1 for f in c.seen if f.get("type") == "ack") < n // 4:
            f = await c.recv(max(end - time.monotonic(), 0.001))
            if f.get("type") == "text":
                seen[c.name].append((f["seq"], f["id"]))
            elif f.get("type") == "ack":
                check(match(f, {"data": {"status": "delivered",
                                         "seq": int}}), f"ack {show(f)}")
                acks[f["id"]] = f["data"]["seq"]
    orders = list(seen.values())
    for c in senders:
        got = [s for s, _ in seen[c.name]]
        check(got == list(range(1, n + 1)),
              f"{c.name} saw seqs {got}, want 1..{n} in order")
        check(seen[c.name] == orders[0],
              f"{c.name} saw another order than {senders[0].name}")
    byid = dict((i, s) for s, i in orders[0])
    check(len(acks) == n, f"{len(acks)} acks, want {n}")
    for i, s in acks.items():
        check(byid[i] == s, f"{i} acked as seq {s} but seen as {byid[i]}")
EOF

ok_py "POST /publish on either instance reaches both" "$A" "$B" <<'EOF'
exec(open("cluster.py").read())
async def main():
    on(A)
    a = await join("p", user="pa")
    on(B)
    b = await join("p", user="pb")
    await a.until({"type": "presence", "data": {"event": "join", "user": "pb"}})
    on(A)
    r1 = await publish("p", "via A")
    on(B)
    r2 = await publish("p", "via B")
    check(r1 == 1 and r2 == 2, f"seqs {r1} {r2}")
    for c in (a, b):
        await c.until({"type": "text", "seq": 1, "data": {"content": "via A"}},
                      skip=[{"type": "presence"}])
        await c.expect({"type": "text", "seq": 2,
                        "data": {"content": "via B"}})
EOF

ok_py "a client moves from A to B and resumes with recovered:true" "$A" "$B" <<'EOF'
exec(open("cluster.py").read())
async def main():
    on(A)
    c = await join("m", user="mover")
    epoch = c.welcome["data"]["epoch"]
    s1 = await c.say("one")
    await c.close()
    w = await join("m", user="writer")
    for i in range(5):
        await w.say(f"missed{i}")
    on(B)
    c = await join("m", user="mover", since=s1, epoch=epoch)
    for i in range(5):
        await c.expect({"type": "text", "seq": s1 + 1 + i,
                        "data": {"content": f"missed{i}"}},
                       skip=[{"type": "presence"}])
    await c.until({"type": "system",
                   "data": {"event": "resumed", "recovered": True}},
                  skip=[{"type": "presence"}])
EOF

# Pub/sub is at most once: cut both instances' subscriber connections
# while messages are published; what the channel lost comes from the
# stream, in order, before delivery goes on.
cat >gap.py <<'PY'
exec(open("cluster.py").read())
import subprocess
async def main():
    on(A)
    a = await join("g", user="ga")
    on(B)
    b = await join("g", user="gb")
    await a.until({"type": "presence", "data": {"event": "join",
                                                "user": "gb"}})
    on(A)
    for i in range(1, 41):
        if i == 11:
            subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", ARGS[2],
                            "CLIENT", "KILL", "TYPE", "pubsub"],
                           check=True, capture_output=True)
        # Only the subscribers are cut: publishing goes on meanwhile.
        s = await publish("g", f"g{i}")
        check(s == i, f"g{i} stored as {s}")
    for c in (a, b):
        for i in range(1, 41):
            await c.until({"type": "text", "seq": i,
                           "data": {"content": f"g{i}"}},
                          skip=[{"type": "presence"}],
                          what=f"g{i} in order, once")
PY
check_py "a gap on the channel is filled from the stream" "$A" "$B" \
    "$REDIS_PORT" <gap.py
curl -fsS "http://127.0.0.1:$B/metrics" >metrics.gap
check_grep '^rtctl_redis_disconnects_total [1-9]' metrics.gap
ok "subscriber connections cut mid-stream: publishing goes on, both deliver 1..40 in order, once"

for p in "$A" "$B"; do
    curl -fsS "http://127.0.0.1:$p/metrics" >metrics.$p ||
        fail "GET /metrics on $p"
    check_grep '^rtctl_redis_up 1$' metrics.$p
done
ok "/metrics: rtctl_redis_up 1 on both"

expect_clean_stop
SERVER_PID=${SERVER_PIDS# }
SERVER_PID=${SERVER_PID%% *}
expect_clean_stop
ok "both stop cleanly on SIGTERM"
done_testing
