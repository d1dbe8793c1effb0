"""The host directory toolbox mode mounts at ``/.debugtool``: busybox, and host tools with their
shared libraries, built on the host before anything enters the container.

What the toolbox process sees at ``/.debugtool``, and nothing more::

    bin/busybox, bin/APPLET -> busybox   the host's static busybox, underneath everything
    bin/TOOL                             a dynamic tool's wrapper (below), or a static tool itself
    libexec/TOOL                         a dynamic tool's binary
    lib/NAME                             its libraries under their DT_NEEDED names, and its loader
    ld/TOOL                              that loader again (a hard link) named after the tool, so
                                         the kernel names the process TOOL (comm, ps, top)
    shrc                                 functions that put host tools before busybox's applets
                                         of the same name in busybox's sh (``SHRC``)

A dynamic tool's ``PT_INTERP`` (``/lib64/ld-linux-x86-64.so.2``) is a path in the container, where
the loader is missing (distroless) or belongs to another libc, so the tool is started through the
bundled loader by a two-line script that the static busybox runs::

    #!/.debugtool/bin/busybox sh
    exec /.debugtool/ld/strace --inhibit-cache --library-path /.debugtool/lib --argv0 strace \
        /.debugtool/libexec/strace "$@"

``--library-path`` (unlike ``LD_LIBRARY_PATH``) reaches no child of the tool: a program that
strace or a shell starts keeps the container's own libraries, and the container's
``ld.so.cache`` is never read for the tool's. A wrapper, rather than rewriting ``PT_INTERP`` in
the copy, because the bundled loader's path is longer than the one the binary has room for; and
a wrapper on PATH works wherever the tool is started from (the command line, a shell, strace).
``DT_RPATH`` in a copy becomes ``DT_RUNPATH``, which the loader searches after
``--library-path``, so no directory of the container's can shadow a bundled library.

The directory is built under ``/run/debugtool`` (root only, mode 0700) from copies, not hard
links: ``/run`` is a tmpfs on most hosts (a link across filesystems fails), and a copy keeps a
session's tools whole while the host upgrades them. It is named ``toolbox-S-C`` after what it was
built from (S: the tools asked for and their binaries; C: every file copied, by device, inode,
size, mtime and ctime), and ``sources``, beside the mounted ``root/``, lists those files: a later
session takes the directory only when each still matches, so a changed binary or library gets a
fresh copy. Host paths stay in ``sources``; none is written under ``root/``.
"""

from __future__ import annotations

import errno
import os
import stat

from debugtool import jsonc
from debugtool.errors import UsageError
from debugtool.record import field, record
from debugtool.toolbox import MOUNT_POINT, ToolboxError
from debugtool.toolbox.elf import ElfError, ElfFile, is_elf, read_elf, resolve_closure

CACHE_DIR = "/run/debugtool"
#: The tools toolbox mode brings when none are named, each only if the host has it. gdb is left
#: out: with its libraries it weighs about 80 MB; ask for it with --tool gdb.
DEFAULT_TOOLS = ("strace", "tcpdump", "curl", "ss", "ip", "lsof", "ps")
#: Where the host's tools are looked up when debugtool's own PATH is empty.
HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#: Arguments a tool's wrapper puts before the operator's. Debian's and Fedora's tcpdump switch to
#: the user ``tcpdump`` after opening the capture, and a container's /etc/passwd has no such user
#: ("Couldn't find user 'tcpdump'"); ``-Z root``, tcpdump's own switch for this, keeps it as the
#: container's root with the container's capabilities, as every toolbox command runs. A ``-Z``
#: of the operator's comes later and wins.
WRAPPER_ARGS = {"tcpdump": ("-Z", "root")}
FORMAT = "4"  # bump when the layout changes: older directories are then never taken
#: The start-up file of the toolbox's own busybox sh (``debugtool shell`` sets ``ENV`` to it).
SHRC = f"{MOUNT_POINT}/shrc"
NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-")
DT_RUNPATH = 29


@record(frozen=True)
class Toolbox:
    """A built toolbox: ``root`` is the host directory to mount at ``/.debugtool``; ``tools``
    the host tools in it beside busybox, in the order asked."""

    root: str
    tools: tuple[str, ...]


