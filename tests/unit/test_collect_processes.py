"""Process collection: building records from captured text, namespace membership, churn."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from debugtool import procfs
from debugtool.collect import processes
from debugtool.model import Container
from debugtool.snapshot import Process, Snapshot
from debugtool.target import pin

FIX = Path(__file__).parent.parent / "fixtures" / "proc"


def test_build_from_a_real_container_process():
    d = FIX / "docker-busybox"
    p = processes.build_process(
        13416,
        (d / "stat").read_bytes(),
        (d / "cmdline").read_bytes(),
        uid=1000,
        nspid=processes.status_nspid((d / "status").read_bytes()),
        boot=1_000_000.0,
        uptime_ticks=78394 + 1000,
    )
    assert (p.pid, p.nspid, p.ppid) == (13416, 1, 13396)
    assert p.uid == 1000
    assert p.state == "S" and p.name == "sleep"
    assert p.cmdline == ["sleep", "1002"]
    assert p.threads == 1
    assert p.rss == 316 * processes.PAGE_SIZE
    assert p.start_time == pytest.approx(1_000_000.0 + 78394 / procfs.CLOCK_TICKS, abs=0.01)
    assert p.cpu_percent == pytest.approx(0.1)  # 1 tick in 1000
    assert p.cpu_time == pytest.approx(1 / procfs.CLOCK_TICKS)


def test_build_awkward_process():
    d = FIX / "awkward"
    p = processes.build_process(
        4242,
        (d / "stat").read_bytes(),
        (d / "cmdline").read_bytes(),
        uid=None,
        nspid=processes.status_nspid((d / "status").read_bytes()),
        boot=0.0,
    )
    assert p.name == "a) (b c"
    assert p.nspid == 5  # innermost of a nested PID namespace
    assert p.threads == 3
    assert p.cpu_percent is None  # no uptime given: unknown, not zero
    assert p.cpu_time == pytest.approx(200 / procfs.CLOCK_TICKS)
    assert len(p.cmdline) == 4
    assert os.fsencode(p.cmdline[0]) == b"/usr/bin/py\xffthon"  # bytes kept
    assert p.cmdline[2] == "print('a\nb')"
    assert p.cmdline[3] == "x" * 5000


def test_kernel_thread_has_no_cmdline():
    d = FIX / "awkward"
    p = processes.build_process(
        12,
        b"12 (kworker/0:1) I 2 0 0 0 -1 69238880 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0",
        b"",
        uid=0,
        nspid=processes.status_nspid((d / "kthread-status").read_bytes()),
        boot=0.0,
    )
    assert p.cmdline == [] and p.command == "[kworker/0:1]"
    assert p.nspid == 12


def test_pids_in_namespace_skips_vanished_pids():
    mine = os.stat("/proc/self/ns/pid").st_ino
    gone = 2**22 + 999  # above pid_max: never a live process
    found = processes.pids_in_namespace(mine, [os.getpid(), gone, os.getppid()])
    assert found == [os.getpid(), os.getppid()]


def test_process_exiting_mid_read_is_skipped(monkeypatch):
    """A PID listed but gone by the time its files are read is left out, not an error."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        container = Container(id="t", name="t", runtime="none", status="running", pid=child.pid)
        target = pin(container)
        real_read = processes.read_process

        def flaky(pid, *args, **kwargs):
            if pid == gone_pid:
                raise procfs.ProcessGone(f"process {pid} exited while reading stat.")
            return real_read(pid, *args, **kwargs)

        gone_pid = os.getpid()
        monkeypatch.setattr(processes, "read_process", flaky)
        found = processes.collect_processes(target, pids=[child.pid, os.getpid()])
        target.close()
    finally:
        child.kill()
        child.wait()
    assert [p.pid for p in found] == [child.pid]
    assert found[0].nsppid is None  # its parent (this test) was not collected


