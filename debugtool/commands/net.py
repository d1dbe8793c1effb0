"""``debugtool net``: a container's interfaces, routes, sockets with their processes, and DNS."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, TextIO

from debugtool.commands import TARGET_HELP, add_bundle_option

if TYPE_CHECKING:
    from debugtool.model import Network

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
        help=TARGET_HELP,
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
    add_bundle_option(p, "network")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from debugtool import output
    from debugtool.commands import open_source

    with open_source(args) as source:
        network = source.network(source.find(args.target))
    for message in network.warnings:
        output.warn(message)
    if args.listening:
        network.sockets = [s for s in network.sockets if s.listening]
    if args.json:
        write_json(network, sockets_only=args.sockets_only)
        return 0
    from debugtool import render

    render.network(network, sockets_only=args.sockets_only)
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
