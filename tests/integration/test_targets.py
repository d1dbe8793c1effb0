"""Resolving what a user types to one real container, and every bad input's message (exit 125)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import harness
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def twins(module_containers: harness.Containers) -> dict[str, Any]:
    """The same name in Docker and podman, two runc ids sharing a prefix, an exited container."""
    c = module_containers
    same = harness.unique("dt-twin")
    prefix = f"dtamb{uuid.uuid4().hex[:8]}-"
    return {
        "name": same,
        "docker": c.docker(name=same),
        "podman": c.podman(name=same),
        "prefix": prefix,
        "runc1": c.runc(name=prefix + "1"),
        "runc2": c.runc(name=prefix + "2"),
        "exited": c.docker(cmd=("/bin/true",)),
    }


def failed(proc: subprocess.CompletedProcess[str]) -> str:
    """Assert the CLI failed as debugtool does (125, one message, no traceback); return it."""
    assert proc.returncode == 125, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("debugtool: ")
    return proc.stderr


def test_unknown_name(twins: dict[str, Any], cli: Any) -> None:
    err = failed(cli("inspect", "dt-nosuch-0123"))
    assert "no container matches 'dt-nosuch-0123'." in err
    assert "List them with 'debugtool ps -a'." in err


def test_same_name_in_docker_and_podman(twins: dict[str, Any], cli: Any) -> None:
    name = twins["name"]
    err = failed(cli("inspect", name))
    assert f"'{name}' matches 2 containers:" in err
    assert f"({twins['docker'].id[:12]})" in err and f"({twins['podman'].id[:12]})" in err
    assert "docker:" in err and "podman:" in err
    assert "Type more of the id, or use RUNTIME:NAME." in err
    for runtime in ("docker", "podman"):
        proc = cli("inspect", "--json", f"{runtime}:{name}")
        assert proc.returncode == 0, proc.stderr
        record = json.loads(proc.stdout)
        assert record["container"]["id"] == twins[runtime].id
        assert record["pid"] == twins[runtime].pid


def test_ambiguous_id_prefix(twins: dict[str, Any], cli: Any) -> None:
    prefix = twins["prefix"]
    err = failed(cli("inspect", prefix))
    assert f"'{prefix}' matches 2 containers:" in err
    assert f"runc:{prefix}1" in err and f"runc:{prefix}2" in err
    proc = cli("inspect", "--json", prefix + "2")
    assert proc.returncode == 0 and json.loads(proc.stdout)["pid"] == twins["runc2"].pid


def test_stopped_container_is_not_running(twins: dict[str, Any], cli: Any) -> None:
    exited = twins["exited"]
    harness.run("docker", "wait", exited.id, timeout=60)
    err = failed(cli("top", exited.name))
    assert f"container /{exited.name}" in err or f"container {exited.name}" in err
    assert "is not running (status: exited)." in err
    assert "Start it first; stopped, 'debugtool inspect' shows its last state" in err
    # mounts says where its files are instead (the image's layers and its own, in storage).
    err = failed(cli("mounts", exited.name))
    assert "it has no mounts until it runs again" in err
    assert "'debugtool console' reads them" in err
    # inspect still describes it, as docker inspect does.
    proc = cli("inspect", "--json", exited.id)
    assert proc.returncode == 0 and json.loads(proc.stdout)["container"]["status"] == "exited"


def test_pid_forms(twins: dict[str, Any], cli: Any) -> None:
    pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
    err = failed(cli("inspect", f"pid:{pid_max + 1}"))
    assert f"no process {pid_max + 1} runs on this host." in err
    err = failed(cli("inspect", "pid:abc"))
    assert "'pid:abc' is not a process id. Write pid:N, for example pid:1234." in err


def test_pod_without_match(twins: dict[str, Any], cli: Any) -> None:
    err = failed(cli("inspect", "pod/x"))
    assert "no Kubernetes container matches 'pod/x'." in err


def as_nobody(*argv: str) -> subprocess.CompletedProcess[str]:
    """Run ``python ARGV`` as user and group 65534 with no supplementary groups."""
    return subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, *argv],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "HOME": "/nonexistent"},
    )


def test_not_root(cli: Any) -> None:
    """An unprivileged user sees their own rootless containers (none here) and gets one
    sentence for what needs root, never a traceback."""
    probe = as_nobody("-c", "import debugtool.cli")
    if probe.returncode != 0:  # this checkout or interpreter is not readable by nobody
        pytest.skip(f"user 65534 cannot import debugtool here: {probe.stderr.strip()[-200:]}")
    listed = as_nobody("-m", "debugtool", "ps")
    assert (listed.returncode, listed.stdout, listed.stderr) == (
        0, "no running containers (ps -a lists stopped ones)\n", "",
    )  # fmt: skip
    err = failed(as_nobody("-m", "debugtool", "inspect", "anything"))
    assert "no container matches 'anything'." in err
    err = failed(as_nobody("-m", "debugtool", "ps", "--runtime", "docker"))
    assert "only root can look into docker containers" in err
    assert "Run it as root (for example with sudo), or ask for --runtime podman." in err
    for args, why in (
        (["exec", "--mode", "ns", "anything", "--", "true"], "for --mode ns"),
        (["bundle", "--all", "-o", "/nonexistent/b.tar.gz"], "to capture a bundle"),
    ):
        err = failed(as_nobody("-m", "debugtool", *args))
        assert f"debugtool needs CAP_SYS_ADMIN and CAP_SYS_PTRACE {why}" in err
        assert "Run it as root, for example with sudo." in err


def test_malformed_state_json_is_skipped(tmp_path: Path, cli: Any) -> None:
    root = tmp_path / "oci-root"
    (root / "broken").mkdir(parents=True)
    (root / "broken" / "state.json").write_text('{"id": "broken", "init_process_pid": ')
    (root / "empty").mkdir()
    (root / "empty" / "state.json").write_text("")
    (root / "list").mkdir()
    (root / "list" / "state.json").write_text("[1, 2]")
    proc = cli("--oci-root", str(root), "ps", "-a", "--json")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"skipping {root}/broken/state.json: not valid JSON" in proc.stderr
    assert f"skipping {root}/list/state.json: no container id" in proc.stderr
    ids = {r["id"] for r in json.loads(proc.stdout)}
    assert not ids & {"broken", "empty", "list"}
    err = failed(cli("--oci-root", str(root), "inspect", "broken"))
    assert "no container matches 'broken'." in err


def test_runtime_colon_name_asks_that_runtime_alone(containers, monkeypatch) -> None:
    """``docker:NAME`` is resolved by Docker alone: no other backend is even loaded."""
    from debugtool import runtimes
    from debugtool.source import LiveSource

    c = containers.docker()
    asked: list[list[str] | None] = []
    real = runtimes.discover

    def spy(names=None, **kwargs):
        asked.append(list(names) if names is not None else None)
        return real(names, **kwargs)

    monkeypatch.setattr(runtimes, "discover", spy)
    found = LiveSource(timeout=5).find(f"docker:{c.name}")
    assert found.id == c.id and found.runtime == "docker"
    assert asked == [["docker"]]
