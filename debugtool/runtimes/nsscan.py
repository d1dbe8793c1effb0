"""The namespace scan: every PID namespace other than the host's, as a sandbox (runtime 'none').

This is how debugtool finds containers on a host with no runtime it knows (an ``unshare``
sandbox, a browser's sandbox, a runtime with no backend): it groups processes by the inode of
their PID namespace. ``merge()`` folds a sandbox into the runtime container with the same PID
namespace, so runtime-owned containers are listed once, by their runtime.

A sandbox's id is ``pid-<host PID of its init>``: stable for the sandbox's life, short enough to
stay unique in a 12-character column (PID namespace inodes all start ``40265...``), and the same
id ``pid:N`` resolves to. ``pidns`` carries the inode.

It must stay cheap on a host with thousands of processes: one pass over ``/proc``
(``procfs.namespace_members``: one ``readlink`` of ``ns/pid`` per process), and ``status``
reads only for processes outside the host's namespace (no psutil).
"""

from __future__ import annotations

import os

from debugtool import procfs
from debugtool.errors import DebugtoolError
from debugtool.model import Container
from debugtool.runtimes.base import Runtime

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import ClassVar


def group_by_pidns() -> dict[int, list[int]]:
    """Return ``{pidns inode: [host PIDs]}`` for every process outside the host's namespace.

    A process that exits during the scan, or whose namespace cannot be read, is left out.
    """
    groups = procfs.namespace_members("pid")
    try:
        groups.pop(procfs.host_pidns(), None)
    except DebugtoolError:
        return {}  # not even this process's namespace can be read: nothing to tell apart
    return groups


def find_init(pids: list[int]) -> tuple[int, str] | None:
    """Return ``(host PID, comm)`` of a namespace's init: the member that is PID 1 inside it.

    Without one (its init exited and left orphans, which the kernel then kills; or it is being
    torn down) the outermost member stands in: one whose parent is not in the namespace.
    Returns None when every member is gone.
    """
    members = set(pids)
    outermost: tuple[int, str] | None = None
    for pid in sorted(pids):  # the init nearly always has the lowest host PID: check it first
        try:
            status = procfs.read_text(pid, "status")
        except DebugtoolError:
            continue
        name = procfs.status_field(status, "Name")
        chain = procfs.nspid(status)
        if chain and chain[-1] == 1:
            return pid, name
        ppid = procfs.status_field(status, "PPid")
        if outermost is None and ppid.isdecimal() and int(ppid) not in members:
            outermost = (pid, name)
    return outermost


def scan() -> list[Container]:
    """Return one running ``Container`` (runtime ``none``) per non-host PID namespace."""
    groups = group_by_pidns()
    if not groups:
        return []
    try:
        boot = procfs.boot_time()
    except DebugtoolError:
        boot = 0.0
    found = []
    for inode, pids in groups.items():
        init = find_init(pids)
        if init is None:
            continue
        pid, comm = init
        try:
            start: int | None = procfs.start_time(pid)
        except (DebugtoolError, ValueError, IndexError):
            start = None
        found.append(
            Container(
                id=f"pid-{pid}",
                name=comm or f"pid-{pid}",
                runtime="none",
                status="running",
                pid=pid,
                created=boot + start / procfs.CLOCK_TICKS if start is not None and boot else None,
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
    reads_files: ClassVar[bool] = True

    def present(self) -> bool:
        return os.path.isdir(procfs.path("self", "ns"))

    def list(self, all: bool = False) -> list[Container]:
        """Return every sandbox (they all run: a PID namespace lives only while a process does)."""
        return scan()
