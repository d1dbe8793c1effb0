"""A read-only reader of bolt (bbolt) database files, enough for libpod's state.

podman keeps what containers/storage does not (labels, the pod a container is in) in a bolt
file. bolt is a copy-on-write B+tree of fixed-size pages: two meta pages at the start point at
the root bucket of the newest committed transaction, a bucket is a B+tree whose leaves hold
keys and values (or nested buckets, stored inline when small), and a node too large for one
page continues in the pages right after it, so every key and value is contiguous in the file.
Reading follows the newer valid meta page, and holds a shared ``flock`` on the file as bolt's
own read-only opens do: a writer (podman opens the file for each operation and locks it
exclusively) waits the few milliseconds a read takes instead of reusing pages under it.

Layout (bbolt's ``page.go``, ``bucket.go``, ``db.go``; all little-endian):
page header ``id u64, flags u16, count u16, overflow u32``; meta ``magic u32, version u32,
page size u32, flags u32, root bucket (root u64, sequence u64), freelist u64, pgid u64,
txid u64, checksum u64`` (FNV-1a 64 of what precedes it); branch element ``pos u32, ksize u32,
pgid u64``; leaf element ``flags u32, pos u32, ksize u32, vsize u32``, its key ``pos`` bytes
after the element and its value right after the key.
"""

from __future__ import annotations

import fcntl
import os
import struct
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

MAGIC = 0xED0CDAED
VERSION = 2
BRANCH, LEAF, META = 0x01, 0x02, 0x04
BUCKET_LEAF = 0x01  # a leaf element whose value is a nested bucket
_HEADER = struct.Struct("<QHHI")
_META = struct.Struct("<IIII QQ QQQQ")
_BRANCH = struct.Struct("<IIQ")
_LEAF = struct.Struct("<IIII")
_BUCKET = struct.Struct("<QQ")
MAX_DEPTH = 64  # a deeper tree is a corrupt one (a loop)


class BoltError(ValueError):
    """The file is not a bolt database, or changed under the reader."""


