"""Subcommands of the ``debugtool`` CLI, one module each (``register(subparsers)``, ``ORDER``),
and the option types they share.

Every numeric option is parsed by one of the types below, so a value debugtool cannot use
(``nan``, ``inf``, a negative time, a bundle size smaller than its manifest) is refused while the
command line is parsed: one sentence naming the option, exit 125, never a traceback from deep
inside. A type raises ``UsageError`` itself (argparse lets it through) rather than argparse's
``ArgumentTypeError``, so the sentence can name the option and say what to write instead.
"""

from __future__ import annotations

from debugtool.errors import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Container

    from debugtool.argv import OptionsLike
    from debugtool.source import Source

#: The subcommands, one module each (tests/unit/test_cli.py checks the list against the files).
NAMES = (
    "audit",
    "bundle",
    "completion",
    "console",
    "exec",
    "inspect",
    "logs",
    "mounts",
    "net",
    "ps",
    "shell",
    "snapshot",
    "top",
    "trace",
    "tui",
)

#: What a TARGET argument accepts (``debugtool.target`` resolves it), for every command's help.
TARGET_HELP = "id, id prefix, name, RUNTIME:NAME, pid:N or pod/NAME[/CONTAINER]"

#: What PID means in every table, said in the --help of the commands that show PIDs.
PID_MEANING = (
    "PID is a process's PID inside the container, as 'ps' run in the container shows it and "
    "as its logs, pid files and 'kill' use it; exec, console and trace --pid take it too. "
    "HOST PID is the same process's PID on the host, for host tools (strace -p, nsenter -t, "
    "perf). 'docker top' shows host PIDs under PID because it runs ps on the host; debugtool "
    "names them HOST PID so that PID means one thing in the CLI, the TUI and the report."
)

_NAN, _INF = float("nan"), float("inf")


def _finite(value: float) -> bool:
    """``math.isfinite`` without importing ``math`` (a shared library) on every command's start."""
    return -_INF < value < _INF


def hidden_help(p: OptionsLike) -> str:
    """Return the help text that leaves an option out of ``p``'s help: ``argparse.SUPPRESS``
    itself for an argparse parser (argparse compares it by identity), its text for a recorder
    (the completion scripts leave it out by that text)."""
    if hasattr(p, "format_help"):  # argparse's parser, so argparse is imported already
        import argparse

        return argparse.SUPPRESS
    return "==SUPPRESS=="


def deprecated(old: str, new: str) -> None:
    """Warn that option ``old`` is an old spelling of ``new`` (it still works)."""
    from debugtool.output import warn

    warn(f"{old} is an old spelling: use {new} (it means the same).")


def add_bundle_option(p: OptionsLike, what: str) -> None:
    """Add ``--bundle FILE``: read ``what`` from a support bundle instead of the live host."""
    p.add_argument(
        "--bundle",
        metavar="FILE",
        help=f"read the {what} from this support bundle, not live (every TARGET form works)",
    )


def open_source(args: argparse.Namespace, privileged: bool = True) -> Source:
    """Return the source a read command uses: ``--bundle FILE``, or the live host."""
    from debugtool import output
    from debugtool.source import open_source as open_

    path = getattr(args, "bundle", None)
    if path and isinstance(getattr(args, "target", None), str):
        from debugtool.bundle.fleet import is_fleet_archive

        if is_fleet_archive(path):  # a fleet bundle: the target is NODE/TARGET
            from debugtool.bundle.fleet import node_source

            source, args.target = node_source(path, args.target)
            return source
    return open_(
        getattr(args, "bundle", None),
        timeout=getattr(args, "timeout", 2.0),
        warn=output.warn,
        privileged=privileged,
    )


