"""report.html: one self-contained page showing a bundle's views offline.

Inline CSS and a few lines of inline JS, no external script, style, font or image, and a
Content-Security-Policy that forbids fetching anything. Every text from the bundle is escaped,
first by ``output.printable`` (controls, bidi overrides and invisible characters would disguise
text in a browser too), then for HTML; ``://`` is written as ``&#58;//`` so no URL-shaped text
appears in the page source.
"""

from __future__ import annotations

import html
import json
import time
from typing import Any

from debugtool.bundle import manifest as mf
from debugtool.output import printable

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
th{color:var(--muted);font-weight:600}td.num{font-variant-numeric:tabular-nums}
td code{overflow-wrap:anywhere}
code,pre{font:12px/1.4 ui-monospace,Menlo,Consolas,monospace}pre{background:var(--band);
padding:8px;overflow:auto;max-height:480px;white-space:pre-wrap;overflow-wrap:anywhere}
.st-ok{color:var(--ok)}.st-error,.st-timeout{color:var(--bad);font-weight:600}
.st-skipped,.st-truncated{color:var(--warn);font-weight:600}tr.risk td{background:#fdecea}
.risk-tag{color:var(--bad);font-weight:600}.muted{color:var(--muted)}.warn{color:var(--warn)}
.badge{display:inline-block;padding:0 6px;border-radius:8px;background:#dde3ee;font-size:12px}
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


def _size(n: Any) -> str:
    if not isinstance(n, (int, float)):
        return "-"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f}{unit}" if unit == "B" else f"{value:.1f}{unit}"
        value /= 1024
    return "-"


def _status(status: str) -> str:
    return f'<span class="st-{esc(status)}">{esc(status)}</span>'


def _load(files: dict[str, bytes], rel: str) -> Any:
    data = files.get(rel)
    if data is None:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return None


def _collectors(records: list[dict[str, Any]]) -> str:
    rows = [
        [
            esc(r.get("name")),
            _status(str(r.get("status"))),
            f"{float(r.get('duration') or 0) * 1000:.0f} ms",
            esc(r.get("error") or ""),
        ]
        for r in records
    ]
    return _table(["collector", "status", "duration", "detail"], rows)


def _processes(snap: dict[str, Any]) -> str:
    rows = []
    for p in snap.get("processes") or []:
        rows.append(
            [
                p.get("nspid") if p.get("nspid") is not None else "-",
                p.get("pid"),
                esc(p.get("user") or p.get("uid")),
                esc(p.get("state")),
                "-" if p.get("cpu_percent") is None else f"{p['cpu_percent']:.1f}",
                esc(_size(p.get("rss"))),
                p.get("threads"),
                f"<code>{esc(' '.join(p.get('cmdline') or []) or '[' + str(p.get('name')) + ']')}</code>",
            ]
        )
    return _table(["pid", "host pid", "user", "state", "%cpu", "rss", "thr", "command"], rows)


def _mounts(snap: dict[str, Any]) -> str:
    rows, classes = [], []
    mounts = snap.get("mounts") or []
    for m in mounts:
        risks = m.get("risks") or []
        rows.append(
            [
                f"<code>{esc(m.get('mountpoint'))}</code>",
                esc(m.get("fstype")),
                f"<code>{esc(m.get('host_path') or m.get('source'))}</code>",
                "ro" if m.get("readonly") else "rw",
                esc(m.get("propagation")),
                f'<span class="risk-tag">{esc(", ".join(risks))}</span>' if risks else "",
            ]
        )
        classes.append("risk" if risks else "")
    risky = sum(1 for c in classes if c)
    toggle = (
        f'<p><label><input type="checkbox" class="riskonly"> show only the {risky} risky '
        "mount(s)</label></p>"
        if risky
        else '<p class="muted">no risky mounts flagged</p>'
    )
    table = _table(["mountpoint", "type", "source", "mode", "propagation", "risks"], rows, classes)
    return f"<div>{toggle}{table}</div>"


def _network(snap: dict[str, Any]) -> str:
    net = snap.get("network") or {}
    ifaces = [
        [
            esc(i.get("name")),
            esc(i.get("state")),
            esc(
                " ".join(
                    f"{a.get('address')}/{a.get('prefixlen')}" for a in i.get("addresses") or []
                )
            ),
            esc(i.get("mac")),
            i.get("mtu"),
            esc(_size(i.get("rx_bytes"))),
            esc(_size(i.get("tx_bytes"))),
        ]
        for i in net.get("interfaces") or []
    ]
    routes = [
        [
            esc(r.get("destination")),
            esc(r.get("gateway")),
            esc(r.get("interface")),
            esc(r.get("table")),
        ]
        for r in net.get("routes") or []
    ]
    sockets = [
        [
            esc(s.get("protocol")),
            esc(s.get("state")),
            esc(s.get("path") or f"{s.get('local_address')}:{s.get('local_port')}"),
            esc(
                f"{s.get('remote_address')}:{s.get('remote_port')}" if s.get("remote_port") else ""
            ),
            esc(",".join(str(p) for p in s.get("nspids") or s.get("pids") or [])),
            esc(s.get("process")),
        ]
        for s in net.get("sockets") or []
    ]
    dns = net.get("dns") or {}
    return (
        "<h4>Interfaces</h4>"
        + _table(["name", "state", "addresses", "mac", "mtu", "rx", "tx"], ifaces)
        + "<h4>Routes</h4>"
        + _table(["destination", "gateway", "interface", "table"], routes)
        + "<h4>Sockets</h4>"
        + _table(["proto", "state", "local", "remote", "pids", "process"], sockets)
        + "<h4>DNS</h4>"
        + f"<p>nameservers: {esc(' '.join(dns.get('nameservers') or []) or '-')}; search: "
        + f"{esc(' '.join(dns.get('search') or []) or '-')}</p>"
    )


def _cgroup(snap: dict[str, Any], samples: list[dict[str, Any]]) -> str:
    cg = (samples[-1] if samples else None) or snap.get("cgroup") or {}
    quota, period = cg.get("cpu_quota_us"), cg.get("cpu_period_us")
    rows = [
        ["version", esc(cg.get("version"))],
        ["memory usage", esc(_size(cg.get("memory_usage")))],
        [
            "memory limit",
            esc(_size(cg.get("memory_limit")) if cg.get("memory_limit") else "unlimited"),
        ],
        ["memory peak", esc(_size(cg.get("memory_peak")))],
        ["OOM kills", esc(cg.get("oom_kills"))],
        ["CPU limit", esc(f"{quota / period:.2f} cores" if quota and period else "unlimited")],
        ["CPU throttled periods", esc(cg.get("cpu_nr_throttled"))],
        ["pids", esc(f"{cg.get('pids_current')} / {cg.get('pids_max') or 'max'}")],
    ]
    if len(samples) >= 2:
        first, last = samples[0], samples[-1]
        span = (last.get("sampled_at") or 0) - (first.get("sampled_at") or 0)
        if (
            span > 0
            and first.get("cpu_usage_ns") is not None
            and last.get("cpu_usage_ns") is not None
        ):
            rate = (last["cpu_usage_ns"] - first["cpu_usage_ns"]) / 1e9 / span * 100
            rows.append(["CPU (sampled)", esc(f"{rate:.1f}% of one core over {span:.1f}s")])
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    sample_rows = [
        [
            esc(time.strftime("%H:%M:%S", time.gmtime(s.get("sampled_at") or 0))),
            esc(_size(s.get("memory_usage"))),
            s.get("cpu_usage_ns") if s.get("cpu_usage_ns") is not None else "-",
            s.get("pids_current") if s.get("pids_current") is not None else "-",
        ]
        for s in samples
    ]
    return f"<table>{body}</table><h4>Samples</h4>" + _table(
        ["time (UTC)", "memory", "cpu ns", "pids"], sample_rows
    )


def _security(snap: dict[str, Any]) -> str:
    sec = snap.get("security") or {}
    rows = [
        ["user namespace", "yes" if sec.get("user_namespace") else "no"],
        ["capabilities (effective)", esc(" ".join(sec.get("cap_effective") or []) or "none")],
        ["seccomp", esc(sec.get("seccomp") or "-")],
        ["no_new_privs", "yes" if sec.get("no_new_privs") else "no"],
        ["AppArmor", esc(sec.get("apparmor") or "-")],
        ["SELinux", esc(sec.get("selinux") or "-")],
        ["read-only root", "yes" if sec.get("readonly_rootfs") else "no"],
    ]
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    warnings = "".join(f'<li class="warn">{esc(w)}</li>' for w in sec.get("warnings") or [])
    return f"<table>{body}</table>" + (f"<ul>{warnings}</ul>" if warnings else "")


def _container(
    record: dict[str, Any], files: dict[str, bytes], collectors: list[dict[str, Any]]
) -> str:
    folder = f"containers/{record.get('dir')}"
    container = _load(files, f"{folder}/container.json") or record
    snap = _load(files, f"{folder}/snapshot.json") or {}
    samples = _load(files, f"{folder}/cgroup-samples.json") or []
    logs = files.get(f"{folder}/logs.txt")
    anchor = esc(record.get("dir"))
    status = container.get("status")
    if record.get("exited_during_capture"):  # container.json was written while it still ran
        status = f"{record.get('status') or 'exited'} during capture"
    errors = snap.get("errors") or {}
    notes = "".join(f'<li class="warn">{esc(k)}: {esc(v)}</li>' for k, v in errors.items())
    parts = [
        f'<section class="ctr" id="{anchor}"><h2>{esc(container.get("name"))} '
        f'<span class="badge">{esc(container.get("runtime"))}</span></h2>',
        f"<p><code>{esc(container.get('id'))}</code> · image {esc(container.get('image') or '-')}"
        f" · status {esc(status)} · pid {esc(container.get('pid') or '-')}</p>",
        f"<ul>{notes}</ul>" if notes else "",
        f"<h3>Processes ({len(snap.get('processes') or [])})</h3>",
        _processes(snap) if snap else '<p class="muted">no snapshot in this bundle</p>',
        f"<h3>Mounts ({len(snap.get('mounts') or [])})</h3>",
        _mounts(snap) if snap else '<p class="muted">no snapshot in this bundle</p>',
        "<h3>Network</h3>",
        _network(snap) if snap else '<p class="muted">no snapshot in this bundle</p>',
        "<h3>Cgroup</h3>",
        _cgroup(snap, samples) if snap or samples else '<p class="muted">no cgroup data</p>',
        "<h3>Security</h3>",
        _security(snap) if snap else '<p class="muted">no snapshot in this bundle</p>',
        "<h3>Logs</h3>",
        f"<pre>{esc(logs.decode('utf-8', 'replace'), multiline=True)}</pre>"
        if logs
        else '<p class="muted">no logs in this bundle</p>',
        "<h3>Collectors</h3>",
        _collectors(collectors),
        "</section>",
    ]
    return "".join(parts)


def render(manifest: dict[str, Any], files: dict[str, bytes]) -> bytes:
    """Return the report page for a bundle's manifest and (redacted) files."""
    records = manifest.get("collectors") or []
    by_container: dict[Any, list[dict[str, Any]]] = {}
    for r in records:
        by_container.setdefault(r.get("container"), []).append(r)
    containers = manifest.get("containers") or []
    nav = "".join(
        f'<a class="c" href="#{esc(c.get("dir"))}">{esc(c.get("name"))} '
        f'<span class="muted">{esc(c.get("runtime"))}</span>'
        + (
            ' <span class="st-error">!</span>'
            if any(r.get("status") != mf.OK for r in by_container.get(c.get("id"), []))
            else ""
        )
        + "</a>"
        for c in containers
    )
    created = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(manifest.get("created_at") or 0))
    complete = (
        "complete"
        if manifest.get("complete")
        else f"INCOMPLETE ({esc(manifest.get('interrupted') or 'time budget used up')})"
    )
    host_files = ["host/kernel.txt", "host/os-release", "host/cgroups.txt"]
    host = "".join(
        f"<h3>{esc(rel)}</h3><pre>{esc(files[rel].decode('utf-8', 'replace'), multiline=True)}</pre>"
        for rel in host_files
        if rel in files
    )
    red = _load(files, mf.REDACTIONS) or {}
    dropped = manifest.get("dropped") or []
    body = [
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>",
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>debugtool bundle {esc(manifest.get('host'))} {esc(created)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<header><h1>debugtool support bundle: {esc(manifest.get('host'))}</h1>",
        f"<p>captured {esc(created)} · {len(containers)} container(s) · {complete} · "
        f"debugtool {esc(manifest.get('debugtool_version'))}</p>",
        f"<p><code>{esc(' '.join(manifest.get('command_line') or []))}</code></p></header>",
        '<div class="layout"><nav><strong>Containers</strong>',
        nav or '<p class="muted">none</p>',
        '<p><a href="#host">Host</a></p></nav><main>',
    ]
    for c in containers:
        body.append(_container(c, files, by_container.get(c.get("id"), [])))
    body += [
        '<section id="host"><h2>Host</h2>',
        "<h3>Host collectors</h3>",
        _collectors(by_container.get(None, [])),
        host,
        "<h3>Redactions</h3>",
        _table(
            ["rule", "file", "count"],
            [
                [esc(r.get("rule")), esc(r.get("file")), r.get("count")]
                for r in red.get("redactions") or []
            ],
        )
        if red.get("redacted", True)
        else '<p class="warn">this bundle was written with --no-redact</p>',
        "<h3>Dropped by --max-size</h3>",
        _table(
            ["file", "size"], [[esc(d.get("file")), esc(_size(d.get("size")))] for d in dropped]
        ),
        "</section></main></div>",
        f"<script>{_JS}</script></body></html>",
    ]
    return "".join(body).encode()
