#!/bin/sh
# rtctl serve --redis: Redis restarted mid-stream.  The instances do not
# crash and keep their clients connected; meanwhile /health answers 503
# degraded and a publish gets the error `unavailable` (WebSocket: an error
# frame, the connection stays; HTTP: 503); once Redis is back they
# reconnect on their own and the stream goes on where it was: nothing that
# was stored is lost or stored twice.
. "$(dirname "$0")/lib.sh"

# Persistence on, so that what was stored survives the restart.
start_redis --appendonly yes --appendfsync always
start_server --redis "$REDIS_URL"
A=$PORT
APID=$SERVER_PID
start_server --redis "$REDIS_URL"
B=$PORT
BPID=$SERVER_PID

health() {
    [ "$(curl -s -o health.out -w '%{http_code}' \
        "http://127.0.0.1:$1/health")" = "$2" ]
}
wait_until 20 "A up" health "$A" 200
wait_until 20 "B up" health "$B" 200

cat >cluster.py <<'PY'
import rtws
def on(port):
    rtws.PORT = int(port)
    rtws.BASE = f"http://127.0.0.1:{port}"
    rtws.WSBASE = f"ws://127.0.0.1:{port}"
A, B = ARGS[0], ARGS[1]
PY

# The clients live through the whole script: a background Python program
# that steps when told (files go and back), so the shell can restart Redis
# in between.
cat >clients.py <<'PY'
exec(open("cluster.py").read())
import os
async def step(name):
    """Wait for the shell's go file, do the step, then say done."""
    end = time.monotonic() + WAIT * 6
    while not os.path.exists(f"go-{name}"):
        check(time.monotonic() < end, f"no go-{name} from the script")
        await asyncio.sleep(0.05)

async def done(name):
    open(f"done-{name}", "w").close()

async def main():
    on(A)
    a = await join("r", user="alice")
    on(B)
    b = await join("r", user="bob")
    await a.until({"type": "presence", "data": {"event": "join",
                                                "user": "bob"}})
    for i in range(1, 11):
        s = await a.say(f"m{i}")
        check(s == i, f"m{i} stored as {s}")
    for i in range(1, 11):
        await b.until({"type": "text", "seq": i, "data": {"content": f"m{i}"}},
                      skip=[{"type": "presence"}])
    await done("before")

    await step("outage")
    # Redis is down: the publish is refused with unavailable, and the
    # connection stays.
    await a.send(text_msg("lost", id="x1"))
    await a.until({"type": "error", "id": "x1",
                   "data": {"code": "unavailable"}},
                  skip=[{"type": "presence"}])
    on(B)
    r = await http("POST", "/publish/r", body=text_msg("lost too"))
    check(r.status == 503 and match(r.json(), error_body("unavailable")),
          f"HTTP publish during the outage: {r}")
    await done("outage")

    await step("back")
    # Back: the same connections go on, seqs continue at 11.
    for i in range(11, 21):
        c = a if i % 2 else b
        end = time.monotonic() + WAIT * 3
        while True:
            await c.send(text_msg(f"m{i}", id=f"id{i}"))
            f, _ = await c.until({"type": lambda t: t in ("ack", "error"),
                                  "id": f"id{i}"},
                              skip=[{"type": "presence"},
                                    {"type": "text"}])
            if f["type"] == "ack":
                check(f["data"]["seq"] == i, f"m{i} stored as {show(f)}")
                break
            # Not reconnected yet on this instance: refused, try again.
            check(match(f, {"type": "error",
                            "data": {"code": "unavailable"}}),
                  f"m{i}: {show(f)}")
            check(time.monotonic() < end, f"m{i} refused for too long")
            await asyncio.sleep(0.1)
    for c in (a, b):
        got = [f["seq"] for f in c.seen if f.get("type") == "text"]
        while got[-1:] != [20]:
            f, _ = await c.until({"type": "text"},
                                 skip=[{"type": "presence"}])
            got.append(f["seq"])
        check(got == list(range(1, 21)),
              f"{c.name} saw seqs {got}, want 1..20 once each in order")
    await done("back")
PY

RTCTL=$RTCTL timeout "$(scaled 110)" "$RT_PY" "$RT_DRIVERS/run.py" "$A" "$B" \
    <clients.py >clients.out 2>clients.err &
CLIENTS=$!
SERVER_PIDS="$SERVER_PIDS $CLIENTS"
wait_until 60 "the clients' first ten messages" \
    done_file before "$CLIENTS" clients.out clients.err
ok "two instances, ten messages seen on both"

stop_redis
wait_until 20 "A says degraded" health "$A" 503
wait_until 20 "B says degraded" health "$B" 503
check_grep '"status":"degraded"' health.out
touch go-outage
wait_until 30 "the refusals during the outage" \
    done_file outage "$CLIENTS" clients.out clients.err
alive "$APID" && alive "$BPID" || fail "an instance died with Redis"
ok "Redis down: /health 503 degraded, publishes refused with unavailable, connections kept"

restart_redis
wait_until 30 "A back" health "$A" 200
wait_until 30 "B back" health "$B" 200
touch go-back
wait_until 60 "the messages after the restart" \
    done_file back "$CLIENTS" clients.out clients.err
reap "$CLIENTS"
[ "$RC" -eq 0 ] || {
    cat clients.out clients.err >&2
    fail "the clients failed"
}
ok "Redis back: the same connections go on with seqs 11..20, nothing lost or doubled"

# What Redis holds: seqs 1..20, each once.
rcli XRANGE 'rt:{r}:h' - + | grep -E '^[0-9]+-0$' | tr -d '\r' >ids
seq 1 20 | sed 's/$/-0/' >want
cmp -s ids want || {
    diff want ids >&2
    fail "the stream does not hold 1..20 once each"
}
ok "the stream holds 1..20 once each"

curl -fsS "http://127.0.0.1:$A/metrics" >metrics.out
check_grep '^rtctl_redis_up 1$' metrics.out
check_grep '^rtctl_redis_disconnects_total [1-9]' metrics.out
check_grep '^rtctl_redis_unavailable_total [1-9]' metrics.out
ok "/metrics: up again, the disconnect and the refusals counted"

expect_clean_stop
SERVER_PID=$APID
expect_clean_stop
ok "both stop cleanly"
done_testing
