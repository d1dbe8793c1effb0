"""Log lines and the formats runtimes write them in, decoded incrementally.

Each decoder takes bytes as they come (``feed``: a file read in chunks, a socket, a pipe) and
returns the whole lines in them; a line torn at the end of a chunk waits for the next one, and
a partial line (the runtime split a long one) is joined with its continuation from the same
stream. ``end`` returns what is still pending when there is nothing more to read.

The formats, with their fixtures in tests/fixtures/logs/:

- Docker's json-file: one JSON object a line, ``{"log": "text\\n", "stream": "stdout",
  "time": "RFC 3339"}``; a ``log`` without its final newline is a partial line (Docker cuts
  lines at 16 KiB).
- The CRI format (Kubernetes' /var/log/pods, podman's k8s-file): ``TIME STREAM TAG text``,
  tag ``P`` for a partial line, ``F`` for a full one.
- Docker's API log stream with ``timestamps=1``: ``TIME text`` lines, in 8-byte-headed frames
  per stream (stdcopy) when the container has no TTY, raw when it has one.
- journald's JSON export (``journalctl -o json``): ``MESSAGE`` (text, or an array of bytes when
  it is not UTF-8), ``__REALTIME_TIMESTAMP`` in microseconds, ``PRIORITY`` 3 for podman's
  stderr and 6 for its stdout, ``CONTAINER_PARTIAL_MESSAGE=true`` on a partial line.
- Raw output (containerd's ``file://`` log URI): the bytes as written, no time, no stream.
"""

from __future__ import annotations

import time

from debugtool import jsonc
from debugtool.record import record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


@record(slots=True)
class LogLine:
    """One line a container wrote.

    ``time`` is RFC 3339 in UTC with nanoseconds (``2026-11-26T15:17:48.007323013Z``), or ''
    when the runtime keeps no time; ``stream`` is ``stdout``, ``stderr`` or '' when unknown;
    ``line`` is the text without its newline, bytes that are not UTF-8 kept by
    ``surrogateescape`` (``output.printable`` shows them as ``\\xNN``).
    """

    time: str
    stream: str
    line: str


# --- RFC 3339 times --------------------------------------------------------------------------


def _days(year: int, month: int, day: int) -> int:
    """Return the days from 1970-01-01 to a date of the proleptic Gregorian calendar (Howard
    Hinnant's ``days_from_civil``): integer arithmetic, no ``datetime`` or ``calendar``."""
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


