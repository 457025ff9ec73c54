#!/bin/sh
# rtctl load against rtctl serve: every transport and a mix delivers what
# the server says it delivered (/metrics), with no loss; the JSON report
# is valid; thresholds pass and fail as written (exit 0 and 6).
. "$(dirname "$0")/lib.sh"

# One user for every connection: presence then costs one join, and no
# leave is queued to connections that are closing (the server counts
# what it queues, the report what arrived).  Each run has a server of its
# own: the previous run's connections, closed by the client, can still be
# queued a frame a few seconds later, which no report would count.
serve() {
    [ -z "${SERVER_PID:-}" ] || stop_server
    start_server --max-user-connections 0 --sse-keepalive 1h
}
serve

# delivered TRANSPORT: the server's delivered counter for TRANSPORT.
delivered() {
    python3 - "$BASE/metrics" "$1" <<'PY'
import re, sys, urllib.request
text = urllib.request.urlopen(sys.argv[1], timeout=10).read().decode()
m = re.search(r'^rtctl_messages_delivered_total\{transport="%s"\} (\d+)$'
              % sys.argv[2], text, re.M)
print(m.group(1) if m else "missing")
PY
}

# jget FILE PATH...: one value of a JSON report.
jget() {
    python3 - "$@" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2:]:
    v = v[k]
print(json.dumps(v))
PY
}

for tr in ws sse poll ws:50,sse:30,poll:20; do
    [ "$tr" = ws ] || serve
    ws0=$(delivered ws)
    sse0=$(delivered sse)
    room=t$(echo "$tr" | tr -cd 'a-z')
    EXPECT_TIMEOUT=90 expect_code 0 "$RTCTL" load "$WSBASE" -c 200 -r 40/s -d 2s --drain 60s --user load \
        --transport "$tr" --room-prefix "$room" --report-json r.json -q
    python3 -m json.tool r.json >/dev/null || fail "$tr: r.json is not JSON"
    ws1=$(delivered ws)
    sse1=$(delivered sse)
    [ "$(jget r.json frames_received ws)" = $((ws1 - ws0)) ] ||
        fail "$tr: report ws frames $(jget r.json frames_received ws), server delivered $((ws1 - ws0))"
    [ "$(jget r.json frames_received sse)" = $((sse1 - sse0)) ] ||
        fail "$tr: report sse frames $(jget r.json frames_received sse), server delivered $((sse1 - sse0))"
    sent=$(jget r.json messages acked)
    [ "$sent" -gt 0 ] || fail "$tr: nothing was acked"
    # every subscriber joined before the first message: each gets them all
    [ "$(jget r.json messages delivered)" = $((sent * 200)) ] ||
        fail "$tr: delivered $(jget r.json messages delivered), expected $((sent * 200))"
    [ "$(jget r.json messages lost)" = 0 ] || fail "$tr: lost messages"
    [ "$(jget r.json messages duplicated)" = 0 ] || fail "$tr: duplicates"
    check_grep "^  latency \.+: p50=" out
    ok "load --transport $tr: $((sent * 200)) deliveries, as /metrics counts them"
done

expect_code 0 "$RTCTL" load "$WSBASE" -c 20 -r 20/s -d 1s --user load -q \
    --threshold 'lost==0' --threshold 'p99>=0us' --threshold 'errors<1%' \
    --threshold 'delivered>0'
check_grep '^    ok +lost==0 \(0\)$' out
check_grep '^    ok +p99>=0us ' out
check_empty err
ok "thresholds that hold: exit 0, each listed as ok"

expect_code 6 "$RTCTL" load "$WSBASE" -c 20 -r 20/s -d 1s --user load -q \
    --threshold 'lost==0' --threshold 'p50<0us' --threshold 'delivered==0'
check_grep '^    FAILED p50<0us ' out
check_grep '^    FAILED delivered==0 ' out
check_grep '^    ok +lost==0 ' out
check_grep "threshold 'p50<0us' failed" err
ok "thresholds that fail: exit 6, naming them"

expect_code 2 "$RTCTL" load "$WSBASE" --threshold 'p99 about 5'
check_grep "not METRIC OP VALUE" err
expect_code 2 "$RTCTL" load "$WSBASE" --threshold 'p99<5parsecs'
expect_code 2 "$RTCTL" load "$WSBASE" --transport 'ws:70,carrier-pigeon:30'
expect_code 2 "$RTCTL" load "ftp://127.0.0.1:$PORT"
expect_code 2 "$RTCTL" load
ok "bad thresholds, transports and URLs are usage errors (exit 2)"

stop_server
expect_code 3 "$RTCTL" load "$WSBASE" -c 5 -d 1s -q
check_grep "no subscriber could connect" err
ok "no server: exit 3, saying so"

done_testing
