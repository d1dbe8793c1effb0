"""The TUI shows a container's last state (issue 18): a restarting one's restarts and their rate,
a stopped one's last exit and OOM kill, in the containers table and the detail screen."""

from __future__ import annotations

from debugtool_tui.screens.detail import DetailScreen
from debugtool_tui.widgets.live_table import LiveTable
from textual.widgets import Static
from tui_fixtures import NOW, FixtureSource, crash_looping, oom_killed, settle

from debugtool.record import replace

SIZE = (120, 36)
NIGHTLY = "9e3b" + "1" * 60


def cell(table: LiveTable, key: str, column: str) -> str:
    return str(table.get_cell(key, column))


async def test_restarting_marker_and_exit_in_the_table(make_app):
    source = FixtureSource()
    loop, oom = crash_looping(), oom_killed()
    source.added += [loop, oom]
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#containers", LiveTable)
        # 14 restarts over its 280 s of life, before the TUI has watched any.
        assert cell(table, loop.id, "status") == "restarting ×14, 3/min"
        assert cell(table, oom.id, "status") == "exited 137 OOM"
        assert cell(table, NIGHTLY, "status") == "exited 1"
        text = table.as_text()
        assert "restarting ×14, 3/min" in text and "exited 137 OOM" in text


async def test_the_rate_follows_the_restarts_the_tui_sees(make_app):
    source = FixtureSource()
    loop = crash_looping()
    source.added.append(loop)
    now = [NOW]
    app = make_app(source)
    app.clock = lambda: now[0]
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        # A minute later it has restarted 10 more times: 10/min, not its lifetime's 7/min.
        now[0] = NOW + 60
        source.added[0] = replace(loop, restart_count=24)
        screen.action_refresh()
        await settle(pilot)
        table = screen.query_one("#containers", LiveTable)
        assert cell(table, loop.id, "status") == "restarting ×24, 10/min"


async def test_detail_title_says_how_it_ended(make_app):
    source = FixtureSource()
    oom = oom_killed()
    source.added.append(oom)
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.push_screen(DetailScreen(oom))
        await settle(pilot)
        title = str(app.screen.query_one("#title", Static).render())
        assert "exited 137 OOM" in title and "finished 10 minutes ago" in title


async def test_detail_title_of_a_crash_loop(make_app):
    source = FixtureSource()
    loop = crash_looping()
    source.added.append(loop)
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.push_screen(DetailScreen(loop))
        await settle(pilot)
        title = str(app.screen.query_one("#title", Static).render())
        assert "restarting ×14, 3/min" in title
