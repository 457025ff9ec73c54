#!/bin/sh
# rtctl serve from a real browser (PROTOCOL.md sections 1, 3 and 6): headless
# Chromium loads tests/e2e/browser/page.html from another origin (a static
# server on another port), and the page uses EventSource, fetch (a POST with
# Content-Type: application/json, so after a CORS preflight) and WebSocket
# against the server.  The page hands back what it saw as JSON; the checks
# below read it field by field.  With an --allow-origin list that leaves the
# page's origin out, all three must fail in the browser, the upgrade refused
# by the server (403) and nothing published.
. "$(dirname "$0")/lib.sh"

CHROMIUM=${RT_CHROMIUM:-chromium}
BROWSER_DIR=$RT_SRCDIR/tests/e2e/browser

if ! command -v "$CHROMIUM" >/dev/null 2>&1; then
    echo "# skip: no chromium (tests/deps.sh installs it)"
    exit 77
fi

STATIC_PID=
CHROME_PID=
nbrowser=0

# chromium_running: a process of Chromium's group is alive (not a zombie:
# the orphaned children are reaped by init, a second or two later).
chromium_running() {
    ps -eo pgid=,stat= |
        awk -v g="$CHROME_PID" '$1 == g && $2 !~ /^Z/ { n++ } END { exit !n }'
}

# stop_chromium: Chromium runs under `timeout`, which leads a process group
# of its own and passes SIGTERM on to the whole group (browser, zygotes,
# renderers).  Wait for the group to be gone (3 s at most), else SIGKILL
# what is left.  (dash's kill takes a group as -PGID, and no `--`.)
stop_chromium() {
    [ -n "$CHROME_PID" ] || return 0
    kill -TERM "$CHROME_PID" 2>/dev/null
    wait "$CHROME_PID" 2>/dev/null
    _sc_end=$(($(now_ms) + 3000))
    while chromium_running; do
        if [ "$(now_ms)" -ge "$_sc_end" ]; then
            kill -KILL "-$CHROME_PID" 2>/dev/null
            break
        fi
        sleep 0.05
    done
    CHROME_PID=
}

stop_static() {
    [ -n "$STATIC_PID" ] || return 0
    kill -TERM "$STATIC_PID" 2>/dev/null
    wait "$STATIC_PID" 2>/dev/null
    STATIC_PID=
}

# lib.sh's own EXIT trap is `cleanup` (servers, scratch directory); the
# browser and the static server go first, as they use the scratch directory.
browser_cleanup() {
    stop_chromium
    stop_static
    cleanup
}
trap browser_cleanup EXIT

# --- the page's origin: browser/static.py on a port of its own, which
# prints the port as its first line once it listens.
mkdir "$T/results" || fail "mkdir $T/results"
timeout 100 "$RT_PY" "$BROWSER_DIR/static.py" "$T/results" \
    >"$T/static.out" 2>"$T/static.err" &
STATIC_PID=$!
static_ready() {
    kill -0 "$STATIC_PID" 2>/dev/null ||
        { cat "$T/static.err" >&2; fail "browser/static.py exited"; }
    [ "$(wc -l <"$T/static.out")" -ge 1 ]
}
wait_until 10 "browser/static.py printing its port" static_ready
PAGE_PORT=$(head -n 1 "$T/static.out")
case $PAGE_PORT in
'' | *[!0-9]*) fail "browser/static.py printed '$PAGE_PORT', not a port" ;;
esac
PAGE_ORIGIN=http://127.0.0.1:$PAGE_PORT

