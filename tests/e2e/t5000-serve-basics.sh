#!/bin/sh
# rtctl serve: startup, the plain HTTP endpoints, routing errors, CORS,
# origins, logs, /echo, and a graceful SIGTERM (PROTOCOL.md section 1).
. "$(dirname "$0")/lib.sh"

start_server --port-file "$T/port"
check_grep '^listening on http://127\.0\.0\.1:[0-9]+$' "$SERVER_OUT"
[ "$PORT" -gt 0 ] || fail "port $PORT"
ok "the first stdout line is 'listening on http://127.0.0.1:PORT'"

# What is bound: 127.0.0.1 only, by default (never every interface).
if command -v ss >/dev/null 2>&1; then
    ss -Hltn "sport = :$PORT" >listeners
    check_grep "^LISTEN .* 127\.0\.0\.1:$PORT " listeners
    if grep -v " 127\.0\.0\.1:$PORT " listeners | grep -q .; then
        cat listeners >&2
        fail "rtctl serve listens on more than 127.0.0.1:$PORT by default"
    fi
    ok "the default bind is 127.0.0.1 only"
fi

# The file may be written just after the line; poll for it.
port_file_done() { [ -s "$T/port" ] && grep -q '^[0-9][0-9]*$' "$T/port"; }
wait_until 10 "--port-file $T/port holds a port" port_file_done
[ "$(tr -d '\n' <"$T/port")" = "$PORT" ] ||
    fail "--port-file holds '$(cat "$T/port")', the line says $PORT"
ok "--port-file holds the same port"

expect_code 0 curl -sS --max-time 10 -D headers -o body "$BASE/health"
check_grep '^HTTP/1\.1 200' headers
check_grep '^[Cc]ontent-[Tt]ype: application/json' headers
ok_py "/health answers 200 {\"status\":\"ok\"}" <<'EOF'
async def main():
    j = await http_json("GET", "/health")
    check(j == {"status": "ok"}, f"/health body {show(j)}")
EOF

ok_py "/rooms lists rooms with online and seq; presence lists users" <<'EOF'
async def main():
    j = await http_json("GET", "/rooms")
    check(match(j, {"rooms": list}), f"/rooms: {show(j)}")
    check(not any(r.get("room") == "lobby" for r in j["rooms"]),
          f"/rooms lists 'lobby' before anyone joined: {show(j)}")
    a = await join("lobby", user="alice")
    b = await join("lobby", user="bob")
    await a.expect({"type": "presence", "data": {"event": "join",
                                                 "user": "bob"}})
    await a.say("one")
    await b.expect({"type": "text", "seq": 1})
    j = await http_json("GET", "/rooms")
    rooms = [r for r in j["rooms"] if r.get("room") == "lobby"]
    check(rooms == [{"room": "lobby", "online": 2, "seq": 1}],
          f"/rooms: expected lobby with online 2 and seq 1: {show(j)}")
    j = await http_json("GET", "/rooms/lobby/presence")
    check(match(j, {"room": "lobby", "online": AnyOrder(["alice", "bob"])}),
          f"/rooms/lobby/presence: {show(j)}")
    j = await http_json("GET", "/rooms/nobody-here/presence")
    check(match(j, {"room": "nobody-here", "online": []}),
          f"/rooms/nobody-here/presence: {show(j)}")
EOF

