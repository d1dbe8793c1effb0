"""``debugtool exec``: run one audited command in a container (runtime, ns or toolbox mode)."""

from __future__ import annotations

from debugtool.argv import REMAINDER
from debugtool.commands import TARGET_HELP, hidden_help

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from debugtool.argv import OptionsLike, SubcommandsLike

ORDER = 40


def add_exec_options(p: OptionsLike, shell: bool = False) -> None:
    """Add the options ``exec`` and ``shell`` share."""
    p.add_argument(
        "--mode",
        choices=("runtime", "ns", "toolbox"),
        default=None if shell else "runtime",
        help="runtime: the runtime's own exec (default; the container's full security context); "
        "ns: join its namespaces and cgroup from the host; toolbox: ns plus host tools "
        "(busybox and --tool's) read-only at /.debugtool in a private mount namespace",
    )
    p.add_argument("-u", "--user", metavar="USER", help="user (NAME, UID, NAME:GROUP, UID:GID)")
    p.add_argument("-w", "--workdir", metavar="PATH", help="working directory in the container")
    p.add_argument(
        "-e",
        "--env",
        action="append",
        default=[],
        metavar="K=V",
        help="set an environment variable (repeatable)",
    )
    p.add_argument(
        "--ns",
        metavar="LIST",
        help="ns/toolbox modes: join only these namespaces (comma-separated: "
        "user,cgroup,ipc,uts,net,pid,mnt,time)",
    )
    p.add_argument(
        "--privileged",
        action="store_true",
        help="ns/toolbox: keep root's capabilities, no NoNewPrivs; runtime: the runtime's "
        "privileged exec (Docker only); marked in the audit log",
    )
    p.add_argument(
        "--tool",
        action="append",
        metavar="NAME[,NAME...]",
        help="toolbox mode: host programs to bring with their shared libraries, beside the "
        "host's static busybox (repeatable; a name on the host's PATH or a path; 'busybox' "
        "for busybox alone). Default: those of strace, tcpdump, curl, ss, ip, lsof and ps the "
        "host has. They run through their own bundled loader, so they work in distroless "
        "containers; on PATH after the container's own commands (/.debugtool/bin/NAME is "
        "always the host's)",
    )
    p.add_argument(
        "--tools",
        metavar="DIR",
        help="toolbox mode: mount this host directory at /.debugtool as it is, instead of "
        "busybox and --tool's programs (its bin/ goes on PATH)",
    )
    p.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="do not print the context line (errors and warnings still go to stderr; the "
        "audit log records the context either way)",
    )
    p.add_argument(
        "--context-json",
        action="store_true",
        help="write the context line as one JSON object on stderr ({context, line}) instead of "
        "a sentence; the command's own output is untouched (exec has no --json: what it "
        "prints is the command's)",
    )
    add_reason_option(p, "session")
    p.add_argument(
        "--record-input",
        action="store_true",
        help="with a terminal (-t, shell): also record what is typed in the session's recording, "
        "passwords typed without echo included (off by default: only what the session shows "
        "is recorded; see 'debugtool audit replay')",
    )
    # The old spelling of --context-json, kept working for scripts; it warns.
    p.add_argument("--json", action="store_true", dest="json_alias", help=hidden_help(p))


REASON_POLICY = (
    "A reason is mandatory when the system configuration (/etc/debugtool/config.toml, or "
    "DEBUGTOOL_CONFIG) has require_reason = true in its [audit] table, or the environment has "
    "DEBUGTOOL_REQUIRE_REASON=1: without one nothing runs (exit 125)."
)


def add_reason_option(p: OptionsLike, what: str) -> None:
    """Add ``--reason``, which exec, shell, trace and console share."""
    p.add_argument(
        "--reason",
        metavar="TEXT",
        help=f"why this {what} is needed (a sentence or a ticket reference), written to the "
        f"audit log with who ran it. {REASON_POLICY}",
    )


def register(sub: SubcommandsLike) -> None:
    p = sub.add_parser(
        "exec",
        help="run one audited command in a container",
        description="Run one command in a container, like 'docker exec', and append it to the "
        "audit log. Before it runs, one line on stderr says which parts of the container's "
        "context (namespaces, cgroup, capabilities, seccomp, LSM) are matched and which not "
        "(-q leaves it out, --context-json writes it as JSON). Everything else exec prints is "
        "the command's own, so exec has no --json.",
        epilog="Exit codes: the command's own; 126 it cannot be invoked (or the user does not "
        "exist); 127 it was not found; 125 debugtool failed, including when the container "
        "stops while the command runs, or a --tool program is not on the host, or a reason "
        "is required and none was given. The command line is recorded as given, except "
        "values the bundle redactor takes for secrets (--password=..., TOKEN=..., bearer "
        "tokens, passwords in URLs): those are masked in the log, and the record lists which "
        "words were (argv_masked). Examples: "
        "debugtool exec --mode toolbox web -- ls -l /; debugtool exec -it web -- sh; "
        "debugtool exec --mode toolbox --tool tcpdump web -- tcpdump -i any -c 10 -n",
    )
    p.add_argument("-i", "--interactive", action="store_true", help="stream stdin to the command")
    p.add_argument("-t", "--tty", action="store_true", help="give the command a terminal")
    add_exec_options(p)
    p.add_argument("target", metavar="TARGET", help=TARGET_HELP)
    p.add_argument("command", nargs=REMAINDER, metavar="-- CMD [ARG...]")
    p.set_defaults(func=run)


def parse_env(items: list[str]) -> dict[str, str]:
    """Return ``-e K=V`` values as a dict; a bare ``K`` takes debugtool's own value of K."""
    import os

    from debugtool.errors import UsageError

    env: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not key:
            raise UsageError(f"'-e {item}' has no variable name.", "Write -e NAME=VALUE.")
        if not sep:
            if key not in os.environ:
                continue
            value = os.environ[key]
        env[key] = value
    return env


