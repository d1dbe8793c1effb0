"""Session recordings: the asciicast writer, its cap, the safe replay filter and the transcript."""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import time
from pathlib import Path

import pytest

from debugtool import audit, config, recording, replay
from debugtool.errors import UsageError


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "log" / "audit.jsonl"
    monkeypatch.setenv("DEBUGTOOL_AUDIT_LOG", str(path))
    monkeypatch.setenv("DEBUGTOOL_CONFIG", str(tmp_path / "none.toml"))
    config.reset()
    yield path
    config.reset()


def lines(path: Path) -> list:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_recording_is_asciicast_v2_private_and_hashed(log: Path) -> None:
    rec = recording.Recorder.create("abc123", (30, 100), title="debugtool exec in web")
    rec.output(b"$ echo hi\r\nhi\r\n")
    rec.output("caf\u00e9 \x1b[1mbold\x1b[0m\r\n".encode())
    rec.input(b"secret\r")  # input recording is off by default
    rec.resize((40, 120))
    fields = rec.finish()
    path = log.parent / "recordings" / "abc123.cast"
    assert fields["recording"] == "recordings/abc123.cast"
    data = path.read_bytes()
    assert fields["recording_sha256"] == hashlib.sha256(data).hexdigest()
    assert fields["recording_bytes"] == len(data)
    assert fields["recording_truncated"] is False
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    header, *events = lines(path)
    assert header["version"] == 2 and (header["width"], header["height"]) == (100, 30)
    assert header["title"] == "debugtool exec in web"
    *shown, resized = events  # the two outputs are one event or two (JOIN_WINDOW)
    assert {e[1] for e in shown} == {"o"} and 1 <= len(shown) <= 2
    assert "".join(e[2] for e in shown) == "$ echo hi\r\nhi\r\ncaf\u00e9 \x1b[1mbold\x1b[0m\r\n"
    assert resized[1:] == ["r", "120x40"]
    assert b"secret" not in data
    assert data.isascii()  # escaped in bulk by json's ASCII encoder
    assert all(e[0] >= 0 for e in events)


def test_output_joins_the_frame_it_follows_closely(
    log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recording, "JOIN_WINDOW", 3600.0)  # "closely": always, here
    rec = recording.Recorder.create("join", None, record_input=True)
    rec.output(b"one ")
    rec.output(b"two\r\n")  # joins "one "
    rec.input(b"x")  # typed: an event of its own, in its place
    rec.output(b"three ")
    rec.flush()  # handed to the writer: what comes next is a frame of its own
    rec.output(b"four")
    rec.output(b"y" * recording.FRAME_LIMIT)  # would pass a frame's limit: its own frame
    rec.resize((40, 120))
    rec.output(b"five")
    rec.finish()
    events = [e[1:] for e in lines(log.parent / "recordings" / "join.cast")[1:]]
    assert events == [
        ["o", "one two\r\n"], ["i", "x"], ["o", "three "], ["o", "four"],
        ["o", "y" * recording.FRAME_LIMIT], ["r", "120x40"], ["o", "five"],
    ]  # fmt: skip


def test_output_apart_is_an_event_each(log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recording, "JOIN_WINDOW", 0.0)
    rec = recording.Recorder.create("apart", None)
    for word in ("one", "two", "three"):
        rec.output(word.encode())
    rec.finish()
    assert [e[2] for e in lines(log.parent / "recordings" / "apart.cast")[1:]] == [
        "one",
        "two",
        "three",
    ]


def test_input_is_recorded_only_when_asked(log: Path) -> None:
    rec = recording.Recorder.create("withinput", None, record_input=True)
    rec.input(b"ls\r")
    rec.finish()
    _, event = lines(log.parent / "recordings" / "withinput.cast")
    assert event[1:] == ["i", "ls\r"]


