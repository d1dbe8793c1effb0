"""``debugtool audit``: show the audit log of execs and traces, newest last."""

from __future__ import annotations

import argparse

ORDER = 80


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "audit",
        help="show the audit log (every exec, newest last)",
        description="Show the audit log: one line per exec or trace, who ran it, in which "
        "container, in which mode, with what exit code. The log is "
        "/var/log/debugtool/audit.jsonl unless DEBUGTOOL_AUDIT_LOG names another file.",
    )
    p.add_argument("--target", metavar="T", help="only entries for this container (id or name)")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.set_defaults(func=run)


def matches(entry: dict, text: str) -> bool:
    """Return whether an audit entry is about the container ``text`` (name, id or id prefix)."""
    name = str(entry.get("target_name", ""))
    ident = str(entry.get("target_id", ""))
    return text in (name, name.lstrip("/"), ident) or (len(text) >= 4 and ident.startswith(text))


def _target(entry: dict) -> str:
    name = str(entry.get("target_name", ""))
    ident = str(entry.get("target_id", ""))[:12]
    return f"{name} ({ident})" if ident and ident != name[:12] else name


def run(args: argparse.Namespace) -> int:
    import shlex

    from debugtool import audit, output

    entries = audit.read()
    if args.target:
        entries = [e for e in entries if matches(e, args.target)]
    if args.json:
        output.emit_json(entries)
        return 0
    rows = []
    for e in entries:
        who = str(e.get("user", ""))
        if e.get("sudo_user"):
            who += f" (sudo {e['sudo_user']})"
        mode = str(e.get("mode", ""))
        if e.get("privileged"):
            mode += " privileged"
        duration = e.get("duration")
        rows.append(
            [
                str(e.get("time", "")),
                who,
                _target(e),
                e.get("runtime", ""),
                mode,
                e.get("exit_code", ""),
                f"{duration:.2f}s" if isinstance(duration, (int, float)) else "",
                shlex.join(str(a) for a in e.get("argv", [])),
            ]
        )
    headers = ["TIME", "USER", "TARGET", "RUNTIME", "MODE", "EXIT", "DURATION", "COMMAND"]
    output.table(headers, rows)
    return 0
