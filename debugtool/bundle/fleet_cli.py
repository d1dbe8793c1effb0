"""``bundle verify``, ``bundle show`` and ``bundle redact`` on a fleet bundle (``bundle -H``).

The reading side's output, beside the fleet reader rather than among the commands (each
module there is a command). ``commands.bundle`` hands a file to these when ``fleet.is_fleet_archive`` says it is one: the
node is the first level (its status in the index, then its bundle as the single-bundle
command shows it).
"""

from __future__ import annotations

import sys

from debugtool.bundle import fleet

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any

EXIT_CORRUPT = 1


def verify_fleet(path: str, as_json: bool, verbose: bool) -> int:
    """Check a fleet bundle: the archive around the bundles, each node's bundle against the
    index's checksum and as ``bundle verify`` checks a bundle. 0 intact (a node without a
    bundle is not damage: its status says why), 1 anything damaged, 125 not a fleet bundle."""
    from debugtool import output
    from debugtool.bundle.reader import NOTES

    archive, verdicts = fleet.check_fleet(path)
    damaged = bool(archive.problems) or any(v.damaged for v in verdicts)
    if as_json:
        output.emit_json(
            {
                "path": path,
                "fleet": True,
                "ok": not damaged,
                "problems": archive.problems,
                "nodes": [
                    {
                        **v.node.to_dict(),
                        "ok": not v.damaged,
                        "problems": [p.text for p in v.problems if p.kind not in NOTES]
                        + ([v.error] if v.error else []),
                        "notes": [p.text for p in v.problems if p.kind in NOTES],
                    }
                    for v in verdicts
                ],
            }
        )
        return EXIT_CORRUPT if damaged else 0
    show = output.printable
    bad = [v.node.name for v in verdicts if v.damaged]
    kept = sum(1 for v in verdicts if v.node.has_bundle)
    if damaged:
        what = f"damaged: {', '.join(bad)}" if bad else "the archive around the bundles"
        print(f"{show(path)}: CORRUPT ({show(what)})")
    else:
        print(f"{show(path)}: ok ({len(verdicts)} nodes, {kept} bundles verified)")
    for problem in archive.problems:
        print(f"  {show(problem)}")
    width = max((len(v.node.name) for v in verdicts), default=4)
    for v in verdicts:
        name = f"{show(v.node.name):<{width}}"
        if not v.node.has_bundle:
            print(f"  {name}  no bundle ({show(v.node.status)}: {show(v.node.message)})")
            continue
        problems = [p.text for p in v.problems if p.kind not in NOTES]
        if v.error:
            print(f"  {name}  CORRUPT: {show(v.error)}")
        elif problems:
            more = "" if verbose or len(problems) == 1 else f" and {len(problems) - 1} more"
            shown = problems if verbose else problems[:1]
            print(f"  {name}  CORRUPT ({len(problems)} problems): {show(shown[0])}{more}")
            for text in shown[1:]:
                print(f"  {' ' * width}  {show(text)}")
        else:
            print(f"  {name}  intact ({show(v.node.status)})")
        for note in (p.text for p in v.problems if p.kind in NOTES):
            sys.stderr.write(f"debugtool: note: {show(v.node.name)}: {show(note)}\n")
    return EXIT_CORRUPT if damaged else 0


def show_fleet(path: str, as_json: bool) -> int:
    """Summarise a fleet bundle: the nodes and how each ended, then each node's bundle as
    ``bundle show`` summarises one. The archive and every node's bundle are verified as they
    are read; a node whose bundle fails is refused (``BundleError``)."""
    import time

    from debugtool import output
    from debugtool.commands.bundle import show_document, show_text

    with fleet.open_fleet(path) as archive:
        index = archive.manifest
        if as_json:
            nodes = []
            for node in archive.nodes:
                entry: dict[str, Any] = node.to_dict()
                if node.has_bundle:
                    label = f"{path} (node {node.name})"
                    entry["bundle"] = show_document(archive.open_node(node.name), label)
                nodes.append(entry)
            output.emit_json(
                {
                    "path": path,
                    "fleet": True,
                    "created_at": index.get("created_at"),
                    "command_line": index.get("command_line"),
                    "complete": index.get("complete"),
                    "pseudonymised": index.get("pseudonymised"),
                    "verified": True,
                    "nodes": nodes,
                }
            )
            return 0
        show = output.printable
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(index["created_at"]))
        print(f"Fleet bundle: {show(path)}")
        print(show(f"Captured:     {when} by debugtool {index.get('debugtool_version')}"))
        print(f"Command:      {show(' '.join(str(a) for a in index.get('command_line') or []))}")
        if index.get("pseudonymised"):
            print("Pseudonymised: one mapping for every node, kept beside the fleet bundle")
        print()
        output.table(
            ["NODE", "STATUS", "SIZE", "TIME", "MESSAGE"],
            [
                [
                    n.name,
                    n.status,
                    output.human_size(n.size) if n.size is not None else "-",
                    output.duration_text(n.seconds),
                    n.message or "-",
                ]
                for n in archive.nodes
            ],
        )
        for node in archive.nodes:
            if not node.has_bundle:
                continue
            print()
            print(f"== node {show(node.name)} ({show(node.status)}) ==")
            show_text(archive.open_node(node.name), f"{path} (node {node.name})")
    return 0


