"""Build real bundles for unit tests through the writer, from hand-made model records (no
runtime involved), so the reader, verify and report are tested on what the writer writes."""

from __future__ import annotations

from pathlib import Path

from debugtool.bundle import manifest as mf
from debugtool.bundle.archive import Destination
from debugtool.bundle.capture import Capture, Options, Summary, folder_name
from debugtool.model import Container
from debugtool.snapshot import (
    Address,
    CgroupStats,
    Interface,
    Mount,
    Network,
    Process,
    SecurityContext,
    Snapshot,
    Socket,
)

CONTAINER = Container(
    id="40b491c15ab5d19f2414f26c12587ae7769dca20461eb6f47a9ea85954d4294a",
    name="web",
    runtime="docker",
    image="debugtool-test/busybox:latest",
    status="running",
    pid=4257,
    labels={"com.example.secret": "LabelS3cret99", "version": "1.2.3"},
)
STOPPED = Container(id="c0ffee" * 10 + "abcd", name="batch", runtime="podman", status="exited")


def snapshot(container: Container = CONTAINER) -> Snapshot:
    return Snapshot(
        container=container,
        taken_at=1795706267.0,
        hostname="vm",
        processes=[
            Process(pid=4257, nspid=1, name="sh", cmdline=["sh", "-c", "app"], user="root"),
            Process(
                pid=4286,
                nspid=8,
                ppid=4257,
                name="app",
                cmdline=["app", "--password", "ArgvS3cret77", "--port", "8080"],
                user="app",
            ),
        ],
        mounts=[
            Mount(1, 0, "/", "overlay", source="overlay"),
            Mount(
                2,
                1,
                "/var/run/docker.sock",
                "ext4",
                host_path="/run/docker.sock",
                risks=["docker socket"],
            ),
        ],
        network=Network(
            interfaces=[
                Interface("eth0", 2, "UP", addresses=[Address("inet", "172.17.0.5", 16)]),
            ],
            sockets=[Socket("tcp", "LISTEN", "0.0.0.0", 8080, pids=[4286], nspids=[8])],
        ),
        cgroup=CgroupStats(version="hybrid", memory_usage=1 << 20, cpu_usage_ns=1000),
        security=SecurityContext(cap_effective=["CAP_CHOWN"], seccomp="filter"),
    )


def samples() -> list[CgroupStats]:
    return [
        CgroupStats(version="hybrid", sampled_at=100.0, cpu_usage_ns=0, memory_usage=1 << 20),
        CgroupStats(version="hybrid", sampled_at=100.5, cpu_usage_ns=250_000_000),
        CgroupStats(version="hybrid", sampled_at=101.0, cpu_usage_ns=500_000_000),
    ]


def writer(tmp_path: Path, **options: object) -> Capture:
    opts = Options(output=str(tmp_path / "bundle.tar.gz"), command_line=["debugtool", "bundle"])
    for key, value in options.items():
        setattr(opts, key, value)
    return Capture(opts)


