"""The published ports view: what ``net``, ``inspect``, the TUI and the report show of a port."""

from __future__ import annotations

from debugtool.model import Port
from debugtool.views import Column, pids_text

#: What the LISTENER column says when nothing on the host listens on a published port.
NAT_ONLY = "NAT rule only"


def host_text(port: Port) -> str:
    """Return the host side as ``ss`` writes an endpoint: ``127.0.0.1:18099``, ``[::]:53``,
    ``*:8080`` when the runtime gave no address (every address)."""
    ip = port.host_ip
    host = "*" if not ip else f"[{ip}]" if ":" in ip else ip
    return f"{host}:{port.host_port}"


def container_text(port: Port) -> str:
    """Return the container side as ``docker port`` writes it: ``8099/tcp``."""
    return f"{port.container_port}/{port.protocol}"


def listener_text(port: Port) -> str:
    """Return who answers on the host: the process's name, ``NAT rule only``, or '-' when it
    was not looked at (a runtime's list, a bundle of an older debugtool)."""
    if port.listener == "nat":
        return NAT_ONLY
    if port.listener == "process":
        return port.host_process or "(a socket no process holds)"
    return "-"


PROTOCOL: Column[Port] = Column("protocol", "PROTO", lambda p: p.protocol)
HOST: Column[Port] = Column("host", "HOST", host_text)
CONTAINER: Column[Port] = Column("container", "CONTAINER", container_text)
LISTENER: Column[Port] = Column("listener", "LISTENER", listener_text)
HOST_PID: Column[Port] = Column(
    "host_pid", "HOST PID", lambda p: tuple(p.host_pids), format=pids_text
)

#: What ``net``, ``inspect``, the TUI and the report show.
COLUMNS: list[Column[Port]] = [PROTOCOL, HOST, CONTAINER, LISTENER, HOST_PID]
