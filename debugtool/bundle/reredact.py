"""``debugtool bundle redact IN -o OUT``: redact a bundle already written, again.

A bundle made last month was redacted with last month's rules; a secret they missed (or one
a site's rules file names) is still in it. This reads IN (verified as ``bundle show`` reads
it: a damaged bundle is refused), runs today's redactor with the rules given over every
member the writer redacts (everything but the manifest, the redaction report and the HTML
report, which are made anew), optionally pseudonymises it, and writes OUT: a new manifest with
new checksums, a redaction report that says what changed relative to IN (which members, how
many masks of each rule) and a report page made from the new files. IN is never written to.
OUT goes through the same checks as a new bundle: the leak scan, the pseudonym check, and
``Destination`` (never replaces a file without ``--force``, never IN itself).
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter

from debugtool.bundle import leaks, manifest
from debugtool.bundle.archive import Archive, Destination
from debugtool.errors import UsageError
from debugtool.record import field, record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: Members made from the others, not redacted but written anew.
GENERATED = (manifest.MANIFEST, manifest.REDACTIONS, manifest.REPORT)


@record
class Result:
    """What ``bundle redact`` wrote: where, how large, and what changed relative to IN."""

    path: str
    source: str
    size: int
    changed: list[str]  # members (as named in OUT) whose bytes differ from IN's
    masks: dict[str, int]  # rule -> values masked now that IN still held
    seconds: float  # time spent redacting (and pseudonymising)
    duration: float
    replaced: bool = False
    pseudonymised: dict[str, int] = field(default_factory=dict)  # kind -> originals replaced
    pseudonym_map: str = ""


def redact_bundle(
    source: str,
    output: str,
    force: bool = False,
    rules_path: str | None = None,
    pseudonymise: list[str] | None = None,
    pseudonym_map: str | None = None,
    command_line: list[str] | None = None,
) -> Result:
    """Re-redact the bundle at ``source`` into ``output``; return what was written.

    Raises ``BundleError`` (exit 125) for a source that is missing, not a bundle or damaged,
    and for an output that cannot be written; ``UsageError`` for an output that is the
    source, or a rules file that cannot be used.
    """
    from debugtool.bundle import pseudonyms, report
    from debugtool.bundle.reader import open_bundle
    from debugtool.bundle.redaction import Step, load_rules, new_redactor

    started = time.monotonic()
    rules = load_rules(rules_path)  # the system configuration's [redact], and the file
    default = os.path.basename(source).removesuffix(".tar.gz") + ".redacted.tar.gz"
    if output != "-" and os.path.exists(output) and os.path.samefile(output, source):
        raise UsageError(
            f"-o {output} is the bundle being redacted; bundle redact never changes it.",
            "Name another file with -o.",
        )
    # Checked first, so a destination that cannot be written costs no reading.
    dest = Destination.choose(output, default, force)
    bundle = open_bundle(source)  # verified: a damaged bundle is refused here
    mapper = None
    if pseudonymise:
        if not pseudonym_map:
            if dest.path == "-":
                raise UsageError(
                    "--pseudonymise with -o - needs --pseudonym-map FILE (the mapping is "
                    "never put in the bundle).",
                    "Name a local file for the mapping with --pseudonym-map.",
                )
            pseudonym_map = pseudonyms.default_map_path(dest.path)
        mapper = pseudonyms.Pseudonyms.load(pseudonym_map, pseudonymise)

    original = bundle.manifest
    before = {rel: bundle.member(rel) or b"" for rel in bundle.members() if rel not in GENERATED}
    redactor = new_redactor(rules)
    step = Step(redactor)
    files = {rel: step.first(rel, data) for rel, data in before.items()}
    files = {rel: step.second(rel, data) for rel, data in files.items()}
    masks: Counter[str] = Counter()
    for entry in redactor.report():
        masks[entry["rule"]] += entry["count"]
    new_records = redactor.report()
    names = {rel: rel for rel in files}
    root = str(original.get("root") or bundle.root)
    if mapper is not None:
        start = time.thread_time()
        mapper.learn_bundle(files, str(original.get("host") or ""))
        names = {rel: mapper.text(rel) for rel in files}
        files = mapper.members(files)
        root = pseudonyms.root(mapper, root)
        new_records = pseudonyms.report(mapper, new_records)
        step.seconds += time.thread_time() - start
    changed = sorted(names[rel] for rel in before if files[names[rel]] != before[rel])

    previous = [r for r in bundle.redactions() if isinstance(r, dict)]
    if mapper is not None:
        previous = pseudonyms.report(mapper, previous)
    change = {
        "from": os.path.basename(source),
        "at": time.time(),
        "members_changed": changed,
        "masks": dict(sorted(masks.items())),
        "rules_file": os.path.basename(rules_path) if rules_path else None,
    }
    if mapper is not None:
        change["pseudonymised"] = mapper.counts()
    red = {
        "redacted": True,
        "note": "rule, file and count of each masked value; the values are not recorded. "
        "'redactions' holds the masks of every pass, 'changes' what 'debugtool bundle redact' "
        "changed relative to the bundle it read",
        "redactions": _merged(previous, new_records),
        "changes": change,
    }
    document = _manifest(original, root, redactor, command_line or [], step, change)
    if mapper is not None:
        document = pseudonyms.manifest(mapper, document)
    extra = {manifest.REDACTIONS: json.dumps(red, indent=1).encode()}
    html = step.second(manifest.REPORT, report.render(document, {**files, **extra}))
    extra[manifest.REPORT] = mapper.data(html) if mapper is not None else html
    members = {**files, **extra}
    document["files"] = {rel: manifest.file_entry(members[rel]) for rel in sorted(members)}
    text = json.dumps(document, indent=1).encode()
    created = original.get("created_at")
    mtime = int(created) if isinstance(created, (int, float)) else int(time.time())
    archive = Archive(root, mtime).part({manifest.MANIFEST: text, **members})
    leaks.scan(archive, redactor.leak_needles())
    if mapper is not None:
        pseudonyms.check(mapper, archive)
        mapper.bundles.append(os.path.basename(dest.path))
        mapper.save(pseudonym_map or "")
    replaced = dest.publish(archive)
    return Result(
        path=dest.path,
        source=source,
        size=len(archive),
        changed=changed,
        masks=dict(sorted(masks.items())),
        seconds=step.seconds,
        duration=time.monotonic() - started,
        replaced=replaced,
        pseudonymised=mapper.counts() if mapper is not None else {},
        pseudonym_map=pseudonym_map or "" if mapper is not None else "",
    )


def _merged(*lists: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return redaction records of several passes as one list, counts summed by rule and file."""
    counts: Counter[tuple[str, str]] = Counter()
    for records in lists:
        for r in records:
            count = r.get("count")
            if isinstance(count, int):
                counts[(str(r.get("rule")), str(r.get("file")))] += count
    return [
        {"rule": rule, "file": where, "count": n}
        for (rule, where), n in sorted(counts.items(), key=lambda kv: (kv[0][1], kv[0][0]))
    ]


def _manifest(
    original: dict[str, Any],
    root: str,
    redactor: Any,
    command_line: list[str],
    step: Any,
    change: dict[str, Any],
) -> dict[str, Any]:
    """Return IN's manifest for OUT (without ``files``): redacted again where it holds text
    (its command line, collector errors), marked redacted, with this pass in ``rederived``."""
    document = {k: v for k, v in original.items() if k != "files"}
    document["root"] = root
    document["redacted"] = True
    if isinstance(document.get("command_line"), list):
        document["command_line"] = redactor.data(document["command_line"], manifest.MANIFEST)
    for entry in document.get("collectors") or []:
        if isinstance(entry, dict) and isinstance(entry.get("error"), str) and entry["error"]:
            entry["error"] = redactor.known(
                redactor.text(entry["error"], manifest.MANIFEST), manifest.MANIFEST
            )
    history = [h for h in document.get("rederived") or [] if isinstance(h, dict)]
    history.append(
        {
            "from": change["from"],
            "at": round(change["at"], 3),
            "command_line": redactor.data(list(command_line), manifest.MANIFEST),
            "members_changed": len(change["members_changed"]),
            "masks": sum(change["masks"].values()),
            "redaction": step.cost(),
        }
    )
    document["rederived"] = history
    return document
