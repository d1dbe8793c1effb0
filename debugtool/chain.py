"""The audit log's hash chain: how a line is sealed and linked, and how a log is verified.

A chained line is the record's JSON (keys sorted) with two fields that make it tamper-evident:

- ``seq`` is one more than the line before's (1 for a log's first line), and ``prev`` is the
  SHA-256 (hex) of the line before, its exact bytes without the newline ("" for the first line);
- the line ends with ``, "digest": "HEX"}``: the SHA-256 of the line's bytes up to that key.

Editing a line breaks its digest (unless recomputed) and the next line's ``prev``; deleting one
leaves a gap in ``seq`` and a ``prev`` that names a line that is not there; swapping two puts
``seq`` out of order. Lines written before chaining existed (no ``prev``) are *legacy*: accepted
as long as they all come before the first chained line. Blank lines carry nothing and are
skipped (a writer that finds the log's last line cut short ends it with a newline first).

``verify`` walks a log and the recordings its records name (``recording``, relative to the
log's directory, with ``recording_sha256``); ``Problem``s say which line (number, session, time)
was altered, removed or reordered, and which recording is missing or changed.
"""

from __future__ import annotations

import os

from debugtool import jsonc
from debugtool.record import field, record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

try:  # hashlib imports OpenSSL's bindings (~4 ms); exec writes two lines and needs one hash
    from _sha256 import sha256
except ImportError:  # pragma: no cover - Python 3.12 renamed it
    from hashlib import sha256

#: What ends a sealed line, before the 64 hex digits and ``"}``.
DIGEST_KEY = ', "digest": "'
#: Past this the line before is not read back (as ``audit.LINE_LIMIT``).
LINE_LIMIT = 1 << 20


def digest(data: bytes) -> str:
    """Return the SHA-256 of ``data`` as hex."""
    return sha256(data).hexdigest()


def seal(text: str) -> str:
    """Return a record's JSON text ``{...}`` with its digest as the last key."""
    body = text[:-1]
    return f'{body}{DIGEST_KEY}{digest(body.encode())}"}}'


def unseal(line: bytes) -> tuple[bytes, str] | None:
    """Return a sealed line's body (what its digest covers) and the digest it carries; None
    when the line does not end with one."""
    end = len(line) - 2 - 64
    start = end - len(DIGEST_KEY)
    if start <= 0 or not line.endswith(b'"}') or line[start:end] != DIGEST_KEY.encode():
        return None
    return line[:start], line[end:-2].decode("ascii", "replace")


def link(before: list[bytes]) -> tuple[int, str]:
    """Return ``(seq, prev)`` of the line that follows the lines ``before`` (the log's last
    lines, oldest first; empty: the log is empty). ``seq`` goes on from the last line that is
    a record (a line cut short is not one)."""
    if not before:
        return 1, ""
    for line in reversed(before):
        try:
            data = jsonc.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(data, dict) and isinstance(data.get("seq"), int):
            return data["seq"] + 1, digest(before[-1])
        break  # a record without a seq: a legacy line, so the chain starts here
    return 1, digest(before[-1])


def last_lines(fd: int, chunk: int = 8192) -> tuple[list[bytes], bool]:
    """Return the last non-blank lines of the file ``fd`` (at least the last one, oldest
    first; none when there are none) and whether the file ends without a newline (its last
    line was cut short). Reads from the end only, about ``chunk`` bytes for short lines."""
    end = os.fstat(fd).st_size
    if end == 0:
        return [], False
    torn = os.pread(fd, 1, end - 1) != b"\n"
    data = b""
    pos = end
    while pos > 0 and len(data) <= LINE_LIMIT + chunk:
        step = min(chunk, pos)
        pos -= step
        data = os.pread(fd, step, pos) + data
        lines = [line for line in data.split(b"\n") if line.strip()]
        if pos > 0:
            lines = lines[1:]  # the first piece may be the end of a longer line
        if len(lines) >= 2 or (lines and pos == 0):
            return lines, torn
    return [], torn


@record
class Problem:
    """One break in the chain or one recording that does not match: where and what."""

    line: int  # line number in the log (1-based); 0 for a recording-only problem
    kind: str  # altered, removed, reordered, not-a-record, unchained, recording-missing, ...
    text: str  # one sentence for people
    session: str = ""
    time: str = ""


