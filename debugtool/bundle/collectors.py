"""What a bundle collects: host facts, and per container its inspect data, Snapshot, logs, raw
/proc and cgroup files, and cgroup samples.

Each collector is a function ``(CollectorRun, ...) -> {path: bytes}`` run by the capture
(``capture.py``) in a worker thread with a timeout; a collector that runs a program does it
through ``CollectorRun.run`` so the capture can kill the program by its pid when the collector is cut
off. Paths are relative to the bundle root.
"""

from __future__ import annotations

import errno
import functools
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime

from debugtool import deadline, procfs
from debugtool.errors import DebugtoolError, RuntimeUnavailable
from debugtool.model import Container, to_dict
from debugtool.snapshot import CgroupStats

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from typing import Any

    from debugtool.runtimes import Discovery, Runtime
    from debugtool.target import Target

Files = dict[str, bytes]

#: Most output kept from one container's logs; beyond it the oldest lines go (status truncated).
MAX_LOG_BYTES = 8 << 20
#: Most of a log file read from its end to find that output (lines a --since leaves out, and
#: JSON around each line, make it larger than what is kept).
LOG_READ_LIMIT = 64 << 20
#: Most kept from one raw file (cgroup files, /proc tables).
MAX_RAW_BYTES = 1 << 20

# The socket tables (net/tcp, tcp6, udp, unix) are left out: the Snapshot has every socket with
# its processes from sock_diag, and each read of net/tcp walks the kernel's global hash table.
_PROC_FILES = (
    "mountinfo",
    "status",
    "cgroup",
    "limits",
    "net/dev",
    "net/route",
    "net/ipv6_route",
    "net/snmp",
)


class HostIndex:
    """What every container's collectors would otherwise each read again: the host's mounts and
    one pass over ``/proc`` mapping PID namespaces to their processes."""

    def __init__(self) -> None:
        try:
            self.mounts = procfs.parse_mountinfo(procfs.read_text("self", "mountinfo"))
        except DebugtoolError:
            self.mounts = []
        self._by_pidns: dict[int, list[int]] | None = None
        self._parents: dict[int, int | None] = {}
        self._lock = threading.Lock()

    def by_pidns(self) -> dict[int, list[int]]:
        """Return ``{PID namespace inode: [host PIDs]}`` (``procfs.namespace_members``, once)."""
        with self._lock:
            if self._by_pidns is None:
                self._by_pidns = procfs.namespace_members("pid")
                self._parents = procfs.pidns_parents(self._by_pidns)
            return self._by_pidns

    def pids(self, target: Target) -> list[int] | None:
        """Return the host PIDs the target's PID namespace sees (None: unknown, scan yourself):
        its own and those of namespaces nested in it, as live ``top`` lists them."""
        pidns = target.namespaces.get("pid")
        if not pidns:
            return None
        by_pidns = self.by_pidns()
        return [
            pid for ns in procfs.nested_in(pidns, self._parents) for pid in by_pidns.get(ns, ())
        ]

    def cgroup_dirs(self, target: Target) -> tuple[str, dict[str, str]]:
        """Return the target's cgroup version and ``{controller: directory}``."""
        from debugtool.collect.cgroups import container_dirs

        return container_dirs(target, self.mounts)


class NothingToCollect(DebugtoolError):
    """The collector has no source for this container (a runtime that keeps no logs): the
    capture records it as ``skipped``, not as an error."""


class CollectorRun:
    """What a running collector can use: subprocesses the capture may kill, and a cut-off flag."""

    def __init__(self) -> None:
        self.abandoned = threading.Event()
        self.truncated = ""  # set by a collector that kept only part of what it found
        #: What a per-source cap cut (``cut``): the manifest records each.
        self.cuts: list[dict[str, Any]] = []
        self._pids: set[int] = set()
        self._lock = threading.Lock()

    def run(
        self, argv: Sequence[str], timeout: float = 10.0, env: dict[str, str] | None = None
    ) -> tuple[int, bytes, bytes]:
        """Run a program; return ``(exit code, stdout, stderr)``.

        Raises ``DebugtoolError`` when it cannot start or outlives ``timeout`` (it is killed).
        """
        if self.abandoned.is_set():
            raise DebugtoolError("the collector was cut off before it could run a program.")
        try:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env={**os.environ, **(env or {})},
                start_new_session=True,  # so a kill reaches the program's own children too
            )
        except OSError as exc:
            raise DebugtoolError(f"cannot run {argv[0]}: {exc.strerror}.") from None
        with self._lock:
            self._pids.add(proc.pid)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._kill(proc.pid)
            proc.communicate()
            raise DebugtoolError(f"{argv[0]} did not finish within {timeout:g}s.") from None
        finally:
            with self._lock:
                self._pids.discard(proc.pid)
        return proc.returncode, out, err

    def _kill(self, pid: int) -> None:
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def cut(self, source: str, kept: int, dropped: int, limit: int) -> None:
        """Record that a cap kept the newest ``kept`` bytes of ``source`` and left out
        ``dropped`` bytes of it (its oldest part), and say so in the collector's status."""
        self.cuts.append({"source": source, "kept": kept, "dropped": dropped, "limit": limit})
        note = f"kept the newest {_size(limit)} of {source}"
        self.truncated = f"{self.truncated}; {note}" if self.truncated else note

    def abandon(self) -> None:
        """Mark the collector cut off and kill every program it still runs (by pid)."""
        self.abandoned.set()
        with self._lock:
            pids = list(self._pids)
        for pid in pids:
            self._kill(pid)


