"""The completion scripts for bash, zsh and fish, written from a ``Spec``.

The three scripts read a command line the same way: global options and their values, the
command, then its options (an option that takes a value takes the next word, or ``--opt=V``)
and its positionals, counted; after ``--`` no word is an option. What the word under the cursor
is decides what is offered: a command, an option, an option's value or a positional's (a choice,
a file, a directory, a container target), or nothing (a word of the command run in the
container).

The words a script holds (commands, flags, choices) are checked against ``spec.SAFE`` and held
in single quotes; descriptions are quoted for their shell. Container targets are never part of
a script: each TAB asks ``debugtool completion SHELL --complete-targets=PREFIX`` and reads its
lines as data. bash inserts a reply as it is, so the bash script quotes each one with
``printf %q``; zsh's ``compadd`` and fish quote what they insert themselves. No script passes
a candidate to ``eval`` or to ``compgen -W``, which expands what a word holds (``$(...)``
included).
"""

from __future__ import annotations

from debugtool.completion.spec import SAFE, Argument, Command, Spec

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

#: argparse's marker of a hidden option (``argparse.SUPPRESS``; argparse is not imported here).
HIDDEN = "==SUPPRESS=="


def write(shell: str, spec: Spec, version: str) -> str:
    """Return the completion script for ``shell`` (one of ``SHELLS``)."""
    spec = _visible(spec)
    writer: Callable[[Spec], str] = {"bash": _bash, "zsh": _zsh, "fish": _fish}[shell]
    header = (
        f"{'#compdef debugtool' + chr(10) if shell == 'zsh' else ''}"
        f"# {shell} completion for debugtool {version}, written by "
        f"'debugtool completion {shell}' from its command line.\n"
        f"# Install it with 'debugtool completion {shell} --install', and again after an\n"
        "# upgrade: new commands and options are offered once it is written anew.\n"
    )
    return header + writer(spec)


def _visible(spec: Spec) -> Spec:
    """``spec`` without hidden options, and with every word checked to be safe unquoted."""

    def keep(arguments: list[Argument]) -> list[Argument]:
        kept = []
        for a in arguments:
            if a.help == HIDDEN:
                continue
            if not all(_safe(f) for f in a.flags):
                raise ValueError(f"an option flag is not a plain word: {a.flags!r}")
            kept.append(
                Argument(a.flags, a.kind, tuple(filter(_safe, a.choices)), a.help, a.repeat)
            )
        return kept

    commands = []
    for c in spec.commands:
        if not _safe(c.name):
            raise ValueError(f"a command name is not a plain word: {c.name!r}")
        actions = tuple(filter(_safe, c.actions))
        commands.append(Command(c.name, c.help, keep(c.options), keep(c.positionals), actions))
    return Spec(keep(spec.options), commands)


def _safe(word: str) -> bool:
    return bool(word) and set(word) <= SAFE


def _value(argument: Argument) -> str:
    """What a script calls an argument's value: ``""``, ``any``, ``file``, ``dir``,
    ``target``, or ``choice:A B C``."""
    if argument.kind == "choice":
        return "choice:" + " ".join(argument.choices)
    return "" if argument.kind == "rest" else argument.kind


def _scopes(spec: Spec) -> list[tuple[str, list[Argument]]]:
    """The option lists by command, ``""`` being the global options."""
    return [("", spec.options), *((c.name, c.options) for c in spec.commands)]


def _positional_cases(command: Command) -> list[tuple[str, str]]:
    """Return ``(pattern, value)`` for the positionals of ``command``: ``NAME/N`` for the N-th,
    ``NAME/*`` for a positional that takes every word from there on."""
    cases = []
    for i, p in enumerate(command.positionals):
        if p.repeat or p.kind == "rest":
            cases.append((f"{command.name}/*", _value(p)))
            break
        cases.append((f"{command.name}/{i}", _value(p)))
    return [(pattern, value) for pattern, value in cases if value]


def _sq(text: str) -> str:
    """``text`` in POSIX single quotes (bash, zsh)."""
    return "'" + text.replace("'", "'\\''") + "'"


