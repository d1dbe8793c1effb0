"""The podman backend: root's containers and every user's rootless ones, read from podman's
storage and the OCI state files.

``podman ps`` starts a Go binary that opens its bolt database and asks the OCI runtime about each
container. The same facts are on disk: containers/storage keeps every container's id, names,
image and creation time in ``overlay-containers/containers.json`` (rewritten atomically), and
runc (or crun) keeps each live container's init PID in its state directory. Reading those costs
a few file reads. When the storage file is missing or unreadable, ``podman ps -a --format json``
answers instead, under ``timeout``.

The status is inferred as runc infers it: state present and process alive is ``running``
(``paused`` when its freezer cgroup is frozen, ``created`` while the exec FIFO waits); otherwise
``exited`` if the container ever ran (its OCI spec was written) or ``created``. Labels and the
pod a container is in live only in libpod's database (bolt, read with ``boltdb``, or SQLite);
when it cannot be read, the containers are listed without them and one warning says so.

Rootless podman keeps the same files in each user's own directories (``runtimes.rootless``):
their containers are listed with ``owner`` set to the user, and whatever must run podman for
one of them (``inspect``, exec, a log driver other than k8s-file) runs it as that user, with
that user's groups and a clean environment, never as root against the user's storage.
"""

from __future__ import annotations

import builtins
import os

from debugtool import jsonc, procfs
from debugtool.errors import ContainerGone, DebugtoolError, RuntimeUnavailable
from debugtool.model import Container, Port
from debugtool.runtimes.base import ExecRequest, Runtime, Stdio
from debugtool.runtimes.liveness import go_time, parse_created
from debugtool.runtimes.rootless import Store

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

GRAPH_ROOT = "/var/lib/containers/storage"
STORAGE_CONF = "/etc/containers/storage.conf"
#: State roots of the OCI runtimes podman drives, with the file each keeps per container.
OCI_STATE = (("runc", "/run/runc", "state.json"), ("crun", "/run/crun", "status"))
CGROUP_ROOT = "/sys/fs/cgroup"


def graph_root(conf: str = STORAGE_CONF) -> str:
    """Return containers/storage's graph root (``storage.conf`` ``graphroot``, else default)."""
    try:
        with open(conf, "rb") as f:
            import tomllib

            return str(tomllib.load(f).get("storage", {}).get("graphroot") or GRAPH_ROOT)
    except (OSError, ValueError):
        return GRAPH_ROOT


def containers_dir(root: str) -> str:
    """Return ``ROOT/DRIVER-containers`` of the storage driver in use (overlay for root's
    podman; rootless podman without fuse-overlayfs uses vfs): the first that holds a
    ``containers.json``, else overlay's."""
    from debugtool.runtimes.rootless import DRIVERS

    for driver in DRIVERS:
        directory = f"{root}/{driver}-containers"
        if os.path.exists(f"{directory}/containers.json"):
            return directory
    return f"{root}/overlay-containers"


def read_storage(root: str) -> list[dict[str, Any]]:
    """Return the records of ``ROOT/DRIVER-containers/containers.json``.

    Raises ``OSError`` or ``ValueError`` when the file is missing or not what containers/storage
    writes.
    """
    with open(f"{containers_dir(root)}/containers.json", "rb") as f:
        records = jsonc.loads(f.read())
    if not isinstance(records, list):
        raise ValueError("containers.json is not a list")
    return [r for r in records if isinstance(r, dict)]


#: What libpod's database says of one container: its labels, its pod's name, its published ports.
Libpod = tuple[dict[str, str], str, list[Port]]


def libpod_records(root: str) -> dict[str, Libpod]:
    """Return each container's labels, pod name and published ports from libpod's database, by id.

    libpod keeps its state in ``libpod/bolt_state.db`` (bolt, podman 4 and hosts upgraded
    since) or in ``db.sql`` (SQLite, podman 5's default on a new host); bolt is taken when both
    exist, as podman does. A pod's infra container gets no pod name: like a Kubernetes pause
    container it runs nothing to look into, and ``pod/NAME`` should not pick it.

    Raises ``OSError`` or ``ValueError`` when the database cannot be read
    (``FileNotFoundError`` when there is none).
    """
    return libpod_database(root)[0]


