"""``debugtool trace``: strace-like syscall tracing of a container process, always detached after."""

from __future__ import annotations

from debugtool.commands import PID_MEANING, TARGET_HELP, Count, Seconds

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from debugtool.argv import SubcommandsLike

ORDER = 60


def register(sub: SubcommandsLike) -> None:
    p = sub.add_parser(
        "trace",
        help="trace a container process's syscalls (like strace -p)",
        description="Trace the syscalls of a container's process (its init by default) from the "
        "host, like 'strace -p': time, PID as the container sees it, the call with its "
        "arguments decoded as strace decodes them (flag names, socket addresses, signals, errno "
        "names, strings quoted and cut at -s), and its result. Signals delivered (--- SIGCHLD "
        "{...} ---) and exits (+++ exited with 0 +++) are lines of their own; with -f, lines come "
        "in the order the kernel reports them, a call cut by another process's line shown as "
        "strace shows it (<unfinished ...>, then <... read resumed>). 'Process N attached' goes "
        "to stderr, as strace's does. Ends on Ctrl-C, SIGTERM, --duration, --count, or when the "
        "traced processes exit; every traced process is detached and left running. Each session "
        "is written to the audit log. " + PID_MEANING,
    )
    p.add_argument(
        "target",
        metavar="TARGET",
        help=TARGET_HELP,
    )
    p.add_argument(
        "--pid",
        type=Count("--pid", "1", minimum=1, maximum=1 << 22),  # PID_MAX_LIMIT
        metavar="PID",
        help="the process to trace, by its PID inside the container (default: its init)",
    )
    p.add_argument(
        "-f",
        "--follow",
        action="store_true",
        help="also trace threads and child processes created while tracing",
    )
    p.add_argument(
        "-e",
        "--syscalls",
        metavar="SYSCALLS",
        help="only these syscalls: names and classes, comma-separated "
        "(file, network, process, memory, signal), e.g. -e openat,network",
    )
    p.add_argument(
        "--duration",
        type=Seconds("--duration", "10", maximum=7 * 86400),
        metavar="SECONDS",
        help="stop tracing after this many seconds (at most a week)",
    )
    p.add_argument(
        "--count",
        type=Count("--count", "100", minimum=1, maximum=10**12),
        metavar="N",
        help="stop after N syscalls",
    )
    p.add_argument(
        "--summary",
        action="store_true",
        help="print counts, errors and time per syscall at the end instead of each call, like "
        "strace -c: the time is the system CPU time spent in the syscall (ru_stime from wait4, "
        "as strace measures it), not the wall time a blocking call waits; --json adds each "
        "syscall's wall time ('wall')",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="one JSON object per line: a syscall (type 'syscall': pid, syscall, args decoded, "
        "call as text, return, errno, duration) or an event (type 'attached', 'signal', "
        "'exited', 'killed', 'stopped'), written when the syscall returns",
    )
    p.add_argument("-o", "--output", metavar="FILE", help="write the trace to FILE")
    from debugtool.commands.exec import add_reason_option

    add_reason_option(p, "trace")
    p.add_argument(
        "-s",
        "--string-limit",
        type=Count("--string-limit", "32", minimum=1, maximum=1 << 20),
        default=32,
        metavar="N",
        help="show at most N bytes of each string argument, then '...' (default: 32, as "
        "strace's -s; paths are shown whole)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from debugtool import audit, output, procfs
    from debugtool.commands import open_source
    from debugtool.errors import UsageError
    from debugtool.source import LiveSource
    from debugtool.trace.access import attach_refused, check_traceable, yama_scope
    from debugtool.trace.decode import parse_filter
    from debugtool.trace.summary import summary_json, summary_table
    from debugtool.trace.tracer import Tracer

    only = parse_filter(args.syscalls)
    reason = audit.check_reason(
        args.reason,
        audit.Record(action="trace", target_name=args.target, details={"filter": args.syscalls}),
    )
    with open_source(args) as source:
        assert isinstance(source, LiveSource)  # a trace attaches to live processes
        container = source.find(args.target)
        if container.status not in ("running", "paused"):
            from debugtool.target import nothing_runs

            raise nothing_runs(container, args.target)
        target = source.target(container)
        pid = target.pid
        status = procfs.read_text(target.pid, "status")  # the container init's NSpid depth
        if args.pid is not None:
            pid = procfs.host_pid_for(target.namespaces["pid"], args.pid)
        check_traceable(pid)
        if yama_scope() == 3:
            raise attach_refused(pid, 3)
        sink = None
        try:
            if args.output:
                try:
                    sink = open(args.output, "w", buffering=1 << 16, encoding="utf-8")
                except OSError as exc:
                    raise UsageError(
                        f"cannot write {args.output}: {exc.strerror}.", "Choose another -o FILE."
                    ) from None
            else:
                sink = open(
                    sys.stdout.fileno(), "w", buffering=1 << 16, encoding="utf-8", closefd=False
                )
            session = audit.Session(
                audit.Record(
                    action="trace",
                    target_id=target.container.id,
                    target_name=target.container.name,
                    runtime=target.container.runtime,
                    details={
                        "pid": pid,
                        "container_pid": procfs.pid_in_namespace(pid),
                        "follow": args.follow,
                        "filter": args.syscalls,
                    },
                    reason=reason,
                )
            )
            session.start()
            tracer = Tracer(
                pid,
                out=None if args.summary else sink,
                follow=args.follow,
                only=only,
                duration=args.duration,
                count=args.count,
                summary=args.summary,
                json_lines=args.json,
                string_max_length=args.string_limit,
                pidns_level=len(procfs.nspid(procfs.parse_status(status))) - 1,
                note=_note,
            )
            status = "error"
            try:
                result = tracer.run()
                status = result.reason
            finally:
                result = tracer.result
                session.end(
                    0 if status != "error" else 125,
                    pids={str(h): c for h, c in sorted(result.pids.items())},
                    syscalls=result.syscalls,
                    unfinished=result.unfinished,
                    syscalls_seen={n: s.calls for n, s in sorted(result.stats.items())},
                    exit=status,
                    undetached=result.undetached,
                )
            for message in result.warnings:
                output.warn(message)
            if args.summary:
                if args.json:
                    output.emit_json(
                        {
                            "reason": result.reason,
                            "pids": {str(h): c for h, c in sorted(result.pids.items())},
                            "syscalls": summary_json(result.stats),
                        },
                        stream=sink,
                    )
                else:
                    summary_table(result.stats, sink)
            left = (
                f"processes {', '.join(map(str, result.undetached))} are left to the kernel to detach"
                if result.undetached
                else "all traced processes detached"
            )
            unfinished = f" ({result.unfinished} unfinished)" if result.unfinished else ""
            sys.stderr.write(
                f"debugtool: trace ended ({_reason(result.reason)}); "
                f"{result.syscalls + result.unfinished} syscalls{unfinished}, {left}.\n"
            )
        finally:
            if sink is not None:
                try:
                    sink.close()
                except BrokenPipeError:
                    pass
    return 0


def _note(text: str) -> None:
    """Write a line strace writes on stderr (``Process 7 attached``), prefixed as ours."""
    import sys

    sys.stderr.write(f"debugtool: {text}\n")


def _reason(reason: str) -> str:
    return {
        "exited": "the traced processes exited",
        "duration": "--duration reached",
        "count": "--count reached",
        "SIGINT": "interrupted",
        "SIGTERM": "terminated",
        "SIGHUP": "the terminal closed",
        "output closed": "the output was closed",
    }.get(reason, reason or "done")
