"""The TUI on a container that names things with escape sequences and Rich markup (issue 11).

Each check looks at what the app would write to the terminal for a full repaint of the screen
(the compositor's update, as the driver sends it): no OSC, no BEL, no C1 CSI, and the names
shown escaped and literally, markup included.
"""

from __future__ import annotations

import re

from debugtool_tui.screens.detail import DetailScreen
from debugtool_tui.screens.help import HelpScreen
from debugtool_tui.widgets.live_table import LiveTable
from tui_fixtures import WEB_ID, FixtureSource, settle

from debugtool.errors import DebugtoolError
from debugtool.snapshot import Mount, Process, Socket

SIZE = (160, 40)
OSC52_BEL = "\x1b]52;c;SGk=\x07"  # a clipboard write, ended by BEL
OSC52_ST = "\x1b]52;c;SGk=\x1b\\"  # the same, ended by ST (ESC \), which Rich lets through
TITLE_ST = "\x1b]0;t\x1b\\"  # sets the window title, ended by ST
NAME = f"[b]w[/b]{TITLE_ST}"
SHOWN_NAME = "[b]w[/b]\\x1b]0;t\\x1b\\"


def hostile_source() -> FixtureSource:
    source = FixtureSource()
    base = source.base
    base.container.name = NAME
    base.container.image = "img[link=https://example.invalid]x[/link]\x9b31m"
    init = base.processes[0]
    base.processes.append(
        Process(
            pid=99001,
            nspid=4242,
            ppid=init.pid,
            nsppid=1,
            user=f"ev{OSC52_BEL}il",
            state="S",
            name=f"\x1b[2J{OSC52_BEL}",
            cmdline=["sh", "-c", f"{OSC52_BEL}evil\n[red]fake[/red] line"],
        )
    )
    base.mounts.append(
        Mount(9999, 1, mountpoint=f"/data/{OSC52_ST}", fstype="tmpfs", source="\u202eevil")
    )
    base.network.sockets.append(
        Socket(
            protocol="unix", state="LISTEN", path=f"@{OSC52_BEL}sock", inode=77, process="\x1b[2J"
        )
    )
    base.network.dns.search = [f"corp{OSC52_BEL}.example", "[b]x[/b]"]
    base.security.warnings = [f"warning {OSC52_ST}"]
    return source


def terminal_text(app) -> str:
    """Return what a full repaint of the screen writes to the terminal, less the app's own
    cursor moves and colours (CSI sequences ending in H or m): the text the terminal shows."""
    update = app.screen._compositor.render_full_update()
    written = update.render_segments(app.console)
    return re.sub(r"\x1b\[[0-9;]*[Hm]", "", written)


def assert_safe(text: str) -> None:
    assert not any(c in text for c in "\x1b\x07\x9b\x9d"), "a control reached the terminal"


async def test_containers_screen_shows_hostile_names_escaped_and_unmarked(make_app):
    app = make_app(hostile_source())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#containers", LiveTable)
        cells = {c.key.value: str(table.get_cell(WEB_ID, c.key)) for c in table.ordered_columns}
        assert cells["name"] == SHOWN_NAME
        assert cells["image"].startswith("img[link=https://example.invalid]x[/link]\\x9b31m")
        screen = terminal_text(app)
        assert_safe(screen)
        assert SHOWN_NAME in screen  # shown, not applied


async def test_detail_tabs_title_and_help_show_hostile_text_escaped(make_app):
    source = hostile_source()
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(DetailScreen(source.base.container))
        await settle(pilot)
        processes = app.screen.query_one("#process-table", LiveTable)
        row = {
            c.key.value: str(processes.get_cell("99001", c.key)) for c in processes.ordered_columns
        }
        assert row["user"] == "ev\\x1b]52;c;SGk=\\x07il"
        assert row["command"].endswith("sh -c \\x1b]52;c;SGk=\\x07evil\\n[red]fake[/red] line")
        screen = terminal_text(app)
        assert_safe(screen)
        assert screen.count(SHOWN_NAME) == 2  # the header and the title
        assert "[red]fake[/red]" in screen
        shown = {}
        for tab in ("mounts", "network", "resources", "security"):
            await pilot.press("right_square_bracket")
            await settle(pilot)
            if tab == "mounts":  # the pane under the table shows the row under the cursor
                mounts = app.screen.query_one("#mount-table", LiveTable)
                mounts.select_key(
                    next(
                        k for k in mounts.rows if "SGk" in str(mounts.get_cell(k, "mountpoint"))
                    ).value
                )
                await pilot.pause()
            shown[tab] = terminal_text(app)
            assert_safe(shown[tab])
        assert "/data/\\x1b]52;c;SGk=\\x1b\\" in shown["mounts"]
        assert "\\u202eevil" in shown["mounts"]
        assert "corp\\x1b]52;c;SGk=\\x07.example [b]x[/b]" in shown["network"]
        sockets = app.screen.query_one("#socket-table", LiveTable)
        locals_ = [str(sockets.get_row_at(i)[2]) for i in range(sockets.row_count)]
        assert "@\\x1b]52;c;SGk=\\x07sock" in locals_
        assert "warning \\x1b]52;c;SGk=\\x1b\\" in shown["security"]
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        help_text = terminal_text(app)
        assert_safe(help_text)
        assert f"Keys: {SHOWN_NAME}" in help_text


async def test_a_notice_quoting_a_container_is_neither_markup_nor_raw(make_app):
    source = FixtureSource(live=True)
    app = make_app(source, interval=3600)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        source.fail_next = DebugtoolError(f"container [b]{OSC52_ST}[/b] vanished\x9b2J.")
        app.screen.action_refresh()
        await settle(pilot)
        messages = [n.message for n in app._notifications]
        assert "container [b]\\x1b]52;c;SGk=\\x1b\\[/b] vanished\\x9b2J." in messages
        assert not any(n.markup for n in app._notifications)
        screen = terminal_text(app)
        assert_safe(screen)
        assert "container [b]\\x1b]52;c;SGk=\\x1b\\[/b] vanished" in screen
