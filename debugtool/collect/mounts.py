"""The mounts of a container, from its mountinfo, with host paths of bind mounts and risks flagged.

A bind mount's origin is not written in the container's mountinfo; it is found in the host's:
the host mount with the same device (major:minor) whose root is the longest prefix of the
container mount's root. The host path is that mount's mount point plus the rest of the root.
"""

from __future__ import annotations

import posixpath

from debugtool import procfs
from debugtool.errors import ContainerGone, DebugtoolError
from debugtool.snapshot import Mount

TYPE_CHECKING = False
if TYPE_CHECKING:
    from debugtool.target import Target

#: Sockets that hand out control of the host: whoever can write to one runs containers as root.
RUNTIME_SOCKETS = (
    "docker.sock",
    "containerd.sock",
    "crio.sock",
    "podman.sock",
    "cri-dockerd.sock",
    "dockershim.sock",
)

#: Host directories that hold those sockets: mounting one hands them over too.
RUNTIME_SOCKET_DIRS = (
    "/run",
    "/var/run",
    "/run/docker",
    "/var/run/docker",
    "/run/containerd",
    "/var/run/containerd",
    "/run/podman",
    "/run/crio",
    "/var/run/crio",
)

#: Host directories the runtimes bind into containers themselves (hosts, hostname, resolv.conf,
#: secrets); rw binds from here are the runtime's doing and not worth a warning.
RUNTIME_STATE_DIRS = (
    "/var/lib/docker/containers/",
    "/var/lib/containers/",
    "/run/containers/",
    "/var/run/containers/",
    "/run/containerd/",
    "/var/lib/kubelet/pods/",
    "/var/lib/rancher/",
)


#: The devices every OCI container gets. A rootless runtime cannot create device nodes, so
#: it binds the host's own one by one (and masks /proc/keys and the like with /dev/null):
#: those binds are not the host's /dev.
OCI_DEVICES = frozenset(
    ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty")
)


def _rootless_state(path: str) -> bool:
    """Return whether ``path`` is in a rootless podman's run root (``/run/user/UID/containers/``),
    where it keeps a container's hosts, hostname and .containerenv as root's keeps them under
    ``/run/containers/``."""
    parts = path.split("/", 5)
    return (
        len(parts) > 5
        and parts[1:3] == ["run", "user"]
        and parts[3].isdecimal()
        and (parts[4] == "containers")
    )


#: Kernel filesystems each container gets a fresh instance (or a private view) of.
_VIRTUAL = {"proc", "sysfs", "devpts", "mqueue", "tmpfs", "cgroup", "cgroup2", "overlay"}


def _host_index(host: list[procfs.MountInfo]) -> dict[tuple[int, int], list[procfs.MountInfo]]:
    index: dict[tuple[int, int], list[procfs.MountInfo]] = {}
    for m in host:
        index.setdefault(m.device, []).append(m)
    return index


def _within(path: str, prefix: str) -> str | None:
    """Return ``path`` relative to ``prefix`` ("" when equal), or None when it is not under it."""
    if prefix == "/":
        return path.lstrip("/")
    if path == prefix:
        return ""
    if path.startswith(prefix.rstrip("/") + "/"):
        return path[len(prefix.rstrip("/")) + 1 :]
    return None


def host_path(m: procfs.MountInfo, index: dict[tuple[int, int], list[procfs.MountInfo]]) -> str:
    """Return where ``m``'s files are on the host ("" when its filesystem is not on the host)."""
    best: tuple[int, str] | None = None
    for h in index.get(m.device, []):
        rest = _within(m.root, h.root)
        if rest is None:
            continue
        candidate = posixpath.join(h.mountpoint, rest) if rest else h.mountpoint
        score = len(h.root)
        # Prefer the most specific root; between equals, the shortest mount point (the plain
        # host path rather than one seen through another container's mount).
        if best is None or score > best[0] or (score == best[0] and len(candidate) < len(best[1])):
            best = (score, candidate)
    return best[1] if best else ""


def _is_socket_path(path: str) -> str:
    base = posixpath.basename(path.rstrip("/"))
    return base if base in RUNTIME_SOCKETS else ""


#: Risk sentences, most serious first, by how each begins.
_SEVERITY = (
    "container runtime socket",
    "host /run",
    "host /var/run",
    "host root filesystem",
    "/proc/sys is writable",
    "/sys is writable",
    "host /dev",
    "host /proc",
    "host /sys",
    "cgroup hierarchy",
    "host path",
)


