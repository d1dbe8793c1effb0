"""report.html: one self-contained page showing a bundle's views offline.

It renders what the bundle reader reads (``reader.Bundle``: Containers, Snapshots, CgroupStats
samples, audit records) with the same views as the CLI and the TUI (``debugtool.views``).

Inline CSS and a few lines of inline JS, no external script, style, font or image, and a
Content-Security-Policy that forbids fetching anything. Every text from the bundle is escaped,
first by ``output.printable`` (controls, bidi overrides and invisible characters would disguise
text in a browser too), then for HTML; ``://`` is written as ``&#58;//`` so no URL-shaped text
appears in the page source.
"""

from __future__ import annotations

import html

from debugtool import record
from debugtool.bundle import manifest as mf
from debugtool.bundle.reader import Archive, Bundle
from debugtool.errors import DebugtoolError
from debugtool.model import Container
from debugtool.output import duration_text, human_size, printable, utc_text
from debugtool.snapshot import CgroupStats, Snapshot
from debugtool.views import Column
from debugtool.views import cgroup as cgroup_view
from debugtool.views import containers as container_view
from debugtool.views import dns as dns_view
from debugtool.views import interfaces as interface_view
from debugtool.views import mounts as mount_view
from debugtool.views import ports as port_view
from debugtool.views import processes as process_view
from debugtool.views import routes as route_view
from debugtool.views import security as security_view
from debugtool.views import sockets as socket_view

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from typing import Any

_CSS = """
:root{--fg:#1d2330;--muted:#5b6475;--bg:#fff;--band:#f3f5f8;--line:#d8dde6;--bad:#b3261e;
--warn:#8a5a00;--ok:#1e6b34}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;
color:var(--fg);background:var(--bg)}header{padding:12px 20px;background:#1d2330;color:#fff}
header h1{margin:0;font-size:18px}header p{margin:2px 0;color:#c9d1e0}
.layout{display:flex;min-height:100vh}nav{width:260px;flex:none;border-right:1px solid var(--line);
padding:10px;background:var(--band)}nav a{display:block;padding:4px 6px;color:var(--fg);
text-decoration:none;border-radius:4px;overflow-wrap:anywhere}nav a:hover,nav a.on{background:#dde3ee}
main{flex:1;padding:12px 20px;min-width:0}section.ctr[hidden]{display:none}
h2{font-size:17px;margin:14px 0 6px}h3{font-size:15px;margin:14px 0 4px;border-bottom:1px solid
var(--line)}table{border-collapse:collapse;width:100%;margin:4px 0 8px;font-size:13px}
th,td{text-align:left;padding:2px 8px 2px 0;vertical-align:top;border-bottom:1px solid #eef0f4}
th{color:var(--muted);font-weight:600}.num{font-variant-numeric:tabular-nums;text-align:right}
td code{overflow-wrap:anywhere}
code,pre{font:12px/1.4 ui-monospace,Menlo,Consolas,monospace}pre{background:var(--band);
padding:8px;overflow:auto;max-height:480px;white-space:pre-wrap;overflow-wrap:anywhere}
.st-ok{color:var(--ok)}.st-error,.st-timeout{color:var(--bad);font-weight:600}
.st-skipped,.st-truncated{color:var(--warn);font-weight:600}tr.risk td{background:#fdecea}
.muted{color:var(--muted)}.warn{color:var(--warn)}
.badge{display:inline-block;padding:0 6px;border-radius:8px;background:#dde3ee;font-size:12px}
.mark{display:inline-block;padding:0 5px;margin-left:3px;border-radius:8px;font-size:11px;
color:#fff;background:var(--warn)}.mark-oom-killed,.mark-crash-looping,.mark-risky-mounts{background:var(--bad)}
details>summary{cursor:pointer;color:var(--muted)}
"""

