"""``debugtool audit``: show the audit log of execs and traces, newest last."""

from __future__ import annotations

import argparse

ORDER = 80


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "audit",
        help="show the audit log (every exec, newest last)",
        description="Show the audit log: one line per exec or trace session, who ran it, in "
        "which container, in which mode, with what exit code. A session whose debugtool was "
        "killed before it could record the end shows 'never ended'. The log is "
        "/var/log/debugtool/audit.jsonl unless DEBUGTOOL_AUDIT_LOG names another file.",
    )
    p.add_argument("--target", metavar="T", help="only entries for this container (id or name)")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.set_defaults(func=run)


def _target(record) -> str:  # type: ignore[no-untyped-def]
    ident = record.target_id[:12]
    name = record.target_name
    return f"{name} ({ident})" if ident and ident != name[:12] else name


def _exit(record) -> str:  # type: ignore[no-untyped-def]
    """EXIT: the code; or ``running`` (its debugtool still runs) or ``never ended``."""
    state = record.state()
    if state == "running":
        return "running"
    if state == "lost":
        return "never ended"
    return "" if record.exit_code is None else str(record.exit_code)


def run(args: argparse.Namespace) -> int:
    import shlex

    from debugtool import audit, output

    records = audit.sessions(audit.read())
    if args.target:
        records = [r for r in records if r.matches(args.target)]
    if args.json:
        output.emit_json([{**r.to_dict(), "state": r.state()} for r in records])
        return 0
    rows = []
    for r in records:
        who = r.user
        if r.sudo_user:
            who += f" (sudo {r.sudo_user})"
        mode = r.mode or r.action
        if r.privileged:
            mode += " privileged"
        command = shlex.join(r.argv) if r.argv else ""
        if r.action == "trace":
            command = f"trace pid {r.details.get('pid', '?')}"
        rows.append(
            [
                r.time,
                who,
                _target(r),
                r.runtime,
                mode,
                _exit(r),
                f"{r.duration:.2f}s" if r.duration is not None else "",
                command,
            ]
        )
    headers = ["TIME", "USER", "TARGET", "RUNTIME", "MODE", "EXIT", "DURATION", "COMMAND"]
    output.table(headers, rows)
    return 0
