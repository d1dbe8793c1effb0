"""Bundles bounded by time and size (issue 19): ``--since`` on the kernel log and the journals,
per-source caps that keep the newest data and record what they cut, and the manifest fields
that carry the cuts and the redaction cost."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from debugtool import procfs
from debugtool.bundle import collectors, hostdata
from debugtool.bundle import manifest as mf
from debugtool.bundle.collectors import CollectorRun
from debugtool.bundle.redact import MASK
from debugtool.bundle.redaction import Step, load_rules, new_redactor
from debugtool.errors import DebugtoolError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "bundle"


def stub(directory: Path, name: str, script: str) -> None:
    path = directory / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)


def kmsg_record(seq: int, usec: int, text: str) -> str:
    return f"6,{seq},{usec},-;{text}\n"


def test_keep_newest_keeps_whole_newest_lines() -> None:
    data = b"".join(b"line %04d\n" % i for i in range(100))
    kept, dropped = collectors.keep_newest(data, 55)
    assert kept.endswith(b"line 0099\n") and kept.startswith(b"line ")
    assert len(kept) <= 55 and dropped == len(data) - len(kept)
    assert collectors.keep_newest(data, len(data)) == (data, 0)


def test_kernel_log_since_turns_boot_times_into_wall_time(tmp_path: Path) -> None:
    boot = procfs.boot_time()
    now = time.time()
    old = int((now - boot - 600) * 1e6)  # ten minutes ago
    new = int((now - boot - 5) * 1e6)
    kmsg = tmp_path / "kmsg"
    kmsg.write_text(
        kmsg_record(1, old, "old record")
        + kmsg_record(2, new, "new record")
        + kmsg_record(3, new + 1, "Killed process 42 (x) total-vm:1kB, anon-rss:1kB")
    )
    ctx = CollectorRun()
    files = hostdata.host_kernel_log(ctx, str(kmsg), since=now - 60)
    text = files["host/kernel-log.txt"].decode()
    assert "new record" in text and "old record" not in text
    assert "1 older record(s) left out" in text
    assert b'"pid": 42' in files["host/oom-kills.json"]
    assert ctx.cuts == []
    every = hostdata.host_kernel_log(CollectorRun(), str(kmsg))["host/kernel-log.txt"].decode()
    assert "old record" in every and "(--since)" not in every


def test_kernel_log_cap_keeps_the_newest_records_and_records_the_cut(tmp_path: Path) -> None:
    kmsg = tmp_path / "kmsg"
    kmsg.write_text("".join(kmsg_record(i, i * 1000, f"record {i:05d}") for i in range(2000)))
    ctx = CollectorRun()
    files = hostdata.host_kernel_log(ctx, str(kmsg), limit=4096)
    lines = files["host/kernel-log.txt"].decode().splitlines()
    assert lines[-1].endswith("record 01999") and not any("record 00000" in x for x in lines)
    [cut] = ctx.cuts
    assert cut["source"] == "host/kernel-log.txt" and cut["kept"] <= 4096 < cut["dropped"]
    assert "kept the newest" in ctx.truncated


def test_journals_since_and_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    journal = tmp_path / "journal" / "6c1c2bd4a3b44a5f"
    journal.mkdir(parents=True)
    (journal / "system.journal").write_bytes(b"LPKSHHRH")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    stub(
        bin_dir,
        "journalctl",
        f'echo "$@" >> {calls}\n'
        f'if [ "$2" = docker.service ]; then cat {FIXTURES / "journal-docker.txt"}; '
        f"else cat {FIXTURES / 'journal-none.txt'}; fi\n",
    )
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    ctx = CollectorRun()
    files = hostdata.host_journals(
        ctx, 2000, 5.0, dirs=(str(tmp_path / "journal"),), since=1796540000.7, limit=300
    )
    assert "-u docker.service -n 2000 --no-pager -o short-iso --since @1796540000" in (
        calls.read_text()
    )
    whole = (FIXTURES / "journal-docker.txt").read_bytes()
    kept = files["host/journal/docker.service.log"]
    assert whole.endswith(kept) and len(kept) <= 300 and kept.startswith(b"2026-")
    [cut] = ctx.cuts
    assert cut == {
        "source": "host/journal/docker.service.log",
        "kept": len(kept),
        "dropped": len(whole) - len(kept),
        "limit": 300,
    }


def test_read_log_file_says_how_much_it_left_unread(tmp_path: Path) -> None:
    log = tmp_path / "c-json.log"
    line = '{"log":"request %05d served\\n","stream":"stdout","time":"2026-12-06T10:00:00Z"}\n'
    log.write_text("".join(line % i for i in range(5000)))
    data, unread = collectors.read_log_file(str(log), None, None, limit=2000, detail=True)
    assert data.rstrip().endswith(b"request 04999 served")
    size = log.stat().st_size
    assert 0 < unread < size
    # What is unread is the file before the oldest line read, which is whole.
    oldest = data.split(b"\n")[0].split(b" ", 2)[2]
    assert log.read_bytes()[unread:].startswith(b'{"log":"' + oldest)
    assert collectors.read_log_file(str(log), None, None, detail=True)[1] == 0


def test_manifest_schema_checks_cuts_and_cost() -> None:
    document = mf.build(
        root="debugtool-bundle-x-20261206T000000Z",
        created_at=1.0,
        host="x",
        complete=True,
        interrupted="",
        command_line=[],
        redacted=True,
        budget=60,
        collector_timeout=10,
        duration=1,
        containers=[],
        collectors=[],
        dropped=[],
        members={},
        cuts=[{"source": "host/kernel-log.txt", "kept": 10, "dropped": 5, "limit": 10}],
        redaction={"seconds": 0.5, "bytes": 100, "share": 0.1},
    )
    assert mf.schema_problems(document) == []
    document["cuts"] = [{"source": "x", "kept": "ten", "dropped": 1}]
    document["redaction"] = {"seconds": "fast", "bytes": 1}
    problems = mf.schema_problems(document)
    assert "field 'cuts[0].kept' is a string, not an integer" in problems
    assert "field 'redaction.seconds' is a string, not a number" in problems


def test_a_rules_file_masks_its_values_and_counts_its_cost(tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text('literals = ["opaque-Zx9Kq2"]\npatterns = ["ticket-[0-9]{6}"]\n')
    loaded = load_rules(str(rules))
    step = Step(new_redactor(loaded))
    out = step.first("logs.txt", b"seal opaque-Zx9Kq2 for ticket-123456 ok\n")
    assert out == f"seal {MASK} for {MASK} ok\n".encode()
    # Remembered for the second pass, as the redactor's own finds are.
    assert step.second("other.txt", b"again opaque-Zx9Kq2") == f"again {MASK}".encode()
    assert step.bytes == len(b"seal opaque-Zx9Kq2 for ticket-123456 ok\n")
    assert step.cost(10.0)["bytes"] == step.bytes
    bad = tmp_path / "bad.toml"
    bad.write_text('patterns = ["("]\n')
    with pytest.raises(DebugtoolError):
        load_rules(str(bad))
    with pytest.raises(DebugtoolError):
        load_rules(str(tmp_path / "missing.toml"))
