"""Redaction of secrets in bundle files: by key in structured data, by pattern in any text.

Two layers, applied to every file before it is staged:

1. Structure-aware, on JSON documents: a value whose key looks secret (``DB_PASSWORD``,
   ``apiKey``, ``X-Auth-Token``, a label ``session``) is masked; so is ``KEY=value`` in an
   environment list, the value after ``--password``/``--token=`` in an argv list, ``-p x``
   for programs known to take a password that way (mysql, sshpass, redis-cli's ``-a``) and an
   attached ``-pS3cret`` that cannot be a port, path or option. Some names decide only with
   their value (``secrecy``): ``SSL_KEY_FILE`` and ``PWD`` hold a secret unless the value is a
   path, a bare ``key`` only when the value is shaped like key material.
2. Pattern-based, on all text (logs, raw files, each string in the JSON): PEM private keys,
   bearer and basic credentials, JWTs, AWS access key ids (and a secret key next to one),
   passwords in URLs and in ODBC/ADO connection strings, common API token prefixes (GitHub,
   Slack, Stripe, Google, ...), Ceph keys, base64 that decodes to text holding a secret,
   ``key=value``/``key: value`` with a secret-looking key, and every secret value the first
   layer found, wherever else it appears.

Every masked value is remembered (``Redactor.secrets``) so the writer can scan the finished
archive for it: a value that survives anywhere fails the bundle. Values too short or too
ordinary to search for safely (``on``, ``memory``, ``12345``) are masked where found by key
but not hunted elsewhere, since replacing them everywhere would mangle ordinary text.
"""

from __future__ import annotations

import base64
import binascii
import enum
import functools
import json
import re
import threading
from collections import Counter

TYPE_CHECKING = False
if TYPE_CHECKING:
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
# A name ending in one of these names a file that holds a secret (MYSQL_PASSWORD_FILE,
# SSL_KEY_FILE): its value is masked only when it is not a path.
_PATH_WORDS = {"FILE", "FILES", "FILENAME", "PATH", "DIR", "LOCATION"}
# A key ending in one of these names metadata about a secret, not the secret itself
# (AUTH_TYPE=basic is a mode; a Kubernetes sessionAffinity is ClientIP or None).
_METADATA = _PATH_WORDS | {
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
    "AFFINITY",
}
# Words that name a secret or a directory: PWD is ODBC's and MySQL's password (MYSQL_PWD) and the
# shell's working directory (PWD=/home/app).
_SECRET_UNLESS_PATH = {"PWD"}
# KEY as the last word names a secret in an environment-style name (MYAPP_KEY, SIGNING_KEY),
# except after these, where it is an index, an id or public (SORT_KEY, PUBLIC_KEY).
_ORDINARY_KEYS = {
    "PUBLIC",
    "PRIMARY",
    "FOREIGN",
    "SORT",
    "PARTITION",
    "ROUTING",
    "CACHE",
    "SANDBOX",
    "SNAPSHOT",
    "TOPOLOGY",
}
# ... and so does KEY followed by one of these (SIGNING_KEY_B64, kubeconfig's client-key-data).
_KEY_CONTENT = {"DATA", "B64", "BASE64", "PEM", "HEX", "MATERIAL", "VALUE", "CONTENT", "CONTENTS"}
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SPLIT = re.compile(r"[^A-Za-z0-9]+")


class Secrecy(enum.Enum):
    """What a name says about its value; ``is_secret`` lets the value decide the last two."""

    SECRET = "secret"  # DB_PASSWORD, apiKey, X-Auth-Token: always
    UNLESS_PATH = "unless a path"  # MYSQL_PASSWORD_FILE, MYSQL_PWD, MYAPP_KEY
    IF_KEY_MATERIAL = "if key material"  # key, signingKey, snapshot_key, SandboxKey


@functools.lru_cache(maxsize=4096)  # the same keys recur in every container's documents
def secrecy(key: str) -> Secrecy | None:
    """Return what a key, label, variable or flag name says about its value (None: nothing).

    Only an upper-case name (an environment variable's convention) makes a trailing KEY a
    secret by name: in runtime metadata ``snapshot_key`` and ``SandboxKey`` hold an id and a
    path, so lower- and camel-case names ending in key need a value shaped like a key.
    """
    words = tuple(w.upper() for w in _SPLIT.split(_CAMEL.sub("_", key)) if w)
    return _secrecy(words, env_style=key.isupper())


