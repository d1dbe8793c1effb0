"""The debug console: inspect one container from the host, without running anything inside it.

Every file command (``ls``, ``cat``, ``find``, ``grep`` ...) reads through ``debugtool.rootfs``,
so symlinks and ``..`` resolve inside the container's root and never reach the host's files.
What it shows comes from the container (file names and contents, link targets, user names,
environment values), so the console's output and error streams write through
``output.printable``: names one per line with newlines and tabs escaped, contents as lines.
Commands joined by ``|`` run one after the other, each reading the text the one before wrote
as it is (so ``grep`` matches a file's real bytes); it is escaped once, where the last one
writes to the console's stream. Nothing is ever written to a file: there is no ``>``.
The interactive prompt is prompt-toolkit; ``Console.run_line`` is the same engine without a
prompt, used by ``debugtool console TARGET -c '...'`` and by the tests.
"""

from __future__ import annotations

import argparse
import fnmatch
import io
import itertools
import os
import posixpath
import re
import stat as stat_mod
import subprocess
import sys
import time
from typing import cast

from debugtool import output, rootfs
from debugtool.errors import ContainerGone, DebugtoolError, UsageError
from debugtool.output import printable, utc_text
from debugtool.record import record
from debugtool.snapshot import Snapshot
from debugtool.trace.decode import syscall_names

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from typing import Any, TextIO

    from prompt_toolkit.completion import CompleteEvent, Completion
    from prompt_toolkit.document import Document

    from debugtool.recording import Recorder
    from debugtool.storage import StoppedRoot
    from debugtool.target import Target

#: How much of a file ``cat``, ``grep`` and ``head`` read at most (the console is for looking).
READ_LIMIT = 8 << 20
#: How much of a file's end ``tail`` reads.
TAIL_WINDOW = 1 << 20


class ConsoleError(DebugtoolError):
    """A console command failed; the session goes on."""


class _ArgParser(argparse.ArgumentParser):
    """Per-command parser that raises instead of exiting the console."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConsoleError(f"{self.prog}: {message}.")

    def exit(self, status: int = 0, message: str | None = None) -> None:  # type: ignore[override]
        if message:
            raise ConsoleError(message.strip())
        raise _HelpShown()


class _HelpShown(Exception):
    """``CMD --help`` printed its usage: not an error."""


#: How much one command may write into a pipe (what passes between commands is kept in memory).
PIPE_LIMIT = 64 << 20


class _PipeBuffer(io.TextIOBase):
    """What a command in the middle of a pipeline writes, kept as it is (not escaped) for the
    next command; refuses more than ``PIPE_LIMIT`` characters."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.parts: list[str] = []
        self.size = 0

    def write(self, text: str) -> int:
        self.size += len(text)
        if self.size > PIPE_LIMIT:
            self.size -= len(text)
            raise ConsoleError(
                f"{self.name}: more than {PIPE_LIMIT >> 20} MiB into the pipe; "
                "narrow it down (a path, grep, head)."
            )
        self.parts.append(text)
        return len(text)

    def getvalue(self) -> str:
        return "".join(self.parts)

    def isatty(self) -> bool:
        return False


@record
class Command:
    name: str
    summary: str
    usage: str
    run: Callable[[list[str]], int]
    completes: str = ""  # "path", "pid", "syscall-or-pid" or ""
    no_pipe: str = ""  # why the command cannot be part of a pipeline ("" when it can)


#: Characters that are shell operators when unquoted. ';' ends a pipeline and '|' joins two
#: commands; the others are shell syntax the console does not have, refused with a sentence
#: rather than taken as words (``ls > out`` must not list a directory named ``>``).
_OPERATORS = ";|&<>"

#: Why each operator the console does not have is refused.
_REFUSED = {
    "||": "'||' is not supported: commands are joined by '|' (a pipe) or ';' only.",
    "&&": "'&&' is not supported: commands are joined by '|' (a pipe) or ';' only.",
    "&": "'&' is not supported: console commands run one at a time, in the foreground.",
    ">": "output redirection is not supported; use the CLI's --json or copy the text.",
    "<": "input redirection is not supported; name the file instead (grep root /etc/passwd).",
}

#: A pipeline: commands joined by ``|``, each a list of words.
Pipeline = list[list[str]]


def _tokens(line: str) -> Iterator[tuple[bool, str]]:
    """Yield ``(is_operator, text)`` for ``line``, quoted as a POSIX shell quotes.

    ``'...'`` keeps everything; ``"..."`` keeps everything but a backslash before ``\\ " $ ```;
    a backslash outside quotes keeps the next character. An operator is a run of one operator
    character (``||``, ``>>``, ``;;``). A quoted operator character is part of a word, so
    ``grep 'a|b'`` and ``grep '|'`` search for a ``|``.
    """
    word: list[str] | None = None  # None: no word started (so that '' is an empty word)
    i, n = 0, len(line)
    while i < n:
        c = line[i]
        if c in " \t\r\n":
            if word is not None:
                yield False, "".join(word)
                word = None
            i += 1
        elif c in _OPERATORS:
            if word is not None:
                yield False, "".join(word)
                word = None
            j = i
            while j < n and line[j] == c:
                j += 1
            yield True, line[i:j]
            i = j
        elif c == "'":
            end = line.find("'", i + 1)
            if end < 0:
                raise ConsoleError("cannot parse the line: a ' quote is not closed.")
            word = [*(word or []), line[i + 1 : end]]
            i = end + 1
        elif c == '"':
            word = word or []
            i += 1
            while i < n and line[i] != '"':
                if line[i] == "\\" and i + 1 < n and line[i + 1] in '\\"$`':
                    i += 1
                word.append(line[i])
                i += 1
            if i >= n:
                raise ConsoleError('cannot parse the line: a " quote is not closed.')
            i += 1
        elif c == "\\":
            if i + 1 >= n:
                raise ConsoleError("cannot parse the line: it ends with a backslash.")
            word = [*(word or []), line[i + 1]]
            i += 2
        else:
            word = [*(word or []), c]
            i += 1
    if word is not None:
        yield False, "".join(word)


