#!/bin/sh
# rtctl chat on a terminal (issue "rtctl chat ROOM"), driven in tmux: a
# message that arrives while a line is half typed is printed above the
# prompt, and the prompt line still holds the unfinished text; the line,
# once entered, is shown once (when the server broadcasts it, marked
# delivered); Tab completion, /who, typing notices sent while typing, the
# history file, and /quit exiting 0.  Skipped (77) when tmux is not
# installed.
. "$(dirname "$0")/lib.sh"

tmux_setup chat
start_server

# prompt_line: the last non-empty line of the screen.
prompt_line() {
    grep -v '^$' pane | tail -n 1
}

# A listener in the room, to be online and to see carol's typing.
bg timeout 100 "$RTCTL" chat --json --count 1000 --user bob --url "$BASE" \
    general </dev/null >bob.out 2>bob.err
wait_until 20 "bob's chat is open" grep -q '"state":"open"' bob.err

mkdir state
tm -f /dev/null new-session -d -s chat -x 120 -y 30 \
    "env LC_ALL=C.UTF-8 TERM=screen XDG_STATE_HOME='$T/state' \
     '$RTCTL' chat --user carol --url '$BASE' general; \
     echo \$? >'$T/code'"
wait_until 20 "the prompt 'general>'" pane_has '^general>$'
check_grep '^rtctl chat: joined general as carol; 2 online: ' pane
ok "the chat joins and shows the prompt"

# An unfinished line, without Enter.
tm send-keys -t chat -l 'unfinished words'
wait_until 10 "the typed text on the prompt line" \
    pane_has '^general> unfinished words$'

# Another client publishes while carol is typing.
curl -sS --max-time 10 -o /dev/null \
    -d '{"type":"text","data":{"content":"hello from dave"}}' \
    "$BASE/publish/general?user=dave" || fail "publishing"
wait_until 10 "dave's message on the screen" \
    pane_has '^[0-2][0-9]:[0-5][0-9]:[0-5][0-9] dave: hello from dave$'
msg=$(grep -n 'dave: hello from dave$' pane | cut -d: -f1)
prompt=$(grep -n '^general> ' pane | cut -d: -f1)
[ "$(echo "$prompt" | wc -l)" -eq 1 ] || { show_pane; fail "one prompt line"; }
[ "$msg" -lt "$prompt" ] ||
    { show_pane; fail "the message is not above the prompt"; }
[ "$(prompt_line)" = "general> unfinished words" ] ||
    { show_pane; fail "the prompt line lost the unfinished text"; }
ok "a message arriving mid-line goes above the prompt; the line is intact"

# The cursor is still at the end of the line: typing goes on from there.
tm send-keys -t chat -l ' end'
wait_until 10 "the line continued" \
    pane_has '^general> unfinished words end$'

# carol's typing reached bob (sent by itself while typing).
wait_until 10 "bob sees carol typing" grep -q \
    '"type":"typing".*"user":"carol","state":true' bob.out

# Enter: the line leaves the prompt and comes back once, delivered.
tm send-keys -t chat Enter
wait_until 10 "carol's message, delivered" \
    pane_has '^[0-9:]{8} carol: unfinished words end ✓$'
wait_until 10 "an empty prompt" pane_has '^general>$'
[ "$(grep -c 'unfinished words end' pane)" -eq 1 ] ||
    { show_pane; fail "carol's message is not shown exactly once"; }
[ "$(prompt_line)" = "general>" ] || { show_pane; fail "prompt not last"; }
wait_until 10 "bob got carol's message" grep -q \
    '"author":"carol","content":"unfinished words end"' bob.out
ok "the entered line is shown once, when broadcast, marked delivered"

# Colour: carol's own name in green (and bold) on the terminal.
tm capture-pane -e -p -t chat >pane.esc
# tmux re-encodes the attributes: bold and green may come apart.
grep "$(printf '\033')\\[32mcarol" pane.esc | grep -q 'unfinished words end' ||
    { cat -v pane.esc >&2; fail "no colour on a terminal"; }
ok "colour on a terminal"

# Tab completes a command, then /who lists who is online.
tm send-keys -t chat -l '/wh'
tm send-keys -t chat Tab
wait_until 10 "/wh completed" pane_has '^general> /who$'
tm send-keys -t chat Enter
wait_until 10 "the /who answer" pane_has '\* online \(2\): '
grep -E '\* online \(2\): ' pane | grep -q bob &&
    grep -E '\* online \(2\): ' pane | grep -q carol ||
    { show_pane; fail "/who does not list bob and carol"; }
# Names complete too.
tm send-keys -t chat -l 'hi b'
tm send-keys -t chat Tab
wait_until 10 "bob completed" pane_has '^general> hi bob$'
tm send-keys -t chat C-u
ok "Tab completes commands and names; /who lists the room"

# /join: another room of the same server.
tm send-keys -t chat -l '/join other'
tm send-keys -t chat Enter
wait_until 10 "the prompt 'other>'" pane_has '^other>$'
check_grep '^rtctl chat: left general$' pane
check_grep '^rtctl chat: joined other as carol; 1 online: carol$' pane
curl -sS --max-time 10 -o /dev/null \
    -d '{"type":"text","data":{"content":"news in other"}}' \
    "$BASE/publish/other?user=dave" || fail "publishing"
wait_until 10 "the message of the new room" \
    pane_has '^[0-9:]{8} dave: news in other$'
ok "/join moves to another room"

# /quit: exit 0, the history kept.
tm send-keys -t chat -l '/quit'
tm send-keys -t chat Enter
wait_until 10 "the chat exits" test -s code
[ "$(cat code)" -eq 0 ] || fail "/quit: exit $(cat code), not 0"
check_grep '^unfinished words end$' state/rtctl/history
check_grep '^/who ?$' state/rtctl/history
ok "/quit exits 0; the history is in \$XDG_STATE_HOME/rtctl/history"

done_testing
