"""The TUI on the live host and on a real bundle: a real ``debugtool bundle`` from the ``b`` key,
then that bundle opened offline (``--bundle``) in the same screens, read-only."""

from __future__ import annotations

import importlib.util
import os

import pytest
from debugtool_tui.app import DebugtoolApp
from debugtool_tui.screens.detail import DetailScreen
from debugtool_tui.widgets.live_table import LiveTable
from textual.widgets import Static
from tui_fixtures import settle

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
]

SIZE = (120, 36)


async def until(pilot, condition, timeout: float = 120.0) -> None:
    for _ in range(int(timeout / 0.1)):
        if condition():
            return
        await pilot.pause(0.1)
    raise AssertionError("the condition never held")


@pytest.mark.skipif(
    importlib.util.find_spec("debugtool.commands.bundle") is None, reason="no bundle command"
)
async def test_bundle_key_writes_a_real_bundle_that_opens_offline(
    containers, tmp_path, monkeypatch
):
    from debugtool.source import BundleSource, LiveSource

    started = containers.docker()
    monkeypatch.chdir(tmp_path)
    app = DebugtoolApp(LiveSource(), interval=3600)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#containers", LiveTable)
        assert started.id in table._raw  # noqa: SLF001 - the live listing found it
        assert str(table.get_cell(started.id, "status")) == "running"
        table.select_key(started.id)
        await pilot.press("b", "enter")  # the path it asks for: the default, here
        status = app.screen.query_one("#status", Static)
        await until(
            pilot,
            lambda: "bundle written" in str(status.render()) or "failed" in str(status.render()),
        )
        text = str(status.render())
        assert "bundle written: " in text, text
    written = sorted(tmp_path.glob("debugtool-bundle-*.tar.gz"))
    assert len(written) == 1

    source = BundleSource(str(written[0]))
    assert source.read_only
    app = DebugtoolApp(source)
    assert app.actions == frozenset()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        banner = str(app.screen.query_one("#banner", Static).render())
        assert f"Bundle {written[0]}" in banner and "captured" in banner
        table = app.screen.query_one("#containers", LiveTable)
        assert started.id in [key.value for key in table.rows]
        table.select_key(started.id)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen)
        processes = app.screen.query_one("#process-table", LiveTable)
        commands = [str(processes.get_row_at(i)[-1]) for i in range(processes.row_count)]
        assert any("sleep 100000" in c for c in commands), commands
        keys = {b.binding.action for b in app.screen.active_bindings.values()}
        assert not keys & {"exec", "trace", "bundle"}


def test_live_source_samples_cpu_and_memory_then_notices_the_exit(containers):
    from debugtool.errors import ContainerGone
    from debugtool.source import LiveSource

    started = containers.docker()
    source = LiveSource()
    try:
        listing = source.containers()
        (container,) = [c for c in listing.containers if c.id == started.id]
        first = source.cgroup(container)  # finds the cgroup directories: every field
        assert first is not None and first.memory_usage and first.cpu_usage_ns is not None
        assert first.pids_current is not None
        second = source.cgroup(container)  # reuses them, reads CPU and memory only
        assert second is not None and second.memory_usage and second.cpu_usage_ns is not None
        assert second.pids_current is None
        assert second.sampled_at >= first.sampled_at
        snapshot = source.snapshot(container, network=False)
        assert any(p.cmdline[:1] == ["/bin/sleep"] for p in snapshot.processes)
        containers.cleanup()  # the container goes away while the TUI holds it
        try:
            source.cgroup(container)
        except ContainerGone as exc:
            assert started.name in str(exc)
        else:
            raise AssertionError("a removed container still gave a sample")
        later = source.containers()
        assert started.id not in {c.id for c in later.containers if c.running}
    finally:
        source.close()


async def test_live_crash_loop_and_oom_kill_are_marked(containers):
    """Issue 18 on the live host: a Docker container restarting with ``--restart always`` shows
    its restarts and their rate, one the kernel OOM-killed under ``--memory 16m`` its exit."""
    import harness

    from debugtool.source import LiveSource

    loop = containers.docker("--restart", "always", cmd=("/bin/sh", "-c", "sleep 1; exit 3"))
    hog = containers.docker(
        "--memory",
        "16m",
        "--memory-swap",
        "16m",
        cmd=(
            "/bin/sh",
            "-c",
            "(echo 1000 > /proc/self/oom_score_adj; x=$(head -c 64m /dev/zero | tr '\\0' a)); "
            "exit $?",
        ),
    )

    def inspected(cid: str) -> dict:
        import json

        return json.loads(harness.run("docker", "inspect", cid))[0]

    harness.wait_for(lambda: inspected(hog.id)["State"]["OOMKilled"], what="the OOM kill")
    harness.wait_for(lambda: inspected(loop.id)["RestartCount"] >= 2, what="two restarts")
    app = DebugtoolApp(LiveSource(), interval=0.5)
    async with app.run_test(size=(200, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#containers", LiveTable)

        def status(cid: str) -> str:
            return str(table.get_cell(cid, "status")) if cid in table._raw else ""  # noqa: SLF001

        await until(pilot, lambda: status(hog.id) == "exited 137 OOM")
        # Its status flips between running and restarting; the marker is there in both.
        await until(pilot, lambda: status(loop.id).startswith("restarting ×"), timeout=60)
        assert "/min" in status(loop.id) or "/h" in status(loop.id)
