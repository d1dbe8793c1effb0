"""Whether debugtool may trace a process, and why not: itself, another tracer, YAMA, an LSM."""

from __future__ import annotations

from debugtool import procfs
from debugtool.errors import DebugtoolError, PermissionDenied, UsageError


def _comm(pid: int) -> str:
    try:
        return procfs.comm(pid)
    except DebugtoolError:
        return "?"


def check_traceable(pid: int, own: set[int] | None = None) -> None:
    """Refuse a process that is debugtool itself or its ancestor, or that someone already traces.

    Raises ``UsageError`` (self-trace) or ``DebugtoolError`` (already traced), exit code 125.
    """
    own = procfs.ancestors() if own is None else own
    if pid in own:
        raise UsageError(
            f"process {pid} ({_comm(pid)}) is debugtool itself or one of its parents; "
            "tracing it would deadlock.",
            "Trace a container process instead.",
        )
    for tid in procfs.threads(pid) or [pid]:
        tracer = procfs.tracer_pid(tid)
        if tracer:
            raise DebugtoolError(
                f"process {pid} ({_comm(pid)}) is already traced by process {tracer} "
                f"({_comm(tracer)}); a process can have only one tracer.",
                f"Stop that tracer (PID {tracer}) first.",
            )


def yama_scope(path: str | None = None) -> int | None:
    """Return the YAMA ptrace_scope setting (``/proc/sys/kernel/yama/ptrace_scope``, or
    ``path``), or None when YAMA is not in this kernel."""
    try:
        with open(path or procfs.path("sys", "kernel", "yama", "ptrace_scope")) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def attach_refused(pid: int, scope: int | None) -> PermissionDenied:
    """Return the error for an attach refused with EPERM, naming the setting that refuses it."""
    if scope == 3:
        why = (
            "kernel.yama.ptrace_scope is 3 (/proc/sys/kernel/yama/ptrace_scope): no process "
            "may attach with ptrace until the next reboot"
        )
        hint = "Tracing is impossible on this host until it reboots with a lower ptrace_scope."
    elif scope in (1, 2):
        why = (
            f"kernel.yama.ptrace_scope is {scope} (/proc/sys/kernel/yama/ptrace_scope) and "
            "this process lacks CAP_SYS_PTRACE, or a Linux security module (AppArmor, SELinux) "
            "forbids it"
        )
        hint = "Run debugtool as root with CAP_SYS_PTRACE, or check the LSM's audit log."
    else:
        why = (
            "a Linux security module (AppArmor, SELinux, or a seccomp policy on debugtool) "
            "forbids it"
        )
        hint = "Check the LSM's denials in the kernel log (dmesg, audit.log)."
    return PermissionDenied(
        f"attaching to process {pid} with ptrace was refused (EPERM): {why}.",
        need="CAP_SYS_PTRACE",
        hint=hint,
    )
