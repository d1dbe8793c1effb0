"""Write a fleet bundle: every node captures its own bundle, and one archive holds them all.

``debugtool bundle -H NODES ...`` runs ``bundle ... -o -`` on every node through
``fleet.transport.run_many`` (``--forks`` at a time, each node within its timeout), streams
each node's bundle into a private 0600 file as it arrives, checks it (a bundle that does not
verify is kept out and its node marked failed), and writes the fleet archive (``fleet``
describes its layout) whole or not at all through ``archive.Destination``.
"""

from __future__ import annotations

import os
import tarfile
import time

from debugtool.bundle import fleet, fleet_report
from debugtool.errors import BundleError
from debugtool.record import field, record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import IO, Any

    from debugtool.bundle.fleet_report import NodeView
    from debugtool.fleet.nodes import Node
    from debugtool.fleet.transport import Connection, Outcome


def root_name(now: float) -> str:
    """Return the fleet archive's top folder, ``debugtool-fleet-YYYYmmddTHHMMSSZ``."""
    return "debugtool-fleet-" + time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))


def index_document(
    root: str,
    created_at: float,
    command_line: Sequence[str],
    nodes: Sequence[fleet.FleetNode],
    pseudonymised: bool = False,
) -> dict[str, Any]:
    """Return the fleet index (``fleet``'s docstring lists its fields)."""
    from debugtool import __version__

    return {
        "format": fleet.FORMAT,
        "schema_version": fleet.SCHEMA_VERSION,
        "debugtool_version": __version__,
        "created_at": created_at,
        "root": root,
        "command_line": list(command_line),
        "complete": all(n.status == fleet.OK for n in nodes),
        "pseudonymised": pseudonymised,
        "nodes": [n.to_dict() for n in nodes],
    }


