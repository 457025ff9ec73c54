#!/bin/sh
# The example programs of lib/examples run against `rtctl serve` and do
# what their comments say: example_sse and example_poll print two
# published messages once each and in seq order, resume from a position
# given on the command line (the SSE one reporting a foreign epoch as a
# loss), and close cleanly on Ctrl-C (exit 0, "closed" last).
# t0061 runs example_ws.
. "$(dirname "$0")/lib.sh"

: "${RT_BUILDDIR:?RT_BUILDDIR must name the build directory}"
EX=$RT_BUILDDIR/lib/examples
for e in example_sse example_poll; do
    [ -x "$EX/$e" ] || fail "$EX/$e was not built"
done

start_server

# bg NAME CMD...: run CMD in the background, stdout to NAME.out, stderr to
# NAME.err, stopped by the EXIT trap if the script fails first.
bg() {
    _bg_name=$1
    shift
    # --foreground: a Ctrl-C for timeout reaches the example once, not
    # a second time through the process group.
    timeout --foreground 40 "$@" >"$_bg_name.out" 2>"$_bg_name.err" &
    BG_PID=$!
    SERVER_PIDS="$SERVER_PIDS $BG_PID"
}

# interrupt PID NAME: Ctrl-C; the program exits 0 and "closed" is its
# last line.
interrupt() {
    kill -INT "$1"
    wait "$1"
    _i_rc=$?
    SERVER_PIDS=$(echo "$SERVER_PIDS" | sed "s/ $1\b//")
    if [ "$_i_rc" -ne 0 ]; then
        cat "$2.out" "$2.err" >&2
        fail "$2 exited $_i_rc on Ctrl-C, expected 0"
    fi
    [ "$(tail -n 1 "$2.out")" = closed ] ||
        { cat "$2.out" >&2; fail "$2: 'closed' is not the last line"; }
}

publish() {
    curl -sS --max-time 10 -o /dev/null \
        -d "{\"type\":\"text\",\"data\":{\"content\":\"$2\"}}" \
        "$BASE/publish/$1" || fail "publishing $2 to $1"
}

# --- live: both examples follow room ex while two messages are published.
bg sse "$EX/example_sse" "$BASE/events/ex"
sse=$BG_PID
# The poll example starts from seq 0 (the history), so it cannot miss a
# message published before its first poll arrives.
bg poll "$EX/example_poll" "$BASE/poll/ex" 0
poll=$BG_PID
wait_until 20 "example_sse gets the welcome" grep -q '^system \[' sse.out
publish ex m1
publish ex m2
wait_until 20 "example_sse prints seq 2" grep -q '"seq":2,' sse.out
wait_until 20 "example_poll prints seq 2" grep -q '^seq 2: ' poll.out
interrupt "$sse" sse
interrupt "$poll" poll

epoch=$(sed -n 's/^system \[\([A-Za-z0-9]*\)-0\] .*"event":"welcome".*/\1/p' \
    sse.out)
[ -n "$epoch" ] || { cat sse.out >&2; fail "no welcome with id EPOCH-0"; }
grep '^text ' sse.out | sed 's/"timestamp":[0-9.]*//' >sse.text
check_grep "^text \\[$epoch-1\\] .*\"seq\":1,.*\"content\":\"m1\"" sse.text
check_grep "^text \\[$epoch-2\\] .*\"seq\":2,.*\"content\":\"m2\"" sse.text
[ "$(wc -l <sse.text)" -eq 2 ] || fail "example_sse printed $(wc -l <sse.text) text events, expected 2"
check_grep '^state open ' sse.err
check_grep "^state closed 0 ms +\\(last id '$epoch-2'\\)" sse.err
ok "example_sse: the welcome, seq 1 and 2 once, in order; Ctrl-C closes, exit 0"

grep '^seq ' poll.out | cut -d: -f1 >poll.seqs
check_file poll.seqs "seq 1
seq 2"
check_grep '^seq 2: .*"content":"m2"' poll.out
check_grep "^state closed 0 ms +\\(at $epoch-2\\)" poll.err
ok "example_poll: seq 1 and 2 once, in order; Ctrl-C closes, exit 0"

# --- resume from a position given on the command line.
bg sse2 "$EX/example_sse" "$BASE/events/ex" "$epoch-1"
sse2=$BG_PID
wait_until 20 "example_sse resumes" grep -q '"event":"resumed"' sse2.out
interrupt "$sse2" sse2
grep '^text ' sse2.out | cut -d' ' -f1-2 >sse2.text
check_file sse2.text "text [$epoch-2]"
check_grep '"recovered":true' sse2.out
if grep -q 'messages were lost' sse2.out; then
    fail "example_sse reported a loss on a full resume"
fi
ok "example_sse LAST_EVENT_ID: only what followed it"

bg sse3 "$EX/example_sse" "$BASE/events/ex" zzz-7
sse3=$BG_PID
wait_until 20 "example_sse resumes" grep -q '"event":"resumed"' sse3.out
interrupt "$sse3" sse3
grep -e '^text ' -e '^resumed' sse3.out | cut -d' ' -f1-2 >sse3.text
check_file sse3.text "resumed: messages
text [$epoch-1]
text [$epoch-2]"
ok "example_sse with a foreign epoch: the loss reported once, then the history"

bg poll2 "$EX/example_poll" "$BASE/poll/ex" 1
poll2=$BG_PID
wait_until 20 "example_poll prints seq 2" grep -q '^seq 2: ' poll2.out
interrupt "$poll2" poll2
grep '^seq ' poll2.out | cut -d: -f1 >poll2.seqs
check_file poll2.seqs "seq 2"
ok "example_poll SINCE: only what followed it"

expect_clean_stop
done_testing
