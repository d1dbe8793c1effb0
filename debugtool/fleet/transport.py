"""Running debugtool on nodes through the system's ``ssh``: many at once, or one with a terminal.

Every connection is the user's own ``ssh`` command, so ``~/.ssh/config``, the agent, ProxyJump,
ControlMaster and known_hosts apply as they do for ``ssh NODE``; ``-F FILE`` is added only when
``--ssh-config`` (or ``DEBUGTOOL_SSH_CONFIG``) names one. Host keys are checked as ssh's
configuration says: debugtool never adds ``StrictHostKeyChecking=no``. Runs nobody watches use
``BatchMode=yes`` (a node that wants a password fails at once rather than waiting on a prompt
nobody sees).

On the node, ``python3 -I -c BOOTSTRAP`` (``zipapp.BOOTSTRAP``) runs first: it writes one line
saying whether the zipapp of this debugtool is cached there (``ok``) or must be sent (``need``),
and ``run_many`` answers ``need`` with the zipapp on the same connection's stdin. So a cached
node costs one round trip, and a new one the same round trip plus the zipapp's half megabyte.

``run_many`` is the one way many nodes are asked: ``forks`` connections at a time (Ansible's
word and default, 5), each within its own ``timeout``, one thread and one ``selectors`` loop for
all of them; each node ends as one ``Outcome`` (ok, failed, unreachable, refused, timed out,
no python) with its stdout, or its stdout handed over as it comes (``on_output``). ``fetch``
streams one node's output into a file (what a fleet bundle brings back).
"""

from __future__ import annotations

import os
import time

from debugtool.errors import DebugtoolError
from debugtool.fleet import zipapp
from debugtool.record import record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import BinaryIO

    from debugtool.fleet.nodes import Node

#: How a node ended, in the words of the fleet's stderr lines and of a fleet bundle's index.
OK, FAILED, UNREACHABLE, REFUSED, TIMED_OUT, NO_PYTHON = (
    "ok",
    "failed",
    "unreachable",
    "refused",
    "timed out",
    "no python",
)
#: A node ``run_many``'s caller stopped (``stop``), not one that failed.
STOPPED = "stopped"
#: How often ``run_many`` asks its ``stop`` (seconds).
_STOP_EVERY = 0.5
#: ssh's own exit code when it (not the remote command) failed.
SSH_FAILED = 255
#: Default number of nodes asked at once (Ansible's ``forks``).
FORKS = 5
#: Default time one node may take, from connecting to its last byte.
NODE_TIMEOUT = 20.0


class NodeError(DebugtoolError):
    """A node could not run what was asked (unreachable, refused, no python3, timed out)."""


@record
class Connection:
    """How every node is reached: the ssh config file, the debugtool to run there."""

    ssh_config: str | None = None
    remote_debugtool: str | None = None  # an installed debugtool's path; else the zipapp
    ssh: str = "ssh"
    # ``-o`` options added to every ssh of this connection (the TUI's ControlPath: see
    # ``fleet.masters``); never one that weakens host-key checking.
    options: tuple[str, ...] = ()


@record
class Outcome:
    """How one node ended: ``status`` (``OK``, ``FAILED``, ...), the remote exit code, its
    stdout (unless it was handed to ``on_output``) and stderr, a sentence for people when it is
    not ok, and how many bytes of zipapp were sent (0 when the node had it cached)."""

    node: Node
    status: str
    exit_code: int | None
    stdout: bytes
    stderr: bytes
    message: str = ""
    sent: int = 0
    seconds: float = 0.0

    @property
    def answered(self) -> bool:
        """Whether debugtool ran on the node and finished (ok, or failed with its own error)."""
        return self.status in (OK, FAILED)


def ssh_argv(
    node: Node,
    command: str,
    connection: Connection,
    tty: bool = False,
    batch: bool = True,
    connect_timeout: float | None = None,
) -> list[str]:
    """Return the ``ssh`` command line that runs ``command`` (one shell string) on ``node``."""
    argv = [connection.ssh]
    if connection.ssh_config:
        argv += ["-F", connection.ssh_config]
    argv.append("-tt" if tty else "-T")
    if batch:
        argv += ["-o", "BatchMode=yes"]
    if connect_timeout:
        argv += ["-o", f"ConnectTimeout={max(1, int(connect_timeout))}"]
    for option in connection.options:
        argv += ["-o", option]
    if node.user:
        argv += ["-l", node.user]
    if node.port:
        argv += ["-p", str(node.port)]
    return [*argv, "--", node.host, command]


