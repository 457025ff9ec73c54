#!/bin/sh
# Fault: the server dies (SIGKILL) and a new one starts on the same port.
# The in-memory server comes back with a new epoch, so `rtctl tail` and
# `rtctl poll` must reconnect by themselves, say recovered:false (the
# {"event":"resumed","recovered":false} line of --json), go on with the new
# epoch's messages, and not hammer the dead port meanwhile: the attempts
# they make during the outage must fit the backoff schedule (DESIGN.md,
# "Reliability rules").
. "$(dirname "$0")/lib.sh"

start_server
SPORT=$PORT
SBASE=$BASE

# bg NAME CMD...: run CMD in the background, stdout to NAME.out, stderr to
# NAME.err, stopped by the EXIT trap if the script fails first.
bg() {
    _bg_name=$1
    shift
    "$@" >"$_bg_name.out" 2>"$_bg_name.err" &
    BG_PID=$!
    SERVER_PIDS="$SERVER_PIDS $BG_PID"
}

# interrupt PID NAME: Ctrl-C, and the command exits 130, neither crashing
# nor hanging (timeout would make it 124).
interrupt() {
    kill -INT "$1"
    wait "$1"
    _i_rc=$?
    SERVER_PIDS=$(echo "$SERVER_PIDS" | sed "s/ $1\b//")
    [ "$_i_rc" -eq 130 ] ||
        { cat "$2.err" >&2; fail "$2 exited $_i_rc on Ctrl-C, expected 130"; }
}

publish() {
    curl -sS --max-time 10 -o /dev/null \
        -d "{\"type\":\"text\",\"data\":{\"content\":\"$1\"}}" \
        "$SBASE/publish/r" || fail "publishing $1"
}

bg tail timeout 90 "$RTCTL" tail --json --event text --timeout 80s r \
    --url "$SBASE"
tail=$BG_PID
bg poll timeout 90 "$RTCTL" poll --json --wait 1s --timeout 80s r \
    --url "$SBASE"
poll=$BG_PID
wait_until 20 "tail is open" grep -q '"state":"open"' tail.err
wait_until 20 "the first poll is answered" grep -q '"state":"open"' poll.err
publish m1
publish m2
wait_until 20 "tail prints m2" grep -q 'm2' tail.out
wait_until 20 "poll prints m2" grep -q '"m2"' poll.out
ok "tail and poll follow the first server"

# --- the outage
stop_server KILL
t_down=$(now_ms)
# Three seconds at least, and until both clients have noticed.
outage_done() {
    [ $(($(now_ms) - t_down)) -ge 3000 ] &&
        grep -q '"state":"backoff"' tail.err &&
        grep -q '"state":"backoff"' poll.err
}
wait_until 20 "both clients notice the outage" outage_done
start_server --port "$SPORT"
[ "$PORT" = "$SPORT" ] || fail "the new server listens on $PORT, not $SPORT"
outage_ms=$(($(now_ms) - t_down))
ok "server killed and restarted on port $SPORT after ${outage_ms} ms"

# The first attempt after the restart resumes; the server no longer has
# the old epoch, so both must say that messages may have been lost.
wait_until 40 "tail reports recovered:false" \
    grep -q '^{"event":"resumed","recovered":false}$' tail.err
wait_until 40 "poll reports recovered:false" \
    grep -q '^{"event":"resumed","recovered":false}$' poll.err
check_grep '^rtctl tail: warning: resumed with recovered:false' tail.err
check_grep '^rtctl poll: warning: resumed with recovered:false' poll.err
ok "both reconnect by themselves and report recovered:false"

publish m3
wait_until 20 "tail prints m3" grep -q 'm3' tail.out
wait_until 20 "poll prints m3" grep -q '"m3"' poll.out
interrupt "$tail" tail
interrupt "$poll" poll

# What each printed: m1 and m2 in the old epoch, m3 as seq 1 of the new.
/usr/bin/python3 - <<'PY' || fail "the messages printed are not m1 m2 m3"
import json, sys
t = [json.loads(l) for l in open("tail.out", encoding="utf-8")]
d = [json.loads(o["data"]) for o in t]
got = [(o["id"].rsplit("-", 1), x["seq"], x["data"]["content"])
       for o, x in zip(t, d)]
ep = [g[0][0] for g in got]
assert [(g[1], g[2]) for g in got] == [(1, "m1"), (2, "m2"), (1, "m3")], got
assert [g[0][1] for g in got] == ["1", "2", "1"], got
assert ep[0] == ep[1] != ep[2], ("epochs", ep)
p = [json.loads(l) for l in open("poll.out", encoding="utf-8")]
assert [(o["seq"], o["data"]["content"]) for o in p] == \
    [(1, "m1"), (2, "m2"), (1, "m3")], p
PY
ok "tail and poll: m1 m2 in the old epoch, then m3 as seq 1 of the new one"

# --- the attempts during the outage
#
# Each failed attempt is one {"event":"state","state":"backoff",...} line.
# The delay before attempt k is random in [0, min(30 s, base * 2^(k-1)))
# (full jitter; base 1 s, or 2 s for tail once the stream said retry:
# 2000), and nothing resets the count while the port refuses.  Full
# jitter can pick a short delay, so no count is certain; but once
# ceil(log2(D / 1 s)) + 1 attempts are made, each further delay is drawn
# from a span of at least twice the outage D (8 s, 16 s, then the 30 s
# cap, for D around 3 s) and must be shorter than D for the attempt to
# fall inside the outage: 6 more such draws all do with a chance under
# 3/8 * 3/16 * (1/10)^4, about 10^-5.  So the bound is
# ceil(log2(D / 1 s)) + 7.  A client that retried at once would make
# thousands of attempts in those seconds, and even a fixed 100 ms retry
# interval would make 30 or more.
bound=$(/usr/bin/python3 -c "import math; print(math.ceil(math.log2($outage_ms / 1000)) + 7)")
for c in tail poll; do
    n=$(grep -c '"state":"backoff"' "$c.err")
    [ "$n" -ge 1 ] || fail "$c: no backoff during the outage"
    [ "$n" -le "$bound" ] || {
        grep '"state":"backoff"' "$c.err" >&2
        fail "$c: $n attempts in a ${outage_ms} ms outage, more than the $bound backoff allows"
    }
    # The attempt numbers count up from 1 with no reset in between.
    grep -o '"attempt":[0-9]*' "$c.err" | cut -d: -f2 >attempts
    seq 1 "$n" >want
    cmp -s attempts want ||
        { cat attempts >&2; fail "$c: attempts do not count 1..$n"; }
    ok "$c: $n attempts in ${outage_ms} ms (at most $bound), numbered 1..$n"
done

expect_clean_stop
done_testing
