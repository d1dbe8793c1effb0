"""``debugtool -H NODE[,NODE...] COMMAND ...``: a command run on other nodes over ssh.

The fleet options (``-H``, ``--inventory``, ``--forks``, ``--node-timeout``, ``--ssh-config``,
``--remote-debugtool``) may stand before the command or among its options (``ps -H a,b``,
``exec -H a web -- id``); they are taken out of the command line, the rest is checked here as
it would be locally (a usage error costs no connection), and that rest is what each node's
debugtool runs. A target written ``NODE/TARGET`` sends the command to that node alone.

- ``ps``, ``inspect``, ``top``, ``mounts``, ``net``, ``snapshot`` and ``audit`` run on every
  node in parallel and come back as one output (``fleet.merge``): a NODE column, ``node`` in
  JSON. ``logs`` is relayed line by line as the nodes send it, each line marked.
- ``exec``, ``shell``, ``trace`` and ``console`` run on exactly one node, with the operator's
  terminal (a pty through ``ssh -tt`` for ``-t``, ``shell`` and ``console``). The node's
  debugtool writes its own audit record there; this side writes a start and an end record in
  the operator's audit log naming the node, so a session is on record at both ends.
  ``audit replay`` runs on one node with the terminal too (a recording played back where it
  was made; it enters nothing, so it is not audited).

A node that is down, hangs or refuses costs its timeout and one line on stderr; the others
complete. Exit codes: 0 when every node answered and succeeded; ``EXIT_PARTIAL`` (2) when
some did and some did not; when none did, the nodes' own exit code if they all agree (125 when
each said "no such container"), else 125. A single-node command exits with the command's code.
"""

from __future__ import annotations

import os
import sys

from debugtool.errors import EXIT_TOOL, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from debugtool.fleet.nodes import Node
    from debugtool.fleet.transport import Connection, Outcome

#: Some nodes answered and some did not (or failed): like grep's 2 and rsync's partial
#: transfer, a code a script tests apart from success and from debugtool's own 125.
EXIT_PARTIAL = 2

#: Commands whose answers are merged into one output.
MERGED = ("ps", "inspect", "top", "mounts", "net", "snapshot", "audit")
#: Commands relayed line by line.
STREAMED = ("logs",)
#: Commands that run on one node with the operator's terminal.
SINGLE = ("exec", "shell", "trace", "console")

#: The fleet options: flag -> destination. Each takes a value.
FLAGS = {
    "-H": "hosts",
    "--inventory": "inventory",
    "--forks": "forks",
    "--node-timeout": "node_timeout",
    "--ssh-config": "ssh_config",
    "--remote-debugtool": "remote_debugtool",
}


def split(argv: list[str]) -> tuple[dict[str, Any], list[str]]:
    """Take the fleet options out of ``argv``; return them and the rest.

    They are looked for up to ``--`` and, for the commands that take a command line of their
    own after the target (exec, shell, trace, console), up to the target: ``exec web -- ps
    -H`` keeps its ``-H``.
    """
    from debugtool import argv as fast
    from debugtool.cli import _VALUED_OPTIONS, _command_module

    found: dict[str, Any] = {"hosts": []}
    rest: list[str] = []
    command: str | None = None
    valued: set[str] = set(_VALUED_OPTIONS)
    i = 0
    while i < len(argv):
        word = argv[i]
        flag, eq, value = word.partition("=")
        if word == "--":
            rest += argv[i:]
            break
        if flag in FLAGS or (word.startswith("-H") and len(word) > 2):
            if flag not in FLAGS:  # -Hn1,n2
                flag, value, eq = "-H", word[2:], "="
            if not eq:
                if i + 1 >= len(argv):
                    raise UsageError(f"{flag} needs a value.", "See 'debugtool --help'.")
                value = argv[i + 1]
                i += 1
            if FLAGS[flag] == "hosts":
                found["hosts"].append(value)
            else:
                found[FLAGS[flag]] = value
            i += 1
            continue
        rest.append(word)
        if word.startswith("-"):
            if word in valued and i + 1 < len(argv):
                rest.append(argv[i + 1])
                i += 1
        elif command is None:
            command = word
            module = _command_module(word)
            if module is not None:
                subs = fast.Subcommands()
                module.register(subs)
                options = subs.parsers.get(word)
                if options is not None:
                    valued |= {
                        f for f, o in options.options.items() if o.action in ("store", "append")
                    }
        elif command in SINGLE:
            rest += argv[i + 1 :]  # the target: what follows belongs to the command
            break
        i += 1
    return found, rest


def _connection(options: dict[str, Any]) -> Connection:
    from debugtool.fleet.transport import Connection

    config = options.get("ssh_config") or os.environ.get("DEBUGTOOL_SSH_CONFIG") or None
    if config and not os.path.isfile(config):
        raise UsageError(f"--ssh-config {config} is not a file.")
    return Connection(ssh_config=config, remote_debugtool=options.get("remote_debugtool"))