_JS = """
(function(){
  var secs=document.querySelectorAll('section.ctr'),links=document.querySelectorAll('nav a.c');
  function show(){
    var want=location.hash.slice(1)||(secs[0]&&secs[0].id);
    for(var i=0;i<secs.length;i++){secs[i].hidden=secs[i].id!==want;}
    for(var j=0;j<links.length;j++){links[j].className='c'+(links[j].hash.slice(1)===want?' on':'');}
  }
  window.addEventListener('hashchange',show);show();
  var boxes=document.querySelectorAll('input.riskonly');
  for(var k=0;k<boxes.length;k++){boxes[k].addEventListener('change',function(e){
    var rows=e.target.closest('div').querySelectorAll('tbody tr');
    for(var r=0;r<rows.length;r++){rows[r].hidden=e.target.checked&&!rows[r].classList.contains('risk');}
  });}
})();
"""

_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "img-src 'none'; connect-src 'none'; font-src 'none'; form-action 'none'"
)


def esc(value: Any, multiline: bool = False) -> str:
    """Return text shown as ``output.printable`` shows it, escaped for HTML, with ``://``
    defused so no URL appears in the source. ``multiline`` keeps lines (logs, files)."""
    text = "" if value is None else printable(str(value), multiline=multiline)
    return html.escape(text, quote=True).replace("://", "&#58;//")


def _table(headers: list[str], rows: list[list[Any]], classes: list[str] | None = None) -> str:
    """A table of cells already made HTML (numbers are escaped here and right-aligned)."""
    if not rows:
        return '<p class="muted">none</p>'
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{classes[i]}"' if classes and classes[i] else ""
        cells = "".join(
            f'<td class="num">{esc(c)}</td>' if isinstance(c, (int, float)) else f"<td>{c}</td>"
            for c in row
        )
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


#: Columns whose text is a command line or a path, set in code type.
_CODE = frozenset({"command", "mountpoint", "source", "host_path"})


