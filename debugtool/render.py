"""Text views of a Snapshot for people: the one set of renderers the CLI and the console share.

Tables are built from the views in ``debugtool.views``; their cells go through
``output.printable`` in ``output.table``, and the free text lines written here (DNS, cgroup,
security) go through it where they are written.
"""

from __future__ import annotations

import sys

from debugtool import output
from debugtool.model import Port
from debugtool.output import printable
from debugtool.snapshot import (
    CgroupStats,
    Mount,
    Network,
    Process,
    ProcessDetail,
    SecurityContext,
    Snapshot,
    Socket,
)
from debugtool.views import cgroup as cgroup_view
from debugtool.views import dns as dns_view
from debugtool.views import interfaces as interface_view
from debugtool.views import mounts as mount_view
from debugtool.views import ports as port_view
from debugtool.views import procdetail as detail_view
from debugtool.views import processes as process_view
from debugtool.views import routes as route_view
from debugtool.views import security as security_view
from debugtool.views import sockets as socket_view
from debugtool.views import table, texts

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TextIO


def _stream(stream: TextIO | None) -> TextIO:
    return stream or sys.stdout


def start_column(epoch: float | None, now: float) -> str:
    """Return when a process started, as the STARTED column writes it ('5 minutes ago')."""
    return process_view.start_text(epoch, now)


def processes(
    snap: Snapshot | list[Process], tree: bool = False, stream: TextIO | None = None
) -> None:
    """The processes as ``top`` shows them, flat or as a tree (container PIDs first).

    A PID marked ``*`` is in the container's PID namespace but not its cgroup.
    """
    procs = snap if isinstance(snap, list) else snap.processes
    columns = process_view.COLUMNS
    if any(p.host_uid is not None for p in procs):  # a user namespace: the host's uid too
        columns = process_view.with_host_uid(columns)
    table(columns, process_view.rows(procs, tree=tree), stream=_stream(stream))
    if any(p.outside_cgroup for p in procs):
        output.warn(process_view.OUTSIDE_CGROUP)


def mounts(snap: Snapshot | list[Mount], stream: TextIO | None = None) -> None:
    """The mount table, with each risky mount's reasons in the last column."""
    items = snap.mounts if isinstance(snap, Snapshot) else snap
    table(mount_view.COLUMNS, items, stream=_stream(stream))
    risky = mount_view.risky_count(items)
    if risky:
        output.warn(f"{risky} mount{'s' if risky != 1 else ''} flagged as risky (see RISK).")


def endpoint(address: str, port: int, protocol: str) -> str:
    """Return ``address:port`` as ``ss`` writes it: IPv6 in brackets, an unset side as ``*``."""
    return socket_view.endpoint(address, port, protocol)


def socket_rows(sockets: list[Socket]) -> list[list[str]]:
    """Return one table row per socket: proto, state, local, remote, pids, process."""
    return texts(socket_view.COLUMNS, socket_view.rows(sockets))


def network(
    snap: Snapshot | Network, sockets_only: bool = False, stream: TextIO | None = None
) -> None:
    """Print the INTERFACES, ROUTES, PORTS, SOCKETS and DNS sections for people."""
    out = _stream(stream)
    network = snap.network if isinstance(snap, Snapshot) else snap

    if not sockets_only:
        out.write("INTERFACES\n")
        table(interface_view.COLUMNS, network.interfaces, stream=out, fit=False)
        out.write("\nROUTES\n")
        table(route_view.COLUMNS, route_view.shown(network.routes), stream=out, fit=False)
        out.write("\n")
        ports(network.ports, stream=out)
        out.write("\n")
    out.write("SOCKETS\n")
    table(socket_view.COLUMNS, socket_view.rows(network.sockets), stream=out)
    if sockets_only:
        return
    out.write("\nDNS\n")
    out.write("".join(printable(line) + "\n" for line in dns_view.lines(network.dns)))


def ports(
    items: list[Port], stream: TextIO | None = None, title: str = "PORTS (published on the host)"
) -> None:
    """Print the published ports section: each port, and who answers it on the host."""
    out = _stream(stream)
    out.write(title + "\n")
    if items:
        table(port_view.COLUMNS, items, stream=out, fit=False)
    else:
        out.write("(none)\n")


def _labelled(title: str, pairs: list[tuple[str, str]], stream: TextIO | None) -> None:
    """Write a section: its title, then ``label: text`` lines aligned, each made printable."""
    width = max((len(label) for label, _ in pairs), default=0) + 1
    lines = [title, *(f"  {label + ':':<{width}} {text}" for label, text in pairs)]
    _stream(stream).write("".join(printable(line) + "\n" for line in lines))


def cgroup(snap: Snapshot | CgroupStats, stream: TextIO | None = None) -> None:
    """Usage against limits: memory, CPU, throttling, pids, IO."""
    s = snap.cgroup if isinstance(snap, Snapshot) else snap
    lines = cgroup_view.usage(s)
    pairs = [(cgroup_view.LABELS[key], text) for key, text in lines.items()]
    _labelled(f"Resources (cgroup {s.version or 'unknown'}):", pairs, stream)


def security(snap: Snapshot | SecurityContext, stream: TextIO | None = None) -> None:
    """Capabilities, seccomp, LSM labels, user namespace and the warnings they raise."""
    s = snap.security if isinstance(snap, Snapshot) else snap
    _labelled("Security:", security_view.lines(s), stream)
    _stream(stream).write("".join(f"  ! {printable(w)}\n" for w in s.warnings))


def process_detail(d: ProcessDetail, stream: TextIO | None = None) -> None:
    """One process in depth: its summary, open files, sockets, threads, limits, environment."""
    out = _stream(stream)
    _labelled("PROCESS", detail_view.summary(d), out)
    out.write("\nOPEN FILES\n")
    table(detail_view.FILE_COLUMNS, d.files, stream=out)
    out.write("\nSOCKETS\n")
    table(socket_view.COLUMNS, socket_view.rows(d.sockets), stream=out)
    out.write("\nTHREADS\n")
    table(detail_view.THREAD_COLUMNS, d.threads, stream=out)
    out.write("\nLIMITS\n")
    table(detail_view.LIMIT_COLUMNS, d.limits, stream=out)
    out.write("\nENVIRONMENT\n")
    lines = detail_view.environment_lines(d) or ["(empty)"]
    out.write("".join(printable(line) + "\n" for line in lines))
    note = detail_view.masked_note(d)
    if note:
        output.warn(note)
    for warning in d.warnings:
        output.warn(warning)
