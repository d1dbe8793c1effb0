"""The fleet bundle's index and reader on small fleet archives made here from real bundles
(``test_bundle_reader``'s): nodes as the first level, each node's bundle checked against the
index and verified, and the same refusals as the bundle reader for archives someone sent you.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import pytest
from test_bundle_reader import WEB, bundle, valid_files

from debugtool.bundle import fleet, fleet_capture, fleet_report, reader
from debugtool.errors import BundleError, UsageError

ROOT = "debugtool-fleet-20261206T120000Z"


def make_fleet(
    tmp_path: Path, statuses: dict[str, str] | None = None, with_report: bool = False
) -> Path:
    """A fleet archive of nodes ``a`` and ``b`` (each a real bundle) and ``down``; with
    ``with_report``, its report.html as ``bundle -H`` writes it."""
    statuses = statuses or {"a": fleet.OK, "b": fleet.OK, "down": fleet.UNREACHABLE}
    taken: set[str] = set()
    nodes, files = [], {}
    for name, status in statuses.items():
        node = fleet.FleetNode(name, status, address=f"198.51.100.{len(nodes) + 2}")
        if status in fleet.WITH_BUNDLE:
            page = f'<p title="x">report of {name} &amp; <b>more</b></p>'.encode()
            path = bundle(tmp_path / f"{name}.tar.gz", valid_files(**{"report.html": page}))
            data = path.read_bytes()
            node.member = fleet.member_name(name, taken)
            node.size = len(data)
            node.sha256 = reader.manifest.sha256(data)
            files[node.member] = str(path)
        else:
            node.message = "unreachable (connect to host 198.51.100.9 port 22: No route to host)"
        nodes.append(node)
    index = fleet_capture.index_document(ROOT, 1796558400.0, ["bundle", "-H", "a,b,down"], nodes)
    report = None
    if with_report:
        views = fleet_capture.views_of(files)
        by_name = {n.name: views[n.member] for n in nodes if n.member is not None}
        report = fleet_report.page(index, nodes, by_name)
        index = fleet_capture.with_report(index, report)
    out = tmp_path / "fleet.tar"
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        fleet_capture.write_archive(fd, index, files, report)
    finally:
        os.close(fd)
    return out


def test_a_fleet_archive_is_told_from_a_bundle(tmp_path: Path) -> None:
    path = make_fleet(tmp_path)
    assert fleet.is_fleet_archive(str(path))
    assert not fleet.is_fleet_archive(str(tmp_path / "a.tar.gz"))  # a node's bundle
    assert not fleet.is_fleet_archive(str(tmp_path / "nothing-here"))
    (tmp_path / "short").write_bytes(b"x" * 100)
    assert not fleet.is_fleet_archive(str(tmp_path / "short"))


def test_nodes_are_the_first_level_and_each_opens_as_a_verified_bundle(tmp_path: Path) -> None:
    path = make_fleet(tmp_path)
    with fleet.open_fleet(str(path)) as archive:
        assert archive.manifest["format"] == "debugtool-fleet-bundle"
        assert archive.manifest["complete"] is False
        assert [(n.name, n.status) for n in archive.nodes] == [
            ("a", "ok"),
            ("b", "ok"),
            ("down", "unreachable"),
        ]
        assert archive.nodes[0].member == "nodes/a.tar.gz"
        assert archive.nodes[2].member is None and "No route" in archive.nodes[2].message
        node_bundle = archive.open_node("b")
        assert [c.name for c in node_bundle.containers] == ["web"]
        assert node_bundle.snapshot("web").processes[0].cmdline == ["sleep", "9"]
        node, target = archive.split_target("a/web")
        assert (node.name, target) == ("a", "web")
        with pytest.raises(BundleError, match="status is unreachable"):
            archive.open_node("down")
        with pytest.raises(BundleError, match="no node called nosuch; its nodes: a, b, down"):
            archive.open_node("nosuch")
        with pytest.raises(BundleError, match="NODE/TARGET"):
            archive.split_target("web")
        copies = archive._temp[0]
        assert os.stat(copies).st_mode & 0o777 == 0o700
        assert all(os.stat(e.path).st_mode & 0o777 == 0o600 for e in os.scandir(copies))
    assert not os.path.exists(copies)  # closing removes the copies


def test_the_index_is_a_plain_first_member_and_the_bundles_are_unchanged(tmp_path: Path) -> None:
    path = make_fleet(tmp_path)
    with tarfile.open(path) as tar:
        names = tar.getnames()
        assert names == [f"{ROOT}/fleet.json", f"{ROOT}/nodes/a.tar.gz", f"{ROOT}/nodes/b.tar.gz"]
        inner = tar.extractfile(f"{ROOT}/nodes/a.tar.gz")
        assert inner is not None and inner.read() == (tmp_path / "a.tar.gz").read_bytes()
        assert all(m.mode == 0o600 for m in tar.getmembers())


def test_a_changed_node_bundle_fails_naming_the_node(tmp_path: Path) -> None:
    path = make_fleet(tmp_path)
    data = bytearray(path.read_bytes())
    with fleet.open_fleet(str(path)) as archive:
        span = archive._spans["nodes/b.tar.gz"]
    data[span.offset + span.size // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with fleet.open_fleet(str(path)) as archive:  # the archive around the bundles is intact
        archive.open_node("a")
        with pytest.raises(BundleError, match=r"node b's bundle \(nodes/b.tar.gz\) does not match"):
            archive.open_node("b")
    _, verdicts = fleet.check_fleet(str(path))
    assert [v.damaged for v in verdicts] == [False, True, False]
    assert "node b" in verdicts[1].error


def test_a_node_bundle_that_matches_the_index_but_not_its_own_manifest_is_refused(
    tmp_path: Path,
) -> None:
    """The index's checksum was made for a bundle that was already damaged (cut short on the
    wire and kept, say): the node's own verification still refuses it, naming the node."""
    good = bundle(tmp_path / "good.tar.gz", valid_files()).read_bytes()
    cut = good[: len(good) - 40]
    (tmp_path / "cut.tar.gz").write_bytes(cut)
    node = fleet.FleetNode("cut", fleet.OK, member="nodes/cut.tar.gz")
    node.size, node.sha256 = len(cut), reader.manifest.sha256(cut)
    index = fleet_capture.index_document(ROOT, 1796558400.0, [], [node])
    out = tmp_path / "fleet.tar"
    with open(out, "wb") as f:
        fleet_capture.write_archive(f.fileno(), index, {node.member: str(tmp_path / "cut.tar.gz")})
    with fleet.open_fleet(str(out)) as archive, pytest.raises(BundleError) as err:
        archive.open_node("cut")
    assert f"{out} (node cut)" in err.value.message
    assert "debugtool-fleet-" not in err.value.message.replace(str(out), "")  # no temp path
    _, verdicts = fleet.check_fleet(str(out))
    assert verdicts[0].damaged


