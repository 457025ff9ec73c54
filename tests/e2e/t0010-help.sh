#!/bin/sh
# Every command answers --help on stdout with exit 0 and an empty stderr,
# `rtctl help CMD` says the same, and the usage errors of the dispatcher
# exit 2 with a message that names the problem (git t0012).
. "$(dirname "$0")/lib.sh"

expect_code 0 "$RTCTL" --help
check_grep '^usage: rtctl' out
check_empty err
ok "rtctl --help"

expect_code 0 "$RTCTL" --version
check_grep '^rtctl [0-9]+\.[0-9]+\.[0-9]+$' out
ok "rtctl --version"

"$RTCTL" --list-cmds >cmds || fail "--list-cmds failed"
[ -s cmds ] || fail "--list-cmds printed nothing"
while read -r cmd; do
    expect_code 0 "$RTCTL" "$cmd" --help
    [ -s out ] || fail "rtctl $cmd --help printed nothing"
    check_empty err
    check_grep "^usage: rtctl $cmd" out
    cp out help1
    expect_code 0 "$RTCTL" help "$cmd"
    cmp -s out help1 || fail "'rtctl help $cmd' differs from '$cmd --help'"
    "$RTCTL" --help | grep -q "^   $cmd " ||
        fail "rtctl --help does not list $cmd"
    ok "rtctl $cmd --help"
done <cmds

expect_code 2 "$RTCTL" frobnicate
check_file err "rtctl: 'frobnicate' is not an rtctl command. See 'rtctl --help'."
ok "unknown command"

expect_code 2 "$RTCTL"
check_grep '^usage: rtctl' err
ok "no command"

expect_code 2 "$RTCTL" tail --no-such-option -
check_grep "unknown option '--no-such-option'" err
check_grep "Try 'rtctl tail --help'" err
ok "unknown option"

expect_code 2 "$RTCTL" tail --jso -
check_grep "unknown option '--jso'" err
ok "abbreviations are refused"

expect_code 2 "$RTCTL" tail --count=abc -
check_grep "'abc' is not a whole number" err
ok "bad option value"

expect_code 2 "$RTCTL" tail --count
check_grep "needs a value" err
ok "missing option value"

expect_code 2 "$RTCTL" tail --color=sometimes -
check_grep "'sometimes' is not one of auto, always, never" err
ok "bad --color"

expect_code 2 "$RTCTL" help frobnicate
ok "help for an unknown command"

done_testing
