#!/bin/sh
# rtctl serve: long polling (PROTOCOL.md sections 1 and 4): at once when
# messages exist, waits for the next one, times out empty, `next`, and
# recovered:false on another epoch or a trimmed history.
. "$(dirname "$0")/lib.sh"

start_server --history 3

ok_py "messages after since: answered at once with epoch, messages, next, recovered" <<'EOF'
async def main():
    ws = await join("p", user="alice")
    epoch = ws.welcome["data"]["epoch"]
    save("epoch", epoch)
    await ws.say("one", id="i1")
    await ws.say("two")
    # A server that held this poll would answer after its 60 s, long after
    # the client's own deadline.
    j = await http_json("GET", f"/poll/p?since=0&epoch={epoch}&timeout=60",
                        timeout=20)
    check(match(j, {"epoch": epoch, "next": 2, "recovered": True,
                    "messages": [
                        {"type": "text", "room": "p", "seq": 1,
                         "timestamp": is_time, "data": {"content": "one"}},
                        {"type": "text", "room": "p", "seq": 2,
                         "timestamp": is_time, "data": {"content": "two"}}]}),
          f"poll since=0: {show(j)}")
    j = await http_json("GET", f"/poll/p?since=1&epoch={epoch}")
    check(match(j, {"epoch": epoch, "next": 2, "recovered": True,
                    "messages": [{"seq": 2}]}), f"poll since=1: {show(j)}")
    # a timeout past the maximum (60) is clamped, not refused
    j = await http_json("GET", f"/poll/p?since=1&epoch={epoch}&timeout=3600")
    check(match(j, {"next": 2, "messages": [{"seq": 2}]}),
          f"poll with timeout=3600: {show(j)}")
    # without an epoch (a first poll) the messages come too
    j = await http_json("GET", "/poll/p?since=1")
    check(match(j, {"epoch": epoch, "next": 2, "messages": [{"seq": 2}]}),
          f"poll since=1 without epoch: {show(j)}")
EOF

ok_py "nothing after since: the poll waits, and answers when a message comes" <<'EOF'
async def held(n):
    """Wait until the server holds n polls (its poll connections gauge)."""
    async def check_held():
        return (await metrics()).sum(r"rtctl_connections$",
                                     transport="poll") >= n
    await poll_until(check_held, f"{n} polls held by the server")

async def main():
    epoch = load("epoch")
    poll = asyncio.ensure_future(http(
        "GET", f"/poll/p?since=2&epoch={epoch}&timeout=60", timeout=30))
    # Held: the server counts it, and it has not answered.  What it
    # answers then can only be the message published after this point.
    await held(1)
    check(not poll.done(), f"the poll answered with nothing to say: "
          f"{poll.result() if poll.done() else ''}")
    seq = await publish("p", "three")
    r = await poll
    check(r.status == 200, f"held poll: {r}")
    j = r.json()
    check(match(j, {"epoch": epoch, "next": 3, "recovered": True,
                    "messages": [{"type": "text", "seq": 3,
                                  "data": {"content": "three"}}]}),
          f"held poll: {show(j)}")
    # several held polls all wake up
    polls = [asyncio.ensure_future(http(
        "GET", f"/poll/p?since=3&epoch={epoch}&timeout=60", timeout=30))
        for _ in range(5)]
    await held(5)
    check(not any(p.done() for p in polls),
          "a poll answered with nothing to say")
    ws = await join("p", user="bob")
    await ws.say("four")
    for p in polls:
        j = (await p).json()
        check(match(j, {"next": 4, "messages": [{"seq": 4}]}),
              f"one of five held polls: {show(j)}")
EOF

ok_py "timeout=1 with nothing new: an empty list after about a second" <<'EOF'
async def main():
    epoch = load("epoch")
    t0 = time.monotonic()
    j = await http_json("GET", f"/poll/p?since=4&epoch={epoch}&timeout=1",
                        timeout=15)
    took = time.monotonic() - t0
    check(took >= 0.8, f"timeout=1 answered after {took:.2f}s")
    check(j == {"epoch": epoch, "messages": [], "next": 4, "recovered": True},
          f"empty poll: {show(j)}")
