"""debugtool's own entries in the command palette (ctrl+p): its actions and its containers."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

from debugtool.output import printable
from debugtool.views.containers import runtime_text

if TYPE_CHECKING:
    from debugtool_tui.app import DebugtoolApp

#: (title, action of the screen the palette was opened on, what it does). An action that
#: screen lacks or refuses (no trace on a bundle, no tree on the list) is left out.
ACTIONS = (
    ("Shell", "exec", "Open a debugtool shell in the container (e)"),
    ("Trace", "trace", "Trace the syscalls of the container or the selected process (t)"),
    ("Bundle", "bundle", "Write a support bundle of the container, asking where (b)"),
    ("Save view", "save", "Save what this screen shows as text, asking where (ctrl+s)"),
    ("Filter", "filter", "Show only the rows that contain a text (/)"),
    ("Sort", "sort", "Sort by the next column (s; shift+letter sorts by one column)"),
    ("Toggle tree", "toggle_tree", "Processes as a tree or a flat list (v)"),
    ("Refresh", "refresh", "Read everything again now (r)"),
    ("Back", "back", "Back to the previous screen (Esc)"),
)


class DebugtoolCommands(Provider):
    """The actions of the screen the palette was opened on, open-a-container, help and quit."""

    @property
    def tui(self) -> DebugtoolApp:
        return cast("DebugtoolApp", self.app)

    def commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        """Return (title, help, callback) of every entry the palette offers now."""
        screen = self.screen
        found: list[tuple[str, str, Callable[[], object]]] = []
        for title, action, help_text in ACTIONS:
            if not hasattr(screen, f"action_{action}"):
                continue
            if screen.check_action(action, ()) is False:
                continue
            found.append((title, help_text, partial(screen.run_action, action)))
        app = self.tui
        found += [
            ("Help", "Every key of this screen (?)", app.action_help),
            (
                "Screenshot",
                f"Save an SVG picture of this screen in {app.screenshot_directory()}",
                app.action_save_screenshot,
            ),
            ("Quit", "Leave debugtool (q)", app.exit),
        ]
        for container in app.known_containers():
            detail = f"{runtime_text(container)}  {container.image or '-'}  {container.status}"
            found.append(
                (
                    printable(f"Open {container.name}"),
                    printable(detail),
                    partial(app.open_container, container),
                )
            )
        return found

    async def discover(self) -> Hits:
        for title, help_text, callback in self.commands():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self.commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
