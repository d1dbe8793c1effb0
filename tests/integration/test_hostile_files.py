"""A hostile container plants devices and FIFOs where debugtool reads files: nothing is opened.

Container root holds CAP_MKNOD, so it can replace ``/etc/passwd`` with any character device.
Opened by debugtool, that is a *host* device opened by host root, outside the container's
devices cgroup; a FIFO would block the reader for ever. Each command here runs under
``strace -f -yy``, which prints every descriptor an open returns with the file it names (and
``<char M:N>`` for a device), so the test proves the planted files were never opened, not
merely that the command survived. The devices planted are harmless ones (1:7 is /dev/full)
that the host side of debugtool has no reason to open itself.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import harness
import pytest

DEVICE = (1, 7)  # /dev/full: harmless if opened, and nothing else in debugtool opens it
TRACE = "trace=open,openat,openat2,setns,clone,clone3,fork,vfork"
# One traced call, as strace -yy writes it: 'openat2(4</>, "etc/passwd", {...}, 24) = 5</...>'.
CALL = re.compile(r"^(\w+)\((.*)\) += (-?\d+)")
OPEN = re.compile(r'^(?:([^,"]*), )?"([^"]*)", (.*)$')
REOPEN = re.compile(r"^/proc/(?:self|thread-self|\d+)/fd/(\d+)$")


@dataclass
class Open:
    """One open attempt that was not O_PATH, with the path it named."""

    line: str
    dirfd: str  # as strace shows it: "AT_FDCWD</cwd>", "4</>"
    path: str  # the path argument, or for a reopen through /proc/self/fd/N the path N had
    in_container: bool  # made after a setns into a mount namespace (the container's)


#: debugtool started as its installed script starts it, with only what it imports itself: no
#: site (and so no editable-install finder, which imports half the standard library first).
AS_INSTALLED = [
    sys.executable,
    "-S",
    "-c",
    "import sys; sys.path.insert(0, sys.argv.pop(1)); from debugtool.cli import main; "
    "sys.exit(main(sys.argv[1:]))",
    str(Path(__file__).resolve().parents[2]),
]


def traced(
    tmp_path: Path, *args: str, timeout: float = 120, lean: bool = False
) -> tuple[subprocess.CompletedProcess[str], list[Open]]:
    """Run ``debugtool ARGS`` under strace; return the result and every open attempt that was
    not O_PATH, succeeded or not (a device's open handler runs even when the open fails).

    The kernel names a file of another mount namespace by its path there (``/etc/passwd``),
    so the descriptors strace decodes cannot tell the container's files from the host's. The
    calls can: rootfs resolves inside a container's root with a path *relative* to its root
    fd, an O_PATH fd reopened through ``/proc/self/fd/N`` is traced back, within the thread,
    to the path N was opened with, and an absolute path is the container's when the thread
    (or the one it was forked from) had entered a mount namespace with setns. ``-ff`` writes
    one file per thread, so no call is split by another thread's.
    """
    logs = tmp_path / f"strace-{len(list(tmp_path.glob('strace-*')))}"
    logs.mkdir()
    argv = ["strace", "-ff", "-yy", "-s", "256", "-e", TRACE, "-o", str(logs / "t")]
    # The timeout turns a hang (a FIFO opened for reading) into a failure, not a stuck run.
    debugtool = AS_INSTALLED if lean else [sys.executable, "-m", "debugtool"]
    result = subprocess.run(
        [*argv, *debugtool, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    calls = {
        int(f.name.rsplit(".", 1)[1]): f.read_text(errors="replace").splitlines()
        for f in logs.iterdir()
    }
    children = {
        int(m.group(3))
        for lines in calls.values()
        for m in map(CALL.match, lines)
        if m and m.group(1) in ("clone", "clone3", "fork", "vfork")
    }
    start = {tid: False for tid in calls if tid not in children}  # the traced python
    opens: list[Open] = []
    done: set[int] = set()
    while len(done) < len(start):
        for tid in [t for t in start if t not in done]:
            done.add(tid)
            opens += _opens(calls.get(tid, []), start[tid], start)
    return result, opens


def _opens(lines: list[str], in_container: bool, start: dict[int, bool]) -> list[Open]:
    """The non-O_PATH opens of one thread's calls; record in ``start`` where its children begin."""
    o_path: dict[int, str] = {}  # fd -> the path it was opened with (O_PATH)
    found = []
    for line in lines:
        m = CALL.match(line)
        if not m:
            continue
        name, inner, result = m.group(1), m.group(2), int(m.group(3))
        if name == "setns" and result == 0 and ("mnt:[" in inner or "CLONE_NEWNS" in inner):
            in_container = True
        elif name in ("clone", "clone3", "fork", "vfork") and result > 0:
            start[result] = in_container
        elif name.startswith("open") and (args := OPEN.match(inner)):
            dirfd, path, rest = args.group(1) or "", args.group(2), args.group(3)
            if "O_PATH" in rest:
                if result >= 0:
                    o_path[result] = path
                continue
            again = REOPEN.match(path)
            if again:
                path = o_path.get(int(again.group(1)), path)
            found.append(Open(line, dirfd, path, in_container))
    return found


def assert_never_opened(opens: list[Open], *paths: str) -> None:
    """No open was attempted, other than O_PATH, on any of the container's ``paths``.

    From the host a container path is named relative to the container's root fd (openat2
    RESOLVE_IN_ROOT) or, in the fallback walk, by its last component relative to a directory
    fd; inside the container's mount namespace it is the absolute path. The host's own files
    (``/etc/passwd`` read for the audit log's user name) are absolute, outside it.
    """
    assert opens, "strace saw no open at all: the trace is broken"
    hits = []
    for o in opens:
        for path in paths:
            rel = path.lstrip("/")
            if (
                o.path == rel
                or (o.path == path and o.in_container)
                or (o.path == rel.rsplit("/", 1)[-1] and "AT_FDCWD" not in o.dirfd)
            ):
                hits.append(o.line)
    assert hits == [], "opened a planted file:\n" + "\n".join(hits)
    devices = [o.line for o in opens if f"<char {DEVICE[0]}:{DEVICE[1]}>" in o.line]
    assert devices == [], "opened the planted device:\n" + "\n".join(devices)


@pytest.fixture
def docker_hostile(containers: harness.Containers) -> harness.Started:
    """A Docker container that, as its own root, swaps /etc/passwd for a device and /etc/group
    for a FIFO (its /etc/resolv.conf and /etc/hosts are Docker's bind mounts)."""
    c = containers.docker()
    major, minor = DEVICE
    harness.run(
        "docker",
        "exec",
        c.id,
        "/bin/busybox",
        "sh",
        "-c",
        f"rm /etc/passwd /etc/group && /bin/busybox mknod /etc/passwd c {major} {minor} && "
        "/bin/busybox mkfifo /etc/group",
    )
    return c


def _swap(path: Path, make) -> None:
    if path.exists() or path.is_symlink():
        path.unlink()
    make(path)


def _device(path: Path) -> None:
    os.mknod(path, 0o644 | stat.S_IFCHR, os.makedev(*DEVICE))


@pytest.fixture
def runc_hostile(containers: harness.Containers) -> harness.Started:
    """A runc container whose image holds a FIFO as /etc/resolv.conf and /etc/hosts as a link
    to a device; /etc/passwd becomes a device once it runs (runc itself reads the container's
    passwd to start it, and /dev/full would never end)."""

    def plant(rootfs: Path) -> None:
        _swap(rootfs / "etc" / "resolv.conf", os.mkfifo)
        _swap(rootfs / "etc" / "full", _device)
        _swap(rootfs / "etc" / "hosts", lambda p: p.symlink_to("/etc/full"))

    c = containers.runc(prepare=plant)
    _swap(Path(c.extra["bundle"]) / "rootfs" / "etc" / "passwd", _device)
    return c


def test_top_reads_no_device_for_user_names(docker_hostile, tmp_path) -> None:
    result, opened = traced(tmp_path, "top", docker_hostile.id)
    assert result.returncode == 0, result.stderr
    assert "sleep" in result.stdout
    assert "Traceback" not in result.stderr
    assert_never_opened(opened, "/etc/passwd")


def test_console_cat_of_a_device_and_a_fifo_is_one_sentence(docker_hostile, tmp_path) -> None:
    major, minor = DEVICE
    result, opened = traced(tmp_path, "console", docker_hostile.id, "-c", "cat /etc/passwd")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"cat: /etc/passwd: is a character device ({major}:{minor}), not a regular file, "
        "so debugtool does not open it."
    ]
    assert_never_opened(opened, "/etc/passwd")

    result, opened = traced(tmp_path, "console", docker_hostile.id, "-c", "cat /etc/group")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "cat: /etc/group: is a FIFO, not a regular file, so debugtool does not open it."
    ]
    assert_never_opened(opened, "/etc/group")


