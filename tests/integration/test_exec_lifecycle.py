"""How an exec ends: nothing outlives a SIGKILLed debugtool, a container stopping mid-command is
one sentence and exit 125, and interactive -t sessions through a real pty (size, Ctrl-C, exit)."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import harness
import pytest


def sessions(path: Path) -> list[dict]:
    """The audit log's sessions, each as its end record (or its start, if it never ended)."""
    from debugtool import audit

    return [r.to_dict() for r in audit.sessions(audit.read(str(path)))]


@pytest.fixture
def audit_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "audit.jsonl"
    monkeypatch.setenv("DEBUGTOOL_AUDIT_LOG", str(path))
    return path


def processes_in(pid: int, needle: str) -> list[int]:
    """Host PIDs in ``pid``'s PID namespace whose command line contains ``needle``."""
    pidns = os.stat(f"/proc/{pid}/ns/pid").st_ino
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            if os.stat(f"/proc/{name}/ns/pid").st_ino != pidns:
                continue
            cmdline = Path(f"/proc/{name}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if needle in cmdline:
            found.append(int(name))
    return found


def wait_for(check, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


@pytest.mark.parametrize(
    ("runtime", "mode"),
    [("docker", "runtime"), ("docker", "ns"), ("docker", "toolbox"), ("runc", "runtime"),
     ("runc", "ns"), ("podman", "runtime"), ("containerd", "runtime"),
     ("rootless_podman", "runtime"), ("rootless_podman", "ns"), ("rootless_podman", "toolbox")],
)  # fmt: skip
def test_nothing_outlives_a_killed_debugtool(
    containers: harness.Containers, audit_log: Path, runtime: str, mode: str
) -> None:
    c = getattr(containers, runtime)()
    proc = subprocess.Popen(
        [sys.executable, "-m", "debugtool", "exec", "--mode", mode, c.name, "--", "sleep", "300"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_for(lambda: processes_in(c.pid, "sleep 300")), "the command never started"
    finally:
        proc.kill()
        proc.wait()
    assert wait_for(lambda: not processes_in(c.pid, "sleep 300")), (
        f"left running in the container: {processes_in(c.pid, 'sleep 300')}"
    )


@pytest.mark.parametrize("mode", ["runtime", "ns"])
def test_container_stopping_during_the_command(
    containers: harness.Containers, cli, audit_log: Path, mode: str
) -> None:
    c = containers.docker()
    proc = subprocess.Popen(
        [sys.executable, "-m", "debugtool", "exec", "--mode", mode, c.name, "--", "sleep", "30"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert wait_for(lambda: processes_in(c.pid, "sleep 30"))
    harness.run("docker", "kill", c.id)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 125
    assert (
        f"container {c.name} ({c.id[:12]}) stopped while the command was running "
        "(the command ended with signal SIGKILL)." in err
    )
    [entry] = sessions(audit_log)
    assert entry["exit_code"] == 125 and "stopped while the command was running" in entry["error"]


class Terminal:
    """debugtool under a real pty (pty.fork), with a window size, typing and reading."""

    def __init__(self, argv: list[str], size: tuple[int, int] = (33, 101)) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # pragma: no cover - the child
            os.execv(sys.executable, [sys.executable, "-m", "debugtool", *argv])
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", *size, 0, 0))
        self.seen = b""

    def resize(self, rows: int, cols: int) -> None:
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def type(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def expect(self, token: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while token.encode() not in self.seen and time.monotonic() < deadline:
            ready, _, _ = select.select([self.fd], [], [], 0.2)
            if ready:
                try:
                    self.seen += os.read(self.fd, 4096)
                except OSError:
                    break
        assert token.encode() in self.seen, self.seen.decode(errors="replace")
        return self.seen.decode(errors="replace")

    def exit_code(self, timeout: float = 20.0, close: bool = True) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.seen += os.read(self.fd, 4096)
            except OSError:
                pass
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                if close:
                    os.close(self.fd)
                return os.waitstatus_to_exitcode(status)
            time.sleep(0.05)
        os.kill(self.pid, signal.SIGKILL)
        raise AssertionError("debugtool did not exit")


@pytest.mark.parametrize(
    ("runtime", "mode"),
    [("docker", "runtime"), ("docker", "ns"), ("docker", "toolbox"), ("runc", "runtime")],
)
def test_interactive_tty_session(
    containers: harness.Containers, audit_log: Path, runtime: str, mode: str
) -> None:
    c = getattr(containers, runtime)()
    term = Terminal(["exec", "-it", "--mode", mode, c.name, "--", "sh"])
    term.expect("# ")
    term.type("echo $((6*7)); stty size; tty\r")
    term.expect("33 101")  # the initial window size was copied
    assert "42" in term.seen.decode()
    term.resize(41, 117)  # SIGWINCH: the command's terminal follows
    time.sleep(0.5)
    term.type("stty size\r")
    term.expect("41 117")
    term.type("sleep 60\r")
    time.sleep(0.5)
    term.type("\x03")  # Ctrl-C reaches the command, not debugtool
    term.type("echo still-$((1+1))\r")
    term.expect("still-2")
    term.type("exit 3\r")
    assert term.exit_code() == 3
    assert "/dev/pts/" in term.seen.decode()
    entry = sessions(audit_log)[-1]
    assert entry["tty"] is True and entry["exit_code"] == 3


def test_shell_command_in_a_terminal(containers: harness.Containers, audit_log: Path) -> None:
    c = containers.docker()
    term = Terminal(["shell", c.name], size=(40, 120))
    term.expect("# ")
    term.type("stty size\r")
    term.expect("40 120")
    term.type("exit\r")
    assert term.exit_code() == 0


@pytest.mark.parametrize("mode", ["runtime", "ns"])
def test_sigterm_mid_session_restores_the_terminal_and_leaves_nothing(
    containers: harness.Containers, audit_log: Path, mode: str
) -> None:
    c = containers.docker()
    term = Terminal(["exec", "-it", "--mode", mode, c.name, "--", "sh"])
    term.expect("# ")
    assert not termios.tcgetattr(term.fd)[3] & termios.ICANON  # raw while the session runs
    term.type("sleep 300\r")
    assert wait_for(lambda: processes_in(c.pid, "sleep 300"))
    os.kill(term.pid, signal.SIGTERM)
    assert term.exit_code(close=False) == 128 + signal.SIGTERM
    lflag = termios.tcgetattr(term.fd)[3]
    os.close(term.fd)
    assert lflag & termios.ICANON and lflag & termios.ECHO  # cooked mode is back
    assert wait_for(lambda: not processes_in(c.pid, "sleep 300"))
    entry = sessions(audit_log)[-1]
    assert entry["argv"] == ["sh"] and entry["tty"] is True
    assert entry["exit_code"] == 143 and entry["error"] == "debugtool was stopped (signal SIGTERM)"
