"""A container's cgroup directories, and their usage and limits, on cgroup v1, v2 and hybrid hosts.

The one place that finds where a process's cgroups are on this host (``controller_dirs``): the
paths come from ``/proc/PID/cgroup`` read from the host (host-absolute, because debugtool runs in
the host's cgroup namespace); the hierarchies' mount points come from the host's mountinfo (v1:
one ``cgroup`` mount per controller set, named by its super options; v2: the one ``cgroup2``
mount). ``collect_cgroup``, the live source's list samples, the exec's cgroup join
(``cgroup_procs_files``) and the bundle all go through it. Each file is optional: a missing or
unreadable one leaves its field ``None``.
"""

from __future__ import annotations

import os
import posixpath
import time

from debugtool import procfs
from debugtool.errors import ContainerGone, DebugtoolError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from debugtool.snapshot import CgroupStats

    Reader = Callable[[str], str | None]
    from debugtool.target import Target

# v1 reports "no limit" as the largest page-aligned counter (PAGE_COUNTER_MAX * page size);
# anything this large is unlimited.
UNLIMITED = 1 << 62


def read_or_none(path: str) -> str | None:
    """Return a cgroup file's text, or None when it is missing or unreadable."""
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    text = text.strip()
    if not text or text == "max":
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _limit(text: str | None) -> int | None:
    value = _int(text)
    return None if value is None or value >= UNLIMITED else value


def _keyed(text: str | None) -> dict[str, int]:
    """Parse ``key value`` lines (cpu.stat, memory.stat, memory.events, memory.oom_control)."""
    out: dict[str, int] = {}
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = int(parts[1])
            except ValueError:
                continue
    return out


def host_mounts() -> list[procfs.MountInfo]:
    """Return this host's cgroup mounts (from debugtool's own mountinfo); empty when it cannot
    be read."""
    try:
        return cgroup_mounts(procfs.read_text("self", "mountinfo"))
    except DebugtoolError:
        return []


def cgroup_mounts(mountinfo: str) -> list[procfs.MountInfo]:
    """Return the cgroup and cgroup2 mounts of a mountinfo text, the only ones a cgroup's
    directories are found in (a host with many containers has hundreds of other mounts)."""
    lines = [line for line in mountinfo.splitlines() if " - cgroup" in line]
    return procfs.parse_mountinfo("\n".join(lines))


def _place(mounts: list[procfs.MountInfo], path: str) -> str | None:
    """Return where the group ``path`` of one hierarchy is on this host, among its ``mounts``.

    A mount of the hierarchy's root (``/``) is preferred; a mount of a group that holds
    ``path`` (a bind of a sub-group) also serves. None when no mount holds it.
    """
    best: procfs.MountInfo | None = None
    for m in mounts:
        root = m.root.rstrip("/")
        if (path == m.root or path.startswith(root + "/")) and (
            best is None or len(m.root) < len(best.root)
        ):
            best = m
    if best is None:
        return None
    return posixpath.join(best.mountpoint, path[len(best.root.rstrip("/")) :].lstrip("/"))


def controller_dirs(
    cgroup: dict[str, str], host: list[procfs.MountInfo] | None = None
) -> tuple[str, dict[str, str]]:
    """Return the cgroup version and ``{controller: directory on the host}``.

    ``cgroup`` is the parsed ``/proc/PID/cgroup``; ``host`` the host's mountinfo (default: read
    now). v2 appears as controller ``"unified"``; v1 controllers by name (``memory``, ``cpu``,
    ``pids``, ``name=systemd``...). A hierarchy not mounted on this host has no entry.
    """
    if host is None:
        host = host_mounts()
    v2_mounts = [m for m in host if m.fstype == "cgroup2"]
    v1_mounts: dict[str, list[procfs.MountInfo]] = {}
    for m in host:
        if m.fstype == "cgroup":
            for opt in m.super_options.split(","):
                v1_mounts.setdefault(opt, []).append(m)
    dirs: dict[str, str] = {}
    v1 = False
    for controllers, path in cgroup.items():
        if controllers == "":
            place = _place(v2_mounts, path)
            if place:
                dirs["unified"] = place
            continue
        v1 = True
        for ctl in controllers.split(","):
            place = _place(v1_mounts.get(ctl, []), path)
            if place:
                dirs[ctl] = place
    has_v2 = "" in cgroup
    version = "hybrid" if v1 and has_v2 else "v1" if v1 else "v2" if has_v2 else ""
    return version, dirs


