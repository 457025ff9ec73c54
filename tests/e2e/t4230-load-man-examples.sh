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

# The several-machines example of rtctl-load(1) and rtctl-report(1): the
# two `machine-X$` commands run together here (the server's address in
# place of server:8080, a start a few seconds away in place of 14:30; the
# page says both fit under the server's per-address limit), then each
# page's `rtctl report merge` line on their reports.  The plain server's
# port: $PORT is the TLS one's by now.
for page in rtctl-load rtctl-report; do
    sed -n 's/^\t\{0,1\}machine-[ab]\$ \(rtctl load .*\)$/\1/p' \
        "$RT_SRCDIR/man/$page.1.scd" | sed 's/++$//' >machines
    [ "$(wc -l <machines)" = 2 ] || fail "$page: not two machine-X\$ lines"
    at=@$(($(date +%s) + $(scaled 3)))
    n=0
    while read -r ex; do
        n=$((n + 1))
        cmd=$(printf '%s\n' "$ex" | sed -e "s|ws://server:8080|ws://127.0.0.1:$PLAIN|" \
            -e "s/--start-at 14:30/--start-at $at/")
        timeout "$(scaled 90)" sh -c "$cmd" >"machine$n.out" 2>"machine$n.err" &
        eval "mpid$n=\$!"
    done <machines
    wait "$mpid1" || { cat machine1.err >&2; fail "$page: machine-a's command failed"; }
    wait "$mpid2" || { cat machine2.err >&2; fail "$page: machine-b's command failed"; }
    check_grep '^  lost/dup/reorder \.: 0 / 0 / 0$' machine1.out
    check_grep '^  lost/dup/reorder \.: 0 / 0 / 0$' machine2.out
    ex=$(sed -n 's/^\t\{0,1\}\(rtctl report merge .*\)$/\1/p' "$RT_SRCDIR/man/$page.1.scd")
    [ -n "$ex" ] || fail "$page: no rtctl report merge example"
    timeout 60 sh -c "$ex" >out 2>err </dev/null
    rc=$?
    case $ex in
    *"'p99<"*) [ "$rc" = 0 ] || [ "$rc" = 6 ] || fail "'$ex' exited $rc" ;;
    *) [ "$rc" = 0 ] || { cat err >&2; fail "'$ex' exited $rc"; } ;;
    esac
    check_grep '^  800 subscribers \(ws\), 20 publishers, 20 rooms, .* 2 processes merged' out
    check_grep '^  lost/dup/reorder \.: 0 / 0 / 0$' out
    ok "$page: the two machines' commands, then '$ex'"
done

done_testing
