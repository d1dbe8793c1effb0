"""``debugtool top``: a container's processes read from the host, flat or as a tree."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from debugtool.model import Process

ORDER = 30


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "top",
        help="list a container's processes (read from the host, works on distroless)",
        description="List the processes of one container as the host sees them: the PID inside "
        "the container and on the host, the user named from the container's own /etc/passwd, "
        "state, CPU, memory, threads, start time and command line. Nothing runs inside the "
        "container. A PID marked '*' is in the container's PID namespace but outside its cgroup "
        "(entered with nsenter or setns), so the container's limits do not apply to it.",
    )
    p.add_argument(
        "target",
        metavar="TARGET",
        help="id, id prefix, name, RUNTIME:NAME, pid:N or pod/NAME[/CONTAINER]",
    )
    p.add_argument("--tree", action="store_true", help="show parents above their children")
    p.add_argument(
        "--interval",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="sample %%CPU over this many seconds (default: the average since each process "
        "started, as ps shows it)",
    )
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from debugtool import output
    from debugtool.collect.processes import collect_processes
    from debugtool.errors import UsageError
    from debugtool.model import Snapshot
    from debugtool.runtimes import Discovery, discover
    from debugtool.target import require_privileges, resolve

    if args.interval < 0:
        raise UsageError("--interval must be zero or more seconds.", "Try --interval 1.")
    require_privileges()
    if args.target.startswith("pid:"):
        # A process needs no runtime to be read, and this output names no container: skip
        # asking every runtime (most of this command's time on a busy host).
        found = Discovery()
    else:
        found = discover(all=True, timeout=args.timeout)
    for message in found.warnings:
        output.warn(message)
    with resolve(args.target, found) as target:
        processes = collect_processes(target, cpu_interval=args.interval)
        ordered = (
            Snapshot(container=target.container, processes=processes).process_tree()
            if args.tree
            else [(0, p) for p in processes]
        )
    if args.json:
        # A Process holds only plain values: its __dict__ is its JSON (model.to_dict's generic
        # walk costs ~40 us a process, as much as reading it).
        records = [{**vars(p), "depth": depth} if args.tree else vars(p) for depth, p in ordered]
        _emit_records(records)
        return 0
    import time

    now = time.time()
    rows = [
        [
            f"{p.nspid if p.nspid is not None else '-'}{'*' if p.outside_cgroup else ''}",
            p.pid,
            p.user or (p.uid if p.uid is not None else "?"),
            p.state,
            "-" if p.cpu_percent is None else f"{p.cpu_percent:.1f}",
            output.human_size(p.rss),
            p.threads,
            start_column(p.start_time, now),
            "  " * depth + ("\\_ " if depth else "") + printable_command(p),
        ]
        for depth, p in ordered
    ]
    output.table(
        ["PID", "HOST PID", "USER", "STATE", "%CPU", "RSS", "THR", "START", "COMMAND"], rows
    )
    if any(p.outside_cgroup for p in processes):
        output.warn(
            "PIDs marked '*' are in the container's PID namespace but not its cgroup "
            "(entered with nsenter or setns): its limits do not apply to them."
        )
    return 0


def start_column(epoch: float | None, now: float) -> str:
    """Return a start time as ps does: HH:MM today, 'Mon DD' before today."""
    if not epoch:
        return "-"
    import time

    started = time.localtime(epoch)
    today = time.localtime(now)
    if (started.tm_year, started.tm_yday) == (today.tm_year, today.tm_yday):
        return time.strftime("%H:%M", started)
    return time.strftime("%b%d", started)


def printable_command(p: Process) -> str:
    """Return the command line for a terminal: undecodable bytes and control characters escaped."""
    text = p.command.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _emit_records(records: list[dict]) -> None:
    """Write a JSON array with one object per line.

    ``json.dump(indent=2)`` falls back to the pure-Python encoder; for thousands of processes
    that costs more than reading them. One compact object per line stays readable and greppable.
    """
    import json
    import sys

    out = sys.stdout
    out.write("[\n")
    last = len(records) - 1
    for i, record in enumerate(records):
        out.write(json.dumps(record))
        out.write(",\n" if i < last else "\n")
    out.write("]\n")
