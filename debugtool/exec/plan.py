"""Planning an exec: what of the container's context it will match, decided before anything runs.

``make_plan`` picks the runtime whose own exec runs the command (runtime mode) or the namespaces
to join, the cgroup, capabilities, seccomp and LSM status and the toolbox directory (ns and
toolbox modes). Its ``ExecContext`` is the one line exec prints before it runs.
"""

from __future__ import annotations

import os

from debugtool import procfs
from debugtool.errors import DebugtoolError, ExecUnsupported, UsageError
from debugtool.record import field, record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from debugtool.runtimes import Discovery, Runtime
    from debugtool.target import Target

MODES = ("runtime", "ns", "toolbox")
#: The order a joiner enters namespaces: user first, mount late, pid before the second fork.
JOIN_ORDER = ("user", "cgroup", "ipc", "uts", "net", "pid", "mnt", "time")


@record
class ExecContext:
    """What of the container's context an exec matches, said before it runs."""

    mode: str
    runtime: str = ""
    namespaces: list[str] = field(default_factory=list)  # joined
    shared: list[str] = field(default_factory=list)  # the same as debugtool's: nothing to join
    matched: list[str] = field(default_factory=list)
    not_matched: list[str] = field(default_factory=list)

    def line(self) -> str:
        """Return the one-line report, for example ``ns mode: namespaces net,pid joined; ...``."""
        parts: list[str] = []
        if self.mode == "runtime":
            parts.append(f"through {self.runtime}'s own exec")
        if self.namespaces:
            part = f"namespaces {','.join(self.namespaces)} joined"
            if self.shared:
                part += f" ({','.join(self.shared)} shared with the host)"
            parts.append(part)
        parts += self.matched
        parts += [f"{item} NOT applied" for item in self.not_matched]
        return f"{self.mode} mode: " + "; ".join(parts)


# --- planning: what will be matched ----------------------------------------------------------


@record
class Plan:
    """What an exec will do: its context line, the namespaces to join, the target's status,
    the toolbox directory, or the runtime whose own exec runs the command."""

    context: ExecContext
    join: list[str] = field(default_factory=list)
    status: dict[str, str] = field(default_factory=dict)
    tools: str | None = None
    runtime: Runtime | None = None  # the Runtime whose exec runs the command (runtime mode)


def make_plan(
    target: Target,
    mode: str,
    namespaces: Sequence[str] | None,
    privileged: bool,
    tools: str | None,
    discovery: Discovery | None,
    host_tools: Sequence[str] | None = None,
) -> Plan:
    """Decide what the exec will match and what it will not; raise before anything runs.

    In toolbox mode ``tools`` is a host directory to mount as it is, ``host_tools`` the host
    programs to bring with busybox (None: the default set the host has); building that
    directory (``toolbox.stage.prepare``) is part of planning, so a missing tool stops the exec
    before anything runs.
    """
    container = target.container
    if mode != "toolbox":
        if tools:
            raise UsageError("--tools works only with --mode toolbox.")
        if host_tools is not None:
            raise UsageError("--tool works only with --mode toolbox.")
    if mode == "runtime":
        if namespaces:
            raise UsageError("--ns works only with --mode ns or --mode toolbox.")
        runtime_name, runtime = _exec_runtime(target, discovery)
        if privileged and not runtime.supports_privileged_exec:
            raise ExecUnsupported(
                f"--privileged in runtime mode works only on Docker, not {runtime_name}.",
                "Use --mode ns --privileged instead.",
            )
        ctx = ExecContext(mode, runtime=runtime_name)
        ctx.matched.append(
            "the container's user, capabilities, cgroup, seccomp and LSM profile apply"
        )
        if privileged:
            ctx.matched.append("--privileged: all capabilities, no seccomp (as the runtime does)")
        return Plan(ctx, runtime=runtime)
    try:
        status = procfs.parse_status(procfs.read_text(target.pid, "status"))
    except procfs.ProcessGone:
        target.check()
        raise
    own = procfs.namespace_inodes("self")
    available = [ns for ns in JOIN_ORDER if ns in target.namespaces]
    if namespaces:
        wanted = [n.strip() for n in namespaces if n.strip()]
        unknown = [n for n in wanted if n not in JOIN_ORDER]
        if unknown:
            raise UsageError(
                f"unknown namespace {', '.join(unknown)}.", f"Known: {', '.join(JOIN_ORDER)}."
            )
        if mode == "toolbox" and "mnt" not in wanted:
            raise UsageError("--mode toolbox needs the mnt namespace (add mnt to --ns).")
        available = [ns for ns in available if ns in wanted]
    join = [ns for ns in available if target.namespaces[ns] != own.get(ns)]
    shared = [ns for ns in available if ns not in join]
    ctx = ExecContext(mode, runtime=container.runtime, namespaces=join, shared=shared)
    ctx.matched.append("cgroup joined" if _cgroup_differs(target) else "cgroup: the host's")
    if privileged:
        ctx.matched.append("capabilities: root's kept (--privileged)")
    else:
        ctx.matched.append("capabilities dropped to the container's; NoNewPrivs set")
    seccomp = status.get("Seccomp", "0")
    if seccomp != "0":
        ctx.not_matched.append("seccomp")
    lsm = _lsm_profile(target.pid)
    if lsm:
        ctx.not_matched.append(f"{lsm[0]} profile {lsm[1]}")
    elif seccomp == "0":
        ctx.matched.append("the container has no seccomp filter or LSM profile to apply")
    chosen_tools = None
    if mode == "toolbox":
        chosen_tools = _toolbox_directory(tools, host_tools, ctx)
    elif "mnt" not in available:
        ctx.matched.append("the host's files (mnt namespace not joined)")
    return Plan(ctx, join=available, status=status, tools=chosen_tools)


