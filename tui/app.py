"""The debugtool Textual app: holds the source, the clock and the runners; screens do the rest."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from debugtool_tui import commands
from debugtool_tui.palette import DebugtoolCommands
from debugtool_tui.screens import sorting
from debugtool_tui.screens.containers import ContainersScreen
from debugtool_tui.screens.help import HelpScreen
from debugtool_tui.usage import UsageHistory
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.screen import Screen

from debugtool.errors import DebugtoolError
from debugtool.model import Container
from debugtool.output import printable
from debugtool.source import Source

#: Seconds between two samples of the host line (at least; never faster than ``interval``).
HOST_EVERY = 2.0


class DebugtoolApp(App[None]):
    """``debugtool tui``: containers, then one container's detail, from a live host or a bundle.

    ``clock``, ``terminal`` (runs exec and trace on the real terminal) and ``runner`` (runs a
    bundle in the background) are injectable so tests see fixed times and captured command lines.
    """

    CSS_PATH = "debugtool.tcss"
    TITLE = "debugtool"
    COMMANDS = App.COMMANDS | {DebugtoolCommands}
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help", key_display="?"),
    ]

    def __init__(
        self,
        source: Source,
        initial: Container | None = None,
        interval: float = 1.0,
        clock: Callable[[], float] = time.time,
        terminal: commands.TerminalRunner = commands.run_in_terminal,
        runner: commands.ProcessRunner = commands.run_captured,
        actions: frozenset[str] | None = None,
    ) -> None:
        super().__init__()
        self.source = source
        self.initial = initial
        self.interval = interval
        self.clock = clock
        self.terminal = terminal
        self.runner = runner
        self.actions = commands.available_actions(source.read_only) if actions is None else actions
        self.usage = UsageHistory()

    def on_mount(self) -> None:
        self.show_host_line()
        if self.source.live:
            self.set_interval(max(HOST_EVERY, self.interval), self.show_host_line)
        self.push_screen(ContainersScreen())
        if self.initial is not None:
            from debugtool_tui.screens.detail import DetailScreen

            self.push_screen(DetailScreen(self.initial))

    def show_host_line(self) -> None:
        """Put the host's load, CPU, memory, swap and uptime in the header's title.

        Live, a sample is a few small /proc reads through psutil, taken on the timer; from a
        bundle, its ``host`` section once (nothing when it has none).
        """
        host_load = getattr(self.source, "host_load", None)
        if host_load is None:
            return
        try:
            load = host_load()
        except (DebugtoolError, OSError):
            load = None
        from debugtool.views.host import line

        text = line(load) if load is not None else ""
        self.title = printable(f"{self.TITLE}  {text}" if text else self.TITLE)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Textual's own palette entries, less those debugtool gives itself (Quit, Screenshot:
        Textual's saves to a downloads directory named after the title, which holds the host
        line's slashes, and fails)."""
        for command in super().get_system_commands(screen):
            if command.title not in ("Quit", "Screenshot"):
                yield command

    def screenshot_directory(self) -> Path:
        """Return where screenshots go: the current directory, else /tmp."""
        return commands.default_directory()

    def action_save_screenshot(self) -> None:
        """Save an SVG picture of the screen (without the palette) and say where."""

        def save() -> None:
            name = self.screen.sub_title or "screen"
            path = Path(commands.default_path("screenshot", name, self.clock(), ".svg"))
            try:
                saved = self.save_screenshot(filename=path.name, path=str(path.parent))
            except OSError as exc:
                self.notify(
                    f"Could not save a screenshot to {path}: {exc.strerror}.", severity="error"
                )
                return
            self.notify(f"Screenshot saved to {saved}", timeout=10)

        self.call_after_refresh(save)  # once the palette has gone from the screen

    def known_containers(self) -> list[Container]:
        """Return the containers the list holds (for the palette's open-by-name)."""
        for screen in self.screen_stack:
            if isinstance(screen, ContainersScreen):
                return sorted(screen.containers.values(), key=lambda c: c.name)
        return []

    def open_container(self, container: Container) -> None:
        """Show ``container``'s detail over the list (closing what was open on top of it)."""
        from debugtool_tui.screens.detail import DetailScreen

        while len(self.screen_stack) > 1 and not isinstance(self.screen, ContainersScreen):
            self.pop_screen()
        self.push_screen(DetailScreen(container))

    def action_help(self) -> None:
        """Show every key binding that works on the current screen: its own keys first."""
        screen = self.screen
        if isinstance(screen, HelpScreen):
            return
        keys: list[tuple[str, str]] = []
        seen: set[str] = set()
        for node in (screen, self):
            for binding in node.BINDINGS:
                if not isinstance(binding, Binding) or binding.key in seen:
                    continue
                if binding.action.startswith(sorting.ACTION):
                    continue  # listed below, with the column each letter sorts by
                if node.check_action(binding.action.partition("(")[0], ()) is False:
                    continue  # an action this host or this bundle does not offer
                seen.add(binding.key)
                keys.append(
                    (binding.key_display or self.get_key_display(binding), binding.description)
                )
        for key, active in screen.active_bindings.items():
            binding = active.binding
            if key not in seen and binding.description:
                seen.add(key)
                keys.append(
                    (binding.key_display or self.get_key_display(binding), binding.description)
                )
        sort_help = getattr(screen, "sort_help", None)
        if sort_help is not None:
            keys += sort_help()
        keys.append(("ctrl+p", "Command palette: every action, open a container by name"))
        self.push_screen(HelpScreen(screen.sub_title or type(screen).__name__, keys))

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Show a notice, never as markup and with control characters escaped.

        Every notice (``Widget.notify`` comes here too) may quote a container's name, a path
        or an error that names what a container holds, so none is read as markup.
        """
        super().notify(
            printable(message),
            title=printable(title),
            severity=severity,
            timeout=timeout,
            markup=False,
        )

    def on_unmount(self) -> None:
        self.source.close()
