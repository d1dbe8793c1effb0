"""ns and toolbox modes, debugtool's side: open what the joiner needs, start it, relay, wait.

Everything the joiner will do is one ``JoinSpec`` (see ``debugtool.exec.joiner``). The command's
stdio are pipes that debugtool made and relays, or with ``-t`` a pty of the container's own
devpts: no descriptor of the operator's terminal ever reaches the container.
"""

from __future__ import annotations

import _signal as signal  # signal's functions, without its enums (enum: ~4 ms to import)
import errno
import fcntl
import os
import sys

from debugtool import jsonc, procfs
from debugtool.errors import (
    EXIT_CANNOT_INVOKE,
    EXIT_NOT_FOUND,
    EXIT_TOOL,
    CommandNotFound,
    CommandNotInvokable,
    ContainerGone,
    DebugtoolError,
)
from debugtool.exec import bare_python
from debugtool.exec.early import EarlyJoiner, should_spawn
from debugtool.exec.spec import Capabilities, JoinSpec
from debugtool.runtimes.base import ExecRequest, Stdio

TYPE_CHECKING = False
if TYPE_CHECKING:
    from debugtool.exec.plan import Plan
    from debugtool.target import Target

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
TIOCSPTLCK = 0x40045431
TIOCGPTPEER = 0x5441


def _ids(status: dict[str, str], pid: int | None = None) -> tuple[int, int]:
    """Return the target's uid and gid as its own user namespace sees them.

    ``status`` names them as the host sees them; with ``pid`` (the joiner enters the target's
    user namespace) they are mapped through its ``uid_map`` and ``gid_map``: a rootless
    container's root is the host's user 1001, and the command must run as 0 in there.
    """
    uid = int(status.get("Uid", "0").split()[0])
    gid = int(status.get("Gid", "0").split()[0])
    if pid is None:
        return uid, gid
    inside = []
    for host_id, name in ((uid, "uid_map"), (gid, "gid_map")):
        mapped = procfs.map_id(host_id, procfs.parse_id_map(procfs.read_text(pid, name)))
        if mapped is None:
            raise DebugtoolError(
                f"the target's {name[:3]} {host_id} has no id in its own user namespace."
            )
        inside.append(mapped)
    return inside[0], inside[1]


