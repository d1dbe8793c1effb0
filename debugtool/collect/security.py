"""The security context of a container's init process: ids, capabilities, seccomp, LSM labels,
and privileged-looking settings said in words."""

from __future__ import annotations

import os

from debugtool import procfs
from debugtool.collect.mounts import collect_mounts, severity
from debugtool.errors import ContainerGone, DebugtoolError
from debugtool.snapshot import Mount, SecurityContext

TYPE_CHECKING = False
if TYPE_CHECKING:
    from debugtool.target import Target

#: Capabilities that make a container root equivalent to host root (or close to it).
DANGEROUS_CAPS = (
    "CAP_SYS_ADMIN",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_PTRACE",
    "CAP_DAC_READ_SEARCH",
    "CAP_NET_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_TIME",
    "CAP_MAC_ADMIN",
    "CAP_BPF",
    "CAP_PERFMON",
)

#: Risky mounts listed one by one among the warnings; the rest are counted.
MAX_MOUNT_WARNINGS = 8

#: Namespaces that, shared with the host, undo the container's isolation.
_SHARED_NS_WORDS = {
    "pid": "shares the host's PID namespace (sees and signals every host process)",
    "net": "shares the host's network namespace",
    "ipc": "shares the host's IPC namespace",
    "uts": "shares the host's hostname (UTS namespace)",
    "mnt": "shares the host's mount namespace",
    "cgroup": "shares the host's cgroup namespace",
}


def _read(pid: int | str, name: str) -> str | None:
    try:
        return procfs.read_text(pid, name)
    except procfs.ProcessGone:
        raise
    except DebugtoolError:
        return None


def active_lsms() -> list[str]:
    """Return the kernel's active LSMs (``/sys/kernel/security/lsm``), or [] when unknown."""
    try:
        with open("/sys/kernel/security/lsm") as f:
            return [x for x in f.read().strip().split(",") if x]
    except OSError:
        lsms = []
        if os.path.isdir("/sys/kernel/security/apparmor") or os.path.isdir("/sys/module/apparmor"):
            lsms.append("apparmor")
        if os.path.isdir("/sys/fs/selinux"):
            lsms.append("selinux")
        return lsms


def lsm_labels(pid: int | str, lsms: list[str]) -> tuple[str, str]:
    """Return the (AppArmor, SELinux) labels of a process ("" when that LSM is not active).

    ``attr/current`` belongs to whichever LSM registered first; AppArmor's own
    ``attr/apparmor/current`` (Linux 5.8+) is unambiguous, so it is preferred.
    """
    apparmor = selinux = ""
    generic = (_read(pid, "attr/current") or "").strip("\0\n ")
    if "apparmor" in lsms:
        own = _read(pid, "attr/apparmor/current")
        apparmor = (own if own is not None else generic).strip("\0\n ")
    if "selinux" in lsms:
        # With AppArmor stacked first, attr/current is AppArmor's; SELinux labels have colons.
        if generic and ("apparmor" not in lsms or generic.count(":") >= 2):
            selinux = generic
    return apparmor, selinux


def build_security(
    status: dict[str, str],
    uid_map: list[tuple[int, int, int]],
    gid_map: list[tuple[int, int, int]],
    apparmor: str = "",
    selinux: str = "",
    mounts: list[Mount] | None = None,
    shared_ns: list[str] | None = None,
) -> SecurityContext:
    """Build a ``SecurityContext`` from a process's parsed status, id maps and labels."""
    caps = procfs.capabilities(status)
    filters = status.get("Seccomp_filters")
    ctx = SecurityContext(
        uid_map=uid_map,
        gid_map=gid_map,
        user_namespace=bool(uid_map) and uid_map != procfs.IDENTITY_MAP,
        cap_effective=caps["effective"],
        cap_permitted=caps["permitted"],
        cap_inheritable=caps["inheritable"],
        cap_bounding=caps["bounding"],
        cap_ambient=caps["ambient"],
        seccomp=procfs.seccomp_mode(status),
        seccomp_filters=int(filters) if filters and filters.isdigit() else None,
        no_new_privs=status.get("NoNewPrivs", "0") == "1",
        apparmor=apparmor,
        selinux=selinux,
    )
    root = next((m for m in reversed(mounts or []) if m.mountpoint == "/"), None)
    ctx.readonly_rootfs = bool(root and root.readonly)
    ctx.warnings = warnings(ctx, status, mounts or [], shared_ns or [])
    return ctx


def warnings(
    ctx: SecurityContext, status: dict[str, str], mounts: list[Mount], shared_ns: list[str]
) -> list[str]:
    """Return privileged-looking settings in words, most serious first."""
    out: list[str] = []
    all_caps = set(procfs.CAP_NAMES[: procfs.CAP_NAMES.index("CAP_AUDIT_READ") + 1])
    effective = set(ctx.cap_effective)
    try:
        euid = procfs.status_ids(status, "Uid")[1]
    except ValueError:
        euid = -1
    root_on_host = euid == 0 and not ctx.user_namespace
    if all_caps <= effective:
        out.append("runs with every capability (looks like --privileged)")
    else:
        risky = [c for c in DANGEROUS_CAPS if c in effective]
        if risky:
            out.append("has " + ", ".join(risky))
    if ctx.seccomp == "disabled":
        out.append("no seccomp filter (seccomp=unconfined)")
    if ctx.apparmor == "unconfined":
        out.append("AppArmor unconfined")
    if root_on_host:
        out.append("runs as root without a user namespace (uid 0 is the host's root)")
    for ns in shared_ns:
        if ns in _SHARED_NS_WORDS:
            out.append(_SHARED_NS_WORDS[ns])
    ranked = sorted(
        (
            (severity(risk), i, f"{m.mountpoint}: {risk}")
            for i, m in enumerate(mounts)
            for risk in m.risks
        )
    )
    mount_risks = [text for _, _, text in ranked]
    out.extend(mount_risks[:MAX_MOUNT_WARNINGS])
    if len(mount_risks) > MAX_MOUNT_WARNINGS:
        more = len(mount_risks) - MAX_MOUNT_WARNINGS
        out.append(f"... and {more} more risky mounts (see 'debugtool mounts --risky')")
    return out


def host_shared_namespaces(target: Target) -> list[str]:
    """Return the namespace types the target shares with the host.

    The host's namespaces are debugtool's own (it runs on the host); PID 1 is not asked because
    a supervisor may hide it (``/proc/1/ns`` can refuse even root).
    """
    shared = []
    for ns, inode in target.namespaces.items():
        try:
            if procfs.namespace_inode("self", ns) == inode:
                shared.append(ns)
        except DebugtoolError:
            continue
    return shared


def collect_security(target: Target, mounts: list[Mount] | None = None) -> SecurityContext:
    """Return the security context of the container's init process.

    ``mounts`` (from ``collect_mounts``) adds the read-only root and risky mounts; without it
    they are read here. Raises ``ContainerGone`` when the process exits.
    """
    try:
        status = procfs.parse_status(procfs.read_text(target.pid, "status"))
        uid_map = procfs.parse_id_map(_read(target.pid, "uid_map") or "")
        gid_map = procfs.parse_id_map(_read(target.pid, "gid_map") or "")
        apparmor, selinux = lsm_labels(target.pid, active_lsms())
    except procfs.ProcessGone:
        raise ContainerGone(
            f"container {target.name} exited before its security context could be read."
        ) from None
    if mounts is None:
        try:
            mounts = collect_mounts(target)
        except DebugtoolError:
            mounts = []
    return build_security(
        status, uid_map, gid_map, apparmor, selinux, mounts, host_shared_namespaces(target)
    )
