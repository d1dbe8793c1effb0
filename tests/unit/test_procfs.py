"""procfs parsers on captured /proc text: stat, status, mountinfo, cgroup, id maps, capabilities,
PIDs across namespaces, parents, threads and tracers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from debugtool import procfs
from debugtool.errors import UsageError

FIX = Path(__file__).parent.parent / "fixtures" / "proc"


def test_stat_of_a_real_container_process(fixture_text):
    st = procfs.parse_stat(fixture_text("proc/docker-busybox/stat"))
    assert st["comm"] == "sleep"
    assert st["state"] == "S"
    assert st["ppid"] == 13396
    assert st["num_threads"] == 1
    assert st["starttime"] == 78394


def test_stat_comm_with_spaces_and_parens(fixture_text):
    st = procfs.parse_stat(fixture_text("proc/awkward/stat"))
    assert st["comm"] == "a) (b c"
    assert st["ppid"] == 4200
    assert (st["utime"], st["stime"]) == (150, 50)
    assert st["num_threads"] == 3
    assert st["starttime"] == 123456
    assert st["rss_pages"] == 300


def test_status_fields_and_nspid(fixture_text):
    status = procfs.parse_status(fixture_text("proc/docker-busybox/status"))
    assert procfs.nspid(status) == [13416, 1]
    assert procfs.status_ids(status, "Uid") == (1000, 1000, 1000, 1000)
    assert procfs.seccomp_mode(status) == "filter"
    assert status["Seccomp_filters"] == "1"
    nested = procfs.parse_status(fixture_text("proc/awkward/status"))
    assert procfs.nspid(nested) == [4242, 77, 5]  # innermost last
    assert procfs.status_ids(nested, "Uid")[1] == 101000
    assert procfs.seccomp_mode(nested) == "disabled"
    assert procfs.seccomp_mode({}) == ""


def test_status_ids_malformed():
    with pytest.raises(ValueError):
        procfs.status_ids({"Uid": "1 2"})


def test_capabilities_of_docker_default(fixture_text):
    caps = procfs.capabilities(procfs.parse_status(fixture_text("proc/docker-busybox/status")))
    assert caps["effective"] == []
    assert caps["bounding"] == [
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_FOWNER",
        "CAP_FSETID",
        "CAP_KILL",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_SETPCAP",
        "CAP_NET_BIND_SERVICE",
        "CAP_NET_RAW",
        "CAP_SYS_CHROOT",
        "CAP_MKNOD",
        "CAP_AUDIT_WRITE",
        "CAP_SETFCAP",
    ]


def test_capability_table_is_complete():
    assert len(procfs.CAP_NAMES) == 41
    assert procfs.CAP_NAMES[21] == "CAP_SYS_ADMIN"
    assert procfs.CAP_NAMES[40] == "CAP_CHECKPOINT_RESTORE"
    every = procfs.cap_names("000001ffffffffff")
    assert len(every) == 41 and every[-1] == "CAP_CHECKPOINT_RESTORE"
    # A bit beyond the table (a newer kernel) is named, not dropped.
    assert procfs.cap_names(1 << 45) == ["CAP_45"]
    assert procfs.cap_names("0") == []
    caps = procfs.capabilities(procfs.parse_status((FIX / "awkward/status").read_text()))
    assert caps["ambient"] == ["CAP_NET_BIND_SERVICE"]


def test_id_maps(fixture_text):
    assert procfs.parse_id_map(fixture_text("proc/docker-busybox/uid_map")) == procfs.IDENTITY_MAP
    userns = procfs.parse_id_map(fixture_text("proc/awkward/uid_map"))
    assert userns == [(0, 100000, 65536)]
    assert procfs.map_id(101000, userns) == 1000
    assert procfs.map_id(100000, userns) == 0
    assert procfs.map_id(5, userns) is None  # unmapped: shown as nobody
    assert procfs.map_id(165536, userns) is None


def test_cgroup_file_v1_v2_hybrid(fixture_text):
    hybrid = procfs.parse_cgroup(fixture_text("proc/docker-busybox/cgroup"))
    assert hybrid[""].startswith("/docker/")
    assert hybrid["memory"] == hybrid[""]
    assert "name=systemd" in hybrid
    v2 = procfs.parse_cgroup(fixture_text("proc/cgroup-files/v2"))
    assert v2 == {"": "/system.slice/docker-0123abcd.scope"}
    v1 = procfs.parse_cgroup(fixture_text("proc/cgroup-files/v1"))
    assert v1["cpu,cpuacct"] == "/docker/0123abcd" and "" not in v1


def test_mountinfo_of_a_real_container(fixture_text):
    mounts = procfs.parse_mountinfo(fixture_text("proc/docker-busybox/mountinfo"))
    root = mounts[0]
    assert root.mountpoint == "/" and root.fstype == "overlay" and root.readonly
    assert root.propagation.startswith("master:")
    assert "upperdir=" in root.super_options
    data = next(m for m in mounts if m.mountpoint == "/data")
    assert data.root == "/var/tmp/dtinsp/data" and data.source == "/dev/vda"
    assert not data.readonly and data.propagation == "private"
    assert any(m.mountpoint == "/scratch" and m.fstype == "tmpfs" for m in mounts)


def test_mountinfo_escapes_deleted_and_optional_fields(fixture_text):
    mounts = {m.mount_id: m for m in procfs.parse_mountinfo(fixture_text("proc/awkward/mountinfo"))}
    assert len(mounts) == 7  # the garbage line is skipped
    assert mounts[30].root == "/srv/my data"
    assert mounts[30].mountpoint == "/data dir"
    assert mounts[31].root == "/srv/tab\tand\nnewline"
    assert mounts[31].mountpoint == "/weird\\path"
    assert mounts[31].readonly
    assert mounts[31].optional == ["shared:5", "master:3", "propagate_from:2"]
    assert mounts[31].propagation == "shared:5 master:3 propagate_from:2"
    assert mounts[32].root == "/var/tmp/gone (deleted)"
    assert os.fsencode(mounts[33].mountpoint) == b"/mnt/\xff\xferaw"  # non-UTF-8 kept
    assert mounts[33].propagation == "unbindable"
    assert mounts[33].source == "tmp fs"
    assert mounts[34].fstype == "fuse.sshfs" and mounts[34].source == "user@host:/x y"
    assert mounts[35].source == "" and mounts[35].super_options == ""
    assert mounts[22].propagation == "shared:1"


def test_unescape_leaves_other_backslashes():
    assert procfs.unescape_mount("a\\040b") == "a b"
    assert procfs.unescape_mount("a\\x") == "a\\x"
    assert procfs.unescape_mount("plain") == "plain"


def test_boot_time(fixture_text):
    assert procfs.boot_time(fixture_text("proc/stat-btime")) > 1_000_000_000
    assert procfs.boot_time() > 1_000_000_000


def test_reading_a_gone_process_raises_process_gone():
    with pytest.raises(procfs.ProcessGone) as err:
        procfs.read_text(2**22 + 12345, "status")
    assert "exited" in str(err.value)


def test_cmdline_of_this_process():
    assert procfs.cmdline(os.getpid())  # pytest has a command line


# --- PIDs across namespaces, parents, threads, tracers ----------------------------------------
# tests/fixtures/trace/: a Docker busybox container's sh (14569, NSpid 14569 1) and nc (14598,
# NSpid 14598 7) traced by strace (17526), the host's PID 1, a nested namespace (20001) and a
# process that exited mid-scan (424242); ns/pid link to files standing in for the namespaces.

TRACE_FIX = Path(__file__).parent.parent / "fixtures" / "trace"
TRACE_PROC = str(TRACE_FIX / "proc")


@pytest.fixture
def captured_proc(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(procfs, "PROC", TRACE_PROC)
    return TRACE_PROC


def test_host_pid_for_maps_a_namespace_pid_through_nspid():
    pidns = os.stat(TRACE_FIX / "pidns-container").st_ino
    assert procfs.host_pid_for(pidns, 1, proc=TRACE_PROC) == 14569
    assert procfs.host_pid_for(pidns, 7, proc=TRACE_PROC) == 14598
    assert procfs.host_pid_for(pidns, 5, proc=TRACE_PROC) == 20001  # nested: innermost PID counts


def test_host_pid_for_ignores_other_namespaces_and_vanished_processes(captured_proc):
    pidns = os.stat(TRACE_FIX / "pidns-container").st_ino
    # PID 1 of the host namespace (the fixture's process_api) is not the container's PID 1.
    assert procfs.host_pid_for(pidns, 1) != 1
    with pytest.raises(UsageError) as info:
        procfs.host_pid_for(pidns, 99)
    assert "no process has PID 99 inside the container" in info.value.for_people()


def test_pid_in_namespace(captured_proc):
    assert procfs.pid_in_namespace(14598) == 7
    assert procfs.pid_in_namespace(1) == 1
    assert procfs.pid_in_namespace(424242) == 0  # gone
    # In a PID namespace nested inside the container: named as the container (level 1) sees it.
    assert procfs.pid_in_namespace(20001) == 5
    assert procfs.pid_in_namespace(20001, level=1) == 300
    assert procfs.pid_in_namespace(20001, level=0) == 20001


def test_ancestors_follow_ppid_until_a_parent_is_gone(captured_proc):
    # nc's parent is the container's sh, whose parent (14549, containerd-shim) was not captured.
    assert procfs.ancestors(14598) == {14598, 14569, 14549}


def test_ancestors_of_this_process():
    own = procfs.ancestors()
    assert os.getpid() in own and os.getppid() in own


def test_threads_tracer_and_comm(captured_proc):
    assert procfs.threads(14598) == [14598]
    assert procfs.threads(424242) == []  # gone
    assert procfs.tracer_pid(14598) == 17526
    assert procfs.tracer_pid(14569) == 0
    assert procfs.tracer_pid(424242) == 0  # gone
    assert procfs.comm(17526) == "strace"
    with pytest.raises(procfs.ProcessGone):
        procfs.comm(424242)
