"""Resource usage over the session: CPU % from successive cgroup samples, and short histories."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from debugtool.snapshot import CgroupStats
from debugtool.views.cgroup import cpu_rate

HISTORY = 120  # samples kept per container: two minutes at the default interval


@dataclass
class Series:
    """The recent values of one container's usage, oldest first, for the Sparklines."""

    cpu_percent: deque[float] = field(default_factory=lambda: deque(maxlen=HISTORY))
    memory: deque[float] = field(default_factory=lambda: deque(maxlen=HISTORY))
    pids: deque[float] = field(default_factory=lambda: deque(maxlen=HISTORY))
    io_bytes_per_s: deque[float] = field(default_factory=lambda: deque(maxlen=HISTORY))
    times: deque[float] = field(default_factory=lambda: deque(maxlen=HISTORY))  # sampled_at
    last: CgroupStats | None = None
    cpu_now: float | None = None  # % of one core over the last interval

    @property
    def window(self) -> float:
        """Return the seconds the history covers (0 with fewer than two samples)."""
        return self.times[-1] - self.times[0] if len(self.times) > 1 else 0.0


class UsageHistory:
    """Keeps each container's last cgroup sample and a short history of what it showed."""

    def __init__(self) -> None:
        self._series: dict[str, Series] = {}

    def add(self, container_id: str, stats: CgroupStats) -> Series:
        """Record one sample; return the container's series with ``cpu_now`` updated."""
        series = self._series.setdefault(container_id, Series())
        prev = series.last
        if prev is not None and stats.sampled_at <= prev.sampled_at:
            return series  # the same sample seen twice (list and detail polls share it)
        if prev is not None:
            elapsed = stats.sampled_at - prev.sampled_at
            rate = cpu_rate(prev, stats)
            if rate is not None:
                series.cpu_now = rate
                series.cpu_percent.append(rate)
            io_now = _io(stats)
            io_before = _io(prev)
            if io_now is not None and io_before is not None and elapsed > 0:
                series.io_bytes_per_s.append(max(0, io_now - io_before) / elapsed)
        if stats.memory_usage is not None:
            series.memory.append(float(stats.memory_usage))
        if stats.pids_current is not None:
            series.pids.append(float(stats.pids_current))
        series.times.append(stats.sampled_at)
        series.last = stats
        return series

    def get(self, container_id: str) -> Series | None:
        return self._series.get(container_id)

    def forget(self, keep: set[str]) -> None:
        """Drop the history of containers no longer listed."""
        for cid in [c for c in self._series if c not in keep]:
            del self._series[cid]


def _io(stats: CgroupStats) -> int | None:
    if stats.io_read_bytes is None and stats.io_write_bytes is None:
        return None
    return (stats.io_read_bytes or 0) + (stats.io_write_bytes or 0)
