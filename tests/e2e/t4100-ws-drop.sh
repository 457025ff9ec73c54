#!/bin/sh
# The WebSocket client (issue 4) and rtctl tail through `rtctl proxy
# --drop-every`: 2000 messages published while the connections are cut
# again and again reach each client exactly once and in order.  The
# resumed events (WebSocket) and the proxy's log show that the cuts
# happened, so the test cannot pass by the proxy doing nothing.
. "$(dirname "$0")/lib.sh"

# A failure shows what the clients and the proxy went through.
fail() {
    show_states ws.out sse.err "${PROXY_ERR:-}"
    printf 'FAIL: %s\n' "$*" >&2
    exit 1
}

N=2000
# History enough for every message: each resume is then a full recovery.
start_server --history 5000
SPORT=$PORT
start_proxy --drop-every 300ms --seed 4100

bg_drv ws "$WSDRV" follow "ws://127.0.0.1:$PPORT/ws/r" --count $N \
    --deadline-ms 90000
ws=$BG_PID
bg_drv sse "$RTCTL" tail --json --order --event text --count $N \
    --timeout 90s events/r --url "$PBASE"
sse=$BG_PID
wait_until 30 "both clients are in the room before the first message" \
    sh -c 'grep -q "\"type\":\"welcome\"" ws.out &&
        grep -q "state\":\"open" sse.err'

# drops: how many connections the proxy has cut so far.
drops() {
    count_lines 'dropped after [0-9]+ ms \(--drop-every\)' "$PROXY_ERR"
}
more_drops_than() {
    [ "$(drops)" -gt "$1" ]
}

# Publish straight to the server in 10 bursts, each but the last followed
# by a cut of one more connection, so that the stream is cut while it flows
# however fast the machine is.  (After the last one the clients may have
# everything and be gone before the proxy cuts anything.)
i=1
while [ $i -le $N ]; do
    publish_seq "$BASE" r $i $((i + N / 10 - 1))
    d=$(drops)
    i=$((i + N / 10))
    [ $i -le $N ] || break
    # 45 s: a client whose connections were all cut before a message
    # may be waiting out a full backoff (30 s at most).
    wait_until 45 "a cut after m$((i - 1))" more_drops_than "$d"
done
ok "$N messages published"

wait_drv "$ws" ws 0
check_ws_seqs ws.out 1-$N
ok "WebSocket: seq 1..$N once, in order, exit 0"

resumed=$(count_lines '"type":"resumed"' ws.out)
[ "$resumed" -ge 3 ] ||
    { cat "$PROXY_ERR" >&2; fail "only $resumed resumed events"; }
if grep -q '"recovered":false' ws.out; then
    fail "a resume lost messages although the history holds them all"
fi
check_grep '"state":"backoff","delay_ms":[0-9]+,"err":"CLOSED"' ws.out
ok "WebSocket: $resumed reconnections, each resumed with nothing lost"

wait_drv "$sse" sse 0
"$RT_PY" - sse.out $N <<'PY' || fail "SSE: not exactly once, in order"
import json, sys
seqs = []
for line in open(sys.argv[1], encoding="utf-8"):
    o = json.loads(line)
    d = json.loads(o["data"])
    assert o["event"] == "text" and o["id"].endswith("-%d" % d["seq"]), line
    assert d["data"]["content"] == "m%d" % d["seq"], line
    seqs.append(d["seq"])
if seqs != list(range(1, int(sys.argv[2]) + 1)):
    sys.exit("FAIL: %d events; first ones out of place: %s" % (len(seqs),
             [s for i, s in enumerate(seqs, 1) if s != i][:10]))
PY
check_grep '"state":"backoff"' sse.err
ok "SSE (rtctl tail --order): seq 1..$N once, in order, exit 0"

ok "the proxy cut $(drops) connections"

expect_clean_stop
done_testing
