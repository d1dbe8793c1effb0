"""``exec_in``: the one function every exec goes through (plan, audit, mode, exit code).

See the package's docstring for the modes; this module runs one exec and writes its audit line.
"""

from __future__ import annotations

import _signal as signal  # signal's functions, without its enums (enum: ~4 ms to import)

from debugtool.errors import (
    EXIT_TOOL,
    ContainerGone,
    DebugtoolError,
    UsageError,
)
from debugtool.exec.plan import MODES, ExecContext, make_plan
from debugtool.record import record
from debugtool.runtimes.base import ExecRequest, Stdio

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

    from debugtool.exec.early import EarlyJoiner
    from debugtool.runtimes import Discovery
    from debugtool.target import Target


@record
class ExecResult:
    """How an exec ended: the exit code debugtool reports and how long the command ran."""

    exit_code: int
    duration: float
    context: ExecContext


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
    host_tools: Sequence[str] | None = None,
    discovery: Discovery | None = None,
    report: Callable[[ExecContext], None] | None = None,
    spawn: bool | None = None,
    stdin: int = 0,
    stdout: int = 1,
    stderr: int = 2,
    early: EarlyJoiner | None = None,
    reason: str = "",
    record_input: bool = False,
) -> ExecResult:
    """Run ``argv`` in ``target`` and return its result; on record from start to end.

    ``report`` receives the context line before anything runs. ``spawn`` starts the ns/toolbox
    joiner as a new small interpreter instead of a fork (None: when this process runs several
    threads, as the TUI does). ``tty`` gives the command a new pty only when ``stdin`` is a
    terminal (pipes otherwise); stdin is streamed only with ``interactive``. From the main
    thread it also forwards SIGTERM/SIGHUP, follows SIGWINCH and restores raw mode on SIGTERM;
    from a worker thread (the TUI) those are skipped, and the thread must live until it returns
    (the joiner's parent-death signal follows that thread). ``early``: the joiner the caller
    started itself (``EarlyJoiner.start``, right after pinning the target); exec_in owns it.
    Toolbox mode mounts ``tools`` (a host directory) or busybox with the host programs
    ``host_tools`` (None: the default set the host has; see ``debugtool.toolbox.stage``).
    ``reason`` is recorded in the session's audit records (the caller enforces the policy).
    A session with a terminal is recorded (``debugtool.recording``): its output, and what is
    typed too with ``record_input``.

    Raises ``UsageError``, ``ContainerGone``, ``AuditUnavailable`` (the audit log cannot be
    written: nothing ran), ``ExecUnsupported`` (125), ``CommandNotInvokable`` (126) or
    ``CommandNotFound`` (127); every other outcome is the command's exit code in the result.
    """
    from debugtool.terminal import is_terminal

    try:
        argv = list(argv)
        if mode not in MODES:
            raise UsageError(f"unknown exec mode '{mode}'.", f"Use one of {', '.join(MODES)}.")
        if not argv:
            raise UsageError("no command given.", "Put the command after '--'.")
        request = ExecRequest(
            argv=argv,
            tty=tty and is_terminal(stdin),
            interactive=interactive,
            user=user,
            workdir=workdir,
            env=dict(env or {}),
            privileged=privileged,
        )
        stdio = Stdio(stdin, stdout, stderr, record_input=record_input)
        if mode == "runtime" and early is not None:
            early.cancel()
            early = None
        elif early is None and mode != "runtime":
            from debugtool.exec.early import start_early

            # The joiner joins the target's cgroups (a ~10 ms wait in the kernel) while this
            # plans and writes the start record; it enters nothing before run_ns hands over.
            early = start_early(target, mode, spawn)
        return _run(target, argv, mode, request, stdio, namespaces, privileged, tools,
                    host_tools, discovery, report, spawn, early, reason)  # fmt: skip
    finally:
        if early is not None:
            early.cancel()  # a no-op once run_ns has handed it its spec


