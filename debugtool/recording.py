"""Session recordings: what an interactive session showed, as an asciicast v2 file.

Every interactive session (``exec -t``, ``shell``, ``console``, the TUI's ``e``, which runs
``shell``) is recorded beside the audit log, in ``recordings/SESSION.cast`` (SESSION is the
audit session id; the end record names the file, its SHA-256, its size and whether it was cut
short). The format is asciicast v2 (https://docs.asciinema.org/manual/asciicast/v2/): a header
line, then one ``[seconds, "o", text]`` line per chunk of output. Only output is recorded by
default: what is typed while the terminal does not echo (a password) never reaches the file.
``--record-input`` adds ``"i"`` events with every byte typed, passwords included. Output that
comes within ``JOIN_WINDOW`` (10 ms) of an event's first bytes joins that event, up to 64 KiB
(Docker's stream hands over a few hundred bytes a read in a burst).

The file is created ``O_EXCL | O_NOFOLLOW``, 0600, in a 0700 directory. It is capped per session
(``[audit] recording_limit`` in the system configuration, bytes, default 64 MiB): when the next
event would pass the cap, as much of it as fits goes in, one ``"m"`` (marker) event says so
and recording stops; the session goes on. A recording that cannot be created or written costs
one warning, never the session: the audit log, not the recording, is what an exec cannot run
without, and an operator fixing an outage must not be locked out by a full disk (the end
record then says why nothing was recorded).

The write path is built for a ``cat`` of a large file through the session (bench/bench_record.py).
Turning output into asciicast lines costs about 10 ns a byte (UTF-8 decoding, JSON escaping by
``json``'s C encoder, the fastest way measured: a chain of ``str.replace`` was 2-3x slower,
``str.translate`` 25x; SHA-256; the write): 0.5 s of CPU per 50 MB. Done in the relay's own
loop it slowed the relay by a third to a half; done beside it, in a process of its own at
nice 19, it still cost the ns relay 1.27-1.41x its unrecorded time on this 2-core machine,
where the relay, the ``cat`` and the kernel's pty work already take both cores. So the work is
split three ways. The relay only frames what it read (time, kind, length, bytes, appended to
a buffer: no per-byte work in Python; the ns relay reads the pty until it is empty, so one
frame holds 4-7 of its 4 KiB reads; Docker's relay gets a few hundred bytes a read, which join
the frame before them) and hands the buffer, 1 MiB or 0.1 s at a time, to a
writer process of its own (``python -I -S``, started with the session, in its own session so
no terminal signal reaches it) over a pipe. The writer only spools those frames
(``splice`` moves them from the pipe into a memfd inside the kernel) while they keep coming;
when none has come for ``SPOOL_IDLE`` (0.05 s: the session is quiet), it lowers itself to
nice 19 and escapes, caps, writes and hashes what it spooled, a slice at a time, going back
to spooling the moment the relay sends more. A spool that reaches the recording's cap is
escaped whole at once, so the memfd never holds more than the cap and one read from the
pipe. When the pipe closes it finishes the spool at its usual priority, syncs the file and sends back its SHA-256, size and whether it was cut
short: the file is the same, byte for byte, as if each frame had been escaped as it came. The
cost: after a burst the session's ``exit`` waits for the escaping still to do (0.5-1 s after
a 50 MB ``cat`` with no pause before ``exit``; nothing after an ordinary session, whose pauses
have done it). A debugtool killed with SIGKILL closes the pipe too: the writer still finishes
the file with all it was given (the relays hand over what is buffered when the session has been
quiet for 0.1 s: at most the output of the last 0.1 s can be missing, and a frame cut short is
dropped whole). Meanwhile the relay keeps what the writer has not taken yet, up to 64 MiB (the
default cap of a whole recording); a writer further behind slows the relay to its pace, and
one that takes nothing for 5 s (a hung disk) ends the recording, with a marker, not the
session.
"""

from __future__ import annotations

import os
import time

from debugtool.errors import DebugtoolError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections import deque
    from typing import Any

