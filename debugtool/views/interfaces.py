"""The interfaces view: what ``net``, the console, the TUI and the report show of an interface."""

from __future__ import annotations

from operator import attrgetter

from debugtool.snapshot import Interface
from debugtool.views import Column, dash, size_text


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


def _counters(way: str) -> tuple[Column[Interface], ...]:
    """Return the BYTES, PKTS, ERR and DROP columns of one way: ``rx`` or ``tx``."""
    return tuple(
        Column(
            f"{way}_{field}",
            f"{way.upper()} {header}",
            attrgetter(f"{way}_{field}"),
            format=size_text if field == "bytes" else dash,
            justify="right",
        )
        for field, header in (
            ("bytes", "BYTES"),
            ("packets", "PKTS"),
            ("errors", "ERR"),
            ("dropped", "DROP"),
        )
    )


RX_BYTES, RX_PACKETS, RX_ERRORS, RX_DROPPED = _counters("rx")
TX_BYTES, TX_PACKETS, TX_ERRORS, TX_DROPPED = _counters("tx")
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
