"""The bundle manifest: its schema, collector statuses, building it with checksums, and checking it.

``manifest.json`` is the first member of every bundle. It records who made the bundle and how,
every collector's outcome, and the size and SHA-256 of every other member, so ``bundle verify``
can tell an intact bundle from a damaged one without trusting anything else in the archive.
"""

from __future__ import annotations

import hashlib
import json
import math
import re

from debugtool.record import field, record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from debugtool.model import Container

#: The value of ``manifest["format"]`` that marks a debugtool support bundle.
FORMAT = "debugtool-bundle"
#: The manifest schema this debugtool writes and the newest it reads.
SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
REDACTIONS = "redactions.json"
REPORT = "report.html"

# Collector outcomes.
OK = "ok"
ERROR = "error"
TIMEOUT = "timeout"
SKIPPED = "skipped"
TRUNCATED = "truncated"
STATUSES = (OK, ERROR, TIMEOUT, SKIPPED, TRUNCATED)

# What --max-size drops first: a lower number goes first (logs before inspect data).
PRIORITY_LOGS = 0
PRIORITY_RAW = 1
PRIORITY_SAMPLES = 2
PRIORITY_INSPECT = 3
PRIORITY_SNAPSHOT = 4
PRIORITY_HOST = 5
PRIORITY_ESSENTIAL = 9  # container.json and the like: never dropped


@record
class CollectorResult:
    """What one collector did: its status, how long it took, why it failed, what it wrote."""

    name: str  # e.g. "host/kernel", "logs"
    container: str | None = None  # the container's full id; None for host collectors
    status: str = OK
    duration: float = 0.0  # seconds
    error: str = ""
    files: list[str] = field(default_factory=list)  # paths relative to the bundle root

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "container": self.container,
            "status": self.status,
            "duration": round(self.duration, 4),
            "error": self.error,
            "files": list(self.files),
        }


def sha256(data: bytes) -> str:
    """Return the hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def file_entry(data: bytes) -> dict[str, Any]:
    """Return the manifest's record of one member: its size and SHA-256."""
    return {"size": len(data), "sha256": sha256(data)}


