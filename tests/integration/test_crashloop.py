"""Crash loops and stopped containers on real runtimes (issue 18): the last state in ``ps -a``,
``inspect`` and bundles, ``logs --previous``, and exec refused on a stopped container.

A Docker container with ``--restart always`` that prints which run it is and exits 3 (it counts
its runs in its own writable layer: that is the container's doing, not debugtool's); one that
the kernel OOM-kills under ``--memory 16m`` with no swap; a podman container that exits 5.
"""

from __future__ import annotations

import json
import tarfile

import harness
import pytest

#: Each run prints "run N" (N counted in the container's own /n), then exits 3 a second later.
LOOP = "n=$(cat /n 2>/dev/null || echo 0); n=$((n+1)); echo $n > /n; echo run $n; sleep 1; exit 3"
#: The container's own shell lives on while a subshell, first in line for the OOM killer
#: (oom_score_adj 1000), fills memory past the limit; then it exits with the subshell's status.
#: dockerd marks OOMKilled only when containerd's OOM event comes before the exit: the shim
#: sees the kill in memory.events a moment after the kernel, so the shell waits 2 s before it
#: exits (exiting at once lost that race on a loaded machine).
OOM = (
    "(echo 1000 > /proc/self/oom_score_adj; x=$(head -c 64m /dev/zero | tr '\\0' a)); "
    "s=$?; sleep 2; exit $s"
)


def ps_all(cli) -> dict[str, dict]:
    done = cli("ps", "-a", "--json")
    assert done.returncode == 0, done.stderr
    return {c["id"]: c for c in json.loads(done.stdout)}


def docker_state(cid: str) -> dict:
    return json.loads(harness.run("docker", "inspect", cid))[0]


def podman_inspect(cid: str) -> dict:
    return json.loads(harness.run("podman", "inspect", cid))[0]


def podman_state(cid: str) -> tuple[str, int]:
    state = podman_inspect(cid)["State"]
    return state["Status"], state["ExitCode"]


@pytest.fixture(scope="module")
def loop(module_containers: harness.Containers) -> harness.Started:
    started = module_containers.docker("--restart", "always", cmd=("/bin/sh", "-c", LOOP))
    harness.wait_for(
        lambda: docker_state(started.id)["RestartCount"] >= 2,
        what="dockerd restarted the container twice",
        timeout=60,
    )
    return started


@pytest.fixture(scope="module")
def hog(module_containers: harness.Containers) -> harness.Started:
    started = module_containers.docker(
        "--memory", "16m", "--memory-swap", "16m", cmd=("/bin/sh", "-c", OOM)
    )
    harness.wait_for(
        lambda: docker_state(started.id)["State"]["Status"] == "exited", what="the hog exited"
    )
    assert docker_state(started.id)["State"]["OOMKilled"] is True  # the premise
    return started


def test_restart_count_rises_and_last_exit_is_3(loop, cli) -> None:
    first = ps_all(cli)[loop.id]["restart_count"]
    assert first >= 2
    harness.wait_for(
        lambda: ps_all(cli)[loop.id]["restart_count"] > first, what="the restart count rose"
    )
    seen: dict = {}

    def restarting() -> bool:
        seen.update(ps_all(cli)[loop.id])
        return seen["status"] == "restarting"

    harness.wait_for(restarting, what="ps -a showed it restarting", timeout=60)
    assert seen["exit_code"] == 3 and seen["oom_killed"] is False
    # The latest run's start and the last end (which of the two is later depends on the
    # moment: the loop may have started again since the list was answered).
    assert seen["started_at"] >= seen["created"] and seen["finished_at"] >= seen["created"]
    row: dict[str, str] = {}

    def restarting_row() -> bool:
        lines = cli("ps", "-a").stdout.splitlines()
        row["header"] = lines[0]
        row["row"] = next(line for line in lines if loop.name in line)
        return " restarting " in row["row"]

    harness.wait_for(restarting_row, what="ps -a's table showed it restarting", timeout=60)
    header = row["header"].split()
    for column in ("EXIT", "RESTARTS", "STARTED", "FINISHED"):
        assert column in header
    # EXIT under its header (while a run goes on, dockerd has reset it: '-').
    at = row["header"].index("EXIT")
    assert row["row"][at : at + 4].strip() == "3"