@record
class _Tool:
    name: str
    path: str  # where it was found on the host
    elf: ElfFile
    libraries: dict[str, str] = field(default_factory=dict)  # DT_NEEDED name -> host path


def find_busybox() -> str:
    """Return the path of the host's static busybox; raise ``ToolboxError`` when there is none."""
    import shutil

    for candidate in (shutil.which("busybox"), "/bin/busybox", "/usr/bin/busybox"):
        if candidate and os.path.isfile(candidate):
            try:
                if read_elf(candidate).static:
                    return os.path.realpath(candidate)
            except ElfError:
                continue
    raise ToolboxError(
        "the host has no static busybox for toolbox mode.",
        "Install busybox-static, or pass --tools DIR with your own static tools.",
    )


def prepare(names: list[str] | None) -> Toolbox:
    """Return the toolbox with busybox and the host tools ``names`` (None: ``DEFAULT_TOOLS``,
    those the host has), built now or taken from an earlier session when nothing changed.

    A tool named but missing, a script or a binary for another machine raises ``UsageError``
    (exit 125) with what to do; a default tool of that kind is left out.
    """
    asked = names is not None
    tools: list[_Tool] = []
    seen: set[str] = set()
    for name in DEFAULT_TOOLS if names is None else names:
        tool = _locate(name, asked)
        if tool is not None and tool.name not in seen:
            seen.add(tool.name)
            tools.append(tool)
    busybox = find_busybox()
    lookups = [("busybox", busybox)] + [(t.name, t.path) for t in tools]
    signature = _digest([FORMAT, *[[name, path, *_identity(path)] for name, path in lookups]])
    cache = _cache_dir()
    prefix = f"toolbox-{signature}-"
    for entry in sorted(os.listdir(cache)):
        if entry.startswith(prefix):
            brought = _still_current(os.path.join(cache, entry))
            if brought is not None:
                return Toolbox(os.path.join(cache, entry, "root"), brought)
    # Nothing built from these files yet: find each tool's libraries (the slow part, ~3 ms a
    # tool) and build.
    kept: list[_Tool] = []
    for tool in tools:
        if not tool.elf.static:
            try:
                tool.libraries = resolve_closure(tool.elf).libraries
            except ElfError as exc:
                if asked:
                    raise UsageError(
                        f"the host's {tool.name} cannot be brought: {exc.message}",
                        "Drop it from --tool.",
                    ) from None
                continue
        kept.append(tool)
    return _build(cache, prefix, busybox, kept)


def _locate(name: str, asked: bool) -> _Tool | None:
    """Find one tool on the host and read it; None for a default the host cannot give."""
    import shutil

    base = os.path.basename(name)
    if not base or base.startswith(".") or not set(base) <= NAME_CHARS:
        raise UsageError(
            f"'{name}' is not a tool name.", "Name a program on the host's PATH, or its path."
        )
    if base == "busybox":
        return None  # always brought, underneath the others
    path = name if "/" in name else shutil.which(name, path=os.environ.get("PATH") or HOST_PATH)
    if path is None or not os.path.isfile(path):
        if not asked:
            return None
        raise UsageError(
            f"the host has no tool '{name}'"
            + (" on its PATH." if "/" not in name else f": {name} is not a file."),
            "Install it on the host (for example with apt-get or dnf) or drop it from --tool.",
        )
    try:
        with open(path, "rb") as f:
            head = f.read(256)
    except OSError as exc:
        if not asked:
            return None
        raise UsageError(f"cannot read the host's {name} ({path}): {exc.strerror}.") from None
    problem = ""
    tool: _Tool | None = None
    if head.startswith(b"#!"):
        interpreter = head[2:].split(b"\n", 1)[0].strip().decode("utf-8", "replace")
        problem = (
            f"the host's {base} ({path}) is a script for {interpreter}, not a binary; toolbox "
            "mode brings binaries with their libraries, not interpreters."
        )
    elif not is_elf(head):
        problem = f"the host's {base} ({path}) is not an executable binary."
    else:
        try:
            elf = read_elf(path)
            host = _host_machine()
            if (elf.elf_class, elf.machine) != host:
                problem = (
                    f"the host's {base} ({path}) is built for another machine "
                    f"(ELF class {elf.elf_class}, machine {elf.machine})."
                )
            else:
                tool = _Tool(base, path, elf)
        except ElfError as exc:
            problem = f"the host's {base} cannot be brought: {exc.message}"
    if problem:
        if not asked:
            return None
        raise UsageError(problem, "Drop it from --tool.")
    return tool


