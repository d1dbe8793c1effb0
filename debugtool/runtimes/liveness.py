"""Whether the process a runtime's state file names is that container's, and still alive.

A runc or crun state file, Docker's record and Docker's API all give a container's init PID,
and a PID outlives nothing: the container stops, the PID is reused. So a recorded PID is the
container's only while the process with it started when the runtime said it did. These are the
checks every backend makes, kept apart from the OCI backends so that Docker's (which reads only
the head of runc's state file) imports nothing else of them.
"""

from __future__ import annotations

import os
import stat

from debugtool import procfs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    #: Reads a process's state (None: it is gone). Test doubles may return a plain
    #: ``(state, start)`` pair.
    ProcStat = Callable[[int], "ProcState | tuple[str, int] | None"]


class ProcState(tuple[str, int, bool]):
    """What liveness needs of a process: its state letter, start time, and whether it is a
    kernel thread (which no container's init can be). A tuple, as test doubles' pairs are."""

    __slots__ = ()

    def __new__(cls, state: str, start: int, kthread: bool = False) -> ProcState:
        return tuple.__new__(cls, (state, start, kthread))

    @property
    def state(self) -> str:
        return self[0]

    @property
    def start(self) -> int:
        return self[1]

    @property
    def kthread(self) -> bool:
        return self[2]


def parse_created(text: Any) -> float | None:
    """Return an RFC 3339 timestamp (runc's nanoseconds, crun's ``Z``) as epoch seconds."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return rfc3339(text)
    except ValueError:
        return None


def go_time(text: Any) -> float | None:
    """Return an RFC 3339 time a Go runtime wrote (Docker's and libpod's ``StartedAt``,
    ``FinishedAt``) as epoch seconds; Go's zero time (``0001-01-01T00:00:00Z``: not yet,
    never) is None, as is anything that is not a time."""
    at = parse_created(text)
    return at if at is not None and at > 0 else None


def rfc3339(text: str) -> float:
    """Return ``2026-12-06T04:44:47.123456789Z`` (or ``+01:00``, or no zone: UTC) as epoch
    seconds; raise ValueError for anything else. ``datetime`` would cost its import (about a
    millisecond) on every ``ps``."""
    day, sep, clock = text.partition("T") if "T" in text else text.partition(" ")
    offset = 0
    if clock.endswith(("Z", "z")):
        clock = clock[:-1]
    elif len(clock) > 6 and clock[-6] in "+-" and clock[-3] == ":":
        sign = 1 if clock[-6] == "+" else -1
        offset = sign * (int(clock[-5:-3]) * 3600 + int(clock[-2:]) * 60)
        clock = clock[:-6]
    year, month, mday = (int(part) for part in day.split("-"))
    hms, _, fraction = clock.partition(".")
    hour, minute, second = (int(part) for part in hms.split(":")) if sep else (0, 0, 0)
    if not (1 <= month <= 12 and 1 <= mday <= 31 and hour < 24 and minute < 60 and second < 61) or (
        fraction and not fraction.isdigit()
    ):
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    # Days since the epoch of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + mday - 1
    days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
    seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset
    return seconds + (float(f"0.{fraction[:9]}") if fraction else 0.0)


def proc_stat(pid: int) -> ProcState | None:
    """Return the state letter, start time (ticks) and kernel-thread flag of a live process, or
    None if it is gone."""
    text = read_small(procfs.path(pid, "stat"))
    if text is None:
        return None
    try:
        fields = procfs.parse_stat(text)
    except (ValueError, IndexError):
        return None
    kthread = bool(int(fields["flags"]) & procfs.PF_KTHREAD)
    return ProcState(str(fields["state"]), int(fields["starttime"]), kthread)


def host_pid(value: Any) -> int | None:
    """Return ``value`` if it can be the host PID of a container's init, else None.

    It must be a JSON integer (``true`` is not a PID, although Python's bool is an int) above
    1: PID 1 is the host's own init, which no state file may turn into a container.
    """
    if type(value) is not int or value <= 1:
        return None
    return value


def start_ticks(value: Any) -> int | None:
    """Return a recorded start time (clock ticks since boot) as an int, else None.

    0 means none was recorded. Older runc wrote the number as a string; a float (``1e400``
    decodes to infinity), a bool or anything else is not a start time.
    """
    if type(value) is int and value >= 0:
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 20:
        return int(value)
    return None


def read_small(path: str) -> str | None:
    """Return a small text file (``/proc/PID/stat``, a freezer state), or None when it cannot be
    read."""
    head = read_head(path, 4096)
    return head.decode("utf-8", "surrogateescape") if head is not None else None


def read_head(path: str, size: int) -> bytes | None:
    """Return up to ``size`` bytes from the start of a file, or None when it cannot be read.
    A bare ``os.read`` costs a fraction of ``open()``'s buffered stack, once per container per
    ``ps``."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return os.read(fd, size)
    except OSError:
        return None
    finally:
        os.close(fd)


def read_regular(path: str, limit: int) -> bytes:
    """Return the bytes of the regular file at ``path``; raise ``OSError``, or ``ValueError``
    when it is not a regular file (a FIFO or device planted in a state directory never blocks
    the read) or holds more than ``limit`` bytes.

    It asks for the size the file has (plus one, to see growth), with bare ``os`` calls: a
    buffered ``read(limit)`` allocates ``limit`` bytes first, which for 8 MiB costs five times
    the read of a container's 3 KiB record, once per container per ``ps``.
    """
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError("not a regular file")
        if info.st_size > limit:
            raise ValueError(f"larger than {limit} bytes")
        data = os.read(fd, info.st_size + 1)
        while len(data) <= limit and (more := os.read(fd, limit + 1 - len(data))):
            data += more
    finally:
        os.close(fd)
    if len(data) > limit:
        raise ValueError(f"larger than {limit} bytes")
    return data


def liveness(pid: Any, start: Any, stat_of: ProcStat = proc_stat) -> bool:
    """Return whether ``pid`` is the live, non-zombie process that started at ``start``.

    ``start`` 0 or missing skips the start-time check (crun's rule for status files written
    before it recorded one). A PID that ``host_pid`` refuses, a start time that ``start_ticks``
    refuses and a kernel thread are never a container's process.
    """
    checked_pid = host_pid(pid)
    checked_start = start_ticks(start or 0)
    if checked_pid is None or checked_start is None:
        return False
    seen = stat_of(checked_pid)
    if seen is None:
        return False
    state, started = seen[0], seen[1]
    if state in ("Z", "X", "x") or (len(seen) > 2 and seen[2]):
        return False
    return not checked_start or started == checked_start
