"""The debugtool command lines the TUI runs for exec, trace and bundle, and how it runs them.

The TUI adds no exec, trace or bundle feature of its own: it runs ``debugtool shell``,
``debugtool trace`` and ``debugtool bundle`` as subprocesses, so every exec goes through the one
audited exec path. An action whose command is not installed is not offered at all.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from textual.app import App

    from debugtool.model import Container

DEBUGTOOL = [sys.executable, "-m", "debugtool"]

# action -> the module that must be importable for it to be offered
FEATURE_MODULES = {
    "exec": "debugtool.commands.shell",
    "trace": "debugtool.commands.trace",
    "bundle": "debugtool.commands.bundle",
}


def available_actions(read_only: bool) -> frozenset[str]:
    """Return the container actions this host offers (none when showing a bundle)."""
    if read_only:
        return frozenset()
    found = set()
    for action, module in FEATURE_MODULES.items():
        try:
            if importlib.util.find_spec(module) is not None:
                found.add(action)
        except (ImportError, ValueError):
            continue
    return frozenset(found)


def shell_argv(container: Container, reason: str = "", via: list[str] | None = None) -> list[str]:
    """Return the command line of an interactive shell in ``container`` (with ``--reason``
    when one was given). ``via`` are the options that reach its node (``-H NODE``: the same
    path as ``debugtool -H NODE shell``, audited on the node and here)."""
    argv = [*DEBUGTOOL, "shell", *(via or []), container.id]
    return [*argv, "--reason", reason] if reason else argv


def trace_argv(
    container: Container,
    pid: int | None,
    syscalls: str | None = None,
    reason: str = "",
    via: list[str] | None = None,
) -> list[str]:
    """Return the command line that traces ``pid`` (as the container sees it; None: its init),
    only the ``syscalls`` (an ``-e`` filter; None: every syscall), with ``--reason`` if given,
    on its node through ``via`` (as ``shell_argv``)."""
    argv = [*DEBUGTOOL, "trace", *(via or []), container.id]
    if pid is not None:
        argv += ["--pid", str(pid)]
    if syscalls:
        argv += ["-e", syscalls]
    return [*argv, "--reason", reason] if reason else argv


def replay_argv(session: str, via: list[str] | None = None) -> list[str]:
    """Return the command line that plays a recorded session back in the terminal, on the
    node that recorded it through ``via`` (as ``shell_argv``)."""
    return [*DEBUGTOOL, "audit", *(via or []), "replay", session]


def bundle_argv(container: Container, path: str) -> list[str]:
    """Return the command line that writes a support bundle of ``container`` to ``path``."""
    return [*DEBUGTOOL, "bundle", container.id, "-o", path, "--json"]


def default_directory() -> Path:
    """Return the current directory when it is writable, else /tmp."""
    cwd = Path.cwd()
    return cwd if os.access(cwd, os.W_OK) else Path("/tmp")


def default_path(kind: str, name: str, now: float, suffix: str) -> str:
    """Return a new file path like ``./debugtool-processes-web-20261126-150405.txt``."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now))
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)[:40]
    parts = ["debugtool", kind, safe, stamp] if safe else ["debugtool", kind, stamp]
    return str(default_directory() / ("-".join(parts) + suffix))


# A terminal runner runs argv on the real terminal while the app is suspended, after a line
# of ``hint`` (what runs and how to stop it; empty: none); returns its exit code.
TerminalRunner = Callable[["App[object]", list[str], bool, str], int]


def run_in_terminal(app: App[object], argv: list[str], pause: bool, hint: str = "") -> int:
    """Suspend the app, run ``argv`` on the real terminal, then resume where the user was.

    ``hint`` is written first (a trace prints nothing until the process makes a call: the
    line says what is traced and that Ctrl-C stops it). With ``pause`` (or when the command
    failed) it waits for Enter before resuming, so what the command printed can be read.
    Ctrl-C reaches the command; the TUI ignores it meanwhile.
    """
    with app.suspend():
        # A Python handler, unlike SIG_IGN, is reset by exec: the child still gets Ctrl-C.
        previous = signal.signal(signal.SIGINT, lambda *_: None)
        try:
            if hint:
                from debugtool.output import printable

                line = f" {printable(hint)} "
                if sys.stdout.isatty():  # reverse video: apart from what the command prints
                    line = f"\x1b[7m{line}\x1b[0m"
                sys.stdout.write(line + "\n")
                sys.stdout.flush()
            code = subprocess.call(argv)
            if pause or code not in (0, 130):
                sys.stdout.write(f"\n[debugtool exited {code}] Press Enter to return to the TUI.")
                sys.stdout.flush()
                try:
                    sys.stdin.readline()
                except (OSError, ValueError):
                    pass
        finally:
            signal.signal(signal.SIGINT, previous)
    return code


@dataclass
class Finished:
    """How a background command ended: its exit code and what it wrote."""

    returncode: int
    stdout: str
    stderr: str


# A process runner runs argv in a worker thread, calling ``progress`` with each stderr line.
ProcessRunner = Callable[[list[str], Callable[[str], None]], Finished]


def run_captured(argv: list[str], progress: Callable[[str], None]) -> Finished:
    """Run ``argv`` with no terminal, reporting each stderr line; return how it ended."""
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,  # Ctrl-C in the TUI is a key, never a signal to the child
    )
    assert proc.stderr is not None and proc.stdout is not None
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if line.strip():
            progress(line.strip())
    out = proc.stdout.read()
    return Finished(proc.wait(), out, "".join(lines))


def bundle_result_path(finished: Finished, asked: str) -> str:
    """Return the bundle's path from ``debugtool bundle --json`` output (else the one asked)."""
    try:
        data = json.loads(finished.stdout)
    except ValueError:
        return asked
    if isinstance(data, dict):
        for key in ("path", "output", "file", "bundle"):
            if isinstance(data.get(key), str):
                return str(data[key])
    return asked
