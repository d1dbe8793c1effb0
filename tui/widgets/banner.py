"""A one-line banner at the top of every screen: what is shown (a bundle, and when it was captured)."""

from __future__ import annotations

from debugtool_tui.format import plain
from textual.widgets import Static


class Banner(Static):
    """Shows the source's banner text; hidden when there is none (the live host)."""

    def show_text(self, text: str) -> None:
        self.display = bool(text)
        self.update(plain(text))  # a bundle's path and host name: not ours to trust
