"""Every example of the README's Quick start, run against a real Docker container.

The block is read from README.md itself, so an example that stops being true fails here. ``web``
is replaced by the name of a container this test starts (a busybox image, with an
``/etc/os-release`` as real images have, that prints ``ready`` and sleeps); every example runs
in a fresh directory (``web.json`` and ``web.tar.gz`` land there) with its own audit log and
HOME. Each must exit 0 without a traceback. Examples that do not end by themselves are run as a
person would:

- interactive ones (``exec ... -- sh``, ``shell``, ``console``) on a new pty: wait for the
  prompt, type ``exit`` (an ``exec`` of a shell without ``-it`` never prompts, and fails);
- followers (``logs -f``, ``trace``, a ``tcpdump``) in their own session: wait until they are
  under way (the log's first line, the tracer attached, tcpdump listening), then Ctrl-C to the
  group, which may end them with the shell's 130 as well as 0;
- ``SKIPPED`` below, with the reason.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import shlex
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from harness import unique

README = Path(__file__).resolve().parents[2] / "README.md"

#: Examples not run here, and why.
SKIPPED = {
    "tui": "the Textual TUI has its own tests (tests/tui: Pilot, snapshots, a tmux run)",
}
#: What an interactive example waits for before it types ``exit``: busybox sh's prompt, and
#: the console's (``NAME:/>``; prompt-toolkit draws the space after it by moving the cursor).
PROMPTS = {"sh": b"# ", "shell": b"# ", "console": b":/>"}
#: The longest any example may take (a hang fails the test; nothing here is timed).
PATIENCE = 120.0


def quick_start() -> list[str]:
    """Return the Quick start block's commands, in order, without their comments."""
    text = README.read_text()
    block = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = []
    for line in block.splitlines():
        match = re.match(r"^    (debugtool .*?)(?:\s+#.*)?$", line)
        if match:
            commands.append(match.group(1).strip())
    return commands


def test_the_quick_start_block_is_found() -> None:
    commands = quick_start()
    assert len(commands) >= 15, commands
    assert "debugtool ps -a" in commands


@pytest.fixture(scope="module")
def web(module_containers, tmp_path_factory):
    """The container the examples' ``web`` stands for, and a directory to run them in."""
    etc = tmp_path_factory.mktemp("readme-etc")
    (etc / "os-release").write_text('NAME="debugtool test"\nID=busybox\n')
    started = module_containers.docker(
        "-v",
        f"{etc / 'os-release'}:/etc/os-release:ro",
        name=unique("dt-readme-web"),
        cmd=("sh", "-c", "echo ready; exec sleep 100000"),
    )
    # One restart, so that 'logs --previous' has a run before the latest to show.
    run = ("docker", "restart", "-t", "0", started.id)
    subprocess.run(run, check=True, capture_output=True, timeout=PATIENCE)
    pid = ("docker", "inspect", "-f", "{{.State.Pid}}", started.id)
    started.pid = int(subprocess.run(pid, check=True, capture_output=True, text=True).stdout)
    return started


def readme_rules() -> str:
    """The example rules file the README gives (the indented block after 'add up:')."""
    text = README.read_text()
    block = text[text.index("both are TOML and add up:") :].split("\n\n")[1]
    return "\n".join(line[4:] for line in block.splitlines()) + "\n"


def _kind(command: str) -> str:
    """How to run an example: ``run``, ``pty``, ``follow`` or ``skip``."""
    words = command.split()
    sub = words[1]
    if sub in SKIPPED:
        return "skip"
    # A shell is for a person at a terminal: it must give a prompt (without -it, exec gives
    # sh no terminal and no stdin, and it returns at once: the README's old mistake).
    if sub in ("shell", "console") or (sub == "exec" and words[-1] in PROMPTS):
        return "pty"
    if sub == "trace" or (sub == "logs" and "-f" in words) or "tcpdump" in words:
        return "follow"
    return "run"


