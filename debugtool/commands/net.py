"""``debugtool net``: a container's interfaces, routes, sockets with their processes, and DNS."""

from __future__ import annotations

from debugtool.commands import PID_MEANING, TARGET_HELP, add_bundle_option

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import TextIO

    from debugtool.argv import SubcommandsLike
    from debugtool.snapshot import Network

ORDER = 40


def register(sub: SubcommandsLike) -> None:
    p = sub.add_parser(
        "net",
        help="show a container's interfaces, routes, sockets and DNS",
        description="Show a container's network as it sees it, read from the host without "
        "running anything inside: interfaces with addresses and counters, routes, TCP/UDP/raw/"
        "UNIX sockets with the processes holding them (the container's PID and the host's), and "
        "its resolver configuration. Works on containers without a shell or tools. " + PID_MEANING,
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
    """Write the network as JSON (``output.emit_json``: one socket per line); with
    ``sockets_only``, only its sockets."""
    from debugtool import output

    if sockets_only:
        output.emit_json({"sockets": network.sockets}, stream)
    else:
        output.emit_json(network, stream)
