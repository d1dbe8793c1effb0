"""The joiner started before debugtool knows what it will do (ns and toolbox modes).

The kernel makes the first move of a process into a cgroup wait for an RCU grace period (about
10 ms on this cgroup v1 host; ``runc exec`` waits for it too). Started as soon as the target is
pinned, the joiner takes that wait while debugtool imports the exec path, plans, writes the
audit start record and builds the ``JoinSpec``; it enters nothing, and nothing runs, until
``hand_over`` sends it the spec. This module imports next to nothing, so that the CLI can fork
the joiner before it has imported the rest of the exec path.
"""

from __future__ import annotations

import os
import sys

from debugtool import procfs
from debugtool.errors import EXIT_TOOL, DebugtoolError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from debugtool.exec.spec import JoinSpec
    from debugtool.target import Target


class EarlyJoiner:
    """A joiner forked as soon as the target is pinned, before debugtool has planned the exec.

    It joins the target's cgroups at once (and seals itself meanwhile): the kernel makes the
    first move into a cgroup wait for an RCU grace period (about 10 ms here; ``runc exec``
    waits for it too), and that wait now runs beside debugtool's own work (imports, the plan,
    the audit start record, the spec) instead of after it. Nothing enters a namespace, and nothing runs,
    until ``hand_over`` sends the spec; ``cancel`` (an exec called off, the audit log
    unwritable) closes the channel and the joiner leaves.
    """

    def __init__(self, pid: int, channel: int, cgroups: list[str]) -> None:
        self.pid = pid
        self.channel: int | None = channel
        self.cgroups = cgroups  # the cgroup.procs files it joins, for the spec to name

    @classmethod
    def start(cls, target: Target) -> EarlyJoiner:
        from debugtool.collect.cgroups import cgroup_procs_files

        cgroups = cgroup_procs_files(target.cgroup)
        ours, theirs = _socketpair()
        sys.stdout.flush()
        sys.stderr.flush()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(ours)
                _early_child(theirs, parent, cgroups)
            finally:
                os._exit(EXIT_TOOL)
        os.close(theirs)
        return cls(pid, ours, cgroups)

    def hand_over(self, spec: JoinSpec, stdio: list[int]) -> int:
        """Send the spec and its descriptors (``stdio`` as the joiner's 0, 1, 2); return its PID."""
        import _socket
        import struct

        assert self.channel is not None
        fds = sorted({*spec.descriptors(), *stdio})
        from debugtool import jsonc

        body = jsonc.dumps({"spec": spec.to_json().decode(), "fds": fds, "stdio": stdio}).encode()
        sock = _socket.socket(fileno=self.channel)
        self.channel = None
        try:
            sock.sendmsg(
                [struct.pack("=II", len(body), len(fds))],
                [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, struct.pack(f"={len(fds)}i", *fds))],
            )
            sock.sendall(body)
        except OSError:
            try:
                os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass
            raise DebugtoolError(
                "the joiner ended before it was told what to do; nothing ran."
            ) from None
        finally:
            sock.close()
        return self.pid

    def cancel(self) -> None:
        """Call the exec off: the joiner reads end of file and leaves, having run nothing."""
        if self.channel is not None:
            os.close(self.channel)
            self.channel = None
            try:
                os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass


def start_early(target: Target, mode: str, spawn: bool | None = None) -> EarlyJoiner | None:
    """Start the joiner of an ns or toolbox exec now, or return None: runtime mode has none,
    and from a process running threads (``should_spawn``) the joiner is spawned later instead.
    """
    if mode == "runtime" or should_spawn(spawn):
        return None
    return EarlyJoiner.start(target)


def _early_child(channel: int, parent: int, cgroups: list[str]) -> None:
    """The early joiner's first steps: /dev/null as its stdio, then its cgroups joined by a
    thread while it imports the joiner (``ctypes`` among it) from the host's files and seals
    itself (``joiner.early_seal``); then on as ``joiner.early_main``. Joining a cgroup exposes
    nothing to the container: the joiner never enters its PID namespace, and it is sealed
    before it enters anything else."""
    import _thread
    import time

    from debugtool.collect.cgroups import join

    null = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC)
    for std in (0, 1, 2):
        os.dup2(null, std)  # nothing of the operator's terminal while it waits
    os.close(null)
    done = _thread.allocate_lock()
    done.acquire()
    started = _thread.allocate_lock()
    started.acquire()
    failed: list[str] = []

    def move() -> None:
        try:
            started.release()
            failed.extend(join(cgroups))
        finally:
            done.release()

    # The mover needs the GIL to start and again after each write, while this thread imports
    # and seals: by default it would wait a switch interval (5 ms) each time, and began the
    # move 8-10 ms after the fork. Waiting for it to start, with a short interval, it begins
    # at once and the joiner is ready about 5 ms sooner (measured with timestamps, 20 runs).
    sys.setswitchinterval(0.00005)
    _thread.start_new_thread(move, ())
    started.acquire()  # (without the GIL) until the mover has begun
    from debugtool.exec.joiner import early_main, early_seal  # on the host, before any setns

    early_seal(parent)  # while the move waits for the kernel
    done.acquire()
    # setns(CLONE_NEWNS) refuses a process with a second thread (EINVAL): wait until the
    # kernel has let the mover go, not only until it said it was done.
    while len(os.listdir("/proc/self/task")) > 1:
        time.sleep(0.0002)
    early_main(channel, failed)


def _socketpair() -> tuple[int, int]:
    import _socket

    a, b = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
    return a.detach(), b.detach()


def should_spawn(spawn: bool | None) -> bool:
    """Return whether to start the joiner as a small new interpreter instead of a fork.

    ``fork()`` in a multithreaded process (the TUI) is unsafe: another thread may hold a lock
    the child then needs. Otherwise fork wins: measured in bench/bench_exec.py, even from a
    300 MiB heap a fork (page tables copied) beats starting ``python -I -S``. ``None`` decides
    by the number of threads.
    """
    if spawn is not None:
        return spawn
    return threading_active()


def threading_active() -> bool:
    """Return whether this process runs more than one thread."""
    try:
        return len(os.listdir(procfs.path("self", "task"))) > 1
    except OSError:
        return True
