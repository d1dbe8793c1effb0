"""The fault suite (issue 12) against real runtimes: the CLI when Docker answers garbage, a runc
root holding broken state files beside a real container, a container that restarts in a loop,
kernel threads and bad numbers on the command line.

Docker's garbage comes from a fake Engine API on a unix socket (DOCKER_HOST), since no real
daemon can be made to send it; the containers it should still name are real. The same faults
on captured and crafted input are in tests/unit/test_faults_runtimes.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import harness
import pytest

from debugtool.errors import DebugtoolError
from debugtool.source import LiveSource

DEEP = b"[" * 100_000 + b"]" * 100_000


class GarbageDocker(harness.FakeDaemon):
    """A fake Docker socket in a directory of its own that answers every request with
    ``answer()``'s chunks."""

    def __init__(self, answer: Callable[[], Iterator[bytes]]) -> None:
        self.dir = Path(f"/tmp/dtfl-{uuid.uuid4().hex[:8]}")
        self.dir.mkdir()
        super().__init__(str(self.dir / "docker.sock"), lambda line: answer())

    def close(self) -> None:
        super().close()
        shutil.rmtree(self.dir, ignore_errors=True)


def head(body: bytes = b"") -> bytes:
    return b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" + body


def endless() -> Iterator[bytes]:
    yield head()
    chunk = b'{"Id":"0"},' * 6000
    for _ in range((2 << 30) // len(chunk)):  # 2 GiB at most, so a failing test ends
        yield chunk


@pytest.fixture(scope="module")
def web(module_containers: harness.Containers) -> harness.Started:
    return module_containers.docker()


@pytest.fixture
def garbage(request: pytest.FixtureRequest) -> Iterator[GarbageDocker]:
    server = GarbageDocker(request.param)
    yield server
    server.close()


def one_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.parametrize(
    ("garbage", "reason"),
    [
        (lambda: iter([head(DEEP)]), "with something not JSON (nested too deeply)"),
        (lambda: iter([head(b'{"a":1}')]), "with a JSON object, not a list"),
        (lambda: iter([head(b'[{"Id": "56fd1f6')]), "with something not JSON (Unterminated"),
        (lambda: iter([head()]), "with something not JSON (an empty body)"),
        (endless, "with more than 32 MiB (not read further)"),
    ],
    indirect=["garbage"],
    ids=["deep", "object", "truncated", "empty", "endless"],
)
def test_docker_answering_garbage_still_names_its_live_containers(
    web: harness.Started, garbage: GarbageDocker, reason: str, cli
) -> None:
    """Before: Docker was dropped with no fallback, so its live containers could not be named
    (and a 1 GB answer cost 1.3-1.8 GB of memory)."""
    result = cli("ps", "--json", env=garbage.env, timeout=60)
    out, err = result.stdout, result.stderr
    assert result.returncode == 0, err
    about_docker = [line for line in err.splitlines() if "docker" in line]
    assert len(about_docker) == 1, err
    assert reason in about_docker[0]
    assert about_docker[0].endswith("containers instead (no exec through Docker).")
    assert "Traceback" not in err
    listed = {c["id"]: c for c in json.loads(out)}
    record = listed[web.id]
    assert (record["runtime"], record["name"], record["pid"], record["status"]) == (
        "docker",
        web.name,
        web.pid,
        "running",
    )
    # ... and it can be named: top reads its processes by that name.
    top = cli("top", web.name, "--json", env=garbage.env, timeout=60)
    assert top.returncode == 0, top.stderr
    assert any(p["pid"] == web.pid for p in json.loads(top.stdout))


def test_an_endless_docker_answer_costs_tens_of_mb_not_gb(web: harness.Started) -> None:
    server = GarbageDocker(endless)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "debugtool", "--timeout", "30", "ps"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env={**os.environ, **server.env},
        )
        assert proc.stderr is not None
        err = proc.stderr.read().decode()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    finally:
        server.close()
    assert proc.returncode == 0, err
    assert "more than 32 MiB" in err
    assert usage.ru_maxrss < 200 << 10, f"peak RSS {usage.ru_maxrss >> 10} MiB"  # KiB