def _fq(text: str) -> str:
    """``text`` in fish's single quotes (where ``\\'`` and ``\\\\`` are escapes)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _glob_case(pattern: str) -> str:
    """A case pattern: the literal part quoted, a trailing ``*`` left to match."""
    if pattern.endswith("/*"):
        return _sq(pattern[:-1]) + "*"
    return _sq(pattern)


def _sh_case(name: str, cases: Iterable[tuple[str, str]], subject: str, reply: str) -> str:
    """A bash/zsh function that sets ``reply`` from a ``case`` on ``subject``."""
    lines = [f"{name}() {{", f"    case {subject} in"]
    for pattern, body in cases:
        lines.append(f"    {pattern}) {reply}={body} ;;")
    lines += [f"    *) {reply}= ;;", "    esac", "}", ""]
    return "\n".join(lines)


def _sh_tables(spec: Spec) -> str:
    """The functions bash and zsh share: what an option's value is, what a positional is, and
    which words are a command's actions."""
    values = []
    for scope, options in _scopes(spec):
        for option in options:
            value = _value(option)
            if value:
                pattern = "|".join(_sq(f"{scope}/{flag}") for flag in option.flags)
                values.append((pattern, _sq(value)))
    positionals = [
        (_glob_case(pattern), _sq(value))
        for command in spec.commands
        for pattern, value in _positional_cases(command)
    ]
    actions = [(_sq(c.name), _sq(" ".join(c.actions))) for c in spec.commands if c.actions]
    return (
        "# __debugtool_value COMMAND OPTION: what OPTION takes ('' nothing; COMMAND '' before one)\n"
        + _sh_case("__debugtool_value", values, "$1/$2", "REPLY")
        + "# __debugtool_positional COMMAND N: what the N-th word after COMMAND is (from 0)\n"
        + _sh_case("__debugtool_positional", positionals, "$1/$2", "REPLY")
        + "# __debugtool_actions COMMAND: the words its first positional also takes, files after\n"
        + _sh_case("__debugtool_actions", actions, "$1", "REPLY")
    )


# The walk over the words before the cursor, the same in bash and zsh (@WORDS@: their array).
_SH_WALK = """\
    for word in @WORDS@; do
        if [[ -n $option ]]; then
            option=
        elif [[ -z $dashdash && $word == -?* ]]; then
            if [[ $word == -- ]]; then
                dashdash=1
            elif [[ $word != *=* ]]; then
                __debugtool_value "$command" "$word"
                if [[ -n $REPLY ]]; then option=$word; fi
            fi
        elif [[ -z $command ]]; then
            command=$word
        else
            if ((count == 0)) && [[ -z $dashdash ]]; then
                __debugtool_actions "$command"
                if [[ " $REPLY " == *" $word "* ]]; then action=$word; fi
            fi
            count=$((count + 1))
        fi
    done
"""


def _bash(spec: Spec) -> str:
    options = [
        (_sq(scope), _sq(" ".join(f for o in opts for f in o.flags)))
        for scope, opts in _scopes(spec)
    ]
    commands = " ".join(c.name for c in spec.commands)
    return (
        "\n"
        + f"__debugtool_commands() {{ REPLY={_sq(commands)}; }}\n\n"
        + "# __debugtool_options COMMAND: its options ('' the global ones)\n"
        + _sh_case("__debugtool_options", options, "$1", "REPLY")
        + _sh_tables(spec)
        + _BASH_MAIN.replace("@WORDS@", '"${words[@]:1}"')
    )


