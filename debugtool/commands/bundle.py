"""``debugtool bundle``: capture a support bundle; ``bundle verify FILE``; ``bundle show FILE``;
``bundle redact IN -o OUT``.

``verify``, ``show`` and ``redact`` are read as actions only in first position; a container
that happens to be named ``verify`` is bundled with ``debugtool bundle -- verify`` (or by its
id, or ``RUNTIME:verify``).
"""

from __future__ import annotations

import sys

from debugtool.commands import (
    TARGET_HELP,
    Count,
    Duration,
    Seconds,
    Size,
    action_index,
    hidden_help,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any

    from debugtool.argv import SubcommandsLike

ORDER = 80

ACTIONS = ("verify", "show", "redact")
EXIT_CORRUPT = 1
#: --max-size below this could not hold a bundle's manifest, report and host facts (about 5 KiB
#: for one container with everything else dropped), so the archive would be larger than asked.
MIN_SIZE = 64 << 10
MAX_BUDGET = 86400.0  # a day
MAX_SAMPLES = 600  # five minutes of samples, 0.5 s apart
MAX_SINCE = 3650 * 86400.0  # ten years of logs
MAX_LOG_BYTES = 8 << 20  # collectors.MAX_LOG_BYTES (not imported: the module is heavy)
MIN_LOG_BYTES = 4 << 10
#: How many members ``bundle verify`` names per kind of problem before "and N more".
SUMMARY_NAMES = 3


def register(sub: SubcommandsLike) -> None:
    p = sub.add_parser(
        "bundle",
        help="capture a redacted, checksummed support bundle (or verify/show one)",
        description="Capture one archive with what a support engineer needs: host facts "
        "(kernel, OS, cgroup layout, runtime versions, the audit log's recent lines with their "
        "hash chain and the recordings of the bundled containers' sessions; the kernel "
        "log and its OOM kills, the last 2000 journal lines of dockerd, containerd, podman and "
        "kubelet, runtime configs (daemon.json, config.toml, registries/storage/containers.conf; "
        "DEBUGTOOL_RUNTIME_CONFIGS=PATH:PATH replaces the list), docker info and the last hour "
        "of docker events, df with inodes, sysctls, iptables-save/ip6tables-save/nft rules, "
        "listening sockets, CPU, memory, disks and network counters; what the host lacks is "
        "recorded as 'not available: why') and per "
        "container the runtime's inspect data, the full snapshot (processes, mounts, network, "
        "cgroups, security), logs, raw /proc and cgroup files and cgroup samples over about a "
        "second. Secrets are redacted unless --no-redact. Every collector has a timeout and "
        "the bundle is written even when one hangs or fails; Ctrl-C writes what was gathered, "
        "marked incomplete (exit 130, or 143 for SIGTERM); a second Ctrl-C aborts. "
        "Also: 'debugtool bundle verify FILE' checks a bundle made anywhere: every gzip "
        "member whole, nothing appended after the archive's end, the manifest's schema, every "
        "member present once with its checksum and none unrecorded, no links or devices (exit "
        "0 intact, 1 damaged or changed, problems summarised by kind; 125 when it cannot be checked "
        "at all: missing, unreadable, not a bundle, past a size limit); 'debugtool bundle "
        "show FILE' summarises one, marking each container with risky mounts, CPU throttling, "
        "OOM kills or a crash loop (the report's navigation marks them too). show, TUI and the --bundle options of top, mounts and net "
        "make the same checks as they read and refuse a bundle that fails them. "
        "To bundle a container named 'verify' or 'show', write 'debugtool bundle -- verify'. "
        "'debugtool bundle redact IN -o OUT' redacts a bundle already written again, with "
        "today's rules and a rules file, and can pseudonymise it. "
        "'debugtool bundle verify --help', 'bundle show --help' and 'bundle redact --help' "
        "describe those three. "
        "'debugtool bundle -H NODE[,NODE...] [TARGET...|--all] -o FILE' captures on every node "
        "over ssh at once and writes one fleet bundle (an index, a report and every node's "
        "bundle unchanged; exit 0 all ok, 2 some nodes failed or were incomplete); verify, show, "
        "redact and the --bundle options read it with the node first (--bundle FLEET "
        "NODE/TARGET).",
    )
    p.add_argument(
        "targets",
        nargs="*",
        metavar="TARGET",
        help=f"containers to bundle ({TARGET_HELP})",
    )
    p.add_argument(
        "--all",
        action="store_true",
        help="bundle every running container, and every restarting one (its record and logs)",
    )
    p.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="where to write the .tar.gz: a new file, a directory (the default name in it), or "
        "'-' for standard output (the summary then goes to standard error); never a device, "
        "FIFO or symbolic link",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="replace FILE if it exists (the summary says so); without it an existing file "
        "is refused",
    )
    p.add_argument(
        "--since",
        type=Duration("--since", maximum=MAX_SINCE),
        metavar="DURATION",
        help="logs from this long ago on (e.g. 30m, 2h, 1d): the containers' logs, the "
        "daemons' journals (journalctl --since) and the kernel log (its records' times since "
        "boot turned into wall time, as dmesg -T does), all from the same moment",
    )
    p.add_argument(
        "--max-log-bytes",
        type=Size("--max-log-bytes", minimum=MIN_LOG_BYTES),
        default=MAX_LOG_BYTES,
        metavar="SIZE",
        help="keep at most SIZE of each log source, its newest part (default 8M): each "
        "container's logs, each daemon's journal, the kernel log; what was cut (source, bytes "
        "kept, bytes dropped) is recorded in the manifest and shown by 'bundle show'",
    )
    p.add_argument(
        "--log-lines",
        type=Count("--log-lines", "1000", minimum=0),
        default=1000,
        metavar="N",
        help="last N lines of each container's logs (default 1000; 0: all)",
    )
    p.add_argument(
        "--collector-timeout",
        type=Seconds("--collector-timeout", "10", maximum=3600),
        default=10.0,
        metavar="SECONDS",
        help="time each collector may take before it is cut off (default 10). Not the global "
        "'debugtool --timeout', which limits how long each runtime may take to answer (also "
        "while bundling, capped at this)",
    )
    # The old spelling of --collector-timeout: still read, with a warning (it looked like the
    # global --timeout but meant something else).
    p.add_argument(
        "--timeout",
        dest="old_collector_timeout",
        type=Seconds("--timeout", "10", maximum=3600),
        metavar="SECONDS",
        help=hidden_help(p),
    )
    p.add_argument(
        "--budget",
        type=Seconds("--budget", "60", maximum=MAX_BUDGET),
        default=60.0,
        metavar="SECONDS",
        help="time the whole capture may take (default 60); what is left out is recorded. "
        "With -H, the whole fleet's: every node's capture fits inside it (30 s more for "
        "connecting and the transfer)",
    )
    p.add_argument(
        "--max-size",
        type=Size("--max-size", minimum=MIN_SIZE),
        metavar="SIZE",
        help="keep the archive under SIZE (e.g. 20M; at least 64K): logs are dropped first, then raw files, "
        "samples, inspect data; what was dropped is recorded",
    )
    p.add_argument(
        "--samples",
        type=Count("--samples", "3", minimum=1, maximum=MAX_SAMPLES),
        default=3,
        metavar="N",
        help="cgroup samples per container, 0.5s apart, taken for all containers at once "
        "(default 3: a rate over one second)",
    )
    p.add_argument("--no-redact", action="store_true", help="do not mask secrets (careful)")
    p.add_argument(
        "--redact-rules",
        metavar="FILE",
        help="more redaction rules (TOML: keys, patterns, literals, allow), added to the "
        "built-in ones and to [redact] in the system configuration",
    )
    _pseudonym_options(p)
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run)
    if hasattr(p, "parse_known_args"):  # argparse's parser, not debugtool.argv's recorder
        _remember_dashdash(p)