def _secrecy(words: tuple[str, ...], env_style: bool) -> Secrecy | None:
    if not words:
        return None
    last = words[-1]
    if last in _METADATA:
        inner = _secrecy(words[:-1], env_style) if last in _PATH_WORDS else None
        if inner is None or inner is Secrecy.IF_KEY_MATERIAL:
            return inner
        return Secrecy.UNLESS_PATH
    joined = "_".join(words)
    if any(s in joined for s in _STRONG) or any(w in _WEAK for w in words):
        return Secrecy.SECRET
    if any(w in _SECRET_UNLESS_PATH for w in words):
        return Secrecy.UNLESS_PATH
    at = len(words) - 1 if last == "KEY" else len(words) - 2
    if at >= 0 and words[at] == "KEY" and (at == len(words) - 1 or last in _KEY_CONTENT):
        if env_style and at > 0 and words[at - 1] not in _ORDINARY_KEYS:
            return Secrecy.UNLESS_PATH
        return Secrecy.IF_KEY_MATERIAL
    return None


def is_secret_key(key: str) -> bool:
    """Return whether a name alone says its value is a secret, whatever the value."""
    return secrecy(key) is Secrecy.SECRET


# An absolute, home or explicitly relative path, a file URL, or a relative file name with a
# lower-case extension (server.key, secrets/db.pem). No whitespace: a secret may start with '/'.
_PATH_VALUE = re.compile(
    r"(?:~|\.{1,2})?/\S*|[A-Za-z]:[\\/]\S*|file://\S*|[\w.-]+(?:/[\w.-]+)*\.[a-z][a-z0-9]{0,7}"
)
# Key material: one run of base64 or base64url, long, mixing capitals, small letters and digits
# (a Ceph key AQB...==, a Fernet key). A hex id or a dotted label key is not.
_KEY_MATERIAL = re.compile(
    r"(?=[^A-Z]*[A-Z])(?=[^a-z]*[a-z])(?=[^0-9]*[0-9])[A-Za-z0-9+/_-]{16,}={0,2}"
)
# Values that are a JSON literal or a flag's setting, never a secret (password: null).
_LITERALS = {"true", "false", "null", "none", "nil", "undefined"}


def looks_like_path(value: str) -> bool:
    """Return whether a value reads as a file name or path rather than a secret."""
    return _PATH_VALUE.fullmatch(value) is not None


def is_secret(key: str, value: str) -> bool:
    """Return whether ``value``, found under the name ``key``, is a secret to mask."""
    kind = secrecy(key)
    if kind is None or not value or value == MASK or value.lower() in _LITERALS:
        return False
    if kind is Secrecy.UNLESS_PATH:
        return not looks_like_path(value)
    if kind is Secrecy.IF_KEY_MATERIAL:
        return _KEY_MATERIAL.fullmatch(value) is not None
    return True


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


# A port or publish spec: -p8080, -p8080-8090, -p127.0.0.1:8080:80/tcp, -p[::1]:53:53/udp.
_PORT_SPEC = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[0-9.:-])+(?:/(?:tcp|udp|sctp))?")
# A single-dash long option: gcc -pthread, -pedantic, -pipe; find -print0, -prune, -perm.
_LONG_OPTION = re.compile(r"[a-z][a-z0-9_-]*")


def attached_password(rest: str) -> bool:
    """Return whether ``-p<rest>`` in the argv of a program not known to take a password that
    way still reads as one (``-pS3cret``), rather than as what ``-p`` more often carries.

    Attached ``-p`` is a port (``-p8080``), a publish spec, a path (``-p/run/x.pid``), a cluster
    of short flags (``cp -pR``, ``tar -pxvf``) or a single-dash long option (``-pthread``,
    ``-print0``); none of those is masked. The cost is a password of digits only, or of small
    letters only, or under five characters, that survives; a separate ``-p X`` is never masked
    for such programs, since X is a port as often as a password and nothing tells them apart.
    """
    rest = rest.removeprefix("=")
    if len(rest) < 4 or MASK in rest:
        return False
    if _PORT_SPEC.fullmatch(rest) or looks_like_path(rest):
        return False
    if rest.isalpha() and len(rest) <= 5:
        return False  # a cluster of short flags
    return _LONG_OPTION.fullmatch(rest) is None


