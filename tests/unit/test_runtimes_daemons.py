"""Unit tests of the Docker, podman and containerd backends on answers captured on this machine.

Fixtures in tests/fixtures/runtimes/ (see README.md there): the Engine API's JSON and log
stream, podman's containers.json, runc state and CRI log, and containerd's protobuf answers and
raw HTTP/2 bytes.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path

import pytest

from debugtool import procfs
from debugtool.errors import ExecUnsupported, RuntimeUnavailable
from debugtool.model import Container
from debugtool.runtimes import containerd, docker, grpcwire, podman
from debugtool.runtimes import protowire as pw
from debugtool.runtimes.base import ExecRequest

FIXTURES = Path(__file__).parent.parent / "fixtures" / "runtimes"
MAIN = containerd.Daemon(
    "/run/containerd/containerd.sock", "/run/containerd", "/run/containerd/runc"
)
DOCKERS = containerd.Daemon(
    "/run/docker/containerd/containerd.sock",
    "/run/docker/containerd/daemon",
    "/run/docker/runtime-runc",
)
DOCKER_ID = "56fd1f620f709bebb220b590bc824515b48da324a6ef2509525830c63adaa6dc"


@pytest.fixture(autouse=True)
def _no_rootless_stores(monkeypatch: pytest.MonkeyPatch) -> None:
    """The podman backend reads captured storage here, never this host's users' own."""
    from debugtool.runtimes import rootless

    monkeypatch.setattr(rootless, "user_stores", lambda: [])


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


# --- protowire ---------------------------------------------------------------------------------


def test_protowire_decodes_every_wire_type() -> None:
    buf = (
        pw.write_int(1, 300)
        + pw.write_bytes(2, "héllo")
        + bytes([3 << 3 | pw.I64])
        + (7).to_bytes(8, "little")
        + bytes([4 << 3 | pw.I32])
        + (9).to_bytes(4, "little")
        + pw.write_bytes(2, "again")
    )
    msg = pw.decode(buf)
    assert msg[1] == [300]
    assert msg[2] == ["héllo".encode(), b"again"]
    assert pw.string(msg, 2) == "again"  # last one wins
    assert msg[3] == [7] and msg[4] == [9]
    assert pw.integer(msg, 9, default=-1) == -1


@pytest.mark.parametrize(
    "buf",
    [
        b"\x0a\x05abc",
        b"\x08\xff\xff",
        b"\x0b",
        b"\x19\x00\x00",
        b"\x00\x01",
        b"\x08" + b"\xff" * 11,
    ],
)
def test_protowire_rejects_broken_messages(buf: bytes) -> None:
    with pytest.raises(pw.DecodeError):
        pw.decode(buf)


def test_protowire_timestamp_treats_go_zero_time_as_unset() -> None:
    # Go's zero time.Time (year 1) as containerd sends it for a task that has not exited.
    zero = pw.decode(b"\x08\x80\x92\xb8\xc3\x98\xfe\xff\xff\xff\x01")
    assert pw.timestamp(zero) is None
    assert pw.timestamp(pw.decode(pw.write_int(1, 1700000000) + pw.write_int(2, 500_000_000))) == (
        1700000000.5
    )


# --- grpcwire: HPACK ---------------------------------------------------------------------------


def test_huffman_decodes_rfc7541_examples() -> None:
    # RFC 7541 C.4.1 and C.6.1.
    assert grpcwire.huffman_decode(bytes.fromhex("f1e3c2e5f23a6ba0ab90f4ff")) == b"www.example.com"
    assert grpcwire.huffman_decode(bytes.fromhex("6402")) == b"302"
    assert grpcwire.huffman_decode(bytes.fromhex("aec3771a4b")) == b"private"


def test_huffman_rejects_bad_padding() -> None:
    with pytest.raises(grpcwire.ProtocolError):
        grpcwire.huffman_decode(bytes.fromhex("f1e3c2e5f23a6ba0ab90f400"))


def test_header_decoder_keeps_its_dynamic_table_across_blocks() -> None:
    # RFC 7541 C.4: three requests on one connection, Huffman-coded, with indexing.
    decoder = grpcwire.HeaderDecoder()
    first = decoder.decode(bytes.fromhex("828684418cf1e3c2e5f23a6ba0ab90f4ff"))
    assert first == [
        (":method", "GET"),
        (":scheme", "http"),
        (":path", "/"),
        (":authority", "www.example.com"),
    ]
    second = decoder.decode(bytes.fromhex("828684be5886a8eb10649cbf"))
    assert second[-2:] == [(":authority", "www.example.com"), ("cache-control", "no-cache")]
    third = decoder.decode(bytes.fromhex("828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf"))
    assert third[-1] == ("custom-key", "custom-value")
    assert third[2] == (":path", "/index.html")
    with pytest.raises(grpcwire.ProtocolError):
        decoder.decode(b"\xff\x7f")  # an index far past both tables


def test_encoded_headers_decode_back() -> None:
    headers = [(":path", "/x" * 100), ("containerd-namespace", "k8s.io"), ("empty", "")]
    assert grpcwire.HeaderDecoder().decode(grpcwire.encode_headers(headers)) == headers


# --- grpcwire: replaying containerd's own bytes -----------------------------------------------


class ReplayServer:
    """A unix socket that reads a client's requests and answers with captured bytes (or never)."""

    def __init__(self, path: str, answer: bytes | None) -> None:
        self.path = path
        self.answer = answer
        self.received = bytearray()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(8)
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)
            if self.answer is None:
                continue  # accept and say nothing: a hung daemon
            conn.settimeout(2)
            try:
                while len(self.received) < len(grpcwire.PREFACE) + 9:
                    self.received += conn.recv(65536)
                conn.sendall(self.answer)
                while chunk := conn.recv(65536):  # what the client says afterwards (acks)
                    self.received += chunk
            except OSError:
                pass

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


