"""procfs parsers on captured /proc text: stat, status, mountinfo, cgroup, id maps, capabilities,
PIDs across namespaces, the namespace pass, parents, threads and tracers; paths and errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from debugtool import procfs
from debugtool.errors import DebugtoolError, PermissionDenied, UsageError

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


def test_stat_flags_and_kernel_threads(fixture_text):
    scan = FIX / "ns-scan"
    kthreadd = procfs.parse_stat((scan / "2" / "stat").read_text())
    assert kthreadd["flags"] == 2129984 and kthreadd["flags"] & procfs.PF_KTHREAD
    python = procfs.parse_stat((scan / "21068" / "stat").read_text())
    assert not python["flags"] & procfs.PF_KTHREAD
    assert procfs.parse_stat(fixture_text("proc/awkward/stat"))["comm"] == "a) (b c"


def test_kernel_thread_reads_stat_through_proc(monkeypatch):
    monkeypatch.setattr(procfs, "PROC", str(FIX / "ns-scan"))
    assert procfs.kernel_thread(2)
    assert not procfs.kernel_thread(13239)
    with pytest.raises(procfs.ProcessGone):
        procfs.kernel_thread(424242)


def test_status_field_reads_one_line_without_parsing_the_rest(fixture_text):
    text = fixture_text("proc/awkward/status")
    assert procfs.status_field(text, "Name") == procfs.parse_status(text)["Name"]  # first line
    assert procfs.status_field(text, "NSpid") == "4242\t77\t5"
    assert procfs.status_field(text, "Uid") == procfs.parse_status(text)["Uid"]
    assert procfs.status_field(text, "NoSuchKey") == ""
    assert procfs.status_field("Name:\tx", "Name") == "x"  # no newline at the end
    assert procfs.status_field(text, "Pid") != procfs.status_field(text, "PPid")  # whole keys


def test_nspid_from_status_text_or_mapping(fixture_text):
    for name, chain in (("docker-busybox", [13416, 1]), ("awkward", [4242, 77, 5])):
        text = fixture_text(f"proc/{name}/status")
        assert procfs.nspid(text) == procfs.nspid(procfs.parse_status(text)) == chain
    assert procfs.nspid((FIX / "ns-scan" / "13239" / "status").read_text()) == [13239, 7]
    assert procfs.nspid("Name:\told-kernel\n") == []


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


def test_host_pid_for_maps_a_namespace_pid_through_nspid(captured_proc):
    pidns = os.stat(TRACE_FIX / "pidns-container").st_ino
    assert procfs.host_pid_for(pidns, 1) == 14569
    assert procfs.host_pid_for(pidns, 7) == 14598
    assert procfs.host_pid_for(pidns, 5) == 20001  # nested: innermost PID counts


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


# --- the namespace pass -------------------------------------------------------------------------
# tests/fixtures/proc/ns-scan: links as the kernel writes them (see its README).

SCAN = str(FIX / "ns-scan")
HOST_PIDNS, CONTAINER_PIDNS = 4026531836, 4026532251
HOST_NETNS, CONTAINER_NETNS = 4026531833, 4026532252


@pytest.fixture
def ns_scan(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(procfs, "PROC", SCAN)
    return SCAN


def test_namespace_members_groups_every_process_in_one_pass(ns_scan):
    found = {inode: sorted(pids) for inode, pids in procfs.namespace_members().items()}
    # PID 1 refused its link and 424242 has none: both left out, not an error.
    assert found == {HOST_PIDNS: [2, 13238, 21068], CONTAINER_PIDNS: [13200, 13239]}
    net = {inode: sorted(pids) for inode, pids in procfs.namespace_members("net").items()}
    assert net == {HOST_NETNS: [2, 21068], CONTAINER_NETNS: [13200, 13238, 13239]}


def test_members_of_one_namespace_and_among_given_pids(ns_scan):
    assert sorted(procfs.members(CONTAINER_PIDNS)) == [13200, 13239]
    assert sorted(procfs.members(CONTAINER_NETNS, "net")) == [13200, 13238, 13239]
    assert procfs.members(CONTAINER_PIDNS, among=[13238, 13239, 424242, 99]) == [13239]
    assert procfs.members(12345) == []
    only = procfs.namespace_members(only=CONTAINER_PIDNS)
    assert list(only) == [CONTAINER_PIDNS] and sorted(only[CONTAINER_PIDNS]) == [13200, 13239]
    assert sorted(procfs.pids()) == [1, 2, 13200, 13238, 13239, 21068, 424242]


def test_the_pass_reads_stand_in_links_of_a_captured_tree(captured_proc):
    """The trace fixtures' ns/pid link to files standing in for namespaces: stat decides."""
    container = os.stat(TRACE_FIX / "pidns-container").st_ino
    host = os.stat(TRACE_FIX / "pidns-host").st_ino
    found = {inode: sorted(pids) for inode, pids in procfs.namespace_members().items()}
    assert found == {container: [14569, 14598, 20001, 424242], host: [1, 17526]}
    assert sorted(procfs.members(container, among=[1, 14569, 20001])) == [14569, 20001]
    assert procfs.namespace_inode(17526, "pid") == host


def test_namespace_inode_and_host_pidns(ns_scan):
    assert procfs.namespace_inode(13239, "pid") == CONTAINER_PIDNS
    assert procfs.namespace_inode("self", "net") == HOST_NETNS
    assert procfs.host_pidns() == HOST_PIDNS  # PID 1 refused: this process stands for the host
    with pytest.raises(procfs.ProcessGone):
        procfs.namespace_inode(424242, "pid")


def test_the_real_pass_agrees_with_stat():
    me = os.getpid()
    mine = os.stat(f"/proc/{me}/ns/pid").st_ino
    assert me in procfs.members(mine)
    assert me in procfs.namespace_members()[mine]
    assert procfs.namespace_inode(me, "net") == os.stat(f"/proc/{me}/ns/net").st_ino
    assert procfs.namespace_inodes(me)["pid"] == mine


# --- paths and errors -----------------------------------------------------------------------------


def test_paths_follow_proc(monkeypatch):
    assert procfs.path(42, "root") == "/proc/42/root"
    assert procfs.path("self", "ns", "net") == "/proc/self/ns/net"
    assert procfs.path() == "/proc"
    assert procfs.fd_path(7) == "/proc/self/fd/7"
    monkeypatch.setattr(procfs, "PROC", SCAN)
    assert procfs.path("sys", "kernel") == f"{SCAN}/sys/kernel"
    assert procfs.fd_path(7) == f"{SCAN}/self/fd/7"


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (ProcessLookupError(3, "No such process"), procfs.ProcessGone),
        (FileNotFoundError(2, "No such file or directory"), procfs.ProcessGone),
        (PermissionError(13, "Permission denied"), PermissionDenied),
        (PermissionError(1, "Operation not permitted"), PermissionDenied),
        (OSError(5, "Input/output error"), DebugtoolError),
    ],
)
def test_translate_as_psutil_does(exc, kind):
    err = procfs.translate(exc, 42, "stat")
    assert type(err) is kind
    assert "process 42" in err.for_people() and "stat" in err.for_people()
    if kind is PermissionDenied:
        assert err.need == "CAP_SYS_PTRACE"


def test_boot_time_without_proc_is_one_error(monkeypatch, tmp_path):
    monkeypatch.setattr(procfs, "PROC", str(tmp_path))
    with pytest.raises(DebugtoolError):
        procfs.boot_time()
