"""The host line: how the TUI's header writes the host's load, CPU, memory, swap and uptime."""

from __future__ import annotations

from debugtool.collect.hostload import HostLoad
from debugtool.output import duration_text, human_size


def uptime_text(seconds: float | None) -> str:
    """Return an uptime as every duration is written (``output.duration_text``): ``3d 04h``,
    ``4h 05m``, ``12m 30s``."""
    return duration_text(seconds)


def _pair(used: int | None, total: int | None) -> str:
    if total is None:
        return "-"
    return f"{human_size(used)}/{human_size(total)}"


def line(h: HostLoad) -> str:
    """Return the host line: ``load 0.52 0.40 0.33 · CPU 12% · mem 3.1GiB/23.4GiB · swap
    0B/0B · up 3d 04h`` (a part not known is left out)."""
    parts = []
    if h.load is not None:
        parts.append("load " + " ".join(f"{v:.2f}" for v in h.load))
    if h.cpu_percent is not None:
        parts.append(f"CPU {h.cpu_percent:.0f}%" + (f" of {h.cpus}" if h.cpus else ""))
    if h.memory_total is not None:
        parts.append(f"mem {_pair(h.memory_used, h.memory_total)}")
    if h.swap_total is not None:
        parts.append(f"swap {_pair(h.swap_used, h.swap_total)}")
    if h.uptime is not None:
        parts.append(f"up {uptime_text(h.uptime)}")
    return " · ".join(parts)
