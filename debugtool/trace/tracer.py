"""Syscall tracing of a container process: seize, trace like strace, and always detach cleanly.

Attach, interrupt and detach are raw ``ptrace`` calls through ctypes (python-ptrace 0.9.9 has no
``PTRACE_SEIZE``); decoding uses python-ptrace's ``PtraceSyscall`` and ``FunctionCallOptions``.
The loop drives ``waitpid(-1, __WALL)`` itself: python-ptrace's own multi-process wait polls with
sleeps (FINDINGS.md). Signals (Ctrl-C, SIGTERM) only set a flag and kill a small "waker" child,
whose exit wakes the blocking ``waitpid`` so the loop detaches at a point where it holds no
unprocessed stop; an exception from a signal handler mid-loop would lose a stop.

Speed (bench/bench_trace.py): every stop costs a waitpid and two ptrace calls, like strace.
Pointer arguments are copied at syscall entry and decoded after the tracee is resumed, decodes
are memoized, and output is block-buffered with a 0.1 s flush timer; with ``-e`` the syscalls
not shown are never decoded.

``PTRACE_SEIZE`` rather than ``PTRACE_ATTACH``: no SIGSTOP is sent, so nothing is left pending to
stop the target after detach, group-stops are reported as such, and a tracee can be stopped for
detaching with ``PTRACE_INTERRUPT``. ``PTRACE_O_EXITKILL`` is never set: if debugtool is killed
the kernel detaches its tracees and they run on (Documentation: ptrace(2), "Attaching and
detaching").
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import signal
import struct
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO, Any

from debugtool import procfs
from debugtool.errors import ContainerGone, DebugtoolError, PermissionDenied, UsageError

# ptrace(2) requests and options (linux/ptrace.h).
PTRACE_CONT = 7
PTRACE_DETACH = 17
PTRACE_SYSCALL = 24
PTRACE_SETOPTIONS = 0x4200
PTRACE_GETEVENTMSG = 0x4201
PTRACE_SEIZE = 0x4206
PTRACE_INTERRUPT = 0x4207
PTRACE_LISTEN = 0x4208
PTRACE_GET_SYSCALL_INFO = 0x420E

PTRACE_O_TRACESYSGOOD = 0x01
PTRACE_O_TRACEFORK = 0x02
PTRACE_O_TRACEVFORK = 0x04
PTRACE_O_TRACECLONE = 0x08
PTRACE_O_TRACEEXEC = 0x10

PTRACE_EVENT_FORK = 1
PTRACE_EVENT_VFORK = 2
PTRACE_EVENT_CLONE = 3
PTRACE_EVENT_EXEC = 4
PTRACE_EVENT_STOP = 128

PTRACE_SYSCALL_INFO_ENTRY = 1
PTRACE_SYSCALL_INFO_EXIT = 2

WALL = 0x40000000  # __WALL: threads and children alike
SYSCALL_STOP = signal.SIGTRAP | 0x80  # WSTOPSIG of a syscall-stop under PTRACE_O_TRACESYSGOOD
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)  # end the trace, detached
GROUP_STOP_SIGNALS = frozenset({signal.SIGSTOP, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU})

FLUSH_DELAY = 0.1  # seconds a written line may wait in the output buffer
FAULT_ENV = "DEBUGTOOL_TRACE_FAULT_AFTER"  # test hook: raise inside the loop after N stops

#: Syscall classes, as strace's ``%file``, ``%network``, ``%process``, ``%memory``, ``%signal``
#: (strace's sysent flags TF, TN, TP, TM, TS) for x86-64.
SYSCALL_CLASSES: dict[str, frozenset[str]] = {
    "file": frozenset(
        "open openat openat2 creat stat lstat newfstatat statx access faccessat faccessat2 "
        "chdir chmod fchmodat fchmodat2 chown lchown fchownat execve execveat link linkat unlink "
        "unlinkat symlink symlinkat readlink readlinkat rename renameat renameat2 mkdir mkdirat "
        "rmdir mknod mknodat truncate utime utimes utimensat futimesat mount umount2 swapon "
        "swapoff chroot pivot_root statfs acct getxattr lgetxattr setxattr lsetxattr listxattr "
        "llistxattr removexattr lremovexattr inotify_add_watch fanotify_mark name_to_handle_at "
        "uselib quotactl open_tree move_mount mount_setattr".split()
    ),
    "network": frozenset(
        "socket socketpair bind listen accept accept4 connect getsockname getpeername sendto "
        "recvfrom sendmsg recvmsg sendmmsg recvmmsg shutdown setsockopt getsockopt".split()
    ),
    "process": frozenset(
        "clone clone3 fork vfork execve execveat exit exit_group wait4 waitid kill tkill tgkill "
        "rt_sigqueueinfo rt_tgsigqueueinfo pidfd_send_signal".split()
    ),
    "memory": frozenset(
        "brk mmap munmap mremap mprotect madvise mlock mlock2 munlock mlockall munlockall msync "
        "mincore remap_file_pages mbind get_mempolicy set_mempolicy migrate_pages move_pages "
        "shmat shmdt pkey_mprotect process_madvise set_mempolicy_home_node".split()
    ),
    "signal": frozenset(
        "rt_sigaction rt_sigprocmask rt_sigreturn rt_sigsuspend rt_sigpending rt_sigtimedwait "
        "rt_sigqueueinfo rt_tgsigqueueinfo sigaltstack kill tkill tgkill pause signalfd "
        "signalfd4 pidfd_send_signal".split()
    ),
}

#: Syscalls whose pointer arguments are filled in by the kernel: decoded at syscall exit.
OUTPUT_ARGUMENTS = frozenset(
    "uname pipe pipe2 socketpair getsockname getpeername accept accept4 recvfrom getrlimit "
    "prlimit64 clock_gettime gettimeofday wait4 poll ppoll nanosleep clock_nanosleep "
    "rt_sigprocmask rt_sigaction".split()
)
#: Syscalls that return an address: their result is shown in hex.
ADDRESS_RESULTS = frozenset({"mmap", "mremap", "brk", "shmat"})
#: Syscalls that do not return when they succeed: shown at entry with ``= ?``.
NO_RETURN = frozenset({"exit", "exit_group"})


def syscall_names() -> dict[int, str]:
    """Return python-ptrace's syscall table for this CPU: ``{number: name}``."""
    from ptrace.syscall import SYSCALL_NAMES

    return dict(SYSCALL_NAMES)


