"""The containers view: what ``debugtool ps``, the TUI's list and the report show of a container."""

from __future__ import annotations

from debugtool.model import Container
from debugtool.output import human_age, human_size
from debugtool.record import record
from debugtool.views import Column, cpu_text
from debugtool.views.cgroup import HOST_CGROUP


@record(frozen=True, slots=True)
class ContainerRow:
    """A container as a list shows it, with its usage when it was sampled (the TUI samples
    each running container's cgroup; ``ps`` does not)."""

    container: Container
    cpu_percent: float | None = None  # of one core, between the last two samples
    memory_usage: int | None = None  # bytes
    memory_limit: int | None = None  # bytes; None: no limit
    # Its cgroup is the host's (CgroupStats.shared_with_host): no usage, MEMORY says so.
    host_cgroup: bool = False
    # How fast it restarts, as ``restart_rate`` writes it (the TUI watches the count).
    restart_rate: str = ""


def runtime_text(container: Container) -> str:
    """Return the runtime, with the containerd namespace when there is one."""
    if container.runtime == "containerd" and container.namespace:
        return f"containerd/{container.namespace}"
    return container.runtime


def memory_text(value: tuple[int | None, int | None, bool] | None) -> str:
    """Return ``usage / limit`` from a (usage, limit, host cgroup) triple; no limit shows as
    usage alone, a cgroup shared with the host as ``host cgroup``."""
    if value and value[2]:
        return HOST_CGROUP
    if not value or value[0] is None:
        return "-"
    usage, limit, _ = value
    if limit is None:
        return human_size(usage)
    return f"{human_size(usage)} / {human_size(limit)}"


def exit_text(value: tuple[int | None, bool] | None) -> str:
    """Return a last exit as ``3``, ``137 OOM`` (the kernel OOM-killed it), or '-'."""
    if not value or (value[0] is None and not value[1]):
        return "-"
    code, oom = value
    if code is None:
        return "OOM"
    return f"{code} OOM" if oom else str(code)


def _exit(row: ContainerRow) -> tuple[int | None, bool] | None:
    c = row.container
    return None if c.exit_code is None and not c.oom_killed else (c.exit_code, c.oom_killed)


def restart_rate(count: int, seconds: float) -> str:
    """Return ``count`` restarts in ``seconds`` as a rate people read at a glance: ``3/min``,
    ``12/h``, or ``1/day``-style for slow ones ('' without restarts or time)."""
    if count <= 0 or seconds <= 0:
        return ""
    per_minute = count * 60 / seconds
    if per_minute >= 1:
        return f"{per_minute:.0f}/min"
    per_hour = per_minute * 60
    if per_hour >= 1:
        return f"{per_hour:.0f}/h"
    return f"{per_hour * 24:.0f}/day" if per_hour * 24 >= 1 else "<1/day"


def status_text(container: Container, rate: str = "") -> str:
    """Return a container's status with its last state, as the TUI's list and title show it:
    ``restarting ×14, 3/min`` (its restarts and how fast they come), ``running (×14,
    3/min)`` for one restarted by its policy that runs for now, ``exited 137 OOM`` (its last
    exit; ``OOM`` when the kernel OOM-killed it), else the status alone."""
    c = container
    count = c.restart_count or 0
    if c.status == "restarting":
        words = "restarting" + (f" ×{count}" if count else "")
        return f"{words}, {rate}" if rate else words
    if c.status in ("running", "paused"):
        if not count:
            return c.status
        return f"{c.status} (×{count}, {rate})" if rate else f"{c.status} (×{count})"
    last = exit_text((c.exit_code, c.oom_killed))
    return c.status if last == "-" else f"{c.status} {last}"


def restart_rate_of(history: list[tuple[float, int]], container: Container, now: float) -> str:
    """Return how fast a container restarts: over ``history`` (``(time, restart count)``
    observations, oldest first) when its count rose while watched, else over its life (its
    count since it was created); '' without restarts."""
    count = container.restart_count or 0
    if not count:
        return ""
    if history and count > history[0][1] and now > history[0][0]:
        return restart_rate(count - history[0][1], now - history[0][0])
    return restart_rate(count, now - container.created) if container.created else ""


def crash_looping(container: Container) -> bool:
    """Return whether a container looks caught in a crash loop: restarting now, or restarted
    by its policy and its last run ended in failure."""
    if container.status == "restarting":
        return True
    return bool(container.restart_count) and bool(container.exit_code or container.oom_killed)


def owner_text(owner: str) -> str:
    """Return whose runtime runs a container: the user of a rootless one, else ``root``."""
    return owner or "root"


def _host_pid(row: ContainerRow) -> int | None:
    c = row.container
    return c.pid if c.status in ("running", "paused") else None


def _memory(row: ContainerRow) -> tuple[int | None, int | None, bool] | None:
    # A tuple sorts by its first item (the usage): a host cgroup's None sorts as no usage.
    if row.host_cgroup:
        return (None, None, True)
    if row.memory_usage is None:
        return None
    return (row.memory_usage, row.memory_limit, False)


