"""runc and crun backends: containers read from the OCI runtimes' own state directories.

Neither runtime has a daemon; each keeps one directory per container under its ``--root``:
runc writes ``<root>/<id>/state.json`` (libcontainer's state: init PID and start time, cgroup
paths, the converted config), crun writes ``<root>/<id>/status`` plus a copy of the bundle's
``config.json``. Docker and containerd drive runc with roots of their own, one per containerd
namespace (``/run/docker/runtime-runc/moby``, ``/run/containerd/runc/<namespace>``), so their
containers are found here too, under the same id; ``merge()`` folds them into the richer record.

Liveness follows the runtimes' own rule: the container runs while its init PID is alive, not a
zombie, and has the start time (field 22 of ``/proc/PID/stat``) that was recorded, so a reused
PID never counts. ``exec.fifo`` in the state directory means created-not-started; a frozen
freezer cgroup means paused.
"""

from __future__ import annotations

import builtins
import errno
import os
import stat

from debugtool import jsonc, procfs
from debugtool.errors import CommandNotInvokable, ExecUnsupported, RuntimeUnavailable
from debugtool.model import Container
from debugtool.record import record
from debugtool.runtimes.base import ExecRequest, Runtime
from debugtool.runtimes.liveness import (
    ProcState,
    host_pid,
    liveness,
    parse_created,
    proc_stat,
    read_regular,
    read_small,
    start_ticks,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from typing import Any, ClassVar

    #: Reads a process's state (None: it is gone). Test doubles may return a plain
    #: ``(state, start)`` pair.
    ProcStat = Callable[[int], "ProcState | tuple[str, int] | None"]
    ReadSmall = Callable[[str], "str | None"]


#: Extra state roots, colon-separated; the global ``--oci-root`` flag sets it.
ROOTS_ENV = "DEBUGTOOL_OCI_ROOTS"

#: runc's default root, Docker's per-namespace roots, containerd's per-namespace roots.
RUNC_ROOTS = ("/run/runc", "/run/docker/runtime-runc/*", "/run/containerd/runc/*")
#: crun's default root (podman's, CRI-O's), Docker's for a runtime named crun, and containerd's
#: runc shim roots, which keep crun's status files when the shim runs crun (BinaryName=crun).
#: Each backend takes only directories holding its own state file.
CRUN_ROOTS = ("/run/crun", "/run/docker/runtime-crun/*", "/run/containerd/runc/*")

#: A state file larger than this is not a state file (runc's are a few KiB).
_MAX_STATE = 4 << 20
#: A state root with more entries that are not containers than this gets one warning for all of
#: them (``--oci-root /proc`` would otherwise print one line per process).
_MAX_SKIP_WARNINGS = 5


@record(frozen=True)
class StateRoot:
    """One ``--root`` directory of an OCI runtime, and the containerd namespace it serves."""

    path: str
    namespace: str = ""


def namespace_of(root: str) -> str:
    """Return the containerd namespace a state root serves, from its path (``moby``), or ''.

    Docker's ``/run/docker/runtime-runc/moby`` and containerd's ``/run/containerd/runc/k8s.io``
    name the namespace in their last component; a plain ``/run/runc`` serves none.
    """
    parent, base = os.path.split(os.path.normpath(root))
    parent_base = os.path.basename(parent)
    if parent_base in ("runtime-runc", "runtime-crun"):
        return base
    if parent_base in ("runc", "crun") and os.path.basename(os.path.dirname(parent)) in (
        "containerd",
        "docker",
    ):
        return base
    return ""


def state_roots(defaults: Iterable[str], env: str | None = None) -> list[StateRoot]:
    """Return the existing state roots: ``defaults`` (``DIR/*`` allowed) plus ``ROOTS_ENV``'s.

    Duplicates (the same directory by two paths) are dropped; a missing directory is no error.
    A directory is known by its device and inode, one ``stat`` each: ``os.path.realpath`` made
    an ``lstat`` per path component, for every containerd namespace on the host.
    """
    extra = (os.environ.get(ROOTS_ENV, "") if env is None else env).split(":")
    seen: set[tuple[int, int]] = set()
    roots: list[StateRoot] = []
    candidates: list[str] = []
    for pattern in defaults:
        candidates += _expand(pattern)
    candidates += [p for p in extra if p]
    for path in candidates:
        try:
            info = os.stat(path)
        except (OSError, ValueError):
            continue
        key = (info.st_dev, info.st_ino)
        if key in seen or not stat.S_ISDIR(info.st_mode):
            continue
        seen.add(key)
        roots.append(StateRoot(path, namespace_of(path)))
    return roots


def _expand(pattern: str) -> list[str]:
    """Return ``pattern``, or for ``DIR/*`` the directories in DIR (one per namespace)."""
    if not pattern.endswith("/*"):
        return [pattern]
    parent = pattern[:-2]
    try:
        return sorted(e.path for e in os.scandir(parent) if e.is_dir())
    except OSError:
        return []


def _frozen(paths: Iterable[str], read: ReadSmall) -> bool:
    """Return whether any of the candidate freezer files says the cgroup is frozen."""
    for path in paths:
        value = read(path)
        if value is not None and value.strip() in ("FROZEN", "1"):
            return True
    return False


def _status(
    state_dir: str,
    pid: Any,
    start: Any,
    freezer_files: list[str],
    stat_of: ProcStat,
    read: ReadSmall,
) -> str:
    """Return running, paused, created or stopped, by the runtimes' own rule."""
    if not liveness(pid, start, stat_of):
        return "stopped"
    if os.path.lexists(os.path.join(state_dir, "exec.fifo")):
        return "created"
    if _frozen(freezer_files, read):
        return "paused"
    return "running"


def _read_state(path: str) -> bytes:
    """Return a state file's bytes; raise ``ValueError`` (not a regular file, too large) or
    ``OSError``. A FIFO or device planted in a state root never blocks the scan."""
    return read_regular(path, _MAX_STATE)


def _load_json(path: str) -> Any:
    """Return the JSON in ``path``; raise ``ValueError`` (bad JSON, nested too deeply to decode,
    too large) or ``OSError``."""
    data = _read_state(path)
    try:
        return jsonc.loads(data)
    except RecursionError:
        raise ValueError("not valid JSON (nested too deeply)") from None


#: The runc state.json fields debugtool reads, as (key, in config?, where to look from).
#: libcontainer writes its State struct in field order: id, init_process_pid,
#: init_process_start, created, then config (rootfs among its first keys, hostname after mounts
#: and devices, labels among its last, after the seccomp profile), then a short tail with
#: cgroup_paths. So the first occurrence is the one for the head keys, the last for the others.
_RUNC_FIELDS = (
    ("id", False, "first"),
    ("init_process_pid", False, "first"),
    ("init_process_start", False, "first"),
    ("created", False, "first"),
    ("rootfs", True, "first"),
    ("hostname", True, "first"),
    ("labels", True, "last"),
    ("cgroup_paths", False, "last"),
)


def skim_runc_state(raw: bytes) -> dict[str, Any] | None:
    """Return only the fields debugtool reads from a runc ``state.json``, or None to decode it
    whole.

    Docker's state.json is about 30 KiB, 24 KiB of it the seccomp profile, and decoding all of
    it costs 0.2-0.5 ms a container, the largest part of ``ps`` on a busy host. The bytes
    ``"key":`` can only be a key (a quote inside a string is escaped), and none of the wanted
    keys occurs in a nested object of libcontainer's document, so each value is decoded where
    its key stands, found from the end of the document it is nearest (a few KiB scanned, not
    30). Text that is not one object, or a value that does not decode, means: decode it all.
    A unit test checks the result against the full decode on every captured state file.
    """
    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        return None
    if not (text.startswith('{"id":') and text.endswith("}")):
        return None
    top: dict[str, Any] = {}
    config: dict[str, Any] = {}
    for key, in_config, where in _RUNC_FIELDS:
        needle = f'"{key}":'
        at = text.find(needle) if where == "first" else text.rfind(needle)
        if at < 0:
            continue
        start = at + len(needle)
        while text[start] in " \t\r\n":
            start += 1
        try:
            value, end = jsonc.raw_decode(text, start)
        except (ValueError, RecursionError):
            return None
        if text[end : end + 1] not in (",", "}"):  # a member ends there, or it did not decode
            return None
        (config if in_config else top)[key] = value
    top["config"] = config
    return top


def _dict(value: Any) -> dict[str, Any]:
    """Return ``value`` if it is a JSON object, else an empty one (state files vary by version)."""
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    """Return ``value`` if it is a JSON string, else '' (a number or object is no path or name)."""
    return value if isinstance(value, str) else ""


def _checked_process(data: dict[str, Any], pid_key: str, start_key: str) -> tuple[int, int]:
    """Return the init PID and start time a state document records; raise ``ValueError``
    naming the field when either is not one (``host_pid``, ``start_ticks``)."""
    pid = host_pid(data.get(pid_key))
    if pid is None:
        raise ValueError(f"{pid_key} is not a container's process id ({data.get(pid_key)!r:.40})")
    start = start_ticks(data.get(start_key) or 0)
    if start is None:
        raise ValueError(f"{start_key} is not a start time ({data.get(start_key)!r:.40})")
    return pid, start


def _labels(entries: Any) -> tuple[dict[str, str], str]:
    """Split runc's ``config.labels`` (``key=value`` strings) into annotations and the bundle.

    runc stores the spec's annotations there, plus ``bundle=<dir>`` which it adds itself.
    """
    labels: dict[str, str] = {}
    bundle = ""
    if not isinstance(entries, list):
        return labels, bundle
    for entry in entries:
        if not isinstance(entry, str):
            continue
        key, sep, value = entry.partition("=")
        if not sep:
            continue  # runc's utils.Annotations skips these too
        if key == "bundle":
            bundle = value
        else:
            labels[key] = value
    return labels, bundle


def parse_runc_state(
    data: Any,
    root: StateRoot,
    state_dir: str,
    stat_of: ProcStat = proc_stat,
    read: ReadSmall = read_small,
) -> Container:
    """Return the container described by one runc ``state.json`` document.

    Raises ``ValueError`` when ``data`` is not a runc state document (no id; a PID or start
    time of the wrong type, or PID 1).
    """
    if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not data["id"]:
        raise ValueError("no container id")
    config = _dict(data.get("config"))
    cgroup_paths = _dict(data.get("cgroup_paths"))
    labels, bundle = _labels(config.get("labels"))
    pid, start = _checked_process(data, "init_process_pid", "init_process_start")
    freezer = []
    if isinstance(cgroup_paths.get("freezer"), str):
        freezer.append(os.path.join(cgroup_paths["freezer"], "freezer.state"))
    if isinstance(cgroup_paths.get(""), str) and len(cgroup_paths) == 1:
        freezer.append(os.path.join(cgroup_paths[""], "cgroup.freeze"))  # cgroup v2 only
    status = _status(state_dir, pid, start, freezer, stat_of, read)
    cid = data["id"]
    return Container(
        id=cid,
        name=cid,
        runtime="runc",
        status=status,
        pid=pid if status != "stopped" else None,
        created=parse_created(data.get("created")),
        labels=labels,
        namespace=root.namespace,
        bundle=bundle,
        rootfs=_text(config.get("rootfs")),
        oci_root=root.path,
        oci_runtime="runc",
        metadata={
            "runc": {
                "state_dir": state_dir,
                "init_process_pid": pid,
                "init_process_start": start,
                "hostname": _text(config.get("hostname")),
            }
        },
    )


def parse_crun_status(
    data: Any,
    config: Any,
    root: StateRoot,
    state_dir: str,
    stat_of: ProcStat = proc_stat,
    read: ReadSmall = read_small,
) -> Container:
    """Return the container described by crun's ``status`` file and its ``config.json`` copy.

    ``config`` may be None (crun reads the copy only for ``state``'s annotations). Raises
    ``ValueError`` when ``data`` is not a crun status document (crun itself requires ``pid``;
    it must be a container's, ``host_pid``).
    """
    if not isinstance(data, dict) or "pid" not in data:
        raise ValueError("no pid")
    cid = os.path.basename(state_dir)
    pid, start = _checked_process(data, "pid", "process-start-time")
    cgroup = _text(data.get("cgroup-path"))
    freezer = []
    if cgroup:
        # crun's cgroup-path is relative to the cgroup root: v1 freezer, else v2 (or hybrid's).
        rel = cgroup.lstrip("/")
        freezer = [
            os.path.join("/sys/fs/cgroup/freezer", rel, "freezer.state"),
            os.path.join("/sys/fs/cgroup", rel, "cgroup.freeze"),
        ]
    status = _status(state_dir, pid, start, freezer, stat_of, read)
    spec = _dict(config)
    annotations = _dict(spec.get("annotations"))
    labels = {k: v for k, v in annotations.items() if isinstance(v, str)}
    hostname = _text(spec.get("hostname"))
    return Container(
        id=cid,
        name=cid,
        runtime="crun",
        status=status,
        pid=pid if status != "stopped" else None,
        created=parse_created(data.get("created")),
        labels=labels,
        namespace=root.namespace,
        bundle=_text(data.get("bundle")),
        rootfs=_text(data.get("rootfs")),
        oci_root=root.path,
        oci_runtime="crun",
        metadata={
            "crun": {
                "state_dir": state_dir,
                "pid": pid,
                "process-start-time": start,
                "cgroup-path": cgroup,
                "systemd-cgroup": bool(data.get("systemd-cgroup")),
                "owner": _text(data.get("owner")),
                "hostname": hostname,
            }
        },
    )


# --- safe reads inside the container's root ---------------------------------------------------

_SYS_OPENAT2 = 437  # the same number on every architecture (added in Linux 5.6)
_RESOLVE_NO_MAGICLINKS = 0x02
_RESOLVE_IN_ROOT = 0x10


def read_in_root(pid: int, path: str, limit: int = 1 << 20) -> bytes | None:
    """Return a regular file of the container's root, or None when it is not one there.

    Read through ``rootfs.read_file``: every symlink resolves inside ``/proc/PID/root``, and a
    FIFO or a device the container planted there is never opened. Raises
    ``CommandNotInvokable`` when the root cannot be read at all.
    """
    from debugtool import rootfs

    try:
        return rootfs.read_file(procfs.path(pid, "root"), path, limit)
    except rootfs.NotRegularFile:
        return None
    except rootfs.RootfsError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.EISDIR):
            return None
        raise CommandNotInvokable(f"cannot read {path} in the container: {exc.message}") from None