def remote_command(
    node: Node,
    argv: Sequence[str] | None,
    mode: str,
    connection: Connection,
    app: zipapp.Zipapp | None,
) -> str:
    """Return the shell command a node runs: the bootstrap with the zipapp's hash, ``mode``
    (``zipapp.BOOTSTRAP`` says which) and debugtool's ``argv``; or the installed debugtool."""
    import shlex

    words = list(argv or [])
    if connection.remote_debugtool:
        env = ["env", "DEBUGTOOL_TABLE_RECORDS=1"] if mode == "tables" else []
        return shlex.join([*env, connection.remote_debugtool, *words])
    assert app is not None
    bootstrap = [node.python, "-I", "-c", zipapp.BOOTSTRAP, app.sha256, str(app.size), mode]
    return shlex.join([*bootstrap, *words])


class _Job:
    """One node's connection while ``run_many`` drives it."""

    def __init__(self, node: Node, proc: object, deadline: float, header: bool) -> None:
        self.node = node
        self.proc = proc
        self.started = time.monotonic()
        self.deadline = deadline
        self.waiting_header = header  # the bootstrap's first line not seen yet
        self.head = b""
        self.stdout: list[bytes] = []
        self.stderr: list[bytes] = []
        self.held: list[bytes] = []  # stderr before the bootstrap spoke: maybe ssh's or a shell's
        self.tail = b""  # stderr's last bytes, to say why a node failed
        self.to_send = b""
        self.sent = 0
        self.open = 2  # stdout and stderr not at EOF
        self.timed_out = False
        self.stopped = False  # ended because run_many's caller said stop
        self.run_bound = False  # its deadline is the whole run's, before its own timeout's
        self.bad_header = False


