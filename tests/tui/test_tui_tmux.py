"""End to end: ``python -m debugtool tui`` in a real terminal (tmux) against a real container."""

from __future__ import annotations

import functools
import os
import shlex
import shutil
import sys
import time
import uuid
from pathlib import Path

import harness
import pytest

ROOT = Path(__file__).resolve().parent.parent.parent

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux"),
]


SOCKET = f"dt-tui-test-{os.getpid()}"


tmux = functools.partial(harness.tmux, SOCKET)


def screen(session: str) -> str:
    return tmux("capture-pane", "-p", "-t", session).stdout


def wait_for(session: str, text: str, timeout: float = 30) -> str:
    """Poll the pane until ``text`` shows; return the pane. Fails with the last pane seen."""
    deadline = time.monotonic() + timeout
    shown = ""
    while time.monotonic() < deadline:
        shown = screen(session)
        if text in shown:
            return shown
        time.sleep(0.2)
    raise AssertionError(f"{text!r} did not appear within {timeout}s; the screen was:\n{shown}")


def test_tui_in_tmux_lists_opens_and_quits(containers):
    started = containers.docker(cmd=("/bin/sleep", "100000"))
    session = f"dt-tui-{uuid.uuid4().hex[:8]}"
    # Textual draws on stderr: leave it on the terminal.
    command = f"cd {shlex.quote(str(ROOT))} && exec {shlex.quote(sys.executable)} -m debugtool tui"
    assert (
        tmux("new-session", "-d", "-x", "120", "-y", "40", "-s", session, command).returncode == 0
    )
    socket_path = tmux("display", "-p", "-t", session, "#{socket_path}").stdout.strip()
    try:
        first = wait_for(session, started.name)
        assert "NAME" in first and "STATUS" in first and "%CPU" in first
        # The footer's last key shows once it is drawn 120 columns wide, whatever COLUMNS the
        # shell left (the app's own bindings can join the footer a frame after the screen's).
        wait_for(session, "? Help")
        tmux("send-keys", "-t", session, "/")
        wait_for(session, "filter containers")  # the filter has the keyboard now
        tmux("send-keys", "-t", session, "-l", started.name)
        tmux("send-keys", "-t", session, "Enter")
        wait_for(session, f"1 match '{started.name}'")
        tmux("send-keys", "-t", session, "Enter")
        detail = wait_for(session, "sleep 100000")
        assert "Processes" in detail and "Mounts" in detail and "Network" in detail
        assert f"pid {started.pid}" in detail
        tmux("send-keys", "-t", session, "q")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and tmux("has-session", "-t", session).returncode == 0:
            time.sleep(0.2)
        assert tmux("has-session", "-t", session).returncode != 0, "q did not quit the TUI"
    finally:
        tmux("kill-session", "-t", session)
        tmux("kill-server")  # this test's own server (its socket), nothing else
        if socket_path:
            Path(socket_path).unlink(missing_ok=True)
