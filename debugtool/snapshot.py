"""A Snapshot: everything debugtool reads about one container at one moment, and its records
(processes, mounts, network, cgroup usage, security context), with a JSON round-trip.

Apart from ``debugtool.model`` (the containers) so that a command that only lists or resolves
containers does not build these classes.
"""

from __future__ import annotations

from debugtool.model import Container, Port, from_dict, to_dict
from debugtool.record import field, record

SCHEMA_VERSION = 1


@record
class Process:
    """One process of a container. ``pid`` is the host's PID, ``nspid`` the container's."""

    pid: int
    nspid: int | None = None
    ppid: int = 0  # host PID of the parent
    nsppid: int | None = None  # the parent's PID inside the container (None: outside it)
    uid: int | None = None  # the effective uid inside the container's user namespace
    user: str = ""  # resolved from the container's own /etc/passwd
    state: str = ""  # R, S, D, Z, T, ...
    name: str = ""  # comm
    cmdline: list[str] = field(default_factory=list)
    cpu_percent: float | None = None
    rss: int | None = None  # bytes
    threads: int = 1
    start_time: float | None = None  # seconds since the epoch
    # In the container's PID namespace but not its cgroup (entered with nsenter or setns):
    # it escapes the container's limits.
    outside_cgroup: bool = False
    # User + system CPU seconds since the process started: two Snapshots give the CPU % between
    # them as (cpu_time2 - cpu_time1) / (taken_at2 - taken_at1) * 100.
    cpu_time: float | None = None
    # The effective uid as the host sees it, when the container's user namespace maps it to
    # another (rootless: uid 0 inside is the owner's uid on the host); None when they are equal.
    host_uid: int | None = None

    @property
    def command(self) -> str:
        """The command line as one string, or ``[comm]`` for a process without one."""
        return " ".join(self.cmdline) if self.cmdline else f"[{self.name}]"


@record
class OpenFile:
    """One descriptor a process holds, as ``ls -l /proc/PID/fd`` shows it from the host.

    ``target`` is what the kernel names it: a path as the process's own mount namespace sees
    it (so a container's ``/tmp/x``, not the host's path to it), ``socket:[INODE]``,
    ``pipe:[INODE]``, ``anon_inode:[eventfd]``.
    """

    fd: int
    target: str
    kind: str = "file"  # file, socket, pipe, anon, other
    mode: str = ""  # r, w or rw (from fdinfo's flags)
    position: int | None = None
    flags: int = 0  # the open(2) flags, as fdinfo writes them
    deleted: bool = False  # the file was unlinked after it was opened


@record
class ThreadInfo:
    """One thread of a process (``/proc/PID/task/TID``)."""

    tid: int  # the host's
    name: str = ""
    user_time: float = 0.0  # seconds
    system_time: float = 0.0


@record
class Limit:
    """One resource limit of a process (``prlimit``); None means unlimited."""

    name: str  # as prlimit(1) names it: nofile, nproc, as, core, ...
    soft: int | None = None
    hard: int | None = None


@record
class ProcessDetail:
    """One process of a container in depth (``debugtool top TARGET --pid N``).

    Paths (``cwd``, ``root``, ``exe``, open files) are as the container sees them. The
    environment's secret-looking values are masked as the console masks them (``masked``
    counts them). A field that could not be read is None (or empty), and ``warnings`` says why.
    """

    pid: int  # the host's
    nspid: int | None = None
    ppid: int = 0
    nsppid: int | None = None
    name: str = ""
    cmdline: list[str] = field(default_factory=list)
    exe: str = ""
    state: str = ""
    uid: int | None = None
    user: str = ""
    start_time: float | None = None
    cwd: str = ""
    root: str = ""
    cpu_user: float | None = None  # seconds
    cpu_system: float | None = None
    nice: int | None = None
    # memory_full_info: bytes
    rss: int | None = None
    vms: int | None = None
    shared: int | None = None
    uss: int | None = None
    pss: int | None = None
    swap: int | None = None
    # I/O: bytes through the storage layer, characters through read/write, calls
    read_bytes: int | None = None
    write_bytes: int | None = None
    read_chars: int | None = None
    write_chars: int | None = None
    read_calls: int | None = None
    write_calls: int | None = None
    voluntary_switches: int | None = None
    involuntary_switches: int | None = None
    threads: list[ThreadInfo] = field(default_factory=list)
    limits: list[Limit] = field(default_factory=list)
    environment: dict[str, str] = field(default_factory=dict)
    masked: int = 0
    files: list[OpenFile] = field(default_factory=list)
    sockets: list[Socket] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@record
