"""cgroup stats on captured v1 (this host's hybrid layout), v2 and hand-made unlimited files."""

from __future__ import annotations

from pathlib import Path

from debugtool import procfs
from debugtool.collect import cgroups

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