@record
class _Account:
    name: str
    uid: int
    gid: int


def _passwd(text: str) -> list[_Account]:
    accounts = []
    for line in text.splitlines():
        parts = line.split(":")
        if len(parts) >= 4 and parts[2].isdigit() and parts[3].isdigit():
            accounts.append(_Account(parts[0], int(parts[2]), int(parts[3])))
    return accounts


def _groups(text: str) -> list[tuple[str, int, list[str]]]:
    groups = []
    for line in text.splitlines():
        parts = line.split(":")
        if len(parts) >= 3 and parts[2].isdigit():
            members = [m for m in (parts[3].split(",") if len(parts) > 3 else []) if m]
            groups.append((parts[0], int(parts[2]), members))
    return groups


def resolve_user(spec: str, passwd: str | None, group: str | None) -> tuple[int, int, list[int]]:
    """Return ``(uid, gid, additional gids)`` for ``user[:group]`` as ``docker exec -u`` means it.

    Names come from the container's own ``passwd``/``group`` text (None: the file is missing).
    A numeric user needs no entry (gid 0 then, as runc does). Raises ``CommandNotInvokable``
    for a name the container does not know.
    """
    user_part, sep, group_part = spec.partition(":")
    accounts = _passwd(passwd or "")
    groups = _groups(group or "")
    account: _Account | None = None
    if user_part.isdigit():
        uid = int(user_part)
        account = next((a for a in accounts if a.uid == uid), None)
    else:
        account = next((a for a in accounts if a.name == user_part), None)
        if account is None:
            where = "/etc/passwd" if passwd is not None else "a /etc/passwd (the image has none)"
            raise CommandNotInvokable(
                f"unable to find user {user_part}: no matching entry in the container's {where}.",
                "Give a numeric uid[:gid] instead.",
            )
        uid = account.uid
    if sep and group_part:
        if group_part.isdigit():
            gid = int(group_part)
        else:
            found = next((g for g in groups if g[0] == group_part), None)
            if found is None:
                raise CommandNotInvokable(
                    f"unable to find group {group_part}: no matching entry in the "
                    "container's /etc/group.",
                    "Give a numeric gid instead.",
                )
            gid = found[1]
    else:
        gid = account.gid if account else 0
    extra: list[int] = []
    if account is not None and not sep:
        extra = [g[1] for g in groups if account.name in g[2] and g[1] != gid]
    return uid, gid, sorted(set(extra))


