"""The one syscall table, the ``-e`` classes, and syscalls decoded and shown as strace shows them.

``syscall_names`` is python-ptrace's table for the CPU debugtool runs on: the tracer, its ``-e``
filter and the console's completion all read it. Arguments are decoded with python-ptrace's
``PtraceSyscall`` and ``FunctionCallOptions`` from the numbers ``PTRACE_GET_SYSCALL_INFO`` gives.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from debugtool.errors import UsageError

if TYPE_CHECKING:
    from debugtool.trace.memory import TraceeMemory

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


#: Where ``read_pointers`` places each fake pointer argument, and how far apart.
_PROBE_BASE = 0x10_0000_0000
_PROBE_STRIDE = 0x1_0000_0000


def read_pointers(
    decode: Callable[[TraceeMemory, int, Iterable[int]], str], nr: int, pointers: tuple[int, ...]
) -> tuple[int, ...]:
    """Return which of syscall ``nr``'s pointer arguments ``decode`` reads memory from.

    Decodes it over zeroed memory, each pointer argument at a fake address of its own, and
    notes the addresses read. ``read``'s buffer, for one, is shown as an address and never
    read: the tracer need not copy it at entry. Some reads depend on another argument
    (python-ptrace shows a ``write`` buffer only to fds 0-2, a ``setsockopt`` value only when
    its length is 4), so every other argument is tried as 1 and as 4. A decode that fails
    counts every pointer as read.
    """
    from debugtool.trace.memory import ProbeMemory

    probe = ProbeMemory()
    for other in (1, 4):
        args = [other] * 6
        for index in pointers:
            args[index] = _PROBE_BASE + index * _PROBE_STRIDE
        try:
            decode(probe, nr, args)
        except Exception:  # noqa: BLE001 - python-ptrace's formatters raise what they raise
            return pointers
    hit = {(address - _PROBE_BASE) // _PROBE_STRIDE for address in probe.read}
    return tuple(index for index in pointers if index in hit)


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
