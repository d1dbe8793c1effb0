"""Redaction of secrets in bundle files: by key in structured data, by pattern in any text.

Two layers, applied to every file before it is staged:

1. Structure-aware, on JSON documents: a value whose key looks secret (``DB_PASSWORD``,
   ``apiKey``, ``X-Auth-Token``, a label ``session``) is masked; so is the value of a
   name/value pair whose name does (``{"name": "DB_PASSWORD", "value": ...}``), ``KEY=value``
   in an environment list, the value after ``--password``/``--token=`` in an argv list, ``-p x``
   for programs known to take a password that way (mysql, sshpass, redis-cli's ``-a``) and an
   attached ``-pS3cret`` that cannot be a port, path or option. Some names decide only with
   their value (``secrecy``): ``SSL_KEY_FILE`` and ``PWD`` hold a secret unless the value is a
   path, a bare ``key`` only when the value is shaped like key material; a literal (none,
   null, off), an empty value or a number under a name that does not say password never is.
2. Pattern-based, on all text (logs, raw files, each string in the JSON): PEM private keys,
   bearer and basic credentials, JWTs, AWS access key ids (and a secret key next to one),
   passwords in URLs, Go DSNs, ODBC/ADO connection strings and strongSwan secrets, common API
   token prefixes (GitHub, Slack, Stripe, Google, ...), Ceph keys, base64 that decodes to text
   holding a secret. Then, on the lines that hold a key word: ``key=value``/``key: value``,
   ``--flag value``, ``key   value`` on a configuration line, name/value pairs on one line
   (also with escaped quotes, as in a JSON string) or split over two (pretty JSON, YAML), a YAML
   block scalar under a secret key. Last, every secret value found, wherever else it appears.

Masking never changes a document's structure: a value is replaced inside its quotes (a bare
JSON number becomes a quoted mask), a block scalar or PEM body line by line keeping each line's
indentation, and line breaks, a trailing ``\\`` continuation and a log line's time prefix are
kept. ``Rules`` (a rules file, ``[redact]`` in the system config) add a site's secret names,
regular expressions and literal values, and an allow-list of names and values never masked.

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

from debugtool.errors import DebugtoolError
from debugtool.record import record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
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
    "CONSUMER_KEY",  # OAuth 1: oauth_consumer_key, whose values are often lower-case hex
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
    "PSK",  # a pre-shared key: wpa_psk, psk= in NetworkManager, PSK in strongSwan
    "BINDPW",  # LDAP clients (nslcd, sssd): bindpw, rootpw
    "ROOTPW",
    "REQUIREPASS",  # redis.conf
    "MASTERAUTH",
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
    # postgresql.conf's password_encryption, sshd_config's PasswordAuthentication, nginx's
    # auth_basic (a realm) and ssl_session_cache, systemd's PassEnvironment (variable names).
    "ENCRYPTION",
    "ALGORITHM",
    "AUTHENTICATION",
    "POLICY",
    "PROMPT",
    "FORMAT",
    "REALM",
    "BASIC",
    "CACHE",
    "ENVIRONMENT",
    "URL",
    "URI",
    "ENDPOINT",
    "USER",
    "USERNAME",
    "AGE",
    "SIZE",
    "COUNT",
    "MIN",
    "MAX",
    "RETRIES",
    "ATTEMPTS",
    "INTERVAL",
    "LIFETIME",
    "STORE",  # --session-store redis: where sessions are kept
    "BACKEND",
    "DRIVER",
}
# systemd's LoadCredential and ImportCredential name a credential's file, not its value.
_REFERENCE_VERBS = {"LOAD", "IMPORT"}
# nginx hands requests on with proxy_pass, fastcgi_pass, ...: PASS there is no password.
_PASS_THROUGH = {"PROXY", "FASTCGI", "UWSGI", "SCGI", "GRPC", "MEMCACHED"}
# Words that name a password, whose value may be all digits (a number under any other secret
# name is a setting: cookie_max_age=3600, session 5).
_PASSWORD_WORDS = ("PASS", "PW", "PIN")
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
    if len(words) > 1 and words[0] in _REFERENCE_VERBS and "CREDENTIAL" in words[1]:
        return None  # systemd's LoadCredential=ID:PATH names a file
    if "PASS" in words[1:] and words[words.index("PASS", 1) - 1] in _PASS_THROUGH:
        return None  # nginx's proxy_pass, fastcgi_pass: where requests go
    joined = "_".join(words)
    if any(s in joined for s in _STRONG) or any(w in _WEAK for w in words):
        return Secrecy.SECRET
    if any(w in _SECRET_UNLESS_PATH for w in words):
        return Secrecy.UNLESS_PATH
    at = len(words) - 1 if last == "KEY" else len(words) - 2
    if at >= 0 and words[at] == "KEY" and (at == len(words) - 1 or last in _KEY_CONTENT):
        if at > 0 and words[at - 1] == "PUBLIC":
            return None  # a public key is public by design (WireGuard PublicKey, PUBLIC_KEY)
        if env_style and at > 0 and words[at - 1] not in _ORDINARY_KEYS:
            return Secrecy.UNLESS_PATH
        return Secrecy.IF_KEY_MATERIAL
    if last == "SHARED":
        return Secrecy.IF_KEY_MATERIAL  # netplan's WireGuard keys: {public: X, shared: Y}
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
# Values that are a JSON literal or a flag's setting, never a secret (password: null,
# PermitEmptyPasswords no, ssl_session_tickets off).
_LITERALS = {
    "true",
    "false",
    "null",
    "none",
    "nil",
    "undefined",
    "yes",
    "no",
    "on",
    "off",
    "enabled",
    "disabled",
    "required",
    "optional",
    "~",
}
_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")
# A value already masked by someone else (***, <redacted>, [REDACTED], xxxxxx).
_MASKED = re.compile(r"\**|x{3,}|X{3,}|[<\[(]?(?i:redacted|masked)[>\])]?")


@functools.lru_cache(maxsize=1024)
def _names_password(key: str) -> bool:
    upper = key.upper()
    return "PASS" in upper or any(
        w in _PASSWORD_WORDS or w.endswith("PW") or w.endswith("PWD")
        for w in _SPLIT.split(_CAMEL.sub("_", key).upper())
    )


def looks_like_path(value: str) -> bool:
    """Return whether a value reads as a file name or path rather than a secret."""
    return _PATH_VALUE.fullmatch(value) is not None


def is_secret(key: str, value: str) -> bool:
    """Return whether ``value``, found under the name ``key``, is a secret to mask.

    A literal (null, none, true, off), an empty or already masked value is never one, nor is a
    number unless the name says password (``password: 123456`` is, ``cookie_max_age=3600``
    and ``session 5`` are not).
    """
    return value_is_secret(secrecy(key), key, value)


def value_is_secret(kind: Secrecy | None, key: str, value: str) -> bool:
    """``is_secret`` for a name whose ``secrecy`` is already known (user rules decide it)."""
    if kind is None or not value or value == MASK or value.lower() in _LITERALS:
        return False
    if _MASKED.fullmatch(value):
        return False
    if _NUMBER.fullmatch(value) and not _names_password(key):
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
# Lines without any of these words cannot hold a key=value, flag, name/value or config secret,
# so only lines with one are looked at (one scan of the lower-cased text finds them; a
# case-insensitive alternation is several times slower). Each hit is expanded to the run of
# name characters around it, which is the key (``DB_PASSWORD``, ``--api-key``, ``bindpw``).
_KEY_WORD_LIST = (
    "pass",
    "pw",
    "secret",
    "token",
    "key",
    "credential",
    "auth",
    "cookie",
    "session",
    "dsn",
    "psk",
    "shared",
)
_KEY_CHAR_TEXT = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-"
_KEY_CHARS = frozenset(_KEY_CHAR_TEXT)
# What the shapes of a line other than key=value look for (Redactor._line): a connection
# string's Pwd=, a name/value pair, a short password flag after its program.
_LINE_WORDS = ("pwd", "password", "value", "name", "key", *_SHORT_PASSWORD_FLAGS)
# ... of which these are enough to test for (mysqldump holds mysql).
_LINE_WORDS_SHORTEST = tuple(
    w for w in _LINE_WORDS if not any(o != w and o in w for o in _LINE_WORDS)
)
_MAX_KEY = 130  # a longer run of name characters is data (hex, base64), not a key
# A double-quoted value may hold escaped quotes ("pa\"ss"), as in a JSON log line; a value in
# JSON that is itself inside a JSON string (a log line's "log", last-applied-configuration
# in a log) is quoted with \" and holds neither quote nor backslash here.
_VALUE = (
    r"""(?:\\+"(?P<eq>[^"\\\n]{1,400})\\+"|"(?P<dq>(?:[^"\\\n]|\\.){1,400})"|"""
    r"""'(?P<sq>[^'\n]{1,400})'|(?P<bare>[^\s"',;&<>{}\[\]]+))"""
)
# What follows a key: key=value, key: value, "key": "value", --flag=value.
_AFTER_KEY = re.compile(
    r"(?P<kq>\\*[\"']?)(?P<sep>[ \t]*[:=][ \t]*)"
    r"(?P<scheme>(?i:bearer|basic|token|digest|negotiate|oauth)[ \t]+)?" + _VALUE
)
# A YAML block scalar starts on the key's line: "key: |", "key: >-", "key: |2".
_BLOCK = re.compile(r"(?P<kq>[\"']?)[ \t]*:[ \t]+[|>][1-9]?[+-]?[1-9]?[ \t]*(?:#.*)?$")
# --password value (a separate argument), in free text such as a logged command line; the
# value may be on the next line after a '\' continuation.
_FLAG_VALUE = re.compile(r"[ \t]+(?P<bare>(?!-)[^\s\"',;]+)")
# ... and in an argv written as a JSON list: "--password", "value".
_JSON_ARG = re.compile(r'(?P<q>\\*")[ \t]*,[ \t]*(?P=q)(?P<bare>(?!-)[^"\\\n]{1,400})(?P=q)')
# ... or a JSON list one item a line: "--password",\n "value".
_JSON_ARG_END = re.compile(r'\\*"[ \t]*,(?P<bare>)[ \t]*\r?$')
_CONTINUED_JSON = re.compile(r'[ \t]*\\*"(?P<v>[^"\\\n]{1,400})\\*"')
# After "name:" with no blank, a port or a path: a host and port, a systemd credential's file.
_PORT_OR_PATH = re.compile(r"[0-9]{1,5}(?:/|$)|/")
# key   value on a line of its own, as in slapd.conf, nslcd.conf, redis.conf, an nginx
# directive; masked only where the line sits among other configuration lines (see _config_near).
_SPACED = re.compile(
    r"[ \t]+(?:\"(?P<dq>[^\"\n]{1,400})\"|'(?P<sq>[^'\n]{1,400})'|(?P<bare>[^\s\"';]+))"
    r"[ \t]*;?[ \t]*(?P<cont>\\)?[ \t]*\r?$"
)
# A line that reads as configuration: a comment, a [section], key = value, key: value, key value
# (at most three words), a brace. A log line starts with a timestamp, prose has more words.
_CONFIG_LINE = re.compile(
    r"[ \t]*(?:[#;!].*|\[[^\]\n]+\][ \t]*|[{}][ \t]*|</?[A-Za-z][^>\n]*>[ \t]*|"
    r"[A-Za-z_][\w.-]*(?:[ \t]*[=:][ \t]*\S.*|[ \t]+\S+(?:[ \t]+\S+){0,2}[ \t]*|[ \t]*\{[ \t]*))\r?"
)
# ODBC/ADO connection strings: Server=db;Uid=sa;Pwd=x y;  the value runs to ';' (it may hold
# spaces) or is {braced} or quoted; before the key=value rule, whose bare value stops at the
# first space. Taken as one only with a ';' next to it (checked in _connection_sub).
_CONNECTION = re.compile(
    r"(?i)(?<![\w.-])(?P<key>password|pwd)[ \t]*=[ \t]*"
    r"(?P<v>\{[^}\n]*\}|\"[^\"\n]*\"|'[^'\n]*'|[^;\n\"']*[^;\n\"'\s])(?P<post>[ \t]*;)?"
)
_SHORT = re.compile(
    r"\b(?P<prog>" + "|".join(re.escape(p) for p in _SHORT_PASSWORD_FLAGS) + r")\b"
    r"(?P<args>[^\n|;&]{0,300}?)[ \t](?P<flag>-p|-a)(?P<gap>[ \t]*)(?P<bare>(?!-)[^\s\"',;]+)"
)
# Name/value pairs, as Kubernetes writes environment variables ({"name": "DB_PASSWORD",
# "value": "..."}), AWS its tags and parameters ({"Key": ..., "Value": ...}): the name decides
# for the value. Quotes may be escaped once or more (JSON inside a JSON string: the
# last-applied-configuration annotation, a JSON log line's message), or absent (YAML flow).
_PAIR_NAMES = r"(?:name|key|Name|Key|ParameterKey|ParameterName|OptionName)"
_PAIR_VALUES = r"(?:value|Value|ParameterValue|OptionValue)"
_PAIR_VALUE = (
    r"(?P<vq>\\*[\"'])?(?(vq)(?P<qv>(?:(?!(?P=vq))[^\n]){1,400})(?P=vq)|(?P<bv>[^\s,}\]\"']+))"
)
_PAIR = re.compile(
    r"(?P<q>\\*[\"']?)" + _PAIR_NAMES + r"(?P=q)[ \t]*[:=][ \t]*(?P<nq>\\*[\"']?)"
    r"(?P<name>[A-Za-z0-9_.\-/]{1,128})(?P=nq)[ \t]*,[ \t]*(?P=q)" + _PAIR_VALUES + r"(?P=q)"
    r"[ \t]*[:=][ \t]*" + _PAIR_VALUE
)
_PAIR_REVERSED = re.compile(
    r"(?P<q>\\*[\"']?)" + _PAIR_VALUES + r"(?P=q)[ \t]*[:=][ \t]*" + _PAIR_VALUE + r"[ \t]*,"
    r"[ \t]*(?P=q)" + _PAIR_NAMES + r"(?P=q)[ \t]*[:=][ \t]*(?P<nq>\\*[\"']?)"
    r"(?P<name>[A-Za-z0-9_.\-/]{1,128})(?P=nq)"
)
# The two halves on lines of their own: "name": "X", then "value": "..." a line or two later
# (pretty JSON), or "- name: X" then "  value: ..." (YAML).
_PAIR_NAME_LINE = re.compile(
    r"(?P<ind>[ \t]*(?:-[ \t]+)?)(?P<q>[\"']?)" + _PAIR_NAMES + r"(?P=q)[ \t]*:[ \t]*"
    r"(?P<nq>[\"']?)(?P<name>[A-Za-z0-9_.\-/]{1,128})(?P=nq)[ \t]*,?[ \t]*\r?"
)
_PAIR_VALUE_LINE = re.compile(
    r"(?P<ind>[ \t]*)(?P<q>[\"']?)" + _PAIR_VALUES + r"(?P=q)[ \t]*:[ \t]*" + _PAIR_VALUE
)
_PAIR_LOOKAHEAD = 4  # lines after the name in which its value may come
_PAIR_NAME_KEYS = ("name", "key", "Name", "Key", "ParameterKey", "ParameterName", "OptionName")
_PAIR_VALUE_KEYS = ("value", "Value", "ParameterValue", "OptionValue")
_BLOCK_INDICATOR = re.compile(r"[|>][1-9]?[+-]?[1-9]?")
# The first word of the line after "--password \": the value, kept with its own continuation.
_CONTINUED = re.compile(r"[ \t]*(?P<v>[^\s\\\"']+)")
# Line breaks inside a PEM body: real ones, or \n escapes in a JSON string.
_PEM_BREAK = re.compile(r"(\\r\\n|\\n|\n)")
# The base64 rule's prefilter: base64 characters flattened to one, a run of 16 of them.
_BASE64_FLAT = str.maketrans(
    {c: "A" for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"}
)
_BASE64_RUN = "A" * 16


# A log line's own prefix, as a bundle's logs.txt holds them ("TIME STREAM message", "TIME
# message"): the line's content, its indentation and its start are what follows it.
_LOG_PREFIX = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:[.,][0-9]{1,9})?"
    r"(?:Z|[+-][0-9]{2}:?[0-9]{2})?(?: (?:stdout|stderr))? "
)


def _prefix_len(line: str, start: int = 0) -> int:
    """Return how long the log prefix at ``line[start:]`` is (0: none)."""
    m = _LOG_PREFIX.match(line, start)
    return m.end() - start if m else 0


# What a short log line says after a key word: "auth ok", "session expired", "token invalid".
_STATUS_WORDS = {
    "ok",
    "okay",
    "failed",
    "failure",
    "success",
    "succeeded",
    "error",
    "denied",
    "granted",
    "expired",
    "invalid",
    "valid",
    "missing",
    "accepted",
    "rejected",
    "started",
    "stopped",
    "changed",
    "updated",
    "created",
    "deleted",
    "refreshed",
    "rotated",
    "reset",
    "set",
    "unset",
    "found",
}


def _config_near(text: str, start: int, end: int) -> bool:
    """Return whether the nearest non-blank line before or after ``text[start:end]`` reads as
    configuration (so ``secret xyz`` on this line is a setting, not a sentence)."""
    before = text[max(0, start - 4096) : start].split("\n")[:-1]
    after = text[end : end + 4096].split("\n")[1:]
    for lines in (reversed(before[-4:]), after[:4]):
        for line in lines:
            content = line[_prefix_len(line) :]
            if content.strip():
                if _CONFIG_LINE.fullmatch(content):
                    return True
                break
    return False


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
        group: int | str | tuple[str, ...] = 0,
        flags: int = 0,
        triggers: tuple[str, ...] = (),
        lowered: bool = False,
        decode: Callable[[str], str | None] | None = None,
        gate: str = "",
        multiline: bool = False,
    ) -> None:
        self.name = name
        self.regex = re.compile(pattern, flags)
        self.group = group
        self.triggers = triggers
        self.lowered = lowered  # triggers are matched against the lower-cased text
        self.decode = decode
        self.gate = gate  # a short text every trigger holds: one scan can rule them all out
        self.multiline = multiline  # a match may span lines (a PEM block)

    def may_match(self, text: str, lowered: str, seen: dict[str, bool] | None = None) -> bool:
        """Return whether the text holds a trigger; ``seen`` remembers the answers for one
        text, since rules share triggers (AKIA) and each test is a scan of all of it."""
        if not self.triggers:
            return True
        if seen is not None and all(t in seen for t in self.triggers):
            return any(seen[t] for t in self.triggers)  # decided, the gate's scan not needed
        haystack = lowered if self.lowered else text
        if self.gate and self.gate not in haystack:
            return False
        if seen is None:
            return any(t in haystack for t in self.triggers)
        for t in self.triggers:
            found = seen.get(t)
            if found is None:
                found = seen[t] = t in haystack
            if found:
                return True
        return False


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
        multiline=True,
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
        # A Go database/sql DSN has no scheme: user:pass@tcp(db:3306)/app, user:pass@/app.
        "dsn-password",
        r"(?<![\w.:/@-])[\w.-]{1,64}:(?P<v>[^\s:@/\"'<>()]{1,256})"
        r"@(?:(?:tcp[46]?|udp|unix)\([^()\s]{0,256}\))?/",
        "v",
        triggers=("@tcp(", "@tcp4(", "@tcp6(", "@udp(", "@unix(", "@/"),
        gate="@",
    ),
    _Rule(
        # strongSwan's ipsec.secrets: "[ids] : PSK "secret"", ": XAUTH user "pw"", ": EAP ...".
        "ipsec-secret",
        r"(?<!\S):[ \t]*(?:PSK|EAP|XAUTH|NTLM|PIN)[ \t]+(?:[^\s\"']+[ \t]+)??"
        r"(?:\"(?P<dq>[^\"\n]+)\"|'(?P<sq>[^'\n]+)'|(?P<bare>[^\s\"']+))[ \t]*$",
        ("dq", "sq", "bare"),
        re.MULTILINE,
        triggers=(": PSK", ": EAP", ": XAUTH", ": PIN"),
    ),
    _Rule(
        "github-token",
        r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})",
        triggers=("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
        gate="gh",
    ),
    _Rule("slack-token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}", triggers=("xox",)),
    _Rule(
        # An incoming webhook's URL is its credential: whoever has it can post.
        "slack-webhook",
        r"hooks\.slack\.com/(?:services|workflows|triggers)/(?P<v>[A-Za-z0-9+/_-]{20,})",
        "v",
        triggers=("hooks.slack.com/",),
    ),
    _Rule(
        # .netrc on one line: machine HOST login USER password SECRET.
        "netrc-password",
        r"\bmachine[ \t]+\S+(?:[ \t]+(?:login|account)[ \t]+\S+)*[ \t]+password[ \t]+(?P<v>[^\s]+)",
        "v",
        triggers=("machine",),
    ),
    _Rule(
        # Secret and restricted keys, live and test, and webhook signing secrets (pk_ is public).
        "stripe-key",
        r"\b(?:[sr]k_(?:live|test)_[0-9A-Za-z]{10,}|whsec_[0-9A-Za-z]{20,})",
        triggers=("k_live_", "k_test_", "whsec_"),
        gate="_",
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
# (a log) all triggers are decided at once by a few scans for their rarest characters (_plan).
_ANY_TRIGGER_MAX = 65536
_ANY_TRIGGER = re.compile(
    "|".join(sorted({re.escape(t.lower()) for r in _PATTERNS for t in r.triggers}, key=len))
)


# The triggers looked for in the text as it is (False) and in the lower-cased text (True).
_TRIGGERS = {
    lowered: tuple(sorted({t for r in _PATTERNS if r.lowered is lowered for t in r.triggers}))
    for lowered in (False, True)
}
# Scans of a long text for fixed strings (the rules' triggers, the key words). A ``str.find``
# pass costs about 0.8 ns a character whatever the text holds, 10 ms a 13 MB log, and there
# are some 35 strings. They are looked for by fewer scans: each scan is for one character,
# and finds every string that holds it (``_plan`` picks the characters). A character the text
# seldom holds (the 'J' of 'eyJ', the '@' of '@tcp(') is found by a walk over its places with
# ``str.find`` (``memchr``: 0.05 ns a character, ten times faster than any other scan) and
# the strings are checked around each place; any other by a regex that starts with it and
# checks the strings around it in the same pass (``_anchored``: as fast as one ``str.find``).
# How common each character is, is counted in a sample of the text.
_SAMPLE = 1024, 12  # a long text is sampled in 12 pieces of 1024 characters, spread over it
# Estimated costs, in picoseconds: a regex's scan a character, and at each place of its first
# character, and a string checked there; a walk's the same.
_SCAN, _SCAN_STOP, _SCAN_CHECK = 700, 30_000, 30_000
_WALK, _WALK_STOP, _WALK_CHECK = 50, 300_000, 120_000


def _sample(haystack: str) -> str:
    size, pieces = _SAMPLE
    n = len(haystack)
    if n <= size * pieces * 2:
        return haystack
    step = (n - size) // (pieces - 1)
    return "".join(haystack[i * step : i * step + size] for i in range(pieces))


def _plan(haystack: str, needles: Iterable[str]) -> dict[str, tuple[int, list[tuple[str, int]]]]:
    """Return the scans that find ``needles`` in ``haystack``: for each character scanned
    for, how many places of it a walk over them may meet (0: no walk, a regex), and the
    needles it finds with the index of the character in them. Characters are picked
    greedily, the cheapest a needle found first."""
    sample = _sample(haystack)
    scale = len(haystack) / max(1, len(sample))
    left = set(needles)
    holders: dict[str, set[str]] = {}  # the needles that hold each character
    for needle in left:
        for c in needle:
            holders.setdefault(c, set()).add(needle)
    counts = {c: sample.count(c) for c in holders}
    plan: dict[str, tuple[int, list[tuple[str, int]]]] = {}
    while left:
        best: tuple[float, str, int] | None = None
        for c in sorted(holders):
            m = len(holders[c] & left)
            if not m:
                continue
            stops = counts[c] * scale
            scan = len(haystack) * _SCAN + stops * (_SCAN_STOP + m * _SCAN_CHECK)
            walk = len(haystack) * _WALK + stops * (_WALK_STOP + m * _WALK_CHECK)
            most = int(3 * (stops + scale)) if walk < scan else 0  # more: the sample misled
            cost = (min(scan, walk) / m, c, most)
            if best is None or cost < best:
                best = cost
        assert best is not None
        _, c, most = best
        members = sorted((needle, needle.index(c)) for needle in left if c in needle)
        left -= {needle for needle, _ in members}
        plan[c] = (most, members)
    return plan


@functools.lru_cache(maxsize=128)
def _anchored(members: tuple[tuple[str, int], ...]) -> re.Pattern[str]:
    """One regex for needles that share the character at their index: that character, then
    for each needle a look-behind for what comes before it and a look-ahead for the rest.
    It starts with a literal, so its search skips on that character alone."""
    branches = []
    for needle, k in members:
        before = f"(?<={re.escape(needle[: k + 1])})" if k else ""
        after = f"(?={re.escape(needle[k + 1 :])})" if k + 1 < len(needle) else ""
        branches.append(before + after)
    first, k = members[0]
    return re.compile(re.escape(first[k]) + "(?:" + "|".join(branches) + ")")


def _found(
    haystack: str, c: str, most: int, members: list[tuple[str, int]]
) -> Iterator[tuple[str, int]]:
    """Yield each needle of ``members`` (each with ``c`` at its index) with where it starts
    in ``haystack``, in the order of the places of ``c``: by a walk over at most ``most`` of
    them (then ``_anchored`` for the rest: ``c`` is far more common than the sample said),
    else with ``_anchored``."""
    pos = 0
    if most:
        i = haystack.find(c)
        met = 0
        while i >= 0:
            for needle, k in members:
                if i >= k and haystack.startswith(needle, i - k):
                    yield needle, i - k
            met += 1
            if met > most:
                pos = i + 1
                break
            i = haystack.find(c, i + 1)
        else:
            return
    regex = _anchored(tuple(members))
    if len(members) == 1:  # the regex checked it
        needle, k = members[0]
        for m in regex.finditer(haystack, pos):
            yield needle, m.start() - k
        return
    for m in regex.finditer(haystack, pos):
        i = m.start()
        for needle, k in members:
            if i >= k and haystack.startswith(needle, i - k):
                yield needle, i - k


def _holding(haystack: str, needles: Iterable[str]) -> set[str]:
    """Return which of ``needles`` ``haystack`` holds (a substring test's answer for each)."""
    found: set[str] = set()
    for c, (most, members) in _plan(haystack, needles).items():
        held: set[str] = set()
        for needle, _ in _found(haystack, c, most, members):
            held.add(needle)
            if len(held) == len(members):
                break
        found |= held
    return found


def _places(haystack: str, words: Iterable[str]) -> list[int]:
    """Return where in ``haystack`` each of ``words`` starts, sorted (no word may be inside
    another: then no two start at one place)."""
    places = [
        at
        for c, (most, members) in _plan(haystack, words).items()
        for _, at in _found(haystack, c, most, members)
    ]
    places.sort()
    return places


def _find_each(haystack: str, words: Iterable[str]) -> list[int]:
    """Return where in ``haystack`` each of ``words`` starts, sorted, by one ``str.find`` walk
    a word: for a few words (one rule's triggers) or a short text, where ``_places``'s
    planning would cost more than it saves."""
    places: list[int] = []
    for word in words:
        i = haystack.find(word)
        while i >= 0:
            places.append(i)
            i = haystack.find(word, i + 1)
    places.sort()
    return places


# --- rules users add -----------------------------------------------------------------------
_RULE_FIELDS = ("keys", "patterns", "literals", "allow")


@record(frozen=True)
class Rules:
    """What a site adds to the built-in rules (a rules file, ``[redact]`` in the system config).

    ``keys``: more secret names; a name is secret when its words (split at ``_ . -`` and case
    changes, compared upper-case) hold a key's words in a row, so ``bindpw`` covers
    ``LDAP_BINDPW`` and ``ldap.bindpw``. ``patterns``: regular expressions; the match, or its
    group named ``secret``, is masked in any text. ``literals``: exact values masked anywhere.
    ``allow``: names whose values and exact values that are never masked (what a built-in rule
    takes for a secret and a site knows is not).
    """

    keys: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    literals: tuple[str, ...] = ()
    allow: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()  # where they came from, for messages

    def merged(self, other: Rules) -> Rules:
        """Return these rules and ``other``'s together (a file adds to the system config)."""

        def both(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(dict.fromkeys(a + b))

        return Rules(
            keys=both(self.keys, other.keys),
            patterns=both(self.patterns, other.patterns),
            literals=both(self.literals, other.literals),
            allow=both(self.allow, other.allow),
            sources=self.sources + other.sources,
        )

    def __bool__(self) -> bool:
        return any(getattr(self, f) for f in _RULE_FIELDS)


class RulesError(DebugtoolError):
    """A rules file (or the ``[redact]`` table) cannot be used: a bad table or regex."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(
            f"cannot use the redaction rules in {where}: {reason}.",
            "Fix the rule or leave it out (see 'Redaction rules' in the README).",
        )


def rules_from_table(table: dict[str, Any], where: str) -> Rules:
    """Return the rules a TOML table holds; raises ``RulesError`` naming the bad rule."""
    if set(table) == {"redact"} and isinstance(table["redact"], dict):
        table = table["redact"]  # a file may hold the same [redact] table as the config
    unknown = sorted(set(table) - set(_RULE_FIELDS))
    if unknown:
        raise RulesError(
            where, f"unknown setting {unknown[0]!r} (known: {', '.join(_RULE_FIELDS)})"
        )
    found: dict[str, tuple[str, ...]] = {}
    for name in _RULE_FIELDS:
        value = table.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise RulesError(where, f"{name} must be a list of non-empty strings")
        found[name] = tuple(value)
    for i, pattern in enumerate(found["patterns"]):
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise RulesError(
                where, f"patterns[{i}] {pattern!r} is not a regular expression ({exc})"
            ) from None
        if regex.search(""):
            raise RulesError(where, f"patterns[{i}] {pattern!r} matches empty text")
    for i, key in enumerate(found["keys"]):
        if not _words(key):
            raise RulesError(where, f"keys[{i}] {key!r} has no letters or digits")
    return Rules(**found, sources=(where,))


def load_rules(path: str) -> Rules:
    """Read a rules file (TOML: keys, patterns, literals, allow); raises ``RulesError``."""
    import tomllib

    try:
        with open(path, "rb") as f:
            data = f.read(1 << 20 + 1)
    except OSError as exc:
        raise RulesError(path, exc.strerror or str(exc)) from None
    if len(data) > 1 << 20:
        raise RulesError(path, "the file is larger than 1 MiB")
    try:
        table = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RulesError(path, f"not valid TOML ({exc})") from None
    return rules_from_table(table, path)


def configured_rules(path: str | None = None) -> Rules:
    """Return the rules of the system config's ``[redact]`` table, plus those of ``path``."""
    from debugtool import config

    rules = Rules()
    table = config.section("redact")
    if table:
        rules = rules_from_table(table, f"{config.path()} [redact]")
    if path:
        rules = rules.merged(load_rules(path))
    return rules


def _words(name: str) -> tuple[str, ...]:
    return tuple(w.upper() for w in _SPLIT.split(_CAMEL.sub("_", name)) if w)


def _holds(words: tuple[str, ...], part: tuple[str, ...]) -> bool:
    n = len(part)
    return any(words[i : i + n] == part for i in range(len(words) - n + 1))


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _lower(text: str) -> str:
    """Return ``text`` lower-cased, each character in its place (``str.lower`` turns a few,
    such as U+0130, into two, and the places found in it would be off in the text)."""
    lowered = text.lower()
    return lowered if len(lowered) == len(text) else text.translate(_ASCII_LOWER)


def _secret_shaped(value: str) -> bool:
    """Return whether a value reads as a password or token rather than a word or a setting."""
    if len(value) < 6:
        return False
    kinds = (
        any(c.isdigit() for c in value)
        + any(c.isupper() for c in value)
        + any(c.islower() for c in value)
        + any(not c.isalnum() for c in value)
    )
    return kinds >= 2 and not value.isdigit()


_HEAD = 4  # needles that start with the same bytes are looked for together (present_in)
_MAX_PLACES = 20000  # more places of a shared start than this: test each needle alone


def present_in(data: bytes, needles: list[bytes]) -> list[bytes]:
    """Return those of ``needles`` that ``data`` holds, in their order.

    A substring test each costs a scan of ``data``, and a bundle's values come in families
    (``tok_...``, one password per service): needles that share their first bytes are found
    with one scan for those bytes and a ``startswith`` test at each place they occur, falling
    back to a test each when they occur too often to pay.
    """
    groups: dict[bytes, list[bytes]] = {}
    for needle in needles:
        groups.setdefault(needle[:_HEAD], []).append(needle)
    found: set[bytes] = set()
    for head, members in groups.items():
        places: list[int] = []
        if len(members) > 1:
            i = data.find(head)
            while i >= 0 and len(places) <= _MAX_PLACES:
                places.append(i)
                i = data.find(head, i + 1)
        if len(members) == 1 or len(places) > _MAX_PLACES:
            found.update(m for m in members if m in data)
        else:
            found.update(m for m in members if any(data.startswith(m, p) for p in places))
    return [n for n in needles if n in found]


class Redactor:
    """Masks secrets in the files of one bundle and remembers what it masked and where.

    ``report()`` returns ``{rule, file, count}`` records (never a secret); ``secrets`` holds
    the masked values worth hunting for, for the writer's final leak scan. ``rules`` adds a
    site's keys, patterns, literals and allow-list to the built-in rules.
    """

    def __init__(self, rules: Rules | None = None) -> None:
        self.rules = rules or Rules()
        self.counts: Counter[tuple[str, str]] = Counter()
        self.secrets: set[str] = set()
        # Collector threads redact their own files; one at a time keeps the books consistent.
        self.lock = threading.RLock()
        self._known: tuple[int, list[str]] | None = None  # (values, their forms)
        self._known_bytes: tuple[list[str], list[bytes]] | None = None
        self._user_keys = tuple(_words(k) for k in self.rules.keys)
        self._allow_keys = {_words(a) for a in self.rules.allow}
        self._allow_values = frozenset(self.rules.allow)
        self._secrecy_of: dict[str, Secrecy | None] = {}
        self._patterns = list(_PATTERNS) + [
            _Rule("user-pattern", p, "secret" if "(?P<secret>" in p else 0)
            for p in self.rules.patterns
        ]
        words = set(_KEY_WORD_LIST) | set(_SHORT_PASSWORD_FLAGS)
        words |= {max(w, key=len).lower() for w in self._user_keys}
        # Words inside another (mysqldump, sshpass) need no search of their own.
        self._key_words = tuple(w for w in words if not any(o in w for o in words if o != w))
        self._key_word = re.compile("|".join(sorted(map(re.escape, words), key=len, reverse=True)))
        self._literals = None
        if self.rules.literals:
            ordered = sorted(set(self.rules.literals), key=len, reverse=True)
            self._literals = re.compile("|".join(map(re.escape, ordered)))
            self.secrets.update(self.rules.literals)  # hunted everywhere and leak-scanned

    # -- what is secret, with the site's rules -------------------------------------------------
    def secrecy(self, key: str) -> Secrecy | None:
        """``secrecy`` with the rules: an allowed name is never secret, a user key always."""
        try:
            return self._secrecy_of[key]
        except KeyError:
            pass
        kind: Secrecy | None
        if not (self._user_keys or self._allow_keys):
            kind = secrecy(key)
        else:
            words = _words(key)
            if words in self._allow_keys:  # (--flag and FLAG have the same words)
                kind = None
            elif any(_holds(words, k) for k in self._user_keys):
                kind = Secrecy.SECRET
            else:
                kind = secrecy(key)
        if len(self._secrecy_of) < 65536:
            self._secrecy_of[key] = kind
        return kind

    def is_secret(self, key: str, value: str) -> bool:
        """``is_secret`` with the rules: an allowed value is never masked."""
        if value in self._allow_values:
            return False
        return value_is_secret(self.secrecy(key), key, value)

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
            paired = self._paired_value(obj, where)
            for key, value in obj.items():
                name = str(key)
                if key == paired:
                    out[key] = MASK
                    continue
                if self.secrecy(name) is not None:
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

    def _paired_value(self, obj: dict[str, Any], where: str) -> str | None:
        """Return the key of a name/value pair's value when the name makes it a secret
        (``{"name": "DB_PASSWORD", "value": "..."}``, ``{"Key": ..., "Value": ...}``)."""
        if len(obj) > 8:
            return None
        value_key = next((k for k in _PAIR_VALUE_KEYS if k in obj), None)
        if value_key is None:
            return None
        value = obj[value_key]
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            return None
        for name_key in _PAIR_NAME_KEYS:
            name = obj.get(name_key)
            if isinstance(name, str) and self.is_secret(name, str(value)):
                self._hit("secret-pair", where, str(value))
                return value_key
        return None

    def _masked(self, key: str, value: str, where: str, rule: str = "secret-key") -> str:
        """Return MASK (and book the hit) if ``value`` under ``key`` is a secret, else ``value``."""
        if not self.is_secret(key, value):
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
        """Return ``text`` with pattern matches and key=value secrets masked (first pass).

        Lines and their breaks, indentation and continuations are kept: a masked value is
        replaced in place, a block of lines (a PEM body, a YAML block scalar) line by line.
        """
        if self._literals is not None:
            text = self._literals.sub(self._literal_sub(where), text)
        if len(text) < 6:
            return text  # too short to hold a key and a value worth masking
        lowered = _lower(text)
        triggered = len(text) > _ANY_TRIGGER_MAX or _ANY_TRIGGER.search(lowered) is not None
        seen: dict[str, bool] = {}
        if len(text) > _ANY_TRIGGER_MAX:  # every trigger decided at once (``_holding``)
            for by_lowered in (False, True):
                triggers = _TRIGGERS[by_lowered]
                held = _holding(lowered if by_lowered else text, triggers)
                seen.update((t, t in held) for t in triggers)
        for rule in self._patterns:
            if (triggered or not rule.triggers) and rule.may_match(text, lowered, seen):
                if rule.name == "base64-secret" and len(text) > _ANY_TRIGGER_MAX:
                    new = self._base64_runs(rule, text, where)
                elif rule.triggers and len(text) > _ANY_TRIGGER_MAX and not rule.multiline:
                    new = self._rule_by_lines(rule, text, lowered, where)
                else:
                    new = rule.regex.sub(self._pattern_sub(rule, where), text)
                # A rule only puts MASK where a value was, and no trigger holds a '*' (MASK's
                # first and last character) or lies inside MASK: masking never makes a trigger
                # that was not there, so the triggers found absent stay absent (one found
                # present may be gone: its rule then runs and matches nothing).
                if new != text:
                    text, lowered = new, _lower(new)
        return self._key_values(text, lowered, where)

    def _literal_sub(self, where: str) -> Callable[[re.Match[str]], str]:
        def sub(m: re.Match[str]) -> str:
            self.counts[("user-literal", where)] += 1
            return MASK

        return sub

    def _rule_by_lines(self, rule: _Rule, text: str, lowered: str, where: str) -> str:
        """A one-line rule on a long text: its regex runs on the lines that hold a trigger,
        not over every position of the text (a log where one line in a thousand has one)."""
        haystack = lowered if rule.lowered else text
        places = _find_each(haystack, rule.triggers)
        sub = self._pattern_sub(rule, where)
        out: list[str] = []
        last = 0
        for at in places:
            if at < last:
                continue
            start = text.rfind("\n", 0, at) + 1
            end = text.find("\n", at)
            end = len(text) if end < 0 else end
            out.append(text[last:start])
            out.append(rule.regex.sub(sub, text[start:end]))
            last = end
        out.append(text[last:])
        return "".join(out)

    def _base64_runs(self, rule: _Rule, text: str, where: str) -> str:
        """The base64 rule on a long text: the regex runs only where a run of 16 base64
        characters starts (found with ``str.find`` on a translated copy, many times faster
        than the regex's own scan of every position)."""
        flat = text.translate(_BASE64_FLAT)
        sub = self._pattern_sub(rule, where)
        out: list[str] = []
        last = pos = 0
        while (pos := flat.find(_BASE64_RUN, pos)) >= 0:
            start = pos
            while start > 0 and flat[start - 1] == "A":
                start -= 1
            m = rule.regex.match(text, start)
            end = pos + len(_BASE64_RUN)
            while end < len(flat) and flat[end] == "A":
                end += 1
            if m:
                out.append(text[last : m.start()])
                out.append(sub(m))
                last = m.end()
                end = max(end, m.end())
            pos = end
        out.append(text[last:])
        return "".join(out)

    def _key_values(self, text: str, lowered: str, where: str) -> str:
        """Mask what keys show, on the lines where a key word occurs.

        The words are found with ``str.find``, one word at a time, which skips through the
        text many times faster than a regular expression's alternation (on a long text, by
        walks over their rarest characters, ``_places``); the lines that hold none (most of a
        log) are not looked at again.
        """
        if len(lowered) != len(text):
            lowered = text.translate(_ASCII_LOWER)  # a few characters change length lowered
        if len(lowered) > _ANY_TRIGGER_MAX:
            hits = _places(lowered, self._key_words)
        else:
            hits = _find_each(lowered, self._key_words)
        if not hits:
            return text
        out: list[str] = []
        last = 0
        n = len(text)
        k = 0
        while k < len(hits):
            start = text.rfind("\n", 0, hits[k]) + 1
            end = text.find("\n", hits[k])
            end = n if end < 0 else end
            first = k
            while k < len(hits) and hits[k] < end:
                k += 1
            if start < last:
                continue  # governed by an earlier line (a block scalar, a pair's value)
            if self._passes_over(text, lowered, start, end, hits[first:k]):
                continue
            new, upto = self._line_at(text, lowered, start, end, hits[first:k], where)
            if new is not None:
                out.append(text[last:start])
                out.append(new)
                last = upto
        if not out:
            return text
        out.append(text[last:])
        return "".join(out)

    def _passes_over(self, text: str, lowered: str, start: int, end: int, hits: list[int]) -> bool:
        """Return whether ``_line`` would leave the line at ``text[start:end]`` as it is, known
        cheaply: it holds none of the words its other shapes need, and no key word in it is
        part of a name that may be secret (``session_timeout=30s``, a log's most common kind).
        Each key is cut out as ``_line`` cuts it; a run it would pass over as data counts
        as a name here, which can only send the line on to ``_line``."""
        low = lowered[start:end]
        for word in _LINE_WORDS_SHORTEST:
            if word in low:
                return False
        for at in hits:
            lo = max(start, at - _MAX_KEY)
            s = lo + len(text[lo:at].rstrip(_KEY_CHAR_TEXT))
            tail = text[at : min(end, at + _MAX_KEY)]
            e = at + len(tail) - len(tail.lstrip(_KEY_CHAR_TEXT))
            name = text[s:e].strip("-.")
            if name and self.secrecy(name) is not None:
                return False
        return True

    def _line_at(
        self, text: str, lowered: str, start: int, end: int, hits: list[int], where: str
    ) -> tuple[str | None, int]:
        """Redact the line at ``text[start:end]`` and whatever lines after it it governs (a
        block scalar's, a name's value, a continued flag's); return the new text of them all
        (None: unchanged) and where it ends."""
        line = text[start:end]
        new, follow = self._line(text, lowered, start, end, hits, where)
        if follow is None:
            return (None if new == line else new), end
        pieces = [new]
        kind = follow[0]
        pos = end
        if kind == "block":
            key, column = follow[1], follow[2]
            block, pos = self._block(text, end, column, key, where)
            if block is None:
                return (None if new == line else new), end
            pieces.append(block)
        elif kind == "continued":
            nxt = text.find("\n", end + 1)
            nxt = len(text) if nxt < 0 else nxt
            if end < len(text):
                m = follow[1].match(text, end + 1 + _prefix_len(text[end + 1 : nxt]), nxt)
                if m and MASK not in m.group("v"):
                    self._hit("secret-flag", where, m.group("v"))
                    pieces.append(
                        "\n" + text[end + 1 : m.start("v")] + MASK + text[m.end("v") : nxt]
                    )
                    pos = nxt
        elif kind == "pair":
            name = follow[1]
            for _ in range(_PAIR_LOOKAHEAD):
                if pos >= len(text):
                    break
                nxt = text.find("\n", pos + 1)
                nxt = len(text) if nxt < 0 else nxt
                following = text[pos + 1 : nxt]
                p = _prefix_len(following)
                stripped = following[p:].lstrip()
                if stripped.startswith(("}", "]", "-")) or _PAIR_NAME_LINE.fullmatch(following, p):
                    break
                m = _PAIR_VALUE_LINE.match(following, p)
                if m:
                    masked, upto = self._pair_value_line(text, following, m, name, pos, nxt, where)
                    if masked is not None:
                        pieces.append(text[end:pos] + "\n" + masked)
                        return "".join(pieces), upto
                    break
                pos = nxt
            return (None if new == line else new), end
        return "".join(pieces), pos

    def _pair_value_line(
        self, text: str, line: str, m: re.Match[str], name: str, pos: int, nxt: int, where: str
    ) -> tuple[str | None, int]:
        """Mask the value line of a split name/value pair; return it (and a block scalar's
        lines after it) and where that ends, or None when the name does not make it secret."""
        value = m.group("qv") or m.group("bv") or ""
        if m.group("bv") and _BLOCK_INDICATOR.fullmatch(value) and self.secrecy(name):
            block, upto = self._block(text, nxt, len(m.group("ind")), name, where)
            return (None, nxt) if block is None else (line + block, upto)
        if MASK in value or not self.is_secret(name, value):
            return None, nxt
        self._hit("secret-pair", where, value)
        group = "qv" if m.group("qv") else "bv"
        return line[: m.start(group)] + MASK + line[m.end(group) :], nxt

    def _block(
        self, text: str, pos: int, column: int, key: str, where: str
    ) -> tuple[str | None, int]:
        """Mask a YAML block scalar's lines after ``text[pos]`` (those indented past
        ``column``), each keeping its indentation; None when its content is no secret."""
        lines: list[tuple[int, int, int]] = []  # (start, end, indentation) of each line
        n = len(text)
        while pos < n:
            nxt = text.find("\n", pos + 1)
            nxt = n if nxt < 0 else nxt
            body = text[pos + 1 : nxt]
            p = _prefix_len(body)
            content = body[p:].strip()
            indent = p + len(body) - p - len(body[p:].lstrip(" \t"))
            if content and indent - p <= column:
                break
            lines.append((pos + 1, nxt, indent))
            pos = nxt
        while lines and not text[lines[-1][0] + lines[-1][2] : lines[-1][1]].strip():
            lines.pop()  # blank lines after the block belong to what follows
        if not lines:
            return None, pos
        value = "\n".join(text[s + i : e].strip() for s, e, i in lines)
        kind = self.secrecy(key)
        if kind is Secrecy.IF_KEY_MATERIAL:
            flat = "".join(value.split())
            secret = _KEY_MATERIAL.fullmatch(flat) is not None or "PRIVATE KEY" in value
        else:
            secret = self.is_secret(key, value.replace("\n", " "))
        if not secret or MASK in value:
            return None, pos
        self._hit("secret-key", where, value)
        for part in value.split("\n"):
            if worth_hunting(part):
                self.secrets.add(part)
        out = []
        for s, e, indent in lines:
            body = text[s:e]
            cr = "\r" if body.endswith("\r") else ""
            out.append("\n" + (body[:indent] + MASK + cr if body[indent:].strip() else body))
        return "".join(out), lines[-1][1]

    def _line(
        self, text: str, lowered: str, start: int, end: int, hits: list[int], where: str
    ) -> tuple[str, tuple[Any, ...] | None]:
        """Mask the single-line shapes of one line; return it and what it says of the lines
        after it (None, or ("block", key, column), ("continued",), ("pair", name))."""
        line = text[start:end]
        low = lowered[start:end]
        follow: tuple[Any, ...] | None = None
        if "pwd" in low or "password" in low:
            line = _CONNECTION.sub(lambda m: self._connection_sub(m, where), line)
        if "value" in low:
            line = _PAIR.sub(lambda m: self._pair_sub(m, where), line)
            line = _PAIR_REVERSED.sub(lambda m: self._pair_sub(m, where), line)
        if line != text[start:end]:  # the lengths and places moved: find the words again
            low = line.translate(_ASCII_LOWER)
            places = sorted(m.start() for m in self._key_word.finditer(low))
        else:
            places = [h - start for h in hits]
        prefix = _prefix_len(line)
        pieces: list[str] = []
        last = 0
        cursor = 0
        for at in places:
            if at < cursor:
                continue
            # The run of name characters around the word (str.strip runs in C).
            lo = max(0, at - _MAX_KEY)
            s = lo + len(line[lo:at].rstrip(_KEY_CHAR_TEXT))
            tail = line[at : at + _MAX_KEY]
            e = at + len(tail) - len(tail.lstrip(_KEY_CHAR_TEXT))
            cursor = e
            if (s == lo and s > 0 and line[s - 1] in _KEY_CHARS) or e - s > _MAX_KEY:
                continue  # a run too long to be a key: data
            if e < len(line) and line[e] in _KEY_CHARS:
                continue
            key = line[s:e]
            span = self._key_value(line, prefix, s, e, key, where, text, start, end)
            if span is None:
                continue
            if isinstance(span, tuple) and span and span[0] in ("block", "continued"):
                follow = span
                continue
            vs, ve, replacement = span
            pieces.append(line[last:vs])
            pieces.append(replacement)
            last = cursor = ve
        if pieces:
            pieces.append(line[last:])
            line = "".join(pieces)
        if "mysql" in low or "mariadb" in low or "sshpass" in low or "redis-cli" in low:
            line = _SHORT.sub(lambda m: self._short_sub(m, where), line)
        if follow is None and ("name" in low or "key" in low):
            m = _PAIR_NAME_LINE.fullmatch(line, prefix)
            if m and self.secrecy(m.group("name")) is not None:
                follow = ("pair", m.group("name"))
        return line, follow

    def _key_value(
        self,
        line: str,
        prefix: int,
        s: int,
        e: int,
        key: str,
        where: str,
        text: str,
        start: int,
        end: int,
    ) -> Any:
        """Decide the value after the key ``line[s:e]``: return (start, end, replacement) to
        mask it, ("block", key, column) or ("continued",) for lines after, or None."""
        name = key.strip("-.")
        if not name or self.secrecy(name) is None:
            return None  # every way on below needs a name that may be secret (session_timeout)
        # Most words found are no key (a path's /session, "token bucket"): what follows the
        # run, past quotes and blanks, is no separator, and the run neither starts the line
        # nor is a --flag.
        after = e
        while after < len(line) and line[after] in "\"' \t\\":
            after += 1
        if (after == len(line) or line[after] not in ":=") and key[:1] != "-":
            if line[prefix:s].strip():
                return None
        m = _AFTER_KEY.match(line, e)
        if m is not None:
            group = (
                "eq"
                if m.group("eq")
                else "dq"
                if m.group("dq")
                else "sq"
                if m.group("sq")
                else "bare"
            )
            value = m.group(group) or ""
            vs, ve = m.start(group), m.end(group)
            if group == "bare":
                if value in ("|", "|-", "|+") or (value.startswith("|") and _BLOCK.match(line, e)):
                    if self.secrecy(name) is not None:
                        return ("block", name, s - prefix)
                    return None
                if value.endswith("\\") and ve == len(line.rstrip("\r")):
                    value, ve = value[:-1], ve - 1  # a line continuation, not the value's
                if value.endswith("=") and line[ve : ve + 1] == '"':
                    return None  # the first of a list of params: OAuth oauth_token="..."
            if not value or MASK in value or not self.is_secret(name, value):
                return None
            if m.group("sep").strip() == ":" and "." in key and value.isdigit():
                return None  # auth.example.com:443 is a host and port
            if m.group("sep") == ":" and not m.group("kq") and _PORT_OR_PATH.match(value):
                return None  # auth-service:8080/verify, LoadCredential=db-password:/etc/x
            self._hit("secret-key", where, value)
            replacement = MASK
            kq = m.group("kq")
            if group == "bare" and kq.endswith('"') and m.group("sep").strip() == ":":
                replacement = kq + MASK + kq  # a JSON number becomes a string: still JSON
            return vs, ve, replacement
        if _BLOCK.match(line, e) and self.secrecy(name) is not None:
            return ("block", name, s - prefix)
        if key.startswith("--"):
            m = (
                _FLAG_VALUE.match(line, e)
                or _JSON_ARG.match(line, e)
                or _JSON_ARG_END.match(line, e)
            )
            if m is None:
                return None
            value = m.group("bare")
            vs, ve = m.start("bare"), m.end("bare")
            if (value == "\\" or m.re is _JSON_ARG_END) and ve == len(line.rstrip("\r")):
                if self.secrecy(name) is not Secrecy.SECRET:
                    return None
                return ("continued", _CONTINUED if value == "\\" else _CONTINUED_JSON)
            if value.endswith("\\") and ve == len(line.rstrip("\r")):
                value, ve = value[:-1], ve - 1
            if not value or MASK in value or not self.is_secret(name, value):
                return None
            self._hit("secret-flag", where, value)
            return vs, ve, MASK
        if line[prefix:s].strip() or key.startswith("-"):
            return None
        m = _SPACED.match(line, e)
        if m is None:
            return None
        group = "dq" if m.group("dq") else "sq" if m.group("sq") else "bare"
        value = m.group(group)
        if MASK in value or not self.is_secret(name, value) or not any(map(str.isalnum, value)):
            return None
        if looks_like_path(value) or value[:1] in "$%@" or "://" in value:
            return None  # a file, a variable, a reference: nginx's auth_request /auth
        if key[:1].isupper() and key[1:].islower() and value.isalpha() and value.islower():
            return None  # prose: "Password changed", "Token expired"
        if value.lower() in _STATUS_WORDS:
            return None  # a log line: "auth ok", "token expired"
        if not (_secret_shaped(value) or _config_near(text, start, end)):
            return None
        self._hit("secret-key", where, value)
        return m.start(group), m.end(group), MASK

    def known(self, text: str, where: str) -> str:
        """Return ``text`` with every remembered secret value masked (second pass)."""
        if not self.secrets:
            return text
        return self._known_in(text, [f for f in self._known_forms() if f in text], where)

    def _known_in(self, text: str, present: list[str], where: str) -> str:
        """Mask the remembered values ``present`` (those found in ``text`` by a substring test)
        with one alternation, longest first, as one scan of ``text`` would: only the lines that
        hold one are scanned, since no value spans a line break (unless one holds one)."""
        if not present:
            return text
        regex = self._known_regex(tuple(present))
        if len(text) <= _ANY_TRIGGER_MAX or any("\n" in f for f in present):
            text, n = regex.subn(MASK, text)
        else:
            places: list[int] = []
            for form in present:
                i = text.find(form)
                while i >= 0:
                    places.append(i)
                    i = text.find(form, i + 1)
            places.sort()
            out: list[str] = []
            last = n = 0
            for at in places:
                if at < last:
                    continue
                start = text.rfind("\n", 0, at) + 1
                end = text.find("\n", at)
                end = len(text) if end < 0 else end
                line, k = regex.subn(MASK, text[start:end])
                out.append(text[last:start])
                out.append(line)
                n += k
                last = end
            out.append(text[last:])
            text = "".join(out)
        if n:
            self.counts[("known-value", where)] += n
        return text

    def _known_forms(self) -> list[str]:
        """Every remembered value, raw and JSON-escaped, longest first."""
        if self._known is None or self._known[0] != len(self.secrets):
            forms = set()
            for value in self.secrets:
                forms.add(value)
                forms.add(json.dumps(value, ensure_ascii=False)[1:-1])
            self._known = (len(self.secrets), sorted(forms, key=lambda f: (-len(f), f)))
        return self._known[1]

    @staticmethod
    @functools.lru_cache(maxsize=64)
    def _known_regex(forms: tuple[str, ...]) -> re.Pattern[str]:
        """One alternation of ``forms`` (longest first): a single scan however many values
        there are (a loop of replacements could cut one value inside another)."""
        return re.compile("|".join(map(re.escape, forms)))

    def _pattern_sub(self, rule: _Rule, where: str) -> Callable[[re.Match[str]], str]:
        def sub(m: re.Match[str]) -> str:
            group = rule.group
            if isinstance(group, tuple):
                group = next((g for g in group if m.group(g) is not None), group[0])
            value = m.group(group)
            if not value or value.strip() in ("", MASK) or value in self._allow_values:
                return m.group(0)
            if rule.decode:
                decoded = rule.decode(value)
                if decoded is None:
                    return m.group(0)
                probe = Redactor(self.rules)  # what the decoded text holds is hunted as well
                if probe.text(decoded, where) == decoded:
                    return m.group(0)
                self.secrets |= probe.secrets
            start, end = m.start(group) - m.start(0), m.end(group) - m.start(0)
            whole = m.group(0)
            if rule.name == "pem-private-key":
                # Each body line is masked in place, keeping its indentation and line break
                # (a PEM in a YAML block scalar, or in JSON with \n escapes), and hunted.
                self.counts[(rule.name, where)] += 1
                parts = _PEM_BREAK.split(value)
                for i in range(0, len(parts), 2):
                    p = _prefix_len(parts[i]) if i else 0
                    body = parts[i][p:].strip()
                    if body:
                        if worth_hunting(body):
                            self.secrets.add(body)
                        indent = len(parts[i]) - len(parts[i][p:].lstrip(" \t"))
                        cr = "\r" if parts[i].endswith("\r") else ""
                        parts[i] = parts[i][:indent] + MASK + cr
                return whole[:start] + "".join(parts) + whole[end:]
            self._hit(rule.name, where, value)
            return whole[:start] + MASK + whole[end:]

        return sub

    def _pair_sub(self, m: re.Match[str], where: str) -> str:
        group = "qv" if m.group("qv") is not None else "bv"
        value = m.group(group)
        if not value or MASK in value or not self.is_secret(m.group("name"), value):
            return m.group(0)
        self._hit("secret-pair", where, value)
        start, end = m.start(group) - m.start(0), m.end(group) - m.start(0)
        return m.group(0)[:start] + MASK + m.group(0)[end:]

    def _connection_sub(self, m: re.Match[str], where: str) -> str:
        value = m.group("v")
        before = m.string[max(0, m.start() - 8) : m.start()].rstrip(" \t")
        if not (before.endswith(";") or m.group("post")) or MASK in value:
            return m.group(0)  # no ';' next to it: a key=value for _KV, not a connection string
        if re.search(r"\s[\w.-]+=", value):
            return m.group(0)  # runs on into more key= words: a log line, also _KV's
        if m.group("key").lower() == "pwd" and looks_like_path(value.split()[0]):
            return m.group(0)  # cd /x; PWD=/home/app make
        if value in self._allow_values:
            return m.group(0)
        self._hit("connection-string-password", where, value)
        return (
            m.group(0)[: m.start("v") - m.start(0)] + MASK + m.group(0)[m.end("v") - m.start(0) :]
        )

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
        """Mask every remembered secret value in one file; return new bytes.

        A substring test of each value's bytes (at memory speed) picks the values the file
        may hold; a file that holds none is returned as it is, without being decoded."""
        with self.lock:
            if not self.secrets:
                return data
            forms = self._known_forms()
            needles = self._known_bytes
            if needles is None or needles[0] is not forms:
                encoded = [f.encode("utf-8", "surrogateescape") for f in forms]
                needles = self._known_bytes = (forms, encoded)
            held = set(present_in(data, needles[1]))
            present = [f for f, b in zip(forms, needles[1], strict=True) if b in held]
            if not present:
                return data
            text = data.decode("utf-8", "surrogateescape")
            return self._known_in(text, present, rel).encode("utf-8", "surrogateescape")

    def leak_needles(self) -> list[bytes]:
        """Return the byte strings the final leak scan looks for: each value, raw and JSON-escaped."""
        needles: set[bytes] = set()
        for value in self.secrets:
            needles.add(value.encode("utf-8", "surrogateescape"))
            escaped = json.dumps(value, ensure_ascii=False)[1:-1]
            needles.add(escaped.encode("utf-8", "surrogateescape"))
        return sorted(needles, key=len)
