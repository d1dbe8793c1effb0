"""The Logs tab of a container's detail: its output followed live, searched with ``/``.

A worker thread reads the container's log (``debugtool.logs.sources.open_log``: the same
reader as ``debugtool logs``; a bundle's captured ``logs.txt`` when the TUI reads a bundle)
and posts the lines as they come. The view keeps the newest ``MAX_LINES``. Scrolling up pauses
the view where it is (lines keep arriving below); scrolling back to the bottom, or ``End``,
follows again. ``/`` highlights every match of a text and ``n`` jumps to the next one.
Each line goes through ``printable``: a container's escape sequences show, never act.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, RichLog, Static

from debugtool.errors import DebugtoolError
from debugtool.output import printable

if TYPE_CHECKING:
    from debugtool_tui.app import DebugtoolApp

    from debugtool.logs.formats import LogLine
    from debugtool.model import Container

#: Lines kept in the view; older ones scroll away (``debugtool logs`` shows them all).
MAX_LINES = 5000
#: Lines of the log shown when the tab opens, before following.
FIRST_LINES = 1000
MATCH_STYLE = "black on yellow"


class LogView(RichLog):
    """The lines; scrolling up from the bottom pauses following (the pane says so)."""

    BINDINGS = [Binding("end", "follow", "Follow", show=False)]

    @dataclass
    class Scrolled(Message):
        """The user moved the view: ``at_end`` when it is at the bottom again."""

        at_end: bool

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        self.post_message(self.Scrolled(self.is_vertical_scroll_end))

    def action_follow(self) -> None:
        self.scroll_end(animate=False)
        self.post_message(self.Scrolled(True))


class LogsPane(Vertical):
    """A container's log, followed in a worker from when the tab is first shown."""

    DEFAULT_CSS = """
    LogsPane { height: 1fr; }
    LogsPane #log-view { height: 1fr; }
    LogsPane #log-status { height: 1; }
    """

    BINDINGS = [
        Binding("slash", "search", "Search"),
        Binding("n", "next_match", "Next match"),
        Binding("end", "follow", "Follow", show=False),
    ]

    @dataclass
    class Lines(Message):
        """A batch of lines arrived from the log."""

        lines: list[LogLine]

    @dataclass
    class Ended(Message):
        """The log ended (the container stopped, or a bundle's was read); ``error`` says why
        it could not be read, in one sentence, when it could not."""

        error: str

    def __init__(self, container: Container, id: str | None = None) -> None:
        super().__init__(id=id)
        self.container = container
        self.lines: deque[str] = deque(maxlen=MAX_LINES)  # printable text, as shown
        self.search = ""
        self.following = True
        self.ended = ""
        self._stop = threading.Event()
        self._started = False
        self._match_at = -1

    @property
    def tui(self) -> DebugtoolApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Input(placeholder="search the log (Enter keeps it, Esc clears it)", id="log-search")
        yield LogView(max_lines=MAX_LINES, id="log-view", wrap=False)
        yield Static(id="log-status")

    def on_mount(self) -> None:
        self.query_one("#log-search", Input).display = False
        self._render_status()

    def on_show(self) -> None:
        if not self._started:
            self._started = True
            self.read_log()

    def on_unmount(self) -> None:
        self._stop.set()

    # --- reading ------------------------------------------------------------------------------
    @work(thread=True, exit_on_error=False, group="logs")
    def read_log(self) -> None:
        """Read the log in this thread and post its lines, until it ends or the pane goes."""
        from debugtool.logs.sources import open_log

        source = self.tui.source
        container = self.container
        try:
            opener = getattr(source, "open_log", None)  # many nodes: the node reads it
            if opener is not None:
                log = opener(container)
            else:
                log = open_log(source, container, timeout=getattr(source, "timeout", 2.0))
            target_alive = None
            if source.live and container.running and hasattr(source, "target"):
                target_alive = source.target(container).alive

            def alive() -> bool:
                return not self._stop.is_set() and (target_alive is None or target_alive())

            follow = source.live and container.running  # over many nodes: on its node
            batches = log.read(FIRST_LINES, follow=follow, alive=alive)
            try:
                for batch in batches:
                    if self._stop.is_set():
                        break
                    self.post_message(self.Lines(batch))
            finally:
                batches.close()
        except DebugtoolError as exc:
            self.post_message(self.Ended(exc.for_people()))
            return
        self.post_message(self.Ended(""))

    def on_logs_pane_lines(self, message: Lines) -> None:
        view = self.query_one(LogView)
        at_end = view.is_vertical_scroll_end or not view.lines
        for line in message.lines:
            text = printable(line.line, multiline=True)
            self.lines.append(text)
            view.write(self._styled(text), scroll_end=self.following and at_end)
        self._render_status()

    def on_logs_pane_ended(self, message: Ended) -> None:
        if message.error:
            self.ended = message.error
        elif self.tui.source.live:
            self.ended = "the log ended: the container is not running"
        else:
            self.ended = "captured in the bundle"
        self._render_status()

    # --- following and pausing ------------------------------------------------------------------
    def on_log_view_scrolled(self, message: LogView.Scrolled) -> None:
        if message.at_end != self.following:
            self.following = message.at_end
            self._render_status()

    def action_follow(self) -> None:
        self.query_one(LogView).action_follow()

    # --- search ---------------------------------------------------------------------------------
    def action_search(self) -> None:
        bar = self.query_one("#log-search", Input)
        bar.display = True
        self.screen.set_focus(bar)

    @on(Input.Changed, "#log-search")
    def _search_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.search = event.value
        self._match_at = -1
        self._redraw()

    @on(Input.Submitted, "#log-search")
    def _search_kept(self, event: Input.Submitted) -> None:
        event.stop()
        event.input.display = bool(event.value)
        self.query_one(LogView).focus()
        if event.value:
            self.action_next_match()

    def on_key(self, event: events.Key) -> None:
        bar = self.query_one("#log-search", Input)
        if event.key == "escape" and bar.has_focus:
            event.stop()
            bar.value = ""
            bar.display = False
            self.query_one(LogView).focus()

    def action_next_match(self) -> None:
        """Scroll to the next line holding the search text (after the last one found)."""
        if not self.search:
            return
        lines = list(self.lines)
        needle = self.search.lower()
        for offset in range(1, len(lines) + 1):
            at = (self._match_at + offset) % len(lines)
            if needle in lines[at].lower():
                self._match_at = at
                view = self.query_one(LogView)
                view.scroll_to(y=max(0, at - view.size.height // 2), animate=False)
                self.following = False
                self._render_status()
                return

    def matches(self) -> int:
        """Return how many kept lines hold the search text."""
        needle = self.search.lower()
        return sum(needle in line.lower() for line in self.lines) if needle else 0

    def _styled(self, text: str) -> Text:
        styled = Text(text, no_wrap=True)
        if self.search:
            styled.highlight_words([self.search], style=MATCH_STYLE, case_sensitive=False)
        return styled

    def _redraw(self) -> None:
        view = self.query_one(LogView)
        y = view.scroll_y
        view.clear()
        for text in self.lines:
            view.write(self._styled(text), scroll_end=False)
        if self.following:
            view.scroll_end(animate=False)
        else:
            view.scroll_to(y=y, animate=False)
        self._render_status()

    # --- status ---------------------------------------------------------------------------------
    def status_text(self) -> str:
        parts = [f"{len(self.lines)} lines"]
        if self.ended:
            parts.append(self.ended)
        elif self.tui.source.live:
            parts.append(
                "following" if self.following else "paused (scrolled up): End to follow again"
            )
        if self.search:
            parts.append(f"{self.matches()} lines match '{self.search}' (n: next)")
        return " | ".join(parts)

    def _render_status(self) -> None:
        self.query_one("#log-status", Static).update(Text(printable(self.status_text())))

    def as_text(self) -> str:
        """Return the kept lines as shown (for the save-view action)."""
        return "".join(f"{line}\n" for line in self.lines)