def container_dirs(
    target: Target, host: list[procfs.MountInfo] | None = None
) -> tuple[str, dict[str, str]]:
    """Return the version and ``{controller: directory}`` of the container's cgroup
    (``controller_dirs`` of its process; ``host``: the host's mountinfo, default read now).

    Raises ``ContainerGone`` when its process has exited and its cgroup is unknown, and
    ``DebugtoolError`` when its directories are not visible from here (another cgroup namespace).
    """
    cgroup = target.cgroup
    if not cgroup:
        try:
            cgroup = procfs.parse_cgroup(procfs.read_text(target.pid, "cgroup"))
        except procfs.ProcessGone:
            raise ContainerGone(
                f"container {target.name} exited before its cgroup could be read."
            ) from None
    version, dirs = controller_dirs(cgroup, host)
    if dirs and not any(os.path.isdir(d) for d in dirs.values()):
        raise DebugtoolError(
            f"the cgroup directories of {target.name} are not visible from here "
            f"({', '.join(sorted(set(dirs.values()))[:2])}).",
            "Run debugtool in the host's cgroup namespace.",
        )
    return version, dirs


def cgroup_procs_files(
    cgroup: dict[str, str],
    mountinfo: str | None = None,
    exists: Callable[[str], bool] = os.path.exists,
) -> list[str]:
    """Return the ``cgroup.procs`` files (host paths) that put a process in ``cgroup``'s groups:
    one per hierarchy, as ``controller_dirs`` finds them (``mountinfo``: the host's text,
    default read now). A group that does not exist (``exists``) is left out.

    Raises ``ProcessGone`` or ``PermissionDenied`` when this host's mountinfo cannot be read.
    """
    if mountinfo is None:
        mountinfo = procfs.read_text("self", "mountinfo")
    _, dirs = controller_dirs(cgroup, cgroup_mounts(mountinfo))
    files: list[str] = []
    for controllers in cgroup:
        directory = dirs.get(controllers.split(",")[0] if controllers else "unified")
        if not directory:
            continue
        candidate = posixpath.join(directory, "cgroup.procs")
        if candidate not in files and exists(candidate):
            files.append(candidate)
    return files


def join(procs_files: Sequence[str]) -> list[str]:
    """Move this process into each cgroup (writing 0 to its cgroup.procs, as ``cgroup_procs_files``
    gives them); return the ones that failed. The exec joiner's step: it needs nothing but ``os``,
    so a joiner takes it before it has imported anything else. Three plain calls a file (no
    file object): the early joiner's mover thread takes the GIL back after each one."""
    failed = []
    for path in procs_files:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
            try:
                os.write(fd, b"0")
            finally:
                os.close(fd)
        except OSError:
            failed.append(path)
    return failed


