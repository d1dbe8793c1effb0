"""The one exec path: ``exec_in(target, argv, mode=...)`` runs a command in a container.

Every part of debugtool that runs something in a container (``exec``, ``shell``, the TUI) calls
``exec_in``. Three modes (DESIGN.md, "Exec modes"):

- ``runtime`` (default): the runtime's own exec (Docker over its Engine API; runc, crun, podman
  and containerd through the argv their backend gives), so the container's whole security
  context applies.
- ``ns``: a forked, single-threaded joiner enters the target's namespaces and cgroup, and the
  command's process drops to the container's capabilities, sets NoNewPrivs (unless
  ``privileged``), switches user, closes every inherited fd and execs. seccomp and LSM profiles
  are not applied, and the report line says so.
- ``toolbox``: ``ns`` in a private copy of the mount namespace whose root holds the container's
  files plus the host's tools at ``/.debugtool`` (see ``debugtool.toolbox``).

Exit codes follow ``docker exec``: the command's own; 126 it cannot be invoked; 127 not found;
125 debugtool failed. A container that stops while the command runs kills it (SIGKILL, as the
PID namespace goes away): debugtool then says so in one sentence and exits 125 rather than 137,
because the command did not finish on its own and a script should not mistake it for the
command's own result. Every exec appends one audit line, also when it fails, and
nothing runs when the audit log cannot be written.

Nothing a debug session starts outlives debugtool: in ns and toolbox modes the joiner's
parent-death signal kills the command's process tree; in runtime mode a small watchdog process
kills every process of the container that carries this session's ``DEBUGTOOL_SESSION`` marker
in its environment once debugtool is gone without saying it finished.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from debugtool import procfs
from debugtool.errors import (
    EXIT_CANNOT_INVOKE,
    EXIT_NOT_FOUND,
    EXIT_TOOL,
    CommandNotFound,
    CommandNotInvokable,
    ContainerGone,
    DebugtoolError,
    ExecUnsupported,
    PermissionDenied,
    UsageError,
)

if TYPE_CHECKING:
    from debugtool.runtimes import Discovery
    from debugtool.target import Target

MODES = ("runtime", "ns", "toolbox")
#: The order a joiner enters namespaces: user first, mount late, pid before the second fork.
JOIN_ORDER = ("user", "cgroup", "ipc", "uts", "net", "pid", "mnt", "time")
SESSION_VAR = "DEBUGTOOL_SESSION"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
TIOCSPTLCK = 0x40045431
TIOCGPTPEER = 0x5441


@dataclass
class Context:
    """What of the container's context an exec matches, said before it runs."""

    mode: str
    runtime: str = ""
    namespaces: list[str] = field(default_factory=list)  # joined
    shared: list[str] = field(default_factory=list)  # the same as debugtool's: nothing to join
    matched: list[str] = field(default_factory=list)
    not_matched: list[str] = field(default_factory=list)

    def line(self) -> str:
        """Return the one-line report, for example ``ns mode: namespaces net,pid joined; ...``."""
        parts: list[str] = []
        if self.mode == "runtime":
            parts.append(f"through {self.runtime}'s own exec")
        if self.namespaces:
            part = f"namespaces {','.join(self.namespaces)} joined"
            if self.shared:
                part += f" ({','.join(self.shared)} shared with the host)"
            parts.append(part)
        parts += self.matched
        parts += [f"{item} NOT applied" for item in self.not_matched]
        return f"{self.mode} mode: " + "; ".join(parts)


@dataclass
class ExecResult:
    """How an exec ended: the exit code debugtool reports and how long the command ran."""

    exit_code: int
    duration: float
    context: Context


# --- the one function ------------------------------------------------------------------------


