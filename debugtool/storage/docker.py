"""Where Docker keeps a container's layers: its inspect record, or its files when dockerd is down.

Docker's overlay2 driver names the stack in ``GraphDriver.Data`` of ``GET /containers/ID/json``
(``UpperDir``, and ``LowerDir``: the container's ``-init`` layer, then the image's, joined by
``:``). When the daemon does not answer, the same is on disk: ``image/overlay2/layerdb/mounts/
ID/mount-id`` names the container's layer directory under ``overlay2/``, whose ``lower`` file
lists the layers under it as ``l/SHORTNAME`` links.
"""

from __future__ import annotations

import os

from debugtool.errors import RuntimeUnavailable
from debugtool.storage.layers import (
    OVERLAY_DRIVERS,
    LayerMissing,
    Layers,
    StorageError,
    UnsupportedDriver,
    lower_file,
    plain_id,
    who,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from debugtool.model import Container


def layers(container: Container, timeout: float = 2.0) -> Layers:
    """Return the layers of a Docker container: from the daemon's inspect, else from its files.

    Raises ``UnsupportedDriver``, ``LayerMissing``, ``StorageError``, or ``ContainerGone``
    when Docker no longer knows the container.
    """
    from debugtool.runtimes.docker import FROM_STATE_FILES, DockerRuntime, data_root

    record = container.metadata.get("docker") or {}
    if record.get("source") != FROM_STATE_FILES:
        try:
            inspected = DockerRuntime(timeout).inspect(container)
        except RuntimeUnavailable:
            pass  # the daemon is down or hangs: its files say the same
        else:
            return from_inspect(container, inspected)
    return from_files(container, data_root())


def from_inspect(container: Container, inspected: dict[str, Any]) -> Layers:
    """Return the layers ``GraphDriver`` of an inspect record names."""
    graph = inspected.get("GraphDriver")
    graph = _mapping(graph)
    driver = str(graph.get("Name") or "")
    if driver not in OVERLAY_DRIVERS:
        raise UnsupportedDriver(who(container), "docker", driver)
    data = _mapping(graph.get("Data"))
    upper = str(data.get("UpperDir") or "")
    lowers = [d for d in str(data.get("LowerDir") or "").split(":") if d]
    if not upper and not lowers:
        raise StorageError(f"Docker's inspect of {who(container)} names no layer directories.")
    return Layers("docker", driver, upper, lowers, "docker inspect (GraphDriver)")


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def from_files(container: Container, root: str) -> Layers:
    """Return the layers from Docker's files under ``root`` (its data root), for when the
    daemon does not answer."""
    from debugtool.runtimes.docker import state_record

    owner = who(container)
    record = state_record(container.id, root)
    if record is None:
        raise StorageError(f"Docker's files under {root}/containers hold no record of {owner}.")
    driver = str(record.get("Driver") or "")
    if driver != "overlay2":
        raise UnsupportedDriver(owner, "docker", driver)
    mount_file = f"{root}/image/{driver}/layerdb/mounts/{container.id}/mount-id"
    try:
        with open(mount_file, encoding="ascii", errors="replace") as f:
            mount_id = f.read(512).strip()
    except FileNotFoundError:
        raise LayerMissing(owner, mount_file) from None
    except OSError as exc:
        raise StorageError(f"cannot read {mount_file}: {exc.strerror}.") from None
    if not plain_id(mount_id):
        raise StorageError(f"{mount_file} does not name a layer directory.")
    home = f"{root}/{driver}"
    layer = f"{home}/{mount_id}"
    try:
        with open(f"{layer}/lower", encoding="ascii", errors="replace") as f:
            lowers = lower_file(home, f.read(1 << 20), owner)
    except FileNotFoundError:
        if not os.path.isdir(layer):
            raise LayerMissing(owner, layer) from None
        lowers = []  # a layer with nothing under it
    return Layers("docker", driver, f"{layer}/diff", lowers, f"Docker's files in {root}")


#: Files Docker bind-mounts into every container from its own directory (``containers/ID/``),
#: over the empty placeholders of the ``-init`` layer: what the container saw at these paths.
BIND_FILES = {"/etc/hosts": "hosts", "/etc/resolv.conf": "resolv.conf", "/etc/hostname": "hostname"}


def bind_sources(container: Container, root: str | None = None) -> dict[str, str]:
    """Return ``{path in the container: host file}`` for the files Docker bind-mounted into it
    from ``DATA_ROOT/containers/ID/`` (those that exist). The container could write them (the
    binds are read-write), so they are read as the container's files are: never through a
    symlink, only if regular."""
    from debugtool.runtimes.docker import data_root, valid_id

    if not valid_id(container.id):
        return {}
    directory = f"{root or data_root()}/containers/{container.id}"
    return {
        path: f"{directory}/{name}"
        for path, name in BIND_FILES.items()
        if os.path.lexists(f"{directory}/{name}")
    }


__all__ = ["bind_sources", "from_files", "from_inspect", "layers"]
