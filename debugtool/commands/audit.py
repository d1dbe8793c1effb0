"""``debugtool audit``: show the audit log of execs, shells, traces and consoles, newest last;
``audit verify`` checks its hash chain and recordings.

Actions (``verify``, and those in ``ACTIONS`` that other modules add: ``replay``, ``show``) are
read only as the first positional word, each with its own parser (its own ``--help``, options
and errors), as ``bundle verify`` is; plain ``debugtool audit [--json]`` lists the sessions.
"""

from __future__ import annotations

import sys

from debugtool.commands import action_index

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable
    from typing import Any

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
        help="print {path, exists, intact, lines, chained, legacy, recordings, first_seq, "
        "last_seq, problems: [{line, kind, text, session, time}]}",
    )
    p.set_defaults(func=verify)
    return p


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
        "('audit verify --help'). Interactive sessions are recorded beside the log "
        "(recordings/SESSION.cast): 'audit replay ID' plays one back, 'audit show ID' prints "
        "it as text.",
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
            at = action_index(self, args, ACTIONS)
            if at is not None:
                action = ACTIONS[args[at]](base, self.prog)
                return action.parse_args(args[:at] + args[at + 1 :], namespace), []
            return super().parse_known_args(args, namespace)

    parser.__class__ = AuditParser


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
    if not verdict.exists:
        print(
            f"{show(verdict.path)}: no audit log there, so nothing to verify (nothing was "
            "recorded on this host yet, or the log was removed or moved; DEBUGTOOL_AUDIT_LOG "
            "names another)."
        )
        return 0
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


# -- session recordings: audit replay, audit show ----------------------------------------------
SAFE_SUBSET = (
    "What a container printed is replayed through a filter: only printable text, CR, LF, BS, "
    "TAB and CSI sequences that move the cursor, erase, insert, scroll or set colours (SGR) "
    "reach the terminal; everything else (OSC such as window titles and OSC 52 clipboard "
    "writes, DCS, APC, PM, mode changes, requests the terminal would answer, C1 controls) is "
    "dropped and counted."
)


def _replay_parser(base: type, prog: str) -> argparse.ArgumentParser:
    """``audit replay``: play an interactive session's recording back."""
    p = base(
        prog=f"{prog} replay",
        description="Play back the recording of an interactive session (exec -t, shell, "
        "console, the TUI's e) at the pace it was recorded. ID is the session id of the audit "
        "log ('debugtool audit --json' shows it) or a unique prefix of it. Ctrl-C stops. "
        + SAFE_SUBSET
        + " A recording whose SHA-256 differs from its audit record is replayed with a warning.",
    )
    p.add_argument("id", metavar="ID", help="session id, or a unique prefix of one")
    p.add_argument(
        "--speed",
        type=float,
        default=1.0,
        metavar="N",
        help="play N times as fast (0.5: half speed; default 1)",
    )
    p.add_argument("--fast", action="store_true", help="no pauses at all: print it straight out")
    p.add_argument(
        "--idle-limit",
        type=float,
        metavar="SECONDS",
        help="shorten every pause longer than SECONDS to SECONDS",
    )
    p.set_defaults(func=run_replay)
    return p


def _show_parser(base: type, prog: str) -> argparse.ArgumentParser:
    """``audit show``: an interactive session's transcript as text."""
    p = base(
        prog=f"{prog} show",
        description="Print the transcript of an interactive session's recording as text: what "
        "the session printed, with every control character and escape sequence shown as "
        "text (ESC as \\x1b; CR LF as a line end). Secrets that the bundle redactor "
        "recognises (passwords, tokens, keys) are masked in this view; the recording file "
        "itself is never changed. --json gives the session's audit fields, the recording's "
        "header, whether its SHA-256 matches the audit record, the transcript and the markers.",
    )
    p.add_argument("id", metavar="ID", help="session id, or a unique prefix of one")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.set_defaults(func=run_show)
    return p


def _recording(ident: str) -> tuple[Any, str, Any, str]:
    """Return the session's record, the recording's path, the open file and its SHA-256."""
    from debugtool import audit, replay

    entry = replay.find(ident, audit.read())
    path = replay.path_of(entry)
    f = replay.open_recording(path)
    return entry, path, f, replay.sha256_of(f)


