"""What the joiner is told to do: one ``JoinSpec`` (and the target's ``Capabilities``).

Kept apart from the joiner's code, which needs ``ctypes``: debugtool builds the spec, the
joiner (a forked or spawned child) imports ``ctypes`` itself, while debugtool goes on.
"""

from __future__ import annotations

from debugtool import jsonc
from debugtool.record import asdict, record, replace

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


@record(frozen=True)
class Capabilities:
    """The five capability sets of a process (``CapInh`` ... ``CapAmb`` of /proc/PID/status)."""

    inheritable: int
    permitted: int
    effective: int
    bounding: int
    ambient: int

    @classmethod
    def from_status(cls, status: dict[str, str]) -> Capabilities:
        """Read them from ``procfs.parse_status`` output (hex words; missing ones are empty)."""

        def word(name: str) -> int:
            return int(status.get(name, "0"), 16)

        return cls(word("CapInh"), word("CapPrm"), word("CapEff"), word("CapBnd"), word("CapAmb"))


@record(frozen=True)
class JoinSpec:
    """Everything the joiner does, and nothing else (descriptors are numbers in its table).

    The joiner's own 0, 1 and 2 are what the command gets: pipes that debugtool relays, or
    (``tty``) the slave of a pty from the container's devpts.
    """

    parent: int  # debugtool's PID: the joiner gives up if it is not its parent any more
    namespaces: tuple[tuple[str, int, int], ...]  # (type, fd, expected inode), in join order
    proc_fd: int  # the host's /proc (O_PATH), to verify namespaces and kill the command's tree
    cwd_fd: int | None  # the target's working directory (O_PATH), used when mnt is joined
    tools_fd: int | None  # toolbox mode: a detached, read-only clone of the tools directory
    cgroup_procs: tuple[str, ...]  # host paths of the cgroup.procs files to join
    workdir: str | None
    user: str | None  # -u as typed; None: the target's own ids
    default_ids: tuple[int, int]
    user_files: tuple[str, str] | None  # passwd and group text when mnt is not joined
    env: dict[str, str]  # the command's whole environment: the container's, never the host's
    argv: tuple[str, ...]
    capabilities: Capabilities | None  # None: keep root's (--privileged)
    errw: int  # CLOEXEC pipe for the failure report
    tty: bool

    def descriptors(self) -> list[int]:
        """Return the descriptors above 2 that the joiner needs."""
        fds = [fd for _, fd, _ in self.namespaces]
        fds += [
            fd for fd in (self.proc_fd, self.cwd_fd, self.tools_fd, self.errw) if fd is not None
        ]
        return fds

    def to_json(self) -> bytes:
        return jsonc.dumps(asdict(self)).encode()

    @classmethod
    def from_json(cls, data: bytes) -> JoinSpec:
        raw: dict[str, Any] = jsonc.loads(data)
        caps = raw.pop("capabilities")
        files = raw.pop("user_files")
        return cls(
            **{
                **raw,
                "namespaces": tuple(tuple(item) for item in raw["namespaces"]),
                "cgroup_procs": tuple(raw["cgroup_procs"]),
                "default_ids": tuple(raw["default_ids"]),
                "argv": tuple(raw["argv"]),
            },
            capabilities=Capabilities(**caps) if caps is not None else None,
            user_files=tuple(files) if files is not None else None,  # type: ignore[arg-type]
        )

    def with_descriptors(self, moved: dict[int, int]) -> JoinSpec:
        """Return the spec with its descriptors renumbered (``{old: new}``): as they arrived
        in a joiner that received them over a socket."""
        return replace(
            self,
            namespaces=tuple((ns, moved[fd], ino) for ns, fd, ino in self.namespaces),
            proc_fd=moved[self.proc_fd],
            cwd_fd=None if self.cwd_fd is None else moved[self.cwd_fd],
            tools_fd=None if self.tools_fd is None else moved[self.tools_fd],
            errw=moved[self.errw],
        )