def test_a_character_cut_between_two_reads_stays_whole(log: Path) -> None:
    rec = recording.Recorder.create("split", None)
    euro = "\u20ac".encode()
    rec.output(b"a" + euro[:1])
    rec.output(euro[1:] + b"b\xff")  # and a byte that is not UTF-8 at all
    rec.finish()
    text = "".join(e[2] for e in lines(log.parent / "recordings" / "split.cast")[1:])
    assert text == "a\u20acb\ufffd"


def test_the_cap_writes_one_marker_and_stops(log: Path, tmp_path: Path) -> None:
    conf = tmp_path / "config.toml"
    conf.write_text("[audit]\nrecording_limit = 8192\n")
    os.environ["DEBUGTOOL_CONFIG"] = str(conf)
    config.reset()
    rec = recording.Recorder.create("capped", None)
    for _ in range(100):
        rec.output(b"x" * 1000 + b"\r\n")
    fields = rec.finish()
    path = log.parent / "recordings" / "capped.cast"
    assert fields["recording_truncated"] is True
    assert path.stat().st_size <= 8192 == rec.cap
    assert fields["recording_bytes"] == path.stat().st_size
    events = lines(path)[1:]
    assert [e[1] for e in events].count("m") == 1 and events[-1][1] == "m"
    assert "limit of 8192 bytes" in events[-1][2]
    assert all(e[1] == "o" for e in events[:-1])
    recorded = "".join(e[2] for e in events[:-1])  # the output up to the cap, its last event cut
    assert ("x" * 1000 + "\r\n") * 7 in recorded and ("x" * 1000 + "\r\n") * 100 != recorded
    assert (("x" * 1000 + "\r\n") * 100).startswith(recorded)


@pytest.mark.parametrize("value", ["'64M'", "100", "true", "-1"])
def test_a_bad_cap_is_a_configuration_error(log: Path, tmp_path: Path, value: str) -> None:
    conf = tmp_path / "config.toml"
    conf.write_text(f"[audit]\nrecording_limit = {value}\n")
    os.environ["DEBUGTOOL_CONFIG"] = str(conf)
    config.reset()
    with pytest.raises(config.ConfigError, match="recording_limit"):
        recording.limit()


def test_an_existing_file_or_symlink_is_never_written_through(log: Path, tmp_path: Path) -> None:
    (log.parent / "recordings").mkdir(parents=True, mode=0o700)
    victim = tmp_path / "victim"
    victim.write_text("keep")
    (log.parent / "recordings" / "planted.cast").symlink_to(victim)
    with pytest.raises(recording.RecordingUnavailable, match="cannot create"):
        recording.Recorder.create("planted", None)
    assert victim.read_text() == "keep"


def test_a_directory_open_to_others_is_refused(log: Path) -> None:
    (log.parent / "recordings").mkdir(parents=True)
    os.chmod(log.parent / "recordings", 0o777)
    with pytest.raises(recording.RecordingUnavailable, match="not private"):
        recording.Recorder.create("open", None)


