"""Safe, read-only access to files inside a container's root, with symlinks resolved inside it.

A container's root as the host sees it (``/proc/PID/root``) holds symlinks written by whoever
built the image. Followed by the host's ``open()``, an absolute link such as
``/etc/passwd -> /../../etc/shadow`` would read the *host's* file. Every lookup here resolves
``..`` and symlinks as if the container's root were ``/``:

- with ``openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`` (Linux 5.6, syscall 437), which
  makes the kernel do exactly that, race-free;
- where openat2 is missing (ENOSYS, or a seccomp profile that refuses it), with a walk one
  component at a time using ``O_PATH | O_NOFOLLOW`` and reading each symlink ourselves, keeping
  a stack of directory fds so ``..`` never climbs above the root.

``RESOLVE_NO_MAGICLINKS`` matters: the container's own ``/proc/N/root`` of a process entered with
``nsenter -p`` (host root, container PID namespace) is a kernel "magic link" to the host's ``/``.

Nothing is opened for reading before it is known to be a regular file or a directory. The
container's root may hold anything its CAP_MKNOD allows: ``/etc/passwd`` replaced by
``mknod c 1 11`` is ``/dev/kmsg``, a watchdog device arms a reboot on open, and a FIFO blocks
the reader forever. Opened by debugtool these are *host* devices, opened by host root outside
the container's devices cgroup. So every path is first resolved to an ``O_PATH`` descriptor,
which opens nothing (open(2): "the file itself is not opened"), its type is checked with
``fstat``, and only a regular file or a directory is then reopened through
``/proc/self/fd/N`` (the technique runc and libpathrs use), with the same inode checked again.

Nothing here writes: write flags are refused. Errors are ``RootfsError`` with one sentence.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat as stat_mod

from debugtool import procfs
from debugtool.errors import ContainerGone, DebugtoolError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

SYS_OPENAT2 = 437  # the same number on x86-64, arm64 and every asm-generic architecture
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_IN_ROOT = 0x10
MAX_SYMLINKS = 40  # the kernel's own limit (ELOOP after 40 links)
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


class RootfsError(DebugtoolError):
    """A path inside a container's root cannot be read; ``errno`` says why (ENOENT, ENOTDIR...)."""

    def __init__(self, message: str, path: str = "", err: int = 0, hint: str | None = None):
        super().__init__(message, hint)
        self.path = path
        self.errno = err


class NotRegularFile(RootfsError):
    """A path in a container's root is a device, FIFO, socket or symlink, which debugtool
    refuses to open (``kind`` says which)."""

    def __init__(self, path: str, kind: str) -> None:
        super().__init__(
            f"{path}: is a {kind}, not a regular file, so debugtool does not open it.",
            path,
            errno.EINVAL,
            "A container can put a device or a FIFO where a file is expected; debugtool opens "
            "only regular files and directories inside a container.",
        )
        self.kind = kind


def _kind(st: os.stat_result) -> str:
    """Name the type of a file that is neither a regular file nor a directory."""
    mode = st.st_mode
    if stat_mod.S_ISCHR(mode):
        return f"character device ({os.major(st.st_rdev)}:{os.minor(st.st_rdev)})"
    if stat_mod.S_ISBLK(mode):
        return f"block device ({os.major(st.st_rdev)}:{os.minor(st.st_rdev)})"
    if stat_mod.S_ISFIFO(mode):
        return "FIFO"
    if stat_mod.S_ISSOCK(mode):
        return "socket"
    if stat_mod.S_ISLNK(mode):
        return "symbolic link"
    return "special file"


class _OpenHow(ctypes.Structure):
    _fields_ = [
        ("flags", ctypes.c_uint64),
        ("mode", ctypes.c_uint64),
        ("resolve", ctypes.c_uint64),
    ]


_libc: ctypes.CDLL | None = None
_openat2_works: bool | None = None  # None: not tried yet


def _syscall() -> ctypes.CDLL:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.syscall.restype = ctypes.c_long
    return _libc


