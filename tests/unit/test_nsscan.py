"""The PID-namespace scan on a hand-made /proc tree (namespace links are plain symlinks)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from debugtool import procfs
from debugtool.runtimes import nsscan

HOST = 4026531836


def make_proc(tmp_path: Path, procs: dict[int, tuple[int, str, int, list[int]]]) -> str:
    """Build /proc: ``{pid: (pidns inode, comm, ppid, NSpid chain)}``; btime 1,700,000,000.

    Point ``procfs.PROC`` at the returned path to scan it.
    """
    proc = tmp_path / "proc"
    proc.mkdir(parents=True)
    (proc / "stat").write_text("cpu  1 2 3\nbtime 1700000000\nprocesses 99\n")
    (proc / "self").symlink_to("1")
    (proc / "sys").mkdir()  # not a process
    for pid, (inode, comm, ppid, chain) in procs.items():
        d = proc / str(pid)
        (d / "ns").mkdir(parents=True)
        os.symlink(f"pid:[{inode}]", d / "ns" / "pid")
        nspid = "\t".join(str(p) for p in chain)
        (d / "status").write_text(
            f"Name:\t{comm}\nState:\tS (sleeping)\nPPid:\t{ppid}\nNSpid:\t{nspid}\n"
        )
        # starttime (field 22) = 250 ticks after boot
        (d / "stat").write_text(f"{pid} ({comm}) S {ppid} " + " ".join(["0"] * 17) + " 250 0 0\n")
    return str(proc)


def test_groups_and_inits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    proc = make_proc(
        tmp_path,
        {
            1: (HOST, "init", 0, [1]),
            50: (HOST, "containerd-shim", 1, [50]),
            # a container: init 51 (PID 1 inside) and a child, listed in any order
            60: (4026532200, "worker", 51, [60, 7]),
            51: (4026532200, "nginx", 50, [51, 1]),
            # a namespace whose init is gone: the outermost member (parent outside) stands in
            70: (4026532300, "orphan", 1, [70, 4]),
            71: (4026532300, "orphan-child", 70, [71, 5]),
        },
    )
    monkeypatch.setattr(procfs, "PROC", proc)
    assert procfs.host_pidns() == HOST
    groups = {inode: sorted(pids) for inode, pids in nsscan.group_by_pidns().items()}
    assert groups == {4026532200: [51, 60], 4026532300: [70, 71]}
    found = {c.id: c for c in nsscan.scan()}
    assert set(found) == {"pid-51", "pid-70"}
    nginx = found["pid-51"]
    assert (nginx.name, nginx.runtime, nginx.status, nginx.pid) == ("nginx", "none", "running", 51)
    assert nginx.pidns == 4026532200 and nginx.backends == ["none"]
    assert nginx.metadata["none"]["processes"] == 2
    assert nginx.created == 1700000000 + 250 / os.sysconf("SC_CLK_TCK")
    assert found["pid-70"].name == "orphan"


def test_host_only_and_vanishing_processes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    proc = make_proc(tmp_path, {1: (HOST, "init", 0, [1]), 2: (HOST, "kthreadd", 0, [2])})
    monkeypatch.setattr(procfs, "PROC", proc)
    assert nsscan.scan() == []
    # A process that exits between the scan and the status read is skipped, not an error.
    proc = make_proc(
        tmp_path / "b", {1: (HOST, "init", 0, [1]), 9: (4026532999, "gone", 1, [9, 1])}
    )
    monkeypatch.setattr(procfs, "PROC", proc)
    os.remove(os.path.join(proc, "9", "status"))
    assert nsscan.find_init([9]) is None
    assert nsscan.scan() == []


def test_captured_host_with_a_container(monkeypatch: pytest.MonkeyPatch) -> None:
    """tests/fixtures/proc/ns-scan: PID 1 refuses its namespace link (self stands for the
    host); the container's init is found by NSpid, its nsenter'd python counted with it."""
    monkeypatch.setattr(procfs, "PROC", str(Path(__file__).parent.parent / "fixtures/proc/ns-scan"))
    (sandbox,) = nsscan.scan()
    assert (sandbox.id, sandbox.name, sandbox.pid, sandbox.pidns) == (
        "pid-13200",
        "sleep",
        13200,
        4026532251,
    )
    assert sandbox.metadata["none"]["processes"] == 2
    assert sandbox.created is not None


def test_real_host_scan_finds_no_host_process() -> None:
    """On this machine: nothing in the host's own PID namespace is listed as a sandbox."""
    host = os.stat("/proc/self/ns/pid").st_ino
    for sandbox in nsscan.scan():
        assert sandbox.pidns != host
        assert sandbox.id == f"pid-{sandbox.pid}"
