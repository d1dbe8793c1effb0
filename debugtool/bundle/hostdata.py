"""Host data a support engineer asks for in a bundle: the kernel log and its OOM kills, the
daemons' journals, runtime configs, Docker's info and last hour of events, disk and inode use,
sysctls, netfilter rules, the host's listening sockets and its resources (CPU, memory, disks,
network counters).

Each ``host_*`` function is a bundle collector (``collectors.py`` says how they run): the
capture gives it its own timeout and redacts what it returns. Where the host lacks what a
collector reads (no journal, no ``nft``, no Docker), it raises ``NothingToCollect`` with one
sentence starting ``not available:``; the manifest records it as skipped, with that sentence.

The parsers (``parse_kernel_log``, ``oom_kills``, ``disk_usage``, ``read_sysctls``,
``iptables_summary``, ``journal_lines``) take text or paths and are tested on captured text.
"""

from __future__ import annotations

import os
import re
import shutil
import time

from debugtool import procfs
from debugtool.bundle.collectors import CollectorRun, Files, NothingToCollect, dumps, keep_newest
from debugtool.errors import DebugtoolError
from debugtool.record import record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from typing import Any

    from debugtool.snapshot import Socket

#: Lines of each daemon's journal a bundle keeps.
JOURNAL_LINES = 2000
#: Most of the kernel log kept (its newest part); the kernel's ring buffer is usually smaller.
KERNEL_LOG_LIMIT = 8 << 20
#: Most of the kernel's records read, before --since and the cap choose what is kept.
KERNEL_READ_LIMIT = 64 << 20
#: Most of the last hour of Docker events kept (its oldest part: events come oldest first).
EVENTS_LIMIT = 8 << 20
#: Most kept of one runtime config file.
CONFIG_LIMIT = 1 << 20
#: Time a single ``statvfs`` may take: a hung network filesystem must not stop the others.
STATVFS_TIMEOUT = 2.0


def _unavailable(why: str) -> NothingToCollect:
    return NothingToCollect(f"not available: {why}")


# --- the kernel log and its OOM kills ----------------------------------------------------------

KMSG = "/dev/kmsg"
_LEVELS = ("emerg", "alert", "crit", "err", "warn", "notice", "info", "debug")


@record
class KernelMessage:
    """One kernel log record: its level (0 emerg .. 7 debug), the time since boot in
    microseconds when known, and its text (the kernel escapes control bytes as ``\\xNN``)."""

    level: int
    usec: int | None
    text: str


#: ``/dev/kmsg``: ``PRIO,SEQ,USEC,FLAGS[,...];TEXT`` (Documentation/ABI/testing/dev-kmsg).
_KMSG_RECORD = re.compile(r"(\d+),(\d+),(\d+),[^;]*;(.*)")
#: ``dmesg`` (``[ 1.5] text``) and ``dmesg --raw`` (``<4>[ 1.5] text``).
_DMESG_LINE = re.compile(r"(?:<(\d+)>)?\[\s*(\d+)\.(\d+)\]\s?(.*)")


def parse_kernel_log(text: str) -> list[KernelMessage]:
    """Parse the kernel log as ``/dev/kmsg`` gives it, or as ``dmesg`` or ``dmesg --raw``
    print it. Continuation lines of ``/dev/kmsg`` (`` KEY=value`` device properties) are
    skipped; a line in no known form is kept as a message of unknown time."""
    messages = []
    for line in text.splitlines():
        if not line or line.startswith(" "):
            continue
        m = _KMSG_RECORD.match(line)
        if m:
            prio = int(m.group(1))
            messages.append(KernelMessage(prio & 7, int(m.group(3)), m.group(4)))
            continue
        m = _DMESG_LINE.match(line)
        if m:
            level = int(m.group(1)) & 7 if m.group(1) else 6
            usec = int(m.group(2)) * 1_000_000 + int(m.group(3).ljust(6, "0")[:6])
            messages.append(KernelMessage(level, usec, m.group(4)))
            continue
        messages.append(KernelMessage(6, None, line))
    return messages


def read_kmsg(
    path: str = KMSG, limit: int = KERNEL_LOG_LIMIT, ctx: CollectorRun | None = None
) -> tuple[bytes, int, int]:
    """Read every record of the kernel's ring buffer without waiting for new ones.

    Returns ``(records, lost, cut)``: the records as ``/dev/kmsg`` gives them, one a line,
    the newest ``limit`` bytes of them; how many times records were overwritten while they
    were read (``EPIPE``); how many bytes of older records were left out for ``limit`` (0:
    none). Raises
    ``OSError`` when the device cannot be opened or read.
    """
    from collections import deque

    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    chunks: deque[bytes] = deque()
    size = lost = cut = 0
    try:
        while not (ctx and ctx.abandoned.is_set()):
            try:
                data = os.read(fd, 16384)  # one record a read; a record is at most ~8 KiB
            except BlockingIOError:
                break  # every record read
            except BrokenPipeError:
                lost += 1  # overwritten since the last read; the next read goes on after them
                continue
            if not data:
                break
            chunks.append(data if data.endswith(b"\n") else data + b"\n")
            size += len(chunks[-1])
            while size > limit and chunks:
                gone = len(chunks.popleft())
                size -= gone
                cut += gone
    finally:
        os.close(fd)
    return b"".join(chunks), lost, cut


