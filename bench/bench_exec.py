"""`debugtool exec` (ns and runtime modes) against nsenter, runc exec and docker exec, one run.

Goal: ns mode no slower than `runc exec` and at most 0.6x `docker exec`. Also the exec path's
import cost (`python -X importtime`) and the resolution floor (`debugtool --version`), and, in
this process, `exec_in` with a forked against a spawned joiner, from a small heap and from one
holding 300 MiB (the TUI's case), which is how `_should_spawn` chooses.
Run with `bench/run exec`; needs root and a Docker daemon.
"""

from __future__ import annotations

import compileall
import os
import re
import shutil
import subprocess
import sys
import tempfile

from common import DEBUGTOOL, ROOT, interleaved, measure_call, report

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
    compileall.compile_dir(str(ROOT / "debugtool"), quiet=1)
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
            ("debugtool exec --mode ns C -- true", [*DEBUGTOOL, "exec", "--mode", "ns", cid, "--", "true"]),
            ("debugtool exec C -- true (runtime: Docker API)", [*DEBUGTOOL, "exec", cid, "--", "true"]),
            ("nsenter -t PID -a true", ["nsenter", "-t", pid, "-a", "true"]),
            ("runc --root .../moby exec ID true",
             ["runc", "--root", "/run/docker/runtime-runc/moby", "exec", cid, "true"]),
            ("docker exec C true", [docker, "exec", cid, "true"]),
            ("debugtool --version (interpreter floor)", [*DEBUGTOOL, "--version"]),
        ]  # fmt: skip
        measures = interleaved(pairs, runs=RUNS)
        ns, runtime, _, runc, dock, _ = measures
        report(
            "exec latency (one Docker container, interleaved)",
            measures,
            baseline=4,
            goal="ns mode <= runc exec and <= 0.6x docker exec",
        )
        print("CPU time per run (user+sys of the command and the children it waited for):")
        for m in measures:
            print(f"    {m.cpu_seconds / max(len(m.times), 1) * 1000:7.1f} ms  {m.label}")
        print()
        print(f"ns mode / runc exec:           {ns.median / runc.median:.2f}")
        print(f"ns mode / docker exec:         {ns.median / dock.median:.2f}")
        print(f"runtime mode / docker exec:    {runtime.median / dock.median:.2f}\n")
        joiner_costs(name)
        for label, args in (
            ("python -X importtime -m debugtool exec --help", ["-m", "debugtool", "exec", "--help"]),
            ("python -X importtime -c 'import debugtool.exec'", ["-c", "import debugtool.exec"]),
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
