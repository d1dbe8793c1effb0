"""The audit log in a bundle: what a capture keeps of it, and how ``bundle verify`` checks its chain.

A bundle's files are redacted, and the audit log's lines are no exception (a session id sits
under the key ``session``, which the redactor masks; ``argv`` may hold what it takes for a
secret). A redacted line no longer hashes to what the next line's ``prev`` names, so the chain
cannot be walked on the bundle's copy alone. The design:

- ``host/audit.jsonl`` holds the log's last ``LINES`` lines, redacted as every file is;
- ``host/audit-chain.json``, written beside it from the unredacted log, holds each of those
  lines' ``seq``, SHA-256 (of its exact bytes on the host) and the SHA-256 of its facts that
  redaction never touches (``SKELETON``: when, what, where, how it ended) and the line its
  session starts on (the session id itself is masked; ``paired`` uses it), the recordings kept
  with their SHA-256 on the host, and what ``audit verify`` said of the whole host log at
  capture;
- ``host/recordings/seq-N.cast`` are the recordings of the sessions on the bundled containers,
  named by the ``seq`` of the record that names them (a session id would be masked).

``bundle verify`` then checks that the bundle's lines are those lines in that order: each line's
``prev`` is the original hash of the line before and its ``seq`` the one recorded; each line the
redactor left alone hashes, re-encoded as debugtool writes it, to its original hash, and each
line it masked still has its original facts (``SKELETON``); each
recording that was not redacted has its original SHA-256. A host log that was already broken
when the bundle was made is a note (``reader.NOTES``), not damage to the bundle. Hashes, seqs and line numbers are not secrets, so the redactor leaves that
file as it is.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from debugtool.model import Container

LOG = "host/audit.jsonl"
CHAIN = "host/audit-chain.json"
RECORDINGS = "host/recordings/"
#: Lines of the audit log a bundle keeps.
LINES = 200
#: A host log larger than this is not verified whole at capture (about 2 s a 16 MiB here,
#: within a collector's timeout; ``audit verify`` on the host checks any size).
VERIFY_LIMIT = 16 << 20
#: Largest recording kept in a bundle (a recording has its own cap; this bounds a bundle).
RECORDING_LIMIT = 8 << 20
#: The redactor's mask, as it appears in a redacted line.
MASK = "***REDACTED***"


def collect(containers: list[Container], tail: Callable[[str, int], bytes]) -> dict[str, bytes]:
    """Return the bundle's audit files: the log's last lines, their chain, and the recordings
    of the sessions on ``containers``. ``tail(path, n)`` reads a file's last ``n`` lines.

    Raises ``OSError`` when the log cannot be read (a missing log is an empty one).
    """
    import json

    from debugtool import audit, chain, jsonc

    path = audit.log_path()
    try:
        data = tail(path, LINES)
    except FileNotFoundError:
        return {LOG: b""}
    lines = [line for line in data.split(b"\n") if line.strip()]
    entries: list[dict[str, Any]] = []
    first_of: dict[str, int] = {}  # session id -> the kept line its session starts on
    recordings: list[dict[str, Any]] = []
    files: dict[str, bytes] = {LOG: data}
    directory = os.path.dirname(path) or "."
    for raw in lines:
        try:
            record = jsonc.loads(raw)
        except (ValueError, RecursionError):
            record = None
        seq = record.get("seq") if isinstance(record, dict) else None
        sha = chain.digest(raw)
        session = record.get("session") if isinstance(record, dict) else None
        number = len(entries) + 1
        if isinstance(session, str) and session:
            number = first_of.setdefault(session, number)
        entries.append(
            {
                "seq": seq if isinstance(seq, int) else None,
                "sha256": sha,
                "skeleton": skeleton(record) if isinstance(record, dict) else "",
                # Whether it followed the line before on the host: a break already there is
                # the host's (host_log says so), not the bundle's.
                "linked": not entries
                or (isinstance(record, dict) and record.get("prev") == entries[-1]["sha256"]),
                # Pairs a start with its end once the session id is masked: the line (1-based,
                # of those kept) the session starts on.
                "start_line": number,
            }
        )
        if isinstance(record, dict) and isinstance(seq, int):
            kept = _recording(record, seq, directory, containers)
            if kept is not None:
                entry, content = kept
                recordings.append(entry)
                if content is not None:
                    files[entry["member"]] = content
    size = os.stat(path).st_size
    if size <= VERIFY_LIMIT:
        verdict = chain.verify(path)
        at_capture: dict[str, Any] = {
            "intact": verdict.intact,
            "chained": verdict.chained,
            "legacy": verdict.legacy,
            "problems": [p.text for p in verdict.problems[:20]],
        }
    else:
        at_capture = {
            "intact": None,
            "problems": [],
            "note": f"not verified at capture: {size} bytes, over {VERIFY_LIMIT}",
        }
    files[CHAIN] = json.dumps(
        {"lines": entries, "recordings": recordings, "host_log": at_capture}, indent=1
    ).encode()
    return files


def _recording(
    record: dict[str, Any], seq: int, directory: str, containers: list[Container]
) -> tuple[dict[str, Any], bytes | None] | None:
    """Return the chain entry and content of the recording ``record`` names, when it is a
    finished session on one of ``containers``; None when there is nothing to keep."""
    from debugtool import audit, chain

    rel, want = record.get("recording"), record.get("recording_sha256")
    if not (isinstance(rel, str) and rel and isinstance(want, str) and want):
        return None
    entry = audit.Record.from_dict(record)
    if not any(entry.about(c) for c in containers):
        return None
    member = f"{RECORDINGS}seq-{seq}.cast"
    kept: dict[str, Any] = {"member": member, "seq": seq, "sha256": want, "note": ""}
    path = chain.resolve_recording(directory, rel)
    if path is None:
        kept["note"] = "named outside the audit directory; not kept"
        return kept, None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        kept["note"] = f"not kept: {exc.strerror}"
        return kept, None
    try:
        import stat

        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kept["note"] = "not kept: not a regular file"
            return kept, None
        if info.st_size > RECORDING_LIMIT:
            kept["note"] = f"not kept: {info.st_size} bytes, over {RECORDING_LIMIT}"
            return kept, None
        chunks = []
        while block := os.read(fd, 1 << 20):
            chunks.append(block)
        return kept, b"".join(chunks)
    finally:
        os.close(fd)


#: Fields of a record that hold nothing the redactor masks (numbers, ids, modes, flags):
#: their hash, kept beside each line, checks a redacted line's facts, when and what and how it
#: ended, though its whole text cannot be. They are in the bundle in clear anyway.
SKELETON = (
    "seq", "prev", "phase", "action", "time", "epoch", "exit_code", "duration", "uid",
    "login_uid", "sudo_uid", "target_id", "runtime", "mode", "tty", "interactive",
    "privileged", "recording_sha256", "recording_bytes", "recording_truncated",
)  # fmt: skip


def skeleton(data: dict[str, Any]) -> str:
    """Return the SHA-256 of a record's ``SKELETON`` fields."""
    from debugtool import audit, chain

    return chain.digest(audit.encode({k: data.get(k) for k in SKELETON}).encode())