def _size(n: int) -> str:
    from debugtool.output import human_size

    return str(human_size(n))


def keep_newest(data: bytes, limit: int) -> tuple[bytes, int]:
    """Return the newest whole lines of ``data`` that fit in ``limit`` bytes, and how many
    bytes were left out (0 when everything fits)."""
    if len(data) <= limit:
        return data, 0
    cut = data[-limit:]
    newline = cut.find(b"\n")
    kept = cut[newline + 1 :] if newline >= 0 else cut
    return kept, len(data) - len(kept)


def dumps(data: Any) -> bytes:
    """Return model objects or plain data as indented JSON bytes."""
    return json.dumps(to_dict(data), indent=1, sort_keys=True, default=str).encode()


def _read(path: str, limit: int = MAX_RAW_BYTES) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read(limit)
    except OSError:
        return None


def tail_lines(path: str, lines: int, chunk: int = 64 << 10) -> bytes:
    """Return the last ``lines`` lines of a file without reading all of it."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        end = f.tell()
        data = b""
        pos = end
        while pos > 0 and data.count(b"\n") <= lines:
            step = min(chunk, pos)
            pos -= step
            f.seek(pos)
            data = f.read(step) + data
    parts = data.splitlines(keepends=True)
    return b"".join(parts[-lines:]) if lines else b""


# --- host ----------------------------------------------------------------------------------
def host_debugtool(ctx: CollectorRun, command_line: list[str], options: dict[str, Any]) -> Files:
    """debugtool's version, the command line that made the bundle, and who ran it."""
    from debugtool import __version__, audit

    record = {
        "debugtool_version": __version__,
        "command_line": command_line,
        "options": options,
        "python": sys.version.split()[0],
        "who": audit.who(),
        "started_at": time.time(),
    }
    return {"host/debugtool.json": dumps(record)}


def host_kernel(ctx: CollectorRun) -> Files:
    """uname, /proc/version, the kernel command line, uptime, load and memory."""
    u = os.uname()
    parts = [
        f"uname: {u.sysname} {u.nodename} {u.release} {u.version} {u.machine}",
        f"platform: {platform.platform()}",
    ]
    for name in ("version", "cmdline", "uptime", "loadavg", "meminfo", "sys/kernel/pid_max"):
        data = _read(procfs.path(name))
        if data is not None:
            parts.append(f"--- /proc/{name}\n{data.decode(errors='replace').rstrip()}")
    return {"host/kernel.txt": ("\n".join(parts) + "\n").encode()}


def host_os_release(ctx: CollectorRun) -> Files:
    """/etc/os-release (or /usr/lib/os-release)."""
    for path in ("/etc/os-release", "/usr/lib/os-release"):
        data = _read(path)
        if data is not None:
            return {"host/os-release": data}
    raise DebugtoolError("this host has no os-release file.")


def host_cgroups(ctx: CollectorRun) -> Files:
    """The cgroup layout: version, controllers, and every cgroup mount."""
    mounts = procfs.parse_mountinfo(procfs.read_text("self", "mountinfo"))
    v1 = [m for m in mounts if m.fstype == "cgroup"]
    v2 = [m for m in mounts if m.fstype == "cgroup2"]
    version = "hybrid" if v1 and v2 else "v1" if v1 else "v2" if v2 else "none"
    lines = [f"version: {version}", "--- cgroup mounts"]
    for m in v1 + v2:
        lines.append(f"{m.fstype} {m.mountpoint} {m.super_options}")
    cgroup_files = (procfs.path("cgroups"), "/sys/fs/cgroup/cgroup.controllers")
    for path in (*cgroup_files, procfs.path("self", "cgroup")):
        data = _read(path)
        if data is not None:
            lines.append(f"--- {path}\n{data.decode(errors='replace').rstrip()}")
    return {"host/cgroups.txt": ("\n".join(lines) + "\n").encode()}


