"""Target resolution on a hand-made Discovery, and pidfd pinning of real local processes."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest

from debugtool import procfs, target
from debugtool.errors import (
    EXIT_TOOL,
    AmbiguousTarget,
    ContainerGone,
    ContainerNotFound,
    ContainerNotRunning,
    UsageError,
)
from debugtool.model import Container
from debugtool.runtimes import Discovery
from debugtool.target import find, pin

WEB_ID = "4f1c2a" + "0" * 58
WEB2_ID = "4f1c9b" + "1" * 58
PODMAN_ID = "77aa" + "2" * 60


def container(**kw: object) -> Container:
    defaults: dict[str, object] = {"status": "running", "pid": 4242}
    defaults.update(kw)
    c = Container(**defaults)  # type: ignore[arg-type]
    c.backends = c.backends or [c.runtime]
    return c


@pytest.fixture
def discovery() -> Discovery:
    return Discovery(
        containers=[
            container(id=WEB_ID, name="/web", runtime="docker", backends=["docker", "runc"]),
            container(id=WEB2_ID, name="/api", runtime="docker", backends=["docker", "runc"]),
            container(id=PODMAN_ID, name="web", runtime="podman", backends=["podman", "runc"]),
            container(id="dt-runc-1", name="dt-runc-1", runtime="runc"),
            container(id="jobs", name="jobs", runtime="containerd", namespace="batch"),
            container(
                id="c" * 64,
                name="k8s_app",
                runtime="containerd",
                pod="shop",
                pod_namespace="prod",
                k8s_container="app",
            ),
            container(
                id="d" * 64,
                name="k8s_pause",
                runtime="containerd",
                pod="shop",
                pod_namespace="prod",
                k8s_container="POD",
            ),
            container(
                id="e" * 64,
                name="k8s_app2",
                runtime="containerd",
                pod="shop",
                pod_namespace="staging",
                k8s_container="app",
            ),
            container(id="pid-900", name="busybox", runtime="none", pid=900, pidns=111),
        ],
        warnings=[],
        runtimes={},
    )


def test_full_id_prefix_and_name(discovery: Discovery) -> None:
    assert find(WEB_ID, discovery).id == WEB_ID
    assert find("4f1c2", discovery).id == WEB_ID
    assert find("api", discovery).id == WEB2_ID  # Docker's leading slash is not typed
    assert find("/api", discovery).id == WEB2_ID
    assert find("  dt-runc-1 ", discovery).runtime == "runc"
    assert find("pid-900", discovery).runtime == "none"


def test_ambiguous_prefix_lists_every_match(discovery: Discovery) -> None:
    with pytest.raises(AmbiguousTarget) as err:
        find("4f1c", discovery)
    assert err.value.exit_code == EXIT_TOOL
    message = err.value.for_people()
    assert message.startswith("'4f1c' matches 2 containers: docker:/web (4f1c2a000000)")
    assert "docker:/api (4f1c9b111111)" in message
    assert "RUNTIME:NAME" in message


def test_same_name_in_two_runtimes_is_ambiguous_until_scoped(discovery: Discovery) -> None:
    with pytest.raises(AmbiguousTarget) as err:
        find("web", discovery)
    assert "docker:/web" in str(err.value) and "podman:web" in str(err.value)
    assert find("docker:web", discovery).id == WEB_ID
    assert find("podman:web", discovery).id == PODMAN_ID
    assert find("podman:77a", discovery).id == PODMAN_ID  # RUNTIME:ID-PREFIX


def test_containerd_namespace_picks_among_one_name_in_several(discovery: Discovery) -> None:
    discovery.containers.append(
        container(id="jobs", name="jobs", runtime="containerd", namespace="ci")
    )
    with pytest.raises(AmbiguousTarget) as err:
        find("containerd:jobs", discovery)
    # Each candidate is shown the way it can be named alone.
    assert err.value.candidates == ["containerd:batch/jobs (jobs)", "containerd:ci/jobs (jobs)"]
    assert find("containerd:ci/jobs", discovery).namespace == "ci"
    assert find("containerd:batch/jobs", discovery).namespace == "batch"
    assert find("containerd:ci/jo", discovery).namespace == "ci"  # an id prefix in a namespace
    with pytest.raises(ContainerNotFound, match="'containerd:nope/jobs'"):
        find("containerd:nope/jobs", discovery)


def test_runtime_scope_includes_backends(discovery: Discovery) -> None:
    # runc knows both web containers (Docker's and podman's): scoped to runc it is still ambiguous.
    with pytest.raises(AmbiguousTarget):
        find("runc:web", discovery)
    assert find("runc:dt-runc-1", discovery).id == "dt-runc-1"
    with pytest.raises(ContainerNotFound):
        find("podman:api", discovery)


def test_unknown_name_says_what_to_do(discovery: Discovery) -> None:
    discovery.warnings = ["docker: did not answer within 2s; skipped."]
    with pytest.raises(ContainerNotFound) as err:
        find("nosuch", discovery)
    text = err.value.for_people()
    assert text.startswith("no container matches 'nosuch'.")
    assert "Some runtimes did not answer: docker: did not answer within 2s; skipped." in text
    assert text.endswith("List them with 'debugtool ps -a'.")


def test_bad_input_forms(discovery: Discovery) -> None:
    with pytest.raises(UsageError, match="no container given"):
        find("  ", discovery)
    with pytest.raises(UsageError, match="'pid:abc' is not a process id"):
        find("pid:abc", discovery)
    with pytest.raises(UsageError, match="is not a pod reference"):
        find("pod/", discovery)
    with pytest.raises(ContainerNotFound, match="no Kubernetes container matches 'pod/x'"):
        find("pod/x", discovery)


def test_pods(discovery: Discovery) -> None:
    # Two namespaces have a pod "shop" with container "app": ambiguous until the namespace is given.
    with pytest.raises(AmbiguousTarget):
        find("pod/shop", discovery)
    assert find("pod/prod/shop/app", discovery).id == "c" * 64
    assert find("pod/staging/shop/app", discovery).id == "e" * 64
    with pytest.raises(ContainerNotFound):
        find("pod/prod/shop/POD", discovery)  # the pause container holds no workload


def test_pid_forms(discovery: Discovery) -> None:
    with pytest.raises(ContainerNotFound, match="no process 999999999 runs on this host"):
        find("pid:999999999", discovery)
    me = find(f"pid:{os.getpid()}", discovery)
    assert (me.id, me.runtime, me.pid) == (f"pid-{os.getpid()}", "none", os.getpid())
    assert me.pidns == os.stat("/proc/self/ns/pid").st_ino


def test_pid_inside_a_known_container_targets_it(discovery: Discovery) -> None:
    """pid:N of any process in a known container's PID namespace is that container."""
    mine = os.stat("/proc/self/ns/pid").st_ino
    discovery.containers.append(container(id="host-ish", name="host-ish", runtime="runc", pid=1))
    discovery.containers[-1].pidns = mine
    found = find(f"pid:{os.getpid()}", discovery)
    assert found.id == "host-ish" and found.pid == os.getpid()
    assert discovery.containers[-1].pid == 1  # the Discovery's record is not modified


