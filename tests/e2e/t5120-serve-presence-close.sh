#!/bin/sh
# Presence on a clean close (issue 9, item 1): a WebSocket whose client
# sends close 1000 or 1001, the user's last in the room, leaves at once
# with reason closed; the --presence-timeout grace is for ends nobody
# announced.  ?presence=0 connections are never listed and announce
# nothing; POST /publish never touches presence.
#
# The server runs with a ten-minute grace, so a leave that is seen at all
# within the test's deadlines was not waiting for it.
. "$(dirname "$0")/lib.sh"

start_server --presence-timeout 10m

ok_py "close 1000 and 1001: the user leaves at once, reason closed, in frames and /presence" <<'EOF'
async def online(room):
    return (await http_json("GET", f"/rooms/{room}/presence"))["online"]

async def main():
    alice = await join("pc", user="alice")
    for user, code in (("bob", 1000), ("carol", 1001)):
        w = await join("pc", user=user)
        await alice.expect({"type": "presence", "data": {
            "event": "join", "user": user}})
        check(user in await online("pc"), f"{user} is not listed")
        await w.close(code)
        await alice.expect({"type": "presence", "data": {
            "event": "leave", "user": user, "reason": "closed"}},
            what=f"{user} closed with {code}")
        check(user not in await online("pc"),
              f"{user} is still listed after close {code}: "
              f"{await online('pc')}")
EOF

ok_py "a user with a second connection stays when one closes; an abnormal end keeps the grace" <<'EOF'
async def online(room):
    return (await http_json("GET", f"/rooms/{room}/presence"))["online"]

async def main():
    alice = await join("pg", user="alice")
    d1 = await join("pg", user="dave")
    await alice.expect({"type": "presence", "data": {"event": "join",
                                                     "user": "dave"}})
    d2 = await join("pg", user="dave")
    await d1.close(1000)
    # no leave: dave still has d2 (the next presence frame is erin's join)
    ghost = await Raw.ws("/ws/pg?user=ghost", name="ghost")
    await alice.expect({"type": "presence", "data": {"event": "join",
                                                     "user": "ghost"}})
    before = (await metrics()).sum("rtctl_connections$", transport="ws")
    ghost.abort()  # a TCP reset, no close frame
    await wait_metric("rtctl_connections$", lambda v: v < before,
                      what="the server saw the reset connection go",
                      transport="ws")
    await d2.close(1000)
    # had the reset connection left at once, its leave would come first
    await alice.expect({"type": "presence", "data": {
        "event": "leave", "user": "dave", "reason": "closed"}},
        what="dave's last connection closed (ghost's reset must still be "
        "within its grace)")
    check("ghost" in await online("pg"), "the user whose connection was "
          f"reset left at once: {await online('pg')}")
EOF

ok_py "?presence=0 on /ws and /events: never listed, no join, no leave; still sends and receives" <<'EOF'
async def online(room):
    return (await http_json("GET", f"/rooms/{room}/presence"))["online"]

async def main():
    alice = await join("pz", user="alice")
    quiet = await join("pz", user="quiet", presence="0")
    check("quiet" not in quiet.welcome["data"]["online"],
          f"the welcome lists the presence=0 user: {show(quiet.welcome)}")
    sse = await SSE.open(sse_path("pz", user="lurker", presence="0"))
    await sse.expect(event="system")
    check(await online("pz") == ["alice"], "presence=0 users are listed: "
          f"{await online('pz')}")
    # they send and receive like anyone
    seq = await quiet.say("hi from nowhere")
    f = await alice.expect({"type": "text", "data": {
        "content": "hi from nowhere", "author": "quiet"}},
        what="alice gets the presence=0 user's message (no join before it)")
    await sse.expect(event="text", data={"data": {"content": "hi from nowhere"}})
    await quiet.close(1000)
    sse.close()
    # POST /publish is no presence either
    r = await http("POST", "/publish/pz?user=poster",
                   body=json.dumps(text_msg("by http")))
    check(r.status == 202, f"publish: {r}")
    await alice.expect({"type": "text", "data": {"content": "by http",
                                                 "author": "poster"}},
                       what="a publish, with no presence frame before it")
    frank = await join("pz", user="frank")
    await alice.expect({"type": "presence", "data": {"event": "join",
                                                     "user": "frank"}},
                       what="the next presence frame is frank's join")
    check(match(await online("pz"), AnyOrder(["alice", "frank"])),
          f"listed: {await online('pz')}")
    st = await ws_refused("/ws/pz?presence=maybe")
    check(st == 400, f"presence=maybe: {st}")
EOF
expect_clean_stop
done_testing
