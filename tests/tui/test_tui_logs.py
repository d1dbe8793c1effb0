"""The Logs tab: a bundle's captured logs (from a fixture source), escaped, searched and paused;
then on the live host, a real Docker container followed, and a real bundle read offline."""

from __future__ import annotations

import os

import pytest
from debugtool_tui.app import DebugtoolApp
from debugtool_tui.screens.detail import DetailScreen
from debugtool_tui.screens.logs import LogsPane, LogView
from textual.widgets import TabbedContent
from tui_fixtures import FixtureSource, settle

SIZE = (120, 36)

CAPTURED = "".join(
    [
        "2026-11-18T11:00:00.000000000Z stdout starting\n",
        "2026-11-18T11:00:01.000000000Z stderr \x1b]0;pwned\x07 title change \x1b[2J\n",
        *(f"2026-11-18T11:00:02.{n:09d}Z stdout request {n} ok\n" for n in range(200)),
        "2026-11-18T11:00:03.000000000Z stdout request 7 FAILED\n",
    ]
)


class Bundle:
    """What the Logs tab asks of a bundle: the captured ``logs.txt`` of a container."""

    def logs(self, container_id: str) -> str:
        return CAPTURED


async def until(pilot, condition, timeout: float = 60.0) -> None:
    for _ in range(int(timeout / 0.1)):
        if condition():
            return
        await pilot.pause(0.1)
    raise AssertionError("the condition never held")


async def open_logs(app, pilot, container) -> LogsPane:
    app.push_screen(DetailScreen(container))
    await settle(pilot)
    for _ in range(7):
        if app.screen.query_one(TabbedContent).active == "logs":
            break
        await pilot.press("right_square_bracket")
    assert app.screen.query_one(TabbedContent).active == "logs"
    return app.screen.query_one(LogsPane)


def shown(pane: LogsPane) -> list[str]:
    return [strip.text for strip in pane.query_one(LogView).lines]


async def test_bundle_logs_escaped_searched_and_scrolled(make_app):
    source = FixtureSource(read_only=True)
    source.bundle = Bundle()  # type: ignore[attr-defined]
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_logs(app, pilot, source.base.container)
        await until(pilot, lambda: bool(pane.ended))
        assert len(pane.lines) == 203
        lines = shown(pane)
        assert lines[0] == "starting"
        # The container's OSC and CSI sequences are shown, not sent to the terminal.
        assert lines[1] == "\\x1b]0;pwned\\x07 title change \\x1b[2J"
        assert not any("\x1b" in line for line in lines)
        assert "captured in the bundle" in pane.status_text()
        await pilot.press("slash", *"failed", "enter")
        await settle(pilot)
        assert pane.search == "failed"
        assert "1 lines match 'failed'" in pane.status_text()
        highlighted = [
            span
            for strip in pane.query_one(LogView).lines
            for segment in strip
            if segment.style and segment.style.bgcolor and "FAILED" in segment.text
            for span in [segment.text]
        ]
        assert highlighted == ["FAILED"]
        assert pane._match_at == 202  # noqa: SLF001 - n/Enter jumped to the match


async def test_logs_of_a_source_without_logs_say_so(make_app):
    source = FixtureSource(read_only=True)
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_logs(app, pilot, source.base.container)
        await until(pilot, lambda: bool(pane.ended))
        assert "holds no logs of tui-fixture-web" in pane.status_text()


@pytest.mark.integration
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
async def test_live_docker_logs_follow_and_pause_on_scroll(containers):
    from debugtool.source import LiveSource

    started = containers.docker(
        cmd=(
            "/bin/sh",
            "-c",
            "i=0; while [ $i -lt 150 ]; do echo early $i; i=$((i+1)); done; "
            "printf 'bell \\007 esc \\033[31m\\n'; "
            "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done",
        )
    )
    source = LiveSource()
    container = source.find(started.id)
    app = DebugtoolApp(source, interval=3600)
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_logs(app, pilot, container)
        await until(pilot, lambda: any(line.startswith("tick 3") for line in pane.lines))
        assert list(pane.lines)[:2] == ["early 0", "early 1"]
        assert "bell \\x07 esc \\x1b[31m" in pane.lines
        assert "following" in pane.status_text()
        view = pane.query_one(LogView)
        assert view.is_vertical_scroll_end
        # Scrolling up pauses: new lines still arrive, the view stays where it was.
        view.scroll_home(animate=False)
        await until(pilot, lambda: not pane.following)
        assert "paused" in pane.status_text()
        count = len(pane.lines)
        await until(pilot, lambda: len(pane.lines) > count + 2)
        assert view.scroll_y == 0
        await pilot.press("end")
        await until(pilot, lambda: pane.following)
        assert "following" in pane.status_text()
    source.close()


@pytest.mark.integration
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
async def test_real_bundle_logs_in_the_tab(containers, tmp_path, cli):
    from debugtool.source import BundleSource

    started = containers.docker(
        cmd=("/bin/sh", "-c", "echo hello from the bundle; echo password=hunter2; sleep 100000")
    )
    import time

    time.sleep(1)
    out = tmp_path / "b.tar.gz"
    done = cli("bundle", started.id, "-o", str(out))
    assert done.returncode == 0, done.stderr
    source = BundleSource(str(out))
    container = source.find(started.id)
    app = DebugtoolApp(source)
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_logs(app, pilot, container)
        await until(pilot, lambda: bool(pane.ended))
        assert "hello from the bundle" in pane.lines
        assert "hunter2" not in pane.as_text()  # the bundle redacted it when it was captured
        assert "captured in the bundle" in pane.status_text()
