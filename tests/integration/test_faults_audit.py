"""Fault suite, audit trail: an exec is on record before it runs and its end is recorded on every
exit path that leaves debugtool alive; a log that cannot be written runs nothing; a log that is
a FIFO, a device or a directory is refused in one sentence, never waited on. Whatever the exit
path, what is left in the log is a hash chain that ``audit verify`` accepts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import harness
import pytest

from debugtool import audit


@pytest.fixture(scope="module")
def started(module_containers: harness.Containers) -> dict[str, harness.Started]:
    c = module_containers
    return {"docker": c.docker(), "runc": c.runc()}


def _sessions(path: Path) -> list[audit.Record]:
    return audit.sessions(audit.read(str(path)))


def _chain_verifies(path: Path) -> None:
    """``audit verify`` on the log: intact, every line chained."""
    result = harness.run_cli("audit", "verify", "--json", env={"DEBUGTOOL_AUDIT_LOG": str(path)})
    doc = json.loads(result.stdout)
    assert result.returncode == 0 and doc["intact"], doc["problems"]
    assert doc["chained"] == len(audit.read(str(path))) and doc["legacy"] == 0


@pytest.fixture
def small_fs(tmp_path: Path):
    """A 256 KiB tmpfs of the test's own, unmounted afterwards."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(directory: Path) -> None:
    with open(directory / "filler", "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
        except OSError:
            pass


def test_a_full_disk_runs_nothing(started, cli, small_fs: Path, tmp_path: Path) -> None:
    _fill(small_fs)
    marker = tmp_path / f"ran-{uuid.uuid4().hex}"
    result = cli(
        "exec", "--mode", "ns", "--ns", "uts", started["docker"].name, "--",
        "touch", str(marker),
        env={"DEBUGTOOL_AUDIT_LOG": str(small_fs / "audit.jsonl")},
    )  # fmt: skip
    assert result.returncode == 125, result.stderr
    assert "cannot write the audit log" in result.stderr
    assert "No space left on device" in result.stderr and "nothing was run" in result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert not marker.exists()
    _chain_verifies(small_fs / "audit.jsonl")  # nothing, or whole lines only


def _in_cgroup_not_in_pidns(container_pid: int) -> list[int]:
    """PIDs in the container's cgroups that are not in its PID namespace (a joiner left over)."""
    pidns = os.readlink(f"/proc/{container_pid}/ns/pid")
    strays = set()
    with open(f"/proc/{container_pid}/cgroup") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            hierarchy = controllers.replace("name=", "").split(",")[0] or "unified"
            procs = Path(f"/sys/fs/cgroup/{hierarchy}{path}/cgroup.procs")
            if not procs.exists():
                procs = Path(f"/sys/fs/cgroup{path}/cgroup.procs")  # a v2-only host
            for word in procs.read_text().split() if procs.exists() else []:
                try:
                    if os.readlink(f"/proc/{word}/ns/pid") != pidns:
                        strays.add(int(word))
                except OSError:
                    pass  # gone meanwhile
    return sorted(strays)


def test_an_exec_called_off_leaves_no_joiner_in_the_container(
    started, cli, small_fs: Path, tmp_path: Path
) -> None:
    """ns mode starts its joiner before the start record is written (it joins the cgroups
    meanwhile); when the record cannot be written the joiner leaves with nothing run."""
    _fill(small_fs)
    for runtime in ("docker", "runc"):
        c = started[runtime]
        marker = tmp_path / f"ran-{uuid.uuid4().hex}"
        result = cli(
            "exec", "--mode", "ns", c.name, "--", "touch", str(marker),
            env={"DEBUGTOOL_AUDIT_LOG": str(small_fs / "audit.jsonl")},
        )  # fmt: skip
        assert result.returncode == 125, result.stderr
        assert "nothing was run" in result.stderr
        assert not marker.exists()
        assert _in_cgroup_not_in_pidns(c.pid) == []


def test_a_disk_that_fills_during_the_command_keeps_its_exit_code(
    started, cli, small_fs: Path
) -> None:
    """The start is written; the command fills the disk (it runs in the host's mount
    namespace: only uts is joined); the end cannot be written: a warning, and the command's
    own exit code, not debugtool's."""
    log = small_fs / "audit.jsonl"
    result = cli(
        "exec", "--mode", "ns", "--ns", "uts", started["docker"].name, "--",
        # Pad the log's last page with a blank line first, so the end record needs a new one.
        "sh", "-c", f"n=$(stat -c %s {log}); head -c $((4095 - n % 4096)) /dev/zero "
        f"| tr '\\0' ' ' >> {log}; echo >> {log}; cat /dev/zero > {small_fs}/filler 2>/dev/null; "
        "exit 7",
        env={"DEBUGTOOL_AUDIT_LOG": str(log)},
    )  # fmt: skip
    assert result.returncode == 7, result.stderr
    assert "warning: cannot write the audit log" in result.stderr
    [session] = _sessions(log)
    assert session.phase == "start" and session.argv[0] == "sh"
    _chain_verifies(log)  # the blank padding carries nothing; the start is whole


@pytest.mark.parametrize("kind", ["fifo", "device", "directory"])
def test_a_log_that_is_not_a_regular_file_is_refused(
    started, cli, tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "audit.jsonl"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        path = Path("/dev/full")
    else:
        path.mkdir()
    env = {"DEBUGTOOL_AUDIT_LOG": str(path)}
    result = cli("exec", started["docker"].name, "--", "true", env=env, timeout=20)
    assert result.returncode == 125, result.stderr
    assert f"cannot write the audit log {path}" in result.stderr
    listed = cli("audit", env=env, timeout=20)
    if kind == "device" or kind == "fifo" or kind == "directory":
        assert listed.returncode == 125, listed.stderr
        assert f"cannot read the audit log {path}" in listed.stderr
        assert "not a regular file" in listed.stderr
    assert "Traceback" not in result.stderr + listed.stderr


def _start_exec(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "debugtool", "exec", *args],
        env={**os.environ, "DEBUGTOOL_AUDIT_LOG": str(log)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _wait_for_start(log: Path) -> None:
    for _ in range(200):
        if log.exists() and _sessions(log):
            return
        time.sleep(0.02)
    raise AssertionError("no start record")


CASES = [("docker", "runtime"), ("runc", "runtime"), ("docker", "ns"), ("runc", "toolbox")]


@pytest.mark.parametrize(("runtime", "mode"), CASES)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_signal_to_debugtool_is_on_record(
    started, tmp_path: Path, runtime: str, mode: str, signum: int
) -> None:
    log = tmp_path / "audit.jsonl"
    proc = _start_exec(["--mode", mode, started[runtime].name, "--", "sleep", "30"], log)
    try:
        _wait_for_start(log)
        [session] = _sessions(log)
        assert session.phase == "start" and session.state() == "running"
        time.sleep(0.5)  # the command is running
        proc.send_signal(signum)
        proc.wait(timeout=20)
    finally:
        proc.kill()
        proc.wait()
    [session] = _sessions(log)
    assert session.phase == "end", proc.stderr.read() if proc.stderr else ""  # type: ignore[union-attr]
    assert session.exit_code == 128 + signum
    assert proc.returncode == 128 + signum
    _chain_verifies(log)


def test_sigkill_leaves_the_start_and_audit_shows_it_never_ended(
    started, cli, tmp_path: Path
) -> None:
    log = tmp_path / "audit.jsonl"
    proc = _start_exec(["--mode", "ns", started["docker"].name, "--", "sleep", "30"], log)
    try:
        _wait_for_start(log)
        proc.kill()
        proc.wait(timeout=10)
    finally:
        proc.kill()
    [session] = _sessions(log)
    assert session.phase == "start" and session.state() == "lost"
    table = cli("audit", env={"DEBUGTOOL_AUDIT_LOG": str(log)})
    assert table.returncode == 0 and "never ended" in table.stdout
    as_json = cli("audit", "--json", env={"DEBUGTOOL_AUDIT_LOG": str(log)})
    assert [s["state"] for s in json.loads(as_json.stdout)] == ["lost"]
    _chain_verifies(log)
    # The next session chains on from the start the killed one left.
    assert cli("exec", started["docker"].name, "--", "true",
               env={"DEBUGTOOL_AUDIT_LOG": str(log)}).returncode == 0  # fmt: skip
    _chain_verifies(log)
    assert [r.seq for r in audit.read(str(log))] == [1, 2, 3]


def test_each_session_has_a_start_and_an_end(started, cli, tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    result = cli(
        "exec", started["runc"].name, "--", "sh", "-c", "exit 3",
        env={"DEBUGTOOL_AUDIT_LOG": str(log)},
    )  # fmt: skip
    assert result.returncode == 3
    records = audit.read(str(log))
    assert [r.phase for r in records] == ["start", "end"]
    assert records[0].session == records[1].session and records[0].session
    assert records[1].exit_code == 3 and records[0].exit_code is None
    assert records[0].epoch <= records[1].epoch
    _chain_verifies(log)


@pytest.mark.parametrize("mode", ["runtime", "ns"])
def test_a_container_gone_during_the_command_leaves_a_chain_that_verifies(
    containers: harness.Containers, tmp_path: Path, mode: str
) -> None:
    c = containers.docker()
    log = tmp_path / "audit.jsonl"
    proc = _start_exec(["--mode", mode, c.name, "--", "sleep", "30"], log)
    try:
        _wait_for_start(log)
        time.sleep(0.5)  # the command is running
        harness.run("docker", "kill", c.id)
        proc.wait(timeout=60)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 125
    [session] = _sessions(log)
    assert session.phase == "end" and session.exit_code == 125
    assert "stopped while the command was running" in session.error
    _chain_verifies(log)
