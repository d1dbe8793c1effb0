"""The bundle's archive: members laid out as gzip-compressed tar, and the file committed into place.

A bundle is a ``.tar.gz`` of one or more gzip members (gzip allows that, and ``tar xzf`` reads
it as one stream): every member under one root folder, mode 0600, owned by root, the manifest
first. ``Archive.part`` writes one gzip member, so the capture can compress the bulk of the
files while its sampling window still runs and add the manifest in front of them later.

``Destination`` writes the finished archive where ``-o`` points, whole or not at all: to
standard output, or to an unnamed ``O_TMPFILE`` (mode 0600) in the destination's directory
that is linked into place under the directory's ``flock``. An existing file is never replaced
without ``--force``, and of several writers racing for one path exactly one wins.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import io
import os
import re
import stat
import sys
import tarfile

from debugtool import procfs
from debugtool.bundle import manifest
from debugtool.errors import BundleError
from debugtool.record import record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping


def member_order(rel: str) -> tuple[int, str]:
    """Archive order: the manifest, redactions, report, host files, then containers."""
    first = {manifest.MANIFEST: 0, manifest.REDACTIONS: 1, manifest.REPORT: 2}
    if rel in first:
        return (first[rel], rel)
    return (3 if rel.startswith("host/") else 4, rel)


@record(frozen=True)
class Archive:
    """How one bundle's members are written: under ``root/``, with one modification time."""

    root: str  # the folder every member is in (debugtool-bundle-HOST-TIME)
    mtime: int

    def part(self, members: Mapping[str, bytes], last: bool = True) -> bytes:
        """Return one gzip member holding ``members`` (paths relative to the root) as tar
        entries in archive order (``member_order``).

        With ``last`` the tar end-of-archive blocks follow them, so the part ends the archive;
        without them another part can follow it.
        """
        buf = io.BytesIO()
        with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=6, mtime=self.mtime) as gz:
            tar = tarfile.TarFile(fileobj=gz, mode="w")
            for rel in sorted(members, key=member_order):
                info = tarfile.TarInfo(f"{self.root}/{rel}")
                info.size = len(members[rel])
                info.mtime = self.mtime
                info.mode = 0o600
                info.uname = info.gname = "root"
                tar.addfile(info, io.BytesIO(members[rel]))
            if last:
                tar.close()  # the end-of-archive blocks (the file object stays open)
        return buf.getvalue()


#: ``-o -``: the bundle goes to standard output.
STDOUT = "-"
#: A named temporary file beside the destination: only where the filesystem has no O_TMPFILE,
#: and for the moment ``--force`` renames one over the old file. It carries its writer's PID,
#: so the next run in that directory removes one whose writer died (SIGKILL, power loss).
_TEMP = re.compile(r"\..+\.debugtool-(?P<pid>[0-9]+)\.tmp")


@record
class Destination:
    """Where a bundle goes: standard output, or a regular file created whole or not at all.

    A device, FIFO, socket or symbolic link is never replaced by a bundle (``-o /dev/null``
    would otherwise swap the host's /dev/null for a 0600 file); an existing file only with
    ``--force``. Of several writers racing for one path, exactly one wins: the others are told
    the file appeared (or changed) while they captured.
    """

    path: str  # the file, or STDOUT
    force: bool = False
    replaces: tuple[int, int] | None = None  # (device, inode) of the file --force replaces
    committing: bool = False  # linking the written archive into place (microseconds)

    @classmethod
    def choose(cls, output: str | None, default_name: str, force: bool = False) -> Destination:
        """Check where ``-o`` points, before anything is captured. A directory gets
        ``default_name`` in it. Raises ``BundleError`` with one sentence."""
        if output == STDOUT:
            if os.isatty(1):
                raise BundleError(
                    "-o - writes the bundle to standard output, which is a terminal.",
                    "Redirect it to a file or a pipe, or name a file with -o.",
                )
            return cls(STDOUT)
        path = output or default_name
        if os.path.isdir(path):
            path = os.path.join(path, default_name)
        parent = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(parent):
            raise BundleError(
                f"cannot write the bundle to {path}: {parent} does not exist.",
                "Name a file in an existing directory with -o.",
            )
        if not os.access(parent, os.W_OK):
            raise BundleError(
                f"cannot write the bundle to {path}: {parent} is not writable.",
                "Name a file in a writable directory with -o.",
            )
        dest = cls(path, force)
        dest.replaces = dest._existing()
        _remove_stale_temps(parent)
        return dest

    def _existing(self) -> tuple[int, int] | None:
        """Return the (device, inode) of the regular file at the path, None if there is none.

        Raises ``BundleError`` for anything else there, and for a file without ``--force``.
        """
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise BundleError(f"cannot write the bundle to {self.path}: {exc.strerror}.") from None
        if stat.S_ISLNK(st.st_mode):
            raise BundleError(
                f"{self.path} is a symbolic link; debugtool writes a bundle only to a new or "
                "regular file, never through a link.",
                "Name another file, or use -o - for standard output.",
            )
        if not stat.S_ISREG(st.st_mode):
            raise BundleError(
                f"{self.path} is {_kind(st.st_mode)}, not a regular file; debugtool will not "
                "replace it with a bundle.",
                "Name a regular file, or use -o - for standard output.",
            )
        if not self.force:
            raise BundleError(
                f"{self.path} already exists.", "Name another file, or add --force to replace it."
            )
        return (st.st_dev, st.st_ino)

    def publish(self, archive: bytes) -> bool:
        """Write ``archive`` there, whole or not at all; return whether a file was replaced.

        Raises ``BundleError`` when writing fails or another process took the path meanwhile.
        """
        if self.path == STDOUT:
            _write_stdout(archive)
            return False
        return self.publish_with(lambda fd: _write_all(fd, archive))

    def publish_with(self, write: Callable[[int], None]) -> bool:
        """``publish``, for an archive too large to hold: ``write`` writes it to the file
        descriptor it is given (1 for standard output). A fleet bundle is written this way."""
        if self.path == STDOUT:
            sys.stdout.flush()
            try:
                write(1)
            except BrokenPipeError:
                raise BundleError(
                    "standard output was closed before the whole bundle was written to it.",
                    "Check the command that reads it.",
                ) from None
            return False
        directory, name = os.path.split(os.path.abspath(self.path))
        fd, temp = _temp_file(directory, name)
        try:
            try:
                write(fd)
                os.fsync(fd)
            except OSError as exc:
                raise BundleError(f"writing {self.path} failed: {exc.strerror}.") from None
            with _locked(directory) as dfd:
                # Under the directory's lock no other debugtool checks and links in between:
                # the path must still be what it was when the capture began.
                if self._now() != self.replaces:
                    raise self._taken()
                self.committing = True
                try:
                    if self.replaces is None:
                        _link(temp, fd, dfd, name)  # fails if the name exists
                    else:
                        if temp is None:
                            temp = f".{name}.debugtool-{os.getpid()}.tmp"
                            with contextlib.suppress(FileNotFoundError):
                                os.unlink(temp, dir_fd=dfd)
                            _link(None, fd, dfd, temp)
                            temp = os.path.join(directory, temp)
                        os.replace(temp, name, dst_dir_fd=dfd)
                        temp = None
                except FileExistsError:
                    raise self._taken() from None
                except OSError as exc:
                    raise BundleError(f"writing {self.path} failed: {exc.strerror}.") from None
                finally:
                    self.committing = False
        finally:
            os.close(fd)
            if temp is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temp)
        return self.replaces is not None

    def _now(self) -> tuple[int, int] | None:
        """What is at the path now, as ``replaces`` records it ((-1, -1): not ours to take)."""
        if not self.force:
            return (-1, -1) if os.path.lexists(self.path) else None
        try:
            return self._existing()
        except BundleError:
            return (-1, -1)  # a link or a device appeared there

    def _taken(self) -> BundleError:
        return BundleError(
            f"{self.path} was written by another process while this bundle was captured, so "
            "this bundle was not written.",
            "Run again with another -o FILE.",
        )