def exec_in(
    target: Target,
    argv: Sequence[str],
    mode: str = "runtime",
    *,
    interactive: bool = False,
    tty: bool = False,
    user: str | None = None,
    workdir: str | None = None,
    env: dict[str, str] | None = None,
    namespaces: Sequence[str] | None = None,
    privileged: bool = False,
    tools: str | None = None,
    discovery: Discovery | None = None,
    report: Callable[[Context], None] | None = None,
    spawn: bool | None = None,
    stdin: int = 0,
    stdout: int = 1,
    stderr: int = 2,
) -> ExecResult:
    """Run ``argv`` in ``target`` and return its result; write one audit line either way.

    ``report`` receives the context line before anything runs. ``spawn`` starts the ns/toolbox
    joiner as a new small interpreter instead of a fork (None: when this process runs several
    threads, as the TUI does). ``tty`` gives the command a new pty only when ``stdin`` is a
    terminal (plain pipes otherwise); stdin is streamed only with ``interactive``. From the main thread it also forwards SIGTERM/SIGHUP, follows SIGWINCH and
    restores raw mode on SIGTERM; from a worker thread (the TUI) those are skipped, and the
    thread must live until it returns (the joiner's parent-death signal follows that thread).

    Raises ``UsageError``, ``ContainerGone``, ``PermissionDenied`` (the audit log cannot be
    written: nothing ran), ``ExecUnsupported`` (125), ``CommandNotInvokable`` (126) or
    ``CommandNotFound`` (127); every other outcome is the command's exit code in the result.
    """
    from debugtool import audit

    argv = list(argv)
    if mode not in MODES:
        raise UsageError(f"unknown exec mode '{mode}'.", f"Use one of {', '.join(MODES)}.")
    if not argv:
        raise UsageError("no command given.", "Put the command after '--'.")
    from debugtool.terminal import is_terminal

    use_tty = tty and is_terminal(stdin)
    plan = _plan(target, mode, namespaces, privileged, tools, discovery)
    os.close(audit.open_log(audit.log_path(), ", so nothing was run"))  # fail before running
    if report is not None:
        report(plan.context)
    started = time.monotonic()
    code = EXIT_TOOL
    error: DebugtoolError | None = None
    interrupted = ""
    try:
        target.check()
        if mode == "runtime":
            code = _run_runtime(target, argv, plan, interactive, use_tty, user, workdir, env,
                                privileged, stdin, stdout, stderr)  # fmt: skip
        else:
            code = _run_ns(target, argv, plan, interactive, use_tty, user, workdir, env,
                           privileged, stdin, stdout, stderr, spawn)  # fmt: skip
        if code == 128 + signal.SIGKILL and _stopping(target):
            raise ContainerGone(
                f"container {target.name} ({target.container.short_id}) stopped while the "
                f"command was running (the command ended with {_describe(code)}).",
                "Check why it stopped with 'debugtool inspect' or the runtime's logs.",
            )
    except DebugtoolError as exc:
        error = exc
        code = exc.exit_code
    except KeyboardInterrupt:
        code, interrupted = 128 + signal.SIGINT, "interrupted by Ctrl-C"
        raise
    except SystemExit as exc:  # SIGTERM/SIGHUP while in raw mode (see terminal.raw_mode)
        code = exc.code if isinstance(exc.code, int) else EXIT_TOOL
        interrupted = f"debugtool was stopped ({_describe(code)})"
        raise
    finally:
        duration = time.monotonic() - started
        entry = {
            "action": "exec",
            "target_id": target.container.id,
            "target_name": target.container.name,
            "runtime": plan.context.runtime or target.container.runtime,
            "mode": mode,
            "namespaces": plan.context.namespaces,
            "argv": argv,
            "exec_user": user,
            "tty": use_tty,
            "interactive": interactive,
            "privileged": privileged,
            "exit_code": code,
            "duration": round(duration, 4),
        }
        if error is not None:
            entry["error"] = error.message
        elif interrupted:
            entry["error"] = interrupted
        try:
            audit.append(entry)
        except PermissionDenied as exc:
            sys.stderr.write(f"debugtool: warning: {exc.for_people()}\n")
    if error is not None:
        raise error
    return ExecResult(code, duration, plan.context)


def _stopping(target: Target, grace: float = 0.5) -> bool:
    """Return whether the container's init has exited or exits within ``grace`` seconds.

    A command killed because its container stopped can end a moment before the container's
    init does (the kernel kills the PID namespace's processes, with SIGKILL, during init's
    exit), so only a command killed by SIGKILL waits for that.
    """
    if target.pidfd is not None:
        import select

        poller = select.poll()
        poller.register(target.pidfd, select.POLLIN)
        try:
            poller.poll(int(grace * 1000))
        except OSError:
            pass
    return not target.alive()


