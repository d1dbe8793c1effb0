"""Read a support bundle back into the Snapshot model, for the TUI and ``--bundle`` commands.

The bundle format (schema version 1) is a gzip-compressed tar archive (possibly several gzip
members one after the other, which gzip, tar and Python read as one stream). Every member sits under
one top directory, ``ROOT = debugtool-bundle-HOST-YYYYmmddTHHMMSSZ``, so unpacking it spills
nothing::

    ROOT/manifest.json            first member, always: format, schema, collectors, checksums
    ROOT/redactions.json          which rule matched in which file how often (never a secret)
    ROOT/report.html              a self-contained page showing the same views offline
    ROOT/host/debugtool.json      debugtool's version and the command line that made the bundle
    ROOT/host/kernel.txt          uname, /proc/version, kernel command line, load, memory
    ROOT/host/os-release          /etc/os-release
    ROOT/host/cgroups.txt         cgroup version, /proc/cgroups and the cgroup mounts
    ROOT/host/runtimes.json       versions of the runtimes found on the host
    ROOT/host/discovery.json      every container the runtimes listed, and skipped runtimes
    ROOT/host/audit.jsonl         the audit log's most recent lines (redacted)
    ROOT/host/audit-chain.json    their seqs and original hashes, the host log's verdict
    ROOT/host/recordings/seq-N.cast  recordings of the bundled containers' sessions (redacted)
    ROOT/host/kernel-log.txt      the kernel log (/dev/kmsg or dmesg), with UTC times
    ROOT/host/oom-kills.json      the OOM kills found in it: pid, process, memory cgroup, ...
    ROOT/host/journal.txt         per daemon unit, how many journal lines were kept (or why none)
    ROOT/host/journal/UNIT.log    the last lines of docker, containerd, podman, kubelet units
    ROOT/host/configs.json        which runtime configs were looked for and found
    ROOT/host/config/PATH         each runtime config found (daemon.json, config.toml, ...)
    ROOT/host/docker-info.json    Docker's GET /info
    ROOT/host/docker-events.jsonl the last hour of Docker's events, one a line
    ROOT/host/df.txt, df.json     space and inode use of the host's filesystems
    ROOT/host/sysctls.txt, .json  sysctls that matter to containers
    ROOT/host/netfilter/...       iptables-save, ip6tables-save, nft list ruleset
    ROOT/host/listening.json      the host's listening sockets and the processes holding them
    ROOT/host/resources.json      CPU, load, memory, swap, disks, network counters, uptime
    ROOT/containers/DIR/          one folder per container, DIR = RUNTIME-NAME-SHORTID
        container.json            the model Container (with each backend's raw record)
        inspect.json              the runtime's own inspect data
        snapshot.json             the model Snapshot as captured (Snapshot.to_json)
        cgroup-samples.json       a list of CgroupStats taken over about a second
        logs.txt                  the container's recent output
        raw/proc/...              the init process's mountinfo, status, cgroup, limits, net/*
        raw/cgroup-CTL.txt        every readable file of the container's cgroup, per controller
        files/etc/...             its own /etc/passwd, group, hosts, resolv.conf, os-release...
        files.json                what became of each of those (kept, missing, not a regular file)
        storage.json              a stopped container's layers its files were read from

``manifest.json`` holds (see ``manifest.py``): ``format`` ("debugtool-bundle"),
``schema_version``, ``debugtool_version``, ``created_at`` (epoch seconds), ``root``,
``complete`` (false when interrupted or out of time), ``interrupted``, ``command_line``,
``containers`` (a list of ``{id, name, runtime, status, dir, exited_during_capture}``; a
container whose process exited while it was captured has status ``exited`` and
``exited_during_capture`` true; one that was not running at all has ``not_running`` true), ``collectors`` (a list of
``{name, container, status, duration, error, files}``, status one of ok, error, timeout,
skipped, truncated), ``dropped`` (what ``--max-size`` left out) and ``files`` (``path ->
{size, sha256}`` for every member but the manifest, paths relative to ROOT). ``manifest.py``
checks every field's kind and range (``schema_problems``).

Every bundle is verified as it is read (``open_bundle``, in the one streaming pass that reads
it): a bundle that ``bundle verify`` would call damaged is refused, never shown.
"""

from __future__ import annotations

import collections
import hashlib
import io
import json
import os
import tarfile
import zlib

from debugtool.bundle import manifest
from debugtool.errors import BundleError
from debugtool.model import Container, from_dict
from debugtool.record import field, record
from debugtool.snapshot import CgroupStats, Snapshot

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import IO, Any

    from debugtool.audit import Record

# A bundle is something someone sent you: a 1 MiB gzip can inflate to a terabyte of zeros, and
# tar headers can declare any size. These limits keep what reading one costs bounded. debugtool's
# own bundles stay far below each of them (logs are capped at 8 MiB, raw files at 1 MiB).

