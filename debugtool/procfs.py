"""Small parsers for /proc files, each tested on captured text under tests/fixtures/, and the one
place that names /proc.

Every path under /proc is built here from ``PROC`` (``path``, ``fd_path``), so a test can point
``PROC`` at a captured tree and every reader follows. Readers translate ``OSError`` at this
boundary, as psutil does (``translate``): a process that vanished raises ``ProcessGone``, a refused
read raises ``PermissionDenied``; callers never see a bare ``OSError``.

PID-namespace membership is read in one pass (``namespace_members``: one ``readlink`` of
``ns/pid`` per process); every scanner of the host's processes goes through it, except
``pids_seen_from``, which asks the kernel what one PID namespace sees (one ioctl per process) and
falls back to it.
"""

from __future__ import annotations

import errno
import os

from debugtool.errors import DebugtoolError, PermissionDenied, UsageError
from debugtool.record import record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

#: Where procfs is mounted. Tests point it at a captured tree; every path below is built from it.
PROC = "/proc"

#: Namespace types in the order a joiner enters them (user first, mount late, pid before fork).
NAMESPACE_TYPES = ("user", "cgroup", "ipc", "uts", "net", "pid", "mnt", "time")

#: ``PF_KTHREAD`` in the flags of ``/proc/PID/stat`` (include/linux/sched.h): a kernel thread.
PF_KTHREAD = 0x00200000


class ProcessGone(DebugtoolError):
    """The process exited while it was being read (normal churn, not a failure)."""


# --- paths and errors -------------------------------------------------------------------------


def path(*parts: int | str) -> str:
    """Return the path of ``PROC/PART/...``: ``path(pid, "root")``, ``path("self", "mountinfo")``,
    ``path("sys", "kernel", "yama", "ptrace_scope")``; ``path()`` is ``PROC`` itself."""
    return PROC + "/" + "/".join(map(str, parts)) if parts else PROC


def fd_path(fd: int) -> str:
    """Return ``/proc/self/fd/FD``: opening it reopens the very file an (``O_PATH``) descriptor
    names, with no path looked up again (the technique runc and libpathrs use)."""
    return f"{PROC}/self/fd/{fd}"


def translate(exc: OSError, pid: int | str, what: str) -> DebugtoolError:
    """Return the error to raise for ``exc``, met reading ``what`` of process ``pid``.

    ENOENT and ESRCH (``FileNotFoundError``, ``ProcessLookupError``): ``ProcessGone``; EACCES
    and EPERM (``PermissionError``): ``PermissionDenied(need="CAP_SYS_PTRACE")``; anything else
    a ``DebugtoolError`` with the system's words.
    """
    if exc.errno in (errno.ENOENT, errno.ESRCH):
        return ProcessGone(f"process {pid} exited while reading {what}.")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return PermissionDenied(
            f"reading {what} of process {pid} was refused.", need="CAP_SYS_PTRACE"
        )
    return DebugtoolError(f"reading {what} of process {pid} failed: {exc.strerror}.")


def read_bytes(pid: int | str, name: str) -> bytes:
    """Return the raw content of ``/proc/PID/NAME``."""
    try:
        with open(f"{PROC}/{pid}/{name}", "rb") as f:
            return f.read()
    except OSError as exc:
        raise translate(exc, pid, name) from None


def read_text(pid: int | str, name: str) -> str:
    """Return ``/proc/PID/NAME`` decoded as UTF-8 (undecodable bytes escaped)."""
    return read_bytes(pid, name).decode("utf-8", "surrogateescape")


#: ``/proc/self/loginuid`` of a process whose login uid was never set (``(uid_t)-1``).
UNSET_LOGIN_UID = 4294967295


def login_uid(pid: int | str = "self") -> int | None:
    """Return a process's login uid (audit's ``auid``: set at login by pam_loginuid, kept
    across ``su`` and ``sudo``); None when it was never set or the kernel has no audit."""
    try:
        text = read_text(pid, "loginuid").strip()
    except DebugtoolError:
        return None
    if not text.isdigit() or int(text) == UNSET_LOGIN_UID:
        return None
    return int(text)


