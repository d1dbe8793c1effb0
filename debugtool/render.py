"""Text views of a Snapshot for people: the one set of renderers the CLI and the console share."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from debugtool.model import (
    CgroupStats,
    Container,
    Mount,
    Network,
    Process,
    SecurityContext,
    Snapshot,
)
from debugtool.output import human_size, table, warn


def _stream(stream: TextIO | None) -> TextIO:
    return stream or sys.stdout


def printable(text: str) -> str:
    """Return text safe for a terminal: undecodable bytes and control characters escaped."""
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def start_column(epoch: float | None, now: float) -> str:
    """Return a start time as ps does: HH:MM today, 'MonDD' before today."""
    if not epoch:
        return "-"
    started = time.localtime(epoch)
    today = time.localtime(now)
    if (started.tm_year, started.tm_yday) == (today.tm_year, today.tm_yday):
        return time.strftime("%H:%M", started)
    return time.strftime("%b%d", started)


def processes(
    snap: Snapshot | list[Process], tree: bool = False, stream: TextIO | None = None
) -> None:
    """The processes as ``top`` shows them, flat or as a tree (container PIDs first).

    A PID marked ``*`` is in the container's PID namespace but not its cgroup.
    """
    out = _stream(stream)
    if isinstance(snap, list):
        snap = Snapshot(container=Container(id="", name="", runtime=""), processes=snap)
    ordered = snap.process_tree() if tree else [(0, p) for p in snap.processes]
    now = time.time()
    rows = [
        [
            f"{p.nspid if p.nspid is not None else '-'}{'*' if p.outside_cgroup else ''}",
            p.pid,
            p.user or (p.uid if p.uid is not None else "?"),
            p.state,
            "-" if p.cpu_percent is None else f"{p.cpu_percent:.1f}",
            human_size(p.rss),
            p.threads,
            start_column(p.start_time, now),
            "  " * depth + ("\\_ " if depth else "") + printable(p.command),
        ]
        for depth, p in ordered
    ]
    table(
        ["PID", "HOST PID", "USER", "STATE", "%CPU", "RSS", "THR", "START", "COMMAND"],
        rows,
        stream=out,
    )
    if any(p.outside_cgroup for p in snap.processes):
        warn(
            "PIDs marked '*' are in the container's PID namespace but not its cgroup "
            "(entered with nsenter or setns): its limits do not apply to them."
        )


def mounts(snap: Snapshot | list[Mount], stream: TextIO | None = None) -> None:
    """The mount table, with each risky mount's reasons in the last column."""
    out = _stream(stream)
    items = snap.mounts if isinstance(snap, Snapshot) else snap
    rows = [
        [
            printable(m.mountpoint),
            m.fstype,
            printable(m.source) or "-",
            printable(m.host_path) or "-",
            "ro" if m.readonly else "rw",
            m.propagation,
            ("! " + "; ".join(m.risks)) if m.risks else "",
        ]
        for m in items
    ]
    table(
        ["MOUNTPOINT", "TYPE", "SOURCE", "HOST PATH", "MODE", "PROPAGATION", "RISK"],
        rows,
        stream=out,
    )
    risky = sum(1 for m in items if m.risks)
    if risky:
        warn(f"{risky} mount{'s' if risky != 1 else ''} flagged as risky (see RISK).")


def network(snap: Snapshot | Network, stream: TextIO | None = None) -> None:
    """Interfaces, routes, sockets with their processes, and DNS configuration."""
    out = _stream(stream)
    net = snap.network if isinstance(snap, Snapshot) else snap
    out.write("INTERFACES\n")
    table(
        ["NAME", "STATE", "MTU", "MAC", "ADDRESSES", "RX", "TX", "ERR", "DROP"],
        [
            [
                i.name,
                i.state,
                i.mtu,
                i.mac or "-",
                " ".join(f"{a.address}/{a.prefixlen}" for a in i.addresses) or "-",
                f"{human_size(i.rx_bytes)}/{i.rx_packets}p",
                f"{human_size(i.tx_bytes)}/{i.tx_packets}p",
                i.rx_errors + i.tx_errors,
                i.rx_dropped + i.tx_dropped,
            ]
            for i in net.interfaces
        ],
        stream=out,
    )
    out.write("\nROUTES\n")
    table(
        ["DESTINATION", "GATEWAY", "DEV", "METRIC", "TABLE"],
        [
            [r.destination, r.gateway or "-", r.interface or "-", r.metric, r.table]
            for r in net.routes
        ],
        stream=out,
    )
    out.write("\nSOCKETS\n")
    table(
        ["PROTO", "STATE", "LOCAL", "REMOTE", "PID", "HOST PID", "PROCESS"],
        [
            [
                s.protocol,
                s.state,
                s.path if s.protocol == "unix" else _endpoint(s.local_address, s.local_port),
                "-" if s.protocol == "unix" else _endpoint(s.remote_address, s.remote_port),
                ",".join(map(str, s.nspids)) or "-",
                ",".join(map(str, s.pids)) or "-",
                s.process or "-",
            ]
            for s in net.sockets
        ],
        stream=out,
    )
    out.write("\nDNS\n")
    dns = net.dns
    out.write(f"  nameservers: {' '.join(dns.nameservers) or '-'}\n")
    out.write(f"  search:      {' '.join(dns.search) or '-'}\n")
    if dns.options:
        out.write(f"  options:     {' '.join(dns.options)}\n")


