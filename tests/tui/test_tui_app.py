"""Pilot tests of the TUI: navigation, filter, sort, tabs, actions, failures, on a fixture Source."""

from __future__ import annotations

import sys

from debugtool_tui.screens.containers import ContainersScreen
from debugtool_tui.screens.detail import DetailScreen
from debugtool_tui.screens.help import HelpScreen
from debugtool_tui.screens.save import SavePathScreen
from debugtool_tui.widgets.live_table import LiveTable
from textual.widgets import Input, Static, TabbedContent
from tui_fixtures import NOW, WEB_ID, FixtureSource, settle

from debugtool.errors import RuntimeUnavailable
from debugtool.model import Container

SIZE = (120, 36)
DEBUGTOOL = [sys.executable, "-m", "debugtool"]


def names(table: LiveTable, column: str = "name") -> list[str]:
    """Return one column's cells, top to bottom."""
    return [str(table.get_cell(row.key, column)) for row in table.ordered_rows]


def cells(table: LiveTable, key: str) -> dict[str, str]:
    """Return a row's cells by column key."""
    return {c.key.value or "": str(table.get_cell(key, c.key)) for c in table.ordered_columns}


def status(app) -> str:
    return str(app.screen.query_one("#status", Static).render())


async def test_lists_every_container_with_cpu_memory_and_pods(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#containers", LiveTable)
        assert names(table) == ["api", "nightly-report", "tui-fixture-web", "unshare"]
        web = cells(table, WEB_ID)
        assert web["image"].startswith("debugtool-test/") and web["status"] == "running"
        assert web["cpu"] == "12.5"  # %CPU: 125 ms of CPU over one second
        assert web["memory"] == "1.6MiB / 64.0MiB"
        exited = cells(table, "9e3b" + "1" * 60)
        assert [exited[k] for k in ("cpu", "memory")] == ["-", "-"]
        raw = table.raw("9e3b" + "1" * 60) or ()
        assert raw[list(table.headers).index("host_pid")] is None  # HOST PID: off screen here
        assert {"pod", "pod_namespace"} <= set(table.headers)  # a Kubernetes container is listed
        api = cells(table, "7a1c" + "0" * 60)
        assert api["pod"] == "api-7f9c6d-x2x4q"
        assert "shop" in table.as_text()  # POD NAMESPACE: no room at 120 columns, kept
        assert "4 containers, 3 running" in status(app)


async def test_filter_narrows_and_escape_restores(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#containers", LiveTable)
        await pilot.press("slash", "w", "e", "b")
        assert names(table) == ["tui-fixture-web"]
        assert "1 match 'web'" in status(app)
        await pilot.press("escape")
        assert table.row_count == 4
        assert table.has_focus


async def test_sort_cycles_and_header_click_sorts(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#containers", LiveTable)
        await pilot.press("s")  # name -> the next column on screen (pod, at 120 columns)
        assert table.sort_column == "pod"
        assert names(table)[0] == "api"  # the only one in a pod
        table.sort_by("cpu")
        await pilot.pause()
        # numbers sort largest first; unknown last, and the sandbox in a host cgroup has no
        # usage of its own: it sorts with the exited container, not on top
        assert names(table)[:2] == ["api", "tui-fixture-web"]
        assert set(names(table)[2:]) == {"nightly-report", "unshare"}
        assert "sort: cpu desc" in status(app)
        await pilot.click("#containers", offset=(17, 0))  # the NAME header
        await pilot.pause()
        assert table.sort_column == "name"
        assert names(table)[0] == "api"


async def test_enter_opens_detail_and_escape_returns(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#containers", LiveTable)
        table.select_key(WEB_ID)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen)
        processes = app.screen.query_one("#process-table", LiveTable)
        assert processes.row_count == 8
        assert "tui-fixture-web" in str(app.screen.query_one("#title", Static).render())
        commands = [str(processes.get_row_at(i)[-1]) for i in range(processes.row_count)]
        assert commands[0] == "sleep 100000"
        assert "  \\_ nc -l -p 9000" in commands  # the tree drawn as ps f draws it
        await pilot.press("escape")
        assert isinstance(app.screen, ContainersScreen)
        assert table.selected_key == WEB_ID  # back where the user was


async def test_tabs_show_each_section(make_app):
    app = make_app()
    container = FixtureSource().base.container
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(DetailScreen(container))
        await settle(pilot)
        screen = app.screen
        tabs = screen.query_one(TabbedContent)
        await pilot.press("right_square_bracket")
        assert tabs.active == "mounts"
        mounts = screen.query_one("#mount-table", LiveTable)
        risks = names(mounts, "risk")[:2]
        assert risks == ["!!", "!"]  # the most serious first
        assert "container runtime socket (docker.sock) mounted" in str(
            screen.query_one("#mount-detail", Static).render()
        )
        assert "2 risky" in status(app)
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert tabs.active == "network"
        sockets = screen.query_one("#socket-table", LiveTable)
        first = [str(c) for c in sockets.get_row_at(0)]
        assert first[:7] == ["tcp6", "LISTEN", "[::]:8080", "*:*", "7", "28644", "busybox"]
        assert screen.query_one("#interface-table", LiveTable).row_count == 2
        assert "10.255.255.53" in str(screen.query_one("#dns", Static).render())
        await pilot.press("right_square_bracket")
        assert tabs.active == "resources"
        memory = str(screen.query_one("#res-memory", Static).render())
        assert "1.6MiB of 64.0MiB" in memory
        assert "limit 0.5 CPUs" in str(screen.query_one("#res-cpu", Static).render())
        assert "8 of 100" in str(screen.query_one("#res-pids", Static).render())
        await pilot.press("right_square_bracket")
        assert tabs.active == "security"
        text = str(screen.query_one("#security-text", Static).render())
        assert "Root filesystem: read-only" in text and "CAP_CHOWN" in text
        assert "Seccomp: filter" in text
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert tabs.active == "audit"
        audit = screen.query_one("#audit-table", LiveTable)
        assert audit.row_count == 2  # the third entry is about another container
        assert "root (alice)" in [str(c) for c in audit.get_row_at(0)]  # the login user
        await pilot.press("left_square_bracket")
        assert tabs.active == "security"


async def test_process_tree_flat_sort_and_filter(make_app):
    app = make_app()
    container = FixtureSource().base.container
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(DetailScreen(container))
        await settle(pilot)
        table = app.screen.query_one("#process-table", LiveTable)
        await pilot.press("v")
        assert "flat view" in status(app)
        assert not any("\\_" in str(table.get_row_at(i)[-1]) for i in range(table.row_count))
        await pilot.press("v", "s")  # sorting leaves the tree for the flat list
        assert app.screen.tree_view is False
        assert table.sort_column == "pid"
        await pilot.press("slash", "n", "c")
        assert table.row_count == 3  # nc -l, nc 127.0.0.1 and the shell that started them
        assert all("nc" in str(table.get_row_at(i)[-1]) for i in range(3))


async def test_exec_and_trace_run_the_debugtool_cli(make_app, recorder):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.screen.query_one("#containers", LiveTable).select_key(WEB_ID)
        await pilot.press("e", "enter")  # asks why; an empty reason is no reason
        assert recorder.terminal == [([*DEBUGTOOL, "shell", WEB_ID], False)]
        await pilot.press("t", "enter")  # from the list: the container's init, every syscall
        assert recorder.terminal[-1] == ([*DEBUGTOOL, "trace", WEB_ID], True)
        await pilot.press("enter")
        await settle(pilot)
        processes = app.screen.query_one("#process-table", LiveTable)
        processes.select_key(str(FixtureSource().base.processes[3].pid))  # nc -l, pid 9 inside
        await pilot.press("t", "enter")
        assert recorder.terminal[-1] == ([*DEBUGTOOL, "trace", WEB_ID, "--pid", "9"], True)
        await pilot.press("e", "enter")
        assert recorder.terminal[-1] == ([*DEBUGTOOL, "shell", WEB_ID], False)


async def test_shell_asks_why_and_passes_the_reason_on(make_app, recorder, monkeypatch):
    from debugtool_tui.screens.reason import ReasonScreen

    monkeypatch.setenv("DEBUGTOOL_REQUIRE_REASON", "1")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.screen.query_one("#containers", LiveTable).select_key(WEB_ID)
        await pilot.press("e")
        assert isinstance(app.screen, ReasonScreen)
        await pilot.press("enter")  # the policy wants one: refused, said why, nothing runs
        assert isinstance(app.screen, ReasonScreen)
        assert "required" in str(app.screen.query_one("#reason-error", Static).render())
        assert recorder.terminal == []
        app.screen.query_one(Input).value = "INC-4711: web answers 502"
        await pilot.press("enter")
        assert recorder.terminal == [
            ([*DEBUGTOOL, "shell", WEB_ID, "--reason", "INC-4711: web answers 502"], False)
        ]
        await pilot.press("e", "escape")  # cancelled: nothing runs
        assert len(recorder.terminal) == 1


async def test_enter_on_a_recorded_session_replays_it(make_app, recorder):
    app = make_app(source=FixtureSource(live=True))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.screen.query_one("#containers", LiveTable).select_key(WEB_ID)
        await pilot.press("enter")
        await settle(pilot)
        app.screen.query_one(TabbedContent).active = "audit"
        await settle(pilot)
        table = app.screen.query_one("#audit-table", LiveTable)
        text = table.as_text()
        assert "REASON" in text and "INC-4711: web answers 502" in text
        assert "root (alice)" in text  # the operator behind root
        table.focus()
        table.select_key("0")
        await pilot.press("enter")
        assert recorder.terminal[-1] == (
            [*DEBUGTOOL, "audit", "replay", "5e55c0de5e55c0de"],
            True,
        )
        table.select_key("1")  # the trace: not recorded
        await pilot.press("enter")
        assert len(recorder.terminal) == 1
        assert any("not recorded" in n.message for n in app._notifications)


async def test_exec_refuses_a_stopped_container(make_app, recorder):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.screen.query_one("#containers", LiveTable).select_key("9e3b" + "1" * 60)
        await pilot.press("e")
        assert recorder.terminal == []
        assert any("not running" in n.message for n in app._notifications)


async def test_bundle_runs_in_the_background_and_shows_the_path(
    make_app, recorder, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.screen.query_one("#containers", LiveTable).select_key(WEB_ID)
        await pilot.press("b")
        assert isinstance(app.screen, SavePathScreen)  # asks where first
        await pilot.press("enter")
        await settle(pilot)
        (argv,) = recorder.background
        path = argv[argv.index("-o") + 1]
        assert argv == [*DEBUGTOOL, "bundle", WEB_ID, "-o", path, "--json"]
        assert path.startswith(str(tmp_path) + "/debugtool-bundle-tui-fixture-web-20261118")
        assert f"bundle written: {path}" in status(app)
        assert any(path in n.message for n in app._notifications)


async def test_missing_features_are_absent_not_stubbed(make_app, recorder):
    app = make_app(actions=frozenset({"exec"}))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        keys = {b.binding.action for b in app.screen.active_bindings.values()}
        assert "exec" in keys
        assert "trace" not in keys and "bundle" not in keys
        await pilot.press("t", "b")
        assert recorder.terminal == [] and recorder.background == []


async def test_bundle_source_is_read_only_with_a_banner(make_app, recorder):
    source = FixtureSource(read_only=True, banner="Bundle /tmp/b.tar.gz, captured 2026-11-18.")
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        banner = app.screen.query_one("#banner", Static)
        assert banner.display and "captured 2026-11-18" in str(banner.render())
        keys = {b.binding.action for b in app.screen.active_bindings.values()}
        assert not keys & {"exec", "trace", "bundle"}
        assert "save" in keys
        await pilot.press("e", "t", "b")
        assert recorder.terminal == [] and recorder.background == []


async def test_save_view_asks_for_a_path_and_writes_the_table(make_app, tmp_path):
    app = make_app()
    target = tmp_path / "containers.txt"
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, SavePathScreen)
        field = app.screen.query_one(Input)
        assert "debugtool-containers-20261118-110640.txt" in field.value
        field.value = str(target)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ContainersScreen)
        text = target.read_text()
        # Every column, those the screen had no room for too.
        assert text.splitlines()[0].split()[:4] == ["ID", "NAME", "POD", "POD"]
        assert "HOST PID" in text.splitlines()[0]
        assert "tui-fixture-web" in text and " 12.5 " in text
        assert any(str(target) in n.message for n in app._notifications)
        await pilot.press("ctrl+s", "escape")  # cancelling writes nothing
        assert isinstance(app.screen, ContainersScreen)


async def test_help_lists_the_keys_of_the_screen(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        described = dict((d, k) for k, d in app.screen.keys)
        for description in ("Filter", "Sort", "Shell", "Trace", "Bundle", "Save view", "Quit"):
            assert description in described
        assert described["Filter"] == "/"
        await pilot.press("escape")
        assert isinstance(app.screen, ContainersScreen)


async def test_a_failed_refresh_keeps_the_last_rows(make_app):
    source = FixtureSource(live=True)
    app = make_app(source, interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        table = screen.query_one("#containers", LiveTable)
        assert table.row_count == 4
        source.fail_next = RuntimeUnavailable("docker", "the daemon does not answer")
        screen.action_refresh()
        await settle(pilot)
        assert table.row_count == 4
        assert any("does not answer" in n.message for n in app._notifications)
        assert app.is_running


async def test_a_bug_in_a_refresh_is_a_notice_not_a_crash(make_app):
    source = FixtureSource(live=True)
    app = make_app(source, interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        source.fail_next = KeyError("boom")
        app.screen.action_refresh()
        await settle(pilot)
        assert app.is_running
        assert any("refresh failed" in n.message for n in app._notifications)
        assert app.screen.query_one("#containers", LiveTable).row_count == 4


async def test_containers_appearing_and_exiting_are_added_and_marked(make_app):
    source = FixtureSource(live=True)
    app = make_app(source, interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        table = screen.query_one("#containers", LiveTable)
        source.added.append(
            Container(id="new" * 10, name="fresh", runtime="docker", status="running", pid=777)
        )
        source.removed.add("7a1c" + "0" * 60)
        screen.action_refresh()
        await settle(pilot)
        assert "fresh" in names(table)
        assert cells(table, "7a1c" + "0" * 60)["status"] == "removed"


async def until(pilot, condition, timeout: float = 20.0) -> None:
    """Let the app run until ``condition()`` holds (a generous bound, not a timing check)."""
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError("the condition never held")


async def test_polling_pauses_under_the_detail_screen(make_app):
    source = FixtureSource(live=True)
    app = make_app(source, interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: source.cgroup_calls > 6)  # the list polls while on top
        app.screen.query_one("#containers", LiveTable).select_key(WEB_ID)
        await pilot.press("enter")
        await settle(pilot)
        calls = source.cgroup_calls
        await until(pilot, lambda: len(source.snapshot_calls) >= 3)  # the detail refreshes
        await settle(pilot)
        # nothing on the list screen is visible
        assert source.cgroup_calls == calls, (calls, source.cgroup_calls)
        # only the first snapshot (and Network tab ones) read the network
        networks = [network for _, network in source.snapshot_calls]
        assert networks[0] is True and networks[-1] is False, networks
        await pilot.press("escape")
        await until(pilot, lambda: source.cgroup_calls > calls)  # back on top: polling again


async def test_initial_target_opens_on_its_detail(make_app):
    container = FixtureSource().base.container
    app = make_app(initial=container)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen)
        assert app.screen.container.id == WEB_ID
        await pilot.press("escape")
        assert isinstance(app.screen, ContainersScreen)


async def test_detail_of_a_stopped_container_says_so(make_app):
    app = make_app(initial=FixtureSource().containers().containers[2])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "not running" in status(app)
        assert app.is_running


async def test_large_process_tables_update_in_place(make_app):
    source = FixtureSource(extra_processes=3000)
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(DetailScreen(source.base.container))
        await settle(pilot)
        table = app.screen.query_one("#process-table", LiveTable)
        assert table.row_count == 3008
        cell = table.get_row("100005")[0]
        app.screen.on_detail_screen_collected(
            DetailScreen.Collected(source.snapshot(source.base.container), True, None, 0.01)
        )
        assert table.get_row("100005")[0] is cell  # unchanged rows keep their cells
        table.max_rows = 1000
        table.set_filter("")
        assert table.row_count == 1000 and table.total == 3008
        await pilot.press("slash", *"shard=2999")
        assert table.row_count == 1


def test_clock_is_injected(make_app):
    assert make_app().clock() == NOW


async def test_keys_typed_after_slash_go_to_the_filter(make_app, recorder):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", "e", "t", "b")  # letters that are also action keys
        assert recorder.terminal == [] and recorder.background == []
        assert app.screen.query_one(Input).value == "etb"


async def test_a_changed_value_is_redrawn_in_place(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#containers", LiveTable)
        y = table.get_row_index(WEB_ID) + 1  # under the header
        assert " 12.5 " in table.render_line(y).text
        other = table.render_line(y + 1).text
        rows = {key: list(table.raw(key) or ()) for key in [WEB_ID, *table._raw]}
        rows[WEB_ID][5] = 99.0
        table.update_rows(rows)
        await pilot.pause()
        assert " 99.0 " in table.render_line(y).text
        assert table.render_line(y + 1).text == other
        rows[WEB_ID][5] = 98.0
        table.update_rows(rows)
        assert " 98.0 " in table.render_line(y).text


async def test_escape_clears_a_kept_filter_before_going_back(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#containers", LiveTable)
        await pilot.press("slash", "w", "e", "b", "enter")  # Enter keeps the filter
        assert table.row_count == 1 and table.has_focus
        await pilot.press("escape")
        assert table.row_count == 4
        table.select_key(WEB_ID)
        await pilot.press("enter")
        await settle(pilot)
        processes = app.screen.query_one("#process-table", LiveTable)
        await pilot.press("slash", "n", "c", "enter", "escape")
        assert processes.row_count == 8 and isinstance(app.screen, DetailScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, ContainersScreen)


async def test_pod_columns_appear_with_a_kubernetes_container(make_app):
    source = FixtureSource(live=True)
    source.removed.add("7a1c" + "0" * 60)  # no Kubernetes container at first
    app = make_app(source, interval=3600)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#containers", LiveTable)
        assert "pod" not in [c.key.value for c in table.ordered_columns]
        table.sort_by("image")  # a later column: its index moves when pod columns come
        await pilot.pause()
        source.removed.clear()
        app.screen.action_refresh()
        await settle(pilot)
        assert [c.key.value for c in table.ordered_columns][:3] == ["id", "name", "pod"]
        assert table.sort_column == "image" and table.row_count == 4
        assert names(table)[2] == "api"  # registry.local/... after debugtool-test/..., then none


async def test_owner_column_appears_with_a_rootless_container(make_app):
    source = FixtureSource(live=True)
    app = make_app(source, interval=3600)
    async with app.run_test(size=(200, 36)) as pilot:  # room for RUNTIME and OWNER
        await settle(pilot)
        table = app.screen.query_one("#containers", LiveTable)
        assert "owner" not in table.headers
        rootless = Container(
            "5e1f" + "2" * 60, "rl-web", "podman", status="exited", owner="dtrootless"
        )
        source.added.append(rootless)
        app.screen.action_refresh()
        await settle(pilot)
        assert "owner" in table.headers
        keys = [c.key.value for c in table.ordered_columns]
        assert keys.index("owner") == keys.index("runtime") + 1
        assert cells(table, rootless.id)["owner"] == "dtrootless"
        assert cells(table, WEB_ID)["owner"] == "root"
