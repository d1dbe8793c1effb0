"""Docker exec over the Engine API: create, hijack the start connection, stream, resize, exit code.

``POST /containers/{id}/exec`` creates the exec; ``POST /exec/{id}/start`` with ``Connection:
Upgrade`` / ``Upgrade: tcp`` turns the HTTP connection into a raw bidirectional stream (without a
tty the output is multiplexed: an 8-byte header ``[stream, 0, 0, 0, size32be]`` per frame);
``POST /exec/{id}/resize`` follows the terminal; ``GET /exec/{id}/json`` gives the exit code.

Plain requests go through ``dockerapi.DockerAPI`` (HTTP/1.0 over the socket, no ``http.client``);
only the hijacked start is spoken here.
"""

from __future__ import annotations

import _socket
import os
import select
import struct
import time

from debugtool import jsonc
from debugtool.errors import (
    ContainerNotFound,
    ContainerNotRunning,
    RuntimeUnavailable,
)
from debugtool.runtimes.base import ExecRequest, Stdio
from debugtool.runtimes.dockerapi import API_VERSION, DockerAPI, decode, socket_path
from debugtool.runtimes.dockerapi import message as _message
from debugtool.terminal import get_winsize, on_resize, raw_mode, write_all

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from debugtool.recording import Recorder

#: A read of the stream smaller than this that comes within _BURST_GAP of the one before is
#: part of a burst: the relay then pauses _BURST_PAUSE so the stream gathers in the socket.
#: dockerd hands the stream over a few hundred bytes a write, so a relay that reads each at
#: once wakes 55,000-91,000 times for a 50 MB burst; paced, about 10,000 times, with 0.18-0.20
#: s of CPU against 0.60-0.74 (bench/README.md, "Docker's stream paced"). Only bursts wait,
#: by a millisecond: the first bytes after a pause (a key's echo) are written out at once.
_SMALL_READ = 16384
_BURST_GAP = 0.002
_BURST_PAUSE = 0.001
#: How the daemon words an exec that never started (Docker 20.10 puts it in the output stream).
_START_FAILURES = (b"OCI runtime exec failed", b"unable to find user", b"unable to find group")


