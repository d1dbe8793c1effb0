"""A hostile container against debugtool's exec, in every mode, on Docker, runc and rootless
podman (where container root is an ordinary host user in its own user namespace).

The container runs ``tests/hostile/watcher.c`` as root with the runtime's default capabilities:
it busy-watches ``ns_last_pid`` and tries, against every new process, what container root can
try (``/proc/PID/{exe,environ,cmdline,fd/*,cwd,root}`` and ``PTRACE_SEIZE``). debugtool runs with
a canary in its environment and the operator's terminal (a pty) as its stdio. The tests fail if
the watcher ever saw the canary, the host's python, a descriptor other than the command's own
pipes or pty, the operator's terminal, a host path, or seized a process before its execve. A
control run (the runtime's own exec with the canary in the command's environment) proves the
watcher sees what it reports.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import harness
import pytest

WATCHER = Path(__file__).parents[1] / "hostile" / "watcher.c"
LOG = "/tmp/watch.log"
RUNS = 20
PROBE = "hostile-probe"
#: What a debugged command's stdio may be, as the container sees it.
ALLOWED_STDIO = re.compile(r"^(pipe:\[\d+\]|/dev/pts/\d+|/dev/null)$")


def _log_path(started: harness.Started) -> Path:
    return Path(f"/proc/{started.pid}/root") / LOG.lstrip("/")


def _wait_ready(started: harness.Started) -> None:
    for _ in range(100):
        path = _log_path(started)
        if path.exists() and "READY" in path.read_text(errors="replace"):
            return
        time.sleep(0.05)
    raise AssertionError(f"the watcher in {started.name} never started")


@pytest.fixture(scope="module")
def hostile(module_containers: harness.Containers) -> dict[str, harness.Started]:
    """A Docker and a runc container, each with the watcher running as root inside."""
    binary = harness.build_static(WATCHER)
    docker = module_containers.docker()
    harness.run("docker", "cp", str(binary), f"{docker.id}:/watcher")
    harness.run("docker", "exec", "-d", docker.id, "/watcher", LOG)

    def plant(root: Path) -> None:
        shutil.copy(binary, root / "watcher")

    runc = module_containers.runc(cmd=("/watcher", LOG), readonly=False, prepare=plant)
    # Rootless podman: container root is an ordinary user on the host, in its own user namespace.
    rootless = module_containers.rootless_podman()
    user = rootless.extra["user"]
    user.run("podman", "cp", str(binary), f"{rootless.id}:/watcher")
    user.run("podman", "exec", "-d", rootless.id, "/watcher", LOG)
    found = {"docker": docker, "runc": runc, "rootless": rootless}
    for started in found.values():
        _wait_ready(started)
    return found


def _on_operator_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str, os.stat_result]:
    """Run debugtool with a pty as its stdin, stdout and stderr, as from an operator's shell.

    Returns its exit code, what it printed, and the stat of the pty (the operator's terminal).
    """
    master, slave = os.openpty()
    terminal = os.fstat(slave)
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "debugtool", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            timeout=60,
            start_new_session=True,
        )
    finally:
        os.close(slave)
        reader.join(timeout=5)
        os.close(master)
    return proc.returncode, b"".join(chunks).decode(errors="replace"), terminal


def _verdicts(log: str, canary: str, terminal: os.stat_result) -> list[str]:
    """Return every line of the watcher's log that shows something of the host."""
    python = os.stat(os.path.realpath(sys.executable))
    bad = []
    for line in log.splitlines():
        kind, _, rest = line.partition(" ")
        _pid, _, detail = rest.partition(" ")
        if canary in line:
            bad.append(f"operator's environment seen: {line}")
        elif kind in ("EXE", "SEIZE") and "python" in detail:
            bad.append(f"host python seen: {line}")
        elif kind in ("EXEOPEN", "FDOPEN") and (
            f"dev={python.st_dev} ino={python.st_ino}" in detail
        ):
            bad.append(f"host python opened: {line}")
        elif kind == "FDOPEN" and f"dev={terminal.st_dev} ino={terminal.st_ino}" in detail:
            bad.append(f"operator's terminal reopened: {line}")
        elif kind == "FD":
            number, _, target = detail.partition(" ")
            if number not in ("0", "1", "2"):
                bad.append(f"a descriptor beyond stdio: {line}")
            elif not ALLOWED_STDIO.match(target):
                bad.append(f"stdio that is not a pipe or the container's pty: {line}")
        elif kind in ("CWD", "ROOT") and any(
            part in detail for part in ("/work", "/var/tmp", "/run/debugtool", "/root")
        ):
            bad.append(f"a host directory seen: {line}")
        elif kind == "CMD" and any(part in detail for part in ("python", "debugtool/", "/work")):
            bad.append(f"a host command line seen: {line}")
    return bad


def test_the_watcher_sees_what_container_root_can_see(hostile: dict[str, harness.Started]) -> None:
    """Control: a process the runtime's own exec starts with a secret in its environment is
    read and seized by the watcher, so its silence about debugtool's processes means something.
    (The process lives 2 s: on a loaded machine the watcher may need a while to be scheduled.)"""
    for runtime, started in hostile.items():
        secret = f"control-{uuid.uuid4().hex}"
        if runtime == "docker":
            harness.run("docker", "exec", "-e", f"CONTROL={secret}", started.id, "sleep", "2")
        elif runtime == "rootless":
            started.extra["user"].run(
                "podman", "exec", "-e", f"CONTROL={secret}", started.id, "sleep", "2"
            )
        else:
            harness.run(
                "runc", "--root", started.extra["root"], "exec", "--env", f"CONTROL={secret}",
                started.id, "sleep", "2",
            )  # fmt: skip
        log = _log_path(started).read_text(errors="replace")
        assert any(line.startswith("ENV ") and secret in line for line in log.splitlines()), runtime
        assert any(line.startswith("SEIZE ") for line in log.splitlines()), runtime


@pytest.mark.parametrize("runtime", ["docker", "runc", "rootless"])
@pytest.mark.parametrize("mode", ["ns", "toolbox", "runtime"])
def test_a_hostile_container_learns_nothing_of_the_host(
    hostile: dict[str, harness.Started], runtime: str, mode: str, tmp_path: Path
) -> None:
    started = hostile[runtime]
    canary = f"canary-{uuid.uuid4().hex}"
    env = {
        **os.environ,
        "DT_OPERATOR_SECRET": canary,
        "DEBUGTOOL_AUDIT_LOG": str(tmp_path / "audit.jsonl"),
    }
    before = len(_log_path(started).read_text(errors="replace"))
    for i in range(RUNS):
        code, output, terminal = _on_operator_terminal(
            ["exec", "--mode", mode, started.name, "--", "sh", "-c", f"sleep 0.02 # {PROBE}"], env
        )
        assert code == 0, (i, output)
    time.sleep(0.2)
    log = _log_path(started).read_text(errors="replace")[before:]
    assert _verdicts(log, canary, terminal) == []
    # The watcher did see the commands debugtool started (after their execve).
    assert any(line.startswith("CMD ") and PROBE in line for line in log.splitlines()), log[-2000:]


@pytest.fixture(scope="module")
def others(module_containers: harness.Containers) -> dict[str, harness.Started]:
    """A podman and a containerd container (their runtime mode goes through their clients)."""
    return {"podman": module_containers.podman(), "containerd": module_containers.containerd()}


@pytest.mark.parametrize("mode", ["runtime", "ns", "toolbox"])
@pytest.mark.parametrize("runtime", ["docker", "runc", "podman", "containerd", "rootless"])
def test_the_command_never_gets_the_operators_terminal(
    hostile: dict[str, harness.Started],
    others: dict[str, harness.Started],
    runtime: str,
    mode: str,
    tmp_path: Path,
) -> None:
    """Without -t fd 1 is a pipe; with -t it is a pty of the container's: never the operator's."""
    started = {**hostile, **others}[runtime]
    env = {**os.environ, "DEBUGTOOL_AUDIT_LOG": str(tmp_path / "audit.jsonl")}
    probe = ["sh", "-c", "stat -L -c '%d:%i %F' /proc/self/fd/0 /proc/self/fd/1 /proc/self/fd/2"]
    for flags, kind in (([], "fifo"), (["-t"], "character special file")):
        code, output, terminal = _on_operator_terminal(
            ["exec", *flags, "--mode", mode, started.name, "--", *probe], env
        )
        assert code == 0, output
        found = [line.split(" ", 1) for line in output.splitlines() if re.match(r"^\d+:\d+ ", line)]
        assert len(found) == 3, output
        assert all(ident != f"{terminal.st_dev}:{terminal.st_ino}" for ident, _ in found), output
        kinds = [kind.strip() for _, kind in found]
        if flags:
            assert kinds == [kind] * 3, output
        else:  # stdin: an empty pipe, or the runtime's /dev/null when there is no input
            assert kinds[1:] == [kind] * 2 and kinds[0] in (kind, "character special file")


def test_container_root_cannot_write_a_host_tool_it_ran(
    hostile: dict[str, harness.Started], tmp_path: Path
) -> None:
    """CVE-2019-5736's shape against toolbox mode: hold /proc/PID/exe of a running host tool,
    wait for it to end, then reopen that descriptor for writing. The tools are mounted
    read-only, so the host's file stays as it was."""
    started = hostile["docker"]
    tools = tmp_path / "tools"
    (tools / "bin").mkdir(parents=True)
    shutil.copy(harness.BUSYBOX, tools / "bin" / "busybox")
    (tools / "bin" / "sleep").symlink_to("busybox")
    before = (tools / "bin" / "busybox").read_bytes()
    env = {**os.environ, "DEBUGTOOL_AUDIT_LOG": str(tmp_path / "audit.jsonl")}
    tool = "/.debugtool/bin/sleep"
    proc = subprocess.Popen(
        [sys.executable, "-m", "debugtool", "exec", "--mode", "toolbox", "--tools", str(tools),
         started.name, "--", tool, "1.5"],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        inner = None
        for _ in range(100):
            for entry in Path("/proc").iterdir():
                try:
                    if entry.name.isdigit() and (entry / "cmdline").read_bytes().startswith(
                        tool.encode() + b"\0"
                    ):
                        status = (entry / "status").read_text()
                        inner = re.search(r"^NSpid:.*\s(\d+)$", status, re.M).group(1)  # type: ignore[union-attr]
                except OSError:
                    continue
            if inner:
                break
            time.sleep(0.02)
        assert inner, "the toolbox command never started"
        attack = (
            f"exec 3</proc/{inner}/exe || exit 3; "
            f"while [ -e /proc/{inner} ]; do sleep 0.1; done; "
            "if echo pwned >> /proc/self/fd/3; then echo WROTE; else echo REFUSED; fi"
        )
        result = subprocess.run(
            ["docker", "exec", started.id, "sh", "-c", attack],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
    finally:
        proc.wait(timeout=30)
    assert "REFUSED" in result.stdout, (result.stdout, result.stderr)
    assert "Read-only file system" in result.stderr
    assert (tools / "bin" / "busybox").read_bytes() == before
