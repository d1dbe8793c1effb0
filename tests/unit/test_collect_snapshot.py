"""snapshot(): every section collected on its own; one failing section does not lose the rest."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from debugtool import collect
from debugtool.collect import cgroups, mounts
from debugtool.errors import ContainerGone, DebugtoolError
from debugtool.model import Container
from debugtool.snapshot import Snapshot
from debugtool.target import pin

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="reads another process's /proc")


@pytest.fixture
def child():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc
    proc.kill()
    proc.wait()


@pytest.fixture
def target(child):
    """A pinned target on a child process of this test (host namespaces)."""
    container = Container(id="t", name="child", runtime="none", status="running", pid=child.pid)
    t = pin(container)
    yield t
    t.close()


def test_a_failing_section_records_a_sentence(target, monkeypatch):
    def broken(_target):
        raise DebugtoolError("the cgroup files are not readable.")

    monkeypatch.setattr(cgroups, "collect_cgroup", broken)
    snap = collect.collect_snapshot(target, network=False)
    assert snap.errors["cgroup"] == "the cgroup files are not readable."
    assert "--no-network" in snap.errors["network"]
    assert [p.pid for p in snap.processes if p.pid == target.pid]  # the others still filled
    assert snap.mounts
    assert snap.security.cap_bounding
    assert snap.taken_at > 0 and snap.hostname
    assert Snapshot.from_json(snap.to_json()) == snap


def test_an_unexpected_exception_becomes_a_sentence(target, monkeypatch):
    def boom(_target):
        raise ValueError("bad line")

    monkeypatch.setattr(mounts, "collect_mounts", boom)
    snap = collect.collect_snapshot(target, network=False)
    assert snap.errors["mounts"] == "ValueError: bad line."
    assert snap.mounts == []
    assert "security" not in snap.errors and snap.security.cap_bounding


def test_container_gone_before_anything_was_read(target, child):
    child.kill()
    child.wait()
    with pytest.raises(ContainerGone) as err:
        collect.collect_snapshot(target, network=False)
    assert "has exited" in str(err.value)


def test_users_come_from_the_given_root(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text("svc:x:42:42::/:/bin/false\n")
    (tmp_path / "etc" / "group").write_text("svcgrp:x:43:\n")
    assert collect.users(str(tmp_path)) == {42: "svc"}
    assert collect.groups(str(tmp_path)) == {43: "svcgrp"}
