"""The tracer: seize a process's threads, run the syscall-stop loop, and always detach cleanly.

The loop drives ``waitpid(-1, __WALL)`` itself: python-ptrace's own multi-process wait polls with
sleeps (FINDINGS.md). Signals (Ctrl-C, SIGTERM) only set a flag and kill a small "waker" child,
whose exit wakes the blocking ``waitpid`` so the loop detaches at a point where it holds no
unprocessed stop; an exception from a signal handler mid-loop would lose a stop.

Speed (bench/bench_trace.py): every stop costs a waitpid and two ptrace calls, like strace,
and little Python beside: bench_trace measures the loop at the cost of a bare ctypes loop that
only formats the numbers. At entry only the memory the decoder will read is copied (a write's
buffer, not a read's); decoding runs after the tracee is resumed, from that copy, and is
memoized; a call decoded at exit (a read's buffer) is reused while the memory it read gives the
same bytes; lines are gathered and written every 0.1 s; with ``-e`` the syscalls not shown are
never decoded.

``PTRACE_SEIZE`` rather than ``PTRACE_ATTACH``: no SIGSTOP is sent, so nothing is left pending to
stop the target after detach, group-stops are reported as such, and a tracee can be stopped for
detaching with ``PTRACE_INTERRUPT``. ``PTRACE_O_EXITKILL`` is never set: if debugtool is killed
the kernel detaches its tracees and they run on (Documentation: ptrace(2), "Attaching and
detaching").
"""

from __future__ import annotations

import ctypes
import errno
import os
import signal
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from debugtool import procfs
from debugtool.errors import ContainerGone, DebugtoolError
from debugtool.trace.access import attach_refused, check_traceable, yama_scope
from debugtool.trace.binding import (
    PTRACE_DETACH,
    PTRACE_EVENT_CLONE,
    PTRACE_EVENT_EXEC,
    PTRACE_EVENT_FORK,
    PTRACE_EVENT_STOP,
    PTRACE_EVENT_VFORK,
    PTRACE_GET_SYSCALL_INFO,
    PTRACE_INTERRUPT,
    PTRACE_LISTEN,
    PTRACE_O_TRACECLONE,
    PTRACE_O_TRACEEXEC,
    PTRACE_O_TRACEFORK,
    PTRACE_O_TRACESYSGOOD,
    PTRACE_O_TRACEVFORK,
    PTRACE_SEIZE,
    PTRACE_SYSCALL,
    PTRACE_SYSCALL_INFO_ENTRY,
    PTRACE_SYSCALL_INFO_EXIT,
    SYSCALL_STOP,
    SYSCALL_STOP_STATUS,
    WALL,
    SyscallInfo,
    event_message,
    ptrace,
    ptrace_fast,
    set_parent_death_signal,
    signal_info,
)
from debugtool.trace.decode import (
    ADDRESS_RESULTS,
    NO_RETURN,
    Call,
    decoder,
    entry_pointers,
    format_result,
    has_outputs,
    syscall_names,
)
from debugtool.trace.formats import siginfo, signal_name
from debugtool.trace.lines import Clock, event_json, json_line, pid_label
from debugtool.trace.memory import (
    SNAPSHOT_MIN,
    RecordingMemory,
    SnapshotMemory,
    TraceeMemory,
    same_reads,
)
from debugtool.trace.summary import SyscallStats

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)  # end the trace, detached
GROUP_STOP_SIGNALS = frozenset({signal.SIGSTOP, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU})

FLUSH_DELAY = 0.1  # seconds a written line may wait in the output buffer
FAULT_ENV = "DEBUGTOOL_TRACE_FAULT_AFTER"  # test hook: raise inside the loop after N stops


# --- the session ---------------------------------------------------------------------------


@dataclass(slots=True)
class Plan:
    """How the tracer handles one syscall number, settled the first time a tracee makes it.

    ``decode`` says when its arguments are decoded: "copy" (after resuming the tracee, from a
    copy of the memory its pointer arguments ``copies`` point at, taken at entry), "live"
    (before resuming: it follows pointers inside pointed-to memory, as execve's argv) or "exit"
    (the kernel fills some pointer arguments in: decoded at syscall exit, what it read at
    entry from the copy taken then).
    """

    nr: int
    name: str
    shown: bool  # selected by -e (every syscall without it)
    decode: str
    copies: tuple[int, ...]  # the pointer arguments the decoder reads at entry, copied then
    hex_result: bool  # mmap, brk: the result is an address
    returns: bool  # False for exit, exit_group
    stats: SyscallStats = field(default_factory=SyscallStats)


