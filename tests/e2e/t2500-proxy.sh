#!/bin/sh
# rtctl proxy in front of rtctl serve: plain forwarding (HTTP and a
# WebSocket), --latency, --drop-every with --seed, --refuse-for,
# --stall-every (until the client gives up, and with --stall-for), a
# refused upstream, usage errors, and SIGTERM.  Timing checks are lower
# bounds that the injected delay guarantees, never upper bounds.
. "$(dirname "$0")/lib.sh"

start_server --sse-keepalive 10s
SPORT=$PORT
# start_proxy (lib.sh) puts the proxy in front of the server on SPORT.

# stop_proxy: SIGTERM; the proxy exits 0 within 5 s.
stop_proxy() {
    _sp_srv=$SERVER_PID
    SERVER_PID=$PROXY_PID
    stop_server
    _sp_rc=$?
    SERVER_PID=$_sp_srv
    [ "$_sp_rc" -eq 0 ] || {
        cat "$PROXY_ERR" >&2
        fail "rtctl proxy exited $_sp_rc on SIGTERM, expected 0"
    }
    [ "$SERVER_STOP_MS" -le 5000 ] ||
        fail "rtctl proxy took ${SERVER_STOP_MS}ms to exit after SIGTERM"
}

# time_ms URL: the milliseconds curl takes to GET URL.
time_ms() {
    curl -sS --max-time 20 -o /dev/null -w '%{time_total}\n' "$1" |
        awk '{ printf "%d\n", $1 * 1000 }'
}

# unbg PID: wait for a process started with bg; the trap forgets it.
unbg() {
    wait "$1"
    _ub_left=
    for _ub_p in $SERVER_PIDS; do
        [ "$_ub_p" = "$1" ] || _ub_left="$_ub_left $_ub_p"
    done
    SERVER_PIDS=$_ub_left
}

publish() {
    curl -sS --max-time 10 -o /dev/null \
        -d "{\"type\":\"text\",\"data\":{\"content\":\"$2\"}}" \
        "http://127.0.0.1:$SPORT/publish/$1"
}

# --- (1) plain forwarding

start_proxy
expect_code 0 curl -sS --max-time 10 "$PBASE/health"
check_grep '"status":"ok"' out
ok "/health through the proxy"

PORT=$PPORT
ok_py "a WebSocket through the proxy gets its welcome and an ack" <<'EOF'
async def main():
    ws = await join("p1", user="alice")
    await ws.send(text_msg("through the proxy", id="m-1"))
    await ws.expect({"type": "ack", "id": "m-1",
                     "data": {"status": "delivered", "seq": 1}},
                    skip=[{"type": "text"}, {"type": "presence"}])
    await ws.close()
EOF
PORT=$SPORT

# Listening where the proxy already listens.
expect_code 1 "$RTCTL" proxy --listen "127.0.0.1:$PPORT" --to 127.0.0.1:1
check_grep "cannot listen on 127.0.0.1:$PPORT: address already in use" err
ok "a listen address in use is exit 1 with the reason"
stop_proxy
ok "SIGTERM stops the proxy, exit 0"

# --- (2) --latency

start_proxy --latency 300ms
direct=$(time_ms "http://127.0.0.1:$SPORT/health")
proxied=$(time_ms "$PBASE/health")
[ $((proxied - direct)) -ge 250 ] ||
    fail "--latency 300ms: $proxied ms through the proxy, $direct ms direct"
stop_proxy
ok "--latency 300ms adds at least 250 ms ($proxied ms against $direct ms)"

start_proxy --latency 20+-15ms
expect_code 0 curl -sS --max-time 10 "$PBASE/health"
check_grep '"status":"ok"' out
stop_proxy
ok "--latency with jitter in plain milliseconds forwards"

# --- (3) --drop-every with --seed: the same seed cuts at the same time

for run in 1 2; do
    start_proxy --drop-every 500ms --seed 42
    # The cut is a close: curl ends, with or without an error, before
    # --max-time (exit 28).
    curl -sN --max-time 15 "$PBASE/events/drop" >out 2>err
    rc=$?
    [ "$rc" -ne 28 ] || fail "--drop-every 500ms: the stream was not cut"
    wait_until 10 "the drop is logged" \
        grep -q 'connection 1 from .*: dropped after [0-9]* ms (--drop-every)' \
        "$PROXY_ERR"
    grep -o 'dropped after [0-9]* ms' "$PROXY_ERR" >drop$run
    stop_proxy
done
cmp -s drop1 drop2 ||
    fail "--seed 42 chose $(cat drop1) then $(cat drop2)"
