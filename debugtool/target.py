"""Resolve what the user typed to one live target, pinned by a pidfd so a reused PID is never it.

Accepted forms: a full id, a unique id prefix, a name, ``RUNTIME:NAME`` (or ``RUNTIME:ID``;
``containerd:NAMESPACE/NAME`` for a name taken in several containerd namespaces), ``pid:N``, and
for Kubernetes ``pod/NAME[/CONTAINER]`` (``pod/NAMESPACE/NAME/CONTAINER`` also works).
"""

from __future__ import annotations

import os

from debugtool import procfs
from debugtool.errors import (
    AmbiguousTarget,
    ContainerGone,
    ContainerNotFound,
    ContainerNotRunning,
    PermissionDenied,
    UsageError,
)
from debugtool.model import Container
from debugtool.record import field, record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from debugtool.runtimes import Discovery

CAP_SYS_PTRACE = 19
CAP_SYS_ADMIN = 21
_CAP_NAMES = {CAP_SYS_PTRACE: "CAP_SYS_PTRACE", CAP_SYS_ADMIN: "CAP_SYS_ADMIN"}


def require_privileges(
    caps: tuple[int, ...] = (CAP_SYS_ADMIN, CAP_SYS_PTRACE), what: str = "to look into containers"
) -> None:
    """Raise ``PermissionDenied`` unless this process holds every capability in ``caps``
    (``what``: what they are needed for, in the sentence)."""
    status = procfs.parse_status(procfs.read_text("self", "status"))
    effective = int(status.get("CapEff", "0"), 16)
    missing = [_CAP_NAMES.get(c, f"capability {c}") for c in caps if not effective >> c & 1]
    if missing:
        raise PermissionDenied(
            f"debugtool needs {' and '.join(missing)} {what}, and this process does not have them.",
            need=",".join(missing),
            hint="Run it as root, for example with sudo.",
        )


#: What a user who is not root can read: their own rootless podman's containers, and sandboxes
#: among their own processes. Everything of root's runtimes (Docker, containerd, runc, root's
#: podman), ns and toolbox exec, trace of other users' processes and bundles need root.
OWN_RUNTIMES = ("podman", "none")


def has_privileges(caps: tuple[int, ...] = (CAP_SYS_ADMIN, CAP_SYS_PTRACE)) -> bool:
    """Return whether this process holds every capability in ``caps``."""
    try:
        require_privileges(caps)
    except PermissionDenied:
        return False
    return True


def caller_runtimes(requested: list[str] | None) -> list[str] | None:
    """Return the runtimes this process may ask: ``requested`` (None: every one) with root's
    privileges; without them, those of ``OWN_RUNTIMES`` (a user's own rootless containers).

    Raises ``PermissionDenied`` when a user who is not root asked only for root's runtimes.
    """
    if has_privileges():
        return requested
    allowed = [r for r in (requested or OWN_RUNTIMES) if r in OWN_RUNTIMES]
    if not allowed:
        raise PermissionDenied(
            f"only root can look into {', '.join(requested or ())} containers; as a user, "
            "debugtool sees that user's own rootless podman containers.",
            need="CAP_SYS_ADMIN,CAP_SYS_PTRACE",
            hint="Run it as root (for example with sudo), or ask for --runtime podman.",
        )
    return allowed


