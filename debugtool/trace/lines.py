"""One line per traced syscall: strace-style text or a JSON object, stamped with the time of day."""

from __future__ import annotations

import json
import time


class Clock:
    """Time-of-day stamps as ``strace -tt`` writes them (``14:03:07.123456``, local time).

    The text of the current second is kept, so most stamps cost one format and no ``strftime``.
    """

    def __init__(self) -> None:
        self._second = -1
        self._second_text = ""

    def stamp(self, t: float) -> str:
        """Return ``t`` (seconds since the epoch) as ``HH:MM:SS.microseconds``."""
        second = int(t)
        if second != self._second:
            self._second = second
            self._second_text = time.strftime("%H:%M:%S", time.localtime(second))
        return f"{self._second_text}.{int((t - second) * 1e6):06d}"


def text_line(stamp: str, pid: int, call: str, result: str | int) -> str:
    """Return ``STAMP [pid   PID] CALL = RESULT`` and a newline; PID as the container sees it."""
    return f"{stamp} [pid {pid:>5}] {call} = {result}\n"


def json_line(
    entered: float,
    pid: int,
    host_pid: int,
    name: str,
    call: str,
    rval: int | None,
    errname: str | None,
    result: str,
) -> str:
    """Return one JSON object and a newline: ``time`` (entry, epoch seconds), ``pid`` (as the
    container sees it), ``host_pid``, ``syscall``, ``call``, ``return`` (None when it did not
    return), ``errno`` (its name, or None) and ``result`` (as the text line shows it)."""
    return (
        json.dumps(
            {
                "time": round(entered, 6),
                "pid": pid,
                "host_pid": host_pid,
                "syscall": name,
                "call": call,
                "return": rval,
                "errno": errname,
                "result": result,
            }
        )
        + "\n"
    )