ok "--drop-every cuts an SSE stream (curl ends) and logs it; --seed repeats"

# --- (4) --refuse-for

# no_response URL: curl gets no HTTP response at all: an empty reply (52)
# or a reset (56), depending on whether its request was unread at close.
no_response() {
    curl -sS --max-time 10 -o body -w '%{http_code}\n' "$1" >out 2>err
    _nr_rc=$?
    case $_nr_rc in
    52 | 56) ;;
    *) cat out err >&2; fail "curl $1 exited $_nr_rc, expected 52 or 56" ;;
    esac
    check_file out 000
}

start_proxy --refuse-for 2s
no_response "$PBASE/health"
check_grep 'connection 1 refused \(--refuse-for' "$PROXY_ERR"
ok "--refuse-for: a connection at once is closed without a response"
health() {
    curl -sS --max-time 5 "$PBASE/health" 2>/dev/null | grep -q '"ok"'
}
wait_until 15 "/health through the proxy after --refuse-for 2s" health
stop_proxy
ok "--refuse-for: after the period the proxy forwards"

# --- (5) --stall-every

start_proxy --stall-every 300ms
bg curl -sN --max-time 20 -o sse1 "$PBASE/events/stall1"
curl1=$BG_PID
wait_until 10 "the stall is logged" grep -q 'stalled after' "$PROXY_ERR"
check_grep 'connection 1 from .*: stalled after [0-9]* ms, until a peer' \
    "$PROXY_ERR"
publish stall1 during-the-stall
# The stall holds the message back for good; the client gives up.
kill -TERM "$curl1"
unbg "$curl1" 2>/dev/null
! grep -q during-the-stall sse1 || fail "a message got through a stall"
wait_until 10 "the stalled connection is closed once the client is gone" \
    grep -q 'the client closed while stalled; closing' "$PROXY_ERR"
stop_proxy
ok "--stall-every: nothing passes a stalled connection until a peer closes"

start_proxy --stall-every 300ms --stall-for 500ms
bg curl -sN --max-time 25 -o sse2 "$PBASE/events/stall2"
curl2=$BG_PID
wait_until 10 "the SSE welcome through the proxy" grep -qs welcome sse2
publish stall2 after-the-stalls
wait_until 15 "the message arrives across the stalls" \
    grep -qs after-the-stalls sse2
wait_until 10 "a stall and its end are logged" \
    grep -q 'resumed after a stall' "$PROXY_ERR"
check_grep 'stalled after [0-9]* ms, for 500 ms \(--stall-every\)' "$PROXY_ERR"
kill -TERM "$curl2"
unbg "$curl2" 2>/dev/null
stop_proxy
ok "--stall-every --stall-for: the connection resumes and delivers"

# --- an upstream that refuses

"$RTCTL" proxy --listen 127.0.0.1:0 --to 127.0.0.1:1 >pout 2>perr &
PROXY_PID=$!
SERVER_PIDS="$SERVER_PIDS $PROXY_PID"
PROXY_ERR=$T/perr
wait_until 10 "the proxy listens" grep -q '^listening on' pout
PPORT=$(sed -n '1s/.*://p' pout)
no_response "http://127.0.0.1:$PPORT/health"
wait_until 10 "the connect failure is logged" \
    grep -q 'cannot connect to 127.0.0.1:1: connection refused' perr
stop_proxy
ok "a connection the upstream refuses is closed and logged"

# --- (6) usage errors

expect_code 2 "$RTCTL" proxy --listen 127.0.0.1:0
check_grep '--to is required' err
expect_code 2 "$RTCTL" proxy --listen 127.0.0.1:0 --to 127.0.0.1:1 \
    --drop-every soon
check_grep "--drop-every: 'soon' is not a duration" err
expect_code 2 "$RTCTL" proxy --listen 127.0.0.1:0 --to 127.0.0.1:1 \
    --latency 10ms+-
check_grep '--latency' err
expect_code 2 "$RTCTL" proxy --listen 127.0.0.1:0 --to 127.0.0.1:1 \
    --stall-every 0
check_grep '--stall-every: must be more than 0' err
expect_code 2 "$RTCTL" proxy --listen nowhere --to 127.0.0.1:1
check_grep "--listen: 'nowhere' is not HOST:PORT" err
expect_code 2 "$RTCTL" proxy --listen 127.0.0.1:0 --to 127.0.0.1:1 \
    --bandwidth fast
check_grep '--bandwidth' err
ok "usage errors exit 2 and name the option"

expect_clean_stop
done_testing
