#!/bin/sh
# The SSE and long-polling clients over https:// with a certificate made
# here (an EC key, CN localhost, subjectAltName IP:127.0.0.1 and
# DNS:localhost): `rtctl tail` and `rtctl poll` receive published messages
# with --cacert; without it the certificate is refused at once with a
# clear error and exit 3 (EXIT STATUS: could not connect), not retried
# forever; -k skips the check.
. "$(dirname "$0")/lib.sh"

expect_code 0 openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -nodes -days 1 -subj /CN=localhost \
    -addext subjectAltName=IP:127.0.0.1,DNS:localhost \
    -keyout key.pem -out cert.pem
start_server --tls-cert cert.pem --tls-key key.pem
case $BASE in
https://*) ;;
*) fail "the server does not listen on https:// ($SERVER_LINE)" ;;
esac
ok "a server with a generated certificate on $BASE"

publish() {
    curl -sS --max-time 10 --cacert cert.pem -o /dev/null \
        -d "{\"type\":\"text\",\"data\":{\"content\":\"$1\"}}" \
        "$BASE/publish/tls" || fail "publishing $1"
}

# A full URL is any server's, so --order asks for ordering by seq.
timeout 30 "$RTCTL" tail --json --order --event text --count 2 \
    --timeout 20s --cacert cert.pem "$BASE/events/tls" >tail.out 2>tail.err &
tail=$!
SERVER_PIDS="$SERVER_PIDS $tail"
wait_until 20 "tail is open over https" grep -q '"state":"open"' tail.err
publish m1
publish m2
wait "$tail"
rc=$?
SERVER_PIDS=$(echo "$SERVER_PIDS" | sed "s/ $tail\b//")
[ "$rc" -eq 0 ] || { cat tail.err >&2; fail "tail --cacert exited $rc"; }
check_grep '^\{"event":"text","id":"[A-Za-z0-9]+-1",.*m1' tail.out
check_grep '^\{"event":"text","id":"[A-Za-z0-9]+-2",.*m2' tail.out
[ "$(wc -l <tail.out)" -eq 2 ] || fail "tail printed $(wc -l <tail.out) events"
epoch=$(sed -n '1s/^{"event":"text","id":"\([A-Za-z0-9]*\)-1".*/\1/p' tail.out)
ok "tail --cacert: m1 and m2 over https://"

expect_code 0 "$RTCTL" poll --json --since 0 --count 2 --timeout 20s \
    --cacert cert.pem "$BASE/poll/tls"
check_grep '^\{"type":"text",.*"seq":1,.*"m1"' out
check_grep '^\{"type":"text",.*"seq":2,.*"m2"' out
ok "poll --cacert: m1 and m2 over https://"

expect_code 3 "$RTCTL" tail "$BASE/events/tls"
check_grep "^rtctl tail: cannot follow '$BASE/events/tls': TLS failure: .*certificate" err
[ "$(count_lines 'reconnecting|retrying|polling again' err)" -eq 0 ] ||
    fail "tail retried a refused certificate"
expect_code 3 "$RTCTL" poll "$BASE/poll/tls"
check_grep "^rtctl poll: cannot poll '$BASE/poll/tls': TLS failure: .*certificate" err
check_empty out
[ "$(count_lines 'reconnecting|retrying|polling again' err)" -eq 0 ] ||
    fail "poll retried a refused certificate"
ok "without --cacert the certificate is refused at once: exit 3, a TLS error"

expect_code 0 "$RTCTL" tail -k --json --event text --count 2 \
    --since "$epoch-0" --timeout 20s "$BASE/events/tls"
[ "$(grep -c '"event":"text"' out)" -eq 2 ] || fail "tail -k: not 2 events"
expect_code 0 "$RTCTL" poll -k --since 1 --count 1 --timeout 20s \
    "$BASE/poll/tls"
check_grep '^\[text 2\] .*m2$' out
ok "-k skips the check: tail resumes after $epoch-0, poll after seq 1"

expect_clean_stop
done_testing
