"""The console on real containers: -c scripts, distroless, a malicious symlink, a container that
exits mid-session, and one interactive session driven through tmux."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import harness
import pytest


def test_commands_on_a_docker_container(containers: harness.Containers, cli) -> None:
    c = containers.docker()
    result = cli("console", c.id, "-c", "cat /etc/hostname; ls /bin; pwd; cd /etc; pwd")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == c.id[:12]  # Docker's own /etc/hostname for the container
    assert "busybox" in lines and "sh" in lines
    assert lines[-2:] == ["/", "/etc"]


def test_errors_do_not_end_the_script(containers: harness.Containers, cli) -> None:
    c = containers.docker()
    result = cli("console", c.name, "-c", "cat /nonexistent; frob; cat /etc/passwd")
    assert result.returncode == 0
    assert "/nonexistent" in result.stderr and "unknown command 'frob'" in result.stderr
    assert "app:x:1000:1000" in result.stdout
    assert "Traceback" not in result.stderr


def test_distroless_container(containers: harness.Containers, cli) -> None:
    c = containers.docker(image=harness.DISTROLESS_IMAGE, cmd=("/bin/busybox", "sleep", "100000"))
    result = cli("console", c.id, "-c", "ls /bin; ps; find / -maxdepth 1 -type d -name e*")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "busybox\n" in out and "sh\n" not in out
    assert "/bin/busybox sleep 100000" in out
    assert "/etc\n" in out


def test_symlink_out_of_the_root_shows_the_containers_view(
    containers: harness.Containers, cli
) -> None:
    def plant(rootfs: Path) -> None:
        (rootfs / "etc" / "passwd").unlink()
        (rootfs / "etc" / "passwd").symlink_to("/../../../../../../etc/shadow")
        (rootfs / "etc" / "shadow").write_text("container-shadow-marker\n")
        (rootfs / "hostetc").symlink_to("../../../../../../../etc")

    c = containers.runc(prepare=plant)
    result = cli("console", c.id, "-c", "cat /etc/passwd; ls /hostetc")
    host_shadow_first = Path("/etc/shadow").read_text().splitlines()[0]
    assert host_shadow_first not in result.stdout
    assert "container-shadow-marker" in result.stdout  # the link resolved inside the root
    assert "os-release" not in result.stdout  # /hostetc is the container's /etc
    assert "hostname" in result.stdout


def test_container_exit_mid_session_keeps_the_last_snapshot(
    containers: harness.Containers,
) -> None:
    c = containers.docker()
    proc = subprocess.Popen(
        [sys.executable, "-m", "debugtool", "console", c.id],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None
    proc.stdin.write("ps\n")
    proc.stdin.flush()
    time.sleep(3)  # let the first snapshot be taken before the container goes
    harness.run("docker", "kill", c.id)
    time.sleep(1)
    out, err = proc.communicate("ps\ncat /etc/hostname\n", timeout=60)
    assert proc.returncode == 1  # the last command (cat) failed: the files are gone
    assert out.count("sleep 100000") == 2, out
    assert "has exited" in err
    assert "Traceback" not in err


@pytest.mark.skipif(not os.path.exists("/usr/bin/tmux"), reason="tmux is not installed")
def test_interactive_session_in_tmux(containers: harness.Containers, tmp_path: Path) -> None:
    c = containers.docker()
    session = f"dt-console-{uuid.uuid4().hex[:8]}"
    env = f"XDG_STATE_HOME={tmp_path}"
    cmd = f"env {env} {sys.executable} -m debugtool console {c.id}"
    subprocess.run(
        ["tmux", "new-session", "-d", "-x", "120", "-y", "40", "-s", session, cmd], check=True
    )
    try:

        def screen() -> str:
            return subprocess.run(
                ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True
            ).stdout

        def wait_for(text: str, timeout: float = 30) -> str:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                shown = screen()
                if text in shown:
                    return shown
                time.sleep(0.2)
            raise AssertionError(f"{text!r} never appeared; screen:\n{screen()}")

        wait_for(":/>")
        assert c.id[:12] in wait_for("status: running")  # the bottom toolbar
        # Tab completes a path from the container's files.
        subprocess.run(["tmux", "send-keys", "-t", session, "cat /etc/hostn", "Tab"], check=True)
        wait_for("cat /etc/hostname")
        subprocess.run(["tmux", "send-keys", "-t", session, "Enter"], check=True)
        wait_for(c.id[:12] + "\n")
        subprocess.run(["tmux", "send-keys", "-t", session, "cd /etc", "Enter"], check=True)
        wait_for(":/etc>")
        subprocess.run(["tmux", "send-keys", "-t", session, "exit", "Enter"], check=True)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            alive = subprocess.run(["tmux", "has-session", "-t", session], capture_output=True)
            if alive.returncode != 0:
                break
            time.sleep(0.2)
        history = (tmp_path / "debugtool" / "console_history").read_text()
        assert "cat /etc/hostname" in history and "cd /etc" in history
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


def test_pipes_on_a_docker_container(containers: harness.Containers, cli) -> None:
    c = containers.docker()
    result = cli(
        "console",
        c.id,
        "-c",
        "cat /etc/passwd | grep root; ps | grep sleep | wc -l; ls -l /etc | head -2; "
        "env | sort | head -1; cat /etc/passwd | grep 'root|app'",
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert len(lines) == 7, lines
    assert lines[0] == "root:x:0:0:root:/root:/bin/sh"
    assert lines[1] == "1"  # the container's one sleep, and no header
    assert lines[2].startswith("-rw-r--r--") and lines[2].endswith(" group")
    assert lines[3].endswith(" hostname")
    assert lines[4] == "HOME=/root"
    # 'root|app' is one quoted word, the pattern (an alternation), not a pipe.
    assert lines[5:] == [
        "root:x:0:0:root:/root:/bin/sh",
        "app:x:1000:1000:app user:/home/app:/bin/sh",
    ]


def test_pipe_errors_and_refusals(containers: harness.Containers, cli) -> None:
    c = containers.docker()
    result = cli("console", c.id, "-c", "cat /nope | wc -l")
    assert result.returncode == 0 and result.stdout == "0\n"
    assert "cat: /nope: no such file or directory in the container." in result.stderr
    result = cli("console", c.id, "-c", "ls / > /tmp/listing")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == (
        "output redirection is not supported; use the CLI's --json or copy the text.\n"
    )
    assert not os.path.exists("/tmp/listing")
    result = cli("console", c.id, "-c", "ps |")
    assert result.returncode == 2 and "'|' has no command after it" in result.stderr
    assert "Traceback" not in result.stderr


def test_ls_la_and_stat_names_on_a_docker_container(containers: harness.Containers, cli) -> None:
    c = containers.docker()
    result = cli("console", c.id, "-c", "ls -la /etc; stat /etc/hostname /home/app")
    assert result.returncode == 0, result.stderr
    rows = {line.split()[-1]: line.split() for line in result.stdout.splitlines()}
    # '.' and '..' first, as GNU ls -a; the same link counts as the container's own ls shows.
    names = [line.split()[-1] for line in result.stdout.splitlines()[:2]]
    assert names == [".", ".."]
    inside = harness.run("docker", "exec", c.id, "ls", "-la", "/etc").splitlines()
    theirs = {line.split()[-1]: line.split() for line in inside if len(line.split()) >= 9}
    for name in (".", "..", "group", "passwd"):
        assert rows[name][1:4] == theirs[name][1:4], name  # links, owner, group
    assert "Uid: 0 (root)   Gid: 0 (root)" in result.stdout
    # The harness's /home/app belongs to root; make one that the container's app user owns.
    harness.run("docker", "exec", c.id, "/bin/busybox", "chown", "1000:1000", "/home/app")
    result = cli("console", c.id, "-c", "stat /home/app")
    assert "Uid: 1000 (app)   Gid: 1000 (app)" in result.stdout


@pytest.mark.skipif(not os.path.exists("/usr/bin/tmux"), reason="tmux is not installed")
def test_clear_and_a_pipe_in_tmux(containers: harness.Containers, tmp_path: Path) -> None:
    c = containers.docker()
    session = f"dt-console-{uuid.uuid4().hex[:8]}"
    cmd = f"env XDG_STATE_HOME={tmp_path} {sys.executable} -m debugtool console {c.id}"
    subprocess.run(
        ["tmux", "new-session", "-d", "-x", "120", "-y", "40", "-s", session, cmd], check=True
    )

    def screen() -> str:
        return subprocess.run(
            ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True
        ).stdout

    def until(check: Callable[[str], bool], what: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            shown = screen()
            if check(shown):
                return shown
            time.sleep(0.2)
        raise AssertionError(f"{what} never happened; screen:\n{screen()}")

    def send(line: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", session, "-l", line], check=True)
        subprocess.run(["tmux", "send-keys", "-t", session, "Enter"], check=True)

    try:
        until(lambda s: ":/>" in s, "the prompt")
        send("cat /etc/passwd | grep app")
        until(lambda s: "app:x:1000:1000:app user" in s, "the pipe's output")
        shown = screen()
        assert "root:x:0:0" not in shown and "nothing runs inside" in shown.lower()
        send("clear")
        # The screen is empty but for a new prompt at the top (and the toolbar at the bottom).
        shown = until(
            lambda s: (
                "app:x:1000" not in s and (s.splitlines() or [""])[0].rstrip().endswith(":/>")
            ),
            "the clear",
        )
        assert "Nothing runs inside" not in shown  # the banner went with the rest
        send("exit")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