def parse_filter(text: str | None, names: dict[int, str] | None = None) -> frozenset[int] | None:
    """Return the syscall numbers an ``-e`` expression selects, or None for all.

    Accepts comma-separated names and classes (``file``, ``network``, ``process``, ``memory``,
    ``signal``, also written ``%file``), optionally prefixed ``trace=`` as in strace.
    Raises ``UsageError`` naming an unknown syscall or class.
    """
    if text is None:
        return None
    names = names if names is not None else syscall_names()
    # A name can have several numbers (python-ptrace's x86-64 table lists execve as 59 and 520).
    numbers: dict[str, set[int]] = {}
    for nr, name in names.items():
        numbers.setdefault(name, set()).add(nr)
    expr = text.strip()
    if expr.startswith("trace="):
        expr = expr[len("trace=") :]
    if expr in ("", "all"):
        return None
    chosen: set[int] = set()
    for word in (w.strip() for w in expr.split(",")):
        if not word:
            continue
        klass = word.lstrip("%")
        if klass in SYSCALL_CLASSES:
            for name in SYSCALL_CLASSES[klass]:
                chosen.update(numbers.get(name, ()))
        elif word in numbers:
            chosen.update(numbers[word])
        else:
            raise UsageError(
                f"'{word}' is neither a syscall name nor a class in -e {text}.",
                f"Use syscall names (openat,connect) or classes: {', '.join(SYSCALL_CLASSES)}.",
            )
    return frozenset(chosen)


def _comm(pid: int) -> str:
    try:
        return procfs.comm(pid)
    except DebugtoolError:
        return "?"


def check_traceable(pid: int, own: set[int] | None = None) -> None:
    """Refuse a process that is debugtool itself or its ancestor, or that someone already traces.

    Raises ``UsageError`` (self-trace) or ``DebugtoolError`` (already traced), exit code 125.
    """
    own = procfs.ancestors() if own is None else own
    if pid in own:
        raise UsageError(
            f"process {pid} ({_comm(pid)}) is debugtool itself or one of its parents; "
            "tracing it would deadlock.",
            "Trace a container process instead.",
        )
    for tid in procfs.threads(pid) or [pid]:
        tracer = procfs.tracer_pid(tid)
        if tracer:
            raise DebugtoolError(
                f"process {pid} ({_comm(pid)}) is already traced by process {tracer} "
                f"({_comm(tracer)}); a process can have only one tracer.",
                f"Stop that tracer (PID {tracer}) first.",
            )


