#!/bin/sh
# rtctl serve --tls-cert/--tls-key: https:// and wss:// with a certificate
# made here.
. "$(dirname "$0")/lib.sh"

expect_code 0 openssl req -x509 -newkey rsa:2048 -nodes -days 1 \
    -subj /CN=127.0.0.1 -keyout key.pem -out cert.pem
start_server --tls-cert cert.pem --tls-key key.pem --sse-keepalive 100ms
ok "starts with --tls-cert and --tls-key"

expect_code 0 curl -sS --max-time 10 --cacert cert.pem \
    "https://127.0.0.1:$PORT/health"
check_grep '^\{"status":"ok"\}$' out
ok "https:// /health with the certificate"

expect_code 0 curl -sS --max-time 10 -k -D headers -o body \
    -X POST -H 'Content-Type: application/json' \
    -d '{"type":"text","data":{"content":"over tls"}}' \
    "https://127.0.0.1:$PORT/publish/tls"
check_grep '^HTTP/[0-9.]+ 202' headers
check_grep '^\{"seq":1\}$' body
ok "https:// POST /publish"

RT_E2E_TLS=1
export RT_E2E_TLS
ok_py "wss:// rooms and https:// SSE" <<'EOF'
async def main():
    a = await join("tls", user="alice")
    check(a.welcome["data"]["seq"] == 1, show(a.welcome))
    b = await join("tls", user="bob")
    await a.expect({"type": "presence", "data": {"event": "join", "user": "bob"}})
    await a.say("secret")
    await b.expect({"type": "text", "data": {"content": "secret"}})
    e = await ws_connect("/echo", name="wss echo")
    await e.conn.send("ping me")
    check(await asyncio.wait_for(e.conn.recv(), WAIT) == "ping me", "echo")
EOF
unset RT_E2E_TLS

# head ends the stream once the welcome is in (curl notices at the next
# keepalive); --max-time bounds a failure
expect_code 0 sh -c "curl -sS -N --max-time 15 -k 'https://127.0.0.1:$PORT/events/tls' | head -n 5 >sse"
check_grep '^retry: 2000' sse
check_grep '^event: system' sse
ok "https:// /events streams"

expect_code 0 sh -c "curl -sS --max-time 10 'http://127.0.0.1:$PORT/health' >plain 2>&1; true"
if grep -q '"status":"ok"' plain; then
    fail "plain http:// is served on the TLS port"
fi
ok "plain http:// is not served on the TLS port"

expect_clean_stop
ok "the server exits 0 on SIGTERM"
done_testing
