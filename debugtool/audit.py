"""The audit log: one JSON line per exec or trace session, appended, mode 0600.

The path is ``/var/log/debugtool/audit.jsonl`` unless ``DEBUGTOOL_AUDIT_LOG`` names another.
"""

from __future__ import annotations

import json
import os
import pwd
import socket
import sys
import time
from typing import Any

DEFAULT_PATH = "/var/log/debugtool/audit.jsonl"


def log_path() -> str:
    """Return the audit log's path (``DEBUGTOOL_AUDIT_LOG`` or the default)."""
    return os.environ.get("DEBUGTOOL_AUDIT_LOG") or DEFAULT_PATH


def who() -> dict[str, Any]:
    """Return the real user, the sudo user (if any), the terminal and the host of this session."""
    uid = os.getuid()
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = str(uid)
    tty = ""
    for fd in (0, 1, 2):
        try:
            tty = os.ttyname(fd)
            break
        except OSError:
            continue
    return {
        "user": user,
        "uid": uid,
        "sudo_user": os.environ.get("SUDO_USER", ""),
        "terminal": tty,
        "host": socket.gethostname(),
        "debugtool_pid": os.getpid(),
    }


def open_log(path: str, consequence: str = "") -> int:
    """Open the audit log for appending (created 0600, its directory 0700); return the fd.

    Raises ``PermissionDenied`` when it cannot be written, saying ``consequence`` if given.
    """
    from debugtool.errors import PermissionDenied

    try:
        os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
        return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise PermissionDenied(
            f"cannot write the audit log {path} ({exc.strerror}){consequence}.",
            hint="Run as root, or point DEBUGTOOL_AUDIT_LOG at a writable file.",
        ) from None


def append(entry: dict[str, Any], path: str | None = None) -> None:
    """Append one entry (with time and who ran it filled in) as a JSON line.

    Raises ``PermissionDenied`` when the log cannot be written: an exec that cannot be audited
    does not run.
    """
    path = path or log_path()
    record = {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "epoch": time.time(), **who(), **entry}
    line = (json.dumps(record, sort_keys=True, default=str) + "\n").encode()
    fd = open_log(path)
    try:
        os.write(fd, line)  # one write of a short line to an O_APPEND file: no interleaving
    finally:
        os.close(fd)


def read(path: str | None = None) -> list[dict[str, Any]]:
    """Return the audit entries, oldest first; a malformed line is skipped with a warning."""
    path = path or log_path()
    entries: list[dict[str, Any]] = []
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    entries.append(json.loads(line))
                except ValueError:
                    sys.stderr.write(f"debugtool: warning: {path}:{number}: not JSON; skipped.\n")
    except FileNotFoundError:
        return []
    except PermissionError:
        from debugtool.errors import PermissionDenied

        raise PermissionDenied(f"cannot read the audit log {path}.") from None
    return entries
