"""The one vocabulary on real containers: what PID means in the CLI's tables and JSON, and a bare
sandbox whose cgroup is the host's shown with no usage (debugtool/views/__init__.py)."""

from __future__ import annotations

import json
import re
import subprocess
import time

import pytest

from debugtool.source import LiveSource


def _json(cli, *args: str):
    proc = cli(*args)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _rows(text: str, header: str) -> tuple[list[str], list[list[str]]]:
    """Return the header line's column names and each row's cells (split on 3+ spaces, as
    output.table separates columns)."""
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith(header))
    split = [re.split(r"\s{3,}", line.strip()) for line in lines[at:] if line.strip()]
    return split[0], split[1:]


@pytest.fixture(scope="module")
def web(module_containers):
    """A Docker container: sleep as init, a listening nc beside it."""
    c = module_containers.docker(cmd=("sh", "-c", "nc -l -p 8080 & exec sleep 100000"))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        out = subprocess.run(["docker", "top", c.id], capture_output=True, text=True).stdout
        if "nc -l" in out:
            break
        time.sleep(0.1)
    return c


def test_top_pid_is_the_containers_host_pid_the_hosts(web, cli):
    procs = _json(cli, "top", web.name, "--json")
    init = next(p for p in procs if p["pid"] == web.pid)
    assert init["nspid"] == 1  # JSON: pid is the host's, nspid the container's (field names kept)

    headers, rows = _rows(cli("top", web.name).stdout, "PID")
    assert headers[:2] == ["PID", "HOST PID"]
    by_pid = {row[0]: row for row in rows}
    assert by_pid["1"][1] == str(web.pid)

    # The PID column is what ps inside the container shows; docker top shows host PIDs.
    inside = subprocess.run(
        ["docker", "exec", web.id, "ps", "-o", "pid,comm"], capture_output=True, text=True
    ).stdout.split()
    ps_pids = {w for w in inside if w.isdigit()}
    ours = {row[0] for row in rows}
    assert "1" in ours and ours <= ps_pids
    host_side = subprocess.run(
        ["docker", "top", web.id, "-o", "pid"], capture_output=True, text=True
    ).stdout.split()
    assert str(web.pid) in host_side and "1" not in host_side


def test_net_and_ps_name_pids_the_same_way(web, cli):
    headers, rows = _rows(cli("net", web.name, "--sockets").stdout, "PROTO")
    assert headers == [h.upper() for h in headers]  # upper case, as every table
    pid_at, host_at = headers.index("PID"), headers.index("HOST PID")
    listener = next(r for r in rows if ":8080" in " ".join(r) and "LISTEN" in r)
    nc = next(p for p in _json(cli, "top", web.name, "--json") if p["name"] == "nc")
    assert listener[pid_at] == str(nc["nspid"]) and listener[host_at] == str(nc["pid"])
    sock = next(
        s for s in _json(cli, "net", web.name, "--json")["sockets"] if s["local_port"] == 8080
    )
    assert sock["nspids"] == [nc["nspid"]] and sock["pids"] == [nc["pid"]]

    headers, rows = _rows(cli("ps").stdout, "ID")
    assert "HOST PID" in headers and "PID" not in headers
    row = next(r for r in rows if r[0] == web.id[:12])
    assert row[headers.index("HOST PID")] == str(web.pid)


def test_bare_sandbox_in_a_host_cgroup_shows_no_usage(containers, web, cli):
    sandbox = containers.sandbox()
    with open(f"/proc/{sandbox.pid}/cgroup") as f:
        paths = [line.split(":", 2)[2].strip() for line in f]
    assert "/" in paths  # in the host's root group in some hierarchy, as unshare leaves it

    record = _json(cli, "inspect", f"pid:{sandbox.pid}", "--json")
    stats = record["cgroup_stats"]
    assert stats["shared_with_host"] is True
    assert stats["memory_usage"] is None and stats["cpu_usage_ns"] is None
    assert stats["pids_current"] is None

    text = cli("inspect", f"pid:{sandbox.pid}").stdout
    resources = text[text.index("Resources (") : text.index("Security:")]
    assert "host cgroup" in resources
    assert "MiB" not in resources and "of one core" not in resources and " used" not in resources

    # The list's sample (the TUI's containers screen) has no usage either; a Docker container,
    # in a group of its own, has its own.
    with LiveSource() as source:
        listed = {c.pid: c for c in source.containers().containers if c.running}
        shared = source.cgroup(listed[sandbox.pid])
        again = source.cgroup(listed[sandbox.pid])
        own = source.cgroup(listed[web.pid])
    assert shared is not None and shared.shared_with_host and shared.memory_usage is None
    assert again is not None and again.shared_with_host and again.cpu_usage_ns is None
    assert own is not None and not own.shared_with_host
    assert own.memory_usage and own.cpu_usage_ns is not None

    docker = _json(cli, "inspect", web.name, "--json")["cgroup_stats"]
    assert docker["shared_with_host"] is False and docker["memory_usage"] > 0