DIRECTORY = "recordings"
SUFFIX = ".cast"
DEFAULT_LIMIT = 64 << 20
#: Below this a cap would not hold a header and a screenful: refused as a misconfiguration.
SMALLEST_LIMIT = 4096
FLUSH_SIZE = 64 << 10
#: How much the relay gathers before it hands its frames to the writer (or FLUSH_AFTER): each
#: hand-over wakes the writer, and at 64 KiB a 50 MB burst woke it 800 times (a third of its
#: CPU during the burst, on the core the session needs).
HAND_OVER = 1 << 20
#: The most one event holds (the relays read 64 KiB at a time; the console writes more at once).
FRAME_LIMIT = 64 << 10
FLUSH_AFTER = 0.1
#: Output that comes within this long of a frame's first bytes joins that frame (up to
#: FRAME_LIMIT): Docker's hijacked stream hands the relay a few hundred bytes a read, and a
#: frame each would cost the relay a third more CPU in a burst. A replay shows the joined
#: bytes at most this much early.
JOIN_WINDOW = 0.01
_JOINABLE = (111, 105)  # "o", "i": what the terminal showed and what was typed
#: How long the relay must send nothing before the writer escapes what it spooled.
SPOOL_IDLE = 0.05
_IDLE_MS = int(SPOOL_IDLE * 1000)
#: How much of the spool the writer converts between looks at the pipe.
CONVERT_SLICE = 256 << 10
#: At most part of one frame: what the spool moves to its start when the rest is escaped.
_SMALL_REST = FRAME_LIMIT + 13
#: How far the writer may fall behind the relay before the recording is given up.
BACKLOG_LIMIT = 64 << 20
#: How long a writer that is behind may take nothing before it is given up (a hung disk).
WRITER_STALL = 5.0
#: Room kept under the cap for the marker event.
_MARKER_ROOM = 200
#: How long ``finish`` waits for the writer to finish the file before giving up on it.
WRITER_PATIENCE = 30.0
#: A frame's head: seconds since the start (float64), kind (one byte), length (uint32).
_HEAD_SIZE = 13
_KINDS = {b"o"[0]: "o", b"i"[0]: "i", b"r"[0]: "r", b"m"[0]: "m"}


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
    """One session's recording, debugtool's side: frames what the relay saw for the writer.

    ``output`` and ``input`` take the bytes as the relay read them; ``text`` takes text that
    debugtool itself printed (the console); ``resize`` records a new window size. None of them
    ever raises: a writer that went away stops the recording, and ``finish`` reports it.
    ``finish`` closes the pipe, waits for the writer and returns the audit fields.
    """

    def __init__(self, pipe: int, result: int, writer: int, relative: str, cap: int,
                 record_input: bool = False) -> None:  # fmt: skip
        import struct
        from collections import deque

        self.pipe: int | None = pipe
        self.result = result
        self.writer = writer
        self.relative = relative
        self.cap = cap
        self.record_input = record_input
        self.started = time.monotonic()
        self.stopped = False
        self.failure = ""
        self._fields: dict[str, Any] = {}
        self._buffer = bytearray()
        self._sent_at = self.started
        self._head = struct.Struct("<dBI").pack
        self._lost = False  # the writer fell behind: the rest is not recorded
        #: The sizes of the frames in the buffer, the first one's less what was already sent:
        #: a frame half through the pipe is finished before anything else goes.
        self._sizes: deque[int] = deque()
        self._partial = False
        #: The buffer's size at which the next hand-over is tried: a full pipe is not tried
        #: again for every 4 KiB read (a failed write is a system call and an exception).
        self._flush_at = HAND_OVER
        #: The frame at the buffer's end that output may still join (JOIN_WINDOW): its kind
        #: (0: none), where its head is, its size when made and now, and until when it joins.
        self._join = 0
        self._join_at = 0
        self._join_first = self._join_size = 0
        self._join_until = 0.0
        self._length = struct.Struct("<I").pack_into
        os.set_blocking(pipe, False)

    @classmethod
    def create(
        cls,
        session: str,
        size: tuple[int, int] | None,
        record_input: bool = False,
        title: str = "",
        log_path: str | None = None,
    ) -> Recorder:
        """Create ``recordings/SESSION.cast`` and start its writer; return the recorder.

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
        rows, cols = size or (24, 80)
        header: dict[str, Any] = {
            "version": 2,
            "width": cols,
            "height": rows,
            "timestamp": int(time.time()),
            "env": {"TERM": os.environ.get("TERM", "")},
            "title": title,
        }
        try:
            pipe, result, writer = _start_writer(fd, header, cap)
        except OSError as exc:
            raise RecordingUnavailable(
                f"cannot start the recording's writer ({exc.strerror or exc})."
            ) from None
        finally:
            os.close(fd)
        return cls(pipe, result, writer, relative_path(session), cap, record_input)

    # -- events -------------------------------------------------------------------------------
    def output(self, data: bytes) -> None:
        """Record ``data`` that the session printed."""
        # _frame's joining, inline: in a burst through Docker's stream this runs per few
        # hundred bytes, and a call less is a fifth of its cost.
        now = time.monotonic()
        size = len(data)
        if self._join == 111 and now < self._join_until and self._join_size + size <= FRAME_LIMIT:
            self._buffer += data
            self._join_size += size
            if len(self._buffer) >= self._flush_at or now - self._sent_at >= FLUSH_AFTER:
                self.flush(now)
        elif not self.stopped:
            self._frame(111, data, now)  # "o"

    def input(self, data: bytes) -> None:
        """Record ``data`` that was typed (only with ``record_input``)."""
        if self.record_input and not self.stopped:
            self._frame(105, data)  # "i"

    def text(self, text: str) -> None:
        """Record text that debugtool printed itself (newlines as the terminal shows them)."""
        if not self.stopped:
            self._frame(111, text.replace("\n", "\r\n").encode("utf-8", "replace"))

    def resize(self, size: tuple[int, int] | None) -> None:
        """Record a new window size ``(rows, columns)``."""
        if size and not self.stopped:
            self._frame(114, f"{size[1]}x{size[0]}".encode())  # "r"

    def _frame(self, kind: int, data: bytes, now: float = 0.0) -> None:
        if len(data) > FRAME_LIMIT:  # one event line stays small enough to read back
            for at in range(0, len(data), FRAME_LIMIT):
                self._frame(kind, data[at : at + FRAME_LIMIT])
            return
        now = now or time.monotonic()
        size = len(data)
        if kind == self._join and now < self._join_until and self._join_size + size <= FRAME_LIMIT:
            self._buffer += data  # joins the frame at the end; its head is set when it closes
            self._join_size += size
        else:
            self._close_join()
            if kind in _JOINABLE:
                self._join, self._join_at, self._join_until = (
                    kind,
                    len(self._buffer),
                    now + JOIN_WINDOW,
                )
                self._join_first = self._join_size = size
            self._buffer += self._head(now - self.started, kind, size)
            self._buffer += data
            self._sizes.append(_HEAD_SIZE + size)
        if len(self._buffer) >= self._flush_at or now - self._sent_at >= FLUSH_AFTER:
            self.flush(now)

    def _close_join(self) -> None:
        """Close the frame output was joining: its head and its size take what it grew by."""
        if self._join:
            self._join = 0
            grown = self._join_size - self._join_first
            if grown:
                self._length(self._buffer, self._join_at + 9, self._join_size)
                self._sizes[-1] += grown

    def idle_wait(self) -> int | None:
        """Return how long (ms) the relay may wait idle before calling ``flush``; None: forever.

        What a session printed last reaches the writer 0.1 s after it went quiet, so a
        debugtool killed later still leaves it in the file.
        """
        return int(FLUSH_AFTER * 1000) if self._buffer else None

    def flush(self, now: float | None = None) -> None:
        """Hand what is buffered to the writer, as much as its pipe takes now.

        A writer more than ``BACKLOG_LIMIT`` behind is waited for; one that takes nothing for
        ``WRITER_STALL`` seconds (a hung disk) ends the recording rather than the session.
        """
        self._sent_at = time.monotonic() if now is None else now
        self._close_join()  # nothing of a frame is sent before its head is final
        if not self._buffer or self.pipe is None:
            return
        try:
            while self._buffer:
                try:
                    self._sent(os.write(self.pipe, self._buffer))
                except InterruptedError:
                    continue
            self._flush_at = HAND_OVER
        except BlockingIOError:  # the pipe is full: the rest goes 1 MiB later (or quiet)
            if len(self._buffer) > BACKLOG_LIMIT and not self._catch_up():
                # Given up: all but the rest of a frame the writer has begun to read.
                keep = self._sizes[0] if self._partial else 0
                del self._buffer[keep:]
                self._sizes.clear()
                if keep:
                    self._sizes.append(keep)
                self.stopped = True
                self.failure = (
                    f"its writer took nothing for {WRITER_STALL:g} s (a hung disk?), so the "
                    "rest of the session was not recorded"
                )
                self._lost = True
            self._flush_at = len(self._buffer) + HAND_OVER
        except OSError as exc:  # the writer is gone (EPIPE): nothing more can be recorded
            self._buffer.clear()
            self._sizes.clear()
            self.failure = f"its writer stopped ({exc.strerror or exc})"
            self.stopped = True

    def _catch_up(self, down_to: int | None = None) -> bool:
        """Wait for a writer that is behind (slowing the session to its pace) until no more
        than ``down_to`` bytes wait; False when it takes nothing for ``WRITER_STALL`` seconds
        (hung): then it is given up."""
        import select

        assert self.pipe is not None
        if down_to is None:
            down_to = BACKLOG_LIMIT // 2
        poller = select.poll()
        poller.register(self.pipe, select.POLLOUT)
        while len(self._buffer) > down_to:
            if not poller.poll(int(WRITER_STALL * 1000)):
                return False
            try:
                self._sent(os.write(self.pipe, self._buffer))
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                return False
        return True

    def _sent(self, n: int) -> None:
        """Drop the ``n`` bytes the pipe took from the buffer, keeping count of frames."""
        del self._buffer[:n]
        sizes = self._sizes
        while n and sizes:
            if n >= sizes[0]:
                n -= sizes.popleft()
                self._partial = False
            else:
                sizes[0] -= n
                n, self._partial = 0, True

    # -- the end ------------------------------------------------------------------------------
    def finish(self) -> dict[str, Any]:
        """Close the recording; return the end record's fields for it (see ``audit.Record``)."""
        if self.pipe is None:
            return self._fields
        self._close_join()
        if self._lost:  # the writer marks where the recording stops
            note = self.failure.encode()
            self._buffer += self._head(time.monotonic() - self.started, 109, len(note)) + note
            self._sizes.append(_HEAD_SIZE + len(note))
        self.flush()
        if self._buffer and not self._catch_up(0):
            self.failure = self.failure or (
                f"its writer took nothing for {WRITER_STALL:g} s (a hung disk?)"
            )
        os.close(self.pipe)
        self.pipe = None
        self.stopped = True
        from debugtool import jsonc

        answer = _read_answer(self.result, WRITER_PATIENCE)
        os.close(self.result)
        try:
            if answer is None:  # hung (a disk that does not answer): left to finish on its own
                os.kill(self.writer, 9)
                os.waitpid(self.writer, os.WNOHANG)
            else:
                os.waitpid(self.writer, 0)
        except OSError:
            pass
        try:
            report = jsonc.loads(answer) if answer else {}
        except ValueError:
            report = {}
        if not isinstance(report, dict) or "sha256" not in report:
            self.failure = self.failure or "its writer did not finish it"
            report = {"sha256": "", "bytes": 0, "truncated": True}
        self.failure = self.failure or str(report.get("failure") or "")
        self._fields = {
            "recording": self.relative,
            "recording_sha256": str(report["sha256"]),
            "recording_bytes": int(report.get("bytes") or 0),
            "recording_truncated": bool(report.get("truncated")) or bool(self.failure),
        }
        return self._fields


