"""Values as strace prints them: quoted strings, flag sets, signals, socket addresses, statuses.

The names and their order come from strace's ``src/xlat/*.in`` (strace prints a flag set in the
order its xlat file lists the flags, then the bits it does not know as hex) and the values from
the x86-64 kernel headers (``linux/fcntl.h``, ``asm/signal.h``, ``linux/sched.h``,
``linux/socket.h``). Each formatter returns the text strace would print.
"""

from __future__ import annotations

import errno
import os
import struct

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


# --- strings ---------------------------------------------------------------------------------

_SIMPLE = {
    ord('"'): '\\"',
    ord("\\"): "\\\\",
    ord("\f"): "\\f",
    ord("\n"): "\\n",
    ord("\r"): "\\r",
    ord("\t"): "\\t",
    ord("\v"): "\\v",
}


def quote(data: bytes, hexstr: bool = False) -> str:
    """Return ``data`` in double quotes as strace's ``string_quote`` writes it: C escapes for
    ``\\n \\t \\r \\f \\v \\" \\\\``, printable ASCII as is, every other byte in octal (three
    digits when an octal digit follows, else as few as it takes); ``hexstr`` writes every byte
    as ``\\xNN`` (strace's choice for random bytes, as getrandom's).

    The tracer quotes a buffer per syscall: one ``translate`` over precomputed escapes, and a
    byte-by-byte pass only for an octal escape followed by an octal digit."""
    if hexstr:
        return '"' + "".join(map(_HEX.__getitem__, data)) + '"'
    if len(data) == 1:
        return _ONE[data[0]]
    special = data.translate(None, _PLAIN)
    if not special:
        return '"' + data.decode("ascii") + '"'
    if special.translate(None, _NOT_OCTAL) and _octal_digit_follows(data):
        out = ['"']
        size = len(data)
        for i, c in enumerate(data):
            if c in _OCTAL and i + 1 < size and 0x30 <= data[i + 1] <= 0x37:
                out.append(f"\\{c:03o}")
            else:
                out.append(_ESCAPE_LIST[c])
        out.append('"')
        return "".join(out)
    return '"' + data.decode("latin-1").translate(_ESCAPES) + '"'


def _octal_digit_follows(data: bytes) -> bool:
    """Whether a byte ``quote`` writes in octal is followed by an octal digit (``0``-``7``)."""
    return any(c in _OCTAL and 0x30 <= d <= 0x37 for c, d in zip(data, data[1:], strict=False))


#: Each byte as ``quote`` writes it when no octal digit follows, alone in quotes, and (for
#: ``str.translate``) those that are not written as themselves.
_ESCAPE_LIST = [_SIMPLE.get(c) or (chr(c) if 0x20 <= c <= 0x7E else f"\\{c:o}") for c in range(256)]
_ONE = [f'"{text}"' for text in _ESCAPE_LIST]
_ESCAPES = {c: text for c, text in enumerate(_ESCAPE_LIST) if text != chr(c)}
#: For ``bytes.translate``: the bytes written as themselves, and those not written in octal.
_PLAIN = bytes(c for c in range(256) if c not in _ESCAPES)
_OCTAL = frozenset(c for c in _ESCAPES if c not in _SIMPLE)
_NOT_OCTAL = bytes(c for c in range(256) if c not in _OCTAL)
_HEX = [f"\\x{c:02x}" for c in range(256)]


def cut(data: bytes, limit: int, hexstr: bool = False) -> str:
    """Return at most ``limit`` bytes of ``data`` quoted, then ``...`` if there was more."""
    if len(data) > limit:
        return quote(data[:limit], hexstr) + "..."
    return quote(data, hexstr)


def text_of(data: bytes) -> str:
    """Return bytes as a JSON-safe string: UTF-8, undecodable bytes as ``\\xNN``."""
    return data.decode("utf-8", "backslashreplace")


# --- flags and enumerations ------------------------------------------------------------------


def flags(value: int, table: tuple[tuple[str, int], ...], zero: str = "0") -> str:
    """Return ``A|B|0x40`` for a flag set, in ``table``'s order (strace's ``printflags``): a
    flag of several bits is named only when all of them are set; unknown bits come last in
    hex; no bit set is ``zero``."""
    names = []
    rest = value
    for name, bits in table:
        if bits and rest & bits == bits:
            names.append(name)
            rest &= ~bits
    if rest:
        names.append(hex(rest))
    return "|".join(names) if names else zero