# browse NAME EXPECT: load the page in a new headless Chromium (new empty
# profile) against the current server; wait (15 s at most) for the page to
# hand back its result, $T/results/NAME.json; stop Chromium.
browse() {
    nbrowser=$((nbrowser + 1))
    _br_name=$1
    CHROME_ERR=$T/chromium$nbrowser.err
    mkdir "$T/profile$nbrowser" || fail "mkdir $T/profile$nbrowser"
    timeout -k 3 40 "$CHROMIUM" --headless --no-sandbox --disable-gpu \
        --disable-quic --no-first-run --disable-background-networking \
        --disable-component-update --disable-sync \
        --user-data-dir="$T/profile$nbrowser" --enable-logging=stderr \
        "$PAGE_ORIGIN/page.html?port=$PORT&expect=$2&name=$_br_name&timeout=8000" \
        >/dev/null 2>"$CHROME_ERR" &
    CHROME_PID=$!
    _br_end=$(($(now_ms) + 15000))
    until [ -f "$T/results/$_br_name.json" ]; do
        if ! kill -0 "$CHROME_PID" 2>/dev/null; then
            tail -n 20 "$CHROME_ERR" >&2
            fail "chromium exited before the page ($2) handed back its result"
        fi
        if [ "$(now_ms)" -ge "$_br_end" ]; then
            printf '%s\n' "--- chromium (console)" >&2
            grep CONSOLE "$CHROME_ERR" >&2
            cat "$T/static.err" >&2
            fail "the page ($2) handed back no result within 15s"
        fi
        sleep 0.05
    done
    stop_chromium
    RESULT=$T/results/$_br_name.json
}

# check_page_open WHAT: the checks of a page that the server let in.
check_page_open() {
    ok_py "$1: the page, from $PAGE_ORIGIN, finished" "$RESULT" "$PAGE_ORIGIN" <<'EOF'
async def main():
    r = json.load(open(ARGS[0]))
    check(r["origin"] == ARGS[1] and r["origin"] != BASE,
          f"page origin {r['origin']!r}, server {BASE}")
    check(r["done"] == "complete", f"the page stopped with {r['done']!r}: "
          f"{show(r, 4000)}")
EOF
    ok_py "$1: fetch: the preflighted POST /publish is answered 202 {\"seq\":1}" "$RESULT" <<'EOF'
async def main():
    f = json.load(open(ARGS[0]))["fetch"]
    check(f["error"] is None, f"fetch failed: {f['error']}")
    check(f["status"] == 202, f"status {f['status']}, expected 202: {show(f)}")
    check(json.loads(f["body"]) == {"seq": 1}, f"body {f['body']!r}")
EOF
    ok_py "$1: EventSource: the welcome (id EPOCH-0), then both text events in seq order" "$RESULT" <<'EOF'
async def main():
    r = json.load(open(ARGS[0]))
    s = r["sse"]
    check(s["errors"] == 0, f"EventSource errors: {show(s)}")
    w = s["welcome"]
    check(match(w, {"type": "system", "room": "browser", "data": {
        "event": "welcome", "user": "web-sse", "epoch": EPOCH_RE, "seq": 0,
        "online": list, "ping_interval": int}}), f"welcome {show(w)}")
    epoch = w["data"]["epoch"]
    check(s["welcome_id"] == f"{epoch}-0",
          f"welcome lastEventId {s['welcome_id']!r}, expected {epoch}-0")
    t = s["texts"]
    check([e["id"] for e in t] == [f"{epoch}-1", f"{epoch}-2"],
          f"text events {show(t)}, expected ids {epoch}-1, {epoch}-2")
    check(match(t[0]["event"], {
        "type": "text", "room": "browser", "seq": 1, "timestamp": is_time,
        "data": {"content": "hello from fetch"}}),
          f"first text event (the fetch) {show(t[0])}")
    check(match(t[1]["event"], {
        "type": "text", "room": "browser", "seq": 2, "timestamp": is_time,
        "data": {"content": "hello from ws", "author": "web"}}),
          f"second text event (the WebSocket) {show(t[1])}")
    # The SSE event is the WebSocket broadcast (the client id aside).
    got, want = dict(t[1]["event"]), dict(r["ws"]["broadcast"] or {})
    got.pop("id", None)
    want.pop("id", None)
    check(got == want, f"SSE data {show(got)} differs from the WebSocket "
          f"broadcast {show(want)}")
EOF
    ok_py "$1: WebSocket: welcome, then the broadcast and the ack of id w1 (delivered, seq 2)" "$RESULT" <<'EOF'
async def main():
    ws = json.load(open(ARGS[0]))["ws"]
    check(ws["opened"] and ws["errors"] == 0 and ws["close"] is None,
          f"WebSocket opened {ws['opened']}, errors {ws['errors']}, "
          f"close {ws['close']}")
    fr = ws["frames"]
    check(fr and match(fr[0], {"type": "system", "room": "browser", "data": {
        "event": "welcome", "user": "web", "epoch": EPOCH_RE, "seq": 1,
        "online": list}}), f"first frame {show(fr[:1])}, expected the "
          "welcome at seq 1 (the fetch's message)")
    check(ws["ack"] == {"type": "ack", "id": "w1",
                        "data": {"status": "delivered", "seq": 2}},
          f"ack {show(ws['ack'])}")
    check(match(ws["broadcast"], {
        "type": "text", "id": "w1", "room": "browser", "seq": 2,
        "timestamp": is_time,
        "data": {"content": "hello from ws", "author": "web"}}),
          f"broadcast {show(ws['broadcast'])}")
    kinds = [f["type"] for f in fr]
    check(kinds.count("ack") == 1 and kinds.count("text") == 1
          and "error" not in kinds, f"frames {show(fr, 2000)}")
EOF
}