@pytest.mark.parametrize("garbage", [lambda: iter([head(DEEP)])], indirect=True, ids=["deep"])
def test_bundle_records_dockers_garbage_version(
    web: harness.Started, garbage: GarbageDocker, cli, tmp_path: Path
) -> None:
    """Before: a raw thread traceback, and Docker silently missing from host/runtimes."""
    out = tmp_path / "b.tar.gz"
    result = cli("bundle", web.name, "-o", str(out), "--json", env=garbage.env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "Exception in thread" not in result.stderr
    with tarfile.open(out, "r:gz") as tar:
        (name,) = [n for n in tar.getnames() if n.endswith("/host/runtimes.json")]
        member = tar.extractfile(name)
        assert member is not None
        versions = json.load(member)
    assert versions["docker-engine"] == (
        "error: answered GET /version with something not JSON (nested too deeply)"
    )
    assert versions.get("runc", "").startswith("runc version")


# --- runc: broken state files beside a real container -----------------------------------------


@pytest.fixture
def runc_root(containers: harness.Containers) -> Iterator[tuple[Path, harness.Started]]:
    """A private runc root holding one real container and crafted state directories."""
    root = Path(f"/run/dtf-runc-{uuid.uuid4().hex[:8]}")
    started = containers.runc(root=str(root))
    real = json.loads((root / started.id / "state.json").read_text())
    crafted = {
        "deep": b'{"config":' + DEEP + b',"id":"deep"}',
        "inf-pid": json.dumps({**real, "id": "inf-pid"})
        .replace(f'"init_process_pid": {started.pid}', '"init_process_pid": 1e400')
        .encode(),
        "true-pid": json.dumps({**real, "id": "true-pid", "init_process_pid": True}).encode(),
        "host-init": json.dumps(
            {**real, "id": "host-init", "init_process_pid": 1, "init_process_start": 1}
        ).encode(),
        "evil\n\x1b[2J\x1b]52;c;aGk=\x07": b"{",
    }
    for name, raw in crafted.items():
        (root / name).mkdir()
        (root / name / "state.json").write_bytes(raw)
    yield root, started
    for name in crafted:
        shutil.rmtree(root / name, ignore_errors=True)
    containers.cleanup()  # runc delete, before the root goes
    shutil.rmtree(root, ignore_errors=True)


def test_broken_runc_state_files_cost_only_themselves(
    runc_root: tuple[Path, harness.Started], cli
) -> None:
    """Before: one such file dropped runc altogether, and ``true`` listed the host's init as
    ``running 1``."""
    root, started = runc_root
    result = cli("--oci-root", str(root), "ps", "-a", "--json", timeout=60)
    assert result.returncode == 0, result.stderr
    ours = {c["id"]: c for c in json.loads(result.stdout) if c.get("oci_root") == str(root)}
    assert set(ours) == {started.id}
    assert (ours[started.id]["status"], ours[started.id]["pid"]) == ("running", started.pid)
    about_root = [line for line in result.stderr.splitlines() if str(root) in line]
    assert len(about_root) == 5, result.stderr
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr  # escaped for the terminal
    text = "\n".join(about_root)
    assert "deep/state.json: not valid JSON (nested too deeply)" in text
    assert "inf-pid/state.json: init_process_pid is not a container's process id (inf)" in text
    assert "true-pid/state.json: init_process_pid is not a container's process id (True)" in text
    assert "host-init/state.json: init_process_pid is not a container's process id (1)" in text


def test_oci_root_proc_is_one_warning(cli) -> None:
    """Before: one warning per process (3,349 on a busy host)."""
    result = cli("--oci-root", "/proc", "ps", timeout=120)
    assert result.returncode == 0, result.stderr
    about_proc = [line for line in result.stderr.splitlines() if "/proc" in line]
    assert len(about_proc) == 1, result.stderr
    assert about_proc[0].startswith("debugtool: warning: crun: skipped ")
    assert (
        "entries of /proc that hold no crun state it can read (not a state root?); "
        in (about_proc[0])
    )


# --- a container that restarts in a loop ------------------------------------------------------


def test_a_flapping_container_is_never_running_and_not_running(
    containers: harness.Containers,
) -> None:
    """Before: 'is not running (status: running)' in 14 runs of 60."""
    flap = containers.docker("--restart", "always", cmd=("/bin/sh", "-c", "sleep 0.1"))
    said: dict[str, int] = {}
    for _ in range(60):
        try:
            with LiveSource(timeout=2) as source:
                source.target(source.find(flap.name))
                said["resolved"] = said.get("resolved", 0) + 1
        except DebugtoolError as exc:
            sentence = exc.message.replace(flap.id[:12], "ID")
            said[sentence] = said.get(sentence, 0) + 1
    for sentence in said:
        assert "(status: running)" not in sentence and "(status: paused)" not in sentence, said
        assert sentence == "resolved" or sentence.startswith(f"container {flap.name} (ID) "), said


# --- the command line -------------------------------------------------------------------------


def test_kernel_threads_and_the_hosts_init_are_no_container(cli) -> None:
    if Path("/proc/2/comm").read_text().strip() != "kthreadd":
        pytest.skip("PID 2 is not kthreadd here (a PID namespace)")
    for target, sentence in (
        ("pid:2", "process 2 (kthreadd) is a kernel thread, not a process of a container."),
        ("pid:1", "pid:1 is this host's init, not a process of a container."),
    ):
        for command in ("top", "mounts", "net", "inspect"):
            result = cli(command, target, timeout=60)
            assert result.returncode == 125, (command, target, result.stderr)
            assert one_line(result.stderr).startswith(f"debugtool: {sentence}")


@pytest.mark.parametrize(
    "argv",
    [
        ("--timeout", "inf", "ps"),
        ("--timeout", "nan", "ps"),
        ("--timeout", "-1", "ps"),
        ("top", "--interval", "inf", "pid:1"),
        ("bundle", "--all", "--budget", "nan"),
        ("bundle", "--all", "--max-size", "1"),
    ],
    ids=" ".join,
)
def test_numbers_debugtool_cannot_use_are_refused_before_anything_runs(
    argv: tuple[str, ...], cli, tmp_path: Path
) -> None:
    """Before: OverflowError (inf), every runtime skipped with success (nan, -1), thread
    tracebacks, or a bundle far over --max-size."""
    started = time.monotonic()
    result = cli(*argv, "-o", str(tmp_path / "b.tar.gz")) if "bundle" in argv else cli(*argv)
    assert result.returncode == 125
    line = one_line(result.stderr)
    assert line.startswith("debugtool: ") and "Traceback" not in result.stderr
    assert result.stdout == "" and not (tmp_path / "b.tar.gz").exists()
    assert time.monotonic() - started < 10
