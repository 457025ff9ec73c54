#!/bin/sh
# rtctl serve --redis started before its Redis: it listens at once, says
# degraded, refuses what needs the store (WebSocket close 1013, HTTP 503
# unavailable) and works as soon as Redis is there, without a restart.
# A bad --redis URL is a usage error (exit 2) naming what is wrong.
. "$(dirname "$0")/lib.sh"

expect_code 2 "$RTCTL" serve --port 0 --redis 'redis://127.0.0.1:99999'
check_grep 'port not in 1\.\.65535 in Redis URL' err
expect_code 2 "$RTCTL" serve --port 0 --redis 'http://127.0.0.1:6380'
check_grep 'unsupported scheme' err
ok "a bad --redis URL: exit 2 and what is wrong"

# A free port for Redis, then nothing on it until later.
start_redis
stop_redis
start_server --redis "$REDIS_URL"
health() {
    [ "$(curl -s -o health.out -w '%{http_code}' "$BASE/health")" = "$1" ]
}
wait_until 20 "degraded while Redis is not there" health 503
check_grep '"status":"degraded"' health.out

ok_py "no Redis yet: WebSocket refused with 1013, HTTP publish 503 unavailable" <<'EOF'
async def main():
    ws = await join("early", user="alice", welcome=False)
    await ws.expect_close(1013)
    r = await http("POST", "/publish/early", body=text_msg("hi"))
    check(r.status == 503 and match(r.json(), error_body("unavailable")),
          f"publish without Redis: {r}")
EOF
alive "$SERVER_PID" || fail "the server died without Redis"

restart_redis
wait_until 30 "healthy once Redis is there" health 200
ok_py "Redis there: the same server serves the room" <<'EOF'
async def main():
    a = await join("early", user="alice")
    check(await a.say("now") == 1, "the first message is seq 1")
EOF
expect_clean_stop
ok "started before Redis: degraded, refusing, then serving without a restart"
done_testing