@dataclass(slots=True)
class Tracee:
    """One traced thread: host and container PID, and the syscall it is inside, if any."""

    pid: int
    cpid: int
    memory: TraceeMemory
    label: str = ""  # "[pid  CPID] ", the start of its text lines
    plan: Plan | None = None  # the syscall entered and not yet left; None when none
    entered: float = 0.0
    call: Call | None = None  # decoded at entry, printed at exit
    key: tuple[Any, ...] = ()  # "exit" plans: syscall info and the memory copied at entry
    unfinished: bool = False  # its line was cut by another's: "<... name resumed>" at exit
    stime: float = 0.0  # --summary: the system time it had used at syscall entry

    def __post_init__(self) -> None:
        self.label = pid_label(self.cpid)

    def renumber(self, cpid: int) -> None:
        """Take the container PID it has after an exec by a non-leader thread."""
        self.cpid = cpid
        self.label = pid_label(cpid)


@dataclass
class TraceResult:
    """What a session saw: why it ended, the PIDs it traced, and per-syscall counts."""

    reason: str = ""
    syscalls: int = 0
    pids: dict[int, int] = field(default_factory=dict)  # host PID -> container PID
    stats: dict[str, SyscallStats] = field(default_factory=dict)
    unfinished: int = 0  # syscalls shown as entered that had not returned when tracing ended
    warnings: list[str] = field(default_factory=list)
    undetached: list[int] = field(default_factory=list)


