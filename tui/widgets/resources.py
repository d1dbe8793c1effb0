"""The Resources tab: CPU, memory, PIDs and IO against their limits, with session Sparklines."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from debugtool_tui.format import plain
from debugtool_tui.usage import Series
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Sparkline, Static

from debugtool.output import human_size, printable
from debugtool.snapshot import CgroupStats
from debugtool.views import cgroup

#: One line and one Sparkline each; the CPU line also says how much the limit throttled it.
METRICS = ("cpu", "memory", "pids", "io")

#: How each Sparkline's values read: its scale is drawn beside it in these words.
UNITS: dict[str, Callable[[float], str]] = {
    "cpu": lambda v: f"{v:.1f} %CPU",
    "memory": lambda v: human_size(v),
    "pids": lambda v: f"{v:.0f} pids",
    "io": lambda v: f"{human_size(v)}/s",
}


def history(series: Series | None) -> dict[str, Sequence[float]]:
    """Return each Sparkline's values, oldest first (empty before any sample)."""
    if series is None:
        return {key: () for key in METRICS}
    return {
        "cpu": series.cpu_percent,
        "memory": series.memory,
        "pids": series.pids,
        "io": series.io_bytes_per_s,
    }


def window_text(seconds: float) -> str:
    """Return how far back a Sparkline goes: ``last 58 s``, ``last 2 min``."""
    if seconds < 120:
        return f"last {seconds:.0f} s"
    return f"last {seconds / 60:.0f} min"


def scale(key: str, values: Sequence[float], seconds: float) -> str:
    """Return the three lines beside a Sparkline: its top (max), its window, its bottom (min).

    A Sparkline draws its lowest value as the shortest bar and its highest as the tallest, so
    these two are its scale.
    """
    if not values:
        return "no samples yet\n\n"
    unit = UNITS[key]
    return f"max {unit(max(values))}\n{window_text(seconds)}\nmin {unit(min(values))}"


class ResourcePanel(VerticalScroll):
    """One line and one Sparkline per resource; ``show`` redraws it from the latest sample."""

    def compose(self) -> ComposeResult:
        for key in METRICS:
            yield Static(id=f"res-{key}", classes="res-line")
            with Horizontal(classes="res-row"):
                yield Sparkline([], id=f"spark-{key}", classes="res-spark")
                yield Static(id=f"scale-{key}", classes="res-scale")
        yield Static(id="res-cgroup", classes="res-line")

    def show(self, stats: CgroupStats | None, series: Series | None) -> None:
        """Show ``stats`` (the latest sample) and the session's history in ``series``."""
        for key, line in self.lines(stats, series).items():
            self.query_one(f"#res-{key}", Static).update(plain(line))
        seconds = series.window if series is not None else 0.0
        for key, values in history(series).items():
            self.query_one(f"#spark-{key}", Sparkline).data = list(values)
            self.query_one(f"#scale-{key}", Static).update(scale(key, values, seconds))

    @staticmethod
    def scales(series: Series | None) -> list[str]:
        """Return what each Sparkline covers as a line of text (for a saved view)."""
        if series is None or not series.window:
            return []
        labels = cgroup.LABELS
        return [
            f"{labels[key]} history, {window_text(series.window)}: "
            f"min {UNITS[key](min(values))}, max {UNITS[key](max(values))}"
            for key, values in history(series).items()
            if values
        ]

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
