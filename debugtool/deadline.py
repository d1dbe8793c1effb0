"""Run functions in daemon threads against one deadline: a hung one is abandoned, never waited for.

The bundle's collectors, its discovery step, the runtime versions it asks for, and ``discover``'s
runtimes all have the same need: start some work, wait for it no longer than a deadline (or
until the user interrupts), and carry on with what finished. A thread cannot be killed, so one
that does not finish is left running as a daemon; what it returns later is never looked at
(``Running.outcome`` is read once, when the caller stops waiting).

The threads are ``_thread``'s, the interpreter's own, which ``threading`` wraps: importing
``threading`` costs more (about 1.5 ms) than the threads of a discovery pass, and what it adds
(names, joins, enumeration) is not used here. Like daemon threads, they do not hold the process
open at exit.
"""

from __future__ import annotations

import _thread
import time

from debugtool.record import Generic, TypeVar, record

T = TypeVar("T")

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from typing import Any, Protocol

    class Stop(Protocol):
        """What can cut a wait short: a ``threading.Event``."""

        def is_set(self) -> bool: ...


#: How often a wait that a stop event can cut short looks at it (seconds).
TICK = 0.05


@record(frozen=True)
class Outcome(Generic[T]):
    """What a function had done when its caller stopped waiting: finished with ``value`` or
    ``error`` (whatever it raised), or not finished (``finished`` false, both None)."""

    finished: bool
    value: T | None = None
    error: BaseException | None = None


class Running(Generic[T]):
    """One function running in a thread of its own (``start``)."""

    def __init__(self, fn: Callable[..., T], args: tuple[Any, ...], name: str) -> None:
        self.name = name
        self._fn, self._args = fn, args
        self._done = False
        self._lock = _thread.allocate_lock()  # held until the function returns or raises
        self._value: T | None = None
        self._error: BaseException | None = None

    def _start(self) -> None:
        self._lock.acquire()
        _thread.start_new_thread(self._main, ())

    def _main(self) -> None:
        try:
            self._value = self._fn(*self._args)
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits for it
            self._error = exc
        finally:
            self._done = True
            self._lock.release()

    def finished(self) -> bool:
        """Return whether the function returned or raised."""
        return self._done

    def _wait(self, seconds: float) -> None:
        """Wait up to ``seconds`` for the function to finish."""
        if self._lock.acquire(timeout=max(seconds, 0)):
            self._lock.release()

    def outcome(self) -> Outcome[T]:
        """Return what the function has done so far (a snapshot: later results never show)."""
        if not self._done:
            return Outcome(False)
        return Outcome(True, self._value, self._error)


def start(fn: Callable[..., T], *args: Any, name: str = "dt-worker") -> Running[T]:
    """Start ``fn(*args)`` in a thread of its own; return its handle (``name`` is for people
    reading a debugger)."""
    running = Running(fn, args, name)
    running._start()
    return running


def wait(running: Iterable[Running[Any]], until: float, stop: Stop | None = None) -> bool:
    """Wait until every one has finished, ``time.monotonic()`` reaches ``until``, or ``stop`` is
    set, whichever comes first; return whether every one finished.

    One deadline for all: two hung functions cost one timeout, not two. With ``stop`` the wait
    looks at it every ``TICK`` seconds, so a signal handler that sets it is obeyed at once.
    """
    for one in running:
        while not one._done:
            left = until - time.monotonic()
            if left <= 0 or (stop is not None and stop.is_set()):
                return False
            one._wait(left if stop is None else min(left, TICK))
    return True


def call(fn: Callable[[], T]) -> Outcome[T]:
    """Run ``fn`` in this thread (it bounds its own time) and return its outcome, as ``run``
    gives it: what it raised is the outcome's ``error``, not raised here."""
    try:
        return Outcome(True, fn())
    except Exception as exc:  # noqa: BLE001 - the outcome carries it
        return Outcome(True, None, exc)


def run(
    calls: Mapping[str, Callable[[], T]], timeout: float, stop: Stop | None = None
) -> dict[str, Outcome[T]]:
    """Run each call in a thread of its own (``dt-NAME``) and wait at most ``timeout`` seconds
    for all of them (less if ``stop`` is set); return each one's outcome by its name. Never
    raises what a call raises: that is its outcome's ``error``."""
    until = time.monotonic() + timeout
    running = {name: start(call, name=f"dt-{name}") for name, call in calls.items()}
    wait(running.values(), until, stop)
    return {name: one.outcome() for name, one in running.items()}
