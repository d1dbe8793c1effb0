"""``debugtool mounts``: a container's mounts from its mountinfo, with risky ones flagged."""

from __future__ import annotations

import argparse

ORDER = 32


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "mounts",
        help="list a container's mounts, with host paths and risks",
        description="List the mounts of one container from its mountinfo: mount point, "
        "filesystem type, source, where a bind mount comes from on the host, read-only or "
        "read-write, propagation, and what is risky (a runtime socket, the host's root, "
        "writable /proc/sys or /sys, host paths mounted read-write).",
    )
    p.add_argument(
        "target",
        metavar="TARGET",
        help="id, id prefix, name, RUNTIME:NAME, pid:N or pod/NAME[/CONTAINER]",
    )
    p.add_argument("--risky", action="store_true", help="show only mounts with a risk")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.set_defaults(func=run)


def _printable(text: str) -> str:
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return (
        text
        if text.isprintable()
        else "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    )


def run(args: argparse.Namespace) -> int:
    from debugtool import output
    from debugtool.collect.mounts import collect_mounts
    from debugtool.runtimes import Discovery, discover
    from debugtool.target import require_privileges, resolve

    require_privileges()
    if args.target.startswith("pid:"):
        # A process needs no runtime to be read, and this output names no container: skip
        # asking every runtime (most of this command's time on a busy host).
        found = Discovery()
    else:
        found = discover(all=True, timeout=args.timeout)
    for message in found.warnings:
        output.warn(message)
    with resolve(args.target, found) as target:
        mounts = collect_mounts(target)
    if args.risky:
        mounts = [m for m in mounts if m.risks]
    if args.json:
        output.emit_json(mounts)
        return 0
    rows = [
        [
            _printable(m.mountpoint),
            m.fstype,
            _printable(m.source) or "-",
            _printable(m.host_path) or "-",
            "ro" if m.readonly else "rw",
            m.propagation,
            ("! " + "; ".join(m.risks)) if m.risks else "",
        ]
        for m in mounts
    ]
    output.table(["MOUNTPOINT", "TYPE", "SOURCE", "HOST PATH", "MODE", "PROPAGATION", "RISK"], rows)
    risky = sum(1 for m in mounts if m.risks)
    if risky:
        output.warn(f"{risky} mount{'s' if risky != 1 else ''} flagged as risky (see RISK).")
    return 0
