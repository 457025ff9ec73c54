#!/bin/sh
# rtctl serve --auth-secret: HS256 tokens from ?token= or Authorization:
# Bearer; WebSockets with a bad token are accepted then closed 1008 with a
# reason; HTTP answers 401/403 with a JSON error; /health and /metrics stay
# open; tokens never reach the log (PROTOCOL.md section 2).
. "$(dirname "$0")/lib.sh"

secret=s3cret-for-e2e
start_server --auth-secret "$secret" --log-level debug

ok_py "a good token: ?token= and Authorization: Bearer; sub is the user" "$secret" <<'EOF'
async def main():
    sec = ARGS[0]
    tok = token("alice", sec, ttl="1h")
    a = await join("general", token=tok, user="mallory")
    check(a.welcome["data"]["user"] == "alice",
          f"the user is {a.welcome['data']['user']!r}, expected the token's "
          "sub alice (not ?user=)")
    b = await join("general", headers={"Authorization": "Bearer " +
                                       token("bob", sec, ttl="1h")},
                   name="bob")
    check(b.welcome["data"]["user"] == "bob", f"bob's welcome {show(b.welcome)}")
    await a.expect({"type": "presence", "data": {"event": "join", "user": "bob"}})
    await a.say("hi bob")
    await b.expect({"type": "text", "data": {"content": "hi bob"}})
    c = await join("a", token=token("carol", sec, ttl="1h", rooms="a,b"))
    await c.say("in a")
    d = await join("b", token=token("carol", sec, ttl="1h", rooms="a,b"))
    await d.say("in b")
    # "rooms": ["*"] (what `rtctl token --rooms '*'` mints) is every room
    e = await join("anything", token=token("dan", sec, ttl="1h", rooms="*"))
    check(e.welcome["data"]["user"] == "dan", show(e.welcome))
EOF

ok_py "WebSocket with no, bad, expired or wrong-room token: accepted, then closed 1008 with the reason" "$secret" <<'EOF'
async def main():
    sec = ARGS[0]
    now = int(time.time())
    good_other = token("eve", "another-secret", ttl="1h")
    expired = token("eve", sec, ttl="1h", now=now - 7200)
    none_alg = ("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0."
                "eyJzdWIiOiJtYWxsb3J5IiwiZXhwIjo5OTk5OTk5OTk5fQ.")
    cases = [
        ("no token", "/ws/general", None, "invalid token"),
        ("empty token", "/ws/general?token=", None, "invalid token"),
        ("garbage", "/ws/general?token=not-a-token", None, "invalid token"),
        ("another secret", "/ws/general?token=" + good_other, None,
         "invalid token"),
        ("alg none", "/ws/general?token=" + none_alg, None, "invalid token"),
        ("HS512", "/ws/general?token=" + jwt({"sub": "x", "exp": now + 600},
                                             sec, alg="HS512"), None,
         "invalid token"),
        ("no exp", "/ws/general?token=" + jwt({"sub": "x"}, sec), None,
         "invalid token"),
        ("no sub", "/ws/general?token=" + jwt({"exp": now + 600}, sec), None,
         "invalid token"),
        ("tampered", "/ws/general?token=" + tamper(token("eve", sec,
                                                         ttl="1h")), None,
         "invalid token"),
        ("bad Bearer", "/ws/general", {"Authorization": "Bearer " + good_other},
         "invalid token"),
        ("expired", "/ws/general?token=" + expired, None, "token expired"),
        ("room not allowed", "/ws/c?token=" + token("eve", sec, ttl="1h",
                                                    rooms="a,b"), None,
         "room not allowed"),
        ("/echo without token", "/echo", None, "invalid token"),
    ]
    for what, path, headers, reason in cases:
        ws = await ws_connect(path, headers=headers, name=what)
        frames = await ws.expect_close(1008, reason, what=what)
        for f in frames:
            check(match(f, error_body()) and f["data"]["code"] in
                  ("unauthorized", "forbidden"),
                  f"{what}: before the close came {show(f)}; only an "
                  "unauthorized/forbidden error frame may come")
    probe = await join("general", token=token("zed", sec, ttl="1h"))
    await probe.say("nobody above joined")
