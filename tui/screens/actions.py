"""Actions both main screens offer on a container: exec a shell, trace, bundle, save the view."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

from debugtool_tui import commands
from debugtool_tui.screens.reason import ReasonScreen
from debugtool_tui.screens.save import SavePathScreen
from debugtool_tui.screens.trace import TraceChoice, TraceFilterScreen
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen

from debugtool.model import Container

if TYPE_CHECKING:
    from debugtool_tui.app import DebugtoolApp


class ActionScreen(Screen[None]):
    """A screen about one selected container, with the container actions bound.

    Subclasses say which container is selected, which process to trace, and what the current
    view holds as text. Actions whose command is missing (or read-only bundles) are hidden.
    """

    # Quit and help first in every screen's bindings, so the footer shows them however
    # narrow the terminal is (it lists the screen's keys before the app's, left to right).
    APP_BINDINGS = [
        Binding("q", "app.quit", "Quit"),
        Binding("question_mark", "app.help", "Help", key_display="?"),
    ]

    ACTION_BINDINGS = [
        Binding("e", "exec", "Shell"),
        Binding("t", "trace", "Trace"),
        Binding("b", "bundle", "Bundle"),
        Binding("ctrl+s", "save", "Save view"),
    ]

    @dataclass
    class BundleProgress(Message):
        """A line of progress from a running ``debugtool bundle``."""

        line: str

    @dataclass
    class BundleDone(Message):
        """``debugtool bundle`` ended: ``path`` when it succeeded, else ``error``."""

        path: str | None
        error: str | None

    @property
    def tui(self) -> DebugtoolApp:
        return cast("DebugtoolApp", self.app)

    # --- what subclasses provide ------------------------------------------------------------
    def current_container(self) -> Container | None:
        """Return the container the actions apply to."""
        raise NotImplementedError

    def trace_pid(self) -> int | None:
        """Return the PID inside the container that ``t`` traces (None: the container's init)."""
        return None

    def view_text(self) -> str:
        """Return what the screen shows now, as plain text."""
        raise NotImplementedError

    def view_name(self) -> str:
        """Return a short name of the current view for file names (``containers``)."""
        raise NotImplementedError

    def show_status(self, text: str) -> None:
        """Show a line of progress in the screen's status line."""

    # --- actions ------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in commands.FEATURE_MODULES:
            return action in self.tui.actions  # False: absent from the footer and the help
        if action == "refresh":
            return self.tui.source.live  # a bundle does not change
        return True

    def _running_container(self) -> Container | None:
        container = self.current_container()
        if container is None:
            self.notify("No container is selected.", severity="warning")
            return None
        if not container.running:
            self.notify(
                f"{container.name} is not running (status: {container.status}).",
                severity="warning",
            )
            return None
        return container

    def action_exec(self) -> None:
        """Ask why, then suspend the TUI and open ``debugtool shell`` on the selected container."""
        container = self._running_container()
        if container is None:
            return

        def start(reason: str | None) -> None:
            if reason is not None:  # None: Esc, nothing runs
                argv = commands.shell_argv(container, reason, self._via(container))
                self._in_terminal(argv, pause=False)

        self.app.push_screen(ReasonScreen(f"Open a shell in {container.name}"), start)

    def action_trace(self) -> None:
        """Ask which syscalls, then suspend the TUI and trace the selected process until Ctrl-C."""
        container = self._running_container()
        if container is None:
            return
        pid = self.trace_pid()
        what = f"{container.name}, pid {pid}" if pid is not None else f"{container.name} (init)"

        def start(choice: TraceChoice | None) -> None:
            if choice is None:
                return  # Esc: nothing traced
            syscalls = choice.syscalls
            argv = commands.trace_argv(
                container, pid, syscalls or None, choice.reason, self._via(container)
            )
            hint = (
                f"Tracing {what}: {syscalls or 'every syscall'}. "
                "Press Ctrl-C to stop and go back to the TUI."
            )
            self._in_terminal(argv, pause=True, hint=hint)

        self.app.push_screen(TraceFilterScreen(what), start)

    def _via(self, container: Container) -> list[str]:
        """Return the options that reach ``container``'s node (``-H NODE ...``) when the
        source is of many nodes; none on one host."""
        via = getattr(self.tui.source, "via", None)
        return list(via(container)) if via is not None else []

    def _in_terminal(self, argv: list[str], pause: bool, hint: str = "") -> None:
        try:
            code = self.tui.terminal(self.app, argv, pause, hint)
        except Exception as exc:  # a failed suspend or spawn must not end the session
            self.notify(f"Could not run {argv[3]}: {exc}", severity="error")
            return
        if code not in (0, 130):
            self.notify(f"debugtool {argv[3]} exited {code}.", severity="warning")
        self.after_command()

    def after_command(self) -> None:
        """Refresh what the command may have changed (processes, the audit log)."""

    def action_bundle(self) -> None:
        """Ask where, then write a support bundle of the selected container in the background."""
        container = self._running_container()
        if container is None:
            return
        default = commands.default_path("bundle", container.name, self.tui.clock(), ".tar.gz")

        def chosen(path: Path | None) -> None:
            if path is not None:
                self._write_bundle(container, str(path))

        self.app.push_screen(
            SavePathScreen(
                default,
                f"Write a support bundle of {container.name} to:",
                "Enter writes it (in the background), Esc cancels.",
            ),
            chosen,
        )

    def _write_bundle(self, container: Container, path: str) -> None:
        argv = commands.bundle_argv(container, path)
        self.notify(f"Writing a bundle of {container.name} to {path} ...")
        self.show_status(f"bundle: starting {path}")
        runner = self.tui.runner

        def write() -> None:
            try:
                finished = runner(argv, lambda line: self._report(self.BundleProgress(line)))
            except Exception as exc:  # report, never raise into the app
                self._report(self.BundleDone(None, f"debugtool bundle could not run: {exc}"))
                return
            if finished.returncode == 0:
                self._report(self.BundleDone(commands.bundle_result_path(finished, path), None))
            else:
                last = finished.stderr.strip().splitlines()[-1:] or [""]
                self._report(
                    self.BundleDone(None, f"bundle failed ({finished.returncode}): {last[0]}")
                )

        # An app worker, so leaving this screen does not cancel a bundle being written.
        self.app.run_worker(write, thread=True, exit_on_error=False, group="bundle")

    def _report(self, message: BundleProgress | BundleDone) -> None:
        """Post ``message`` to this screen, or notify on the app when the screen has gone."""
        if self.post_message(message) or not isinstance(message, self.BundleDone):
            return
        text = f"Bundle written: {message.path}" if message.path else str(message.error)
        self.app.call_from_thread(self.app.notify, text)

    def on_action_screen_bundle_progress(self, message: BundleProgress) -> None:
        self.show_status(f"bundle: {message.line}")

    def on_action_screen_bundle_done(self, message: BundleDone) -> None:
        if message.path:
            self.show_status(f"bundle written: {message.path}")
            self.notify(f"Bundle written: {message.path}", timeout=10)
        else:
            self.show_status(f"bundle failed: {message.error}")
            self.notify(str(message.error), severity="error", timeout=10)

    def action_save(self) -> None:
        """Ask for a path, then write the current view there as text."""
        container = self.current_container()
        name = container.name if container and self.view_name() != "containers" else ""
        default = commands.default_path(self.view_name(), name, self.tui.clock(), ".txt")
        prompt = f"Save the {self.view_name()} view as text to:"
        self.app.push_screen(SavePathScreen(default, prompt), self._save)

    def _save(self, path: Path | None) -> None:
        if path is None:
            return
        try:
            path.write_text(self.view_text(), encoding="utf-8")
        except OSError as exc:
            self.notify(f"Could not save to {path}: {exc.strerror}.", severity="error")
            return
        self.notify(f"Saved to {path}", timeout=8)
