"""Redaction of secrets in bundle files: by key in structured data, by pattern in any text.

Two layers, applied to every file before it is staged:

1. Structure-aware, on JSON documents: a value whose key looks secret (``DB_PASSWORD``,
   ``apiKey``, ``X-Auth-Token``, a label ``session``) is masked; so is ``KEY=value`` in an
   environment list, the value after ``--password``/``--token=`` in an argv list, and ``-p x``
   for programs known to take a password that way (mysql, sshpass, redis-cli's ``-a``).
2. Pattern-based, on all text (logs, raw files, the JSON as serialised): PEM private keys,
   bearer and basic credentials, JWTs, AWS access key ids, passwords in URLs, common API token
   prefixes, ``key=value``/``key: value`` with a secret-looking key, and every secret value the
   first layer found, wherever else it appears.

Every masked value is remembered (``Redactor.secrets``) so the writer can scan the finished
archive for it: a value that survives anywhere fails the bundle. Values too short or too
ordinary to search for safely (``on``, ``memory``, ``12345``) are masked where found by key
but not hunted elsewhere, since replacing them everywhere would mangle ordinary text.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

MASK = "***REDACTED***"

# A key is secret when, upper-cased with separators as '_', it contains one of these ...
_STRONG = (
    "PASSWORD",
    "PASSWD",
    "PASSPHRASE",
    "SECRET",
    "TOKEN",
    "APIKEY",
    "API_KEY",
    "ACCESS_KEY",
    "ACCESSKEY",
    "PRIVATE_KEY",
    "PRIVATEKEY",
    "CREDENTIAL",
)
# ... or has one of these as a whole word ('AUTH' but not 'AUTHOR', 'PASS' but not 'PASSTHROUGH').
_WEAK = {
    "AUTH",
    "AUTHORIZATION",
    "COOKIE",
    "COOKIES",
    "SESSION",
    "SESSIONID",
    "DSN",
    "PASS",
    "PW",
    "PGPASS",
    "BASICAUTH",
}
# A key ending in one of these names metadata about a secret, not the secret itself
# (MYSQL_PASSWORD_FILE=/run/secrets/db is a path; AUTH_TYPE=basic is a mode).
_METADATA = {
    "FILE",
    "FILES",
    "PATH",
    "DIR",
    "TYPE",
    "MODE",
    "METHOD",
    "ENABLED",
    "DISABLED",
    "REQUIRED",
    "LENGTH",
    "TTL",
    "TIMEOUT",
    "EXPIRY",
    "EXPIRES",
    "NAME",
    "HEADER",
    "PROVIDER",
    "PLUGIN",
}
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SPLIT = re.compile(r"[^A-Za-z0-9]+")


@functools.lru_cache(maxsize=4096)  # the same keys recur in every container's documents
def is_secret_key(key: str) -> bool:
    """Return whether a key, label, variable or flag name looks like it names a secret."""
    words = [w.upper() for w in _SPLIT.split(_CAMEL.sub("_", key)) if w]
    if not words or words[-1] in _METADATA:
        return False
    joined = "_".join(words)
    if any(s in joined for s in _STRONG):
        return True
    return any(w in _WEAK for w in words)


# Programs whose short flag carries a password: -p x (or -px) for mysql, -a x for redis-cli.
_SHORT_PASSWORD_FLAGS = {
    "mysql": "-p",
    "mysqldump": "-p",
    "mysqladmin": "-p",
    "mariadb": "-p",
    "mariadb-dump": "-p",
    "sshpass": "-p",
    "redis-cli": "-a",
}


def worth_hunting(value: str) -> bool:
    """Return whether a masked value is distinctive enough to hunt for in all other text.

    A short value or a plain lower-case word would match ordinary text (``memory``, ``true``);
    such values are masked where their key shows them, not replaced everywhere.
    """
    if len(value) < 6 or value == MASK:
        return False
    if value.isdigit():
        return len(value) >= 8
    return not (value.isalpha() and value.islower())


# --- text patterns ---------------------------------------------------------------------------
_KEY_WORDS = (
    r"passw(?:or)?d|passphrase|secret|token|api[_.-]?key|access[_.-]?key|private[_.-]?key|"
    r"credential|auth\w*|cookie|session\w*|dsn|pass|pw"
)
_VALUE = r"""(?:"(?P<dq>[^"\\\n]{1,400})"|'(?P<sq>[^'\n]{1,400})'|(?P<bare>[^\s"',;&<>{}\[\]]+))"""
# key=value, key: value, "key": "value", --flag=value; the key is checked by is_secret_key.
# The key starts where a word starts and is at most ~130 characters long, so a megabyte of hex
# without a space costs one scan, not one per position (quadratic backtracking).
_KV = re.compile(
    r"(?<![A-Za-z0-9_.\-])"
    r"(?P<key>[A-Za-z0-9_.\-]{0,64}?(?i:" + _KEY_WORDS + r")[A-Za-z0-9_.\-]{0,64})"
    r"(?P<kq>[\"']?)(?P<sep>[ \t]*[:=][ \t]*)"
    r"(?P<scheme>(?i:bearer|basic|token|digest)[ \t]+)?" + _VALUE
)
# --password value (a separate argument), in free text such as a logged command line.
_FLAG = re.compile(
    r"(?<![\w-])(?P<key>--(?:[A-Za-z0-9]+-){0,6}(?i:"
    + _KEY_WORDS
    + r")(?:-[A-Za-z0-9]+){0,6})[ \t]+(?P<bare>(?!-)[^\s\"',;]+)"
)
# Lines without any of these words cannot hold a key=value or flag secret: skip them cheaply.
# (Matched against lower-cased text: a case-insensitive alternation is several times slower.)
_ANY_KEY_WORD = re.compile(
    r"pass|pw|secret|token|api[_.-]?key|access[_.-]?key|private[_.-]?key|credential|auth|"
    r"cookie|session|dsn|" + "|".join(re.escape(p) for p in _SHORT_PASSWORD_FLAGS)
)
_SHORT = re.compile(
    r"\b(?P<prog>" + "|".join(re.escape(p) for p in _SHORT_PASSWORD_FLAGS) + r")\b"
    r"(?P<args>[^\n|;&]{0,300}?)[ \t](?P<flag>-p|-a)(?P<gap>[ \t]*)(?P<bare>(?!-)[^\s\"',;]+)"
)


