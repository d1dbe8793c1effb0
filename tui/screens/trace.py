"""The ``t`` dialog: which syscalls to trace (``debugtool trace -e``) and why (``--reason``);
returns a ``TraceChoice`` or None."""

from __future__ import annotations

from dataclasses import dataclass

from debugtool_tui.format import plain
from debugtool_tui.screens.reason import check_reason, reason_hint, reason_policy
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

CLASSES = ("file", "network", "process", "memory", "signal")


def check_filter(text: str) -> str | None:
    """Return why ``text`` is not an ``-e`` filter ``debugtool trace`` takes (None: it is).

    The trace's own parser decides (``trace.decode.parse_filter``), so the dialog accepts
    exactly what the command does; where it cannot be loaded the command says it instead.
    """
    from debugtool.errors import DebugtoolError

    try:
        from debugtool.trace.decode import parse_filter

        parse_filter(text)
    except DebugtoolError as exc:
        return exc.for_people()
    except ImportError:
        return None
    return None


@dataclass
class TraceChoice:
    """What the dialog asked: the ``-e`` filter ("" for every syscall) and the reason."""

    syscalls: str
    reason: str


class TraceFilterScreen(ModalScreen[TraceChoice | None]):
    """Inputs for the ``-e`` filter, empty for every syscall, and the reason: Enter in either
    traces, Esc cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, what: str) -> None:
        super().__init__()
        self.what = what
        self.policy = reason_policy()

    def compose(self) -> ComposeResult:
        with Vertical(id="trace-box"):
            yield Static(plain(f"Trace {self.what}: which syscalls?"), id="trace-title")
            yield Input(placeholder="all", id="trace-filter")
            yield Static(
                f"Empty traces every syscall. Classes: {', '.join(CLASSES)}; or syscall names; "
                "comma-separated (network,openat).",
                id="trace-classes",
            )
            yield Input(placeholder="why (e.g. INC-1234: checking DNS)", id="trace-reason")
            yield Static(reason_hint(self.policy).replace("the shell", "the trace"))
            yield Static("", id="trace-error")
            yield Static("Enter starts the trace (Ctrl-C stops it), Esc cancels.", id="trace-hint")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = self.query_one("#trace-filter", Input).value.strip()
        reason = self.query_one("#trace-reason", Input).value.strip()
        error = (check_filter(text) if text else None) or check_reason(reason, self.policy)
        if error:
            self.query_one("#trace-error", Static).update(plain(error))
            return
        self.dismiss(TraceChoice(text, reason))

    def action_cancel(self) -> None:
        self.dismiss(None)