def enum(value: int, table: dict[int, str]) -> str:
    """Return the name of ``value`` in ``table``, or the number."""
    return table.get(value, str(value))


def octal(mode: int) -> str:
    """Return a mode as strace's ``%#03o``: ``0644``, ``000``."""
    return f"0{mode:o}" if mode else "000"


# open(2) flags beyond the access mode, in strace's open_mode_flags order (O_SYNC and O_TMPFILE
# are several bits: named before their parts).
OPEN_FLAGS: tuple[tuple[str, int], ...] = (
    ("O_CREAT", 0o100),
    ("O_EXCL", 0o200),
    ("O_NOCTTY", 0o400),
    ("O_TRUNC", 0o1000),
    ("O_APPEND", 0o2000),
    ("O_NONBLOCK", 0o4000),
    ("O_SYNC", 0o4010000),
    ("__O_SYNC", 0o4000000),
    ("O_DSYNC", 0o10000),
    ("O_DIRECT", 0o40000),
    ("O_LARGEFILE", 0o100000),
    ("O_NOFOLLOW", 0o400000),
    ("O_NOATIME", 0o1000000),
    ("O_CLOEXEC", 0o2000000),
    ("O_PATH", 0o10000000),
    ("O_TMPFILE", 0o20200000),
    ("__O_TMPFILE", 0o20000000),
    ("O_DIRECTORY", 0o200000),
    ("FASYNC", 0o20000),
)
O_CREAT = 0o100
O_TMPFILE = 0o20000000
_ACCESS_MODES = ("O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE")


def open_flags(value: int) -> str:
    """Return open(2) flags as strace prints them: ``O_RDONLY|O_CLOEXEC``."""
    value &= 0xFFFFFFFF
    rest = flags(value & ~3, OPEN_FLAGS, zero="")
    mode = _ACCESS_MODES[value & 3]
    return f"{mode}|{rest}" if rest else mode


AT_FDCWD = -100
AT_FLAGS: tuple[tuple[str, int], ...] = (
    ("AT_SYMLINK_NOFOLLOW", 0x100),
    ("AT_REMOVEDIR", 0x200),
    ("AT_SYMLINK_FOLLOW", 0x400),
    ("AT_NO_AUTOMOUNT", 0x800),
    ("AT_EMPTY_PATH", 0x1000),
    ("AT_RECURSIVE", 0x8000),
)
ACCESS_MODES: tuple[tuple[str, int], ...] = (("R_OK", 4), ("W_OK", 2), ("X_OK", 1))


def access_mode(value: int) -> str:
    """Return access(2)'s mode: ``F_OK`` or ``R_OK|W_OK``."""
    return flags(value, ACCESS_MODES, zero="F_OK")


SEEK_WHENCE = {0: "SEEK_SET", 1: "SEEK_CUR", 2: "SEEK_END", 3: "SEEK_DATA", 4: "SEEK_HOLE"}
FCNTL_COMMANDS = {
    0: "F_DUPFD",
    1: "F_GETFD",
    2: "F_SETFD",
    3: "F_GETFL",
    4: "F_SETFL",
    5: "F_GETLK",
    6: "F_SETLK",
    7: "F_SETLKW",
    8: "F_SETOWN",
    9: "F_GETOWN",
    10: "F_SETSIG",
    11: "F_GETSIG",
    1024: "F_SETLEASE",
    1025: "F_GETLEASE",
    1030: "F_DUPFD_CLOEXEC",
    1031: "F_SETPIPE_SZ",
    1032: "F_GETPIPE_SZ",
}

CLONE_FLAGS: tuple[tuple[str, int], ...] = (
    ("CLONE_VM", 0x100),
    ("CLONE_FS", 0x200),
    ("CLONE_FILES", 0x400),
    ("CLONE_SIGHAND", 0x800),
    ("CLONE_PIDFD", 0x1000),
    ("CLONE_PTRACE", 0x2000),
    ("CLONE_VFORK", 0x4000),
    ("CLONE_PARENT", 0x8000),
    ("CLONE_THREAD", 0x10000),
    ("CLONE_NEWNS", 0x20000),
    ("CLONE_SYSVSEM", 0x40000),
    ("CLONE_SETTLS", 0x80000),
    ("CLONE_PARENT_SETTID", 0x100000),
    ("CLONE_CHILD_CLEARTID", 0x200000),
    ("CLONE_UNTRACED", 0x800000),
    ("CLONE_CHILD_SETTID", 0x1000000),
    ("CLONE_NEWCGROUP", 0x2000000),
    ("CLONE_NEWUTS", 0x4000000),
    ("CLONE_NEWIPC", 0x8000000),
    ("CLONE_NEWUSER", 0x10000000),
    ("CLONE_NEWPID", 0x20000000),
    ("CLONE_NEWNET", 0x40000000),
    ("CLONE_IO", 0x80000000),
)
CSIGNAL = 0xFF