#: The most of one member debugtool reads into memory. A member whose header declares more is
#: refused before a byte of it is inflated.
MEMBER_LIMIT = 64 << 20
#: The most a bundle may inflate to (the whole tar stream: headers, members, padding). Reading
#: stops when the decompressor passes it, so a gzip bomb is never inflated to its end.
TOTAL_LIMIT = 1 << 30
#: The most of a bundle's members an open Bundle holds in memory; a member beyond it is read
#: again from the file when it is asked for.
HELD_LIMIT = 128 << 20
#: The most members a bundle may hold (each costs memory for its name, size and checksum).
MEMBERS_LIMIT = 1 << 16
#: The longest member name, and the largest pax or GNU long-name header, that is read.
NAME_LIMIT = 1024
HEADER_LIMIT = 64 << 10
#: The most pax and GNU long-name headers in front of one member (tarfile recurses on each).
EXTENSION_LIMIT = 8
_CHUNK = 1 << 20  # how much of a member is read (and hashed) at a time
# tarfile reads a stream RECORDSIZE bytes at a time: it never holds more than that unread.
_RECENT = 4 * tarfile.RECORDSIZE
_FILE_TYPES = (tarfile.REGTYPE, tarfile.AREGTYPE)
# Headers whose data tarfile reads whole into memory to parse them.
_EXTENSIONS = (
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
    tarfile.XHDTYPE,
    tarfile.SOLARIS_XHDTYPE,
)


class BundleTooLarge(BundleError):
    """A bundle goes past one of the limits above; ``limit`` names it."""

    def __init__(self, message: str, limit: str) -> None:
        super().__init__(
            message,
            "debugtool's own bundles stay far below it: check where this file came from, "
            "or ask for the bundle again.",
        )
        self.limit = limit


def _mib(size: int) -> str:
    return f"{size / (1 << 20):,.0f} MiB" if size >= 1 << 20 else f"{size:,} bytes"


class _Inflater(io.RawIOBase):
    """The decompressed bytes of a gzip file of one or more members (as the writer makes it),
    counted as they come: passing ``TOTAL_LIMIT`` raises ``BundleTooLarge``.

    Each call inflates at most what the caller asked for (``max_length``), so no step of a
    gzip bomb produces more than one buffer. Raises ``zlib.error`` for data that is not gzip
    and ``EOFError`` for a file cut short inside a member.
    """

    def __init__(self, raw: IO[bytes], path: str) -> None:
        self._raw = raw
        self._path = path
        self._z: Any = None  # the current member's decompressor; None between members
        self._input = b""  # compressed bytes read but not yet inflated
        self.total = 0
        # The last bytes handed out (at least _RECENT of them), so what tarfile read ahead of
        # the end-of-archive block can still be checked (see _end_of_archive).
        self.recent: collections.deque[bytes] = collections.deque()
        self._recent_size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        want = len(buffer)
        while True:
            if self._z is None:
                # Between members: gzip allows zero padding, and the file may simply end.
                data = self._input.lstrip(b"\0")
                while not data:
                    chunk = self._raw.read(1 << 16)
                    if not chunk:
                        return 0
                    data = chunk.lstrip(b"\0")
                self._input = data
                self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)  # a gzip header and trailer
            if not self._input:
                self._input = self._raw.read(1 << 16)
                if not self._input:
                    raise EOFError("the file ends inside a compressed member")
            out = self._z.decompress(self._input, want)
            if self._z.eof:
                self._input, self._z = self._z.unused_data, None
            else:
                self._input = self._z.unconsumed_tail
            if out:
                self.total += len(out)
                if self.total > TOTAL_LIMIT:
                    raise BundleTooLarge(
                        f"{self._path} inflates to more than {_mib(TOTAL_LIMIT)}, the most "
                        "debugtool reads of a bundle.",
                        "total",
                    )
                buffer[: len(out)] = out
                self.recent.append(out)
                self._recent_size += len(out)
                while self._recent_size - len(self.recent[0]) >= _RECENT:
                    self._recent_size -= len(self.recent.popleft())
                return len(out)


class _Header(tarfile.TarInfo):
    """A tar header that refuses, before tarfile reads them, what tarfile would otherwise hold
    or follow without bound: a large pax or GNU long-name header (read whole into memory), a
    chain of them (each one recurses), a global pax header (its keys pile up for the rest of
    the archive) and a sparse file (its map can grow without end)."""

    bundle = ""  # the bundle, for the messages; set on the class made for each pass (not
    # "path": that is TarInfo's own alias of name, which pax headers set)
    chain = 0  # extension headers in front of the member being read

    def _proc_member(self, tarfile_: tarfile.TarFile) -> tarfile.TarInfo:
        # The hook tarfile's own source names for TarInfo subclasses that process types.
        if self.type == tarfile.GNUTYPE_SPARSE:
            raise BundleError(
                f"{self.bundle} holds a sparse file ({self.name}), which no bundle holds.",
                "Name a file written by 'debugtool bundle'.",
            )
        if self.type == tarfile.XGLTYPE:
            raise BundleError(
                f"{self.bundle} holds a global pax header, which no bundle holds.",
                "Name a file written by 'debugtool bundle'.",
            )
        if self.type not in _EXTENSIONS:
            return super()._proc_member(tarfile_)  # type: ignore[misc]  # not in the stubs
        if self.size > HEADER_LIMIT:
            raise BundleTooLarge(
                f"{self.bundle} has a tar extension header of {_mib(self.size)}, more than the "
                f"{_mib(HEADER_LIMIT)} debugtool reads.",
                "header",
            )
        cls = type(self)
        if cls.chain >= EXTENSION_LIMIT:
            raise BundleTooLarge(
                f"{self.bundle} has more than {EXTENSION_LIMIT} tar extension headers in front "
                "of one member.",
                "header",
            )
        cls.chain += 1
        try:
            return super()._proc_member(tarfile_)  # type: ignore[misc]
        finally:
            cls.chain -= 1


