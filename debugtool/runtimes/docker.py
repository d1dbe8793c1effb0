"""The Docker backend: containers from the Engine API, PIDs from runc's state files.

``GET /containers/json`` says everything ``docker ps`` shows except the PID. Asking
``/containers/{id}/json`` for each running container would cost one more request per container
(about 1.5 ms each here, so 45 ms for 30 containers); runc's state file for the container holds
the PID in its first few hundred bytes, so reading that is a file open per container. The PID is
trusted only when the process's start time matches the one runc recorded; otherwise (another OCI
runtime, a stale file) the container's own inspect answer gives it.
"""

from __future__ import annotations

import builtins
import os
import time

from debugtool import jsonc, procfs
from debugtool.errors import ContainerGone, RuntimeUnavailable
from debugtool.model import Container, Port
from debugtool.runtimes.base import ExecRequest, Runtime, Stdio, ignoring_interrupts
from debugtool.runtimes.dockerapi import DockerAPI, decode, quote
from debugtool.runtimes.liveness import (
    go_time,
    host_pid,
    parse_created,
    proc_stat,
    read_head,
    read_regular,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

OCI_ROOT = "/run/docker/runtime-runc/moby"
DATA_ROOT = "/var/lib/docker"
DAEMON_CONFIG = "/etc/docker/daemon.json"
#: ``Container.metadata["docker"]["source"]`` of a record read from Docker's state files.
FROM_STATE_FILES = "state files"
POD_LABELS = (
    "io.kubernetes.pod.name",
    "io.kubernetes.pod.namespace",
    "io.kubernetes.container.name",
)
#: The characters of a container id (Docker's are 64 hex digits; runc's rule for ids, to be
#: lenient with compatible daemons): never a path, never empty.
_ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.+-"


def valid_id(text: str) -> bool:
    """Return whether ``text`` can be a container id: 1 to 128 of ``_ID_CHARS``, the first a
    letter or digit."""
    return (
        0 < len(text) <= 128 and text.isascii() and text[0].isalnum() and not text.strip(_ID_CHARS)
    )


def _state_head(head: bytes) -> tuple[int, int] | None:
    """Return the init PID and start time at the head of a runc ``state.json`` (they come
    first, as ``"init_process_pid":N,"init_process_start":N``), or None."""
    at = head.find(b'"init_process_pid":')
    if at < 0:
        return None
    pid, sep, rest = head[at + 19 :].partition(b',"init_process_start":')
    start = rest[: len(rest) - len(rest.lstrip(b"0123456789"))]
    if not (sep and pid.isdigit() and start and len(pid) <= 10 and len(start) <= 20):
        return None
    return int(pid), int(start)


#: The largest ``config.v2.json`` read (it holds a container's config and environment).
_MAX_RECORD = 8 << 20
#: A list answer with more bad records than this gets one warning for all of them.
_MAX_RECORD_WARNINGS = 5
_INF = float("inf")
#: The most of one container's log ``logs`` keeps (the end of it): the bundle keeps 8 MiB.
LOG_LIMIT = 32 << 20


def runc_pid(cid: str, root: str = OCI_ROOT) -> int | None:
    """Return the init PID runc recorded for container ``cid``, if that process still runs.

    Reads only the head of ``state.json`` (the PID and start time come first) and checks the
    start time against ``/proc/PID/stat``, so a PID reused after the container died is refused;
    so are PID 1 (the host's init) and kernel threads, whatever the file says.
    """
    if not valid_id(cid):
        return None
    head = read_head(f"{root}/{cid}/state.json", 512)
    if head is None:
        return None
    found = _state_head(head)
    if found is None:
        return None
    pid, start = host_pid(found[0]), found[1]
    seen = proc_stat(pid) if pid is not None else None  # None: gone, let the API answer
    if seen is None or seen.kthread or seen.start != start:
        return None
    return pid


def list_record_problem(item: Any) -> str | None:
    """Return what makes one record of ``GET /containers/json`` unusable, or None if it is fine.

    Docker gives each field one type; a record where one is otherwise (``"Labels": [1, 2]``)
    or whose ``Id`` could not be a container's comes from a broken or hostile daemon, and is
    left out rather than guessed at.
    """
    if not isinstance(item, dict):
        return f"it is a JSON {_kind(item)}, not an object"
    if not isinstance(item.get("Id"), str) or not valid_id(item["Id"]):
        return "it has no container id"
    names = item.get("Names")
    if names is not None and not (
        isinstance(names, list) and all(isinstance(n, str) for n in names)
    ):
        return "Names is not a list of strings"
    labels = item.get("Labels")
    if labels is not None and not (
        isinstance(labels, dict) and all(isinstance(v, str) for v in labels.values())
    ):
        return "Labels is not an object of strings"
    for key in ("Image", "State", "Status"):
        if item.get(key) is not None and not isinstance(item[key], str):
            return f"{key} is not a string"
    created = item.get("Created")
    if created is not None and (type(created) not in (int, float) or not 0 <= created < _INF):
        return "Created is not a time"
    return None


def _kind(value: Any) -> str:
    """Return the JSON name of a decoded value's type (for a sentence about it)."""
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def _published(value: Any) -> list[Port]:
    """Return the published ports of a list answer's ``Ports`` (a list) or of a record's
    ``NetworkSettings.Ports`` (a mapping). ``runtimes.ports`` is imported only for a container
    that has some: ``ps`` of containers that publish nothing pays nothing for it."""
    if not value:
        return []
    from debugtool.runtimes import ports

    return ports.from_docker_list(value) if isinstance(value, list) else ports.from_inspect(value)


def container_from_list(
    item: dict[str, Any], pid: int | None = None, runc: bool = True
) -> Container:
    """Map one record of ``GET /containers/json`` to a Container (``pid`` comes separately).

    ``runc`` says whether runc under Docker's default root runs it; when another OCI runtime
    does (its PID had to come from inspect), the OCI root is left for containerd's record of
    the container to fill in. ``item`` is one that ``list_record_problem`` accepted.
    """
    names = item.get("Names") or []
    name = names[0].lstrip("/") if names else item.get("Id", "")[:12]
    labels = dict(item.get("Labels") or {})
    pod, pod_ns, k8s_name = (labels.get(k, "") for k in POD_LABELS)
    created = item.get("Created")
    return Container(
        id=item.get("Id", ""),
        name=name,
        runtime="docker",
        image=item.get("Image", ""),
        status=str(item.get("State") or "unknown"),
        pid=pid or None,
        created=float(created) if created else None,
        labels=labels,
        namespace="moby",
        pod=pod,
        pod_namespace=pod_ns,
        k8s_container=k8s_name,
        oci_root=OCI_ROOT if runc else "",
        oci_runtime="runc" if runc else "",
        ports=_published(item.get("Ports")),
        metadata={"docker": item},
    )


def data_root(config: str = DAEMON_CONFIG) -> str:
    """Return Docker's data root: ``data-root`` in daemon.json, else /var/lib/docker."""
    try:
        with open(config, "rb") as f:
            value = jsonc.loads(f.read(1 << 20)).get("data-root")
    except (OSError, ValueError, AttributeError, RecursionError):
        return DATA_ROOT
    return value if isinstance(value, str) and value.startswith("/") else DATA_ROOT


def state_record(cid: str, root: str) -> dict[str, Any] | None:
    """Return Docker's own record of a container (``containers/ID/config.v2.json``), if readable.

    Docker rewrites the file on every state change, so it holds the name, image, labels, log
    path and last known PID even while the daemon hangs.
    """
    if not cid or "/" in cid or cid.startswith("."):
        return None
    try:
        record = jsonc.loads(read_regular(f"{root}/containers/{cid}/config.v2.json", _MAX_RECORD))
    except (OSError, ValueError, RecursionError):  # RecursionError: nested too deeply
        return None
    return record if isinstance(record, dict) else None


#: Where config.v2.json's top-level RestartCount is: a number between the two fields Docker
#: writes around it (labels, the only maps people fill, hold strings: they cannot end so).
_RESTARTS = b',"RestartCount":'
_AFTER_RESTARTS = b',"HasBeenStartedBefore":'


def last_state_record(cid: str, root: str) -> tuple[dict[str, Any], Any] | None:
    """Return ``(State, RestartCount)`` of Docker's record of a container (its
    ``config.v2.json``), or None when it cannot be read.

    ``ps`` reads this for every container, so the rest of the file (the config, the
    environment, the network settings: most of its bytes) is not decoded: dockerd writes
    ``State`` first and ``RestartCount`` between two fields of its own, and only those are
    decoded. A file written otherwise (another Docker version) is decoded whole.
    """
    if not cid or "/" in cid or cid.startswith("."):
        return None
    try:
        data = read_regular(f"{root}/containers/{cid}/config.v2.json", _MAX_RECORD)
    except (OSError, ValueError):
        return None
    at = data.find(b'"State":{', 0, 64)
    count = data.rfind(_RESTARTS)
    end = data.find(_AFTER_RESTARTS, count) if count >= 0 else -1
    digits = data[count + len(_RESTARTS) : end] if end >= 0 else b""
    if at >= 0 and digits.isdigit() and len(digits) <= 10 and f'"ID":"{cid}"'.encode() in data:
        try:
            state, _ = jsonc.raw_decode(data.decode(errors="replace"), at + 8)
        except ValueError:
            state = None
        if isinstance(state, dict):
            return state, int(digits)
    try:
        record = jsonc.loads(data)
    except (ValueError, RecursionError):
        return None
    if not isinstance(record, dict) or record.get("ID") != cid:
        return None
    return _mapping(record.get("State")), record.get("RestartCount")


def _state_pid(cid: str, recorded: Any) -> tuple[int | None, bool]:
    """Return a container's live init PID and whether runc under Docker's root runs it.

    runc's state file is trusted when its start time matches; else the PID Docker recorded,
    only when that process is still in the container's cgroup (whose path holds the id).
    """
    pid = runc_pid(cid)
    if pid is not None:
        return pid, True
    recorded = host_pid(recorded)
    if recorded is None:
        return None, False
    try:
        with open(procfs.path(recorded, "cgroup"), "rb") as f:
            return (recorded if cid.encode() in f.read() else None), False
    except OSError:
        return None, False


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def last_state(state: Any, restart_count: Any) -> dict[str, Any]:
    """Return the last-state fields of a Container from Docker's ``State`` (inspect's, or
    ``config.v2.json``'s: the same names) and its ``RestartCount``.

    Docker sets ``ExitCode`` to 0 and ``OOMKilled`` to false when a run starts, so while one
    runs the last exit is not known (None, False), though ``FinishedAt`` still says when the
    run before it ended. A restarting container (between two runs) is not running: its exit
    code and OOM kill are those of the run that just ended. Values of another type than
    Docker's (a broken or hostile daemon) are left unknown.
    """
    state = _mapping(state)
    started = go_time(state.get("StartedAt"))
    ended = state.get("Running") is not True or state.get("Restarting") is True
    code = state.get("ExitCode")
    known = ended and started is not None and type(code) is int
    return {
        "exit_code": code if known else None,
        "oom_killed": bool(known and state.get("OOMKilled") is True),
        "restart_count": restart_count if type(restart_count) is int else None,
        "started_at": started,
        "finished_at": go_time(state.get("FinishedAt")),
    }


def exit_code_of_status(text: str) -> int | None:
    """Return the exit code in a list answer's ``Status`` (``Exited (3) 5 seconds ago``,
    ``Restarting (3) 1 second ago``), or None."""
    if not text.startswith(("Exited (", "Restarting (")):
        return None
    code = text.partition("(")[2].partition(")")[0]
    return int(code) if code.isdigit() and len(code) <= 10 else None


def container_from_inspect(data: dict[str, Any]) -> Container:
    """Map ``GET /containers/{id}/json`` to a Container (resolving a full id with one request).

    Fields of another type than Docker gives them (a hostile or broken daemon) are left empty.
    """
    state, config = _mapping(data.get("State")), _mapping(data.get("Config"))
    runtime = (_mapping(data.get("HostConfig")).get("Runtime")) or "runc"
    labels = config.get("Labels")
    if not (isinstance(labels, dict) and all(isinstance(v, str) for v in labels.values())):
        labels = {}
    ports = _mapping(data.get("NetworkSettings")).get("Ports")
    if ports:
        from debugtool.runtimes.ports import from_inspect

        ports = from_inspect(ports)
    return Container(
        id=str(data.get("Id", "")),
        name=str(data.get("Name", "")).lstrip("/"),
        runtime="docker",
        image=str(config.get("Image", "")),
        status=str(state.get("Status") or "unknown"),
        pid=host_pid(state.get("Pid")),
        created=parse_created(data.get("Created")),
        labels=dict(labels),
        namespace="moby",
        backends=["docker"],
        oci_root=OCI_ROOT if runtime == "runc" else "",
        oci_runtime=runtime if runtime in ("runc", "crun") else "",
        ports=ports or [],
        metadata={"docker": data},
        **last_state(state, data.get("RestartCount")),
    )


def container_from_state(record: dict[str, Any], pid: int | None, runc: bool = True) -> Container:
    """Map Docker's on-disk record of a container to a Container (``pid`` checked separately).

    ``metadata`` keeps a few fields of what Docker's list answer holds and never the
    environment (``GET /containers/json`` does not give it either); ``inspect`` gives the
    whole record.
    """
    state, config = _mapping(record.get("State")), _mapping(record.get("Config"))
    cid = str(record.get("ID") or "")
    raw_labels = config.get("Labels")
    labels = {str(k): str(v) for k, v in raw_labels.items()} if isinstance(raw_labels, dict) else {}
    pod, pod_ns, k8s_name = (labels.get(k, "") for k in POD_LABELS)
    if pid is None:
        never_started = str(state.get("StartedAt") or "0001-").startswith("0001-")
        status = "dead" if state.get("Dead") else "created" if never_started else "exited"
        if status == "exited" and state.get("Restarting") is True:
            status = "restarting"  # between two runs: no process, and another run to come
    elif state.get("Paused"):
        status = "paused"
    else:
        status = "restarting" if state.get("Restarting") else "running"
    return Container(
        id=cid,
        name=str(record.get("Name") or "").lstrip("/") or cid[:12],
        runtime="docker",
        image=str(config.get("Image") or ""),
        status=status,
        pid=pid,
        created=parse_created(record.get("Created")),
        labels=labels,
        namespace="moby",
        pod=pod,
        pod_namespace=pod_ns,
        k8s_container=k8s_name,
        oci_root=OCI_ROOT if pid and runc else "",
        oci_runtime="runc" if pid and runc else "",
        ports=_published(_mapping(record.get("NetworkSettings")).get("Ports")) if pid else [],
        metadata={
            "docker": {
                "source": FROM_STATE_FILES,
                "Id": cid,
                "Names": [str(record.get("Name") or "")],
                "Image": str(config.get("Image") or ""),
                "State": {k: state.get(k) for k in ("Running", "Paused", "Pid", "StartedAt")},
                "LogPath": record.get("LogPath") or "",
            }
        },
        **last_state(state, record.get("RestartCount")),
    )


def containers_on_disk(
    root: str, all: bool = False, pid_of: Callable[[str, Any], tuple[int | None, bool]] = _state_pid
) -> list[Container] | None:
    """Return the containers in Docker's state files under ``root`` (None without any).

    Used when the daemon does not answer: a container counts as running only when its init
    process still runs (the files are Docker's last word, which may be stale). ``pid_of``
    returns that PID (or None) and whether runc under Docker's root runs it.
    """
    try:
        ids = os.listdir(f"{root}/containers")
    except OSError:
        return None
    found = []
    for cid in ids:
        record = state_record(cid, root)
        if record is None or record.get("ID") != cid:
            continue  # being created or removed, or not a container's directory
        state = _mapping(record.get("State"))
        pid, runc = pid_of(cid, state.get("Pid")) if state.get("Running") else (None, False)
        if pid is not None or all:
            found.append(container_from_state(record, pid, runc))
    return found


def demultiplex(data: bytes) -> bytes:
    """Return the payload of a Docker log stream in stdcopy format (stdout and stderr merged).

    Each frame is an 8-byte header (stream, 3 zero bytes, big-endian length) and its payload.
    A truncated last frame keeps what arrived.
    """
    return log_tail([data], multiplexed=True, limit=len(data))


def log_tail(chunks: Iterable[bytes], multiplexed: bool, limit: int = LOG_LIMIT) -> bytes:
    """Return the last ``limit`` bytes of a log streamed in ``chunks`` (from its first whole
    line when it had to be cut), demultiplexed from stdcopy frames when ``multiplexed``.

    The stream is read as it comes: a log of any length, or a frame header announcing 4 GiB,
    holds at most about twice ``limit`` in memory.
    """
    kept = bytearray()
    cut = False
    header = bytearray()
    left = 0  # payload bytes still to come in the current frame
    for chunk in chunks:
        if not multiplexed:
            kept += chunk
        else:
            view = memoryview(chunk)
            while view:
                if left == 0:
                    need = 8 - len(header)
                    header += view[:need]
                    view = view[need:]
                    if len(header) == 8:
                        left = int.from_bytes(header[4:8], "big")
                        header.clear()
                    continue
                take = view[:left]
                kept += take
                left -= len(take)
                view = view[len(take) :]
        if len(kept) > 2 * limit:
            del kept[: len(kept) - limit]
            cut = True
    if len(kept) > limit:
        del kept[: len(kept) - limit]
        cut = True
    if cut:
        del kept[: kept.find(b"\n") + 1]
    return bytes(kept)


class DockerRuntime(Runtime):
    """Docker Engine containers (the daemon at ``DOCKER_HOST`` or /var/run/docker.sock)."""

    name = "docker"
    richness = 100
    supports_logs = True
    supports_exec = True
    supports_privileged_exec = True

    def api(self) -> DockerAPI:
        return DockerAPI(timeout=self.timeout, name=self.name)

    def present(self) -> bool:
        # A DOCKER_HOST the user set is Docker asked for: if its socket is missing, say so.
        return bool(os.environ.get("DOCKER_HOST")) or self.api().present()

    def list(self, all: bool = False) -> list[Container]:
        """Return Docker's containers. Raises ``RuntimeUnavailable`` within ``timeout``."""
        self.warnings = []
        api = self.api()
        deadline = time.monotonic() + self.timeout
        try:
            items = api.get_json("/containers/json", {"all": "1" if all else "0"})
            if not isinstance(items, list):
                raise RuntimeUnavailable(
                    self.name,
                    f"answered GET /containers/json with a JSON {_kind(items)}, not a list",
                )
        except RuntimeUnavailable as exc:
            # A daemon that hangs, refuses or answers garbage: its own files still name its
            # containers.
            return self._from_state_files(api, exc, all)
        found = []
        bad: list[str] = []
        root = data_root() if items else ""
        for index, item in enumerate(items):
            problem = list_record_problem(item)
            if problem is not None:
                ident = item.get("Id") if isinstance(item, dict) else None
                which = ident[:12] if isinstance(ident, str) and ident else f"#{index + 1}"
                bad.append(f"{which} ({problem})")
                continue
            pid = None
            runc = True
            if item.get("State") in ("running", "paused", "restarting"):
                pid = runc_pid(item["Id"])
                if pid is None:
                    runc = False
                    pid = self._inspect_pid(api, item["Id"], deadline)
            container = container_from_list(item, pid, runc)
            self._add_last_state(api, container, root, deadline)
            found.append(container)
        if bad:
            shown = "; ".join(bad[:_MAX_RECORD_WARNINGS])
            more = (
                f" and {len(bad) - _MAX_RECORD_WARNINGS:,} more"
                if len(bad) > _MAX_RECORD_WARNINGS
                else ""
            )
            self.warnings.append(
                f"skipped {len(bad):,} record{'' if len(bad) == 1 else 's'} of GET /containers/json "
                f"that {'is' if len(bad) == 1 else 'are'} not a container's: {shown}{more}."
            )
        return found

    def _from_state_files(
        self, api: DockerAPI, failure: RuntimeUnavailable, all: bool
    ) -> builtins.list[Container]:
        """Return the containers in Docker's state files when its socket is there but the
        daemon hangs, refuses or answers garbage; else raise ``failure``.

        A daemon that hangs is when its containers most need looking into, and the other
        backends know them only by id. The files are this host's Docker's (its data root).
        """
        if not os.path.exists(api.path):
            raise failure
        root = data_root()
        found = containers_on_disk(root, all)
        if found is None:
            raise failure
        self.warnings.append(
            f"{failure.reason}; listed {len(found)} container{'' if len(found) == 1 else 's'} "
            f"from its state files in "
            f"{root}/containers instead (no exec through Docker)."
        )
        return found

    def _inspect_pid(self, api: DockerAPI, cid: str, deadline: float) -> int | None:
        """Return a container's PID from its inspect answer, while time is left (else None)."""
        state = _mapping(self._inspect_answer(api, cid, deadline).get("State"))
        return host_pid(state.get("Pid"))

    def _inspect_answer(self, api: DockerAPI, cid: str, deadline: float) -> dict[str, Any]:
        """Return a container's inspect answer while time is left, else {}."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return {}  # the list itself must come back within the timeout
        try:
            answer = api.get_json(f"/containers/{quote(cid)}/json", timeout=remaining)
        except RuntimeUnavailable:
            return {}  # it went away between the two requests (normal churn), or Docker hangs
        return _mapping(answer)

    def _add_last_state(
        self, api: DockerAPI, container: Container, root: str, deadline: float
    ) -> None:
        """Fill a listed container's last state (exit code, OOM kill, restarts, times).

        The list answer holds none of it but the exit code in ``Status``. Docker's own record
        of the container (``config.v2.json``, rewritten on every state change) holds all of
        it: one file read, where an inspect request per container would cost about 1.5 ms
        each on every ``ps``. Where that file cannot be read (the daemon is another host's,
        or its data root is elsewhere), a container that is not running is inspected, while
        time is left; a running one keeps what the list says.
        """
        found = last_state_record(container.id, root) if root else None
        status = str(container.metadata["docker"].get("Status") or "")
        if found is not None:
            fields = last_state(*found)
            if fields["exit_code"] is None:
                # The file was rewritten between the list and its read (a crash loop restarts
                # many times a minute): the list's own "Restarting (3)" says the exit it saw.
                fields["exit_code"] = exit_code_of_status(status)
        else:
            fields = {"exit_code": exit_code_of_status(status)}
            if container.status not in ("running", "paused"):
                answer = self._inspect_answer(api, container.id, deadline)
                if answer:
                    fields = last_state(answer.get("State"), answer.get("RestartCount"))
        for name, value in fields.items():
            setattr(container, name, value)

    def inspect(self, container: Container) -> dict:
        """Return ``GET /containers/{id}/json``.

        Raises ``ContainerGone`` when Docker no longer knows it, ``RuntimeUnavailable`` otherwise.
        A container listed from the state files (the daemon did not answer) gets its on-disk
        record without asking the daemon again.
        """
        if (container.metadata.get("docker") or {}).get("source") == FROM_STATE_FILES:
            record = state_record(container.id, data_root())
            if record is None:
                raise ContainerGone(f"Docker's state files no longer hold {container.name}.")
            return record
        status, data = self.api().request("GET", f"/containers/{quote(container.id)}/json")
        if status == 404:
            raise ContainerGone(
                f"Docker no longer knows container {container.name} ({container.short_id}).",
                "List the current ones with 'debugtool ps -a'.",
            )
        if status >= 300:
            raise RuntimeUnavailable(self.name, f"inspect answered {status}: {data[:200]!r}")
        record = decode(data, f"inspect of {container.short_id}", self.name)
        if not isinstance(record, dict):
            raise RuntimeUnavailable(
                self.name, f"answered inspect of {container.short_id} with a JSON {_kind(record)}"
            )
        return record

    def can_exec(self, container: Container) -> bool:
        """A container listed from the state files means the daemon did not answer: its exec
        goes through the next backend that knows the container (containerd, runc)."""
        return (container.metadata.get("docker") or {}).get("source") != FROM_STATE_FILES

    def exec(self, container: Container, request: ExecRequest, stdio: Stdio) -> int:
        """Run ``request`` over the Engine API (create, hijacked start, relay, exit code)."""
        from debugtool.runtimes.docker_exec import DockerExec

        with ignoring_interrupts(request.tty):
            return DockerExec().run(container.id, request, stdio)

    def logs(
        self, container: Container, tail: int | None = None, since: float | None = None
    ) -> bytes:
        """Return the container's stdout and stderr with timestamps, oldest first.

        Raises ``ContainerGone`` or ``RuntimeUnavailable`` (at once for a container listed
        from the state files: the daemon that did not answer the list would not answer this).
        A log longer than ``LOG_LIMIT`` is read through and its end kept.
        """
        if (container.metadata.get("docker") or {}).get("source") == FROM_STATE_FILES:
            raise RuntimeUnavailable(self.name, "the daemon did not answer when asked for the list")
        config = self.inspect(container).get("Config")
        tty = isinstance(config, dict) and config.get("Tty") is True
        query: dict[str, Any] = {"stdout": "1", "stderr": "1", "timestamps": "1"}
        query["tail"] = str(tail) if tail is not None else "all"
        if since is not None:
            query["since"] = f"{since:.9f}"
        status, chunks = self.api().stream("GET", f"/containers/{quote(container.id)}/logs", query)
        try:
            if status == 404:
                raise ContainerGone(f"Docker no longer knows container {container.name}.")
            if status >= 300:
                raise RuntimeUnavailable(
                    self.name, f"logs answered {status}: {next(chunks, b'')[:200]!r}"
                )
            # With a TTY the stream is raw; without one each chunk carries an 8-byte header.
            return log_tail(chunks, multiplexed=not tty, limit=LOG_LIMIT)
        finally:
            chunks.close()
