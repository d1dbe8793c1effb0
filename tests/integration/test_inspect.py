"""Inspection from the host against real containers: top, mounts, inspect, snapshot."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from debugtool import collect, rootfs
from debugtool.errors import ContainerGone
from debugtool.runtimes import Discovery
from debugtool.snapshot import Snapshot
from debugtool.target import find, pin

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("bind")
    (d / "hello").write_text("from the host\n")
    return d


@pytest.fixture(scope="module")
def busy(module_containers, data_dir):
    """A container with three processes, a bind mount, a tmpfs, a read-only root, limits, uid 1000."""
    return module_containers.docker(
        "-v",
        f"{data_dir}:/data",
        "--tmpfs",
        "/scratch",
        "--read-only",
        "--memory",
        "64m",
        "--pids-limit",
        "50",
        "--user",
        "1000",
        cmd=("sh", "-c", "sleep 1000 & sleep 1001 & exec sleep 1002"),
    )


@pytest.fixture(scope="module")
def sock(module_containers):
    """A container with the Docker socket mounted into it."""
    return module_containers.docker("-v", "/var/run/docker.sock:/var/run/docker.sock")


@pytest.fixture(scope="module")
def distroless(module_containers):
    from harness import DISTROLESS_IMAGE

    return module_containers.docker(image=DISTROLESS_IMAGE, cmd=("/bin/busybox", "sleep", "100000"))


def json_out(cli, *args: str):
    proc = cli(*args)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def wait_for(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


# --- top ---------------------------------------------------------------------------------------


def test_top_shows_container_pids_and_tree(cli, busy):
    procs = wait_for(lambda: len(p := json_out(cli, "top", busy.name, "--json")) == 3 and p)
    by_cmd = {" ".join(p["cmdline"]): p for p in procs}
    init = by_cmd["sleep 1002"]
    assert init["nspid"] == 1 and init["pid"] == busy.pid
    for child in ("sleep 1000", "sleep 1001"):
        assert by_cmd[child]["nsppid"] == 1
        assert by_cmd[child]["ppid"] == busy.pid
    # The container's own procfs lists exactly the PIDs top calls in-container PIDs.
    inside = {int(n) for n in os.listdir(f"/proc/{busy.pid}/root/proc") if n.isdigit()}
    assert {p["nspid"] for p in procs} == inside
    assert all(p["user"] == "app" and p["uid"] == 1000 for p in procs)
    assert not any(p["outside_cgroup"] for p in procs)

    tree = cli("top", busy.name, "--tree")
    assert tree.returncode == 0, tree.stderr
    lines = tree.stdout.splitlines()
    assert lines[0].split()[:4] == ["PID", "HOST", "PID", "USER"]
    assert lines[1].split()[0] == "1" and lines[1].endswith("sleep 1002")
    assert all("\\_ sleep 100" in line for line in lines[2:4])
    assert " app " in lines[1]


def test_top_marks_a_process_entered_with_nsenter(cli, busy):
    helper = subprocess.Popen(
        ["nsenter", "-t", str(busy.pid), "-p", "-m", "/bin/sleep", "321"],
        stdin=subprocess.DEVNULL,
    )
    try:
        procs = wait_for(
            lambda: [
                p for p in json_out(cli, "top", busy.name, "--json") if p["cmdline"][-1:] == ["321"]
            ]
        )
        entered = procs[0]
        assert entered["outside_cgroup"] is True
        assert entered["nsppid"] is None  # its parent, nsenter, is outside the container
        text = cli("top", busy.name)
        assert "not its cgroup" in text.stderr
        assert any(line.split()[0].endswith("*") for line in text.stdout.splitlines()[1:])
    finally:
        try:
            for pid in helper_children(helper.pid):
                os.kill(pid, signal.SIGKILL)
        finally:
            helper.kill()
            helper.wait()


def helper_children(pid: int) -> list[int]:
    try:
        return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


# --- mounts ----------------------------------------------------------------------------------


def test_mounts_bind_tmpfs_readonly_root(cli, busy, data_dir):
    mounts = {m["mountpoint"]: m for m in json_out(cli, "mounts", busy.name, "--json")}
    assert mounts["/"]["readonly"] is True
    assert mounts["/data"]["host_path"] == str(data_dir)
    assert mounts["/data"]["readonly"] is False
    assert mounts["/data"]["risks"] == [f"host path {data_dir} mounted read-write"]
    assert mounts["/scratch"]["fstype"] == "tmpfs" and mounts["/scratch"]["host_path"] == ""
    text = cli("mounts", busy.name)
    assert text.returncode == 0
    assert "1 mount flagged as risky" in text.stderr
    row = next(line for line in text.stdout.splitlines() if line.startswith("/data "))
    assert "rw" in row.split() and "! host path" in row


def test_mounted_docker_socket_is_flagged(cli, sock):
    risky = json_out(cli, "mounts", sock.name, "--risky", "--json")
    socket_mount = next(m for m in risky if m["mountpoint"] == "/var/run/docker.sock")
    assert socket_mount["risks"] == ["container runtime socket (docker.sock) mounted"]
    record = json_out(cli, "inspect", sock.name, "--json")
    assert any("docker.sock" in w for w in record["security"]["warnings"])


# --- inspect: cgroup and security --------------------------------------------------------------


def test_inspect_reads_limits_back_exactly(cli, busy):
    record = json_out(cli, "inspect", busy.name, "--json")
    stats = record["cgroup_stats"]
    assert stats["memory_limit"] == 64 * MiB
    assert stats["pids_max"] == 50
    assert stats["pids_current"] == 3
    assert stats["version"] in ("v1", "v2", "hybrid")
    assert stats["memory_usage"] and stats["memory_usage"] < 64 * MiB
    sec = record["security"]
    assert sec["readonly_rootfs"] is True
    assert sec["cap_effective"] == []  # uid 1000 without ambient capabilities
    assert "CAP_NET_RAW" in sec["cap_bounding"] and "CAP_SYS_ADMIN" not in sec["cap_bounding"]
    assert sec["seccomp"] == "filter" and sec["seccomp_filters"] >= 1

    text = cli("inspect", busy.name)
    assert text.returncode == 0, text.stderr
    assert "64.0MiB" in text.stdout
    assert re.search(r"^  PIDs: +3 of 50 \(6%\)$", text.stdout, re.M)
    assert re.search(r"^  Root filesystem: +read-only$", text.stdout, re.M)
    assert re.search(r"^  Seccomp: +filter \(\d+ filters?\)$", text.stdout, re.M)
    assert re.search(r"^  Bounding capabilities: +CAP_\w+ .*CAP_NET_RAW", text.stdout, re.M)


def test_inspect_by_full_id_and_by_name_agree(cli, busy):
    """A full Docker id takes the fast path (one inspect request, no discovery): the container
    it gives is the one discovery gives, its creation time included."""
    by_name = json_out(cli, "inspect", busy.name, "--json")["container"]
    by_id = json_out(cli, "inspect", busy.id, "--json")["container"]
    assert by_id["id"] == by_name["id"] == busy.id
    assert by_id["created"] and abs(by_id["created"] - by_name["created"]) < 1.0
    for key in ("name", "image", "status", "pid"):
        assert by_id[key] == by_name[key], key
    # Discovery also merges containerd's record of the same container (its bundle path label).
    assert by_id["labels"].items() <= by_name["labels"].items()


# --- distroless ------------------------------------------------------------------------------


def test_distroless_is_fully_inspected(cli, distroless):
    procs = json_out(cli, "top", distroless.name, "--json")
    assert [p["cmdline"] for p in procs] == [["/bin/busybox", "sleep", "100000"]]
    assert procs[0]["user"] == "root"  # the image's own /etc/passwd
    mounts = json_out(cli, "mounts", distroless.name, "--json")
    assert any(m["mountpoint"] == "/" for m in mounts)
    record = json_out(cli, "inspect", distroless.name, "--json")
    assert record["cgroup_stats"]["pids_current"] == 1
    snap = Snapshot.from_json(cli("snapshot", distroless.name, "--no-network").stdout)
    assert snap.processes[0].nspid == 1
    assert not (set(snap.errors) - {"network"})


# --- snapshot ----------------------------------------------------------------------------------


def test_snapshot_json_round_trip(cli, busy):
    proc = cli("snapshot", busy.name)
    assert proc.returncode == 0, proc.stderr
    snap = Snapshot.from_json(proc.stdout)
    assert snap.container.name == busy.name
    assert snap.hostname and snap.taken_at > 0
    assert {p.nspid for p in snap.processes} >= {1}
    assert snap.cgroup.memory_limit == 64 * MiB
    assert snap.security.readonly_rootfs
    assert "processes" not in snap.errors and "mounts" not in snap.errors
    again = Snapshot.from_json(snap.to_json())
    assert again == snap
    no_net = Snapshot.from_json(cli("snapshot", busy.name, "--no-network").stdout)
    assert no_net.network.interfaces == []
    assert "--no-network" in no_net.errors["network"]


# --- the container's own passwd, never the host's ----------------------------------------------


def plant_shadow_link(root: Path) -> None:
    (root / "etc" / "passwd").unlink()
    (root / "etc" / "passwd").symlink_to("/../../etc/shadow")
    (root / "etc" / "shadow").write_text("containerroot:x:0:0::/:/bin/sh\n")


def test_passwd_symlink_to_shadow_never_reads_the_host(cli, containers):
    started = containers.runc(prepare=plant_shadow_link)
    procs = json_out(cli, "top", f"pid:{started.pid}", "--json")
    assert [p["user"] for p in procs] == ["containerroot"]
    content = rootfs.read_file(f"/proc/{started.pid}/root", "/etc/passwd")
    assert content == b"containerroot:x:0:0::/:/bin/sh\n"
    assert content != Path("/etc/shadow").read_bytes()


def test_passwd_symlink_with_nothing_behind_it(cli, containers):
    def plant(root: Path) -> None:
        (root / "etc" / "passwd").unlink()
        (root / "etc" / "passwd").symlink_to("/../../etc/shadow")

    started = containers.runc(prepare=plant)
    procs = json_out(cli, "top", f"pid:{started.pid}", "--json")
    # The host has an /etc/shadow; the container does not: a clear error, never the host's file.
    assert [p["user"] for p in procs] == ["0"]
    with pytest.raises(rootfs.RootfsError) as err:
        rootfs.read_file(f"/proc/{started.pid}/root", "/etc/passwd")
    assert "no such file or directory in the container" in str(err.value)
    assert rootfs.readlink(f"/proc/{started.pid}/root", "/etc/passwd") == "/../../etc/shadow"


# --- containers that go away --------------------------------------------------------------------


def test_container_gone_before_the_read(containers):
    started = containers.docker()
    target = pin(find(f"pid:{started.pid}", Discovery()))
    subprocess.run(["docker", "kill", started.id], check=True, capture_output=True)
    wait_for(lambda: not target.alive())
    with pytest.raises(ContainerGone) as err:
        collect.collect_snapshot(target, network=False)
    assert "exited" in str(err.value)
    target.close()


def test_cli_on_a_stopped_or_unknown_container_exits_125(cli, containers):
    started = containers.docker()
    subprocess.run(["docker", "kill", started.id], check=True, capture_output=True)
    proc = cli("top", started.name)
    assert proc.returncode == 125
    assert "is not running" in proc.stderr or "no container matches" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = cli("snapshot", "dt-no-such-container-anywhere")
    assert proc.returncode == 125
    assert "no container matches 'dt-no-such-container-anywhere'" in proc.stderr
    proc = cli("mounts", f"pid:{2**22 + 17}")
    assert proc.returncode == 125
    assert "no process" in proc.stderr


# --- other runtimes -----------------------------------------------------------------------------


@pytest.mark.parametrize("runtime", ["containerd", "podman", "runc"])
def test_other_runtimes_are_inspected(cli, module_containers, runtime):
    cmd = ("/bin/sh", "-c", "sleep 1000 & exec sleep 1002")
    if runtime == "runc":
        started = module_containers.runc(cmd=cmd)
    else:
        started = getattr(module_containers, runtime)(cmd=cmd)
    target = f"{runtime}:{started.name}"
    procs = wait_for(lambda: len(p := json_out(cli, "top", target, "--json")) == 2 and p)
    assert sorted(p["nspid"] for p in procs)[0] == 1
    assert {p["user"] for p in procs} == {"root"}
    child = next(p for p in procs if p["nspid"] != 1)
    assert child["nsppid"] == 1 and child["cmdline"] == ["sleep", "1000"]
    record = json_out(cli, "inspect", target, "--json")
    assert record["cgroup_stats"]["pids_current"] == 2
    assert record["security"]["cap_bounding"]
    snap = Snapshot.from_json(cli("snapshot", target, "--no-network").stdout)
    assert len(snap.processes) == 2 and snap.mounts


def test_container_sharing_the_host_pid_namespace(cli, containers):
    started = containers.docker("--pid", "host", cmd=("sh", "-c", "sleep 1000 & exec sleep 1002"))
    procs = wait_for(lambda: len(p := json_out(cli, "top", started.name, "--json")) == 2 and p)
    # Its processes are those of its cgroup, not every process of the host.
    assert sorted(p["cmdline"][-1] for p in procs) == ["1000", "1002"]
    assert all(p["nspid"] == p["pid"] for p in procs)
    record = json_out(cli, "inspect", started.name, "--json")
    assert any("host's PID namespace" in w for w in record["security"]["warnings"])


def test_user_namespace_maps_uids(cli):
    """A sandbox in its own user namespace: uids are shown as inside it, the map is reported."""
    proc = subprocess.Popen(
        ["unshare", "--map-user=1000", "--map-group=1000", "--pid", "--fork", "sleep", "300"],
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        child = wait_for(lambda: helper_children(proc.pid))[0]
        procs = json_out(cli, "top", f"pid:{child}", "--json")
        assert [(p["nspid"], p["uid"]) for p in procs] == [(1, 1000)]  # host uid 0 is 1000 inside
        record = json_out(cli, "inspect", f"pid:{child}", "--json")
        sec = record["security"]
        assert sec["user_namespace"] is True
        assert sec["uid_map"] == [[1000, 0, 1]]
        assert not any("host's root" in w for w in sec["warnings"])
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
