"""The audit sessions view: what ``debugtool audit``, the TUI and the report show of an exec or trace."""

from __future__ import annotations

import shlex

from debugtool.output import duration_text, utc_text
from debugtool.views import Column

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from debugtool.audit import Record


def _time(r: Record) -> str:
    """When it started, as every time is written (``output.utc_text``); the log's own text
    (``2026-11-18T08:20:00+0100``: local time, ISO 8601) when it cannot be read as a time."""
    if r.epoch:
        return utc_text(r.epoch)
    from datetime import datetime

    try:
        return utc_text(datetime.strptime(r.time, "%Y-%m-%dT%H:%M:%S%z").timestamp())
    except ValueError:
        return r.time or "-"


def _user(r: Record) -> str:
    return r.user + (f" (sudo {r.sudo_user})" if r.sudo_user else "")


def _target(r: Record) -> str:
    ident = r.target_id[:12]
    name = r.target_name
    return f"{name} ({ident})" if ident and ident != name[:12] else name


def _mode(r: Record) -> str:
    return (r.mode or r.action) + (" privileged" if r.privileged else "")


def _exit(r: Record) -> Any:
    """The exit code; or ``running`` (its debugtool still runs) or ``never ended``."""
    state = r.state()
    if state == "running":
        return "running"
    if state == "lost":
        return "never ended"
    return r.exit_code


def _command(r: Record) -> str:
    pid = r.details.get("pid")
    if r.action == "trace" and pid is not None:
        inside = r.details.get("container_pid")
        return f"trace pid {inside} (host pid {pid})" if inside else f"trace host pid {pid}"
    return shlex.join(r.argv)


TIME: Column[Record] = Column("time", "TIME", _time)
USER: Column[Record] = Column("user", "USER", _user)
TARGET: Column[Record] = Column("target", "TARGET", _target)
RUNTIME: Column[Record] = Column("runtime", "RUNTIME", lambda r: r.runtime)
ACTION: Column[Record] = Column("action", "ACTION", lambda r: r.action)
MODE: Column[Record] = Column("mode", "MODE", _mode)
EXIT: Column[Record] = Column("exit", "EXIT", _exit, justify="right")
DURATION: Column[Record] = Column(
    "duration", "DURATION", lambda r: r.duration, format=duration_text, justify="right"
)
COMMAND: Column[Record] = Column("command", "COMMAND", _command)

#: What ``debugtool audit`` shows.
COLUMNS: list[Column[Record]] = [TIME, USER, TARGET, RUNTIME, MODE, EXIT, DURATION, COMMAND]
#: What a view of one container's sessions shows (the TUI's Audit tab, the report).
ONE_CONTAINER: list[Column[Record]] = [TIME, USER, ACTION, MODE, EXIT, DURATION, COMMAND]
