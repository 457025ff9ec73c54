#!/bin/sh
# rtctl serve --redis with a Redis that stops answering but keeps its
# sockets open (SIGSTOP: a hung or swapped-out Redis).  hiredis 0.14 has
# no command timeout; the server's own deadline notices, says degraded and
# refuses publishes, and recovers when Redis answers again.
. "$(dirname "$0")/lib.sh"

start_redis
start_server --redis "$REDIS_URL"
health() {
    [ "$(curl -s -o health.out -w '%{http_code}' "$BASE/health")" = "$1" ]
}
wait_until 20 "up" health 200

ok_py "before the stall: a message is stored" <<'EOF'
async def main():
    a = await join("st", user="alice")
    check(await a.say("one") == 1, "seq 1")
EOF

kill -STOP "$REDIS_PID"
wait_until 30 "degraded once Redis stopped answering" health 503
ok_py "Redis silent: a publish is refused with unavailable, not left hanging" <<'EOF'
async def main():
    r = await http("POST", "/publish/st", body=text_msg("two"))
    check(r.status == 503 and match(r.json(), error_body("unavailable")),
          f"publish to a silent Redis: {r}")
EOF
alive "$SERVER_PID" || fail "the server died with a silent Redis"

kill -CONT "$REDIS_PID"
wait_until 30 "healthy once Redis answers again" health 200
ok_py "Redis answering again: the room goes on at seq 2" <<'EOF'
async def main():
    a = await join("st", user="alice")
    check(await a.say("two") == 2, "seq 2")
EOF
expect_clean_stop
ok "a stalled Redis: degraded within the deadline, refusals, recovery"
done_testing
