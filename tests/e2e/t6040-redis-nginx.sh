#!/bin/sh
# rtctl serve --redis behind a real load balancer, as README.md's "Running
# a cluster" deploys it: two instances, one Redis, nginx round robin with
# WebSocket upgrades and unbuffered SSE (the README's own configuration).
# `rtctl tail`, `rtctl poll` and `rtctl chat` follow one room through
# nginx; the instance that holds the SSE stream is killed halfway; every
# client still ends with m1..m10, seq 1..10 once each, in order.
. "$(dirname "$0")/lib.sh"

start_redis
start_server --redis "$REDIS_URL"
A=$PORT
APID=$SERVER_PID
start_server --redis "$REDIS_URL"
B=$PORT
BPID=$SERVER_PID
healthy() {
    curl -fsS "http://127.0.0.1:$1/health" >/dev/null 2>&1
}
wait_until 20 "A up" healthy "$A"
wait_until 20 "B up" healthy "$B"
start_nginx_cluster "$A" "$B"
NB=$NGINX_BASE

bg timeout "$(scaled 80)" "$RTCTL" tail --json --event text --count 10 \
    --timeout 70s --url "$NB" general >tail.out 2>tail.err
TAIL=$BG_PID
bg timeout "$(scaled 80)" "$RTCTL" poll --json --count 10 --timeout 70s \
    --wait 1s --url "$NB" general >poll.out 2>poll.err
POLL=$BG_PID
bg timeout "$(scaled 80)" "$RTCTL" chat --json --count 10 --timeout 70s \
    --user bob --url "$NB" general </dev/null >bob.out 2>bob.err
BOB=$BG_PID

# conns TRANSPORT PORT: open connections of that transport on an instance.
conns() {
    curl -fsS "http://127.0.0.1:$2/metrics" 2>/dev/null |
        sed -n "s/^rtctl_connections{transport=\"$1\"} //p"
}
subscribed() {
    [ $(($(conns sse "$A") + $(conns sse "$B"))) -ge 1 ] &&
        [ $(($(conns ws "$A") + $(conns ws "$B"))) -ge 1 ] &&
        grep -q '"state":"open"' poll.err
}
wait_until 30 "tail, poll and chat connected through nginx" subscribed

printf 'm1\nm2\nm3\nm4\nm5\n' >first
expect_code 0 "$RTCTL" chat --user alice --url "$NB" general <first
ok "chat through nginx: five messages acknowledged"

# Kill the instance that holds the SSE stream (no goodbye).
if [ "$(conns sse "$A")" -ge 1 ]; then
    victim=$APID
    SERVER_PID=$BPID
else
    victim=$BPID
    SERVER_PID=$APID
fi
kill -KILL "$victim"

printf 'm6\nm7\nm8\nm9\nm10\n' >second
EXPECT_TIMEOUT=40 expect_code 0 "$RTCTL" chat --user alice --url "$NB" \
    general <second
ok "one instance killed: chat through nginx goes on"

for c in TAIL POLL BOB; do
    eval "pid=\$$c"
    reap "$pid"
    [ "$RC" -eq 0 ] || {
        cat tail.err poll.err bob.err >&2
        fail "$c exited $RC"
    }
done

# check_seqs FILE: the text messages in FILE are m1..m10 with seq 1..10,
# each once, in order.
check_seqs() {
    "$RT_PY" - "$1" <<'PY' || fail "$1: not m1..m10 exactly once, in order"
import json, sys
seqs = []
for line in open(sys.argv[1], encoding="utf-8"):
    o = json.loads(line)
    # tail prints SSE events: the message is in "data".
    m = o.get("data") if o.get("event") == "text" else o
    if isinstance(m, str):
        m = json.loads(m)
    if not isinstance(m, dict) or m.get("type") != "text":
        continue
    assert m["data"]["content"] == "m%d" % m["seq"], line
    seqs.append(m["seq"])
if seqs != list(range(1, 11)):
    sys.exit("FAIL: seqs %s" % seqs)
PY
}

check_seqs tail.out
check_seqs poll.out
check_seqs bob.out
ok "tail (SSE), poll and chat (WebSocket) each got m1..m10 once, in order"

expect_clean_stop
ok "the surviving instance stops cleanly"
done_testing