@pytest.fixture
def sockdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # AF_UNIX paths are limited to 107 bytes: keep them short.
    path = Path(f"/tmp/dtu-{os.getpid()}-{time.monotonic_ns() % 10**9}")
    path.mkdir()
    yield path
    for child in path.iterdir():
        child.unlink()
    path.rmdir()


def test_grpcwire_reads_containerd_answers_and_errors(sockdir: Path) -> None:
    server = ReplayServer(str(sockdir / "c.sock"), fixture("containerd-h2-answer.bin"))
    try:
        answers = grpcwire.call_unix(
            server.path,
            [
                grpcwire.Call(containerd.NAMESPACES_LIST),
                grpcwire.Call("/containerd.services.nope.v1.Nope/List"),
                grpcwire.Call(containerd.CONTAINERS_LIST),
            ],
            timeout=5,
        )
    finally:
        server.close()
    assert server.received.startswith(grpcwire.PREFACE)
    assert isinstance(answers[0], bytes)
    assert containerd.list_namespaces(answers[0]) == ["debugtool-test", "dtfix-k8s"]
    # Errors come with the status and the (Huffman-coded, percent-encoded) message.
    assert answers[1] == grpcwire.GrpcError(12, "unknown service containerd.services.nope.v1.Nope")
    assert answers[2] == grpcwire.GrpcError(9, "namespace is required: failed precondition")
    assert "UNIMPLEMENTED" in str(answers[1])


def test_grpcwire_handles_padding_continuation_and_pings(sockdir: Path) -> None:
    f = grpcwire.frame
    block = grpcwire.encode_headers([(":status", "200"), ("content-type", "application/grpc")])
    trailers = grpcwire.encode_headers([("grpc-status", "0"), ("grpc-message", "")])
    message = b"\x00\x00\x00\x00\x03abc"
    answer = b"".join(
        [
            f(grpcwire.SETTINGS, 0, 0),
            f(grpcwire.PING, 0, 0, b"12345678"),
            # Headers split over a padded HEADERS frame and a CONTINUATION.
            f(grpcwire.HEADERS, grpcwire.PADDED, 1, b"\x02" + block[:5] + b"\x00\x00"),
            f(grpcwire.CONTINUATION, grpcwire.END_HEADERS, 1, block[5:]),
            f(grpcwire.WINDOW_UPDATE, 0, 0, b"\x00\x00\x10\x00"),
            f(grpcwire.DATA, grpcwire.PADDED, 1, b"\x01" + message[:6] + b"\x00"),
            f(grpcwire.DATA, 0, 1, message[6:]),
            f(grpcwire.HEADERS, grpcwire.END_HEADERS | grpcwire.END_STREAM, 1, trailers),
            # Stream 3 is refused outright.
            f(grpcwire.RST_STREAM, 0, 3, b"\x00\x00\x00\x07"),
        ]
    )
    server = ReplayServer(str(sockdir / "p.sock"), answer)
    try:
        got = grpcwire.call_unix(server.path, [grpcwire.Call("/a/B"), grpcwire.Call("/a/C")], 5)
        deadline = time.monotonic() + 5
        ping_ack = f(grpcwire.PING, grpcwire.ACK, 0, b"12345678")
        while ping_ack not in server.received and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        server.close()
    assert got[0] == b"abc"
    assert isinstance(got[1], grpcwire.GrpcError) and "reset the stream" in got[1].message
    assert ping_ack in server.received
    assert f(grpcwire.SETTINGS, grpcwire.ACK, 0) in server.received


def test_grpcwire_times_out_on_a_silent_server(sockdir: Path) -> None:
    server = ReplayServer(str(sockdir / "h.sock"), None)
    try:
        with pytest.raises(TimeoutError):
            grpcwire.call_unix(server.path, [grpcwire.Call(containerd.NAMESPACES_LIST)], 0.3)
    finally:
        server.close()


