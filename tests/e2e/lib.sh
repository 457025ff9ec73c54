# tests/e2e/lib.sh: sourced by every tNNNN-*.sh (git's t/test-lib.sh, small).
#
# CTest sets RTCTL (the binary under test) and RT_SRCDIR.  Each script runs
# in its own scratch directory, removed on exit.  A script fails at its
# first failed check; the message names the check and what was seen.

set -u

: "${RTCTL:?RTCTL must name the rtctl binary under test}"

# RT_E2E_SCALE: the one factor, a whole number, that every deadline of the
# suite is multiplied by (wait_until, expect_code, the servers' start, the
# Python peers' waits): 1 here, more on a slow machine or under a
# sanitizer.  Deadlines are several times what a loaded 2-core machine
# needs, so the factor buys room, never correctness.
RT_E2E_SCALE=${RT_E2E_SCALE:-1}
case $RT_E2E_SCALE in
'' | *[!0-9]* | 0) RT_E2E_SCALE=1 ;;
esac
export RT_E2E_SCALE

# scaled SECONDS: SECONDS times the factor.
scaled() {
    echo $(($1 * RT_E2E_SCALE))
}
: "${RT_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"

T=$(mktemp -d "${TMPDIR:-/tmp}/rtctl-e2e.XXXXXX")
cleanup() {
    stop_all_servers
    stop_all_redis
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cd "$T" || exit 1

ntests=0
fail() {
    printf 'FAIL: %s\n' "$*" >&2
    # A server (or driver) that died explains most failures after it: say
    # so, with the end of what the last server wrote.
    for _f_pid in ${SERVER_PIDS:-}; do
        alive "$_f_pid" && continue
        wait "$_f_pid" 2>/dev/null
        printf 'note: background process %s had exited, status %s\n' \
            "$_f_pid" "$?" >&2
    done
    if [ -n "${SERVER_ERR:-}" ] && [ -s "$SERVER_ERR" ]; then
        printf 'note: the last server log lines:\n' >&2
        tail -n 20 "$SERVER_ERR" >&2
    fi
    exit 1
}

ok() {
    ntests=$((ntests + 1))
    printf 'ok %d - %s\n' "$ntests" "$*"
}

# expect_code N CMD...: run CMD (bounded by timeout), stdout to ./out,
# stderr to ./err; fail unless its exit status is N.
# (EXPECT_TIMEOUT, default 20, bounds CMD in seconds.)
expect_code() {
    want=$1
    shift
    timeout "$(scaled "${EXPECT_TIMEOUT:-20}")" "$@" >out 2>err
    got=$?
    if [ "$got" -ne "$want" ]; then
        printf '%s\n' "--- stdout" >&2
        cat out >&2
        printf '%s\n' "--- stderr" >&2
        cat err >&2
        fail "'$*' exited $got, expected $want"
    fi
}

# check_file FILE EXPECTED: FILE's contents equal the string EXPECTED
# (plus the final newline).
check_file() {
    printf '%s\n' "$2" >expected
    if ! cmp -s "$1" expected; then
        printf '%s\n' "--- expected" >&2
        cat expected >&2
        printf '%s\n' "--- got" >&2
        cat "$1" >&2
        fail "$1 differs from what was expected"
    fi
}

# check_grep PATTERN FILE: FILE has a line matching the extended regex.
check_grep() {
    if ! grep -Eq -- "$1" "$2"; then
        printf '%s\n' "--- $2" >&2
        cat "$2" >&2
        fail "no line of $2 matches '$1'"
    fi
}

check_empty() {
    if [ -s "$1" ]; then
        cat "$1" >&2
        fail "$1 should be empty"
    fi
}

done_testing() {
    if [ "${nfailed:-0}" -gt 0 ]; then
        printf '# %d of %d checks failed\n' "$nfailed" "$ntests"
        exit 1
    fi
    printf '# %d checks passed\n' "$ntests"
    exit 0
}

# --- rtctl serve (the t5xxx scripts)

# now_ms: milliseconds since the epoch (GNU date).
now_ms() {
    date +%s%3N
}

# wait_until SECONDS WHAT CMD...: poll CMD (every 50 ms) until it succeeds;
# fail naming WHAT after SECONDS (scaled).  Polling with a deadline, never
# a sleep that guesses how long something takes.
wait_until() {
    _wu_limit=$(scaled "$1")
    _wu_what=$2
    shift 2
    _wu_end=$(($(now_ms) + _wu_limit * 1000))
    until "$@"; do
        if [ "$(now_ms)" -ge "$_wu_end" ]; then
            fail "$_wu_what: not within ${_wu_limit}s"
        fi
        sleep 0.05
    done
}

SERVER_PIDS=
nserver=0

# alive PID: the process runs (a child that exited is a zombie until it is
# waited for, and a zombie still answers kill -0).
alive() {
    kill -0 "$1" 2>/dev/null || return 1
    case $(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) in
    Z | X) return 1 ;;
    esac
    return 0
}

