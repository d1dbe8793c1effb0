"""``--summary``: calls, errors and time per syscall, as strace -c's table or as JSON rows.

The time is what ``strace -c`` reports: the system CPU time the tracee used between a syscall's
entry and its exit, from the ``ru_stime`` that wait4(2) reports with each ptrace stop (strace
does the same). The kernel accounts CPU time in ticks, so a quick syscall often counts 0 and a
blocking one (a ``wait4``, a ``read`` from a pipe) little: its wall time, the seconds between
entry and exit, is the ``wall`` column of the JSON rows (``strace -c -w`` shows that instead).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO, Any


@dataclass(slots=True)
class SyscallStats:
    """Counts for ``--summary``: calls, errors, system seconds and wall seconds between entry and
    exit."""

    calls: int = 0
    errors: int = 0
    seconds: float = 0.0
    wall: float = 0.0


def summary_table(stats: dict[str, SyscallStats], out: IO[str]) -> None:
    """Write ``--summary`` like ``strace -c``: % time, seconds, usecs/call, calls, errors.

    Time is system time, as strace -c's (the module's docstring).
    """
    total = sum(s.seconds for s in stats.values()) or 1e-12
    rows = sorted(stats.items(), key=lambda kv: (-kv[1].seconds, -kv[1].calls, kv[0]))
    out.write("% time     seconds  usecs/call     calls    errors syscall\n")
    out.write("------ ----------- ----------- --------- --------- ----------------\n")
    for name, s in rows:
        usecs = int(s.seconds * 1e6 / s.calls) if s.calls else 0
        errors = str(s.errors) if s.errors else ""
        out.write(
            f"{100 * s.seconds / total:6.2f} {s.seconds:11.6f} {usecs:11d} {s.calls:9d} "
            f"{errors:>9} {name}\n"
        )
    out.write("------ ----------- ----------- --------- --------- ----------------\n")
    calls = sum(s.calls for s in stats.values())
    failed = sum(s.errors for s in stats.values())
    secs = sum(s.seconds for s in stats.values())
    usecs = int(secs * 1e6 / calls) if calls else 0
    out.write(f"100.00 {secs:11.6f} {usecs:11d} {calls:9d} {failed or '':>9} total\n")


def summary_json(stats: dict[str, SyscallStats]) -> list[dict[str, Any]]:
    """Return ``--summary`` rows as dicts (syscall, calls, errors, seconds of system time,
    wall seconds), busiest first."""
    rows = sorted(stats.items(), key=lambda kv: (-kv[1].seconds, -kv[1].calls, kv[0]))
    return [
        {
            "syscall": n,
            "calls": s.calls,
            "errors": s.errors,
            "seconds": round(s.seconds, 6),
            "wall": round(s.wall, 6),
        }
        for n, s in rows
    ]