def _describe(code: int) -> str:
    if code > 128 and code - 128 < signal.NSIG:
        try:
            return f"signal {signal.Signals(code - 128).name}"
        except ValueError:
            pass
    return f"exit code {code}"


# --- planning: what will be matched ----------------------------------------------------------


@dataclass
class _Plan:
    context: Context
    join: list[str] = field(default_factory=list)
    status: dict[str, str] = field(default_factory=dict)
    tools: str | None = None
    runtime: Any = None  # the Runtime whose exec_argv is used (runtime mode, non-Docker)


def _plan(
    target: Target,
    mode: str,
    namespaces: Sequence[str] | None,
    privileged: bool,
    tools: str | None,
    discovery: Discovery | None,
) -> _Plan:
    """Decide what the exec will match and what it will not; raise before anything runs."""
    container = target.container
    if mode == "runtime":
        if namespaces:
            raise UsageError("--ns works only with --mode ns or --mode toolbox.")
        if tools:
            raise UsageError("--tools works only with --mode toolbox.")
        runtime_name, runtime = _exec_runtime(target, discovery)
        ctx = Context(mode, runtime=runtime_name)
        ctx.matched.append(
            "the container's user, capabilities, cgroup, seccomp and LSM profile apply"
        )
        if privileged:
            ctx.matched.append("--privileged: all capabilities, no seccomp (as the runtime does)")
        return _Plan(ctx, runtime=runtime)
    try:
        status = procfs.parse_status(procfs.read_text(target.pid, "status"))
    except procfs.ProcessGone:
        target.check()
        raise
    own = procfs.namespace_inodes("self")
    available = [ns for ns in JOIN_ORDER if ns in target.namespaces]
    if namespaces:
        wanted = [n.strip() for n in namespaces if n.strip()]
        unknown = [n for n in wanted if n not in JOIN_ORDER]
        if unknown:
            raise UsageError(
                f"unknown namespace {', '.join(unknown)}.", f"Known: {', '.join(JOIN_ORDER)}."
            )
        if mode == "toolbox" and "mnt" not in wanted:
            raise UsageError("--mode toolbox needs the mnt namespace (add mnt to --ns).")
        available = [ns for ns in available if ns in wanted]
    join = [ns for ns in available if target.namespaces[ns] != own.get(ns)]
    shared = [ns for ns in available if ns not in join]
    ctx = Context(mode, runtime=container.runtime, namespaces=join, shared=shared)
    ctx.matched.append("cgroup joined" if _cgroup_differs(target) else "cgroup: the host's")
    if privileged:
        ctx.matched.append("capabilities: root's kept (--privileged)")
    else:
        ctx.matched.append("capabilities dropped to the container's; NoNewPrivs set")
    seccomp = status.get("Seccomp", "0")
    if seccomp != "0":
        ctx.not_matched.append("seccomp")
    lsm = _lsm_profile(target.pid)
    if lsm:
        ctx.not_matched.append(f"{lsm[0]} profile {lsm[1]}")
    elif seccomp == "0":
        ctx.matched.append("the container has no seccomp filter or LSM profile to apply")
    chosen_tools = None
    if mode == "toolbox":
        from debugtool import toolbox

        chosen_tools = tools or toolbox.default_tools()
        if not os.path.isdir(chosen_tools):
            raise UsageError(
                f"the tools directory {chosen_tools} does not exist or is not a directory.",
                "Pass --tools with an existing directory of host tools, or leave it out for "
                "the host's busybox.",
            )
        ctx.matched.append(
            f"host tools from {chosen_tools} at {toolbox.MOUNT_POINT} (private mount namespace)"
        )
    elif "mnt" not in available:
        ctx.matched.append("the host's files (mnt namespace not joined)")
    return _Plan(ctx, join=available, status=status, tools=chosen_tools)


def _cgroup_differs(target: Target) -> bool:
    try:
        own = procfs.parse_cgroup(procfs.read_text("self", "cgroup"))
    except DebugtoolError:
        return True
    return own != target.cgroup


