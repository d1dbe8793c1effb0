"""The audit log: a start and an end record of every exec and trace session, one JSON line each.

The path is ``/var/log/debugtool/audit.jsonl`` unless ``DEBUGTOOL_AUDIT_LOG`` names another; the
file is 0600 in a 0700 directory and must be a regular file (a FIFO would hang every exec, a
device would swallow the trail). Each line is one ``Record``, written with one ``write`` to the
file opened ``O_APPEND`` (concurrent sessions never interleave) and ``fsync``'d.

A session (``Session``) writes its start record before the command runs: when that cannot be
written, nothing runs. Its end record carries the exit code and how it ended, on every exit
path that leaves debugtool alive to write it; a debugtool killed with SIGKILL leaves the start
alone, and ``sessions`` shows that session as never ended.
"""

from __future__ import annotations

import os
import pwd
import stat
import sys
import time

from debugtool import jsonc
from debugtool.errors import DebugtoolError
from debugtool.record import asdict, field, fields, record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEFAULT_PATH = "/var/log/debugtool/audit.jsonl"
#: Past this a line is not read back (nothing debugtool writes comes near it).
LINE_LIMIT = 1 << 20


class AuditUnavailable(DebugtoolError):
    """The audit log cannot be written (or read): an exec that cannot be audited does not run."""

    def __init__(self, path: str, reason: str, consequence: str = "", verb: str = "write") -> None:
        super().__init__(
            f"cannot {verb} the audit log {path} ({reason}){consequence}.",
            "Run as root, free space, or point DEBUGTOOL_AUDIT_LOG at a writable regular file.",
        )


@record
class Record:
    """One line of the audit log: a session's start or end.

    The same fields in both; the end record repeats the start's and adds how it ended.
    ``details`` holds what only one action has (a trace's PIDs and syscall counts).
    """

    action: str  # "exec" or "trace"
    phase: str = "end"  # "start" or "end"
    session: str = ""  # pairs a start with its end
    time: str = ""
    epoch: float = 0.0
    # who
    user: str = ""
    uid: int = -1
    sudo_user: str = ""
    terminal: str = ""
    host: str = ""
    debugtool_pid: int = 0
    # what
    target_id: str = ""
    target_name: str = ""
    runtime: str = ""
    mode: str = ""
    namespaces: list[str] = field(default_factory=list)
    argv: list[str] = field(default_factory=list)
    exec_user: str | None = None
    tty: bool = False
    interactive: bool = False
    privileged: bool = False
    # how it ended (end records)
    exit_code: int | None = None
    duration: float | None = None
    error: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    # the session's recording (interactive sessions; see debugtool.recording), end records
    recording: str = ""  # relative to the audit log's directory: recordings/SESSION.cast
    recording_sha256: str = ""
    recording_bytes: int = 0
    recording_truncated: bool = False

    @property
    def ended(self) -> bool:
        return self.phase == "end"

    def state(self) -> str:
        """Return ``ended``, ``running`` (its debugtool still runs here) or ``lost``."""
        if self.ended:
            return "ended"
        if self.host == os.uname().nodename and _alive(self.debugtool_pid, self.epoch):
            return "running"
        return "lost"

    def matches(self, text: str) -> bool:
        """Return whether this record is about the container ``text`` (name, id or id prefix)."""
        name = self.target_name
        return text in (name, name.lstrip("/"), self.target_id) or (
            len(text) >= 4 and self.target_id.startswith(text)
        )

    def about(self, container: Any) -> bool:
        """Return whether this record is about ``container`` (a ``model.Container``)."""
        ident = self.target_id
        if ident and (
            ident == container.id or (len(ident) >= 4 and container.id.startswith(ident))
        ):
            return True
        return bool(self.target_name) and self.target_name.lstrip("/") in (
            container.name,
            container.id,
            container.short_id,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Record:
        """Build a record from a line's JSON; fields of the wrong type fall back to defaults.

        Lines written before start and end records existed (no ``phase``) are whole sessions.
        """
        values: dict[str, Any] = {}
        for name in fields(cls):
            if name in data:
                value = _coerce(cls.__annotations__[name], data[name])
                if value is not None:
                    values[name] = value
        if "action" not in values:
            values["action"] = "exec"
        known = set(fields(cls))
        extra = {k: v for k, v in data.items() if k not in known}
        if extra:  # an older trace line kept its counts at the top level
            values["details"] = {**extra, **values.get("details", {})}
        return cls(**values)


def _coerce(kind: str, value: Any) -> Any:
    """Return ``value`` as the annotated ``kind`` of a Record field, or None if it is not one."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "bool":
        return value is True
    if kind.startswith("int"):
        return value if number and isinstance(value, int) else None
    if kind.startswith("float"):
        return float(value) if number else None
    if kind.startswith("str"):
        return value if isinstance(value, str) else None
    if kind.startswith("list"):
        return [str(v) for v in value] if isinstance(value, list) else None
    if kind.startswith("dict"):
        return value if isinstance(value, dict) else None
    return None


def log_path() -> str:
    """Return the audit log's path (``DEBUGTOOL_AUDIT_LOG`` or the default)."""
    return os.environ.get("DEBUGTOOL_AUDIT_LOG") or DEFAULT_PATH


def who() -> dict[str, Any]:
    """Return the real user, the sudo user (if any), the terminal and the host of this session."""
    uid = os.getuid()
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = str(uid)
    tty = ""
    for fd in (0, 1, 2):
        try:
            tty = os.ttyname(fd)
            break
        except OSError:
            continue
    return {
        "user": user,
        "uid": uid,
        "sudo_user": os.environ.get("SUDO_USER", ""),
        "terminal": tty,
        "host": os.uname().nodename,
        "debugtool_pid": os.getpid(),
    }


def open_log(path: str, consequence: str = "") -> int:
    """Open the audit log for appending (created 0600, its directory 0700); return the fd.

    Raises ``AuditUnavailable`` when it cannot be written or is not a regular file, saying
    ``consequence`` if given. Never blocks: a FIFO is refused, not waited on.
    """
    try:
        os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
        fd = os.open(
            path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NONBLOCK, 0o600
        )
    except OSError as exc:
        reason = "it is a FIFO" if exc.errno == 6 else exc.strerror or str(exc)  # ENXIO
        raise AuditUnavailable(path, reason, consequence) from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise AuditUnavailable(path, "it is not a regular file", consequence)
    os.set_blocking(fd, True)
    return fd


_ENCODE = jsonc.encoder(default=str, sort_keys=True)


def write(record: Record, path: str | None = None, consequence: str = "") -> None:
    """Append ``record`` (time and who filled in) as one JSON line, and fsync it.

    Raises ``AuditUnavailable`` when it cannot be written in full (a full disk included).
    """
    path = path or log_path()
    if not record.time:
        record.epoch = time.time()
        record.time = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(record.epoch))
    if not record.user:
        for key, value in who().items():
            setattr(record, key, value)
    line = (_ENCODE(record.to_dict()) + "\n").encode()
    fd = open_log(path, consequence)
    try:
        # One write of a line to an O_APPEND file: concurrent sessions never interleave.
        written = os.write(fd, line)
        if written != len(line):
            raise OSError(28, "the line was cut short")
        os.fsync(fd)
    except OSError as exc:
        raise AuditUnavailable(path, exc.strerror or str(exc), consequence) from None
    finally:
        os.close(fd)


