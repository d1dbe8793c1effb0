"""Pilot tests of issue 16's TUI: 80x24, sort keys, mount risks, the trace and bundle dialogs,
a container removed while open, the command palette, and the Resources scales."""

from __future__ import annotations

import sys

from debugtool_tui.palette import DebugtoolCommands
from debugtool_tui.screens.containers import ContainersScreen
from debugtool_tui.screens.detail import DetailScreen
from debugtool_tui.screens.help import HelpScreen
from debugtool_tui.screens.save import SavePathScreen
from debugtool_tui.screens.trace import TraceFilterScreen
from debugtool_tui.widgets.live_table import LiveTable
from textual.widgets import Input, Static
from tui_fixtures import WEB_ID, FixtureSource, settle

from debugtool.errors import ContainerGone

DEBUGTOOL = [sys.executable, "-m", "debugtool"]
SMALL = (80, 24)


def column(table: LiveTable, key: str) -> list[str]:
    return [str(table.get_cell(row.key, key)) for row in table.ordered_rows]


def label(table: LiveTable, key: str) -> str:
    return next(c.label.plain for c in table.ordered_columns if c.key.value == key)


def footer_line(app) -> str:
    from rich.console import Console

    console = Console(width=app.size[0], record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(app.screen._compositor.render_update(full=True, simplify=True))
    return console.export_text().splitlines()[app.size[1] - 1]


async def test_80x24_list_keeps_id_name_status_cpu_memory_and_scrolls_not_sideways(make_app):
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#containers", LiveTable)
        shown = table.shown_keys
        assert {"id", "name", "status", "cpu", "memory"} <= set(shown)
        assert not {"host_pid", "runtime", "pod"} & set(shown)  # no room: left out whole
        assert table.virtual_size.width <= table.size.width  # every shown column fits
        assert not table.show_horizontal_scrollbar
        assert column(table, "memory")[2] == "1.6MiB / 64.0MiB"  # not cut
        footer = footer_line(app)
        assert footer.lstrip().startswith("q Quit  ? Help")
        await pilot.resize_terminal(200, 50)
        await pilot.pause()
        assert table.shown_keys[:3] == ["id", "name", "pod"]
        assert {"image", "host_pid", "runtime", "pod_namespace"} <= set(table.shown_keys)


async def test_80x24_detail_footer_and_process_columns(make_app):
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        app.push_screen(DetailScreen(FixtureSource().base.container))
        await settle(pilot)
        table = app.screen.query_one("#process-table", LiveTable)
        assert table.shown_keys[:1] == ["pid"] and {"cpu", "rss", "command"} <= set(
            table.shown_keys
        )
        assert table.virtual_size.width <= table.size.width
        assert footer_line(app).lstrip().startswith("q Quit  ? Help")
        title = str(app.screen.query_one("#title", Static).render())
        assert title.startswith("tui-fixture-web  running")  # the status fits 80 columns


async def test_shift_letters_sort_again_reverses_and_the_header_has_an_arrow(make_app):
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#containers", LiveTable)
        assert label(table, "name") == "NAME ▲"  # the first sort: by name
        await pilot.press("C")  # shift+c: %CPU, largest first
        assert (table.sort_column, table.sort_reverse) == ("cpu", True)
        assert label(table, "cpu") == "%CPU ▼" and label(table, "name") == "NAME"
        # No usage last: a stopped container, and the sandbox in the host's cgroup.
        assert set(column(table, "name")[-2:]) == {"nightly-report", "unshare"}
        await pilot.press("C")
        assert table.sort_reverse is False and label(table, "cpu") == "%CPU ▲"
        await pilot.press("shift+n")  # a terminal that reports modifiers
        assert table.sort_column == "name"
        assert column(table, "name") == ["api", "nightly-report", "tui-fixture-web", "unshare"]
        await pilot.press("j", "j")
        assert table.cursor_row == 2
        await pilot.press("k")
        assert table.cursor_row == 1
        await pilot.press("down")
        assert table.cursor_row == 2


async def test_a_header_click_sorts_and_a_second_click_reverses(make_app):
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#containers", LiveTable)
        await pilot.click("#containers", offset=(17, 0))  # NAME, sorted already: reverses
        await pilot.pause()
        assert (table.sort_column, table.sort_reverse) == ("name", True)
        assert column(table, "name")[0] == "unshare"
        assert label(table, "name") == "NAME ▼"
        await pilot.click("#containers", offset=(17, 0))
        await pilot.pause()
        assert table.sort_reverse is False and column(table, "name")[0] == "api"


async def test_process_tab_sorts_by_letter_into_the_flat_list(make_app):
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        app.push_screen(DetailScreen(FixtureSource().base.container))
        await settle(pilot)
        screen = app.screen
        table = screen.query_one("#process-table", LiveTable)
        await pilot.press("M")  # RSS, largest first
        assert not screen.tree_view
        assert column(table, "rss")[:2] == ["4.0MiB", "3.5MiB"]
        assert label(table, "rss") == "RSS ▼"
        await pilot.press("M")
        assert column(table, "rss")[0] == "512.0KiB"
        await pilot.press("P")  # numbers: largest first
        assert column(table, "pid")[:3] == ["14", "13", "12"]
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        described = dict(app.screen.keys)
        assert described["C"] == "Sort by %CPU (again: reverse)"
        assert described["M"] == "Sort by RSS (again: reverse)"
        assert "click" in described


async def test_mount_risks_are_short_coloured_marks_with_the_sentences_below(make_app):
    app = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        app.push_screen(DetailScreen(FixtureSource().base.container))
        await settle(pilot)
        await pilot.press("right_square_bracket")
        table = app.screen.query_one("#mount-table", LiveTable)
        # At 160 columns nothing falls off, MODE and PROPAGATION included.
        assert table.shown_keys[:5] == ["risk", "mountpoint", "mode", "fstype", "propagation"]
        assert table.virtual_size.width <= table.size.width
        first, second = (table.get_cell(row.key, "risk") for row in table.ordered_rows[:2])
        assert (first.plain, second.plain) == ("!!", "!")
        assert "red" in str(first.style) and "yellow" in str(second.style)
        pane = app.screen.query_one("#mount-detail", Static)
        assert "container runtime socket (docker.sock) mounted" in str(pane.render())
        await pilot.press("j")
        text = str(pane.render())
        assert text.startswith("/data") and "read-write" in text
        await pilot.press("j")
        assert "nothing risky found" in str(pane.render())


async def test_trace_asks_which_syscalls_and_says_how_to_stop(make_app, recorder):
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        app.screen.query_one("#containers", LiveTable).select_key(WEB_ID)
        await pilot.press("t")
        assert isinstance(app.screen, TraceFilterScreen)
        app.screen.query_one("#trace-filter", Input).value = "bogus_call"
        await pilot.press("enter")
        assert isinstance(app.screen, TraceFilterScreen)  # refused, said why
        assert "bogus_call" in str(app.screen.query_one("#trace-error", Static).render())
        assert recorder.terminal == []
        app.screen.query_one("#trace-filter", Input).value = "network,openat"
        app.screen.query_one("#trace-reason", Input).value = "INC-9: who opens what"
        await pilot.press("enter")
        assert recorder.terminal[-1] == (
            [*DEBUGTOOL, "trace", WEB_ID, "-e", "network,openat", "--reason",
             "INC-9: who opens what"],
            True,
        )  # fmt: skip
        assert "Ctrl-C to stop" in recorder.hints[-1]
        assert "network,openat" in recorder.hints[-1]
        await pilot.press("t", "escape")  # cancelled: nothing runs
        assert len(recorder.terminal) == 1


async def test_bundle_asks_where_and_escape_writes_nothing(
    make_app, recorder, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        app.screen.query_one("#containers", LiveTable).select_key(WEB_ID)
        await pilot.press("b")
        assert isinstance(app.screen, SavePathScreen)
        field = app.screen.query_one(Input)
        assert field.value.startswith(str(tmp_path) + "/debugtool-bundle-tui-fixture-web-")
        await pilot.press("escape")
        await settle(pilot)
        assert recorder.background == []
        await pilot.press("b")
        app.screen.query_one(Input).value = str(tmp_path / "here.tar.gz")
        await pilot.press("enter")
        await settle(pilot)
        (argv,) = recorder.background
        assert argv[argv.index("-o") + 1] == str(tmp_path / "here.tar.gz")


async def test_a_container_removed_while_open_says_so_once_and_stops_polling(make_app):
    source = FixtureSource(live=True)
    app = make_app(source, interval=0.05)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        app.push_screen(DetailScreen(source.base.container))
        await settle(pilot)
        screen = app.screen
        source.removed.add(WEB_ID)
        source.fail_next = ContainerGone("container tui-fixture-web has exited.")
        for _ in range(100):  # until the failed poll has been handled
            await pilot.pause(0.05)
            if screen.container.status == "removed":
                break
        assert screen.container.status == "removed"
        await settle(pilot)
        calls = len(source.snapshot_calls)
        for _ in range(10):  # the interval is 50 ms: a polling screen would poll again
            await pilot.pause(0.05)
        assert len(source.snapshot_calls) == calls
        title = str(screen.query_one("#title", Static).render())
        assert "removed" in title and "running" not in title
        await pilot.press("r")  # looking again finds it still gone: no second notice
        await settle(pilot)
        said = [n.message for n in app._notifications if "tui-fixture-web" in n.message]
        assert said == ["tui-fixture-web was removed: showing its last snapshot. r looks again."]
        assert "container removed" in str(screen.query_one("#status", Static).render())


async def test_the_palette_offers_debugtools_actions_and_opens_a_container(make_app):
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        provider = DebugtoolCommands(app.screen)
        titles = [title for title, _, _ in provider.commands()]
        for wanted in ("Shell", "Trace", "Bundle", "Save view", "Filter", "Help", "Quit"):
            assert wanted in titles
        assert "Screenshot" in titles and "Open tui-fixture-web" in titles
        assert "Toggle tree" not in titles  # the list has no tree
        assert "Refresh" not in titles  # a recorded source does not change
        system = [c.title for c in app.get_system_commands(app.screen)]
        assert "Screenshot" not in system and "Quit" not in system
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"open tui-fix")
        await settle(pilot)
        await pilot.press("down", "enter")
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen)
        assert app.screen.container.id == WEB_ID
        titles = [title for title, _, _ in DebugtoolCommands(app.screen).commands()]
        assert "Toggle tree" in titles and "Back" in titles


async def test_screenshot_is_saved_in_the_current_directory_and_said(
    make_app, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        app.action_save_screenshot()
        await settle(pilot)
        (saved,) = tmp_path.glob("debugtool-screenshot-containers-*.svg")
        assert "<svg" in saved.read_text()
        assert any(f"Screenshot saved to {saved}" == n.message for n in app._notifications)
        assert isinstance(app.screen, ContainersScreen)


async def test_sparklines_show_their_window_and_scale(make_app):
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        app.push_screen(DetailScreen(FixtureSource().base.container))
        await settle(pilot)
        for _ in range(3):
            await pilot.press("right_square_bracket")
        scale = str(app.screen.query_one("#scale-cpu", Static).render())
        assert scale.splitlines() == ["max 12.5 %CPU", "last 1 s", "min 12.5 %CPU"]
        memory = str(app.screen.query_one("#scale-memory", Static).render())
        assert memory.splitlines()[1] == "last 1 s" and memory.startswith("max 1.6MiB")
        text = app.screen.view_text()
        assert "CPU history, last 1 s: min 12.5 %CPU, max 12.5 %CPU" in text
