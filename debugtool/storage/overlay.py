"""A read-only overlay of a container's layers, mounted where nothing but this process sees it.

The mount is made with the kernel's new mount API (Linux 5.2; ``fsopen``, ``fsconfig``,
``fsmount``) and never attached anywhere: ``fsmount`` returns a descriptor of a *detached*
mount, which no mount namespace holds, so it shows in no ``/proc/*/mountinfo``, no process
(the container's, the runtime's, another user's) can walk into it, and it disappears when the
descriptor and the files opened through it are closed, however debugtool ends (the kernel
closes a killed process's descriptors). No helper process, mount namespace or mount point is
needed, and it works from a multithreaded process (the TUI): nothing here calls ``setns``.

What makes it harmless to the runtime's storage:

- every layer is a ``lowerdir`` (the container's own layer on top, then the image's): with no
  ``upperdir`` and no ``workdir`` overlay has nowhere to write, not a copy-up, an xattr, an
  index entry or a work directory; the superblock is ``ro`` and the mount ``MOUNT_ATTR_RDONLY``
  (with ``nosuid``, ``nodev``, ``noexec``: nothing in it is ever run or opened as a device);
- whiteouts and opaque directories of the upper layer are honoured, as the runtime's own mount
  honours them, so a file the container deleted is not seen;
- overlay opens the underlying files with ``O_NOATIME``: reading them changes nothing on disk;
- a layer that another overlay still writes to (a stopped containerd task keeps its root
  mounted until the task is removed) is stacked with a kernel warning ("lowerdir is in-use as
  upperdir"), or refused where overlay's ``index=on``: then the sentence says so;
- layers are added one by one as ``lowerdir+`` (Linux 6.8), each as ``/proc/self/fd/N`` of a
  directory opened and checked first, so no option string limits the number of layers and a
  path swapped after the check cannot change what is mounted. Older kernels get one ``lowerdir``
  string, which ``fsconfig`` caps at 256 bytes (about a dozen layers).

Files are read through ``root`` (``/proc/self/fd/N`` of the mount) with ``debugtool.rootfs``,
which resolves every path inside it and opens nothing but regular files and directories.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat as stat_mod

from debugtool import procfs
from debugtool.errors import DebugtoolError, PermissionDenied
from debugtool.storage.layers import MAX_LAYERS, LayerMissing, Layers, StorageError, who

SYS_OPEN_TREE = 428  # the same numbers on every architecture (added together in Linux 5.2)
SYS_MOVE_MOUNT = 429
SYS_FSOPEN = 430
SYS_FSCONFIG = 431
SYS_FSMOUNT = 432
SYS_MOUNT_SETATTR = 442  # Linux 5.12
OPEN_TREE_CLONE = 0x1
AT_FDCWD = -100
AT_SYMLINK_NOFOLLOW = 0x100
AT_EMPTY_PATH = 0x1000
MOVE_MOUNT_F_EMPTY_PATH = 0x4
MOVE_MOUNT_T_EMPTY_PATH = 0x40
FSOPEN_CLOEXEC = 0x1
FSMOUNT_CLOEXEC = 0x1
FSCONFIG_SET_FLAG = 0
FSCONFIG_SET_STRING = 1
FSCONFIG_CMD_CREATE = 6
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4
MOUNT_ATTR_NOEXEC = 0x8
#: The longest value fsconfig takes (``strndup_user(value, 256)`` in fs/fsopen.c).
MAX_VALUE = 256

_libc: ctypes.CDLL | None = None


def _syscall(*args: object) -> int:
    """Call ``syscall(2)``; return its result or raise ``OSError`` with its errno."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.syscall.restype = ctypes.c_long
    result = _libc.syscall(*args)
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return int(result)


def _set_string(fs: int, key: str, value: str) -> None:
    _syscall(
        ctypes.c_long(SYS_FSCONFIG),
        ctypes.c_int(fs),
        ctypes.c_uint(FSCONFIG_SET_STRING),
        ctypes.c_char_p(key.encode()),
        ctypes.c_char_p(value.encode()),
        ctypes.c_int(0),
    )


def _set_flag(fs: int, key: str) -> None:
    _syscall(
        ctypes.c_long(SYS_FSCONFIG),
        ctypes.c_int(fs),
        ctypes.c_uint(FSCONFIG_SET_FLAG),
        ctypes.c_char_p(key.encode()),
        None,
        ctypes.c_int(0),
    )