# done_file NAME PID OUT ERR: true once a driver (PID, writing OUT and
# ERR) made the file done-NAME; fails the script with its output when PID
# ended without making it.  The file is looked at again once PID is seen
# gone: the driver may make it and exit between the two looks.
done_file() {
    [ -e "done-$1" ] && return 0
    alive "$2" && return 1
    [ -e "done-$1" ] && return 0
    cat "$3" "$4" >&2
    fail "the clients stopped before '$1'"
}

# start_server [ARGS...]: run `$RTCTL serve --port 0 ARGS` in the
# background, stdout to $SERVER_OUT and stderr to $SERVER_ERR; wait (20 s at
# most) for its first line `listening on http://HOST:PORT`.  Exports
# SERVER_PID, PORT, BASE and WSBASE; the EXIT trap stops it.
start_server() {
    nserver=$((nserver + 1))
    SERVER_OUT=$T/server$nserver.out
    SERVER_ERR=$T/server$nserver.err
    : >"$SERVER_OUT"
    : >"$SERVER_ERR"
    "$RTCTL" serve --port 0 "$@" >"$SERVER_OUT" 2>"$SERVER_ERR" &
    SERVER_PID=$!
    SERVER_PIDS="$SERVER_PIDS $SERVER_PID"
    _ss_end=$(($(now_ms) + $(scaled 20) * 1000))
    # The line is complete once the file holds a newline.
    while [ "$(wc -l <"$SERVER_OUT")" -lt 1 ]; do
        if ! alive "$SERVER_PID"; then
            wait "$SERVER_PID"
            _ss_rc=$?
            cat "$SERVER_ERR" >&2
            fail "'rtctl serve --port 0 $*' exited $_ss_rc before printing 'listening on'"
        fi
        if [ "$(now_ms)" -ge "$_ss_end" ]; then
            cat "$SERVER_OUT" "$SERVER_ERR" >&2
            fail "'rtctl serve --port 0 $*' printed no 'listening on' line within 20s"
        fi
        sleep 0.05
    done
    SERVER_LINE=$(head -n 1 "$SERVER_OUT")
    case $SERVER_LINE in
    'listening on http://'*:* | 'listening on https://'*:*) ;;
    *)
        fail "first line of 'rtctl serve' is '$SERVER_LINE', expected 'listening on http://HOST:PORT'"
        ;;
    esac
    PORT=${SERVER_LINE##*:}
    case $PORT in
    '' | *[!0-9]*) fail "no port in '$SERVER_LINE'" ;;
    esac
    case $SERVER_LINE in
    *https://*)
        BASE=https://127.0.0.1:$PORT
        WSBASE=wss://127.0.0.1:$PORT
        ;;
    *)
        BASE=http://127.0.0.1:$PORT
        WSBASE=ws://127.0.0.1:$PORT
        ;;
    esac
    export SERVER_PID PORT BASE WSBASE
}