def _nodes(options: dict[str, Any]) -> list[Node]:
    from debugtool.fleet import nodes

    inventory = nodes.load_inventory(options["inventory"]) if options.get("inventory") else None
    if not options["hosts"]:
        raise UsageError(
            "--inventory, --forks, --node-timeout, --ssh-config and --remote-debugtool go "
            "with -H NODE[,NODE...].",
            "Add -H @all to ask every host of the inventory.",
        )
    return nodes.select(options["hosts"], inventory)


def _target_at(rest: list[str], args: Any) -> int | None:
    """Return where ``args.target`` stands in ``rest`` (the command's positional), or None."""
    target = getattr(args, "target", None)
    if not isinstance(target, str):
        return None
    for i, word in enumerate(rest):
        if word == target and i > 0 and not rest[i - 1].startswith("-"):
            return i
    if target in rest:
        return rest.index(target)
    return None


def run(options: dict[str, Any], rest: list[str], debug: bool) -> int:
    """Run command line ``rest`` on the nodes ``options`` name; return the exit code."""
    from debugtool.cli import _command_name, parse_args
    from debugtool.commands import Count, Seconds
    from debugtool.fleet import transport

    forks = Count("--forks", "5", maximum=1000)(options.get("forks") or "5")
    timeout = Seconds("--node-timeout", "20", maximum=3600)(
        options.get("node_timeout") or str(transport.NODE_TIMEOUT)
    )
    selected = _nodes(options)
    connection = _connection(options)
    command = _command_name(rest)
    if command is None:
        raise UsageError(
            "-H needs a command to run on the nodes.", "For example: debugtool -H n1 ps"
        )
    args = parse_args(list(rest))  # a usage error is found here, before any connection
    if not getattr(args, "func", None):
        return 0
    if command == "tui":  # every node's containers in one live list (commands.tui)
        from debugtool.commands import tui

        return tui.run_fleet(args, selected, connection, forks, options)
    if getattr(args, "bundle", None):
        raise UsageError("--bundle reads a bundle on this host; it does not go with -H.")
    remote = list(rest)
    at = _target_at(remote, args)
    if at is not None:
        node_name, slash, inner = remote[at].partition("/")
        by_name = {n.name: n for n in selected}
        if slash and node_name in by_name and inner:
            selected = [by_name[node_name]]
            remote[at] = inner
    if debug:
        remote.insert(0, "--debug")
    if command == "audit" and _plays_back(args):
        return _played_back(selected, remote, connection, timeout)
    if command in SINGLE:
        return _single(command, args, selected, remote, connection, timeout)
    if command in MERGED:
        return _merged(args, selected, remote, connection, forks, timeout)
    if command in STREAMED:
        return _streamed(args, selected, remote, connection, forks, timeout)
    if command == "bundle":
        return _bundle(args, selected, rest, connection, forks, options.get("node_timeout"))
    raise UsageError(
        f"{command} does not run across nodes.",
        "ps, inspect, top, mounts, net, snapshot, logs, audit, bundle and tui do; exec, shell, "
        "trace and console run on one node.",
    )


def _report(outcomes: list[Outcome]) -> int:
    """Write one stderr line per node that did not answer, relay the nodes' own stderr
    (marked with the node); return the exit code (see the module's docstring)."""
    from debugtool.fleet import transport
    from debugtool.output import printable

    for outcome in outcomes:
        name = printable(outcome.node.name)
        if outcome.answered:
            for line in outcome.stderr.decode("utf-8", "replace").splitlines():
                if line.strip():
                    said = printable(line).removeprefix("debugtool: ")
                    sys.stderr.write(f"debugtool: {name}: {said}\n")
        else:
            sys.stderr.write(f"debugtool: {name}: {outcome.message}.\n")
    good = [o for o in outcomes if o.status == transport.OK]
    if len(good) == len(outcomes):
        return 0
    if good:
        return EXIT_PARTIAL
    codes = {o.exit_code for o in outcomes if o.answered}
    if len(codes) == 1 and all(o.answered for o in outcomes):
        return int(codes.pop() or EXIT_TOOL)
    return EXIT_TOOL


def _merged(
    args: Any,
    selected: list[Node],
    remote: list[str],
    connection: Connection,
    forks: int,
    timeout: float,
) -> int:
    from debugtool.fleet import merge, transport

    json_out = bool(getattr(args, "json", False)) or args.command == "snapshot"
    mode = "plain" if json_out else "tables"
    outcomes = transport.run_many(selected, remote, connection, mode, forks, timeout)
    answered = [o for o in outcomes if o.status == transport.OK]
    if json_out:
        merge.write_json(answered)
    else:
        merge.write_text(answered)
    sys.stdout.flush()
    return _report(outcomes)


