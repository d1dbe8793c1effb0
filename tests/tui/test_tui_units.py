"""Small parts of the TUI without a screen: CPU % from samples, command lines, paths, audit."""

from __future__ import annotations

import sys

from debugtool_tui import commands
from debugtool_tui.commands import Finished
from debugtool_tui.usage import UsageHistory
from debugtool_tui.widgets.live_table import sort_value
from tui_fixtures import NOW, WEB_ID, recorded

from debugtool.audit import Record
from debugtool.model import Container
from debugtool.output import utc_text
from debugtool.snapshot import CgroupStats
from debugtool.views import cpu_text
from debugtool.views.cgroup import against
from debugtool.views.containers import memory_text, runtime_text


def test_cpu_percent_from_two_samples():
    history = UsageHistory()
    first = CgroupStats(sampled_at=100.0, cpu_usage_ns=1_000_000_000, memory_usage=10)
    series = history.add("c", first)
    assert series.cpu_now is None  # one sample says nothing about a rate
    series = history.add("c", CgroupStats(sampled_at=102.0, cpu_usage_ns=1_500_000_000))
    assert series.cpu_now == 25.0  # 0.5 s of CPU over 2 s
    assert list(series.cpu_percent) == [25.0]
    # the same sample seen again (list and detail share it) changes nothing
    assert history.add("c", CgroupStats(sampled_at=102.0, cpu_usage_ns=9)).cpu_now == 25.0
    # a counter that went backwards (a restarted container) is not a negative rate
    assert history.add("c", CgroupStats(sampled_at=103.0, cpu_usage_ns=0)).cpu_now == 0.0
    history.forget({"other"})
    assert history.get("c") is None


def test_io_rate_and_history_length():
    history = UsageHistory()
    for n in range(200):
        history.add("c", CgroupStats(sampled_at=float(n), io_read_bytes=n * 100, io_write_bytes=0))
    series = history.get("c")
    assert series is not None and len(series.io_bytes_per_s) == 120  # two minutes kept
    assert series.io_bytes_per_s[-1] == 100.0


def test_command_lines_go_through_the_debugtool_cli():
    c = Container(id="abc123" * 8, name="web", runtime="docker", status="running", pid=4)
    assert commands.shell_argv(c) == [sys.executable, "-m", "debugtool", "shell", c.id]
    assert commands.trace_argv(c, None) == [sys.executable, "-m", "debugtool", "trace", c.id]
    assert commands.trace_argv(c, 7)[-2:] == ["--pid", "7"]
    assert commands.bundle_argv(c, "/tmp/x.tar.gz")[3:] == [
        "bundle",
        c.id,
        "-o",
        "/tmp/x.tar.gz",
        "--json",
    ]


def test_no_actions_on_a_bundle():
    assert commands.available_actions(read_only=True) == frozenset()


def test_default_path_is_safe_and_dated(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = commands.default_path("processes", "web/../x y", NOW, ".txt")
    assert path == f"{tmp_path}/debugtool-processes-web_.._x_y-20261118-110640.txt"


def test_bundle_path_comes_from_the_json_summary():
    done = Finished(0, '{"path": "/var/tmp/b.tar.gz", "size": 3}', "")
    assert commands.bundle_result_path(done, "/asked.tar.gz") == "/var/tmp/b.tar.gz"
    assert commands.bundle_result_path(Finished(0, "not json", ""), "/asked") == "/asked"


def test_audit_entries_match_by_target_id_or_name():
    c = recorded().container
    assert Record("exec", target_id=WEB_ID).about(c)
    assert Record("exec", target_name=c.name).about(c)
    assert Record("exec", target_id=WEB_ID[:12]).about(c)
    assert not Record("exec", target_id="ffff").about(c)
    assert not Record("exec", argv=["x"]).about(c)


def test_formats():
    assert cpu_text(None) == "-" and cpu_text(12.345) == "12.3"
    assert memory_text((1024 * 1024, None, False)) == "1.0MiB"
    assert memory_text((512 * 1024, 64 * 1024 * 1024, False)) == "512.0KiB / 64.0MiB"
    assert memory_text((None, None, True)) == "host cgroup"
    assert memory_text(None) == "-"
    assert against(8, 100) == "8 of 100 (8%)"
    assert against(8, None) == "8 (no limit)"
    assert utc_text(NOW) == "2026-11-18 11:06:40 UTC" and utc_text(None) == "-"
    c = Container(id="x", name="n", runtime="containerd", namespace="k8s.io")
    assert runtime_text(c) == "containerd/k8s.io"


def test_sort_values_put_unknowns_last_and_never_mix_types():
    values = [3, None, "b", 1.5, "", ("x", 1), (2, None)]
    ordered = sorted(values, key=sort_value)
    assert ordered[:3] == [1.5, (2, None), 3]
    assert ordered[-2:] == [None, ""]
