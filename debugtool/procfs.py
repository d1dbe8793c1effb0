"""Small parsers for /proc files, each tested on captured text under tests/fixtures/.

Readers translate ``OSError`` at this boundary, as psutil does: a process that vanished raises
``ProcessGone``, a refused read raises ``PermissionDenied``; callers never see a bare ``OSError``.
"""

from __future__ import annotations

import errno
import os

from debugtool.errors import DebugtoolError, PermissionDenied

PROC = "/proc"

#: Namespace types in the order a joiner enters them (user first, mount late, pid before fork).
NAMESPACE_TYPES = ("user", "cgroup", "ipc", "uts", "net", "pid", "mnt", "time")


class ProcessGone(DebugtoolError):
    """The process exited while it was being read (normal churn, not a failure)."""


def _translate(exc: OSError, pid: int | str, what: str) -> DebugtoolError:
    if exc.errno in (errno.ENOENT, errno.ESRCH):
        return ProcessGone(f"process {pid} exited while reading {what}.")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return PermissionDenied(
            f"reading {what} of process {pid} was refused.", need="CAP_SYS_PTRACE"
        )
    return DebugtoolError(f"reading {what} of process {pid} failed: {exc.strerror}.")


def read_bytes(pid: int | str, name: str) -> bytes:
    """Return the raw content of ``/proc/PID/NAME``."""
    try:
        with open(f"{PROC}/{pid}/{name}", "rb") as f:
            return f.read()
    except OSError as exc:
        raise _translate(exc, pid, name) from None


def read_text(pid: int | str, name: str) -> str:
    """Return ``/proc/PID/NAME`` decoded as UTF-8 (undecodable bytes escaped)."""
    return read_bytes(pid, name).decode("utf-8", "surrogateescape")


def parse_stat(text: str) -> dict[str, int | str]:
    """Parse ``/proc/PID/stat``: comm (which may hold spaces and parens), state, ppid, times.

    The command name sits between the first ``(`` and the *last* ``)``.
    """
    lpar = text.index("(")
    rpar = text.rindex(")")
    rest = text[rpar + 2 :].split()
    return {
        "pid": int(text[:lpar]),
        "comm": text[lpar + 1 : rpar],
        "state": rest[0],
        "ppid": int(rest[1]),
        "pgrp": int(rest[2]),
        "session": int(rest[3]),
        "utime": int(rest[11]),
        "stime": int(rest[12]),
        "num_threads": int(rest[17]),
        "starttime": int(rest[19]),
        "vsize": int(rest[20]),
        "rss_pages": int(rest[21]),
    }


def start_time(pid: int) -> int:
    """Return a process's start time in clock ticks since boot (field 22 of stat)."""
    return int(parse_stat(read_text(pid, "stat"))["starttime"])


def parse_status(text: str) -> dict[str, str]:
    """Parse ``/proc/PID/status`` into its ``Key: value`` pairs (values stripped)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key] = value.strip()
    return fields


def nspid(status: dict[str, str]) -> list[int]:
    """Return the ``NSpid`` chain: host PID first, the PID in the innermost namespace last."""
    return [int(p) for p in status.get("NSpid", "").split()]


def namespace_inodes(pid: int | str) -> dict[str, int]:
    """Return ``{type: inode}`` for each namespace of a process that the kernel exposes."""
    inodes: dict[str, int] = {}
    for ns in NAMESPACE_TYPES:
        try:
            inodes[ns] = os.stat(f"{PROC}/{pid}/ns/{ns}").st_ino
        except FileNotFoundError:
            if not os.path.exists(f"{PROC}/{pid}"):
                raise ProcessGone(f"process {pid} exited while reading its namespaces.") from None
        except OSError as exc:
            raise _translate(exc, pid, "ns") from None
    return inodes


def parse_cgroup(text: str) -> dict[str, str]:
    """Parse ``/proc/PID/cgroup`` into ``{controllers: path}``.

    cgroup v2's single line has an empty controller list and is keyed ``""``; v1 lines are keyed
    by their comma-joined controllers (``"cpu,cpuacct"``, ``"name=systemd"``).
    """
    paths: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            paths[parts[1]] = parts[2]
    return paths


def cmdline(pid: int | str) -> list[str]:
    """Return a process's argv (non-UTF-8 bytes escaped); empty for kernel threads."""
    raw = read_bytes(pid, "cmdline")
    if not raw:
        return []
    return [a.decode("utf-8", "surrogateescape") for a in raw.rstrip(b"\0").split(b"\0")]
