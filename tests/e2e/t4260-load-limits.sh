#!/bin/sh
# rtctl load at the machine's limits: with a hard descriptor limit too
# small it says so (the limit, the remedy) and reports how many could not
# open; with only the soft limit small it raises it and opens them all;
# --source spreads the connections over several loopback addresses, so a
# server that caps connections per address takes them all.
. "$(dirname "$0")/lib.sh"

jget() {
    python3 - "$@" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2:]:
    v = v[k]
print(json.dumps(v))
PY
}

start_server --max-user-connections 0 --max-address-connections 25

# 64 descriptors, soft and hard: 200 subscribers cannot all open
EXPECT_TIMEOUT=60 expect_code 0 sh -c "ulimit -n 64 && exec '$RTCTL' load \
    '$WSBASE' -c 200 -r 0 -d 1s --user load --source 127.0.0.1-127.0.0.9 \
    --report-json r.json"
check_grep 'out of file descriptors for 201 connections \(limit 64, hard limit 64\): raise it with .ulimit -n.' err
check_grep '^  WARNING: [0-9]+ connections could not open: out of file descriptors$' out
[ "$(jget r.json errors fd_exhausted)" -gt 0 ] || fail "fd_exhausted is 0"
ok "a hard limit of 64 descriptors is named, with the remedy"

if [ "$(ulimit -Hn)" = unlimited ] || [ "$(ulimit -Hn)" -ge 400 ]; then
    EXPECT_TIMEOUT=60 expect_code 0 sh -c "ulimit -Sn 64 && exec '$RTCTL' \
        load '$WSBASE' -c 200 -r 0 -d 1s --user load \
        --source 127.0.0.1-127.0.0.9 -q"
    check_grep '^  connections \.+: 200 opened, 0 failed' out
    ok "a soft limit of 64 is raised to the hard one: 200 open"
fi

# the server takes 25 connections per address: 60 from one address fail
EXPECT_TIMEOUT=60 expect_code 0 "$RTCTL" load "$WSBASE" -c 60 -r 10/s \
    -d 1s --user load -q
if grep -Eq '^  connections \.+: 60 opened, 0 failed' out; then
    fail "the server took 61 connections from one address"
fi
EXPECT_TIMEOUT=60 expect_code 0 "$RTCTL" load "$WSBASE" -c 60 -r 10/s \
    -d 1s --user load --source 127.0.0.1-127.0.0.2 --source 127.0.0.3 -q \
    --threshold lost==0 --threshold errors==0
check_grep '^  connections \.+: 60 opened, 0 failed' out
ok "--source over 3 addresses: 61 connections where one address takes 25"

expect_code 2 "$RTCTL" load "$WSBASE" --source 127.0.0.9-127.0.0.1
check_grep 'source 127.0.0.9-127.0.0.1: a range of 1 to' err
expect_code 2 "$RTCTL" load "$WSBASE" --source 192.0.2.1
check_grep 'source 192.0.2.1: cannot use 192.0.2.1' err
expect_code 2 "$RTCTL" load "$WSBASE" --source nowhere
check_grep 'source nowhere: not an address' err
ok "bad --source values are usage errors"

done_testing
