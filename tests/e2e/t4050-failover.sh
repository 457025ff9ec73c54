#!/bin/sh
# Several server URLs (issue 14, the clients): `--url A --url B` or
# `--url A,B`.  Two real servers that do not share history (the in-memory
# engine): the clients start on A; A is killed; tail, poll, chat and
# connect go on on B by themselves, saying where they are, and resume as
# the protocol says for an unknown epoch (recovered:false, then B's
# messages).  A down from the start: send (WebSocket and HTTP), poll and
# connect go to B.  Both down: each client tries every URL per round,
# gives up after --max-retries rounds and exits 3.  Bad lists: exit 2
# naming the item.
. "$(dirname "$0")/lib.sh"

start_server
A=$BASE
AWS=$WSBASE
APID=$SERVER_PID
start_server
B=$BASE
BWS=$WSBASE
BPID=$SERVER_PID

publish() { # publish BASE CONTENT
    curl -sS --max-time 10 -o /dev/null \
        -d "{\"type\":\"text\",\"data\":{\"content\":\"$2\"}}" \
        "$1/publish/r" || fail "publishing $2 to $1"
}

# b0 is in B's history before anyone moves there.
publish "$B" b0

# --- A killed: every client carries on on B
# connect's standard input: a FIFO this shell holds open (read-write, so
# that opening it does not block), closed to end the command; no other
# process may inherit it (4>&-), or the end would not come.
mkfifo conn.in
exec 4<>conn.in
bg timeout "$(scaled 60)" "$RTCTL" tail --event text --count 3 \
    --timeout "$(scaled 50)s" r --url "$A,$B" >tail.out 2>tail.err 4>&-
tail_pid=$BG_PID
bg timeout "$(scaled 60)" "$RTCTL" poll --json --since 0 --count 3 \
    --timeout "$(scaled 50)s" r --url "$A" --url "$B" >poll.out 2>poll.err \
    4>&-
poll_pid=$BG_PID
bg timeout "$(scaled 60)" "$RTCTL" chat --json --count 3 \
    --timeout "$(scaled 50)s" r --url "$A" --url "$B" \
    </dev/null >chat.out 2>chat.err 4>&-
chat_pid=$BG_PID
# Not through bg: an asynchronous command's standard input would be
# /dev/null.
timeout "$(scaled 60)" "$RTCTL" connect --reconnect "$AWS/echo" \
    --url "$BWS/echo" <conn.in >conn.out 2>conn.err 4>&- &
conn_pid=$!
SERVER_PIDS="$SERVER_PIDS $conn_pid"

wait_until 20 "tail says it is on A" \
    grep -q "^rtctl tail: connected to $A/events/r$" tail.err
wait_until 20 "poll starts on A" \
    grep -q "\"state\":\"connecting\",\"url\":\"$A/poll/r\"" poll.err
wait_until 20 "chat is open on A" \
    grep -q "\"state\":\"open\",\"url\":\"$AWS/ws/r\"" chat.err
wait_until 20 "connect says it is on A" \
    grep -q "^rtctl connect: connected to $AWS/echo$" conn.err
publish "$A" m1
wait_until 20 "tail prints m1" grep -q '"m1"' tail.out
wait_until 20 "poll prints m1" grep -q '"m1"' poll.out
wait_until 20 "chat prints m1" grep -q '"m1"' chat.out
echo before >&4
wait_until 20 "connect's echo on A" grep -qx before conn.out
ok "tail, poll, chat and connect start on the first URL"

SERVER_PID=$APID
# Not with the FIFO: the watchdog's sleep would keep connect's input open.
stop_server KILL 4>&-
SERVER_PID=$BPID
wait_until 30 "tail moves to B at once" \
    grep -q "^rtctl tail: .*; reconnecting now, to $B/events/r$" tail.err
wait_until 30 "tail says it is on B" \
    grep -q "^rtctl tail: connected to $B/events/r$" tail.err
wait_until 30 "poll is open on B" \
    grep -q "\"state\":\"open\",\"url\":\"$B/poll/r\"" poll.err
wait_until 30 "chat is open on B" \
    grep -q "\"state\":\"open\",\"url\":\"$BWS/ws/r\"" chat.err
