#!/bin/sh
# tests/bench/fanout.sh: fan-out and connection-scale benchmark of
# `rtctl serve` against a Node `ws` broadcast server and a Bun (uWebSockets)
# pub/sub server, all on loopback, one server at a time.
#
# Fan-out: one room, N subscribers and one publisher; the publisher sends
# 100-byte messages at saturation (a window of in-flight messages keeps the
# queues bounded) for DURATION seconds after WARMUP; printed per server and
# N: deliveries/s, p50/p99 latency, server CPU and memory.  Connection
# scale: IDLE_CONNS idle WebSockets to each server, RSS per connection.
# The load comes from tests/bench/fanout_gen.c (see its header).
#
# `make bench` runs it after the C benchmarks.  It never fails on a time:
# the exit status is 1 only when a server could not start (or the
# generator could not be built).  Node `ws` and Bun come from npm, installed
# into BENCH_CACHE (never into the repository); when one cannot be
# installed the script says so and goes on with the others.
#
# Environment (defaults in brackets):
#   RTCTL            rtctl binary [$BUILD/rtctl]
#   BUILD            build directory [build]
#   FANOUT_GEN       generator binary [$BUILD/tests/fanout_gen, else built
#                    from source into BENCH_CACHE]
#   BENCH_CACHE      scratch folder for npm packages and the generator
#                    [${XDG_CACHE_HOME:-$HOME/.cache}/rtctl-bench]
#   SERVERS          which servers ["rtctl node bun"]
#   SUBS             subscriber counts ["100 1000 10000"]
#   DURATION         measured seconds per run [5]
#   WARMUP           seconds before measuring [1]
#   SIZE             bytes per published message [100]
#   WINDOW           messages in flight per subscriber [64]
#   THREADS          generator threads [1]
#   IDLE_CONNS       idle connections for the scale test, 0 skips it [10000]
#   RTCTL_SERVE_ARGS extra flags for rtctl serve
#                    ["--max-room-connections 0 --max-user-connections 0
#                      --max-queue-bytes 16m --log-level error"]
#   GEN_ARGS         extra flags for fanout_gen
#   PERF             1: perf record the server during each fan-out run and
#                    print its top symbols [0]
# dash and bash both have ulimit -n/-H and test -nt; cleanup runs from trap.
# shellcheck disable=SC3013,SC3045,SC2317
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$top/$BUILD ;; esac
RTCTL=${RTCTL:-$BUILD/rtctl}
BENCH_CACHE=${BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rtctl-bench}
SERVERS=${SERVERS:-rtctl node bun}
SUBS=${SUBS:-100 1000 10000}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
SIZE=${SIZE:-100}
WINDOW=${WINDOW:-64}
THREADS=${THREADS:-1}
IDLE_CONNS=${IDLE_CONNS:-10000}
serve_default="--max-room-connections 0 --max-user-connections 0 --max-address-connections 0"
# The publisher is a member of the room too and reads its own messages back
# while it writes at saturation: give its queue Bun's default backpressure
# limit (16 MiB) rather than rtctl's 1 MiB, so both servers are measured
# on the same terms.
serve_default="$serve_default --max-queue-bytes 16m --log-level error"
RTCTL_SERVE_ARGS=${RTCTL_SERVE_ARGS:-$serve_default}
GEN_ARGS=${GEN_ARGS:-}
PERF=${PERF:-0}

say() {
    printf 'fanout: %s\n' "$*"
}

