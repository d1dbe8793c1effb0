"""One process of a container in depth: what ``debugtool top TARGET --pid N`` shows, refreshed."""

from __future__ import annotations

from dataclasses import dataclass

from debugtool_tui.format import plain
from debugtool_tui.screens.polling import PollingScreen
from debugtool_tui.widgets.banner import Banner
from debugtool_tui.widgets.live_table import LiveTable
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Footer, Header, Static

from debugtool.errors import DebugtoolError
from debugtool.model import Container
from debugtool.output import printable
from debugtool.snapshot import ProcessDetail
from debugtool.views import procdetail, sockets

SOCKET_COLUMNS = sockets.COLUMNS


class ProcessScreen(PollingScreen):
    """One process (by host PID) of one container; Esc goes back to the container."""

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("r", "refresh", "Refresh", show=False),
        Binding("ctrl+s", "save", "Save view"),
    ]

    @dataclass
    class Collected(Message):
        """The process was read."""

        detail: ProcessDetail

    @dataclass
    class Failed(Message):
        """The process could not be read; ``error`` says why in one sentence."""

        error: str

    def __init__(self, container: Container, host_pid: int, nspid: int | None = None) -> None:
        super().__init__()
        self.container = container
        self.host_pid = host_pid
        self.nspid = nspid
        self.detail: ProcessDetail | None = None
        self._summary = ""
        self._environment = ""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Banner(id="banner")
        yield Static(id="title")
        with VerticalScroll(id="process-scroll"):
            yield Static(id="process-summary")
            yield Static("Open files", classes="section")
            yield LiveTable(procdetail.FILE_COLUMNS, id="file-table", classes="part")
            yield Static("Sockets", classes="section")
            yield LiveTable(SOCKET_COLUMNS, id="psocket-table", classes="part")
            yield Static("Threads", classes="section")
            yield LiveTable(procdetail.THREAD_COLUMNS, id="thread-table", classes="part")
            yield Static("Limits", classes="section")
            yield LiveTable(procdetail.LIMIT_COLUMNS, id="limit-table", classes="part")
            yield Static("Environment", classes="section")
            yield Static(id="environment")
        yield Static(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = printable(f"{self.container.name} / {self._pid_words()}")
        self.query_one(Banner).show_text(self.tui.source.banner(self.tui.clock()))
        title = Text.assemble(
            Text(printable(self.container.name), style="bold"),
            "  ",
            plain(f"pid {self.nspid if self.nspid is not None else '-'}, host pid {self.host_pid}"),
        )
        self.query_one("#title", Static).update(title)
        self.query_one("#process-scroll").focus()
        self.poll()

    # --- polling ------------------------------------------------------------------------------
    POLL_GROUP = "process"

    def start_poll(self) -> None:
        self.collect()

    @work(thread=True, exit_on_error=False, group=POLL_GROUP)
    def collect(self) -> None:
        try:
            detail = self.tui.source.process_detail(self.container, self.host_pid)
        except DebugtoolError as exc:
            self.post_message(self.Failed(exc.for_people()))
            return
        self.post_message(self.Collected(detail))

    def on_process_screen_collected(self, message: Collected) -> None:
        self._polling = False
        self._failed = None
        self.detail = message.detail
        self._show_detail()
        self.query_one("#status", Static).update(plain("; ".join(message.detail.warnings)))
        self._schedule()

    def on_process_screen_failed(self, message: Failed) -> None:
        self._polling = False
        self.query_one("#status", Static).update(plain(message.error))
        if self.detail is not None:
            self._show_failure(message.error)
        self._schedule()

    # --- rendering ------------------------------------------------------------------------------
    def _show_detail(self) -> None:
        d = self.detail
        if d is None:
            return
        pairs = procdetail.summary(d)
        width = max(len(label) for label, _ in pairs) + 1
        self._summary = "\n".join(
            printable(f"{label + ':':<{width}} {text}") for label, text in pairs
        )
        self.query_one("#process-summary", Static).update(Text(self._summary))
        self.query_one("#file-table", LiveTable).show({str(f.fd): f for f in d.files})
        rows = sockets.rows(d.sockets)
        keys = [str(n) for n in range(len(rows))]
        self.query_one("#psocket-table", LiveTable).show(dict(zip(keys, rows, strict=True)), keys)
        self.query_one("#thread-table", LiveTable).show({str(t.tid): t for t in d.threads})
        keys = [limit.name for limit in d.limits]
        self.query_one("#limit-table", LiveTable).show({lim.name: lim for lim in d.limits}, keys)
        lines = procdetail.environment_lines(d) or ["(empty)"]
        note = procdetail.masked_note(d)
        self._environment = "\n".join(
            printable(line) for line in [*lines, *([note] if note else [])]
        )
        self.query_one("#environment", Static).update(Text(self._environment))

    # --- actions ------------------------------------------------------------------------------
    def current_container(self) -> Container | None:
        return self.container

    def trace_pid(self) -> int | None:
        return self.nspid

    def _pid_words(self) -> str:
        """``pid 7 (host pid 28644)``: PID means the container's PID, as everywhere."""
        if self.nspid is None:
            return f"host pid {self.host_pid}"
        return f"pid {self.nspid} (host pid {self.host_pid})"

    def view_name(self) -> str:
        return f"process-{self.nspid or self.host_pid}"

    def view_text(self) -> str:
        header = f"{self.container.name} ({self.container.short_id}): {self._pid_words()}\n\n"
        parts = [self._summary]
        for title, table in (
            ("Open files", "#file-table"),
            ("Sockets", "#psocket-table"),
            ("Threads", "#thread-table"),
            ("Limits", "#limit-table"),
        ):
            parts += ["", title, self.query_one(table, LiveTable).as_text()]
        parts += ["Environment", self._environment, ""]
        return header + "\n".join(parts)

    def action_back(self) -> None:
        self.app.pop_screen()
