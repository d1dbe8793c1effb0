"""Rendering for people (aligned tables, text safe for a terminal) and for scripts (``--json``)."""

from __future__ import annotations

import io
import os
import sys
import time

from debugtool import jsonc
from debugtool.model import to_dict
from debugtool.record import is_record

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from collections.abc import Iterable, Sequence
    from typing import Any, TextIO

# --- text a container controls, shown to a person ----------------------------------------------
#
# A container's root can name its processes, users, files, sockets and labels with any bytes,
# and debugtool shows them on the operator's terminal. Written raw, ESC starts a sequence that
# can set the window title, write the clipboard (OSC 52) or rewrite what was printed above; a
# bidi override reverses the text around it; a newline forges a line of output. So every text
# that is shown to a person goes through ``printable`` at the point where it is written (tables,
# warnings, error sentences, the console, the TUI, the HTML report), never in the collectors or
# the model, which keep the exact value for --json and for the bundle.

#: What ``printable`` never writes as it is, apart from the C0 controls, DEL and C1 controls
#: (0x9b is CSI to some terminals): Unicode's other categories Cf, Cs, Zl and Zp as Python 3.11
#: (Unicode 14) knows them; tests/unit/test_printable.py checks the list against ``unicodedata``.
_UNSAFE_OTHER = (
    r"\u00ad\u180e\u200b-\u200d\u2060-\u2064\ufeff"  # invisible: soft hyphen, zero widths, joiners
    r"\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"  # bidi marks, embeddings, overrides, isolates
    r"\u2028\u2029"  # line and paragraph separators
    r"\u0600-\u0605\u06dd\u070f\u0890\u0891\u08e2\u206a-\u206f\ufff9-\ufffb"  # other formats
    r"\U000110bd\U000110cd\U00013430-\U00013438\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    r"\U000e0001\U000e0020-\U000e007f"  # tags (invisible)
    r"\ud800-\udfff"  # lone surrogates: bytes that were not UTF-8, decoded with surrogateescape
)


_PATTERNS: dict[bool, re.Pattern[str]] = {}


def _unsafe(multiline: bool) -> re.Pattern[str]:
    """Return the pattern of what ``printable`` escapes (compiled on first use: ``re`` and the
    pattern cost ~8 ms, which text with nothing to escape never pays)."""
    pattern = _PATTERNS.get(multiline)
    if pattern is None:
        import re

        c0 = r"\x00-\x08\x0b-\x1f" if multiline else r"\x00-\x1f"  # keep tab and newline, or not
        pattern = _PATTERNS[multiline] = re.compile(rf"[{c0}\x7f-\x9f{_UNSAFE_OTHER}]")
    return pattern


#: The escapes of the C0 and C1 controls, DEL, and surrogateescape's stand-ins for bytes.
_ESCAPES = {chr(c): f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0))}
_ESCAPES.update({"\t": "\\t", "\n": "\\n", "\r": "\\r"})
_ESCAPES.update({chr(0xDC00 + b): f"\\x{b:02x}" for b in range(0x80, 0x100)})


def _escape(match: re.Match[str]) -> str:
    return _escaped(match.group())


def _escaped(char: str) -> str:
    escaped = _ESCAPES.get(char)
    if escaped is not None:
        return escaped
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


#: The Unicode categories ``printable`` escapes: the character class above, by name.
_ESCAPED_CATEGORIES = frozenset(("Cc", "Cf", "Cs", "Zl", "Zp"))
#: Up to this length, text to escape is walked a character at a time rather than matched by
#: the pattern, whose ``re`` costs ~8 ms to import: a name, label or path from a hostile
#: container costs a ``ps`` nothing extra; a log or a file's contents take the pattern.
_SHORT = 1024


def _escape_each(text: str, multiline: bool) -> str:
    """``printable``'s escaping a character at a time (for short text, see ``_SHORT``)."""
    from unicodedata import category

    keep = "\t\n" if multiline else ""
    return "".join(
        char
        if char.isprintable() or char in keep or category(char) not in _ESCAPED_CATEGORIES
        else _escaped(char)
        for char in text
    )