def test_plain_ps_lists_a_restarting_container(loop, cli) -> None:
    def listed_restarting() -> bool:
        done = cli("ps", "--json", "--runtime", "docker")
        found = {c["id"]: c for c in json.loads(done.stdout)}
        return loop.id in found and found[loop.id]["status"] == "restarting"

    harness.wait_for(listed_restarting, what="ps (no -a) listed it restarting", timeout=60)


def test_inspect_shows_restarting_and_the_last_exit(loop, cli) -> None:
    text = {}

    def restarting() -> bool:
        done = cli("inspect", loop.name)
        text["out"] = done.stdout
        return done.returncode == 0 and "Status:" in done.stdout and " restarting" in done.stdout

    harness.wait_for(restarting, what="inspect showed it restarting", timeout=60)
    lines = dict(
        (k.strip(), v.strip())
        for k, _, v in (line.partition(":") for line in text["out"].splitlines())
    )
    assert lines["Status"] == "restarting"
    assert lines["Last exit"] == "3"
    assert lines["Restarts"].endswith("(crash-looping)")
    assert "UTC" in lines["Started"] and "UTC" in lines["Finished"]


def test_logs_previous_is_the_run_before_the_latest(loop, cli) -> None:
    """The latest run is the one that started at State.StartedAt: run RestartCount+1 while it
    runs, run RestartCount while dockerd waits to restart it (the count rises at the exit).
    --previous shows the line of the run before that one, alone. Asked again when a restart
    came between the looks."""
    result: dict = {}

    def look() -> tuple[int, str, bool]:
        state = docker_state(loop.id)
        running = state["State"]["Running"] and not state["State"]["Restarting"]
        return state["RestartCount"], state["State"]["StartedAt"], running

    def stable() -> bool:
        before = look()
        done = cli("logs", "--previous", loop.name)
        result.update(before=before, done=done)
        return look() == before

    harness.wait_for(stable, what="no restart between the looks", timeout=60)
    count, _, running = result["before"]
    latest = count + 1 if running else count
    done = result["done"]
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"run {latest - 1}\n"
    everything = cli("logs", loop.name).stdout
    assert "run 1\n" in everything and everything.count("run ") >= 3  # every run's


@pytest.fixture(scope="module")
def podman_loop(module_containers: harness.Containers) -> harness.Started:
    started = module_containers.podman("--restart", "always", cmd=("/bin/sh", "-c", LOOP))
    harness.wait_for(
        lambda: podman_inspect(started.id)["RestartCount"] >= 2,
        what="podman restarted the container twice",
        timeout=60,
    )
    return started


def test_podman_logs_previous_is_the_run_before_the_latest(podman_loop, cli) -> None:
    """podman's one log holds every run; its events file's ``died`` events bound each. The
    latest run is RestartCount+1 (podman counts a restart when it makes it). Asked again when
    a restart came between the looks."""
    result: dict = {}

    def look() -> tuple[int, str]:
        state = podman_inspect(podman_loop.id)
        return state["RestartCount"], state["State"]["StartedAt"]

    def stable() -> bool:
        before = look()
        done = cli("logs", "--previous", podman_loop.name)
        result.update(before=before, done=done)
        return look() == before

    harness.wait_for(stable, what="no restart between the looks", timeout=60)
    latest = result["before"][0] + 1
    # While a run goes on, ps keeps libpod's last state beside the OCI runtime's live one.
    record = ps_all(cli)[podman_loop.id]
    assert record["restart_count"] >= 2 and record["started_at"] >= record["created"]
    done = result["done"]
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"run {latest - 1}\n"
    assert done.stderr == ""  # the events file reaches back to the container's creation
    everything = cli("logs", podman_loop.name).stdout
    assert "run 1\n" in everything and everything.count("run ") >= 3  # every run's


