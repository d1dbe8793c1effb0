"""``debugtool top``: a container's processes read from the host, flat or as a tree."""

from __future__ import annotations

from debugtool.commands import PID_MEANING, TARGET_HELP, Count, Seconds, add_bundle_option

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from debugtool.argv import SubcommandsLike
    from debugtool.snapshot import Process

ORDER = 30


def register(sub: SubcommandsLike) -> None:
    p = sub.add_parser(
        "top",
        help="list a container's processes (read from the host, works on distroless)",
        description="List the processes of one container as the host sees them: the PID inside "
        "the container and on the host, the user named from the container's own /etc/passwd, "
        "state, CPU, memory, threads, start time and command line. Nothing runs inside the "
        "container. A PID marked '*' is in the container's PID namespace but outside its cgroup "
        "(entered with nsenter or setns), so the container's limits do not apply to it. "
        "With --pid N, one process in depth instead: open files (paths as the container sees "
        "them), sockets, threads, memory (RSS, USS, PSS, swap), I/O, context switches, "
        "resource limits, environment (secret-looking values masked), working directory and "
        "root. " + PID_MEANING,
    )
    p.add_argument(
        "target",
        metavar="TARGET",
        help=TARGET_HELP,
    )
    p.add_argument("--tree", action="store_true", help="show parents above their children")
    p.add_argument(
        "--interval",
        type=Seconds("--interval", "1", maximum=3600, zero=True),
        default=0.0,
        metavar="SECONDS",
        help="sample %%CPU over this many seconds (default: the average since each process "
        "started, as ps shows it)",
    )
    p.add_argument(
        "--pid",
        type=Count("--pid", "1", minimum=1, maximum=1 << 22),  # PID_MAX_LIMIT
        metavar="N",
        help="show process N in depth; N is the PID as the container sees it (the PID column, "
        "as 'trace --pid' and the console take it)",
    )
    p.add_argument(
        "--host-pid",
        type=Count("--host-pid", "1", minimum=1, maximum=1 << 22),
        metavar="N",
        help="the same for the process with host PID N (the HOST PID column); it must be one "
        "of the container's",
    )
    p.add_argument(
        "--show-secrets",
        action="store_true",
        help="with --pid: show secret-looking environment values instead of <redacted>",
    )
    add_bundle_option(p, "processes")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from debugtool.commands import open_source

    if args.pid is not None or args.host_pid is not None:
        return run_detail(args)
    with open_source(args) as source:
        # Only the processes are shown: pid:N needs no runtime asked.
        container = source.find(args.target, names_container=False)
        processes = source.processes(container, cpu_interval=args.interval)
    if args.json:
        write_json(processes, tree=args.tree)
        return 0
    from debugtool import render

    render.processes(processes, tree=args.tree)
    return 0


def write_json(processes: list[Process], tree: bool = False) -> None:
    """Write the processes as JSON (``output.emit_json``: one process per line), in tree order
    with each one's ``depth`` when ``tree``."""
    from debugtool import output
    from debugtool.snapshot import process_tree

    if tree:
        output.emit_json([{**vars(p), "depth": depth} for depth, p in process_tree(processes)])
    else:
        output.emit_json(processes)


def run_detail(args: argparse.Namespace) -> int:
    """``top TARGET --pid N``: one process in depth, read live (a bundle keeps no such detail)."""
    from debugtool import output
    from debugtool.commands import open_source
    from debugtool.errors import UsageError
    from debugtool.source import LiveSource

    if args.pid is not None and args.host_pid is not None:
        raise UsageError("give --pid or --host-pid, not both.", "See 'debugtool top --help'.")
    if getattr(args, "bundle", None):
        raise UsageError(
            "a bundle keeps no process detail: --pid reads a live process.",
            "Drop --bundle, or use 'debugtool top --bundle FILE TARGET' for the process list.",
        )
    from debugtool.collect.procdetail import collect_process

    with open_source(args) as source:
        assert isinstance(source, LiveSource)
        container = source.find(args.target)
        detail = collect_process(
            source.target(container),
            pid=args.pid,
            host_pid=args.host_pid,
            show_secrets=args.show_secrets,
        )
    if args.json:
        for warning in detail.warnings:
            output.warn(warning)
        output.emit_json(detail)
        return 0
    from debugtool import render

    render.process_detail(detail)
    return 0
