"""Sorting a screen's table by key: one capital letter per column, as k9s does (shift+C: %CPU).

Pressing a column's letter sorts by it (numbers largest first), pressing it again reverses;
clicking the header does the same. The letters are the screen's; ``?`` lists them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from textual.binding import Binding

#: The action the sort bindings run (the help lists their letters apart from other keys).
ACTION = "sort_key"


def sort_bindings(letters: Iterable[str]) -> list[Binding]:
    """Return hidden bindings of ``letters`` (capitals) to ``sort_key('X')``.

    A terminal sends shift+c as ``C``; one that reports modifiers (the kitty protocol) as
    ``shift+c``: both are bound.
    """
    return [
        Binding(f"{letter},shift+{letter.lower()}", f"{ACTION}('{letter}')", "", show=False)
        for letter in sorted(set(letters))
    ]


def help_lines(letters: Mapping[str, str], headers: Mapping[str, str]) -> list[tuple[str, str]]:
    """Return (key, what it does) pairs of the sort letters of the columns in ``headers``."""
    lines = [
        (letter, f"Sort by {headers[key]} (again: reverse)")
        for letter, key in letters.items()
        if key in headers
    ]
    if lines:
        lines.append(("click", "A header sorts by its column (again: reverse)"))
    return lines
