"""The resolver view: what ``net``, the console, the TUI and the report show of a container's DNS."""

from __future__ import annotations

from debugtool.snapshot import DNSConfig


def lines(dns: DNSConfig) -> list[str]:
    """Return the resolver's lines as ``resolv.conf`` writes them: ``nameserver 10.0.0.2``
    (one each), ``search``, ``options``, and how many entries ``/etc/hosts`` holds (the text is
    the container's own: each front end escapes each line where it writes it)."""
    out = []
    if not dns.resolv_conf and not dns.nameservers:
        out.append("(no /etc/resolv.conf in the container)")
    out += [f"nameserver {ns}" for ns in dns.nameservers]
    if dns.search:
        out.append(f"search     {' '.join(dns.search)}")
    if dns.options:
        out.append(f"options    {' '.join(dns.options)}")
    hosts = [
        line
        for line in dns.hosts.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if hosts:
        entries = f"{len(hosts)} entr{'y' if len(hosts) == 1 else 'ies'}"
        out.append(f"hosts      {entries} in /etc/hosts")
    return out
