"""debugtool's core as a zipapp, its hash, and the bootstrap a node runs before it.

A node needs python3 (3.11 or newer) and nothing else: the zipapp holds the ``debugtool``
package (the CLI, collectors, runtimes, exec, trace; never the TUI, which is another package)
and python-ptrace, which is pure Python. psutil is not carried: it is a compiled extension
built for one Python and one machine, which zipimport cannot load anyway; the node's own
psutil is used when its python3 has one (Debian's python3-psutil), and without it the commands
that need it (``top --pid``'s process detail, the bundle's host figures) say so and the rest
work. Textual and prompt-toolkit are not carried: the TUI runs on the operator's side, and
``console -H`` needs the node's prompt-toolkit (or an installed debugtool).

Each module is there as source and as bytecode for the operator's Python (``_bytecode``): a
node whose python3 is the same minor version loads the bytecode (``ps`` on such a node takes
a third of the time it takes compiling the sources), any other compiles the sources. The zip
is built the same way from the same files every time (sorted names, fixed times, bytecode
that does not depend on timestamps), so its SHA-256 names it: a node keeps it as ``HASH.pyz`` in a directory only its owner may read
(``/var/cache/debugtool/zipapp`` for root, ``~/.cache/debugtool/zipapp`` otherwise,
``DEBUGTOOL_ZIPAPP_CACHE`` if the node's environment names one), written only once the hash
of what arrived matches its name.
"""

from __future__ import annotations

import os
import sys

#: The first line the bootstrap writes on stdout: then the caller knows the zipapp is there
#: (``ok``) or must be sent on stdin (``need``). Anything else is not debugtool's bootstrap.
HEADER = b"DEBUGTOOL-ZIPAPP "
#: The bootstrap's exit code when python3 is older than debugtool needs.
EXIT_OLD_PYTHON = 124
#: Packages carried besides debugtool: pure Python only.
CARRIED = ("ptrace",)

#: The bootstrap, run as ``python3 -I -c BOOTSTRAP HASH SIZE MODE [ARGV...]``. It checks the
#: zipapp's hash when it arrives, before writing it under that name; a cached one is run when
#: it is there as written (a regular file of this user, not writable by others, of that size),
#: in a directory only this user may write, without hashing it again (20 ms a run). MODE is ``prepare``
#: (cache the zipapp, run nothing), ``run`` (run it if cached, else fail: for a terminal, where
#: nothing may be sent), ``plain`` or ``tables`` (cache it if missing, then run debugtool with
#: ARGV; ``tables`` makes every table one JSON line that the caller merges). It is written for
#: any python3, so that an old one can say it is too old.
BOOTSTRAP = r"""
import os, sys, stat
def fail(code, text):
    sys.stderr.write("debugtool: node: " + text + "\n"); sys.exit(code)
if sys.version_info < (3, 11):
    fail(@OLD@, "python3 is %d.%d at %s; debugtool needs 3.11 or newer" % (sys.version_info[0], sys.version_info[1], sys.executable))
h, size, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
uid = os.geteuid()
d = os.environ.get("DEBUGTOOL_ZIPAPP_CACHE") or ("/var/cache/debugtool/zipapp" if uid == 0 else os.path.join(os.path.expanduser("~"), ".cache/debugtool/zipapp"))
try:
    os.makedirs(d, 0o700, exist_ok=True)
    st = os.lstat(d)
except OSError as e:
    fail(125, "cannot make the cache directory %s (%s)" % (d, e.strerror))
if not stat.S_ISDIR(st.st_mode) or st.st_uid != uid or st.st_mode & 0o077:
    fail(125, "%s must be a directory of this user's alone (mode 0700); it is not, so nothing was run" % d)
p = os.path.join(d, h + ".pyz")
def cached():
    try:
        st = os.lstat(p)
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_uid == uid and not st.st_mode & 0o022 and st.st_size == size
out = sys.stdout.buffer
if cached():
    if mode != "run":
        out.write(b"@HEADER@ok\n"); out.flush()
elif mode == "run":
    fail(125, "debugtool is not cached on this node")
else:
    out.write(b"@HEADER@need\n"); out.flush()
    import hashlib
    data = sys.stdin.buffer.read()
    if hashlib.sha256(data).hexdigest() != h:
        fail(125, "the debugtool zipapp arrived damaged; nothing was run")
    tmp = "%s.%d.tmp" % (p, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data); os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, p)
if mode == "prepare":
    sys.exit(0)
if mode == "tables":
    os.environ["DEBUGTOOL_TABLE_RECORDS"] = "1"
sys.path.insert(0, p)
sys.argv = ["debugtool"] + sys.argv[4:]
from debugtool.cli import run
run()
""".replace("@OLD@", str(EXIT_OLD_PYTHON)).replace("@HEADER@", HEADER.decode())

_TIME = (2020, 1, 1, 0, 0, 0)
_MAIN = b"from debugtool.cli import run\n\nrun()\n"


def _package_files(package: str) -> list[tuple[str, str]]:
    """Return ``(name in the zip, path on disk)`` of every ``.py`` file of an importable
    package, sorted; empty when it is not importable."""
    from importlib.util import find_spec

    spec = find_spec(package)  # found, not imported
    if spec is None or not spec.submodule_search_locations:
        return []
    root = os.path.abspath(list(spec.submodule_search_locations)[0])
    base = os.path.dirname(root)
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                found.append((os.path.relpath(path, base), path))
    return sorted(found)


