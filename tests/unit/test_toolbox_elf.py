"""The ELF reader and library resolver of toolbox mode, on the host's real binaries (compared with
the host's ``ldd``), on binaries built here with RPATH and RUNPATH, and on truncated and
garbage files (a clean ``ElfError``, never a crash or a wrong answer)."""

from __future__ import annotations

import os
import random
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from debugtool.errors import UsageError
from debugtool.toolbox import elf, stage
from debugtool.toolbox.elf import ElfError, read_elf, resolve_closure

HOST_TOOLS = ["/bin/ls", "/usr/bin/strace", "/usr/bin/tcpdump", "/usr/bin/curl", "/usr/sbin/ip"]


def ldd(path: str) -> tuple[dict[str, str], str]:
    """The host's ldd: ``{needed name: path}`` and the interpreter line's path."""
    out = subprocess.run(["ldd", path], capture_output=True, text=True, check=True).stdout
    libraries, interpreter = {}, ""
    for line in out.splitlines():
        line = line.strip()
        if " => " in line:
            name, _, rest = line.partition(" => ")
            libraries[name] = rest.split(" (")[0]
        elif line.startswith("/"):
            interpreter = line.split(" (")[0]
    return libraries, interpreter


@pytest.mark.parametrize("path", HOST_TOOLS)
def test_closure_matches_ldd(path: str) -> None:
    if not os.path.exists(path):
        pytest.skip(f"{path} is not installed")
    exe = read_elf(path)
    assert exe.elf_class == 2 and exe.little_endian and exe.dynamic and not exe.static
    closure = resolve_closure(exe)
    libraries, interpreter = ldd(path)
    assert closure.libraries == libraries
    assert closure.interpreter == interpreter == "/lib64/ld-linux-x86-64.so.2"
    # The first level is the file's own DT_NEEDED list, in its order.
    assert set(exe.needed) <= set(libraries)
    assert "libc.so.6" in closure.libraries


def test_static_and_dynamic_and_libraries() -> None:
    if not os.path.exists("/bin/busybox"):
        pytest.skip("busybox-static is not installed")
    busybox = read_elf("/bin/busybox")
    assert busybox.static and busybox.interpreter is None and busybox.needed == ()
    libc = read_elf(ldd("/bin/ls")[0]["libc.so.6"])
    assert libc.soname == "libc.so.6" and not libc.static  # (it has a PT_INTERP: it runs, too)
    assert libc.needed == ("ld-linux-x86-64.so.2",)
    with pytest.raises(ElfError, match="static"):
        resolve_closure(busybox)


def test_not_an_elf_file(tmp_path: Path) -> None:
    text = tmp_path / "passwd"
    text.write_text("root:x:0:0:root:/root:/bin/sh\n")
    with pytest.raises(ElfError, match=r"passwd is not an ELF file\.$"):
        read_elf(str(text))
    with pytest.raises(ElfError, match="cannot read .*: No such file or directory"):
        read_elf(str(tmp_path / "missing"))
    with pytest.raises(ElfError, match="cannot read .*: Is a directory"):
        read_elf(str(tmp_path))


