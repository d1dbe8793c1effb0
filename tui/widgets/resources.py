"""The Resources tab: CPU, memory, PIDs and IO against their limits, with session Sparklines."""

from __future__ import annotations

from debugtool_tui.format import plain
from debugtool_tui.usage import Series
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Sparkline, Static

from debugtool.model import CgroupStats
from debugtool.output import human_size, printable
from debugtool.views import cgroup

#: One line and one Sparkline each; the CPU line also says how much the limit throttled it.
METRICS = ("cpu", "memory", "pids", "io")


class ResourcePanel(VerticalScroll):
    """One line and one Sparkline per resource; ``show`` redraws it from the latest sample."""

    def compose(self) -> ComposeResult:
        for key in METRICS:
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
        """Return the text of each line (also what ``ctrl+s`` saves), in the core's words
        (``views.cgroup``) with what only a session knows: the CPU and IO rates."""
        labels = cgroup.LABELS
        if stats is None:
            unknown = "unknown (no cgroup sample yet)"
            return {k: f"{labels[k]}: {unknown}" for k in METRICS} | {"cgroup": ""}
        usage = cgroup.usage(stats, series.cpu_now if series else None)
        lines = {key: f"{labels[key]}: {usage[key]}" for key in METRICS}
        if "throttled" in usage:
            lines["cpu"] += f"; throttled {usage['throttled']}"
        if series is not None and series.io_bytes_per_s:
            lines["io"] += f", now {human_size(series.io_bytes_per_s[-1])}/s"
        lines["cgroup"] = printable(  # the container's cgroup paths: a nested cgroup can be named
            f"cgroup {stats.version or '?'}: "
            + ", ".join(
                f"{ctl or 'unified'}={path}" for ctl, path in sorted(stats.paths.items())[:4]
            )
        )
        return lines
