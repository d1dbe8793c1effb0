"""The previous run's log (``logs --previous``): what a container wrote before its latest run.

- CRI (containerd under Kubernetes): the kubelet gives each attempt its own file,
  ``<pod log directory>/<container>/<attempt>.log``, and keeps the previous one; the previous
  attempt's is the highest number below the current one.
- Docker: every run of a container appends to one log, and no line says which run wrote it.
  The boundaries are dockerd's ``die`` events of the container: dockerd waits for a run's
  output to be copied into the log before it records the run's end and sends ``die``, and
  starts the next run only after that, so the previous run's lines are those logged after
  the ``die`` of the run before it and at or before its own ``die``. ``State.StartedAt``
  alone would not do: dockerd sets it after the process has started, and a process that
  prints at once has its first line logged before its run's ``StartedAt`` (seen here: a
  line 2 ms before the start). dockerd remembers its last 256 events only; when the run
  before the previous one is out of that memory, the lines are those up to the previous
  run's end, and a warning says earlier runs' may come first.
- podman writes every run to one log with no record of where each began; runc, crun and bare
  sandboxes keep no log at all: one sentence each.
"""

from __future__ import annotations

import os

from debugtool.errors import RuntimeUnavailable
from debugtool.logs.formats import CriDecoder, parse_time
from debugtool.logs.sources import FileLog, Log, NoLog

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Generator

    from debugtool.logs.formats import LogLine
    from debugtool.model import Container
    from debugtool.source import Source


class WindowLog(Log):
    """The lines of another log written after ``after`` and at or before ``until`` (both
    nanoseconds since the epoch; ``after`` None: from the log's start)."""

    def __init__(self, log: Log, after: int | None, until: int) -> None:
        self.log = log
        self.after = after
        self.until = until
        self.where = f"{log.where}, one run's lines"

    def read(
        self,
        tail: int | None = None,
        since: int | None = None,
        follow: bool = False,
        alive: Callable[[], bool] | None = None,
    ) -> Generator[list[LogLine], None, None]:
        start = self.after + 1 if self.after is not None else None
        if since is not None:
            start = since if start is None else max(start, since)
        kept: list[LogLine] = []
        for batch in self.log.read(None, start):
            kept += [line for line in batch if self._before_end(line)]
        if tail is not None:
            kept = kept[-tail:] if tail else []
        if kept:
            yield kept

    def _before_end(self, line: LogLine) -> bool:
        when = parse_time(line.time) if line.time else None
        return when is None or when <= self.until


def previous_log(
    source: Source,
    container: Container,
    timeout: float = 2.0,
    warn: Callable[[str], None] | None = None,
) -> Log:
    """Return the log of ``container``'s previous run (CRI attempt).

    Raises ``NoLog`` with one sentence when there is no previous run, or when its runtime
    keeps no record of one; ``RuntimeUnavailable``.
    """
    name = f"{container.name} ({container.short_id})"
    if not source.live:
        raise NoLog(
            f"a bundle keeps {name}'s log as it was captured, not run by run.",
            "Leave out --previous to read it, or run 'debugtool logs --previous' on the host.",
        )
    if container.runtime == "containerd":
        return cri_previous(container)
    if container.runtime == "docker":
        return docker_previous(container, timeout, warn)
    if container.runtime == "podman":
        raise NoLog(
            f"podman writes every run of {name} to one log and keeps no record of where each "
            "began, so the previous run's lines cannot be told from the others.",
            "'debugtool logs -t' shows them all with their times; 'debugtool inspect' says "
            "when the latest run started.",
        )
    raise NoLog(
        f"{container.runtime} keeps no log of {name}, of this run or of the previous one.",
        "'debugtool logs' says where its output goes.",
    )


# --- CRI -------------------------------------------------------------------------------------


def cri_previous(container: Container) -> FileLog:
    """Return the previous attempt's ``N.log`` of a CRI container. Raises ``NoLog``."""
    name = f"{container.name} ({container.short_id})"
    path = str((container.metadata.get("containerd") or {}).get("log_path") or "")
    folder, _, current = path.rpartition("/")
    number = current.removesuffix(".log")
    if not (path and current.endswith(".log") and number.isdigit()):
        raise NoLog(
            f"{name} is not a Kubernetes container with a log file per attempt, so containerd "
            "keeps no previous run's log of it.",
        )
    attempt = int(number)
    try:
        names = os.listdir(folder)
    except OSError:
        names = []
    earlier = [
        int(n[:-4])
        for n in names
        if n.endswith(".log") and n[:-4].isdigit() and int(n[:-4]) < attempt
    ]
    if not earlier:
        if attempt == 0:
            raise NoLog(f"{name} has no previous run: this is its first attempt (0).")
        raise NoLog(
            f"the log of {name}'s previous attempt is no longer in {folder} (the kubelet "
            f"keeps one attempt before the current, {attempt}).",
        )
    found = f"{folder}/{max(earlier)}.log"
    return FileLog(found, CriDecoder, f"the CRI log file of attempt {max(earlier)}, {found}")


