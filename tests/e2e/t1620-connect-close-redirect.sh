#!/bin/sh
# rtctl connect: --exit-on-close wins over --reconnect (no reconnection,
# no "reconnecting" notice, never an empty reason), after a close frame
# from a foreign server and after kill -9 of rtctl serve; -L follows
# 301, 302, 307 and 308 to the upgrade (python3-websockets), at most
# --max-redirs in a row, and without -L a redirect names its Location; a
# certificate failure tells the user about --cacert.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/peers.sh"

start_peer_ws req.log
nreq() {
    grep -c "\"path\": \"$1" req.log
}

# --- --exit-on-close and --reconnect

# Standard input stays open: only the server ends these connections.
mkfifo in2
exec 4<>in2
expect_code 1 "$RTCTL" connect --exit-on-close --reconnect \
    "$PEER_WS/close?code=1011&reason=bye" <in2
check_grep '^rtctl connect: the server ended the connection: close 1011 \(bye\)$' err
if grep -q reconnecting err; then cat err >&2; fail "announced a reconnection"; fi
[ "$(nreq /close)" -eq 1 ] || fail "reconnected"
ok "--exit-on-close --reconnect: a close ends the command"

start_server
mkfifo in
timeout 40 "$RTCTL" connect --exit-on-close --reconnect "$WSBASE/echo" \
    <in >k.out 2>k.err &
pid=$!
SERVER_PIDS="$SERVER_PIDS $pid"
exec 3>in
echo up >&3
wait_until 20 "the echo" grep -q up k.out
kill -9 "$SERVER_PID"
wait "$pid"
rc=$?
exec 3>&-
[ "$rc" -eq 1 ] || { cat k.err >&2; fail "exited $rc after kill -9, expected 1"; }
check_grep '^rtctl connect: the server ended the connection: connection lost \(1006: no close frame\)$' k.err
if grep -Eq 'reconnecting|: ;' k.err; then cat k.err >&2; fail "bad notice"; fi
ok "--exit-on-close --reconnect after kill -9: exit 1, the reason said"

n=$(nreq /close)
EXPECT_TIMEOUT=40 expect_code 3 "$RTCTL" connect --reconnect --max-retries 1 \
    "$PEER_WS/close?code=1001&reason=again" <in2
exec 4>&-
check_grep 'close 1001 \(again\); reconnecting in' err
check_grep 'gave up after 1 retry: close 1001 \(again\)' err
[ "$(nreq /close)" -eq $((n + 2)) ] || fail "not one reconnection"
ok "--reconnect alone reconnects after a close"

# --- redirects

echo hi | expect_code 0 "$RTCTL" connect -n 1 -L "$PEER_WS/hop/2?code=301"
check_file out hi
for code in 302 307 308; do
    echo hi | expect_code 0 "$RTCTL" connect -n 1 --location \
        "$PEER_WS/hop/1?code=$code"
    check_file out hi
done
ok "-L follows 301, 302, 307 and 308"

n=$(nreq /hop/)
echo hi | expect_code 1 "$RTCTL" connect "$PEER_WS/hop/1?code=301"
check_grep "HTTP 301: a redirect to '/hop/0\\?code=301' \\(not followed\\)" err
[ "$(nreq /hop/)" -eq $((n + 1)) ] || fail "followed or retried"
echo hi | expect_code 3 "$RTCTL" connect -L --max-redirs 2 \
    "$PEER_WS/hop/5?code=307"
check_grep "more than 2 redirects in a row" err
[ "$(nreq /hop/)" -eq $((n + 4)) ] || fail "not 3 hops"
ok "without -L a redirect is an answer; --max-redirs bounds the hops"

# --- TLS

expect_code 0 openssl req -x509 -newkey rsa:2048 -nodes -days 1 \
    -subj /CN=127.0.0.1 -addext 'subjectAltName=IP:127.0.0.1' \
    -keyout key.pem -out cert.pem
start_server --tls-cert cert.pem --tls-key key.pem
echo hi | expect_code 3 "$RTCTL" connect "$WSBASE/echo"
check_grep 'use --cacert to trust it' err
echo hi | expect_code 0 "$RTCTL" connect --cacert cert.pem "$WSBASE/echo"
check_file out hi
ok "a certificate failure points to --cacert"

done_testing
