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
- podman: every run appends to one k8s-file log too, and podman's own events file (the
  ``file`` events logger: ``/run/libpod/events/events.log`` for root,
  ``$XDG_RUNTIME_DIR/libpod/tmp/events/events.log`` for a rootless user, or containers.conf's
  ``events_logfile_path``) records each run's ``died``, written by podman's cleanup after
  conmon has copied the run's last output. The boundaries are those, as Docker's ``die``.
  With the ``journald`` events logger the events are in the journal, which this does not
  read: one sentence.
- runc, crun and bare sandboxes keep no log at all: one sentence.
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
        return podman_previous(container, timeout, warn)
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
    from debugtool.runtimes.docker import FROM_STATE_FILES

    name = f"{container.name} ({container.short_id})"
    started = _latest_start(container)
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
        _say(warn, "Docker's events could not be read, so these are", container)
        return WindowLog(log, None, started - 1)
    return _run_before(log, events, container, "Docker keeps its last 256 events", warn)


def _latest_start(container: Container) -> int:
    """Return when ``container``'s latest run started, in nanoseconds. Raises ``NoLog``."""
    if not container.started_at:
        raise NoLog(
            f"{container.name} ({container.short_id}) has never run, so it has no previous run."
        )
    return int(container.started_at * 1_000_000_000)


def _say(warn: Callable[[str], None] | None, why: str, container: Container) -> None:
    """Warn that the lines are every line before the latest run, ``why`` first."""
    from debugtool.output import utc_text

    if warn is not None:
        warn(
            f"{why} all the lines logged before the latest run started "
            f"({utc_text(container.started_at)}), earlier runs' too."
        )


def _run_before(
    log: Log,
    events: list[tuple[str, int]],
    container: Container,
    memory: str,
    warn: Callable[[str], None] | None,
) -> Log:
    """Return the window of ``log`` that the runtime's ``create`` and ``die`` ``events`` give
    for the run before the latest. ``memory`` says how far back the events go, for a warning
    when they do not reach the run's beginning ("Docker keeps its last 256 events")."""
    from debugtool.output import utc_text

    name = f"{container.name} ({container.short_id})"
    started = _latest_start(container)
    after, until, complete = previous_window(events, started)
    if until is None:
        if complete:
            raise NoLog(
                f"{name} has no previous run: its only run started at "
                f"{utc_text(container.started_at)}."
            )
        _say(
            warn,
            f"The events no longer reach back to this container's earlier runs ({memory}), "
            "so these are",
            container,
        )
        return WindowLog(log, None, started - 1)
    if not complete and warn is not None:
        warn(
            f"The events no longer reach back to where the previous run began ({memory}), so "
            "lines of earlier runs may come first."
        )
    return WindowLog(log, after, until)


# --- podman ----------------------------------------------------------------------------------

#: How much of the end of podman's events file is read: the latest runs' events are there.
EVENTS_TAIL = 16 << 20


def podman_previous(
    container: Container, timeout: float, warn: Callable[[str], None] | None
) -> Log:
    """Return the lines of a podman container's run before its latest, bounded by the
    ``died`` events in podman's events file. Raises ``NoLog``."""
    from debugtool.logs.sources import podman_log

    _latest_start(container)
    path, why = podman_events_file(container)
    if path is None:
        raise NoLog(
            f"{why}, so the previous run's lines of {container.name} ({container.short_id}) "
            "cannot be told from the others in its one log.",
            "'debugtool logs -t' shows them all with their times; 'debugtool inspect' says "
            "when the latest run started.",
        )
    events, whole = podman_events(path, container.id)
    log = podman_log(container, timeout)
    memory = (
        f"debugtool reads the last {EVENTS_TAIL >> 20} MiB of podman's events file"
        if not whole
        else "podman's events file was rotated or cleared since"
    )
    return _run_before(log, events, container, memory, warn)