# stop_server [SIGNAL]: send SIGNAL (TERM) to the current server and wait
# for it (10 s at most, then SIGKILL); returns its exit status (137 when it
# had to be killed).  Sets SERVER_STOP_MS to how long it took.
stop_server() {
    kill -"${1:-TERM}" "$SERVER_PID" 2>/dev/null
    wait_server
}

# wait_server: wait for the current server to exit by itself (10 s at most,
# then SIGKILL); returns its exit status.
wait_server() {
    _st_pid=$SERVER_PID
    _st_t0=$(now_ms)
    # A watchdog bounds the wait; `wait` itself has no timeout.  It is
    # ended with SIGKILL: a SIGTERM can land before its shell is set up,
    # in the forked copy of this one whose TERM trap would defer it.
    sh -c 'sleep "$1"; kill -KILL "$2" 2>/dev/null' \
        watchdog "$(scaled 10)" "$_st_pid" >/dev/null 2>&1 &
    _st_dog=$!
    wait "$_st_pid"
    _st_rc=$?
    # its sleep first: left behind, it would hold the script's open files
    # (a FIFO's writing end, say) until it ran out
    pkill -KILL -P "$_st_dog" 2>/dev/null
    kill -KILL "$_st_dog" 2>/dev/null
    wait "$_st_dog" 2>/dev/null
    SERVER_STOP_MS=$(($(now_ms) - _st_t0))
    _st_left=
    for _st_p in $SERVER_PIDS; do
        [ "$_st_p" = "$_st_pid" ] || _st_left="$_st_left $_st_p"
    done
    SERVER_PIDS=$_st_left
    return "$_st_rc"
}

# expect_clean_stop: SIGTERM; the server exits 0, and soon (PROTOCOL.md
# says within a second; 5 s leaves room for a loaded machine).
expect_clean_stop() {
    stop_server
    _ec_rc=$?
    if [ "$_ec_rc" -ne 0 ]; then
        printf '%s\n' "--- server stderr (last lines)" >&2
        tail -n 30 "$SERVER_ERR" >&2
        fail "rtctl serve exited $_ec_rc on SIGTERM, expected 0"
    fi
    if [ "$SERVER_STOP_MS" -gt $(($(scaled 5) * 1000)) ]; then
        printf '%s\n' "--- server stderr (last lines)" >&2
        tail -n 10 "$SERVER_ERR" >&2
        fail "rtctl serve took ${SERVER_STOP_MS}ms to exit after SIGTERM (a second is the rule)"
    fi
}

stop_all_servers() {
    for _sa_p in ${SERVER_PIDS:-}; do
        kill -TERM "$_sa_p" 2>/dev/null
    done
    for _sa_p in ${SERVER_PIDS:-}; do
        _sa_end=$(($(now_ms) + 3000))
        while alive "$_sa_p" && [ "$(now_ms)" -lt "$_sa_end" ]; do
            sleep 0.05
        done
        kill -KILL "$_sa_p" 2>/dev/null
    done
    SERVER_PIDS=
}

# py [ARGS...] <<'EOF' ... EOF: run the Python check program on stdin with
# drivers/rtws.py (Debian's python3-websockets) under /usr/bin/python3,
# bounded.  The program defines `async def main()`; it fails with a
# `FAIL: ...` line on stderr.
RT_PY=/usr/bin/python3
RT_DRIVERS=$RT_SRCDIR/tests/e2e/drivers
py() {
    RTCTL=$RTCTL timeout "$(scaled 55)" "$RT_PY" "$RT_DRIVERS/run.py" "$@"
}

# check_py WHAT [ARGS...] <<'EOF': py, and fail naming WHAT.  With
# RT_E2E_KEEP_GOING=1 (for whoever is fixing the server) a failed Python
# check is reported and the script goes on; it still exits 1 at the end.
nfailed=0
check_py() {
    _cp_what=$1
    shift
    if ! RT_E2E_WHAT=$_cp_what py "$@"; then
        if [ -n "${RT_E2E_KEEP_GOING:-}" ]; then
            nfailed=$((nfailed + 1))
            ntests=$((ntests + 1))
            printf 'not ok %d - %s\n' "$ntests" "$_cp_what"
            return 1
        fi
        fail "$_cp_what"
    fi
}