def build(
    *,
    root: str,
    created_at: float,
    host: str,
    complete: bool,
    interrupted: str,
    command_line: list[str],
    redacted: bool,
    budget: float,
    collector_timeout: float,
    duration: float,
    containers: list[dict[str, Any]],
    collectors: list[CollectorResult],
    dropped: list[dict[str, Any]],
    members: Mapping[str, bytes],
    cuts: list[dict[str, Any]] | None = None,
    redaction: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Return the manifest of a bundle whose other members are ``members`` (path -> bytes):
    who made it and how, every collector's outcome, each member's size and SHA-256.

    ``containers`` are ``container_record`` dicts. Nothing is redacted here: the capture masks
    the command line and error texts before the manifest is written. ``cuts`` are what the
    per-source caps left out (``{source, kept, dropped, limit}``, bytes), ``redaction`` what
    redaction cost (``{seconds, bytes, share}``).
    """
    from debugtool import __version__

    return {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "debugtool_version": __version__,
        "created_at": created_at,
        "host": host,
        "root": root,
        "complete": complete,
        "interrupted": interrupted or None,
        "command_line": list(command_line),
        "redacted": redacted,
        "budget_seconds": budget,
        "collector_timeout_seconds": collector_timeout,
        "duration": round(duration, 3),
        "containers": containers,
        "collectors": [r.to_dict() for r in collectors],
        "dropped": dropped,
        "cuts": list(cuts or []),
        "redaction": redaction or {"seconds": 0.0, "bytes": 0},
        "files": {rel: file_entry(members[rel]) for rel in sorted(members)},
    }


def container_record(
    container: Container, folder: str, exited_during_capture: bool, not_running: bool = False
) -> dict[str, Any]:
    """Return the manifest's record of one container bundled in ``containers/FOLDER``.

    ``not_running``: it was stopped when the capture began, so it has no snapshot, raw files
    or cgroup samples, and its files were read from its runtime's storage.
    """
    record = {
        "id": container.id,
        "name": container.name,
        "runtime": container.runtime,
        "status": "exited" if exited_during_capture else container.status,
        "dir": folder,
        "exited_during_capture": exited_during_capture,
    }
    if not_running:
        record["not_running"] = True
    return record


# --- the schema, checked in one place ----------------------------------------------------------
# A bundle may come from anyone: every field the reader, ``bundle show`` and the TUI use is checked
# here, once, so that nothing downstream meets a string where it expects a list.

#: The latest time a manifest may give (9999-12-31T23:59:59Z): ``time.gmtime`` fails past it.
MAX_TIME = 253402300799.0
#: Nesting past the JSON parser's recursion limit is reported as nesting deeper than this
#: (debugtool's own manifests nest three deep), with the field it happens in.
MAX_DEPTH = 64

# field -> (required, the JSON kinds it may be)
_TOP: dict[str, tuple[bool, tuple[str, ...]]] = {
    "format": (True, ("string",)),
    "schema_version": (True, ("integer",)),
    "debugtool_version": (True, ("string",)),
    "created_at": (True, ("number",)),
    "root": (True, ("string",)),
    "complete": (True, ("boolean",)),
    "containers": (True, ("list",)),
    "collectors": (True, ("list",)),
    "files": (True, ("object",)),
    "host": (False, ("string",)),
    "interrupted": (False, ("string", "null")),
    "command_line": (False, ("list",)),
    "redacted": (False, ("boolean",)),
    "budget_seconds": (False, ("number",)),
    "collector_timeout_seconds": (False, ("number",)),
    "duration": (False, ("number",)),
    "dropped": (False, ("list",)),
    "cuts": (False, ("list",)),
    "redaction": (False, ("object",)),
    "pseudonymised": (False, ("object",)),
    "rederived": (False, ("list",)),
}
_CUT: dict[str, tuple[bool, tuple[str, ...]]] = {
    "source": (True, ("string",)),
    "kept": (True, ("integer",)),
    "dropped": (True, ("integer",)),
    "limit": (False, ("integer",)),
}
_COST: dict[str, tuple[bool, tuple[str, ...]]] = {
    "seconds": (True, ("number",)),
    "bytes": (True, ("integer",)),
    "share": (False, ("number",)),
}
_CONTAINER: dict[str, tuple[bool, tuple[str, ...]]] = {
    "id": (True, ("string",)),
    "name": (True, ("string",)),
    "runtime": (True, ("string",)),
    "status": (True, ("string",)),
    "dir": (True, ("string",)),
    "exited_during_capture": (False, ("boolean",)),
    "not_running": (False, ("boolean",)),
}
_COLLECTOR: dict[str, tuple[bool, tuple[str, ...]]] = {
    "name": (True, ("string",)),
    "container": (True, ("string", "null")),
    "status": (True, ("string",)),
    "duration": (True, ("number",)),
    "error": (True, ("string",)),
    "files": (True, ("list",)),
}
_FILE: dict[str, tuple[bool, tuple[str, ...]]] = {
    "size": (True, ("integer",)),
    "sha256": (True, ("string",)),
}
_DROPPED: dict[str, tuple[bool, tuple[str, ...]]] = {
    "file": (True, ("string",)),
    "size": (True, ("integer",)),
    "reason": (True, ("string",)),
}
#: The most bad fields listed one by one (a crafted manifest may have a million).
MAX_PROBLEMS = 50
_SHA256 = re.compile(r"[0-9a-f]{64}")
_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}:]')


class ManifestError(ValueError):
    """``manifest.json`` cannot be read as JSON at all; the message says why, naming the field
    when one is at fault."""


def _is(value: Any, kind: str) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "list":
        return isinstance(value, list)
    if kind == "object":
        return isinstance(value, dict)
    return value is None  # "null"


def _described(value: Any) -> str:
    for kind, text in (
        ("null", "null"),
        ("boolean", "a boolean"),
        ("number", "a number"),
        ("string", "a string"),
        ("list", "a list"),
        ("object", "an object"),
    ):
        if _is(value, kind):
            return text
    return type(value).__name__


def _wanted(kinds: tuple[str, ...]) -> str:
    article = {"integer": "an integer", "object": "an object", "null": "null"}
    return " or ".join(article.get(k, f"a {k}") for k in kinds)


class _Schema:
    """Collects what is wrong, one phrase per bad field, each naming the field."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.count = 0

    def bad(self, where: str, what: str) -> None:
        self.count += 1
        if self.count <= MAX_PROBLEMS:
            self.problems.append(f"field '{where}' {what}")

    def record(
        self, where: str, value: Any, fields: dict[str, tuple[bool, tuple[str, ...]]]
    ) -> bool:
        """Check an object's fields against ``fields``; return whether all had the right kind."""
        if not isinstance(value, dict):
            self.bad(where, f"is {_described(value)}, not an object")
            return False
        ok = True
        for key, (required, kinds) in fields.items():
            name = f"{where}.{key}" if where else key
            if key not in value:
                if required:
                    self.bad(name, "is missing")
                    ok = False
            elif not any(_is(value[key], k) for k in kinds):
                self.bad(name, f"is {_described(value[key])}, not {_wanted(kinds)}")
                ok = False
            elif "number" in kinds and not math.isfinite(value[key]):
                self.bad(name, "is not a finite number")
                ok = False
        return ok

    def strings(self, where: str, values: list[Any]) -> None:
        for i, value in enumerate(values):
            if not isinstance(value, str):
                self.bad(f"{where}[{i}]", f"is {_described(value)}, not a string")
                return

    def folder(self, where: str, name: str) -> None:
        if not name or name in (".", "..") or "/" in name or "\0" in name:
            self.bad(where, "is not a plain folder name")


def schema_problems(manifest: Any) -> list[str]:
    """Return what is wrong with a manifest's structure, one phrase per bad field naming it
    (``field 'created_at' is a string, not a number``); empty when it is well formed.

    Every field that debugtool reads is checked for its kind and range. Fields it does not know
    are ignored (a later schema-1 debugtool may add some). A newer schema version is not
    reported here: callers decide whether they can read it.
    """
    check = _Schema()
    if not isinstance(manifest, dict):
        return [f"the manifest is {_described(manifest)}, not an object"]
    check.record("", manifest, _TOP)  # the fields below that are sound are checked further
    created = manifest.get("created_at")
    if (
        isinstance(created, (int, float))
        and math.isfinite(created)
        and not 0 <= created <= MAX_TIME
    ):
        check.bad("created_at", "is not a time between 1970 and 9999")
    if isinstance(manifest.get("root"), str):
        check.folder("root", manifest["root"])
    containers = manifest.get("containers")
    for i, entry in enumerate(containers if isinstance(containers, list) else []):
        where = f"containers[{i}]"
        if check.record(where, entry, _CONTAINER):
            check.folder(f"{where}.dir", entry["dir"])
    collectors = manifest.get("collectors")
    for i, entry in enumerate(collectors if isinstance(collectors, list) else []):
        where = f"collectors[{i}]"
        if check.record(where, entry, _COLLECTOR):
            if entry["status"] not in STATUSES:
                check.bad(f"{where}.status", f"is not one of {', '.join(STATUSES)}")
            check.strings(f"{where}.files", entry["files"])
    files = manifest.get("files")
    for name, entry in (files if isinstance(files, dict) else {}).items():
        where = f"files.{name}"
        if check.record(where, entry, _FILE):
            if entry["size"] < 0:
                check.bad(f"{where}.size", "is negative")
            if not _SHA256.fullmatch(entry["sha256"]):
                check.bad(f"{where}.sha256", "is not a SHA-256 in hex")
    if isinstance(manifest.get("command_line"), list):
        check.strings("command_line", manifest["command_line"])
    dropped = manifest.get("dropped")
    for i, entry in enumerate(dropped if isinstance(dropped, list) else []):
        check.record(f"dropped[{i}]", entry, _DROPPED)
    cuts = manifest.get("cuts")
    for i, entry in enumerate(cuts if isinstance(cuts, list) else []):
        check.record(f"cuts[{i}]", entry, _CUT)
    if isinstance(manifest.get("redaction"), dict):
        check.record("redaction", manifest["redaction"], _COST)
    if check.count > MAX_PROBLEMS:
        check.problems.append(f"and {check.count - MAX_PROBLEMS:,} more bad fields")
    return check.problems


def parse(data: bytes) -> Any:
    """Return ``manifest.json``'s JSON value (not yet checked: see ``schema_problems``).

    Raises ``ManifestError`` for bytes that are not JSON, and for JSON nested too deep for the
    parser, naming the top-level field that nests so deep.
    """
    try:
        return json.loads(data)
    except RecursionError:
        field = _too_deep(data) or ""
        where = f"field '{field}'" if field else "its top level"
        raise ManifestError(f"{where} nests lists or objects more than {MAX_DEPTH} deep") from None
    except ValueError:
        raise ManifestError("it is not JSON") from None


def _too_deep(data: bytes) -> str | None:
    """Return the top-level field in which ``data`` nests deeper than ``MAX_DEPTH`` ('' when
    the top level itself does), or None. A scan of JSON's brackets and strings, never a
    recursion, so it is safe on any input."""
    depth = 0
    key = last = b""
    for token in _TOKEN.finditer(data):
        text = token.group()
        if text in (b"[", b"{"):
            depth += 1
            if depth > MAX_DEPTH:
                try:
                    return str(json.loads(key)) if key else ""
                except ValueError:
                    return ""
        elif text in (b"]", b"}"):
            depth -= 1
        elif text == b":":
            if depth == 1:
                key = last
        else:
            last = text
    return None