def kernel_log_text(messages: Iterable[KernelMessage], boot: float | None) -> str:
    """Return messages as ``[SECONDS] TIME LEVEL text`` lines; TIME (UTC) from ``boot``, the
    boot time, is as exact as ``dmesg -T``: the kernel's clock stops while the host sleeps."""
    lines = []
    for msg in messages:
        if msg.usec is None:
            lines.append(f"[{'?':>13}] {'':20} {_LEVELS[msg.level]:<6} {msg.text}")
            continue
        stamp = f"{msg.usec // 1_000_000:6d}.{msg.usec % 1_000_000:06d}"
        when = ""
        if boot is not None:
            when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(boot + msg.usec / 1e6))
        lines.append(f"[{stamp}] {when:20} {_LEVELS[msg.level]:<6} {msg.text}")
    return "\n".join(lines) + ("\n" if lines else "")


@record
class OomKill:
    """One process the kernel's OOM killer killed, from the kernel log."""

    pid: int
    process: str
    usec: int | None = None  # time since boot, microseconds
    at: float | None = None  # seconds since the epoch (as exact as dmesg -T)
    constraint: str = ""  # CONSTRAINT_MEMCG (a cgroup's limit), CONSTRAINT_NONE (the host's)
    memcg: str = ""  # the killed task's memory cgroup (task_memcg)
    oom_memcg: str = ""  # the cgroup whose limit was hit (an ancestor for a pod's limit)
    cpuset: str = ""
    uid: int | None = None
    container_id: str = ""  # a 64-hex id in the cgroup's name (docker, cri, libpod), if any
    anon_rss_kb: int | None = None
    total_vm_kb: int | None = None
    message: str = ""  # the 'Killed process' line


_OOM_FIELDS = re.compile(r"oom-kill:(\S+)")
_KILLED = re.compile(
    r"(?:Memory cgroup out of memory|Out of memory[^:]*): Kill(?:ed)? process (\d+) \((.*?)\)"
    r"|^Killed process (\d+) \((.*?)\)"
)
_KB = re.compile(r"\b(total-vm|anon-rss):(\d+)kB")
_CONTAINER_ID = re.compile(r"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])")


def oom_kills(messages: Sequence[KernelMessage], boot: float | None = None) -> list[OomKill]:
    """Return the OOM kills the kernel log records, oldest first.

    The kernel (mm/oom_kill.c) writes ``oom-kill:constraint=...,task_memcg=...,task=NAME,
    pid=N,uid=U`` and then ``Memory cgroup out of memory: Killed process N (NAME) ...`` (or
    ``Out of memory: Killed process`` for the host's own memory); kernels before 4.19 write
    no ``oom-kill:`` line and ``Kill process`` then ``Killed process``. The lines of one kill
    are merged by PID; each is found alone too, when the ring buffer lost the other.
    """
    kills: list[OomKill] = []
    recent: dict[int, OomKill] = {}  # pid -> its kill, while the lines of one kill arrive

    def kill_of(pid: int, name: str, msg: KernelMessage) -> OomKill:
        kill = recent.get(pid)
        near = (
            kill is not None
            and (kill.usec is None or msg.usec is None or abs(msg.usec - kill.usec) < 5_000_000)
            and (not kill.process or not name or kill.process == name)
        )
        if kill is None or not near:
            kill = OomKill(pid=pid, process=name, usec=msg.usec)
            if boot is not None and msg.usec is not None:
                kill.at = boot + msg.usec / 1e6
            kills.append(kill)
            recent[pid] = kill
        return kill

    for msg in messages:
        m = _OOM_FIELDS.search(msg.text)
        if m:
            fields = dict(part.partition("=")[::2] for part in m.group(1).split(",") if "=" in part)
            try:
                pid = int(fields.get("pid", ""))
            except ValueError:
                continue
            kill = kill_of(pid, fields.get("task", ""), msg)
            kill.process = kill.process or fields.get("task", "")
            kill.constraint = fields.get("constraint", "")
            kill.memcg = fields.get("task_memcg", "")
            kill.oom_memcg = fields.get("oom_memcg", "")
            kill.cpuset = fields.get("cpuset", "")
            if fields.get("uid", "").isdigit():
                kill.uid = int(fields["uid"])
            continue
        m = _KILLED.search(msg.text)
        if m:
            pid = int(m.group(1) or m.group(3))
            name = m.group(2) if m.group(1) else m.group(4)
            kill = kill_of(pid, name, msg)
            kill.process = kill.process or name
            sizes = dict(_KB.findall(msg.text))
            if "anon-rss" in sizes:
                kill.anon_rss_kb = int(sizes["anon-rss"])
                kill.total_vm_kb = int(sizes.get("total-vm", 0)) or None
                kill.message = msg.text
            elif not kill.message:
                kill.message = msg.text
    for kill in kills:
        for where in (kill.memcg, kill.cpuset, kill.oom_memcg):
            found = _CONTAINER_ID.findall(where)
            if found:
                kill.container_id = found[-1]
                break
    return kills


