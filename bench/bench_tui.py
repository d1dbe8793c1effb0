"""CPU cost of ``debugtool tui`` left open, next to ``docker stats`` and ``top`` polling each second.

Starts 50 busybox Docker containers (one running 2,000 processes), runs ``debugtool tui
--interval 1`` in tmux (120x40) for the measured period on the containers screen, and in the same
period runs ``docker stats --no-stream`` once a second and ``top -b -d 1``. CPU time of each comes
from /proc/PID/stat (the TUI) or wait4 (the others). Then it opens the 2,000-process container's
detail screen and measures the TUI again. Everything started is removed by id.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import threading
import time
import uuid

from common import ROOT, run_once

CONTAINERS = 50
PROCESSES = 2000
PERIOD = 30.0
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """Return the CPU time (user + system, all threads) process ``pid`` has used."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, timeout=10).stdout


def wait_for(session: str, text: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in tmux("capture-pane", "-p", "-t", session):
            return
        time.sleep(0.2)
    raise RuntimeError(f"{text!r} never showed:\n{tmux('capture-pane', '-p', '-t', session)}")


def docker_stats_loop(stop: threading.Event, totals: dict[str, float]) -> None:
    """Run ``docker stats --no-stream`` once a second (back to back when one takes longer)."""
    while not stop.is_set():
        started = time.monotonic()
        _, _, cpu = run_once(["docker", "stats", "--no-stream"], check=False)
        totals["cpu"] += cpu
        totals["runs"] += 1
        time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))


def measure_period(tui_pid: int, seconds: float, peers: bool) -> dict[str, float]:
    """Return CPU seconds used during ``seconds`` by the TUI (and the peers, when asked)."""
    result: dict[str, float] = {}
    stop = threading.Event()
    stats = {"cpu": 0.0, "runs": 0.0}
    threads = []
    top_cpu: list[float] = []
    if peers:
        threads.append(threading.Thread(target=docker_stats_loop, args=(stop, stats)))

        def top() -> None:
            n = int(seconds)
            top_cpu.append(run_once(["top", "-b", "-d", "1", "-n", str(n)], check=False)[2])

        threads.append(threading.Thread(target=top))
    before = cpu_seconds(tui_pid)
    start = time.monotonic()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    result["tui"] = cpu_seconds(tui_pid) - before
    elapsed = time.monotonic() - start
    for t in threads:
        t.join()
    result["elapsed"] = elapsed
    if peers:
        result["docker_stats"] = stats["cpu"]
        result["docker_stats_runs"] = stats["runs"]
        # top ran for its own n seconds; it is scaled to the same period below.
        result["top"] = top_cpu[0] if top_cpu else float("nan")
    return result


def main() -> None:
    import harness  # tests/harness.py, on sys.path through common

    harness.ensure_images()
    session = f"dt-bench-tui-{uuid.uuid4().hex[:8]}"
    with harness.Containers() as containers:
        busy = containers.docker(
            cmd=(
                "/bin/sh",
                "-c",
                f"i=0; while [ $i -lt {PROCESSES - 2} ]; do sleep 100000 & i=$((i+1)); done; "
                "sleep 100000",
            ),
            name=f"dt-bench-busy-{uuid.uuid4().hex[:6]}",
        )
        for _ in range(CONTAINERS - 1):
            containers.docker()
        deadline = time.monotonic() + 120
        count = 0
        while time.monotonic() < deadline:
            count = len(open(f"/proc/{busy.pid}/task/{busy.pid}/children").read().split())
            if count >= PROCESSES - 2:
                break
            time.sleep(0.5)
        procs = count + 1
        command = (
            f"cd {shlex.quote(str(ROOT))} && exec {shlex.quote(sys.executable)} -m debugtool "
            "tui --interval 1"
        )
        tmux("new-session", "-d", "-x", "120", "-y", "40", "-s", session, command)
        try:
            tui_pid = int(tmux("list-panes", "-t", session, "-F", "#{pane_pid}").strip())
            wait_for(session, busy.name[:20])
            time.sleep(3)  # past the first listing and the warm-up of the import
            listing = measure_period(tui_pid, PERIOD, peers=True)
            tmux("send-keys", "-t", session, "/")
            tmux("send-keys", "-t", session, "-l", busy.name)
            tmux("send-keys", "-t", session, "Enter")
            time.sleep(1)
            tmux("send-keys", "-t", session, "Enter")
            wait_for(session, "processes, tree view")
            time.sleep(3)
            detail = measure_period(tui_pid, PERIOD, peers=False)
        finally:
            tmux("kill-session", "-t", session)

    def pct(cpu: float, seconds: float) -> str:
        return f"{cpu / seconds * 100:6.2f}"

    base = listing["tui"] / listing["elapsed"]
    top_period = int(PERIOD)
    rows = [
        ("debugtool tui, containers screen", listing["tui"], listing["elapsed"]),
        (
            f"docker stats --no-stream, back to back, ≤1/s ({int(listing['docker_stats_runs'])} runs)",
            listing["docker_stats"],
            listing["elapsed"],
        ),
        ("top -b -d 1 (htop-style poll)", listing["top"], float(top_period)),
        (
            f"debugtool tui, detail of the {procs}-process container",
            detail["tui"],
            detail["elapsed"],
        ),
    ]
    lines = [
        f"## TUI CPU use, {CONTAINERS} containers, one with {procs} processes, "
        f"{PERIOD:.0f} s at --interval 1",
        "",
        "goal: debugtool tui under 5% of one core",
        "",
        f"| {'what':<58} | CPU s | % of one core | ratio to tui |",
        f"|{'-' * 60}|-------|---------------|--------------|",
    ]
    for label, cpu, seconds in rows:
        ratio = (cpu / seconds) / base if base else float("nan")
        lines.append(f"| {label:<58} | {cpu:5.2f} | {pct(cpu, seconds):>13} | {ratio:12.2f} |")
    lines.append("")
    lines.append(
        "docker stats' own cost only: dockerd's work answering it is not counted. "
        f"Host load average during the run: {os.getloadavg()[0]:.1f}."
    )
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
