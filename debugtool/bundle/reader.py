"""Read a support bundle back into the Snapshot model, for the TUI and ``--bundle`` commands.

The bundle format (schema version 1) is a gzip-compressed tar archive (possibly several gzip
members one after the other, which gzip, tar and Python read as one stream). Every member sits under
one top directory, ``ROOT = debugtool-bundle-HOST-YYYYmmddTHHMMSSZ``, so unpacking it spills
nothing::

    ROOT/manifest.json            first member, always: format, schema, collectors, checksums
    ROOT/redactions.json          which rule matched in which file how often (never a secret)
    ROOT/report.html              a self-contained page showing the same views offline
    ROOT/host/debugtool.json      debugtool's version and the command line that made the bundle
    ROOT/host/kernel.txt          uname, /proc/version, kernel command line, load, memory
    ROOT/host/os-release          /etc/os-release
    ROOT/host/cgroups.txt         cgroup version, /proc/cgroups and the cgroup mounts
    ROOT/host/runtimes.json       versions of the runtimes found on the host
    ROOT/host/discovery.json      every container the runtimes listed, and skipped runtimes
    ROOT/host/audit.jsonl         the audit log's most recent lines
    ROOT/containers/DIR/          one folder per container, DIR = RUNTIME-NAME-SHORTID
        container.json            the model Container (with each backend's raw record)
        inspect.json              the runtime's own inspect data
        snapshot.json             the model Snapshot as captured (Snapshot.to_json)
        cgroup-samples.json       a list of CgroupStats taken over about a second
        logs.txt                  the container's recent output
        raw/proc/...              the init process's mountinfo, status, cgroup, limits, net/*
        raw/cgroup-CTL.txt        every readable file of the container's cgroup, per controller

``manifest.json`` holds (see ``manifest.py``): ``format`` ("debugtool-bundle"),
``schema_version``, ``debugtool_version``, ``created_at`` (epoch seconds), ``root``,
``complete`` (false when interrupted or out of time), ``interrupted``, ``command_line``,
``containers`` (a list of ``{id, name, runtime, status, dir}``), ``collectors`` (a list of
``{name, container, status, duration, error, files}``, status one of ok, error, timeout,
skipped, truncated), ``dropped`` (what ``--max-size`` left out) and ``files`` (``path ->
{size, sha256}`` for every member but the manifest, paths relative to ROOT).
"""

from __future__ import annotations

import json
import os
import tarfile
import zlib
from dataclasses import dataclass, field
from typing import Any

from debugtool.bundle import manifest as mf
from debugtool.errors import BundleError, ContainerNotFound
from debugtool.model import CgroupStats, Container, Snapshot, from_dict


@dataclass
class Archive:
    """The members of a bundle archive as read, and whether the archive ended early."""

    root: str = ""
    members: dict[str, bytes] = field(default_factory=dict)  # path relative to root -> bytes
    order: list[str] = field(default_factory=list)  # member paths as they appear
    manifest: dict[str, Any] | None = None
    damage: str = ""  # why reading stopped early ('' when the archive was read to its end)
    extra_roots: list[str] = field(default_factory=list)  # members outside ROOT


def read_archive(path: str) -> Archive:
    """Read every member of a bundle archive, tolerating damage after the manifest.

    Raises ``BundleError`` when ``path`` is missing or is not a debugtool bundle at all (no
    gzip tar, or a first member that is not a debugtool manifest). Damage after the manifest is
    reported in ``Archive.damage`` so ``verify`` can list what is missing.
    """
    if not os.path.exists(path):
        raise BundleError(f"there is no bundle at {path}.", "Check the file name.")
    if os.path.isdir(path):
        raise BundleError(f"{path} is a directory, not a bundle.", "Name the .tar.gz file.")
    archive = Archive()
    try:
        tar = tarfile.open(path, "r:gz")
    except PermissionError:
        raise BundleError(f"cannot read {path}: permission denied.", "Run as root.") from None
    except (tarfile.TarError, OSError, EOFError, zlib.error):
        raise BundleError(
            f"{path} is not a debugtool bundle (not a gzip-compressed tar archive).",
            "Name a file written by 'debugtool bundle'.",
        ) from None
    with tar:
        try:
            for info in tar:
                if not info.isfile():
                    continue
                root, _, rel = info.name.partition("/")
                handle = tar.extractfile(info)
                data = handle.read() if handle else b""
                if len(data) != info.size:
                    raise EOFError("member cut short")
                if not archive.order:
                    archive.root = root
                    if rel != mf.MANIFEST:
                        raise BundleError(
                            f"{path} is not a debugtool bundle (its first member is "
                            f"{info.name}, not {root}/{mf.MANIFEST}).",
                            "Name a file written by 'debugtool bundle'.",
                        )
                    archive.manifest = _parse_manifest(path, data)
                elif root != archive.root or not rel:
                    archive.extra_roots.append(info.name)
                    continue
                archive.members[rel] = data
                archive.order.append(rel)
        except BundleError:
            raise
        except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
            if archive.manifest is None:
                raise BundleError(
                    f"{path} is not a debugtool bundle, or is truncated before its manifest "
                    f"({exc}).",
                    "Name a complete file written by 'debugtool bundle'.",
                ) from None
            archive.damage = f"the archive is truncated or corrupt after {len(archive.order)} "
            archive.damage += f"members ({exc or type(exc).__name__})"
    if archive.manifest is None:
        raise BundleError(
            f"{path} is not a debugtool bundle (it holds no manifest).",
            "Name a file written by 'debugtool bundle'.",
        )
    return archive