def _rewrite(path: Path, extra: list[tuple[str, bytes, bytes]], trailing: bytes = b"") -> None:
    """Append members (name, data, tar type) before the end-of-archive block, then bytes."""
    with tarfile.open(path) as tar:
        members = [(m, tar.extractfile(m).read()) for m in tar.getmembers()]  # type: ignore[union-attr]
    with open(path, "wb") as out, tarfile.open(fileobj=out, mode="w") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data))
        for name, data, kind in extra:
            info = tarfile.TarInfo(name)
            info.type, info.size = kind, len(data) if kind == tarfile.REGTYPE else 0
            tar.addfile(info, io.BytesIO(data) if info.size else None)
    if trailing:
        with open(path, "ab") as out:
            out.write(trailing)


@pytest.mark.parametrize(
    ("extra", "trailing", "words"),
    [
        ([(f"{ROOT}/nodes/c.tar.gz", b"x", tarfile.REGTYPE)], b"", "not a bundle the index names"),
        ([(f"{ROOT}/../../etc/cron.d/x", b"x", tarfile.REGTYPE)], b"", "climbs out"),
        ([(f"{ROOT}/nodes/l", b"", tarfile.SYMTYPE)], b"", "a symbolic link"),
        ([(f"{ROOT}/nodes/a.tar.gz", b"x", tarfile.REGTYPE)], b"", "appears twice"),
        ([], b"appended", "not zero padding"),
    ],
)
def test_what_does_not_belong_is_refused_in_one_sentence(
    tmp_path: Path, extra: list[tuple[str, bytes, bytes]], trailing: bytes, words: str
) -> None:
    path = make_fleet(tmp_path)
    _rewrite(path, extra, trailing)
    with pytest.raises(BundleError, match="fails verification") as err:
        fleet.open_fleet(str(path))
    assert words in err.value.message and "\n" not in err.value.message
    archive, _ = fleet.check_fleet(str(path))
    assert any(words in p for p in archive.problems)