def clone_flags(value: int) -> str:
    """Return clone(2) flags: ``CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD``; the exit
    signal in the low byte by its name."""
    names = flags(value & ~CSIGNAL, CLONE_FLAGS, zero="")
    sig = value & CSIGNAL
    parts = [p for p in (names, signal_name(sig) if sig else "") if p]
    return "|".join(parts) if parts else "0"


WAIT_OPTIONS: tuple[tuple[str, int], ...] = (
    ("WNOHANG", 1),
    ("WUNTRACED", 2),
    ("WEXITED", 4),
    ("WCONTINUED", 8),
    ("WNOWAIT", 0x1000000),
    ("__WCLONE", 0x80000000),
    ("__WALL", 0x40000000),
    ("__WNOTHREAD", 0x20000000),
)


def wait_status(status: int) -> str:
    """Return a wait status as strace prints it inside ``[...]``:
    ``{WIFEXITED(s) && WEXITSTATUS(s) == 0}``."""
    sig = status & 0x7F
    if sig == 0:
        text = f"{{WIFEXITED(s) && WEXITSTATUS(s) == {(status >> 8) & 0xFF}}}"
    elif sig == 0x7F:
        if status == 0xFFFF:
            return "{WIFCONTINUED(s)}"
        text = f"{{WIFSTOPPED(s) && WSTOPSIG(s) == {signal_name((status >> 8) & 0xFF)}}}"
        if status >> 16:
            text = text[:-1] + f" && status>>16 == {status >> 16}}}"
    else:
        core = " && WCOREDUMP(s)" if status & 0x80 else ""
        text = f"{{WIFSIGNALED(s) && WTERMSIG(s) == {signal_name(sig)}{core}}}"
    return text


# --- signals -------------------------------------------------------------------------------

SIGNALS = (
    "0 SIGHUP SIGINT SIGQUIT SIGILL SIGTRAP SIGABRT SIGBUS SIGFPE SIGKILL SIGUSR1 SIGSEGV "
    "SIGUSR2 SIGPIPE SIGALRM SIGTERM SIGSTKFLT SIGCHLD SIGCONT SIGSTOP SIGTSTP SIGTTIN SIGTTOU "
    "SIGURG SIGXCPU SIGXFSZ SIGVTALRM SIGPROF SIGWINCH SIGIO SIGPWR SIGSYS"
).split()
SIGRTMIN = 32


def signal_name(sig: int) -> str:
    """Return ``SIGTERM``; real-time signals as strace names them (``SIGRTMIN``, ``SIGRT_3``)."""
    if 0 < sig < len(SIGNALS):
        return SIGNALS[sig]
    if sig == SIGRTMIN:
        return "SIGRTMIN"
    if SIGRTMIN < sig <= 64:
        return f"SIGRT_{sig - SIGRTMIN}"
    return str(sig)


def sigset(mask: int, bits: int = 64) -> str:
    """Return a signal set as strace prints it: ``[INT CHLD]``, ``[]``, and, when more than
    half the signals are in it, its complement: ``~[RTMIN RT_1]``."""
    members = [n + 1 for n in range(bits) if mask >> n & 1]
    prefix = ""
    if len(members) * 2 > bits:
        prefix = "~"
        members = [n + 1 for n in range(bits) if not mask >> n & 1]
    return prefix + "[" + " ".join(signal_name(s)[3:] for s in members) + "]"


SA_FLAGS: tuple[tuple[str, int], ...] = (
    ("SA_RESTORER", 0x04000000),
    ("SA_ONSTACK", 0x08000000),
    ("SA_RESTART", 0x10000000),
    ("SA_INTERRUPT", 0x20000000),
    ("SA_NODEFER", 0x40000000),
    ("SA_RESETHAND", 0x80000000),
    ("SA_SIGINFO", 4),
    ("SA_NOCLDSTOP", 1),
    ("SA_NOCLDWAIT", 2),
)
SA_RESTORER = 0x04000000
SIG_HOW = {0: "SIG_BLOCK", 1: "SIG_UNBLOCK", 2: "SIG_SETMASK"}