def libpod_database(root: str) -> tuple[dict[str, Libpod], dict[str, dict[str, Any]]]:
    """Return ``libpod_records(root)`` and each container's state by id, from one read of
    libpod's database. The state is libpod's ``ContainerState`` (``state``, ``exitCode``,
    ``oomKilled``, ``restartCount``, ``startedTime``, ``finishedTime`` ...): what ``podman
    inspect`` shows of the last run. Raises as ``libpod_records`` does."""
    bolt = f"{root}/libpod/bolt_state.db"
    if not os.path.exists(bolt) and os.path.exists(f"{root}/db.sql"):
        pods, configs, states = _libpod_sqlite(f"{root}/db.sql")
    else:
        pods, configs, states = _libpod_bolt(bolt)
    found: dict[str, Libpod] = {}
    for cid, raw in configs:
        config = _json_object(raw)
        labels = config.get("labels")
        found[cid] = (
            {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {},
            "" if config.get("pause") else pods.get(str(config.get("pod") or ""), ""),
            _published(config.get("newPortMappings") or config.get("portMappings")),
        )
    return found, {cid: _json_object(raw) for cid, raw in states.items()}


def podman_last_state(state: dict[str, Any]) -> dict[str, Any]:
    """Return the last-state fields of a Container from libpod's ``ContainerState`` (its
    database's JSON, with Go's zero time for "not yet" and fields left out when zero)."""
    started = go_time(state.get("startedTime"))
    ended = state.get("exited") is True or state.get("state") in _ENDED_STATES
    code = state.get("exitCode", 0)
    count = state.get("restartCount", 0)
    known = ended and started is not None and type(code) is int
    return {
        "exit_code": code if known else None,
        "oom_killed": bool(known and state.get("oomKilled") is True),
        "restart_count": count if type(count) is int else None,
        "started_at": started,
        "finished_at": go_time(state.get("finishedTime")),
    }


#: libpod's ``ContainerStatus`` values of a container whose run has ended (stopped, exited).
_ENDED_STATES = (4, 6)


#: What ``_libpod_bolt`` and ``_libpod_sqlite`` read: pod names by id, each container's
#: config JSON, and each container's state JSON by id.
_Tables = tuple[dict[str, str], list[tuple[str, bytes | None]], dict[str, bytes | None]]


def _libpod_bolt(path: str) -> _Tables:
    """Return pod names by id, each container's config JSON and state JSON, from the bolt
    database."""
    from debugtool.runtimes.boltdb import BoltFile

    pods: dict[str, str] = {}
    configs: list[tuple[str, bytes | None]] = []
    states: dict[str, bytes | None] = {}
    with BoltFile(path) as db:
        top = db.top()
        pod_buckets = top.bucket(b"pod")
        for pod_id, bucket in pod_buckets.buckets() if pod_buckets else ():
            config = _json_object(bucket.get(b"config"))
            pods[pod_id.decode(errors="replace")] = str(config.get("name") or "")
        ctr_buckets = top.bucket(b"ctr")
        for cid, bucket in ctr_buckets.buckets() if ctr_buckets else ():
            configs.append((cid.decode(errors="replace"), bucket.get(b"config")))
            states[cid.decode(errors="replace")] = bucket.get(b"state")
    return pods, configs, states


def _libpod_sqlite(path: str) -> _Tables:
    """The same from the SQLite database (tables PodConfig and ContainerConfig), read-only."""
    import pathlib
    import sqlite3

    try:
        conn = sqlite3.connect(f"{pathlib.Path(path).as_uri()}?mode=ro", uri=True, timeout=1)
        try:
            pods = {str(i): str(n) for i, n in conn.execute("SELECT ID, Name FROM PodConfig")}
            rows = conn.execute("SELECT ID, JSON FROM ContainerConfig").fetchall()
            try:
                state_rows = conn.execute("SELECT ID, JSON FROM ContainerState").fetchall()
            except sqlite3.Error:
                state_rows = []  # the states are extra: labels and pods still count
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise ValueError(f"{path}: {exc}") from None

    def raw(value: Any) -> bytes | None:
        return value.encode() if isinstance(value, str) else value

    states = {str(i): raw(j) for i, j in state_rows}
    return pods, [(str(i), raw(j)) for i, j in rows], states


def _published(value: Any) -> list[Port]:
    """Return the ports of libpod's or ``podman ps``'s port mappings (``runtimes.ports`` is
    imported only for a container that has some)."""
    if not value:
        return []
    from debugtool.runtimes.ports import from_podman

    return from_podman(value)


def _json_object(raw: bytes | None) -> dict[str, Any]:
    try:
        value = jsonc.loads(raw or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def oci_state(
    cid: str, roots: Sequence[tuple[str, str, str]] | None = None
) -> tuple[str, str, dict[str, Any]] | None:
    """Return ``(runtime, root, state)`` from the first OCI runtime that keeps state for ``cid``
    (under ``roots``: root's ``OCI_STATE`` by default, a user's ``Store.oci_state()``)."""
    for runtime, root, filename in OCI_STATE if roots is None else roots:
        try:
            with open(f"{root}/{cid}/{filename}", "rb") as f:
                state = jsonc.loads(f.read())
        except (OSError, ValueError):
            continue
        if isinstance(state, dict):
            return runtime, root, state
    return None


def live_pid(runtime: str, state: dict[str, Any]) -> int | None:
    """Return the container's init PID from its OCI state, if that very process still runs.

    runc records the start time; a PID whose start time differs was reused after the container
    died. crun's status file holds no start time, so a live PID is trusted.
    """
    pid = int(state.get("init_process_pid") or state.get("pid") or 0)
    if not pid:
        return None
    try:
        start = procfs.start_time(pid)
    except (DebugtoolError, ValueError):
        return None
    expected = state.get("init_process_start")
    if runtime == "runc" and expected is not None and int(expected) != start:
        return None
    return pid


def frozen(state: dict[str, Any]) -> bool:
    """Return whether runc's state names a freezer cgroup that is frozen (a paused container)."""
    paths = state.get("cgroup_paths") or {}
    for name, path in (("freezer", "freezer.state"), ("", "cgroup.freeze")):
        directory = paths.get(name)
        if not directory:
            continue
        try:
            with open(f"{directory}/{path}", "rb") as f:
                value = f.read().strip()
        except OSError:
            continue
        return value in (b"FROZEN", b"FREEZING", b"1")
    return False


def container_from_storage(
    record: dict[str, Any],
    root: str = GRAPH_ROOT,
    libpod: Libpod = ({}, "", []),
    state: dict[str, Any] | None = None,
    store: Store | None = None,
) -> Container:
    """Map one containers.json record, plus the OCI runtime's state of it, libpod's labels,
    pod name and ports (``libpod``) and libpod's state of its last run (``state``), to a
    Container: root's, or of a user's ``store``."""
    cid = str(record.get("id", ""))
    names = record.get("names") or []
    try:
        meta = jsonc.loads(record.get("metadata") or "{}")
    except ValueError:
        meta = {}
    if not isinstance(meta, dict):
        meta = {}
    created = parse_created(record.get("created"))  # containers/storage: nanoseconds, Z
    if created is None and meta.get("created-at"):
        created = float(meta["created-at"])

    records = containers_dir(root)
    found = oci_state(cid, store.oci_state() if store is not None else None)
    pid = None
    oci_runtime = oci_root = rootfs = ""
    if found:
        oci_runtime, oci_root, oci = found  # the OCI runtime's state, not libpod's ``state``
        pid = live_pid(oci_runtime, oci)
        # runc keeps the spec's root under config.rootfs, crun under rootfs.
        rootfs = str((oci.get("config") or {}).get("rootfs") or oci.get("rootfs") or "")
    if pid and found:
        if frozen(found[2]):
            status = "paused"
        elif os.path.exists(f"{oci_root}/{cid}/exec.fifo"):
            status = "created"  # created by the runtime, not yet started
        else:
            status = "running"
    else:
        # podman writes the OCI spec when it first starts a container.
        ran = os.path.exists(f"{records}/{cid}/userdata/config.json")
        last = state or {}
        ended = last.get("exited") is True or last.get("state") in _ENDED_STATES
        status = "exited" if ran or ended else "created"
    userdata = f"{records}/{cid}/userdata"
    return Container(
        id=cid,
        name=str(names[0]) if names else cid[:12],
        runtime="podman",
        image=str(meta.get("image-name") or record.get("image") or ""),
        status=status,
        pid=pid,
        created=created,
        labels=dict(libpod[0]),
        pod=libpod[1],
        k8s_container=str(names[0]) if names and libpod[1] else "",  # its name in the pod
        bundle=userdata,
        rootfs=rootfs if pid else "",
        oci_root=oci_root,
        oci_runtime=oci_runtime,
        ports=list(libpod[2]),
        owner=store.owner if store is not None else "",
        metadata={"podman": {**record, "metadata": meta, "source": "storage"}},
        **(podman_last_state(state) if state else {}),
    )


def container_from_ps(item: dict[str, Any]) -> Container:
    """Map one record of ``podman ps -a --format json`` to a Container."""
    names = item.get("Names") or []
    labels = {str(k): str(v) for k, v in (item.get("Labels") or {}).items()}
    created = item.get("Created")
    pid = int(item.get("Pid") or 0)
    return Container(
        id=str(item.get("Id", "")),
        name=str(names[0]) if names else str(item.get("Id", ""))[:12],
        runtime="podman",
        image=str(item.get("Image") or ""),
        status=str(item.get("State") or "unknown"),
        pid=pid or None,
        created=float(created) if isinstance(created, int | float) and created > 0 else None,
        labels=labels,
        pod=str(item.get("PodName") or ""),
        ports=_published(item.get("Ports")),
        metadata={"podman": {**item, "source": "podman ps"}},
        **_ps_last_state(item),
    )


def _ps_last_state(item: dict[str, Any]) -> dict[str, Any]:
    """Return the last-state fields ``podman ps --format json`` gives (epoch seconds)."""

    def moment(key: str) -> float | None:
        value = item.get(key)
        return float(value) if isinstance(value, int | float) and value > 0 else None

    code, count = item.get("ExitCode"), item.get("Restarts")
    exited = item.get("Exited") is True
    return {
        "exit_code": code if exited and type(code) is int else None,
        "restart_count": count if type(count) is int else None,
        "started_at": moment("StartedAt"),
        "finished_at": moment("ExitedAt") if exited else None,
    }


class PodmanRuntime(Runtime):
    """Root's podman containers and every user's rootless ones, read without starting podman
    when the storage is readable."""

    name = "podman"
    richness = 90
    supports_exec = True
    supports_logs = True

    def __init__(self, timeout: float = 2.0) -> None:
        super().__init__(timeout)
        self.root = graph_root()
        #: Rootless stores (``runtimes.rootless``): every user's as root, one's own otherwise.
        self.stores: builtins.list[Store] | None = None

    def user_stores(self) -> builtins.list[Store]:
        if self.stores is None:
            from debugtool.runtimes.rootless import user_stores

            self.stores = user_stores()
        return self.stores

    def store_of(self, container: Container) -> Store | None:
        """Return the rootless store ``container`` is in (None: root's podman)."""
        if not container.owner:
            return None
        for store in self.user_stores():
            if store.owner == container.owner:
                return store
        raise RuntimeUnavailable(
            self.name, f"the podman storage of user {container.owner} is no longer there"
        )

    def present(self) -> bool:
        if os.geteuid() != 0:  # root's storage is root's alone: only the user's own counts
            return bool(self.user_stores())
        return (
            os.path.exists(f"{self.root}/overlay-containers/containers.json")
            or any(os.access(f"{d}/podman", os.X_OK) for d in os.get_exec_path())
            or bool(self.user_stores())
        )

    def list(self, all: bool = False) -> list[Container]:
        """Return podman's containers: root's, then each user's rootless ones. Raises
        ``RuntimeUnavailable`` when neither root's storage files nor ``podman ps`` (within
        ``timeout``) answer and no user's store holds any."""
        self.warnings = []
        found: builtins.list[Container] = []
        stores = self.user_stores()
        if os.geteuid() == 0:
            try:
                found = self._list_store(self.root, None)
            except (OSError, ValueError):
                try:
                    found = [container_from_ps(item) for item in self._podman_ps()]
                except RuntimeUnavailable as exc:
                    if not stores:
                        raise
                    self.warnings.append(f"{exc.reason}; root's containers are not listed.")
        for store in stores:
            try:
                found += self._list_store(store.graph_root, store)
            except (OSError, ValueError) as exc:
                why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                self.warnings.append(
                    f"cannot read the podman storage of user {store.owner} ({why}); "
                    "their containers are not listed."
                )
        if not all:
            found = [c for c in found if c.status in ("running", "paused")]
        return found

    def _list_store(self, root: str, store: Store | None) -> builtins.list[Container]:
        """Return the containers of one storage (root's, or a user's ``store``). Raises
        ``OSError`` or ``ValueError`` when its containers.json cannot be read."""
        records = read_storage(root)
        states: dict[str, dict[str, Any]] = {}
        try:
            libpod, states = libpod_database(root) if records else ({}, {})
        except FileNotFoundError:
            libpod = {}  # containers of buildah or CRI-O's storage only: nothing to miss
        except (OSError, ValueError) as exc:
            libpod = {}
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            whose = f" of user {store.owner}" if store is not None else ""
            self.warnings.append(
                f"cannot read libpod's database{whose} ({why}); containers are listed without "
                "their labels and pods."
            )
        return [
            container_from_storage(
                r,
                root,
                libpod.get(str(r.get("id")), ({}, "", [])),
                states.get(str(r.get("id"))),
                store,
            )
            for r in records
        ]

    def _podman_ps(self) -> builtins.list[dict[str, Any]]:
        data = self._podman("ps", "-a", "--format", "json")
        try:
            items = jsonc.loads(data or b"[]")
        except ValueError:
            raise RuntimeUnavailable(self.name, "podman ps did not print JSON") from None
        return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []

    def _podman(self, *args: str, store: Store | None = None) -> bytes:
        """Run podman with ``args`` (as ``store``'s user when given); return its stdout.

        Raises ``RuntimeUnavailable``.
        """
        import subprocess

        try:
            proc = subprocess.run(
                ["podman", *args],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=self.timeout,
                **as_user(store),
            )
        except FileNotFoundError:
            raise RuntimeUnavailable(self.name, "podman is not installed") from None
        except subprocess.TimeoutExpired:
            raise RuntimeUnavailable(
                self.name, f"podman {args[0]} did not finish within {self.timeout:g}s"
            ) from None
        except OSError as exc:
            raise RuntimeUnavailable(self.name, f"cannot run podman: {exc.strerror}") from None
        if proc.returncode != 0:
            message = proc.stderr.decode(errors="replace").strip().splitlines()
            raise RuntimeUnavailable(
                self.name,
                f"podman {args[0]} exited {proc.returncode}: {message[-1] if message else ''}",
            )
        return proc.stdout

    def inspect(self, container: Container) -> dict:
        """Return ``podman inspect`` of the container (run as its owner for a rootless one).

        Raises ``ContainerGone`` when podman no longer knows it, ``RuntimeUnavailable`` otherwise.
        """
        try:
            data = self._podman(
                "container", "inspect", container.id, store=self.store_of(container)
            )
        except RuntimeUnavailable as exc:
            if "no such container" in exc.reason.lower():
                raise ContainerGone(
                    f"podman no longer knows container {container.name} ({container.short_id}).",
                    "List the current ones with 'debugtool ps -a'.",
                ) from None
            raise
        try:
            items = jsonc.loads(data)
        except ValueError:
            raise RuntimeUnavailable(self.name, "podman inspect did not print JSON") from None
        return items[0] if isinstance(items, list) and items else {}

    def exec(self, container: Container, request: ExecRequest, stdio: Stdio) -> int:
        """Run ``podman exec``: as root for root's container, as its owner for a rootless one
        (with the owner's ids and groups and a clean environment; see ``client.run_client``)."""
        store = self.store_of(container)
        if store is None or os.geteuid() != 0:
            return super().exec(container, request, stdio)
        from debugtool.runtimes.client import run_client

        argv = list(self.exec_argv(container, request))
        return run_client(self.name, argv, request, stdio, as_user=store)

    def exec_argv(self, container: Container, request: ExecRequest) -> Sequence[str]:
        """Return a ``podman exec`` command line for ``request``."""
        argv = ["podman", "exec"]
        if request.interactive:
            argv.append("-i")
        if request.tty:
            argv.append("-t")
        if request.user:
            argv += ["-u", request.user]
        if request.workdir:
            argv += ["-w", request.workdir]
        for key, value in request.env.items():
            argv += ["-e", f"{key}={value}"]
        return [*argv, container.id, *request.argv]

    def logs(
        self, container: Container, tail: int | None = None, since: float | None = None
    ) -> bytes:
        """Return the container's output as ``TIMESTAMP MESSAGE`` lines, oldest first.

        Reads the k8s-file log in the container's userdata directory (podman's default log
        driver); for other drivers, ``podman logs`` answers (as the owner of a rootless
        container). Raises ``RuntimeUnavailable``.
        """
        from debugtool.runtimes.containerd import read_cri_log

        store = self.store_of(container)
        root = store.graph_root if store is not None else self.root
        path = f"{containers_dir(root)}/{container.id}/userdata/ctr.log"
        if os.path.exists(path):
            return read_cri_log(path, tail, since)
        args = ["logs", "--timestamps"]
        if tail is not None:
            args += ["--tail", str(tail)]
        if since is not None:
            args += ["--since", f"{since:.3f}"]
        return self._podman(*args, container.id, store=store)


def as_user(store: Store | None) -> dict[str, Any]:
    """Return ``subprocess`` arguments that run podman as ``store``'s user: its uid, gid and
    groups, its environment alone, in ``/`` (nothing of root's: not even the working
    directory). Empty for root's podman, or when this process is not root (it is the user)."""
    if store is None or os.geteuid() != 0:
        return {}
    from debugtool.runtimes.rootless import groups_of

    return {
        "user": store.uid,
        "group": store.gid,
        "extra_groups": groups_of(store),
        "env": store.environment(),
        "cwd": "/",
    }
