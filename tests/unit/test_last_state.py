"""The last state of a container (issue 18): exit code, OOM kill, restarts, started/finished.

Parsers on what the runtimes wrote here (tests/fixtures/runtimes/README.md): Docker's list and
inspect answers and its ``config.v2.json`` of a crash-looping container (``--restart always``,
exits 3) and of one OOM-killed under ``--memory 16m``; libpod's state of a podman container
that exited 5; the CRI plugin's status and metadata in the form containerd 1.6 writes them
(no kubelet runs here); and the previous-run window of ``logs --previous``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import harness
import pytest

from debugtool.logs import previous
from debugtool.logs.formats import parse_time
from debugtool.logs.sources import FileLog, NoLog
from debugtool.model import Container, RunState
from debugtool.runtimes import containerd, docker, podman
from debugtool.runtimes import protowire as pw
from debugtool.snapshot import Snapshot
from debugtool.target import nothing_runs, state_words
from debugtool.views import containers as view

FIXTURES = Path(__file__).parent.parent / "fixtures" / "runtimes"
MAIN = containerd.Daemon(
    "/run/containerd/containerd.sock", "/run/containerd", "/run/containerd/runc"
)


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


# --- Docker ----------------------------------------------------------------------------------


def test_docker_inspect_of_a_restarting_container() -> None:
    c = docker.container_from_inspect(load("docker-inspect-restarting.json"))
    assert c.status == "restarting"
    assert c.exit_code == 3 and not c.oom_killed
    assert c.restart_count == 8
    assert c.started_at == pytest.approx(1796549644.944523783)  # 2026-12-06T09:34:04.94Z
    assert c.finished_at == pytest.approx(1796549645.989701505)
    assert c.finished_at > c.started_at


def test_docker_inspect_of_an_oom_killed_container() -> None:
    c = docker.container_from_inspect(load("docker-inspect-oomkilled.json"))
    assert (c.status, c.exit_code, c.oom_killed, c.restart_count) == ("exited", 137, True, 0)


def test_docker_resets_the_exit_code_while_a_run_goes_on() -> None:
    # dockerd writes ExitCode 0 and OOMKilled false when a run starts: not the last exit.
    state = dict(load("docker-inspect-restarting.json")["State"])
    state.update(Running=True, Restarting=False, ExitCode=0, Status="running")
    fields = docker.last_state(state, 9)
    assert fields["exit_code"] is None and fields["oom_killed"] is False
    assert fields["restart_count"] == 9
    assert fields["finished_at"] is not None  # when the run before this one ended


def test_docker_never_started_and_hostile_values() -> None:
    created = load("docker-config.v2-created.json")
    fields = docker.last_state(created["State"], created.get("RestartCount"))
    assert fields["started_at"] is None and fields["finished_at"] is None  # Go's zero time
    assert fields["exit_code"] is None
    hostile = {"Running": False, "ExitCode": "3", "OOMKilled": "yes", "StartedAt": 5}
    assert docker.last_state(hostile, "many") == {
        "exit_code": None,
        "oom_killed": False,
        "restart_count": None,
        "started_at": None,
        "finished_at": None,
    }
    assert docker.last_state("not a mapping", None)["exit_code"] is None


def test_docker_state_files_say_restarting_and_oom() -> None:
    loop = docker.container_from_state(load("docker-config.v2-crashloop.json"), None)
    assert loop.status == "restarting"
    assert (loop.exit_code, loop.restart_count) == (3, 8)
    oom = docker.container_from_state(load("docker-config.v2-oom.json"), None)
    assert (oom.status, oom.exit_code, oom.oom_killed) == ("exited", 137, True)


def test_docker_state_head_read_alone_matches_the_whole_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``ps`` decodes State and RestartCount alone: the same as decoding the whole file, and
    not fooled by a label or a network named RestartCount (which Docker writes before it)."""
    whole: list[bytes] = []
    loads = docker.jsonc.loads

    def counting(data: bytes) -> object:
        whole.append(data)
        return loads(data)

    monkeypatch.setattr(docker.jsonc, "loads", counting)
    for kind in ("crashloop", "oom", "running", "created"):
        raw = (FIXTURES / f"docker-config.v2-{kind}.json").read_text()
        record = json.loads(raw)
        cid = record["ID"]
        folder = tmp_path / "containers" / cid
        folder.mkdir(parents=True, exist_ok=True)
        expected = (record["State"], record["RestartCount"])
        # As dockerd writes it (compact, in its field order), and as captured (pretty-printed:
        # the fast path does not apply, the whole file is decoded).
        for text in (json.dumps(record, separators=(",", ":")), raw):
            (folder / "config.v2.json").write_text(text)
            assert docker.last_state_record(cid, str(tmp_path)) == expected
            whole.clear()
        if kind in ("crashloop", "oom"):  # captured in dockerd's field order (the others
            # were saved with their keys sorted): the file is not decoded whole.
            (folder / "config.v2.json").write_text(json.dumps(record, separators=(",", ":")))
            docker.last_state_record(cid, str(tmp_path))
            assert not whole
        record["Config"]["Labels"] = {"RestartCount": "99"}
        record["NetworkSettings"] = {"Networks": {"RestartCount": {"x": 1}}}
        (folder / "config.v2.json").write_text(json.dumps(record, separators=(",", ":")))
        assert docker.last_state_record(cid, str(tmp_path)) == expected
    (folder / "config.v2.json").write_text("{not json")
    assert docker.last_state_record(cid, str(tmp_path)) is None
    assert docker.last_state_record("../x", str(tmp_path)) is None
    assert docker.last_state_record("nope", str(tmp_path)) is None


