"""ELF files as the dynamic loader sees them: interpreter, needed libraries, and their closure.

Toolbox mode brings a host binary into a container with every shared library it loads, so it
must find them as glibc's ``ld.so`` would (``elf/dl-load.c``, ``_dl_map_object``): for each
``DT_NEEDED`` name, a name with a slash is a path; otherwise the object's ``DT_RPATH`` (and its
loaders', when it has no ``DT_RUNPATH``), then its ``DT_RUNPATH``, then ``/etc/ld.so.cache``,
then the system directories; a file of another ELF class or machine is skipped. Everything here
is read from the file (the program and dynamic headers, the dynamic string table) without
running anything, so a truncated or hostile file gets ``ElfError``, never a crash or a hang.

What it does not do, and ``ldd`` would: ``LD_LIBRARY_PATH`` and ``LD_PRELOAD`` (the operator's
environment must not change what reaches a container) and ``glibc-hwcaps`` subdirectories (the
baseline library is taken; it runs on every CPU of the architecture).
"""

from __future__ import annotations

import os
import struct

from debugtool.errors import DebugtoolError
from debugtool.record import record

PT_LOAD, PT_DYNAMIC, PT_INTERP = 1, 2, 3
DT_NULL, DT_NEEDED, DT_STRTAB, DT_STRSZ, DT_SONAME, DT_RPATH, DT_RUNPATH = 0, 1, 5, 10, 14, 15, 29
#: Limits on what a sane ELF file holds; beyond them the file is called damaged.
MAX_PHNUM = 4096
MAX_DYNAMIC = 1 << 16
MAX_STRTAB = 16 << 20
MAX_INTERP = 4096
#: How deep a library's libraries may go before the closure is called broken (a loop of
#: ``DT_NEEDED`` names is stopped by the ``seen`` set; this bounds a very long chain).
MAX_OBJECTS = 1024
LD_CACHE = "/etc/ld.so.cache"
CACHE_MAGIC = b"glibc-ld.so.cache1.1"
OLD_CACHE_MAGIC = b"ld.so-1.7.0"
#: Directories the loader tries last (Debian's multiarch ones first), by ELF machine.
SYSTEM_DIRS = {
    62: ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64"),
    183: ("/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib64", "/usr/lib64"),
}
FALLBACK_DIRS = ("/lib", "/usr/lib")
#: ``$LIB`` and ``$PLATFORM`` in a search path, by machine (what ld.so substitutes).
LIB_TOKEN = {62: "lib/x86_64-linux-gnu", 183: "lib/aarch64-linux-gnu"}
PLATFORM_TOKEN = {62: "x86_64", 183: "aarch64"}


class ElfError(DebugtoolError):
    """A file is not an ELF object, or is truncated or damaged, or a library cannot be found."""


@record(frozen=True)
class ElfFile:
    """What the loader reads from one ELF object.

    ``interpreter`` is ``PT_INTERP`` (None for a static binary or a library); ``rpath_offsets``
    are the file offsets of its ``DT_RPATH`` entries' tags.
    """

    path: str
    elf_class: int  # 1: 32-bit, 2: 64-bit
    little_endian: bool
    machine: int
    interpreter: str | None
    dynamic: bool
    needed: tuple[str, ...]
    soname: str | None
    rpath: tuple[str, ...]
    runpath: tuple[str, ...]
    rpath_offsets: tuple[int, ...]

    @property
    def static(self) -> bool:
        """Whether it runs without a loader (no interpreter, no needed library)."""
        return self.interpreter is None and not self.needed


def is_elf(head: bytes) -> bool:
    """Return whether ``head`` (a file's first bytes) starts an ELF file."""
    return head[:4] == b"\x7fELF"