class _OCIRuntime(Runtime):
    """What runc and crun share: scanning state roots, exec through the binary."""

    richness: ClassVar[int] = 20
    reads_files: ClassVar[bool] = True
    supports_exec: ClassVar[bool] = True
    #: The state file in each container's directory (``state.json`` or ``status``).
    state_file: ClassVar[str] = ""
    default_roots: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        timeout: float = 2.0,
        roots: Sequence[str] | None = None,
        stat_of: ProcStat = proc_stat,
        read: ReadSmall = read_small,
    ) -> None:
        """``roots`` replaces the default and ``ROOTS_ENV`` roots; ``stat_of`` and ``read`` are
        how liveness and freezer state are read (the host's ``/proc`` and cgroup files)."""
        super().__init__(timeout)
        self._roots = roots
        self.stat_of = stat_of
        self.read = read

    def roots(self) -> builtins.list[StateRoot]:
        """Return the state roots to scan (the defaults that exist, plus ``ROOTS_ENV``)."""
        if self._roots is not None:
            return state_roots(self._roots, env="")
        return state_roots(self.default_roots)

    def present(self) -> bool:
        return bool(self.roots())

    def list(self, all: bool = False) -> list[Container]:
        """Return the containers of every state root. A state file that cannot be read or is
        not one (bad JSON, wrong types) is skipped with a warning; the others are listed."""
        self.warnings = []
        found: list[Container] = []
        refused: list[str] = []
        roots = self.roots()
        for root in roots:
            try:
                entries = list(os.scandir(root.path))
            except PermissionError:
                refused.append(root.path)
                continue
            except OSError:
                continue  # the root vanished (a containerd namespace removed meanwhile)
            skipped: list[str] = []
            for entry in entries:
                if entry.name.startswith("."):
                    continue  # crun's .empty-directory and friends
                container = self._read(root, entry.path, skipped)
                if container is not None and (all or container.status != "stopped"):
                    found.append(container)
            self.warnings += self._skip_warnings(root.path, skipped)
        if refused and len(refused) == len(roots):
            raise RuntimeUnavailable(
                self.name,
                f"no permission to read {', '.join(refused)}",
                "Run debugtool as root.",
            )
        for path in refused:
            self.warnings.append(f"no permission to read state root {path}; skipped.")
        return found

    def _read(
        self, root: StateRoot, state_dir: str, skipped: builtins.list[str]
    ) -> Container | None:
        """Return the container in one state directory, None when it holds none (or is broken:
        then ``skipped`` gets the file and why)."""
        path = os.path.join(state_dir, self.state_file)
        try:
            return self.parse(root, state_dir, _load_json(path))
        except FileNotFoundError:
            return None  # not a container directory, or one being created or deleted
        except NotADirectoryError:
            return None  # a socket or file beside the container directories
        except Exception as exc:  # noqa: BLE001 - whatever is in one file, the others are listed
            from debugtool import debuglog

            debuglog.log(__name__, "skipping %s", path, exc_info=True)
            skipped.append(f"{path}: {_reason(exc)}")
            return None

    def _skip_warnings(self, root: str, skipped: builtins.list[str]) -> builtins.list[str]:
        """Return one warning per skipped state file, or one for all of them when there are
        more than a few (a directory that is not a state root: ``--oci-root /proc``)."""
        if len(skipped) <= _MAX_SKIP_WARNINGS:
            return [f"skipping {what}." for what in skipped]
        examples = "; ".join(skipped[:3])
        return [
            f"skipped {len(skipped):,} entries of {root} that hold no {self.name} state it "
            f"can read (not a state root?); the first: {examples}."
        ]

    def parse(self, root: StateRoot, state_dir: str, data: Any) -> Container:
        raise NotImplementedError

    def inspect(self, container: Container) -> dict:
        """Return the full state document (and crun's config copy) as the runtime keeps it."""
        meta = container.metadata.get(self.name, {})
        state_dir = meta.get("state_dir") or os.path.join(container.oci_root, container.id)
        try:
            return {self.state_file: _load_json(os.path.join(state_dir, self.state_file))}
        except (OSError, ValueError) as exc:
            raise RuntimeUnavailable(
                self.name, f"cannot read the state of {container.id}: {_reason(exc)}"
            ) from None

    def exec_argv(self, container: Container, request: ExecRequest) -> Sequence[str]:
        """Return ``RUNTIME --root ROOT exec [-t] [-u uid:gid] [--cwd D] [--env K=V] ID ARGV``.

        Without ``-t`` the command's stdin, stdout and stderr are the caller's. With ``-t``
        runc (1.1, checked here) makes the container's pty itself and relays it, so no
        ``--console-socket`` is needed when not detached, but it must find a terminal of its
        own: stdin, stdout or stderr a tty, else ``/dev/tty``. Run from a pipe it fails with
        "open /dev/tty: no such device or address"; run it on a pty (``pty.fork``) and it
        works. crun's ``exec -t`` is assumed to behave alike (crun cannot run containers on
        this host's hybrid cgroups to check). Names in ``user`` are resolved through the
        container's own ``/etc/passwd`` and ``/etc/group`` (runc and crun take numbers only).

        Raises ``ExecUnsupported`` when the binary is not installed or the container is not
        running, ``CommandNotInvokable`` for a user or group name the container does not know.
        """
        import shutil

        binary = shutil.which(self.name)
        if binary is None:
            raise ExecUnsupported(
                f"{self.name} is not installed, so its containers cannot be entered through it.",
                "Install it, or use --mode ns.",
            )
        if not container.running:
            # "running" without a PID: it stopped after its runtime answered (a restart loop).
            state = (
                f"has no process now, though its runtime says {container.status}"
                if container.status in ("running", "paused")
                else f"is not running (status: {container.status})"
            )
            raise ExecUnsupported(f"container {container.name} {state}.")
        root = container.oci_root or self.default_roots[0]
        argv = [binary, "--root", root, "exec"]
        if request.tty:
            argv.append("-t")
        if request.user:
            uid, gid, extra = self._user(container, request.user)
            argv += ["--user", f"{uid}:{gid}"]
            if self.name == "runc":  # crun exec has no --additional-gids
                for extra_gid in extra:  # one flag per gid: runc parses an int64 slice
                    argv += ["--additional-gids", str(extra_gid)]
        if request.workdir:
            argv += ["--cwd", request.workdir]
        for key, value in request.env.items():
            argv += ["--env", f"{key}={value}"]
        argv += [container.id, *request.argv]
        return argv

    def _user(self, container: Container, spec: str) -> tuple[int, int, builtins.list[int]]:
        """Resolve ``spec`` against the container's own account files (read safely)."""
        user, _, group = spec.partition(":")
        if user.isdigit() and group.isdigit():
            return int(user), int(group), []  # nothing to look up
        assert container.pid is not None
        passwd = read_in_root(container.pid, "/etc/passwd")
        groups = read_in_root(container.pid, "/etc/group")
        return resolve_user(
            spec,
            passwd.decode("utf-8", "replace") if passwd is not None else None,
            groups.decode("utf-8", "replace") if groups is not None else None,
        )