def podman_events_file(container: Container) -> tuple[str | None, str]:
    """Return the path of the events file podman writes for ``container``'s owner, or None
    and why there is none to read (the journald events logger, no file)."""
    import pwd

    conf: dict[str, str] = {}
    home = ""
    tmp = "/run/libpod"
    if container.owner:
        try:
            user = pwd.getpwnam(container.owner)
        except KeyError:
            return None, f"user {container.owner}, who owns it, no longer exists"
        home, tmp = user.pw_dir, f"/run/user/{user.pw_uid}/libpod/tmp"
    for found in _containers_confs(home):
        conf.update(found)
    logger = conf.get("events_logger", "")
    if logger == "journald" or (not logger and os.path.exists("/run/systemd/journal/socket")):
        return None, "podman keeps its events in the journal here (events_logger), not in a file"
    if logger == "none":
        return None, 'podman keeps no events here (events_logger = "none")'
    path = conf.get("events_logfile_path") or f"{tmp}/events/events.log"
    if not os.path.exists(path):
        return None, f"podman's events file {path} is not there"
    return path, ""


def _containers_confs(home: str) -> list[dict[str, str]]:
    """Return the ``[engine]`` events settings of each containers.conf podman reads, in the
    order it reads them (later ones win): the system's, then the user's for a rootless one."""
    import glob

    paths = ["/usr/share/containers/containers.conf", "/etc/containers/containers.conf"]
    paths += sorted(glob.glob("/etc/containers/containers.conf.d/*.conf"))
    if home:
        paths.append(f"{home}/.config/containers/containers.conf")
        paths += sorted(glob.glob(f"{home}/.config/containers/containers.conf.d/*.conf"))
    found = []
    for path in paths:
        data = _regular_file(path, 1 << 20)
        if data is None:
            continue
        try:
            import tomllib

            engine = tomllib.loads(data.decode("utf-8")).get("engine")
        except (UnicodeDecodeError, ValueError):
            continue  # podman itself refuses a broken file; nothing to learn from it
        if isinstance(engine, dict):
            found.append(
                {
                    k: v
                    for k in ("events_logger", "events_logfile_path")
                    if isinstance(v := engine.get(k), str)
                }
            )
    return found


def _regular_file(path: str, limit: int, tail: bool = False) -> bytes | None:
    """Return up to ``limit`` bytes of a regular file (its end when ``tail``), or None when
    it is not one or cannot be read. A FIFO or a device named here (a rootless user's own
    containers.conf may name anything) is never read."""
    from debugtool.logs.files import open_regular

    try:
        with open_regular(path) as f:
            size = os.fstat(f.fileno()).st_size
            if tail and size > limit:
                f.seek(size - limit)
            return f.read(limit)  # one read: a regular file gives all it has up to limit
    except OSError:
        return None


def podman_events(path: str, cid: str) -> tuple[list[tuple[str, int]], bool]:
    """Return the ``create`` and ``died`` (as ``die``) events of container ``cid`` in podman's
    events file as ``(action, nanoseconds)``, oldest first, and whether the whole file was
    read (False: only its last ``EVENTS_TAIL`` bytes)."""
    from debugtool import jsonc

    data = _regular_file(path, EVENTS_TAIL + 1, tail=True) or b""
    whole = len(data) <= EVENTS_TAIL
    events = []
    needle = cid.encode()
    for line in data.split(b"\n"):
        if needle not in line:
            continue  # most lines are other containers': no JSON decoding for them
        try:
            event = jsonc.loads(line.decode("utf-8", "replace"))
        except ValueError:
            continue  # the first line of a tail read is cut
        if not isinstance(event, dict) or event.get("ID") != cid:
            continue
        status, when = event.get("Status"), event.get("Time")
        if status in ("create", "died") and isinstance(when, str):
            nanos = parse_time(when)
            if nanos is not None:
                events.append(("die" if status == "died" else "create", nanos))
    events.sort(key=lambda e: e[1])
    return events, whole