def _kind(info: tarfile.TarInfo) -> str:
    """Say what a member that is not a regular file is."""
    if info.issym():
        return "a symbolic link"
    if info.islnk():
        return "a hard link"
    if info.ischr() or info.isblk():
        return "a device"
    if info.isfifo():
        return "a FIFO"
    if info.sparse is not None:
        return "a sparse file"
    return f"a member of tar type {info.type!r}"


@record
class _Member:
    """One member as a pass over the archive meets it, with its data still unread."""

    info: tarfile.TarInfo
    rel: str  # the path below the bundle's top folder
    root: str  # the top folder it sits in
    index: int  # its place among the archive's members (0 is the manifest)
    tar: tarfile.TarFile

    def read(self, path: str, hold: bool = True, digest: Any = None) -> bytes:
        """Read the member in chunks; hash each into ``digest``; return it if ``hold``.

        Raises ``BundleTooLarge`` (before reading) when its header declares more than
        ``MEMBER_LIMIT``, and ``EOFError`` when it ends before its declared size.
        """
        size = self.info.size
        if size > MEMBER_LIMIT:
            raise BundleTooLarge(
                f"{path}: member {self.info.name} is {_mib(size)}, more than the "
                f"{_mib(MEMBER_LIMIT)} debugtool reads of one member.",
                "member",
            )
        handle = self.tar.extractfile(self.info)
        # BytesIO, not a list joined at the end: getvalue() hands over its buffer without a
        # copy, so a held member costs its size once, not twice for a moment.
        held = io.BytesIO()
        got = 0
        while handle is not None and (chunk := handle.read(min(_CHUNK, size - got))):
            got += len(chunk)
            if digest is not None:
                digest.update(chunk)
            if hold:
                held.write(chunk)
            if got >= size:
                break
        if got != size:
            raise EOFError("member cut short")
        return held.getvalue()


def _members(path: str, raw: IO[bytes]) -> Iterator[_Member]:
    """Yield the archive's members, streaming: every regular file and every refused member
    (a link, device, FIFO, or a path that climbs out), never a directory.

    Raises ``BundleTooLarge`` past a limit, and tarfile's, zlib's or ``EOFError`` for damage.
    """
    header = type("_Header", (_Header,), {"bundle": path})
    inflater = _Inflater(raw, path)
    try:
        # "r|": a stream, read once front to back; nothing is seeked, nothing inflated twice.
        tar: Any = tarfile.open(fileobj=inflater, mode="r|", tarinfo=header)
    except (tarfile.TarError, OSError, EOFError, zlib.error):
        raise BundleError(
            f"{path} is not a debugtool bundle (not a gzip-compressed tar archive).",
            "Name a file written by 'debugtool bundle'.",
        ) from None
    with tar:
        index = 0
        declared = 0
        while (info := tar.next()) is not None:
            tar.members.clear()  # tarfile keeps every header it read; a stream needs none
            if info.isdir():
                continue
            index += 1
            if index > MEMBERS_LIMIT:
                raise BundleTooLarge(
                    f"{path} holds more than {MEMBERS_LIMIT:,} members, the most debugtool "
                    "reads of a bundle.",
                    "members",
                )
            if len(info.name) > NAME_LIMIT:
                raise BundleTooLarge(
                    f"{path} holds a member name of {len(info.name):,} characters, more than "
                    f"the {NAME_LIMIT:,} debugtool reads.",
                    "name",
                )
            declared += info.size
            if declared > TOTAL_LIMIT:  # stop at the headers, before inflating the data
                raise BundleTooLarge(
                    f"{path} declares more than {_mib(TOTAL_LIMIT)} of members, the most "
                    "debugtool reads of a bundle.",
                    "total",
                )
            root, _, rel = info.name.partition("/")
            yield _Member(info, rel, root, index - 1, tar)
        _end_of_archive(tar, inflater)


class _Damage(Exception):
    """The archive is damaged in a way that tarfile and zlib let pass; the text says how."""


def _end_of_archive(tar: Any, inflater: _Inflater) -> None:
    """Check what follows the last member: tar's end-of-archive block, then nothing but zero
    padding to the end of the file, every gzip member whole with its CRC and length right.

    tarfile stops at the first zero block and reads nothing after it, so without this pass a
    member appended after the end, or a flipped bit in the last gzip member's tail, would
    never be seen. Raises ``_Damage``, ``BundleTooLarge`` (past ``TOTAL_LIMIT``), zlib's error
    or ``EOFError``.
    """
    # What tarfile read from the inflater beyond the block it stopped at (``tar.offset`` is
    # where that block starts), then everything the inflater still holds.
    ahead = inflater.total - tar.offset
    seen = b"".join(inflater.recent)[-ahead:] if ahead > 0 else b""
    if len(seen) < tarfile.BLOCKSIZE or seen[: tarfile.BLOCKSIZE].count(0) < tarfile.BLOCKSIZE:
        raise _Damage(
            "what follows the last member is not tar's end-of-archive block (the archive is "
            "truncated, or holds something that is not a tar header)"
        )
    trailing = len(seen) - seen.count(0)
    while chunk := inflater.read(_CHUNK):
        trailing += len(chunk) - chunk.count(0)
    if trailing:
        raise _Damage(
            f"{trailing:,} bytes that are not zero padding follow the tar end-of-archive block "
            "(something was appended to the bundle)"
        )