def _kernel_says(fs: int) -> str:
    """Return what the filesystem logged in its context while refusing (``e overlayfs: ...``)."""
    said = []
    for _ in range(8):
        try:
            line = os.read(fs, 1024).decode(errors="replace").strip()
        except OSError:
            break
        if not line:
            break
        said.append(line[2:] if line[1:2] == " " else line)
    return "; ".join(said)


class _MountAttr(ctypes.Structure):
    """``struct mount_attr`` of mount_setattr(2)."""

    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


class Overlay:
    """A detached, read-only overlay mount of ``layers``; ``root`` is the path to read it by.

    Raises ``LayerMissing`` when a layer directory is not there, ``PermissionDenied`` without
    CAP_SYS_ADMIN, ``StorageError`` when the kernel refuses the mount (the sentence says what it
    said).
    """

    def __init__(self, layers: Layers, owner: str = "the container") -> None:
        self.layers = layers
        self.fd: int | None = None
        stack = layers.stack
        if not stack:
            raise StorageError(f"{owner} has no layers to read.")
        if len(stack) > MAX_LAYERS:
            raise StorageError(
                f"{owner} has {len(stack)} layers; overlay stacks at most {MAX_LAYERS}."
            )
        held: list[int] = []
        try:
            for path in stack:
                held.append(_open_layer(path, owner))
            self.fd = _mount([procfs.fd_path(fd) for fd in held], layers.options, owner)
        finally:
            for fd in held:
                os.close(fd)  # the mount holds its own references to the directories

    @property
    def root(self) -> str:
        """The overlay's root, as a path this process (only) can open: ``/proc/self/fd/N``."""
        if self.fd is None:
            raise StorageError("the container's storage view was closed.")
        return procfs.fd_path(self.fd)

    def attach(self, path: str, host_file: str) -> bool:
        """Bind-mount ``host_file`` read-only over the file at ``path`` inside the overlay, as
        the runtime did while the container ran (Docker's /etc/hosts); return whether it was.

        The bind goes onto the detached tree only (Linux 6.15 lets a mount be attached to a
        detached one; an older kernel refuses, and the file is left as the layers have it).
        The host file is cloned without following a symlink and must be a regular file; the
        place it goes is resolved inside the overlay's root (``rootfs``), never on the host,
        and must be a regular file of the overlay itself.
        """
        from debugtool import rootfs

        if self.fd is None:
            return False
        try:
            before = os.lstat(host_file)
        except OSError:
            return False
        if not stat_mod.S_ISREG(before.st_mode):
            return False
        try:
            target = rootfs.open_in_root(self.root, path, os.O_PATH)
        except DebugtoolError:
            return False
        tree = -1
        try:
            placed = os.fstat(target)
            if not stat_mod.S_ISREG(placed.st_mode) or placed.st_dev != os.fstat(self.fd).st_dev:
                return False
            tree = _syscall(
                ctypes.c_long(SYS_OPEN_TREE),
                ctypes.c_int(AT_FDCWD),
                ctypes.c_char_p(os.fsencode(host_file)),
                ctypes.c_uint(OPEN_TREE_CLONE | os.O_CLOEXEC | AT_SYMLINK_NOFOLLOW),
            )
            cloned = os.fstat(tree)
            if (cloned.st_dev, cloned.st_ino) != (before.st_dev, before.st_ino):
                return False  # replaced between the check and the clone
            attrs = _MountAttr(
                MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
                0,
                0,
                0,
            )
            _syscall(
                ctypes.c_long(SYS_MOUNT_SETATTR),
                ctypes.c_int(tree),
                ctypes.c_char_p(b""),
                ctypes.c_uint(AT_EMPTY_PATH),
                ctypes.byref(attrs),
                ctypes.c_size_t(ctypes.sizeof(attrs)),
            )
            _syscall(
                ctypes.c_long(SYS_MOVE_MOUNT),
                ctypes.c_int(tree),
                ctypes.c_char_p(b""),
                ctypes.c_int(target),
                ctypes.c_char_p(b""),
                ctypes.c_uint(MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH),
            )
            return True
        except OSError:
            return False
        finally:
            os.close(target)
            if tree >= 0:
                os.close(tree)

    def close(self) -> None:
        """Drop the mount: once the files read through it are closed too, it is gone."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> Overlay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _open_layer(path: str, owner: str) -> int:
    """Open a layer directory as ``O_PATH`` (it opens nothing); raise ``LayerMissing``."""
    try:
        return os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        raise LayerMissing(owner, path) from None
    except NotADirectoryError:
        # O_NOFOLLOW with O_DIRECTORY: a symlink is refused as "not a directory" (ENOTDIR).
        what = "a symbolic link" if os.path.islink(path) else "something"
        raise LayerMissing(owner, path, f"is {what}, not a directory") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise LayerMissing(owner, path, "is a symbolic link, not a directory") from None
        raise LayerMissing(owner, path, f"cannot be opened ({exc.strerror})") from None


def _mount(paths: list[str], options: list[str], owner: str) -> int:
    """Mount ``paths`` (top first) as overlay lowerdirs, read-only and detached; return the
    mount's descriptor."""
    try:
        fs = _syscall(ctypes.c_long(SYS_FSOPEN), ctypes.c_char_p(b"overlay"), FSOPEN_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ENOSYS:
            raise StorageError(
                f"this kernel ({os.uname().release}) has no fsopen (Linux 5.2), which debugtool "
                f"needs to read {owner}'s files from storage without mounting them anywhere."
            ) from None
        if exc.errno == errno.ENODEV:
            raise StorageError(
                "this kernel has no overlay filesystem (modprobe overlay)."
            ) from None
        if exc.errno == errno.EPERM:
            raise PermissionDenied(
                "mounting a container's layers read-only was refused.", need="CAP_SYS_ADMIN"
            ) from None
        raise StorageError(f"fsopen(overlay) failed: {exc.strerror}.") from None
    try:
        _add_layers(fs, paths, owner)
        for option in options:
            key, sep, value = option.partition("=")
            if sep:
                _set_string(fs, key, value)
            else:
                _set_flag(fs, key)
        _set_flag(fs, "ro")
        try:
            _syscall(
                ctypes.c_long(SYS_FSCONFIG),
                ctypes.c_int(fs),
                ctypes.c_uint(FSCONFIG_CMD_CREATE),
                None,
                None,
                ctypes.c_int(0),
            )
        except OSError as exc:
            said = _kernel_says(fs)
            hint = None
            if "in-use" in said:
                # With overlay's index=on a layer another overlay writes to is refused (EBUSY);
                # without it the kernel only logs a warning. A stopped containerd task keeps its
                # root mounted until the task is removed.
                hint = "The runtime still has the container's root mounted; remove its task first."
            raise StorageError(
                f"the kernel refused to stack {owner}'s layers read-only: {said or exc.strerror}.",
                hint,
            ) from None
        attrs = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC
        try:
            return _syscall(
                ctypes.c_long(SYS_FSMOUNT),
                ctypes.c_int(fs),
                ctypes.c_uint(FSMOUNT_CLOEXEC),
                ctypes.c_uint(attrs),
            )
        except OSError as exc:
            raise StorageError(f"fsmount of {owner}'s layers failed: {exc.strerror}.") from None
    except OSError as exc:  # fsconfig of a layer or an option
        said = _kernel_says(fs)
        raise StorageError(
            f"the kernel refused a layer or option of {owner}: {said or exc.strerror}."
        ) from None
    finally:
        os.close(fs)


def _add_layers(fs: int, paths: list[str], owner: str) -> None:
    """Give overlay its lowerdirs: one ``lowerdir+`` each, or one ``lowerdir`` string where the
    kernel is older than 6.8 (EINVAL for the unknown key on the first one)."""
    try:
        _set_string(fs, "lowerdir+", paths[0])
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
        value = ":".join(paths)
        if len(value) >= MAX_VALUE:
            raise StorageError(
                f"{owner} has {len(paths)} layers, more than this kernel "
                f"({os.uname().release}) can stack in one option; Linux 6.8 adds them one by one."
            ) from None
        _kernel_says(fs)  # drop the refusal of lowerdir+ from the log
        _set_string(fs, "lowerdir", value)
        return
    for path in paths[1:]:
        _set_string(fs, "lowerdir+", path)


__all__ = ["Overlay", "who"]