class Session:
    """One exec or trace on record: ``start`` before it runs, ``end`` however it ends."""

    def __init__(self, record: Record) -> None:
        self.record = record
        self.record.session = self.record.session or os.urandom(8).hex()
        self.started = time.monotonic()
        self.open = False
        #: The session's ``recording.Recorder``; ``end`` finishes it and puts its hash on record.
        self.recorder: Any = None

    def start(self) -> None:
        """Write the start record. Raises ``AuditUnavailable``: then nothing may run."""
        self.record.phase = "start"
        write(self.record, consequence=", so nothing was run")
        self.open = True

    def end(self, exit_code: int, error: str = "", **details: Any) -> None:
        """Write the end record; when it cannot be written, warn (the command has run)."""
        self.record.phase = "end"
        self.record.exit_code = exit_code
        self.record.error = error
        self.record.duration = round(time.monotonic() - self.started, 4)
        self.record.details.update(details)
        self.record.time = ""
        self.open = False
        if self.recorder is not None:
            for key, value in self.recorder.finish().items():
                setattr(self.record, key, value)
            if self.recorder.failure:
                sys.stderr.write(
                    f"debugtool: warning: the session's recording is incomplete: "
                    f"{self.recorder.failure}.\n"
                )
            self.recorder = None
        try:
            write(self.record)
        except AuditUnavailable as exc:
            sys.stderr.write(f"debugtool: warning: {exc.for_people()}\n")


def read(path: str | None = None) -> list[Record]:
    """Return the audit log's records, oldest first; a malformed line is skipped with a warning.

    Raises ``AuditUnavailable`` when the log is not a regular file or cannot be read.
    """
    path = path or log_path()
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise AuditUnavailable(path, exc.strerror or str(exc), verb="read") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise AuditUnavailable(path, "it is not a regular file", verb="read")
        with open(fd, "rb", closefd=False) as f:
            return parse(f, path)
    finally:
        os.close(fd)


def parse(lines: Any, source: str) -> list[Record]:
    """Return the records of an iterable of lines (bytes), skipping bad ones with a warning."""
    from debugtool.output import warn

    records: list[Record] = []
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            if len(raw) > LINE_LIMIT:
                raise ValueError("too long")
            data = jsonc.loads(raw)
            if not isinstance(data, dict):
                raise ValueError("not an object")
        except (ValueError, RecursionError):
            warn(f"{source}:{number}: not an audit record; skipped.")
            continue
        records.append(Record.from_dict(data))
    return records


def sessions(records: list[Record]) -> list[Record]:
    """Return one record per session, in start order: its end record, or its start if none.

    A start without an end is a session that is still running or whose debugtool was killed
    (``Record.state`` tells which). Records without a session id stand alone.
    """
    merged: dict[str, Record] = {}
    order: list[str] = []
    for n, entry in enumerate(records):
        key = entry.session or f"#{n}"
        if key not in merged:
            order.append(key)
            merged[key] = entry
        elif entry.ended or not merged[key].ended:
            merged[key] = entry
    return [merged[key] for key in order]


def _alive(pid: int, since: float) -> bool:
    """Return whether ``pid`` runs and started no later than ``since`` (not a reused PID)."""
    from debugtool import procfs

    if pid <= 0:
        return False
    try:
        started = procfs.boot_time() + procfs.start_time(pid) / procfs.CLOCK_TICKS
    except (DebugtoolError, ValueError, IndexError):
        return False
    return started <= since + 1