ok_py "HTTP/1.1 keep-alive: several requests on one connection; a POST's closes after it" <<'EOF'
async def main():
    r = await Raw.connect("keep-alive")
    for path in (b"/health", b"/rooms", b"/rooms/ka/presence"):
        await r.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        resp = await r.read_http_response()
        check(resp is not None and resp.status == 200,
              f"GET {path.decode()} on a kept-alive connection: {resp}")
        check(r.status_line.startswith("HTTP/1.1 "),
              f"status line {r.status_line!r}")
    # A request with a body ends its connection, and says so (libwebsockets
    # 4.1 cannot read a request pipelined behind a body: rtctl-serve(1)).
    body = json.dumps(text_msg("kept")).encode()
    await r.sendall(b"POST /publish/ka HTTP/1.1\r\nHost: x\r\n"
                    b"Content-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n" % len(body) + body)
    resp = await r.read_http_response()
    check(resp is not None and resp.status == 202, f"POST after GETs: {resp}")
    check(resp.header("connection", "").lower() == "close",
          f"a POST's answer says Connection: close: {resp}")
    check(await r.read_http_response() is None,
          "the connection ends after a POST's answer")
EOF

ok_py "Expect: 100-continue is answered (curl -d with a body over 1 KiB does not stall)" <<'EOF'
async def main():
    r = await Raw.connect("expect")
    body = json.dumps(text_msg("e" * 2000)).encode()
    await r.sendall(b"POST /publish/ex HTTP/1.1\r\nHost: x\r\n"
                    b"Content-Type: application/json\r\n"
                    b"Expect: 100-continue\r\n"
                    b"Content-Length: %d\r\n\r\n" % len(body))
    try:
        st, h = await r.read_http_head(timeout=5)
    except Fail:
        fail("Expect: 100-continue got no '100 Continue' within 5s (curl "
             "waits a second for it before it sends a body over 1 KiB)")
    check(st == 100, f"Expect: 100-continue got {st} {h}")
    await r.sendall(body)
    resp = await r.read_http_response()
    check(resp is not None and resp.status == 202, f"then: {resp}")
EOF

ok_py "unknown paths are 404" <<'EOF'
async def main():
    for p in ("/", "/nope", "/ws", "/events", "/health/x", "/rooms/a/b",
              "/metricsx", "/ws/general/extra", "/publish"):
        r = await http("GET", p)
        check(r.status == 404, f"GET {p}: expected 404, got {r}")
EOF

ok_py "wrong methods are 405 with Allow" <<'EOF'
async def main():
    cases = [("POST", "/health", "GET"), ("DELETE", "/rooms", "GET"),
             ("POST", "/metrics", "GET"), ("GET", "/publish/general", "POST"),
             ("PUT", "/publish/general", "POST"),
             ("POST", "/events/general", "GET"),
             ("POST", "/poll/general", "GET"),
             ("PUT", "/rooms/general/presence", "GET")]
    for method, p, allowed in cases:
        r = await http(method, p, body="{}" if method != "GET" else None)
        check(r.status == 405, f"{method} {p}: expected 405, got {r}")
        allow = [m.strip().upper() for m in r.header("allow", "").split(",")]
        check(allowed in allow, f"{method} {p}: 405 with Allow "
              f"{r.header('allow')!r}, expected it to list {allowed}")
        check(method not in allow, f"{method} {p}: 405 but Allow "
              f"{r.header('allow')!r} lists {method}")
EOF

ok_py "bad room names are 400 with a JSON error body, before any upgrade" <<'EOF'
async def main():
    bad = ["bad%20name", "a" * 65, "caf%C3%A9", "semi;colon", "per%25cent",
           "star*", "%00", "tab%09", "q%3Fx"]
    for room in bad:
        for method, prefix in (("GET", "/events/"), ("GET", "/poll/"),
                               ("POST", "/publish/")):
            await expect_http_error(method, prefix + room, 400,
                                    body=text_msg("x") if method == "POST"
                                    else None)
        await expect_http_error("GET", f"/rooms/{room}/presence", 400)
        # an upgrade request is refused with the same 400 and body
        st = await ws_refused("/ws/" + room)
        check(st == 400, f"upgrade of /ws/{room}: {st}")
    # the longest name is fine
    ws = await join("b" * 64, user="longname")
    await ws.say("ok")
    ws2 = await join("A.b_c-9", user="chars")
    await ws2.say("ok")
EOF

