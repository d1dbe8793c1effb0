"""Running a runtime's own exec client (runc, crun, podman, ctr) for ``Runtime.exec``.

The client's stdio are pipes that debugtool relays, never the operator's descriptors: a client
such as ``runc exec`` without ``-t`` hands its own stdio to the process it starts in the
container, where container root could reopen them through ``/proc/PID/fd``. With ``-t`` the
client makes a pty of the container's and relays it itself; its own stdout is then the
operator's, which stays on the host side.

A client that could not start the command says so on the first line of its stderr: that line is
held back and reworded as one sentence with ``docker exec``'s exit codes (``start_failure``).
"""

from __future__ import annotations

import _signal as signal  # signal's functions, without its enums (enum: ~4 ms to import)
import os
import time

from debugtool.errors import (
    EXIT_CANNOT_INVOKE,
    CommandNotFound,
    CommandNotInvokable,
    DebugtoolError,
    ExecUnsupported,
)
from debugtool.runtimes.base import ExecRequest, Stdio, ignoring_interrupts

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from debugtool.runtimes.rootless import Store

#: Words of a runtime's own exec failure (runc, crun, podman, ctr), as opposed to the command's.
START_FAILURE_MARKS = (
    "exec failed:",
    "unable to find user",
    "no users found",
    "unable to find group",
)


class FirstLineHold:
    """A sink for the client's stderr that holds its first line while it may be a start failure.

    The first line is held until it is complete, or ``wait`` seconds passed (a prompt without a
    newline), then passed on unless it carries one of ``START_FAILURE_MARKS``: that one stays in
    ``held`` for the caller to reword.
    """

    def __init__(self, fd: int, wait: float = 0.3) -> None:
        self.fd = fd
        self.deadline = time.monotonic() + wait
        self.buffer: bytes | None = b""  # None once the first line is decided
        self.held = ""

    def __call__(self, data: bytes) -> None:
        from debugtool.terminal import write_all

        if self.buffer is None:
            write_all(self.fd, data)
            return
        self.buffer += data
        if b"\n" in self.buffer or time.monotonic() >= self.deadline:
            self.decide()

    def decide(self) -> None:
        """Settle the first line now (also at EOF or when the wait is over)."""
        from debugtool.terminal import write_all

        if self.buffer is None:
            return
        first, self.buffer = self.buffer, None
        line, _, rest = first.partition(b"\n")
        text = line.decode(errors="replace")
        if any(mark in text for mark in START_FAILURE_MARKS):
            self.held = text.strip()
            write_all(self.fd, rest)
        else:
            write_all(self.fd, first)

    def tick(self) -> None:
        if self.buffer is not None and time.monotonic() >= self.deadline:
            self.decide()


