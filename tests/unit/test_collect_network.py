"""Socket owners on a captured /proc tree (tests/fixtures/proc/ns-scan, see its README)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from debugtool import procfs
from debugtool.collect import network

SCAN = Path(__file__).parent.parent / "fixtures" / "proc" / "ns-scan"
CONTAINER_PIDNS, CONTAINER_NETNS = 4026532251, 4026532252


def test_owners_in_the_network_namespace_named_as_the_container_sees_them(monkeypatch):
    monkeypatch.setattr(procfs, "PROC", str(SCAN))
    owners = network.socket_owners(CONTAINER_NETNS, CONTAINER_PIDNS)
    assert owners == {inode: ((13239, 7, "python"),) for inode in (705842, 705843, 705844)}
    # Without the container's PID namespace, no PID inside it is known.
    assert network.socket_owners(CONTAINER_NETNS, None)[705842] == ((13239, None, "python"),)
    assert network.socket_owners(4026531833, CONTAINER_PIDNS) == {}  # the host's: no fds captured


def test_a_holder_outside_the_pid_namespace_has_no_container_pid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """nsenter (13238) joined the container's network namespace only: if it held the socket
    too, it is listed by its host PID alone. A second fd of one process on it counts once."""
    proc = tmp_path / "proc"
    shutil.copytree(SCAN, proc, symlinks=True)
    os.symlink("socket:[705842]", proc / "13238" / "fd" / "9")
    os.symlink("socket:[705842]", proc / "13239" / "fd" / "9")
    monkeypatch.setattr(procfs, "PROC", str(proc))
    owners = network.socket_owners(CONTAINER_NETNS, CONTAINER_PIDNS)
    assert sorted(owners[705842]) == [(13238, None, "nsenter"), (13239, 7, "python")]
    assert owners[705843] == ((13239, 7, "python"),)


def test_only_socket_links_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pipes, files and a malformed socket link are not sockets; a socket open at two fds of
    one process is held once."""
    fd = tmp_path / "proc" / "100" / "fd"
    fd.mkdir(parents=True)
    links = ["socket:[21320]", "pipe:[21320]", "/dev/null", "socket:[x]", "socket:[21321]"]
    for n, target in enumerate([*links, "socket:[21320]"]):
        os.symlink(target, fd / str(n))
    monkeypatch.setattr(procfs, "PROC", str(tmp_path / "proc"))
    assert sorted(network._process_sockets(100)) == [21320, 21320, 21321]
    assert network._process_sockets(101) == []  # gone
