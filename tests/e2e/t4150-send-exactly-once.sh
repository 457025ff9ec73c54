#!/bin/sh
# Messages sent with an id are stored exactly once although connections
# are cut while they are in flight.  `rtctl send` pushes 2000 lines through
# `rtctl proxy --drop-every --bandwidth`, so acks and broadcasts are lost
# with the connections again and again; the client sends again what was
# not acknowledged, but takes a broadcast of its own message (live or in
# the replay) as its ack, so nothing is stored twice.  The room's history
# must hold each id once, in the order sent, and the proxy's log shows
# that the cuts happened.
. "$(dirname "$0")/lib.sh"

N=2000
start_server --history 5000
SPORT=$PORT
start_proxy --drop-every 300ms --bandwidth 80000 --seed 4150

seq 1 $N | sed 's/^/line /' >lines
EXPECT_TIMEOUT=110 expect_code 0 "$RTCTL" send --json --timeout 100s --url "$PBASE" once <lines
[ "$(count_lines '"event":"ack"' out)" -eq $N ] ||
    fail "$(count_lines '"event":"ack"' out) of $N messages acked"
ok "every message acknowledged"

drops=$(count_lines 'dropped after [0-9]+ ms' "$PROXY_ERR")
[ "$drops" -ge 3 ] || fail "the proxy cut only $drops connections"
count_lines 'retrying in' err >retries
[ "$(cat retries)" -ge 3 ] || fail "send reconnected only $(cat retries) times"
ok "the connections were cut ($drops times) and send reconnected"

curl -sf "$BASE/poll/once?since=0" >hist || fail "GET /poll failed"
"$RT_PY" - hist "$N" <<'PY' || fail "the room's history is not each line once"
import json, sys
d = json.load(open(sys.argv[1])); n = int(sys.argv[2])
msgs = d["messages"]
ids = [m["id"] for m in msgs]
assert len(ids) == len(set(ids)), "duplicates: %d stored, %d distinct" % (
    len(ids), len(set(ids)))
assert len(msgs) == n, "%d stored, %d sent" % (len(msgs), n)
assert [m["seq"] for m in msgs] == list(range(1, n + 1))
assert [m["data"]["content"] for m in msgs] == [
    "line %d" % i for i in range(1, n + 1)]
PY
ok "each id stored once, in the order sent, with its content"

done_testing
