"""Accountable sessions on real containers (issue 17): a reason on every session and a policy
that makes it mandatory, the operator's login uid and sudo user in the record, a hash chain
that concurrent execs keep whole, and bundles that carry the log and let ``bundle verify``
check its chain."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path

import harness
import pytest

from debugtool import audit, chain


@pytest.fixture(scope="module")
def started(module_containers: harness.Containers) -> dict[str, harness.Started]:
    c = module_containers
    return {"docker": c.docker(), "runc": c.runc()}


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "DEBUGTOOL_AUDIT_LOG": str(tmp_path / "audit" / "audit.jsonl"),
        "DEBUGTOOL_CONFIG": str(tmp_path / "config.toml"),
    }


def records(env: dict[str, str]) -> list[audit.Record]:
    return audit.read(env["DEBUGTOOL_AUDIT_LOG"])


def verified(cli, env: dict[str, str]) -> dict:
    result = cli("audit", "verify", "--json", env=env)
    doc = json.loads(result.stdout)
    assert result.returncode == 0 and doc["intact"], result.stdout + result.stderr
    return doc


def commands(name: str, marker: str, host_file: Path) -> dict[str, tuple[list[str], str | None]]:
    """Each audited session kind: its command line and what it reads on stdin. exec and shell
    touch ``marker`` inside the container; trace writes ``host_file``."""
    return {
        "exec": (["exec", name, "--", "touch", marker], None),
        # ns mode decides the policy while its joiner waits in the container's cgroups
        "exec-ns": (["exec", "--mode", "ns", name, "--", "touch", marker], None),
        "shell": (["shell", name], f"touch {marker}; exit 0\n"),
        "trace": (["trace", name, "--duration", "0.5", "-o", str(host_file)], None),
        "console": (["console", name, "-c", "ps"], None),
    }


def cgroup_members(pid: int) -> set[int]:
    """Return the host PIDs whose cgroups (every hierarchy) are those of process ``pid``."""
    groups = Path(f"/proc/{pid}/cgroup").read_bytes()
    members = set()
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "cgroup").read_bytes() == groups:
                members.add(int(entry.name))
        except OSError:
            pass  # gone meanwhile
    return members


@pytest.mark.parametrize("kind", ["exec", "exec-ns", "shell", "trace", "console"])
@pytest.mark.parametrize("policy", ["env", "config"])
def test_the_policy_refuses_without_a_reason_and_runs_with_one(
    started, cli, env, tmp_path: Path, kind: str, policy: str
) -> None:
    if policy == "env":
        env["DEBUGTOOL_REQUIRE_REASON"] = "1"
    else:
        Path(env["DEBUGTOOL_CONFIG"]).write_text("[audit]\nrequire_reason = true\n")
    c = started["docker"]
    marker = f"/tmp/ran-{uuid.uuid4().hex}"
    inside = Path(f"/proc/{c.pid}/root{marker}")
    host_file = tmp_path / "trace.txt"
    argv, stdin = commands(c.name, marker, host_file)[kind]
    members = cgroup_members(c.pid)
    refused = cli(*argv, input=stdin, env=env)
    assert cgroup_members(c.pid) == members  # nothing of the refused session is left in it
    assert refused.returncode == 125, refused.stderr
    assert "a reason is required" in refused.stderr and "--reason" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1  # one sentence (and its hint)
    assert not inside.exists() and not host_file.exists() and refused.stdout == ""
    [refusal] = records(env)
    assert refusal.phase == "end" and refusal.exit_code == 125 and "reason" in refusal.error

    reason = f"INC-{kind}-{policy}: checking the accountability path"
    ran = cli(argv[0], "--reason", reason, *argv[1:], input=stdin, env=env, timeout=90)
    assert ran.returncode == 0, ran.stderr
    if kind in ("exec", "exec-ns", "shell"):
        assert inside.exists()
    if kind == "trace":
        assert host_file.exists()
    start, end = records(env)[1:]
    assert (start.phase, end.phase) == ("start", "end") and start.session == end.session
    assert start.reason == end.reason == reason
    assert end.action == ("console" if kind == "console" else kind if kind == "trace" else "exec")
    assert end.exit_code == 0 and end.target_id == c.id
    verified(cli, env)
    listed = cli("audit", env=env)
    assert reason[:20] in listed.stdout


def test_the_record_names_the_operators_login_uid_and_sudo_user(started, env) -> None:
    """debugtool started by a process whose login uid was set (as pam_loginuid does at an ssh
    or console login) and under sudo's environment: the record names the operator, not only
    root."""
    code = (
        "import os, sys\n"
        "try:\n"
        "    open('/proc/self/loginuid', 'w').write('4242')\n"
        "    sys.stderr.write('loginuid set\\n')\n"
        "except OSError:\n"
        "    pass  # a kernel that refuses: SUDO_USER still says who\n"
        "os.execv(sys.executable, [sys.executable, '-m', 'debugtool', *sys.argv[1:]])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, "exec", "--reason", "INC-7: who am I",
         started["docker"].name, "--", "true"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env, "SUDO_USER": "alice", "SUDO_UID": "4242",
             "SSH_CONNECTION": "203.0.113.5 52144 198.51.100.10 22"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    start, end = records(env)
    for record in (start, end):
        assert record.reason == "INC-7: who am I"
        assert record.user == "root" and record.uid == 0
        assert (record.sudo_user, record.sudo_uid) == ("alice", 4242)
        assert (record.ssh_client, record.ssh_client_port) == ("203.0.113.5", 52144)
    if "loginuid set" in result.stderr:  # the kernel allowed it (it does here)
        assert start.login_uid == end.login_uid == 4242
    listed = harness.run_cli("audit", "--wide", env=env)
    assert "login 4242" in listed.stdout or "sudo alice" in listed.stdout
    assert "ssh 203.0.113.5:52144" in listed.stdout


def test_secret_arguments_are_masked_in_the_log_and_run_as_given(started, cli, env) -> None:
    secret = "Sup3rS3cretPw-" + uuid.uuid4().hex[:8]
    result = cli(
        "exec", started["docker"].name, "--", "sh", "-c", 'echo "$1"', "sh",
        f"--password={secret}",
        env=env,
    )  # fmt: skip
    assert result.returncode == 0 and result.stdout.strip() == f"--password={secret}"
    text = Path(env["DEBUGTOOL_AUDIT_LOG"]).read_text()
    assert secret not in text
    end = records(env)[-1]
    assert end.argv[-1] == "--password=***REDACTED***" and end.argv_masked == [4]


def test_ten_concurrent_execs_keep_the_chain_whole(started, env) -> None:
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "debugtool",
                "exec",
                "--reason",
                f"parallel {i}",
                started["runc" if i % 2 else "docker"].name,
                "--",
                "true",
            ],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        for i in range(10)
    ]
    codes = [p.wait(timeout=120) for p in procs]
    assert codes == [0] * 10, [p.stderr.read() for p in procs if p.stderr]  # type: ignore[union-attr]
    doc = verified(harness.run_cli, env)
    assert doc["chained"] == 20 and (doc["first_seq"], doc["last_seq"]) == (1, 20)
    assert sorted(r.reason for r in audit.sessions(records(env))) == sorted(
        f"parallel {i}" for i in range(10)
    )


# --- bundles ---------------------------------------------------------------------------------
CAST = b'{"version": 2, "width": 80, "height": 24}\n[0.5, "o", "/ # uname -a\\r\\n"]\n'


def _bundle(cli, env, c: harness.Started, tmp_path: Path) -> Path:
    out = tmp_path / f"b-{uuid.uuid4().hex[:6]}.tar.gz"
    result = cli("bundle", c.name, "-o", str(out), env=env, timeout=180)
    assert result.returncode == 0, result.stderr
    return out


def _members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path, "r:gz") as tar:
        return {
            m.name.split("/", 1)[1]: tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in tar
            if m.isfile()
        }


def _rewrite(src: Path, dest: Path, rel: str, data: bytes) -> None:
    """Write ``src`` again with member ``rel`` replaced and the manifest updated to match, so
    only the audit chain can tell."""
    with tarfile.open(src, "r:gz") as tin, tarfile.open(dest, "w:gz") as tout:
        for info in tin:
            content = tin.extractfile(info).read()  # type: ignore[union-attr]
            name = info.name.split("/", 1)[1]
            if name == "manifest.json":
                doc = json.loads(content)
                doc["files"][rel] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
                content = json.dumps(doc).encode()
            elif name == rel:
                content = data
            info.size = len(content)
            tout.addfile(info, io.BytesIO(content))


def test_a_bundle_holds_the_log_its_chain_and_the_recordings_and_verify_checks_them(
    started, cli, env, tmp_path: Path
) -> None:
    c = started["docker"]
    for i in range(3):
        assert cli("exec", "--reason", f"before the bundle {i}", c.name, "--", "true",
                   env=env).returncode == 0  # fmt: skip
    # A recorded session on the container, as the recording writes it beside the log.
    directory = Path(env["DEBUGTOOL_AUDIT_LOG"]).parent
    (directory / "recordings").mkdir(exist_ok=True)
    (directory / "recordings" / "s1.cast").write_bytes(CAST)
    record = audit.Record(
        action="exec", target_id=c.id, target_name=c.name, argv=["/bin/sh"], tty=True,
        interactive=True, exit_code=0, recording="recordings/s1.cast",
        recording_sha256=hashlib.sha256(CAST).hexdigest(), recording_bytes=len(CAST),
    )  # fmt: skip
    audit.write(record, env["DEBUGTOOL_AUDIT_LOG"])
    out = _bundle(cli, env, c, tmp_path)
    members = _members(out)
    assert members["host/audit.jsonl"].count(b"\n") == 7
    chain_doc = json.loads(members["host/audit-chain.json"])
    assert len(chain_doc["lines"]) == 7 and chain_doc["host_log"]["intact"] is True
    [kept] = chain_doc["recordings"]
    assert kept["member"] == "host/recordings/seq-7.cast" and members[kept["member"]] == CAST
    verify = cli("bundle", "verify", str(out), env=env)
    assert verify.returncode == 0, verify.stdout
    # Read back (the TUI's Audit tab on a bundle): one row per session, reasons kept, though
    # the redactor masked every session id.
    from debugtool.bundle.reader import open_bundle

    shown = audit.sessions(open_bundle(str(out)).audit)
    assert [r.reason for r in shown] == [f"before the bundle {i}" for i in range(3)] + [""]
    assert [r.phase for r in shown] == ["end"] * 4

    # A line removed from the bundle's copy, the manifest made to agree: the chain says so.
    lines = members["host/audit.jsonl"].splitlines(keepends=True)
    bad = tmp_path / "bad.tar.gz"
    _rewrite(out, bad, "host/audit.jsonl", b"".join(lines[:2] + lines[3:]))
    verify = cli("bundle", "verify", "-v", str(bad), env=env)
    assert verify.returncode == 1, verify.stdout
    assert "host/audit.jsonl: 6 lines, where the chain recorded 7" in verify.stdout
    assert "line 3 does not follow line 2" in verify.stdout
    # A recording changed in the bundle.
    _rewrite(out, bad, kept["member"], CAST.replace(b"uname", b"reboot"))
    verify = cli("bundle", "verify", str(bad), env=env)
    assert verify.returncode == 1 and "seq-7.cast" in verify.stdout

    # The host's log altered before the bundle is made: the bundle says it was broken.
    log = Path(env["DEBUGTOOL_AUDIT_LOG"])
    raw = log.read_bytes().splitlines(keepends=True)
    raw[1] = raw[1].replace(b"before the bundle 0", b"before the bundle X")
    log.write_bytes(b"".join(raw))
    out = _bundle(cli, env, c, tmp_path)
    verify = cli("bundle", "verify", str(out), env=env)
    assert verify.returncode == 0, verify.stdout  # the bundle is whole; the host's log was not
    assert (
        "note: host/audit-chain.json: the host's audit log was already broken when the "
        "bundle was made: line 2" in verify.stderr
    )
    as_json = json.loads(cli("bundle", "verify", "--json", str(out), env=env).stdout)
    assert as_json["ok"] is True and "line 2" in as_json["notes"][0]
    assert chain.verify(str(log)).problems[0].line == 2
