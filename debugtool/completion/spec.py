"""The command line as the completion scripts see it, read from the parsers at run time.

Each command module's ``register`` is called with a recorder (as ``debugtool.argv`` does), and
every option and positional becomes an ``Argument`` that says what its value is:

- ``choice``: one of ``choices`` (argparse's ``choices``; ``--runtime`` takes the names of the
  registered runtime backends, built-in and plugins);
- ``file`` and ``dir``: a path on this host (metavar ``FILE`` or ``DIR``);
- ``target``: a container (metavar ``TARGET``, or an option whose dest is ``target``);
- ``any``: something to type (a number, a user); ``rest``: the words after a REMAINDER
  positional, which belong to the command run in the container;
- ``""`` for an option that takes no value.

So an option added to a ``register`` function appears in the next generated script with no
edit here; only a new kind of value would need one.
"""

from __future__ import annotations

from debugtool.record import field, record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: Words a script may hold unquoted: command names, option flags, choices.
SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:/=+-")


@record
class Argument:
    """One option (``flags``) or positional (``flags`` empty) and what its value is."""

    flags: tuple[str, ...]
    kind: str  # "", "any", "choice", "file", "dir", "target", "rest"
    choices: tuple[str, ...] = ()
    help: str = ""
    repeat: bool = False  # a positional that takes any number of words (nargs '*' or '+')


@record
class Command:
    """One subcommand: its options, its positionals in order, and the words its first
    positional also takes as actions (``bundle verify FILE``), after which come files."""

    name: str
    help: str
    options: list[Argument] = field(default_factory=list)
    positionals: list[Argument] = field(default_factory=list)
    actions: tuple[str, ...] = ()

    def option(self, flag: str) -> Argument | None:
        """Return the option spelled ``flag``, or None."""
        return next((o for o in self.options if flag in o.flags), None)


@record
class Spec:
    """The whole command line: the global options (before the command) and each command."""

    options: list[Argument]
    commands: list[Command]


class _Parser:
    """A recorder of one parser's ``add_argument`` calls, keeping what completion needs."""

    def __init__(self) -> None:
        self.arguments: list[tuple[tuple[str, ...], dict[str, Any]]] = []

    def add_argument(self, *flags: str, **kwargs: Any) -> None:
        self.arguments.append((flags, kwargs))

    def set_defaults(self, **kwargs: Any) -> None:
        pass


class _Subcommands:
    def __init__(self) -> None:
        self.parsers: dict[str, tuple[str, _Parser]] = {}

    def add_parser(self, name: str, **kwargs: Any) -> _Parser:
        parser = _Parser()
        self.parsers[name] = (kwargs.get("help", ""), parser)
        return parser


#: What argparse adds to every parser by itself.
_HELP = Argument(("-h", "--help"), "", help="show the help and exit")
#: Accepted anywhere on the line (cli.main takes it out before parsing).
_DEBUG_HELP = "show tracebacks and debug logging on errors"


def read() -> Spec:
    """Return the command line of this debugtool: every command module's options."""
    from debugtool.cli import _command_module, add_global_options
    from debugtool.commands import NAMES

    runtimes = _runtime_names()
    top = _Parser()
    add_global_options(top)
    commands = []
    modules = sorted(
        (_command_module(name) for name in NAMES), key=lambda m: getattr(m, "ORDER", 100)
    )
    for module in modules:
        sub = _Subcommands()
        module.register(sub)
        for name, (help_text, parser) in sub.parsers.items():
            command = Command(name, _oneline(help_text), actions=getattr(module, "ACTIONS", ()))
            command.options.append(_HELP)
            for flags, kwargs in parser.arguments:
                argument = _argument(flags, kwargs, runtimes)
                if flags[0].startswith("-"):
                    command.options.append(argument)
                else:
                    command.positionals.append(argument)
            if command.option("--debug") is None:
                command.options.append(Argument(("--debug",), "", help=_DEBUG_HELP))
            commands.append(command)
    options = [_HELP, *(_argument(f, k, runtimes) for f, k in top.arguments)]
    return Spec(options, commands)


def _argument(
    flags: tuple[str, ...], kwargs: dict[str, Any], runtimes: tuple[str, ...]
) -> Argument:
    from debugtool.argv import REMAINDER

    help_text = _oneline(kwargs.get("help") or "")
    action = kwargs.get("action", "store")
    positional = not flags[0].startswith("-")
    if action in ("store_true", "store_false", "version", "help", "count"):
        return Argument(flags, "", help=help_text)
    nargs = kwargs.get("nargs")
    if nargs == REMAINDER:
        return Argument((), "rest", help=help_text)
    dest = kwargs.get("dest") or (flags[0] if positional else _long(flags)).lstrip("-")
    dest = dest.replace("-", "_")
    metavar = kwargs.get("metavar") or ""
    kind = "any"
    choices: tuple[str, ...] = ()
    if kwargs.get("choices"):
        kind, choices = "choice", tuple(str(c) for c in kwargs["choices"])
    elif metavar == "FILE":
        kind = "file"
    elif metavar == "DIR":
        kind = "dir"
    elif metavar == "TARGET" or dest in ("target", "targets"):
        kind = "target"
    elif dest == "runtime":
        kind, choices = "choice", runtimes
    return Argument(
        () if positional else tuple(flags),
        kind,
        choices,
        help_text,
        repeat=positional and nargs in ("*", "+"),
    )


def _long(flags: tuple[str, ...]) -> str:
    return next((f for f in flags if f.startswith("--")), flags[0])


def _runtime_names() -> tuple[str, ...]:
    """The names ``--runtime`` takes: every registered backend (nothing is imported)."""
    from debugtool.runtimes import runtime_specs

    return tuple(sorted(runtime_specs()))


def _oneline(text: str, width: int = 72) -> str:
    """Return the first sentence of ``text`` on one line, at most ``width`` characters (the
    shells that show descriptions give each one a line)."""
    line = " ".join(text.split()).split(". ", 1)[0].rstrip(".")
    if len(line) > width:
        line = line[: width - 1].rsplit(" ", 1)[0] + "…"
    return line
