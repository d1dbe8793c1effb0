"""The redaction step as the bundle writer and ``bundle redact`` run it: the redactor (with a
user's rules file when one is given), what it costs, and nothing else.

This is the one place outside ``redact.py`` that knows how a rules file reaches the redactor
(``load_rules``, ``new_redactor``): ``redact.load_rules(path)`` and ``Redactor(rules=...)``
when ``redact.py`` has them. Until it does, a rules file's literal values and regular
expressions (``literals = [...]``, ``patterns = [...]``, TOML) are masked here, after the
redactor's own first pass, and remembered with its other secrets for the second pass and the
leak scan.

``Step`` times each pass and counts the bytes it read, so the manifest can say what redaction
cost (issue 19: in troubleshoot it took 300 s of a 323 s bundle).
"""

from __future__ import annotations

import re
import time

from debugtool.bundle import redact
from debugtool.errors import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class _Literals:
    """A rules file read here, while ``redact.py`` has no ``load_rules``: values to mask."""

    def __init__(self, literals: list[str], patterns: list[re.Pattern[str]]) -> None:
        self.literals = literals
        self.patterns = patterns

    def apply(self, redactor: redact.Redactor, rel: str, data: bytes) -> bytes:
        text = data.decode("utf-8", "surrogateescape")
        found: list[str] = []
        for pattern in self.patterns:
            found += [m.group() for m in pattern.finditer(text) if m.group()]
        values = [v for v in {*self.literals, *found} if v and v != redact.MASK]
        if not values:
            return data
        for value in sorted(values, key=len, reverse=True):
            n = text.count(value)
            if n:
                text = text.replace(value, redact.MASK)
                with redactor.lock:
                    redactor.counts[("rules-file", rel)] += n
                    redactor.secrets.add(value)
        return text.encode("utf-8", "surrogateescape")


def load_rules(path: str) -> Any:
    """Return the rules of the file at ``path`` as the redactor takes them. Raises
    ``UsageError`` with one sentence for a file that cannot be used."""
    loader = getattr(redact, "load_rules", None)
    if loader is not None:
        return loader(path)
    import tomllib

    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except FileNotFoundError:
        raise UsageError(f"there is no rules file at {path}.", "Check the file name.") from None
    except OSError as exc:
        raise UsageError(f"cannot read the rules file {path}: {exc.strerror}.") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"the rules file {path} is not TOML ({exc}).") from None
    literals = doc.get("literals", doc.get("values", []))
    patterns = doc.get("patterns", [])
    if not (isinstance(literals, list) and all(isinstance(v, str) for v in literals)):
        raise UsageError(f"'literals' in the rules file {path} is not a list of strings.")
    if not (isinstance(patterns, list) and all(isinstance(v, str) for v in patterns)):
        raise UsageError(f"'patterns' in the rules file {path} is not a list of strings.")
    try:
        compiled = [re.compile(p) for p in patterns]
    except re.error as exc:
        raise UsageError(
            f"a pattern in the rules file {path} is not a regular expression ({exc})."
        ) from None
    return _Literals(literals, compiled)


def new_redactor(rules: Any = None) -> redact.Redactor:
    """Return a redactor with ``rules`` (from ``load_rules``) when ``redact.py`` takes them."""
    if rules is not None and not isinstance(rules, _Literals):
        return redact.Redactor(rules=rules)  # type: ignore[call-arg]  # redact.py's new API
    return redact.Redactor()


class Step:
    """Redaction of a bundle's files with one redactor, timed: ``seconds`` of CPU spent masking
    (the passes run one at a time under the redactor's lock, so they add up without overlap;
    CPU time, not wall time, because collector threads hold the interpreter meanwhile) and
    ``bytes``, the size of the files redacted (each counted once, though it is read twice)."""

    def __init__(self, redactor: redact.Redactor, rules: Any = None) -> None:
        self.redactor = redactor
        self.literals = rules if isinstance(rules, _Literals) else None
        self.seconds = 0.0
        self.bytes = 0
        self._cached: tuple[int, list[bytes]] | None = None  # (values, their needles)

    def first(self, rel: str, data: bytes) -> bytes:
        """The first pass over one file (structure and patterns, and a rules file's values)."""
        with self.redactor.lock:
            start = time.thread_time()
            out = self.redactor.first_pass(rel, data)
            if self.literals is not None:
                out = self.literals.apply(self.redactor, rel, out)
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
