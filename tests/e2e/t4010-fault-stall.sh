#!/bin/sh
# Fault: connections that stop moving without closing.  `rtctl proxy
# --stall-every` freezes every connection a random time after it opens;
# `rtctl tail --stall-timeout 2s` must take each frozen stream for dead,
# reconnect, resume from the last event it printed, and so print every
# published seq exactly once and in order.
. "$(dirname "$0")/lib.sh"

# Keepalives every 500 ms: a healthy stream is never silent for 4 s, eight
# times that, even on a loaded machine, so every stall-timeout below is a
# stall of the proxy's.
start_server --sse-keepalive 500ms
SPORT=$PORT
SBASE=$BASE
start_proxy --stall-every 2s --seed 11

timeout 90 "$RTCTL" tail --json --event text --count 30 --stall-timeout 4s \
    --timeout 80s events/s --url "$PBASE" >tail.out 2>tail.err &
tail=$!
SERVER_PIDS="$SERVER_PIDS $tail"
wait_until 20 "tail is open" grep -q '"state":"open"' tail.err

# 30 messages over about 4 s, straight to the server: longer than any
# connection lives before it stalls.
i=1
while [ $i -le 30 ]; do
    set --
    j=0
    while [ $j -lt 3 ]; do
        [ $j -gt 0 ] && set -- "$@" --next
        set -- "$@" -o /dev/null -d \
            "{\"type\":\"text\",\"data\":{\"content\":\"m$((i + j))\"}}" \
            "$SBASE/publish/s"
        j=$((j + 1))
    done
    curl -sS --max-time 10 "$@" || fail "publishing m$i..m$((i + 2))"
    i=$((i + 3))
    sleep 0.4 # pacing, so that stalls fall among the messages
done
ok "30 messages published"

wait "$tail"
rc=$?
SERVER_PIDS=$(echo "$SERVER_PIDS" | sed "s/ $tail\b//")
[ "$rc" -eq 0 ] || { cat tail.err >&2; fail "tail --count 30 exited $rc"; }

/usr/bin/python3 - <<'PY' || fail "tail.out: not seq 1..30 exactly once, in order"
import json, sys
seqs = []
for n, line in enumerate(open("tail.out", encoding="utf-8"), 1):
    o = json.loads(line)
    d = json.loads(o["data"])
    assert o["event"] == "text" and o["id"].endswith("-%d" % d["seq"]), (n, line)
    assert d["data"]["content"] == "m%d" % d["seq"], (n, line)
    seqs.append(d["seq"])
if seqs != list(range(1, 31)):
    sys.exit("FAIL: seqs %s" % seqs)
PY
ok "every seq 1..30 printed once, in order"

check_grep 'stalled after [0-9]+ ms, until a peer closes \(--stall-every\)' \
    "$PROXY_ERR"
check_grep '"state":"backoff",.*"error":"TIMEDOUT","detail":"no bytes for 4000 ms"' \
    tail.err
check_grep '^rtctl tail: no bytes for 4000 ms; reconnecting in [0-9]+ ms' \
    tail.err
ok "the stalls were noticed after --stall-timeout and the stream reconnected"

kill -TERM "$PROXY_PID"
expect_clean_stop
done_testing
