"""Capture a support bundle: run every collector with a timeout inside one time budget, redact,
build the archive in memory with the manifest first, scan it for leaks, publish it.

Robustness comes first. Collectors run in daemon worker threads joined with timeouts: a hung
collector is abandoned (its later output ignored, its programs killed by pid) and recorded with
status ``timeout``. Ctrl-C and SIGTERM set a flag; the capture stops waiting and still writes a
valid bundle marked incomplete; a second one aborts, leaving nothing behind.

Nothing is staged in a directory that could outlive the process: files are held in memory, and
the archive is written to an unnamed ``O_TMPFILE`` (mode 0600) in the destination's directory,
then linked into place only after the leak scan passed (``Destination``). An existing file is
never replaced without ``--force``, and of several writers racing for one path exactly one wins.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import gzip
import io
import itertools
import json
import os
import queue
import re
import signal
import socket
import stat
import sys
import tarfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from debugtool import deadline
from debugtool.bundle import collectors as col
from debugtool.bundle import manifest as mf
from debugtool.bundle.redact import Redactor
from debugtool.errors import BundleError, ContainerGone, DebugtoolError, UsageError
from debugtool.model import Container, to_dict

if TYPE_CHECKING:
    from debugtool.runtimes import Discovery
    from debugtool.target import Target

Progress = Callable[[int, int], None]


@dataclass
class Options:
    """How to capture a bundle (the ``debugtool bundle`` flags)."""

    targets: list[str] = field(default_factory=list)
    all: bool = False
    output: str | None = None  # a file, a directory, or "-" for standard output
    force: bool = False  # replace an existing file
    since: float | None = None  # epoch seconds: logs from then on
    log_lines: int | None = 1000
    collector_timeout: float = 10.0  # seconds each collector may take
    budget: float = 60.0  # seconds the whole capture may take
    max_size: int | None = None  # bytes
    redact: bool = True
    runtime_timeout: float = 2.0  # seconds each runtime may take to answer discovery
    runtimes: list[str] | None = None
    command_line: list[str] = field(default_factory=list)
    samples: int = 3  # cgroup samples per container ...
    sample_interval: float = 0.5  # ... this far apart, all containers in one window
    workers: int = 8
    progress: Progress | None = None


@dataclass
class Summary:
    """What was written: the path, its size, the containers, what did not finish."""

    path: str
    size: int
    containers: int
    complete: bool
    interrupted: str
    duration: float
    not_ok: list[dict[str, Any]]
    redactions: int
    dropped: list[dict[str, Any]]
    replaced: bool = False  # --force replaced an existing file
    exited: list[str] = field(default_factory=list)  # "NAME (SHORTID)" of containers that
    # exited while the bundle was captured


def parse_size(text: str) -> int:
    """Return a size like ``50M``, ``1.5GiB`` or ``200000`` in bytes. Raises ``UsageError``."""
    units = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    t = text.strip().upper().removesuffix("IB").removesuffix("B")
    number, unit = t, ""
    if t and t[-1] in units:
        number, unit = t[:-1], t[-1]
    try:
        value = float(number) * units[unit]
    except (ValueError, KeyError):
        raise UsageError(
            f"'{text}' is not a size.", "Write bytes or a number with K, M or G (e.g. 50M)."
        ) from None
    if value < 1:
        raise UsageError(f"'{text}' is not a positive size.", "Write for example 50M.")
    return int(value)


def parse_duration(text: str) -> float:
    """Return a duration like ``90``, ``30s``, ``10m``, ``2h``, ``1d`` in seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    t = text.strip().lower()
    scale = units.get(t[-1:], 1) if t else 1
    if t and t[-1] in units:
        t = t[:-1]
    try:
        value = float(t) * scale
    except ValueError:
        raise UsageError(
            f"'{text}' is not a duration.", "Write seconds or a number with s, m, h or d (10m)."
        ) from None
    if value <= 0:
        raise UsageError(f"'{text}' is not a positive duration.", "Write for example 10m.")
    return value


def folder_name(container: Container, taken: set[str]) -> str:
    """Return ``containers/RUNTIME-NAME-SHORTID``, readable and unique within the bundle."""
    safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in container.name.lstrip("/"))
    base = f"{container.runtime or 'none'}-{safe[:60] or 'unnamed'}-{container.short_id}"
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}-{n}"
    taken.add(name)
    return name


