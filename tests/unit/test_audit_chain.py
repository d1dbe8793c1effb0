"""The audit log's chain, reasons, who, masked argv and syslog forwarding, on real files and
sockets in a temporary directory (no container: the exec path is tests/integration's)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from debugtool import audit, chain, config, syslog
from debugtool.errors import DebugtoolError, UsageError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "audit" / "audit.jsonl"
    monkeypatch.setenv("DEBUGTOOL_AUDIT_LOG", str(path))
    monkeypatch.setenv("DEBUGTOOL_CONFIG", str(tmp_path / "no-config.toml"))
    monkeypatch.delenv("DEBUGTOOL_REQUIRE_REASON", raising=False)
    config.reset()
    yield path
    config.reset()


def sessions(n: int) -> None:
    for i in range(n):
        s = audit.Session(audit.Record(action="exec", argv=["echo", str(i)], reason=f"r{i}"))
        s.start()
        s.end(i)


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def test_each_line_links_to_the_one_before(log: Path) -> None:
    sessions(3)
    raw = lines(log)
    data = [json.loads(line) for line in raw]
    assert [d["seq"] for d in data] == [1, 2, 3, 4, 5, 6]
    assert data[0]["prev"] == ""
    for before, after in zip(raw, data[1:], strict=False):
        assert after["prev"] == chain.digest(before.rstrip(b"\n"))
    assert all(line.rstrip(b"\n").endswith(b'"}') and b', "digest": "' in line for line in raw)
    verdict = chain.verify(str(log))
    assert verdict.intact and verdict.chained == 6 and verdict.legacy == 0
    assert (verdict.first_seq, verdict.last_seq) == (1, 6)
    # The digest is not a record field: nothing of it leaks into details.
    assert all(r.details == {} for r in audit.read(str(log)))


@pytest.mark.parametrize("number", [1, 3, 6])
def test_an_edited_line_is_named(log: Path, number: int) -> None:
    sessions(3)
    raw = lines(log)
    raw[number - 1] = raw[number - 1].replace(b'"echo"', b'"rm -rf /"', 1)
    log.write_bytes(b"".join(raw))
    verdict = chain.verify(str(log))
    assert not verdict.intact
    first = verdict.problems[0]
    assert (first.line, first.kind) == (number, "altered")
    assert f"line {number} (session " in first.text and first.session and first.time


def test_an_edit_with_its_digest_recomputed_is_found_by_the_next_line(log: Path) -> None:
    sessions(2)
    raw = lines(log)
    body, _old = chain.unseal(raw[1].rstrip(b"\n")) or (b"", "")
    raw[1] = chain.seal(body.decode().replace('"echo"', '"cat"') + "}").encode() + b"\n"
    log.write_bytes(b"".join(raw))
    verdict = chain.verify(str(log))
    assert [(p.line, p.kind) for p in verdict.problems] == [(2, "altered")]
    assert "does not hash to what line 3 recorded" in verdict.problems[0].text


def test_a_deleted_line_is_named(log: Path) -> None:
    sessions(3)
    raw = lines(log)
    del raw[2]
    log.write_bytes(b"".join(raw))
    verdict = chain.verify(str(log))
    first = verdict.problems[0]
    assert (first.line, first.kind) == (3, "removed")
    assert "1 record(s) removed before line 3" in first.text


def test_deleting_the_first_lines_is_seen(log: Path) -> None:
    sessions(2)
    log.write_bytes(b"".join(lines(log)[2:]))
    [problem] = chain.verify(str(log)).problems
    assert (problem.line, problem.kind) == (1, "removed")
    assert "(2 records)" in problem.text


def test_swapped_lines_are_named(log: Path) -> None:
    sessions(3)
    raw = lines(log)
    raw[2], raw[3] = raw[3], raw[2]
    log.write_bytes(b"".join(raw))
    verdict = chain.verify(str(log))
    first = verdict.problems[0]
    assert (first.line, first.kind) == (3, "reordered")
    assert "out of order: it was written after line 4" in first.text


def test_legacy_lines_before_the_chain_are_not_tampering(log: Path) -> None:
    log.parent.mkdir(parents=True)
    old = {"action": "exec", "argv": ["true"], "time": "2026-11-18T08:20:00+0100", "user": "root"}
    log.write_text(json.dumps(old) + "\n\n" + json.dumps(old) + "\n")
    sessions(1)
    verdict = chain.verify(str(log))
    assert verdict.intact and (verdict.legacy, verdict.chained) == (2, 2)
    assert json.loads(lines(log)[3])["prev"] == chain.digest(lines(log)[2].rstrip(b"\n"))
    # ... but one after the first chained line is.
    with log.open("a") as f:
        f.write(json.dumps(old) + "\n")
    [problem] = chain.verify(str(log)).problems
    assert (problem.line, problem.kind) == (6, "unchained")


def test_a_line_cut_short_is_ended_before_the_next_and_reported(log: Path) -> None:
    sessions(1)
    with log.open("ab") as f:
        f.write(b'{"action": "exec", "argv": ["sle')  # a writer killed mid-write
    sessions(1)
    raw = lines(log)
    assert raw[2] == b'{"action": "exec", "argv": ["sle\n'
    assert json.loads(raw[3])["seq"] == 3  # seq goes on from the last whole record
    verdict = chain.verify(str(log))
    assert [(p.line, p.kind) for p in verdict.problems] == [(3, "not-a-record")]


def recorded_session(log: Path, content: bytes) -> Path:
    cast = log.parent / "recordings" / "abc.cast"
    cast.parent.mkdir(parents=True, exist_ok=True)
    cast.write_bytes(content)
    s = audit.Session(audit.Record(action="exec", argv=["/bin/sh"], tty=True, interactive=True))
    s.start()
    s.record.recording = "recordings/abc.cast"
    s.record.recording_sha256 = chain.digest(content)
    s.record.recording_bytes = len(content)
    s.end(0)
    return cast


CAST = b'{"version": 2, "width": 80, "height": 24}\n[0.1, "o", "$ ls\\r\\n"]\n'


def test_a_recording_edited_by_one_byte_fails(log: Path) -> None:
    cast = recorded_session(log, CAST)
    verdict = chain.verify(str(log))
    assert verdict.intact and verdict.recordings == 1
    cast.write_bytes(CAST.replace(b"ls", b"ps"))
    [problem] = chain.verify(str(log)).problems
    assert (problem.line, problem.kind) == (2, "recording-altered")
    assert "recordings/abc.cast" in problem.text and problem.session
    cast.unlink()
    [problem] = chain.verify(str(log)).problems
    assert problem.kind == "recording-missing"


def test_a_recording_named_outside_the_audit_directory_is_refused(log: Path) -> None:
    s = audit.Session(audit.Record(action="exec", argv=["sh"]))
    s.start()
    s.record.recording, s.record.recording_sha256 = "../../etc/passwd", "0" * 64
    s.end(0)
    [problem] = chain.verify(str(log)).problems
    assert problem.kind == "recording-invalid"


def test_concurrent_writers_chain_correctly(log: Path) -> None:
    """Ten processes writing at once: every line links to the one really before it."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from debugtool import audit\n"
        "for i in range(20):\n"
        "    audit.write(audit.Record(action='exec', argv=['w', str(i)]))\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(ROOT)], env=os.environ.copy())
        for _ in range(10)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0] * 10
    verdict = chain.verify(str(log))
    assert verdict.intact, verdict.problems
    assert verdict.chained == 200 and (verdict.first_seq, verdict.last_seq) == (1, 200)


