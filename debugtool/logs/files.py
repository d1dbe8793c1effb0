"""Log files on the host: the end of one read backwards, rotated files, and following one.

A runtime's log of a busy container runs to gigabytes; ``--tail 1000`` must cost the last
thousand lines, not the file. ``tail`` reads a window from the end, decodes it forward (partial
lines are joined front to back) and widens the window only while it holds too few lines.

Rotation: Docker's json-file renames ``ID-json.log`` to ``ID-json.log.1`` (``.1`` to ``.2``
...) and starts a new file; the kubelet renames ``0.log`` to ``0.log.TIMESTAMP`` (and may
gzip older ones). ``rotated`` finds the older files, oldest first; ``Follower`` keeps reading
the file it has open until it is renamed away, then opens the new one from its start.

Only regular files are opened (``open_regular``): a FIFO or a device at a log path would block
or act when read.
"""

from __future__ import annotations

import os
import stat

from debugtool.logs.formats import parse_time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import BinaryIO

    from debugtool.logs.formats import Decoder, LogLine

#: What the first backward read takes per line asked for (a json-file line of 100 characters
#: is about 160 bytes), and at least.
_BYTES_PER_LINE = 256
_FIRST_WINDOW = 64 << 10
#: Chunk of a forward read.
_CHUNK = 1 << 20


class NotRegular(OSError):
    """A log path names something other than a regular file."""


