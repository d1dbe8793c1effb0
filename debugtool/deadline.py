"""Run functions in daemon threads against one deadline: a hung one is abandoned, never waited for.

The bundle's collectors, its discovery step, the runtime versions it asks for, and ``discover``'s
runtimes all have the same need: start some work, wait for it no longer than a deadline (or
until the user interrupts), and carry on with what finished. A thread cannot be killed, so one
that does not finish is left running as a daemon; what it returns later is never looked at
(``Running.outcome`` is read once, when the caller stops waiting).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar

from debugtool.record import record

T = TypeVar("T")

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
    """One function running in a daemon thread (``start``)."""

    def __init__(self, fn: Callable[..., T], args: tuple[Any, ...], name: str) -> None:
        self._done = threading.Event()
        self._value: T | None = None
        self._error: BaseException | None = None
        self.thread = threading.Thread(target=self._main, args=(fn, args), name=name, daemon=True)

    def _main(self, fn: Callable[..., T], args: tuple[Any, ...]) -> None:
        try:
            self._value = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits for it
            self._error = exc
        finally:
            self._done.set()

    def finished(self) -> bool:
        """Return whether the function returned or raised."""
        return self._done.is_set()

    def outcome(self) -> Outcome[T]:
        """Return what the function has done so far (a snapshot: later results never show)."""
        if not self._done.is_set():
            return Outcome(False)
        return Outcome(True, self._value, self._error)


def start(fn: Callable[..., T], *args: Any, name: str = "dt-worker") -> Running[T]:
    """Start ``fn(*args)`` in a daemon thread named ``name``; return its handle."""
    running = Running(fn, args, name)
    running.thread.start()
    return running


def wait(
    running: Iterable[Running[Any]], until: float, stop: threading.Event | None = None
) -> bool:
    """Wait until every one has finished, ``time.monotonic()`` reaches ``until``, or ``stop`` is
    set, whichever comes first; return whether every one finished.

    One deadline for all: two hung functions cost one timeout, not two. With ``stop`` the wait
    looks at it every ``TICK`` seconds, so a signal handler that sets it is obeyed at once.
    """
    for one in running:
        while not one._done.is_set():
            left = until - time.monotonic()
            if left <= 0 or (stop is not None and stop.is_set()):
                return False
            one._done.wait(left if stop is None else min(left, TICK))
    return True


def run(
    calls: Mapping[str, Callable[[], T]], timeout: float, stop: threading.Event | None = None
) -> dict[str, Outcome[T]]:
    """Run each call in its own daemon thread (``dt-NAME``) and wait at most ``timeout`` seconds
    for all of them (less if ``stop`` is set); return each one's outcome by its name. Never
    raises what a call raises: that is its outcome's ``error``."""
    until = time.monotonic() + timeout
    running = {name: start(call, name=f"dt-{name}") for name, call in calls.items()}
    wait(running.values(), until, stop)
    return {name: one.outcome() for name, one in running.items()}