def run_client(
    runtime: str,
    command: list[str],
    request: ExecRequest,
    stdio: Stdio,
    as_user: Store | None = None,
) -> int:
    """Run ``command`` (a runtime's exec command line) relayed to ``stdio``; return its exit code.

    ``as_user``: run it as that user (a rootless podman's owner), with the user's ids, groups
    and environment alone. The user can ptrace a process of theirs, so with ``-t`` such a
    client gets a pty of debugtool's, never the operator's terminal.

    With ``request.tty`` the client runs on a pty of debugtool's (``_client_pty``), relayed
    to the operator's terminal in raw mode and recorded, as the other exec paths are.
    Raises ``ExecUnsupported`` when the client is not installed, and ``start_failure``'s error
    when the client could not start the command.
    """
    _libc()  # loaded before the fork (see _die_with_parent)
    import subprocess

    from debugtool.terminal import Relay, writer

    in_r, in_w = os.pipe2(os.O_CLOEXEC)
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    out_r = out_w = None
    # As another user (a rootless podman's owner, who may ptrace the client) a pty of
    # debugtool's even without the operator's terminal: never the operator's own descriptors.
    pty = _client_pty(stdio, force=as_user is not None) if request.tty else None
    if pty is None:
        if not request.tty:
            out_r, out_w = os.pipe2(os.O_CLOEXEC)
    else:
        os.close(in_r)
        os.close(in_w)
        in_r, in_w, out_r = pty.slave, os.dup(pty.master), pty.master
    try:
        # The runtime's client dies with debugtool (exec's watchdog handles the command itself).
        # Without a terminal the client gets a process group of its own, so a signal meant for
        # the session reaches it once, forwarded by debugtool; with -t it gets a session of its
        # own with debugtool's pty as its controlling terminal (a resize reaches it as SIGWINCH;
        # Ctrl-C is a byte for the command, the operator's terminal being raw).
        proc = subprocess.Popen(
            command,
            stdin=in_r,
            stdout=pty.slave if pty else (out_w if out_w is not None else stdio.stdout),
            stderr=err_w,
            preexec_fn=_die_with_parent if pty is None else _die_with_parent_on_pty,
            process_group=0 if not request.tty else None,
            start_new_session=pty is not None,
            **(_credentials(as_user) or {"env": client_environment()}),
        )
    except FileNotFoundError:
        for fd in (in_r, in_w, err_r, err_w, out_r, out_w):
            if fd is not None:
                os.close(fd)
        raise ExecUnsupported(
            f"{command[0]} is not installed, so {runtime} cannot exec.",
            "Install it, or use --mode ns.",
        ) from None
    for fd in (in_r, err_w, out_w):
        if fd is not None:
            os.close(fd)
    hold = FirstLineHold(stdio.stderr)
    outputs: dict[int, Callable[[bytes], None]] = {err_r: hold}
    if out_r is not None:
        outputs[out_r] = writer(stdio.stdout) if pty is None else pty.output
    pidfd = os.pidfd_open(proc.pid)
    relay = Relay(outputs, stdio.stdin if request.interactive else None, in_w, done_fd=pidfd)
    relay.on_tick, relay.tick = hold.tick, 0.1
    if pty is not None and stdio.recorder is not None:
        recorder = stdio.recorder
        relay.on_input = recorder.input

        def tick() -> None:
            hold.tick()
            recorder.flush()  # quiet for 0.1 s: what it printed last goes to the recording

        relay.on_tick = tick
    signals = ignoring_interrupts(True) if request.tty else forwarding_signals(proc.pid)
    try:
        with signals, pty or _Nothing():
            relay.run()
            code = proc.wait()
    finally:
        os.close(pidfd)
        for fd in (err_r, out_r):
            if fd is not None:
                os.close(fd)
    hold.decide()
    if hold.held and code != 0:
        raise start_failure(hold.held, request.argv, request.user, code)
    if hold.held:  # it looked like a failure but the command ran: show it after all
        from debugtool.terminal import write_all

        write_all(stdio.stderr, (hold.held + "\n").encode())
    return code


def _credentials(store: Store | None) -> dict[str, Any]:
    """``subprocess`` arguments that make the client ``store``'s user (none for root's)."""
    if store is None:
        return {}
    from debugtool.runtimes.rootless import groups_of

    return {
        "user": store.uid,
        "group": store.gid,
        "extra_groups": groups_of(store),
        "env": store.environment() | _terminal_variables(),
        "cwd": "/",
    }


def _terminal_variables() -> dict[str, str]:
    return {"TERM": os.environ["TERM"]} if "TERM" in os.environ else {}


class _ClientPty:
    """A pty of debugtool's for a runtime's client run with ``-t`` (runc, crun, podman, ctr).

    The client needs a terminal of its own to make the container's pty (runc opens
    ``/dev/tty`` otherwise). Giving it this one rather than the operator's puts debugtool between
    the two, as in the other exec paths: the operator's terminal is raw for the session (the
    client sets only its own terminal raw), the window size follows it, and what the client
    writes passes through ``output`` to the terminal and the session's recording.
    """

    def __init__(self, stdio: Stdio) -> None:
        from debugtool import terminal

        self.stdio = stdio
        self.master, self.slave = os.openpty()
        os.set_inheritable(self.master, False)
        self.size = terminal.get_winsize(stdio.stdin) or terminal.get_winsize(stdio.stdout)
        if self.size:
            terminal.set_winsize(self.slave, self.size)
        self.write = terminal.writer(stdio.stdout)
        self.recorder = stdio.recorder
        self.contexts: list[Any] = []

    def output(self, data: bytes) -> None:
        self.write(data)
        if self.recorder is not None:
            self.recorder.output(data)

    def resized(self) -> None:
        from debugtool import terminal

        size = terminal.get_winsize(self.stdio.stdin) or (24, 80)
        terminal.set_winsize(self.master, size)  # the kernel sends the client SIGWINCH
        if self.recorder is not None:
            self.recorder.resize(size)

    def __enter__(self) -> None:
        from debugtool import terminal

        self.contexts = [terminal.raw_mode(self.stdio.stdin), terminal.on_resize(self.resized)]
        for context in self.contexts:
            context.__enter__()

    def __exit__(self, *exc: object) -> None:
        for context in reversed(self.contexts):
            context.__exit__(*exc)
        self.contexts = []


