"""The ``?`` dialog: every key binding of the screen it was opened from."""

from __future__ import annotations

from debugtool_tui.format import plain
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static


class HelpScreen(ModalScreen[None]):
    """Lists (key, what it does) pairs; any of Esc, q or ? closes it."""

    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("q", "close", "Close", show=False),
        Binding("question_mark", "close", "Close", show=False),
    ]

    def __init__(self, title: str, keys: list[tuple[str, str]]) -> None:
        super().__init__()
        self.title_text = title
        self.keys = keys

    def compose(self) -> ComposeResult:
        with Vertical(id="help-box"):
            yield Static(plain(f"Keys: {self.title_text}"), id="help-title")  # a container name
            table: DataTable[str] = DataTable(cursor_type="none", id="help-keys")
            table.add_column("KEY", key="key")
            table.add_column("ACTION", key="action")
            for key, description in self.keys:
                table.add_row(key, description)
            yield table
            yield Static("Esc closes this help.", id="help-hint")

    def action_close(self) -> None:
        self.dismiss(None)
