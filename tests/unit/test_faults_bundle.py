"""Faults and bad input for support bundles (issue 12): bundles someone else made, tampered with
after the fact or crafted outright, and where a bundle is written.

Every tampered bundle here is crafted the way the writer lays one out (a gzip-compressed tar,
manifest first, end-of-archive blocks padded to a tar record), so what each test changes is the
one fault it names. Commands run in process through ``cli.main``; what a person sees is one
sentence on stderr, exit 125 (or 1 from ``bundle verify`` for a bundle it could check).
"""

from __future__ import annotations

import copy
import gzip
import io
import json
import os
import tarfile
from pathlib import Path
from typing import Any

import pytest

from debugtool import cli
from debugtool.bundle import collectors, reader
from debugtool.bundle import manifest as mf
from debugtool.bundle.archive import Destination
from debugtool.bundle.capture import Capture as Writer
from debugtool.bundle.capture import Options, Summary
from debugtool.errors import BundleError
from debugtool.model import Container, to_dict
from debugtool.snapshot import Process, Snapshot

ROOT = "debugtool-bundle-vm-20261126T151748Z"
WEB = Container(id="ab" * 32, name="web", runtime="docker", status="running", pid=42)
DIR = "docker-web-abababababab"


def bundle_files() -> dict[str, bytes]:
    snap = Snapshot(container=WEB, taken_at=1.0, processes=[Process(pid=42, cmdline=["sleep"])])
    return {
        f"containers/{DIR}/container.json": json.dumps(to_dict(WEB)).encode(),
        f"containers/{DIR}/snapshot.json": snap.to_json().encode(),
        "host/kernel.txt": b"uname: Linux vm 6.1.0\n",
        # Incompressible, so the archive's tail is far from its head, as in a real bundle.
        f"containers/{DIR}/logs.txt": os.urandom(48 << 10).hex().encode(),
    }


def manifest_doc(files: dict[str, bytes]) -> dict[str, Any]:
    return {
        "format": mf.FORMAT,
        "schema_version": mf.SCHEMA_VERSION,
        "debugtool_version": "0.0",
        "created_at": 1795706268.0,
        "host": "vm",
        "root": ROOT,
        "complete": True,
        "interrupted": None,
        "command_line": ["debugtool", "bundle", "web"],
        "containers": [
            {"id": WEB.id, "name": "web", "runtime": "docker", "status": "running", "dir": DIR}
        ],
        "collectors": [
            {
                "name": "snapshot",
                "container": WEB.id,
                "status": "ok",
                "duration": 0.1,
                "error": "",
                "files": [f"containers/{DIR}/snapshot.json"],
            }
        ],
        "dropped": [],
        "files": {rel: mf.file_entry(data) for rel, data in files.items()},
    }


def tar_bytes(members: list[tuple[tarfile.TarInfo, bytes]], close: bool = True) -> bytes:
    """An uncompressed tar stream; with ``close``, its end-of-archive blocks and record padding."""
    buf = io.BytesIO()
    tar = tarfile.TarFile(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT)
    for info, data in members:
        tar.addfile(info, io.BytesIO(data) if info.size else None)
    if close:
        tar.close()
    else:
        tar.fileobj = None  # type: ignore[assignment]  # no end blocks
    return buf.getvalue()


