"""Consistent pseudonyms for host names, IP and MAC addresses and user names in a bundle.

``--pseudonymise hosts,ips,macs,users`` replaces each such name, in every member of a bundle
(and in member names, the manifest and the report), by one pseudonym: the same host is the
same ``host-1f2e3d4c`` in the kernel log, the snapshot and the Docker events, so a support
engineer can still follow it from file to file. What is replaced comes from the bundle's own
knowledge, not from guessing at shapes: the host's name and the containers' host names, the
addresses and MACs its network data records (interfaces, routes, sockets, Docker's network
settings, netfilter rules), and the users of ``/etc/passwd`` and of the captured processes
whose uid marks a site account (1000 and above: ``root`` or ``daemon`` identifies nobody).

Pseudonyms are derived with HMAC-SHA256 under a random key made for the mapping, so they do
not give the original away to a brute-force search (a bare hash of an IPv4 address would),
and are stable for as long as the mapping is kept: a second bundle extends the same mapping
file (``Pseudonyms.load``), so several nodes of a fleet share one set of pseudonyms. The
mapping (key included) is written only to a local file beside the bundle, mode 0600, never
into it.

Every pseudonym has the syntax of what it replaces and holds no character that JSON, YAML or
a shell would treat specially, so structured files stay parseable: an IPv4 address becomes
one in 100.64.0.0/10, an IPv6 address one in fd00::/8, a MAC a locally administered
``02:..`` one, a host ``host-HEX``, a user ``user-HEX``.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import ipaddress
import json
import os
import re
import secrets
import stat

from debugtool.errors import BundleError, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any

KINDS = ("hosts", "ips", "macs", "users")
FORMAT = "debugtool-pseudonyms"
#: The first uid of a site account on Debian, Fedora and most others (login.defs UID_MIN).
UID_MIN = 1000
#: nobody/nogroup: above UID_MIN, and still nobody.
_NOBODY = {65534, 4294967294, 4294967295}
#: Names that are never pseudonymised: they name no machine or person, and replacing them
#: everywhere would mangle ordinary text.
_COMMON_HOSTS = {
    "localhost",
    "localhost.localdomain",
    "ip6-localhost",
    "ip6-loopback",
    "localdomain",
    "none",
    "unknown",
    "host",
}
_COMMON_USERS = {"root", "nobody", "daemon", "admin", "user", "users", "guest"}
#: A host name or user name as this module handles it: letters, digits, '.', '_' and '-'
#: (a name with anything else is left alone rather than matched loosely).
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,252}")
#: A container's default host name is its short id, which is also in every path of the bundle:
#: it identifies the container, not a machine, and replacing it would break the ids.
_SHORT_ID = re.compile(r"[0-9a-f]{12}")

_IPV4 = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}"
_IPV4_TOKEN = re.compile(r"(?<![\d.])" + _IPV4 + r"(?![\d]|\.\d)")
_IPV6_TOKEN = re.compile(
    r"(?<![0-9A-Fa-f:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![0-9A-Fa-f:])"
)
_MAC_TOKEN = re.compile(r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}(?![0-9A-Fa-f:])")


def parse_kinds(text: str) -> list[str]:
    """Return the kinds a ``--pseudonymise`` value names (``hosts,ips``; ``all`` for every
    one). Raises ``UsageError`` for a word it does not know."""
    words = [w.strip().lower() for w in text.split(",") if w.strip()]
    if words == ["all"]:
        return list(KINDS)
    aliases = {"host": "hosts", "ip": "ips", "mac": "macs", "user": "users"}
    kinds = []
    for word in words:
        kind = aliases.get(word, word)
        if kind not in KINDS:
            raise UsageError(
                f"'{word}' is not something --pseudonymise replaces.",
                f"Give a comma-separated list of {', '.join(KINDS)} (or all).",
            )
        if kind not in kinds:
            kinds.append(kind)
    if not kinds:
        raise UsageError("--pseudonymise needs at least one of " + ", ".join(KINDS) + ".")
    return kinds


def _ordinary_ip(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether an address identifies nothing (loopback, unspecified, broadcast, multicast,
    netmask-like): such addresses are left as they are."""
    if address.is_loopback or address.is_unspecified or address.is_multicast:
        return True
    if isinstance(address, ipaddress.IPv4Address):
        text = str(address)
        return text == "255.255.255.255" or text.startswith("255.") or text.endswith(".255")
    return False


def _canonical_ip(text: str) -> str | None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    return None if _ordinary_ip(address) else address.compressed


