"""``debugtool shell``: an interactive, audited shell in a container (exec -it /bin/sh)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from debugtool.argv import SubcommandsLike


ORDER = 41


def register(sub: SubcommandsLike) -> None:
    from debugtool.commands import TARGET_HELP
    from debugtool.commands.exec import add_exec_options

    p = sub.add_parser(
        "shell",
        help="open an interactive shell in a container",
        description="Open an interactive shell in a container: 'exec -it' of its /bin/sh. When "
        "the container has no /bin/sh (distroless), or --tool or --tools is given, it runs in "
        "toolbox mode instead: the container's files at /, and on PATH the host's busybox and "
        "host tools (strace, tcpdump, curl, ss, ip, lsof, ps where the host has them, or the "
        "--tool list) with their libraries, read-only at /.debugtool. Without a /bin/sh of the "
        "container's, the shell is busybox's. The session is written to the audit log, "
        "with --reason when given, and recorded (what it shows, not what is typed unless "
        "--record-input): 'debugtool audit replay ID' plays it back.",
    )
    add_exec_options(p, shell=True)
    p.add_argument("target", metavar="TARGET", help=TARGET_HELP)
    p.set_defaults(func=run)


def has_file(root: str, path: str) -> bool:
    """Return whether ``path`` exists inside ``root``, links resolved as the container would."""
    from debugtool import rootfs
    from debugtool.errors import DebugtoolError

    try:
        rootfs.stat(root, path)
    except DebugtoolError:
        return False
    return True


def run(args: argparse.Namespace) -> int:
    import sys

    from debugtool.commands.exec import (
        check_reason,
        parse_env,
        parse_tool_list,
        report_context,
        resolve_target,
    )
    from debugtool.exec import exec_in

    tool_names = parse_tool_list(args.tool)
    wants_tools = tool_names is not None or args.tools is not None
    mode = args.mode or ("toolbox" if wants_tools else "runtime")
    resolve_mode = mode if args.mode or wants_tools else "ns"
    reason = check_reason(args, resolve_mode, ["/bin/sh"])
    target, found = resolve_target(args, resolve_mode, ["/bin/sh"], reason)
    with target:
        argv = ["/bin/sh"]
        if mode != "toolbox" and not has_file(target.root, "/bin/sh"):
            if args.mode is not None:
                from debugtool.errors import CommandNotFound

                raise CommandNotFound(
                    f"the container has no /bin/sh, so --mode {args.mode} cannot give a shell.",
                    "Use --mode toolbox for the host's busybox sh with the container's files "
                    "at /, or leave --mode out to get it.",
                )
            sys.stderr.write(
                "debugtool: the container has no /bin/sh; running the host's busybox sh "
                "in toolbox mode.\n"
            )
            mode = "toolbox"
        env = parse_env(args.env)
        if mode == "toolbox" and (args.tools is None) and not has_file(target.root, "/bin/sh"):
            from debugtool.toolbox.stage import SHRC

            argv = ["/.debugtool/bin/sh"]
            # busybox's sh runs its own applet for a name before PATH; this file's functions
            # put the host tools of the same name (ps, ip, lsof) first.
            env.setdefault("ENV", SHRC)
        result = exec_in(
            target,
            argv,
            mode,
            interactive=True,
            tty=True,
            user=args.user,
            workdir=args.workdir,
            env=env,
            namespaces=args.ns.split(",") if args.ns else None,
            privileged=args.privileged,
            tools=args.tools,
            host_tools=tool_names,
            discovery=found,
            report=report_context(args),
            reason=reason,
            record_input=args.record_input,
        )
    return result.exit_code