_VERSION_COMMANDS = {
    "runc": ["runc", "--version"],
    "crun": ["crun", "--version"],
    "containerd": ["containerd", "--version"],
    "ctr": ["ctr", "--version"],
    "podman": ["podman", "--version"],
    "dockerd": ["dockerd", "--version"],
}


def host_runtimes(ctx: CollectorRun, timeout: float, docker_answered: bool = True) -> Files:
    """Versions of the runtimes on the host: their binaries' ``--version`` and Docker's API
    (not asked again when it did not answer discovery).

    Every runtime asked gets an entry: its version, or ``error: ...`` saying why there is none
    (a daemon that answers garbage, a program that hangs), never a traceback.
    """
    from debugtool.runtimes.dockerapi import DockerAPI

    def ask(argv: list[str]) -> str:
        try:
            rc, out, err = ctx.run(argv, timeout=timeout)
            text = (out or err).decode(errors="replace").strip()
            return text if rc == 0 else f"exit {rc}: {text[:200]}"
        except DebugtoolError as exc:
            return f"error: {exc.message}"

    def docker() -> Any:
        api = DockerAPI(timeout=timeout)
        if not docker_answered:
            return "error: the daemon did not answer discovery"
        try:
            return api.get_json("/version")
        except RuntimeUnavailable as exc:
            return f"error: {exc.reason}"

    calls: dict[str, Callable[[], Any]] = {
        name: functools.partial(ask, argv)
        for name, argv in _VERSION_COMMANDS.items()
        if shutil.which(argv[0])
    }
    if DockerAPI().present():
        calls["docker-engine"] = docker
    answered: dict[str, Any] = {}
    for name, outcome in deadline.run(calls, timeout + 1).items():
        if not outcome.finished:
            answered[name] = f"error: did not answer within {timeout:g}s"
        elif outcome.error is not None:  # recorded for this runtime, the others go on
            answered[name] = f"error: {type(outcome.error).__name__}: {outcome.error}"
        else:
            answered[name] = outcome.value
    return {"host/runtimes.json": dumps(dict(sorted(answered.items())))}


def host_discovery(ctx: CollectorRun, discovery: Discovery) -> Files:
    """Every container the runtimes listed, the runtimes that answered, and those skipped."""
    record = {
        "runtimes": sorted(discovery.runtimes),
        "warnings": discovery.warnings,
        "containers": [
            {
                k: v
                for k, v in to_dict(c).items()
                if k != "metadata"  # each container's folder holds the raw records
            }
            for c in discovery.containers
        ],
    }
    return {"host/discovery.json": dumps(record)}


def host_audit(ctx: CollectorRun, containers: Sequence[Container] = ()) -> Files:
    """The audit log's most recent lines, their hash chain, and the recordings of the sessions
    on ``containers`` (see ``bundle.auditlog``)."""
    from debugtool import audit
    from debugtool.bundle import auditlog

    try:
        return auditlog.collect(list(containers), tail_lines)
    except OSError as exc:
        path = audit.log_path()
        raise DebugtoolError(f"cannot read the audit log {path}: {exc.strerror}.") from None


# --- per container -------------------------------------------------------------------------
def container_record(ctx: CollectorRun, folder: str, container: Container) -> Files:
    """The model Container, with each backend's raw record (the fallback for inspect data)."""
    return {f"{folder}/container.json": dumps(container)}


def inspect(ctx: CollectorRun, folder: str, container: Container, runtime: Runtime | None) -> Files:
    """The runtime's own inspect data; without an answering runtime, its discovery record."""
    if runtime is None:
        raise DebugtoolError(
            f"runtime {container.runtime} did not answer, so there is no inspect data; "
            "container.json holds what discovery saw."
        )
    data = runtime.inspect(container)
    return {f"{folder}/inspect.json": dumps(data)}


