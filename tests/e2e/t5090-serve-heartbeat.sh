#!/bin/sh
# rtctl serve heartbeats (PROTOCOL.md section 3): a ping every
# --ping-interval, a peer that never answers is closed after two intervals,
# and a user whose connections stay silent past --presence-timeout leaves
# with reason timeout.
. "$(dirname "$0")/lib.sh"

start_server --ping-interval 1s --presence-timeout 30s
ok_py "pings every --ping-interval; a peer that answers stays, one that does not is closed" <<'EOF'
async def main():
    good = await join("hb", user="good")
    check(good.welcome["data"]["ping_interval"] == 1,
          f"welcome ping_interval with --ping-interval 1s: {show(good.welcome)}")
    mute = await Raw.ws("/ws/hb?user=mute", name="never pongs")
    t0 = time.monotonic()
    pings = 0
    while True:
        m = await mute.read_message(timeout=15, pong=False)
        if m is None:
            break
        if isinstance(m, Frame):
            break
    took = time.monotonic() - t0
    pings = sum(1 for f in mute.frames if f.opcode == OP_PING)
    check(pings >= 1, f"no ping came in {took:.1f}s with --ping-interval 1s "
          f"(frames {mute.frames})")
    check(took >= 0.9, f"the silent peer was closed after {took:.1f}s "
          "(two intervals of 1s expected)")
    # the peer that answers pings is still here
    await good.say("still connected")
EOF
expect_clean_stop

# alice's 0.2 s heartbeat against a 3 s timeout: a loaded machine may
# stretch her period many times over before she would look silent.
start_server --ping-interval 30s --presence-timeout 3s
ok_py "--presence-timeout: a silent user leaves with reason timeout; a chatty one stays" <<'EOF'
async def main():
    # alice keeps her connection busy with frames (any data frame, or a
    # pong to the server's pings, is a heartbeat; her own pings are answered
    # by the WebSocket library and do not count: rtctl-protocol(7))
    alice = await ws_connect("/ws/pt?user=alice", name="alice")
    await alice.expect({"type": "system", "data": {"event": "welcome"}})
    async def keepalive():
        while True:
            await alice.send({"type": "typing", "data": {"state": True}})
            await asyncio.sleep(0.2)  # her heartbeat period, not a sync
    ka = asyncio.ensure_future(keepalive())
    ghost = await Raw.ws("/ws/pt?user=ghost", name="ghost")
    await alice.expect({"type": "presence", "data": {"event": "join",
                                                     "user": "ghost"}})
    t0 = time.monotonic()
    await alice.expect({"type": "presence", "data": {
        "event": "leave", "user": "ghost", "reason": "timeout"}}, timeout=30)
    took = time.monotonic() - t0
    check(took >= 2.5, f"ghost left after {took:.2f}s with --presence-timeout 3s")
    await alice.send({"type": "presence", "data": {}})
    await alice.expect({"type": "presence", "data": {"event": "snapshot",
                                                     "online": ["alice"]}})
    ka.cancel()
EOF
expect_clean_stop
ok "the server exits 0 on SIGTERM"
done_testing
