"""Rootless podman: a container run by an ordinary user (tests/run makes ROOTLESS_USER, with
subordinate ids), seen by debugtool as root and as that user.

As root it is listed once, under its name, image and owner (never also as a bare ``pid-N``
sandbox); top, inspect, logs, mounts, net and snapshot read it; runtime-mode exec runs podman as
the user; ns and toolbox modes join its user namespace first and run as its root, which is the
user on the host. Run by the user itself, debugtool lists and inspects it and execs in runtime
mode, and says in one sentence what needs root.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import harness
import pytest

MESSAGE = "hello from a rootless container"


@pytest.fixture(scope="module")
def rootless(module_containers: harness.Containers) -> harness.Started:
    """A rootless container that prints a line (for logs), then sleeps."""
    return module_containers.rootless_podman(
        "-e", "FOO=rootless-env", cmd=("sh", "-c", f"echo '{MESSAGE}'; exec sleep 100000")
    )


@pytest.fixture
def audit_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "audit.jsonl"
    monkeypatch.setenv("DEBUGTOOL_AUDIT_LOG", str(path))
    return path


def owner_of(started: harness.Started) -> str:
    return started.extra["user"].name


def test_listed_once_with_its_name_image_and_owner(rootless: harness.Started) -> None:
    result = harness.run_cli("ps", "--json")
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    mine = [c for c in listed if c["id"] == rootless.id]
    assert len(mine) == 1, [c for c in listed if c["pid"] == rootless.pid]
    (c,) = mine
    assert (c["name"], c["runtime"], c["owner"], c["pid"]) == (
        rootless.name, "podman", owner_of(rootless), rootless.pid,
    )  # fmt: skip
    assert c["image"].endswith(harness.DOCKER_IMAGE)
    # Its init is not listed again as a sandbox of runtime none.
    assert not [x for x in listed if x["id"] == f"pid-{rootless.pid}"]
    table = harness.run_cli("ps", "--no-trunc")
    assert table.returncode == 0, table.stderr
    header, *rows = table.stdout.splitlines()
    assert "OWNER" in header.split()
    (row,) = [r for r in rows if r.startswith(rootless.id)]
    assert row.split()[1:4] == [rootless.name, "podman", owner_of(rootless)]


def test_top_shows_the_uid_inside_and_the_hosts(rootless: harness.Started) -> None:
    result = harness.run_cli("top", rootless.name, "--json")
    assert result.returncode == 0, result.stderr
    (init,) = [p for p in json.loads(result.stdout) if p["pid"] == rootless.pid]
    user = rootless.extra["user"]
    assert (init["nspid"], init["uid"], init["user"], init["host_uid"]) == (1, 0, "root", user.uid)
    table = harness.run_cli("top", rootless.name)
    header, *rows = table.stdout.splitlines()
    assert header.split()[:6] == ["PID", "HOST", "PID", "USER", "UID", "HOST"]
    assert rows[0].split()[:5] == ["1", str(rootless.pid), "root", "0", str(user.uid)]


def test_inspect_names_the_owner_and_the_runtimes_record(rootless: harness.Started) -> None:
    result = harness.run_cli("inspect", rootless.name, "--json")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["container"]["owner"] == owner_of(rootless)
    # podman inspect, run as the owner: the runtime's own record of it.
    assert record["runtime_inspect"]["Id"] == rootless.id
    assert record["runtime_inspect"]["State"]["Pid"] == rootless.pid
    assert record["security"]["user_namespace"] is True
    text = harness.run_cli("inspect", rootless.name).stdout
    assert f"Owner:            {owner_of(rootless)}" in text.splitlines()


def test_logs_mounts_net_and_snapshot(rootless: harness.Started) -> None:
    harness.wait_for(
        lambda: MESSAGE in harness.run_cli("logs", rootless.name).stdout, "the line was not logged"
    )
    mounts = harness.run_cli("mounts", rootless.name, "--json")
    assert mounts.returncode == 0, mounts.stderr
    points = {m["mountpoint"]: m for m in json.loads(mounts.stdout)}
    assert "/" in points and "/etc/hostname" in points
    # podman's own binds from the user's run root are runtime state, not a risk.
    assert points["/etc/hostname"]["risks"] == []
    net = harness.run_cli("net", rootless.name, "--json")
    assert net.returncode == 0, net.stderr
    assert [i["name"] for i in json.loads(net.stdout)["interfaces"]] == ["lo"]
    snap = harness.run_cli("snapshot", rootless.name)
    assert snap.returncode == 0, snap.stderr
    assert json.loads(snap.stdout)["container"]["owner"] == owner_of(rootless)


def test_runtime_exec_runs_podman_as_the_owner(rootless: harness.Started, audit_log: Path) -> None:
    env = {"DT_OPERATOR_SECRET": "canary-rootless-runtime"}
    result = harness.run_cli(
        "exec", rootless.name, "--", "sh", "-c", 'id -u; echo "FOO=$FOO"; env', env=env
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == ["0", "FOO=rootless-env"]
    assert "canary-rootless-runtime" not in result.stdout
    assert "through podman's own exec" in result.stderr
    code = harness.run_cli("exec", rootless.name, "--", "sh", "-c", "exit 7")
    assert code.returncode == 7


@pytest.mark.parametrize("mode", ["ns", "toolbox"])
def test_ns_exec_joins_the_user_namespace_first(
    rootless: harness.Started, mode: str, audit_log: Path
) -> None:
    user = rootless.extra["user"]
    probe = "id -u; id -g; cat /proc/self/uid_map; grep CapEff /proc/self/status; ls /proc/self/fd"
    result = harness.run_cli("exec", "--mode", mode, rootless.name, "--", "sh", "-c", probe)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == ["0", "0"]  # the container's root, which is the user on the host
    assert lines[2].split() == ["0", str(user.uid), "1"]
    # The container's capabilities (podman's default set), not the joiner's full set.
    container_caps = Path(f"/proc/{rootless.pid}/status").read_text()
    wanted = next(line for line in container_caps.splitlines() if line.startswith("CapEff"))
    assert lines[4].split() == wanted.split()
    assert "namespaces user," in result.stderr
    # On the host the command runs as the user, never as root.
    mark = f"31.{os.getpid()}{len(mode)}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "debugtool", "exec", "--mode", mode, rootless.name, "--",
         "sleep", mark],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        found: list[str] = []

        def started() -> bool:
            for entry in Path("/proc").iterdir():
                try:
                    if entry.name.isdigit() and (entry / "cmdline").read_bytes() == (
                        f"sleep\0{mark}\0".encode()
                    ):
                        found.append((entry / "status").read_text())
                        return True
                except OSError:
                    continue
            return False

        harness.wait_for(started, "the command never started")
    finally:
        proc.kill()
        proc.wait(timeout=30)
    uids = next(line for line in found[0].splitlines() if line.startswith("Uid:")).split()[1:]
    assert uids == [str(user.uid)] * 4


def test_the_user_lists_inspects_and_execs_in_their_own(rootless: harness.Started) -> None:
    user = rootless.extra["user"]
    listed = harness.user_debugtool(user, "ps", "--json")
    assert listed.returncode == 0, listed.stderr
    mine = [c for c in json.loads(listed.stdout) if c["id"] == rootless.id]
    assert [(c["name"], c["owner"]) for c in mine] == [(rootless.name, user.name)]
    inspected = harness.user_debugtool(user, "inspect", rootless.name, "--json")
    assert inspected.returncode == 0, inspected.stderr
    assert json.loads(inspected.stdout)["runtime_inspect"]["Id"] == rootless.id
    top = harness.user_debugtool(user, "top", rootless.name, "--json")
    assert top.returncode == 0, top.stderr
    assert [p["pid"] for p in json.loads(top.stdout)][0] == rootless.pid
    logs = harness.user_debugtool(user, "logs", rootless.name)
    assert MESSAGE in logs.stdout, logs.stderr
    # Runtime mode as the user themselves, on record in the user's own audit log.
    executed = harness.user_debugtool(user, "exec", rootless.name, "--", "id", "-u")
    assert (executed.returncode, executed.stdout.strip()) == (0, "0"), executed.stderr
    own_log = Path(user.home) / ".local/state/debugtool/audit.jsonl"
    assert rootless.id in own_log.read_text()


def test_what_needs_root_says_so_to_the_user(rootless: harness.Started) -> None:
    user = rootless.extra["user"]
    ns = harness.user_debugtool(user, "exec", "--mode", "ns", rootless.name, "--", "true")
    assert ns.returncode == 125
    assert "for --mode ns (runtime mode works without root)" in ns.stderr
    assert len(ns.stderr.strip().splitlines()) == 1, ns.stderr
    docker = harness.user_debugtool(user, "ps", "--runtime", "docker")
    assert docker.returncode == 125
    assert "only root can look into docker containers" in docker.stderr
    # Root's containers are not the user's to see: none of another owner is listed.
    listed = json.loads(harness.user_debugtool(user, "ps", "--json").stdout)
    assert {c["owner"] for c in listed if c["runtime"] == "podman"} <= {user.name}
    assert not [c for c in listed if c["runtime"] in ("docker", "containerd", "runc")]


def test_the_user_sees_no_other_users_storage(rootless: harness.Started) -> None:
    """Discovery as the user reads only that user's directories (no root's podman storage)."""
    user = rootless.extra["user"]
    result = harness.user_debugtool(user, "ps", "-a", "--json")
    assert result.returncode == 0, result.stderr
    assert "permission denied" not in result.stderr.lower(), result.stderr
    assert os.stat(f"/proc/{rootless.pid}").st_uid == user.uid


def test_bundle_of_a_rootless_container(rootless: harness.Started, tmp_path: Path) -> None:
    out = tmp_path / "rootless.tar.gz"
    result = harness.run_cli("bundle", rootless.name, "-o", str(out))
    assert result.returncode == 0, result.stderr
    shown = harness.run_cli("bundle", "show", str(out))
    assert shown.returncode == 0, shown.stderr
    (row,) = [line for line in shown.stdout.splitlines() if line.startswith(rootless.id[:12])]
    # Its processes, inspect and logs are all in; podman's own binds are not risky mounts.
    assert row.split()[3:8] == ["running", "ok", "ok", "ok", "ok"], row
    assert "risky" not in row
    top = harness.run_cli("top", "--bundle", str(out), rootless.name, "--json")
    assert top.returncode == 0, top.stderr
    (init,) = [p for p in json.loads(top.stdout) if p["nspid"] == 1]
    assert (init["uid"], init["host_uid"]) == (0, rootless.extra["user"].uid)
    inspected = harness.run_cli("inspect", "--bundle", str(out), rootless.name, "--json")
    assert json.loads(inspected.stdout)["container"]["owner"] == owner_of(rootless)
