"""Unit tests of debugtool.trace: filters, refusals, decoding and result formats."""

from __future__ import annotations

import ctypes
import errno
import io
import os
import socket
import struct
import time
from pathlib import Path

import pytest

from debugtool import procfs
from debugtool.errors import DebugtoolError, PermissionDenied, UsageError
from debugtool.trace import access, decode, lines, memory, summary
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


# --- decoding with python-ptrace on this process's own memory ------------------------------


def test_decodes_openat_path_and_flags() -> None:
    path = ctypes.create_string_buffer(b"/etc/hostname")
    text = decode.decoder()(
        memory.TraceeMemory(os.getpid()),
        NUMBER["openat"],
        [(-100) & 0xFFFFFFFFFFFFFFFF, ctypes.addressof(path), os.O_RDONLY, 0],
    )
    assert text.startswith("openat(AT_FDCWD, '/etc/hostname', O_RDONLY")


def test_decodes_connect_sockaddr() -> None:
    raw = struct.pack("=H", socket.AF_INET) + struct.pack("!H", 8080)
    raw += socket.inet_aton("127.0.0.1") + b"\0" * 8
    addr = ctypes.create_string_buffer(raw, len(raw))
    text = decode.decoder()(
        memory.TraceeMemory(os.getpid()), NUMBER["connect"], [3, ctypes.addressof(addr), 16]
    )
    assert "sin_port=8080" in text and "sin_addr=127.0.0.1" in text
    assert text.startswith("connect(3, ")


def test_decodes_long_strings_cut_to_the_limit() -> None:
    path = ctypes.create_string_buffer(b"/" + b"x" * 500)
    text = decode.decoder(string_max_length=16)(
        memory.TraceeMemory(os.getpid()), NUMBER["open"], [ctypes.addressof(path), 0, 0]
    )
    assert "'/xxxxxxxxxxxxxxx'..." in text


def test_unreadable_pointer_does_not_raise() -> None:
    text = decode.decoder()(
        memory.TraceeMemory(os.getpid()), NUMBER["openat"], [3, 0x10, os.O_RDONLY, 0]
    )
    assert text.startswith("openat(3, ")


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
        "openat": summary.SyscallStats(calls=4, errors=1, seconds=0.004),
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
    }


# --- decoding from the copy taken at syscall entry -----------------------------------------


def _copy(address: int, size: int = 128) -> tuple[int, bytes]:
    return address, ctypes.string_at(address, size)


def test_snapshot_decodes_memory_as_it_was_at_entry() -> None:
    path = ctypes.create_string_buffer(b"/etc/hostname", 128)
    live = memory.TraceeMemory(os.getpid())
    copy = memory.SnapshotMemory(live, [_copy(ctypes.addressof(path))], 128)
    path.value = b"/etc/passwd"  # the tracee runs on and reuses its buffer
    text = decode.decoder()(copy, NUMBER["openat"], [3, ctypes.addressof(path), 0, 0])
    assert "'/etc/hostname'" in text and not copy.nested


def test_snapshot_marks_pointers_inside_pointed_to_memory() -> None:
    arg0 = ctypes.create_string_buffer(b"cat")
    argv = (ctypes.c_void_p * 2)(ctypes.addressof(arg0), None)
    program = ctypes.create_string_buffer(b"/bin/cat", 128)
    regions = [_copy(ctypes.addressof(program)), _copy(ctypes.addressof(argv), 16)]
    copy = memory.SnapshotMemory(memory.TraceeMemory(os.getpid()), regions, 128)
    text = decode.decoder()(
        copy, NUMBER["execve"], [ctypes.addressof(program), ctypes.addressof(argv), 0]
    )
    assert "'/bin/cat'" in text and "'cat'" in text
    assert copy.nested  # argv[0] was read from live memory: decode execve before resuming


def test_pointer_arguments_from_prototypes() -> None:
    table = decode.pointer_arguments()
    assert table[NUMBER["openat"]] == (1,)
    assert table[NUMBER["connect"]] == (1,)
    assert table[NUMBER["getpid"]] == ()


# --- what is copied at entry ---------------------------------------------------------------


def test_read_pointers_copies_only_what_the_decoder_reads() -> None:
    decode_call = decode.decoder()
    pointers = decode.pointer_arguments()

    def read(name: str) -> tuple[int, ...]:
        nr = NUMBER[name]
        return decode.read_pointers(decode_call, nr, pointers[nr])

    assert read("read") == ()  # its buffer is shown as an address: never copied
    assert read("write") == (1,)  # shown as a string (to fds 0-2)
    assert read("openat") == (1,)
    assert read("connect") == (1,)
    assert read("setsockopt") == (3,)  # an int value, shown only when optlen is 4
    assert read("getpid") == ()


def test_a_decode_reading_uncopied_memory_widens_the_plan_then_goes_live() -> None:
    tracer = Tracer(os.getpid(), out=io.StringIO())
    tracee = Tracee(os.getpid(), 1, memory.TraceeMemory(os.getpid()))
    path = ctypes.create_string_buffer(b"/etc/hostname", 128)
    nr = NUMBER["openat"]
    plan = tracer._plan(nr)
    assert plan.copies == (1,) and plan.decode == "copy"
    plan.copies = ()  # as if the probe had missed it
    fields = (1, nr, 3, ctypes.addressof(path), 0, 0, 0, 0)
    text, keep = tracer._decode_copy(tracee, plan, fields)
    assert "'/etc/hostname'" in text and not keep  # read live: not memoized
    assert plan.copies == (1,) and plan.decode == "copy"
    text, keep = tracer._decode_copy(tracee, plan, (*fields, b"/etc/passwd\0"))
    assert "'/etc/passwd'" in text and keep  # from the copy taken at entry
    # execve's argv points at strings its copy does not hold: with every pointer copied
    # already, the plan decodes before resuming from now on.
    program = ctypes.create_string_buffer(b"/bin/cat", 128)
    arg0 = ctypes.create_string_buffer(b"cat")
    argv = (ctypes.c_void_p * 2)(ctypes.addressof(arg0), None)
    execve = tracer._plan(NUMBER["execve"])
    assert execve.decode == "live"
    execve.decode, execve.copies = "copy", execve.pointers
    fields = (1, execve.nr, ctypes.addressof(program), ctypes.addressof(argv), 0, 0, 0, 0)
    copies = (ctypes.string_at(ctypes.addressof(program), 128), bytes(argv) + bytes(112))
    text, keep = tracer._decode_copy(tracee, execve, (*fields, *copies))
    assert "'/bin/cat'" in text and "'cat'" in text and not keep
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
