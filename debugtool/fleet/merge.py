"""The answers of many nodes as one: a table with a NODE column, JSON with ``node``, marked lines.

Each node's debugtool writes its tables as records (``output.TABLE_MARK`` and one JSON line:
headers, rows, alignment) and its other lines as text. When every node said the same thing
around its tables (the same tables, the same text lines), the tables are joined row after row
under one header with NODE first, and the text is written once: ``ps -H a,b,c`` is one table.
When the nodes said different things (``inspect`` of a container on each), each node's output
is written in turn, its tables with the NODE column and its lines marked ``NODE: ``. A node
whose output holds no table at all (``no running containers``) is written that way after the
merged table. Everything a node sent goes through ``output.printable`` here, whatever the
node's debugtool did already: the operator's terminal trusts no node.

With ``--json``, a list from each node becomes one list whose objects carry ``node`` first; an
object from each node becomes a list of them, ``node`` added.
"""

from __future__ import annotations

import sys

from debugtool import output
from debugtool.output import TABLE_MARK, printable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TextIO

    from debugtool.fleet.transport import Outcome

#: A node's output, in order: ("table", headers, rows, justify) or ("line", text).
Segment = tuple


def segments(data: bytes) -> list[Segment]:
    """Return a node's output as table records and text lines (a broken record is text)."""
    import json

    found: list[Segment] = []
    # split on newlines alone: str.splitlines would also split at TABLE_MARK (a record separator)
    text = data.decode("utf-8", "replace")
    for raw in text.removesuffix("\n").split("\n") if text else []:
        if raw.startswith(TABLE_MARK):
            try:
                body = json.loads(raw[1:])
                headers = [str(h) for h in body["headers"]]
                rows = [[str(c) for c in row] for row in body["rows"]]
                justify = [str(j) for j in body.get("justify") or []]
                found.append(("table", headers, rows, justify))
                continue
            except (ValueError, KeyError, TypeError):
                pass
        found.append(("line", raw))
    return found


def _shape(parts: list[Segment]) -> tuple[Any, ...]:
    return tuple((p[0], tuple(p[1])) if p[0] == "table" else p for p in parts)


def _table(name_rows: list[tuple[str, Segment]], stream: TextIO) -> None:
    _, headers, _, justify = name_rows[0][1]
    rows = [[name, *row] for name, part in name_rows for row in part[2]]
    output.table(["NODE", *headers], rows, stream=stream, justify=["left", *justify])


def write_text(outcomes: list[Outcome], stream: TextIO | None = None) -> None:
    """Write the nodes' outputs as one (see the module's docstring)."""
    stream = stream or sys.stdout
    parts = [(o.node.name, segments(o.stdout)) for o in outcomes if o.stdout]
    with_tables = [(n, p) for n, p in parts if any(s[0] == "table" for s in p)]
    without = [(n, p) for n, p in parts if not any(s[0] == "table" for s in p)]
    if with_tables and len({_shape(p) for _, p in with_tables}) == 1:
        first = with_tables[0][1]
        for i, part in enumerate(first):
            if part[0] == "table":
                _table([(n, p[i]) for n, p in with_tables], stream)
            else:
                stream.write(printable(part[1]) + "\n")
    else:
        without = parts
    for name, node_parts in without:
        for part in node_parts:
            if part[0] == "table":
                _table([(name, part)], stream)
            else:
                stream.write(f"{printable(name)}: {printable(part[1])}\n")


def write_json(outcomes: list[Outcome], stream: TextIO | None = None) -> None:
    """Write the nodes' JSON documents as one list, ``node`` in every object."""
    import json

    merged: list[Any] = []
    for outcome in outcomes:
        if not outcome.stdout.strip():
            continue
        try:
            document = json.loads(outcome.stdout)
        except ValueError:
            merged.append(
                {"node": outcome.node.name, "output": outcome.stdout.decode("utf-8", "replace")}
            )
            continue
        items = document if isinstance(document, list) else [document]
        for item in items:
            merged.append(
                {"node": outcome.node.name, **item}
                if isinstance(item, dict)
                else {"node": outcome.node.name, "value": item}
            )
    output.emit_json(merged, stream=stream)


class LineRelay:
    """Hands each node's output on line by line as it arrives, each line marked with its node
    (``logs -H``): text as ``NODE  line``, JSON lines with ``node`` added."""

    def __init__(self, width: int, json_lines: bool, stream: TextIO | None = None) -> None:
        self.width = width
        self.json_lines = json_lines
        self.stream = stream or sys.stdout
        self.partial: dict[str, bytes] = {}

    def __call__(self, name: str, data: bytes, final: bool = False) -> None:
        buffered = self.partial.pop(name, b"") + data
        *lines, rest = buffered.split(b"\n")
        if final and rest:
            lines.append(rest)
            rest = b""
        if rest:
            self.partial[name] = rest
        for raw in lines:
            self.stream.write(self._line(name, raw.decode("utf-8", "replace")) + "\n")
        self.stream.flush()

    def _line(self, name: str, text: str) -> str:
        if self.json_lines:
            import json

            try:
                item = json.loads(text)
                if isinstance(item, dict):
                    return json.dumps({"node": name, **item})
            except ValueError:
                pass
            return json.dumps({"node": name, "line": text})
        return f"{printable(name).ljust(self.width)}  {printable(text)}"
