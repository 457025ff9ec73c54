#!/bin/sh
# tests/bench/loadgen.sh: `rtctl load` against other load generators, and
# `rtctl serve` against other servers, measured in one run on loopback.
#
# A. Generator CPU per delivered message.  The same workload (SUBS
#    WebSocket subscribers in one room, one publisher at RATE msg/s) against
#    a fresh `rtctl serve`, driven by: rtctl load; a minimal Node `ws`
#    generator (peers/node-ws-load.js); Artillery with its WebSocket engine
#    (subscribers as virtual users; the publisher is a one-connection
#    rtctl load, whose own share is left out).  Once every subscriber is
#    in and messages flow, the generator's CPU (its whole process tree,
#    /proc) and the server's delivered counter (/metrics) are sampled
#    WINDOW seconds apart: start-up and connecting are not counted.  A
#    delivery counts once the generator has read it: the server's count is
#    scaled by the share of the bytes sent to the generator that it read
#    (/proc/PID/io rchar against /metrics rtctl_bytes_sent_total), since
#    one that falls behind leaves messages in its socket buffers.
# B. Server CPU per delivered message.  The same workload driven by
#    rtctl load against rtctl serve, a Node `ws` server and a Bun server
#    (peers/*-server.js); the server's CPU over the whole rtctl load run,
#    divided by the deliveries rtctl load counted.
# C. Idle memory per connection.  IDLE connections held without messages:
#    the RSS each adds to rtctl load (its report), to the Node generator
#    (process.memoryUsage) and to Artillery (its process tree, before and
#    after the connections).
#
# It prints a table of the figures and of the ratios to rtctl's, and
# never fails on a figure: the exit status is 1 only when rtctl serve
# cannot start.  Every run is bounded (a timeout of 60 s each).  The npm
# peers (ws, bun, artillery) are installed into PEERS, under the build
# tree, never into the repository; one that cannot be installed is
# skipped with a message.
#
# Environment (defaults in brackets):
#   BUILD   build directory [build]       RTCTL  rtctl binary [$BUILD/rtctl]
#   PEERS   npm scratch folder [$BUILD/bench-peers]
#   SUBS    subscribers [200]             RATE   messages per second [200]
#   WINDOW  measured seconds [8]          IDLE   idle connections [2000;
#                                          0 skips C]
#   GENS    generators ["rtctl node artillery"]
#   SERVERS servers ["rtctl node bun"]
# shellcheck disable=SC3045
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$top/$BUILD ;; esac
RTCTL=${RTCTL:-$BUILD/rtctl}
PEERS=${PEERS:-$BUILD/bench-peers}
SUBS=${SUBS:-200}
RATE=${RATE:-200}
WINDOW=${WINDOW:-8}
IDLE=${IDLE:-2000}
GENS=${GENS-rtctl node artillery}
SERVERS=${SERVERS-rtctl node bun}
HZ=$(getconf CLK_TCK)
export ARTILLERY_DISABLE_TELEMETRY=true

say() { printf 'loadgen: %s\n' "$*" >&2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/rtctl-loadgen.XXXXXX") || exit 1
pids=
cleanup() {
    for p in $pids; do
        kill -KILL "$p" 2>/dev/null
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

[ "$(ulimit -Sn)" != unlimited ] && [ "$(ulimit -Sn)" -lt $((IDLE + 500)) ] &&
    ulimit -Sn "$(ulimit -Hn)" 2>/dev/null

# --- the npm peers
mkdir -p "$PEERS" || exit 1
[ -f "$PEERS/package.json" ] ||
    printf '{"name":"rtctl-bench-peers","private":true}\n' >"$PEERS/package.json"
# npm_install [NPM-ARGS] PKG...: into PEERS, bounded
npm_install() {
    say "installing from npm into $PEERS: $*"
    (cd "$PEERS" && timeout 600 npm install --no-audit --no-fund \
        --loglevel=error "$@") >"$work/npm.log" 2>&1 ||
        head -n 5 "$work/npm.log" >&2
}
if command -v npm >/dev/null 2>&1; then
    [ -f "$PEERS/node_modules/ws/package.json" ] || npm_install ws@8
    [ -x "$PEERS/node_modules/.bin/bun" ] || npm_install bun@1
    # Artillery's Playwright engine would download a browser: not needed
    # for WebSockets, and no network but the registry may be at hand
    [ -x "$PEERS/node_modules/.bin/artillery" ] ||
        PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm_install --ignore-scripts \
            artillery@2
fi
NODE_PATH=$PEERS/node_modules
export NODE_PATH
have() {
    case $1 in
    rtctl) [ -x "$RTCTL" ] ;;
    node) command -v node >/dev/null && [ -f "$NODE_PATH/ws/package.json" ] ;;
    bun) "$NODE_PATH/.bin/bun" --version >/dev/null 2>&1 ;;
    artillery) [ -x "$NODE_PATH/.bin/artillery" ] ;;
    esac
}