class _Rule:
    """One value pattern; ``triggers`` are literals one of which any match contains, so the
    regex only runs over text that holds one (a substring test is far cheaper than a scan)."""

    def __init__(
        self,
        name: str,
        pattern: str,
        group: int | str = 0,
        flags: int = 0,
        triggers: tuple[str, ...] = (),
        lowered: bool = False,
    ) -> None:
        self.name = name
        self.regex = re.compile(pattern, flags)
        self.group = group
        self.triggers = triggers
        self.lowered = lowered  # triggers are matched against the lower-cased text

    def may_match(self, text: str, lowered: str) -> bool:
        haystack = lowered if self.lowered else text
        return not self.triggers or any(t in haystack for t in self.triggers)


_PATTERNS = [
    _Rule(
        "pem-private-key",
        r"-----BEGIN (?P<kind>[A-Z0-9 ]*)PRIVATE KEY-----(?P<body>.*?)-----END (?P=kind)PRIVATE KEY-----",
        "body",
        re.DOTALL,
        triggers=("PRIVATE KEY-----",),
    ),
    _Rule(
        "jwt",
        r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{0,}",
        triggers=("eyJ",),
    ),
    _Rule(
        "bearer-token",
        # The token must hold a digit, a capital or base64 punctuation: "basic understanding"
        # is prose, "Basic dXNlcjpwYXNz" is a credential.
        r"(?i:\b(?:bearer|basic)[ \t]+)(?=\S*[A-Z0-9+/=])(?P<v>[A-Za-z0-9\-._~+/]{8,}=*)",
        "v",
        triggers=("bearer", "basic"),
        lowered=True,
    ),
    _Rule(
        "aws-access-key",
        r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b",
        triggers=("AKIA", "ASIA", "AGPA", "AIDA", "AROA"),
    ),
    _Rule(
        "url-password",
        r"\b[A-Za-z][A-Za-z0-9+.\-]{0,30}://[^\s:/@\"'<>]{1,256}:(?P<v>[^\s/@\"'<>]{1,256})@",
        "v",
        triggers=("://",),
    ),
    _Rule(
        "github-token",
        r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})",
        triggers=("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    ),
    _Rule("slack-token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}", triggers=("xox",)),
    _Rule("api-token-sk", r"(?<![\w-])sk-[A-Za-z0-9_\-]{20,}", triggers=("sk-",)),
    _Rule("gitlab-token", r"\bglpat-[A-Za-z0-9_\-]{20,}", triggers=("glpat-",)),
    _Rule("google-api-key", r"\bAIza[0-9A-Za-z_\-]{35}", triggers=("AIza",)),
    _Rule("npm-token", r"\bnpm_[A-Za-z0-9]{36}", triggers=("npm_",)),
]