def _streamed(
    args: Any,
    selected: list[Node],
    remote: list[str],
    connection: Connection,
    forks: int,
    timeout: float,
) -> int:
    from debugtool.fleet import merge, transport

    width = max(len(n.name) for n in selected)
    out = merge.LineRelay(width, bool(getattr(args, "json", False)), sys.stdout)
    err = merge.LineRelay(width, False, sys.stderr)
    following = bool(getattr(args, "follow", False))
    # A followed log has no end: only the connection is bounded, not the answer.
    limit = None if following else timeout
    if following:
        forks = max(forks, len(selected))  # every node is followed at once

    def relay(node: Node, fd: int, data: bytes) -> None:
        (out if fd == 1 else err)(node.name, data)

    outcomes = transport.run_many(selected, remote, connection, "plain", forks, limit, relay)
    for node in selected:
        out(node.name, b"", final=True)
        err(node.name, b"", final=True)
    for o in outcomes:
        o.stderr = b""  # relayed already
    return _report(outcomes)


def _single(
    command: str,
    args: Any,
    selected: list[Node],
    remote: list[str],
    connection: Connection,
    timeout: float,
) -> int:
    """Run ``exec``/``shell``/``trace``/``console`` on one node, audited at both ends."""
    from debugtool import audit
    from debugtool.fleet import transport

    if len(selected) != 1:
        names = ", ".join(n.name for n in selected)
        raise UsageError(
            f"{command} runs on one node, and -H names {len(selected)} ({names}).",
            "Give -H NODE, or write the target as NODE/TARGET.",
        )
    node = selected[0]
    tty = command in ("shell", "console") or bool(getattr(args, "tty", False))
    tty = tty and sys.stdin.isatty()
    interactive = tty or bool(getattr(args, "interactive", False))
    session = audit.Session(
        audit.Record(
            action=command,
            target_name=str(getattr(args, "target", "") or ""),
            mode="ssh",
            argv=list(getattr(args, "command", None) or []),
            tty=tty,
            interactive=interactive,
            details={"node": node.name, "ssh_host": node.host, "remote_argv": remote},
        )
    )
    session.start()
    code = EXIT_TOOL
    error = ""
    try:
        if interactive or command != "exec":
            code = transport.run_interactive(node, remote, connection, tty, timeout)
        else:
            code = _exec_plain(node, remote, connection, timeout)
        return code
    except transport.NodeError as exc:
        error = exc.message
        raise
    finally:
        session.end(code, error)


def _plays_back(args: Any) -> bool:
    """Return whether ``args`` are those of ``audit replay`` (a recording played back)."""
    from debugtool.commands import audit

    return getattr(args, "func", None) is audit.run_replay


def _played_back(
    selected: list[Node], remote: list[str], connection: Connection, timeout: float
) -> int:
    """Play a recorded session back from one node's audit log, in this terminal (a pty
    through ``ssh -tt`` when there is one). Nothing is entered, so nothing is audited."""
    from debugtool.fleet import transport

    if len(selected) != 1:
        names = ", ".join(n.name for n in selected)
        raise UsageError(
            f"audit replay plays one node's recording, and -H names {len(selected)} ({names}).",
            "Give -H NODE: the node where the session ran ('debugtool -H NODES audit' says).",
        )
    tty = sys.stdin.isatty() and sys.stdout.isatty()
    return transport.run_interactive(selected[0], remote, connection, tty, timeout)


def _exec_plain(node: Node, remote: list[str], connection: Connection, timeout: float) -> int:
    """``exec`` without a terminal or stdin: one round trip, its output relayed as it comes."""
    from debugtool.fleet import transport

    def relay(_node: Node, fd: int, data: bytes) -> None:
        stream = sys.stdout.buffer if fd == 1 else sys.stderr.buffer
        stream.write(data)
        stream.flush()

    # The command's own time is not the node's to bound: only reaching it is.
    (outcome,) = transport.run_many([node], remote, connection, "plain", 1, None, relay)
    if not outcome.answered:
        raise transport.NodeError(f"{node.name}: {outcome.message}.")
    return int(outcome.exit_code or 0)


def _bundle(
    args: Any,
    selected: list[Node],
    rest: list[str],
    connection: Connection,
    forks: int,
    node_timeout: str | None,
) -> int:
    """``bundle -H``: one fleet archive of every node's bundle (``bundle.fleet_capture``)."""
    from debugtool.bundle import fleet_capture
    from debugtool.commands import Seconds

    if getattr(args, "action", None):
        raise UsageError(
            f"bundle {args.action} reads a bundle on this host; it does not go with -H.",
            f"Run 'debugtool bundle {args.action} FILE' (a fleet bundle is read the same way).",
        )
    limit = Seconds("--node-timeout", "", maximum=86400)(node_timeout) if node_timeout else None
    summary = fleet_capture.capture_fleet(args, rest, selected, connection, forks, limit)
    return fleet_capture.report(summary, bool(args.json))
