"""Where the TUI's data comes from: a live host (LiveSource) or a support bundle (BundleSource).

The screens only ever talk to a ``Source``; they never read ``/proc`` or a bundle themselves, so the
same screens show a live host and a bundle, and tests feed them a recorded Snapshot.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from debugtool.errors import ContainerGone, ContainerNotRunning, DebugtoolError
from debugtool.model import CgroupStats, Container, Snapshot

if TYPE_CHECKING:
    from debugtool.audit import Record
    from debugtool.target import Target


@dataclass
class ContainerList:
    """What one listing found: the containers and one warning per runtime that was skipped."""

    containers: list[Container] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class Source(Protocol):
    """The data a TUI session shows. Every method may raise a ``DebugtoolError``.

    ``live`` sources change over time and are polled; a bundle is read once. ``read_only`` hides
    every action that would touch a container (exec, trace, bundle).
    """

    live: bool
    read_only: bool

    def banner(self, now: float) -> str:
        """Return a line saying what is shown (empty for the live host)."""
        ...

    def containers(self) -> ContainerList:
        """Return every container of every runtime, running or not."""
        ...

    def snapshot(self, container: Container, network: bool = True) -> Snapshot:
        """Return everything known about one container; raises ``ContainerGone`` and friends."""
        ...

    def cgroup(self, container: Container) -> CgroupStats | None:
        """Return a cheap sample of the container's cgroup usage (None when not running)."""
        ...

    def cgroup_history(self, container: Container) -> list[CgroupStats]:
        """Return the cgroup samples recorded before this session (a bundle's), oldest first."""
        ...

    def audit(self, container: Container) -> list[Record]:
        """Return the exec and trace sessions about this container, oldest first."""
        ...

    def close(self) -> None:
        """Release what the source holds (pinned pidfds)."""
        ...


def utc_text(epoch: float | None) -> str:
    """Return an epoch time as ``2026-11-26 15:04:05 UTC`` (UTC keeps pictures deterministic)."""
    if not epoch:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


# What the containers screen shows (CPU and memory) comes from these files only; the detail
# screen's snapshot reads every file. v1: memory and cpuacct; v2: memory.* and cpu.stat.
LIST_FILES = frozenset(
    {
        "memory.usage_in_bytes",
        "memory.limit_in_bytes",
        "cpuacct.usage",
        "memory.current",
        "memory.max",
        "cpu.stat",
    }
)


def _read_list_file(path: str) -> str | None:
    from debugtool.collect.cgroups import read_or_none

    return read_or_none(path) if path.rsplit("/", 1)[-1] in LIST_FILES else None