def parse_tool_list(items: list[str] | None) -> list[str] | None:
    """Return ``--tool`` values (repeatable, comma-separated) as one list; None when not given.

    ``busybox`` stands for nothing beyond busybox, which toolbox mode always brings.
    """
    if items is None:
        return None
    names = [name.strip() for item in items for name in item.split(",") if name.strip()]
    return [name for name in names if name != "busybox"]


def report_context(args: argparse.Namespace):
    """Return a callback that writes the context report to stderr (a sentence or JSON), or
    None with ``-q``. Warns once for ``--json``, the deprecated spelling of ``--context-json``."""
    import sys

    if args.json_alias:
        from debugtool.commands import deprecated

        deprecated("--json", "--context-json")
    if args.quiet:
        return None
    as_json = args.context_json or args.json_alias

    def emit(context) -> None:
        if as_json:
            import json

            from debugtool.record import asdict

            sys.stderr.write(json.dumps({"context": asdict(context), "line": context.line()}))
            sys.stderr.write("\n")
        else:
            line = context.line()
            if not line.isprintable():  # what printable() returns unchanged: no import for it
                from debugtool.output import printable

                line = printable(line)
            sys.stderr.write(f"debugtool: {line}\n")
        sys.stderr.flush()

    return emit


def attempt(args: argparse.Namespace, mode: str, argv: list[str], reason: str = ""):
    """Return the audit record of an exec that did not start (an end record alone)."""
    from debugtool import audit

    return audit.Record(
        action="exec",
        target_name=args.target,
        mode=mode,
        argv=argv,
        exec_user=args.user,
        privileged=args.privileged,
        reason=reason,
    )


def check_reason(args: argparse.Namespace, mode: str, argv: list[str]) -> str:
    """Return the ``--reason`` to record; raises ``ReasonRequired`` (on record) when the
    policy wants one and there is none."""
    from debugtool import audit

    return audit.check_reason(args.reason, attempt(args, mode, argv))


def policy_may_refuse(reason: str | None) -> bool:
    """Return whether the reason policy could refuse this exec: no reason given, and a setting
    that could ask for one (``DEBUGTOOL_REQUIRE_REASON``, or a configuration file). One
    ``stat``, and ``config``'s path alone (``audit`` and the file's parser stay unimported):
    where it cannot refuse, the policy is read after the joiner's fork.
    """
    import os

    from debugtool import config

    if (reason or "").strip():
        return False
    return bool(os.environ.get("DEBUGTOOL_REQUIRE_REASON", "").strip()) or os.path.lexists(
        config.path()
    )


def resolve_target(args: argparse.Namespace, mode: str, argv: list[str], reason: str | None = ""):
    """Resolve and pin the target (warnings for runtimes that did not answer go to stderr).

    A target that cannot be resolved is still written to the audit log (exit code 125).
    ``reason`` None: the reason policy is not checked yet; it is checked before that record,
    so that its refusal comes first, as when it is checked before resolving.
    """
    import sys

    from debugtool.errors import DebugtoolError
    from debugtool.source import LiveSource
    from debugtool.target import caller_runtimes, nothing_runs, pin, require_privileges

    try:
        if mode != "runtime":
            require_privileges(what=f"for --mode {mode} (runtime mode works without root)")
        # A user who is not root execs (runtime mode) in their own rootless containers only.
        source = LiveSource(timeout=args.timeout, runtimes=caller_runtimes(None))
        container = source.find(args.target)
        found = source.discovery
        if container.status not in ("running", "paused"):
            raise nothing_runs(container, args.target)
        if not container.running and found is not None:
            for message in found.warnings:
                sys.stderr.write(f"debugtool: warning: {message}\n")
        return pin(container), found
    except DebugtoolError as exc:
        if reason is None:
            reason = check_reason(args, mode, argv)
        # Nothing ran, but the attempt is on record (an end record alone: no session began).
        record = attempt(args, mode, argv, reason)
        record.exit_code = exc.exit_code
        record.error = exc.message
        from debugtool import audit

        try:
            audit.write(record)
        except DebugtoolError:
            pass
        raise


def run(args: argparse.Namespace) -> int:
    from debugtool.errors import UsageError

    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise UsageError("no command given.", "Write: debugtool exec TARGET -- CMD [ARG...].")
    reason: str | None = None
    if policy_may_refuse(args.reason):
        # Before anything is resolved or forked: a refused exec touches nothing of the target.
        reason = check_reason(args, args.mode, command)
    target, found = resolve_target(args, args.mode, command, reason)
    with target:
        early = None
        if args.mode != "runtime":  # runtime mode has no joiner
            # Forked before the exec path is imported: its cgroup wait runs beside the imports.
            from debugtool.exec.early import start_early

            early = start_early(target, args.mode)
        try:
            # Read while the joiner's cgroup move waits (audit's import is off the path to the
            # fork): a usage error calls the joiner off before it has entered any namespace.
            if reason is None:
                reason = check_reason(args, args.mode, command)
            env, host_tools = parse_env(args.env), parse_tool_list(args.tool)
        except BaseException:
            if early is not None:
                early.cancel()
            raise
        from debugtool.exec import exec_in

        result = exec_in(
            target,
            command,
            args.mode,
            interactive=args.interactive,
            tty=args.tty,
            user=args.user,
            workdir=args.workdir,
            env=env,
            namespaces=args.ns.split(",") if args.ns else None,
            privileged=args.privileged,
            tools=args.tools,
            host_tools=host_tools,
            discovery=found,
            report=report_context(args),
            early=early,
            reason=reason,
            record_input=args.record_input,
        )
    return result.exit_code
