"""Read a fleet bundle: the index of many nodes' bundles and each node's bundle inside it.

``debugtool bundle -H NODES`` writes a fleet archive (``fleet_capture``). It is a plain tar,
not compressed again (every node's bundle is a gzip already, and must stay byte for byte what
the node wrote, so its own manifest and checksums still verify)::

    ROOT/fleet.json             first member, always: the index (below)
    ROOT/report.html            the nodes, their containers, each node's own report inside
    ROOT/nodes/NAME.tar.gz      each node's bundle, unchanged, for the nodes that sent one

``ROOT`` is ``debugtool-fleet-YYYYmmddTHHMMSSZ``. The index holds ``format``
("debugtool-fleet-bundle"), ``schema_version``, ``debugtool_version``, ``created_at`` (epoch
seconds), ``root``, ``command_line``, ``complete`` (every node ok), ``pseudonymised`` and
``nodes``: one ``{name, address, status, message, member, size, sha256, exit_code, seconds}``
a node, in the order the nodes were named, and ``report`` (``{member, size, sha256}`` of
report.html, ``fleet_report``). ``status`` is one of ``STATUSES``; ``member``, ``size`` and
``sha256`` are null for a node that sent no bundle. A pseudonym mapping is never
in the archive: it is a 0600 file beside it.

Reading is as wary as ``reader``'s: the archive may come from anyone. Only regular files at
plain paths under ROOT, every one named by the index, each at most ``reader.TOTAL_LIMIT``;
nothing after tar's end-of-archive block but zero padding. A node's bundle is checked against
the index's size and SHA-256 as it is copied out, then opened with ``reader.open_bundle``
(which verifies it as every bundle is verified).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tarfile
import tempfile
import weakref

from debugtool.bundle import manifest, reader
from debugtool.errors import BundleError
from debugtool.record import field, record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO, Any

#: The value of the index's ``format`` that marks a fleet bundle.
FORMAT = "debugtool-fleet-bundle"
#: The index schema this debugtool writes and the newest it reads.
SCHEMA_VERSION = 1
INDEX = "fleet.json"
REPORT = "report.html"
NODES_DIR = "nodes"
#: The largest index read (a node's entry is a few hundred bytes: this is tens of thousands).
INDEX_LIMIT = 16 << 20
#: The most nodes one fleet archive may name.
NODES_LIMIT = 10_000

#: How a node ended, in the index and on the stderr line of ``bundle -H``.
OK, PARTIAL, UNREACHABLE, TIMED_OUT, REFUSED, NO_PYTHON, FAILED = (
    "ok",
    "partial",
    "unreachable",
    "timed out",
    "refused",
    "no python",
    "failed",
)
STATUSES = (OK, PARTIAL, UNREACHABLE, TIMED_OUT, REFUSED, NO_PYTHON, FAILED)
#: Statuses of a node whose bundle is in the archive.
WITH_BUNDLE = (OK, PARTIAL)

_HINT = "Name a file written by 'debugtool bundle -H'."
_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def member_name(node: str, taken: set[str]) -> str:
    """Return the member (relative to ROOT) a node's bundle is written to: its name with
    anything but letters, digits, dots, dashes and underscores made ``_`` (a node's name is
    the operator's, but a path in the archive must stay one plain file name), unique among
    ``taken`` (which it joins)."""
    stem = _SAFE.sub("_", node).lstrip(".") or "node"
    name, n = f"{NODES_DIR}/{stem}.tar.gz", 1
    while name in taken:
        n += 1
        name = f"{NODES_DIR}/{stem}-{n}.tar.gz"
    taken.add(name)
    return name


@record
class FleetNode:
    """One node as the index records it: its ``status``, the one-line ``message`` (why it is
    not ok), and its bundle's member, size and SHA-256 (None when it sent none)."""

    name: str
    status: str
    message: str = ""
    member: str | None = None
    sha256: str | None = None
    size: int | None = None
    address: str = ""
    exit_code: int | None = None
    seconds: float | None = None

    @property
    def has_bundle(self) -> bool:
        """Whether the archive holds this node's bundle."""
        return self.member is not None

    def to_dict(self) -> dict[str, Any]:
        """Return the index's record of the node."""
        return {
            "name": self.name,
            "address": self.address,
            "status": self.status,
            "message": self.message,
            "member": self.member,
            "size": self.size,
            "sha256": self.sha256,
            "exit_code": self.exit_code,
            "seconds": None if self.seconds is None else round(self.seconds, 3),
        }


def index_problems(index: Any) -> list[str]:
    """Return what is wrong with a fleet index's fields (empty: every field has its kind).

    Node names must be unique (``NODE/TARGET`` picks one), members unique and plain paths
    under ``nodes/``; a node with a bundle has a size and a 64-hex SHA-256.
    """
    if not isinstance(index, dict):
        return ["the index is not a JSON object"]
    problems = []
    if index.get("format") != FORMAT:
        problems.append(f"format is not {FORMAT}")
    if not isinstance(index.get("schema_version"), int):
        problems.append("schema_version is not an integer")
    created = index.get("created_at")
    if not isinstance(created, (int, float)) or not 0 <= created <= manifest.MAX_TIME:
        problems.append("created_at is not a time")
    if not isinstance(index.get("root"), str) or "/" in index.get("root", "/"):
        problems.append("root is not a folder name")
    report = index.get("report")
    if report is not None and (
        not isinstance(report, dict)
        or report.get("member") != REPORT
        or not isinstance(report.get("size"), int)
        or not isinstance(report.get("sha256"), str)
    ):
        problems.append(f"report is not the record of {REPORT}")
    nodes = index.get("nodes")
    if not isinstance(nodes, list):
        return [*problems, "nodes is not a list"]
    if len(nodes) > NODES_LIMIT:
        return [*problems, f"it names more than {NODES_LIMIT:,} nodes"]
    names: set[str] = set()
    members: set[str] = set()
    for i, entry in enumerate(nodes):
        problems += _node_problems(i, entry, names, members)
    return problems


def _node_problems(i: int, entry: Any, names: set[str], members: set[str]) -> list[str]:
    where = f"nodes[{i}]"
    if not isinstance(entry, dict):
        return [f"{where} is not an object"]
    problems = []
    name = entry.get("name")
    if not isinstance(name, str) or not name or "/" in name:
        problems.append(f"{where}.name is not a node name")
    elif name in names:
        problems.append(f"{where}.name {name} appears twice")
    else:
        names.add(name)
    if entry.get("status") not in STATUSES:
        problems.append(f"{where}.status is not one of {', '.join(STATUSES)}")
    for text in ("message", "address"):
        if not isinstance(entry.get(text, ""), str):
            problems.append(f"{where}.{text} is not text")
    member = entry.get("member")
    if member is None:
        if entry.get("status") in WITH_BUNDLE:
            problems.append(f"{where} is {entry.get('status')} but names no bundle")
        return problems
    if (
        not isinstance(member, str)
        or not member.startswith(f"{NODES_DIR}/")
        or member.count("/") != 1
        or member in (f"{NODES_DIR}/.", f"{NODES_DIR}/..", f"{NODES_DIR}/")
    ):
        problems.append(f"{where}.member is not a file under {NODES_DIR}/")
    elif member in members:
        problems.append(f"{where}.member {member} appears twice")
    else:
        members.add(member)
    size = entry.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        problems.append(f"{where}.size is not a size")
    digest = entry.get("sha256")
    if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
        problems.append(f"{where}.sha256 is not a SHA-256")
    return problems


def _node(entry: dict[str, Any]) -> FleetNode:
    code = entry.get("exit_code")
    seconds = entry.get("seconds")
    return FleetNode(
        name=entry["name"],
        status=entry["status"],
        message=str(entry.get("message") or ""),
        member=entry.get("member"),
        sha256=entry.get("sha256"),
        size=entry.get("size"),
        address=str(entry.get("address") or ""),
        exit_code=code if isinstance(code, int) and not isinstance(code, bool) else None,
        seconds=float(seconds) if isinstance(seconds, (int, float)) else None,
    )


@record
class _Span:
    """Where a member's bytes lie in the (uncompressed) fleet archive."""

    offset: int
    size: int


@record
class FleetArchive:
    """A fleet archive opened for reading: its index, its nodes, and where each node's bundle
    lies in the file. ``open_node`` gives a node's bundle as a verified ``reader.Bundle``.

    ``problems`` lists what is wrong with the archive around the bundles (members the index
    does not name, or names and the archive lacks, trailing bytes); ``open_fleet`` refuses an
    archive with any, ``check_fleet`` reports them.
    """

    path: str
    manifest: dict[str, Any]
    nodes: list[FleetNode]
    root: str = ""
    problems: list[str] = field(default_factory=list)
    _spans: dict[str, _Span] = field(default_factory=dict)
    _identity: tuple[int, ...] = ()
    _temp: list[str] = field(default_factory=list)  # the private folder of copied bundles

    def node(self, name: str) -> FleetNode:
        """Return the node called ``name``; raises ``BundleError`` naming the nodes there are."""
        for node in self.nodes:
            if node.name == name:
                return node
        listing = ", ".join(n.name for n in self.nodes[:20]) or "none"
        more = " ..." if len(self.nodes) > 20 else ""
        raise BundleError(
            f"{self.path} holds no node called {name}; its nodes: {listing}{more}.",
            "Write the target as NODE/TARGET with one of them.",
        )

    def split_target(self, text: str) -> tuple[FleetNode, str]:
        """Split ``NODE/TARGET`` (what ``--bundle FLEET`` readers take) into the node and the
        target; with only one node holding a bundle, a bare ``TARGET`` means that node.
        Raises ``BundleError`` with one sentence."""
        name, slash, target = text.partition("/")
        if slash and target:
            return self.node(name), target
        bundled = [n for n in self.nodes if n.has_bundle]
        if len(bundled) == 1 and text:
            return bundled[0], text
        listing = ", ".join(n.name for n in bundled[:20]) or "none"
        raise BundleError(
            f"{self.path} is a fleet bundle: name the container as NODE/TARGET (nodes with a "
            f"bundle: {listing}).",
            None,
        )

    def copy_node(self, name: str, dest: str) -> None:
        """Copy node ``name``'s bundle, exactly as the node wrote it, to a new 0600 file
        ``dest``, checking its size and SHA-256 against the index on the way.

        Raises ``BundleError`` for a node without a bundle, a file that changed since it was
        opened, or a bundle that does not match the index (the file is then removed).
        """
        node = self.node(name)
        span = self._spans.get(node.member or "")
        if not node.has_bundle or span is None:
            why = f"its status is {node.status}" + (f": {node.message}" if node.message else "")
            raise BundleError(f"{self.path} holds no bundle of node {name} ({why}).", None)
        digest = hashlib.sha256()
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            out = os.open(dest, flags, 0o600)
        except OSError as exc:
            raise BundleError(f"cannot create {dest}: {exc.strerror}.", None) from None
        ok = False
        try:
            with reader._open(self.path) as raw, open(out, "wb", closefd=False) as sink:
                if reader._identity(raw) != self._identity:
                    raise BundleError(
                        f"{self.path} changed since debugtool opened it.", "Open it again."
                    )
                raw.seek(span.offset)
                left = span.size
                while left:
                    chunk = raw.read(min(left, 1 << 20))
                    if not chunk:
                        raise BundleError(f"{self.path} ends inside node {name}'s bundle.", None)
                    digest.update(chunk)
                    sink.write(chunk)
                    left -= len(chunk)
            if span.size != node.size or digest.hexdigest() != node.sha256:
                raise BundleError(
                    f"{self.path}: node {name}'s bundle ({node.member}) does not match the "
                    "index's checksum (it was changed or damaged after the fleet bundle was "
                    "written).",
                    "Run 'debugtool bundle verify' on it, or ask for the fleet bundle again.",
                )
            ok = True
        finally:
            os.close(out)
            if not ok:
                with contextlib.suppress(OSError):
                    os.unlink(dest)

    def open_node(self, name: str) -> reader.Bundle:
        """Return node ``name``'s bundle, verified as ``reader.open_bundle`` verifies every
        bundle, after its checksum against the index.

        The bundle is copied to a 0600 file in a private 0700 folder (a ``Bundle`` reads a
        large member again from its file), removed by ``close`` or when this object goes.
        Messages name the node in the fleet archive, not that file. Raises ``BundleError``.
        """
        node = self.node(name)
        if not self._temp:
            folder = tempfile.mkdtemp(prefix="debugtool-fleet-")  # 0700, ours alone
            self._temp.append(folder)
            weakref.finalize(self, shutil.rmtree, folder, True)
        path = os.path.join(self._temp[0], f"{len(os.listdir(self._temp[0]))}.tar.gz")
        self.copy_node(node.name, path)
        try:
            return reader.open_bundle(path)
        except BundleError as exc:
            where = f"{self.path} (node {node.name})"
            raise BundleError(exc.message.replace(path, where), exc.hint) from None

    def close(self) -> None:
        """Remove the copies ``open_node`` made (a Bundle open on one cannot read it after)."""
        for folder in self._temp:
            shutil.rmtree(folder, ignore_errors=True)
        self._temp.clear()

    def __enter__(self) -> FleetArchive:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def is_fleet_archive(path: str) -> bool:
    """Whether ``path`` is a fleet bundle (a plain tar whose first member is ``ROOT/fleet.json``).

    Cheap (one tar header), and False for anything that cannot be read: the single-bundle
    reader then says what is wrong with it.
    """
    try:
        with open(path, "rb") as raw:
            head = raw.read(tarfile.BLOCKSIZE)
            if head[:2] == b"\x1f\x8b" or len(head) < tarfile.BLOCKSIZE:
                return False  # a gzip: a node's bundle, not a fleet's
            raw.seek(0)
            with tarfile.open(fileobj=raw, mode="r:", tarinfo=_header(path)) as tar:
                first = tar.next()
    except (OSError, tarfile.TarError, BundleError, EOFError, UnicodeError):
        return False
    if first is None or not first.isreg():
        return False
    root, _, rel = first.name.partition("/")
    return rel == INDEX and bool(root)


def _header(path: str) -> type[tarfile.TarInfo]:
    """reader's tar header class (no sparse files, bounded extension headers), naming ``path``."""
    return type("_Header", (reader._Header,), {"bundle": path})


def open_fleet(path: str) -> FleetArchive:
    """Open a fleet bundle for reading: its index checked, every member accounted for.

    Raises ``BundleError`` with one sentence for a missing file, a file that is not a fleet
    bundle, a newer schema, a malformed index, or a member the index does not name (or names
    and is missing). The nodes' bundles are checked when opened (``open_node``), or all at
    once by ``check_fleet``.
    """
    fleet = read_fleet(path)
    if fleet.problems:
        more = len(fleet.problems) - 1
        also = f" and {more} more problem{'s' if more > 1 else ''}" if more else ""
        raise BundleError(
            f"{path} fails verification: {fleet.problems[0]}{also}.",
            "Run 'debugtool bundle verify' on it for every problem, or ask for it again.",
        )
    return fleet


def read_fleet(path: str) -> FleetArchive:
    """Read a fleet archive's index and member table, tolerating damage after the index (it
    goes to ``problems``). Raises ``BundleError`` when it is no fleet bundle at all."""
    with reader._open(path) as raw:
        identity = reader._identity(raw)
        try:
            tar: Any = tarfile.open(fileobj=raw, mode="r:", tarinfo=_header(path))
        except (tarfile.TarError, OSError, EOFError):
            raise BundleError(f"{path} is not a fleet bundle (not a tar archive).", _HINT) from None
        with tar:
            first = _next(tar, path)
            if first is None or not first.isreg() or first.name.partition("/")[2] != INDEX:
                raise BundleError(
                    f"{path} is not a fleet bundle (its first member is not ROOT/{INDEX}).", _HINT
                )
            root = first.name.partition("/")[0]
            index = _read_index(path, tar, first)
            nodes = [_node(entry) for entry in index["nodes"]]
            fleet = FleetArchive(path, index, nodes, root, _identity=identity)
            if index["root"] != root:
                fleet.problems.append(f"the top folder {root} is not the index's {index['root']}")
            _scan(fleet, tar, raw)
    return fleet


def _next(tar: Any, path: str) -> tarfile.TarInfo | None:
    try:
        info = tar.next()
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise BundleError(f"{path} is damaged ({exc or type(exc).__name__}).", None) from None
    if info is not None:
        tar.members.clear()  # tarfile keeps every header; none is needed again
    return info


def _read_index(path: str, tar: Any, info: tarfile.TarInfo) -> dict[str, Any]:
    if info.size > INDEX_LIMIT:
        raise reader.BundleTooLarge(
            f"{path} has a fleet index of {info.size:,} bytes, more than the {INDEX_LIMIT:,} "
            "debugtool reads.",
            "member",
        )
    handle = tar.extractfile(info)
    data = handle.read(info.size) if handle is not None else b""
    if len(data) != info.size:
        raise BundleError(f"{path} is truncated inside its index.", None)
    try:
        index = manifest.parse(data)
    except manifest.ManifestError as exc:
        raise BundleError(f"{path} is not a fleet bundle (its index: {exc}).", _HINT) from None
    if not isinstance(index, dict) or index.get("format") != FORMAT:
        raise BundleError(f"{path} is not a fleet bundle (no fleet format mark).", _HINT)
    version = index.get("schema_version")
    if isinstance(version, int) and version > SCHEMA_VERSION:
        raise BundleError(
            f"{path} has fleet schema version {version}; this debugtool reads up to "
            f"{SCHEMA_VERSION}.",
            "Upgrade debugtool to read it.",
        )
    problems = index_problems(index)
    if problems:
        raise BundleError(f"{path} has a malformed index: its {problems[0]}.", _HINT)
    return index


def _scan(fleet: FleetArchive, tar: Any, raw: IO[bytes]) -> None:
    """Record where each node's bundle lies; say what does not belong, or is missing."""
    path = fleet.path
    wanted: dict[str, FleetNode | None] = {n.member: n for n in fleet.nodes if n.member is not None}
    if fleet.manifest.get("report") is not None:
        wanted[REPORT] = None
    count = 0
    while True:
        try:
            info = _next(tar, path)
        except BundleError as exc:
            fleet.problems.append(f"the archive is damaged after {count} bundles ({exc.message})")
            return
        if info is None:
            break
        count += 1
        if count > NODES_LIMIT:
            raise reader.BundleTooLarge(
                f"{path} holds more than {NODES_LIMIT:,} members.", "members"
            )
        if info.isdir():
            continue
        root, _, rel = info.name.partition("/")
        why = reader._refusal(info)
        if why:
            fleet.problems.append(f"{info.name}: {why}")
        elif root != fleet.root or rel not in wanted:
            fleet.problems.append(f"{info.name}: not a bundle the index names")
        elif rel in fleet._spans:
            fleet.problems.append(f"{rel}: appears twice")
        elif info.size > reader.TOTAL_LIMIT:
            fleet.problems.append(
                f"{rel}: {info.size:,} bytes, more than debugtool reads of a bundle"
            )
        else:
            fleet._spans[rel] = _Span(info.offset_data, info.size)
    for member, node in wanted.items():
        if member not in fleet._spans:
            what = f"node {node.name}'s bundle" if node is not None else "the fleet report"
            fleet.problems.append(f"{what} {member} is missing")
    _check_end(fleet, tar, raw)


def _check_end(fleet: FleetArchive, tar: Any, raw: IO[bytes]) -> None:
    """Nothing but zeros may follow the end-of-archive block (tarfile reads no further)."""
    end = tar.offset
    size = os.fstat(raw.fileno()).st_size
    if end + tarfile.BLOCKSIZE > size:
        fleet.problems.append("the archive is truncated (no end-of-archive block)")
        return
    raw.seek(end)
    trailing = 0
    while chunk := raw.read(1 << 20):
        trailing += len(chunk) - chunk.count(0)
    if trailing:
        fleet.problems.append(
            f"{trailing:,} bytes that are not zero padding follow the end-of-archive block"
        )


@record
class NodeVerdict:
    """``bundle verify``'s verdict on one node: its index record and its bundle's problems
    (``reader.Problem``), or why it could not be checked."""

    node: FleetNode
    problems: list[reader.Problem] = field(default_factory=list)
    error: str = ""

    @property
    def damaged(self) -> bool:
        """Whether this node's bundle is damaged (a node without a bundle is not)."""
        return bool(self.error) or any(p.kind not in reader.NOTES for p in self.problems)


def check_fleet(path: str) -> tuple[FleetArchive, list[NodeVerdict]]:
    """Verify a fleet bundle: the archive around the bundles (``FleetArchive.problems``), then
    every node's bundle against the index's checksum and as ``bundle verify`` checks a bundle.
    Raises ``BundleError`` when ``path`` is no fleet bundle at all."""
    fleet = read_fleet(path)
    report = fleet.manifest.get("report")
    span = fleet._spans.get(REPORT)
    if report is not None and span is not None:
        digest = hashlib.sha256()
        with reader._open(path) as raw:
            raw.seek(span.offset)
            left = span.size
            while left and (chunk := raw.read(min(left, 1 << 20))):
                digest.update(chunk)
                left -= len(chunk)
        if span.size != report["size"] or digest.hexdigest() != report["sha256"]:
            fleet.problems.append(f"{REPORT}: does not match the index's checksum")
    verdicts = []
    with fleet:
        folder = tempfile.mkdtemp(prefix="debugtool-fleet-")
        try:
            for i, node in enumerate(fleet.nodes):
                verdict = NodeVerdict(node)
                verdicts.append(verdict)
                if not node.has_bundle or node.member not in fleet._spans:
                    continue
                copy = os.path.join(folder, f"{i}.tar.gz")
                try:
                    fleet.copy_node(node.name, copy)
                    verdict.problems = reader.check_bundle(copy)
                except BundleError as exc:
                    verdict.error = exc.message.replace(copy, f"node {node.name}'s bundle")
                finally:
                    with contextlib.suppress(OSError):
                        os.unlink(copy)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    return fleet, verdicts


def node_source(path: str, target: str) -> tuple[Any, str]:
    """Return the ``BundleSource`` of the node ``target`` names (``NODE/TARGET``) in the fleet
    bundle at ``path``, and the target within that node: what ``top``, ``inspect``,
    ``mounts``, ``net``, ``logs`` and ``snapshot`` read with ``--bundle FLEET``. The source
    names the node in its messages and banner. Raises ``BundleError``."""
    from debugtool.source import BundleSource

    archive = open_fleet(path)
    try:
        node, inner = archive.split_target(target)
        bundle = archive.open_node(node.name)
    except BaseException:
        archive.close()
        raise
    return BundleSource(f"{path} (node {node.name})", bundle, owner=archive), inner
