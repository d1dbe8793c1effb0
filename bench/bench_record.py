"""Session recordings' cost (issue 17): a `shell` session's throughput with and without recording,
and a non-interactive exec with the recording code present against debugtool without it.

Goals: recording adds at most 5 % to the time a `cat` of a 50 MB text file takes through a
`shell` session's pty (ns mode and Docker's runtime mode), and nothing measurable to `exec --
true`. "Without recording" is debugtool as it was just before recordings came (the parent of
the commit that added debugtool/recording.py, or DEBUGTOOL_BENCH_BASE), installed in its own
venv (/var/tmp/debugtool-bench-venv-base-COMMIT) the way bench/run installs the current code:
the two run side by side, interleaved, against the same container. Each session runs on a pty
of this benchmark's (the operator's terminal), which reads and discards what arrives; the time
is from the command's Enter to the line after the `cat` appearing, so start-up is not in it.
Also measured in this process: JSON-escaping a 64 KiB chunk by the ways considered for the
recorder's write path, and the recorder's whole cost per chunk.
Run with `bench/run record`; needs root and a Docker daemon; uses about 60 MB of /var/tmp per
round for a moment (each recording is deleted after its session).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

from common import DEBUGTOOL, ROOT, Measure, interleaved, measure_call, report

SIZE = 50 * 1000 * 1000
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "7"))  # 7 unless BENCH_ROUNDS says
LINE = "The quick brown fox jumps over the lazy dog; 0123456789 ABCDEFGHIJ"


def base_commit() -> str:
    """Return the commit of debugtool just before recordings (what "without" runs)."""
    if os.environ.get("DEBUGTOOL_BENCH_BASE"):
        return os.environ["DEBUGTOOL_BENCH_BASE"]
    added = subprocess.run(
        ["git", "log", "--diff-filter=A", "--format=%H", "--", "debugtool/recording.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return subprocess.run(
        ["git", "rev-parse", f"{added[-1]}^"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()


def install_base(commit: str) -> list[str]:
    """Install debugtool at ``commit`` in a venv of its own (once); return its command."""
    venv = Path(f"/var/tmp/debugtool-bench-venv-base-{commit[:12]}")
    command = venv / "bin" / "debugtool"
    if not command.exists():
        with tempfile.TemporaryDirectory(prefix="debugtool-base-") as src:
            archive = subprocess.run(
                ["git", "archive", commit], cwd=ROOT, capture_output=True, check=True
            ).stdout
            subprocess.run(["tar", "-x", "-C", src], input=archive, check=True)
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            subprocess.run(
                [str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", src],
                check=True,
            )
    return [str(command)]


def install_unrecorded() -> list[str]:
    """Install this checkout with its recording cut out, in a venv of its own; return its command.

    The same code as the recorded side but for ``recording.attach``, which here records
    nothing (as when a recording cannot be made): recorded against unrecorded is then the
    recording's cost alone, with every other change of the relay on both sides. Only the
    benchmark builds this copy; debugtool has no switch that turns recording off.
    """
    venv = Path(f"/var/tmp/debugtool-bench-venv-unrecorded-{ROOT.name}")
    pip = [str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check"]
    if (venv / "bin" / "debugtool").exists():
        pip += ["--force-reinstall", "--no-deps"]  # only debugtool itself changed
    else:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    with tempfile.TemporaryDirectory(prefix="debugtool-unrecorded-") as src:
        files = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT, capture_output=True, check=True,
        ).stdout  # fmt: skip
        archive = subprocess.run(["tar", "-c", "--null", "-T", "-"], cwd=ROOT, input=files,
                                 capture_output=True, check=True).stdout  # fmt: skip
        subprocess.run(["tar", "-x", "-C", src], input=archive, check=True)
        with open(f"{src}/debugtool/recording.py", "a") as module:
            module.write("\n\ndef attach(session, size, record_input=False):  # the bench's copy\n"
                         "    return None\n")  # fmt: skip
        subprocess.run([*pip, src], check=True, stdout=subprocess.DEVNULL)
    return [str(venv / "bin" / "debugtool")]


def _take_terminal() -> None:
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def read_until(master: int, marker: bytes, timeout: float = 300) -> int:
    """Read the pty until ``marker`` shows; return the bytes read. Raises on EOF or timeout."""
    deadline = time.monotonic() + timeout
    seen = 0
    tail = b""
    while time.monotonic() < deadline:
        try:
            chunk = os.read(master, 1 << 16)
        except OSError:
            chunk = b""
        if not chunk:
            raise RuntimeError(f"the session ended before {marker!r}; it last showed {tail!r}")
        seen += len(chunk)
        window = tail + chunk
        if marker in window:
            return seen
        tail = window[-64:]
    raise RuntimeError(f"{marker!r} did not come within {timeout}s")


def _cpu(pid: int) -> float:
    """Return the CPU seconds (user + system) process ``pid`` has used; 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _writers(pid: int) -> list[int]:
    """Return the PIDs of the recording writers that debugtool ``pid`` started."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            children = [int(c) for c in f.read().split()]
    except OSError:
        return []
    found = []
    for child in children:
        try:
            with open(f"/proc/{child}/cmdline", "rb") as f:
                if b"write_events" in f.read():
                    found.append(child)
        except OSError:
            pass
    return found


def burst_cpu(pid: int) -> tuple[float, float]:
    """Return the CPU seconds so far of debugtool ``pid`` itself (the relay) and of its writer."""
    return _cpu(pid), sum(_cpu(w) for w in _writers(pid))


def cat_through_shell(
    command: list[str], target: str, mode: str, env: dict[str, str]
) -> tuple[float, float, float, tuple[float, float]]:
    """Open `shell` on a pty, `cat` the big file; return the seconds it took to come through,
    the CPU seconds of the whole session's debugtool (its recording's writer included), the
    seconds from `exit` to debugtool's end (the recording finished, the end record) and the
    CPU seconds of the relay and of the writer while the `cat` came through."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen(
        [*command, "shell", "-q", "--mode", mode, target],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
        preexec_fn=_take_terminal,
        env={**os.environ, **env},
    )
    os.close(slave)
    try:
        read_until(master, b"/ # ")
        before = burst_cpu(proc.pid)
        os.write(master, b"cat /tmp/big; echo CAT-$((40+2))-DONE\r")
        started = time.perf_counter()
        read_until(master, b"CAT-42-DONE\r\n")
        elapsed = time.perf_counter() - started
        after = burst_cpu(proc.pid)
        during = (after[0] - before[0], after[1] - before[1])
        os.write(master, b"exit\r")
        leaving = time.perf_counter()
        try:
            while os.read(master, 1 << 16):
                pass
        except OSError:
            pass
        _, status, usage = os.wait4(proc.pid, 0)
        left = time.perf_counter() - leaving
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} shell exited {proc.returncode}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return elapsed, usage.ru_utime + usage.ru_stime, left, during