def open_regular(path: str) -> BinaryIO:
    """Open ``path`` for reading if it is a regular file (unbuffered: reads are large).

    ``O_NONBLOCK`` makes opening a FIFO return at once, so it is refused rather than waited
    on. Raises ``NotRegular`` or the ``OSError`` of the open.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotRegular(f"{path} is not a regular file")
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb", buffering=0)


def rotated(path: str) -> list[str]:
    """Return the rotated older files of the log at ``path``, oldest first.

    Numbered suffixes (Docker: ``.1`` is the newest) sort by number, descending; other
    suffixes (the kubelet's ``.20261126-151700``, with ``.gz`` when compressed) by name.
    """
    folder, name = os.path.split(path)
    try:
        entries = os.listdir(folder or ".")
    except OSError:
        return []
    numbered: list[tuple[int, str]] = []
    named: list[str] = []
    for entry in entries:
        if not entry.startswith(name + ".") or entry == name:
            continue
        suffix = entry[len(name) + 1 :].removesuffix(".gz")
        if suffix.isdigit():
            numbered.append((int(suffix), entry))
        elif suffix and not suffix.endswith(".tmp"):
            named.append(entry)
    ordered = [e for _, e in sorted(numbered, reverse=True)] + sorted(named)
    return [os.path.join(folder, e) for e in ordered]


def _read_at(f: BinaryIO, start: int, end: int) -> bytes:
    f.seek(start)
    parts = []
    left = end - start
    while left > 0:
        chunk = f.read(min(left, 8 << 20))
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def tail(
    f: BinaryIO,
    end: int,
    decoder: Callable[[], Decoder],
    count: int | None,
    since: int | None = None,
) -> tuple[list[LogLine], bool]:
    """Return the last ``count`` lines (every one when None) of the first ``end`` bytes of an
    open log file, of those at or after ``since`` (nanoseconds since the epoch); and whether
    that is all there is to show (``count`` lines found, or a line older than ``since`` seen),
    so that older, rotated files need not be read.

    The file is read from the end in a window that grows fourfold until it holds ``count``
    lines (the first line in a window may be the end of one that started before it: it is
    dropped unless the window starts at the file's start) and reaches back past ``since``.
    """
    if count == 0:
        return [], True
    window = max(_FIRST_WINDOW, (count or 0) * _BYTES_PER_LINE)
    while True:
        start = max(0, end - window)
        data = _read_at(f, start, end)
        if start > 0:
            newline = data.find(b"\n")
            if newline < 0:
                window *= 4
                continue
            data = data[newline + 1 :]
        if count is not None and since is None:
            # Decode only the last ``count`` lines of the window when it holds that many
            # (found by ``rfind``, in C): the window is sized for long lines.
            at = len(data) - 1  # a line ends the window (unless torn mid-write)
            for _ in range(count):
                at = data.rfind(b"\n", 0, at)
                if at < 0:
                    break
            if at >= 0:
                d = decoder()
                lines = d.feed(data[at + 1 :])
                lines += d.end()
                if len(lines) >= count:
                    return lines[-count:], True
        d = decoder()
        lines = d.feed(data)
        lines += d.end()
        if start > 0 and lines:
            del lines[0]
        past_since = False
        if since is not None:
            kept = [line for line in lines if at_or_after(line, since)]
            past_since = len(kept) < len(lines)
            lines = kept
        enough = count is not None and len(lines) >= count
        if start == 0 or enough or past_since:
            return (lines[-count:] if count is not None else lines), enough or past_since
        window *= 4


def at_or_after(line: LogLine, since: int) -> bool:
    """Return whether a line is at or after ``since``; a line without a time is kept."""
    if not line.time:
        return True
    when = parse_time(line.time)
    return when is None or when >= since


def read_all(
    f: BinaryIO, end: int, decoder: Decoder, since: int | None = None
) -> Iterator[list[LogLine]]:
    """Yield the lines of the first ``end`` bytes of an open log file in batches, oldest first,
    those at or after ``since``. Reads forward in 1 MiB chunks: a log of any size streams."""
    f.seek(0)
    left = end
    while left > 0:
        chunk = f.read(min(left, _CHUNK))
        if not chunk:
            break
        left -= len(chunk)
        lines = decoder.feed(chunk)
        if since is not None:
            lines = [line for line in lines if at_or_after(line, since)]
        if lines:
            yield lines


def read_older(path: str, decoder: Decoder) -> list[LogLine]:
    """Return every line of a rotated (no longer written) log file, gzip'd or not."""
    if path.endswith(".gz"):
        import gzip

        with open_regular(path) as raw, gzip.open(raw) as f:
            data = f.read()
    else:
        with open_regular(path) as f:
            data = f.read()
    lines = decoder.feed(data)
    lines += decoder.end_of_file()
    return lines


class Waker:
    """Waits until something changes in a log's directory (a write, a rotation's rename or
    new file), through inotify; where inotify cannot be had, until the timeout (polling).

    inotify comes through ``ctypes`` (imported only by a follow): a line written is seen in
    well under a millisecond, where polling would see it a poll interval later.
    """

    #: IN_MODIFY | IN_ATTRIB | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE
    _MASK = 0x2 | 0x4 | 0x40 | 0x80 | 0x100 | 0x200

    def __init__(self, path: str) -> None:
        self.fd = -1
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            fd = libc.inotify_init1(os.O_CLOEXEC | os.O_NONBLOCK)
            if fd < 0:
                return
            folder = os.path.dirname(path) or "."
            if libc.inotify_add_watch(fd, os.fsencode(folder), self._MASK) < 0:
                os.close(fd)
                return
            self.fd = fd
        except (OSError, AttributeError):
            self.fd = -1

    def wait(self, timeout: float) -> None:
        """Return when the directory changed, or after ``timeout`` seconds at most."""
        if self.fd < 0:
            import time

            time.sleep(min(timeout, 0.05))
            return
        import select

        ready, _, _ = select.select([self.fd], [], [], timeout)
        if ready:
            try:
                while os.read(self.fd, 1 << 16):
                    pass
            except BlockingIOError:
                pass

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class Follower:
    """New lines of a log file as they are written, across rotations and truncations.

    ``f`` is the file as opened at ``path``, read up to ``offset``. Each ``poll`` reads what was
    appended since; when ``path`` names another file than ``f`` (renamed away by a rotation),
    ``f`` is read to its end once more (a last write before the rename) and the new file is
    followed from its start. A file shorter than what was read (truncated in place, as
    logrotate's copytruncate does) is read again from its start.

    A follower held up while two rotations happen (its output blocked, the container writing
    twice the rotation size meanwhile) has lost the file between them: it holds only the one
    it had open, and the one the path names now.
    """

    def __init__(self, path: str, f: BinaryIO, offset: int, decoder: Decoder) -> None:
        self.path = path
        self.f = f
        self.offset = offset
        self.decoder = decoder

    def _drain(self) -> list[LogLine]:
        self.f.seek(self.offset)
        out: list[LogLine] = []
        while True:
            chunk = self.f.read(_CHUNK)
            if not chunk:
                return out
            self.offset += len(chunk)
            out += self.decoder.feed(chunk)

    def poll(self) -> list[LogLine]:
        """Return the lines written since the last poll (an empty list when none were)."""
        out = self._drain()
        try:
            now = os.stat(self.path)
        except OSError:
            return out  # between a rotation's rename and the new file's creation
        own = os.fstat(self.f.fileno())
        if (now.st_dev, now.st_ino) != (own.st_dev, own.st_ino):
            try:
                new = open_regular(self.path)
            except OSError:
                return out  # not there yet, or not a regular file: keep the old one
            out += self._drain()
            out += self.decoder.end_of_file()
            self.f.close()
            self.f, self.offset = new, 0
            out += self._drain()
        elif own.st_size < self.offset:
            self.offset = 0
            out += self._drain()
        return out

    def close(self) -> None:
        self.f.close()
