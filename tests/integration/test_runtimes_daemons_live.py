"""The Docker, podman and containerd backends against real containers on this machine."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import harness
import pytest

from debugtool.model import Container
from debugtool.runtimes import containerd, docker, grpcwire, podman
from debugtool.runtimes import protowire as pw
from debugtool.runtimes.base import ExecRequest

POD_LABELS = {
    "io.kubernetes.pod.name": "checkout-5d9f",
    "io.kubernetes.pod.namespace": "shop",
    "io.kubernetes.container.name": "cart",
}


@pytest.fixture(scope="module")
def started(module_containers: harness.Containers) -> dict[str, harness.Started]:
    """One sleeping container in each daemon runtime, shared by the read-only tests."""
    return {
        "docker": module_containers.docker(),
        "podman": module_containers.podman(),
        "containerd": module_containers.containerd(),
    }


def by_id(found: list[Container], cid: str) -> Container:
    matches = [c for c in found if c.id == cid]
    assert len(matches) == 1, f"{cid} not listed once: {[c.id for c in found]}"
    return matches[0]


def test_docker_lists_its_container(started: dict[str, harness.Started]) -> None:
    s = started["docker"]
    c = by_id(docker.DockerRuntime().list(), s.id)
    assert (c.name, c.image, c.pid, c.status) == (s.name, harness.DOCKER_IMAGE, s.pid, "running")
    assert c.runtime == "docker" and c.namespace == "moby"
    assert c.created and abs(c.created - time.time()) < 3600
    assert os.path.isdir(f"{c.oci_root}/{c.id}")  # runc's state for it is where we say
    assert docker.DockerRuntime().inspect(c)["State"]["Pid"] == s.pid


def test_docker_lists_stopped_containers_only_with_all(containers: harness.Containers) -> None:
    s = containers.docker(cmd=("/bin/true",))
    for _ in range(100):
        if harness.run("docker", "inspect", "-f", "{{.State.Status}}", s.id).strip() == "exited":
            break
        time.sleep(0.05)
    rt = docker.DockerRuntime()
    assert s.id not in [c.id for c in rt.list()]
    c = by_id(rt.list(all=True), s.id)
    assert (c.status, c.pid) == ("exited", None)


def test_docker_kubernetes_labels(containers: harness.Containers) -> None:
    labels = [arg for k, v in POD_LABELS.items() for arg in ("--label", f"{k}={v}")]
    s = containers.docker(*labels)
    c = by_id(docker.DockerRuntime().list(), s.id)
    assert (c.pod, c.pod_namespace, c.k8s_container) == ("checkout-5d9f", "shop", "cart")


def test_podman_lists_its_container(started: dict[str, harness.Started]) -> None:
    s = started["podman"]
    rt = podman.PodmanRuntime()
    c = by_id(rt.list(), s.id)
    assert (c.name, c.pid, c.status) == (s.name, s.pid, "running")
    assert c.image == f"localhost/{harness.DOCKER_IMAGE}"
    assert (c.oci_runtime, c.oci_root) == ("runc", "/run/runc")
    assert os.path.samefile(c.rootfs, f"/proc/{s.pid}/root")
    assert c.metadata["podman"]["source"] == "storage"
    # The storage files and podman itself agree.
    ps = {c.id: c for c in (podman.container_from_ps(i) for i in rt._podman_ps())}
    assert (ps[s.id].name, ps[s.id].pid, ps[s.id].status, ps[s.id].image) == (
        c.name,
        c.pid,
        c.status,
        c.image,
    )
    assert rt.inspect(c)["State"]["Pid"] == s.pid


def test_containerd_lists_its_container(started: dict[str, harness.Started]) -> None:
    s = started["containerd"]
    c = by_id(containerd.ContainerdRuntime().list(), s.id)
    assert (c.name, c.image, c.pid, c.status) == (s.name, harness.DOCKER_IMAGE, s.pid, "running")
    assert c.namespace == harness.CTR_NAMESPACE
    assert c.oci_root == f"/run/containerd/runc/{harness.CTR_NAMESPACE}"
    assert os.path.isfile(f"{c.oci_root}/{c.id}/state.json")
    assert os.path.isfile(f"{c.bundle}/config.json")
    assert os.path.samefile(c.rootfs, f"/proc/{s.pid}/root")
    record = containerd.ContainerdRuntime().inspect(c)
    assert record["spec"]["process"]["args"] == ["/bin/sleep", "100000"]
    assert record["task"]["pid"] == s.pid


def test_containerd_sees_dockers_containers_in_moby(started: dict[str, harness.Started]) -> None:
    s = started["docker"]
    c = by_id(containerd.ContainerdRuntime().list(), s.id)
    assert (c.namespace, c.pid, c.status) == ("moby", s.pid, "running")
    assert c.oci_root == docker.OCI_ROOT


def test_grpcwire_answers_as_grpcio_does(started: dict[str, harness.Started]) -> None:
    import grpc

    s = started["containerd"]
    request = pw.write_bytes(1, s.id)
    meta = {"containerd-namespace": harness.CTR_NAMESPACE}
    ours = grpcwire.call_unix(
        containerd.DEFAULT_ADDRESS,
        [grpcwire.Call(containerd.CONTAINERS_GET, request, meta)],
        timeout=5,
    )[0]
    with grpc.insecure_channel(f"unix://{containerd.DEFAULT_ADDRESS}") as channel:
        get = channel.unary_unary(
            containerd.CONTAINERS_GET,
            request_serializer=lambda b: b,
            response_deserializer=lambda b: b,
        )
        theirs = get(request, timeout=5, metadata=tuple(meta.items()))
    assert isinstance(ours, bytes) and ours == theirs


def test_containerd_falls_back_to_disk_when_the_daemon_hangs(
    started: dict[str, harness.Started], hung_socket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = started["containerd"]
    monkeypatch.setenv("CONTAINERD_ADDRESS", f"unix://{hung_socket}")
    found = containerd.ContainerdRuntime(timeout=0.5).list()
    c = by_id(found, s.id)
    assert (c.pid, c.status, c.namespace) == (s.pid, "running", harness.CTR_NAMESPACE)
    assert c.metadata["containerd"]["source"] == "state directory"
    docker_id = started["docker"].id
    record = by_id(found, docker_id).metadata["containerd"]
    if os.path.isdir(f"/run/containerd/{containerd.V2_TASKS}/moby/{docker_id}"):
        # dockerd runs its containers on this containerd (--containerd): read from disk too.
        assert (record["source"], record["namespace"]) == ("state directory", "moby")
    else:
        # Docker's own containerd still answered, with images.
        assert record.get("source") is None and record["address"] == containerd.DOCKER_ADDRESS


@pytest.fixture
def k8s_namespace() -> Iterator[str]:
    """A containerd namespace of this test's own, with the busybox image; removed afterwards."""
    ns = f"dt-k8s-{uuid.uuid4().hex[:8]}"
    harness.run("ctr", "-n", ns, "images", "import", str(harness.oci_archive()))
    yield ns
    harness.remove_containerd_namespace(ns)