@pytest.mark.skipif(os.geteuid() != 0, reason="reads other processes' namespaces")
def test_collect_own_namespace_tree():
    """Collect this process and a child: the child links to its parent, users resolve."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        target = pin(Container(id="t", name="t", runtime="none", status="running", pid=os.getpid()))
        found = processes.collect_processes(target, pids=[os.getpid(), child.pid])
        target.close()
    finally:
        child.kill()
        child.wait()
    by_pid = {p.pid: p for p in found}
    assert by_pid[child.pid].nsppid == by_pid[os.getpid()].nspid
    assert by_pid[child.pid].user == "root"  # from /proc/PID/root/etc/passwd (the host here)
    assert not any(p.outside_cgroup for p in found)
    tree = Snapshot(container=target.container, processes=found).process_tree()
    assert [(d, p.pid) for d, p in tree][:2] == [(0, os.getpid()), (1, child.pid)]


def test_printable_command_escapes_bytes_and_control_characters():
    from debugtool.render import printable
    from debugtool.snapshot import Process

    p = Process(pid=1, cmdline=[os.fsdecode(b"py\xffthon"), "-c", "a\nb\tc"])
    assert printable(p.command) == "py\\xffthon -c a\\nb\\tc"
    assert printable(Process(pid=2, name="kthreadd").command) == "[kthreadd]"


def test_start_column_is_an_age():
    # STARTED is an age, as every age in a table: not ps's time of day in the reader's zone.
    from debugtool.render import start_column

    now = 1795000000.0
    assert start_column(now - 3600, now) == "1 hour ago"
    assert start_column(now - 3 * 86400 - 5, now) == "3 days ago"
    assert start_column(None, now) == "-"


def _collect_alone(pid: int) -> Process:
    """Collect process ``pid`` alone, as the init of a container of its own."""
    target = pin(Container(id="t", name="t", runtime="none", status="running", pid=pid))
    try:
        (found,) = processes.collect_processes(target, pids=[pid])
    finally:
        target.close()
    return found


@pytest.mark.skipif(os.geteuid() != 0, reason="reads another process's /proc")
def test_long_and_non_utf8_command_line_survives_collection_and_json():
    long_arg = "y" * 20000  # more than one 8 KiB read
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(30)", long_arg, b"caf\xe9"],
    )
    try:
        # Wait for the child's execve: until then /proc/PID/cmdline is this interpreter's.
        for _ in range(500):
            if long_arg.encode() in Path(f"/proc/{child.pid}/cmdline").read_bytes():
                break
            time.sleep(0.01)
        found = _collect_alone(child.pid)
    finally:
        child.kill()
        child.wait()
    assert found.cmdline[-2] == long_arg
    assert os.fsencode(found.cmdline[-1]) == b"caf\xe9"
    container = Container(id="t", name="t", runtime="none", status="running", pid=child.pid)
    snap = Snapshot(container=container, processes=[found])
    again = Snapshot.from_json(snap.to_json())
    assert again == snap
    assert os.fsencode(again.processes[0].cmdline[-1]) == b"caf\xe9"


def test_pids_seen_from_names_this_namespace_s_pids():
    mine = os.stat("/proc/self/ns/pid").st_ino
    gone = 2**22 + 999  # above pid_max: never a live process
    seen = procfs.pids_seen_from("self", mine, [os.getpid(), gone])
    if seen is None:
        pytest.skip("this kernel cannot name a namespace's PIDs (before 6.11)")
    assert seen == {os.getpid(): os.getpid()}
    # Not the namespace it was asked about: no answer, so the caller scans the links instead.
    assert procfs.pids_seen_from("self", mine + 1, [os.getpid()]) is None


def test_pids_seen_from_a_captured_tree_gives_no_answer(monkeypatch, tmp_path):
    """A captured tree's ``ns/pid`` is a plain file, which takes no namespace ioctl."""
    link = tmp_path / "7" / "ns" / "pid"
    link.parent.mkdir(parents=True)
    link.write_text("pid:[4026532251]")
    monkeypatch.setattr(procfs, "PROC", str(tmp_path))
    assert procfs.pids_seen_from(7, link.stat().st_ino, [os.getpid()]) is None


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(n) for n in text.split()]


#: The nested sandbox's process: it holds a listening socket (for the socket owners' test).
HOLDER = (
    "import socket, time; s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); "
    "time.sleep(300)"
)


@pytest.fixture
def nested_sandbox() -> Iterator[tuple[int, int]]:
    """Yield the host PIDs of a sandbox's init (in a PID namespace of its own) and of a process
    in a PID namespace nested in it (the outer one's PID 3, its parent ``unshare`` PID 2), which
    holds a listening socket once its command line is there. All in the host's network."""
    if os.geteuid() != 0:
        pytest.skip("makes PID namespaces, reads their processes")
    inner_argv = f'unshare --pid --fork {sys.executable} -c "{HOLDER}"'
    proc = subprocess.Popen(
        ["unshare", "--pid", "--fork", "sh", "-c", f"{inner_argv} & exec sleep 300"],
        start_new_session=True,
    )
    try:
        for _ in range(500):
            inits = _children(proc.pid)
            inner = [c for i in inits for u in _children(i) for c in _children(u)]
            if inner and _listens(inner[0]):
                break
            time.sleep(0.01)
        else:
            pytest.fail("the nested sandbox did not start")
        yield inits[0], inner[0]
    finally:
        os.killpg(proc.pid, 9)
        proc.wait()


def _listens(pid: int) -> bool:
    try:
        return any(os.readlink(f"/proc/{pid}/fd/{n}").startswith("socket:") for n in "3456")
    except OSError:
        return False


