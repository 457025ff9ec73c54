#!/bin/sh
# A client command whose reader goes away stops: `| head -1` has what it
# wanted, so that is exit 0 and no message; a full disk is exit 1 with
# one message naming standard output.  Both while the stream would go on
# for ever.
. "$(dirname "$0")/lib.sh"

start_server
publish_seq "$BASE" pipe 1 50

# pipe_status CMD...: the exit status of CMD | head -n 1.  Once head has
# its line and is gone, one more message makes CMD write into the closed
# pipe (as with `tail -f | head -1`, nothing can tell before that): publish
# one at a time until CMD has stopped.
pipe_status() {
    rm -f status first
    { timeout 20 "$@" 2>err; echo $? >status; } | head -n 1 >first &
    wait_until 20 "$* stopping after head has gone" publish_until_status
    cat status
}

publish_until_status() {
    test -s status && return 0
    curl -sf -d '{"type":"text","data":{"content":"one more"}}' \
        "$BASE/publish/pipe" >/dev/null || fail "publishing one more"
    test -s status
}

# tail -q: the server's welcome is a state line on stderr, which -q hides.
for cmd in "poll --since 0" "tail -q"; do
    # shellcheck disable=SC2086
    st=$(pipe_status "$RTCTL" $cmd --url "$BASE" pipe)
    [ "$st" -eq 0 ] || fail "rtctl $cmd | head -1 exited $st: $(cat err)"
    check_empty err
    test -s first || fail "rtctl $cmd | head -1 printed nothing"
    ok "rtctl $cmd | head -1 exits 0 once its next line has nowhere to go"
done

rm -f status
{ printf 'one\ntwo\n' | timeout 20 "$RTCTL" connect "$WSBASE/echo" 2>err
    echo $? >status; } | head -n 1 >first
[ "$(cat status)" -eq 0 ] || fail "rtctl connect | head -1 exited $(cat status)"
check_file first "one"
ok "rtctl connect | head -1 exits 0"

if [ -w /dev/full ]; then
    expect_code 1 sh -c '"$0" poll --since 0 --url "$1" pipe >/dev/full' \
        "$RTCTL" "$BASE"
    check_file err "rtctl poll: cannot write to standard output: No space left on device"
    ok "a full disk is exit 1, said once"
fi

done_testing
