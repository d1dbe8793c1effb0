"""``debugtool tui``: the Textual TUI over the live host, over nodes (``-H``), or over a support
bundle offline."""

from __future__ import annotations

from debugtool.commands import TARGET_HELP, Seconds

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any

    from debugtool.argv import SubcommandsLike
    from debugtool.fleet.nodes import Node
    from debugtool.fleet.transport import Connection
    from debugtool.model import Container
    from debugtool.source import Source

ORDER = 90

#: Over nodes, the time one poll of a node may take unless --node-timeout says otherwise: a
#: node is asked every 2 seconds, and one that hangs should be said so soon.
FLEET_TIMEOUT = 10.0


def register(sub: SubcommandsLike) -> None:
    p = sub.add_parser(
        "tui",
        help="browse containers, processes, mounts, network and resources in a terminal UI",
        description="A terminal UI over every container on this host (or a support bundle): "
        "Enter opens a container, ? lists the keys, q quits. With TARGET it opens on that "
        "container. With --bundle FILE it shows a bundle read-only. With -H NODE[,NODE...] "
        "(and --inventory, --forks, --node-timeout, --ssh-config as elsewhere) it lists the "
        "containers of every node over ssh, a NODE column first; TARGET is then NODE/TARGET.",
    )
    p.add_argument(
        "target",
        metavar="TARGET",
        nargs="?",
        help=f"open straight on this container ({TARGET_HELP})",
    )
    p.add_argument(
        "--bundle",
        metavar="FILE",
        help="show this support bundle, read-only (a fleet bundle: every node, NODE first)",
    )
    p.add_argument(
        "--interval",
        type=Seconds("--interval", "1", minimum=0.1, maximum=3600),
        default=1.0,
        metavar="SECONDS",
        help="refresh interval for live data (default: 1)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from debugtool.commands import open_source
    from debugtool.errors import UsageError

    source: Source
    if args.bundle and _fleet_archive(args.bundle):
        from debugtool.fleet.source import FleetArchiveSource

        # Every node of the archive, NODE first; TARGET is then NODE/TARGET.
        source = FleetArchiveSource(args.bundle)
    else:
        source = open_source(args)
    initial = None
    try:
        if args.target:
            initial = source.find(args.target)
        if not sys.stdin.isatty() or not sys.stdout.isatty():
            raise UsageError(
                "debugtool tui needs a terminal.", "Run it in an interactive terminal (or tmux)."
            )
        _run_app(source, initial, args.interval, None)
    finally:
        source.close()
    return 0


def run_fleet(
    args: Any,
    nodes: list[Node],
    connection: Connection,
    forks: int,
    options: dict[str, Any],
) -> int:
    """``debugtool tui -H ...``: every node's containers, each node polled on its own over ssh
    (``fleet.source.FleetSource``); actions run on the container's node as ``-H NODE`` does.
    A fleet archive is read with ``--bundle`` alone, without -H."""
    import sys

    from debugtool_tui import commands

    from debugtool.commands import Seconds
    from debugtool.errors import UsageError
    from debugtool.fleet.source import FleetSource

    if args.bundle:
        raise UsageError(
            "tui --bundle reads an archive on this host; it does not go with -H.",
            "Run 'debugtool tui --bundle FILE' (a fleet archive shows every node).",
        )
    timeout = Seconds("--node-timeout", str(FLEET_TIMEOUT), maximum=3600)(
        options.get("node_timeout") or str(FLEET_TIMEOUT)
    )
    if not sys.stdin.isatty() or not sys.stdout.isatty():
        raise UsageError(
            "debugtool tui needs a terminal.", "Run it in an interactive terminal (or tmux)."
        )
    # What reaches a node again from a command the TUI runs (exec, shell, trace).
    again: list[str] = []
    for flag, key in (
        ("--inventory", "inventory"),
        ("--ssh-config", "ssh_config"),
        ("--remote-debugtool", "remote_debugtool"),
    ):
        if options.get(key):
            again += [flag, str(options[key])]
    source = FleetSource(nodes, connection, forks, timeout, fleet_argv=again)
    try:
        initial = source.find(args.target) if args.target else None
        source.poll_due()
        # The bundle action writes a bundle on this host: over nodes it is 'bundle -H'.
        actions = commands.available_actions(False) - {"bundle"}
        _run_app(source, initial, args.interval, actions)
    finally:
        source.close()
    return 0


def _run_app(
    source: Source, initial: Container | None, interval: float, actions: frozenset[str] | None
) -> None:
    import os

    # shutil.get_terminal_size (which Textual asks) prefers COLUMNS and LINES to the
    # terminal itself; a shell that exported them before the pty was sized (seen under
    # tmux) would pin the app at 80x24 through every resize.
    os.environ.pop("COLUMNS", None)
    os.environ.pop("LINES", None)
    from debugtool_tui.app import DebugtoolApp

    DebugtoolApp(source, initial=initial, interval=interval, actions=actions).run()


def _fleet_archive(path: str) -> bool:
    from debugtool.bundle.fleet import is_fleet_archive

    return is_fleet_archive(path)
