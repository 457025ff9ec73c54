#!/bin/sh
# rtctl chat without a terminal (issue "rtctl chat ROOM"): each stdin line
# is a text message with an id; two chats in one room see each other's
# lines, checked field by field in --json; human output; flow control over
# a long input file; and the documented exit statuses (0 acked, 1 refused,
# 2 usage, 3 cannot connect, 5 --timeout, 130 Ctrl-C).
. "$(dirname "$0")/lib.sh"

start_server
SBASE=$BASE

# --- two chats in one room: bob listens for 3 messages, alice sends 3
# lines (and an empty one, which is skipped).
bg timeout 30 "$RTCTL" chat --json --count 3 --timeout 25s --user bob \
    --url "$SBASE" general </dev/null >bob.out 2>bob.err
bob=$BG_PID
wait_until 20 "bob's chat is open" grep -q '"state":"open"' bob.err
printf 'hello\nsecond line\n\nthird "quoted" \\ line \303\274\n' >lines
expect_code 0 "$RTCTL" chat --json --user alice --url "$SBASE" general <lines
mv out alice.out
mv err alice.err
reap "$bob"
[ "$RC" -eq 0 ] || { cat bob.err >&2; fail "bob's chat --count 3 exited $RC"; }
/usr/bin/python3 - <<'PY' || fail "the --json output of the two chats"
import json, re, sys

def lines(path):
    return [json.loads(l) for l in open(path, encoding="utf-8")]

def check(cond, what):
    if not cond:
        sys.exit("FAIL: " + what)

sent = ["hello", "second line", 'third "quoted" \\ line \u00fc']
bob, alice = lines("bob.out"), lines("alice.out")
events = [json.loads(l) for l in open("alice.err") if l.startswith("{")]

for who, out in (("bob", bob), ("alice", alice)):
    w = out[0]
    check(w["type"] == "system" and w["room"] == "general" and
          w["data"]["event"] == "welcome" and w["data"]["user"] == who,
          "%s's first line is its welcome: %r" % (who, w))
w = alice[0]["data"]
check(sorted(w["online"]) == ["alice", "bob"], "alice's welcome: %r" % w)

texts = [m for m in bob if m["type"] == "text"]
check([m["data"]["content"] for m in texts] == sent,
      "bob got %r" % [m["data"]["content"] for m in texts])
ids = []
for i, m in enumerate(texts):
    check(m["room"] == "general", "room of %r" % m)
    check(m["seq"] == i + 1, "seq of %r" % m)
    check(m["data"]["author"] == "alice", "author of %r" % m)
    check(isinstance(m["timestamp"], (int, float)), "timestamp of %r" % m)
    check(re.fullmatch(r"[0-9a-f]{10}-[0-9]+", m["id"]), "id of %r" % m)
    ids.append(m["id"])
# The ids end in the input line number; line 3 was empty.
check([int(i.split("-")[1]) for i in ids] == [1, 2, 4], "ids %r" % ids)
check(len({i.split("-")[0] for i in ids}) == 1, "one prefix: %r" % ids)
join = [i for i, m in enumerate(bob) if m["type"] == "presence" and
        m["data"] == {"event": "join", "user": "alice"}]
check(join and join[0] < bob.index(texts[0]), "bob saw alice join first")

mine = [m for m in alice if m["type"] == "text"]
check([(m["id"], m["seq"], m["data"]["content"]) for m in mine] ==
      [(m["id"], m["seq"], m["data"]["content"]) for m in texts],
      "alice's broadcasts %r" % mine)
acks = [e for e in events if e["event"] == "ack"]
check(acks == [{"event": "ack", "id": m["id"], "seq": m["seq"]}
               for m in texts], "alice's acks %r" % acks)
states = [e["state"] for e in events if e["event"] == "state"]
check(states == ["connecting", "open", "closed"], "states %r" % states)
PY
ok "two chats: alice's lines reach bob, ids, seqs, authors, acks"

# --- output for people (not a terminal: no colour, no escapes).
printf 'plain words\n' >one
LC_ALL=C expect_code 0 "$RTCTL" chat --user carol --url "$SBASE" general <one
check_grep '^[0-2][0-9]:[0-5][0-9]:[0-5][0-9] carol: plain words \(ok\)$' out
check_empty err
if grep -q "$(printf '\033')" out; then fail "escape sequences in a pipe"; fi
ok "human output: HH:MM:SS author: text, delivered mark"

# --- a long input: flow control keeps the client's queue bounded, and
# every line goes out once.
/usr/bin/python3 -c '
for i in range(1, 601):
    print("m%d" % i)' >many
bg timeout 50 "$RTCTL" chat --json --count 600 --timeout 45s --user dan \
    --url "$SBASE" bulk </dev/null >dan.out 2>dan.err
dan=$BG_PID
wait_until 20 "dan's chat is open" grep -q '"state":"open"' dan.err
# Through a pipe (reads paused and resumed); a file is read in test 1.
cat many | timeout 45 "$RTCTL" chat --json --timeout 40s --url "$SBASE" bulk \
    >out 2>err
rc=$?
[ "$rc" -eq 0 ] || { cat err >&2; fail "600 lines through a pipe: exit $rc"; }
reap "$dan"
[ "$RC" -eq 0 ] ||
    { cat dan.err >&2; fail "dan's chat --count 600 exited $RC"; }