_BASH_MAIN = (
    r"""# Add to COMPREPLY the words of $1 that start with $2. Neither is expanded (compgen -W would
# expand them: a word holding $(...) would run).
__debugtool_words() {
    local word
    local -a list
    read -r -a list <<<"$1"
    for word in "${list[@]}"; do
        if [[ $word == "$2"* ]]; then COMPREPLY+=("$word"); fi
    done
}

# Add the container targets that start with $1, each quoted with printf %q: bash inserts a
# reply as it stands, and a name may hold spaces or $(...). Bash replaces only what follows the
# last COMP_WORDBREAKS character of the word (':' by default), so that part is what is added.
__debugtool_targets() {
    local cur=$1 pre= candidate
    local -a found
    if [[ $COMP_WORDBREAKS == *:* && $cur == *:* ]]; then pre=${cur%"${cur##*:}"}; fi
    mapfile -t found < <(command debugtool completion bash --complete-targets="$cur" 2>/dev/null)
    for candidate in "${found[@]}"; do
        if [[ $candidate == "$cur"?* ]]; then
            printf -v candidate %q "${candidate#"$pre"}"
            COMPREPLY+=("$candidate")
        fi
    done
    # A qualifier ('docker:', 'pod/') is the start of a target, not a word of its own.
    if [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *[/:] ]]; then compopt -o nospace 2>/dev/null; fi
}

# __debugtool_complete VALUE CUR: offer what VALUE (of __debugtool_value) says, for CUR.
__debugtool_complete() {
    case $1 in
    choice:*) __debugtool_words "${1#choice:}" "$2" ;;
    file)
        compopt -o filenames 2>/dev/null
        mapfile -t -O "${#COMPREPLY[@]}" COMPREPLY < <(compgen -f -- "$2")
        ;;
    dir)
        compopt -o filenames 2>/dev/null
        mapfile -t -O "${#COMPREPLY[@]}" COMPREPLY < <(compgen -d -- "$2")
        ;;
    target) __debugtool_targets "$2" ;;
    esac
}

_debugtool() {
    local REPLY word line=${COMP_LINE:0:COMP_POINT} cur command= option= action= dashdash=
    local count=0
    local -a words
    COMPREPLY=()
    # The word under the cursor, whole: COMP_WORDS splits 'docker:web' at the colon.
    cur=${line##*[[:space:]]}
    read -r -a words <<<"${line:0:${#line}-${#cur}}"
"""
    + _SH_WALK
    + r"""    if [[ -n $option ]]; then
        __debugtool_value "$command" "$option"
        __debugtool_complete "$REPLY" "$cur"
    elif [[ -z $dashdash && $cur == --*=* ]]; then
        __debugtool_value "$command" "${cur%%=*}"
        __debugtool_complete "$REPLY" "${cur#*=}"
    elif [[ -z $dashdash && $cur == -* ]]; then
        __debugtool_options "$command"
        __debugtool_words "$REPLY" "$cur"
    elif [[ -z $command ]]; then
        __debugtool_commands
        __debugtool_words "$REPLY" "$cur"
    elif [[ -n $action ]]; then
        __debugtool_complete file "$cur"
    else
        if ((count == 0)) && [[ -z $dashdash ]]; then
            __debugtool_actions "$command"
            __debugtool_words "$REPLY" "$cur"
        fi
        __debugtool_positional "$command" "$count"
        __debugtool_complete "$REPLY" "$cur"
    fi
    return 0
}

complete -F _debugtool debugtool
"""
)


def _zsh_described(arguments: Iterable[tuple[str, str]]) -> str:
    """``'word:description'`` entries for ``_describe`` (a colon in a word is escaped)."""
    return " ".join(_sq(f"{word.replace(':', chr(92) + ':')}:{text}") for word, text in arguments)


def _zsh(spec: Spec) -> str:
    options = [
        (_sq(scope), f"({_zsh_described((f, o.help) for o in opts for f in o.flags)})")
        for scope, opts in _scopes(spec)
    ]
    commands = _zsh_described((c.name, c.help) for c in spec.commands)
    return (
        "\n"
        + f"__debugtool_commands() {{ reply=({commands}); }}\n\n"
        + "# __debugtool_options COMMAND: its options as 'flag:description' ('' the global ones)\n"
        + _sh_case("__debugtool_options", options, "$1", "reply")
        + _sh_tables(spec)
        + _ZSH_MAIN.replace("@WORDS@", '"${(@)words[2,CURRENT-1]}"')
    )


