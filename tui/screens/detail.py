"""One container's detail: processes, mounts, network, resources, security and its exec audit."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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
from debugtool_tui.screens import sorting
from debugtool_tui.screens.logs import LogsPane
from debugtool_tui.screens.polling import PollingScreen
from debugtool_tui.widgets.banner import Banner
from debugtool_tui.widgets.filter_bar import FilterBar
from debugtool_tui.widgets.live_table import LiveTable
from debugtool_tui.widgets.resources import ResourcePanel

from debugtool.collect.mounts import severity
from debugtool.errors import ContainerGone, ContainerNotRunning, DebugtoolError
from debugtool.model import Container
from debugtool.output import human_age, printable, utc_text
from debugtool.record import replace
from debugtool.snapshot import Mount, Snapshot
from debugtool.views import (
    Column,
    interfaces,
    mounts,
    ports,
    processes,
    routes,
    security,
    sessions,
    sockets,
)
from debugtool.views.containers import (
    crash_looping,
    exit_text,
    restart_rate_of,
    runtime_text,
    status_text,
)
from debugtool.views.dns import lines as _dns_lines

TABS = ("processes", "mounts", "network", "resources", "security", "audit", "logs")


def sized(column: Column[Any], width: int) -> Column[Any]:
    """Return ``column`` with ``width`` when its view leaves the width to the front end."""
    return column if column.width is not None else replace(column, width=width)


# The core views' columns (``debugtool.views``). A narrow terminal keeps them in KEEP order;
# COMMAND is last and as wide as the longest command line (the table scrolls sideways).
PROCESS_COLUMNS = [
    sized(processes.PID, 7),
    sized(processes.HOST_PID, 8),
    sized(processes.PPID, 6),
    sized(processes.USER, 10),
    sized(processes.STATE, 5),
    processes.CPU,
    processes.RSS,
    sized(processes.THREADS, 4),
    processes.COMMAND,
]
PROCESS_KEEP = ["pid", "cpu", "rss", "command", "state", "user", "host_pid", "ppid", "threads"]
PROCESS_SHRINK = {"user": 6, "command": 16}
PROCESS_SORT = {
    "P": "pid",
    "H": "host_pid",
    "U": "user",
    "S": "state",
    "C": "cpu",
    "M": "rss",
    "T": "threads",
    "N": "command",
}


def risk_level(mount: Mount) -> int | None:
    """Return how serious a mount's worst risk is (lower is worse; None: nothing risky)."""
    return min(map(severity, mount.risks)) if mount.risks else None


# The most serious risks (a runtime socket, the host's /run or root, writable /proc/sys or
# /sys: each is the host) are '!!' in red, the others '!' in yellow; the sentences are in
# the pane under the table, for the row under the cursor.
SEVERE = 6


def risk_mark(level: int | None) -> str:
    return "" if level is None else "!!" if level < SEVERE else "!"


def risk_style(level: int | None) -> str:
    return "" if level is None else "bold red" if level < SEVERE else "bold yellow"


