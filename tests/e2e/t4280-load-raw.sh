#!/bin/sh
# rtctl load --raw against WebSocket echo servers that know nothing of the
# rtctl protocol: the bundled server's /echo and a Node `ws` echo (npm,
# installed into the build tree).  Every message sent comes back, is
# matched to its send by its marker, and has its round trip measured; the
# closed model (--in-flight) never has more messages out than its window.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/peers.sh"

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

# check_echoes FILE WHAT: every message sent was echoed and timed once.
check_echoes() {
    _sent=$(jget "$1" messages sent)
    [ "$_sent" -gt 0 ] || fail "$2: nothing was sent"
    [ "$(jget "$1" messages acked)" = "$_sent" ] ||
        fail "$2: $(jget "$1" messages acked) echoed of $_sent sent"
    [ "$(jget "$1" messages delivered)" = "$_sent" ] ||
        fail "$2: $(jget "$1" messages delivered) delivered of $_sent sent"
    [ "$(jget "$1" latency_us count)" = "$_sent" ] ||
        fail "$2: $(jget "$1" latency_us count) round trips timed of $_sent"
    [ "$(jget "$1" messages lost)" = 0 ] || fail "$2: lost echoes"
    [ "$(jget "$1" messages duplicated)" = 0 ] || fail "$2: duplicates"
    [ "$(jget "$1" config raw)" = true ] || fail "$2: config.raw not true"
}

start_server
EXPECT_TIMEOUT=60 expect_code 0 "$RTCTL" load --raw "$WSBASE/echo" -c 50 \
    -r 200/s -d 2s --report-json r.json -q
check_echoes r.json "/echo"
check_grep '^  50 connections \(raw echo\)' out
check_grep '^  messages sent \.+: [0-9]+ .*, [0-9]+ echoed' out
check_grep '^  lost/dup/reorder \.: 0 / 0 / 0$' out
ok "--raw against rtctl serve's /echo: every message echoed and timed"

EXPECT_TIMEOUT=60 expect_code 0 "$RTCTL" load --raw "$WSBASE/echo" -c 5 \
    -r 50/s -d 1s --message '{"op":"ping","tag":"{marker}","again":"{marker}"}' \
    --report-json r.json -q
check_echoes r.json "--message with two markers"
ok "--raw --message: a JSON template, its {marker}s filled in"

expect_code 2 "$RTCTL" load --raw "$WSBASE/echo" --message 'no marker here'
check_grep "has no \{marker\}" err
expect_code 2 "$RTCTL" load "$WSBASE" --message '{marker}'
check_grep "is for --raw" err
ok "--message without {marker}, or without --raw: usage errors (exit 2)"

# The closed model through a proxy that holds every chunk 100 ms each
# way: with one message in flight per connection, a message waits for the
# echo of the one before, so 2 s allow at most 2 s / 180 ms + 1 per
# connection (180: allowing for the proxy's millisecond timers), however
# fast the machine is (a bound only a broken window passes, not a timing).
SPORT=$PORT
start_proxy --latency 100ms
EXPECT_TIMEOUT=60 expect_code 0 "$RTCTL" load --raw "ws://127.0.0.1:$PPORT/echo" \
    -c 4 -r 0 --in-flight 1 -d 2s --report-json r.json -q
check_echoes r.json "--in-flight 1"
sent=$(jget r.json messages sent)
[ "$sent" -le $((4 * 12)) ] ||
    fail "--in-flight 1: $sent sent by 4 connections in 2s at 200ms a round trip"
[ "$(jget r.json config in_flight)" = 1 ] || fail "config.in_flight not 1"
check_grep 'closed model \(1 in flight, no rate limit\)' out
ok "--raw --in-flight 1 -r 0: one message out at a time ($sent in 2s), all echoed"

stop_server
expect_code 3 "$RTCTL" load --raw "$WSBASE/echo" -c 3 -d 1s -q
check_grep "no connection could be opened to" err
ok "--raw with no server: exit 3, saying so"

# over TLS: the echoes come back through the same memory BIOs
expect_code 0 openssl req -x509 -newkey rsa:2048 -nodes -days 1 \
    -subj /CN=127.0.0.1 -addext 'subjectAltName=IP:127.0.0.1' \
    -keyout key.pem -out cert.pem
start_server --tls-cert cert.pem --tls-key key.pem
EXPECT_TIMEOUT=60 expect_code 0 "$RTCTL" load --raw "wss://127.0.0.1:$PORT/echo" \
    --cacert cert.pem -c 20 -r 100/s -d 1s --report-json r.json -q
check_echoes r.json "wss:// /echo"
ok "--raw over wss://, the certificate checked: every message echoed"
stop_server

need_npm
start_peer_node peer_ws_node.js
EXPECT_TIMEOUT=60 expect_code 0 "$RTCTL" load --raw "ws://127.0.0.1:$PEER_PORT/" \
    -c 100 -r 300/s -d 2s --report-json r.json -q
check_echoes r.json "Node ws echo"
[ "$(jget r.json transports ws opened)" = 100 ] || fail "not 100 opened"
ok "--raw against a Node ws echo server: every message echoed and timed"

done_testing
