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
HOST_PID: Column[ContainerRow] = Column("host_pid", "HOST PID", _host_pid, justify="right", width=8)
CREATED: Column[ContainerRow] = Column(
    "created", "CREATED", lambda r: r.container.created, format=human_age
)
POD: Column[ContainerRow] = Column("pod", "POD", lambda r: r.container.pod, width=20)
POD_NAMESPACE: Column[ContainerRow] = Column(
    "pod_namespace", "POD NAMESPACE", lambda r: r.container.pod_namespace, width=13
)
OWNER: Column[ContainerRow] = Column(
    "owner", "OWNER", lambda r: r.container.owner, format=owner_text, width=12
)
CPU: Column[ContainerRow] = Column("cpu", "%CPU", _cpu, format=cpu_text, justify="right", width=6)
MEMORY: Column[ContainerRow] = Column(
    "memory", "MEM USAGE / LIMIT", _memory, format=memory_text, justify="right", width=18
)

#: What ``debugtool ps`` shows (POD and POD NAMESPACE go after NAME when a pod is listed).
COLUMNS: list[Column[ContainerRow]] = [ID, NAME, RUNTIME, IMAGE, STATUS, HOST_PID, CREATED]


def with_pods(columns: list[Column[ContainerRow]]) -> list[Column[ContainerRow]]:
    """Return ``columns`` with POD and POD NAMESPACE after NAME (or at the end)."""
    keys = [c.key for c in columns]
    at = keys.index("name") + 1 if "name" in keys else len(columns)
    return [*columns[:at], POD, POD_NAMESPACE, *columns[at:]]


def with_owner(columns: list[Column[ContainerRow]]) -> list[Column[ContainerRow]]:
    """Return ``columns`` with OWNER after RUNTIME (or at the end): for a list that holds a
    rootless container, where root's are then marked ``root``."""
    keys = [c.key for c in columns]
    at = keys.index("runtime") + 1 if "runtime" in keys else len(columns)
    return [*columns[:at], OWNER, *columns[at:]]