@pytest.mark.parametrize("command", quick_start())
def test_readme_example(command: str, web, tmp_path_factory) -> None:
    kind = _kind(command)
    if kind == "skip":
        pytest.skip(SKIPPED[command.split()[1]])
    where = tmp_path_factory.getbasetemp() / "readme-run"  # shared: bundle, then verify it
    where.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "HOME": str(where),
        "DEBUGTOOL_AUDIT_LOG": str(where / "audit.jsonl"),
        "COLUMNS": "80",
        "TERM": "xterm",
    }
    text = re.sub(r"\bweb\b", web.name, command)
    if "site-rules.toml" in text:  # the README's own example rules file
        (where / "site-rules.toml").write_text(readme_rules())
    if re.match(r"debugtool audit \w+ ID\b", text):  # the newest recorded session (shell's)
        recorded = [line for line in (where / "audit.jsonl").read_text().splitlines()
                    if '"recording": "recordings/' in line]  # fmt: skip
        text = text.replace(" ID", " " + json.loads(recorded[-1])["session"][:8], 1)
    argv = [sys.executable, "-m", "debugtool", *shlex.split(text)[1:]]
    if kind == "pty":
        code, output = _in_pty(argv, where, env, _prompt(command))
    elif kind == "follow":
        code, output = _followed(argv, where, env, command, web)
    elif ">" in text.split():
        # A redirection: through the shell, as typed ('python -m debugtool ...').
        proc = subprocess.run(
            ["bash", "-c", f"{shlex.quote(sys.executable)} -m {text}"],
            cwd=where,
            env=env,
            capture_output=True,
            timeout=PATIENCE,
        )
        code, output = proc.returncode, proc.stdout + proc.stderr
    else:
        proc = subprocess.run(argv, cwd=where, env=env, capture_output=True, timeout=PATIENCE)
        code, output = proc.returncode, proc.stdout + proc.stderr
    shown = output.decode(errors="replace")
    assert b"Traceback" not in output, shown
    assert b"internal error" not in output, shown
    if kind == "follow":
        assert code in (0, 130), shown  # Ctrl-C: the shell's 130 is how a follower may end
    else:
        assert code == 0, shown
    if command.startswith("debugtool snapshot"):
        assert (where / f"{web.name}.json").stat().st_size > 0
    if command.startswith("debugtool exec") and "os-release" in command:
        assert b"debugtool test" in output


def _prompt(command: str) -> bytes:
    words = command.split()
    return PROMPTS[words[-1] if words[1] == "exec" else words[1]]


def _in_pty(argv: list[str], cwd: Path, env: dict[str, str], prompt: bytes) -> tuple[int, bytes]:
    """Run ``argv`` on a new 80x24 pty; type ``exit`` at ``prompt``; return (code, output)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    proc = subprocess.Popen(
        argv, stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env, start_new_session=True
    )
    os.close(slave)
    output = b""
    typed = False
    deadline = time.monotonic() + PATIENCE
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every holder of the pty's other end has closed it
                break
            if not chunk:
                break
            output += chunk
            if b"\x1b[6n" in chunk:  # prompt-toolkit asks where the cursor is: answer as a terminal
                os.write(master, b"\x1b[1;1R")
            if not typed and prompt in output:
                os.write(master, b"exit\r")
                typed = True
        code = proc.wait(timeout=PATIENCE)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        os.close(master)
    assert typed, f"no prompt {prompt!r} in: {output.decode(errors='replace')}"
    return code, output


def _followed(
    argv: list[str], cwd: Path, env: dict[str, str], command: str, web
) -> tuple[int, bytes]:
    """Run a command that runs until stopped; once under way, Ctrl-C its process group."""
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env=env,
        start_new_session=True,
    )
    output = b""
    deadline = time.monotonic() + PATIENCE
    try:
        if " trace " in f" {command} ":
            # Under way once the tracer has seized the container's init.
            while time.monotonic() < deadline and proc.poll() is None:
                if _tracer_of(web.pid):
                    break
                time.sleep(0.05)
        else:
            want = b"ready" if " logs " in command else b"listening on"
            streams = [proc.stdout, proc.stderr]
            while time.monotonic() < deadline and want not in output and streams:
                ready, _, _ = select.select(streams, [], [], 1.0)
                for stream in ready:
                    chunk = os.read(stream.fileno(), 65536)
                    if not chunk:
                        streams.remove(stream)
                    output += chunk
        assert proc.poll() is None, output.decode(errors="replace")
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=PATIENCE)
        return proc.returncode, output + out + err
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _tracer_of(pid: int) -> int:
    """Return the PID tracing ``pid`` (0: none)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("TracerPid:"):
            return int(line.split()[1])
    return 0
