"""``debugtool tui -H`` over real sshd nodes in network namespaces (tests/fleet.py), in tmux.

The nodes count their ssh sessions (``Fleet(counted=True)``), so what the TUI asks of each node
is counted where it lands. Every connection goes to 203.0.113.0/24 addresses inside the test's
own namespaces, host keys checked against the test's known_hosts.
"""

from __future__ import annotations

import functools
import os
import shlex
import shutil
import sys
import time
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent))

import fleet as fleet_nodes  # noqa: E402
import harness  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent.parent

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(not os.path.exists(fleet_nodes.SSHD), reason="needs openssh-server"),
    pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux"),
]

SOCKET = f"dt-fleet-tui-{os.getpid()}"  # a tmux server of this test's own


tmux = functools.partial(harness.tmux, SOCKET)


def screen(session: str) -> str:
    return tmux("capture-pane", "-p", "-t", session).stdout


def wait_for(session: str, check, what: str, timeout: float = 60) -> str:
    """Poll the pane until ``check(pane)`` holds; return the pane. Fails with the last pane."""
    deadline = time.monotonic() + timeout
    shown = ""
    while time.monotonic() < deadline:
        shown = screen(session)
        if check(shown):
            return shown
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen within {timeout}s; the screen was:\n{shown}")


def rows_of(pane: str, name: str) -> list[list[str]]:
    """Return the words of each row of the list that shows container ``name``."""
    return [line.split() for line in pane.splitlines() if f" {name} " in line]


@pytest.fixture(scope="module")
def fleet():
    with fleet_nodes.Fleet(4, kinds={"n4": "hang"}, counted=True) as made:
        yield made


@pytest.fixture(scope="module")
def box(module_containers):
    """One Docker container that every node sees (the nodes share this host's runtimes)."""
    return module_containers.docker(
        cmd=("/bin/sh", "-c", "echo hello-fleet-tui; exec sleep 100000")
    )


class Tui:
    """``debugtool tui ARGS`` in a tmux session of its own, with the fleet's environment and a
    TMPDIR of its own (where its ssh masters' sockets go)."""

    def __init__(self, fleet, tmp: Path, *args: str) -> None:
        self.session = f"dt-ftui-{uuid.uuid4().hex[:8]}"
        self.tmp = tmp
        tmp.mkdir(mode=0o700, exist_ok=True)
        env = {**fleet.env(), "TMPDIR": str(tmp)}
        assign = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        words = " ".join(shlex.quote(a) for a in args)
        command = (
            f"cd {shlex.quote(str(ROOT))} && exec env {assign} "
            f"{shlex.quote(sys.executable)} -m debugtool tui {words}"
        )
        started = tmux("new-session", "-d", "-x", "160", "-y", "45", "-s", self.session, command)
        assert started.returncode == 0, started.stderr

    def keys(self, *keys: str, literal: bool = False) -> None:
        tmux("send-keys", "-t", self.session, *(["-l"] if literal else []), *keys)

    def open_row(self, container: harness.Started, node: str, nodes: int) -> str:
        """Wait for the container's row from each of ``nodes`` nodes, open ``node``'s; return
        the detail's pane once its processes and node are shown."""
        self.wait(lambda p: len(rows_of(p, container.name)) == nodes, "a row from every node")
        self.only_row(node, container.id)
        self.keys("Enter")
        return self.wait(
            lambda p: "sleep 100000" in p and f"node {node}" in p, "the container's detail"
        )

    def only_row(self, node: str, container_id: str) -> None:
        """Filter the list down to ``node``'s row of the container (``/``, then its words)."""
        self.keys("/")
        self.wait(lambda p: "filter containers" in p, "the filter")
        self.keys(f"{node} {container_id[:12]}", literal=True)
        self.keys("Enter")
        self.wait(lambda p: "1 match" in p, "one row left")

    def wait(self, check, what: str, timeout: float = 60) -> str:
        return wait_for(self.session, check, what, timeout)

    def quit(self) -> None:
        """q, and wait until the TUI has exited."""
        self.keys("q")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if tmux("has-session", "-t", self.session).returncode != 0:
                return
            time.sleep(0.2)
        raise AssertionError(f"q did not quit the TUI; the screen was:\n{screen(self.session)}")

    def close(self) -> None:
        tmux("kill-session", "-t", self.session)

    def left_behind(self) -> list[str]:
        """Return what this TUI left: files in its TMPDIR (a socket directory) and processes
        whose command line names that TMPDIR (an ssh master)."""
        found = [str(p) for p in self.tmp.iterdir()]
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if str(self.tmp) in cmdline:
                found.append(f"pid {proc.name}: {cmdline}")
        return found


@pytest.fixture
def tui_run(fleet, tmp_path):
    made: list[Tui] = []

    def start(*args: str) -> Tui:
        made.append(Tui(fleet, tmp_path / f"tmp{len(made)}", *args))
        return made[-1]

    yield start
    for tui in made:
        tui.close()
    tmux("kill-server")


