"""Tracing overhead: a syscall-heavy loop in a container, untraced, under strace -f, under
``debugtool trace -f``, and under the floor: the smallest Python program doing that work.

Each round starts a Docker container whose shell blocks on ``read`` from its stdin and then
``exec``s ``dd if=/dev/zero of=/dev/null bs=1 count=N`` (two syscalls per byte). The tracer (none,
``strace -f -o /dev/null -p PID``, ``debugtool trace pid:PID -f -o /dev/null`` or the floor)
attaches to that process first; once /proc shows it traced, one line on the container's stdin
releases it, and the clock runs until the process exits (its pidfd turns readable). The tracers
trace the same workload the same way, and each one's CPU time comes from its rusage. Rounds
alternate the setups so machine noise falls on all alike.

The floor (``bench_trace.py --floor PID``, run by the same interpreter as debugtool) is a bare
ctypes ptrace loop: seize, then per stop a waitpid, PTRACE_GET_SYSCALL_INFO and PTRACE_SYSCALL,
and per syscall one line (time, PID, number, arguments in hex, result) to /dev/null. No
decoding, no memory reads, no PID translation: what Python costs a stop before debugtool does
anything of its own, so the gap between it and strace is the interpreter's.
"""

from __future__ import annotations

import ctypes
import importlib
import os
import select
import signal
import struct
import subprocess
import sys
import time

from common import DEBUGTOOL, Measure

harness = importlib.import_module("harness")  # importable once common put tests/ on sys.path

COUNT = int(os.environ.get("BENCH_TRACE_COUNT", "20000"))
ROUNDS = int(os.environ.get("BENCH_TRACE_ROUNDS", "9"))
GOAL = 1.3  # debugtool's slowdown at most 1.3x strace's


def floor(pid: int) -> None:
    """Trace ``pid`` (and its children) with the least Python a traced syscall can cost."""
    # Called as debugtool's hot loop calls it: through PyDLL (the GIL kept), ints and a byref
    # for arguments.
    ptrace = ctypes.PyDLL(None).ptrace
    ptrace.restype = ctypes.c_long
    options = 0x01 | 0x02 | 0x04 | 0x08 | 0x10  # TRACESYSGOOD, TRACEFORK/VFORK/CLONE, TRACEEXEC
    if ptrace(0x4206, pid, 0, options) != 0:  # PTRACE_SEIZE
        sys.exit(f"cannot seize {pid}")
    ptrace(0x4207, pid, 0, 0)  # PTRACE_INTERRUPT: the first stop starts syscall tracing
    info = ctypes.create_string_buffer(88)  # struct ptrace_syscall_info
    info_ref = ctypes.byref(info)
    unpack = struct.Struct("<B23xq6Q").unpack_from
    entered: dict[int, tuple[float, tuple[int, ...]]] = {}
    lines: list[str] = []
    with open("/dev/null", "w") as out:
        while True:
            try:
                tid, status = os.waitpid(-1, 0x40000000)  # __WALL
            except ChildProcessError:
                break
            if status & 0xFF != 0x7F:  # exited
                continue
            if status != 0x857F:  # not a syscall-stop: a ptrace event, group-stop or signal
                signum = (status >> 8) & 0xFF
                deliver = signum if status >> 16 == 0 and signum != 5 else 0
                ptrace(24, tid, 0, deliver)
                continue
            ptrace(0x420E, tid, 88, info_ref)  # PTRACE_GET_SYSCALL_INFO
            fields = unpack(info)
            ptrace(24, tid, 0, 0)  # PTRACE_SYSCALL
            if fields[0] == 1:
                entered[tid] = (time.time(), fields)
            elif fields[0] == 2 and tid in entered:
                t, call = entered.pop(tid)
                lines.append(
                    f"{t:.6f} [pid {tid}] syscall_{call[1]}({call[2]:#x}, {call[3]:#x}, "
                    f"{call[4]:#x}) = {fields[1]}\n"
                )
                if len(lines) >= 4096:
                    out.write("".join(lines))
                    lines.clear()
        out.write("".join(lines))


def _wait(check, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.01)
    raise RuntimeError("timed out")


