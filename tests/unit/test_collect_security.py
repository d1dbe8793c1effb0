"""Security context from captured status, id maps and mounts; warnings in words."""

from __future__ import annotations

from debugtool import procfs
from debugtool.collect.mounts import build_mounts
from debugtool.collect.security import build_security


def status(fixture_text, name: str) -> dict[str, str]:
    return procfs.parse_status(fixture_text(name))


def test_docker_default_non_root(fixture_text):
    mounts = build_mounts(
        procfs.parse_mountinfo(fixture_text("proc/docker-busybox/mountinfo")),
        procfs.parse_mountinfo(fixture_text("proc/host-mountinfo")),
    )
    ctx = build_security(
        status(fixture_text, "proc/docker-busybox/status"),
        procfs.parse_id_map(fixture_text("proc/docker-busybox/uid_map")),
        procfs.parse_id_map(fixture_text("proc/docker-busybox/gid_map")),
        apparmor="docker-default (enforce)",
        mounts=mounts,
    )
    assert ctx.user_namespace is False
    assert ctx.cap_effective == [] and "CAP_NET_RAW" in ctx.cap_bounding
    assert ctx.seccomp == "filter" and ctx.seccomp_filters == 1
    assert ctx.no_new_privs is False
    assert ctx.readonly_rootfs is True
    assert ctx.apparmor == "docker-default (enforce)"
    assert ctx.warnings == ["/data: host path /var/tmp/dtinsp/data mounted read-write"]


def test_privileged_looking(fixture_text):
    mounts = build_mounts(
        procfs.parse_mountinfo(fixture_text("proc/docker-privileged/mountinfo")),
        procfs.parse_mountinfo(fixture_text("proc/host-mountinfo")),
    )
    ctx = build_security(
        status(fixture_text, "proc/docker-privileged/status"),
        procfs.parse_id_map(fixture_text("proc/docker-privileged/uid_map")),
        [],
        apparmor="unconfined",
        mounts=mounts,
        shared_ns=["pid", "net"],
    )
    w = ctx.warnings
    assert w[0] == "has CAP_SYS_ADMIN, CAP_SYS_PTRACE"
    assert "no seccomp filter (seccomp=unconfined)" in w
    assert "AppArmor unconfined" in w
    assert "runs as root without a user namespace (uid 0 is the host's root)" in w
    assert "shares the host's PID namespace (sees and signals every host process)" in w
    assert "shares the host's network namespace" in w
    assert "/var/run/docker.sock: container runtime socket (docker.sock) mounted" in "\n".join(w)
    assert "/host: host root filesystem mounted" in w
    # Many risky mounts are summarised, not listed one by one.
    assert w[-1].startswith("... and ") and "debugtool mounts --risky" in w[-1]
    assert ctx.readonly_rootfs is False


def test_every_capability_in_a_user_namespace(fixture_text):
    ctx = build_security(
        status(fixture_text, "proc/awkward/status"),
        procfs.parse_id_map(fixture_text("proc/awkward/uid_map")),
        [],
    )
    assert ctx.user_namespace is True
    assert len(ctx.cap_effective) == 41
    assert ctx.no_new_privs is True
    assert ctx.warnings[0] == "runs with every capability (looks like --privileged)"
    # uid 101000 on the host in a user namespace: not the host's root.
    assert not any("host's root" in x for x in ctx.warnings)
