"""The containerd backend: every namespace of the standalone containerd and of Docker's own.

It asks containerd's gRPC API (``Namespaces/List``, then ``Containers/List`` and ``Tasks/List``
for every namespace, all in one round trip) through ``grpcwire``, a plain-Python client that
costs a fraction of importing grpcio, and decodes the answers with ``protowire``. When a daemon
does not answer, the tasks it runs are read from its shim state directory instead, with a
warning, so a hung containerd does not hide its containers.

containerd keeps no container output of its own: ``logs`` returns the CRI log file of a
Kubernetes container (the path CRI records with it), the file a task's ``file://`` log URI names
(``ctr run --log-uri``), and nothing for other containers.
"""

from __future__ import annotations

import builtins
import os
import time

from debugtool import deadline as deadlines
from debugtool import jsonc, procfs
from debugtool.errors import ContainerGone, ExecUnsupported, RuntimeUnavailable
from debugtool.model import Container, Port
from debugtool.record import record
from debugtool.runtimes import grpcwire
from debugtool.runtimes import protowire as pw
from debugtool.runtimes.base import ExecRequest, Runtime

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any


DEFAULT_ADDRESS = "/run/containerd/containerd.sock"
DOCKER_ADDRESS = "/run/docker/containerd/containerd.sock"
NAMESPACES_LIST = "/containerd.services.namespaces.v1.Namespaces/List"
CONTAINERS_LIST = "/containerd.services.containers.v1.Containers/List"
CONTAINERS_GET = "/containerd.services.containers.v1.Containers/Get"
TASKS_LIST = "/containerd.services.tasks.v1.Tasks/List"
TASKS_GET = "/containerd.services.tasks.v1.Tasks/Get"
V2_TASKS = "io.containerd.runtime.v2.task"
V1_TASKS = "io.containerd.runtime.v1.linux"
CRI_METADATA = "io.cri-containerd.container.metadata"
CRI_SANDBOX_METADATA = "io.cri-containerd.sandbox.metadata"
NERDCTL_PORTS = "nerdctl/ports"
#: The CRI plugin's root of the default containerd: ``containers/ID/status`` holds each
#: Kubernetes container's last state (JSON, rewritten on every change).
CRI_ROOT = "/var/lib/containerd/io.containerd.grpc.v1.cri"
#: CRI's reason for a container the kernel OOM-killed (``pkg/cri/server/events.go``).
OOM_REASON = "OOMKilled"

#: containerd.v1.types.Status (api/types/task/task.proto).
TASK_STATUS = {0: "unknown", 1: "created", 2: "running", 3: "stopped", 4: "paused", 5: "paused"}

#: Kubernetes labels on a container, and the CRI annotations in its spec that say the same.
POD_LABELS = (
    "io.kubernetes.pod.name",
    "io.kubernetes.pod.namespace",
    "io.kubernetes.container.name",
)
CRI_ANNOTATIONS = (
    "io.kubernetes.cri.sandbox-name",
    "io.kubernetes.cri.sandbox-namespace",
    "io.kubernetes.cri.container-name",
)


@record(frozen=True)
class Daemon:
    """One containerd daemon: its socket, its state directory and its default runc root."""

    address: str
    state: str  # holds io.containerd.runtime.v2.task/<namespace>/<id> (the task bundles)
    runc_root: str  # runc --root, before the namespace is appended

    @property
    def label(self) -> str:
        return f"containerd at {self.address}"


def daemons() -> list[Daemon]:
    """Return the daemons to ask: ``CONTAINERD_ADDRESS`` (or the default), and Docker's own."""
    address = os.environ.get("CONTAINERD_ADDRESS", "") or DEFAULT_ADDRESS
    address = address.removeprefix("unix://")
    found = [Daemon(address, "/run/containerd", "/run/containerd/runc")]
    if os.path.realpath(address) != os.path.realpath(DOCKER_ADDRESS):
        found.append(
            Daemon(DOCKER_ADDRESS, "/run/docker/containerd/daemon", "/run/docker/runtime-runc")
        )
    return found


def _run_path(path: str) -> str:
    """Spell paths under ``/var/run`` (a symlink to ``/run``) as ``/run/...``, as others do."""
    if path.startswith("/var/run/"):
        return path[len("/var") :]
    return path