MOUNT_COLUMNS = [
    replace(mounts.RISK, value=risk_level, format=risk_mark, width=4),
    sized(mounts.MOUNTPOINT, 28),
    mounts.MODE,
    sized(mounts.TYPE, 8),
    sized(mounts.PROPAGATION, 11),
    sized(mounts.SOURCE, 18),
    sized(mounts.HOST_PATH, 28),
    mounts.OPTIONS,
]
MOUNT_KEEP = ["risk", "mountpoint", "mode", "fstype", "propagation", "host_path", "source"]
MOUNT_SHRINK = {"mountpoint": 16, "host_path": 14, "source": 10}
MOUNT_SORT = {
    "R": "risk",
    "M": "mountpoint",
    "T": "fstype",
    "S": "source",
    "H": "host_path",
    "W": "mode",
    "P": "propagation",
}
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
INTERFACE_COLUMNS = [
    sized(c, w) for c, w in zip(INTERFACE_COLUMNS, (10, 8, 18, 6, 17, 9, 8, 9, 8, 9), strict=True)
]
INTERFACE_KEEP = ["name", "state", "addresses", "rx_bytes", "tx_bytes", "errors", "mtu", "mac"]
INTERFACE_SHRINK = {"addresses": 12}
SOCKET_COLUMNS = [
    sized(c, w)
    for c, w in zip(
        [*sockets.COLUMNS, sockets.RECV_Q, sockets.SEND_Q],
        (5, 11, 22, 22, 6, 8, 16, 6, 6),
        strict=True,
    )
]
SOCKET_KEEP = ["protocol", "state", "local", "remote", "pid", "process", "host_pid"]
SOCKET_SHRINK = {"local": 14, "remote": 14, "process": 8}
PORT_COLUMNS = ports.COLUMNS
ROUTE_COLUMNS = [
    sized(c, 15 if c.key in ("destination", "gateway", "prefsrc") else 7) for c in routes.COLUMNS
]
ROUTE_KEEP = ["destination", "gateway", "interface", "prefsrc", "metric", "scope", "protocol"]
ROUTE_SHRINK = {"destination": 10, "gateway": 8}
AUDIT_COLUMNS = sessions.ONE_CONTAINER

DUTY = 20  # wait at least DUTY times what a snapshot cost: collection stays under 5% of a core