def test_one_name_in_two_containerd_namespaces(
    k8s_namespace: str, containers: harness.Containers, cli
) -> None:
    name = harness.unique("dt-twice")
    first = containers.containerd(name=name)
    second = containers.containerd(name=name, namespace=k8s_namespace)
    ambiguous = cli("inspect", name)
    assert ambiguous.returncode == 125
    assert f"containerd:{harness.CTR_NAMESPACE}/{name} (" in ambiguous.stderr
    assert f"containerd:{k8s_namespace}/{name} (" in ambiguous.stderr
    for s, ns in ((first, harness.CTR_NAMESPACE), (second, k8s_namespace)):
        shown = cli("inspect", "--json", f"containerd:{ns}/{name}")
        assert shown.returncode == 0, shown.stderr
        record = json.loads(shown.stdout)
        assert (record["container"]["namespace"], record["pid"]) == (ns, s.pid)


@pytest.fixture
def podman_pod() -> Iterator[str]:
    """A podman pod without an infra container (this host has no catatonit); removed after."""
    pod = harness.unique("dt-pod")
    harness.run("podman", "pod", "create", "--infra=false", "--name", pod)
    yield pod
    harness.run("podman", "pod", "rm", "-f", "-t", "0", pod, check=False)


def test_podman_labels_and_pods_from_libpods_database(
    podman_pod: str, containers: harness.Containers, cli
) -> None:
    member = containers.podman("--pod", podman_pod, "--label", "team=ops")
    alone = containers.podman("--label", "tier=db")
    listed = json.loads(cli("ps", "--runtime", "podman", "--json").stdout)
    rows = {c["id"]: c for c in listed}
    assert (rows[member.id]["pod"], rows[member.id]["labels"]) == (podman_pod, {"team": "ops"})
    assert (rows[alone.id]["pod"], rows[alone.id]["labels"]) == ("", {"tier": "db"})
    # pod/NAME/CONTAINER reaches a podman pod's member as it does a Kubernetes one.
    shown = cli("exec", f"pod/{podman_pod}/{member.name}", "--", "hostname")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == _pid_root_file(member.pid, "/etc/hostname").strip()