class Redactor:
    """Masks secrets in the files of one bundle and remembers what it masked and where.

    ``report()`` returns ``{rule, file, count}`` records (never a secret); ``secrets`` holds
    the masked values worth hunting for, for the writer's final leak scan.
    """

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()
        self.secrets: set[str] = set()
        # Collector threads redact their own files; one at a time keeps the books consistent.
        self.lock = threading.RLock()
        self._known: tuple[int, re.Pattern[str]] | None = None

    # -- bookkeeping ----------------------------------------------------------------------
    def _hit(self, rule: str, where: str, value: str) -> None:
        self.counts[(rule, where)] += 1
        value = value.strip()
        if worth_hunting(value):
            self.secrets.add(value)

    def report(self) -> list[dict[str, Any]]:
        """Return which rule matched in which file how many times, sorted by file and rule."""
        return [
            {"rule": rule, "file": where, "count": n}
            for (rule, where), n in sorted(self.counts.items(), key=lambda kv: (kv[0][1], kv[0][0]))
        ]

    # -- layer 1: structure -------------------------------------------------------------------
    def data(self, obj: Any, where: str) -> Any:
        """Return a copy of JSON-ready data with secret values masked by key, env and argv."""
        if isinstance(obj, dict):
            out: dict[str, Any] = {}
            for key, value in obj.items():
                secret = is_secret_key(str(key))
                if secret and isinstance(value, (str, int, float)) and not isinstance(value, bool):
                    text = str(value)
                    if text and text != MASK:
                        self._hit("secret-key", where, text)
                        out[key] = MASK
                        continue
                if secret and isinstance(value, list) and all(isinstance(v, str) for v in value):
                    for v in value:
                        if v and v != MASK:
                            self._hit("secret-key", where, v)
                    out[key] = [MASK if v else v for v in value]
                    continue
                out[key] = self.data(value, where)
            return out
        if isinstance(obj, (list, tuple)):
            if obj and all(isinstance(v, str) for v in obj):
                return self.argv(list(obj), where)
            return [self.data(v, where) for v in obj]
        if isinstance(obj, str):
            return self.text(self.assignment(obj, where), where)
        return obj

    def assignment(self, text: str, where: str) -> str:
        """Mask ``KEY=value`` (an environment entry) when KEY looks secret."""
        key, sep, value = text.partition("=")
        if sep and value and value != MASK and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.\-]*", key):
            if is_secret_key(key):
                self._hit("secret-env", where, value)
                return f"{key}={MASK}"
        return text

    def argv(self, args: list[str], where: str) -> list[str]:
        """Mask secret flag values in an argument list (also masks ``KEY=value`` entries)."""
        out = list(args)
        prog = out[0].rsplit("/", 1)[-1] if out else ""
        short = _SHORT_PASSWORD_FLAGS.get(prog)
        i = 0
        while i < len(out):
            arg = out[i]
            if short and arg == short and i + 1 < len(out):
                if out[i + 1] != MASK:
                    self._hit("password-flag", where, out[i + 1])
                    out[i + 1] = MASK
                i += 1
            elif short == "-p" and arg.startswith("-p") and len(arg) > 2 and not arg[2] == "-":
                if arg[2:] != MASK:
                    self._hit("password-flag", where, arg[2:])
                    out[i] = f"-p{MASK}"
            elif arg.startswith("-") and len(arg) > 1:
                name, eq, value = arg.partition("=")
                if name.lstrip("-") and is_secret_key(name.lstrip("-")):
                    if eq and value and value != MASK:
                        self._hit("secret-flag", where, value)
                        out[i] = f"{name}={MASK}"
                    elif not eq and i + 1 < len(out) and not out[i + 1].startswith("-"):
                        if out[i + 1] != MASK:
                            self._hit("secret-flag", where, out[i + 1])
                            out[i + 1] = MASK
                        i += 1
            else:
                out[i] = self.assignment(arg, where)
            i += 1
        return [self.text(a, where) for a in out]

    # -- layer 2: text ------------------------------------------------------------------------
    def text(self, text: str, where: str) -> str:
        """Return ``text`` with pattern matches and key=value secrets masked (first pass)."""
        if len(text) < 6:
            return text  # too short to hold a key and a value worth masking
        lowered = text.lower()
        for rule in _PATTERNS:
            if rule.may_match(text, lowered):
                text = rule.regex.sub(self._pattern_sub(rule, where), text)
                lowered = text.lower()
        if len(lowered) != len(text) or not _ANY_KEY_WORD.search(lowered):
            return text if len(lowered) == len(text) else self._key_values(text, where)
        return self._key_values(text, where)

    def _key_values(self, text: str, where: str) -> str:
        lines = text.split("\n")
        for i, line in enumerate(lines):
            if _ANY_KEY_WORD.search(line.lower()):
                line = _KV.sub(lambda m: self._kv_sub(m, where), line)
                line = _FLAG.sub(lambda m: self._flag_sub(m, where), line)
                lines[i] = _SHORT.sub(lambda m: self._short_sub(m, where), line)
        return "\n".join(lines)

    def known(self, text: str, where: str) -> str:
        """Return ``text`` with every remembered secret value masked (second pass)."""
        if not self.secrets:
            return text
        text, n = self._known_regex().subn(MASK, text)
        if n:
            self.counts[("known-value", where)] += n
        return text

    def _known_regex(self) -> re.Pattern[str]:
        """One alternation of every remembered value, raw and JSON-escaped, longest first:
        a single scan however many values there are (a loop of ``in`` tests over thousands of
        values took seconds on a few megabytes)."""
        if self._known is None or self._known[0] != len(self.secrets):
            forms = set()
            for value in self.secrets:
                forms.add(value)
                forms.add(json.dumps(value, ensure_ascii=False)[1:-1])
            ordered = sorted(forms, key=len, reverse=True)
            self._known = (len(self.secrets), re.compile("|".join(map(re.escape, ordered))))
        return self._known[1]

    def _pattern_sub(self, rule: _Rule, where: str) -> Callable[[re.Match[str]], str]:
        def sub(m: re.Match[str]) -> str:
            value = m.group(rule.group)
            if not value or value.strip() in ("", MASK):
                return m.group(0)
            self._hit(rule.name, where, value)
            if rule.name == "pem-private-key":
                # A PEM body is many lines: hunt for each line, so a fragment cannot survive.
                for line in re.split(r"\s+|\\n", value):
                    if worth_hunting(line):
                        self.secrets.add(line)
            start, end = m.start(rule.group) - m.start(0), m.end(rule.group) - m.start(0)
            whole = m.group(0)
            filler = "\n" + MASK + "\n" if rule.name == "pem-private-key" else MASK
            return whole[:start] + filler + whole[end:]

        return sub

    def _kv_sub(self, m: re.Match[str], where: str) -> str:
        key = m.group("key")
        value = m.group("dq") or m.group("sq") or m.group("bare") or ""
        if not is_secret_key(key.strip("-.")) or not value or MASK in value:
            return m.group(0)
        if value.lower() in ("true", "false", "null", "none"):
            return m.group(0)  # a JSON literal or a flag, not a secret
        if m.group("sep").strip() == ":" and "." in key and value.isdigit():
            return m.group(0)  # auth.example.com:443 is a host and port
        self._hit("secret-key", where, value)
        group = "dq" if m.group("dq") else "sq" if m.group("sq") else "bare"
        start, end = m.start(group) - m.start(0), m.end(group) - m.start(0)
        whole = m.group(0)
        return whole[:start] + MASK + whole[end:]

    def _flag_sub(self, m: re.Match[str], where: str) -> str:
        value = m.group("bare")
        if not is_secret_key(m.group("key").lstrip("-")) or MASK in value:
            return m.group(0)
        self._hit("secret-flag", where, value)
        return m.group(0)[: m.start("bare") - m.start(0)] + MASK

    def _short_sub(self, m: re.Match[str], where: str) -> str:
        if _SHORT_PASSWORD_FLAGS[m.group("prog")] != m.group("flag") or MASK in m.group("bare"):
            return m.group(0)
        if m.group("flag") == "-a" and not m.group("gap"):
            return m.group(0)  # redis-cli's password is a separate argument
        self._hit("password-flag", where, m.group("bare"))
        return m.group(0)[: m.start("bare") - m.start(0)] + MASK

    # -- whole files ----------------------------------------------------------------------
    def first_pass(self, rel: str, data: bytes) -> bytes:
        """Mask one file's secrets by structure (JSON files) and by pattern; return new bytes."""
        with self.lock:
            return self._first_pass(rel, data)

    def _first_pass(self, rel: str, data: bytes) -> bytes:
        if rel.endswith(".json"):
            try:
                doc = json.loads(data)
            except ValueError:
                doc = None
            if doc is not None:
                before = sum(self.counts.values())
                doc = self.data(doc, rel)
                if sum(self.counts.values()) != before:  # re-encode only what changed
                    data = json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False).encode()
                # Text rules ran on each string inside: a pass over the encoded text could
                # cut through an escape (\") and break the JSON.
                return data
        elif rel.endswith(".jsonl"):
            lines = []
            for line in data.decode("utf-8", "surrogateescape").splitlines():
                try:
                    lines.append(json.dumps(self.data(json.loads(line), rel), ensure_ascii=False))
                except ValueError:
                    lines.append(line)
            data = ("\n".join(lines) + ("\n" if lines else "")).encode("utf-8", "surrogateescape")
        text = data.decode("utf-8", "surrogateescape")
        return self.text(text, rel).encode("utf-8", "surrogateescape")

    def second_pass(self, rel: str, data: bytes) -> bytes:
        """Mask every remembered secret value in one file; return new bytes."""
        with self.lock:
            if not self.secrets:
                return data
            text = data.decode("utf-8", "surrogateescape")
            return self.known(text, rel).encode("utf-8", "surrogateescape")

    def leak_needles(self) -> list[bytes]:
        """Return the byte strings the final leak scan looks for: each value, raw and JSON-escaped."""
        needles: set[bytes] = set()
        for value in self.secrets:
            needles.add(value.encode("utf-8", "surrogateescape"))
            escaped = json.dumps(value, ensure_ascii=False)[1:-1]
            needles.add(escaped.encode("utf-8", "surrogateescape"))
        return sorted(needles, key=len)