class _Capture:
    """Files and collector records gathered so far; sealed when the writer starts writing."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.files: dict[str, bytes] = {}
        self.priority: dict[str, int] = {}
        self.owner: dict[str, int] = {}  # file -> index of the collector record that wrote it
        self.results: list[mf.CollectorResult] = []
        self.running: dict[int, tuple[mf.CollectorResult, float]] = {}
        self.sealed = False
        self._keys = itertools.count(1)

    def begin(self, name: str, container: str | None) -> int:
        """Note a collector as running; return its key for ``finish`` (never 0)."""
        with self.lock:
            key = next(self._keys)
            self.running[key] = (mf.CollectorResult(name, container), time.monotonic())
            return key

    def finish(self, key: int, result: mf.CollectorResult, files: dict[str, bytes], prio: int):
        with self.lock:
            self.running.pop(key, None)
            if self.sealed:
                return  # a late collector: the bundle is already being written without it
            index = len(self.results)
            for rel, data in files.items():
                self.files[rel] = data
                self.priority[rel] = prio
                self.owner[rel] = index
            result.files = sorted(files)
            self.results.append(result)

    def seal(self, reason_status: str, reason: str) -> None:
        """Stop accepting output; record still-running collectors with ``reason``."""
        with self.lock:
            self.sealed = True
            now = time.monotonic()
            for result, started in self.running.values():
                result.status = reason_status
                result.error = reason
                result.duration = now - started
                self.results.append(result)
            self.running.clear()


class Writer:
    """One bundle capture. ``capture()`` returns a ``Summary`` or raises ``BundleError``."""

    def __init__(self, options: Options) -> None:
        self.o = options
        self.cap = _Capture()
        self.stop = threading.Event()
        self.interrupted = ""
        self.budget_hit = False
        self.started = time.monotonic()
        self.deadline = self.started + options.budget
        self.created_at = time.time()
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self.created_at))
        host = "".join(ch if ch.isalnum() or ch in "-." else "_" for ch in socket.gethostname())
        self.root = f"debugtool-bundle-{host}-{stamp}"
        self.containers: list[tuple[Container, str]] = []  # (container, folder)
        self.redactor = Redactor()
        self.index: col.HostIndex | None = None
        self._bulk: _Bulk | None = None
        self.exited: set[str] = set()  # ids of containers that exited during the capture
        self.aborted = False  # a second signal came: stop now, write nothing
        self.dest: Destination | None = None

    # -- running collectors -----------------------------------------------------------------
    def run(
        self,
        name: str,
        fn: Callable[..., dict[str, bytes]],
        *args: Any,
        container: str | None = None,
        priority: int = mf.PRIORITY_HOST,
        timeout: float | None = None,
    ) -> bool:
        """Run one collector in a daemon thread with a timeout; record its outcome.

        Returns whether it succeeded. Never raises: every failure becomes a record.
        """
        result = mf.CollectorResult(name, container)
        if self.stop.is_set():
            result.status, result.error = mf.SKIPPED, self._stop_reason()
            self.cap.finish(0, result, {}, priority)
            return False
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            self.budget_hit = True
            result.status = mf.SKIPPED
            result.error = f"the bundle's time budget ({self.o.budget:g}s) was used up first"
            self.cap.finish(0, result, {}, priority)
            return False
        limit = min(timeout or self.o.collector_timeout, remaining)
        ctx = col.Context()
        key = self.cap.begin(name, container)
        start = time.monotonic()
        running = deadline.start(fn, ctx, *args, name=f"dt-bundle-{name}")
        deadline.wait([running], start + limit, self.stop)
        outcome = running.outcome()
        result.duration = time.monotonic() - start
        files: dict[str, bytes] = {}
        if not outcome.finished:
            ctx.abandon()  # its later output is ignored; its programs are killed now
            if self.stop.is_set():
                result.status, result.error = mf.SKIPPED, self._stop_reason()
            else:
                result.status = mf.TIMEOUT
                result.error = f"did not finish within {limit:.3g}s"
                if limit < (timeout or self.o.collector_timeout):
                    self.budget_hit = True
                    result.error += " (cut by the bundle's time budget)"
        elif isinstance(outcome.error, col.NothingToCollect):
            result.status, result.error = mf.SKIPPED, outcome.error.for_people()
        elif isinstance(outcome.error, DebugtoolError):
            result.status, result.error = mf.ERROR, outcome.error.for_people()
        elif outcome.error is not None:  # a collector bug becomes a record
            result.status = mf.ERROR
            result.error = f"{type(outcome.error).__name__}: {outcome.error}"
        else:
            files = outcome.value or {}
            if ctx.truncated:
                result.status, result.error = mf.TRUNCATED, ctx.truncated
        self.cap.finish(key, result, self._first_pass(files), priority)
        return result.status in (mf.OK, mf.TRUNCATED)

    def _first_pass(self, files: dict[str, bytes]) -> dict[str, bytes]:
        """Redact a collector's files by structure and pattern, in the worker that collected
        them, so this work overlaps the cgroup sampling window instead of following it."""
        if not self.o.redact:
            return files
        return {rel: self.redactor.first_pass(rel, data) for rel, data in files.items()}

    def _stop_reason(self) -> str:
        return f"interrupted ({self.interrupted}) before it finished"

    # -- the capture ------------------------------------------------------------------------
    def capture(self) -> Summary:
        """Collect, redact, write and verify the bundle; return what was written."""
        restore = self._install_signals()
        try:
            # Checked first, so a destination that cannot be written costs no capture.
            dest = Destination.choose(self.o.output, f"{self.root}.tar.gz", self.o.force)
            discovery, chosen = self._discover()
            self._collect(discovery, chosen)
            return self._write(dest)
        finally:
            restore()

    def _install_signals(self) -> Callable[[], None]:
        if threading.current_thread() is not threading.main_thread():
            return lambda: None

        def handler(signum: int, frame: Any) -> None:
            # Set a flag only: the capture notices it, stops waiting and writes what it has.
            # A second signal means "stop now": no bundle. Nothing needs removing (the archive
            # is in memory or an unnamed O_TMPFILE); a third is ignored, so the unwinding of
            # the second is never cut short, and so is one while the finished archive is
            # being linked into place, which takes microseconds and leaves a whole bundle.
            if self.aborted or (self.dest is not None and self.dest.committing):
                return
            if self.stop.is_set():
                self.aborted = True
                raise KeyboardInterrupt
            self.interrupted = signal.Signals(signum).name
            self.stop.set()

        old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}

        def restore() -> None:
            for s, h in old.items():
                signal.signal(s, h)

        return restore

    def _discover(self) -> tuple[Discovery, list[Container]]:
        from debugtool.runtimes import discover
        from debugtool.target import find

        # Discovery runs in a daemon thread so a signal or the budget can cut it short too.
        ask = functools.partial(discover, self.o.runtimes, all=True, timeout=self.o.runtime_timeout)
        asking = deadline.start(ask, name="dt-bundle-discover")
        deadline.wait([asking], self.deadline, self.stop)
        found = asking.outcome()
        if not found.finished:
            from debugtool.runtimes import Discovery

            # Interrupted (or out of time) while the runtimes were asked: a bundle of the
            # host alone, marked incomplete, is still written.
            if self.stop.is_set():
                why = self._stop_reason()
            else:
                self.budget_hit = True
                why = "the time budget ran out"
            return Discovery(warnings=[f"discovery did not finish: {why}"]), []
        if found.error is not None:
            raise found.error
        discovery = found.value
        assert discovery is not None
        if self.o.all:
            chosen = [c for c in discovery.containers if c.status in ("running", "paused")]
        else:
            chosen = []
            for text in self.o.targets:
                container = find(text, discovery)
                if all(c.id != container.id for c in chosen):
                    chosen.append(container)
        return discovery, chosen

    def _collect(self, discovery: Discovery, chosen: list[Container]) -> None:
        from debugtool.target import pin

        taken: set[str] = set()
        self.containers = [(c, f"containers/{folder_name(c, taken)}") for c in chosen]
        targets: dict[str, Target] = {}
        for container, folder in self.containers:
            self.cap.finish(
                0,
                mf.CollectorResult("container", container.id),
                self._first_pass(col.container_record(col.Context(), folder, container)),
                mf.PRIORITY_ESSENTIAL,
            )
            if container.status not in ("running", "paused"):
                continue
            try:
                targets[container.id] = pin(container)
            except DebugtoolError as exc:
                if isinstance(exc, ContainerGone):
                    self.exited.add(container.id)  # listed running, gone before it was pinned
                result = mf.CollectorResult("pin", container.id, mf.ERROR, error=exc.for_people())
                self.cap.finish(0, result, {}, mf.PRIORITY_ESSENTIAL)
        try:
            self.index = col.HostIndex()
            self._run_jobs(discovery, targets)
            # A container killed mid-capture left part of its data from before and part from
            # after: the bundle must say so, not that it ran (its pidfd tells, see Target.alive).
            self.exited.update(cid for cid, target in targets.items() if not target.alive())
        finally:
            for target in targets.values():
                target.close()

    def _run_jobs(self, discovery: Discovery, targets: dict[str, Target]) -> None:
        o = self.o
        jobs: queue.Queue[Callable[[], None]] = queue.Queue()
        options = {
            "targets": o.targets,
            "all": o.all,
            "since": o.since,
            "log_lines": o.log_lines,
            "timeout": o.collector_timeout,
            "budget": o.budget,
            "max_size": o.max_size,
            "redact": o.redact,
        }
        host_jobs: list[tuple[str, Callable[..., dict[str, bytes]], tuple[Any, ...]]] = [
            ("host/debugtool", col.host_debugtool, (o.command_line, options)),
            ("host/discovery", col.host_discovery, (discovery,)),
            ("host/kernel", col.host_kernel, ()),
            ("host/os-release", col.host_os_release, ()),
            ("host/cgroups", col.host_cgroups, ()),
            ("host/audit", col.host_audit, ()),
            (
                "host/runtimes",
                col.host_runtimes,
                (min(o.collector_timeout, o.runtime_timeout), "docker" in discovery.runtimes),
            ),
        ]
        total = len(self.containers)
        finished = [0]
        lock = threading.Lock()

        def container_job(container: Container, folder: str) -> Callable[[], None]:
            def job() -> None:
                cid = container.id
                runtime = discovery.runtime(container.runtime)
                target = targets.get(cid)
                self.run(
                    "inspect",
                    col.inspect,
                    folder,
                    container,
                    runtime,
                    container=cid,
                    priority=mf.PRIORITY_INSPECT,
                )
                if target is not None:
                    self.run(
                        "snapshot",
                        col.snapshot,
                        folder,
                        target,
                        self.index,
                        container=cid,
                        priority=mf.PRIORITY_SNAPSHOT,
                    )
                    self.run(
                        "raw",
                        col.raw_files,
                        folder,
                        target,
                        self.index,
                        container=cid,
                        priority=mf.PRIORITY_RAW,
                    )
                else:
                    why = "the container is not running" + (
                        " (or could not be pinned)" if container.running else ""
                    )
                    for name in ("snapshot", "raw"):
                        rec = mf.CollectorResult(name, cid, mf.SKIPPED, error=why)
                        self.cap.finish(0, rec, {}, mf.PRIORITY_RAW)
                self.run(
                    "logs",
                    col.logs,
                    folder,
                    container,
                    runtime,
                    o.log_lines,
                    o.since,
                    container=cid,
                    priority=mf.PRIORITY_LOGS,
                )
                with lock:
                    finished[0] += 1
                    count = finished[0]
                if o.progress:
                    o.progress(count, total)

            return job

        for name, fn, args in host_jobs:
            jobs.put(functools.partial(self._host, name, fn, args))
        for container, folder in self.containers:
            jobs.put(container_job(container, folder))

        def worker() -> None:
            while not self.stop.is_set():
                try:
                    job = jobs.get_nowait()
                except queue.Empty:
                    return
                try:
                    job()
                finally:
                    jobs.task_done()

        sampler = deadline.start(self._sampler, targets, name="dt-sampler")
        n = max(1, min(o.workers, len(host_jobs) + total))
        workers = [deadline.start(worker, name=f"dt-bundle-{i}") for i in range(n)]
        # The main thread only waits, so a signal is handled at once and the budget enforced
        # (with a second's grace for the collectors to record their own timeouts).
        until = self.deadline + 1.0
        all_done = deadline.wait(workers, until, self.stop)
        if all_done and not self.stop.is_set() and not sampler.finished():
            # Every collector but the sampler is done: compress their files now, while the
            # sampling window runs, instead of after it.
            self._bulk = self._prepare_bulk()
        all_done = all_done and deadline.wait([sampler], until, self.stop)
        if not all_done and not self.stop.is_set():
            self.budget_hit = True
        if self.stop.is_set():
            # Collectors notice the flag within a tick and record themselves as skipped; the
            # sampler hands over the samples it took. Give them that tick, no more.
            deadline.wait([sampler, *workers], time.monotonic() + 0.3)
        if self.stop.is_set():
            self.cap.seal(mf.SKIPPED, self._stop_reason())
        elif self.budget_hit:
            self.cap.seal(mf.TIMEOUT, f"cut by the bundle's time budget ({o.budget:g}s)")
        else:
            self.cap.seal(mf.SKIPPED, "not finished")
        # Containers whose jobs never started are recorded as skipped.
        done = {(r.container, r.name) for r in self.cap.results}
        for container, _ in self.containers:
            for name in ("inspect", "snapshot", "raw", "logs", "cgroup-samples"):
                if (container.id, name) not in done:
                    if name == "cgroup-samples" and container.id not in targets:
                        reason = "the container is not running"
                    elif self.stop.is_set():
                        reason = self._stop_reason()
                    else:
                        reason = f"the bundle's time budget ({o.budget:g}s) was used up first"
                    self.cap.results.append(
                        mf.CollectorResult(name, container.id, mf.SKIPPED, error=reason)
                    )

    def _host(self, name: str, fn: Callable[..., dict[str, bytes]], args: tuple[Any, ...]) -> None:
        self.run(name, fn, *args, priority=mf.PRIORITY_HOST)

    def _sampler(self, targets: dict[str, Target]) -> None:
        """Sample every container's cgroup in one shared window (so rates are visible)."""
        folders = dict((c.id, f) for c, f in self.containers)
        o = self.o
        key = self.cap.begin("cgroup-sampler", None)
        start = time.monotonic()
        taken, errors = col.sample_cgroups(
            targets, o.samples, o.sample_interval, self.stop, self.index
        )
        duration = time.monotonic() - start
        self.cap.finish(key, mf.CollectorResult("cgroup-sampler", None, duration=duration), {}, 0)
        for cid in targets:
            result = mf.CollectorResult("cgroup-samples", cid, duration=duration)
            files: dict[str, bytes] = {}
            if taken.get(cid):
                files[f"{folders[cid]}/cgroup-samples.json"] = col.dumps(taken[cid])
            if cid in errors:
                result.status = mf.TRUNCATED if taken.get(cid) else mf.ERROR
                result.error = errors[cid]
            self.cap.finish(0, result, self._first_pass(files), mf.PRIORITY_SAMPLES)

    # -- writing ----------------------------------------------------------------------------
    def _prepare_bulk(self) -> _Bulk | None:
        """Redact (second pass), stage, tar and gzip the files gathered so far, as one gzip
        member that the final archive will hold after its manifest, redactions and report."""
        if self.o.max_size is not None:
            return None  # --max-size may drop any of them: build the archive in one go
        with self.cap.lock:
            files = dict(self.cap.files)
        secrets = frozenset(self.redactor.secrets)
        if self.o.redact:
            files = {rel: self.redactor.second_pass(rel, data) for rel, data in files.items()}
        buf = io.BytesIO()
        tar = tarfile.TarFile(fileobj=buf, mode="w")
        for rel in sorted(files, key=_member_order):
            self._add(tar, rel, files[rel], int(self.created_at))
        # Not closed: the end-of-archive blocks come after the last member, in the tail.
        data = gzip.compress(buf.getvalue(), 6, mtime=int(self.created_at))
        return _Bulk(files, secrets, data)

    def _bulk_usable(self) -> bool:
        bulk = self._bulk
        if bulk is None or self.o.max_size is not None:
            return False
        if self.o.redact and frozenset(self.redactor.secrets) != bulk.secrets:
            return False  # a later file found a new secret: every file needs the second pass
        return all(rel in self.cap.files for rel in bulk.files)

    def _write_with_bulk(self, dest: Destination) -> Summary:
        """Write the archive as three gzip members: head (manifest, redactions, report), the
        bulk prepared during the sampling window, and the tail (the files gathered since)."""
        bulk = self._bulk
        assert bulk is not None
        rest = {rel: d for rel, d in self.cap.files.items() if rel not in bulk.files}
        redactions: list[dict[str, Any]] = []
        if self.o.redact:
            rest = {rel: self.redactor.second_pass(rel, data) for rel, data in rest.items()}
            redactions = self.redactor.report()
        files = {**bulk.files, **rest}
        extra = self._extras(files, redactions, [])
        mtime = int(self.created_at)
        entries = {rel: mf.file_entry(data) for rel, data in {**files, **extra}.items()}
        manifest = json.dumps(self._manifest(entries, []), indent=1).encode()
        head, tail = io.BytesIO(), io.BytesIO()
        tar = tarfile.TarFile(fileobj=head, mode="w")
        self._add(tar, mf.MANIFEST, manifest, mtime)
        for rel in sorted(extra, key=_member_order):
            self._add(tar, rel, extra[rel], mtime)
        tar = tarfile.TarFile(fileobj=tail, mode="w")
        for rel in sorted(rest, key=_member_order):
            self._add(tar, rel, rest[rel], mtime)
        tar.close()  # the end-of-archive blocks
        archive = b"".join(
            (
                gzip.compress(head.getvalue(), 6, mtime=mtime),
                bulk.gz,
                gzip.compress(tail.getvalue(), 6, mtime=mtime),
            )
        )
        replaced = self._publish(dest, archive)
        return self._summary(dest, len(archive), replaced, self.cap.results, redactions, [])

    def _publish(self, dest: Destination, archive: bytes) -> bool:
        """Leak-scan the archive, then hand it to ``dest``; return whether a file was replaced.

        A signal while it is linked into place (``dest.committing``) is ignored (see
        ``_install_signals``): the bundle is then whole, and is reported as written.
        """
        if self.o.redact:
            self._leak_scan(archive)
        self.dest = dest
        return dest.publish(archive)

    def _summary(
        self,
        dest: Destination,
        size: int,
        replaced: bool,
        results: list[mf.CollectorResult],
        redactions: list[dict[str, Any]],
        dropped: list[dict[str, Any]],
    ) -> Summary:
        exited = [c for c, _ in self.containers if c.id in self.exited]
        return Summary(
            path=dest.path,
            size=size,
            replaced=replaced,
            exited=[f"{c.name} ({c.short_id})" for c in exited],
            containers=len(self.containers),
            complete=self._complete(),
            interrupted=self.interrupted,
            duration=time.monotonic() - self.started,
            not_ok=[r.to_dict() for r in results if r.status != mf.OK],
            redactions=sum(r["count"] for r in redactions),
            dropped=dropped,
        )

    def _write(self, dest: Destination) -> Summary:
        if self._bulk_usable():
            return self._write_with_bulk(dest)
        self._bulk = None
        files = dict(self.cap.files)
        redactions: list[dict[str, Any]] = []
        if self.o.redact:
            # The first pass ran as each collector finished (_first_pass); the second masks,
            # everywhere, the values that any file's first pass found.
            files = {rel: self.redactor.second_pass(rel, data) for rel, data in files.items()}
            redactions = self.redactor.report()
        dropped: list[dict[str, Any]] = []
        priority = self.cap.priority
        results = self.cap.results
        order = sorted(files, key=lambda rel: (priority.get(rel, 0), -len(files[rel]), rel))
        estimate = {rel: len(zlib.compress(data, 1)) for rel, data in files.items()}
        limit = self.o.max_size

        def droppable() -> bool:
            return bool(order) and priority.get(order[0], 0) < mf.PRIORITY_ESSENTIAL

        while True:
            extra = self._extras(files, redactions, dropped)
            if limit is not None:
                size = sum(estimate[r] + 600 for r in files) + 4096
                size += sum(len(zlib.compress(d, 1)) for d in extra.values())
                over = size - int(limit * 0.95)
                if over > 0 and droppable():
                    # Drop lowest-priority parts (logs first). What a file holds also shows in
                    # the report, so each counts about twice; then re-estimate.
                    while over > 0 and droppable():
                        rel = order.pop(0)
                        over -= 2 * (estimate[rel] + 600)
                        self._drop(rel, files, dropped, results)
                    continue
            archive = self._archive(files, extra, dropped)
            if limit is None or len(archive) <= limit or not droppable():
                break
            self._drop(order.pop(0), files, dropped, results)  # the estimate was low
        replaced = self._publish(dest, archive)
        return self._summary(dest, len(archive), replaced, results, redactions, dropped)

    def _complete(self) -> bool:
        return not self.interrupted and not self.budget_hit

    def _drop(
        self,
        rel: str,
        files: dict[str, bytes],
        dropped: list[dict[str, Any]],
        results: list[mf.CollectorResult],
    ) -> None:
        data = files.pop(rel)
        dropped.append({"file": rel, "size": len(data), "reason": "--max-size"})
        index = self.cap.owner.get(rel)
        if index is not None and index < len(results):
            result = results[index]
            if result.status == mf.OK:
                result.status = mf.TRUNCATED
            note = "some output dropped to fit --max-size"
            if note not in result.error:
                result.error = f"{result.error}; {note}" if result.error else note

    def _extras(
        self,
        files: dict[str, bytes],
        redactions: list[dict[str, Any]],
        dropped: list[dict[str, Any]],
    ) -> dict[str, bytes]:
        """Return redactions.json and report.html for the files being written."""
        from debugtool.bundle import report

        red = {
            "redacted": self.o.redact,
            "note": "rule, file and count of each masked value; the values are not recorded",
            "redactions": redactions,
        }
        extra = {mf.REDACTIONS: json.dumps(red, indent=1).encode()}
        manifest = self._manifest({}, dropped)
        html = report.render(manifest, {**files, **extra})
        if self.o.redact:
            html = self.redactor.second_pass(mf.REPORT, html)
        extra[mf.REPORT] = html
        return extra

    def _manifest(self, entries: dict[str, Any], dropped: list[dict[str, Any]]) -> dict[str, Any]:
        from debugtool import __version__

        folders = dict((c.id, f) for c, f in self.containers)
        manifest: dict[str, Any] = {
            "format": mf.FORMAT,
            "schema_version": mf.SCHEMA_VERSION,
            "debugtool_version": __version__,
            "created_at": self.created_at,
            "host": socket.gethostname(),
            "root": self.root,
            "complete": self._complete(),
            "interrupted": self.interrupted or None,
            "command_line": list(self.o.command_line),
            "redacted": self.o.redact,
            "budget_seconds": self.o.budget,
            "collector_timeout_seconds": self.o.collector_timeout,
            "duration": round(time.monotonic() - self.started, 3),
            "containers": [
                {
                    "id": c.id,
                    "name": c.name,
                    "runtime": c.runtime,
                    "status": "exited" if c.id in self.exited else c.status,
                    "dir": folders[c.id].removeprefix("containers/"),
                    "exited_during_capture": c.id in self.exited,
                }
                for c, _ in self.containers
            ],
            "collectors": [r.to_dict() for r in self.cap.results],
            "dropped": dropped,
            "files": entries,
        }
        if self.o.redact:
            # The command line and error texts can carry secrets too.
            manifest["command_line"] = self.redactor.data(manifest["command_line"], mf.MANIFEST)
            for record in manifest["collectors"]:
                if record["error"]:
                    record["error"] = self.redactor.known(
                        self.redactor.text(record["error"], mf.MANIFEST), mf.MANIFEST
                    )
        return manifest

    def _archive(
        self,
        files: dict[str, bytes],
        extra: dict[str, bytes],
        dropped: list[dict[str, Any]],
    ) -> bytes:
        """Return the manifest-first tar.gz of ``files`` and ``extra``, built in memory."""
        members = {**files, **extra}
        entries = {rel: mf.file_entry(members[rel]) for rel in sorted(members)}
        manifest_bytes = json.dumps(self._manifest(entries, dropped), indent=1).encode()
        mtime = int(self.created_at)
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=6) as tar:
            self._add(tar, mf.MANIFEST, manifest_bytes, mtime)
            for rel in sorted(members, key=_member_order):
                self._add(tar, rel, members[rel], mtime)
        return buf.getvalue()

    def _add(self, tar: tarfile.TarFile, rel: str, data: bytes, mtime: int) -> None:
        info = tarfile.TarInfo(f"{self.root}/{rel}")
        info.size = len(data)
        info.mtime = mtime
        info.mode = 0o600
        info.uname = info.gname = "root"
        tar.addfile(info, io.BytesIO(data))

    def _leak_scan(self, archive: bytes) -> None:
        """Fail (and write no archive) if any redacted value appears in any member."""
        needles = self.redactor.leak_needles()
        if not needles:
            return
        # One pass over the whole decompressed tar stream (every header and every member's
        # bytes); only on a hit are the members walked to name the one that holds it.
        stream = gzip.decompress(archive)
        # One alternation, longest first: a single scan however many values were masked.
        pattern = re.compile(
            b"|".join(re.escape(n) for n in sorted(needles, key=len, reverse=True))
        )
        if not pattern.search(stream):
            return
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            for info in tar:
                haystack = info.name.encode()
                handle = tar.extractfile(info) if info.isfile() else None
                if handle:
                    haystack += b"\n" + handle.read()
                if pattern.search(haystack):
                    raise BundleError(
                        f"the leak scan found a redacted value in {info.name}; the bundle "
                        "was not written.",
                        "This is a debugtool bug: please report it (without the bundle).",
                    )
        raise BundleError(
            "the leak scan found a redacted value in the archive; the bundle was not written.",
            "This is a debugtool bug: please report it (without the bundle).",
        )