def container_environ(pid: int) -> dict[str, str]:
    """Return the environment of process ``pid`` (the container's, never the host's)."""
    raw = procfs.read_bytes(pid, "environ")
    env: dict[str, str] = {}
    for item in raw.split(b"\0"):
        key, sep, value = item.partition(b"=")
        if sep and key:
            env[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
    return env


def run_ns(
    target: Target,
    request: ExecRequest,
    plan: Plan,
    stdio: Stdio,
    spawn: bool | None = None,
    early: EarlyJoiner | None = None,
) -> int:
    """Start the joiner (see ``debugtool.exec.joiner``), relay its stdio, return the exit code.

    With ``early``, the joiner already runs (``EarlyJoiner``) and is handed its spec."""
    from debugtool import terminal
    from debugtool.collect.cgroups import cgroup_procs_files

    pid = target.pid
    opened: list[int] = []

    def keep(fd: int) -> int:
        opened.append(_above_stdio(fd))
        return opened[-1]

    master = None
    try:
        nsfds = {ns: keep(_open_ns(pid, ns)) for ns in plan.join if ns in plan.context.namespaces}
        # Verify we opened the namespaces of the pinned process, not of a reused PID.
        for ns, fd in nsfds.items():
            if os.fstat(fd).st_ino != target.namespaces[ns]:
                raise ContainerGone(f"container {target.name} changed while it was being entered.")
        # The host's /proc, for the joiner to verify namespaces and read through after setns.
        proc_fd = keep(os.open(procfs.path(), os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC))
        try:
            cwd_fd: int | None = keep(
                os.open(procfs.path(pid, "cwd"), os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            )
        except OSError:
            cwd_fd = None
        tools_fd = None
        env = container_environ(pid)
        env.setdefault("PATH", DEFAULT_PATH)
        if plan.tools:
            from debugtool import toolbox

            tools_fd = keep(toolbox.open_tools(plan.tools))
            env["PATH"] = ":".join([env["PATH"], *toolbox.PATH_ENTRIES])
        if request.tty:
            env["TERM"] = os.environ.get("TERM", "xterm")
        env.update(request.env)
        target.check()
        errr, errw = (keep(fd) for fd in os.pipe2(os.O_CLOEXEC))
        # The command's side of its stdio (closed here once the joiner has it) and ours.
        theirs: list[int] = []
        if request.tty:
            master, slave = _open_pty(pid if "mnt" in nsfds else None)
            master, slave = _above_stdio(master), keep(slave)
            theirs = [slave, slave, slave]
            size = terminal.get_winsize(stdio.stdin) or terminal.get_winsize(stdio.stdout)
            if size:
                terminal.set_winsize(slave, size)
            ours: dict[str, int] = {}
        else:
            pipes = [[keep(fd) for fd in os.pipe2(os.O_CLOEXEC)] for _ in range(3)]
            theirs = [pipes[0][0], pipes[1][1], pipes[2][1]]
            ours = {"stdin": pipes[0][1], "stdout": pipes[1][0], "stderr": pipes[2][0]}
        spec = JoinSpec(
            parent=os.getpid(),
            namespaces=tuple((ns, fd, target.namespaces[ns]) for ns, fd in nsfds.items()),
            proc_fd=proc_fd,
            cwd_fd=cwd_fd,
            tools_fd=tools_fd,
            cgroup_procs=tuple(
                early.cgroups if early is not None else cgroup_procs_files(target.cgroup)
            ),
            workdir=request.workdir,
            user=request.user,
            default_ids=_ids(plan.status, pid if "user" in nsfds else None),
            user_files=None if "mnt" in nsfds else _user_files(target),
            env=env,
            argv=tuple(request.argv),
            capabilities=None if request.privileged else Capabilities.from_status(plan.status),
            errw=errw,
            tty=request.tty,
        )
        sys.stdout.flush()
        sys.stderr.flush()
        if early is not None:
            joiner = early.hand_over(spec, theirs)
            early = None
        elif should_spawn(spawn):
            joiner = _spawn_joiner(spec, theirs)
        else:
            joiner = _fork_joiner(spec, theirs)
        for fd in {*theirs, errw}:
            os.close(fd)
            if fd in opened:
                opened.remove(fd)
        if "stdin" in ours:
            opened.remove(ours["stdin"])  # the relay closes it: that is the command's EOF
        code = _wait_joiner(joiner, request, stdio, master, ours)
        message = _read_all(errr)
    finally:
        if early is not None:  # failed before the hand-over: the joiner must not wait on
            early.cancel()
        for fd in opened:
            try:
                os.close(fd)
            except OSError:
                pass
        if master is not None:
            os.close(master)
    if message:
        _raise_child_failure(message, request.argv)
    return code


def _open_ns(pid: int, nstype: str) -> int:
    from debugtool import nsjoin

    return nsjoin.open_ns(pid, nstype)


def _above_stdio(fd: int) -> int:
    """Return ``fd``, or a CLOEXEC copy of it at 3 or above when it is 0, 1 or 2.

    (With debugtool's own stdin or stdout closed, a new pipe can land on 0 or 1, and the dup2s
    that give the joiner its stdio would then overwrite each other.)
    """
    if fd > 2:
        return fd
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
    os.close(fd)
    return high


def _fork_joiner(spec: JoinSpec, stdio: list[int]) -> int:
    """Fork the joiner from this process, ``stdio`` as its 0, 1, 2; return its PID."""
    from debugtool.exec.joiner import join_and_run

    joiner = os.fork()
    if joiner == 0:
        code = EXIT_TOOL
        try:
            for src, dst in zip(stdio, (0, 1, 2), strict=True):
                os.dup2(src, dst)
            code = join_and_run(spec)  # it closes every other descriptor first
        finally:
            os._exit(code)
    return joiner


def _spawn_joiner(spec: JoinSpec, stdio: list[int]) -> int:
    """Start the joiner as ``python -I -S`` running ``debugtool.exec.joiner`` (posix_spawn).

    The spec travels as JSON over a pipe; the descriptors it names are inherited at the same
    numbers, ``stdio`` as 0, 1, 2. Its environment is PATH alone. Returns the joiner's PID.
    """
    passed = spec.descriptors()
    spec_r, spec_w = os.pipe2(os.O_CLOEXEC)
    argv = bare_python(f"from debugtool.exec.joiner import helper_main; helper_main({spec_r})")
    actions = [(os.POSIX_SPAWN_DUP2, src, dst) for src, dst in zip(stdio, (0, 1, 2), strict=True)]
    try:
        for fd in (*passed, spec_r):
            os.set_inheritable(fd, True)
        joiner = os.posix_spawn(
            argv[0],
            argv,
            {"PATH": os.environ.get("PATH", DEFAULT_PATH)},
            file_actions=actions,
        )
    finally:
        for fd in passed:
            try:
                os.set_inheritable(fd, False)
            except OSError:
                pass
        os.close(spec_r)
    try:
        from debugtool.terminal import write_all

        write_all(spec_w, spec.to_json())
    finally:
        os.close(spec_w)
    return joiner


def _user_files(target: Target) -> tuple[str, str]:
    """Return the container's /etc/passwd and /etc/group text, read inside its root."""
    from debugtool import rootfs

    texts = []
    for path in ("/etc/passwd", "/etc/group"):
        try:
            texts.append(rootfs.read_file(target.root, path).decode("utf-8", "replace"))
        except DebugtoolError:
            texts.append("")
    return texts[0], texts[1]


def _open_pty(pid: int | None) -> tuple[int, int]:
    """Return a new pty ``(master, slave)``, from the container's devpts when ``pid`` is given.

    A pty of the container's own devpts instance has a name inside it (``tty`` prints
    ``/dev/pts/N``), as the runtimes' exec gives; a host pty would be an unnamed terminal there.
    Falls back to a host pty when the container has no usable /dev/pts/ptmx.
    """
    import fcntl
    import struct
    import termios

    if pid is not None:
        master = _open_container_ptmx(pid)
        if master is not None:
            try:
                fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 0))
                slave = fcntl.ioctl(master, TIOCGPTPEER, os.O_RDWR | os.O_NOCTTY)
                termios.tcgetattr(slave)  # a terminal indeed
                return master, slave
            except (OSError, termios.error):
                os.close(master)
    master, slave = os.openpty()
    os.set_inheritable(master, False)
    return master, slave


