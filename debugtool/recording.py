"""Session recordings: what an interactive session showed, as an asciicast v2 file.

Every interactive session (``exec -t``, ``shell``, ``console``, the TUI's ``e``, which runs
``shell``) is recorded beside the audit log, in ``recordings/SESSION.cast`` (SESSION is the
audit session id; the end record names the file, its SHA-256, its size and whether it was cut
short). The format is asciicast v2 (https://docs.asciinema.org/manual/asciicast/v2/): a header
line, then one ``[seconds, "o", text]`` line per chunk of output. Only output is recorded by
default: what is typed while the terminal does not echo (a password) never reaches the file.
``--record-input`` adds ``"i"`` events with every byte typed, passwords included.

The file is created ``O_EXCL | O_NOFOLLOW``, 0600, in a 0700 directory. It is capped per session
(``[audit] recording_limit`` in the system configuration, bytes, default 64 MiB): when the next
event would pass the cap, one ``"m"`` (marker) event says so and recording stops; the session
goes on. A recording that cannot be created or written costs one warning, never the session:
the audit log, not the recording, is what an exec cannot run without, and an operator fixing
an outage must not be locked out by a full disk (the end record then says why nothing was
recorded).

The write path is built for a ``cat`` of a large file through the session (bench/bench_record.py):
the relay hands over each chunk as it read it (up to 64 KiB); the chunk is decoded in one call
(an incremental UTF-8 decoder, so a character split between two reads stays whole) and escaped
in one call of ``json``'s C encoder, the fastest escaping measured (a chain of ``str.replace``
was 3x slower, ``str.translate`` 25x); lines are buffered and written, and hashed, 64 KiB or
0.1 s at a time. At most the output of the last 0.1 s before debugtool is killed with SIGKILL
is missing from the file.
"""

from __future__ import annotations

import os
import time
from json.encoder import encode_basestring_ascii as _quote  # type: ignore[attr-defined]

from debugtool.errors import DebugtoolError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DIRECTORY = "recordings"
SUFFIX = ".cast"
DEFAULT_LIMIT = 64 << 20
#: Below this a cap would not hold a header and a screenful: refused as a misconfiguration.
SMALLEST_LIMIT = 4096
FLUSH_SIZE = 64 << 10
FLUSH_AFTER = 0.1
#: Room kept under the cap for the marker event.
_MARKER_ROOM = 200


class RecordingUnavailable(DebugtoolError):
    """A session's recording cannot be created (the session runs unrecorded, with a warning)."""


def directory(log_path: str | None = None) -> str:
    """Return the recordings' directory: ``recordings`` beside the audit log."""
    from debugtool import audit

    return os.path.join(os.path.dirname(log_path or audit.log_path()) or ".", DIRECTORY)


def relative_path(session: str) -> str:
    """Return a session's recording path relative to the audit log's directory."""
    return f"{DIRECTORY}/{session}{SUFFIX}"


def limit() -> int:
    """Return the per-session cap in bytes (``[audit] recording_limit``, default 64 MiB).

    Raises ``ConfigError`` when the setting is not a whole number of bytes of at least 4096:
    an administrator's cap is never silently replaced by the default.
    """
    from debugtool import config

    value = config.section("audit").get("recording_limit", DEFAULT_LIMIT)
    if isinstance(value, bool) or not isinstance(value, int) or value < SMALLEST_LIMIT:
        raise config.ConfigError(
            config.path(), f"[audit] recording_limit must be a number of bytes >= {SMALLEST_LIMIT}"
        )
    return value


def open_directory(path: str) -> int:
    """Return an ``O_PATH`` descriptor of the recordings' directory, made 0700 if missing.

    Raises ``RecordingUnavailable`` when it is not a directory of this user's (a symlink
    planted there included): recordings are never written through another's directory.
    """
    try:
        os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
        fd = os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise RecordingUnavailable(
            f"cannot use the recordings directory {path} ({exc.strerror or exc})."
        ) from None
    st = os.fstat(fd)
    if st.st_uid != os.geteuid() or st.st_mode & 0o077:
        os.close(fd)
        raise RecordingUnavailable(
            f"the recordings directory {path} is not private to this user (owner uid "
            f"{st.st_uid}, mode {st.st_mode & 0o777:o}).",
            "Make it 0700 and owned by the user who runs debugtool.",
        )
    return fd


