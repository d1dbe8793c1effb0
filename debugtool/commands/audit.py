"""``debugtool audit``: show the audit log of execs, shells, traces and consoles, newest last;
``audit verify`` checks its hash chain and recordings.

Actions (``verify``, and those in ``ACTIONS`` that other modules add: ``replay``, ``show``) are
read only as the first positional word, each with its own parser (its own ``--help``, options
and errors), as ``bundle verify`` is; plain ``debugtool audit [--json]`` lists the sessions.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable

    from debugtool.argv import SubcommandsLike


ORDER = 80

EXIT_BROKEN = 1


def _verify_parser(base: type, prog: str) -> argparse.ArgumentParser:
    p = base(
        prog=f"{prog} verify",
        description="Check that the audit log is whole: each record's digest matches its "
        "content, each one names the hash of the record before it (prev) and follows it in "
        "sequence (seq), and every session recording a record names has the SHA-256 the "
        "record holds. The first record that was altered, removed or reordered is named by "
        "its line number, session and time; so is a recording that is missing or was "
        "changed. Lines written before the chain existed (no prev) are reported as unchained "
        "legacy lines, not as tampering, while they all come before the first chained one. "
        "A chain without a key shows edits, deletions and swaps; it cannot stop someone who "
        "rewrites the whole tail of the log ([audit] syslog = true keeps a copy elsewhere). "
        "The log is /var/log/debugtool/audit.jsonl unless DEBUGTOOL_AUDIT_LOG names another "
        "file; recordings are under its directory.",
        epilog="Exit codes: 0 intact; 1 broken (altered, removed or reordered records, a "
        "missing or changed recording); 125 the log cannot be read.",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="list every problem")
    p.add_argument(
        "--json",
        action="store_true",
        help="print {path, intact, lines, chained, legacy, recordings, first_seq, last_seq, "
        "problems: [{line, kind, text, session, time}]}",
    )
    p.set_defaults(func=verify)
    return p


#: ``audit ACTION``: the name, and a function that returns its parser given debugtool's
#: ArgumentParser class (one-sentence errors, exit 125) and the ``audit`` parser's prog.
ACTIONS: dict[str, Callable[[type, str], argparse.ArgumentParser]] = {
    "verify": _verify_parser,
}


def register(sub: SubcommandsLike) -> None:
    p = sub.add_parser(
        "audit",
        help="show the audit log (every exec, shell, trace and console, newest last); "
        "'audit verify' checks it",
        description="Show the audit log: one line per session (its start and end records "
        "together), when (UTC) and who ran it (the login user behind sudo or su, the sudo "
        "user, the ssh client), in which container, what it was (ACTION: exec, shell, trace "
        "or console), in which exec mode, why (REASON, from --reason), with what exit code "
        "and command, and REC when the session was recorded. A session still running shows "
        "'running'; one whose debugtool was killed before it could record the end shows "
        "'never ended'. --json gives every field of each session. The log is "
        "/var/log/debugtool/audit.jsonl unless DEBUGTOOL_AUDIT_LOG names another file. "
        "'debugtool audit verify' checks that no record was altered, removed or reordered "
        "('audit verify --help').",
    )
    p.add_argument("--target", metavar="T", help="only entries for this container (id or name)")
    p.add_argument(
        "--wide",
        action="store_true",
        help="also show each container's id, its runtime, the terminal and ssh client, and "
        "how long each session took",
    )
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.set_defaults(func=run)
    if hasattr(p, "parse_known_args"):  # argparse's parser, not debugtool.argv's recorder
        _dispatch_actions(p)


def _dispatch_actions(parser: argparse.ArgumentParser) -> None:
    """Hand ``audit ACTION ...`` to that action's own parser."""
    base = type(parser)

    class AuditParser(base):  # type: ignore[valid-type,misc]
        def parse_known_args(self, args=None, namespace=None):  # type: ignore[no-untyped-def]
            args = list(sys.argv[1:] if args is None else args)
            at = _action_index(self, args)
            if at is not None:
                action = ACTIONS[args[at]](base, self.prog)
                return action.parse_args(args[:at] + args[at + 1 :], namespace), []
            return super().parse_known_args(args, namespace)

    parser.__class__ = AuditParser


def _action_index(parser: argparse.ArgumentParser, args: list[str]) -> int | None:
    """Return where an action stands as the first positional word of ``args``, or None."""
    i = 0
    while i < len(args):
        word = args[i]
        if word == "--":
            return None
        if word.startswith("-") and word != "-":
            known = parser._option_string_actions.get(word)  # noqa: SLF001 - argparse's table
            if known is not None and known.nargs != 0:
                i += 1  # its value
            i += 1
            continue
        return i if word in ACTIONS else None
    return None


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


def verify(args: argparse.Namespace) -> int:
    """Walk the audit log's chain and recordings: 0 intact, 1 broken."""
    from debugtool import audit, chain, output

    verdict = chain.verify(audit.log_path())
    if args.json:
        output.emit_json(verdict.to_dict())
        return 0 if verdict.intact else EXIT_BROKEN
    show = output.printable
    legacy = f", {verdict.legacy} unchained legacy lines before them" if verdict.legacy else ""
    recordings = f", {verdict.recordings} recordings" if verdict.recordings else ""
    checked = f"{verdict.chained} chained records{legacy}{recordings}"
    if verdict.intact:
        print(f"{show(verdict.path)}: intact ({checked})")
        return 0
    count = len(verdict.problems)
    print(f"{show(verdict.path)}: BROKEN ({count} problem{'s' if count != 1 else ''}; {checked})")
    first, *rest = verdict.problems
    print(f"  first: {show(first.text)}")
    if args.verbose:
        for problem in rest:
            print(f"  {show(problem.text)}")
    elif rest:
        print(f"  ... and {len(rest)} more (--verbose lists every one, --json too)")
    return EXIT_BROKEN
