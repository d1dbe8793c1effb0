"""``debugtool console``: an interactive prompt that inspects one container from the host."""

from __future__ import annotations

from debugtool.commands import TARGET_HELP

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from debugtool.argv import SubcommandsLike

ORDER = 60


def register(sub: SubcommandsLike) -> None:
    p = sub.add_parser(
        "console",
        help="interactive prompt that inspects a container from the host",
        description="Inspect one container from the host without running anything inside it: "
        "ps, tree, mounts, net, cgroup, caps, env, and ls, cat, head, tail, stat, find, grep over "
        "the container's own files (symlinks resolve inside the container's root, never on the "
        "host). On a stopped (exited, created) Docker, podman or containerd container the files "
        "are read-only from the runtime's storage (its image layers and its own layer, as the "
        "container saw them, mounted where nothing else sees them), and commands that need "
        "processes say there are none. '|' pipes one command into the next, as in a shell "
        "('cat /etc/passwd | grep root', 'ps | grep nginx', 'env | sort'; sort, uniq and wc "
        "are there for pipes); there "
        "is no '>': nothing is written on the host or in the container. 'exec', 'trace' and "
        "'bundle' go through debugtool's audited paths. Tab completes commands, container "
        "paths, PIDs and syscall names; history is kept per user. The session is written to "
        "the audit log (action console), with --reason when given; an interactive console's "
        "screen (the prompts, the commands typed at them and what they print) is recorded like "
        "a shell ('debugtool audit replay ID').",
    )
    p.add_argument("target", metavar="TARGET", help=TARGET_HELP)
    p.add_argument(
        "-c",
        dest="commands",
        metavar="COMMANDS",
        help="run these commands (separated by ';', piped with '|') without a prompt, then exit; "
        "the exit status is the last command's",
    )
    p.add_argument(
        "--show-secrets",
        action="store_true",
        help="show environment values whose names look secret (redacted by default)",
    )
    from debugtool.commands.exec import add_reason_option

    add_reason_option(p, "console session (its exec and trace commands are recorded with it)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the console as one audited session (action "console"): a start record before the
    prompt, an end record with its exit status however it ends (SIGKILL excepted)."""
    import sys

    from debugtool import audit, console
    from debugtool.commands import open_source
    from debugtool.errors import DebugtoolError
    from debugtool.exec.core import _stopped_by_signals
    from debugtool.source import LiveSource

    reason = audit.check_reason(
        args.reason, audit.Record(action="console", target_name=args.target)
    )
    with open_source(args) as source:
        assert isinstance(source, LiveSource)  # the console reads a live container's files
        container = source.find(args.target)
        interactive = args.commands is None and sys.stdin.isatty()
        session = audit.Session(
            audit.Record(
                action="console",
                target_id=container.id,
                target_name=container.name,
                runtime=container.runtime,
                interactive=args.commands is None,
                tty=interactive,
                reason=reason,
                details={"commands": args.commands} if args.commands is not None else {},
            )
        )
        session.start()  # on record before the prompt; if it cannot be written, no console
        code, error = 125, ""
        try:
            recorder = None
            if interactive:  # the screen of an interactive console is recorded like a shell's
                from debugtool import recording
                from debugtool.terminal import get_winsize

                recorder = recording.attach(session, get_winsize(0) or get_winsize(1))
            with _stopped_by_signals():
                if container.status not in ("running", "paused"):
                    # Stopped (exited, created): its files, read-only from the runtime's storage.
                    from debugtool.storage import open_stopped

                    with open_stopped(container, args.timeout) as stopped:
                        code = console.run(
                            stopped,
                            commands=args.commands,
                            show_secrets=args.show_secrets,
                            reason=reason,
                            recorder=recorder,
                        )
                else:
                    code = console.run(
                        source.target(container),
                        commands=args.commands,
                        show_secrets=args.show_secrets,
                        reason=reason,
                        recorder=recorder,
                    )
        except DebugtoolError as exc:
            code, error = exc.exit_code, exc.message
            raise
        except KeyboardInterrupt:
            code, error = 130, "interrupted by Ctrl-C"
            raise
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 125
            error = f"debugtool was stopped (exit code {code})"
            raise
        finally:
            session.end(code, error)
        return code
