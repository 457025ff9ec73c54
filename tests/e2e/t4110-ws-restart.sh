#!/bin/sh
# The WebSocket client (issue 4) across a server crash: `rtctl serve` is
# killed (SIGKILL) and started again on the same port.  The in-memory server
# comes back with a new epoch, so the client, reconnecting by itself,
# reports resumed with recovered:false and then delivers the new history;
# and while the server is down it retries at the pace of its backoff (base
# 1 s, cap 30 s, full jitter), not in a tight loop.
. "$(dirname "$0")/lib.sh"

start_server
SPORT=$PORT
bg_drv ws "$WSDRV" follow "ws://127.0.0.1:$SPORT/ws/r" --count 8 \
    --deadline-ms 100000
ws=$BG_PID
wait_until 20 "the client's welcome" grep -q '"type":"welcome"' ws.out
publish_seq "$BASE" r 1 5
wait_until 20 "seq 5 delivered" grep -q '"seq":5,' ws.out
epoch1=$(sed -n 's/.*"type":"welcome".*"epoch":"\([^"]*\)".*/\1/p' ws.out)
ok "connected (epoch $epoch1), seq 1..5 delivered"

# after_kill: the lines the client printed since the kill.
after_kill() {
    tail -n +$((before + 1)) ws.out
}
refused() {
    after_kill | grep -c '"state":"backoff".*"err":"CONNREFUSED"'
}
refused_twice() {
    [ "$(refused)" -ge 2 ]
}

before=$(wc -l <ws.out)
t_kill=$(now_ms)
stop_server KILL
# The outage lasts until the client has been refused twice, so that it
# spans retries whatever the jitter drew.
wait_until 30 "two refused attempts while the server is down" refused_twice
start_server --port "$SPORT"
outage=$(($(now_ms) - t_kill))
[ "$PORT" = "$SPORT" ] || fail "restarted on port $PORT, not $SPORT"
ok "server killed, restarted on port $SPORT after $outage ms"

reopened() {
    [ "$(after_kill | grep -c '"type":"welcome"')" -ge 1 ]
}
wait_until 45 "the client reconnects by itself" reopened
wait_until 10 "the client reports the resume" \
    sh -c "tail -n +$((before + 1)) ws.out | grep -q '\"type\":\"resumed\"'"
after_kill >after
check_grep '"state":"backoff","delay_ms":[0-9]+,"err":"CLOSED"' after
check_grep '"type":"resumed","recovered":false' after
epoch2=$(sed -n 's/.*"type":"welcome".*"epoch":"\([^"]*\)".*/\1/p' after)
[ -n "$epoch2" ] && [ "$epoch2" != "$epoch1" ] ||
    fail "the new server's epoch '$epoch2' is not new (was '$epoch1')"
ok "reconnected to the new epoch $epoch2; resumed recovered:false"

publish_seq "$BASE" r 1 3
wait_drv "$ws" ws 0
check_ws_seqs ws.out 1-5,1-3
ok "the new history delivered: 1..5, then 1..3 of the new epoch; exit 0"

# Connection attempts during the outage.  After the loss the client waits
# d0, d1, ... before its attempts, each d_k uniform in [0, c_k) with
# c_k = min(30 s, 1 s * 2^k) (the count started at 0: messages had been
# delivered).  Attempt j starts d0 + ... + d_(j-1) after the loss, so n
# attempts fit into an outage of L ms only if n delays sum to at most L,
# which has probability at most L^n / (n! * c_0 * ... * c_(n-1)) (the
# volume of that simplex, times the largest density).  The bound is the
# first n where that is below 1e-6: at most n - 1 attempts start during the
# outage, plus the one that succeeds.  For a 2 s outage it is 7; a client
# retrying in a tight loop would make hundreds.
attempts=$(after_kill | grep -c '"state":"connecting"')
bound=$("$RT_PY" - "$outage" <<'PY'
import math, sys
L = float(sys.argv[1])
n, p = 0, 1.0
while p >= 1e-6:
    p *= L / min(30000.0, 1000.0 * 2 ** n) / (n + 1)
    n += 1
print(n)
PY
)
[ "$attempts" -ge 2 ] || fail "only $attempts attempts to reconnect"
[ "$attempts" -le "$bound" ] ||
    fail "$attempts attempts in a $outage ms outage; backoff allows $bound"
ok "$attempts connection attempts in a $outage ms outage (at most $bound)"

expect_clean_stop
done_testing