class Mount:
    """One line of the container's mountinfo, with what debugtool thinks is risky about it."""

    mount_id: int
    parent_id: int
    mountpoint: str
    fstype: str
    source: str = ""
    root: str = "/"  # the path within the filesystem that is mounted here
    host_path: str = ""  # where a bind mount comes from on the host, when it can be told
    options: str = ""
    super_options: str = ""
    propagation: str = "private"  # private, shared:N, master:N, unbindable
    readonly: bool = False
    risks: list[str] = field(default_factory=list)  # e.g. "docker socket", "host root rw"


@record
class Address:
    family: str  # inet or inet6
    address: str
    prefixlen: int
    scope: str = ""


@record
class Interface:
    name: str
    index: int = 0
    state: str = ""  # UP, DOWN, UNKNOWN
    mtu: int = 0
    mac: str = ""
    kind: str = ""  # veth, loopback, bridge, ...
    addresses: list[Address] = field(default_factory=list)
    rx_bytes: int = 0
    rx_packets: int = 0
    rx_errors: int = 0
    rx_dropped: int = 0
    tx_bytes: int = 0
    tx_packets: int = 0
    tx_errors: int = 0
    tx_dropped: int = 0
    # The other end of a veth pair when it is in debugtool's own network namespace (on the
    # host: the vethXXXX that carries this container's traffic).
    peer: str = ""


@record
class Route:
    family: str  # inet or inet6
    destination: str  # "default" or "10.0.0.0/24"
    gateway: str = ""
    interface: str = ""
    metric: int = 0
    table: str = "main"
    protocol: str = ""
    scope: str = ""
    type: str = ""  # unicast, local, broadcast, blackhole, unreachable, ...
    prefsrc: str = ""  # the source address the kernel prefers for this route


@record
class Socket:
    """One socket in the container's network namespace, with the processes that hold it."""

    protocol: str  # tcp, tcp6, udp, udp6, raw, raw6, unix
    state: str = ""  # LISTEN, ESTABLISHED, ... (UNCONN for datagram sockets)
    local_address: str = ""
    local_port: int = 0
    remote_address: str = ""
    remote_port: int = 0
    path: str = ""  # unix sockets
    inode: int = 0
    uid: int | None = None
    rx_queue: int = 0
    tx_queue: int = 0
    pids: list[int] = field(default_factory=list)  # host PIDs holding it
    nspids: list[int] = field(default_factory=list)  # the same, as the container sees them
    process: str = ""  # the first holder's name
    socket_type: str = ""  # unix sockets: stream, dgram or seqpacket
    peer_inode: int = 0  # unix sockets: the inode of the connected peer, when known

    @property
    def listening(self) -> bool:
        return self.state in ("LISTEN", "UNCONN") and not self.remote_port


@record
class DNSConfig:
    nameservers: list[str] = field(default_factory=list)
    search: list[str] = field(default_factory=list)
    options: list[str] = field(default_factory=list)
    resolv_conf: str = ""  # the file as the container sees it
    hosts: str = ""  # /etc/hosts as the container sees it


@record
class Network:
    interfaces: list[Interface] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)
    sockets: list[Socket] = field(default_factory=list)
    dns: DNSConfig = field(default_factory=DNSConfig)
    # The container's published ports (``Container.ports``) with who listens for each on the
    # host, as found when the network was read.
    ports: list[Port] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # parts that could not be read, in words


