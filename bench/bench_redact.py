"""Benchmark (issue 19): what redaction costs in a bundle of 200 MB of logs across 20 containers.

Twenty Docker containers each write about 10 MB of realistic output (access log lines with
client addresses, key=value application lines, some with a secret-looking key, JSON lines,
stack traces) with busybox awk, then sleep. The bundle keeps every line (``--log-lines 0``,
``--max-log-bytes 16M``), so all 200 MB go through the redactor.

Reported, interleaved runs, median: the bundle's wall time, the redaction cost the manifest
records (CPU seconds in the redactor, both passes) and its share of the wall time (goal
<= 15 %); beside it the same bundle with ``--no-redact``, whose difference is what redaction
adds to the wall time. ``BENCH_MB`` (per container) and ``BENCH_RUNS`` change the size and
the number of rounds. Every container is removed by id; the bundles by path.

Last, on the no-redact bundle's logs in this process: debugtool's redactor (both passes) beside
floor_redact.py, the least work that masks these logs' secrets the same way (the output is
compared byte for byte), in CPU seconds: the gap to it is what the redactor's generality costs.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the harness

import harness  # noqa: E402
from common import DEBUGTOOL, run_once  # noqa: E402

CONTAINERS = int(os.environ.get("BENCH_CONTAINERS", "20"))
MB_EACH = int(os.environ.get("BENCH_MB", "10"))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
#: Distinct secret tokens each container logs (1 in 100 lines holds one). The redactor's second
#: pass looks for every value it masked in every file, so its cost grows with their number.
DISTINCT = int(os.environ.get("BENCH_DISTINCT", "1"))

# About 120 bytes a line on average: MB_EACH MB is LINES lines.
APP = r"""
awk -v lines="$LINES" -v seed="$SEED" -v distinct="$DISTINCT" 'BEGIN {
  srand(seed);
  split("GET POST PUT DELETE", verbs, " ");
  split("/api/orders /api/items /healthz /login /static/app.js /api/users/42", paths, " ");
  for (i = 0; i < lines; i++) {
    r = int(rand() * 100);
    ip = sprintf("10.%d.%d.%d", int(rand()*255), int(rand()*255), 1+int(rand()*250));
    if (r < 55) {
      printf "%s - - [06/Dec/2026:10:%02d:%02d +0000] \"%s %s HTTP/1.1\" %d %d \"-\" \"curl/8.5.0\" rt=%.3f\n", ip, i%60, i%60, verbs[1+i%4], paths[1+i%6], (r<50?200:503), int(rand()*9000), rand();
    } else if (r < 75) {
      printf "time=2026-12-06T10:%02d:%02dZ level=info msg=\"order processed\" order_id=%d user_id=%d duration_ms=%d worker=%d\n", i%60, i%60, i, int(rand()*100000), int(rand()*300), i%8;
    } else if (r < 88) {
      printf "{\"ts\":\"2026-12-06T10:%02d:%02dZ\",\"level\":\"debug\",\"logger\":\"db.pool\",\"msg\":\"checkout\",\"conn\":%d,\"wait_ms\":%d,\"peer\":\"%s:5432\"}\n", i%60, i%60, i%32, int(rand()*20), ip;
    } else if (r < 95) {
      printf "WARN retrying request to upstream %s:8080 after timeout (attempt %d of 5), session_timeout=30s\n", ip, 1+i%5;
    } else if (r < 99) {
      printf "ERROR unhandled exception in worker %d\n  File \"/app/server.py\", line %d, in handle\n    raise TimeoutError(\"upstream\")\nTimeoutError: upstream\n", i%8, 100+i%400;
    } else {
      printf "level=info msg=\"connecting\" dsn=\"postgres://app:S3cret%dValue@db.internal:5432/orders\" token=tok_%04d%08d\n", seed, seed, i % distinct;
    }
  }
}'
exec sleep 100000
"""


def log_size(cid: str) -> int:
    path = subprocess.run(
        ["docker", "inspect", "-f", "{{.LogPath}}", cid], capture_output=True, text=True
    ).stdout.strip()
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def manifest_of(path: Path) -> dict:
    with tarfile.open(path) as tar:
        first = tar.next()
        assert first is not None
        handle = tar.extractfile(first)
        assert handle is not None
        return json.load(handle)


def floor(bundle: Path, wall: float) -> None:
    """debugtool's redactor (both passes) and floor_redact.py on the same logs, the
    no-redact bundle's, in this process: CPU seconds each, and whether their output is the
    same bytes. The gap is what redaction costs above the least work these logs need."""
    import floor_redact

    from debugtool.bundle.redact import Redactor
    from debugtool.bundle.redaction import Step

    with tarfile.open(bundle) as tar:
        logs = {}
        for info in tar:
            handle = tar.extractfile(info) if info.name.endswith("/logs.txt") else None
            if handle is not None:
                logs[info.name] = handle.read()
    size = sum(map(len, logs.values())) / 1e6
    start = time.thread_time()
    ours = floor_redact.redact(logs)
    least = time.thread_time() - start
    step = Step(Redactor())
    start = time.thread_time()
    done = {rel: step.first(rel, data) for rel, data in logs.items()}
    done = {rel: step.second(rel, data) for rel, data in done.items()}
    spent = time.thread_time() - start
    print(
        f"in process, the bundle's {size:.0f} MB of logs: debugtool's redactor {spent:.2f} s CPU "
        f"({size / spent:.0f} MB/s, {spent / wall:.1%} of the redacted bundle's median wall); "
        f"floor_redact.py {least:.2f} s ({size / least:.0f} MB/s, {least / wall:.1%}); "
        f"ratio {spent / least:.1f}x; same output: {done == ours}"
    )


def main() -> None:
    if os.geteuid() != 0:
        sys.exit("bench_redact needs root")
    harness.ensure_images()
    work = Path(tempfile.mkdtemp(prefix="bench-redact-"))
    lines = MB_EACH * (1 << 20) // 120
    try:
        with harness.Containers() as c:
            started = [
                c.docker(
                    "-e",
                    f"LINES={lines}",
                    "-e",
                    f"SEED={i}",
                    "-e",
                    f"DISTINCT={DISTINCT}",
                    cmd=("sh", "-c", APP),
                )
                for i in range(CONTAINERS)
            ]
            ids = [s.id for s in started]
            # Wait until every container has written its lines (the json-file stops growing).
            last = -1
            while True:
                time.sleep(3)
                now = sum(log_size(cid) for cid in ids)
                if now == last:
                    break
                last = now
            print(
                f"{CONTAINERS} containers, json-file logs {last / 1e6:.0f} MB on disk, "
                f"{DISTINCT} distinct secret token(s) per container"
            )
            runs: dict[str, list[float]] = {"redacted": [], "no-redact": []}
            costs: list[float] = []
            shares: list[float] = []
            cpu_shares: list[float] = []
            sizes: list[int] = []
            logs = 0
            for i in range(RUNS):
                for label in ("redacted", "no-redact") if i % 2 == 0 else ("no-redact", "redacted"):
                    out = work / f"{label}.tar.gz"
                    out.unlink(missing_ok=True)
                    argv = [
                        *DEBUGTOOL,
                        "bundle",
                        *ids,
                        "--log-lines",
                        "0",
                        "--max-log-bytes",
                        "16M",
                        "--budget",
                        "600",
                        "--collector-timeout",
                        "300",
                        "-o",
                        str(out),
                    ]
                    if label == "no-redact":
                        argv.append("--no-redact")
                    elapsed, _rss, cpu = run_once(argv)
                    runs[label].append(elapsed)
                    if label == "redacted":
                        m = manifest_of(out)
                        costs.append(m["redaction"]["seconds"])
                        shares.append(m["redaction"]["seconds"] / elapsed)
                        cpu_shares.append(m["redaction"]["seconds"] / cpu)
                        sizes.append(m["redaction"]["bytes"])
                        logs = sum(
                            e["size"] for rel, e in m["files"].items() if rel.endswith("logs.txt")
                        )
            red, raw = statistics.median(runs["redacted"]), statistics.median(runs["no-redact"])
            cost = statistics.median(costs)
            print(
                f"logs in the bundle: {logs / 1e6:.0f} MB; redacted {statistics.median(sizes) / 1e6:.0f} MB"
            )
            print(
                f"| bundle, median of {RUNS} | wall | redaction (manifest, CPU s) | share of wall "
                "| share of the bundle's CPU |"
            )
            print("|---|---|---|---|---|")
            print(
                f"| redacted | {red:.2f} s | {cost:.2f} s | {statistics.median(shares):.1%} "
                f"| {statistics.median(cpu_shares):.1%} |"
            )
            print(f"| --no-redact | {raw:.2f} s | - | - | - |")
            print(
                f"wall time redaction adds: {red - raw:.2f} s ({(red - raw) / red:.1%} of the "
                f"redacted bundle's wall time); goal: redaction <= 15 % of the bundle's wall time"
            )
            print("all runs:", json.dumps({**runs, "redaction_seconds": costs}))
            floor(work / "no-redact.tar.gz", red)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