# --- 1: the default, Access-Control-Allow-Origin *

start_server
browse open open
check_page_open "default origins (*)"
expect_clean_stop

# --- 2: an explicit list that names the page's origin (and another one)

start_server --allow-origin "http://127.0.0.1:1,$PAGE_ORIGIN"
browse listed open
check_page_open "--allow-origin naming the page's origin"
expect_clean_stop

# --- 3: an explicit list without the page's origin

start_server --allow-origin http://127.0.0.1:1
browse blocked blocked

ok_py "origin not allowed: the page finished" "$RESULT" <<'EOF'
async def main():
    r = json.load(open(ARGS[0]))
    check(r["done"] == "complete", f"the page stopped with {r['done']!r}: "
          f"{show(r, 4000)}")
EOF

ok_py "origin not allowed: fetch fails (CORS) and nothing is published" "$RESULT" <<'EOF'
async def main():
    f = json.load(open(ARGS[0]))["fetch"]
    check(f["status"] is None and f["body"] is None,
          f"the POST was answered to the page: {show(f)}")
    check(f["error"] and f["error"].startswith("TypeError"),
          f"fetch error {f['error']!r}, expected a TypeError")
    # The preflight got no Access-Control-Allow-Origin: the POST never left.
    p = await http_json("GET", "/poll/browser?since=0&timeout=0")
    check(p["messages"] == [], f"the room holds {show(p)}")
    m = await metrics()
    check(m.sum(r"^rtctl_published_http_total$") == 0,
          f"rtctl_published_http_total {m.find('rtctl_published_http')}")
EOF

ok_py "origin not allowed: EventSource fails and is closed" "$RESULT" <<'EOF'
async def main():
    s = json.load(open(ARGS[0]))["sse"]
    check(s["welcome"] is None and s["texts"] == [],
          f"the page read the stream: {show(s)}")
    check(s["errors"] >= 1 and s["ready_state"] == 2,
          f"EventSource errors {s['errors']}, readyState {s['ready_state']}, "
          "expected an error and CLOSED (2)")
EOF

ok_py "origin not allowed: the WebSocket never opens; the server refused the upgrade (403)" "$RESULT" "$PAGE_ORIGIN" <<'EOF'
async def main():
    ws = json.load(open(ARGS[0]))["ws"]
    check(not ws["opened"] and ws["frames"] == [],
          f"the WebSocket opened: {show(ws)}")
    check(ws["errors"] >= 1 and ws["close"] is not None
          and ws["close"]["code"] == 1006 and not ws["close"]["clean"],
          f"WebSocket errors {ws['errors']}, close {ws['close']}, "
          "expected onerror then an unclean close 1006")
    # The browser hides why; the server counts the 403s it answered: the
    # EventSource's request and the upgrade (the fetch died at preflight).
    m = await metrics()
    n = m.sum(r"^rtctl_errors_sent_total$", code="forbidden")
    check(n == 2, f"rtctl_errors_sent_total{{code=\"forbidden\"}} is {n:g}, "
          "expected 2 (the refused EventSource and upgrade)")
    st = await ws_refused("/ws/browser?user=web", origin=ARGS[1])
    check(st == 403, f"an upgrade from {ARGS[1]}: status {st}, expected 403")
EOF
expect_clean_stop

stop_static
done_testing
