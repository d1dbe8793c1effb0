"""The processes of a container, read from the host's /proc in one pass.

Membership is decided by the PID namespace: every host process that the target's PID namespace
sees belongs to the container (its own and those of namespaces nested in it, as ``ps`` inside
lists them), including processes entered with ``nsenter`` or ``docker exec``. The cgroup is the
cross-check: a process in the container's PID namespace but not in its cgroup (``nsenter -p``,
plain ``setns``) is kept and marked ``outside_cgroup``, because it escapes the container's limits.

Why not psutil's ``process_iter(attrs)`` or ``oneshot()``: psutil builds a Process object per
PID and goes through its own method per attribute; on 2,001 container processes it took 2.0-3.6x
as long as reading ``stat``, ``status`` and ``cmdline`` directly, and ``process_iter`` also walks
every host process (bench/bench_top.py measures all three side by side). This module asks the
kernel once per host PID whether the namespace sees it and by what PID (``procfs.pids_seen_from``),
then reads only the target's processes: the owner of ``/proc/PID``, ``stat`` and ``cmdline``, each
once, with raw ``os.read``; psutil stays useful where a single process is asked many things.
"""

from __future__ import annotations

import os
import time

from debugtool import procfs, rootfs
from debugtool.errors import ContainerGone, DebugtoolError
from debugtool.snapshot import Process

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from debugtool.target import Target

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


# The scan itself is procfs's (one pass over /proc); bench/bench_top.py imports it by these names.
host_pids = procfs.pids


def pids_in_namespace(pidns: int, pids: Iterable[int]) -> list[int]:
    """Return the PIDs among ``pids`` whose PID namespace inode is ``pidns`` (skipping any that
    exit or refuse the look): ``procfs.members`` narrowed to ``pids``."""
    return procfs.members(pidns, "pid", pids)


#: How much of a /proc file the first ``read`` asks for: all of stat and status, and all but the
#: longest command lines (a longer file is read on to its end).
_READ_SIZE = 8192
_OPEN_FLAGS = os.O_RDONLY | os.O_CLOEXEC


def _read(path: str) -> bytes:
    """Read a whole /proc file with raw syscalls (no buffered-io layer: this runs per process).

    One ``read`` is the whole file for stat, status and most command lines (they are generated
    whole on the first read, not seq_files that stop at a record boundary); only a longer one
    reads on to EOF.
    """
    fd = os.open(path, _OPEN_FLAGS)
    try:
        data = os.read(fd, _READ_SIZE)
        if len(data) < _READ_SIZE:
            return data
        chunks = [data]
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _is_host_pidns(pidns: int) -> bool:
    try:
        return procfs.namespace_inode("self", "pid") == pidns
    except DebugtoolError:
        return False


def pids_in_cgroup(cgroup: dict[str, str], pids: Iterable[int]) -> list[int]:
    """Return the PIDs among ``pids`` in the same cgroup as ``cgroup`` (a parsed /proc/PID/cgroup)."""
    found = []
    for pid in pids:
        try:
            mine = procfs.parse_cgroup(procfs.read_text(pid, "cgroup"))
        except DebugtoolError:
            continue
        if mine and _same_cgroup(mine, cgroup):
            found.append(pid)
    return found


def read_process(
    pid: int, boot: float, uptime_ticks: float | None = None, nspid: int | None = None
) -> Process:
    """Read one process's owner, stat and cmdline; raise ``procfs.ProcessGone`` if it exits
    (``PermissionDenied`` if a file is refused).

    ``nspid`` is its PID inside the container when the caller knows it (``procfs.pids_seen_from``
    answers it); otherwise it is the last of status's ``NSpid``, read for it. ``cpu_percent`` is
    the average over the process's lifetime (what ``ps`` shows) when ``uptime_ticks`` (seconds
    since boot, in clock ticks) is given.
    """
    base = f"{procfs.PROC}/{pid}"
    what = "stat"
    try:
        # The owner of /proc/PID is the effective uid, dumpable or not (the kernel's
        # task_dump_owner keeps that for the directory, as procps reads it), where status would
        # cost twice stat's time to generate for one field.
        uid = os.stat(base).st_uid
        stat = _read(base + "/stat")
        what = "cmdline"
        cmdline = _read(base + "/cmdline")
        if nspid is None:
            what = "status"
            nspid = status_nspid(_read(base + "/status"))
    except OSError as exc:
        raise procfs.translate(exc, pid, what) from None
    if not stat:
        raise procfs.ProcessGone(f"process {pid} exited while reading stat.")
    return build_process(pid, stat, cmdline, uid, nspid, boot, uptime_ticks)