def snapshot_files(
    ctx: CollectorRun, folder: str, target: Target, index: HostIndex | None = None
) -> Files:
    """The full Snapshot: processes, mounts, network, cgroup, security.

    The process scan is narrowed to the PIDs the bundle's single pass over ``/proc`` found in the
    container's PID namespace, so twenty containers cost one scan of the host's processes, not
    twenty; an abandoned collector stops between sections.
    """
    from debugtool import collect

    snap = collect.collect_snapshot(
        target,
        network=True,
        pids=index.pids(target) if index else None,
        cancelled=ctx.abandoned.is_set,
    )
    if ctx.abandoned.is_set():
        return {}
    return {f"{folder}/snapshot.json": snap.to_json().encode()}


def raw_files(
    ctx: CollectorRun, folder: str, target: Target, index: HostIndex | None = None
) -> Files:
    """/proc tables and the container's cgroup files as read, for what the model leaves out."""
    files: Files = {}
    for name in _PROC_FILES:
        data = _read(procfs.path(target.pid, name))
        if data is not None:
            files[f"{folder}/raw/proc/{name}"] = data
    _, dirs = (index or HostIndex()).cgroup_dirs(target)
    seen: set[str] = set()
    for controller, directory in sorted(dirs.items()):
        real = os.path.realpath(directory)
        if real in seen:
            continue  # cpu and cpuacct share one directory on v1
        seen.add(real)
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            continue
        # One text file per controller: a few dozen tiny members per container would bloat
        # the manifest and the archive's headers and help nobody reading it.
        parts = [f"# {directory}\n"]
        for entry in entries:
            try:
                if not entry.is_file(follow_symlinks=False) or not entry.stat().st_mode & 0o444:
                    continue
            except OSError:
                continue
            data = _read(entry.path, 64 << 10)
            if data is not None:
                parts.append(f"--- {entry.name}\n{data.decode(errors='replace').rstrip()}\n")
        files[f"{folder}/raw/cgroup-{controller}.txt"] = "".join(parts).encode()
    return files


#: The container's own files a bundle keeps (read inside its root: its /etc, not the host's):
#: who its users are, how it resolves names, what distribution it is. Never /etc/shadow.
CONTAINER_FILES = (
    "/etc/os-release",
    "/usr/lib/os-release",
    "/etc/passwd",
    "/etc/group",
    "/etc/hostname",
    "/etc/hosts",
    "/etc/resolv.conf",
    "/etc/nsswitch.conf",
)
#: Most kept of one of those files.
MAX_CONTAINER_FILE = 256 << 10


def container_files(ctx: CollectorRun, folder: str, root: str) -> Files:
    """The container's own ``CONTAINER_FILES`` under ``files/``, read inside ``root`` (a
    running container's ``/proc/PID/root``, or a stopped one's layers from storage) with
    ``rootfs``: symlinks resolve inside it, and only regular files are opened. ``files.json``
    says what became of each (kept, missing, not a regular file, cut at the limit)."""
    from debugtool import rootfs

    files: Files = {}
    index = []
    for path in CONTAINER_FILES:
        if ctx.abandoned.is_set():
            return {}
        entry: dict[str, Any] = {"path": path}
        try:
            data = rootfs.read_file(root, path, limit=MAX_CONTAINER_FILE + 1)
        except rootfs.RootfsError as exc:
            entry["status"] = "missing" if exc.errno == errno.ENOENT else "not read"
            entry["why"] = exc.message
        else:
            entry["status"] = "ok"
            if len(data) > MAX_CONTAINER_FILE:
                data = data[:MAX_CONTAINER_FILE]
                entry["status"] = f"cut at {MAX_CONTAINER_FILE >> 10} KiB"
            entry["size"] = len(data)
            files[f"{folder}/files{path}"] = data
        index.append(entry)
    files[f"{folder}/files.json"] = dumps(index)
    return files


def stopped_files(ctx: CollectorRun, folder: str, container: Container, timeout: float) -> Files:
    """``container_files`` of a container that is not running, read from its runtime's
    storage (its layers, mounted read-only and detached for as long as this takes), with
    ``storage.json``: which layers, from where."""
    from debugtool.storage import open_stopped

    with open_stopped(container, timeout) as stopped:
        files = container_files(ctx, folder, stopped.root)
        files[f"{folder}/storage.json"] = dumps(
            {
                "read_from": "storage",
                "status": container.status,
                "layers": stopped.layers,
                "binds": stopped.binds,
            }
        )
        return files


