#!/bin/sh
# What a request gets when it asks wrongly or for too much (issue 10,
# items 7 and 8): /rooms lists only the rooms a token's rooms claim
# allows; a token whose nbf is ahead is "not valid yet", not "expired";
# a POST without a usable Content-Length, chunked, or with both
# Content-Length and Transfer-Encoding (request smuggling) is refused
# with 411 or 400 and nothing is stored.
. "$(dirname "$0")/lib.sh"

start_server --auth-secret s3cret

ok_py "/rooms with a token limited to room a lists a only" <<'EOF'
async def main():
    admin = token("admin", "s3cret")
    for room in ("a", "b", "secret-c"):
        r = await http("POST", f"/publish/{room}?token={admin}",
                       body=json.dumps(text_msg("x")))
        check(r.status == 202, f"publish to {room}: {r}")
    lim = token("alice", "s3cret", rooms="a")
    rooms = (await http_json("GET", f"/rooms?token={lim}"))["rooms"]
    check([x["room"] for x in rooms] == ["a"], f"alice's /rooms: {rooms}")
    full = (await http_json("GET", f"/rooms?token={admin}"))["rooms"]
    check(sorted(x["room"] for x in full) == ["a", "b", "secret-c"],
          f"an unlimited token's /rooms: {full}")
EOF

ok_py "a token with nbf in the future: 401 'token not valid yet', 1008 on a WebSocket" <<'EOF'
async def main():
    now = int(time.time())
    early = jwt({"sub": "eve", "nbf": now + 3600, "exp": now + 7200},
                "s3cret")
    r = await http("GET", f"/rooms?token={early}")
    check(r.status == 401 and
          r.json()["data"]["message"] == "token not valid yet",
          f"/rooms with a future nbf: {r} {r.body!r}")
    ws = await ws_connect(f"/ws/a?token={early}", name="early")
    await ws.expect_close(1008, "token not valid yet")
    late = jwt({"sub": "eve", "exp": now - 10}, "s3cret")
    r = await http("GET", f"/rooms?token={late}")
    check(r.status == 401 and
          r.json()["data"]["message"] == "token expired", f"{r.body!r}")
EOF
expect_clean_stop

start_server
ok_py "POST framing: chunked 411, no length 411, negative or garbage 400, CL and TE 400; nothing stored" <<'EOF'
async def main():
    body = json.dumps(text_msg("smuggled")).encode()
    cases = [
        ("chunked", 411, b"Transfer-Encoding: chunked\r\n\r\n" +
         b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"),
        ("no Content-Length", 411, b"\r\n" + body),
        ("negative Content-Length", 400, b"Content-Length: -5\r\n\r\n" +
         body),
        ("garbage Content-Length", 400, b"Content-Length: 1x\r\n\r\n" +
         body),
        ("Content-Length and Transfer-Encoding", 400,
         b"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n" %
         len(body) + body),
    ]
    for what, status, rest in cases:
        r = await Raw.connect(what)
        await r.sendall(b"POST /publish/frame HTTP/1.1\r\nHost: x\r\n" +
                        b"Content-Type: application/json\r\n" + rest)
        resp = await r.read_http_response()
        check(resp is not None and resp.status == status and
              match(json.loads(resp.body), error_body()),
              f"{what}: expected {status}, got {resp}")
        r.close()
    seq = await publish("frame", "the first stored")
    check(seq == 1, f"a refused request was stored: next seq {seq}")
EOF
expect_clean_stop
done_testing