def _run(
    target: Target,
    argv: list[str],
    mode: str,
    request: ExecRequest,
    stdio: Stdio,
    namespaces: Sequence[str] | None,
    privileged: bool,
    tools: str | None,
    host_tools: Sequence[str] | None,
    discovery: Discovery | None,
    report: Callable[[ExecContext], None] | None,
    spawn: bool | None,
    early: EarlyJoiner | None,
    reason: str = "",
) -> ExecResult:
    """``exec_in`` from the plan on: the session's records, the mode's run, the exit code."""
    from debugtool import audit

    user, interactive = request.user, request.interactive
    plan = make_plan(target, mode, namespaces, privileged, tools, discovery, host_tools)
    session = audit.Session(
        audit.Record(
            action="exec",
            target_id=target.container.id,
            target_name=target.container.name,
            runtime=plan.context.runtime or target.container.runtime,
            mode=mode,
            namespaces=list(plan.context.namespaces),
            argv=argv,
            exec_user=user,
            tty=request.tty,
            interactive=interactive,
            privileged=privileged,
            reason=reason,
        )
    )
    session.start()  # on record before anything runs; if it cannot be written, nothing runs
    code = EXIT_TOOL
    error: DebugtoolError | None = None
    interrupted = ""
    try:
        if request.tty:
            stdio = _recorded(session, stdio)
        with _stopped_by_signals():
            if report is not None:
                report(plan.context)
            target.check()
            if mode == "runtime":
                from debugtool.exec.runtime import run_runtime

                code = run_runtime(target, request, plan, stdio)
            else:
                from debugtool.exec.ns import run_ns

                code = run_ns(target, request, plan, stdio, spawn, early)
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
    except SystemExit as exc:  # SIGTERM/SIGHUP (see _stopped_by_signals and terminal.raw_mode)
        code = exc.code if isinstance(exc.code, int) else EXIT_TOOL
        interrupted = f"debugtool was stopped ({_describe(code)})"
        raise
    finally:
        session.end(code, error.message if error is not None else interrupted)
    if error is not None:
        raise error
    return ExecResult(code, session.record.duration or 0.0, plan.context)


def _recorded(session: Any, stdio: Stdio) -> Stdio:
    """Return ``stdio`` with the session's recorder (a terminal session is recorded).

    Imported here only: an exec without a terminal never loads the recording code.
    """
    from debugtool import recording
    from debugtool.record import replace
    from debugtool.terminal import get_winsize

    size = get_winsize(stdio.stdin) or get_winsize(stdio.stdout)
    recorder = recording.attach(session, size, stdio.record_input)
    return stdio if recorder is None else replace(stdio, recorder=recorder)


class _stopped_by_signals:  # noqa: N801 - a context manager: with _stopped_by_signals()
    """Turn SIGTERM and SIGHUP into ``SystemExit`` for the block (main thread only).

    Python's default for SIGTERM ends the process at once, without ``finally``: the session's
    end record and the runtime-mode watchdog's release would never happen. Handlers the block
    installs itself (the ns-mode relay forwards these signals to the command) take precedence.
    """

    def __init__(self) -> None:
        self.saved: dict[int, Any] = {}

    def __enter__(self) -> None:
        def leave(signum: int, frame: object) -> None:
            raise SystemExit(128 + signum)

        try:
            for sig in (signal.SIGTERM, signal.SIGHUP):
                if signal.getsignal(sig) in (signal.SIG_DFL, None):
                    self.saved[sig] = signal.signal(sig, leave)
        except ValueError:  # not the main thread
            pass

    def __exit__(self, *_exc: object) -> None:
        for sig, handler in self.saved.items():
            signal.signal(sig, handler)


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
            import signal as named  # the enum of names, on this (rare) path only

            return f"signal {named.Signals(code - 128).name}"
        except ValueError:
            pass
    return f"exit code {code}"
