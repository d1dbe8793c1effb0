"""A fleet bundle's report.html: the nodes first, then each node's own report inside it.

Each node's bundle already carries its report (``report.py``), rendered on the node from what
it captured. The fleet page does not render the nodes again: it is one level above them, a
table of the nodes (status, the one-line message, the bundle's size and checksum), each node's
containers with what needs attention in them, and each node's own report shown as it is,
embedded in a sandboxed frame (``srcdoc``: nothing is fetched, and the node's page runs in an
opaque origin of its own) that opens under the node's heading. So one file opened in a
browser shows every node, and a node's report is byte for byte the one in its bundle.

The page follows ``report.py``'s rules: inline style and script only, a Content-Security-Policy
that forbids fetching anything, every text escaped (``report.esc``).
"""

from __future__ import annotations

from debugtool.record import field, record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from debugtool.bundle.fleet import FleetNode
    from debugtool.bundle.reader import Bundle

#: The fleet report's member, beside the index.
REPORT = "report.html"
#: The most of the nodes' own reports embedded in the page (each is 100-200 KiB, not
#: compressed in the fleet archive): past it a node's report is named, not copied, so a fleet
#: of thousands of nodes does not carry its bundles' reports twice over.
EMBED_LIMIT = 64 << 20


@record
class NodeView:
    """What the fleet page shows of one node's bundle: its containers with their marks, and
    the node's own report page (None when its bundle had none)."""

    containers: list[tuple[str, str, str, str]] = field(default_factory=list)
    host: str = ""
    page: bytes | None = None


def node_view(bundle: Bundle) -> NodeView:
    """Read what the fleet page shows of a node's (verified) bundle."""
    from debugtool.bundle import manifest
    from debugtool.errors import DebugtoolError

    rows = []
    for c in bundle.containers:
        try:
            marks = ", ".join(m.label for m in bundle.marks(c.id))
        except DebugtoolError:
            marks = ""
        rows.append((c.name, c.runtime, c.status, marks))
    return NodeView(rows, str(bundle.manifest.get("host") or ""), bundle.member(manifest.REPORT))


def page(index: dict[str, Any], nodes: list[FleetNode], views: dict[str, NodeView]) -> bytes:
    """Return the fleet report: ``index`` (the fleet index), its ``nodes``, and ``views`` of
    the nodes whose bundle it holds (by node name)."""
    import html

    from debugtool.bundle.report import _CSP, _CSS, _table, esc
    from debugtool.output import duration_text, human_size, utc_text

    created = utc_text(index.get("created_at"))
    counts: dict[str, int] = {}
    for node in nodes:
        counts[node.status] = counts.get(node.status, 0) + 1
    tally = ", ".join(f"{n} {esc(status)}" for status, n in counts.items())
    rows = []
    for node in nodes:
        anchor = f"node-{nodes.index(node)}"
        name = f'<a href="#{anchor}">{esc(node.name)}</a>' if node.name in views else esc(node.name)
        rows.append(
            [
                name,
                f'<span class="st-{"ok" if node.status == "ok" else "error"}">'
                f"{esc(node.status)}</span>",
                esc(node.message or "-"),
                esc(len(views[node.name].containers) if node.name in views else "-"),
                esc(human_size(node.size) if node.size is not None else "-"),
                esc(duration_text(node.seconds)),
                f"<code>{esc((node.sha256 or '-')[:16])}</code>",
            ]
        )
    body = [
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>",
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>debugtool fleet bundle {esc(created)}</title>",
        f"<style>{_CSS} iframe{{width:100%;height:80vh;border:1px solid #888}}</style>",
        "</head><body>",
        f"<header><h1>debugtool fleet bundle: {len(nodes)} node(s)</h1>",
        f"<p>captured {esc(created)} · {tally} · debugtool "
        f"{esc(index.get('debugtool_version'))}</p>",
        f"<p><code>{esc(' '.join(str(a) for a in index.get('command_line') or []))}</code></p>",
        "</header><main>",
        "<h2>Nodes</h2>",
        _table(["NODE", "STATUS", "MESSAGE", "CONTAINERS", "SIZE", "TIME", "SHA-256"], rows),
    ]
    embedded = 0
    root = str(index.get("root") or "ROOT")
    for i, node in enumerate(nodes):
        view = views.get(node.name)
        if view is None:
            continue
        body.append(
            f'<section id="node-{i}"><h2>{esc(node.name)} '
            f'<span class="muted">{esc(view.host)} · {esc(node.status)}</span></h2>'
        )
        body.append(
            _table(
                ["CONTAINER", "RUNTIME", "STATUS", "NEEDS ATTENTION"],
                [[esc(n), esc(r), esc(s), esc(m or "-")] for n, r, s, m in view.containers],
            )
        )
        if view.page is not None and embedded + len(view.page) > EMBED_LIMIT:
            body.append(
                f'<p class="muted">{esc(node.name)}\'s own report is in its bundle: '
                f"<code>tar -xOf FLEET.tar {esc(root)}/{esc(node.member)} | tar -xzO "
                "--wildcards '*/report.html' &gt; node.html</code></p>"
            )
        elif view.page is not None:
            embedded += len(view.page)
            # The node's page, as its bundle holds it: quoted for the attribute (html.escape
            # with quote=True), in a sandbox that lets its own script run and nothing else.
            text = html.escape(view.page.decode("utf-8", "replace"), quote=True)
            body.append(
                f"<details><summary>{esc(node.name)}'s own report</summary>"
                f'<iframe sandbox="allow-scripts" title="{esc(node.name)}" '
                f'srcdoc="{text}"></iframe></details>'
            )
        body.append("</section>")
    body.append("</main></body></html>")
    return "".join(body).encode()