def _info(name: str, size: int, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = mtime
    info.mode = 0o600
    info.uname = info.gname = "root"
    return info


def with_report(index: dict[str, Any], report: bytes) -> dict[str, Any]:
    """Return ``index`` recording ``report`` (report.html): its size and SHA-256."""
    import hashlib

    entry = {"member": fleet.REPORT, "size": len(report)}
    return {**index, "report": {**entry, "sha256": hashlib.sha256(report).hexdigest()}}


def write_archive(
    fd: int, index: dict[str, Any], bundles: dict[str, str], report: bytes | None = None
) -> None:
    """Write a fleet archive to ``fd``: the index first, the report (when given: the index
    must record it, ``with_report``), then each node's bundle file (``bundles``: member ->
    file) byte for byte, in the index's order.

    A plain tar, streamed (``fd`` may be a pipe): the members are gzip already. Raises
    ``OSError`` when writing fails.
    """
    import json

    root = index["root"]
    mtime = int(index["created_at"])
    data = json.dumps(index, indent=1, sort_keys=False).encode() + b"\n"
    with open(fd, "wb", closefd=False, buffering=1 << 20) as out:
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            import io

            tar.addfile(_info(f"{root}/{fleet.INDEX}", len(data), mtime), io.BytesIO(data))
            if report is not None:
                info = _info(f"{root}/{fleet.REPORT}", len(report), mtime)
                tar.addfile(info, io.BytesIO(report))
            for entry in index["nodes"]:
                member = entry.get("member")
                if member is None:
                    continue
                with open(bundles[member], "rb") as source:
                    size = os.fstat(source.fileno()).st_size
                    tar.addfile(_info(f"{root}/{member}", size, mtime), source)


#: Options of ``bundle`` that are this side's business, not the nodes': where the fleet
#: archive goes, how the summary is printed, and what this side derives from the nodes'
#: bundles (a rules file and pseudonyms: see ``rederive``). Each takes a value but the flags.
LOCAL_VALUED = (
    "-o",
    "--output",
    "--redact-rules",
    "--pseudonymise",
    "--pseudonymize",
    "--pseudonym-map",
)
LOCAL_FLAGS = ("--force", "--json")
#: Time a node gets beyond its bundle's --budget: connecting, the zipapp, the transfer.
MARGIN = 30.0
#: The least --budget a node is started with when the run's time is running out.
MIN_NODE_BUDGET = 5.0


@record
class Plan:
    """What ``bundle -H`` does: the nodes, what each runs, and how long each may take."""

    nodes: list[Node]
    argv: dict[str, list[str]]  # node name -> the bundle command line it runs
    timeout: float  # each node's, from connecting to the last byte of its bundle
    budget: float = 60.0  # the whole run's --budget: every node's capture fits inside it
    node_budget: float = 60.0  # the --budget a node's own bundle gets at most

    def argv_of(self, node: Node, left: float | None) -> list[str] | None:
        """Return ``node``'s command line when it starts with ``left`` seconds of the run's
        time: its bundle's ``--budget`` shortened to what is left (``MARGIN`` kept for the
        transfer), or None when less than ``MIN_NODE_BUDGET`` would be left to capture."""
        words = self.argv[node.name]
        if left is None:
            return words
        room = min(self.node_budget, left - MARGIN)
        if room < MIN_NODE_BUDGET:
            return None
        return words if room >= self.node_budget else node_argv(words, int(room))


def node_argv(rest: Sequence[str], budget: float | None = None) -> list[str]:
    """Return the ``bundle`` command line a node runs: ``rest`` without this side's options
    (``LOCAL_VALUED``, ``LOCAL_FLAGS``), writing to standard output, with ``budget`` as its
    ``--budget`` when given (so the node writes what it has before its timeout)."""
    out: list[str] = []
    i = 0
    words = list(rest)
    while i < len(words):
        word = words[i]
        if word == "--":
            out += words[i:]
            break
        flag, eq, _ = word.partition("=")
        if flag in LOCAL_VALUED or flag in ("--budget",) and budget is not None:
            i += 1 if eq else 2
            continue
        if word in LOCAL_FLAGS:
            i += 1
            continue
        out.append(word)
        i += 1
    head = out.index("--") if "--" in out else len(out)
    extra = ["-o", "-"] + ([f"--budget={budget:g}"] if budget is not None else [])
    return out[:head] + extra + out[head:]


def plan(
    selected: Sequence[Node],
    rest: Sequence[str],
    targets: Sequence[str],
    budget: float,
    node_timeout: float | None,
) -> Plan:
    """Decide which nodes run what. A target written ``NODE/TARGET`` goes to that node alone
    (and only nodes named so are asked, when every target is written so); each node's timeout
    covers its bundle's ``--budget`` (``MARGIN`` more), or, given ``--node-timeout``, the
    node's budget is shortened to fit inside it. Raises ``UsageError``."""
    from debugtool.errors import UsageError

    names = {n.name for n in selected}
    per_node: dict[str, list[str]] = {}
    plain: list[str] = []
    for target in targets:
        name, slash, inner = target.partition("/")
        if slash and name in names and inner:
            per_node.setdefault(name, []).append(inner)
        else:
            plain.append(target)
    chosen = [n for n in selected if not per_node or plain or n.name in per_node]
    node_budget = None
    timeout = budget + MARGIN
    if node_timeout is not None:
        timeout = node_timeout
        if node_timeout < budget + MARGIN:
            node_budget = node_timeout - MARGIN / 3
            if node_budget < MIN_NODE_BUDGET:
                raise UsageError(
                    f"--node-timeout {node_timeout:g} leaves a node no time to capture.",
                    "Give at least 15 seconds, or leave it out (the bundle's --budget plus "
                    f"{MARGIN:g}s).",
                )
    base = node_argv(rest, node_budget)
    argv = {}
    for node in chosen:
        mine = per_node.get(node.name)
        if mine is None:
            argv[node.name] = [w for w in base if w not in per_node_words(targets, names)]
        else:
            drop = per_node_words(targets, names)
            at = base.index("-o")
            argv[node.name] = [w for w in base[:at] if w not in drop] + mine + base[at:]
    return Plan(chosen, argv, timeout, budget, node_budget or budget)


def per_node_words(targets: Sequence[str], names: set[str]) -> set[str]:
    """The targets written ``NODE/TARGET`` for one of ``names`` (taken out of every node's
    command line: each node is given its own, bare)."""
    return {t for t in targets if t.partition("/")[0] in names and t.partition("/")[2]}


@record
class Arrival:
    """One node's bundle as it streams in: a 0600 file in this run's private folder."""

    path: str
    file: IO[bytes] | None = None
    size: int = 0


@record
class Summary:
    """What ``bundle -H`` wrote: where, how large, and how each node ended."""

    path: str
    size: int
    nodes: list[fleet.FleetNode]
    duration: float
    replaced: bool = False
    pseudonym_map: str = ""
    pseudonymised: dict[str, int] = field(default_factory=dict)


class Progress:
    """Each node's state on stderr: on a terminal one line a node, redrawn as bytes arrive;
    otherwise one plain line as each node ends."""

    def __init__(self, nodes: Sequence[Node], stream: Any, live: bool) -> None:
        self.names = [n.name for n in nodes]
        self.width = max((len(n) for n in self.names), default=4)
        self.state = dict.fromkeys(self.names, "connecting and capturing")
        self.stream = stream
        self.live = live
        self.drawn = 0
        self.last = 0.0

    def receiving(self, name: str, size: int) -> None:
        from debugtool.output import human_size

        self.state[name] = f"receiving {human_size(size)}"
        if self.live and time.monotonic() - self.last > 0.2:
            self.draw()

    def note(self, name: str, line: str) -> None:
        """A state worth showing on a terminal, not a line of its own elsewhere."""
        self.state[name] = line
        if self.live:
            self.draw()

    def ended(self, name: str, line: str) -> None:
        from debugtool.output import printable

        self.state[name] = line
        if self.live:
            self.draw()
        else:
            self.stream.write(f"debugtool: {printable(name)}: {printable(line)}\n")
            self.stream.flush()

    def draw(self) -> None:
        from debugtool.output import printable

        self.last = time.monotonic()
        up = f"\033[{self.drawn}F" if self.drawn else ""
        lines = [
            f"\033[K  {printable(n):<{self.width}}  {printable(self.state[n])}" for n in self.names
        ]
        self.stream.write(up + "\n".join(lines) + "\n")
        self.stream.flush()
        self.drawn = len(lines)


def collect(
    chosen: Plan, connection: Connection, forks: int, folder: str, progress: Progress
) -> list[tuple[Outcome, Arrival]]:
    """Run every node's bundle command (``forks`` at a time), each node's stdout streamed
    into its own file in ``folder``; return each node's outcome and file, in node order."""
    from debugtool.fleet import transport

    arrivals = {
        n.name: Arrival(os.path.join(folder, f"{i}.tar.gz")) for i, n in enumerate(chosen.nodes)
    }
    stderr: dict[str, list[bytes]] = {n.name: [] for n in chosen.nodes}

    def output(node: Node, fd: int, data: bytes) -> None:
        if fd == 2:
            stderr[node.name].append(data)
            return
        arrival = arrivals[node.name]
        if arrival.file is None:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            arrival.file = open(os.open(arrival.path, flags, 0o600), "wb")  # noqa: SIM115
        arrival.file.write(data)
        arrival.size += len(data)
        progress.receiving(node.name, arrival.size)

    def done(outcome: Outcome) -> None:
        arrival = arrivals[outcome.node.name]
        if arrival.file is not None:
            arrival.file.close()
            arrival.file = None
        progress.note(outcome.node.name, f"{outcome.status}, checking what arrived")

    # One run over every node (NODE/TARGET gives a node its own command line), inside one
    # budget: a node whose turn comes late gets what is left of it, or is not started.
    outcomes: dict[str, Outcome] = {}
    deadline = time.monotonic() + max(chosen.budget + MARGIN, chosen.timeout)
    try:
        for outcome in transport.run_many(
            chosen.nodes,
            None,
            connection,
            "plain",
            forks,
            chosen.timeout,
            output,
            done,
            deadline=deadline,
            argv_of=chosen.argv_of,
        ):
            outcome.stderr = b"".join(stderr[outcome.node.name])
            outcomes[outcome.node.name] = outcome
    finally:
        for arrival in arrivals.values():
            if arrival.file is not None:
                arrival.file.close()
    return [(outcomes[n.name], arrivals[n.name]) for n in chosen.nodes]


def judge(outcome: Outcome, arrival: Arrival) -> tuple[fleet.FleetNode, NodeView | None]:
    """Say how a node ended, in the index's words, from its outcome and what arrived.

    A bundle is kept only when the node's debugtool finished and the bundle verifies (as
    ``bundle verify`` checks it): one cut short on the wire, or damaged, marks the node failed
    with a sentence. A node whose bundle is marked incomplete (its budget ran out, a
    collector hung) is partial. A kept bundle's view for the fleet report is read in the same
    pass that verifies it.
    """
    from debugtool.bundle import reader
    from debugtool.bundle.fleet_report import node_view
    from debugtool.fleet import transport
    from debugtool.fleet.transport import _last_line

    node = outcome.node
    entry = fleet.FleetNode(
        node.name,
        fleet.FAILED,
        address=node.host + (f":{node.port}" if node.port else ""),
        exit_code=outcome.exit_code,
        seconds=outcome.seconds,
    )
    said = _last_line(outcome.stderr).removeprefix("debugtool: ")
    if outcome.status != transport.OK:
        entry.status = outcome.status if outcome.status in fleet.STATUSES else fleet.FAILED
        entry.message = outcome.message or said or f"exited {outcome.exit_code}"
        return entry, None
    if not arrival.size:
        entry.message = f"sent no bundle ({said or 'no message'})"
        return entry, None
    archive = None
    try:
        archive = reader.read_archive(arrival.path, checksums=True)
        found = reader._problems(archive, at_capture=True)
        problems = [p for p in found if p.kind not in reader.NOTES]
    except BundleError as exc:
        problems = [reader.Problem("unreadable", "", exc.message.replace(arrival.path, "it"))]
    if problems or archive is None:
        more = f" and {len(problems) - 1} more" if len(problems) > 1 else ""
        first = problems[0].text.replace(arrival.path, "it")
        entry.message = f"its bundle arrived damaged ({first}{more}); not kept"
        return entry, None
    document = archive.manifest or {}
    entry.status = fleet.OK if document.get("complete") else fleet.PARTIAL
    if entry.status == fleet.PARTIAL:
        entry.message = f"its bundle is incomplete ({document.get('interrupted') or 'budget'})"
    return entry, node_view(reader.Bundle(arrival.path, archive))


def map_path(archive_path: str, given: str | None) -> str:
    """Where the one pseudonym mapping of a fleet bundle goes: ``--pseudonym-map``, or beside
    the archive (``NAME.map.json`` for ``NAME.tar``). Raises ``UsageError`` for ``-o -``
    without ``--pseudonym-map`` (the mapping never goes into the archive)."""
    from debugtool.errors import UsageError

    if given:
        return given
    if archive_path == "-":
        raise UsageError(
            "--pseudonymise with -o - needs --pseudonym-map FILE (the mapping is never put in "
            "the bundle).",
            "Name a local file for the mapping with --pseudonym-map.",
        )
    return archive_path.removesuffix(".tar") + ".map.json"


def rederive(
    bundles: dict[str, str],
    folder: str,
    rules_path: str | None,
    kinds: list[str],
    mapping: str | None,
    command_line: list[str],
    nodes: list[fleet.FleetNode],
) -> tuple[dict[str, str], list[str]]:
    """Redact every node's bundle again on this side with ``rules_path`` and pseudonymise it
    with ONE mapping (``reredact.redact_bundle``, node after node); return member -> new file
    and the command line to record (pseudonymised too). ``nodes``' index records are
    pseudonymised in place: names, addresses, messages, members.

    Pseudonyms are made here, not on the nodes: the key never leaves this machine and no
    mapping is ever written on a node (nor a secret put on a node's command line). Every
    node's bundle, and every node's name and address, is learnt first, so a name one node
    knows (its host name, its addresses) is replaced in every other node's bundle that
    mentions it, by the same pseudonym.
    """
    from debugtool.bundle import pseudonyms
    from debugtool.bundle.reader import open_bundle
    from debugtool.bundle.reredact import GENERATED, redact_bundle

    mapper = None
    if kinds and mapping:
        mapper = pseudonyms.Pseudonyms.load(mapping, kinds)
        for node in nodes:
            mapper.learn_host(node.name)
            mapper.learn_host(node.address.rsplit(":", 1)[0])
            mapper.learn_addresses(node.address)
        for path in bundles.values():
            bundle = open_bundle(path)
            files = {r: bundle.member(r) or b"" for r in bundle.members() if r not in GENERATED}
            mapper.learn_bundle(files, str(bundle.manifest.get("host") or ""))
        mapper.save(mapping)
    out_dir = os.path.join(folder, "rederived")
    os.makedirs(out_dir, mode=0o700, exist_ok=True)
    made = {}
    for member, path in bundles.items():
        target = os.path.join(out_dir, os.path.basename(member))
        redact_bundle(
            path,
            target,
            rules_path=rules_path,
            pseudonymise=kinds or None,
            pseudonym_map=mapping if kinds else None,
            command_line=command_line,
        )
        made[member] = target
    if mapper is None or mapping is None:
        return made, command_line
    mapper = pseudonyms.Pseudonyms.load(mapping, kinds)  # as the last node's pass left it
    taken: set[str] = set()
    renamed = {}
    for node in nodes:
        node.name = mapper.text(node.name)
        node.address = mapper.text(node.address)
        node.message = mapper.text(node.message)
        if node.member is not None:
            old, node.member = node.member, fleet.member_name(node.name, taken)
            renamed[node.member] = made[old]
    return renamed, [mapper.text(word) for word in command_line]


def views_of(bundles: dict[str, str]) -> dict[str, NodeView]:
    """Read the fleet report's view of each bundle file (member -> file), verified."""
    from debugtool.bundle.fleet_report import node_view
    from debugtool.bundle.reader import open_bundle

    return {member: node_view(open_bundle(path)) for member, path in bundles.items()}


def _by_name(entries: list[fleet.FleetNode], views: dict[str, NodeView]) -> dict[str, NodeView]:
    return {e.name: views[e.member] for e in entries if e.member is not None}


def set_file(entry: fleet.FleetNode, path: str) -> None:
    """Set a node's index record to the bundle file at ``path``: its size and SHA-256."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    entry.size = os.path.getsize(path)
    entry.sha256 = digest.hexdigest()


def capture_fleet(
    args: Any,
    rest: list[str],
    selected: list[Node],
    connection: Connection,
    forks: int,
    node_timeout: float | None,
) -> Summary:
    """``bundle -H``: every node captures, each bundle is judged, and one fleet archive is
    written (``fleet`` describes it). Raises ``BundleError``/``UsageError`` before any
    connection for a destination that cannot be written or a bad rules file."""
    import shutil
    import sys
    import tempfile

    from debugtool.bundle.archive import Destination
    from debugtool.errors import UsageError

    if args.all and args.targets:
        raise UsageError("give containers or --all, not both.", "Drop one of them.")
    started = time.monotonic()
    now = time.time()
    root = root_name(now)
    dest = Destination.choose(args.output, root + ".tar", args.force)
    kinds: list[str] = []
    mapping = None
    if args.pseudonymise:
        from debugtool.bundle.pseudonyms import parse_kinds

        kinds = parse_kinds(args.pseudonymise)
        mapping = map_path(dest.path, args.pseudonym_map)
    if args.redact_rules:
        from debugtool.bundle.redaction import load_rules

        load_rules(args.redact_rules)  # a bad rules file stops here, before any connection
    chosen = plan(selected, rest, list(args.targets), args.budget, node_timeout)
    live = sys.stderr.isatty() and not args.json
    progress = Progress(chosen.nodes, sys.stderr, live)
    folder = tempfile.mkdtemp(prefix="debugtool-fleet-")  # 0700: the nodes' bundles wait here
    try:
        arrived = collect(chosen, connection, forks, folder, progress)
        entries, bundles, views = [], {}, {}
        taken: set[str] = set()
        for outcome, arrival in arrived:
            entry, view = judge(outcome, arrival)
            if view is not None:
                entry.member = fleet.member_name(entry.name, taken)
                bundles[entry.member] = arrival.path
                views[entry.member] = view
            entries.append(entry)
            progress.ended(entry.name, _line(entry, arrival.size))
        command_line = ["debugtool", *sys.argv[1:]]
        if bundles and (kinds or args.redact_rules):
            bundles, command_line = rederive(
                bundles, folder, args.redact_rules, kinds, mapping, command_line, entries
            )
            views = views_of(bundles)
        for entry in entries:
            if entry.member is not None:
                set_file(entry, bundles[entry.member])
        index = index_document(root, now, command_line, entries, bool(kinds))
        report = fleet_report.page(index, entries, _by_name(entries, views))
        index = with_report(index, report)
        replaced = dest.publish_with(lambda fd: write_archive(fd, index, bundles, report))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    size = 0 if dest.path == "-" else os.path.getsize(dest.path)
    return Summary(
        dest.path,
        size,
        entries,
        time.monotonic() - started,
        replaced,
        mapping or "" if kinds else "",
    )


def _line(entry: fleet.FleetNode, size: int) -> str:
    """The words of a node's progress line once it is judged (``size``: what arrived)."""
    from debugtool.output import duration_text, human_size

    took = f", {duration_text(entry.seconds)}" if entry.seconds is not None else ""
    if entry.status in fleet.WITH_BUNDLE:
        line = f"{entry.status} ({human_size(size)}{took})"
        return line + (f": {entry.message}" if entry.message else "")
    if entry.message.startswith(entry.status):
        return entry.message
    return f"{entry.status}: {entry.message}"


def report(summary: Summary, as_json: bool) -> int:
    """Print what ``bundle -H`` wrote (on stderr when the archive went to stdout); return
    the exit code: 0 every node ok, 2 (``EXIT_PARTIAL``) some bundles kept and some not (or
    incomplete), 125 none kept."""
    import sys

    from debugtool import output
    from debugtool.errors import EXIT_TOOL
    from debugtool.fleet.command import EXIT_PARTIAL

    stream = sys.stderr if summary.path == "-" else sys.stdout
    kept = [n for n in summary.nodes if n.status in fleet.WITH_BUNDLE]
    code = 0 if all(n.status == fleet.OK for n in summary.nodes) else EXIT_PARTIAL
    if not kept:
        code = EXIT_TOOL
    if as_json:
        output.emit_json(
            {
                "path": summary.path,
                "size": summary.size,
                "duration": round(summary.duration, 3),
                "replaced": summary.replaced,
                "pseudonym_map": summary.pseudonym_map,
                "nodes": [n.to_dict() for n in summary.nodes],
            },
            stream=stream,
        )
        return code
    counts: dict[str, int] = {}
    for node in summary.nodes:
        counts[node.status] = counts.get(node.status, 0) + 1
    tally = ", ".join(f"{n} {status}" for status, n in counts.items())
    where = "standard output" if summary.path == "-" else summary.path
    size = "" if summary.path == "-" else f"{output.human_size(summary.size)}, "
    line = (
        f"fleet bundle {'replaced' if summary.replaced else 'written'}: {where} "
        f"({size}{len(summary.nodes)} node"
        f"{'s' if len(summary.nodes) != 1 else ''}: {tally}, "
        f"{output.duration_text(summary.duration)})"
    )
    if summary.pseudonym_map:
        line += f"; pseudonym mapping in {summary.pseudonym_map} (keep it local)"
    print(output.printable(line), file=stream)
    return code
