"""The processes view: what ``top``, the console's ``ps``, the TUI and the report show of a process."""

from __future__ import annotations

from debugtool.output import human_age
from debugtool.record import record
from debugtool.snapshot import Process, process_tree
from debugtool.views import Column, cpu_text, dash, size_text


@record(frozen=True, slots=True)
class ProcessRow:
    """A process as a table shows it: in a tree, ``depth`` is how many ancestors it has there."""

    process: Process
    depth: int = 0


def rows(processes: list[Process], tree: bool = False) -> list[ProcessRow]:
    """Return the processes as rows: as given, or in tree order (parents above children)."""
    if tree:
        return [ProcessRow(p, depth) for depth, p in process_tree(processes)]
    return [ProcessRow(p) for p in processes]


def start_text(epoch: float | None, now: float | None = None) -> str:
    """Return when a process started as every age in a table is written: ``5 minutes ago``
    (``output.human_age``; '-' unknown). ``ps`` writes a time of day (``14:00``) or a date
    (``Nov23``) in the reader's time zone: a third and fourth way to write a time."""
    return human_age(epoch, now)


def _pid_text(value: tuple[int | None, bool]) -> str:
    nspid, outside_cgroup = value
    return dash(nspid) + ("*" if outside_cgroup else "")


def _command(row: ProcessRow) -> str:
    # As ``ps f`` draws a tree: two spaces a level, then ``\_``.
    prefix = "  " * row.depth + "\\_ " if row.depth else ""
    return prefix + row.process.command


# PID's value is (pid inside the container, outside its cgroup): it sorts by the PID, and the
# text marks with '*' a process in the container's PID namespace but not its cgroup.
PID: Column[ProcessRow] = Column(
    "pid",
    "PID",
    lambda r: (r.process.nspid, r.process.outside_cgroup),
    format=_pid_text,
    justify="right",
)
HOST_PID: Column[ProcessRow] = Column(
    "host_pid", "HOST PID", lambda r: r.process.pid, justify="right"
)
PPID: Column[ProcessRow] = Column("ppid", "PPID", lambda r: r.process.nsppid, justify="right")
USER: Column[ProcessRow] = Column("user", "USER", lambda r: r.process.user or r.process.uid)
UID: Column[ProcessRow] = Column("uid", "UID", lambda r: r.process.uid, justify="right")
HOST_UID: Column[ProcessRow] = Column(
    "host_uid", "HOST UID", lambda r: r.process.host_uid, justify="right"
)
STATE: Column[ProcessRow] = Column("state", "STATE", lambda r: r.process.state)
CPU: Column[ProcessRow] = Column(
    "cpu", "%CPU", lambda r: r.process.cpu_percent, format=cpu_text, justify="right", width=6
)
RSS: Column[ProcessRow] = Column(
    "rss", "RSS", lambda r: r.process.rss, format=size_text, justify="right", width=9
)
THREADS: Column[ProcessRow] = Column("threads", "THR", lambda r: r.process.threads, justify="right")
START: Column[ProcessRow] = Column(
    "start", "STARTED", lambda r: r.process.start_time, format=start_text
)
COMMAND: Column[ProcessRow] = Column("command", "COMMAND", _command)

#: What ``top`` and the console's ``ps`` show.
COLUMNS: list[Column[ProcessRow]] = [PID, HOST_PID, USER, STATE, CPU, RSS, THREADS, START, COMMAND]


def with_host_uid(columns: list[Column[ProcessRow]]) -> list[Column[ProcessRow]]:
    """Return ``columns`` with UID and HOST UID after USER: for a container with its own user
    namespace (rootless), where the uid inside is not the host's."""
    keys = [c.key for c in columns]
    at = keys.index("user") + 1 if "user" in keys else len(columns)
    return [*columns[:at], UID, HOST_UID, *columns[at:]]


#: Why a PID is marked ``*``.
OUTSIDE_CGROUP = (
    "PIDs marked '*' are in the container's PID namespace but not its cgroup "
    "(entered with nsenter or setns): its limits do not apply to them."
)