def _lsm_profile(pid: int) -> tuple[str, str] | None:
    """Return ``(LSM, profile)`` confining ``pid`` (AppArmor or SELinux), or None."""
    for lsm, path in (("AppArmor", "attr/apparmor/current"), ("SELinux", "attr/current")):
        try:
            value = procfs.read_text(pid, path).strip().strip("\0")
        except DebugtoolError:
            continue
        if value and value not in ("unconfined", "kernel"):
            return lsm, value
    return None


def _exec_runtime(target: Target, discovery: Discovery | None) -> tuple[str, Any]:
    """Return the runtime that will run the exec (``docker`` is handled here, over its API)."""
    container = target.container
    names = list(dict.fromkeys([container.runtime, *container.backends]))
    from debugtool.runtimes.docker import FROM_STATE_FILES

    docker = container.metadata.get("docker") or {}
    if "docker" in names and docker.get("source") != FROM_STATE_FILES:
        return "docker", None
    # Docker's record read from its state files means its daemon did not answer: the next
    # backend that knows the container (containerd, runc) runs the exec instead.
    from debugtool.runtimes import load_runtimes

    for name in names:
        runtime = discovery.runtime(name) if discovery is not None else None
        if runtime is None:
            try:
                runtime = next(iter(load_runtimes([name])), None)
            except DebugtoolError:
                runtime = None
        if runtime is not None and runtime.supports_exec:
            return name, runtime
    raise ExecUnsupported(
        f"no runtime that knows {container.name} ({', '.join(names)}) can exec in it.",
        "Use --mode ns to enter its namespaces, or --mode toolbox for host tools.",
    )


# --- runtime mode ----------------------------------------------------------------------------


def _run_runtime(
    target: Target,
    argv: list[str],
    plan: _Plan,
    interactive: bool,
    tty: bool,
    user: str | None,
    workdir: str | None,
    env: dict[str, str] | None,
    privileged: bool,
    stdin: int,
    stdout: int,
    stderr: int,
) -> int:
    session = os.urandom(8).hex()
    # containerd's ctr cannot set variables: its session is told apart by start time instead.
    marked = plan.context.runtime != "containerd"
    full_env = {**(env or {}), SESSION_VAR: session} if marked else dict(env or {})
    if tty and "TERM" not in full_env:
        full_env["TERM"] = os.environ.get("TERM", "xterm")
    watchdog = _Watchdog.start(target, session if marked else None)
    try:
        if plan.runtime is None:  # Docker
            from debugtool.runtimes.docker_exec import DockerExec, DockerExecRequest

            request = DockerExecRequest(
                target.container.id,
                argv,
                interactive=interactive,
                tty=tty,
                user=user,
                workdir=workdir,
                env=full_env,
                privileged=privileged,
            )
            with _ignoring_interrupts(tty):
                code = DockerExec().run(request, stdin, stdout, stderr)
        else:
            code = _run_argv_runtime(
                target, argv, plan, interactive, tty, user, workdir, full_env, privileged,
                stdin, stdout, stderr,
            )  # fmt: skip
    except BaseException:
        # Interrupted (Ctrl-C without a tty, SIGTERM, an error mid-stream): the command must not
        # go on alone in the container, so the watchdog kills what this session started.
        watchdog.finish(ended=False)
        raise
    watchdog.finish(ended=True)
    return code


def _run_argv_runtime(
    target: Target,
    argv: list[str],
    plan: _Plan,
    interactive: bool,
    tty: bool,
    user: str | None,
    workdir: str | None,
    env: dict[str, str],
    privileged: bool,
    stdin: int,
    stdout: int,
    stderr: int,
) -> int:
    """Run the runtime's own exec command line (runc/crun/podman/ctr), attached to our stdio."""
    import subprocess

    from debugtool.runtimes.base import ExecRequest

    request = ExecRequest(
        argv=argv, tty=tty, interactive=interactive, user=user, workdir=workdir, env=env
    )
    if privileged:
        if not hasattr(request, "privileged"):
            raise ExecUnsupported(
                f"--privileged in runtime mode works only on Docker, not {plan.context.runtime}.",
                "Use --mode ns --privileged instead.",
            )
        request.privileged = True  # type: ignore[attr-defined]
    command = list(plan.runtime.exec_argv(target.container, request))
    try:
        # The runtime's client dies with debugtool (the watchdog handles the command itself).
        proc = subprocess.Popen(
            command,
            stdin=stdin if interactive else subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.PIPE,
            preexec_fn=_die_with_parent,
        )
    except FileNotFoundError:
        raise ExecUnsupported(
            f"{command[0]} is not installed, so {plan.context.runtime} cannot exec.",
            "Install it, or use --mode ns.",
        ) from None
    assert proc.stderr is not None
    with _ignoring_interrupts(True):
        held = _relay_stderr(proc.stderr.fileno(), stderr)
        code = proc.wait()
    proc.stderr.close()
    if held and code != 0:
        raise start_failure(held, argv, user, code)
    if held:  # it looked like a failure but the command ran: show it after all
        from debugtool.terminal import write_all

        write_all(stderr, held.encode())
    return code