def _refusal(info: tarfile.TarInfo) -> str:
    """Return why a member may not be in a bundle ('' when it is a plain file at a plain path)."""
    parts = info.name.split("/")
    if info.name.startswith("/") or ".." in parts:
        return "a path that climbs out of the bundle's folder"
    if info.type not in _FILE_TYPES or info.sparse is not None:
        return _kind(info)
    return ""


@record
class Archive:
    """The members of a bundle archive as read, and whether the archive ended early.

    Members are held in memory up to ``HELD_LIMIT`` in all; ``sizes`` (and with checksums,
    ``sums``) cover every member, held or not.
    """

    root: str = ""
    members: dict[str, bytes] = field(default_factory=dict)  # path relative to root -> bytes
    order: list[str] = field(default_factory=list)  # member paths as they appear
    manifest: dict[str, Any] | None = None
    damage: str = ""  # why reading stopped early ('' when the archive was read to its end)
    extra_roots: list[str] = field(default_factory=list)  # members outside ROOT
    sizes: dict[str, int] = field(default_factory=dict)  # path -> size, held or not
    sums: dict[str, str] = field(default_factory=dict)  # path -> SHA-256 (with checksums)
    index: dict[str, int] = field(default_factory=dict)  # path -> place in the archive
    refused: list[str] = field(default_factory=list)  # "NAME: why", members no bundle holds
    repeated: dict[str, int] = field(default_factory=dict)  # path -> times it appears, if > 1
    identity: tuple[int, ...] = ()  # the file read (dev, ino, size, mtime), for a second pass


def _open(path: str) -> IO[bytes]:
    if not os.path.exists(path):
        raise BundleError(f"there is no bundle at {path}.", "Check the file name.")
    if os.path.isdir(path):
        raise BundleError(f"{path} is a directory, not a bundle.", "Name the .tar.gz file.")
    try:
        return open(path, "rb")  # noqa: SIM115 - closed by the callers' with
    except PermissionError:
        raise BundleError(f"cannot read {path}: permission denied.", "Run as root.") from None
    except OSError as exc:
        raise BundleError(f"cannot read {path}: {exc.strerror}.", None) from None


def _identity(raw: IO[bytes]) -> tuple[int, ...]:
    st = os.fstat(raw.fileno())
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


#: Members ``bundle verify`` reads to check the audit log's chain (``bundle.auditlog``).
_CHAIN_MEMBERS = frozenset({"host/audit.jsonl", "host/audit-chain.json", manifest.REDACTIONS})


def read_archive(path: str, hold: bool = True, checksums: bool = False) -> Archive:
    """Read a bundle archive in one streaming pass, tolerating damage after the manifest.

    With ``hold``, members are kept in memory up to ``HELD_LIMIT`` in all (the manifest
    always); with ``checksums``, each member is hashed as it streams (``Archive.sums``).
    Members that no bundle holds (links, devices, paths with ``..``) are never read; they are
    listed in ``Archive.refused``. Raises ``BundleError`` when ``path`` is missing or is not a
    debugtool bundle at all (no gzip tar, or a first member that is not a debugtool manifest),
    and ``BundleTooLarge`` past a limit. Damage after the manifest is reported in
    ``Archive.damage`` so ``verify`` can list what is missing.
    """
    archive = Archive()
    held = 0
    with _open(path) as raw:
        archive.identity = _identity(raw)
        try:
            for member in _members(path, raw):
                info, rel, root = member.info, member.rel, member.root
                why = _refusal(info)
                if archive.manifest is None:
                    if why or rel != manifest.MANIFEST:
                        raise BundleError(
                            f"{path} is not a debugtool bundle (its first member is "
                            f"{info.name}, not {root}/{manifest.MANIFEST}).",
                            "Name a file written by 'debugtool bundle'.",
                        )
                    archive.root = root
                    archive.manifest = _parse_manifest(path, member.read(path))
                    archive.order.append(rel)
                    continue
                if why:
                    archive.refused.append(f"{info.name}: {why}")
                    continue
                if root != archive.root or not rel:
                    archive.extra_roots.append(info.name)
                    continue
                if rel in archive.sizes or rel == manifest.MANIFEST:
                    # Two members of one name: tar keeps the last, this reader the last too,
                    # but nothing says which one the manifest's checksum was made for.
                    archive.repeated[rel] = archive.repeated.get(rel, 1) + 1
                # The audit log, its chain and the redactions are kept for the chain check.
                keep = (hold and held + info.size <= HELD_LIMIT) or (
                    rel in _CHAIN_MEMBERS and info.size <= HELD_LIMIT
                )
                digest = hashlib.sha256() if checksums else None
                data = member.read(path, keep, digest)
                if keep:
                    archive.members[rel] = data
                    held += len(data)
                archive.sizes[rel] = info.size
                archive.index[rel] = member.index
                if digest is not None:
                    archive.sums[rel] = digest.hexdigest()
                archive.order.append(rel)
        except BundleError:
            raise
        except _Damage as exc:
            archive.damage = str(exc)
        except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
            if archive.manifest is None:
                raise BundleError(
                    f"{path} is not a debugtool bundle, or is truncated before its manifest "
                    f"({exc}).",
                    "Name a complete file written by 'debugtool bundle'.",
                ) from None
            archive.damage = f"the archive is truncated or corrupt after {len(archive.order)} "
            archive.damage += f"members ({exc or type(exc).__name__})"
    if archive.manifest is None:
        raise BundleError(
            f"{path} is not a debugtool bundle (it holds no manifest).",
            "Name a file written by 'debugtool bundle'.",
        )
    return archive


