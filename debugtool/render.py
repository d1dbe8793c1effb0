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
    Socket,
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


def endpoint(address: str, port: int, protocol: str) -> str:
    """Return ``address:port`` as ``ss`` writes it: IPv6 in brackets, an unset side as ``*``."""
    if address in ("", "0.0.0.0", "::") and not port:
        return "*:*" if protocol != "unix" else "*"
    host = f"[{address}]" if ":" in address else address
    return f"{host}:{port if port else '*'}"


def _holders(sock: Socket) -> tuple[str, str, str]:
    """Return the container PIDs, host PIDs and process name columns of a socket."""
    if not sock.pids:
        return "-", "-", "-"
    nspids = ",".join(str(p) for p in sock.nspids) or "-"
    process = sock.process + (f" (+{len(sock.pids) - 1})" if len(sock.pids) > 1 else "")
    return nspids, ",".join(str(p) for p in sock.pids), process


def socket_rows(sockets: list[Socket]) -> list[list[str]]:
    """Return one table row per socket: proto, state, local, remote, pids, process."""
    by_inode = {s.inode: s for s in sockets if s.protocol == "unix"}
    rows = []
    for s in sockets:
        if s.protocol == "unix":
            proto = f"unix/{s.socket_type}" if s.socket_type else "unix"
            local = s.path or "*"
            peer = by_inode.get(s.peer_inode) if s.peer_inode else None
            if peer is not None and peer.process:
                remote = f"{peer.path or '*'} ({peer.process})"
            else:
                remote = (peer.path if peer else "") or "*"
        else:
            proto = s.protocol
            local = endpoint(s.local_address, s.local_port, s.protocol)
            remote = endpoint(s.remote_address, s.remote_port, s.protocol)
        nspids, pids, process = _holders(s)
        rows.append([proto, s.state, local, remote, nspids, pids, process])
    return rows


def network(
    snap: Snapshot | Network, sockets_only: bool = False, stream: TextIO | None = None
) -> None:
    """Print the INTERFACES, ROUTES, SOCKETS and DNS sections for people."""
    from debugtool import output

    out = _stream(stream)
    network = snap.network if isinstance(snap, Snapshot) else snap

    if not sockets_only:
        out.write("INTERFACES" + "\n")
        output.table(
            [
                "name",
                "kind",
                "state",
                "mtu",
                "mac",
                "addresses",
                "rx bytes",
                "rx pkts",
                "rx err",
                "rx drop",
                "tx bytes",
                "tx pkts",
                "tx err",
                "tx drop",
            ],  # fmt: skip
            [
                [
                    i.name,
                    f"{i.kind or '-'} (host: {i.peer})" if i.peer else i.kind or "-",
                    i.state or "-",
                    i.mtu or "-",
                    i.mac or "-",
                    ", ".join(f"{a.address}/{a.prefixlen}" for a in i.addresses) or "-",
                    output.human_size(i.rx_bytes),
                    i.rx_packets,
                    i.rx_errors,
                    i.rx_dropped,
                    output.human_size(i.tx_bytes),
                    i.tx_packets,
                    i.tx_errors,
                    i.tx_dropped,
                ]
                for i in network.interfaces
            ],
            fit=False,
            stream=out,
        )
        out.write("\n")
        out.write("ROUTES" + "\n")
        # The local table holds the kernel's own host and broadcast routes (``ip route show
        # table local``); like ``ip route`` people see the others. --json has them all.
        routes = [r for r in network.routes if r.table != "local" and r.type != "multicast"]
        output.table(
            ["destination", "gateway", "interface", "src", "proto", "scope", "metric", "table"],
            [
                [
                    r.destination,
                    r.gateway or "-",
                    r.interface or "-",
                    r.prefsrc or "-",
                    r.protocol or "-",
                    r.scope or "-",
                    r.metric,
                    r.table if r.type in ("", "unicast") else f"{r.table} ({r.type})",
                ]
                for r in routes
            ],
            fit=False,
            stream=out,
        )
        out.write("\n")
    out.write("SOCKETS" + "\n")
    output.table(
        ["proto", "state", "local", "remote", "pid", "host pid", "process"],
        socket_rows(network.sockets),
        stream=out,
    )
    if sockets_only:
        return
    out.write("\n")
    out.write("DNS" + "\n")
    dns = network.dns
    if not dns.resolv_conf and not dns.nameservers:
        out.write("(no /etc/resolv.conf in the container)" + "\n")
    for ns in dns.nameservers:
        out.write(f"nameserver {ns}" + "\n")
    if dns.search:
        out.write(f"search     {' '.join(dns.search)}" + "\n")
    if dns.options:
        out.write(f"options    {' '.join(dns.options)}" + "\n")
    hosts = [
        line
        for line in dns.hosts.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if hosts:
        entries = f"{len(hosts)} entr{'y' if len(hosts) == 1 else 'ies'}"
        out.write(f"hosts      {entries} in /etc/hosts (see --json)" + "\n")


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
