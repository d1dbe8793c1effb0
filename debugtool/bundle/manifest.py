"""The bundle manifest: its schema, collector statuses, file checksums, and schema checks.

``manifest.json`` is the first member of every bundle. It records who made the bundle and how,
every collector's outcome, and the size and SHA-256 of every other member, so ``bundle verify``
can tell an intact bundle from a damaged one without trusting anything else in the archive.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

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

#: Keys every manifest holds, with the type each must have.
REQUIRED: dict[str, type | tuple[type, ...]] = {
    "format": str,
    "schema_version": int,
    "debugtool_version": str,
    "created_at": (int, float),
    "root": str,
    "complete": bool,
    "containers": list,
    "collectors": list,
    "files": dict,
}


@dataclass
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


def schema_problems(manifest: Any) -> list[str]:
    """Return what is wrong with a manifest's structure (empty when it is well formed).

    A newer schema version is not reported here: callers decide whether they can read it.
    """
    if not isinstance(manifest, dict):
        return ["the manifest is not a JSON object"]
    problems = []
    for key, kind in REQUIRED.items():
        if key not in manifest:
            problems.append(f"the manifest lacks '{key}'")
        elif not isinstance(manifest[key], kind) or (
            kind is int and isinstance(manifest[key], bool)
        ):
            problems.append(f"the manifest's '{key}' has the wrong type")
    for name, entry in (manifest.get("files") or {}).items():
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("size"), int)
            or not isinstance(entry.get("sha256"), str)
            or len(entry["sha256"]) != 64
        ):
            problems.append(f"the manifest's record of {name} is malformed")
    for record in manifest.get("collectors") or []:
        if not isinstance(record, dict) or record.get("status") not in STATUSES:
            problems.append(f"a collector record is malformed: {str(record)[:80]}")
    return problems