def yama_scope(path: str = "/proc/sys/kernel/yama/ptrace_scope") -> int | None:
    """Return the YAMA ptrace_scope setting, or None when YAMA is not in this kernel."""
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def attach_refused(pid: int, scope: int | None) -> PermissionDenied:
    """Return the error for an attach refused with EPERM, naming the setting that refuses it."""
    if scope == 3:
        why = (
            "kernel.yama.ptrace_scope is 3 (/proc/sys/kernel/yama/ptrace_scope): no process "
            "may attach with ptrace until the next reboot"
        )
        hint = "Tracing is impossible on this host until it reboots with a lower ptrace_scope."
    elif scope in (1, 2):
        why = (
            f"kernel.yama.ptrace_scope is {scope} (/proc/sys/kernel/yama/ptrace_scope) and "
            "this process lacks CAP_SYS_PTRACE, or a Linux security module (AppArmor, SELinux) "
            "forbids it"
        )
        hint = "Run debugtool as root with CAP_SYS_PTRACE, or check the LSM's audit log."
    else:
        why = (
            "a Linux security module (AppArmor, SELinux, or a seccomp policy on debugtool) "
            "forbids it"
        )
        hint = "Check the LSM's denials in the kernel log (dmesg, audit.log)."
    return PermissionDenied(
        f"attaching to process {pid} with ptrace was refused (EPERM): {why}.",
        need="CAP_SYS_PTRACE",
        hint=hint,
    )


