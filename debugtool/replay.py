"""Reading session recordings back: find one, replay it safely, turn it into a transcript.

A recording holds what a container printed, and the container may be hostile. Replayed to the
operator's terminal it passes through ``SafeTerminal``, which lets through only what draws
text: printable characters, CR, LF, BS and TAB, and CSI sequences that move the cursor, erase
or insert, scroll, or set colours and attributes (SGR), with plain numeric parameters. Every
other control sequence is dropped, its payload with it: OSC (window title, clipboard writes
with OSC 52, hyperlinks, palette changes), DCS, APC, PM and SOS strings, mode changes (CSI h/l,
private ``?`` sequences: alternate screen, mouse reporting, bracketed paste), requests the
terminal would answer into the operator's input (device status, device attributes, window
reports), scroll regions, character set switches, resets, and C1 controls. The count of what
was dropped is reported after the replay.

``audit show`` uses ``transcript`` instead: the text itself, with every control character
made visible by ``output.printable`` (CR LF read as a line end) and secrets masked.
"""

from __future__ import annotations

import os
import re
import stat

from debugtool import recording
from debugtool.errors import DebugtoolError, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any, BinaryIO

    from debugtool.audit import Record

#: Past this a line of a recording is not read (debugtool writes none longer than ~400 KiB:
#: 64 KiB of output, each byte at most six when escaped).
LINE_LIMIT = 4 << 20


class RecordingNotFound(DebugtoolError):
    """No session, or no recording, answers to what the user typed."""


class BadRecording(DebugtoolError):
    """The recording is not an asciicast v2 file debugtool can read."""


def find(ident: str, records: list[Record]) -> Record:
    """Return the one session (its end record, or its start) whose id is ``ident`` or starts so.

    Raises ``UsageError`` for an empty or ambiguous id, ``RecordingNotFound`` for none.
    """
    ident = ident.strip().lower()
    if not ident:
        raise UsageError("no session id given.", "List the sessions with 'debugtool audit --json'.")
    from debugtool import audit

    sessions = [r for r in audit.sessions(records) if r.session.startswith(ident)]
    exact = [r for r in sessions if r.session == ident]
    if exact:
        return exact[0]
    if not sessions:
        raise RecordingNotFound(
            f"no session '{ident}' in the audit log.",
            "List the sessions with 'debugtool audit --json' (the 'session' field).",
        )
    if len(sessions) > 1:
        names = ", ".join(r.session for r in sessions[:5])
        raise UsageError(
            f"'{ident}' matches {len(sessions)} sessions: {names}.", "Type more of the id."
        )
    return sessions[0]


def path_of(entry: Record, log_path: str | None = None) -> str:
    """Return the recording's path for a session. Raises ``RecordingNotFound``.

    The end record names it; a session still running (or whose debugtool was killed) has
    only its start record, and its recording is looked for where it would be.
    """
    from debugtool import audit

    relative = entry.recording or recording.relative_path(entry.session)
    parts = relative.split("/")
    if len(parts) != 2 or parts[0] != recording.DIRECTORY or parts[1] in ("", ".", ".."):
        raise BadRecording(f"the audit record names an unexpected recording path '{relative}'.")
    base = os.path.dirname(log_path or audit.log_path()) or "."
    full = os.path.join(base, *parts)
    if not entry.recording and not os.path.lexists(full):
        what = f"{entry.action} of {' '.join(entry.argv)}" if entry.argv else entry.action
        reason = entry.details.get("recording_error") if isinstance(entry.details, dict) else ""
        raise RecordingNotFound(
            f"session {entry.session} ({what}) has no recording"
            + (f": {reason.rstrip('.')}." if reason else "."),
            "Only sessions with a terminal (exec -t, shell, console, the TUI's e) are recorded.",
        )
    return full