@record
class Target:
    """A running container resolved to its init process, pinned by a pidfd.

    ``pid`` is the host PID; ``start_time`` (clock ticks since boot) and the pidfd together make
    sure a PID reused after the container exits is never mistaken for it.
    """

    container: Container
    pid: int
    start_time: int
    pidfd: int | None
    namespaces: dict[str, int] = field(default_factory=dict)
    cgroup: dict[str, str] = field(default_factory=dict)

    @property
    def root(self) -> str:
        """The container's root filesystem as the host sees it (``/proc/PID/root``)."""
        return procfs.path(self.pid, "root")

    @property
    def name(self) -> str:
        return self.container.name

    def alive(self) -> bool:
        """Return whether the pinned process still runs (and is the same process)."""
        if self.pidfd is not None:
            try:
                # A pidfd polls readable once its process has exited.
                import select

                poller = select.poll()
                poller.register(self.pidfd, select.POLLIN)
                if poller.poll(0):
                    return False
            except OSError:
                return False
        try:
            return procfs.start_time(self.pid) == self.start_time
        except procfs.ProcessGone:
            return False

    def check(self) -> None:
        """Raise ``ContainerGone`` if the container's process has exited."""
        if not self.alive():
            raise ContainerGone(
                f"container {self.container.name} ({self.container.short_id}) has exited.",
                "Check its status with 'debugtool ps -a'.",
            )

    def close(self) -> None:
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None

    def __enter__(self) -> Target:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def pin(container: Container, pid: int | None = None) -> Target:
    """Pin a running container's process (its init, or ``pid``) and read its namespaces.

    Raises ``ContainerNotRunning`` for a container with no process and ``ContainerGone`` when the
    process exits while it is being pinned.
    """
    pid = pid or container.pid
    if not pid or container.status not in ("running", "paused"):
        raise not_running(container)
    gone = ContainerGone(
        f"container {container.name} ({container.short_id}) exited while debugtool was "
        "attaching to it."
    )
    try:
        before = procfs.start_time(pid)
        pidfd = os.pidfd_open(pid)
    except (procfs.ProcessGone, ProcessLookupError):
        raise gone from None
    except PermissionError:
        raise PermissionDenied(
            f"debugtool may not open process {pid}.", need="CAP_SYS_PTRACE"
        ) from None
    try:
        # Same start time after the pidfd was opened: the pidfd refers to the process we read.
        if procfs.start_time(pid) != before:
            raise gone
        namespaces = procfs.namespace_inodes(pid)
        # A PID reused since discovery belongs to another PID namespace: the container's dies
        # with its init.
        if container.pidns is not None and namespaces.get("pid") != container.pidns:
            raise gone
        cgroup = procfs.parse_cgroup(procfs.read_text(pid, "cgroup"))
    except procfs.ProcessGone:
        os.close(pidfd)
        raise gone from None
    except BaseException:
        os.close(pidfd)
        raise
    return Target(container, pid, before, pidfd, namespaces, cgroup)


def not_running(container: Container) -> ContainerNotRunning:
    """Return the error for a container that has no process to pin, in a sentence that is true.

    A runtime may say "running" of a container whose process it could not name: it stopped
    between the runtime's answer and the look for its PID (a container that restarts every
    100 ms does so often). Saying it "is not running (status: running)" would contradict itself.
    """
    who = f"container {container.name} ({container.short_id})"
    if container.status in ("running", "paused"):
        return ContainerNotRunning(
            f"{who} stopped while it was being resolved, though {container.runtime} still says "
            f"{container.status}: it may be restarting.",
            "Try again in a moment; 'debugtool ps -a' shows its status.",
        )
    if container.status == "restarting":
        return ContainerNotRunning(
            f"{who} is restarting, so it has no process to look at now.",
            "Try again in a moment; 'debugtool ps -a' shows its status.",
        )
    return ContainerNotRunning(
        f"{who} is not running (status: {container.status}).",
        "Start it first; stopped, 'debugtool inspect' shows its last state, 'debugtool logs' its "
        "output and 'debugtool console' its files.",
    )


def state_words(container: Container) -> str:
    """Return how a container that is not running stands, in a few words: ``exited (code
    137, OOM-killed by the kernel, 2 minutes ago)``, ``restarting (last exit code 3, 14
    restarts)``, ``created and never started``."""
    from debugtool.output import human_age

    status = container.status
    if status == "created" and container.exit_code is None:
        return "created and never started"
    parts = []
    if container.exit_code is not None:
        last = "last exit code" if status == "restarting" else "code"
        parts.append(f"{last} {container.exit_code}")
    if container.oom_killed:
        parts.append("OOM-killed by the kernel")
    if status == "restarting" and container.restart_count:
        count = container.restart_count
        parts.append(f"{count} restart{'' if count == 1 else 's'}")
    elif container.finished_at:
        parts.append(human_age(container.finished_at))
    return f"{status} ({', '.join(parts)})" if parts else status


