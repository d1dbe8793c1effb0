"""How the TUI writes text a container chose: escaped, and never read as markup.

What each value of a container, process, mount or socket becomes as text is the core views'
business (``debugtool.views``), the same in the CLI, the TUI and the report.
"""

from __future__ import annotations

from rich.text import Text

from debugtool.output import printable


def plain(text: str) -> Text:
    """Return text a container may have chosen as a Rich ``Text`` to show as it is.

    Control characters are escaped (``output.printable``: Rich lets ESC through, so an OSC 52
    clipboard write ended by ST would reach the terminal), and a ``Text`` is never read as
    markup, so ``[b]`` or ``[link=...]`` in a process name is shown, not applied.
    """
    return Text(printable(text))
