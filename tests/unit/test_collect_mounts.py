"""Mount records: host paths of bind mounts from the host's mountinfo, and risk flags."""

from __future__ import annotations

from debugtool import procfs
from debugtool.collect.mounts import build_mounts


def build(fixture_text, container: str, host: str = "proc/host-mountinfo"):
    mounts = build_mounts(
        procfs.parse_mountinfo(fixture_text(container)), procfs.parse_mountinfo(fixture_text(host))
    )
    return {m.mountpoint: m for m in mounts}


def test_docker_container_bind_tmpfs_readonly_root(fixture_text):
    m = build(fixture_text, "proc/docker-busybox/mountinfo")
    assert m["/"].readonly and m["/"].host_path.endswith("/merged")
    assert m["/data"].host_path == "/var/tmp/dtinsp/data"
    assert m["/data"].risks == ["host path /var/tmp/dtinsp/data mounted read-write"]
    assert m["/scratch"].fstype == "tmpfs" and m["/scratch"].host_path == ""
    assert m["/scratch"].risks == []
    # Docker's own binds of hosts/hostname/resolv.conf are not flagged.
    assert m["/etc/hosts"].host_path.startswith("/var/lib/docker/containers/")
    assert m["/etc/hosts"].risks == []
    assert m["/sys/fs/cgroup/memory"].host_path.startswith("/sys/fs/cgroup/memory/docker/")
    assert m["/sys/fs/cgroup/memory"].risks == []  # read-only
    assert m["/proc"].risks == []  # /proc/sys has its own read-only mount
    assert sum(1 for x in m.values() if x.risks) == 1


def test_privileged_looking_container(fixture_text):
    m = build(fixture_text, "proc/docker-privileged/mountinfo")
    assert m["/var/run/docker.sock"].host_path == "/run/docker.sock"
    assert m["/var/run/docker.sock"].risks == ["container runtime socket (docker.sock) mounted"]
    assert m["/host"].host_path == "/"
    assert m["/host"].risks == ["host root filesystem mounted"]  # ro, so not "read-write"
    assert "/proc/sys is writable (kernel settings of the host)" in m["/proc"].risks
    assert m["/host/dev"].risks == ["host /dev mounted"]
    assert m["/host/proc"].risks == ["host /proc mounted read-write"]
    assert m["/host/sys/fs/cgroup/memory"].risks == ["cgroup hierarchy is writable"]
    assert m["/host/var/lib/docker"].risks == ["host path /var/lib/docker mounted read-write"]


def test_escaped_paths_and_longest_root_prefix(fixture_text):
    m = build(fixture_text, "proc/awkward/mountinfo", "proc/awkward/host-mountinfo")
    # Both the host's / and /srv mounts hold /srv/my data; the more specific root wins,
    # and either way the host path is the same file.
    assert m["/data dir"].host_path == "/srv/my data"
    assert m["/weird\\path"].host_path == "/srv/tab\tand\nnewline"
    assert m["/weird\\path"].risks == []  # read-only
    assert m["/etc/app.conf"].host_path == "/var/tmp/gone (deleted)"
    assert m["/"].host_path == "/var/lib/docker/overlay2/abc/merged"
    assert m["/noopt"].host_path == ""  # a FUSE mount the host does not have
    assert m["/noopt"].propagation == "private"


def test_overlay_root_without_host_mount_guesses_merged(fixture_text):
    container = procfs.parse_mountinfo(fixture_text("proc/awkward/mountinfo"))
    mounts = build_mounts(container, [])
    assert mounts[0].host_path == "/var/lib/docker/overlay2/abc/merged"
    assert mounts[1].host_path == ""


def test_host_run_directory_holds_runtime_sockets():
    container = procfs.parse_mountinfo(
        "1 0 0:50 / / rw - overlay overlay rw\n"
        "2 1 254:0 /run /hostrun rw - ext4 /dev/vda rw\n"
        "3 1 254:0 /srv/sock/docker.sock /tmp/renamed.sock rw - ext4 /dev/vda rw\n"
    )
    host = procfs.parse_mountinfo("1 0 254:0 / / rw - ext4 /dev/vda rw\n")
    m = {x.mountpoint: x for x in build_mounts(container, host)}
    assert m["/hostrun"].risks == ["host /run mounted (it holds container runtime sockets)"]
    # Renamed inside the container: the host path still names the socket.
    assert m["/tmp/renamed.sock"].risks == ["container runtime socket (docker.sock) mounted"]