def _openat2(dirfd: int, path: bytes, flags: int) -> int:
    """Call openat2 with RESOLVE_IN_ROOT; return an fd or raise OSError (ENOSYS when missing)."""
    how = _OpenHow(flags | os.O_CLOEXEC, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
    libc = _syscall()
    for _ in range(16):
        fd = libc.syscall(
            ctypes.c_long(SYS_OPENAT2),
            ctypes.c_int(dirfd),
            ctypes.c_char_p(path),
            ctypes.byref(how),
            ctypes.c_size_t(ctypes.sizeof(how)),
        )
        if fd >= 0:
            return int(fd)
        err = ctypes.get_errno()
        # EAGAIN: a concurrent rename raced a ".." lookup; the kernel asks us to retry.
        if err not in (errno.EAGAIN, errno.EINTR):
            raise OSError(err, os.strerror(err))
    raise OSError(errno.EAGAIN, os.strerror(errno.EAGAIN))


def _components(path: str | bytes) -> list[bytes]:
    raw = os.fsencode(path)
    return [c for c in raw.split(b"/") if c and c != b"."]


def _open_root(root: str) -> int:
    try:
        return os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        if root.startswith(procfs.path("")):
            raise ContainerGone(
                f"the container's process exited, so its root {root} is gone."
            ) from None
        raise RootfsError(
            f"the root directory {root} does not exist.", root, errno.ENOENT
        ) from None
    except OSError as exc:
        raise _error(exc, "/", root) from None


def _error(exc: OSError, path: str, root: str) -> RootfsError:
    """Translate an OSError on ``path`` (a path inside the container) into one sentence."""
    e = exc.errno or 0
    if e == errno.ENOENT:
        msg = f"{path}: no such file or directory in the container."
    elif e == errno.ENOTDIR:
        msg = f"{path}: a component of the path is not a directory."
    elif e == errno.EISDIR:
        msg = f"{path}: is a directory."
    elif e in (errno.EACCES, errno.EPERM):
        return RootfsError(
            f"{path}: permission denied.", path, e, "Run debugtool as root (for example with sudo)."
        )
    elif e == errno.ELOOP:
        msg = f"{path}: too many levels of symbolic links."
    elif e == errno.EXDEV:
        msg = f"{path}: resolves through a kernel magic link, which debugtool does not follow."
    else:
        msg = f"{path}: {exc.strerror or os.strerror(e)}."
    return RootfsError(msg, path, e)


def _display(path: str | bytes) -> str:
    text = os.fsdecode(path)
    return text if text.startswith("/") else "/" + text


# --- the component-by-component fallback --------------------------------------------------------


def _walk_resolve(rootfd: int, path: bytes) -> tuple[int, bytes | None]:
    """Resolve ``path`` inside the root without openat2, following every symlink inside it.

    Return ``(dirfd, name)``: an O_PATH fd of the parent directory and the last component (not a
    symlink), or ``(fd, None)`` when the path is the root itself or ends in ``..``. The caller
    closes the fd.
    """
    stack = [os.dup(rootfd)]  # stack[0] is the root; ".." never pops it
    todo = _components(path)
    links = 0
    try:
        while todo:
            name = todo.pop(0)
            if name == b"..":
                if len(stack) > 1:
                    os.close(stack.pop())
                continue
            last = not todo
            fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=stack[-1])
            st = os.fstat(fd)
            if stat_mod.S_ISLNK(st.st_mode):
                links += 1
                if links > MAX_SYMLINKS:
                    os.close(fd)
                    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP))
                target = os.readlink(name, dir_fd=stack[-1])
                os.close(fd)
                target_b = os.fsencode(target)
                if target_b.startswith(b"/"):
                    # An absolute link starts again from the container's root, not the host's.
                    while len(stack) > 1:
                        os.close(stack.pop())
                todo[:0] = _components(target_b)
                continue
            if last:
                os.close(fd)
                return stack.pop(), name
            if not stat_mod.S_ISDIR(st.st_mode):
                os.close(fd)
                raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
            stack.append(fd)
        return stack.pop(), None
    finally:
        for fd in stack:
            os.close(fd)


def _fallback_open(rootfd: int, path: bytes, flags: int) -> int:
    dirfd, name = _walk_resolve(rootfd, path)
    try:
        if name is None:
            return os.open(".", flags | os.O_CLOEXEC, dir_fd=dirfd)
        # O_NOFOLLOW: the walk already resolved the last link; a link appearing now is a race.
        return os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dirfd)
    finally:
        os.close(dirfd)


# --- public API ---------------------------------------------------------------------------------


def _open_at(rootfd: int, path: str | bytes, flags: int) -> int:
    global _openat2_works
    rel = b"/".join(_components(path)) or b"."
    if _openat2_works is not False:
        try:
            fd = _openat2(rootfd, rel, flags)
            _openat2_works = True
            return fd
        except OSError as exc:
            if exc.errno not in (errno.ENOSYS, errno.EPERM) or _openat2_works:
                raise
            # ENOSYS: kernel older than 5.6; EPERM on first use: a seccomp filter refusing it.
            _openat2_works = False
    return _fallback_open(rootfd, rel, flags)


