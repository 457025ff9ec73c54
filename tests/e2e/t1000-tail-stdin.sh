#!/bin/sh
# rtctl tail reading a raw event stream from standard input or a file:
# the WHATWG parsing rules as a user sees them, the exact JSON output,
# the filters and the documented exit statuses.
. "$(dirname "$0")/lib.sh"

printf 'data: hi\n\n' >s
expect_code 0 sh -c "\"\$RTCTL\" tail --json - <s"
check_file out '{"event":"message","id":"","data":"hi"}'
check_empty err
ok "the example of the issue, byte for byte"

printf '\357\273\277: comment\r\nevent: text\r\nid: k3-1\r\ndata: a\r\ndata:b\r\n\r\ndata: two\rdata: lines\r\rdata\n\nretry: 10\nid\nevent: x\ndata: 3\n\n' >s
expect_code 0 "$RTCTL" tail --json --file s
check_file out '{"event":"text","id":"k3-1","data":"a\nb"}
{"event":"message","id":"k3-1","data":"two\nlines"}
{"event":"message","id":"k3-1","data":""}
{"event":"x","id":"","data":"3"}'
ok "BOM, CR/LF/CRLF, comments, id kept then reset, event reset"

printf 'data: a\0b\n\ndata: \351t\303\251\n\n' >s
expect_code 0 "$RTCTL" tail --json --file s
check_file out '{"event":"message","id":"","data":"a\u0000b"}
{"event":"message","id":"","data":"'"$(printf '\357\277\275')"'t'"$(printf '\303\251')"'"}'
ok "NUL escaped as \\u0000, ill-formed UTF-8 as U+FFFD"

printf 'data: 1\n\ndata: never dispatched' >s
expect_code 0 "$RTCTL" tail --json --file s
check_file out '{"event":"message","id":"","data":"1"}'
ok "an unterminated final event is not dispatched"

printf 'id: 7\ndata: a\n\nevent: b\ndata: b\n\ndata: c\n\nevent: b\ndata: d\n\n' >s
expect_code 0 "$RTCTL" tail --file s
check_file out '[message 7] a
[b 7] b
[message 7] c
[b 7] d'
ok "human output names the type and id"

expect_code 0 "$RTCTL" tail --json --event b --count 1 --file s
check_file out '{"event":"b","id":"7","data":"b"}'
ok "--event filters and --count stops"

expect_code 1 "$RTCTL" tail --count 9 --file s
check_grep 'ended after 4 of 9 events' err
ok "end of input before --count exits 1"

printf 'data: x\n\n' >s
expect_code 0 "$RTCTL" tail --json --since k3-41 --file s
check_file out '{"event":"message","id":"k3-41","data":"x"}'
ok "--since sets the first last event ID"

expect_code 1 "$RTCTL" tail --file does-not-exist
check_grep "cannot open 'does-not-exist'" err
ok "missing file exits 1 and names it"

printf 'data: %0200d\n\n' 0 >s
expect_code 4 "$RTCTL" tail --max-line 100 --file s
check_grep 'longer than --max-line' err
expect_code 0 "$RTCTL" tail --max-line 206 --file s
ok "a line over --max-line is a protocol error (exit 4)"

expect_code 2 "$RTCTL" tail
check_grep "nothing to read" err
expect_code 2 "$RTCTL" tail --file s -
check_grep "not both" err
ok "usage errors exit 2"

i=0
: >many
while [ $i -lt 2000 ]; do
    printf 'data: %d\n\n' $i >>many
    i=$((i + 1))
done
expect_code 0 sh -c "\"\$RTCTL\" tail --file many | head -n 1"
check_file out '[message] 0'
check_empty err
ok "a reader that goes away (EPIPE) is not an error"

if [ -w /dev/full ]; then
    expect_code 1 sh -c "\"\$RTCTL\" tail --file many >/dev/full"
    check_grep 'cannot write to standard output' err
    ok "a full disk is an error (exit 1)"
fi

done_testing
