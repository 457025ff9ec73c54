#!/bin/sh
# rtctl send: messages from the arguments or from standard input are
# acknowledged with seq 1..N in a fresh room, over WebSocket and over HTTP
# (--via http); --json gives one object per message, field by field; the
# messages are stored as sent; and the documented exit statuses: usage 2,
# a refused message or connection 1 (bad room, bad token), cannot connect
# 3, --timeout 5, Ctrl-C 130.
. "$(dirname "$0")/lib.sh"

start_server
SBASE=$BASE
SPID=$SERVER_PID

# check_acks FILE N [ID]: FILE holds exactly N lines
# {"event":"ack","id":ID,"seq":K} for K = 1..N in order, the ids all
# PREFIX-K with one random 8-hex-digit PREFIX (or the one ID given), and
# no other member.
check_acks() {
    /usr/bin/python3 - "$@" <<'PY' || fail "$1: not $2 acks with seq 1..$2"
import json, re, sys
path, n = sys.argv[1], int(sys.argv[2])
fixed = sys.argv[3] if len(sys.argv) > 3 else None
lines = open(path, encoding="utf-8").read().splitlines()
if len(lines) != n:
    sys.exit("%d lines, expected %d" % (len(lines), n))
prefixes = set()
for k, line in enumerate(lines, 1):
    o = json.loads(line)
    if sorted(o) != ["event", "id", "seq"]:
        sys.exit("line %d: members %s" % (k, sorted(o)))
    if o["event"] != "ack":
        sys.exit("line %d: event %r" % (k, o["event"]))
    if type(o["seq"]) is not int or o["seq"] != k:
        sys.exit("line %d: seq %r, expected %d" % (k, o["seq"], k))
    if fixed is not None:
        if o["id"] != fixed:
            sys.exit("line %d: id %r, expected %r" % (k, o["id"], fixed))
        continue
    m = re.fullmatch(r"([0-9a-f]{8})-(\d+)", o["id"])
    if m is None or int(m.group(2)) != k:
        sys.exit("line %d: id %r is not PREFIX-%d" % (k, o["id"], k))
    prefixes.add(m.group(1))
if len(prefixes) > 1:
    sys.exit("ids with several prefixes: %s" % sorted(prefixes))
PY
}

# check_stored ROOM ACKS CONTENT...: ROOM holds text messages with seq
# 1..N whose contents are the CONTENT arguments, in order, and whose ids
# are those of the acks in the file ACKS.
check_stored() {
    _cs_room=$1
    _cs_acks=$2
    shift 2
    expect_code 0 "$RTCTL" poll --json --since 0 --count $# --timeout 10s \
        "$_cs_room" --url "$SBASE"
    /usr/bin/python3 - out "$_cs_acks" "$@" <<'PY' || fail "room $_cs_room"
import json, sys
msgs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
acks = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
want = sys.argv[3:]
got = [m["data"]["content"] for m in msgs]
if got != want:
    sys.exit("contents %r, expected %r" % (got, want))
if [m["seq"] for m in msgs] != list(range(1, len(want) + 1)):
    sys.exit("seqs %r" % [m["seq"] for m in msgs])
if [m.get("id") for m in msgs] != [a["id"] for a in acks]:
    sys.exit("ids %r, acks %r" % ([m.get("id") for m in msgs],
                                  [a["id"] for a in acks]))
PY
}

# --- usage errors

expect_code 2 "$RTCTL" send
check_grep 'give a ROOM' err
expect_code 2 "$RTCTL" send --via smoke r m --url "$SBASE"
check_grep "'smoke' is not ws or http" err
expect_code 2 "$RTCTL" send --id x r m1 m2 --url "$SBASE"
check_grep 'exactly one MESSAGE' err
expect_code 2 "$RTCTL" send --id 'has space' r m --url "$SBASE"
expect_code 2 "$RTCTL" send 'bad room' m --url "$SBASE"
expect_code 2 "$RTCTL" send --user 'no/slash' r m --url "$SBASE"
expect_code 2 "$RTCTL" send -H 'no colon' r m --url "$SBASE"
check_grep "is not 'Name: value'" err
expect_code 2 "$RTCTL" send --token a -H 'Authorization: Bearer b' r m \
    --url "$SBASE"
