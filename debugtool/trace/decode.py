"""The one syscall table, the ``-e`` classes, and syscalls decoded as strace decodes them.

``syscall_names`` is python-ptrace's table for the CPU debugtool runs on: the tracer, its ``-e``
filter and the console's completion all read it. ``SIGNATURES`` says what each argument of a
syscall is (a path, open flags, a socket address, a signal...) and which ones the kernel fills
in, so are shown at syscall exit; ``decoder`` turns the numbers ``PTRACE_GET_SYSCALL_INFO`` gives
into a ``Call``: each argument as strace prints it and as a value for ``--json``. A syscall with
no signature here is shown with python-ptrace's prototype: pointers in hex, numbers in decimal.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any

from debugtool.errors import UsageError
from debugtool.record import record
from debugtool.trace import formats

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from debugtool.trace.memory import TraceeMemory

    #: Per syscall number, for the decoder: its name, each argument's (index, formatter, spec,
    #: output: None for a formatter that takes no ``output``), how many are known at entry,
    #: how many in all.
    Steps = tuple[str, tuple[tuple[int, Callable[..., Any], str, bool | None], ...], int, int]

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


# --- what each syscall's arguments are -------------------------------------------------------

#: Each syscall's arguments, by kind; ``>`` marks one the kernel fills in (shown at exit, and
#: every argument after it with it, as strace does); ``:N`` names the argument that gives a
#: buffer's length (``:ret`` the result, ``:*N`` the value argument N points at).
SIGNATURES: dict[str, str] = {
    # file
    "open": "path oflags openmode",
    "openat": "dirfd path oflags openmode",
    "creat": "path mode",
    "close": "fd",
    "read": "fd >buf:ret ulong",
    "pread64": "fd >buf:ret ulong long",
    "write": "fd buf:2 ulong",
    "pwrite64": "fd buf:2 ulong long",
    "lseek": "fd long whence",
    "dup": "fd",
    "dup2": "fd fd",
    "dup3": "fd fd fdflags",
    "fcntl": "fd fcntlcmd fcntlarg",
    "ioctl": "fd hex ptr",
    "pipe": ">fdpair",
    "pipe2": ">fdpair fdflags",
    "stat": "path >stat",
    "lstat": "path >stat",
    "fstat": "fd >stat",
    "newfstatat": "dirfd path >stat atflags",
    "access": "path amode",
    "faccessat": "dirfd path amode",
    "faccessat2": "dirfd path amode atflags",
    "chdir": "path",
    "fchdir": "fd",
    "chroot": "path",
    "mkdir": "path mode",
    "mkdirat": "dirfd path mode",
    "rmdir": "path",
    "unlink": "path",
    "unlinkat": "dirfd path atflags",
    "rename": "path path",
    "renameat": "dirfd path dirfd path",
    "link": "path path",
    "linkat": "dirfd path dirfd path atflags",
    "symlink": "path path",
    "symlinkat": "path dirfd path",
    "readlink": "path >buf:ret ulong",
    "readlinkat": "dirfd path >buf:ret ulong",
    "chmod": "path mode",
    "fchmod": "fd mode",
    "fchmodat": "dirfd path mode",
    "chown": "path int int",
    "lchown": "path int int",
    "fchown": "fd int int",
    "fchownat": "dirfd path int int atflags",
    "truncate": "path long",
    "ftruncate": "fd long",
    "umask": "mode",
    "getcwd": ">str:ret ulong",
    "execve": "path argv envp",
    "execveat": "dirfd path argv envp atflags",
    "sendfile": "fd fd ptr ulong",
    # network
    "socket": "domain socktype sockproto",
    "socketpair": "domain socktype sockproto >fdpair",
    "connect": "fd sockaddr:2 uint",
    "bind": "fd sockaddr:2 uint",
    "listen": "fd int",
    "accept": "fd >sockaddr:*2 socklen",
    "accept4": "fd >sockaddr:*2 socklen sockflags",
    "getsockname": "fd >sockaddr:*2 socklen",
    "getpeername": "fd >sockaddr:*2 socklen",
    "shutdown": "fd shuthow",
    "setsockopt": "fd solevel sockopt optval:4 uint",
    "getsockopt": "fd solevel sockopt >optval:*4 socklen",
    "sendto": "fd buf:2 ulong msgflags sockaddr:5 uint",
    "recvfrom": "fd >buf:ret ulong msgflags sockaddr:*5 socklen",
    # process
    "clone": "clone",
    "fork": "",
    "vfork": "",
    "exit": "int",
    "exit_group": "int",
    "wait4": "pid >waitstatus waitoptions ptr",
    "kill": "pid signal",
    "tkill": "pid signal",
    "tgkill": "pid pid signal",
    "getpid": "",
    "getppid": "",
    "gettid": "",
    "set_tid_address": "ptr",
    "set_robust_list": "ptr ulong",
    "rseq": "ptr hex int hex",
    "prlimit64": "pid rlimitres rlimit >rlimit",
    "getrlimit": "rlimitres >rlimit",
    "setrlimit": "rlimitres rlimit",
    "poll": "pollfds:1 uint int",
    "ppoll": "pollfds:1 uint timespec sigset ulong",
    # signal
    "rt_sigaction": "signal sigaction >sigaction ulong",
    "rt_sigprocmask": "sighow sigset >sigset ulong",
    "rt_sigreturn": "sigreturn",
    "rt_sigsuspend": "sigset ulong",
    "pause": "",
    # time
    "nanosleep": "timespec >timespec",
    "clock_nanosleep": "clockid int timespec >timespec",
    "getrandom": ">hexbuf:ret ulong grndflags",
}


@record(slots=True)
class Call:
    """One syscall decoded: its arguments as strace prints them (``texts``) and as values for
    JSON (``values``: numbers, names, strings, dicts for structs); ``split`` of them were
    known at entry (the rest are shown only at exit, or after ``<... name resumed>``)."""

    name: str
    texts: list[str]
    values: list[Any]
    split: int
    more: bool = False  # decoded at entry only: arguments follow, shown at exit
    text: str = ""  # ``name(arg, arg)`` as strace prints it: made once, written per syscall

    def __post_init__(self) -> None:
        if not self.text:
            self.text = f"{self.name}({', '.join(self.texts)})"

    @property
    def head(self) -> str:
        """What strace prints at entry, before `` <unfinished ...>``: ``read(3, ``."""
        shown = ", ".join(self.texts[: self.split])
        if self.split < len(self.texts) or self.more:
            return f"{self.name}({shown}, " if self.split else f"{self.name}("
        return f"{self.name}({shown}"

    @property
    def tail(self) -> str:
        """What strace prints after ``<... name resumed>``: ``"data", 4096)``."""
        return ", ".join(self.texts[self.split :]) + ")"


def _signed(value: int, bits: int = 32) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


class _Context:
    """What argument formatters see: the six arguments, the memory at entry and at exit, the
    result (None at entry) and the string limit."""

    __slots__ = ("args", "memory", "live", "rval", "failed", "limit")

    def __init__(
        self,
        args: Sequence[int],
        memory: TraceeMemory,
        live: TraceeMemory,
        rval: int | None,
        failed: bool,
        limit: int,
    ) -> None:
        self.args, self.memory, self.live = args, memory, live
        self.rval, self.failed, self.limit = rval, failed, limit

    def read(self, address: int, size: int, output: bool = False) -> bytes | None:
        """Return ``size`` bytes at ``address`` (of the memory at exit when ``output``), or
        None when it cannot be read."""
        try:
            return (self.live if output else self.memory).readBytes(address, size)
        except Exception:  # noqa: BLE001 - python-ptrace's PtraceError, OSError
            return None

    def string(self, address: int, limit: int, output: bool = False) -> tuple[bytes, bool] | None:
        """Return the NUL-terminated string at ``address``, at most ``limit`` bytes, and
        whether it was cut; None when it cannot be read."""
        try:
            return (self.live if output else self.memory).readCString(address, limit)
        except Exception:  # noqa: BLE001
            return None


def _ptr(value: int) -> str:
    return hex(value) if value else "NULL"


Shown = tuple[str, Any]  # an argument's text and value; None: not shown at all (open's mode)


def _length(ctx: _Context, spec: str, output: bool) -> int | None:
    """The length a ``:N`` / ``:ret`` / ``:*N`` suffix names."""
    if spec == "ret":
        return ctx.rval if ctx.rval is not None and not ctx.failed else None
    if spec.startswith("*"):
        pointer = ctx.args[int(spec[1:])]
        data = ctx.read(pointer, 4, output) if pointer else None
        return struct.unpack("<i", data)[0] if data else None
    return ctx.args[int(spec)]


def _fmt_int(ctx: _Context, i: int, spec: str) -> Shown:
    v = _signed(ctx.args[i])
    return str(v), v


def _fmt_long(ctx: _Context, i: int, spec: str) -> Shown:
    v = _signed(ctx.args[i], 64)
    return str(v), v


def _fmt_ulong(ctx: _Context, i: int, spec: str) -> Shown:
    return str(ctx.args[i]), ctx.args[i]


def _fmt_hex(ctx: _Context, i: int, spec: str) -> Shown:
    return hex(ctx.args[i] & 0xFFFFFFFF), ctx.args[i] & 0xFFFFFFFF


def _fmt_ptr(ctx: _Context, i: int, spec: str) -> Shown:
    return _ptr(ctx.args[i]), ctx.args[i]


def _fmt_dirfd(ctx: _Context, i: int, spec: str) -> Shown:
    v = _signed(ctx.args[i])
    return ("AT_FDCWD", "AT_FDCWD") if v == formats.AT_FDCWD else (str(v), v)


def _fmt_path(ctx: _Context, i: int, spec: str) -> Shown:
    # strace shows a whole path (up to PATH_MAX), whatever -s says.
    address = ctx.args[i]
    got = ctx.string(address, 4096) if address else None
    if got is None:
        return _ptr(address), address
    data, cut = got
    return formats.quote(data) + ("..." if cut else ""), formats.text_of(data)


def _fmt_str(ctx: _Context, i: int, spec: str) -> Shown:
    address = ctx.args[i]
    output = spec == "ret"
    if output and (ctx.rval is None or ctx.failed):
        return _ptr(address), address
    got = ctx.string(address, ctx.limit, output) if address else None
    if got is None:
        return _ptr(address), address
    data, cut = got
    return formats.quote(data) + ("..." if cut else ""), formats.text_of(data)


def _buffer(ctx: _Context, i: int, spec: str, output: bool, hexstr: bool = False) -> Shown:
    address = ctx.args[i]
    size = _length(ctx, spec, output)
    if not address or size is None or size < 0:
        return _ptr(address), address
    data = ctx.read(address, min(size, ctx.limit), output)
    if data is None:
        return _ptr(address), address
    text = formats.quote(data, hexstr) + ("..." if size > ctx.limit else "")
    return text, formats.text_of(data)


def _fmt_buf(ctx: _Context, i: int, spec: str) -> Shown:
    return _buffer(ctx, i, spec, output=spec == "ret")


def _fmt_hexbuf(ctx: _Context, i: int, spec: str) -> Shown:
    return _buffer(ctx, i, spec, output=True, hexstr=True)


def _fmt_oflags(ctx: _Context, i: int, spec: str) -> Shown:
    text = formats.open_flags(ctx.args[i])
    return text, text


def _fmt_openmode(ctx: _Context, i: int, spec: str) -> Shown | None:
    # Shown only when the flags before it create a file, as strace does.
    if not ctx.args[i - 1] & (formats.O_CREAT | formats.O_TMPFILE):
        return None
    return _fmt_mode(ctx, i, spec)


def _fmt_mode(ctx: _Context, i: int, spec: str) -> Shown:
    mode = ctx.args[i] & 0o7777
    return formats.octal(mode), formats.octal(mode)


def _named(text: str) -> Shown:
    return text, text


def _fmt_fdflags(ctx: _Context, i: int, spec: str) -> Shown:
    return _named(formats.flags(ctx.args[i] & 0xFFFFFFFF, formats.OPEN_FLAGS))


_RLIMITS = (
    "RLIMIT_CPU RLIMIT_FSIZE RLIMIT_DATA RLIMIT_STACK RLIMIT_CORE RLIMIT_RSS RLIMIT_NPROC "
    "RLIMIT_NOFILE RLIMIT_MEMLOCK RLIMIT_AS RLIMIT_LOCKS RLIMIT_SIGPENDING RLIMIT_MSGQUEUE "
    "RLIMIT_NICE RLIMIT_RTPRIO RLIMIT_RTTIME"
).split()


def _fmt_rlimitres(ctx: _Context, i: int, spec: str) -> Shown:
    res = ctx.args[i] & 0xFFFFFFFF
    return _named(_RLIMITS[res] if res < len(_RLIMITS) else str(res))


def _rlim(value: int) -> str:
    # strace: RLIM64_INFINITY, or a multiple of 1024 as N*1024
    if value == 0xFFFFFFFFFFFFFFFF:
        return "RLIM64_INFINITY"
    return f"{value // 1024}*1024" if value and value % 1024 == 0 else str(value)


def _fmt_rlimit(ctx: _Context, i: int, spec: str, output: bool = False) -> Shown:
    address = ctx.args[i]
    if not address:
        return "NULL", None
    if output and (ctx.rval != 0 or ctx.failed):
        return hex(address), address
    data = ctx.read(address, 16, output)
    if data is None:
        return hex(address), address
    cur, top = struct.unpack("<QQ", data)
    value = {"rlim_cur": _rlim(cur), "rlim_max": _rlim(top)}
    return f"{{rlim_cur={value['rlim_cur']}, rlim_max={value['rlim_max']}}}", value


_POLL_EVENTS = (
    ("POLLIN", 0x1),
    ("POLLPRI", 0x2),
    ("POLLOUT", 0x4),
    ("POLLERR", 0x8),
    ("POLLHUP", 0x10),
    ("POLLNVAL", 0x20),
    ("POLLRDNORM", 0x40),
    ("POLLRDBAND", 0x80),
    ("POLLWRNORM", 0x100),
    ("POLLWRBAND", 0x200),
    ("POLLMSG", 0x400),
    ("POLLRDHUP", 0x2000),
)


def _fmt_pollfds(ctx: _Context, i: int, spec: str) -> Shown:
    address = ctx.args[i]
    count = ctx.args[int(spec)]
    if not address:
        return "NULL", None
    data = ctx.read(address, 8 * min(count, 32))
    if data is None or not count:
        return hex(address), address
    items = []
    values = []
    for n in range(min(count, 32)):
        fd, events, _ = struct.unpack_from("<ihh", data, 8 * n)
        shown = formats.flags(events & 0xFFFF, _POLL_EVENTS)
        items.append(f"{{fd={fd}, events={shown}}}")
        values.append({"fd": fd, "events": shown})
    more = ", ..." if count > 32 else ""
    return "[" + ", ".join(items) + more + "]", values


def _fmt_atflags(ctx: _Context, i: int, spec: str) -> Shown:
    return _named(formats.flags(ctx.args[i] & 0xFFFFFFFF, formats.AT_FLAGS))


def _fmt_amode(ctx: _Context, i: int, spec: str) -> Shown:
    return _named(formats.access_mode(ctx.args[i] & 0xFFFFFFFF))


def _fmt_whence(ctx: _Context, i: int, spec: str) -> Shown:
    return _named(formats.enum(ctx.args[i] & 0xFFFFFFFF, formats.SEEK_WHENCE))


def _fmt_fcntlcmd(ctx: _Context, i: int, spec: str) -> Shown:
    return _named(formats.enum(ctx.args[i] & 0xFFFFFFFF, formats.FCNTL_COMMANDS))


def _fmt_fcntlarg(ctx: _Context, i: int, spec: str) -> Shown | None:
    cmd = ctx.args[i - 1] & 0xFFFFFFFF
    if cmd in (1, 3, 9, 11, 1025, 1032):  # F_GETFD, F_GETFL, ...: no argument
        return None
    if cmd == 2:  # F_SETFD
        return _named("FD_CLOEXEC" if ctx.args[i] & 1 else "0")
    if cmd == 4:  # F_SETFL
        return _fmt_oflags(ctx, i, spec)
    if cmd in (5, 6, 7):  # locks: a struct flock
        return _fmt_ptr(ctx, i, spec)
    return _fmt_int(ctx, i, spec)


def _fmt_fdpair(ctx: _Context, i: int, spec: str) -> Shown:
    address = ctx.args[i]
    data = ctx.read(address, 8, output=True) if address and ctx.rval == 0 else None
    if data is None:
        return _ptr(address), address
    pair = list(struct.unpack("<ii", data))
    return f"[{pair[0]}, {pair[1]}]", pair


_S_IFMT = {
    0o140000: "S_IFSOCK",
    0o120000: "S_IFLNK",
    0o100000: "S_IFREG",
    0o060000: "S_IFBLK",
    0o040000: "S_IFDIR",
    0o020000: "S_IFCHR",
    0o010000: "S_IFIFO",
}


def _file_mode(mode: int) -> str:
    parts = [_S_IFMT.get(mode & 0o170000, f"{mode & 0o170000:#o}")]
    parts += [
        n for n, b in (("S_ISUID", 0o4000), ("S_ISGID", 0o2000), ("S_ISVTX", 0o1000)) if mode & b
    ]
    parts.append(f"{mode & 0o777:#05o}"[0] + f"{mode & 0o777:03o}")
    return "|".join(parts)


def _fmt_stat(ctx: _Context, i: int, spec: str) -> Shown:
    address = ctx.args[i]
    data = ctx.read(address, 144, output=True) if address and ctx.rval == 0 else None
    if data is None:
        return _ptr(address), address
    mode = struct.unpack_from("<I", data, 24)[0]
    rdev, size = struct.unpack_from("<Qq", data, 40)
    value: dict[str, Any] = {"st_mode": _file_mode(mode)}
    if mode & 0o170000 in (0o060000, 0o020000):
        major = ((rdev >> 8) & 0xFFF) | ((rdev >> 32) & ~0xFFF)
        minor = (rdev & 0xFF) | ((rdev >> 12) & ~0xFF)
        value["st_rdev"] = f"makedev({major:#x}, {minor:#x})"
    else:
        value["st_size"] = size
    text = ", ".join(f"{k}={v}" for k, v in value.items())
    return "{" + text + ", ...}", value


def _fmt_argv(ctx: _Context, i: int, spec: str) -> Shown:
    address = ctx.args[i]
    if not address:
        return "NULL", None
    items: list[str] = []
    values: list[str] = []
    for n in range(4096):
        data = ctx.read(address + 8 * n, 8)
        if data is None:
            return _ptr(address), address
        (pointer,) = struct.unpack("<Q", data)
        if not pointer:
            break
        if n == ctx.limit:
            items.append("...")
            break
        got = ctx.string(pointer, ctx.limit)
        if got is None:
            items.append(_ptr(pointer))
            continue
        items.append(formats.quote(got[0]) + ("..." if got[1] else ""))
        values.append(formats.text_of(got[0]))
    return "[" + ", ".join(items) + "]", values


def _fmt_envp(ctx: _Context, i: int, spec: str) -> Shown:
    address = ctx.args[i]
    if not address:
        return "NULL", None
    count = 0
    while count < 65536:
        data = ctx.read(address + 8 * count, 8)
        if data is None or not struct.unpack("<Q", data)[0]:
            break
        count += 1
    return f"{hex(address)} /* {count} var{'s' if count != 1 else ''} */", count


def _fmt_domain(ctx: _Context, i: int, spec: str) -> Shown:
    return _named(formats.enum(ctx.args[i] & 0xFFFFFFFF, formats.ADDRESS_FAMILIES))


def _fmt_socktype(ctx: _Context, i: int, spec: str) -> Shown:
    return _named(formats.socket_type(ctx.args[i] & 0xFFFFFFFF))


def _fmt_sockflags(ctx: _Context, i: int, spec: str) -> Shown:
    return _named(formats.flags(ctx.args[i] & 0xFFFFFFFF, formats.SOCKET_TYPE_FLAGS))


def _fmt_sockproto(ctx: _Context, i: int, spec: str) -> Shown:
    text = formats.socket_protocol(ctx.args[0] & 0xFFFFFFFF, ctx.args[i] & 0xFFFFFFFF)
    return text, text if not text.isdigit() else int(text)


def _fmt_sockaddr(ctx: _Context, i: int, spec: str) -> Shown:
    address = ctx.args[i]
    output = spec.startswith("*")
    if output and (ctx.rval is None or ctx.failed):
        return _ptr(address), address
    size = _length(ctx, spec, output)
    if not address:
        return "NULL", None
    if size is None or size <= 0:
        return hex(address), address
    data = ctx.read(address, min(size, 128), output)
    if data is None:
        return hex(address), address
    return formats.sockaddr(data)


def _fmt_socklen(ctx: _Context, i: int, spec: str) -> Shown:
    # A socklen_t in and out: [16], or [128 => 16] when the kernel changed it.
    address = ctx.args[i]
    if not address:
        return "NULL", None
    before = ctx.read(address, 4)
    after = ctx.read(address, 4, output=True) if ctx.rval is not None else None
    if before is None:
        return hex(address), address
    (was,) = struct.unpack("<i", before)
    if after is None or ctx.failed:
        return f"[{was}]", was
    (now,) = struct.unpack("<i", after)
    return (f"[{was}]", was) if was == now else (f"[{was} => {now}]", now)


def _fmt_shuthow(ctx: _Context, i: int, spec: str) -> Shown:
    return _named(formats.enum(ctx.args[i] & 0xFFFFFFFF, formats.SHUTDOWN_HOW))


def _fmt_solevel(ctx: _Context, i: int, spec: str) -> Shown:
    return _named(formats.enum(ctx.args[i] & 0xFFFFFFFF, formats.SOCKET_LEVELS))


def _fmt_sockopt(ctx: _Context, i: int, spec: str) -> Shown:
    names = formats.SOCKET_OPTIONS.get(ctx.args[1] & 0xFFFFFFFF, {})
    return _named(formats.enum(ctx.args[i] & 0xFFFFFFFF, names))


def _fmt_optval(ctx: _Context, i: int, spec: str) -> Shown:
    address = ctx.args[i]
    output = spec.startswith("*")
    if output and (ctx.rval is None or ctx.failed):
        return _ptr(address), address
    size = _length(ctx, spec, output)
    if not address:
        return "NULL", None
    if size == 4:
        data = ctx.read(address, 4, output)
        if data is not None:
            (v,) = struct.unpack("<i", data)
            return f"[{v}]", v
    if size is None or size < 0:
        return hex(address), address
    data = ctx.read(address, min(size, ctx.limit), output)
    if data is None:
        return hex(address), address
    return formats.quote(data) + ("..." if size > ctx.limit else ""), formats.text_of(data)


def _fmt_msgflags(ctx: _Context, i: int, spec: str) -> Shown:
    return _named(formats.flags(ctx.args[i] & 0xFFFFFFFF, formats.MSG_FLAGS))


def _fmt_pid(ctx: _Context, i: int, spec: str) -> Shown:
    return _fmt_int(ctx, i, spec)


def _fmt_signal(ctx: _Context, i: int, spec: str) -> Shown:
    sig = ctx.args[i] & 0xFFFFFFFF
    return _named(formats.signal_name(sig)) if sig else ("0", 0)


def _fmt_sighow(ctx: _Context, i: int, spec: str) -> Shown:
    return _named(formats.enum(ctx.args[i] & 0xFFFFFFFF, formats.SIG_HOW))


def _fmt_sigset(ctx: _Context, i: int, spec: str, output: bool = False) -> Shown:
    address = ctx.args[i]
    if not address:
        return "NULL", None
    if output and (ctx.rval is None or ctx.failed):
        return hex(address), address
    data = ctx.read(address, 8, output)
    if data is None:
        return hex(address), address
    return _named(formats.sigset(struct.unpack("<Q", data)[0]))


def _fmt_sigaction(ctx: _Context, i: int, spec: str, output: bool = False) -> Shown:
    address = ctx.args[i]
    if not address:
        return "NULL", None
    if output and (ctx.rval is None or ctx.failed):
        return hex(address), address
    data = ctx.read(address, 32, output)
    if data is None:
        return hex(address), address
    return formats.sigaction(data)


def _fmt_sigreturn(ctx: _Context, i: int, spec: str) -> Shown | None:
    # rt_sigreturn has no arguments: strace shows the mask the signal frame restores, read at
    # the stack pointer (binding.stack_pointer) from the frame's ucontext (uc_sigmask at 296).
    from debugtool.trace.binding import stack_pointer

    sp = stack_pointer(ctx.memory.pid) if ctx.memory.pid else None
    data = ctx.read(sp + 296, 8) if sp else None
    if data is None:
        return None
    mask = formats.sigset(struct.unpack("<Q", data)[0])
    return "{mask=" + mask + "}", {"mask": mask}


def _fmt_waitstatus(ctx: _Context, i: int, spec: str) -> Shown:
    address = ctx.args[i]
    if not address:
        return "NULL", None
    if not ctx.rval or ctx.failed:  # an error, or WNOHANG with no child ready: nothing was written
        return hex(address), address
    data = ctx.read(address, 4, output=True)
    if data is None:
        return hex(address), address
    text = formats.wait_status(struct.unpack("<i", data)[0] & 0xFFFF)
    return f"[{text}]", text


def _fmt_waitoptions(ctx: _Context, i: int, spec: str) -> Shown:
    return _named(formats.flags(ctx.args[i] & 0xFFFFFFFF, formats.WAIT_OPTIONS))


def _fmt_clone(ctx: _Context, i: int, spec: str) -> Shown:
    # x86-64 clone(flags, stack, parent_tid, child_tid, tls), shown as strace names them.
    flags, stack, parent_tid, child_tid, tls = ctx.args[:5]
    value: dict[str, Any] = {"child_stack": _ptr(stack), "flags": formats.clone_flags(flags)}
    if flags & 0x100000:  # CLONE_PARENT_SETTID
        value["parent_tid"] = _ptr(parent_tid)
    if flags & (0x1000000 | 0x200000):  # CLONE_CHILD_SETTID, CLONE_CHILD_CLEARTID
        value["child_tidptr"] = _ptr(child_tid)
    if flags & 0x80000:  # CLONE_SETTLS
        value["tls"] = _ptr(tls)
    return ", ".join(f"{k}={v}" for k, v in value.items()), value


_CLOCKS = {0: "CLOCK_REALTIME", 1: "CLOCK_MONOTONIC", 7: "CLOCK_BOOTTIME", 4: "CLOCK_MONOTONIC_RAW"}


def _fmt_clockid(ctx: _Context, i: int, spec: str) -> Shown:
    return _named(formats.enum(ctx.args[i] & 0xFFFFFFFF, _CLOCKS))


def _fmt_timespec(ctx: _Context, i: int, spec: str, output: bool = False) -> Shown:
    address = ctx.args[i]
    if not address:
        return "NULL", None
    # A remaining time is written only when the sleep was interrupted.
    if output and not (ctx.failed and ctx.rval is not None and -ctx.rval in (4, 516)):
        return hex(address), address
    data = ctx.read(address, 16, output)
    if data is None:
        return hex(address), address
    sec, nsec = struct.unpack("<qq", data)
    return f"{{tv_sec={sec}, tv_nsec={nsec}}}", {"tv_sec": sec, "tv_nsec": nsec}


def _fmt_grndflags(ctx: _Context, i: int, spec: str) -> Shown:
    table = (("GRND_NONBLOCK", 1), ("GRND_RANDOM", 2), ("GRND_INSECURE", 4))
    return _named(formats.flags(ctx.args[i] & 0xFFFFFFFF, table))


_FORMATTERS: dict[str, Callable[[_Context, int, str], Shown | None]] = {
    "int": _fmt_int,
    "fd": _fmt_int,
    "pid": _fmt_pid,
    "long": _fmt_long,
    "ulong": _fmt_ulong,
    "uint": _fmt_ulong,
    "hex": _fmt_hex,
    "ptr": _fmt_ptr,
    "dirfd": _fmt_dirfd,
    "path": _fmt_path,
    "str": _fmt_str,
    "buf": _fmt_buf,
    "hexbuf": _fmt_hexbuf,
    "oflags": _fmt_oflags,
    "openmode": _fmt_openmode,
    "mode": _fmt_mode,
    "atflags": _fmt_atflags,
    "amode": _fmt_amode,
    "whence": _fmt_whence,
    "fcntlcmd": _fmt_fcntlcmd,
    "fcntlarg": _fmt_fcntlarg,
    "fdpair": _fmt_fdpair,
    "stat": _fmt_stat,
    "argv": _fmt_argv,
    "envp": _fmt_envp,
    "domain": _fmt_domain,
    "socktype": _fmt_socktype,
    "sockflags": _fmt_sockflags,
    "sockproto": _fmt_sockproto,
    "sockaddr": _fmt_sockaddr,
    "socklen": _fmt_socklen,
    "shuthow": _fmt_shuthow,
    "solevel": _fmt_solevel,
    "sockopt": _fmt_sockopt,
    "optval": _fmt_optval,
    "msgflags": _fmt_msgflags,
    "signal": _fmt_signal,
    "sighow": _fmt_sighow,
    "sigset": _fmt_sigset,
    "sigaction": _fmt_sigaction,
    "sigreturn": _fmt_sigreturn,
    "waitstatus": _fmt_waitstatus,
    "waitoptions": _fmt_waitoptions,
    "clone": _fmt_clone,
    "clockid": _fmt_clockid,
    "timespec": _fmt_timespec,
    "grndflags": _fmt_grndflags,
    "fdflags": _fmt_fdflags,
    "rlimitres": _fmt_rlimitres,
    "rlimit": _fmt_rlimit,
    "pollfds": _fmt_pollfds,
}
#: Kinds that read memory at entry (an argument the tracee passes in, by pointer).
_READS_AT_ENTRY = frozenset(
    "path str buf argv envp sockaddr socklen optval sigset sigaction timespec rlimit "
    "pollfds".split()
)
#: Kinds whose formatter takes ``output`` (the same struct read in or out).
_IN_OR_OUT = frozenset({"sigset", "sigaction", "timespec", "rlimit"})


@record(slots=True)
class Signature:
    """A syscall's arguments: ``(kind, spec, output)`` each, and how many are known at entry."""

    kinds: list[tuple[str, str, bool]]
    split: int