EOF

ok_py "HTTP: 401 without or with a bad token, 403 for a room not allowed, JSON bodies" "$secret" <<'EOF'
async def main():
    sec = ARGS[0]
    bad = token("eve", "another-secret", ttl="1h")
    expired = token("eve", sec, ttl="1h", now=int(time.time()) - 7200)
    ab = token("eve", sec, ttl="1h", rooms="a,b")
    reqs = [("GET", "/events/general", None), ("GET", "/poll/general?timeout=0", None),
            ("POST", "/publish/general", text_msg("x")), ("GET", "/rooms", None),
            ("GET", "/rooms/general/presence", None)]
    for method, path, body in reqs:
        sep = "&" if "?" in path else "?"
        await expect_http_error(method, path, 401, "unauthorized", body=body)
        await expect_http_error(method, path + sep + "token=" + bad, 401,
                                "unauthorized", body=body)
        await expect_http_error(method, path, 401, "unauthorized", body=body,
                                headers={"Authorization": "Bearer " + expired})
        await expect_http_error(method, path, 401, "unauthorized", body=body,
                                headers={"Authorization": "Basic Zm9vOmJhcg=="})
        if "general" in path:
            await expect_http_error(method, path + sep + "token=" + ab, 403,
                                    "forbidden", body=body)
    seq = await publish("general", "via http", headers={
        "Authorization": "Bearer " + token("alice", sec, ttl="1h")})
    r = await http("GET", "/poll/a?since=0&timeout=0&token=" + ab)
    check(r.status == 200, f"poll of an allowed room: {r}")
    j = await http_json("GET", "/rooms", headers={"Authorization": "Bearer " + ab})
    s = await SSE.open("/events/general?token=" + token("sam", sec, ttl="1h"))
    await s.expect(event="system", data={"data": {"event": "welcome",
                                                  "user": "sam"}})
    s2 = await SSE.open("/events/b", headers={"Authorization": "Bearer " + ab})
    await s2.expect(event="system", data={"data": {"event": "welcome",
                                                   "user": "eve"}})
EOF

ok_py "/health, /metrics and CORS preflights need no token" <<'EOF'
async def main():
    check((await http("GET", "/health")).status == 200, "/health")
    check((await http("GET", "/metrics")).status == 200, "/metrics")
    r = await http("OPTIONS", "/publish/general", headers={
        "Origin": "http://page.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    check(r.status in (200, 204), f"a preflight (which never carries a "
          f"token) got {r}")
EOF

grep -F "$secret" "$SERVER_ERR" >/dev/null &&
    fail "the secret appears in the server log"
check_py "tokens never appear in the log" "$SERVER_ERR" "$secret" <<'EOF'
async def main():
    log = open(ARGS[0], encoding="utf-8", errors="replace").read()
    check(log.strip(), "--log-level debug logged nothing")
    for m in re.finditer(r"eyJ[A-Za-z0-9_-]{8,}(\.[A-Za-z0-9_-]*)*", log):
        fail(f"a token (or part of one) is in the log: {m.group(0)[:40]}...")
    check("not-a-token" not in log, "the garbage token is in the log")
EOF
ok "tokens and the secret never reach the log"

expect_clean_stop
RTCTL_AUTH_SECRET=$secret
export RTCTL_AUTH_SECRET
start_server
unset RTCTL_AUTH_SECRET
ok_py "RTCTL_AUTH_SECRET turns auth on too" "$secret" <<'EOF'
async def main():
    ws = await ws_connect("/ws/general", name="no token")
    await ws.expect_close(1008, "invalid token")
    ok = await join("general", token=token("alice", ARGS[0], ttl="1h"))
    check(ok.welcome["data"]["user"] == "alice", show(ok.welcome))
EOF

expect_clean_stop
ok "the server exits 0 on SIGTERM"
done_testing
