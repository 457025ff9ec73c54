#!/bin/sh
# Several server URLs over TLS (issue 14, the clients): the TLS options
# apply to every URL.  Two https:// servers with one certificate made
# here; the first is killed; send (wss://), poll and tail (https://) given
# both URLs and --cacert reach the second.  Without --cacert the
# certificate is refused on the first URL, which stops the command at once
# (exit 3) as with one URL: a final answer is final whichever server gave
# it.
. "$(dirname "$0")/lib.sh"

expect_code 0 openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -nodes -days 1 -subj /CN=localhost \
    -addext subjectAltName=IP:127.0.0.1,DNS:localhost \
    -keyout key.pem -out cert.pem
start_server --tls-cert cert.pem --tls-key key.pem
A=$BASE
APID=$SERVER_PID
start_server --tls-cert cert.pem --tls-key key.pem
B=$BASE
BPID=$SERVER_PID
case $A$B in
https://*https://*) ;;
*) fail "the servers do not listen on https:// ($A, $B)" ;;
esac

curl -sS --max-time 10 --cacert cert.pem -o /dev/null \
    -d '{"type":"text","data":{"content":"b0"}}' "$B/publish/r" ||
    fail "publishing b0"
SERVER_PID=$APID
stop_server KILL
SERVER_PID=$BPID

expect_code 0 "$RTCTL" send --cacert cert.pem r s1 --url "$A,$B"
check_grep "^rtctl send: .*; retrying now, to wss://127.0.0.1:${B##*:}/ws/r\?presence=0$" \
    err
check_grep '^sent seq 2$' out
expect_code 0 "$RTCTL" poll --json --cacert cert.pem --since 0 --count 2 r \
    --url "$A" --url "$B"
check_grep '"s1"' out
expect_code 0 "$RTCTL" tail --cacert cert.pem --since 0 --event text \
    --count 2 r --url "$A,$B"
check_grep '"s1"' out
ok "--cacert applies to every URL: send, poll and tail reach the second"

start_server --tls-cert cert.pem --tls-key key.pem
C=$BASE
expect_code 3 "$RTCTL" poll --since 0 --count 1 r --url "$C,$B"
check_grep "^rtctl poll: cannot poll '$C/poll/r', '$B/poll/r': .*certificate" err
[ "$(count_lines 'retrying|polling again' err)" -eq 0 ] ||
    fail "a refused certificate was retried on another URL"
ok "a refused certificate stops the command on the first URL (exit 3)"

done_testing