def _open_container_ptmx(pid: int) -> int | None:
    """Open the container's /dev/pts/ptmx (resolved inside its root, never a host file)."""
    import stat

    from debugtool import rootfs

    try:
        path_fd = rootfs.open_in_root(procfs.path(pid, "root"), "/dev/pts/ptmx", os.O_PATH)
    except DebugtoolError:
        return None
    try:
        st = os.fstat(path_fd)
        # Only the pty multiplexer (character device 5:2): anything else is not opened at all.
        if not stat.S_ISCHR(st.st_mode) or (os.major(st.st_rdev), os.minor(st.st_rdev)) != (5, 2):
            return None
        return os.open(procfs.fd_path(path_fd), os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError:
        return None
    finally:
        os.close(path_fd)


def _wait_joiner(
    joiner: int, request: ExecRequest, stdio: Stdio, master: int | None, pipes: dict[str, int]
) -> int:
    """Relay the command's pty or pipes until it ends; forward SIGTERM/SIGHUP/SIGINT to it."""
    from debugtool import terminal

    def forward(signum: int, frame: object) -> None:
        try:
            os.kill(joiner, signum)
        except OSError:
            pass

    saved = {}
    try:
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            saved[sig] = signal.signal(sig, forward)
    except ValueError:  # not the main thread: no forwarding
        pass
    relay_stdin = stdio.stdin if request.interactive else None
    try:
        pidfd = os.pidfd_open(joiner)
        try:
            if master is not None:
                size = terminal.get_winsize(stdio.stdin)
                recorder = stdio.recorder

                def resized() -> None:
                    size = terminal.get_winsize(stdio.stdin) or (24, 80)
                    terminal.set_winsize(master, size)
                    if recorder is not None:
                        recorder.resize(size)

                with terminal.raw_mode(stdio.stdin), terminal.on_resize(resized):
                    if size:
                        terminal.set_winsize(master, size)
                    terminal.relay_pty(master, relay_stdin, stdio.stdout, pidfd, recorder)
            else:
                outputs = {
                    pipes["stdout"]: terminal.writer(stdio.stdout),
                    pipes["stderr"]: terminal.writer(stdio.stderr),
                }
                relay = terminal.Relay(outputs, relay_stdin, pipes["stdin"], done_fd=pidfd)
                try:
                    relay.run()
                finally:
                    relay.close_stdin()
        finally:
            os.close(pidfd)
        while True:
            try:
                _, status = os.waitpid(joiner, 0)
                break
            except InterruptedError:
                continue
    except BaseException:
        # debugtool is leaving early (an exception, SystemExit from raw mode): stop the command.
        try:
            os.kill(joiner, signal.SIGUSR1)
            os.waitpid(joiner, 0)
        except OSError:
            pass
        raise
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
    return (
        os.waitstatus_to_exitcode(status)
        if not os.WIFSIGNALED(status)
        else (128 + os.WTERMSIG(status))
    )


def _read_all(fd: int) -> bytes:
    chunks: list[bytes] = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except InterruptedError:
            continue
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _raise_child_failure(message: bytes, argv: list[str]) -> None:
    """Turn the joiner's or the command's report into the right error (125, 126 or 127)."""
    try:
        report = jsonc.loads(message.decode(errors="replace"))
    except ValueError:
        raise DebugtoolError(f"the exec failed: {message[:200]!r}.") from None
    if report.get("stage") == "exec":
        err = int(report.get("errno", 0))
        if err in (errno.ENOENT, errno.ENOTDIR):
            raise CommandNotFound(
                f"command '{argv[0]}' was not found in the container.",
                "Check its path, or use --mode toolbox to run the host's tools.",
            )
        raise CommandNotInvokable(
            f"command '{argv[0]}' cannot be run in the container ({os.strerror(err)}).",
            "Check that it is an executable file for this machine.",
        )
    code = int(report.get("code", EXIT_TOOL))
    text = str(report.get("message", "the exec failed.")).rstrip(".") + "."
    if code == EXIT_CANNOT_INVOKE:
        raise CommandNotInvokable(text)
    if code == EXIT_NOT_FOUND:
        raise CommandNotFound(text)
    raise DebugtoolError(text)
