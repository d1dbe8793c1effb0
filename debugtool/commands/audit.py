"""``debugtool audit``: show the audit log of execs and traces, newest last."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from debugtool.argv import SubcommandsLike


ORDER = 80


def register(sub: SubcommandsLike) -> None:
    p = sub.add_parser(
        "audit",
        help="show the audit log (every exec, shell and trace, newest last)",
        description="Show the audit log: one line per session (its start and end records "
        "together), when (UTC) and who ran it, in which container, what it was (ACTION: exec, "
        "shell or trace), in which exec mode, with what exit code and command. A session "
        "still running shows 'running'; one whose debugtool was killed before it could record "
        "the end shows 'never ended'. --json gives every field of each session. The log is "
        "/var/log/debugtool/audit.jsonl unless DEBUGTOOL_AUDIT_LOG names another file.",
    )
    p.add_argument("--target", metavar="T", help="only entries for this container (id or name)")
    p.add_argument(
        "--wide",
        action="store_true",
        help="also show each container's id, its runtime and how long each session took",
    )
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from debugtool import audit, output

    records = audit.sessions(audit.read())
    if args.target:
        records = [r for r in records if r.matches(args.target)]
    if args.json:
        output.emit_json([{**r.to_dict(), "state": r.state()} for r in records])
        return 0
    from debugtool import views
    from debugtool.views import sessions

    views.table(sessions.WIDE if args.wide else sessions.COLUMNS, records)
    return 0
