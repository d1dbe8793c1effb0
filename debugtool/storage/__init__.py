"""A container that is not running, read from its runtime's storage.

A stopped (exited, created) container has no process, so ``/proc/PID/root`` cannot show its
files; its runtime still keeps them, as layers: the image's, and the container's own on top
(what it wrote, and whiteouts of what it deleted). ``open_stopped`` finds that stack
(``layers_of``: Docker's overlay2, podman's containers/storage overlay, containerd's overlayfs
snapshotter) and mounts it read-only and detached (``storage.overlay``), so the console and
the bundle read the files as the container saw them, through ``debugtool.rootfs``, without a
write to the storage and without a mount anyone else can see.

Docker's own binds (``/etc/hosts``, ``/etc/resolv.conf``, ``/etc/hostname`` from its
``containers/ID/`` directory) are bound over the view again, read-only, where the kernel lets a
mount be attached to a detached one (Linux 6.15). Volumes and other bind mounts are not in the
view: the files under them are the image's.
"""

from __future__ import annotations

from debugtool.storage.layers import (
    LayerMissing,
    Layers,
    StorageError,
    UnsupportedDriver,
    who,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from debugtool.model import Container
    from debugtool.storage.overlay import Overlay

__all__ = [
    "LayerMissing",
    "Layers",
    "StorageError",
    "StoppedRoot",
    "UnsupportedDriver",
    "layers_of",
    "open_stopped",
]


def layers_of(container: Container, timeout: float = 2.0) -> Layers:
    """Return the layer directories of ``container`` as its runtime records them.

    Raises ``UnsupportedDriver`` (not overlay storage), ``LayerMissing``, ``StorageError``
    (a runtime that keeps no layers: runc, a bare sandbox), or ``ContainerGone``.
    """
    if container.runtime == "docker":
        from debugtool.storage import docker

        return docker.layers(container, timeout)
    if container.runtime == "podman":
        from debugtool.storage import podman

        return podman.layers(container)
    if container.runtime == "containerd":
        from debugtool.storage import containerd

        return containerd.layers(container, timeout)
    raise StorageError(
        f"{who(container)} is a {container.runtime} container, whose files live only while "
        "it runs (a root filesystem debugtool cannot find when it is stopped).",
        "Docker, podman and containerd containers can be read when stopped.",
    )


class StoppedRoot:
    """A stopped container's files, mounted read-only from its storage: what the console and
    the bundle read instead of a ``Target``'s ``/proc/PID/root``.

    ``pid`` is None (there is no process); ``alive()`` is true as long as the view is open, so a
    session goes on even when the runtime removes the container meanwhile (the files stay
    readable until the view is closed).
    """

    pid = None

    def __init__(
        self,
        container: Container,
        layers: Layers,
        overlay: Overlay,
        binds: dict[str, str] | None = None,
    ) -> None:
        self.container = container
        self.layers = layers
        self._overlay = overlay
        #: Host files the runtime bind-mounted over paths of the root while it ran (Docker's
        #: /etc/hosts, resolv.conf, hostname), bound there again, read-only, in the view.
        self.binds = dict(binds or {})

    @property
    def root(self) -> str:
        """The container's root as this process can open it (``/proc/self/fd/N``)."""
        return self._overlay.root

    @property
    def name(self) -> str:
        return self.container.name

    def alive(self) -> bool:
        return self._overlay.fd is not None

    def describe(self) -> str:
        """One sentence on what is shown: the status, and where its files come from."""
        c = self.container
        image = len(self.layers.lowers)
        own = " and the container's own" if self.layers.upper else ""
        binds = f", {len(self.binds)} of {c.runtime}'s own bind files" if self.binds else ""
        return (
            f"container {c.name} is {c.status}: no processes; its files are read-only from "
            f"{c.runtime}'s {self.layers.driver} storage ({image} image layer"
            f"{'' if image == 1 else 's'}{own}{binds}; volumes not included)."
        )

    def close(self) -> None:
        self._overlay.close()

    def __enter__(self) -> StoppedRoot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_stopped(container: Container, timeout: float = 2.0) -> StoppedRoot:
    """Mount a stopped container's layers read-only (detached); return its ``StoppedRoot``.

    Raises what ``layers_of`` and ``storage.overlay.Overlay`` raise.
    """
    from debugtool.storage.overlay import Overlay

    layers = layers_of(container, timeout)
    overlay = Overlay(layers, who(container))
    binds: dict[str, str] = {}
    try:
        if container.runtime == "docker":
            from debugtool.storage.docker import bind_sources

            for path, host_file in bind_sources(container).items():
                if overlay.attach(path, host_file):
                    binds[path] = host_file
    except BaseException:
        overlay.close()
        raise
    return StoppedRoot(container, layers, overlay, binds)
