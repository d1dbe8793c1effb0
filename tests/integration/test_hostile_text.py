"""A container that names everything with escape sequences never writes them to the terminal.

One Docker container (issue 11) whose init's argv, a process's comm, the user running them (from
the container's own /etc/passwd), a file name, a link target, a file's contents, an environment
value, a label, a tmpfs mount point, an abstract unix socket and its log output all carry ESC,
OSC 52 (a clipboard write, ended by BEL or by ST) and C1 CSI; plus a runc state directory whose
container id holds a newline and ESC. Every read command is run against it and its output, on
stdout and stderr, must hold no ESC, BEL or C1 byte, and must show the escaped form (so a
command cannot pass by printing nothing).
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import harness
import pytest

OSC52 = "\x1b]52;c;SGVsbG8=\x07"  # sets the clipboard to "Hello"
OSC52_ST = "\x1b]52;c;SGVsbG8=\x1b\\"  # the same, ended by ST
SHOWN = "\\x1b]52;c;SGVsbG8=\\x07"  # how printable shows OSC52
SHOWN_ST = "\\x1b]52;c;SGVsbG8=\\x1b\\"
COMM = "\x1b]0;p\x07"  # a process name (comm holds 15 bytes): sets the window title
USER = f"ev{OSC52}il"
DIR = f"/srv/d{OSC52}"
FILE = "f\x1b[31mred\x9b0m"
LINK = f"/x{OSC52_ST}"
ABSTRACT = f"sock{OSC52}"
RUNC_ID = "evil\nid\x1b[2J"


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, bytes]:
    """Run the CLI; return its exit code and stdout followed by stderr, as bytes."""
    proc = subprocess.run(
        [sys.executable, "-m", "debugtool", *args],
        capture_output=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )
    return proc.returncode, proc.stdout + proc.stderr


def assert_safe(output: bytes, *shown: str) -> None:
    """No ESC, BEL or C1 control (raw, or UTF-8 encoded) in ``output``; each of ``shown`` in it."""
    for byte in (b"\x1b", b"\x07", b"\x9b", b"\x9c", b"\x9d"):
        assert byte not in output, f"{byte!r} reached the terminal:\n{output!r}"
    text = output.decode("utf-8", "strict")  # all of it UTF-8: no stray byte either
    for s in shown:
        assert s in text, f"{s!r} is not shown:\n{text}"


@pytest.fixture(scope="module")
def hostile(module_containers: harness.Containers) -> harness.Started:
    """The container; its files, user and processes planted with ``docker exec`` (test setup)."""
    started = module_containers.docker(
        "--user",
        "1234",
        "--label",
        f"note={OSC52}",
        "-e",
        f"EVIL={OSC52}",
        "--tmpfs",
        f"/mnt/t{OSC52}",
        # Its init's argv holds the sequences; it writes one to its log.
        cmd=("sh", "-c", f"printf '%s log line\\n' '{OSC52}'; sleep 100000; : '{OSC52}'"),
    )
    cid = started.id
    plant = (
        'printf "%s\\n" "$1:x:1234:1234::/:/bin/sh" >> /etc/passwd && mkdir -p "$2" '
        '&& printf "%s\\n" "$3" > "$2/$4" && ln -s "$5" "$2/link" && ln -s busybox "/bin/$6"'
    )
    harness.run(
        "docker", "exec", "-u", "0", cid, "sh", "-c", plant, "sh",
        USER, DIR, f"contents {OSC52_ST}", FILE, LINK, COMM,
    )  # fmt: skip
    # A process whose comm is COMM (busybox picks the applet from argv[0]), holding TCP 9000.
    harness.run(
        "docker", "exec", "-d", "-u", "1234", cid, "sh", "-c",
        'exec -a nc "/bin/$1" -l -p 9000', "sh", COMM,
    )  # fmt: skip
    return started


@pytest.fixture(scope="module")
def abstract_socket(hostile: harness.Started):
    """An abstract unix socket in the container's network namespace, bound by a host process."""
    script = (
        "import socket, sys, time\n"
        "s = socket.socket(socket.AF_UNIX)\n"
        f"s.bind({chr(0) + ABSTRACT!r})\n"
        "s.listen()\n"
        "print('ready', flush=True)\n"
        "time.sleep(3600)\n"
    )
    proc = subprocess.Popen(
        ["nsenter", "-t", str(hostile.pid), "-n", sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        yield
    finally:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def runc_root(hostile: harness.Started, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A runc state root holding the container again under a hostile id, and a broken entry."""
    states = glob.glob(f"/run/docker/runtime-runc/*/{hostile.id}/state.json") + glob.glob(
        f"/run/containerd/runc/*/{hostile.id}/state.json"
    )
    assert states, "no runc state for the Docker container"
    state = json.loads(Path(states[0]).read_text())
    state["id"] = RUNC_ID
    root = tmp_path_factory.mktemp("runc-root")
    entry = root / RUNC_ID
    entry.mkdir()
    (entry / "state.json").write_text(json.dumps(state))
    broken = root / f"broken{OSC52}"
    broken.mkdir()
    (broken / "state.json").write_text("{not json")
    yield str(root)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def ready(hostile: harness.Started, abstract_socket: None) -> harness.Started:
    """The container once its comm-renamed process listens."""

    def listening() -> bool:
        code, out = run("net", "--json", "--sockets-only", hostile.id)
        return code == 0 and b'"local_port": 9000' in out

    for _ in range(100):
        if listening():
            return hostile
        subprocess.run(["sleep", "0.1"])
    raise AssertionError("the planted nc never listened")


def test_ps_and_a_runc_state_with_a_hostile_id(ready: harness.Started, runc_root: str) -> None:
    env = {"DEBUGTOOL_OCI_ROOTS": runc_root}
    code, out = run("ps", env=env)
    assert code == 0
    assert_safe(out, "evil\\nid\\x1b[2J", f"broken{SHOWN}")  # the id, and the warning's path
    code, out = run("ps", "-a", "--no-trunc", env=env)
    assert code == 0
    assert_safe(out, "evil\\nid\\x1b[2J")
    code, out = run("inspect", RUNC_ID, env=env)
    assert code == 0, out
    assert_safe(out, "ID:", "evil\\nid\\x1b[2J")


def test_inspect_shows_labels_escaped(ready: harness.Started) -> None:
    code, out = run("inspect", ready.name)
    assert code == 0
    assert_safe(out, f"note={SHOWN}")


def test_an_error_quoting_what_was_typed_is_escaped(ready: harness.Started) -> None:
    code, out = run("inspect", f"nosuch{OSC52}")
    assert code == 125
    assert_safe(out, f"nosuch{SHOWN}")


def test_top_shows_argv_comm_and_users_escaped(ready: harness.Started) -> None:
    for args in (["top", ready.name], ["top", "--tree", ready.name]):
        code, out = run(*args)
        assert code == 0
        assert_safe(out, f"ev{SHOWN}il", f"log line\\n' '{SHOWN}'")


def test_mounts_shows_a_hostile_mount_point_escaped(ready: harness.Started) -> None:
    code, out = run("mounts", ready.name)
    assert code == 0
    assert_safe(out, f"/mnt/t{SHOWN}")


def test_net_shows_comm_and_unix_paths_escaped(ready: harness.Started) -> None:
    code, out = run("net", ready.name)
    assert code == 0
    assert_safe(out, "\\x1b]0;p\\x07", f"@sock{SHOWN}")


def test_json_is_exact_and_safe(ready: harness.Started) -> None:
    for args in (
        ["ps", "--json"],
        ["inspect", "--json", ready.name],
        ["top", "--json", ready.name],
        ["top", "--tree", "--json", ready.name],
        ["mounts", "--json", ready.name],
        ["net", "--json", ready.name],
        ["snapshot", ready.name],
    ):
        code, out = run(*args)
        assert code == 0, args
        assert_safe(out, "\\u001b]")  # JSON's own escape of ESC
    code, out = run("snapshot", ready.name)
    snap = json.loads(out)
    assert any(p.get("user") == USER for p in snap["processes"])  # exact, as the container has it
    assert any(p.get("name") == COMM for p in snap["processes"])


def test_console_shows_names_contents_env_and_cwd_escaped(ready: harness.Started) -> None:
    commands = (
        f"ps; tree; mounts; net; env 1; cd '{DIR}'; pwd; ls -l; cat '{FILE}'; stat link; "
        "find /srv; grep -r contents /srv; cat /nope"
    )
    code, out = run("console", ready.name, "-c", commands)
    assert code == 1, out  # the last command failed, as it should
    assert_safe(
        out,
        f"EVIL={SHOWN}",  # env
        f"/srv/d{SHOWN}",  # pwd, find
        "f\\x1b[31mred\\x9b0m",  # ls, find
        f"link -> /x{SHOWN_ST}",  # ls -l
        f"ev{SHOWN}il",  # ls -l owner, ps user
        f"contents {SHOWN_ST}",  # cat, grep
        "\\x1b]0;p\\x07",  # net: the process holding 9000
    )


def test_bundle_show_and_views_of_the_bundle(ready: harness.Started, tmp_path: Path) -> None:
    path = tmp_path / "hostile.tar.gz"
    code, out = run("bundle", ready.name, "-o", str(path))
    assert code == 0, out
    assert_safe(out, "bundle written")
    code, out = run("bundle", "show", str(path))
    assert code == 0
    assert_safe(out, ready.name)
    code, out = run("bundle", "verify", str(path))
    assert code == 0
    assert_safe(out, ": ok")
    for args, shown in (
        (["top", "--bundle", str(path), ready.name], f"ev{SHOWN}il"),
        (["mounts", "--bundle", str(path), ready.name], f"/mnt/t{SHOWN}"),
        (["net", "--bundle", str(path), ready.name], "\\x1b]0;p\\x07"),
    ):
        code, out = run(*args)
        assert code == 0, args
        assert_safe(out, shown)
    with tarfile.open(path) as tar:
        report = next(m for m in tar.getmembers() if m.name.endswith("report.html"))
        page = tar.extractfile(report).read()  # type: ignore[union-attr]
    assert_safe(page, f"{SHOWN} log line")  # the container's log, in the report