def severity(risk: str) -> int:
    """Return a sort key for a risk sentence: lower is more serious."""
    return next((i for i, s in enumerate(_SEVERITY) if risk.startswith(s)), len(_SEVERITY))


def risks(m: Mount, mounts: list[Mount]) -> list[str]:
    """Return what is risky about mount ``m`` in words (empty when nothing is)."""
    found: list[str] = []
    for path in (m.mountpoint, m.host_path, m.root):
        sock = _is_socket_path(path) if path else ""
        if sock:
            found.append(f"container runtime socket ({sock}) mounted")
            break
    if not found and m.host_path.rstrip("/") in RUNTIME_SOCKET_DIRS:
        found.append(f"host {m.host_path} mounted (it holds container runtime sockets)")
    if m.host_path == "/" and m.mountpoint != "/":
        found.append("host root filesystem mounted" + ("" if m.readonly else " read-write"))
    if m.fstype == "proc" and m.mountpoint == "/proc" and not m.readonly:
        sys_mount = next((x for x in mounts if x.mountpoint == "/proc/sys"), None)
        if sys_mount is None or not sys_mount.readonly:
            found.append("/proc/sys is writable (kernel settings of the host)")
    if m.mountpoint == "/proc/sys" and not m.readonly:
        found.append("/proc/sys is writable (kernel settings of the host)")
    if m.fstype == "sysfs" and m.mountpoint == "/sys" and not m.readonly:
        found.append("/sys is writable")
    if m.fstype in ("cgroup", "cgroup2") and not m.readonly:
        found.append("cgroup hierarchy is writable")
    if m.fstype == "devtmpfs" and m.host_path and m.host_path not in OCI_DEVICES:
        found.append("host /dev mounted")
    if m.fstype in ("proc", "sysfs") and m.host_path and m.mountpoint not in ("/proc", "/sys"):
        # The host's own procfs or sysfs seen at another place (a -v /proc:/host/proc bind).
        found.append(f"host {m.host_path} mounted" + ("" if m.readonly else " read-write"))
    if (
        m.host_path
        and not m.readonly
        and m.mountpoint != "/"
        and m.fstype not in _VIRTUAL | {"devtmpfs"}
        and not m.host_path.startswith(RUNTIME_STATE_DIRS)
        and not _rootless_state(m.host_path)
        and not any(r.startswith("host root") or "socket" in r for r in found)
    ):
        found.append(f"host path {m.host_path} mounted read-write")
    return list(dict.fromkeys(found))


def build_mounts(container: list[procfs.MountInfo], host: list[procfs.MountInfo]) -> list[Mount]:
    """Return ``Mount`` records for the container's mountinfo, with host paths and risks."""
    index = _host_index(host)
    out = []
    for m in container:
        hp = host_path(m, index)
        if m.fstype == "overlay" and m.mountpoint == "/" and not hp:
            hp = _overlay_merged(m)
        out.append(
            Mount(
                mount_id=m.mount_id,
                parent_id=m.parent_id,
                mountpoint=m.mountpoint,
                fstype=m.fstype,
                source=m.source,
                root=m.root,
                host_path=hp,
                options=m.options,
                super_options=m.super_options,
                propagation=m.propagation,
                readonly=m.readonly,
            )
        )
    for mount in out:
        mount.risks = risks(mount, out)
    return out


def _overlay_merged(m: procfs.MountInfo) -> str:
    """Guess an overlay root's merged directory on the host from its upperdir option."""
    for opt in m.super_options.split(","):
        if opt.startswith("upperdir="):
            upper = opt.split("=", 1)[1]
            return posixpath.join(posixpath.dirname(upper), "merged")
    return ""


def collect_mounts(target: Target) -> list[Mount]:
    """Return the container's mounts in mountinfo order.

    Raises ``ContainerGone`` when its process exits, ``PermissionDenied`` when refused.
    """
    try:
        text = procfs.read_text(target.pid, "mountinfo")
    except procfs.ProcessGone:
        raise ContainerGone(
            f"container {target.name} exited before its mounts could be read."
        ) from None
    try:
        host_text = procfs.read_text("self", "mountinfo")
    except DebugtoolError:
        host_text = ""
    return build_mounts(procfs.parse_mountinfo(text), procfs.parse_mountinfo(host_text))