def open_recording(path: str) -> BinaryIO:
    """Open a recording for reading: a regular file, never through a symlink, never a FIFO.

    Raises ``RecordingNotFound`` or ``BadRecording``.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise RecordingNotFound(
            f"the recording {path} is missing.", "Run 'debugtool audit verify' to check the log."
        ) from None
    except OSError as exc:
        raise BadRecording(f"cannot open the recording {path} ({exc.strerror or exc}).") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise BadRecording(f"the recording {path} is not a regular file.")
    os.set_blocking(fd, True)
    return open(fd, "rb")


def sha256_of(f: BinaryIO) -> str:
    """Return the SHA-256 (hex) of the whole file ``f``; it is left at its start."""
    import hashlib

    f.seek(0)
    digest = hashlib.sha256()
    for chunk in iter(lambda: f.read(1 << 20), b""):
        digest.update(chunk)
    f.seek(0)
    return digest.hexdigest()


def read(f: BinaryIO, where: str) -> tuple[dict[str, Any], Iterator[tuple[float, str, str]]]:
    """Return a recording's header and an iterator of its events ``(seconds, kind, text)``.

    Raises ``BadRecording`` when the first line is not an asciicast v2 header. A malformed
    event line (an edited file, a line cut by a full disk) is skipped: the events that parse
    are what there is to show, and ``audit verify`` is what judges the file.
    """
    from debugtool import jsonc

    first = f.readline(LINE_LIMIT)
    try:
        header = jsonc.loads(first)
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("version") != 2:
        raise BadRecording(f"{where} is not an asciicast v2 recording (its first line).")

    def events() -> Iterator[tuple[float, str, str]]:
        for line in f:
            if len(line) > LINE_LIMIT:
                continue
            try:
                event = jsonc.loads(line)
            except ValueError:
                continue
            if (
                isinstance(event, list)
                and len(event) == 3
                and isinstance(event[0], (int, float))
                and not isinstance(event[0], bool)
                and isinstance(event[1], str)
                and isinstance(event[2], str)
            ):
                yield float(event[0]), event[1], event[2]

    return header, events()


# -- the safe subset of a terminal's language ------------------------------------------------
#: CSI final bytes let through (numeric parameters only, no intermediates): cursor movement and
#: position (A-G, H, f, `, a, d, e, I, Z), erase and insert/delete (J, K, X, @, P, L, M),
#: scroll (S, T), SGR (m).
_CSI_ALLOWED = frozenset("ABCDEFGHIJKLMPSTXZ@`adefm")
#: Other escape sequences let through: save/restore cursor, index, reverse index, next line.
_ESC_ALLOWED = frozenset(("\x1b7", "\x1b8", "\x1bD", "\x1bM", "\x1bE"))
_PARAMS = re.compile(r"[0-9;:]{0,32}")
_TOKEN = re.compile(
    r"(?P<csi>\x1b\[(?P<params>[0-?]*)(?P<inter>[ -/]*)(?P<final>[@-~]))"
    r"|(?P<string>\x1b[\]P_^X])"  # OSC, DCS, APC, PM, SOS: dropped up to their terminator
    r"|(?P<esc>\x1b[ -/]*[0-~])"
    r"|(?P<ctl>[\x00-\x07\x0b\x0c\x0e-\x1f\x7f-\x9f])"  # not BS, TAB, LF, CR
)
#: What ends a string sequence, as a VT500 parser sees it: BEL (xterm), ST (ESC \ or C1), CAN
#: or SUB, or an ESC that starts the next sequence.
_STRING_END = re.compile(r"\x07|\x1b\\|\x9c|\x18|\x1a|(?=\x1b)")
#: An escape sequence cut off by the end of an event (kept for the next one).
_PARTIAL = re.compile(r"\x1b(?:\[[0-?]*[ -/]*|[ -/]*)\Z")


class SafeTerminal:
    """Filters text for a real terminal, keeping only the safe subset (see the module's doc).

    ``feed`` may be given a sequence cut in two: the beginning is held until the rest comes.
    ``dropped`` counts the sequences and controls left out.
    """

    def __init__(self) -> None:
        self.dropped = 0
        self._carry = ""
        self._in_string = False

    def feed(self, text: str) -> str:
        text = self._carry + text
        self._carry = ""
        pos = 0
        if self._in_string:
            end = _STRING_END.search(text)
            if end is None:
                return ""
            pos, self._in_string = end.end(), False
        partial = _PARTIAL.search(text, pos)
        if partial is not None and len(text) - partial.start() <= 64:
            self._carry = text[partial.start() :]
            text = text[: partial.start()]
        out: list[str] = []
        while True:
            m = _TOKEN.search(text, pos)
            if m is None:
                out.append(text[pos:])
                break
            out.append(text[pos : m.start()])
            pos = m.end()
            if m.group("csi") is not None:
                if (
                    m.group("final") in _CSI_ALLOWED
                    and not m.group("inter")
                    and _PARAMS.fullmatch(m.group("params"))
                ):
                    out.append(m.group())
                    continue
            elif m.group("string") is not None:
                end = _STRING_END.search(text, pos)
                self.dropped += 1
                if end is None:
                    self._in_string = True
                    break
                pos = end.end()
                continue
            elif m.group("esc") is not None and m.group() in _ESC_ALLOWED:
                out.append(m.group())
                continue
            self.dropped += 1
        return "".join(out)


def play(
    events: Iterator[tuple[float, str, str]],
    fd: int,
    speed: float = 1.0,
    idle_limit: float | None = None,
    fast: bool = False,
) -> tuple[int, list[tuple[float, str]]]:
    """Write the output events to ``fd`` through ``SafeTerminal``, at the recorded pace.

    ``speed`` divides every pause; ``idle_limit`` caps each one (seconds); ``fast`` makes none.
    Returns how many sequences were dropped and the markers met ``(seconds, text)``. Raises
    ``KeyboardInterrupt`` (Ctrl-C), after which the caller resets the terminal's attributes.
    """
    import time

    from debugtool.terminal import write_all

    screen = SafeTerminal()
    markers: list[tuple[float, str]] = []
    started = time.monotonic()
    skipped = 0.0  # seconds of the recording not waited for (idle_limit)
    last = 0.0
    for seconds, kind, text in events:
        if kind == "m":
            markers.append((seconds, text))
            continue
        if kind != "o":
            continue
        if not fast:
            pause = max(0.0, seconds - last)
            if idle_limit is not None and pause > idle_limit:
                skipped += pause - idle_limit
            due = started + (seconds - skipped) / speed
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        last = seconds
        shown = screen.feed(text)
        if shown:
            write_all(fd, shown.encode("utf-8", "replace"))
    return screen.dropped, markers


def transcript(
    events: Iterator[tuple[float, str, str]],
) -> tuple[str, str, list[tuple[float, str]]]:
    """Return the output text, the typed input text (``"i"`` events) and the markers."""
    output: list[str] = []
    typed: list[str] = []
    markers: list[tuple[float, str]] = []
    for seconds, kind, text in events:
        if kind == "o":
            output.append(text)
        elif kind == "i":
            typed.append(text)
        elif kind == "m":
            markers.append((seconds, text))
    return "".join(output), "".join(typed), markers


def masked(text: str, where: str) -> tuple[str, int]:
    """Return ``text`` with what the bundle redactor masks masked, and how many were masked."""
    from debugtool.bundle.redact import Redactor

    redactor = Redactor()
    text = redactor.known(redactor.text(text, where), where)
    return text, sum(item["count"] for item in redactor.report())


def visible(text: str) -> str:
    """Return a transcript as lines with every control character shown (CR LF is a line end)."""
    from debugtool.output import printable

    return printable(text.replace("\r\n", "\n"), multiline=True)
