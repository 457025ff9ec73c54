#!/bin/sh
# rtctl connect answers a foreign server's ping (python3-websockets) with
# a pong that carries the ping's payload, bytes outside ASCII included,
# with and without --show-control.  Regression for issue 12 item 9: the
# pong is libwebsockets' own, so --show-control cannot show the ping (see
# rtctl-connect(1)); what the user notices is that the server keeps the
# connection.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/peers.sh"

start_peer_ws req.log

# Standard input stays open: its end would start the close handshake
# before the pong could be waited for.
mkfifo in
exec 4<>in

# The peer sends the text frame only once the matching pong came back.
expect_code 0 "$RTCTL" connect -n 1 "$PEER_WS/ping" <in
check_file out 'pong srv-ping'
ok "a server's ping is answered with its payload"

expect_code 0 "$RTCTL" connect -n 1 --show-control "$PEER_WS/ping" <in
check_file out 'pong srv-ping'
expect_code 0 "$RTCTL" connect -n 1 --json --show-control "$PEER_WS/ping" <in
check_file out '{"event":"text","data":"pong srv-ping"}'
ok "and with --show-control, text or --json"

exec 4>&-
done_testing
