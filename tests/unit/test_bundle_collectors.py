"""Bundle collectors that read host files: log files, tails, Docker's state files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from debugtool.bundle import collectors as col
from debugtool.model import Container

FIXTURES = Path(__file__).parent.parent / "fixtures" / "bundle"


def test_docker_json_log_file() -> None:
    text = col.read_log_file(str(FIXTURES / "docker-json.log"), None, None).decode()
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
    assert col.read_log_file(path, 2, None).decode().splitlines() == [
        "not json at all",
        "2026-11-26T15:22:00.123456789+02:00 stdout last line without newline",
    ]
    since = col._log_time("2026-11-26T15:20:30Z")
    kept = col.read_log_file(path, None, since).decode().splitlines()
    # 15:22+02:00 is 13:22 UTC, before the cut; an unparsable line is kept.
    assert kept == [
        "2026-11-26T15:21:00.000000001Z stderr warning: slow request",
        "not json at all",
    ]


def test_podman_k8s_file_log() -> None:
    text = col.read_log_file(str(FIXTURES / "podman-k8s-file.log"), None, None).decode()
    lines = text.splitlines()
    assert lines[0] == "2026-11-26T15:19:34.174751151+00:00 stdout hello from podman"
    assert lines[1] == "2026-11-26T15:19:34.174807598+00:00 stderr second line"
    assert lines[2].endswith("stdout partial line ")


def test_tail_lines_reads_from_the_end(tmp_path: Path) -> None:
    big = tmp_path / "big.log"
    big.write_bytes(b"".join(b"line %d\n" % i for i in range(100_000)))
    assert col.tail_lines(str(big), 3, chunk=1024) == b"line 99997\nline 99998\nline 99999\n"


def test_docker_state_gives_back_name_image_labels(tmp_path: Path) -> None:
    cid = "40b491c15ab5d19f2414f26c12587ae7769dca20461eb6f47a9ea85954d4294a"
    (tmp_path / cid).mkdir()
    log = tmp_path / cid / f"{cid}-json.log"
    shutil.copy(FIXTURES / "docker-json.log", log)
    (tmp_path / cid / "config.v2.json").write_text(
        json.dumps(
            {
                "ID": cid,
                "Name": "/web",
                "LogPath": str(log),
                "Config": {"Image": "busybox:latest", "Labels": {"team": "ops"}},
            }
        )
    )
    seen_by_containerd = Container(id=cid, name=cid, runtime="containerd", namespace="moby")
    owned = Container(id=cid, name="web", runtime="docker", backends=["docker"])
    assert col.adopt_docker_state([seen_by_containerd, owned], root=str(tmp_path)) == 1
    assert seen_by_containerd.name == "web"
    assert seen_by_containerd.image == "busybox:latest"
    assert seen_by_containerd.labels == {"team": "ops"}
    assert col.log_file(seen_by_containerd) == str(log)
    assert col.docker_state("../etc", root=str(tmp_path)) is None