def nothing_runs(container: Container, typed: str) -> ContainerNotRunning:
    """Return the error of ``exec``, ``shell`` and ``trace`` for a container with no process:
    nothing can run there, and what can still be read of it (``typed`` is how the user named
    it, so the commands suggested name it the same way)."""
    import shlex  # an error's path, not a command's start

    name = shlex.quote(typed)
    return ContainerNotRunning(
        f"container {container.name} ({container.short_id}) is {state_words(container)}, "
        "so nothing can run in it.",
        f"Read its files with 'debugtool console {name}' and its output with 'debugtool "
        f"logs {name}' ('debugtool logs --previous {name}' for the run before the last).",
    )


def _label(c: Container) -> str:
    """How to name ``c`` alone: ``RUNTIME:NAME``, or ``containerd:NAMESPACE/NAME``."""
    if c.runtime == "containerd" and c.namespace:
        return f"containerd:{c.namespace}/{c.name} ({c.short_id})"
    return f"{c.runtime}:{c.name} ({c.short_id})"


def find(text: str, discovery: Discovery, live: bool = True) -> Container:
    """Return the one container that ``text`` names among ``discovery``'s containers.

    The one resolver of every front end: an id, a unique id prefix, a name, ``RUNTIME:NAME``,
    ``containerd:NAMESPACE/NAME``, ``pid:N`` or ``pod/[NAMESPACE/]NAME[/CONTAINER]``. With
    ``live`` false (a bundle) ``pid:N`` names the container whose recorded PID is N; live, any
    process of this host, and a bare sandbox when no runtime owns it.

    Raises ``ContainerNotFound``, ``AmbiguousTarget`` or ``UsageError``.
    """
    text = text.strip()
    if not text:
        raise UsageError("no container given.", "Name one: an id, a name, or pid:N.")
    containers = discovery.containers
    if text.startswith("pod/"):
        return _find_pod(text, containers)
    runtime, sep, rest = text.partition(":")
    if sep and runtime == "pid":
        if not live:
            return _pick_pid(rest, containers, discovery)
        return _find_pid(rest, containers)
    if sep and rest and runtime in {c.runtime for c in containers} | set(discovery.runtimes):
        scoped = [c for c in containers if runtime == c.runtime or runtime in c.backends]
        namespace, slash, name = rest.partition("/")
        if slash and name and any(c.namespace == namespace for c in scoped):
            # containerd:NAMESPACE/NAME: one name may be taken in several namespaces.
            scoped = [c for c in scoped if c.namespace == namespace]
            rest = name
        return _pick(rest, scoped, text, discovery)
    return _pick(text, containers, text, discovery)


def _pick(text: str, containers: list[Container], original: str, discovery: Discovery) -> Container:
    for matches in (
        [c for c in containers if c.id == text],
        [c for c in containers if c.name == text or c.name.lstrip("/") == text],
        [c for c in containers if c.id.startswith(text)] if len(text) >= 1 else [],
    ):
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise AmbiguousTarget(original, [_label(c) for c in matches])
    raise _not_found(original, discovery)


def _not_found(text: str, discovery: Discovery) -> ContainerNotFound:
    skipped = ""
    if discovery.warnings:
        skipped = " Some runtimes did not answer: " + " ".join(discovery.warnings)
    close = close_names(text, [c.name for c in discovery.containers])
    hint = "List them with 'debugtool ps -a'."
    if close:
        hint = f"Did you mean {' or '.join(close)}? {hint}"
    return ContainerNotFound(f"no container matches '{text}'.{skipped}", hint)


