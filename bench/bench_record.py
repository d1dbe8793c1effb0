"""Session recordings' cost (issue 17): a `shell` session's throughput with and without recording,
and a non-interactive exec with the recording code present against debugtool without it.

Goals: recording adds at most 5 % to the time a `cat` of a 50 MB text file takes through a
`shell` session's pty (ns mode and Docker's runtime mode), and nothing measurable to `exec --
true`. "Not recorded" is this checkout installed a second time with `recording.attach` cut
out; "before recordings" is debugtool as it was just before recordings came (the parent of
the commit that added debugtool/recording.py, or DEBUGTOOL_BENCH_BASE), installed in its own
venv (/var/tmp/debugtool-bench-venv-base-COMMIT). Each session runs on a pty of this
benchmark's (the operator's terminal), which reads and discards what arrives; the time is from
the command's Enter to the line after the `cat` appearing, so start-up is not in it.
Parts (BENCH_RECORD_PARTS, all by default): "paired" keeps one recorded and one unrecorded
session open per mode and times their `cat`s in alternation with the floor
(bench/floor_record.py) on the host in the same rounds (BENCH_PAIRED_FLOORS=0: without it),
ratios taken per round, with the bootstrap 95 % interval of their median (the figure the
goal is judged on); "sessions" opens a new session per `cat` (exit wait, whole-session CPU,
the code before recordings); "exec" times `exec -- true`; "floor" runs floor_record.py alone;
"micro" times, in this process, JSON-escaping a 64 KiB chunk by the ways considered for the
writer, the recorder's cost per chunk and the relay's per-batch recording work.
Run with `bench/run record`; needs root and a Docker daemon; uses about 60 MB of /var/tmp per
round for a moment (each recording is deleted, or emptied, after its `cat`).
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
from collections.abc import Callable
from pathlib import Path

from common import DEBUGTOOL, ROOT, Measure, interleaved, measure_call, report

SIZE = 50 * 1000 * 1000
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "7"))  # 7 unless BENCH_ROUNDS says
#: Rounds of the paired measurement in long-lived sessions (BENCH_PAIRED_ROUNDS).
PAIRED_ROUNDS = int(os.environ.get("BENCH_PAIRED_ROUNDS", "30"))
#: Rounds of the non-interactive exec comparison (BENCH_EXEC_ROUNDS).
EXEC_ROUNDS = int(os.environ.get("BENCH_EXEC_ROUNDS", "30"))
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


def open_shell(
    command: list[str], target: str, mode: str, env: dict[str, str]
) -> tuple[int, subprocess.Popen[bytes]]:
    """Start ``shell`` on a new pty of 40x120 (the operator's terminal); return its master and
    the process."""
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
    return master, proc


def cat_through_shell(
    command: list[str], target: str, mode: str, env: dict[str, str]
) -> tuple[float, float, float, tuple[float, float]]:
    """Open `shell` on a pty, `cat` the big file; return the seconds it took to come through,
    the CPU seconds of the whole session's debugtool (its recording's writer included), the
    seconds from `exit` to debugtool's end (the recording finished, the end record) and the
    CPU seconds of the relay and of the writer while the `cat` came through."""
    master, proc = open_shell(command, target, mode, env)
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


def _runtime_ns(pid: int) -> int:
    """Return the CPU nanoseconds process ``pid`` has run, all its threads (0 when gone).

    ``/proc/PID/task/*/schedstat`` counts in nanoseconds, where ``/proc/PID/stat`` counts
    10 ms ticks: a relay's 0.2 s per ``cat`` is then measured, not rounded.
    """
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


class Session:
    """One ``shell`` session on a pty of the benchmark's, kept open for many ``cat``s.

    The paired measurement opens a recorded and an unrecorded session once and times their
    ``cat``s in alternation: no start-up or exit between two timings, so many more rounds
    fit in the time and each round's two ``cat``s run seconds apart.
    """

    def __init__(self, command: list[str], target: str, mode: str, env: dict[str, str]) -> None:
        self.master, self.proc = open_shell(command, target, mode, env)
        read_until(self.master, b"/ # ")
        self.writers = _writers(self.proc.pid)

    def cat(self) -> tuple[float, float, float]:
        """``cat`` the big file; return the seconds it took to come through and the CPU seconds
        of the relay and of the recording's writer meanwhile."""
        relay, writer = _runtime_ns(self.proc.pid), sum(map(_runtime_ns, self.writers))
        os.write(self.master, b"cat /tmp/big; echo CAT-$((40+2))-DONE\r")
        started = time.perf_counter()
        read_until(self.master, b"CAT-42-DONE\r\n")
        elapsed = time.perf_counter() - started
        relay = _runtime_ns(self.proc.pid) - relay
        writer = sum(map(_runtime_ns, self.writers)) - writer
        return elapsed, relay / 1e9, writer / 1e9

    def settle(self) -> float:
        """Wait until the recording's writer has escaped what it spooled (its CPU time stops
        moving); return the CPU seconds that took. Its deferred work must not land in the
        next side's timing."""
        start = total = sum(map(_runtime_ns, self.writers))
        still = 0
        while still < 3:
            time.sleep(0.05)
            now = sum(map(_runtime_ns, self.writers))
            still = still + 1 if now == total else 0
            total = now
        return (total - start) / 1e9

    def close(self) -> None:
        """``exit`` the shell and wait for debugtool."""
        os.write(self.master, b"exit\r")
        try:
            while os.read(self.master, 1 << 16):
                pass
        except OSError:
            pass
        self.proc.wait()
        os.close(self.master)


def paired_cats(cid: str, unrecorded: list[str], work: Path, rounds: int) -> None:
    """Time ``cat``s in one long recorded and one long unrecorded session per mode, paired
    round by round with the floor (bench/floor_record.py) run on the host in the same rounds."""
    import floor_record

    config = work / "config.toml"
    config.write_text("[audit]\nrecording_limit = 1099511627776\n")  # every cat recorded whole
    env = {"DEBUGTOOL_AUDIT_LOG": str(work / "audit.jsonl"), "TERM": "xterm",
           "DEBUGTOOL_CONFIG": str(config)}  # fmt: skip
    modes = os.environ.get("BENCH_RECORD_MODES", "ns runtime").split()
    host_file = work / "big"
    line = (LINE + "\n").encode()
    host_file.write_bytes((line * (SIZE // len(line) + 1))[:SIZE])
    sessions: dict[str, Session] = {}
    for mode in modes:
        sessions[f"{mode}: not recorded"] = Session(unrecorded, cid, mode, env)
        sessions[f"{mode}: recorded"] = Session(DEBUGTOOL, cid, mode, env)
    floors = {"floor: relay": "", "floor: + raw spool (pipe, splice)": "pipe",
              "floor: + frames into a shared memfd": "memfd",
              "floor: + frames copied into a shared ring (mmap)": "ring"}  # fmt: skip
    if os.environ.get("BENCH_PAIRED_FLOORS", "1") == "0":  # more rounds of the sessions alone
        floors = {}
    labels = [*sessions, *floors]
    results: dict[str, list[tuple[float, float, float]]] = {label: [] for label in labels}
    escaping: list[float] = []
    load = os.getloadavg()
    began = time.strftime("%H:%M:%S", time.gmtime())
    try:
        for i in range(rounds + 1):  # the first round warms up
            for k in [(i + j) % len(labels) for j in range(len(labels))]:
                label = labels[k]
                if label in sessions:
                    figures = sessions[label].cat()
                    if sessions[label].writers:
                        escaping.append(sessions[label].settle())
                        for cast in (work / "recordings").iterdir():
                            os.truncate(cast, 0)  # the writer goes on at its offset: a sparse file
                else:
                    figures = floor_record.session(str(host_file), floors[label], True)
                if i:
                    results[label].append(figures)
    finally:
        for each in sessions.values():
            each.close()
    ended = time.strftime("%H:%M:%S", time.gmtime())
    print(f"## paired cats of 50 MB in long-lived sessions, {rounds} rounds, interleaved "
          f"({began}-{ended} UTC, load average {load[0]:.1f} -> {os.getloadavg()[0]:.1f})\n")  # fmt: skip
    print("goal: recorded <= 1.05x not recorded (the paired ratio's median; quartiles beside it)\n")
    print("| side | median ms | p90 ms | relay CPU s | writer CPU s during the cat | "
          "paired wall ratio [quartiles] | its median's 95 % interval | "
          "paired relay CPU ratio |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for label in labels:
        rows = results[label]
        base = results[_baseline(label)]
        walls = [r[0] for r in rows]
        p90 = statistics.quantiles(walls, n=10)[-1] if len(walls) > 1 else walls[0]
        print(
            f"| {label} | {statistics.median(walls) * 1000:.1f} | {p90 * 1000:.1f} | "
            f"{statistics.median(r[1] for r in rows):.3f} | "
            f"{statistics.median(r[2] for r in rows):.3f} | "
            f"{floor_record.paired(walls, [r[0] for r in base])} | "
            f"{floor_record.median_interval(walls, [r[0] for r in base])} | "
            f"{floor_record.paired([r[1] for r in rows], [r[1] for r in base])} |"
        )
    if escaping:
        print(f"\nthe writer's deferred escaping after each recorded cat: "
              f"{statistics.median(escaping):.3f} s of CPU (median)")  # fmt: skip
    print()


def _baseline(label: str) -> str:
    """Return the side that ``label`` is paired with: its mode's unrecorded session, or the
    floor's bare relay."""
    if label.startswith("floor"):
        return "floor: relay"
    return label.split(":")[0] + ": not recorded"


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


def relay_batch_costs(runs: int = 5) -> None:
    """Time each piece of the relay's per-batch recording work, and the two ways considered of
    moving the frames out of the relay: a pipe to the writer (which splices it into its memfd,
    today) or writing each frame straight into a memfd shared with the writer (no pipe, no
    splice, no writer wake-up during a burst). Relay-side CPU for 50 MB in batches of 37 KiB
    (the ns relay's mean batch on a 50 MB ``cat``), medians of ``runs``."""
    import resource

    batch = 37 * 1024
    count = SIZE // batch
    data = os.urandom(batch)
    head = struct.Struct("<dBI").pack

    def cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    def clock() -> None:
        started = time.monotonic()
        for _ in range(count):
            time.monotonic() - started

    def header() -> None:
        for _ in range(count):
            head(1.5, 111, batch)

    def cap_check() -> None:
        offset, cap = 0, 64 << 20
        for _ in range(count):
            if offset < cap:
                offset += batch

    def framing() -> None:
        buffer, started = bytearray(), time.monotonic()
        for _ in range(count):
            buffer += head(time.monotonic() - started, 111, batch)
            buffer += data
            if len(buffer) >= 65536:
                buffer.clear()

    def through_pipe() -> None:
        read, write = os.pipe()
        fcntl.fcntl(write, 1031, 1 << 20)  # F_SETPIPE_SZ, as the recorder's
        child = os.fork()
        if child == 0:  # the writer: splice into a memfd
            os.close(write)
            spool, at = os.memfd_create("spool"), 0
            while n := os.splice(read, spool, 1 << 20, offset_dst=at):
                at += n
            os._exit(0)
        os.close(read)
        buffer, started = bytearray(), time.monotonic()
        for _ in range(count):
            buffer += head(time.monotonic() - started, 111, batch)
            buffer += data
            if len(buffer) >= 65536:
                del buffer[: os.write(write, buffer)]
        os.close(write)
        os.waitpid(child, 0)

    def into_memfd(allocated: bool) -> Callable[[], None]:
        def run() -> None:
            spool, at, started = os.memfd_create("spool"), 0, time.monotonic()
            if allocated:
                os.posix_fallocate(spool, 0, count * (batch + 13))
            for _ in range(count):
                at += os.pwritev(spool, [head(time.monotonic() - started, 111, batch), data], at)
            os.close(spool)

        return run

    print(f"## the relay's recording work per batch ({count} batches of 37 KiB = 50 MB)\n")
    print("| work | relay CPU ms per 50 MB | us per batch |")
    print("|---|---|---|")
    for label, work in (
        ("time stamp (time.monotonic)", clock),
        ("frame head (struct pack)", header),
        ("size cap check", cap_check),
        ("frame into the buffer (stamp, head, bytes)", framing),
        ("frames into a 1 MiB pipe, 64 KiB a write (today; writer splices)", through_pipe),
        ("each frame pwritev'd into a memfd shared with the writer", into_memfd(False)),
        ("the same, memfd allocated beforehand", into_memfd(True)),
    ):
        spent = []
        for _ in range(runs):
            before = cpu()
            work()
            spent.append(cpu() - before)
        median = statistics.median(spent)
        print(f"| {label} | {median * 1000:.1f} | {median / count * 1e6:.2f} |")
    print()


def recorder_cost() -> None:
    """Time the recorder's whole work in the relay per 64 KiB chunk (frame, hand to the pipe)."""
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


def sessions_once(cid: str, base: list[str], unrecorded: list[str], commit: str,
                  work: Path) -> None:  # fmt: skip
    """Time a ``cat`` in a new session per round (start-up and exit outside the timing), with
    the exit wait and the whole session's CPU, against the code before recordings too."""
    env = {"DEBUGTOOL_AUDIT_LOG": str(work / "audit.jsonl"), "TERM": "xterm"}
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


def exec_pairs(cid: str, base: list[str], unrecorded: list[str], commit: str,
               runs: int) -> None:  # fmt: skip
    """Time ``exec -- true`` (never recorded) against the same code with the recording cut out
    and against the code before recordings, interleaved; the ratios are paired per round."""
    import floor_record

    load = os.getloadavg()[0]
    pairs = []
    for mode in ("ns", "runtime"):
        argv = ["exec", "-q", "--mode", mode, cid, "--", "true"]
        pairs += [
            (f"exec --mode {mode} ID -- true, recording cut out (this code)", [*unrecorded, *argv]),
            (f"exec --mode {mode} ID -- true, with recordings", [*DEBUGTOOL, *argv]),
            (f"exec --mode {mode} ID -- true, before recordings ({commit[:8]})", [*base, *argv]),
        ]
    execs = interleaved(pairs, runs=runs)
    report(f"non-interactive exec (not recorded), interleaved, {runs} rounds (load average "
           f"{load:.1f} -> {os.getloadavg()[0]:.1f})", execs, baseline=0,
           goal="nothing measurable")  # fmt: skip
    for at, mode in ((0, "ns"), (3, "runtime")):
        cut, with_, before = execs[at], execs[at + 1], execs[at + 2]
        print(f"{mode}: with recordings / cut out, paired: "
              f"{floor_record.paired(with_.times, cut.times)}; / before recordings, paired: "
              f"{floor_record.paired(with_.times, before.times)}")  # fmt: skip
    print()


def main() -> None:
    import harness  # tests/harness.py, on sys.path through common

    parts = os.environ.get("BENCH_RECORD_PARTS", "paired sessions exec floor micro").split()
    harness.ensure_images()
    commit = base_commit()
    base = install_base(commit)
    unrecorded = install_unrecorded()
    work = Path(tempfile.mkdtemp(prefix="bench-record-", dir="/var/tmp"))
    os.environ["DEBUGTOOL_AUDIT_LOG"] = str(work / "audit.jsonl")
    name = harness.unique("dtbench-record")
    cid = harness.run(
        "docker", "run", "-d", "--name", name, harness.DOCKER_IMAGE, "/bin/sleep", "100000"
    ).strip()
    try:
        harness.run(
            "docker", "exec", cid, "sh", "-c",
            f"yes '{LINE}' | head -c {SIZE} > /tmp/big",
        )  # fmt: skip
        if "paired" in parts:
            paired_cats(cid, unrecorded, work, PAIRED_ROUNDS)
        if "sessions" in parts:
            sessions_once(cid, base, unrecorded, commit, work)
        if "exec" in parts:
            exec_pairs(cid, base, unrecorded, commit, EXEC_ROUNDS)
        if "floor" in parts:
            floor()
        if "micro" in parts:
            escaping_costs()
            recorder_cost()
            relay_batch_costs()
    finally:
        harness.run("docker", "rm", "-f", cid, check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
