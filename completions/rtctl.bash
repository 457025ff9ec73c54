# bash completion for rtctl(1).
#
# Commands and options come from rtctl itself (the hidden --list-cmds and
# COMMAND --list-opts), so this file never goes stale.  An option's value is
# completed as a file name when its --help metavar names a file (FILE, PEM,
# PATH, DIR), as a command name after "help", and otherwise left alone.
#
# Installed as share/bash-completion/completions/rtctl; zsh users can load
# it with "autoload -U bashcompinit && bashcompinit && source rtctl.bash".

_rtctl_metavar()
{
    # The metavar --help prints after option $2 of command $1, if any.
    "$1" "$2" --help 2>/dev/null |
        sed -n "s/^ *\(-[A-Za-z], \)\{0,1\}$3[ =]\([A-Z][A-Z_.]*\).*/\2/p" |
        head -n 1
}

_rtctl()
{
    local cur prev rtctl cmd i meta
    COMPREPLY=()
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    rtctl=${COMP_WORDS[0]}

    cmd=
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
        -*) ;;
        *) cmd=${COMP_WORDS[i]}; break ;;
        esac
    done

    if [[ -z $cmd ]]; then
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W '--help --version' -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$("$rtctl" --list-cmds 2>/dev/null) help" \
                -- "$cur"))
        fi
        return 0
    fi

    if [[ $cmd == help ]]; then
        COMPREPLY=($(compgen -W "$("$rtctl" --list-cmds 2>/dev/null)" \
            -- "$cur"))
        return 0
    fi

    if [[ $prev == -* && $prev != "$cur" ]]; then
        meta=$(_rtctl_metavar "$rtctl" "$cmd" "$prev")
        case $meta in
        FILE | PEM | PATH | *FILE) COMPREPLY=($(compgen -f -- "$cur")); return 0 ;;
        DIR) COMPREPLY=($(compgen -d -- "$cur")); return 0 ;;
        ?*) return 0 ;;
        esac
    fi

    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$("$rtctl" "$cmd" --list-opts 2>/dev/null)" \
            -- "$cur"))
    fi
    return 0
}

complete -o default -F _rtctl rtctl