class Seconds:
    """An option type: a finite number of seconds from ``minimum`` to ``maximum``.

    With ``minimum`` 0, zero itself is allowed only when ``zero`` is true (``top --interval 0``
    means "since each process started"; a timeout of 0 means nothing).
    """

    def __init__(
        self,
        option: str,
        example: str,
        minimum: float = 0.0,
        maximum: float = 3600.0,
        zero: bool = False,
    ) -> None:
        self.option, self.example = option, example
        self.minimum, self.maximum, self.zero = minimum, maximum, zero

    def __call__(self, text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = _NAN
        if self.minimum > 0 and 0 <= value < self.minimum:
            raise UsageError(
                f"{self.option} {text} is too short.", f"Give {self.minimum:g} seconds or more."
            )
        above = value > self.minimum or (value == self.minimum and (self.minimum > 0 or self.zero))
        if not (_finite(value) and above and value <= self.maximum):
            raise UsageError(
                f"{self.option} must be {self.describe()}, not '{text}'.",
                f"Try {self.option} {self.example}.",
            )
        return value

    def describe(self) -> str:
        if self.minimum > 0:
            return f"a number of seconds from {self.minimum:g} to {self.maximum:g}"
        if self.zero:
            return f"zero or a positive number of seconds up to {self.maximum:g}"
        return f"a positive number of seconds up to {self.maximum:g}"


class Count:
    """An option type: a whole number from ``minimum`` to ``maximum``."""

    def __init__(
        self, option: str, example: str, minimum: int = 1, maximum: int = 1_000_000_000
    ) -> None:
        self.option, self.example = option, example
        self.minimum, self.maximum = minimum, maximum

    def __call__(self, text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = self.minimum - 1
        if not self.minimum <= value <= self.maximum:
            raise UsageError(
                f"{self.option} must be a whole number from {self.minimum:,} to "
                f"{self.maximum:,}, not '{text}'.",
                f"Try {self.option} {self.example}.",
            )
        return value


#: Units a size may end with, then ``B`` or ``iB`` if one likes (``50M``, ``50MB``, ``50MiB``).
SIZE_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
#: Units a duration may end with; none means seconds.
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_size(text: str) -> float:
    """Return a size like ``50M``, ``1.5GiB`` or ``200000`` in bytes, unchecked (it may be
    negative, infinite or nan); nan when ``text`` is not a size at all."""
    t = text.strip().upper().removesuffix("IB").removesuffix("B")
    number, unit = t, ""
    if t and t[-1] in SIZE_UNITS:
        number, unit = t[:-1], t[-1]
    try:
        return float(number) * SIZE_UNITS[unit]
    except ValueError:
        return _NAN


def parse_duration(text: str) -> float:
    """Return a duration like ``90``, ``30s``, ``10m``, ``2h``, ``1d`` in seconds, unchecked
    (it may be negative, infinite or nan); nan when ``text`` is not a duration at all."""
    t = text.strip().lower()
    scale = DURATION_UNITS.get(t[-1:], 1) if t else 1
    if t and t[-1] in DURATION_UNITS:
        t = t[:-1]
    try:
        return float(t) * scale
    except ValueError:
        return _NAN


class Size:
    """An option type: a size in bytes (``parse_size``: ``50M``, ``1.5GiB``), finite and at
    least ``minimum``."""

    def __init__(self, option: str, minimum: int) -> None:
        self.option, self.minimum = option, minimum

    def __call__(self, text: str) -> int:
        value = parse_size(text)
        if not (_finite(value) and value >= self.minimum):
            least = (
                f"{self.minimum >> 20}M" if self.minimum >= 1 << 20 else f"{self.minimum >> 10}K"
            )
            raise UsageError(
                f"'{text}' is not a size of at least {least} for {self.option}.",
                "Write bytes or a number with K, M or G (e.g. 20M).",
            )
        return int(value)


class Duration:
    """An option type: a duration in seconds (``parse_duration``: ``90``, ``30s``, ``10m``,
    ``2h``, ``1d``), above 0, finite and at most ``maximum``."""

    def __init__(self, option: str, maximum: float) -> None:
        self.option, self.maximum = option, maximum

    def __call__(self, text: str) -> float:
        value = parse_duration(text)
        if not (_finite(value) and 0 < value <= self.maximum):
            raise UsageError(
                f"'{text}' is not a duration for {self.option} (above 0, at most "
                f"{self.maximum / 86400:g} days).",
                "Write seconds or a number with s, m, h or d (e.g. 10m).",
            )
        return value


def action_index(
    parser: argparse.ArgumentParser, args: list[str], actions: Container[str]
) -> int | None:
    """Return where one of ``actions`` (``bundle verify``, ``audit replay`` ...) stands as the
    first positional word of ``args`` (not an option's value, not after ``--``), or None.

    Such actions are read by their own parsers, each with its own ``--help`` and errors, while
    the command without one keeps its own options (``audit --json``, ``bundle -o F``).
    """
    i = 0
    while i < len(args):
        word = args[i]
        if word == "--":
            return None
        if word.startswith("-") and word != "-":
            known = parser._option_string_actions.get(word)  # noqa: SLF001 - argparse's table
            if known is not None and known.nargs != 0:
                i += 1  # its value
            i += 1
            continue
        return i if word in actions else None
    return None
