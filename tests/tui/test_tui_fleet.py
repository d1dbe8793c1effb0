"""Pilot tests of the TUI over many nodes (``tui -H``), fed from ``ps -a --json`` captured on a
real host (tests/fixtures/fleet/): no ssh here, ``transport.run_many`` answers for the nodes.
tests/integration/test_fleet_tui.py runs the same against real sshd nodes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from debugtool_tui.screens.containers import ContainersScreen
from debugtool_tui.screens.detail import DetailScreen
from debugtool_tui.widgets.live_table import LiveTable
from textual.widgets import Static
from tui_fixtures import NOW, settle

from debugtool.fleet import source as fleet_source
from debugtool.fleet import transport
from debugtool.fleet.nodes import Node
from debugtool.fleet.source import FleetSource
from debugtool.output import human_size

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "fleet"
SIZE = (140, 36)


class Nodes:
    """What each node answers to ``ps -a --json``: captured text, or a failure; and what was
    asked of which node."""

    def __init__(self) -> None:
        self.answers: dict[str, transport.Outcome | bytes] = {
            "n1": (FIXTURES / "ps-node-a.json").read_bytes(),
            "n2": (FIXTURES / "ps-node-b.json").read_bytes(),
            "n3": b"",  # set per test
        }
        self.asked: list[tuple[str, list[str]]] = []

    def down(
        self, name: str, message: str = "unreachable (connect to host n3: Connection refused)"
    ):
        self.answers[name] = transport.Outcome(
            Node(name, name), transport.UNREACHABLE, 255, b"", b"", message
        )

    def run_many(self, nodes, argv, connection, mode="plain", forks=5, timeout=None, on=None):
        (node,) = nodes
        self.asked.append((node.name, list(argv)))
        answer = self.answers[node.name]
        if isinstance(answer, transport.Outcome):
            return [answer]
        return [transport.Outcome(node, transport.OK, 0, answer, b"")]


@pytest.fixture
def nodes(monkeypatch) -> Nodes:
    made = Nodes()
    made.down("n3")
    monkeypatch.setattr(transport, "run_many", made.run_many)
    return made


def fleet(every: float = 3600.0) -> FleetSource:
    """A fleet source of n1, n2, n3 with every node asked once already."""
    source = FleetSource(
        [Node("n1", "n1"), Node("n2", "n2"), Node("n3", "n3")],
        transport.Connection(),
        masters=False,
        every=every,
        clock=lambda: NOW,
        fleet_argv=["--ssh-config", "/etc/fleet/ssh_config"],
    )
    source.poll_due()
    source.wait(10)
    return source


def rows(table: LiveTable) -> list[tuple[str, str, str]]:
    return [
        (str(table.get_cell(r.key, "node")), str(table.get_cell(r.key, "id")), str(r.key.value))
        for r in table.ordered_rows
    ]


def captured(name: str) -> list[dict]:
    return json.loads((FIXTURES / name).read_text())


async def test_every_nodes_containers_are_listed_with_their_node_first(make_app, nodes):
    app = make_app(fleet(), seed=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#containers", LiveTable)
        assert list(table.headers)[:3] == ["node", "id", "name"]
        listed = rows(table)
        a, b = captured("ps-node-a.json"), captured("ps-node-b.json")
        expected = [("n1", c["id"][:12], f"n1/{c['id']}") for c in a]
        expected += [("n2", c["id"][:12], f"n2/{c['id']}") for c in b]
        assert sorted(listed) == sorted(expected)
        # One container on both nodes is two rows: its id on each node, its node before it.
        shared = a[1]["id"]
        assert {r[0] for r in listed if r[2].endswith(shared)} == {"n1", "n2"}
        status = str(app.screen.query_one("#status", Static).render())
        assert "3 nodes, 2 answering" in status
        line = str(app.screen.query_one("#nodes", Static).render())
        assert line.startswith("n3: not answering since 2026-11-18 11:06:40 UTC: unreachable")
        assert "Connection refused" in line and "not answered since the TUI started" in line


async def test_a_node_that_stops_answering_keeps_its_rows_marked_stale(make_app, nodes):
    source = fleet(every=0.0)
    app = make_app(source, seed=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        nodes.down("n1", "timed out after 10s (--node-timeout); skipped")
        source.poll_due()
        source.wait(10)
        await pilot.press("r")
        await settle(pilot)
        table = app.screen.query_one("#containers", LiveTable)
        statuses = {
            str(r.key.value): str(table.get_cell(r.key, "status")) for r in table.ordered_rows
        }
        assert {k: v for k, v in statuses.items() if k.startswith("n1/")} == {
            f"n1/{c['id']}": fleet_source.STALE for c in captured("ps-node-a.json")
        }
        assert all(v != fleet_source.STALE for k, v in statuses.items() if k.startswith("n2/"))
        shown = str(app.screen.query_one("#nodes", Static).render()).splitlines()
        assert shown[0].startswith("n1: not answering since 2026-11-18 11:06:40 UTC: timed out")
        assert "its 3 containers as last seen 2026-11-18 11:06:40 UTC, stale" in shown[0]
        assert shown[1].startswith("n3: not answering")


async def test_opening_a_container_asks_its_node_alone_and_exec_goes_through_it(
    make_app, nodes, recorder
):
    source = fleet()
    running = captured("ps-node-b.json")[1]
    snapshot = json.dumps(
        {"schema_version": 1, "container": running, "processes": [], "taken_at": NOW}
    )
    app = make_app(source, seed=False, actions=frozenset({"exec", "trace"}))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        container = source.find(f"n2/{running['name']}")
        nodes.answers["n2"] = snapshot.encode()
        nodes.asked.clear()
        app.open_container(container)
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen)
        assert isinstance(app.screen_stack[-2], ContainersScreen)  # the list, not polling
        assert {name for name, _argv in nodes.asked} == {"n2"}
        assert ["snapshot", running["id"], "--json"] in [a[:3] for _n, a in nodes.asked]
        title = str(app.screen.query_one("#title", Static).render())
        assert "node n2" in title and f"id {running['id'][:12]}" in title
        await pilot.press("e")
        await pilot.press(*"why", "enter")
        await settle(pilot)
        argv, _pause = recorder.terminal[-1]
        assert argv == [
            sys.executable,
            "-m",
            "debugtool",
            "shell",
            "-H",
            "n2",
            "--ssh-config",
            "/etc/fleet/ssh_config",
            f"n2/{running['id']}",
            "--reason",
            "why",
        ]


async def test_a_target_over_several_nodes_is_node_slash_target(nodes):
    source = fleet()
    from debugtool.errors import UsageError

    with pytest.raises(UsageError, match="NODE/TARGET"):
        source.find("dt-docker-57a6ad9ff3")
    found = source.find("n2/dt-docker-57a6ad9ff3")
    assert found.id == "n2/" + captured("ps-node-b.json")[1]["id"]
    assert nodes.asked[-1] == ("n2", ["ps", "-a", "--json"])


async def test_a_slow_node_delays_no_other_nodes_rows(make_app, nodes, monkeypatch):
    import threading

    gate = threading.Event()
    answer = nodes.run_many

    def slow(asked, argv, *args, **kwargs):
        if asked[0].name == "n3":
            gate.wait(30)  # n3 answers only when the test lets it
        return answer(asked, argv, *args, **kwargs)

    monkeypatch.setattr(transport, "run_many", slow)
    nodes.answers["n3"] = (FIXTURES / "ps-node-b.json").read_bytes()
    source = FleetSource(
        [Node("n1", "n1"), Node("n2", "n2"), Node("n3", "n3")],
        transport.Connection(),
        masters=False,
        every=0.0,
        clock=lambda: NOW,
    )
    try:
        source.poll_due()
        for _ in range(200):  # n1 and n2 answer at once; n3 is still being asked
            if sum(s.polled for s in source.node_states()) == 2:
                break
            gate.wait(0.05)
        app = make_app(source, seed=False)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            table = app.screen.query_one("#containers", LiveTable)
            assert {r[0] for r in rows(table)} == {"n1", "n2"}
            shown = str(app.screen.query_one("#nodes", Static).render())
            assert shown == "n3: asked, no answer yet"
            gate.set()
            source.wait(10)
            await pilot.press("r")
            await settle(pilot)
            assert {r[0] for r in rows(table)} == {"n1", "n2", "n3"}
            assert not app.screen.query_one("#nodes", Static).display
    finally:
        gate.set()
        source.close()


async def test_cpu_and_memory_come_from_each_nodes_listing(make_app, nodes):
    """Two listings of a node (``ps -a --json --stats`` captured 2 s apart, a busy loop and a
    sleep) make the CPU column; the memory is the last sample's; no session of their own."""
    nodes.answers["n1"] = (FIXTURES / "ps-stats-1.json").read_bytes()
    source = fleet(every=0.0)
    app = make_app(source, seed=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        nodes.answers["n1"] = (FIXTURES / "ps-stats-2.json").read_bytes()
        source.poll_due()
        source.wait(10)
        asked = len(nodes.asked)
        await pilot.press("r")
        await settle(pilot)
        table = app.screen.query_one("#containers", LiveTable)
        later = {c["name"]: c for c in captured("ps-stats-2.json")}
        cells = {
            str(table.get_cell(r.key, "name")): (
                str(table.get_cell(r.key, "cpu")),
                str(table.get_cell(r.key, "memory")),
            )
            for r in table.ordered_rows
            if str(r.key.value).startswith("n1/")
        }
        busy_cpu, busy_memory = cells["dt-busy"]
        assert 90 <= float(busy_cpu.rstrip("%")) <= 110  # 2.03 s of CPU in 2.04 s
        assert float(cells["dt-idle"][0].rstrip("%")) == 0
        assert busy_memory.startswith(human_size(later["dt-busy"]["stats"]["memory_usage"]))
        # n2's listing has no samples (an older debugtool): its rows show none, not a failure.
        assert all(
            str(table.get_cell(r.key, "cpu")) in ("", "-")
            for r in table.ordered_rows
            if str(r.key.value).startswith("n2/")
        )
        # The samples came with the listings: polls of the nodes, nothing per container.
        assert all(argv[0] == "ps" for _node, argv in nodes.asked[asked:])


async def test_a_node_without_ps_stats_is_listed_without_samples(nodes, monkeypatch):
    """A node whose debugtool is older than ``ps --stats`` says so once (a usage error) and is
    listed without samples from then on."""
    answer, fixture = nodes.answers["n2"], nodes.run_many
    old = transport.Outcome(
        Node("n2", "n2"),
        transport.FAILED,
        125,
        b"",
        b"debugtool: unrecognized arguments: --stats\n",
    )

    def run_many(nodes_, argv, *args, **kwargs):
        (node,) = nodes_
        if node.name != "n2":
            return fixture(nodes_, argv, *args, **kwargs)
        nodes.asked.append((node.name, list(argv)))
        if "--stats" in argv:
            return [old]
        return [transport.Outcome(node, transport.OK, 0, answer, b"")]

    monkeypatch.setattr(transport, "run_many", run_many)
    source = fleet(every=0.0)
    listed = source.containers()
    assert {c.id.split("/")[0] for c in listed.containers} == {"n1", "n2"}  # n3 is down
    assert not any(source.cgroup(c) for c in listed.containers)  # these listings hold none
    source.poll_due()
    source.wait(10)
    n2 = [argv for name, argv in nodes.asked if name == "n2"]
    assert n2[:2] == [list(fleet_source.LIST_ARGV), list(fleet_source.PLAIN_LIST_ARGV)]
    assert all(argv == list(fleet_source.PLAIN_LIST_ARGV) for argv in n2[2:]) and len(n2) >= 3


async def test_r_asks_every_node_now_and_shows_their_answers(make_app, nodes):
    source = fleet()  # every node asked once; the next poll would be an hour away
    app = make_app(source, seed=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#containers", LiveTable)
        assert {str(table.get_cell(r.key, "name")) for r in table.ordered_rows} >= {
            c["name"] for c in captured("ps-node-a.json")
        }
        nodes.answers["n1"] = (FIXTURES / "ps-stats-1.json").read_bytes()
        asked = [name for name, _argv in nodes.asked]
        await pilot.press("r")
        await settle(pilot)
        again = [name for name, _argv in nodes.asked][len(asked) :]
        assert sorted(again) == ["n1", "n2", "n3"]  # each node once, n3 still down
        status = {
            str(table.get_cell(r.key, "name")): str(table.get_cell(r.key, "status"))
            for r in table.ordered_rows
            if str(r.key.value).startswith("n1/")
        }
        now = {c["name"] for c in captured("ps-stats-1.json")}
        gone = {c["name"] for c in captured("ps-node-a.json")}
        assert {n for n, s in status.items() if s != "removed"} == now  # n1's answer to r
        assert {n for n, s in status.items() if s == "removed"} == gone  # kept a while, marked
