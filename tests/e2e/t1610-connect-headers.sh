#!/bin/sh
# rtctl connect's handshake headers, as a foreign server (python3-websockets)
# and rtctl serve --allow-origin see them: --origin sent as given (not
# "http://" + it); -H 'Host: ...' replaces the Host header, never a second
# one; -H Origin and -H Sec-WebSocket-Protocol work as --origin and
# --subprotocol; the headers the handshake owns are a usage error.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/peers.sh"

start_peer_ws req.log

# headers NAME: the values of header NAME in the last request, one a line.
headers() {
    "$RT_PY" - "$1" req.log <<'PY'
import json, sys
last = open(sys.argv[2]).read().splitlines()[-1]
for k, v in json.loads(last)["headers"]:
    if k.lower() == sys.argv[1].lower():
        print(v)
PY
}

echo hi | expect_code 0 "$RTCTL" connect -n 1 --origin http://o.example \
    "$PEER_WS/echo"
check_file out hi
headers Origin >got
check_file got "http://o.example"
ok "--origin is sent as given"

start_server --allow-origin http://o.example
echo hi | expect_code 0 "$RTCTL" connect --origin http://o.example \
    "$WSBASE/echo"
check_file out hi
ok "rtctl serve --allow-origin accepts rtctl connect --origin"

echo hi | expect_code 0 "$RTCTL" connect -n 1 -H 'Host: vhost.example' \
    -H 'X-Trace: 7' "$PEER_WS/echo"
headers Host >got
check_file got "vhost.example"
headers X-Trace >got
check_file got 7
ok "-H 'Host: ...' replaces the Host header"

echo hi | expect_code 0 "$RTCTL" connect -n 1 -H 'origin: http://h.example' \
    "$PEER_WS/echo"
headers Origin >got
check_file got "http://h.example"
ok "-H Origin is sent once"

echo hi | expect_code 0 "$RTCTL" connect -n 1 --json --show-control \
    -H 'Sec-WebSocket-Protocol: nope, chat' "$PEER_WS/sub"
check_file out '{"event":"text","data":"hi"}'
headers Sec-WebSocket-Protocol >got
check_file got "nope, chat"
ok "-H Sec-WebSocket-Protocol offers subprotocols, as --subprotocol does"

for h in 'Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==' \
    'Sec-WebSocket-Version: 8' 'Upgrade: h2c' 'connection: close' \
    'Sec-WebSocket-Extensions: permessage-deflate'; do
    expect_code 2 "$RTCTL" connect -H "$h" "$PEER_WS/echo"
    check_grep "'$h': the WebSocket handshake sets it" err
done
expect_code 2 "$RTCTL" connect -H 'Origin: http://a' --origin http://b \
    "$PEER_WS/echo"
check_grep 'not both' err
expect_code 2 "$RTCTL" connect -H 'Sec-WebSocket-Protocol: x' \
    --subprotocol chat "$PEER_WS/echo"
check_grep 'not both' err
ok "headers the handshake owns are usage errors"

done_testing
