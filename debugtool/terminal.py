"""Terminal handling for interactive exec: raw mode that is always restored, window sizes, relays.

Named ``terminal`` rather than ``pty`` so that nothing inside the package shadows the standard
library's ``pty`` module.

The terminal's own modules (``termios``, ``fcntl``, ``struct``) are imported by the functions
that need a terminal: an exec without one relays pipes only and never loads them (about 0.7 ms,
``termios`` a shared library).
"""

from __future__ import annotations

import _signal as signal  # signal's functions, without its enums (enum: ~4 ms to import)
import errno
import os
import select

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import FrameType
    from typing import Any

    from debugtool.recording import Recorder

#: Signals after which raw mode must still be restored (the handler turns them into SystemExit).
_RESTORE_ON = (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


def is_terminal(fd: int) -> bool:
    """Return whether ``fd`` is open on a terminal."""
    try:
        return os.isatty(fd)
    except OSError:
        return False


def get_winsize(fd: int) -> tuple[int, int] | None:
    """Return ``(rows, columns)`` of the terminal at ``fd``, or None when it is not a terminal."""
    import fcntl
    import struct
    import termios

    try:
        packed = fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8)
    except OSError:
        return None
    rows, cols, _, _ = struct.unpack("HHHH", packed)
    return (rows, cols) if rows and cols else None


def set_winsize(fd: int, size: tuple[int, int]) -> None:
    """Set the window size of the terminal (or pty master) at ``fd``; errors are ignored."""
    import fcntl
    import struct
    import termios

    try:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))
    except OSError:
        pass


class raw_mode:  # noqa: N801 - a context manager, used as a function: with raw_mode(fd)
    """Put the terminal at ``fd`` in raw mode for the block and restore it on every exit path.

    SIGTERM, SIGHUP and SIGQUIT raise ``SystemExit`` inside the block so that the restore runs;
    the previous handlers come back afterwards. A non-terminal ``fd`` is left alone. (A class,
    not ``contextlib.contextmanager``, which costs ``collections`` and ``functools`` to import.)
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.saved: list[Any] | None = None
        self.previous: dict[int, object] = {}

    def __enter__(self) -> None:
        if not is_terminal(self.fd):
            return
        import termios
        import tty

        self.saved = termios.tcgetattr(self.fd)

        def leave(signum: int, frame: FrameType | None) -> None:
            raise SystemExit(128 + signum)

        for sig in _RESTORE_ON:
            try:
                self.previous[sig] = signal.signal(sig, leave)
            except ValueError:  # not the main thread: __exit__ still restores the mode
                break
        try:
            tty.setraw(self.fd, termios.TCSANOW)
        except BaseException:
            self.__exit__()
            raise

    def __exit__(self, *_exc: object) -> None:
        if self.saved is not None:
            import termios  # imported by __enter__, which set saved

            try:
                termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)
            except (OSError, termios.error):
                pass
            self.saved = None
        for restored, handler in self.previous.items():
            signal.signal(restored, handler)  # type: ignore[arg-type]
        self.previous = {}


class on_resize:  # noqa: N801 - a context manager, used as a function: with on_resize(cb)
    """Call ``callback`` on SIGWINCH for the duration of the block (main thread only)."""

    def __init__(self, callback: Callable[[], None]) -> None:
        self.callback = callback
        self.previous: Any = None
        self.installed = False

    def __enter__(self) -> None:
        try:
            self.previous = signal.signal(signal.SIGWINCH, lambda s, f: self.callback())
            self.installed = True
        except ValueError:  # not the main thread: no resize tracking, still works
            pass

    def __exit__(self, *_exc: object) -> None:
        if self.installed:
            signal.signal(signal.SIGWINCH, self.previous)
            self.installed = False


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd`` (blocking until done); EPIPE/EIO end quietly."""
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except InterruptedError:
            continue
        except BlockingIOError:
            select.select([], [fd], [])
            continue
        except OSError as exc:
            if exc.errno in (errno.EPIPE, errno.EIO, errno.EBADF):
                return
            raise
        view = view[n:]


def relay_pty(
    master: int,
    stdin: int | None,
    stdout: int,
    done_fd: int | None = None,
    recorder: Recorder | None = None,
) -> None:
    """Copy ``stdin`` to the pty ``master`` and the master's output to ``stdout``.

    Returns when the pty has no writer left (EIO on read) or, after ``done_fd`` (a pidfd of the
    process that owns the session) becomes readable, once the master has nothing more to read.
    ``recorder`` (the session's recording) gets what was written to ``stdout`` and read from
    ``stdin``. ``master`` is made non-blocking.
    """
    poller = select.poll()
    poller.register(master, select.POLLIN)
    if stdin is not None:
        poller.register(stdin, select.POLLIN)
    if done_fd is not None:
        poller.register(done_fd, select.POLLIN)
    os.set_blocking(master, False)
    finished = False
    while True:
        wait = recorder.idle_wait() if recorder is not None else None
        try:
            events = poller.poll(50 if finished else wait)
        except InterruptedError:
            continue
        if not events:
            if recorder is not None:
                recorder.flush()  # quiet: what it printed last goes to the recording now
            if finished:
                return
            continue
        for fd, _mask in events:
            if fd == master:
                data, ended = _read_batch(master)
                if data:
                    write_all(stdout, data)
                    if recorder is not None:
                        recorder.output(data)
                if ended:
                    return
            elif fd == stdin:
                try:
                    data = os.read(stdin, 65536)
                except OSError:
                    data = b""
                if not data:
                    poller.unregister(stdin)
                    stdin = None
                    continue
                write_all(master, data)
                if recorder is not None:
                    recorder.input(data)
            elif fd == done_fd:
                poller.unregister(done_fd)
                finished = True


