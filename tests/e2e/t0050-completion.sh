#!/bin/sh
# The bash completion completes commands, each command's options, file
# names after options that take a file, and command names after "help",
# all asked of the rtctl under test.
. "$(dirname "$0")/lib.sh"

command -v bash >/dev/null || fail "bash is not installed"

# complete WORDS...: print the candidates for the last word, one a line.
cat >complete.bash <<EOS
. "$RT_SRCDIR/completions/rtctl.bash"
COMP_WORDS=("\$@")
COMP_WORDS[0]="$RTCTL"
COMP_CWORD=\$((\${#COMP_WORDS[@]} - 1))
_rtctl
[ \${#COMPREPLY[@]} -eq 0 ] || printf '%s\n' "\${COMPREPLY[@]}"
EOS
complete() { bash complete.bash "$@" | sort; }

complete rtctl "" >got
"$RTCTL" --list-cmds | sort >want
echo help >>want
sort -o want want
cmp -s got want || fail "commands: got $(tr '\n' ' ' <got)"
ok "completes every command"

complete rtctl ta >got
check_file got "tail"
ok "completes a command prefix"

complete rtctl tail --ca >got
check_file got "--cacert"
ok "completes a command's option"

complete rtctl serve --tls- >got
check_file got "--tls-cert
--tls-key"
ok "completes options of another command"

: >certfile.pem
complete rtctl tail --cacert certf >got
check_file got "certfile.pem"
ok "completes a file name after --cacert"

complete rtctl tail --count "" >got
check_empty got
ok "offers nothing after an option taking a number"

complete rtctl help to >got
check_file got "token"
ok "completes a command name after help"

done_testing
