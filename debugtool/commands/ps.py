"""``debugtool ps``: every container of every runtime, and sandboxes no runtime owns."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any

    from debugtool.argv import SubcommandsLike
    from debugtool.model import Container


ORDER = 10


def register(sub: SubcommandsLike) -> None:
    p = sub.add_parser(
        "ps",
        help="list containers of every runtime (and namespace sandboxes)",
        description="List the containers of every runtime on this host: Docker, containerd "
        "(every namespace), podman, runc and crun state directories, and processes in PID "
        "namespaces no runtime owns (runtime 'none'). A container seen by several runtimes is "
        "listed once. Without -a: running, paused and restarting ones (a restarting container "
        "is between two runs of a crash loop; docker ps lists it too). Rootless podman "
        "containers of every user are listed too, with an OWNER column (root's containers show "
        "root); run as a user who is not root, ps lists that user's own rootless containers.",
    )
    p.add_argument(
        "-a",
        "--all",
        action="store_true",
        help="include stopped containers, and show each one's last state: EXIT (its last exit "
        "code, 'OOM' when the kernel OOM-killed it), RESTARTS, STARTED and FINISHED (ages; "
        "--json has epoch seconds)",
    )
    p.add_argument(
        "--runtime",
        action="append",
        metavar="R",
        help="ask only this runtime (repeatable): docker, containerd, podman, runc, crun, none",
    )
    p.add_argument("--no-trunc", action="store_true", help="show full container ids")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.add_argument(
        "--stats",
        action="store_true",
        help="with --json: a sample of each running container's cgroup in 'stats' (CPU time "
        "in ns, memory, PIDs and their limits, 'sampled_at' in epoch seconds; as snapshot "
        "--json's 'cgroup' without its paths), null for the others. Two samples make a rate: the fleet TUI "
        "(tui -H) polls each node with it for its CPU and MEM columns",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from debugtool import output
    from debugtool.runtimes import discover
    from debugtool.target import caller_runtimes

    if args.stats and not args.json:
        from debugtool.errors import UsageError

        raise UsageError(
            "--stats goes with --json: one sample's counters are for scripts.",
            "For CPU and memory rates, run 'debugtool top NAME' or 'debugtool tui'.",
        )
    runtimes = caller_runtimes(args.runtime)  # a user who is not root: their own containers
    found = discover(runtimes, all=args.all, timeout=args.timeout)
    for message in found.warnings:
        output.warn(message)
    # A restarting container is listed as docker ps lists it: it is between two runs.
    live = ("running", "paused", "restarting")
    containers = [c for c in found.containers if args.all or c.status in live]
    containers.sort(key=lambda c: (-(c.created or 0), c.name))
    if args.json:
        # Each backend's raw record (a containerd spec runs to tens of KiB) is for 'inspect'.
        for c in containers:
            c.metadata = {}
        if args.stats:
            output.emit_json(_with_stats(containers, args.timeout))
            return 0
        output.emit_json(containers)
        return 0
    if not containers:
        # A sentence rather than a bare header (mounts --risky says 'no risky mounts' alike).
        print("no containers" if args.all else "no running containers (ps -a lists stopped ones)")
        return 0
    from debugtool import views
    from debugtool.views import containers as view

    columns = list(view.COLUMNS_ALL if args.all else view.COLUMNS)
    if args.no_trunc:
        columns[0] = view.FULL_ID
    if any(c.pod for c in containers):
        columns = view.with_pods(columns)
    if any(c.owner for c in containers):
        columns = view.with_owner(columns)
    views.table(columns, [view.ContainerRow(c) for c in containers])
    return 0


def _with_stats(containers: list[Container], timeout: float) -> list[dict[str, Any]]:
    """Return each container's JSON object with ``stats``: a sample of its cgroup when it
    runs (None when it does not, or went away meanwhile)."""
    from debugtool.errors import DebugtoolError
    from debugtool.model import to_dict
    from debugtool.source import LiveSource

    found = []
    with LiveSource(timeout=timeout) as source:
        for c in containers:
            stats = None
            if c.running:
                try:
                    sample = source.cgroup(c)
                except DebugtoolError:
                    sample = None  # it stopped since it was listed, or its cgroup is gone
                if sample is not None:
                    stats = to_dict(sample)
                    del stats["paths"]  # the node's own directories: 1 KiB a container
            found.append({**to_dict(c), "stats": stats})
    return found