#: The most one batch of pty output holds before it is written out (and recorded): no more
#: than one recording frame holds (``recording.FRAME_LIMIT``), so a batch is never cut in two.
_BATCH = 64 << 10


def _read_batch(master: int) -> tuple[bytes, bool]:
    """Read the non-blocking pty ``master`` until it has nothing more (or ``_BATCH`` bytes);
    return what came and whether the session ended (EIO: every slave closed; or EOF).

    A pty hands over at most 4 KiB a read (n_tty's buffer), and a ``cat`` refills it while
    the last read is written out: reading on until EAGAIN takes 4-7 reads per wake-up, so
    the poll, the write to the terminal and the recording's frame happen once per batch
    rather than once per 4 KiB (bench/README.md, "Session recordings").
    """
    chunks: list[bytes] = []
    size = 0
    while size < _BATCH:
        try:
            data = os.read(master, _BATCH - size)
        except BlockingIOError:
            break
        except InterruptedError:
            continue
        except OSError as exc:
            if exc.errno == errno.EIO:  # every slave closed: the session ended
                return b"".join(chunks), True
            raise
        if not data:
            return b"".join(chunks), True
        chunks.append(data)
        size += len(data)
    return (chunks[0] if len(chunks) == 1 else b"".join(chunks)), False


class Relay:
    """Copies a command's output pipes to debugtool's descriptors and debugtool's input to it.

    The command's side is pipes that debugtool made (never the operator's terminal): each of
    ``outputs`` maps a pipe's read end to a callable that takes what arrived. ``stdin`` (the
    operator's) is copied to ``to_stdin`` (the command's pipe) without ever blocking the
    outputs; at its end the pipe is closed so the command sees EOF. ``run`` returns when every
    output pipe is closed or, after ``done_fd`` (a pidfd) is readable, once the pipes stay quiet
    for ``linger`` seconds (at most ``linger_max``): a process of the container that keeps a
    pipe open cannot hold debugtool.
    """

    def __init__(
        self,
        outputs: dict[int, Callable[[bytes], None]],
        stdin: int | None = None,
        to_stdin: int | None = None,
        done_fd: int | None = None,
        linger: float = 0.05,
        linger_max: float = 1.0,
    ) -> None:
        self.outputs = dict(outputs)
        self.stdin = stdin
        self.to_stdin = to_stdin
        self.done_fd = done_fd
        self.linger = linger
        self.linger_max = linger_max
        #: Called with no argument when the poll has been idle for ``tick`` seconds.
        self.on_tick: Callable[[], None] | None = None
        self.tick: float | None = None
        #: Called with what was read from ``stdin`` (a session's recording of the input).
        self.on_input: Callable[[bytes], None] | None = None

    def run(self) -> None:
        import time

        poller = select.poll()
        for fd in self.outputs:
            poller.register(fd, select.POLLIN)
        pending = b""
        if self.to_stdin is not None:
            os.set_blocking(self.to_stdin, False)
            if self.stdin is None:
                os.close(self.to_stdin)
                self.to_stdin = None
            else:
                poller.register(self.stdin, select.POLLIN)
        if self.done_fd is not None:
            poller.register(self.done_fd, select.POLLIN)
        done_at: float | None = None
        while self.outputs:
            timeout = self.tick
            if done_at is not None:
                timeout = self.linger if timeout is None else min(timeout, self.linger)
            try:
                events = poller.poll(None if timeout is None else int(timeout * 1000))
            except InterruptedError:
                continue
            if not events:
                if self.on_tick is not None:
                    self.on_tick()
                if done_at is not None:
                    break
                continue
            if done_at is not None and time.monotonic() - done_at > self.linger_max:
                break
            for fd, mask in events:
                if fd in self.outputs:
                    try:
                        data = os.read(fd, 65536)
                    except BlockingIOError:
                        continue
                    except OSError:
                        data = b""
                    if data:
                        self.outputs[fd](data)
                    else:
                        poller.unregister(fd)
                        del self.outputs[fd]
                elif fd == self.done_fd:
                    poller.unregister(fd)
                    done_at = time.monotonic()
                elif fd == self.stdin:
                    try:
                        data = os.read(fd, 65536)
                    except OSError:
                        data = b""
                    if not data:
                        poller.unregister(fd)
                        self.stdin = None
                        if not pending:
                            self.close_stdin()
                        continue
                    pending += data
                    if self.on_input is not None:
                        self.on_input(data)
                    poller.unregister(fd)  # read no more until this is written
                    assert self.to_stdin is not None
                    poller.register(self.to_stdin, select.POLLOUT)
                elif fd == self.to_stdin:
                    closed = bool(mask & (select.POLLERR | select.POLLHUP))
                    if not closed:
                        try:
                            pending = pending[os.write(fd, pending) :]
                        except BlockingIOError:
                            continue
                        except OSError:
                            closed = True
                    if closed:  # the command closed its stdin: stop reading the operator's
                        pending, self.stdin = b"", None
                    if not pending:
                        poller.unregister(fd)
                        if self.stdin is None:
                            self.close_stdin()
                        else:
                            poller.register(self.stdin, select.POLLIN)
        self.close_stdin()

    def close_stdin(self) -> None:
        """Close the command's stdin pipe (once): it then reads end of file."""
        if self.to_stdin is not None:
            try:
                os.close(self.to_stdin)
            except OSError:
                pass
            self.to_stdin = None


def writer(fd: int) -> Callable[[bytes], None]:
    """Return a callable that writes all it is given to ``fd``."""
    return lambda data: write_all(fd, data)
