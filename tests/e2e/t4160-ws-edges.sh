#!/bin/sh
# The WebSocket client (rt/ws_client.h, through drivers/wsdrv.c) against a
# scripted peer (drivers/wsscript.py) that does what a real server rarely
# does: a seq far ahead, a redirect, a message over the size limit, a
# server that stops reading, a new epoch that claims recovered:true, no
# welcome, an ack lost after its broadcast.  Each case was a bug once;
# each check is about what a user of the client would notice.  The
# scripted peer logs what the client sent (requests, frames, close codes)
# to NAME.log, one JSON object a line.
. "$(dirname "$0")/lib.sh"

# start_script NAME: run wsscript.py with the scenario NAME.py (written
# just before) in the background, its log in NAME.log; wait for its port.
# Sets SPID and WSURL (its ws://.../ws/r); the EXIT trap stops it.
start_script() {
    : >"$1.log"
    "$RT_PY" "$RT_DRIVERS/wsscript.py" "$1.py" "$1.port" "$1.log" \
        2>"$1.pyerr" &
    SPID=$!
    SERVER_PIDS="$SERVER_PIDS $SPID"
    wait_until 10 "wsscript.py $1.py listening (see $1.pyerr)" \
        test -s "$1.port"
    WSURL=ws://127.0.0.1:$(cat "$1.port")/ws/r
}

# stop_script: stop the scripted peer of the last start_script.
stop_script() {
    kill -TERM "$SPID" 2>/dev/null
    wait "$SPID" 2>/dev/null
    _ss_left=
    for _ss_p in $SERVER_PIDS; do
        [ "$_ss_p" = "$SPID" ] || _ss_left="$_ss_left $_ss_p"
    done
    SERVER_PIDS=$_ss_left
}

# drv NAME ARGS...: `wsdrv follow $WSURL ARGS` in the background, its
# lines in NAME.out (bg_drv); sets DPID.  Reconnections after 0-100 ms,
# so that the checks do not wait on the default 1 s backoff.
drv() {
    _dv_name=$1
    shift
    bg_drv "$_dv_name" "$WSDRV" follow "$WSURL" --base-ms 100 \
        --deadline-ms 30000 "$@"
    DPID=$BG_PID
}

# finish NAME CODE [WHAT]: the driver exits within 20 s (else fail naming
# WHAT, showing what it and the peer saw), with status CODE.
finish() {
    _fi_end=$(($(now_ms) + 20000))
    while alive "$DPID"; do
        if [ "$(now_ms)" -ge "$_fi_end" ]; then
            show_both "$1"
            fail "${3:-$1: the driver does not exit}: not within 20s"
        fi
        sleep 0.05
    done
    wait_drv "$DPID" "$1" "$2"
}

# show_both NAME: on stderr, what the driver printed (but its messages)
# and the last lines of the peer's log.
show_both() {
    show_states "$1.out"
    printf '%s\n' "--- $1.log (last lines)" >&2
    tail -n 20 "$1.log" | cut -c1-300 >&2
}

# expect_log NAME PATTERN WHAT / expect_out NAME PATTERN WHAT: the peer's
# log (or the driver's output) has a line matching the extended regex
# PATTERN, else fail naming WHAT, after show_both.  refute_log and
# refute_out: no line matches.
expect_log() {
    grep -Eq -- "$2" "$1.log" || { show_both "$1"; fail "$3"; }
}
expect_out() {
    grep -Eq -- "$2" "$1.out" || { show_both "$1"; fail "$3"; }
}
refute_log() {
    ! grep -Eq -- "$2" "$1.log" || { show_both "$1"; fail "$3"; }
}
refute_out() {
    ! grep -Eq -- "$2" "$1.out" || { show_both "$1"; fail "$3"; }
}

# messages NAME: the driver's delivered messages, "SEQ CONTENT" a line.
messages() {
    sed -n 's/^{"type":"message","seq":\([0-9]*\),"content":"\(.*\)"}$/\1 \2/p' \
        "$1.out"
}

