"""``debugtool audit``: show the audit log of execs and traces, newest last."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any

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
        "/var/log/debugtool/audit.jsonl unless DEBUGTOOL_AUDIT_LOG names another file. "
        "Without a SUBCOMMAND it lists the sessions. Interactive sessions are recorded beside "
        "the log (recordings/SESSION.cast): 'audit replay ID' plays one back, 'audit show ID' "
        "prints it as text.",
    )
    p.add_argument("--target", metavar="T", help="only entries for this container (id or name)")
    p.add_argument(
        "--wide",
        action="store_true",
        help="also show each container's id, its runtime and how long each session took",
    )
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.set_defaults(func=run)
    actions = _actions(p)
    if actions is not None:
        add_recording_actions(actions)


def _actions(p: Any) -> Any:
    """Return ``audit``'s subcommands (argparse), or None for ``debugtool.argv``'s recorder,
    which is then told to leave every ``audit`` command line to argparse (not a hot path)."""
    if not hasattr(p, "add_subparsers"):
        p.plain = False
        return None
    return p.add_subparsers(dest="audit_action", metavar="SUBCOMMAND", required=False)


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


# -- session recordings: audit replay, audit show ----------------------------------------------
SAFE_SUBSET = (
    "What a container printed is replayed through a filter: only printable text, CR, LF, BS, "
    "TAB and CSI sequences that move the cursor, erase, insert, scroll or set colours (SGR) "
    "reach the terminal; everything else (OSC such as window titles and OSC 52 clipboard "
    "writes, DCS, APC, PM, mode changes, requests the terminal would answer, C1 controls) is "
    "dropped and counted."
)


def add_recording_actions(actions: Any) -> None:
    """Add ``audit replay`` and ``audit show`` (interactive sessions' recordings)."""
    p = actions.add_parser(
        "replay",
        help="play a session's recording back in the terminal",
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
    p = actions.add_parser(
        "show",
        help="print a session's transcript as text",
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