# What an O_PATH open may carry: openat2 refuses any other flag with O_PATH (EINVAL).
_PATH_FLAGS = os.O_DIRECTORY | os.O_NOFOLLOW
# Added to every reopen for reading. O_NONBLOCK and O_NOCTTY are belt and braces: only regular
# files and directories get this far, and neither blocks nor becomes a controlling terminal.
_REOPEN_FLAGS = os.O_NOCTTY | os.O_NONBLOCK | os.O_CLOEXEC


def _reopen(path_fd: int, flags: int, path: str) -> int:
    """Open for reading the file that the O_PATH fd ``path_fd`` names; return the new fd.

    Only a regular file or a directory is opened; anything else raises ``NotRegularFile``
    without being opened. The new fd must be the same inode as ``path_fd``. Raises ``OSError``
    when the reopen itself fails.
    """
    before = os.fstat(path_fd)
    if not (stat_mod.S_ISREG(before.st_mode) or stat_mod.S_ISDIR(before.st_mode)):
        raise NotRegularFile(path, _kind(before))
    # /proc/self/fd/N of an O_PATH fd reopens that very inode; no path is looked up again.
    fd = os.open(procfs.fd_path(path_fd), (flags & ~os.O_NOFOLLOW) | _REOPEN_FLAGS)
    try:
        after = os.fstat(fd)
    except OSError:
        os.close(fd)
        raise
    if (after.st_dev, after.st_ino) != (before.st_dev, before.st_ino):
        os.close(fd)
        raise RootfsError(f"{path}: changed while debugtool opened it.", path, errno.EAGAIN)
    return fd


def open_in_root(root: str, path: str, flags: int = os.O_RDONLY) -> int:
    """Open ``path`` as the container rooted at ``root`` would see it; return an fd.

    Symlinks and ``..`` resolve inside ``root``. With ``O_PATH`` in ``flags`` the fd opens
    nothing and may name any type of file (check it with ``fstat`` before using it). Without
    it, only a regular file or a directory is opened: anything else raises ``NotRegularFile``
    without being opened. Raises ``RootfsError`` (not found, not a directory, permission) or
    ``ContainerGone`` when ``root`` is a ``/proc/PID/root`` that exited. Refuses write flags:
    debugtool never writes into a container's root.
    """
    if flags & _WRITE_FLAGS:
        raise RootfsError(
            f"{_display(path)}: debugtool opens files in a container read-only.", path, errno.EROFS
        )
    rootfd = _open_root(root)
    try:
        if flags & os.O_PATH:
            return _open_at(rootfd, path, flags)
        path_fd = _open_at(rootfd, path, os.O_PATH | (flags & _PATH_FLAGS))
        try:
            return _reopen(path_fd, flags, _display(path))
        finally:
            os.close(path_fd)
    except OSError as exc:
        raise _error(exc, _display(path), root) from None
    finally:
        os.close(rootfd)


def read_file(root: str, path: str, limit: int = 1 << 20) -> bytes:
    """Return up to ``limit`` bytes of a regular file inside the container's root.

    Raises ``RootfsError`` for a missing path or a directory, and ``NotRegularFile`` for
    anything else that is not a regular file (a device or FIFO is never opened).
    """
    fd = open_in_root(root, path, os.O_RDONLY)
    try:
        st = os.fstat(fd)
        if stat_mod.S_ISDIR(st.st_mode):
            raise RootfsError(f"{_display(path)}: is a directory.", path, errno.EISDIR)
        if not stat_mod.S_ISREG(st.st_mode):  # open_in_root lets nothing else through
            raise NotRegularFile(_display(path), _kind(st))
        chunks: list[bytes] = []
        left = limit
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise _error(exc, _display(path), root) from None
    finally:
        os.close(fd)


def stat(root: str, path: str) -> os.stat_result:
    """Return the stat of ``path`` inside the root, following symlinks (inside the root)."""
    fd = open_in_root(root, path, os.O_PATH)
    try:
        return os.fstat(fd)
    finally:
        os.close(fd)


def _parent_and_name(root: str, path: str) -> tuple[int, str]:
    """Return an O_PATH fd of ``path``'s parent (resolved inside the root) and its last name.

    The name is ``"."`` when the path is the root itself or ends in ``..``.
    """
    parts = _components(path)
    if not parts or parts[-1] == b"..":
        return open_in_root(root, path, os.O_PATH | os.O_DIRECTORY), "."
    parent = b"/".join(parts[:-1]) or b"."
    fd = open_in_root(root, os.fsdecode(parent), os.O_PATH | os.O_DIRECTORY)
    return fd, os.fsdecode(parts[-1])


def lstat(root: str, path: str) -> os.stat_result:
    """Return the stat of ``path`` itself (a symlink is not followed)."""
    fd, name = _parent_and_name(root, path)
    try:
        return os.stat(name, dir_fd=fd, follow_symlinks=False)
    except OSError as exc:
        raise _error(exc, _display(path), root) from None
    finally:
        os.close(fd)


