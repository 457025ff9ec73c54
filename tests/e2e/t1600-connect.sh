#!/bin/sh
# rtctl connect, the raw WebSocket client: lines of standard input go to
# the server's /echo as text (or binary) frames and come back on stdout,
# field by field with --json; the end of standard input closes cleanly;
# --show-control shows the close code of a server shutting down (1001);
# and the documented exit statuses: usage 2, a refused upgrade or a close
# with --exit-on-close 1, cannot connect 3, --timeout 5, Ctrl-C 130.
. "$(dirname "$0")/lib.sh"

# bg NAME CMD...: run CMD in the background with standard input from the
# FIFO NAME.in (held open by this shell on descriptor 3, so the command
# sees no end of input until `close_in`), stdout to NAME.out, stderr to
# NAME.err; BG_PID is its pid, stopped by the EXIT trap if the script
# fails first.
bg() {
    _bg_name=$1
    shift
    rm -f "$_bg_name.in"
    mkfifo "$_bg_name.in" || fail "mkfifo"
    timeout 40 "$@" <"$_bg_name.in" >"$_bg_name.out" 2>"$_bg_name.err" &
    BG_PID=$!
    SERVER_PIDS="$SERVER_PIDS $BG_PID"
    exec 3>"$_bg_name.in"
}

close_in() {
    exec 3>&-
}

# reap PID WANT NAME: wait for PID; fail unless it exited WANT.
reap() {
    wait "$1"
    _r_rc=$?
    SERVER_PIDS=$(echo "$SERVER_PIDS" | sed "s/ $1\b//")
    if [ "$_r_rc" -ne "$2" ]; then
        cat "$3.out" "$3.err" >&2
        fail "$3 exited $_r_rc, expected $2"
    fi
}

# has_lines FILE N: FILE has N lines or more (for wait_until).
has_lines() {
    [ "$(wc -l <"$1")" -ge "$2" ]
}

start_server
SBASE=$BASE

# --- usage errors

expect_code 2 "$RTCTL" connect
check_grep 'give a URL' err
expect_code 2 "$RTCTL" connect /echo /other --url "$SBASE"
check_grep 'too many arguments' err
expect_code 2 "$RTCTL" connect --subprotocol 'a b' /echo --url "$SBASE"
check_grep "is not a token" err
expect_code 2 "$RTCTL" connect -H 'no colon' /echo --url "$SBASE"
expect_code 2 "$RTCTL" connect 'localhost:1/x' --url "$SBASE"
expect_code 2 "$RTCTL" connect --ping soon /echo --url "$SBASE"
check_empty out
ok "usage errors exit 2"

# --- echo round trips

bg text "$RTCTL" connect --json /echo --url "$SBASE"
pid=$BG_PID
printf 'hello\n' >&3
wait_until 20 "the first echo" has_lines text.out 1
printf 'caf\303\251 "quoted"\r\n\n' >&3
wait_until 20 "three echoes" has_lines text.out 3
close_in
reap "$pid" 0 text
/usr/bin/python3 - text.out <<'PY' || fail "text.out is not the three echoes"
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
objs = [json.loads(l) for l in lines]
want = [{"event": "text", "data": "hello"},
        {"event": "text", "data": "caf\u00e9 \"quoted\""},
        {"event": "text", "data": ""}]
if objs != want:
    sys.exit("got %r" % objs)
PY
grep -q '"state":"closed"}$' text.err || fail "no clean closed state"
ok "text frames round-trip through /echo, --json, CR LF and empty lines"

# echo_one NAME LINE WANT ARGS...: `connect ARGS /echo` sends LINE, prints
# its echo as WANT, and exits 0 once its input ends.
echo_one() {
    _eo_name=$1
    _eo_line=$2
    _eo_want=$3
    shift 3
    bg "$_eo_name" "$RTCTL" connect "$@" /echo --url "$SBASE"
    _eo_pid=$BG_PID
    printf '%b\n' "$_eo_line" >&3
    wait_until 20 "the echo of $_eo_name" has_lines "$_eo_name.out" 1
    close_in
    reap "$_eo_pid" 0 "$_eo_name"
    check_file "$_eo_name.out" "$_eo_want"
}