# --- raw ptrace ----------------------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
_ptrace = _libc.ptrace
_ptrace.argtypes = (ctypes.c_long, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
_ptrace.restype = ctypes.c_long


# The same function without argtypes, for the hot loop: ctypes converts nothing (every pointer
# argument is passed as a ready c_void_p or byref), which saves about a microsecond a call.
_ptrace_fast = ctypes.CDLL(None, use_errno=True).ptrace
_ptrace_fast.restype = ctypes.c_long
_NULL = ctypes.c_void_p(0)


def ptrace(request: int, pid: int, addr: int = 0, data: int = 0) -> int:
    """Call ptrace(2); return its result. Raises ``OSError`` with the errno on failure."""
    result = _ptrace(request, pid, addr, data)
    if result == -1:
        err = ctypes.get_errno()
        if err:
            raise OSError(err, os.strerror(err))
    return result


class _SyscallInfo(ctypes.Structure):
    """struct ptrace_syscall_info (linux/ptrace.h): entry -> nr, args; exit -> rval, is_error."""

    _fields_ = (
        ("op", ctypes.c_uint8),
        ("pad", ctypes.c_uint8 * 3),
        ("arch", ctypes.c_uint32),
        ("instruction_pointer", ctypes.c_uint64),
        ("stack_pointer", ctypes.c_uint64),
        ("nr", ctypes.c_uint64),  # exit: rval (signed)
        ("args", ctypes.c_uint64 * 6),  # exit: args[0] & 0xff is is_error
        ("ret_data", ctypes.c_uint32),
        ("pad2", ctypes.c_uint32),
    )


# --- decoding with python-ptrace -----------------------------------------------------------


class TraceeMemory:
    """The memory of one tracee, read with pread on /proc/PID/mem, shaped like the slice of
    python-ptrace's ``PtraceProcess`` that its syscall formatting uses."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._fd: int | None = None

    def _mem(self) -> int:
        if self._fd is None:
            self._fd = os.open(f"/proc/{self.pid}/mem", os.O_RDONLY | os.O_CLOEXEC)
        return self._fd

    def close(self) -> None:
        """Close the mem file (after exec it belongs to the old address space)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _read(self, address: int, size: int) -> bytes:
        """Return up to ``size`` bytes at ``address`` (fewer at the end of a mapping).

        Raises ``OSError`` (EIO) when nothing there is mapped."""
        return os.pread(self._mem(), size, address)

    def readBytes(self, address: int, size: int) -> bytes:  # noqa: N802 - python-ptrace's API
        from ptrace.error import PtraceError

        try:
            data = self._read(address, size)
        except (OSError, OverflowError) as exc:
            raise PtraceError(f"cannot read {size} bytes at {address:#x}: {exc}") from None
        if len(data) < size:
            # A read across the end of a mapping stops there; pad so struct casts still work.
            data += b"\0" * (size - len(data))
        return data

    def readWord(self, address: int) -> int:  # noqa: N802
        return struct.unpack("<Q", self.readBytes(address, 8))[0]

    def readStruct(self, address: int, struct_type: Any) -> Any:  # noqa: N802
        value = struct_type.from_buffer_copy(self.readBytes(address, ctypes.sizeof(struct_type)))
        # A plain C scalar (an int * argument) is shown as its number, not as "c_int(3)".
        return value.value if isinstance(value, ctypes._SimpleCData) else value

    def readArray(self, address: int, basetype: Any, count: int) -> Any:  # noqa: N802
        array = basetype * count
        return array.from_buffer_copy(self.readBytes(address, ctypes.sizeof(array)))

    def readCString(self, address: int, max_size: int) -> tuple[bytes, bool]:  # noqa: N802
        from ptrace.error import PtraceError

        chunks: list[bytes] = []
        size = 0
        while size < max_size:
            # Read up to the end of the page only: the next page may not be mapped.
            step = min(4096 - (address + size) % 4096, max_size - size)
            try:
                data = self._read(address + size, step)
            except (OSError, OverflowError) as exc:
                if chunks:
                    break
                raise PtraceError(f"cannot read a string at {address:#x}: {exc}") from None
            end = data.find(b"\0")
            if end != -1:
                chunks.append(data[:end])
                return b"".join(chunks), False
            chunks.append(data)
            size += len(data)
            if len(data) < step:
                break
        return b"".join(chunks)[:max_size], True


#: Bytes copied at syscall entry from each pointer argument, at least: a sockaddr_un (110) or an
#: fd_set (128); strings take up to the -s limit. Output structs are decoded at exit instead.
SNAPSHOT_MIN = 128


class SnapshotMemory(TraceeMemory):
    """Tracee memory as it was at syscall entry: the bytes each pointer argument pointed at,
    copied before the tracee was resumed, so decoding can run while the tracee runs.

    A read elsewhere (a pointer inside a pointed-to array, as execve's argv) falls through to
    the live memory and sets ``nested``: such syscalls must be decoded before resuming.
    """

    def __init__(self, live: TraceeMemory, regions: list[tuple[int, bytes]], window: int) -> None:
        super().__init__(live.pid)
        self.live = live
        self.regions = regions
        self.window = window  # bytes copied from each pointer argument
        self.nested = False

    def _read(self, address: int, size: int) -> bytes:
        for start, data in self.regions:
            offset = address - start
            if 0 <= offset and offset + size <= self.window:
                if offset >= len(data):
                    raise OSError(errno.EIO, "not mapped at syscall entry")
                return data[offset : offset + size]
        self.nested = True
        return self.live._read(address, size)

    def close(self) -> None:
        pass  # the live memory's file is not ours


def pointer_arguments() -> dict[int, tuple[int, ...]]:
    """Return ``{syscall number: indexes of its pointer arguments}`` from python-ptrace's
    prototypes (only pointed-to memory can change once the tracee runs on)."""
    from ptrace.syscall import SYSCALL_NAMES, SYSCALL_PROTOTYPES

    table: dict[int, tuple[int, ...]] = {}
    for nr, name in SYSCALL_NAMES.items():
        prototype = SYSCALL_PROTOTYPES.get(name)
        if prototype:
            table[nr] = tuple(i for i, (kind, _) in enumerate(prototype[1]) if "*" in kind)
    return table


def decoder(string_max_length: int = 64) -> Callable[[TraceeMemory, int, Iterable[int]], str]:
    """Return ``decode(memory, nr, args) -> "name(arg, ...)"`` built on python-ptrace.

    Uses ``PtraceSyscall`` and ``FunctionCallOptions`` for the argument formats python-ptrace
    knows (paths, open flags, socket addresses, structs).
    """
    from ptrace.func_call import FunctionCall, FunctionCallOptions
    from ptrace.syscall import SYSCALL_NAMES, PtraceSyscall, SyscallArgument

    options = FunctionCallOptions(
        write_types=False,
        write_argname=False,
        replace_socketcall=True,
        string_max_length=string_max_length,
        write_address=False,
        max_array_count=20,
    )

    class Call(PtraceSyscall):
        """A PtraceSyscall built from PTRACE_GET_SYSCALL_INFO's numbers, not from getregs."""

        def __init__(self, memory: TraceeMemory, nr: int, args: Iterable[int]) -> None:
            FunctionCall.__init__(self, "syscall", options, SyscallArgument)
            self.process = memory
            self.restype = "long"
            self.result = None
            self.result_text = None
            self.instr_pointer = None
            self.syscall = nr
            self.name = SYSCALL_NAMES.get(nr, f"syscall_{nr}")
            self.readArguments(args)

    def decode(memory: TraceeMemory, nr: int, args: Iterable[int]) -> str:
        return Call(memory, nr, args).format()

    return decode


def format_result(name: str, rval: int, is_error: bool) -> tuple[str, str | None]:
    """Return the result as strace shows it (``-1 ENOENT (No such file or directory)``, ``3``,
    ``0x7f...``) and the errno name or None."""
    if is_error:
        code = -rval
        name_of = errno.errorcode.get(code)
        if name_of:
            return f"-1 {name_of} ({os.strerror(code)})", name_of
        return f"-1 (errno {code})", f"E{code}"
    if name in ADDRESS_RESULTS:
        return hex(rval & 0xFFFFFFFFFFFFFFFF), None
    return str(rval), None


# --- the session ---------------------------------------------------------------------------


@dataclass(slots=True)
class SyscallStats:
    """Counts for ``--summary``: calls, errors and seconds spent between entry and exit."""

    calls: int = 0
    errors: int = 0
    seconds: float = 0.0


@dataclass(slots=True)
class Tracee:
    """One traced thread: host and container PID, and the syscall it is inside, if any."""

    pid: int
    cpid: int
    memory: TraceeMemory
    nr: int = -1  # syscall entered and not yet left; -1 when none
    entered: float = 0.0
    text: str | None = None  # decoded at entry, printed at exit
    args: tuple[int, ...] = ()  # kept at entry when decoding waits for the exit
    plan: list[Any] = field(default_factory=list)  # how its current syscall is decoded


@dataclass
class TraceResult:
    """What a session saw: why it ended, the PIDs it traced, and per-syscall counts."""

    reason: str = ""
    printed: int = 0
    syscalls: int = 0
    pids: dict[int, int] = field(default_factory=dict)  # host PID -> container PID
    stats: dict[str, SyscallStats] = field(default_factory=dict)
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
        string_max_length: int = 64,
        pidns_level: int | None = None,
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
        self.decode = decoder(string_max_length)
        self.tracees: dict[int, Tracee] = {}
        self.result = TraceResult()
        self._stop_reason = ""
        self._waker = 0
        self._held = 0  # a tracee we hold in a stop (waited for, not yet resumed)
        self._held_signal = 0
        self._reaped: set[int] = set()  # exited tracees whose fork event may still come
        self._fault_after = int(os.environ.get(FAULT_ENV, "0") or 0)
        self._dirty = False  # lines written since the last flush
        self._flush_due = False
        self._in_wait = False
        self._attention = False  # _stop_reason or _flush_due: one test per stop in the loop
        self._second = -1
        self._second_text = ""

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
                _libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
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

    def _plans(self) -> dict[int, list[Any]]:
        """Return ``{nr: [name, how, pointer argument indexes, shows an address]}``; ``how``
        is "copy" (decode from an entry-time copy after resuming), "live" (decode before
        resuming: it follows pointers inside pointed-to memory, as execve's argv) or "exit"
        (the kernel fills its pointer arguments: decode at syscall exit)."""
        pointers = pointer_arguments()
        plans: dict[int, list[Any]] = {}
        for nr, name in self.names.items():
            how = "copy"
            if name in OUTPUT_ARGUMENTS:
                how = "exit"
            elif name in ("execve", "execveat"):
                how = "live"
            plans[nr] = [name, how, pointers.get(nr, ()), name in ADDRESS_RESULTS]
        return plans

    def _loop(self) -> None:
        # The hot path: each stop costs a waitpid and two ptrace calls, and as little Python as
        # can be. Work that does not need the tracee stopped is done after resuming it.
        waitpid = os.waitpid
        raw = _ptrace_fast
        resume_request = PTRACE_SYSCALL
        null = _NULL
        info = _SyscallInfo()
        info_ref = ctypes.byref(info)
        info_size = ctypes.c_void_p(ctypes.sizeof(info))
        # One unpack per stop instead of several ctypes field reads: (nr, args) or
        # (rval, is_error) at their offset in struct ptrace_syscall_info.
        entry_fields = struct.Struct("<Q6Q").unpack_from
        exit_fields = struct.Struct("<qB").unpack_from
        stamp = self._stamp
        json_lines = self.json_lines
        write = out.write if (out := self.out) is not None else None
        tracees = self.tracees
        only = self.only
        summary = self.summary
        count = self.count or 0
        now = time.time
        fault_after = self._fault_after
        stops = 0
        waker = self._waker
        result = self.result
        decode = self.decode
        pread = os.pread
        plans = self._plans()
        window = max(SNAPSHOT_MIN, self.string_max_length + 1)
        decoded: dict[tuple[Any, ...], str] = {}  # (nr, args, pointed-to bytes) -> text
        counted: dict[int, SyscallStats] = {}  # by number; by name once the loop ends
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
                    pid, status = waitpid(-1, WALL)
                except ChildProcessError:
                    self._in_wait = False
                    result.reason = "exited"
                    return
                self._in_wait = False
                if pid == waker:
                    self._waker = 0
                    result.reason = self._stop_reason or "duration"
                    return
                if status & 0xFF != 0x7F:  # exited or killed
                    self._gone(pid)
                    if not tracees:
                        result.reason = "exited"
                    continue
                self._held = pid
                stops += 1
                if fault_after and stops >= fault_after:
                    raise RuntimeError(f"{FAULT_ENV}: injected fault after {stops} stops")
                if status >> 8 != SYSCALL_STOP:
                    self._other_stop(pid, status)
                    continue
                tracee = tracees.get(pid) or self._add(pid)
                if raw(PTRACE_GET_SYSCALL_INFO, pid, info_size, info_ref) <= 0:
                    self._resume(pid, resume_request, 0)  # killed meanwhile: its exit is next
                    continue
                op = info.op
                if op == PTRACE_SYSCALL_INFO_ENTRY:
                    fields = entry_fields(info, 24)
                    nr = fields[0]
                    if only is not None and nr not in only:
                        tracee.nr = -1
                        raw(resume_request, pid, null, null)
                        self._held = 0
                        continue
                    tracee.nr = nr
                    tracee.entered = now()
                    if summary:
                        raw(resume_request, pid, null, null)
                        self._held = 0
                        continue
                    plan = plans.get(nr)
                    if plan is None:
                        plan = plans[nr] = [f"syscall_{nr}", "copy", (), False]
                    tracee.plan = plan
                    args = fields[1:]
                    how = plan[1]
                    if how == "copy":
                        # Copy what the pointer arguments point at, resume, then decode from
                        # the copy while the tracee runs; a decode seen before is looked up.
                        key: tuple[Any, ...] = fields
                        memory = tracee.memory
                        for index in plan[2]:
                            if args[index]:
                                try:
                                    data = pread(memory._fd or memory._mem(), window, args[index])
                                except (OSError, OverflowError):
                                    data = b""
                                key += (data,)
                        raw(resume_request, pid, null, null)
                        self._held = 0
                        text = decoded.get(key)
                        if text is None:
                            # The key holds one copy per non-NULL pointer, after the numbers.
                            addresses = [args[i] for i in plan[2] if args[i]]
                            regions = list(zip(addresses, key[7:], strict=True))
                            copy = SnapshotMemory(memory, regions, window)
                            text = decode(copy, nr, args)
                            if copy.nested:
                                plan[1] = "live"  # decode it before resuming from now on
                            else:
                                if len(decoded) >= 50_000:
                                    decoded.clear()
                                decoded[key] = text
                        tracee.text = text
                    elif how == "exit":
                        tracee.text = None  # decoded at exit, once the kernel filled them in
                        tracee.args = args
                        raw(resume_request, pid, null, null)
                        self._held = 0
                    else:
                        tracee.text = decode(tracee.memory, nr, args)
                        raw(resume_request, pid, null, null)
                        self._held = 0
                    if plan[0] in NO_RETURN:
                        self._emit(tracee, plan[0], "?", None)
                        tracee.nr = -1
                elif op == PTRACE_SYSCALL_INFO_EXIT:
                    nr = tracee.nr
                    if nr < 0:  # not printed, or entered before we attached
                        raw(resume_request, pid, null, null)
                        self._held = 0
                        continue
                    rval, is_error = exit_fields(info, 24)
                    text = tracee.text
                    if text is None and not summary:
                        text = decode(tracee.memory, nr, tracee.args)
                    # Resume first: the tracee runs while we count and write the line.
                    raw(resume_request, pid, null, null)
                    self._held = 0
                    tracee.nr = -1
                    entry = counted.get(nr)
                    if entry is None:
                        entry = counted[nr] = SyscallStats()
                    entry.calls += 1
                    if is_error:
                        entry.errors += 1
                    if summary:
                        entry.seconds += now() - tracee.entered
                    if write is not None:
                        plan = tracee.plan
                        if json_lines or is_error or plan[3]:
                            tracee.text = text
                            self._emit(tracee, plan[0], None, (rval, bool(is_error)))
                        else:  # the common case, inlined
                            write(
                                f"{stamp(tracee.entered)} [pid {tracee.cpid:>5}] {text} = {rval}\n"
                            )
                            if not self._dirty:
                                self._mark_dirty()
                    if count:
                        result.syscalls += 1
                        if result.syscalls >= count:
                            result.reason = "count"
                            return
                else:  # PTRACE_SYSCALL_INFO_NONE or _SECCOMP: nothing to decode
                    raw(resume_request, pid, null, null)
                    self._held = 0
        finally:
            names = self.names
            for nr, entry in counted.items():
                self.result.stats[names.get(nr) or f"syscall_{nr}"] = entry
            if not count:
                result.syscalls = sum(e.calls for e in counted.values())

    def _other_stop(self, pid: int, status: int) -> None:
        """Handle a ptrace event, a group-stop or a signal-delivery-stop, then resume."""
        sig = (status >> 8) & 0xFF
        event = status >> 16
        if event in (PTRACE_EVENT_FORK, PTRACE_EVENT_VFORK, PTRACE_EVENT_CLONE):
            child = _event_message(pid)
            if child in self._reaped:
                # The child ran and exited before its parent's fork event was reported.
                self._reaped.discard(child)
            elif child and child not in self.tracees:
                self._add(child)  # auto-attached; its first stop arrives separately
        elif event == PTRACE_EVENT_EXEC:
            former = _event_message(pid)
            if former and former != pid:  # a non-leader thread exec'd: it took the leader's PID
                old = self.tracees.pop(former, None)
                if old is not None:
                    old.memory.close()
            tracee = self.tracees.get(pid) or self._add(pid)
            tracee.memory.close()  # the old address space is gone
            tracee.cpid = procfs.pid_in_namespace(pid, self.pidns_level) or tracee.cpid
        elif event == PTRACE_EVENT_STOP:
            if pid not in self.tracees:
                self._add(pid)
            if sig in GROUP_STOP_SIGNALS:
                # A real group-stop (someone sent SIGSTOP): stay stopped, but keep watching.
                self._resume(pid, PTRACE_LISTEN, 0)
                return
        elif event == 0:
            # Signal-delivery-stop: deliver the signal as if we were not here.
            if pid not in self.tracees:
                self._add(pid)
            self._held_signal = sig
            self._resume(pid, PTRACE_SYSCALL, sig)
            return
        self._resume(pid, PTRACE_SYSCALL, 0)

    def _gone(self, pid: int) -> None:
        """Forget a tracee that exited; drop any other that no longer exists or is no longer
        ours, so the loop never waits for a process that cannot report."""
        gone = self.tracees.pop(pid, None)
        if gone is not None:
            self._finish_unfinished(gone)
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

    def _stamp(self, t: float) -> str:
        second = int(t)
        if second != self._second:
            self._second = second
            self._second_text = time.strftime("%H:%M:%S", time.localtime(second))
        return f"{self._second_text}.{int((t - second) * 1e6):06d}"

    def _emit(
        self,
        tracee: Tracee,
        name: str,
        shown: str | None,
        outcome: tuple[int, bool] | None,
    ) -> None:
        """Write one line (or JSON object) for a finished syscall, or ``shown`` for one that
        did not return."""
        out = self.out
        if out is None:
            return
        self.result.printed += 1
        call = tracee.text or f"{name}()"
        if outcome is None:
            result_text, errname, rval = shown or "?", None, None
        else:
            rval = outcome[0]
            result_text, errname = format_result(name, rval, outcome[1])
        if self.json_lines:
            out.write(
                json.dumps(
                    {
                        "time": round(tracee.entered, 6),
                        "pid": tracee.cpid,
                        "host_pid": tracee.pid,
                        "syscall": name,
                        "call": call,
                        "return": rval,
                        "errno": errname,
                        "result": result_text,
                    }
                )
                + "\n"
            )
        else:
            out.write(
                f"{self._stamp(tracee.entered)} [pid {tracee.cpid:>5}] {call} = {result_text}\n"
            )
        if not self._dirty:
            self._mark_dirty()

    # Output is block-buffered: no write(2) per syscall. So that a reader still sees each line
    # soon, the first unflushed line arms a 0.1 s timer; SIGALRM flushes the buffer if the loop
    # is blocked in waitpid (never inside a write: BufferedWriter is not reentrant), otherwise
    # it asks the loop to flush before it next blocks.

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
            try:
                self.out.flush()
            except (BrokenPipeError, ValueError):
                # The reader went away (``debugtool trace ... | head``): end the trace.
                self._on_signal(0, None)

    def _finish_unfinished(self, tracee: Tracee) -> None:
        if tracee.nr >= 0 and not self.summary:
            self._emit(tracee, self.names.get(tracee.nr, "?"), "? <unfinished ...>", None)
            tracee.nr = -1

    # -- detaching ------------------------------------------------------------------------

    def detach_all(self, timeout: float = 5.0) -> None:
        """Detach every tracee, delivering pending signals, and leave each running.

        A tracee we hold in a stop is detached at once; every other one is interrupted
        (PTRACE_INTERRUPT), its stop collected, and detached from that stop. New children
        reported meanwhile are detached too. After ``timeout`` the rest (stuck in
        uninterruptible sleep) are left to the kernel, which detaches them when we exit.
        """
        unfinished = [t for t in self.tracees.values() if t.nr >= 0]
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
                child = _event_message(pid)
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
                self._finish_unfinished(tracee)
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


def _event_message(pid: int) -> int:
    """Return PTRACE_GETEVENTMSG (a new child's PID, or an exec'ing thread's former TID);
    0 when the tracee is gone."""
    message = ctypes.c_ulong()
    try:
        ptrace(PTRACE_GETEVENTMSG, pid, 0, ctypes.addressof(message))
    except OSError:
        return 0
    return message.value


def summary_table(stats: dict[str, SyscallStats], out: IO[str]) -> None:
    """Write ``--summary`` like ``strace -c``: % time, seconds, usecs/call, calls, errors.

    Time is wall-clock time between syscall entry and exit (as ``strace -c -w``).
    """
    total = sum(s.seconds for s in stats.values()) or 1e-12
    rows = sorted(stats.items(), key=lambda kv: (-kv[1].seconds, -kv[1].calls, kv[0]))
    out.write("% time     seconds  usecs/call     calls    errors syscall\n")
    out.write("------ ----------- ----------- --------- --------- ----------------\n")
    for name, s in rows:
        usecs = int(s.seconds * 1e6 / s.calls) if s.calls else 0
        errors = str(s.errors) if s.errors else ""
        out.write(
            f"{100 * s.seconds / total:6.2f} {s.seconds:11.6f} {usecs:11d} {s.calls:9d} "
            f"{errors:>9} {name}\n"
        )
    out.write("------ ----------- ----------- --------- --------- ----------------\n")
    calls = sum(s.calls for s in stats.values())
    failed = sum(s.errors for s in stats.values())
    secs = sum(s.seconds for s in stats.values())
    usecs = int(secs * 1e6 / calls) if calls else 0
    out.write(f"100.00 {secs:11.6f} {usecs:11d} {calls:9d} {failed or '':>9} total\n")


def summary_json(stats: dict[str, SyscallStats]) -> list[dict[str, Any]]:
    """Return ``--summary`` rows as dicts (syscall, calls, errors, seconds), busiest first."""
    rows = sorted(stats.items(), key=lambda kv: (-kv[1].seconds, -kv[1].calls, kv[0]))
    return [
        {"syscall": n, "calls": s.calls, "errors": s.errors, "seconds": round(s.seconds, 6)}
        for n, s in rows
    ]
