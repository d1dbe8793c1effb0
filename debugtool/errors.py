"""One exception hierarchy for debugtool, each error with an exit code and a sentence for people.

Exit codes follow ``docker exec``: 125 when debugtool itself failed (unknown container, no
permission, runtime unreachable), 126 when the command cannot be invoked, 127 when it is not found.
"""

from __future__ import annotations

EXIT_TOOL = 125
EXIT_CANNOT_INVOKE = 126
EXIT_NOT_FOUND = 127


class DebugtoolError(Exception):
    """Base of every error debugtool reports to a person.

    ``str(err)`` is one sentence saying what is wrong; ``hint`` says what to do about it.
    """

    exit_code: int = EXIT_TOOL

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def for_people(self) -> str:
        """Return the message and the hint as one or two sentences, safe to show on a terminal.

        Messages quote what the user typed and what a container named (a process, a path, a
        container id), so they go through ``output.printable``; ``message`` keeps the text as
        it was.
        """
        from debugtool.output import printable

        if self.hint:
            return printable(f"{self.message} {self.hint}")
        return printable(self.message)


class UsageError(DebugtoolError):
    """The command line itself is wrong (a bad flag value, a missing argument)."""


class ContainerNotFound(DebugtoolError):
    """Nothing the runtimes know matches what the user typed."""


class AmbiguousTarget(DebugtoolError):
    """What the user typed matches more than one container."""

    def __init__(self, text: str, candidates: list[str]) -> None:
        listing = ", ".join(candidates[:10]) + (" ..." if len(candidates) > 10 else "")
        super().__init__(
            f"'{text}' matches {len(candidates)} containers: {listing}.",
            "Type more of the id, or use RUNTIME:NAME.",
        )
        self.candidates = candidates


class ContainerNotRunning(DebugtoolError):
    """The container exists but has no running process to inspect or enter."""


class ContainerGone(DebugtoolError):
    """The container (or the process that pinned it) exited while debugtool was working."""


class PermissionDenied(DebugtoolError):
    """debugtool lacks a privilege it needs; ``need`` names it (for example CAP_SYS_PTRACE)."""

    def __init__(self, message: str, need: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint or "Run debugtool as root (for example with sudo).")
        self.need = need


class RuntimeUnavailable(DebugtoolError):
    """A runtime backend could not be asked: its daemon is down, hangs, or its socket is missing."""

    def __init__(self, runtime: str, reason: str, hint: str | None = None) -> None:
        super().__init__(f"{runtime}: {reason}", hint)
        self.runtime = runtime
        self.reason = reason


class ExecUnsupported(DebugtoolError):
    """The target's runtime cannot run a command in it the way that was asked."""


class CommandNotInvokable(DebugtoolError):
    """The command exists but cannot be run (not executable, a directory, bad user)."""

    exit_code = EXIT_CANNOT_INVOKE


class CommandNotFound(DebugtoolError):
    """The command does not exist in the container."""

    exit_code = EXIT_NOT_FOUND


class BundleError(DebugtoolError):
    """A support bundle cannot be written, read or verified."""