# --- text patterns ---------------------------------------------------------------------------
_KEY_WORDS = (
    r"passw(?:or)?d|passphrase|secret|token|api[_.-]?key|access[_.-]?key|private[_.-]?key|"
    r"credential|auth\w*|cookie|session\w*|dsn|pass|pw|key"
)
# A double-quoted value may hold escaped quotes ("pa\"ss"), as in a JSON log line.
_VALUE = r"""(?:"(?P<dq>(?:[^"\\\n]|\\.){1,400})"|'(?P<sq>[^'\n]{1,400})'|(?P<bare>[^\s"',;&<>{}\[\]]+))"""
# key=value, key: value, "key": "value", --flag=value; key and value are checked by is_secret.
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
# ODBC/ADO connection strings: Server=db;Uid=sa;Pwd=x y;  the value runs to ';' (it may hold
# spaces) or is {braced} or quoted; before _KV, whose bare value stops at the first space. Taken
# as one only with a ';' next to it (checked in _connection_sub).
_CONNECTION = re.compile(
    r"(?i)(?<![\w.-])(?P<key>password|pwd)[ \t]*=[ \t]*"
    r"(?P<v>\{[^}\n]*\}|\"[^\"\n]*\"|'[^'\n]*'|[^;\n\"']*[^;\n\"'\s])(?P<post>[ \t]*;)?"
)
# Lines without any of these words cannot hold a key=value or flag secret: skip them cheaply.
# (Matched against lower-cased text: a case-insensitive alternation is several times slower.)
_ANY_KEY_WORD = re.compile(
    r"pass|pw|secret|token|key|credential|auth|cookie|session|dsn|"
    + "|".join(re.escape(p) for p in _SHORT_PASSWORD_FLAGS)
)
_SHORT = re.compile(
    r"\b(?P<prog>" + "|".join(re.escape(p) for p in _SHORT_PASSWORD_FLAGS) + r")\b"
    r"(?P<args>[^\n|;&]{0,300}?)[ \t](?P<flag>-p|-a)(?P<gap>[ \t]*)(?P<bare>(?!-)[^\s\"',;]+)"
)


class _Rule:
    """One value pattern; ``triggers`` are literals one of which any match contains, so the
    regex only runs over text that holds one (a substring test is far cheaper than a scan).

    ``decode`` turns a value into the text it stands for, and then the value is masked only if
    that text would be redacted itself.
    """

    def __init__(
        self,
        name: str,
        pattern: str,
        group: int | str = 0,
        flags: int = 0,
        triggers: tuple[str, ...] = (),
        lowered: bool = False,
        decode: Callable[[str], str | None] | None = None,
    ) -> None:
        self.name = name
        self.regex = re.compile(pattern, flags)
        self.group = group
        self.triggers = triggers
        self.lowered = lowered  # triggers are matched against the lower-cased text
        self.decode = decode

    def may_match(self, text: str, lowered: str) -> bool:
        haystack = lowered if self.lowered else text
        return not self.triggers or any(t in haystack for t in self.triggers)


_MAX_BASE64 = 16384  # a kubeconfig's key data is a few kilobytes; longer is an image or archive
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def base64_text(value: str) -> str | None:
    """Return the text a base64 value decodes to, or None when it is not UTF-8 text."""
    if len(value) > _MAX_BASE64:
        return None
    try:
        text = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return None if _CONTROL.search(text) else text


