"""Live collectors: read one container's processes, mounts, network, cgroup and security from the
host and assemble them into a ``Snapshot``.

Each section is collected on its own: a section that fails leaves a sentence in
``snapshot.errors[section]`` and the others still fill. ``ContainerGone`` is raised only when the
container is gone before anything could be read.
"""

from __future__ import annotations

import os
import time

from debugtool.errors import ContainerGone, DebugtoolError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

    from debugtool.snapshot import Snapshot
    from debugtool.target import Target


SECTIONS = ("processes", "mounts", "network", "cgroup", "security")


def users(root: str) -> dict[int, str]:
    """Return ``{uid: name}`` from the container's own ``/etc/passwd`` (never the host's)."""
    from debugtool import rootfs

    return rootfs.users(root)


def groups(root: str) -> dict[int, str]:
    """Return ``{gid: name}`` from the container's own ``/etc/group`` (never the host's)."""
    from debugtool import rootfs

    return rootfs.groups(root)


def _sentence(exc: BaseException) -> str:
    if isinstance(exc, DebugtoolError):
        return exc.for_people()
    text = str(exc).rstrip(".")
    return f"{type(exc).__name__}: {text}." if text else f"{type(exc).__name__}."


def _network(target: Target) -> Any:
    try:
        from debugtool.collect.network import collect_network
    except ImportError as exc:
        raise DebugtoolError(f"the network collector is not available ({exc}).") from None
    return collect_network(target)


def collect_snapshot(
    target: Target,
    *,
    network: bool = True,
    pids: Iterable[int] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> Snapshot:
    """Collect every section of ``target`` into a ``Snapshot``.

    ``pids`` narrows the process scan to those host PIDs (a caller that scanned ``/proc`` once for
    many containers passes each its share); ``cancelled`` is asked between sections, and a true
    answer stops collecting (the sections not reached stay empty, without an error).

    A failing section records one sentence in ``errors``; ``ContainerGone`` is raised only when
    the container exited before any section could be read.
    """
    # Here, not at the top: the exec's cgroup join imports this package (``collect.cgroups``)
    # before the joiner forks, and needs none of a Snapshot.
    from debugtool import debuglog
    from debugtool.collect.cgroups import collect_cgroup
    from debugtool.collect.mounts import collect_mounts
    from debugtool.collect.processes import collect_processes
    from debugtool.collect.security import collect_security
    from debugtool.snapshot import Snapshot

    if not target.alive():
        raise ContainerGone(
            f"container {target.name} ({target.container.short_id}) has exited.",
            "Check its status with 'debugtool ps -a'.",
        )
    snap = Snapshot(container=target.container, taken_at=time.time(), hostname=os.uname().nodename)
    steps: list[tuple[str, Callable[[], None]]] = [
        ("processes", lambda: setattr(snap, "processes", collect_processes(target, pids=pids))),
        ("mounts", lambda: setattr(snap, "mounts", collect_mounts(target))),
        ("cgroup", lambda: setattr(snap, "cgroup", collect_cgroup(target))),
        (
            "security",
            lambda: setattr(
                snap,
                "security",
                collect_security(
                    target, mounts=snap.mounts if "mounts" not in snap.errors else None
                ),
            ),
        ),
    ]
    if network:
        steps.append(("network", lambda: setattr(snap, "network", _network(target))))
    else:
        snap.errors["network"] = "network was not collected (--no-network)."
    succeeded = 0
    for section, step in steps:
        if cancelled is not None and cancelled():
            break
        try:
            step()
            succeeded += 1
        except Exception as exc:  # noqa: BLE001 - one section's failure must not lose the rest
            debuglog.log(__name__, "collecting %s failed", section, exc_info=True)
            snap.errors[section] = _sentence(exc)
    if not succeeded and not target.alive():
        raise ContainerGone(
            f"container {target.name} ({target.container.short_id}) exited before it could be "
            "inspected.",
            "Check its status with 'debugtool ps -a'.",
        )
    if not target.alive():
        snap.errors.setdefault(
            "container", "the container exited while the snapshot was taken; it may be partial."
        )
    return snap
