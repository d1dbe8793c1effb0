"""The smallest program that relays a pty and records it as a raw spool: the recording's floor.

bench_record.py times a ``cat`` of 50 MB through a ``shell`` session's pty, with and without
recording. This does the same work and nothing else, on the host: ``cat FILE`` writes to a
pty (cooked, as a shell leaves it for a command), a relay loop in this process copies the
master's output to a second pty in raw mode (the operator's terminal) that a child reads and
discards. "Recorded" adds what issue 17's recording cannot do without: each read framed
(time, kind, length, bytes) into one buffer, handed 64 KiB at a time to a writer process over
a non-blocking 1 MiB pipe (a full pipe is tried again 64 KiB later), and the writer
splicing what comes into a memfd: no escaping, which waits until the session is idle. Each is run reading once per readiness and
reading until EAGAIN (one write of the whole batch). The gap between "relay" and "relay + raw
spool" is the least a recording can add; debugtool's own figures are set beside it. A third
way (the lead's idea, 2026-12-06) writes each frame straight into a memfd that the writer
holds too: no pipe, no splice, no writer wake-up during a burst, and a relay killed mid-burst
still leaves every frame it wrote. A fourth copies each frame into a ring in shared memory
(a memfd both map, its pages touched before the session): no system call and no page
allocation per frame, a ``memcpy``.
Usage: floor_record.py FILE [ROUNDS] (prints a table of medians and CPU per session)
"""

from __future__ import annotations

import errno
import fcntl
import mmap
import os
import select
import statistics
import struct
import subprocess
import sys
import time
import tty
from collections.abc import Callable

WRITER = """
import os, sys
pipe, spool = int(sys.argv[1]), os.memfd_create("spool")
while os.splice(pipe, spool, 1 << 20):
    pass
"""
#: The shared-memfd writer: the relay writes its frames into the memfd itself; the writer only
#: waits for the pipe's end (no wake-up during a burst), holding the memfd the frames are in.
SHARED_WRITER = """
import os, sys
pipe, spool = int(sys.argv[1]), int(sys.argv[2])
while os.read(pipe, 1):
    pass
"""


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            select.select([], [fd], [])


#: The shared ring's size: more than a 50 MB ``cat`` frames, so the floor never waits on it.
RING = 64 << 20


def relay(master: int, sink: int, pipe: int | None, drain: bool, shared: int | None = None,
          ring: mmap.mmap | None = None) -> None:  # fmt: skip
    """Copy ``master`` to ``sink`` until EIO; frame each read for ``pipe`` when given, or
    write each frame straight into the memfd ``shared`` (the writer's too) when that is, or
    copy it into ``ring`` (shared memory) when that is."""
    head = struct.Struct("<dBI").pack
    buffer = bytearray()
    started = time.monotonic()
    poller = select.poll()
    poller.register(master, select.POLLIN)
    if drain:
        os.set_blocking(master, False)
    try:
        _copy(master, sink, pipe, drain, poller, buffer, head, started, shared, ring)
    finally:
        if pipe is not None and shared is None and ring is None:
            os.set_blocking(pipe, True)
            write_all(pipe, bytes(buffer))


def _copy(master: int, sink: int, pipe: int | None, drain: bool, poller: select.poll,
          buffer: bytearray, head: Callable[..., bytes], started: float,
          shared: int | None, ring: mmap.mmap | None) -> None:  # fmt: skip
    flush_at = 65536
    offset = 0
    while True:
        poller.poll()
        if drain:
            chunks = []
            while True:
                try:
                    data = os.read(master, 65536)
                except BlockingIOError:
                    break
                except OSError:
                    data = b""
                if not data:
                    break
                chunks.append(data)
            if not chunks:
                return
            data = b"".join(chunks)
        else:
            try:
                data = os.read(master, 65536)
            except OSError:
                return
        write_all(sink, data)
        if ring is not None:
            end = offset + 13 + len(data)
            if end <= RING:
                ring[offset : offset + 13] = head(time.monotonic() - started, 111, len(data))
                ring[offset + 13 : end] = data
                offset = end
        elif shared is not None:
            offset += os.pwritev(shared, [head(time.monotonic() - started, 111, len(data)), data],
                                 offset)  # fmt: skip
        elif pipe is not None:
            buffer += head(time.monotonic() - started, 111, len(data))
            buffer += data
            if len(buffer) >= flush_at:
                try:
                    del buffer[: os.write(pipe, buffer)]
                    flush_at = 65536
                except BlockingIOError:
                    flush_at = len(buffer) + 65536