check_grep 'not both' err
check_empty out
ok "usage errors exit 2"

# --- WebSocket

expect_code 0 "$RTCTL" send --json ws1 one two three --url "$SBASE"
check_acks out 3
cp out acks1
check_stored ws1 acks1 one two three
ok "WebSocket: three arguments acked with seq 1..3, stored with their ids"

printf 'first line\n\nsecond\r\nthird, no newline' >lines
expect_code 0 sh -c "\"\$RTCTL\" send --json ws2 --url \"$SBASE\" <lines"
check_acks out 3
cp out acks2
check_stored ws2 acks2 'first line' second 'third, no newline'
ok "WebSocket: standard input, a message a line, empty lines skipped"

expect_code 0 "$RTCTL" send --json --id my-id.1 ws3 hello --url "$SBASE"
check_acks out 1 my-id.1
ok "WebSocket: --id names the message"

expect_code 0 "$RTCTL" send ws3 again --url "$SBASE"
check_file out "sent seq 2"
check_empty err
ok "WebSocket: human output is 'sent seq N'"

expect_code 0 sh -c "\"\$RTCTL\" send --json ws4 --url \"$SBASE\" </dev/null"
check_empty out
ok "empty standard input: nothing to acknowledge, exit 0"

expect_code 1 "$RTCTL" send --json 'ws/bad!room' m --url "$SBASE"
check_grep "cannot send to '.*': HTTP 400" err
ok "WebSocket: the server refuses a bad room name (HTTP 400), exit 1"

# --- HTTP

expect_code 0 "$RTCTL" send --via http --json http1 a b --url "$SBASE"
check_acks out 2
cp out acks3
check_stored http1 acks3 a b
ok "HTTP: two messages acked with seq 1..2, stored with their ids"

seq 1 5 >five
expect_code 0 sh -c "\"\$RTCTL\" send --via http --json http2 --url \"$SBASE\" <five"
check_acks out 5
ok "HTTP: standard input"

expect_code 1 "$RTCTL" send --via http --json 'publish/bad!room' m \
    --url "$SBASE"
/usr/bin/python3 - out <<'PY' || fail "no bad_message error object"
import json, sys
o = json.loads(open(sys.argv[1]).read())
assert o["event"] == "error", o
assert o["code"] == "bad_message", o
assert o["id"].endswith("-1"), o
assert o["message"], o
PY
check_grep "refused: bad_message" err
ok "HTTP: the server refuses a bad room name (400 bad_message), exit 1"

# --- authentication

start_server --auth-secret s3cret
ABASE=$BASE
TOKEN=$("$RTCTL" token --secret s3cret --sub alice) || fail "token"
BAD=$("$RTCTL" token --secret other --sub alice) || fail "token"

expect_code 1 "$RTCTL" send --json --token "$BAD" a1 m --url "$ABASE"
check_grep "close 1008 \(invalid token\)" err
/usr/bin/python3 - out <<'PY' || fail "no 'closed' error object"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 1, lines
o = json.loads(lines[0])
assert sorted(o) == ["code", "event", "id"], o
assert (o["event"], o["code"]) == ("error", "closed"), o
PY
ok "WebSocket: a bad token is refused (close 1008), exit 1"

expect_code 1 "$RTCTL" send --via http --json --token "$BAD" a1 m \
    --url "$ABASE"
check_grep '"code":"unauthorized"' out
check_grep "HTTP 401" err
ok "HTTP: a bad token is refused (401), exit 1"

