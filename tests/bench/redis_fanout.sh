#!/bin/sh
# tests/bench/redis_fanout.sh: fan-out of `rtctl serve --redis` with one,
# two and three instances on one Redis, against one instance of the
# in-memory engine, all behind the same nginx (README.md's "Running a
# cluster" configuration, round robin), driven by `rtctl load` over
# WebSocket: one room, SUBS subscribers spread over the instances by nginx,
# one publisher at RATE for DURATION.  Prints deliveries/s and the
# latency percentiles per setup.  Bounded: four runs of DURATION seconds
# plus start-up, about 40 s with the defaults.
#
# Never fails on a time: the exit status is 1 only when something could
# not start.  It starts its own redis-server on a free loopback port.
#
# Environment (defaults in brackets):
#   RTCTL      rtctl binary [build/rtctl]
#   SUBS       subscribers [300]
#   RATE       messages per second [200]
#   DURATION   seconds per run, warm-up included [6]
#   SETUPS     which runs ["mem1 redis1 redis2 redis3"]
: "${RTCTL:=build/rtctl}"
case $RTCTL in /*) ;; *) RTCTL=$PWD/$RTCTL ;; esac
export RTCTL
RT_SRCDIR=$(cd "$(dirname "$0")/../.." && pwd)
export RT_SRCDIR
. "$RT_SRCDIR/tests/e2e/lib.sh"

SUBS=${SUBS:-300}
RATE=${RATE:-200}
DURATION=${DURATION:-6}
SETUPS=${SETUPS:-"mem1 redis1 redis2 redis3"}
ARGS="--max-user-connections 0 --max-room-connections 0 --log-level error"

start_redis
printf '%-8s %10s %12s %9s %9s %9s %6s\n' setup instances deliveries/s \
    p50_ms p99_ms max_ms lost
for setup in $SETUPS; do
    n=${setup#mem}
    n=${n#redis}
    ports=
    i=0
    while [ "$i" -lt "$n" ]; do
        case $setup in
        # shellcheck disable=SC2086
        mem*) start_server $ARGS ;;
        # shellcheck disable=SC2086
        *) start_server $ARGS --redis "$REDIS_URL" ;;
        esac
        wait_until 20 "instance up" curl -fsS -o /dev/null "$BASE/health"
        ports="$ports $PORT"
        i=$((i + 1))
    done
    # shellcheck disable=SC2086
    start_nginx_cluster $ports
    room=bench-$setup
    "$RTCTL" load "ws://127.0.0.1:$NGINX_PORT" -c "$SUBS" -r "$RATE/s" \
        -d "${DURATION}s" --warmup 1s --room-prefix "$room" \
        --report-json "$setup.json" -q >"$setup.out" 2>&1 ||
        { cat "$setup.out" >&2; fail "rtctl load ($setup) failed"; }
    "$RT_PY" - "$setup" "$n" "$setup.json" "$setup.out" <<'PY'
import json, re, sys
setup, n, path, out = sys.argv[1:5]
d = json.load(open(path))
m, lat = d["messages"], d["latency_us"]
# The rate rtctl load reports for the measured part (after --warmup).
r = re.search(r"delivered \.*: \d+ \(([\d.]+)/s measured\)", open(out).read())
rate = float(r.group(1)) if r else float("nan")
print("%-8s %10s %12.0f %9.2f %9.2f %9.2f %6d" % (
    setup, n, rate, lat["p50"] / 1e3, lat["p99"] / 1e3, lat["max"] / 1e3,
    m["lost"]))
PY
    stop_all_servers
done