def test_verify_command_exit_codes_and_json(log: Path) -> None:
    run = [sys.executable, "-m", "debugtool", "audit", "verify"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # No log yet: nothing to verify, said as such (not "intact (0 chained records)").
    none = subprocess.run(run, capture_output=True, text=True, env=env)
    assert none.returncode == 0, none.stderr
    assert none.stdout == f"{log}: no audit log there, so nothing to verify " + (
        "(nothing was recorded on this host yet, or the log was removed or moved; "
        "DEBUGTOOL_AUDIT_LOG names another).\n"
    )
    doc = json.loads(subprocess.run([*run, "--json"], capture_output=True, env=env).stdout)
    assert doc["exists"] is False and doc["intact"] is True and doc["lines"] == 0
    sessions(2)
    ok = subprocess.run(run, capture_output=True, text=True, env=env)
    assert ok.returncode == 0 and "intact (4 chained records)" in ok.stdout
    raw = lines(log)
    raw[0] = raw[0].replace(b'"r0"', b'"rX"')
    log.write_bytes(b"".join(raw))
    broken = subprocess.run(run, capture_output=True, text=True, env=env)
    assert broken.returncode == 1, broken.stderr
    assert "BROKEN" in broken.stdout and "first: line 1 (session " in broken.stdout
    as_json = subprocess.run([*run, "--json"], capture_output=True, text=True, env=env)
    doc = json.loads(as_json.stdout)
    assert as_json.returncode == 1 and doc["intact"] is False
    assert doc["problems"][0]["line"] == 1 and doc["problems"][0]["kind"] == "altered"
    # Plain 'audit' still lists, with --json too.
    listed = subprocess.run(
        [sys.executable, "-m", "debugtool", "audit", "--json"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert listed.returncode == 0  # a session is shown by its end record, still "r0"
    assert [e["reason"] for e in json.loads(listed.stdout)] == ["r0", "r1"]


# --- reasons and the policy ------------------------------------------------------------------
def test_no_policy_no_reason_needed(log: Path) -> None:
    assert audit.reason_policy() == ""
    assert audit.check_reason(None, audit.Record(action="exec")) == ""
    assert audit.check_reason("  INC-1 \n", audit.Record(action="exec")) == "INC-1"
    assert not log.exists()


@pytest.mark.parametrize("how", ["env", "config"])
def test_the_policy_refuses_without_a_reason_and_records_the_refusal(
    log: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    if how == "env":
        monkeypatch.setenv("DEBUGTOOL_REQUIRE_REASON", "1")
    else:
        (tmp_path / "no-config.toml").write_text("[audit]\nrequire_reason = true\n")
        config.reset()
    with pytest.raises(audit.ReasonRequired) as caught:
        audit.check_reason("  ", audit.Record(action="trace", target_name="web"))
    assert caught.value.exit_code == 125
    assert "a reason is required for every trace" in caught.value.message
    assert "--reason" in (caught.value.hint or "")
    [refusal] = audit.read(str(log))
    assert (refusal.action, refusal.target_name, refusal.exit_code) == ("trace", "web", 125)
    assert "reason is required" in refusal.error
    assert audit.check_reason("INC-2", audit.Record(action="trace")) == "INC-2"


def test_exec_reads_the_policy_before_the_fork_only_where_it_could_refuse(
    log: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``exec`` decides the policy before it resolves or forks anything exactly when the policy
    could refuse (no reason, and a setting there), so a refused exec never touches the target;
    otherwise it reads the policy while the joiner's cgroup move waits."""
    from debugtool.commands.exec import policy_may_refuse

    assert not policy_may_refuse(None) and not policy_may_refuse("")  # no setting anywhere
    monkeypatch.setenv("DEBUGTOOL_REQUIRE_REASON", "1")
    assert policy_may_refuse(None) and policy_may_refuse("  ")
    assert not policy_may_refuse("INC-3")  # a reason: nothing to refuse
    monkeypatch.delenv("DEBUGTOOL_REQUIRE_REASON")
    (tmp_path / "no-config.toml").write_text("[audit]\nrequire_reason = false\n")
    assert policy_may_refuse(None)  # a file is there: it is read before the fork


def test_the_environment_cannot_lift_the_administrators_policy(
    log: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "no-config.toml").write_text("[audit]\nrequire_reason = true\n")
    config.reset()
    monkeypatch.setenv("DEBUGTOOL_REQUIRE_REASON", "0")
    assert "require_reason" in audit.reason_policy()


def test_a_policy_that_is_not_a_boolean_is_not_ignored(log: Path, tmp_path: Path) -> None:
    (tmp_path / "no-config.toml").write_text('[audit]\nrequire_reason = "yes"\n')
    config.reset()
    with pytest.raises(config.ConfigError, match="require_reason is not true or false"):
        audit.reason_policy()


def test_a_reason_past_the_limit_is_refused(log: Path) -> None:
    with pytest.raises(UsageError, match="at most 1000"):
        audit.check_reason("x" * 1001, audit.Record(action="exec"))


# --- who ---------------------------------------------------------------------------------------
def test_who_names_sudo_and_ssh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUDO_USER", "alice")
    monkeypatch.setenv("SUDO_UID", "1000")
    monkeypatch.setenv("SSH_CONNECTION", "203.0.113.5 52144 198.51.100.10 22")
    found = audit.who()
    assert (found["sudo_user"], found["sudo_uid"]) == ("alice", 1000)
    assert (found["ssh_client"], found["ssh_client_port"]) == ("203.0.113.5", 52144)
    monkeypatch.setenv("SSH_CONNECTION", "garbage")
    monkeypatch.setenv("SUDO_UID", "x")
    found = audit.who()
    assert (found["ssh_client"], found["ssh_client_port"], found["sudo_uid"]) == ("", 0, -1)


def test_who_reads_the_login_uid_a_login_set(log: Path) -> None:
    """A child that sets its own login uid (as pam_loginuid does at login) and writes a record:
    the record names that uid, not only root."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "try:\n"
        "    open('/proc/self/loginuid', 'w').write('4242')\n"
        "except OSError:\n"
        "    sys.exit(77)\n"
        "from debugtool import audit\n"
        "audit.write(audit.Record(action='exec', argv=['true']))\n"
    )
    result = subprocess.run([sys.executable, "-c", code, str(ROOT)], env=os.environ.copy())
    if result.returncode == 77:
        pytest.skip("this kernel does not let the login uid be set")
    assert result.returncode == 0
    [record] = audit.read(str(log))
    assert record.login_uid == 4242 and record.login_user == "4242" and record.uid == 0


def test_an_unset_login_uid_is_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from debugtool import procfs

    (tmp_path / "7").mkdir()
    (tmp_path / "7" / "loginuid").write_text("4294967295")
    (tmp_path / "8").mkdir()
    (tmp_path / "8" / "loginuid").write_text("1000")
    monkeypatch.setattr(procfs, "PROC", str(tmp_path))
    assert procfs.login_uid(7) is None and procfs.login_uid(8) == 1000
    assert procfs.login_uid(9) is None  # a kernel without audit has no such file


# --- secret arguments ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("argv", "masked"),
    [
        (["sh", "-c", "ls -l /"], []),
        (["true"], []),
        (["mysql", "-u", "root", "-p", "hunter22"], [4]),
        (["app", "--password=s3cr3t-value"], [1]),
        (["env", "API_TOKEN=abcdef123456", "run"], [1]),
        (["curl", "-H", "Authorization: Bearer abcdef.123456.xyz", "http://x/"], [2]),
        (["psql", "postgres://app:pa55w0rd-x@db/app"], [1]),
    ],
)
def test_secret_words_are_masked_and_noted(log: Path, argv: list[str], masked: list[int]) -> None:
    given = list(argv)
    audit.write(audit.Record(action="exec", argv=argv))
    assert argv == given  # what runs is what was given
    [record] = audit.read(str(log))
    assert record.argv_masked == masked
    for i, word in enumerate(record.argv):
        assert ("***REDACTED***" in word) == (i in masked)
    text = log.read_text()
    for i in masked:
        secret = given[i].split("=")[-1].split(":")[-1].split()[-1].split("@")[0]
        assert secret not in text


def test_a_plain_command_does_not_load_the_redactor() -> None:
    code = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from debugtool import audit\n"
        "audit.mask_argv(['cat', '/etc/os-release'])\n"
        "print('debugtool.bundle.redact' in sys.modules, 're' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-S", "-c", code, str(ROOT)], capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["False", "False"]


# --- syslog ------------------------------------------------------------------------------------
def test_each_line_goes_to_syslog_when_configured(
    log: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sock_path = tmp_path / "log.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(str(sock_path))
    server.settimeout(10)
    monkeypatch.setenv("DEBUGTOOL_SYSLOG_SOCKET", str(sock_path))
    (tmp_path / "no-config.toml").write_text("[audit]\nsyslog = true\n")
    config.reset()
    try:
        sessions(1)
        first, second = server.recv(1 << 16), server.recv(1 << 16)
    finally:
        server.close()
    written = lines(log)
    for datagram, line in zip((first, second), written, strict=True):
        head, _, payload = datagram.partition(b": ")
        assert head.startswith(b"<86>")  # authpriv.info
        assert head.endswith(f"debugtool[{os.getpid()}]".encode())
        assert payload == line.rstrip(b"\n")  # the very line, so a copy can be compared


def test_a_syslog_that_is_not_there_warns_once_and_runs(
    log: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DEBUGTOOL_SYSLOG_SOCKET", str(tmp_path / "nobody-listens"))
    monkeypatch.setattr(syslog, "_warned", False)
    (tmp_path / "no-config.toml").write_text("[audit]\nsyslog = true\n")
    config.reset()
    sessions(2)
    err = capsys.readouterr().err
    assert err.count("not forwarded to syslog") == 1 and "it is in the audit log" in err
    assert chain.verify(str(log)).chained == 4


def test_syslog_off_by_default_sends_nothing(log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(line: bytes) -> bool:
        raise AssertionError("sent")

    monkeypatch.setattr(syslog, "send", refuse)
    sessions(1)


def test_the_log_is_unreadable_not_a_traceback(tmp_path: Path) -> None:
    with pytest.raises(DebugtoolError, match="not a regular file"):
        chain.verify(str(tmp_path))


# --- the log in a bundle ----------------------------------------------------------------------
def _bundled(log: Path) -> dict[str, bytes]:
    """The bundle's audit files as a capture writes them: collected, then redacted."""
    from debugtool.bundle import auditlog
    from debugtool.bundle.collectors import tail_lines
    from debugtool.bundle.redact import Redactor

    redactor = Redactor()
    files = auditlog.collect([], tail_lines)
    files = {rel: redactor.first_pass(rel, data) for rel, data in files.items()}
    files = {rel: redactor.second_pass(rel, data) for rel, data in files.items()}
    files["redactions.json"] = json.dumps({"redactions": redactor.report()}).encode()
    return files


def _sums(files: dict[str, bytes]) -> dict[str, str]:
    return {rel: chain.digest(data) for rel, data in files.items()}


def test_a_redacted_copy_of_the_log_still_checks_its_chain(log: Path) -> None:
    from debugtool.bundle import auditlog

    sessions(3)
    audit.write(audit.Record(action="exec", argv=["app", "--password=hunter2hunter2"]))
    files = _bundled(log)
    assert b"hunter2hunter2" not in files[auditlog.LOG]  # redacted as every file is
    assert auditlog.problems(files, _sums(files)) == []
    # The session ids are masked, yet each start still pairs with its end.
    records = audit.parse(files[auditlog.LOG].splitlines(), "bundle")
    assert {r.session for r in records} == {"***REDACTED***", ""}  # the last one has none
    shown = audit.sessions(auditlog.paired(records, files[auditlog.CHAIN]))
    assert [(r.session, r.phase, r.reason) for r in shown] == [
        ("line-1", "end", "r0"),
        ("line-3", "end", "r1"),
        ("line-5", "end", "r2"),
        ("", "end", ""),
    ]

    lines = files[auditlog.LOG].splitlines(keepends=True)
    altered = dict(files)
    altered[auditlog.LOG] = b"".join(
        [*lines[:3], lines[3].replace(b'"exit_code": 1', b'"exit_code": 0'), *lines[4:]]
    )
    [(kind, member, text)] = auditlog.problems(altered, _sums(altered))
    assert (kind, member) == ("audit chain", auditlog.LOG)
    assert "line 4 was altered (its time, action, target, mode or exit code" in text

    removed = dict(files)
    removed[auditlog.LOG] = b"".join(lines[:2] + lines[3:])
    texts = [text for _k, _m, text in auditlog.problems(removed, _sums(removed))]
    assert (
        "host/audit.jsonl: 6 lines, where the chain recorded 7 (lines were removed or added)"
        in texts
    )
    assert any("line 3 does not follow line 2" in t for t in texts)


def test_a_bundle_of_a_broken_log_says_so_and_still_opens(log: Path) -> None:
    from debugtool.bundle import auditlog

    sessions(2)
    raw = lines(log)
    raw[0] = raw[0].replace(b'"r0"', b'"rX"')
    log.write_bytes(b"".join(raw))
    files = _bundled(log)
    [(kind, _member, text)] = auditlog.problems(files, _sums(files), at_capture=True)
    assert kind == "host audit log broken" and "line 1 (session" in text
    assert auditlog.problems(files, _sums(files), at_capture=False) == []  # still readable


def test_a_lock_held_by_a_stopped_writer_fails_the_write_instead_of_hanging(
    log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fcntl

    sessions(1)
    monkeypatch.setattr(audit, "LOCK_PATIENCE", 0.2)
    with log.open("a") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)  # as a debugtool stopped mid-write holds it
        with pytest.raises(audit.AuditUnavailable, match="held its lock"):
            audit.write(audit.Record(action="exec", argv=["true"]))
    audit.write(audit.Record(action="exec", argv=["true"]))  # released: written, chained
    assert chain.verify(str(log)).chained == 3


def test_a_pseudonymised_copy_checks_each_line_by_its_facts(log: Path) -> None:
    from debugtool.bundle import auditlog

    audit.write(audit.Record(action="exec", argv=["true"]))
    audit.write(audit.Record(action="exec", argv=["id"], exit_code=0))
    files = _bundled(log)
    host = json.loads(files[auditlog.LOG].splitlines()[0])["host"].encode()
    assert host and b"***REDACTED***" not in files[auditlog.LOG]  # nothing masked: checked whole
    named = dict(files)
    named[auditlog.LOG] = files[auditlog.LOG].replace(b'"' + host + b'"', b'"host-94d72685"')
    # The host's name replaced by its pseudonym in every line: damage, unless the bundle says
    # it was pseudonymised; then each line is checked by its facts, as a masked line is.
    assert len(auditlog.problems(named, _sums(named))) == 2
    assert auditlog.problems(named, _sums(named), pseudonymised=True) == []
    lines = named[auditlog.LOG].splitlines(keepends=True)
    named[auditlog.LOG] = lines[0] + lines[1].replace(b'"exit_code": 0', b'"exit_code": 1')
    [(_kind, _member, text)] = auditlog.problems(named, _sums(named), pseudonymised=True)
    assert "line 2 was altered (its time, action, target, mode or exit code" in text