def _kernel_names_pids() -> bool:
    return procfs.pids_seen_from("self", os.stat("/proc/self/ns/pid").st_ino, []) is not None


@pytest.mark.parametrize("kernel_names_them", [True, False])
def test_a_nested_pid_namespace_is_listed_as_ps_inside_lists_it(
    monkeypatch, nested_sandbox, kernel_names_them
):
    """A sandbox in its own PID namespace runs another in a namespace nested in it: ``ps``
    inside the outer one lists all three processes, and so does top, with the outer one's PIDs.
    A kernel before 6.11 (the link scan) lists the outer namespace's own two."""
    init, inner = nested_sandbox
    if not kernel_names_them:
        monkeypatch.setattr(procfs, "pids_seen_from", lambda *args, **kwargs: None)
    elif not _kernel_names_pids():
        pytest.skip("this kernel cannot name a namespace's PIDs (before 6.11)")
    outer = pin(Container(id="t", name="t", runtime="none", status="running", pid=init))
    found = {p.pid: p for p in processes.collect_processes(outer)}
    outer.close()
    if not kernel_names_them:
        assert sorted(p.nspid for p in found.values()) == [1, 2] and inner not in found
        return
    assert sorted(p.nspid for p in found.values()) == [1, 2, 3]
    assert (found[init].nspid, found[inner].nspid, found[inner].nsppid) == (1, 3, 2)


def test_a_bundle_lists_a_nested_pid_namespace_as_live_top_does(nested_sandbox):
    """A bundle collects each container from its share of one pass over /proc (HostIndex): the
    share holds the processes of namespaces nested in the container's, so the bundle lists the
    same three processes, with the same PIDs, as live top."""
    from debugtool.bundle.collectors import HostIndex

    init, inner = nested_sandbox
    if not _kernel_names_pids():
        pytest.skip("this kernel cannot name a namespace's PIDs (before 6.11)")
    outer = pin(Container(id="t", name="t", runtime="none", status="running", pid=init))
    try:
        share = HostIndex().pids(outer)
        assert share is not None and inner in share and init in share
        found = {p.pid: p.nspid for p in processes.collect_processes(outer, pids=share)}
        live = {p.pid: p.nspid for p in processes.collect_processes(outer)}
    finally:
        outer.close()
    assert found == live and found[inner] == 3


def test_nested_in_follows_parents_to_any_depth():
    """Namespaces 3 and 4 are nested in 2 (4 through 3), 5 is a sibling tree; a loop in what a
    captured tree says ends."""
    parents = {1: None, 2: 1, 3: 2, 4: 3, 5: 1, 6: 7, 7: 6}
    assert sorted(procfs.nested_in(2, parents)) == [2, 3, 4]
    assert sorted(procfs.nested_in(1, parents)) == [1, 2, 3, 4, 5]
    assert procfs.nested_in(4, parents) == [4]
    assert procfs.nested_in(6, parents) == [6, 7]


@pytest.mark.parametrize("kernel_names_them", [True, False])
def test_a_socket_held_in_a_nested_pid_namespace_has_the_pid_top_gives(
    monkeypatch, nested_sandbox, kernel_names_them
):
    """net names a socket's holder by the container's PID for it, as top does: the nested
    process is PID 3 of the outer sandbox (on the link scan, not one of its members: none)."""
    from debugtool.collect import network

    init, inner = nested_sandbox
    if not kernel_names_them:
        monkeypatch.setattr(procfs, "pids_seen_from", lambda *args, **kwargs: None)
    elif not _kernel_names_pids():
        pytest.skip("this kernel cannot name a namespace's PIDs (before 6.11)")
    netns, pidns = (os.stat(f"/proc/{init}/ns/{ns}").st_ino for ns in ("net", "pid"))
    owners = network.socket_owners(netns, pidns, init)
    (holder,) = {h for held in owners.values() for h in held if h[0] == inner}
    assert holder[1] == (3 if kernel_names_them else None)


@pytest.mark.skipif(os.geteuid() != 0, reason="changes a child's effective uid")
def test_uid_is_the_effective_one_of_a_non_dumpable_process():
    """A process that changed its effective uid is not dumpable: its /proc files belong to
    root, yet /proc/PID itself (what top reads) belongs to its effective uid, as status says."""
    child = subprocess.Popen(
        [sys.executable, "-c", "import os, time; os.setresuid(0, 4321, 0); time.sleep(30)"]
    )
    try:
        for _ in range(500):
            uids = procfs.status_field(procfs.read_text(child.pid, "status"), "Uid").split()
            if uids[1] == "4321":
                break
            time.sleep(0.01)
        assert os.stat(f"/proc/{child.pid}/stat").st_uid == 0  # not dumpable
        found = _collect_alone(child.pid)
    finally:
        child.kill()
        child.wait()
    assert (found.uid, found.user) == (4321, "4321")
