"""`debugtool logs` against `docker logs`, on a Docker container that wrote about 10 MB of logs.

Goals (issue 15): `logs --tail 1000` at most 1.2x `docker logs --tail 1000`; and the latency of
`logs -f` from a line written in the container to that line on debugtool's stdout, beside
`docker logs -f`'s. Beside them the floor: bench/floor_logs.py, the smallest Python program
doing the same work (an inspect request, the json-file's end read backwards, 1,000 lines
decoded and written).

The container's shell copies a FIFO (bind-mounted from the host) to its stdout: the benchmark
writes a marker line into the FIFO and times until the follower prints it, so the latency is
that of the log path alone (the container's write, dockerd's json-file, the follower), not of
an exec starting a process.
Run with `bench/run logs`; needs root and a Docker daemon.
"""

from __future__ import annotations

import compileall
import os
import select
import shutil
import statistics
import subprocess
import tempfile
import time

from common import DEBUGTOOL, FLOOR_LOGS, ROOT, interleaved, report

RUNS = 20
LATENCY_SAMPLES = 40
#: One line of a busy service's log (91 bytes with its newline); 10 MB is about 110,000 lines.
LINE = "GET /api/v1/orders/1234567890 200 0.012s user=alice request_id=0123456789abcdef upstream=b2"
LOG_BYTES = 10_000_000


def wait_for_log(cid: str, size: int, timeout: float = 60) -> None:
    """Wait until the container's json-file holds ``size`` bytes or more."""
    path = f"/var/lib/docker/containers/{cid}/{cid}-json.log"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if os.stat(path).st_size >= size:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the container's log did not reach {size} bytes")


def follow_latency(argv: list[str], fifo: str, samples: int) -> list[float]:
    """Start a follower; write ``samples`` marker lines into the container's FIFO one at a
    time; return the seconds from each write to the marker on the follower's stdout."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    out = proc.stdout.fileno()
    seen = b""
    times: list[float] = []
    try:
        writer = os.open(fifo, os.O_WRONLY)  # the container's cat holds the reading end
        try:
            time.sleep(1.0)  # the follower has started and printed the tail
            for n in range(samples):
                marker = f"marker-{os.getpid()}-{n}".encode()
                start = time.perf_counter()
                os.write(writer, marker + b"\n")
                while marker not in seen:
                    ready, _, _ = select.select([out], [], [], 10)
                    if not ready:
                        raise RuntimeError(f"{argv[0]} did not print {marker!r} within 10s")
                    seen += os.read(out, 1 << 16)
                times.append(time.perf_counter() - start)
                seen = seen[seen.index(marker) + len(marker) :]
                time.sleep(0.05)
        finally:
            os.close(writer)
    finally:
        proc.terminate()  # ours, by its pid
        proc.wait(timeout=10)
        proc.stdout.close()
    return times


def main() -> None:
    import harness  # tests/harness.py, on sys.path through common

    harness.ensure_images()
    compileall.compile_dir(str(ROOT / "debugtool"), quiet=1)
    docker = shutil.which("docker") or "/usr/bin/docker"
    started: list[str] = []
    work = tempfile.mkdtemp(prefix="dtbench-logs-")
    fifo = os.path.join(work, "fifo")
    os.mkfifo(fifo)
    try:
        name = harness.unique("dtbench-logs")
        script = (
            f"yes '{LINE}' | head -c {LOG_BYTES}; "
            "while true; do cat /io/fifo; done"  # then copy each marker line to stdout
        )
        cid = harness.run(
            "docker", "run", "-d", "--name", name, "-v", f"{work}:/io",
            harness.DOCKER_IMAGE, "/bin/sh", "-c", script,
        ).strip()  # fmt: skip
        started.append(cid)
        wait_for_log(cid, LOG_BYTES)
        size = os.stat(f"/var/lib/docker/containers/{cid}/{cid}-json.log").st_size
        pairs: list[tuple[str, list[str]]] = [
            ("docker logs --tail 1000 NAME", [docker, "logs", "--tail", "1000", name]),
            ("debugtool logs --tail 1000 NAME", [*DEBUGTOOL, "logs", "--tail", "1000", name]),
            ("debugtool logs --tail 1000 FULL-ID", [*DEBUGTOOL, "logs", "--tail", "1000", cid]),
            ("floor_logs.py FULL-ID (its work, nothing else)", [*FLOOR_LOGS, cid]),
            (
                "debugtool logs --tail 1000 docker:NAME",
                [*DEBUGTOOL, "logs", "--tail", "1000", f"docker:{name}"],
            ),
            ("docker logs --tail 1000 -t NAME", [docker, "logs", "--tail", "1000", "-t", name]),
            (
                "debugtool logs --tail 1000 -t NAME",
                [*DEBUGTOOL, "logs", "--tail", "1000", "-t", name],
            ),
            (
                "debugtool logs --tail 1000 --json NAME",
                [*DEBUGTOOL, "logs", "--tail", "1000", "--json", name],
            ),
        ]
        measures = interleaved(pairs, runs=RUNS)
        report(
            f"logs of a container that wrote {LOG_BYTES / 1e6:.0f} MB "
            f"(json-file {size / 1e6:.1f} MB)",
            measures,
            baseline=0,
            goal="logs --tail 1000 <= 1.2x docker logs --tail 1000",
        )
        print("| command | CPU ms per run (user+sys) |\n|---|---|")
        for m in measures:
            print(f"| {m.label} | {m.cpu_seconds / max(len(m.times), 1) * 1000:.1f} |")
        print()
        print("## logs -f: from a line written in the container to the line on stdout\n")
        print("| follower | median ms | p90 ms | max ms |\n|---|---|---|---|")
        for label, argv in (
            ("docker logs -f --tail 0", [docker, "logs", "-f", "--tail", "0", name]),
            ("debugtool logs -f --tail 0", [*DEBUGTOOL, "logs", "-f", "--tail", "0", name]),
        ):
            times = sorted(follow_latency(argv, fifo, LATENCY_SAMPLES))
            p90 = statistics.quantiles(times, n=10)[-1]
            print(
                f"| {label} | {statistics.median(times) * 1000:.2f} | {p90 * 1000:.2f} "
                f"| {times[-1] * 1000:.2f} |"
            )
    finally:
        for cid in started:
            harness.run("docker", "rm", "-f", cid, check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