def _pseudonym_options(p: Any) -> None:
    p.add_argument(
        "--pseudonymise",
        "--pseudonymize",
        dest="pseudonymise",
        metavar="KINDS",
        help="replace host names, IP and MAC addresses and user names (KINDS: a comma-separated "
        "list of hosts, ips, macs, users, or all) by pseudonyms, the same one for the same "
        "original in every file of the bundle; what is replaced is what the bundle knows "
        "(the host's and containers' host names, addresses in its network data, site accounts "
        "with uid 1000 and above). The mapping is written only beside the bundle (see "
        "--pseudonym-map), mode 0600, never into it",
    )
    p.add_argument(
        "--pseudonym-map",
        metavar="FILE",
        help="the mapping file of --pseudonymise (default: the bundle's name with .map.json "
        "in place of .tar.gz); an existing one is extended, so bundles of several nodes "
        "share one set of pseudonyms",
    )


def _remember_dashdash(parser: argparse.ArgumentParser) -> None:
    """Make the parser record where ``--`` stood, so ``bundle -- verify`` bundles 'verify',
    and hand ``bundle verify ...`` and ``bundle show ...`` to their own parsers (their own
    ``--help``, their own options and errors)."""
    base = type(parser)

    class BundleParser(base):  # type: ignore[valid-type,misc]
        def parse_known_args(self, args=None, namespace=None):  # type: ignore[no-untyped-def]
            args = list(sys.argv[1:] if args is None else args)
            at = action_index(self, args, ACTIONS)
            if at is not None:
                action = _action_parser(base, self.prog, args[at])
                # parse_args: a word it does not know is its error, with its own --help.
                return action.parse_args(args[:at] + args[at + 1 :], namespace), []
            ns, rest = super().parse_known_args(args, namespace)
            ns.dashdash = args.index("--") if "--" in args else None
            ns.bundle_args = args
            return ns, rest

    parser.__class__ = BundleParser