def run_many(
    nodes: Sequence[Node],
    argv: Sequence[str] | None,
    connection: Connection,
    mode: str = "plain",
    forks: int = FORKS,
    timeout: float | None = NODE_TIMEOUT,
    on_output: Callable[[Node, int, bytes], None] | None = None,
    on_done: Callable[[Outcome], None] | None = None,
    deadline: float | None = None,
    argv_of: Callable[[Node, float | None], Sequence[str] | None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> list[Outcome]:
    """Run debugtool ``argv`` on every node, ``forks`` at a time; return one ``Outcome`` a node,
    in the order of ``nodes``.

    ``mode`` is the bootstrap's (``plain``, ``tables``, ``prepare``). A node that does not
    answer within ``timeout`` seconds is killed and ends ``TIMED_OUT``; the others go on (None:
    no limit but ssh's ConnectTimeout, for a command that runs as long as it likes).
    With ``on_output``, each node's stdout (fd 1) and stderr (fd 2) are handed to it as they
    arrive instead of being kept. ``on_done`` is told of each node as it ends (a fleet
    bundle's progress lines).

    ``deadline`` (``time.monotonic()``) bounds the whole run: no node runs past it, and a node
    whose turn (``forks``) comes after it is not started and ends ``TIMED_OUT``. ``argv_of``,
    when given, is asked for each node's command line as it starts, with the seconds left
    before ``deadline`` (None: no deadline); it answers None when that is too little to start.

    ``stop``, when given, is asked about every half second: once it says True, every node
    still running is ended (its ssh killed, its outcome ``STOPPED``) and none is started (a
    followed log whose pane has gone).
    """
    import selectors
    import subprocess

    app = None if connection.remote_debugtool else zipapp.current()
    selector = selectors.DefaultSelector()
    pending = list(nodes)
    pending.reverse()
    running: list[_Job] = []
    done: dict[str, Outcome] = {}

    def not_started(node: Node) -> None:
        done[node.name] = Outcome(
            node,
            TIMED_OUT,
            None,
            b"",
            b"",
            f"not started: the run's time was used up by the nodes before it (--forks {forks})",
        )
        if on_done is not None:
            on_done(done[node.name])

    def start(node: Node) -> None:
        now = time.monotonic()
        left = None if deadline is None else deadline - now
        words = argv if argv_of is None else argv_of(node, left)
        if (left is not None and left <= 0) or (argv_of is not None and words is None):
            not_started(node)
            return
        command = remote_command(node, words, mode, connection, app)
        args = ssh_argv(node, command, connection, connect_timeout=min(timeout or 10.0, 10.0))
        job_deadline = now + timeout if timeout else float("inf")
        if deadline is not None:
            job_deadline = min(job_deadline, deadline)
        try:
            proc = subprocess.Popen(
                args,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # killed as a group on timeout; ^C is ours to handle
            )
        except OSError as exc:
            done[node.name] = Outcome(
                node, UNREACHABLE, None, b"", b"", f"cannot run {connection.ssh} ({exc.strerror})"
            )
            if on_done is not None:
                on_done(done[node.name])
            return
        job = _Job(node, proc, job_deadline, header=app is not None)
        job.run_bound = deadline is not None and job_deadline == deadline
        for stream in (proc.stdout, proc.stderr, proc.stdin):
            os.set_blocking(stream.fileno(), False)  # type: ignore[union-attr]
        selector.register(proc.stdout, selectors.EVENT_READ, (job, 1))  # type: ignore[arg-type]
        selector.register(proc.stderr, selectors.EVENT_READ, (job, 2))  # type: ignore[arg-type]
        if app is None:
            _close_stdin(selector, job)
        running.append(job)

    def hand(job: _Job, fd: int, data: bytes) -> None:
        if fd == 2:
            job.tail = (job.tail + data)[-4096:]
            if job.waiting_header:
                job.held.append(data)  # handed on once debugtool runs; else a sentence says it
                return
        if on_output is not None:
            on_output(job.node, fd, data)
        else:
            (job.stdout if fd == 1 else job.stderr).append(data)

    def stdout_data(job: _Job, data: bytes) -> None:
        if not job.waiting_header:
            hand(job, 1, data)
            return
        job.head += data
        line, newline, rest = job.head.partition(b"\n")
        if not newline:
            if len(job.head) > 256:  # no bootstrap says this much before its line
                job.waiting_header, job.bad_header = False, True
                hand(job, 1, job.head)
            return
        job.waiting_header = False
        for held in job.held:
            hand(job, 2, held)
        job.held.clear()
        if line == zipapp.HEADER + b"need" and app is not None:
            job.to_send = app.data()
            selector.register(job.proc.stdin, selectors.EVENT_WRITE, (job, 0))  # type: ignore[attr-defined]
        elif line == zipapp.HEADER + b"ok":
            _close_stdin(selector, job)
        else:
            job.bad_header = True
            _close_stdin(selector, job)
            rest = job.head
        if rest:
            hand(job, 1, rest)

    try:
        while pending or running:
            while pending and len(running) < max(1, forks):
                start(pending.pop())
            if not running:
                continue
            now = time.monotonic()
            first = min(job.deadline for job in running)
            wait = None if first == float("inf") else max(0.0, first - now)
            if stop is not None:
                if stop():
                    for job in running:
                        if not job.stopped:
                            job.stopped = True
                            _kill(job)
                    for node in reversed(pending):
                        done[node.name] = Outcome(node, STOPPED, None, b"", b"", "stopped")
                    pending.clear()
                wait = _STOP_EVERY if wait is None else min(wait, _STOP_EVERY)
            for key, _mask in selector.select(wait):
                job, fd = key.data
                if fd == 0:
                    try:
                        written = os.write(key.fd, job.to_send[job.sent : job.sent + 65536])
                        job.sent += written
                    except BlockingIOError:
                        continue
                    except OSError:  # the node closed its end: it will say why on stderr
                        job.sent = len(job.to_send)
                    if job.sent >= len(job.to_send):
                        _close_stdin(selector, job)
                    continue
                try:
                    data = os.read(key.fd, 65536)
                except BlockingIOError:
                    continue
                if data:
                    stdout_data(job, data) if fd == 1 else hand(job, 2, data)
                    continue
                selector.unregister(key.fileobj)
                key.fileobj.close()  # type: ignore[union-attr]
                job.open -= 1
                if fd == 1 and job.waiting_header:
                    job.waiting_header = False
                    if job.head:
                        job.bad_header = True
                        hand(job, 1, job.head)
            now = time.monotonic()
            for job in list(running):
                if job.open and now >= job.deadline:
                    job.timed_out = True
                    _kill(job)
                if job.open == 0 or job.timed_out or job.stopped:
                    for stream in (job.proc.stdout, job.proc.stderr):  # type: ignore[attr-defined]
                        if stream is not None and not stream.closed:
                            selector.unregister(stream)
                            stream.close()
                    _close_stdin(selector, job)
                    job.proc.wait()  # type: ignore[attr-defined]
                    running.remove(job)
                    done[job.node.name] = _outcome(job, timeout)
                    if on_done is not None:
                        on_done(done[job.node.name])
    finally:
        # ^C, or a failure here: the ssh processes are in sessions of their own, so nothing
        # else would end them.
        for job in running:
            _kill(job)
            job.proc.wait()  # type: ignore[attr-defined]
    selector.close()
    return [done[node.name] for node in nodes]


def _close_stdin(selector: object, job: _Job) -> None:
    stdin = job.proc.stdin  # type: ignore[attr-defined]
    if stdin is not None and not stdin.closed:
        try:
            selector.unregister(stdin)  # type: ignore[attr-defined]
        except (KeyError, ValueError):
            pass
        try:
            stdin.close()
        except OSError:
            pass


def _kill(job: _Job) -> None:
    import signal

    try:
        os.killpg(job.proc.pid, signal.SIGKILL)  # type: ignore[attr-defined]
    except ProcessLookupError:
        pass


def _last_line(data: bytes) -> str:
    from debugtool.output import printable

    lines = [ln.strip() for ln in data.decode("utf-8", "replace").splitlines() if ln.strip()]
    return printable(lines[-1]) if lines else ""


def _outcome(job: _Job, timeout: float | None) -> Outcome:
    """Say how ``job`` ended."""
    node = job.node
    code = job.proc.returncode  # type: ignore[attr-defined]
    stdout, stderr = b"".join(job.stdout), b"".join(job.stderr + job.held)
    seconds = time.monotonic() - job.started
    sent = job.sent if job.to_send else 0

    def made(status: str, message: str = "") -> Outcome:
        return Outcome(node, status, code, stdout, stderr, message, sent, seconds)

    said = _last_line(job.tail)
    if job.stopped:
        return made(STOPPED, "stopped")
    if job.timed_out and job.run_bound:
        return made(TIMED_OUT, f"stopped after {seconds:.0f}s: the run's time ran out; skipped")
    if job.timed_out:
        return made(TIMED_OUT, f"timed out after {timeout or 0:g}s (--node-timeout); skipped")
    if code == SSH_FAILED and said.startswith(("ssh:", "kex_exchange", "Connection")):
        return made(UNREACHABLE, f"unreachable ({said.removeprefix('ssh: ')})")
    if code == SSH_FAILED and (
        "Permission denied" in said or "Host key verification failed" in said
    ):
        return made(REFUSED, f"refused the connection ({said})")
    if code == SSH_FAILED and not stdout and job.waiting_header is False and said:
        return made(UNREACHABLE, f"ssh failed ({said})")
    if code == 127 and not stdout and (node.python in said or "python" in said):
        return made(
            NO_PYTHON,
            f"has no {node.python} on its PATH; debugtool needs python3 3.11 or newer "
            "on the node (or --remote-debugtool PATH)",
        )
    if code == zipapp.EXIT_OLD_PYTHON and "needs 3.11" in said:
        return made(NO_PYTHON, said.removeprefix("debugtool: node: "))
    if job.bad_header and code not in (0, None):
        return made(
            FAILED, f"did not run debugtool's bootstrap (exit {code}: {said or 'no message'})"
        )
    if code == 0:
        return made(OK)
    return made(FAILED, said.removeprefix("debugtool: ") or f"exited {code}")


def fetch(
    node: Node,
    argv: Sequence[str],
    sink: BinaryIO,
    connection: Connection,
    timeout: float = NODE_TIMEOUT,
) -> Outcome:
    """Run debugtool ``argv`` on ``node`` and write its stdout into ``sink`` as it arrives
    (``bundle ... -o -`` brings a bundle back this way); return how it ended, its stderr kept."""
    errors: list[bytes] = []

    def keep(_node: Node, fd: int, data: bytes) -> None:
        sink.write(data) if fd == 1 else errors.append(data)

    (outcome,) = run_many([node], argv, connection, "plain", 1, timeout, keep)
    outcome.stderr = b"".join(errors)
    return outcome


def run_interactive(
    node: Node,
    argv: Sequence[str],
    connection: Connection,
    tty: bool,
    timeout: float = NODE_TIMEOUT,
) -> int:
    """Run debugtool ``argv`` on ``node`` with this terminal (a pty through ``ssh -tt`` when
    ``tty``); return its exit code. The zipapp is cached on the node first by a run without a
    terminal (nothing can be sent through a pty); raises ``NodeError`` when that fails."""
    import subprocess

    app = None
    if not connection.remote_debugtool:
        (ready,) = run_many([node], None, connection, "prepare", 1, timeout)
        if ready.status != OK:
            raise NodeError(f"{node.name}: {ready.message or 'could not be prepared'}.")
        app = zipapp.current()
    command = remote_command(node, argv, "run", connection, app)
    args = ssh_argv(node, command, connection, tty=tty, batch=False, connect_timeout=10.0)
    try:
        return subprocess.call(args)
    except KeyboardInterrupt:
        return 130
