#!/bin/sh
# rtctl serve --redis: presence across instances.  A user online on A is
# listed on B and C, and their join is announced once to each client,
# however many instances hold them; a second connection elsewhere
# announces nothing.  When A is killed (no goodbye), the user leaves after
# --presence-timeout with reason timeout, announced once to each client.
. "$(dirname "$0")/lib.sh"

start_redis
start_server --redis "$REDIS_URL" --presence-timeout 2s
A=$PORT
APID=$SERVER_PID
start_server --redis "$REDIS_URL" --presence-timeout 2s
B=$PORT
start_server --redis "$REDIS_URL" --presence-timeout 2s
C=$PORT

healthy() {
    curl -fsS "http://127.0.0.1:$1/health" >/dev/null 2>&1
}
for p in "$A" "$B" "$C"; do
    wait_until 20 "instance on $p up" healthy "$p"
done

cat >clients.py <<'PY'
import os
import rtws
def on(port):
    rtws.PORT = int(port)
    rtws.BASE = f"http://127.0.0.1:{port}"
    rtws.WSBASE = f"ws://127.0.0.1:{port}"
A, B, C = ARGS

async def step(name):
    end = time.monotonic() + WAIT * 6
    while not os.path.exists(f"go-{name}"):
        check(time.monotonic() < end, f"no go-{name} from the script")
        await asyncio.sleep(0.05)

def done(name):
    open(f"done-{name}", "w").close()

async def online(port, room):
    on(port)
    return (await http_json("GET", f"/rooms/{room}/presence"))["online"]

def count(ws, event, user):
    return sum(1 for f in ws.seen
               if match(f, {"type": "presence",
                            "data": {"event": event, "user": user}}))

async def main():
    on(B)
    wb = await join("pr", user="watch-b")
    on(C)
    wc = await join("pr", user="watch-c")
    await wb.until({"type": "presence", "data": {"event": "join",
                                                 "user": "watch-c"}})
    on(A)
    alice = await join("pr", user="alice")
    for w in (wb, wc):
        await w.until({"type": "presence", "data": {"event": "join",
                                                    "user": "alice"}},
                      skip=[{"type": "presence"}])
    for p in (A, B, C):
        users = await online(p, "pr")
        check("alice" in users, f"alice not listed on {p}: {users}")
    # alice on B too, then gone from B again: she is still on A.
    on(B)
    alice_b = await join("pr", user="alice", name="alice on B")
    await alice_b.close(1000)
    done("listed")

    await step("killed")
    for w in (wb, wc):
        await w.until({"type": "presence",
                       "data": {"event": "leave", "user": "alice",
                                "reason": "timeout"}},
                      skip=[{"type": "presence"}],
                      timeout=WAIT_BASE * 3,
                      what="alice leaves after A died")
    # The member is gone from Redis with the leave, so no later sweep can
    # announce it again: a marker published now comes after anything that
    # could have been announced.
    on(C)
    await publish("pr", "marker")
    for w in (wb, wc):
        await w.until({"type": "text", "data": {"content": "marker"}},
                      skip=[{"type": "presence"}])
        check(count(w, "join", "alice") == 1 and
              count(w, "leave", "alice") == 1,
              f"{w.name}: alice joined {count(w, 'join', 'alice')} times, "
              f"left {count(w, 'leave', 'alice')} times; want once each")
    for p in (B, C):
        users = await online(p, "pr")
        check("alice" not in users, f"alice still listed on {p}: {users}")
    done("left")
PY

RTCTL=$RTCTL timeout "$(scaled 110)" "$RT_PY" "$RT_DRIVERS/run.py" \
    "$A" "$B" "$C" <clients.py >clients.out 2>clients.err &
CLIENTS=$!
SERVER_PIDS="$SERVER_PIDS $CLIENTS"
wait_until 60 "alice listed everywhere" \
    done_file listed "$CLIENTS" clients.out clients.err
ok "a user on A is listed on B and C, her join announced once to each"

kill -KILL "$APID"
touch go-killed
wait_until 60 "alice's leave" \
    done_file left "$CLIENTS" clients.out clients.err
reap "$CLIENTS"
[ "$RC" -eq 0 ] || {
    cat clients.out clients.err >&2
    fail "the clients failed"
}
ok "A killed: alice leaves after the timeout, reason timeout, announced once to each"
done_testing
