#!/bin/sh
# Every `rtctl load` example of rtctl-load(1) runs as written against
# `rtctl serve --max-user-connections 0` (the server the page starts),
# with the test servers' ports in place of 8080 (and of 8443, a TLS one),
# scenario files from the source tree, and exits 0 (or 6 for
# the latency threshold example, which depends on the machine's load).
. "$(dirname "$0")/lib.sh"

start_server --max-user-connections 0
PLAIN=$PORT
# the TLS examples' server (port 8443 on the page), with a certificate
expect_code 0 openssl req -x509 -newkey rsa:2048 -nodes -days 1 \
    -subj /CN=127.0.0.1 -addext 'subjectAltName=IP:127.0.0.1' \
    -keyout key.pem -out cert.pem
start_server --max-user-connections 0 --tls-cert cert.pem --tls-key key.pem
TLSPORT=$PORT
PATH=$(dirname "$RTCTL"):$PATH
sed -n 's/^\t\(rtctl load .*\)$/\1/p' "$RT_SRCDIR/man/rtctl-load.1.scd" \
    >examples
[ "$(wc -l <examples)" -ge 4 ] || fail "found only $(wc -l <examples) examples"
while read -r ex; do
    cmd=$(printf '%s\n' "$ex" | sed -e "s/127\.0\.0\.1:8080/127.0.0.1:$PLAIN/" \
        -e "s/127\.0\.0\.1:8443/127.0.0.1:$TLSPORT/" \
        -e "s|tests/bench/scenarios/|$RT_SRCDIR/tests/bench/scenarios/|")
    case $ex in
    *"'p99<"*)
        # a latency threshold depends on the machine's load: it may hold
        # (0) or fail (6); either way the verdict is printed
        timeout 60 sh -c "$cmd" >out 2>err </dev/null
        rc=$?
        [ "$rc" = 0 ] || [ "$rc" = 6 ] || fail "'$ex' exited $rc"
        check_grep '^    (ok|FAILED) +p99<50ms ' out
        ;;
    *)
        EXPECT_TIMEOUT=60 expect_code 0 sh -c "$cmd" </dev/null
        ;;
    esac
    check_grep '^  lost/dup/reorder \.: 0 / 0 / 0$' out
    ok "$ex"
done <examples

done_testing
