#!/bin/sh
# tests/bench/conn_rate.sh RTCTL [N]: what a new connection costs
# `rtctl serve`.  N (5000) requests for /health, each on a new connection
# (curl, 16 at a time, Connection: close), against a fresh server; prints
# the connection rate and the server's CPU time per connection (/proc).
# Written to weigh the request-head gate (server-stub/gate.c): run it
# with the rtctl of each build, several times, on an idle machine.
set -eu
RT=$1
N=${2:-5000}
out=$(mktemp)
"$RT" serve --port 0 --max-address-connections 0 >"$out" 2>/dev/null &
sp=$!
trap 'kill $sp 2>/dev/null; rm -f "$out"' EXIT
i=0
until grep -q listening "$out"; do
    i=$((i + 1))
    [ "$i" -lt 200 ] || { echo "no listening line" >&2; exit 1; }
    sleep 0.05
done
port=$(sed -n '1s/.*://p' "$out")
tck=$(getconf CLK_TCK)
cpu0=$(awk '{print $14 + $15}' "/proc/$sp/stat")
t0=$(date +%s%N)
curl -sS --no-progress-meter -o /dev/null --parallel --parallel-max 16 -H 'Connection: close' \
    "http://127.0.0.1:$port/health?[1-$N]"
t1=$(date +%s%N)
cpu1=$(awk '{print $14 + $15}' "/proc/$sp/stat")
ms=$(((t1 - t0) / 1000000))
cpu=$(((cpu1 - cpu0) * 1000 / tck))
echo "$N connections in $ms ms: $((N * 1000 / ms))/s;" \
    "server CPU $cpu ms, $((cpu * 1000 / N)) us a connection"
