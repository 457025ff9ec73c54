#!/bin/sh
# rtctl connect on a terminal, driven in tmux: a line saying it is
# connected (with the hint for the slash commands), received frames
# marked "< " and typed lines sent, /ping answered by a pong shown with
# --show-control, and /close CODE REASON ending with the close code and
# reason on the screen; exit 0.  Skipped (77) when tmux is missing.
. "$(dirname "$0")/lib.sh"

tmux_setup c
start_server

wait_pane() {
    _wp_end=$(($(now_ms) + $(scaled 20) * 1000))
    until pane_has "$1"; do
        [ "$(now_ms)" -lt "$_wp_end" ] || { show_pane; fail "$2"; }
        sleep 0.05
    done
}

tm -f /dev/null new-session -d -s c -x 120 -y 30 \
    "env LC_ALL=C.UTF-8 TERM=screen NO_COLOR=1 '$RTCTL' connect \
     --show-control '$WSBASE/echo'; echo \"exit \$?\" >'$T/code'; sleep 30"
wait_pane "^rtctl connect: connected to $WSBASE/echo \\(/help: the commands; Ctrl-D closes\\)$" \
    "no connected line"
ok "a connected line, with the hint for the commands"

tm send-keys -t c 'hello there' Enter
wait_pane '^< hello there$' "no marked answer"
pane
[ "$(grep -c 'hello there' pane)" -eq 2 ] || { show_pane; fail "not typed once, echoed once"; }
ok "typed lines are sent; received frames are marked '< '"

tm send-keys -t c '/ping abc' Enter
wait_pane '^rtctl connect: < pong: abc$' "no pong"
ok "/ping DATA, and its pong"

tm send-keys -t c '/close 4002 see you' Enter
wait_pane '^rtctl connect: closed: 4002 \(see you\)$' "no closed line"
wait_until 20 "the exit status" test -s "$T/code"
[ "$(cat "$T/code")" = "exit 0" ] || fail "$(cat "$T/code")"
ok "/close CODE REASON: the close code and reason at the end, exit 0"

done_testing