def read_v1(dirs: dict[str, str], read: Reader = read_or_none) -> CgroupStats:
    """Read v1 controllers' files from ``dirs`` (``{controller: directory}``)."""
    from debugtool.snapshot import CgroupStats

    s = CgroupStats(version="v1", paths=dict(dirs))

    def f(ctl: str, name: str) -> str | None:
        d = dirs.get(ctl)
        return read(posixpath.join(d, name)) if d else None

    s.memory_usage = _int(f("memory", "memory.usage_in_bytes"))
    s.memory_limit = _limit(f("memory", "memory.limit_in_bytes"))
    s.memory_peak = _int(f("memory", "memory.max_usage_in_bytes"))
    oom = _keyed(f("memory", "memory.oom_control"))
    s.oom_kills = oom.get("oom_kill")
    s.cpu_usage_ns = _int(f("cpuacct", "cpuacct.usage"))
    quota = _int(f("cpu", "cpu.cfs_quota_us"))
    s.cpu_quota_us = quota if quota is not None and quota > 0 else None
    s.cpu_period_us = _int(f("cpu", "cpu.cfs_period_us"))
    s.cpu_weight = _int(f("cpu", "cpu.shares"))
    stat = _keyed(f("cpu", "cpu.stat"))
    s.cpu_nr_periods = stat.get("nr_periods")
    s.cpu_nr_throttled = stat.get("nr_throttled")
    s.cpu_throttled_ns = stat.get("throttled_time")
    s.pids_current = _int(f("pids", "pids.current"))
    s.pids_max = _limit(f("pids", "pids.max"))
    for name in ("blkio.throttle.io_service_bytes_recursive", "blkio.throttle.io_service_bytes"):
        text = f("blkio", name)
        if text is not None:
            s.io_read_bytes, s.io_write_bytes = _blkio_bytes(text)
            break
    return s


def _blkio_bytes(text: str) -> tuple[int, int]:
    """Sum the Read and Write lines of a v1 blkio io_service_bytes file over devices."""
    read = write = 0
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in ("Read", "Write"):
            if parts[1] == "Read":
                read += int(parts[2])
            else:
                write += int(parts[2])
    return read, write


def read_v2(directory: str, read: Reader = read_or_none) -> CgroupStats:
    """Read a v2 cgroup's files from ``directory``."""
    from debugtool.snapshot import CgroupStats

    s = CgroupStats(version="v2", paths={"unified": directory})

    def f(name: str) -> str | None:
        return read(posixpath.join(directory, name))

    s.memory_usage = _int(f("memory.current"))
    s.memory_limit = _limit(f("memory.max"))
    s.memory_peak = _int(f("memory.peak"))
    s.oom_kills = _keyed(f("memory.events")).get("oom_kill")
    stat = _keyed(f("cpu.stat"))
    if "usage_usec" in stat:
        s.cpu_usage_ns = stat["usage_usec"] * 1000
    s.cpu_nr_periods = stat.get("nr_periods")
    s.cpu_nr_throttled = stat.get("nr_throttled")
    if "throttled_usec" in stat:
        s.cpu_throttled_ns = stat["throttled_usec"] * 1000
    cpu_max = (f("cpu.max") or "").split()
    if len(cpu_max) == 2:
        s.cpu_quota_us = _int(cpu_max[0])
        s.cpu_period_us = _int(cpu_max[1])
    s.cpu_weight = _int(f("cpu.weight"))
    s.pids_current = _int(f("pids.current"))
    s.pids_max = _limit(f("pids.max"))
    io = f("io.stat")
    if io is not None:
        s.io_read_bytes, s.io_write_bytes = _io_stat_bytes(io)
    return s


def _io_stat_bytes(text: str) -> tuple[int, int]:
    """Sum ``rbytes=`` and ``wbytes=`` of a v2 io.stat over devices."""
    read = write = 0
    for line in text.splitlines():
        for field in line.split()[1:]:
            key, _, value = field.partition("=")
            if key == "rbytes":
                read += int(value)
            elif key == "wbytes":
                write += int(value)
    return read, write


def read_stats(version: str, dirs: dict[str, str], read: Reader = read_or_none) -> CgroupStats:
    """Read the stats of a cgroup found by ``controller_dirs``."""
    if version in ("v1", "hybrid"):
        stats = read_v1({k: v for k, v in dirs.items() if k != "unified"}, read)
        stats.version = version
        stats.paths = dict(dirs)
        return stats
    if version == "v2" and "unified" in dirs:
        return read_v2(dirs["unified"], read)
    from debugtool.snapshot import CgroupStats

    return CgroupStats(version=version, paths=dict(dirs))