def escaping_costs() -> None:
    """Time the ways of JSON-escaping one 64 KiB chunk of terminal output considered."""
    import re
    from json.encoder import encode_basestring, encode_basestring_ascii  # type: ignore[attr-defined]

    chunk = ((LINE + "\r\n") * 1200)[:65536]
    colour = (('\x1b[01;34mdir\x1b[0m  file.txt "q"\tx\r\n') * 2000)[:65536]
    table = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"})
    rare = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f]")

    def replace_chain(text: str) -> str:
        if rare.search(text):
            return encode_basestring(text)
        for old, new in (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"),
                         ("\t", "\\t"), ("\x1b", "\\u001b")):  # fmt: skip
            text = text.replace(old, new)
        return f'"{text}"'

    ways = [
        ("json.dumps", json.dumps),
        ("encode_basestring_ascii (the recorder's)", encode_basestring_ascii),
        ("encode_basestring (UTF-8 out)", encode_basestring),
        ("str.replace chain", replace_chain),
        ("str.translate", lambda t: '"' + t.translate(table) + '"'),
    ]
    for name, text in (("text lines", chunk), ("coloured ls", colour)):
        measures = [measure_call(label, lambda f=f, t=text: f(t), runs=200) for label, f in ways]
        report(f"JSON-escaping a 64 KiB chunk of {name}", measures, baseline=1)


def recorder_cost() -> None:
    """Time the recorder's whole work per 64 KiB chunk (decode, escape, buffer, write, hash)."""
    from debugtool import config, recording

    chunk = ((LINE + "\r\n") * 1200).encode()[:65536]
    with tempfile.TemporaryDirectory(prefix="bench-recorder-") as where:
        os.environ["DEBUGTOOL_AUDIT_LOG"] = os.path.join(where, "audit.jsonl")
        os.environ["DEBUGTOOL_CONFIG"] = os.path.join(where, "none.toml")
        config.reset()
        rec = recording.Recorder.create("bench", (40, 120))
        m = measure_call("Recorder.output(64 KiB)", lambda: rec.output(chunk), runs=500)
        rec.finish()
    rate = 65536 / m.median / 1e6
    print(f"Recorder.output per 64 KiB chunk: {m.median * 1e6:.0f} us median ({rate:.0f} MB/s)\n")


