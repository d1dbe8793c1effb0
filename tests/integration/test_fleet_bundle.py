"""``bundle -H``: fleet bundles over real sshd nodes in network namespaces made by the test
(tests/fleet.py), read back with ``bundle verify``/``show`` and ``top --bundle FLEET NODE/TARGET``.

n1-n3 are ordinary nodes, n4's forced command hangs. The nodes share this host's runtimes, so
every node bundles the same container: a Docker container with a password in its environment
and a token in its output, neither of which may reach the fleet archive.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import socket
import sys
import tarfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent))

import fleet as fleet_nodes  # noqa: E402
import harness  # noqa: E402

from debugtool.bundle import fleet as fleet_reader  # noqa: E402

pytestmark = [
    pytest.mark.skipif(not os.path.exists(fleet_nodes.SSHD), reason="needs openssh-server"),
]

PASSWORD = "Planted-Fleet-Pass-5150"
TOKEN = "sk_live_PlantedFleetToken8y2z"


@pytest.fixture(scope="module")
def fleet():
    with fleet_nodes.Fleet(4, kinds={"n4": "hang"}) as made:
        yield made


@pytest.fixture(scope="module")
def box(module_containers):
    """A container every node sees, with a secret in its environment and one in its logs."""
    started = module_containers.docker(
        "-e",
        f"DB_PASSWORD={PASSWORD}",
        cmd=("/bin/sh", "-c", f"echo api_token={TOKEN}; echo ready; exec sleep 100000"),
    )
    harness.wait_for(
        lambda: "ready" in harness.run("docker", "logs", started.id), "the container logged"
    )
    return started


def dt(fleet, *args: str, timeout: float = 240):
    return harness.run_cli(*args, env=fleet.env(), timeout=timeout)


@pytest.fixture(scope="module")
def three(fleet, box, tmp_path_factory):
    """A fleet bundle of n1-n3 and what ``bundle -H`` said."""
    path = tmp_path_factory.mktemp("fleet") / "three.tar"
    done = dt(fleet, "bundle", "-H", "n1,n2,n3", box.name, "-o", str(path))
    return path, done


def members(path: Path) -> dict[str, bytes]:
    """Every member of a fleet archive, each node's bundle gunzipped (every gzip member of it)."""
    out = {}
    with tarfile.open(path) as tar:
        for info in tar.getmembers():
            handle = tar.extractfile(info)
            if handle is None:
                continue
            data = handle.read()
            out[info.name] = gzip.decompress(data) if info.name.endswith(".tar.gz") else data
    return out


def inner_files(bundle_tar: bytes) -> dict[str, bytes]:
    """The members of one node's (gunzipped) bundle, by path below its root."""
    with tarfile.open(fileobj=io.BytesIO(bundle_tar)) as tar:
        return {
            m.name.partition("/")[2]: tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.isfile()
        }


def index_of(path: Path) -> dict:
    return next(json.loads(d) for n, d in members(path).items() if n.endswith("/fleet.json"))