wait_until 30 "connect says it is on B" \
    grep -q "^rtctl connect: connected to $BWS/echo$" conn.err
check_grep "\"state\":\"backoff\",\"delay_ms\":0,.*\"url\":\"$B/poll/r\"" \
    poll.err
ok "A killed: each client moves to B without waiting and says so"

publish "$B" m2
reap "$tail_pid"
[ "$RC" -eq 0 ] || { cat tail.err >&2; fail "tail exited $RC"; }
reap "$poll_pid"
[ "$RC" -eq 0 ] || { cat poll.err >&2; fail "poll exited $RC"; }
reap "$chat_pid"
[ "$RC" -eq 0 ] || { cat chat.err >&2; fail "chat exited $RC"; }
echo after >&4
wait_until 20 "connect's echo on B" grep -qx after conn.out
exec 4>&-
reap "$conn_pid"
[ "$RC" -eq 0 ] || { cat conn.err >&2; fail "connect exited $RC"; }
# B never held A's history: each says so, then delivers what B holds.
check_grep '^rtctl tail: warning: resumed with recovered:false' tail.err
check_grep '^\{"event":"resumed","recovered":false\}$' poll.err
check_grep '^\{"event":"resumed","recovered":false' chat.err
for f in tail.out poll.out chat.out; do
    got=$(grep -o 'content[\\]*":[\\]*"[a-z0-9]*' "$f" | sed 's/.*"//' |
        tr '\n' ' ')
    [ "$got" = "m1 b0 m2 " ] || fail "$f: got '$got', expected m1 b0 m2"
done
ok "the position goes along: recovered:false from B, then b0 and m2"

# --- A down from the start
expect_code 0 "$RTCTL" send r s1 --url "$A,$B"
check_grep "^rtctl send: .*; retrying now, to $BWS/ws/r\?presence=0$" err
check_grep "^rtctl send: connected to $BWS/ws/r\?presence=0$" err
check_grep '^sent seq 3$' out
expect_code 0 "$RTCTL" send --via http r s2 --url "$A" --url "$B"
check_grep "^rtctl send: .*; retrying now, to $B/publish/r$" err
check_grep '^sent seq 4$' out
expect_code 0 "$RTCTL" poll --json --since 0 --count 4 r --url "$A" --url "$B"
check_grep '"s2"' out
expect_code 0 "$RTCTL" connect -x hi -n 1 "$AWS/echo" --url "$BWS/echo"
check_file out hi
ok "A down from the start: send, send --via http, poll, connect use B"

# --- both down: every URL once per round, --max-retries rounds retried
stop_server KILL
C=$B
for cmd in tail poll chat send; do
    msg=
    [ "$cmd" = send ] && msg=hello
    # shellcheck disable=SC2086 # $msg: one word or none
    expect_code 3 "$RTCTL" "$cmd" --json --max-retries 1 r $msg \
        --url "$A,$C" </dev/null
    n=$(count_lines '"state":"connecting"' err)
    [ "$n" -eq 4 ] || { cat err >&2; fail "$cmd made $n attempts, not 4"; }
    check_grep "^rtctl $cmd: cannot .*'[a-z]+://${A#http://}/.*', '[a-z]+://${C#http://}/.*': gave up after 1 retry of 2 URLs each: " \
        err
done
ok "both down: two rounds of two attempts, then exit 3 naming both URLs"

# --- bad lists
expect_code 2 "$RTCTL" tail r --url "$A,,$C"
check_grep "^rtctl tail: --url: item 2 of '$A,,$C' is empty$" err
expect_code 2 "$RTCTL" poll r --url "$A" --url 'htp//x'
check_grep "^rtctl poll: --url: 'htp//x' \(the 2nd of 2 URLs\): base URL: missing scheme" \
    err
expect_code 2 "$RTCTL" connect "$AWS/echo" --url ftp://x/
check_grep "^rtctl connect: --url: 'ftp://x/': unsupported scheme 'ftp'" err
RTCTL_URL="$A, "
export RTCTL_URL
expect_code 2 "$RTCTL" send r x
unset RTCTL_URL
check_grep "^rtctl send: \\\$RTCTL_URL: item 2 of '$A, ' is empty$" err
ok "a bad item in the list is a usage error (exit 2) that names it"

done_testing
