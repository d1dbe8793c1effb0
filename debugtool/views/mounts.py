"""The mounts view: what ``mounts``, the console, the TUI and the report show of a mount."""

from __future__ import annotations

from debugtool.snapshot import Mount
from debugtool.views import Column

MOUNTPOINT: Column[Mount] = Column("mountpoint", "MOUNTPOINT", lambda m: m.mountpoint)
TYPE: Column[Mount] = Column("fstype", "TYPE", lambda m: m.fstype)
SOURCE: Column[Mount] = Column("source", "SOURCE", lambda m: m.source)
HOST_PATH: Column[Mount] = Column("host_path", "HOST PATH", lambda m: m.host_path)
MODE: Column[Mount] = Column("mode", "MODE", lambda m: "ro" if m.readonly else "rw", width=4)
PROPAGATION: Column[Mount] = Column("propagation", "PROPAGATION", lambda m: m.propagation)
OPTIONS: Column[Mount] = Column("options", "OPTIONS", lambda m: m.options)
# Marked '!' as the security warnings are; empty, not '-', for a mount with nothing risky
# (that is known, not unknown).
RISK: Column[Mount] = Column(
    "risk", "RISK", lambda m: "! " + "; ".join(m.risks) if m.risks else "", format=str, width=36
)

#: What ``mounts``, the console and the report show.
COLUMNS: list[Column[Mount]] = [MOUNTPOINT, TYPE, SOURCE, HOST_PATH, MODE, PROPAGATION, RISK]


def risky_count(mounts: list[Mount]) -> int:
    """Return how many of ``mounts`` have a risk."""
    return sum(1 for m in mounts if m.risks)