def task_record(raw: bytes) -> dict[str, Any]:
    """Decode one ``containerd.v1.types.Process`` (a task) into plain data."""
    msg = pw.decode(raw)
    return {
        # Tasks/List fills ``id`` with the container id and leaves container_id empty (1.6).
        "id": pw.string(msg, 2) or pw.string(msg, 1),
        "pid": pw.integer(msg, 3),
        "status": TASK_STATUS.get(pw.integer(msg, 4), "unknown"),
        "stdin": pw.string(msg, 5),
        "stdout": pw.string(msg, 6),
        "stderr": pw.string(msg, 7),
        "terminal": bool(pw.integer(msg, 8)),
        "exit_status": pw.integer(msg, 9),
        "exited_at": pw.timestamp(pw.submessage(msg, 10)),
    }


def list_tasks(raw: bytes) -> dict[str, dict[str, Any]]:
    """Return the tasks of a ``ListTasksResponse`` by container id."""
    tasks = (task_record(t) for t in pw.messages(pw.decode(raw), 1))
    return {t["id"]: t for t in tasks}


def list_namespaces(raw: bytes) -> list[str]:
    """Return the namespace names of a ``ListNamespacesResponse``."""
    return [pw.string(pw.decode(n), 1) for n in pw.messages(pw.decode(raw), 1)]


def container_record(
    raw: bytes,
    namespace: str,
    task: dict[str, Any] | None,
    daemon: Daemon,
    with_spec: bool = False,
) -> Container:
    """Map one ``containerd.services.containers.v1.Container`` (and its task) to a Container.

    Field numbers are those of containerd's api/services/containers/v1/containers.proto.
    """
    msg = pw.decode(raw)
    cid = pw.string(msg, 1)
    labels = pw.string_map(msg, 2)
    runtime = pw.submessage(msg, 4) or {}
    runtime_name = pw.string(runtime, 1)
    binary, root = _runc_options(runtime)
    spec_type, spec_raw = pw.unpack_any(pw.submessage(msg, 5) or {})
    extensions = pw.any_map(msg, 10)

    annotations: dict[str, str] = {}
    spec: dict[str, Any] | None = None
    # The spec is a few KiB of JSON per container: parse it only when it can say something the
    # labels do not (CRI annotations), or when asked for the whole of it.
    if with_spec or b"io.kubernetes.cri" in spec_raw:
        spec = _json(spec_raw)
        annotations = dict(spec.get("annotations") or {}) if spec else {}
    pod, pod_ns, k8s_name = (labels.get(k, "") for k in POD_LABELS)
    cri = [annotations.get(k, "") for k in CRI_ANNOTATIONS]
    pod, pod_ns, k8s_name = pod or cri[0], pod_ns or cri[1], k8s_name or cri[2]

    log_path = ""
    who: dict[str, Any] | None = None  # a CRI container's sandbox, name and attempt
    if CRI_METADATA in extensions:
        meta = _json(extensions[CRI_METADATA][1]) or {}
        log_path = str((meta.get("Metadata") or {}).get("LogPath") or "")
        who = cri_identity(meta)
    log_dir = annotations.get("io.kubernetes.cri.sandbox-log-directory", "")
    if not log_path and log_dir and k8s_name:
        # The kubelet's layout: <pod log directory>/<container name>/<restart count>.log.
        restarts = annotations.get("io.kubernetes.container.restartCount", "0")
        log_path = f"{log_dir}/{k8s_name}/{restarts}.log"

    ports = ports_of(labels, extensions)

    tasks_dir = V1_TASKS if runtime_name.endswith(".v1.linux") else V2_TASKS
    bundle = f"{daemon.state}/{tasks_dir}/{namespace}/{cid}"
    status = task["status"] if task else "created"
    pid = task["pid"] if task and status in ("running", "paused") else None
    record: dict[str, Any] = {
        "address": daemon.address,
        "namespace": namespace,
        "id": cid,
        "image": pw.string(msg, 3),
        "labels": labels,
        "runtime": {"name": runtime_name, "binary": binary, "root": root},
        "snapshotter": pw.string(msg, 6),
        "snapshot_key": pw.string(msg, 7),
        "created_at": pw.timestamp(pw.submessage(msg, 8)),
        "updated_at": pw.timestamp(pw.submessage(msg, 9)),
        "extensions": sorted(extensions),
        "log_path": log_path,
        "task": task,
    }
    state: dict[str, Any] = {}
    if who is not None:
        record["cri"] = who
        cri_status = read_cri_status(cid)
        who["reason"] = str(cri_status.get("Reason") or "")
        state = cri_last_state(cri_status)
        state["restart_count"] = state["attempt"] = who["attempt"]
        if not task and state["finished_at"]:
            status = "exited"  # CRI deletes a container's task when it exits, keeps its status
    elif task and status == "stopped":
        # A plain task: containerd keeps its exit until the task is deleted.
        state = {"exit_code": task["exit_status"], "finished_at": task["exited_at"]}
    if with_spec:
        record["spec_type"] = spec_type
        record["spec"] = spec
    return Container(
        id=cid,
        name=cid,
        runtime="containerd",
        image=pw.string(msg, 3),
        status=status,
        pid=pid or None,
        created=record["created_at"],
        labels=labels,
        namespace=namespace,
        pod=pod,
        pod_namespace=pod_ns,
        k8s_container=k8s_name,
        bundle=bundle if task else "",
        rootfs=f"{bundle}/rootfs" if pid else "",
        oci_root=f"{_run_path(root or daemon.runc_root)}/{namespace}",
        oci_runtime=os.path.basename(binary) or ("runc" if "runc" in runtime_name else ""),
        ports=ports,
        metadata={"containerd": record},
        **state,
    )


