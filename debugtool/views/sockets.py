"""The sockets view: what ``net``, the console, the TUI and the report show of a socket."""

from __future__ import annotations

from debugtool.record import record
from debugtool.snapshot import Socket
from debugtool.views import Column, pids_text


@record(frozen=True, slots=True)
class SocketRow:
    """A socket as a table shows it: a connected UNIX socket with its ``peer`` when the peer is
    among the sockets listed."""

    socket: Socket
    peer: Socket | None = None


def rows(sockets: list[Socket]) -> list[SocketRow]:
    """Return the sockets as rows, each connected UNIX socket with its peer."""
    by_inode = {s.inode: s for s in sockets if s.protocol == "unix"}
    return [
        SocketRow(s, by_inode.get(s.peer_inode) if s.protocol == "unix" and s.peer_inode else None)
        for s in sockets
    ]


def endpoint(address: str, port: int, protocol: str) -> str:
    """Return ``address:port`` as ``ss`` writes it: IPv6 in brackets, an unset side as ``*:*``
    (``*`` for a UNIX socket)."""
    if address in ("", "0.0.0.0", "::") and not port:
        return "*:*" if protocol != "unix" else "*"
    host = f"[{address}]" if ":" in address else address
    return f"{host}:{port if port else '*'}"


def _protocol(row: SocketRow) -> str:
    s = row.socket
    if s.protocol == "unix" and s.socket_type:
        return f"unix/{s.socket_type}"
    return s.protocol


def _local(row: SocketRow) -> str:
    s = row.socket
    if s.protocol == "unix":
        return s.path or "*"
    return endpoint(s.local_address, s.local_port, s.protocol)


def _remote(row: SocketRow) -> str:
    s, peer = row.socket, row.peer
    if s.protocol != "unix":
        return endpoint(s.remote_address, s.remote_port, s.protocol)
    if peer is not None and peer.process:
        return f"{peer.path or '*'} ({peer.process})"
    return (peer.path if peer else "") or "*"


def _process(row: SocketRow) -> tuple[str, int]:
    s = row.socket
    return (s.process, len(s.pids)) if s.pids else ("", 0)


def _process_text(value: tuple[str, int]) -> str:
    name, holders = value
    if not holders:
        return "-"
    return (name or "-") + (f" (+{holders - 1})" if holders > 1 else "")


PROTOCOL: Column[SocketRow] = Column("protocol", "PROTO", _protocol)
STATE: Column[SocketRow] = Column("state", "STATE", lambda r: r.socket.state)
LOCAL: Column[SocketRow] = Column("local", "LOCAL", _local)
REMOTE: Column[SocketRow] = Column("remote", "REMOTE", _remote)
# The holders' PIDs sort by the first of them.
PID: Column[SocketRow] = Column(
    "pid", "PID", lambda r: tuple(r.socket.nspids) if r.socket.pids else (), format=pids_text
)
HOST_PID: Column[SocketRow] = Column(
    "host_pid", "HOST PID", lambda r: tuple(r.socket.pids), format=pids_text
)
PROCESS: Column[SocketRow] = Column("process", "PROCESS", _process, format=_process_text)
RECV_Q: Column[SocketRow] = Column(
    "rx_queue", "RECV-Q", lambda r: r.socket.rx_queue, justify="right"
)
SEND_Q: Column[SocketRow] = Column(
    "tx_queue", "SEND-Q", lambda r: r.socket.tx_queue, justify="right"
)

#: What ``net``, the console and the report show.
COLUMNS: list[Column[SocketRow]] = [PROTOCOL, STATE, LOCAL, REMOTE, PID, HOST_PID, PROCESS]