def make(
    tmp_path: Path,
    logs: bytes = b"2026-11-26T15:17:48Z stdout started; password=LogS3cret55\n",
    extra: dict[str, bytes] | None = None,
    **options: object,
) -> tuple[Summary, Capture]:
    """Write a bundle of one running and one stopped container; return its summary."""
    from debugtool.bundle import collectors

    w = writer(tmp_path, **options)
    taken: set[str] = set()
    w.containers = [(c, f"containers/{folder_name(c, taken)}") for c in (CONTAINER, STOPPED)]
    (_, folder), (_, stopped) = w.containers

    def put(name: str, cid: str | None, files: dict[str, bytes], prio: int, **kw: object) -> None:
        result = mf.CollectorResult(name, cid, **kw)  # type: ignore[arg-type]
        w.cap.finish(0, result, w._first_pass(files), prio)

    put("host/kernel", None, {"host/kernel.txt": b"uname: Linux vm 6.1.0\n"}, mf.PRIORITY_HOST)
    put(
        "host/audit",
        None,
        {"host/audit.jsonl": b'{"action": "exec", "argv": ["sh"]}\nnot json\n'},
        mf.PRIORITY_HOST,
    )
    put("container", CONTAINER.id, {f"{folder}/container.json": collectors.dumps(CONTAINER)}, 9)
    put(
        "inspect",
        CONTAINER.id,
        {
            f"{folder}/inspect.json": collectors.dumps(
                {"Config": {"Env": ["DB_PASSWORD=EnvS3cret42"]}}
            )
        },
        mf.PRIORITY_INSPECT,
    )
    put(
        "snapshot",
        CONTAINER.id,
        {f"{folder}/snapshot.json": snapshot().to_json().encode()},
        mf.PRIORITY_SNAPSHOT,
    )
    put(
        "cgroup-samples",
        CONTAINER.id,
        {f"{folder}/cgroup-samples.json": collectors.dumps(samples())},
        mf.PRIORITY_SAMPLES,
    )
    put("logs", CONTAINER.id, {f"{folder}/logs.txt": logs}, mf.PRIORITY_LOGS)
    put("container", STOPPED.id, {f"{stopped}/container.json": collectors.dumps(STOPPED)}, 9)
    put("snapshot", STOPPED.id, {}, 4, status=mf.SKIPPED, error="the container is not running")
    put("logs", STOPPED.id, {}, 0, status=mf.TIMEOUT, error="did not finish within 10s")
    for rel, data in (extra or {}).items():
        put("extra", CONTAINER.id, {rel: data}, mf.PRIORITY_LOGS)
    w.cap.seal(mf.SKIPPED, "not finished")
    return w._write(Destination.choose(str(tmp_path / "bundle.tar.gz"), "unused")), w


# --- the tests ------------------------------------------------------------------------------
import gzip  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import stat  # noqa: E402
import tarfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

import pytest  # noqa: E402

from debugtool.bundle import reader  # noqa: E402
from debugtool.bundle.collectors import CollectorRun  # noqa: E402
from debugtool.bundle.redact import MASK, Redactor  # noqa: E402
from debugtool.commands import Duration, Size  # noqa: E402
from debugtool.errors import BundleError, ContainerNotFound, UsageError  # noqa: E402

PLANTED = ["LabelS3cret99", "ArgvS3cret77", "LogS3cret55", "EnvS3cret42"]


def members(path: str) -> list[tuple[str, bytes]]:
    with tarfile.open(path, "r:gz") as tar:
        return [(m.name, tar.extractfile(m).read()) for m in tar if m.isfile()]  # type: ignore[union-attr]


def test_layout_manifest_first_mode_0600(tmp_path: Path) -> None:
    summary, w = make(tmp_path)
    assert summary.path == str(tmp_path / "bundle.tar.gz")
    assert stat.S_IMODE(os.stat(summary.path).st_mode) == 0o600
    names = [name for name, _ in members(summary.path)]
    assert names[0] == f"{w.root}/manifest.json"
    assert names[1:3] == [f"{w.root}/redactions.json", f"{w.root}/report.html"]
    assert f"{w.root}/containers/docker-web-40b491c15ab5/snapshot.json" in names
    assert f"{w.root}/containers/podman-batch-c0ffeec0ffee/container.json" in names
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]  # no temp file left


def test_manifest_records_every_member_and_collector(tmp_path: Path) -> None:
    summary, w = make(tmp_path)
    content = dict(members(summary.path))
    manifest = json.loads(content[f"{w.root}/manifest.json"])
    assert mf.schema_problems(manifest) == []
    assert manifest["complete"] is True
    recorded = manifest["files"]
    assert set(recorded) == {n.split("/", 1)[1] for n in content} - {"manifest.json"}
    for rel, entry in recorded.items():
        assert entry["sha256"] == mf.sha256(content[f"{w.root}/{rel}"])
    statuses = {(r["container"], r["name"]): r["status"] for r in manifest["collectors"]}
    assert statuses[(STOPPED.id, "logs")] == "timeout"
    assert statuses[(STOPPED.id, "snapshot")] == "skipped"
    assert {"timeout", "skipped"} <= {r["status"] for r in summary.not_ok}


