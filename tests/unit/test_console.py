"""The console's command parser, file commands and completers, on a directory used as a root."""

from __future__ import annotations

import io
import os
import subprocess
from pathlib import Path

import pytest

from debugtool.console import Console, ConsoleError, split_commands
from debugtool.model import Container, Process, Snapshot


class DirectoryTarget:
    """Stands in for a pinned Target whose root is a plain directory (no container involved)."""

    def __init__(self, root: Path) -> None:
        self.root = str(root)
        self.pid = 4242
        self.name = "web"
        self.container = Container(id="f" * 64, name="web", runtime="docker", status="running")
        self.running = True

    def alive(self) -> bool:
        return self.running


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "root"
    (r / "etc").mkdir(parents=True)
    (r / "var" / "log").mkdir(parents=True)
    (r / "etc" / "hostname").write_text("container-host\n")
    (r / "etc" / "myapp.conf").write_text("port=8080\nname=web\n# password here\n")
    (r / "var" / "log" / "app.log").write_text("".join(f"line {i}\n" for i in range(1, 101)))
    # A malicious link: absolute, climbing out. Inside the root it must resolve to root/etc/shadow.
    (r / "etc" / "passwd").symlink_to("/../../../../etc/shadow")
    (r / "link-to-etc").symlink_to("../../../etc")
    return r