def cri_identity(meta: dict[str, Any]) -> dict[str, Any]:
    """Return who a CRI container is from its metadata extension: its sandbox's id, its name
    in the pod and its attempt (``Config.metadata``; 0, the first, is left out of the JSON)."""

    def mapping(value: Any) -> dict[str, Any]:
        return value if isinstance(value, dict) else {}

    data = mapping(meta.get("Metadata"))
    who = mapping(mapping(data.get("Config")).get("metadata"))
    attempt = who.get("attempt")
    return {
        "sandbox_id": str(data.get("SandboxID") or ""),
        "name": str(who.get("name") or data.get("Name") or ""),
        "attempt": attempt if type(attempt) is int and attempt >= 0 else 0,
    }


def read_cri_status(cid: str, root: str | None = None) -> dict[str, Any]:
    """Return the CRI plugin's status record of container ``cid`` ({} when unreadable)."""
    if not cid or "/" in cid or cid.startswith("."):
        return {}
    try:
        with open(f"{root or CRI_ROOT}/containers/{cid}/status", "rb") as f:
            return _json(f.read(1 << 20)) or {}
    except OSError:
        return {}


def cri_last_state(status: dict[str, Any]) -> dict[str, Any]:
    """Return the last-state fields of a Container from a CRI status record.

    The record (``{"Version": "v1", "Pid": ..., "StartedAt": ns, "FinishedAt": ns,
    "ExitCode": ..., "Reason": ...}``) keeps times in nanoseconds, 0 for not yet; the exit
    code means something once the container has finished.
    """

    def seconds(key: str) -> float | None:
        value = status.get(key)
        return value / 1e9 if type(value) is int and value > 0 else None

    finished = seconds("FinishedAt")
    code = status.get("ExitCode")
    reason = status.get("Reason")
    return {
        "started_at": seconds("StartedAt"),
        "finished_at": finished,
        "exit_code": code if finished is not None and type(code) is int else None,
        "oom_killed": finished is not None and reason == OOM_REASON,
    }


def link_attempts(containers: list[Container]) -> None:
    """Give each CRI container the state of its previous attempt, where containerd still
    holds it: the container of the same pod sandbox and name with the highest attempt below
    its own (the kubelet keeps the one before the current)."""
    from debugtool.model import RunState

    by_name: dict[tuple[str, str, str], list[Container]] = {}
    for c in containers:
        cri = (c.metadata.get("containerd") or {}).get("cri")
        if cri and cri["sandbox_id"]:
            by_name.setdefault((c.namespace, cri["sandbox_id"], cri["name"]), []).append(c)
    for group in by_name.values():
        group.sort(key=lambda c: c.attempt or 0)
        for before, after in zip(group, group[1:], strict=False):
            reason = before.metadata["containerd"]["cri"]["reason"] if before.finished_at else ""
            after.previous = RunState(
                started_at=before.started_at,
                finished_at=before.finished_at,
                exit_code=before.exit_code,
                oom_killed=before.oom_killed,
                reason=reason,
                attempt=before.attempt,
                container_id=before.id,
            )