# --- 1. A seq far ahead of the order buffer's window: the client does not
# crash or hold it, it resumes from the last delivered seq (0).  (The
# detail naming seq 5000 is the check on a use after free that once
# printed a garbage seq there.)
cat >far.py <<'EOF'
from wsscript import welcome, text, resumed

def handle(c):
    c.request()
    c.upgrade()
    c.send(welcome("u1", "E1", 0))
    if c.n == 1:
        c.send(text(5000, "far ahead"))
    else:
        c.send(resumed(1, 0, True))
        c.send(text(1, "m1"))
    c.until_close()
EOF
start_script far
drv far --count 1
finish far 0
expect_out far '"state":"backoff".*"err":"GAP".*"detail":"seq 5000 arrived while 1 was expected' \
    "no backoff with err GAP naming seq 5000"
expect_log far '"conn":2,"event":"request","line":"GET /ws/r\?([^ ]*&)?since=0[& ]' \
    "the second connection does not resume from since=0"
[ "$(messages far)" = "1 m1" ] ||
    { show_both far; fail "delivered '$(messages far)', expected only '1 m1'"; }
stop_script
ok "seq 5000 after welcome seq 0: err GAP, reconnects with since=0, delivers seq 1 only"

# --- 2. A redirect (302) to a working server: an answer like any other
# status, not followed; the client backs off and, with max-retries, gives
# up (exit 3, EXHAUSTED).
start_server
cat >redir.py <<'EOF'
import os

def handle(c):
    c.request()
    c.answer(302, ["Location: ws://127.0.0.1:%s/ws/r"
                   % os.environ["REDIRECT_PORT"]])