#: Words of a runtime's own exec failure (runc, crun, podman, ctr), as opposed to the command's.
_START_FAILURE_MARKS = (
    "exec failed:",
    "unable to find user",
    "no users found",
    "unable to find group",
)


def _relay_stderr(pipe: int, stderr: int, first_line_wait: float = 0.3) -> str:
    """Copy the runtime client's stderr to ``stderr``; return its first line if it was held.

    The first line is held back when it is the runtime's own "could not start" message, so the
    caller can say it in one sentence with the right exit code; any other first line (or one
    still unfinished after ``first_line_wait`` seconds, such as a prompt) is passed on.
    """
    import select

    from debugtool.terminal import write_all

    def read() -> bytes:
        while True:
            try:
                return os.read(pipe, 65536)
            except InterruptedError:
                continue

    first = b""
    deadline = time.monotonic() + first_line_wait
    while b"\n" not in first:
        ready, _, _ = select.select([pipe], [], [], max(0.0, deadline - time.monotonic()))
        data = read() if ready else b""
        first += data
        if not data:  # EOF, or no full line in time
            break
    line, newline, rest = first.partition(b"\n")
    held = ""
    text = line.decode(errors="replace")
    if any(mark in text for mark in _START_FAILURE_MARKS):
        held = text.strip()
        write_all(stderr, rest)
    else:
        write_all(stderr, first)
    while data := read():
        write_all(stderr, data)
    return held


def start_failure(text: str, argv: list[str], user: str | None, code: int) -> DebugtoolError:
    """Return the error for a runtime's "could not start the command" message, in one sentence.

    Follows docker exec: 127 for a command not found, 126 for one that cannot run or a user
    that does not exist.
    """
    command = argv[0] if argv else ""
    lowered = text.lower()
    if any(mark in lowered for mark in ("unable to find user", "unable to find group",
                                         "no users found", "no matching entr")):  # fmt: skip
        return CommandNotInvokable(
            f"user '{user or ''}' does not exist in the container's /etc/passwd (or /etc/group).",
            "Pick a user the container knows, for example -u 0.",
        )
    if "executable file not found" in lowered or "no such file or directory" in lowered:
        return CommandNotFound(
            f"command '{command}' was not found in the container.",
            "Check its path, or use --mode toolbox to run the host's tools.",
        )
    if "permission denied" in lowered or "exec format error" in lowered:
        reason = "exec format error" if "exec format" in lowered else "permission denied"
        return CommandNotInvokable(
            f"command '{command}' cannot be run in the container ({reason}).",
            "Check that it is an executable file for this machine.",
        )
    failure = CommandNotInvokable if code == EXIT_CANNOT_INVOKE else DebugtoolError
    detail = text.strip().rstrip(".")
    return failure(f"the runtime could not start command '{command}': {detail}.")


def _die_with_parent() -> None:
    from debugtool._nsexec import PR_SET_PDEATHSIG, _prctl

    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class _ignoring_interrupts:
    """While the command runs, Ctrl-C belongs to it (it gets it from the terminal itself)."""

    def __init__(self, active: bool) -> None:
        self.active = active
        self.saved: Any = None

    def __enter__(self) -> None:
        if self.active:
            try:
                self.saved = signal.signal(signal.SIGINT, signal.SIG_IGN)
            except ValueError:  # not the main thread
                self.active = False

    def __exit__(self, *exc: object) -> None:
        if self.active:
            signal.signal(signal.SIGINT, self.saved)


