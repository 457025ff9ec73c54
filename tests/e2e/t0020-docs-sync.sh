#!/bin/sh
# The documentation says what the code does (curl test1477, test971):
# every command has a man page naming each of its options, rtctl(1) lists
# every exit status of cli/exit.h and every command, and the generated
# pages are clean under mandoc -T lint.
. "$(dirname "$0")/lib.sh"

man="$RT_SRCDIR/man"

"$RTCTL" --list-cmds >cmds || fail "--list-cmds failed"
while read -r cmd; do
    page="$man/rtctl-$cmd.1.scd"
    [ -f "$page" ] || fail "rtctl $cmd has no man page ($page)"
    "$RTCTL" "$cmd" --list-opts >opts || fail "$cmd --list-opts failed"
    while read -r opt; do
        case $opt in
        --no-*) continue ;; # documented with the positive form
        esac
        grep -Fq -- "*$opt*" "$page" ||
            fail "rtctl-$cmd(1) does not document $opt"
    done <opts
    grep -Fq "*rtctl-$cmd*(1)" "$man/rtctl.1.scd" ||
        fail "rtctl(1) does not list rtctl-$cmd(1)"
    ok "rtctl-$cmd(1) documents every option"
done <cmds

# Every exit status of the one enum is in rtctl(1) EXIT STATUS.
sed -n 's/^ *XX(\([A-Z_]*\), *\([0-9]*\),.*/\2/p' "$RT_SRCDIR/cli/exit.h" \
    >codes
[ "$(wc -l <codes)" -ge 8 ] || fail "could not read the exit codes of exit.h"
sed -n '/^# EXIT STATUS/,/^# /p' "$man/rtctl.1.scd" >exitsec
while read -r code; do
    grep -q "^\*$code\*" exitsec ||
        fail "rtctl(1) EXIT STATUS does not list $code"
done <codes
ok "rtctl(1) lists every exit status"

if command -v mandoc >/dev/null 2>&1 && [ -d "${RT_BUILDDIR:-}/man" ]; then
    for p in "$RT_BUILDDIR"/man/*.[0-9]; do
        # scdoc emits a .PP before every paragraph, even after .SH; mandoc
        # warns that it skips them.  That is scdoc's output, not our text.
        mandoc -T lint -W warning "$p" >lint 2>&1
        grep -v -e 'skipping paragraph macro' lint >lint2 || true
        [ -s lint2 ] && { cat lint2 >&2; fail "mandoc -T lint: $p"; }
    done
    ok "mandoc -T lint is clean"
fi

done_testing