def test_attach_warns_and_the_session_runs_unrecorded(
    log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log.parent.mkdir()
    (log.parent / "recordings").write_text("not a directory")
    session = audit.Session(audit.Record(action="exec", target_name="web"))
    assert recording.attach(session, None) is None
    assert session.recorder is None
    assert "this session is not recorded" in capsys.readouterr().err
    assert "recordings" in session.record.details["recording_error"]


def test_the_end_record_names_the_recording_and_its_hash(log: Path) -> None:
    session = audit.Session(audit.Record(action="exec", target_name="web", tty=True))
    session.start()
    recorder = recording.attach(session, (24, 80))
    assert recorder is not None
    recorder.output(b"hello\r\n")
    session.end(0)
    end = audit.read()[-1]
    path = log.parent / end.recording
    assert end.recording == f"recordings/{end.session}.cast"
    assert end.recording_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert end.recording_bytes == path.stat().st_size
    assert end.recording_truncated is False


# -- replay ------------------------------------------------------------------------------------
def feed_all(*chunks: str) -> tuple[str, int]:
    screen = replay.SafeTerminal()
    return "".join(screen.feed(c) for c in chunks), screen.dropped


def test_text_cursor_movement_and_colours_pass() -> None:
    text = "a\tb\r\nc\x08d \x1b[1;31mred\x1b[0m \x1b[2J\x1b[H\x1b[10;5H\x1b[K\x1b7\x1b8"
    assert feed_all(text) == (text, 0)


@pytest.mark.parametrize(
    "hostile",
    [
        "\x1b]52;c;ZWNobyBwd25lZAo=\x07",  # OSC 52: write the operator's clipboard
        "\x1b]0;owned\x1b\\",  # window title
        "\x1b]8;;http://evil/\x1b\\",  # hyperlink
        "\x1bP$q m\x1b\\",  # DCS (DECRQSS: the terminal answers into the input)
        "\x1b_payload\x1b\\",  # APC
        "\x1b^pm\x1b\\",  # PM
        "\x1b[6n",  # device status report: an answer typed into the operator's input
        "\x1b[c",  # device attributes
        "\x1b[21t",  # report the window title
        "\x1b[?1049h",  # alternate screen
        "\x1b[?1000h",  # mouse reporting
        "\x1b[?2004h",  # bracketed paste
        "\x1b[4h",  # insert mode
        "\x1b[1;5r",  # scroll region
        "\x1bc",  # full reset
        "\x1b(0",  # line-drawing character set
        "\x9b6n",  # C1 CSI
        "\x05",  # ENQ: answerback
        "\x1b[ q",  # cursor style (an intermediate byte)
    ],
)
def test_hostile_sequences_are_dropped_whole(hostile: str) -> None:
    shown, dropped = feed_all(f"before{hostile}after")
    assert dropped >= 1
    assert "\x1b" not in shown and "\x9b" not in shown and "\x05" not in shown
    assert shown.startswith("before") and shown.endswith("after")
    assert "owned" not in shown and "ZWNo" not in shown and "evil" not in shown


def test_a_sequence_cut_between_events_is_judged_whole() -> None:
    assert feed_all("x\x1b[3", "1mred") == ("x\x1b[31mred", 0)
    assert feed_all("x\x1b", "[6ny") == ("xy", 1)
    assert feed_all("x\x1b]52;c;ZZZ", "ZZZ\x07y") == ("xy", 1)
    # An unterminated string sequence ends where the next sequence starts, as in a terminal.
    assert feed_all("x\x1b]0;title", "more\x1b[1mz") == ("x\x1b[1mz", 1)


def test_play_fast_writes_the_output_filtered_and_reports_markers(tmp_path: Path) -> None:
    events = iter(
        [
            (0.1, "o", "one\r\n"),
            (0.2, "i", "typed"),
            (0.3, "o", "\x1b]52;c;eA==\x07two\r\n"),
            (0.4, "m", "limit reached"),
        ]
    )
    out = tmp_path / "out"
    fd = os.open(out, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        dropped, markers = replay.play(events, fd, fast=True)
    finally:
        os.close(fd)
    assert out.read_bytes() == b"one\r\ntwo\r\n"
    assert dropped == 1 and markers == [(0.4, "limit reached")]


def test_transcript_shows_controls_and_masks_secrets() -> None:
    text, typed, markers = replay.transcript(
        iter(
            [
                (0.0, "o", "$ env\r\nDB_PASSWORD=hunter2hunter2\r\n\x1b[31mred\x1b[0m\r"),
                (1, "i", "x"),
            ]
        )
    )
    assert typed == "x" and markers == []
    shown, count = replay.masked(text, "recordings/x.cast")
    assert "hunter2hunter2" not in shown and count >= 1
    visible = replay.visible(shown)
    assert "\x1b" not in visible and "\\x1b[31mred\\x1b[0m\\r" in visible
    assert visible.startswith("$ env\nDB_PASSWORD=")


def test_read_refuses_what_is_not_asciicast_and_skips_bad_events() -> None:
    with pytest.raises(replay.BadRecording):
        replay.read(io.BytesIO(b'{"version": 1}\n'), "x.cast")
    header, events = replay.read(
        io.BytesIO(b'{"version": 2, "width": 80, "height": 24}\n[1, "o", "a"]\nnot json\n[2]\n'),
        "x.cast",
    )
    assert header["width"] == 80 and list(events) == [(1.0, "o", "a")]


def records(*ids: str) -> list[audit.Record]:
    return [audit.Record(action="exec", session=i, tty=True) for i in ids]


def test_find_takes_a_unique_prefix() -> None:
    entries = records("abcdef0011223344", "abd0000000000000")
    assert replay.find("abc", entries).session == "abcdef0011223344"
    with pytest.raises(UsageError, match="matches 2 sessions"):
        replay.find("ab", entries)
    with pytest.raises(replay.RecordingNotFound, match="no session"):
        replay.find("ffff", entries)


def test_a_recording_path_outside_the_directory_is_refused(log: Path) -> None:
    entry = audit.Record(action="exec", session="x", recording="../../etc/shadow")
    with pytest.raises(replay.BadRecording, match="unexpected recording path"):
        replay.path_of(entry)


def test_a_session_without_a_terminal_has_no_recording(log: Path) -> None:
    entry = audit.Record(action="exec", session="abc", argv=["true"])
    with pytest.raises(replay.RecordingNotFound, match="has no recording"):
        replay.path_of(entry)


def test_a_hung_writer_ends_the_recording_not_the_session(
    log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import signal

    monkeypatch.setattr(recording, "BACKLOG_LIMIT", 256 << 10)
    monkeypatch.setattr(recording, "WRITER_STALL", 0.5)
    rec = recording.Recorder.create("hung", None)
    rec.output(b"before the disk hung\r\n")
    rec.flush()
    time.sleep(0.3)  # let the writer take it before it is stopped
    os.kill(rec.writer, signal.SIGSTOP)  # as a writer in a disk that does not answer
    try:
        chunk = b"y" * 65535 + b"\n"
        for _ in range(64):  # 4 MiB: more than the pipe and the backlog hold
            rec.output(chunk)
        assert rec.stopped and "took nothing" in rec.failure
        rec.output(b"after")  # recording has stopped; the session goes on
    finally:
        os.kill(rec.writer, signal.SIGCONT)
    fields = rec.finish()
    assert fields["recording_truncated"] is True
    events = lines(log.parent / "recordings" / "hung.cast")[1:]
    assert events[0][2] == "before the disk hung\r\n"
    assert events[-1][1] == "m" and "took nothing" in events[-1][2]
    assert "after" not in "".join(e[2] for e in events)


def test_a_large_write_is_split_into_events_that_read_back(log: Path) -> None:
    rec = recording.Recorder.create("large", None)
    text = "\u00e9" * (300 << 10)  # 600 KiB of two-byte characters, split mid-character
    rec.text(text)
    rec.finish()
    path = log.parent / "recordings" / "large.cast"
    with path.open("rb") as f:
        _, events = replay.read(f, str(path))
        events = list(events)
    assert len(events) >= 9 and "".join(e[2] for e in events) == text


# -- the writer's spool: frames as the relay sends them, escaped when the session is quiet ------


def frame(seconds: float, kind: str, data: bytes) -> bytes:
    """One frame as ``Recorder`` sends it: seconds (float64), kind (a byte), length (uint32)."""
    import struct

    return struct.pack("<dBI", seconds, ord(kind), len(data)) + data


def start_writer(log: Path, name: str, cap: int = 1 << 20) -> tuple[int, int, int, Path]:
    """Start the real writer process on ``recordings/NAME.cast``; return (pipe, answer, pid, path)."""
    path = log.parent / "recordings" / f"{name}.cast"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        pipe, answer, pid = recording._start_writer(fd, {"version": 2}, cap)
    finally:
        os.close(fd)
    return pipe, answer, pid, path


def end_writer(pipe: int, answer: int, pid: int) -> dict:
    """Close the writer's pipe (as a debugtool that ends, or is killed) and read its answer."""
    os.close(pipe)
    report = recording._read_answer(answer, 30)
    os.close(answer)
    os.waitpid(pid, 0)
    assert report is not None
    return json.loads(report)


def test_a_frame_split_across_writes_becomes_one_event(log: Path) -> None:
    pipe, answer, pid, path = start_writer(log, "split-frame")
    whole = frame(0.5, "o", b"one frame, " + "\u20ac".encode() + b" in it\r\n")
    for at in (3, 13, 20, len(whole)):  # inside the head, at its end, inside the data
        os.write(pipe, whole[:at])
        whole = whole[at:]
        # Quiet for longer than SPOOL_IDLE: the writer converts what is whole, and nothing else.
        time.sleep(recording.SPOOL_IDLE * 2)
        if whole:
            assert lines(path)[1:] == []
    harness_wait(lambda: len(lines(path)) == 2, "the frame was not written while quiet")
    report = end_writer(pipe, answer, pid)
    assert lines(path)[1:] == [[0.5, "o", "one frame, \u20ac in it\r\n"]]
    assert report["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_spool_cut_short_by_a_killed_debugtool_keeps_every_whole_frame(log: Path) -> None:
    pipe, answer, pid, path = start_writer(log, "cut")
    frames = [frame(i / 100, "o", f"line {i}\r\n".encode()) for i in range(500)]
    os.write(pipe, b"".join(frames) + frame(9.0, "o", b"never whole")[:-4])
    report = end_writer(pipe, answer, pid)  # the pipe closes as when debugtool is SIGKILLed
    events = lines(path)[1:]
    assert [e[2] for e in events] == [f"line {i}\r\n" for i in range(500)]
    assert [e[0] for e in events] == [i / 100 for i in range(500)]
    assert report["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert report["bytes"] == path.stat().st_size and report["truncated"] is False


def test_a_burst_is_spooled_then_written_as_the_same_events(log: Path) -> None:
    pipe, answer, pid, path = start_writer(log, "burst", cap=64 << 20)
    sent = []
    for i in range(2000):  # 8 MB without a pause: spooled whole, converted when it stops
        kind = "r" if i % 500 == 7 else "o"
        data = b"120x40" if kind == "r" else bytes([65 + i % 26]) * 4000 + b"\x1b[0m\r\n"
        sent.append([kind, data.decode()])
        os.write(pipe, frame(float(i), kind, data))
    os.write(pipe, frame(2000.0, "m", b"it fell behind"))
    os.write(pipe, frame(2001.0, "o", b"after the marker"))
    report = end_writer(pipe, answer, pid)
    events = lines(path)[1:]
    assert [e[1:] for e in events[:-1]] == sent
    assert events[-1] == [2000.0, "m", "debugtool: it fell behind"]
    assert report["truncated"] is True
    assert report["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def harness_wait(check, what: str, timeout: float = 30) -> None:
    """Poll ``check`` until true; fail with ``what`` after ``timeout`` (a guard, not a timing)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def test_the_relay_reads_a_pty_in_batches_and_sees_its_end() -> None:
    import threading
    import tty

    from debugtool import terminal

    master, slave = os.openpty()
    os.set_blocking(master, False)
    tty.setraw(slave)
    data = bytes(range(256)) * 400  # 100 KiB: 25 reads' worth of a pty, and more than a batch

    def write() -> None:  # as the command in the session: blocks while the pty is full
        os.write(slave, data)
        os.close(slave)

    writer = threading.Thread(target=write)
    writer.start()
    got = b""
    while True:
        harness_wait(lambda: select_readable(master), "the pty had nothing to read")
        batch, ended = terminal._read_batch(master)
        got += batch
        assert len(batch) <= terminal._BATCH <= recording.FRAME_LIMIT
        if ended:
            break
    writer.join()
    os.close(master)
    assert got == data


def select_readable(fd: int) -> bool:
    import select

    return bool(select.select([fd], [], [], 0)[0])
