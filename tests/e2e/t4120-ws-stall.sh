#!/bin/sh
# The WebSocket client (issue 4) behind `rtctl proxy --stall-every`: each
# connection stops forwarding without being closed (a dead NAT entry, a
# pulled cable).  With a short ping interval and pong timeout the client
# notices the silence (state backoff, err TIMEDOUT), replaces the
# connection, and delivers every published seq once, in order.
. "$(dirname "$0")/lib.sh"

# A failure shows what the client and the proxy went through.
fail() {
    show_states ws.out "${PROXY_ERR:-}"
    printf 'FAIL: %s\n' "$*" >&2
    exit 1
}

N=200
BURSTS=10
start_server
SPORT=$PORT
# Stalls last past the test: only the client's liveness check ends them.
start_proxy --stall-every 500ms --stall-for 10m --seed 4120

bg_drv ws "$WSDRV" follow "ws://127.0.0.1:$PPORT/ws/r" --count $N \
    --ping-ms 300 --pong-ms 300 --connect-ms 2000 --deadline-ms 100000
ws=$BG_PID
wait_until 20 "the client's welcome" grep -q '"type":"welcome"' ws.out

timeouts() {
    count_lines '"state":"backoff","delay_ms":[0-9]+,"err":"TIMEDOUT"' ws.out
}
more_timeouts_than() {
    [ "$(timeouts)" -gt "$1" ]
}

# Between two bursts the client detects one more stall, so the stalls
# fall inside the stream.
i=1
while [ $i -le $N ]; do
    last=$((i + N / BURSTS - 1))
    t=$(timeouts)
    publish_seq "$BASE" r $i $last
    [ $last -lt $N ] &&
        wait_until 45 "a stall detected after m$last" more_timeouts_than "$t"
    i=$((last + 1))
done
ok "$N messages published in $BURSTS bursts, stalls detected between them"

wait_drv "$ws" ws 0
check_ws_seqs ws.out 1-$N
ok "seq 1..$N once, in order, across $(timeouts) stalled connections; exit 0"

why='no (frame or pong for [0-9]+ ms after a ping|connection within 2000 ms)'
check_grep "\"err\":\"TIMEDOUT\",.*\"detail\":\"$why\"" ws.out
if grep -q '"recovered":false' ws.out; then
    fail "a resume lost messages although the history holds them all"
fi
check_grep 'stalled after [0-9]+ ms, for 600000 ms \(--stall-every\)' \
    "$PROXY_ERR"
ok "each stall reported as TIMEDOUT with its reason; every resume recovered"

expect_clean_stop
done_testing
