"""The process detail view: what ``top --pid`` and the TUI's process screen show of one process."""

from __future__ import annotations

from debugtool.output import duration_text, human_size, utc_text
from debugtool.snapshot import Limit, OpenFile, ProcessDetail, ThreadInfo
from debugtool.views import Column, dash, size_text


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def summary(d: ProcessDetail) -> list[tuple[str, str]]:
    """Return the process's labelled lines: who it is, where it runs, what it uses."""
    command = " ".join(d.cmdline) if d.cmdline else f"[{d.name}]"
    memory = ", ".join(
        f"{label} {size_text(value)}"
        for label, value in (
            ("RSS", d.rss),
            ("USS", d.uss),
            ("PSS", d.pss),
            ("swap", d.swap),
            ("shared", d.shared),
            ("virtual", d.vms),
        )
    )
    io = (
        f"read {size_text(d.read_chars)} in {_count(d.read_calls)} calls "
        f"({size_text(d.read_bytes)} from storage), written {size_text(d.write_chars)} in "
        f"{_count(d.write_calls)} calls ({size_text(d.write_bytes)} to storage)"
    )
    return [
        ("PID", dash(d.nspid)),
        ("Host PID", str(d.pid)),
        ("PPID", dash(d.nsppid)),
        ("User", d.user or dash(d.uid)),
        ("State", dash(d.state)),
        ("Command", command),
        ("Executable", dash(d.exe)),
        ("Working directory", dash(d.cwd)),
        ("Root", dash(d.root)),
        ("Started", utc_text(d.start_time)),
        ("CPU time", f"{duration_text(d.cpu_user)} user, {duration_text(d.cpu_system)} system"),
        ("Nice", dash(d.nice)),
        ("Threads", str(len(d.threads))),
        ("Memory", memory),
        ("I/O", io),
        (
            "Context switches",
            f"{_count(d.voluntary_switches)} voluntary, "
            f"{_count(d.involuntary_switches)} involuntary",
        ),
        ("Descriptors", str(len(d.files))),
    ]


def _target(f: OpenFile) -> str:
    return f.target + (" (deleted)" if f.deleted else "")


FD: Column[OpenFile] = Column("fd", "FD", lambda f: f.fd, justify="right")
MODE: Column[OpenFile] = Column("mode", "MODE", lambda f: f.mode)
TYPE: Column[OpenFile] = Column("kind", "TYPE", lambda f: f.kind)
POSITION: Column[OpenFile] = Column("position", "POS", lambda f: f.position, justify="right")
TARGET: Column[OpenFile] = Column("target", "TARGET", _target)
#: The open files table.
FILE_COLUMNS: list[Column[OpenFile]] = [FD, MODE, TYPE, POSITION, TARGET]

TID: Column[ThreadInfo] = Column("tid", "HOST TID", lambda t: t.tid, justify="right")
THREAD_NAME: Column[ThreadInfo] = Column("name", "NAME", lambda t: t.name)
USER_TIME: Column[ThreadInfo] = Column(
    "user_time", "USER", lambda t: t.user_time, format=duration_text, justify="right"
)
SYSTEM_TIME: Column[ThreadInfo] = Column(
    "system_time", "SYSTEM", lambda t: t.system_time, format=duration_text, justify="right"
)
#: The threads table.
THREAD_COLUMNS: list[Column[ThreadInfo]] = [TID, THREAD_NAME, USER_TIME, SYSTEM_TIME]


def limit_text(value: int | None, name: str = "") -> str:
    """Return a limit as prlimit(1) writes it: ``unlimited``, sizes in bytes as sizes."""
    if value is None:
        return "unlimited"
    if name in ("as", "core", "data", "fsize", "memlock", "msgqueue", "rss", "stack"):
        return human_size(value)
    return f"{value:,}"


LIMIT_NAME: Column[Limit] = Column("name", "LIMIT", lambda limit: limit.name)
SOFT: Column[Limit] = Column(
    "soft", "SOFT", lambda limit: limit_text(limit.soft, limit.name), justify="right"
)
HARD: Column[Limit] = Column(
    "hard", "HARD", lambda limit: limit_text(limit.hard, limit.name), justify="right"
)
#: The resource limits table.
LIMIT_COLUMNS: list[Column[Limit]] = [LIMIT_NAME, SOFT, HARD]


def environment_lines(d: ProcessDetail) -> list[str]:
    """Return ``KEY=VALUE`` lines, secret values already masked by the collector."""
    return [f"{key}={value}" for key, value in d.environment.items()]


def masked_note(d: ProcessDetail) -> str:
    """Return the sentence that says how many values were masked ("" when none were)."""
    if not d.masked:
        return ""
    return f"{d.masked} value(s) redacted; --show-secrets shows them."