class DetailScreen(PollingScreen):
    """Everything about one container, refreshed while it is on top."""

    BINDINGS = [
        *PollingScreen.APP_BINDINGS,
        Binding("escape", "back", "Back"),
        Binding("slash", "filter", "Filter"),
        Binding("s", "sort", "Sort"),
        Binding("v", "toggle_tree", "Tree/flat"),
        Binding("left_square_bracket", "tab(-1)", "Prev tab"),
        Binding("right_square_bracket", "tab(1)", "Next tab"),
        Binding("r", "refresh", "Refresh", show=False),
        *PollingScreen.ACTION_BINDINGS,
        *sorting.sort_bindings([*PROCESS_SORT, *MOUNT_SORT]),
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
        """A snapshot could not be taken; ``error`` says why in one sentence.

        ``now`` is the container as its runtime lists it now when it has stopped or gone
        (status ``removed`` when it is not listed at all), else None.
        """

        error: str
        audit: list[Record] | None
        now: Container | None = None

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
        self._gone = False  # the container stopped or was removed (said once)

    def compose(self) -> ComposeResult:
        yield Header()
        yield Banner(id="banner")
        yield Static(id="title")
        with TabbedContent(initial="processes", id="tabs"):
            with TabPane("Processes", id="processes"):
                yield FilterBar("filter processes (command, user, pid, ...)", id="proc-filter")
                yield LiveTable(
                    PROCESS_COLUMNS, id="process-table", keep=PROCESS_KEEP, shrink=PROCESS_SHRINK
                )
            with TabPane("Mounts", id="mounts"):
                yield LiveTable(
                    MOUNT_COLUMNS,
                    id="mount-table",
                    keep=MOUNT_KEEP,
                    shrink=MOUNT_SHRINK,
                    styles={"risk": risk_style},
                )
                yield Static(id="mount-detail")
            with TabPane("Network", id="network"):
                with VerticalScroll():
                    yield Static("Interfaces", classes="section")
                    yield LiveTable(
                        INTERFACE_COLUMNS,
                        id="interface-table",
                        classes="part",
                        keep=INTERFACE_KEEP,
                        shrink=INTERFACE_SHRINK,
                    )
                    yield Static("Published ports (host side)", classes="section")
                    yield LiveTable(PORT_COLUMNS, id="port-table", classes="part")
                    yield Static("Sockets (listening first)", classes="section")
                    yield LiveTable(
                        SOCKET_COLUMNS,
                        id="socket-table",
                        classes="part",
                        keep=SOCKET_KEEP,
                        shrink=SOCKET_SHRINK,
                    )
                    yield Static("Routes", classes="section")
                    yield LiveTable(
                        ROUTE_COLUMNS,
                        id="route-table",
                        classes="part",
                        keep=ROUTE_KEEP,
                        shrink=ROUTE_SHRINK,
                    )
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
        self.table("mount").sort_by("risk", reverse=False)  # the most serious first
        self._render_title()
        self._render_resources()
        self.table("process").focus()
        self.poll()

    # --- polling ------------------------------------------------------------------------------
    POLL_GROUP = "snapshot"

    def start_poll(self) -> None:
        tab = self.active_tab
        first = self.snapshot is None
        # Over many nodes the audit log is the container's node's: one more ssh session,
        # asked for only while the Audit tab shows it.
        fleet = bool(getattr(self.tui.source, "fleet", False))
        audit = (first and not fleet) or tab == "audit" or self._audit_due
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
            now = None
            if isinstance(exc, (ContainerGone, ContainerNotRunning)) and source.live:
                now = self._listed_now(self.container)
            self.post_message(self.Failed(exc.for_people(), entries, now))
            return
        cost = time.perf_counter() - started
        self.post_message(self.Collected(snapshot, network or not source.live, entries, cost))

    def _listed_now(self, container: Container) -> Container:
        """Return ``container`` as the runtimes list it now (status ``removed``: not listed)."""
        # Over many nodes, that container's node alone is asked (fleet.source.listing_of).
        listing_of = getattr(self.tui.source, "listing_of", None)
        try:
            listing = listing_of(container) if listing_of else self.tui.source.containers()
        except DebugtoolError:
            return replace(container, status="exited", pid=None)
        for found in listing.containers:
            if found.id == container.id:
                return found
        return replace(container, status="removed", pid=None)

    def on_detail_screen_collected(self, message: Collected) -> None:
        self._polling = False
        self._failed = None
        self._gone = False
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
        now = message.now
        if now is not None:
            self.container = now
            self._render_title()
            if now.running:  # it was restarted: read it again
                self._schedule()
                return
            # Stopped or removed: said once, and no more polls (each would fail the same way);
            # the last snapshot stays on screen and 'r' looks again.
            if not self._gone:
                self._gone = True
                done = "was removed" if now.status == "removed" else f"is {now.status}"
                self.notify(
                    f"{now.name} {done}: showing its last snapshot. r looks again.",
                    severity="warning",
                    timeout=8,
                )
            self._status_extra = f"container {now.status}; r looks again"
            self._render_status()
            return
        self._show_failure(message.error)
        self._schedule()

    def poll_delay(self) -> float:
        every = getattr(self.tui.source, "every", None)
        if every is not None:
            # A node's snapshot costs this host a wait on the network, not CPU: the node is
            # asked at the pace a fleet list asks it (fleet.source.EVERY).
            return max(self.tui.interval, every)
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
        parts = [runtime_text(c), c.image or "-", f"host pid {c.pid or '-'}", f"id {c.short_id}"]
        node, slash, on_node = c.id.partition("/")
        if slash:  # a container of one node of many (fleet.source): ids are NODE/ID
            parts = [f"node {node}", *parts[:-1], f"id {on_node[:12]}"]
        if c.pod:
            parts.append(f"pod {c.pod_namespace}/{c.pod}")
        if c.finished_at and not c.running:
            parts.append(f"finished {human_age(c.finished_at, self.tui.clock())}")
        if c.previous is not None and c.previous.exit_code is not None:
            last = exit_text((c.previous.exit_code, c.previous.oom_killed))
            parts.append(f"previous attempt exited {last}")
        rate = restart_rate_of([], c, self.tui.clock())
        title = Text.assemble(
            Text(printable(c.name), style="bold"),
            "  ",
            # Next to the name, so that a narrow terminal shows it too; a container that
            # stopped or was removed while open says so here, with its last exit (OOM) or
            # its restarts.
            Text(
                printable(status_text(c, rate)),
                style="bold red" if not c.running or crash_looping(c) or c.oom_killed else "",
            ),
            "  ",
            plain("  ".join(parts)),
        )
        self.query_one("#title", Static).update(title)

    def _render_snapshot(self, network: bool) -> None:
        snapshot = self.snapshot
        if snapshot is None:
            return
        self._render_title()
        self._render_processes()
        self.table("mount").show({str(m.mount_id): m for m in snapshot.mounts})
        self._render_mount_detail()
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

    def _render_mount_detail(self) -> None:
        """Show the mount under the cursor in full under the table, its risks in words."""
        key = self.table("mount").selected_key
        mount = next(
            (m for m in (self.snapshot.mounts if self.snapshot else []) if str(m.mount_id) == key),
            None,
        )
        pane = self.query_one("#mount-detail", Static)
        if mount is None:
            pane.update("")
            return
        text = Text.assemble(
            Text(printable(mount.mountpoint), style="bold"),
            plain(
                "  "
                + "  ".join(
                    f"{c.header.lower()} {c.text(mount)}"
                    for c in (
                        mounts.TYPE,
                        mounts.MODE,
                        mounts.PROPAGATION,
                        mounts.SOURCE,
                        mounts.HOST_PATH,
                    )
                )
            ),
            "\n",
            plain(f"options {mounts.OPTIONS.text(mount)}"),
        )
        for risk in sorted(mount.risks, key=severity):
            level = severity(risk)
            text.append("\n")
            text.append(f"{risk_mark(level):>2} ", style=risk_style(level))
            text.append(printable(risk))
        if not mount.risks:
            text.append("\nnothing risky found")
        pane.update(text)

    def on_data_table_row_highlighted(self, event: LiveTable.RowHighlighted) -> None:
        if event.data_table.id == "mount-table":
            self._render_mount_detail()

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
        self._audit_records = dict(zip(keys, records, strict=True))
        self.table("audit").show(self._audit_records, order=keys)

    def _replay(self, key: str) -> None:
        """Enter on a session in the Audit tab: play its recording back in the terminal
        (``debugtool audit replay SESSION``), the TUI suspended meanwhile."""
        record = getattr(self, "_audit_records", {}).get(key)
        if record is None:
            return
        if not record.recording:
            self.notify("This session was not recorded.", severity="warning")
            return
        if not self.tui.source.live or not record.session:
            self.notify(
                "Recordings are played back from the host's audit log: run 'debugtool audit "
                "replay' where the session ran.",
                severity="warning",
            )
            return
        from debugtool_tui import commands

        hint = f"Replaying session {record.session}. Press Ctrl-C to stop."
        # Over many nodes the recording is on the container's node: played back there.
        argv = commands.replay_argv(record.session, self._via(self.container))
        self._in_terminal(argv, pause=True, hint=hint)

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
            return header + "\n".join([*lines.values(), *ResourcePanel.scales(series)]) + "\n"
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

    def _sort_letters(self) -> tuple[str, dict[str, str]] | None:
        """Return the table of the active tab that letters sort, and its letters."""
        tab = self.active_tab
        if tab == "processes":
            return "process", PROCESS_SORT
        if tab == "mounts":
            return "mount", MOUNT_SORT
        return None

    def action_sort_key(self, letter: str) -> None:
        """Sort the active tab's table by the column of ``letter`` (shift+letter); again
        reverses. Sorting the process tree shows the flat list (a tree has its own order)."""
        found = self._sort_letters()
        if found is None:
            return
        name, letters = found
        key = letters.get(letter)
        if key is not None:
            self.table(name).sort_by(key)

    def sort_help(self) -> list[tuple[str, str]]:
        """Return the sort letters of the active tab's table, for ``?``."""
        found = self._sort_letters()
        if found is None:
            return []
        name, letters = found
        return sorting.help_lines(letters, self.table(name).headers)

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
        """Enter on a process opens it in depth; on a recorded session in the Audit tab it
        plays the recording back (the other tables have nothing deeper)."""
        if message.table.id == "audit-table":
            self._replay(message.key)
            return
        if message.table.id != "process-table" or self.snapshot is None:
            return
        for p in self.snapshot.processes:
            if str(p.pid) == message.key:  # the host PID
                from debugtool_tui.screens.process import ProcessScreen

                self.app.push_screen(ProcessScreen(self.container, p.pid, p.nspid))
                return