def _parse(text: str) -> Signature:
    kinds: list[tuple[str, str, bool]] = []
    split = -1
    for word in text.split():
        output = word.startswith(">")
        if output and split < 0:
            split = len(kinds)
        kind, _, spec = word.lstrip(">").partition(":")
        kinds.append((kind, spec, output))
    return Signature(kinds, split if split >= 0 else len(kinds))


_SIGNATURES: dict[str, Signature] = {}


def _prototype_kind(kind: str) -> str:
    """The kind of an argument of C type ``kind`` from python-ptrace's prototypes."""
    if "*" in kind:
        return "ptr"
    if kind in ("int", "pid_t", "uid_t", "gid_t", "clockid_t", "timer_t", "key_t", "mqd_t"):
        return "int"
    return "ulong" if "unsigned" in kind or kind in ("size_t", "u32", "u64") else "long"


def signature(name: str) -> Signature:
    """Return the signature of syscall ``name``: from ``SIGNATURES``, or from python-ptrace's
    prototype (pointers as addresses, numbers in decimal), or none."""
    found = _SIGNATURES.get(name)
    if found is None:
        text = SIGNATURES.get(name)
        if text is None:
            from ptrace.syscall import SYSCALL_PROTOTYPES

            prototype = SYSCALL_PROTOTYPES.get(name)
            params = prototype[1] if prototype else ()
            text = " ".join(_prototype_kind(kind) for kind, _ in params)
        found = _SIGNATURES[name] = _parse(text)
    return found


