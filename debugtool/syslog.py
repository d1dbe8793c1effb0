"""Forwarding of audit lines to the local syslog (``[audit] syslog = true``), as ``logger`` does.

Each line goes as one datagram to ``/dev/log`` (``DEBUGTOOL_SYSLOG_SOCKET`` names another
socket, for tests), in the format glibc's ``syslog(3)`` sends there (RFC 3164 without a host
name): ``<86>Dec  6 09:32:14 debugtool[PID]: {...}``, facility authpriv, severity info. journald
and rsyslog both read that socket, so a copy of the audit trail lives outside the file.

Local only, and never in the way of the command: the socket is non-blocking (a syslog daemon
that is slow or gone drops the line rather than stall an exec), and a failure is one warning
per process, never a refusal.
"""

from __future__ import annotations

import os
import time

DEFAULT_SOCKET = "/dev/log"
FACILITY_AUTHPRIV = 10
SEVERITY_INFO = 6
TAG = "debugtool"

_warned = False


def socket_path() -> str:
    return os.environ.get("DEBUGTOOL_SYSLOG_SOCKET") or DEFAULT_SOCKET


def message(line: bytes, now: float | None = None, pid: int | None = None) -> bytes:
    """Return the datagram for one audit line."""
    stamp = time.strftime("%b %e %H:%M:%S", time.localtime(now))  # %e: day padded with a space
    priority = FACILITY_AUTHPRIV * 8 + SEVERITY_INFO
    head = f"<{priority}>{stamp} {TAG}[{pid or os.getpid()}]: "
    return head.encode() + line


def send(line: bytes) -> bool:
    """Send one audit line to syslog; return whether it went. A failure warns once."""
    import _socket  # socket.py imports enum and selectors; the C module is all this needs

    path = socket_path()
    try:
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM | _socket.SOCK_CLOEXEC)
    except OSError as exc:
        _warn(path, exc)
        return False
    try:
        sock.setblocking(False)
        sock.sendto(message(line), path)
        return True
    except OSError as exc:
        _warn(path, exc)
        return False
    finally:
        sock.close()


def _warn(path: str, exc: OSError) -> None:
    global _warned
    if _warned:
        return
    _warned = True
    import sys

    sys.stderr.write(
        f"debugtool: warning: the audit line was not forwarded to syslog at {path} "
        f"({exc.strerror or exc}); it is in the audit log.\n"
    )