def parse_line(line: str) -> list[Pipeline]:
    """Split a console line into pipelines at unquoted ``;``, each into commands at unquoted
    ``|``, each command into shell-style words. Empty commands between ``;`` are dropped.

    Raises ``ConsoleError`` for unbalanced quotes, a ``|`` without a command on each side, and
    shell syntax the console does not have (``||``, ``&&``, ``&``, ``>``, ``<``).
    """
    pipelines: list[Pipeline] = []
    pipeline: Pipeline = [[]]

    def close() -> None:
        if pipeline[-1]:
            pipelines.append(pipeline)
        elif len(pipeline) > 1:
            raise ConsoleError(
                "cannot parse the line: '|' has no command after it; "
                "write 'COMMAND | COMMAND', for example 'ps | grep nginx'."
            )

    for is_operator, text in _tokens(line):
        if not is_operator:
            pipeline[-1].append(text)
        elif text[0] == ";":
            close()
            pipeline = [[]]
        elif text == "|":
            if not pipeline[-1]:
                raise ConsoleError(
                    "cannot parse the line: '|' has no command before it; "
                    "write 'COMMAND | COMMAND', for example 'ps | grep nginx'."
                )
            pipeline.append([])
        else:
            doubled = text[0] in "|&" and len(text) > 1
            raise ConsoleError(_REFUSED[text[0] * 2 if doubled else text[0]])
    close()
    return pipelines


_OWN_OUTPUT = "it runs a debugtool process whose output goes straight to the terminal"
#: Commands that read processes (or run one): a stopped container has none.
NEEDS_PROCESS = frozenset(
    {"ps", "tree", "net", "cgroup", "caps", "env", "refresh", "trace", "exec"}
)
_TERMINAL = "it clears the terminal and writes nothing to read"
#: What ``clear`` writes: home, erase the screen, erase the scrollback (as ncurses' clear).
CLEAR_SCREEN = "\x1b[H\x1b[2J\x1b[3J"