work=$(mktemp -d "${TMPDIR:-/tmp}/rtctl-fanout.XXXXXX") || exit 1
srv_pid=
cleanup() {
    if [ -n "$srv_pid" ]; then
        kill -KILL "$srv_pid" 2>/dev/null
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP PIPE

status=0
mkdir -p "$BENCH_CACHE" || exit 1

# busy_pct: share of the CPUs that something else used over 1 s, from
# /proc/stat.  The figures assume a quiet machine: the server and the
# generator take a core each.
busy_pct() {
    a=$(sed -n 's/^cpu  *//p' /proc/stat)
    sleep 1
    b=$(sed -n 's/^cpu  *//p' /proc/stat)
    printf '%s\n%s\n' "$a" "$b" | awk '
        { idle[NR] = $4 + $5; tot[NR] = 0
          for (i = 1; i <= NF; i++) tot[NR] += $i }
        END { d = tot[2] - tot[1]; if (d <= 0) { print 0; exit }
              printf "%.0f\n", 100 * (1 - (idle[2] - idle[1]) / d) }'
}
busy_before=$(busy_pct)
if [ "$busy_before" -gt 20 ]; then
    say "warning: the machine is ${busy_before}% busy before the run;" \
        "the figures will be low and noisy"
fi

# --- open files: the server and the generator each hold N + a few
need=$IDLE_CONNS
for n in $SUBS; do
    [ "$n" -gt "$need" ] && need=$n
done
need=$((need + 200))
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$need" ]; then
    need=$hard
fi
[ "$(ulimit -Sn)" != unlimited ] && [ "$(ulimit -Sn)" -lt "$need" ] &&
    ulimit -Sn "$need" 2>/dev/null
nofile=$(ulimit -n)
maxconns=$nofile
[ "$maxconns" = unlimited ] || maxconns=$((nofile - 100))

# --- the generator
gen=${FANOUT_GEN:-}
if [ -z "$gen" ] && [ -x "$BUILD/tests/fanout_gen" ] &&
    [ ! "$here/fanout_gen.c" -nt "$BUILD/tests/fanout_gen" ]; then
    gen=$BUILD/tests/fanout_gen
fi
if [ -z "$gen" ]; then
    gen=$BENCH_CACHE/fanout_gen
    if [ ! -x "$gen" ] || [ "$here/fanout_gen.c" -nt "$gen" ] ||
        [ "$top/lib/core/hist.c" -nt "$gen" ]; then
        say "building the load generator into $BENCH_CACHE"
        # shellcheck disable=SC2086
        if ! ${CC:-cc} -O2 -g -std=gnu11 -I"$top/lib/include" \
            -I"$top/lib/core" "$here/fanout_gen.c" "$top"/lib/core/*.c \
            -o "$gen.tmp" -lcjson -lcrypto -lpthread; then
            say "cannot build the load generator"
            exit 1
        fi
        mv "$gen.tmp" "$gen"
    fi
fi

# --- the peers, from npm, into the scratch folder
npm_dir=$BENCH_CACHE/npm
node_ok=0
bun_ok=0
bun_bin=$npm_dir/node_modules/.bin/bun
want_node=0
want_bun=0
case " $SERVERS " in *" node "*) want_node=1 ;; esac
case " $SERVERS " in *" bun "*) want_bun=1 ;; esac
if [ $want_node = 1 ] || [ $want_bun = 1 ]; then
    mkdir -p "$npm_dir"
    [ -f "$npm_dir/package.json" ] ||
        printf '{"name":"rtctl-bench-peers","private":true}\n' \
            >"$npm_dir/package.json"
fi
if [ $want_node = 1 ]; then
    if ! command -v node >/dev/null 2>&1; then
        say "node is not installed: skipping the Node ws server"
    else
        if [ ! -f "$npm_dir/node_modules/ws/package.json" ]; then
            say "installing ws from npm into $npm_dir"
            (cd "$npm_dir" && timeout 300 npm install --no-audit --no-fund \
                --loglevel=error ws@8) >"$work/npm-ws.log" 2>&1 ||
                head -n 4 "$work/npm-ws.log" | sed 's/^/  /'
        fi
        if [ -f "$npm_dir/node_modules/ws/package.json" ]; then
            node_ok=1
        else
            say "ws could not be installed: skipping the Node ws server"
        fi
    fi
fi
if [ $want_bun = 1 ]; then
    if ! "$bun_bin" --version >/dev/null 2>&1; then
        if command -v npm >/dev/null 2>&1; then
            say "installing bun from npm into $npm_dir"
            (cd "$npm_dir" && timeout 300 npm install --no-audit --no-fund \
                --loglevel=error bun@1) >"$work/npm-bun.log" 2>&1 ||
                head -n 4 "$work/npm-bun.log" | sed 's/^/  /'
        fi
    fi
    if "$bun_bin" --version >/dev/null 2>&1; then
        bun_ok=1
    else
        say "bun could not be installed: skipping the Bun server"
    fi
fi

# --- servers
# start_server NAME: start it on port 0, set srv_pid and srv_port; 1 if
# it did not print its address within 15 seconds.
start_server() {
    out=$work/$1.out
    err=$work/$1.err
    : >"$out"
    case $1 in
    rtctl)
        # shellcheck disable=SC2086
        "$RTCTL" serve --port 0 $RTCTL_SERVE_ARGS >"$out" 2>"$err" &
        ;;
    node)
        NODE_PATH=$npm_dir/node_modules node "$here/peers/node-ws-server.js" 0 \
            >"$out" 2>"$err" &
        ;;
    bun)
        "$bun_bin" "$here/peers/bun-server.js" 0 >"$out" 2>"$err" &
        ;;
    esac
    srv_pid=$!
    srv_port=
    i=0
    while [ $i -lt 150 ]; do
        srv_port=$(sed -n \
            '1s|^listening on http://[^ ]*:\([0-9][0-9]*\)/*$|\1|p' "$out")
        [ -n "$srv_port" ] && break
        kill -0 "$srv_pid" 2>/dev/null || break
        sleep 0.1
        i=$((i + 1))
    done
    if [ -z "$srv_port" ]; then
        say "$1 did not start (no 'listening on' line):"
        sed 's/^/  | /' "$out" "$err" | tail -n 20
        stop_server "$1"
        return 1
    fi
    # Let it finish starting before its memory is read.
    sleep 0.5
    return 0
}

# stop_server NAME
stop_server() {
    [ -n "$srv_pid" ] || return 0
    kill -TERM "$srv_pid" 2>/dev/null
    i=0
    while kill -0 "$srv_pid" 2>/dev/null && [ $i -lt 30 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    if kill -0 "$srv_pid" 2>/dev/null; then
        # The peers handle signals only between events, which a Node
        # server with a backlog may not reach; rtctl must exit in 1 s.
        [ "$1" = rtctl ] &&
            say "rtctl serve still up 3 s after SIGTERM; killing it"
        kill -KILL "$srv_pid" 2>/dev/null
    fi
    wait "$srv_pid" 2>/dev/null
    srv_pid=
}

label() {
    case $1 in
    rtctl) echo "rtctl" ;;
    node) echo "node ws" ;;
    bun) echo "bun" ;;
    esac
}

# run_gen NAME TAG ARGS...: one generator run against the running server;
# its RESULT line goes to $work/NAME.TAG.
run_gen() {
    name=$1
    tag=$2
    shift 2
    path=/ws/bench
    limit=$(awk -v d="$DURATION" -v w="$WARMUP" \
        'BEGIN { print int(d + w + 90) }')
    perf_pid=
    if [ "$PERF" = 1 ] && [ "$tag" != idle ] && command -v perf >/dev/null; then
        perf record -q -F 999 -g -p "$srv_pid" -o "$work/$name.$tag.perf" \
            >/dev/null 2>&1 &
        perf_pid=$!
    fi
    # shellcheck disable=SC2086
    timeout "$limit" "$gen" -p "$srv_port" -P "$path" -S "$srv_pid" -T 30 \
        -t "$THREADS" "$@" $GEN_ARGS >"$work/$name.$tag.raw" \
        2>"$work/$name.$tag.err"
    rc=$?
    if [ -n "$perf_pid" ]; then
        kill -INT "$perf_pid" 2>/dev/null
        wait "$perf_pid" 2>/dev/null
        echo "--- perf: $(label "$name") $tag, the server's time by object"
        perf report -i "$work/$name.$tag.perf" --no-children -g none \
            --sort dso --percent-limit 1 --stdio 2>/dev/null |
            grep -E '^ +[0-9]' | sed 's/ *- *- *$//' | head -n 8
        echo "--- perf: $(label "$name") $tag, top symbols"
        perf report -i "$work/$name.$tag.perf" --no-children -g none \
            --sort dso,symbol --percent-limit 0.5 --stdio 2>/dev/null |
            grep -E '^ +[0-9]' | sed 's/ *- *- *$//' | head -n 25
    fi
    grep '^RESULT' "$work/$name.$tag.raw" >"$work/$name.$tag"
    if [ $rc -ne 0 ] || [ ! -s "$work/$name.$tag" ]; then
        say "$(label "$name") $tag: generator exited $rc"
        sed 's/^/  | /' "$work/$name.$tag.err" | tail -n 5
        # 2: no WebSocket could be opened, as good as not started.
        [ $rc -eq 2 ] && status=1
    fi
    if ! kill -0 "$srv_pid" 2>/dev/null; then
        say "$(label "$name") died during the $tag run:"
        sed 's/^/  | /' "$work/$name.err" | tail -n 10
        srv_pid=
        status=1
    fi
}

get() {
    # get FILE KEY: the value of KEY= in a RESULT line, empty if none.
    [ -f "$1" ] || return 0
    tr ' ' '\n' <"$1" | sed -n "s/^$2=//p" | head -n 1
}

ran=
for name in $SERVERS; do
    case $name in
    rtctl)
        if [ ! -x "$RTCTL" ]; then
            say "no rtctl binary at $RTCTL (make build, or set RTCTL)"
            status=1
            continue
        fi
        ;;
    node) [ $node_ok = 1 ] || continue ;;
    bun) [ $bun_ok = 1 ] || continue ;;
    *) say "unknown server '$name' in SERVERS"; continue ;;
    esac
    ok=1
    for n in $SUBS; do
        if [ "$maxconns" != unlimited ] && [ "$n" -gt "$maxconns" ]; then
            say "skipping N=$n: open file limit $nofile"
            continue
        fi
        if ! start_server "$name"; then
            ok=0
            break
        fi
        say "$(label "$name"): fan-out to $n subscribers (${DURATION}s)"
        run_gen "$name" "fan$n" -n "$n" -d "$DURATION" -w "$WARMUP" \
            -s "$SIZE" -W "$WINDOW"
        stop_server "$name"
    done
    if [ $ok = 1 ] && [ "$IDLE_CONNS" -gt 0 ]; then
        n=$IDLE_CONNS
        if [ "$maxconns" != unlimited ] && [ "$n" -gt "$maxconns" ]; then
            n=$maxconns
            say "idle connections capped at $n by the open file limit"
        fi
        if start_server "$name"; then
            say "$(label "$name"): $n idle connections"
            run_gen "$name" idle -i -n "$n"
            stop_server "$name"
        else
            ok=0
        fi
    fi
    if [ $ok = 0 ]; then
        status=1
    else
        ran="$ran $name"
    fi
done

# --- report
fmt_rate() {
    # deliveries/s as "3.10 M"
    awk -v r="${1:-0}" 'BEGIN { printf "%.2f M", r / 1e6 }'
}
ms() {
    awk -v u="${1:-0}" 'BEGIN { printf "%.2f", u / 1000 }'
}
mib() {
    awk -v k="${1:-0}" 'BEGIN { printf "%.1f", k / 1024 }'
}
ratio() {
    # ratio A B: "x2.5", or "x-" when either is missing or zero
    awk -v a="${1:-0}" -v b="${2:-0}" 'BEGIN {
        if (a + 0 <= 0 || b + 0 <= 0) { print "x-"; exit }
        r = a / b
        if (r >= 10) printf "x%.0f\n", r
        else if (r >= 1) printf "x%.1f\n", r
        else printf "x%.2f\n", r
    }'
}

echo
echo "== fan-out: one room, 1 publisher, N subscribers, ${SIZE}-byte" \
    "messages at saturation,"
echo "   ${DURATION} s measured after ${WARMUP} s, at most $WINDOW messages" \
    "in flight per subscriber"
echo "   (latency at saturation is mostly that window's queueing; gen cpu is" \
    "the load generator's, on the same $(nproc) cores;"
echo "   other% is what the rest of the machine used meanwhile, in % of a" \
    "core: above 20 the figures are low)"
printf '%-8s %6s %13s %8s %8s %6s %8s %8s %6s %6s  %s\n' server N \
    deliveries/s "p50 ms" "p99 ms" "cpu %" "rss MiB" "hwm MiB" "gen %" \
    "other%" notes
for n in $SUBS; do
    for name in $SERVERS; do
        f=$work/$name.fan$n
        [ -s "$f" ] || continue
        if [ "$(get "$f" open)" = 0 ]; then
            printf '%-8s %6s %13s  no WebSocket opened\n' \
                "$(label "$name" | tr ' ' '-')" "$n" -
            continue
        fi
        notes=
        closed=$(get "$f" closed)
        failed=$(get "$f" failed)
        [ "${failed:-0}" != 0 ] && notes="$notes failed=$failed"
        [ "${closed:-0}" != 0 ] &&
            notes="$notes closed=$closed($(get "$f" codes))"
        [ "$(get "$f" pub_ok)" = 1 ] || notes="$notes publisher-lost"
        [ "$(get "$f" open)" = "$n" ] || notes="$notes open=$(get "$f" open)"
        printf '%-8s %6s %13s %8s %8s %6s %8s %8s %6s %6s %s\n' \
            "$(label "$name" | tr ' ' '-')" "$n" \
            "$(fmt_rate "$(get "$f" rate)")" \
            "$(ms "$(get "$f" p50_us)")" "$(ms "$(get "$f" p99_us)")" \
            "$(get "$f" srv_cpu)" "$(mib "$(get "$f" rss_kib)")" \
            "$(mib "$(get "$f" hwm_kib)")" "$(get "$f" gen_cpu)" \
            "$(get "$f" other_cpu)" "$notes"
    done
done

if [ "$IDLE_CONNS" -gt 0 ]; then
    echo
    echo "== connection scale: idle WebSocket connections"
    printf '%-8s %6s %11s %11s %9s  %s\n' server conns "before MiB" \
        "after MiB" KiB/conn notes
    for name in $SERVERS; do
        f=$work/$name.idle
        [ -s "$f" ] || continue
        if [ "$(get "$f" open)" = 0 ]; then
            printf '%-8s %6s  no WebSocket opened\n' \
                "$(label "$name" | tr ' ' '-')" 0
            continue
        fi
        notes=
        [ "$(get "$f" failed)" = 0 ] || notes="failed=$(get "$f" failed)"
        printf '%-8s %6s %11s %11s %9s  %s\n' \
            "$(label "$name" | tr ' ' '-')" "$(get "$f" open)" \
            "$(mib "$(get "$f" rss_before_kib)")" \
            "$(mib "$(get "$f" rss_after_kib)")" \
            "$(get "$f" per_conn_kib)" "$notes"
    done
fi

echo
echo "== summary (rtctl xR: rtctl's figure over the other's; above 1 is" \
    "better for deliveries/s, below 1 for KiB/conn)"
for n in $SUBS; do
    line="fanout N=$n:"
    r=$work/rtctl.fan$n
    [ "$(get "$r" open)" = 0 ] && rm -f "$r"
    rrate=$(get "$r" rate)
    if [ -s "$r" ]; then
        line="$line rtctl $(fmt_rate "$rrate")/s"
        line="$line p50 $(ms "$(get "$r" p50_us)") ms"
        line="$line p99 $(ms "$(get "$r" p99_us)") ms cpu $(get "$r" srv_cpu)%"
        line="$line rss $(mib "$(get "$r" rss_kib)") MiB"
    else
        line="$line rtctl -"
    fi
    for name in node bun; do
        f=$work/$name.fan$n
        [ -s "$f" ] || continue
        o=$(get "$f" rate)
        line="$line | $(label $name) $(fmt_rate "$o")/s"
        line="$line p99 $(ms "$(get "$f" p99_us)") ms"
        [ -s "$r" ] && line="$line (rtctl $(ratio "$rrate" "$o"))"
    done
    echo "$line"
done
if [ "$IDLE_CONNS" -gt 0 ]; then
    r=$work/rtctl.idle
    [ "$(get "$r" open)" = 0 ] && rm -f "$r"
    rk=$(get "$r" per_conn_kib)
    line="idle conns=$IDLE_CONNS:"
    if [ -s "$r" ]; then
        line="$line rtctl $rk KiB/conn"
    else
        line="$line rtctl -"
    fi
    for name in node bun; do
        f=$work/$name.idle
        [ -s "$f" ] || continue
        o=$(get "$f" per_conn_kib)
        line="$line | $(label $name) $o KiB/conn"
        [ -s "$r" ] && line="$line (rtctl $(ratio "$rk" "$o"))"
    done
    echo "$line"
fi
node_v=$(node --version 2>/dev/null)
ws_v=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' \
    "$npm_dir/node_modules/ws/package.json" 2>/dev/null | head -n 1)
bun_v=$("$bun_bin" --version 2>/dev/null)
echo "(command: SUBS=\"$SUBS\" DURATION=$DURATION sh tests/bench/fanout.sh;" \
    "node ${node_v:--} ws ${ws_v:--}, bun ${bun_v:--}, $(nproc) cores;" \
    "other load: ${busy_before}% before, $(busy_pct)% after)"
[ $status = 0 ] || say "some server could not start or died: exit 1"
exit $status
