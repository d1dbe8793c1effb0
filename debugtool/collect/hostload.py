"""The host at a glance: load, CPU, memory, swap and uptime, for the TUI's header line.

Live, psutil reads them (``getloadavg``, ``cpu_percent``, ``virtual_memory``, ``swap_memory``,
``boot_time``: a few small ``/proc`` files, well under a millisecond), imported when the first
sample is taken. From a bundle, the same numbers come from its ``host`` section, when the
bundle has one (``from_section``).
"""

from __future__ import annotations

import time

from debugtool.record import record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


@record
class HostLoad:
    """The host's load at one moment; None where it is not known."""

    load: tuple[float, float, float] | None = None  # 1, 5 and 15 minute load averages
    cpu_percent: float | None = None  # of all CPUs, since the last sample
    cpus: int | None = None
    memory_used: int | None = None  # bytes: total - available, as free(1)'s "used" and psutil
    memory_total: int | None = None
    swap_used: int | None = None
    swap_total: int | None = None
    uptime: float | None = None  # seconds


class HostSampler:
    """Takes ``HostLoad`` samples of this host; CPU % is measured between two samples."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._first = True

    def sample(self) -> HostLoad:
        """Return the host's load now (the first sample's CPU % is unknown)."""
        import psutil

        cpu = psutil.cpu_percent(interval=None)  # since the last call; the first is meaningless
        memory = psutil.virtual_memory()
        swap = psutil.swap_memory()
        first, self._first = self._first, False
        return HostLoad(
            load=psutil.getloadavg(),
            cpu_percent=None if first else cpu,
            cpus=psutil.cpu_count(),
            memory_used=memory.total - memory.available,
            memory_total=memory.total,
            swap_used=swap.used,
            swap_total=swap.total,
            uptime=max(0.0, self.clock() - psutil.boot_time()),
        )


def _number(value: Any) -> float | None:
    return float(value) if type(value) in (int, float) else None


def _int(value: Any) -> int | None:
    return int(value) if type(value) is int and value >= 0 else None


def from_section(section: Any, captured_at: float | None = None) -> HostLoad | None:
    """Return the host's load from a bundle's ``host`` section, None when it holds none of it.

    The section is read as psutil names things: ``load`` (or ``loadavg``) a list of three,
    ``cpu`` with ``percent`` (or ``cpu_percent``) and ``count`` (or ``logical``), ``memory`` (or
    ``virtual_memory``) with ``total`` and ``available`` (or ``used``), ``swap`` (or
    ``swap_memory``) with ``total`` and ``used``, ``boot_time`` (uptime is then counted to
    ``captured_at``) or ``uptime``. What is missing or of the wrong type stays unknown.
    """
    if not isinstance(section, dict):
        return None

    def part(*names: str) -> dict[str, Any]:
        for name in names:
            value = section.get(name)
            if isinstance(value, dict):
                return value
        return {}

    found = HostLoad()
    load = section.get("load", section.get("loadavg"))
    if isinstance(load, (list, tuple)) and len(load) == 3:
        values = [_number(v) for v in load]
        if all(v is not None for v in values):
            found.load = (values[0], values[1], values[2])  # type: ignore[assignment]
    cpu = part("cpu")
    found.cpu_percent = _number(cpu.get("percent", section.get("cpu_percent")))
    found.cpus = _int(cpu.get("count", cpu.get("logical", section.get("cpu_count"))))
    memory = part("memory", "virtual_memory")
    found.memory_total = _int(memory.get("total"))
    available = _int(memory.get("available"))
    if found.memory_total is not None and available is not None:
        found.memory_used = max(0, found.memory_total - available)
    else:
        found.memory_used = _int(memory.get("used"))
    swap = part("swap", "swap_memory")
    found.swap_total, found.swap_used = _int(swap.get("total")), _int(swap.get("used"))
    boot = _number(section.get("boot_time"))
    if boot is not None and captured_at:
        found.uptime = max(0.0, captured_at - boot)
    else:
        found.uptime = _number(section.get("uptime"))
    return None if found == HostLoad() else found
