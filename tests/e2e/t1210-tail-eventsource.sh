#!/bin/sh
# rtctl tail against a foreign SSE server (Node), compared event by event
# with the npm `eventsource` package reading the same stream: the same
# events (types, ids, data, CRLF line ends, comments, multi-line data;
# eventsource 2 gets lone CRs and mixed line ends wrong, so the stream
# stays clear of them: tests/data/sse holds those cases), the same Last-Event-ID on each reconnection, and a reconnection
# never sooner than the server's retry: asked (the retry is a floor: the
# jitter goes above it), both as the server saw it and as rtctl reported
# the delay it chose.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/peers.sh"
need_npm

{
    printf 'retry: 1500\n\n'
    printf ': a comment\ndata: first\n\n'
    printf 'event: greet\ndata: line1\ndata: line2\nid: 1\n\n'
    printf 'data:no space\ndata:\nid: 2\n\n'
    printf '::cut\n'
    printf 'retry: 700\nevent: update\ndata: after reconnect\nid: 3\n\n'
    printf 'data: unnamed, the id kept\n\n'
    printf '::cut\n'
    printf 'id: 4\r\ndata: {"json": true}\r\n\r\n'
    printf '::cut\n'
} >stream.sse

start_peer_node peer_sse.js req.log stream.sse
URL=http://127.0.0.1:$PEER_PORT/stream

timeout 60 node "$RT_DRIVERS/es_client.js" "$URL?c=es" >es.out 2>es.err &
es_pid=$!
SERVER_PIDS="$SERVER_PIDS $es_pid"
EXPECT_TIMEOUT=60 expect_code 0 "$RTCTL" tail --json "$URL?c=rtctl"
mv out rtctl.out
mv err rtctl.err
wait "$es_pid" || { cat es.err >&2; fail "es_client.js exited $?"; }

if ! cmp -s rtctl.out es.out; then
    diff es.out rtctl.out >&2
    fail "rtctl tail and eventsource dispatched different events"
fi
[ "$(wc -l <es.out)" -eq 6 ] || { cat es.out >&2; fail "not 6 events"; }
ok "the same 6 events as eventsource, in the same order"

"$RT_PY" - req.log rtctl.err <<'PY' || fail "reconnections"
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
retry = [None, 1500, 700, 700]
ids = {}
for c in ("es", "rtctl"):
    mine = [r for r in reqs if r["client"] == c]
    ids[c] = [r["last_event_id"] for r in mine]
    if len(mine) != 4:
        sys.exit("FAIL: %s made %d requests, not 4" % (c, len(mine)))
    for i in range(1, 4):
        gap = mine[i]["at"] - mine[i]["prev_end"]
        if gap < retry[i]:
            sys.exit("FAIL: %s reconnected %d ms after the end, retry: "
                     "asked %d" % (c, gap, retry[i]))
if ids["es"] != ids["rtctl"] or ids["es"] != [None, "2", "3", "4"]:
    sys.exit("FAIL: Last-Event-ID: eventsource %r, rtctl %r"
             % (ids["es"], ids["rtctl"]))
delays = [json.loads(l)["delay_ms"] for l in open(sys.argv[2])
          if l.startswith("{") and '"backoff"' in l]
if len(delays) != 3 or any(d < r for d, r in zip(delays, retry[1:])):
    sys.exit("FAIL: rtctl's delays %r, retry: asked %r"
             % (delays, retry[1:]))
PY
ok "Last-Event-ID as eventsource sends it; no reconnection before retry:"

# Plain output: an event without type or id is prefixed too, so that it
# does not read as one more line of the multi-line event before it.
printf 'event: greet\ndata: line1\ndata: line2\n\ndata: next\n\n' >two.sse
expect_code 0 "$RTCTL" tail --file two.sse
check_file out '[greet] line1
line2
[message] next'
ok "plain output: every event starts with [TYPE ID]"

done_testing
