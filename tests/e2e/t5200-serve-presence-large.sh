#!/bin/sh
# Presence that scales with the room (issue 14, section 2): a room with
# more connections than --presence-max-members announces no joins and no
# leaves and its welcome lists nobody (online_count instead), while
# snapshots still answer; below it, a burst of joins reaches each member
# as the usual join frames, each exactly once, and rtctl chat shows them.
. "$(dirname "$0")/lib.sh"

start_server --presence-max-members 3

ok_py "past --presence-max-members: no join or leave, an empty welcome list, snapshots" <<'EOF'
async def main():
    alice = await join("big", user="alice")
    bob = await join("big", user="bob")
    await alice.expect({"type": "presence", "data": {"event": "join",
                                                     "user": "bob"}})
    carol = await join("big", user="carol")
    await alice.expect({"type": "presence", "data": {"event": "join",
                                                     "user": "carol"}})
    # the fourth connection makes the room large
    dave = await join("big", user="dave")
    d = dave.welcome["data"]
    check(d["online"] == [] and d["online_count"] == 4,
          f"the welcome of a large room: {show(dave.welcome)}")
    # alice's next presence frame is the snapshot she asks for, with dave
    await alice.send({"type": "presence", "data": {}})
    snap = await alice.expect({"type": "presence",
                               "data": {"event": "snapshot"}},
                              what="no join of dave before the snapshot")
    check(sorted(snap["data"]["online"]) == ["alice", "bob", "carol", "dave"],
          f"the snapshot: {show(snap)}")
    await dave.close(1000)
    # back to three: carol's leave is announced, dave's never was
    await carol.close(1000)
    await alice.expect({"type": "presence", "data": {
        "event": "leave", "user": "carol", "reason": "closed"}},
        what="the first presence frame after dave left is carol's leave")
    m = await metrics()
    check(m.sum("rtctl_presence_unannounced_total") >= 2,
          "dave's join and leave are counted as unannounced")
    await bob.close(1000)
EOF

ok_py "a burst of joins: each member gets every join once, in order of the snapshot" <<'EOF'
import asyncio

async def main():
    alice = await join("burst", user="alice")
    # three at once: the room stays at --presence-max-members
    ws = await asyncio.gather(*(join("burst", user=f"u{i}")
                                for i in range(2)))
    got = set()
    for _ in range(2):
        f = await alice.expect({"type": "presence",
                                "data": {"event": "join"}})
        got.add(f["data"]["user"])
    check(got == {"u0", "u1"}, f"joins seen: {got}")
    # a joiner never hears of its own join
    for w in ws:
        await w.send({"type": "presence", "data": {}})
        f, skipped = await w.until({"type": "presence",
                                    "data": {"event": "snapshot"}})
        for s in skipped:
            check(s["data"].get("user") != w.name,
                  f"{w.name} heard of its own join: {show(s)}")
        check(len(f["data"]["online"]) == 3, f"snapshot: {show(f)}")
    for w in ws:
        await w.close(1000)
    await alice.close(1000)
EOF

# --- rtctl chat in a room that becomes large: the first hears the joins
# of the next two, not the fourth's; the fourth's welcome lists nobody;
# all four read the message and exit 0.
for u in bob carol dave erin; do
    bg timeout 30 "$RTCTL" chat --json --count 1 --timeout 25s --user "$u" \
        --url "$BASE" cbig </dev/null >"$u.out" 2>"$u.err"
    eval "pid_$u=\$BG_PID"
    wait_until 20 "$u's chat is open" grep -q '"state":"open"' "$u.err"
done
expect_code 0 "$RTCTL" send --url "$BASE" cbig "to everyone"
for u in bob carol dave erin; do
    eval "reap \$pid_$u"
    [ "$RC" -eq 0 ] || { cat "$u.err" >&2; fail "$u's chat exited $RC"; }
done
/usr/bin/python3 - <<'PY' || fail "what the chats of a room that grew large saw"
import json, sys

def frames(user):
    return [json.loads(l) for l in open(user + ".out", encoding="utf-8")]

def check(cond, what):
    if not cond:
        sys.exit("FAIL: " + what)

joins = [f["data"]["user"] for f in frames("bob")
         if f.get("type") == "presence" and f["data"].get("event") == "join"]
check(joins == ["carol", "dave"], f"bob saw the joins {joins}")
w = frames("erin")[0]["data"]
check(w["online"] == [] and w["online_count"] == 4, f"erin's welcome {w}")
for u in ("bob", "carol", "dave", "erin"):
    t = [f for f in frames(u) if f.get("type") == "text"]
    check(len(t) == 1 and t[0]["data"]["content"] == "to everyone",
          f"{u} got {t}")
PY
ok "rtctl chat in a room that grew past --presence-max-members"

done_testing