def printable(text: str, multiline: bool = False) -> str:
    r"""Return ``text`` as it can be written to a terminal: nothing in it acts, all of it shows.

    Control characters (C0, DEL, C1), invisible and bidi formatting characters, line and
    paragraph separators and lone surrogates are written as Python writes them in a string
    literal: ESC as the four characters ``\x1b``, CSI as ``\x9b``, a tab as ``\t``, a newline
    as ``\n``, RIGHT-TO-LEFT OVERRIDE as ``\u202e``; a byte that was not UTF-8 (kept by
    ``surrogateescape``) as ``\xNN``. Everything else, backslashes included, is left as it is,
    so ``printable`` is idempotent and a literal ``\x1b`` reads like an escaped ESC: ``--json``
    tells them apart. ``multiline`` keeps newlines and tabs, for file contents and logs shown
    as lines (a carriage return, which can overwrite a line, is still escaped).

    Text with nothing to escape is returned as it is, at the cost of one ``str.isprintable``.
    """
    if text.isprintable():
        return text
    if len(text) <= _SHORT:
        return _escape_each(text, multiline)
    return _unsafe(multiline).sub(_escape, text)


class PrintableStream(io.TextIOBase):
    """A text stream that writes through ``printable(..., multiline=True)`` to another one.

    The console's output goes through one: whatever a command writes, no control character
    reaches the terminal.
    """

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(printable(text, multiline=True))
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()


# --- output ------------------------------------------------------------------------------------


def emit_json(data: Any, stream: TextIO | None = None) -> None:
    """Write model objects or plain data as JSON followed by a newline: the one JSON writer of
    every ``--json``.

    Objects are indented two spaces a level; a list of objects (processes, sockets, mounts,
    containers) is written one compact object per line. That is readable and greppable, and
    fast: ``json``'s C encoder writes only unindented text, so ``indent=2`` falls back to the
    pure-Python encoder, which for ten thousand sockets costs more than reading them. Each
    list is encoded in one call and cut between its objects (see ``_records``).

    The same text at a terminal and in a pipe. Exact (nothing is escaped for people) and safe
    on a terminal: ``ensure_ascii`` writes every control character, C1 (0x9b, a CSI to some
    terminals) and surrogate as a ``\\u`` escape.
    """
    stream = stream or sys.stdout
    parts: list[str] = []
    _write_json(data, "", parts)
    parts.append("\n")
    stream.write("".join(parts))


def _as_object(value: Any) -> dict[Any, Any] | None:
    """Return ``value``'s fields when it is written as a JSON object (a dict or a dataclass),
    else None.

    A model dataclass's ``__dict__`` is its fields in order: handed to the C encoder, it is
    written with no Python walk over its values (``model.to_dict`` costs 5-7 us a process or
    a socket, as much as encoding it).
    """
    if isinstance(value, dict):
        return value
    if is_record(value) and not isinstance(value, type):
        return vars(value) if hasattr(value, "__dict__") else to_dict(value)
    return None


def _fields(value: Any) -> Any:
    """``json``'s fallback for what it cannot write: a dataclass as its fields, else its text."""
    fields = _as_object(value)
    return str(value) if fields is None else fields


_ENCODE = jsonc.encoder(default=_fields)


def _write_json(value: Any, indent: str, parts: list[str]) -> None:
    """Append ``value``'s JSON to ``parts``: objects indented, lists of objects one per line."""
    fields = _as_object(value)
    if fields is not None:
        if not fields:
            parts.append("{}")
            return
        inner = indent + "  "
        parts.append("{")
        for n, (key, item) in enumerate(fields.items()):
            parts.append(f"{',' if n else ''}\n{inner}{_ENCODE(str(key))}: ")
            _write_json(item, inner, parts)
        parts.append(f"\n{indent}}}")
        return
    if isinstance(value, (list, tuple)) and value and _as_object(value[0]) is not None:
        parts.append(_records(value, indent + "  ") + f"\n{indent}]")
        return
    parts.append(_ENCODE(value))