def since_boot(
    messages: Sequence[KernelMessage], boot: float | None, since: float | None
) -> tuple[list[KernelMessage], int]:
    """Return the messages logged at ``since`` (epoch seconds) or later, and how many were
    older. The kernel stamps a record with the time since boot (``boot``: when the host
    booted, ``procfs.boot_time``), as ``dmesg -T`` converts it; a record of unknown time is
    kept. Without ``since`` or a boot time, every message is kept."""
    if since is None or boot is None:
        return list(messages), 0
    kept = [m for m in messages if m.usec is None or boot + m.usec / 1e6 >= since]
    return kept, len(messages) - len(kept)


def host_kernel_log(
    ctx: CollectorRun,
    kmsg: str = KMSG,
    since: float | None = None,
    limit: int = KERNEL_LOG_LIMIT,
) -> Files:
    """The kernel log (``/dev/kmsg``, else ``dmesg --raw``) and the OOM kills found in it:
    records from ``since`` on (epoch seconds), the newest ``limit`` bytes of them."""
    try:
        boot: float | None = procfs.boot_time()
    except DebugtoolError:
        boot = None
    note = ""
    source = kmsg
    try:
        raw, lost, _ = read_kmsg(kmsg, KERNEL_READ_LIMIT, ctx=ctx)
        if lost:
            note = f"# {lost} record(s) were overwritten by new ones while the log was read\n"
    except OSError as exc:
        failed = f"{kmsg} cannot be read ({exc.strerror})"
        source = "dmesg --raw"
    if source != kmsg:
        if not shutil.which("dmesg"):
            raise _unavailable(f"{failed} and there is no dmesg program.")
        rc, raw, err = ctx.run(["dmesg", "--raw"])
        if rc != 0:
            why = err.decode(errors="replace").strip()[:200] or f"exit {rc}"
            raise DebugtoolError(f"{failed} and dmesg failed: {why}.")
        raw = raw[-KERNEL_READ_LIMIT:]
    text = raw.decode("utf-8", "replace")
    # --since first, then the cap: the cap keeps the newest of what --since keeps.
    messages, older = since_boot(parse_kernel_log(text), boot, since)
    kills = oom_kills(messages, boot)
    header = f"# the kernel log as {source} gave it; times are UTC, as exact as dmesg -T\n"
    if since is not None:
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(since))
        header += f"# records from {when} on (--since): {older} older record(s) left out\n"
    body, cut = keep_newest(kernel_log_text(messages, boot).encode(), limit)
    if cut:
        ctx.cut("host/kernel-log.txt", len(body), cut, limit)
        header += f"# the oldest {cut} bytes were left out to keep the newest {limit} bytes\n"
    return {
        "host/kernel-log.txt": (header + note).encode() + body,
        "host/oom-kills.json": dumps(kills),
    }


# --- journals of the runtime daemons -------------------------------------------------------------

#: The daemons whose journals a bundle keeps, and the unit each normally runs as.
DAEMON_UNITS = {
    "dockerd": "docker.service",
    "containerd": "containerd.service",
    "podman": "podman.service",
    "kubelet": "kubelet.service",
}
JOURNAL_DIRS = ("/var/log/journal", "/run/log/journal")


@record
class Daemon:
    """A runtime daemon running on the host: its pid, the systemd unit its cgroup names (''
    when none: started by hand or by another supervisor), and where its output goes."""

    name: str
    pid: int
    unit: str
    stdout: str


def unit_of(cgroup_text: str) -> str:
    """Return the systemd unit a ``/proc/PID/cgroup`` names (``docker.service``), or ''."""
    for path in procfs.parse_cgroup(cgroup_text).values():
        for part in reversed(path.split("/")):
            if part.endswith((".service", ".scope")):
                return part
    return ""


def running_daemons(names: Iterable[str] = DAEMON_UNITS) -> list[Daemon]:
    """Return the runtime daemons running on the host, by process name, in PID order."""
    wanted = set(names)
    found = []
    for pid in procfs.pids():
        try:
            name = procfs.comm(pid)
            if name not in wanted:
                continue
            cgroup = procfs.read_text(pid, "cgroup")
        except DebugtoolError:
            continue
        try:
            stdout = os.readlink(procfs.path(pid, "fd", "1"))
        except OSError:
            stdout = "unknown"
        found.append(Daemon(name, pid, unit_of(cgroup), stdout))
    return found


def _by_hand(daemons: Sequence[Daemon]) -> str:
    """One clause per daemon that runs outside any systemd unit."""
    parts = [
        f"{d.name} (pid {d.pid}) runs outside any systemd unit (started by hand or by another "
        f"supervisor), so no journal holds its output, which goes to {d.stdout}"
        for d in daemons
        if not d.unit
    ]
    return "; ".join(parts)


