"""The first screen: every container of every runtime, with live CPU and memory."""

from __future__ import annotations

from dataclasses import dataclass

from debugtool_tui.format import plain
from debugtool_tui.screens import sorting
from debugtool_tui.screens.polling import PollingScreen
from debugtool_tui.widgets.banner import Banner
from debugtool_tui.widgets.filter_bar import FilterBar
from debugtool_tui.widgets.live_table import LiveTable
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Footer, Header, Static

from debugtool.errors import ContainerGone, DebugtoolError
from debugtool.model import Container
from debugtool.output import utc_text
from debugtool.record import replace
from debugtool.runtimes import Discovery
from debugtool.snapshot import CgroupStats
from debugtool.views import containers as view

TYPE_CHECKING = False
if TYPE_CHECKING:
    from debugtool.fleet.source import NodeState

# Left to right as ``debugtool ps`` has them, usage last. A narrow terminal keeps the columns in
# KEEP's order (an 80-column one: ID, NAME, %CPU, memory and STATUS; 120: the pod and image
# too); NAME, STATUS, POD, IMAGE and RUNTIME may narrow.
BASE_COLUMNS = [
    view.ID,
    view.NAME,
    view.RUNTIME,
    view.IMAGE,
    view.STATUS_LAST,  # with the last exit, OOM, and a restarting one's restarts and rate
    view.HOST_PID,
    view.CPU,
    view.MEMORY,
]
# STATUS comes after the usage: its last state (``restarting ×14, 3/min``) may narrow, cut
# with '…', where a terminal has no room for it whole (the detail screen has it whole).
KEEP = [
    "node",
    "id",
    "name",
    "cpu",
    "memory",
    "status",
    "pod",
    "image",
    "host_pid",
    "runtime",
    "owner",
]
SHRINK = {"node": 6, "name": 12, "image": 12, "runtime": 8, "pod": 10, "status": 7}
# shift+letter sorts by a column (k9s's keys where it has one).
SORT_KEYS = {
    "I": "id",
    "N": "name",
    "R": "runtime",
    "G": "image",
    "S": "status",
    "P": "host_pid",
    "C": "cpu",
    "M": "memory",
    "O": "pod",
}

DISCOVER_EVERY = 3.0  # seconds between runtime listings; cgroup samples come every interval
#: How long ``r`` over many nodes waits for their answers before showing what it has.
FORCED_WAIT = 5.0
FORGET_AFTER = 60.0  # seconds a removed container stays listed, marked removed
RATE_WINDOW = 300.0  # seconds of restart counts a restart rate is taken over


