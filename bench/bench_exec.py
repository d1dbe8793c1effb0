"""`debugtool exec` (ns and runtime modes) against nsenter, runc exec and docker exec, one run.

Goals (issue 14): `exec --mode ns FULL_ID` at most 0.5x `docker exec` and 1.0x `runc exec`;
`exec --mode ns NAME` at most 0.6x `docker exec`; runtime mode (Docker's API) at most 1.1x
`docker exec`. Beside them bench/floor_exec.py, the smallest Python program doing ns mode's
work (inspect, cgroups, one setns, fork, execve; no audit, no sealing, no checks), and
bench/floor_exec_runtime.py, the same for runtime mode (create, start, inspect), and with
`--accountable` the same with what debugtool does around it for the audit (the inspect and
the pidfd, two chained fsync'd records, the watchdog shell). Also the exec
path's import cost (`python -X importtime`), and, in this process, `exec_in` with a forked
against a spawned joiner, from a small heap and from one holding 300 MiB (the TUI's case),
which is how `should_spawn` chooses.
`DEBUGTOOL_BENCH_BEFORE=/path/to/other/venv/bin/debugtool` adds that build's exec rows to the
same interleaved run (as bench_ps.py does).
Run with `bench/run exec`; needs root and a Docker daemon.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile

from common import (
    DEBUGTOOL,
    FLOOR_EXEC,
    FLOOR_EXEC_RUNTIME,
    ROOT,
    interleaved,
    measure_call,
    report,
)

RUNS = 20


def import_times(module_args: list[str]) -> tuple[float, list[tuple[float, str]]]:
    """Return the total import time (ms) of ``python -X importtime ARGS`` and the top modules."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", *module_args],
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stderr
    rows = []
    for line in out.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
        if m:
            rows.append((int(m.group(2)) / 1000, len(m.group(3)), m.group(4)))
    total = sum(cum for cum, depth, _ in rows if depth == 1)
    top = sorted(((cum, name) for cum, depth, name in rows if depth <= 3), reverse=True)[:8]
    return total, top


def joiner_costs(name: str) -> None:
    """Time exec_in (ns mode, `true`) here with the joiner forked and spawned, small and big."""
    from debugtool.exec import exec_in
    from debugtool.runtimes import discover
    from debugtool.target import find, pin

    devnull = os.open(os.devnull, os.O_WRONLY)
    results = []
    with pin(find(name, discover(all=True))) as target:

        def run(spawn: bool):
            return lambda: exec_in(target, ["true"], "ns", spawn=spawn, stdout=devnull)

        for heap in ("small heap", "300 MiB heap"):
            ballast = b"x" * (300 << 20) if heap != "small heap" else b""
            results += [
                measure_call(f"exec_in ns, forked joiner, {heap}", run(False)),
                measure_call(f"exec_in ns, spawned joiner, {heap}", run(True)),
            ]
            del ballast
    os.close(devnull)
    report("exec_in from this process: fork or spawn the joiner", results, baseline=0)