def test_no_planted_secret_survives_anywhere(tmp_path: Path) -> None:
    summary, _ = make(tmp_path)
    for name, data in members(summary.path):
        for secret in PLANTED:
            assert secret.encode() not in data, (secret, name)
    assert summary.redactions >= 4


def test_no_redact_keeps_values_and_says_so(tmp_path: Path) -> None:
    summary, w = make(tmp_path, redact=False)
    content = dict(members(summary.path))
    assert b"EnvS3cret42" in content[f"{w.root}/containers/docker-web-40b491c15ab5/inspect.json"]
    assert json.loads(content[f"{w.root}/redactions.json"])["redacted"] is False


def test_leak_scan_fails_loudly_and_leaves_no_archive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Break the second pass: a value found in inspect.json stays in the logs.
    monkeypatch.setattr(Redactor, "second_pass", lambda self, rel, data: data)
    with pytest.raises(
        BundleError, match="leak scan found a redacted value in .*; the bundle was not written"
    ):
        make(tmp_path, logs=b"the env said EnvS3cret42\n")
    assert os.listdir(tmp_path) == []


def test_max_size_drops_logs_first_and_records_it(tmp_path: Path) -> None:
    noise = os.urandom(300_000).hex().encode()  # incompressible-ish text
    summary, w = make(tmp_path, logs=noise, max_size=60_000)
    assert summary.size <= 60_000
    dropped = [d["file"] for d in summary.dropped]
    assert dropped[0].endswith("/logs.txt")
    content = dict(members(summary.path))
    manifest = json.loads(content[f"{w.root}/manifest.json"])
    assert manifest["dropped"][0]["file"].endswith("/logs.txt")
    logs = next(
        r for r in manifest["collectors"] if r["name"] == "logs" and r["status"] != "timeout"
    )
    assert logs["status"] == "truncated" and "--max-size" in logs["error"]
    # Inspect data and the snapshot are kept.
    assert any(n.endswith("/snapshot.json") for n in content)
    assert any(n.endswith("/inspect.json") for n in content)


def test_reader_rebuilds_the_model(tmp_path: Path) -> None:
    summary, _ = make(tmp_path)
    b = reader.open_bundle(summary.path)
    assert b.path == summary.path
    assert b.complete is True and b.captured_at > 0
    assert [c.name for c in b.containers] == ["web", "batch"]
    snap = b.snapshot("web")
    assert isinstance(snap, Snapshot)
    assert [p.nspid for p in snap.processes] == [1, 8]
    assert snap.processes[1].cmdline == ["app", "--password", MASK, "--port", "8080"]
    assert snap.mounts[1].risks == ["docker socket"]
    assert snap.network.sockets[0].local_port == 8080
    assert b.snapshot(CONTAINER.id[:5]).container.id == CONTAINER.id
    assert [s.cpu_usage_ns for s in b.cgroup_samples("web")] == [0, 250_000_000, 500_000_000]
    assert "password=" + MASK in b.logs("web")
    assert [(r.action, r.argv) for r in b.audit] == [("exec", ["sh"])]  # audit.Record
    stopped = b.snapshot("batch")
    assert stopped.processes == [] and "not running" in stopped.errors["snapshot"]
    assert b.cgroup_samples("batch") == [] and b.logs("batch") == ""
    with pytest.raises(ContainerNotFound, match="holds no container matching 'nope'.*web"):
        b.snapshot("nope")
    assert reader.load_snapshot(summary.path, "docker:web").container.name == "web"


def test_verify_intact(tmp_path: Path) -> None:
    summary, _ = make(tmp_path)
    assert reader.verify_bundle(summary.path) == []


def _rewrite(src: str, dest: Path, change) -> None:  # type: ignore[no-untyped-def]
    with tarfile.open(src, "r:gz") as tin, tarfile.open(dest, "w:gz") as tout:
        for info in tin:
            data = tin.extractfile(info).read()  # type: ignore[union-attr]
            result = change(info.name, data)
            if result is None:
                continue
            info.size = len(result)
            tout.addfile(info, io.BytesIO(result))


