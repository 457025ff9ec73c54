#!/bin/sh
# Every `rtctl load` example of rtctl-load(1) runs as written against
# `rtctl serve --max-user-connections 0` (the server the page starts),
# with the test server's port in place of 8080, and exits 0.
. "$(dirname "$0")/lib.sh"

start_server --max-user-connections 0
PATH=$(dirname "$RTCTL"):$PATH
sed -n 's/^\t\(rtctl load .*\)$/\1/p' "$RT_SRCDIR/man/rtctl-load.1.scd" \
    >examples
[ "$(wc -l <examples)" -ge 4 ] || fail "found only $(wc -l <examples) examples"
while read -r ex; do
    cmd=$(printf '%s\n' "$ex" | sed "s/127\.0\.0\.1:8080/127.0.0.1:$PORT/")
    EXPECT_TIMEOUT=60 expect_code 0 sh -c "$cmd" </dev/null
    check_grep '^  lost/dup/reorder \.: 0 / 0 / 0$' out
    ok "$ex"
done <examples

done_testing