def floor(rounds: int = 7) -> None:
    """Run bench/floor_record.py (a bare pty relay, with and without a raw spool) on the host."""
    with tempfile.NamedTemporaryFile(prefix="bench-record-", dir="/var/tmp") as big:
        line = (LINE + "\n").encode()
        big.write((line * (SIZE // len(line) + 1))[:SIZE])
        big.flush()
        subprocess.run(
            [sys.executable, str(ROOT / "bench" / "floor_record.py"), big.name, str(rounds)],
            check=True,
        )


def main() -> None:
    import harness  # tests/harness.py, on sys.path through common

    harness.ensure_images()
    commit = base_commit()
    base = install_base(commit)
    unrecorded = install_unrecorded()
    work = Path(tempfile.mkdtemp(prefix="bench-record-", dir="/var/tmp"))
    env = {"DEBUGTOOL_AUDIT_LOG": str(work / "audit.jsonl"), "TERM": "xterm"}
    os.environ["DEBUGTOOL_AUDIT_LOG"] = env["DEBUGTOOL_AUDIT_LOG"]
    name = harness.unique("dtbench-record")
    cid = harness.run(
        "docker", "run", "-d", "--name", name, harness.DOCKER_IMAGE, "/bin/sleep", "100000"
    ).strip()
    try:
        harness.run(
            "docker", "exec", cid, "sh", "-c",
            f"yes '{LINE}' | head -c {SIZE} > /tmp/big",
        )  # fmt: skip
        sides = [
            ("ns: not recorded (this code)", unrecorded, "ns"),
            ("ns: recorded", DEBUGTOOL, "ns"),
            (f"ns: before recordings ({commit[:8]})", base, "ns"),
            ("runtime (Docker API): not recorded (this code)", unrecorded, "runtime"),
            ("runtime (Docker API): recorded", DEBUGTOOL, "runtime"),
            (f"runtime (Docker API): before recordings ({commit[:8]})", base, "runtime"),
        ]
        measures = [Measure(f"shell: cat 50 MB, {label}") for label, _, _ in sides]
        exits = [Measure(label) for label, _, _ in sides]
        bursts: list[list[tuple[float, float]]] = [[] for _ in sides]
        recorded_bytes: list[int] = []
        for i in range(ROUNDS + 1):  # the first round warms up
            for k in [(i + j) % len(sides) for j in range(len(sides))]:
                _, command, mode = sides[k]
                seconds, cpu, left, during = cat_through_shell(command, cid, mode, env)
                if i:
                    bursts[k].append(during)
                    measures[k].times.append(seconds)
                    measures[k].cpu_seconds += cpu
                    exits[k].times.append(left)
                recordings = work / "recordings"
                if recordings.exists():
                    for cast in recordings.iterdir():
                        recorded_bytes.append(cast.stat().st_size)
                        cast.unlink()
        report(
            "shell session throughput: cat of a 50 MB file through the pty (interleaved)",
            measures,
            baseline=0,
            goal="recorded <= 1.05x not recorded, in each mode",
        )
        for off, on, before in ((0, 1, 2), (3, 4, 5)):
            print(
                f"{measures[on].label}: {measures[on].median / measures[off].median:.3f}x not "
                f"recorded ({SIZE / measures[off].median / 1e6:.0f} -> "
                f"{SIZE / measures[on].median / 1e6:.0f} MB/s); "
                f"{measures[on].median / measures[before].median:.3f}x before recordings"
            )
        print("Per session, medians: CPU seconds of the relay and of the writer while the cat came")
        print("through; CPU seconds of the whole debugtool (writer included; mean); seconds from")
        print("`exit` to debugtool's end (the recording finished):")
        print("    relay   writer  session  exit")
        for m, e, b in zip(measures, exits, bursts, strict=True):
            relay = statistics.median(r for r, _ in b)
            writer = statistics.median(w for _, w in b)
            print(
                f"    {relay:5.2f}   {writer:5.2f}   {m.cpu_seconds / max(len(m.times), 1):5.2f}"
                f"    {e.median:5.2f}  {m.label}"
            )
        print()
        if recorded_bytes:
            print(f"recording of one cat session: {max(recorded_bytes) / 1e6:.1f} MB\n")
        pairs = [
            (f"exec --mode ns ID -- true, before recordings ({commit[:8]})",
             [*base, "exec", "-q", "--mode", "ns", cid, "--", "true"]),
            ("exec --mode ns ID -- true, with recordings",
             [*DEBUGTOOL, "exec", "-q", "--mode", "ns", cid, "--", "true"]),
            (f"exec ID -- true (runtime), before recordings ({commit[:8]})",
             [*base, "exec", "-q", cid, "--", "true"]),
            ("exec ID -- true (runtime), with recordings",
             [*DEBUGTOOL, "exec", "-q", cid, "--", "true"]),
        ]  # fmt: skip
        execs = interleaved(pairs, runs=30)
        report("non-interactive exec (not recorded), interleaved", execs, baseline=0,
               goal="nothing measurable")  # fmt: skip
        print(f"ns: {execs[1].median / execs[0].median:.3f}x; "
              f"runtime: {execs[3].median / execs[2].median:.3f}x\n")  # fmt: skip
        floor()
        escaping_costs()
        recorder_cost()
    finally:
        harness.run("docker", "rm", "-f", cid, check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
