#!/bin/sh
# rtctl tail --order against a scripted SSE peer (drivers/sse_script.py),
# so that the stream can do what a healthy rtctl serve never does: stored
# messages (id EPOCH-SEQ) out of order, twice, with a seq missing.  The
# client prints each seq once and in order, passes events without an id at
# once, gives up on a gap after --gap-timeout by reconnecting with the
# last PRINTED id (not the last one seen), and reports a new epoch as
# recovered:false once.  Without --order (the default for a full URL)
# the events come out exactly as sent.
. "$(dirname "$0")/lib.sh"

# start_peer SCRIPT: run the scripted peer; PEER is its base URL.
npeer=0
start_peer() {
    npeer=$((npeer + 1))
    printf '%s\n' "$1" >"script$npeer.json"
    "$RT_PY" "$RT_DRIVERS/sse_script.py" "script$npeer.json" \
        "port$npeer" "ids$npeer" 2>"peer$npeer.err" &
    SERVER_PIDS="$SERVER_PIDS $!"
    wait_until 20 "the scripted peer listens" test -s "port$npeer"
    PEER=http://127.0.0.1:$(cat "port$npeer")
}

# Connection 1: 1, 3, 2, 2 again, a presence event, 5; seq 4 never comes.
# Connection 2, the resume: what our server sends after Last-Event-ID E-3
# (a welcome without an id, the replay of 4 and 5, "resumed"), then a
# message of a new epoch, twice.
start_peer '[
 [["E-1","text","one"], ["E-3","text","three"], ["E-2","text","two"],
  ["E-2","text","two again"], [null,"presence","join"], ["E-5","text","five"]],
 [[null,"system","welcome"], ["E-4","text","four"], ["E-5","text","five"],
  [null,"system","{\"type\":\"system\",\"data\":{\"event\":\"resumed\",\"from\":4,\"to\":5,\"recovered\":true}}"],
  ["F-1","text","new epoch"], ["F-1","text","new epoch again"]]
]'

# --gap-timeout: long enough that a loaded machine's pause between two of
# the peer's writes is never taken for the gap, short enough to wait for.
expect_code 0 "$RTCTL" tail --json --order --gap-timeout 2s --count 8 \
    "$PEER/stream"
/usr/bin/python3 - <<'PY' || fail "tail --order printed the wrong events"
import json
got = [json.loads(l) for l in open("out", encoding="utf-8")]
got = [(o["event"], o["id"], o["data"][:9]) for o in got]
want = [("text", "E-1", "one"), ("text", "E-2", "two"),
        ("text", "E-3", "three"), ("presence", "E-3", "join"),
        ("system", "E-3", "welcome"), ("text", "E-4", "four"),
        ("text", "E-5", "five"), ("text", "F-1", "new epoch")]
assert got == want, "\n".join(map(str, got))
PY
ok "each seq once and in order; events without an id at once, with the last printed id"

# The server's resumed event is state (issue 9): on stderr, not counted.
check_grep '^rtctl tail: resumed from seq 4 \(2 replayed\)$' err
check_grep '^\{"event":"resumed","recovered":true,"from":4,"to":5\}$' err
ok "our server's resumed event is reported on stderr and not counted"

check_file ids1 "
E-3"
check_grep '"state":"backoff",.*"error":"GAP","detail":"seq 4 to 4 missing for 2000 ms"' err
ok "a gap open for --gap-timeout reconnects with Last-Event-ID E-3, the last printed"

[ "$(grep -c '^{"event":"resumed","recovered":false}$' err)" -eq 1 ] ||
    { cat err >&2; fail "the new epoch was not reported once"; }
check_grep '^rtctl tail: warning: resumed with recovered:false' err
ok "a new epoch is reported once: recovered:false"

# The default for a full URL: no ordering, events as they came.
start_peer '[[["E-1","text","one"], ["E-3","text","three"], ["E-2","text","two"],
  ["E-2","text","two again"], [null,"presence","join"]]]'
expect_code 0 "$RTCTL" tail --json --count 5 "$PEER/stream"
sed 's/,"data".*//' out >got
check_file got '{"event":"text","id":"E-1"
{"event":"text","id":"E-3"
{"event":"text","id":"E-2"
{"event":"text","id":"E-2"
{"event":"presence","id":"E-2"'
ok "without --order (a full URL) the events come out as sent"

# A room name or events/ROOM means our server: ordering is on.
start_peer '[[["E-2","text","two"], ["E-1","text","one"], ["E-3","text","three"]],
 [["E-2","text","two"], ["E-1","text","one"], ["E-3","text","three"]]]'
expect_code 0 "$RTCTL" tail --json --count 2 --url "$PEER" events/r
sed 's/,"data".*//' out >got
check_file got '{"event":"text","id":"E-2"
{"event":"text","id":"E-3"'
expect_code 0 "$RTCTL" tail --json --no-order --count 3 --url "$PEER" r
sed 's/,"data".*//' out >got
check_file got '{"event":"text","id":"E-2"
{"event":"text","id":"E-1"
{"event":"text","id":"E-3"'
ok "a room or events/ROOM turns ordering on; --no-order turns it off"

expect_code 2 "$RTCTL" tail --order - </dev/null
check_grep 'apply to a network TARGET' err
expect_code 2 "$RTCTL" tail --gap-timeout 1s --file /dev/null
ok "--order and --gap-timeout are usage errors with a recorded stream"

done_testing
