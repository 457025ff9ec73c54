#!/bin/sh
# rtctl connect --compress: permessage-deflate is offered and works with a
# server that compresses every message (python3-websockets), small and
# large; against a server that sends small messages uncompressed (rtctl
# serve --compress, on libwebsockets like rtctl), which the lws 4.1 client
# cannot read, it ends at once with exit 4 and says why, instead of
# spinning on the same message.
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

start_server --compress
EXPECT_TIMEOUT=30 expect_code 4 "$RTCTL" connect --compress -x a -x b -n 2 \
    "$WSBASE/echo"
check_grep 'libwebsockets 4.1 cannot read an uncompressed message' err
expect_code 0 "$RTCTL" connect -x a -x b -n 2 "$WSBASE/echo"
check_file out 'a
b'
ok "an uncompressed message under --compress ends with exit 4, not a spin"

expect_code 2 "$RTCTL" connect -H 'Sec-WebSocket-Extensions: permessage-deflate' \
    "$WSBASE/echo"
check_grep '[(]--compress offers permessage-deflate[)]' err
ok "-H Sec-WebSocket-Extensions points to --compress"

done_testing
