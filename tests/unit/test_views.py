"""The one vocabulary (debugtool/views/__init__.py): every view's headers, and how values read."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import debugtool.views
from debugtool.model import Container
from debugtool.output import duration_text, human_age, utc_text
from debugtool.snapshot import CgroupStats, SecurityContext
from debugtool.views import Column
from debugtool.views import cgroup as cgroup_view
from debugtool.views import containers as container_view
from debugtool.views import processes as process_view
from debugtool.views import security as security_view

#: Headers that another front end once used for something that has one name now.
RETIRED = {"S", "MEM", "CPU %", "CPU%", "K8S NS", "NAMESPACE", "CPID", "START", "PIDS", "TID"}


def _columns() -> list[tuple[str, str, Column]]:
    found = []
    for info in pkgutil.iter_modules(debugtool.views.__path__):
        module = importlib.import_module(f"debugtool.views.{info.name}")
        for name, value in vars(module).items():
            items = value if isinstance(value, (list, tuple)) else [value]
            for item in items:
                if isinstance(item, Column):
                    found.append((info.name, name, item))
    return found


COLUMNS = _columns()


def test_the_walk_finds_every_view():
    modules = {module for module, _, _ in COLUMNS}
    assert modules >= {
        "containers",
        "processes",
        "mounts",
        "interfaces",
        "routes",
        "sockets",
        "ports",
        "sessions",
        "procdetail",
    }
    assert len(COLUMNS) > 60


@pytest.mark.parametrize(
    "where,column", [(f"{m}.{n}", c) for m, n, c in COLUMNS], ids=lambda v: str(v)[:40]
)
def test_headers_are_the_vocabulary(where, column):
    header = column.header
    assert header == header.upper(), f"{where}: lower-case header {header!r}"
    assert header == header.strip() and "  " not in header, where
    assert header not in RETIRED, f"{where}: {header!r} is not the agreed name"
    if column.justify == "right":
        assert column.key not in ("name", "command", "image")


def test_one_thing_has_one_header():
    by_key: dict[str, set[str]] = {}
    for _, _, column in COLUMNS:
        by_key.setdefault(column.key, set()).add(column.header)
    # Keys that name different things in different views (a thread's NAME and a container's).
    assert by_key["state"] == {"STATE"}
    assert by_key["cpu"] == {"%CPU"}
    assert by_key["rss"] == {"RSS"}
    assert by_key["pid"] == {"PID"}
    assert by_key["host_pid"] == {"HOST PID"}
    assert by_key["pod_namespace"] == {"POD NAMESPACE"}
    assert by_key["protocol"] == {"PROTO"}
    assert by_key["interface"] == {"INTERFACE"}  # a route's
    from debugtool.views import interfaces

    assert interfaces.NAME.header == "INTERFACE"  # an interface's own name


def test_pid_means_the_containers_pid_and_host_pid_the_hosts():
    from debugtool.snapshot import Process

    row = process_view.ProcessRow(Process(pid=18842, nspid=1, ppid=18800, nsppid=0))
    assert process_view.PID.text(row) == "1"
    assert process_view.HOST_PID.text(row) == "18842"
    # The containers list shows an init's host PID: it is called so.
    assert container_view.HOST_PID.header == "HOST PID"
    assert "PID" not in [c.header for c in container_view.COLUMNS]


def test_ids_are_twelve_characters():
    c = Container(id="e5e1972f68ab" + "b218c737d4b5" * 4 + "ab", name="web", runtime="docker")
    row = container_view.ContainerRow(c)
    assert container_view.ID.text(row) == "e5e1972f68ab"
    assert container_view.ID.width == 12


def test_capabilities_and_id_maps_one_way():
    assert security_view.capabilities(["CAP_CHOWN", "CAP_KILL"]) == "CAP_CHOWN CAP_KILL (2)"
    assert security_view.id_map([(0, 100000, 65536)]) == "0:100000:65536"
    lines = dict(security_view.lines(SecurityContext(uid_map=[(0, 0, 4294967295)])))
    assert lines["UID map"] == "0:0:4294967295"


def test_times_two_ways_and_durations_one():
    now = 1795000000.0  # 2026-11-18 11:06:40 UTC
    assert utc_text(now) == "2026-11-18 11:06:40 UTC"
    assert human_age(now - 1, now) == "1 second ago"
    assert human_age(now - 180, now) == "3 minutes ago"
    assert human_age(now, now) == "just now"
    assert process_view.START.header == "STARTED"
    assert process_view.START.format(now - 7200) != ""  # an age, counted from now
    assert [duration_text(s) for s in (None, 0.25, 12.5, 245, 3 * 3600 + 7 * 60, 2 * 86400 + 4 * 3600)] == [
        "-", "0.25s", "12.50s", "4m 05s", "3h 07m", "2d 04h",
    ]  # fmt: skip


def test_audit_time_is_utc_whatever_the_log_wrote():
    from debugtool.audit import Record
    from debugtool.views import sessions

    logged = Record.from_dict({"time": "2026-11-18T09:20:00+0100", "user": "root", "argv": []})
    assert sessions.TIME.text(logged) == "2026-11-18 08:20:00 UTC"
    assert sessions.TIME.text(Record.from_dict({"time": "garbled", "argv": []})) == "garbled"


def test_host_cgroup_has_no_usage_in_any_view():
    shared = CgroupStats(version="hybrid", shared_with_host=True, memory_limit=1 << 30)
    lines = cgroup_view.usage(shared, rate=150.0)
    assert set(lines) >= {"memory", "cpu", "pids", "io"}
    assert all(text.startswith(cgroup_view.HOST_CGROUP) for text in lines.values())
    assert "%" not in " ".join(lines.values())
    first = CgroupStats(sampled_at=1.0, cpu_usage_ns=0)
    assert cgroup_view.cpu_rate(first, shared) is None
    c = Container(id="pid-5151", name="unshare", runtime="none", status="running", pid=5151)
    row = container_view.ContainerRow(c, cpu_percent=150.0, memory_usage=1 << 29, host_cgroup=True)
    assert container_view.CPU.text(row) == "-"
    assert container_view.MEMORY.text(row) == "host cgroup"
    assert container_view.MEMORY.value(row)[0] is None  # sorts as no usage