def read_member(path: str, archive: Archive, rel: str) -> bytes:
    """Read one member that ``archive`` did not hold, in a second streaming pass over ``path``.

    Raises ``BundleError`` when the file changed since ``archive`` was read.
    """
    with _open(path) as raw:
        changed = BundleError(
            f"{path} changed since debugtool opened it.", "Open the bundle again."
        )
        if _identity(raw) != archive.identity:
            raise changed
        try:
            for member in _members(path, raw):
                if member.index == archive.index.get(rel):
                    if member.rel != rel:
                        raise changed
                    digest = hashlib.sha256()
                    data = member.read(path, digest=digest)
                    if archive.sums.get(rel, digest.hexdigest()) != digest.hexdigest():
                        raise changed
                    return data
        except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
            raise BundleError(f"{path}: {rel} cannot be read ({exc}).", None) from None
    raise changed


def _parse_manifest(path: str, data: bytes) -> dict[str, Any]:
    """Return the manifest if it is a debugtool manifest this debugtool can read (its schema
    is checked later, by ``verify``). Raises ``BundleError`` otherwise."""
    try:
        document = manifest.parse(data)
    except manifest.ManifestError as exc:
        raise BundleError(
            f"{path} is not a debugtool bundle (its manifest: {exc}).",
            "Name a file written by 'debugtool bundle'.",
        ) from None
    if not isinstance(document, dict) or document.get("format") != manifest.FORMAT:
        raise BundleError(
            f"{path} is not a debugtool bundle (its manifest has no debugtool format mark).",
            "Name a file written by 'debugtool bundle'.",
        )
    version = document.get("schema_version")
    if not isinstance(version, int):
        raise BundleError(f"{path} has a manifest with no schema version.", None)
    if version > manifest.SCHEMA_VERSION:
        raise BundleError(
            f"{path} has bundle schema version {version}; this debugtool reads up to "
            f"{manifest.SCHEMA_VERSION}.",
            "Upgrade debugtool to read it.",
        )
    return document


@record(frozen=True)
class Mark:
    """Something in a container that needs attention: ``kind`` (risky-mounts, cpu-throttled,
    oom-killed), a short ``label`` for a navigation badge, and a ``detail`` sentence."""

    kind: str
    label: str
    detail: str


def _last_state_oom(container: Container) -> list[str]:
    """Return what the runtime recorded of OOM kills in the container's last runs, in words."""
    parts = []
    if container.oom_killed:
        code = f" (exit {container.exit_code})" if container.exit_code is not None else ""
        parts.append(f"{container.runtime} says the kernel OOM-killed its last run{code}")
    previous = container.previous
    if previous is not None and previous.oom_killed:
        which = f"attempt {previous.attempt}" if previous.attempt is not None else "the run"
        parts.append(f"{container.runtime} says the kernel OOM-killed {which} before this one")
    return parts


def _crash_loop(container: Container) -> list[Mark]:
    """Return the crash-loop mark of a container that keeps restarting ([] for others)."""
    from debugtool.views.containers import crash_looping

    if not crash_looping(container):
        return []
    parts = [container.status]
    if container.restart_count:
        parts.append(f"{container.restart_count} restarts")
    if container.exit_code is not None:
        parts.append(f"last exit {container.exit_code}")
    return [Mark("crash-looping", "crash-looping", ", ".join(parts))]


def _oom_in(kill: dict[str, Any], container_id: str, paths: dict[str, str]) -> bool:
    """Whether an OOM kill of the kernel log happened in the container: its memory cgroup
    names the container's id, or is the container's cgroup (``CgroupStats.paths``, which end
    with the cgroup's path below the hierarchy's mount)."""
    if kill["container_id"] == container_id:
        return True
    memcg = kill["memcg"]
    if memcg in ("", "/") or not isinstance(paths, dict):
        return False
    return any(isinstance(p, str) and p.endswith(memcg) for p in paths.values())