# --- /proc helpers over a process and its descendants
tree() {
    echo "$1"
    for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do
        tree "$c"
    done
}
cpu_ticks() {
    t=0
    for p in $(tree "$1"); do
        v=$(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null) || continue
        t=$((t + ${v:-0}))
    done
    echo $t
}
# bytes the process tree read (read(2), recv(2) ...): what a generator
# really took off its sockets, whatever it reports
read_b() {
    t=0
    for p in $(tree "$1"); do
        v=$(awk '/^rchar:/ { print $2 }' "/proc/$p/io" 2>/dev/null)
        t=$((t + ${v:-0}))
    done
    echo $t
}
rss_kb() {
    t=0
    for p in $(tree "$1"); do
        v=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
        t=$((t + ${v:-0}))
    done
    echo $t
}

# --- servers: start NAME; sets srv_pid and srv_port
start_server() {
    : >"$work/srv.out"
    case $1 in
    rtctl)
        "$RTCTL" serve --port 0 --max-user-connections 0 \
            --max-address-connections 0 --max-room-connections 0 \
            --log-level error >"$work/srv.out" 2>"$work/srv.err" &
        ;;
    node) node "$here/peers/node-ws-server.js" 0 >"$work/srv.out" 2>"$work/srv.err" & ;;
    bun) "$NODE_PATH/.bin/bun" "$here/peers/bun-server.js" 0 >"$work/srv.out" 2>"$work/srv.err" & ;;
    esac
    srv_pid=$!
    pids="$pids $srv_pid"
    i=0
    while ! grep -q '^listening on ' "$work/srv.out"; do
        i=$((i + 1))
        if [ $i -gt 150 ] || ! kill -0 "$srv_pid" 2>/dev/null; then
            say "$1 server did not start: $(head -c 300 "$work/srv.err")"
            return 1
        fi
        sleep 0.1
    done
    srv_port=$(sed -n 's/^listening on http:\/\/[^:]*:\([0-9]*\).*/\1/p' "$work/srv.out")
}
stop() {
    for p in "$@"; do
        kill -TERM "$p" 2>/dev/null
    done
    for p in "$@"; do
        i=0
        while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do
            sleep 0.1
            i=$((i + 1))
        done
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
}
metric() {
    curl -s --max-time 5 "http://127.0.0.1:$srv_port/metrics" |
        sed -n "s/^$1 //p"
}
# wait_conns N: the server holds N WebSockets (30 s at most)
wait_conns() {
    i=0
    while [ "$(metric 'rtctl_connections{transport="ws"}')" -lt "$1" ]; do
        i=$((i + 1))
        [ $i -gt 150 ] && return 1
        sleep 0.2
    done
}

results=$work/results
: >"$results"
put() { echo "$*" >>"$results"; }
get() { sed -n "s/^$1 //p" "$results" | tail -n 1; }

# --- A. generators
gen_run() {
    g=$1
    start_server rtctl || exit 1
    url=ws://127.0.0.1:$srv_port
    dur=$((WINDOW + 6))
    case $g in
    rtctl)
        timeout 60 "$RTCTL" load "$url" -c "$SUBS" -r "$RATE/s" -d "${dur}s" \
            --room-prefix bench -q >"$work/gen.out" 2>&1 &
        gpid=$!
        share="$SUBS/($SUBS+2)" # subscribers' share: publisher echo, ack
        conn_share=1            # every connection is the generator's
        ;;
    node)
        timeout 60 node "$here/peers/node-ws-load.js" "$url" bench-1 \
            "$SUBS" "$RATE" "$dur" >"$work/gen.out" 2>&1 &
        gpid=$!
        share="$SUBS/($SUBS+2)"
        conn_share=1
        ;;
    artillery)
        cat >"$work/art.yml" <<EOF