@record
class CgroupStats:
    """Resource usage and limits of the container's cgroup. ``None`` means unknown or unlimited
    (each field's comment says which)."""

    version: str = ""  # v1, v2 or hybrid
    paths: dict[str, str] = field(default_factory=dict)  # controller -> path on the host
    sampled_at: float = 0.0  # seconds since the epoch
    memory_usage: int | None = None  # bytes
    memory_limit: int | None = None  # bytes; None: unlimited
    memory_peak: int | None = None  # bytes
    oom_kills: int | None = None
    cpu_usage_ns: int | None = None  # cumulative
    cpu_quota_us: int | None = None  # None: unlimited
    cpu_period_us: int | None = None
    cpu_weight: int | None = None  # v2 weight, or v1 shares
    cpu_nr_periods: int | None = None
    cpu_nr_throttled: int | None = None
    cpu_throttled_ns: int | None = None
    pids_current: int | None = None
    pids_max: int | None = None  # None: unlimited
    io_read_bytes: int | None = None
    io_write_bytes: int | None = None
    # True: the cgroup is the host's root, or holds host processes too (a bare sandbox left in
    # its parent's cgroup): its usage is theirs, not the container's, so the usage fields above
    # are None (the limits are kept). ``collect.cgroups.shared_with_host`` decides.
    shared_with_host: bool = False

    @property
    def cpu_limit(self) -> float | None:
        """The CPU limit in cores (quota / period), or None when unlimited."""
        if self.cpu_quota_us and self.cpu_period_us:
            return self.cpu_quota_us / self.cpu_period_us
        return None


@record
class SecurityContext:
    uid_map: list[tuple[int, int, int]] = field(default_factory=list)  # inside, outside, count
    gid_map: list[tuple[int, int, int]] = field(default_factory=list)
    user_namespace: bool = False  # True when the container has its own user namespace
    cap_effective: list[str] = field(default_factory=list)
    cap_permitted: list[str] = field(default_factory=list)
    cap_inheritable: list[str] = field(default_factory=list)
    cap_bounding: list[str] = field(default_factory=list)
    cap_ambient: list[str] = field(default_factory=list)
    seccomp: str = ""  # disabled, strict, filter
    seccomp_filters: int | None = None
    no_new_privs: bool = False
    apparmor: str = ""
    selinux: str = ""
    readonly_rootfs: bool = False
    warnings: list[str] = field(default_factory=list)  # privileged-looking settings, in words


@record
class Snapshot:
    """Everything debugtool reads about one container at one moment.

    ``errors`` maps a section (``processes``, ``mounts``, ``network``, ``cgroup``, ``security``)
    to the sentence that explains why it is missing or partial.
    """

    container: Container
    taken_at: float = 0.0  # seconds since the epoch
    hostname: str = ""  # the host's name
    schema_version: int = SCHEMA_VERSION
    processes: list[Process] = field(default_factory=list)
    mounts: list[Mount] = field(default_factory=list)
    network: Network = field(default_factory=Network)
    cgroup: CgroupStats = field(default_factory=CgroupStats)
    security: SecurityContext = field(default_factory=SecurityContext)
    errors: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        import json

        return json.dumps(to_dict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Snapshot:
        import json

        data = json.loads(text)
        version = data.get("schema_version", 0)
        if version > SCHEMA_VERSION:
            from debugtool.errors import BundleError

            raise BundleError(
                f"this snapshot has schema version {version}; this debugtool reads up to "
                f"{SCHEMA_VERSION}.",
                "Upgrade debugtool to read it.",
            )
        return from_dict(cls, data)

    def process_tree(self) -> list[tuple[int, Process]]:
        """Return the processes in tree order as ``(depth, process)`` pairs."""
        return process_tree(self.processes)


def process_tree(processes: list[Process]) -> list[tuple[int, Process]]:
    """Return ``processes`` in tree order as ``(depth, process)`` pairs, parents first."""
    by_pid = {p.pid: p for p in processes}
    children: dict[int, list[Process]] = {}
    roots = []
    for p in sorted(processes, key=lambda p: p.nspid or p.pid):
        if p.ppid in by_pid and p.ppid != p.pid:
            children.setdefault(p.ppid, []).append(p)
        else:
            roots.append(p)
    out: list[tuple[int, Process]] = []

    def walk(p: Process, depth: int) -> None:
        out.append((depth, p))
        for child in children.get(p.pid, []):
            walk(child, depth + 1)

    for root in roots:
        walk(root, 0)
    return out