def test_each_node_lists_the_container_and_a_cut_node_is_said_while_others_update(
    fleet, box, tui_run
):
    tui = tui_run("-H", "n1,n2,n3")
    try:
        pane = tui.wait(lambda p: len(rows_of(p, box.name)) == 3, "three rows of the container")
        assert pane.split("\n")[0:8] and "NODE" in pane and "ID" in pane
        listed = rows_of(pane, box.name)
        assert sorted(row[0] for row in listed) == ["n1", "n2", "n3"]
        assert all(row[1] == box.id[:12] for row in listed)
        assert "3 nodes, 3 answering" in pane
        # CPU and memory of each node's row (the last two columns): the samples of each
        # node's listings, two of which make the CPU rate. The container sleeps.
        pane = tui.wait(
            lambda p: all(r[-1].endswith("iB") and r[-2] != "-" for r in rows_of(p, box.name)),
            "CPU and memory on every row",
        )
        assert all(float(r[-2]) < 5 for r in rows_of(pane, box.name)), pane

        fleet.cut("n3")
        before = {n: fleet.node(n).sessions for n in ("n1", "n2")}
        pane = tui.wait(lambda p: "n3: not answering since" in p, "n3 marked not answering")
        assert "unreachable" in pane and "stale" in pane
        pane = tui.wait(
            lambda p: any(r[0] == "n3" and "stale" in r for r in rows_of(p, box.name)),
            "n3's row marked stale",
        )
        assert "3 nodes, 2 answering" in pane
        # The others keep being polled (each session counted where it lands) and listed.
        tui.wait(
            lambda p: all(fleet.node(n).sessions >= before[n] + 2 for n in before),
            "two more polls of n1 and n2",
        )
        pane = screen(tui.session)
        running = [r[0] for r in rows_of(pane, box.name) if "running" in r]
        assert running == ["n1", "n2"] or sorted(running) == ["n1", "n2"]
        tui.quit()
    finally:
        tui.close()
        if fleet.node("n3").sshd is None:
            fleet.start("n3")
    assert tui.left_behind() == []


def test_a_hanging_node_delays_no_other_nodes_rows_and_is_said_at_its_timeout(fleet, box, tui_run):
    tui = tui_run("-H", "n1,n4", "--node-timeout", "3")
    try:
        pane = tui.wait(lambda p: len(rows_of(p, box.name)) == 1, "n1's row")
        assert rows_of(pane, box.name)[0][0] == "n1"
        pane = tui.wait(lambda p: "n4: not answering since" in p, "n4 marked not answering")
        assert "timed out after 3s" in pane and "2 nodes, 1 answering" in pane
        seen = fleet.node("n1").sessions
        tui.wait(lambda p: fleet.node("n1").sessions >= seen + 2, "n1 polled on")
        tui.quit()  # n4's session, hanging on its master, ends with the master
    finally:
        tui.close()
    assert tui.left_behind() == []


def test_opening_a_container_asks_its_node_alone(fleet, box, tui_run):
    tui = tui_run("-H", "n1,n2,n3")
    try:
        pane = tui.open_row(box, "n2", 3)
        assert f"id {box.id[:12]}" in pane
        # Every session started before this point has been counted (the forced command
        # counts a session before it runs anything).
        before = {n.name: n.sessions for n in fleet.nodes}
        tui.wait(lambda p: fleet.node("n2").sessions >= before["n2"] + 3, "three polls of n2")
        after = {n.name: n.sessions for n in fleet.nodes}
        assert after["n1"] == before["n1"] and after["n3"] == before["n3"], (before, after)
        tui.keys("Escape")
        # Back on the list (the filter kept): it is polled again, every node.
        tui.wait(
            lambda p: [r[0] for r in rows_of(p, box.name)] == ["n2"] and "3 answering" in p,
            "the list again",
        )
        tui.wait(lambda p: fleet.node("n1").sessions > after["n1"], "n1 asked again")
        tui.quit()
    finally:
        tui.close()
    assert tui.left_behind() == []


def tab_bar(pane: str) -> str:
    """Return the line under a detail screen's tabs (where it is lit says which is shown)."""
    return next((line for line in pane.splitlines() if "━" in line), "")


def next_tab(tui: Tui, times: int) -> None:
    """Press ``]`` ``times`` times, each once the tab before it is shown (the lit part of the
    tab bar has moved): a press while a tab switches may be lost, or taken twice."""
    for _ in range(times):
        before = tab_bar(screen(tui.session))
        tui.keys("]")
        tui.wait(lambda p, bar=before: tab_bar(p) not in ("", bar), "the next tab", timeout=10)


