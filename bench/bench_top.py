"""``debugtool top`` on a container with 2,000 processes, against procps ``ps`` and ``docker top``.

The fair peer is the host's procps ``ps`` looking at exactly the container's processes with the
same columns: ``nsenter -t PID -p`` enters only the container's PID namespace (the host's mount
namespace keeps the host's ``ps`` binary, since the image's busybox ``ps`` lacks most ``-o``
fields), and ``unshare -m --mount-proc`` gives it a private /proc of that PID namespace, so it
reads stat/status/cmdline of the container's 2,001 processes and nothing else, as debugtool does.
``docker top`` is what a Docker user would type; it runs the host's ``ps`` over every host
process and filters by the container's PIDs.

More rows split debugtool's time: ``--version`` is the interpreter floor, ``ps --json`` is the
runtime discovery every targeted command pays before it reads anything, and floor_top.py is the
smallest Python program that does ``top pid:N --json``'s work (the same reads, the same JSON). ``DEBUGTOOL_BENCH_BEFORE=/path/to/other/venv/bin/debugtool`` adds that
build's ``top`` rows to the same rounds. A second table compares, inside one process,
debugtool's /proc reader with psutil doing the same job.

Run: bench/run top   (needs root, Docker and the test images)
"""

from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING

from common import DEBUGTOOL, FLOOR_TOP, cpu_report, interleaved, measure_call, report

if TYPE_CHECKING:
    import harness  # on sys.path once common is imported

    from debugtool.target import Target

PROCESSES = 2000
RUNS = int(os.environ.get("BENCH_RUNS", "10"))
COLUMNS = "pid,ppid,user,stat,pcpu,rss,nlwp,lstart,args"
PSUTIL_ATTRS = [
    "pid",
    "ppid",
    "username",
    "status",
    "cpu_times",
    "memory_info",
    "num_threads",
    "create_time",
    "cmdline",
]


def start_container(containers: harness.Containers) -> harness.Started:
    script = (
        f"i=0; while [ $i -lt {PROCESSES} ]; do sleep 100000 & i=$((i+1)); done; exec sleep 100000"
    )
    started = containers.docker(cmd=("sh", "-c", script))
    pidns = os.stat(f"/proc/{started.pid}/ns/pid").st_ino
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        inside = [n for n in os.listdir(f"/proc/{started.pid}/root/proc") if n.isdigit()]
        if len(inside) >= PROCESSES + 1:
            break
        time.sleep(0.5)
    else:
        raise RuntimeError("the container did not reach its process count in time")
    assert os.stat(f"/proc/{started.pid}/ns/pid").st_ino == pidns
    return started


def in_process(started: harness.Started) -> None:
    import psutil

    from debugtool.collect.processes import collect_processes, host_pids, pids_in_namespace
    from debugtool.model import Container
    from debugtool.target import pin

    target = pin(
        Container(
            id=started.id, name=started.name, runtime="docker", status="running", pid=started.pid
        )
    )
    pidns = target.namespaces["pid"]

    def psutil_iter() -> int:
        # psutil's batched API over every host process, filtered afterwards.
        n = 0
        for p in psutil.process_iter(PSUTIL_ATTRS):
            try:
                if os.stat(f"/proc/{p.pid}/ns/pid").st_ino == pidns:
                    n += 1
            except OSError:
                continue
        return n

    def psutil_oneshot() -> int:
        # psutil only on the container's PIDs, each read in one oneshot() batch.
        n = 0
        for pid in pids_in_namespace(pidns, host_pids()):
            try:
                proc = psutil.Process(pid)
                with proc.oneshot():
                    proc.as_dict(PSUTIL_ATTRS)
                n += 1
            except psutil.Error:
                continue
        return n

    count = len(collect_processes(target))
    assert count >= PROCESSES + 1, count
    # Before psutil runs: the Process objects psutil caches would make every garbage collection
    # in a later row traverse them.
    collector_phases(target)
    measures = [
        measure_call(
            "collect_processes (debugtool /proc reader)", lambda: collect_processes(target), runs=10
        ),
        measure_call("psutil.process_iter(attrs) + ns filter", psutil_iter, runs=10),
        measure_call("psutil oneshot() on the namespace's PIDs", psutil_oneshot, runs=10),
    ]
    report(f"in one process: {count} processes read", measures)
    target.close()