def _toolbox_directory(
    tools: str | None, host_tools: Sequence[str] | None, ctx: ExecContext
) -> str:
    """Return the host directory toolbox mode mounts, and say in ``ctx`` what it holds."""
    from debugtool.toolbox import MOUNT_POINT

    if tools:
        if host_tools is not None:
            raise UsageError(
                "--tool and --tools cannot be used together.",
                "Use --tool for host programs with busybox, or --tools for a directory of your own.",
            )
        if not os.path.isdir(tools):
            raise UsageError(
                f"the tools directory {tools} does not exist or is not a directory.",
                "Pass --tools with an existing directory of host tools, or leave it out for "
                "the host's busybox and tools.",
            )
        ctx.matched.append(f"host tools from {tools} at {MOUNT_POINT} (private mount namespace)")
        return tools
    from debugtool.toolbox.stage import prepare

    box = prepare(list(host_tools) if host_tools is not None else None)
    brought = ", ".join(box.tools) + " and busybox" if box.tools else "busybox"
    ctx.matched.append(
        f"host tools {brought} at {MOUNT_POINT} (read-only, private mount namespace)"
    )
    return box.root


def _cgroup_differs(target: Target) -> bool:
    try:
        own = procfs.parse_cgroup(procfs.read_text("self", "cgroup"))
    except DebugtoolError:
        return True
    return own != target.cgroup


def _lsm_profile(pid: int) -> tuple[str, str] | None:
    """Return ``(LSM, profile)`` confining ``pid`` (AppArmor or SELinux), or None."""
    for lsm, path in (("AppArmor", "attr/apparmor/current"), ("SELinux", "attr/current")):
        try:
            value = procfs.read_text(pid, path).strip().strip("\0")
        except DebugtoolError:
            continue
        if value and value not in ("unconfined", "kernel"):
            return lsm, value
    return None


def _exec_runtime(target: Target, discovery: Discovery | None) -> tuple[str, Runtime]:
    """Return the first backend that knows the container and can exec in it now.

    The container's own runtime comes first, then the other backends that listed it: Docker's
    record read from its state files means its daemon did not answer, so containerd or runc
    (which run Docker's containers) take the exec instead.
    """
    from debugtool.runtimes import load_runtimes

    container = target.container
    names = list(dict.fromkeys([container.runtime, *container.backends]))
    for name in names:
        runtime = discovery.runtime(name) if discovery is not None else None
        if runtime is None:
            try:
                runtime = next(iter(load_runtimes([name])), None)
            except DebugtoolError:
                runtime = None
        if runtime is not None and runtime.supports_exec and runtime.can_exec(container):
            return name, runtime
    raise ExecUnsupported(
        f"no runtime that knows {container.name} ({', '.join(names)}) can exec in it.",
        "Use --mode ns to enter its namespaces, or --mode toolbox for host tools.",
    )
