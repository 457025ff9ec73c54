#!/bin/sh
# rtctl load -f: a scenario of phases (tests/bench/scenarios/drop-resume.json:
# a ramp to 100 subscribers, a hold, then every subscriber dropped at
# once).  The dropped subscribers come back with the backoff and resume:
# with the server's history nothing is lost and the phase table counts
# each drop and return; with a history of two messages the report shows
# what the gap cost, and that the resumes were refused.  Bad scenarios
# are usage errors naming the phase and the key.
. "$(dirname "$0")/lib.sh"

jget() {
    python3 - "$@" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2:]:
    v = v[int(k)] if isinstance(v, list) else v[k]
print(json.dumps(v))
PY
}

SC=$RT_SRCDIR/tests/bench/scenarios/drop-resume.json

# check_drop: the drop phase's own figures agree with the transports'.
check_drop() {
    dropped=$(jget r.json scenario phases 2 dropped)
    [ "$dropped" -gt 0 ] || fail "the drop phase dropped nobody"
    [ "$(jget r.json scenario phases 2 reconnected)" = "$dropped" ] ||
        fail "$dropped dropped, $(jget r.json scenario phases 2 reconnected) back"
    [ "$(jget r.json scenario phases 2 reconnect_time_us count)" = "$dropped" ] ||
        fail "reconnect times: $(jget r.json scenario phases 2 reconnect_time_us)"
    rc=$(($(jget r.json transports ws reconnects) +
        $(jget r.json transports sse reconnects) +
        $(jget r.json transports poll reconnects)))
    [ "$rc" -ge "$dropped" ] || fail "$dropped dropped but $rc reconnects"
    [ "$(jget r.json messages duplicated)" = 0 ] ||
        fail "$(jget r.json messages duplicated) duplicates"
    check_grep "^  drop +2\\.0s +100 +100/s +[0-9]+ .* $dropped +$dropped +[0-9.]+m?s\$" out
}

start_server --max-user-connections 0
EXPECT_TIMEOUT=90 expect_code 0 "$RTCTL" load "$WSBASE" -f "$SC" \
    --transport ws:1,sse:1,poll:1 --drain 60s --report-json r.json -q
check_drop
[ "$(jget r.json messages lost)" = 0 ] ||
    fail "lost $(jget r.json messages lost) with the history held"
[ "$(jget r.json messages delivered)" = "$(jget r.json messages expected)" ] ||
    fail "delivered $(jget r.json messages delivered) of $(jget r.json messages expected)"
[ "$(jget r.json scenario phases 1 sent)" -gt 0 ] || fail "the hold sent nothing"
check_grep '^  phase +start +subs +rate +delivered' out
ok "drop all: $dropped dropped, all back, every message once"
stop_all_servers

start_server --max-user-connections 0 --history 2
EXPECT_TIMEOUT=90 expect_code 0 "$RTCTL" load "$WSBASE" -f "$SC" \
    --transport ws:1,sse:1,poll:1 --drain 60s --report-json r.json -q
check_drop
lost=$(jget r.json messages lost)
[ "$lost" -gt 0 ] || fail "nothing lost with --history 2"
[ $(($(jget r.json messages delivered) + lost)) = "$(jget r.json messages expected)" ] ||
    fail "delivered + lost != expected: $(cat r.json)"
nr=$(($(jget r.json transports ws not_recovered) +
    $(jget r.json transports sse not_recovered) +
    $(jget r.json transports poll not_recovered)))
[ "$nr" -gt 0 ] || fail "no resume reported as not recovered"
check_grep "^  lost/dup/reorder \\.: $lost / 0 / " out
ok "history of 2: $lost lost across the drop, $nr resumes not recovered"

printf '{"phases": [{"duration": "1s", "connections": 5, "colour": 1}]}\n' >bad.json
expect_code 2 "$RTCTL" load "$WSBASE" -f bad.json
check_grep "bad.json': phase 1 \\(phase-1\\): unknown key 'colour'" err
printf '{"phases": [{"duration": "1s", "connections": 5}, {"name": "down", "duration": "1s", "connections": 2}]}\n' >bad.json
expect_code 2 "$RTCTL" load "$WSBASE" -f bad.json
check_grep "phase 2 \\(down\\): 'connections' goes down" err
printf '{"phases": [{"duration": "1s", "connections": 5, "drop": "150%%"}]}\n' >bad.json
expect_code 2 "$RTCTL" load "$WSBASE" -f bad.json
check_grep "'drop' must be" err
expect_code 2 "$RTCTL" load "$WSBASE" -f "$SC" -d 5s
check_grep "scenario's phases give the duration" err
expect_code 2 "$RTCTL" load "$WSBASE" -f nosuch.json
check_grep "cannot read 'nosuch.json'" err
expect_code 2 "$RTCTL" load "$WSBASE/echo" -f "$SC" --raw
check_grep "scenario: not with --raw" err
expect_code 2 "$RTCTL" load "$WSBASE" -f "$SC" --rooms 2 --workers 2
check_grep "scenario: not with --workers" err
ok "bad scenarios, and -f with --raw or --workers: usage errors"

done_testing