def paired(records: list[Any], raw_chain: bytes | None) -> list[Any]:
    """Return a bundle's audit ``records`` with each masked session id replaced by
    ``line-N`` (the line its session starts on, from the chain), so a start and its end pair
    up again; unchanged when there is no chain or it does not match the records."""
    import json

    if raw_chain is None:
        return records
    try:
        entries = json.loads(raw_chain)["lines"]
    except (ValueError, TypeError, KeyError):
        return records
    if not isinstance(entries, list) or len(entries) != len(records):
        return records
    for record, entry in zip(records, entries, strict=True):
        number = entry.get("start_line") if isinstance(entry, dict) else None
        if MASK in record.session and isinstance(number, int):
            record.session = f"line-{number}"
    return records


def canonical(data: dict[str, Any]) -> bytes:
    """Return a chained record as debugtool wrote it (keys sorted, the digest last)."""
    from debugtool import audit, chain

    body = {k: v for k, v in data.items() if k != "digest"}
    text = audit.encode(body)
    return f'{text[:-1]}{chain.DIGEST_KEY}{data.get("digest", "")}"}}'.encode()


def problems(
    members: dict[str, bytes],
    sums: dict[str, str],
    at_capture: bool = True,
    pseudonymised: bool = False,
) -> list[tuple[str, str, str]]:
    """Return ``(kind, member, text)`` for each break in a bundle's audit chain.

    ``members`` holds the bundle's audit log, its chain and ``redactions.json``; ``sums`` the
    SHA-256 of every member. With ``at_capture``, a host log that was already broken when the
    bundle was made is a problem too. A bundle without a chain file (made before it existed)
    has nothing to check. In a ``pseudonymised`` bundle any line may hold a pseudonym (the
    host's name is in every record), so each is checked as a masked line is: by its facts.
    """
    import json

    from debugtool import chain, jsonc

    found: list[tuple[str, str, str]] = []
    raw_chain = members.get(CHAIN)
    if raw_chain is None:
        return found
    try:
        doc = json.loads(raw_chain)
        entries = doc["lines"]
        kept = doc.get("recordings") or []
        host = doc.get("host_log") or {}
        if not isinstance(entries, list) or not isinstance(kept, list):
            raise TypeError
    except (ValueError, TypeError, KeyError):
        return [("audit chain", CHAIN, f"{CHAIN}: not an audit chain document")]

    def add(member: str, text: str) -> None:
        found.append(("audit chain", member, f"{member}: {text}"))

    lines = [line for line in members.get(LOG, b"").split(b"\n") if line.strip()]
    if len(lines) != len(entries):
        add(LOG, f"{len(lines)} lines, where the chain recorded {len(entries)} (lines were "
            "removed or added)")  # fmt: skip
    for i, (raw, entry) in enumerate(zip(lines, entries, strict=False)):
        number = i + 1
        if not isinstance(entry, dict):
            add(CHAIN, f"entry {number} is not an object")
            continue
        try:
            data = jsonc.loads(raw)
        except (ValueError, RecursionError):
            data = None
        if not isinstance(data, dict):
            add(LOG, f"line {number} is not an audit record")
            continue
        if "prev" not in data:
            continue  # a legacy line: nothing to link
        if data.get("seq") != entry.get("seq"):
            add(LOG, f"line {number} has seq {data.get('seq')}, the chain recorded "
                f"{entry.get('seq')} (reordered or replaced)")  # fmt: skip
        if i > 0 and isinstance(entries[i - 1], dict) and entry.get("linked", True):
            if data.get("prev") != entries[i - 1].get("sha256"):
                add(LOG, f"line {number} does not follow line {i} in the chain (altered, "
                    "removed or reordered)")  # fmt: skip
        if MASK.encode() not in raw and "digest" in data and not pseudonymised:
            if chain.digest(canonical(data)) != entry.get("sha256"):
                add(LOG, f"line {number} was altered (it does not hash to the host's line)")
        elif entry.get("skeleton") and skeleton(data) != entry.get("skeleton"):
            add(LOG, f"line {number} was altered (its time, action, target, mode or exit code "
                "is not the host's)")  # fmt: skip
    redacted = _redacted_members(members)
    for item in kept:
        if not isinstance(item, dict) or not isinstance(item.get("member"), str):
            add(CHAIN, "a recording entry is not an object with a member")
            continue
        member = item["member"]
        if item.get("note"):
            continue  # not kept, and the chain says why
        if member not in sums:
            add(member, "missing (the chain lists it)")
        elif sums[member] != item.get("sha256") and member not in redacted:
            add(member, "does not match the recording's SHA-256 on the host (altered)")
    if at_capture and host.get("intact") is False:
        first = (host.get("problems") or ["?"])[0]
        text = f"the host's audit log was already broken when the bundle was made: {first}"
        found.append(("host audit log broken", CHAIN, f"{CHAIN}: {text}"))
    return found


def _redacted_members(members: dict[str, bytes]) -> set[str]:
    """Return the members ``redactions.json`` says had something masked."""
    import json

    try:
        doc = json.loads(members.get("redactions.json", b"{}"))
    except ValueError:
        return set()
    rows = doc.get("redactions") if isinstance(doc, dict) else None
    if not isinstance(rows, list):
        return set()
    return {r["file"] for r in rows if isinstance(r, dict) and isinstance(r.get("file"), str)}
