#!/bin/sh
# Ctrl-C stops `rtctl load`, and the summary and the JSON report still
# come out, marked interrupted; the exit status is 130.
. "$(dirname "$0")/lib.sh"

start_server --max-user-connections 0
"$RTCTL" load "$WSBASE" -c 20 -r 20/s -d 10m --interval 100ms --user load \
    --report-json r.json >out 2>err &
pid=$!
SERVER_PIDS="$SERVER_PIDS $pid"
# once it publishes (progress lines say "run"), interrupt it
wait_until 30 "rtctl load publishing" grep -q ' run ' err
kill -INT "$pid"
gone() { ! alive "$pid"; }
wait_until 30 "rtctl load exiting after SIGINT" gone
wait "$pid"
rc=$?
[ "$rc" = 130 ] || fail "exit $rc after SIGINT, expected 130"
check_grep '^rtctl load .* \(interrupted\)$' out
check_grep '^  messages sent \.+: [1-9]' out
python3 - <<'PY' || fail "r.json is not a report of an interrupted run"
import json
r = json.load(open("r.json"))
assert r["interrupted"] is True, r["interrupted"]
assert r["messages"]["sent"] > 0, r["messages"]
assert r["latency_us"]["count"] > 0, r["latency_us"]
PY
ok "SIGINT: exit 130, summary and JSON report written"

done_testing