def test_verify_names_a_changed_and_a_missing_member(tmp_path: Path) -> None:
    summary, _ = make(tmp_path)
    bad = tmp_path / "bad.tar.gz"

    def change(name: str, data: bytes) -> bytes | None:
        if name.endswith("/logs.txt"):
            return data.replace(b"started", b"STARTED")
        if name.endswith("host/kernel.txt"):
            return None
        return data

    _rewrite(summary.path, bad, change)
    problems = reader.verify_bundle(str(bad))
    assert any(p.endswith("logs.txt: checksum mismatch") for p in problems)
    assert "host/kernel.txt: missing" in problems


def test_truncated_bundle(tmp_path: Path) -> None:
    summary, _ = make(tmp_path, logs=os.urandom(200_000).hex().encode())
    cut = tmp_path / "cut.tar.gz"
    data = open(summary.path, "rb").read()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(BundleError, match="is damaged: the archive is truncated or corrupt"):
        reader.open_bundle(str(cut))
    problems = reader.verify_bundle(str(cut))
    assert any("truncated or corrupt" in p for p in problems)
    assert any(p.endswith(": missing") for p in problems)


def test_not_bundles(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="there is no bundle at"):
        reader.open_bundle(str(tmp_path / "missing.tar.gz"))
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    with pytest.raises(BundleError, match="not a debugtool bundle \\(not a gzip-compressed tar"):
        reader.open_bundle(str(text))
    other = tmp_path / "other.tar.gz"
    with tarfile.open(other, "w:gz") as tar:
        info = tarfile.TarInfo("project/README")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    with pytest.raises(BundleError, match="its first member is project/README"):
        reader.open_bundle(str(other))
    gz = tmp_path / "plain.gz"
    gz.write_bytes(gzip.compress(b"just some gzip"))
    with pytest.raises(BundleError, match="not a debugtool bundle"):
        reader.verify_bundle(str(gz))


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    summary, _ = make(tmp_path)
    newer = tmp_path / "newer.tar.gz"

    def change(name: str, data: bytes) -> bytes:
        if name.endswith("/manifest.json"):
            doc = json.loads(data)
            doc["schema_version"] = 99
            return json.dumps(doc).encode()
        return data

    _rewrite(summary.path, newer, change)
    with pytest.raises(BundleError, match="schema version 99; this debugtool reads up to 1"):
        reader.open_bundle(str(newer))


def test_report_is_self_contained_and_shows_the_views(tmp_path: Path) -> None:
    summary, w = make(tmp_path)
    html = dict(members(summary.path))[f"{w.root}/report.html"].decode()
    assert not re.search(r"https?://", html)
    assert not re.search(r"<(link|img|iframe)\b|\bsrc=|@import|url\(", html)
    assert "Content-Security-Policy" in html
    for text in ("web", "batch", "Processes (2)", "Mounts (2)", "docker socket", "Sockets"):
        assert text in html
    assert '<tr class="risk">' in html
    assert "50.0% of one core" in html  # the rate from the three samples
    assert "timeout" in html and "did not finish within 10s" in html
    assert "<td>secret-env</td>" in html  # the redaction table


# --- the collector runner -------------------------------------------------------------------
def test_hung_collector_times_out_and_its_late_output_is_ignored(tmp_path: Path) -> None:
    w = writer(tmp_path, collector_timeout=0.2)
    release = threading.Event()

    def hangs(ctx: CollectorRun) -> dict[str, bytes]:
        release.wait(5)
        return {"late.txt": b"too late"}

    assert w.run_collector("hangs", hangs) is False
    release.set()
    time.sleep(0.1)
    (result,) = w.cap.results
    assert result.status == "timeout" and "did not finish within 0.2s" in result.error
    assert "late.txt" not in w.cap.files


def test_timed_out_program_is_killed_by_pid(tmp_path: Path) -> None:
    w = writer(tmp_path, collector_timeout=0.5)
    pidfile = tmp_path / "pid"

    def slow(ctx: CollectorRun) -> dict[str, bytes]:
        ctx.run(["sh", "-c", f"echo $$ > {pidfile}; exec sleep 30"], timeout=30)
        return {}

    assert w.run_collector("slow", slow) is False
    pid = int(pidfile.read_text())
    for _ in range(100):
        if not os.path.exists(f"/proc/{pid}"):
            break
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{pid}")


