"""One process of a container in depth: files, sockets, threads, memory, I/O, limits, environment.

``debugtool top TARGET --pid N`` and the TUI's process screen show what this returns. psutil
reads the numbers (``memory_full_info`` for USS, PSS and swap from ``smaps_rollup``,
``io_counters``, ``num_ctx_switches``, ``threads``, ``rlimit``, ``environ``), in one
``oneshot`` and for one process: the many-process list of ``top`` stays on the plain /proc
reader (``collect.processes``), which is several times faster (FINDINGS.md). psutil is
imported here, inside the function, so nothing else pays for it.

What psutil cannot see from the host is read from ``/proc`` directly: its ``open_files``
keeps only paths that exist *on the host* (a container's ``/tmp/x`` is usually not), and its
``net_connections`` finds nothing for a process in another network namespace. So the
descriptors are read with ``readlink`` of ``/proc/PID/fd/N`` (the kernel names a file as the
process's own mount namespace sees it) and ``fdinfo``, and the sockets from the process's own
``/proc/PID/net/*`` tables, matched by inode.
"""

from __future__ import annotations

import os

from debugtool import procfs
from debugtool.errors import ContainerGone, DebugtoolError, PermissionDenied, UsageError
from debugtool.snapshot import Limit, OpenFile, ProcessDetail, Socket, ThreadInfo

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

    from debugtool.target import Target

#: What a masked environment value is shown as (the console's ``env`` shows the same).
REDACTED = "<redacted>"
#: The most descriptors listed (a process may hold a million; the count is still given).
MAX_FILES = 4096
#: The resource limits shown, by prlimit(1)'s names, and psutil's constant for each.
LIMITS = (
    ("as", "RLIMIT_AS"),
    ("core", "RLIMIT_CORE"),
    ("cpu", "RLIMIT_CPU"),
    ("data", "RLIMIT_DATA"),
    ("fsize", "RLIMIT_FSIZE"),
    ("locks", "RLIMIT_LOCKS"),
    ("memlock", "RLIMIT_MEMLOCK"),
    ("msgqueue", "RLIMIT_MSGQUEUE"),
    ("nice", "RLIMIT_NICE"),
    ("nofile", "RLIMIT_NOFILE"),
    ("nproc", "RLIMIT_NPROC"),
    ("rss", "RLIMIT_RSS"),
    ("rtprio", "RLIMIT_RTPRIO"),
    ("rttime", "RLIMIT_RTTIME"),
    ("sigpending", "RLIMIT_SIGPENDING"),
    ("stack", "RLIMIT_STACK"),
)
_O_ACCMODE = 0o3
_MODES = {0: "r", 1: "w", 2: "rw"}
_KINDS = (("socket:[", "socket"), ("pipe:[", "pipe"), ("anon_inode:", "anon"))
_DELETED = " (deleted)"
_SOCKET_TABLES = ("tcp", "tcp6", "udp", "udp6", "raw", "raw6")


def mask_environment(
    items: Iterable[tuple[str, str]], show_secrets: bool = False
) -> tuple[list[tuple[str, str]], int]:
    """Return the environment with each secret-looking value replaced by ``REDACTED``, and
    how many were masked: the console's ``env`` and ``top --pid`` both mask through this, by
    the rule of support bundles (``bundle.redact.is_secret_key``: the name decides)."""
    from debugtool.bundle.redact import is_secret_key

    out = []
    masked = 0
    for key, value in items:
        if not show_secrets and is_secret_key(key):
            value = REDACTED
            masked += 1
        out.append((key, value))
    return out, masked


def resolve_pid(target: Target, pid: int | None = None, host_pid: int | None = None) -> int:
    """Return the host PID of the container's process ``pid`` (as the container sees it), or
    check that host PID ``host_pid`` is one of the container's; the container's init without
    either. Raises ``UsageError`` for a process that is not the container's."""
    pidns = target.namespaces.get("pid")
    if host_pid is not None:
        try:
            inside = procfs.namespace_inode(host_pid, "pid") == pidns
        except DebugtoolError:
            inside = False
        if not inside:
            raise UsageError(
                f"host PID {host_pid} is not a process of container {target.container.name}.",
                "List its processes with 'debugtool top TARGET' (HOST PID column).",
            )
        return host_pid
    if pid is None:
        return target.pid
    if pidns is None:
        raise ContainerGone(f"container {target.container.name} has no PID namespace to look in.")
    return procfs.host_pid_for(pidns, pid)