class Recorder:
    """Writes one session's recording; ``finish`` closes it and returns the audit fields.

    ``output`` and ``input`` take the bytes as the relay read them; ``text`` takes text that
    debugtool itself printed (the console); ``resize`` records a new window size. None of them
    ever raises: a failure stops the recording and is reported by ``finish``.
    """

    def __init__(
        self,
        fd: int,
        relative: str,
        cap: int,
        record_input: bool = False,
    ) -> None:
        import codecs
        import hashlib

        self.fd: int | None = fd
        self.relative = relative
        self.cap = cap
        self.record_input = record_input
        self.started = time.monotonic()
        self.size = 0  # bytes given to the file (written or pending)
        self.truncated = False
        self.failure = ""
        self.stopped = False
        self._pending: list[str] = []
        self._pending_size = 0
        self._flushed_at = self.started
        self._hash = hashlib.sha256()
        self._out = codecs.getincrementaldecoder("utf-8")("replace")
        self._in = codecs.getincrementaldecoder("utf-8")("replace")

    @classmethod
    def create(
        cls,
        session: str,
        size: tuple[int, int] | None,
        record_input: bool = False,
        title: str = "",
        log_path: str | None = None,
    ) -> Recorder:
        """Create ``recordings/SESSION.cast`` and write its header; return its recorder.

        ``size`` is the terminal's ``(rows, columns)``. Raises ``RecordingUnavailable`` (and
        ``ConfigError`` for a bad cap).
        """
        cap = limit()
        where = directory(log_path)
        dir_fd = open_directory(where)
        name = f"{session}{SUFFIX}"
        try:
            fd = os.open(
                name,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o600,
                dir_fd=dir_fd,
            )
            os.fchmod(fd, 0o600)
        except OSError as exc:
            raise RecordingUnavailable(
                f"cannot create the recording {os.path.join(where, name)} ({exc.strerror or exc})."
            ) from None
        finally:
            os.close(dir_fd)
        recorder = cls(fd, relative_path(session), cap, record_input)
        rows, cols = size or (24, 80)
        header: dict[str, Any] = {
            "version": 2,
            "width": cols,
            "height": rows,
            "timestamp": int(time.time()),
            "env": {"TERM": os.environ.get("TERM", "")},
            "title": title,
        }
        from debugtool import jsonc

        recorder._add(jsonc.dumps(header) + "\n")
        recorder.flush()
        return recorder

    # -- events -------------------------------------------------------------------------------
    def output(self, data: bytes) -> None:
        """Record ``data`` that the session printed."""
        if not self.stopped:
            self._event("o", self._out.decode(data))

    def input(self, data: bytes) -> None:
        """Record ``data`` that was typed (only with ``record_input``)."""
        if self.record_input and not self.stopped:
            self._event("i", self._in.decode(data))

    def text(self, text: str) -> None:
        """Record text that debugtool printed itself (newlines as the terminal shows them)."""
        if not self.stopped:
            self._event("o", text.replace("\n", "\r\n"))

    def resize(self, size: tuple[int, int] | None) -> None:
        """Record a new window size ``(rows, columns)``."""
        if size and not self.stopped:
            self._event("r", f"{size[1]}x{size[0]}")

    def _event(self, kind: str, text: str) -> None:
        if not text:
            return
        now = time.monotonic()
        line = f'[{now - self.started:.6f}, "{kind}", {_quote(text)}]\n'
        if self.size + len(line) > self.cap - _MARKER_ROOM:
            self._stop(now, f"the recording reached its limit of {self.cap} bytes")
            return
        self._add(line)
        if self._pending_size >= FLUSH_SIZE or now - self._flushed_at >= FLUSH_AFTER:
            self.flush(now)

    def _stop(self, now: float, why: str) -> None:
        """Write the marker that says why recording stopped, and record nothing more."""
        self.truncated = True
        note = f"debugtool: {why}; the rest of the session was not recorded"
        self._add(f'[{now - self.started:.6f}, "m", {_quote(note)}]\n')
        self.flush(now)
        self.stopped = True

    def _add(self, line: str) -> None:
        self._pending.append(line)
        self._pending_size += len(line)  # ASCII: characters are bytes
        self.size += len(line)

    # -- the file -----------------------------------------------------------------------------
    def flush(self, now: float | None = None) -> None:
        """Write what is pending (never raises; a failed write stops the recording)."""
        self._flushed_at = time.monotonic() if now is None else now
        if not self._pending or self.fd is None:
            return
        blob = "".join(self._pending).encode("ascii")
        self._pending.clear()
        self._pending_size = 0
        view = memoryview(blob)
        while view:
            try:
                n = os.write(self.fd, view)
            except InterruptedError:
                continue
            except OSError as exc:
                self._fail(f"writing it failed ({exc.strerror or exc})")
                return
            self._hash.update(view[:n])
            view = view[n:]

    def _fail(self, why: str) -> None:
        self.failure = why
        self.truncated = True
        self.stopped = True
        self.size = os.fstat(self.fd).st_size if self.fd is not None else self.size
        self._pending.clear()
        self._pending_size = 0

    def finish(self) -> dict[str, Any]:
        """Close the recording; return the end record's fields for it (see ``audit.Record``)."""
        if self.fd is None:
            return self.fields()
        if not self.stopped:
            tail = self._out.decode(b"", final=True)
            if tail:
                self._event("o", tail)
        self.flush()
        try:
            os.fsync(self.fd)
        except OSError as exc:
            if not self.failure:
                self._fail(f"it could not be synced to disk ({exc.strerror or exc})")
        os.close(self.fd)
        self.fd = None
        return self.fields()

    def fields(self) -> dict[str, Any]:
        """Return ``recording``, ``recording_sha256``, ``recording_bytes``, ``recording_truncated``."""
        return {
            "recording": self.relative,
            "recording_sha256": self._hash.hexdigest(),
            "recording_bytes": self.size,
            "recording_truncated": self.truncated,
        }


def attach(
    session: Any, size: tuple[int, int] | None, record_input: bool = False
) -> Recorder | None:
    """Start the recording of ``session`` (an ``audit.Session``) and attach it to the session.

    The session's end record then names the file and its SHA-256 (``audit.Session.end``
    finishes it). Returns the recorder, or None after one warning when no recording can be
    made: the session runs unrecorded, and its end record says why (``details``). Raises only
    ``ConfigError`` (a broken system configuration stops the command, as everywhere).
    """
    from debugtool.config import ConfigError

    entry = session.record
    title = f"debugtool {entry.action} in {entry.target_name}".rstrip()
    try:
        recorder = Recorder.create(entry.session, size, record_input, title)
    except ConfigError:
        raise
    except DebugtoolError as exc:
        from debugtool.output import warn

        warn(f"this session is not recorded: {exc.message.rstrip('.')}.")
        entry.details["recording_error"] = exc.message
        return None
    session.recorder = recorder
    return recorder
