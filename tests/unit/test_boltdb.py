"""libpod's databases: the bolt reader on one captured from podman 4.3 (65 containers, one
pod), and the SQLite one podman 5 keeps."""

from __future__ import annotations

import gzip
import json
import os
import struct
from pathlib import Path

import pytest

from debugtool.model import Port
from debugtool.runtimes import boltdb, podman

FIXTURE = Path(__file__).parent.parent / "fixtures" / "runtimes" / "libpod-bolt_state.db.gz"


@pytest.fixture(autouse=True)
def _no_rootless_stores(monkeypatch: pytest.MonkeyPatch) -> None:
    """The podman backend reads captured storage here, never this host's users' own."""
    from debugtool.runtimes import rootless

    monkeypatch.setattr(rootless, "user_stores", lambda: [])


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "libpod" / "bolt_state.db"
    path.parent.mkdir()
    path.write_bytes(gzip.decompress(FIXTURE.read_bytes()))
    return path


def configs(path: Path) -> dict[str, dict]:
    with boltdb.BoltFile(str(path)) as db:
        ctr = db.top().bucket(b"ctr")
        assert ctr is not None
        return {
            cid.decode(): json.loads(bucket.get(b"config") or b"{}")
            for cid, bucket in ctr.buckets()
        }


def test_reads_every_container_through_branch_and_overflow_pages(db_path: Path) -> None:
    with boltdb.BoltFile(str(db_path)) as db:
        top = {key for key, _ in db.top().buckets()}
        assert {b"ctr", b"pod", b"all-ctrs", b"name-registry", b"runtime-config"} <= top
        # 65 containers do not fit one leaf: the ctr bucket's root is a branch page.
        ctr = db.top().bucket(b"ctr")
        assert ctr is not None
        assert struct.unpack_from("<QH", db.page(ctr._root))[1] == boltdb.BRANCH
    found = configs(db_path)
    names = sorted(c["name"] for c in found.values())
    assert names == [f"dtcap-bolt-{i:02d}" for i in range(1, 65)] + ["dtcap-in-pod"]
    assert all(cid == c["id"] for cid, c in found.items())
    # Each config is about 12 KB: the leaf holding it continues in overflow pages (a branch
    # page above two leaves for dtcap-in-pod, whose bucket holds one key more).
    with boltdb.BoltFile(str(db_path)) as db:
        ctr = db.top().bucket(b"ctr")
        assert ctr is not None
        heads = [struct.unpack_from("<QHHI", db.page(b._root)) for _, b in ctr.buckets()]
    assert sorted((flags, overflow) for _, flags, _, overflow in heads) == [
        (boltdb.BRANCH, 0),
        *[(boltdb.LEAF, 2)] * 64,
    ]
    assert {c["labels"]["idx"] for c in found.values() if "idx" in c["labels"]} == {
        f"{i:02d}" for i in range(1, 65)
    }


def test_libpod_records_give_labels_and_pod_names(db_path: Path) -> None:
    records = podman.libpod_records(str(db_path.parent.parent))
    by_name = {c["name"]: cid for cid, c in configs(db_path).items()}
    assert records[by_name["dtcap-in-pod"]] == ({"team": "ops"}, "dtcap-pod", [])
    assert records[by_name["dtcap-bolt-07"]] == ({"idx": "07"}, "", [])
    assert len(records) == 65


def test_a_torn_meta_page_falls_back_to_the_other(db_path: Path) -> None:
    data = bytearray(db_path.read_bytes())
    with boltdb.BoltFile(str(db_path)) as db:
        before = sorted(k for k, _, _ in db.top().items())
        page_size = db.page_size
    # Break the checksum of whichever meta page is newer; the older one is still committed.
    for offset in (0, page_size):
        broken = bytearray(data)
        broken[offset + 16 + 56] ^= 0xFF
        db_path.write_bytes(bytes(broken))
        with boltdb.BoltFile(str(db_path)) as db:
            assert sorted(k for k, _, _ in db.top().items()) == before
    data[16 + 56] ^= 0xFF
    data[page_size + 16 + 56] ^= 0xFF
    db_path.write_bytes(bytes(data))
    with pytest.raises(boltdb.BoltError, match="no valid meta page"):
        boltdb.BoltFile(str(db_path))


