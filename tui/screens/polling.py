"""A screen that refreshes itself in a worker while it is on top, for live sources only."""

from __future__ import annotations

from typing import ClassVar

from debugtool_tui.screens.actions import ActionScreen
from textual.timer import Timer
from textual.worker import Worker, WorkerState


class PollingScreen(ActionScreen):
    """One poll at a time, the next one scheduled when the last has been shown.

    ``poll()`` calls the subclass's ``start_poll()`` (which starts a worker in group
    ``POLL_GROUP``) unless a poll is running. The handler of the worker's result sets
    ``_polling`` back and calls ``_schedule()``; a worker that fails shows a notice, keeps the
    last data and schedules the next poll. A suspended screen (another one on top) polls not.
    """

    #: The worker group of this screen's polls.
    POLL_GROUP: ClassVar[str] = ""

    def __init__(self) -> None:
        super().__init__()
        self._timer: Timer | None = None
        self._polling = False
        self._failed: str | None = None

    # --- what subclasses provide ------------------------------------------------------------
    def start_poll(self) -> None:
        """Start the worker that collects one refresh."""
        raise NotImplementedError

    def poll_delay(self) -> float:
        """Return the seconds until the next poll."""
        return self.tui.interval

    # --- the loop -------------------------------------------------------------------------------
    def poll(self) -> None:
        """Start one poll in a worker unless one is running."""
        self._timer = None
        if self._polling:
            return
        self._polling = True
        self.start_poll()

    def _schedule(self) -> None:
        if self.tui.source.live and self.is_active and self._timer is None:
            self._timer = self.set_timer(self.poll_delay(), self.poll)

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def _show_failure(self, text: str) -> None:
        if text != self._failed:
            self.notify(text, title="Refresh failed", severity="warning", timeout=6)
        self._failed = text

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != self.POLL_GROUP:
            return
        if event.state == WorkerState.ERROR:
            # A bug or a missing collector: say so, keep the last good data, keep polling.
            self._polling = False
            self._show_failure(f"refresh failed: {event.worker.error}")
            self._schedule()
        elif event.state == WorkerState.CANCELLED:
            self._polling = False

    def on_screen_suspend(self) -> None:
        # Nothing on this screen is visible: stop polling until it is back on top.
        self._stop_timer()

    def action_refresh(self) -> None:
        self._stop_timer()
        self.poll()