class Bundle:
    """A support bundle opened for reading: its manifest, containers, Snapshots, samples, logs."""

    def __init__(self, path: str, archive: Archive) -> None:
        """Wrap an archive that passed verification (``open_bundle``): its manifest's schema
        holds, so every field used here has the kind it should."""
        self.path = path
        self._archive = archive
        self.manifest: dict[str, Any] = archive.manifest or {}
        self.root = archive.root
        self.captured_at: float = float(self.manifest.get("created_at") or 0.0)
        self.complete: bool = bool(self.manifest.get("complete"))
        #: Containers whose process exited while the bundle was captured (their ids).
        self.exited_during_capture: set[str] = set()
        self._dirs: dict[str, str] = {}  # container id -> folder
        self.containers: list[Container] = []
        for entry in self.manifest.get("containers") or []:
            container = self._container(entry)
            if entry.get("exited_during_capture"):
                # Its container.json was written when it still ran: say what it is now.
                self.exited_during_capture.add(container.id)
                container.status = "exited"
            self.containers.append(container)
            self._dirs[container.id] = entry["dir"]
        self.audit: list[Record] = self._audit()
        self._marks: dict[str, list[Mark]] = {}
        self._oom_kills: list[dict[str, Any]] | None = None

    # -- members ------------------------------------------------------------------------------
    def member(self, rel: str) -> bytes | None:
        """Return one member's bytes (path relative to the bundle root), or None.

        A member the archive did not hold (past ``HELD_LIMIT``) is read again from the file.
        """
        data = self._archive.members.get(rel)
        if data is None and rel in self._archive.sizes:
            data = read_member(self.path, self._archive, rel)
        return data

    def members(self) -> list[str]:
        """Return every member's path relative to the bundle root, in archive order."""
        return list(self._archive.order)

    def _json(self, rel: str) -> Any:
        data = self.member(rel)
        if data is None:
            return None
        try:
            return json.loads(data)
        except (ValueError, RecursionError):
            raise BundleError(f"{self.path}: {rel} is not valid JSON.", None) from None

    def json_member(self, rel: str) -> Any:
        """Return a JSON member's value, or None when it is missing or not JSON."""
        try:
            return self._json(rel)
        except BundleError:
            return None

    def _container(self, record: dict[str, Any]) -> Container:
        """The container as container.json has it, or as the manifest lists it when that file
        is missing or does not describe the same container with text where text belongs."""
        data = self._json(f"containers/{record['dir']}/container.json")
        if isinstance(data, dict):
            try:
                container = from_dict(Container, data)
            except (TypeError, ValueError, AttributeError, KeyError, RecursionError):
                container = None
            texts = ("id", "name", "runtime", "status", "image")
            if (
                container is not None
                and container.id == record["id"]
                and all(isinstance(getattr(container, f), str) for f in texts)
            ):
                return container
        return Container(
            id=record["id"], name=record["name"], runtime=record["runtime"], status=record["status"]
        )

    def _audit(self) -> list[Record]:
        from debugtool import audit
        from debugtool.bundle import auditlog

        data = self.member("host/audit.jsonl") or b""
        records = audit.parse(data.splitlines(), f"{self.path}:host/audit.jsonl")
        return auditlog.paired(records, self.member(auditlog.CHAIN))

    # -- per container ------------------------------------------------------------------------
    def find(self, text: str) -> Container:
        """Return the bundled container ``text`` names: every target form, with the live
        host's rules (``source.BundleSource.find``). Raises ``ContainerNotFound`` listing
        what the bundle holds, or ``AmbiguousTarget``."""
        from debugtool.source import BundleSource

        return BundleSource.find_in(self, text)

    def _dir(self, container_id: str) -> tuple[Container, str]:
        container = self.find(container_id)
        return container, f"containers/{self._dirs.get(container.id, '')}"

    def snapshot(self, container_id: str) -> Snapshot:
        """Return the container's Snapshot as captured.

        When its snapshot collector failed, the Snapshot is empty and ``errors["snapshot"]``
        says why. Raises ``ContainerNotFound`` for a container the bundle does not hold.
        """
        container, folder = self._dir(container_id)
        data = self.member(f"{folder}/snapshot.json")
        if data is not None:
            try:
                snap = Snapshot.from_json(data.decode("utf-8", "surrogateescape"))
            except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
                why = "nested too deeply" if isinstance(exc, RecursionError) else exc
                raise BundleError(
                    f"{self.path}: {folder}/snapshot.json cannot be read ({why}).", None
                ) from None
            return snap
        reason = self.collector_error(container.id, "snapshot") or "it was not captured"
        return Snapshot(
            container=container,
            taken_at=self.captured_at,
            errors={"snapshot": f"no snapshot in this bundle: {reason}."},
        )

    def cgroup_samples(self, container_id: str) -> list[CgroupStats]:
        """Return the container's cgroup samples, oldest first (empty when none were taken)."""
        _, folder = self._dir(container_id)
        data = self._json(f"{folder}/cgroup-samples.json")
        if not isinstance(data, list):
            return []
        try:
            return [from_dict(CgroupStats, d) for d in data if isinstance(d, dict)]
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            raise BundleError(
                f"{self.path}: {folder}/cgroup-samples.json cannot be read ({exc}).", None
            ) from None

    def inspect(self, container_id: str) -> dict[str, Any]:
        """Return the runtime's own inspect data for the container ({} when not captured)."""
        _, folder = self._dir(container_id)
        data = self._json(f"{folder}/inspect.json")
        return data if isinstance(data, dict) else {}

    def proc_file(self, container_id: str, name: str) -> str | None:
        """Return a ``/proc/PID`` file of the container's init as captured (``raw/proc/NAME``:
        ``cgroup``, ``status``, ``mountinfo``, ``limits``), or None when the bundle lacks it."""
        _, folder = self._dir(container_id)
        data = self.member(f"{folder}/raw/proc/{name}")
        return None if data is None else data.decode("utf-8", "surrogateescape")

    def logs(self, container_id: str) -> str:
        """Return the container's captured output ('' when none was captured)."""
        _, folder = self._dir(container_id)
        data = self.member(f"{folder}/logs.txt")
        return data.decode("utf-8", "replace") if data else ""

    def collectors(self, container_id: str | None = None) -> list[dict[str, Any]]:
        """Return the collector records of one container, or of the host (``None``)."""
        records = self.manifest.get("collectors") or []
        if container_id is not None:
            container_id = self.find(container_id).id
        return [r for r in records if r.get("container") == container_id]

    def collector_error(self, container_id: str | None, name: str) -> str:
        """Return why a container's collector (a host collector for ``None``) did not succeed
        ('' when it did or never ran)."""
        for entry in self.collectors(container_id):
            if entry.get("name") == name and entry.get("status") != manifest.OK:
                return f"{entry.get('status')}: {entry.get('error') or 'no detail'}"
        return ""

    def host(self) -> dict[str, Any] | None:
        """Return the host's resources as the bundle recorded them (``host/resources.json``,
        written by ``hostdata.host_resources``: psutil's names), None when it has none."""
        data = self.json_member("host/resources.json")
        return data if isinstance(data, dict) else None

    # -- what needs attention ------------------------------------------------------------------
    def oom_kills(self) -> list[dict[str, Any]]:
        """Return the OOM kills the kernel log recorded (``host/oom-kills.json``, written by
        ``hostdata.host_kernel_log``), each a dict with at least an integer ``pid`` and a text
        ``process``; entries of another shape are left out (a bundle may come from anyone).
        ``marks`` adds ``matched_container``, the id of the container a kill happened in."""
        if self._oom_kills is not None:
            return self._oom_kills
        data = self._json("host/oom-kills.json")
        kills: list[dict[str, Any]] = []
        for entry in data if isinstance(data, list) else []:
            if (
                isinstance(entry, dict)
                and isinstance(entry.get("pid"), int)
                and isinstance(entry.get("process"), str)
            ):
                texts = ("memcg", "cpuset", "oom_memcg", "container_id", "constraint", "message")
                at = entry.get("at")
                if not (isinstance(at, (int, float)) and 0 <= at <= manifest.MAX_TIME):
                    at = None  # NaN and infinities fail the comparison too
                kills.append({**entry, **{k: str(entry.get(k) or "") for k in texts}, "at": at})
        self._oom_kills = kills
        return kills

    def marks(self, container_id: str) -> list[Mark]:
        """Return what needs attention in a container, as the report's navigation and ``bundle
        show`` mark it: risky mounts (the mounts view's risks), CPU throttling (cgroup
        ``nr_throttled`` above 0), OOM kills (the runtime's record that the last run, or the
        previous CRI attempt, was OOM-killed; the cgroup's ``oom_kill`` count; kills in the
        kernel log whose memory cgroup is the container's) and a crash loop (restarting, or
        restarted and failed: ``views.containers.crash_looping``). The snapshot's marks are
        left out when it cannot be read (the report says that where it shows it)."""
        container = self.find(container_id)
        if container.id in self._marks:
            return self._marks[container.id]
        oom = _last_state_oom(container)
        try:
            snap = self.snapshot(container.id)
            samples = self.cgroup_samples(container.id)
        except BundleError:
            bare = [Mark("oom-killed", "OOM killed", "; ".join(oom))] if oom else []
            bare += _crash_loop(container)
            self._marks[container.id] = bare
            return bare
        marks: list[Mark] = []
        risky = [m for m in snap.mounts if m.risks]
        if risky:
            where = ", ".join(m.mountpoint for m in risky[:3]) + (", ..." if len(risky) > 3 else "")
            marks.append(Mark("risky-mounts", "risky mounts", f"{len(risky)} risky: {where}"))
        stats = samples[-1] if samples else snap.cgroup
        if stats.cpu_nr_throttled:
            of = f" of {stats.cpu_nr_periods}" if stats.cpu_nr_periods else ""
            marks.append(
                Mark(
                    "cpu-throttled",
                    "CPU throttled",
                    f"throttled in {stats.cpu_nr_throttled}{of} CPU periods (cgroup cpu.stat)",
                )
            )
        kills = [k for k in self.oom_kills() if _oom_in(k, container.id, stats.paths)]
        for kill in kills:
            kill["matched_container"] = container.id  # for the report's table of kills
        if stats.oom_kills or kills or oom:
            parts = oom
            if stats.oom_kills:
                parts.append(f"the cgroup counts {stats.oom_kills} OOM kill(s)")
            if kills:
                names = ", ".join(f"{k['process']} (pid {k['pid']})" for k in kills[:3])
                more = f" and {len(kills) - 3} more" if len(kills) > 3 else ""
                parts.append(f"the kernel log names {names}{more}")
            marks.append(Mark("oom-killed", "OOM killed", "; ".join(parts)))
        marks += _crash_loop(container)
        self._marks[container.id] = marks
        return marks

    def redactions(self) -> list[dict[str, Any]]:
        """Return the redaction report: ``{rule, file, count}`` records."""
        data = self._json(manifest.REDACTIONS)
        if isinstance(data, dict):
            data = data.get("redactions")
        return data if isinstance(data, list) else []


