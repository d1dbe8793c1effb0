"""``debugtool logs``: a container's output, where its runtime keeps it, or where it goes."""

from __future__ import annotations

from debugtool.commands import TARGET_HELP, Count, add_bundle_option, parse_duration
from debugtool.errors import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterable
    from typing import TextIO

    from debugtool.argv import SubcommandsLike
    from debugtool.logs.formats import LogLine

ORDER = 35

_COUNT = Count("--tail", "100", minimum=0)


def tail_count(text: str) -> int | None:
    """``--tail``: a whole number of lines, or ``all`` (None)."""
    return None if text.strip().lower() == "all" else _COUNT(text)


def since_time(text: str, now_ns: int | None = None) -> int:
    """Return ``--since`` as nanoseconds since the epoch: a duration back from ``now_ns``
    (``10m``, ``2h``, ``90``) or an RFC 3339 time. Raises ``UsageError``."""
    import time

    from debugtool.logs.formats import parse_time

    at = parse_time(text.strip())
    if at is not None:
        return at
    seconds = parse_duration(text)
    if -float("inf") < seconds < float("inf") and seconds >= 0:
        return (time.time_ns() if now_ns is None else now_ns) - int(seconds * 1_000_000_000)
    raise UsageError(
        f"'{text}' is not a duration or an RFC 3339 time for --since.",
        "Write e.g. 10m, 2h, 90 (seconds) or 2026-11-26T15:00:00Z.",
    )


def since_option(text: str) -> str:
    """``--since``'s type: the text as given, once ``since_time`` accepts it (it is made a time
    when the command runs, so that a command line always reads the same)."""
    since_time(text, now_ns=0)
    return text


def register(sub: SubcommandsLike) -> None:
    p = sub.add_parser(
        "logs",
        help="show a container's output (Docker, podman, containerd/CRI), or where it goes",
        description="Show what a container wrote to stdout and stderr, as its runtime keeps it: "
        "Docker's API (its json-file on disk when dockerd does not answer), podman's k8s-file "
        "or journald, a Kubernetes container's CRI log file, a containerd task's file:// log "
        "URI. Lines are shown as written, with control characters made visible; stderr lines "
        "go to stderr. runc, crun and bare namespaces keep no log: debugtool then says where "
        "the container's stdout goes and exits 1, as it does for a containerd task started "
        "without a log URI.",
    )
    p.add_argument("target", metavar="TARGET", help=TARGET_HELP)
    p.add_argument(
        "-f",
        "--follow",
        action="store_true",
        help="keep printing new lines as they are written (across log rotations), until the "
        "container stops or Ctrl-C (exit 130)",
    )
    p.add_argument(
        "--tail",
        type=tail_count,
        default=None,
        metavar="N",
        help="only the last N lines (default: all)",
    )
    p.add_argument(
        "--since",
        type=since_option,
        default=None,
        metavar="T",
        help="only lines from T on: a duration back from now (10m, 2h, 90) or an RFC 3339 "
        "time (2026-11-26T15:00:00Z)",
    )
    p.add_argument(
        "-t",
        "--timestamps",
        action="store_true",
        help="start each line with its time (RFC 3339, UTC, nanoseconds)",
    )
    p.add_argument(
        "-p",
        "--previous",
        action="store_true",
        help="the previous run's output instead: a Kubernetes container's previous attempt "
        "(its N.log), or a Docker container's run before its latest (the lines between "
        "dockerd's records of the two runs' ends); one sentence when there was none",
    )
    add_bundle_option(p, "logs")
    p.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object a line: time, stream, line (JSON Lines, also with -f)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from debugtool import output
    from debugtool.commands import open_source
    from debugtool.logs.sources import open_log

    if args.follow:
        import gc

        gc.enable()  # the CLI turns it off for one-shot commands: a follow may run for days
    with open_source(args) as source:
        container = source.find(args.target)
        if args.previous:
            from debugtool.logs.previous import previous_log

            log = previous_log(source, container, timeout=args.timeout, warn=output.warn)
            if args.follow:
                output.warn("a run that has ended writes nothing more: --follow shows its log.")
        else:
            log = open_log(source, container, timeout=args.timeout, warn=output.warn)
        if args.follow and not source.live:
            output.warn("a bundle does not grow: --follow shows what it holds.")
        # A container that is not running writes nothing more: its log is shown and that is
        # all, as docker logs -f does. A running one is followed until it stops.
        follow = args.follow and source.live and container.running and not args.previous
        alive = None
        if follow:
            # Followed until the container stops or whoever reads the output goes (a closed
            # pipe or ssh session): a follow nobody reads is not left waiting for a line.
            running = source.target(container).alive if hasattr(source, "target") else None

            def alive() -> bool:
                return (running is None or running()) and not reader_gone(sys.stdout)

        since = since_time(args.since) if args.since is not None else None
        batches = log.read(args.tail, since, follow=follow, alive=alive)
        try:
            write(batches, timestamps=args.timestamps, as_json=args.json, flush=args.follow)
        finally:
            batches.close()
    return 0


def reader_gone(stream: TextIO) -> bool:
    """Return whether whoever reads ``stream`` has gone: its pipe's or socket's other end is
    closed, or its terminal hung up (a file never says so)."""
    import select

    try:
        fd = stream.fileno()
    except (AttributeError, ValueError, OSError):
        return False
    poller = select.poll()
    poller.register(fd, select.POLLERR | select.POLLHUP)
    try:
        events = poller.poll(0)
    except OSError:
        return False
    return any(mask & (select.POLLERR | select.POLLHUP | select.POLLNVAL) for _fd, mask in events)


def write(
    batches: Iterable[list[LogLine]], timestamps: bool, as_json: bool, flush: bool = False
) -> None:
    """Write log lines as they come: stdout's (and those of no known stream) to stdout,
    stderr's to stderr, each through ``output.printable``; or JSON Lines to stdout.

    ``flush`` writes each batch out at once (``--follow``: a line is shown when it is written,
    also through a pipe).
    """
    import sys

    from debugtool.output import printable

    out, err = sys.stdout, sys.stderr
    if as_json:
        from debugtool import jsonc

        encode = jsonc.encoder()
        for batch in batches:
            out.write(
                "".join(
                    encode({"time": line.time or None, "stream": line.stream, "line": line.line})
                    + "\n"
                    for line in batch
                )
            )
            if flush:
                out.flush()
        return
    for batch in batches:
        # Each run of lines of one stream goes to its stream in turn, flushed before the
        # other's: where both reach one terminal, it shows them in the order they were written.
        current = out
        run: list[str] = []
        for line in batch:
            stream = err if line.stream == "stderr" else out
            if stream is not current:
                if run:
                    current.write("".join(run))
                    current.flush()
                    run = []
                current = stream
            text = line.line if line.line.isprintable() else printable(line.line, multiline=True)
            run.append(f"{line.time or '-'} {text}\n" if timestamps else text + "\n")
        if run:
            current.write("".join(run))
        if flush or current is err:
            current.flush()
