#!/bin/sh
# The WebSocket client (issue 4) over wss:// against `rtctl serve
# --tls-cert`, with a self-signed certificate made here for 127.0.0.1:
# trusted through cacert it opens and delivers; with the system's store
# the certificate failure is reported (err TLS) and stops the client
# instead of hanging; insecure skips the check and works.
. "$(dirname "$0")/lib.sh"

expect_code 0 openssl req -x509 -newkey rsa:2048 -nodes -days 1 \
    -subj /CN=127.0.0.1 -addext 'subjectAltName=IP:127.0.0.1,DNS:localhost' \
    -keyout key.pem -out cert.pem
start_server --tls-cert cert.pem --tls-key key.pem
case $WSBASE in
wss://*) ;;
*) fail "the server does not say https:// ($SERVER_LINE)" ;;
esac

# publish N: POST the text mN over https://; it must become seq N.
publish() {
    expect_code 0 curl -sS --max-time 10 --cacert cert.pem \
        -d "{\"type\":\"text\",\"data\":{\"content\":\"m$1\"}}" \
        "$BASE/publish/tls"
    check_grep "^\\{\"seq\":$1\\}\$" out
}

bg_drv ca "$WSDRV" follow "$WSBASE/ws/tls" --cacert "$T/cert.pem" \
    --count 1 --deadline-ms 30000
ca=$BG_PID
wait_until 20 "the welcome over wss:// with cacert" \
    grep -q '"type":"welcome"' ca.out
publish 1
wait_drv "$ca" ca 0
check_ws_seqs ca.out 1-1
if grep -q '"err":"[A-Z]' ca.out; then
    fail "a failure on the way: $(grep '"err":"[A-Z]' ca.out)"
fi
ok "wss:// with cacert: opens at once and delivers seq 1"

bg_drv sys "$WSDRV" follow "$WSBASE/ws/tls" --max-retries 2 --base-ms 100 \
    --count 1 --deadline-ms 30000
wait_drv "$BG_PID" sys 3
check_grep \
    '"state":"closed","delay_ms":0,"err":"TLS",.*"detail":"TLS failure: .*certificate' \
    sys.out
if grep -q '"type":"welcome"' sys.out; then
    fail "opened with an untrusted certificate"
fi
# A certificate that fails now fails next time: it stops at once
# (--max-retries only bounds the test, should that change).
[ "$(count_lines '"state":"connecting"' sys.out)" -eq 1 ] ||
    fail "retried a certificate failure: $(cat sys.out)"
ok "wss:// without cacert: the certificate failure stops the client (err TLS)"

bg_drv ins "$WSDRV" follow "$WSBASE/ws/tls" --insecure --count 1 \
    --deadline-ms 30000
ins=$BG_PID
wait_until 20 "the welcome over wss:// with insecure" \
    grep -q '"type":"welcome"' ins.out
publish 2
wait_drv "$ins" ins 0
check_ws_seqs ins.out 2-2
ok "wss:// insecure: opens without checking and delivers seq 2"

expect_clean_stop
done_testing
