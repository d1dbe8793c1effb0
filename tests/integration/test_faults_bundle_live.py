"""Faults while bundling real containers (issue 12): writers racing for one path, a bundle on
standard output, a double Ctrl-C and a SIGKILL in the middle of a capture, a container killed
while it is captured. What each leaves behind is checked, never how long it took."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import harness
import pytest

from debugtool.bundle import reader

REPO = Path(__file__).resolve().parents[2]


def start(*args: str, env: dict[str, str] | None = None, **kw: object) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "debugtool", "bundle", *args],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        **kw,  # type: ignore[arg-type]
    )


def holds_pidfd_of(pid: int, container_pid: int) -> bool:
    """Whether process ``pid`` holds a pidfd of ``container_pid`` (it pinned the container)."""
    try:
        fds = os.listdir(f"/proc/{pid}/fdinfo")
    except OSError:
        return False
    for fd in fds:
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                if f"Pid:\t{container_pid}\n" in f.read():
                    return True
        except OSError:
            continue
    return False


def wait_until_pinned(proc: subprocess.Popen, container_pid: int) -> None:
    """Wait (a guard, not a timed assertion) until the bundle has pinned the container."""
    deadline = time.monotonic() + 120
    while not holds_pidfd_of(proc.pid, container_pid):
        assert proc.poll() is None, "the bundle ended before it pinned the container"
        assert time.monotonic() < deadline, "the bundle never pinned the container"
        time.sleep(0.02)


def debugtool_entries(directory: str) -> set[str]:
    return {n for n in os.listdir(directory) if "debugtool" in n}


@pytest.fixture(scope="module")
def web(module_containers: harness.Containers) -> harness.Started:
    return module_containers.docker(cmd=("sh", "-c", "echo faults; sleep 100000"))


@pytest.fixture(scope="module")
def noisy(module_containers: harness.Containers) -> harness.Started:
    """A container with about 9 MiB of logs: redacting and compressing them takes long enough
    that a second Ctrl-C soon after the first lands while the bundle is being written."""
    started = module_containers.docker(
        cmd=("sh", "-c", "head -c 3000000 /dev/urandom | od -x; sleep 100000")
    )
    log = harness.run("docker", "inspect", "-f", "{{.LogPath}}", started.id).strip()
    deadline = time.monotonic() + 120
    while not os.path.exists(log) or os.path.getsize(log) < 9 << 20:
        assert time.monotonic() < deadline, "the container did not write its output"
        time.sleep(0.1)
    return started


def test_of_four_concurrent_bundles_to_one_path_exactly_one_wins(
    web: harness.Started, tmp_path: Path
) -> None:
    out = tmp_path / "same.tar.gz"
    procs = [
        start(web.id, "-o", str(out), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    results = [(p.wait(120), *p.communicate()) for p in procs]
    won = [r for r in results if r[0] == 0]
    lost = [r for r in results if r[0] != 0]
    assert len(won) == 1, results
    assert won[0][1].startswith(f"bundle written: {out} (")
    for code, stdout, stderr in lost:
        assert code == 125 and stdout == "", (code, stdout, stderr)
        # Each lost either at the start (the file was there) or at the end (it appeared).
        assert stderr in (
            f"debugtool: {out} already exists. Name another file, or add --force to replace it.\n",
            f"debugtool: {out} was written by another process while this bundle was "
            "captured, so this bundle was not written. Run again with another -o FILE.\n",
        ), stderr
    assert reader.verify_bundle(str(out)) == []
    assert os.listdir(tmp_path) == ["same.tar.gz"]
    # --force replaces it, and says so.
    again = harness.run_cli("bundle", web.id, "-o", str(out), "--force", timeout=120)
    assert again.returncode == 0 and again.stdout.startswith(f"bundle replaced: {out} (")


def test_a_bundle_on_standard_output(web: harness.Started, tmp_path: Path) -> None:
    for extra in ([], ["--json"]):
        archive = tmp_path / f"stdout{len(extra)}.tar.gz"
        with open(archive, "wb") as sink:
            proc = start(web.id, "-o", "-", *extra, stdout=sink, stderr=subprocess.PIPE)
            _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert reader.verify_bundle(str(archive)) == []  # nothing else mixed into it
        assert [c.id for c in reader.open_bundle(str(archive)).containers] == [web.id]
        if extra:
            assert json.loads(err)["path"] == "-"
        else:
            assert err.decode().startswith("bundle written: standard output (")
    # Not onto a terminal.
    master, slave = pty.openpty()
    try:
        proc = start(web.id, "-o", "-", stdout=slave, stderr=subprocess.PIPE, text=True)
        _, err = proc.communicate(timeout=60)
    finally:
        os.close(slave)
        os.close(master)
    assert proc.returncode == 125
    assert err == (
        "debugtool: -o - writes the bundle to standard output, which is a terminal. Redirect "
        "it to a file or a pipe, or name a file with -o.\n"
    )


@pytest.mark.parametrize("how", ["double Ctrl-C", "SIGKILL"])
def test_an_aborted_bundle_leaves_nothing_behind(
    noisy: harness.Started, tmp_path: Path, how: str
) -> None:
    outdir, tmpdir = tmp_path / "out", tmp_path / "tmp"
    outdir.mkdir()
    tmpdir.mkdir()
    shm = debugtool_entries("/dev/shm")
    proc = start(
        noisy.id,
        "--log-lines",
        "0",
        "--samples",
        "40",  # a 20-second sampling window to interrupt
        "-o",
        str(outdir / "b.tar.gz"),
        env={"TMPDIR": str(tmpdir)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_until_pinned(proc, noisy.pid)
    time.sleep(1.0)  # into the sampling window
    if how == "SIGKILL":
        proc.kill()
    else:
        proc.send_signal(signal.SIGINT)
        time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    if how == "SIGKILL":
        assert proc.returncode == -signal.SIGKILL
    else:
        assert proc.returncode == 130 and "Traceback" not in err, err
    assert debugtool_entries("/dev/shm") <= shm
    assert os.listdir(tmpdir) == []
    left = os.listdir(outdir)
    # The second Ctrl-C may only come once the bundle is whole: then it is there, verified.
    assert left in ([], ["b.tar.gz"]), left
    if left:
        assert reader.verify_bundle(str(outdir / "b.tar.gz")) == []


def test_a_container_killed_during_capture_is_recorded(
    containers: harness.Containers, tmp_path: Path
) -> None:
    victim = containers.docker(cmd=("sleep", "100000"))
    out = tmp_path / "killed.tar.gz"
    proc = start(
        victim.id,
        "--samples",
        "6",
        "-o",
        str(out),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_until_pinned(proc, victim.pid)
    os.kill(victim.pid, signal.SIGKILL)  # the container's init: the container exits
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    assert f"exited during capture: {victim.name} ({victim.id[:12]})" in stdout
    b = reader.open_bundle(str(out))
    (record,) = b.manifest["containers"]
    assert record["exited_during_capture"] is True and record["status"] == "exited"
    assert b.containers[0].status == "exited"
    shown = harness.run_cli("bundle", "show", str(out))
    assert shown.returncode == 0, shown.stderr
    assert f"exited during capture: {victim.name}" in shown.stdout.split("\n")[3]
    assert "exited during capture" in shown.stdout.split("ID ", 1)[1].splitlines()[1]
    # The offline views say it too: the HTML report and the TUI's banner.
    with tarfile.open(out) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("report.html"))
        page = tar.extractfile(member).read().decode()  # type: ignore[union-attr]
    assert "status exited during capture" in page
    from debugtool.source import BundleSource

    assert f"Exited during capture: {victim.name}." in BundleSource(str(out)).banner(0)
