"""The routes view: what ``net``, the console, the TUI and the report show of a route."""

from __future__ import annotations

from debugtool.snapshot import Route
from debugtool.views import Column


def shown(routes: list[Route]) -> list[Route]:
    """Return the routes people see, as ``ip route`` shows them.

    The local table holds the kernel's own host and broadcast routes (``ip route show table
    local``); multicast routes are the kernel's too. ``--json`` has them all.
    """
    return [r for r in routes if r.table != "local" and r.type != "multicast"]


def _table(r: Route) -> str:
    return r.table if r.type in ("", "unicast") else f"{r.table} ({r.type})"


DESTINATION: Column[Route] = Column("destination", "DESTINATION", lambda r: r.destination)
GATEWAY: Column[Route] = Column("gateway", "GATEWAY", lambda r: r.gateway)
INTERFACE: Column[Route] = Column("interface", "INTERFACE", lambda r: r.interface)
SOURCE: Column[Route] = Column("prefsrc", "SRC", lambda r: r.prefsrc)
PROTOCOL: Column[Route] = Column("protocol", "PROTO", lambda r: r.protocol)
SCOPE: Column[Route] = Column("scope", "SCOPE", lambda r: r.scope)
METRIC: Column[Route] = Column("metric", "METRIC", lambda r: r.metric, justify="right")
TABLE: Column[Route] = Column("table", "TABLE", _table)

#: What ``net``, the TUI and the report show.
COLUMNS: list[Column[Route]] = [
    DESTINATION,
    GATEWAY,
    INTERFACE,
    SOURCE,
    PROTOCOL,
    SCOPE,
    METRIC,
    TABLE,
]