def _kind(mode: int) -> str:
    for test, kind in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return kind
    return "not a regular file"


def _temp_file(directory: str, name: str) -> tuple[int, str | None]:
    """Open a 0600 file to write the archive to, in ``directory`` (so linking it into place
    never crosses a filesystem): unnamed (O_TMPFILE, gone with the process whatever kills it)
    where the filesystem allows, else named ``.NAME.debugtool-PID.tmp``. Returns the
    descriptor and the name (None when unnamed). Raises ``BundleError``."""
    try:
        fd = os.open(directory, os.O_TMPFILE | os.O_WRONLY | os.O_CLOEXEC, 0o600)
        os.fchmod(fd, 0o600)  # whatever the umask
        return fd, None
    except OSError:
        pass  # no O_TMPFILE on this filesystem (open(2): EOPNOTSUPP, or EISDIR on old kernels)
    temp = os.path.join(directory, f".{name}.debugtool-{os.getpid()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)  # our own PID's: left by an earlier process that had it
        fd = os.open(temp, flags, 0o600)
        os.fchmod(fd, 0o600)
    except OSError as exc:
        raise BundleError(f"cannot create a file in {directory}: {exc.strerror}.") from None
    return fd, temp


def _link(temp: str | None, fd: int, dfd: int, name: str) -> None:
    """Give the archive written to ``fd`` (named ``temp``, or unnamed) the name ``name`` in
    the directory ``dfd``. Raises ``FileExistsError`` when the name is taken."""
    if temp is not None:
        os.link(temp, name, dst_dir_fd=dfd)
        return
    # linkat(2) of an O_TMPFILE through /proc/self/fd with AT_SYMLINK_FOLLOW, as open(2)
    # shows (AT_EMPTY_PATH would need CAP_DAC_READ_SEARCH). os.link passes that flag only
    # when it calls linkat, which it does when given a directory descriptor.
    os.link(procfs.fd_path(fd), name, src_dir_fd=dfd, dst_dir_fd=dfd, follow_symlinks=True)


@contextlib.contextmanager
def _locked(directory: str) -> Iterator[int]:
    """Hold an exclusive flock on ``directory`` (where the filesystem has flock); give its
    descriptor."""
    dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        with contextlib.suppress(OSError):
            fcntl.flock(dfd, fcntl.LOCK_EX)
        yield dfd
    finally:
        os.close(dfd)  # releases the lock


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _write_stdout(archive: bytes) -> None:
    sys.stdout.flush()  # nothing should be there; if it is, it goes first, not inside
    try:
        _write_all(1, archive)
    except BrokenPipeError:
        raise BundleError(
            "standard output was closed before the whole bundle was written to it.",
            "Check the command that reads it.",
        ) from None
    except OSError as exc:
        raise BundleError(
            f"writing the bundle to standard output failed: {exc.strerror}."
        ) from None


def _remove_stale_temps(directory: str) -> None:
    """Remove ``.NAME.debugtool-PID.tmp`` files in ``directory`` whose writer is gone."""
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    for entry in entries:
        match = _TEMP.fullmatch(entry.name)
        try:
            if not match or not entry.is_file(follow_symlinks=False):
                continue
            if entry.stat(follow_symlinks=False).st_uid != os.geteuid():
                continue
        except OSError:
            continue
        if not _running(int(match["pid"])):
            with contextlib.suppress(OSError):
                os.unlink(entry.path)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
