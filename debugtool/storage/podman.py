"""Where podman keeps a container's layers: containers/storage's overlay driver.

``overlay-containers/containers.json`` gives each container's ``layer``; that layer's directory
``overlay/LAYER`` holds ``diff`` (what the container changed) and a ``lower`` file naming the
image's layers under it as ``l/SHORTNAME`` links, as Docker's overlay2 does. The driver and the
mount options come from ``storage.conf`` (``driver``, ``mountopt``): a ``metacopy=on`` storage
keeps files whose data lives in a lower layer, which only a mount with ``metacopy=on`` reads.
"""

from __future__ import annotations

import os

from debugtool.storage.layers import (
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


def storage_options(conf: str) -> tuple[str, list[str]]:
    """Return containers/storage's driver and the overlay options a faithful view needs,
    from ``storage.conf`` (``("overlay", [])`` without one)."""
    try:
        with open(conf, "rb") as f:
            import tomllib

            document: dict[str, Any] = tomllib.load(f)
    except (OSError, ValueError):
        return "overlay", []
    storage = _mapping(document.get("storage"))
    driver = str(storage.get("driver") or "overlay")
    options = _mapping(storage.get("options"))
    overlay = _mapping(options.get("overlay"))
    mountopt = str(overlay.get("mountopt") or options.get("mountopt") or "")
    wanted = [o.strip() for o in mountopt.split(",") if o.strip() == "metacopy=on"]
    if wanted:
        wanted.append("redirect_dir=follow")  # metacopy needs redirects followed
    return driver, wanted


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def layers(container: Container) -> Layers:
    """Return the layers of a rootful podman container. Raises ``UnsupportedDriver``,
    ``LayerMissing`` or ``StorageError``."""
    from debugtool.runtimes.podman import STORAGE_CONF, graph_root

    return from_storage(container, graph_root(), STORAGE_CONF)


def from_storage(container: Container, root: str, conf: str) -> Layers:
    """Return the layers of ``container`` in the containers/storage graph root ``root``."""
    from debugtool.runtimes.podman import read_storage

    owner = who(container)
    driver, options = storage_options(conf)
    if driver != "overlay":
        raise UnsupportedDriver(owner, "podman", driver)
    layer = str((container.metadata.get("podman") or {}).get("layer") or "")
    if not layer:
        try:
            records = read_storage(root)
        except (OSError, ValueError) as exc:
            raise StorageError(
                f"cannot read {root}/overlay-containers/containers.json to find {owner}'s "
                f"layer: {getattr(exc, 'strerror', None) or exc}."
            ) from None
        layer = next(
            (str(r.get("layer") or "") for r in records if r.get("id") == container.id), ""
        )
    if not plain_id(layer):
        raise StorageError(f"containers/storage names no layer for {owner}.")
    home = f"{root}/overlay"
    directory = f"{home}/{layer}"
    try:
        with open(f"{directory}/lower", encoding="ascii", errors="replace") as f:
            lowers = lower_file(home, f.read(1 << 20), owner)
    except FileNotFoundError:
        if not os.path.isdir(directory):
            raise LayerMissing(owner, directory) from None
        lowers = []
    return Layers(
        "podman", driver, f"{directory}/diff", lowers, f"containers/storage in {root}", options
    )


__all__ = ["from_storage", "layers", "storage_options"]
