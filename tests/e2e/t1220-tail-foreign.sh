#!/bin/sh
# rtctl tail against servers and proxies it did not write: a Content-Type
# other than text/event-stream ends the command for good (exit 4, naming
# the type) unless --retry-all-errors; rtctl serve's streams pass through
# nginx's stock proxying at once (X-Accel-Buffering: no); a stream that
# connects but stalls before its first event says a proxy may be
# buffering it; redirects are followed, at most --max-redirs in a row.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/peers.sh"
need_npm

start_peer_node peer_sse.js req.log
P=http://127.0.0.1:$PEER_PORT

# --- a wrong Content-Type

expect_code 4 "$RTCTL" tail "$P/type?ct=text/html;%20charset=utf-8"
check_grep "Content-Type is 'text/html; charset=utf-8', not text/event-stream" err
[ "$(grep -c '"/type"' req.log)" -eq 1 ] || fail "retried a wrong type"
ok "a wrong Content-Type exits 4 at once, naming the type"

expect_code 3 "$RTCTL" tail --max-retries 2 --retry-all-errors \
    "$P/type?ct=application/json"
check_grep "gave up after 2 retries: Content-Type is 'application/json'" err
[ "$(grep -c '"/type"' req.log)" -eq 4 ] || fail "not 3 more requests"
ok "--retry-all-errors keeps trying"

expect_code 0 "$RTCTL" tail --count 1 "$P/type?ct=Text/Event-Stream;charset=utf-8"
check_file out '[message] x'
ok "text/event-stream with parameters, any case, is a stream"

# --- stalls before the first event

expect_code 5 "$RTCTL" tail --no-reconnect --stall-timeout 1s "$P/silent"
check_grep "no event since the response headers; a proxy in between may be buffering the stream" err
ok "a stream stalled before its first event hints at a buffering proxy"

# --- nginx, stock proxy_pass, in front of rtctl serve

start_server
start_nginx "$PORT"
publish_seq "$BASE" general 1 2
# --since of another epoch: the replay of all the server holds.
EXPECT_TIMEOUT=30 expect_code 0 "$RTCTL" tail --json --count 1 \
    --since x-0 --timeout 15s --url "$NGINX_BASE" general
check_grep '"event":"welcome"' err
check_grep 'm1' out
ok "rtctl serve's SSE passes through nginx's default buffering"

EXPECT_TIMEOUT=30 expect_code 0 "$RTCTL" tail --since x-0 --count 2 \
    --timeout 15s --url "$NGINX_BASE" general
check_grep 'm2' out
ok "and replays what was published"

echo hi | EXPECT_TIMEOUT=30 expect_code 0 "$RTCTL" connect --timeout 15s \
    --url "$NGINX_BASE" /echo
check_file out hi
ok "rtctl connect through nginx's WebSocket proxying"

# --- redirects

expect_code 0 "$RTCTL" tail --count 1 "$P/hop/3?code=301"
check_file out '[message] x'
expect_code 0 "$RTCTL" tail --count 1 "$P/hop/1?code=308"
check_file out '[message] x'
ok "301 and 308 redirects are followed"

expect_code 3 "$RTCTL" tail --max-redirs 2 "$P/hop/5?code=307"
check_grep "more than 2 redirects in a row" err
n=$(grep -c '"/hop/' req.log)
expect_code 1 "$RTCTL" tail --max-redirs 0 "$P/hop/0"
check_grep "HTTP 302 Found, a redirect to '/type[?]ct=text/event-stream' \\(not followed\\)" err
[ "$(grep -c '"/hop/' req.log)" -eq $((n + 1)) ] || fail "retried a redirect"
ok "--max-redirs bounds the hops; 0 makes a redirect an error"

done_testing
