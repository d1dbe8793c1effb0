"""Process detail: fdinfo and fd links parsed, the environment masked, the host line written."""

from __future__ import annotations

from pathlib import Path

from debugtool.collect import procdetail
from debugtool.collect.hostload import HostLoad, from_section
from debugtool.snapshot import Limit, ProcessDetail
from debugtool.views import host as host_view
from debugtool.views import procdetail as view

FDINFO = Path(__file__).resolve().parent.parent / "fixtures" / "proc" / "fdinfo"


def test_fdinfo_gives_position_and_octal_flags() -> None:
    assert procdetail.parse_fdinfo((FDINFO / "devnull-rw").read_text()) == (0, 0o100002)
    # O_WRONLY | O_APPEND | O_CLOEXEC | O_LARGEFILE, after writing five bytes
    assert procdetail.parse_fdinfo((FDINFO / "append-deleted").read_text()) == (5, 0o2102001)
    assert procdetail.parse_fdinfo("pos:\tx\nflags:\t9\n") == (None, 0)


def test_fd_links_become_open_files() -> None:
    info = (FDINFO / "append-deleted").read_text()
    deleted = procdetail.open_file(3, "/tmp/dt-fdinfo-probe (deleted)", info)
    assert (deleted.kind, deleted.target, deleted.deleted, deleted.mode) == (
        "file",
        "/tmp/dt-fdinfo-probe",
        True,
        "w",
    )
    assert deleted.position == 5
    assert procdetail.open_file(4, "socket:[4599467]").kind == "socket"
    assert procdetail.open_file(5, "pipe:[12]").kind == "pipe"
    assert procdetail.open_file(6, "anon_inode:[eventfd]").kind == "anon"
    assert procdetail.open_file(7, "/dev/null", (FDINFO / "devnull-rw").read_text()).mode == "rw"
    assert view.FILE_COLUMNS[-1].text(deleted) == "/tmp/dt-fdinfo-probe (deleted)"


def test_environment_is_masked_by_the_consoles_rule() -> None:
    env = [("PATH", "/bin"), ("DB_PASSWORD", "hunter2"), ("API_TOKEN", "t0k")]
    pairs, masked = procdetail.mask_environment(env)
    assert dict(pairs) == {"PATH": "/bin", "DB_PASSWORD": "<redacted>", "API_TOKEN": "<redacted>"}
    assert masked == 2
    assert procdetail.mask_environment(env, show_secrets=True) == (env, 0)


def test_limits_and_summary_text() -> None:
    assert view.limit_text(None) == "unlimited"
    assert view.limit_text(8 << 20, "stack") == "8.0MiB"
    assert view.limit_text(1024, "nofile") == "1,024"
    detail = ProcessDetail(
        pid=4242, nspid=7, cmdline=["nc", "-l"], rss=2 << 20, uss=1 << 20, pss=3 << 19, swap=0
    )
    detail.limits = [Limit("nofile", 1024, 4096)]
    lines = dict(view.summary(detail))
    assert lines["PID"] == "7" and lines["Host PID"] == "4242"
    assert lines["Memory"].startswith("RSS 2.0MiB, USS 1.0MiB, PSS 1.5MiB, swap 0B")
    assert [c.text(detail.limits[0]) for c in view.LIMIT_COLUMNS] == ["nofile", "1,024", "4,096"]


def test_host_line() -> None:
    load = HostLoad(
        load=(0.52, 0.4, 0.33),
        cpu_percent=12.4,
        cpus=2,
        memory_used=3 << 30,
        memory_total=24 << 30,
        swap_used=0,
        swap_total=0,
        uptime=3 * 86400 + 4 * 3600 + 59,
    )
    assert host_view.line(load) == (
        "load 0.52 0.40 0.33 · CPU 12% of 2 · mem 3.0GiB/24.0GiB · swap 0B/0B · up 3d 04h"
    )
    assert host_view.line(HostLoad(uptime=125 * 60)) == "up 2h 05m"
    assert host_view.line(HostLoad()) == ""


def test_host_section_of_a_bundle() -> None:
    section = {
        "load": [1.0, 0.5, 0.25],
        "cpu": {"percent": 50.0, "count": 2},
        "memory": {"total": 1000, "available": 250, "used": 1},
        "swap": {"total": 10, "used": 5},
        "boot_time": 1000.0,
    }
    assert from_section(section, captured_at=4600.0) == HostLoad(
        load=(1.0, 0.5, 0.25),
        cpu_percent=50.0,
        cpus=2,
        memory_used=750,
        memory_total=1000,
        swap_used=5,
        swap_total=10,
        uptime=3600.0,
    )
    assert from_section({"load": ["x", 1, 2], "memory": "lots"}) is None
    assert from_section(None) is None