def _start_writer(fd: int, header: dict[str, Any], cap: int) -> tuple[int, int, int]:
    """Start the writer process on the file ``fd``; return (its pipe, its answer, its PID).

    ``python -I -S`` (no environment, no site), stdio on /dev/null, in a session of its own:
    nothing of the operator's terminal reaches it, and no signal meant for the session.
    """
    import sys

    from debugtool import jsonc

    data_r, data_w = os.pipe2(os.O_CLOEXEC)
    answer_r, answer_w = os.pipe2(os.O_CLOEXEC)
    try:
        import fcntl

        fcntl.fcntl(data_w, 1031, 1 << 20)  # F_SETPIPE_SZ: 1 MiB, room for the writer's pauses
    except OSError:
        pass
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    settings = jsonc.dumps({"header": header, "cap": cap})
    code = (
        f"import sys; sys.path.insert(0, {package_parent!r}); "
        f"from debugtool.recording import write_events; write_events({fd}, {data_r}, "
        f"{answer_w}, sys.argv[1])"
    )
    null = os.devnull
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, null, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, null, os.O_WRONLY, 0),
        (os.POSIX_SPAWN_OPEN, 2, null, os.O_WRONLY, 0),
    ]
    passed = (fd, data_r, answer_w)
    try:
        for each in passed:
            os.set_inheritable(each, True)
        pid = os.posix_spawn(
            sys.executable,
            [sys.executable, "-I", "-S", "-c", code, settings],
            {},
            file_actions=actions,
            setsid=True,
        )
    except OSError:
        for each in (data_w, answer_r):
            os.close(each)
        raise
    finally:
        for each in (data_r, answer_w):
            os.close(each)
    os.set_inheritable(fd, False)
    return data_w, answer_r, pid