def cache_dir() -> str:
    """Return this side's zipapp cache: the same place the bootstrap uses on a node."""
    explicit = os.environ.get("DEBUGTOOL_ZIPAPP_CACHE")
    if explicit:
        return explicit
    if os.geteuid() == 0:
        return "/var/cache/debugtool/zipapp"
    return os.path.join(os.path.expanduser("~"), ".cache/debugtool/zipapp")


class Zipapp:
    """A zipapp's SHA-256, and its bytes (read or built only when a node asks for them)."""

    def __init__(
        self, sha256: str, size: int, path: str | None = None, data: bytes | None = None
    ) -> None:
        self.sha256 = sha256
        self.size = size
        self._path = path
        self._data = data

    def data(self) -> bytes:
        """Return the zipapp's bytes (built again if the cached copy changed under us)."""
        if self._data is None and self._path is not None:
            import hashlib

            try:
                with open(self._path, "rb") as f:
                    data = f.read()
                if hashlib.sha256(data).hexdigest() == self.sha256:
                    self._data = data
            except OSError:
                pass
        if self._data is None:
            built = build()
            self._data = built
        return self._data


def _sources() -> list[tuple[str, str]]:
    return [(name, path) for p in ("debugtool", *CARRIED) for name, path in _package_files(p)]


def _stamp(entries: list[tuple[str, str]]) -> str:
    """Return the sources as they are now, cheaply (names, sizes, modification times): the
    zipapp is built again only when this changes."""
    lines = []
    for name, path in entries:
        st = os.stat(path)
        lines.append(f"{name} {st.st_size} {st.st_mtime_ns}")
    return "\n".join(lines)


def current() -> Zipapp:
    """Return the zipapp of the debugtool running now; when this side's cache holds it, its
    hash and size are read from there without building it (a build compiles every module:
    about a second)."""
    import zlib

    entries = _sources()
    stamp = _stamp(entries)
    folder = cache_dir()
    # One index per installed copy of debugtool (its path), holding the hash, the size and
    # the stamp of the sources it was built from.
    index = os.path.join(folder, f"index-{zlib.crc32(entries[0][1].encode()):08x}")
    try:
        with open(index, encoding="utf-8") as f:
            sha, size_text, *rest = f.read().split("\n", 2)
        path = os.path.join(folder, f"{sha}.pyz")
        if rest == [stamp] and len(sha) == 64 and os.stat(path).st_size == int(size_text):
            return Zipapp(sha, int(size_text), path=path)
    except (OSError, ValueError):
        pass
    import hashlib

    data = build()
    sha = hashlib.sha256(data).hexdigest()
    try:  # keep it for the next run; a cache that cannot be written only costs the build
        os.makedirs(folder, 0o700, exist_ok=True)
        st = os.lstat(folder)
        if st.st_uid == os.geteuid() and not st.st_mode & 0o077:
            _write_atomic(os.path.join(folder, f"{sha}.pyz"), data)
            _write_atomic(index, f"{sha}\n{len(data)}\n{stamp}".encode())
    except OSError:
        pass
    return Zipapp(sha, len(data), data=data)


def _write_atomic(path: str, data: bytes) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.rename(tmp, path)


def build() -> bytes:
    """Return debugtool's core as a zipapp: the same bytes for the same files."""
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:

        def add(name: str, data: bytes) -> None:
            info = zipfile.ZipInfo(name, _TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)

        for name, path in _sources():
            with open(path, "rb") as f:
                source = f.read()
            add(name, source)
            add(name + "c", _bytecode(source, name))
        add("__main__.py", _MAIN)
    return buffer.getvalue()


def _bytecode(source: bytes, name: str) -> bytes:
    """Return ``source`` compiled as an unchecked hash-based ``.pyc`` (PEP 552).

    zipimport runs a ``.pyc`` beside its ``.py`` when the node's Python has this one's magic
    number (the same minor version), and compiles the source otherwise, so a node with the
    operator's Python is spared compiling debugtool's modules on every run. Unchecked: the
    zip's hash already vouches for the pair, and the source's timestamp means nothing here.
    """
    import marshal
    from importlib.util import MAGIC_NUMBER, source_hash

    code = compile(source, name, "exec", dont_inherit=True)
    flags = (0b01).to_bytes(4, "little")  # hash-based, not checked against the source
    return MAGIC_NUMBER + flags + source_hash(source) + marshal.dumps(code)


def main(argv: list[str]) -> int:
    """``python -m debugtool.fleet.zipapp FILE``: write the zipapp to FILE (to copy to a node
    by hand, or into a Kubernetes debug pod) and print its SHA-256; ``python3 FILE ps`` runs it."""
    if len(argv) != 1:
        print("usage: python -m debugtool.fleet.zipapp FILE", file=sys.stderr)
        return 2
    data = build()
    _write_atomic(argv[0], data)
    os.chmod(argv[0], 0o644)
    import hashlib

    print(hashlib.sha256(data).hexdigest())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
