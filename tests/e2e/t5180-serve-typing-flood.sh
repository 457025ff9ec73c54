#!/bin/sh
# A typing flood (issue 10, item 6), written as the attack: one client
# sends typing events as fast as it can.  By default they are coalesced
# per user (--typing-rate) and the others still end with the sender's
# latest state; with no rate, a receiver that does not read gets its
# typing events dropped rather than being closed as a slow consumer, and
# stored messages still all reach it.
. "$(dirname "$0")/lib.sh"

start_server
ok_py "2000 typing events: coalesced to a few, and the last state arrives" <<'EOF'
async def main():
    a = await join("tf", user="flooder")
    b = await join("tf", user="reader")
    await a.expect({"type": "presence", "data": {"event": "join",
                                                 "user": "reader"}})
    n = 2000
    for i in range(n - 1):
        await a.send_text('{"type":"typing","data":{"state":true}}')
    await a.send_text('{"type":"typing","data":{"state":false}}')
    got = 0
    while True:
        f = await b.expect({"type": "typing", "data": {"user": "flooder"}},
                           what="the reader sees the flooder typing")
        got += 1
        if f["data"]["state"] is False:
            break
    check(got < n, f"{got} typing frames relayed for {n} sent")
    m = await metrics()
    check(m.sum("rtctl_typing_coalesced_total") > 0, "no coalescing counted")
    await a.say("and a message")
    await b.expect({"type": "text", "data": {"content": "and a message"}})
    print(f"# {n} typing events sent, {got} relayed")
EOF
expect_clean_stop

start_server --typing-rate 0 --max-queue-bytes 64k
ok_py "--typing-rate 0: a reader that stalls loses typing events, never its connection or a message" <<'EOF'
async def main():
    # long names make big typing frames, to get past the kernel's buffers
    room, user = "t" * 64, "f" * 64
    a = await join(room, user=user)
    r = await Raw.ws(f"/ws/{room}?user=stalled", name="stalled",
                     rcvbuf=4096)
    await r.expect_json({"type": "system", "data": {"event": "welcome"}})
    await a.expect({"type": "presence", "data": {"event": "join",
                                                 "user": "stalled"}})
    frame = '{"type":"typing","data":{"state":true}}'
    async def flood():
        for _ in range(2000):
            await a.send_text(frame)
        m = await metrics()
        return m.sum("rtctl_ephemeral_dropped_total") > 1000
    await poll_until(flood, "typing events dropped for the stalled reader",
                     timeout=WAIT_BASE * 3)
    seqs = [await a.say(f"stored {i}") for i in range(3)]
    # now it reads: no close, and every stored message is there
    want = set(seqs)
    while want:
        m = await r.read_message()
        check(m is not None and not isinstance(m, Frame),
              f"the stalled reader was closed: {m}")
        obj = json.loads(m[1])
        if obj["type"] == "text":
            want.discard(obj["seq"])
    check((await metrics()).sum("rtctl_slow_consumer_disconnects_total")
          == 0, "a slow consumer was closed")
EOF
expect_clean_stop
done_testing
