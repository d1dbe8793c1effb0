"""Runtime-mode exec's watchdog: nothing a debug session started outlives debugtool.

In ns and toolbox modes the joiner's parent-death signal kills the command's tree. A runtime's
own exec starts the command under the runtime's daemon instead, so a small detached process
watches debugtool: if debugtool dies without saying the command finished, the watchdog kills
every process of the container that carries this session's ``DEBUGTOOL_SESSION`` marker in its
environment (or, for a runtime that cannot set variables, that entered the PID namespace from
outside since the session began).
"""

from __future__ import annotations

import _signal as signal  # signal's functions, without its enums (enum: ~4 ms to import)
import os
import time

from debugtool import procfs
from debugtool.errors import DebugtoolError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from debugtool.target import Target

SESSION_VAR = "DEBUGTOOL_SESSION"


class Watchdog:
    """A detached process that kills the session's processes in the container if debugtool dies.

    debugtool keeps the write end of a pipe; the watchdog blocks reading it. ``finish`` writes
    one byte (all is well) and closes it; EOF without that byte means debugtool was killed.
    """

    def __init__(self, fd: int | None, first: int | None = None) -> None:
        self.fd = fd
        self.first = first  # the first of the double fork, reaped in finish (it exits at once)

    @classmethod
    def start(cls, target: Target, session: str | None) -> Watchdog:
        pidns = target.namespaces.get("pid")
        if pidns is None:
            return cls(None)
        since = boot_ticks()
        read_end, write_end = os.pipe2(os.O_CLOEXEC)
        first = os.fork()
        if first == 0:  # double fork: the watchdog is nobody's zombie
            try:
                os.setsid()
                if os.fork() == 0:
                    _watch(read_end, pidns, session.encode() if session else None, since)
            finally:
                os._exit(0)
        os.close(read_end)
        # Not waited for here: it exits as soon as it has forked the watchdog, while the
        # runtime's exec is under way; finish reaps it.
        return cls(write_end, first)

    def finish(self, ended: bool) -> None:
        """Release the watchdog; unless the command ``ended``, it kills the session's processes."""
        if self.fd is not None:
            try:
                if ended:
                    os.write(self.fd, b".")
            finally:
                os.close(self.fd)
                self.fd = None
        if self.first is not None:
            try:
                os.waitpid(self.first, 0)
            except ChildProcessError:
                pass
            self.first = None


def boot_ticks() -> int:
    """Return the time since boot in clock ticks (the unit of a process's start time)."""
    return int(time.clock_gettime(time.CLOCK_BOOTTIME) * os.sysconf("SC_CLK_TCK"))


def _watch(fd: int, pidns: int, session: bytes | None, since: int) -> None:
    """The watchdog's body: wait for debugtool, then kill the session's processes if it died."""
    null = os.open("/dev/null", os.O_RDWR)
    for std in (0, 1, 2):
        os.dup2(null, std)
    os.closerange(3, fd)
    os.closerange(fd + 1, 1 << 20)
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_IGN)
    while True:
        try:
            data = os.read(fd, 1)
            break
        except InterruptedError:
            continue
    if data:
        return
    marker = b"\0" + SESSION_VAR.encode() + b"=" + session + b"\0" if session else None
    for _ in range(5):  # repeat: a process may have forked while the first pass ran
        found = 0
        for pid in session_processes(pidns, marker, since):
            found += 1
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if not found:
            return
        time.sleep(0.05)


def session_processes(pidns: int, marker: bytes | None, since: int) -> list[int]:
    """Return host PIDs of this session's processes in PID namespace ``pidns``.

    With a ``marker``, the processes whose environment holds it. Without one (a runtime that
    cannot set variables), each process of the namespace started at or after ``since`` whose
    parent is outside the namespace (that is how a runtime's exec enters it), and its
    descendants.
    """
    if marker is None:
        # A target in the host's PID namespace: "started since, parent outside" would match
        # host daemons (a shim whose parent is an unreadable PID 1). Kill nothing rather than
        # guess (nor when this process's own namespace cannot be read): first, do no harm.
        try:
            if pidns == procfs.namespace_inode("self", "pid"):
                return []
        except DebugtoolError:
            return []
    members: dict[int, tuple[int, int]] = {}  # pid -> (ppid, start time)
    found = []
    for pid in procfs.members(pidns):
        try:
            if marker is not None:
                environ = b"\0" + procfs.read_bytes(pid, "environ")
                if marker in environ or environ.endswith(marker[:-1]):
                    found.append(pid)
                continue
            stat = procfs.parse_stat(procfs.read_text(pid, "stat"))
        except (DebugtoolError, ValueError):
            continue
        members[pid] = (int(stat["ppid"]), int(stat["starttime"]))
    if marker is not None:
        return found
    roots = {p for p, (ppid, start) in members.items() if start >= since and ppid not in members}
    # Each member whose chain of parents reaches a root belongs to the session.
    for pid in members:
        seen, current = set(), pid
        while current in members and current not in seen:
            if current in roots:
                found.append(pid)
                break
            seen.add(current)
            current = members[current][0]
    return found
