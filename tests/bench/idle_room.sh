#!/bin/sh
# idle_room.sh PATH N [rtctl serve options...]: start `rtctl serve` on a
# free port with the connection limits off, and measure what N idle
# WebSocket connections to PATH (/echo, or /ws/ROOM) cost it
# (idle_room.py).  Run from the top of a built tree; needs `ulimit -n`
# above 2N + 100.
path=$1
n=$2
shift 2
dir=$(mktemp -d)
./build/rtctl serve --port 0 --port-file "$dir/port" -q \
    --max-room-connections 0 --max-address-connections 0 \
    --max-user-connections 0 "$@" >"$dir/server.log" 2>&1 &
pid=$!
i=0
while [ ! -s "$dir/port" ] && [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
timeout 70 python3 "$(dirname "$0")/idle_room.py" "$(cat "$dir/port")" \
    "$path" "$n" "$pid" --deadline 55
kill "$pid"
wait "$pid" 2>/dev/null
rm -rf "$dir"