def test_containerd_pod_columns(k8s_namespace: str, containers: harness.Containers, cli) -> None:
    labels = [arg for k, v in POD_LABELS.items() for arg in ("--label", f"{k}={v}")]
    s = containers.containerd(*labels, namespace=k8s_namespace)
    c = by_id(containerd.ContainerdRuntime().list(), s.id)
    assert (c.pod, c.pod_namespace, c.k8s_container) == ("checkout-5d9f", "shop", "cart")
    assert c.namespace == k8s_namespace and c.pid == s.pid

    table = cli("ps", "--runtime", "containerd")
    assert table.returncode == 0, table.stderr
    header, *rows = table.stdout.splitlines()
    assert header.split()[:6] == ["ID", "NAME", "POD", "POD", "NAMESPACE", "RUNTIME"]
    row = next(r for r in rows if s.id in r.split())
    assert row.split()[2:5] == ["checkout-5d9f", "shop", f"containerd/{k8s_namespace}"]
    listed = json.loads(cli("ps", "--runtime", "containerd", "--json").stdout)
    mine = next(x for x in listed if x["id"] == s.id)
    assert (mine["pod"], mine["pod_namespace"], mine["k8s_container"]) == (
        "checkout-5d9f",
        "shop",
        "cart",
    )


@pytest.fixture
def hung_socket() -> Iterator[str]:
    """A unix socket that accepts connections and never answers (a hung daemon)."""
    directory = Path(f"/tmp/dth-{uuid.uuid4().hex[:8]}")
    directory.mkdir()
    path = str(directory / "hung.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(16)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield path
    server.close()
    for conn in held:
        conn.close()
    os.unlink(path)
    directory.rmdir()


def _ps_without_docker(cli, started: dict[str, harness.Started], docker_host: str) -> dict:
    """Run ``ps --json`` with Docker unreachable; return its one warning about Docker and the
    containers it listed, by id (each other runtime's container still there)."""
    result = cli("--timeout", "1", "ps", "--json", env={"DOCKER_HOST": docker_host}, timeout=20)
    assert result.returncode == 0, result.stderr
    about_docker = [line for line in result.stderr.splitlines() if "docker" in line]
    assert len(about_docker) == 1, result.stderr
    assert about_docker[0].startswith("debugtool: warning: docker: ")
    listed = {c["id"]: c for c in json.loads(result.stdout)}
    assert listed[started["podman"].id]["runtime"] == "podman"
    assert listed[started["containerd"].id]["runtime"] == "containerd"
    assert listed[started["docker"].id]["namespace"] == "moby"
    return {"warning": about_docker[0], "listed": listed}


def test_a_hung_docker_lists_its_containers_from_its_state_files(
    started: dict[str, harness.Started], hung_socket: str, cli
) -> None:
    seen = _ps_without_docker(cli, started, f"unix://{hung_socket}")
    assert seen["warning"].endswith("containers instead (no exec through Docker).")
    record = seen["listed"][started["docker"].id]
    assert (record["runtime"], record["name"]) == ("docker", started["docker"].name)
    assert record["pid"] == started["docker"].pid and record["status"] == "running"
    assert "containerd" in record["backends"]  # whose exec runs in it meanwhile


def test_exec_by_name_while_docker_hangs_goes_through_containerd(
    started: dict[str, harness.Started], hung_socket: str, cli
) -> None:
    s = started["docker"]
    result = cli(
        "--timeout", "1", "exec", s.name, "--", "cat", "/etc/hostname",
        env={"DOCKER_HOST": f"unix://{hung_socket}"}, timeout=30,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == _pid_root_file(s.pid, "/etc/hostname").strip()
    assert "through containerd's own exec" in result.stderr


def test_ps_warns_once_about_a_missing_docker_socket(
    started: dict[str, harness.Started], cli, tmp_path: Path
) -> None:
    seen = _ps_without_docker(cli, started, f"unix://{tmp_path}/no-docker.sock")
    assert seen["warning"].endswith("skipped.")
    # Docker's container is still found, through the containerd that runs it.
    assert seen["listed"][started["docker"].id]["runtime"] == "containerd"


def _pid_root_file(pid: int, path: str) -> str:
    return Path(f"/proc/{pid}/root{path}").read_text()


@pytest.mark.parametrize("runtime", ["podman", "containerd"])
def test_exec_argv_runs_in_the_container(runtime: str, started: dict[str, harness.Started]) -> None:
    s = started[runtime]
    rt = podman.PodmanRuntime() if runtime == "podman" else containerd.ContainerdRuntime()
    c = by_id(rt.list(), s.id)
    ok = subprocess.run(
        rt.exec_argv(c, ExecRequest(["true"])),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=30,
    )
    assert ok.returncode == 0, ok.stderr
    cat = subprocess.run(
        rt.exec_argv(c, ExecRequest(["cat", "/etc/hostname"], user="app", workdir="/tmp")),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert cat.returncode == 0, cat.stderr
    assert cat.stdout == _pid_root_file(s.pid, "/etc/hostname")
    who = subprocess.run(
        rt.exec_argv(c, ExecRequest(["sh", "-c", "id -u; pwd"], user="app", workdir="/tmp")),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert who.stdout.split() == ["1000", "/tmp"], who.stderr
    failed = subprocess.run(
        rt.exec_argv(c, ExecRequest(["false"])),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=30,
    )
    assert failed.returncode == 1


def test_podman_exec_argv_sets_environment(started: dict[str, harness.Started]) -> None:
    rt = podman.PodmanRuntime()
    c = by_id(rt.list(), started["podman"].id)
    env = subprocess.run(
        rt.exec_argv(c, ExecRequest(["sh", "-c", "echo $DT_A"], env={"DT_A": "x y"})),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert env.stdout == "x y\n", env.stderr


def _wait_for(get, want: bytes, timeout: float = 15) -> bytes:
    deadline = time.monotonic() + timeout
    while True:
        got = get()
        if want in got or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


def test_docker_logs(containers: harness.Containers) -> None:
    # stdout and stderr are separate pipes: pause so Docker logs stderr's line before "done".
    script = "echo alpha; echo beta; echo gamma >&2; sleep 0.3; echo done; exec sleep 100000"
    s = containers.docker(cmd=("sh", "-c", script))
    rt = docker.DockerRuntime()
    c = by_id(rt.list(), s.id)
    text = _wait_for(lambda: rt.logs(c), b"done")
    messages = [line.split(b" ", 1)[1] for line in text.splitlines()]
    assert sorted(messages) == [b"alpha", b"beta", b"done", b"gamma"]
    assert messages.index(b"alpha") < messages.index(b"beta") < messages.index(b"done")
    assert rt.logs(c, tail=1).split(b" ", 1)[1] == b"done\n"
    assert rt.logs(c, since=time.time() + 60) == b""


def test_docker_logs_with_a_tty(containers: harness.Containers) -> None:
    s = containers.docker("-t", cmd=("sh", "-c", "echo on-a-tty; exec sleep 100000"))
    rt = docker.DockerRuntime()
    c = by_id(rt.list(), s.id)
    text = _wait_for(lambda: rt.logs(c), b"on-a-tty")
    assert text.split(b" ", 1)[1] == b"on-a-tty\r\n"


def test_podman_logs(containers: harness.Containers) -> None:
    s = containers.podman(cmd=("sh", "-c", "echo first; echo second >&2; exec sleep 100000"))
    rt = podman.PodmanRuntime()
    c = by_id(rt.list(), s.id)
    text = _wait_for(lambda: rt.logs(c), b"second")
    assert sorted(line.split(b" ", 1)[1] for line in text.splitlines()) == [b"first", b"second"]
    assert len(rt.logs(c, tail=1).splitlines()) == 1
