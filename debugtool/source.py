"""Where containers and what they hold come from: the live host or a support bundle.

Every front end gets containers and their data through a ``Source``: the read commands
(``--bundle FILE`` picks a ``BundleSource`` instead of the ``LiveSource``), the console, the TUI.
``Source.find`` is the one resolver: every target form (id, prefix, name, ``RUNTIME:NAME``,
``containerd:NAMESPACE/NAME``, ``pid:N``, ``pod/NAME[/CONTAINER]``) means the same on a live host
and in a bundle, through ``target.find``.

A source never formats anything and never imports a UI package; the sections it returns are
the model's (``Process``, ``Mount``, ``Network``, ``CgroupStats``, ``SecurityContext``).
"""

from __future__ import annotations

import _thread
import time

from debugtool.errors import ContainerGone, ContainerNotFound, DebugtoolError
from debugtool.model import Container

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Protocol

    from debugtool.audit import Record
    from debugtool.bundle.reader import Bundle
    from debugtool.collect.hostload import HostLoad, HostSampler
    from debugtool.runtimes import Discovery
    from debugtool.snapshot import CgroupStats, Mount, Network, Process, ProcessDetail, Snapshot
    from debugtool.target import Target
else:
    Protocol = object  # Source is a protocol for type checkers (typing: ~4 ms to import)


class Source(Protocol):
    """The containers of a live host or a bundle. Every method may raise a ``DebugtoolError``.

    ``live`` sources change over time and are polled; a bundle is read once. ``read_only`` rules
    out every action that would touch a container (exec, trace, bundle).
    """

    live: bool
    read_only: bool

    def banner(self, now: float) -> str:
        """Return a line saying what is shown (empty for the live host)."""
        ...

    def containers(self) -> Discovery:
        """Return every container, running or not, with one warning per runtime skipped."""
        ...

    def find(self, text: str, names_container: bool = True) -> Container:
        """Return the one container ``text`` names; raises ``ContainerNotFound``,
        ``AmbiguousTarget``. ``names_container=False`` lets ``pid:N`` skip asking runtimes."""
        ...

    def snapshot(self, container: Container, network: bool = True) -> Snapshot:
        """Return everything known about one container; raises ``ContainerGone`` and friends."""
        ...

    def processes(self, container: Container, cpu_interval: float = 0.0) -> list[Process]: ...

    def mounts(self, container: Container) -> list[Mount]: ...

    def network(self, container: Container) -> Network: ...

    def runtime_inspect(self, container: Container) -> dict[str, Any]:
        """Return the runtime's own record of the container (its ``inspect`` JSON)."""
        ...

    def process_detail(self, container: Container, host_pid: int) -> ProcessDetail:
        """Return one process of the container in depth (a live source only)."""
        ...

    def host_load(self) -> HostLoad | None:
        """Return the host's load, memory and uptime: now (live), or as a bundle recorded it
        (None when it holds none)."""
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

    def __enter__(self) -> Source: ...

    def __exit__(self, *exc: object) -> None: ...


def open_source(
    bundle: str | None = None,
    timeout: float = 2.0,
    warn: Callable[[str], None] | None = None,
    privileged: bool = True,
) -> Source:
    """Return the source a command reads: the bundle at ``bundle``, or the live host.

    A live source checks first whether debugtool may read every process (``privileged``):
    without root's privileges it reads only the caller's own rootless containers. It passes
    each skipped runtime's warning to ``warn``.
    """
    if bundle:
        return BundleSource(bundle)
    runtimes = None
    if privileged:
        from debugtool.target import caller_runtimes

        # Without root's privileges: the user's own rootless containers (target.OWN_RUNTIMES).
        runtimes = caller_runtimes(None)
    return LiveSource(timeout=timeout, warn=warn, runtimes=runtimes)


