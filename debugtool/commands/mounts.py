"""``debugtool mounts``: a container's mounts from its mountinfo, with risky ones flagged."""

from __future__ import annotations

from debugtool.commands import TARGET_HELP, add_bundle_option

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from debugtool.argv import SubcommandsLike
    from debugtool.snapshot import Mount

ORDER = 32


def register(sub: SubcommandsLike) -> None:
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
    p.add_argument(
        "--risky",
        action="store_true",
        help="show only mounts with a risk ('no risky mounts' when there are none; --json prints [])",
    )
    add_bundle_option(p, "mounts")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from debugtool.commands import open_source

    with open_source(args) as source:
        container = source.find(args.target, names_container=False)
        if source.live and container.status not in ("running", "paused", "unknown"):
            from debugtool.errors import ContainerNotRunning

            raise ContainerNotRunning(
                f"container {container.name} ({container.short_id}) is {container.status}: "
                "it has no mounts until it runs again.",
                "'debugtool inspect' shows the layers its files are kept in, and 'debugtool "
                "console' reads them (read-only, from the runtime's storage).",
            )
        return _show(args, source.mounts(container))


def _show(args: argparse.Namespace, mounts: list[Mount]) -> int:
    from debugtool import output, render

    if args.risky:
        mounts = [m for m in mounts if m.risks]
    if args.json:
        output.emit_json(mounts)
        return 0
    if args.risky and not mounts:
        # An answer, not a bare header: on stdout, as 'ps' says when it has no containers.
        print("no risky mounts")
        return 0
    render.mounts(mounts)
    return 0