def logs(
    ctx: CollectorRun,
    folder: str,
    container: Container,
    runtime: Runtime | None,
    tail: int | None,
    since: float | None,
    limit: int = MAX_LOG_BYTES,
) -> Files:
    """The container's recent output: through its runtime, else from the log file on the host;
    lines from ``since`` on, the newest ``limit`` bytes of them (a cut is recorded)."""
    data: bytes | None = None
    why = ""
    if runtime is not None and runtime.supports_logs:
        try:
            data = runtime.logs(container, tail=tail, since=since)
        except DebugtoolError as exc:
            why = f"{container.runtime} did not give the logs ({exc.message}); "
    if not data:
        # No answer, or an empty one from a runtime that does not hold the logs itself
        # (containerd serving Docker's containers): read the log file the host keeps.
        path = log_file(container)
        if path is None and data is not None:
            return {f"{folder}/logs.txt": data}
        if path is None:
            if why:
                raise DebugtoolError(why + "and the host keeps no log file for it.")
            raise NothingToCollect(
                f"runtime {container.runtime} keeps no log file debugtool can read."
            )
        reader = read_log_file(path, tail, since, limit, detail=True)
        data, unread = reader
        if why:
            data = f"# read from {path} ({why.rstrip('; ')})\n".encode() + data
    else:
        unread = 0
    data, dropped = keep_newest(data, limit)
    if dropped or unread:
        # ``unread``: bytes of the log file before the first line read (as the runtime
        # stores them, with its JSON around each line), left out for the cap.
        ctx.cut(f"{folder}/logs.txt", len(data), dropped + unread, limit)
    return {f"{folder}/logs.txt": data}


def log_file(container: Container) -> str | None:
    """Return the container's log file on the host (Docker json-file, podman k8s-file), if any."""
    for record in container.metadata.values():
        config = _find_key(record, "LogConfig")  # podman: HostConfig.LogConfig.Path
        for path in (
            _find_key(record, "LogPath"),
            config.get("Path") if isinstance(config, dict) else None,
        ):
            if isinstance(path, str) and path and os.path.isfile(path):
                return path
    guess = f"/var/lib/docker/containers/{container.id}/{container.id}-json.log"
    return guess if os.path.isfile(guess) else None


def _find_key(data: Any, key: str, depth: int = 0) -> Any:
    if depth > 4:
        return None
    if isinstance(data, dict):
        if key in data:
            return data[key]
        for value in data.values():
            found = _find_key(value, key, depth + 1)
            if found is not None:
                return found
    return None


def _log_time(text: str) -> float | None:
    """Parse an RFC 3339 time with up to nanoseconds (as Docker and CRI logs write them)."""
    import re

    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?", text)
    if not m:
        return None
    zone = m.group(3) or "Z"
    zone = "+00:00" if zone == "Z" else zone
    micro = (m.group(2) or "0")[:6].ljust(6, "0")
    try:
        return datetime.fromisoformat(f"{m.group(1)}.{micro}{zone}").timestamp()
    except ValueError:
        return None


def read_log_file(
    path: str,
    tail: int | None,
    since: float | None,
    limit: int = MAX_LOG_BYTES,
    detail: bool = False,
) -> Any:
    """Return a runtime's log file as plain lines (``TIME STREAM message``): the last ``tail``
    lines (every line when None) from ``since`` on, and no more than about ``limit`` bytes.

    Docker's json-file lines (``{"log": ..., "stream": ..., "time": ...}``) and CRI/podman
    ``k8s-file`` lines (``TIME STREAM F message``) are both understood. The file is read
    backwards from its end and only as far as what is kept needs (at most ``LOG_READ_LIMIT``),
    so a 1 GiB log costs what is kept, not the whole file. When there was more to keep than
    ``limit``, the result is a line longer than ``limit`` (the caller cuts and says so); when
    the read stopped at ``LOG_READ_LIMIT`` first, its first line says so. With ``detail`` it
    returns ``(bytes, unread)``: ``unread`` is how much of the file, before the oldest line
    read, was left unread because ``limit`` was reached (0 otherwise).
    """
    kept: list[str] = []  # newest first
    size = 0
    try:
        lines = _LinesFromEnd(path, LOG_READ_LIMIT)
        for line in lines:
            text = _log_line(line, since)
            if text is None:
                continue
            kept.append(text)
            size += len(text) + 1
            if (tail and len(kept) >= tail) or size > limit:
                break
    except OSError as exc:
        raise DebugtoolError(f"cannot read the log file {path}: {exc.strerror}.") from None
    if lines.cut and not (tail and len(kept) >= tail) and size <= limit:
        kept.append(f"# debugtool read only the last {LOG_READ_LIMIT >> 20} MiB of {path}")
    kept.reverse()
    data = ("\n".join(kept) + ("\n" if kept else "")).encode("utf-8", "surrogateescape")
    if detail:
        return data, lines.offset if size > limit else 0
    return data