def parse_fdinfo(text: str) -> tuple[int | None, int]:
    """Return ``(position, flags)`` from ``/proc/PID/fdinfo/FD`` (flags are octal there)."""
    position: int | None = None
    flags = 0
    for line in text.splitlines():
        key, _, value = line.partition(":")
        try:
            if key == "pos":
                position = int(value.strip())
            elif key == "flags":
                flags = int(value.strip(), 8)
        except ValueError:
            continue
    return position, flags


def open_file(fd: int, link: str, fdinfo: str = "") -> OpenFile:
    """Return a descriptor from its ``readlink`` text and its fdinfo."""
    kind = next((name for prefix, name in _KINDS if link.startswith(prefix)), "")
    deleted = False
    if not kind:
        kind = "file" if link.startswith("/") else "other"
        if kind == "file" and link.endswith(_DELETED):
            deleted = True
            link = link[: -len(_DELETED)]
    position, flags = parse_fdinfo(fdinfo) if fdinfo else (None, 0)
    return OpenFile(
        fd=fd,
        target=link,
        kind=kind,
        mode=_MODES.get(flags & _O_ACCMODE, "") if fdinfo else "",
        position=position,
        flags=flags,
        deleted=deleted,
    )


def read_files(pid: int, limit: int = MAX_FILES) -> tuple[list[OpenFile], int]:
    """Return a process's descriptors (at most ``limit``, lowest first) and how many it holds.

    Raises ``ProcessGone`` or ``PermissionDenied``.
    """
    try:
        names = sorted(int(n) for n in os.listdir(procfs.path(pid, "fd")) if n.isdigit())
    except OSError as exc:
        raise procfs.translate(exc, pid, "fd") from None
    files = []
    for fd in names[:limit]:
        try:
            link = os.readlink(procfs.path(pid, "fd", fd))
        except OSError:
            continue  # closed since it was listed
        try:
            info = procfs.read_text(pid, f"fdinfo/{fd}")
        except DebugtoolError:
            info = ""
        files.append(open_file(fd, link, info))
    return files, len(names)


def read_sockets(pid: int, files: list[OpenFile]) -> list[Socket]:
    """Return the sockets among ``files``, from the process's own network namespace's tables."""
    from debugtool.collect.network import parse_proc_inet, parse_proc_unix, sort_key

    wanted: dict[int, int] = {}
    for f in files:
        if f.kind == "socket":
            try:
                wanted[int(f.target[8:-1])] = f.fd
            except ValueError:
                continue
    if not wanted:
        return []
    found: list[Socket] = []
    for table in (*_SOCKET_TABLES, "unix"):
        try:
            text = procfs.read_text(pid, f"net/{table}")
        except DebugtoolError:
            continue
        parsed = parse_proc_unix(text) if table == "unix" else parse_proc_inet(text, table)
        found += [s for s in parsed if s.inode in wanted]
    found.sort(key=sort_key)
    return found


def _rlimits(proc: Any, psutil: Any) -> list[Limit]:
    limits = []
    for name, const in LIMITS:
        number = getattr(psutil, const, None)
        if number is None:
            continue
        soft, hard = proc.rlimit(number)
        limits.append(
            Limit(
                name=name,
                soft=None if soft == psutil.RLIM_INFINITY else soft,
                hard=None if hard == psutil.RLIM_INFINITY else hard,
            )
        )
    return limits


