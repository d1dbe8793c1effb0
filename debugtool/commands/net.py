"""``debugtool net``: a container's interfaces, routes, sockets with their processes, and DNS."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from debugtool.model import Network, Socket

ORDER = 40


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "net",
        help="show a container's interfaces, routes, sockets and DNS",
        description="Show a container's network as it sees it, read from the host without "
        "running anything inside: interfaces with addresses and counters, routes, TCP/UDP/raw/"
        "UNIX sockets with the processes holding them (the container's PID and the host's), and "
        "its resolver configuration. Works on containers without a shell or tools.",
    )
    p.add_argument(
        "target",
        metavar="TARGET",
        help="id, id prefix, name, RUNTIME:NAME, pid:N or pod/NAME[/CONTAINER]",
    )
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.add_argument(
        "-l",
        "--listening",
        action="store_true",
        help="only listening sockets (and unconnected datagram sockets, as 'ss -l')",
    )
    p.add_argument(
        "--sockets-only", action="store_true", help="show only the sockets, no other section"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from debugtool import output
    from debugtool.collect.network import collect_network
    from debugtool.runtimes import discover
    from debugtool.target import find, pin, require_privileges

    require_privileges()
    found = discover(all=True, timeout=args.timeout)
    for message in found.warnings:
        output.warn(message)
    with pin(find(args.target, found)) as target:
        network = collect_network(target)
    for message in network.warnings:
        output.warn(message)
    if args.listening:
        network.sockets = [s for s in network.sockets if s.listening]
    if args.json:
        write_json(network, sockets_only=args.sockets_only)
        return 0
    print_network(network, sockets_only=args.sockets_only)
    return 0


def write_json(network: Network, sockets_only: bool = False, stream: TextIO | None = None) -> None:
    """Write the network as indented JSON, one socket per line.

    The same data as ``to_dict(network)``; a container can hold tens of thousands of sockets, and
    Python's JSON encoder is written in C only for unindented output, so each socket is written
    on one line rather than indented field by field (grep-friendly, and several times faster).
    """
    import json
    import sys

    from debugtool.model import to_dict

    stream = stream or sys.stdout
    sections: dict[str, object] = {}
    if not sockets_only:
        sections = {
            "interfaces": to_dict(network.interfaces),
            "routes": to_dict(network.routes),
        }
    # A Socket holds only scalars and lists of ints, so its __dict__ is its to_dict().
    sockets = [vars(s) for s in network.sockets]
    parts = []
    for key, value in {**sections, "sockets": sockets}.items():
        if key == "sockets" and sockets:
            # Encoded in one call, then split between sockets: every socket starts with its
            # "protocol" key, and a quote inside a string is always escaped, so this separator
            # cannot occur inside a value.
            text = json.dumps(sockets)[1:-1].replace('}, {"protocol": ', '},\n    {"protocol": ')
            text = "[\n    " + text + "\n  ]"
        else:
            text = json.dumps(value, indent=2).replace("\n", "\n  ")
        parts.append(f"  {json.dumps(key)}: {text}")
    if not sockets_only:
        for key, value in (("dns", to_dict(network.dns)), ("warnings", network.warnings)):
            parts.append(
                f"  {json.dumps(key)}: " + json.dumps(value, indent=2).replace("\n", "\n  ")
            )
    stream.write("{\n" + ",\n".join(parts) + "\n}\n")


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


def print_network(network: Network, sockets_only: bool = False) -> None:
    """Print the INTERFACES, ROUTES, SOCKETS and DNS sections for people."""
    from debugtool import output

    if not sockets_only:
        print("INTERFACES")
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
        )
        print()
        print("ROUTES")
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
        )
        print()
    print("SOCKETS")
    output.table(
        ["proto", "state", "local", "remote", "pid", "host pid", "process"],
        socket_rows(network.sockets),
    )
    if sockets_only:
        return
    print()
    print("DNS")
    dns = network.dns
    if not dns.resolv_conf and not dns.nameservers:
        print("(no /etc/resolv.conf in the container)")
    for ns in dns.nameservers:
        print(f"nameserver {ns}")
    if dns.search:
        print(f"search     {' '.join(dns.search)}")
    if dns.options:
        print(f"options    {' '.join(dns.options)}")
    hosts = [
        line
        for line in dns.hosts.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if hosts:
        entries = f"{len(hosts)} entr{'y' if len(hosts) == 1 else 'ies'}"
        print(f"hosts      {entries} in /etc/hosts (see --json)")
