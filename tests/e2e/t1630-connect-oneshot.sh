#!/bin/sh
# rtctl connect in one-shot use, against Node's `ws` (npm) and rtctl
# serve: -x messages and --send-file frames sent in order, answers waited
# for by count (-n) or duration (-w) with an exit status from what came
# back; the end of standard input ends with the close handshake, so no
# answer is cut off; slash commands in a pipe; binary frames printed as
# hex, base64 or raw bytes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/peers.sh"
need_npm

start_peer_node peer_ws_node.js
P=ws://127.0.0.1:$PEER_PORT

# --- -x, -n, -w

expect_code 0 "$RTCTL" connect -x one -x two -n 2 "$P"
check_file out 'one
two'
expect_code 0 "$RTCTL" connect -x 'burst 3' -n 3 "$P"
check_file out 'r1
r2
r3'
ok "-x sends in order; -n N exits 0 after N frames"

expect_code 0 "$RTCTL" connect -x hi -w 200ms "$P"
check_file out hi
expect_code 5 "$RTCTL" connect -x 'burst 1' -n 2 -w 1s "$P"
check_file out r1
check_grep '[-]-wait: 1 of 2 frames after 1000 ms' err
ok "-w waits a duration: exit 0, or 5 when -n frames did not all come"

expect_code 1 "$RTCTL" connect -x 'close 4000 done' -n 1 "$P"
check_grep 'the server ended the connection: close 4000 \(done\)' err
check_grep '0 of 1 frames' err
ok "a close before -n frames is exit 1, saying how many came"

# --- binary

head -c 70000 /dev/urandom >blob
expect_code 0 "$RTCTL" connect --send-file blob --binary-out raw -n 1 "$P"
cmp -s out blob || fail "raw binary-out differs from the file sent"
expect_code 0 "$RTCTL" connect --send-file blob --binary-out base64 -n 1 "$P"
base64 -d out | cmp -s - blob || fail "base64 binary-out differs"
printf 'hello' >small
expect_code 0 "$RTCTL" connect -x first --send-file small -n 2 "$P"
check_file out 'first
[binary 5 bytes] 68656c6c6f'
expect_code 0 "$RTCTL" connect --json --send-file small -n 1 "$P"
check_file out '{"event":"binary","data":"aGVsbG8="}'
ok "--send-file sends one binary frame; --binary-out raw, base64, hex"

expect_code 2 "$RTCTL" connect --binary-out octal "$P"
check_grep "is not hex, base64 or raw" err
expect_code 1 "$RTCTL" connect --send-file does-not-exist "$P"
check_grep "cannot open 'does-not-exist'" err
ok "bad --binary-out and --send-file are reported"

# --- slash commands in a pipe

printf '/ping are you there\n/binary small\n//slash\n/close 4001 bye now\n' |
    expect_code 0 "$RTCTL" connect --slash --show-control -n 2 -w 20s "$P"
check_file out '[binary 5 bytes] 68656c6c6f
/slash'
check_grep '^rtctl connect: > ping: are you there$' err
check_grep '^rtctl connect: < pong: are you there$' err
check_grep '^rtctl connect: < close 4001: bye now$' err
ok "/ping, /binary, //TEXT and /close CODE REASON"

printf '/nope\n' | expect_code 0 "$RTCTL" connect --slash -w 100ms "$P"
check_grep 'unknown command /nope; the commands: /ping' err
ok "an unknown slash command lists the commands"

# --- the end of standard input waits for the close handshake

start_server
seq 1 2000 | expect_code 0 "$RTCTL" connect "$WSBASE/echo"
[ "$(wc -l <out)" -eq 2000 ] || fail "$(wc -l <out) answers of 2000"
[ "$(tail -n 1 out)" = 2000 ] || fail "the last answer is $(tail -n 1 out)"
ok "end of input: every answer before the server's close is printed"

done_testing
