#!/bin/sh
# rtctl connect and tail with a client certificate (--cert, --key) to a
# python3-websockets server that requires one, through an HTTP proxy
# (--proxy, and the environment variables curl reads, NO_PROXY
# included), and with Basic authentication (--auth).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/peers.sh"

mkcert() {
    expect_code 0 openssl req -x509 -newkey rsa:2048 -nodes -days 1 \
        -subj "/CN=$1" -addext 'subjectAltName=IP:127.0.0.1' \
        -keyout "$1.key" -out "$1.pem"
}
mkcert server
mkcert client
mkcert other

# --- client certificates

start_peer_ws tls.log server.pem server.key client.pem
echo hi | expect_code 0 "$RTCTL" connect -n 1 --cacert server.pem \
    --cert client.pem --key client.key "$PEER_WS/echo"
check_file out hi
cat client.key client.pem >both.pem
echo hi | expect_code 0 "$RTCTL" connect -n 1 --cacert server.pem \
    --cert both.pem "$PEER_WS/echo"
check_file out hi
echo hi | expect_code 3 "$RTCTL" connect -n 1 --cacert server.pem \
    "$PEER_WS/echo"
echo hi | expect_code 3 "$RTCTL" connect -n 1 --cacert server.pem \
    --cert other.pem --key other.key "$PEER_WS/echo"
expect_code 2 "$RTCTL" connect --key client.key "$PEER_WS/echo"
check_grep '[-]-key goes with --cert' err
ok "--cert and --key: the server that requires them lets rtctl in"

# --- an HTTP proxy

start_server
start_peer_proxy proxy.log
echo hi | expect_code 0 "$RTCTL" connect --proxy "$PROXY_URL" "$WSBASE/echo"
check_file out hi
check_grep "^\\{\"line\": \"CONNECT 127.0.0.1:$PORT HTTP/1.1\"" proxy.log
ok "connect --proxy tunnels through the proxy"

n=$(wc -l <proxy.log)
echo hi | http_proxy=$PROXY_URL expect_code 0 "$RTCTL" connect "$WSBASE/echo"
check_file out hi
[ "$(wc -l <proxy.log)" -eq $((n + 1)) ] || fail "\$http_proxy not used"
echo hi | http_proxy=$PROXY_URL NO_PROXY=localhost,127.0.0.1 \
    expect_code 0 "$RTCTL" connect "$WSBASE/echo"
check_file out hi
[ "$(wc -l <proxy.log)" -eq $((n + 1)) ] || fail "NO_PROXY not honoured"
echo hi | ALL_PROXY=$PROXY_URL expect_code 0 "$RTCTL" connect "$WSBASE/echo"
check_file out hi
[ "$(wc -l <proxy.log)" -eq $((n + 2)) ] || fail "\$ALL_PROXY not used"
ok "connect takes the proxy from the environment, NO_PROXY included"

publish_seq "$BASE" general 1 1
expect_code 0 "$RTCTL" tail --count 1 --since x-0 --proxy "$PROXY_URL" \
    --url "$BASE" general
check_grep 'm1' out
check_grep "^\\{\"line\": \"GET http://127.0.0.1:$PORT/events/general" \
    proxy.log
ok "tail --proxy"

expect_code 2 "$RTCTL" connect --proxy socks5://127.0.0.1:1 "$WSBASE/echo"
ok "a proxy that is not http:// is a usage error"

# --- Basic authentication

start_peer_ws auth.log
echo hi | expect_code 0 "$RTCTL" connect -n 1 --auth 'alice:s3cret:x' \
    "$PEER_WS/echo"
check_grep '"Authorization", "Basic YWxpY2U6czNjcmV0Ong="' auth.log
expect_code 0 "$RTCTL" tail --count 1 --since x-0 --auth 'bob:pw' \
    --proxy "$PROXY_URL" --url "$BASE" general
check_grep '"auth": "Basic Ym9iOnB3"' proxy.log
expect_code 2 "$RTCTL" connect --auth nopass "$PEER_WS/echo"
check_grep 'give USER:PASSWORD' err
expect_code 2 "$RTCTL" connect --auth a:b --token t "$PEER_WS/echo"
check_grep 'not with --token' err
ok "--auth sends Basic credentials; bad or doubled credentials are usage errors"

done_testing
