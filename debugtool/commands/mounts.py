"""``debugtool mounts``: a container's mounts from its mountinfo, with risky ones flagged."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from debugtool.commands import TARGET_HELP

if TYPE_CHECKING:
    from debugtool.model import Mount

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
        help=TARGET_HELP,
    )
    p.add_argument("--risky", action="store_true", help="show only mounts with a risk")
    p.add_argument(
        "--bundle", metavar="FILE", help="read the mounts from this support bundle, not live"
    )
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from debugtool import output
    from debugtool.collect.mounts import collect_mounts
    from debugtool.target import require_privileges, resolve

    if args.bundle:
        from debugtool.bundle.reader import load_snapshot

        return _show(args, load_snapshot(args.bundle, args.target).mounts)
    require_privileges()
    with resolve(
        args.target, timeout=args.timeout, warn=output.warn, names_container=False
    ) as target:
        mounts = collect_mounts(target)
    return _show(args, mounts)


def _show(args: argparse.Namespace, mounts: list[Mount]) -> int:
    from debugtool import output, render

    if args.risky:
        mounts = [m for m in mounts if m.risks]
    if args.json:
        output.emit_json(mounts)
        return 0
    render.mounts(mounts)
    return 0
