"""Runtime mode: the runtime's own exec (``Runtime.exec``), with a watchdog for debugtool's death.

The container's whole security context applies (user, capabilities, cgroup, seccomp, LSM), since
the runtime starts the command as it starts any exec. The command is marked with a session
variable where the runtime can set one, so the watchdog can find it if debugtool dies mid-way.
"""

from __future__ import annotations

import os

from debugtool.exec.watchdog import SESSION_VAR, Watchdog
from debugtool.record import replace
from debugtool.runtimes.base import ExecRequest, Stdio

TYPE_CHECKING = False
if TYPE_CHECKING:
    from debugtool.exec.plan import Plan
    from debugtool.target import Target


def run_runtime(target: Target, request: ExecRequest, plan: Plan, stdio: Stdio) -> int:
    """Run ``request`` through ``plan.runtime``'s exec; return the command's exit code."""
    runtime = plan.runtime
    assert runtime is not None
    session = os.urandom(8).hex()
    env = dict(request.env)
    marked = runtime.exec_sets_env
    if marked:
        env[SESSION_VAR] = session
        if request.tty and "TERM" not in env:
            env["TERM"] = os.environ.get("TERM", "xterm")
    request = replace(request, env=env)
    watchdog = Watchdog.start(target, session if marked else None)
    try:
        code = runtime.exec(target.container, request, stdio)
    except BaseException:
        # Interrupted (Ctrl-C without a tty, SIGTERM, an error mid-stream): the command must not
        # go on alone in the container, so the watchdog kills what this session started.
        watchdog.finish(ended=False)
        raise
    watchdog.finish(ended=True)
    return code
