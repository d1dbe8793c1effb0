"""The interfaces view: what ``net``, the console, the TUI and the report show of an interface."""

from __future__ import annotations

from debugtool.model import Interface
from debugtool.views import Column, size_text


def _kind(i: Interface) -> str:
    kind = i.kind or "-"
    return f"{kind} (host: {i.peer})" if i.peer else kind


def _errors(i: Interface) -> str:
    return f"{i.rx_errors + i.tx_errors}/{i.rx_dropped + i.tx_dropped}"


NAME: Column[Interface] = Column("name", "INTERFACE", lambda i: i.name)
KIND: Column[Interface] = Column("kind", "KIND", _kind)
STATE: Column[Interface] = Column("state", "STATE", lambda i: i.state)
MTU: Column[Interface] = Column("mtu", "MTU", lambda i: i.mtu or None, justify="right")
MAC: Column[Interface] = Column("mac", "MAC", lambda i: i.mac)
ADDRESSES: Column[Interface] = Column(
    "addresses", "ADDRESSES", lambda i: ", ".join(f"{a.address}/{a.prefixlen}" for a in i.addresses)
)
RX_BYTES: Column[Interface] = Column(
    "rx_bytes", "RX BYTES", lambda i: i.rx_bytes, format=size_text, justify="right"
)
RX_PACKETS: Column[Interface] = Column(
    "rx_packets", "RX PKTS", lambda i: i.rx_packets, justify="right"
)
RX_ERRORS: Column[Interface] = Column("rx_errors", "RX ERR", lambda i: i.rx_errors, justify="right")
RX_DROPPED: Column[Interface] = Column(
    "rx_dropped", "RX DROP", lambda i: i.rx_dropped, justify="right"
)
TX_BYTES: Column[Interface] = Column(
    "tx_bytes", "TX BYTES", lambda i: i.tx_bytes, format=size_text, justify="right"
)
TX_PACKETS: Column[Interface] = Column(
    "tx_packets", "TX PKTS", lambda i: i.tx_packets, justify="right"
)
TX_ERRORS: Column[Interface] = Column("tx_errors", "TX ERR", lambda i: i.tx_errors, justify="right")
TX_DROPPED: Column[Interface] = Column(
    "tx_dropped", "TX DROP", lambda i: i.tx_dropped, justify="right"
)
#: Errors and drops, received and sent together, for a screen with no room for four columns.
ERRORS: Column[Interface] = Column("errors", "ERR/DROP", _errors, justify="right")

#: What ``net`` shows.
COLUMNS: list[Column[Interface]] = [
    NAME,
    KIND,
    STATE,
    MTU,
    MAC,
    ADDRESSES,
    RX_BYTES,
    RX_PACKETS,
    RX_ERRORS,
    RX_DROPPED,
    TX_BYTES,
    TX_PACKETS,
    TX_ERRORS,
    TX_DROPPED,
]