# --- containerd --------------------------------------------------------------------------------


def k8s_containers() -> dict[str, Container]:
    tasks = containerd.list_tasks(fixture("containerd-dtfix-k8s-tasks.pb"))
    raw = pw.messages(pw.decode(fixture("containerd-dtfix-k8s-containers.pb")), 1)
    records = []
    for item in raw:
        cid = pw.string(pw.decode(item), 1)
        records.append(containerd.container_record(item, "dtfix-k8s", tasks.get(cid), MAIN))
    return {c.id: c for c in records}


def test_containerd_namespaces() -> None:
    assert containerd.list_namespaces(fixture("containerd-namespaces.pb")) == [
        "debugtool-test",
        "dtfix-k8s",
    ]


def test_containerd_tasks_carry_pid_and_status() -> None:
    tasks = containerd.list_tasks(fixture("containerd-dtfix-k8s-tasks.pb"))
    assert tasks["dtfix-labels"]["pid"] == 24045
    assert tasks["dtfix-labels"]["status"] == "running"
    assert tasks["dtfix-labels"]["exited_at"] is None
    assert tasks["dtfix-stopped"]["status"] == "stopped"
    assert tasks["dtfix-stopped"]["exited_at"] > 1.7e9
    assert tasks["dtfix-cri"]["stdout"] == "file:///var/tmp/dtfix-ctr.log"
    assert "dtfix-created" not in tasks  # a container that was never started has no task


def test_containerd_kubernetes_labels_fill_pod_columns() -> None:
    c = k8s_containers()["dtfix-labels"]
    assert (c.pod, c.pod_namespace, c.k8s_container) == ("web-0", "shop", "nginx")
    assert c.status == "running" and c.pid == 24045
    assert c.image == "debugtool-test/busybox:latest"
    assert c.namespace == "dtfix-k8s"
    assert c.oci_root == "/run/containerd/runc/dtfix-k8s"
    assert c.oci_runtime == "runc"
    assert c.bundle == "/run/containerd/io.containerd.runtime.v2.task/dtfix-k8s/dtfix-labels"
    assert c.rootfs == c.bundle + "/rootfs"
    assert c.created and c.created > 1.7e9
    assert c.metadata["containerd"]["runtime"]["name"] == "io.containerd.runc.v2"
    assert "spec" not in c.metadata["containerd"]  # kept out of ps --json


def test_containerd_cri_annotations_fill_pod_columns() -> None:
    c = k8s_containers()["dtfix-cri"]
    assert (c.pod, c.pod_namespace, c.k8s_container) == ("api-7f", "prod", "api")
    assert c.labels.get("io.kubernetes.pod.name") is None


def test_containerd_containers_without_running_task() -> None:
    found = k8s_containers()
    created, stopped = found["dtfix-created"], found["dtfix-stopped"]
    assert (created.status, created.pid, created.bundle) == ("created", None, "")
    assert stopped.status == "stopped" and stopped.pid is None and not stopped.rootfs


def test_containerd_dockers_daemon_names_dockers_runc_root() -> None:
    raw = pw.messages(pw.decode(fixture("docker-containerd-moby-containers.pb")), 1)
    tasks = containerd.list_tasks(fixture("docker-containerd-moby-tasks.pb"))
    c = containerd.container_record(raw[0], "moby", tasks[DOCKER_ID], DOCKERS)
    assert c.id == DOCKER_ID
    # Docker sets runc.v1.Options{binary_name: runc, root: /var/run/docker/runtime-runc}.
    assert c.oci_root == "/run/docker/runtime-runc/moby" == docker.OCI_ROOT
    assert c.oci_runtime == "runc"
    assert c.image == ""  # Docker does not tell its containerd the image
    assert c.status == "running" and c.pid == tasks[DOCKER_ID]["pid"]
    assert c.bundle.startswith("/run/docker/containerd/daemon/io.containerd.runtime.v2.task/moby/")