def test_other_console_reads_open_neither(docker_hostile, tmp_path) -> None:
    script = (
        "head /etc/passwd; tail /etc/group; grep root /etc/passwd /etc/group; "
        "ls -l /etc; stat /etc/passwd; grep -r x /etc; cat /etc/hostname"
    )
    result, opened = traced(tmp_path, "console", docker_hostile.id, "-c", script)
    assert "Traceback" not in result.stderr
    assert result.stdout.endswith(docker_hostile.id[:12] + "\n")  # went on to the end
    assert re.search(r"^c\S+ .* passwd$", result.stdout, re.M)  # ls -l lists it, unopened
    assert "/etc/group: is a FIFO, not a regular file" in result.stderr
    assert_never_opened(opened, "/etc/passwd", "/etc/group")


def test_exec_as_a_named_user_reads_no_device(docker_hostile, tmp_path) -> None:
    result, opened = traced(
        tmp_path, "exec", "--mode", "ns", "-u", "app", docker_hostile.id, "--", "true"
    )
    # With no readable passwd there is no user 'app': exec cannot run the command.
    assert result.returncode in (125, 126), result.stderr
    assert "Traceback" not in result.stderr
    assert "app" in result.stderr
    assert_never_opened(opened, "/etc/passwd", "/etc/group")
    # A numeric user needs no passwd entry, and runs.
    result, opened = traced(
        tmp_path, "exec", "--mode", "ns", "-u", "1000", docker_hostile.id, "--", "true"
    )
    assert result.returncode == 0, result.stderr
    assert_never_opened(opened, "/etc/passwd", "/etc/group")


