"""The raw ptrace(2) binding through ctypes: requests, options, events, the syscall-info struct.

python-ptrace 0.9.9 has no ``PTRACE_SEIZE``, ``PTRACE_INTERRUPT``, ``PTRACE_LISTEN`` or
``PTRACE_GET_SYSCALL_INFO``, so these calls go straight to libc; python-ptrace is used only to
decode (``decode.py``).
"""

from __future__ import annotations

import ctypes
import os
import signal

# ptrace(2) requests and options (linux/ptrace.h).
PTRACE_CONT = 7
PTRACE_DETACH = 17
PTRACE_SYSCALL = 24
PTRACE_SETOPTIONS = 0x4200
PTRACE_GETEVENTMSG = 0x4201
PTRACE_GETSIGINFO = 0x4202
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
SYSCALL_STOP_STATUS = SYSCALL_STOP << 8 | 0x7F  # a syscall-stop's whole waitpid status

PR_SET_PDEATHSIG = 1  # prctl(2)

_libc = ctypes.CDLL(None, use_errno=True)
_ptrace = _libc.ptrace
_ptrace.argtypes = (ctypes.c_long, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
_ptrace.restype = ctypes.c_long


# The same function for the hot loop, called twice a syscall-stop. Without argtypes ctypes
# converts little: a Python int goes as a C int (libffi widens it to the register, enough for a
# size or 0) and a byref as its pointer, with no c_void_p boxed per call, which saves about a
# microsecond a call over argtypes. Through PyDLL it keeps the GIL, which the loop's requests
# (PTRACE_GET_SYSCALL_INFO, PTRACE_SYSCALL) never block to need released, saving its release
# and retake (about 5% of the tracer's CPU on bench_trace). Call it as
# ptrace_fast(request, pid, 0, 0) or ptrace_fast(request, pid, size, byref(SyscallInfo()));
# it raises nothing and leaves errno unread.
ptrace_fast = ctypes.PyDLL(None).ptrace
ptrace_fast.restype = ctypes.c_long


def ptrace(request: int, pid: int, addr: int = 0, data: int = 0) -> int:
    """Call ptrace(2); return its result. Raises ``OSError`` with the errno on failure."""
    result = _ptrace(request, pid, addr, data)
    if result == -1:
        err = ctypes.get_errno()
        if err:
            raise OSError(err, os.strerror(err))
    return result


class SyscallInfo(ctypes.Structure):
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


def event_message(pid: int) -> int:
    """Return PTRACE_GETEVENTMSG (a new child's PID, or an exec'ing thread's former TID);
    0 when the tracee is gone."""
    message = ctypes.c_ulong()
    try:
        ptrace(PTRACE_GETEVENTMSG, pid, 0, ctypes.addressof(message))
    except OSError:
        return 0
    return message.value


def stack_pointer(pid: int) -> int | None:
    """Return the stack pointer of a tracee stopped at a syscall, or None when it is not."""
    info = SyscallInfo()
    try:
        size = ptrace(PTRACE_GET_SYSCALL_INFO, pid, ctypes.sizeof(info), ctypes.addressof(info))
    except OSError:
        return None
    return info.stack_pointer if size > 0 else None


def signal_info(pid: int) -> bytes | None:
    """Return the ``siginfo_t`` (128 bytes) of the signal a tracee is stopped for
    (PTRACE_GETSIGINFO), or None when it has none."""
    buffer = ctypes.create_string_buffer(128)
    try:
        ptrace(PTRACE_GETSIGINFO, pid, 0, ctypes.addressof(buffer))
    except OSError:
        return None
    return buffer.raw


def set_parent_death_signal(sig: int) -> None:
    """Have the kernel send this process ``sig`` when its parent exits (prctl PR_SET_PDEATHSIG)."""
    _libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)
