"""Command-line entry point: argument parsing and dispatch only.

Each subcommand lives in a module of ``debugtool.commands`` that defines ``register(subparsers)``
and an ``ORDER`` for ``--help``; modules import their heavy dependencies inside the handler, so
``debugtool exec`` never pays for Textual. A command line is read by ``debugtool.argv`` against
the named command's options alone; argparse, with every command, only for help and errors.
"""

from __future__ import annotations

import os
import sys

from debugtool import __version__

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence
    from typing import Any, NoReturn

    from debugtool.argv import Namespace

# argparse, logging and the command modules are imported inside main(), so that
# ``debugtool --version`` costs an interpreter start and nothing more.


#: Commands that read, print and leave: the cyclic garbage collector is off while they run.
#: What they build (thousands of processes or sockets) holds no cycles and lives until exit,
#: so each collection pass only walks it again (about 10 ms of ``net --json``). The TUI, the
#: console, bundle and trace run for long and keep it.
_ONE_SHOT = (
    "ps",
    "inspect",
    "top",
    "mounts",
    "snapshot",
    "net",
    "audit",
    "exec",
    "logs",
    "completion",
)

#: Global options that take a value (so the subcommand is not mistaken for it).
_VALUED_OPTIONS = (
    "--timeout",
    "--oci-root",
    # the fleet's (debugtool.fleet.command.FLAGS), taken out of the line before it is parsed
    "-H",
    "--inventory",
    "--forks",
    "--node-timeout",
    "--ssh-config",
    "--remote-debugtool",
)
#: How a fleet option may start a word: such a line goes to debugtool.fleet.command first.
_FLEET_PREFIXES = _VALUED_OPTIONS[2:]


def _command_index(argv: Sequence[str]) -> int | None:
    """Return where the subcommand is named on ``argv`` (the first word that is not a global
    option or its value)."""
    i = 0
    while i < len(argv):
        word = argv[i]
        if word == "--":
            return None
        if word in _VALUED_OPTIONS:
            i += 1
        elif not word.startswith("-"):
            return i
        i += 1
    return None


def _command_name(argv: Sequence[str]) -> str | None:
    """Return the subcommand named on ``argv``."""
    at = _command_index(argv)
    return None if at is None else argv[at]


def add_global_options(parser: Any) -> None:
    """Declare the options that come before the subcommand (to argparse or a recorder)."""
    from debugtool.commands import Seconds, hidden_help

    parser.add_argument("--version", action="version", version=f"debugtool {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show tracebacks and debug logging on errors"
    )
    parser.add_argument(
        "--timeout",
        type=Seconds("--timeout", "2", maximum=3600),
        default=2.0,
        metavar="SECONDS",
        help="how long to wait for each runtime before skipping it (default: 2; at most "
        "3600). 'bundle --collector-timeout' is the time each of a bundle's collectors may take",
    )
    parser.add_argument(
        "--oci-root",
        action="append",
        default=[],
        metavar="DIR",
        help="also read runc/crun state from this --root directory (repeatable; "
        "DEBUGTOOL_OCI_ROOTS, colon-separated, works too)",
    )
    # The fleet's options: debugtool.fleet.command takes them out of a command line before it
    # is parsed; they are declared here for --help, the completion scripts and the readers.
    # --node-timeout and --remote-debugtool are told of in -H's help: listed on their own,
    # their width would move every option's help to another column.
    parser.add_argument(
        "-H",
        action="append",
        dest="hosts",
        metavar="NODES",
        help="run the command on these nodes over ssh: NODE[,NODE...] (repeatable; @GROUP for "
        "an inventory group, [user@]host[:port] for a node no inventory names); ps, inspect, "
        "top, mounts, net, snapshot, logs and audit gain a NODE column; bundle writes one fleet "
        "bundle of every node's; exec, shell, trace, console and audit replay take one node; a target NODE/TARGET picks the node. --node-timeout SECONDS "
        "is how long each node may take (default: 20); --remote-debugtool PATH runs an "
        "installed debugtool on the nodes instead of sending this one. Exit 2 when some "
        "nodes failed",
    )
    parser.add_argument(
        "--inventory", metavar="FILE", help="with -H: an Ansible inventory (INI, or JSON)"
    )
    parser.add_argument(
        "--forks", metavar="N", help="with -H: how many nodes to ask at once (default: 5)"
    )
    parser.add_argument(
        "--ssh-config",
        metavar="FILE",
        help="with -H: ssh's -F FILE instead of ~/.ssh/config (or DEBUGTOOL_SSH_CONFIG)",
    )
    hidden = hidden_help(parser)
    parser.add_argument("--node-timeout", metavar="SECONDS", help=hidden)
    parser.add_argument("--remote-debugtool", metavar="PATH", help=hidden)