class _Nothing:
    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: object) -> None:
        pass


def _client_pty(stdio: Stdio, force: bool = False) -> _ClientPty | None:
    """Return a pty for the client when the operator's stdin is a terminal (or ``force``),
    else None."""
    from debugtool.terminal import is_terminal

    return _ClientPty(stdio) if force or is_terminal(stdio.stdin) else None


#: What of the operator's environment a runtime's client may need (where its daemon or state
#: is, the locale, the terminal); nothing else of it (cloud keys, tokens) goes near a container.
_CLIENT_VARIABLES = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "TERM", "TMPDIR", "TZ")
_CLIENT_PREFIXES = ("LC_", "XDG_", "CONTAINERD_", "CONTAINER_", "DOCKER_", "PODMAN_", "REGISTRIES_")


def client_environment() -> dict[str, str]:
    """Return the environment a runtime's exec client runs with: the allow-listed variables."""
    return {
        key: value
        for key, value in os.environ.items()
        if key in _CLIENT_VARIABLES or key.startswith(_CLIENT_PREFIXES)
    }


def start_failure(text: str, argv: list[str], user: str | None, code: int) -> DebugtoolError:
    """Return the error for a runtime's "could not start the command" message, in one sentence.

    Follows docker exec: 127 for a command not found, 126 for one that cannot run or a user
    that does not exist.
    """
    command = argv[0] if argv else ""
    lowered = text.lower()
    detail = text.strip().rstrip(".")
    if any(mark in lowered for mark in ("unable to find user", "unable to find group",
                                         "no users found", "no matching entr")):  # fmt: skip
        return CommandNotInvokable(
            f"user '{user or ''}' does not exist in the container's /etc/passwd (or /etc/group).",
            "Pick a user the container knows, for example -u 0.",
        )
    if "chdir" in lowered:
        import re

        where = re.search(r'cwd \("([^"]*)"\)', text)
        directory = f" {where.group(1)}" if where else ""
        return CommandNotInvokable(
            f"cannot change to the working directory{directory} in the container.",
            "Check that the -w directory exists in the container.",
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
    return failure(f"the runtime could not start command '{command}': {detail}.")


def _die_with_parent() -> None:
    # ctypes is imported here, in the parent, before the fork: a client run as another user
    # could not read the interpreter's modules once it is that user.
    _libc().prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG


_LIBC: list[Any] = []


def _libc() -> Any:
    if not _LIBC:
        import ctypes

        _LIBC.append(ctypes.CDLL(None))
    return _LIBC[0]


def _die_with_parent_on_pty() -> None:
    """``_die_with_parent``, and the pty on stdin becomes the (new session's) controlling tty."""
    import fcntl
    import termios

    _die_with_parent()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class forwarding_signals:
    """While the client runs, SIGINT, SIGTERM and SIGHUP to debugtool go to it (main thread).

    The runtime's client passes them on to the command in the container, which ends as it
    would under ``docker exec``; debugtool then records how it ended.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.saved: dict[int, object] = {}

    def forward(self, signum: int, frame: object) -> None:
        try:
            os.kill(self.pid, signum)
        except OSError:
            pass

    def __enter__(self) -> None:
        try:
            for sig in self.SIGNALS:
                self.saved[sig] = signal.signal(sig, self.forward)
        except ValueError:  # not the main thread
            pass

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self.saved.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