def pids() -> list[int]:
    """Return every process of the host (the numeric entries of ``/proc``), in its order."""
    return [int(n) for n in os.listdir(PROC) if n.isdigit()]


# --- namespaces ---------------------------------------------------------------------------------


def _link_inode(link: str, nstype: str) -> int | None:
    """Return the inode in a namespace link's text, ``pid:[4026531836]``; None for another form."""
    if (
        link.startswith(nstype)
        and link.endswith("]")
        and link[len(nstype) : len(nstype) + 2] == ":["
    ):
        return int(link[len(nstype) + 2 : -1])
    return None


def namespace_inode(pid: int | str, nstype: str) -> int:
    """Return the inode of a process's namespace of type ``nstype`` (``stat`` of
    ``/proc/PID/ns/TYPE``). Raises ``ProcessGone`` or ``PermissionDenied``."""
    where = f"{PROC}/{pid}/ns/{nstype}"
    try:
        return os.stat(where).st_ino
    except FileNotFoundError:
        pass  # gone; or a captured tree, whose links hold the kernel's text and point nowhere
    except OSError as exc:
        raise translate(exc, pid, f"ns/{nstype}") from None
    try:
        inode = _link_inode(os.readlink(where), nstype)
    except OSError as exc:
        raise translate(exc, pid, f"ns/{nstype}") from None
    if inode is None:
        raise ProcessGone(f"process {pid} exited while reading ns/{nstype}.")
    return inode


def namespace_inodes(pid: int | str) -> dict[str, int]:
    """Return ``{type: inode}`` for each namespace of a process that the kernel exposes."""
    inodes: dict[str, int] = {}
    for ns in NAMESPACE_TYPES:
        try:
            inodes[ns] = namespace_inode(pid, ns)
        except ProcessGone:
            # An older kernel has no time (5.6) or cgroup (4.6) namespace: only a missing
            # process directory means the process is gone.
            if not os.path.exists(f"{PROC}/{pid}"):
                raise ProcessGone(f"process {pid} exited while reading its namespaces.") from None
    return inodes


def namespace_members(
    nstype: str = "pid", among: Iterable[int] | None = None, only: int | None = None
) -> dict[int, list[int]]:
    """Return ``{namespace inode: [host PIDs]}``: which processes share each namespace of
    ``nstype``, in one pass over ``/proc``.

    ``among`` limits the pass to those PIDs (default: every process); ``only`` keeps a single
    namespace, which is the cheap form (links are compared as text, nothing else is parsed).
    A process that exits during the pass, or whose namespace may not be read, is left out.

    One ``readlink`` of ``ns/TYPE`` per process: it costs about two thirds of a ``stat`` (no
    link to follow), and links are grouped as strings, so only one per namespace is parsed.
    """
    proc = PROC
    names = [n for n in os.listdir(proc) if n.isdigit()] if among is None else map(str, among)
    want = f"{nstype}:[{only}]" if only is not None else None
    kernel_form = f"{nstype}:["
    readlink = os.readlink
    by_link: dict[str, list[str]] = {}
    for name in names:
        try:
            link = readlink(f"{proc}/{name}/ns/{nstype}")
        except OSError:
            continue  # exited, or a process we may not look at
        if want is not None and link != want and link.startswith(kernel_form):
            continue  # another namespace
        group = by_link.get(link)
        if group is None:
            by_link[link] = [name]
        else:
            group.append(name)
    members: dict[int, list[int]] = {}
    for link, group in by_link.items():
        inode = _link_inode(link, nstype)
        if inode is not None:
            members.setdefault(inode, []).extend(int(n) for n in group)
            continue
        # Not the kernel's form: a captured tree whose links point to stand-in files.
        for name in group:
            try:
                found = os.stat(f"{proc}/{name}/ns/{nstype}").st_ino
            except OSError:
                continue
            members.setdefault(found, []).append(int(name))
    if only is not None:
        return {only: members[only]} if only in members else {}
    return members


def members(inode: int, nstype: str = "pid", among: Iterable[int] | None = None) -> list[int]:
    """Return the host PIDs in the namespace ``inode`` of ``nstype`` (``namespace_members``'
    cheap form for one namespace); among ``among`` when given."""
    return namespace_members(nstype, among, only=inode).get(inode, [])


