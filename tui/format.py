"""How the TUI writes text and numbers: container text, CPU %, memory, runtimes, sizes."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from debugtool.model import Container
from debugtool.output import human_size, printable


def plain(text: str) -> Text:
    """Return text a container may have chosen as a Rich ``Text`` to show as it is.

    Control characters are escaped (``output.printable``: Rich lets ESC through, so an OSC 52
    clipboard write ended by ST would reach the terminal), and a ``Text`` is never read as
    markup, so ``[b]`` or ``[link=...]`` in a process name is shown, not applied.
    """
    return Text(printable(text))


def cpu_text(value: Any) -> str:
    """Return ``12.5%`` (of one core), or '-' when unknown."""
    return "-" if value is None else f"{value:.1f}%"


def size_text(value: Any) -> str:
    """Return a byte count as ``1.5MiB``, or '-' when unknown."""
    return "-" if value is None else human_size(value)


def memory_text(value: Any) -> str:
    """Return ``usage / limit`` from a (usage, limit) pair; no limit shows as usage alone."""
    if not value:
        return "-"
    usage, limit = value
    if usage is None:
        return "-"
    if limit is None:
        return human_size(usage)
    return f"{human_size(usage)} / {human_size(limit)}"


def against(value: float | None, limit: float | None, unit: str = "") -> str:
    """Return ``value of limit (NN%)`` or ``value (no limit)``."""
    if value is None:
        return "unknown"
    shown = human_size(value) if unit == "bytes" else f"{value:g}{unit}"
    if not limit:
        return f"{shown} (no limit)"
    total = human_size(limit) if unit == "bytes" else f"{limit:g}{unit}"
    return f"{shown} of {total} ({value / limit * 100:.0f}%)"


def runtime_text(container: Container) -> str:
    """Return the runtime, with the containerd namespace when there is one."""
    if container.runtime == "containerd" and container.namespace:
        return f"containerd/{container.namespace}"
    return container.runtime
