"""The dialog that asks where to write a file (``ctrl+s``, ``b``); returns the path or None."""

from __future__ import annotations

from pathlib import Path

from debugtool_tui.format import plain
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class SavePathScreen(ModalScreen[Path | None]):
    """An input prefilled with a default path: Enter saves there, Esc cancels (None)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, default: str, prompt: str, hint: str = "Enter saves, Esc cancels.") -> None:
        super().__init__()
        self.default = default
        self.prompt = prompt
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Vertical(id="save-box"):
            yield Static(plain(self.prompt), id="save-title")  # may name a container
            yield Input(value=self.default, id="save-path")
            yield Static(self.hint, id="save-hint")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        self.dismiss(Path(text).expanduser() if text else None)

    def action_cancel(self) -> None:
        self.dismiss(None)
