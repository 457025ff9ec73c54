#!/bin/sh
# rtctl tail following a live stream (issue 5, "rtctl tail TARGET"): it
# resumes with Last-Event-ID through `rtctl proxy --drop-every`, so 200
# messages published while connections are cut again and again arrive
# exactly once and in order; and the documented exit statuses of the
# network mode (refused 1, cannot connect 3, --timeout 5, Ctrl-C 130).
. "$(dirname "$0")/lib.sh"

start_server
SPORT=$PORT
SBASE=$BASE
start_proxy --drop-every 500ms --seed 7

# Two tails through the proxy: one that stops by itself after 200 text
# events, one with every event that is stopped with Ctrl-C.
bg "$RTCTL" tail --json --event text --count 200 --timeout 40s events/r \
    --url "$PBASE" >counted.out 2>counted.err
counted=$BG_PID
bg "$RTCTL" tail --json --timeout 50s events/r --url "$PBASE" \
    >all.out 2>all.err
all=$BG_PID
wait_until 20 "both tails get their welcome" \
    sh -c 'grep -q "\"event\":\"welcome\"" all.err &&
           grep -q "\"event\":\"welcome\"" counted.err'

# Publish straight to the server, in bursts of 10.
i=1
while [ $i -le 200 ]; do
    set --
    j=0
    while [ $j -lt 10 ]; do
        [ $j -gt 0 ] && set -- "$@" --next
        set -- "$@" -o /dev/null -d \
            "{\"type\":\"text\",\"data\":{\"content\":\"m$((i + j))\"}}" \
            "$SBASE/publish/r"
        j=$((j + 1))
    done
    curl -sS --max-time 10 "$@" || fail "publishing m$i..m$((i + 9))"
    i=$((i + 10))
    sleep 0.1 # pacing, so that cuts fall between bursts
done
ok "200 messages published"

# check_seqs FILE: FILE holds seq 1..200 exactly once, in order, in
# {"event":"text"} lines, beside presence events and nothing else: the
# server's welcome and resumed events are state, on stderr (issue 9).
check_seqs() {
    /usr/bin/python3 - "$@" <<'PY' || fail "$1: not exactly once, in order"
import json, sys
path = sys.argv[1]
seqs = []
for n, line in enumerate(open(path, encoding="utf-8"), 1):
    o = json.loads(line)
    assert set(o) == {"event", "id", "data"}, (n, line)
    d = json.loads(o["data"])
    assert o["event"] in ("text", "presence"), (n, line)
    if o["event"] == "presence":
        continue
    assert o["id"].endswith("-%d" % d["seq"]), (n, line)
    seqs.append(d["seq"])
if seqs != list(range(1, 201)):
    dup = sorted({s for s in seqs if seqs.count(s) > 1})
    miss = sorted(set(range(1, 201)) - set(seqs))
    sys.exit("FAIL: %d text events; duplicates %s; missing %s" %
             (len(seqs), dup[:10], miss[:10]))
PY
}

wait "$counted"
rc=$?
SERVER_PIDS=$(echo "$SERVER_PIDS" | sed "s/ $counted\b//")
[ "$rc" -eq 0 ] || { cat counted.err >&2; fail "tail --count 200 exited $rc"; }
check_seqs counted.out
ok "tail --count 200 through --drop-every: seq 1..200 once, in order, exit 0"

wait_until 40 "the second tail sees seq 200" \
    grep -q '\\"seq\\":200,' all.out
kill -INT "$all"
wait "$all"
rc=$?
SERVER_PIDS=$(echo "$SERVER_PIDS" | sed "s/ $all\b//")
[ "$rc" -eq 130 ] ||
    { cat all.err >&2; fail "tail exited $rc on SIGINT, expected 130"; }
check_seqs all.out
check_grep '"state":"closed"' all.err
check_grep '^rtctl tail: joined r; seq [0-9]+; [0-9]+ online$' all.err
check_grep '^\{"event":"welcome","room":"r",.*"seq":[0-9]+,"online":[0-9]+\}$' all.err
ok "every event: seq 1..200 once, the welcome on stderr; Ctrl-C closes, exit 130"

check_grep 'dropped after [0-9]+ ms \(--drop-every\)' "$PROXY_ERR"
check_grep '^rtctl tail: .*; reconnecting in [0-9]+ ms \(attempt [0-9]+\)$' \
    counted.err
check_grep '"state":"backoff","delay_ms":[0-9]+,"attempt":[0-9]+' counted.err
ok "the proxy cut connections and the tail reported its reconnections"

# --- exit statuses

expect_code 1 "$RTCTL" tail 'events/bad!room' --url "$SBASE"
check_grep "cannot follow '.*': HTTP 400" err
check_grep "^rtctl tail: cannot follow .*" err
[ "$(grep -c 'reconnecting' err)" -eq 0 ] ||
    fail "a refused stream (HTTP 400) was retried"
ok "a refused stream (HTTP 400) exits 1 without retrying, naming the status"

expect_code 5 "$RTCTL" tail --event text --count 1 --timeout 1s general \
    --url "$SBASE"
check_grep 'timeout: 0 of 1 events' err
ok "--timeout before --count exits 5"

expect_code 2 "$RTCTL" tail 'bad room' --url "$SBASE"
expect_code 2 "$RTCTL" tail -H 'no colon' general
check_grep "is not 'Name: value'" err
expect_code 2 "$RTCTL" tail --timeout 1s -
ok "usage errors exit 2"

expect_clean_stop
expect_code 3 "$RTCTL" tail --no-reconnect general --url "$SBASE"
check_grep 'connection refused' err
expect_code 3 "$RTCTL" tail --max-retries 1 general --url "$SBASE"
check_grep 'gave up after 1 retry' err
ok "a stopped server: --no-reconnect and --max-retries exit 3"

done_testing