# --- pinning ----------------------------------------------------------------------------------


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(["sleep", "60"])
    yield proc
    proc.kill()
    proc.wait()


def test_pin_reads_namespaces_and_cgroup(sleeper: subprocess.Popen[bytes]) -> None:
    c = container(id="local", name="sleep", runtime="none", pid=sleeper.pid)
    with pin(c) as t:
        assert t.pid == sleeper.pid
        assert t.pidfd is not None
        assert t.start_time == procfs.start_time(sleeper.pid)
        assert t.namespaces["pid"] == os.stat(f"/proc/{sleeper.pid}/ns/pid").st_ino
        assert t.cgroup  # at least one hierarchy
        assert t.alive()
        t.check()
    assert t.pidfd is None


def test_pin_refuses_a_reused_pid(sleeper: subprocess.Popen[bytes]) -> None:
    """The record's PID now belongs to a process in another PID namespace: not the container."""
    c = container(id="gone", name="web", runtime="runc", pid=sleeper.pid)
    c.pidns = 1  # the container's namespace, which no live process has
    with pytest.raises(ContainerGone, match="exited while debugtool was attaching"):
        pin(c)


def test_pin_refuses_a_start_time_change(
    sleeper: subprocess.Popen[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The PID was reused between reading its start time and opening the pidfd."""
    ticks = iter([1000, 2000])
    monkeypatch.setattr(target.procfs, "start_time", lambda pid: next(ticks))
    c = container(id="racy", name="web", runtime="runc", pid=sleeper.pid)
    with pytest.raises(ContainerGone):
        pin(c)


def test_target_notices_exit_and_start_time_mismatch(sleeper: subprocess.Popen[bytes]) -> None:
    c = container(id="local", name="sleep", runtime="none", pid=sleeper.pid)
    t = pin(c)
    try:
        t.start_time += 1  # what a reused PID looks like to a Target without a pidfd
        fd, t.pidfd = t.pidfd, None
        assert not t.alive()
        t.pidfd, t.start_time = fd, t.start_time - 1
        assert t.alive()
        sleeper.kill()
        sleeper.wait()
        assert not t.alive()  # the pidfd polls readable once the process exited
        with pytest.raises(ContainerGone, match=r"container sleep \(local\) has exited"):
            t.check()
    finally:
        t.close()


def test_pin_refuses_stopped_and_pidless(sleeper: subprocess.Popen[bytes]) -> None:
    with pytest.raises(ContainerNotRunning, match=r"is not running \(status: exited\)"):
        pin(container(id="x", name="x", runtime="docker", status="exited", pid=sleeper.pid))
    with pytest.raises(ContainerNotRunning):
        pin(container(id="y", name="y", runtime="docker", pid=None))


def test_pid_whose_namespaces_are_unreadable_is_a_sentence(monkeypatch) -> None:
    from debugtool.errors import PermissionDenied
    from debugtool.runtimes import Discovery
    from debugtool.target import find

    real_stat = os.stat

    def refusing(path, *a, **kw):
        if str(path) == f"/proc/{os.getpid()}/ns/pid":
            raise PermissionError(13, "Permission denied")
        return real_stat(path, *a, **kw)

    monkeypatch.setattr(os, "stat", refusing)
    with pytest.raises(PermissionDenied, match="may not read the namespaces"):
        find(f"pid:{os.getpid()}", Discovery())