def regular(rel: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(f"{ROOT}/{rel}")
    info.size = len(data)
    info.mode = 0o600
    return info, data


def craft(
    path: Path,
    files: dict[str, bytes] | None = None,
    manifest: Any = None,
    raw_manifest: bytes | None = None,
    extra: list[tuple[tarfile.TarInfo, bytes]] | None = None,
) -> Path:
    """Write a bundle as the writer lays it out: the manifest first, then ``files`` and
    ``extra`` (members the manifest does not record), one gzip member."""
    files = bundle_files() if files is None else files
    doc = manifest_doc(files) if manifest is None else manifest
    data = raw_manifest if raw_manifest is not None else json.dumps(doc).encode()
    members = [regular(mf.MANIFEST, data)]
    members += [regular(rel, body) for rel, body in files.items()]
    members += extra or []
    path.write_bytes(gzip.compress(tar_bytes(members), 6))
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_sentence(err: str, *words: str) -> None:
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("debugtool: "), err
    assert "Traceback" not in err and "internal error" not in err, err
    for word in words:
        assert word in lines[0], err


@pytest.fixture
def good(tmp_path: Path) -> Path:
    path = craft(tmp_path / "good.tar.gz")
    assert reader.verify_bundle(str(path)) == []
    return path


# --- bundle verify on bundles someone else made ---------------------------------------------


@pytest.mark.parametrize("offset", range(1, 41))
def test_verify_fails_on_a_flipped_bit_near_the_end(
    good: Path, tmp_path: Path, offset: int, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bit flipped in the last gzip member's tail (its compressed padding, CRC or length)
    was never inflated: tarfile stops at the end-of-archive block."""
    data = bytearray(good.read_bytes())
    data[-offset] ^= 0x01
    bad = tmp_path / "flipped.tar.gz"
    bad.write_bytes(data)
    problems = reader.verify_bundle(str(bad))
    assert problems, f"a bit flipped {offset} bytes from the end went unseen"
    code, out, err = run(capsys, "bundle", "verify", str(bad))
    assert code == 1 and out.startswith(f"{bad}: CORRUPT"), (out, err)


def _appended_tar_member() -> bytes:
    return tar_bytes([regular("host/extra.txt", b"appended after the end\n")], close=False)


APPENDED = {
    # gzip (and Python) read concatenated gzip members as one stream, so tar sees the member
    # right after its end-of-archive blocks.
    "a gzip member": lambda raw, tar: raw + gzip.compress(_appended_tar_member()),
    "inside the stream": lambda raw, tar: gzip.compress(tar + _appended_tar_member()),
    "after a lone zero block": lambda raw, tar: gzip.compress(
        tar.rstrip(b"\0") + bytes(-len(tar.rstrip(b"\0")) % 512 + 512) + _appended_tar_member()
    ),
    "garbage bytes": lambda raw, tar: raw + b"trailing garbage",
}


@pytest.mark.parametrize("how", APPENDED)
def test_verify_fails_on_data_after_the_end_of_the_archive(
    tmp_path: Path, how: str, capsys: pytest.CaptureFixture[str]
) -> None:
    files = bundle_files()
    members = [regular(mf.MANIFEST, json.dumps(manifest_doc(files)).encode())]
    members += [regular(rel, body) for rel, body in files.items()]
    tar = tar_bytes(members)
    bad = tmp_path / "appended.tar.gz"
    bad.write_bytes(APPENDED[how](gzip.compress(tar), tar))
    problems = reader.verify_bundle(str(bad))
    assert problems and all("missing" not in p for p in problems), problems
    code, out, _ = run(capsys, "bundle", "verify", str(bad))
    assert code == 1 and "CORRUPT" in out
    code, out, err = run(capsys, "top", "--bundle", str(bad), "web")
    assert code == 125 and out == ""
    one_sentence(err, str(bad), "is damaged")


def test_zero_padding_after_the_end_is_not_damage(tmp_path: Path) -> None:
    files = bundle_files()
    members = [regular(mf.MANIFEST, json.dumps(manifest_doc(files)).encode())]
    members += [regular(rel, body) for rel, body in files.items()]
    tar = tar_bytes(members)
    padded = tmp_path / "padded.tar.gz"
    # More zero blocks in the tar, and zeros after the last gzip member (as tape tools pad).
    padded.write_bytes(gzip.compress(tar + bytes(20 << 10)) + bytes(4096))
    assert reader.verify_bundle(str(padded)) == []
    # And a tar whose end-of-archive block is missing altogether is damage.
    cut = tmp_path / "no-end.tar.gz"
    cut.write_bytes(gzip.compress(tar_bytes(members, close=False)))
    (problem,) = reader.verify_bundle(str(cut))
    assert "not tar's end-of-archive block" in problem


def _special(name: str, kind: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(f"{ROOT}/{name}")
    info.type = kind
    info.linkname = "/etc/shadow" if kind == tarfile.SYMTYPE else ""
    info.devmajor, info.devminor = 1, 3
    return info, b""


def test_verify_fails_on_unrecorded_links_devices_and_members(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = craft(
        tmp_path / "extra.tar.gz",
        extra=[
            _special("host/shadow", tarfile.SYMTYPE),
            _special("host/null", tarfile.CHRTYPE),
            regular("host/planted.txt", b"not in the manifest\n"),
        ],
    )
    assert reader.verify_bundle(str(bad)) == [
        f"{ROOT}/host/shadow: a symbolic link",
        f"{ROOT}/host/null: a device",
        "host/planted.txt: not recorded in the manifest",
    ]
    code, out, _ = run(capsys, "bundle", "verify", str(bad))
    assert code == 1 and "host/planted.txt: not recorded in the manifest" in out


def test_verify_fails_on_a_member_given_twice(tmp_path: Path) -> None:
    """tar keeps the last of two members of one name: which one did the checksum cover?"""
    files = bundle_files()
    forged = manifest_doc(files)
    forged["complete"] = False
    bad = craft(
        tmp_path / "twice.tar.gz",
        files,
        extra=[
            regular("host/kernel.txt", files["host/kernel.txt"]),
            regular(mf.MANIFEST, json.dumps(forged).encode()),
        ],
    )
    problems = reader.verify_bundle(str(bad))
    assert "host/kernel.txt: 2 members of this name" in problems
    assert "manifest.json: 2 members of this name" in problems


def test_verify_names_missing_and_changed_members(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = bundle_files()
    doc = manifest_doc(files)
    del files["host/kernel.txt"]
    files[f"containers/{DIR}/snapshot.json"] += b" "
    bad = craft(tmp_path / "changed.tar.gz", files, manifest=doc)
    assert reader.verify_bundle(str(bad)) == [
        f"containers/{DIR}/snapshot.json: size {len(files[f'containers/{DIR}/snapshot.json'])}, "
        f"the manifest says {doc['files'][f'containers/{DIR}/snapshot.json']['size']}",
        "host/kernel.txt: missing",
    ]
    code, _, _ = run(capsys, "bundle", "verify", str(bad))
    assert code == 1


def test_verify_help_says_what_each_exit_code_means(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["bundle", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "exit 0 intact, 1 damaged or changed" in text
    assert "125 when it cannot be checked at all" in text


# --- every reader verifies what it shows ----------------------------------------------------


def tampered(tmp_path: Path) -> Path:
    """A bundle whose snapshot shows a process that was never there: same size, other bytes."""
    files = bundle_files()
    doc = manifest_doc(files)
    rel = f"containers/{DIR}/snapshot.json"
    files[rel] = files[rel].replace(b'"sleep"', b'"evil!"')
    return craft(tmp_path / "tampered.tar.gz", files, manifest=doc)


@pytest.mark.parametrize(
    "argv",
    [
        ("top", "--bundle", "{}", "web"),
        ("mounts", "--bundle", "{}", "web"),
        ("net", "--bundle", "{}", "web"),
        ("bundle", "show", "{}"),
        ("bundle", "show", "{}", "--json"),
    ],
    ids=lambda argv: " ".join(a for a in argv if a != "{}"),
)
def test_read_commands_refuse_a_tampered_bundle(
    tmp_path: Path, argv: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(tampered(tmp_path))
    code, out, err = run(capsys, *(a.replace("{}", path) for a in argv))
    assert (code, out) == (125, "")
    one_sentence(err, path, "fails verification", "snapshot.json: checksum mismatch")
    assert "evil!" not in err


def test_a_member_read_again_is_checked_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A member past HELD_LIMIT is read again when asked for; if the file was changed in place
    since (same size, same mtime), its checksum no longer matches and it is refused."""
    monkeypatch.setattr(reader, "HELD_LIMIT", 0)
    files = bundle_files()
    members = [regular(mf.MANIFEST, json.dumps(manifest_doc(files)).encode())]
    members += [regular(rel, body) for rel, body in files.items()]
    path = tmp_path / "stored.tar.gz"
    path.write_bytes(gzip.compress(tar_bytes(members), 0))  # stored: bytes findable in place
    b = reader.open_bundle(str(path))
    assert b.member("host/kernel.txt") == files["host/kernel.txt"]
    before = path.stat()
    data = path.read_bytes()
    at = data.index(b"uname: Linux vm 6.1.0")
    with open(path, "r+b") as f:
        f.seek(at)
        f.write(b"uname: Linux vm 6.6.6")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    with pytest.raises(BundleError, match="changed since debugtool opened it"):
        b.member("host/kernel.txt")


# --- manifests that are checksum-consistent but malformed -----------------------------------


def _set(doc: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    *parents, last = path
    target: Any = doc
    for key in parents:
        target = target[key]
    target[last] = value
    return doc


def _deep(depth: int) -> Any:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


MALFORMED = {
    "containers as strings": (("containers",), ["web"], "field 'containers[0]' is a string"),
    "created_at a string": (("created_at",), "yesterday", "field 'created_at' is a string"),
    "created_at past 9999": (("created_at",), 1e300, "field 'created_at' is not a time"),
    "files a list": (("files",), [], "field 'files' is a list, not an object"),
    "a file record a list": (
        ("files", "host/kernel.txt"),
        [],
        "field 'files.host/kernel.txt' is a list, not an object",
    ),
    "collectors a dict": (("collectors",), {}, "field 'collectors' is an object, not a list"),
    "a collector a list": (("collectors", 0), [], "field 'collectors[0]' is a list"),
    "a collector status unknown": (
        ("collectors", 0, "status"),
        "fine",
        "field 'collectors[0].status' is not one",
    ),
    "a folder that climbs": (
        ("containers", 0, "dir"),
        "../../etc",
        "field 'containers[0].dir' is not a",
    ),
    "complete a string": (("complete",), "yes", "field 'complete' is a string, not a boolean"),
    "command_line of numbers": (("command_line",), [1, 2], "field 'command_line[0]' is a number"),
    "dropped of strings": (("dropped",), ["x"], "field 'dropped[0]' is a string"),
    "nesting deep in a list": (("containers",), _deep(500), "field 'containers[0]' is a list"),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_a_malformed_manifest_is_named_never_an_internal_error(
    tmp_path: Path, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    field, value, named = MALFORMED[case]
    files = bundle_files()
    bad = str(craft(tmp_path / "bad.tar.gz", files, _set(manifest_doc(files), field, value)))
    code, out, err = run(capsys, "bundle", "verify", bad)
    assert code == 1, err
    assert f"manifest.json: {named}" in out.replace("\n  ", "\n"), out
    for argv in (("bundle", "show", bad), ("top", "--bundle", bad, "web")):
        code, out, err = run(capsys, *argv)
        assert (code, out) == (125, "")
        one_sentence(err, bad, "has a malformed manifest", named)


def test_a_manifest_nested_past_the_parser_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = json.dumps(manifest_doc(bundle_files()))
    raw = doc.replace('"containers": [', '"containers": [' + "[" * 100_000 + "]" * 100_000 + ",")
    bad = str(craft(tmp_path / "deep.tar.gz", raw_manifest=raw.encode()))
    for argv in (("bundle", "verify", bad), ("bundle", "show", bad), ("net", "--bundle", bad, "x")):
        code, out, err = run(capsys, *argv)
        assert (code, out) == (125, "")
        one_sentence(err, bad, "field 'containers' nests lists or objects more than 64 deep")


@pytest.mark.parametrize(
    ("raw", "why"),
    [(b"[1, 2]", "no debugtool format mark"), (b"{not json", "its manifest: it is not JSON")],
)
def test_a_manifest_that_is_not_an_object_is_not_a_bundle(
    tmp_path: Path, raw: bytes, why: str, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = str(craft(tmp_path / "odd.tar.gz", raw_manifest=raw))
    code, out, err = run(capsys, "bundle", "verify", bad)
    assert (code, out) == (125, "")
    one_sentence(err, bad, "is not a debugtool bundle", why)


def test_the_writers_manifest_has_no_schema_problem() -> None:
    assert mf.schema_problems(manifest_doc(bundle_files())) == []
    # A crafted manifest with a million bad records lists fifty and counts the rest.
    doc = manifest_doc(bundle_files())
    doc["containers"] = ["x"] * 10_000
    problems = mf.schema_problems(doc)
    assert len(problems) == mf.MAX_PROBLEMS + 1
    assert problems[-1] == "and 9,950 more bad fields"


def test_container_json_that_disagrees_with_the_manifest_is_not_believed(tmp_path: Path) -> None:
    files = bundle_files()
    files[f"containers/{DIR}/container.json"] = json.dumps(
        {"id": 42, "name": ["web"], "runtime": "docker"}
    ).encode()
    b = reader.open_bundle(str(craft(tmp_path / "odd-container.tar.gz", files)))
    (web,) = b.containers
    assert (web.id, web.name, web.status) == (WEB.id, "web", "running")  # from the manifest


def test_container_json_with_a_field_of_the_wrong_kind_is_not_believed(tmp_path: Path) -> None:
    """The manifest's id, name and kind, but a PID that is text: the record is the
    manifest's, so no command meets a PID it cannot count with."""
    files = bundle_files()
    files[f"containers/{DIR}/container.json"] = json.dumps(
        {**to_dict(WEB), "pid": "1; rm -rf /"}
    ).encode()
    b = reader.open_bundle(str(craft(tmp_path / "odd-fields.tar.gz", files)))
    (web,) = b.containers
    assert (web.id, web.name, web.status, web.pid, web.ports) == (
        WEB.id,
        "web",
        "running",
        None,
        [],
    )


# --- read_log_file reads only the tail it keeps ---------------------------------------------


class _Counted(io.FileIO):
    read_total = 0

    def read(self, size: int = -1) -> bytes:  # type: ignore[override]
        data = super().read(size)
        type(self).read_total += len(data)
        return data


def test_log_lines_0_reads_only_the_tail_it_keeps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--log-lines 0 (every line) of a 64 MiB log whose output is capped at 1 MiB reads about
    that 1 MiB from the end, not the file (the cap is scaled down from 8 MiB of 1 GiB)."""
    line = b'{"log":"request served in 3ms\\n","stream":"stdout","time":"2026-11-26T15:17:48Z"}\n'
    log = tmp_path / "big-json.log"
    with open(log, "wb") as f:
        block = line * ((1 << 20) // len(line))
        for _ in range(64):
            f.write(block)
        f.write(b'{"log":"the last line\\n","stream":"stderr","time":"2026-11-26T15:18:00Z"}\n')
    monkeypatch.setattr(collectors, "open", _Counted, raising=False)
    data = collectors.read_log_file(str(log), None, None, limit=1 << 20)
    assert data.endswith(b"2026-11-26T15:18:00Z stderr the last line\n")
    assert len(data) > 1 << 20  # one line more than the cap: the caller cuts and says so
    assert _Counted.read_total < 3 << 20, f"read {_Counted.read_total >> 20} MiB"


def test_log_read_stops_at_its_own_limit_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A --since that keeps nothing of a huge log stops reading at LOG_READ_LIMIT, and the
    output's first line says the rest was not read."""
    monkeypatch.setattr(collectors, "LOG_READ_LIMIT", 1 << 20)
    old = b'{"log":"old\\n","stream":"stdout","time":"2020-01-01T00:00:00Z"}\n'
    log = tmp_path / "old.log"
    log.write_bytes(old * 20_000 + b"new line, no time\n")
    data = collectors.read_log_file(str(log), None, collectors._log_time("2026-01-01T00:00:00Z"))
    assert data.splitlines() == [
        f"# debugtool read only the last 1 MiB of {log}".encode(),
        b"new line, no time",
    ]


# --- where a bundle is written --------------------------------------------------------------


def writer(path: str, force: bool = False, exited: bool = False) -> Writer:
    """A Writer whose capture is done: one container's record and a host file."""
    w = Writer(Options(output=path, force=force, command_line=["debugtool", "bundle", "web"]))
    w.containers = [(WEB, f"containers/{DIR}")]
    files = {f"containers/{DIR}/container.json": collectors.dumps(WEB)}
    w.cap.finish(0, mf.CollectorResult("container", WEB.id), files, mf.PRIORITY_ESSENTIAL)
    w.cap.finish(0, mf.CollectorResult("host/kernel"), {"host/kernel.txt": b"uname\n"}, 5)
    if exited:
        w.exited.add(WEB.id)
    w.cap.seal(mf.SKIPPED, "not finished")
    return w


def write(path: Path, force: bool = False, exited: bool = False) -> Summary:
    w = writer(str(path), force, exited)
    return w._write(Destination.choose(str(path), "default.tar.gz", force))


def _fifo(tmp_path: Path) -> str:
    os.mkfifo(tmp_path / "fifo")
    return str(tmp_path / "fifo")


def _symlink(tmp_path: Path) -> str:
    (tmp_path / "real.tar.gz").write_bytes(b"someone's file")
    (tmp_path / "link.tar.gz").symlink_to(tmp_path / "real.tar.gz")
    return str(tmp_path / "link.tar.gz")


NOT_REGULAR = {
    "/dev/null": (lambda tmp: "/dev/null", "is a character device, not a regular file"),
    "/dev/stdout": (lambda tmp: "/dev/stdout", "is a symbolic link"),
    "a FIFO": (_fifo, "is a FIFO, not a regular file"),
    "a symlink to a file": (_symlink, "is a symbolic link"),
}


@pytest.mark.parametrize("case", NOT_REGULAR)
def test_a_destination_that_is_not_a_regular_file_is_refused(
    tmp_path: Path, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    make, why = NOT_REGULAR[case]
    target = make(tmp_path)
    before = os.lstat(target)
    # Refused before anything is captured: no runtime is asked.
    code, out, err = run(capsys, "bundle", "--all", "-o", target)
    assert (code, out) == (125, "")
    one_sentence(err, target, why, "-o -")
    after = os.lstat(target)
    assert (after.st_ino, after.st_mode) == (before.st_ino, before.st_mode)
    if case == "a symlink to a file":
        assert (tmp_path / "real.tar.gz").read_bytes() == b"someone's file"


def test_an_existing_file_is_refused_without_force_and_replaced_with_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "b.tar.gz"
    path.write_bytes(b"yesterday's bundle")
    code, out, err = run(capsys, "bundle", "--all", "-o", str(path))
    assert (code, out) == (125, "")
    one_sentence(err, f"{path} already exists", "--force")
    assert path.read_bytes() == b"yesterday's bundle"
    summary = write(path, force=True)
    assert summary.replaced is True
    assert reader.verify_bundle(str(path)) == []
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert write(tmp_path / "new.tar.gz").replaced is False


def _race(path: str, force: bool, barrier: Any, results: Any) -> None:
    w = writer(path, force)
    try:
        dest = Destination.choose(path, "default.tar.gz", force)
        barrier.wait(30)
        w._write(dest)
        results.put("written")
    except BundleError as exc:
        results.put(str(exc))


@pytest.mark.parametrize("existing", [False, True], ids=["new file", "--force over a file"])
def test_of_four_concurrent_writers_exactly_one_wins(tmp_path: Path, existing: bool) -> None:
    import multiprocessing

    path = tmp_path / "same.tar.gz"
    if existing:
        path.write_bytes(b"old")
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(4), ctx.Queue()
    procs = [
        ctx.Process(target=_race, args=(str(path), existing, barrier, results)) for _ in "1234"
    ]
    for p in procs:
        p.start()
    outcomes = sorted(results.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(60)
    assert outcomes.count("written") == 1, outcomes
    assert all(
        o == f"{path} was written by another process while this bundle was captured, so "
        "this bundle was not written."
        for o in outcomes
        if o != "written"
    ), outcomes
    assert reader.verify_bundle(str(path)) == []
    assert sorted(os.listdir(tmp_path)) == ["same.tar.gz"]  # no temporary file left


def test_nothing_is_staged_outside_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The writer stages in memory and writes through an unnamed O_TMPFILE: no directory or
    file of its own exists at any moment but the bundle itself."""
    import tempfile

    def no(*args: object, **kwargs: object) -> None:
        raise AssertionError("the writer made a temporary directory or file")

    monkeypatch.setattr(tempfile, "mkdtemp", no)
    monkeypatch.setattr(tempfile, "mkstemp", no)
    shm = set(os.listdir("/dev/shm"))
    seen: list[list[str]] = []
    real = Destination.publish

    def spy(self: Destination, archive: bytes) -> bool:
        seen.append(sorted(os.listdir(tmp_path)))
        return real(self, archive)

    monkeypatch.setattr(Destination, "publish", spy)
    write(tmp_path / "b.tar.gz")
    assert seen == [[]] and os.listdir(tmp_path) == ["b.tar.gz"]
    assert not {n for n in set(os.listdir("/dev/shm")) - shm if "debugtool" in n}


def test_stale_temporary_files_of_dead_writers_are_removed(tmp_path: Path) -> None:
    """On a filesystem without O_TMPFILE the archive has a name while it is written; the next
    run in that directory removes one whose writer is gone (SIGKILL), and only that."""
    import subprocess

    child = subprocess.Popen(["sleep", "60"])
    gone = subprocess.Popen(["true"])
    gone.wait()
    try:
        live = tmp_path / f".b.tar.gz.debugtool-{child.pid}.tmp"
        dead = tmp_path / f".b.tar.gz.debugtool-{gone.pid}.tmp"
        other = tmp_path / ".notes.tmp"
        for f in (live, dead, other):
            f.write_bytes(b"partial")
        Destination.choose(str(tmp_path / "c.tar.gz"), "default.tar.gz")
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, other.name])
    finally:
        child.kill()
        child.wait()


def test_without_o_tmpfile_a_named_temporary_is_used_and_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "O_TMPFILE", os.O_DIRECTORY | 0o4000000000)  # EINVAL on any fs
    write(tmp_path / "b.tar.gz")
    write(tmp_path / "b.tar.gz", force=True)
    assert os.listdir(tmp_path) == ["b.tar.gz"]
    assert reader.verify_bundle(str(tmp_path / "b.tar.gz")) == []


def test_signals_third_and_while_committing_are_ignored(tmp_path: Path) -> None:
    import signal

    w = writer(str(tmp_path / "b.tar.gz"))
    restore = w._install_signals()
    try:
        w.dest = Destination(str(tmp_path / "b.tar.gz"), committing=True)
        signal.raise_signal(signal.SIGINT)  # the archive is being linked: let it finish
        assert not w.stop.is_set()
        w.dest.committing = False
        signal.raise_signal(signal.SIGINT)
        assert w.stop.is_set() and w.interrupted == "SIGINT"
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
        signal.raise_signal(signal.SIGINT)  # the second's unwinding is not cut short
    finally:
        restore()


def test_a_container_that_exited_during_capture_is_recorded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = write(tmp_path / "b.tar.gz", exited=True)
    assert summary.exited == [f"web ({WEB.short_id})"]
    b = reader.open_bundle(summary.path)
    (record,) = b.manifest["containers"]
    assert record["exited_during_capture"] is True and record["status"] == "exited"
    assert b.exited_during_capture == {WEB.id} and b.containers[0].status == "exited"
    code, out, _ = run(capsys, "bundle", "show", summary.path)
    assert code == 0
    assert f"State:      complete; exited during capture: web ({WEB.short_id})" in out
    assert "exited during capture" in out.split("ID ", 1)[1].splitlines()[1]
    code, out, _ = run(capsys, "bundle", "show", summary.path, "--json")
    assert json.loads(out)["exited_during_capture"] == [WEB.id]


@pytest.mark.parametrize("where", ["building the archive", "writing the file"])
@pytest.mark.parametrize("tmpfile", [True, False], ids=["O_TMPFILE", "named temporary"])
def test_a_second_ctrl_c_while_writing_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str, tmpfile: bool
) -> None:
    """The first Ctrl-C makes the capture write what it has; a second one while it does
    aborts, and nothing of the bundle is left, however far the writing had got."""
    import signal

    from debugtool.bundle import archive as wr

    if not tmpfile:
        monkeypatch.setattr(os, "O_TMPFILE", os.O_DIRECTORY | 0o4000000000)
    out = tmp_path / "b.tar.gz"
    w = writer(str(out))
    dest = Destination.choose(str(out), "default.tar.gz")
    second = lambda *a, **k: signal.raise_signal(signal.SIGINT)  # noqa: E731
    if where == "building the archive":
        monkeypatch.setattr(Writer, "_leak_scan", lambda self, archive: second())
    else:
        monkeypatch.setattr(wr, "_write_all", second)
    shm = {n for n in os.listdir("/dev/shm") if "debugtool" in n}
    restore = w._install_signals()
    try:
        signal.raise_signal(signal.SIGINT)  # the first: write what was gathered
        assert w.stop.is_set()
        with pytest.raises(KeyboardInterrupt):
            w._write(dest)
    finally:
        restore()
    assert os.listdir(tmp_path) == []
    assert {n for n in os.listdir("/dev/shm") if "debugtool" in n} <= shm