expect_code 0 "$RTCTL" send --json --token "$TOKEN" a2 m1 m2 --url "$ABASE"
check_acks out 2
expect_code 0 env RTCTL_TOKEN="$TOKEN" "$RTCTL" send --via http --json a3 m \
    --url "$ABASE"
check_acks out 1
ok "a good token, from --token or RTCTL_TOKEN, is accepted"
stop_server >/dev/null 2>&1

# --- a stopped server, --timeout, Ctrl-C

SERVER_PID=$SPID
expect_clean_stop
expect_code 3 "$RTCTL" send --max-retries 1 r m --url "$SBASE"
check_grep 'gave up after 1 retry' err
expect_code 3 "$RTCTL" send --via http --max-retries 1 r m --url "$SBASE"
check_grep 'gave up after 1 retry' err
expect_code 3 "$RTCTL" send --no-reconnect r m --url "$SBASE"
check_grep 'connection refused' err
ok "cannot connect: --max-retries 1 and --no-reconnect exit 3"

# A name that cannot resolve (.invalid, RFC 6761) is named as such.
expect_code 3 "$RTCTL" send --no-reconnect r m --url http://no-such-host.invalid
check_grep 'could not resolve host no-such-host.invalid' err
expect_code 3 "$RTCTL" send --via http --no-reconnect r m \
    --url http://no-such-host.invalid
check_grep 'could not resolve host' err
ok "an unknown host: exit 3, and the message says the name did not resolve"

expect_code 5 "$RTCTL" send --json --timeout 1s r m --url "$SBASE"
check_grep 'timeout: 0 of 1 acks' err
check_grep '"code":"closed"' out
expect_code 5 "$RTCTL" send --via http --timeout 1s r m --url "$SBASE"
ok "--timeout before every ack exits 5"

# Files of their own: the notice of an earlier command in ./err must not
# pass for this one's (a SIGINT before its handler is set up is ignored,
# as for every background job of a script).
"$RTCTL" send r m --url "$SBASE" >int.out 2>int.err &
pid=$!
SERVER_PIDS="$SERVER_PIDS $pid"
wait_until 20 "a retry notice" grep -q 'retrying in' int.err
kill -INT "$pid"
wait "$pid"
rc=$?
[ "$rc" -eq 130 ] || fail "send exited $rc after SIGINT, expected 130"
ok "Ctrl-C exits 130"

# Presence (issue 9): a scripted sender is not a member anyone sees.  A
# tail of the room prints every presence event; three sends in a row make
# none, and leave nobody listed online but the tail.
start_server
SBASE=$BASE
bg "$RTCTL" tail --json --timeout 60s --url "$SBASE" events/quiet \
    >watch.out 2>watch.err
watch=$BG_PID
wait_until 20 "the watching tail joins" grep -q '"event":"welcome"' watch.err
for n in 1 2 3; do
    expect_code 0 "$RTCTL" send --url "$SBASE" quiet "scripted $n"
done
wait_until 20 "the tail sees the third message" grep -q 'scripted 3' watch.out
if grep -q '"event":"presence"' watch.out; then
    cat watch.out >&2
    fail "a scripted send announced presence"
fi
expect_code 0 curl -sS --max-time 10 "$SBASE/rooms/quiet/presence"
online=$(python3 -c 'import json,sys; print(len(json.load(open("out"))["online"]))')
[ "$online" -eq 1 ] || { cat out >&2; fail "$online online after three sends, expected the tail alone"; }
ok "three sends: no join or leave, nobody listed but the watcher"

# The same with presence asked for: the join shows, so the check above
# could fail.
expect_code 0 "$RTCTL" send --url "$SBASE" 'ws/quiet?presence=1' "seen"
wait_until 20 "the tail sees the join of a sender that asked for presence" \
    grep -q '"event":"presence"' watch.out
kill -INT "$watch"
reap "$watch"
ok "a sender with ?presence=1 is announced"
expect_clean_stop

done_testing