#: The v1 controllers whose files ``read_v1`` reads as the container's usage.
_V1_USAGE = frozenset(("memory", "cpuacct", "cpu", "pids", "blkio"))
#: How many members of a group are looked at for a host process: a container's group holds a
#: few of its own; a group that holds more is not one container's.
_MEMBERS_LOOKED_AT = 4096


def _pidns_of(pid: int) -> int | None:
    try:
        return procfs.namespace_inode(pid, "pid")
    except DebugtoolError:
        return None  # gone since cgroup.procs was read, or refused: not evidence either way


def shared_with_host(
    version: str,
    cgroup: dict[str, str],
    dirs: dict[str, str],
    pidns: int | None,
    host_pidns: int | None,
    read: Reader = read_or_none,
    pidns_of: Callable[[int], int | None] = _pidns_of,
) -> bool:
    """Return whether the groups whose usage ``read_stats`` reads are not the container's own.

    They are not when one of them is the hierarchy's root (its numbers are the whole host's),
    or holds a process of the host's PID namespace (``host_pidns``) while the container has a
    PID namespace of its own (``pidns``): a sandbox made with ``unshare`` stays in the group of
    the shell that started it, whose numbers are the shell's and its neighbours'. ``cgroup`` is
    the container's parsed ``/proc/PID/cgroup``, ``dirs`` what ``controller_dirs`` made of it.

    A container in the host's PID namespace (``--pid host``) is judged by the root alone: its
    processes are those of its group. Only a group's own members (``cgroup.procs``) are looked
    at, not its sub-groups'.
    """
    own_pidns = pidns is not None and host_pidns is not None and pidns != host_pidns
    for key, path in cgroup.items():
        if version == "v2":
            if key != "":
                continue
            directory = dirs.get("unified")
        else:
            controllers = [c for c in key.split(",") if c in _V1_USAGE]
            if not controllers:
                continue
            directory = next((dirs[c] for c in controllers if c in dirs), None)
        if directory is None:
            continue
        if path == "/":
            return True
        if not own_pidns:
            continue
        members = (read(posixpath.join(directory, "cgroup.procs")) or "").split()
        for member in members[:_MEMBERS_LOOKED_AT]:
            if member.isdigit() and pidns_of(int(member)) == host_pidns:
                return True
        if len(members) > _MEMBERS_LOOKED_AT:
            return True
    return False


def host_cgroup(stats: CgroupStats) -> CgroupStats:
    """Mark ``stats`` as a group shared with the host (``shared_with_host``): its usage fields
    become None, its limits stay. Returns ``stats``."""
    stats.shared_with_host = True
    for name in (
        "memory_usage",
        "memory_peak",
        "oom_kills",
        "cpu_usage_ns",
        "cpu_nr_periods",
        "cpu_nr_throttled",
        "cpu_throttled_ns",
        "pids_current",
        "io_read_bytes",
        "io_write_bytes",
    ):
        setattr(stats, name, None)
    return stats


def target_shares_host_cgroup(target: Target, version: str, dirs: dict[str, str]) -> bool:
    """Return ``shared_with_host`` for a pinned container, the groups ``dirs`` of ``version``
    found by ``container_dirs``."""
    cgroup = target.cgroup
    if not cgroup:
        try:
            cgroup = procfs.parse_cgroup(procfs.read_text(target.pid, "cgroup"))
        except DebugtoolError:
            return False
    try:
        host_pidns: int | None = procfs.host_pidns()
    except DebugtoolError:
        host_pidns = None
    return shared_with_host(version, cgroup, dirs, target.namespaces.get("pid"), host_pidns)


def collect_cgroup(target: Target) -> CgroupStats:
    """Return the container's cgroup usage and limits, sampled now; with no usage, and
    ``shared_with_host`` set, when its groups are the host's (see ``shared_with_host``).

    Raises ``ContainerGone`` when its process has exited and its cgroup is unknown.
    """
    version, dirs = container_dirs(target)
    stats = read_stats(version, dirs)
    if target_shares_host_cgroup(target, version, dirs):
        host_cgroup(stats)
    stats.sampled_at = time.time()
    return stats