def has_journal(dirs: Sequence[str] = JOURNAL_DIRS) -> bool:
    """Return whether any of ``dirs`` holds a journal file (``*.journal``, a level down)."""
    for top in dirs:
        try:
            entries = list(os.scandir(top))
        except OSError:
            continue
        for entry in entries:
            names = [entry.name]
            if entry.is_dir(follow_symlinks=False):
                try:
                    names = os.listdir(entry.path)
                except OSError:
                    continue
            if any(n.endswith((".journal", ".journal~")) for n in names):
                return True
    return False


def journal_lines(output: bytes) -> int:
    """Return how many entries ``journalctl -o short-iso`` printed (0 for ``-- No entries --``
    and its ``-- Boot ... --`` and ``-- Logs begin ... --`` markers)."""
    return sum(1 for line in output.splitlines() if line and not line.startswith(b"-- "))


def host_journals(
    ctx: CollectorRun,
    lines: int = JOURNAL_LINES,
    timeout: float = 10.0,
    dirs: Sequence[str] = JOURNAL_DIRS,
    since: float | None = None,
    limit: int = KERNEL_LOG_LIMIT,
) -> Files:
    """The last ``lines`` lines of the journals of dockerd, containerd, podman and kubelet
    (``dirs``: where a journal's files would be), from ``since`` on (epoch seconds), the
    newest ``limit`` bytes of each unit's."""
    daemons = running_daemons()
    hand = _by_hand(daemons)
    if not shutil.which("journalctl"):
        raise _unavailable(
            "there is no journalctl on this host, so no systemd journal to read"
            + (f"; {hand}." if hand else ".")
        )
    if not has_journal(dirs):
        raise _unavailable(
            f"this host keeps no systemd journal (no journal files in {' or '.join(dirs)})"
            + (f"; {hand}." if hand else ".")
        )
    units = dict.fromkeys(DAEMON_UNITS.values())
    for d in daemons:
        if d.unit:
            units.setdefault(d.unit)  # a daemon running under another unit's name
    files: Files = {}
    summary = []
    for unit in units:
        try:
            argv = ["journalctl", "-u", unit, "-n", str(lines), "--no-pager", "-o", "short-iso"]
            if since is not None:
                argv += ["--since", f"@{int(since)}"]  # systemd.time(7): seconds since the epoch
            rc, out, err = ctx.run(argv, timeout=timeout)
        except DebugtoolError as exc:
            summary.append(f"{unit}: {exc.message}")
            continue
        count = journal_lines(out)
        if rc != 0:
            why = err.decode(errors="replace").strip()[:200]
            summary.append(f"{unit}: journalctl exited {rc}: {why}")
        elif count:
            kept, cut = keep_newest(out, limit)
            if cut:
                ctx.cut(f"host/journal/{unit}.log", len(kept), cut, limit)
            files[f"host/journal/{unit}.log"] = kept
            summary.append(f"{unit}: {journal_lines(kept)} line(s)")
        else:
            runs = [d for d in daemons if DAEMON_UNITS.get(d.name) == unit]
            why = "no entries"
            if runs and not runs[0].unit:
                why += f" ({_by_hand(runs[:1])})"
            elif not runs:
                why += " (its daemon is not running)"
            summary.append(f"{unit}: {why}")
    files["host/journal.txt"] = ("\n".join(summary) + "\n").encode()
    return files


# --- runtime configs ------------------------------------------------------------------------------

#: The runtime configs a bundle keeps (``DEBUGTOOL_RUNTIME_CONFIGS``, paths separated by ':',
#: replaces the list: tests point it at files of their own).
RUNTIME_CONFIGS = (
    "/etc/docker/daemon.json",
    "/etc/containerd/config.toml",
    "/etc/containers/registries.conf",
    "/etc/containers/storage.conf",
    "/etc/containers/containers.conf",
    "/etc/containers/policy.json",
    "/root/.config/containers/registries.conf",
    "/root/.config/containers/storage.conf",
    "/root/.config/containers/containers.conf",
)
#: Directories of drop-in files read after the configs above.
CONFIG_DROP_INS = (
    "/etc/containers/registries.conf.d",
    "/etc/containers/containers.conf.d",
    "/etc/containerd/conf.d",
    "/root/.config/containers/registries.conf.d",
    "/root/.config/containers/containers.conf.d",
)


def config_paths() -> list[str]:
    """Return the config files to look for: ``DEBUGTOOL_RUNTIME_CONFIGS``, or the defaults and
    the files in their drop-in directories."""
    override = os.environ.get("DEBUGTOOL_RUNTIME_CONFIGS")
    if override is not None:
        return [p for p in override.split(":") if p]
    paths = list(RUNTIME_CONFIGS)
    for directory in CONFIG_DROP_INS:
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            continue
        paths += [os.path.join(directory, n) for n in names if n.endswith((".conf", ".toml"))]
    return paths


