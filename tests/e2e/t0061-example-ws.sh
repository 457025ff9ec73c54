#!/bin/sh
# lib/examples/example_ws runs against `rtctl serve`: it joins the room,
# sends its hello, gets its own message back and the ack, and exits 0 on
# Ctrl-C.  (t0060 runs the SSE and long-polling examples.)
. "$(dirname "$0")/lib.sh"

: "${RT_BUILDDIR:?RT_BUILDDIR must name the build directory}"
EX=$RT_BUILDDIR/lib/examples
[ -x "$EX/example_ws" ] || fail "$EX/example_ws was not built"

start_server
for m in m1 m2; do
    curl -sS --max-time 10 -o /dev/null \
        -d "{\"type\":\"text\",\"data\":{\"content\":\"$m\"}}" \
        "$BASE/publish/ex" || fail "publishing $m"
done

timeout --foreground 20 "$EX/example_ws" "$WSBASE/ws/ex" "hello from the example" \
    >ws.out 2>ws.err &
ws=$!
SERVER_PIDS="$SERVER_PIDS $ws"
# Its own message comes back flushed; the ack line, printed by then, is
# flushed at exit.
wait_until 20 "example_ws gets its message back" \
    grep -q '^seq 3: hello from the example$' ws.out
kill -INT "$ws"
wait "$ws"
rc=$?
SERVER_PIDS=$(echo "$SERVER_PIDS" | sed "s/ $ws\b//")
[ "$rc" -eq 0 ] || { cat ws.out ws.err >&2; fail "example_ws exited $rc on Ctrl-C, expected 0"; }
check_grep '^joined as .* at seq 2$' ws.out
check_grep '^hello-1: stored as seq 3$' ws.out
ok "example_ws: joins, sends its hello, gets the ack; Ctrl-C exits 0"

# Given a dead server first, it fails over to the live one at once.
timeout --foreground 20 "$EX/example_ws" "ws://127.0.0.1:1/ws/ex,$WSBASE/ws/ex" \
    again >ws2.out 2>ws2.err &
ws=$!
SERVER_PIDS="$SERVER_PIDS $ws"
wait_until 20 "example_ws fails over to the live server" \
    grep -Eq "^state open 0 ms +\($WSBASE/ws/ex\)$" ws2.err
wait_until 20 "example_ws gets its message back from it" \
    grep -q '^seq 4: again$' ws2.out
kill -INT "$ws"
wait "$ws"
rc=$?
SERVER_PIDS=$(echo "$SERVER_PIDS" | sed "s/ $ws\b//")
[ "$rc" -eq 0 ] || { cat ws2.out ws2.err >&2; fail "example_ws exited $rc"; }
check_grep "^state backoff 0 ms CONNREFUSED .* \($WSBASE/ws/ex\)$" ws2.err
ok "example_ws: failover_urls, the dead first URL skipped without a delay"

expect_clean_stop
done_testing