def test_a_fleet_bundle_of_three_nodes_verifies_and_reads_back(fleet, box, three):
    path, done = three
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"fleet bundle written: {path} (")
    assert "3 nodes: 3 ok" in done.stdout
    # not a terminal: one plain line per node as it ends
    lines = sorted(done.stderr.splitlines())
    assert [line.split(":")[:2] for line in lines] == [
        ["debugtool", " n1"],
        ["debugtool", " n2"],
        ["debugtool", " n3"],
    ]
    assert all(": ok (" in line for line in lines), lines
    assert os.stat(path).st_mode & 0o777 == 0o600
    index = index_of(path)
    assert index["format"] == "debugtool-fleet-bundle" and index["complete"] is True
    assert [(n["name"], n["status"], n["member"]) for n in index["nodes"]] == [
        ("n1", "ok", "nodes/n1.tar.gz"),
        ("n2", "ok", "nodes/n2.tar.gz"),
        ("n3", "ok", "nodes/n3.tar.gz"),
    ]
    with tarfile.open(path) as tar:
        names = [n.partition("/")[2] for n in tar.getnames()]
        assert names == ["fleet.json", "report.html", *[f"nodes/n{i}.tar.gz" for i in (1, 2, 3)]]
        report = tar.extractfile(tar.getmembers()[1]).read().decode()  # type: ignore[union-attr]
    assert index["report"]["member"] == "report.html"
    # the nodes first, then each node's containers and its own report in a frame
    assert report.count('<iframe sandbox="allow-scripts"') == 3
    assert report.index(">n1</a>") < report.index('id="node-0"')
    assert report.count(f"<td>{box.name}</td>") == 3

    verified = dt(fleet, "bundle", "verify", str(path))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.splitlines()[0] == f"{path}: ok (3 nodes, 3 bundles verified)"

    shown = dt(fleet, "bundle", "show", str(path))
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith(f"Fleet bundle: {path}\n")
    for node in ("n1", "n2", "n3"):
        assert f"== node {node} (ok) ==" in shown.stdout
        assert f"Bundle:     {path} (node {node})" in shown.stdout
    rows = [line.split()[:3] for line in shown.stdout.splitlines() if line.startswith(box.id[:12])]
    # the container, once in each node's table of containers
    assert [r for r in rows if r[1] == box.name] == [[box.id[:12], box.name, "docker"]] * 3

    top = dt(fleet, "top", "--bundle", str(path), f"n2/{box.name}")
    assert top.returncode == 0, top.stderr
    assert "sleep 100000" in top.stdout
    shown_json = json.loads(dt(fleet, "bundle", "show", "--json", str(path)).stdout)
    assert [n["bundle"]["containers"][0]["id"] for n in shown_json["nodes"]] == [box.id] * 3
    logs = dt(fleet, "logs", "--bundle", str(path), f"n1/{box.name}")
    assert logs.returncode == 0 and "ready" in logs.stdout

    bare = dt(fleet, "top", "--bundle", str(path), box.name)
    assert bare.returncode == 125
    assert bare.stderr.splitlines() == [
        f"debugtool: {path} is a fleet bundle: name the container as NODE/TARGET (nodes with a "
        "bundle: n1, n2, n3)."
    ]


def test_secrets_planted_on_a_node_are_absent_from_the_fleet_archive(three):
    path, done = three
    assert done.returncode == 0, done.stderr
    found = members(path)
    assert len(found) == 5  # the index, the report, three bundles
    for name, data in found.items():
        for secret in (PASSWORD, TOKEN):
            assert secret.encode() not in data, f"{secret} in {name}"
    # the container and its logs are there, masked: the secrets were not simply left out
    n1 = inner_files(found[next(n for n in found if n.endswith("nodes/n1.tar.gz"))])
    logs = next(data for rel, data in n1.items() if rel.endswith("/logs.txt"))
    assert b"api_token=" in logs and b"ready" in logs


def test_a_stopped_node_and_a_hanging_node_cost_one_line_each(fleet, box, tmp_path):
    dt(fleet, "ps", "-H", "n1,n2")  # warm the good nodes' zipapp caches
    path = tmp_path / "partial.tar"
    fleet.stop("n3")
    try:
        done = dt(
            fleet,
            "bundle",
            "-H",
            "n1,n3,n4,n2",
            "--node-timeout",
            "40",
            box.name,
            "-o",
            str(path),
        )
    finally:
        fleet.start("n3")
    assert done.returncode == 2, done.stderr
    assert "4 nodes: 2 ok, 1 unreachable, 1 timed out" in done.stdout
    lines = {line.split(":")[1].strip(): line for line in done.stderr.splitlines()}
    assert sorted(lines) == ["n1", "n2", "n3", "n4"], done.stderr
    assert lines["n3"].startswith("debugtool: n3: unreachable (") and "refused" in lines["n3"]
    assert lines["n4"] == "debugtool: n4: timed out after 40s (--node-timeout); skipped"
    index = index_of(path)
    statuses = {n["name"]: (n["status"], n["member"]) for n in index["nodes"]}
    assert statuses == {
        "n1": ("ok", "nodes/n1.tar.gz"),
        "n3": ("unreachable", None),
        "n4": ("timed out", None),
        "n2": ("ok", "nodes/n2.tar.gz"),
    }
    assert index["complete"] is False
    verified = dt(fleet, "bundle", "verify", str(path))
    assert verified.returncode == 0, verified.stdout
    assert "  n4  no bundle (timed out: timed out after 40s" in verified.stdout
    # the node bundled within the time it was given: its own budget was shortened to fit
    assert index["nodes"][0]["seconds"] < 40