def main() -> None:
    import harness  # tests/harness.py, on sys.path through common

    harness.ensure_images()
    audit = tempfile.NamedTemporaryFile(prefix="bench-exec-audit-", suffix=".jsonl", delete=False)
    os.environ["DEBUGTOOL_AUDIT_LOG"] = audit.name
    docker = shutil.which("docker") or "/usr/bin/docker"
    name = harness.unique("dtbench-exec")
    cid = harness.run(
        "docker", "run", "-d", "--name", name, harness.DOCKER_IMAGE, "/bin/sleep", "100000"
    ).strip()
    try:
        pid = harness.run("docker", "inspect", "-f", "{{.State.Pid}}", cid).strip()
        pairs: list[tuple[str, list[str]]] = [
            ("debugtool exec --mode ns FULL_ID -- true", [*DEBUGTOOL, "exec", "--mode", "ns", cid, "--", "true"]),
            ("debugtool exec --mode ns NAME -- true", [*DEBUGTOOL, "exec", "--mode", "ns", name, "--", "true"]),
            ("debugtool exec FULL_ID -- true (runtime: Docker API)", [*DEBUGTOOL, "exec", cid, "--", "true"]),
            ("nsenter -t PID -a true", ["nsenter", "-t", pid, "-a", "true"]),
            ("runc --root .../moby exec ID true",
             ["runc", "--root", "/run/docker/runtime-runc/moby", "exec", cid, "true"]),
            ("docker exec ID true", [docker, "exec", cid, "true"]),
            ("floor_exec.py ID (smallest Python ns exec)", [*FLOOR_EXEC, cid]),
            ("floor_exec_runtime.py ID (smallest Python API exec)", [*FLOOR_EXEC_RUNTIME, cid]),
            ("floor_exec_runtime.py --accountable ID (+ records, watchdog, pidfd)",
             [*FLOOR_EXEC_RUNTIME, "--accountable", cid]),
            ("debugtool --version (interpreter floor)", [*DEBUGTOOL, "--version"]),
        ]  # fmt: skip
        before = os.environ.get("DEBUGTOOL_BENCH_BEFORE")
        if before:  # another build's debugtool (its venv's script), in the same rounds
            pairs += [
                ("BEFORE exec --mode ns FULL_ID -- true", [before, "exec", "--mode", "ns", cid, "--", "true"]),
                ("BEFORE exec --mode ns NAME -- true", [before, "exec", "--mode", "ns", name, "--", "true"]),
                ("BEFORE exec FULL_ID -- true (runtime)", [before, "exec", cid, "--", "true"]),
            ]  # fmt: skip
        measures = interleaved(pairs, runs=RUNS)
        ns, ns_name, runtime, _, runc, dock, floor, floor_api, accountable, *_ = measures
        report(
            "exec latency (one Docker container, interleaved)",
            measures,
            baseline=5,
            goal="ns FULL_ID <= 0.5x docker exec and <= 1.0x runc exec; ns NAME <= 0.6x; "
            "runtime mode <= 1.1x",
        )
        print("CPU time per run (user+sys of the command and the children it waited for):")
        for m in measures:
            print(f"    {m.cpu_seconds / max(len(m.times), 1) * 1000:7.1f} ms  {m.label}")
        print()
        print(f"ns FULL_ID / runc exec:        {ns.median / runc.median:.2f} (goal <= 1.0)")
        print(f"ns FULL_ID / docker exec:      {ns.median / dock.median:.2f} (goal <= 0.5)")
        print(f"ns NAME / docker exec:         {ns_name.median / dock.median:.2f} (goal <= 0.6)")
        print(f"runtime mode / docker exec:    {runtime.median / dock.median:.2f} (goal <= 1.1)")
        print(f"floor_exec.py / docker exec:   {floor.median / dock.median:.2f}")
        print(f"floor_exec_runtime.py / docker exec: {floor_api.median / dock.median:.2f}")
        print(f"floor_exec_runtime.py --accountable / docker exec: "
              f"{accountable.median / dock.median:.2f}\n")  # fmt: skip
        joiner_costs(name)
        for label, args in (
            ("python -X importtime debugtool exec --mode ns ID -- true",
             [*DEBUGTOOL, "exec", "--mode", "ns", cid, "--", "true"]),
            ("python -X importtime debugtool exec ID -- true", [*DEBUGTOOL, "exec", cid, "--", "true"]),
        ):  # fmt: skip
            total, top = import_times(args)
            print(f"{label}: {total:.1f} ms of imports; largest:")
            for cum, module in top:
                print(f"    {cum:7.1f} ms  {module}")
            print()
    finally:
        harness.run("docker", "rm", "-f", cid, check=False)
        os.unlink(audit.name)


if __name__ == "__main__":
    main()