def _action_parser(base: type, prog: str, action: str) -> argparse.ArgumentParser:
    """Return the parser of ``bundle verify`` or ``bundle show`` (``base``: debugtool's
    ArgumentParser class, whose errors are one sentence and exit 125)."""
    if action == "redact":
        return _redact_parser(base, prog)
    if action == "verify":
        p = base(
            prog=f"{prog} verify",
            description="Check a bundle made anywhere against its manifest: every gzip member "
            "whole, nothing appended after the archive's end, the manifest's schema, every "
            "member present once with its size and SHA-256 and none unrecorded, no links or "
            "devices; and the audit log it carries: its lines are the host's, in the order of "
            "their hash chain (each line's original hash is kept beside the redacted copy), "
            "its recordings match their SHA-256 unless redacted. A host log that was already "
            "broken when the bundle was made is a note on stderr (and in --json), not damage. "
            "A damaged bundle's problems are summarised (counts by kind and the first few "
            "names); --verbose or --json lists every one.",
            epilog="Exit codes: 0 intact; 1 damaged or changed; 125 it cannot be checked at all "
            "(missing, unreadable, not a bundle, past a size limit).",
        )
        p.add_argument(
            "-v", "--verbose", action="store_true", help="list every problem, one per line"
        )
        p.add_argument(
            "--json",
            action="store_true",
            help="print {path, ok, problems, summary} as JSON (problems: every one)",
        )
    else:
        p = base(
            prog=f"{prog} show",
            description="Summarise a bundle: when and where it was captured and by what command "
            "line, each container with what was collected of it, containers with risky mounts, "
            "CPU throttling, OOM kills (the runtime's last state, the cgroup, the kernel log) or "
            "a crash loop marked, the kernel's OOM kills, host collectors and "
            "redactions. The bundle is verified first and refused if it fails (see 'bundle "
            "verify').",
        )
        p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.add_argument("file", metavar="FILE", help="the bundle (.tar.gz)")
    p.set_defaults(func=run, action=action)
    return p


def _redact_parser(base: type, prog: str) -> argparse.ArgumentParser:
    p = base(
        prog=f"{prog} redact",
        description="Redact a bundle already written, again: today's redactor and the rules "
        "given run over every member the bundle's writer redacts; the manifest, checksums, "
        "redaction report and HTML report are made anew. The redaction report says what "
        "changed relative to IN (members changed, masks of each rule). IN is verified first "
        "(a damaged one is refused) and never changed.",
        epilog="Exit codes: 0 written; 125 IN cannot be read or is damaged, or OUT cannot be "
        "written.",
    )
    p.add_argument("file", metavar="IN", help="the bundle to redact (.tar.gz)")
    p.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        required=True,
        help="the new bundle: a new file, a directory (IN's name with .redacted.tar.gz in it) "
        "or '-' for standard output",
    )
    p.add_argument("--force", action="store_true", help="replace OUT if it exists")
    p.add_argument(
        "--rules",
        metavar="FILE",
        help="a redaction rules file (keys, regular expressions, literal values to mask)",
    )
    _pseudonym_options(p)
    p.add_argument("--json", action="store_true", help="print what was written as JSON")
    p.set_defaults(func=run, action="redact")
    return p