@record(frozen=True)
class Problem:
    """One thing wrong with a bundle: its ``kind`` (``missing``, ``checksum mismatch``, ...),
    the member it is about (empty for the archive as a whole) and the sentence ``verify``
    prints for it."""

    kind: str
    member: str
    text: str


def verify_bundle(path: str) -> list[str]:
    """Check a bundle against its manifest; return the problems found (empty: intact).

    One streaming pass: every gzip member whole (CRC and length), nothing after tar's
    end-of-archive block but zero padding, the manifest's schema, every recorded member
    present once with its size and SHA-256, no member unrecorded, no link, device or path
    outside the bundle's folder. Raises ``BundleError`` when ``path`` cannot be checked at all
    (missing, unreadable, not a gzip tar, no debugtool manifest first, a newer schema) and
    ``BundleTooLarge`` past a limit.
    """
    return [p.text for p in check_bundle(path) if p.kind not in NOTES]


#: Kinds of ``check_bundle`` findings that say something of the host, not of the bundle:
#: ``bundle verify`` prints them as notes and they do not make a bundle damaged.
NOTES = frozenset({"host audit log broken"})


def check_bundle(path: str) -> list[Problem]:
    """``verify_bundle``'s problems as ``Problem`` records (``summarise`` groups them), and
    the notes (``NOTES``) about the host at capture."""
    return _problems(read_archive(path, hold=False, checksums=True), at_capture=True)


