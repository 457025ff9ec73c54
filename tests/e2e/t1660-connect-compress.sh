#!/bin/sh
# rtctl connect --compress: permessage-deflate (RFC 7692) is offered and
# works with a server that compresses every message (python3-websockets),
# small and large (rtctl inflates), and with one that inflates what rtctl
# compresses but answers uncompressed, as RFC 7692 allows (rtctl serve
# --compress: before rtctl had its own codec, the libwebsockets 4.1 client
# could not read such answers and the connection ended with exit 4).  A
# server's pings are shown with --compress too.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/peers.sh"

start_peer_ws req.log
head -c 300000 /dev/zero | tr '\0' z >big
expect_code 0 "$RTCTL" connect --compress -x small -n 1 "$PEER_WS/echo"
check_file out small
expect_code 0 "$RTCTL" connect --compress --send-file big --binary-out raw \
    -n 1 "$PEER_WS/echo"
cmp -s out big || fail "the 300000-byte answer differs"
check_grep '"Sec-WebSocket-Extensions", "permessage-deflate' req.log
ok "--compress offers permessage-deflate; small and large messages come back"

mkfifo in
exec 4<>in
expect_code 0 "$RTCTL" connect --compress --show-control -n 1 \
    "$PEER_WS/ping" <in
check_file out 'pong srv-ping'
check_grep '^rtctl connect: < ping: srv-ping \\x00\\xff$' err
exec 4>&-
ok "with --compress, the server's ping is answered and shown"

start_server --compress
expect_code 0 "$RTCTL" connect --compress -x a -x b -n 2 "$WSBASE/echo"
check_file out 'a
b'
# 40 lines of 1000 bytes, compressed by rtctl, inflated by the server
awk 'BEGIN { for (i = 0; i < 40; i++) { s = ""
        for (j = 0; j < 100; j++) s = s sprintf("%09d ", i * 100 + j)
        print s } }' >lines
expect_code 0 "$RTCTL" connect --compress -n 40 "$WSBASE/echo" <lines
cmp -s out lines || fail "the 40 echoed lines differ"
ok "rtctl serve --compress inflates what rtctl sends; its plain answers are read"

expect_code 2 "$RTCTL" connect -H 'Sec-WebSocket-Extensions: permessage-deflate' \
    "$WSBASE/echo"
check_grep '[(]--compress offers permessage-deflate[)]' err
ok "-H Sec-WebSocket-Extensions points to --compress"

done_testing