def test_net_reads_no_fifo_for_dns(runc_hostile, tmp_path) -> None:
    result, opened = traced(tmp_path, "net", runc_hostile.id)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "/etc/resolv.conf: is a FIFO, not a regular file" in result.stderr
    assert f"/etc/hosts: is a character device ({DEVICE[0]}:{DEVICE[1]})" in result.stderr
    assert_never_opened(opened, "/etc/resolv.conf", "/etc/full", "/etc/passwd")


def test_top_and_console_on_runc(runc_hostile, tmp_path) -> None:
    result, opened = traced(tmp_path, "top", runc_hostile.id)
    assert result.returncode == 0, result.stderr
    result, more = traced(
        tmp_path, "console", runc_hostile.id, "-c", "cat /etc/resolv.conf; cat /etc/hosts"
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "cat: /etc/resolv.conf: is a FIFO, not a regular file, so debugtool does not open it.",
        f"cat: /etc/hosts: is a character device ({DEVICE[0]}:{DEVICE[1]}), not a regular "
        "file, so debugtool does not open it.",
    ]
    assert_never_opened(opened + more, "/etc/resolv.conf", "/etc/full", "/etc/passwd")


#: Modules a lazily importing joiner could reach for after setns(mnt): os.execvpe imports
#: warnings, an error's text linecache and traceback, a user lookup pwd (built in, still a
#: finder's business), a late JSON report json. Planted where the host's interpreter looks
#: first, each one leaves a mark in the container if it ever runs.
PLANTED_MODULES = ("warnings", "linecache", "traceback", "json", "re", "enum", "locale", "pwd")


def test_the_joiner_imports_nothing_from_the_container(containers, tmp_path) -> None:
    """A container plants Python modules at the host interpreter's own paths: debugtool's
    joiner, which runs host code inside the container's mount namespace until its execve,
    never opens one (ns and toolbox modes; a command found on PATH, a missing one, a user).
    debugtool starts as installed, importing only what it needs, so a lazy import would be
    made after setns, not before."""
    stdlib = Path(os.__file__).parent
    places = [stdlib, *(Path(p) for p in sys.path if p.endswith("site-packages"))]
    mark = "/joiner-ran-container-code"

    # Docker's: a full id is resolved by Docker alone, the leanest start there is.
    c = containers.docker()
    root = Path(f"/proc/{c.pid}/root")
    for place in places:
        folder = root / str(place).lstrip("/")
        folder.mkdir(parents=True, exist_ok=True)
        for name in PLANTED_MODULES:
            (folder / f"{name}.py").write_text(f"open({mark!r}, 'w').write({name!r})\n")
    planted = [f"{place}/{name}.py" for place in places for name in PLANTED_MODULES]
    for args in (
        ("--mode", "ns", c.id, "--", "true"),
        ("--mode", "ns", c.id, "--", "no-such-command"),
        ("--mode", "ns", "-u", "1000", c.id, "--", "true"),
        ("--mode", "toolbox", c.id, "--", "true"),
    ):
        result, opened = traced(tmp_path, "exec", *args, lean=True)
        assert "Traceback" not in result.stderr, result.stderr
        assert result.returncode in (0, 127), result.stderr
        assert_never_opened(opened, *planted)
        python = [o.line for o in opened if o.in_container and ".py" in o.path]
        assert python == [], "opened Python inside the container:\n" + "\n".join(python)
    assert not (root / mark.lstrip("/")).exists()