def collect_process(
    target: Target,
    pid: int | None = None,
    host_pid: int | None = None,
    show_secrets: bool = False,
) -> ProcessDetail:
    """Return one process of ``target`` in depth: ``pid`` as the container sees it, or
    ``host_pid`` as the host does (the container's init without either).

    Raises ``UsageError`` for a process that is not the container's, ``ContainerGone`` when
    the process (or the container) exits while it is read, ``PermissionDenied`` when its
    ``/proc`` entries may not be read. A part psutil may not read is left unknown, with a
    sentence in ``warnings``.
    """
    try:
        import psutil
    except ImportError:  # a node reached with -H runs debugtool's core, which carries no psutil
        raise DebugtoolError(
            "a process in depth (top --pid) needs psutil, which this host's python lacks.",
            "Install it (python3-psutil); the process list ('top TARGET') works without it.",
        ) from None

    from debugtool.collect import processes as process_collector
    from debugtool.snapshot import Process

    target.check()
    host = resolve_pid(target, pid, host_pid)
    shown = f"process {pid if pid is not None else host}"
    try:
        status = procfs.parse_status(procfs.read_text(host, "status"))
        proc = psutil.Process(host)
    except (procfs.ProcessGone, psutil.NoSuchProcess):
        raise ContainerGone(
            f"{shown} exited.", "List the processes with 'debugtool top'."
        ) from None
    chain = procfs.nspid(status)
    detail = ProcessDetail(pid=host, nspid=chain[-1] if chain else None)
    warnings = detail.warnings

    def read(what: str, call: Any, default: Any = None) -> Any:
        try:
            return call()
        except psutil.AccessDenied:
            warnings.append(f"{what}: permission denied (needs CAP_SYS_PTRACE).")
        except psutil.NoSuchProcess:
            raise ContainerGone(f"{shown} exited while it was read.") from None
        except OSError as exc:
            warnings.append(f"{what}: {exc.strerror or exc}.")
        return default

    with proc.oneshot():
        detail.name = read("name", proc.name, "")
        detail.cmdline = read("command line", proc.cmdline, [])
        detail.state = status.get("State", "").split(" ")[0]
        detail.ppid = read("parent", proc.ppid, 0)
        detail.start_time = read("start time", proc.create_time)
        detail.nice = read("nice", proc.nice)
        times = read("CPU times", proc.cpu_times)
        if times is not None:
            detail.cpu_user, detail.cpu_system = times.user, times.system
        memory = read("memory", proc.memory_full_info)
        if memory is not None:
            detail.rss, detail.vms, detail.shared = memory.rss, memory.vms, memory.shared
            detail.uss, detail.pss, detail.swap = memory.uss, memory.pss, memory.swap
        io = read("I/O counters", proc.io_counters)
        if io is not None:
            detail.read_bytes, detail.write_bytes = io.read_bytes, io.write_bytes
            detail.read_chars = getattr(io, "read_chars", None)
            detail.write_chars = getattr(io, "write_chars", None)
            detail.read_calls, detail.write_calls = io.read_count, io.write_count
        switches = read("context switches", proc.num_ctx_switches)
        if switches is not None:
            detail.voluntary_switches = switches.voluntary
            detail.involuntary_switches = switches.involuntary
        threads = read("threads", proc.threads, [])
        environ = read("environment", proc.environ, {})
    detail.threads = [
        ThreadInfo(t.id, _thread_name(host, t.id), t.user_time, t.system_time) for t in threads
    ]
    detail.limits = read("limits", lambda: _rlimits(proc, psutil), [])
    pairs, detail.masked = mask_environment(environ.items(), show_secrets)
    detail.environment = dict(pairs)
    for field, link in (("cwd", "cwd"), ("root", "root"), ("exe", "exe")):
        try:
            setattr(detail, field, os.readlink(procfs.path(host, link)))
        except OSError as exc:
            if isinstance(procfs.translate(exc, host, link), procfs.ProcessGone):
                raise ContainerGone(f"{shown} exited while it was read.") from None
            warnings.append(f"{link}: {exc.strerror}.")
    # The user as the container names it (its uid_map and /etc/passwd), as ``top`` shows it.
    uid = procfs.status_ids(status)[0] if "Uid" in status else None
    if uid is not None:
        named = {host: Process(pid=host, uid=uid)}
        process_collector._resolve_users(named, target)
        detail.uid, detail.user = named[host].uid, named[host].user
    try:
        parent_chain = procfs.nspid(procfs.read_text(detail.ppid, "status")) if detail.ppid else []
    except DebugtoolError:
        parent_chain = []
    if parent_chain and len(parent_chain) == len(chain):
        detail.nsppid = parent_chain[-1]
    try:
        detail.files, count = read_files(host)
    except procfs.ProcessGone:
        raise ContainerGone(f"{shown} exited while it was read.") from None
    except PermissionDenied as exc:
        warnings.append(f"open files: {exc.message}")
        count = 0
    if count > len(detail.files) and count > MAX_FILES:
        warnings.append(f"it holds {count:,} descriptors; the first {MAX_FILES:,} are listed.")
    detail.sockets = read_sockets(host, detail.files)
    for s in detail.sockets:
        s.pids, s.process = [host], detail.name
        s.nspids = [detail.nspid] if detail.nspid is not None else []
    if not proc.is_running():
        raise ContainerGone(f"{shown} exited while it was read.")
    target.check()
    return detail


def _thread_name(pid: int, tid: int) -> str:
    try:
        return procfs.read_text(pid, f"task/{tid}/comm").rstrip("\n")
    except DebugtoolError:
        return ""