def _view(
    columns: Sequence[Column[Any]], items: Iterable[Any], classes: list[str] | None = None
) -> str:
    """A table of a view's columns: each cell the column's text, escaped."""
    items = list(items)
    if not items:
        return '<p class="muted">none</p>'

    def cell(column: Column[Any], item: Any) -> str:
        text = esc(column.text(item))
        if column.key in _CODE:
            text = f"<code>{text}</code>"
        return f'<td class="num">{text}</td>' if column.justify == "right" else f"<td>{text}</td>"

    head = "".join(
        f'<th class="num">{esc(c.header)}</th>'
        if c.justify == "right"
        else f"<th>{esc(c.header)}</th>"
        for c in columns
    )
    body = []
    for i, item in enumerate(items):
        cls = f' class="{classes[i]}"' if classes and classes[i] else ""
        body.append(f"<tr{cls}>{''.join(cell(c, item) for c in columns)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _pairs(pairs: Iterable[tuple[str, str]]) -> str:
    """A two-column table of labelled lines (cgroup, security)."""
    body = "".join(f"<tr><th>{esc(label)}</th><td>{esc(text)}</td></tr>" for label, text in pairs)
    return f"<table>{body}</table>"


def _status(status: str) -> str:
    return f'<span class="st-{esc(status)}">{esc(status)}</span>'


def _collectors(records: list[dict[str, Any]]) -> str:
    rows = [
        [
            esc(r.get("name")),
            _status(str(r.get("status"))),
            duration_text(float(r.get("duration") or 0)),
            esc(r.get("error") or ""),
        ]
        for r in records
    ]
    return _table(["COLLECTOR", "STATUS", "DURATION", "DETAIL"], rows)


#: The processes as ``top`` shows them, but STARTED: an age, counted from when the report was
#: written, and the report is read later.
_PROCESS_COLUMNS = [c for c in process_view.COLUMNS if c is not process_view.START]


def _processes(snap: Snapshot) -> str:
    return _view(_PROCESS_COLUMNS, process_view.rows(snap.processes))


def _mounts(snap: Snapshot) -> str:
    classes = ["risk" if m.risks else "" for m in snap.mounts]
    risky = mount_view.risky_count(snap.mounts)
    toggle = (
        f'<p><label><input type="checkbox" class="riskonly"> show only the {risky} risky '
        "mount(s)</label></p>"
        if risky
        else '<p class="muted">no risky mounts flagged</p>'
    )
    return f"<div>{toggle}{_view(mount_view.COLUMNS, snap.mounts, classes)}</div>"


def _network(snap: Snapshot) -> str:
    net = snap.network
    dns = net.dns
    return (
        "<h4>Interfaces</h4>"
        + _view(interface_view.COLUMNS, net.interfaces)
        + "<h4>Routes</h4>"
        + _view(route_view.COLUMNS, route_view.shown(net.routes))
        + "<h4>Sockets</h4>"
        + _view(socket_view.COLUMNS, socket_view.rows(net.sockets))
        + "<h4>DNS</h4>"
        + "".join(f"<p>{esc(line)}</p>" for line in dns_view.lines(dns))
    )


def _ports(container: Container, snap: Snapshot | None) -> str:
    """The published ports, with their host listeners when the capture looked for them."""
    ports = (snap.network.ports if snap is not None else []) or container.ports
    if not ports:
        return '<p class="muted">no port published on the host</p>'
    return _view(port_view.COLUMNS, ports)


def _cgroup(stats: CgroupStats, samples: list[CgroupStats]) -> str:
    """The latest sample's usage (the snapshot's when no samples were taken), the CPU rate
    between the first and the last sample, and every sample."""
    rate = cgroup_view.cpu_rate(samples[0], samples[-1]) if len(samples) >= 2 else None
    lines = cgroup_view.usage(stats, rate)
    pairs = [
        ("cgroup", stats.version or "unknown"),
        *((cgroup_view.LABELS[key], text) for key, text in lines.items()),
    ]
    if rate is not None:
        span = samples[-1].sampled_at - samples[0].sampled_at
        pairs.append(("CPU sampled over", duration_text(span)))
    sample_rows = [
        [
            esc(utc_text(s.sampled_at)),
            esc(human_size(s.memory_usage)),
            s.cpu_usage_ns if s.cpu_usage_ns is not None else "-",
            s.pids_current if s.pids_current is not None else "-",
        ]
        for s in samples
    ]
    return (
        _pairs(pairs)
        + "<h4>Samples</h4>"
        + _table(["TIME", "MEMORY", "CPU NS", "PIDS"], sample_rows)
    )


def _security(snap: Snapshot) -> str:
    sec = snap.security
    warnings = "".join(f'<li class="warn">! {esc(w)}</li>' for w in sec.warnings)
    return _pairs(security_view.lines(sec)) + (f"<ul>{warnings}</ul>" if warnings else "")


def _read(bundle: Bundle, container: Container) -> tuple[Snapshot | None, list[CgroupStats], str]:
    """Return the container's Snapshot (None: none in the bundle), its cgroup samples, and
    why part of it cannot be shown ('' when all of it can)."""
    snap: Snapshot | None
    try:
        snap = bundle.snapshot(container.id)
    except DebugtoolError as exc:
        return None, [], exc.for_people()
    if "snapshot" in snap.errors:
        snap = None  # nothing captured: said once, not in every section
    try:
        samples = bundle.cgroup_samples(container.id)
    except DebugtoolError as exc:
        return snap, [], exc.for_people()
    return snap, samples, ""


def _container(bundle: Bundle, container: Container, anchor: str) -> str:
    """One container's section: what it is, then each view of its Snapshot."""
    if container.id in bundle.exited_during_capture:
        # container.json was written while it still ran
        container = record.replace(container, status="exited during capture")
    snap, samples, problem = _read(bundle, container)
    notes = [f"snapshot: {problem}"] if problem else []
    notes += [f"{mark.label}: {mark.detail}" for mark in bundle.marks(container.id)]
    if snap is not None:
        notes += [f"{section}: {error}" for section, error in snap.errors.items()]
    else:
        reason = bundle.collector_error(container.id, "snapshot") or "it was not captured"
        notes.append(f"no snapshot in this bundle: {reason}")
    missing = '<p class="muted">no snapshot in this bundle</p>'
    stats = samples[-1] if samples else snap.cgroup if snap is not None else None
    logs = bundle.logs(container.id)
    c = container
    parts = [
        f'<section class="ctr" id="{esc(anchor)}"><h2>{esc(c.name)} '
        f'<span class="badge">{esc(c.runtime)}</span></h2>',
        f"<p><code>{esc(c.short_id)}</code> · image {esc(c.image or '-')}"
        f" · status {esc(c.status)} · host pid {esc(c.pid or '-')}</p>",
        "<ul>" + "".join(f'<li class="warn">{esc(n)}</li>' for n in notes) + "</ul>"
        if notes
        else "",
        "<h3>Ports</h3>",
        _ports(c, snap),
        f"<h3>Processes ({len(snap.processes) if snap else 0})</h3>",
        _processes(snap) if snap else missing,
        f"<h3>Mounts ({len(snap.mounts) if snap else 0})</h3>",
        _mounts(snap) if snap else missing,
        "<h3>Network</h3>",
        _network(snap) if snap else missing,
        "<h3>Cgroup</h3>",
        _cgroup(stats, samples) if stats is not None else '<p class="muted">no cgroup data</p>',
        "<h3>Security</h3>",
        _security(snap) if snap else missing,
        "<h3>Logs</h3>",
        f"<pre>{esc(logs, multiline=True)}</pre>"
        if logs
        else '<p class="muted">no logs in this bundle</p>',
        "<h3>Collectors</h3>",
        _collectors(bundle.collectors(container.id)),
        "</section>",
    ]
    return "".join(parts)


# --- navigation marks and the host's data -------------------------------------------------------


def _marks(bundle: Bundle, container: Container) -> str:
    """The badges of what needs attention in a container (``Bundle.marks``), for its link."""
    try:
        marks = bundle.marks(container.id)
    except DebugtoolError:
        return ""
    return "".join(
        f' <span class="mark mark-{esc(m.kind)}" title="{esc(m.detail)}">{esc(m.label)}</span>'
        for m in marks
    )


def _text_member(bundle: Bundle, rel: str, tail: int | None = None) -> str | None:
    """A text member (its last ``tail`` lines), or None when it is missing."""
    data = bundle.member(rel)
    if data is None:
        return None
    text = data.decode("utf-8", "replace")
    if tail is not None:
        lines = text.splitlines()
        if len(lines) > tail:
            text = f"... {len(lines) - tail} earlier line(s) in {rel}\n" + "\n".join(lines[-tail:])
    return text


def _pre(text: str) -> str:
    return f"<pre>{esc(text, multiline=True)}</pre>"


def _folded(summary: str, text: str) -> str:
    return f"<details><summary>{esc(summary)}</summary>{_pre(text)}</details>"


def _number(value: Any) -> float | None:
    """A finite number of a JSON document from anywhere, or None."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value) if value == value and abs(value) != float("inf") else None
    return None


def _resources(doc: Any) -> str:
    """CPU, load, memory, swap, uptime and disks of ``host/resources.json``."""
    if not isinstance(doc, dict):
        return '<p class="muted">not in this bundle</p>'

    def part(key: str) -> dict[str, Any]:
        value = doc.get(key)
        return value if isinstance(value, dict) else {}

    cpu, memory, swap = part("cpu"), part("memory"), part("swap")

    def size(value: Any) -> str:
        n = _number(value)
        return human_size(int(n)) if n is not None else "-"

    def used(d: dict[str, Any]) -> str:
        pct = _number(d.get("percent"))
        return f"{size(d.get('used'))} of {size(d.get('total'))}" + (
            f" ({pct:.0f}%)" if pct is not None else ""
        )

    load = doc.get("load")
    loads = [_number(x) for x in load] if isinstance(load, list) else []
    uptime = _number(doc.get("uptime_seconds"))
    percent = _number(cpu.get("percent"))
    pairs = [
        (
            "CPU",
            f"{cpu.get('logical', '-')} logical ({cpu.get('physical') or '-'} physical), "
            f"{cpu.get('model') or 'model unknown'}"
            + (f"; {percent:.0f}% busy when sampled" if percent is not None else ""),
        ),
        ("load", " ".join(f"{x:.2f}" for x in loads if x is not None) or "-"),
        ("memory", used(memory) + f"; available {size(memory.get('available'))}"),
        ("swap", used(swap)),
        ("boot time", utc_text(_number(doc.get("boot_time")))),
        ("uptime", duration_text(uptime)),
    ]
    disks = doc.get("disks")
    disks = disks if isinstance(disks, list) else []
    rows = [
        [
            f"<code>{esc(d.get('mountpoint'))}</code>",
            esc(d.get("device")),
            esc(d.get("fstype")),
            esc(size(d.get("total"))),
            esc(size(d.get("used"))),
            esc(f"{d.get('percent')}%" if _number(d.get("percent")) is not None else "-"),
            esc(f"{d.get('inodes_percent')}%" if _number(d.get("inodes_percent")) else "-"),
        ]
        for d in disks
        if isinstance(d, dict)
    ]
    nics = doc.get("network")
    nics = nics if isinstance(nics, dict) else {}
    nic_rows = [
        [
            esc(name),
            esc(size(c.get("bytes_recv"))),
            esc(size(c.get("bytes_sent"))),
            esc(c.get("errin", "-")),
            esc(c.get("errout", "-")),
            esc(c.get("dropin", "-")),
            esc(c.get("dropout", "-")),
        ]
        for name, c in nics.items()
        if isinstance(c, dict)
    ]
    return (
        _pairs(pairs)
        + "<h4>Disks</h4>"
        + _table(["MOUNTED ON", "DEVICE", "TYPE", "SIZE", "USED", "USE%", "IUSE%"], rows)
        + "<h4>Network counters</h4>"
        + _table(
            ["INTERFACE", "RX BYTES", "TX BYTES", "RX ERR", "TX ERR", "RX DROP", "TX DROP"],
            nic_rows,
        )  # fmt: skip
    )


def _df(doc: Any) -> str:
    """``host/df.json`` as ``df -h`` and ``df -i`` in one table."""
    if not isinstance(doc, list):
        return '<p class="muted">not in this bundle</p>'

    def size(value: Any) -> str:
        n = _number(value)
        return human_size(int(n)) if n is not None else "-"

    def pct(value: Any) -> str:
        return f"{value:.0f}%" if (value := _number(value)) is not None else "-"

    rows = []
    for d in doc:
        if not isinstance(d, dict):
            continue
        path = d.get("path") if d.get("path") != d.get("mountpoint") else ""
        error = d.get("error")
        rows.append(
            [
                f"<code>{esc(d.get('mountpoint'))}</code>",
                f"<code>{esc(path)}</code>" if path else "",
                esc(d.get("source")),
                esc(d.get("fstype")),
                *(
                    [esc(error), "", "", "", "", ""]
                    if error
                    else [
                        esc(size(d.get("size"))),
                        esc(size(d.get("used"))),
                        esc(size(d.get("available"))),
                        esc(pct(d.get("use_percent"))),
                        esc(d.get("inodes") or "-"),
                        esc(pct(d.get("inode_percent"))),
                    ]
                ),
            ]
        )
    headers = ["MOUNTED ON", "FOR", "FILESYSTEM", "TYPE", "SIZE", "USED", "AVAIL", "USE%",
               "INODES", "IUSE%"]  # fmt: skip
    return _table(headers, rows)


def _oom_table(bundle: Bundle) -> str:
    """The kernel log's OOM kills, each with the container it happened in when known."""
    kills = bundle.oom_kills()
    if not kills:
        return '<p class="muted">none in the kernel log</p>'
    for c in bundle.containers:
        bundle.marks(c.id)  # matches kills to containers (cached: the navigation asked first)
    names = {c.id: c.name for c in bundle.containers}
    rows = [
        [
            esc(utc_text(k["at"])),
            k["pid"],  # an int (Bundle.oom_kills): _table escapes it and aligns it right
            esc(k["process"]),
            esc(names.get(k.get("matched_container", ""), "-")),
            f"<code>{esc(k['memcg'] or '-')}</code>",
            esc(k["constraint"] or "-"),
        ]
        for k in kills
    ]
    headers = ["TIME", "HOST PID", "PROCESS", "CONTAINER", "MEMORY CGROUP", "CONSTRAINT"]
    return _table(headers, rows)


def _listening(bundle: Bundle) -> str:
    """The host's listening sockets, as the sockets view shows them."""
    from debugtool.model import from_dict
    from debugtool.snapshot import Socket

    data = bundle.json_member("host/listening.json")
    if not isinstance(data, list):
        return '<p class="muted">not in this bundle</p>'
    sockets = []
    for entry in data:
        if isinstance(entry, dict):
            try:
                sockets.append(from_dict(Socket, entry))
            except (TypeError, ValueError, AttributeError, KeyError, RecursionError):
                continue
    columns = [socket_view.PROTOCOL, socket_view.STATE, socket_view.LOCAL,
               socket_view.HOST_PID, socket_view.PROCESS]  # fmt: skip
    return _view(columns, socket_view.rows(sockets))


def _docker_info(doc: Any) -> str:
    if not isinstance(doc, dict):
        return '<p class="muted">not in this bundle</p>'
    keys = ("ServerVersion", "OperatingSystem", "KernelVersion", "Driver", "CgroupDriver",
            "CgroupVersion", "DockerRootDir", "LoggingDriver", "Containers",
            "ContainersRunning", "Images", "SecurityOptions", "Warnings")  # fmt: skip
    pairs = []
    for key in keys:
        value = doc.get(key)
        if isinstance(value, list):
            value = "; ".join(str(v) for v in value) or "-"
        pairs.append((key, "-" if value is None else str(value)))
    return _pairs(pairs)


def _netfilter(bundle: Bundle) -> str:
    from debugtool.bundle.hostdata import NETFILTER, iptables_summary

    parts = []
    for which, (argv, rel) in NETFILTER.items():
        text = _text_member(bundle, rel)
        if text is None:
            error = bundle.collector_error(None, f"host/{which}")
            parts.append(f"<p><code>{esc(' '.join(argv))}</code>: {esc(error or 'not run')}</p>")
            continue
        summary = ""
        if which != "nft":
            tables = iptables_summary(text)
            summary = ", ".join(
                f"{name}: {t['chains']} chains, {t['rules']} rules" for name, t in tables.items()
            )
        parts.append(_folded(f"{' '.join(argv)} ({summary or f'{len(text)} bytes'})", text))
    return "".join(parts)


def _host_data(bundle: Bundle) -> str:
    """The host data a support engineer asks for (``hostdata``), each part from its file."""
    journal = _text_member(bundle, "host/journal.txt")
    configs = [
        rel for rel in bundle.members() if rel.startswith("host/config/")
    ]  # runtime configs, redacted
    kernel = _text_member(bundle, "host/kernel-log.txt", tail=300)
    events = _text_member(bundle, "host/docker-events.jsonl", tail=100)
    return "".join(
        [
            "<h3>Resources</h3>",
            _resources(bundle.json_member("host/resources.json")),
            "<h3>OOM kills (kernel log)</h3>",
            _oom_table(bundle),
            "<h3>Disk and inode use</h3>",
            _df(bundle.json_member("host/df.json")),
            "<h3>Listening sockets</h3>",
            _listening(bundle),
            "<h3>Sysctls</h3>",
            _folded(
                "sysctls that matter to containers",
                _text_member(bundle, "host/sysctls.txt") or "not in this bundle",
            ),
            "<h3>Netfilter</h3>",
            _netfilter(bundle),
            "<h3>Docker</h3>",
            _docker_info(bundle.json_member("host/docker-info.json")),
            _folded("the last hour of docker events", events) if events else "",
            "<h3>Daemon journals</h3>",
            _pre(journal)
            if journal
            else f'<p class="muted">{esc(bundle.collector_error(None, "host/journal"))}</p>',
            "<h3>Runtime configs</h3>",
            "".join(
                _folded(rel.removeprefix("host/config"), _text_member(bundle, rel) or "")
                for rel in configs
            )  # fmt: skip
            or '<p class="muted">none in this bundle</p>',
            "<h3>Kernel log</h3>",
            _folded("the kernel log's last lines", kernel) if kernel else "",
        ]
    )


def page(bundle: Bundle) -> bytes:
    """Return the report page of an opened bundle."""
    manifest = bundle.manifest
    records = manifest.get("containers") or []
    anchors = {r["id"]: r["dir"] for r in records}
    failed = {
        r.get("container") for r in manifest.get("collectors") or [] if r.get("status") != mf.OK
    }
    nav = "".join(
        f'<a class="c" href="#{esc(anchors.get(c.id))}">{esc(c.name)} '
        f'<span class="muted">{esc(c.runtime)}</span>'
        + (' <span class="st-error">!</span>' if c.id in failed else "")
        + _marks(bundle, c)
        + "</a>"
        for c in bundle.containers
    )
    created = utc_text(bundle.captured_at)
    complete = (
        "complete"
        if bundle.complete
        else f"INCOMPLETE ({esc(manifest.get('interrupted') or 'time budget used up')})"
    )
    host = _host_data(bundle)
    for rel in ["host/kernel.txt", "host/os-release", "host/cgroups.txt"]:
        data = bundle.member(rel)
        if data is not None:
            text = data.decode("utf-8", "replace")
            host += f"<h3>{esc(rel)}</h3><pre>{esc(text, multiline=True)}</pre>"
    dropped = manifest.get("dropped") or []
    body = [
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>",
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>debugtool bundle {esc(manifest.get('host'))} {esc(created)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<header><h1>debugtool support bundle: {esc(manifest.get('host'))}</h1>",
        f"<p>captured {esc(created)} · {len(bundle.containers)} container(s) · {complete} · "
        f"debugtool {esc(manifest.get('debugtool_version'))}</p>",
        f"<p><code>{esc(' '.join(manifest.get('command_line') or []))}</code></p></header>",
        '<div class="layout"><nav><strong>Containers</strong>',
        nav or '<p class="muted">none</p>',
        '<p><a href="#host">Host</a></p></nav><main>',
    ]
    for c in bundle.containers:
        anchor = anchors.get(c.id, "")
        try:
            body.append(_container(bundle, c, anchor))
        except DebugtoolError as exc:  # the bundle cannot say which container this is
            body.append(
                f'<section class="ctr" id="{esc(anchor)}"><h2>{esc(c.name)}</h2>'
                f'<p class="warn">{esc(exc.for_people())}</p></section>'
            )
    listed = [container_view.ContainerRow(c) for c in bundle.containers]
    # Not CREATED: "5 minutes ago" would be counted from when the page is read.
    columns = [c for c in container_view.COLUMNS if c is not container_view.CREATED]
    if any(c.pod for c in bundle.containers):
        columns = container_view.with_pods(columns)
    body += [
        '<section id="host"><h2>Host</h2>',
        "<h3>Containers in this bundle</h3>",
        _view(columns, listed),
        "<h3>Host collectors</h3>",
        _collectors(bundle.collectors(None)),
        host,
        "<h3>Redactions</h3>",
        _table(
            ["RULE", "FILE", "COUNT"],
            [
                [esc(r.get("rule")), esc(r.get("file")), r.get("count")]
                for r in bundle.redactions()
                if isinstance(r, dict)
            ],
        )
        if manifest.get("redacted", True)
        else '<p class="warn">this bundle was written with --no-redact</p>',
        "<h3>Dropped by --max-size</h3>",
        _table(
            ["FILE", "SIZE"],
            [[esc(d.get("file")), esc(human_size(d.get("size")))] for d in dropped],
        ),
        "</section></main></div>",
        f"<script>{_JS}</script></body></html>",
    ]
    return "".join(body).encode()


def render(manifest: dict[str, Any], files: dict[str, bytes]) -> bytes:
    """Return the report page for a bundle being written: its manifest and (redacted) files,
    paths relative to the bundle's folder. The writer's entry point: the files are read as an
    opened Bundle would read them, and shown by ``page``.

    The audit log is left out: the page does not show it, and reading it would warn about a
    line cut short on the writer's terminal."""
    files = {rel: data for rel, data in files.items() if rel != "host/audit.jsonl"}
    archive = Archive(
        root=str(manifest.get("root") or ""),
        members=files,
        order=list(files),
        manifest=manifest,
        sizes={rel: len(data) for rel, data in files.items()},
    )
    return page(Bundle(mf.REPORT, archive))