def read_elf(path: str) -> ElfFile:
    """Return the loader's view of the ELF file at ``path``; raise ``ElfError`` if it is not one
    or is truncated or damaged (and ``ElfError`` for an unreadable file)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise ElfError(f"cannot read {path}: {exc.strerror}.") from None
    try:
        return _read(fd, path)
    except OSError as exc:
        raise ElfError(f"cannot read {path}: {exc.strerror}.") from None
    finally:
        os.close(fd)


def _read(fd: int, path: str) -> ElfFile:
    size = os.fstat(fd).st_size

    def damaged(what: str) -> ElfError:
        return ElfError(f"{path} is a truncated or damaged ELF file ({what}).")

    def read(offset: int, length: int, what: str) -> bytes:
        if offset < 0 or length < 0 or offset + length > size:
            raise damaged(f"its {what} lies outside the file")
        data = os.pread(fd, length, offset)
        if len(data) != length:
            raise damaged(f"its {what} is cut short")
        return data

    ident = os.pread(fd, 64, 0)
    if not is_elf(ident):
        raise ElfError(f"{path} is not an ELF file.")
    if len(ident) < 52 or ident[4] not in (1, 2) or ident[5] not in (1, 2):
        raise damaged("bad header")
    elf_class, little = ident[4], ident[5] == 1
    end = "<" if little else ">"
    if elf_class == 2:
        if len(ident) < 64:
            raise damaged("bad header")
        (machine,) = struct.unpack_from(end + "H", ident, 18)
        (phoff,) = struct.unpack_from(end + "Q", ident, 32)
        phentsize, phnum = struct.unpack_from(end + "HH", ident, 54)
        ph_format, ph_size, dyn_format = end + "IIQQQQQQ", 56, end + "qQ"
    else:
        (machine,) = struct.unpack_from(end + "H", ident, 18)
        (phoff,) = struct.unpack_from(end + "I", ident, 28)
        phentsize, phnum = struct.unpack_from(end + "HH", ident, 42)
        ph_format, ph_size, dyn_format = end + "IIIIIIII", 32, end + "iI"
    if phnum > MAX_PHNUM or (phnum and phentsize < ph_size):
        raise damaged("bad program header table")
    table = read(phoff, phentsize * phnum, "program header table")
    loads: list[tuple[int, int, int]] = []  # (vaddr, offset, filesz)
    interp: str | None = None
    dyn: tuple[int, int] | None = None  # (offset, filesz)
    for i in range(phnum):
        fields = struct.unpack_from(ph_format, table, i * phentsize)
        if elf_class == 2:
            p_type, _flags, p_offset, p_vaddr, _paddr, p_filesz = fields[:6]
        else:
            p_type, p_offset, p_vaddr, _paddr, p_filesz = fields[:5]
        if p_type == PT_LOAD:
            loads.append((p_vaddr, p_offset, p_filesz))
        elif p_type == PT_INTERP:
            if p_filesz > MAX_INTERP:
                raise damaged("its interpreter name is too long")
            interp = (
                read(p_offset, p_filesz, "interpreter name")
                .split(b"\0", 1)[0]
                .decode("utf-8", "surrogateescape")
            )
        elif p_type == PT_DYNAMIC:
            dyn = (p_offset, p_filesz)

    entries: list[tuple[int, int, int]] = []  # (tag, value, file offset of the entry)
    if dyn is not None:
        entry_size = struct.calcsize(dyn_format)
        count = min(dyn[1] // entry_size, MAX_DYNAMIC)
        raw = read(dyn[0], count * entry_size, "dynamic section")
        for i in range(count):
            tag, value = struct.unpack_from(dyn_format, raw, i * entry_size)
            if tag == DT_NULL:
                break
            entries.append((tag, value, dyn[0] + i * entry_size))
        else:
            if count == MAX_DYNAMIC:
                raise damaged("its dynamic section has no end")

    def value_of(tag: int) -> int | None:
        return next((value for t, value, _ in entries if t == tag), None)

    strings = b""
    if any(t in (DT_NEEDED, DT_SONAME, DT_RPATH, DT_RUNPATH) for t, _, _ in entries):
        strtab, strsz = value_of(DT_STRTAB), value_of(DT_STRSZ)
        if strtab is None or strsz is None:
            raise damaged("its dynamic section has no string table")
        if strsz > MAX_STRTAB:
            raise damaged("its dynamic string table is too large")
        # The table's address is virtual: find the loaded segment that holds it.
        for vaddr, offset, filesz in loads:
            if vaddr <= strtab and strtab + strsz <= vaddr + filesz:
                strings = read(offset + strtab - vaddr, strsz, "dynamic string table")
                break
        else:
            raise damaged("its dynamic string table is in no loaded segment")

    def string(offset: int) -> str:
        if offset >= len(strings):
            raise damaged("a name points outside its string table")
        stop = strings.find(b"\0", offset)
        if stop < 0:
            raise damaged("a name in its string table has no end")
        return strings[offset:stop].decode("utf-8", "surrogateescape")

    def search_path(tag: int) -> tuple[str, ...]:
        return tuple(
            part for t, value, _ in entries if t == tag for part in string(value).split(":") if part
        )

    soname = value_of(DT_SONAME)
    return ElfFile(
        path=path,
        elf_class=elf_class,
        little_endian=little,
        machine=machine,
        interpreter=interp,
        dynamic=dyn is not None,
        needed=tuple(string(value) for t, value, _ in entries if t == DT_NEEDED),
        soname=string(soname) if soname is not None else None,
        rpath=search_path(DT_RPATH),
        runpath=search_path(DT_RUNPATH),
        rpath_offsets=tuple(offset for t, _, offset in entries if t == DT_RPATH),
    )


# --- the loader's search ---------------------------------------------------------------------


def read_ld_cache(path: str = LD_CACHE) -> list[tuple[str, str]]:
    """Return the ``(name, path)`` entries of glibc's ``ld.so.cache``, in the file's order.

    Only the new format (glibc 2.32 and later write nothing else; older ones put it after the
    old one) and entries without a hwcap requirement. An absent or damaged cache gives [].
    """
    try:
        with open(path, "rb") as f:
            data = f.read(64 << 20)
    except OSError:
        return []
    start = 0
    if data.startswith(OLD_CACHE_MAGIC):
        (count,) = struct.unpack_from("<I", data, 12)
        start = 16 + count * 12
        start = (start + 7) & ~7  # the new header is aligned
    if data[start : start + len(CACHE_MAGIC)] != CACHE_MAGIC or len(data) < start + 48:
        return []
    nlibs, _strings = struct.unpack_from("<II", data, start + 20)
    base = start  # string offsets count from the new header
    out: list[tuple[str, str]] = []
    for i in range(nlibs):
        at = start + 48 + i * 24
        if at + 24 > len(data):
            break
        _flags, key, value, _os, hwcap = struct.unpack_from("<iIIIQ", data, at)
        if hwcap:
            continue

        def text(offset: int) -> str | None:
            stop = data.find(b"\0", base + offset)
            if base + offset >= len(data) or stop < 0:
                return None
            return data[base + offset : stop].decode("utf-8", "surrogateescape")

        name, target = text(key), text(value)
        if name and target:
            out.append((name, target))
    return out


@record
class Closure:
    """A dynamic executable and what the loader maps for it: ``interpreter`` (a host path) and
    ``libraries``, each ``DT_NEEDED`` name with the host file it resolves to (first found first)."""

    executable: ElfFile
    interpreter: str
    libraries: dict[str, str]


class Resolver:
    """Finds libraries as the loader would, for one ELF class and machine (the executable's)."""

    def __init__(self, executable: ElfFile, cache: list[tuple[str, str]] | None = None) -> None:
        self.executable = executable
        self.cache: dict[str, list[str]] = {}
        for name, path in read_ld_cache() if cache is None else cache:
            self.cache.setdefault(name, []).append(path)
        self.system = SYSTEM_DIRS.get(executable.machine, ()) + FALLBACK_DIRS

    def _matches(self, path: str) -> ElfFile | None:
        try:
            found = read_elf(path)
        except ElfError:
            return None
        exe = self.executable
        if (found.elf_class, found.machine, found.little_endian) != (
            exe.elf_class,
            exe.machine,
            exe.little_endian,
        ):
            return None
        return found

    def _expand(self, directory: str, origin: ElfFile) -> str:
        machine = self.executable.machine
        for token, value in (
            ("ORIGIN", os.path.dirname(os.path.realpath(origin.path))),
            ("LIB", LIB_TOKEN.get(machine, "lib")),
            ("PLATFORM", PLATFORM_TOKEN.get(machine, "")),
        ):
            directory = directory.replace("${" + token + "}", value).replace("$" + token, value)
        return directory

    def find(self, name: str, loader_chain: list[ElfFile]) -> ElfFile | None:
        """Return the library ``name`` needed by ``loader_chain[-1]`` (its loaders before it)."""
        if "/" in name:
            return self._matches(name)
        obj = loader_chain[-1]
        dirs: list[str] = []
        if not obj.runpath:
            # DT_RPATH of the object, then of each object that loaded it, up to the executable.
            for loader in reversed(loader_chain):
                dirs += [self._expand(d, loader) for d in loader.rpath]
        dirs += [self._expand(d, obj) for d in obj.runpath]
        for directory in dirs:
            found = self._matches(os.path.join(directory, name))
            if found is not None:
                return found
        for path in self.cache.get(name, ()):
            found = self._matches(path)
            if found is not None:
                return found
        for directory in self.system:
            found = self._matches(os.path.join(directory, name))
            if found is not None:
                return found
        return None


def resolve_closure(executable: ElfFile) -> Closure:
    """Return every library the loader maps for ``executable``, with its interpreter.

    Raise ``ElfError`` when a needed library cannot be found (the tool would not start either)
    or the executable has no interpreter (a static binary needs no closure).
    """
    if executable.interpreter is None:
        raise ElfError(f"{executable.path} has no program interpreter (it is static).")
    resolver = Resolver(executable)
    libraries: dict[str, str] = {}
    known: set[str] = set()  # names already mapped: needed names and the sonames behind them
    # The loader is mapped first: libc's DT_NEEDED on it names the loader itself.
    interpreter = read_elf(executable.interpreter)
    known.add(interpreter.soname or os.path.basename(executable.interpreter))
    # Breadth first, as the loader maps them: each object's needed list in order.
    queue: list[tuple[ElfFile, list[ElfFile]]] = [(executable, [executable])]
    while queue:
        obj, chain = queue.pop(0)
        for name in obj.needed:
            if name in known:
                continue
            found = resolver.find(name, chain)
            if found is None:
                raise ElfError(
                    f"{os.path.basename(obj.path)} needs {name}, which the loader would not find "
                    "on this host."
                )
            libraries[name] = found.path
            known.add(name)
            if found.soname:
                known.add(found.soname)
            if len(libraries) > MAX_OBJECTS:
                raise ElfError(f"{executable.path} needs more than {MAX_OBJECTS} libraries.")
            queue.append((found, [*chain, found]))
    return Closure(executable, executable.interpreter, libraries)
