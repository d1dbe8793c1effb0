"""Runtime mode: the runtime's own exec (``Runtime.exec``), with a watchdog for debugtool's death.

The container's whole security context applies (user, capabilities, cgroup, seccomp, LSM), since
the runtime starts the command as it starts any exec. The command is marked with a session
variable where the runtime can set one, so the watchdog can find it if debugtool dies mid-way.

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
from debugtool.exec import bare_python
from debugtool.record import replace
from debugtool.runtimes.base import ExecRequest, Stdio

TYPE_CHECKING = False
if TYPE_CHECKING:
    from debugtool.exec.plan import Plan
    from debugtool.target import Target

SESSION_VAR = "DEBUGTOOL_SESSION"


class Watchdog:
    """A detached process that kills the session's processes in the container if debugtool dies.

    debugtool keeps the write end of a pipe; the watchdog blocks reading it. ``finish`` writes
    one line (all is well) and closes it; end of file without it means debugtool was killed.

    The watchdog is a shell, not a fork of debugtool: ``posix_spawn`` starts ``/bin/sh`` without
    copying debugtool's memory, where a fork would make each page debugtool then writes (every
    object it touches while the runtime's exec runs) a copy-on-write fault, about 2 ms of CPU
    an exec. The shell puts the wait in a background subshell and leaves at once (the double
    fork that makes the watchdog nobody's zombie); only when debugtool has died does the
    subshell start Python to find and kill the session's processes (``kill_session``).
    """

    #: $0 is Python, "$@" its arguments. A background list's stdin is /dev/null unless
    #: redirected, so the pipe comes in on descriptor 3.
    SCRIPT = (
        "trap '' INT HUP TERM QUIT; "
        '{ IFS= read -r word; [ "$word" = . ] || exec "$0" "$@"; } <&3 3<&- & exit 0'
    )

    def __init__(self, fd: int | None, first: int | None = None) -> None:
        self.fd = fd
        self.first = first  # the shell that starts it, reaped in finish (it exits at once)

    @classmethod
    def start(cls, target: Target, session: str | None) -> Watchdog:
        pidns = target.namespaces.get("pid")
        if pidns is None:
            return cls(None)
        since = boot_ticks()
        read_end, write_end = os.pipe2(os.O_CLOEXEC)
        python = bare_python(
            "from debugtool.exec.runtime import kill_session; kill_session(*sys.argv[1:])"
        )
        argv = ["sh", "-c", cls.SCRIPT, *python, str(pidns), session or "", str(since)]
        null = (os.O_RDWR, 0)
        try:
            first = os.posix_spawn(
                "/bin/sh",
                argv,
                {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
                file_actions=[
                    (os.POSIX_SPAWN_DUP2, read_end, 3),
                    *((os.POSIX_SPAWN_OPEN, std, os.devnull, *null) for std in (0, 1, 2)),
                ],
                setsid=True,
            )
        finally:
            os.close(read_end)
        return cls(write_end, first)

    def finish(self, ended: bool) -> None:
        """Release the watchdog; unless the command ``ended``, it kills the session's processes."""
        if self.fd is not None:
            try:
                if ended:
                    os.write(self.fd, b".\n")
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


def kill_session(pidns: str, session: str, since: str) -> None:
    """The watchdog once debugtool has died: kill the session's processes (``python -I -S``).

    ``session`` is the marker's value, or empty for a runtime that cannot set one.
    """
    marker = b"\0" + SESSION_VAR.encode() + b"=" + session.encode() + b"\0" if session else None
    for _ in range(5):  # repeat: a process may have forked while the first pass ran
        found = 0
        for pid in session_processes(int(pidns), marker, int(since)):
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


def run_runtime(target: Target, request: ExecRequest, plan: Plan, stdio: Stdio) -> int:
    """Run ``request`` through ``plan.runtime``'s exec; return the command's exit code."""
    runtime = plan.runtime
    assert runtime is not None
    session = os.urandom(8).hex()
    env = dict(request.env)
    marked = runtime.exec_sets_env
    if marked:
        env[SESSION_VAR] = session
        if request.tty and "TERM" not in env:
            env["TERM"] = os.environ.get("TERM", "xterm")
    request = replace(request, env=env)
    watchdog = Watchdog.start(target, session if marked else None)
    try:
        code = runtime.exec(target.container, request, stdio)
    except BaseException:
        # Interrupted (Ctrl-C without a tty, SIGTERM, an error mid-stream): the command must not
        # go on alone in the container, so the watchdog kills what this session started.
        watchdog.finish(ended=False)
        raise
    watchdog.finish(ended=True)
    return code