# ok_py WHAT [ARGS...] <<'EOF': check_py, then `ok WHAT`.
ok_py() {
    check_py "$@" && ok "$1"
}

# --- rtctl proxy (the t1xxx-t3xxx resilience scripts)

# start_proxy ARGS...: run `rtctl proxy --listen 127.0.0.1:0 --to
# 127.0.0.1:$SPORT ARGS` in the background, stdout to $PROXY_OUT, stderr
# to $PROXY_ERR; wait (20 s at most) for `listening on 127.0.0.1:PORT`.
# Sets PROXY_PID, PPORT and PBASE; the EXIT trap stops it.
nproxy=0
start_proxy() {
    nproxy=$((nproxy + 1))
    PROXY_OUT=$T/proxy$nproxy.out
    PROXY_ERR=$T/proxy$nproxy.err
    : >"$PROXY_OUT"
    "$RTCTL" proxy --listen 127.0.0.1:0 --to "127.0.0.1:${SPORT:?}" "$@" \
        >"$PROXY_OUT" 2>"$PROXY_ERR" &
    PROXY_PID=$!
    SERVER_PIDS="$SERVER_PIDS $PROXY_PID"
    _sp_end=$(($(now_ms) + $(scaled 20) * 1000))
    while [ "$(wc -l <"$PROXY_OUT")" -lt 1 ]; do
        alive "$PROXY_PID" || {
            cat "$PROXY_ERR" >&2
            fail "'rtctl proxy $*' exited before printing 'listening on'"
        }
        [ "$(now_ms)" -lt "$_sp_end" ] ||
            fail "'rtctl proxy $*' printed no 'listening on' line within 20s"
        sleep 0.05
    done
    _sp_line=$(head -n 1 "$PROXY_OUT")
    PPORT=${_sp_line##*:}
    case $_sp_line in
    'listening on 127.0.0.1:'*) ;;
    *) fail "first line of 'rtctl proxy' is '$_sp_line'" ;;
    esac
    case $PPORT in
    '' | *[!0-9]*) fail "no port in '$_sp_line'" ;;
    esac
    PBASE=http://127.0.0.1:$PPORT
}

# bg CMD...: run CMD in the background, stopped by the EXIT trap if the
# script fails first; BG_PID is its pid.  (Scripts that need output files
# or a fifo around it define their own.)
bg() {
    "$@" &
    BG_PID=$!
    SERVER_PIDS="$SERVER_PIDS $BG_PID"
}

# reap PID: wait for a background command; RC gets its exit status.
reap() {
    wait "$1"
    RC=$?
    SERVER_PIDS=$(echo "$SERVER_PIDS" | sed "s/ $1\b//")
}

# --- wsdrv (drivers/wsdrv.c: the t41xx WebSocket client scripts)

# RT_WSDRV replaces it, e.g. with a script that runs it under valgrind.
WSDRV=${RT_WSDRV:-${RT_BUILDDIR:-$(dirname "$RTCTL")}/tests/wsdrv}

# bg_drv NAME CMD...: run CMD in the background (bounded by timeout),
# stdout to NAME.out, stderr to NAME.err; the EXIT trap stops it.  Sets
# BG_PID.
bg_drv() {
    _bd_name=$1
    shift
    : >"$_bd_name.out"
    timeout "$(scaled 110)" "$@" >"$_bd_name.out" 2>"$_bd_name.err" &
    BG_PID=$!
    SERVER_PIDS="$SERVER_PIDS $BG_PID"
}

