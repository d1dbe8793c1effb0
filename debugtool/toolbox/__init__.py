"""Host tools inside a container without touching it: a private mount namespace with /.debugtool.

The recipe (FINDINGS.md): clone the tools directory with ``open_tree`` on the host *before*
entering the container's mount namespace; after ``setns(mnt)``, ``unshare(CLONE_NEWNS)`` and make
every mount private, so nothing propagates back; then build a new root on a small tmpfs that holds
a bind of each top-level entry of the container's root plus ``/.debugtool``, and ``pivot_root``
into it. The container's root is never written, its own mountinfo never changes, and it works on
read-only and distroless roots.

What is mounted there is built on the host by ``debugtool.toolbox.stage`` (busybox, and host tools
with their shared libraries, found by ``debugtool.toolbox.elf``) or is a directory the operator
names with ``--tools``. This module is what the joiner imports before it enters the container, so
it stays small: ``ctypes`` and the mount calls.
"""

from __future__ import annotations

import ctypes
import os
import stat
import struct

from debugtool.errors import DebugtoolError, UsageError

MOUNT_POINT = "/.debugtool"
PATH_ENTRIES = (f"{MOUNT_POINT}/bin", MOUNT_POINT)

# x86-64 syscall numbers (FINDINGS.md) and flags from linux/mount.h.
SYS_PIVOT_ROOT = 155
SYS_OPEN_TREE = 428
SYS_MOVE_MOUNT = 429
SYS_MOUNT_SETATTR = 442
OPEN_TREE_CLONE = 1
AT_FDCWD = -100
AT_EMPTY_PATH = 0x1000
AT_RECURSIVE = 0x8000
MOVE_MOUNT_F_EMPTY_PATH = 0x4
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MNT_DETACH = 2
CLONE_NEWNS = 0x00020000

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class ToolboxError(DebugtoolError):
    """The private mount namespace with the host's tools could not be built."""


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise ToolboxError(f"{what} failed: {os.strerror(err)} (errno {err}).")
    return result


def open_tree(path: str, dirfd: int = AT_FDCWD) -> int:
    """Return a detached, recursive clone of the mount tree at ``path`` (an O_CLOEXEC fd)."""
    flags = OPEN_TREE_CLONE | AT_RECURSIVE | os.O_CLOEXEC
    return _check(
        _libc.syscall(SYS_OPEN_TREE, dirfd, path.encode(), ctypes.c_uint(flags)),
        f"open_tree({path})",
    )


def move_mount(tree_fd: int, to_path: str) -> None:
    """Attach the detached tree ``tree_fd`` at ``to_path``."""
    _check(
        _libc.syscall(
            SYS_MOVE_MOUNT,
            tree_fd,
            b"",
            AT_FDCWD,
            to_path.encode(),
            ctypes.c_uint(MOVE_MOUNT_F_EMPTY_PATH),
        ),
        f"move_mount to {to_path}",
    )


def make_readonly(tree_fd: int) -> None:
    """Mark a detached tree read-only, nosuid and nodev; raise ``ToolboxError`` if it fails.

    Not optional: the tools are host files, and once a tool runs in the container, container
    root can reach it through ``/proc/PID/exe``; a read-only mount is what keeps a write through
    that path (CVE-2019-5736's shape) from reaching the host's binary.
    """
    # struct mount_attr { u64 attr_set, attr_clr, propagation, userns_fd; }
    attr = ctypes.create_string_buffer(
        struct.pack("QQQQ", MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, 0, 0, 0)
    )
    _check(
        _libc.syscall(
            SYS_MOUNT_SETATTR,
            tree_fd,
            b"",
            ctypes.c_uint(AT_EMPTY_PATH | AT_RECURSIVE),
            attr,
            ctypes.c_size_t(32),
        ),
        "making the tools read-only (mount_setattr, Linux 5.12 or later)",
    )


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None):
    enc = lambda s: s.encode() if s is not None else None  # noqa: E731
    _check(
        _libc.mount(enc(source), target.encode(), enc(fstype), ctypes.c_ulong(flags), enc(data)),
        f"mount {target}",
    )


def open_tools(directory: str) -> int:
    """Clone the host directory of tools for later attachment (call on the host, before setns).

    Raises ``UsageError`` (exit 125) when ``directory`` is not a directory.
    """
    if not os.path.isdir(directory):
        raise UsageError(
            f"the tools directory {directory} does not exist or is not a directory.",
            "Pass --tools with an existing directory of host tools, or leave it out for busybox.",
        )
    fd = open_tree(os.path.abspath(directory))
    try:
        make_readonly(fd)
    except ToolboxError:
        os.close(fd)
        raise
    return fd


def _staging_dir(entries: list[str]) -> str:
    """Pick an existing directory of the root to mount the staging tmpfs on (hidden afterwards)."""
    for name in ("tmp", "dev", "run", "mnt", "proc", *entries):
        path = "/" + name
        try:
            if stat.S_ISDIR(os.lstat(path).st_mode):
                return path
        except OSError:
            continue
    raise ToolboxError("the container's root has no directory to stage the toolbox root on.")


def enter_private_root(tools_fd: int) -> None:
    """Replace this process's root with the container's root plus ``/.debugtool`` (read-only).

    Call in a single-threaded process that has just joined the container's mount namespace:
    it unshares a private copy of that namespace first, so the container sees none of this.
    """
    _check(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    # Private everywhere: no mount below propagates to the container's (or the host's) namespace.
    _mount(None, "/", None, MS_REC | MS_PRIVATE, None)
    entries = sorted(os.listdir("/"))
    links: dict[str, str] = {}
    trees: dict[str, tuple[int, bool]] = {}
    try:
        for name in entries:
            path = "/" + name
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode):
                links[name] = os.readlink(path)
            else:
                trees[name] = (open_tree(path), stat.S_ISDIR(mode))
        stage = _staging_dir(entries)
        _mount("debugtool", stage, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=755")
        for name, target in links.items():
            os.symlink(target, f"{stage}/{name}")
        for name, (fd, is_dir) in trees.items():
            point = f"{stage}/{name}"
            if is_dir:
                os.mkdir(point, 0o755)
            else:
                os.close(os.open(point, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))
            move_mount(fd, point)
        os.mkdir(stage + MOUNT_POINT, 0o755)
        move_mount(tools_fd, stage + MOUNT_POINT)
        # pivot_root(".", "."): the old root ends up stacked under the new one, then detached
        # (the runc idiom; needs no put_old directory).
        os.chdir(stage)
        _check(_libc.syscall(SYS_PIVOT_ROOT, b".", b"."), "pivot_root")
        _check(_libc.umount2(b".", MNT_DETACH), "detaching the old root")
        os.chdir("/")
        # The synthetic top level is read-only: a write there would vanish with the namespace.
        _mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, None)
    finally:
        for fd, _ in trees.values():
            try:
                os.close(fd)
            except OSError:
                pass