def test_a_corrupted_member_fails_verify_naming_the_node(fleet, box, three, tmp_path):
    path, done = three
    assert done.returncode == 0, done.stderr
    damaged = tmp_path / "damaged.tar"
    data = bytearray(path.read_bytes())
    with fleet_reader.open_fleet(str(path)) as archive:
        span = archive._spans["nodes/n2.tar.gz"]
    data[span.offset + span.size // 2] ^= 0x55
    damaged.write_bytes(bytes(data))
    verified = dt(fleet, "bundle", "verify", str(damaged))
    assert verified.returncode == 1
    out = verified.stdout.splitlines()
    assert out[0] == f"{damaged}: CORRUPT (damaged: n2)"
    assert out[2].startswith("  n2  CORRUPT: ") and "does not match the index" in out[2]
    assert out[1] == "  n1  intact (ok)" and out[3] == "  n3  intact (ok)"
    top = dt(fleet, "top", "--bundle", str(damaged), f"n2/{box.name}")
    assert top.returncode == 125 and len(top.stderr.splitlines()) == 1
    assert "node n2's bundle" in top.stderr and "Traceback" not in top.stderr
    assert dt(fleet, "top", "--bundle", str(damaged), f"n1/{box.name}").returncode == 0


def test_a_bundle_cut_short_on_the_wire_is_not_kept(fleet, box, tmp_path):
    """The node's debugtool ends well but only part of its bundle arrives (here a wrapper
    cuts its standard output): the node is failed, with a sentence, and nothing of it kept."""
    cutter = tmp_path / "cut-debugtool"
    cutter.write_text(
        f'#!/bin/sh\n{sys.executable} -m debugtool "$@" | head -c 20000\n'  # exits 0
    )
    cutter.chmod(0o755)
    path = tmp_path / "cut.tar"
    done = dt(
        fleet,
        "bundle",
        "-H",
        "n1",
        "--remote-debugtool",
        str(cutter),
        box.name,
        "-o",
        str(path),
    )
    assert done.returncode == 125, done.stderr
    assert done.stderr.startswith("debugtool: n1: failed: its bundle arrived damaged (")
    assert done.stderr.rstrip().endswith("not kept")
    (node,) = index_of(path)["nodes"]
    assert (node["status"], node["member"]) == ("failed", None)
    assert [n.rpartition("/")[2] for n in members(path)] == ["fleet.json", "report.html"]


def test_pseudonyms_are_consistent_across_nodes_with_one_mapping_beside(fleet, box, tmp_path):
    path = tmp_path / "pseudo.tar"
    done = dt(fleet, "bundle", "-H", "n1,n2", "--pseudonymise", "all", box.name, "-o", str(path))
    assert done.returncode == 0, done.stderr
    mapping = tmp_path / "pseudo.map.json"
    assert sorted(os.listdir(tmp_path)) == ["pseudo.map.json", "pseudo.tar"]
    assert os.stat(mapping).st_mode & 0o777 == 0o600
    assert f"pseudonym mapping in {mapping}" in done.stdout
    doc = json.loads(mapping.read_text())
    found = members(path)
    # nothing of the mapping inside, nor the addresses it replaced (the host name "vm" is too
    # short to look for in compressed bytes: the index and command line are checked below)
    host = socket.gethostname().lower()
    container_ip = harness.run(
        "docker", "inspect", "-f", "{{.NetworkSettings.IPAddress}}", box.id
    ).strip()
    assert doc["hosts"][host] and doc["ips"][container_ip]
    addresses = [fleet.node(n).address for n in ("n1", "n2")]
    for name, data in found.items():
        assert doc["key"].encode() not in data and b"debugtool-pseudonyms" not in data, name
        for original in (container_ip, *addresses):
            assert original.encode() not in data, f"{original} in {name}"
    # one pseudonym per original, the same in both nodes' bundles
    pseudo_ip = doc["ips"][container_ip].encode()
    nodes = {n: d for n, d in found.items() if n.endswith(".tar.gz")}
    assert len(nodes) == 2
    for data in nodes.values():
        snapshot = next(d for r, d in inner_files(data).items() if r.endswith("/snapshot.json"))
        assert pseudo_ip in snapshot
    index = index_of(path)
    assert index["pseudonymised"] is True
    names = [n["name"] for n in index["nodes"]]
    assert names == [doc["hosts"]["n1"], doc["hosts"]["n2"]]
    assert "n1" not in " ".join(index["command_line"])
    verified = dt(fleet, "bundle", "verify", str(path))
    assert verified.returncode == 0, verified.stdout
    top = dt(fleet, "top", "--bundle", str(path), f"{names[1]}/{box.name}")
    assert top.returncode == 0, top.stderr