class LiveSource:
    """The live host: runtimes discovered, containers pinned by pidfd, collectors run on demand.

    Pinned targets are kept between polls (one pidfd per running container), so a poll costs one
    cgroup read per container and never re-resolves a name.
    """

    live = True
    read_only = False

    def __init__(self, timeout: float = 2.0) -> None:
        self.timeout = timeout
        self._targets: dict[str, Target] = {}
        self._cgroups: dict[str, tuple[str, dict[str, str]]] = {}  # id -> (version, dirs)
        self._lock = threading.Lock()  # workers of two screens may pin at once

    def banner(self, now: float) -> str:
        return ""

    def containers(self) -> ContainerList:
        from debugtool.runtimes import discover

        found = discover(all=True, timeout=self.timeout)
        alive = {c.id for c in found.containers if c.running}
        with self._lock:
            for cid in [cid for cid in self._targets if cid not in alive]:
                self._targets.pop(cid).close()
                self._cgroups.pop(cid, None)
        return ContainerList(found.containers, list(found.warnings))

    def target(self, container: Container) -> Target:
        """Return the pinned target of a running container, pinning it on first use.

        Raises ``ContainerNotRunning``, or ``ContainerGone`` once its process has exited.
        """
        from debugtool.target import pin

        with self._lock:
            target = self._targets.get(container.id)
            if target is not None and (target.pid != container.pid or not target.alive()):
                self._targets.pop(container.id).close()
                self._cgroups.pop(container.id, None)
                if target.pid == container.pid:
                    raise ContainerGone(
                        f"container {container.name} ({container.short_id}) has exited.",
                        "It stays in the list, marked exited.",
                    )
                target = None
            if target is None:
                target = pin(container)
                self._targets[container.id] = target
            return target

    def snapshot(self, container: Container, network: bool = True) -> Snapshot:
        from debugtool.collect import snapshot

        return snapshot(self.target(container), network=network)

    def cgroup(self, container: Container) -> CgroupStats | None:
        """Return CPU and memory of a running container's cgroup (the list screen's sample).

        The first sample finds the cgroup directories (parsing mountinfo); later ones reuse them
        and read only ``LIST_FILES``: with 50 containers polled each second this is what the
        TUI's CPU use is made of.
        """
        if not container.running:
            return None
        from debugtool.collect.cgroups import collect_cgroup, read_stats

        target = self.target(container)
        if target.cgroup and all(path == "/" for path in target.cgroup.values()):
            return None  # in the host's root cgroup: its numbers are the whole host's
        known = self._cgroups.get(container.id)
        if known is None:
            stats = collect_cgroup(target)
            self._cgroups[container.id] = (stats.version, dict(stats.paths))
            return stats
        version, dirs = known
        stats = read_stats(version, dirs, read=_read_list_file)
        stats.sampled_at = time.time()
        return stats

    def cgroup_history(self, container: Container) -> list[CgroupStats]:
        return []

    def audit(self, container: Container) -> list[Record]:
        from debugtool import audit

        return [r for r in audit.sessions(audit.read()) if r.about(container)]

    def close(self) -> None:
        with self._lock:
            for target in self._targets.values():
                target.close()
            self._targets.clear()


class BundleSource:
    """A support bundle read offline: the same screens, read-only, as captured."""

    live = False
    read_only = True

    def __init__(self, path: str) -> None:
        from debugtool.bundle.reader import open_bundle

        self.bundle = open_bundle(path)
        self.path = str(getattr(self.bundle, "path", path))
        self._snapshots: dict[str, Snapshot] = {}

    def banner(self, now: float) -> str:
        captured = self.bundle.captured_at
        if isinstance(captured, (int, float)):
            when = utc_text(captured)
        else:
            when = str(captured or "an unknown time")
        state = "" if self.bundle.complete else " INCOMPLETE (a collector failed or timed out)."
        exited = [
            c.name for c in self.bundle.containers if c.id in self.bundle.exited_during_capture
        ]
        if exited:
            state += f" Exited during capture: {', '.join(exited)}."
        return f"Bundle {self.path}, captured {when}. Read-only: no exec, trace or bundle.{state}"

    def containers(self) -> ContainerList:
        return ContainerList(list(self.bundle.containers), [])

    def snapshot(self, container: Container, network: bool = True) -> Snapshot:
        if container.id not in self._snapshots:
            self._snapshots[container.id] = self.bundle.snapshot(container.id)
        return self._snapshots[container.id]

    def cgroup(self, container: Container) -> CgroupStats | None:
        samples = self.cgroup_history(container)
        if samples:
            return samples[-1]
        try:
            return self.snapshot(container).cgroup
        except DebugtoolError:
            return None

    def cgroup_history(self, container: Container) -> list[CgroupStats]:
        try:
            return list(self.bundle.cgroup_samples(container.id))
        except DebugtoolError:
            return []

    def audit(self, container: Container) -> list[Record]:
        from debugtool import audit

        return [r for r in audit.sessions(self.bundle.audit) if r.about(container)]

    def close(self) -> None:
        close = getattr(self.bundle, "close", None)
        if callable(close):
            close()


def not_running(container: Container) -> ContainerNotRunning:
    """Return the error a screen shows for a container that has no process to read."""
    return ContainerNotRunning(
        f"container {container.name} ({container.short_id}) is not running "
        f"(status: {container.status}).",
        "Only its runtime metadata is shown.",
    )