def _log_line(line: bytes, since: float | None) -> str | None:
    """Return one log line as ``TIME STREAM message``, or None when it is older than ``since``."""
    stamp = ""
    text = line.decode("utf-8", "surrogateescape")
    if line.startswith(b"{"):
        try:
            entry = json.loads(line)
            stamp = str(entry.get("time", ""))
            text = f"{stamp} {entry.get('stream', '')} {str(entry.get('log', '')).rstrip(chr(10))}"
        except (ValueError, AttributeError, RecursionError):
            pass
    else:
        fields = text.split(" ", 3)
        if len(fields) == 4 and fields[2] in ("F", "P"):
            stamp = fields[0]
            text = f"{fields[0]} {fields[1]} {fields[3]}"
    if since and stamp:
        when = _log_time(stamp)
        if when is not None and when < since:
            return None
    return text


class _LinesFromEnd:
    """The lines of a file, newest first and without their line ends, read backwards in
    chunks and no more than ``budget`` bytes of it. ``cut`` is set when the budget stopped
    the read before the file's start (the oldest, partial line is then not yielded)."""

    def __init__(self, path: str, budget: int, chunk: int = 64 << 10) -> None:
        self.path = path
        self.budget = budget
        self.chunk = chunk
        self.cut = False
        self.offset = 0  # where in the file the line last yielded starts

    def __iter__(self) -> Iterator[bytes]:
        with open(self.path, "rb") as f:
            pos = f.seek(0, os.SEEK_END)
            # The end of a line whose start is further back, newest part first: a list, so
            # a line longer than many chunks is joined once, not copied once per chunk.
            carry: list[bytes] = []
            read = 0
            last = True  # the piece after the file's final newline (empty) is not a line
            while pos > 0:
                if read >= self.budget:
                    self.cut = True
                    return
                step = min(self.chunk, pos, self.budget - read)
                pos -= step
                f.seek(pos)
                data = f.read(step)
                read += step
                pieces = data.split(b"\n")
                if len(pieces) == 1:
                    carry.append(data)
                    continue
                carried = sum(len(c) for c in carry)
                pieces[-1] += b"".join(reversed(carry))
                carry = [pieces[0]]
                start = pos + len(data) + carried  # the end of the last piece
                for piece in reversed(pieces[1:]):
                    start -= len(piece)
                    if not (last and not piece):
                        self.offset = start
                        yield piece.removesuffix(b"\r")
                    start -= 1  # its newline
                    last = False
            rest = b"".join(reversed(carry))
            if rest or not last:
                self.offset = 0
                yield rest.removesuffix(b"\r")


def sample_cgroups(
    targets: dict[str, Target],
    samples: int,
    interval: float,
    stop: threading.Event,
    index: HostIndex | None = None,
) -> tuple[dict[str, list[CgroupStats]], dict[str, str]]:
    """Sample every target's cgroup ``samples`` times, ``interval`` seconds apart, all in one
    window; return ``({id: [stats...]}, {id: error})``."""
    from debugtool.collect.cgroups import host_cgroup, read_stats, target_shares_host_cgroup

    index = index or HostIndex()
    # Each container's cgroup directories are found once, and whether they are the host's
    # (then a sample keeps no usage); a sample then only reads the files.
    where = {cid: index.cgroup_dirs(target) for cid, target in targets.items()}
    shared = {
        cid: target_shares_host_cgroup(target, *where[cid]) for cid, target in targets.items()
    }
    taken: dict[str, list[CgroupStats]] = {cid: [] for cid in targets}
    errors: dict[str, str] = {}
    start = time.monotonic()
    for i in range(samples if targets else 0):
        for cid in targets:
            if cid in errors:
                continue
            version, dirs = where[cid]
            try:
                if not dirs or not any(os.path.isdir(d) for d in dirs.values()):
                    raise DebugtoolError("its cgroup directories are not visible from here.")
                stats = read_stats(version, dirs)
                if shared[cid]:
                    host_cgroup(stats)
                stats.sampled_at = time.time()
                taken[cid].append(stats)
            except DebugtoolError as exc:
                errors[cid] = exc.for_people()
            except Exception as exc:  # noqa: BLE001 - one container must not stop the others
                errors[cid] = f"{type(exc).__name__}: {exc}"
        if i + 1 < samples and stop.wait(max(0.0, start + (i + 1) * interval - time.monotonic())):
            break
    return taken, errors