def _check_hash(entry: Any, path: str, digest: str) -> bool | None:
    """Warn when the file's SHA-256 is not the one on record; None when none is recorded."""
    if not entry.recording_sha256:
        return None
    if entry.recording_sha256 == digest:
        return True
    from debugtool.output import warn

    warn(
        f"{path} does not match the SHA-256 in its audit record: it was changed after the "
        "session ended."
    )
    return False


def run_replay(args: argparse.Namespace) -> int:
    import sys

    from debugtool import replay
    from debugtool.errors import UsageError
    from debugtool.output import printable, warn
    from debugtool.terminal import get_winsize

    if not args.speed > 0:
        raise UsageError("--speed must be a number above 0.", "For example --speed 2.")
    if args.idle_limit is not None and not args.idle_limit >= 0:
        raise UsageError("--idle-limit must be 0 or more seconds.")
    entry, path, f, digest = _recording(args.id)
    with f:
        _check_hash(entry, path, digest)
        header, events = replay.read(f, path)
        size = get_winsize(1)
        width, height = header.get("width"), header.get("height")
        if size and isinstance(width, int) and isinstance(height, int):
            if width > size[1] or height > size[0]:
                warn(
                    f"the session was recorded in a {width}x{height} terminal and this one is "
                    f"{size[1]}x{size[0]}: lines may wrap."
                )
        sys.stdout.flush()
        try:
            dropped, markers = replay.play(
                events, 1, speed=args.speed, idle_limit=args.idle_limit, fast=args.fast
            )
        except KeyboardInterrupt:
            sys.stdout.buffer.write(b"\x1b[0m\r\n")
            sys.stdout.flush()
            sys.stderr.write("debugtool: replay stopped.\n")
            return 130
    sys.stdout.buffer.write(b"\x1b[0m")  # attributes the recording left on go no further
    sys.stdout.flush()
    sys.stderr.write("\n")
    for seconds, text in markers:
        sys.stderr.write(f"debugtool: at {seconds:.1f}s: {printable(text)}\n")
    if dropped:
        sys.stderr.write(
            f"debugtool: {dropped} control sequence{'s' if dropped != 1 else ''} of the "
            f"recording {'were' if dropped != 1 else 'was'} not replayed (only text, cursor "
            "movement and colours are).\n"
        )
    return 0


def run_show(args: argparse.Namespace) -> int:
    import sys

    from debugtool import output, replay

    entry, path, f, digest = _recording(args.id)
    with f:
        matches = _check_hash(entry, path, digest)
        header, events = replay.read(f, path)
        text, typed, markers = replay.transcript(events)
    where = entry.recording or path
    text, count = replay.masked(text, where)
    if typed:
        typed, typed_count = replay.masked(typed, where)
        count += typed_count
    if args.json:
        output.emit_json(
            {
                "session": entry.session,
                "record": entry.to_dict(),
                "recording": path,
                "sha256": digest,
                "sha256_matches_record": matches,
                "header": header,
                "transcript": text,
                "input": typed if typed else None,
                "markers": [{"time": t, "text": m} for t, m in markers],
                "masked": count,
            }
        )
        return 0
    sys.stdout.write(replay.visible(text))
    if not text.endswith("\n"):
        sys.stdout.write("\n")
    if typed:
        sys.stdout.write("--- typed (recorded with --record-input) ---\n")
        sys.stdout.write(replay.visible(typed) + "\n")
    for seconds, note in markers:
        sys.stdout.write(f"--- at {seconds:.1f}s: {output.printable(note)} ---\n")
    if count:
        sys.stderr.write(
            f"debugtool: {count} secret{'s' if count != 1 else ''} masked in this view "
            "(the recording itself is unchanged).\n"
        )
    return 0


#: ``audit ACTION``: the name, and a function that returns its parser given debugtool's
#: ArgumentParser class (one-sentence errors, exit 125) and the ``audit`` parser's prog.
ACTIONS: dict[str, Callable[[type, str], argparse.ArgumentParser]] = {
    "verify": _verify_parser,
    "replay": _replay_parser,
    "show": _show_parser,
}
