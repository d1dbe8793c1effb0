"""Bundle collectors that read host files: log files, tails, Docker's state files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from debugtool.bundle import collectors
from debugtool.runtimes import docker

FIXTURES = Path(__file__).parent.parent / "fixtures" / "bundle"


def test_docker_json_log_file() -> None:
    text = collectors.read_log_file(str(FIXTURES / "docker-json.log"), None, None).decode()
    assert text.splitlines() == [
        "2026-11-26T15:17:48.007323013Z stdout starting with password=LogPw12345 token "
        "ghp_abcdefghijklmnopqrstuvwxyz012345",
        "2026-11-26T15:20:00.5Z stdout listening on 0.0.0.0:8080",
        "2026-11-26T15:21:00.000000001Z stderr warning: slow request",
        "not json at all",
        "2026-11-26T15:22:00.123456789+02:00 stdout last line without newline",
    ]


def test_log_tail_and_since() -> None:
    path = str(FIXTURES / "docker-json.log")
    assert collectors.read_log_file(path, 2, None).decode().splitlines() == [
        "not json at all",
        "2026-11-26T15:22:00.123456789+02:00 stdout last line without newline",
    ]
    since = collectors._log_time("2026-11-26T15:20:30Z")
    kept = collectors.read_log_file(path, None, since).decode().splitlines()
    # 15:22+02:00 is 13:22 UTC, before the cut; an unparsable line is kept.
    assert kept == [
        "2026-11-26T15:21:00.000000001Z stderr warning: slow request",
        "not json at all",
    ]


def test_podman_k8s_file_log() -> None:
    text = collectors.read_log_file(str(FIXTURES / "podman-k8s-file.log"), None, None).decode()
    lines = text.splitlines()
    assert lines[0] == "2026-11-26T15:19:34.174751151+00:00 stdout hello from podman"
    assert lines[1] == "2026-11-26T15:19:34.174807598+00:00 stderr second line"
    assert lines[2].endswith("stdout partial line ")


def test_tail_lines_reads_from_the_end(tmp_path: Path) -> None:
    big = tmp_path / "big.log"
    big.write_bytes(b"".join(b"line %d\n" % i for i in range(100_000)))
    assert collectors.tail_lines(str(big), 3, chunk=1024) == b"line 99997\nline 99998\nline 99999\n"


def test_log_file_of_a_container_read_from_dockers_state_files(tmp_path: Path) -> None:
    cid = "40b491c15ab5d19f2414f26c12587ae7769dca20461eb6f47a9ea85954d4294a"
    (tmp_path / "containers" / cid).mkdir(parents=True)
    log = tmp_path / "containers" / cid / f"{cid}-json.log"
    shutil.copy(FIXTURES / "docker-json.log", log)
    record = {"ID": cid, "Name": "/web", "LogPath": str(log), "Config": {"Image": "busybox"}}
    (tmp_path / "containers" / cid / "config.v2.json").write_text(json.dumps(record))
    (web,) = docker.containers_on_disk(str(tmp_path), all=True) or []
    assert web.name == "web" and collectors.log_file(web) == str(log)