# What a container list shows (CPU and memory) comes from these files only; a snapshot reads
# every file. v1: memory and cpuacct; v2: memory.* and cpu.stat.
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

    Pinned targets are kept between calls (one pidfd per running container), so a poll costs
    one cgroup read per container and never re-resolves a name.
    """

    live = True
    read_only = False

    def __init__(
        self,
        timeout: float = 2.0,
        warn: Callable[[str], None] | None = None,
        runtimes: list[str] | None = None,
    ) -> None:
        self.timeout = timeout
        self.warn = warn
        self.runtimes = runtimes  # None: every runtime present
        self._targets: dict[str, Target] = {}
        # id -> (version, dirs, shared with the host: see collect.cgroups.shared_with_host)
        self._cgroups: dict[str, tuple[str, dict[str, str], bool]] = {}
        self._lock = _thread.allocate_lock()  # workers of two screens may pin at once
        self._discovery: Discovery | None = None
        self._host: HostSampler | None = None

    def banner(self, now: float) -> str:
        return ""

    def host_load(self) -> HostLoad | None:
        if self._host is None:
            from debugtool.collect.hostload import HostSampler

            self._host = HostSampler()
        return self._host.sample()

    def containers(self) -> Discovery:
        from debugtool.runtimes import discover

        found = discover(self.runtimes, all=True, timeout=self.timeout)
        self._discovery = found
        alive = {c.id for c in found.containers if c.running}
        with self._lock:
            for cid in [cid for cid in self._targets if cid not in alive]:
                self._targets.pop(cid).close()
                self._cgroups.pop(cid, None)
        return found

    def find(self, text: str, names_container: bool = True) -> Container:
        """Resolve ``text`` among the host's containers (see ``target.find``).

        A full Docker id asks Docker alone (``docker_fast_path``), ``RUNTIME:NAME`` that runtime
        alone; ``pid:N`` for a caller whose output names no container asks no runtime at all.
        """
        from debugtool.runtimes import BUILTIN, Discovery, discover
        from debugtool.target import find

        text = text.strip()
        found = docker_fast_path(text, self.timeout)
        runtime, sep, rest = text.partition(":")
        if found is None:
            if not names_container and text.startswith("pid:"):
                found = Discovery()
            else:
                if sep and rest and runtime in BUILTIN and runtime != "none":
                    # RUNTIME:NAME names its runtime: the others need not be asked.
                    found = discover([runtime], all=True, timeout=self.timeout)
                else:
                    found = self.containers()
                if self.warn is not None:
                    for message in found.warnings:
                        self.warn(message)
        self._discovery = found
        return find(text, found)

    @property
    def discovery(self) -> Discovery | None:
        """What the last ``containers`` or ``find`` asked the runtimes (their backends too)."""
        return self._discovery

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
        from debugtool.collect import collect_snapshot

        return collect_snapshot(self.target(container), network=network)

    def processes(self, container: Container, cpu_interval: float = 0.0) -> list[Process]:
        from debugtool.collect.processes import collect_processes

        return collect_processes(self.target(container), cpu_interval=cpu_interval)

    def mounts(self, container: Container) -> list[Mount]:
        from debugtool.collect.mounts import collect_mounts

        return collect_mounts(self.target(container))

    def network(self, container: Container) -> Network:
        from debugtool.collect.network import collect_network

        return collect_network(self.target(container))

    def process_detail(self, container: Container, host_pid: int) -> ProcessDetail:
        from debugtool.collect.procdetail import collect_process

        return collect_process(self.target(container), host_pid=host_pid)

    def runtime_inspect(self, container: Container) -> dict[str, Any]:
        runtime = self._discovery.runtime(container.runtime) if self._discovery else None
        if runtime is None:
            from debugtool.runtimes import load_runtimes

            runtime = next(iter(load_runtimes([container.runtime])), None)
        return runtime.inspect(container) if runtime is not None else {}

    def cgroup(self, container: Container) -> CgroupStats | None:
        """Return CPU and memory of a running container's cgroup (a list's sample).

        The first sample finds the cgroup directories (``collect.cgroups.container_dirs``,
        parsing mountinfo) and reads every file; later ones reuse them and read only
        ``LIST_FILES``: with 50 containers polled each second this is what the TUI's CPU use is
        made of.
        """
        if not container.running:
            return None
        from debugtool.collect.cgroups import (
            container_dirs,
            read_stats,
            target_shares_host_cgroup,
        )

        target = self.target(container)
        known = self._cgroups.get(container.id)
        if known is None:
            version, dirs = container_dirs(target)
            shared = target_shares_host_cgroup(target, version, dirs)
            known = self._cgroups[container.id] = (version, dirs, shared)
            first = True
        else:
            version, dirs, shared = known
            first = False
        if shared:
            # The host's root, or a group shared with host processes: its numbers are not the
            # container's (collect.cgroups.shared_with_host), so none are read.
            from debugtool.snapshot import CgroupStats

            stats = CgroupStats(version=version, paths=dict(dirs), shared_with_host=True)
        elif first:
            stats = read_stats(version, dirs)
        else:
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

    def __enter__(self) -> LiveSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class BundleSource:
    """A support bundle read offline: the same sections, read-only, as captured."""

    live = False
    read_only = True

    def __init__(self, path: str, bundle: Bundle | None = None, owner: Any = None) -> None:
        """Open the bundle at ``path``; or read ``bundle``, opened already (a node's bundle in
        a fleet bundle: ``path`` then names it for people, and ``owner``, closed with this
        source, holds the file it is read from)."""
        from debugtool.bundle.reader import open_bundle

        self.bundle = bundle if bundle is not None else open_bundle(path)
        self.path = path if bundle is not None else str(getattr(self.bundle, "path", path))
        self._owner = owner
        self._snapshots: dict[str, Snapshot] = {}

    def banner(self, now: float) -> str:
        from debugtool.output import utc_text

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

    def containers(self) -> Discovery:
        from debugtool.runtimes import Discovery

        return Discovery(containers=list(self.bundle.containers))

    def find(self, text: str, names_container: bool = True) -> Container:
        """Resolve ``text`` among the bundle's containers, with the live host's rules.

        ``pid:N`` names the container whose process had host PID N when it was captured.
        """
        return self.find_in(self.bundle, text, self.path)

    @staticmethod
    def find_in(bundle: Bundle, text: str, label: str | None = None) -> Container:
        from debugtool.runtimes import Discovery
        from debugtool.target import close_names, find

        try:
            return find(text, Discovery(containers=list(bundle.containers)), live=False)
        except ContainerNotFound:
            held = ", ".join(f"{c.name} ({c.short_id})" for c in bundle.containers)
            close = close_names(text, [c.name for c in bundle.containers])
            hint = "Use 'debugtool bundle show FILE' to list them."
            if close:
                hint = f"Did you mean {' or '.join(close)}? {hint}"
            raise ContainerNotFound(
                f"bundle {label or bundle.path} holds no container matching '{text.strip()}' "
                f"(it holds: {held or 'none'}).",
                hint,
            ) from None

    def snapshot(self, container: Container, network: bool = True) -> Snapshot:
        if container.id not in self._snapshots:
            self._snapshots[container.id] = self.bundle.snapshot(container.id)
        return self._snapshots[container.id]

    def processes(self, container: Container, cpu_interval: float = 0.0) -> list[Process]:
        return self.snapshot(container).processes

    def mounts(self, container: Container) -> list[Mount]:
        return self.snapshot(container).mounts

    def network(self, container: Container) -> Network:
        return self.snapshot(container).network

    def runtime_inspect(self, container: Container) -> dict[str, Any]:
        return self.bundle.inspect(container.id)

    def host_load(self) -> HostLoad | None:
        """The bundle's ``host`` section, if the bundle has one (``Bundle.host``)."""
        from debugtool.collect.hostload import from_section

        section = getattr(self.bundle, "host", None)
        if callable(section):
            try:
                section = section()
            except DebugtoolError:
                return None
        captured = self.bundle.captured_at
        return from_section(section, captured if isinstance(captured, (int, float)) else None)

    def process_detail(self, container: Container, host_pid: int) -> ProcessDetail:
        raise DebugtoolError(
            "a bundle keeps no process detail (open files, threads, limits): only the list.",
            "Run 'debugtool top TARGET --pid N' on the live host.",
        )

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
        if self._owner is not None:
            self._owner.close()

    def __enter__(self) -> BundleSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def docker_fast_path(text: str, timeout: float) -> Discovery | None:
    """Return a Discovery from Docker alone when ``text`` is the full id of a running Docker
    container, else None (then every runtime is asked).

    A full 64-hex id names one container, and Docker's record of it is the richest: asking the
    other runtimes (and importing their backends) would change nothing but the time it takes.
    Docker answers an inspect in milliseconds, so this asks for at most half a second: a hung
    daemon then costs the full discovery's one timeout, not two.
    """
    import os

    if len(text) != 64 or any(ch not in "0123456789abcdef" for ch in text):
        return None
    from debugtool.runtimes import Discovery
    from debugtool.runtimes.docker import container_from_inspect
    from debugtool.runtimes.dockerapi import DockerAPI

    docker = DockerAPI(timeout=min(timeout, 0.5))
    if not os.path.exists(docker.path):
        return None
    try:
        data = docker.get_json(f"/containers/{text}/json")  # 64 hex digits: nothing to escape
    except DebugtoolError:
        return None  # 404 (no such container), a hung or broken daemon: ask every runtime
    if not isinstance(data, dict) or data.get("Id") != text:
        return None
    container = container_from_inspect(data)
    if not container.running:
        return None  # let the full discovery say what it knows of a stopped container
    return Discovery(containers=[container])