@dataclass
class _Bulk:
    """Files redacted, tarred and gzip-compressed while the sampler still waited."""

    files: dict[str, bytes]  # their final (redacted) content
    secrets: frozenset[str]  # the redactor's values when they were redacted
    gz: bytes  # one gzip member: their tar headers and data, no end-of-archive blocks


#: ``-o -``: the bundle goes to standard output.
STDOUT = "-"
#: A named temporary file beside the destination: only where the filesystem has no O_TMPFILE,
#: and for the moment ``--force`` renames one over the old file. It carries its writer's PID,
#: so the next run in that directory removes one whose writer died (SIGKILL, power loss).
_TEMP = re.compile(r"\..+\.debugtool-(?P<pid>[0-9]+)\.tmp")


@dataclass
class Destination:
    """Where a bundle goes: standard output, or a regular file created whole or not at all.

    A device, FIFO, socket or symbolic link is never replaced by a bundle (``-o /dev/null``
    would otherwise swap the host's /dev/null for a 0600 file); an existing file only with
    ``--force``. Of several writers racing for one path, exactly one wins: the others are told
    the file appeared (or changed) while they captured.
    """

    path: str  # the file, or STDOUT
    force: bool = False
    replaces: tuple[int, int] | None = None  # (device, inode) of the file --force replaces
    committing: bool = False  # linking the written archive into place (microseconds)

    @classmethod
    def choose(cls, output: str | None, default_name: str, force: bool = False) -> Destination:
        """Check where ``-o`` points, before anything is captured. A directory gets
        ``default_name`` in it. Raises ``BundleError`` with one sentence."""
        if output == STDOUT:
            if os.isatty(1):
                raise BundleError(
                    "-o - writes the bundle to standard output, which is a terminal.",
                    "Redirect it to a file or a pipe, or name a file with -o.",
                )
            return cls(STDOUT)
        path = output or default_name
        if os.path.isdir(path):
            path = os.path.join(path, default_name)
        parent = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(parent):
            raise BundleError(
                f"cannot write the bundle to {path}: {parent} does not exist.",
                "Name a file in an existing directory with -o.",
            )
        if not os.access(parent, os.W_OK):
            raise BundleError(
                f"cannot write the bundle to {path}: {parent} is not writable.",
                "Name a file in a writable directory with -o.",
            )
        dest = cls(path, force)
        dest.replaces = dest._existing()
        _remove_stale_temps(parent)
        return dest

    def _existing(self) -> tuple[int, int] | None:
        """Return the (device, inode) of the regular file at the path, None if there is none.

        Raises ``BundleError`` for anything else there, and for a file without ``--force``.
        """
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise BundleError(f"cannot write the bundle to {self.path}: {exc.strerror}.") from None
        if stat.S_ISLNK(st.st_mode):
            raise BundleError(
                f"{self.path} is a symbolic link; debugtool writes a bundle only to a new or "
                "regular file, never through a link.",
                "Name another file, or use -o - for standard output.",
            )
        if not stat.S_ISREG(st.st_mode):
            raise BundleError(
                f"{self.path} is {_kind(st.st_mode)}, not a regular file; debugtool will not "
                "replace it with a bundle.",
                "Name a regular file, or use -o - for standard output.",
            )
        if not self.force:
            raise BundleError(
                f"{self.path} already exists.", "Name another file, or add --force to replace it."
            )
        return (st.st_dev, st.st_ino)

    def publish(self, archive: bytes) -> bool:
        """Write ``archive`` there, whole or not at all; return whether a file was replaced.

        Raises ``BundleError`` when writing fails or another process took the path meanwhile.
        """
        if self.path == STDOUT:
            _write_stdout(archive)
            return False
        directory, name = os.path.split(os.path.abspath(self.path))
        fd, temp = _temp_file(directory, name)
        try:
            try:
                _write_all(fd, archive)
                os.fsync(fd)
            except OSError as exc:
                raise BundleError(f"writing {self.path} failed: {exc.strerror}.") from None
            with _locked(directory) as dfd:
                # Under the directory's lock no other debugtool checks and links in between:
                # the path must still be what it was when the capture began.
                if self._now() != self.replaces:
                    raise self._taken()
                self.committing = True
                try:
                    if self.replaces is None:
                        _link(temp, fd, dfd, name)  # fails if the name exists
                    else:
                        if temp is None:
                            temp = f".{name}.debugtool-{os.getpid()}.tmp"
                            with contextlib.suppress(FileNotFoundError):
                                os.unlink(temp, dir_fd=dfd)
                            _link(None, fd, dfd, temp)
                            temp = os.path.join(directory, temp)
                        os.replace(temp, name, dst_dir_fd=dfd)
                        temp = None
                except FileExistsError:
                    raise self._taken() from None
                except OSError as exc:
                    raise BundleError(f"writing {self.path} failed: {exc.strerror}.") from None
                finally:
                    self.committing = False
        finally:
            os.close(fd)
            if temp is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temp)
        return self.replaces is not None

    def _now(self) -> tuple[int, int] | None:
        """What is at the path now, as ``replaces`` records it ((-1, -1): not ours to take)."""
        if not self.force:
            return (-1, -1) if os.path.lexists(self.path) else None
        try:
            return self._existing()
        except BundleError:
            return (-1, -1)  # a link or a device appeared there

    def _taken(self) -> BundleError:
        return BundleError(
            f"{self.path} was written by another process while this bundle was captured, so "
            "this bundle was not written.",
            "Run again with another -o FILE.",
        )


