#!/bin/sh
# rtctl tail --count N counts messages (issue 9, "tail --count N counts
# messages"): our server's welcome and resumed events are the stream's
# state, reported on stderr, never printed as data nor counted, across any
# number of reconnections; another server's events are all data, whatever
# their type.
. "$(dirname "$0")/lib.sh"

start_server
SPORT=$PORT
SBASE=$BASE
publish_seq "$SBASE" r 1 1000
ok "1000 messages published"

# The room's epoch, from the first message's id.  A --since of another
# epoch is a resume the server cannot honour: recovered:false, and the
# replay from the oldest message held.
expect_code 0 "$RTCTL" tail --json --count 1 --since x-0 --url "$SBASE" r
epoch=$(sed -n '1s/.*"id":"\([A-Za-z0-9]*\)-1".*/\1/p' out)
[ -n "$epoch" ] || { cat out >&2; fail "no EPOCH-1 id in the first message"; }
check_grep '^rtctl tail: warning: resumed with recovered:false' err
ok "a foreign epoch: seq 1 printed, recovered:false warned on stderr"

# check_seqs FILE FIRST LAST: FILE's lines are the text events FIRST..LAST,
# each once and in order, and nothing else (plain or --json output).
check_seqs() {
    /usr/bin/python3 - "$@" <<'PY' || fail "$1: not seq $2..$3 exactly once"
import json, re, sys
path, first, last = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
seqs = []
for n, line in enumerate(open(path, encoding="utf-8"), 1):
    m = re.search(r'"seq\\?":(\d+),', line)
    assert m and ('"type\\":\\"text' in line or '"type":"text' in line), \
        (n, line[:200])
    seqs.append(int(m.group(1)))
if seqs != list(range(first, last + 1)):
    miss = sorted(set(range(first, last + 1)) - set(seqs))
    dup = sorted({s for s in seqs if seqs.count(s) > 1})
    sys.exit("FAIL: %d lines; missing %s; duplicates %s; first %s" %
             (len(seqs), miss[:10], dup[:10], seqs[:5]))
PY
}

expect_code 0 "$RTCTL" tail --count 5 --since "$epoch-1" --url "$SBASE" r
check_seqs out 2 6
check_grep '^rtctl tail: joined r; seq 1000; [0-9]+ online$' err
ok "--count 5 --since E-1 prints seq 2..6; the welcome on stderr"

# The replay of 999 and 1000, the resumed event, then one live message.
bg "$RTCTL" tail --count 3 --since "$epoch-998" --timeout 60s \
    --url "$SBASE" r >live.out 2>live.err
live=$BG_PID
wait_until 30 "the tail reports the resume" \
    grep -q '^rtctl tail: resumed from seq 999 (2 replayed)$' live.err
publish_seq "$SBASE" r 1001 1001
reap "$live"
[ "$RC" -eq 0 ] || { cat live.err >&2; fail "tail exited $RC, expected 0"; }
check_seqs live.out 999 1001
ok "a resume is reported on stderr and not counted: 2 replayed + 1 live"

expect_code 0 "$RTCTL" tail -q --count 5 --since "$epoch-1" --url "$SBASE" r
check_seqs out 2 6
check_empty err
ok "-q keeps the state lines off stderr"

# Through a proxy that cuts the stream every 300 ms, --count 1000 from
# the oldest message held (seq 1 went when 1001 came): each reconnection's
# welcome and resumed events are state, so the tail ends after exactly
# seq 2..1001, each once.
# --bandwidth makes the replay last over many cuts.
start_proxy --drop-every 300ms --bandwidth 64k --seed 11
EXPECT_TIMEOUT=100
expect_code 0 "$RTCTL" tail --json --count 1000 --since "$epoch-1" \
    --timeout 90s --url "$PBASE" events/r
EXPECT_TIMEOUT=20
check_seqs out 2 1001
check_grep '"event":"welcome","room":"r"' err
check_grep 'dropped after [0-9]+ ms \(--drop-every\)' "$PROXY_ERR"
[ "$(count_lines '"event":"welcome"' err)" -ge 3 ] ||
    fail "fewer than 3 connections: the proxy's cuts did not test a thing"
ok "--count 1000 through --drop-every 300ms: seq 2..1001 once, exit 0"

# Another server's events of type system are data like any other.
printf '%s\n' '[[[null,"system","maintenance at noon"],
  [null,"message","hello"], ["7","system","{\"type\":\"system\"}"]]]' \
    >script.json
"$RT_PY" "$RT_DRIVERS/sse_script.py" script.json port ids 2>peer.err &
SERVER_PIDS="$SERVER_PIDS $!"
wait_until 20 "the scripted peer listens" test -s port
expect_code 0 "$RTCTL" tail --count 3 "http://127.0.0.1:$(cat port)/s"
check_file out '[system] maintenance at noon
[message] hello
[system 7] {"type":"system"}'
ok "another server's system events are printed and counted"

done_testing
