"""debugtool -H over real sshd nodes in network namespaces made by the test (tests/fleet.py).

n1-n3 are ordinary nodes, n4's forced command hangs, n5 has no python3 on its PATH. Every
connection goes to 203.0.113.0/24 addresses inside the test's own namespaces, with host keys
checked against a known_hosts written by the test.
"""

from __future__ import annotations

import functools
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent))

import fleet as fleet_nodes  # noqa: E402
import harness  # noqa: E402

from debugtool.fleet import transport, zipapp  # noqa: E402
from debugtool.fleet.nodes import Node  # noqa: E402

pytestmark = [
    pytest.mark.skipif(not os.path.exists(fleet_nodes.SSHD), reason="needs openssh-server"),
]

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture(scope="module")
def fleet():
    with fleet_nodes.Fleet(5, kinds={"n4": "hang", "n5": "nopython"}) as made:
        yield made


@pytest.fixture(scope="module")
def box(module_containers):
    """One Docker container that every node sees (the nodes share this host's runtimes)."""
    return module_containers.docker(cmd=("/bin/sh", "-c", "echo hello-fleet; exec sleep 100000"))


def dt(fleet, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return harness.run_cli(*args, env=fleet.env(), timeout=timeout)


def rows(stdout: str) -> list[list[str]]:
    return [line.split() for line in stdout.splitlines()[1:]]


def test_every_node_lists_each_container_once_with_its_node(fleet, box):
    done = dt(fleet, "ps", "-H", "n1,n2,n3")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].split()[:3] == ["NODE", "ID", "NAME"]
    mine = [row[0] for row in rows(done.stdout) if box.name in row]
    assert mine == ["n1", "n2", "n3"]
    assert done.stderr == ""
    listed = json.loads(dt(fleet, "-H", "n1,n2,n3", "ps", "--json").stdout)
    assert sorted(c["node"] for c in listed if c["name"] == box.name) == ["n1", "n2", "n3"]


def test_a_stopped_sshd_costs_one_line_and_exit_2(fleet, box):
    fleet.stop("n3")
    try:
        done = dt(fleet, "ps", "-H", "n1,n2,n3")
    finally:
        fleet.start("n3")
    assert done.returncode == 2
    assert [row[0] for row in rows(done.stdout) if box.name in row] == ["n1", "n2"]
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("debugtool: n3: unreachable (")
    assert "Connection refused" in lines[0]


def test_a_hanging_node_costs_its_timeout_and_the_others_answer(fleet, box):
    # The good nodes' caches warm first: the timeout is for the hung node, and this shared
    # 2-core machine may take seconds to send a zipapp and start a python.
    dt(fleet, "ps", "-H", "n1,n2")
    done = dt(fleet, "ps", "-H", "n1,n4,n2", "--node-timeout", "10")
    assert done.returncode == 2
    assert [row[0] for row in rows(done.stdout) if box.name in row] == ["n1", "n2"]
    assert done.stderr.splitlines() == [
        "debugtool: n4: timed out after 10s (--node-timeout); skipped."
    ]
    # its ssh was killed: no client of it is left on this side
    procs = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert not [a for a in procs.splitlines() if a.startswith("ssh ") and " -- n4 " in a]


def test_a_node_without_python3_says_so_in_one_sentence(fleet, box):
    done = dt(fleet, "ps", "-H", "n5,n1")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "debugtool: n5: has no python3 on its PATH; debugtool needs python3 3.11 or newer "
        "on the node (or --remote-debugtool PATH)."
    ]
    only = dt(fleet, "ps", "-H", "n5")
    assert only.returncode == 125 and only.stdout == ""


def test_inspect_node_slash_target(fleet, box):
    done = dt(fleet, "inspect", "-H", "n1", f"n1/{box.name}")
    assert done.returncode == 0, done.stderr
    assert "n1: ID:" in done.stdout and box.id[:12] in done.stdout
    picked = json.loads(dt(fleet, "-H", "n1,n2,n3", "inspect", "--json", f"n2/{box.name}").stdout)
    assert [item["node"] for item in picked] == ["n2"]
    assert picked[0]["container"]["id"] == box.id
    missing = dt(fleet, "inspect", "-H", "n1,n2", "no-such-container-here")
    assert missing.returncode == 125
    assert [line.split(":")[1] for line in missing.stderr.splitlines()] == [" n1", " n2"]