@record
class Verdict:
    """What ``verify`` found: every problem, first first, and what was checked."""

    path: str
    lines: int = 0  # records read
    chained: int = 0
    legacy: int = 0  # lines before chaining existed, before the first chained line
    recordings: int = 0  # recordings checked
    problems: list[Problem] = field(default_factory=list)
    first_seq: int = 0
    last_seq: int = 0
    exists: bool = True  # False: there is no log at the path (nothing recorded, or removed)

    @property
    def intact(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        from debugtool.record import asdict

        return {**asdict(self), "intact": self.intact}


def _where(data: dict[str, Any]) -> tuple[str, str]:
    session = data.get("session")
    when = data.get("time")
    return (
        session if isinstance(session, str) else "",
        when if isinstance(when, str) else "",
    )


def _describe(number: int, data: dict[str, Any]) -> str:
    session, when = _where(data)
    parts = [f"line {number}"]
    if session:
        parts.append(f"session {session}")
    if when:
        parts.append(when)
    return parts[0] + (f" ({', '.join(parts[1:])})" if len(parts) > 1 else "")


def verify_lines(
    lines: Iterable[bytes], source: str, directory: str | None = None, start: int = 1
) -> Verdict:
    """Walk the chain of ``lines`` (a log's raw lines, numbered from ``start``); with
    ``directory`` (the log's), also check each named recording's SHA-256."""
    verdict = Verdict(source)
    previous: tuple[int, bytes, dict[str, Any]] | None = None
    altered: set[int] = set()
    hashes: dict[str, int] = {}  # a line's SHA-256 -> its number, to tell a move from an edit
    entries: list[tuple[int, bytes, dict[str, Any]]] = []
    for number, raw in enumerate(lines, start):
        raw = raw.rstrip(b"\n")
        if not raw.strip():
            continue
        verdict.lines += 1
        try:
            if len(raw) > LINE_LIMIT:
                raise ValueError("too long")
            data = jsonc.loads(raw)
            if not isinstance(data, dict):
                raise ValueError("not an object")
        except (ValueError, RecursionError):
            data = {}
        entries.append((number, raw, data))
        hashes[digest(raw)] = number
    for number, raw, data in entries:
        if not data:
            verdict.problems.append(
                Problem(number, "not-a-record", f"line {number} is not an audit record (altered).")
            )
            altered.add(number)
            previous = (number, raw, data)
            continue
        session, when = _where(data)
        here = _describe(number, data)
        if "prev" not in data:
            if verdict.chained:
                verdict.problems.append(
                    Problem(
                        number,
                        "unchained",
                        f"{here} has no chain fields but follows chained lines "
                        "(inserted, or its seq, prev and digest were removed).",
                        session,
                        when,
                    )
                )
            else:
                verdict.legacy += 1
            previous = (number, raw, data)
            continue
        verdict.chained += 1
        value = data.get("seq")
        seq: int = value if isinstance(value, int) else -1
        verdict.first_seq = verdict.first_seq or seq
        verdict.last_seq = seq
        sealed = unseal(raw)
        if sealed is None or digest(sealed[0]) != sealed[1]:
            verdict.problems.append(
                Problem(
                    number,
                    "altered",
                    f"{here} was altered (its digest does not match its content).",
                    session,
                    when,
                )
            )
            altered.add(number)
        expected = digest(previous[1]) if previous is not None else ""
        if data.get("prev") != expected:
            problem = _break(number, here, data, seq, previous, expected, hashes, verdict)
            if problem is not None and not (previous is not None and previous[0] in altered):
                verdict.problems.append(problem)
        previous = (number, raw, data)
    verdict.problems.sort(key=lambda p: p.line)  # an altered line is found at the next one
    if directory is not None:
        verdict.recordings = _check_recordings(entries, directory, verdict.problems)
    return verdict


def _break(
    number: int,
    here: str,
    data: dict[str, Any],
    seq: int,
    previous: tuple[int, bytes, dict[str, Any]] | None,
    expected: str,
    hashes: dict[str, int],
    verdict: Verdict,
) -> Problem | None:
    """Return what a ``prev`` that does not name the line before means: a record moved, lines
    removed before this one, or the line before altered."""
    session, when = _where(data)
    prev = data.get("prev")
    before_seq = previous[2].get("seq") if previous is not None else None
    before_seq = before_seq if isinstance(before_seq, int) else None
    moved_from = hashes.get(prev) if isinstance(prev, str) else None
    if moved_from is not None and moved_from != (previous[0] if previous else None):
        return Problem(
            number,
            "reordered",
            f"{here} is out of order: it was written after line {moved_from}.",
            session,
            when,
        )
    if before_seq is not None and seq <= before_seq:
        return Problem(
            number,
            "reordered",
            f"{here} is out of order (seq {seq} after seq {before_seq}).",
            session,
            when,
        )
    if previous is None:
        if verdict.legacy == 0 and prev:
            gap = f" ({seq - 1} records)" if seq > 1 else ""
            return Problem(
                number,
                "removed",
                f"the lines before {here} were removed{gap}: the log starts in the middle of "
                "its chain.",
                session,
                when,
            )
        return None
    if before_seq is not None and seq == before_seq + 1:
        number_before, _raw, data_before = previous
        s, w = _where(data_before)
        return Problem(
            number_before,
            "altered",
            f"{_describe(number_before, data_before)} was altered (it does not hash to what "
            f"line {number} recorded).",
            s,
            w,
        )
    missing = f"{seq - before_seq - 1} record(s)" if before_seq is not None else "records"
    return Problem(
        number,
        "removed",
        f"{missing} removed before {here} (after line {previous[0]}).",
        session,
        when,
    )


def _check_recordings(
    entries: list[tuple[int, bytes, dict[str, Any]]], directory: str, problems: list[Problem]
) -> int:
    """Check each recording named with a SHA-256 (the last record naming it wins)."""
    named: dict[str, tuple[int, dict[str, Any]]] = {}
    for number, _raw, data in entries:
        rel, want = data.get("recording"), data.get("recording_sha256")
        if isinstance(rel, str) and rel and isinstance(want, str) and want:
            named[rel] = (number, data)
    for rel, (number, data) in named.items():
        session, when = _where(data)
        here = _describe(number, data)
        path = resolve_recording(directory, rel)
        if path is None:
            problems.append(
                Problem(
                    number,
                    "recording-invalid",
                    f"the recording of {here} is named outside the audit directory ({rel}).",
                    session,
                    when,
                )
            )
            continue
        try:
            found = file_digest(path)
        except FileNotFoundError:
            problems.append(
                Problem(
                    number,
                    "recording-missing",
                    f"the recording {rel} of {here} is missing.",
                    session,
                    when,
                )
            )
            continue
        except OSError as exc:
            problems.append(
                Problem(
                    number,
                    "recording-unreadable",
                    f"the recording {rel} of {here} cannot be read ({exc.strerror}).",
                    session,
                    when,
                )
            )
            continue
        if found != data["recording_sha256"]:
            problems.append(
                Problem(
                    number,
                    "recording-altered",
                    f"the recording {rel} of {here} was "
                    "altered (its SHA-256 does not match the record).",
                    session,
                    when,
                )
            )
    return len(named)


def resolve_recording(directory: str, rel: str) -> str | None:
    """Return the path of a recording named in a record, or None when the name would leave
    the audit directory (absolute, or with ``..``)."""
    if not rel or rel.startswith("/") or ".." in rel.split("/") or "\0" in rel:
        return None
    return os.path.join(directory, rel)


def file_digest(path: str) -> str:
    """Return the SHA-256 of a regular file (hex), read without following a last symlink.

    Raises ``OSError`` (``FileNotFoundError`` when it is not there).
    """
    import stat

    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(22, "not a regular file")
        h = sha256()
        while block := os.read(fd, 1 << 20):
            h.update(block)
        return h.hexdigest()
    finally:
        os.close(fd)


def verify(path: str) -> Verdict:
    """Verify the audit log at ``path`` and its recordings. A missing log has nothing to break:
    intact, with ``exists`` False so the caller can say there was nothing to check.

    Raises ``audit.AuditUnavailable`` when it is not a regular file or cannot be read.
    """
    import stat

    from debugtool.audit import AuditUnavailable

    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        return Verdict(path, exists=False)
    except OSError as exc:
        raise AuditUnavailable(path, exc.strerror or str(exc), verb="read") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise AuditUnavailable(path, "it is not a regular file", verb="read")
        with open(fd, "rb", closefd=False) as f:
            return verify_lines(f, path, os.path.dirname(path) or ".")
    finally:
        os.close(fd)