def redact_fleet(args: argparse.Namespace, kinds: list[str]) -> int:
    """``bundle redact FLEET -o OUT``: every node's bundle redacted again (and pseudonymised
    with one mapping for all of them), the statuses kept, a new index with new checksums."""
    import os
    import shutil
    import tempfile
    import time

    from debugtool import output
    from debugtool.bundle import fleet_capture, fleet_report
    from debugtool.bundle.archive import Destination
    from debugtool.errors import UsageError

    source = args.file
    if args.output != "-" and os.path.exists(args.output) and os.path.samefile(args.output, source):
        raise UsageError(
            f"-o {args.output} is the bundle being redacted; bundle redact never changes it.",
            "Name another file with -o.",
        )
    started = time.monotonic()
    default = os.path.basename(source).removesuffix(".tar") + ".redacted.tar"
    dest = Destination.choose(args.output, default, args.force)
    mapping = fleet_capture.map_path(dest.path, args.pseudonym_map) if kinds else None
    command_line = ["debugtool", *sys.argv[1:]]
    with fleet.open_fleet(source) as archive:
        folder = tempfile.mkdtemp(prefix="debugtool-fleet-")
        try:
            bundles = {}
            for i, node in enumerate(archive.nodes):
                if node.member is not None:
                    copy = os.path.join(folder, f"{i}.tar.gz")
                    archive.copy_node(node.name, copy)
                    bundles[node.member] = copy
            nodes = [fleet.FleetNode(**n.to_dict()) for n in archive.nodes]
            bundles, command_line = fleet_capture.rederive(
                bundles, folder, args.rules, kinds, mapping, command_line, nodes
            )
            for node in nodes:
                if node.member is not None:
                    fleet_capture.set_file(node, bundles[node.member])
            index = dict(archive.manifest)
            index["nodes"] = [n.to_dict() for n in nodes]
            if mapping:
                from debugtool.bundle.pseudonyms import Pseudonyms

                mapper = Pseudonyms.load(mapping, kinds)
                words = index.get("command_line") or []
                index["command_line"] = [mapper.text(str(w)) for w in words]
            index["pseudonymised"] = bool(kinds) or bool(index.get("pseudonymised"))
            history = [h for h in index.get("rederived") or [] if isinstance(h, dict)]
            history.append(
                {
                    "from": os.path.basename(source),
                    "at": round(time.time(), 3),
                    "command_line": command_line,
                }
            )
            index["rederived"] = history
            views = fleet_capture.views_of(bundles)
            by_name = {n.name: views[n.member] for n in nodes if n.member is not None}
            report = fleet_report.page(index, nodes, by_name)
            index = fleet_capture.with_report(index, report)
            replaced = dest.publish_with(
                lambda fd: fleet_capture.write_archive(fd, index, bundles, report)
            )
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    stream = sys.stderr if dest.path == "-" else sys.stdout
    size = 0 if dest.path == "-" else os.path.getsize(dest.path)
    if args.json:
        output.emit_json(
            {
                "path": dest.path,
                "source": source,
                "size": size,
                "replaced": replaced,
                "nodes": [n.name for n in nodes if n.member is not None],
                "pseudonym_map": mapping or "",
            },
            stream=stream,
        )
        return 0
    where = "standard output" if dest.path == "-" else dest.path
    line = (
        f"fleet bundle {'replaced' if replaced else 'written'}: {where} "
        f"({output.human_size(size)}, {len(bundles)} node bundles redacted again, "
        f"{output.duration_text(time.monotonic() - started)})"
    )
    if mapping:
        line += f"; pseudonym mapping in {mapping} (keep it local)"
    print(output.printable(line), file=stream)
    return 0