class Tracer:
    """Traces one process (all its threads), and with ``follow`` its new threads and children.

    ``run()`` returns a ``TraceResult``; on every way out, normal or not, each tracee is
    detached with its pending signal and left running.
    """

    def __init__(
        self,
        pid: int,
        out: IO[str] | None = None,
        follow: bool = False,
        only: frozenset[int] | None = None,
        duration: float | None = None,
        count: int | None = None,
        summary: bool = False,
        json_lines: bool = False,
        string_max_length: int = 32,
        pidns_level: int | None = None,
        note: Callable[[str], None] | None = None,
    ) -> None:
        self.pid = pid
        self.pidns_level = pidns_level  # the container's PID namespace depth, for its PIDs
        self.out = out
        self.follow = follow
        self.only = only
        self.duration = duration
        self.count = count
        self.summary = summary
        self.json_lines = json_lines
        self.names = syscall_names()
        self.string_max_length = string_max_length
        self.note = note  # says "process N attached" (strace's stderr lines) in text mode
        self.decode = decoder(string_max_length, self.names)
        self.window = max(SNAPSHOT_MIN, string_max_length + 1)  # bytes copied per pointer
        # The tracee whose syscall line is begun and not yet ended (strace's printing_tcp):
        # a line of another tracee meanwhile cuts it with "<unfinished ...>".
        self._open: Tracee | None = None
        self.plans: dict[int, Plan] = {}
        # "exit" plans decoded: (entry key, result, failed) -> the call and the live reads
        # it made (``_decode_exit``)
        self._exits: dict[tuple[Any, ...], tuple[Call, tuple[tuple[int, int, bytes | None], ...]]]
        self._exits = {}
        self.tracees: dict[int, Tracee] = {}
        self.result = TraceResult()
        self._stop_reason = ""
        self._waker = 0
        self._held = 0  # a tracee we hold in a stop (waited for, not yet resumed)
        self._held_signal = 0
        self._reaped: set[int] = set()  # exited tracees whose fork event may still come
        self._fault_after = int(os.environ.get(FAULT_ENV, "0") or 0)
        self._pending: list[str] = []  # lines not yet written to out
        self._dirty = False  # lines since the last flush
        self._flush_due = False
        self._in_wait = False
        self._attention = False  # _stop_reason or _flush_due: one test per stop in the loop
        self.clock = Clock()

    # -- attach ---------------------------------------------------------------------------

    def _options(self) -> int:
        options = PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEEXEC
        if self.follow:
            options |= PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK
        return options

    def attach(self) -> None:
        """Seize every thread of the process and stop each once to start syscall tracing.

        Raises ``PermissionDenied`` (EPERM: YAMA or an LSM), ``ContainerGone`` (it exited),
        or the already-traced error. On failure, whatever was attached is detached again.
        """
        options = self._options()
        try:
            seen: set[int] = set()
            while True:  # threads may start while we attach: list again until none is new
                new = [t for t in procfs.threads(self.pid) if t not in seen]
                if not new:
                    break
                for tid in new:
                    seen.add(tid)
                    try:
                        ptrace(PTRACE_SEIZE, tid, 0, options)
                    except OSError as exc:
                        if exc.errno == errno.ESRCH:
                            continue  # that thread just exited
                        if exc.errno == errno.EPERM:
                            check_traceable(self.pid, own=set())
                            raise attach_refused(tid, yama_scope()) from None
                        raise
                    self._add(tid)
                    try:
                        ptrace(PTRACE_INTERRUPT, tid)
                    except ProcessLookupError:
                        pass  # exited just now: its exit is reported to the loop
            if not self.tracees:
                raise ContainerGone(f"process {self.pid} exited before it could be traced.")
        except BaseException:
            self.detach_all()
            raise

    def _add(self, pid: int) -> Tracee:
        tracee = Tracee(
            pid, procfs.pid_in_namespace(pid, self.pidns_level) or pid, TraceeMemory(pid)
        )
        self.tracees[pid] = tracee
        self.result.pids[pid] = tracee.cpid
        if self.out is not None and not self.summary:
            if self.json_lines:
                self._event(tracee, "attached", "", {})
            elif self.note is not None:
                self.note(f"Process {tracee.cpid} attached (host PID {pid})")
        return tracee

    # -- stopping -------------------------------------------------------------------------

    def _start_waker(self) -> None:
        """Fork a child whose exit wakes the blocking waitpid: after ``duration``, or when a
        signal handler kills it. It dies with debugtool (PR_SET_PDEATHSIG)."""
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            try:
                for s in STOP_SIGNALS:
                    signal.signal(s, signal.SIG_DFL)
                set_parent_death_signal(signal.SIGKILL)
                if os.getppid() != parent:
                    os._exit(0)
                if self.duration is not None:
                    time.sleep(self.duration)
                else:
                    while True:
                        signal.pause()
            finally:
                os._exit(0)
        self._waker = pid

    def _on_signal(self, signum: int, frame: object) -> None:
        # Only a flag and a kill: the loop notices when waitpid returns the waker's exit.
        if not self._stop_reason:
            self._stop_reason = signal.Signals(signum).name if signum else "output closed"
        self._attention = True
        if self._waker:
            try:
                os.kill(self._waker, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def _stop_waker(self) -> None:
        if self._waker:
            try:
                os.kill(self._waker, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                os.waitpid(self._waker, WALL)
            except ChildProcessError:
                pass
            self._waker = 0

    # -- the loop -------------------------------------------------------------------------

    def run(self) -> TraceResult:
        """Attach, trace until a stop condition, detach everything; return what was seen."""
        previous = {s: signal.signal(s, self._on_signal) for s in STOP_SIGNALS}
        previous[signal.SIGALRM] = signal.signal(signal.SIGALRM, self._on_alarm)
        try:
            self._start_waker()
            self.attach()
            try:
                self._loop()
            finally:
                self.detach_all()
        finally:
            self._stop_waker()
            signal.setitimer(signal.ITIMER_REAL, 0)
            for s, handler in previous.items():
                signal.signal(s, handler)
            for tracee in self.tracees.values():
                tracee.memory.close()
            self._flush()
        self.result.reason = self.result.reason or self._stop_reason
        return self.result

    def _plan(self, nr: int) -> Plan:
        """Return how syscall ``nr`` is traced, settled now if this is its first time."""
        plan = self.plans.get(nr)
        if plan is None:
            name = self.names.get(nr) or f"syscall_{nr:#x}"
            how = "copy"
            if has_outputs(name):
                how = "exit"
            elif name in ("execve", "execveat", "rt_sigreturn"):
                how = "live"  # argv's strings; the signal frame at the stack pointer
            shown = self.only is None or nr in self.only
            decoded = shown and self.out is not None and not self.summary
            copies = entry_pointers(name) if how != "live" and decoded else ()
            plan = Plan(
                nr,
                name,
                shown,
                how,
                copies,
                name in ADDRESS_RESULTS,
                name not in NO_RETURN,
            )
            self.plans[nr] = plan
        return plan

    def _entry_memory(
        self, tracee: Tracee, plan: Plan, key: tuple[Any, ...], live: TraceeMemory | None = None
    ) -> SnapshotMemory:
        """Return the memory as copied at entry: ``key`` is the syscall info (op, nr, six
        arguments) and one copy per non-NULL pointer in ``plan.copies``; a read elsewhere goes
        to ``live`` (the tracee's memory by default)."""
        args = key[2:8]
        addresses = [args[i] for i in plan.copies if args[i]]
        regions = list(zip(addresses, key[8:], strict=True))
        return SnapshotMemory(live or tracee.memory, regions, self.window)

    def _decode_copy(self, tracee: Tracee, plan: Plan, key: tuple[Any, ...]) -> tuple[Call, bool]:
        """Decode a syscall from the memory copied at its entry (``_entry_memory``).

        A decode that reads elsewhere got that from the live memory, after the tracee ran on:
        the plan decodes before resuming ("live") from now on. Returns the call and whether
        it may be memoized."""
        copy = self._entry_memory(tracee, plan, key)
        call = self.decode(copy, plan.nr, key[2:8])
        if copy.nested:
            plan.decode = "live"
            return call, False
        return call, True

    def _decode_exit(self, tracee: Tracee, plan: Plan, rval: int, failed: bool) -> Call:
        """Decode an "exit" plan's syscall at its exit, the tracee stopped: what the kernel
        filled in from the live memory, the rest from the copy taken at entry.

        The call is kept in ``_exits`` with the live reads it made (``RecordingMemory``): the
        same syscall with the same result whose reads give the same bytes decodes the same,
        and the loop looks it up."""
        key = tracee.key
        live = RecordingMemory(tracee.memory)
        entry = self._entry_memory(tracee, plan, key, live) if plan.copies else live
        call = self.decode(entry, plan.nr, key[2:8], rval, failed, live=live)
        if len(self._exits) >= 50_000:
            self._exits.clear()
        self._exits[(key, rval, failed)] = (call, tuple(live.reads))
        return call

    def _loop(self) -> None:
        # The hot path: each stop costs a waitpid and two ptrace calls, and as little Python as
        # can be; the Python here costs as much as the kernel's part of a stop, so every line
        # counts (bench/bench_trace.py). Work that does not need the tracee stopped is done
        # after resuming it.
        waitpid = os.waitpid
        raw = ptrace_fast
        get_info = PTRACE_GET_SYSCALL_INFO
        resume = PTRACE_SYSCALL
        entry_op = PTRACE_SYSCALL_INFO_ENTRY
        exit_op = PTRACE_SYSCALL_INFO_EXIT
        syscall_stop = SYSCALL_STOP_STATUS
        info = SyscallInfo()
        info_ref = ctypes.byref(info)
        info_size = ctypes.sizeof(info)
        # One unpack a stop: op, then at entry nr and the six arguments, at exit the signed
        # result and is_error. The kernel writes only the low byte of the word after the result
        # (is_error), so the rest of it is left from the last entry and is masked off.
        unpack = struct.Struct("<B23xq6Q").unpack_from
        text_line = self.clock.text_line
        json_lines = self.json_lines
        add = self._pending.append if self.out is not None else None
        tracees = self.tracees
        plans = self.plans
        summary = self.summary
        count = self.count or 0
        now = time.time
        fault_after = self._fault_after
        stops = 0
        waker = self._waker
        result = self.result
        decode = self.decode
        pread = os.pread
        window = self.window
        wait4 = os.wait4
        stime = 0.0
        decoded: dict[tuple[Any, ...], Call] = {}  # syscall info and copied memory -> call
        exits = self._exits
        try:
            while tracees:
                if self._attention:  # a signal, a due flush, or the reader went away
                    if self._flush_due:
                        self._flush()
                    if self._stop_reason:
                        result.reason = self._stop_reason
                        return
                self._in_wait = True
                try:
                    if summary:
                        # strace -c's time: the system time the tracee used between syscall
                        # entry and exit, from the rusage wait4 reports with each stop.
                        pid, status, usage = wait4(-1, WALL)
                        stime = usage.ru_stime
                    else:
                        pid, status = waitpid(-1, WALL)
                except ChildProcessError:
                    self._in_wait = False
                    result.reason = "exited"
                    return
                self._in_wait = False
                if status != syscall_stop:
                    if pid == waker:
                        self._waker = 0
                        result.reason = self._stop_reason or "duration"
                        return
                    if status & 0xFF != 0x7F:  # exited or killed
                        self._gone(pid, status)
                        if not tracees:
                            result.reason = "exited"
                        continue
                    self._held = pid
                    if fault_after:
                        stops = self._fault(stops, fault_after)
                    self._other_stop(pid, status)
                    continue
                self._held = pid
                if fault_after:
                    stops = self._fault(stops, fault_after)
                tracee = tracees.get(pid) or self._add(pid)
                if raw(get_info, pid, info_size, info_ref) <= 0:
                    self._resume(pid, resume, 0)  # killed meanwhile: its exit is next
                    continue
                fields = unpack(info)
                if fields[0] == entry_op:
                    plan = plans.get(fields[1]) or self._plan(fields[1])
                    if not plan.shown:
                        tracee.plan = None
                        raw(resume, pid, 0, 0)
                        self._held = 0
                        continue
                    tracee.plan = plan
                    if summary:
                        tracee.stime = stime
                        tracee.entered = now()
                        raw(resume, pid, 0, 0)
                        self._held = 0
                        continue
                    # The time of entry is taken as soon as the tracee is resumed (a
                    # microsecond late, off the stop's critical path), except for --summary,
                    # which times the syscall itself.
                    how = plan.decode
                    if how != "live":
                        # Copy what the decoder reads at entry, resume, then decode from the
                        # copy while the tracee runs ("copy"; a decode seen before is looked
                        # up), or keep it for the exit ("exit").
                        key: tuple[Any, ...] = fields
                        if plan.copies:
                            memory = tracee.memory
                            fd = memory._fd or memory._mem()
                            for index in plan.copies:
                                if address := fields[2 + index]:
                                    try:
                                        key += (pread(fd, window, address),)
                                    except (OSError, OverflowError):
                                        key += (b"",)
                        raw(resume, pid, 0, 0)
                        self._held = 0
                        tracee.entered = now()
                        if how == "copy":
                            call = decoded.get(key)
                            if call is None:
                                call, keep = self._decode_copy(tracee, plan, key)
                                if keep:
                                    if len(decoded) >= 50_000:
                                        decoded.clear()
                                    decoded[key] = call
                            tracee.call = call
                        else:
                            tracee.call = None  # decoded at exit, once the kernel filled it in
                            tracee.key = key
                    else:
                        tracee.entered = now()
                        tracee.call = decode(tracee.memory, plan.nr, fields[2:])
                        raw(resume, pid, 0, 0)
                        self._held = 0
                    # Its line is begun: strace prints a call's head at entry. A line begun
                    # by another tracee is cut here ("<unfinished ...>").
                    if self._open is not None and self._open is not tracee:
                        self._cut(self._open)
                    if not plan.returns:
                        self._emit(tracee, plan.name, "?", None)
                        tracee.plan = None
                    elif not json_lines:
                        self._open = tracee
                elif fields[0] == exit_op:
                    left = tracee.plan
                    if left is None:  # not shown, or entered before we attached
                        raw(resume, pid, 0, 0)
                        self._held = 0
                        continue
                    is_error = fields[2] & 0xFF
                    call = tracee.call
                    if call is None and not summary:
                        # Looked up when the same syscall, with the same result, reads the
                        # same bytes (read(0, "\0", 1) again and again); else decoded.
                        seen = exits.get((tracee.key, fields[1], is_error))  # 1 == True
                        if seen is not None and same_reads(tracee.memory, seen[1]):
                            call = tracee.call = seen[0]
                        else:
                            call = tracee.call = self._decode_exit(
                                tracee, left, fields[1], bool(is_error)
                            )
                    # Resume first: the tracee runs while we count and write the line.
                    raw(resume, pid, 0, 0)
                    self._held = 0
                    tracee.plan = None
                    stats = left.stats
                    stats.calls += 1
                    if is_error:
                        stats.errors += 1
                    if summary:
                        stats.seconds += stime - tracee.stime
                        stats.wall += now() - tracee.entered
                    elif add is not None:
                        if self._open is tracee:
                            self._open = None
                        if is_error or json_lines or left.hex_result or tracee.unfinished:
                            self._emit(tracee, left.name, None, (fields[1], bool(is_error)))
                        else:  # the common case: the result is the number, no _emit
                            assert call is not None
                            add(text_line(tracee.entered, tracee.label, call.text, fields[1]))
                            if not self._dirty:
                                self._mark_dirty()
                    if count:
                        result.syscalls += 1
                        if result.syscalls >= count:
                            result.reason = "count"
                            return
                else:  # PTRACE_SYSCALL_INFO_NONE or _SECCOMP: nothing to decode
                    raw(resume, pid, 0, 0)
                    self._held = 0
        finally:
            self._count()

    def _fault(self, stops: int, fault_after: int) -> int:
        """Count a stop for the test hook (FAULT_ENV); raise when it is the one to fail at."""
        stops += 1
        if stops >= fault_after:
            raise RuntimeError(f"{FAULT_ENV}: injected fault after {stops} stops")
        return stops

    def _count(self) -> None:
        """Gather the per-syscall counts by name (a name may have several numbers)."""
        stats = self.result.stats
        for plan in self.plans.values():
            if plan.stats.calls:
                seen = stats.setdefault(plan.name, SyscallStats())
                seen.calls += plan.stats.calls
                seen.errors += plan.stats.errors
                seen.seconds += plan.stats.seconds
                seen.wall += plan.stats.wall
        if not self.count:
            self.result.syscalls = sum(s.calls for s in stats.values())

    def _other_stop(self, pid: int, status: int) -> None:
        """Handle a ptrace event, a group-stop or a signal-delivery-stop, then resume."""
        sig = (status >> 8) & 0xFF
        event = status >> 16
        if event in (PTRACE_EVENT_FORK, PTRACE_EVENT_VFORK, PTRACE_EVENT_CLONE):
            child = event_message(pid)
            if child in self._reaped:
                # The child ran and exited before its parent's fork event was reported.
                self._reaped.discard(child)
            elif child and child not in self.tracees:
                self._add(child)  # auto-attached; its first stop arrives separately
        elif event == PTRACE_EVENT_EXEC:
            former = event_message(pid)
            if former and former != pid:  # a non-leader thread exec'd: it took the leader's PID
                old = self.tracees.pop(former, None)
                if old is not None:
                    old.memory.close()
            tracee = self.tracees.get(pid) or self._add(pid)
            tracee.memory.close()  # the old address space is gone
            tracee.renumber(procfs.pid_in_namespace(pid, self.pidns_level) or tracee.cpid)
        elif event == PTRACE_EVENT_STOP:
            if pid not in self.tracees:
                self._add(pid)
            if sig in GROUP_STOP_SIGNALS:
                # A real group-stop (someone sent SIGSTOP): stay stopped, but keep watching.
                self._event(
                    self.tracees[pid],
                    "stopped",
                    f"--- stopped by {signal_name(sig)} ---",
                    {"signal": signal_name(sig)},
                )
                self._resume(pid, PTRACE_LISTEN, 0)
                return
        elif event == 0:
            # Signal-delivery-stop: deliver the signal as if we were not here.
            tracee = self.tracees.get(pid) or self._add(pid)
            if self.out is not None and not self.summary:
                info = signal_info(pid)
                text, value = siginfo(info) if info else ("{}", {})
                name = signal_name(sig)
                self._event(
                    tracee, "signal", f"--- {name} {text} ---", {"signal": name, "siginfo": value}
                )
            self._held_signal = sig
            self._resume(pid, PTRACE_SYSCALL, sig)
            return
        self._resume(pid, PTRACE_SYSCALL, 0)

    def _gone(self, pid: int, status: int) -> None:
        """Forget a tracee that exited (``status`` as waitpid gives it) and say so as strace
        does; drop any other that no longer exists or is no longer ours, so the loop never
        waits for a process that cannot report."""
        gone = self.tracees.pop(pid, None)
        if gone is not None:
            self._finish_unfinished(gone, "= ?")
            if os.WIFEXITED(status):
                code = os.WEXITSTATUS(status)
                self._event(gone, "exited", f"+++ exited with {code} +++", {"status": code})
            else:
                sig = signal_name(os.WTERMSIG(status))
                core = os.WCOREDUMP(status)
                self._event(
                    gone,
                    "killed",
                    f"+++ killed by {sig}{' (core dumped)' if core else ''} +++",
                    {"signal": sig, "core_dumped": core},
                )
            gone.memory.close()
            if len(self._reaped) > 10_000:
                self._reaped.clear()
            self._reaped.add(pid)
        me = os.getpid()
        for other in list(self.tracees):
            try:
                ours = procfs.tracer_pid(other) == me
            except DebugtoolError:
                ours = False
            if not ours:
                stale = self.tracees.pop(other)
                stale.memory.close()

    def _resume(self, pid: int, request: int, sig: int) -> None:
        try:
            ptrace(request, pid, 0, sig)
        except ProcessLookupError:
            pass  # killed (SIGKILL) while stopped: its exit is reported next
        self._held = 0
        self._held_signal = 0

    # -- output ---------------------------------------------------------------------------

    def _emit(
        self,
        tracee: Tracee,
        name: str,
        shown: str | None,
        outcome: tuple[int, bool] | None,
    ) -> None:
        """Add one line (or JSON object) for a finished syscall, or ``shown`` for one that
        did not return. A call whose line was cut is ended as ``<... name resumed>``, stamped
        with the time it returned, as strace does."""
        if self.out is None:
            return
        call = tracee.call
        if outcome is None:
            result_text, errname, rval = shown or "?", None, None
        else:
            rval = outcome[0]
            result_text, errname = format_result(name, rval, outcome[1])
        if self.json_lines:
            ended = time.time()
            self._pending.append(
                json_line(
                    tracee.entered,
                    tracee.cpid,
                    tracee.pid,
                    name,
                    call.values if call is not None else [],
                    call.text if call is not None else f"{name}()",
                    rval,
                    errname,
                    result_text,
                    ended - tracee.entered if outcome is not None else None,
                )
            )
        elif tracee.unfinished:
            # Its line was cut: the resumed line cuts in turn any line begun since.
            if self._open is not None and self._open is not tracee:
                self._cut(self._open)
            tracee.unfinished = False
            tail = call.tail if call is not None else ")"
            self._pending.append(
                self.clock.line(
                    time.time(), tracee.label, f"<... {name} resumed>{tail} = {result_text}"
                )
            )
        else:
            text = call.text if call is not None else f"{name}()"
            self._pending.append(
                self.clock.text_line(tracee.entered, tracee.label, text, result_text)
            )
        if not self._dirty:
            self._mark_dirty()

    def _event(self, tracee: Tracee, kind: str, text: str, value: dict[str, Any]) -> None:
        """Add an event: a signal delivered, an exit, a stop (a line of its own as strace
        prints it, or a JSON object with ``type`` ``kind``); it cuts a line begun."""
        if self.out is None or self.summary:
            return
        t = time.time()
        if self.json_lines:
            self._pending.append(event_json(t, tracee.cpid, tracee.pid, kind, value))
        else:
            if self._open is not None and self._open is not tracee:
                self._cut(self._open)
            self._pending.append(self.clock.line(t, tracee.label, text))
        if not self._dirty:
            self._mark_dirty()

    def _head(self, tracee: Tracee) -> str:
        """What strace prints of a syscall at its entry (``read(3, ``), decoded now from the
        copy taken at entry for a call decoded only at exit."""
        plan = tracee.plan
        assert plan is not None
        call = tracee.call
        if call is None:
            try:
                entry = self._entry_memory(tracee, plan, tracee.key) if plan.copies else None
                call = self.decode(entry or tracee.memory, plan.nr, tracee.key[2:8], entry=True)
            except Exception:  # noqa: BLE001 - the tracee is gone: its name is enough
                return f"{plan.name}("
        return call.head

    def _cut(self, tracee: Tracee) -> None:
        """End the line of a syscall in progress with ``<unfinished ...>`` (strace -f), stamped
        with its entry; its exit will print ``<... name resumed>``."""
        self._open = None
        if tracee.plan is None or tracee.unfinished:
            return
        tracee.unfinished = True
        self._pending.append(
            self.clock.line(tracee.entered, tracee.label, self._head(tracee) + " <unfinished ...>")
        )

    # Lines are gathered in a list and written, joined, at each flush: no write(2) per syscall,
    # and no TextIOWrapper.write either (it costs as much as formatting the line). So that a
    # reader still sees each line soon, the first line after a flush arms a 0.1 s timer; SIGALRM
    # flushes if the loop is blocked in waitpid (never inside a write: BufferedWriter is not
    # reentrant), otherwise it asks the loop to flush before it next blocks. At most 0.1 s of
    # lines wait in the list.

    def _mark_dirty(self) -> None:
        self._dirty = True
        signal.setitimer(signal.ITIMER_REAL, FLUSH_DELAY)

    def _on_alarm(self, signum: int, frame: object) -> None:
        if self._in_wait:
            self._flush()
        else:
            self._flush_due = self._attention = True

    def _flush(self) -> None:
        self._dirty = self._flush_due = False
        self._attention = bool(self._stop_reason)
        if self.out is not None:
            lines = self._pending
            try:
                if lines:
                    text = "".join(lines)
                    lines.clear()
                    self.out.write(text)
                self.out.flush()
            except (BrokenPipeError, ValueError):
                # The reader went away (``debugtool trace ... | head``): end the trace.
                self._on_signal(0, None)

    def _finish_unfinished(self, tracee: Tracee, ending: str) -> None:
        """Show a syscall that will not return to us: its tracee exited inside it (``= ?``,
        as strace) or we detach from it (``<detached ...>``). It counts as a syscall seen,
        unfinished."""
        plan = tracee.plan
        if plan is None or self.summary:
            return
        self.result.unfinished += 1
        if self._open is tracee:
            self._open = None
        if self.out is not None:
            if self.json_lines:
                self._emit(tracee, plan.name, "?", None)
            else:
                name = plan.name
                if tracee.unfinished:
                    text = f"<... {name} resumed>" + (") = ?" if ending == "= ?" else f" {ending}")
                else:
                    head = self._head(tracee)
                    text = (
                        f"{head} <unfinished ...>) = ?" if ending == "= ?" else f"{head} {ending}"
                    )
                self._pending.append(self.clock.line(time.time(), tracee.label, text))
                if not self._dirty:
                    self._mark_dirty()
        tracee.plan = None

    # -- detaching ------------------------------------------------------------------------

    def detach_all(self, timeout: float = 5.0) -> None:
        """Detach every tracee, delivering pending signals, and leave each running.

        A tracee we hold in a stop is detached at once; every other one is interrupted
        (PTRACE_INTERRUPT), its stop collected, and detached from that stop. New children
        reported meanwhile are detached too. After ``timeout`` the rest (stuck in
        uninterruptible sleep) are left to the kernel, which detaches them when we exit.
        """
        unfinished = [t for t in self.tracees.values() if t.plan is not None]
        pending = set(self.tracees)
        if self._held:
            self._detach(self._held, self._held_signal)
            pending.discard(self._held)
            self._held = 0
        for pid in list(pending):
            try:
                ptrace(PTRACE_INTERRUPT, pid)
            except OSError:
                pending.discard(pid)  # exited, or no longer ours
        detached: set[int] = set()
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            try:
                pid, status = os.waitpid(-1, WALL | os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                time.sleep(0.002)
                continue
            if pid == self._waker:
                self._waker = 0
                continue
            if status & 0xFF != 0x7F:
                pending.discard(pid)
                continue
            sig = (status >> 8) & 0xFF
            event = status >> 16
            deliver = 0
            if event in (PTRACE_EVENT_FORK, PTRACE_EVENT_VFORK, PTRACE_EVENT_CLONE):
                child = event_message(pid)
                if child and child not in detached:  # auto-attached: its first stop will come
                    pending.add(child)
                    self.result.pids.setdefault(
                        child, procfs.pid_in_namespace(child, self.pidns_level)
                    )
            elif event == 0 and status >> 8 != SYSCALL_STOP:
                deliver = sig  # a signal-delivery-stop: hand the signal on
            self._detach(pid, deliver)
            detached.add(pid)
            pending.discard(pid)
        for tracee in unfinished:  # printed after detaching: a broken output cannot stop that
            try:
                self._finish_unfinished(tracee, "<detached ...>")
            except (OSError, ValueError):
                break
        if pending:
            self.result.undetached = sorted(pending)
            self.result.warnings.append(
                f"processes {', '.join(map(str, sorted(pending)))} did not stop within "
                f"{timeout:.0f} s to be detached; the kernel detaches them when debugtool exits."
            )

    def _detach(self, pid: int, sig: int) -> None:
        try:
            ptrace(PTRACE_DETACH, pid, 0, sig)
        except OSError:
            pass  # exited meanwhile
        tracee = self.tracees.pop(pid, None)
        if tracee is not None:
            tracee.memory.close()