class _Watchdog:
    """A detached process that kills the session's processes in the container if debugtool dies.

    debugtool keeps the write end of a pipe; the watchdog blocks reading it. ``finish`` writes
    one byte (all is well) and closes it; EOF without that byte means debugtool was killed.
    """

    def __init__(self, fd: int | None) -> None:
        self.fd = fd

    @classmethod
    def start(cls, target: Target, session: str | None) -> _Watchdog:
        pidns = target.namespaces.get("pid")
        if pidns is None:
            return cls(None)
        since = _boot_ticks()
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
        os.waitpid(first, 0)
        return cls(write_end)

    def finish(self, ended: bool) -> None:
        """Release the watchdog; unless the command ``ended``, it kills the session's processes."""
        if self.fd is not None:
            try:
                if ended:
                    os.write(self.fd, b".")
            finally:
                os.close(self.fd)
                self.fd = None


def _boot_ticks() -> int:
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
        for pid in _session_processes(pidns, marker, since):
            found += 1
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if not found:
            return
        time.sleep(0.05)


def _session_processes(pidns: int, marker: bytes | None, since: int) -> list[int]:
    """Return host PIDs of this session's processes in PID namespace ``pidns``.

    With a ``marker``, the processes whose environment holds it. Without one (a runtime that
    cannot set variables), each process of the namespace started at or after ``since`` whose
    parent is outside the namespace (that is how a runtime's exec enters it), and its
    descendants.
    """
    if marker is None and pidns == os.stat("/proc/self/ns/pid").st_ino:
        # A target in the host's PID namespace: "started since, parent outside" would match
        # host daemons (a shim whose parent is an unreadable PID 1). Kill nothing rather than
        # guess: first, do no harm.
        return []
    members: dict[int, tuple[int, int]] = {}  # pid -> (ppid, start time)
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            if os.stat(f"/proc/{name}/ns/pid").st_ino != pidns:
                continue
            if marker is not None:
                with open(f"/proc/{name}/environ", "rb") as f:
                    environ = b"\0" + f.read()
                if marker in environ or environ.endswith(marker[:-1]):
                    found.append(int(name))
                continue
            stat = procfs.parse_stat(procfs.read_text(name, "stat"))
        except (OSError, DebugtoolError):
            continue
        members[int(name)] = (int(stat["ppid"]), int(stat["starttime"]))
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


# --- ns and toolbox modes --------------------------------------------------------------------


def _caps(status: dict[str, str]) -> dict[str, int]:
    return {
        key: int(status.get(field_name, "0"), 16)
        for key, field_name in (
            ("inh", "CapInh"),
            ("prm", "CapPrm"),
            ("eff", "CapEff"),
            ("bnd", "CapBnd"),
            ("amb", "CapAmb"),
        )
    }


def _ids(status: dict[str, str]) -> tuple[int, int]:
    uid = int(status.get("Uid", "0").split()[0])
    gid = int(status.get("Gid", "0").split()[0])
    return uid, gid