def _canonical_mac(text: str) -> str | None:
    mac = text.lower()
    if mac in ("00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff"):
        return None
    return mac


class Pseudonyms:
    """One mapping of originals to pseudonyms, for the kinds asked for.

    ``learn_*`` adds originals; ``text``/``data`` replace them; ``save`` writes the mapping
    (0600) and ``load`` reads one to extend. Pseudonyms are assigned as originals are learnt,
    so everything must be learnt before the first replacement (``text`` builds its pattern
    then).
    """

    def __init__(self, kinds: Iterable[str], key: bytes | None = None) -> None:
        self.kinds = [k for k in KINDS if k in set(kinds)]
        self.key = key or secrets.token_bytes(32)
        self.maps: dict[str, dict[str, str]] = {kind: {} for kind in KINDS}
        self._taken: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lookup: dict[str, str] = {}
        self.bundles: list[str] = []
        self.replaced = 0  # how many replacements ``text`` made

    # -- the mapping file ---------------------------------------------------------------------
    @classmethod
    def load(cls, path: str, kinds: Iterable[str]) -> Pseudonyms:
        """Return the mapping in ``path`` (to extend, so a fleet shares one), or a new one
        when there is no file there. Raises ``BundleError`` for a file that is not a mapping."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
        except FileNotFoundError:
            return cls(kinds)
        except OSError as exc:
            raise BundleError(f"cannot read the pseudonym map {path}: {exc.strerror}.") from None
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise BundleError(f"the pseudonym map {path} is not a regular file.")
            try:
                doc = json.loads(f.read(64 << 20))
                key = bytes.fromhex(doc["key"])
                maps = {kind: dict(doc.get(kind) or {}) for kind in KINDS}
                if doc.get("format") != FORMAT or len(key) < 16:
                    raise ValueError
            except (ValueError, KeyError, TypeError, AttributeError):
                raise BundleError(
                    f"{path} is not a debugtool pseudonym map.",
                    "Name another file with --pseudonym-map, or move that one away.",
                ) from None
        found = cls(kinds, key)
        for kind, pairs in maps.items():
            for original, pseudonym in pairs.items():
                if isinstance(original, str) and isinstance(pseudonym, str):
                    found.maps[kind][original] = pseudonym
                    found._taken.add(pseudonym)
        found.bundles = [b for b in doc.get("bundles") or [] if isinstance(b, str)]
        return found

    def document(self) -> dict[str, Any]:
        """Return the mapping file's content: the key, every kind's originals -> pseudonyms."""
        return {
            "format": FORMAT,
            "version": 1,
            "note": "original -> pseudonym; keep this file local: it undoes the pseudonyms",
            "key": self.key.hex(),
            "bundles": self.bundles,
            **{kind: dict(sorted(self.maps[kind].items())) for kind in KINDS},
        }

    def save(self, path: str) -> None:
        """Write the mapping to ``path``, mode 0600, whole or not at all (a temporary file
        renamed over it); never through a symbolic link. Raises ``BundleError``."""
        directory = os.path.dirname(os.path.abspath(path)) or "."
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISLNK(os.lstat(path).st_mode):
                raise BundleError(f"the pseudonym map {path} is a symbolic link; not written.")
        temp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp")
        data = json.dumps(self.document(), indent=1).encode()
        try:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            try:
                os.fchmod(fd, 0o600)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temp, path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise BundleError(f"cannot write the pseudonym map {path}: {exc.strerror}.") from None

    # -- learning -------------------------------------------------------------------------------
    def _pseudonym(self, kind: str, original: str) -> str:
        n = 0
        while True:
            digest = hmac.new(self.key, f"{kind}\0{original}\0{n}".encode(), hashlib.sha256)
            d = digest.digest()
            if kind == "hosts":
                made = "host-" + d[:4].hex()
            elif kind == "users":
                made = "user-" + d[:3].hex()
            elif kind == "macs":
                made = "02:" + ":".join(f"{b:02x}" for b in d[:5])
            elif ":" in original:
                made = ipaddress.IPv6Address(b"\xfd" + d[:15]).compressed
            else:
                made = f"100.{64 + (d[0] & 63)}.{d[1]}.{1 + d[2] % 254}"
            if made not in self._taken and not any(made in m for m in self.maps.values()):
                self._taken.add(made)
                return made
            n += 1

    def _add(self, kind: str, original: str) -> None:
        if kind not in self.kinds or original in self.maps[kind]:
            return
        self.maps[kind][original] = self._pseudonym(kind, original)
        self._pattern = None

    def learn_host(self, name: str) -> None:
        """Add a host name (its first label too, when it is a dotted name)."""
        name = name.strip().rstrip(".").lower()
        if not _NAME.fullmatch(name) or name in _COMMON_HOSTS or _SHORT_ID.fullmatch(name):
            return
        if name.replace(".", "").isdigit():
            return  # an address, not a name
        self._add("hosts", name)
        first = name.split(".", 1)[0]
        if first != name and len(first) >= 2 and first not in _COMMON_HOSTS:
            self._add("hosts", first)

    def learn_user(self, name: str, uid: int | None) -> None:
        """Add a user name whose uid marks a site account (``UID_MIN`` and above)."""
        if uid is None or uid < UID_MIN or uid in _NOBODY:
            return
        if _NAME.fullmatch(name) and name not in _COMMON_USERS and len(name) >= 2:
            self._add("users", name)

    def learn_addresses(self, text: str) -> None:
        """Add every IP and MAC address found in network data (``text``)."""
        if "ips" in self.kinds:
            for token in _IPV4_TOKEN.findall(text):
                ip = _canonical_ip(token)
                if ip:
                    self._add("ips", ip)
            for m in _IPV6_TOKEN.finditer(text):
                token = m.group()
                if token.count(":") >= 2 and any(c.isalnum() for c in token):
                    ip = _canonical_ip(token)
                    if ip:
                        self._add("ips", ip)
        if "macs" in self.kinds:
            for token in _MAC_TOKEN.findall(text):
                mac = _canonical_mac(token)
                if mac:
                    self._add("macs", mac)

    def learn_passwd(self, text: str) -> None:
        """Add the site accounts of an ``/etc/passwd``."""
        for line in text.splitlines():
            fields = line.split(":")
            if len(fields) >= 3 and fields[2].isdigit():
                self.learn_user(fields[0], int(fields[2]))

    def learn_bundle(self, members: Mapping[str, bytes], host: str = "") -> None:
        """Learn what a bundle's members say of its hosts, addresses and users (``members``:
        path relative to the bundle root -> bytes; ``host`` the name of the host it is of)."""
        if host:
            self.learn_host(host)
        for rel, data in members.items():
            name = rel.rsplit("/", 1)[-1]
            if name in ("snapshot.json", "inspect.json", "container.json"):
                doc = _json(data)
                self._learn_container(doc)
                self.learn_addresses(_network_text(doc))
            elif rel == "host/docker-info.json":
                doc = _json(data)
                if isinstance(doc, dict) and isinstance(doc.get("Name"), str):
                    self.learn_host(doc["Name"])
            elif rel in ("host/listening.json", "host/resources.json") or rel.startswith(
                "host/netfilter/"
            ):
                self.learn_addresses(data.decode("utf-8", "replace"))
            elif "/raw/proc/net/" in rel:
                self._learn_proc_net(name, data.decode("ascii", "replace"))
            elif rel == "host/audit.jsonl":
                for line in data.splitlines():
                    record = _json(line)
                    if isinstance(record, dict):
                        self._learn_audit(record)

    def _learn_container(self, doc: Any) -> None:
        if not isinstance(doc, dict):
            return
        for key in ("hostname", "Hostname"):
            if isinstance(doc.get(key), str):
                self.learn_host(doc[key])
        config = doc.get("Config")
        if isinstance(config, dict) and isinstance(config.get("Hostname"), str):
            self.learn_host(config["Hostname"])
        container = doc.get("container")
        if isinstance(container, dict):
            self._learn_container(container)
        for process in doc.get("processes") or []:
            if isinstance(process, dict) and isinstance(process.get("user"), str):
                uid = process.get("uid")
                self.learn_user(process["user"], uid if isinstance(uid, int) else None)

    def _learn_audit(self, record: dict[str, Any]) -> None:
        if isinstance(record.get("host"), str):
            self.learn_host(record["host"])
        for key in ("user", "login_user", "sudo_user", "operator"):
            value = record.get(key)
            uid = record.get(key.replace("user", "uid")) if key != "operator" else None
            if isinstance(value, str) and isinstance(uid, int):
                self.learn_user(value, uid)

    def _learn_proc_net(self, name: str, text: str) -> None:
        """Addresses in /proc/net/route (IPv4 as little-endian hex) and ipv6_route (hex)."""
        if "ips" not in self.kinds:
            return
        if name == "route":
            for line in text.splitlines()[1:]:
                for field in line.split()[1:3]:
                    if re.fullmatch(r"[0-9A-Fa-f]{8}", field):
                        ip = _canonical_ip(str(ipaddress.IPv4Address(bytes.fromhex(field)[::-1])))
                        if ip:
                            self._add("ips", ip)
        elif name in ("ipv6_route", "if_inet6"):
            for token in re.findall(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])", text):
                ip = _canonical_ip(str(ipaddress.IPv6Address(bytes.fromhex(token))))
                if ip:
                    self._add("ips", ip)

    # -- replacing ------------------------------------------------------------------------------
    def _compile(self) -> re.Pattern[str] | None:
        """One pattern for every original of every kind, so one scan replaces them all and a
        pseudonym is never scanned again (``user-1a2b`` holds no host a later pass could hit).
        Each kind has its own boundaries: a host name is a whole name (``vm`` not in
        ``total-vm`` or ``vm.swappiness`` when it is that short), an address a whole address."""
        self._lookup = {}
        parts = []
        # A JSON string's escapes (\n, \t) end a word too: "127.0.0.1\tweb-1\n" in /etc/hosts
        # as a snapshot holds it.
        word_start = r"(?:(?<![A-Za-z0-9_])|(?<=\\[nrt]))"

        def alternation(words: Iterable[str]) -> str:
            return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))

        hosts = self.maps["hosts"] if "hosts" in self.kinds else {}
        if hosts:
            long_ = [h for h in hosts if len(h) >= 4]
            short = [h for h in hosts if len(h) < 4]
            for h, p in hosts.items():
                self._lookup["h:" + h] = p
            if long_:
                parts.append(
                    word_start + r"(?P<h>(?i:" + alternation(long_) + r"))(?![A-Za-z0-9_])"
                )
            if short:
                parts.append(
                    r"(?:(?<![A-Za-z0-9_.-])|(?<=\\[nrt]))(?P<hs>(?i:"
                    + alternation(short)
                    + r"))(?![A-Za-z0-9_-]|\.[A-Za-z0-9_])"
                )
        ips = self.maps["ips"] if "ips" in self.kinds else {}
        v4 = {o: p for o, p in ips.items() if ":" not in o}
        v6 = {o: p for o, p in ips.items() if ":" in o}
        if v4:
            hexes = {}
            for o, p in v4.items():
                self._lookup["4:" + o] = p
                # /proc/net/route writes an IPv4 address as 8 hex digits, little-endian.
                hexes[_le_hex(o)] = _le_hex(p)
            self._lookup.update({"x:" + h: p for h, p in hexes.items()})
            parts.append(r"(?<![\d.])(?P<v4>" + alternation(v4) + r")(?![\d]|\.\d)")
            parts.append(r"(?<![0-9A-Za-z])(?P<x>" + alternation(hexes) + r")(?![0-9A-Za-z])")
        if v6:
            forms = {}
            for o, p in v6.items():
                forms[o] = p
                forms[ipaddress.IPv6Address(o).exploded] = ipaddress.IPv6Address(p).exploded
                forms[ipaddress.IPv6Address(o).packed.hex()] = ipaddress.IPv6Address(p).packed.hex()
            self._lookup.update({"6:" + o: p for o, p in forms.items()})
            parts.append(
                r"(?<![0-9A-Fa-f:])(?P<v6>(?i:" + alternation(forms) + r"))(?![0-9A-Fa-f:])"
            )
        macs = self.maps["macs"] if "macs" in self.kinds else {}
        if macs:
            self._lookup.update({"m:" + o: p for o, p in macs.items()})
            parts.append(r"(?<![0-9A-Fa-f:])(?P<m>(?i:" + alternation(macs) + r"))(?![0-9A-Fa-f:])")
        users = self.maps["users"] if "users" in self.kinds else {}
        if users:
            self._lookup.update({"u:" + o: p for o, p in users.items()})
            parts.append(word_start + r"(?P<u>" + alternation(users) + r")(?![A-Za-z0-9_])")
        self._pattern = re.compile("|".join(parts)) if parts else None
        return self._pattern

    def _replace(self, m: re.Match[str]) -> str:
        group = m.lastgroup or ""
        text = m.group()
        prefix = {"h": "h:", "hs": "h:", "v4": "4:", "x": "x:", "v6": "6:", "m": "m:", "u": "u:"}
        key = prefix[group] + (text.lower() if group in ("h", "hs", "v6", "m") else text)
        if group == "x":
            key = "x:" + text.upper()
        found = self._lookup.get(key)
        if found is None:
            return text
        self.replaced += 1
        return found

    def text(self, text: str) -> str:
        """Return ``text`` with every original replaced by its pseudonym."""
        pattern = self._pattern if self._pattern is not None else self._compile()
        if pattern is None:
            return text
        return pattern.sub(self._replace, text)

    def data(self, data: bytes) -> bytes:
        """``text`` for bytes (non-UTF-8 bytes kept as they are)."""
        if not self.kinds:
            return data
        return self.text(data.decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape")

    def members(self, files: Mapping[str, bytes]) -> dict[str, bytes]:
        """Return ``files`` with their names and contents pseudonymised."""
        return {self.text(rel): self.data(data) for rel, data in files.items()}

    def survivors(self, data: bytes) -> bool:
        """Whether any original is still in ``data`` (the final check on a whole archive)."""
        pattern = self._pattern if self._pattern is not None else self._compile()
        if pattern is None:
            return False
        for m in pattern.finditer(data.decode("utf-8", "surrogateescape")):
            if self._lookup_of(m) is not None:
                return True
        return False

    def _lookup_of(self, m: re.Match[str]) -> str | None:
        before = self.replaced
        out = self._replace(m)
        self.replaced = before
        return None if out == m.group() else out

    def counts(self) -> dict[str, int]:
        """How many originals of each kind the mapping holds."""
        return {kind: len(self.maps[kind]) for kind in self.kinds}


def _le_hex(ipv4: str) -> str:
    return ipaddress.IPv4Address(ipv4).packed[::-1].hex().upper()


def _json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        return None


def _network_text(doc: Any) -> str:
    """The parts of a snapshot, inspect or container document that are network data:
    interfaces, routes, sockets and Docker's NetworkSettings, as text to find addresses in."""
    if not isinstance(doc, dict):
        return ""
    wanted = ("interfaces", "routes", "sockets", "ports", "NetworkSettings", "network", "dns")
    parts = [json.dumps(doc[k]) for k in wanted if k in doc]
    for value in doc.values():
        if isinstance(value, dict):
            parts += [json.dumps(value[k]) for k in wanted if k in value]
    return "\n".join(parts)


