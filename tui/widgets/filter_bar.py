"""The ``/`` filter line: typing narrows the table below it, Enter keeps it, Esc clears it."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input


class FilterBar(Input):
    """An input docked above a table; hidden until ``/`` is pressed."""

    BINDINGS = [Binding("escape", "dismiss", "Clear filter", show=False)]

    @dataclass
    class Edited(Message):
        """The filter text changed (on every keystroke)."""

        bar: FilterBar
        text: str

    @dataclass
    class Done(Message):
        """The user left the filter: Enter keeps the text, Esc (``cleared``) empties it."""

        bar: FilterBar
        cleared: bool

    def __init__(self, placeholder: str = "filter", id: str | None = None) -> None:
        super().__init__(placeholder=placeholder, id=id)
        self.display = False

    def open(self) -> None:
        """Show the bar and put the cursor in it."""
        self.display = True
        # Focus now, not on the next idle (Widget.focus): keys typed right after '/' (a fast
        # typist, a paste, tmux send-keys) must land in the filter, not run 'e' or 't'.
        self.screen.set_focus(self)

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(self.Edited(self, event.value))

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.display = bool(self.value)
        self.post_message(self.Done(self, cleared=False))

    def action_dismiss(self) -> None:
        self.value = ""
        self.display = False
        self.post_message(self.Edited(self, ""))
        self.post_message(self.Done(self, cleared=True))
