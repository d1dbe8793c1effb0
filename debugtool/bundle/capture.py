"""Capture a support bundle: which containers, which collectors, the sampling window, progress
and the time budget; then redaction, the manifest and the archive, in that order.

Robustness comes first. Each collector runs in a daemon thread against a deadline
(``debugtool.deadline``): a hung one is abandoned (its later output ignored, its programs killed
by pid) and recorded with status ``timeout``. Ctrl-C and SIGTERM set a flag; the capture stops
waiting and still writes a valid bundle marked incomplete; a second one aborts, leaving nothing
behind.

Nothing is staged in a directory that could outlive the process: files are held in memory,
redacted as they arrive (``redact``), laid out with the manifest first (``manifest``,
``archive.Archive``), leak-scanned (``leaks``), and only then written where ``-o`` points
(``archive.Destination``).
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import os
import queue
import signal
import socket
import threading
import time
import zlib
from collections.abc import Callable

from debugtool import deadline
from debugtool.bundle import collectors, hostdata, leaks, manifest
from debugtool.bundle.archive import Archive, Destination
from debugtool.bundle.redact import Rules
from debugtool.bundle.redaction import Step, new_redactor
from debugtool.errors import ContainerGone, DebugtoolError, UsageError
from debugtool.model import Container
from debugtool.record import field, record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from debugtool.runtimes import Discovery
    from debugtool.target import Target

Progress = Callable[[int, int], None]


@record
class Options:
    """How to capture a bundle (the ``debugtool bundle`` flags)."""

    targets: list[str] = field(default_factory=list)
    all: bool = False
    output: str | None = None  # a file, a directory, or "-" for standard output
    force: bool = False  # replace an existing file
    since: float | None = None  # epoch seconds: logs, journals and the kernel log from then on
    log_lines: int | None = 1000
    max_log_bytes: int = collectors.MAX_LOG_BYTES  # newest bytes kept of each log source
    collector_timeout: float = 10.0  # seconds each collector may take
    budget: float = 60.0  # seconds the whole capture may take
    max_size: int | None = None  # bytes
    redact: bool = True
    redact_rules: Rules | None = None  # a site's keys, patterns, literals and allow-list
    runtime_timeout: float = 2.0  # seconds each runtime may take to answer discovery
    runtimes: list[str] | None = None
    command_line: list[str] = field(default_factory=list)
    samples: int = 3  # cgroup samples per container ...
    sample_interval: float = 0.5  # ... this far apart, all containers in one window
    workers: int = 8
    progress: Progress | None = None
    pseudonymise: list[str] = field(default_factory=list)  # pseudonyms.KINDS
    pseudonym_map: str | None = None  # the mapping file (default: beside the bundle)


@record
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
    pseudonym_map: str = ""  # where the mapping went (--pseudonymise)
    redaction_seconds: float = 0.0
    exited: list[str] = field(default_factory=list)  # "NAME (SHORTID)" of containers that
    # exited while the bundle was captured


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


class Collected:
    """Files and collector records gathered so far; sealed when the bundle starts being written."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.files: dict[str, bytes] = {}
        self.priority: dict[str, int] = {}
        self.owner: dict[str, int] = {}  # file -> index of the collector record that wrote it
        self.results: list[manifest.CollectorResult] = []
        self.running: dict[int, tuple[manifest.CollectorResult, float]] = {}
        self.sealed = False
        self._keys = itertools.count(1)

    def begin(self, name: str, container: str | None) -> int:
        """Note a collector as running; return its key for ``finish`` (never 0)."""
        with self.lock:
            key = next(self._keys)
            self.running[key] = (manifest.CollectorResult(name, container), time.monotonic())
            return key

    def finish(
        self, key: int, result: manifest.CollectorResult, files: dict[str, bytes], prio: int
    ):
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


