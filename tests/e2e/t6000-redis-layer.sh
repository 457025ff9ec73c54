#!/bin/sh
# The Redis layer of `rtctl serve --redis` (server-stub/redis.c) against a
# real redis-server: two clients as two instances share one seq order,
# survive a killed subscriber connection with the gap filled from the
# stream, see each other's presence and a dead one's expiry.
. "$(dirname "$0")/lib.sh"

DRV=${RT_BUILDDIR:-$(dirname "$RTCTL")}/tests/redisdrv
[ -x "$DRV" ] || fail "no $DRV (build the redisdrv target)"
start_redis

timeout "$(scaled 100)" "$DRV" "$REDIS_PORT" >drv.out 2>drv.err
rc=$?
cat drv.out
[ "$rc" -eq 0 ] || {
    cat drv.err >&2
    fail "redisdrv exited $rc"
}
check_grep '^ok [0-9]+ - freed, no handle left' drv.out
ok "the Redis layer against redis-server"
done_testing
