"""The Resources tab: CPU, memory, PIDs and IO against their limits, with session Sparklines."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Sparkline, Static

from debugtool.model import CgroupStats
from debugtool.output import human_size, printable
from tui.format import against, plain
from tui.usage import Series

METRICS = (("cpu", "CPU"), ("memory", "Memory"), ("pids", "PIDs"), ("io", "IO"))


class ResourcePanel(VerticalScroll):
    """One line and one Sparkline per resource; ``show`` redraws it from the latest sample."""

    def compose(self) -> ComposeResult:
        for key, _ in METRICS:
            yield Static(id=f"res-{key}", classes="res-line")
            yield Sparkline([], id=f"spark-{key}", classes="res-spark")
        yield Static(id="res-cgroup", classes="res-line")

    def show(self, stats: CgroupStats | None, series: Series | None) -> None:
        """Show ``stats`` (the latest sample) and the session's history in ``series``."""
        for key, line in self.lines(stats, series).items():
            self.query_one(f"#res-{key}", Static).update(plain(line))
        if series is not None:
            for key, values in (
                ("cpu", series.cpu_percent),
                ("memory", series.memory),
                ("pids", series.pids),
                ("io", series.io_bytes_per_s),
            ):
                self.query_one(f"#spark-{key}", Sparkline).data = list(values)

    @staticmethod
    def lines(stats: CgroupStats | None, series: Series | None) -> dict[str, str]:
        """Return the text of each line (also what ``ctrl+s`` saves)."""
        if stats is None:
            unknown = "unknown (no cgroup sample yet)"
            return {k: f"{label}: {unknown}" for k, label in METRICS} | {"cgroup": ""}
        cpu_now = series.cpu_now if series else None
        cpu = "CPU: " + ("-" if cpu_now is None else f"{cpu_now:.1f}% of one core")
        limit = stats.cpu_limit
        if limit:
            cpu += f", limit {limit:g} cores"
            if cpu_now is not None:
                cpu += f" ({cpu_now / (limit * 100) * 100:.0f}% of limit)"
        else:
            cpu += ", no limit"
        if stats.cpu_nr_throttled:
            cpu += f"; throttled {stats.cpu_nr_throttled} of {stats.cpu_nr_periods} periods"
        memory = "Memory: " + against(stats.memory_usage, stats.memory_limit, "bytes")
        if stats.memory_peak is not None:
            memory += f", peak {human_size(stats.memory_peak)}"
        if stats.oom_kills:
            memory += f", OOM kills: {stats.oom_kills}"
        pids = "PIDs: " + against(stats.pids_current, stats.pids_max)
        io = (
            f"IO: read {human_size(stats.io_read_bytes)}, written {human_size(stats.io_write_bytes)}"
            if stats.io_read_bytes is not None or stats.io_write_bytes is not None
            else "IO: unknown"
        )
        if series is not None and series.io_bytes_per_s:
            io += f", now {human_size(series.io_bytes_per_s[-1])}/s"
        cgroup = printable(  # the container's cgroup paths: a nested cgroup can be named freely
            f"cgroup {stats.version or '?'}: "
            + ", ".join(
                f"{ctl or 'unified'}={path}" for ctl, path in sorted(stats.paths.items())[:4]
            )
        )
        return {"cpu": cpu, "memory": memory, "pids": pids, "io": io, "cgroup": cgroup}