def test_containerd_with_spec_and_cri_log_path(tmp_path: Path) -> None:
    spec = json.dumps({"ociVersion": "1.0.2", "annotations": {"a": "b"}}).encode()
    log = tmp_path / "0.log"
    log.write_bytes(
        b"2026-11-26T15:00:00.000000001Z stdout F first\n"
        b"2026-11-26T15:00:05.000000001Z stderr F second\n"
    )
    meta = json.dumps({"Version": "v1", "Metadata": {"LogPath": str(log)}}).encode()
    any_spec = pw.write_bytes(1, "types.containerd.io/opencontainers/runtime-spec/1/Spec")
    any_meta = pw.write_bytes(1, "github.com/containerd/cri/pkg/store/container/Metadata")
    raw = (
        pw.write_bytes(1, "abc")
        + pw.write_bytes(5, any_spec + pw.write_bytes(2, spec))
        + pw.write_bytes(
            10,
            pw.write_bytes(1, containerd.CRI_METADATA)
            + pw.write_bytes(2, any_meta + pw.write_bytes(2, meta)),
        )
    )
    c = containerd.container_record(raw, "k8s.io", None, MAIN, with_spec=True)
    record = c.metadata["containerd"]
    assert record["spec"]["annotations"] == {"a": "b"}
    assert record["log_path"] == str(log)
    assert c.oci_runtime == ""  # no runtime named
    rt = containerd.ContainerdRuntime()
    assert rt.logs(c) == (
        b"2026-11-26T15:00:00.000000001Z first\n2026-11-26T15:00:05.000000001Z second\n"
    )
    assert rt.logs(c, tail=1) == b"2026-11-26T15:00:05.000000001Z second\n"
    since = 1795705200.0 + 1  # 2026-11-26T15:00:01Z
    assert rt.logs(c, since=since) == b"2026-11-26T15:00:05.000000001Z second\n"


def test_containerd_cri_log_path_from_the_kubelet_layout() -> None:
    annotations = {
        "io.kubernetes.cri.container-name": "web",
        "io.kubernetes.cri.sandbox-log-directory": "/var/log/pods/shop_web-0_1234",
        "io.kubernetes.container.restartCount": "2",
    }
    spec = json.dumps({"annotations": annotations}).encode()
    raw = pw.write_bytes(1, "abc") + pw.write_bytes(5, pw.write_bytes(2, spec))
    c = containerd.container_record(raw, "k8s.io", None, MAIN)
    assert c.k8s_container == "web"
    assert c.metadata["containerd"]["log_path"] == "/var/log/pods/shop_web-0_1234/web/2.log"


def test_containerd_logs_of_a_log_uri_file_and_of_fifos(tmp_path: Path) -> None:
    out = tmp_path / "task.log"
    out.write_bytes(b"one\ntwo\nthree\n")
    rt = containerd.ContainerdRuntime()
    c = Container("x", "x", "containerd")
    c.metadata["containerd"] = {"task": {"stdout": f"file://{out}"}}
    assert rt.logs(c) == b"one\ntwo\nthree\n"
    assert rt.logs(c, tail=2) == b"two\nthree\n"
    c.metadata["containerd"] = {"task": {"stdout": "/run/containerd/fifo/1/x-stdout"}}
    assert rt.logs(c) == b""


def test_cri_log_joins_partial_lines_per_stream() -> None:
    # Captured from podman: 'echo hello; echo err >&2; printf partial' (no final newline).
    lines = containerd.parse_cri_log(fixture("podman-ctr.log"))
    assert [m for _, m in lines] == [b"hello", b"err", b"partial"]
    text = b"t1 stdout P ab\nt2 stderr F x\nt3 stdout P cd\nt4 stdout F ef\ntorn"
    assert containerd.parse_cri_log(text) == [(b"t2", b"x"), (b"t1", b"abcdef")]


def test_cri_log_tail_reads_from_the_end(tmp_path: Path) -> None:
    log = tmp_path / "big.log"
    with open(log, "wb") as f:
        for i in range(20000):
            f.write(b"2026-11-26T15:00:00Z stdout F line %d\n" % i)
    assert containerd.read_cri_log(str(log), tail=2) == (
        b"2026-11-26T15:00:00Z line 19998\n2026-11-26T15:00:00Z line 19999\n"
    )
    assert containerd.read_cri_log(str(log), tail=0) == b""
    assert containerd.read_cri_log(str(tmp_path / "missing.log")) == b""


def test_containerd_exec_argv() -> None:
    rt = containerd.ContainerdRuntime()
    c = Container("web", "web", "containerd", namespace="k8s.io")
    c.metadata["containerd"] = {"address": MAIN.address, "namespace": "k8s.io"}
    argv = list(rt.exec_argv(c, ExecRequest(["sh"], tty=True, user="1000", workdir="/tmp")))
    exec_id = argv[argv.index("--exec-id") + 1]
    assert exec_id.startswith(f"debugtool-{os.getpid()}-")
    assert argv == [
        "ctr",
        "-n",
        "k8s.io",
        "task",
        "exec",
        "--exec-id",
        exec_id,
        "--tty",
        "--user",
        "1000",
        "--cwd",
        "/tmp",
        "web",
        "sh",
    ]
    again = list(rt.exec_argv(c, ExecRequest(["sh"])))
    assert again[again.index("--exec-id") + 1] != exec_id  # unique per exec
    c.metadata["containerd"]["address"] = DOCKERS.address
    assert rt.exec_argv(c, ExecRequest(["true"]))[:3] == ["ctr", "--address", DOCKERS.address]
    with pytest.raises(ExecUnsupported, match="cannot set environment variables"):
        rt.exec_argv(c, ExecRequest(["true"], env={"A": "1"}))


