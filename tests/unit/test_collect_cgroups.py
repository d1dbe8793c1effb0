"""cgroup stats on captured v1 (this host's hybrid layout), v2 and hand-made unlimited files."""

from __future__ import annotations

from pathlib import Path

import pytest

from debugtool import procfs
from debugtool.collect import cgroups
from debugtool.errors import DebugtoolError

FIX = Path(__file__).parent.parent / "fixtures"
CG = FIX / "cgroup"


def test_v1_docker_with_limits():
    # Captured from: docker run --memory 64m --pids-limit 50 ...
    d = CG / "v1-docker"
    s = cgroups.read_v1({c: str(d / c) for c in ("memory", "cpu", "cpuacct", "pids", "blkio")})
    assert s.version == "v1"
    assert s.memory_limit == 64 * 1024 * 1024
    assert s.memory_usage == 610304
    assert s.memory_peak == int((d / "memory" / "memory.max_usage_in_bytes").read_text())
    assert s.oom_kills == 0
    assert s.pids_max == 50 and s.pids_current == 3
    assert s.cpu_quota_us is None and s.cpu_period_us == 100000  # -1: unlimited
    assert s.cpu_weight == 1024
    assert s.cpu_usage_ns == int((d / "cpuacct" / "cpuacct.usage").read_text())
    assert (s.cpu_nr_periods, s.cpu_nr_throttled, s.cpu_throttled_ns) == (0, 0, 0)
    assert (s.io_read_bytes, s.io_write_bytes) == (0, 0)
    assert s.cpu_limit is None


def test_v1_unlimited_and_blkio_sums():
    d = CG / "v1-unlimited"
    s = cgroups.read_v1({c: str(d / c) for c in ("memory", "cpu", "pids", "blkio")})
    assert s.memory_limit is None  # 9223372036854771712 means no limit
    assert s.oom_kills is None  # kernel without oom_kill in oom_control
    assert s.pids_max is None
    assert s.cpu_quota_us is None
    assert (s.cpu_nr_periods, s.cpu_nr_throttled, s.cpu_throttled_ns) == (40, 10, 5000000)
    assert (s.io_read_bytes, s.io_write_bytes) == (4106, 1044)
    assert s.cpu_usage_ns is None  # no cpuacct directory: unknown


def test_v2_limited():
    s = cgroups.read_v2(str(CG / "v2-limited"))
    assert s.version == "v2"
    assert (s.memory_usage, s.memory_limit, s.memory_peak) == (52428800, 67108864, 60000000)
    assert s.oom_kills == 2
    assert s.cpu_usage_ns == 2_500_000_000
    assert (s.cpu_quota_us, s.cpu_period_us) == (50000, 100000)
    assert s.cpu_limit == 0.5
    assert (s.cpu_nr_periods, s.cpu_nr_throttled, s.cpu_throttled_ns) == (100, 25, 1_200_000_000)
    assert s.cpu_weight == 100
    assert (s.pids_current, s.pids_max) == (7, 50)
    assert (s.io_read_bytes, s.io_write_bytes) == (4196, 8192)


def test_v2_unlimited():
    s = cgroups.read_v2(str(CG / "v2-unlimited"))
    assert s.memory_limit is None and s.pids_max is None and s.cpu_quota_us is None
    assert s.cpu_period_us == 100000
    assert s.memory_peak is None  # older kernel without memory.peak
    assert s.io_read_bytes is None


def test_controller_dirs_hybrid_host(fixture_text):
    host = procfs.parse_mountinfo(fixture_text("proc/host-mountinfo"))
    cgroup = procfs.parse_cgroup(fixture_text("proc/docker-busybox/cgroup"))
    version, dirs = cgroups.controller_dirs(cgroup, host)
    assert version == "hybrid"
    cid = cgroup["memory"]
    assert dirs["memory"] == f"/sys/fs/cgroup/memory{cid}"
    assert dirs["cpuacct"] == f"/sys/fs/cgroup/cpuacct{cid}"
    assert dirs["name=systemd"] == f"/sys/fs/cgroup/systemd{cid}"
    assert dirs["unified"] == f"/sys/fs/cgroup/unified{cid}"


