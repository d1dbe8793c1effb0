"""One view per entity: the columns people see of it, their headers, and how each value becomes text.

Every table of containers, processes, mounts, interfaces, routes, sockets and audit sessions
is built from the columns of one module here, and the cgroup and security sections from the
text functions of ``cgroup`` and ``security``: the CLI (``render``, ``commands.ps``,
``commands.audit``), the TUI's tables and panels, and the bundle's HTML report. A front end
chooses which columns to show and in what order (the TUI leaves out what a screen cannot
hold, the report what only makes sense at a terminal); it never writes a column of its own.

A ``Column`` has a ``value`` (the raw value, which tables sort on) and a ``format`` that turns
that value into text; ``text(item)`` is the two together. The text depends on the value alone,
so a table that redraws only the values that changed (the TUI) is never stale. The text is
what a container chose, unescaped: each front end escapes it where it writes it
(``output.printable`` in the CLI's tables and the TUI's cells, ``tui.format.plain`` for the
TUI's other text, ``report.esc`` in the report).

This package is core: it imports neither Textual, Rich nor prompt_toolkit.

The vocabulary, the same in every front end (tests/unit/test_views.py walks every view's
headers against it):

- Headers are upper case, and one thing has one header:
  ``STATE`` (never ``S``), ``%CPU`` (never ``CPU %``), ``RSS`` for a process's resident memory
  and ``MEM USAGE / LIMIT`` for a cgroup's (never ``MEM``), ``INTERFACE`` (interfaces and
  routes alike), ``POD NAMESPACE`` for a Kubernetes or podman pod's namespace (never ``K8S
  NS`` or a bare ``NAMESPACE``, which would read as a Linux namespace), ``STARTED``,
  ``FINISHED`` and ``CREATED`` for ages, ``TIME`` for a moment.
- A container's last exit is ``EXIT``: its code, with ``OOM`` when the kernel OOM-killed it
  (``137 OOM``); its restarts ``RESTARTS``; a restarting one's marker in the TUI says how
  many and how fast: ``restarting ×14, 3/min``.
- ``PID`` is a process's PID inside its container, as ``ps`` run in the container shows it;
  ``HOST PID`` is the host's (``HOST TID`` a thread's); ``PPID`` the parent's PID inside the
  container. The container's PID is the one its logs, its pid files and ``kill`` inside it
  use, and the one ``exec``, ``console`` and ``trace --pid`` take; the host's sits next to it
  for host tools (``nsenter -t``, ``strace -p``, ``perf``). (``docker top`` shows host PIDs
  under ``PID`` only because it runs ``ps`` on the host.) So the containers list, which shows
  each init's PID on the host, calls that column ``HOST PID``, and a kernel log's OOM kill,
  which names the host's PID, is ``HOST PID`` too. A PID marked ``*`` is in the container's
  PID namespace but not its cgroup. ``commands.PID_MEANING`` says this in ``--help``.
- Likewise ``UID`` is a process's uid inside its container's user namespace (what ``id`` in
  the container prints, named under ``USER`` from the container's own ``/etc/passwd``) and
  ``HOST UID`` the host's: a rootless container's root is its owner's uid on the host. The
  process tables add the two only for a container whose user namespace maps ids.
- ``OWNER`` is the host user whose runtime runs a container (rootless podman); root's
  runtimes' containers show ``root``. ``ps`` shows the column only when a rootless container
  is listed.
- ``%CPU`` is percent of one core, as ``ps`` writes it: ``12.5`` (the header has the ``%``).
- Sizes are binary: ``1.5MiB``. Unknown is ``-``; no limit is written ``no limit``.
- A container whose cgroup is the host's (the root, or a group shared with host processes,
  as a bare ``unshare`` sandbox's is) has no usage: ``%CPU`` is ``-`` and the memory column,
  the cgroup lines and the report say ``host cgroup`` (``cgroup.HOST_CGROUP``).
- Ids are 12 characters, as ``docker ps`` shows them (``ps --no-trunc`` for whole ids).
- Times are written two ways only: an age in a table as ``docker ps`` writes it,
  ``5 minutes ago`` (``output.human_age``), and every other time in UTC to the second,
  ``2026-12-06 07:43:23 UTC`` (``output.utc_text``). Durations one way: ``0.25s`` under a
  minute, then two units, ``4m 05s``, ``3h 07m``, ``2d 04h`` (``output.duration_text``).
- Capabilities are written by their kernel names: ``CAP_CHOWN``.
- uid and gid maps are ``inside:outside:count``, the form ``podman --uidmap`` takes:
  ``0:100000:65536``.
- Endpoints are written as ``ss`` writes them: ``127.0.0.1:8080``, ``[::1]:8443``, and a side
  that is not set as ``*:*`` (an unnamed UNIX socket as ``*``).
- A process tree indents its ``COMMAND`` as ``ps f`` does: ``\\_ child``.
"""

from __future__ import annotations

from debugtool import output
from debugtool.output import human_size
from debugtool.record import Generic, TypeVar, record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from typing import Any, Literal, TextIO

T = TypeVar("T")


def dash(value: Any) -> str:
    """Return a value as text: '-' for unknown (None or an empty text)."""
    return "-" if value is None or value == "" else str(value)


def cpu_text(value: float | None) -> str:
    """Return a CPU percentage of one core as ``12.5`` ('-' when unknown)."""
    return "-" if value is None else f"{value:.1f}"


def size_text(value: float | None) -> str:
    """Return a byte count as ``1.5MiB`` ('-' when unknown)."""
    return human_size(value)


def pids_text(value: Iterable[int]) -> str:
    """Return PIDs as ``5,6`` ('-' for none)."""
    return ",".join(map(str, value)) or "-"


@record(frozen=True)
class Column(Generic[T]):
    """One column of a view: its key, its header, its raw value of an item and that value's text.

    ``width`` fixes the column's width where a front end lays out a fixed screen (the TUI);
    the CLI and the report size columns to what they hold.
    """

    key: str
    header: str
    value: Callable[[T], Any]
    format: Callable[[Any], str] = dash
    justify: Literal["left", "right"] = "left"
    width: int | None = None

    def text(self, item: T) -> str:
        """Return what people see of ``item`` in this column."""
        return self.format(self.value(item))


def texts(columns: Iterable[Column[T]], items: Iterable[T]) -> list[list[str]]:
    """Return each item's row of texts under ``columns``."""
    # The value and format of each column looked up once: this runs for every cell of a table
    # of ten thousand sockets.
    pairs = [(column.value, column.format) for column in columns]
    return [[format(value(item)) for value, format in pairs] for item in items]


def table(
    columns: Sequence[Column[Any]],
    items: Iterable[Any],
    stream: TextIO | None = None,
    fit: bool | None = None,
) -> None:
    """Write ``items`` as a table of ``columns`` (``output.table``: aligned, made printable)."""
    output.table(
        [c.header for c in columns],
        texts(columns, items),
        stream=stream,
        fit=fit,
        justify=[c.justify for c in columns],
    )
