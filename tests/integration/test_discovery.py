"""`debugtool ps` and `inspect` against real containers of every runtime on this machine at once."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import harness
import pytest


@pytest.fixture(scope="module")
def fleet(module_containers: harness.Containers) -> dict[str, harness.Started]:
    """One container of each kind, plus a stopped Docker and a stopped runc container."""
    c = module_containers
    started = {
        "runc": c.runc(),
        "docker": c.docker(),
        "containerd": c.containerd(),  # namespace debugtool-test: not Docker's moby
        "podman": c.podman(),
        "sandbox": c.sandbox(),
        "docker_exited": c.docker(cmd=("/bin/true",)),
        "runc_stopped": c.runc(cmd=("/bin/true",)),
    }
    harness.run("docker", "wait", started["docker_exited"].id, timeout=60)
    return started


def ps(cli: Any, *args: str) -> list[dict[str, Any]]:
    proc = cli("ps", "--json", *args)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return json.loads(proc.stdout)


def only(records: list[dict[str, Any]], cid: str) -> dict[str, Any]:
    matches = [r for r in records if r["id"] == cid]
    assert len(matches) == 1, f"{cid} listed {len(matches)} times"
    return matches[0]


def test_ps_lists_each_runtime_once(fleet: dict[str, harness.Started], cli: Any) -> None:
    records = ps(cli)
    for key in ("runc", "docker", "containerd", "podman", "sandbox"):
        started = fleet[key]
        record = only(records, started.id)
        assert record["pid"] == started.pid, key
        assert record["status"] == "running", key
        # Nothing else claims the same init: the namespace scan folded into the runtime's record.
        assert [r["id"] for r in records if r["pid"] == started.pid] == [started.id], key

    runc = only(records, fleet["runc"].id)
    assert (runc["runtime"], runc["backends"]) == ("runc", ["runc"])
    assert runc["oci_root"] == "/run/runc" and runc["bundle"] == fleet["runc"].extra["bundle"]

    docker = only(records, fleet["docker"].id)
    assert docker["runtime"] == "docker"
    assert docker["name"].lstrip("/") == fleet["docker"].name
    assert docker["backends"][0] == "docker"
    assert {"containerd", "runc"} <= set(docker["backends"])
    assert docker["oci_root"] == "/run/docker/runtime-runc/moby"

    ctr = only(records, fleet["containerd"].id)
    assert ctr["runtime"] == "containerd" and ctr["namespace"] == harness.CTR_NAMESPACE
    assert "runc" in ctr["backends"]

    podman = only(records, fleet["podman"].id)
    assert podman["runtime"] == "podman" and "runc" in podman["backends"]

    sandbox = only(records, fleet["sandbox"].id)
    assert (sandbox["runtime"], sandbox["backends"]) == ("none", ["none"])
    assert sandbox["pidns"] == os.stat(f"/proc/{fleet['sandbox'].pid}/ns/pid").st_ino
    assert sandbox["pidns"] != os.stat("/proc/self/ns/pid").st_ino


def test_ps_all_shows_stopped_containers(fleet: dict[str, harness.Started], cli: Any) -> None:
    stopped = (fleet["docker_exited"].id, fleet["runc_stopped"].id)
    running_ids = {r["id"] for r in ps(cli)}
    assert not running_ids & set(stopped)
    everything = ps(cli, "-a")
    assert only(everything, fleet["docker_exited"].id)["status"] == "exited"
    runc_stopped = only(everything, fleet["runc_stopped"].id)
    assert runc_stopped["status"] == "stopped" and runc_stopped["pid"] is None
    assert only(everything, fleet["runc"].id)["status"] == "running"


def test_ps_stats_samples_each_running_containers_cgroup(
    fleet: dict[str, harness.Started], cli: Any
) -> None:
    records = ps(cli, "-a", "--stats")
    for key in ("runc", "docker", "containerd", "podman"):
        stats = only(records, fleet[key].id)["stats"]
        assert stats is not None, key
        # The same counters the kernel keeps for the container's own cgroup, read just now.
        assert stats["memory_usage"] > 0 and stats["pids_current"] >= 1, key
        assert stats["cpu_usage_ns"] >= 0 and "paths" not in stats, key
        assert abs(stats["sampled_at"] - time.time()) < 300, key
    assert only(records, fleet["docker_exited"].id)["stats"] is None
    refused = cli("ps", "--stats")
    assert refused.returncode == 125 and "--stats goes with --json" in refused.stderr


def test_ps_table_for_people(fleet: dict[str, harness.Started], cli: Any) -> None:
    proc = cli("ps")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:2] == ["ID", "NAME"]
    assert any(line.startswith(fleet["docker"].id[:12]) for line in lines)
    assert not any(fleet["docker_exited"].id[:12] in line for line in lines)


def test_runtime_filter(fleet: dict[str, harness.Started], cli: Any) -> None:
    records = ps(cli, "--runtime", "runc")
    assert records and {r["runtime"] for r in records} == {"runc"}
    ids = {r["id"] for r in records}
    assert fleet["runc"].id in ids
    # Docker's and podman's containers run under runc, so runc alone still sees them.
    assert only(records, fleet["docker"].id)["namespace"] == "moby"
    assert fleet["podman"].id in ids
    assert fleet["sandbox"].id not in ids
    proc = cli("ps", "--runtime", "nosuch")
    assert proc.returncode == 125
    assert "unknown runtime nosuch." in proc.stderr and "Known runtimes:" in proc.stderr


def test_inspect_text(fleet: dict[str, harness.Started], cli: Any) -> None:
    started = fleet["docker"]
    proc = cli("inspect", started.name)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert re.search(rf"^ID:\s+{started.id}$", out, re.M), out
    assert re.search(rf"^Host PID:\s+{started.pid}$", out, re.M), out
    pidns = os.stat(f"/proc/{started.pid}/ns/pid").st_ino
    assert "Namespaces:" in out and f"pid     {pidns}" in out
    assert "Cgroup:" in out and started.id in out.split("Cgroup:")[1]


def test_inspect_json_of_each_kind(fleet: dict[str, harness.Started], cli: Any) -> None:
    for key in ("runc", "containerd", "podman", "sandbox"):
        started = fleet[key]
        proc = cli("inspect", "--json", started.id)
        assert proc.returncode == 0, (key, proc.stderr)
        record = json.loads(proc.stdout)
        assert record["container"]["id"] == started.id
        assert record["pid"] == started.pid
        assert record["namespaces"]["pid"] == os.stat(f"/proc/{started.pid}/ns/pid").st_ino
        assert record["namespaces"]["mnt"] == os.stat(f"/proc/{started.pid}/ns/mnt").st_ino
        assert record["cgroup"], key
    runc_record = json.loads(cli("inspect", "--json", fleet["runc"].id).stdout)
    state = runc_record["runtime_inspect"]["state.json"]
    assert state["init_process_pid"] == fleet["runc"].pid


def test_inspect_by_pid_finds_the_container(fleet: dict[str, harness.Started], cli: Any) -> None:
    for key in ("docker", "sandbox"):
        started = fleet[key]
        proc = cli("inspect", "--json", f"pid:{started.pid}")
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["container"]["id"] == started.id


def test_extra_oci_root(containers: harness.Containers, cli: Any, tmp_path: Path) -> None:
    """A runc container under a --root of its own is found only when that root is given."""
    root = tmp_path / "runc-root"
    started = containers.runc(root=str(root))
    assert started.id not in {r["id"] for r in ps(cli)}
    with_flag = cli("--oci-root", str(root), "ps", "--json")
    assert with_flag.returncode == 0, with_flag.stderr
    record = only(json.loads(with_flag.stdout), started.id)
    assert (record["runtime"], record["oci_root"]) == ("runc", str(root))
    env = {"DEBUGTOOL_OCI_ROOTS": f"/nonexistent:{root}"}
    record = only(ps_env(cli, env), started.id)
    assert record["pid"] == started.pid


def ps_env(cli: Any, env: dict[str, str]) -> list[dict[str, Any]]:
    proc = cli("ps", "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_runc_exec_argv_runs(fleet: dict[str, harness.Started]) -> None:
    """The runc backend's exec command line works as built (user name resolved in the image)."""
    from debugtool.runtimes import discover
    from debugtool.runtimes.base import ExecRequest

    found = discover(["runc"], all=False)
    runtime = found.runtime("runc")
    assert runtime is not None
    record = next(c for c in found.containers if c.id == fleet["runc"].id)
    request = ExecRequest(argv=["/bin/sh", "-c", "id; pwd; echo $GREETING"], user="app")
    request.workdir, request.env = "/tmp", {"GREETING": "hi"}
    argv = list(runtime.exec_argv(record, request))
    out = subprocess.run(argv, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["uid=1000(app) gid=1000(app)", "/tmp", "hi"]


def test_runc_exec_argv_with_tty_on_a_pty(fleet: dict[str, harness.Started]) -> None:
    """With -t, runc relays a pty of its own when its stdio is a terminal (no console socket)."""
    import pty
    import select

    from debugtool.runtimes import discover
    from debugtool.runtimes.base import ExecRequest

    found = discover(["runc"])
    runtime = found.runtime("runc")
    assert runtime is not None
    record = next(c for c in found.containers if c.id == fleet["runc"].id)
    argv = list(runtime.exec_argv(record, ExecRequest(argv=["/bin/sh", "-c", "tty"], tty=True)))
    assert "-t" in argv
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    out = b""
    try:
        while select.select([master], [], [], 20)[0]:
            try:
                chunk = os.read(master, 1024)
            except OSError:  # EIO: every writer closed
                break
            if not chunk:
                break
            out += chunk
    finally:
        os.close(master)
        assert proc.wait(timeout=20) == 0, out
    assert out.decode().strip().startswith("/dev/pts/"), out