def ports_of(labels: dict[str, str], extensions: dict[str, tuple[str, bytes]]) -> list[Port]:
    """Return the ports a containerd container publishes, where something recorded them:
    nerdctl's ``nerdctl/ports`` label, or a CRI sandbox's port mappings (what the CNI portmap
    plugin was given). Without either, nothing is known: [] (``ctr run`` publishes nothing,
    nor does Docker's containerd namespace: ``runtimes.ports`` is imported only for the others).
    """
    label = labels.get(NERDCTL_PORTS)
    if label:
        from debugtool.runtimes.ports import from_nerdctl

        return from_nerdctl(label)
    if CRI_SANDBOX_METADATA in extensions:
        from debugtool.runtimes.ports import from_cri_sandbox

        return from_cri_sandbox(_json(extensions[CRI_SANDBOX_METADATA][1]))
    return []


def _runc_options(runtime: pw.Message) -> tuple[str, str]:
    """Return ``(binary_name, root)`` from a runtime's ``containerd.runc.v1.Options``."""
    type_url, value = pw.unpack_any(pw.submessage(runtime, 2) or {})
    if not value or not type_url.endswith("runc.v1.Options"):
        return "", ""
    try:
        options = pw.decode(value)
    except pw.DecodeError:
        return "", ""
    # runc.v1.Options: binary_name = 6, root = 7 (runtime/v2/runc/options/oci.proto).
    return pw.string(options, 6), pw.string(options, 7)


def _json(raw: bytes) -> dict[str, Any] | None:
    try:
        value = jsonc.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class _NotListening(RuntimeUnavailable):
    """The socket is there but refuses connections: its daemon is not running."""


