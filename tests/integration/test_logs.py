"""`debugtool logs` on real runtimes: Docker (its API, its json-file read directly, a hung
daemon, a real rotation followed, 10 MB of log), podman's k8s-file, containerd with and
without a log URI, runc and a bare sandbox (no log: where stdout goes).

No kubelet runs here, so no CRI log file written by a runtime: the CRI parser is tested on
podman's k8s-file (conmon writes the same format) and in tests/unit/test_logs_formats.py.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import harness
import pytest

from debugtool.logs.formats import JsonFileDecoder
from debugtool.logs.sources import FileLog

#: A container's output with a hostile line: a window title (OSC), a screen clear (CSI), BEL.
HOSTILE = r"printf 'evil \033]0;pwned\007 \033[2J done\n'"
#: The pause keeps the order of the two streams known: a runtime copies them apart.
SCRIPT = f"echo first; echo to-stderr >&2; sleep 0.3; {HOSTILE}; echo last"


def json_log(cid: str) -> Path:
    return Path(f"/var/lib/docker/containers/{cid}/{cid}-json.log")


@pytest.fixture(scope="module")
def web(module_containers: harness.Containers) -> harness.Started:
    started = module_containers.docker(cmd=("/bin/sh", "-c", f"{SCRIPT}; sleep 100000"))
    harness.wait_for(lambda: b"last" in json_log(started.id).read_bytes(), what="the log written")
    return started


# --- Docker ------------------------------------------------------------------------------------


def test_docker_streams_split_and_escape_sequences_shown(web, cli) -> None:
    done = cli("logs", web.name)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "first\nevil \\x1b]0;pwned\\x07 \\x1b[2J done\nlast\n"
    assert done.stderr == "to-stderr\n"
    assert "\x1b" not in done.stdout + done.stderr


def test_docker_tail_timestamps_and_json_match_docker_logs(web, cli) -> None:
    ours = cli("logs", "--tail", "2", "-t", web.id)
    theirs = harness.run("docker", "logs", "--tail", "2", "-t", web.id)
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout.splitlines()[-1] == theirs.splitlines()[-1]  # "TIME last", to the ns
    records = [json.loads(line) for line in cli("logs", "--json", web.name).stdout.splitlines()]
    # dockerd copies stdout and stderr in two goroutines: where to-stderr lands varies.
    assert [r["line"] for r in records if r["stream"] == "stdout"] == [
        "first",
        "evil \x1b]0;pwned\x07 \x1b[2J done",  # exact in JSON (escaped by JSON itself)
        "last",
    ]
    assert [r["line"] for r in records if r["stream"] == "stderr"] == ["to-stderr"]
    assert all(r["time"].endswith("Z") and len(r["time"]) == 30 for r in records)
    since = records[-1]["time"]
    assert cli("logs", "--since", since, web.name).stdout.splitlines() == ["last"]
    assert cli("logs", "--tail", "0", web.name).stdout == ""


def exited(started: harness.Started) -> bool:
    status = harness.run("docker", "inspect", "-f", "{{.State.Status}}", started.id)
    return "exited" in status


def test_docker_json_file_and_api_match_docker_logs(containers, cli) -> None:
    """json-file (read by debugtool from the file) and the local driver (only dockerd reads
    it: through the API stream) against ``docker logs`` of the same output."""
    by_file = containers.docker(cmd=("/bin/sh", "-c", SCRIPT))
    by_api = containers.docker("--log-driver", "local", cmd=("/bin/sh", "-c", SCRIPT))
    harness.wait_for(lambda: exited(by_file) and exited(by_api), what="both containers done")
    for started in (by_file, by_api):
        ours = cli("logs", "-t", started.name)
        docker = subprocess.run(
            ["docker", "logs", "-t", started.id], capture_output=True, text=True, check=True
        )
        assert ours.returncode == 0, ours.stderr
        escaped = docker.stdout.replace("\x1b", "\\x1b").replace("\x07", "\\x07")
        assert ours.stdout == escaped
        assert ours.stderr == docker.stderr
    # The file reader alone, on the file dockerd wrote.
    log = FileLog(str(json_log(by_file.id)), JsonFileDecoder, "test")
    lines = [line for batch in log.read() for line in batch]
    assert [line.line for line in lines if line.stream == "stdout"][0] == "first"


@pytest.mark.parametrize("driver", ["json-file", "local"])
def test_docker_follow_prints_new_lines_and_ends_with_the_container(containers, driver) -> None:
    """json-file: followed in the file, ended by the container's pidfd; local: Docker's API
    stream, ended by dockerd."""
    started = containers.docker(
        "--log-driver",
        driver,
        cmd=("/bin/sh", "-c", "echo one; sleep 2; echo two; sleep 1; echo three"),
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "debugtool", "logs", "-f", started.id],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = proc.stdout.readline()  # type: ignore[union-attr]
        assert first == "one\n"
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert out == "two\nthree\n"


def test_follow_stops_on_ctrl_c_with_130(web) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "debugtool", "logs", "-f", web.name],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline() == "first\n"  # type: ignore[union-attr]
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    assert "Traceback" not in err


def test_docker_hung_daemon_reads_the_json_file(web, cli, tmp_path) -> None:
    """dockerd that accepts and never answers: the list comes from its state files, the log
    from the json-file, with one warning."""
    folder = Path(f"/tmp/dtlg-{uuid.uuid4().hex[:8]}")
    folder.mkdir()
    stop = threading.Event()

    def hang(line: bytes) -> Iterator[bytes]:
        stop.wait(30)
        yield b""

    daemon = harness.FakeDaemon(str(folder / "docker.sock"), hang)
    try:
        done = cli("--timeout", "1", "logs", "--tail", "2", f"docker:{web.name}", env=daemon.env)
    finally:
        stop.set()
        daemon.close()
        shutil.rmtree(folder, ignore_errors=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "evil \\x1b]0;pwned\\x07 \\x1b[2J done\nlast\n"
    assert f"reading {json_log(web.id)} instead" in done.stderr


def test_ten_megabytes_of_log_tail_is_right(containers, cli) -> None:
    started = containers.docker(
        cmd=(
            "/bin/sh",
            "-c",
            'seq 1 200000 | while read n; do echo "line $n of a long log, padded to be longer'
            ' than most"; done',
        )
    )
    harness.wait_for(
        lambda: "exited" in harness.run("docker", "inspect", "-f", "{{.State.Status}}", started.id),
        timeout=300,
        what="200,000 lines written",
    )
    assert json_log(started.id).stat().st_size > 10_000_000
    ours = cli("logs", "--tail", "1000", started.name)
    theirs = harness.run("docker", "logs", "--tail", "1000", started.name)
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == theirs
    assert ours.stdout.splitlines()[0].startswith("line 199001 of")
    assert ours.stdout.splitlines()[-1].startswith("line 200000 of")


def numbered(lines: list[str]) -> list[int]:
    return [int(line.split()[1]) for line in lines if line.startswith("n ")]


def test_follow_across_a_real_json_file_rotation(containers, tmp_path) -> None:
    """Docker rotates at 100 KiB, keeping 3 files, while the CLI and the file follower follow:
    every line once, in order (dockerd 20.10's own follow, ``docker logs -f``, repeats and
    drops lines here)."""
    started = containers.docker(
        "--log-opt",
        "max-size=100k",
        "--log-opt",
        "max-file=3",
        cmd=(
            "/bin/sh",
            "-c",
            "sleep 2; n=0; while [ $n -lt 6000 ]; do i=0; while [ $i -lt 100 ]; do "
            'echo "n $n padding padding padding padding padding padding"; '
            "i=$((i+1)); n=$((n+1)); done; sleep 0.05; done",
        ),
    )
    path = json_log(started.id)
    harness.wait_for(path.exists, what="the json-file created")
    # A file, not a pipe: a pipe nobody reads would stop the CLI, and a follower held up
    # while two files rotate away has lost them.
    output = tmp_path / "out.txt"
    with open(output, "w") as out_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "debugtool", "logs", "-f", started.id],
            stdout=out_file,
            stderr=subprocess.PIPE,
            text=True,
        )
    follower_lines: list[str] = []

    def running() -> bool:
        return "running" in harness.run(
            "docker", "inspect", "-f", "{{.State.Status}}", started.id, check=False
        )

    log = FileLog(str(path), JsonFileDecoder, "test")
    for batch in log.read(follow=True, alive=running):
        follower_lines += [line.line for line in batch]
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert len(list(path.parent.glob(path.name + ".*"))) == 2  # it did rotate
    assert numbered(output.read_text().splitlines()) == list(range(6000))
    assert numbered(follower_lines) == list(range(6000))


# --- podman ------------------------------------------------------------------------------------


def test_podman_k8s_file(containers, cli) -> None:
    started = containers.podman(cmd=("/bin/sh", "-c", f"{SCRIPT}; sleep 100000"))
    harness.wait_for(
        lambda: "last" in harness.run("podman", "logs", started.id, check=False),
        what="podman's log written",
    )
    done = cli("logs", f"podman:{started.name}")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "first\nevil \\x1b]0;pwned\\x07 \\x1b[2J done\nlast\n"
    assert done.stderr == "to-stderr\n"
    stamped = cli("logs", "-t", "--tail", "1", started.id).stdout
    theirs = harness.run("podman", "logs", "-t", "--tail", "1", started.id)
    assert stamped.split()[1] == "last" and theirs.split()[-1] == "last"


# --- containerd --------------------------------------------------------------------------------


def test_containerd_log_uri_file(containers, cli, tmp_path) -> None:
    path = tmp_path / "ctr.log"
    started = containers.containerd(
        "--log-uri", f"file://{path}", cmd=("/bin/sh", "-c", f"{SCRIPT}; sleep 100000")
    )
    harness.wait_for(
        lambda: path.exists() and b"last" in path.read_bytes(), what="ctr's log written"
    )
    done = cli("logs", f"containerd:{started.name}")
    assert done.returncode == 0, done.stderr
    # The shim writes stdout and stderr to one file, as they come: no stream, no time.
    assert sorted(done.stdout.splitlines()) == sorted(
        ["first", "to-stderr", "evil \\x1b]0;pwned\\x07 \\x1b[2J done", "last"]
    )
    assert cli("logs", "--tail", "1", f"containerd:{started.name}").stdout == "last\n"


def test_containerd_without_a_log_uri_says_so(containers, cli) -> None:
    started = containers.containerd()
    done = cli("logs", f"containerd:{started.name}")
    assert done.returncode == 1
    assert done.stdout == ""
    assert "started without a log URI" in done.stderr and "--log-uri" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


# --- runtimes that keep nothing -----------------------------------------------------------------


def test_runc_and_a_sandbox_say_where_stdout_goes(containers, cli) -> None:
    runc = containers.runc()
    done = cli("logs", f"runc:{runc.name}")
    assert done.returncode == 1, done.stderr
    assert "runc keeps no log of" in done.stderr and "goes to /dev/null" in done.stderr
    sandbox = containers.sandbox()
    done = cli("logs", f"pid:{sandbox.pid}")
    assert done.returncode == 1, done.stderr
    assert "no runtime keeps a log of" in done.stderr
    assert f"host PID {sandbox.pid}) goes to /dev/null" in done.stderr
    assert "Traceback" not in done.stderr
