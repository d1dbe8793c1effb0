"""Snapshot tests: each screen drawn from the recorded Snapshot at a fixed size and a fixed clock.

Regenerate the pictures with ``pytest tests/tui/test_tui_snapshots.py --snapshot-update`` after a
deliberate change, and look at the report before committing them.
"""

from __future__ import annotations

from typing import Any

import pytest
from debugtool_tui.screens.detail import DetailScreen
from debugtool_tui.widgets.live_table import LiveTable
from textual.widgets import Input
from tui_fixtures import WEB_ID, FixtureSource, settle

SIZE = (120, 36)
# The smallest terminal the TUI is made for, and a large one (issue 16).
SIZES = {"80x24": (80, 24), "200x50": (200, 50)}
TABS = ["processes", "mounts", "network", "resources", "security", "audit"]


def no_blink(app: Any) -> None:
    for field in app.screen.query(Input):
        field.cursor_blink = False


def test_containers(snap_compare, make_app):
    async def ready(pilot):
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=ready)


def test_containers_filtered(snap_compare, make_app):
    async def ready(pilot):
        await settle(pilot)
        await pilot.press("slash", "d", "o", "c")
        no_blink(pilot.app)
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=ready)


def test_bundle_banner_read_only(snap_compare, make_app):
    source = FixtureSource(
        read_only=True,
        banner="Bundle /tmp/web.tar.gz, captured 2026-11-18 11:06:40 UTC. "
        "Read-only: no exec, trace or bundle.",
    )

    async def ready(pilot):
        await settle(pilot)

    assert snap_compare(make_app(source), terminal_size=SIZE, run_before=ready)


async def open_tab(pilot: Any, tab: str) -> None:
    await settle(pilot)
    pilot.app.screen.query_one("#containers", LiveTable).select_key(WEB_ID)
    await pilot.press("enter")
    await settle(pilot)
    while pilot.app.screen.active_tab != tab:
        await pilot.press("right_square_bracket")
        await settle(pilot)


@pytest.mark.parametrize("size", SIZES)
def test_containers_at(snap_compare, make_app, size):
    async def ready(pilot):
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=SIZES[size], run_before=ready)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("tab", TABS)
def test_detail_tab_at(snap_compare, make_app, tab, size):
    async def ready(pilot):
        await open_tab(pilot, tab)

    assert snap_compare(make_app(), terminal_size=SIZES[size], run_before=ready)


@pytest.mark.parametrize("tab", TABS)
def test_detail_tab(snap_compare, make_app, tab):
    async def ready(pilot):
        await settle(pilot)
        pilot.app.screen.query_one("#containers", LiveTable).select_key(WEB_ID)
        await pilot.press("enter")
        await settle(pilot)
        while pilot.app.screen.active_tab != tab:
            await pilot.press("right_square_bracket")
            await settle(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=ready)


def test_detail_flat_processes_sorted_by_memory(snap_compare, make_app):
    async def ready(pilot):
        pilot.app.push_screen(DetailScreen(FixtureSource().base.container))
        await settle(pilot)
        await pilot.press("v")
        pilot.app.screen.query_one("#process-table", LiveTable).sort_by("rss")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=ready)


def test_help(snap_compare, make_app):
    async def ready(pilot):
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=ready)


def test_save_dialog(snap_compare, make_app, tmp_path, monkeypatch):
    monkeypatch.chdir("/tmp")  # the default path shows in the picture: keep it fixed

    async def ready(pilot):
        await settle(pilot)
        await pilot.press("ctrl+s")
        await pilot.pause()
        no_blink(pilot.app)
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=ready)


def test_containers_crash_loop(snap_compare, make_app):
    """A restarting container's restarts and rate, and an OOM-killed one's last exit."""
    from tui_fixtures import crash_looping, oom_killed

    source = FixtureSource()
    source.added += [crash_looping(), oom_killed()]

    async def ready(pilot):
        await settle(pilot)

    assert snap_compare(make_app(source), terminal_size=SIZE, run_before=ready)