def _records(items: Sequence[Any], indent: str) -> str:
    """Return ``[`` and the list's items, one compact item per line (without the closing ``]``).

    The list is encoded in one call, then cut before each item: objects of one kind all start
    with the same key, and ``}, {"KEY": `` in the encoded text is always structure, never
    string content (a quote inside a string is written ``\\"``), so a line break after its
    comma leaves the JSON as it was. When the cuts do not come out one per item (items of
    different kinds, or items that hold lists of their own kind), each item is encoded alone.
    """
    first = _as_object(items[0])
    kind = type(items[0])
    if (
        is_record(kind)
        and hasattr(items[0], "__dict__")
        and all(type(item) is kind for item in items)
    ):
        # Dataclasses of one kind: their fields handed over, not one fallback call for each.
        items = [item.__dict__ for item in items]
    text = _ENCODE(items)[1:-1]
    if first:
        separator = "}, {" + _ENCODE(str(next(iter(first)))) + ": "
        if text.count(separator) == len(items) - 1:
            return f"[\n{indent}" + text.replace(separator, "},\n" + indent + separator[3:])
    return "[\n" + ",\n".join(indent + _ENCODE(item) for item in items)


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    stream: TextIO | None = None,
    fit: bool | None = None,
    justify: Sequence[str] = (),
) -> None:
    """Write rows as space-aligned columns under upper-case headers, like ``docker ps``.

    Every cell goes through ``printable``. ``justify`` says, column by column, which are
    ``right``-aligned (numbers, as ``ps`` writes them); the others are left-aligned. On a
    terminal the last column is cut to the terminal's width (``fit``); in a pipe nothing is cut.
    """
    stream = stream or sys.stdout
    if _TABLE_RECORDS:
        _table_record(headers, rows, stream, justify)
        return
    text_rows = []
    for row in rows:
        cells = ["" if v is None else str(v) for v in row]
        if not "".join(cells).isprintable():  # one test per row: most rows need nothing
            cells = [printable(cell) for cell in cells]
        text_rows.append(cells)
    widths = [len(h) for h in headers]
    for row in text_rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    if fit is None:
        fit = stream.isatty()
    limit = _columns() if fit else 0
    right = {i for i, how in enumerate(justify) if how == "right"}
    align = [str.rjust if i in right else str.ljust for i in range(len(widths))]
    for row in [list(headers), *text_rows]:
        line = "   ".join(
            [pad(cell, width) for pad, cell, width in zip(align, row, widths, strict=False)]
        ).rstrip()
        if limit and len(line) > limit:
            line = line[: max(limit - 1, 0)] + "…"
        stream.write(line + "\n")


#: Set on a node that ``debugtool -H`` asks (``fleet.zipapp.BOOTSTRAP``'s ``tables`` mode): each
#: table is written as one JSON line after a record separator, for the operator's side to merge
#: with the other nodes' under a NODE column (``fleet.merge``), then make printable.
_TABLE_RECORDS = bool(os.environ.get("DEBUGTOOL_TABLE_RECORDS"))
TABLE_MARK = "\x1e"


def _table_record(
    headers: Sequence[str], rows: Iterable[Sequence[Any]], stream: TextIO, justify: Sequence[str]
) -> None:
    import json

    cells = [["" if v is None else str(v) for v in row] for row in rows]
    body = {"headers": list(headers), "rows": cells, "justify": list(justify)}
    stream.write(TABLE_MARK + json.dumps(body, ensure_ascii=True) + "\n")


def _columns() -> int:
    """Return the terminal's width as ``shutil.get_terminal_size`` tells it ($COLUMNS, else the
    terminal of stdout, else 200), without importing shutil."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 200


def human_size(n: float | None) -> str:
    """Return a byte count as ``1.5MiB``-style text ('-' when unknown)."""
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1024
    return f"{n:.1f}TiB"


# --- times and durations: the two ways a time is written, and the one way a duration is -------


def human_age(epoch: float | None, now: float | None = None) -> str:
    """Return how long ago ``epoch`` was, like ``docker ps`` ('5 minutes ago'): how tables
    write an age ('-' when unknown)."""
    if not epoch:
        return "-"
    seconds = max(0, int((now or time.time()) - epoch))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "just now"


def utc_text(epoch: float | None) -> str:
    """Return an epoch time as ``2026-11-26 15:04:05 UTC``: how every time that is not an age
    in a table is written (UTC keeps pictures and bundles read elsewhere the same; '-' when
    unknown)."""
    if not epoch:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


def duration_text(seconds: float | None) -> str:
    """Return a duration: ``0.25s`` and ``12.50s`` under a minute, then two units as
    ``uptime`` and ``docker`` shorten them: ``4m 05s``, ``3h 07m``, ``2d 04h`` ('-' when
    unknown)."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{max(seconds, 0):.2f}s"
    whole = int(seconds)
    for big, size, small, small_size in (
        ("d", 86400, "h", 3600),
        ("h", 3600, "m", 60),
        ("m", 60, "s", 1),
    ):
        if whole >= size:
            return f"{whole // size}{big} {whole % size // small_size:02d}{small}"
    return f"{seconds:.2f}s"  # not reached: a minute or more has minutes


def warn(message: str) -> None:
    """Write one warning line to stderr (``message`` through ``printable``)."""
    sys.stderr.write(f"debugtool: warning: {printable(message)}\n")
