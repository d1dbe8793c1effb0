"""Rendering for people (aligned tables) and for scripts (``--json``)."""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

from debugtool.model import to_dict


def emit_json(data: Any, stream: TextIO | None = None, indent: bool | None = None) -> None:
    """Write model objects or plain data as JSON followed by a newline.

    Indented for a person at a terminal; compact in a pipe, where ``json``'s C encoder is
    several times faster than the indenting pure-Python one (``jq .`` indents it again).
    """
    stream = stream or sys.stdout
    if indent is None:
        indent = stream.isatty()
    if indent:
        json.dump(to_dict(data), stream, indent=2, default=str)
    else:
        stream.write(json.dumps(to_dict(data), default=str, separators=(",", ":")))
    stream.write("\n")


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    stream: TextIO | None = None,
    fit: bool | None = None,
) -> None:
    """Write rows as space-aligned columns under upper-case headers, like ``docker ps``.

    On a terminal the last column is cut to the terminal's width (``fit``); in a pipe nothing
    is cut.
    """
    stream = stream or sys.stdout
    text_rows = [["" if v is None else str(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in text_rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    if fit is None:
        fit = stream.isatty()
    limit = shutil.get_terminal_size((200, 24)).columns if fit else 0
    for row in [list(headers), *text_rows]:
        line = "   ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip()
        if limit and len(line) > limit:
            line = line[: max(limit - 1, 0)] + "…"
        stream.write(line + "\n")


def human_size(n: float | None) -> str:
    """Return a byte count as ``1.5MiB``-style text ('-' when unknown)."""
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1024
    return f"{n:.1f}TiB"


def human_age(epoch: float | None, now: float | None = None) -> str:
    """Return how long ago ``epoch`` was, like ``docker ps`` ('5 minutes ago')."""
    if not epoch:
        return "-"
    seconds = max(0, int((now or time.time()) - epoch))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return f"{seconds} seconds ago"


def warn(message: str) -> None:
    """Write one warning line to stderr."""
    sys.stderr.write(f"debugtool: warning: {message}\n")