def _cpu(row: ContainerRow) -> float | None:
    return None if row.host_cgroup else row.cpu_percent


ID: Column[ContainerRow] = Column("id", "ID", lambda r: r.container.short_id, width=12)
FULL_ID: Column[ContainerRow] = Column("id", "ID", lambda r: r.container.id)
NAME: Column[ContainerRow] = Column("name", "NAME", lambda r: r.container.name, width=24)
RUNTIME: Column[ContainerRow] = Column(
    "runtime", "RUNTIME", lambda r: runtime_text(r.container), width=14
)
IMAGE: Column[ContainerRow] = Column("image", "IMAGE", lambda r: r.container.image, width=22)
STATUS: Column[ContainerRow] = Column("status", "STATUS", lambda r: r.container.status, width=7)
#: STATUS with the last state (``status_text``): the TUI's list, where no EXIT or RESTARTS
#: column fits.
STATUS_LAST: Column[ContainerRow] = Column(
    "status", "STATUS", lambda r: status_text(r.container, r.restart_rate), width=22
)
HOST_PID: Column[ContainerRow] = Column("host_pid", "HOST PID", _host_pid, justify="right", width=8)
CREATED: Column[ContainerRow] = Column(
    "created", "CREATED", lambda r: r.container.created, format=human_age
)
EXIT: Column[ContainerRow] = Column("exit", "EXIT", _exit, format=exit_text, width=8)
RESTARTS: Column[ContainerRow] = Column(
    "restarts", "RESTARTS", lambda r: r.container.restart_count, justify="right", width=8
)
STARTED: Column[ContainerRow] = Column(
    "started", "STARTED", lambda r: r.container.started_at, format=human_age
)
FINISHED: Column[ContainerRow] = Column(
    "finished", "FINISHED", lambda r: r.container.finished_at, format=human_age
)
POD: Column[ContainerRow] = Column("pod", "POD", lambda r: r.container.pod, width=20)
POD_NAMESPACE: Column[ContainerRow] = Column(
    "pod_namespace", "POD NAMESPACE", lambda r: r.container.pod_namespace, width=13
)
OWNER: Column[ContainerRow] = Column(
    "owner", "OWNER", lambda r: r.container.owner, format=owner_text, width=12
)


def _node(row: ContainerRow) -> str:
    # A fleet's containers have ids NODE/ID (debugtool.fleet.source), as targets are written.
    node, slash, _ = row.container.id.partition("/")
    return node if slash else ""


def _node_id(row: ContainerRow) -> str:
    return row.container.id.partition("/")[2][:12]


#: The node of a container of many nodes (``tui -H``, a fleet archive): the TUI's first column.
NODE: Column[ContainerRow] = Column("node", "NODE", _node, width=10)
#: ID of a container of many nodes: its id on its node, as ``-H NODE ps`` shows it.
NODE_ID: Column[ContainerRow] = Column("id", "ID", _node_id, width=12)
CPU: Column[ContainerRow] = Column("cpu", "%CPU", _cpu, format=cpu_text, justify="right", width=6)
MEMORY: Column[ContainerRow] = Column(
    "memory", "MEM USAGE / LIMIT", _memory, format=memory_text, justify="right", width=18
)

#: What ``debugtool ps`` shows (POD and POD NAMESPACE go after NAME when a pod is listed).
COLUMNS: list[Column[ContainerRow]] = [ID, NAME, RUNTIME, IMAGE, STATUS, HOST_PID, CREATED]
#: What ``debugtool ps -a`` shows: the last state of stopped and restarting ones too (their
#: last exit, ``OOM`` when the kernel killed it, restarts, when the latest run started and
#: the last one finished).
COLUMNS_ALL: list[Column[ContainerRow]] = [
    ID,
    NAME,
    RUNTIME,
    IMAGE,
    STATUS,
    EXIT,
    RESTARTS,
    HOST_PID,
    CREATED,
    STARTED,
    FINISHED,
]


def with_pods(columns: list[Column[ContainerRow]]) -> list[Column[ContainerRow]]:
    """Return ``columns`` with POD and POD NAMESPACE after NAME (or at the end)."""
    keys = [c.key for c in columns]
    at = keys.index("name") + 1 if "name" in keys else len(columns)
    return [*columns[:at], POD, POD_NAMESPACE, *columns[at:]]


def with_node(columns: list[Column[ContainerRow]]) -> list[Column[ContainerRow]]:
    """Return ``columns`` for containers of many nodes: NODE first, ID their id on the node."""
    return [NODE, *(NODE_ID if c.key == "id" else c for c in columns)]


def with_owner(columns: list[Column[ContainerRow]]) -> list[Column[ContainerRow]]:
    """Return ``columns`` with OWNER after RUNTIME (or at the end): for a list that holds a
    rootless container, where root's are then marked ``root``."""
    keys = [c.key for c in columns]
    at = keys.index("runtime") + 1 if "runtime" in keys else len(columns)
    return [*columns[:at], OWNER, *columns[at:]]
