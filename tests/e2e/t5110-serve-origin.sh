#!/bin/sh
# With an explicit --allow-origin list, a request from a browser page of
# another origin is refused even when the browser sends it without a
# preflight (a text/plain POST, an EventSource): otherwise any page could
# publish into a room.  Requests without an Origin (curl, servers) and
# from a listed origin are served, with the spaces around commas ignored.
. "$(dirname "$0")/lib.sh"

start_server --allow-origin 'http://a.example , http://b.example'

msg='{"type":"text","data":{"content":"from a page"}}'
expect_code 0 curl -sS --max-time 10 -o body -w '%{http_code}\n' \
    -H 'Origin: http://evil.example' -H 'Content-Type: text/plain' \
    -d "$msg" "$BASE/publish/o"
check_file out 403
check_grep '"code":"forbidden"' body
expect_code 0 curl -sS --max-time 10 -o body -w '%{http_code}\n' \
    -H 'Origin: http://evil.example' "$BASE/events/o?timeout=1"
check_file out 403
expect_code 0 curl -sS --max-time 10 "$BASE/poll/o?since=0&timeout=0"
check_grep '"messages":\[\]' out
ok "a non-listed origin can neither publish nor stream"

for origin in http://a.example http://b.example; do
    expect_code 0 curl -sS --max-time 10 -D headers -o body \
        -H "Origin: $origin" -d "$msg" "$BASE/publish/o"
    check_grep '^HTTP/1.1 202' headers
    check_grep "^access-control-allow-origin: $origin" headers
done
expect_code 0 curl -sS --max-time 10 -D headers -o body -d "$msg" \
    "$BASE/publish/o"
check_grep '^HTTP/1.1 202' headers
ok "listed origins (spaces around commas ignored) and no origin are served"

expect_code 0 curl -sS --max-time 10 "$BASE/health" \
    -H 'Origin: http://evil.example'
check_grep '"status":"ok"' out
ok "/health answers any origin"

expect_clean_stop
done_testing
