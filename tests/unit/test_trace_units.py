"""Unit tests of debugtool.trace: filters, refusals, decoding and result formats."""

from __future__ import annotations

import ctypes
import errno
import io
import os
import signal
import socket
import struct
import time
from pathlib import Path

import pytest

from debugtool import procfs
from debugtool.errors import DebugtoolError, PermissionDenied, UsageError
from debugtool.trace import access, decode, formats, lines, memory, summary
from debugtool.trace.tracer import Tracee, Tracer

FIXTURES = Path(__file__).parent.parent / "fixtures" / "trace"
PROC = str(FIXTURES / "proc")
NAMES = decode.syscall_names()
NUMBER: dict[str, int] = {}
for _nr, _name in sorted(NAMES.items()):
    NUMBER.setdefault(_name, _nr)  # the x86-64 number, not the x32 alias (execve: 59, 520)


@pytest.fixture
def fake_proc(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(procfs, "PROC", PROC)
    return PROC


# --- -e filters ------------------------------------------------------------------------------


def test_filter_none_and_all_select_everything() -> None:
    assert decode.parse_filter(None) is None
    assert decode.parse_filter("all") is None
    assert decode.parse_filter("trace=all") is None


def test_filter_names_and_classes() -> None:
    chosen = decode.parse_filter("openat,network", NAMES)
    assert chosen is not None
    assert NUMBER["openat"] in chosen
    assert NUMBER["connect"] in chosen and NUMBER["socket"] in chosen
    assert NUMBER["read"] not in chosen


def test_filter_takes_every_number_of_a_name() -> None:
    chosen = decode.parse_filter("execve", NAMES)
    assert chosen is not None and NUMBER["execve"] == 59 and 59 in chosen
    process = decode.parse_filter("process", NAMES)
    assert process is not None and 59 in process


def test_filter_accepts_strace_spelling() -> None:
    assert decode.parse_filter("trace=%file", NAMES) == decode.parse_filter("file", NAMES)
    file_class = decode.parse_filter("file", NAMES)
    assert file_class is not None and NUMBER["openat"] in file_class
    assert NUMBER["write"] not in file_class


@pytest.mark.parametrize("klass", sorted(decode.SYSCALL_CLASSES))
def test_every_class_names_real_syscalls(klass: str) -> None:
    # Most of each class must exist in python-ptrace's table; a typo would silently shrink it.
    known = [n for n in decode.SYSCALL_CLASSES[klass] if n in NUMBER]
    assert len(known) >= 0.8 * len(decode.SYSCALL_CLASSES[klass])


def test_filter_unknown_name_says_so() -> None:
    with pytest.raises(UsageError) as info:
        decode.parse_filter("openat,opnat", NAMES)
    assert "'opnat' is neither a syscall name nor a class" in info.value.for_people()
    assert "network" in info.value.for_people()
    assert info.value.exit_code == 125


# --- refusals ------------------------------------------------------------------------------


def test_refuses_a_process_already_traced_and_names_the_tracer(fake_proc: str) -> None:
    with pytest.raises(DebugtoolError) as info:
        access.check_traceable(14598, own=set())
    text = info.value.for_people()
    assert "already traced by process 17526 (strace)" in text
    assert "process 14598 (nc)" in text
    assert info.value.exit_code == 125


def test_refuses_itself_and_its_parents(fake_proc: str) -> None:
    with pytest.raises(UsageError) as info:
        access.check_traceable(14569, own={14569, 1})
    assert "is debugtool itself or one of its parents" in info.value.for_people()
    access.check_traceable(14569, own=set())  # untraced, not ours: fine


# --- EPERM ---------------------------------------------------------------------------------


def test_yama_scope_reads_the_setting(tmp_path: Path) -> None:
    path = tmp_path / "ptrace_scope"
    path.write_text("2\n")
    assert access.yama_scope(str(path)) == 2
    assert access.yama_scope(str(tmp_path / "missing")) is None


@pytest.mark.parametrize(
    ("scope", "words"),
    [
        (3, "kernel.yama.ptrace_scope is 3"),
        (2, "kernel.yama.ptrace_scope is 2"),
        (1, "kernel.yama.ptrace_scope is 1"),
        (None, "Linux security module"),
        (0, "Linux security module"),
    ],
)
def test_attach_refusal_names_the_setting(scope: int | None, words: str) -> None:
    err = access.attach_refused(42, scope)
    assert isinstance(err, PermissionDenied)
    assert words in err.for_people()
    assert "process 42" in err.for_people() and "EPERM" in err.for_people()


# --- decoding as strace does, on this process's own memory ---------------------------------

M = memory.TraceeMemory(os.getpid())
U64 = (1 << 64) - 1


def _addr(data: bytes, size: int | None = None) -> tuple[int, ctypes.Array]:
    buffer = ctypes.create_string_buffer(data, size or len(data) + 1)
    return ctypes.addressof(buffer), buffer


def _text(name: str, *args: int, limit: int = 32, **kw) -> str:
    return decode.decoder(limit)(M, NUMBER[name], list(args), **kw).text


def test_decodes_openat_path_and_flags() -> None:
    path, _keep = _addr(b"/etc/hostname")
    assert _text("openat", -100 & U64, path, os.O_RDONLY | os.O_CLOEXEC) == (
        'openat(AT_FDCWD, "/etc/hostname", O_RDONLY|O_CLOEXEC)'
    )
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    assert _text("openat", -100 & U64, path, flags, 0o666) == (
        'openat(AT_FDCWD, "/etc/hostname", O_WRONLY|O_CREAT|O_TRUNC, 0666)'
    )
    assert _text("open", path, os.O_RDWR | 0o20200000, 0) == (
        'open("/etc/hostname", O_RDWR|O_TMPFILE, 000)'
    )


def test_decodes_socket_addresses_as_strace() -> None:
    raw = struct.pack("=H", socket.AF_INET6) + struct.pack("!HI", 50400, 0)
    raw += socket.inet_pton(socket.AF_INET6, "::ffff:172.17.0.1") + struct.pack("=I", 0)
    six, _k1 = _addr(raw)
    call = decode.decoder()(M, NUMBER["connect"], [3, six, 28])
    assert call.text == (
        "connect(3, {sa_family=AF_INET6, sin6_port=htons(50400), sin6_flowinfo=htonl(0), "
        'inet_pton(AF_INET6, "::ffff:172.17.0.1", &sin6_addr), sin6_scope_id=0}, 28)'
    )
    assert call.values[1] == {
        "sa_family": "AF_INET6",
        "sin6_port": 50400,
        "sin6_flowinfo": 0,
        "sin6_addr": "::ffff:172.17.0.1",
        "sin6_scope_id": 0,
    }
    raw = struct.pack("=H", socket.AF_INET) + struct.pack("!H", 8080) + bytes([127, 0, 0, 1])
    four, _k2 = _addr(raw + bytes(8))
    assert _text("bind", 3, four, 16) == (
        'bind(3, {sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr("127.0.0.1")}, 16)'
    )
    unix, _k3 = _addr(struct.pack("=H", socket.AF_UNIX) + b"/x\0", 110)
    assert _text("connect", 3, unix, 5) == 'connect(3, {sa_family=AF_UNIX, sun_path="/x"}, 5)'
    abstract, _k4 = _addr(struct.pack("=H", socket.AF_UNIX) + b"\0name")
    assert _text("bind", 3, abstract, 7) == 'bind(3, {sa_family=AF_UNIX, sun_path=@"name"}, 7)'


def test_decodes_socket_calls() -> None:
    assert _text("socket", 10, 1 | 0o2000000, 0) == (
        "socket(AF_INET6, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP)"
    )
    assert _text("socket", 1, 2, 0) == "socket(AF_UNIX, SOCK_DGRAM, 0)"
    assert _text("shutdown", 1, 1) == "shutdown(1, SHUT_WR)"
    one, _keep = _addr(struct.pack("<i", 1))
    assert _text("setsockopt", 3, 1, 2, one, 4) == "setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4)"
    data, _k = _addr(b"hi")
    assert _text("sendto", 3, data, 2, 0x4000, 0, 0) == (
        'sendto(3, "hi", 2, MSG_NOSIGNAL, NULL, 0)'
    )


def test_decodes_process_and_signal_calls() -> None:
    flags = 0x200000 | 0x1000000 | signal.SIGCHLD
    assert _text("clone", flags, 0, 0, 0x169B1690, 0) == (
        "clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, "
        "child_tidptr=0x169b1690)"
    )
    assert _text("kill", 26235, signal.SIGTERM) == "kill(26235, SIGTERM)"
    assert _text("kill", 7, 0) == "kill(7, 0)"
    status, _k1 = _addr(struct.pack("<i", 0))
    assert _text("wait4", -1 & U64, status, 0, 0, rval=7) == (
        "wait4(-1, [{WIFEXITED(s) && WEXITSTATUS(s) == 0}], 0, NULL)"
    )
    killed, _k2 = _addr(struct.pack("<i", signal.SIGKILL))
    assert _text("wait4", 5, killed, 1, 0, rval=5) == (
        "wait4(5, [{WIFSIGNALED(s) && WTERMSIG(s) == SIGKILL}], WNOHANG, NULL)"
    )
    assert _text("wait4", -1 & U64, status, 1, 0, rval=0).startswith("wait4(-1, 0x")
    mask = ~((1 << 31) | (1 << 32)) & U64  # all but 32 and 33, as busybox blocks
    act, _k3 = _addr(struct.pack("<QQQQ", 0x525892, 0x04000000, 0x416390, mask))
    assert _text("rt_sigaction", signal.SIGCHLD, act, 0, 8, rval=0) == (
        "rt_sigaction(SIGCHLD, {sa_handler=0x525892, sa_mask=~[RTMIN RT_1], "
        "sa_flags=SA_RESTORER, sa_restorer=0x416390}, NULL, 8)"
    )
    old, _k4 = _addr(struct.pack("<QQQQ", 0, 0, 0, 0))
    assert _text("rt_sigaction", signal.SIGINT, 0, old, 8, rval=0) == (
        "rt_sigaction(SIGINT, NULL, {sa_handler=SIG_DFL, sa_mask=[], sa_flags=0}, 8)"
    )
    chld, _k5 = _addr(struct.pack("<Q", 1 << (signal.SIGCHLD - 1)))
    assert _text("rt_sigprocmask", 0, chld, 0, 8, rval=0) == (
        "rt_sigprocmask(SIG_BLOCK, [CHLD], NULL, 8)"
    )


def test_strings_escaped_and_cut_as_strace() -> None:
    data, _keep = _addr(b'a\tb\001\n\0017"\\' + b"x" * 40)
    assert _text("write", 1, data, 48) == (
        'write(1, "a\\tb\\1\\n\\0017\\"\\\\xxxxxxxxxxxxxxxxxxxxxxx"..., 48)'
    )
    assert _text("write", 1, data, 3, limit=3) == 'write(1, "a\\tb", 3)'
    path, _k = _addr(b"/" + b"x" * 100)
    assert '"/' + "x" * 100 + '"' in _text("open", path, 0, 0)  # a path is never cut


def _quote_byte_by_byte(data: bytes) -> str:
    # strace's string_quote, one byte at a time: what formats.quote's tables must agree with.
    simple = {34: '\\"', 92: "\\\\", 12: "\\f", 10: "\\n", 13: "\\r", 9: "\\t", 11: "\\v"}
    out = []
    for i, c in enumerate(data):
        if c in simple:
            out.append(simple[c])
        elif 0x20 <= c <= 0x7E:
            out.append(chr(c))
        elif i + 1 < len(data) and 0x30 <= data[i + 1] <= 0x37:
            out.append(f"\\{c:03o}")
        else:
            out.append(f"\\{c:o}")
    return '"' + "".join(out) + '"'


def test_quote_agrees_with_strace_byte_by_byte() -> None:
    # Every byte alone and before every other byte (octal digits included), and longer
    # strings that take each of quote's paths: plain ASCII, escapes, octal before a digit.
    cases = [bytes([a, b]) for a in range(256) for b in range(256)] + [
        bytes([c]) for c in range(256)
    ]
    cases += [
        b"",
        b"/usr/lib/libc.so.6",
        b'say "hi"\n\t',
        b"\0\0017\3778\x7f0\n",
        bytes(range(256)),
    ]
    for data in cases:
        assert formats.quote(data) == _quote_byte_by_byte(data), data
    assert formats.quote(b"\x00\xab") == '"\\0\\253"'
    assert formats.quote(b"\x00\xab", hexstr=True) == '"\\x00\\xab"'


def test_exit_decode_is_looked_up_only_while_its_reads_give_the_same_bytes() -> None:
    tracer = Tracer(os.getpid(), out=io.StringIO())
    tracee = Tracee(os.getpid(), 1, memory.TraceeMemory(os.getpid()))
    buf = ctypes.create_string_buffer(b"\0", 8)
    plan = tracer._plan(NUMBER["read"])
    tracee.key = (1, plan.nr, 0, ctypes.addressof(buf), 1, 0, 0, 0)
    call = tracer._decode_exit(tracee, plan, 1, False)
    assert call.text == 'read(0, "\\0", 1)'
    seen, reads = tracer._exits[(tracee.key, 1, False)]
    assert seen is call and reads == ((ctypes.addressof(buf), 1, b"\0"),)
    assert memory.same_reads(tracee.memory, reads)
    buf[0] = b"x"
    assert not memory.same_reads(tracee.memory, reads)
    assert tracer._decode_exit(tracee, plan, 1, False).text == 'read(0, "x", 1)'
    assert not memory.same_reads(tracee.memory, ((0x10, 1, b"\0"),))  # unmapped now
    assert memory.same_reads(tracee.memory, ((0x10, 1, None),))  # and unmapped then


def test_output_arguments_wait_for_the_exit() -> None:
    buf, _keep = _addr(b"hello\n")
    decoder = decode.decoder()
    entry = decoder(M, NUMBER["read"], [3, buf, 4096], entry=True)
    assert entry.head == "read(3, "
    done = decoder(M, NUMBER["read"], [3, buf, 4096], rval=6)
    assert done.text == 'read(3, "hello\\n", 4096)'
    assert (done.head, done.tail) == ("read(3, ", '"hello\\n", 4096)')
    assert decoder(M, NUMBER["read"], [3, buf, 4096], rval=-9, failed=True).text == (
        f"read(3, {hex(buf)}, 4096)"
    )
    close = decoder(M, NUMBER["close"], [3])
    assert (close.head, close.tail) == ("close(3", ")")


def test_unreadable_pointer_does_not_raise() -> None:
    assert _text("openat", 3, 0x10, os.O_RDONLY, 0) == "openat(3, 0x10, O_RDONLY)"
    assert _text("connect", 3, 0x10, 16) == "connect(3, 0x10, 16)"


def test_unknown_syscalls_use_the_prototype() -> None:
    assert _text("getpid") == "getpid()"
    assert _text("poll", 0, 2, -1 & U64).endswith(", 2, -1)")


def test_siginfo_and_events_formats() -> None:
    info = struct.pack("<iii4xiIiqq", signal.SIGCHLD, 0, 1, 42, 0, 0, 0, 0).ljust(128, b"\0")
    assert formats.siginfo(info)[0] == (
        "{si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=42, si_uid=0, si_status=0, "
        "si_utime=0, si_stime=0}"
    )
    sent = struct.pack("<iii4xiI", signal.SIGTERM, 0, 0, 1, 0).ljust(128, b"\0")
    assert formats.siginfo(sent)[0] == "{si_signo=SIGTERM, si_code=SI_USER, si_pid=1, si_uid=0}"
    assert formats.signal_name(34) == "SIGRT_2" and formats.signal_name(32) == "SIGRTMIN"
    assert formats.sigset(0) == "[]" and formats.sigset(U64) == "~[]"


def test_memory_reads_a_string_ending_at_a_page_boundary() -> None:
    page = ctypes.create_string_buffer(8192)
    base = ctypes.addressof(page)
    start = (base + 4095) // 4096 * 4096 + 4096 - 4  # "abc\0" ends exactly at a page end
    ctypes.memmove(start, b"abc\0", 4)
    data, truncated = memory.TraceeMemory(os.getpid()).readCString(start, 300)
    assert (data, truncated) == (b"abc", False)


# --- results and summary -------------------------------------------------------------------


def test_format_result_errors_addresses_and_numbers() -> None:
    assert decode.format_result("openat", -errno.ENOENT, True) == (
        "-1 ENOENT (No such file or directory)",
        "ENOENT",
    )
    assert decode.format_result("mmap", 0x7F0012340000, False) == ("0x7f0012340000", None)
    assert decode.format_result("read", 13, False) == ("13", None)


def test_summary_table_like_strace_c() -> None:
    stats = {
        "openat": summary.SyscallStats(calls=4, errors=1, seconds=0.004, wall=0.5),
        "read": summary.SyscallStats(calls=10, errors=0, seconds=0.001),
    }
    out = io.StringIO()
    summary.summary_table(stats, out)
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["%", "time", "seconds", "usecs/call", "calls", "errors", "syscall"]
    assert lines[2].split() == ["80.00", "0.004000", "1000", "4", "1", "openat"]
    assert lines[3].split() == ["20.00", "0.001000", "100", "10", "read"]
    assert lines[-1].split() == ["100.00", "0.005000", "357", "14", "1", "total"]
    assert summary.summary_json(stats)[0] == {
        "syscall": "openat",
        "calls": 4,
        "errors": 1,
        "seconds": 0.004,
        "wall": 0.5,
    }


# --- decoding from the copy taken at syscall entry -----------------------------------------


def _copy(address: int, size: int = 128) -> tuple[int, bytes]:
    return address, ctypes.string_at(address, size)


def test_snapshot_decodes_memory_as_it_was_at_entry() -> None:
    path = ctypes.create_string_buffer(b"/etc/hostname", 128)
    copy = memory.SnapshotMemory(M, [(ctypes.addressof(path), path.raw)], 128)
    path.value = b"/etc/passwd"  # the tracee runs on and reuses its buffer
    text = decode.decoder()(copy, NUMBER["openat"], [3, ctypes.addressof(path), 0, 0]).text
    assert '"/etc/hostname"' in text and not copy.nested


def test_entry_pointers_are_the_inputs() -> None:
    assert decode.entry_pointers("read") == ()  # its buffer is filled in: read at exit
    assert decode.entry_pointers("write") == (1,)
    assert decode.entry_pointers("openat") == (1,)
    assert decode.entry_pointers("connect") == (1,)
    assert decode.entry_pointers("accept") == (2,)  # the socklen_t given, for [128 => 16]
    assert decode.entry_pointers("getpid") == ()
    assert decode.has_outputs("wait4") and not decode.has_outputs("connect")


def test_a_decode_reading_uncopied_memory_goes_live() -> None:
    tracer = Tracer(os.getpid(), out=io.StringIO())
    tracee = Tracee(os.getpid(), 1, memory.TraceeMemory(os.getpid()))
    program = ctypes.create_string_buffer(b"/bin/cat", 128)
    arg0 = ctypes.create_string_buffer(b"cat")
    argv = (ctypes.c_void_p * 2)(ctypes.addressof(arg0), None)
    plan = tracer._plan(NUMBER["openat"])
    assert plan.copies == (1,) and plan.decode == "copy"
    assert tracer._plan(NUMBER["read"]).decode == "exit"
    execve = tracer._plan(NUMBER["execve"])
    assert execve.decode == "live"
    execve.decode, execve.copies = "copy", (0, 1)
    fields = (1, execve.nr, ctypes.addressof(program), ctypes.addressof(argv), 0, 0, 0, 0)
    copies = (ctypes.string_at(ctypes.addressof(program), 128), bytes(argv) + bytes(112))
    call, keep = tracer._decode_copy(tracee, execve, (*fields, *copies))
    assert '"/bin/cat"' in call.text and '"cat"' in call.text and not keep
    assert execve.decode == "live"


# --- text lines ----------------------------------------------------------------------------


def test_text_line_as_strace_tt_writes_it() -> None:
    clock = lines.Clock()
    t = 1_767_000_000.25  # exact in binary, so the microseconds are too
    line = clock.text_line(t, lines.pid_label(7), "close(3)", 0)
    stamp = time.strftime("%H:%M:%S", time.localtime(int(t)))
    assert line == f"{stamp}.250000 [pid     7] close(3) = 0\n"
    assert clock.text_line(t + 1.5, lines.pid_label(12345), "x()", "?").endswith(
        ".750000 [pid 12345] x() = ?\n"
    )


def test_cut_and_resumed_lines_as_strace_f() -> None:
    # Two tracees: A enters read, B's line cuts it; A's exit is "<... read resumed>".
    out = io.StringIO()
    tracer = Tracer(os.getpid(), out=out)
    tracer._dirty = True  # no flush timer (SIGALRM) armed in the test process
    buf = ctypes.create_string_buffer(b"data")
    a = Tracee(os.getpid(), 5, memory.TraceeMemory(os.getpid()))
    b = Tracee(os.getpid(), 6, memory.TraceeMemory(os.getpid()))
    a.plan = tracer._plan(NUMBER["read"])
    a.key = (1, NUMBER["read"], 3, ctypes.addressof(buf), 4096, 0, 0, 0)
    a.entered = 1_767_000_000.0
    tracer._open = a
    b.plan = tracer._plan(NUMBER["getpid"])
    b.call = decode.decoder()(M, NUMBER["getpid"], [])
    tracer._cut(tracer._open)
    tracer._emit(b, "getpid", None, (6, False))
    b.plan = None
    a.call = tracer._decode_exit(a, a.plan, 4, False)
    tracer._emit(a, "read", None, (4, False))
    tracer._flush()
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    got = [line.split(" ", 1)[1] for line in out.getvalue().splitlines()]
    assert got == [
        "[pid     5] read(3,  <unfinished ...>",
        "[pid     6] getpid() = 6",
        '[pid     5] <... read resumed>"data", 4096) = 4',
    ]


def test_json_line_is_structured() -> None:
    import json

    call = decode.decoder()(M, NUMBER["kill"], [7, signal.SIGTERM])
    record = json.loads(
        lines.json_line(1.5, 7, 700, "kill", call.values, call.text, -3, "ESRCH", "-1 ESRCH", 0.25)
    )
    assert record == {
        "type": "syscall",
        "time": 1.5,
        "pid": 7,
        "host_pid": 700,
        "syscall": "kill",
        "args": [7, "SIGTERM"],
        "call": "kill(7, SIGTERM)",
        "return": -3,
        "errno": "ESRCH",
        "result": "-1 ESRCH",
        "duration": 0.25,
    }
    event = json.loads(lines.event_json(2.0, 7, 700, "exited", {"status": 0}))
    assert event == {"type": "exited", "time": 2.0, "pid": 7, "host_pid": 700, "status": 0}