def status_nspid(status: bytes) -> int | None:
    """Return the last of status's ``NSpid`` (the PID as the process's own namespace names it),
    None when absent; read in the bytes, nothing of status decoded.

    ``Name`` (the first line) has any newline escaped by the kernel, so ``\\nNSpid:`` can only
    match the start of a real line.
    """
    start = status.find(b"\nNSpid:")
    if start < 0:
        return None
    end = status.find(b"\n", start + 1)
    chain = status[start + 7 : end if end >= 0 else None].split()
    return int(chain[-1]) if chain else None


def build_process(
    pid: int,
    stat: bytes,
    cmdline: bytes,
    uid: int | None,
    nspid: int | None,
    boot: float,
    uptime_ticks: float | None = None,
) -> Process:
    """Build a ``Process`` from the bytes of its stat and cmdline files, its effective ``uid``
    and its PID inside the container.

    Non-UTF-8 bytes of the name and the command line are kept as surrogate escapes.
    """
    # Inline rather than procfs.parse_stat: this runs thousands of times per refresh, and only
    # seven of stat's fields are shown. The command name sits between the first "(" and the
    # last ")" and may hold both; the fields after it are single-space separated, and splitting
    # stops after the 22nd (rss).
    lpar = stat.find(b"(")
    rpar = stat.rfind(b")")
    rest = stat[rpar + 2 :].split(b" ", 22)
    start_ticks = int(rest[19])
    cpu_ticks = int(rest[11]) + int(rest[12])
    cpu = None
    if uptime_ticks is not None:
        elapsed = uptime_ticks - start_ticks
        cpu = round(100.0 * cpu_ticks / elapsed, 1) if elapsed > 0 else 0.0
    # A NUL cannot occur inside a UTF-8 sequence, so decoding once and splitting the text gives
    # the same arguments as splitting the bytes and decoding each.
    argv = cmdline.rstrip(b"\0").decode("utf-8", "surrogateescape").split("\0") if cmdline else []
    return Process(
        pid=pid,
        nspid=nspid,
        ppid=int(rest[1]),
        uid=uid,
        state=rest[0].decode("utf-8", "surrogateescape"),
        name=stat[lpar + 1 : rpar].decode("utf-8", "surrogateescape"),
        cmdline=argv,
        cpu_percent=cpu,
        rss=int(rest[21]) * PAGE_SIZE,
        threads=int(rest[17]),
        start_time=round(boot + start_ticks / procfs.CLOCK_TICKS, 2),
        cpu_time=cpu_ticks / procfs.CLOCK_TICKS,
    )


def _uptime_ticks() -> float:
    with open(procfs.path("uptime")) as f:
        return float(f.read().split()[0]) * procfs.CLOCK_TICKS


def collect_processes(
    target: Target,
    *,
    pids: Iterable[int] | None = None,
    cpu_interval: float = 0.0,
    resolve_users: bool = True,
) -> list[Process]:
    """Return the container's processes, sorted by their PID inside the container.

    ``pids`` restricts the scan (default: every host PID). With ``cpu_interval`` > 0, CPU % is
    sampled over that many seconds (like ``top``); otherwise it is the lifetime average (like
    ``ps``). Processes that exit mid-read are skipped. Raises ``ContainerGone`` when the
    container's own process is gone before anything could be read.
    """
    pidns = target.namespaces.get("pid")
    if not pidns:
        raise DebugtoolError(f"the PID namespace of {target.name} is unknown.")
    members = _members(target, pidns, pids)
    boot = procfs.boot_time()
    uptime = _uptime_ticks()
    processes: dict[int, Process] = {}
    for pid, nspid in members.items():
        try:
            processes[pid] = read_process(pid, boot, uptime, nspid)
        except procfs.ProcessGone:
            continue  # normal churn
        except DebugtoolError:
            continue  # refused (a process of another user namespace owner); skip it
    if not processes and not target.alive():
        raise ContainerGone(f"container {target.name} exited before its processes could be read.")
    if cpu_interval > 0:
        _sample_cpu(processes, cpu_interval)
    _link_parents(processes)
    _mark_outside_cgroup(processes, target)
    if resolve_users:
        _resolve_users(processes, target)
    return sorted(processes.values(), key=lambda p: (p.nspid or 0, p.pid))


