"""``debugtool snapshot``: everything debugtool reads about one container, as one JSON document."""

from __future__ import annotations

from debugtool.commands import TARGET_HELP, add_bundle_option

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from debugtool.argv import SubcommandsLike

ORDER = 38


def register(sub: SubcommandsLike) -> None:
    p = sub.add_parser(
        "snapshot",
        help="print a container's whole Snapshot as JSON",
        description="Collect one container's processes, mounts, network, cgroup and security "
        "context and print them as one JSON Snapshot (always JSON; it reads back with "
        "Snapshot.from_json). A section that cannot be read is named in 'errors' and the rest "
        "is still printed.",
    )
    p.add_argument(
        "target",
        metavar="TARGET",
        help=TARGET_HELP,
    )
    p.add_argument("--no-network", action="store_true", help="skip the network section")
    add_bundle_option(p, "snapshot")
    p.add_argument("--json", action="store_true", help="accepted for symmetry; output is JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from debugtool import output
    from debugtool.commands import open_source

    with open_source(args) as source:
        snap = source.snapshot(source.find(args.target), network=not args.no_network)
    for section, sentence in snap.errors.items():
        if not (section == "network" and args.no_network):
            output.warn(f"{section}: {sentence}")
    output.emit_json(snap)
    return 0
