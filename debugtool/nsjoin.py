"""Entering a process's namespaces, nsenter-style, each entry verified by inode.

``Namespace(pid, "net")`` moves only the calling thread (``setns`` is per thread) and moves it
back on exit. A socket created inside stays in that namespace after leaving, which is how a netlink
socket answers for a container. ``/proc/self/net`` follows the thread-group leader, so code inside
must read ``/proc/thread-self/net`` or ``/proc/PID/net``.

Mount and user namespaces cannot be entered by a multithreaded process (EINVAL): enter those in a
forked, single-threaded child (see ``debugtool.exec.joiner``).
"""

from __future__ import annotations

import _thread
import errno
import os

from debugtool.errors import ContainerGone, DebugtoolError, PermissionDenied

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NEWNS = 0x00020000
CLONE_NEWTIME = 0x00000080

FLAGS = {
    "cgroup": CLONE_NEWCGROUP,
    "uts": CLONE_NEWUTS,
    "ipc": CLONE_NEWIPC,
    "user": CLONE_NEWUSER,
    "pid": CLONE_NEWPID,
    "net": CLONE_NEWNET,
    "mnt": CLONE_NEWNS,
    "time": CLONE_NEWTIME,
}

_LIBC: list[Any] = []  # ctypes' libc, loaded on the first setns: ctypes costs ~3 ms to import


def _libc() -> Any:
    if not _LIBC:
        import ctypes

        _LIBC.append(ctypes.CDLL(None, use_errno=True))
    return _LIBC[0]


class NamespaceError(DebugtoolError):
    """A namespace could not be entered, or the entry could not be verified."""


def setns(fd: int, nstype: str) -> None:
    """Move the calling thread into the namespace open at ``fd`` (a ``/proc/PID/ns/*`` file).

    Raises ``PermissionDenied`` (EPERM) or ``NamespaceError``.
    """
    if _libc().setns(fd, FLAGS[nstype]) != 0:
        import ctypes

        err = ctypes.get_errno()
        if err == errno.EPERM:
            raise PermissionDenied(
                f"entering the {nstype} namespace was refused.", need="CAP_SYS_ADMIN"
            )
        if err == errno.EINVAL and nstype in ("mnt", "user"):
            raise NamespaceError(
                f"cannot enter the {nstype} namespace from a multithreaded process.",
                "Enter it in a forked single-threaded child.",
            )
        raise NamespaceError(f"setns into the {nstype} namespace failed: {os.strerror(err)}.")


def thread_ns_inode(nstype: str) -> int:
    """Return the inode of the calling thread's namespace of ``nstype``."""
    from debugtool import procfs  # here, not at the top: the spawned joiner imports FLAGS

    return os.stat(procfs.path("thread-self", "ns", nstype)).st_ino


def open_ns(pid: int, nstype: str) -> int:
    """Open ``/proc/PID/ns/TYPE``; raise ``ContainerGone`` if the process has exited."""
    from debugtool import procfs

    try:
        return os.open(procfs.path(pid, "ns", nstype), os.O_RDONLY | os.O_CLOEXEC)
    except (FileNotFoundError, ProcessLookupError):
        raise ContainerGone(
            f"process {pid} exited before its {nstype} namespace was entered."
        ) from None
    except PermissionError:
        raise PermissionDenied(
            f"opening the {nstype} namespace of process {pid} was refused.", need="CAP_SYS_PTRACE"
        ) from None


class Namespace:
    """Context manager: run the calling thread inside ``pid``'s namespace of ``nstype``.

    Entering is verified by comparing the thread's namespace inode with the target's; leaving
    returns to the original namespace and verifies that too. Only per-thread namespaces (net,
    uts, ipc, and in a single-threaded process mnt) make sense here.
    """

    def __init__(self, pid: int, nstype: str = "net") -> None:
        if nstype not in FLAGS:
            raise ValueError(f"unknown namespace type {nstype!r}")
        self.pid = pid
        self.nstype = nstype
        self._home: int | None = None
        self._thread: int | None = None

    def __enter__(self) -> Namespace:
        from debugtool import procfs

        target = open_ns(self.pid, self.nstype)
        try:
            want = os.fstat(target).st_ino
            home = procfs.path("thread-self", "ns", self.nstype)
            self._home = os.open(home, os.O_RDONLY | os.O_CLOEXEC)
            self._thread = _thread.get_ident()
            setns(target, self.nstype)
            if thread_ns_inode(self.nstype) != want:
                self._return()
                raise NamespaceError(
                    f"entered a {self.nstype} namespace other than process {self.pid}'s."
                )
        except BaseException:
            if self._home is not None:
                os.close(self._home)
                self._home = None
            raise
        finally:
            os.close(target)
        return self

    def _return(self) -> None:
        assert self._home is not None
        home_inode = os.fstat(self._home).st_ino
        setns(self._home, self.nstype)
        if thread_ns_inode(self.nstype) != home_inode:
            raise NamespaceError(f"could not return to the original {self.nstype} namespace.")

    def __exit__(self, *exc: object) -> None:
        if self._thread != _thread.get_ident():
            raise NamespaceError("a Namespace must be left from the thread that entered it.")
        try:
            self._return()
        finally:
            if self._home is not None:
                os.close(self._home)
            self._home = None
