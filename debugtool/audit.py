"""The audit log: a start and an end record of every exec, trace and console session, one JSON
line each, hash-chained.

The path is ``/var/log/debugtool/audit.jsonl`` unless ``DEBUGTOOL_AUDIT_LOG`` names another; the
file is 0600 in a 0700 directory and must be a regular file (a FIFO would hang every exec, a
device would swallow the trail). Each line is one ``Record``, written with one ``write`` to the
file opened ``O_APPEND`` (concurrent sessions never interleave) and ``fsync``'d.

Tamper evidence (``debugtool.chain`` checks it): every line carries ``seq`` (one more than the
line before), ``prev`` (the SHA-256 of the line before, its exact bytes without the newline;
empty for the first line of a log) and ends with ``"digest": SHA-256 of the line up to that
key``. A line is chained while holding an exclusive ``flock`` on the log, so concurrent sessions
each link to the line really before theirs. A key-less hash chain cannot stop someone who
rewrites the whole tail; it makes an edit, a deletion or a swap visible, and ``[audit] syslog``
keeps a copy of each line outside the file.

Who ran it is recorded as the host knows the operator: the login uid (``/proc/self/loginuid``,
kept across ``su`` and ``sudo``), ``SUDO_USER``/``SUDO_UID``, the ssh client
(``SSH_CONNECTION``) and the terminal, besides the real user.

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

    action: str  # "exec", "trace" or "console"
    phase: str = "end"  # "start" or "end"
    session: str = ""  # pairs a start with its end
    time: str = ""
    epoch: float = 0.0
    # the chain (see debugtool.chain): this line's place, and the hash of the line before
    seq: int = 0
    prev: str = ""
    # why (--reason)
    reason: str = ""
    # who: the real user, and the operator as the host knows them
    user: str = ""
    uid: int = -1
    login_uid: int = -1  # /proc/self/loginuid; -1 when unset (4294967295) or unknown
    login_user: str = ""
    sudo_user: str = ""
    sudo_uid: int = -1
    ssh_client: str = ""  # SSH_CONNECTION's client address
    ssh_client_port: int = 0
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
    #: Indices of ``argv`` words whose secret value is masked in this record (``mask_argv``).
    argv_masked: list[int] = field(default_factory=list)
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
        known = {*fields(cls), "digest"}  # the line's own seal (debugtool.chain)
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
    if kind == "list[int]":
        if not isinstance(value, list):
            return None
        return [v for v in value if isinstance(v, int) and not isinstance(v, bool)]
    if kind.startswith("list"):
        return [str(v) for v in value] if isinstance(value, list) else None
    if kind.startswith("dict"):
        return value if isinstance(value, dict) else None
    return None


#: Longest reason kept: a sentence or a ticket reference, not a document.
REASON_LIMIT = 1000


class ReasonRequired(DebugtoolError):
    """The policy makes a reason mandatory and none was given: nothing runs."""

    def __init__(self, action: str, where: str) -> None:
        super().__init__(
            f"a reason is required for every {action} on this host ({where}), and none was "
            "given, so nothing was run.",
            "Say why with --reason TEXT, e.g. --reason 'INC-1234: checking DNS'.",
        )


def reason_policy() -> str:
    """Return what makes a reason mandatory (the setting's name), or "" when nothing does.

    ``DEBUGTOOL_REQUIRE_REASON=1`` can only turn the policy on: an operator's environment
    never lifts what the administrator's ``[audit] require_reason = true`` asks for.
    Raises ``config.ConfigError`` when the setting is there but not true or false.
    """
    from debugtool import config

    value = config.section("audit").get("require_reason", False)
    if not isinstance(value, bool):
        raise config.ConfigError(config.path(), "[audit] require_reason is not true or false")
    if value:
        return f"require_reason in {config.path()}"
    if os.environ.get("DEBUGTOOL_REQUIRE_REASON", "").strip().lower() in ("1", "true", "yes"):
        return "DEBUGTOOL_REQUIRE_REASON"
    return ""


def check_reason(reason: str | None, attempt: Record) -> str:
    """Return ``reason`` as it is recorded (stripped; "" for none).

    Raises ``UsageError`` for a reason over ``REASON_LIMIT`` characters and ``ReasonRequired``
    when the policy wants one and there is none; that refusal is written to the log first
    (``attempt``, as an end record with exit code 125), so a refused attempt is on record too.
    """
    from debugtool.errors import UsageError

    text = (reason or "").strip()
    if len(text) > REASON_LIMIT:
        raise UsageError(
            f"the reason is {len(text)} characters long; at most {REASON_LIMIT} are kept.",
            "Give a sentence or a ticket reference.",
        )
    if text:
        return text
    policy = reason_policy()
    if not policy:
        return ""
    refusal = ReasonRequired(attempt.action, policy)
    attempt.exit_code = refusal.exit_code
    attempt.error = refusal.message
    try:
        write(attempt)
    except DebugtoolError:
        pass  # the refusal stands whether or not it could be recorded
    raise refusal


#: Words in an argv that send it through the redactor (which costs ~15 ms to import): what a
#: secret flag, variable, header, URL or token could hold. Anything else is recorded as given.
_SECRET_HINTS = (
    "pass", "pw", "secret", "token", "key", "auth", "bearer", "cred", "cookie", "session",
    "dsn", "://", "=",
)  # fmt: skip
_PASSWORD_PROGRAMS = ("mysql", "mysqldump", "mysqladmin", "mariadb", "mariadb-dump", "sshpass",
                      "redis-cli")  # fmt: skip


def _may_hold_secret(argv: list[str]) -> bool:
    if argv and argv[0].rsplit("/", 1)[-1] in _PASSWORD_PROGRAMS:
        return True
    for word in argv:
        lowered = word.lower()
        if len(word) >= 16 or any(hint in lowered for hint in _SECRET_HINTS):
            return True
        if word.startswith("-p") and len(word) > 5:  # -pS3cret
            return True
    return False


def mask_argv(argv: list[str]) -> tuple[list[str], list[int]]:
    """Return ``argv`` with the values the bundle redactor would mask masked, and the indices
    of the words it changed (``--password=***REDACTED***``, ``TOKEN=...``, ``-p x`` of mysql,
    bearer tokens, passwords in URLs). ``argv`` itself is left as it is: it is what runs."""
    if not _may_hold_secret(argv):
        return list(argv), []
    from debugtool.bundle.redact import Redactor

    masked = Redactor().argv(list(argv), "audit")
    return masked, [i for i, (a, b) in enumerate(zip(argv, masked, strict=True)) if a != b]


def log_path() -> str:
    """Return the audit log's path (``DEBUGTOOL_AUDIT_LOG`` or the default).

    A user who is not root can exec only in their own rootless containers and cannot write
    root's log: theirs is ``$XDG_STATE_HOME/debugtool/audit.jsonl`` (``~/.local/state``).
    """
    if os.environ.get("DEBUGTOOL_AUDIT_LOG"):
        return os.environ["DEBUGTOOL_AUDIT_LOG"]
    if os.geteuid() != 0:
        state = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
        return f"{state}/debugtool/audit.jsonl"
    return DEFAULT_PATH


def who() -> dict[str, Any]:
    """Return who runs this session: the real user, the operator as the host knows them (login
    uid, sudo, ssh client, terminal), the host and debugtool's PID.

    The login uid is what the kernel keeps across ``su`` and ``sudo`` (pam_loginuid sets it at
    login; 4294967295 means never set); ``SUDO_*`` and ``SSH_CONNECTION`` are what sudo and sshd
    put in the environment, so they say what the operator's session claims, not a proof.
    """
    from debugtool import procfs

    uid = os.getuid()
    tty = ""
    for fd in (0, 1, 2):
        try:
            tty = os.ttyname(fd)
            break
        except OSError:
            continue
    login_uid = procfs.login_uid()
    ssh = os.environ.get("SSH_CONNECTION", "").split()
    sudo_uid = os.environ.get("SUDO_UID", "")
    return {
        "user": _user_name(uid),
        "uid": uid,
        "login_uid": -1 if login_uid is None else login_uid,
        "login_user": "" if login_uid is None else _user_name(login_uid),
        "sudo_user": os.environ.get("SUDO_USER", ""),
        "sudo_uid": int(sudo_uid) if sudo_uid.isdigit() else -1,
        "ssh_client": ssh[0] if len(ssh) == 4 else "",
        "ssh_client_port": int(ssh[1]) if len(ssh) == 4 and ssh[1].isdigit() else 0,
        "terminal": tty,
        "host": os.uname().nodename,
        "debugtool_pid": os.getpid(),
    }


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def open_log(path: str, consequence: str = "") -> int:
    """Open the audit log for appending and reading the line before (created 0600, its
    directory 0700); return the fd.

    Raises ``AuditUnavailable`` when it cannot be written or is not a regular file, saying
    ``consequence`` if given. Never blocks: a FIFO is refused, not waited on.
    """
    try:
        os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
        fd = os.open(
            path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NONBLOCK, 0o600
        )
    except OSError as exc:
        reason = "it is a FIFO" if exc.errno == 6 else exc.strerror or str(exc)  # ENXIO
        if exc.errno == 21:  # EISDIR
            reason = "it is not a regular file"
        raise AuditUnavailable(path, reason, consequence) from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise AuditUnavailable(path, "it is not a regular file", consequence)
    os.set_blocking(fd, True)
    return fd


_ENCODE = jsonc.encoder(default=str, sort_keys=True)


def encode(data: dict[str, Any]) -> str:
    """Return a record's dict as the log writes it (keys sorted), before its seal."""
    return _ENCODE(data)


def write(record: Record, path: str | None = None, consequence: str = "") -> None:
    """Append ``record`` (time and who filled in, chained to the line before) as one JSON line,
    fsync it, and forward it to syslog when ``[audit] syslog`` asks for it.

    Raises ``AuditUnavailable`` when it cannot be written in full (a full disk included).
    """
    import fcntl

    from debugtool import chain

    path = path or log_path()
    if not record.time:
        record.epoch = time.time()
        record.time = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(record.epoch))
    if not record.user:
        for key, value in who().items():
            setattr(record, key, value)
    if record.argv and not record.argv_masked:
        record.argv, record.argv_masked = mask_argv(record.argv)
    fd = open_log(path, consequence)
    try:
        # Under the lock no other debugtool appends, so the line read as "before" is the one
        # this line follows. flock is released when the fd closes, or when its process dies.
        _lock(fd, fcntl)
        before, torn = chain.last_lines(fd)
        record.seq, record.prev = chain.link(before)
        line = chain.seal(_ENCODE(record.to_dict())).encode() + b"\n"
        if torn:  # a line cut short (a writer killed mid-write): end it, so ours stands alone
            line = b"\n" + line
        # One write of a line to an O_APPEND file: concurrent readers never see half of it.
        written = os.write(fd, line)
        if written != len(line):
            raise OSError(28, "the line was cut short")
        os.fsync(fd)
    except OSError as exc:
        raise AuditUnavailable(path, exc.strerror or str(exc), consequence) from None
    finally:
        os.close(fd)
    _forward(line.strip())


#: How long a writer waits for the log's lock: the holder writes one line, so only a stopped
#: (SIGSTOP, Ctrl-Z) or hung debugtool holds it this long; then this one gives up rather than hang.
LOCK_PATIENCE = 10.0


def _lock(fd: int, fcntl: Any) -> None:
    """Take the log's exclusive lock, waiting at most ``LOCK_PATIENCE`` seconds.

    Raises ``OSError`` (EWOULDBLOCK) when another process keeps it past that.
    """
    deadline = time.monotonic() + LOCK_PATIENCE
    pause = 0.001
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise OSError(11, "another process has held its lock for "
                              f"{LOCK_PATIENCE:.0f} s") from None  # fmt: skip
            time.sleep(pause)
            pause = min(pause * 2, 0.05)


def _forward(line: bytes) -> None:
    """Send a written line to syslog when the configuration asks (never fails the write)."""
    from debugtool import config

    try:
        wanted = config.section("audit").get("syslog") is True
    except DebugtoolError:
        wanted = False  # the command itself reports a broken configuration
    if wanted:
        from debugtool import syslog

        syslog.send(line)


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
