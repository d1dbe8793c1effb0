"""``debugtool tui``: the Textual TUI over the live host, or over a support bundle offline."""

from __future__ import annotations

from debugtool.commands import TARGET_HELP, Seconds

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from debugtool.argv import SubcommandsLike

ORDER = 90


def register(sub: SubcommandsLike) -> None:
    p = sub.add_parser(
        "tui",
        help="browse containers, processes, mounts, network and resources in a terminal UI",
        description="A terminal UI over every container on this host (or a support bundle): "
        "Enter opens a container, ? lists the keys, q quits. With TARGET it opens on that "
        "container. With --bundle FILE it shows a bundle read-only.",
    )
    p.add_argument(
        "target",
        metavar="TARGET",
        nargs="?",
        help=f"open straight on this container ({TARGET_HELP})",
    )
    p.add_argument("--bundle", metavar="FILE", help="show this support bundle, read-only")
    p.add_argument(
        "--interval",
        type=Seconds("--interval", "1", minimum=0.1, maximum=3600),
        default=1.0,
        metavar="SECONDS",
        help="refresh interval for live data (default: 1)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import os
    import sys

    from debugtool.commands import open_source
    from debugtool.errors import UsageError

    source = open_source(args)
    initial = None
    try:
        if args.target:
            initial = source.find(args.target)
        if not sys.stdin.isatty() or not sys.stdout.isatty():
            raise UsageError(
                "debugtool tui needs a terminal.", "Run it in an interactive terminal (or tmux)."
            )
        # shutil.get_terminal_size (which Textual asks) prefers COLUMNS and LINES to the
        # terminal itself; a shell that exported them before the pty was sized (seen under
        # tmux) would pin the app at 80x24 through every resize.
        os.environ.pop("COLUMNS", None)
        os.environ.pop("LINES", None)
        from debugtool_tui.app import DebugtoolApp

        DebugtoolApp(source, initial=initial, interval=args.interval).run()
    finally:
        source.close()
    return 0
