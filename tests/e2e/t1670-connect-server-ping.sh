#!/bin/sh
# rtctl connect answers a foreign server's ping (python3-websockets) with
# a pong that carries the ping's payload, bytes outside ASCII included,
# with and without --show-control, and --show-control shows that ping
# (issue 12 item 9: on libwebsockets 4.1 the ping never reached rtctl, so
# it could not be shown).
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
check_grep '^rtctl connect: < ping: srv-ping \\x00\\xff$' err
ok "--show-control shows the server's ping, bytes outside ASCII as \\xHH"

expect_code 0 "$RTCTL" connect -n 1 --json --show-control "$PEER_WS/ping" <in
check_file out '{"event":"text","data":"pong srv-ping"}'
# not UTF-8: the payload in base64 ("srv-ping " 00 ff)
check_grep '^{"event":"ping","dir":"in","base64":"c3J2LXBpbmcgAP8="}$' err
ok "and in --json, as base64 when the payload is not UTF-8"


exec 4>&-
done_testing
