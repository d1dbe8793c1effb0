"""The ``e`` dialog: why a shell is opened (``debugtool shell --reason``); returns it or None.

The reason goes to the audit log with the session. Where the host's policy makes a reason
mandatory (``[audit] require_reason`` or ``DEBUGTOOL_REQUIRE_REASON``), an empty one is refused
here with the same sentence the command would say, so the shell is not started only to fail.
"""

from __future__ import annotations

from debugtool_tui.format import plain
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


def reason_policy() -> str:
    """Return what makes a reason mandatory here ("" when nothing does); a configuration
    that cannot be read counts as requiring one (the command will say what is wrong)."""
    from debugtool import audit
    from debugtool.errors import DebugtoolError

    try:
        return audit.reason_policy()
    except DebugtoolError as exc:
        return exc.message


def check_reason(text: str, policy: str) -> str | None:
    """Return why ``text`` cannot be the reason (None: it can)."""
    from debugtool import audit

    if len(text) > audit.REASON_LIMIT:
        return f"At most {audit.REASON_LIMIT} characters are kept; give a sentence or a ticket."
    if not text and policy:
        return f"A reason is required on this host ({policy})."
    return None


def reason_hint(policy: str) -> str:
    return (
        "Required on this host." if policy else "Optional; empty opens the shell without one."
    ) + " It is written to the audit log with who you are."


class ReasonScreen(ModalScreen[str | None]):
    """An input for the session's reason: Enter goes on, Esc cancels (nothing runs)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, what: str) -> None:
        super().__init__()
        self.what = what
        self.policy = reason_policy()

    def compose(self) -> ComposeResult:
        with Vertical(id="reason-box"):
            yield Static(plain(f"{self.what}: why?"), id="reason-title")
            yield Input(placeholder="e.g. INC-1234: checking DNS", id="reason-input")
            yield Static(reason_hint(self.policy), id="reason-hint")
            yield Static("", id="reason-error")
            yield Static("Enter goes on, Esc cancels.", id="reason-keys")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        error = check_reason(text, self.policy)
        if error:
            self.query_one("#reason-error", Static).update(plain(error))
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)
