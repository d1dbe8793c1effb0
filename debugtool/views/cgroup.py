"""The text of a container's cgroup usage and limits, as ``inspect``, the console, the TUI's
Resources tab and the report write it."""

from __future__ import annotations

from debugtool.output import duration_text, human_size

TYPE_CHECKING = False
if TYPE_CHECKING:
    from debugtool.snapshot import CgroupStats

#: Each line's label, in the order the lines are shown.
LABELS = {
    "memory": "Memory",
    "cpu": "CPU",
    "throttled": "CPU throttled",
    "pids": "PIDs",
    "io": "IO",
}


def against(value: float | None, limit: float | None, unit: str = "") -> str:
    """Return ``value of limit (NN%)``, ``value (no limit)`` or ``unknown``.

    ``unit`` is ``bytes`` for sizes (``1.5MiB``), else written after the number.
    """
    if value is None:
        return "unknown"
    shown = human_size(value) if unit == "bytes" else f"{value:g}{unit}"
    if not limit:
        return f"{shown} (no limit)"
    total = human_size(limit) if unit == "bytes" else f"{limit:g}{unit}"
    return f"{shown} of {total} ({value / limit * 100:.0f}%)"


def memory(stats: CgroupStats) -> str:
    """Return usage against the limit, the peak and the OOM kills."""
    text = against(stats.memory_usage, stats.memory_limit, "bytes")
    if stats.memory_peak is not None:
        text += f", peak {human_size(stats.memory_peak)}"
    if stats.oom_kills is not None:
        text += f", OOM kills {stats.oom_kills}"
    return text


def cpu(stats: CgroupStats, rate: float | None = None) -> str:
    """Return the CPU in use (``rate``: percent of one core, when two samples gave one), the
    CPU time used, the limit in CPUs and the weight."""
    parts = []
    if rate is not None:
        parts.append(f"{rate:.1f}% of one core")
    if stats.cpu_usage_ns is not None:
        parts.append(f"{duration_text(stats.cpu_usage_ns / 1e9)} used")
    limit = stats.cpu_limit
    if limit:
        share = f" ({rate / limit:.0f}% of it)" if rate is not None else ""
        parts.append(f"limit {limit:g} CPUs{share}")
    else:
        parts.append("no limit")
    if stats.cpu_weight is not None:
        parts.append(f"weight {stats.cpu_weight}")
    return ", ".join(parts)


def cpu_rate(first: CgroupStats, last: CgroupStats) -> float | None:
    """Return the CPU used between two samples in percent of one core (None: not known)."""
    span = last.sampled_at - first.sampled_at
    if (
        last.shared_with_host
        or span <= 0
        or first.cpu_usage_ns is None
        or last.cpu_usage_ns is None
    ):
        return None
    return max(0, last.cpu_usage_ns - first.cpu_usage_ns) / 1e9 / span * 100


def throttled(stats: CgroupStats) -> str | None:
    """Return the periods the CPU limit throttled and for how long (None: not known)."""
    if stats.cpu_nr_periods is None:
        return None
    periods = "-" if stats.cpu_nr_throttled is None else str(stats.cpu_nr_throttled)
    ns = stats.cpu_throttled_ns
    seconds = duration_text(None if ns is None else ns / 1e9)
    return f"{periods} of {stats.cpu_nr_periods} periods ({seconds})"


def pids(stats: CgroupStats) -> str:
    """Return the number of tasks against the limit."""
    return against(stats.pids_current, stats.pids_max)


def io(stats: CgroupStats) -> str:
    """Return the bytes read and written."""
    if stats.io_read_bytes is None and stats.io_write_bytes is None:
        return "unknown"
    return f"read {human_size(stats.io_read_bytes)}, written {human_size(stats.io_write_bytes)}"


#: What a group shared with the host shows instead of usage (``CgroupStats.shared_with_host``).
HOST_CGROUP = "host cgroup"
#: Why, said once (on the memory line).
HOST_CGROUP_WHY = (
    "host cgroup: shared with host processes (or the host's root), so its usage is not "
    "this container's and none is shown"
)


def usage(stats: CgroupStats, rate: float | None = None) -> dict[str, str]:
    """Return each line's text by key (``LABELS`` names and orders them); the throttling line
    only when the cgroup counts periods. A group shared with the host has no usage: each line
    says ``host cgroup`` (``rate`` is ignored)."""
    if stats.shared_with_host:
        return {
            "memory": HOST_CGROUP_WHY,
            "cpu": HOST_CGROUP,
            "pids": HOST_CGROUP,
            "io": HOST_CGROUP,
        }
    lines = {"memory": memory(stats), "cpu": cpu(stats, rate)}
    periods = throttled(stats)
    if periods is not None:
        lines["throttled"] = periods
    lines["pids"] = pids(stats)
    lines["io"] = io(stats)
    return lines
