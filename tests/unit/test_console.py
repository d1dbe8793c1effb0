"""The console's command parser, file commands and completers, on a directory used as a root."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from debugtool.console import CLEAR_SCREEN, Console, ConsoleError, Owners, parse_line
from debugtool.model import Container
from debugtool.snapshot import Process, Snapshot


class DirectoryTarget:
    """Stands in for a pinned Target whose root is a plain directory (no container involved)."""

    def __init__(self, root: Path) -> None:
        self.root = str(root)
        self.pid = os.getpid()  # this process stands in for the container's init (its id maps)
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


def test_parse_line_respects_quotes() -> None:
    assert parse_line("ls /etc; cat '/a;b' \"c d\"") == [[["ls", "/etc"]], [["cat", "/a;b", "c d"]]]
    assert parse_line("  ;; pwd ;") == [[["pwd"]]]
    assert parse_line("grep '' f") == [[["grep", "", "f"]]]  # an empty word is a word
    assert parse_line('echo a"b c"d \\x') == [[["echo", "ab cd", "x"]]]  # as sh: \x is x
    assert parse_line(r'grep "a\"b\\" \;') == [[["grep", 'a"b\\', ";"]]]
    for line in ("cat 'unterminated", 'cat "unterminated', "cat a\\"):
        with pytest.raises(ConsoleError, match="cannot parse"):
            parse_line(line)


def test_parse_line_pipes() -> None:
    assert parse_line("cat /etc/passwd | grep root") == [[["cat", "/etc/passwd"], ["grep", "root"]]]
    assert parse_line("ls -l|head -5;env|sort") == [
        [["ls", "-l"], ["head", "-5"]],
        [["env"], ["sort"]],
    ]
    # A quoted or escaped '|' is part of a word, not a pipe.
    assert parse_line("grep 'a|b' /f") == [[["grep", "a|b", "/f"]]]
    assert parse_line('grep "|" /f | wc -l') == [[["grep", "|", "/f"], ["wc", "-l"]]]
    assert parse_line(r"grep a\|b /f") == [[["grep", "a|b", "/f"]]]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("cat /etc/passwd |", "'|' has no command after it"),
        ("cat /etc/passwd | ; pwd", "'|' has no command after it"),
        ("| grep root", "'|' has no command before it"),
        ("ps | | grep sh", "'|' has no command before it"),
        ("ps || pwd", "'||' is not supported: commands are joined by '|' (a pipe) or ';' only."),
        ("ps ||| pwd", "'||' is not supported"),
        ("ps && pwd", "'&&' is not supported"),
        ("ps &", "'&' is not supported: console commands run one at a time"),
        ("ps > /tmp/out", "output redirection is not supported; use the CLI's --json or copy"),
        ("ps >> /tmp/out", "output redirection is not supported"),
        ("ps 2>/dev/null", "output redirection is not supported"),
        ("grep root < /etc/passwd", "input redirection is not supported; name the file instead"),
    ],
)
def test_parse_line_refuses_what_it_does_not_have(line: str, message: str) -> None:
    with pytest.raises(ConsoleError) as info:
        parse_line(line)
    assert message in str(info.value)


def test_a_line_that_does_not_parse_runs_nothing(root: Path) -> None:
    console, out, err = make(root)
    assert console.run_line("pwd; cat /etc/hostname |") == 2
    assert out.getvalue() == ""
    assert err.getvalue().count("\n") == 1 and "no command after it" in err.getvalue()
    assert console.run_line("ls > /tmp/listing") == 2
    assert "output redirection is not supported" in err.getvalue()


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


def reset(out: io.StringIO) -> None:
    out.truncate(0)
    out.seek(0)


def test_pipes_feed_each_command_the_one_before(root: Path) -> None:
    console, out, err = make(root)
    assert console.run_line("cat /etc/myapp.conf | grep name") == 0
    assert out.getvalue() == "name=web\n"
    reset(out)
    assert console.run_line("cat /var/log/app.log | head -n 20 | tail -3 | wc -l") == 0
    assert out.getvalue() == "3\n"
    reset(out)
    assert console.run_line("ls /etc | head -2; pwd") == 0
    assert out.getvalue() == "hostname\nmyapp.conf\n/\n"
    assert err.getvalue() == ""


def test_pipe_status_is_the_last_commands_and_errors_skip_the_pipe(root: Path) -> None:
    console, out, err = make(root)
    assert console.run_line("cat /etc/hostname | grep nomatch") == 1
    assert out.getvalue() == ""
    # The first command fails: its error goes to err, not into wc; wc counts nothing.
    assert console.run_line("cat /nope | wc -l") == 0
    assert out.getvalue() == "0\n"
    assert "cat: /nope: no such file or directory" in err.getvalue()
    assert console.run_line("cat /etc/hostname | frob") == 127


def test_pipes_pass_real_text_and_escape_only_at_the_end(tmp_path: Path) -> None:
    r = tmp_path / "r"
    r.mkdir()
    data = b"plain\n\x1b[2Jcleared\nlatin1 \xe9t\xe9\n"
    (r / "f").write_bytes(data)
    console, out, _ = make(r)
    # grep sees the real ESC (the pattern holds one), not the four characters '\x1b'.
    assert console.run_line("cat /f | grep '\x1b\\['") == 0
    assert out.getvalue() == "\\x1b[2Jcleared\n"
    reset(out)
    assert console.run_line("cat /f | grep 'x1b'") == 1  # the escaped form is not in the data
    assert console.run_line("cat /f | wc -c") == 0
    assert out.getvalue() == f"{len(data)}\n"  # bytes that are not UTF-8 count as one each
    reset(out)
    console.run_line("cat /f | grep latin1")
    assert out.getvalue() == "latin1 \\xe9t\\xe9\n"
    assert "\x1b" not in out.getvalue()


def test_what_reads_input_says_so_when_there_is_none(root: Path) -> None:
    console, _, err = make(root)
    for command in ("grep root", "sort", "wc -l", "head", "tail -n 2", "uniq", "cat"):
        assert console.run_line(command) == 1
    lines = err.getvalue().splitlines()
    assert len(lines) == 7
    assert lines[0].startswith("grep: name a file, pipe a command into it")
    assert lines[1] == "sort: name a file, or pipe a command into it ('cat FILE | sort')."


def test_commands_with_their_own_output_stay_out_of_pipes(root: Path) -> None:
    console, out, err = make(root)
    for line in ("exec ls | grep x", "ps | trace 1", "clear | cat", "ls | bundle"):
        assert console.run_line(line) == 2
    assert out.getvalue() == ""
    assert "exec cannot be part of a pipeline: it runs a debugtool process" in err.getvalue()
    assert "clear cannot be part of a pipeline" in err.getvalue()


def test_a_pipe_holds_at_most_pipe_limit(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import debugtool.console

    monkeypatch.setattr(debugtool.console, "PIPE_LIMIT", 100)
    console, out, err = make(root)
    assert console.run_line("cat /var/log/app.log | wc -l") == 0
    assert "cat: more than 0 MiB into the pipe" in err.getvalue()
    assert int(out.getvalue()) < 100 // len("line 1\n")  # what fitted went through


def test_head_and_tail_take_dash_number(root: Path) -> None:
    console, out, _ = make(root)
    console.run_line("head -3 /var/log/app.log; tail -2 /var/log/app.log")
    assert out.getvalue() == "line 1\nline 2\nline 3\nline 99\nline 100\n"


def test_sort(tmp_path: Path) -> None:
    r = tmp_path / "r"
    r.mkdir()
    (r / "f").write_text("b 10\nA 9\na 100\nb 10\nc -1\n")
    console, out, _ = make(r)
    expected = {
        "sort /f": "A 9\na 100\nb 10\nb 10\nc -1\n",  # bytes, as LC_ALL=C
        "sort -r /f": "c -1\nb 10\nb 10\na 100\nA 9\n",
        "sort -u /f": "A 9\na 100\nb 10\nc -1\n",
        "sort -f -u /f": "a 100\nA 9\nb 10\nc -1\n",  # as LC_ALL=C sort -f -u
        "sort -k 2 -n /f": "c -1\nA 9\nb 10\nb 10\na 100\n",
        "cat /f | sort -k2 -n -r | head -1": "a 100\n",
        "cat /f | sort -t ' ' -k 2 -n -r": "a 100\nb 10\nb 10\nA 9\nc -1\n",
    }
    for line, want in expected.items():
        reset(out)
        assert console.run_line(line) == 0, line
        assert out.getvalue() == want, line
    assert console.run_line("sort -k 0 /f") == 1
    assert console.run_line("sort -t ab /f") == 1


def test_uniq(tmp_path: Path) -> None:
    r = tmp_path / "r"
    r.mkdir()
    (r / "f").write_text("a\na\nb\na\nc\nc\nc\n")
    console, out, _ = make(r)
    expected = {
        "uniq /f": "a\nb\na\nc\n",  # adjacent repeats only, as uniq does
        "cat /f | uniq -c": "      2 a\n      1 b\n      1 a\n      3 c\n",
        "uniq -d /f": "a\nc\n",
        "uniq -u /f": "b\na\n",
        "cat /f | sort | uniq -c | sort -n -r | head -2": "      3 c\n      3 a\n",
    }
    for line, want in expected.items():
        reset(out)
        assert console.run_line(line) == 0, line
        assert out.getvalue() == want, line
    assert console.run_line("uniq -d -u /f") == 1


def test_wc(root: Path) -> None:
    console, out, err = make(root)
    console.run_line("cat /etc/myapp.conf | wc")
    assert out.getvalue() == "      3       5      35\n"  # as GNU wc on its input
    reset(out)
    console.run_line("wc -l /var/log/app.log /etc/myapp.conf")
    assert out.getvalue() == "100 /var/log/app.log\n  3 /etc/myapp.conf\n103 total\n"
    reset(out)
    assert console.run_line("wc -w /etc/hostname /nope") == 1
    assert out.getvalue() == "1 /etc/hostname\n"
    assert "wc: /nope: no such file" in err.getvalue()


def test_grep_invert_and_input(root: Path) -> None:
    console, out, _ = make(root)
    assert console.run_line("cat /etc/myapp.conf | grep -v -n '='") == 0
    assert out.getvalue() == "3:# password here\n"
    reset(out)
    assert console.run_line("cat /etc/myapp.conf | grep -l port") == 0
    assert out.getvalue() == "(standard input)\n"


def test_ls_all_shows_dot_and_dotdot_from_the_container(root: Path) -> None:
    (root / ".hidden").write_text("")
    console, out, _ = make(root)
    console.run_line("ls -a /")
    names = out.getvalue().splitlines()
    assert names[:3] == ["./", "../", ".hidden"]
    reset(out)
    console.run_line("ls -A /")
    assert out.getvalue().splitlines()[0] == ".hidden"
    reset(out)
    console.run_line("ls -la /var/log")
    rows = {line.split()[-1]: line.split() for line in out.getvalue().splitlines()}
    for name, host in ((".", root / "var" / "log"), ("..", root / "var")):
        st = host.stat()
        assert rows[name][0].startswith("d") and int(rows[name][1]) == st.st_nlink
        assert rows[name][5] == time.strftime("%Y-%m-%d", time.localtime(st.st_mtime))
    reset(out)
    # '..' of the container's root is its root, not the host directory that holds it.
    console.run_line("ls -la /")
    rows = {line.split()[-1]: line.split() for line in out.getvalue().splitlines()}
    assert int(rows[".."][1]) == root.stat().st_nlink != root.parent.stat().st_nlink
    reset(out)
    # Through a symlink, '..' is the physical parent, as the kernel resolves it in the root.
    console.run_line("ls -la /link-to-etc")
    rows = {line.split()[-1]: line.split() for line in out.getvalue().splitlines()}
    assert int(rows["."][1]) == (root / "etc").stat().st_nlink
    assert int(rows[".."][1]) == root.stat().st_nlink


def owned_root(tmp_path: Path, group: str) -> Path:
    r = tmp_path / "owned"
    (r / "etc").mkdir(parents=True)
    uid, gid = os.getuid(), os.getgid()
    (r / "etc" / "passwd").write_text(f"daemon:x:1:1::/:/bin/false\nops:x:{uid}:{gid}::/:/bin/sh\n")
    (r / "etc" / "group").write_text(group)
    (r / "data").write_text("x\n")
    return r


def test_stat_names_the_owner_and_group_from_the_container(tmp_path: Path) -> None:
    gid = os.getgid()
    r = owned_root(tmp_path, f"daemon:x:1:\nopsgroup:x:{gid}:ops\n")
    console, out, _ = make(r)
    console.run_line("stat /data; ls -l /data")
    text = out.getvalue()
    assert f"Uid: {os.getuid()} (ops)   Gid: {gid} (opsgroup)" in text
    assert " ops      opsgroup " in text


def test_stat_shows_question_mark_only_for_unknown_ids(tmp_path: Path) -> None:
    r = owned_root(tmp_path, "daemon:x:1:\n")  # no entry for the file's group
    console, out, _ = make(r)
    console.run_line("stat /data")
    assert f"Uid: {os.getuid()} (ops)   Gid: {os.getgid()} (?)" in out.getvalue()
    (r / "etc" / "group").unlink()
    (r / "etc" / "passwd").unlink()
    reset(out)
    console.run_line("stat /data; ls -l /data")
    text = out.getvalue()
    assert f"Uid: {os.getuid()} (?)   Gid: {os.getgid()} (?)" in text
    assert f" {os.getuid():<8} {os.getgid():<8} " in text  # ls -l shows the numbers


def test_owners_map_host_ids_into_the_user_namespace() -> None:
    owners = Owners({0: "root", 5: "app"}, {0: "root"}, [(0, 100000, 65536)], [(0, 100000, 10)])
    assert owners.user(100005) == (5, "app")
    assert owners.group(100000) == (0, "root")
    assert owners.user(0) == (Owners.OVERFLOW, None)  # host root is not mapped: nobody inside
    assert owners.group(100010) == (Owners.OVERFLOW, None)


@pytest.mark.skipif(not shutil.which("unshare"), reason="util-linux unshare is not installed")
def test_stat_in_a_user_namespace_shows_the_containers_ids(tmp_path: Path) -> None:
    """A process in its own user namespace (host uid 0 is 1000 inside) stands in for the
    container: the host's root-owned file is shown as uid 1000, named from its passwd."""
    if os.getuid() != 0:
        pytest.skip("needs root, so that the test's files belong to the mapped uid 0")
    r = owned_root(tmp_path, "daemon:x:1:\napp:x:1000:\n")
    (r / "etc" / "passwd").write_text("app:x:1000:1000::/:/bin/sh\n")
    (r / "other").write_text("")
    os.chown(r / "other", 5, 5)  # outside the map: nobody inside
    child = subprocess.Popen(
        ["unshare", "--map-user=1000", "--map-group=1000", "sleep", "60"],
        stdin=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):  # until unshare has written the maps and exec'd sleep
            if "1000" in Path(f"/proc/{child.pid}/uid_map").read_text():
                break
            time.sleep(0.05)
        console, out, _ = make(r)
        console.target.pid = child.pid  # type: ignore[misc]
        console.run_line("stat /data /other")
        text = out.getvalue()
        assert "Uid: 1000 (app)   Gid: 1000 (app)" in text
        assert f"Uid: {Owners.OVERFLOW} (?)   Gid: {Owners.OVERFLOW} (?)" in text
    finally:
        child.kill()
        child.wait()


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_clear_clears_a_terminal_and_nothing_else(root: Path) -> None:
    target = DirectoryTarget(root)
    screen = Terminal()
    console = Console(target, out=screen, err=io.StringIO())  # type: ignore[arg-type]
    assert console.run_line("clear") == 0
    assert screen.getvalue() == CLEAR_SCREEN == "\x1b[H\x1b[2J\x1b[3J"
    console, out, err = make(root)
    assert console.run_line("clear") == 0
    assert out.getvalue() == ""  # not a terminal: no escape sequence into a file or a pipe
    assert console.run_line("clear now") == 1
    assert "clear: unrecognized arguments: now." in err.getvalue()


def test_completes_after_a_pipe(root: Path) -> None:
    console, _, _ = make(root)
    assert console.completions("cat /etc/hostname | gr") == (2, ["grep"])
    assert console.completions("ps | grep x /etc/my")[1] == ["/etc/myapp.conf"]


def test_the_sessions_reason_goes_with_its_exec_and_trace(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The console is one audited session; what it runs through debugtool carries its reason
    (a reason typed after it wins: it comes later on the command line)."""
    import subprocess

    ran: list[list[str]] = []
    monkeypatch.setattr(subprocess, "call", lambda argv: ran.append(argv) or 0)
    target = DirectoryTarget(root)
    console = Console(target, out=io.StringIO(), err=io.StringIO(), reason="INC-5: disk")  # type: ignore[arg-type]
    assert console.run_line("exec ls /; trace 1 --count 3; bundle -o /tmp/x.tar.gz") == 0
    exec_argv, trace_argv, bundle_argv = (argv[3:] for argv in ran)
    assert exec_argv[:3] == ["exec", "--reason", "INC-5: disk"] and exec_argv[-2:] == ["ls", "/"]
    assert trace_argv[:3] == ["trace", "--reason", "INC-5: disk"]
    assert "--reason" not in bundle_argv  # a bundle is not a session