config:
  target: "$url/ws/bench-1"
  phases:
    - duration: 2
      arrivalCount: $SUBS
scenarios:
  - engine: ws
    flow:
      - think: $((dur + 4))
EOF
        (cd "$work" && exec timeout 60 "$NODE_PATH/.bin/artillery" run \
            --quiet art.yml) >"$work/gen.out" 2>&1 &
        gpid=$!
        share="$SUBS/($SUBS+3)" # + the publisher's subscriber
        conn_share=$(awk -v n="$SUBS" 'BEGIN { print n / (n + 1) }')
        ;;
    esac
    pids="$pids $gpid"
    if [ "$g" = artillery ]; then
        if ! wait_conns "$SUBS"; then
            say "artillery: the subscribers did not connect"
            stop "$gpid" "$srv_pid"
            return
        fi
        timeout 60 "$RTCTL" load "$url" -c 1 -r "$RATE/s" -d "${dur}s" \
            --room-prefix bench -q >"$work/pub.out" 2>&1 &
        ppid=$!
        pids="$pids $ppid"
    fi
    if ! wait_conns $((SUBS + 1)); then
        say "$g: the connections did not open"
        stop "$gpid" "$srv_pid"
        return
    fi
    sleep 2
    c0=$(cpu_ticks "$gpid")
    b0=$(read_b "$gpid")
    d0=$(metric 'rtctl_messages_delivered_total{transport="ws"}')
    s0=$(metric rtctl_bytes_sent_total)
    sleep "$WINDOW"
    c1=$(cpu_ticks "$gpid")
    b1=$(read_b "$gpid")
    d1=$(metric 'rtctl_messages_delivered_total{transport="ws"}')
    s1=$(metric rtctl_bytes_sent_total)
    stop "$gpid" ${ppid:-} "$srv_pid"
    ppid=
    # A delivery counts once the generator has read it: a generator that
    # falls behind leaves the server's deliveries in its socket buffers,
    # and its CPU per delivery would look cheaper than it is.  So the
    # server's count is scaled by the share of the bytes the server sent
    # to the generator's connections that the generator read (at most 1).
    awk -v c=$((c1 - c0)) -v d=$((d1 - d0)) -v hz="$HZ" -v w="$WINDOW" \
        -v b=$((b1 - b0)) -v sb=$((s1 - s0)) -v cs="$conn_share" \
        -v g="$g" "BEGIN { f = sb > 0 ? b / (sb * cs) : 1; if (f > 1) f = 1;
        d = d * $share * f; if (d <= 0) exit;
        printf \"gen_us %s %.3f\\ngen_rate %s %.0f\\ngen_cpu %s %.0f\\n\",
            g, c / hz * 1e6 / d, g, d / w, g, c / hz * 100 / w;
        printf \"gen_read %s %.0f\\n\", g, f * 100 }" >>"$results"
}

# --- B. servers
srv_run() {
    s=$1
    start_server "$s" || return
    c0=$(cpu_ticks "$srv_pid")
    timeout 60 "$RTCTL" load "ws://127.0.0.1:$srv_port" -c "$SUBS" \
        -r "$RATE/s" -d "${WINDOW}s" --room-prefix bench -q \
        --report-json "$work/r.json" >"$work/load.out" 2>&1
    c1=$(cpu_ticks "$srv_pid")
    stop "$srv_pid"
    d=$(python3 -c "import json; print(json.load(open('$work/r.json'))['messages']['delivered'])" 2>/dev/null)
    lost=$(python3 -c "import json; print(json.load(open('$work/r.json'))['messages']['lost'])" 2>/dev/null)
    [ -n "$d" ] && [ "$d" -gt 0 ] || {
        say "$s: rtctl load delivered nothing: $(tail -n 3 "$work/load.out")"
        return
    }
    awk -v c=$((c1 - c0)) -v d="$d" -v hz="$HZ" -v s="$s" -v l="$lost" \
        'BEGIN { printf "srv_us %s %.3f\nsrv_lost %s %s\n", s, c / hz * 1e6 / d, s, l }' \
        >>"$results"
}

