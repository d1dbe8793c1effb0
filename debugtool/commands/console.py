"""``debugtool console``: an interactive prompt that inspects one container from the host."""

from __future__ import annotations

from debugtool.commands import TARGET_HELP

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any

    from debugtool.argv import SubcommandsLike

ORDER = 60


def register(sub: SubcommandsLike) -> None:
    p = sub.add_parser(
        "console",
        help="interactive prompt that inspects a container from the host",
        description="Inspect one container from the host without running anything inside it: "
        "ps, tree, mounts, net, cgroup, caps, env, and ls, cat, head, tail, stat, find, grep over "
        "the container's own files (symlinks resolve inside the container's root, never on the "
        "host). '|' pipes one command into the next, as in a shell ('cat /etc/passwd | grep "
        "root', 'ps | grep nginx', 'env | sort'; sort, uniq and wc are there for pipes); there "
        "is no '>': nothing is written on the host or in the container. 'exec', 'trace' and "
        "'bundle' go through debugtool's audited paths. Tab completes commands, container "
        "paths, PIDs and syscall names; history is kept per user. An interactive console is "
        "an audited session, and what it shows (the prompts, the commands typed at them and "
        "what they print) is recorded like a shell ('debugtool audit replay ID').",
    )
    p.add_argument("target", metavar="TARGET", help=TARGET_HELP)
    p.add_argument(
        "-c",
        dest="commands",
        metavar="COMMANDS",
        help="run these commands (separated by ';', piped with '|') without a prompt, then exit; "
        "the exit status is the last command's",
    )
    p.add_argument(
        "--show-secrets",
        action="store_true",
        help="show environment values whose names look secret (redacted by default)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from debugtool import console
    from debugtool.commands import open_source
    from debugtool.source import LiveSource

    with open_source(args) as source:
        assert isinstance(source, LiveSource)  # the console reads a live container's files
        target = source.target(source.find(args.target))
        if args.commands is not None or not sys.stdin.isatty():
            return console.run(target, commands=args.commands, show_secrets=args.show_secrets)
        return _recorded_session(args, target)


def _recorded_session(args: argparse.Namespace, target: Any) -> int:
    """Run the interactive console as an audited session whose screen is recorded."""
    from debugtool import audit, console, recording
    from debugtool.terminal import get_winsize

    session = audit.Session(
        audit.Record(
            action="console",
            target_id=target.container.id,
            target_name=target.container.name,
            runtime=target.container.runtime,
            tty=True,
            interactive=True,
        )
    )
    session.start()
    code, error = 125, ""
    try:
        recorder = recording.attach(session, get_winsize(0) or get_winsize(1))
        code = console.run(target, show_secrets=args.show_secrets, recorder=recorder)
    except KeyboardInterrupt:
        code, error = 130, "interrupted by Ctrl-C"
        raise
    finally:
        session.end(code, error)
    return code