def _read_answer(fd: int, patience: float) -> bytes | None:
    """Read the writer's answer to its end; None when it does not come within ``patience``."""
    import select

    deadline = time.monotonic() + patience
    chunks: list[bytes] = []
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        try:
            if not poller.poll(int(left * 1000) + 1):
                continue
            chunk = os.read(fd, 65536)
        except InterruptedError:
            continue
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


class _Spool:
    """The writer's spool: frames taken from the pipe, in a memfd, until they are escaped.

    ``take`` moves what the pipe holds into it with ``splice`` (a copy inside the kernel, no
    Python object per chunk; read and write where splice is refused); ``peek`` reads from
    the oldest frame on; ``consume`` drops what was escaped, and an emptied spool gives its
    memory back.
    """

    def __init__(self) -> None:
        self.fd = os.memfd_create("debugtool-recording-spool", os.MFD_CLOEXEC)
        self.start = 0  # where the frames not yet escaped begin
        self.end = 0  # where the next frame goes
        self.splice = True

    @property
    def size(self) -> int:
        return self.end - self.start

    def take(self, pipe: int) -> int:
        """Move what ``pipe`` holds (waiting for it) into the spool; return how much (0: EOF)."""
        if self.splice:
            try:
                n = os.splice(pipe, self.fd, 1 << 20, offset_dst=self.end)
                self.end += n
                return n
            except InterruptedError:
                raise
            except OSError:
                self.splice = False
        data = os.read(pipe, 1 << 20)
        view = memoryview(data)
        while view:
            n = os.pwrite(self.fd, view, self.end)
            self.end += n
            view = view[n:]
        return len(data)

    def peek(self, size: int) -> bytes:
        """Return up to ``size`` bytes from the oldest frame not yet escaped."""
        return os.pread(self.fd, min(size, self.size), self.start) if self.size else b""

    def consume(self, size: int) -> None:
        """Drop the first ``size`` bytes (escaped). An emptied spool gives its memory back; one
        left with only part of a frame moves it to the start first (a few KiB), so the memfd
        never grows past what the writer lets in (``end`` is checked against the cap)."""
        self.start += size
        if not self.start:
            return
        rest = os.pread(self.fd, self.size, self.start) if self.size <= _SMALL_REST else None
        if rest is None:
            return
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, rest, 0)
        self.start, self.end = 0, len(rest)


