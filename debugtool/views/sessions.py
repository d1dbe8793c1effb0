"""The audit sessions view: what ``debugtool audit``, the TUI and the report show of an exec,
shell, trace or console session."""

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


def operator(r: Record) -> str:
    """Who was behind the session when that is not the user it ran as: the login user (kept
    across su and sudo), else the sudo user; "" when nothing says."""
    for name in (r.login_user, r.sudo_user):
        if name and name != r.user:
            return name
    return ""


def _user(r: Record) -> str:
    """The user, and the operator behind it: ``root (alice)``."""
    behind = operator(r)
    return r.user + (f" ({behind})" if behind else "")


def who(r: Record) -> str:
    """Everything the record says of who ran it: ``root (login alice, sudo alice, ssh
    203.0.113.5:52144, /dev/pts/3)``."""
    parts = []
    if r.login_user and r.login_user != r.user:
        parts.append(f"login {r.login_user}")
    if r.sudo_user:
        parts.append(f"sudo {r.sudo_user}")
    if r.ssh_client:
        host = f"[{r.ssh_client}]" if ":" in r.ssh_client else r.ssh_client
        parts.append(f"ssh {host}:{r.ssh_client_port}" if r.ssh_client_port else f"ssh {host}")
    if r.terminal:
        parts.append(r.terminal)
    return r.user + (f" ({', '.join(parts)})" if parts else "")


def recorded(r: Record) -> str:
    """``yes`` when the session has a recording, ``cut`` when it reached its size cap, else
    ``-``."""
    if not r.recording:
        return "-"
    return "cut" if r.recording_truncated else "yes"


#: Longest reason the 80-column table shows before cutting it (whole in --wide and --json).
REASON_WIDTH = 32


def _reason_short(r: Record) -> str:
    text = " ".join(r.reason.split())
    return text if len(text) <= REASON_WIDTH else text[: REASON_WIDTH - 1].rstrip() + "…"


def _target(r: Record) -> str:
    ident = r.target_id[:12]
    name = r.target_name
    return f"{name} ({ident})" if ident and ident != name[:12] else name


def _target_name(r: Record) -> str:
    """The container's name alone (its short id when it has none)."""
    return r.target_name or r.target_id[:12]


#: What ``debugtool shell`` runs: a shell of the container's, or the host's busybox one.
_SHELLS = (["/bin/sh"], ["/.debugtool/bin/sh"])


def action(r: Record) -> str:
    """What the session was: ``exec``, ``shell`` (an interactive shell on a terminal, as
    ``debugtool shell`` runs it), ``trace`` or ``console``."""
    if r.action == "exec" and r.tty and r.interactive and r.argv in _SHELLS:
        return "shell"
    return r.action


def _mode(r: Record) -> str:
    if not r.mode:  # a trace has no exec mode
        return "-"
    return r.mode + (" privileged" if r.privileged else "")


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
        # The trace's own command line, short: ACTION already says it is a trace.
        inside = r.details.get("container_pid")
        words = [f"pid {inside} (host {pid})" if inside else f"host pid {pid}"]
        if r.details.get("follow"):
            words.append("-f")
        if r.details.get("filter"):
            words.append(f"-e {r.details['filter']}")
        return " ".join(words)
    if r.action == "console":
        commands = r.details.get("commands")
        return f"-c {commands}" if isinstance(commands, str) else "(at its prompt)"
    return shlex.join(r.argv)


TIME: Column[Record] = Column("time", "TIME", _time)
USER: Column[Record] = Column("user", "USER", _user)
TARGET: Column[Record] = Column("target", "TARGET", _target)
TARGET_NAME: Column[Record] = Column("target", "TARGET", _target_name)
RUNTIME: Column[Record] = Column("runtime", "RUNTIME", lambda r: r.runtime)
ACTION: Column[Record] = Column("action", "ACTION", action)
MODE: Column[Record] = Column("mode", "MODE", _mode)
EXIT: Column[Record] = Column("exit", "EXIT", _exit, justify="right")
DURATION: Column[Record] = Column(
    "duration", "DURATION", lambda r: r.duration, format=duration_text, justify="right"
)
COMMAND: Column[Record] = Column("command", "COMMAND", _command)
WHO: Column[Record] = Column("who", "USER", who)
REC: Column[Record] = Column("recording", "REC", recorded)
REASON: Column[Record] = Column("reason", "REASON", lambda r: " ".join(r.reason.split()))
REASON_SHORT: Column[Record] = Column("reason", "REASON", _reason_short)

#: What ``debugtool audit`` shows: one row per session; every column up to REC fits in 80
#: (the reason, cut at REASON_WIDTH, and the command are cut on a terminal, whole in a pipe).
COLUMNS: list[Column[Record]] = [
    TIME, USER, TARGET_NAME, ACTION, MODE, EXIT, REC, REASON_SHORT, COMMAND,
]  # fmt: skip
#: ``debugtool audit --wide``: every column, who in full.
WIDE: list[Column[Record]] = [
    TIME, WHO, TARGET, RUNTIME, ACTION, MODE, EXIT, DURATION, REC, REASON, COMMAND,
]  # fmt: skip
#: What a view of one container's sessions shows (the TUI's Audit tab, the report).
ONE_CONTAINER: list[Column[Record]] = [
    TIME, USER, ACTION, MODE, EXIT, DURATION, REC, REASON, COMMAND,
]  # fmt: skip