class ContainerdRuntime(Runtime):
    """containerd's containers in every namespace, with their tasks' PIDs and states."""

    name = "containerd"
    richness = 80
    supports_exec = True
    exec_sets_env = False  # ctr task exec has no --env
    supports_logs = True

    def present(self) -> bool:
        # A CONTAINERD_ADDRESS the user set is containerd asked for, even if nothing is there.
        return bool(os.environ.get("CONTAINERD_ADDRESS")) or any(
            os.path.exists(d.address) or os.path.isdir(d.state) for d in daemons()
        )

    def list(self, all: bool = False) -> list[Container]:
        """Return the containers of every namespace of every present daemon.

        Raises ``RuntimeUnavailable`` when no daemon answered within ``timeout`` seconds and no
        task state was found on disk either.
        """
        every = daemons()
        present = [d for d in every if os.path.exists(d.address) or os.path.isdir(d.state)]
        # A daemon asked for explicitly is asked even without a socket: its absence is news.
        explicit = every[:1] if os.environ.get("CONTAINERD_ADDRESS") else []
        present = [*[d for d in explicit if d not in present], *present]
        if not present:
            raise RuntimeUnavailable(self.name, f"no socket at {daemons()[0].address}")
        self.warnings = []
        deadline = time.monotonic() + self.timeout
        results: dict[Daemon, list[Container]] = {}
        failures: dict[Daemon, str] = {}
        stale: set[Daemon] = set()

        def ask(daemon: Daemon) -> None:
            try:
                results[daemon] = self._list_daemon(daemon, deadline)
            except RuntimeUnavailable as exc:
                failures[daemon] = exc.reason
                if isinstance(exc, _NotListening):
                    stale.add(daemon)

        others = [deadlines.start(ask, d, name=f"dt-{d.label}") for d in present[1:]]
        ask(present[0])
        deadlines.wait(others, deadline + 0.1)
        for running, daemon in zip(others, present[1:], strict=True):
            if not running.finished():
                failures[daemon] = f"{daemon.label} did not answer within {self.timeout:g}s"
        found: list[Container] = []
        reasons = []
        answered = False  # a daemon answered, or its tasks were read from disk instead
        for daemon in present:
            if daemon in results and daemon not in failures:
                found += results[daemon]
                answered = True
                continue
            reason = failures.get(daemon, f"{daemon.label} gave no answer")  # each names it
            on_disk = tasks_on_disk(daemon)
            if daemon in stale and daemon is not every[0] and not any(c.pid for c in on_disk):
                # Docker's own containerd left its socket behind and runs nothing: dockerd uses
                # another containerd now (``--containerd``), or is down with its containers.
                from debugtool import debuglog

                debuglog.log(__name__, "%s; a leftover socket, ignored.", reason)
                continue
            if on_disk:
                self.warnings.append(
                    f"{reason}; listed {len(on_disk)} task{'' if len(on_disk) == 1 else 's'} from "
                    f"{daemon.state}/{V2_TASKS} instead (no images or labels)."
                )
                found += on_disk
                answered = True
            elif os.path.exists(daemon.address) or daemon in explicit:
                reasons.append(reason)
        if reasons and not answered:
            raise RuntimeUnavailable(self.name, "; ".join(reasons))
        self.warnings += [f"{reason}; its containers are not listed." for reason in reasons]
        if not all:
            found = [c for c in found if c.status in ("running", "paused")]
        return found

    def _list_daemon(self, daemon: Daemon, deadline: float) -> builtins.list[Container]:
        answer = self._call(daemon, [(NAMESPACES_LIST, b"", "")], deadline)[0]
        if not isinstance(answer, bytes):
            raise RuntimeUnavailable(
                self.name, f"{daemon.label} refused to list namespaces: {answer}"
            )
        try:
            namespaces = list_namespaces(answer)
        except pw.DecodeError as exc:
            raise RuntimeUnavailable(self.name, f"{daemon.label} sent {exc}") from None
        calls = [(m, b"", ns) for ns in namespaces for m in (CONTAINERS_LIST, TASKS_LIST)]
        answers = self._call(daemon, calls, deadline) if calls else []
        found: list[Container] = []
        for i, ns in enumerate(namespaces):
            containers, tasks = answers[2 * i], answers[2 * i + 1]
            if not isinstance(containers, bytes):
                from debugtool import debuglog

                debuglog.log(
                    __name__, "%s: listing namespace %s failed: %s", daemon.label, ns, containers
                )
                continue
            by_id = list_tasks(tasks) if isinstance(tasks, bytes) else {}
            try:
                for raw in pw.messages(pw.decode(containers), 1):
                    cid = pw.string(pw.decode(raw), 1)
                    found.append(container_record(raw, ns, by_id.get(cid), daemon))
            except pw.DecodeError as exc:
                raise RuntimeUnavailable(self.name, f"{daemon.label} sent {exc}") from None
        link_attempts(found)
        return found

    def _call(
        self, daemon: Daemon, calls: Sequence[tuple[str, bytes, str]], deadline: float
    ) -> builtins.list[bytes | grpcwire.GrpcError]:
        """Make unary calls ``(method, request, namespace)``; return answers or GrpcErrors.

        Raises ``RuntimeUnavailable`` when the daemon cannot be reached or does not answer in time.
        """
        batch = [
            grpcwire.Call(method, request, {"containerd-namespace": ns} if ns else {})
            for method, request, ns in calls
        ]
        remaining = deadline - time.monotonic()
        try:
            if remaining <= 0:
                raise TimeoutError
            return list(grpcwire.call_unix(daemon.address, batch, remaining))
        except FileNotFoundError:
            raise RuntimeUnavailable(self.name, f"no socket at {daemon.address}") from None
        except PermissionError:
            raise RuntimeUnavailable(
                self.name, f"no permission to connect to {daemon.address}", "Run as root."
            ) from None
        except TimeoutError:
            raise RuntimeUnavailable(
                self.name, f"{daemon.label} did not answer within {self.timeout:g}s"
            ) from None
        except ConnectionRefusedError:
            raise _NotListening(
                self.name, f"nothing listens on {daemon.address} (is containerd running?)"
            ) from None
        except OSError as exc:
            raise RuntimeUnavailable(
                self.name, f"cannot talk to {daemon.address}: {exc.strerror or exc}"
            ) from None
        except grpcwire.ProtocolError as exc:
            raise RuntimeUnavailable(self.name, f"{daemon.label} answered oddly: {exc}") from None

    def _daemon_of(self, container: Container) -> tuple[Daemon, str]:
        record = container.metadata.get("containerd") or {}
        address = record.get("address") or daemons()[0].address
        for daemon in daemons():
            if daemon.address == address:
                return daemon, container.namespace or record.get("namespace", "default")
        return Daemon(address, "/run/containerd", "/run/containerd/runc"), container.namespace

    def inspect(self, container: Container) -> dict:
        """Return containerd's record of the container, its task and its whole OCI spec.

        Raises ``ContainerGone`` when containerd no longer knows it, ``RuntimeUnavailable`` when
        containerd cannot be asked.
        """
        daemon, ns = self._daemon_of(container)
        deadline = time.monotonic() + self.timeout
        request = pw.write_bytes(1, container.id)
        got, task = self._call(
            daemon, [(CONTAINERS_GET, request, ns), (TASKS_GET, request, ns)], deadline
        )
        if not isinstance(got, bytes):
            if got.status == 5:  # NOT_FOUND
                raise ContainerGone(
                    f"containerd no longer knows container {container.id} in namespace {ns}.",
                    "List the current ones with 'debugtool ps -a'.",
                )
            raise RuntimeUnavailable(self.name, f"{daemon.label} refused Containers/Get: {got}")
        raw = pw.messages(pw.decode(got), 1)
        if not raw:
            raise ContainerGone(f"containerd no longer knows container {container.id}.")
        process = pw.messages(pw.decode(task), 1) if isinstance(task, bytes) else []
        record = container_record(
            raw[0], ns, task_record(process[0]) if process else None, daemon, with_spec=True
        )
        return dict(record.metadata["containerd"])

    def exec_argv(self, container: Container, request: ExecRequest) -> Sequence[str]:
        """Return a ``ctr task exec`` command line for ``request``.

        Raises ``ExecUnsupported`` for environment variables, which ``ctr task exec`` cannot set.
        """
        if request.env:
            raise ExecUnsupported(
                "ctr task exec cannot set environment variables for a containerd container.",
                "Drop --env, or use --mode ns to enter the container's namespaces instead.",
            )
        daemon, ns = self._daemon_of(container)
        argv = ["ctr"]
        if daemon.address != DEFAULT_ADDRESS:
            argv += ["--address", daemon.address]
        # An exec id is unique per task; the PID and random bytes keep concurrent ones apart.
        exec_id = f"debugtool-{os.getpid()}-{os.urandom(4).hex()}"
        argv += ["-n", ns or "default", "task", "exec", "--exec-id", exec_id]
        if request.tty:
            argv.append("--tty")
        if request.user:
            argv += ["--user", request.user]
        if request.workdir:
            argv += ["--cwd", request.workdir]
        return [*argv, container.id, *request.argv]

    def logs(
        self, container: Container, tail: int | None = None, since: float | None = None
    ) -> bytes:
        """Return the container's output where containerd says it was written, else ``b""``.

        containerd itself keeps no output: a task's stdout and stderr go wherever its creator
        pointed them. Kubernetes (CRI) writes a log file whose path it records with the
        container: that is read with timestamps. ``ctr run --log-uri file:///PATH`` makes the
        task's stdout that URI: that file is read as it is (no timestamps, so ``since`` cannot
        apply). FIFOs (plain ``ctr run``) hold nothing to read afterwards.
        """
        record = container.metadata.get("containerd") or {}
        if record.get("log_path"):
            return read_cri_log(record["log_path"], tail, since)
        stdout = str((record.get("task") or {}).get("stdout") or "")
        if stdout.startswith("file://"):
            from urllib.parse import unquote, urlsplit

            path = unquote(urlsplit(stdout).path)
            try:
                with open(path, "rb") as f:
                    data = _read_tail(f, tail) if tail is not None else f.read()
            except FileNotFoundError:
                return b""
            except OSError as exc:
                raise RuntimeUnavailable(self.name, f"cannot read {path}: {exc.strerror}") from None
            if tail is not None:
                lines = data.splitlines(keepends=True)
                data = b"".join(lines[-tail:]) if tail > 0 else b""
            return data
        return b""


