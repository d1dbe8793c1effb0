"""ssh ControlMasters of debugtool's own, for a session that asks the same nodes again and again.

The TUI over a fleet polls every node every few seconds; a fresh ssh handshake each time would
cost each node a key exchange and an authentication per poll. So for the length of one TUI
session each node gets one master connection (``ssh -M -N -f``) whose socket lives in a
private directory (``mkdtemp``: 0700, the caller's own), and every poll runs as a session on
it (``ControlPath``, ``ControlMaster=no``: when the master has gone, ssh connects afresh).

A node whose ssh configuration already names a ``ControlPath`` (``ssh -G``) is left to it: the
user's own multiplexing applies as it does to ``ssh NODE``. Nothing here changes how host keys
are checked; the master is an ordinary ``ssh`` of the user's configuration, in ``BatchMode``.
``close`` asks each master to exit (``ssh -O exit``) and removes the directory.
"""

from __future__ import annotations

import os
import subprocess
import threading

from debugtool.fleet.transport import Connection, ssh_argv
from debugtool.record import replace

TYPE_CHECKING = False
if TYPE_CHECKING:
    from debugtool.fleet.nodes import Node

#: A master that hears nothing from its node for this long (seconds, 3 probes) closes, so a
#: node that vanished from the network is asked afresh rather than through a dead connection.
ALIVE_EVERY = 5
#: Seconds ``ssh -G``, starting a master and ``-O exit`` may take.
CONTROL_TIMEOUT = 15.0
#: A TMPDIR longer than this leaves too little of a socket path's 107 bytes: /tmp is used.
SOCKET_DIR_MAX = 80


class Masters:
    """One ControlMaster per node, started on first use; ``connection(node)`` says how to
    reach a node through it."""

    def __init__(self, connection: Connection) -> None:
        self.base = connection
        self._dir: str | None = None
        self._lock = threading.Lock()
        self._own: dict[str, bool] = {}  # node name -> whether it gets a master of ours
        self._started: set[str] = set()  # node names whose master was started
        self._starting: dict[str, threading.Lock] = {}  # one start at a time per node
        self._closed = False
        self._numbers: dict[str, int] = {}  # node name -> its socket's name

    @property
    def directory(self) -> str:
        """The private directory of the sockets (made on first use, in TMPDIR unless that is
        too deep for a socket's path: then in /tmp)."""
        with self._lock:
            if self._dir is None:
                import tempfile

                base = tempfile.gettempdir()
                if len(base) > SOCKET_DIR_MAX:
                    base = "/tmp"
                self._dir = tempfile.mkdtemp(prefix="debugtool-ssh-", dir=base)  # 0700
            return self._dir

    def _path(self, node: Node) -> str:
        """Return ``node``'s socket: a number in our directory (a socket's path holds at most
        107 bytes; ssh's ``%C`` alone is 40), '%' written as ssh_config wants it."""
        with self._lock:
            number = self._numbers.setdefault(node.name, len(self._numbers))
        return os.path.join(self.directory, str(number)).replace("%", "%%")

    def owns(self, node: Node) -> bool:
        """Whether ``node`` gets a master of ours: its ssh configuration names no ControlPath."""
        known = self._own.get(node.name)
        if known is None:
            known = self._own[node.name] = self._configured_path(node) is None
        return known

    def _configured_path(self, node: Node) -> str | None:
        """Return the ControlPath the user's ssh configuration gives ``node`` (None: none)."""
        argv = ssh_argv(node, "true", self.base)
        argv = [argv[0], "-G", *argv[1:-1]]  # ssh -G [options] -- HOST: print, connect not
        try:
            done = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=CONTROL_TIMEOUT,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        for line in done.stdout.splitlines():
            key, _, value = line.partition(" ")
            if key.lower() == "controlpath" and value.strip() not in ("", "none"):
                return value.strip()
        return None

    def connection(self, node: Node) -> Connection:
        """Return how to reach ``node``: through our master when it has one (started here if
        it is not running), else as the user's configuration says."""
        if not self.owns(node):
            return self.base
        options = (*self.base.options, f"ControlPath={self._path(node)}", "ControlMaster=no")
        through = replace(self.base, options=options)
        with self._starting_lock(node):  # a list poll and a detail may ask at once
            if self._closed:
                return self.base  # closing: start no master that nobody would end
            if not self._running(node, through):
                self._start(node)
        return through

    def _starting_lock(self, node: Node) -> threading.Lock:
        with self._lock:
            return self._starting.setdefault(node.name, threading.Lock())

    def _control(self, node: Node, through: Connection, verb: str) -> int:
        argv = ssh_argv(node, "", through)
        argv = [argv[0], "-O", verb, *argv[1:-1]]
        try:
            return subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=CONTROL_TIMEOUT,
            ).returncode
        except (OSError, subprocess.TimeoutExpired):
            return -1

    def _running(self, node: Node, through: Connection) -> bool:
        return node.name in self._started and self._control(node, through, "check") == 0

    def _start(self, node: Node) -> None:
        """Start ``node``'s master in the background; when it cannot connect, the poll that
        follows connects on its own and says why."""
        options = (
            *self.base.options,
            f"ControlPath={self._path(node)}",
            "ControlMaster=yes",
            f"ServerAliveInterval={ALIVE_EVERY}",
            "ServerAliveCountMax=3",
        )
        argv = ssh_argv(node, "", replace(self.base, options=options), connect_timeout=10.0)
        argv = [argv[0], "-N", "-f", *argv[1:-1]]
        try:
            # -f: ssh goes to the background once authenticated, holding no descriptor of ours
            # (a master that kept our stderr would keep a reader of it waiting for ever).
            subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=CONTROL_TIMEOUT,
                start_new_session=True,
            )
        except (OSError, subprocess.TimeoutExpired):
            return
        self._started.add(node.name)

    def close(self, nodes: list[Node]) -> None:
        """Ask every master of ours to exit (the sessions on it end with it), and remove the
        sockets' directory. No master is started afterwards."""
        import shutil

        self._closed = True
        if self._dir is not None:
            for node in nodes:
                with self._starting_lock(node):  # a start under way ends first
                    if node.name in self._started:
                        options = (*self.base.options, f"ControlPath={self._path(node)}")
                        self._control(node, replace(self.base, options=options), "exit")
                        self._started.discard(node.name)
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