def close_names(text: str, names: list[str], limit: int = 3) -> list[str]:
    """Return up to ``limit`` of ``names`` that ``text`` may have meant, closest first.

    Names that contain ``text`` come first (``web`` for ``my-web``), shortest first, then
    those it is a prefix of; when neither finds any, ``difflib``'s close matches (typos).
    Only the error path calls this, so ``difflib`` (and ``re`` behind it) is imported here.
    """
    text = text.strip().lower()
    if not text:
        return []
    unique = sorted({n.lstrip("/") for n in names if n})
    lowered = {n: n.lower() for n in unique}
    found = sorted(
        (n for n in unique if text in lowered[n]),
        key=lambda n: (not lowered[n].startswith(text), len(n), n),
    )
    if not found:
        import difflib

        matches = difflib.get_close_matches(text, list(lowered.values()), n=limit, cutoff=0.6)
        by_lower = {low: n for n, low in lowered.items()}
        found = [by_lower[m] for m in matches]
    return found[:limit]


def _find_pid(text: str, containers: list[Container]) -> Container:
    """Return the container whose process ``pid:N`` names (or a bare sandbox around it).

    Refuses what is never a container's process: PID 1 (the host's init) and kernel threads.
    """
    try:
        pid = int(text)
        if pid <= 0:
            raise ValueError
    except ValueError:
        raise UsageError(
            f"'pid:{text}' is not a process id.", "Write pid:N, for example pid:1234."
        ) from None
    elsewhere = "Name a process inside the container, or the container (see 'debugtool ps')."
    if pid == 1:
        raise UsageError("pid:1 is this host's init, not a process of a container.", elsewhere)
    try:
        comm = procfs.read_text(pid, "comm").strip()
        if procfs.kernel_thread(pid):
            raise UsageError(
                f"process {pid} ({comm}) is a kernel thread, not a process of a container.",
                elsewhere,
            )
        pidns = procfs.namespace_inode(pid, "pid")
    except procfs.ProcessGone:
        raise ContainerNotFound(
            f"no process {pid} runs on this host.", "List processes with 'ps -e'."
        ) from None
    except PermissionDenied:
        # Seen for PID 1 on hosts whose init is protected from ptrace-level access.
        raise PermissionDenied(
            f"debugtool may not read the namespaces of process {pid}.",
            need="CAP_SYS_PTRACE",
            hint="Pick a process inside the container rather than the host's init.",
        ) from None
    for c in containers:
        if c.pidns == pidns and c.running:
            if c.pid == pid:
                return c
            # A process inside a known container: target that container through this process.
            clone = Container(**{**c.__dict__, "pid": pid})
            clone.backends = list(c.backends)
            return clone
    return Container(
        id=f"pid-{pid}",
        name=comm,
        runtime="none",
        status="running",
        pid=pid,
        pidns=pidns,
        backends=["none"],
    )


def _pick_pid(text: str, containers: list[Container], discovery: Discovery) -> Container:
    """``pid:N`` among recorded containers (a bundle's): the one whose process was N."""
    matches = [c for c in containers if text.isdigit() and c.pid == int(text)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise AmbiguousTarget(f"pid:{text}", [_label(c) for c in matches])
    raise _not_found(f"pid:{text}", discovery)


def _find_pod(text: str, containers: list[Container]) -> Container:
    parts = text.split("/")[1:]
    if not parts or not parts[0] or len(parts) > 4:
        raise UsageError(
            f"'{text}' is not a pod reference.", "Write pod/NAME or pod/NAME/CONTAINER."
        )
    namespace = parts.pop(0) if len(parts) >= 3 else None
    pod, container = parts[0], (parts[1] if len(parts) > 1 else None)
    matches = [
        c
        for c in containers
        if c.pod == pod
        and (namespace is None or c.pod_namespace == namespace)
        and (container is None or c.k8s_container == container)
        and c.k8s_container not in ("", "POD")  # the pause container holds no workload
    ]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise ContainerNotFound(
            f"no Kubernetes container matches '{text}'.",
            "List them with 'debugtool ps' (the POD column).",
        )
    raise AmbiguousTarget(text, [f"pod/{c.pod}/{c.k8s_container}" for c in matches])
