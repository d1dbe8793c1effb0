"""The one protocol every runtime backend implements.

A backend is one module with one ``Runtime`` subclass, registered under the entry-point group
``debugtool.runtimes``, so a third party adds a runtime without touching the core. Optional
capabilities are class flags with a default, as harlequin's adapters do.
"""

from __future__ import annotations

import _signal as signal  # signal's functions, without its enums (enum: ~4 ms to import)
from abc import ABC, abstractmethod

from debugtool.model import Container
from debugtool.record import field, record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any, ClassVar


@record
class ExecRequest:
    """What to run through a runtime's own exec (the ``runtime`` exec mode)."""

    argv: list[str]
    tty: bool = False
    interactive: bool = False
    user: str | None = None
    workdir: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    privileged: bool = False


@record(frozen=True)
class Stdio:
    """The descriptors an exec relays: the operator's side, never handed to the container.

    ``recorder`` (a ``debugtool.recording.Recorder``, terminal sessions only) gets a copy of
    everything the relay writes to ``stdout``, and of what it reads from ``stdin`` when
    ``record_input`` is set (the recorder checks).
    """

    stdin: int = 0
    stdout: int = 1
    stderr: int = 2
    recorder: Any = None
    record_input: bool = False


class Runtime(ABC):
    """A source of containers: a daemon's API, an OCI state directory, or a namespace scan.

    ``list`` and ``inspect`` raise ``RuntimeUnavailable`` when the runtime cannot be asked (its
    daemon is down, its socket is missing, it does not answer within ``timeout`` seconds); they
    never raise a bare ``OSError``.
    """

    #: Name shown in the RUNTIME column and accepted in ``RUNTIME:NAME``.
    name: ClassVar[str] = ""
    #: Higher wins when several backends know one container (Docker over containerd over runc).
    richness: ClassVar[int] = 0
    #: Whether ``exec`` can run a command in this runtime's containers.
    supports_exec: ClassVar[bool] = False
    #: Whether its exec can set environment variables (exec's watchdog marks a session so).
    exec_sets_env: ClassVar[bool] = True
    #: Whether its exec has a privileged form (``ExecRequest.privileged``).
    supports_privileged_exec: ClassVar[bool] = False
    #: Whether ``logs`` can return a container's output.
    supports_logs: ClassVar[bool] = False
    #: Whether ``list`` reads only this host's files (no daemon that may hang): discovery asks
    #: such a backend in the calling thread while the daemons' answers are on their way.
    reads_files: ClassVar[bool] = False

    def __init__(self, timeout: float = 2.0) -> None:
        self.timeout = timeout
        #: What the last ``list`` could not do although it answered (a state file skipped, one
        #: of two daemons down), one sentence each; discovery shows them beside its own warnings.
        self.warnings: list[str] = []

    @abstractmethod
    def present(self) -> bool:
        """Return whether this runtime is installed or has state on this host (cheap, no I/O wait).

        A runtime that is not present is skipped silently; one that is present but does not
        answer is skipped with a warning.
        """

    @abstractmethod
    def list(self, all: bool = False) -> list[Container]:
        """Return this runtime's containers: running ones, or every one with ``all``.

        What it had to leave out while still answering goes to ``warnings``.
        """

    def inspect(self, container: Container) -> dict:
        """Return the runtime's own metadata for one container (its ``inspect`` JSON)."""
        return dict(container.metadata.get(self.name, {}))

    def can_exec(self, container: Container) -> bool:
        """Return whether ``exec`` can reach ``container`` now (a daemon that answered it)."""
        return self.supports_exec

    def exec(self, container: Container, request: ExecRequest, stdio: Stdio) -> int:
        """Run ``request`` in ``container`` through this runtime's own exec; return its exit code.

        The default runs the runtime's client (``exec_argv``) with pipes that debugtool relays
        to ``stdio`` (a terminal only with ``request.tty``, where the client makes the pty), so
        no descriptor of the operator's reaches the container. Raises ``CommandNotFound``
        (127), ``CommandNotInvokable`` (126) or ``ExecUnsupported`` (125).
        """
        from debugtool.errors import ExecUnsupported
        from debugtool.runtimes.client import run_client

        if request.privileged and not self.supports_privileged_exec:
            raise ExecUnsupported(
                f"--privileged in runtime mode works only on Docker, not {self.name}.",
                "Use --mode ns --privileged instead.",
            )
        return run_client(self.name, list(self.exec_argv(container, request)), request, stdio)

    def exec_argv(self, container: Container, request: ExecRequest) -> Sequence[str]:
        """Return the command line that runs ``request`` through this runtime's exec.

        Raises ``ExecUnsupported`` when the runtime has no exec.
        """
        from debugtool.errors import ExecUnsupported

        raise ExecUnsupported(
            f"runtime '{self.name}' has no exec of its own.",
            "Use --mode ns to enter the container's namespaces instead.",
        )

    def logs(
        self, container: Container, tail: int | None = None, since: float | None = None
    ) -> bytes:
        """Return the container's recent output (stdout and stderr interleaved where known)."""
        return b""


class ignoring_interrupts:
    """While the command runs, Ctrl-C belongs to it (it gets it from the terminal itself).

    For a backend's ``exec`` with a terminal: the runtime clients' (``runtimes.client``) and
    Docker's over the Engine API, which has no other use for the clients' module.
    """

    def __init__(self, active: bool) -> None:
        self.active = active
        self.saved: object = None

    def __enter__(self) -> None:
        if self.active:
            try:
                self.saved = signal.signal(signal.SIGINT, signal.SIG_IGN)
            except ValueError:  # not the main thread
                self.active = False

    def __exit__(self, *exc: object) -> None:
        if self.active:
            signal.signal(signal.SIGINT, self.saved)  # type: ignore[arg-type]
