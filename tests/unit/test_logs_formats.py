"""The log formats and file readers of debugtool.logs, on captured logs (tests/fixtures/logs/)
and on temporary files for rotation."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from debugtool.commands.logs import since_option, since_time, tail_count, write
from debugtool.errors import UsageError
from debugtool.logs import files
from debugtool.logs.formats import (
    CriDecoder,
    DockerStreamDecoder,
    DockerStreamError,
    JournalDecoder,
    JsonFileDecoder,
    LogLine,
    RawDecoder,
    format_time,
    parse_bundle_line,
    parse_time,
    utc_time,
)
from debugtool.logs.sources import BundleLog, FileLog, stdout_of

FIXTURES = Path(__file__).parent.parent / "fixtures" / "logs"
BUNDLE_FIXTURES = Path(__file__).parent.parent / "fixtures" / "bundle"


def decode(decoder, data: bytes, chunk: int | None = None) -> list[LogLine]:
    """Feed ``data`` to ``decoder`` whole or in ``chunk``-byte pieces; return every line."""
    lines: list[LogLine] = []
    step = chunk or max(len(data), 1)
    for at in range(0, len(data), step):
        lines += decoder.feed(data[at : at + step])
    return lines + decoder.end()


# --- times ---------------------------------------------------------------------------------


def test_parse_time_reads_docker_cri_and_offset_forms() -> None:
    utc = parse_time("2026-11-26T15:17:48.007323013Z")
    assert utc == 1795706268_007323013
    assert parse_time("2026-11-26T15:17:48.007323013+00:00") == utc
    assert parse_time("2026-11-26T17:17:48.007323013+02:00") == utc
    assert parse_time("2026-11-26T15:17:48Z") == 1795706268_000000000
    assert parse_time("2026-11-26T15:20:00.5Z") == 1795706400_500000000
    assert parse_time("1970-01-01T00:00:00Z") == 0
    assert parse_time("2000-02-29T00:00:00Z") == 951782400 * 10**9


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hello",
        "2026-11-26",
        "2026-13-26T15:17:48Z",
        "2026-11-26T15:17:48",
        "2026-11-26T15:17:48.Z",
        "2026-11-26T15:17:48+0200",
        "२०२६-11-26T15:17:48Z",
    ],
)
def test_parse_time_refuses_what_is_not_rfc3339(text: str) -> None:
    assert parse_time(text) is None


def test_format_and_utc_time_write_docker_timestamps() -> None:
    assert format_time(1795706268_007323013) == "2026-11-26T15:17:48.007323013Z"
    assert utc_time("2026-11-26T15:20:00.5Z") == "2026-11-26T15:20:00.500000000Z"
    assert utc_time("2026-11-26T17:17:48.007323013+02:00") == "2026-11-26T15:17:48.007323013Z"
    assert utc_time("not a time") == ""


def test_utc_time_pads_dockers_short_fractions_as_parsing_would() -> None:
    """Docker drops a fraction's trailing zeros; the shortcut that pads them agrees with
    parsing and formatting the time, for every length of fraction."""
    for digits in range(1, 10):
        text = "2026-11-26T15:20:00." + "123456789"[:digits] + "Z"
        ns = parse_time(text)
        assert ns is not None and utc_time(text) == format_time(ns)
    assert utc_time("2026-11-26T15:20:00.Z") == ""
    assert utc_time("2026-11-26T15:20:00.12a4Z") == ""


# --- Docker json-file ----------------------------------------------------------------------


def test_json_file_captured_from_dockerd() -> None:
    lines = decode(JsonFileDecoder(), (FIXTURES / "docker-json-file.log").read_bytes())
    assert [(x.stream, x.line[:12]) for x in lines] == [
        ("stderr", "to stderr"),
        ("stdout", "hello"),
        ("stdout", "esc \x1b]0;titl"),
        ("stdout", "no newline a"),
        ("stdout", "a" * 12),
        ("stdout", "\ufffd\ufffd not utf-8"),  # dockerd replaced the bytes
    ]
    # The CRLF's carriage return goes, the tab and the escape sequences stay (shown escaped
    # by the writer); Docker's 16 KiB partial entry is joined with its end.
    assert lines[2].line == "esc \x1b]0;title\x07 \x1b[31mred\ttab"
    assert lines[4].line == "a" * 17000
    assert lines[0].time == "2026-12-06T07:12:02.603611001Z"


def test_json_file_in_small_chunks_gives_the_same_lines() -> None:
    data = (FIXTURES / "docker-json-file.log").read_bytes()
    assert decode(JsonFileDecoder(), data, chunk=7) == decode(JsonFileDecoder(), data)


def test_json_file_keeps_a_line_that_is_not_json_and_times_of_other_zones() -> None:
    lines = decode(JsonFileDecoder(), (BUNDLE_FIXTURES / "docker-json.log").read_bytes())
    assert LogLine("", "", "not json at all") in lines
    assert lines[-1] == LogLine(
        "2026-11-26T13:22:00.123456789Z", "stdout", "last line without newline"
    )


# --- CRI / podman k8s-file -----------------------------------------------------------------


def test_k8s_file_captured_from_conmon_joins_partial_lines_per_stream() -> None:
    lines = decode(CriDecoder(), (FIXTURES / "podman-k8s-file.log").read_bytes())
    assert [(x.stream, x.line[:20]) for x in lines] == [
        ("stdout", "hello"),
        ("stdout", "esc \x1b[31mred\ttab"),
        ("stderr", "to stderr"),
        ("stdout", "no newline yet ...an"),
        ("stdout", "b" * 20),
    ]
    assert lines[3].line == "no newline yet ...and now"
    assert lines[3].time == "2026-12-06T07:12:10.939492339Z"  # the first piece's time
    assert lines[4].line == "b" * 17000


def test_cri_partial_line_never_finished_is_shown_at_the_end() -> None:
    data = b"2026-11-26T15:30:00.000000000Z stdout P half a line\n"
    decoder = CriDecoder()
    assert decoder.feed(data) == []
    assert decoder.end() == [LogLine("2026-11-26T15:30:00.000000000Z", "stdout", "half a line")]


def test_cri_empty_full_line_and_a_malformed_one() -> None:
    data = b"2026-11-26T15:30:00Z stdout F\nsomething else\n"
    assert decode(CriDecoder(), data) == [
        LogLine("2026-11-26T15:30:00.000000000Z", "stdout", ""),
        LogLine("", "", "something else"),
    ]


# --- Docker's API stream -------------------------------------------------------------------


def test_docker_api_multiplexed_stream_captured() -> None:
    data = (FIXTURES / "docker-api-multiplexed.bin").read_bytes()
    from_file = decode(JsonFileDecoder(), (FIXTURES / "docker-json-file.log").read_bytes())
    for chunk in (None, 5, 4096):
        decoder = DockerStreamDecoder()
        lines = decode(decoder, data, chunk)
        assert decoder.multiplexed is True
        # The same container read both ways: the same lines, times and streams.
        assert lines == from_file


def test_docker_api_tty_stream_captured() -> None:
    decoder = DockerStreamDecoder()
    lines = decode(decoder, (FIXTURES / "docker-api-tty.bin").read_bytes(), chunk=3)
    assert decoder.multiplexed is False
    assert [(x.stream, x.line) for x in lines] == [("", "tty hello"), ("", "tty stderr")]
    assert lines[0].time.startswith("2026-12-06T07:12:04.")


def test_docker_api_error_frame_raises() -> None:
    frame = b"\x03\0\0\0" + (11).to_bytes(4, "big") + b"disk broken"
    with pytest.raises(DockerStreamError, match="disk broken"):
        DockerStreamDecoder().feed(frame)


# --- journald and raw ----------------------------------------------------------------------


def test_journald_export() -> None:
    lines = decode(JournalDecoder(), (FIXTURES / "journald-export.json").read_bytes())
    assert [(x.stream, x.line) for x in lines] == [
        ("stdout", "hello"),
        ("stderr", "to stderr"),
        ("stdout", "no newline yet ...and now"),
        ("stdout", "\udcff\udcfe not utf-8 \x1b[31m"),
    ]
    assert lines[0].time == "2026-12-06T07:12:10.939492000Z"


def test_raw_output_of_a_log_uri_file() -> None:
    assert decode(RawDecoder(), b"err\nout\r\npartial") == [
        LogLine("", "", "err"),
        LogLine("", "", "out"),
        LogLine("", "", "partial"),
    ]


def test_bundle_lines_of_each_form() -> None:
    assert parse_bundle_line("2026-11-26T15:20:00.5Z stderr boom") == LogLine(
        "2026-11-26T15:20:00.500000000Z", "stderr", "boom"
    )
    assert parse_bundle_line("2026-11-26T15:20:00.5Z listening on :80") == LogLine(
        "2026-11-26T15:20:00.500000000Z", "", "listening on :80"
    )
    assert parse_bundle_line("plain text") == LogLine("", "", "plain text")
    log = BundleLog(
        "2026-11-26T15:20:00Z stdout a\n# debugtool note\n2026-11-26T15:21:00Z stdout b\n"
    )
    assert [x.line for batch in log.read(tail=1) for x in batch] == ["b"]
    since = parse_time("2026-11-26T15:20:30Z")
    assert [x.line for batch in log.read(since=since) for x in batch] == ["b"]


# --- reading files: tail, since, rotation ----------------------------------------------------


def json_line(n: int, stream: str = "stdout", second: int = 0) -> bytes:
    return (
        f'{{"log":"line {n}\\n","stream":"{stream}","time":"2026-11-26T15:00:{second:02d}.{n:09d}Z"}}\n'
    ).encode()


def write_log(path: Path, numbers: range, second: int = 0) -> None:
    path.write_bytes(b"".join(json_line(n, second=second) for n in numbers))


def texts(batches) -> list[str]:
    return [line.line for batch in batches for line in batch]


def test_tail_reads_only_the_end_of_a_big_file(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    write_log(path, range(100_000))  # about 8 MB
    with files.open_regular(str(path)) as f:
        reads = []
        original = f.read

        def counting(size: int = -1) -> bytes:
            data = original(size)
            reads.append(len(data))
            return data

        f.read = counting  # type: ignore[method-assign]
        lines, done = files.tail(f, path.stat().st_size, JsonFileDecoder, 1000)
    assert done
    assert [x.line for x in lines] == [f"line {n}" for n in range(99_000, 100_000)]
    assert sum(reads) < 400_000  # the end of the file, not its 8 MB


def test_tail_more_than_the_file_holds_and_zero(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    write_log(path, range(10))
    with files.open_regular(str(path)) as f:
        lines, done = files.tail(f, path.stat().st_size, JsonFileDecoder, 50)
        assert [x.line for x in lines] == [f"line {n}" for n in range(10)] and not done
        assert files.tail(f, path.stat().st_size, JsonFileDecoder, 0) == ([], True)


def test_tail_with_since_stops_at_older_lines(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    path.write_bytes(
        b"".join(json_line(n, second=0) for n in range(5000))
        + b"".join(json_line(n, second=30) for n in range(5000, 5003))
    )
    since = parse_time("2026-11-26T15:00:20Z")
    with files.open_regular(str(path)) as f:
        lines, done = files.tail(f, path.stat().st_size, JsonFileDecoder, None, since)
    assert done and [x.line for x in lines] == ["line 5000", "line 5001", "line 5002"]


def test_rotated_files_oldest_first(tmp_path: Path) -> None:
    for name in ("c-json.log", "c-json.log.1", "c-json.log.2", "c-json.log.10", "other.log"):
        (tmp_path / name).write_bytes(b"")
    assert [Path(p).name for p in files.rotated(str(tmp_path / "c-json.log"))] == [
        "c-json.log.10",
        "c-json.log.2",
        "c-json.log.1",
    ]
    for name in ("0.log", "0.log.20261126-150000.gz", "0.log.20261126-160000"):
        (tmp_path / name).write_bytes(b"")
    assert [Path(p).name for p in files.rotated(str(tmp_path / "0.log"))] == [
        "0.log.20261126-150000.gz",
        "0.log.20261126-160000",
    ]


def test_file_log_reads_across_rotated_files(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    write_log(tmp_path / "c-json.log.2", range(0, 10))
    write_log(tmp_path / "c-json.log.1", range(10, 20))
    write_log(path, range(20, 25))
    log = FileLog(str(path), JsonFileDecoder, "test")
    assert texts(log.read()) == [f"line {n}" for n in range(25)]
    assert texts(log.read(tail=12)) == [f"line {n}" for n in range(13, 25)]
    assert texts(log.read(tail=3)) == ["line 22", "line 23", "line 24"]


def test_follower_across_a_rotation_and_a_truncation(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    write_log(path, range(3))
    f = files.open_regular(str(path))
    follower = files.Follower(str(path), f, path.stat().st_size, JsonFileDecoder())
    try:
        assert follower.poll() == []
        with open(path, "ab") as w:
            w.write(json_line(3) + json_line(4)[:20])  # the second one torn mid-write
        assert [x.line for x in follower.poll()] == ["line 3"]
        with open(path, "ab") as w:
            w.write(json_line(4)[20:] + json_line(5))
        # Rotation as Docker does it: rename, then a new file at the same path.
        os.rename(path, tmp_path / "c-json.log.1")
        assert [x.line for x in follower.poll()] == ["line 4", "line 5"]
        write_log(path, range(6, 8))
        assert [x.line for x in follower.poll()] == ["line 6", "line 7"]
        # A last write to the old file after the new one appeared is not lost.
        os.rename(path, tmp_path / "c-json.log.1")
        with open(tmp_path / "c-json.log.1", "ab") as w:
            w.write(json_line(8))
        write_log(path, range(9, 10))
        assert [x.line for x in follower.poll()] == ["line 8", "line 9"]
        # Truncated in place (copytruncate): read again from the start.
        path.write_bytes(b"")
        assert follower.poll() == []
        path.write_bytes(json_line(10))
        assert [x.line for x in follower.poll()] == ["line 10"]
    finally:
        follower.close()


def test_file_log_follow_stops_when_the_container_stops(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    path.write_bytes(b"2026-11-26T15:00:00Z stdout F one\n")
    calls = []

    def alive() -> bool:
        calls.append(1)
        if len(calls) == 1:
            with open(path, "ab") as w:
                w.write(b"2026-11-26T15:00:01Z stdout F two\n")
            return True
        return False

    log = FileLog(str(path), CriDecoder, "test")
    assert texts(log.read(follow=True, alive=alive)) == ["one", "two"]


def test_open_regular_refuses_a_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(files.NotRegular):
        files.open_regular(str(fifo))


def test_stdout_of_names_a_pipe_or_a_file_without_opening_it(tmp_path: Path) -> None:
    import subprocess

    with subprocess.Popen(["sleep", "60"], stdout=subprocess.PIPE) as piped:
        try:
            assert stdout_of(piped.pid).startswith("a pipe (pipe:[")
        finally:
            piped.kill()
    with (
        open(tmp_path / "out.txt", "wb") as out,
        subprocess.Popen(["sleep", "60"], stdout=out) as filed,
    ):
        try:
            where = stdout_of(filed.pid)
        finally:
            filed.kill()
    assert where.startswith(f"the file {tmp_path}/out.txt (") and "does not open it" in where


# --- the command's options and writer ------------------------------------------------------


def test_tail_and_since_options() -> None:
    assert tail_count("all") is None
    assert tail_count("0") == 0
    with pytest.raises(UsageError):
        tail_count("-1")
    assert since_time("2026-11-26T15:00:00Z") == parse_time("2026-11-26T15:00:00Z")
    import time

    assert abs(since_time("10m") - (time.time_ns() - 600 * 10**9)) < 60 * 10**9
    for bad in ("yesterday", "nan", "-5m", "inf"):
        with pytest.raises(UsageError, match="--since"):
            since_option(bad)
    assert since_option("10m") == "10m"


def test_writer_escapes_control_characters_and_splits_streams(monkeypatch) -> None:
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    monkeypatch.setattr("sys.stderr", err)
    lines = [
        LogLine("2026-11-26T15:00:00.000000000Z", "stdout", "esc \x1b]0;pwned\x07 \x1b[2J\ttab"),
        LogLine("2026-11-26T15:00:01.000000000Z", "stderr", "bad \u202e news \udcff"),
        LogLine("", "", "no time"),
    ]
    write([lines], timestamps=True, as_json=False)
    assert out.getvalue() == (
        "2026-11-26T15:00:00.000000000Z esc \\x1b]0;pwned\\x07 \\x1b[2J\ttab\n- no time\n"
    )
    assert err.getvalue() == "2026-11-26T15:00:01.000000000Z bad \\u202e news \\xff\n"


def test_writer_json_lines(monkeypatch) -> None:
    import json

    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    write([[LogLine("", "stderr", "a\x1b")]], timestamps=False, as_json=True)
    assert out.getvalue().count("\n") == 1 and "\x1b" not in out.getvalue()
    assert json.loads(out.getvalue()) == {"time": None, "stream": "stderr", "line": "a\x1b"}


def test_json_file_partial_line_pending_across_a_chunk_with_a_foreign_line() -> None:
    decoder = JsonFileDecoder()
    assert decoder.feed(b'{"log":"half ","stream":"stdout","time":"2026-11-26T15:00:00Z"}\n') == []
    lines = decoder.feed(
        b'garbage\n{"log":"and the rest\\n","stream":"stdout","time":"2026-11-26T15:00:01Z"}\n'
    )
    assert lines == [
        LogLine("", "", "garbage"),
        LogLine("2026-11-26T15:00:00.000000000Z", "stdout", "half and the rest"),
    ]