_ZSH_MAIN = (
    r"""# Offer the container targets that start with the word under the cursor; compadd quotes
# what it inserts (a name may hold spaces or $(...)). A qualifier ('docker:', 'pod/') is the
# start of a target: no space after it.
__debugtool_targets() {
    local -a found qualifiers
    found=("${(@f)$(command debugtool completion zsh --complete-targets="$PREFIX" 2>/dev/null)}")
    found=(${found:#})
    qualifiers=(${(M)found:#*[/:]})
    found=(${found:#*[/:]})
    if (($#qualifiers)); then compadd -S '' -- "${qualifiers[@]}"; fi
    if (($#found)); then compadd -- "${found[@]}"; fi
}

# __debugtool_complete VALUE: offer what VALUE (of __debugtool_value) says.
__debugtool_complete() {
    case $1 in
    choice:*) compadd -- ${=${1#choice:}} ;;
    file) _files ;;
    dir) _files -/ ;;
    target) __debugtool_targets ;;
    esac
}

_debugtool() {
    local REPLY word command= option= action= dashdash=
    local count=0
    local -a reply
"""
    + _SH_WALK
    + r"""    if [[ -n $option ]]; then
        __debugtool_value "$command" "$option"
        __debugtool_complete "$REPLY"
    elif [[ -z $dashdash && $PREFIX == --*=* ]]; then
        __debugtool_value "$command" "${PREFIX%%=*}"
        compset -P '*='
        __debugtool_complete "$REPLY"
    elif [[ -z $dashdash && $PREFIX == -* ]]; then
        __debugtool_options "$command"
        _describe -t options option reply
    elif [[ -z $command ]]; then
        __debugtool_commands
        _describe -t commands command reply
    elif [[ -n $action ]]; then
        _files
    else
        if ((count == 0)) && [[ -z $dashdash ]]; then
            __debugtool_actions "$command"
            if [[ -n $REPLY ]]; then compadd -- ${=REPLY}; fi
        fi
        __debugtool_positional "$command" "$count"
        __debugtool_complete "$REPLY"
    fi
    return 0
}

# Autoloaded from $fpath the file is _debugtool's body: define, then complete. Sourced: register.
if [[ $funcstack[1] == _debugtool ]]; then
    _debugtool "$@"
else
    compdef _debugtool debugtool
fi
"""
)


def _fish_switch(name: str, cases: Iterable[tuple[str, str]], subject: str) -> str:
    lines = [f"function {name}", f"    switch {subject}"]
    for pattern, body in cases:
        lines += [f"        case {pattern}", f"            {body}"]
    lines += ["    end", "end", ""]
    return "\n".join(lines)


def _fish(spec: Spec) -> str:
    values = []
    for scope, options in _scopes(spec):
        for option in options:
            value = _value(option)
            if value:
                pattern = " ".join(_fq(f"{scope}/{flag}") for flag in option.flags)
                values.append((pattern, f"echo {_fq(value)}"))
    positionals = [
        (_fq(pattern), f"echo {_fq(value)}")
        for command in spec.commands
        for pattern, value in _positional_cases(command)
    ]
    actions = [
        (_fq(c.name), "printf '%s\\n' " + " ".join(map(_fq, c.actions)))
        for c in spec.commands
        if c.actions
    ]
    lines = [
        "",
        "# __debugtool_value COMMAND OPTION: what OPTION takes ('' nothing; COMMAND '' before one)",
        _fish_switch("__debugtool_value", values, '"$argv[1]/$argv[2]"'),
        "# __debugtool_positional COMMAND N: what the N-th word after COMMAND is (from 0)",
        _fish_switch("__debugtool_positional", positionals, '"$argv[1]/$argv[2]"'),
        "# __debugtool_actions COMMAND: the words its first positional also takes, files after",
        _fish_switch("__debugtool_actions", actions, '"$argv[1]"'),
        _FISH_FUNCTIONS,
        "complete -c debugtool -f",
    ]
    for c in spec.commands:
        lines.append(
            f"complete -c debugtool -n '__debugtool_wants command' -a {_fq(c.name)} -d {_fq(c.help)}"
        )
    for scope, options in _scopes(spec):
        for option in options:
            lines.append(_fish_option(scope, option))
    lines += [
        "complete -c debugtool -n '__debugtool_wants action' -a '(__debugtool_actions (__debugtool_command))'",
        "complete -c debugtool -n '__debugtool_wants target' -a '(__debugtool_targets)'",
        "complete -c debugtool -n '__debugtool_wants file' -F",
        "complete -c debugtool -n '__debugtool_wants dir' -a '(__fish_complete_directories)'",
        "complete -c debugtool -n '__debugtool_wants choice' -a '(__debugtool_choices)'",
        "",
    ]
    return "\n".join(lines)