def sigaction(data: bytes) -> tuple[str, dict[str, Any]]:
    """Return a kernel ``struct sigaction`` (handler, flags, restorer, mask on x86-64) as
    ``{sa_handler=SIG_DFL, sa_mask=[], sa_flags=0}`` and as a dict."""
    handler, sa_flags, restorer, mask = struct.unpack_from("<QQQQ", data)
    shown = {0: "SIG_DFL", 1: "SIG_IGN"}.get(handler, hex(handler))
    value: dict[str, Any] = {
        "sa_handler": shown,
        "sa_mask": sigset(mask),
        "sa_flags": flags(sa_flags, SA_FLAGS),
    }
    if sa_flags & SA_RESTORER:
        value["sa_restorer"] = hex(restorer)
    return "{" + ", ".join(f"{k}={v}" for k, v in value.items()) + "}", value


# si_code values (asm-generic/siginfo.h) for the signals whose siginfo strace decodes.
SI_CODES = {
    0: "SI_USER",
    0x80: "SI_KERNEL",
    -1: "SI_QUEUE",
    -2: "SI_TIMER",
    -3: "SI_MESGQ",
    -4: "SI_ASYNCIO",
    -5: "SI_SIGIO",
    -6: "SI_TKILL",
}
CLD_CODES = {
    1: "CLD_EXITED",
    2: "CLD_KILLED",
    3: "CLD_DUMPED",
    4: "CLD_TRAPPED",
    5: "CLD_STOPPED",
    6: "CLD_CONTINUED",
}
SEGV_CODES = {1: "SEGV_MAPERR", 2: "SEGV_ACCERR", 3: "SEGV_BNDERR", 4: "SEGV_PKUERR"}
SIGCHLD = 17


def siginfo(data: bytes) -> tuple[str, dict[str, Any]]:
    """Return a ``siginfo_t`` (from PTRACE_GETSIGINFO) as strace prints it after the signal's
    name: ``{si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=7, si_uid=0, si_status=0, ...}``."""
    signo, _errno, code = struct.unpack_from("<iii", data)
    value: dict[str, Any] = {"si_signo": signal_name(signo)}
    if code in SI_CODES and (code <= 0 or code == 0x80):
        value["si_code"] = SI_CODES[code]
    elif signo == SIGCHLD and code in CLD_CODES:
        value["si_code"] = CLD_CODES[code]
    elif signo == 11 and code in SEGV_CODES:
        value["si_code"] = SEGV_CODES[code]
    else:
        value["si_code"] = code
    pid, uid = struct.unpack_from("<iI", data, 16)
    if code <= 0 and code not in (-2, -4, -5):  # sent by a process: kill, tkill, sigqueue
        value["si_pid"] = pid
        value["si_uid"] = uid
        if code == -1:
            value["si_int"] = struct.unpack_from("<i", data, 24)[0]
            value["si_ptr"] = hex(struct.unpack_from("<Q", data, 24)[0])
    elif signo == SIGCHLD and code in CLD_CODES:
        status, utime, stime = struct.unpack_from("<iqq", data, 24)
        value["si_pid"] = pid
        value["si_uid"] = uid
        value["si_status"] = signal_name(status) if code in (2, 3, 4, 5, 6) else status
        value["si_utime"] = utime
        value["si_stime"] = stime
    elif signo in (4, 5, 7, 8, 11):  # SIGILL, SIGTRAP, SIGBUS, SIGFPE, SIGSEGV: a fault
        value["si_addr"] = hex(struct.unpack_from("<Q", data, 16)[0])
    text = ", ".join(f"{k}={v}" for k, v in value.items())
    return "{" + text + "}", value


# --- errors --------------------------------------------------------------------------------

# Errors a syscall returns only to be restarted; strace names them (the kernel's own codes).
_KERNEL_ERRORS = {
    512: ("ERESTARTSYS", "To be restarted if SA_RESTART is set"),
    513: ("ERESTARTNOINTR", "To be restarted"),
    514: ("ERESTARTNOHAND", "To be restarted if no handler"),
    515: ("ENOIOCTLCMD", "No ioctl command"),
    516: ("ERESTART_RESTARTBLOCK", "Interrupted by signal"),
}


def error(code: int) -> tuple[str, str]:
    """Return an errno's name and strace's text for it: ``ENOENT``, ``No such file or
    directory``."""
    if code in _KERNEL_ERRORS:
        return _KERNEL_ERRORS[code]
    name = errno.errorcode.get(code)
    if name is None:
        return f"errno {code}", os.strerror(code)
    # Python lists an alias first for a few codes; strace uses the kernel's name.
    name = {"EDEADLOCK": "EDEADLK", "ENOTSUP": "EOPNOTSUPP", "EWOULDBLOCK": "EAGAIN"}.get(
        name, name
    )
    return name, os.strerror(code)