def test_a_writer_holding_the_lock_is_waited_for_then_given_up_on(db_path: Path) -> None:
    import fcntl
    import threading

    writer = os.open(db_path, os.O_RDWR)
    try:
        fcntl.flock(writer, fcntl.LOCK_EX)
        with pytest.raises(boltdb.BoltError, match="locked for over 0.05s"):
            boltdb.BoltFile(str(db_path), lock_timeout=0.05)
        # A write that ends while the reader waits: the reader then goes on.
        threading.Timer(0.1, fcntl.flock, (writer, fcntl.LOCK_UN)).start()
        with boltdb.BoltFile(str(db_path), lock_timeout=5) as db:
            assert db.top().bucket(b"ctr") is not None
            # The reader's shared lock keeps a writer out until it closes.
            with pytest.raises(BlockingIOError):
                fcntl.flock(writer, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(writer, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(writer)


def test_not_bolt_and_truncated_files_are_errors(tmp_path: Path, db_path: Path) -> None:
    text = tmp_path / "text.db"
    text.write_text("not a database\n" * 1000)
    with pytest.raises(boltdb.BoltError):
        boltdb.BoltFile(str(text))
    data = db_path.read_bytes()
    db_path.write_bytes(data[: 8 * 4096])  # the metas survive, the tree does not
    with pytest.raises(boltdb.BoltError, match="outside the file|past the end"):
        configs(db_path)


def test_podman_lists_without_labels_and_says_why_when_the_database_is_broken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "storage"
    (root / "overlay-containers").mkdir(parents=True)
    record = {"id": "a" * 64, "names": ["web"], "created": "2026-11-26T17:00:00Z"}
    (root / "overlay-containers" / "containers.json").write_text(json.dumps([record]))
    monkeypatch.setattr(podman, "graph_root", lambda: str(root))
    runtime = podman.PodmanRuntime()
    (web,) = runtime.list(all=True)
    assert web.labels == {} and runtime.warnings == []  # no libpod database: nothing to miss
    (root / "libpod").mkdir()
    (root / "libpod" / "bolt_state.db").write_bytes(b"\0" * 8192)
    (web,) = runtime.list(all=True)
    assert web.name == "web" and web.labels == {}
    assert runtime.warnings == [
        "cannot read libpod's database (not a bolt database (no valid meta page)); "
        "containers are listed without their labels and pods."
    ]


def test_libpod_records_from_podman_5s_sqlite_database(tmp_path: Path) -> None:
    import sqlite3

    # The two tables as podman 5 creates them (libpod/sqlite_state_internal.go).
    conn = sqlite3.connect(tmp_path / "db.sql")
    conn.executescript(
        """
        CREATE TABLE PodConfig(ID TEXT PRIMARY KEY NOT NULL, Name TEXT UNIQUE NOT NULL,
                               JSON TEXT NOT NULL);
        CREATE TABLE ContainerConfig(ID TEXT PRIMARY KEY NOT NULL, Name TEXT UNIQUE NOT NULL,
                                     PodID TEXT, JSON TEXT NOT NULL);
        """
    )
    conn.execute("INSERT INTO PodConfig VALUES ('p1', 'shop', '{\"name\": \"shop\"}')")
    rows = [
        ("c1", "web", "p1", {"name": "web", "pod": "p1", "labels": {"tier": "front"}}),
        ("c2", "p1-infra", "p1", {"name": "p1-infra", "pod": "p1", "pause": True}),
        (
            "c3",
            "db",
            None,
            {
                "name": "db",
                "newPortMappings": [
                    {
                        "host_ip": "127.0.0.1",
                        "container_port": 8099,
                        "host_port": 18099,
                        "range": 1,
                        "protocol": "tcp",
                    }
                ],
            },
        ),
    ]
    conn.executemany(
        "INSERT INTO ContainerConfig VALUES (?, ?, ?, ?)",
        [(i, n, p, json.dumps(c)) for i, n, p, c in rows],
    )
    conn.commit()
    conn.close()
    assert podman.libpod_records(str(tmp_path)) == {
        "c1": ({"tier": "front"}, "shop", []),
        "c2": ({}, "", []),  # the pod's infra container is not one of its members
        "c3": ({}, "", [Port(8099, "tcp", "127.0.0.1", 18099)]),
    }
    (tmp_path / "db.sql").write_bytes(b"garbage" * 100)
    with pytest.raises(ValueError, match="db.sql"):
        podman.libpod_records(str(tmp_path))
