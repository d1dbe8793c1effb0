"""Command-line entry point: argument parsing and dispatch only.

Each subcommand lives in a module of ``debugtool.commands`` that defines ``register(subparsers)``
and an ``ORDER`` for ``--help``; modules import their heavy dependencies inside the handler, so
``debugtool exec`` never pays for Textual.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from debugtool import __version__

if TYPE_CHECKING:
    import argparse

# argparse, logging and the command modules are imported inside main(), so that
# ``debugtool --version`` costs an interpreter start and nothing more.


#: Global options that take a value (so the subcommand is not mistaken for it).
_VALUED_OPTIONS = ("--timeout", "--oci-root")


def _command_name(argv: Sequence[str]) -> str | None:
    """Return the subcommand named on ``argv`` (the first word that is not a global option)."""
    words = iter(argv)
    for word in words:
        if word == "--":
            return None
        if word in _VALUED_OPTIONS:
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Build the parser: with only ``command``'s module when it names one, else with all of them.

    Importing and building every subcommand costs about as much as a ``docker ps``; a command
    line that names its subcommand pays only for that one.
    """
    import argparse
    import importlib
    import pkgutil

    import debugtool.commands as commands
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
    parser.add_argument("--version", action="version", version=f"debugtool {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show tracebacks and debug logging on errors"
    )
    parser.add_argument(
        "--timeout",
        type=commands.Seconds("--timeout", "2", maximum=3600),
        default=2.0,
        metavar="SECONDS",
        help="how long to wait for each runtime before skipping it (default: 2; at most 3600)",
    )
    parser.add_argument(
        "--oci-root",
        action="append",
        default=[],
        metavar="DIR",
        help="also read runc/crun state from this --root directory (repeatable; "
        "DEBUGTOOL_OCI_ROOTS, colon-separated, works too)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    names = [m.name for m in pkgutil.iter_modules(commands.__path__) if not m.name.startswith("_")]
    if command in names:
        names = [command]
    modules = [importlib.import_module(f"debugtool.commands.{name}") for name in names]
    for module in sorted(modules, key=lambda m: getattr(m, "ORDER", 100)):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run debugtool with ``argv``; return the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv == ["--version"]:  # fast path: no parser, no command modules
        print(f"debugtool {__version__}")
        return 0
    # --debug is accepted anywhere on the line, before or after the subcommand.
    import logging

    from debugtool.errors import EXIT_TOOL, DebugtoolError

    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="debugtool: %(levelname)s: %(name)s: %(message)s",
    )
    try:
        args = build_parser(_command_name(argv)).parse_args(argv)
        args.debug = debug
        if args.oci_root:
            # Backends read extra OCI state roots from the environment, as third-party ones can.
            extra = os.environ.get("DEBUGTOOL_OCI_ROOTS", "").split(":")
            os.environ["DEBUGTOOL_OCI_ROOTS"] = ":".join(filter(None, [*args.oci_root, *extra]))
        if not getattr(args, "func", None):
            build_parser().print_help()
            return 0
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


if __name__ == "__main__":
    raise SystemExit(main())
