"""The smallest program that does the redaction work of bench_redact.py's bundle: its floor.

The logs bench_redact.py makes hold secrets in two shapes only: a password in a URL
(``postgres://app:S3cret3Value@db...``) and a ``token=`` value. This masks exactly those, the
way debugtool's redactor does (its output is compared, byte for byte, in bench_redact.py):
one ``str.find`` scan of a file per trigger (``://``, ``token``), two regular expressions on
the lines that hold one, then every value found hunted in every file (one scan for each
distinct start of the values, then a replacement of those found). It knows nothing of the
other sixty shapes, of JSON, YAML or base64: the gap between it and debugtool's redactor on
the same bytes is the price of those, and of debugtool's own bookkeeping.
Usage: floor_redact.py FILE... (prints CPU seconds and MB/s)
"""

from __future__ import annotations

import re
import sys
import time

MASK = "***REDACTED***"
_URL = re.compile(r"://[^/\s:@\"']*:(?P<v>[^@\s\"'/]+)@")
_TOKEN = re.compile(r"(?<![\w.-])token=(?P<v>[^\s\"',;&<>{}\[\]]+)")


def _lines(text: str, trigger: str, regex: re.Pattern[str], found: set[str]) -> str:
    def sub(m: re.Match[str]) -> str:
        found.add(m.group("v"))
        return m.group(0)[: m.start("v") - m.start()] + MASK + m.group(0)[m.end("v") - m.start() :]

    out: list[str] = []
    last = 0
    at = text.find(trigger)
    while at >= 0:
        start = text.rfind("\n", 0, at) + 1
        end = text.find("\n", at)
        end = len(text) if end < 0 else end
        out.append(text[last:start])
        out.append(regex.sub(sub, text[start:end]))
        last = end
        at = text.find(trigger, end)
    out.append(text[last:])
    return "".join(out)


def first(data: bytes, found: set[str]) -> bytes:
    """Mask the URL passwords and tokens of one file; add the values to ``found``."""
    text = data.decode("utf-8", "surrogateescape")
    text = _lines(text, "://", _URL, found)
    text = _lines(text, "token", _TOKEN, found)
    return text.encode("utf-8", "surrogateescape")


def second(data: bytes, found: set[str]) -> bytes:
    """Mask every value any file's first pass found, wherever it is (longest first). Values
    that start alike (``tok_...``) are looked for with one scan for their start."""
    starts: dict[bytes, list[bytes]] = {}
    for value in found:
        starts.setdefault(value.encode()[:4], []).append(value.encode())
    present: list[str] = []
    for start, values in starts.items():
        places = []
        at = data.find(start)
        while at >= 0:
            places.append(at)
            at = data.find(start, at + 1)
        present += [v.decode() for v in values if any(data.startswith(v, p) for p in places)]
    if not present:
        return data
    text = data.decode("utf-8", "surrogateescape")
    for value in sorted(present, key=len, reverse=True):
        text = text.replace(value, MASK)
    return text.encode("utf-8", "surrogateescape")


def redact(files: dict[str, bytes]) -> dict[str, bytes]:
    """Both passes over every file, as the bundle runs them."""
    found: set[str] = set()
    done = {rel: first(data, found) for rel, data in files.items()}
    return {rel: second(data, found) for rel, data in done.items()}


if __name__ == "__main__":
    files = {}
    for path in sys.argv[1:]:
        with open(path, "rb") as f:
            files[path] = f.read()
    start = time.thread_time()
    redact(files)
    spent = time.thread_time() - start
    size = sum(map(len, files.values()))
    print(f"{size / 1e6:.0f} MB in {spent:.2f} s of CPU ({size / 1e6 / spent:.0f} MB/s)")