def make(root: Path, snapshot: Snapshot | None = None) -> tuple[Console, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    target = DirectoryTarget(root)
    snap = snapshot or Snapshot(container=target.container)
    console = Console(target, out=out, err=err, collect=lambda t: snap)  # type: ignore[arg-type]
    return console, out, err


def test_split_commands_respects_quotes() -> None:
    assert split_commands("ls /etc; cat '/a;b' \"c d\"") == [["ls", "/etc"], ["cat", "/a;b", "c d"]]
    assert split_commands("  ;; pwd ;") == [["pwd"]]
    with pytest.raises(ConsoleError, match="cannot parse"):
        split_commands("cat 'unterminated")


def test_cat_and_error_do_not_end_the_session(root: Path) -> None:
    console, out, err = make(root)
    status = console.run_line("cat /nope; cat /etc/hostname")
    assert status == 0
    assert out.getvalue() == "container-host\n"
    assert "/nope" in err.getvalue() and "Traceback" not in err.getvalue()
    assert not console.done


def test_symlink_out_of_the_root_never_reaches_the_host(root: Path) -> None:
    console, out, err = make(root)
    assert console.run_line("cat /etc/passwd") == 1
    assert "root:" not in out.getvalue()  # the host's /etc/shadow starts with root:
    assert out.getvalue() == ""
    console.run_line("ls /link-to-etc")
    listed = out.getvalue().split()
    assert "hostname" in listed and "os-release" not in listed  # the container's /etc only


def test_cd_pwd_and_relative_paths(root: Path) -> None:
    console, out, err = make(root)
    console.run_line("cd /var/log; pwd; head -n 2 app.log; tail -n 1 app.log; cd ..; pwd")
    assert out.getvalue() == "/var/log\nline 1\nline 2\nline 100\n/var\n"
    assert console.run_line("cd /etc/hostname") == 1
    assert "not a directory" in err.getvalue()
    console.run_line("cd /../../..")
    assert console.cwd == "/"


def test_ls_long_and_find_and_grep(root: Path) -> None:
    console, out, _ = make(root)
    console.run_line("ls -l /etc")
    assert "passwd -> /../../../../etc/shadow" in out.getvalue()
    out.truncate(0)
    out.seek(0)
    console.run_line("find / -name '*.conf'")
    assert out.getvalue().split() == ["/etc/myapp.conf"]
    out.truncate(0)
    out.seek(0)
    assert console.run_line("grep -n -i PORT /etc/myapp.conf") == 0
    assert out.getvalue() == "1:port=8080\n"
    out.truncate(0)
    out.seek(0)
    assert console.run_line("grep -r -l name /etc") == 0
    assert out.getvalue() == "/etc/myapp.conf\n"
    assert console.run_line("grep nomatch /etc/myapp.conf") == 1


def test_unknown_command_and_bad_option(root: Path) -> None:
    console, _, err = make(root)
    assert console.run_line("frob") == 127
    assert "unknown command 'frob'" in err.getvalue()
    assert console.run_line("head -n x /etc/hostname") == 1
    assert "invalid int value" in err.getvalue()


def test_exit_stops_the_line(root: Path) -> None:
    console, out, _ = make(root)
    console.run_line("exit; pwd")
    assert console.done and out.getvalue() == ""


def test_completes_commands(root: Path) -> None:
    console, _, _ = make(root)
    assert console.completions("ca") == (2, ["caps", "cat"])
    assert console.completions("ls /; gr") == (2, ["grep"])


def test_completes_paths_from_the_container_not_the_host(root: Path) -> None:
    console, _, _ = make(root)
    length, found = console.completions("cat /etc/my")
    assert (length, found) == (len("/etc/my"), ["/etc/myapp.conf"])
    _, found = console.completions("cat /etc/pass")
    assert found == ["/etc/passwd"]  # the link itself, not the host's file
    _, found = console.completions("cat /etc/os-rel")
    assert found == []  # exists on the host, not in the container
    _, found = console.completions("cd /v")
    assert found == ["/var/"]
    console.run_line("cd /var")
    _, found = console.completions("cat lo")
    assert found == ["log/"]


def test_completes_pids_and_syscalls(root: Path) -> None:
    snap = Snapshot(
        container=Container(id="f" * 64, name="web", runtime="docker"),
        processes=[
            Process(pid=900, nspid=1),
            Process(pid=901, nspid=12),
            Process(pid=902, nspid=2),
        ],
    )
    console, _, _ = make(root, snap)
    assert console.completions("trace ")[1] == ["1", "2", "12"]
    assert console.completions("env 1")[1] == ["1", "12"]
    _, found = console.completions("trace 1 -e ope")
    assert "openat" in found and "open" in found
    _, found = console.completions("trace 1 -e read,wri")
    assert "read,write" in found


def test_env_is_redacted_unless_asked(root: Path) -> None:
    # A child process's environ stands in for a container process's.
    env = {"DT_TEST_API_TOKEN": "s3cr3t-value", "DT_TEST_PLAIN": "visible", "PATH": "/bin"}
    child = subprocess.Popen(["sleep", "30"], env=env)
    try:
        snap = Snapshot(
            container=Container(id="f" * 64, name="web", runtime="docker"),
            processes=[Process(pid=child.pid, nspid=1)],
        )
        console, out, err = make(root, snap)
        console.run_line("env 1")
        assert "s3cr3t-value" not in out.getvalue()
        assert "DT_TEST_API_TOKEN=<redacted>" in out.getvalue()
        assert "DT_TEST_PLAIN=visible" in out.getvalue()
        assert "--show-secrets" in err.getvalue()
        console.show_secrets = True
        console.run_line("env 1")
        assert "DT_TEST_API_TOKEN=s3cr3t-value" in out.getvalue()
    finally:
        child.kill()
        child.wait()


def test_container_exit_keeps_the_last_snapshot(root: Path) -> None:
    snap = Snapshot(
        container=Container(id="f" * 64, name="web", runtime="docker"),
        processes=[Process(pid=900, nspid=1, cmdline=["/bin/sleep", "9"])],
    )
    console, out, err = make(root, snap)
    console.run_line("ps")
    console.target.running = False  # type: ignore[attr-defined]
    assert console.run_line("ps") == 0
    assert out.getvalue().count("/bin/sleep 9") == 2
    assert "has exited" in err.getvalue()
    assert console.run_line("cat /etc/hostname") == 1
    assert "no longer reachable" in err.getvalue()


OSC52 = "\x1b]52;c;SGVsbG8=\x07"  # writes the operator's clipboard when it reaches a terminal


def test_names_and_contents_from_the_container_never_reach_the_terminal_raw(
    tmp_path: Path,
) -> None:
    r = tmp_path / "hostile"
    (r / "etc").mkdir(parents=True)
    (r / "etc" / "passwd").write_text(f"ev{OSC52}il:x:{os.getuid()}:0::/:/bin/sh\n")
    d = r / f"d{OSC52}"
    d.mkdir()
    (d / "two\nlines").write_text("a\tb\n\x1b[2Jcleared\rover\n")
    (d / "link").symlink_to(f"/tmp/\x9b31m{OSC52}")
    console, out, err = make(r)
    console.run_line(
        f"cd '/d{OSC52}'; pwd; ls; ls -l; find /d*; cat 'two\nlines'; grep -r -n clear; "
        f"stat link; cat /nope{OSC52}"
    )
    shown = out.getvalue() + err.getvalue()
    assert not any(c in shown for c in "\x1b\x07\x9b\r")
    lines = out.getvalue().splitlines()
    assert "/d\\x1b]52;c;SGVsbG8=\\x07" in lines  # pwd
    assert "two\\nlines" in lines  # one entry, one line
    assert "a\tb" in lines  # contents keep their tabs and lines
    assert "\\x1b[2Jcleared\\rover" in lines
    assert any(line.endswith("link -> /tmp/\\x9b31m\\x1b]52;c;SGVsbG8=\\x07") for line in lines)
    assert any("ev\\x1b]52;c;SGVsbG8=\\x07il" in line for line in lines)  # ls -l, stat: owner
    assert "/nope\\x1b]52" in err.getvalue()


def test_net_and_caps_run(root: Path) -> None:
    """Each section command parses its own options (it once looked up 'network', not 'net')."""
    console, out, err = make(root)
    for command in ("net", "caps", "cgroup", "mounts", "net --json"):
        assert console.run_line(command) == 0, err.getvalue()
    assert "SOCKETS" in out.getvalue() and "Security:" in out.getvalue()


@pytest.mark.parametrize("depth", ["-1", "100000"])
def test_find_maxdepth_out_of_range_is_one_sentence(root: Path, depth: str) -> None:
    console, _, err = make(root)
    assert console.run_line(f"find / -maxdepth {depth}") != 0
    assert "find: -maxdepth takes a depth from 0 to 256." in err.getvalue()