def _reason(exc: BaseException) -> str:
    if isinstance(exc, jsonc.DecodeError):
        return f"not valid JSON ({exc.msg} at line {exc.lineno})"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc) or type(exc).__name__


class RuncRuntime(_OCIRuntime):
    """Containers in runc state roots: runc's own, Docker's and containerd's (per namespace)."""

    name = "runc"
    state_file = "state.json"
    default_roots = RUNC_ROOTS

    def _read(
        self, root: StateRoot, state_dir: str, skipped: builtins.list[str]
    ) -> Container | None:
        path = os.path.join(state_dir, self.state_file)
        try:
            data = skim_runc_state(_read_state(path))
            if data is not None:
                return parse_runc_state(data, root, state_dir, self.stat_of, self.read)
        except Exception:  # noqa: BLE001 - the full read below says what is wrong
            pass
        return super()._read(root, state_dir, skipped)

    def parse(self, root: StateRoot, state_dir: str, data: Any) -> Container:
        return parse_runc_state(data, root, state_dir, self.stat_of, self.read)


class CrunRuntime(_OCIRuntime):
    """Containers in crun state roots (``/run/crun``, podman's and CRI-O's default for crun)."""

    name = "crun"
    state_file = "status"
    default_roots = CRUN_ROOTS

    def parse(self, root: StateRoot, state_dir: str, data: Any) -> Container:
        try:
            config = _load_json(os.path.join(state_dir, "config.json"))
        except (OSError, ValueError):
            config = None  # crun itself only needs it for annotations
        return parse_crun_status(data, config, root, state_dir, self.stat_of, self.read)

    def inspect(self, container: Container) -> dict:
        record = super().inspect(container)
        state_dir = container.metadata.get("crun", {}).get("state_dir", "")
        try:
            record["config.json"] = _load_json(os.path.join(state_dir, "config.json"))
        except (OSError, ValueError):
            pass
        return record
