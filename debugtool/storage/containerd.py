"""Where containerd keeps a container's layers: its overlayfs snapshotter.

A container names a snapshot (``snapshotter``, ``snapshot_key``). While containerd answers,
``Snapshots/Mounts`` gives the very overlay mount it would make (``upperdir=``, ``lowerdir=``).
When it does not, the chain is read from its two bolt databases, which a running containerd
keeps locked (bolt's exclusive ``flock``), so this is for a daemon that is down:

- ``io.containerd.metadata.v1.bolt/meta.db``: ``v1/NAMESPACE/snapshots/SNAPSHOTTER/KEY/name``
  is the snapshotter's own name of the snapshot (``NAMESPACE/SEQ/KEY``);
- ``io.containerd.snapshotter.v1.overlayfs/metadata.db``: ``v1/snapshots/NAME`` holds its
  ``id`` (a uvarint: the directory ``snapshots/ID/fs``), ``kind`` (1 view, 2 active,
  3 committed) and ``parent`` (the next name down the chain).
"""

from __future__ import annotations

import os

from debugtool.errors import RuntimeUnavailable
from debugtool.storage.layers import (
    MAX_LAYERS,
    LayerMissing,
    Layers,
    StorageError,
    UnsupportedDriver,
    who,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from debugtool.model import Container

SNAPSHOTS_MOUNTS = "/containerd.services.snapshots.v1.Snapshots/Mounts"
SNAPSHOTTER = "overlayfs"
CONFIG = "/etc/containerd/config.toml"
DEFAULT_ROOT = "/var/lib/containerd"
#: Docker's own containerd (when dockerd starts one) keeps its state here.
DOCKER_ROOT = "/var/lib/docker/containerd/daemon"
KIND_VIEW = 1


def daemon_root(address: str) -> str:
    """Return the state root of the containerd at ``address`` (``root`` in config.toml for the
    default daemon)."""
    from debugtool.runtimes.containerd import DOCKER_ADDRESS

    if os.path.realpath(address) == os.path.realpath(DOCKER_ADDRESS):
        return DOCKER_ROOT
    try:
        with open(CONFIG, "rb") as f:
            import tomllib

            root = tomllib.load(f).get("root")
    except (OSError, ValueError):
        root = None
    return root if isinstance(root, str) and root.startswith("/") else DEFAULT_ROOT


def layers(container: Container, timeout: float = 2.0) -> Layers:
    """Return the layers of a containerd container: from containerd, else from its databases.

    Raises ``UnsupportedDriver`` (another snapshotter), ``LayerMissing`` or ``StorageError``.
    """
    from debugtool.runtimes.containerd import daemons

    record = container.metadata.get("containerd") or {}
    owner = who(container)
    snapshotter = str(record.get("snapshotter") or "")
    key = str(record.get("snapshot_key") or "")
    namespace = container.namespace or str(record.get("namespace") or "default")
    if snapshotter != SNAPSHOTTER:
        raise UnsupportedDriver(owner, "containerd", snapshotter)
    if not key:
        raise StorageError(f"{owner} has no snapshot: containerd keeps no files for it.")
    address = str(record.get("address") or daemons()[0].address)
    try:
        return from_daemon(container, address, namespace, key, timeout)
    except RuntimeUnavailable:
        pass  # down or hung: its databases are free to read then
    root = daemon_root(address)
    return from_databases(
        container,
        f"{root}/io.containerd.metadata.v1.bolt/meta.db",
        f"{root}/io.containerd.snapshotter.v1.{SNAPSHOTTER}",
        namespace,
        key,
    )


def from_daemon(
    container: Container, address: str, namespace: str, key: str, timeout: float
) -> Layers:
    """Ask containerd at ``address`` for the snapshot's mounts. Raises ``RuntimeUnavailable``
    when it cannot be asked, ``LayerMissing`` when it has no such snapshot."""
    import time

    from debugtool.runtimes import protowire as pw
    from debugtool.runtimes.containerd import ContainerdRuntime, Daemon

    owner = who(container)
    request = pw.write_bytes(1, SNAPSHOTTER) + pw.write_bytes(2, key)
    daemon = Daemon(address, "", "")
    runtime = ContainerdRuntime(timeout)
    answer = runtime._call(  # noqa: SLF001 - the backend's one way to ask its daemon
        daemon, [(SNAPSHOTS_MOUNTS, request, namespace)], time.monotonic() + timeout
    )[0]
    if not isinstance(answer, bytes):
        if answer.status == 5:  # NOT_FOUND
            raise LayerMissing(owner, key, "is not known to containerd", "snapshot")
        raise RuntimeUnavailable("containerd", f"Snapshots/Mounts was refused: {answer}")
    try:
        mounts = [pw.decode(m) for m in pw.messages(pw.decode(answer), 1)]
    except pw.DecodeError as exc:
        raise StorageError(f"containerd's mounts of {owner} could not be read: {exc}") from None
    if len(mounts) != 1:
        raise StorageError(f"containerd gave {len(mounts)} mounts for {owner}, not one.")
    kind = pw.string(mounts[0], 1)
    source = pw.string(mounts[0], 2)
    options = [v.decode(errors="replace") for v in mounts[0].get(4, []) if isinstance(v, bytes)]
    return from_mount(container, kind, source, options)


def from_mount(container: Container, kind: str, source: str, options: list[str]) -> Layers:
    """Return the layers of one containerd ``Mount`` (type, source, options).

    The overlayfs snapshotter gives ``overlay`` with ``upperdir=`` and ``lowerdir=``; a snapshot
    with no parent is a ``bind`` of its one directory (``rw`` for an active one, ``ro`` for a
    view).
    """
    where = "containerd's Snapshots/Mounts"
    if kind == "bind":
        if "rw" in options:
            return Layers("containerd", SNAPSHOTTER, source, [], where)
        return Layers("containerd", SNAPSHOTTER, "", [source], where)
    if kind != "overlay":
        raise StorageError(
            f"containerd mounts {who(container)} as {kind or 'nothing'}, not overlay."
        )
    upper = ""
    lowers: list[str] = []
    extra = []
    for option in options:
        key, _, value = option.partition("=")
        if key == "upperdir":
            upper = value
        elif key == "lowerdir":
            lowers = [d for d in value.split(":") if d]
        elif key == "metacopy" or key == "redirect_dir":
            extra.append(option)
    return Layers("containerd", SNAPSHOTTER, upper, lowers, where, extra)


def _uvarint(data: bytes) -> int:
    value = shift = 0
    for byte in data[:10]:
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value
        shift += 7
    raise ValueError("not a uvarint")


def from_databases(
    container: Container, meta_db: str, snapshotter_root: str, namespace: str, key: str
) -> Layers:
    """Return the layers from containerd's metadata database ``meta_db`` and the overlayfs
    snapshotter's own (under ``snapshotter_root``), for a daemon that is down.

    Raises ``StorageError`` when either cannot be read (a running containerd holds them locked),
    ``LayerMissing`` when the chain names a snapshot that is not there.
    """
    from debugtool.runtimes.boltdb import BoltError, BoltFile

    owner = who(container)
    try:
        with BoltFile(meta_db) as db:
            bucket = db.top()
            for part in (
                b"v1",
                namespace.encode(),
                b"snapshots",
                SNAPSHOTTER.encode(),
                key.encode(),
            ):
                found = bucket.bucket(part)
                if found is None:
                    raise LayerMissing(owner, key, f"is not in {meta_db}", "snapshot")
                bucket = found
            name = bucket.get(b"name")
        if not name:
            raise LayerMissing(owner, key, f"has no name in {meta_db}", "snapshot")
        chain: list[tuple[int, int]] = []  # (id, kind), top first
        with BoltFile(f"{snapshotter_root}/metadata.db") as db:
            top = db.top().bucket(b"v1")
            snapshots = top.bucket(b"snapshots") if top else None
            if snapshots is None:
                raise StorageError(f"{snapshotter_root}/metadata.db holds no snapshots.")
            current: bytes | None = name
            while current:
                entry = snapshots.bucket(current)
                if entry is None:
                    raise LayerMissing(
                        owner,
                        current.decode(errors="replace"),
                        "is not in the overlayfs snapshotter's database",
                        "snapshot",
                    )
                chain.append((_uvarint(entry.get(b"id") or b""), (entry.get(b"kind") or b"\0")[0]))
                current = entry.get(b"parent")
                if len(chain) > MAX_LAYERS:
                    raise StorageError(f"the snapshot chain of {owner} does not end.")
    except (OSError, BoltError, ValueError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise StorageError(
            f"cannot read containerd's snapshot databases for {owner} ({why}).",
            "While containerd runs they are locked; it is asked instead (Snapshots/Mounts).",
        ) from None
    dirs = [f"{snapshotter_root}/snapshots/{i}/fs" for i, _ in chain]
    where = f"containerd's databases in {os.path.dirname(os.path.dirname(meta_db))}"
    if chain[0][1] == KIND_VIEW:
        return Layers("containerd", SNAPSHOTTER, "", dirs[1:], where)
    return Layers("containerd", SNAPSHOTTER, dirs[0], dirs[1:], where)


__all__ = ["daemon_root", "from_databases", "from_daemon", "from_mount", "layers"]
