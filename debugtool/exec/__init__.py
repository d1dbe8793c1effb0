"""The one exec path: ``exec_in(target, argv, mode=...)`` runs a command in a container.

Every part of debugtool that runs something in a container (``exec``, ``shell``, the TUI) calls
``exec_in``. Three modes (DESIGN.md, "Exec modes"), one module each:

- ``runtime`` (default, ``exec.runtime``): the runtime's own exec (``Runtime.exec``: Docker over
  its Engine API; runc, crun, podman and containerd through their clients), so the container's
  whole security context applies. A watchdog (``exec.runtime.Watchdog``) kills the command if
  debugtool dies mid-way.
- ``ns`` (``exec.ns`` and ``exec.joiner``): a single-threaded joiner, sealed before it meets the
  container, enters the target's namespaces and cgroup; the command's process closes every host
  descriptor, drops to the container's capabilities, sets NoNewPrivs and execs. seccomp and LSM
  profiles are not applied, and the context line says so.
- ``toolbox``: ``ns`` in a private copy of the mount namespace whose root holds the container's
  files plus the host's tools, read-only, at ``/.debugtool`` (``debugtool.toolbox``).

``exec.plan`` decides what will be matched before anything runs. In every mode the command's
stdio are pipes that debugtool relays, or a pty of the container's: never the operator's
terminal.

Exit codes follow ``docker exec``: the command's own; 126 it cannot be invoked; 127 not found;
125 debugtool failed. A container that stops while the command runs kills it (SIGKILL, as the
PID namespace goes away): debugtool then says so in one sentence and exits 125 rather than 137,
because the command did not finish on its own and a script should not mistake it for the
command's own result. Every exec appends one audit line, also when it fails, and nothing runs
when the audit log cannot be written.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: importing typing would cost the joiner several ms
if TYPE_CHECKING:
    from typing import Any

    from debugtool.exec.core import ExecResult, exec_in
    from debugtool.exec.plan import MODES, ExecContext

__all__ = ["MODES", "ExecContext", "ExecResult", "bare_python", "exec_in"]


def bare_python(statement: str) -> list[str]:
    """Return the argv of this Python, isolated (``-I -S``: no site, no environment), running
    ``statement`` with debugtool importable (the spawned joiner, the watchdog's last step)."""
    import os
    import sys

    package_parent = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    code = f"import sys; sys.path.insert(0, {package_parent!r}); {statement}"
    return [sys.executable, "-I", "-S", "-c", code]


def __getattr__(name: str) -> Any:
    # Imported on first use: the spawned joiner imports debugtool.exec.joiner with a bare
    # interpreter and must not pay for the runtimes and the model (about 100 ms).
    if name in ("exec_in", "ExecResult"):
        from debugtool.exec import core

        return getattr(core, name)
    if name in ("MODES", "ExecContext"):
        from debugtool.exec import plan

        return getattr(plan, name)
    raise AttributeError(f"module 'debugtool.exec' has no attribute {name!r}")