_PATTERNS = [
    _Rule(
        "pem-private-key",
        r"-----BEGIN (?P<kind>[A-Z0-9 ]*)PRIVATE KEY(?P<block>(?: BLOCK)?)-----(?P<body>.*?)"
        r"-----END (?P=kind)PRIVATE KEY(?P=block)-----",
        "body",
        re.DOTALL,
        triggers=("PRIVATE KEY",),
    ),
    _Rule(
        "jwt",
        r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{0,}",
        triggers=("eyJ",),
    ),
    _Rule(
        "bearer-token",
        # The token must hold a digit, a capital or base64 punctuation: "basic understanding"
        # is prose, "Basic dXNlcjpwYXNz" is a credential. It must end there: in
        # "AUTH_TYPE=basic session_timeout=30" the word after basic is a key, not a token.
        r"(?i:\b(?:bearer|basic)[ \t]+)(?=\S*[A-Z0-9+/=])(?P<v>[A-Za-z0-9\-._~+/]{8,}=*)(?![\w=])",
        "v",
        triggers=("bearer", "basic"),
        lowered=True,
    ),
    _Rule(
        # The 40-character secret access key that follows an access key id on the same line
        # (a credentials CSV row, "aws configure" echoed). Before aws-access-key, which masks
        # the id this rule looks for. Both cases in it: a sha1 in hex is not one.
        "aws-secret-key",
        r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b[^\n]{0,100}?(?<![A-Za-z0-9/+=])"
        r"(?P<v>(?=[A-Za-z0-9/+]{0,39}[A-Z])(?=[A-Za-z0-9/+]{0,39}[a-z])[A-Za-z0-9/+]{40})"
        r"(?![A-Za-z0-9/+=])",
        "v",
        triggers=("AKIA", "ASIA"),
    ),
    _Rule(
        "aws-access-key",
        r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b",
        triggers=("AKIA", "ASIA", "AGPA", "AIDA", "AROA"),
    ),
    _Rule(
        # scheme://user:pass@host, and redis://:pass@host with no user.
        "url-password",
        r"\b[A-Za-z][A-Za-z0-9+.\-]{0,30}://[^\s:/@\"'<>]{0,256}:(?P<v>[^\s/@\"'<>]{1,256})@",
        "v",
        triggers=("://",),
    ),
    _Rule(
        "github-token",
        r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})",
        triggers=("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    ),
    _Rule("slack-token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}", triggers=("xox",)),
    _Rule(
        # Secret and restricted keys, live and test, and webhook signing secrets (pk_ is public).
        "stripe-key",
        r"\b(?:[sr]k_(?:live|test)_[0-9A-Za-z]{10,}|whsec_[0-9A-Za-z]{20,})",
        triggers=("k_live_", "k_test_", "whsec_"),
    ),
    _Rule("api-token-sk", r"(?<![\w-])sk-[A-Za-z0-9_\-]{20,}", triggers=("sk-",)),
    _Rule("gitlab-token", r"\bglpat-[A-Za-z0-9_\-]{20,}", triggers=("glpat-",)),
    _Rule("google-api-key", r"\bAIza[0-9A-Za-z_\-]{35}", triggers=("AIza",)),
    _Rule("npm-token", r"\bnpm_[A-Za-z0-9]{36}", triggers=("npm_",)),
    _Rule(
        # A Ceph key (keyring "key = AQB...==", "ceph auth get-key"): base64 of 28 bytes whose
        # first two are the key type 1, so 'AQ', and whose padding leaves 'A', 'Q', 'g' or 'w'.
        "ceph-key",
        r"(?<![A-Za-z0-9+/])AQ[A-Za-z0-9+/]{35}[AQgw]==",
        triggers=("AQ",),
    ),
    _Rule(
        # Base64 of text that would be redacted itself (a Kubernetes secret's "cGFzc3dvcmQ9..."
        # is password=...). Padded, a multiple of 4 long and both cases, as base64 of text is:
        # hex digests and words do not reach the decoder. Last: masks nothing the others mask.
        "base64-secret",
        # (Possessive quantifiers: a scan of all text that never backtracks into a token.)
        r"(?<![A-Za-z0-9+/_.-])(?=[a-z0-9+/]*+[A-Z])(?=[A-Z0-9+/]*+[a-z])"
        r"(?:[A-Za-z0-9+/]{4}){4,}+(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?(?![A-Za-z0-9+/=_.-])",
        decode=base64_text,
    ),
]
# Most strings (ids, paths, names in an inspect document) hold no rule's trigger: one scan of the
# lower-cased text for all of them replaces a substring test per rule and string. On a long text
# (a log) the substring tests, which skip through memory, are faster than the alternation.
_ANY_TRIGGER_MAX = 65536
_ANY_TRIGGER = re.compile(
    "|".join(sorted({re.escape(t.lower()) for r in _PATTERNS for t in r.triggers}, key=len))
)


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
                name = str(key)
                if secrecy(name) is not None:
                    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
                        if self._masked(name, str(value), where) == MASK:
                            out[key] = MASK
                            continue
                    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
                        out[key] = [self._masked(name, v, where) for v in value]
                        out[key] = [v if v == MASK else self.text(v, where) for v in out[key]]
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

    def _masked(self, key: str, value: str, where: str, rule: str = "secret-key") -> str:
        """Return MASK (and book the hit) if ``value`` under ``key`` is a secret, else ``value``."""
        if not is_secret(key, value):
            return value
        self._hit(rule, where, value)
        return MASK

    def assignment(self, text: str, where: str) -> str:
        """Mask ``KEY=value`` (an environment entry) when KEY and value make it a secret."""
        key, sep, value = text.partition("=")
        if sep and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.\-]*", key):
            if self._masked(key, value, where, "secret-env") == MASK:
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
            elif short is None and arg.startswith("-p") and attached_password(arg[2:]):
                eq = "=" if arg.startswith("-p=") else ""
                self._hit("password-flag", where, arg[2 + len(eq) :])
                out[i] = f"-p{eq}{MASK}"
            elif arg.startswith("-") and len(arg) > 1:
                name, eq, value = arg.partition("=")
                flag = name.lstrip("-")
                if eq:
                    if flag and self._masked(flag, value, where, "secret-flag") == MASK:
                        out[i] = f"{name}={MASK}"
                elif flag and i + 1 < len(out) and not out[i + 1].startswith("-"):
                    if self._masked(flag, out[i + 1], where, "secret-flag") == MASK:
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
        triggered = len(text) > _ANY_TRIGGER_MAX or _ANY_TRIGGER.search(lowered) is not None
        for rule in _PATTERNS:
            if (triggered or not rule.triggers) and rule.may_match(text, lowered):
                text = rule.regex.sub(self._pattern_sub(rule, where), text)
                lowered = text.lower()
        if len(lowered) != len(text) or not _ANY_KEY_WORD.search(lowered):
            return text if len(lowered) == len(text) else self._key_values(text, where)
        return self._key_values(text, where)

    def _key_values(self, text: str, where: str) -> str:
        lines = text.split("\n")
        for i, line in enumerate(lines):
            lowered = line.lower()
            if _ANY_KEY_WORD.search(lowered):
                if "pwd" in lowered or "password" in lowered:
                    line = _CONNECTION.sub(lambda m: self._connection_sub(m, where), line)
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
            if rule.decode:
                decoded = rule.decode(value)
                if decoded is None:
                    return m.group(0)
                probe = Redactor()  # what the decoded text holds is hunted for as well
                if probe.text(decoded, where) == decoded:
                    return m.group(0)
                self.secrets |= probe.secrets
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
        if MASK in value or not is_secret(key.strip("-."), value):
            return m.group(0)
        if m.group("sep").strip() == ":" and "." in key and value.isdigit():
            return m.group(0)  # auth.example.com:443 is a host and port
        self._hit("secret-key", where, value)
        group = "dq" if m.group("dq") else "sq" if m.group("sq") else "bare"
        start, end = m.start(group) - m.start(0), m.end(group) - m.start(0)
        whole = m.group(0)
        return whole[:start] + MASK + whole[end:]

    def _connection_sub(self, m: re.Match[str], where: str) -> str:
        value = m.group("v")
        before = m.string[max(0, m.start() - 8) : m.start()].rstrip(" \t")
        if not (before.endswith(";") or m.group("post")) or MASK in value:
            return m.group(0)  # no ';' next to it: a key=value for _KV, not a connection string
        if re.search(r"\s[\w.-]+=", value):
            return m.group(0)  # runs on into more key= words: a log line, also _KV's
        if m.group("key").lower() == "pwd" and looks_like_path(value.split()[0]):
            return m.group(0)  # cd /x; PWD=/home/app make
        self._hit("connection-string-password", where, value)
        return (
            m.group(0)[: m.start("v") - m.start(0)] + MASK + m.group(0)[m.end("v") - m.start(0) :]
        )

    def _flag_sub(self, m: re.Match[str], where: str) -> str:
        value = m.group("bare")
        if MASK in value or not is_secret(m.group("key").lstrip("-"), value):
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
