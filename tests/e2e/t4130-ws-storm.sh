#!/bin/sh
# A reconnect storm (issue 4): 500 WebSocket clients on one rt_loop are in
# a room when the server restarts (SIGTERM: every connection gets 1001, a
# close that asks for a reconnection; then a new server on the same port).
# Every client comes back, and thanks to the full jitter of the backoff
# they come back spread out rather than all at once.  What is checked is
# the spread of the delays drawn, a property of the jitter, never how fast
# anything is.
. "$(dirname "$0")/lib.sh"

N=500
# One fd per client in the driver and in the server, plus a margin.
lim=$(ulimit -n)
if [ "$lim" != unlimited ] && [ "$lim" -lt $((N + 64)) ]; then
    N=$((lim - 64))
    printf '# ulimit -n is %s: %d clients instead of 500\n' "$lim" "$N"
fi

start_server
SPORT=$PORT
bg_drv storm "$WSDRV" storm "ws://127.0.0.1:$SPORT/ws/storm" $N \
    --deadline-ms 90000
storm=$BG_PID
wait_until 60 "all $N clients open" grep -q '"type":"all_open"' storm.out
ok "$N clients connected"

expect_clean_stop
start_server --port "$SPORT"
[ "$PORT" = "$SPORT" ] || fail "restarted on port $PORT, not $SPORT"
ok "server restarted on port $SPORT"

wait_drv "$storm" storm 0
ok "every client reconnected by itself"

# The reconnections are spread by the full jitter: the first delay each
# client drew after the loss is uniform in [0, 1 s), where without jitter
# all would be equal.  So the busiest 100 ms of delays holds less than half
# of them, and the 10th to 90th percentile spans more than a tenth of the
# base.  The delays, not the times the clients came back: those depend on
# how busy the machine is, the delays only on the jitter.
"$RT_PY" - storm.out $N <<'PY' || fail "the reconnections are not spread"
import collections, json, sys
n = int(sys.argv[2])
lines = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
back = sorted(o["t_ms"] for o in lines if o["type"] == "open" and o["n"] == 2)
lost = {o["client"]: o for o in lines if o["type"] == "lost"}
if len(back) != n or len(lost) != n:
    sys.exit("FAIL: %d clients lost their connection, %d came back, of %d"
             % (len(lost), len(back), n))
delays = sorted(o["delay_ms"] for o in lost.values())
p10, p90 = delays[(n - 1) // 10], delays[(n - 1) * 9 // 10]
buckets = collections.Counter(d // 100 for d in delays)
busiest = max(buckets.values())
print("# first delays %d..%d ms; 10th-90th percentile %d ms; busiest "
      "100 ms: %d of %d; came back over %d ms" %
      (delays[0], delays[-1], p90 - p10, busiest, n, back[-1] - back[0]))
if busiest * 2 >= n or p90 - p10 <= 100:
    sys.exit("FAIL: the reconnection delays are not spread")
PY
ok "the reconnections are spread by the jitter"

expect_clean_stop
done_testing
