"""One container's detail: processes, mounts, network, resources, security and its exec audit."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Footer, Header, Static, TabbedContent, TabPane

if TYPE_CHECKING:
    from debugtool.audit import Record

from debugtool_tui.format import plain
from debugtool_tui.screens.logs import LogsPane
from debugtool_tui.screens.polling import PollingScreen
from debugtool_tui.widgets.banner import Banner
from debugtool_tui.widgets.filter_bar import FilterBar
from debugtool_tui.widgets.live_table import LiveTable
from debugtool_tui.widgets.resources import ResourcePanel

from debugtool.errors import DebugtoolError
from debugtool.model import Container, Snapshot
from debugtool.output import printable, utc_text
from debugtool.views import (
    interfaces,
    mounts,
    ports,
    processes,
    routes,
    security,
    sessions,
    sockets,
)
from debugtool.views.containers import runtime_text
from debugtool.views.dns import lines as _dns_lines

TABS = ("processes", "mounts", "network", "resources", "security", "audit", "logs")

# The core views' columns (``debugtool.views``), those a 120-column screen holds.
PROCESS_COLUMNS = [
    processes.PID,
    processes.HOST_PID,
    processes.PPID,
    processes.USER,
    processes.STATE,
    processes.CPU,
    processes.RSS,
    processes.THREADS,
    processes.COMMAND,
]
# The risk first: mount points and host paths run long.
MOUNT_COLUMNS = [
    mounts.RISK,
    mounts.MOUNTPOINT,
    mounts.TYPE,
    mounts.SOURCE,
    mounts.HOST_PATH,
    mounts.MODE,
    mounts.PROPAGATION,
    mounts.OPTIONS,
]
INTERFACE_COLUMNS = [
    interfaces.NAME,
    interfaces.STATE,
    interfaces.ADDRESSES,
    interfaces.MTU,
    interfaces.MAC,
    interfaces.RX_BYTES,
    interfaces.RX_PACKETS,
    interfaces.TX_BYTES,
    interfaces.TX_PACKETS,
    interfaces.ERRORS,
]
SOCKET_COLUMNS = [*sockets.COLUMNS, sockets.RECV_Q, sockets.SEND_Q]
PORT_COLUMNS = ports.COLUMNS
ROUTE_COLUMNS = routes.COLUMNS
AUDIT_COLUMNS = sessions.ONE_CONTAINER

DUTY = 20  # wait at least DUTY times what a snapshot cost: collection stays under 5% of a core


class DetailScreen(PollingScreen):
    """Everything about one container, refreshed while it is on top."""

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("slash", "filter", "Filter"),
        Binding("s", "sort", "Sort"),
        Binding("v", "toggle_tree", "Tree/flat"),
        Binding("left_square_bracket", "tab(-1)", "Prev tab"),
        Binding("right_square_bracket", "tab(1)", "Next tab"),
        Binding("r", "refresh", "Refresh", show=False),
        *PollingScreen.ACTION_BINDINGS,
    ]

    @dataclass
    class Collected(Message):
        """A snapshot arrived (with the network section when ``network``, audit when asked)."""

        snapshot: Snapshot
        network: bool
        audit: list[Record] | None
        cost: float

    @dataclass
    class Failed(Message):
        """A snapshot could not be taken; ``error`` says why in one sentence."""

        error: str
        audit: list[Record] | None

    def __init__(self, container: Container) -> None:
        super().__init__()
        self.container = container
        self.snapshot: Snapshot | None = None
        self.tree_view = True
        self._cost = 0.0
        self._status_extra = ""
        self._security_text = ""
        self._dns_text = ""
        self._history_loaded = False
        self._audit_due = False  # an exec or trace just ran: read the audit log again

    def compose(self) -> ComposeResult:
        yield Header()
        yield Banner(id="banner")
        yield Static(id="title")
        with TabbedContent(initial="processes", id="tabs"):
            with TabPane("Processes", id="processes"):
                yield FilterBar("filter processes (command, user, pid, ...)", id="proc-filter")
                yield LiveTable(PROCESS_COLUMNS, id="process-table")
            with TabPane("Mounts", id="mounts"):
                yield LiveTable(MOUNT_COLUMNS, id="mount-table")
            with TabPane("Network", id="network"):
                with VerticalScroll():
                    yield Static("Interfaces", classes="section")
                    yield LiveTable(INTERFACE_COLUMNS, id="interface-table", classes="part")
                    yield Static("Published ports (host side)", classes="section")
                    yield LiveTable(PORT_COLUMNS, id="port-table", classes="part")
                    yield Static("Sockets (listening first)", classes="section")
                    yield LiveTable(SOCKET_COLUMNS, id="socket-table", classes="part")
                    yield Static("Routes", classes="section")
                    yield LiveTable(ROUTE_COLUMNS, id="route-table", classes="part")
                    yield Static("DNS", classes="section")
                    yield Static(id="dns")
            with TabPane("Resources", id="resources"):
                yield ResourcePanel(id="resource-panel")
            with TabPane("Security", id="security"):
                with VerticalScroll(id="security-scroll"):
                    yield Static(id="security-text")
            with TabPane("Audit", id="audit"):
                yield LiveTable(AUDIT_COLUMNS, id="audit-table")
            with TabPane("Logs", id="logs"):
                yield LogsPane(self.container, id="logs-pane")
        yield Static(id="status")
        yield Footer()

    def table(self, name: str) -> LiveTable:
        return self.query_one(f"#{name}-table", LiveTable)

    @property
    def active_tab(self) -> str:
        return self.query_one(TabbedContent).active or "processes"

    def on_mount(self) -> None:
        self.sub_title = printable(self.container.name)
        self.query_one(Banner).show_text(self.tui.source.banner(self.tui.clock()))
        self.table("mount").sort_column = "risk"
        self._render_title()
        self._render_resources()
        self.table("process").focus()
        self.poll()

    # --- polling ------------------------------------------------------------------------------
    POLL_GROUP = "snapshot"

    def start_poll(self) -> None:
        tab = self.active_tab
        first = self.snapshot is None
        audit = first or tab == "audit" or self._audit_due
        self._audit_due = False
        self.collect(network=first or tab == "network", audit=audit)

    @work(thread=True, exit_on_error=False, group=POLL_GROUP)
    def collect(self, network: bool, audit: bool) -> None:
        """Read one snapshot of the container (network and audit only when they are shown)."""
        source = self.tui.source
        entries = None
        if audit:
            try:
                entries = source.audit(self.container)
            except DebugtoolError:
                entries = None
        started = time.perf_counter()
        try:
            if not self.container.running and source.live:
                from debugtool.target import not_running

                raise not_running(self.container)
            snapshot = source.snapshot(self.container, network=network or not source.live)
        except DebugtoolError as exc:
            self.post_message(self.Failed(exc.for_people(), entries))
            return
        cost = time.perf_counter() - started
        self.post_message(self.Collected(snapshot, network or not source.live, entries, cost))

    def on_detail_screen_collected(self, message: Collected) -> None:
        self._polling = False
        self._failed = None
        self._cost = message.cost
        previous = self.snapshot
        snapshot = message.snapshot
        if not message.network and previous is not None:
            snapshot.network = previous.network  # keep what the Network tab last showed
        self.snapshot = snapshot
        self.container = snapshot.container
        self.tui.usage.add(self.container.id, snapshot.cgroup)
        # A section the collectors could not read is said in the status line, never hidden.
        self._status_extra = "; ".join(
            f"{section}: {error}"
            for section, error in snapshot.errors.items()
            if message.network or section != "network"
        )
        self._render_snapshot(network=message.network)
        if message.audit is not None:
            self._render_audit(message.audit)
        self._schedule()

    def on_detail_screen_failed(self, message: Failed) -> None:
        self._polling = False
        if message.audit is not None:
            self._render_audit(message.audit)
        self._show_failure(message.error)
        self._schedule()

    def poll_delay(self) -> float:
        return max(self.tui.interval, self._cost * DUTY)

    def _show_failure(self, text: str) -> None:
        super()._show_failure(text)
        self._status_extra = text
        self._render_status()

    def on_screen_resume(self) -> None:
        if self.tui.source.live and self._timer is None and not self._polling:
            self.poll()

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        tab = event.pane.id
        if tab in ("network", "audit") and self.tui.source.live and not self._polling:
            self._stop_timer()
            self.poll()  # show it now rather than at the next tick
        self._render_status()

    # --- rendering ------------------------------------------------------------------------------
    def _render_title(self) -> None:
        c = self.container
        parts = [
            runtime_text(c),
            c.image or "-",
            c.status,
            f"host pid {c.pid or '-'}",
            f"id {c.short_id}",
        ]
        if c.pod:
            parts.append(f"pod {c.pod_namespace}/{c.pod}")
        title = Text.assemble(Text(printable(c.name), style="bold"), "  ", plain("  ".join(parts)))
        self.query_one("#title", Static).update(title)

    def _render_snapshot(self, network: bool) -> None:
        snapshot = self.snapshot
        if snapshot is None:
            return
        self._render_title()
        self._render_processes()
        self.table("mount").show({str(m.mount_id): m for m in snapshot.mounts})
        if network:
            self._render_network()
        self._render_resources()
        self._render_security()
        self._render_status()

    def _render_processes(self) -> None:
        snapshot = self.snapshot
        if snapshot is None:
            return
        rows = processes.rows(snapshot.processes, tree=self.tree_view)
        self.table("process").show(
            {str(r.process.pid): r for r in rows},  # host PIDs: unique, where nspid may not be
            order=[str(r.process.pid) for r in rows] if self.tree_view else None,
        )

    def _render_network(self) -> None:
        snapshot = self.snapshot
        if snapshot is None:
            return
        net = snapshot.network
        self.table("interface").show({i.name: i for i in net.interfaces})
        # The listeners as the network was read; a bundle of an older capture: the runtime's.
        published = net.ports or self.container.ports
        port_keys = [str(n) for n in range(len(published))]
        self.table("port").show(dict(zip(port_keys, published, strict=True)), order=port_keys)
        rows = sorted(
            sockets.rows(net.sockets),
            key=lambda r: (
                not r.socket.listening,
                r.socket.protocol,
                r.socket.local_port,
                r.socket.inode,
            ),
        )
        keys = [f"{r.socket.protocol}-{r.socket.inode}-{n}" for n, r in enumerate(rows)]
        self.table("socket").show(dict(zip(keys, rows, strict=True)), order=keys)
        shown = routes.shown(net.routes)
        self.table("route").show(
            {str(n): r for n, r in enumerate(shown)}, order=[str(n) for n in range(len(shown))]
        )
        dns = net.dns
        # From the container's resolv.conf: each line escaped on its own, so that a newline in
        # a value shows as \n rather than as a line of its own (and so in a saved view too).
        self._dns_text = "\n".join(printable(line) for line in _dns_lines(dns))
        self.query_one("#dns", Static).update(Text(self._dns_text))

    def _render_resources(self) -> None:
        series = self.tui.usage.get(self.container.id)
        if not self._history_loaded:
            # A bundle's recorded samples start the Sparklines; live sessions start empty.
            self._history_loaded = True
            for sample in self.tui.source.cgroup_history(self.container):
                series = self.tui.usage.add(self.container.id, sample)
        self.query_one(ResourcePanel).show(series.last if series else None, series)

    def _render_security(self) -> None:
        snapshot = self.snapshot
        if snapshot is None:
            return
        s = snapshot.security
        lines = [f"{label}: {text}" for label, text in security.lines(s)]
        if s.warnings:
            lines.append("")
            lines += [f"! {w}" for w in s.warnings]
        if snapshot.errors.get("security"):
            lines.append(f"(partial: {snapshot.errors['security']})")
        self._security_text = "\n".join(printable(line) for line in lines)  # LSM labels, errors
        self.query_one("#security-text", Static).update(Text(self._security_text))

    def _render_audit(self, records: list[Record]) -> None:
        keys = [str(n) for n in range(len(records))]
        self.table("audit").show(dict(zip(keys, records, strict=True)), order=keys)

    def _render_status(self) -> None:
        tab = self.active_tab
        parts: list[str] = []
        if tab == "processes":
            table = self.table("process")
            count = len(self.snapshot.processes) if self.snapshot else 0
            parts.append(f"{count} processes, {'tree' if self.tree_view else 'flat'} view")
            if table.filter_text:
                parts.append(f"{table.total} match '{table.filter_text}'")
            if table.total > table.row_count:
                parts.append(f"showing the first {table.row_count}")
            if not self.tree_view and table.sort_column:
                direction = "desc" if table.sort_reverse else "asc"
                parts.append(f"sort: {table.sort_column} {direction}")
        elif tab == "mounts" and self.snapshot:
            risky = sum(1 for m in self.snapshot.mounts if m.risks)
            parts.append(f"{len(self.snapshot.mounts)} mounts, {risky} risky")
        if self.snapshot is not None:
            parts.append(f"snapshot {utc_text(self.snapshot.taken_at)}")
        if self._status_extra:
            parts.append(self._status_extra)
        self.query_one("#status", Static).update(plain(" | ".join(parts)))

    def show_status(self, text: str) -> None:
        self._status_extra = text
        self._render_status()

    # --- actions ------------------------------------------------------------------------------
    def current_container(self) -> Container | None:
        return self.container

    def trace_pid(self) -> int | None:
        """Return the selected process's PID inside the container (None: its init)."""
        if self.active_tab == "processes" and self.snapshot is not None:
            key = self.table("process").selected_key  # the host PID
            for p in self.snapshot.processes:
                if str(p.pid) == key:
                    return p.nspid or None
        return None

    def view_name(self) -> str:
        return self.active_tab

    def view_text(self) -> str:
        tab = self.active_tab
        header = f"{self.container.name} ({self.container.short_id}): {tab}\n\n"
        if tab == "network":
            return header + "\n".join(
                [
                    "Interfaces",
                    self.table("interface").as_text(),
                    "Published ports",
                    self.table("port").as_text(),
                    "Sockets",
                    self.table("socket").as_text(),
                    "Routes",
                    self.table("route").as_text(),
                    "DNS",
                    self._dns_text,
                    "",
                ]
            )
        if tab == "resources":
            series = self.tui.usage.get(self.container.id)
            lines = ResourcePanel.lines(series.last if series else None, series)
            return header + "\n".join(lines.values()) + "\n"
        if tab == "security":
            return header + self._security_text + "\n"
        if tab == "logs":
            return header + self.query_one(LogsPane).as_text()
        name = {"processes": "process", "mounts": "mount", "audit": "audit"}[tab]
        return header + self.table(name).as_text()

    def action_back(self) -> None:
        """Esc: clear a kept process filter first (as k9s does), else go back to the list."""
        bar = self.query_one("#proc-filter", FilterBar)
        if bar.value:
            bar.action_dismiss()
            return
        self.app.pop_screen()

    def action_tab(self, step: int) -> None:
        """Switch to the previous (-1) or next (1) tab."""
        tabs = self.query_one(TabbedContent)
        index = TABS.index(self.active_tab)
        tabs.active = TABS[(index + step) % len(TABS)]
        self._focus_tab()

    def _focus_tab(self) -> None:
        # Focus must move into the new pane: a focused widget left in a hidden pane makes
        # TabbedContent switch back to that pane.
        targets = {
            "processes": "#process-table",
            "mounts": "#mount-table",
            "network": "#interface-table",
            "resources": "#resource-panel",
            "security": "#security-scroll",
            "audit": "#audit-table",
            "logs": "#log-view",
        }
        self.query_one(targets[self.active_tab]).focus()

    def action_filter(self) -> None:
        tabs = self.query_one(TabbedContent)
        tabs.active = "processes"
        self.query_one("#proc-filter", FilterBar).open()

    def on_filter_bar_edited(self, message: FilterBar.Edited) -> None:
        self.table("process").set_filter(message.text)
        self._render_status()

    def on_filter_bar_done(self, message: FilterBar.Done) -> None:
        self.table("process").focus()

    def action_sort(self) -> None:
        tab = self.active_tab
        if tab == "processes":
            if self.tree_view:
                self.tree_view = False  # a tree has its own order: sorting shows the flat view
                self._render_processes()
            self.table("process").cycle_sort()
        elif tab in ("mounts", "audit"):
            self.table("mount" if tab == "mounts" else "audit").cycle_sort()
        self._render_status()

    def on_live_table_sort_changed(self, message: LiveTable.SortChanged) -> None:
        if message.table.id == "process-table" and self.tree_view:
            self.tree_view = False
            self._render_processes()
        self._render_status()

    def action_toggle_tree(self) -> None:
        """Switch the Processes tab between the tree and the flat list."""
        self.tree_view = not self.tree_view
        self._render_processes()
        self._render_status()

    def after_command(self) -> None:
        self._audit_due = True
        self.action_refresh()

    def on_live_table_chosen(self, message: LiveTable.Chosen) -> None:
        """Enter on a process opens it in depth (the other tables have nothing deeper)."""
        if message.table.id != "process-table" or self.snapshot is None:
            return
        for p in self.snapshot.processes:
            if str(p.pid) == message.key:  # the host PID
                from debugtool_tui.screens.process import ProcessScreen

                self.app.push_screen(ProcessScreen(self.container, p.pid, p.nspid))
                return