def _kind(mode: int) -> str:
    for test, kind in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return kind
    return "not a regular file"


def _temp_file(directory: str, name: str) -> tuple[int, str | None]:
    """Open a 0600 file to write the archive to, in ``directory`` (so linking it into place
    never crosses a filesystem): unnamed (O_TMPFILE, gone with the process whatever kills it)
    where the filesystem allows, else named ``.NAME.debugtool-PID.tmp``. Returns the
    descriptor and the name (None when unnamed). Raises ``BundleError``."""
    try:
        fd = os.open(directory, os.O_TMPFILE | os.O_WRONLY | os.O_CLOEXEC, 0o600)
        os.fchmod(fd, 0o600)  # whatever the umask
        return fd, None
    except OSError:
        pass  # no O_TMPFILE on this filesystem (open(2): EOPNOTSUPP, or EISDIR on old kernels)
    temp = os.path.join(directory, f".{name}.debugtool-{os.getpid()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)  # our own PID's: left by an earlier process that had it
        fd = os.open(temp, flags, 0o600)
        os.fchmod(fd, 0o600)
    except OSError as exc:
        raise BundleError(f"cannot create a file in {directory}: {exc.strerror}.") from None
    return fd, temp


def _link(temp: str | None, fd: int, dfd: int, name: str) -> None:
    """Give the archive written to ``fd`` (named ``temp``, or unnamed) the name ``name`` in
    the directory ``dfd``. Raises ``FileExistsError`` when the name is taken."""
    if temp is not None:
        os.link(temp, name, dst_dir_fd=dfd)
        return
    # linkat(2) of an O_TMPFILE through /proc/self/fd with AT_SYMLINK_FOLLOW, as open(2)
    # shows (AT_EMPTY_PATH would need CAP_DAC_READ_SEARCH). os.link passes that flag only
    # when it calls linkat, which it does when given a directory descriptor.
    os.link(f"/proc/self/fd/{fd}", name, src_dir_fd=dfd, dst_dir_fd=dfd, follow_symlinks=True)


@contextlib.contextmanager
def _locked(directory: str) -> Iterator[int]:
    """Hold an exclusive flock on ``directory`` (where the filesystem has flock); give its
    descriptor."""
    dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        with contextlib.suppress(OSError):
            fcntl.flock(dfd, fcntl.LOCK_EX)
        yield dfd
    finally:
        os.close(dfd)  # releases the lock


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _write_stdout(archive: bytes) -> None:
    sys.stdout.flush()  # nothing should be there; if it is, it goes first, not inside
    try:
        _write_all(1, archive)
    except BrokenPipeError:
        raise BundleError(
            "standard output was closed before the whole bundle was written to it.",
            "Check the command that reads it.",
        ) from None
    except OSError as exc:
        raise BundleError(
            f"writing the bundle to standard output failed: {exc.strerror}."
        ) from None


def _remove_stale_temps(directory: str) -> None:
    """Remove ``.NAME.debugtool-PID.tmp`` files in ``directory`` whose writer is gone."""
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    for entry in entries:
        match = _TEMP.fullmatch(entry.name)
        try:
            if not match or not entry.is_file(follow_symlinks=False):
                continue
            if entry.stat(follow_symlinks=False).st_uid != os.geteuid():
                continue
        except OSError:
            continue
        if not _running(int(match["pid"])):
            with contextlib.suppress(OSError):
                os.unlink(entry.path)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _member_order(rel: str) -> tuple[int, str]:
    """Archive order after the manifest: redactions, report, host files, then containers."""
    first = {mf.REDACTIONS: 0, mf.REPORT: 1}
    if rel in first:
        return (first[rel], rel)
    return (2 if rel.startswith("host/") else 3, rel)


def capture(options: Options) -> Summary:
    """Capture a bundle with ``options``; return its summary. Raises ``BundleError``,
    ``UsageError`` or a target-resolution error (``ContainerNotFound``, ...)."""
    if not options.all and not options.targets:
        raise UsageError(
            "no container given.", "Name one or more containers, or use --all for every one."
        )
    return Writer(options).capture()


__all__ = [
    "STDOUT",
    "Destination",
    "Options",
    "Summary",
    "Writer",
    "capture",
    "parse_duration",
    "parse_size",
    "to_dict",
]