def readlink(root: str, path: str) -> str:
    """Return the target of the symlink at ``path`` (as written; not resolved)."""
    fd, name = _parent_and_name(root, path)
    try:
        return os.readlink(name, dir_fd=fd)
    except OSError as exc:
        if exc.errno == errno.EINVAL:
            raise RootfsError(
                f"{_display(path)}: is not a symbolic link.", path, errno.EINVAL
            ) from None
        raise _error(exc, _display(path), root) from None
    finally:
        os.close(fd)


def _entries(dirfd: int) -> list[tuple[str, os.stat_result | None]]:
    out: list[tuple[str, os.stat_result | None]] = []
    with os.scandir(dirfd) as it:
        for entry in it:
            try:
                st: os.stat_result | None = os.stat(entry.name, dir_fd=dirfd, follow_symlinks=False)
            except OSError:
                st = None  # removed since it was listed
            out.append((entry.name, st))
    out.sort(key=lambda e: e[0])
    return out


def listdir(root: str, path: str) -> list[tuple[str, os.stat_result | None]]:
    """Return a directory's entries, sorted by name, each with its lstat (None if it vanished).

    Raises ``RootfsError`` when the path is missing or not a directory.
    """
    fd = open_in_root(root, path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return _entries(fd)
    except OSError as exc:
        raise _error(exc, _display(path), root) from None
    finally:
        os.close(fd)


def walk(
    root: str, path: str = "/", max_depth: int = 32, xdev: bool = False
) -> Iterator[tuple[str, os.stat_result]]:
    """Yield ``(path, lstat)`` for ``path`` and everything below it, depth first, sorted.

    Symlinks are reported, never followed. Directories deeper than ``max_depth`` are not entered;
    with ``xdev`` other filesystems are not entered either. Unreadable directories are skipped.
    Raises ``RootfsError`` only when ``path`` itself cannot be read.
    """
    start = _display(path).rstrip("/") or "/"
    top = open_in_root(root, start, os.O_RDONLY | os.O_DIRECTORY)
    try:
        top_st = os.fstat(top)
    except OSError as exc:
        os.close(top)
        raise _error(exc, start, root) from None
    yield start, top_st
    yield from _walk_dir(top, start, top_st.st_dev if xdev else None, 1, max_depth)


def _walk_dir(
    dirfd: int, prefix: str, dev: int | None, depth: int, max_depth: int
) -> Iterator[tuple[str, os.stat_result]]:
    try:
        entries = _entries(dirfd)
    except OSError:
        os.close(dirfd)
        return
    try:
        for name, st in entries:
            if st is None:
                continue
            child = f"{prefix.rstrip('/')}/{name}"
            yield child, st
            if not stat_mod.S_ISDIR(st.st_mode) or depth >= max_depth:
                continue
            if dev is not None and st.st_dev != dev:
                continue
            try:
                fd = _open_child_dir(dirfd, name, child)
            except (OSError, RootfsError):
                continue  # unreadable or replaced by something else since: skip it
            yield from _walk_dir(fd, child, dev, depth + 1, max_depth)
    finally:
        os.close(dirfd)


def _open_child_dir(dirfd: int, name: str, path: str) -> int:
    """Open the directory ``name`` in ``dirfd`` for listing, never following a symlink and
    never opening anything that is not a directory by then."""
    path_fd = os.open(name, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dirfd)
    try:
        return _reopen(path_fd, os.O_RDONLY | os.O_DIRECTORY, path)
    finally:
        os.close(path_fd)


def users(root: str) -> dict[int, str]:
    """Return ``{uid: name}`` from the container's own ``/etc/passwd`` (empty when it has none)."""
    return _id_names(root, "/etc/passwd")


def groups(root: str) -> dict[int, str]:
    """Return ``{gid: name}`` from the container's own ``/etc/group`` (empty when it has none)."""
    return _id_names(root, "/etc/group")


def _id_names(root: str, path: str) -> dict[int, str]:
    try:
        text = read_file(root, path).decode("utf-8", "replace")
    except RootfsError:
        return {}
    return parse_passwd(text)


def parse_passwd(text: str) -> dict[int, str]:
    """Parse passwd or group lines (``name:x:ID:...``) into ``{id: name}``; the first name wins."""
    names: dict[int, str] = {}
    for line in text.splitlines():
        parts = line.split(":")
        if len(parts) >= 3 and parts[0] and not parts[0].startswith(("#", "+", "-")):
            try:
                names.setdefault(int(parts[2]), parts[0])
            except ValueError:
                continue
    return names
