"""Timing helpers shared by the benchmarks: medians of repeated runs, peak memory, ratios.

Every benchmark measures debugtool and the tool a user would otherwise run in the same run, on
the same machine, and reports the ratio; absolute times on these shared machines are noise.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the container harness
#: debugtool as a user runs it: the installed command, next to the benchmark venv's python
#: (``python -m debugtool`` would add runpy's imports, which no user pays).
DEBUGTOOL = [str(Path(sys.executable).with_name("debugtool"))]
FLOOR_PS = [sys.executable, str(ROOT / "bench" / "floor_ps.py")]
FLOOR_EXEC = [sys.executable, str(ROOT / "bench" / "floor_exec.py")]
FLOOR_EXEC_RUNTIME = [sys.executable, str(ROOT / "bench" / "floor_exec_runtime.py")]
FLOOR_LOGS = [sys.executable, str(ROOT / "bench" / "floor_logs.py")]
FLOOR_TOP = [sys.executable, str(ROOT / "bench" / "floor_top.py")]
FLOOR_NET = [sys.executable, str(ROOT / "bench" / "floor_net.py")]


@dataclass
class Measure:
    """Timings of one command: wall-clock seconds per run, and the largest peak RSS seen."""

    label: str
    times: list[float] = field(default_factory=list)
    peak_rss_kib: int = 0
    cpu_seconds: float = 0.0

    @property
    def median(self) -> float:
        return statistics.median(self.times) if self.times else float("nan")

    @property
    def p90(self) -> float:
        if len(self.times) < 2:
            return self.median
        return statistics.quantiles(self.times, n=10)[-1]


def run_once(
    argv: Sequence[str],
    env: dict[str, str] | None = None,
    stdin: int | None = subprocess.DEVNULL,
    check: bool = True,
) -> tuple[float, int, float]:
    """Run ``argv`` once with output discarded; return (wall seconds, peak RSS KiB, CPU seconds)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        stdin=stdin,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: {err[-500:]}")
    return elapsed, usage.ru_maxrss, usage.ru_utime + usage.ru_stime


def measure(
    label: str,
    argv: Sequence[str],
    runs: int = 20,
    warmup: int = 2,
    env: dict[str, str] | None = None,
    check: bool = True,
) -> Measure:
    """Run ``argv`` ``warmup`` + ``runs`` times; keep the timings of the last ``runs``."""
    m = Measure(label)
    for i in range(warmup + runs):
        elapsed, rss, cpu = run_once(argv, env=env, check=check)
        if i >= warmup:
            m.times.append(elapsed)
            m.peak_rss_kib = max(m.peak_rss_kib, rss)
            m.cpu_seconds += cpu
    return m


def measure_call(label: str, fn: Callable[[], object], runs: int = 20, warmup: int = 2) -> Measure:
    """Time a Python callable in this process (no memory figure)."""
    m = Measure(label)
    for i in range(warmup + runs):
        start = time.perf_counter()
        fn()
        if i >= warmup:
            m.times.append(time.perf_counter() - start)
    return m


def interleaved(
    pairs: Sequence[tuple[str, Sequence[str]]], runs: int = 20, warmup: int = 2, check: bool = True
) -> list[Measure]:
    """Measure several commands in alternation, so machine noise falls on all of them alike.

    Each round starts one command further on, so that no command always follows the same
    one: some work leaves the kernel warm for the next command (the first move into a cgroup
    waits for an RCU grace period, one right after another does not), and a fixed order
    would give that to the same command every round.
    """
    measures = [Measure(label) for label, _ in pairs]
    for i in range(warmup + runs):
        order = [(i + k) % len(pairs) for k in range(len(pairs))]
        for m, (_, argv) in ((measures[k], pairs[k]) for k in order):
            elapsed, rss, cpu = run_once(argv, check=check)
            if i >= warmup:
                m.times.append(elapsed)
                m.peak_rss_kib = max(m.peak_rss_kib, rss)
                m.cpu_seconds += cpu
    return measures


def report(title: str, measures: Sequence[Measure], baseline: int = 0, goal: str = "") -> str:
    """Print (and return) a table of medians, p90, peak RSS and the ratio to ``measures[baseline]``."""
    base = measures[baseline].median
    lines = [f"## {title}", ""]
    if goal:
        lines += [f"goal: {goal}", ""]
    lines.append(f"| {'command':<44} | median ms | p90 ms | peak RSS MiB | ratio |")
    lines.append(f"|{'-' * 46}|-----------|--------|--------------|-------|")
    for m in measures:
        ratio = m.median / base if base else float("nan")
        rss = f"{m.peak_rss_kib / 1024:.1f}" if m.peak_rss_kib else "-"
        lines.append(
            f"| {m.label:<44} | {m.median * 1000:9.1f} | {m.p90 * 1000:6.1f} | {rss:>12} | {ratio:5.2f} |"
        )
    text = "\n".join(lines) + "\n"
    print(text, flush=True)
    return text


def cpu_report(measures: Sequence[Measure]) -> None:
    """Print each command's CPU time (user+sys) per run and the load average: on a shared
    machine the CPU time is steadier than the wall time, and the load says how shared it was."""
    lines = ["| command | CPU ms per run (user+sys) |", "|---|---|"]
    for m in measures:
        lines.append(f"| {m.label} | {m.cpu_seconds / max(len(m.times), 1) * 1000:.1f} |")
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print("\n".join(lines) + f"\n\nload average at the end: {load}\n", flush=True)
