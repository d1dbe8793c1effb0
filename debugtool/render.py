"""Text views of a Snapshot for people: the one set of renderers the CLI and the console share.

Table cells go through ``output.printable`` in ``output.table``; the free text lines written
here (DNS, security) go through it where they are written.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from debugtool.model import (
    CgroupStats,
    Mount,
    Network,
    Process,
    SecurityContext,
    Snapshot,
    Socket,
    process_tree,
)
from debugtool.output import human_size, printable, table, warn


def _stream(stream: TextIO | None) -> TextIO:
    return stream or sys.stdout


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
    procs = snap if isinstance(snap, list) else snap.processes
    ordered = process_tree(procs) if tree else [(0, p) for p in procs]
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
            "  " * depth + ("\\_ " if depth else "") + p.command,
        ]
        for depth, p in ordered
    ]
    table(
        ["PID", "HOST PID", "USER", "STATE", "%CPU", "RSS", "THR", "START", "COMMAND"],
        rows,
        stream=out,
    )
    if any(p.outside_cgroup for p in procs):
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
            m.mountpoint,
            m.fstype,
            m.source or "-",
            m.host_path or "-",
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
    lines = []
    if not dns.resolv_conf and not dns.nameservers:
        lines.append("(no /etc/resolv.conf in the container)")
    lines += [f"nameserver {ns}" for ns in dns.nameservers]
    if dns.search:
        lines.append(f"search     {' '.join(dns.search)}")
    if dns.options:
        lines.append(f"options    {' '.join(dns.options)}")
    hosts = [
        line
        for line in dns.hosts.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if hosts:
        entries = f"{len(hosts)} entr{'y' if len(hosts) == 1 else 'ies'}"
        lines.append(f"hosts      {entries} in /etc/hosts (see --json)")
    out.write("".join(printable(line) + "\n" for line in lines))


def cgroup(snap: Snapshot | CgroupStats, stream: TextIO | None = None) -> None:
    """Usage against limits: memory, CPU, throttling, pids, IO."""
    out = _stream(stream)
    s = snap.cgroup if isinstance(snap, Snapshot) else snap

    def limit(value: int | None, fmt: Any = str) -> str:
        return "unlimited" if value is None else fmt(value)

    out.write(f"Resources (cgroup {s.version or 'unknown'}):\n")
    out.write(
        f"  memory:   {human_size(s.memory_usage)} of {limit(s.memory_limit, human_size)}"
        f" (peak {human_size(s.memory_peak)}, OOM kills {_n(s.oom_kills)})\n"
    )
    cpu_limit = f"{s.cpu_limit:g} CPUs" if s.cpu_limit else "unlimited"
    used = f"{s.cpu_usage_ns / 1e9:.2f}s" if s.cpu_usage_ns is not None else "-"
    out.write(f"  cpu:      {used} used, limit {cpu_limit}, weight {_n(s.cpu_weight)}\n")
    if s.cpu_nr_periods is not None:
        throttled = f"{s.cpu_throttled_ns / 1e9:.2f}s" if s.cpu_throttled_ns is not None else "-"
        out.write(
            f"  throttled: {_n(s.cpu_nr_throttled)} of {_n(s.cpu_nr_periods)} periods"
            f" ({throttled})\n"
        )
    out.write(f"  pids:     {_n(s.pids_current)} of {limit(s.pids_max)}\n")
    if s.io_read_bytes is not None or s.io_write_bytes is not None:
        out.write(
            f"  io:       read {human_size(s.io_read_bytes)},"
            f" written {human_size(s.io_write_bytes)}\n"
        )


def _n(value: int | None) -> str:
    return "-" if value is None else str(value)


def security(snap: Snapshot | SecurityContext, stream: TextIO | None = None) -> None:
    """Capabilities, seccomp, LSM labels, user namespace and the warnings they raise."""
    out = _stream(stream)
    s = snap.security if isinstance(snap, Snapshot) else snap

    def caps(names: list[str]) -> str:
        return ", ".join(n.removeprefix("CAP_").lower() for n in names) or "(none)"

    def idmap(m: list[tuple[int, int, int]]) -> str:
        return "; ".join(f"{a}->{b} x{c}" for a, b, c in m) or "-"

    lines = [
        "Security:",
        f"  user namespace: {'yes' if s.user_namespace else 'no (host ids)'}",
        f"  uid map:        {idmap(s.uid_map)}",
        f"  gid map:        {idmap(s.gid_map)}",
        f"  effective caps: {caps(s.cap_effective)}",
        f"  permitted caps: {caps(s.cap_permitted)}",
        f"  bounding caps:  {caps(s.cap_bounding)}",
    ]
    if s.cap_inheritable:
        lines.append(f"  inheritable:    {caps(s.cap_inheritable)}")
    if s.cap_ambient:
        lines.append(f"  ambient caps:   {caps(s.cap_ambient)}")
    filters = f" ({s.seccomp_filters} filters)" if s.seccomp_filters else ""
    lines += [
        f"  seccomp:        {s.seccomp or 'unknown'}{filters}",
        f"  no_new_privs:   {'yes' if s.no_new_privs else 'no'}",
        f"  AppArmor:       {s.apparmor or '-'}",
        f"  SELinux:        {s.selinux or '-'}",
        f"  read-only root: {'yes' if s.readonly_rootfs else 'no'}",
        *(f"  ! {warning}" for warning in s.warnings),
    ]
    out.write("".join(printable(line) + "\n" for line in lines))