ok_py "CORS: Access-Control-Allow-Origin * and the OPTIONS preflight" <<'EOF'
async def main():
    origin = "http://page.example:3000"
    for p in ("/health", "/rooms", "/poll/cors?timeout=0"):
        r = await http("GET", p, headers={"Origin": origin})
        check(r.status == 200, f"GET {p}: {r}")
        acao = r.header("access-control-allow-origin")
        check(acao in ("*", origin), f"GET {p} with Origin: "
              f"Access-Control-Allow-Origin {acao!r}")
    r = await http("POST", "/publish/cors", body=text_msg("x"),
                   headers={"Origin": origin})
    check(r.status == 202 and r.header("access-control-allow-origin") in
          ("*", origin), f"POST /publish/cors with Origin: {r}")
    for p, method, hdrs in (
            ("/publish/cors", "POST", "authorization, content-type"),
            ("/events/cors", "GET", "last-event-id, authorization"),
            ("/poll/cors", "GET", "authorization"),
            ("/rooms", "GET", "authorization")):
        r = await http("OPTIONS", p, headers={
            "Origin": origin, "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": hdrs})
        check(r.status in (200, 204), f"OPTIONS {p}: expected 200 or 204, "
              f"got {r}")
        acao = r.header("access-control-allow-origin")
        check(acao in ("*", origin), f"OPTIONS {p}: "
              f"Access-Control-Allow-Origin {acao!r}")
        methods = [m.strip().upper() for m in
                   r.header("access-control-allow-methods", "").split(",")]
        check(method in methods, f"OPTIONS {p}: Access-Control-Allow-Methods "
              f"{r.header('access-control-allow-methods')!r} lacks {method}")
        allowed = [h.strip().lower() for h in
                   r.header("access-control-allow-headers", "").split(",")]
        for h in ("authorization", "content-type", "last-event-id"):
            check(h in allowed or "*" in allowed, f"OPTIONS {p}: "
                  "Access-Control-Allow-Headers "
                  f"{r.header('access-control-allow-headers')!r} lacks {h}")
EOF

ok_py "/echo sends every text and binary frame back as it came" <<'EOF'
async def main():
    ws = await ws_connect("/echo", name="echo")
    for m in ["hello", "", "not json {", "\u00e9\u4e2d\U0001F600",
              b"\x00\x01\xff", b"", "x" * 60000]:
        try:
            await ws.conn.send(m)
            got = await asyncio.wait_for(ws.conn.recv(), WAIT)
        except ConnectionClosed:
            fail(f"/echo closed with {ws.conn.close_code} "
                 f"{ws.conn.close_reason!r} when sent {show(m, 80)}")
        check(got == m and type(got) is type(m),
              f"/echo: sent {show(m, 80)}, got {show(got, 80)}")
    await ws.ping(b"echo-ping")
    await ws.close()
EOF

# --- a second server: bad flags, port in use, explicit origins, JSON logs
expect_code 2 "$RTCTL" serve --port 0 --ping-interval 5x
check_grep "5x" err
expect_code 2 "$RTCTL" serve --port 0 --log-level loud
check_grep "loud" err
expect_code 2 "$RTCTL" serve --port 0 --tls-cert only-one.pem
ok "bad flag values exit 2 and name the value"

expect_code 1 "$RTCTL" serve --port "$PORT"
check_grep "$PORT" err
ok "a port in use: exit 1 and a message naming it"

first_pid=$SERVER_PID
first_port=$PORT
start_server --host 127.0.0.2
check_grep '^listening on http://127\.0\.0\.2:[0-9]+$' "$SERVER_OUT"
if command -v ss >/dev/null 2>&1; then
    ss -Hltn "sport = :$PORT" >listeners
    check_grep "^LISTEN .* 127\.0\.0\.2:$PORT " listeners
fi
expect_code 0 curl -sS --max-time 10 "http://127.0.0.2:$PORT/health"
check_grep '"status":"ok"' out
expect_code 7 curl -sS --max-time 10 "http://127.0.0.1:$PORT/health"
expect_clean_stop
ok "--host binds that address only and the line names it"