# --- sockets -------------------------------------------------------------------------------

ADDRESS_FAMILIES = {
    0: "AF_UNSPEC",
    1: "AF_UNIX",
    2: "AF_INET",
    3: "AF_AX25",
    4: "AF_IPX",
    5: "AF_APPLETALK",
    9: "AF_X25",
    10: "AF_INET6",
    16: "AF_NETLINK",
    17: "AF_PACKET",
    29: "AF_CAN",
    31: "AF_BLUETOOTH",
    38: "AF_ALG",
    40: "AF_VSOCK",
    44: "AF_XDP",
}
SOCKET_TYPES = {
    1: "SOCK_STREAM",
    2: "SOCK_DGRAM",
    3: "SOCK_RAW",
    4: "SOCK_RDM",
    5: "SOCK_SEQPACKET",
    6: "SOCK_DCCP",
    10: "SOCK_PACKET",
}
SOCKET_TYPE_FLAGS: tuple[tuple[str, int], ...] = (
    ("SOCK_CLOEXEC", 0o2000000),
    ("SOCK_NONBLOCK", 0o4000),
)
IP_PROTOCOLS = {
    0: "IPPROTO_IP",
    1: "IPPROTO_ICMP",
    2: "IPPROTO_IGMP",
    6: "IPPROTO_TCP",
    17: "IPPROTO_UDP",
    41: "IPPROTO_IPV6",
    47: "IPPROTO_GRE",
    58: "IPPROTO_ICMPV6",
    132: "IPPROTO_SCTP",
    136: "IPPROTO_UDPLITE",
    255: "IPPROTO_RAW",
    262: "IPPROTO_MPTCP",
}
NETLINK_PROTOCOLS = {
    0: "NETLINK_ROUTE",
    2: "NETLINK_USERSOCK",
    4: "NETLINK_SOCK_DIAG",
    9: "NETLINK_AUDIT",
    12: "NETLINK_NETFILTER",
    15: "NETLINK_KOBJECT_UEVENT",
    16: "NETLINK_GENERIC",
}


def socket_type(value: int) -> str:
    """Return ``SOCK_STREAM|SOCK_CLOEXEC``."""
    kind = enum(value & 0xF, SOCKET_TYPES)
    rest = flags(value & ~0xF, SOCKET_TYPE_FLAGS, zero="")
    return f"{kind}|{rest}" if rest else kind


def socket_protocol(domain: int, value: int) -> str:
    """Return the protocol as strace names it for the domain: ``IPPROTO_TCP``, or a number."""
    if domain in (2, 10):
        return enum(value, IP_PROTOCOLS)
    if domain == 16:
        return enum(value, NETLINK_PROTOCOLS)
    return str(value)


