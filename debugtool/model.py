"""The data model every part of debugtool shares: containers, with a JSON round-trip.

The runtimes produce these records, the CLI, the TUI and the bundle writer read them, and the
bundle reader rebuilds them, so a record written with ``to_json`` and read back with
``from_json`` is equal to the original. A Snapshot's records (processes, mounts, sockets...)
live in ``debugtool.snapshot``: ``ps``, exec and every command that only lists or resolves
containers do not build their fifteen classes (0.3-0.6 ms a start).
"""

from __future__ import annotations

from debugtool.record import FIELDS, field, fields, is_record, record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TypeVar

    T = TypeVar("T")

__all__ = ["Container", "Port", "RunState", "from_dict", "to_dict"]

#: Types ``to_dict`` passes through as they are (checked by exact type: the common case).
_PLAIN = frozenset({str, int, float, bool, type(None)})


def to_dict(obj: Any) -> Any:
    """Return plain JSON-ready data (dicts, lists, str, numbers) for a model object.

    It walks every value of a Snapshot (ten thousand sockets are a quarter of a million), so
    plain values are passed through without a call.
    """
    cls = type(obj)
    if cls in _PLAIN:
        return obj
    if cls is list:
        return [v if type(v) in _PLAIN else to_dict(v) for v in obj]
    names = getattr(cls, FIELDS, None)
    if names is None or isinstance(obj, type):
        if isinstance(obj, dict):
            return {str(k): to_dict(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [to_dict(v) for v in obj]
        return obj
    out = {}
    for name in names:
        value = getattr(obj, name)
        out[name] = value if type(value) in _PLAIN else to_dict(value)
    return out


def _convert(tp: Any, value: Any) -> Any:
    """Rebuild ``value`` (plain JSON data) as type ``tp``.

    Raises ``TypeError`` for a value of another kind than ``tp`` says (text where a number
    belongs, an object where a list does): a bundle or a node's answer is data from elsewhere,
    and a field of the wrong kind must be refused where it is read, not fail far from it.
    """
    import types
    import typing

    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _convert(args[0], value) if len(args) == 1 else value
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise TypeError(f"{_kind(value)} where a list belongs")
        (arg, *_) = typing.get_args(tp) or (Any,)
        items = [_convert(arg, v) for v in value]
        return items if origin is list else tuple(items)
    if origin is dict:
        if not isinstance(value, dict):
            raise TypeError(f"{_kind(value)} where an object belongs")
        _, varg = typing.get_args(tp) or (str, Any)
        return {k: _convert(varg, v) for k, v in value.items()}
    if isinstance(tp, type) and is_record(tp):
        if not isinstance(value, dict):
            raise TypeError(f"{_kind(value)} where an object belongs")
        return from_dict(tp, value)
    if tp is float and type(value) is int:
        return float(value)
    if tp in _SCALARS and not (isinstance(value, tp) and (tp is bool or type(value) is not bool)):
        raise TypeError(f"{_kind(value)} where {_SCALARS[tp]} belongs")
    return value


#: The JSON kinds a record's plain fields take, as ``_convert`` names them.
_SCALARS = {int: "a whole number", float: "a number", str: "text", bool: "true or false"}


def _kind(value: Any) -> str:
    """Name the JSON kind of ``value`` for an error."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    return "a list" if isinstance(value, list) else "an object"


def from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Rebuild a model record from ``to_dict`` output; unknown keys are ignored."""
    import typing  # reading a bundle, not on a command's start

    hints = typing.get_type_hints(cls, localns={"Any": typing.Any})  # Any: for type checkers only
    kwargs = {}
    for name in fields(cls):
        if name in data:
            try:
                kwargs[name] = _convert(hints[name], data[name])
            except TypeError as exc:
                raise TypeError(f"{name}: {exc}") from None
    return cls(**kwargs)


@record
class Port:
    """A port of a container published on the host (``docker run -p 127.0.0.1:18099:8099``).

    ``host_ip`` is the address it is published on ("" or ``0.0.0.0``/``::``: every address).
    The host-side fields say who answers on the host, filled when a command looks
    (``collect.ports.find_listeners``; the runtimes' lists leave them unknown): ``listener``
    is "" (not looked at), ``process`` (a host process listens: docker-proxy, rootlessport,
    conmon ...), or ``nat`` (nothing listens: the runtime's NAT rule alone forwards it).
    """

    container_port: int
    protocol: str = "tcp"  # tcp, udp or sctp
    host_ip: str = ""
    host_port: int = 0
    listener: str = ""  # "", "process" or "nat"
    host_pids: list[int] = field(default_factory=list)  # host processes listening on it
    host_process: str = ""  # the first one's name


@record
class RunState:
    """How one run (a CRI attempt) of a container went, as its runtime recorded it.

    Times are seconds since the epoch (None: unknown, or not yet). ``exit_code`` is None while
    the run goes on or when the runtime did not say; ``reason`` is the runtime's own word
    (CRI's ``OOMKilled``, ``Error``, ``Completed``) when it has one.
    """

    started_at: float | None = None
    finished_at: float | None = None
    exit_code: int | None = None
    oom_killed: bool = False
    reason: str = ""
    attempt: int | None = None  # CRI: the attempt this run was
    container_id: str = ""  # CRI: the container that ran it (each attempt is one)


@record
class Container:
    """One container (or sandbox) as the runtimes describe it.

    ``runtime`` is the backend with the richest metadata; ``backends`` lists every backend that
    knows the container (Docker over containerd over runc sees one container three times).

    The last state says how its latest run went, where the runtime keeps that record (Docker,
    podman, containerd and CRI): ``exit_code`` and ``oom_killed`` of the last run that ended
    (None and False while the first still runs, or when unknown), ``restart_count`` (restarts
    by a restart policy, or a CRI container's attempt number), ``started_at`` and
    ``finished_at`` (epoch seconds) of the latest run; for CRI, ``attempt`` and the previous
    attempt's ``previous`` state.
    """

    id: str
    name: str
    runtime: str
    image: str = ""
    status: str = "unknown"  # running, paused, created, exited, stopped, unknown
    pid: int | None = None
    created: float | None = None  # seconds since the epoch
    labels: dict[str, str] = field(default_factory=dict)
    namespace: str = ""  # containerd namespace (moby, k8s.io, ...)
    pod: str = ""  # Kubernetes pod name
    pod_namespace: str = ""  # Kubernetes namespace
    k8s_container: str = ""  # Kubernetes container name
    backends: list[str] = field(default_factory=list)
    bundle: str = ""  # OCI bundle directory, when known
    rootfs: str = ""  # root filesystem path on the host, when known
    oci_root: str = ""  # --root of the OCI runtime (runc/crun) that runs it, when known
    oci_runtime: str = ""  # runc or crun, when known
    pidns: int | None = None  # inode of the init process's PID namespace
    ports: list[Port] = field(default_factory=list)  # published on the host, when known
    metadata: dict[str, Any] = field(default_factory=dict)  # each backend's raw record
    exit_code: int | None = None  # of the last run that ended
    oom_killed: bool = False  # the kernel OOM-killed a process of the last run
    restart_count: int | None = None
    started_at: float | None = None  # seconds since the epoch: the latest run's start
    finished_at: float | None = None  # the last run's end
    attempt: int | None = None  # CRI: this container's attempt number (0 first)
    previous: RunState | None = None  # CRI: the previous attempt, when it is still known
    # The host user whose rootless runtime runs it ("" for root's runtimes: Docker, containerd,
    # runc, root's podman). Tables show "" as root.
    owner: str = ""

    @property
    def short_id(self) -> str:
        """The id shortened as ``docker ps`` shows it (12 characters)."""
        return self.id[:12]

    @property
    def running(self) -> bool:
        return self.status in ("running", "paused") and bool(self.pid)

    def to_json(self) -> str:
        import json

        return json.dumps(to_dict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Container:
        import json

        return from_dict(cls, json.loads(text))