class ContainersScreen(PollingScreen):
    """Lists containers; Enter opens one. Polls only while it is the screen on top."""

    BINDINGS = [
        *PollingScreen.APP_BINDINGS,
        Binding("enter", "open", "Open", show=True),
        Binding("slash", "filter", "Filter"),
        Binding("s", "sort", "Sort"),
        Binding("r", "refresh", "Refresh"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
        *PollingScreen.ACTION_BINDINGS,
        *sorting.sort_bindings(SORT_KEYS),
    ]

    @dataclass
    class Polled(Message):
        """One poll's result: a new listing (or None between listings) and cgroup samples."""

        listing: Discovery | None
        samples: dict[str, CgroupStats]
        gone: list[str]
        errors: list[str]
        at: float
        nodes: list[NodeState] | None = None  # over many nodes: how each answered

    def __init__(self) -> None:
        super().__init__()
        self.containers: dict[str, Container] = {}
        self.removed_at: dict[str, float] = {}
        # (time, restart count) of each container that has restarted, over RATE_WINDOW.
        self.restarts: dict[str, list[tuple[float, int]]] = {}
        self.warnings: list[str] = []
        self.last_listing = float("-inf")
        self._forced = False
        self.updated: float | None = None
        self._status_extra = ""
        self.nodes: list[NodeState] = []

    @property
    def fleet(self) -> bool:
        """Whether the list is of many nodes' containers (``tui -H``, a fleet archive)."""
        return bool(getattr(self.tui.source, "fleet", False))

    def compose(self) -> ComposeResult:
        yield Header()
        yield Banner(id="banner")
        yield FilterBar("filter containers (name, image, runtime, status, ...)", id="filter")
        yield Static(id="nodes")  # one line per node that does not answer (over many nodes)
        yield LiveTable(BASE_COLUMNS, id="containers", keep=KEEP, shrink=SHRINK)
        yield Static(id="status")
        yield Footer()

    @property
    def table(self) -> LiveTable:
        return self.query_one("#containers", LiveTable)

    def on_mount(self) -> None:
        self.sub_title = "containers"
        self.query_one(Banner).show_text(self.tui.source.banner(self.tui.clock()))
        self.table.sort_by("name", reverse=False)
        self.table.focus()
        self.poll()

    # --- polling (a bundle is read once) -------------------------------------------------------
    POLL_GROUP = "containers"

    def start_poll(self) -> None:
        due = self.tui.clock() - self.last_listing >= DISCOVER_EVERY or not self.tui.source.live
        # Over many nodes a listing is what each node said last: it costs nothing to take, and
        # the source asks each node on its own schedule (fleet.source).
        due = due or self.fleet
        forced, self._forced = self._forced, False
        self.collect(due, list(self.containers.values()), forced)

    @work(thread=True, exit_on_error=False, group=POLL_GROUP)
    def collect(self, discover: bool, known: list[Container], forced: bool = False) -> None:
        """Ask the source for containers (when due) and a cgroup sample of each running one.

        ``forced`` (``r``): over many nodes, every node is asked now, whenever it was last
        asked, and its answer waited for (a few seconds at most: a hung node is said later).
        """
        source = self.tui.source
        listing = None
        errors: list[str] = []
        if discover:
            refresh = getattr(source, "refresh", None) if forced else None
            if refresh is not None:
                refresh(wait=FORCED_WAIT)
            try:
                listing = source.containers()
            except DebugtoolError as exc:
                errors.append(exc.for_people())
        containers = listing.containers if listing is not None else known
        samples: dict[str, CgroupStats] = {}
        gone: list[str] = []
        for container in containers:
            if not container.running:
                continue
            try:
                stats = source.cgroup(container)
            except ContainerGone:
                gone.append(container.id)
                continue
            except DebugtoolError as exc:
                if len(errors) < 3:
                    errors.append(f"{container.name}: {exc.for_people()}")
                continue
            if stats is not None:
                samples[container.id] = stats
        states = getattr(source, "node_states", None)
        nodes = states() if states is not None else None
        self.post_message(self.Polled(listing, samples, gone, errors, self.tui.clock(), nodes))

    def on_containers_screen_polled(self, message: Polled) -> None:
        self._polling = False
        if message.listing is not None:
            self.last_listing = message.at
            self._merge(message.listing, message.at)
        for cid in message.gone:
            if cid in self.containers:
                self.containers[cid] = replace(self.containers[cid], status="exited", pid=None)
        for cid, stats in message.samples.items():
            self.tui.usage.add(cid, stats)
        if message.errors:
            self._show_failure("; ".join(message.errors))
        else:
            self._failed = None
        self.updated = message.at
        if message.nodes is not None:
            self.nodes = message.nodes
            self._render_nodes()
        self._render_rows()
        self._schedule()

    def _merge(self, listing: Discovery, now: float) -> None:
        """Take a new listing: add new containers, mark vanished ones removed."""
        self.warnings = listing.warnings
        seen = set()
        for container in listing.containers:
            seen.add(container.id)
            self.containers[container.id] = container
            self.removed_at.pop(container.id, None)
            if container.restart_count:
                history = self.restarts.setdefault(container.id, [])
                history.append((now, container.restart_count))
                while len(history) > 2 and now - history[1][0] >= RATE_WINDOW:
                    del history[0]
        for cid in set(self.restarts) - seen:
            del self.restarts[cid]
        for cid, container in list(self.containers.items()):
            if cid in seen:
                continue
            first = self.removed_at.setdefault(cid, now)
            if now - first > FORGET_AFTER:
                del self.containers[cid]
                del self.removed_at[cid]
            elif container.status != "removed":
                self.containers[cid] = replace(container, status="removed", pid=None)
        self.tui.usage.forget(set(self.containers))

    def on_screen_resume(self) -> None:
        if self.tui.source.live and self._timer is None and self.updated is not None:
            self.poll()

    # --- rendering ------------------------------------------------------------------------------
    def _render_rows(self) -> None:
        rows = self._rows()
        pods = any(c.pod for c in self.containers.values())
        # STATUS is as wide as its longest text (``restarting ×14, 3/min``, ``exited 137
        # OOM``): a list of running containers keeps its room for the image and the pod.
        wide = max((len(view.STATUS_LAST.text(row)) for row in rows.values()), default=0)
        status = replace(view.STATUS_LAST, width=max(wide, view.STATUS.width or 0))
        columns = [status if c.key == "status" else c for c in BASE_COLUMNS]
        columns = view.with_pods(columns) if pods else columns
        if any(c.owner for c in self.containers.values()):  # a rootless container: OWNER
            columns = view.with_owner(columns)
        if self.fleet:
            columns = view.with_node(columns)
        self.table.set_columns(columns)
        self.table.show(rows)
        self._render_status()

    def _rows(self) -> dict[str, view.ContainerRow]:
        """Return each container's row: its usage when sampled, its restart rate."""
        rows: dict[str, view.ContainerRow] = {}
        now = self.tui.clock()
        for cid, c in self.containers.items():
            series = self.tui.usage.get(cid)
            stats = series.last if series else None
            rate = view.restart_rate_of(self.restarts.get(cid, []), c, now)
            if series is not None and c.status in ("running", "paused"):
                rows[cid] = view.ContainerRow(
                    c,
                    cpu_percent=series.cpu_now,
                    memory_usage=stats.memory_usage if stats else None,
                    memory_limit=stats.memory_limit if stats else None,
                    host_cgroup=stats.shared_with_host if stats else False,
                    restart_rate=rate,
                )
            else:
                rows[cid] = view.ContainerRow(c, restart_rate=rate)
        return rows

    def _render_status(self) -> None:
        running = sum(1 for c in self.containers.values() if c.status in ("running", "paused"))
        table = self.table
        parts = [f"{len(self.containers)} containers, {running} running"]
        if self.nodes:
            answering = sum(1 for n in self.nodes if n.answering)
            parts.insert(0, f"{len(self.nodes)} nodes, {answering} answering")
        if table.total != len(self.containers) or table.filter_text:
            parts.append(f"{table.total} match '{table.filter_text}'")
        if table.sort_column:
            parts.append(f"sort: {table.sort_column} {'desc' if table.sort_reverse else 'asc'}")
        if self.tui.source.live and self.updated is not None:
            parts.append(f"updated {utc_text(self.updated)}")
        if self.warnings:
            parts.append("; ".join(self.warnings))
        if self._status_extra:
            parts.append(self._status_extra)
        self.query_one("#status", Static).update(plain(" | ".join(parts)))

    def show_status(self, text: str) -> None:
        self._status_extra = text
        self._render_status()

    def _render_nodes(self) -> None:
        """Show one line for each node that does not answer: why, since when, and that its
        containers are listed as it last listed them (``stale``); none when all answer."""
        lines = []
        for state in self.nodes:
            if state.status:  # a fleet archive: how the node's capture ended, from its index
                if state.status != "ok" or not state.answering:
                    bundle = "its bundle" if state.answering else "no bundle of it"
                    why = f": {state.message}" if state.message else ""
                    lines.append(f"{state.name}: {state.status}{why}; {bundle} in the archive")
            elif state.failing_since is not None:
                held = len(state.containers)
                seen = (
                    f"its {held} containers as last seen {utc_text(state.answered_at)}, stale"
                    if state.answered_at is not None
                    else "it has not answered since the TUI started"
                )
                lines.append(
                    f"{state.name}: not answering since {utc_text(state.failing_since)}: "
                    f"{state.message}; {seen}"
                )
            elif not state.polled:
                lines.append(f"{state.name}: asked, no answer yet")
        widget = self.query_one("#nodes", Static)
        widget.display = bool(lines)
        # A line each: each is escaped on its own (plain() would show a newline as \\n).
        widget.update(Text("\n").join(plain(line) for line in lines))

    # --- actions ------------------------------------------------------------------------------
    def current_container(self) -> Container | None:
        key = self.table.selected_key
        return self.containers.get(key) if key else None

    def view_text(self) -> str:
        return self.table.as_text()

    def view_name(self) -> str:
        return "containers"

    def action_open(self) -> None:
        """Open the selected container's detail screen."""
        container = self.current_container()
        if container is not None:
            from debugtool_tui.screens.detail import DetailScreen

            self.app.push_screen(DetailScreen(container))

    def on_live_table_chosen(self, message: LiveTable.Chosen) -> None:
        self.action_open()

    def action_filter(self) -> None:
        self.query_one(FilterBar).open()

    def action_clear_filter(self) -> None:
        """Esc: drop a filter kept with Enter (this is the first screen: nothing to go back to)."""
        self.query_one(FilterBar).action_dismiss()

    def on_filter_bar_edited(self, message: FilterBar.Edited) -> None:
        self.table.set_filter(message.text)
        self._render_status()

    def on_filter_bar_done(self, message: FilterBar.Done) -> None:
        self.table.focus()

    def action_sort(self) -> None:
        self.table.cycle_sort()

    def action_sort_key(self, letter: str) -> None:
        """Sort by the column of ``letter`` (shift+letter); again reverses."""
        key = SORT_KEYS.get(letter)
        if key in self.table.headers:
            self.table.sort_by(key)

    def sort_help(self) -> list[tuple[str, str]]:
        """Return the sort letters of this screen's table, for ``?``."""
        return sorting.help_lines(SORT_KEYS, self.table.headers)

    def on_live_table_sort_changed(self, message: LiveTable.SortChanged) -> None:
        self._render_status()

    def action_refresh(self) -> None:
        self.last_listing = float("-inf")  # list the containers now too
        self._forced = True  # over many nodes: ask every node now
        super().action_refresh()

    def after_command(self) -> None:
        self.action_refresh()