# wait_drv PID NAME WANT: wait for a process of bg_drv; fail unless it
# exits WANT.
wait_drv() {
    wait "$1"
    _wd_rc=$?
    _wd_left=
    for _wd_p in $SERVER_PIDS; do
        [ "$_wd_p" = "$1" ] || _wd_left="$_wd_left $_wd_p"
    done
    SERVER_PIDS=$_wd_left
    if [ "$_wd_rc" -ne "$3" ]; then
        printf '%s\n' "--- $2.out (last lines)" >&2
        tail -n 20 "$2.out" >&2
        printf '%s\n' "--- $2.err" >&2
        tail -n 20 "$2.err" >&2
        fail "$2 exited $_wd_rc, expected $3"
    fi
}

# show_states FILE...: on stderr, the last lines of each FILE other than
# delivered messages: what the clients and the proxy went through, for a
# script whose own fail() shows it before failing.
show_states() {
    for _ss_f in "$@"; do
        printf '%s\n' "--- $_ss_f (last lines but messages)" >&2
        grep -Ev '"type":"message"|"event":"text"' "$_ss_f" 2>/dev/null |
            tail -n 15 >&2
    done
}

# count_lines PATTERN FILE: how many lines of FILE match the extended regex.
count_lines() {
    grep -Ec -- "$1" "$2" 2>/dev/null
}

# publish_seq BASE ROOM FIRST LAST: POST the texts "mFIRST".."mLAST" to
# ROOM in order over one keep-alive HTTP connection, as fast as the server
# takes them; each must be stored with the seq its name says.
publish_seq() {
    timeout "$(scaled 60)" "$RT_PY" - "$@" <<'PY' || fail "publishing m$3..m$4 to $2"
import http.client, json, sys, urllib.parse
base, room = sys.argv[1], sys.argv[2]
first, last = int(sys.argv[3]), int(sys.argv[4])
u = urllib.parse.urlsplit(base)
conn = http.client.HTTPConnection(u.hostname, u.port, timeout=20)
for n in range(first, last + 1):
    body = json.dumps({"type": "text", "data": {"content": "m%d" % n}})
    conn.request("POST", "/publish/" + room, body,
                 {"Content-Type": "application/json"})
    r = conn.getresponse()
    answer = r.read()
    if r.status != 202 or json.loads(answer).get("seq") != n:
        sys.exit("FAIL: m%d: HTTP %d %r" % (n, r.status, answer))
PY
}

# check_ws_seqs FILE FIRST-LAST[,FIRST-LAST...]: the "message" lines of
# `wsdrv follow` in FILE carry exactly these seqs, in this order, each with
# the content mSEQ that publish_seq gave it: every message once, in order.
check_ws_seqs() {
    "$RT_PY" - "$@" <<'PY' || fail "$1: not exactly once, in order"
import json, sys
path, spec = sys.argv[1], sys.argv[2]
want = []
for r in spec.split(","):
    a, b = r.split("-")
    want += list(range(int(a), int(b) + 1))
got = []
for n, line in enumerate(open(path, encoding="utf-8"), 1):
    o = json.loads(line)
    if o["type"] == "message":
        if o["content"] != "m%d" % o["seq"]:
            sys.exit("FAIL: line %d: seq %d carries %r"
                     % (n, o["seq"], o["content"]))
        got.append(o["seq"])
if got != want:
    seen, dup = set(), []
    for s in got:
        if s in seen:
            dup.append(s)
        seen.add(s)
    first_bad = next((i for i, (g, w) in enumerate(zip(got, want)) if g != w),
                     min(len(got), len(want)))
    sys.exit("FAIL: %d messages, %d expected; first difference at #%d "
             "(got %s); duplicates %s; missing %s" %
             (len(got), len(want), first_bad + 1, got[first_bad:first_bad + 3],
              dup[:10], sorted(set(want) - set(got))[:10]))
PY
}

# --- a terminal, through tmux (the *-tty scripts)

# tmux_setup SESSION: skip (77) without tmux; else tm runs tmux on a socket
# of this script's, the EXIT trap kills that server, and pane, pane_has and
# show_pane read SESSION's screen.  The script starts SESSION itself
# (tm -f /dev/null new-session -d -s SESSION ...).
tmux_setup() {
    if ! command -v tmux >/dev/null 2>&1; then
        echo "# skip: tmux is not installed (tests/deps.sh installs it)"
        exit 77
    fi
    TS=$T/tmux.sock
    TMUX_SESSION=$1
    trap 'tm kill-server 2>/dev/null; cleanup' EXIT
}