class Capture:
    """One bundle capture. ``run()`` returns a ``Summary`` or raises ``BundleError``."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.cap = Collected()
        self.stop = threading.Event()
        self.interrupted = ""
        self.budget_hit = False
        self.started = time.monotonic()
        self.budget_ends = self.started + options.budget  # time.monotonic() when it is used up
        self.created_at = time.time()
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self.created_at))
        host = "".join(ch if ch.isalnum() or ch in "-." else "_" for ch in socket.gethostname())
        self.root = f"debugtool-bundle-{host}-{stamp}"
        self.archive = Archive(self.root, int(self.created_at))
        self.containers: list[tuple[Container, str]] = []  # (container, folder)
        self.redactor = new_redactor(options.redact_rules)
        self.step = Step(self.redactor)
        self.cuts: list[dict[str, Any]] = []  # what the per-source caps cut
        self.pseudonyms: Any = None  # pseudonyms.Pseudonyms with --pseudonymise
        self.index: collectors.HostIndex | None = None
        self._bulk: _Bulk | None = None
        self.exited: set[str] = set()  # ids of containers that exited during the capture
        #: ids of containers that were not running when the capture began (files from storage)
        self.stopped: set[str] = set()
        self.aborted = False  # a second signal came: stop now, write nothing
        self.dest: Destination | None = None

    # -- running collectors -----------------------------------------------------------------
    def run_collector(
        self,
        name: str,
        fn: Callable[..., dict[str, bytes]],
        *args: Any,
        container: str | None = None,
        priority: int = manifest.PRIORITY_HOST,
        timeout: float | None = None,
    ) -> bool:
        """Run one collector in a daemon thread with a timeout; record its outcome.

        Returns whether it succeeded. Never raises: every failure becomes a record.
        """
        result = manifest.CollectorResult(name, container)
        if self.stop.is_set():
            result.status, result.error = manifest.SKIPPED, self._stop_reason()
            self.cap.finish(0, result, {}, priority)
            return False
        remaining = self.budget_ends - time.monotonic()
        if remaining <= 0:
            self.budget_hit = True
            result.status = manifest.SKIPPED
            result.error = f"the bundle's time budget ({self.options.budget:g}s) was used up first"
            self.cap.finish(0, result, {}, priority)
            return False
        limit = min(timeout or self.options.collector_timeout, remaining)
        ctx = collectors.CollectorRun()
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
                result.status, result.error = manifest.SKIPPED, self._stop_reason()
            else:
                result.status = manifest.TIMEOUT
                result.error = f"did not finish within {limit:.3g}s"
                if limit < (timeout or self.options.collector_timeout):
                    self.budget_hit = True
                    result.error += " (cut by the bundle's time budget)"
        elif isinstance(outcome.error, collectors.NothingToCollect):
            result.status, result.error = manifest.SKIPPED, outcome.error.for_people()
        elif isinstance(outcome.error, DebugtoolError):
            result.status, result.error = manifest.ERROR, outcome.error.for_people()
        elif outcome.error is not None:  # a collector bug becomes a record
            result.status = manifest.ERROR
            result.error = f"{type(outcome.error).__name__}: {outcome.error}"
        else:
            files = outcome.value or {}
            if ctx.truncated:
                result.status, result.error = manifest.TRUNCATED, ctx.truncated
            with self.cap.lock:
                self.cuts += ctx.cuts
        try:
            files = self._first_pass(files)
        except Exception as exc:  # noqa: BLE001 - a redactor bug costs this collector's files, never the bundle
            files = {}  # never kept unredacted
            result.status = manifest.ERROR
            result.error = (
                f"its files were left out: redaction failed ({type(exc).__name__}: {exc})"
            )
        self.cap.finish(key, result, files, priority)
        return result.status in (manifest.OK, manifest.TRUNCATED)

    def _first_pass(self, files: dict[str, bytes]) -> dict[str, bytes]:
        """Redact a collector's files by structure and pattern, in the worker that collected
        them, so this work overlaps the cgroup sampling window instead of following it."""
        if not self.options.redact:
            return files
        return {rel: self.step.first(rel, data) for rel, data in files.items()}

    def _stop_reason(self) -> str:
        return f"interrupted ({self.interrupted}) before it finished"

    # -- the capture ------------------------------------------------------------------------
    def run(self) -> Summary:
        """Collect, redact, write and verify the bundle; return what was written."""
        restore = self._install_signals()
        try:
            # Checked first, so a destination that cannot be written costs no capture.
            dest = Destination.choose(
                self.options.output, f"{self.root}.tar.gz", self.options.force
            )
            if self.options.pseudonymise:
                self.pseudonyms = _pseudonyms(self.options, dest.path)
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
        from debugtool.source import LiveSource
        from debugtool.target import find

        # Discovery runs in a daemon thread so a signal or the budget can cut it short too.
        source = LiveSource(timeout=self.options.runtime_timeout, runtimes=self.options.runtimes)
        asking = deadline.start(source.containers, name="dt-bundle-discover")
        deadline.wait([asking], self.budget_ends, self.stop)
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
        if self.options.all:
            # A restarting container is the one caught in a crash loop: its record, last
            # state and logs are what a support engineer asks for first.
            live = ("running", "paused", "restarting")
            chosen = [c for c in discovery.containers if c.status in live]
        else:
            chosen = []
            for text in self.options.targets:
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
                manifest.CollectorResult("container", container.id),
                self._first_pass(
                    collectors.container_record(collectors.CollectorRun(), folder, container)
                ),
                manifest.PRIORITY_ESSENTIAL,
            )
            if container.status not in ("running", "paused"):
                self.stopped.add(container.id)
                continue
            try:
                targets[container.id] = pin(container)
            except DebugtoolError as exc:
                if isinstance(exc, ContainerGone):
                    self.exited.add(container.id)  # listed running, gone before it was pinned
                result = manifest.CollectorResult(
                    "pin", container.id, manifest.ERROR, error=exc.for_people()
                )
                self.cap.finish(0, result, {}, manifest.PRIORITY_ESSENTIAL)
        try:
            self.index = collectors.HostIndex()
            self._run_jobs(discovery, targets)
            # A container killed mid-capture left part of its data from before and part from
            # after: the bundle must say so, not that it ran (its pidfd tells, see Target.alive).
            self.exited.update(cid for cid, target in targets.items() if not target.alive())
        finally:
            for target in targets.values():
                target.close()

    def _run_jobs(self, discovery: Discovery, targets: dict[str, Target]) -> None:
        o = self.options
        jobs: queue.Queue[Callable[[], None]] = queue.Queue()
        asked = {
            "targets": o.targets,
            "all": o.all,
            "since": o.since,
            "log_lines": o.log_lines,
            "timeout": o.collector_timeout,
            "budget": o.budget,
            "max_size": o.max_size,
            "max_log_bytes": o.max_log_bytes,
            "redact": o.redact,
            "redact_rules": list(o.redact_rules.sources) if o.redact_rules else [],
            "pseudonymise": o.pseudonymise,
        }
        daemon_timeout = min(o.collector_timeout, o.runtime_timeout)
        docker_answered = "docker" in discovery.runtimes
        host_jobs: list[tuple[str, Callable[..., dict[str, bytes]], tuple[Any, ...], int]] = [
            (name, fn, args, manifest.PRIORITY_HOST)
            for name, fn, args in (
                ("host/debugtool", collectors.host_debugtool, (o.command_line, asked)),
                ("host/discovery", collectors.host_discovery, (discovery,)),
                ("host/kernel", collectors.host_kernel, ()),
                ("host/os-release", collectors.host_os_release, ()),
                ("host/cgroups", collectors.host_cgroups, ()),
                ("host/audit", collectors.host_audit, ([c for c, _ in self.containers],)),
                ("host/runtimes", collectors.host_runtimes, (daemon_timeout, docker_answered)),
            )
        ]
        # What a support engineer asks for next: kernel log, journals, configs, Docker's info
        # and events, df, sysctls, netfilter, listening sockets, the host's resources.
        host_jobs += hostdata.jobs(
            o.collector_timeout, daemon_timeout, docker_answered, o.since, o.max_log_bytes
        )
        total = len(self.containers)
        finished = [0]
        lock = threading.Lock()

        def container_job(container: Container, folder: str) -> Callable[[], None]:
            def job() -> None:
                cid = container.id
                runtime = discovery.runtime(container.runtime)
                target = targets.get(cid)
                self.run_collector(
                    "inspect",
                    collectors.inspect,
                    folder,
                    container,
                    runtime,
                    container=cid,
                    priority=manifest.PRIORITY_INSPECT,
                )
                if target is not None:
                    self.run_collector(
                        "snapshot",
                        collectors.snapshot_files,
                        folder,
                        target,
                        self.index,
                        container=cid,
                        priority=manifest.PRIORITY_SNAPSHOT,
                    )
                    self.run_collector(
                        "raw",
                        collectors.raw_files,
                        folder,
                        target,
                        self.index,
                        container=cid,
                        priority=manifest.PRIORITY_RAW,
                    )
                    self.run_collector(
                        "files",
                        collectors.container_files,
                        folder,
                        target.root,
                        container=cid,
                        priority=manifest.PRIORITY_RAW,
                    )
                else:
                    why = "the container is not running" + (
                        " (or could not be pinned)" if container.running else ""
                    )
                    for name in ("snapshot", "raw"):
                        rec = manifest.CollectorResult(name, cid, manifest.SKIPPED, error=why)
                        self.cap.finish(0, rec, {}, manifest.PRIORITY_RAW)
                    if not container.running:
                        # Stopped: no process, but its files are in its runtime's storage.
                        self.run_collector(
                            "files",
                            collectors.stopped_files,
                            folder,
                            container,
                            o.runtime_timeout,
                            container=cid,
                            priority=manifest.PRIORITY_RAW,
                        )
                self.run_collector(
                    "logs",
                    collectors.logs,
                    folder,
                    container,
                    runtime,
                    o.log_lines,
                    o.since,
                    o.max_log_bytes,
                    container=cid,
                    priority=manifest.PRIORITY_LOGS,
                )
                with lock:
                    finished[0] += 1
                    count = finished[0]
                if o.progress:
                    o.progress(count, total)

            return job

        for name, fn, args, priority in host_jobs:
            jobs.put(functools.partial(self._host, name, fn, args, priority))
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
        until = self.budget_ends + 1.0
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
            self.cap.seal(manifest.SKIPPED, self._stop_reason())
        elif self.budget_hit:
            self.cap.seal(manifest.TIMEOUT, f"cut by the bundle's time budget ({o.budget:g}s)")
        else:
            self.cap.seal(manifest.SKIPPED, "not finished")
        # Containers whose jobs never started are recorded as skipped.
        done = {(r.container, r.name) for r in self.cap.results}
        for container, _ in self.containers:
            for name in ("inspect", "snapshot", "raw", "files", "logs", "cgroup-samples"):
                if (container.id, name) not in done:
                    if name == "cgroup-samples" and container.id not in targets:
                        reason = "the container is not running"
                    elif self.stop.is_set():
                        reason = self._stop_reason()
                    else:
                        reason = f"the bundle's time budget ({o.budget:g}s) was used up first"
                    self.cap.results.append(
                        manifest.CollectorResult(name, container.id, manifest.SKIPPED, error=reason)
                    )

    def _host(
        self, name: str, fn: Callable[..., dict[str, bytes]], args: tuple[Any, ...], priority: int
    ) -> None:
        self.run_collector(name, fn, *args, priority=priority)

    def _sampler(self, targets: dict[str, Target]) -> None:
        """Sample every container's cgroup in one shared window (so rates are visible)."""
        folders = dict((c.id, f) for c, f in self.containers)
        o = self.options
        key = self.cap.begin("cgroup-sampler", None)
        start = time.monotonic()
        taken, errors = collectors.sample_cgroups(
            targets, o.samples, o.sample_interval, self.stop, self.index
        )
        duration = time.monotonic() - start
        self.cap.finish(
            key, manifest.CollectorResult("cgroup-sampler", None, duration=duration), {}, 0
        )
        for cid in targets:
            result = manifest.CollectorResult("cgroup-samples", cid, duration=duration)
            files: dict[str, bytes] = {}
            if taken.get(cid):
                files[f"{folders[cid]}/cgroup-samples.json"] = collectors.dumps(taken[cid])
            if cid in errors:
                result.status = manifest.TRUNCATED if taken.get(cid) else manifest.ERROR
                result.error = errors[cid]
            self.cap.finish(0, result, self._first_pass(files), manifest.PRIORITY_SAMPLES)

    # -- writing ----------------------------------------------------------------------------
    def _prepare_bulk(self) -> _Bulk | None:
        """Redact (second pass), stage, tar and gzip the files gathered so far, as one gzip
        member that the final archive will hold after its manifest, redactions and report."""
        if self.options.max_size is not None or self.pseudonyms is not None:
            # --max-size may drop any of them, and pseudonyms are known only once every
            # file is in: build the archive in one go.
            return None
        with self.cap.lock:
            files = dict(self.cap.files)
        secrets = frozenset(self.redactor.secrets)
        if self.options.redact:
            files = {rel: self.step.second(rel, data) for rel, data in files.items()}
        # Not the last part: the end-of-archive blocks come after the last member, in the tail.
        data = self.archive.part(files, last=False)
        return _Bulk(files, secrets, data)

    def _bulk_usable(self) -> bool:
        bulk = self._bulk
        if bulk is None or self.options.max_size is not None or self.pseudonyms is not None:
            return False
        if self.options.redact and frozenset(self.redactor.secrets) != bulk.secrets:
            return False  # a later file found a new secret: every file needs the second pass
        return all(rel in self.cap.files for rel in bulk.files)

    def _write_with_bulk(self, dest: Destination) -> Summary:
        """Write the archive as three gzip members: head (manifest, redactions, report), the
        bulk prepared during the sampling window, and the tail (the files gathered since)."""
        bulk = self._bulk
        assert bulk is not None
        rest = {rel: d for rel, d in self.cap.files.items() if rel not in bulk.files}
        redactions: list[dict[str, Any]] = []
        if self.options.redact:
            rest = {rel: self.step.second(rel, data) for rel, data in rest.items()}
            redactions = self.redactor.report()
        files = {**bulk.files, **rest}
        extra = self._extras(files, redactions, [])
        document = json.dumps(self._manifest({**files, **extra}, []), indent=1).encode()
        head = self.archive.part({manifest.MANIFEST: document, **extra}, last=False)
        archive = b"".join((head, bulk.gz, self.archive.part(rest)))
        replaced = self._publish(dest, archive)
        return self._summary(dest, len(archive), replaced, self.cap.results, redactions, [])

    def _publish(self, dest: Destination, archive: bytes) -> bool:
        """Leak-scan the archive, then hand it to ``dest``; return whether a file was replaced.

        A signal while it is linked into place (``dest.committing``) is ignored (see
        ``_install_signals``): the bundle is then whole, and is reported as written.
        """
        if self.options.redact:
            self._leak_scan(archive)
        if self.pseudonyms is not None:
            from debugtool.bundle import pseudonyms

            pseudonyms.check(self.pseudonyms, archive)
            self.pseudonyms.bundles.append(os.path.basename(dest.path))
            self.pseudonyms.save(self.options.pseudonym_map or "")
        self.dest = dest
        return dest.publish(archive)

    def _summary(
        self,
        dest: Destination,
        size: int,
        replaced: bool,
        results: list[manifest.CollectorResult],
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
            not_ok=[r.to_dict() for r in results if r.status != manifest.OK],
            redactions=sum(r["count"] for r in redactions),
            dropped=dropped,
            pseudonym_map=self.options.pseudonym_map or "" if self.pseudonyms else "",
            redaction_seconds=self.step.seconds,
        )

    def _write(self, dest: Destination) -> Summary:
        if self._bulk_usable():
            return self._write_with_bulk(dest)
        self._bulk = None
        files = dict(self.cap.files)
        redactions: list[dict[str, Any]] = []
        if self.options.redact:
            # The first pass ran as each collector finished (_first_pass); the second masks,
            # everywhere, the values that any file's first pass found.
            files = {rel: self.step.second(rel, data) for rel, data in files.items()}
            redactions = self.redactor.report()
        dropped: list[dict[str, Any]] = []
        priority = self.cap.priority
        if self.pseudonyms is not None:
            files, redactions = self._pseudonymise(files, redactions)
            priority = {self.pseudonyms.text(rel): p for rel, p in priority.items()}
        results = self.cap.results
        order = sorted(files, key=lambda rel: (priority.get(rel, 0), -len(files[rel]), rel))
        estimate = {rel: len(zlib.compress(data, 1)) for rel, data in files.items()}
        limit = self.options.max_size

        def droppable() -> bool:
            return bool(order) and priority.get(order[0], 0) < manifest.PRIORITY_ESSENTIAL

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
            members = {**files, **extra}
            document = json.dumps(self._manifest(members, dropped), indent=1).encode()
            archive = self.archive.part({manifest.MANIFEST: document, **members})
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
        results: list[manifest.CollectorResult],
    ) -> None:
        data = files.pop(rel)
        dropped.append({"file": rel, "size": len(data), "reason": "--max-size"})
        index = self.cap.owner.get(rel)
        if index is not None and index < len(results):
            result = results[index]
            if result.status == manifest.OK:
                result.status = manifest.TRUNCATED
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
            "redacted": self.options.redact,
            "note": "rule, file and count of each masked value; the values are not recorded",
            "redactions": redactions,
        }
        if self.pseudonyms is not None:
            red["pseudonymised"] = self.pseudonyms.counts()
        extra = {manifest.REDACTIONS: json.dumps(red, indent=1).encode()}
        document = self._manifest({}, dropped)
        html = report.render(document, {**files, **extra})
        if self.options.redact:
            html = self.step.second(manifest.REPORT, html)
        if self.pseudonyms is not None:
            html = self.pseudonyms.data(html)
        extra[manifest.REPORT] = html
        return extra

    def _manifest(self, members: dict[str, bytes], dropped: list[dict[str, Any]]) -> dict[str, Any]:
        """Return the manifest for ``members``, its command line and error texts redacted."""
        folders = dict((c.id, f) for c, f in self.containers)
        document = manifest.build(
            root=self.root,
            created_at=self.created_at,
            host=socket.gethostname(),
            complete=self._complete(),
            interrupted=self.interrupted,
            command_line=self.options.command_line,
            redacted=self.options.redact,
            budget=self.options.budget,
            collector_timeout=self.options.collector_timeout,
            duration=time.monotonic() - self.started,
            containers=[
                manifest.container_record(
                    c,
                    folders[c.id].removeprefix("containers/"),
                    c.id in self.exited,
                    not_running=c.id in self.stopped,
                )
                for c, _ in self.containers
            ],
            collectors=self.cap.results,
            dropped=dropped,
            members=members,
            cuts=sorted(self.cuts, key=lambda c: c["source"]),
            redaction=self.step.cost(time.monotonic() - self.started),
        )
        if self.options.redact:
            # The command line and error texts can carry secrets too.
            document["command_line"] = self.redactor.data(
                document["command_line"], manifest.MANIFEST
            )
            for record in document["collectors"]:
                if record["error"]:
                    record["error"] = self.redactor.known(
                        self.redactor.text(record["error"], manifest.MANIFEST), manifest.MANIFEST
                    )
        if self.pseudonyms is not None:
            from debugtool.bundle import pseudonyms

            document = pseudonyms.manifest(self.pseudonyms, document)
        return document

    def _pseudonymise(
        self, files: dict[str, bytes], redactions: list[dict[str, Any]]
    ) -> tuple[dict[str, bytes], list[dict[str, Any]]]:
        """Learn the bundle's hosts, addresses and users, then replace them in every file and
        file name (and in the root folder's name, which holds the host's)."""
        from debugtool.bundle import pseudonyms

        mapper = self.pseudonyms
        start = time.thread_time()
        mapper.learn_bundle(files, socket.gethostname())
        with contextlib.suppress(OSError):
            with open("/etc/passwd", encoding="utf-8", errors="replace") as f:
                mapper.learn_passwd(f.read(1 << 20))
        self.containers = [(c, mapper.text(folder)) for c, folder in self.containers]
        self.cap.owner = {mapper.text(rel): i for rel, i in self.cap.owner.items()}
        for result in self.cap.results:
            result.files = [mapper.text(rel) for rel in result.files]
        self.root = pseudonyms.root(mapper, self.root)
        self.archive = Archive(self.root, self.archive.mtime)
        files = mapper.members(files)
        self.step.seconds += time.thread_time() - start  # part of what redaction costs
        return files, pseudonyms.report(mapper, redactions)

    def _leak_scan(self, archive: bytes) -> None:
        """Fail (and write no archive) if any redacted value appears in any member."""
        leaks.scan(archive, self.redactor.leak_needles())