def _endpoint(address: str, port: int) -> str:
    if not address:
        return "-"
    if ":" in address:
        return f"[{address}]:{port if port else '*'}"
    return f"{address}:{port if port else '*'}"


def cgroup(snap: Snapshot | CgroupStats, stream: TextIO | None = None) -> None:
    """Usage against limits: memory, CPU, pids, IO."""
    out = _stream(stream)
    cg = snap.cgroup if isinstance(snap, Snapshot) else snap

    def limit(value: int | None, size: bool = True) -> str:
        if value is None:
            return "unlimited"
        return human_size(value) if size else str(value)

    cpu_limit = f"{cg.cpu_limit:.2f} CPUs" if cg.cpu_limit else "unlimited"
    lines = [
        ("cgroup version", cg.version or "-"),
        (
            "memory",
            f"{human_size(cg.memory_usage)} of {limit(cg.memory_limit)}"
            + (f" (peak {human_size(cg.memory_peak)})" if cg.memory_peak else ""),
        ),
        ("OOM kills", "-" if cg.oom_kills is None else str(cg.oom_kills)),
        ("CPU used", "-" if cg.cpu_usage_ns is None else f"{cg.cpu_usage_ns / 1e9:.2f} s"),
        ("CPU limit", cpu_limit),
        (
            "CPU throttled",
            "-"
            if cg.cpu_nr_throttled is None
            else f"{cg.cpu_nr_throttled} of {cg.cpu_nr_periods} periods"
            + (f", {cg.cpu_throttled_ns / 1e9:.2f} s" if cg.cpu_throttled_ns else ""),
        ),
        (
            "pids",
            f"{'-' if cg.pids_current is None else cg.pids_current} of "
            f"{limit(cg.pids_max, size=False)}",
        ),
        ("IO read/write", f"{human_size(cg.io_read_bytes)} / {human_size(cg.io_write_bytes)}"),
    ]
    for key, value in lines:
        out.write(f"  {key + ':':<15} {value}\n")
    for controller, path in sorted(cg.paths.items()):
        out.write(f"  path {controller or '(v2)'}: {path}\n")


def security(snap: Snapshot | SecurityContext, stream: TextIO | None = None) -> None:
    """Capabilities, seccomp, LSM labels, user namespace and the warnings they raise."""
    out = _stream(stream)
    sec = snap.security if isinstance(snap, Snapshot) else snap

    def maps(m: list[tuple[int, int, int]]) -> str:
        return ", ".join(f"{a}->{b} ({c})" for a, b, c in m) or "-"

    lines = [
        ("user namespace", "yes" if sec.user_namespace else "no (shares the host's)"),
        ("uid map", maps(sec.uid_map)),
        ("gid map", maps(sec.gid_map)),
        (
            "seccomp",
            sec.seccomp + (f" ({sec.seccomp_filters} filters)" if sec.seccomp_filters else ""),
        ),
        ("no_new_privs", "yes" if sec.no_new_privs else "no"),
        ("AppArmor", sec.apparmor or "-"),
        ("SELinux", sec.selinux or "-"),
        ("read-only root", "yes" if sec.readonly_rootfs else "no"),
        ("effective caps", " ".join(sec.cap_effective) or "none"),
        ("bounding caps", " ".join(sec.cap_bounding) or "none"),
    ]
    if sec.cap_ambient:
        lines.append(("ambient caps", " ".join(sec.cap_ambient)))
    for key, value in lines:
        out.write(f"  {key + ':':<16} {value}\n")
    for warning in sec.warnings:
        out.write(f"  ! {warning}\n")