def _fish_option(scope: str, option: Argument) -> str:
    parts = ["complete -c debugtool", "-n", _fq(f"__debugtool_in {_fq(scope)}")]
    for flag in option.flags:
        if flag.startswith("--"):
            parts += ["-l", flag[2:]]
        elif len(flag) == 2:
            parts += ["-s", flag[1]]
        else:
            parts += ["-o", flag[1:]]
    value = _value(option)
    if value == "file":
        parts += ["-r", "-F"]
    elif value == "dir":
        parts += ["-x", "-a", "'(__fish_complete_directories)'"]
    elif value == "target":
        parts += ["-x", "-a", "'(__debugtool_targets)'"]
    elif value.startswith("choice:"):
        parts += ["-x", "-a", _fq(value.removeprefix("choice:"))]
    elif value:
        parts += ["-x"]
    if option.help:
        parts += ["-d", _fq(option.help)]
    return " ".join(parts)


_FISH_FUNCTIONS = r"""# __debugtool_state: the command, then what the token under the cursor is: 'option' (an
# option's value: fish completes it from the option), 'command', or a positional's value
# ('target', 'file', 'choice:A B', 'action' for a first word that may be an action, ...).
function __debugtool_state
    set -l words (commandline -opc)
    set -e words[1]
    set -l command ''
    set -l option ''
    set -l action ''
    set -l dashdash ''
    set -l count 0
    for word in $words
        if test -n "$option"
            set option ''
        else if test -z "$dashdash"; and string match -q -- '-?*' $word
            if test "$word" = --
                set dashdash 1
            else if not string match -q -- '*=*' $word
                set -l value (__debugtool_value "$command" $word)
                if test -n "$value"
                    set option $word
                end
            end
        else if test -z "$command"
            set command $word
        else
            if test $count -eq 0 -a -z "$dashdash"
                if contains -- $word (__debugtool_actions $command)
                    set action $word
                end
            end
            set count (math $count + 1)
        end
    end
    echo $command
    if test -n "$option"
        echo option
    else if test -z "$command"
        echo command
    else if test -n "$action"
        echo file
    else
        set -l actions (__debugtool_actions $command)
        if test $count -eq 0 -a -z "$dashdash" -a -n "$actions"
            echo action
        end
        __debugtool_positional $command $count
    end
end

function __debugtool_command
    set -l state (__debugtool_state)
    echo $state[1]
end

# __debugtool_in COMMAND: whether the words before the cursor name COMMAND ('' none yet).
function __debugtool_in
    set -l state (__debugtool_state)
    test "$state[1]" = "$argv[1]"
end

# __debugtool_wants KIND: whether the token under the cursor is a KIND (choice: any choice).
function __debugtool_wants
    set -l state (__debugtool_state)
    string match -q -- '-*' (commandline -ct); and return 1
    for what in $state[2..-1]
        if test "$what" = "$argv[1]"; or string match -q -- "$argv[1]:*" $what
            return 0
        end
    end
    return 1
end

function __debugtool_choices
    set -l state (__debugtool_state)
    for what in $state[2..-1]
        string match -q -- 'choice:*' $what; and string split ' ' (string replace -- choice: '' $what)
    end
end

# The container targets that start with the token under the cursor (fish quotes what it
# inserts; a name may hold spaces or $(...)).
function __debugtool_targets
    set -l prefix (string replace -r -- '^--?[^=]*=' '' (commandline -ct))
    command debugtool completion fish --complete-targets="$prefix" 2>/dev/null
end
"""
