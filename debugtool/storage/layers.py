"""What a stopped container's root filesystem is made of: its layer directories, and the errors
of a storage debugtool cannot read.

A container's root, while it runs, is an overlay mount its runtime made: the image's layers as
``lowerdir``s and the container's own changes as ``upperdir``. Each runtime records that stack
in its own way (``debugtool.storage.docker``, ``podman``, ``containerd``); all of them end in
one ``Layers`` record: the directories, top first, that ``storage.overlay`` mounts read-only.
"""

from __future__ import annotations

import os

from debugtool.errors import DebugtoolError
from debugtool.record import field, record

#: The storage drivers whose layers are plain directories overlay can stack (Docker's overlay2
#: and its older overlay, containers/storage's overlay, containerd's overlayfs snapshotter).
OVERLAY_DRIVERS = ("overlay2", "overlay", "overlayfs")
#: How many layers overlay stacks at most (the kernel's OVL_MAX_STACK).
MAX_LAYERS = 500


class StorageError(DebugtoolError):
    """A stopped container's files cannot be read from its runtime's storage."""


class UnsupportedDriver(StorageError):
    """The container's storage driver keeps no layers debugtool can stack (vfs, btrfs, zfs...)."""

    def __init__(self, who: str, runtime: str, driver: str) -> None:
        super().__init__(
            f"{who} is stored by {runtime}'s '{driver or 'unknown'}' storage driver, and "
            "debugtool reads a stopped container's files only from overlay storage "
            "(Docker's overlay2, podman's overlay, containerd's overlayfs snapshotter).",
            "Start the container and use 'debugtool console' on it, or copy its files with "
            f"the runtime's own tools ('{runtime} export', 'docker cp').",
        )
        self.driver = driver


class LayerMissing(StorageError):
    """A directory of the container's layer stack is not where its runtime says it is."""

    def __init__(
        self, who: str, path: str, why: str = "is missing", kind: str = "layer directory"
    ) -> None:
        super().__init__(
            f"{kind} {path} of {who} {why}, so its files cannot be read "
            "(the runtime may be removing the container or its image).",
            "Check the container with 'debugtool ps -a' and the runtime's own inspect.",
        )
        self.path = path


@record
class Layers:
    """A container's root filesystem as directories: its own layer and its image's, top first.

    ``upper`` is the container's writable layer (what it changed: new files, and whiteouts of
    what it deleted), empty when it has none; ``lowers`` the image's layers, the topmost first
    (Docker's ``-init`` layer among them). ``source`` says where the stack was read.
    ``options`` are overlay options the runtime mounts with and a faithful view needs
    (``metacopy=on``).
    """

    runtime: str
    driver: str
    upper: str
    lowers: list[str] = field(default_factory=list)
    source: str = ""
    options: list[str] = field(default_factory=list)

    @property
    def stack(self) -> list[str]:
        """Every directory, top first: what overlay gets as its lowerdirs."""
        return [self.upper, *self.lowers] if self.upper else list(self.lowers)


def who(container: object) -> str:
    """Name a container in a sentence: ``container NAME (SHORTID)``."""
    name = getattr(container, "name", "")
    short = getattr(container, "short_id", "")
    if not short or getattr(container, "id", "") == name:  # containerd: the name is the id
        return f"container {name}"
    return f"container {name} ({short})"


def lower_file(home: str, text: str, owner: str) -> list[str]:
    """Return the directories a ``lower`` file names, top first.

    Docker's overlay2 and containers/storage's overlay write, beside each layer, a ``lower`` file
    of ``l/SHORTNAME`` entries joined by ``:``; each ``HOME/l/SHORTNAME`` is a symlink to
    ``../LAYERID/diff`` (short names keep the mount options under a page). A link that would
    lead outside ``home`` is refused (``LayerMissing``), as is an entry that is not ``l/NAME``.
    """
    dirs = []
    for entry in text.strip().split(":"):
        if not entry:
            continue
        name = entry.removeprefix("l/")
        if name == entry or not name or "/" in name or name in (".", ".."):
            raise LayerMissing(owner, f"{home}/{entry}", "is not a layer link (l/NAME)")
        link = f"{home}/l/{name}"
        try:
            target = os.readlink(link)
        except FileNotFoundError:
            raise LayerMissing(owner, link) from None
        except OSError as exc:
            raise LayerMissing(owner, link, f"cannot be read ({exc.strerror})") from None
        path = os.path.normpath(os.path.join(f"{home}/l", target))
        if not path.startswith(home.rstrip("/") + "/"):
            raise LayerMissing(owner, link, f"points outside {home} (to {target})")
        dirs.append(path)
    return dirs


def plain_id(text: str) -> bool:
    """Return whether ``text`` can name a directory of the storage (no ``/``, not ``.`` or
    ``..``, printable ASCII): ids read from the runtime's files become paths."""
    return (
        0 < len(text) <= 256
        and text.isascii()
        and text.isprintable()
        and "/" not in text
        and text not in (".", "..")
    )