def session(path: str, spool: str, drain: bool) -> tuple[float, float, float]:
    """Relay one ``cat path`` with ``spool`` ("", "pipe", "memfd" or "ring"); return (wall seconds,
    relay CPU seconds, writer CPU seconds)."""
    sink_master, sink_slave = os.openpty()
    tty.setraw(sink_slave)
    reader = os.fork()
    if reader == 0:  # the operator's terminal: read and discard
        os.close(sink_slave)
        try:
            while os.read(sink_master, 1 << 16):
                pass
        except OSError:
            pass
        os._exit(0)
    os.close(sink_master)
    master, slave = os.openpty()
    pipe = writer = shared = ring = None
    if spool:
        data_r, pipe = os.pipe()
        if spool == "ring":
            shared = os.memfd_create("ring")
            os.ftruncate(shared, RING)
            ring = mmap.mmap(shared, RING)
            for page in range(0, RING, mmap.PAGESIZE):  # touched now, as a ring reused is
                ring[page] = 0
            argv = [SHARED_WRITER, str(data_r), str(shared)]
            passed: tuple[int, ...] = (data_r, shared)
        elif spool == "memfd":
            shared = os.memfd_create("spool")
            argv = [SHARED_WRITER, str(data_r), str(shared)]
            passed = (data_r, shared)
        else:
            fcntl.fcntl(pipe, 1031, 1 << 20)  # F_SETPIPE_SZ, as debugtool's recorder
            os.set_blocking(pipe, False)
            argv = [WRITER, str(data_r)]
            passed = (data_r,)
        writer = subprocess.Popen([sys.executable, "-I", "-S", "-c", *argv], pass_fds=passed)
        os.close(data_r)
    cpu = time.process_time()
    started = time.perf_counter()
    cat = subprocess.Popen(["cat", path], stdout=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    relay(master, sink_slave, pipe, drain, shared if ring is None else None, ring)
    elapsed = time.perf_counter() - started
    relay_cpu = time.process_time() - cpu
    cat.wait()
    os.close(master)
    os.close(sink_slave)
    os.waitpid(reader, 0)
    writer_cpu = 0.0
    if writer is not None and pipe is not None:
        os.close(pipe)
        _, _, usage = os.wait4(writer.pid, 0)
        writer_cpu = usage.ru_utime + usage.ru_stime
    if ring is not None:
        ring.close()
    if shared is not None:
        os.close(shared)
    return elapsed, relay_cpu, writer_cpu


def paired(on: list[float], off: list[float]) -> str:
    """Return the median of the per-round ratios ``on[i] / off[i]`` with their quartiles.

    Both sides of a round ran within seconds of each other, so a round's ratio cancels most of
    what this VM's background work does to both (it moves a 50 MB ``cat`` by more than 5 %
    from one minute to the next); the quartiles say how far the rounds still scatter.
    """
    ratios = [a / b for a, b in zip(on, off, strict=True)]
    if len(ratios) < 2:
        return f"{ratios[0]:.3f}" if ratios else "-"
    q1, _, q3 = statistics.quantiles(ratios, n=4)
    return f"{statistics.median(ratios):.3f} [{q1:.3f}-{q3:.3f}]"


def median_interval(on: list[float], off: list[float], resamples: int = 4000) -> str:
    """Return the 95 % interval of the median of the per-round ratios (bootstrap: the rounds
    drawn again with replacement, ``resamples`` times, a fixed seed).

    Whether a goal such as "at most 1.05x" is met is a question about the median, not about
    one round: the quartiles say how far rounds scatter, this says how well the rounds pin
    the median down. It narrows with the square root of the rounds.
    """
    import random

    ratios = [a / b for a, b in zip(on, off, strict=True)]
    if len(ratios) < 5:
        return "-"
    draw = random.Random(17).choices
    medians = sorted(statistics.median(draw(ratios, k=len(ratios))) for _ in range(resamples))
    return f"{medians[int(resamples * 0.025)]:.3f}-{medians[int(resamples * 0.975) - 1]:.3f}"


VARIANTS = [
    ("relay, one read per poll", "", False),
    ("relay + raw spool, one read per poll", "pipe", False),
    ("relay, reads until EAGAIN", "", True),
    ("relay + raw spool, reads until EAGAIN", "pipe", True),
    ("relay + frames written into a shared memfd, reads until EAGAIN", "memfd", True),
    ("relay + frames copied into a shared ring (mmap), reads until EAGAIN", "ring", True),
]


def main() -> None:
    path = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 9
    variants = VARIANTS
    results: list[list[tuple[float, float, float]]] = [[] for _ in variants]
    for i in range(rounds + 1):  # the first round warms up
        for k in [(i + j) % len(variants) for j in range(len(variants))]:
            _, spool, drain = variants[k]
            figures = session(path, spool, drain)
            if i:
                results[k].append(figures)
    size = os.path.getsize(path)
    print(f"## floor: cat of {size / 1e6:.0f} MB through a pty relay, {rounds} rounds, interleaved")
    print()
    print("| variant | median ms | MB/s | relay CPU s | writer CPU s | ratio of medians | "
          "paired ratio [quartiles] | paired relay CPU ratio |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    medians = [statistics.median(r[0] for r in result) for result in results]
    for (label, _, drain), result, median in zip(variants, results, medians, strict=True):
        base = results[2 if drain else 0]
        relay_cpu = statistics.median(r[1] for r in result)
        writer_cpu = statistics.median(r[2] for r in result)
        print(
            f"| {label} | {median * 1000:.1f} | {size / median / 1e6:.0f} | {relay_cpu:.3f} | "
            f"{writer_cpu:.3f} | {median / medians[2 if drain else 0]:.3f} | "
            f"{paired([r[0] for r in result], [r[0] for r in base])} | "
            f"{paired([r[1] for r in result], [r[1] for r in base])} |"
        )
    print()


if __name__ == "__main__":
    try:
        main()
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            sys.exit(f"floor_record.py: no such file: {exc.filename}")
        raise
