"""`debugtool ps` against `docker ps`, with 30 Docker containers.

Goals (issue 14): `ps --runtime docker` at most 1.1x `docker ps`, `ps` over every runtime at
most 1.3x, `--version` at most 1.3x `python3 -c pass`. Beside them the floors: `python3 -c
pass`, bench/floor_ps_all.py, the smallest Python program asking every runtime what `debugtool
ps` asks, and bench/floor_ps.py, the smallest Python program doing `debugtool ps --runtime docker`'s
work (one request, the answer decoded, each running container's PID from runc's state file
checked against /proc, a line a container; with `--no-pid`, `docker ps`'s work), so that what is
the interpreter, what is the daemon and what is debugtool's own can be told apart.
Run with `bench/run ps`; needs root and a Docker daemon.

`ps -a` (issue 18) lists 5 exited containers too, with their last state (exit code, OOM kill,
restarts, started/finished) read from Docker's state files, against `docker ps -a`.
`DEBUGTOOL_BENCH_BEFORE=/path/to/other/venv/bin/debugtool` adds that build's `ps` rows to the
same interleaved run, so a change is measured before/after on one machine at one time.
"""

from __future__ import annotations

import compileall
import os
import shutil
import subprocess
import sys

from common import DEBUGTOOL, FLOOR_PS, ROOT, interleaved, report

#: ``debugtool ps``'s work over every runtime, done by the smallest Python program.
FLOOR_PS_ALL = [sys.executable, str(ROOT / "bench" / "floor_ps_all.py")]

CONTAINERS = 30
EXITED = 5
RUNS = 20


def docker_json_format(docker: str) -> bool:
    """Return whether this docker client understands ``ps --format json`` (Docker 23+)."""
    out = subprocess.run(
        [docker, "ps", "--format", "json"], capture_output=True, text=True, timeout=30
    )
    first = out.stdout.lstrip()[:1]
    return out.returncode == 0 and first in ("{", "")  # 20.10 prints the word "json"


def main() -> None:
    import harness  # tests/harness.py, on sys.path through common

    harness.ensure_images()
    # An installed debugtool runs from compiled bytecode (pip compiles it); a source tree under
    # PYTHONDONTWRITEBYTECODE would recompile every module on every run instead.
    compileall.compile_dir(str(ROOT / "debugtool"), quiet=1)
    started: list[str] = []
    try:
        for i in range(CONTAINERS):
            name = harness.unique(f"dtbench-ps{i}")
            cid = harness.run(
                "docker", "run", "-d", "--name", name, harness.DOCKER_IMAGE, "/bin/sleep", "100000"
            ).strip()
            started.append(cid)
        for i in range(EXITED):
            name = harness.unique(f"dtbench-psx{i}")
            cid = harness.run(
                "docker",
                "run",
                "-d",
                "--name",
                name,
                harness.DOCKER_IMAGE,
                "/bin/sh",
                "-c",
                "exit 3",
            ).strip()
            started.append(cid)
        docker = shutil.which("docker") or "/usr/bin/docker"
        pairs: list[tuple[str, list[str]]] = [
            ("debugtool ps --json (every runtime)", [*DEBUGTOOL, "ps", "--json"]),
            ("debugtool ps (table)", [*DEBUGTOOL, "ps"]),
            ("docker ps", [docker, "ps"]),
            (
                "debugtool ps -a --json --runtime docker",
                [*DEBUGTOOL, "ps", "-a", "--json", "--runtime", "docker"],
            ),
            (
                "debugtool ps -a --runtime docker (table)",
                [*DEBUGTOOL, "ps", "-a", "--runtime", "docker"],
            ),
            ("docker ps -a", [docker, "ps", "-a"]),
        ]
        before = os.environ.get("DEBUGTOOL_BENCH_BEFORE")
        if before:
            pairs += [
                ("BEFORE ps --json (every runtime)", [before, "ps", "--json"]),
                ("BEFORE --version", [before, "--version"]),
                (
                    "BEFORE ps --json --runtime docker",
                    [before, "ps", "--json", "--runtime", "docker"],
                ),
                (
                    "BEFORE ps -a --json --runtime docker",
                    [before, "ps", "-a", "--json", "--runtime", "docker"],
                ),
                (
                    "BEFORE ps -a --runtime docker (table)",
                    [before, "ps", "-a", "--runtime", "docker"],
                ),
            ]
        if docker_json_format(docker):
            pairs.append(("docker ps --format json", [docker, "ps", "--format", "json"]))
        if docker != "/usr/bin/docker" and shutil.which("/usr/bin/docker"):
            pairs.append(("/usr/bin/docker ps (20.10 client)", ["/usr/bin/docker", "ps"]))
        # What a user would otherwise run to see every runtime's containers.
        everything = (
            f"{docker} ps; podman ps; runc list; crun list; "
            "for ns in $(ctr namespaces ls -q); do ctr -n $ns task ls; done"
        )
        if all(shutil.which(t) for t in ("podman", "runc", "crun", "ctr")):
            pairs.append(("docker+podman+runc+crun+ctr (each ns) ps", ["sh", "-c", everything]))
        pairs += [
            (
                "debugtool ps --json --runtime docker",
                [*DEBUGTOOL, "ps", "--json", "--runtime", "docker"],
            ),
            ("debugtool ps --runtime docker (table)", [*DEBUGTOOL, "ps", "--runtime", "docker"]),
            ("floor_ps.py (ps --runtime docker's work)", FLOOR_PS),
            ("floor_ps.py --no-pid (docker ps's work)", [*FLOOR_PS, "--no-pid"]),
            ("floor_ps_all.py (ps's work, every runtime)", FLOOR_PS_ALL),
            ("debugtool --version", [*DEBUGTOOL, "--version"]),
            ("python3 -c pass", [sys.executable, "-c", "pass"]),
            ("python3 -I -S -c pass", [sys.executable, "-I", "-S", "-c", "pass"]),
        ]
        measures = interleaved(pairs, runs=RUNS)
        docker_ps = next(i for i, (label, _) in enumerate(pairs) if label == "docker ps")
        report(
            f"ps with {CONTAINERS} Docker containers (plus whatever else runs here)",
            measures,
            baseline=docker_ps,
            goal="ps --runtime docker <= 1.1x docker ps; ps (every runtime) <= 1.3x",
        )
        # CPU time is steadier than wall time on a shared machine, and shows where a Go client
        # and a Python one differ.
        print("| command | CPU ms per run (user+sys) |\n|---|---|")
        for m in measures:
            print(f"| {m.label} | {m.cpu_seconds / max(len(m.times), 1) * 1000:.1f} |")
        version = next(m for m in measures if m.label == "debugtool --version")
        bare = next(m for m in measures if m.label == "python3 -c pass")
        print(f"\n--version / python3 -c pass: {version.median / bare.median:.2f} (goal <= 1.3)")
        print(f"\n{len(harness.run('docker', 'ps', '-q').split())} Docker containers running")
    finally:
        for cid in started:
            harness.run("docker", "rm", "-f", cid, check=False)


if __name__ == "__main__":
    main()