def container_environ(pid: int) -> dict[str, str]:
    """Return the environment of process ``pid`` (the container's, never the host's)."""
    raw = procfs.read_bytes(pid, "environ")
    env: dict[str, str] = {}
    for item in raw.split(b"\0"):
        key, sep, value = item.partition(b"=")
        if sep and key:
            env[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
    return env


def cgroup_procs_files(
    cgroup: dict[str, str],
    mountinfo: str | None = None,
    exists: Callable[[str], bool] = os.path.exists,
) -> list[str]:
    """Return the ``cgroup.procs`` files (host paths) that put a process in ``cgroup``'s groups.

    ``cgroup`` is ``procfs.parse_cgroup`` of the target; each v1 hierarchy is found by its
    controllers among this host's cgroup mounts, v2 (key ``""``) by its cgroup2 mount.
    """
    if mountinfo is None:
        mountinfo = procfs.read_text("self", "mountinfo")
    v1: list[tuple[set[str], str]] = []
    v2 = ""
    for line in mountinfo.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fields = left.split()
        rfields = right.split()
        if len(fields) < 5 or len(rfields) < 3 or fields[3] != "/":
            continue
        fstype, options = rfields[0], rfields[2].split(",")
        mountpoint = fields[4].replace("\\040", " ")
        if fstype == "cgroup2" and not v2:
            v2 = mountpoint
        elif fstype == "cgroup":
            v1.append((set(options), mountpoint))
    files = []
    for controllers, path in cgroup.items():
        if controllers == "":
            base = v2
        else:
            wanted = set(controllers.split(","))
            base = next((mp for options, mp in v1 if wanted <= options), "")
        if not base:
            continue
        candidate = os.path.join(base, path.lstrip("/"), "cgroup.procs")
        if exists(candidate):
            files.append(candidate)
    return files


def _run_ns(
    target: Target,
    argv: list[str],
    plan: _Plan,
    interactive: bool,
    tty: bool,
    user: str | None,
    workdir: str | None,
    env: dict[str, str] | None,
    privileged: bool,
    stdin: int,
    stdout: int,
    stderr: int,
    spawn: bool | None = None,
) -> int:
    """Fork the joiner (see ``debugtool._nsexec``), relay a pty if asked, return the exit code."""
    from debugtool import nsjoin, terminal

    # Imported before the fork: the joiner should not read modules from disk after it.
    from debugtool._nsexec import join_and_run

    pid = target.pid
    opened: list[int] = []

    def keep(fd: int) -> int:
        opened.append(fd)
        return fd

    master = slave = None
    try:
        nsfds = {
            ns: keep(nsjoin.open_ns(pid, ns)) for ns in plan.join if ns in plan.context.namespaces
        }
        # Verify we opened the namespaces of the pinned process, not of a reused PID.
        for ns, fd in nsfds.items():
            if os.fstat(fd).st_ino != target.namespaces[ns]:
                raise ContainerGone(f"container {target.name} changed while it was being entered.")
        proc_fd = keep(os.open("/proc", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC))
        try:
            cwd_fd: int | None = keep(
                os.open(f"/proc/{pid}/cwd", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            )
        except OSError:
            cwd_fd = None
        tools_fd = None
        if plan.tools:
            from debugtool import toolbox

            tools_fd = keep(toolbox.open_tools(plan.tools))
        full_env = container_environ(pid)
        full_env.setdefault("PATH", DEFAULT_PATH)
        if plan.tools:
            from debugtool import toolbox

            full_env["PATH"] = ":".join([full_env["PATH"], *toolbox.PATH_ENTRIES])
        if tty:
            full_env["TERM"] = os.environ.get("TERM", "xterm")
        full_env.update(env or {})
        target.check()
        errr, errw = os.pipe2(os.O_CLOEXEC)
        opened.append(errr)
        keep(errw)
        foreground = None
        if tty:
            master, slave = _open_pty(pid if "mnt" in nsfds else None)
            size = terminal.get_winsize(stdin) or terminal.get_winsize(stdout)
            if size:
                terminal.set_winsize(slave, size)
        elif interactive and _is_foreground(stdin):
            foreground = stdin
        spec: dict[str, Any] = {
            "parent": os.getpid(),
            "pid": pid,
            "nsfds": nsfds,
            "inodes": {ns: target.namespaces[ns] for ns in nsfds},
            "proc_fd": proc_fd,
            "cwd_fd": cwd_fd,
            "tools_fd": tools_fd,
            "cgroup_procs": cgroup_procs_files(target.cgroup),
            "workdir": workdir,
            "user": user,
            "default_ids": _ids(plan.status),
            "user_files": None if "mnt" in nsfds else _user_files(target),
            "env": full_env,
            "argv": argv,
            "caps": None if privileged else _caps(plan.status),
            "no_new_privs": not privileged,
            "errw": errw,
            "slave": slave,
            "foreground_fd": foreground,
            "stdin_null": not interactive,
        }
        sys.stdout.flush()
        sys.stderr.flush()
        if _should_spawn(spawn):
            joiner = _spawn_joiner(spec, (stdin, stdout, stderr))
        else:
            joiner = _fork_joiner(spec, (stdin, stdout, stderr), master, errr, join_and_run)
        os.close(errw)
        opened.remove(errw)
        if slave is not None:
            os.close(slave)
            slave = None
        code = _wait_joiner(joiner, master, stdin if interactive else None, stdin, stdout, tty)
        if foreground is not None:
            _take_foreground(foreground)
        message = _read_all(errr)
    finally:
        for fd in opened:
            try:
                os.close(fd)
            except OSError:
                pass
        for pty_fd in (master, slave):
            if pty_fd is not None:
                os.close(pty_fd)
    if message:
        _raise_child_failure(message, argv)
    return code


def _should_spawn(spawn: bool | None) -> bool:
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
        return len(os.listdir("/proc/self/task")) > 1
    except OSError:
        return True


def _fork_joiner(
    spec: dict[str, Any],
    stdio: tuple[int, int, int],
    master: int | None,
    errr: int,
    join_and_run: Callable[[dict[str, Any]], int],
) -> int:
    """Fork the joiner from this process; return its PID."""
    joiner = os.fork()
    if joiner == 0:
        code = EXIT_TOOL
        try:
            for src, dst in zip(stdio, (0, 1, 2), strict=True):
                if src != dst:
                    os.dup2(src, dst)
            if master is not None:
                os.close(master)
            os.close(errr)
            code = join_and_run(spec)
        finally:
            os._exit(code)
    return joiner


def _spawn_joiner(spec: dict[str, Any], stdio: tuple[int, int, int]) -> int:
    """Start the joiner as ``python -I -S`` running ``debugtool._nsexec`` (posix_spawn).

    The spec travels as JSON over a pipe; the descriptors it names are inherited at the same
    numbers. Returns the joiner's PID.
    """
    passed = [fd for fd in (*spec["nsfds"].values(), spec["proc_fd"], spec["cwd_fd"],
                            spec["tools_fd"], spec["errw"], spec["slave"]) if fd is not None]  # fmt: skip
    spec_r, spec_w = os.pipe2(os.O_CLOEXEC)
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = (
        f"import sys; sys.path.insert(0, {package_parent!r}); "
        f"from debugtool._nsexec import helper_main; helper_main({spec_r})"
    )
    actions = [(os.POSIX_SPAWN_DUP2, src, dst) for src, dst in zip(stdio, (0, 1, 2), strict=True)
               if src != dst]  # fmt: skip
    try:
        for fd in (*passed, spec_r):
            os.set_inheritable(fd, True)
        joiner = os.posix_spawn(
            sys.executable,
            [sys.executable, "-I", "-S", "-c", code],
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
    spec = {**spec, "parent": os.getpid()}
    try:
        from debugtool.terminal import write_all

        write_all(spec_w, json.dumps(spec).encode())
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
        path_fd = rootfs.open_in_root(f"/proc/{pid}/root", "/dev/pts/ptmx", os.O_PATH)
    except DebugtoolError:
        return None
    try:
        st = os.fstat(path_fd)
        # Only the pty multiplexer (character device 5:2): anything else is not opened at all.
        if not stat.S_ISCHR(st.st_mode) or (os.major(st.st_rdev), os.minor(st.st_rdev)) != (5, 2):
            return None
        return os.open(f"/proc/self/fd/{path_fd}", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError:
        return None
    finally:
        os.close(path_fd)


def _is_foreground(fd: int) -> bool:
    try:
        return os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:
        return False


def _take_foreground(fd: int) -> None:
    """Make debugtool's process group the terminal's foreground again (SIGTTOU ignored)."""
    try:
        previous = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    except ValueError:  # not the main thread: SIGTTOU may stop us, so leave the terminal be
        return
    try:
        os.tcsetpgrp(fd, os.getpgrp())
    except OSError:
        pass
    finally:
        signal.signal(signal.SIGTTOU, previous)


def _wait_joiner(
    joiner: int, master: int | None, relay_stdin: int | None, stdin: int, stdout: int, tty: bool
) -> int:
    """Wait for the joiner (relaying the pty meanwhile); forward SIGTERM/SIGHUP to it."""
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
    try:
        if master is not None:
            pidfd = os.pidfd_open(joiner)
            try:
                size = terminal.get_winsize(stdin)
                with (
                    terminal.raw_mode(stdin),
                    terminal.on_resize(
                        lambda: terminal.set_winsize(
                            master, terminal.get_winsize(stdin) or (24, 80)
                        )
                    ),
                ):
                    if size:
                        terminal.set_winsize(master, size)
                    terminal.relay_pty(master, relay_stdin, stdout, pidfd)
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
        report = json.loads(message.decode(errors="replace"))
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