EOF

ok_py "another epoch or a trimmed history: what is held and recovered:false" <<'EOF'
async def main():
    epoch = load("epoch")
    # p stores 1..4 and holds 2..4 (--history 3)
    for q in (f"since=3&epoch=Other{epoch[:20]}", f"since=0&epoch={epoch}"):
        j = await http_json("GET", f"/poll/p?{q}&timeout=5")
        check(match(j, {"epoch": epoch, "next": 4, "recovered": False,
                        "messages": [{"seq": 2}, {"seq": 3}, {"seq": 4}]}),
              f"poll {q}: {show(j)}")
    j = await http_json("GET", f"/poll/p?since=1&epoch={epoch}&timeout=5")
    check(match(j, {"epoch": epoch, "next": 4, "recovered": True,
                    "messages": [{"seq": 2}, {"seq": 3}, {"seq": 4}]}),
          f"poll since=1 (oldest held - 1): {show(j)}")
EOF

ok_py "bad parameters are 400 with a JSON error body" <<'EOF'
async def main():
    for q in ("since=abc", "since=-1", "since=1x", "timeout=soon",
              "timeout=-5"):
        await expect_http_error("GET", f"/poll/p?{q}", 400)
EOF

ok_py "a poll in a new room waits too, then sees seq 1" <<'EOF'
async def main():
    poll = asyncio.ensure_future(http("GET", "/poll/fresh?since=0&timeout=30",
                                      timeout=25))
    done, _ = await asyncio.wait({poll}, timeout=0.5)
    check(not done, "the poll of an empty room answered at once")
    await publish("fresh", "hello")
    j = (await poll).json()
    check(match(j, {"epoch": EPOCH_RE, "next": 1, "recovered": True,
                    "messages": [{"seq": 1, "data": {"content": "hello"}}]}),
          f"poll of a new room: {show(j)}")
EOF

ok_py "an empty room keeps its epoch across polls: a stale epoch is answered once, then the poll waits" <<'EOF'
async def main():
    j = await http_json("GET", "/poll/quiet?since=0&epoch=stale1&timeout=0")
    check(j["recovered"] is False and j["messages"] == [],
          f"a stale epoch: {show(j)}")
    ep = j["epoch"]
    j2 = await http_json("GET", f"/poll/quiet?since=0&epoch={ep}&timeout=0")
    check(j2["epoch"] == ep and j2["recovered"] is True,
          f"the epoch it was given, asked again: {show(j2)} (first {ep})")
EOF

ok_py "50 waiting polls whose clients leave are closed long before their timeout" <<'EOF'
async def main():
    rs = []
    for i in range(50):
        r = await Raw.connect(f"poll{i}")
        await r.sendall(b"GET /poll/gone?timeout=60 HTTP/1.1\r\n"
                        b"Host: x\r\n\r\n")
        rs.append(r)
    await wait_metric("^rtctl_connections$", lambda v: v == 50,
                      transport="poll", what="50 waiting polls")
    for r in rs:
        r.close()
    # within the usual wait, a sixth of the polls' own 60 s timeout
    await wait_metric("^rtctl_connections$", lambda v: v == 0,
                      transport="poll", what="polls of clients that left")
    poll = asyncio.ensure_future(http("GET", "/poll/gone?timeout=30",
                                      timeout=WAIT_BASE * 2))
    await wait_metric("^rtctl_connections$", lambda v: v == 1,
                      transport="poll", what="a new waiting poll")
    await publish("gone", "after")
    j = (await poll).json()
    check(match(j, {"messages": [{"data": {"content": "after"}}]}),
          f"a poll after the leavers: {show(j)}")
EOF

expect_clean_stop
ok "the server exits 0 on SIGTERM"
done_testing
