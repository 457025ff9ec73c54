#!/bin/sh
# rtctl load through `rtctl proxy --drop-every`: connections are cut again
# and again; subscribers reconnect with backoff and resume (since/epoch,
# Last-Event-ID), so the report shows the reconnects and no loss while
# the server holds the history, and shows the loss once it does not.
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

start_server --max-user-connections 0
SPORT=$PORT
start_proxy --drop-every 500ms
for tr in ws sse; do
    # --drain: the resumes of the last drops finish before the end
    EXPECT_TIMEOUT=90 expect_code 0 "$RTCTL" load "ws://127.0.0.1:$PPORT" \
        -c 50 -r 40/s -d 3s --drain 60s --transport $tr --room-prefix r$tr \
        --user load --report-json r.json -q
    python3 -m json.tool r.json >/dev/null || fail "$tr: r.json is not JSON"
    rc=$(jget r.json transports $tr reconnects)
    [ "$rc" -gt 0 ] || fail "$tr: no reconnects through the proxy"
    [ "$(jget r.json messages lost)" = 0 ] ||
        fail "$tr: lost $(jget r.json messages lost) with the history held"
    [ "$(jget r.json messages duplicated)" = 0 ] ||
        fail "$tr: $(jget r.json messages duplicated) duplicates"
    [ "$(jget r.json messages delivered)" = "$(jget r.json messages expected)" ] ||
        fail "$tr: delivered $(jget r.json messages delivered) of $(jget r.json messages expected)"
    check_grep "^  $tr +50 .* 0 +0 +[0-9]+ +$rc\$" out
    ok "$tr through drops: $rc reconnects, every message once"
done
stop_all_servers

# A server that keeps two messages cannot fill the gaps: the report says
# how many each transport lost and that resumes were not recovered.
start_server --max-user-connections 0 --history 2
SPORT=$PORT
start_proxy --drop-every 300ms --seed 7
EXPECT_TIMEOUT=90 expect_code 0 "$RTCTL" load "ws://127.0.0.1:$PPORT" \
    -c 50 -r 100/s -d 3s --drain 60s --transport ws:1,sse:1 --user load \
    --report-json r.json -q
lost=$(jget r.json messages lost)
[ "$lost" -gt 0 ] || fail "nothing lost with --history 2"
nr=$(($(jget r.json transports ws not_recovered) + $(jget r.json transports sse not_recovered)))
[ "$nr" -gt 0 ] || fail "no resume reported as not recovered"
check_grep "^  lost/dup/reorder \.: $lost / 0 / " out
ok "history too short: $lost lost, $nr resumes not recovered"

done_testing
