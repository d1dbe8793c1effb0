"""The namespace scan: every PID namespace other than the host's, as a sandbox (runtime 'none').

This is how debugtool finds containers on a host with no runtime it knows (an ``unshare``
sandbox, a browser's sandbox, a runtime with no backend): it groups processes by the inode of
their PID namespace. ``merge()`` folds a sandbox into the runtime container with the same PID
namespace, so runtime-owned containers are listed once, by their runtime.

A sandbox's id is ``pid-<host PID of its init>``: stable for the sandbox's life, short enough to
stay unique in a 12-character column (PID namespace inodes all start ``40265...``), and the same
id ``pid:N`` resolves to. ``pidns`` carries the inode.

It must stay cheap on a host with thousands of processes: one ``scandir`` of ``/proc``, one
``stat`` of ``ns/pid`` per process, and ``status`` reads only for processes outside the host's
namespace (no psutil).
"""

from __future__ import annotations

import os
from typing import ClassVar

from debugtool.model import Container
from debugtool.runtimes.base import Runtime

PROC = "/proc"


def host_pidns(proc: str = PROC) -> int:
    """Return the inode of the host's PID namespace (PID 1's, else this process's own).

    PID 1 may refuse the lookup (a non-dumpable init); this process then stands for the
    host, which is right unless debugtool itself runs in a container without ``--pid host``.
    """
    return _inode(_host_link(proc))


def _host_link(proc: str) -> str:
    for who in ("1", "self"):
        try:
            return os.readlink(f"{proc}/{who}/ns/pid")
        except OSError:
            continue
    raise OSError(f"cannot read the PID namespace of {proc}/self")


def _inode(link: str) -> int:
    """Return the inode in a namespace link's target, ``pid:[4026531836]``."""
    return int(link[link.index("[") + 1 : -1])


def group_by_pidns(proc: str = PROC) -> dict[int, list[int]]:
    """Return ``{pidns inode: [host PIDs]}`` for every process outside the host's namespace.

    A process that exits during the scan, or whose namespace cannot be read, is left out.
    ``readlink`` of ``ns/pid`` costs about two thirds of a ``stat`` (no link to follow), and
    the links compare as strings, so only the few outside the host's are parsed.
    """
    host = _host_link(proc)
    links: dict[str, list[int]] = {}
    readlink = os.readlink
    with os.scandir(proc) as entries:
        for entry in entries:
            name = entry.name
            if not name.isdecimal():
                continue
            try:
                link = readlink(f"{proc}/{name}/ns/pid")
            except OSError:
                continue
            if link != host:
                links.setdefault(link, []).append(int(name))
    return {_inode(link): pids for link, pids in links.items()}


def _status_fields(proc: str, pid: int) -> dict[str, str] | None:
    """Return the few ``status`` fields the scan needs, or None if the process is gone."""
    try:
        with open(f"{proc}/{pid}/status", "rb") as f:
            text = f.read().decode("utf-8", "surrogateescape")
    except OSError:
        return None
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key in ("Name", "PPid", "NSpid"):
            fields[key] = value.strip()
    return fields


def find_init(pids: list[int], proc: str = PROC) -> tuple[int, str] | None:
    """Return ``(host PID, comm)`` of a namespace's init: the member that is PID 1 inside it.

    Without one (its init exited and left orphans, which the kernel then kills; or it is being
    torn down) the outermost member stands in: one whose parent is not in the namespace.
    Returns None when every member is gone.
    """
    members = set(pids)
    outermost: tuple[int, str] | None = None
    for pid in sorted(pids):  # the init nearly always has the lowest host PID: check it first
        fields = _status_fields(proc, pid)
        if fields is None:
            continue
        chain = fields.get("NSpid", "").split()
        if chain and chain[-1] == "1":
            return pid, fields.get("Name", "")
        if outermost is None and fields.get("PPid", "").isdecimal():
            if int(fields["PPid"]) not in members:
                outermost = (pid, fields.get("Name", ""))
    return outermost


def boot_time(proc: str = PROC) -> float:
    """Return when the host booted, in epoch seconds (``btime`` of ``/proc/stat``)."""
    try:
        with open(f"{proc}/stat", "rb") as f:
            for line in f:
                if line.startswith(b"btime "):
                    return float(line.split()[1])
    except OSError:
        pass
    return 0.0


def _start_ticks(proc: str, pid: int) -> int | None:
    try:
        with open(f"{proc}/{pid}/stat", "rb") as f:
            text = f.read().decode("utf-8", "surrogateescape")
        return int(text[text.rindex(")") + 2 :].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def scan(proc: str = PROC) -> list[Container]:
    """Return one running ``Container`` (runtime ``none``) per non-host PID namespace."""
    groups = group_by_pidns(proc)
    if not groups:
        return []
    boot = boot_time(proc)
    ticks = os.sysconf("SC_CLK_TCK")
    found = []
    for inode, pids in groups.items():
        init = find_init(pids, proc)
        if init is None:
            continue
        pid, comm = init
        start = _start_ticks(proc, pid)
        found.append(
            Container(
                id=f"pid-{pid}",
                name=comm or f"pid-{pid}",
                runtime="none",
                status="running",
                pid=pid,
                created=boot + start / ticks if start is not None and boot else None,
                pidns=inode,
                backends=["none"],
                metadata={"none": {"pidns": inode, "processes": len(pids)}},
            )
        )
    return found


class NamespaceScan(Runtime):
    """Sandboxes found by PID namespace; every runtime's containers show up here too, and
    ``merge()`` folds those into the runtime's record."""

    name: ClassVar[str] = "none"
    richness: ClassVar[int] = 0

    def present(self) -> bool:
        return os.path.isdir(f"{PROC}/self/ns")

    def list(self, all: bool = False) -> list[Container]:
        """Return every sandbox (they all run: a PID namespace lives only while a process does)."""
        return scan()
