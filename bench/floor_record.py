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
spool" is the least a recording can add; debugtool's own figures are set beside it.
Usage: floor_record.py FILE [ROUNDS] (prints a table of medians and CPU per session)
"""

from __future__ import annotations

import errno
import fcntl
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


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            select.select([], [fd], [])


def relay(master: int, sink: int, pipe: int | None, drain: bool) -> None:
    """Copy ``master`` to ``sink`` until EIO; frame each read for ``pipe`` when given."""
    head = struct.Struct("<dBI").pack
    buffer = bytearray()
    started = time.monotonic()
    poller = select.poll()
    poller.register(master, select.POLLIN)
    if drain:
        os.set_blocking(master, False)
    try:
        _copy(master, sink, pipe, drain, poller, buffer, head, started)
    finally:
        if pipe is not None:
            os.set_blocking(pipe, True)
            write_all(pipe, bytes(buffer))


def _copy(master: int, sink: int, pipe: int | None, drain: bool, poller: select.poll,
          buffer: bytearray, head: Callable[..., bytes], started: float) -> None:  # fmt: skip
    flush_at = 65536
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
        if pipe is not None:
            buffer += head(time.monotonic() - started, 111, len(data))
            buffer += data
            if len(buffer) >= flush_at:
                try:
                    del buffer[: os.write(pipe, buffer)]
                    flush_at = 65536
                except BlockingIOError:
                    flush_at = len(buffer) + 65536


def session(path: str, recorded: bool, drain: bool) -> tuple[float, float, float]:
    """Relay one ``cat path``; return (wall seconds, relay CPU seconds, writer CPU seconds)."""
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
    pipe = writer = None
    if recorded:
        data_r, pipe = os.pipe()
        fcntl.fcntl(pipe, 1031, 1 << 20)  # F_SETPIPE_SZ, as debugtool's recorder
        os.set_blocking(pipe, False)
        writer = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", WRITER, str(data_r)],
            pass_fds=(data_r,),
        )
        os.close(data_r)
    cpu = time.process_time()
    started = time.perf_counter()
    cat = subprocess.Popen(["cat", path], stdout=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    relay(master, sink_slave, pipe, drain)
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
    return elapsed, relay_cpu, writer_cpu


def main() -> None:
    path = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 9
    variants = [
        ("relay, one read per poll", False, False),
        ("relay + raw spool, one read per poll", True, False),
        ("relay, reads until EAGAIN", False, True),
        ("relay + raw spool, reads until EAGAIN", True, True),
    ]
    results: list[list[tuple[float, float, float]]] = [[] for _ in variants]
    for i in range(rounds + 1):  # the first round warms up
        for k in [(i + j) % len(variants) for j in range(len(variants))]:
            _, recorded, drain = variants[k]
            figures = session(path, recorded, drain)
            if i:
                results[k].append(figures)
    size = os.path.getsize(path)
    print(f"## floor: cat of {size / 1e6:.0f} MB through a pty relay, {rounds} rounds, interleaved")
    print()
    print("| variant | median ms | MB/s | relay CPU s | writer CPU s | ratio |")
    print("|---|---|---|---|---|---|")
    medians = [statistics.median(r[0] for r in result) for result in results]
    for (label, _, drain), result, median in zip(variants, results, medians, strict=True):
        base = medians[2 if drain else 0]
        relay_cpu = statistics.median(r[1] for r in result)
        writer_cpu = statistics.median(r[2] for r in result)
        print(
            f"| {label} | {median * 1000:.1f} | {size / median / 1e6:.0f} | {relay_cpu:.3f} | "
            f"{writer_cpu:.3f} | {median / base:.3f} |"
        )
    print()


if __name__ == "__main__":
    try:
        main()
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            sys.exit(f"floor_record.py: no such file: {exc.filename}")
        raise