def _parse_manifest(path: str, data: bytes) -> dict[str, Any]:
    try:
        manifest = json.loads(data)
    except ValueError:
        raise BundleError(
            f"{path} is not a debugtool bundle (its manifest is not JSON).",
            "Name a file written by 'debugtool bundle'.",
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != mf.FORMAT:
        raise BundleError(
            f"{path} is not a debugtool bundle (its manifest has no debugtool format mark).",
            "Name a file written by 'debugtool bundle'.",
        )
    version = manifest.get("schema_version")
    if not isinstance(version, int):
        raise BundleError(f"{path} has a manifest with no schema version.", None)
    if version > mf.SCHEMA_VERSION:
        raise BundleError(
            f"{path} has bundle schema version {version}; this debugtool reads up to "
            f"{mf.SCHEMA_VERSION}.",
            "Upgrade debugtool to read it.",
        )
    return manifest


class Bundle:
    """A support bundle opened for reading: its manifest, containers, Snapshots, samples, logs."""

    def __init__(self, path: str, archive: Archive) -> None:
        self.path = path
        self._archive = archive
        self.manifest: dict[str, Any] = archive.manifest or {}
        self.root = archive.root
        self.captured_at: float = float(self.manifest.get("created_at") or 0.0)
        self.complete: bool = bool(self.manifest.get("complete"))
        self._dirs: dict[str, str] = {}  # container id -> folder
        self.containers: list[Container] = []
        for record in self.manifest.get("containers") or []:
            container = self._container(record)
            self.containers.append(container)
            self._dirs[container.id] = record.get("dir", "")
        self.audit: list[dict[str, Any]] = self._audit()

    # -- members ------------------------------------------------------------------------------
    def member(self, rel: str) -> bytes | None:
        """Return one member's bytes (path relative to the bundle root), or None."""
        return self._archive.members.get(rel)

    def members(self) -> list[str]:
        """Return every member's path relative to the bundle root, in archive order."""
        return list(self._archive.order)

    def _json(self, rel: str) -> Any:
        data = self.member(rel)
        if data is None:
            return None
        try:
            return json.loads(data)
        except ValueError:
            raise BundleError(f"{self.path}: {rel} is not valid JSON.", None) from None

    def _container(self, record: dict[str, Any]) -> Container:
        folder = record.get("dir", "")
        data = self._json(f"containers/{folder}/container.json") if folder else None
        if isinstance(data, dict):
            return from_dict(Container, data)
        return Container(
            id=str(record.get("id", "")),
            name=str(record.get("name", "")),
            runtime=str(record.get("runtime", "")),
            status=str(record.get("status", "unknown")),
        )

    def _audit(self) -> list[dict[str, Any]]:
        data = self.member("host/audit.jsonl") or b""
        entries = []
        for line in data.decode("utf-8", "replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict):
                entries.append(entry)
        return entries

    # -- per container ------------------------------------------------------------------------
    def find(self, text: str) -> Container:
        """Return the bundled container ``text`` names (id, id prefix, name, RUNTIME:NAME).

        Raises ``ContainerNotFound`` listing what the bundle holds.
        """
        text = text.strip()
        runtime, sep, rest = text.partition(":")
        pool = self.containers
        if sep and rest and runtime in {c.runtime for c in pool}:
            pool = [c for c in pool if c.runtime == runtime or runtime in c.backends]
            text = rest
        for matches in (
            [c for c in pool if c.id == text],
            [c for c in pool if c.name == text or c.name.lstrip("/") == text],
            [c for c in pool if text and c.id.startswith(text)],
        ):
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                from debugtool.errors import AmbiguousTarget

                raise AmbiguousTarget(
                    text, [f"{c.runtime}:{c.name} ({c.short_id})" for c in matches]
                )
        held = ", ".join(f"{c.name} ({c.short_id})" for c in self.containers) or "none"
        raise ContainerNotFound(
            f"bundle {self.path} holds no container matching '{text}' (it holds: {held}).",
            "Use 'debugtool bundle show FILE' to list them.",
        )

    def _dir(self, container_id: str) -> tuple[Container, str]:
        container = self.find(container_id)
        return container, f"containers/{self._dirs.get(container.id, '')}"

    def snapshot(self, container_id: str) -> Snapshot:
        """Return the container's Snapshot as captured.

        When its snapshot collector failed, the Snapshot is empty and ``errors["snapshot"]``
        says why. Raises ``ContainerNotFound`` for a container the bundle does not hold.
        """
        container, folder = self._dir(container_id)
        data = self.member(f"{folder}/snapshot.json")
        if data is not None:
            try:
                snap = Snapshot.from_json(data.decode("utf-8", "surrogateescape"))
            except (ValueError, TypeError, KeyError) as exc:
                raise BundleError(
                    f"{self.path}: {folder}/snapshot.json cannot be read ({exc}).", None
                ) from None
            return snap
        reason = self.collector_error(container.id, "snapshot") or "it was not captured"
        return Snapshot(
            container=container,
            taken_at=self.captured_at,
            errors={"snapshot": f"no snapshot in this bundle: {reason}."},
        )

    def cgroup_samples(self, container_id: str) -> list[CgroupStats]:
        """Return the container's cgroup samples, oldest first (empty when none were taken)."""
        _, folder = self._dir(container_id)
        data = self._json(f"{folder}/cgroup-samples.json")
        if not isinstance(data, list):
            return []
        return [from_dict(CgroupStats, d) for d in data if isinstance(d, dict)]

    def inspect(self, container_id: str) -> dict[str, Any]:
        """Return the runtime's own inspect data for the container ({} when not captured)."""
        _, folder = self._dir(container_id)
        data = self._json(f"{folder}/inspect.json")
        return data if isinstance(data, dict) else {}

    def logs(self, container_id: str) -> str:
        """Return the container's captured output ('' when none was captured)."""
        _, folder = self._dir(container_id)
        data = self.member(f"{folder}/logs.txt")
        return data.decode("utf-8", "replace") if data else ""

    def collectors(self, container_id: str | None = None) -> list[dict[str, Any]]:
        """Return the collector records of one container, or of the host (``None``)."""
        records = self.manifest.get("collectors") or []
        if container_id is not None:
            container_id = self.find(container_id).id
        return [r for r in records if r.get("container") == container_id]

    def collector_error(self, container_id: str, name: str) -> str:
        """Return why a container's collector did not succeed ('' when it did or never ran)."""
        for record in self.collectors(container_id):
            if record.get("name") == name and record.get("status") != mf.OK:
                return f"{record.get('status')}: {record.get('error') or 'no detail'}"
        return ""

    def redactions(self) -> list[dict[str, Any]]:
        """Return the redaction report: ``{rule, file, count}`` records."""
        data = self._json(mf.REDACTIONS)
        if isinstance(data, dict):
            data = data.get("redactions")
        return data if isinstance(data, list) else []


def verify_bundle(path: str) -> list[str]:
    """Check a bundle against its manifest; return the problems found (empty: intact).

    Checks the manifest's schema, that every recorded member is present with its size and
    SHA-256, and that no member is unrecorded. Raises ``BundleError`` when ``path`` is not a
    bundle at all (missing, not a gzip tar, no debugtool manifest first, newer schema).
    """
    archive = read_archive(path)
    manifest = archive.manifest or {}
    problems = mf.schema_problems(manifest)
    if archive.damage:
        problems.append(archive.damage)
    if manifest.get("root") not in (None, archive.root):
        problems.append(f"the archive's top folder {archive.root} is not {manifest.get('root')}")
    files = manifest.get("files")
    recorded: dict[str, Any] = files if isinstance(files, dict) else {}
    for rel, entry in sorted(recorded.items()):
        data = archive.members.get(rel)
        if data is None:
            problems.append(f"{rel}: missing")
        elif not isinstance(entry, dict):
            continue
        elif len(data) != entry.get("size"):
            problems.append(f"{rel}: size {len(data)}, the manifest says {entry.get('size')}")
        elif mf.sha256(data) != entry.get("sha256"):
            problems.append(f"{rel}: checksum mismatch")
    for rel in archive.order:
        if rel != mf.MANIFEST and rel not in recorded:
            problems.append(f"{rel}: not recorded in the manifest")
    for name in archive.extra_roots:
        problems.append(f"{name}: outside the bundle's folder")
    return problems


def open_bundle(path: str) -> Bundle:
    """Open a bundle for reading.

    Raises ``BundleError`` with one sentence for a missing file, a file that is not a bundle,
    a truncated or corrupt one, or one written with a newer schema.
    """
    archive = read_archive(path)
    if archive.damage:
        raise BundleError(
            f"{path} is damaged: {archive.damage}.",
            "Run 'debugtool bundle verify' on it, or ask for the bundle again.",
        )
    return Bundle(path, archive)


def load_snapshot(path: str, target_text: str) -> Snapshot:
    """Return the Snapshot of the container ``target_text`` names in the bundle at ``path``.

    This is what ``top``, ``mounts`` and ``net`` use for ``--bundle FILE TARGET``. Raises
    ``BundleError`` (unreadable bundle) or ``ContainerNotFound`` (no such container in it).
    """
    return open_bundle(path).snapshot(target_text)