def _tracer_pid(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("TracerPid:"):
                return int(line.split()[1])
    return 0


def one_round(tracer: str) -> tuple[float, float]:
    """Run the workload once under ``tracer``; return (seconds, tracer CPU seconds)."""
    name = harness.unique("dt-bench-trace")
    script = f"read go; exec dd if=/dev/zero of=/dev/null bs=1 count={COUNT}"
    container = subprocess.Popen(
        ["docker", "run", "-i", "--rm", "--name", name, harness.DOCKER_IMAGE, "sh", "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    traced: subprocess.Popen[bytes] | None = None
    try:
        pid = 0

        def started() -> bool:
            nonlocal pid
            out = harness.run("docker", "inspect", "-f", "{{.State.Pid}}", name, check=False)
            pid = int(out.strip() or 0)
            return pid > 0

        _wait(started)
        pidfd = os.pidfd_open(pid)
        fixed_cpu = 0.0
        if tracer == "strace":
            argv = ["strace", "-f", "-o", "/dev/null", "-p", str(pid)]
        elif tracer in ("debugtool", "debugtool-idle"):
            argv = [*DEBUGTOOL, "trace", f"pid:{pid}", "-f", "-o", "/dev/null"]
        elif tracer == "floor":
            argv = [sys.executable, __file__, "--floor", str(pid)]
        else:
            argv = []
        if argv:
            traced = subprocess.Popen(
                argv,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env={**os.environ, "DEBUGTOOL_AUDIT_LOG": "/var/tmp/debugtool-bench-audit.jsonl"},
            )
            _wait(lambda: _tracer_pid(pid) == traced.pid)  # type: ignore[union-attr]
            time.sleep(0.3)  # let the tracer get from attach to PTRACE_SYSCALL
            if tracer == "debugtool-idle":
                # Only start-up, discovery, attach and detach: the fixed part of its CPU time.
                traced.send_signal(signal.SIGINT)
                _, _, usage = os.wait4(traced.pid, 0)
                traced.returncode = 0
                traced = None
                fixed_cpu = usage.ru_utime + usage.ru_stime
        assert container.stdin is not None
        start = time.perf_counter()
        container.stdin.write(b"go\n")
        container.stdin.flush()
        select.select([pidfd], [], [])
        elapsed = time.perf_counter() - start
        os.close(pidfd)
        cpu = fixed_cpu
        if traced is not None:
            _, _, usage = os.wait4(traced.pid, 0)
            traced.returncode = 0
            cpu = usage.ru_utime + usage.ru_stime
        return elapsed, cpu
    finally:
        if traced is not None and traced.returncode is None:
            traced.kill()
            traced.wait()
        container.stdin.close() if container.stdin else None
        try:
            container.wait(timeout=30)
        except subprocess.TimeoutExpired:
            harness.run("docker", "rm", "-f", name, check=False)
            container.wait()


def main() -> None:
    harness.ensure_images()
    labels = {
        "none": "untraced",
        "strace": "strace -f -o /dev/null -p PID",
        "debugtool": "debugtool trace -f -o /dev/null",
        "floor": "floor: bare Python ptrace loop, a line per syscall",
    }
    measures = {k: Measure(v) for k, v in labels.items()}
    one_round("debugtool")  # warm-up: page cache, Python bytecode
    fixed = 0.0
    for _ in range(ROUNDS):
        for key, m in measures.items():
            elapsed, cpu = one_round(key)
            m.times.append(elapsed)
            m.cpu_seconds += cpu
        fixed += one_round("debugtool-idle")[1]
    base = measures["none"].median
    print(
        f"## tracing overhead: busybox dd bs=1 count={COUNT} in a Docker container "
        f"({2 * COUNT} syscalls), median of {ROUNDS} rounds\n"
    )
    print(f"goal: debugtool's slowdown at most {GOAL}x strace's\n")
    print("| setup | median s | slowdown vs untraced | tracer CPU s per run |")
    print("|---|---|---|---|")
    for key, m in measures.items():
        cpu_text = f"{m.cpu_seconds / ROUNDS:.2f}" if key != "none" else "-"
        print(f"| {m.label} | {m.median:.3f} | {m.median / base:.1f}x | {cpu_text} |")
    print(
        f"\nthe floor / strace: {measures['floor'].median / measures['strace'].median:.2f}x; "
        f"debugtool / the floor: {measures['debugtool'].median / measures['floor'].median:.2f}x"
    )
    print(
        f"\ndebugtool's fixed CPU (start-up, discovery, attach, detach; no syscalls): "
        f"{fixed / ROUNDS:.2f} s per run, included above"
    )
    per_round = sorted(
        d / s for d, s in zip(measures["debugtool"].times, measures["strace"].times, strict=True)
    )
    print(
        "debugtool / strace per round (same round, back to back): "
        + ", ".join(f"{r:.2f}" for r in per_round)
    )
    ratio = measures["debugtool"].median / measures["strace"].median
    verdict = "meets" if ratio <= GOAL else "misses"
    print(f"debugtool / strace: {ratio:.2f}x ({verdict} the goal of {GOAL}x)")
    sys.stdout.flush()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--floor"]:
        floor(int(sys.argv[2]))
    else:
        main()