def run(args: argparse.Namespace) -> int:
    action = getattr(args, "action", None)
    if action == "verify":
        return verify(args.file, args.json, args.verbose)
    if action == "show":
        return show(args)
    if action == "redact":
        return redact(args)
    return capture(args)


def redact(args: argparse.Namespace) -> int:
    """``bundle redact IN -o OUT``: write IN redacted again (and pseudonymised) to OUT."""
    from debugtool import output
    from debugtool.bundle.fleet import is_fleet_archive
    from debugtool.bundle.reredact import redact_bundle

    kinds = _kinds(args.pseudonymise)
    if is_fleet_archive(args.file):
        from debugtool.bundle.fleet_cli import redact_fleet

        return redact_fleet(args, kinds)
    result = redact_bundle(
        args.file,
        args.output,
        force=args.force,
        rules_path=args.rules,
        pseudonymise=kinds,
        pseudonym_map=args.pseudonym_map,
        command_line=["debugtool", *sys.argv[1:]],
    )
    stream = sys.stderr if result.path == "-" else sys.stdout
    if args.json:
        output.emit_json(result, stream=stream)
        return 0
    show = output.printable
    masks = ", ".join(f"{rule} {n}" for rule, n in result.masks.items()) or "none"
    where = "standard output" if result.path == "-" else result.path
    line = (
        f"bundle {'replaced' if result.replaced else 'written'}: {where} "
        f"({output.human_size(result.size)}, {output.duration_text(result.duration)}); "
        f"{len(result.changed)} member(s) changed, new masks: {masks}"
    )
    if result.pseudonym_map:
        counts = ", ".join(f"{n} {kind}" for kind, n in result.pseudonymised.items())
        line += f"; pseudonymised {counts} (mapping in {result.pseudonym_map}, keep it local)"
    print(show(line), file=stream)
    for rel in result.changed[:20]:
        print(f"  changed: {show(rel)}", file=stream)
    if len(result.changed) > 20:
        print(f"  and {len(result.changed) - 20} more (--json lists every one)", file=stream)
    return 0


def _kinds(text: str | None) -> list[str]:
    if text is None:
        return []
    from debugtool.bundle.pseudonyms import parse_kinds

    return parse_kinds(text)


def capture(args: argparse.Namespace) -> int:
    import time

    from debugtool import output
    from debugtool.bundle.archive import STDOUT
    from debugtool.bundle.capture import Options
    from debugtool.bundle.capture import capture as do_capture
    from debugtool.errors import UsageError
    from debugtool.target import require_privileges

    # Numbers were checked by their option types (debugtool.commands) while parsing.
    if args.old_collector_timeout is not None:
        from debugtool.commands import deprecated

        deprecated("bundle --timeout", "bundle --collector-timeout")
        args.collector_timeout = args.old_collector_timeout
    if args.all and args.targets:
        raise UsageError("give containers or --all, not both.", "Drop one of them.")
    rules = None
    if not args.no_redact:
        from debugtool.bundle.redact import configured_rules

        rules = configured_rules(args.redact_rules)  # a bad rule stops here, before any work
    options = Options(
        targets=list(args.targets),
        all=args.all,
        output=args.output,
        force=args.force,
        since=time.time() - args.since if args.since else None,
        log_lines=args.log_lines or None,
        collector_timeout=args.collector_timeout,
        budget=args.budget,
        max_size=args.max_size,
        redact=not args.no_redact,
        redact_rules=rules,
        samples=args.samples,
        max_log_bytes=args.max_log_bytes,
        pseudonymise=_kinds(args.pseudonymise),
        pseudonym_map=args.pseudonym_map,
        runtime_timeout=min(args.timeout, args.collector_timeout),
        command_line=["debugtool", *sys.argv[1:]],
    )
    require_privileges(what="to capture a bundle")
    bar = _ProgressBar() if sys.stderr.isatty() and not args.json else None
    if bar:
        options.progress = bar.update
    try:
        summary = do_capture(options)
    finally:
        if bar:
            bar.close()
    # With -o - the bundle itself is on standard output: nothing else may go there.
    report = sys.stderr if summary.path == STDOUT else sys.stdout
    if args.json:
        output.emit_json(summary, stream=report)
        return _exit_code(summary)
    where = "standard output" if summary.path == STDOUT else summary.path
    line = (
        f"bundle {'replaced' if summary.replaced else 'written'}: {where} "
        f"({output.human_size(summary.size)}, "
        f"{summary.containers} container{'s' if summary.containers != 1 else ''}"
        f", {output.duration_text(summary.duration)}"
    )
    if not summary.complete:
        line += f", INCOMPLETE: {summary.interrupted or 'time budget used up'}"
    line += ")"
    unfinished = [r for r in summary.not_ok if r["status"] != "skipped" or not summary.complete]
    if unfinished:
        names = ", ".join(_label(r) for r in unfinished[:6])
        more = f" and {len(unfinished) - 6} more" if len(unfinished) > 6 else ""
        line += f"; not finished: {names}{more}"
    if summary.dropped:
        line += f"; dropped {len(summary.dropped)} file(s) for --max-size"
    if summary.exited:
        line += f"; exited during capture: {', '.join(summary.exited)}"
    if summary.pseudonym_map:
        line += f"; pseudonym mapping in {summary.pseudonym_map} (keep it local)"
    print(output.printable(line), file=report)  # names of containers, which their creators chose
    return _exit_code(summary)