def tasks_on_disk(daemon: Daemon) -> list[Container]:
    """Return the tasks a daemon's shims keep state for, read from its state directory.

    Used when the daemon does not answer: each task directory holds the OCI spec
    (``config.json``) and the init PID (``init.pid``). Images and labels are not on disk there.
    """
    base = f"{daemon.state}/{V2_TASKS}"
    found: list[Container] = []
    try:
        namespaces = os.listdir(base)
    except OSError:
        return []
    for ns in namespaces:
        try:
            ids = os.listdir(f"{base}/{ns}")
        except OSError:
            continue
        for cid in ids:
            bundle = f"{base}/{ns}/{cid}"
            try:
                with open(f"{bundle}/init.pid", "rb") as f:
                    pid = int(f.read().strip() or 0)
                created = os.stat(f"{bundle}/init.pid").st_mtime
            except (OSError, ValueError):
                continue  # a task being created or deleted: normal churn
            alive = os.path.exists(procfs.path(pid)) if pid else False
            annotations: dict[str, str] = {}
            try:
                with open(f"{bundle}/config.json", "rb") as f:
                    spec = _json(f.read()) or {}
                annotations = dict(spec.get("annotations") or {})
            except OSError:
                pass
            found.append(
                Container(
                    id=cid,
                    name=cid,
                    runtime="containerd",
                    status="running" if alive else "stopped",
                    pid=pid if alive else None,
                    created=created,
                    namespace=ns,
                    pod=annotations.get(CRI_ANNOTATIONS[0], ""),
                    pod_namespace=annotations.get(CRI_ANNOTATIONS[1], ""),
                    k8s_container=annotations.get(CRI_ANNOTATIONS[2], ""),
                    bundle=bundle,
                    rootfs=f"{bundle}/rootfs" if alive else "",
                    oci_root=f"{daemon.runc_root}/{ns}",
                    oci_runtime="runc",
                    metadata={
                        "containerd": {
                            "address": daemon.address,
                            "namespace": ns,
                            "id": cid,
                            "source": "state directory",
                        }
                    },
                )
            )
    return found