def summarise(problems: list[Problem]) -> dict[str, list[Problem]]:
    """Return ``problems`` grouped by kind, in the order each kind first appears."""
    kinds: dict[str, list[Problem]] = {}
    for problem in problems:
        kinds.setdefault(problem.kind, []).append(problem)
    return kinds


def _problems(archive: Archive, at_capture: bool = False) -> list[Problem]:
    """Return what is wrong with a bundle read with checksums: damage first, then refused
    members, the manifest's schema, then member by member, then the audit log's chain (with
    ``at_capture``, also a note when the host's log was already broken when the bundle was
    made: ``bundle verify`` says so, but the bundle is not damaged by it)."""
    document = archive.manifest or {}
    problems = []

    def add(kind: str, member: str, text: str) -> None:
        problems.append(Problem(kind, member, f"{member}: {text}" if member else text))

    if archive.damage:
        add("damaged archive", "", archive.damage)
    for refused in archive.refused:
        name, _, why = refused.partition(": ")
        add("refused member", name, why)
    for p in manifest.schema_problems(document):
        add("malformed manifest", manifest.MANIFEST, p)
    root = document.get("root")
    if isinstance(root, str) and root != archive.root:
        add("wrong top folder", "", f"the archive's top folder {archive.root} is not {root}")
    files = document.get("files")
    recorded: dict[str, Any] = files if isinstance(files, dict) else {}
    for rel, entry in sorted(recorded.items()):
        size = archive.sizes.get(rel)
        if size is None:
            add("missing", rel, "missing")
        elif not isinstance(entry, dict):
            continue  # named by the schema check
        elif size != entry.get("size"):
            add("wrong size", rel, f"size {size}, the manifest says {entry.get('size')}")
        elif archive.sums.get(rel) != entry.get("sha256"):
            add("checksum mismatch", rel, "checksum mismatch")
    for rel in archive.order:
        if rel != manifest.MANIFEST and rel not in recorded:
            add("not recorded in the manifest", rel, "not recorded in the manifest")
    for rel, times in archive.repeated.items():
        add("repeated member", rel, f"{times} members of this name")
    for name in archive.extra_roots:
        add("outside the bundle's folder", name, "outside the bundle's folder")
    from debugtool.bundle import auditlog

    pseudonymised = bool(document.get("pseudonymised"))
    found = auditlog.problems(archive.members, archive.sums, at_capture, pseudonymised)
    for kind, member, text in found:
        problems.append(Problem(kind, member, text))
    return problems


def open_bundle(path: str) -> Bundle:
    """Open a bundle for reading, verified: what ``bundle verify`` checks is checked here too,
    in the same single streaming pass that reads the members, so nothing damaged or changed
    since it was written is ever shown.

    Raises ``BundleError`` with one sentence for a missing file, a file that is not a bundle,
    one written with a newer schema, and one that fails verification (the first problem).
    """
    archive = read_archive(path, checksums=True)
    problems = [p.text for p in _problems(archive)]
    if not problems:
        return Bundle(path, archive)
    hint = "Run 'debugtool bundle verify' on it for every problem, or ask for the bundle again."
    if archive.damage:
        raise BundleError(f"{path} is damaged: {archive.damage}.", hint)
    if archive.refused:
        raise BundleError(f"{path} holds what no bundle holds ({archive.refused[0]}).", hint)
    schema = manifest.schema_problems(archive.manifest)
    if schema:
        raise BundleError(f"{path} has a malformed manifest: its {schema[0]}.", hint)
    more = len(problems) - 1
    also = f" and {more} more problem{'s' if more > 1 else ''}" if more else ""
    raise BundleError(f"{path} fails verification: {problems[0]}{also}.", hint)


def load_snapshot(path: str, target_text: str) -> Snapshot:
    """Return the Snapshot of the container ``target_text`` names in the bundle at ``path``.

    This is what ``top``, ``mounts`` and ``net`` use for ``--bundle FILE TARGET``. Raises
    ``BundleError`` (unreadable bundle) or ``ContainerNotFound`` (no such container in it).
    """
    return open_bundle(path).snapshot(target_text)
