"""The redaction step as the bundle writer and ``bundle redact`` run it: the redactor (with a
user's rules file when one is given), what it costs, and nothing else.

A site's rules (``redact.configured_rules``: ``[redact]`` of the system configuration plus a
``--rules``/``--redact-rules`` file) reach the redactor through ``load_rules`` and
``new_redactor``.

``Step`` times each pass and counts the bytes it read, so the manifest can say what redaction
cost (issue 19: in troubleshoot it took 300 s of a 323 s bundle).
"""

from __future__ import annotations

import time

from debugtool.bundle import auditlog, redact

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def load_rules(path: str | None) -> redact.Rules:
    """Return the system configuration's ``[redact]`` rules plus those of the file at ``path``
    (when given). Raises ``redact.RulesError`` with one sentence for a rule that cannot be
    used, before any work."""
    return redact.configured_rules(path)


def new_redactor(rules: redact.Rules | None = None) -> redact.Redactor:
    """Return a redactor with a site's ``rules`` (from ``load_rules``) beside its own."""
    return redact.Redactor(rules)


class Step:
    """Redaction of a bundle's files with one redactor, timed: ``seconds`` of CPU spent masking
    (the passes run one at a time under the redactor's lock, so they add up without overlap;
    CPU time, not wall time, because collector threads hold the interpreter meanwhile) and
    ``bytes``, the size of the files redacted (each counted once, though it is read twice)."""

    def __init__(self, redactor: redact.Redactor) -> None:
        self.redactor = redactor
        self.seconds = 0.0
        self.bytes = 0

    def first(self, rel: str, data: bytes) -> bytes:
        """The first pass over one file (structure, shapes, and a site's rules).

        In debugtool's own audit log the ``session`` ids are masked, as the key says, but
        not hunted in every other file: they are random ids debugtool made up to pair a
        record's start with its end (``audit.Session``), no credential, and a bundle holds
        a hundred of them, each of which the second pass and the leak scan would look for
        in every file (bench/README.md: the largest cost of redaction before this).
        """
        with self.redactor.lock:
            start = time.thread_time()
            before = set(self.redactor.secrets) if rel == auditlog.LOG else None
            out = self.redactor.first_pass(rel, data)
            if before is not None and self.redactor.secrets != before:
                self.redactor.secrets -= _session_ids(data) - before
            self.seconds += time.thread_time() - start
            self.bytes += len(data)
        return out

    def second(self, rel: str, data: bytes) -> bytes:
        """The second pass over one file (every value any first pass found, everywhere; a
        file that holds none of them is left as it is, see ``Redactor.second_pass``)."""
        with self.redactor.lock:
            start = time.thread_time()
            data = self.redactor.second_pass(rel, data)
            self.seconds += time.thread_time() - start
        return data

    def cost(self, total: float | None = None) -> dict[str, Any]:
        """The manifest's record of what redaction cost (``total``: the bundle's seconds)."""
        cost: dict[str, Any] = {"seconds": round(self.seconds, 3), "bytes": self.bytes}
        if total:
            cost["share"] = round(self.seconds / total, 4)
        return cost


def _session_ids(data: bytes) -> set[str]:
    """Return the ``session`` ids of the audit log lines in ``data``."""
    import json

    ids: set[str] = set()
    for line in data.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        session = record.get("session") if isinstance(record, dict) else None
        if isinstance(session, str):
            ids.add(session)
    return ids
