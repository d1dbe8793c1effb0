"""A tracee's memory, read with pread on /proc/PID/mem, live or as copied at syscall entry."""

from __future__ import annotations

import ctypes
import errno
import os
import struct
from typing import Any

from debugtool import procfs


class TraceeMemory:
    """The memory of one tracee, read with pread on /proc/PID/mem, shaped like the slice of
    python-ptrace's ``PtraceProcess`` that its syscall formatting uses."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._fd: int | None = None

    def _mem(self) -> int:
        if self._fd is None:
            self._fd = os.open(procfs.path(self.pid, "mem"), os.O_RDONLY | os.O_CLOEXEC)
        return self._fd

    def close(self) -> None:
        """Close the mem file (after exec it belongs to the old address space)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _read(self, address: int, size: int) -> bytes:
        """Return up to ``size`` bytes at ``address`` (fewer at the end of a mapping).

        Raises ``OSError`` (EIO) when nothing there is mapped."""
        return os.pread(self._mem(), size, address)

    def readBytes(self, address: int, size: int) -> bytes:  # noqa: N802 - python-ptrace's API
        try:
            data = self._read(address, size)
        except (OSError, OverflowError) as exc:
            from ptrace.error import PtraceError

            raise PtraceError(f"cannot read {size} bytes at {address:#x}: {exc}") from None
        if len(data) < size:
            # A read across the end of a mapping stops there; pad so struct casts still work.
            data += b"\0" * (size - len(data))
        return data

    def readWord(self, address: int) -> int:  # noqa: N802
        return struct.unpack("<Q", self.readBytes(address, 8))[0]

    def readStruct(self, address: int, struct_type: Any) -> Any:  # noqa: N802
        value = struct_type.from_buffer_copy(self.readBytes(address, ctypes.sizeof(struct_type)))
        # A plain C scalar (an int * argument) is shown as its number, not as "c_int(3)".
        return value.value if isinstance(value, ctypes._SimpleCData) else value

    def readArray(self, address: int, basetype: Any, count: int) -> Any:  # noqa: N802
        array = basetype * count
        return array.from_buffer_copy(self.readBytes(address, ctypes.sizeof(array)))

    def readCString(self, address: int, max_size: int) -> tuple[bytes, bool]:  # noqa: N802
        chunks: list[bytes] = []
        size = 0
        while size < max_size:
            # Read up to the end of the page only: the next page may not be mapped.
            step = min(4096 - (address + size) % 4096, max_size - size)
            try:
                data = self._read(address + size, step)
            except (OSError, OverflowError) as exc:
                if chunks:
                    break
                from ptrace.error import PtraceError

                raise PtraceError(f"cannot read a string at {address:#x}: {exc}") from None
            end = data.find(b"\0")
            if end != -1:
                chunks.append(data[:end])
                return b"".join(chunks), False
            chunks.append(data)
            size += len(data)
            if len(data) < step:
                break
        return b"".join(chunks)[:max_size], True


#: Bytes copied at syscall entry from each pointer argument, at least: a sockaddr_un (110) or an
#: fd_set (128); strings take up to the -s limit. Output structs are decoded at exit instead.
SNAPSHOT_MIN = 128


class SnapshotMemory(TraceeMemory):
    """Tracee memory as it was at syscall entry: the bytes each pointer argument pointed at,
    copied before the tracee was resumed, so decoding can run while the tracee runs.

    A read elsewhere (a pointer inside a pointed-to array, as execve's argv) falls through to
    the live memory and sets ``nested``: such syscalls must be decoded before resuming.
    """

    def __init__(self, live: TraceeMemory, regions: list[tuple[int, bytes]], window: int) -> None:
        super().__init__(live.pid)
        self.live = live
        self.regions = regions
        self.window = window  # bytes copied from each pointer argument
        self.nested = False

    def _read(self, address: int, size: int) -> bytes:
        for start, data in self.regions:
            offset = address - start
            if 0 <= offset and offset + size <= self.window:
                if offset >= len(data):
                    raise OSError(errno.EIO, "not mapped at syscall entry")
                return data[offset : offset + size]
            if 0 <= offset < len(data) and b"\0" in data[offset:]:
                # A string read a page at a time that ends inside the copy.
                return data[offset:]
        self.nested = True
        return self.live._read(address, size)

    def close(self) -> None:
        pass  # the live memory's file is not ours


class RecordingMemory(TraceeMemory):
    """A tracee's live memory that notes each read and what it gave (None: unreadable), so a
    decode at syscall exit can be reused while the same reads give the same bytes
    (``same_reads``): a decode depends on nothing else than the syscall and its memory."""

    def __init__(self, live: TraceeMemory) -> None:
        super().__init__(live.pid)
        self.live = live
        self.reads: list[tuple[int, int, bytes | None]] = []

    def _read(self, address: int, size: int) -> bytes:
        try:
            data = self.live._read(address, size)
        except (OSError, OverflowError):
            self.reads.append((address, size, None))
            raise
        self.reads.append((address, size, data))
        return data

    def close(self) -> None:
        pass  # the live memory's file is not ours


def same_reads(memory: TraceeMemory, reads: tuple[tuple[int, int, bytes | None], ...]) -> bool:
    """Whether each of ``reads`` (``RecordingMemory.reads``) gives the same bytes now."""
    pread = os.pread
    fd = memory._fd or memory._mem()
    for address, size, data in reads:
        try:
            if pread(fd, size, address) != data:
                return False
        except (OSError, OverflowError):
            if data is not None:
                return False
    return True


class ProbeMemory(TraceeMemory):
    """Zeroed memory that notes each address read: decoding a syscall over it tells which of
    its pointer arguments the decoder follows (``decode.read_pointers``)."""

    def __init__(self) -> None:
        super().__init__(0)
        self.read: list[int] = []

    def _read(self, address: int, size: int) -> bytes:
        self.read.append(address)
        return bytes(size)

    def close(self) -> None:
        pass
