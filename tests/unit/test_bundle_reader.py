"""The bundle reader on bundles someone sent you: gzip bombs, huge or lying tar headers, links,
devices and '..' paths. Reading one must cost bounded memory and say in one sentence why not.

The bombs are real: members of zeros streamed through tarfile and gzip into ``tmp_path``, so a
512 MiB member is about half a MiB on disk. The memory bound is measured on the CLI as a child
process (its peak RSS from ``wait4``), not timed.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import sys
import tarfile
from collections.abc import Iterable
from pathlib import Path

import harness
import pytest

from debugtool.bundle import manifest as mf
from debugtool.bundle import reader
from debugtool.errors import BundleError
from debugtool.model import Container, to_dict
from debugtool.snapshot import Process, Snapshot

MiB = 1 << 20
REPO = Path(__file__).resolve().parents[2]
ROOT = "debugtool-bundle-vm-20261126T151748Z"
WEB = Container(id="ab" * 32, name="web", runtime="docker", status="running", pid=42)
DIR = "docker-web-ababababab"
FOLDER = f"containers/{DIR}"


class Zeros(io.RawIOBase):
    """``size`` zero bytes, produced as they are read (never held)."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(n)
        self.left -= n
        return n


def zeros_sha256(size: int) -> str:
    digest, chunk = hashlib.sha256(), bytes(MiB)
    for _ in range(size // MiB):
        digest.update(chunk)
    digest.update(bytes(size % MiB))
    return digest.hexdigest()


Data = bytes | int  # bytes, or that many zeros


def manifest_of(files: dict[str, Data]) -> bytes:
    entries = {}
    for rel, data in files.items():
        if isinstance(data, int):
            entries[rel] = {"size": data, "sha256": zeros_sha256(data)}
        else:
            entries[rel] = mf.file_entry(data)
    doc = {
        "format": mf.FORMAT,
        "schema_version": mf.SCHEMA_VERSION,
        "debugtool_version": "0.0",
        "created_at": 1795706268.0,
        "root": ROOT,
        "complete": True,
        "containers": [
            {"id": WEB.id, "name": "web", "runtime": "docker", "status": "running", "dir": DIR}
        ],
        "collectors": [],
        "files": entries,
    }
    return json.dumps(doc).encode()


def valid_files(**extra: Data) -> dict[str, Data]:
    snap = Snapshot(
        container=WEB, taken_at=1.0, processes=[Process(pid=42, cmdline=["sleep", "9"])]
    )
    files: dict[str, Data] = {
        f"{FOLDER}/container.json": json.dumps(to_dict(WEB)).encode(),
        f"{FOLDER}/snapshot.json": snap.to_json().encode(),
        "host/kernel.txt": b"uname: Linux vm 6.1.0\n",
    }
    files.update(extra)
    return files


def member(name: str, data: Data = b"", kind: bytes = tarfile.REGTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = data if isinstance(data, int) else len(data)
    if kind != tarfile.REGTYPE:
        info.size = 0
    return info


def write_tar(
    path: Path,
    members: Iterable[tuple[tarfile.TarInfo, Data]],
    gzip_members: int = 1,
    fmt: int = tarfile.PAX_FORMAT,
) -> Path:
    """Stream ``members`` into a .tar.gz, split over ``gzip_members`` gzip members (as the
    writer does) with zero padding between them, as gzip allows."""
    items = list(members)
    per = max(1, -(-len(items) // gzip_members))
    with open(path, "wb") as out:
        for start in range(0, len(items), per):
            last = start + per >= len(items)
            with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9, mtime=0) as gz:
                tar = tarfile.TarFile(fileobj=gz, mode="w", format=fmt)
                for info, data in items[start : start + per]:
                    body = io.BufferedReader(Zeros(data), MiB) if isinstance(data, int) else None
                    tar.addfile(info, body if body else io.BytesIO(data) if info.size else None)
                if last:
                    tar.close()  # the end-of-archive blocks, once, at the very end
            if not last:
                out.write(bytes(8))
    return path


def bundle(path: Path, files: dict[str, Data], gzip_members: int = 1, **more: Data) -> Path:
    """A bundle whose manifest records ``files``; ``more`` are members it does not record."""
    members = [(member(f"{ROOT}/{mf.MANIFEST}", manifest_of(files)), manifest_of(files))]
    members += [(member(f"{ROOT}/{rel}", data), data) for rel, data in {**files, **more}.items()]
    return write_tar(path, members, gzip_members)


def cli(*args: str) -> tuple[int, str, str, int]:
    """Run ``debugtool ARGS`` as a child; return its exit code, stdout, stderr and peak RSS
    (measured around the child alone: see ``harness.run_measured``)."""
    return harness.run_measured([sys.executable, "-m", "debugtool", *args], cwd=str(REPO))


def assert_one_sentence(stderr: str, *words: str) -> None:
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("debugtool: "), stderr
    assert "Traceback" not in stderr
    for word in words:
        assert word in lines[0], stderr


# --- the memory bound, measured on the CLI ----------------------------------------------------


@pytest.fixture(scope="module")
def member_bomb(tmp_path_factory) -> Path:
    """A bundle whose snapshot.json is 512 MiB of zeros (about 0.5 MiB compressed), recorded
    in its manifest with its true size and checksum."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.tar.gz"
    bundle(path, valid_files(**{f"{FOLDER}/snapshot.json": 512 * MiB}))
    assert path.stat().st_size < 2 * MiB
    return path


def test_verify_refuses_a_512_mib_member_in_bounded_memory(member_bomb: Path) -> None:
    code, out, err, peak = cli("bundle", "verify", str(member_bomb))
    assert code == 125
    assert out == ""
    assert_one_sentence(err, str(member_bomb), "snapshot.json is 512 MiB", "64 MiB")
    assert peak < 256 * MiB, f"peak RSS {peak >> 20} MiB"


def test_top_refuses_a_512_mib_member_in_bounded_memory(member_bomb: Path) -> None:
    code, out, err, peak = cli("top", "--bundle", str(member_bomb), "web")
    assert code == 125
    assert_one_sentence(err, "snapshot.json is 512 MiB", "more than the 64 MiB")
    assert peak < 256 * MiB, f"peak RSS {peak >> 20} MiB"


def test_many_members_under_the_member_limit_are_not_all_held(tmp_path: Path) -> None:
    # 4 x 60 MiB: each may be read, but an open bundle holds at most HELD_LIMIT of them; top
    # needs only snapshot.json and works.
    raw = {f"{FOLDER}/raw/big-{n}.txt": 60 * MiB for n in range(4)}
    path = bundle(tmp_path / "wide.tar.gz", valid_files(**raw))
    code, out, err, peak = cli("top", "--bundle", str(path), "web")
    assert code == 0, err
    assert "sleep 9" in out
    assert peak < 256 * MiB, f"peak RSS {peak >> 20} MiB"
    code, out, err, peak = cli("bundle", "verify", str(path))
    assert (code, out.strip()) == (0, f"{path}: ok"), err
    assert peak < 256 * MiB, f"peak RSS {peak >> 20} MiB"


# --- each limit, in process (small limits, small files) -----------------------------------


def test_a_valid_bundle_reads_and_verifies(tmp_path: Path) -> None:
    path = bundle(tmp_path / "ok.tar.gz", valid_files(), gzip_members=3)
    assert reader.verify_bundle(str(path)) == []
    b = reader.open_bundle(str(path))
    assert [c.name for c in b.containers] == ["web"]
    assert b.snapshot("web").processes[0].cmdline == ["sleep", "9"]
    assert b.member("host/kernel.txt") == b"uname: Linux vm 6.1.0\n"


def test_verify_still_finds_a_changed_member(tmp_path: Path) -> None:
    files = valid_files()
    good = manifest_of(files)
    files["host/kernel.txt"] = b"uname: Linux vm 6.9.9\n"  # same size, other bytes
    members = [(member(f"{ROOT}/{mf.MANIFEST}", good), good)]
    members += [(member(f"{ROOT}/{rel}", data), data) for rel, data in files.items()]
    path = write_tar(tmp_path / "changed.tar.gz", members)
    assert reader.verify_bundle(str(path)) == ["host/kernel.txt: checksum mismatch"]


def test_member_limit_is_checked_on_the_header_before_inflating(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(reader, "MEMBER_LIMIT", MiB)
    path = bundle(tmp_path / "b.tar.gz", valid_files(**{"host/big.txt": 3 * MiB}))
    inflated = []
    real = reader._Inflater.readinto

    def spy(self, buffer):  # type: ignore[no-untyped-def]
        n = real(self, buffer)
        inflated.append(self.total)
        return n

    monkeypatch.setattr(reader._Inflater, "readinto", spy)
    with pytest.raises(reader.BundleTooLarge) as err:
        reader.verify_bundle(str(path))
    assert str(err.value) == (
        f"{path}: member {ROOT}/host/big.txt is 3 MiB, more than the 1 MiB debugtool reads of "
        "one member."
    )
    assert err.value.exit_code == 125 and err.value.limit == "member"
    assert max(inflated) < MiB  # its data was never inflated


def test_total_declared_size_stops_at_the_headers(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(reader, "TOTAL_LIMIT", 2 * MiB)
    raw = {f"{FOLDER}/raw/{n}.txt": MiB for n in range(3)}
    path = bundle(tmp_path / "b.tar.gz", valid_files(**raw))
    with pytest.raises(reader.BundleTooLarge, match="declares more than 2 MiB of members"):
        reader.open_bundle(str(path))


def test_inflating_stops_at_the_total_limit(tmp_path, monkeypatch) -> None:
    # Whatever tar makes of the stream, the decompressor itself stops just past the limit.
    monkeypatch.setattr(reader, "TOTAL_LIMIT", MiB)
    bomb = tmp_path / "zeros.gz"
    with gzip.open(bomb, "wb", compresslevel=9) as gz:
        for _ in range(64):
            gz.write(bytes(MiB))
    with open(bomb, "rb") as raw:
        inflater = reader._Inflater(raw, str(bomb))
        with pytest.raises(reader.BundleTooLarge, match="inflates to more than 1 MiB"):
            while inflater.read(64 << 10):
                pass
        assert inflater.total <= MiB + (64 << 10)


def test_members_beyond_the_held_limit_are_read_again(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(reader, "HELD_LIMIT", 0)
    path = bundle(tmp_path / "b.tar.gz", valid_files(**{"host/zeros": 3 * MiB}))
    b = reader.open_bundle(str(path))
    assert b._archive.members == {}  # nothing held ...
    assert b.member("host/zeros") == bytes(3 * MiB)  # ... and each read when asked for
    assert b.snapshot("web").processes[0].pid == 42
    assert b.member("host/none") is None
    path.write_bytes(path.read_bytes())  # the same bytes, but not the file that was opened
    with pytest.raises(BundleError, match="changed since debugtool opened it"):
        b.member("host/kernel.txt")


def test_member_count_and_name_length_limits(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(reader, "MEMBERS_LIMIT", 10)
    raw = {f"{FOLDER}/raw/{n}.txt": b"x" for n in range(10)}
    with pytest.raises(reader.BundleTooLarge, match="holds more than 10 members"):
        reader.verify_bundle(str(bundle(tmp_path / "many.tar.gz", valid_files(**raw))))
    long = {f"{FOLDER}/{'n' * 1100}.txt": b"x"}
    with pytest.raises(reader.BundleTooLarge, match="member name of 1,"):
        reader.verify_bundle(str(bundle(tmp_path / "long.tar.gz", valid_files(**long))))


def _headers(path: Path, *blocks: bytes) -> Path:
    """A bundle whose manifest is followed by hand-made tar blocks."""
    data = manifest_of({})
    head = member(f"{ROOT}/{mf.MANIFEST}", data).tobuf(tarfile.USTAR_FORMAT)
    body = head + data + bytes(-len(data) % 512) + b"".join(blocks) + bytes(1024)
    path.write_bytes(gzip.compress(body))
    return path


def _block(info: tarfile.TarInfo, data: bytes = b"") -> bytes:
    info.size = len(data)
    return info.tobuf(tarfile.USTAR_FORMAT) + data + bytes(-len(data) % 512)


def test_extension_headers_are_bounded(tmp_path: Path) -> None:
    pax = tarfile.TarInfo("././@PaxHeader")
    pax.type = tarfile.XHDTYPE
    record = b"20 comment=aaaaaaaa\n"
    chain = _headers(tmp_path / "chain.tar.gz", *[_block(pax, record)] * 5000)
    with pytest.raises(reader.BundleTooLarge, match="more than 8 tar extension headers"):
        reader.verify_bundle(str(chain))  # not a RecursionError inside tarfile
    big = b"%d comment=%s\n" % (70 << 10, b"a" * ((70 << 10) - 17))
    huge = _headers(tmp_path / "huge.tar.gz", _block(pax, big))
    with pytest.raises(reader.BundleTooLarge, match="extension header of 71,"):
        reader.verify_bundle(str(huge))
    glob = tarfile.TarInfo("././@GlobalHead")
    glob.type = tarfile.XGLTYPE
    with pytest.raises(BundleError, match="holds a global pax header"):
        reader.verify_bundle(str(_headers(tmp_path / "g.tar.gz", _block(glob, record))))
    sparse = tarfile.TarInfo(f"{ROOT}/host/sparse")
    sparse.type = tarfile.GNUTYPE_SPARSE
    with pytest.raises(BundleError, match="holds a sparse file"):
        reader.verify_bundle(str(_headers(tmp_path / "s.tar.gz", _block(sparse))))


REFUSED = {
    f"{ROOT}/host/link": (tarfile.SYMTYPE, "a symbolic link"),
    f"{ROOT}/host/hard": (tarfile.LNKTYPE, "a hard link"),
    f"{ROOT}/host/null": (tarfile.CHRTYPE, "a device"),
    f"{ROOT}/host/disk": (tarfile.BLKTYPE, "a device"),
    f"{ROOT}/host/fifo": (tarfile.FIFOTYPE, "a FIFO"),
    f"{ROOT}/../escape": (tarfile.REGTYPE, "a path that climbs out of the bundle's folder"),
    f"{ROOT}/host/../../up": (tarfile.REGTYPE, "a path that climbs out of the bundle's folder"),
    "/etc/cron.d/evil": (tarfile.REGTYPE, "a path that climbs out of the bundle's folder"),
}


def test_links_devices_and_climbing_paths_are_refused_never_extracted(
    tmp_path: Path, monkeypatch
) -> None:
    files = valid_files()
    members = [(member(f"{ROOT}/{mf.MANIFEST}", manifest_of(files)), manifest_of(files))]
    members += [(member(f"{ROOT}/{rel}", data), data) for rel, data in files.items()]
    for name, (kind, _) in REFUSED.items():
        info = member(name, b"* * * * * root reboot\n", kind)
        info.linkname = "/etc/shadow" if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE) else ""
        info.devmajor, info.devminor = 1, 3
        members.append((info, b"" if info.size == 0 else b"* * * * * root reboot\n"))
    members.append((member(f"{ROOT}/host/dir/", b"", tarfile.DIRTYPE), b""))  # fine, skipped
    path = write_tar(tmp_path / "hostile.tar.gz", members)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    problems = reader.verify_bundle(str(path))
    assert problems == [f"{name}: {why}" for name, (_, why) in REFUSED.items()]
    with pytest.raises(BundleError) as err:
        reader.open_bundle(str(path))
    assert str(err.value) == (
        f"{path} holds what no bundle holds ({ROOT}/host/link: a symbolic link)."
    )
    assert list(work.iterdir()) == [] and not (tmp_path / "escape").exists()


def test_a_link_as_the_first_member_is_not_a_bundle(tmp_path: Path) -> None:
    info = member(f"{ROOT}/{mf.MANIFEST}", b"", tarfile.SYMTYPE)
    info.linkname = "/etc/passwd"
    path = write_tar(tmp_path / "link.tar.gz", [(info, b"")])
    with pytest.raises(BundleError, match="is not a debugtool bundle \\(its first member is"):
        reader.open_bundle(str(path))


def test_damage_after_the_manifest_is_still_reported(tmp_path: Path) -> None:
    path = bundle(tmp_path / "ok.tar.gz", valid_files(**{"host/noise": os.urandom(300_000)}))
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    problems = reader.verify_bundle(str(cut))
    assert any("truncated or corrupt" in p for p in problems)
    with pytest.raises(BundleError, match="is damaged"):
        reader.open_bundle(str(cut))