def parse_time(text: str) -> int | None:
    """Return an RFC 3339 time (``2026-11-26T15:17:48.007323013Z``, ``...+02:00``) as
    nanoseconds since the epoch, or None when ``text`` is not one."""
    if len(text) < 20 or not text.isascii():
        return None
    digits = text[0:4] + text[5:7] + text[8:10] + text[11:13] + text[14:16] + text[17:19]
    if not (
        digits.isdigit()
        and text[4] == text[7] == "-"
        and text[10] in "Tt "
        and text[13] == text[16] == ":"
    ):
        return None
    year, month, day = int(digits[0:4]), int(digits[4:6]), int(digits[6:8])
    hour, minute, second = int(digits[8:10]), int(digits[10:12]), int(digits[12:14])
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 61):
        return None
    rest = text[19:]
    nanos = 0
    if rest[:1] == ".":
        fraction = rest[1:]
        zone_at = len(fraction) - len(fraction.lstrip("0123456789"))
        if zone_at == 0:
            return None
        nanos = int(fraction[:zone_at][:9].ljust(9, "0"))
        rest = fraction[zone_at:]
    if rest in ("Z", "z"):
        offset = 0
    elif len(rest) == 6 and rest[0] in "+-" and rest[3] == ":" and (rest[1:3] + rest[4:]).isdigit():
        offset = (int(rest[1:3]) * 60 + int(rest[4:])) * 60 * (1 if rest[0] == "+" else -1)
    else:
        return None
    seconds = _days(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset
    return seconds * 1_000_000_000 + nanos


def format_time(ns: int) -> str:
    """Return nanoseconds since the epoch as RFC 3339 in UTC with nine decimals, as ``docker
    logs --timestamps`` writes them."""
    seconds, nanos = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{nanos:09d}Z"


def utc_time(text: str) -> str:
    """Return an RFC 3339 time as ``format_time`` writes it ('' when it is not a time).

    Docker writes its times in UTC with up to nine decimals, CRI and podman with ``+00:00`` or
    the host's offset: the output shows them all one way. A time already in that form (Docker's
    usual one) is returned as it is.
    """
    if len(text) == 30 and text[-1] == "Z" and text[19] == "." and text[20:29].isdigit():
        return text
    if 22 <= len(text) < 30 and text[-1] == "Z" and text[19] == "." and text[20:-1].isdigit():
        return text[:-1].ljust(29, "0") + "Z"  # Docker drops a fraction's trailing zeros
    ns = parse_time(text)
    return "" if ns is None else format_time(ns)


# --- decoders --------------------------------------------------------------------------------


class Decoder:
    """Bytes of a log in, whole ``LogLine``s out. Subclasses decode one record (``_record``)."""

    def __init__(self) -> None:
        self._torn = b""
        # stream -> (time of the first piece, pieces so far) of a partial line being joined
        self._pending: dict[str, tuple[str, list[str]]] = {}

    def feed(self, data: bytes) -> list[LogLine]:
        """Return the lines completed by ``data``; keep a torn last record for the next call."""
        if self._torn:
            data = self._torn + data
        cut = data.rfind(b"\n") + 1
        self._torn = data[cut:]
        out: list[LogLine] = []
        if cut:
            for raw in data[: cut - 1].split(b"\n"):
                self._record(raw, out)
        return out

    def end_of_file(self) -> list[LogLine]:
        """Return the record torn at the end of a file that will not grow any more (it was
        rotated): it is whole as it is. Partial lines stay pending (their end may be in the
        next file)."""
        torn, self._torn = self._torn, b""
        out: list[LogLine] = []
        if torn:
            self._record(torn, out)
        return out

    def end(self) -> list[LogLine]:
        """Return everything still pending: a torn record, and partial lines never finished."""
        out = self.end_of_file()
        for stream, (stamp, pieces) in self._pending.items():
            out.append(LogLine(stamp, stream, "".join(pieces)))
        self._pending.clear()
        return out

    def _piece(self, stamp: str, stream: str, text: str, full: bool, out: list[LogLine]) -> None:
        """Add one piece of a line: a whole line, or part of one joined with what came before
        on the same stream. A whole line loses the carriage return of a CRLF end."""
        if full and text.endswith("\r"):
            text = text[:-1]
        pending = self._pending.get(stream)
        if pending is not None:
            pending[1].append(text)
            if full:
                del self._pending[stream]
                out.append(LogLine(pending[0], stream, "".join(pending[1])))
        elif full:
            out.append(LogLine(stamp, stream, text))
        else:
            self._pending[stream] = (stamp, [text])

    def _record(self, raw: bytes, out: list[LogLine]) -> None:
        raise NotImplementedError


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _strip_cr(text: str) -> str:
    """Drop the carriage return of a CRLF line end (a TTY's output), and only that one."""
    return text[:-1] if text.endswith("\r") else text


class RawDecoder(Decoder):
    """Output as the container wrote it (containerd's ``file://`` log URI): no time, no stream."""

    def _record(self, raw: bytes, out: list[LogLine]) -> None:
        out.append(LogLine("", "", _strip_cr(_text(raw))))


class JsonFileDecoder(Decoder):
    """Docker's json-file log (``/var/lib/docker/containers/ID/ID-json.log``).

    The whole lines of a chunk are decoded in one call, as one JSON array (a JSON string
    holds no raw newline, so each newline separates two records): the C decoder then does per
    line what a Python loop over ``loads`` did at four times the cost. A chunk where that
    fails (a torn write, a line that is not Docker's, a file edited by hand) is decoded line
    by line, and a line that is not one of Docker's records is shown as it is, with no time
    or stream, rather than dropped.
    """

    def feed(self, data: bytes) -> list[LogLine]:
        if self._torn:
            data = self._torn + data
        cut = data.rfind(b"\n") + 1
        self._torn = data[cut:]
        if not cut:
            return []
        body = data[: cut - 1]
        try:
            entries = jsonc.loads(b"[" + body.replace(b"\n", b",") + b"]")
        except (ValueError, RecursionError):
            entries = None
        out: list[LogLine] = []
        if entries is not None:
            pending = self._pending
            saved = {k: (v[0], list(v[1])) for k, v in pending.items()}
            piece, append = self._piece, out.append
            for entry in entries:
                try:
                    text, stream, stamp = entry["log"], entry["stream"], entry["time"]
                except (KeyError, TypeError):
                    break
                if not (type(text) is str and type(stream) is str and type(stamp) is str):
                    break
                if len(stamp) != 30 or stamp[-1] != "Z":
                    stamp = utc_time(stamp)
                if text[-1:] != "\n":
                    piece(stamp, stream, text, False, out)
                elif pending:
                    piece(stamp, stream, text[:-1], True, out)
                else:  # the common line, whole and alone: no call but the record's
                    text = text[:-1]
                    append(LogLine(stamp, stream, text[:-1] if text[-1:] == "\r" else text))
            else:
                return out
            # A record of another shape: this chunk again, one line at a time.
            self._pending = saved
            out.clear()
        for raw in body.split(b"\n"):
            self._record(raw, out)
        return out

    def _record(self, raw: bytes, out: list[LogLine]) -> None:
        if not raw:
            return
        try:
            entry = jsonc.loads(raw)
            text = entry["log"]
            stream = entry.get("stream", "")
            stamp = entry.get("time", "")
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            out.append(LogLine("", "", _strip_cr(_text(raw))))
            return
        if not isinstance(text, str) or not isinstance(stream, str) or not isinstance(stamp, str):
            out.append(LogLine("", "", _strip_cr(_text(raw))))
            return
        full = text.endswith("\n")
        if full:
            text = text[:-1]
        self._piece(utc_time(stamp), stream, text, full, out)


class CriDecoder(Decoder):
    """The CRI log format (``TIME STREAM P|F text``): Kubernetes' and podman's k8s-file."""

    def _record(self, raw: bytes, out: list[LogLine]) -> None:
        parts = raw.split(b" ", 3)
        if len(parts) < 3 or parts[2] not in (b"F", b"P") or parts[1] not in (b"stdout", b"stderr"):
            if raw:
                out.append(LogLine("", "", _strip_cr(_text(raw))))
            return
        stamp = utc_time(parts[0].decode("ascii", "replace"))
        text = _text(parts[3]) if len(parts) > 3 else ""
        self._piece(stamp, parts[1].decode(), text, parts[2] == b"F", out)


#: stdcopy's stream numbers (moby/pkg/stdcopy): 3 is an error the daemon sends mid-stream.
_STREAMS = {0: "stdin", 1: "stdout", 2: "stderr"}


class DockerStreamError(Exception):
    """The daemon wrote an error into the log stream (stdcopy's system-error stream)."""


class DockerStreamDecoder:
    """Docker's API log stream asked with ``timestamps=1``: ``TIME text`` lines, multiplexed
    in stdcopy frames (an 8-byte header: stream, three zero bytes, big-endian length) when the
    container has no TTY, raw when it has one.

    Which of the two it is shows in the first bytes: a frame header starts with a stream
    number and three zero bytes, a raw stream with timestamps with a digit. A frame holds one
    message; one that does not end its line is a partial line, and the next frame of that
    stream starts with a time of its own, which is dropped as the pieces are joined.
    """

    def __init__(self) -> None:
        self.multiplexed: bool | None = None
        self._buffer = bytearray()  # frame bytes not yet whole
        self._lines: dict[str, bytes] = {}  # stream -> text of a line not yet ended
        self._partial: set[str] = set()  # streams whose last frame did not end its line

    def feed(self, data: bytes) -> list[LogLine]:
        """Return the lines completed by ``data`` (a chunk of the HTTP body, any size).

        Raises ``DockerStreamError`` when the daemon wrote an error into the stream.
        """
        self._buffer += data
        if self.multiplexed is None:
            if len(self._buffer) < 4:
                return []
            self.multiplexed = self._buffer[0] in (0, 1, 2, 3) and self._buffer[1:4] == b"\0\0\0"
        out: list[LogLine] = []
        if not self.multiplexed:
            self._add("", bytes(self._buffer), out)
            self._buffer.clear()
            return out
        buffer = self._buffer
        at = 0
        size_of = int.from_bytes
        lines = self._lines
        partial = self._partial
        while len(buffer) - at >= 8:
            size = size_of(buffer[at + 4 : at + 8], "big")
            if len(buffer) - at - 8 < size:
                break
            kind = buffer[at]
            payload = bytes(buffer[at + 8 : at + 8 + size])
            at += 8 + size
            if kind == 3:
                raise DockerStreamError(_text(payload).strip())
            stream = _STREAMS.get(kind, "stdout")
            # The common frame: one whole line, nothing pending on its stream.
            if (
                not partial
                and not lines.get(stream)
                and payload[-1:] == b"\n"
                and payload.count(b"\n") == 1
            ):
                space = payload.find(b" ")
                stamp = payload[:space].decode("ascii", "replace") if space > 0 else ""
                if len(stamp) == 30 and stamp[-1] == "Z" and stamp[19] == ".":
                    text = payload[space + 1 : -1].decode("utf-8", "surrogateescape")
                    if text[-1:] == "\r":
                        text = text[:-1]
                    out.append(LogLine(stamp, stream, text))
                    continue
            if stream in partial:
                # The continuation of a partial line starts with its own time: drop it.
                head, sep, tail = payload.partition(b" ")
                if sep and parse_time(head.decode("ascii", "replace")) is not None:
                    payload = tail
            if payload.endswith(b"\n"):
                partial.discard(stream)
            else:
                partial.add(stream)
            self._add(stream, payload, out)
        del buffer[:at]
        return out

    def _add(self, stream: str, data: bytes, out: list[LogLine]) -> None:
        pending = self._lines.get(stream, b"") + data
        cut = pending.rfind(b"\n") + 1
        self._lines[stream] = pending[cut:]
        if cut:
            for raw in pending[: cut - 1].split(b"\n"):
                out.append(_stamped(stream, raw))

    def end(self) -> list[LogLine]:
        """Return lines the stream ended without finishing."""
        out = [_stamped(stream, raw) for stream, raw in self._lines.items() if raw]
        self._lines.clear()
        return out


def _stamped(stream: str, raw: bytes) -> LogLine:
    """Return a ``TIME text`` line of Docker's stream as a LogLine."""
    head, sep, text = raw.partition(b" ")
    stamp = utc_time(head.decode("ascii", "replace")) if sep else ""
    if not stamp:
        return LogLine("", stream, _strip_cr(_text(raw)))
    return LogLine(stamp, stream, _strip_cr(_text(text)))


class JournalDecoder(Decoder):
    """journald's JSON export of a container's entries (``journalctl -o json``), as podman's
    journald log driver writes them (conmon: PRIORITY 6 for stdout, 3 for stderr)."""

    def _record(self, raw: bytes, out: list[LogLine]) -> None:
        try:
            entry: Any = jsonc.loads(raw)
        except (ValueError, RecursionError):
            return
        if not isinstance(entry, dict):
            return
        message = entry.get("MESSAGE")
        if isinstance(message, list):  # not UTF-8: journald exports the bytes as numbers
            try:
                text = _text(bytes(message))
            except (TypeError, ValueError):
                return
        elif isinstance(message, str):
            text = message
        else:
            return
        stamp = ""
        micros = entry.get("__REALTIME_TIMESTAMP")
        if isinstance(micros, str) and micros.isdigit():
            stamp = format_time(int(micros) * 1000)
        stream = "stderr" if str(entry.get("PRIORITY", "")) == "3" else "stdout"
        full = str(entry.get("CONTAINER_PARTIAL_MESSAGE", "")).lower() != "true"
        # A multi-line MESSAGE (a writer that did not split its lines) is several lines.
        pieces = text.removesuffix("\n").split("\n")
        for piece in pieces[:-1]:
            self._piece(stamp, stream, piece, True, out)
        self._piece(stamp, stream, pieces[-1], full, out)


def parse_bundle_line(text: str) -> LogLine:
    """Return one line of a bundle's ``logs.txt`` as a LogLine.

    The bundle writes ``TIME STREAM text`` (from a log file), ``TIME text`` (from Docker's
    API) or the text alone (a runtime that keeps no time); its redaction has already run.
    """
    head, sep, rest = text.partition(" ")
    stamp = utc_time(head) if sep else ""
    if not stamp:
        return LogLine("", "", text)
    stream, sep, tail = rest.partition(" ")
    if stream in ("stdout", "stderr"):
        return LogLine(stamp, stream, tail)
    return LogLine(stamp, "", rest)