def test_logs_lines_are_marked_with_their_node(fleet, box):
    harness.wait_for(
        lambda: "hello-fleet" in harness.run("docker", "logs", box.id), "the container logged"
    )
    done = dt(fleet, "logs", "-H", "n1,n2", box.name)
    assert done.returncode == 0, done.stderr
    assert sorted(done.stdout.splitlines()) == ["n1  hello-fleet", "n2  hello-fleet"]


def _records(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_exec_on_one_node_is_audited_there_and_here(fleet, box):
    before = {name: len(_records(fleet.node(name).audit)) for name in ("n1", "n2")}
    done = dt(fleet, "exec", "-H", "n1", "-q", box.name, "--", "id", "-u")
    assert (done.returncode, done.stdout) == (0, "0\n"), done.stderr
    local = [
        r
        for r in _records(fleet.local_audit)
        if r["details"].get("remote_argv", [""])[-1:] == ["-u"]
    ]
    assert [r["phase"] for r in local] == ["start", "end"]
    assert local[1]["details"]["node"] == "n1" and local[1]["exit_code"] == 0
    assert local[1]["argv"] == ["id", "-u"] and local[1]["mode"] == "ssh"
    on_node = _records(fleet.node("n1").audit)[before["n1"] :]
    assert [(r["phase"], r["argv"]) for r in on_node] == [
        ("start", ["id", "-u"]),
        ("end", ["id", "-u"]),
    ]
    assert on_node[1]["target_name"].lstrip("/") == box.name and on_node[1]["exit_code"] == 0
    assert len(_records(fleet.node("n2").audit)) == before["n2"]
    failed = dt(fleet, "exec", "-H", "n2", box.name, "--", "sh", "-c", "exit 3")
    assert failed.returncode == 3
    assert _records(fleet.local_audit)[-1]["exit_code"] == 3


def test_exec_runs_on_exactly_one_node(fleet, box):
    done = dt(fleet, "exec", "-H", "n1,n2", box.name, "--", "true")
    assert done.returncode == 125
    assert done.stderr.startswith("debugtool: exec runs on one node, and -H names 2 (n1, n2).")
    down = dt(fleet, "exec", "-H", "n5", box.name, "--", "true")
    assert down.returncode == 125 and "n5: has no python3 on its PATH" in down.stderr


def test_the_zipapp_is_sent_once_then_run_from_the_cache(fleet, monkeypatch):
    node = fleet.node("n3")
    shutil.rmtree(node.cache, ignore_errors=True)
    for key, value in fleet.env().items():
        monkeypatch.setenv(key, value)
    conn = transport.Connection(ssh_config=str(fleet.config))
    target = Node("n3", "n3")
    (first,) = transport.run_many([target], ["--version"], conn)
    app = zipapp.current()
    assert (first.status, first.stdout) == ("ok", b"debugtool 0.1.0\n")
    assert first.sent == len(app.data())
    assert (node.cache / f"{app.sha256}.pyz").read_bytes() == app.data()
    assert os.stat(node.cache).st_mode & 0o777 == 0o700
    (second,) = transport.run_many([target], ["--version"], conn)
    assert (second.status, second.sent, second.stdout) == ("ok", 0, b"debugtool 0.1.0\n")


def test_a_host_key_that_does_not_match_is_refused(fleet, tmp_path):
    wrong = tmp_path / "known_hosts"
    other = fleet.node("n2").host_public.split()
    wrong.write_text(f"{fleet.node('n1').address} {other[0]} {other[1]}\n")
    config = tmp_path / "ssh_config"
    config.write_text(fleet.config.read_text().replace(str(fleet.dir / "known_hosts"), str(wrong)))
    done = harness.run_cli(
        "ps", "-H", "n1", env={**fleet.env(), "DEBUGTOOL_SSH_CONFIG": str(config)}
    )
    assert done.returncode == 125
    assert done.stderr.startswith("debugtool: n1: refused the connection (")
    assert "Host key verification failed" in done.stderr


# --- exec -it through a real terminal (tmux, as tests/tui/test_tui_tmux.py drives it) -----------

SOCKET = f"dt-fleet-test-{os.getpid()}"


tmux = functools.partial(harness.tmux, SOCKET)


def pane_shows(session: str, text: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    shown = ""
    while time.monotonic() < deadline:
        shown = tmux("capture-pane", "-p", "-t", session).stdout
        if text in shown:
            return shown
        time.sleep(0.2)
    raise AssertionError(f"{text!r} did not appear; the pane was:\n{shown}")


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
def test_exec_it_on_a_node_through_tmux(fleet, box):
    session = f"dt-fleet-{uuid.uuid4().hex[:8]}"
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in fleet.env().items())
    command = (
        f"cd {shlex.quote(str(ROOT))} && env {env} {shlex.quote(sys.executable)} -m debugtool "
        f"exec -it -q -H n2 {box.name} -- sh; echo exited-$?; sleep 30"
    )
    assert (
        tmux("new-session", "-d", "-x", "120", "-y", "30", "-s", session, command).returncode == 0
    )
    try:
        tmux("send-keys", "-t", session, "-l", "tty; echo fleet-$((6*7))")
        tmux("send-keys", "-t", session, "Enter")
        shown = pane_shows(session, "fleet-42\n")
        assert "/dev/pts/" in shown  # a terminal inside the container, through ssh -tt
        tmux("send-keys", "-t", session, "-l", "exit 7")
        tmux("send-keys", "-t", session, "Enter")
        pane_shows(session, "exited-7")
    finally:
        tmux("kill-session", "-t", session)
        tmux("kill-server")
    ended = [r for r in _records(fleet.local_audit) if r["phase"] == "end"][-1]
    assert (ended["details"]["node"], ended["tty"], ended["exit_code"]) == ("n2", True, 7)


def test_read_commands_gain_a_node_column(fleet, box):
    for args in (["top"], ["mounts"], ["net"]):
        done = dt(fleet, *args, "-H", "n1,n2", box.name)
        assert done.returncode == 0, (args, done.stderr)
        headers = [line for line in done.stdout.splitlines() if line.startswith("NODE ")]
        assert headers, (args, done.stdout)  # net: one per table, its section titles once
        nodes_seen = {
            line.split()[0] for line in done.stdout.splitlines() if line[:3] in ("n1 ", "n2 ")
        }
        assert nodes_seen == {"n1", "n2"}, (args, done.stdout)
    top = dt(fleet, "top", "-H", "n1,n2", box.name)
    assert [row[0] for row in rows(top.stdout) if "sleep" in " ".join(row)] == ["n1", "n2"]
    snap = json.loads(dt(fleet, "snapshot", "-H", "n1,n3", box.name).stdout)
    assert [(s["node"], s["container"]["id"]) for s in snap] == [("n1", box.id), ("n3", box.id)]


def test_inventory_groups_reach_the_nodes(fleet, box, tmp_path):
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(
        "[web]\nalpha ansible_host=n1\nbeta ansible_host=n2 ansible_user=root ansible_port=22\n"
        "[broken]\ngamma ansible_host=n5\n[all_nodes:children]\nweb\nbroken\n"
    )
    done = dt(fleet, "--inventory", str(inventory), "ps", "-H", "@web")
    assert done.returncode == 0, done.stderr
    assert [row[0] for row in rows(done.stdout) if box.name in row] == ["alpha", "beta"]
    every = dt(fleet, "ps", "--inventory", str(inventory), "-H", "@all_nodes", "--forks", "1")
    assert every.returncode == 2
    assert [row[0] for row in rows(every.stdout) if box.name in row] == ["alpha", "beta"]
    assert every.stderr.startswith("debugtool: gamma: has no python3")


def test_what_a_node_without_psutil_leaves_out(fleet, box):
    done = dt(fleet, "top", "-H", "n1", box.name, "--pid", "1")
    assert done.returncode == 125
    assert done.stderr == (
        "debugtool: n1: a process in depth (top --pid) needs psutil, which this host's python "
        "lacks. Install it (python3-psutil); the process list ('top TARGET') works without it.\n"
    )


def test_console_commands_on_a_node(fleet, box):
    done = harness.run_cli(
        "console", "-H", "n2", box.name, "-c", "cat /etc/hostname", env=fleet.env(), input=""
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == box.id[:12]
    ended = [r for r in _records(fleet.local_audit) if r["phase"] == "end"][-1]
    assert (ended["action"], ended["details"]["node"], ended["exit_code"]) == ("console", "n2", 0)


def test_trace_on_a_node(fleet, box):
    done = dt(fleet, "trace", "-H", "n3", box.name, "--duration", "1", "--summary")
    assert done.returncode == 0, done.stderr
    assert "total" in done.stdout and "all traced processes detached" in done.stderr
    on_node = _records(fleet.node("n3").audit)
    assert on_node and on_node[-1]["action"] == "trace" and on_node[-1]["phase"] == "end"


def test_an_installed_debugtool_on_the_nodes(fleet, box):
    installed = str(Path(sys.executable).with_name("debugtool"))
    node = fleet.node("n2")
    shutil.rmtree(node.cache, ignore_errors=True)
    done = dt(fleet, "ps", "-H", "n1,n2", "--remote-debugtool", installed)
    assert done.returncode == 0, done.stderr
    assert [row[0] for row in rows(done.stdout) if box.name in row] == ["n1", "n2"]
    assert not node.cache.exists()  # nothing was sent


def test_a_hostile_command_line_reaches_the_terminal_escaped(fleet, containers):
    evil = containers.docker(cmd=("/bin/sh", "-c", "sleep 100000; echo '\x1b]0;pwned\x07\x1b[2J'"))
    done = dt(fleet, "top", "-H", "n1,n2", evil.name)
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stdout and "\x07" not in done.stdout
    shown = [line for line in done.stdout.splitlines() if "pwned" in line]
    assert [line.split()[0] for line in shown] == ["n1", "n2"]
    assert all("\\x1b]0;pwned\\x07" in line for line in shown)


def test_fetch_streams_a_nodes_bundle_back(fleet, box, tmp_path, monkeypatch):
    """What a fleet bundle will do: a node's ``bundle -o -`` streamed into a local file."""
    for key, value in fleet.env().items():
        monkeypatch.setenv(key, value)
    conn = transport.Connection(ssh_config=str(fleet.config))
    out = tmp_path / "n1.tar.gz"
    with open(out, "wb") as sink:
        outcome = transport.fetch(
            Node("n1", "n1"), ["bundle", box.name, "-o", "-"], sink, conn, 300
        )
    assert outcome.status == "ok", outcome.stderr
    assert outcome.stdout == b""  # it went into the file, not into memory
    verified = harness.run_cli("bundle", "verify", str(out))
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_one_deadline_bounds_the_whole_run(fleet, monkeypatch):
    """With one fork, the hanging n4 holds the only slot until the run's deadline, is stopped
    there (not at its own, longer timeout) and n1, whose turn never came, is not started."""
    import time

    for key, value in fleet.env().items():
        monkeypatch.setenv(key, value)
    conn = transport.Connection(ssh_config=str(fleet.config))
    asked: list[tuple[str, float | None]] = []

    def argv_of(node: Node, left: float | None) -> list[str]:
        asked.append((node.name, left))
        return ["--version"]

    began = time.monotonic()
    hung, late = transport.run_many(
        [Node("n4", "n4"), Node("n1", "n1")],
        None,
        conn,
        forks=1,
        timeout=60,
        deadline=began + 4,
        argv_of=argv_of,
    )
    # Stopped by the run's deadline, not by its own 60 s timeout (which says --node-timeout).
    assert hung.status == "timed out" and "the run's time ran out" in hung.message
    assert late.status == "timed out" and late.message.startswith("not started:")
    assert [name for name, _ in asked] == ["n4", "n1"]  # n1 asked at its turn, with no time
    assert asked[0][1] is not None and 0 < asked[0][1] <= 4  # (less the zipapp's making)
    assert asked[1][1] is not None and asked[1][1] <= 0