def test_podman_logs_previous_of_a_container_that_ran_once(containers, cli) -> None:
    once = containers.podman(cmd=("/bin/sh", "-c", "echo only; exit 5"))
    harness.wait_for(lambda: podman_state(once.id) == ("exited", 5), what="exit")
    done = cli("logs", "--previous", once.name)
    assert done.returncode == 1
    assert done.stdout == ""
    assert "has no previous run" in done.stderr and len(done.stderr.splitlines()) == 1


def test_logs_previous_of_a_container_that_ran_once(containers, cli) -> None:
    once = containers.docker(cmd=("/bin/sh", "-c", "echo only; exit 5"))
    harness.wait_for(lambda: docker_state(once.id)["State"]["Status"] == "exited", what="exit")
    done = cli("logs", "--previous", once.name)
    assert done.returncode == 1
    assert done.stdout == ""
    assert "has no previous run" in done.stderr and len(done.stderr.splitlines()) == 1


def test_oom_killed_in_ps_inspect_and_the_bundle(hog, cli, tmp_path) -> None:
    record = ps_all(cli)[hog.id]
    assert record["oom_killed"] is True and record["exit_code"] == 137
    row = next(line for line in cli("ps", "-a").stdout.splitlines() if hog.name in line)
    assert "137 OOM" in row
    inspect = cli("inspect", hog.name).stdout
    assert "Last exit:" in inspect and "OOM-killed" in inspect
    as_json = json.loads(cli("inspect", "--json", hog.name).stdout)
    assert as_json["container"]["oom_killed"] is True

    path = tmp_path / "hog.tar.gz"
    done = cli("bundle", hog.name, "-o", str(path))
    assert done.returncode == 0, done.stderr
    with tarfile.open(path) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("/container.json"))
        saved = json.loads(tar.extractfile(member).read())  # type: ignore[union-attr]
    assert saved["oom_killed"] is True and saved["exit_code"] == 137
    shown = cli("bundle", "show", str(path))
    assert shown.returncode == 0, shown.stderr
    row = next(line for line in shown.stdout.splitlines() if line.startswith(hog.id[:12]))
    assert row.rstrip().endswith("OOM killed")  # ATTENTION
    assert "docker says the kernel OOM-killed its last run (exit 137)" in shown.stdout


def test_podman_container_that_exited_5(containers, cli) -> None:
    started = containers.podman(cmd=("/bin/sh", "-c", "echo five; exit 5"))
    found: dict = {}

    def exited() -> bool:
        found.update(ps_all(cli).get(started.id) or {})
        return found.get("status") == "exited"

    # podman records the exit code when its cleanup process has read conmon's exit file, a
    # moment after the process is gone (debugtool shows "exited" with no code meanwhile).
    harness.wait_for(
        lambda: podman_state(started.id) == ("exited", 5), what="podman recorded the exit"
    )
    harness.wait_for(exited, what="podman's container exited")
    assert found["exit_code"] == 5 and found["finished_at"]
    row = next(line for line in cli("ps", "-a").stdout.splitlines() if started.name in line)
    assert " 5 " in row
    lines = cli("inspect", started.name).stdout.splitlines()
    assert [line.split(":", 1)[1].strip() for line in lines if line.startswith("Last exit:")] == [
        "5"
    ]


def test_exec_shell_and_trace_on_a_stopped_container(containers, cli) -> None:
    stopped = containers.docker(cmd=("/bin/sh", "-c", "exit 4"))
    harness.wait_for(lambda: docker_state(stopped.id)["State"]["Status"] == "exited", what="exit")
    for argv in (
        ["exec", stopped.name, "--", "true"],
        ["shell", stopped.name],
        ["trace", stopped.name],
    ):
        done = cli(*argv)
        assert done.returncode == 125, (argv, done.stderr)
        assert done.stdout == ""
        [line] = done.stderr.splitlines()
        assert "is exited (code 4" in line and "nothing can run in it" in line
        assert f"'debugtool console {stopped.name}'" in line
        assert f"'debugtool logs --previous {stopped.name}'" in line