def has_outputs(name: str) -> bool:
    """Whether syscall ``name`` has arguments the kernel fills in (decoded at exit)."""
    sig = signature(name)
    return sig.split < len(sig.kinds)


def entry_pointers(name: str) -> tuple[int, ...]:
    """Return the indexes of syscall ``name``'s arguments that point at memory read at entry:
    the tracer copies these before it lets the tracee run on."""
    return tuple(
        i
        for i, (kind, _, out) in enumerate(signature(name).kinds)
        if kind in _READS_AT_ENTRY and not out
    )


def decoder(
    string_max_length: int = 32, names: dict[int, str] | None = None
) -> Callable[..., Call]:
    """Return ``decode(memory, nr, args, rval=None, failed=False, live=None, entry=False)``
    giving a ``Call``: ``memory`` as it was at entry, ``live`` as it is at exit (the same by
    default), the result once known; ``entry`` decodes only what is known at entry."""
    names = names if names is not None else syscall_names()
    limit = string_max_length
    known: dict[int, Steps] = {}

    def steps(nr: int) -> Steps:
        name = names.get(nr) or f"syscall_{nr:#x}"
        sig = signature(name)
        found = known[nr] = (
            name,
            tuple(
                (i, _FORMATTERS[kind], spec, output if kind in _IN_OR_OUT else None)
                for i, (kind, spec, output) in enumerate(sig.kinds)
            ),
            sig.split,
            len(sig.kinds),
        )
        return found

    def decode(
        memory: TraceeMemory,
        nr: int,
        args: Sequence[int],
        rval: int | None = None,
        failed: bool = False,
        live: TraceeMemory | None = None,
        entry: bool = False,
    ) -> Call:
        name, formatters, at_entry, count = known.get(nr) or steps(nr)
        ctx = _Context(args, memory, live or memory, rval, failed, limit)
        texts: list[str] = []
        values: list[Any] = []
        split = 0
        for index, formatter, spec, output in formatters:
            if index == at_entry and entry:
                break
            try:
                if output is None:
                    shown = formatter(ctx, index, spec)
                else:
                    shown = formatter(ctx, index, spec, output)
            except Exception:  # noqa: BLE001 - a short read inside a struct: the address
                shown = _fmt_ptr(ctx, index, spec)
            if shown is not None:
                texts.append(shown[0])
                values.append(shown[1])
            if index < at_entry:
                split = len(texts)
        return Call(
            name, texts, values, split, entry and at_entry < count, f"{name}({', '.join(texts)})"
        )

    return decode


#: Syscalls that return an address: their result is shown in hex.
ADDRESS_RESULTS = frozenset({"mmap", "mremap", "brk", "shmat"})
#: Syscalls that do not return when they succeed: shown at entry with ``= ?``.
NO_RETURN = frozenset({"exit", "exit_group"})


def format_result(name: str, rval: int, is_error: bool) -> tuple[str, str | None]:
    """Return the result as strace shows it (``-1 ENOENT (No such file or directory)``, ``3``,
    ``0x7f...``) and the errno name or None."""
    if is_error:
        errname, message = formats.error(-rval)
        if 512 <= -rval <= 516:  # to be restarted: the tracee never sees it, strace shows "?"
            return f"? {errname} ({message})", errname
        return f"-1 {errname} ({message})", errname
    if name in ADDRESS_RESULTS:
        return hex(rval & 0xFFFFFFFFFFFFFFFF), None
    return str(rval), None