def test_controller_dirs_pure_v2_and_v1(fixture_text):
    v2_host = procfs.parse_mountinfo(
        "25 1 0:22 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"
    )
    version, dirs = cgroups.controller_dirs(
        procfs.parse_cgroup(fixture_text("proc/cgroup-files/v2")), v2_host
    )
    assert version == "v2"
    assert dirs == {"unified": "/sys/fs/cgroup/system.slice/docker-0123abcd.scope"}
    v1_host = procfs.parse_mountinfo(
        "30 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
        "31 25 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
    )
    version, dirs = cgroups.controller_dirs(
        procfs.parse_cgroup(fixture_text("proc/cgroup-files/v1")), v1_host
    )
    assert version == "v1"
    assert dirs["cpu"] == dirs["cpuacct"] == "/sys/fs/cgroup/cpu,cpuacct/docker/0123abcd"
    assert dirs["memory"] == "/sys/fs/cgroup/memory/docker/0123abcd"
    assert "pids" not in dirs  # not mounted on that host


def test_read_stats_dispatch():
    d = CG / "v1-docker"
    dirs = {c: str(d / c) for c in ("memory", "pids")} | {"unified": "/nonexistent"}
    s = cgroups.read_stats("hybrid", dirs)
    assert s.version == "hybrid" and s.memory_limit == 64 * 1024 * 1024
    assert s.paths["unified"] == "/nonexistent"
    assert cgroups.read_stats("", {}).version == ""


def test_controller_dirs_under_a_mount_of_a_sub_group(fixture_text):
    """Inside a container with the host's cgroup namespace, each v1 hierarchy is mounted from
    the container's own group: paths below it map under the mount, others are not visible."""
    host = procfs.parse_mountinfo(fixture_text("proc/cgroupns-host/mountinfo"))
    cgroup = procfs.parse_cgroup(fixture_text("proc/cgroupns-host/cgroup"))
    own = cgroup["memory"]
    version, dirs = cgroups.controller_dirs(cgroup, host)
    assert version == "hybrid"
    # The group is the mount itself (joined as the root group "/" always was: a trailing slash).
    assert dirs["memory"] == "/sys/fs/cgroup/memory/"
    assert dirs["name=systemd"] == "/sys/fs/cgroup/systemd/"
    assert "unified" not in dirs  # no cgroup2 mount in there
    _, child = cgroups.controller_dirs({"memory": f"{own}/worker"}, host)
    assert child == {"memory": "/sys/fs/cgroup/memory/worker"}
    assert cgroups.controller_dirs({"memory": "/docker/another"}, host) == ("v1", {})
    assert cgroups.controller_dirs({"memory": f"{own}-sibling"}, host) == ("v1", {})


def test_the_root_mount_of_a_hierarchy_wins_over_a_bind_of_a_group(fixture_text):
    host = procfs.parse_mountinfo(
        fixture_text("proc/host-mountinfo")
        + "90 31 0:32 /docker /mnt/docker-memory rw - cgroup cgroup rw,memory\n"
    )
    _, dirs = cgroups.controller_dirs({"memory": "/docker/abc"}, host)
    assert dirs == {"memory": "/sys/fs/cgroup/memory/docker/abc"}


def test_cgroup_procs_files_one_per_hierarchy(fixture_text):
    mountinfo = fixture_text("proc/host-mountinfo")
    cgroup = procfs.parse_cgroup(fixture_text("proc/docker-busybox/cgroup"))
    files = cgroups.cgroup_procs_files(cgroup, mountinfo, exists=lambda p: True)
    _, dirs = cgroups.controller_dirs(cgroup, procfs.parse_mountinfo(mountinfo))
    assert files == [f"{dirs[k]}/cgroup.procs" for k in (
        "name=systemd", "pids", "blkio", "freezer", "devices", "memory", "cpuset", "cpuacct",
        "cpu", "unified",
    )]  # fmt: skip
    merged = procfs.parse_mountinfo(
        "30 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
    )
    assert cgroups.cgroup_procs_files(
        {"cpu,cpuacct": "/x"},
        "30 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n",
        exists=lambda p: True,
    ) == ["/sys/fs/cgroup/cpu,cpuacct/x/cgroup.procs"]
    assert cgroups.controller_dirs({"cpu,cpuacct": "/x"}, merged)[1] == {
        "cpu": "/sys/fs/cgroup/cpu,cpuacct/x",
        "cpuacct": "/sys/fs/cgroup/cpu,cpuacct/x",
    }


class _Target:
    def __init__(self, cgroup: dict[str, str], pid: int = 1) -> None:
        self.cgroup, self.pid, self.name = cgroup, pid, "web"


def test_container_dirs_are_checked_to_be_visible(fixture_text, tmp_path):
    (tmp_path / "memory" / "docker" / "abc").mkdir(parents=True)
    host = procfs.parse_mountinfo(
        f"35 31 0:32 / {tmp_path}/memory rw,relatime - cgroup cgroup rw,memory\n"
    )
    target = _Target({"memory": "/docker/abc"})
    assert cgroups.container_dirs(target, host) == (
        "v1",
        {"memory": f"{tmp_path}/memory/docker/abc"},
    )
    with pytest.raises(DebugtoolError, match="not visible from here"):
        cgroups.container_dirs(_Target({"memory": "/docker/gone"}), host)
    assert cgroups.container_dirs(_Target({"rdma": "/x"}), host) == ("v1", {})