tm() {
    tmux -S "$TS" "$@"
}

# pane: the screen, without trailing blanks, in ./pane.
pane() {
    tm capture-pane -p -t "$TMUX_SESSION" >pane.raw 2>/dev/null || return 1
    sed 's/[[:space:]]*$//' pane.raw >pane
}

# pane_has ERE: the screen has a line matching ERE.
pane_has() {
    pane && grep -Eq -- "$1" pane
}

show_pane() {
    printf '%s\n' "--- screen" >&2
    cat pane >&2
}

# --- redis-server (the t6xxx scripts of `rtctl serve --redis`)

# start_redis [ARGS...]: start a private redis-server on a free loopback
# port (never 6379, never one already in use), its files in its own
# directory under $T, no persistence unless ARGS ask for it (ARGS come
# last: `--appendonly yes` wins); wait (20 s at most) until it answers
# PING.  Skips (77) when redis-server is not installed.  Sets REDIS_PORT,
# REDIS_URL, REDIS_PID and REDIS_DIR; the EXIT trap stops it.
REDIS_PIDS=
nredis=0
start_redis() {
    command -v redis-server >/dev/null 2>&1 || {
        echo "skip: redis-server is not installed (tests/deps.sh)"
        exit 77
    }
    nredis=$((nredis + 1))
    REDIS_DIR=$T/redis$nredis
    mkdir -p "$REDIS_DIR"
    REDIS_ARGS=$*
    _sr_try=0
    while :; do
        _sr_try=$((_sr_try + 1))
        REDIS_PORT=$("$RT_PY" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
        [ "$REDIS_PORT" != 6379 ] || continue
        if redis_run "$@"; then
            break
        fi
        [ "$_sr_try" -lt 5 ] || {
            tail -n 20 "$REDIS_DIR/redis.log" >&2
            fail "redis-server did not start (5 ports tried)"
        }
    done
    REDIS_URL=redis://127.0.0.1:$REDIS_PORT
    export REDIS_PORT REDIS_URL REDIS_PID REDIS_DIR
}

# redis_run [ARGS...]: start redis-server on $REDIS_PORT in $REDIS_DIR;
# 0 once it answers PING, 1 when it exited (the port was taken).
redis_run() {
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" \
        --dir "$REDIS_DIR" --logfile "$REDIS_DIR/redis.log" \
        --save '' --appendonly no --daemonize no "$@" >/dev/null 2>&1 &
    REDIS_PID=$!
    REDIS_PIDS="$REDIS_PIDS $REDIS_PID"
    _rr_end=$(($(now_ms) + $(scaled 20) * 1000))
    until [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; do
        alive "$REDIS_PID" || return 1
        if [ "$(now_ms)" -ge "$_rr_end" ]; then
            tail -n 20 "$REDIS_DIR/redis.log" >&2
            fail "redis-server on port $REDIS_PORT did not answer within 20s"
        fi
        sleep 0.05
    done
    # Ours, not another on the same port: its pid answers.
    [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" info server |
        tr -d '\r' | sed -n 's/^process_id://p')" = "$REDIS_PID" ] ||
        fail "port $REDIS_PORT answers PING, but not from our redis-server"
    return 0
}

# stop_redis: stop the current redis-server (SIGTERM, which saves what its
# arguments say; SIGKILL after 10 s) and wait for it.
stop_redis() {
    kill -TERM "$REDIS_PID" 2>/dev/null
    _sr_end=$(($(now_ms) + $(scaled 10) * 1000))
    while alive "$REDIS_PID" && [ "$(now_ms)" -lt "$_sr_end" ]; do
        sleep 0.05
    done
    kill -KILL "$REDIS_PID" 2>/dev/null
    wait "$REDIS_PID" 2>/dev/null
    REDIS_PIDS=$(echo "$REDIS_PIDS" | sed "s/ $REDIS_PID\b//")
}

# restart_redis: start it again on the same port and directory, with the
# same arguments.
restart_redis() {
    # shellcheck disable=SC2086
    redis_run $REDIS_ARGS || fail "redis-server did not start again on port $REDIS_PORT"
}

# rcli ARGS...: redis-cli against the test's redis-server.
rcli() {
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"
}

stop_all_redis() {
    for _sa_p in ${REDIS_PIDS:-}; do
        kill -KILL "$_sa_p" 2>/dev/null
    done
    REDIS_PIDS=
}

# start_nginx_cluster PORT...: nginx in front of the rtctl serve instances
# on PORT..., configured exactly as README.md's "Running a cluster" says
# (its nginx block, with these ports, a free listening port and its files
# under $T).  Skips (77) without nginx.  Sets NGINX_PORT, NGINX_BASE and
# NGINX_PID; the EXIT trap stops it.
start_nginx_cluster() {
    _nc=$(command -v nginx || echo /usr/sbin/nginx)
    [ -x "$_nc" ] || {
        echo "skip: no nginx (tests/deps.sh installs it)"
        exit 77
    }
    mkdir -p "$T/nginx/logs" "$T/nginx/tmp"
    awk '/^```nginx$/ { f = 1; next } /^```$/ { f = 0 } f' \
        "$RT_SRCDIR/README.md" >"$T/nginx/readme.conf"
    grep -q 'upstream rtctl' "$T/nginx/readme.conf" ||
        fail "README.md has no nginx block with 'upstream rtctl'"
    for _nc_try in 1 2 3 4 5; do
        NGINX_PORT=$("$RT_PY" -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        awk -v ports="$*" -v listen="$NGINX_PORT" -v t="$T/nginx" \
            -v root="$([ "$(id -u)" -eq 0 ] && echo 1)" '
            /^events/ {
                if (root) print "user root;"
                print "daemon off;"
                print "pid " t "/nginx.pid;"
                print "error_log " t "/logs/error.log;"
            }
            /server 127\.0\.0\.1:808[0-9] / {
                if (!done) {
                    n = split(ports, p, " ")
                    for (i = 1; i <= n; i++)
                        print "        server 127.0.0.1:" p[i] \
                            " max_fails=1 fail_timeout=5s;"
                }
                done = 1
                next
            }
            /listen 127\.0\.0\.1:8080;/ {
                print "        listen 127.0.0.1:" listen ";"
                next
            }
            { print }
            /^http \{/ {
                print "    access_log " t "/logs/access.log;"
                print "    client_body_temp_path " t "/tmp/body;"
                print "    proxy_temp_path " t "/tmp/proxy;"
                print "    fastcgi_temp_path " t "/tmp/fcgi;"
                print "    uwsgi_temp_path " t "/tmp/uwsgi;"
                print "    scgi_temp_path " t "/tmp/scgi;"
            }' "$T/nginx/readme.conf" >"$T/nginx/nginx.conf"
        "$_nc" -p "$T/nginx" -c "$T/nginx/nginx.conf" \
            >"$T/nginx/out" 2>&1 &
        NGINX_PID=$!
        SERVER_PIDS="$SERVER_PIDS $NGINX_PID"
        _nc_end=$(($(now_ms) + $(scaled 20) * 1000))
        while alive "$NGINX_PID" && [ "$(now_ms)" -lt "$_nc_end" ]; do
            if curl -s -o /dev/null "http://127.0.0.1:$NGINX_PORT/health"; then
                NGINX_BASE=http://127.0.0.1:$NGINX_PORT
                return 0
            fi
            sleep 0.05
        done
        kill -TERM "$NGINX_PID" 2>/dev/null
    done
    cat "$T/nginx/out" "$T/nginx/logs/error.log" "$T/nginx/nginx.conf" >&2
    fail "nginx did not start"
}