class Console:
    """One console session on one target: the command table, the working directory inside the
    container, and the last Snapshot (kept when the container exits).

    The target is a running container (a ``Target``: its files through ``/proc/PID/root``) or a
    stopped one (a ``storage.StoppedRoot``: its layers mounted read-only from the runtime's
    storage), which has files but no processes.
    """

    def __init__(
        self,
        target: Target | StoppedRoot,
        out: TextIO | None = None,
        err: TextIO | None = None,
        show_secrets: bool = False,
        collect: Callable[[Target], Snapshot] | None = None,
        reason: str = "",
    ) -> None:
        self.target = target
        #: A stopped container, read from storage: no processes, nothing to run.
        self.stopped = target.pid is None
        #: The session's --reason, passed on to the exec and trace it runs.
        self.reason = reason
        # Every write goes through printable(multiline=True): no control character reaches the
        # terminal, whatever a command writes. Names are escaped one by one where they are
        # written, so that a newline in a file name cannot forge a line of output.
        self.out = cast("TextIO", output.PrintableStream(out or sys.stdout))
        self.err = cast("TextIO", output.PrintableStream(err or sys.stderr))
        self.show_secrets = show_secrets
        #: In a pipeline, what the command before wrote; None when nothing is piped in.
        self.stdin: str | None = None
        self.cwd = "/"
        self.gone = False
        self._snapshot: Snapshot | None = None
        self._snapshot_at = 0.0
        self._collect = collect
        self.done = False
        self.commands: dict[str, Command] = {}
        for cmd in self._command_table():
            self.commands[cmd.name] = cmd

    # --- the engine ----------------------------------------------------------------------------
    def run_line(self, line: str) -> int:
        """Run every pipeline on ``line``; return the status of the last one.

        A failing command prints one sentence to ``err`` and the session goes on. A line that
        cannot be parsed runs nothing and returns 2.
        """
        status = 0
        try:
            pipelines = parse_line(line)
        except ConsoleError as exc:
            self._error(str(exc))
            return 2
        for pipeline in pipelines:
            if self.done:
                break
            status = self.run_pipeline(pipeline)
        return status

    def run_pipeline(self, commands: Pipeline) -> int:
        """Run commands joined by ``|``, one after the other: each reads what the one before it
        wrote (``self.stdin``); errors go to ``err``. Return the last command's status, as a
        shell does.

        What passes between two commands is their text as written, not escaped: ``grep`` and
        ``wc`` see a file's real contents. It is escaped once, where the last command writes
        to the console's printable stream.
        """
        if len(commands) == 1:
            return self.run_command(commands[0])
        for words in commands:
            cmd = self.commands.get(words[0])
            if cmd is not None and cmd.no_pipe:
                self._error(f"{cmd.name} cannot be part of a pipeline: {cmd.no_pipe}.")
                return 2
        shown = self.out
        status = 0
        try:
            for i, words in enumerate(commands):
                if self.done:
                    break
                last = i == len(commands) - 1
                pipe = shown if last else _PipeBuffer(words[0])
                self.out = cast("TextIO", pipe)
                status = self.run_command(words)
                if isinstance(pipe, _PipeBuffer):
                    self.stdin = pipe.getvalue()
        finally:
            self.out = shown
            self.stdin = None
        return status

    def run_command(self, words: list[str]) -> int:
        name, args = words[0], words[1:]
        cmd = self.commands.get(name)
        if cmd is None:
            self._error(f"unknown command '{name}'. Type 'help' for the list.")
            return 127
        self._check_alive()
        if self.stopped and name in NEEDS_PROCESS:
            self._error(f"{name}: {self._no_processes()}")
            return 1
        try:
            return cmd.run(args)
        except _HelpShown:
            return 0
        except ContainerGone as exc:
            self._mark_gone()
            self._error(exc.for_people())
            return 1
        except DebugtoolError as exc:
            self._error(exc.for_people())
            return 1
        except BrokenPipeError:
            return 1
        except KeyboardInterrupt:
            self._error("interrupted.")
            return 130

    def _error(self, message: str) -> None:
        self.err.write(f"{printable(message)}\n")
        self.err.flush()

    def _no_processes(self) -> str:
        c = self.target.container
        return (
            f"container {c.name} is {c.status}: it has no processes and nothing can run in it; "
            "its files are read from its runtime's storage (ls, cat, find, grep work)."
        )

    def _check_alive(self) -> None:
        if not self.gone and not self.target.alive():
            self._mark_gone()

    def _mark_gone(self) -> None:
        if not self.gone:
            self.gone = True
            self._error(
                f"container {self.target.name} has exited; the console shows what its last "
                "snapshot holds, and its files are no longer reachable."
            )

    # --- state ---------------------------------------------------------------------------------
    def snapshot(self, fresh: bool = False) -> Snapshot:
        """Return a Snapshot of the target: a new one (at most once a second) unless it exited."""
        stale = time.monotonic() - self._snapshot_at > 1.0
        if self._snapshot is None or ((fresh or stale) and not self.gone):
            try:
                self._snapshot = self._take_snapshot()
                self._snapshot_at = time.monotonic()
            except ContainerGone:
                self._mark_gone()
                if self._snapshot is None:
                    raise ConsoleError(
                        "the container exited before anything could be read from it."
                    ) from None
        assert self._snapshot is not None
        return self._snapshot

    def _take_snapshot(self) -> Snapshot:
        if self.stopped:
            raise ConsoleError(self._no_processes())
        target = cast("Target", self.target)
        if self._collect is not None:
            return self._collect(target)
        from debugtool.collect import collect_snapshot

        return collect_snapshot(target)

    def resolve(self, path: str | None) -> str:
        """Return ``path`` as an absolute path inside the container (relative to ``cwd``)."""
        if not path:
            return self.cwd
        return posixpath.normpath(posixpath.join(self.cwd, path)).replace("//", "/")

    @property
    def root(self) -> str:
        if self.gone:
            raise ConsoleError(
                f"container {self.target.name} has exited; its files are no longer reachable."
            )
        return self.target.root

    # --- the command table ---------------------------------------------------------------------
    def _command_table(self) -> list[Command]:
        return [
            Command("ps", "processes, flat", "ps [--json]", self.cmd_ps),
            Command("tree", "processes as a tree", "tree [--json]", self.cmd_tree),
            Command("mounts", "mounts, risky ones flagged", "mounts [--json]", self.cmd_mounts),
            Command("net", "interfaces, sockets, routes, DNS", "net [--json]", self.cmd_net),
            Command("cgroup", "cgroup usage and limits", "cgroup [--json]", self.cmd_cgroup),
            Command("caps", "capabilities, seccomp, LSM", "caps [--json]", self.cmd_caps),
            Command("env", "a process's environment (redacted)", "env [PID]", self.cmd_env, "pid"),
            Command("ls", "list a directory", "ls [-l] [-a|-A] [PATH...]", self.cmd_ls, "path"),
            Command("cat", "print files (or the input)", "cat [PATH...]", self.cmd_cat, "path"),
            Command("head", "first lines", "head [-n N] [PATH]", self.cmd_head, "path"),
            Command("tail", "last lines", "tail [-n N] [PATH]", self.cmd_tail, "path"),
            Command(
                "sort",
                "sort lines (byte order)",
                "sort [-r] [-n] [-u] [-f] [-t SEP] [-k N] [PATH...]",
                self.cmd_sort,
                "path",
            ),
            Command(
                "uniq", "drop repeated lines", "uniq [-c] [-d|-u] [PATH]", self.cmd_uniq, "path"
            ),
            Command(
                "wc",
                "count lines, words, bytes",
                "wc [-l] [-w] [-c] [PATH...]",
                self.cmd_wc,
                "path",
            ),
            Command("stat", "file metadata", "stat PATH...", self.cmd_stat, "path"),
            Command(
                "find",
                "find files",
                "find [PATH] [-name GLOB] [-type f|d|l] [-maxdepth N]",
                self.cmd_find,
                "path",
            ),
            Command(
                "grep",
                "search lines (a Python regex, as grep -E)",
                "grep [-i] [-v] [-r] [-n] [-l] PATTERN [PATH...]",
                self.cmd_grep,
                "path",
            ),
            Command(
                "cd", "change directory inside the container", "cd [PATH]", self.cmd_cd, "path"
            ),
            Command("pwd", "print the directory inside the container", "pwd", self.cmd_pwd),
            Command("refresh", "read the container again", "refresh", self.cmd_refresh),
            Command("clear", "clear the screen", "clear", self.cmd_clear, no_pipe=_TERMINAL),
            Command(
                "trace",
                "trace a process's syscalls (Ctrl-C ends)",
                "trace PID [-e SYSCALLS] [--count N] [--duration S] [--summary]",
                self.cmd_trace,
                "syscall-or-pid",
                no_pipe=_OWN_OUTPUT,
            ),
            Command(
                "exec",
                "run a command in the container (audited)",
                "exec CMD [ARG...]",
                self.cmd_exec,
                no_pipe=_OWN_OUTPUT,
            ),
            Command(
                "bundle",
                "capture a support bundle of this container",
                "bundle [-o FILE]",
                self.cmd_bundle,
                no_pipe=_OWN_OUTPUT,
            ),
            Command("help", "list commands, or show one", "help [COMMAND]", self.cmd_help),
            Command("exit", "leave the console", "exit", self.cmd_exit),
            Command("quit", "leave the console", "quit", self.cmd_exit),
        ]

    def _parser(self, name: str) -> _ArgParser:
        cmd = self.commands[name]
        return _ArgParser(prog=name, description=cmd.summary, add_help=True)

    # --- inspection ----------------------------------------------------------------------------
    def _json_flag(self, name: str, args: list[str]) -> bool:
        p = self._parser(name)
        p.add_argument("--json", action="store_true")
        return bool(p.parse_args(args).json)

    def cmd_ps(self, args: list[str], tree: bool = False) -> int:
        from debugtool import render

        as_json = self._json_flag("tree" if tree else "ps", args)
        snap = self.snapshot()
        if as_json:
            output.emit_json(snap.processes, self.out)
        else:
            render.processes(snap, tree=tree, stream=self.out)
        return 0

    def cmd_tree(self, args: list[str]) -> int:
        return self.cmd_ps(args, tree=True)

    def _section(
        self,
        command: str,
        section: str,
        args: list[str],
        pick: Callable[[Snapshot], Any],
        show: Callable[..., None],
    ) -> int:
        """Show one section of the snapshot; ``section`` names it in ``Snapshot.errors``."""
        as_json = self._json_flag(command, args)
        snap = self.snapshot()
        if section in snap.errors:
            self._error(f"{section}: {snap.errors[section]}")
        if as_json:
            output.emit_json(pick(snap), self.out)
        else:
            show(snap, stream=self.out)
        return 0

    def cmd_mounts(self, args: list[str]) -> int:
        from debugtool import render

        if self.stopped:
            return self._layers(args)
        return self._section("mounts", "mounts", args, lambda s: s.mounts, render.mounts)

    def _layers(self, args: list[str]) -> int:
        """``mounts`` of a stopped container: the layers its root is read from (it has no
        mounts until it runs again)."""
        layers = cast("StoppedRoot", self.target).layers
        if self._json_flag("mounts", args):
            output.emit_json(layers, self.out)
            return 0
        self.out.write(
            f"/ is overlay, read-only, from {printable(layers.source)} "
            f"({printable(layers.driver)}); no other mounts while the container is stopped.\n"
        )
        if layers.upper:
            self.out.write(f"  container  {printable(layers.upper)}\n")
        for path in layers.lowers:
            self.out.write(f"  image      {printable(path)}\n")
        return 0

    def cmd_net(self, args: list[str]) -> int:
        from debugtool import render

        return self._section("net", "network", args, lambda s: s.network, render.network)

    def cmd_cgroup(self, args: list[str]) -> int:
        from debugtool import render

        return self._section("cgroup", "cgroup", args, lambda s: s.cgroup, render.cgroup)

    def cmd_caps(self, args: list[str]) -> int:
        from debugtool import render

        return self._section("caps", "security", args, lambda s: s.security, render.security)

    def _host_pid(self, text: str | None) -> int:
        """Map a PID as the container sees it to the host PID (default: the container's init)."""
        if text is None:
            return cast("Target", self.target).pid
        try:
            nspid = int(text)
        except ValueError:
            raise ConsoleError(f"'{text}' is not a process id.") from None
        for p in self.snapshot(fresh=True).processes:
            if p.nspid == nspid:
                return p.pid
        raise ConsoleError(f"no process {nspid} in the container. See 'ps'.")

    def cmd_env(self, args: list[str]) -> int:
        from debugtool import procfs

        p = self._parser("env")
        p.add_argument("pid", nargs="?", help="the PID as the container sees it")
        ns = p.parse_args(args)
        if self.gone:
            raise ConsoleError("the container has exited; its environment is gone.")
        pid = self._host_pid(ns.pid)
        try:
            raw = procfs.read_bytes(pid, "environ")
        except procfs.ProcessGone:
            raise ConsoleError(f"process {ns.pid or 1} exited.") from None
        from debugtool.collect.procdetail import mask_environment

        items = [
            item.decode("utf-8", "surrogateescape").partition("=")
            for item in raw.split(b"\0")
            if item
        ]
        # Entries without '=' have no value to mask: the key is kept, the separator too.
        pairs, masked = mask_environment(
            [(key, value) for key, sep, value in items if sep], self.show_secrets
        )
        shown = iter(pairs)
        for key, sep, value in items:
            if sep:
                key, value = next(shown)
            self.out.write(printable(f"{key}{sep}{value}") + "\n")
        if masked:
            self._error(
                f"{masked} value(s) redacted; start the console with --show-secrets to see them."
            )
        return 0

    def cmd_refresh(self, args: list[str]) -> int:
        self._parser("refresh").parse_args(args)
        snap = self.snapshot(fresh=True)
        self.out.write(
            f"{len(snap.processes)} processes, {len(snap.mounts)} mounts, "
            f"{len(snap.network.sockets)} sockets.\n"
        )
        return 0

    # --- files ---------------------------------------------------------------------------------
    def cmd_pwd(self, args: list[str]) -> int:
        self._parser("pwd").parse_args(args)
        self.out.write(printable(self.cwd) + "\n")
        return 0

    def cmd_cd(self, args: list[str]) -> int:
        p = self._parser("cd")
        p.add_argument("path", nargs="?", default="/")
        path = self.resolve(p.parse_args(args).path)
        st = rootfs.stat(self.root, path)
        if not stat_mod.S_ISDIR(st.st_mode):
            raise ConsoleError(f"cd: {path}: not a directory.")
        self.cwd = path
        return 0

    def cmd_ls(self, args: list[str]) -> int:
        p = self._parser("ls")
        p.add_argument("-l", dest="long", action="store_true", help="long listing")
        p.add_argument("-a", dest="all", action="store_true", help="dot files, and . and ..")
        p.add_argument("-A", dest="almost_all", action="store_true", help="dot files, not . ..")
        p.add_argument("paths", nargs="*")
        ns = p.parse_args(args)
        paths = ns.paths or [self.cwd]
        status = 0
        owners = self._owners() if ns.long else None
        for i, raw in enumerate(paths):
            path = self.resolve(raw)
            try:
                st = rootfs.lstat(self.root, path)
                if stat_mod.S_ISLNK(st.st_mode):
                    try:
                        st = rootfs.stat(self.root, path)
                    except rootfs.RootfsError:
                        pass  # a dangling link: list the link itself
                if not stat_mod.S_ISDIR(st.st_mode):
                    self._ls_entry(path, raw, st, ns.long, owners)
                    continue
                entries = rootfs.listdir(self.root, path)
                if ns.all:
                    # As GNU ls -a: the directory itself and its parent, as the container sees
                    # them (".." resolves inside the root: at "/" it is "/" again).
                    parent = rootfs.stat(self.root, path.rstrip("/") + "/..")
                    entries = [(".", st), ("..", parent), *entries]
            except rootfs.RootfsError as exc:
                self._error(f"ls: {exc.message}")
                status = 1
                continue
            if len(paths) > 1:
                self.out.write(("\n" if i else "") + f"{printable(raw)}:\n")
            for name, est in entries:
                if name.startswith(".") and not (ns.all or ns.almost_all):
                    continue
                self._ls_entry(posixpath.join(path, name), name, est, ns.long, owners)
        return status

    def _owners(self) -> Owners:
        """Return the container's view of file owners: its id maps and its user and group names."""
        from debugtool import procfs

        # A stopped container has no user namespace to map through: its ids as stored.
        maps = [procfs.IDENTITY_MAP, procfs.IDENTITY_MAP]
        pid = self.target.pid
        if pid is not None:
            for i, name in enumerate(("uid_map", "gid_map")):
                try:
                    maps[i] = procfs.parse_id_map(procfs.read_text(pid, name))
                except DebugtoolError:
                    pass
        return Owners(rootfs.users(self.root), rootfs.groups(self.root), maps[0], maps[1])

    def _ls_entry(
        self, full: str, shown: str, st: os.stat_result | None, long: bool, owners: Owners | None
    ) -> None:
        suffix = ""
        shown = printable(shown)
        if st is not None and stat_mod.S_ISLNK(st.st_mode):
            try:
                suffix = " -> " + printable(rootfs.readlink(self.root, full))
            except DebugtoolError:
                suffix = " -> ?"
        if not long or st is None or owners is None:
            if st is not None and stat_mod.S_ISDIR(st.st_mode):
                shown += "/"
            self.out.write(shown + ("" if not long else suffix) + "\n")
            return
        mtime = utc_text(st.st_mtime)
        uid, user = owners.user(st.st_uid)
        gid, group = owners.group(st.st_gid)
        user, group = printable(user or str(uid)), printable(group or str(gid))
        self.out.write(
            f"{stat_mod.filemode(st.st_mode)} {st.st_nlink:>3} {user:<8} {group:<8} "
            f"{st.st_size:>10} {mtime} {shown}{suffix}\n"
        )

    def _read(self, path: str, limit: int = READ_LIMIT) -> bytes:
        return rootfs.read_file(self.root, path, limit=limit)

    def _write_bytes(self, data: bytes) -> None:
        """Write a file's contents as lines, as they are: a byte that is not UTF-8 passes a pipe
        unchanged and shows as ``\\xNN`` where the console's stream writes it out."""
        self.out.write(data.decode("utf-8", "surrogateescape"))
        if data and not data.endswith(b"\n"):
            self.out.write("\n")

    def _input(self, name: str) -> bytes:
        """Return what the command before this one in the pipeline wrote, as bytes.

        Raises ``ConsoleError`` when nothing is piped in (the console has no keyboard input).
        """
        if self.stdin is None:
            raise ConsoleError(
                f"{name}: name a file, or pipe a command into it ('cat FILE | {name}')."
            )
        try:
            return self.stdin.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:  # a lone surrogate that no byte stands for
            return self.stdin.encode("utf-8", "surrogatepass")

    def _sources(self, name: str, paths: list[str]) -> Iterator[tuple[str, bytes | None]]:
        """Yield ``(path, contents)`` for each of ``paths``, or ``("", input)`` when none is
        named. A file that cannot be read is reported on ``err`` and yielded as None."""
        if not paths:
            yield "", self._input(name)
            return
        for raw in paths:
            try:
                data = self._read(self.resolve(raw))
            except rootfs.RootfsError as exc:
                self._error(f"{name}: {exc.message}")
                yield raw, None
                continue
            if len(data) >= READ_LIMIT:
                self._error(f"{name}: {raw}: read up to {READ_LIMIT >> 20} MiB.")
            yield raw, data

    def _all_lines(self, name: str, paths: list[str]) -> tuple[list[bytes], int]:
        """Return the lines of ``paths`` (or of the input) and 1 if a file could not be read."""
        lines: list[bytes] = []
        status = 0
        for _, data in self._sources(name, paths):
            if data is None:
                status = 1
            else:
                lines.extend(_split_lines(data))
        return lines, status

    def _write_lines(self, lines: Iterable[bytes]) -> None:
        self._write_bytes(b"".join(line + b"\n" for line in lines))

    def cmd_cat(self, args: list[str]) -> int:
        p = self._parser("cat")
        p.add_argument("paths", nargs="*")
        status = 0
        for _, data in self._sources("cat", p.parse_args(args).paths):
            if data is None:
                status = 1
            else:
                self._write_bytes(data)
        return status

    def _lines_arg(self, name: str, args: list[str]) -> argparse.Namespace:
        # "head -5" is "head -n 5", as busybox and GNU take it.
        args = [f"-n{a[1:]}" if a[:1] == "-" and a[1:].isdigit() else a for a in args]
        p = self._parser(name)
        p.add_argument("-n", type=int, default=10, metavar="N", help="how many lines (10)")
        p.add_argument("path", nargs="?")
        ns = p.parse_args(args)
        if ns.n < 0:
            raise ConsoleError(f"{name}: -n takes a number of lines, 0 or more.")
        return ns

    def cmd_head(self, args: list[str]) -> int:
        ns = self._lines_arg("head", args)
        data = self._read(self.resolve(ns.path)) if ns.path else self._input("head")
        self._write_lines(_split_lines(data)[: ns.n])
        return 0

    def cmd_tail(self, args: list[str]) -> int:
        ns = self._lines_arg("tail", args)
        data = self._tail_window(self.resolve(ns.path)) if ns.path else self._input("tail")
        lines = _split_lines(data)
        self._write_lines(lines[-ns.n :] if ns.n else [])
        return 0

    def _tail_window(self, path: str) -> bytes:
        """Return the last ``TAIL_WINDOW`` bytes of a regular file."""
        fd = rootfs.open_in_root(self.root, path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            st = os.fstat(fd)
            if not stat_mod.S_ISREG(st.st_mode):
                raise ConsoleError(f"tail: {path}: is not a regular file.")
            os.lseek(fd, max(0, st.st_size - TAIL_WINDOW), os.SEEK_SET)
            data = b""
            while chunk := os.read(fd, 1 << 16):
                data += chunk
                if len(data) > TAIL_WINDOW:
                    data = data[-TAIL_WINDOW:]
            return data
        finally:
            os.close(fd)

    def cmd_sort(self, args: list[str]) -> int:
        p = self._parser("sort")
        p.add_argument("-r", dest="reverse", action="store_true", help="reverse the order")
        p.add_argument("-n", dest="numeric", action="store_true", help="by leading number")
        p.add_argument("-u", dest="unique", action="store_true", help="equal keys once")
        p.add_argument("-f", dest="fold", action="store_true", help="ignore case")
        p.add_argument("-k", dest="field", type=int, metavar="N", help="from the Nth field on")
        p.add_argument("-t", dest="sep", metavar="SEP", help="fields end at SEP (default: blanks)")
        p.add_argument("paths", nargs="*")
        ns = p.parse_args(args)
        if ns.field is not None and ns.field < 1:
            raise ConsoleError("sort: -k takes a field number, 1 or more.")
        if ns.sep is not None and len(ns.sep) != 1:
            raise ConsoleError("sort: -t takes one character, for example -t:.")
        sep = ns.sep.encode() if ns.sep else None
        lines, status = self._all_lines("sort", ns.paths)

        def key(line: bytes) -> Any:
            k = line
            if ns.field is not None:
                fields = line.split(sep, ns.field - 1)
                k = fields[ns.field - 1] if len(fields) >= ns.field else b""
            if ns.fold:
                k = k.lower()
            return _leading_number(k) if ns.numeric else k

        # As GNU sort: lines with equal keys are ordered by the whole line (bytes, as LC_ALL=C),
        # and -u keeps the first line of each key.
        ordered = sorted(lines, key=lambda line: (key(line), line), reverse=ns.reverse)
        if ns.unique:
            kept: list[bytes] = []
            for line in ordered:
                if not kept or key(kept[-1]) != key(line):
                    kept.append(line)
            ordered = kept
        self._write_lines(ordered)
        return status

    def cmd_uniq(self, args: list[str]) -> int:
        p = self._parser("uniq")
        p.add_argument("-c", dest="count", action="store_true", help="prefix each with a count")
        only = p.add_mutually_exclusive_group()
        only.add_argument("-d", dest="repeated", action="store_true", help="repeated lines only")
        only.add_argument("-u", dest="single", action="store_true", help="unrepeated lines only")
        p.add_argument("path", nargs="?")
        ns = p.parse_args(args)
        lines, status = self._all_lines("uniq", [ns.path] if ns.path else [])
        shown = []
        for line, run in itertools.groupby(lines):
            n = sum(1 for _ in run)
            if (ns.repeated and n < 2) or (ns.single and n > 1):
                continue
            shown.append(b"%7d %s" % (n, line) if ns.count else line)
        self._write_lines(shown)
        return status

    def cmd_wc(self, args: list[str]) -> int:
        p = self._parser("wc")
        p.add_argument("-l", dest="lines", action="store_true", help="newlines")
        p.add_argument("-w", dest="words", action="store_true", help="words")
        p.add_argument("-c", dest="bytes", action="store_true", help="bytes")
        p.add_argument("paths", nargs="*")
        ns = p.parse_args(args)
        chosen = [ns.lines, ns.words, ns.bytes]
        if not any(chosen):
            chosen = [True, True, True]
        rows: list[tuple[list[int], str]] = []
        status = 0
        for raw, data in self._sources("wc", ns.paths):
            if data is None:
                status = 1
                continue
            counts = [data.count(b"\n"), len(data.split()), len(data)]
            rows.append(([n for n, on in zip(counts, chosen, strict=True) if on], raw))
        if len(rows) > 1:
            rows.append(
                ([sum(column) for column in zip(*(r[0] for r in rows), strict=True)], "total")
            )
        # GNU wc's widths: one count alone unpadded, the input's counts 7 wide, files' counts
        # as wide as the largest.
        if sum(chosen) == 1 and len(rows) == 1:
            width = 1
        elif not ns.paths:
            width = 7
        else:
            width = max((len(str(n)) for counts, _ in rows for n in counts), default=1)
        for counts, raw in rows:
            text = " ".join(f"{n:>{width}}" for n in counts)
            self.out.write(text + (f" {printable(raw)}" if raw else "") + "\n")
        return status

    def cmd_stat(self, args: list[str]) -> int:
        p = self._parser("stat")
        p.add_argument("paths", nargs="+")
        status = 0
        owners = self._owners()
        for raw in p.parse_args(args).paths:
            path = self.resolve(raw)
            try:
                st = rootfs.lstat(self.root, path)
                link = rootfs.readlink(self.root, path) if stat_mod.S_ISLNK(st.st_mode) else ""
            except rootfs.RootfsError as exc:
                self._error(f"stat: {exc.message}")
                status = 1
                continue
            kind = _kind(st.st_mode)
            uid, user = owners.user(st.st_uid)
            gid, group = owners.group(st.st_gid)
            self.out.write(
                f"  File: {printable(path)}{' -> ' + printable(link) if link else ''}\n"
                f"  Type: {kind}   Size: {st.st_size}   Links: {st.st_nlink}   Inode: {st.st_ino}\n"
                f"  Mode: {stat_mod.filemode(st.st_mode)} ({stat_mod.S_IMODE(st.st_mode):04o})   "
                f"Uid: {uid} ({printable(user or '?')})   "
                f"Gid: {gid} ({printable(group or '?')})\n"
                f"Modify: {utc_text(st.st_mtime)}\n"
                f"Change: {utc_text(st.st_ctime)}\n"
            )
        return status

    def cmd_find(self, args: list[str]) -> int:
        # find's own single-dash long options, as people type them.
        args = [
            {"-name": "--name", "-type": "--type", "-maxdepth": "--maxdepth"}.get(a, a)
            for a in args
        ]
        p = self._parser("find")
        p.add_argument("path", nargs="?")
        p.add_argument("--name", metavar="GLOB")
        p.add_argument("--type", choices=["f", "d", "l"])
        p.add_argument("--maxdepth", type=int, default=32)
        ns = p.parse_args(args)
        if not 0 <= ns.maxdepth <= 256:
            raise ConsoleError("find: -maxdepth takes a depth from 0 to 256.")
        count = 0
        for path, st in rootfs.walk(
            self.root, self.resolve(ns.path), max_depth=ns.maxdepth, xdev=False
        ):
            if ns.type and _kind_letter(st.st_mode) != ns.type:
                continue
            if ns.name and not fnmatch.fnmatchcase(posixpath.basename(path), ns.name):
                continue
            self.out.write(printable(path) + "\n")
            count += 1
        return 0

    def cmd_grep(self, args: list[str]) -> int:
        p = self._parser("grep")
        p.add_argument("-i", dest="ignore_case", action="store_true")
        p.add_argument("-v", dest="invert", action="store_true", help="lines that do not match")
        p.add_argument("-r", dest="recursive", action="store_true")
        p.add_argument("-n", dest="numbers", action="store_true")
        p.add_argument("-l", dest="names_only", action="store_true")
        p.add_argument("pattern")
        p.add_argument("paths", nargs="*")
        ns = p.parse_args(args)
        try:
            regex = re.compile(ns.pattern.encode(), re.IGNORECASE if ns.ignore_case else 0)
        except re.error as exc:
            raise ConsoleError(f"grep: bad pattern: {exc}.") from None
        if not ns.paths and not ns.recursive:
            if self.stdin is None:
                raise ConsoleError(
                    "grep: name a file, pipe a command into it ('ps | grep sh'), "
                    "or use -r for the current directory."
                )
            return 0 if self._grep_text("(standard input)", self._input("grep"), regex, ns) else 1
        files = list(self._grep_files(ns.paths or [self.cwd], ns.recursive))
        many = len(files) > 1 or ns.recursive
        found = False
        for path in files:
            try:
                data = self._read(path)
            except rootfs.RootfsError as exc:
                if not ns.recursive:
                    self._error(f"grep: {exc.message}")
                continue
            found |= self._grep_text(path, data, regex, ns, many)
        return 0 if found else 1

    def _grep_text(
        self, path: str, data: bytes, regex: re.Pattern[bytes], ns: Any, many: bool = False
    ) -> bool:
        """Write the lines of ``data`` that match (or, with -v, do not); return whether any did."""
        if b"\0" in data[:8192]:
            return False  # binary
        found = False
        for number, line in enumerate(_split_lines(data), 1):
            if bool(regex.search(line)) == ns.invert:
                continue
            found = True
            if ns.names_only:
                self.out.write(printable(path) + "\n")
                break
            prefix = (f"{printable(path)}:" if many else "") + (f"{number}:" if ns.numbers else "")
            self.out.write(prefix + line.decode("utf-8", "surrogateescape") + "\n")
        return found

    def _grep_files(self, paths: list[str], recursive: bool) -> Iterator[str]:
        for raw in paths:
            path = self.resolve(raw)
            st = rootfs.stat(self.root, path)
            if stat_mod.S_ISDIR(st.st_mode):
                if not recursive:
                    self._error(f"grep: {path}: is a directory (use -r).")
                    continue
                for child, cst in rootfs.walk(self.root, path, xdev=True):
                    if stat_mod.S_ISREG(cst.st_mode):
                        yield child
            else:
                yield path

    # --- actions through the one exec path, the tracer and the bundle writer -------------------
    def _target_ref(self) -> str:
        c = self.target.container
        return c.id if c.runtime != "none" else f"pid:{self.target.pid}"

    def _run_debugtool(self, argv: list[str]) -> int:
        if self.gone:
            raise ConsoleError("the container has exited.")
        if self.reason and argv[0] in ("exec", "trace"):
            # Before the words typed after it, so a --reason typed in the console wins.
            argv = [argv[0], "--reason", self.reason, *argv[1:]]
        cmd = [sys.executable, "-m", "debugtool", *argv]
        here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        if here.endswith(".pyz"):  # run from the zipapp a node caches (debugtool -H)
            cmd = [sys.executable, "-I", here, *argv]
        try:
            return subprocess.call(cmd)
        except KeyboardInterrupt:
            return 130

    def cmd_trace(self, args: list[str]) -> int:
        if not args or args[0] in ("-h", "--help"):
            self.out.write(f"usage: {self.commands['trace'].usage}\n")
            return 0 if args else 2
        pid, rest = args[0], args[1:]
        if not pid.isdigit():
            raise ConsoleError(f"trace: '{pid}' is not a process id; see 'ps'.")
        return self._run_debugtool(["trace", self._target_ref(), "--pid", pid, *rest])

    def cmd_exec(self, args: list[str]) -> int:
        if not args:
            raise ConsoleError("exec: name a command, for example 'exec ls /'.")
        tty = ["-i", "-t"] if sys.stdin.isatty() else []
        return self._run_debugtool(["exec", *tty, self._target_ref(), "--", *args])

    def cmd_bundle(self, args: list[str]) -> int:
        return self._run_debugtool(["bundle", self._target_ref(), *args])

    # --- help and exit -------------------------------------------------------------------------
    def cmd_help(self, args: list[str]) -> int:
        if args:
            cmd = self.commands.get(args[0])
            if cmd is None:
                raise ConsoleError(f"help: no command '{args[0]}'.")
            self.out.write(f"{cmd.usage}\n  {cmd.summary}\n")
            return 0
        width = max(len(c.usage) for c in self.commands.values())
        for cmd in self.commands.values():
            if cmd.name == "quit":
                continue
            self.out.write(f"  {cmd.usage:<{width}}  {cmd.summary}\n")
        self.out.write(
            "\nPaths are inside the container; nothing runs inside it except 'exec' (audited).\n"
            "Separate commands with ';'; '|' pipes one command's output into the next "
            "(cat /etc/passwd | grep root).\n"
            "Nothing is written to the host or the container: there is no '>'.\n"
            "Tab completes commands, paths, PIDs and syscalls; Ctrl-R searches history.\n"
        )
        return 0

    def cmd_clear(self, args: list[str]) -> int:
        self._parser("clear").parse_args(args)
        # The one control sequence the console writes, and only to a terminal: it goes around
        # the printable stream, which would show it as text.
        terminal = getattr(self.out, "stream", None)
        if terminal is not None and terminal.isatty():
            terminal.write(CLEAR_SCREEN)
            terminal.flush()
        return 0

    def cmd_exit(self, args: list[str]) -> int:
        self.done = True
        return 0

    # --- completion ----------------------------------------------------------------------------
    def complete_path(self, partial: str, dirs_only: bool = False) -> list[str]:
        """Return completions of ``partial`` from the container's files (never the host's)."""
        head, _, prefix = partial.rpartition("/")
        directory = self.resolve(head + "/" if head or partial.startswith("/") else "")
        try:
            entries = rootfs.listdir(self.root, directory)
        except DebugtoolError:
            return []
        base = head + "/" if head or partial.startswith("/") else ""
        results = []
        for name, st in entries:
            if not name.startswith(prefix) or (name.startswith(".") and not prefix.startswith(".")):
                continue
            is_dir = st is not None and stat_mod.S_ISDIR(st.st_mode)
            if st is not None and stat_mod.S_ISLNK(st.st_mode):
                try:
                    is_dir = stat_mod.S_ISDIR(
                        rootfs.stat(self.root, directory + "/" + name).st_mode
                    )
                except DebugtoolError:
                    is_dir = False
            if dirs_only and not is_dir:
                continue
            results.append(base + name + ("/" if is_dir else ""))
        return results

    def complete_pids(self, partial: str) -> list[str]:
        if self.stopped:
            return []
        try:
            procs = self.snapshot().processes
        except DebugtoolError:
            return []
        return sorted(
            (str(p.nspid) for p in procs if p.nspid and str(p.nspid).startswith(partial)),
            key=int,
        )

    @staticmethod
    def complete_syscalls(partial: str) -> list[str]:
        names = sorted(set(syscall_names().values()))  # the tracer's table, for trace -e
        head, _, last = partial.rpartition(",")
        base = head + "," if head else ""
        return [base + n for n in names if n.startswith(last)]

    def completions(self, text: str) -> tuple[int, list[str]]:
        """Return ``(length of the word being completed, candidates)`` for the line ``text``."""
        line = re.split(r"[;|]", text)[-1].lstrip()
        words = line.split()
        current = "" if not line or line[-1].isspace() else words[-1]
        if len(words) == 0 or (len(words) == 1 and current):
            return len(current), sorted(n for n in self.commands if n.startswith(current))
        cmd = self.commands.get(words[0])
        if cmd is None or current.startswith("-") and cmd.completes != "syscall-or-pid":
            return len(current), []
        previous = words[-2] if current else words[-1]
        if cmd.completes == "path":
            return len(current), self.complete_path(current, dirs_only=cmd.name == "cd")
        if cmd.completes == "pid":
            return len(current), self.complete_pids(current)
        if cmd.completes == "syscall-or-pid":
            if previous == "-e":
                return len(current), self.complete_syscalls(current)
            if len(words) <= 2 and not current.startswith("-"):
                return len(current), self.complete_pids(current)
            options = ["-e", "--count", "--duration", "--summary", "-f", "--json"]
            return len(current), [o for o in options if o.startswith(current)]
        return len(current), []


class Owners:
    """File owners as the container sees them: host ids mapped through its user namespace
    (``uid_map``, ``gid_map``), named from its own ``/etc/passwd`` and ``/etc/group``."""

    #: What an id outside the container's user namespace shows as inside it: the kernel's
    #: overflowuid and overflowgid (``/proc/sys/kernel/overflow{u,g}id``, 65534 by default).
    OVERFLOW = 65534

    def __init__(
        self,
        users: dict[int, str],
        groups: dict[int, str],
        uid_map: list[tuple[int, int, int]],
        gid_map: list[tuple[int, int, int]],
    ) -> None:
        self.users, self.groups = users, groups
        self.uid_map, self.gid_map = uid_map, gid_map

    def user(self, host_uid: int) -> tuple[int, str | None]:
        """Return ``(uid inside the container, its name or None)`` for a file's owner."""
        uid = self._inside(host_uid, self.uid_map)
        return uid, self.users.get(uid)

    def group(self, host_gid: int) -> tuple[int, str | None]:
        """Return ``(gid inside the container, its name or None)`` for a file's group."""
        gid = self._inside(host_gid, self.gid_map)
        return gid, self.groups.get(gid)

    def _inside(self, host_id: int, id_map: list[tuple[int, int, int]]) -> int:
        from debugtool import procfs

        if id_map == procfs.IDENTITY_MAP:
            return host_id
        inside = procfs.map_id(host_id, id_map)
        return self.OVERFLOW if inside is None else inside


def _split_lines(data: bytes) -> list[bytes]:
    """Split at ``\n`` only, as the shell's tools do (a ``\r`` stays in its line)."""
    lines = data.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    return lines


_NUMBER = re.compile(rb"\s*(-?(?:\d+(?:\.\d*)?|\.\d+))")


def _leading_number(text: bytes) -> float:
    """The number ``sort -n`` compares: the one a line starts with, 0 when there is none."""
    match = _NUMBER.match(text)
    return float(match.group(1)) if match else 0.0


def _kind(mode: int) -> str:
    for test, name in (
        (stat_mod.S_ISREG, "regular file"),
        (stat_mod.S_ISDIR, "directory"),
        (stat_mod.S_ISLNK, "symbolic link"),
        (stat_mod.S_ISCHR, "character device"),
        (stat_mod.S_ISBLK, "block device"),
        (stat_mod.S_ISFIFO, "fifo"),
        (stat_mod.S_ISSOCK, "socket"),
    ):
        if test(mode):
            return name
    return "unknown"


def _kind_letter(mode: int) -> str:
    if stat_mod.S_ISDIR(mode):
        return "d"
    if stat_mod.S_ISLNK(mode):
        return "l"
    return "f" if stat_mod.S_ISREG(mode) else "?"


# --- the interactive prompt (prompt-toolkit, imported only here) -------------------------------
def history_path() -> str:
    """Return the per-user history file (``$XDG_STATE_HOME/debugtool/console_history``)."""
    state = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return os.path.join(state, "debugtool", "console_history")


def interact(console: Console, recorder: Recorder | None = None) -> int:
    """Run the prompt until ``exit`` or Ctrl-D; return 0.

    ``recorder`` (the session's recording) gets the banner, each prompt with the line typed
    at it, and what the commands print (not prompt-toolkit's drawing: menus, the toolbar).
    """
    try:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.completion import Completer, Completion
        from prompt_toolkit.history import FileHistory, InMemoryHistory
    except ImportError:  # a node reached with -H runs debugtool's core, without prompt-toolkit
        raise DebugtoolError(
            f"the console's prompt needs prompt-toolkit, which {sys.executable} lacks.",
            "Install it (python3-prompt-toolkit), or run commands without a prompt: "
            "console TARGET -c 'ps; cat /etc/os-release'.",
        ) from None

    class ConsoleCompleter(Completer):
        def get_completions(
            self, document: Document, complete_event: CompleteEvent
        ) -> Iterator[Completion]:
            length, candidates = console.completions(document.text_before_cursor)
            for candidate in candidates:
                yield Completion(candidate, start_position=-length)

    path = history_path()
    history: Any
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        history = FileHistory(path)
    except OSError:
        history = InMemoryHistory()

    c = console.target.container

    def toolbar() -> str:
        status = "exited" if console.gone else c.status
        pid = "none (files from storage)" if console.stopped else console.target.pid
        return printable(f" {c.runtime}  {c.short_id}  status: {status}  pid: {pid} ")

    session: PromptSession[str] = PromptSession(
        history=history,
        completer=ConsoleCompleter(),
        complete_while_typing=False,
        bottom_toolbar=toolbar,
        enable_history_search=False,
    )
    console.out.write(
        f"debugtool console on {printable(c.name)} ({c.runtime} {printable(c.short_id)}). "
        "Nothing runs inside the container. Type 'help' for commands.\n"
    )
    if console.stopped:
        console.out.write(printable(cast("StoppedRoot", console.target).describe()) + "\n")
    while not console.done:
        prompt = f"{printable(c.name)}:{printable(console.cwd)}> "
        try:
            line = session.prompt(prompt)
        except KeyboardInterrupt:
            continue
        except EOFError:
            break
        if recorder is not None:
            recorder.text(f"{prompt}{printable(line)}\n")
        if line.strip():
            console.run_line(line)
        if recorder is not None:
            recorder.flush()  # the prompt waits: what the command printed goes to the file
    return 0


class _Recorded(io.TextIOBase):
    """A text stream that writes to the terminal's and copies what it writes to a recording."""

    def __init__(self, stream: TextIO, recorder: Recorder) -> None:
        super().__init__()
        self.stream = stream
        self.recorder = recorder

    def write(self, text: str) -> int:
        self.stream.write(text)
        self.recorder.text(text)
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()


def run(
    target: Target | StoppedRoot,
    commands: str | None = None,
    show_secrets: bool = False,
    reason: str = "",
    recorder: Recorder | None = None,
) -> int:
    """Run a console on ``target``: the ``commands`` line without a prompt, or interactively.
    ``reason`` (the session's --reason) goes with every exec and trace it runs; ``recorder``
    (interactive only) records what the console shows.

    On a stopped container, a script's (or piped input's) first line on standard error says
    that its files come from storage and that it has no processes.
    """
    if recorder is not None and commands is None:
        console = Console(
            target,
            out=cast("TextIO", _Recorded(sys.stdout, recorder)),
            err=cast("TextIO", _Recorded(sys.stderr, recorder)),
            show_secrets=show_secrets,
            reason=reason,
        )
        return interact(console, recorder)
    console = Console(target, show_secrets=show_secrets, reason=reason)
    if console.stopped and (commands is not None or not sys.stdin.isatty()):
        console._error(cast("StoppedRoot", target).describe())
    if commands is not None:
        return console.run_line(commands)
    if not sys.stdin.isatty():
        status = 0
        for line in sys.stdin:
            if line.strip():
                status = console.run_line(line)
            if console.done:
                break
        return status
    return interact(console)


__all__ = ["Console", "ConsoleError", "Owners", "Pipeline", "UsageError", "parse_line", "run"]