start_server --allow-origin 'http://good.example,http://also.example:8000' \
    --log-format json --log-level debug
ok_py "an explicit --allow-origin refuses other origins' upgrades with 403" <<'EOF'
async def main():
    st = await ws_refused("/ws/o?user=evil", origin="http://evil.example")
    check(st == 403, f"upgrade from http://evil.example: expected 403, got {st}")
    st = await ws_refused("/ws/o?user=evil", origin="http://good.example:1")
    check(st == 403, f"upgrade from http://good.example:1: expected 403, got {st}")
    ok1 = await join("o", user="good", origin="http://good.example")
    ok2 = await join("o", user="also", origin="http://also.example:8000")
    await ok1.expect({"type": "presence", "data": {"event": "join",
                                                   "user": "also"}})
    # a client that is not a browser sends no Origin at all
    ok3 = await join("o", user="cli")
    await ok3.say("fine")
    r = await http("GET", "/health", headers={"Origin": "http://good.example"})
    check(r.header("access-control-allow-origin") == "http://good.example",
          f"GET /health from an allowed origin: {r}")
    r = await http("GET", "/health", headers={"Origin": "http://evil.example"})
    check(r.header("access-control-allow-origin") in (None, ""),
          f"GET /health from another origin gets "
          f"Access-Control-Allow-Origin {r.header('access-control-allow-origin')!r}")
EOF

expect_clean_stop
ok_py "--log-format json: every stderr line is one JSON object" "$SERVER_ERR" <<'EOF'
async def main():
    lines = open(ARGS[0], encoding="utf-8").read().splitlines()
    check(lines, "--log-level debug wrote no log line at all")
    for n, ln in enumerate(lines, 1):
        try:
            obj = json.loads(ln)
        except ValueError:
            fail(f"stderr line {n} is not JSON: {ln!r}")
        check(isinstance(obj, dict), f"stderr line {n} is not an object: {ln!r}")
EOF

# --- SIGTERM on the first server
SERVER_PID=$first_pid
PORT=$first_port
export SERVER_PID PORT
check_py "SIGTERM: WebSockets get 1001, SSE and polls end" <<'EOF'
async def main():
    import signal
    a = await join("bye", user="a")
    b = await join("bye2", user="b")
    s = await SSE.open("/events/bye")
    await s.expect(event="system", data={"data": {"event": "welcome"}})
    poll = asyncio.ensure_future(http("GET", "/poll/bye?since=0&timeout=30",
                                      timeout=20))
    e = await ws_connect("/echo", name="echo")
    os.kill(SERVER_PID, signal.SIGTERM)
    await a.expect_close(1001, what="room client on SIGTERM")
    await b.expect_close(1001, what="room client on SIGTERM")
    await e.expect_close(1001, what="/echo client on SIGTERM")
    await s.expect_end()
    r = await poll
    check(r.status in (200, 503), f"the held poll ended with {r}")
    await poll_until(server_gone, "rtctl serve exits after SIGTERM", 3)
EOF
wait_server
rc=$?
[ "$rc" -eq 0 ] || fail "rtctl serve exited $rc on SIGTERM, expected 0"
ok "SIGTERM: close 1001 to every WebSocket, SSE and poll end, exit 0 at once"

start_server
check_py "SIGINT with a client connected" <<'EOF'
async def main():
    import signal
    a = await join("int", user="a")
    os.kill(SERVER_PID, signal.SIGINT)
    await a.expect_close(1001, what="room client on SIGINT")
    await poll_until(server_gone, "rtctl serve exits after SIGINT", 3)
EOF
wait_server
rc=$?
[ "$rc" -eq 0 ] || fail "rtctl serve exited $rc on SIGINT, expected 0"
ok "SIGINT: close 1001 and exit 0"

done_testing