echo_one bin 'hi\001' '{"event":"binary","data":"aGkB"}' --binary --json
ok "--binary: a line is a binary frame, printed as base64 with --json"

echo_one human hello '[binary 5 bytes] 68656c6c6f' --binary
ok "a binary frame is printed as hex without --json"

printf 'one\ntwo\n' >two
expect_code 0 sh -c "\"\$RTCTL\" connect /echo --url \"$SBASE\" <two"
check_empty err
expect_code 0 sh -c "\"\$RTCTL\" connect --json /echo --url \"$SBASE\" </dev/null"
check_empty out
ok "the end of standard input closes and exits 0"

# --- the server goes away: close 1001

# goes_away NAME WANT ARGS...: `connect -v ARGS /echo` is connected when
# the server stops (1001); it exits WANT.  The server is started again.
goes_away() {
    _ga_name=$1
    _ga_want=$2
    shift 2
    bg "$_ga_name" "$RTCTL" connect -v "$@" /echo --url "$SBASE"
    _ga_pid=$BG_PID
    wait_until 20 "the connection opens" grep -q 'connected to' \
        "$_ga_name.err"
    expect_clean_stop
    reap "$_ga_pid" "$_ga_want" "$_ga_name"
    close_in
    start_server
    SBASE=$BASE
}

# --ping: a ping each interval of silence, each answered (the pong re-arms
# the interval), shown by --show-control with the payload that was sent.
bg ping "$RTCTL" connect --ping 200ms --show-control /echo --url "$SBASE"
pid=$BG_PID
wait_until 20 "three pongs" sh -c \
    '[ "$(grep -c "^rtctl connect: < pong: rtctl [0-9]*$" ping.err)" -ge 3 ]'
close_in
reap "$pid" 0 ping
check_grep '^rtctl connect: > ping: rtctl [0-9]+$' ping.err
ok "--ping pings every interval and --show-control shows pings and pongs"

goes_away show 0 --json --show-control
check_grep '^\{"event":"close","code":1001,"reason":"[^"]*"\}$' show.err
check_grep 'the server ended the connection: close 1001' show.err
ok "--show-control shows the close 1001 of a server shutting down; exit 0"

goes_away eoc 1 --show-control --exit-on-close --reconnect
check_grep '^rtctl connect: < close 1001' eoc.err
ok "--exit-on-close: close 1001 exits 1, even with --reconnect"

# --- exit statuses

expect_code 1 sh -c "\"\$RTCTL\" connect 'ws/bad!room' --url \"$SBASE\" </dev/null"
check_grep "cannot connect to '.*': HTTP 400" err
ok "a refused upgrade (HTTP 400) exits 1"

bg to "$RTCTL" connect --timeout 1s /echo --url "$SBASE"
pid=$BG_PID
reap "$pid" 5 to
close_in
check_grep 'timeout' to.err
ok "--timeout exits 5"

bg int "$RTCTL" connect --json /echo --url "$SBASE"
pid=$BG_PID
wait_until 20 "the connection opens" grep -q '"state":"open"' int.err
kill -INT "$pid"
reap "$pid" 130 int
close_in
ok "Ctrl-C exits 130"
expect_clean_stop

start_server --auth-secret s3cret
TOKEN=$("$RTCTL" token --secret s3cret --sub alice) || fail "token"
bg auth "$RTCTL" connect --token "$TOKEN" general --url "$BASE"
pid=$BG_PID
wait_until 20 "the welcome" grep -q '"event":"welcome","user":"alice"' \
    auth.out
close_in
reap "$pid" 0 auth
bg bad "$RTCTL" connect --token bad general --url "$BASE"
pid=$BG_PID
reap "$pid" 1 bad
close_in
check_grep 'close 1008' bad.err
ok "a token is sent; a bad one is closed with 1008, exit 1"
expect_clean_stop

expect_code 3 sh -c "\"\$RTCTL\" connect /echo --url \"$SBASE\" </dev/null"
check_grep 'connection refused' err
expect_code 3 sh -c "\"\$RTCTL\" connect --reconnect --max-retries 1 /echo \
    --url \"$SBASE\" </dev/null"
check_grep 'gave up after 1 retry' err
ok "a closed port exits 3, at once or after --max-retries"

done_testing
