"""The Snapshot model's JSON round-trip and its helpers."""

from __future__ import annotations

import re

import pytest

from debugtool.errors import BundleError
from debugtool.model import Container, from_dict
from debugtool.snapshot import (
    Address,
    CgroupStats,
    Interface,
    Mount,
    Network,
    Process,
    SecurityContext,
    Snapshot,
    Socket,
)


def sample() -> Snapshot:
    return Snapshot(
        container=Container(
            id="abc123" * 10,
            name="web",
            runtime="docker",
            pid=42,
            labels={"a": "b"},
            backends=["docker", "runc"],
        ),
        taken_at=1700000000.5,
        processes=[
            Process(pid=42, nspid=1, ppid=10, cmdline=["/bin/sh", "-c", "caf\udce9"]),
            Process(pid=43, nspid=7, ppid=42, nsppid=1, cmdline=["sleep", "9"]),
        ],
        mounts=[
            Mount(mount_id=1, parent_id=0, mountpoint="/a b", fstype="overlay", risks=["host root"])
        ],
        network=Network(
            interfaces=[
                Interface(
                    name="eth0",
                    addresses=[Address("inet", "172.17.0.2", 16), Address("inet6", "fe80::1", 64)],
                )
            ],
            sockets=[
                Socket(
                    protocol="tcp",
                    state="LISTEN",
                    local_address="127.0.0.1",
                    local_port=8080,
                    pids=[43],
                    nspids=[7],
                )
            ],
        ),
        cgroup=CgroupStats(
            version="v1", memory_limit=64 << 20, cpu_quota_us=50000, cpu_period_us=100000
        ),
        security=SecurityContext(uid_map=[(0, 0, 4294967295)], cap_effective=["CAP_CHOWN"]),
        errors={"network": "the container exited"},
    )


def test_round_trip_is_equal() -> None:
    snap = sample()
    assert Snapshot.from_json(snap.to_json()) == snap


def test_tree_orders_children_under_parents() -> None:
    tree = sample().process_tree()
    assert [(d, p.nspid) for d, p in tree] == [(0, 1), (1, 7)]


def test_newer_schema_is_refused() -> None:
    text = sample().to_json().replace('"schema_version": 1', '"schema_version": 99')
    with pytest.raises(BundleError, match="schema version 99"):
        Snapshot.from_json(text)


def test_cpu_limit_in_cores() -> None:
    assert sample().cgroup.cpu_limit == 0.5
    assert CgroupStats().cpu_limit is None


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"pid": "4242"}, "pid: text where a whole number belongs"),
        ({"pid": True}, "pid: a boolean where a whole number belongs"),
        ({"created": "yesterday"}, "created: text where a number belongs"),
        ({"name": 7}, "name: a number where text belongs"),
        ({"oom_killed": 1}, "oom_killed: a number where true or false belongs"),
        ({"labels": ["a=b"]}, "labels: a list where an object belongs"),
        ({"backends": "docker"}, "backends: text where a list belongs"),
        ({"ports": [{"container_port": "80"}]}, "ports: container_port: text where"),
        ({"ports": ["80/tcp"]}, "ports: text where an object belongs"),
    ],
)
def test_a_field_of_the_wrong_kind_is_refused_naming_it(data: dict, says: str) -> None:
    """A record read back from elsewhere (a bundle, a node's answer) with a field of another
    kind is refused where it is read, with the field's name."""
    base = {"id": "c" * 64, "name": "web", "runtime": "docker", "status": "running"}
    with pytest.raises(TypeError, match=f"^{re.escape(says)}"):
        from_dict(Container, {**base, **data})


def test_numbers_and_nulls_of_the_right_kind_are_kept() -> None:
    base = {"id": "c" * 64, "name": "web", "runtime": "docker", "status": "running"}
    got = from_dict(Container, {**base, "created": 1796579404, "pid": None, "ports": []})
    assert got.created == 1796579404.0 and isinstance(got.created, float) and got.pid is None