#: ``NS_GET_TGID_IN_PIDNS`` (linux/nsfs.h, ``_IOR(0xb7, 0x9, int)``, kernel 6.11): asked of a PID
#: namespace's descriptor with a PID of the caller's namespace, the kernel answers that process's
#: PID in the namespace, or ESRCH when the namespace does not see it.
NS_GET_TGID_IN_PIDNS = 0x8004B709


def pids_seen_from(
    holder: int | str, inode: int, among: Iterable[int] | None = None
) -> dict[int, int] | None:
    """Return ``{host PID: PID there}`` for every process that PID namespace ``inode`` sees: its
    members and those of namespaces nested in it, as a ``ps`` inside lists them; among ``among``
    when given. ``holder`` is a process of that namespace, whose ``ns/pid`` is opened.

    One ioctl a process on one descriptor, no path looked up: less than half the CPU of a
    ``readlink`` of ``ns/pid`` each (``namespace_members``), and the PID inside comes with it,
    so ``status`` need not be read for its ``NSpid``. Returns None when the kernel cannot answer
    (before 6.11, or ``PROC`` a captured tree) or ``holder``'s ``ns/pid`` is not ``inode`` any
    more: then ``namespace_members`` is the way.
    """
    import fcntl  # a C module, imported only here

    try:
        nsfd = os.open(path(holder, "ns", "pid"), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if os.fstat(nsfd).st_ino != inode:
            return None
        ioctl = fcntl.ioctl
        seen: dict[int, int] = {}
        for pid in pids() if among is None else among:
            try:
                seen[pid] = ioctl(nsfd, NS_GET_TGID_IN_PIDNS, pid)
            except OSError as exc:
                if exc.errno != errno.ESRCH:
                    return None  # ENOTTY: a kernel without the ioctl
        return seen
    finally:
        os.close(nsfd)


#: ``NS_GET_PARENT`` (linux/nsfs.h, ``_IO(0xb7, 0x2)``): asked of a PID namespace's descriptor,
#: the kernel opens its parent namespace (EPERM at the top of what the caller may see).
NS_GET_PARENT = 0xB702


def pidns_parents(members: Mapping[int, list[int]]) -> dict[int, int | None]:
    """Return ``{PID namespace inode: its parent's inode, or None}`` for the namespaces of
    ``members`` (``namespace_members("pid")``), asked of the kernel through one member's
    ``ns/pid``: which namespace is nested in which, so that a container's share of a pass over
    ``/proc`` can hold the processes of the namespaces nested in its own, as ``pids_inside``
    does. None where the kernel does not say (the host's namespace, a captured tree).
    """
    import fcntl  # a C module, imported only here

    parents: dict[int, int | None] = {}
    for inode, pids in members.items():
        parents[inode] = None
        for pid in pids[:3]:  # a member that exits meanwhile: the next one
            try:
                nsfd = os.open(path(pid, "ns", "pid"), os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                if os.fstat(nsfd).st_ino != inode:
                    continue
                parent = fcntl.ioctl(nsfd, NS_GET_PARENT)
                parents[inode] = os.fstat(parent).st_ino
                os.close(parent)
            except OSError:
                pass  # EPERM: no parent this process may see; ENOTTY: not the kernel's file
            finally:
                os.close(nsfd)
            break
    return parents


def nested_in(inode: int, parents: Mapping[int, int | None]) -> list[int]:
    """Return ``inode`` and every namespace of ``parents`` (``pidns_parents``) nested in it."""
    found = [inode]
    for candidate in parents:
        seen = {candidate}
        up = parents.get(candidate)
        while up is not None and up not in seen:
            if up == inode:
                found.append(candidate)
                break
            seen.add(up)
            up = parents.get(up)
    return found


def pids_inside(
    holder: int | str | None, inode: int, among: Iterable[int] | None = None
) -> Mapping[int, int | None]:
    """Return ``{host PID: PID there}`` for the processes of PID namespace ``inode``: the
    kernel's answer (``pids_seen_from``, asked through ``holder``, a process of the namespace;
    nested namespaces' processes included), else its exact members (``members``) each with None,
    where only the last of status's ``NSpid`` tells the PID there. Among ``among`` when given."""
    seen = pids_seen_from(holder, inode, among) if holder is not None else None
    return seen if seen is not None else dict.fromkeys(members(inode, "pid", among))


def host_pidns() -> int:
    """Return the inode of the host's PID namespace: PID 1's, else this process's own.

    PID 1 may refuse the lookup (a non-dumpable init); this process then stands for the host,
    which is right unless debugtool itself runs in a container without ``--pid host``. Raises
    ``ProcessGone`` or ``PermissionDenied`` when neither can be read.
    """
    try:
        return namespace_inode(1, "pid")
    except DebugtoolError:
        return namespace_inode("self", "pid")


# --- stat and status ------------------------------------------------------------------------------


def parse_stat(text: str) -> dict[str, int | str]:
    """Parse ``/proc/PID/stat``: comm (which may hold spaces and parens), state, ppid, flags,
    times, sizes (see proc(5); ``flags`` holds ``PF_KTHREAD``).

    The command name sits between the first ``(`` and the *last* ``)``.
    """
    lpar = text.index("(")
    rpar = text.rindex(")")
    rest = text[rpar + 2 :].split()
    return {
        "pid": int(text[:lpar]),
        "comm": text[lpar + 1 : rpar],
        "state": rest[0],
        "ppid": int(rest[1]),
        "pgrp": int(rest[2]),
        "session": int(rest[3]),
        "flags": int(rest[6]),
        "utime": int(rest[11]),
        "stime": int(rest[12]),
        "num_threads": int(rest[17]),
        "starttime": int(rest[19]),
        "vsize": int(rest[20]),
        "rss_pages": int(rest[21]),
    }


def start_time(pid: int) -> int:
    """Return a process's start time in clock ticks since boot (field 22 of stat)."""
    return int(parse_stat(read_text(pid, "stat"))["starttime"])


def kernel_thread(pid: int | str) -> bool:
    """Return whether ``pid`` is a kernel thread (``PF_KTHREAD``: kthreadd and its children),
    which no container's process can be. Raises ``ProcessGone`` or ``PermissionDenied``."""
    text = read_text(pid, "stat")
    try:
        return bool(int(parse_stat(text)["flags"]) & PF_KTHREAD)
    except (ValueError, IndexError):
        # An empty read: the process was reaped between open and read.
        raise ProcessGone(f"process {pid} exited while reading stat.") from None


def parse_status(text: str) -> dict[str, str]:
    """Parse ``/proc/PID/status`` into its ``Key: value`` pairs (values stripped)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key] = value.strip()
    return fields


def status_field(text: str, key: str) -> str:
    """Return the value of one ``Key:`` line of status text (stripped; "" when absent), without
    parsing the other ~55 lines: collectors read a few fields of thousands of processes."""
    start = text.find(f"\n{key}:") + 1
    if not start and not text.startswith(f"{key}:"):
        return ""
    start += len(key) + 1
    end = text.find("\n", start)
    return text[start : end if end >= 0 else None].strip()


def nspid(status: str | Mapping[str, str]) -> list[int]:
    """Return the ``NSpid`` chain: host PID first, the PID in the innermost namespace last.

    ``status`` is the text of ``/proc/PID/status`` or ``parse_status``'s mapping of it; empty
    on a kernel without PID namespaces' ``NSpid`` line (before 4.1).
    """
    value = status_field(status, "NSpid") if isinstance(status, str) else status.get("NSpid", "")
    return [int(p) for p in value.split()]


def parse_cgroup(text: str) -> dict[str, str]:
    """Parse ``/proc/PID/cgroup`` into ``{controllers: path}``.

    cgroup v2's single line has an empty controller list and is keyed ``""``; v1 lines are keyed
    by their comma-joined controllers (``"cpu,cpuacct"``, ``"name=systemd"``).
    """
    paths: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            paths[parts[1]] = parts[2]
    return paths


def cmdline(pid: int | str) -> list[str]:
    """Return a process's argv (non-UTF-8 bytes escaped); empty for kernel threads."""
    raw = read_bytes(pid, "cmdline")
    if not raw:
        return []
    return [a.decode("utf-8", "surrogateescape") for a in raw.rstrip(b"\0").split(b"\0")]


def comm(pid: int | str) -> str:
    """Return a process's command name (``/proc/PID/comm``: what the process set, at most 15
    bytes). Raises ``ProcessGone`` or ``PermissionDenied``."""
    return read_text(pid, "comm").rstrip("\n")


# --- PIDs across namespaces, parents, threads, tracers ----------------------------------------


def pid_in_namespace(pid: int, level: int | None = None) -> int:
    """Return a process's PID in the PID namespace ``level`` deep (0 is the host's; default: its
    own innermost namespace), from ``NSpid``; 0 if it is gone.

    A container's process that made a nested PID namespace is still named as the container sees
    it when ``level`` is the container's.
    """
    try:
        chain = nspid(parse_status(read_text(pid, "status")))
    except ProcessGone:
        return 0
    if not chain:
        return pid
    return chain[level] if level is not None and level < len(chain) else chain[-1]


def host_pid_for(pidns_inode: int, wanted: int) -> int:
    """Return the host PID of the process that is ``wanted`` in the PID namespace ``pidns_inode``
    (a process counts by its innermost PID, so one in a nested namespace is not mistaken).

    Raises ``UsageError`` when no process in that namespace has that PID.
    """
    for pid in members(pidns_inode):
        try:
            chain = nspid(read_text(pid, "status"))
        except DebugtoolError:
            continue  # exited while scanning: normal churn
        if chain and chain[-1] == wanted:
            return pid
    raise UsageError(
        f"no process has PID {wanted} inside the container.",
        "List its processes with 'debugtool ps' or 'debugtool top', and give a PID as the "
        "container sees it.",
    )


def ancestors(pid: int | None = None) -> set[int]:
    """Return ``pid`` (default: this process) and every ancestor's PID up to PID 1, following
    ``PPid`` from ``/proc/PID/stat``; the chain ends early where a parent is gone."""
    pid = pid or os.getpid()
    seen: set[int] = set()
    while pid > 0 and pid not in seen:
        seen.add(pid)
        try:
            pid = int(parse_stat(read_text(pid, "stat"))["ppid"])
        except (ProcessGone, ValueError):
            break
    return seen


def threads(pid: int) -> list[int]:
    """Return the thread ids of a process (``/proc/PID/task``), sorted; empty when it is gone."""
    try:
        return sorted(int(t) for t in os.listdir(f"{PROC}/{pid}/task"))
    except OSError:
        return []


def tracer_pid(tid: int) -> int:
    """Return the PID tracing thread ``tid`` (``TracerPid``), 0 if none or if it is gone.

    Raises ``PermissionDenied`` when its status may not be read."""
    try:
        status = parse_status(read_text(tid, "status"))
    except ProcessGone:
        return 0
    return int(status.get("TracerPid", "0") or 0)


# --- capabilities -----------------------------------------------------------------------------

#: Capability names by number, from include/uapi/linux/capability.h (Linux 5.9 adds 38-40).
CAP_NAMES = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
)


def cap_names(mask: int | str) -> list[str]:
    """Return the capability names set in ``mask`` (an int, or the hex of ``CapEff`` & co).

    Bits beyond the table (a newer kernel) are named ``CAP_<n>`` rather than dropped.
    """
    value = int(mask, 16) if isinstance(mask, str) else mask
    names = []
    bit = 0
    while value >> bit:
        if value >> bit & 1:
            names.append(CAP_NAMES[bit] if bit < len(CAP_NAMES) else f"CAP_{bit}")
        bit += 1
    return names


def capabilities(status: dict[str, str]) -> dict[str, list[str]]:
    """Return ``{effective, permitted, inheritable, bounding, ambient}`` capability names."""
    keys = {
        "effective": "CapEff",
        "permitted": "CapPrm",
        "inheritable": "CapInh",
        "bounding": "CapBnd",
        "ambient": "CapAmb",
    }
    return {k: cap_names(status.get(v, "0") or "0") for k, v in keys.items()}


# --- status fields ------------------------------------------------------------------------------


def status_ids(status: dict[str, str], key: str = "Uid") -> tuple[int, int, int, int]:
    """Return the (real, effective, saved, filesystem) ids of ``Uid`` or ``Gid``."""
    parts = [int(p) for p in status.get(key, "").split()]
    if len(parts) != 4:
        raise ValueError(f"malformed {key} line in status")
    return parts[0], parts[1], parts[2], parts[3]


def seccomp_mode(status: dict[str, str]) -> str:
    """Return ``disabled``, ``strict`` or ``filter`` from the ``Seccomp`` line (``""`` if absent)."""
    return {"0": "disabled", "1": "strict", "2": "filter"}.get(status.get("Seccomp", ""), "")


def parse_id_map(text: str) -> list[tuple[int, int, int]]:
    """Parse ``uid_map`` or ``gid_map`` into ``(inside, outside, count)`` triples."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3:
            out.append((int(parts[0]), int(parts[1]), int(parts[2])))
    return out


def map_id(host_id: int, id_map: list[tuple[int, int, int]]) -> int | None:
    """Return the id inside a user namespace for ``host_id`` (None: unmapped, shown as nobody)."""
    for inside, outside, count in id_map:
        if outside <= host_id < outside + count:
            return inside + host_id - outside
    return None


IDENTITY_MAP = [(0, 0, 4294967295)]


# --- mountinfo ------------------------------------------------------------------------------------


@record
class MountInfo:
    """One line of ``/proc/PID/mountinfo`` (see proc(5)), with the octal escapes decoded."""

    mount_id: int
    parent_id: int
    major: int
    minor: int
    root: str
    mountpoint: str
    options: str
    optional: list[str]
    fstype: str
    source: str
    super_options: str

    @property
    def device(self) -> tuple[int, int]:
        return self.major, self.minor

    @property
    def readonly(self) -> bool:
        return "ro" in self.options.split(",")

    @property
    def propagation(self) -> str:
        """``shared:N``, ``master:N`` (with ``propagate_from:N``), ``unbindable`` or ``private``."""
        tags = [t for t in self.optional if t.split(":")[0] in _PROPAGATION]
        return " ".join(tags) if tags else "private"


_PROPAGATION = ("shared", "master", "propagate_from", "unbindable")


def unescape_mount(text: str) -> str:
    r"""Decode the kernel's octal escapes in a mountinfo field (``\040`` space, ``\011`` tab,
    ``\012`` newline, ``\134`` backslash); other bytes pass through as they are."""
    if "\\" not in text:
        return text
    import re  # only for a mount point with an escape in its name

    raw = os.fsencode(text)
    decoded = re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m.group(1), 8) & 0xFF]), raw)
    return os.fsdecode(decoded)


def parse_mountinfo(text: str) -> list[MountInfo]:
    """Parse ``/proc/PID/mountinfo``; malformed lines are skipped.

    Fields are space-separated; spaces inside paths arrive escaped, so a plain split is safe.
    A variable number of optional fields ends at the ``-`` separator.
    """
    mounts = []
    for line in text.splitlines():
        parts = line.split(" ")
        try:
            sep = parts.index("-", 6)
            major, minor = parts[2].split(":")
            mounts.append(
                MountInfo(
                    mount_id=int(parts[0]),
                    parent_id=int(parts[1]),
                    major=int(major),
                    minor=int(minor),
                    root=unescape_mount(parts[3]),
                    mountpoint=unescape_mount(parts[4]),
                    options=parts[5],
                    optional=[p for p in parts[6:sep] if p],
                    fstype=parts[sep + 1],
                    source=unescape_mount(parts[sep + 2]) if len(parts) > sep + 2 else "",
                    super_options=parts[sep + 3] if len(parts) > sep + 3 else "",
                )
            )
        except (ValueError, IndexError):
            continue
    return mounts


# --- clock -----------------------------------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def boot_time(text: str | None = None) -> float:
    """Return the boot time in seconds since the epoch (``btime`` of ``/proc/stat``)."""
    if text is None:
        try:
            with open(f"{PROC}/stat") as f:
                text = f.read()
        except OSError as exc:
            raise DebugtoolError(f"reading /proc/stat failed: {exc.strerror}.") from None
    for line in text.splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    raise DebugtoolError("/proc/stat has no btime line.")