def _command_module(name: str | None) -> Any:
    """Return the module of subcommand ``name``, or None when there is no such command."""
    from debugtool.commands import NAMES

    if name not in NAMES:
        return None
    __import__(f"debugtool.commands.{name}")
    return sys.modules[f"debugtool.commands.{name}"]


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Build argparse's parser: with only ``command``'s module when it names one, else with
    all of them (for the help and the errors of a command line ``debugtool.argv`` declined).
    """
    import argparse

    from debugtool.commands import NAMES
    from debugtool.errors import UsageError

    class _Parser(argparse.ArgumentParser):
        """An ArgumentParser whose usage errors exit 125 with one sentence, like docker's."""

        def error(self, message: str) -> None:  # type: ignore[override]
            raise UsageError(f"{message}.", f"See '{self.prog} --help'.")

    parser = _Parser(
        prog="debugtool",
        description=(
            "Debug-only exec and inspection toolkit for Linux containers. Inspects processes, "
            "mounts, network, cgroups and security from the host, runs one audited command or "
            "shell in a container, traces syscalls and captures support bundles."
        ),
        epilog="Exit codes: 125 debugtool failed, 126 command cannot run, 127 command not found, "
        "otherwise the command's own. Run 'debugtool COMMAND --help' for a command's options.",
    )
    add_global_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    names = [command] if command in NAMES else NAMES
    modules = [_command_module(name) for name in names]
    for module in sorted(modules, key=lambda m: getattr(m, "ORDER", 100)):
        module.register(sub)
    return parser


def parse_args(argv: list[str]) -> argparse.Namespace | Namespace:
    """Read the command line: with ``debugtool.argv`` when it can, else with argparse (which
    prints the help, or raises the usage error, that the words call for)."""
    at = _command_index(argv)
    module = None if at is None else _command_module(argv[at])
    if at is not None and module is not None:
        from debugtool import argv as fast

        args = fast.parse(argv, at, add_global_options, module.register)
        if args is not None:
            return args
    return build_parser(None if at is None else argv[at]).parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run debugtool with ``argv``; return the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv == ["--version"]:  # fast path: no parser, no command modules
        print(f"debugtool {__version__}")
        return 0
    # --debug is accepted anywhere on the line, before or after the subcommand.
    from debugtool.errors import EXIT_TOOL, DebugtoolError

    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    if debug:
        from debugtool import debuglog

        debuglog.enable()
    try:
        if any(word.startswith(_FLEET_PREFIXES) for word in argv):
            from debugtool.fleet import command as fleet

            options, rest = fleet.split(argv)
            if len(options) > 1 or options["hosts"]:
                return fleet.run(options, rest, debug)
        args = parse_args(argv)
        args.debug = debug
        if args.oci_root:
            # Backends read extra OCI state roots from the environment, as third-party ones can.
            extra = os.environ.get("DEBUGTOOL_OCI_ROOTS", "").split(":")
            os.environ["DEBUGTOOL_OCI_ROOTS"] = ":".join(filter(None, [*args.oci_root, *extra]))
        if not getattr(args, "func", None):
            build_parser().print_help()
            return 0
        import gc

        if _command_name(argv) in _ONE_SHOT and gc.isenabled():
            gc.disable()
            try:
                return int(args.func(args) or 0)
            finally:
                gc.enable()
        return int(args.func(args) or 0)
    except DebugtoolError as exc:
        if debug:
            raise
        sys.stderr.write(f"debugtool: {exc.for_people()}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("debugtool: interrupted.\n")
        return 130
    except BrokenPipeError:
        # The reader of our output went away (``debugtool ps | head``): not an error.
        sys.stderr.close()
        return 0
    except Exception as exc:
        if debug:
            raise
        from debugtool.output import printable

        sys.stderr.write(
            f"debugtool: internal error: {type(exc).__name__}: {printable(str(exc))}. "
            "Run again with --debug for the traceback, and report it.\n"
        )
        return EXIT_TOOL


def run() -> NoReturn:
    """The ``debugtool`` command: ``main`` on ``sys.argv``, then exit with its code.

    After a one-shot command (and ``--version``) the process leaves with ``os._exit`` once
    stdout and stderr are flushed, skipping the interpreter's teardown (freeing every module
    and object one by one: about 5 ms, a sixth of ``ps --runtime docker``). Those commands
    close what they write themselves (the audit log is fsync'd and closed per record), keep no
    temporary files and register nothing to run at exit. The others (tui, console, bundle,
    trace, shell) exit the ordinary way.

    The cyclic garbage collector of a one-shot command is turned off here for good (``main``
    then leaves it alone): turned back on, its first pass would walk everything the command
    made since (1-3 ms after an exec's end record) just before ``os._exit``.
    """
    argv = sys.argv[1:]
    words = [a for a in argv if a != "--debug"]
    one_shot = _command_name(words) in _ONE_SHOT
    if one_shot:
        import gc

        gc.disable()
    code = main(argv)
    if one_shot or words == ["--version"]:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (BrokenPipeError, ValueError):  # the reader left; a closed stream
                pass
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    run()
