"""Pilot tests of process detail (Enter on a process), published ports and the host line."""

from __future__ import annotations

from debugtool_tui.screens.detail import DetailScreen
from debugtool_tui.screens.process import ProcessScreen
from debugtool_tui.widgets.live_table import LiveTable
from textual.widgets import Static, TabbedContent
from tui_fixtures import FixtureSource, settle

from debugtool.collect.hostload import HostLoad
from debugtool.errors import DebugtoolError
from debugtool.model import Container, Port
from debugtool.snapshot import Limit, OpenFile, ProcessDetail, Socket, ThreadInfo

SIZE = (120, 36)


class DetailSource(FixtureSource):
    """The fixture Source, with process detail and the host's load as a live host gives them."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.detail_calls: list[int] = []

    def process_detail(self, container: Container, host_pid: int) -> ProcessDetail:
        self.detail_calls.append(host_pid)
        process = next(p for p in self.base.processes if p.pid == host_pid)
        return ProcessDetail(
            pid=host_pid,
            nspid=process.nspid,
            name=process.name,
            cmdline=process.cmdline,
            user="root",
            cwd="/srv",
            root="/",
            rss=2 << 20,
            uss=1 << 20,
            pss=3 << 19,
            swap=0,
            threads=[ThreadInfo(host_pid, process.name, 0.5, 0.25)],
            limits=[Limit("nofile", 1024, 4096), Limit("core", 0, None)],
            environment={"PATH": "/bin", "DB_PASSWORD": "<redacted>", "EVIL": "\x1b]0;x\x07"},
            masked=1,
            files=[
                OpenFile(3, "/tmp/held.txt", "file", "w", 0),
                OpenFile(4, "socket:[99]", "socket", "rw", 0),
            ],
            sockets=[Socket("tcp", "LISTEN", "0.0.0.0", 9000, inode=99, pids=[host_pid])],
        )

    def host_load(self) -> HostLoad | None:
        return HostLoad(load=(0.52, 0.4, 0.33), memory_used=3 << 30, memory_total=24 << 30)


class BundleLike(FixtureSource):
    """A read-only source that keeps no process detail, as a bundle does."""

    def process_detail(self, container: Container, host_pid: int) -> ProcessDetail:
        raise DebugtoolError("a bundle keeps no process detail (open files, threads, limits).")


def text(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def test_enter_on_a_process_opens_it_in_depth_and_escape_returns(make_app):
    source = DetailSource()
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(DetailScreen(source.base.container))
        await settle(pilot)
        table = app.screen.query_one("#process-table", LiveTable)
        nc = next(p for p in source.base.processes if p.cmdline[:1] == ["nc"])
        table.select_key(str(nc.pid))
        table.focus()
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ProcessScreen)
        assert source.detail_calls == [nc.pid]
        summary = text(screen, "#process-summary")
        assert f"Host PID:          {nc.pid}" in summary
        assert "Working directory: /srv" in summary
        assert "USS 1.0MiB, PSS 1.5MiB" in summary
        files = screen.query_one("#file-table", LiveTable)
        assert [str(c) for c in files.get_row_at(0)] == ["3", "w", "file", "0", "/tmp/held.txt"]
        sockets = screen.query_one("#psocket-table", LiveTable)
        assert [str(c) for c in sockets.get_row_at(0)][:3] == ["tcp", "LISTEN", "0.0.0.0:9000"]
        assert screen.query_one("#thread-table", LiveTable).row_count == 1
        limits = screen.query_one("#limit-table", LiveTable)
        assert [str(c) for c in limits.get_row_at(1)] == ["core", "0B", "unlimited"]
        environment = text(screen, "#environment")
        assert "DB_PASSWORD=<redacted>" in environment
        assert "EVIL=\\x1b]0;x\\x07" in environment and "\x1b" not in environment
        assert "1 value(s) redacted" in environment
        assert "Open files" in screen.view_text() and "/tmp/held.txt" in screen.view_text()
        await pilot.press("escape")
        assert isinstance(app.screen, DetailScreen)


async def test_a_bundle_says_it_keeps_no_process_detail(make_app):
    source = BundleLike(read_only=True)
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(DetailScreen(source.base.container))
        await settle(pilot)
        init = source.base.processes[0]
        app.screen.on_live_table_chosen(
            LiveTable.Chosen(app.screen.query_one("#process-table", LiveTable), str(init.pid))
        )
        await settle(pilot)
        assert isinstance(app.screen, ProcessScreen)
        assert "keeps no process detail" in text(app.screen, "#status")


async def test_network_tab_shows_published_ports(make_app):
    source = DetailSource()
    source.base.network.ports = [
        Port(8080, "tcp", "127.0.0.1", 18080, "process", [4242], "docker-proxy"),
        Port(53, "udp", "0.0.0.0", 18053, "nat"),
    ]
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(DetailScreen(source.base.container))
        await settle(pilot)
        app.screen.query_one(TabbedContent).active = "network"
        await settle(pilot)
        table = app.screen.query_one("#port-table", LiveTable)
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
        assert rows == [
            ["tcp", "127.0.0.1:18080", "8080/tcp", "docker-proxy", "4242"],
            ["udp", "0.0.0.0:18053", "53/udp", "NAT rule only", "-"],
        ]
        assert "127.0.0.1:18080" in app.screen.view_text()


async def test_host_line_in_the_header(make_app):
    app = make_app(DetailSource())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.title == "debugtool  load 0.52 0.40 0.33 · mem 3.0GiB/24.0GiB"
    # A source with no host data (a bundle without a host section): the title alone.
    app = make_app(FixtureSource())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.title == "debugtool"