def _fnv64a(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


class Bucket:
    """One bucket: its values and nested buckets by key (bytes)."""

    def __init__(self, db: BoltFile, root: int, inline: bytes | None) -> None:
        self._db = db
        self._root = root
        self._inline = inline

    def items(self) -> Iterator[tuple[bytes, bytes, bool]]:
        """Yield ``(key, value, is_bucket)`` in key order."""
        if self._inline is not None:
            yield from _leaf_items(self._inline, 0)
            return
        yield from self._walk(self._root, 0)

    def _walk(self, pgid: int, depth: int) -> Iterator[tuple[bytes, bytes, bool]]:
        if depth > MAX_DEPTH:
            raise BoltError("the tree is deeper than any real one")
        page = self._db.page(pgid)
        _, flags, count, _ = _HEADER.unpack_from(page)
        if flags & LEAF:
            yield from _leaf_items(page, 0)
        elif flags & BRANCH:
            for i in range(count):
                offset = _HEADER.size + i * _BRANCH.size
                _, _, child = _BRANCH.unpack_from(page, offset)
                yield from self._walk(child, depth + 1)
        else:
            raise BoltError(f"page {pgid} is neither a branch nor a leaf")

    def get(self, key: bytes) -> bytes | None:
        """Return the value stored under ``key`` (not a bucket), or None."""
        for k, value, is_bucket in self.items():
            if k == key and not is_bucket:
                return value
        return None

    def bucket(self, key: bytes) -> Bucket | None:
        """Return the nested bucket under ``key``, or None."""
        for k, value, is_bucket in self.items():
            if k == key and is_bucket:
                return self._db.bucket_from_value(value)
        return None

    def buckets(self) -> Iterator[tuple[bytes, Bucket]]:
        """Yield ``(key, bucket)`` for every nested bucket."""
        for k, value, is_bucket in self.items():
            if is_bucket:
                yield k, self._db.bucket_from_value(value)


def _leaf_items(page: bytes, base: int) -> Iterator[tuple[bytes, bytes, bool]]:
    _, flags, count, _ = _HEADER.unpack_from(page, base)
    if not flags & LEAF:
        raise BoltError("an inline bucket without a leaf page")
    for i in range(count):
        offset = base + _HEADER.size + i * _LEAF.size
        eflags, pos, ksize, vsize = _LEAF.unpack_from(page, offset)
        start = offset + pos
        end = start + ksize + vsize
        if end > len(page):
            raise BoltError("a leaf element points past its page")
        yield page[start : start + ksize], page[start + ksize : end], bool(eflags & BUCKET_LEAF)


class BoltFile:
    """An open bolt file, read at the newest committed transaction."""

    def __init__(self, path: str, lock_timeout: float = 1.0) -> None:
        """Open ``path`` under a shared lock; raises ``BoltError`` when a writer holds it
        longer than ``lock_timeout`` seconds or the file is not a bolt database."""
        self.fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            self._lock(lock_timeout)
            self.size = os.fstat(self.fd).st_size
            self.page_size, self.root = self._meta()
        except BaseException:
            os.close(self.fd)
            raise

    def _lock(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise BoltError(f"its writer held it locked for over {timeout:g}s") from None
                time.sleep(0.005)

    def close(self) -> None:
        os.close(self.fd)  # and with it the lock

    def __enter__(self) -> BoltFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _meta(self) -> tuple[int, int]:
        first = os.pread(self.fd, 4096, 0)
        best: tuple[int, int, int] | None = None  # (txid, page size, root)
        offsets = [0]
        if len(first) >= _HEADER.size + _META.size:
            page_size = _META.unpack_from(first, _HEADER.size)[2]
            if page_size in (512, 1024, 2048, 4096, 8192, 16384, 32768, 65536):
                offsets.append(page_size)
        for offset in offsets:
            raw = os.pread(self.fd, _HEADER.size + _META.size, offset)
            if len(raw) < _HEADER.size + _META.size:
                continue
            _, flags, _, _ = _HEADER.unpack_from(raw)
            meta = _META.unpack_from(raw, _HEADER.size)
            magic, version, page_size, _, root, _, _, _, txid, checksum = meta
            body = raw[_HEADER.size : _HEADER.size + _META.size - 8]
            if not flags & META or magic != MAGIC or version != VERSION:
                continue
            if checksum != _fnv64a(body):
                continue  # a meta page being written: the other one is the committed state
            if best is None or txid > best[0]:
                best = (txid, page_size, root)
        if best is None:
            raise BoltError("not a bolt database (no valid meta page)")
        return best[1], best[2]

    def page(self, pgid: int) -> bytes:
        """Return page ``pgid`` with its overflow pages."""
        offset = pgid * self.page_size
        if pgid < 2 or offset + _HEADER.size > self.size:
            raise BoltError(f"page {pgid} is outside the file")
        head = os.pread(self.fd, self.page_size, offset)
        page_id, _, _, overflow = _HEADER.unpack_from(head)
        if page_id != pgid:
            raise BoltError(f"page {pgid} does not carry its own id (a corrupt file)")
        if not overflow:
            return head
        length = (overflow + 1) * self.page_size
        if offset + length > self.size:
            raise BoltError(f"page {pgid} runs past the end of the file")
        return os.pread(self.fd, length, offset)

    def bucket_from_value(self, value: bytes) -> Bucket:
        if len(value) < _BUCKET.size:
            raise BoltError("a bucket value shorter than its header")
        root, _ = _BUCKET.unpack_from(value)
        return Bucket(self, root, value[_BUCKET.size :] if root == 0 else None)

    def top(self) -> Bucket:
        """Return the root bucket (whose nested buckets are the database's top-level ones)."""
        return Bucket(self, self.root, None)