def _read_config(path: str) -> bytes:
    """Read a regular file, at most ``CONFIG_LIMIT`` bytes. Raises ``OSError``."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOCTTY)
    try:
        import stat

        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise IsADirectoryError(0, "not a regular file")
        with os.fdopen(os.dup(fd), "rb") as f:
            return f.read(CONFIG_LIMIT)
    finally:
        os.close(fd)


def host_runtime_configs(ctx: CollectorRun) -> Files:
    """The runtime configs that exist (redacted by the capture: tokens, passwords)."""
    files: Files = {}
    found: dict[str, str] = {}
    for path in config_paths():
        try:
            data = _read_config(path)
        except FileNotFoundError:
            found[path] = "absent"
            continue
        except OSError as exc:
            found[path] = f"unreadable: {exc.strerror}"
            continue
        files["host/config/" + os.path.abspath(path).lstrip("/")] = data
        found[path] = f"kept ({len(data)} bytes)"
    if not files:
        raise _unavailable(f"none of the runtime configs exists here (looked for {len(found)}).")
    files["host/configs.json"] = dumps(found)
    return files


# --- Docker: info and events ----------------------------------------------------------------------


def _docker(timeout: float, answered: bool) -> Any:
    from debugtool.runtimes.dockerapi import DockerAPI

    api = DockerAPI(timeout=timeout)
    if not api.present():
        raise _unavailable(f"Docker does not run here (no socket at {api.path}).")
    if not answered:
        raise DebugtoolError(
            "the Docker daemon did not answer discovery, so it was not asked again."
        )
    return api


def host_docker_info(ctx: CollectorRun, timeout: float, answered: bool = True) -> Files:
    """``docker info``, from the API (``GET /info``)."""
    info = _docker(timeout, answered).get_json("/info")
    return {"host/docker-info.json": dumps(info)}


def host_docker_events(
    ctx: CollectorRun, timeout: float, answered: bool = True, hours: float = 1.0
) -> Files:
    """The last hour of ``docker events`` (``GET /events?since=...&until=...``), at most
    ``EVENTS_LIMIT`` bytes of it, one JSON event a line.

    dockerd replays past events from the last 256 it keeps in memory (daemon/events), so on a
    busy host what comes back covers less than the hour."""
    from debugtool.errors import RuntimeUnavailable
    from debugtool.runtimes.dockerapi import message

    api = _docker(timeout, answered)
    now = int(time.time())
    query = {"since": now - int(hours * 3600), "until": now}
    status, chunks = api.stream("GET", "/events", query, timeout=timeout)
    data = bytearray()
    try:
        for chunk in chunks:
            data += chunk
            if status < 300 and len(data) > EVENTS_LIMIT:
                cut = data.rfind(b"\n", 0, EVENTS_LIMIT)
                del data[cut + 1 :]
                ctx.truncated = f"kept the first {EVENTS_LIMIT >> 20} MiB of the last hour's events"
                break
            if ctx.abandoned.is_set():
                return {}
    finally:
        chunks.close()
    if status >= 300:
        raise RuntimeUnavailable("docker", f"GET /events answered {status}: {message(bytes(data))}")
    return {"host/docker-events.jsonl": bytes(data)}


# --- disks: df with inodes ------------------------------------------------------------------------

#: Filesystems that hold no data of their own: df leaves them out.
PSEUDO_FS = frozenset(
    "proc sysfs cgroup cgroup2 devpts mqueue debugfs tracefs securityfs pstore bpf configfs "
    "fusectl hugetlbfs autofs binfmt_misc nsfs rpc_pipefs selinuxfs efivarfs ramfs "
    "fuse.gvfsd-fuse fuse.lxcfs overlay aufs shm squashfs devtmpfs".split()
)
#: Where runtimes mount their containers' filesystems: one line for each would bury the rest.
RUNTIME_TREES = (
    "/var/lib/docker/",
    "/var/lib/containerd/",
    "/var/lib/containers/",
    "/var/lib/kubelet/",
    "/run/containerd/",
    "/run/containers/",
    "/run/docker/",
    "/var/run/docker/",
    "/run/netns/",
    "/run/user/",
    "/proc/",
    "/sys/",
)
#: Paths whose filesystem a bundle reports however it is mounted: the runtimes' data.
DATA_PATHS = ("/var/lib/docker", "/var/lib/containerd", "/var/lib/containers", "/run")


@record
class DiskUsage:
    """Space and inode use of one filesystem, as ``df`` and ``df -i`` show it."""

    path: str  # the path asked about
    mountpoint: str = ""
    source: str = ""
    fstype: str = ""
    size: int = 0  # bytes
    used: int = 0
    available: int = 0  # for unprivileged users
    inodes: int = 0  # 0: the filesystem has no fixed inode count (btrfs, some tmpfs)
    inodes_used: int = 0
    inodes_free: int = 0
    error: str = ""

    @property
    def use_percent(self) -> int | None:
        """Used space in percent of what users can use, rounded up as df rounds it."""
        room = self.used + self.available
        return -(-self.used * 100 // room) if room else None

    @property
    def inode_percent(self) -> int | None:
        return -(-self.inodes_used * 100 // self.inodes) if self.inodes else None


def disk_usage(path: str) -> DiskUsage:
    """Return the space and inode use of the filesystem holding ``path`` (``os.statvfs``).
    Raises ``OSError``."""
    st = os.statvfs(path)
    size = st.f_blocks * st.f_frsize
    free = st.f_bfree * st.f_frsize
    return DiskUsage(
        path=path,
        size=size,
        used=size - free,
        available=st.f_bavail * st.f_frsize,
        inodes=st.f_files,
        inodes_used=st.f_files - st.f_ffree,
        inodes_free=st.f_ffree,
    )


def df_mounts(
    mounts: Sequence[procfs.MountInfo], paths: Sequence[str] = DATA_PATHS
) -> list[tuple[str, procfs.MountInfo]]:
    """Return ``(path, mount)`` for each filesystem a ``df`` should show: every mount of a
    real filesystem, once per device (the first mount of it), none inside the runtimes'
    trees of container mounts; then each of ``paths`` on the mount that holds it."""
    # A mount point with mounts stacked on it shows the top one (the last listed).
    top = {m.mountpoint: m for m in mounts}
    chosen: list[tuple[str, procfs.MountInfo]] = []
    seen: set[tuple[int, int]] = set()
    for m in sorted(top.values(), key=lambda m: m.mountpoint):
        if m.fstype in PSEUDO_FS or m.device in seen:
            continue
        if any(m.mountpoint.startswith(tree) for tree in RUNTIME_TREES):
            continue
        seen.add(m.device)
        chosen.append((m.mountpoint, m))
    for path in paths:
        holder = None
        for m in top.values():
            mp = m.mountpoint
            if path == mp or path.startswith(mp.rstrip("/") + "/"):
                if holder is None or len(mp) > len(holder.mountpoint):
                    holder = m
        if holder is not None and (path, holder) not in chosen:
            chosen.append((path, holder))
    return chosen


def _statvfs_all(targets: Sequence[tuple[str, procfs.MountInfo]]) -> list[DiskUsage]:
    """statvfs each target in a thread of its own, so a hung mount costs its own line only."""
    from debugtool import deadline

    calls = {f"statvfs-{i}": (lambda p=path: disk_usage(p)) for i, (path, _) in enumerate(targets)}
    outcomes = deadline.run(calls, STATVFS_TIMEOUT)
    result = []
    for i, (path, m) in enumerate(targets):
        outcome = outcomes[f"statvfs-{i}"]
        if outcome.finished and outcome.error is None and outcome.value is not None:
            usage = outcome.value
        else:
            usage = DiskUsage(path=path)
            if not outcome.finished:
                usage.error = f"statvfs did not answer within {STATVFS_TIMEOUT:g}s (a hung mount?)"
            elif isinstance(outcome.error, OSError):
                usage.error = f"statvfs failed: {outcome.error.strerror}"
            else:
                usage.error = f"statvfs failed: {outcome.error}"
        usage.mountpoint, usage.source, usage.fstype = m.mountpoint, m.source, m.fstype
        result.append(usage)
    return result


def df_text(usages: Sequence[DiskUsage]) -> str:
    """Return ``df -h`` and ``df -i`` in one table."""
    from debugtool.output import human_size

    def pct(value: int | None) -> str:
        return "-" if value is None else f"{value}%"

    rows = [("FILESYSTEM", "TYPE", "SIZE", "USED", "AVAIL", "USE%", "INODES", "IUSED", "IUSE%",
             "MOUNTED ON", "PATH")]  # fmt: skip
    for u in usages:
        if u.error:
            rows.append((u.source, u.fstype, "-", "-", "-", "-", "-", "-", "-", u.mountpoint,
                         f"{u.path}: {u.error}"))  # fmt: skip
            continue
        rows.append((u.source, u.fstype, human_size(u.size), human_size(u.used),
                     human_size(u.available), pct(u.use_percent), str(u.inodes or "-"),
                     str(u.inodes_used if u.inodes else "-"), pct(u.inode_percent),
                     u.mountpoint, "" if u.path == u.mountpoint else u.path))  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "".join(
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() + "\n"
        for r in rows
    )


def host_df(ctx: CollectorRun, paths: Sequence[str] = DATA_PATHS) -> Files:
    """Space and inode use of the host's filesystems and the runtimes' data directories."""
    from debugtool.model import to_dict

    mounts = procfs.parse_mountinfo(procfs.read_text("self", "mountinfo"))
    usages = _statvfs_all(df_mounts(mounts, [p for p in paths if os.path.exists(p)]))
    records = [{**to_dict(u), "use_percent": u.use_percent, "inode_percent": u.inode_percent}
               for u in usages]  # fmt: skip
    return {"host/df.txt": df_text(usages).encode(), "host/df.json": dumps(records)}


# --- sysctls --------------------------------------------------------------------------------------

#: Kernel settings that decide what containers can do (forwarding, limits, namespaces).
SYSCTLS = (
    "net.ipv4.ip_forward",
    "net.ipv6.conf.all.forwarding",
    "net.bridge.bridge-nf-call-iptables",
    "net.bridge.bridge-nf-call-ip6tables",
    "net.ipv4.conf.all.rp_filter",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.ping_group_range",
    "net.core.somaxconn",
    "net.netfilter.nf_conntrack_max",
    "net.netfilter.nf_conntrack_count",
    "net.ipv4.neigh.default.gc_thresh3",
    "kernel.pid_max",
    "kernel.threads-max",
    "kernel.keys.maxkeys",
    "kernel.keys.root_maxkeys",
    "kernel.unprivileged_userns_clone",
    "kernel.apparmor_restrict_unprivileged_userns",
    "kernel.unprivileged_bpf_disabled",
    "kernel.yama.ptrace_scope",
    "kernel.dmesg_restrict",
    "kernel.panic_on_oops",
    "user.max_user_namespaces",
    "user.max_net_namespaces",
    "fs.file-max",
    "fs.file-nr",
    "fs.nr_open",
    "fs.inotify.max_user_watches",
    "fs.inotify.max_user_instances",
    "fs.inotify.max_queued_events",
    "fs.may_detach_mounts",
    "vm.overcommit_memory",
    "vm.overcommit_ratio",
    "vm.max_map_count",
    "vm.swappiness",
    "vm.panic_on_oom",
    "vm.min_free_kbytes",
)

#: Why a sysctl may be missing, for the ones whose absence says something.
_ABSENT = {
    "net.bridge": "the br_netfilter module is not loaded",
    "net.netfilter.nf_conntrack": "the nf_conntrack module is not loaded",
    "kernel.unprivileged_userns_clone": "only Debian's and Ubuntu's kernels have it",
    "kernel.apparmor": "AppArmor is not enabled in this kernel",
    "kernel.yama": "the Yama LSM is not enabled",
    "fs.may_detach_mounts": "only RHEL 7's kernels have it",
}


def read_sysctls(names: Sequence[str] = SYSCTLS, root: str = "/proc/sys") -> dict[str, str | None]:
    """Return each sysctl's value (whitespace runs made one space), None when the kernel has
    no such setting. The values are this process's network namespace's (the host's)."""
    values: dict[str, str | None] = {}
    for name in names:
        try:
            with open(os.path.join(root, *name.split(".")), "rb") as f:
                values[name] = " ".join(f.read(4096).decode(errors="replace").split())
        except OSError:
            values[name] = None
    return values


def sysctl_text(values: dict[str, str | None]) -> str:
    """Return ``name = value`` lines (as ``sysctl`` prints them), a missing one with why."""
    lines = []
    for name, value in values.items():
        if value is not None:
            lines.append(f"{name} = {value}")
            continue
        why = next((w for prefix, w in _ABSENT.items() if name.startswith(prefix)), "")
        lines.append(f"# {name}: not present on this kernel" + (f" ({why})" if why else ""))
    return "\n".join(lines) + "\n"


def host_sysctls(ctx: CollectorRun) -> Files:
    """Sysctls that matter to containers."""
    values = read_sysctls()
    return {"host/sysctls.txt": sysctl_text(values).encode(), "host/sysctls.json": dumps(values)}


# --- netfilter ------------------------------------------------------------------------------------

#: Each netfilter dump: its collector, program and file.
NETFILTER = {
    "iptables": (["iptables-save"], "host/netfilter/iptables-save.txt"),
    "ip6tables": (["ip6tables-save"], "host/netfilter/ip6tables-save.txt"),
    "nft": (["nft", "list", "ruleset"], "host/netfilter/nft-ruleset.txt"),
}


def iptables_summary(text: str) -> dict[str, dict[str, int]]:
    """Return ``{table: {"chains": N, "rules": N}}`` of ``iptables-save`` output."""
    tables: dict[str, dict[str, int]] = {}
    current: dict[str, int] | None = None
    for line in text.splitlines():
        if line.startswith("*"):
            current = tables.setdefault(line[1:].strip(), {"chains": 0, "rules": 0})
        elif current is None:
            continue
        elif line.startswith(":"):
            current["chains"] += 1
        elif line.startswith("-A "):
            current["rules"] += 1
    return tables


def host_netfilter(ctx: CollectorRun, which: str, timeout: float) -> Files:
    """One netfilter dump (``iptables-save``, ``ip6tables-save`` or ``nft list ruleset``)."""
    argv, rel = NETFILTER[which]
    if not shutil.which(argv[0]):
        raise _unavailable(f"there is no {argv[0]} on this host.")
    rc, out, err = ctx.run(argv, timeout=timeout)
    if rc != 0:
        why = err.decode(errors="replace").strip()[:300] or "no message"
        raise DebugtoolError(f"{' '.join(argv)} exited {rc}: {why}")
    return {rel: out}


# --- listening sockets of the host ----------------------------------------------------------------


def listening_sockets(proc_net: dict[str, str]) -> list[Socket]:
    """Return the listening TCP and bound UDP sockets of ``{protocol: /proc/net/PROTOCOL}``."""
    from debugtool.collect.network import parse_proc_inet, sort_key

    found = []
    for protocol, text in proc_net.items():
        found += [s for s in parse_proc_inet(text, protocol) if s.listening]
    return sorted(found, key=sort_key)


def host_listening(ctx: CollectorRun) -> Files:
    """The host's listening sockets with the processes that hold them (as ``ss -tulpn``)."""
    from debugtool.collect.network import attribute, socket_owners

    # PID 1's tables are the host network namespace's wherever debugtool itself runs; where
    # PID 1 may not be looked at, debugtool's own (the host's, when it runs on the host).
    for pid in (1, "self"):
        try:
            netns = procfs.namespace_inode(pid, "net")
            tables = {"tcp": procfs.read_text(pid, "net/tcp")}
        except DebugtoolError:
            continue
        for protocol in ("tcp6", "udp", "udp6"):
            try:
                tables[protocol] = procfs.read_text(pid, f"net/{protocol}")
            except DebugtoolError:
                continue  # no IPv6 in this kernel
        break
    else:
        raise DebugtoolError("the host's socket tables (/proc/1/net/tcp ...) cannot be read.")
    sockets = listening_sockets(tables)
    attribute(sockets, socket_owners(netns, None))
    return {"host/listening.json": dumps(sockets)}


# --- the host at a glance (psutil) ----------------------------------------------------------------


def cpu_model(cpuinfo: str) -> str:
    """Return the CPU model ``/proc/cpuinfo`` names ('' when it names none)."""
    for line in cpuinfo.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() in ("model name", "Model", "cpu model", "Hardware"):
            return value.strip()
    return ""


def host_resources(ctx: CollectorRun, sample: float = 0.2) -> Files:
    """CPU (count, model, use over ``sample`` seconds), load, memory and swap, disks with inode
    use, network counters per interface, boot time and uptime, from psutil."""
    import psutil  # only here: a bundle is the one command that needs it

    try:
        with open(procfs.path("cpuinfo")) as f:
            model = cpu_model(f.read())
    except OSError:
        model = ""
    percent = psutil.cpu_percent(interval=sample, percpu=True)
    boot = psutil.boot_time()
    disks = []
    for part in psutil.disk_partitions(all=False):
        if any(part.mountpoint.startswith(tree) for tree in RUNTIME_TREES):
            continue
        try:
            usage = disk_usage(part.mountpoint)
        except OSError:
            continue
        disks.append(
            {
                "device": part.device,
                "mountpoint": part.mountpoint,
                "fstype": part.fstype,
                "total": usage.size,
                "used": usage.used,
                "free": usage.available,
                "percent": usage.use_percent,
                "inodes": usage.inodes,
                "inodes_used": usage.inodes_used,
                "inodes_percent": usage.inode_percent,
            }
        )
    record_ = {
        "cpu": {
            "logical": psutil.cpu_count(logical=True),
            "physical": psutil.cpu_count(logical=False),
            "model": model,
            "percent": round(sum(percent) / len(percent), 1) if percent else None,
            "percent_per_cpu": percent,
            "sampled_seconds": sample,
        },
        "load": list(os.getloadavg()),
        "memory": psutil.virtual_memory()._asdict(),
        "swap": psutil.swap_memory()._asdict(),
        "disks": disks,
        "network": {
            name: counters._asdict()
            for name, counters in sorted(psutil.net_io_counters(pernic=True).items())
        },
        "boot_time": boot,
        "uptime_seconds": round(time.time() - boot, 1),
    }
    return {"host/resources.json": dumps(record_)}


def jobs(
    program_timeout: float,
    daemon_timeout: float,
    docker_answered: bool,
    since: float | None = None,
    log_limit: int = KERNEL_LOG_LIMIT,
) -> list[tuple[str, Any, tuple[Any, ...], int]]:
    """Return the host-data collectors of a bundle as ``(name, function, arguments, priority)``.

    ``program_timeout`` is the time each program they run may take, ``daemon_timeout`` the
    time Docker may take to answer; the bulky ones (the kernel log, journals, events, rule
    sets) are dropped by ``--max-size`` before the Snapshots, as raw files are. ``since``
    (epoch seconds) and ``log_limit`` (bytes per source) bound the kernel log and the journals
    as they bound the containers' logs.
    """
    from debugtool.bundle.manifest import PRIORITY_HOST, PRIORITY_RAW

    docker = (daemon_timeout, docker_answered)
    return [
        ("host/kernel-log", host_kernel_log, (KMSG, since, log_limit), PRIORITY_RAW),
        (
            "host/journal",
            host_journals,
            (JOURNAL_LINES, program_timeout, JOURNAL_DIRS, since, log_limit),
            PRIORITY_RAW,
        ),
        ("host/runtime-configs", host_runtime_configs, (), PRIORITY_HOST),
        ("host/docker-info", host_docker_info, docker, PRIORITY_HOST),
        ("host/docker-events", host_docker_events, docker, PRIORITY_RAW),
        ("host/df", host_df, (), PRIORITY_HOST),
        ("host/sysctls", host_sysctls, (), PRIORITY_HOST),
        *(
            (f"host/{which}", host_netfilter, (which, program_timeout), PRIORITY_RAW)
            for which in NETFILTER
        ),
        ("host/listening", host_listening, (), PRIORITY_HOST),
        ("host/resources", host_resources, (), PRIORITY_HOST),
    ]