EOF
REDIRECT_PORT=$PORT
export REDIRECT_PORT
start_script redir
drv redir --max-retries 2
finish redir 3
[ "$(count_lines '"state":"backoff".*"err":"HTTP".*"detail":"HTTP 302' redir.out)" -eq 2 ] ||
    { show_both redir; fail "not two backoffs with err HTTP, detail 'HTTP 302'"; }
expect_out redir '"state":"closed".*"err":"EXHAUSTED".*"detail":"gave up after 2 retries: HTTP 302' \
    "the client does not stop with EXHAUSTED after HTTP 302"
[ "$(count_lines '"event":"request"' redir.log)" -eq 3 ] ||
    { show_both redir; fail "the scripted server saw $(count_lines '"event":"request"' redir.log) requests, expected 3"; }
refute_out redir '"type":"welcome"|"state":"open"' "the client followed the redirect"
curl -sf "$BASE/metrics" >metrics || fail "GET /metrics"
check_grep '^rtctl_connections_accepted_total\{transport="ws"\} 0$' metrics
stop_script
expect_clean_stop
ok "HTTP 302: reported, not followed (the target saw no WebSocket), backoff, exit 3 after 3 attempts"

# --- 3. A close by the user sends a real close frame, with code 1000.
cat >close.py <<'EOF'
from wsscript import welcome

def handle(c):
    c.request()
    c.upgrade()
    c.send(welcome("u1", "E1", 0))
    c.until_close()
EOF
start_script close
drv close --close-at-open
finish close 0
expect_log close '"conn":1,"event":"frame","op":8,"code":1000,' \
    "the server received no close frame with code 1000"
expect_out close '"state":"closed","delay_ms":0,"err":""' \
    "the client did not end with state closed, no error"
[ "$(count_lines '"event":"request"' close.log)" -eq 1 ] ||
    { show_both close; fail "the client connected again after its close"; }
stop_script
ok "a user close: the server receives opcode 8 with code 1000; exit 0"

# --- 4. A message over max_message_bytes: close 1009, stop with TOOBIG.
cat >big.py <<'EOF'
from wsscript import welcome, text

def handle(c):
    c.request()
    c.upgrade()
    c.send(welcome("u1", "E1", 0))
    c.send(text(1, "x" * 5000))
    c.until_close()
EOF
start_script big
drv big --max-msg 1000
finish big 3
expect_log big '"conn":1,"event":"frame","op":8,"code":1009,' \
    "the server received no close frame with code 1009"
expect_out big '"state":"closed".*"err":"TOOBIG".*"detail":"a message is longer than 1000 bytes"' \
    "the client did not stop with TOOBIG"
refute_out big '"type":"message"' "the oversized message was delivered"
[ "$(count_lines '"event":"request"' big.log)" -eq 1 ] ||
    { show_both big; fail "the client reconnected after TOOBIG"; }
stop_script
ok "a 5000-byte message over --max-msg 1000: close 1009, TOOBIG, no reconnection, exit 3"

# --- 5. A server that upgrades and never reads, with 13 MB queued: the
# close frame cannot be written, yet the close completes (the client gives
# the server 5 s, then drops the connection) and the driver exits.  Once
# it has, the peer reads what reached it: a part of the data and no close
# frame, so the client really was stuck behind a full connection.
cat >noread.py <<'EOF'
from wsscript import welcome

def handle(c):
    c.request()
    c.upgrade()
    c.send(welcome("u1", "E1", 0))
    c.wait_file("noread.go")
    while True:
        c.recv(5)
EOF
start_script noread
drv noread --bulk 200 --close-at-open
wait_until 10 "the client opens and closes" \
    grep -q '"type":"close"' noread.out
expect_out noread '"type":"close","pending":200}' \
    "the 200 messages were not all queued when the client closed"
finish noread 0 "the close does not complete while the server reads nothing"
expect_out noread '"state":"closed","delay_ms":0,"err":""' \
    "the client did not end with state closed"
touch noread.go
wait_until 20 "the scripted server reads to the end" \
    grep -q '"conn":1,"event":"end"' noread.log
refute_log noread '"op":8' "a close frame got through: the server was not stuck"
nframes=$(count_lines '"conn":1,"event":"frame","op":1,' noread.log)
[ "$nframes" -lt 200 ] ||
    { show_both noread; fail "all 200 messages got through: the server was not stuck"; }
stop_script
ok "the server reads nothing: the close completes anyway (it got $nframes of 200 messages, no close frame); exit 0"

# --- 6. A new epoch in the welcome, with a resumed frame that claims
# recovered:true: a since from another epoch is never trusted, so the
# client reports recovered:false and delivers the new epoch's messages.
cat >epoch.py <<'EOF'
from wsscript import welcome, text, resumed

def handle(c):
    c.request()
    c.upgrade()
    if c.n == 1:
        c.send(welcome("u1", "E1", 0))
        c.send(text(1, "old 1"))
        c.send(text(2, "old 2"))
        c.close(1001, "restarting")
    else:
        c.send(welcome("u1", "E2", 2))
        c.send(text(1, "new 1"))
        c.send(text(2, "new 2"))
        c.send(resumed(1, 2, True))
        c.send(text(3, "new 3"))
    c.until_close()
EOF
start_script epoch
drv epoch --count 5
finish epoch 0
expect_log epoch '"conn":2,"event":"request","line":"GET /ws/r\?([^ ]*&)?since=2[& ]' \
    "the second connection does not resume from since=2"
expect_log epoch '"conn":2,"event":"request","line":"GET /ws/r\?([^ ]*&)?epoch=E1[& ]' \
    "the second connection does not name epoch E1"
expect_out epoch '"type":"welcome","user":"u1","epoch":"E2"' "no welcome in E2"
expect_out epoch '"type":"resumed","recovered":false,"from":1,"to":2' \
    "the client did not report recovered:false"
refute_out epoch '"recovered":true' "the client reported recovered:true"
printf '1 old 1\n2 old 2\n1 new 1\n2 new 2\n3 new 3\n' >epoch.want
messages epoch >epoch.got
cmp -s epoch.want epoch.got ||
    { show_both epoch; cat epoch.got >&2; fail "not old 1-2 then new 1-3"; }
# on_resumed(0) comes before the messages of the replay.
[ "$(grep -n '"recovered":false' epoch.out | cut -d: -f1)" -lt \
    "$(grep -n '"content":"new 1"' epoch.out | cut -d: -f1)" ] ||
    { show_both epoch; fail "resumed reported after the replay"; }
stop_script
ok "epoch E1 -> E2 with recovered:true: reported recovered:false, then new 1..3 delivered; exit 0"

# --- 7. A server that upgrades and never sends the welcome: after
# connect_timeout the connection is replaced (TIMEDOUT, "no welcome").
cat >silent.py <<'EOF'
def handle(c):
    c.request()
    c.upgrade()
    c.until_close(30)
EOF
start_script silent
# The timeout leaves a loaded machine seconds for the upgrade itself, so
# that what times out is the welcome.
cms=$((2000 * RT_E2E_SCALE))
drv silent --connect-ms "$cms" --max-retries 1
finish silent 3
expect_out silent '"state":"backoff".*"err":"TIMEDOUT".*"detail":"no welcome within '"$cms"' ms' \
    "no backoff with err TIMEDOUT, 'no welcome within $cms ms'"
expect_log silent '"conn":2,"event":"request"' "the connection was not replaced"
expect_out silent '"state":"closed".*"err":"EXHAUSTED".*no welcome within '"$cms"' ms' \
    "the client did not give up with EXHAUSTED after its retry"
refute_out silent '"type":"welcome"|"state":"open"' "the client took the connection as open"
stop_script
ok "no welcome: TIMEDOUT 'no welcome within $cms ms', a new connection, EXHAUSTED after --max-retries 1; exit 3"

# --- 8. The broadcast of our own message arrives and the connection ends
# before its ack: the broadcast is the ack (seq 1), and the message is not
# sent again after the reconnection.  On the second connection the client
# sends a marker message; anything it sent again would go out before it.
cat >ours.py <<'EOF'
from wsscript import welcome, text, resumed

def handle(c):
    c.request()
    c.upgrade()
    if c.n == 1:
        c.send(welcome("u1", "E1", 0))
        c.recv()  # id0, "hello 0"
        c.send(text(1, "hello 0", author="u1", id="id0"))
        c.close(1001, "going away")  # and no ack for id0
        c.until_close()
        return
    c.send(welcome("u1", "E1", 1))
    c.send(resumed(2, 1, True))
    while True:  # up to the marker
        op, p = c.recv()
        if op == 1 and b'"mark' in p:
            break
    c.send(text(2, "mark 2", author="u1", id="mark2"))
    c.send({"type": "ack", "id": "mark2", "seq": 2})
    c.until_close()
EOF
start_script ours
drv ours --send 1 --mark --count 2
finish ours 0
expect_log ours '"conn":2,"event":"request","line":"GET /ws/r\?([^ ]*&)?since=1[& ]' \
    "the second connection does not resume from since=1"
[ "$(count_lines '"event":"frame","op":1,.*"id":"id0"' ours.log)" -eq 1 ] ||
    { show_both ours; fail "id0 was sent $(count_lines '"id":"id0"' ours.log) times, expected once"; }
expect_log ours '"conn":2,"event":"frame","op":1,.*"id":"mark2"' \
    "the marker did not arrive on the second connection"
[ "$(count_lines '"type":"ack","id":"id0"' ours.out)" -eq 1 ] ||
    { show_both ours; fail "id0 not acked exactly once"; }
expect_out ours '"type":"ack","id":"id0","seq":1,"code":null' \
    "id0 not acked with the broadcast's seq 1"
expect_out ours '"type":"ack","id":"mark2","seq":2,"code":null' \
    "the marker not acked"
printf '1 hello 0\n2 mark 2\n' >ours.want
messages ours >ours.got
cmp -s ours.want ours.got ||
    { show_both ours; cat ours.got >&2; fail "not 'hello 0' then 'mark 2'"; }
stop_script
ok "own broadcast without its ack: acked with seq 1, not sent again after the reconnection; exit 0"

done_testing
