"""Benchmark: a support bundle of 20 running Docker containers, against the two ways a support
engineer gets one today, in one run on the same host:

(a) a hand-written script: per container ``docker inspect``, ``docker logs --tail N``,
    ``docker top``, ``nsenter -t PID -n ss -tanp``, the mountinfo and the cgroup files, tarred;
(b) ``sos report --batch -o process,networking,cgroups``.

Reports wall time (median), peak RSS, archive size and the ratios. Goal: at least 5x faster
than (a) with everything (a) has and more, and faster than (b) while covering all 20 containers.
"""

from __future__ import annotations

import glob
import os
import shutil
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the harness

import harness  # noqa: E402
from common import DEBUGTOOL, Measure, report, run_once  # noqa: E402

CONTAINERS = 20
LOG_LINES = 1000
RUNS = int(os.environ.get("BENCH_RUNS", "3"))

# (a): what a support engineer scripts by hand today.
BY_HAND = r"""
set -u
out=$(mktemp -d)
for id in $IDS; do
    d=$out/$id
    mkdir -p "$d/cgroup"
    docker inspect "$id" > "$d/inspect.json"
    docker logs --tail "$LOG_LINES" "$id" > "$d/logs.txt" 2>&1
    docker top "$id" > "$d/top.txt"
    pid=$(docker inspect -f '{{.State.Pid}}' "$id")
    nsenter -t "$pid" -n ss -tanp > "$d/ss.txt"
    cat "/proc/$pid/mountinfo" > "$d/mountinfo"
    while IFS=: read -r _ ctl path; do
        [ -n "$ctl" ] || ctl=unified
        ctl=${ctl#name=}
        dir=/sys/fs/cgroup/$ctl$path
        [ -d "$dir" ] || continue
        mkdir -p "$d/cgroup/$ctl"
        for f in "$dir"/*; do
            [ -f "$f" ] && cat "$f" > "$d/cgroup/$ctl/${f##*/}" 2>/dev/null
        done
    done < "/proc/$pid/cgroup"
done
tar czf "$OUT" -C "$out" .
rm -rf "$out"
"""

APP = (
    'i=0; while [ $i -lt 300 ]; do echo "GET /api/items/$i 200 0.012s user=u$i"; '
    "i=$((i+1)); done; nc -l -p 8080 & exec sleep 100000"
)


def sos_binary() -> list[str]:
    if shutil.which("sos"):
        return ["sos", "report"]
    return ["sosreport"]


def newest(pattern: str) -> str:
    found = sorted(glob.glob(pattern), key=os.path.getmtime)
    return found[-1] if found else ""


def members_per_container(path: str, ids: list[str]) -> int:
    """Return how many of the containers have a folder in a debugtool bundle."""
    with tarfile.open(path) as tar:
        names = "\n".join(tar.getnames())
    return sum(1 for cid in ids if cid[:12] in names)


def main() -> None:
    if os.geteuid() != 0:
        sys.exit("bench_bundle needs root")
    harness.ensure_images()
    work = Path(tempfile.mkdtemp(prefix="bench-bundle-"))
    with harness.Containers() as c:
        started = [c.docker(cmd=("sh", "-c", APP)) for _ in range(CONTAINERS)]
        ids = [s.id for s in started]
        time.sleep(2)
        dt_out = work / "debugtool.tar.gz"
        all_out = work / "debugtool-all.tar.gz"
        one_out = work / "debugtool-one-sample.tar.gz"
        hand_out = work / "by-hand.tar.gz"
        sos_dir = work / "sos"
        sos_dir.mkdir()
        commands = {
            "debugtool bundle (20 containers)": [
                *DEBUGTOOL,
                "bundle",
                *ids,
                "--log-lines",
                str(LOG_LINES),
                "-o",
                str(dt_out),
            ],
            "debugtool bundle --samples 1 (one cgroup read)": [
                *DEBUGTOOL,
                "bundle",
                *ids,
                "--log-lines",
                str(LOG_LINES),
                "--samples",
                "1",
                "-o",
                str(one_out),
            ],
            "(a) by hand: docker inspect/logs/top, ss, files": ["bash", "-c", BY_HAND],
            "(b) sos report -o process,networking,cgroups": [
                *sos_binary(),
                "--batch",
                "-o",
                "process,networking,cgroups",
                "--tmp-dir",
                str(sos_dir),
            ],
            "debugtool bundle --all (every container here)": [
                *DEBUGTOOL,
                "bundle",
                "--all",
                "-o",
                str(all_out),
            ],
        }
        env = {"IDS": " ".join(ids), "LOG_LINES": str(LOG_LINES), "OUT": str(hand_out)}
        measures = {label: Measure(label) for label in commands}
        sizes: dict[str, int] = {}
        # Interleaved so machine noise falls on every command alike; one warm-up round.
        for i in range(RUNS + 1):
            for f in (dt_out, one_out, all_out, hand_out):
                f.unlink(missing_ok=True)  # bundle -o refuses an existing file
            for label, argv in commands.items():
                for f in sos_dir.glob("*"):
                    f.unlink()
                elapsed, rss, cpu = run_once(argv, env=env)
                if i == 0:
                    continue
                m = measures[label]
                m.times.append(elapsed)
                m.peak_rss_kib = max(m.peak_rss_kib, rss)
                m.cpu_seconds += cpu
                if label.startswith("(b)"):
                    sizes[label] = os.path.getsize(newest(str(sos_dir / "*.tar.xz")))
        sizes[next(iter(commands))] = dt_out.stat().st_size
        sizes["(a) by hand: docker inspect/logs/top, ss, files"] = hand_out.stat().st_size
        sizes["debugtool bundle --samples 1 (one cgroup read)"] = one_out.stat().st_size
        sizes["debugtool bundle --all (every container here)"] = all_out.stat().st_size
        ordered = list(measures.values())
        report(
            f"bundle: {CONTAINERS} running Docker containers, {LOG_LINES} log lines each "
            f"(median of {RUNS})",
            ordered,
            goal=">= 5x faster than (a) with everything it has and more; faster than (b)",
        )
        base = ordered[0].median
        print("| command | archive size | containers covered | x slower than debugtool |")
        print("|---|---|---|---|")
        from debugtool.bundle.reader import open_bundle

        dt = open_bundle(str(dt_out))
        labels = list(commands)
        covered = {
            labels[0]: sum(
                1
                for cid in ids
                if {"inspect", "snapshot", "logs", "raw", "cgroup-samples"}
                <= {r["name"] for r in dt.collectors(cid) if r["status"] == "ok"}
            ),
            labels[1]: len(open_bundle(str(one_out)).containers),
            labels[2]: members_per_container(str(hand_out), ids),
            labels[3]: 0,  # no per-container data: host-wide process and network lists
            labels[4]: len(open_bundle(str(all_out)).containers),
        }
        for m in ordered:
            print(
                f"| {m.label} | {sizes[m.label] / 1024:.0f} KiB | {covered[m.label]} | "
                f"{m.median / base:.1f} |"
            )
        print()
        hand, sos = measures[labels[2]].median, measures[labels[3]].median
        print(
            f"(a) / debugtool = {hand / base:.1f}x, (b) / debugtool = {sos / base:.1f}x; "
            f"(a) / debugtool --samples 1 = {hand / measures[labels[1]].median:.1f}x"
        )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
