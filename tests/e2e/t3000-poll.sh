#!/bin/sh
# rtctl poll, the long-polling client (issue 4 "Long-poll client", issue 5
# "rtctl poll ROOM"): 50 messages published while it polls arrive exactly
# once and in order, directly and through `rtctl proxy --drop-every`;
# --since 0 reads the held history; a foreign epoch is reported as
# recovered:false; and the documented exit statuses (refused 1, cannot
# connect 3, --timeout 5, Ctrl-C 130).
. "$(dirname "$0")/lib.sh"

start_server
SPORT=$PORT
SBASE=$BASE

# publish ROOM COUNT PACE: POST messages m1..mCOUNT to ROOM, straight to
# the server, in bursts of 10 with PACE seconds between bursts (pacing,
# so that polls and cuts fall between bursts; not a synchronisation).
publish() {
    _p_room=$1
    _p_n=$2
    _p_pace=$3
    _p_i=1
    while [ "$_p_i" -le "$_p_n" ]; do
        set --
        _p_j=$_p_i
        while [ "$_p_j" -lt $((_p_i + 10)) ] && [ "$_p_j" -le "$_p_n" ]; do
            [ "$_p_j" -gt "$_p_i" ] && set -- "$@" --next
            set -- "$@" -o /dev/null -d \
                "{\"type\":\"text\",\"data\":{\"content\":\"m$_p_j\"}}" \
                "$SBASE/publish/$_p_room"
            _p_j=$((_p_j + 1))
        done
        curl -sS --max-time 10 "$@" 2>curl.err ||
            fail "publishing m$_p_i..m$((_p_j - 1)): $(cat curl.err)"
        _p_i=$_p_j
        sleep "$_p_pace"
    done
}

# check_seqs FILE FROM TO: FILE holds the JSON messages with seq FROM..TO,
# each once, in order, and nothing else.
check_seqs() {
    /usr/bin/python3 - "$@" <<'PY' || fail "$1: not seq $2..$3 exactly once, in order"
import json, sys
path, lo, hi = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
seqs = []
for n, line in enumerate(open(path, encoding="utf-8"), 1):
    o = json.loads(line)
    assert o["type"] == "text" and o["data"]["content"] == "m%d" % o["seq"], (n, line)
    seqs.append(o["seq"])
if seqs != list(range(lo, hi + 1)):
    dup = sorted({s for s in seqs if seqs.count(s) > 1})
    miss = sorted(set(range(lo, hi + 1)) - set(seqs))
    sys.exit("FAIL: %d messages; duplicates %s; missing %s; first %s" %
             (len(seqs), dup[:10], miss[:10], seqs[:5]))
PY
}

# --- live messages, straight to the server.  Without --since the first
# poll waits for new messages; --wait 1s makes it answer (empty) within a
# second, and from then on no message can be missed.
bg timeout 50 "$RTCTL" poll --json --count 50 --timeout 40s --wait 1s r \
    --url "$SBASE" >live.out 2>live.err
live=$BG_PID
wait_until 20 "the first poll is answered" grep -q '"state":"open"' live.err
publish r 50 0.1
reap "$live"
[ "$RC" -eq 0 ] || { cat live.err >&2; fail "poll --count 50 exited $RC"; }
check_seqs live.out 1 50
ok "poll --count 50: seq 1..50 once, in order, exit 0"

expect_code 0 "$RTCTL" poll --json --since 0 --count 50 r --url "$SBASE"
check_seqs out 1 50
expect_code 0 "$RTCTL" poll --json --since 45 --count 5 poll/r --url "$SBASE"
check_seqs out 46 50
expect_code 0 "$RTCTL" poll --since 49 --count 1 "$SBASE/poll/r"
check_grep '^\[text 50\] anon-[a-z0-9]+: m50$' out
ok "--since 0 reads the held history, --since N what follows N"

expect_code 0 "$RTCTL" poll --json --since 40 --epoch zzz --count 3 r \
    --url "$SBASE"
check_seqs out 1 3
check_grep 'recovered:false' err
check_grep '"event":"resumed","recovered":false' err
ok "a foreign epoch: recovered:false on stderr, the held history from seq 1"

# --- through the proxy, which cuts every connection within 300 ms.
start_proxy --drop-every 300ms --seed 3
bg timeout 50 "$RTCTL" poll --json --since 0 --count 50 --timeout 40s \
    --wait 2s p --url "$PBASE" >proxied.out 2>proxied.err
proxied=$BG_PID
publish p 50 0.6
reap "$proxied"
[ "$RC" -eq 0 ] ||
    { cat proxied.err >&2; fail "poll through the proxy exited $RC"; }
check_seqs proxied.out 1 50
check_grep 'dropped after [0-9]+ ms \(--drop-every\)' "$PROXY_ERR"
check_grep '^rtctl poll: .*; polling again in [0-9]+ ms \(attempt [0-9]+\)$' \
    proxied.err
ok "through --drop-every: seq 1..50 once, in order, with retries"

# --- exit statuses

# --foreground: timeout sends a signal it gets to its child and then to
# its process group, the child again; a second SIGINT is rtctl's "exit
# now", which would race the clean close being tested.
bg timeout --foreground 30 "$RTCTL" poll --json --wait 1s quiet --url "$SBASE" \
    >int.out 2>int.err
intr=$BG_PID
wait_until 20 "the first poll is answered" grep -q '"state":"open"' int.err
kill -INT "$intr"
reap "$intr"
[ "$RC" -eq 130 ] || { cat int.err >&2; fail "poll exited $RC on SIGINT"; }
check_empty int.out
ok "Ctrl-C exits 130"

expect_code 1 "$RTCTL" poll 'poll/bad!room' --url "$SBASE"
check_grep "cannot poll '.*': HTTP 400" err
[ "$(count_lines 'reconnecting|retrying|polling again' err)" -eq 0 ] ||
    fail "a refused poll (HTTP 400) was retried"
ok "a refused poll (HTTP 400) exits 1 without retrying, naming the status"

expect_code 5 "$RTCTL" poll --count 1 --timeout 1s quiet --url "$SBASE"
check_grep 'timeout: 0 of 1 messages' err
check_empty out
ok "--timeout with nothing published exits 5"

expect_code 2 "$RTCTL" poll 'bad room' --url "$SBASE"
expect_code 2 "$RTCTL" poll --since x r
expect_code 2 "$RTCTL" poll --wait 61s r
expect_code 2 "$RTCTL" poll -H 'no colon' r
check_grep "is not 'Name: value'" err
ok "usage errors exit 2"

kill -TERM "$PROXY_PID"
expect_clean_stop
expect_code 3 "$RTCTL" poll --no-reconnect r --url "$SBASE"
check_grep 'connection refused' err
expect_code 3 "$RTCTL" poll --max-retries 1 r --url "$SBASE"
check_grep 'gave up after 1 retry' err
ok "a stopped server: --no-reconnect and --max-retries exit 3"

done_testing