@record
class _Bulk:
    """Files redacted, tarred and gzip-compressed while the sampler still waited."""

    files: dict[str, bytes]  # their final (redacted) content
    secrets: frozenset[str]  # the redactor's values when they were redacted
    gz: bytes  # one gzip member: their tar headers and data, no end-of-archive blocks


def _pseudonyms(options: Options, path: str) -> Any:
    """The mapping for --pseudonymise: the one in --pseudonym-map (or beside the bundle) to
    extend, or a new one. Standard output has no "beside": the map must be named."""
    from debugtool.bundle import pseudonyms

    if not options.pseudonym_map:
        if path == "-":
            raise UsageError(
                "--pseudonymise with -o - needs --pseudonym-map FILE (the mapping is never "
                "put in the bundle).",
                "Name a local file for the mapping with --pseudonym-map.",
            )
        options.pseudonym_map = pseudonyms.default_map_path(path)
    return pseudonyms.Pseudonyms.load(options.pseudonym_map, options.pseudonymise)


def capture(options: Options) -> Summary:
    """Capture a bundle with ``options``; return its summary. Raises ``BundleError``,
    ``UsageError`` or a target-resolution error (``ContainerNotFound``, ...)."""
    if not options.all and not options.targets:
        raise UsageError(
            "no container given.", "Name one or more containers, or use --all for every one."
        )
    return Capture(options).run()


__all__ = ["Capture", "Options", "Summary", "capture", "folder_name"]