def _exit_code(summary: Any) -> int:
    """0, or for a bundle written after Ctrl-C or SIGTERM the shell's 130 or 143."""
    if not summary.interrupted:
        return 0
    import signal

    return 128 + int(getattr(signal, summary.interrupted, signal.SIGINT))


def _label(record: dict[str, Any]) -> str:
    where = (record.get("container") or "host")[:12]
    name = record["name"].removeprefix("host/")
    return f"{name}@{where} ({record['status']})"


class _ProgressBar:
    """A one-line progress bar on stderr (only drawn on a terminal)."""

    def __init__(self) -> None:
        self.drawn = False

    def update(self, done: int, total: int) -> None:
        width = 30
        filled = int(width * done / total) if total else width
        sys.stderr.write(f"\rbundling [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        sys.stderr.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def _host_line(doc: Any) -> str:
    """One line of ``host/resources.json``: CPUs, load, memory, swap, uptime ('' without it).
    The document comes from the bundle: every value is checked before it is used."""
    from debugtool.output import human_size

    if not isinstance(doc, dict):
        return ""

    def number(value: Any) -> float | None:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return float(value) if ok and abs(value) < 1e18 else None

    def used(part: Any) -> str:
        part = part if isinstance(part, dict) else {}
        used, total = number(part.get("used")), number(part.get("total"))
        if used is None or total is None:
            return "-"
        return f"{human_size(int(used))} of {human_size(int(total))}"

    cpu: Any = doc.get("cpu")
    cpu = cpu if isinstance(cpu, dict) else {}
    loads: Any = doc.get("load")
    loads = loads if isinstance(loads, list) else []
    load = " ".join(f"{x:.2f}" for x in map(number, loads) if x is not None) or "-"
    uptime = number(doc.get("uptime_seconds"))
    return (
        f"{cpu.get('logical', '-')} CPUs, load {load}, memory {used(doc.get('memory'))}, "
        f"swap {used(doc.get('swap'))}, up {uptime / 86400:.1f} days"
        if uptime is not None
        else f"{cpu.get('logical', '-')} CPUs, load {load}, memory {used(doc.get('memory'))}"
    )


def verify(path: str, as_json: bool, verbose: bool = False) -> int:
    """Check a bundle against its manifest: 0 intact, 1 damaged or changed, 125
    (``BundleError``) when it cannot be checked at all.

    Problems are summarised by kind (a truncated archive misses every member after the cut:
    hundreds of lines saying the same); ``verbose`` and ``as_json`` give every one.
    """
    from debugtool import output
    from debugtool.bundle.fleet import is_fleet_archive
    from debugtool.bundle.reader import NOTES, check_bundle, summarise

    if is_fleet_archive(path):
        from debugtool.bundle.fleet_cli import verify_fleet

        return verify_fleet(path, as_json, verbose)
    found = check_bundle(path)  # raises BundleError (125) when it cannot be checked
    problems = [p for p in found if p.kind not in NOTES]
    notes = [p.text for p in found if p.kind in NOTES]
    if as_json:
        output.emit_json(
            {
                "path": path,
                "ok": not problems,
                "problems": [p.text for p in problems],
                "summary": {kind: len(names) for kind, names in summarise(problems).items()},
                "notes": notes,
            }
        )
        return EXIT_CORRUPT if problems else 0
    # A problem names a member of the archive: whoever wrote the file chose those names.
    show = output.printable
    for note in notes:  # about the host when the bundle was made, not the bundle itself
        sys.stderr.write(f"debugtool: note: {show(note)}\n")
    if not problems:
        print(f"{show(path)}: ok")
        return 0
    count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
    print(f"{show(path)}: CORRUPT ({count})")
    if verbose:
        for problem in problems:
            print(f"  {show(problem.text)}")
        return EXIT_CORRUPT
    shown = 0
    for kind, items in summarise(problems).items():
        if len(items) == 1:
            print(f"  {show(items[0].text)}")
            shown += 1
            continue
        names = ", ".join(p.member or p.text for p in items[:SUMMARY_NAMES])
        more = f" and {len(items) - SUMMARY_NAMES} more" if len(items) > SUMMARY_NAMES else ""
        print(f"  {kind}: {len(items)} members ({show(names)}{more})")
        shown += min(len(items), SUMMARY_NAMES)
    if shown < len(problems):
        print("  (--verbose lists every problem, --json too)")
    return EXIT_CORRUPT


def show(args: argparse.Namespace) -> int:
    """Summarise a bundle: containers, collectors and their status, redactions."""
    from debugtool import output
    from debugtool.bundle.fleet import is_fleet_archive
    from debugtool.bundle.reader import open_bundle

    if is_fleet_archive(args.file):
        from debugtool.bundle.fleet_cli import show_fleet

        return show_fleet(args.file, args.json)
    bundle = open_bundle(args.file)
    if args.json:
        output.emit_json(show_document(bundle))
        return 0
    show_text(bundle)
    return 0


def show_document(bundle: Any, label: str | None = None) -> dict[str, Any]:
    """``bundle show --json``'s document of one bundle (``label``: its name for people)."""
    from debugtool.record import asdict

    m = bundle.manifest
    records = m.get("collectors") or []
    return {
        "path": label or bundle.path,
        "created_at": bundle.captured_at,
        "host": m.get("host"),
        "complete": bundle.complete,
        "verified": True,  # open_bundle refuses a bundle that fails verification
        "interrupted": m.get("interrupted"),
        "exited_during_capture": sorted(bundle.exited_during_capture),
        "command_line": m.get("command_line"),
        "containers": m.get("containers"),
        "collectors": records,
        "redactions": bundle.redactions(),
        "dropped": m.get("dropped") or [],
        "cuts": m.get("cuts") or [],
        "redaction_cost": m.get("redaction"),
        "pseudonymised": m.get("pseudonymised"),
        "rederived": m.get("rederived") or [],
        "marks": {c.id: [asdict(mark) for mark in bundle.marks(c.id)] for c in bundle.containers},
        "oom_kills": bundle.oom_kills(),
    }


def show_text(bundle: Any, label: str | None = None) -> None:
    """``bundle show``'s summary of one bundle (``label``: its name for people)."""
    import time

    from debugtool import output
    from debugtool.output import utc_text

    m = bundle.manifest
    records = m.get("collectors") or []
    # Everything below comes from the bundle: its manifest, and the names and errors of
    # containers it holds. Lines go through output.printable, table cells through output.table.
    show = output.printable
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(bundle.captured_at))
    state = "complete" if bundle.complete else f"INCOMPLETE ({m.get('interrupted') or 'budget'})"
    exited = [c for c in bundle.containers if c.id in bundle.exited_during_capture]
    if exited:
        state += "; exited during capture: "
        state += ", ".join(f"{c.name} ({c.short_id})" for c in exited)
    print(f"Bundle:     {show(label or bundle.path)}")
    print(show(f"Captured:   {when} on {m.get('host')} by debugtool {m.get('debugtool_version')}"))
    print(f"Command:    {show(' '.join(str(a) for a in m.get('command_line') or []))}")
    print(f"State:      {show(state)}")
    print(f"Checked:    {len(m.get('files') or {})} files, every checksum matches its manifest")
    glance = _host_line(bundle.json_member("host/resources.json"))
    if glance:
        print(f"Host:       {show(glance)}")
    print()
    by_container: dict[Any, dict[str, str]] = {}
    for r in records:
        by_container.setdefault(r.get("container"), {})[r["name"]] = r["status"]
    names = ["inspect", "snapshot", "cgroup-samples", "logs", "raw", "files"]
    rows = []
    attention = []
    for c in bundle.containers:
        st = by_container.get(c.id, {})
        status = f"{c.status} during capture" if c.id in bundle.exited_during_capture else c.status
        marks = bundle.marks(c.id)
        rows.append(
            [
                c.short_id,
                c.name,
                c.runtime,
                status,
                *[st.get(n, "-") for n in names],
                ", ".join(mark.label for mark in marks) or "-",
            ]
        )
        attention += [f"{c.name} ({c.short_id}): {mark.label}: {mark.detail}" for mark in marks]
    output.table(
        ["ID", "NAME", "RUNTIME", "STATUS", *[n.upper() for n in names], "ATTENTION"], rows
    )
    if attention:
        print()
        print("Needs attention:")
        for line in attention:
            print(f"  {show(line)}")
    kills = bundle.oom_kills()
    if kills:
        print()
        output.table(
            ["OOM KILL (KERNEL LOG)", "HOST PID", "PROCESS", "MEMORY CGROUP"],
            [
                [utc_text(k.get("at")), k["pid"], k["process"], k["memcg"] or "-"]
                for k in kills[-20:]
            ],
        )
    print()
    host = [
        [r["name"], r["status"], output.duration_text(r["duration"]), r.get("error", "")]
        for r in records
        if r.get("container") is None
    ]
    output.table(["HOST COLLECTOR", "STATUS", "DURATION", "DETAIL"], host)
    failing = [r for r in records if r.get("container") and r["status"] != "ok"]
    if failing:
        print()
        output.table(
            ["CONTAINER", "COLLECTOR", "STATUS", "DETAIL"],
            [[r["container"][:12], r["name"], r["status"], r.get("error", "")] for r in failing],
        )
    redactions = bundle.redactions()
    print()
    if not m.get("redacted", True):
        print("Redactions: none (written with --no-redact)")
    elif redactions:
        output.table(
            ["REDACTION RULE", "FILE", "COUNT"],
            [[r.get("rule"), r.get("file"), r.get("count")] for r in redactions],
        )
    else:
        print("Redactions: nothing matched")
    for d in m.get("dropped") or []:
        print(
            f"Dropped for --max-size: {show(str(d.get('file')))} ({output.human_size(d.get('size'))})"
        )
    cost = m.get("redaction")
    if isinstance(cost, dict) and m.get("redacted", True):
        share = cost.get("share")
        of = f" ({share:.0%} of the capture)" if isinstance(share, (int, float)) else ""
        print(
            f"Redaction cost: {output.duration_text(cost.get('seconds') or 0)} over "
            f"{output.human_size(cost.get('bytes') or 0)}{of}"
        )
    for h in m.get("rederived") or []:
        if isinstance(h, dict):
            print(
                show(
                    f"Redacted again from {h.get('from')}: {h.get('members_changed')} member(s) "
                    f"changed, {h.get('masks')} new mask(s)"
                )
            )
    kinds = m.get("pseudonymised")
    if isinstance(kinds, dict) and kinds:
        print(
            "Pseudonymised: "
            + show(", ".join(f"{n} {kind}" for kind, n in kinds.items()))
            + " (the mapping is kept beside the bundle where it was made)"
        )
    cuts = [c for c in m.get("cuts") or [] if isinstance(c, dict)]
    if cuts:
        print()
        output.table(
            ["CUT (--max-log-bytes)", "KEPT", "DROPPED"],
            [
                [
                    c.get("source"),
                    output.human_size(c.get("kept")),
                    output.human_size(c.get("dropped")),
                ]
                for c in cuts
            ],
        )