def _host_machine() -> tuple[int, int]:
    """Return the ELF class and machine of this interpreter's own binary (the host's)."""
    import sys

    own = read_elf(os.path.realpath(sys.executable))
    return own.elf_class, own.machine


def _identity(path: str) -> list[int]:
    """Return what tells one version of a host file from the next (follows symlinks)."""
    st = os.stat(path)
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def _digest(value: object) -> str:
    import hashlib

    return hashlib.sha256(jsonc.dumps(value).encode()).hexdigest()[:16]


def _cache_dir() -> str:
    """Return /run/debugtool, made root-only; refuse one that someone else owns."""
    try:
        os.mkdir(CACHE_DIR, 0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise ToolboxError(f"cannot create {CACHE_DIR}: {exc.strerror}.") from None
    st = os.lstat(CACHE_DIR)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
        raise ToolboxError(
            f"{CACHE_DIR} is not a directory of debugtool's user.",
            "Remove it; debugtool makes it again, readable by root alone.",
        )
    if stat.S_IMODE(st.st_mode) & 0o077:
        os.chmod(CACHE_DIR, 0o700)
    return CACHE_DIR


def _still_current(directory: str) -> tuple[str, ...] | None:
    """Return the tools of a toolbox directory if every host file it was built from is
    unchanged, else None."""
    try:
        with open(os.path.join(directory, "sources"), "rb") as f:
            sources = jsonc.loads(f.read())
        files = sources["files"]
        if files and all(_identity(path) == list(ident) for path, *ident in files):
            return tuple(sources["tools"])
    except (OSError, ValueError, TypeError, KeyError):
        pass
    return None


def _build(cache: str, prefix: str, busybox: str, tools: list[_Tool]) -> Toolbox:
    """Build a toolbox directory in a private temporary one and rename it into place."""
    import shutil
    import tempfile

    work = tempfile.mkdtemp(prefix="build-", dir=cache)
    try:
        sources: list[list[object]] = []
        root = os.path.join(work, "root")
        for sub in ("", "bin", "lib", "libexec", "ld"):
            os.mkdir(os.path.join(root, sub), 0o755)
            os.chmod(os.path.join(root, sub), 0o755)  # whatever the umask
        bindir = os.path.join(root, "bin")
        sources.append(_copy(busybox, os.path.join(bindir, "busybox"), 0o755))
        applets = _link_applets(bindir)
        staged: dict[str, str] = {}  # name under lib/ -> the host file it came from
        for tool in tools:
            target = os.path.join(bindir, tool.name)
            if os.path.lexists(target):
                os.unlink(target)  # a busybox applet of the same name: the host tool wins
            if tool.elf.static:
                sources.append(_copy(tool.path, target, 0o755))
                continue
            assert tool.elf.interpreter is not None
            loader = os.path.basename(tool.elf.interpreter)
            wanted = {loader: tool.elf.interpreter, **tool.libraries}
            for name, host in wanted.items():
                if "/" in name:
                    raise ToolboxError(f"{tool.name} needs the library {name} by its path.")
                if name in staged:
                    if os.path.realpath(staged[name]) != os.path.realpath(host):
                        raise ToolboxError(
                            f"two tools need different files named {name} "
                            f"({staged[name]} and {host}).",
                            "Bring them in separate sessions.",
                        )
                    continue
                staged[name] = host
                mode = 0o755 if name == loader else 0o644
                sources.append(_copy(host, os.path.join(root, "lib", name), mode))
            sources.append(_copy(tool.path, os.path.join(root, "libexec", tool.name), 0o755))
            os.link(os.path.join(root, "lib", loader), os.path.join(root, "ld", tool.name))
            argv0 = _loader_takes_argv0(os.path.join(root, "lib", loader))
            _write_wrapper(target, tool.name, argv0)
        _write_shrc(os.path.join(root, "shrc"), [t.name for t in tools if t.name in applets])
        with open(os.path.join(work, "sources"), "wb") as f:
            f.write(jsonc.dumps({"tools": [t.name for t in tools], "files": sources}).encode())
        final = os.path.join(cache, prefix + _digest(sources))
        try:
            os.rename(work, final)
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
            shutil.rmtree(work, ignore_errors=True)  # another debugtool built it first
    except UsageError:
        shutil.rmtree(work, ignore_errors=True)
        raise
    except OSError as exc:
        shutil.rmtree(work, ignore_errors=True)
        raise ToolboxError(f"cannot build the toolbox in {cache}: {exc.strerror}.") from None
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return Toolbox(os.path.join(final, "root"), tuple(t.name for t in tools))


def _copy(source: str, dest: str, mode: int) -> list[object]:
    """Copy a host file (a regular file, symlinks followed) and return its ``sources`` entry.

    The identity recorded is the one of the file copied, read from the open descriptor, so a
    file replaced mid-copy is caught by the next session's check. ``DT_RPATH`` tags become
    ``DT_RUNPATH`` in the copy (see the module's docstring).
    """
    src = os.open(source, os.O_RDONLY | os.O_CLOEXEC)
    try:
        st = os.fstat(src)
        if not stat.S_ISREG(st.st_mode):
            raise ToolboxError(f"{source} is not a regular file.")
        dst = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
        try:
            remaining = st.st_size
            while remaining > 0:
                sent = os.sendfile(dst, src, None, remaining)
                if sent == 0:
                    break
                remaining -= sent
            os.fchmod(dst, mode)
        finally:
            os.close(dst)
    finally:
        os.close(src)
    _rpath_to_runpath(dest)
    return [source, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def _rpath_to_runpath(path: str) -> None:
    try:
        elf = read_elf(path)
    except ElfError:
        return
    if not elf.rpath_offsets:
        return
    tag = DT_RUNPATH.to_bytes(
        8 if elf.elf_class == 2 else 4, "little" if elf.little_endian else "big"
    )
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        for offset in elf.rpath_offsets:
            os.pwrite(fd, tag, offset)
    finally:
        os.close(fd)


def _link_applets(bindir: str) -> set[str]:
    """Link each of busybox's applets to it (asked of the host's busybox copy, on the host);
    return their names."""
    import subprocess

    applets = subprocess.run(
        [os.path.join(bindir, "busybox"), "--list"],
        capture_output=True,
        text=True,
        timeout=10,
        env={},
        stdin=subprocess.DEVNULL,
    ).stdout.split()
    linked = set()
    for applet in applets:
        if applet != "busybox" and "/" not in applet and set(applet) <= NAME_CHARS:
            os.symlink("busybox", os.path.join(bindir, applet))
            linked.add(applet)
    return linked


def _write_shrc(path: str, shadowed: list[str]) -> None:
    """Write the start-up file of the toolbox's busybox sh (``ENV``, see ``SHRC``).

    Debian's static busybox runs its own applet for a name before looking at PATH, so in its
    shell ``ps`` would be busybox's even with the host's procps ps brought; a function of the
    same name comes before an applet.
    """
    lines = ["# debugtool toolbox: the host's tools before busybox's applets of the same name\n"]
    lines += [f'{name}() {{ {MOUNT_POINT}/bin/{name} "$@"; }}\n' for name in shadowed]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, "".join(lines).encode())
        os.fchmod(fd, 0o644)
    finally:
        os.close(fd)


def _loader_takes_argv0(loader: str) -> bool:
    """Return whether the loader knows ``--argv0`` (glibc 2.33 and later)."""
    with open(loader, "rb") as f:
        return b"--argv0" in f.read(8 << 20)


def _write_wrapper(path: str, name: str, argv0: bool) -> None:
    """Write the script that starts ``name`` through the bundled loader (see the docstring)."""
    top = MOUNT_POINT
    options = f"--inhibit-cache --library-path {top}/lib" + (f" --argv0 {name}" if argv0 else "")
    args = "".join(f"{arg} " for arg in WRAPPER_ARGS.get(name, ()))
    text = (
        f'#!{top}/bin/busybox sh\nexec {top}/ld/{name} {options} {top}/libexec/{name} {args}"$@"\n'
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o755)
    try:
        os.write(fd, text.encode())
        os.fchmod(fd, 0o755)
    finally:
        os.close(fd)