/usr/bin/python3 - <<'PY' || fail "600 lines through a pipe"
import json, sys
got = [json.loads(l) for l in open("dan.out")]
c = [m["data"]["content"] for m in got if m["type"] == "text"]
if c != ["m%d" % i for i in range(1, 601)]:
    sys.exit("FAIL: %d messages, first %r" % (len(c), c[:3]))
acks = [json.loads(l) for l in open("err") if '"ack"' in l]
if len(acks) != 600 or any("seq" not in a for a in acks):
    sys.exit("FAIL: %d acks" % len(acks))
PY
ok "600 lines through a pipe: all sent once, in order, all acked"

# --- a server restart: the chat reconnects, resumes, and says that the
# new server could not replay what it missed (a new epoch).
start_server
XPORT=$PORT
XBASE=$BASE
bg timeout 60 "$RTCTL" chat --json --count 2 --timeout 50s --user eve \
    --url "$XBASE" restart </dev/null >eve.out 2>eve.err
eve=$BG_PID
wait_until 20 "eve's chat is open" grep -q '"state":"open"' eve.err
publish_one() {
    curl -sS --max-time 10 -o /dev/null \
        -d "{\"type\":\"text\",\"data\":{\"content\":\"$2\"}}" \
        "$1/publish/restart?user=frank" || fail "publishing $2"
}
publish_one "$XBASE" before
wait_until 10 "eve got 'before'" grep -q '"content":"before"' eve.out
expect_clean_stop
"$RTCTL" serve --port "$XPORT" >restarted.out 2>restarted.err &
SERVER_PIDS="$SERVER_PIDS $!"
wait_until 20 "the server is back on port $XPORT" grep -q '^listening on ' \
    restarted.out
wait_until 40 "eve resumed" grep -q '"event":"resumed","recovered":false' \
    eve.err
publish_one "$XBASE" after
reap "$eve"
[ "$RC" -eq 0 ] || { cat eve.err >&2; fail "eve's chat exited $RC"; }
check_grep '^rtctl chat: .*; reconnecting in [0-9]+ ms \(attempt 1\)$' eve.err
check_grep '^rtctl chat: warning: resumed with recovered:false' eve.err
[ "$(grep -c '"type":"text"' eve.out)" -eq 2 ] || fail "eve: not 2 messages"
check_grep '"content":"after"' eve.out
ok "a server restart: reconnected, recovered:false warned, nothing twice"

# --- exit statuses

# 0: no input at all: connected, nothing to send, done.
expect_code 0 "$RTCTL" chat --url "$SBASE" general </dev/null
check_empty out
ok "no input: connects and exits 0"

# 1: the server refuses messages over its rate (burst 2).
start_server --rate 1
RBASE=$BASE
/usr/bin/python3 -c '
for i in range(1, 11):
    print("r%d" % i)' >ten
expect_code 1 "$RTCTL" chat --json --url "$RBASE" general <ten
check_grep '^rtctl chat: line [0-9]+ was refused: rate_limited$' err
check_grep '"event":"ack","id":"[0-9a-f]+-[0-9]+","error":"rate_limited"' err
ok "a refused message: exit 1, the line and the code on stderr"

# 2: usage.
expect_code 2 "$RTCTL" chat --url "$SBASE" 'no room' </dev/null
check_grep "^rtctl chat: 'no room': " err
expect_code 2 "$RTCTL" chat --url "$SBASE" </dev/null
check_grep '^rtctl chat: no room' err
expect_code 2 "$RTCTL" chat --bogus general </dev/null
expect_code 2 "$RTCTL" chat --count x general </dev/null
expect_code 2 "$RTCTL" chat --user 'a b' general </dev/null
ok "usage errors exit 2"

# 3: nothing listens (port 1): after --max-retries, or at once.
echo hi >hi
expect_code 3 "$RTCTL" chat --max-retries 1 --url http://127.0.0.1:1 r <hi
check_grep "^rtctl chat: cannot connect to 'ws://127.0.0.1:1/ws/r': " err
check_grep 'reconnecting in [0-9]+ ms \(attempt 1\)$' err
expect_code 3 "$RTCTL" chat --no-reconnect --url http://127.0.0.1:1 r <hi
ok "cannot connect: exit 3"

# 5: --timeout before --count messages arrived.
expect_code 5 "$RTCTL" chat --count 5 --timeout 500ms --url "$SBASE" general \
    </dev/null
check_grep '^rtctl chat: --timeout: 0 of 5 messages after 500 ms$' err
ok "--timeout: exit 5"

# 130: Ctrl-C closes cleanly.
# --foreground: timeout sends a signal it gets to its child and then to
# its process group, the child again; a second SIGINT is rtctl's "exit
# now", which would race the clean close being tested.
bg timeout --foreground 30 "$RTCTL" chat --json --count 100 --url "$SBASE" general \
    </dev/null >int.out 2>int.err
intr=$BG_PID
wait_until 20 "the chat is open" grep -q '"state":"open"' int.err
kill -INT "$intr"
reap "$intr"
[ "$RC" -eq 130 ] || { cat int.err >&2; fail "Ctrl-C: exit $RC, not 130"; }
check_grep '"state":"closed"' int.err
ok "Ctrl-C: exit 130 after a clean close"

done_testing