_ROOT = re.compile(r"(?P<head>debugtool-bundle-)(?P<host>.+)(?P<tail>-\d{8}T\d{6}Z)")


def root(mapper: Pseudonyms, folder: str) -> str:
    """Return a bundle's top folder (``debugtool-bundle-HOST-TIME``) with HOST pseudonymised
    (a short host name is not replaced between '-', as in ``total-vm``, so it is done here)."""
    m = _ROOT.fullmatch(folder)
    if not m or "hosts" not in mapper.kinds:
        return mapper.text(folder)
    host = m.group("host").lower()
    pseudonym = mapper.maps["hosts"].get(host)
    if pseudonym is None:
        return mapper.text(folder)
    return m.group("head") + pseudonym + m.group("tail")


def default_map_path(bundle_path: str) -> str:
    """Where the mapping goes when ``--pseudonym-map`` names no file: beside the bundle."""
    base = bundle_path[: -len(".tar.gz")] if bundle_path.endswith(".tar.gz") else bundle_path
    return base + ".map.json"


def manifest(mapper: Pseudonyms, document: dict[str, Any]) -> dict[str, Any]:
    """Return a manifest with every original replaced (its host, command line, container
    folders, errors), its ``files`` (already named by pseudonyms) untouched, and
    ``pseudonymised`` saying how many of each kind were replaced (never which)."""
    files = document.pop("files", None)
    out: dict[str, Any] = json.loads(mapper.text(json.dumps(document)))
    if files is not None:
        out["files"] = files
    out["pseudonymised"] = mapper.counts()
    return out


def report(mapper: Pseudonyms, redactions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the redaction records with their file names pseudonymised."""
    return [{**r, "file": mapper.text(str(r.get("file", "")))} for r in redactions]


def check(mapper: Pseudonyms, archive: bytes) -> None:
    """Raise ``BundleError`` if any original is still in the gzip-compressed ``archive``
    (member names, headers or data): the last check before it is written, as the leak scan
    is for secrets."""
    import gzip

    if mapper.survivors(gzip.decompress(archive)):
        raise BundleError(
            "an original name or address survived pseudonymisation; the bundle was not written.",
            "This is a debugtool bug: please report it (without the bundle).",
        )