def _members(target: Target, pidns: int, pids: Iterable[int] | None) -> Mapping[int, int | None]:
    """Return ``{host PID: PID inside}`` of the container's processes; the PID inside is None
    where it is to be read from status.

    The kernel names them when it can (``procfs.pids_inside``): the processes of the PID
    namespace and of namespaces nested in it, as ``ps`` inside the container lists them (and
    ``docker top``, which goes by the cgroup). On an older kernel, the exact members of the
    namespace.
    """
    if _is_host_pidns(pidns) and target.cgroup:
        # A container sharing the host's PID namespace (--pid host) would otherwise "own" every
        # host process; as docker top does, its processes are then those of its cgroup.
        return dict.fromkeys(pids_in_cgroup(target.cgroup, procfs.pids() if pids is None else pids))
    return procfs.pids_inside(target.pid, pidns, pids)


def _cpu_ticks(pid: int) -> int | None:
    try:
        st = procfs.parse_stat(procfs.read_text(pid, "stat"))
    except (DebugtoolError, ValueError):
        return None
    return int(st["utime"]) + int(st["stime"])


def _sample_cpu(processes: dict[int, Process], interval: float) -> None:
    """Replace each lifetime CPU % with the share used during ``interval`` seconds."""
    before = {pid: _cpu_ticks(pid) for pid in processes}
    t0 = time.monotonic()
    time.sleep(interval)
    elapsed = (time.monotonic() - t0) * procfs.CLOCK_TICKS
    for pid, p in processes.items():
        after = _cpu_ticks(pid)
        start = before[pid]
        if after is None or start is None:
            continue
        p.cpu_percent = round(100.0 * (after - start) / elapsed, 1)


def _link_parents(processes: dict[int, Process]) -> None:
    """Set ``nsppid``: the parent's PID inside the container, or None when the parent is outside
    (the container's init, a ``docker exec`` or ``nsenter`` process)."""
    for p in processes.values():
        parent = processes.get(p.ppid)
        p.nsppid = parent.nspid if parent is not None else None


def _same_cgroup(a: dict[str, str], b: dict[str, str]) -> bool:
    # Compare the hierarchies that identify a container: v2's unified line, or v1's memory/pids
    # (name=systemd and freezer vary with the init system).
    for key in ("", "memory", "pids", "cpu,cpuacct"):
        if key in a and key in b and a[key] != b[key]:
            return False
    return True


def _mark_outside_cgroup(processes: dict[int, Process], target: Target) -> None:
    """Mark processes in the container's PID namespace but outside its cgroup.

    Only roots (whose parent is outside the container) are read: a child starts in its parent's
    cgroup, so it inherits the mark. That keeps the cross-check to a handful of reads.
    """
    if not target.cgroup:
        return
    verdict: dict[int, bool] = {}
    for p in processes.values():
        chain = []
        node: Process | None = p
        while node is not None and node.pid not in verdict:
            chain.append(node)
            parent = processes.get(node.ppid)
            node = parent if parent is not None and parent is not node else None
        if node is not None:
            result = verdict[node.pid]
        else:
            root = chain[-1]
            try:
                cg = procfs.parse_cgroup(procfs.read_text(root.pid, "cgroup"))
                result = bool(cg) and not _same_cgroup(cg, target.cgroup)
            except DebugtoolError:
                result = False
        for q in chain:
            verdict[q.pid] = result
            q.outside_cgroup = result


def _resolve_users(processes: dict[int, Process], target: Target) -> None:
    """Name each process's user from the container's own /etc/passwd, never the host's.

    Host uids are mapped through the container's uid_map first when it has a user namespace.
    """
    names = rootfs.users(target.root) if processes else {}
    try:
        uid_map = procfs.parse_id_map(procfs.read_text(target.pid, "uid_map"))
    except DebugtoolError:
        uid_map = procfs.IDENTITY_MAP
    for p in processes.values():
        if p.uid is None:
            continue
        inside = procfs.map_id(p.uid, uid_map) if uid_map != procfs.IDENTITY_MAP else p.uid
        if inside is None:
            p.user = "nobody"
            continue
        if inside != p.uid:
            p.host_uid = p.uid
        p.uid = inside
        p.user = names.get(inside, str(inside))