# --- Docker ----------------------------------------------------------------------------------


def docker_events(container: Container, timeout: float) -> list[tuple[str, int]]:
    """Return dockerd's remembered ``create``, ``start`` and ``die`` events of ``container`` as
    ``(action, nanoseconds)``, oldest first. Raises ``RuntimeUnavailable``."""
    import time

    from debugtool import jsonc
    from debugtool.runtimes.dockerapi import DockerAPI

    filters = {"container": [container.id], "type": ["container"], "event": ["create", "die"]}
    since = int(container.created or 0) - 1
    query = {
        "since": str(max(since, 0)),
        "until": f"{time.time():.9f}",  # an end, so the answer ends too
        "filters": jsonc.dumps(filters),
    }
    status, data = DockerAPI(timeout=timeout).request("GET", "/events", query)
    if status >= 300:
        raise RuntimeUnavailable("docker", f"GET /events answered {status}")
    events = []
    for text in data.decode(errors="replace").splitlines():
        try:
            event = jsonc.loads(text)
        except ValueError:
            continue
        if not isinstance(event, dict) or event.get("id") != container.id:
            continue
        action, when = event.get("Action") or event.get("status"), event.get("timeNano")
        if isinstance(action, str) and type(when) is int:
            events.append((action, when))
    events.sort(key=lambda e: e[1])
    return events


def previous_window(
    events: list[tuple[str, int]], started: int
) -> tuple[int | None, int | None, bool]:
    """Return ``(after, until, complete)`` for the run before the one that started at
    ``started``: its lines are those logged after ``after`` (None: from the log's start) and
    at or before ``until``. ``until`` is None when the events show no run before it;
    ``complete`` is False when they do not reach back to where that run began."""
    dies = [when for action, when in events if action == "die" and when < started]
    created = any(action == "create" for action, _ in events)
    if not dies:
        return None, None, created
    if len(dies) >= 2:
        return dies[-2], dies[-1], True
    return None, dies[-1], created


def docker_previous(
    container: Container, timeout: float, warn: Callable[[str], None] | None
) -> Log:
    """Return the lines of a Docker container's run before its latest. Raises ``NoLog``."""
    from debugtool.logs.sources import DockerLog, docker_file_log
    from debugtool.output import utc_text
    from debugtool.runtimes.docker import FROM_STATE_FILES

    name = f"{container.name} ({container.short_id})"
    if not container.started_at:
        raise NoLog(f"{name} has never run, so it has no previous run.")
    started = int(container.started_at * 1_000_000_000)
    from_files = (container.metadata.get("docker") or {}).get("source") == FROM_STATE_FILES
    log: Log
    if from_files:
        found = docker_file_log(container)
        if found is None:
            raise RuntimeUnavailable(
                "docker", f"does not answer, and {name} has no json-file log on disk"
            )
        log = found
        events: list[tuple[str, int]] | None = None
    else:
        log = DockerLog(container, timeout, warn)
        try:
            events = docker_events(container, timeout)
        except RuntimeUnavailable:
            events = None
    if events is None:
        if warn is not None:
            warn(
                "Docker's events could not be read, so these are all the lines logged before "
                f"the latest run started ({utc_text(container.started_at)}), earlier runs' too."
            )
        return WindowLog(log, None, started - 1)
    after, until, complete = previous_window(events, started)
    if until is None:
        if complete:
            raise NoLog(
                f"{name} has no previous run: its only run started at "
                f"{utc_text(container.started_at)}."
            )
        if warn is not None:
            warn(
                "Docker no longer remembers this container's earlier runs (it keeps its last "
                "256 events), so these are all the lines logged before the latest run started "
                f"({utc_text(container.started_at)})."
            )
        return WindowLog(log, None, started - 1)
    if not complete and warn is not None:
        warn(
            "Docker no longer remembers where the previous run began (it keeps its last 256 "
            "events), so lines of earlier runs may come first."
        )
    return WindowLog(log, after, until)
