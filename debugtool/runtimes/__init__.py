"""Runtime discovery: ask every backend, merge what they say into one list of containers."""

from __future__ import annotations

import os
import sys
import time

from debugtool import procfs
from debugtool.errors import DebugtoolError, RuntimeUnavailable
from debugtool.model import Container
from debugtool.record import field, record
from debugtool.runtimes.base import ExecRequest, Runtime

__all__ = ["Discovery", "ExecRequest", "Runtime", "discover", "load_runtimes", "merge"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    #: One backend's answer: whether it finished, its containers, what it raised.
    _Asked = tuple[bool, list[Container] | None, BaseException | None]

ENTRY_POINT_GROUP = "debugtool.runtimes"

#: The built-in backends (entry points add others; they never replace these).
BUILTIN = {
    "docker": "debugtool.runtimes.docker:DockerRuntime",
    "podman": "debugtool.runtimes.podman:PodmanRuntime",
    "containerd": "debugtool.runtimes.containerd:ContainerdRuntime",
    "runc": "debugtool.runtimes.oci:RuncRuntime",
    "crun": "debugtool.runtimes.oci:CrunRuntime",
    "none": "debugtool.runtimes.nsscan:NamespaceScan",
}


def _load(spec: str) -> type[Runtime]:
    module_name, _, attr = spec.partition(":")
    module = __import__(module_name, fromlist=[attr])
    return getattr(module, attr)


def runtime_specs(names: Iterable[str] | None = None) -> dict[str, str]:
    """Return the registered backends as ``name -> "module:Class"``: the built-in ones and
    those other packages register as entry points (which add names; a built-in name always
    means the built-in backend). Nothing is imported.

    With ``names`` that are all built-in, the entry points are not read at all: that scans every
    installed package (about 1 ms a start), which ``--runtime docker`` and a full container id
    do not need.
    """
    if names is not None and all(name in BUILTIN for name in names):
        return {name: BUILTIN[name] for name in names}
    return {**_entry_point_specs(ENTRY_POINT_GROUP), **BUILTIN}


def _entry_point_specs(group: str) -> dict[str, str]:
    """Return the entry points of ``group`` from every distribution on ``sys.path``.

    ``importlib.metadata.entry_points()`` costs about 20 ms of imports (email, zipfile, csv) on
    every start, more than the whole discovery of a quiet host; the group is one section of
    ``entry_points.txt`` in each ``*.dist-info``/``*.egg-info`` directory, which this reads
    directly. As importlib.metadata does, the first distribution of a name on the path wins.
    """
    specs: dict[str, str] = {}
    seen: set[str] = set()
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue  # a zip file, or a missing directory
        for name in sorted(names):
            if not name.endswith((".dist-info", ".egg-info")):
                continue
            dist = name.rsplit(".", 1)[0].split("-", 1)[0].lower().replace("_", "-")
            if dist in seen:
                continue
            seen.add(dist)
            try:
                with open(os.path.join(entry or ".", name, "entry_points.txt"), "rb") as f:
                    text = f.read().decode("utf-8", "replace")
            except OSError:
                continue
            for key, value in _section(text, group):
                specs.setdefault(key, value)
    return specs


def _section(text: str, group: str) -> list[tuple[str, str]]:
    """Return the ``name = module:attr`` pairs of one ``[group]`` of an entry_points.txt."""
    pairs = []
    inside = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            inside = line == f"[{group}]"
            continue
        key, sep, value = line.partition("=")
        if inside and sep:
            pairs.append((key.strip(), value.split("[", 1)[0].strip()))  # drop "[extras]"
    return pairs


def runtime_classes(names: Iterable[str] | None = None) -> dict[str, type[Runtime]]:
    """Return the backend classes by name: all registered ones, or only ``names`` (the others
    are not imported)."""
    wanted = set(names) if names is not None else None
    specs = runtime_specs(wanted)
    found: dict[str, type[Runtime]] = {}
    for name, spec in specs.items():
        if wanted is not None and name not in wanted:
            continue
        try:
            found[name] = _load(spec)
        except Exception as exc:  # a broken third-party plugin must not break debugtool
            from debugtool.output import warn

            warn(f"runtime plugin {name} ({spec}) failed to load: {exc}")
    return found


def load_runtimes(names: Iterable[str] | None = None, timeout: float = 2.0) -> list[Runtime]:
    """Instantiate the backends (all, or those named), richest first.

    Raises ``UsageError`` for a name no backend is registered under.
    """
    wanted = list(names) if names else None
    if wanted:
        known = runtime_specs(wanted)
        if any(n not in known for n in wanted):
            known = runtime_specs()
        unknown = [n for n in wanted if n not in known]
        if unknown:
            from debugtool.errors import UsageError

            raise UsageError(
                f"unknown runtime {', '.join(unknown)}.",
                f"Known runtimes: {', '.join(sorted(known))}.",
            )
    classes = runtime_classes(wanted)
    runtimes = [cls(timeout=timeout) for cls in classes.values()]
    return sorted(runtimes, key=lambda r: -r.richness)


@record
class Discovery:
    """What a discovery pass found: the merged containers and one warning per skipped runtime."""

    containers: list[Container] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    runtimes: dict[str, Runtime] = field(default_factory=dict)  # the backends that answered

    def runtime(self, name: str) -> Runtime | None:
        return self.runtimes.get(name)


#: Statuses with a live init process in the container's PID namespace ("created": runc init).
_LIVE = ("running", "paused", "created")


def merge(found: Iterable[Container], richness: Callable[[str], int]) -> list[Container]:
    """Merge records of one container seen by several backends into one, richest first.

    Records match by full id, or (for namespace-scan sandboxes) by PID namespace inode. The merged
    record takes each field from the richest backend that filled it, unions the labels and
    metadata, and lists every backend in ``backends``.

    Only a namespace-scan record folds by PID namespace: two runtime containers may share one
    (a pod with a shared PID namespace, ``docker run --pid container:X``) and stay two. Records
    of one id in two different containerd namespaces (``ctr -n a run ... web`` and
    ``ctr -n b run ... web``) are two containers too.
    """
    ordered = sorted(found, key=lambda c: -richness(c.runtime))
    by_id: dict[str, list[Container]] = {}
    by_pidns: dict[int, Container] = {}
    by_pid: dict[int, Container] = {}
    result: list[Container] = []
    for container in ordered:
        existing = _same(container, by_id.get(container.id, []))
        if existing is None and container.pidns is not None and container.runtime == "none":
            # The container whose init is the sandbox's init, else any in its PID namespace.
            existing = by_pid.get(container.pid or 0) or by_pidns.get(container.pidns)
        if existing is None:
            container.backends = list(dict.fromkeys(container.backends or [container.runtime]))
            by_id.setdefault(container.id, []).append(container)
            if container.pidns is not None and container.status in _LIVE:
                by_pidns.setdefault(container.pidns, container)
                if container.pid:
                    by_pid.setdefault(container.pid, container)
            result.append(container)
            continue
        _absorb(existing, container)
    return result


def _same(record: Container, candidates: list[Container]) -> Container | None:
    """Return the candidate (same id) that is the same container as ``record``: one in the same
    containerd namespace, else one where either namespace is unknown; None if all differ."""
    fallback = None
    for candidate in candidates:
        if record.namespace and candidate.namespace == record.namespace:
            return candidate
        if fallback is None and not (record.namespace and candidate.namespace):
            fallback = candidate
    return fallback


def _absorb(into: Container, other: Container) -> None:
    """Fill ``into``'s empty fields from ``other`` (a poorer backend's record of it)."""
    for name in (
        "image",
        "created",
        "namespace",
        "pod",
        "pod_namespace",
        "k8s_container",
        "bundle",
        "rootfs",
        "oci_root",
        "oci_runtime",
        "pidns",
        "pid",
        "ports",
        "owner",
    ):
        if not getattr(into, name) and getattr(other, name):
            setattr(into, name, getattr(other, name))
    if into.status == "unknown":
        into.status = other.status
    for key, value in other.labels.items():
        into.labels.setdefault(key, value)
    for key, value in other.metadata.items():
        into.metadata.setdefault(key, value)
    for backend in other.backends or [other.runtime]:
        # The namespace scan finds every sandbox; it adds nothing to a record a runtime owns.
        if backend not in into.backends and backend != "none":
            into.backends.append(backend)


def discover(
    names: Iterable[str] | None = None, all: bool = False, timeout: float = 2.0
) -> Discovery:
    """Ask every present backend in parallel and merge the answers.

    A backend that raises ``RuntimeUnavailable`` or does not finish within ``timeout`` (plus a
    small grace) is left out with one warning; the others still answer.
    """
    runtimes = [r for r in load_runtimes(names, timeout=timeout) if _present(r)]
    calls = {r.name: _lister(r, all) for r in runtimes}
    if len(calls) == 1:
        # One backend bounds its own requests by ``timeout``: asked here, not from a thread
        # (and without debugtool.deadline, which a full id or --runtime never needs).
        asked = {name: _ask_here(call) for name, call in calls.items()}
    else:
        from debugtool import deadline

        # Each daemon is asked from a thread of its own (one may hang), and its request goes
        # out first; the backends that read files work meanwhile in this thread, which costs
        # less than a thread each (every switch of the GIL is paid for on two vCPUs). One
        # deadline for all: two hung daemons cost one timeout, not two.
        until = time.monotonic() + timeout + 0.5
        waiting = {
            r.name: deadline.start(calls[r.name], name=f"dt-{r.name}")
            for r in runtimes
            if not r.reads_files
        }
        outcomes = {r.name: deadline.call(calls[r.name]) for r in runtimes if r.reads_files}
        deadline.wait(waiting.values(), until)
        outcomes.update((name, running.outcome()) for name, running in waiting.items())
        asked = {name: (o.finished, o.value, o.error) for name, o in outcomes.items()}
    results: dict[str, list[Container]] = {}
    errors: dict[str, str] = {}
    for name, (finished, value, error) in asked.items():
        if not finished:
            errors[name] = f"did not answer within {timeout:g}s"
        elif isinstance(error, RuntimeUnavailable):
            errors[name] = error.reason
        elif error is not None:  # a backend bug must not take the others down
            from debugtool import debuglog

            debuglog.log(__name__, "runtime %s failed", name, exc_info=error)
            errors[name] = f"failed: {error}"
        else:
            results[name] = value or []
    discovery = Discovery()
    rank = {r.name: r.richness for r in runtimes}
    for runtime in runtimes:
        if runtime.name in errors:
            discovery.warnings.append(f"{runtime.name}: {errors[runtime.name]}; skipped.")
        elif runtime.name in results:
            discovery.runtimes[runtime.name] = runtime
            discovery.warnings += [f"{runtime.name}: {w}" for w in getattr(runtime, "warnings", ())]
    found = [c for r in runtimes if r.name in discovery.runtimes for c in results[r.name]]
    # Docker, containerd and runc give one container's init PID three times, and the namespace
    # scan has just read the PID namespace of every sandbox's init: each is looked up once.
    inodes: dict[int, int | None] = {c.pid: c.pidns for c in found if c.pid and c.pidns}
    for container in found:
        if container.pidns is None and container.pid and container.status in _LIVE:
            if container.pid not in inodes:
                inodes[container.pid] = _pidns(container.pid)
            container.pidns = inodes[container.pid]
    discovery.containers = merge(found, lambda name: rank.get(name, 0))
    return discovery


def _lister(runtime: Runtime, all: bool) -> Callable[[], list[Container]]:
    return lambda: runtime.list(all=all)


def _ask_here(call: Callable[[], list[Container]]) -> _Asked:
    """Run one backend's ``call`` in this thread; return what ``deadline.run`` would have said
    of it (finished, its containers, what it raised), without raising."""
    try:
        return True, call(), None
    except Exception as exc:  # noqa: BLE001 - reported as that runtime's failure
        return True, None, exc


def _pidns(pid: int) -> int | None:
    try:
        return procfs.namespace_inode(pid, "pid")
    except DebugtoolError:
        return None


def _present(runtime: Runtime) -> bool:
    try:
        return runtime.present()
    except OSError:
        return False
