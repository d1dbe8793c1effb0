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

from debugtool.bundle import redact

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
        self._cached: tuple[int, list[bytes]] | None = None  # (values, their needles)

    def first(self, rel: str, data: bytes) -> bytes:
        """The first pass over one file (structure, shapes, and a site's rules)."""
        with self.redactor.lock:
            start = time.thread_time()
            out = self.redactor.first_pass(rel, data)
            self.seconds += time.thread_time() - start
            self.bytes += len(data)
        return out

    def second(self, rel: str, data: bytes) -> bytes:
        """The second pass over one file (every value any first pass found, everywhere).

        A file that holds none of those values is left as it is without the redactor's scan:
        a substring test per value (raw and JSON-escaped, the forms the scan looks for) runs
        at memory speed, the scan's one alternation of every value does not (bench/README.md:
        2.34 s for 97 values over 13.7 MB of log), and most files hold none.
        """
        with self.redactor.lock:
            start = time.thread_time()
            if any(needle in data for needle in self._needles()):
                data = self.redactor.second_pass(rel, data)
            self.seconds += time.thread_time() - start
        return data

    def _needles(self) -> list[bytes]:
        if self._cached is None or self._cached[0] != len(self.redactor.secrets):
            self._cached = (len(self.redactor.secrets), self.redactor.leak_needles())
        return self._cached[1]

    def cost(self, total: float | None = None) -> dict[str, Any]:
        """The manifest's record of what redaction cost (``total``: the bundle's seconds)."""
        cost: dict[str, Any] = {"seconds": round(self.seconds, 3), "bytes": self.bytes}
        if total:
            cost["share"] = round(self.seconds / total, 4)
        return cost