def test_every_truncation_is_an_error_or_the_same_answer(tmp_path: Path) -> None:
    """Cut /bin/ls at many points: each cut reads as the whole file does (the loader's data lies
    before the cut) or raises ElfError; never another exception, never a different answer."""
    data = Path("/bin/ls").read_bytes()
    whole = read_elf("/bin/ls")
    cut = tmp_path / "ls"
    errors = []
    for size in [*range(0, 200, 7), *range(200, len(data), len(data) // 97), len(data) - 1]:
        cut.write_bytes(data[:size])
        try:
            found = read_elf(str(cut))
        except ElfError as exc:
            errors.append(exc.message)
            continue
        assert (found.needed, found.interpreter, found.machine) == (
            whole.needed,
            whole.interpreter,
            whole.machine,
        )
    assert any("is not an ELF file" in m for m in errors)  # fewer than four bytes
    assert any("truncated or damaged ELF file (its program header table" in m for m in errors)
    assert any("dynamic" in m for m in errors)  # cut inside the dynamic section or its strings


def test_garbage_after_the_magic_is_a_clean_error(tmp_path: Path) -> None:
    rng = random.Random(15)
    path = tmp_path / "garbage"
    outcomes = set()
    for _ in range(300):
        path.write_bytes(b"\x7fELF" + rng.randbytes(rng.randrange(0, 600)))
        try:
            read_elf(str(path))
            outcomes.add("read")
        except ElfError as exc:
            assert "truncated or damaged" in exc.message
            outcomes.add("error")
    assert "error" in outcomes


def elf64(phdrs: list[tuple], dynamic: list[tuple[int, int]], strings: bytes) -> bytes:
    """A minimal little-endian ELF64 file: header, program headers, strings, dynamic array.

    Each program header is (type, offset, vaddr, filesz); offsets here are absolute.
    """
    header = bytearray(64)
    header[:7] = b"\x7fELF\x02\x01\x01"
    struct.pack_into("<HHI", header, 16, 2, 62, 1)
    struct.pack_into("<Q", header, 32, 64)  # e_phoff
    struct.pack_into("<HH", header, 54, 56, len(phdrs))
    table = b"".join(
        struct.pack("<IIQQQQQQ", t, 0, off, va, va, sz, sz, 8) for t, off, va, sz in phdrs
    )
    dyn = b"".join(struct.pack("<qQ", tag, value) for tag, value in dynamic)
    return bytes(header) + table + strings + dyn


def test_crafted_damage(tmp_path: Path) -> None:
    path = tmp_path / "crafted"
    strings = b"\0libx.so.1\0"
    base = 64 + 2 * 56
    dyn_at = base + len(strings)

    def check(phdrs, dynamic, match: str) -> None:
        path.write_bytes(elf64(phdrs, dynamic, strings))
        with pytest.raises(ElfError, match=match):
            read_elf(str(path))

    load = (elf.PT_LOAD, 0, 0, dyn_at)
    good = [(elf.DT_NEEDED, 1), (elf.DT_STRTAB, base), (elf.DT_STRSZ, len(strings)), (0, 0)]
    path.write_bytes(elf64([load, (elf.PT_DYNAMIC, dyn_at, 0, 64)], good, strings))
    assert read_elf(str(path)).needed == ("libx.so.1",)
    # A name that points past the string table.
    bad_name = [(elf.DT_NEEDED, 99), *good[1:]]
    check([load, (elf.PT_DYNAMIC, dyn_at, 0, 64)], bad_name, "outside its string table")
    # A string table in no loaded segment.
    far = [(elf.DT_NEEDED, 1), (elf.DT_STRTAB, 1 << 40), (elf.DT_STRSZ, 11), (0, 0)]
    check([load, (elf.PT_DYNAMIC, dyn_at, 0, 64)], far, "in no loaded segment")
    # Needed names but no string table at all.
    check([load, (elf.PT_DYNAMIC, dyn_at, 0, 32)], [(elf.DT_NEEDED, 1), (0, 0)], "no string table")
    # A dynamic segment that claims to run far beyond the file.
    check([load, (elf.PT_DYNAMIC, dyn_at, 0, 1 << 20)], good, "dynamic section lies outside")
    # An interpreter name far longer than any path.
    check([(elf.PT_INTERP, 0, 0, 1 << 20)], [], "interpreter name is too long")


def test_ld_cache_reader(tmp_path: Path) -> None:
    entries = elf.read_ld_cache()
    assert ("libc.so.6", "/lib/x86_64-linux-gnu/libc.so.6") in entries
    # A cache built here: one plain entry, one for a glibc-hwcaps subdirectory (skipped).
    names = b"libq.so.1\0/opt/q/libq.so.1\0/opt/q/hw/libq.so.1\0"
    strings_at = 48 + 2 * 24
    header = elf.CACHE_MAGIC + struct.pack("<II", 2, len(names)) + bytes(20)
    body = struct.pack("<iIIIQ", 0x303, strings_at, strings_at + 10, 0, 0)
    body += struct.pack("<iIIIQ", 0x303, strings_at, strings_at + 27, 0, 1 << 62)
    cache = tmp_path / "ld.so.cache"
    cache.write_bytes(header + body + names)
    assert elf.read_ld_cache(str(cache)) == [("libq.so.1", "/opt/q/libq.so.1")]
    cache.write_bytes(b"not a cache at all")
    assert elf.read_ld_cache(str(cache)) == []
    assert elf.read_ld_cache(str(tmp_path / "none")) == []


@pytest.fixture
def built(tmp_path: Path) -> Path:
    """A library and two programs that find it through $ORIGIN: one by DT_RPATH, one RUNPATH."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    (tmp_path / "lib").mkdir()
    (tmp_path / "dt.c").write_text("int dt_answer(void) { return 42; }\n")
    (tmp_path / "main.c").write_text(
        "int dt_answer(void);\nint main(void) { return dt_answer() == 42 ? 0 : 1; }\n"
    )

    def gcc(*args: str) -> None:
        subprocess.run(["gcc", *args], check=True, cwd=tmp_path, capture_output=True)

    gcc("-shared", "-fPIC", "-Wl,-soname,libdt.so.1", "-o", "lib/libdt.so.1", "dt.c")
    for name, tags in (
        ("with-rpath", "--disable-new-dtags"),
        ("with-runpath", "--enable-new-dtags"),
    ):
        gcc("-o", name, "main.c", "-Llib", "-l:libdt.so.1", f"-Wl,{tags},-rpath,$ORIGIN/lib")
    return tmp_path


def test_rpath_and_runpath_with_origin(built: Path) -> None:
    for name, rpath in (("with-rpath", True), ("with-runpath", False)):
        exe = read_elf(str(built / name))
        assert (exe.rpath, exe.runpath) == (
            (("$ORIGIN/lib",), ()) if rpath else ((), ("$ORIGIN/lib",))
        )
        assert bool(exe.rpath_offsets) == rpath
        closure = resolve_closure(exe)
        assert closure.libraries == ldd(str(built / name))[0]
        assert closure.libraries["libdt.so.1"] == str(built / "lib" / "libdt.so.1")
        assert subprocess.run([str(built / name)]).returncode == 0


def test_a_copy_turns_rpath_into_runpath(built: Path) -> None:
    copy = built / "copy"
    entry = stage._copy(str(built / "with-rpath"), str(copy), 0o755)
    assert entry[0] == str(built / "with-rpath") and entry[3] == copy.stat().st_size
    patched = read_elf(str(copy))
    assert (patched.rpath, patched.runpath) == ((), ("$ORIGIN/lib",))
    assert patched.needed == read_elf(str(built / "with-rpath")).needed
    assert subprocess.run([str(copy)]).returncode == 0  # still finds its library
    with pytest.raises(FileExistsError):  # never writes over a file
        stage._copy(str(built / "with-rpath"), str(copy), 0o755)


def test_locate_refuses_scripts_missing_tools_and_bad_names(tmp_path: Path) -> None:
    script = tmp_path / "tool.sh"
    script.write_text("#!/usr/bin/perl -w\nprint 1;\n")
    with pytest.raises(UsageError, match=r"is a script for /usr/bin/perl -w, not a binary"):
        stage._locate(str(script), asked=True)
    assert stage._locate(str(script), asked=False) is None  # a default is left out quietly
    with pytest.raises(UsageError) as missing:
        stage._locate("debugtool-no-such-tool", asked=True)
    assert missing.value.exit_code == 125
    assert missing.value.for_people() == (
        "the host has no tool 'debugtool-no-such-tool' on its PATH. Install it on the host "
        "(for example with apt-get or dnf) or drop it from --tool."
    )
    text = tmp_path / "data"
    text.write_bytes(b"\0\1\2 plain data")
    with pytest.raises(UsageError, match="is not an executable binary"):
        stage._locate(str(text), asked=True)
    assert stage._locate("busybox", asked=True) is None  # always there, never a tool of its own
    for bad in ("x/", ".hidden", "a b", "x;rm", "$(id)"):
        with pytest.raises(UsageError, match="is not a tool name"):
            stage._locate(bad, asked=True)
    found = stage._locate("ls", asked=True)
    assert found is not None and found.name == "ls" and not found.elf.static


def test_help_names_the_default_tools_and_tool_lists_parse(capsys) -> None:
    from debugtool.cli import main
    from debugtool.commands.exec import parse_tool_list

    for command in ("exec", "shell"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert ", ".join(stage.DEFAULT_TOOLS[:-1]) in text and "--tool" in text
    assert parse_tool_list(None) is None  # the default set
    assert parse_tool_list(["strace,tcpdump", " curl ,", "busybox"]) == [
        "strace",
        "tcpdump",
        "curl",
    ]
    assert parse_tool_list(["busybox"]) == []  # busybox alone