def make_task_dir(state: Path, ns: str, cid: str, pid: int, annotations: dict) -> None:
    bundle = state / containerd.V2_TASKS / ns / cid
    bundle.mkdir(parents=True)
    (bundle / "init.pid").write_text(str(pid))
    (bundle / "config.json").write_text(json.dumps({"annotations": annotations}))


def test_containerd_falls_back_to_the_state_directory(
    tmp_path: Path, sockdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = ReplayServer(str(sockdir / "hung.sock"), None)
    state = tmp_path / "state"
    make_task_dir(state, "k8s.io", "live", os.getpid(), {"io.kubernetes.cri.sandbox-name": "pod-a"})
    make_task_dir(state, "k8s.io", "dead", 2**22 + 12345, {})
    (state / containerd.V2_TASKS / "k8s.io" / "half").mkdir()  # being created: no init.pid
    daemon = containerd.Daemon(server.path, str(state), "/run/x/runc")
    monkeypatch.setattr(containerd, "daemons", lambda: [daemon])
    runtime = containerd.ContainerdRuntime(timeout=0.3)
    try:
        found = runtime.list(all=True)
    finally:
        server.close()
    by_id = {c.id: c for c in found}
    assert set(by_id) == {"live", "dead"}
    assert by_id["live"].status == "running" and by_id["live"].pid == os.getpid()
    assert by_id["live"].pod == "pod-a"
    assert by_id["live"].oci_root == "/run/x/runc/k8s.io"
    assert by_id["dead"].status == "stopped" and by_id["dead"].pid is None
    (warning,) = runtime.warnings
    assert "did not answer within 0.3s" in warning and "listed 2 tasks" in warning


def test_containerd_unavailable_when_nothing_answers(
    tmp_path: Path, sockdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = ReplayServer(str(sockdir / "hung.sock"), None)
    daemon = containerd.Daemon(server.path, str(tmp_path / "none"), "/run/x/runc")
    monkeypatch.setattr(containerd, "daemons", lambda: [daemon])
    try:
        with pytest.raises(RuntimeUnavailable) as err:
            containerd.ContainerdRuntime(timeout=0.3).list()
    finally:
        server.close()
    assert err.value.runtime == "containerd"
    assert err.value.reason == f"containerd at {server.path} did not answer within 0.3s"
    missing = containerd.Daemon(str(sockdir / "gone.sock"), str(tmp_path / "none"), "/x")
    monkeypatch.setattr(containerd, "daemons", lambda: [missing])
    monkeypatch.setenv("CONTAINERD_ADDRESS", missing.address)
    with pytest.raises(RuntimeUnavailable, match="no socket at"):
        containerd.ContainerdRuntime(timeout=0.3).list()


def refusing_socket(path: str) -> str:
    """Leave a socket file nobody listens on, as a daemon that died leaves it."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    sock.close()
    return path


def test_containerd_ignores_the_leftover_socket_of_dockers_own_daemon(
    tmp_path: Path, sockdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The system containerd hangs but its shims run a task; Docker's own containerd left only
    # its socket and a dead task behind (dockerd now runs with --containerd).
    server = ReplayServer(str(sockdir / "hung.sock"), None)
    state = tmp_path / "state"
    make_task_dir(state, "default", "live", os.getpid(), {})
    docker_state = tmp_path / "docker-state"
    make_task_dir(docker_state, "moby", "gone", 2**22 + 12345, {})
    primary = containerd.Daemon(server.path, str(state), "/run/x/runc")
    leftover = containerd.Daemon(
        refusing_socket(str(sockdir / "left.sock")), str(docker_state), "/run/y/runc"
    )
    monkeypatch.setattr(containerd, "daemons", lambda: [primary, leftover])
    runtime = containerd.ContainerdRuntime(timeout=0.3)
    try:
        found = runtime.list(all=True)
    finally:
        server.close()
    assert [c.id for c in found] == ["live"]
    (warning,) = runtime.warnings
    assert warning.startswith(f"containerd at {server.path} did not answer within 0.3s; listed 1")
    # The system containerd's own socket refusing is news: it is down.
    primary = containerd.Daemon(
        refusing_socket(str(sockdir / "down.sock")), str(tmp_path / "none"), "/run/x/runc"
    )
    monkeypatch.setattr(containerd, "daemons", lambda: [primary, leftover])
    with pytest.raises(RuntimeUnavailable) as err:
        containerd.ContainerdRuntime(timeout=0.3).list()
    assert err.value.reason == f"nothing listens on {primary.address} (is containerd running?)"


# --- Docker ------------------------------------------------------------------------------------


def test_docker_maps_the_container_list() -> None:
    items = json.loads(fixture("docker-containers.json"))
    found = {c.name: c for c in (docker.container_from_list(i) for i in items)}
    running = found["dtcap-docker"]
    assert running.id == DOCKER_ID and running.status == "running"
    assert (running.pod, running.pod_namespace, running.k8s_container) == (
        "mypod",
        "default",
        "app",
    )
    assert running.image == "debugtool-test/busybox:latest"
    assert running.created == 1795705884.0
    assert (running.namespace, running.oci_root, running.oci_runtime) == (
        "moby",
        "/run/docker/runtime-runc/moby",
        "runc",
    )
    assert running.metadata["docker"]["Names"] == ["/dtcap-docker"]
    assert found["dtcap-docker-exited"].status == "exited"
    assert found["dtcap-docker-exited"].pod == ""
    other = docker.container_from_list(items[0], 42, runc=False)  # e.g. crun via daemon.json
    assert (other.pid, other.oci_root, other.oci_runtime) == (42, "", "")


def test_docker_demultiplexes_log_streams() -> None:
    text = docker.demultiplex(fixture("docker-logs-multiplexed.bin"))
    lines = text.decode().splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == ["two", "one", "three"]
    assert all(line.split(" ", 1)[0].endswith("Z") for line in lines)
    # A frame cut short keeps what arrived; a header alone adds nothing.
    frame = b"\x01\x00\x00\x00\x00\x00\x00\x03abc"
    assert docker.demultiplex(frame + b"\x02\x00\x00\x00\x00\x00\x00\x09de") == b"abcde"
    assert docker.demultiplex(frame + b"\x02\x00") == b"abc"


def test_docker_runc_pid_checks_the_start_time(tmp_path: Path) -> None:
    captured = fixture("runc-state-docker.json")
    state = json.loads(captured)
    head = docker._state_head(captured[:512])  # the head holds what we read
    assert head == (state["init_process_pid"], state["init_process_start"])
    for broken in (b"", b'{"init_process_pid":12', b'{"init_process_pid":x,"init_process_start":1'):
        assert docker._state_head(broken) is None
    assert docker.valid_id("a" * 64) and docker.valid_id("web_1.x+y-z")
    for bad in ("", "-x", "../etc", "a/b", "a" * 129, "caf\u00e9", "a b"):
        assert not docker.valid_id(bad), bad
    me = os.getpid()
    state.update(init_process_pid=me, init_process_start=procfs.start_time(me))
    (tmp_path / "c1").mkdir()
    (tmp_path / "c1" / "state.json").write_text(json.dumps(state, separators=(",", ":")))
    assert docker.runc_pid("c1", str(tmp_path)) == me
    state["init_process_start"] += 1  # the PID was reused by another process
    (tmp_path / "c1" / "state.json").write_text(json.dumps(state, separators=(",", ":")))
    assert docker.runc_pid("c1", str(tmp_path)) is None
    assert docker.runc_pid("missing", str(tmp_path)) is None


def docker_data_root(root: Path) -> dict[str, str]:
    """Lay the captured config.v2.json files out as Docker's data root; return name -> id."""
    ids = {}
    for kind in ("running", "created"):
        record = json.loads(fixture(f"docker-config.v2-{kind}.json"))
        (root / "containers" / record["ID"]).mkdir(parents=True)
        (root / "containers" / record["ID"] / "config.v2.json").write_text(json.dumps(record))
        ids[kind] = record["ID"]
    (root / "containers" / "half-removed").mkdir()  # no config.v2.json: skipped
    return ids


def test_docker_state_files_give_back_names_images_labels(tmp_path: Path) -> None:
    ids = docker_data_root(tmp_path)
    recorded = []

    def pid_of(cid: str, pid: object) -> tuple[int | None, bool]:
        recorded.append((cid, pid))
        return 4242, True

    (running,) = docker.containers_on_disk(str(tmp_path), pid_of=pid_of) or []
    assert recorded == [(ids["running"], 3008)]  # asked only for the one Docker says runs
    assert (running.id, running.name, running.status, running.pid) == (
        ids["running"],
        "dtcap-docker-state",
        "running",
        4242,
    )
    assert running.image == "debugtool-test/busybox:latest"
    assert (running.pod, running.pod_namespace, running.k8s_container) == (
        "mypod",
        "default",
        "app",
    )
    assert (running.namespace, running.oci_root) == ("moby", docker.OCI_ROOT)
    assert running.created == pytest.approx(1795714031.605416)  # 2026-11-26T17:27:11.605416Z
    record = running.metadata["docker"]
    assert record["source"] == docker.FROM_STATE_FILES
    assert record["LogPath"].endswith(f"{ids['running']}-json.log")
    assert "GREETING=hello" not in json.dumps(record)  # the environment is inspect's to give
    # Gone since Docker wrote the file: not running; listed only with --all.
    assert docker.containers_on_disk(str(tmp_path), pid_of=lambda c, p: (None, False)) == []
    every = docker.containers_on_disk(str(tmp_path), all=True, pid_of=lambda c, p: (None, False))
    status = {c.name: c.status for c in every or []}
    assert status == {"dtcap-docker-state": "exited", "dtcap-docker-created": "created"}
    assert docker.containers_on_disk(str(tmp_path / "nothing")) is None
    assert docker.state_record("../../etc", str(tmp_path)) is None


def test_docker_data_root_from_daemon_json(tmp_path: Path) -> None:
    config = tmp_path / "daemon.json"
    assert docker.data_root(str(config)) == "/var/lib/docker"
    config.write_text('{"data-root": "/srv/docker", "debug": true}')
    assert docker.data_root(str(config)) == "/srv/docker"
    for text in ("{", "[]", '{"data-root": "relative"}'):
        config.write_text(text)
        assert docker.data_root(str(config)) == "/var/lib/docker"


def test_docker_hung_and_missing_sockets(
    sockdir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = ReplayServer(str(sockdir / "d.sock"), None)
    monkeypatch.setenv("DOCKER_HOST", f"unix://{server.path}")
    monkeypatch.setattr(docker, "data_root", lambda: str(tmp_path / "no-data-root"))
    try:
        rt = docker.DockerRuntime(timeout=0.3)
        assert rt.present()
        with pytest.raises(RuntimeUnavailable, match="within 0.3s") as err:
            rt.list()
        assert err.value.runtime == "docker"
        # With Docker's state files there, its containers are listed from them instead.
        ids = docker_data_root(tmp_path / "data")
        monkeypatch.setattr(docker, "data_root", lambda: str(tmp_path / "data"))
        found = {c.name: c for c in rt.list(all=True)}
        (warning,) = rt.warnings
    finally:
        server.close()
    assert set(found) == {"dtcap-docker-state", "dtcap-docker-created"}
    assert warning.startswith(
        "did not answer GET /containers/json within 0.3s; listed 2 containers"
    )
    assert warning.endswith(f"{tmp_path}/data/containers instead (no exec through Docker).")
    created = found["dtcap-docker-created"]
    assert rt.inspect(created)["ID"] == ids["created"]  # the file, not the hung daemon
    with pytest.raises(RuntimeUnavailable, match="did not answer"):
        rt.logs(created)  # at once, not after another timeout
    monkeypatch.setenv("DOCKER_HOST", f"unix://{sockdir}/nothing.sock")
    rt = docker.DockerRuntime(timeout=0.3)
    assert rt.present()  # asked for explicitly, so its absence is reported
    with pytest.raises(RuntimeUnavailable, match="no socket at"):
        rt.list()


# --- podman ------------------------------------------------------------------------------------


@pytest.fixture
def podman_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A graph root and OCI state root built from the captured podman files."""
    records = json.loads(fixture("podman-containers.json"))
    root = tmp_path / "storage"
    (root / "overlay-containers").mkdir(parents=True)
    (root / "overlay-containers" / "containers.json").write_text(json.dumps(records))
    ids = {r["names"][0]: r["id"] for r in records}
    # dtcap-podman runs (this test process stands in for it); -exited ran once; -created never.
    for name in ("dtcap-podman", "dtcap-podman-exited", "dtcap-podman-log"):
        userdata = root / "overlay-containers" / ids[name] / "userdata"
        userdata.mkdir(parents=True)
        (userdata / "config.json").write_text("{}")
    (root / "overlay-containers" / ids["dtcap-podman-log"] / "userdata" / "ctr.log").write_bytes(
        fixture("podman-ctr.log")
    )
    state = json.loads(fixture("runc-state-podman.json"))
    me = os.getpid()
    state.update(init_process_pid=me, init_process_start=procfs.start_time(me))
    freezer = tmp_path / "freezer"
    freezer.mkdir()
    (freezer / "freezer.state").write_text("THAWED\n")
    state["cgroup_paths"] = {"freezer": str(freezer)}
    runc_root = tmp_path / "runc"
    (runc_root / ids["dtcap-podman"]).mkdir(parents=True)
    (runc_root / ids["dtcap-podman"] / "state.json").write_text(json.dumps(state))
    monkeypatch.setattr(
        podman,
        "OCI_STATE",
        (("runc", str(runc_root), "state.json"), ("crun", "/nonexistent", "status")),
    )
    return root


def podman_ids() -> dict[str, str]:
    return {r["names"][0]: r["id"] for r in json.loads(fixture("podman-containers.json"))}


def test_podman_reads_storage_and_runc_state(podman_host: Path) -> None:
    rt = podman.PodmanRuntime()
    rt.root = str(podman_host)
    found = {c.name: c for c in rt.list(all=True)}
    running = found["dtcap-podman"]
    assert running.id == podman_ids()["dtcap-podman"]
    assert (running.status, running.pid) == ("running", os.getpid())
    assert running.image == "localhost/debugtool-test/busybox:latest"
    assert running.created == pytest.approx(1795705885.517312843)
    assert (running.oci_runtime, running.oci_root) == ("runc", str(podman_host.parent / "runc"))
    assert running.rootfs.startswith("/var/lib/containers/storage/overlay/")
    assert running.rootfs.endswith("/merged")
    assert running.bundle.endswith(f"/overlay-containers/{running.id}/userdata")
    assert found["dtcap-podman-exited"].status == "exited"
    assert found["dtcap-podman-created"].status == "created"
    assert [c.name for c in rt.list()] == ["dtcap-podman"]


def test_podman_paused_and_reused_pid(podman_host: Path) -> None:
    rt = podman.PodmanRuntime()
    rt.root = str(podman_host)
    (podman_host.parent / "freezer" / "freezer.state").write_text("FROZEN\n")
    assert {c.name: c.status for c in rt.list()}["dtcap-podman"] == "paused"
    state_file = podman_host.parent / "runc" / podman_ids()["dtcap-podman"] / "state.json"
    state = json.loads(state_file.read_text())
    state["init_process_start"] += 1
    state_file.write_text(json.dumps(state))
    c = {c.name: c for c in rt.list(all=True)}["dtcap-podman"]
    assert (c.status, c.pid) == ("exited", None)


def test_podman_ps_fallback_maps_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "bin" / "podman"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\ncat {FIXTURES / 'podman-ps.json'}\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    rt = podman.PodmanRuntime()
    rt.root = str(tmp_path / "no-storage")
    found = {c.name: c for c in rt.list(all=True)}
    assert found["dtcap-podman"].status == "running"
    assert found["dtcap-podman"].pid == 8894
    assert found["dtcap-podman"].created == 1795705885.0
    assert found["dtcap-podman-created"].status == "created"
    assert found["dtcap-podman"].metadata["podman"]["source"] == "podman ps"


def test_podman_ps_fallback_times_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "bin" / "podman"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nexec sleep 30\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    rt = podman.PodmanRuntime(timeout=0.3)
    rt.root = str(tmp_path / "no-storage")
    with pytest.raises(RuntimeUnavailable, match="did not finish within 0.3s"):
        rt.list()


def test_podman_logs_from_the_k8s_file(podman_host: Path) -> None:
    rt = podman.PodmanRuntime()
    rt.root = str(podman_host)
    c = {c.name: c for c in rt.list(all=True)}["dtcap-podman-log"]
    assert rt.logs(c) == (
        b"2026-11-26T15:14:28.660950494+00:00 hello\n"
        b"2026-11-26T15:14:28.661038516+00:00 err\n"
        b"2026-11-26T15:14:28.660950494+00:00 partial\n"
    )
    assert rt.logs(c, tail=1) == b"2026-11-26T15:14:28.660950494+00:00 partial\n"


def test_podman_exec_argv() -> None:
    c = Container("abc123", "web", "podman")
    request = ExecRequest(
        ["cat", "/etc/hostname"],
        tty=True,
        interactive=True,
        user="app",
        workdir="/tmp",
        env={"A": "1", "B": "x=y"},
    )
    assert podman.PodmanRuntime().exec_argv(c, request) == [
        "podman",
        "exec",
        "-i",
        "-t",
        "-u",
        "app",
        "-w",
        "/tmp",
        "-e",
        "A=1",
        "-e",
        "B=x=y",
        "abc123",
        "cat",
        "/etc/hostname",
    ]
    assert podman.PodmanRuntime().exec_argv(c, ExecRequest(["true"])) == [
        "podman",
        "exec",
        "abc123",
        "true",
    ]


def test_podman_graph_root_from_storage_conf(tmp_path: Path) -> None:
    conf = tmp_path / "storage.conf"
    conf.write_text('[storage]\ndriver = "overlay"\ngraphroot = "/srv/containers"\n')
    assert podman.graph_root(str(conf)) == "/srv/containers"
    conf.write_text("not toml [")
    assert podman.graph_root(str(conf)) == podman.GRAPH_ROOT
    assert podman.graph_root(str(tmp_path / "missing")) == podman.GRAPH_ROOT


def test_docker_quote_and_urlencode_match_urllib() -> None:
    from urllib.parse import quote, urlencode

    from debugtool.runtimes import dockerapi

    for text in ("abc", "web_1.x-y~", "a b/c?d&e=f", "caf\u00e9", "%41", "+"):
        assert dockerapi.quote(text) == quote(text, safe=""), text
    query = {"all": "1", "filters": '{"label": ["a=b"]}', "since": "1.5"}
    assert dockerapi.urlencode(query) == urlencode(query, quote_via=quote)
