# tests/e2e/lib.sh: sourced by every tNNNN-*.sh (git's t/test-lib.sh, small).
#
# CTest sets RTCTL (the binary under test) and RT_SRCDIR.  Each script runs
# in its own scratch directory, removed on exit.  A script fails at its
# first failed check; the message names the check and what was seen.

set -u

: "${RTCTL:?RTCTL must name the rtctl binary under test}"
: "${RT_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"

T=$(mktemp -d "${TMPDIR:-/tmp}/rtctl-e2e.XXXXXX")
cleanup() {
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cd "$T" || exit 1

ntests=0
fail() {
    printf 'FAIL: %s\n' "$*" >&2
    exit 1
}

ok() {
    ntests=$((ntests + 1))
    printf 'ok %d - %s\n' "$ntests" "$*"
}

# expect_code N CMD...: run CMD (bounded by timeout), stdout to ./out,
# stderr to ./err; fail unless its exit status is N.
expect_code() {
    want=$1
    shift
    timeout 20 "$@" >out 2>err
    got=$?
    if [ "$got" -ne "$want" ]; then
        printf '%s\n' "--- stdout" >&2
        cat out >&2
        printf '%s\n' "--- stderr" >&2
        cat err >&2
        fail "'$*' exited $got, expected $want"
    fi
}

# check_file FILE EXPECTED: FILE's contents equal the string EXPECTED
# (plus the final newline).
check_file() {
    printf '%s\n' "$2" >expected
    if ! cmp -s "$1" expected; then
        printf '%s\n' "--- expected" >&2
        cat expected >&2
        printf '%s\n' "--- got" >&2
        cat "$1" >&2
        fail "$1 differs from what was expected"
    fi
}

# check_grep PATTERN FILE: FILE has a line matching the extended regex.
check_grep() {
    if ! grep -Eq -- "$1" "$2"; then
        printf '%s\n' "--- $2" >&2
        cat "$2" >&2
        fail "no line of $2 matches '$1'"
    fi
}

check_empty() {
    if [ -s "$1" ]; then
        cat "$1" >&2
        fail "$1 should be empty"
    fi
}

done_testing() {
    printf '# %d checks passed\n' "$ntests"
    exit 0
}
