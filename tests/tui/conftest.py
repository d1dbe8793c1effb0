"""Fixtures of the TUI tests: a command-line recorder and a factory of apps on a fixture Source."""

from __future__ import annotations

import pytest
from tui_fixtures import NOW, FixtureSource, Recorder, seed_usage

from debugtool.model import Container


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def make_app(recorder: Recorder):
    """Return a factory of DebugtoolApp on a FixtureSource with a fixed clock."""
    from debugtool_tui.app import DebugtoolApp

    def make(
        source: FixtureSource | None = None,
        initial: Container | None = None,
        actions: frozenset[str] = frozenset({"exec", "trace", "bundle"}),
        interval: float = 3600.0,
        seed: bool = True,
    ) -> DebugtoolApp:
        source = source or FixtureSource()
        app = DebugtoolApp(
            source,
            initial=initial,
            interval=interval,
            clock=lambda: NOW,
            terminal=recorder.run_terminal,
            runner=recorder.run_background,
            actions=actions if not source.read_only else frozenset(),
        )
        if seed:
            seed_usage(app)
        return app

    return make