class DockerExec:
    """Runs one exec through the Docker Engine API and relays it to local file descriptors."""

    def __init__(self, path: str | None = None, timeout: float = 10.0) -> None:
        self.api = DockerAPI(path or socket_path(), timeout=timeout)
        self.path = self.api.path
        self.timeout = timeout

    def _connect(self, timeout: float | None = None) -> _socket.socket:
        """Return a socket connected to the daemon; raise ``RuntimeUnavailable``."""
        return self.api.connect(timeout)

    def request(
        self, method: str, path: str, body: Any = None, timeout: float | None = None
    ) -> tuple[int, bytes]:
        """Send one HTTP/1.0 request; return ``(status, body)``. Raises ``RuntimeUnavailable``."""
        return self.api.request(method, path, body=body, timeout=timeout)

    def create(self, container_id: str, request: ExecRequest) -> str:
        """Create the exec instance; return its id.

        Raises ``ContainerNotFound`` (404), ``ContainerNotRunning`` (409) or
        ``RuntimeUnavailable``.
        """
        body = {
            "AttachStdin": request.interactive,
            "AttachStdout": True,
            "AttachStderr": True,
            "Tty": request.tty,
            "Cmd": request.argv,
            "Env": [f"{k}={v}" for k, v in request.env.items()],
            "Privileged": request.privileged,
        }
        if request.user:
            body["User"] = request.user
        if request.workdir:
            body["WorkingDir"] = request.workdir
        status, data = self.request("POST", f"/containers/{container_id}/exec", body)
        if status == 404:
            raise ContainerNotFound(
                f"Docker has no container {container_id[:12]}.",
                "List them with 'debugtool ps -a'.",
            )
        if status == 409:
            raise ContainerNotRunning(
                f"container {container_id[:12]} is not running: {_message(data)}.",
                "Start or unpause it first.",
            )
        if status >= 300:
            raise RuntimeUnavailable("docker", f"exec create answered {status}: {_message(data)}")
        ident = _object(data, "exec create").get("Id")
        if not isinstance(ident, str) or not ident:
            raise RuntimeUnavailable("docker", "answered exec create without an exec id")
        return ident

    def _start(self, exec_id: str, tty: bool) -> tuple[_socket.socket, bytes]:
        """Start the exec and return the hijacked socket plus stream bytes already read."""
        sock = self._connect()
        body = jsonc.dumps({"Detach": False, "Tty": tty}).encode()
        head = (
            f"POST /{API_VERSION}/exec/{exec_id}/start HTTP/1.1\r\n"
            "Host: docker\r\nContent-Type: application/json\r\n"
            "Connection: Upgrade\r\nUpgrade: tcp\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        try:
            sock.sendall(head + body)
            buf = b""
            while b"\r\n\r\n" not in buf:
                chunk = sock.recv(4096)
                if not chunk:
                    raise RuntimeUnavailable("docker", "closed the exec start connection")
                buf += chunk
        except OSError as exc:
            sock.close()
            raise RuntimeUnavailable("docker", f"exec start failed: {exc}") from None
        header, _, rest = buf.partition(b"\r\n\r\n")
        status_line = header.split(b"\r\n", 1)[0].decode(errors="replace")
        code = int(status_line.split()[1]) if len(status_line.split()) > 1 else 0
        if code not in (101, 200):
            sock.close()
            raise RuntimeUnavailable("docker", f"exec start answered {status_line}: {rest[:200]!r}")
        sock.settimeout(None)
        return sock, rest

    def inspect(self, exec_id: str) -> dict:
        """Return ``GET /exec/{id}/json``."""
        status, data = self.request("GET", f"/exec/{exec_id}/json")
        if status >= 300:
            raise RuntimeUnavailable("docker", f"exec inspect answered {status}: {_message(data)}")
        return _object(data, "exec inspect")

    def resize(self, exec_id: str, size: tuple[int, int] | None) -> None:
        """Tell the daemon the terminal's size (errors ignored: the exec may have ended)."""
        if size:
            query = f"h={int(size[0])}&w={int(size[1])}"
            try:
                self.request("POST", f"/exec/{exec_id}/resize?{query}", timeout=2.0)
            except RuntimeUnavailable:
                pass

    def run(
        self,
        container_id: str,
        request: ExecRequest,
        stdio: Stdio | None = None,
        on_started: object = None,
    ) -> int:
        """Run the exec to the end, relaying stdio; return its exit code (docker exec's rules).

        Raises ``CommandNotFound`` (127), ``CommandNotInvokable`` (126) when the daemon could
        not start the command (its message reworded as one sentence).
        """
        stdio = stdio or Stdio()
        stdin, stdout, stderr = stdio.stdin, stdio.stdout, stdio.stderr
        exec_id = self.create(container_id, request)
        sock, pending = self._start(exec_id, request.tty)
        if callable(on_started):
            on_started(exec_id)
        held = bytearray()  # a start failure's message, held back to be reworded
        recorder = stdio.recorder if request.tty else None
        try:
            if request.tty:
                self.resize(exec_id, get_winsize(stdin) or get_winsize(stdout))

                def resized() -> None:
                    size = get_winsize(stdin)
                    self.resize(exec_id, size)
                    if recorder is not None:
                        recorder.resize(size)

                with raw_mode(stdin), on_resize(resized):
                    self._pump(sock, pending, request, stdin, stdout, stderr, held, recorder)
            else:
                self._pump(sock, pending, request, stdin, stdout, stderr, held)
        finally:
            sock.close()
        result = self._wait(exec_id)
        code = int(result.get("ExitCode") or 0)
        if held:
            text = bytes(held).decode(errors="replace").strip()
            _raise_start_failure(text, request, code)
        return code

    def _wait(self, exec_id: str) -> dict:
        # The stream can close a moment before the daemon records the exit code.
        for _ in range(100):
            result = self.inspect(exec_id)
            if not result.get("Running"):
                return result
            time.sleep(0.01)
        return result

    def _pump(
        self,
        sock: _socket.socket,
        pending: bytes,
        request: ExecRequest,
        stdin: int,
        stdout: int,
        stderr: int,
        held: bytearray,
        recorder: Recorder | None = None,
    ) -> None:
        demux = _Demux(stdout, stderr, held) if not request.tty else None
        first = [True]

        def deliver(data: bytes) -> None:
            if demux is not None:
                demux.feed(data)
            elif first[0] and data.startswith(_START_FAILURES):
                held.extend(data)
            else:
                write_all(stdout, data)
                if recorder is not None:
                    recorder.output(data)
            first[0] = False

        if pending:
            deliver(pending)
        last_read = 0.0
        poller = select.poll()
        poller.register(sock.fileno(), select.POLLIN)
        reading_stdin = request.interactive
        if reading_stdin:
            poller.register(stdin, select.POLLIN)
        while True:
            try:
                events = poller.poll(recorder.idle_wait() if recorder is not None else None)
            except InterruptedError:
                continue
            if not events and recorder is not None:
                recorder.flush()  # quiet: what it printed last goes to the recording now
            for fd, _mask in events:
                if fd == sock.fileno():
                    try:
                        data = sock.recv(65536)
                    except ConnectionResetError:
                        data = b""
                    if not data:
                        return
                    deliver(data)
                    now = time.monotonic()
                    if len(data) < _SMALL_READ and now - last_read < _BURST_GAP:
                        time.sleep(_BURST_PAUSE)  # a burst: let it gather (see _BURST_PAUSE)
                    last_read = now
                elif fd == stdin:
                    try:
                        data = os.read(stdin, 65536)
                    except OSError:
                        data = b""
                    if not data:
                        poller.unregister(stdin)
                        try:
                            sock.shutdown(_socket.SHUT_WR)  # the command sees end of input
                        except OSError:
                            pass
                        continue
                    try:
                        sock.sendall(data)
                    except OSError:
                        poller.unregister(stdin)
                        continue
                    if recorder is not None:
                        recorder.input(data)


class _Demux:
    """Splits Docker's multiplexed stream into stdout and stderr as it arrives.

    Each frame is an 8-byte header ``[stream, 0, 0, 0, size32be]`` and its payload; payload
    bytes are written as soon as they come, so a header that announces gigabytes holds none
    of them in memory. Only the first frame's first bytes are held while they may be the
    daemon's start failure.
    """

    def __init__(self, stdout: int, stderr: int, held: bytearray) -> None:
        self.header = b""
        self.left = 0  # payload bytes of the current frame still to come
        self.target = stdout
        self.targets = {0: stdout, 1: stdout, 2: stderr}
        self.held = held
        self.first = True

    def feed(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            if self.left == 0:
                need = 8 - len(self.header)
                self.header += bytes(view[:need])
                view = view[need:]
                if len(self.header) < 8:
                    return
                self.target = self.targets.get(self.header[0], self.targets[1])
                self.left = struct.unpack(">I", self.header[4:8])[0]
                self.header = b""
                continue
            payload = bytes(view[: self.left])
            view = view[len(payload) :]
            self.left -= len(payload)
            if self.first and (self.held or payload.startswith(_START_FAILURES)):
                self.held.extend(payload)
                if len(self.held) > 4096:  # not a start failure after all: a long first frame
                    write_all(self.target, bytes(self.held))
                    self.held.clear()
                    self.first = False
            else:
                write_all(self.target, payload)
            if self.left == 0:
                self.first = False


def _object(data: bytes, what: str) -> dict:
    """Decode a JSON object answer (``dockerapi.decode``); raise ``RuntimeUnavailable``."""
    value = decode(data, what)
    if not isinstance(value, dict):
        raise RuntimeUnavailable("docker", f"answered {what} with something other than an object")
    return value


def _raise_start_failure(text: str, request: ExecRequest, code: int) -> None:
    """Reword the daemon's start failure as one sentence with docker exec's exit codes."""
    from debugtool.runtimes.client import start_failure

    raise start_failure(text, request.argv, request.user, code)