def write_events(fd: int, pipe: int, answer: int, settings: str) -> None:
    """The writer process: turn the relay's frames from ``pipe`` into asciicast lines in ``fd``.

    Spools the frames while they come; when the pipe has been quiet for ``SPOOL_IDLE`` (or
    the spool holds ``cap`` bytes) writes the header, then one event per frame (decoded as
    UTF-8 across frames, escaped by ``json``'s C encoder), buffered, hashed as written, the cap
    kept; at the pipe's end it converts the rest (a frame cut short is dropped), syncs the
    file and writes ``{sha256, bytes, truncated, failure}`` to ``answer``.
    """
    import codecs
    import hashlib
    import json
    import select
    import struct
    from json.encoder import encode_basestring_ascii as quote  # type: ignore[attr-defined]

    usual = os.getpriority(os.PRIO_PROCESS, 0)
    niceness = {"now": usual}

    def priority(value: int) -> None:
        """Run at ``value``: 19 to escape (the session first), the usual one to take frames
        in (so the relay's buffer stays small). Raising it again needs CAP_SYS_NICE; without
        it the writer stays at 19, which only makes the relay hold more for a while."""
        if niceness["now"] != value:
            try:
                os.setpriority(os.PRIO_PROCESS, 0, value)
                niceness["now"] = value
            except OSError:
                pass

    config = json.loads(settings)
    cap = int(config["cap"])
    digest = hashlib.sha256()
    state: dict[str, Any] = {"size": 0, "failure": "", "stopped": False, "truncated": False}
    pending: list[str] = []
    decoders = {
        "o": codecs.getincrementaldecoder("utf-8")("replace"),
        "i": codecs.getincrementaldecoder("utf-8")("replace"),
    }

    def write_out() -> None:
        blob = "".join(pending).encode("ascii")
        pending.clear()
        view = memoryview(blob)
        while view and not state["failure"]:
            try:
                n = os.write(fd, view)
            except InterruptedError:
                continue
            except OSError as exc:
                state["failure"] = f"writing it failed ({exc.strerror or exc})"
                state["truncated"] = state["stopped"] = True
                state["size"] = os.fstat(fd).st_size
                return
            digest.update(view[:n])
            view = view[n:]

    def add(line: str) -> None:
        pending.append(line)
        state["size"] += len(line)  # ASCII: characters are bytes

    def event(seconds: float, kind: str, text: str) -> None:
        if not text or state["stopped"]:
            return
        line = f"[{seconds:.6f}, {quote(kind)}, {quote(text)}]\n"
        if state["size"] + len(line) > cap - _MARKER_ROOM:
            # As much of it as fits goes in first: the file is full up to its cap, however
            # large the events (a burst's are up to FRAME_LIMIT).
            room = cap - _MARKER_ROOM - state["size"]
            while text and len(line) > room:
                text = text[: max(0, len(text) * room // len(line) - 1)]
                line = f"[{seconds:.6f}, {quote(kind)}, {quote(text)}]\n"
            if text:
                add(line)
            note = (
                f"debugtool: the recording reached its limit of {cap} bytes; the rest of the "
                "session was not recorded"
            )
            add(f'[{seconds:.6f}, "m", {quote(note)}]\n')
            state["stopped"] = state["truncated"] = True
            return
        add(line)

    add(json.dumps(config["header"]) + "\n")
    head = struct.Struct("<dBI")
    spool = _Spool()  # frames taken from the relay, not yet turned into events
    seconds = 0.0

    def convert(budget: int) -> int:
        """Turn the spool's whole frames into events, about ``budget`` bytes of them; return
        how many bytes of the spool that took (0: not one whole frame is there yet)."""
        nonlocal seconds
        chunk = spool.peek(budget + FRAME_LIMIT + _HEAD_SIZE)  # at least one whole frame
        at = 0
        while at < budget and len(chunk) - at >= _HEAD_SIZE:
            seconds, kind_byte, length = head.unpack_from(chunk, at)
            if len(chunk) - at - _HEAD_SIZE < length:
                break  # the rest of this frame is still in the pipe
            data = chunk[at + _HEAD_SIZE : at + _HEAD_SIZE + length]
            at += _HEAD_SIZE + length
            if state["stopped"]:
                continue  # past the cap (or a failed write): nothing more goes in the file
            kind = _KINDS.get(kind_byte, "o")
            if kind == "m":  # debugtool gave up recording: say where, and record no more
                note = "debugtool: " + data.decode("utf-8", "replace")
                add(f'[{seconds:.6f}, "m", {quote(note)}]\n')
                state["stopped"] = state["truncated"] = True
            elif kind == "r":
                event(seconds, kind, data.decode("ascii", "replace"))
            else:
                event(seconds, kind, decoders[kind].decode(data))
        spool.consume(at)
        # Out to the file at 64 KiB, or as soon as all that came is converted: the file
        # follows a quiet session closely (``audit show`` of a session still running).
        if sum(map(len, pending)) >= FLUSH_SIZE or at < budget:
            write_out()
        return at

    waiting = select.poll()
    waiting.register(pipe, select.POLLIN)
    idle = False
    while True:
        # While the relay keeps sending, its frames are only spooled (moved into a memfd by
        # the kernel: no per-byte work here): the escaping waits until it has sent nothing
        # for SPOOL_IDLE, or until the spool holds as much as the whole recording may (then
        # it goes on as frames come).
        if spool.size and (spool.end >= cap or not waiting.poll(0 if idle else _IDLE_MS)):
            idle = True
            priority(19)
            if spool.end >= cap:  # as much as the recording may hold: all of it now
                while convert(CONVERT_SLICE):
                    pass
            elif convert(CONVERT_SLICE):
                continue
        idle = False
        priority(usual)
        try:
            if not spool.take(pipe):
                break
        except InterruptedError:
            continue
    priority(usual)  # debugtool waits for the answer (or is gone): the rest at once
    while convert(CONVERT_SLICE):  # a frame cut short (debugtool killed mid-write) is dropped
        pass
    write_out()
    try:
        os.fsync(fd)
    except OSError as exc:
        state["failure"] = state["failure"] or f"it could not be synced ({exc.strerror or exc})"
    os.close(fd)
    report = {
        "sha256": digest.hexdigest(),
        "bytes": state["size"],
        "truncated": state["truncated"],
        "failure": state["failure"],
    }
    try:
        os.write(answer, json.dumps(report).encode())
    except OSError:
        pass  # debugtool is gone (killed): the file is what it left


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