SHUTDOWN_HOW = {0: "SHUT_RD", 1: "SHUT_WR", 2: "SHUT_RDWR"}
SOCKET_LEVELS = {0: "SOL_IP", 1: "SOL_SOCKET", 6: "SOL_TCP", 17: "SOL_UDP", 41: "SOL_IPV6"}
SOCKET_OPTIONS = {
    1: {
        1: "SO_DEBUG",
        2: "SO_REUSEADDR",
        3: "SO_TYPE",
        4: "SO_ERROR",
        5: "SO_DONTROUTE",
        6: "SO_BROADCAST",
        7: "SO_SNDBUF",
        8: "SO_RCVBUF",
        9: "SO_KEEPALIVE",
        10: "SO_OOBINLINE",
        11: "SO_NO_CHECK",
        12: "SO_PRIORITY",
        13: "SO_LINGER",
        14: "SO_BSDCOMPAT",
        15: "SO_REUSEPORT",
        16: "SO_PASSCRED",
        17: "SO_PEERCRED",
        18: "SO_RCVLOWAT",
        19: "SO_SNDLOWAT",
        20: "SO_RCVTIMEO_OLD",
        21: "SO_SNDTIMEO_OLD",
        25: "SO_BINDTODEVICE",
        30: "SO_ACCEPTCONN",
        32: "SO_SNDBUFFORCE",
        33: "SO_RCVBUFFORCE",
        36: "SO_MARK",
        38: "SO_PROTOCOL",
        39: "SO_DOMAIN",
    },
    0: {1: "IP_TOS", 2: "IP_TTL", 3: "IP_HDRINCL", 4: "IP_OPTIONS", 8: "IP_PKTINFO"},
    6: {
        1: "TCP_NODELAY",
        2: "TCP_MAXSEG",
        3: "TCP_CORK",
        4: "TCP_KEEPIDLE",
        5: "TCP_KEEPINTVL",
        6: "TCP_KEEPCNT",
        9: "TCP_DEFER_ACCEPT",
        11: "TCP_INFO",
        12: "TCP_QUICKACK",
        13: "TCP_CONGESTION",
    },
    41: {26: "IPV6_V6ONLY", 16: "IPV6_UNICAST_HOPS", 67: "IPV6_TCLASS"},
}
MSG_FLAGS: tuple[tuple[str, int], ...] = (
    ("MSG_OOB", 0x1),
    ("MSG_PEEK", 0x2),
    ("MSG_DONTROUTE", 0x4),
    ("MSG_CTRUNC", 0x8),
    ("MSG_PROBE", 0x10),
    ("MSG_TRUNC", 0x20),
    ("MSG_DONTWAIT", 0x40),
    ("MSG_EOR", 0x80),
    ("MSG_WAITALL", 0x100),
    ("MSG_FIN", 0x200),
    ("MSG_SYN", 0x400),
    ("MSG_CONFIRM", 0x800),
    ("MSG_RST", 0x1000),
    ("MSG_ERRQUEUE", 0x2000),
    ("MSG_NOSIGNAL", 0x4000),
    ("MSG_MORE", 0x8000),
    ("MSG_WAITFORONE", 0x10000),
    ("MSG_BATCH", 0x40000),
    ("MSG_ZEROCOPY", 0x4000000),
    ("MSG_FASTOPEN", 0x20000000),
    ("MSG_CMSG_CLOEXEC", 0x40000000),
)


def sockaddr(data: bytes) -> tuple[str, dict[str, Any]]:
    """Return a socket address as strace prints it and as a dict:
    ``{sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr("127.0.0.1")}`` (the port
    in host order, the address as text), AF_INET6 with ``inet_pton``, AF_UNIX with its path
    (``@`` for an abstract name), AF_NETLINK; other families by their raw bytes."""
    import socket

    if len(data) < 2:
        return "{}", {}
    (family,) = struct.unpack_from("=H", data)
    name = ADDRESS_FAMILIES.get(family, str(family))
    fields: list[tuple[str, str]] = [("sa_family", name)]
    value: dict[str, Any] = {"sa_family": name}
    if family == 2 and len(data) >= 8:
        port = struct.unpack_from("!H", data, 2)[0]
        address = socket.inet_ntop(socket.AF_INET, data[4:8])
        fields += [("sin_port", f"htons({port})"), ("sin_addr", f'inet_addr("{address}")')]
        value.update(sin_port=port, sin_addr=address)
    elif family == 10 and len(data) >= 24:
        port, flowinfo = struct.unpack_from("!HI", data, 2)
        address = socket.inet_ntop(socket.AF_INET6, data[8:24])
        fields += [
            ("sin6_port", f"htons({port})"),
            ("sin6_flowinfo", f"htonl({flowinfo})"),
            ("", f'inet_pton(AF_INET6, "{address}", &sin6_addr)'),
        ]
        value.update(sin6_port=port, sin6_flowinfo=flowinfo, sin6_addr=address)
        if len(data) >= 28:
            scope = struct.unpack_from("=I", data, 24)[0]
            fields.append(("sin6_scope_id", str(scope)))
            value["sin6_scope_id"] = scope
    elif family == 1:
        path = data[2:]
        if path:
            abstract = path[:1] == b"\0"
            if abstract:
                path = path[1:]
            else:
                path = path.split(b"\0", 1)[0]
            fields.append(("sun_path", ("@" if abstract else "") + quote(path)))
            value["sun_path"] = ("@" if abstract else "") + text_of(path)
    elif family == 16 and len(data) >= 12:
        nl_pid, groups = struct.unpack_from("=II", data, 4)
        fields += [("nl_pid", str(nl_pid)), ("nl_groups", f"{groups:08x}")]
        value.update(nl_pid=nl_pid, nl_groups=groups)
    else:
        fields.append(("sa_data", quote(data[2:])))
        value["sa_data"] = text_of(data[2:])
    text = ", ".join(f"{k}={v}" if k else v for k, v in fields)
    return "{" + text + "}", value
