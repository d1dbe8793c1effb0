"""The fault suite (issue 12): runtimes that answer wrongly, and bad input on the command line.

A real daemon cannot be made to send garbage, so Docker is a fake Engine API on a unix socket
here (one canned answer per connection, or a body that never ends); runc and crun are crafted
state files. Each test checks the rule the backends keep: a bad answer costs that runtime one
warning (Docker then lists its containers from its state files), a bad record or state file
costs only itself, and nothing raises past the backend. Bad input (a number that is not one, a
PID that is no container's) is one sentence and exit 125. The same faults against real runtimes
and the CLI are in tests/integration/test_faults_runtimes.py.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import harness
import pytest

from debugtool import output
from debugtool.bundle import collectors
from debugtool.errors import RuntimeUnavailable
from debugtool.model import Container
from debugtool.runtimes import discover, docker, dockerapi, oci
from debugtool.runtimes.oci import CrunRuntime, ProcState, RuncRuntime

FIXTURES = Path(__file__).parent.parent / "fixtures"
DOCKER_LIST = json.loads((FIXTURES / "runtimes" / "docker-containers.json").read_text())


# --- a fake Docker Engine API -----------------------------------------------------------------


def http(body: bytes, status: int = 200) -> bytes:
    return b"HTTP/1.0 %d OK\r\nContent-Type: application/json\r\n\r\n" % status + body


@pytest.fixture
def sockdir() -> Iterator[Path]:
    # AF_UNIX paths are limited to 107 bytes: keep them short.
    path = Path(f"/tmp/dtf-{os.getpid()}-{time.monotonic_ns() % 10**9}")
    path.mkdir()
    yield path
    for child in path.iterdir():
        child.unlink()
    path.rmdir()


@pytest.fixture
def data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Docker's state files (the captured config.v2.json of two containers); name -> id."""
    ids = {}
    for kind in ("running", "created"):
        record = json.loads((FIXTURES / "runtimes" / f"docker-config.v2-{kind}.json").read_text())
        (tmp_path / "containers" / record["ID"]).mkdir(parents=True)
        (tmp_path / "containers" / record["ID"] / "config.v2.json").write_text(json.dumps(record))
        ids[record["Name"].lstrip("/")] = record["ID"]
    monkeypatch.setattr(docker, "data_root", lambda: str(tmp_path))
    return ids


def fake_docker(
    sockdir: Path,
    monkeypatch: pytest.MonkeyPatch,
    answer: Callable[[bytes], bytes | Iterator[bytes]],
) -> harness.FakeDaemon:
    server = harness.FakeDaemon(str(sockdir / "d.sock"), answer)
    monkeypatch.setenv("DOCKER_HOST", f"unix://{server.path}")
    return server


DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (http(b'[{"Id": "56fd1f620f70'), "something not JSON (Unterminated string"),
        (http(b'{"a":1}'), "with a JSON object, not a list"),
        (http(b""), "something not JSON (an empty body)"),
        (http(b"   \n"), "something not JSON (an empty body)"),
        (http(b'"containers"'), "with a JSON string, not a list"),
        (http(b"null"), "with a JSON null, not a list"),
        (http(DEEP), "something not JSON (nested too deeply)"),
        (http(b"[\xff\xfe]"), "something not JSON (not UTF-8)"),
        (http(b'[{"Id": "x", "Created": NaN}]'), "something not JSON (NaN is not a JSON number)"),
        (http(b'[{"Id": "x", "Created": 1e400}]'), "1e400 is too large for a number"),
        (b"SSH-2.0-OpenSSH_9.2\r\n", "GET /containers/json: not an HTTP answer"),
        (b"", "GET /containers/json: not an HTTP answer"),
    ],
    ids=[
        "truncated",
        "object",
        "empty",
        "blank",
        "string",
        "null",
        "deep",
        "not-utf8",
        "nan",
        "inf",
        "not-http",
        "closed",
    ],
)
def test_a_bad_docker_answer_falls_back_on_its_state_files(
    answer: bytes,
    reason: str,
    sockdir: Path,
    data_root: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = fake_docker(sockdir, monkeypatch, lambda line: answer)
    try:
        rt = docker.DockerRuntime(timeout=5)
        found = {c.name: c for c in rt.list(all=True)}
    finally:
        server.close()
    assert {found[name].id for name in data_root} == set(data_root.values())
    assert all(c.metadata["docker"]["source"] == docker.FROM_STATE_FILES for c in found.values())
    (warning,) = rt.warnings
    assert reason in warning
    assert warning.endswith("containers instead (no exec through Docker).")


def test_discovery_keeps_docker_whose_answer_is_garbage(
    sockdir: Path, data_root: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: json.loads' error went up to discovery, which dropped Docker altogether."""
    server = fake_docker(sockdir, monkeypatch, lambda line: http(DEEP))
    try:
        found = discover(["docker"], all=True, timeout=5)
    finally:
        server.close()
    assert "docker" in found.runtimes
    assert {c.name for c in found.containers} == set(data_root)
    (warning,) = found.warnings
    assert warning.startswith("docker: answered GET /containers/json with something not JSON")


def test_one_bad_docker_record_is_skipped_and_the_rest_listed(
    sockdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = [dict(r, State="exited") for r in DOCKER_LIST]
    bad = [
        dict(DOCKER_LIST[0], Id="a" * 64, Labels=[1, 2]),
        dict(DOCKER_LIST[0], Id="b" * 64, Names="/web"),
        {k: v for k, v in DOCKER_LIST[0].items() if k != "Id"},
        dict(DOCKER_LIST[0], Id="../../../etc"),
        dict(DOCKER_LIST[0], Id="c" * 64, Created="yesterday"),
    ]
    answer = http(json.dumps([*good[:2], *bad, 7, *good[2:]]).encode())
    server = fake_docker(sockdir, monkeypatch, lambda line: answer)
    try:
        rt = docker.DockerRuntime(timeout=5)
        found = rt.list(all=True)
    finally:
        server.close()
    assert [c.id for c in found] == [r["Id"] for r in good]
    (warning,) = rt.warnings
    assert warning.startswith(
        "skipped 6 records of GET /containers/json that are not a container's"
    )
    assert "aaaaaaaaaaaa (Labels is not an object of strings)" in warning
    assert "bbbbbbbbbbbb (Names is not a list of strings)" in warning
    assert "#5 (it has no container id)" in warning
    assert "../../../etc (it has no container id)" in warning
    assert "cccccccccccc (Created is not a time)" in warning
    assert warning.endswith("and 1 more.")  # the 7, shown as #8: a warning names five at most


def test_docker_record_checks() -> None:
    item = DOCKER_LIST[0]
    assert docker.list_record_problem(item) is None
    assert docker.list_record_problem(dict(item, Labels=None, Names=None)) is None
    for change, problem in [
        ({"Labels": {"a": 1}}, "Labels is not an object of strings"),
        ({"Names": [None]}, "Names is not a list of strings"),
        ({"State": {"Running": True}}, "State is not a string"),
        ({"Image": 5}, "Image is not a string"),
        ({"Created": True}, "Created is not a time"),
        ({"Created": -1}, "Created is not a time"),
        ({"Id": ""}, "it has no container id"),
        ({"Id": "abc\n\x1b[31m"}, "it has no container id"),
    ]:
        assert docker.list_record_problem(dict(item, **change)) == problem, change


def test_docker_inspect_answering_garbage_is_a_runtime_error(
    sockdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = iter([http(b"[1, 2]"), http(b"{nope"), http(DEEP)])
    server = fake_docker(sockdir, monkeypatch, lambda line: next(answers))
    container = docker.container_from_list(DOCKER_LIST[0])
    try:
        rt = docker.DockerRuntime(timeout=5)
        for reason in ("with a JSON array", "something not JSON", "nested too deeply"):
            with pytest.raises(RuntimeUnavailable, match=reason):
                rt.inspect(container)
    finally:
        server.close()


def test_an_inspect_pid_that_is_not_a_pid_is_none(
    sockdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A running container whose runc state is elsewhere gets its PID from inspect: ``true``
    (an int to Python) or 1 must not make the host's init that container."""
    pids = iter([True, 1, "4242", 4.2, None, {"x": 1}, 0, -3])
    running = [dict(DOCKER_LIST[0], Id="d" * 64, State="running")]

    def answer(line: bytes) -> bytes:
        if line.startswith(b"GET /v1.41/containers/json"):
            return http(json.dumps(running).encode())
        return http(json.dumps({"State": {"Pid": next(pids)}}).encode())

    server = fake_docker(sockdir, monkeypatch, answer)
    try:
        rt = docker.DockerRuntime(timeout=5)
        for _ in range(8):
            (c,) = rt.list()
            assert c.pid is None and rt.warnings == []
    finally:
        server.close()


def endless(head: bytes, chunk: bytes = b"[" + b'{"Id":"0"},' * 5000) -> Iterator[bytes]:
    """An answer whose body never ends (until 2 GiB, so a failing test stops)."""
    yield head
    for _ in range((2 << 30) // len(chunk)):
        yield chunk


def test_an_endless_docker_answer_is_cut_at_the_cap(
    sockdir: Path, data_root: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = fake_docker(sockdir, monkeypatch, lambda line: endless(http(b"")))
    try:
        rt = docker.DockerRuntime(timeout=30)
        found = rt.list(all=True)
    finally:
        server.close()
    assert {c.name for c in found} == set(data_root)
    (warning,) = rt.warnings
    assert warning.startswith("answered GET /containers/json with more than 32 MiB (not read")
    # It stopped reading there: what the server got out is the cap plus the sockets' buffers.
    assert server.sent < dockerapi.MAX_ANSWER + (8 << 20)


def test_an_endless_docker_answer_costs_no_more_memory_than_the_cap(sockdir: Path) -> None:
    """Before: 1.3-1.8 GB RSS for a 1 GB body. The peak RSS of a process that lists Docker
    while it streams without end stays near the interpreter's plus the 32 MiB cap."""
    server = harness.FakeDaemon(str(sockdir / "d.sock"), lambda line: endless(http(b"")))
    script = textwrap.dedent(
        """
        from debugtool.runtimes import docker
        from debugtool.errors import RuntimeUnavailable
        docker.data_root = lambda: "/nonexistent"
        try:
            docker.DockerRuntime(timeout=60).list()
        except RuntimeUnavailable as exc:
            print(exc.reason)
        """
    )
    try:
        code, said, _, peak = harness.run_measured(
            [sys.executable, "-c", script],
            env={**os.environ, "DOCKER_HOST": f"unix://{server.path}"},
        )
    finally:
        server.close()
    assert code == 0
    assert said.startswith("answered GET /containers/json with more than 32 MiB")
    assert peak < 160 << 20, f"peak RSS {peak >> 20} MiB"


def test_docker_logs_are_streamed_and_keep_their_end(
    sockdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A log far past LOG_LIMIT (and one frame announcing 4 GiB) is read through, not held."""
    monkeypatch.setattr(docker, "LOG_LIMIT", 1 << 20)
    line = b"2026-11-26T17:27:11.605416000Z " + b"x" * 90 + b"\n"

    def frames() -> Iterator[bytes]:
        yield http(b"")
        for _ in range(20_000):  # about 2.4 MiB of frames
            yield b"\x01\x00\x00\x00" + len(line).to_bytes(4, "big") + line
        last = b"2026-11-26T17:27:12.000000000Z the end\n"
        yield b"\x02\x00\x00\x00" + len(last).to_bytes(4, "big") + last

    def answer(request: bytes) -> bytes | Iterator[bytes]:
        if b"/logs?" in request:
            return frames()
        return http(b'{"Config": {"Tty": false}}')

    server = fake_docker(sockdir, monkeypatch, answer)
    try:
        data = docker.DockerRuntime(timeout=10).logs(docker.container_from_list(DOCKER_LIST[0]))
    finally:
        server.close()
    assert len(data) <= 1 << 20
    assert data.endswith(b"the end\n")
    assert data.startswith(b"2026-11-26T17:27:11.605416000Z xxx")  # cut at a whole line


def test_log_tail_bounds_memory_whatever_the_frames_announce() -> None:
    huge = b"\x01\x00\x00\x00\xff\xff\xff\xff"  # a frame of 4 GiB - 1 that never ends

    def chunks() -> Iterator[bytes]:
        yield huge[:5]  # the header split across reads
        yield huge[5:]
        for _ in range(1000):
            yield b"y" * 4095 + b"\n"

    kept = docker.log_tail(chunks(), multiplexed=True, limit=64 << 10)
    assert len(kept) <= 64 << 10 and kept.endswith(b"y\n") and kept.startswith(b"y")
    assert docker.log_tail([b"a\nb\n", b"c\n"], multiplexed=False, limit=3) == b"c\n"


def test_bundle_records_a_docker_version_that_is_garbage(
    sockdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: a thread traceback on stderr, and no docker-engine in host/runtimes."""
    server = fake_docker(sockdir, monkeypatch, lambda line: http(DEEP))
    monkeypatch.setattr(collectors, "_VERSION_COMMANDS", {"true": ["true"]})
    failures: list[threading.ExceptHookArgs] = []
    monkeypatch.setattr(threading, "excepthook", failures.append)
    try:
        files = collectors.host_runtimes(collectors.CollectorRun(), timeout=5)
    finally:
        server.close()
    versions = json.loads(files["host/runtimes.json"])
    assert versions == {
        "docker-engine": "error: answered GET /version with something not JSON (nested too deeply)",
        "true": "",
    }
    assert failures == []


def test_bundle_records_a_runtime_that_does_not_answer(
    sockdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def silent() -> Iterator[bytes]:
        time.sleep(5)
        yield b""

    server = fake_docker(sockdir, monkeypatch, lambda line: silent())
    monkeypatch.setattr(collectors, "_VERSION_COMMANDS", {})
    try:
        started = time.monotonic()
        files = collectors.host_runtimes(collectors.CollectorRun(), timeout=0.3)
        assert time.monotonic() - started < 3
    finally:
        server.close()
    versions = json.loads(files["host/runtimes.json"])
    assert versions == {"docker-engine": "error: did not answer GET /version within 0.3s"}


# --- runc and crun state files ----------------------------------------------------------------

RUNC_STATE = json.loads((FIXTURES / "runtimes" / "runc-state-docker.json").read_text())


def live_stat(pid: int) -> ProcState | None:
    """Liveness as the fixtures' processes see it: 4242 runs (started at 100), 2 is kthreadd."""
    return {
        4242: ProcState("S", 100),
        1: ProcState("S", 1),
        2: ProcState("S", 2, kthread=True),
    }.get(pid)


def runc_root(root: Path, states: dict[str, bytes]) -> RuncRuntime:
    for name, raw in states.items():
        (root / name).mkdir(parents=True)
        (root / name / "state.json").write_bytes(raw)
    return RuncRuntime(roots=[str(root)], stat_of=live_stat, read=lambda path: None)


def runc_state(cid: str, **changes: object) -> bytes:
    state = dict(RUNC_STATE, id=cid, init_process_pid=4242, init_process_start=100)
    state.update(changes)
    return json.dumps(state, separators=(",", ":")).encode()


GOOD_RUNC = runc_state("good")
BAD_RUNC = {
    # Not libcontainer's layout, so decoded whole (a skim reads only the fields it needs).
    "deep": (
        b'{"config":' + DEEP + b',"id":"deep","init_process_pid":4242}',
        "not valid JSON (nested too deeply)",
    ),
    "deep-labels": (
        GOOD_RUNC.replace(b'"labels":[', b'"labels":[' + b"[" * 100_000, 1),
        "not valid JSON (nested too deeply)",
    ),
    "inf-pid": (
        GOOD_RUNC.replace(b'"init_process_pid":4242', b'"init_process_pid":1e400'),
        "init_process_pid is not a container's process id (inf)",
    ),
    "inf-start": (
        GOOD_RUNC.replace(b'"init_process_start":100', b'"init_process_start":1e400'),
        "init_process_start is not a start time (inf)",
    ),
    "bool-pid": (
        runc_state("bool-pid", init_process_pid=True),
        "init_process_pid is not a container's process id (True)",
    ),
    "pid-1": (
        runc_state("pid-1", init_process_pid=1, init_process_start=1),
        "init_process_pid is not a container's process id (1)",
    ),
    "string-pid": (
        runc_state("string-pid", init_process_pid="4242"),
        "init_process_pid is not a container's process id ('4242')",
    ),
    "float-start": (
        runc_state("float-start", init_process_start=100.0),
        "init_process_start is not a start time (100.0)",
    ),
}


@pytest.mark.parametrize("name", sorted(BAD_RUNC))
def test_one_bad_runc_state_file_costs_only_itself(name: str, tmp_path: Path) -> None:
    """Before: RecursionError or OverflowError dropped runc altogether, and ``true`` listed
    the host's init as ``running 1``."""
    raw, reason = BAD_RUNC[name]
    runtime = runc_root(tmp_path, {"good": GOOD_RUNC, name: raw})
    (good,) = runtime.list(all=True)
    assert (good.id, good.status, good.pid) == ("good", "running", 4242)
    assert runtime.warnings == [f"skipping {tmp_path}/{name}/state.json: {reason}."]


def test_a_state_file_naming_a_kernel_thread_is_never_running(tmp_path: Path) -> None:
    runtime = runc_root(
        tmp_path, {"kthreadd": runc_state("kthreadd", init_process_pid=2, init_process_start=2)}
    )
    (c,) = runtime.list(all=True)
    assert (c.status, c.pid) == ("stopped", None)
    assert runtime.list() == []


def test_the_real_proc_stat_knows_kernel_threads() -> None:
    me = oci.proc_stat(os.getpid())
    assert me is not None and not me.kthread
    if Path("/proc/2/comm").read_text().strip() != "kthreadd":
        pytest.skip("PID 2 is not kthreadd here (a PID namespace)")
    kthreadd = oci.proc_stat(2)
    assert kthreadd is not None and kthreadd.kthread


def test_crun_status_types_are_strict(tmp_path: Path) -> None:
    statuses = {
        "good": {"pid": 4242, "process-start-time": 100, "owner": 5},
        "bool-pid": {"pid": True},
        "pid-1": {"pid": 1},  # no start time: before, the host's init was "running 1"
        "kthreadd": {"pid": 2},
        "inf-pid": {"pid": float("inf")},
        "big-start": {"pid": 4242, "process-start-time": "9" * 40},
    }
    for name, status in statuses.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "status").write_text(json.dumps(status).replace("Infinity", "1e400"))
    runtime = CrunRuntime(roots=[str(tmp_path)], stat_of=live_stat, read=lambda path: None)
    found = {c.id: c for c in runtime.list(all=True)}
    assert set(found) == {"good", "kthreadd"}
    assert (found["good"].status, found["good"].pid) == ("running", 4242)
    assert found["good"].metadata["crun"]["owner"] == ""
    assert (found["kthreadd"].status, found["kthreadd"].pid) == ("stopped", None)
    assert len(runtime.warnings) == 4
    assert all(
        "is not a container's process id" in w or "start time" in w for w in runtime.warnings
    )


def test_a_directory_of_strangers_is_one_warning(tmp_path: Path) -> None:
    """``--oci-root /proc``: thousands of entries that are not state directories, one line."""
    for n in range(1, 1201):
        (tmp_path / str(n)).mkdir()
        (tmp_path / str(n) / "status").write_text("Name:\tbash\nState:\tS (sleeping)\n")
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "status").write_text(json.dumps({"pid": 4242, "process-start-time": 100}))
    runtime = CrunRuntime(roots=[str(tmp_path)], stat_of=live_stat, read=lambda path: None)
    assert [c.id for c in runtime.list()] == ["real"]
    (warning,) = runtime.warnings
    assert warning.startswith(
        f"skipped 1,200 entries of {tmp_path} that hold no crun state it can read (not a "
        f"state root?); the first: {tmp_path}/"
    )
    assert warning.count("not valid JSON") == 3  # the first few, as examples


def test_a_few_broken_state_files_are_named_one_by_one(tmp_path: Path) -> None:
    runtime = runc_root(tmp_path, {f"broken-{n}": b"{" for n in range(3)})
    assert runtime.list(all=True) == []
    assert sorted(runtime.warnings) == [
        f"skipping {tmp_path}/broken-{n}/state.json: not valid JSON "
        "(Expecting property name enclosed in double quotes at line 1)."
        for n in range(3)
    ]


def test_warnings_naming_hostile_ids_reach_the_terminal_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runtime = runc_root(tmp_path, {"evil\n\x1b]52;c;aGk=\x07\x1b[2J": b"{"})
    runtime.list(all=True)
    (warning,) = runtime.warnings
    assert "\x1b" in warning  # Runtime.warnings keep the exact text ...
    output.warn(f"runc: {warning}")
    shown = capsys.readouterr().err
    assert "\x1b" not in shown and "\x07" not in shown  # ... the terminal gets it escaped
    assert shown.count("\n") == 1


def test_liveness_is_strict_about_types() -> None:
    alive = lambda pid: ProcState("S", 100)  # noqa: E731
    assert oci.liveness(4242, 100, alive)
    assert oci.liveness(4242, "100", alive)  # older runc wrote a string
    for pid, start in [(True, 100), (1, 100), (4242.0, 100), ("4242", 100), (4242, 1e400)]:
        assert not oci.liveness(pid, start, alive), (pid, start)
    assert not oci.liveness(2, 0, lambda pid: ProcState("S", 2, kthread=True))
    assert oci.host_pid(2**31) == 2**31 and oci.host_pid(False) is None


def test_state_files_of_docker_that_are_nested_too_deeply_are_skipped(
    data_root: dict[str, str],
) -> None:
    root = Path(docker.data_root())
    (root / "containers" / "deep").mkdir()
    (root / "containers" / "deep" / "config.v2.json").write_bytes(
        b'{"ID":"deep","x":' + DEEP + b"}"
    )
    found = docker.containers_on_disk(str(root), all=True, pid_of=lambda c, p: (None, False))
    assert {c.name for c in found or []} == set(data_root)


def test_docker_runc_pid_refuses_pid_1_and_kernel_threads(tmp_path: Path) -> None:
    for cid, pid in (("init", 1), ("kthreadd", 2)):
        start = oci.proc_stat(pid)
        if start is None:
            continue  # not visible here
        (tmp_path / cid).mkdir()
        (tmp_path / cid / "state.json").write_text(
            f'{{"id":"{cid}","init_process_pid":{pid},"init_process_start":{start.start}}}'
        )
        assert docker.runc_pid(cid, str(tmp_path)) is None
    assert docker.runc_pid("../etc", str(tmp_path)) is None


# --- bad input: numeric options, targets that are no container --------------------------------

BAD_OPTIONS = [
    (["--timeout", "nan", "ps"], "--timeout must be a positive number of seconds up to 3600"),
    (["--timeout", "inf", "ps"], "--timeout must be a positive number of seconds"),
    (["--timeout", "1e400", "ps"], "--timeout must be a positive number of seconds"),
    (["--timeout", "-1", "ps"], "--timeout must be a positive number of seconds"),
    (["--timeout", "0", "ps"], "--timeout must be a positive number of seconds"),
    (["--timeout=-inf", "ps"], "--timeout must be a positive number of seconds"),
    (["top", "--interval", "inf", "pid:4242"], "--interval must be zero or a positive number"),
    (["top", "--interval", "-1", "pid:4242"], "--interval must be zero or a positive number"),
    (["bundle", "--budget", "nan", "x"], "--budget must be a positive number of seconds"),
    (["bundle", "--timeout", "inf", "x"], "--timeout must be a positive number of seconds"),
    (["bundle", "--max-size", "1", "x"], "'1' is not a size of at least 64K for --max-size"),
    (["bundle", "--max-size", "inf", "x"], "'inf' is not a size of at least 64K"),
    (["bundle", "--max-size", "nanM", "x"], "'nanM' is not a size of at least 64K"),
    (["bundle", "--since", "nan", "x"], "'nan' is not a duration for --since"),
    (["bundle", "--since", "infd", "x"], "'infd' is not a duration for --since"),
    (["bundle", "--samples", "0", "x"], "--samples must be a whole number from 1 to 600"),
    (["bundle", "--samples", "1e9", "x"], "--samples must be a whole number from 1 to 600"),
    (["bundle", "--log-lines", "-1", "x"], "--log-lines must be a whole number from 0"),
    (["trace", "x", "--duration", "inf"], "--duration must be a positive number of seconds"),
    (["trace", "x", "--count", "0"], "--count must be a whole number from 1"),
    (["trace", "x", "--pid", "99999999999999999999"], "--pid must be a whole number from 1"),
    (["trace", "x", "-s", "-5"], "--string-limit must be a whole number from 1"),
    (["tui", "--interval", "nan"], "--interval must be a number of seconds from 0.1 to 3600"),
    (["tui", "--interval", "0"], "--interval 0 is too short."),
]


@pytest.mark.parametrize(
    ("argv", "sentence"), BAD_OPTIONS, ids=[" ".join(a) for a, _ in BAD_OPTIONS]
)
def test_a_number_debugtool_cannot_use_is_one_sentence_and_125(
    argv: list[str], sentence: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: thread tracebacks, OverflowError, or success with every runtime skipped."""
    from debugtool import cli

    assert cli.main(argv) == 125
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert line.startswith("debugtool: ") and sentence in line, line
    assert line.endswith(".") and "Traceback" not in line and "internal error" not in line


def test_numbers_debugtool_can_use_are_read_as_such() -> None:
    from debugtool import cli

    args = cli.build_parser("bundle").parse_args(
        [
            "--timeout",
            "0.5",
            "bundle",
            "--max-size",
            "64K",
            "--since",
            "10m",
            "--log-lines",
            "0",
            "x",
        ]
    )
    assert (args.timeout, args.max_size, args.since, args.log_lines) == (0.5, 65536, 600.0, 0)
    assert cli.build_parser("top").parse_args(["top", "--interval", "0", "x"]).interval == 0.0
    args = cli.build_parser("trace").parse_args(["trace", "x", "--duration", "1.5", "-s", "1"])
    assert (args.duration, args.string_limit, args.count) == (1.5, 1, None)


@pytest.mark.parametrize("text", ["pid:0", "pid:-3", "pid:+-1"])
def test_a_pid_that_is_no_process_id_is_a_usage_error(text: str) -> None:
    from debugtool.errors import UsageError
    from debugtool.runtimes import Discovery
    from debugtool.target import find

    with pytest.raises(UsageError, match="is not a process id"):
        find(text, Discovery())


def test_pid_1_and_kernel_threads_are_no_container() -> None:
    """Before: pid:2 (kthreadd) was taken as a sandbox and top listed the host's processes."""
    from debugtool.errors import UsageError
    from debugtool.runtimes import Discovery
    from debugtool.target import find

    with pytest.raises(UsageError) as err:
        find("pid:1", Discovery())
    assert err.value.message == "pid:1 is this host's init, not a process of a container."
    if Path("/proc/2/comm").read_text().strip() != "kthreadd":
        pytest.skip("PID 2 is not kthreadd here (a PID namespace)")
    with pytest.raises(UsageError) as err:
        find("pid:2", Discovery())
    assert (
        err.value.message
        == "process 2 (kthreadd) is a kernel thread, not a process of a container."
    )
    assert err.value.exit_code == 125


def test_a_container_with_no_process_is_described_truly() -> None:
    """Before: 'is not running (status: running)' for a container that flaps."""
    from debugtool.errors import ContainerNotRunning
    from debugtool.target import not_running, pin

    running = docker.container_from_list(dict(DOCKER_LIST[0], State="running"))
    with pytest.raises(ContainerNotRunning) as err:
        pin(running)
    assert err.value.message == (
        f"container dtcap-docker-logtty ({running.short_id}) stopped while it was being "
        "resolved, though docker still says running: it may be restarting."
    )
    for status in ("running", "paused", "restarting", "exited", "created", "unknown"):
        record = docker.container_from_list(dict(DOCKER_LIST[0], State=status))
        message = not_running(record).message
        assert f"(status: {status})" not in message or status not in ("running", "paused")
    restarting = docker.container_from_list(dict(DOCKER_LIST[0], State="restarting"))
    assert "is restarting, so it has no process" in not_running(restarting).message
    exited = docker.container_from_list(dict(DOCKER_LIST[0], State="exited"))
    assert not_running(exited).message.endswith("is not running (status: exited).")


def test_oci_exec_of_a_running_container_without_a_process_says_so() -> None:
    from debugtool.errors import ExecUnsupported
    from debugtool.runtimes.base import ExecRequest

    record = Container(id="web", name="web", runtime="runc", status="running", pid=None)
    with pytest.raises(ExecUnsupported) as err:
        RuncRuntime(roots=[]).exec_argv(record, ExecRequest(argv=["true"]))
    if "not installed" in err.value.message:
        pytest.skip("runc is not installed")
    assert err.value.message == "container web has no process now, though its runtime says running."


def test_runc_exec_user_lookup_opens_no_device_or_fifo(tmp_path: Path) -> None:
    """runc's own exec with -u NAME reads the container's passwd through rootfs: a planted FIFO
    (which would hang an open) or device reads as absent, never opened."""
    import stat as stat_mod

    from debugtool.runtimes.oci import read_in_root

    os.mkfifo(tmp_path / "fifo")
    os.mknod(tmp_path / "device", 0o644 | stat_mod.S_IFCHR, os.makedev(1, 3))
    (tmp_path / "passwd").write_text("app:x:1000:1000::/:/bin/sh\n")
    pid = os.getpid()  # /proc/PID/root is the host's root here: the paths are absolute
    assert read_in_root(pid, str(tmp_path / "fifo")) is None
    assert read_in_root(pid, str(tmp_path / "device")) is None
    assert read_in_root(pid, str(tmp_path / "missing")) is None
    assert read_in_root(pid, str(tmp_path / "passwd")) == b"app:x:1000:1000::/:/bin/sh\n"