# --- groups shared with the host ---------------------------------------------------------------
#
# Captured on this host with tests/harness.py: ``sandbox-shared`` is a bare ``unshare`` sandbox
# (its memory group is the one of the shell that started it, the rest the root); ``docker-own``
# a Docker container. Each holds the process's /proc/PID/cgroup, the cgroup.procs of some of its
# groups, and the PID namespace of each member, of the container and of the host.


def _captured(name: str) -> tuple[dict[str, str], dict[str, str], dict[str, int]]:
    import json
    import re

    d = CG / name
    cgroup = procfs.parse_cgroup((d / "proc-cgroup").read_text())
    dirs = {ctl.name: str(ctl) for ctl in d.iterdir() if ctl.is_dir()}
    links = json.loads((d / "pidns.json").read_text())
    inodes = {key: int(re.sub(r"\D", "", link)) for key, link in links.items()}
    return cgroup, dirs, inodes


def _shared(name: str, dirs: dict[str, str] | None = None, pid_host: bool = False) -> bool:
    cgroup, captured_dirs, ns = _captured(name)
    dirs = captured_dirs if dirs is None else dirs
    return cgroups.shared_with_host(
        "hybrid",
        cgroup,
        dirs,
        ns["host"] if pid_host else ns["container"],
        ns["host"],
        pidns_of=lambda pid: ns.get(str(pid)),
    )


def test_sandbox_in_the_root_cgroup_is_the_hosts():
    cgroup, dirs, _ = _captured("sandbox-shared")
    assert cgroup["cpuacct"] == "/"
    # cpuacct is the root: its numbers are every process's.
    assert _shared("sandbox-shared", {**dirs, "cpuacct": "/sys/fs/cgroup/cpuacct"})
    # Even a container in the host's PID namespace: the root is never one container's.
    assert _shared("sandbox-shared", {**dirs, "cpuacct": "/x"}, pid_host=True)


def test_sandbox_in_a_group_with_host_processes_is_the_hosts():
    cgroup, dirs, ns = _captured("sandbox-shared")
    assert cgroup["memory"] != "/"  # not the root: its members tell
    members = (CG / "sandbox-shared" / "memory" / "cgroup.procs").read_text().split()
    assert any(ns.get(m) == ns["host"] for m in members)
    assert _shared("sandbox-shared", dirs)  # dirs: memory only


def test_sandbox_group_with_only_its_own_processes_is_its_own():
    cgroup, dirs, ns = _captured("sandbox-shared")
    own = [m for m, inode in ns.items() if inode == ns["container"] and m.isdigit()]
    assert own
    assert not cgroups.shared_with_host(
        "hybrid",
        cgroup,
        dirs,
        ns["container"],
        ns["host"],
        read=lambda path: "\n".join(own) + "\n",
        pidns_of=lambda pid: ns.get(str(pid)),
    )


def test_docker_container_group_is_its_own():
    assert not _shared("docker-own")
    # With --pid host its members are in the host's namespace by design: only the root counts.
    assert not _shared("docker-own", pid_host=True)


def test_v2_looks_only_at_the_unified_hierarchy():
    cgroup = {"": "/user.slice/session-1.scope"}
    procs = {"/cg/cgroup.procs": "10\n11\n"}
    ns = {10: 1, 11: 2}
    shared = cgroups.shared_with_host(
        "v2", cgroup, {"unified": "/cg"}, 2, 1, read=procs.get, pidns_of=ns.get
    )
    assert shared
    # A hybrid host's unified line is not read for usage: its root there means nothing.
    assert not cgroups.shared_with_host(
        "hybrid", {"": "/", "memory": "/docker/x"}, {"unified": "/u", "memory": "/m"}, 2, 1,
        read=lambda path: "20\n", pidns_of=lambda pid: 2,
    )  # fmt: skip


def test_host_cgroup_keeps_limits_and_drops_usage():
    d = CG / "v1-docker"
    s = cgroups.read_v1({c: str(d / c) for c in ("memory", "cpu", "cpuacct", "pids", "blkio")})
    cgroups.host_cgroup(s)
    assert s.shared_with_host
    assert s.memory_usage is None and s.cpu_usage_ns is None and s.pids_current is None
    assert s.io_read_bytes is None and s.memory_peak is None
    assert s.memory_limit == 64 * 1024 * 1024 and s.pids_max == 50