def collector_phases(target: Target) -> None:
    """Split collect_processes: the namespace asked about every host PID, the reads and the
    parsing, and the same syscalls with nothing done with their bytes (the kernel's share,
    which no parser can cut)."""
    from debugtool import procfs
    from debugtool.collect import processes

    pidns = target.namespaces["pid"]
    members = procfs.pids_seen_from(target.pid, pidns)
    assert members is not None, "this kernel cannot name a namespace's PIDs (before 6.11)"
    boot, uptime = procfs.boot_time(), processes._uptime_ticks()

    def scan_namespace() -> None:
        procfs.pids_seen_from(target.pid, pidns)

    def read_all() -> None:
        for pid, nspid in members.items():
            processes.read_process(pid, boot, uptime, nspid)

    def syscalls_alone() -> None:
        flags = os.O_RDONLY | os.O_CLOEXEC
        for pid in members:
            os.stat(f"/proc/{pid}")
            for name in ("stat", "cmdline"):
                fd = os.open(f"/proc/{pid}/{name}", flags)
                os.read(fd, 8192)
                os.close(fd)

    report(
        f"where collect_processes' time goes ({len(members)} processes, in-process)",
        [
            measure_call("collect_processes", lambda: processes.collect_processes(target)),
            measure_call("  PID namespace asked of every host PID", scan_namespace),
            measure_call("  read_process (owner, stat, cmdline) each", read_all),
            measure_call("  floor: stat(), open/read/close of those", syscalls_alone),
        ],
    )


def exec_peak_rss(pairs: list[tuple[str, list[str]]]) -> None:
    """Print each command's own peak RSS, measured by GNU time after exec.

    The interleaved table's peak RSS comes from wait4(), which also counts the benchmark's own
    Python image that a forked child holds until it execs: a floor of ~20 MiB under every row.
    """
    import subprocess
    import tempfile

    lines = ["| command | peak RSS MiB (after exec) |", "|---|---|"]
    for label, argv in pairs:
        with tempfile.NamedTemporaryFile("r") as out:
            subprocess.run(
                ["/usr/bin/time", "-f", "%M", "-o", out.name, *argv],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=True,
            )
            kib = int(out.read().split()[-1])
        lines.append(f"| {label} | {kib / 1024:.1f} |")
    print("\n".join(lines) + "\n", flush=True)


def main() -> None:
    import harness

    # An installed debugtool runs from compiled bytecode; with PYTHONDONTWRITEBYTECODE set (as in
    # some shells here) every run would recompile ~40 modules (50-180 ms). Cache it outside the
    # source tree instead.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ.setdefault("PYTHONPYCACHEPREFIX", "/var/tmp/debugtool-bench-pycache")
    with harness.Containers() as containers:
        started = start_container(containers)
        pairs = [
            (
                "ps -e (procps, nsenter -p + unshare --mount-proc)",
                [
                    "nsenter",
                    "-t",
                    str(started.pid),
                    "-p",
                    "--",
                    "unshare",
                    "-m",
                    "--mount-proc",
                    "ps",
                    "-e",
                    "-o",
                    COLUMNS,
                ],
            ),
            ("debugtool top NAME --json", [*DEBUGTOOL, "top", started.name, "--json"]),
            ("debugtool top NAME (table)", [*DEBUGTOOL, "top", started.name]),
            (
                "debugtool top pid:N --json (no discovery)",
                [*DEBUGTOOL, "top", f"pid:{started.pid}", "--json"],
            ),
            ("docker top NAME -o ...", ["docker", "top", started.name, "-o", COLUMNS]),
            ("floor: debugtool --version (interpreter)", [*DEBUGTOOL, "--version"]),
            ("floor: debugtool ps --json (discovery)", [*DEBUGTOOL, "ps", "--json"]),
            ("floor_top.py N (top pid:N --json's work)", [*FLOOR_TOP, str(started.pid)]),
        ]
        before = os.environ.get("DEBUGTOOL_BENCH_BEFORE")
        if before:  # another build's debugtool (its venv's script), in the same rounds
            pairs += [
                ("BEFORE top NAME --json", [before, "top", started.name, "--json"]),
                ("BEFORE top pid:N --json", [before, "top", f"pid:{started.pid}", "--json"]),
            ]
        measures = interleaved(pairs, runs=RUNS, warmup=2)
        report(
            f"top on a container with {PROCESSES + 1} processes",
            measures,
            goal="debugtool top --json within 1.5x of procps ps",
        )
        cpu_report(measures)
        exec_peak_rss(pairs[:4])
        in_process(started)


if __name__ == "__main__":
    sys.exit(main())