def followers_of(container_id: str) -> list[str]:
    """Return the command lines of the processes following ``container_id``'s log."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        words = [w.decode(errors="replace") for w in cmdline]
        if "logs" in words and container_id in words and "--follow" in words:
            found.append(" ".join(words))
    return found


def test_the_logs_tab_follows_the_containers_log_on_its_node(fleet, box, tui_run):
    tui = tui_run("-H", "n1,n2")
    try:
        tui.open_row(box, "n1", 2)
        next_tab(tui, 6)  # to the last tab, Logs
        tui.wait(lambda p: "hello-fleet-tui" in p, "the log's first line")
        # A line the container writes now reaches the tab through the node's logs -f.
        harness.run("docker", "exec", box.id, "sh", "-c", "echo later-fleet-line > /proc/1/fd/1")
        tui.wait(lambda p: "later-fleet-line" in p, "the new line, followed")
        assert len(followers_of(box.id)) == 1  # the node's logs -f, one session
        tui.keys("Escape")
        tui.wait(lambda p: "2 nodes" in p, "the list again")
        # Leaving the tab ends the session, and the node's logs -f with it (its reader gone).
        deadline = time.monotonic() + 15  # a guard, not a timed assertion
        while followers_of(box.id):
            assert time.monotonic() < deadline, followers_of(box.id)
            time.sleep(0.2)
        tui.quit()
    finally:
        tui.close()
    assert tui.left_behind() == []


def test_a_shell_from_the_tui_is_audited_at_both_ends_and_replayed_from_its_node(
    fleet, box, tui_run
):
    audited = {n.name: n.audit.read_text() if n.audit.exists() else "" for n in fleet.nodes}
    tui = tui_run("-H", "n1,n2,n3")
    try:
        tui.wait(lambda p: len(rows_of(p, box.name)) == 3, "three rows of the container")
        tui.only_row("n3", box.id)
        tui.keys("e")
        tui.wait(lambda p: "Open a shell in" in p, "the reason prompt")
        tui.keys("fleet-tui-test", literal=True)
        tui.keys("Enter")
        tui.wait(lambda p: "/ #" in p, "the container's shell prompt")
        tui.keys("echo on-node-$((6*7))", literal=True)
        tui.keys("Enter")
        pane = tui.wait(lambda p: "on-node-42" in p.split("echo on-node")[-1], "the shell's echo")
        tui.keys("exit", literal=True)
        tui.keys("Enter")
        tui.wait(lambda p: "3 nodes" in p, "the TUI again")
        # The container's Audit tab reads n3's audit log (n3 alone is asked): the session,
        # its reason and its recording; Enter plays the recording back from n3.
        tui.keys("Enter")
        tui.wait(lambda p: "sleep 100000" in p and "node n3" in p, "the container's detail")
        asked = {n.name: n.sessions for n in fleet.nodes}
        next_tab(tui, 5)  # processes -> mounts -> network -> resources -> security -> audit
        audit_tab = tui.wait(lambda p: "fleet-tui-test" in p, "the session in the Audit tab")
        row = next(line for line in audit_tab.splitlines() if "fleet-tui-test" in line)
        assert " shell " in row and " yes " in row, row  # the action, REC
        assert fleet.node("n3").sessions > asked["n3"]
        assert {n: fleet.node(n).sessions for n in ("n1", "n2")} == {
            n: asked[n] for n in ("n1", "n2")
        }
        tui.keys("Enter")
        replayed = tui.wait(
            lambda p: "Replaying session" in p and "on-node-42" in p.split("Replaying")[-1],
            "the recording played back",
        )
        assert "echo on-node-" in replayed.split("Replaying")[-1]
        tui.keys("Enter")  # the pause after the command
        tui.wait(lambda p: "fleet-tui-test" in p and "Replaying" not in p, "the Audit tab again")
        tui.keys("Escape")
        tui.wait(lambda p: "3 nodes" in p, "the list again")
        tui.quit()
    finally:
        tui.close()
    assert tui.left_behind() == []
    # The shell ran inside the container (busybox, no ssh there) on node n3, through its sshd.
    assert "on-node-42" in pane
    grown = {
        n.name: (n.audit.read_text() if n.audit.exists() else "")[len(audited[n.name]) :]
        for n in fleet.nodes
    }
    assert box.id in grown["n3"] and "fleet-tui-test" in grown["n3"]
    assert grown["n1"] == "" and grown["n2"] == ""
    local = fleet.local_audit.read_text()
    assert '"node": "n3"' in local and "fleet-tui-test" in local


def test_tui_bundle_of_a_fleet_archive_lists_its_nodes_and_opens_a_nodes_container(
    fleet, box, tui_run, tmp_path
):
    path = tmp_path / "fleet.tar"
    fleet.cut("n3")
    try:
        done = harness.run_cli(
            "bundle", "-H", "n1,n2,n3", box.name, "-o", str(path), env=fleet.env(), timeout=300
        )
    finally:
        fleet.start("n3")
    assert done.returncode == 2, done.stderr  # partial: n3 did not answer
    tui = tui_run("--bundle", str(path))
    try:
        pane = tui.wait(lambda p: len(rows_of(p, box.name)) == 2, "two rows of the container")
        assert sorted(r[0] for r in rows_of(pane, box.name)) == ["n1", "n2"]
        assert "n3: unreachable" in pane and "no bundle of it in the archive" in pane
        assert "Fleet bundle" in pane and "3 nodes, 2 with a bundle" in pane
        tui.only_row("n2", box.id)
        tui.keys("Enter")
        pane = tui.wait(lambda p: "sleep 100000" in p, "the container's processes")
        assert "node n2" in pane
        tui.quit()
    finally:
        tui.close()