def test_failing_collector_is_recorded(tmp_path: Path) -> None:
    from debugtool.errors import DebugtoolError

    w = writer(tmp_path)

    def fails(ctx: CollectorRun) -> dict[str, bytes]:
        raise DebugtoolError("the thing is broken.", "Fix it.")

    def bug(ctx: CollectorRun) -> dict[str, bytes]:
        return {}["x"]  # type: ignore[return-value]

    assert w.run_collector("fails", fails) is False
    assert w.run_collector("bug", bug) is False
    assert [(r.status, r.error) for r in w.cap.results] == [
        ("error", "the thing is broken. Fix it."),
        ("error", "KeyError: 'x'"),
    ]


def test_budget_and_interrupt_skip_collectors(tmp_path: Path) -> None:
    w = writer(tmp_path, budget=0.01)
    time.sleep(0.05)
    assert w.run_collector("late", lambda ctx: {"a": b"b"}) is False
    assert w.cap.results[-1].status == "skipped" and "time budget" in w.cap.results[-1].error
    assert w._complete() is False
    w2 = writer(tmp_path)
    w2.interrupted = "SIGTERM"
    w2.stop.set()
    assert w2.run_collector("after", lambda ctx: {"a": b"b"}) is False
    assert w2.cap.results[-1].error == "interrupted (SIGTERM) before it finished"


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("200000", 200000),
        ("50M", 50 << 20),
        ("50MB", 50 << 20),
        ("1.5GiB", 3 << 29),
        ("10k", 10240),
    ],
)
def test_max_size_takes_sizes(text: str, size: int) -> None:
    assert Size("--max-size", minimum=1024)(text) == size


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("30s", 30), ("10m", 600), ("2h", 7200)])
def test_since_takes_durations(text: str, seconds: float) -> None:
    assert Duration("--since", maximum=86400)(text) == seconds


@pytest.mark.parametrize("text", ["lots", "1K", "-5M", "nan", "infM", ""])
def test_bad_sizes(text: str) -> None:
    with pytest.raises(UsageError, match=f"'{text}' is not a size of at least 64K for --max-size"):
        Size("--max-size", minimum=64 << 10)(text)


@pytest.mark.parametrize("text", ["soon", "-5m", "0", "nan", "infd", "2d"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(UsageError, match=f"'{text}' is not a duration for --since"):
        Duration("--since", maximum=86400)(text)


def test_folder_names_are_readable_and_unique() -> None:
    taken: set[str] = set()
    odd = Container(id="ab" * 32, name="/we ird/name", runtime="docker")
    assert folder_name(odd, taken) == "docker-we_ird_name-abababababab"
    assert folder_name(odd, taken) == "docker-we_ird_name-abababababab-2"


def test_first_signal_sets_the_flag_second_aborts(tmp_path: Path) -> None:
    import signal

    w = writer(tmp_path)
    before = signal.getsignal(signal.SIGTERM)
    restore = w._install_signals()
    try:
        signal.raise_signal(signal.SIGTERM)
        assert w.stop.is_set() and w.interrupted == "SIGTERM"
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGTERM)
    finally:
        restore()
    assert signal.getsignal(signal.SIGTERM) == before


def test_a_redactor_failure_costs_that_collectors_files_never_the_bundle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = writer(tmp_path)

    def broken(rel: str, data: bytes) -> bytes:
        raise IndexError("a redactor bug")

    monkeypatch.setattr(w.step, "first", broken)
    ok = w.run_collector("host/x", lambda ctx: {"host/x.txt": b"password=NotKept123\n"})
    assert ok is False
    result = next(r for r in w.cap.results if r.name == "host/x")
    assert result.status == mf.ERROR
    assert "redaction failed (IndexError: a redactor bug)" in result.error
    assert "host/x.txt" not in w.cap.files  # never kept unredacted