# --- C. idle connections
idle_run() {
    g=$1
    start_server rtctl || exit 1
    url=ws://127.0.0.1:$srv_port
    case $g in
    rtctl)
        timeout 60 "$RTCTL" load "$url" -c "$IDLE" -r 0 -d 2s --user idle \
            --room-prefix idle -q --report-json "$work/i.json" >/dev/null 2>&1
        v=$(python3 -c "import json; print(json.load(open('$work/i.json'))['generator']['rss_per_idle_connection_b'])" 2>/dev/null)
        ;;
    node)
        v=$(timeout 60 node "$here/peers/node-ws-load.js" "$url" idle-1 \
            "$IDLE" 0 2 | python3 -c "
import json, sys
for l in sys.stdin:
    if l.startswith('{'):
        j = json.loads(l); print((j['rss_idle'] - j['rss_before']) / $IDLE)")
        ;;
    artillery)
        cat >"$work/idle.yml" <<EOF
config:
  target: "$url/ws/idle-1"
  phases:
    - pause: 4
    - duration: 3
      arrivalCount: $IDLE
scenarios:
  - engine: ws
    flow:
      - think: 20
EOF
        (cd "$work" && exec timeout 60 "$NODE_PATH/.bin/artillery" run \
            --quiet idle.yml) >"$work/idle.out" 2>&1 &
        apid=$!
        pids="$pids $apid"
        sleep 3
        r0=$(rss_kb "$apid")
        v=
        if wait_conns "$IDLE"; then
            sleep 2
            r1=$(rss_kb "$apid")
            v=$(((r1 - r0) * 1024 / IDLE))
        fi
        stop "$apid"
        ;;
    esac
    stop "$srv_pid"
    [ -n "${v:-}" ] && put "idle_b $g $(awk -v v="$v" 'BEGIN { printf "%.0f", v }')"
}

for g in $GENS; do
    if have "$g"; then
        say "A: $g drives rtctl serve ($SUBS subscribers, $RATE msg/s)"
        gen_run "$g"
    else
        say "A: $g is not available: skipped"
    fi
done
for s in $SERVERS; do
    if have "$s"; then
        say "B: rtctl load drives the $s server"
        srv_run "$s"
    else
        say "B: the $s server is not available: skipped"
    fi
done
[ "$IDLE" -gt 0 ] || GENS_IDLE=
for g in ${GENS_IDLE-$GENS}; do
    if have "$g"; then
        say "C: $g holds $IDLE idle connections"
        idle_run "$g"
    fi
done

# --- the table
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0)
        print "-"; else printf "%.1fx\n", a / b }'
}
or_dash() { [ -n "$1" ] && echo "$1" || echo -; }
echo "rtctl load benchmark: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs" \
    "($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)), load" \
    "$(cut -d' ' -f1-3 /proc/loadavg) at the end"
echo "workload: $SUBS WebSocket subscribers in one room, 1 publisher at" \
    "$RATE msg/s, ${WINDOW} s measured; $IDLE idle connections"
echo
echo "A. generator CPU per delivered message, driving rtctl serve"
printf '  %-10s %12s %10s %12s %10s %8s\n' generator "us/delivery" "CPU %" \
    "deliveries/s" "vs rtctl" "read %"
for g in $GENS; do
    printf '  %-10s %12s %10s %12s %10s %8s\n' "$g" "$(or_dash "$(get "gen_us $g")")" \
        "$(or_dash "$(get "gen_cpu $g")")" "$(or_dash "$(get "gen_rate $g")")" \
        "$(ratio "$(get "gen_us $g")" "$(get "gen_us rtctl")")" \
        "$(or_dash "$(get "gen_read $g")")"
done
echo "  (read %: of the bytes the server sent to the generator's connections"
echo "  in the window, the share it read; deliveries count in that share)"
echo
echo "B. server CPU per delivered message, driven by rtctl load"
printf '  %-10s %12s %8s %10s\n' server "us/delivery" lost "vs rtctl"
for s in $SERVERS; do
    printf '  %-10s %12s %8s %10s\n' "$s" "$(or_dash "$(get "srv_us $s")")" \
        "$(or_dash "$(get "srv_lost $s")")" \
        "$(ratio "$(get "srv_us $s")" "$(get "srv_us rtctl")")"
done
echo
echo "C. generator memory per idle connection"
printf '  %-10s %12s %10s\n' generator "bytes" "vs rtctl"
for g in $GENS; do
    printf '  %-10s %12s %10s\n' "$g" "$(or_dash "$(get "idle_b $g")")" \
        "$(ratio "$(get "idle_b $g")" "$(get "idle_b rtctl")")"
done
exit 0