def read_cri_log(path: str, tail: int | None = None, since: float | None = None) -> bytes:
    """Return a CRI-format log file (Kubernetes, podman's k8s-file) as ``TIMESTAMP MESSAGE`` lines.

    Each line of the file is ``TIMESTAMP STREAM TAG MESSAGE``; tag ``P`` marks a partial line
    continued by the next. ``tail`` keeps the last N lines, ``since`` drops lines older than that
    epoch. A missing file gives ``b""`` (the container never wrote, or its log was rotated away).
    Raises ``RuntimeUnavailable`` when the file cannot be read.
    """
    try:
        with open(path, "rb") as f:
            data = _read_tail(f, tail) if tail is not None and since is None else f.read()
    except FileNotFoundError:
        return b""
    except OSError as exc:
        raise RuntimeUnavailable("logs", f"cannot read {path}: {exc.strerror}") from None
    lines = parse_cri_log(data)
    if since is not None:
        lines = [(ts, msg) for ts, msg in lines if _epoch(ts) >= since]
    if tail is not None:
        lines = lines[-tail:] if tail > 0 else []
    return b"".join(ts + b" " + msg + b"\n" for ts, msg in lines)


def parse_cri_log(data: bytes) -> list[tuple[bytes, bytes]]:
    """Return ``(timestamp, message)`` pairs of CRI log text, partial lines joined per stream."""
    out: list[tuple[bytes, bytes]] = []
    pending: dict[bytes, tuple[bytes, bytes]] = {}  # stream -> (first timestamp, text so far)
    for line in data.split(b"\n"):
        parts = line.split(b" ", 3)
        if len(parts) < 3:
            continue  # blank or torn line (the writer is mid-line)
        ts, stream, tag = parts[:3]
        msg = parts[3] if len(parts) > 3 else b""
        if stream in pending:
            first, text = pending.pop(stream)
            ts, msg = first, text + msg
        if tag == b"P":
            pending[stream] = (ts, msg)
            continue
        out.append((ts, msg))
    out += pending.values()  # a partial line whose end was never written
    return out


def _read_tail(f: Any, lines: int) -> bytes:
    """Return enough of the end of an open file to hold its last ``lines`` lines (and more)."""
    f.seek(0, os.SEEK_END)
    end = f.tell()
    size = 65536
    while True:
        start = max(0, end - size)
        f.seek(start)
        data = f.read(end - start)
        # Partial lines can join several file lines into one: read twice what is asked for.
        if start == 0 or data.count(b"\n") > 2 * lines + 1:
            return data if start == 0 else data[data.index(b"\n") + 1 :]
        size *= 4


def _epoch(ts: bytes) -> float:
    from datetime import datetime

    try:
        return datetime.fromisoformat(ts.decode()).timestamp()
    except ValueError:
        return 0.0