def test_docker_exit_code_of_the_list_status() -> None:
    items = {i["Names"][0]: i for i in load("docker-containers-laststate.json")}
    assert docker.exit_code_of_status(items["/dtcap-crashloop"]["Status"]) == 3
    assert docker.exit_code_of_status(items["/dtcap-oom"]["Status"]) == 137
    assert docker.exit_code_of_status(items["/dtcap-exited"]["Status"]) == 5
    assert docker.exit_code_of_status("Up 2 seconds") is None
    assert docker.exit_code_of_status("Exited (x) 1 second ago") is None


@pytest.fixture
def sockdir() -> Iterator[Path]:
    path = Path(f"/tmp/dtl-{os.getpid()}-{time.monotonic_ns() % 10**9}")
    path.mkdir()
    yield path
    for child in path.iterdir():
        child.unlink()
    path.rmdir()


def test_docker_list_reads_the_last_state_from_the_state_files(
    sockdir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``ps -a`` fills each container's last state from config.v2.json, with no inspect
    request; a container whose file is missing is inspected only when it is not running."""
    items = load("docker-containers-laststate.json")
    by_name = {i["Names"][0].lstrip("/"): i for i in items}
    for kind in ("crashloop", "oom"):
        record = load(f"docker-config.v2-{kind}.json")
        folder = tmp_path / "containers" / record["ID"]
        folder.mkdir(parents=True)
        (folder / "config.v2.json").write_text(json.dumps(record))
    monkeypatch.setattr(docker, "data_root", lambda: str(tmp_path))
    exited_inspect = dict(load("docker-inspect-oomkilled.json"))
    exited_inspect["State"] = {**exited_inspect["State"], "ExitCode": 5, "OOMKilled": False}

    def answer(line: bytes) -> bytes:
        if b"/containers/json" in line:
            body = json.dumps(items).encode()
        else:  # the inspect of dtcap-exited, which has no state file here
            body = json.dumps({**exited_inspect, "RestartCount": 0}).encode()
        return b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" + body

    server = harness.FakeDaemon(str(sockdir / "d.sock"), answer)
    monkeypatch.setenv("DOCKER_HOST", f"unix://{server.path}")
    try:
        found = {c.name: c for c in docker.DockerRuntime().list(all=True)}
    finally:
        server.close()
    loop, oom, exited = found["dtcap-crashloop"], found["dtcap-oom"], found["dtcap-exited"]
    assert (loop.status, loop.exit_code, loop.restart_count) == ("restarting", 3, 8)
    assert (oom.exit_code, oom.oom_killed) == (137, True)
    assert exited.exit_code == 5 and exited.restart_count == 0
    inspected = [r for r in server.requests if b"/containers/json" not in r]
    # One inspect: dtcap-exited (no state file); restarting dtcap-crashloop is asked for its
    # PID as before. Never one per container that has its file.
    assert any(by_name["dtcap-exited"]["Id"].encode() in r for r in inspected)
    assert not any(by_name["dtcap-oom"]["Id"].encode() in r for r in inspected)


# --- podman ----------------------------------------------------------------------------------


def test_podman_libpod_state_of_a_container_that_exited_5() -> None:
    fields = podman.podman_last_state(load("libpod-state-exited5.json"))
    assert fields["exit_code"] == 5 and fields["oom_killed"] is False
    assert fields["restart_count"] == 0  # left out of the JSON when zero
    inspect = load("podman-inspect-exited5.json")[0]["State"]
    assert fields["started_at"] == pytest.approx(parse_time(inspect["StartedAt"]) / 1e9)
    assert fields["finished_at"] == pytest.approx(parse_time(inspect["FinishedAt"]) / 1e9)


def test_podman_state_while_running_and_after_an_oom_kill() -> None:
    running = {"state": 3, "startedTime": "2026-12-06T09:37:20.8Z", "restartCount": 4}
    fields = podman.podman_last_state(running)
    assert fields["exit_code"] is None and fields["restart_count"] == 4
    oom = {**load("libpod-state-exited5.json"), "exitCode": 137, "oomKilled": True}
    assert podman.podman_last_state(oom)["oom_killed"] is True


def test_podman_container_from_storage_takes_the_state() -> None:
    record = {"id": "75f2bdd5d48f", "names": ["dtcap-podman-exit5"], "metadata": "{}"}
    c = podman.container_from_storage(
        record, "/nonexistent", state=load("libpod-state-exited5.json")
    )
    assert (c.status, c.exit_code) == ("exited", 5)


def test_podman_ps_fallback_gives_the_exit() -> None:
    item = {"Id": "abc", "Names": ["x"], "State": "exited", "Exited": True, "ExitCode": 5}
    item.update(StartedAt=1796549840, ExitedAt=1796549841, Restarts=2)
    c = podman.container_from_ps(item)
    assert (c.exit_code, c.restart_count, c.finished_at) == (5, 2, 1796549841.0)


# --- containerd and CRI ----------------------------------------------------------------------


def cri_container(cid: str, name: str, attempt: int, sandbox: str, log_path: str) -> bytes:
    """A ``containers.v1.Container`` as the CRI plugin creates it (metadata extension JSON in
    the form of containerd 1.6's ``pkg/cri/store/container/metadata.go``)."""
    config: dict = {"metadata": {"name": name}}
    if attempt:
        config["metadata"]["attempt"] = attempt  # gogo's omitempty leaves 0 out
    meta = {
        "Version": "v1",
        "Metadata": {
            "ID": cid,
            "Name": f"{name}_web-0_shop_1234_{attempt}",
            "SandboxID": sandbox,
            "Config": config,
            "ImageRef": "sha256:abc",
            "LogPath": log_path,
        },
    }
    any_meta = pw.write_bytes(1, "github.com/containerd/cri/pkg/store/container/Metadata")
    return pw.write_bytes(1, cid) + pw.write_bytes(
        10,
        pw.write_bytes(1, containerd.CRI_METADATA)
        + pw.write_bytes(2, any_meta + pw.write_bytes(2, json.dumps(meta).encode())),
    )


def write_status(root: Path, cid: str, **status: object) -> None:
    folder = root / "containers" / cid
    folder.mkdir(parents=True)
    record = {"Version": "v1", "Pid": 0, "CreatedAt": 1796549000000000000, "StartedAt": 0}
    record.update(FinishedAt=0, ExitCode=0, Reason="", Message="", Resources=None)
    record.update(status)
    (folder / "status").write_text(json.dumps(record))


def test_cri_attempts_and_the_previous_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(containerd, "CRI_ROOT", str(tmp_path))
    logs = tmp_path / "pods" / "shop_web-0_1234" / "app"
    write_status(
        tmp_path,
        "c1",
        StartedAt=1796549100000000000,
        FinishedAt=1796549160500000000,
        ExitCode=137,
        Reason="OOMKilled",
    )
    write_status(tmp_path, "c2", Pid=4242, StartedAt=1796549170000000000)
    stopped = {"id": "c1", "pid": 0, "status": "stopped", "exit_status": 137}
    running = {"id": "c2", "pid": 4242, "status": "running", "exit_status": 0}
    first = containerd.container_record(
        cri_container("c1", "app", 1, "sb", str(logs / "1.log")), "k8s.io", stopped, MAIN
    )
    second = containerd.container_record(
        cri_container("c2", "app", 2, "sb", str(logs / "2.log")), "k8s.io", running, MAIN
    )
    other = containerd.container_record(
        cri_container("c3", "sidecar", 0, "sb", str(logs / "0.log")), "k8s.io", None, MAIN
    )
    assert (first.exit_code, first.oom_killed, first.attempt) == (137, True, 1)
    exited = containerd.container_record(
        cri_container("c1", "app", 1, "sb", str(logs / "1.log")), "k8s.io", None, MAIN
    )
    assert exited.status == "exited" and exited.exit_code == 137  # CRI deleted its task
    assert first.finished_at == pytest.approx(1796549160.5)
    assert second.exit_code is None and second.started_at == pytest.approx(1796549170.0)
    assert second.restart_count == second.attempt == 2
    assert other.attempt == 0 and other.started_at is None  # no status file: unknown
    containerd.link_attempts([second, other, first])
    assert second.previous == RunState(
        started_at=first.started_at,
        finished_at=first.finished_at,
        exit_code=137,
        oom_killed=True,
        reason="OOMKilled",
        attempt=1,
        container_id="c1",
    )
    assert first.previous is None and other.previous is None
    # The Container round-trips through JSON with its previous attempt (a bundle keeps it).
    assert Container.from_json(second.to_json()) == second
    snap = Snapshot(container=second)
    assert Snapshot.from_json(snap.to_json()).container.previous == second.previous


def test_a_plain_containerd_task_keeps_its_exit() -> None:
    tasks = containerd.list_tasks((FIXTURES / "containerd-dtfix-k8s-tasks.pb").read_bytes())
    raw = pw.messages(pw.decode((FIXTURES / "containerd-dtfix-k8s-containers.pb").read_bytes()), 1)
    found = {}
    for item in raw:
        cid = pw.string(pw.decode(item), 1)
        found[cid] = containerd.container_record(item, "dtfix-k8s", tasks.get(cid), MAIN)
    stopped = found["dtfix-stopped"]
    assert stopped.exit_code == tasks["dtfix-stopped"]["exit_status"]
    assert stopped.finished_at == tasks["dtfix-stopped"]["exited_at"] > 1.7e9
    running = found["dtfix-labels"]
    assert running.exit_code is None and running.finished_at is None
    assert found["dtfix-created"].exit_code is None  # never started: no task


def test_cri_previous_log_is_the_highest_attempt_below(tmp_path: Path) -> None:
    folder = tmp_path / "app"
    folder.mkdir()
    for n in (0, 2, 3):
        (folder / f"{n}.log").write_text(f"2026-12-06T09:00:0{n}.000000001Z stdout F run {n}\n")
    c = Container(id="c3", name="c3", runtime="containerd", attempt=3)
    c.metadata = {"containerd": {"log_path": str(folder / "3.log")}}
    log = previous.cri_previous(c)
    assert isinstance(log, FileLog) and log.path == str(folder / "2.log")
    assert [line.line for batch in log.read() for line in batch] == ["run 2"]
    c.metadata = {"containerd": {"log_path": str(folder / "0.log")}}
    with pytest.raises(NoLog, match="first attempt"):
        previous.cri_previous(c)
    (folder / "2.log").unlink()
    (folder / "0.log").unlink()
    c.metadata = {"containerd": {"log_path": str(folder / "3.log")}}
    with pytest.raises(NoLog, match="no longer in"):
        previous.cri_previous(c)
    c.metadata = {"containerd": {"log_path": "/var/tmp/ctr.log"}}
    with pytest.raises(NoLog, match="not a Kubernetes container"):
        previous.cri_previous(c)


# --- Docker's previous run -------------------------------------------------------------------

S = 1_796_549_700_000_000_000  # the latest run's StartedAt, ns


def test_previous_window_from_dockers_die_events() -> None:
    events = [("create", S - 9e9), ("die", S - 6e9), ("die", S - 3e9), ("die", S + 2e9)]
    events = [(a, int(t)) for a, t in events]
    # The run before the latest: after the die before it, up to its own die.
    assert previous.previous_window(events, S) == (S - 6_000_000_000, S - 3_000_000_000, True)
    # Only one run before the latest, and its creation is remembered: from the log's start.
    assert previous.previous_window(events[:2], S) == (None, S - 6_000_000_000, True)
    # The run before it is out of dockerd's memory (no create): incomplete.
    assert previous.previous_window([events[1]], S) == (None, S - 6_000_000_000, False)
    # No run before the latest: none (complete only when the creation is remembered).
    assert previous.previous_window(events[:1], S) == (None, None, True)
    assert previous.previous_window([], S) == (None, None, False)


def test_window_log_keeps_one_runs_lines(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    lines = [
        ("2026-12-06T09:00:01.000000000Z", "run 1"),
        ("2026-12-06T09:00:03.000000000Z", "run 2 a"),
        ("2026-12-06T09:00:04.000000000Z", "run 2 b"),
        ("2026-12-06T09:00:06.000000000Z", "run 3"),
    ]
    path.write_text(
        "".join(
            json.dumps({"log": t + "\n", "stream": "stdout", "time": at}) + "\n" for at, t in lines
        )
    )
    from debugtool.logs.formats import JsonFileDecoder

    inner = FileLog(str(path), JsonFileDecoder, "test")
    after = parse_time("2026-12-06T09:00:02Z")
    until = parse_time("2026-12-06T09:00:05Z")
    assert after is not None and until is not None
    window = previous.WindowLog(inner, after, until)
    assert [line.line for batch in window.read() for line in batch] == ["run 2 a", "run 2 b"]
    assert [line.line for batch in window.read(tail=1) for line in batch] == ["run 2 b"]
    everything_before = previous.WindowLog(inner, None, until)
    assert len([1 for batch in everything_before.read() for _ in batch]) == 3


# --- views and sentences -----------------------------------------------------------------------


def test_exit_and_restart_texts() -> None:
    assert view.exit_text((3, False)) == "3"
    assert view.exit_text((137, True)) == "137 OOM"
    assert view.exit_text((None, True)) == "OOM"
    assert view.exit_text(None) == "-"
    assert view.restart_rate(14, 280) == "3/min"
    assert view.restart_rate(3, 3600) == "3/h"
    assert view.restart_rate(0, 60) == ""
    loop = Container(id="a" * 64, name="web", runtime="docker", status="restarting")
    loop.restart_count, loop.created = 14, 1000.0
    assert view.status_text(loop, "3/min") == "restarting ×14, 3/min"
    assert view.crash_looping(loop)
    # Over its life (created 280 s before), then over what was watched: 6 more in 60 s.
    assert view.restart_rate_of([], loop, 1280.0) == "3/min"
    loop.restart_count = 20
    assert view.restart_rate_of([(1220.0, 14)], loop, 1280.0) == "6/min"
    loop.status = "running"
    assert view.status_text(loop, "6/min") == "running (×20, 6/min)"
    calm = Container(id="b" * 64, name="db", runtime="docker", status="running", restart_count=0)
    assert view.status_text(calm) == "running" and not view.crash_looping(calm)
    assert view.restart_rate_of([], calm, 1280.0) == ""
    oom = Container(id="e" * 64, name="hog", runtime="docker", status="exited")
    oom.exit_code, oom.oom_killed = 137, True
    assert view.STATUS_LAST.text(view.ContainerRow(oom)) == "exited 137 OOM"
    row = view.ContainerRow(loop)
    assert view.EXIT.text(row) == "-" and view.RESTARTS.text(row) == "20"


def test_the_sentence_of_exec_on_a_stopped_container() -> None:
    oom = Container(id="c" * 64, name="hog", runtime="docker", status="exited")
    oom.exit_code, oom.oom_killed = 137, True
    assert state_words(oom).startswith("exited (code 137, OOM-killed by the kernel")
    error = nothing_runs(oom, "docker:hog")
    assert error.exit_code == 125
    text = error.for_people()
    assert "nothing can run in it" in text
    assert "'debugtool console docker:hog'" in text and "logs --previous docker:hog" in text
    created = Container(id="d" * 64, name="new", runtime="podman", status="created")
    assert state_words(created) == "created and never started"
    odd = nothing_runs(created, "a b")
    assert "'debugtool console '\"'\"'a b'\"'\"''" not in odd.for_people()
    assert "console 'a b'" in odd.for_people()


def test_previous_log_sentences_where_no_run_is_kept() -> None:
    from types import SimpleNamespace

    live, bundle = SimpleNamespace(live=True), SimpleNamespace(live=False)
    podman_c = Container(id="f" * 64, name="web", runtime="podman", status="exited")
    runc_c = Container(id="runc-1", name="runc-1", runtime="runc", status="running")
    docker_c = Container(id="a" * 64, name="api", runtime="docker", status="created")
    cases = [
        (live, podman_c, r"web \(ffffffffffff\) has never run"),
        (live, runc_c, "runc keeps no log of runc-1"),
        (bundle, docker_c, "a bundle keeps api"),
        (live, docker_c, "has never run"),
    ]
    for source, container, words in cases:
        with pytest.raises(NoLog, match=words) as caught:
            previous.previous_log(source, container)  # type: ignore[arg-type]
        assert caught.value.exit_code == 1


#: podman's events file (the "file" events logger) as podman 4.3 writes it: another
#: container's lines between, and a cut first line as a tail read can leave.
CID = "11548c083892" + "a" * 52
PODMAN_EVENTS = 'tatus":"start","Time":"2026-12-06T12:46:31.0Z","Type":"container"}\n' + "".join(
    json.dumps({"ID": cid, "Name": "n", "Status": status, "Time": at, "Type": "container"}) + "\n"
    for cid, status, at in [
        (CID, "create", "2026-12-06T12:46:32.557424104Z"),
        (CID, "start", "2026-12-06T12:46:32.786996879Z"),
        ("b" * 64, "died", "2026-12-06T12:46:33.1Z"),
        (CID, "died", "2026-12-06T12:46:33.866619152Z"),
        (CID, "restart", "2026-12-06T12:46:33.880801068Z"),
        (CID, "died", "2026-12-06T12:46:35.085639714Z"),
    ]
)


def test_podman_events_file_gives_create_and_died(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    path.write_text(PODMAN_EVENTS)
    events, whole = previous.podman_events(str(path), CID)
    assert whole is True
    assert events == [
        ("create", parse_time("2026-12-06T12:46:32.557424104Z")),
        ("die", parse_time("2026-12-06T12:46:33.866619152Z")),
        ("die", parse_time("2026-12-06T12:46:35.085639714Z")),
    ]
    # The same window rule as Docker's: the run before the latest (started 12:46:36).
    started = parse_time("2026-12-06T12:46:36Z")
    assert started is not None
    assert previous.previous_window(events, started) == (events[1][1], events[2][1], True)


def test_podman_events_file_that_is_not_a_regular_file_is_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "events.log"
    os.mkfifo(fifo)  # opened for reading without O_NONBLOCK, this would hang
    assert previous.podman_events(str(fifo), CID) == ([], True)