def test_a_missing_node_bundle_is_named(tmp_path: Path) -> None:
    path = make_fleet(tmp_path)
    with tarfile.open(path) as tar:
        keep = [(m, tar.extractfile(m).read()) for m in tar.getmembers() if "b.tar" not in m.name]  # type: ignore[union-attr]
    with open(path, "wb") as out, tarfile.open(fileobj=out, mode="w") as tar:
        for info, data in keep:
            tar.addfile(info, io.BytesIO(data))
    with pytest.raises(BundleError, match="node b's bundle nodes/b.tar.gz is missing"):
        fleet.open_fleet(str(path))


def _with_index(tmp_path: Path, index: object) -> Path:
    data = json.dumps(index).encode()
    path = tmp_path / "odd.tar"
    with tarfile.open(path, "w") as tar:
        info = tarfile.TarInfo(f"{ROOT}/fleet.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return path


def _index(**change: object) -> dict[str, object]:
    good = fleet.FleetNode("a", fleet.UNREACHABLE, "down").to_dict()
    doc: dict[str, object] = {
        "format": fleet.FORMAT,
        "schema_version": 1,
        "created_at": 1796558400.0,
        "root": ROOT,
        "nodes": [good],
    }
    doc.update(change)
    return doc


@pytest.mark.parametrize(
    ("index", "words"),
    [
        (_index(schema_version=9), "fleet schema version 9; this debugtool reads up to 1"),
        (_index(format="x"), "no fleet format mark"),
        (_index(nodes="a"), "malformed index: its nodes is not a list"),
        (
            _index(nodes=[{"name": "a", "status": "down"}]),
            "nodes[0].status is not one of ok, partial",
        ),
        (
            _index(nodes=[{"name": "a", "status": "ok", "member": None}]),
            "nodes[0] is ok but names no bundle",
        ),
        (
            _index(
                nodes=[{"name": "a", "status": "ok", "member": "../a", "size": 1, "sha256": ""}]
            ),
            "nodes[0].member is not a file under nodes/",
        ),
        (
            _index(nodes=[{"name": "a", "status": "failed"}, {"name": "a", "status": "failed"}]),
            "nodes[1].name a appears twice",
        ),
        ([1, 2], "no fleet format mark"),
    ],
)
def test_a_malformed_index_is_refused_in_one_sentence(
    tmp_path: Path, index: object, words: str
) -> None:
    path = _with_index(tmp_path, index)
    assert fleet.is_fleet_archive(str(path))
    with pytest.raises(BundleError) as err:
        fleet.open_fleet(str(path))
    assert words in err.value.message, err.value.message


def test_member_names_are_plain_and_unique() -> None:
    taken: set[str] = set()
    assert fleet.member_name("web-1", taken) == "nodes/web-1.tar.gz"
    assert fleet.member_name("../../etc", taken) == "nodes/_.._etc.tar.gz"
    assert fleet.member_name("root@10.0.0.1:22", taken) == "nodes/root_10.0.0.1_22.tar.gz"
    assert fleet.member_name("web/1", taken) == "nodes/web_1.tar.gz"
    assert fleet.member_name("web_1", taken) == "nodes/web_1-2.tar.gz"
    assert fleet.member_name("", taken) == "nodes/node.tar.gz"


def test_a_bundle_is_not_read_as_a_fleet(tmp_path: Path) -> None:
    path = bundle(tmp_path / "one.tar.gz", valid_files())
    with pytest.raises(BundleError, match="not a fleet bundle"):
        fleet.open_fleet(str(path))
    assert WEB.name == "web"


# --- what each node is asked to run (fleet_capture.plan) -------------------------------------


def _nodes(*names: str) -> list:
    from debugtool.fleet.nodes import Node

    return [Node(n, n) for n in names]


def test_a_node_runs_the_bundle_command_without_this_sides_options() -> None:
    rest = ["bundle", "web", "-o", "f.tar", "--force", "--json", "--redact-rules=r.toml"]
    rest += ["--pseudonymise", "all", "--pseudonym-map", "m.json", "--since", "1h"]
    made = fleet_capture.plan(_nodes("a", "b"), rest, ["web"], 60.0, None)
    assert made.timeout == 60.0 + fleet_capture.MARGIN
    assert made.argv["a"] == made.argv["b"] == ["bundle", "web", "--since", "1h", "-o", "-"]


def test_a_short_node_timeout_shortens_the_nodes_budget() -> None:
    made = fleet_capture.plan(_nodes("a"), ["bundle", "--all", "--budget", "90"], [], 90.0, 40.0)
    assert made.timeout == 40.0
    assert made.argv["a"] == ["bundle", "--all", "-o", "-", "--budget=30"]
    with pytest.raises(UsageError, match="leaves a node no time"):
        fleet_capture.plan(_nodes("a"), ["bundle", "--all"], [], 60.0, 12.0)


def test_a_node_whose_turn_comes_late_gets_what_is_left_of_the_budget() -> None:
    made = fleet_capture.plan(_nodes("a", "b"), ["bundle", "web", "--budget", "60"], [], 60.0, None)
    (a, b) = made.nodes
    margin = fleet_capture.MARGIN
    assert made.argv_of(a, None) == made.argv["a"]  # no deadline: as planned
    whole = ["bundle", "web", "--budget", "60", "-o", "-"]
    assert made.argv_of(a, 60.0 + margin) == made.argv["a"] == whole  # the whole budget
    # The second wave (--forks) starts with 20 s of capture left: its bundle gets those.
    assert made.argv_of(b, 20.0 + margin) == ["bundle", "web", "-o", "-", "--budget=20"]
    # Less than the least a capture needs: not started at all.
    assert made.argv_of(b, fleet_capture.MIN_NODE_BUDGET - 1 + margin) is None


def test_node_slash_target_goes_to_that_node_alone() -> None:
    rest = ["bundle", "a/web", "b/db", "--", "x"]
    made = fleet_capture.plan(_nodes("a", "b", "c"), rest, ["a/web", "b/db"], 60.0, None)
    assert [n.name for n in made.nodes] == ["a", "b"]
    assert made.argv["a"] == ["bundle", "web", "-o", "-", "--", "x"]
    assert made.argv["b"] == ["bundle", "db", "-o", "-", "--", "x"]
    mixed = fleet_capture.plan(
        _nodes("a", "b"), ["bundle", "a/web", "api"], ["a/web", "api"], 60, None
    )
    assert mixed.argv["a"] == ["bundle", "api", "web", "-o", "-"]
    assert mixed.argv["b"] == ["bundle", "api", "-o", "-"]


def test_the_mapping_goes_beside_the_fleet_archive() -> None:
    assert fleet_capture.map_path("/x/f.tar", None) == "/x/f.map.json"
    assert fleet_capture.map_path("-", "m.json") == "m.json"
    with pytest.raises(UsageError, match="needs --pseudonym-map"):
        fleet_capture.map_path("-", None)


def test_the_fleet_report_shows_the_nodes_and_each_nodes_own_report(tmp_path: Path) -> None:
    path = make_fleet(tmp_path, with_report=True)
    with tarfile.open(path) as tar:
        assert tar.getnames()[:2] == [f"{ROOT}/fleet.json", f"{ROOT}/report.html"]
        page = tar.extractfile(f"{ROOT}/report.html").read().decode()  # type: ignore[union-attr]
        inner = tar.extractfile(f"{ROOT}/nodes/a.tar.gz").read()  # type: ignore[union-attr]
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert ">down</td>" in page and "No route to host" in page  # a node without a bundle
    # each node's own report, byte for byte as its bundle holds it, escaped into a frame
    (tmp_path / "a-again.tar.gz").write_bytes(inner)
    own = reader.open_bundle(str(tmp_path / "a-again.tar.gz")).member("report.html")
    assert own is not None
    import html

    frames = page.split('srcdoc="')[1:]
    assert len(frames) == 2
    assert html.unescape(frames[0].split('"></iframe>')[0]).encode() == own
    assert 'sandbox="allow-scripts"' in page
    assert fleet.check_fleet(str(path))[0].problems == []


def test_a_changed_fleet_report_fails_verification(tmp_path: Path) -> None:
    path = make_fleet(tmp_path, with_report=True)
    with fleet.open_fleet(str(path)) as archive:
        span = archive._spans["report.html"]
    data = bytearray(path.read_bytes())
    data[span.offset + 10] ^= 0x20
    path.write_bytes(bytes(data))
    archive, verdicts = fleet.check_fleet(str(path))
    assert archive.problems == ["report.html: does not match the index's checksum"]
    assert not any(v.damaged for v in verdicts)


def test_past_the_embed_limit_a_nodes_report_is_named_not_copied(tmp_path, monkeypatch) -> None:
    one = len(b'<p title="x">report of a &amp; <b>more</b></p>')
    monkeypatch.setattr(fleet_report, "EMBED_LIMIT", one)  # room for node a's report alone
    path = make_fleet(tmp_path, with_report=True)
    with tarfile.open(path) as tar:
        page = tar.extractfile(f"{ROOT}/report.html").read().decode()  # type: ignore[union-attr]
    assert page.count("<iframe") == 1
    assert f"tar -xOf FLEET.tar {ROOT}/nodes/b.tar.gz | tar -xzO" in page
